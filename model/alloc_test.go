package model

import (
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// poolOf returns the zpool of a dataset.
func fxPoolOf(db *DB, ds UUID) *Zpool { return db.Zpool(db.Dataset(ds).PoolID) }

func fxDistinctPools(t *testing.T, db *DB, rs []Region) {
	t.Helper()
	seen := map[UUID]bool{}
	for _, r := range rs {
		p := fxPoolOf(db, r.DatasetID).ID
		if seen[p] {
			t.Fatalf("two regions on pool %d: %+v", p, rs)
		}
		seen[p] = true
	}
}

func fxSledsOf(db *DB, rs []Region) map[UUID]int {
	m := map[UUID]int{}
	for _, r := range rs {
		m[fxPoolOf(db, r.DatasetID).SledID]++
	}
	return m
}

func TestBuildTopology(t *testing.T) {
	db := fxDB()
	sleds := db.BuildTopology(TopologySpec{Sleds: 3, DisksPerSled: []int{1, 3}, DefaultDisks: 2, PoolsPerDisk: 2, Capacity: 5})
	if len(sleds) != 3 || len(db.PhysicalDisks) != 1+3+2 || len(db.Zpools) != 12 || len(db.Datasets) != 12 {
		t.Fatalf("sizes: sleds %d disks %d pools %d datasets %d", len(sleds), len(db.PhysicalDisks), len(db.Zpools), len(db.Datasets))
	}
	for i, d := range db.Datasets {
		if d.IP != uint16(i+1) {
			t.Fatalf("dataset %d ip %d", i, d.IP)
		}
		z := db.Zpool(d.PoolID)
		pd := db.PhysicalDisk(z.PhysicalDiskID)
		if z.SledID != pd.SledID || z.Capacity != 5 {
			t.Fatal("zpool sled or capacity")
		}
	}
	if db.PhysicalDisks[0].SledID != sleds[0] || db.PhysicalDisks[1].SledID != sleds[1] || db.PhysicalDisks[4].SledID != sleds[2] {
		t.Fatal("non-uniform disks per sled")
	}
}

func TestAllocDistinctZpools(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		db := NewDB(Config{}, sim.NewPRNG(seed))
		db.BuildTopology(TopologySpec{Sleds: 1, DefaultDisks: 4})
		v := db.NewUUID() // the volume row need not exist
		rs, err := db.RegionAllocate(v, 0, AllocRandom, 3)
		fxWant(t, "alloc", err, ErrNone)
		if len(rs) != 3 || len(db.Regions) != 3 {
			t.Fatalf("got %d regions", len(rs))
		}
		fxDistinctPools(t, db, rs)
		for _, r := range rs {
			if r.VolumeID != v || r.ReadOnly || r.HasPort || r.Deleting {
				t.Fatalf("region row %+v", r)
			}
		}
	}
}

func TestAllocDistinctSleds(t *testing.T) {
	sharedWithRandom := false
	for seed := uint64(0); seed < 100; seed++ {
		db := NewDB(Config{}, sim.NewPRNG(seed))
		db.BuildTopology(TopologySpec{Sleds: 3, DefaultDisks: 2})
		rs, err := db.RegionAllocate(db.NewUUID(), 0, AllocRandomDistinctSleds, 3)
		fxWant(t, "alloc", err, ErrNone)
		for s, n := range fxSledsOf(db, rs) {
			if n != 1 {
				t.Fatalf("seed %d: %d regions on sled %d", seed, n, s)
			}
		}
		db2 := NewDB(Config{}, sim.NewPRNG(seed))
		db2.BuildTopology(TopologySpec{Sleds: 3, DefaultDisks: 2})
		rs2, err := db2.RegionAllocate(db2.NewUUID(), 0, AllocRandom, 3)
		fxWant(t, "alloc random", err, ErrNone)
		fxDistinctPools(t, db2, rs2)
		if len(fxSledsOf(db2, rs2)) < 3 {
			sharedWithRandom = true
		}
	}
	if !sharedWithRandom {
		t.Fatal("Random never put two regions on one sled: strategies not distinguished")
	}
	// Two sleds with three pools each: distinct sleds cannot place 3 (C1),
	// Random can.
	db := fxDB()
	db.BuildTopology(TopologySpec{Sleds: 2, DefaultDisks: 3})
	_, err := db.RegionAllocate(db.NewUUID(), 0, AllocRandomDistinctSleds, 3)
	fxWant(t, "distinct sleds on 2 sleds", err, ErrInsufficientCapacity)
	if err.(*Error).Msg != dsErrAllocZpoolSpace.Msg || len(db.Regions) != 0 {
		t.Fatalf("want C1 and no rows, got %v", err)
	}
	_, err = db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 3)
	fxWant(t, "random on 2 sleds", err, ErrNone)
}

