package invariants

import (
	"fmt"
	"testing"

	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// Test fixtures for the oracle tests: a world built row by row, with no
// saga or transaction run, so each test states exactly the records an
// oracle judges.

// panicChooser is a sim.Chooser that fails the run if anything draws from
// it: oracles only read, they never draw a choice.
type panicChooser struct{}

func (panicChooser) Choose(k sim.Kind, n int) int {
	panic(fmt.Sprintf("an oracle drew a %v choice (n=%d) from the run's chooser", k, n))
}

// fx is a world under construction plus the ids of what the baseline put
// in it.
type fx struct {
	t     testing.TB
	w     *model.World
	db    *model.DB
	port  uint16
	drain DrainOutcome

	// topology: ds[i] sits on sleds[i], each on its own physical disk and
	// zpool. dsSamePool shares ds[0]'s zpool; dsSameSled is on another
	// physical disk of sleds[0].
	sleds      []model.UUID
	ds         []model.UUID
	dsSamePool model.UUID
	dsSameSled model.UUID

	// baseline (see baseline): a disk DV, its snapshot SV, a disk D2V made
	// from the snapshot, a read-only region N used by volume NRV, and a
	// soft-deleted volume SDV.
	dv, sv, d2v, nrv, sdv model.UUID
	disk, disk2, snap     model.UUID // disk, disk, snapshot rows
	dvRegs, d2vRegs       []model.UUID
	dvAddrs, d2vAddrs     []model.Addr
	rs                    []model.RSKey // SV's region snapshots, of dvRegs
	rsAddrs               []model.Addr
	n                     model.UUID // read-only region on ds[3]
	nAddr                 model.Addr
}

// newFx returns a world with the topology only: four sleds with one
// dataset each, plus the two extra datasets.
func newFx(t testing.TB, cfg model.Config) *fx {
	t.Helper()
	r := sim.NewRun(sim.Config{}, panicChooser{}, sim.Uniform{})
	w := model.NewWorld(cfg, r)
	// The recorder only forwards choices with n > 1; give the database the
	// panicking chooser itself so that even a one-option draw is caught.
	w.DB.Ch = panicChooser{}
	f := &fx{t: t, w: w, db: w.DB, port: model.AgentPortBase, drain: DrainOutcome{Converged: true, Passes: 2}}
	for i := 0; i < 4; i++ {
		s := f.db.AddSled()
		f.sleds = append(f.sleds, s)
		f.ds = append(f.ds, f.addDataset(s))
	}
	f.dsSamePool = f.db.AddCrucibleDataset(f.db.Dataset(f.ds[0]).PoolID)
	f.dsSameSled = f.addDataset(f.sleds[0])
	return f
}

// addDataset adds a physical disk, a zpool and a Crucible dataset on sled.
func (f *fx) addDataset(sled model.UUID) model.UUID {
	pd := f.db.AddPhysicalDisk(sled)
	return f.db.AddCrucibleDataset(f.db.AddZpool(pd, model.AmpleCapacity))
}

func (f *fx) id() model.UUID { return f.db.NewUUID() }

func (f *fx) nextPort() uint16 { f.port++; return f.port }

// addr is the address of port on dataset ds.
func (f *fx) addr(ds model.UUID, port uint16) model.Addr {
	return model.Addr{IP: f.db.Dataset(ds).IP, Port: port}
}

// addRegion adds a region with a fresh port on ds, owned by vol, and its
// Created record on the dataset's agent.
func (f *fx) addRegion(ds, vol model.UUID, readOnly bool) (model.UUID, model.Addr) {
	id, p := f.id(), f.nextPort()
	f.db.Regions = append(f.db.Regions, model.Region{ID: id, DatasetID: ds, VolumeID: vol, Port: p, HasPort: true, ReadOnly: readOnly})
	f.db.Agent.Regions = append(f.db.Agent.Regions, model.AgentRegion{Dataset: ds, Region: id, State: model.AgentCreated, Port: p, ReadOnly: readOnly})
	return id, f.addr(ds, p)
}

// addRegions adds one region on each dataset, owned by vol.
func (f *fx) addRegions(vol model.UUID, readOnly bool, dss ...model.UUID) ([]model.UUID, []model.Addr) {
	var ids []model.UUID
	var as []model.Addr
	for _, ds := range dss {
		id, a := f.addRegion(ds, vol, readOnly)
		ids, as = append(ids, id), append(as, a)
	}
	return ids, as
}

// addRS adds a region snapshot of region for snapshot snap, on the
// region's dataset at a fresh port, with its ZFS snapshot and running
// downstairs on the agent.
func (f *fx) addRS(region, snap model.UUID) (model.RSKey, model.Addr) {
	r := f.db.Region(region)
	k := model.RSKey{DatasetID: r.DatasetID, RegionID: region, SnapshotID: snap}
	p := f.nextPort()
	a := f.addr(r.DatasetID, p)
	f.db.RegionSnapshots = append(f.db.RegionSnapshots, model.RegionSnapshot{Key: k, Addr: a})
	f.db.RSAddrs = append(f.db.RSAddrs, model.RegionSnapshot{Key: k, Addr: a})
	f.db.Agent.Snapshots = append(f.db.Agent.Snapshots, model.AgentSnapshot{Dataset: k.DatasetID, Region: region, Snapshot: snap})
	f.db.Agent.Running = append(f.db.Agent.Running, model.AgentRunning{Dataset: k.DatasetID, Region: region, Snapshot: snap, Port: p})
	return k, a
}

// vol adds a live volume row.
func (f *fx) vol(id model.UUID, vcr *model.VCR) *model.Volume {
	f.db.Volumes = append(f.db.Volumes, model.Volume{ID: id, Data: vcr})
	return &f.db.Volumes[len(f.db.Volumes)-1]
}

// usage adds a usage row of vol on res.
func (f *fx) usage(vol model.UUID, res model.Resource) {
	f.db.Usages = append(f.db.Usages, model.Usage{UsageID: f.id(), VolumeID: vol, Res: res})
}

func rsRes(k model.RSKey) model.Resource {
	return model.Resource{Kind: model.UsageRegionSnapshot, RS: k}
}

func roRes(region model.UUID) model.Resource {
	return model.Resource{Kind: model.UsageReadOnlyRegion, RegionID: region}
}

// regionNode is a VCR Region node.
func (f *fx) regionNode(readOnly bool, targets ...model.Addr) *model.VCR {
	return &model.VCR{Kind: model.VCRRegion, ID: f.id(), Targets: targets, ReadOnly: readOnly, Gen: 1}
}

// volVCR is a VCR Volume node with sub-volumes subs and read-only parent
// rop (may be nil).
func volVCR(id model.UUID, rop *model.VCR, subs ...*model.VCR) *model.VCR {
	return &model.VCR{Kind: model.VCRVolume, ID: id, SubVolumes: subs, ReadOnlyParent: rop}
}

// expunge sets the policy of ds's physical disk to expunged: ds is gone.
func (f *fx) expunge(ds model.UUID) {
	f.db.DatasetDisk(ds).Policy = model.PolicyExpunged
}

func (f *fx) region(id model.UUID) *model.Region {
	r := f.db.Region(id)
	if r == nil {
		f.t.Fatalf("no region %d", id)
	}
	return r
}

func (f *fx) removeRegion(id model.UUID) {
	for i := range f.db.Regions {
		if f.db.Regions[i].ID == id {
			f.db.Regions = append(f.db.Regions[:i], f.db.Regions[i+1:]...)
			return
		}
	}
	f.t.Fatalf("no region %d", id)
}

func (f *fx) removeRS(k model.RSKey) {
	for i := range f.db.RegionSnapshots {
		if f.db.RegionSnapshots[i].Key == k {
			f.db.RegionSnapshots = append(f.db.RegionSnapshots[:i], f.db.RegionSnapshots[i+1:]...)
			return
		}
	}
	f.t.Fatalf("no region snapshot %v", k)
}

// removeUsage removes the first usage row of vol on res.
func (f *fx) removeUsage(vol model.UUID, res model.Resource) {
	for i := range f.db.Usages {
		if u := f.db.Usages[i]; u.VolumeID == vol && u.Res == res {
			f.db.Usages = append(f.db.Usages[:i], f.db.Usages[i+1:]...)
			return
		}
	}
	f.t.Fatalf("no usage row of volume %d on %v", vol, res)
}

func (f *fx) agentRegion(ds, region model.UUID) *model.AgentRegion {
	for i := range f.db.Agent.Regions {
		if r := &f.db.Agent.Regions[i]; r.Dataset == ds && r.Region == region {
			return r
		}
	}
	f.t.Fatalf("no agent region %d on %d", region, ds)
	return nil
}

func (f *fx) agentRunning(k model.RSKey) *model.AgentRunning {
	for i := range f.db.Agent.Running {
		if r := &f.db.Agent.Running[i]; r.Dataset == k.DatasetID && r.Region == k.RegionID && r.Snapshot == k.SnapshotID {
			return r
		}
	}
	f.t.Fatalf("no running snapshot %v", k)
	return nil
}

// ---------------------------------------------------------------------------
// replacement records

// request adds an RSR request for old in state st. With ids it gets a new
// region (an unreferenced read-only region on ds[3]), an old snapshot
// volume id and a new region volume id; with op an operating saga id.
func (f *fx) request(old model.RSKey, st model.RSRState, ids, op bool) *model.RSRequest {
	q := model.RSRequest{ID: f.id(), Old: old, State: st}
	if ids {
		q.NewRegionID, _ = f.addRegion(f.ds[3], f.id(), true)
		q.OldSnapshotVolumeID = f.id()
		q.NewRegionVolumeID = f.id()
	}
	if op {
		q.OperatingSagaID = f.id()
	}
	f.db.Requests = append(f.db.Requests, q)
	return &f.db.Requests[len(f.db.Requests)-1]
}

// step adds an RSR step of request for volume in state st, with or
// without its stash volume and an operating saga.
func (f *fx) step(request, volume model.UUID, st model.StepState, stash, op bool) *model.RSRStep {
	s := model.RSRStep{ID: f.id(), RequestID: request, VolumeID: volume, State: st}
	if stash {
		s.OldSnapshotVolumeID = f.id()
	}
	if op {
		s.OperatingSagaID = f.id()
	}
	f.db.Steps = append(f.db.Steps, s)
	return &f.db.Steps[len(f.db.Steps)-1]
}

// rr adds a region replacement request for region in state st.
func (f *fx) rr(region, volume model.UUID, st model.RRState) *model.RRequest {
	q := model.RRequest{ID: f.id(), OldRegionID: region, VolumeID: volume, State: st}
	f.db.RRequests = append(f.db.RRequests, q)
	return &f.db.RRequests[len(f.db.RRequests)-1]
}

func (f *fx) lock(volume, repair model.UUID) {
	f.db.Locks = append(f.db.Locks, model.Lock{VolumeID: volume, RepairID: repair})
}

// saga adds a saga record (no actor) in state st that claims regions.
func (f *fx) saga(name string, st model.SagaState, claims ...model.UUID) *model.Saga {
	s := &model.Saga{ID: f.id(), Name: name, State: st, Claims: claims}
	f.w.Sagas = append(f.w.Sagas, s)
	return s
}

// snapshotCreateSaga adds a snapshot-create saga for disk in state st
// whose lock_id node has run (so the saga has a repair lock id), and
// returns it.
func (f *fx) snapshotCreateSaga(disk model.UUID, st model.SagaState) *model.Saga {
	s := f.w.NewSnapshotCreateSaga(disk, false)
	for _, stage := range s.Stages {
		for _, n := range stage {
			if n.Name == "lock_id" {
				if err := n.Action(&model.NodeCtx{W: f.w, DB: f.db, Saga: s}); err != nil {
					f.t.Fatal(err)
				}
			}
		}
	}
	if s.LockID() == 0 {
		f.t.Fatal("snapshot-create saga has no lock id: its lock_id node was not found")
	}
	s.ID = f.id()
	s.State = st
	f.w.Sagas = append(f.w.Sagas, s)
	return s
}

// ---------------------------------------------------------------------------
// baseline

// baseline builds a consistent state that every oracle accepts (CheckEmpty
// aside):
//
//   - DV: disk volume, read/write regions on ds[0..2];
//   - SV: snapshot volume, read-only Region of DV's region snapshots rs,
//     one usage row per target;
//   - D2V: disk volume made from the snapshot: read/write regions on
//     ds[0..2] and a read-only parent naming rs (usage rows);
//   - NRV: volume naming read-only region N on ds[3] (usage row);
//   - SDV: a soft-deleted volume whose VCR names an address nothing
//     serves.
func (f *fx) baseline() {
	f.dv, f.sv, f.d2v, f.nrv, f.sdv = f.id(), f.id(), f.id(), f.id(), f.id()
	f.disk, f.disk2, f.snap = f.id(), f.id(), f.id()

	f.dvRegs, f.dvAddrs = f.addRegions(f.dv, false, f.ds[0], f.ds[1], f.ds[2])
	f.vol(f.dv, volVCR(f.dv, nil, f.regionNode(false, f.dvAddrs...)))
	f.db.Disks = append(f.db.Disks, model.Disk{ID: f.disk, VolumeID: f.dv, State: model.DiskDetached, Gen: 1})

	for _, r := range f.dvRegs {
		k, a := f.addRS(r, f.snap)
		f.rs, f.rsAddrs = append(f.rs, k), append(f.rsAddrs, a)
	}
	f.vol(f.sv, volVCR(f.sv, nil, f.regionNode(true, f.rsAddrs...)))
	for _, k := range f.rs {
		f.usage(f.sv, rsRes(k))
	}
	f.db.Snapshots = append(f.db.Snapshots, model.Snapshot{ID: f.snap, DiskID: f.disk, VolumeID: f.sv, State: model.SnapshotReady, Gen: 1})

	f.d2vRegs, f.d2vAddrs = f.addRegions(f.d2v, false, f.ds[0], f.ds[1], f.ds[2])
	f.vol(f.d2v, volVCR(f.d2v, f.regionNode(true, f.rsAddrs...), f.regionNode(false, f.d2vAddrs...)))
	for _, k := range f.rs {
		f.usage(f.d2v, rsRes(k))
	}
	f.db.Disks = append(f.db.Disks, model.Disk{ID: f.disk2, VolumeID: f.d2v, State: model.DiskDetached, Gen: 1, OriginSnapshot: f.snap})

	f.n, f.nAddr = f.addRegion(f.ds[3], f.nrv, true)
	f.vol(f.nrv, volVCR(f.nrv, nil, f.regionNode(true, f.nAddr)))
	f.usage(f.nrv, roRes(f.n))

	v := f.vol(f.sdv, volVCR(f.sdv, nil, f.regionNode(true, f.addr(f.ds[3], 1))))
	v.SoftDeleted = true
}
