package model

import (
	"strconv"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// fxAgentDB returns a DB with three healthy single-pool sleds.
func fxAgentDB(opts Options) (*DB, []Dataset) {
	db := fxDBCfg(Config{Options: opts})
	db.BuildTopology(TopologySpec{Sleds: 3})
	return db, db.Datasets
}

func TestAgentRegionEnsure(t *testing.T) {
	db, ds := fxAgentDB(Options{})
	r1, r2 := db.NewUUID(), db.NewUUID()
	p1, err := db.AgentRegionEnsure(ds[0].ID, r1, Addr{})
	fxWant(t, "ensure", err, ErrNone)
	again, err := db.AgentRegionEnsure(ds[0].ID, r1, Addr{})
	if err != nil || again != p1 {
		t.Fatal("ensure must be idempotent")
	}
	p2, _ := db.AgentRegionEnsure(ds[0].ID, r2, Addr{})
	if p2 == p1 || p1 == 0 {
		t.Fatal("ports on one dataset must differ")
	}
	if info, ok := db.AgentRegionInfo(ds[0].ID, r1); !ok || info.State != AgentCreated || info.ReadOnly {
		t.Fatalf("info %+v", info)
	}
	// gone dataset: fails with ErrAgentGone, nothing recorded
	db.PhysicalDiskExpunge(db.DatasetDisk(ds[1].ID).ID)
	_, err = db.AgentRegionEnsure(ds[1].ID, db.NewUUID(), Addr{})
	if err != ErrAgentGone {
		t.Fatalf("gone: %v", err)
	}
	if len(db.Agent.Regions) != 2 {
		t.Fatal("gone ensure recorded a region")
	}
	_, err = db.AgentRegionEnsure(db.NewUUID(), db.NewUUID(), Addr{})
	fxWant(t, "missing dataset", err, ErrInternal)
	// injected failed region: must still be deleted; re-ensure fails
	rf := db.NewUUID()
	fxWant(t, "ensure failed", db.AgentRegionEnsureFailed(ds[2].ID, rf), ErrInternal)
	_, err = db.AgentRegionEnsure(ds[2].ID, rf, Addr{})
	fxWant(t, "ensure a failed region", err, ErrInternal)
	if objs := db.AgentObjects(nil, false); len(objs) != 3 {
		t.Fatalf("failed region must be a leftover: %+v", objs)
	}
	fxWant(t, "delete failed", db.AgentRegionDelete(ds[2].ID, rf), ErrNone)
	// destroyed region: ensured again with a fresh port
	fxWant(t, "delete", db.AgentRegionDelete(ds[0].ID, r1), ErrNone)
	p3, err := db.AgentRegionEnsure(ds[0].ID, r1, Addr{})
	if err != nil || p3 == p1 || p3 == p2 {
		t.Fatalf("re-create after destroy: %d %v", p3, err)
	}
}

// fxSnapshotSource builds a region with a ZFS snapshot and a running
// snapshot on dataset ds and returns the running snapshot's address.
func fxSnapshotSource(t *testing.T, db *DB, ds Dataset) (region, snap UUID, a Addr) {
	t.Helper()
	region, snap = db.NewUUID(), db.NewUUID()
	if _, err := db.AgentRegionEnsure(ds.ID, region, Addr{}); err != nil {
		t.Fatal(err)
	}
	fxWant(t, "take snapshot", db.AgentTakeSnapshot(ds.ID, region, snap), ErrNone)
	port, err := db.AgentRunningSnapshotEnsure(ds.ID, region, snap)
	fxWant(t, "running snapshot", err, ErrNone)
	return region, snap, Addr{IP: ds.IP, Port: port}
}

func TestAgentCloneSource(t *testing.T) {
	for _, simulated := range []bool{false, true} {
		db, ds := fxAgentDB(Options{SimulatedAgent: simulated})
		_, _, src := fxSnapshotSource(t, db, ds[0])
		n1 := db.NewUUID()
		_, err := db.AgentRegionEnsure(ds[1].ID, n1, src)
		fxWant(t, "clone from healthy source", err, ErrNone)
		if info, _ := db.AgentRegionInfo(ds[1].ID, n1); !info.ReadOnly {
			t.Fatal("clone must be read-only")
		}
		// source on an expunged disk
		db.PhysicalDiskExpunge(db.DatasetDisk(ds[0].ID).ID)
		_, err = db.AgentRegionEnsure(ds[1].ID, db.NewUUID(), src)
		want := ErrInternal
		if simulated {
			want = ErrNone
		}
		fxWant(t, "clone from expunged source", err, want)
		// source gone (no such downstairs)
		_, err = db.AgentRegionEnsure(ds[2].ID, db.NewUUID(), Addr{IP: ds[1].IP, Port: 65000})
		fxWant(t, "clone from missing source", err, want)
	}
	// A destroyed running snapshot is no longer a source.
	db, ds := fxAgentDB(Options{})
	r, s, src := fxSnapshotSource(t, db, ds[0])
	fxWant(t, "stop running snapshot", db.AgentRunningSnapshotDelete(ds[0].ID, r, s), ErrNone)
	_, err := db.AgentRegionEnsure(ds[1].ID, db.NewUUID(), src)
	fxWant(t, "clone from stopped source", err, ErrInternal)
}

func TestAgentRegionDelete(t *testing.T) {
	db, ds := fxAgentDB(Options{})
	fxWant(t, "delete unknown", db.AgentRegionDelete(ds[0].ID, db.NewUUID()), ErrNone)
	r, s, _ := fxSnapshotSource(t, db, ds[0])
	fxWant(t, "delete with snapshots", db.AgentRegionDelete(ds[0].ID, r), ErrInternal)
	fxWant(t, "snapshot delete while running", db.AgentSnapshotDelete(ds[0].ID, r, s), ErrInternal)
	fxWant(t, "running delete", db.AgentRunningSnapshotDelete(ds[0].ID, r, s), ErrNone)
	fxWant(t, "running delete again", db.AgentRunningSnapshotDelete(ds[0].ID, r, s), ErrNone)
	fxWant(t, "snapshot delete", db.AgentSnapshotDelete(ds[0].ID, r, s), ErrNone)
	fxWant(t, "snapshot delete again", db.AgentSnapshotDelete(ds[0].ID, r, s), ErrNone)
	fxWant(t, "region delete", db.AgentRegionDelete(ds[0].ID, r), ErrNone)
	fxWant(t, "region delete again", db.AgentRegionDelete(ds[0].ID, r), ErrNone)
	if objs := db.AgentObjects(nil, false); len(objs) != 0 {
		t.Fatalf("leftovers %+v", objs)
	}
	// On a gone dataset deletes are no-ops that succeed, even with snapshots.
	r2, s2, _ := fxSnapshotSource(t, db, ds[1])
	db.PhysicalDiskExpunge(db.DatasetDisk(ds[1].ID).ID)
	fxWant(t, "gone running delete", db.AgentRunningSnapshotDelete(ds[1].ID, r2, s2), ErrNone)
	fxWant(t, "gone snapshot delete", db.AgentSnapshotDelete(ds[1].ID, r2, s2), ErrNone)
	fxWant(t, "gone region delete", db.AgentRegionDelete(ds[1].ID, r2), ErrNone)
	if objs := db.AgentObjects(nil, false); len(objs) != 3 {
		t.Fatalf("gone deletes must not change the agent: %+v", objs)
	}
	if objs := db.AgentObjects(nil, true); len(objs) != 0 {
		t.Fatalf("skipGone: %+v", objs)
	}
}

func TestAgentSnapshots(t *testing.T) {
	db, ds := fxAgentDB(Options{})
	fxWant(t, "snapshot of absent region", db.AgentTakeSnapshot(ds[0].ID, db.NewUUID(), db.NewUUID()), ErrInvalidRequest)
	r, s := db.NewUUID(), db.NewUUID()
	db.AgentRegionEnsure(ds[0].ID, r, Addr{})
	_, err := db.AgentRunningSnapshotEnsure(ds[0].ID, r, s)
	fxWant(t, "running without snapshot", err, ErrInvalidRequest)
	_, err = db.AgentRunningSnapshotEnsure(ds[0].ID, db.NewUUID(), s)
	fxWant(t, "running without region", err, ErrInvalidRequest)
	fxWant(t, "take", db.AgentTakeSnapshot(ds[0].ID, r, s), ErrNone)
	fxWant(t, "take again", db.AgentTakeSnapshot(ds[0].ID, r, s), ErrNone)
	if len(db.Agent.Snapshots) != 1 {
		t.Fatal("take must be idempotent")
	}
	p, err := db.AgentRunningSnapshotEnsure(ds[0].ID, r, s)
	fxWant(t, "running", err, ErrNone)
	if p2, _ := db.AgentRunningSnapshotEnsure(ds[0].ID, r, s); p2 != p {
		t.Fatal("running ensure must be idempotent")
	}
	db.AgentRunningSnapshotDelete(ds[0].ID, r, s)
	_, err = db.AgentRunningSnapshotEnsure(ds[0].ID, r, s)
	fxWant(t, "running after destroy", err, ErrInternal)
	// expunged: running ensure fails (gone), take still works (no gone check)
	r2, s2 := db.NewUUID(), db.NewUUID()
	db.AgentRegionEnsure(ds[1].ID, r2, Addr{})
	db.PhysicalDiskExpunge(db.DatasetDisk(ds[1].ID).ID)
	fxWant(t, "take on expunged", db.AgentTakeSnapshot(ds[1].ID, r2, s2), ErrNone)
	if _, err := db.AgentRunningSnapshotEnsure(ds[1].ID, r2, s2); err != ErrAgentGone {
		t.Fatalf("running on expunged: %v", err)
	}
	// destroyed region refuses snapshots
	db.AgentRegionDelete(ds[2].ID, db.NewUUID())
	r3 := db.NewUUID()
	db.AgentRegionEnsure(ds[2].ID, r3, Addr{})
	db.AgentRegionDelete(ds[2].ID, r3)
	fxWant(t, "snapshot of destroyed region", db.AgentTakeSnapshot(ds[2].ID, r3, db.NewUUID()), ErrInvalidRequest)
}

func TestAgentPortsNotReusedByDefault(t *testing.T) {
	db, ds := fxAgentDB(Options{})
	seen := map[uint16]bool{}
	for i := 0; i < 20; i++ {
		r := db.NewUUID()
		p, err := db.AgentRegionEnsure(ds[0].ID, r, Addr{})
		if err != nil || seen[p] {
			t.Fatalf("port %d reused", p)
		}
		seen[p] = true
		db.AgentRegionDelete(ds[0].ID, r)
	}
	// Ports are per dataset (per IP).
	p, _ := db.AgentRegionEnsure(ds[1].ID, db.NewUUID(), Addr{})
	if p != AgentPortBase {
		t.Fatalf("second dataset starts at %d", p)
	}
}

func TestAgentPortsReused(t *testing.T) {
	db, ds := fxAgentDB(Options{ReusePorts: true})
	r1, r2 := db.NewUUID(), db.NewUUID()
	p1, _ := db.AgentRegionEnsure(ds[0].ID, r1, Addr{})
	p2, _ := db.AgentRegionEnsure(ds[0].ID, r2, Addr{})
	db.AgentRegionDelete(ds[0].ID, r1)
	p3, _ := db.AgentRegionEnsure(ds[0].ID, db.NewUUID(), Addr{})
	if p3 != p1 || p2 == p1 {
		t.Fatalf("want the freed port %d again, got %d", p1, p3)
	}
	// A running snapshot's port is freed by its delete too.
	r, s, src := fxSnapshotSource(t, db, ds[1])
	db.AgentRunningSnapshotDelete(ds[1].ID, r, s)
	db.AgentSnapshotDelete(ds[1].ID, r, s)
	p4, _ := db.AgentRegionEnsure(ds[1].ID, db.NewUUID(), Addr{})
	if p4 != src.Port {
		t.Fatalf("running snapshot port %d not reused (got %d)", src.Port, p4)
	}
}

func TestAgentPortPrefixAliasing(t *testing.T) {
	// Draws (sim.KValue): the first port draws nothing; then mode 1 =
	// extend an earlier port p (only one: no draw) to p*10+d.
	ch := &fxChooser{vals: []int{1 /* extend */, 7 /* d */}}
	db := NewDB(Config{Options: Options{PortPrefixAliasing: true, ReusePorts: true}}, ch)
	db.BuildTopology(TopologySpec{Sleds: 1})
	ds := db.Datasets[0].ID
	r1 := db.NewUUID()
	p1, _ := db.AgentRegionEnsure(ds, r1, Addr{})
	p2, _ := db.AgentRegionEnsure(ds, db.NewUUID(), Addr{})
	if p2 != p1*10+7 {
		t.Fatalf("want %d, got %d", p1*10+7, p2)
	}
	if !strings.HasPrefix(strconv.Itoa(int(p2)), strconv.Itoa(int(p1))) {
		t.Fatal("no prefix alias")
	}
	for _, k := range ch.kinds {
		if k != sim.KValue {
			t.Fatalf("port draws must be sim.KValue, got %v", k)
		}
	}
	// Truncation of p2 gives p1, which is in use: fall back to the counter.
	ch.vals, ch.i = []int{2, 1}, 0
	p3, _ := db.AgentRegionEnsure(ds, db.NewUUID(), Addr{})
	if p3 == p1 || p3 == p2 {
		t.Fatalf("aliasing handed out a port in use: %d", p3)
	}
	// Once p1 is freed (ReusePorts), truncation hands it out again.
	db.AgentRegionDelete(ds, r1)
	ch.vals, ch.i = []int{2, 1}, 0
	p4, _ := db.AgentRegionEnsure(ds, db.NewUUID(), Addr{})
	if p4 != p2/10 {
		t.Fatalf("truncation: want %d, got %d", p2/10, p4)
	}
	// Without the option, no KValue draws happen.
	ch2 := &fxChooser{}
	db2 := NewDB(Config{}, ch2)
	db2.BuildTopology(TopologySpec{Sleds: 1})
	for i := 0; i < 3; i++ {
		db2.AgentRegionEnsure(db2.Datasets[0].ID, db2.NewUUID(), Addr{})
	}
	if len(ch2.kinds) != 0 {
		t.Fatalf("draws without aliasing: %v", ch2.kinds)
	}
	// Over many seeds, aliasing produces prefix pairs on one IP.
	found := false
	for seed := uint64(0); seed < 20 && !found; seed++ {
		db := NewDB(Config{Options: Options{PortPrefixAliasing: true}}, nil)
		db.Ch = &fxChooser{vals: []int{int(seed), int(seed) + 1, 3, 1, 1, 2}}
		db.BuildTopology(TopologySpec{Sleds: 1})
		var ports []string
		for i := 0; i < 4; i++ {
			p, _ := db.AgentRegionEnsure(db.Datasets[0].ID, db.NewUUID(), Addr{})
			ports = append(ports, strconv.Itoa(int(p)))
		}
		for i := range ports {
			for j := range ports {
				if i != j && strings.HasPrefix(ports[j], ports[i]) {
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatal("aliasing never produced a prefix pair")
	}
}

func TestAgentObjectsAndClone(t *testing.T) {
	db, ds := fxAgentDB(Options{})
	r, s, _ := fxSnapshotSource(t, db, ds[0])
	objs := db.AgentObjects(nil, false)
	if len(objs) != 3 || objs[0].Kind != AgentObjRegion || objs[1].Kind != AgentObjSnapshot || objs[2].Kind != AgentObjRunningSnapshot {
		t.Fatalf("objects %+v", objs)
	}
	c := db.Agent.Clone()
	db.AgentRunningSnapshotDelete(ds[0].ID, r, s)
	db.AgentSnapshotDelete(ds[0].ID, r, s)
	if len(c.Snapshots) != 1 || c.Running[0].Destroyed {
		t.Fatal("clone shares state")
	}
}