func TestAllocDrawsThroughChooser(t *testing.T) {
	// Allocation picks draw with sim.KAlloc; a scripted choice decides.
	for want := 0; want < 3; want++ {
		ch := &fxChooser{vals: []int{want}}
		db := NewDB(Config{}, ch)
		db.BuildTopology(TopologySpec{Sleds: 1, DefaultDisks: 3})
		rs, err := db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 1)
		fxWant(t, "alloc", err, ErrNone)
		if rs[0].DatasetID != db.Datasets[want].ID {
			t.Fatalf("choice %d: got dataset %d", want, rs[0].DatasetID)
		}
		for _, k := range ch.kinds {
			if k != sim.KAlloc {
				t.Fatalf("allocation drew kind %v", k)
			}
		}
	}
}

// fxSnapshotOn puts region snapshot rows of snapshot snap on the given
// datasets (the source regions are not needed by allocation).
func fxSnapshotOn(db *DB, snap UUID, ds ...UUID) {
	for _, d := range ds {
		db.RegionSnapshots = append(db.RegionSnapshots, RegionSnapshot{Key: RSKey{DatasetID: d, RegionID: db.NewUUID(), SnapshotID: snap}})
	}
}

func TestAllocExcludesSnapshotPools(t *testing.T) {
	// Spec 50 §2.8 step 4: pools holding S's region snapshots are excluded.
	for seed := uint64(0); seed < 60; seed++ {
		db := NewDB(Config{}, sim.NewPRNG(seed))
		db.BuildTopology(TopologySpec{Sleds: 3, DefaultDisks: 2})
		snap, sv := db.NewUUID(), db.NewUUID()
		d := db.Datasets // S1:{0,1} S2:{2,3} S3:{4,5}
		fxSnapshotOn(db, snap, d[0].ID, d[2].ID, d[5].ID)
		db.RegionSnapshots[1].Deleting = true // deleting rows still exclude
		rs, err := db.RegionAllocate(sv, snap, AllocRandomDistinctSleds, 1)
		fxWant(t, "alloc", err, ErrNone)
		if len(rs) != 1 || !rs[0].ReadOnly || rs[0].VolumeID != sv {
			t.Fatalf("rs %+v", rs)
		}
		switch rs[0].DatasetID {
		case d[1].ID, d[3].ID, d[4].ID:
		default:
			t.Fatalf("seed %d: region on an excluded pool", seed)
		}
		// Second allocation (another RSR on the same snapshot): n = 2,
		// excludes N's pool too.
		rs2, err := db.RegionAllocate(sv, snap, AllocRandomDistinctSleds, 2)
		fxWant(t, "alloc 2", err, ErrNone)
		if len(rs2) != 2 || rs2[0] != rs[0] {
			t.Fatalf("second alloc must return the old region first: %+v", rs2)
		}
		if rs2[1].DatasetID == rs[0].DatasetID || rs2[1].DatasetID == d[0].ID || rs2[1].DatasetID == d[2].ID || rs2[1].DatasetID == d[5].ID {
			t.Fatalf("second region on an excluded pool")
		}
	}
	// Without the snapshot id, those pools are allowed.
	seen := false
	for seed := uint64(0); seed < 60 && !seen; seed++ {
		db := NewDB(Config{}, sim.NewPRNG(seed))
		db.BuildTopology(TopologySpec{Sleds: 1, DefaultDisks: 2})
		snap := db.NewUUID()
		fxSnapshotOn(db, snap, db.Datasets[0].ID)
		rs, _ := db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 1)
		seen = rs[0].DatasetID == db.Datasets[0].ID
	}
	if !seen {
		t.Fatal("disk allocation never used a pool holding region snapshots")
	}
}

