package scenarios

import (
	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// Direct datastore calls of omicron's unit tests (fixtures with fake
// records), each one atomic step of a test-harness actor, and name binding.

func cmdIDs(x *runner, c *Cmd) error {
	for _, n := range argsOf(c) {
		if err := x.bind(n, &obj{kind: kID, id: x.w.DB.NewUUID()}); err != nil {
			return err
		}
	}
	return nil
}

// dbVolumeCreate: volume_create of an empty volume (Volume, no
// sub-volumes), or one whose read-only parent is a read-only Region with
// the given targets (ro-targets=ADDR,...); rw-region adds one read/write
// Region sub-volume with no targets (G6 and G7's old snapshot volume).
func dbVolumeCreate(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	var targets []model.Addr
	if v, ok := c.Opt("ro-targets"); ok {
		for _, s := range list(v) {
			a, err := x.addr(s)
			if err != nil {
				return err
			}
			targets = append(targets, a)
		}
	}
	db := x.w.DB
	id := db.NewUUID()
	vcr := &model.VCR{Kind: model.VCRVolume, ID: db.NewUUID()}
	if len(targets) > 0 {
		vcr.ReadOnlyParent = &model.VCR{Kind: model.VCRRegion, ID: db.NewUUID(), Targets: targets, ReadOnly: true, Gen: 1}
	}
	if c.Flag("rw-region") {
		vcr.SubVolumes = []*model.VCR{{Kind: model.VCRRegion, ID: id}}
	}
	if err := x.harness("volume_create", func(*sim.Ctx) error {
		if err := db.VolumeCreate(id, vcr); err != nil {
			return failf(OracleCommand, "volume_create: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kVolume, id: id})
}

// dbRegionSnapshotCreate: region_snapshot_create of a (possibly fake) row.
func dbRegionSnapshotCreate(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	get := func(key string, kinds ...objKind) (model.UUID, error) {
		v, _ := c.Opt(key)
		return x.idOrNew(v, kinds...)
	}
	ds, err := get("dataset", kDataset)
	if err != nil {
		return err
	}
	region, err := get("region", kRegion)
	if err != nil {
		return err
	}
	snap, err := get("snapshot", kSnapshot)
	if err != nil {
		return err
	}
	av, _ := c.Opt("addr")
	a, err := x.addr(av)
	if err != nil {
		return err
	}
	k := model.RSKey{DatasetID: ds, RegionID: region, SnapshotID: snap}
	if err := x.harness("region_snapshot_create", func(*sim.Ctx) error { return x.w.DB.RegionSnapshotCreate(k, a) }); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kRS, rs: k, addr: a})
}

// dbSnapshotEnsure: project_ensure_snapshot of a snapshot row (T2's fake
// snapshot, state Creating).
func dbSnapshotEnsure(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	iv, _ := c.Opt("id")
	id, err := x.idOrNew(iv)
	if err != nil {
		return err
	}
	vv, _ := c.Opt("volume")
	vol, err := x.id(vv, kVolume)
	if err != nil {
		return err
	}
	s := model.Snapshot{ID: id, DiskID: x.w.DB.NewUUID(), VolumeID: vol, DestinationVolumeID: x.w.DB.NewUUID(), State: model.SnapshotCreating, Gen: 1}
	if err := x.harness("project_ensure_snapshot", func(*sim.Ctx) error {
		if _, err := x.w.DB.ProjectEnsureSnapshot(s); err != nil {
			return failf(OracleCommand, "project_ensure_snapshot: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kSnapshot, id: id})
}

var rsrStates = map[string]model.RSRState{}
var stepStates = map[string]model.StepState{}
var rrStates = map[string]model.RRState{}

func init() {
	for s := model.RSRRequested; s <= model.RSRComplete; s++ {
		rsrStates[s.String()] = s
	}
	for s := model.StepRequested; s <= model.StepVolumeDeleted; s++ {
		stepStates[s.String()] = s
	}
	for s := model.RRRequested; s <= model.RRComplete; s++ {
		rrStates[s.String()] = s
	}
}

// dbRequestInsert: insert_region_snapshot_replacement_request_with_volume_id
// of a request built by hand: for rs=RS, or for a key given by dataset=,
// region= and snapshot= (each a name or "new"), locking lock=V, with an
// optional state= and old-snapshot-volume= (T4's ReplacementDone rows).
func dbRequestInsert(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	var k model.RSKey
	if v, ok := c.Opt("rs"); ok {
		o, err := x.want(v, kRS)
		if err != nil {
			return err
		}
		k = o.rs
	} else {
		for _, f := range []struct {
			key   string
			out   *model.UUID
			kinds []objKind
		}{{"dataset", &k.DatasetID, []objKind{kDataset}}, {"region", &k.RegionID, []objKind{kRegion}}, {"snapshot", &k.SnapshotID, []objKind{kSnapshot}}} {
			v, ok := c.Opt(f.key)
			if !ok {
				return scriptf("give rs=RS or dataset=, region= and snapshot=")
			}
			id, err := x.idOrNew(v, f.kinds...)
			if err != nil {
				return err
			}
			*f.out = id
		}
	}
	lv, _ := c.Opt("lock")
	lock, err := x.id(lv, kVolume)
	if err != nil {
		return err
	}
	req := x.w.DB.NewRSRequest(k)
	if v, ok := c.Opt("state"); ok {
		st, ok := rsrStates[v]
		if !ok {
			return scriptf("unknown request state %q", v)
		}
		req.State = st
	}
	if v, ok := c.Opt("old-snapshot-volume"); ok {
		if req.OldSnapshotVolumeID, err = x.idOrNew(v, kVolume); err != nil {
			return err
		}
	}
	if err := x.harness("insert_region_snapshot_replacement_request_with_volume_id", func(*sim.Ctx) error {
		if err := x.w.DB.InsertRSRequestWithVolumeID(req, lock); err != nil {
			return failf(OracleCommand, "insert_region_snapshot_replacement_request_with_volume_id: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kRequest, id: req.ID})
}

// dbRequestAdvance moves a Requested request along Allocating →
// ReplacementDone (fresh new_region_id, new_region_volume_id,
// old_snapshot_volume_id) → DeletingOldVolume → Running with one operating
// saga id, as T5 and T7 do, stopping at to=STATE. Each transition is one
// datastore call and must succeed.
func dbRequestAdvance(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kRequest)
	if err != nil {
		return err
	}
	tv, _ := c.Opt("to")
	to, ok := rsrStates[tv]
	if !ok || to < model.RSRAllocating || to > model.RSRRunning {
		return scriptf("to: want Allocating, ReplacementDone, DeletingOldVolume or Running")
	}
	db := x.w.DB
	op := db.NewUUID()
	steps := []struct {
		name string
		st   model.RSRState
		fn   func() error
	}{
		{"set_region_snapshot_replacement_allocating", model.RSRAllocating, func() error { return db.SetRSRAllocating(id, op) }},
		{"set_region_snapshot_replacement_replacement_done", model.RSRReplacementDone, func() error {
			return db.SetRSRReplacementDone(id, op, db.NewUUID(), db.NewUUID(), db.NewUUID())
		}},
		{"set_region_snapshot_replacement_deleting_old_volume", model.RSRDeletingOldVolume, func() error { return db.SetRSRDeletingOldVolume(id, op) }},
		{"set_region_snapshot_replacement_running", model.RSRRunning, func() error { return db.SetRSRRunning(id, op) }},
	}
	for _, s := range steps {
		if s.st > to {
			break
		}
		if err := x.harness(s.name, func(*sim.Ctx) error {
			if err := s.fn(); err != nil {
				return failf(OracleCommand, "%s: %v", s.name, err)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// dbStepInsert: insert_region_snapshot_replacement_step of a step built by
// hand (state=, old-snapshot-volume=, op=), which must return Inserted.
func dbStepInsert(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	qv, _ := c.Opt("request")
	q, err := x.idOrNew(qv, kRequest)
	if err != nil {
		return err
	}
	vv, _ := c.Opt("volume")
	vol, err := x.id(vv, kVolume)
	if err != nil {
		return err
	}
	db := x.w.DB
	st := db.NewRSRStep(q, vol)
	if v, ok := c.Opt("state"); ok {
		s, ok := stepStates[v]
		if !ok {
			return scriptf("unknown step state %q", v)
		}
		st.State = s
	}
	if v, ok := c.Opt("old-snapshot-volume"); ok {
		if st.OldSnapshotVolumeID, err = x.idOrNew(v, kVolume); err != nil {
			return err
		}
	}
	if v, ok := c.Opt("op"); ok {
		if st.OperatingSagaID, err = x.idOrNew(v); err != nil {
			return err
		}
	}
	if err := x.harness("insert_region_snapshot_replacement_step", func(*sim.Ctx) error {
		res, _, err := db.InsertRSRStep(st)
		if err != nil {
			return failf(OracleCommand, "insert_region_snapshot_replacement_step: %v", err)
		}
		if res != model.StepInserted {
			return failf(OracleAssert, "insert_region_snapshot_replacement_step: not Inserted")
		}
		return nil
	}); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kStep, id: st.ID})
}

// dbStepVolumeDeleted: set_region_snapshot_replacement_step_volume_deleted.
func dbStepVolumeDeleted(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kStep)
	if err != nil {
		return err
	}
	return x.harness("set_region_snapshot_replacement_step_volume_deleted", func(*sim.Ctx) error {
		if err := x.w.DB.SetStepVolumeDeleted(id); err != nil {
			return failf(OracleCommand, "set_region_snapshot_replacement_step_volume_deleted: %v", err)
		}
		return nil
	})
}

// dbSoftDeleteVolume: soft_delete_volume; with snapshots-to-delete=RS,...
// it asserts snapshots_to_delete of the returned resources is that list
// (T3).
func dbSoftDeleteVolume(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kVolume)
	if err != nil {
		return err
	}
	var res model.CrucibleResources
	if err := x.harness("soft_delete_volume", func(*sim.Ctx) error {
		var err error
		if res, err = x.w.DB.SoftDeleteVolume(id); err != nil {
			return failf(OracleCommand, "soft_delete_volume: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	want, ok := c.Opt("snapshots-to-delete")
	if !ok {
		return nil
	}
	var got []model.RSKey
	for _, k := range res.RegionSnapshots {
		if rs, ok := x.w.DB.SnapshotToDelete(k); ok {
			got = append(got, rs.Key)
		}
	}
	var exp []model.RSKey
	for _, s := range list(want) {
		o, err := x.want(s, kRS)
		if err != nil {
			return err
		}
		exp = append(exp, o.rs)
	}
	if len(got) != len(exp) {
		return failf(OracleAssert, "snapshots_to_delete has %d entries, want %d", len(got), len(exp))
	}
	for i := range got {
		if got[i] != exp[i] {
			return failf(OracleAssert, "snapshots_to_delete[%d] is %v, want %v", i, got[i], exp[i])
		}
	}
	return nil
}

// dbRegionSnapshotRemove: region_snapshot_remove.
func dbRegionSnapshotRemove(x *runner, c *Cmd) error {
	o, err := x.want(argsOf(c)[0], kRS)
	if err != nil {
		return err
	}
	return x.harness("region_snapshot_remove", func(*sim.Ctx) error { return x.w.DB.RegionSnapshotRemove(o.rs) })
}

// ---------------------------------------------------------------------------
// bind

// cmdBind binds a name: "bind NAME REF" (an alias, e.g. bind NR Q.new-region),
// or "bind NAME FUNCTION ..." with FUNCTION one of:
//   - region-of VOLUME index=N: get_allocated_regions(VOLUME)[N] (the query's
//     row order is drawn, as it has no ORDER BY);
//   - region-snapshot region=R snapshot=S: region_snapshot_get(R's dataset, R, S);
//   - rr-for-region R: lookup_region_replacement_request_by_old_region_id;
//   - request-for RS: lookup_region_snapshot_replacement_request;
//   - step-for V: the most recent step whose volume is V.
func cmdBind(x *runner, c *Cmd) error {
	a := argsOf(c)
	name := a[0]
	db := x.w.DB
	if len(a) == 2 && !contains([]string{"region-of", "region-snapshot", "rr-for-region", "request-for", "step-for"}, a[1]) {
		o, err := x.lookup(a[1])
		if err != nil {
			return err
		}
		cp := *o
		return x.bind(name, &cp)
	}
	switch a[1] {
	case "region-of":
		if len(a) != 3 {
			return scriptf("bind NAME region-of VOLUME index=N")
		}
		vol, err := x.id(a[2], kVolume)
		if err != nil {
			return err
		}
		idx, err := intOpt(c, "index", 0)
		if err != nil {
			return err
		}
		var regs []model.Region
		if err := x.harness("get_allocated_regions", func(*sim.Ctx) error {
			regs = db.GetAllocatedRegions(nil, vol)
			return nil
		}); err != nil {
			return err
		}
		if idx >= len(regs) {
			return failf(OracleCommand, "%s has %d allocated regions", a[2], len(regs))
		}
		return x.bind(name, &obj{kind: kRegion, id: regs[idx].ID, addr: x.regionAddr(regs[idx].ID)})
	case "region-snapshot":
		rv, _ := c.Opt("region")
		sv, _ := c.Opt("snapshot")
		region, err := x.id(rv, kRegion)
		if err != nil {
			return err
		}
		snap, err := x.id(sv, kSnapshot)
		if err != nil {
			return err
		}
		r := db.Region(region)
		if r == nil {
			return failf(OracleCommand, "region %s has no row", rv)
		}
		rs, ok := db.RegionSnapshotGet(model.RSKey{DatasetID: r.DatasetID, RegionID: region, SnapshotID: snap})
		if !ok {
			return failf(OracleCommand, "region_snapshot_get(%s, %s): no row", rv, sv)
		}
		return x.bind(name, &obj{kind: kRS, rs: rs.Key, addr: rs.Addr})
	case "rr-for-region":
		if len(a) != 3 {
			return scriptf("bind NAME rr-for-region REGION")
		}
		region, err := x.id(a[2], kRegion)
		if err != nil {
			return err
		}
		q, ok := db.LookupRRByOldRegion(region)
		if !ok {
			return failf(OracleAssert, "no region replacement request for %s", a[2])
		}
		return x.bind(name, &obj{kind: kRR, id: q.ID})
	case "request-for":
		if len(a) != 3 {
			return scriptf("bind NAME request-for RS")
		}
		o, err := x.want(a[2], kRS)
		if err != nil {
			return err
		}
		q, ok := db.LookupRSRequest(o.rs)
		if !ok {
			return failf(OracleAssert, "no region snapshot replacement request for %s", a[2])
		}
		return x.bind(name, &obj{kind: kRequest, id: q.ID})
	case "step-for":
		if len(a) != 3 {
			return scriptf("bind NAME step-for VOLUME")
		}
		vol, err := x.id(a[2], kVolume)
		if err != nil {
			return err
		}
		var id model.UUID
		for _, s := range db.Steps {
			if s.VolumeID == vol {
				id = s.ID
			}
		}
		if id == 0 {
			return failf(OracleAssert, "no step for %s", a[2])
		}
		return x.bind(name, &obj{kind: kStep, id: id})
	}
	return scriptf("bind NAME REF, or bind NAME region-of|region-snapshot|rr-for-region|request-for|step-for ...")
}