func TestAllocEligibility(t *testing.T) {
	type mut func(db *DB)
	cases := []struct {
		name string
		m    mut
	}{
		{"expunged disk", func(db *DB) { db.PhysicalDiskExpunge(db.PhysicalDisks[0].ID) }},
		{"decommissioned disk", func(db *DB) { db.PhysicalDisks[0].State = PDStateDecommissioned }},
		{"non-provisionable sled", func(db *DB) { db.Sleds[0].Provisionable = false }},
		{"inactive sled", func(db *DB) { db.Sleds[0].Active = false }},
		{"deleted dataset", func(db *DB) { db.Datasets[0].Deleted = true }},
		{"no inventory", func(db *DB) { db.Zpools[0].Capacity = 0 }},
		{"full zpool", func(db *DB) {
			db.Zpools[0].Capacity = 1
			db.Regions = append(db.Regions, Region{ID: db.NewUUID(), DatasetID: db.Datasets[0].ID, VolumeID: db.NewUUID()})
		}},
	}
	for _, c := range cases {
		for seed := uint64(0); seed < 20; seed++ {
			db := NewDB(Config{}, sim.NewPRNG(seed))
			db.BuildTopology(TopologySpec{Sleds: 4, Capacity: 10})
			c.m(db)
			rs, err := db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 3)
			fxWant(t, c.name, err, ErrNone)
			for _, r := range rs {
				if r.DatasetID == db.Datasets[0].ID {
					t.Fatalf("%s: pool 0 chosen", c.name)
				}
			}
			_, err = db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 4)
			fxWant(t, c.name+" needs 4", err, ErrInsufficientCapacity)
		}
	}
	// A deleted zpool is NOT excluded (only the dataset's deletion counts).
	db := fxDB()
	db.BuildTopology(TopologySpec{Sleds: 3})
	db.Zpools[0].Deleted = true
	_, err := db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 3)
	fxWant(t, "deleted zpool still eligible", err, ErrNone)
	// Capacity counts regions: a zpool of capacity 2 takes 2 regions.
	db = fxDB()
	db.BuildTopology(TopologySpec{Sleds: 1, Capacity: 2})
	for i := 0; i < 2; i++ {
		_, err = db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 1)
		fxWant(t, "fits", err, ErrNone)
	}
	_, err = db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 1)
	fxWant(t, "full", err, ErrInsufficientCapacity)
	// Freed space is usable again.
	fxWant(t, "hard delete", db.RegionsHardDelete([]UUID{db.Regions[0].ID}), ErrNone)
	_, err = db.RegionAllocate(db.NewUUID(), 0, AllocRandom, 1)
	fxWant(t, "after delete", err, ErrNone)
}

func TestAllocIdempotent(t *testing.T) {
	db := fxDB()
	db.BuildTopology(TopologySpec{Sleds: 4})
	v := db.NewUUID()
	rs, err := db.RegionAllocate(v, 0, AllocRandomDistinctSleds, 3)
	fxWant(t, "alloc", err, ErrNone)
	again, err := db.RegionAllocate(v, 0, AllocRandomDistinctSleds, 3)
	fxWant(t, "again", err, ErrNone)
	if len(db.Regions) != 3 || len(again) != 3 {
		t.Fatal("re-run inserted regions")
	}
	for i := range rs {
		if rs[i] != again[i] {
			t.Fatal("re-run returned different regions")
		}
	}
	// Expunging the disk under an old region does not change the re-run.
	db.PhysicalDiskExpunge(db.DatasetDisk(rs[0].DatasetID).ID)
	again, err = db.RegionAllocate(v, 0, AllocRandomDistinctSleds, 3)
	if err != nil || len(again) != 3 {
		t.Fatal("re-run after expunge")
	}
	// n = 4 (region replacement): one new region on a pool not holding any.
	rs4, err := db.RegionAllocate(v, 0, AllocRandomDistinctSleds, 4)
	fxWant(t, "alloc 4", err, ErrNone)
	if len(rs4) != 4 || len(db.Regions) != 4 {
		t.Fatal("want exactly one new region")
	}
	fxDistinctPools(t, db, rs4)
	// Partial: 1 existing, n = 3 → 2 new.
	w := db.NewUUID()
	_, err = db.RegionAllocate(w, 0, AllocRandom, 1)
	fxWant(t, "one", err, ErrNone)
	rs3, err := db.RegionAllocate(w, 0, AllocRandom, 3)
	fxWant(t, "partial", err, ErrNone)
	if len(rs3) != 3 || len(db.Regions) != 7 {
		t.Fatalf("partial: %d returned, %d rows", len(rs3), len(db.Regions))
	}
	fxDistinctPools(t, db, rs3)
}

func TestAllocInsufficientCapacity(t *testing.T) {
	// Spec 50 §2.8 step 8: three sleds, one pool each, disk on all three,
	// P1's disk expunged.
	db := fxDB()
	db.BuildTopology(TopologySpec{Sleds: 3})
	dv := db.NewUUID()
	_, err := db.RegionAllocate(dv, 0, AllocRandomDistinctSleds, 3)
	fxWant(t, "disk", err, ErrNone)
	snap := db.NewUUID()
	fxSnapshotOn(db, snap, db.Datasets[0].ID, db.Datasets[1].ID, db.Datasets[2].ID)
	db.PhysicalDiskExpunge(db.PhysicalDisks[0].ID)
	_, err = db.RegionAllocate(dv, 0, AllocRandomDistinctSleds, 4) // RR
	fxWant(t, "RR", err, ErrInsufficientCapacity)
	if err.(*Error).Msg != dsErrAllocZpoolSpace.Msg {
		t.Fatalf("RR: want C1, got %v", err)
	}
	_, err = db.RegionAllocate(db.NewUUID(), snap, AllocRandomDistinctSleds, 1) // RSR
	fxWant(t, "RSR", err, ErrInsufficientCapacity)
	if err.(*Error).Msg != dsErrAllocDatasets.Msg {
		t.Fatalf("RSR: want C2, got %v", err)
	}
	if len(db.Regions) != 3 {
		t.Fatal("failed allocation wrote rows")
	}
	// C3: two old regions share a pool.
	db = fxDB()
	db.BuildTopology(TopologySpec{Sleds: 2})
	v := db.NewUUID()
	for i := 0; i < 2; i++ {
		db.Regions = append(db.Regions, Region{ID: db.NewUUID(), DatasetID: db.Datasets[0].ID, VolumeID: v})
	}
	_, err = db.RegionAllocate(v, 0, AllocRandom, 3)
	fxWant(t, "C3", err, ErrInsufficientCapacity)
	if err.(*Error).Msg != dsErrAllocUniqueZpools.Msg || len(db.Regions) != 2 {
		t.Fatalf("want C3 and no rows, got %v", err)
	}
}

// ---------------------------------------------------------------------------
// Expungement queries

func TestFindOnExpungedDisks(t *testing.T) {
	db := fxDB()
	db.BuildTopology(TopologySpec{Sleds: 3})
	v := db.NewUUID()
	rs, _ := db.RegionAllocate(v, 0, AllocRandom, 3)
	ro, _ := db.RegionAllocate(db.NewUUID(), db.NewUUID(), AllocRandom, 1)
	snap := db.NewUUID()
	for _, r := range rs {
		db.RegionSnapshotCreate(RSKey{r.DatasetID, r.ID, snap}, Addr{})
	}
	if len(db.FindRWRegionsOnExpungedDisks(nil))+len(db.FindRegionSnapshotsOnExpungedDisks(nil)) != 0 {
		t.Fatal("nothing is expunged yet")
	}
	// Expunge the disk under the read-only region and under rs[0].
	db.PhysicalDiskExpunge(db.DatasetDisk(ro[0].DatasetID).ID)
	db.PhysicalDiskExpunge(db.DatasetDisk(rs[0].DatasetID).ID)
	expunged := func(ds UUID) bool { return ds == rs[0].DatasetID || ds == ro[0].DatasetID }
	var wantRW []UUID
	for _, r := range rs {
		if expunged(r.DatasetID) {
			wantRW = append(wantRW, r.ID)
		}
	}
	rw := db.FindRWRegionsOnExpungedDisks(nil)
	if len(rw) != len(wantRW) {
		t.Fatalf("rw on expunged: %+v, want %v", rw, wantRW)
	}
	for i, r := range rw {
		if r.ReadOnly || r.ID != wantRW[i] {
			t.Fatalf("rw on expunged: %+v, want %v", rw, wantRW)
		}
	}
	db.RegionSnapshot(RSKey{rs[0].DatasetID, rs[0].ID, snap}).Deleting = true
	got := db.FindRegionSnapshotsOnExpungedDisks(nil)
	if len(got) != len(wantRW) || got[0].Key.RegionID != rs[0].ID {
		t.Fatalf("rs on expunged (deleting included): %+v", got)
	}
	// Hide everything but rs[0]'s dataset for the deletion checks.
	for i := range db.PhysicalDisks {
		db.PhysicalDisks[i].Policy = PolicyInService
	}
	db.PhysicalDiskExpunge(db.DatasetDisk(rs[0].DatasetID).ID)
	// Deleted dataset or zpool hides them.
	db.Zpool(db.Dataset(rs[0].DatasetID).PoolID).Deleted = true
	if len(db.FindRWRegionsOnExpungedDisks(nil)) != 0 || len(db.FindRegionSnapshotsOnExpungedDisks(nil)) != 0 {
		t.Fatal("deleted zpool must hide rows")
	}
	db.Zpool(db.Dataset(rs[0].DatasetID).PoolID).Deleted = false
	db.Dataset(rs[0].DatasetID).Deleted = true
	if len(db.FindRWRegionsOnExpungedDisks(nil)) != 0 || len(db.FindRegionSnapshotsOnExpungedDisks(nil)) != 0 {
		t.Fatal("deleted dataset must hide rows")
	}
	// Gone check ignores deletion flags.
	in, err := db.DatasetInService(rs[0].DatasetID)
	if err != nil || in {
		t.Fatal("expunged dataset reported in service")
	}
	in, err = db.DatasetInService(rs[1].DatasetID)
	if err != nil || !in {
		t.Fatal("healthy dataset reported gone")
	}
	_, err = db.DatasetInService(db.NewUUID())
	fxWant(t, "gone check of missing dataset", err, ErrInternal)
	// Expunge is idempotent; a missing disk is a no-op.
	fxWant(t, "expunge again", db.PhysicalDiskExpunge(db.DatasetDisk(rs[0].DatasetID).ID), ErrNone)
	fxWant(t, "expunge missing", db.PhysicalDiskExpunge(db.NewUUID()), ErrNone)
}

func TestSledExpunge(t *testing.T) {
	db := fxDB()
	sleds := db.BuildTopology(TopologySpec{Sleds: 2, DefaultDisks: 2})
	fxWant(t, "expunge", db.SledExpunge(sleds[0]), ErrNone)
	for _, d := range db.PhysicalDisks {
		if (d.SledID == sleds[0]) != (d.Policy == PolicyExpunged) {
			t.Fatal("disk policies")
		}
	}
	fxWant(t, "again", db.SledExpunge(sleds[0]), ErrNone)
	db.Sleds[1].Active = false
	fxWant(t, "inactive", db.SledExpunge(sleds[1]), ErrInvalidRequest)
	fxWant(t, "missing", db.SledExpunge(db.NewUUID()), ErrInternal)
}

// ---------------------------------------------------------------------------
// region.rs / region_snapshot.rs row operations

func TestRegionRowOps(t *testing.T) {
	ch := &fxChooser{vals: []int{1}}
	db := NewDB(Config{}, ch)
	db.BuildTopology(TopologySpec{Sleds: 4})
	v := db.NewUUID()
	rs, _ := db.RegionAllocate(v, 0, AllocRandom, 3)
	ro, _ := db.RegionAllocate(v, db.NewUUID(), AllocRandom, 4) // a read-only region owned by v too
	if len(ro) != 4 {
		t.Fatal("alloc")
	}
	ch.vals, ch.i, ch.kinds = []int{2, 0, 0}, 0, nil
	got := db.GetAllocatedRegions(nil, v)
	if len(got) != 4 {
		t.Fatal("get_allocated_regions must include read-only regions")
	}
	if got[0].ID != db.Regions[2].ID {
		t.Fatal("order not drawn from the chooser")
	}
	for _, k := range ch.kinds {
		if k != sim.KRow {
			t.Fatal("order must draw sim.KRow")
		}
	}
	if !db.HasAllocatedRegions(v) || db.HasAllocatedRegions(db.NewUUID()) {
		t.Fatal("HasAllocatedRegions")
	}
	// set port: overwrite allowed; missing → Internal
	fxWant(t, "set port", db.RegionSetPort(rs[0].ID, 1000), ErrNone)
	fxWant(t, "set port again", db.RegionSetPort(rs[0].ID, 1001), ErrNone)
	a, ok, err := db.RegionAddr(rs[0].ID)
	if err != nil || !ok || a.Port != 1001 || a.IP != db.Dataset(rs[0].DatasetID).IP {
		t.Fatalf("addr %+v %v %v", a, ok, err)
	}
	if _, ok, err := db.RegionAddr(rs[1].ID); ok || err != nil {
		t.Fatal("no port yet")
	}
	fxWant(t, "set port missing", db.RegionSetPort(db.NewUUID(), 1), ErrInternal)
	_, err = db.GetRegion(db.NewUUID())
	fxWant(t, "get missing", err, ErrInternal)
	if _, ok := db.GetRegionOptional(db.NewUUID()); ok {
		t.Fatal("optional missing")
	}
	// hard delete: no guards, idempotent, empty list no-op
	db.Regions[1].Deleting = true
	fxWant(t, "hard delete none", db.RegionsHardDelete(nil), ErrNone)
	fxWant(t, "hard delete", db.RegionsHardDelete([]UUID{rs[0].ID, rs[1].ID, db.NewUUID()}), ErrNone)
	fxWant(t, "hard delete again", db.RegionsHardDelete([]UUID{rs[0].ID}), ErrNone)
	if len(db.Regions) != 2 || db.Region(rs[0].ID) != nil || db.Region(rs[1].ID) != nil {
		t.Fatal("hard delete")
	}
	// region snapshot create (do nothing on conflict), get (deleting
	// included), remove (no guards, idempotent)
	k := RSKey{rs[2].DatasetID, rs[2].ID, db.NewUUID()}
	fxWant(t, "rs create", db.RegionSnapshotCreate(k, Addr{IP: 3, Port: 5}), ErrNone)
	db.RegionSnapshot(k).Deleting = true
	fxWant(t, "rs create again", db.RegionSnapshotCreate(k, Addr{IP: 3, Port: 6}), ErrNone)
	got1, ok := db.RegionSnapshotGet(k)
	if !ok || !got1.Deleting || got1.Addr.Port != 5 || len(db.RegionSnapshots) != 1 {
		t.Fatalf("rs get %+v", got1)
	}
	fxWant(t, "rs remove", db.RegionSnapshotRemove(k), ErrNone)
	fxWant(t, "rs remove again", db.RegionSnapshotRemove(k), ErrNone)
	if _, ok := db.RegionSnapshotGet(k); ok {
		t.Fatal("removed")
	}
}

// ---------------------------------------------------------------------------
// snapshot.rs, disk.rs, image.rs row operations

func TestSnapshotRowOps(t *testing.T) {
	db := fxDB()
	s := Snapshot{ID: db.NewUUID(), VolumeID: db.NewUUID(), State: SnapshotCreating, Gen: 1}
	got, err := db.ProjectEnsureSnapshot(s)
	if err != nil || got != s {
		t.Fatal("ensure")
	}
	got, err = db.ProjectEnsureSnapshot(s)
	if err != nil || got != s || len(db.Snapshots) != 1 {
		t.Fatal("ensure replay")
	}
	_, err = db.SnapshotUpdateState(s.ID, 7, SnapshotReady)
	fxWant(t, "update wrong gen", err, ErrInternal)
	got, err = db.SnapshotUpdateState(s.ID, 1, SnapshotReady)
	if err != nil || got.State != SnapshotReady || got.Gen != 2 {
		t.Fatalf("update %+v %v", got, err)
	}
	_, err = db.ProjectEnsureSnapshot(s)
	fxWant(t, "ensure after finalize", err, ErrInternal)
	okStates := SnapshotStates(SnapshotReady, SnapshotFaulted, SnapshotDestroyed)
	fxWant(t, "delete wrong gen", db.ProjectDeleteSnapshot(s.ID, 1, okStates), ErrInvalidRequest)
	fxWant(t, "delete bad state", db.ProjectDeleteSnapshot(s.ID, 2, SnapshotStates(SnapshotCreating)), ErrInvalidRequest)
	fxWant(t, "delete", db.ProjectDeleteSnapshot(s.ID, 2, okStates), ErrNone)
	fxWant(t, "delete replay", db.ProjectDeleteSnapshot(s.ID, 2, okStates), ErrNone)
	fxWant(t, "delete missing", db.ProjectDeleteSnapshot(db.NewUUID(), 1, okStates), ErrInternal)
	if g, ok := db.SnapshotGet(s.ID); !ok || !g.Deleted || g.State != SnapshotDestroyed {
		t.Fatal("snapshot_get must return the soft-deleted row")
	}
	_, err = db.SnapshotLookup(s.ID)
	fxWant(t, "lookup deleted", err, ErrInternal)
	_, err = db.ProjectEnsureSnapshot(s)
	fxWant(t, "ensure deleted id", err, ErrInternal)
	// Creating snapshots cannot be deleted.
	c := Snapshot{ID: db.NewUUID(), State: SnapshotCreating, Gen: 1, DestinationVolumeID: db.NewUUID()}
	db.ProjectEnsureSnapshot(c)
	fxWant(t, "delete creating", db.ProjectDeleteSnapshot(c.ID, 1, okStates), ErrInvalidRequest)
	if f, ok := db.FindSnapshotByDestinationVolumeID(c.DestinationVolumeID); !ok || f.ID != c.ID {
		t.Fatal("find by destination volume")
	}
}

func TestDiskRowOps(t *testing.T) {
	db := fxDB()
	later := Disk{ID: 0, VolumeID: db.NewUUID(), State: DiskCreating, Gen: 1}
	d := Disk{ID: db.NewUUID(), VolumeID: db.NewUUID(), State: DiskCreating, Gen: 1}
	later.ID = db.NewUUID()
	if _, err := db.ProjectCreateDisk(later); err != nil {
		t.Fatal(err)
	}
	got, err := db.ProjectCreateDisk(d)
	if err != nil || got != d || db.Disks[0].ID != d.ID {
		t.Fatal("create / order")
	}
	if _, err := db.ProjectCreateDisk(d); err != nil {
		t.Fatal("create replay")
	}
	okDel := DiskStates(DiskDetached, DiskFaulted)
	_, err = db.DiskDeleteNoAuth(d.ID, okDel)
	fxWant(t, "delete creating", err, ErrInvalidRequest)
	up, err := db.DiskUpdateRuntime(d.ID, DiskDetached, 2)
	if err != nil || !up {
		t.Fatal("finalize")
	}
	up, err = db.DiskUpdateRuntime(d.ID, DiskMaintenance, 2)
	if err != nil || up {
		t.Fatalf("stale gen must be refused without an error: updated=%v err=%v", up, err)
	}
	_, err = db.ProjectCreateDisk(d)
	fxWant(t, "create after finalize", err, ErrInternal)
	db.Disk(d.ID).AttachInstanceID = db.NewUUID()
	_, err = db.DiskDeleteNoAuth(d.ID, okDel)
	fxWant(t, "delete attached", err, ErrInvalidRequest)
	db.Disk(d.ID).AttachInstanceID = 0
	if f := db.DiskForVolumeID(d.VolumeID); f == nil || f.ID != d.ID {
		t.Fatal("disk for volume")
	}
	_, err = db.DiskDeleteNoAuth(d.ID, okDel)
	fxWant(t, "delete", err, ErrNone)
	_, err = db.DiskDeleteNoAuth(d.ID, okDel)
	fxWant(t, "delete replay", err, ErrNone)
	_, err = db.DiskLookup(d.ID)
	fxWant(t, "lookup deleted", err, ErrInternal)
	if up, _ := db.DiskUpdateRuntime(d.ID, DiskDetached, 9); up {
		t.Fatal("deleted disk updated")
	}
	fxWant(t, "undelete", db.DiskUndeleteSetFaulted(d.ID), ErrNone)
	fxWant(t, "undelete replay", db.DiskUndeleteSetFaulted(d.ID), ErrNone)
	if g := db.Disk(d.ID); g.Deleted || g.State != DiskFaulted {
		t.Fatal("undelete")
	}
	fxWant(t, "undelete live non-faulted", db.DiskUndeleteSetFaulted(later.ID), ErrInternal)
	fxWant(t, "undelete missing", db.DiskUndeleteSetFaulted(db.NewUUID()), ErrInternal)
	_, err = db.DiskDeleteNoAuth(db.NewUUID(), okDel)
	fxWant(t, "delete missing", err, ErrInternal)
}

func TestImageRowOps(t *testing.T) {
	db := fxDB()
	img := Image{ID: db.NewUUID(), VolumeID: db.NewUUID()}
	if g, err := db.ProjectImageCreate(img); err != nil || g != img {
		t.Fatal("create")
	}
	changed := img
	changed.VolumeID = db.NewUUID()
	if g, _ := db.ProjectImageCreate(changed); g != img || len(db.Images) != 1 {
		t.Fatal("create replay must return the existing row")
	}
	if _, err := db.ImageLookup(img.ID); err != nil {
		t.Fatal("lookup")
	}
	fxWant(t, "delete", db.ImageDelete(img.ID), ErrNone)
	fxWant(t, "delete again", db.ImageDelete(img.ID), ErrNone)
	fxWant(t, "delete missing", db.ImageDelete(db.NewUUID()), ErrNone)
	_, err := db.ImageLookup(img.ID)
	fxWant(t, "lookup deleted", err, ErrInternal)
}
