package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// commandSpecs is the command table (filled in init to break the
// initialization cycle through specFor).
var commandSpecs map[string]*spec

// ---------------------------------------------------------------------------
// setup

func cmdSeed(x *runner, c *Cmd) error {
	v, err := strconv.ParseUint(argsOf(c)[0], 10, 64)
	if err != nil || v == 0 {
		return scriptf("seed must be a positive integer")
	}
	x.seed = v
	return nil
}

func cmdSched(x *runner, c *Cmd) error {
	switch a := argsOf(c)[0]; a {
	case "first", "random":
		x.sched = a
		return nil
	}
	return scriptf("sched: want first or random")
}

func intOpt(c *Cmd, key string, def int) (int, error) {
	v, ok := c.Opt(key)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, scriptf("%s=%q: want a non-negative integer", key, v)
	}
	return n, nil
}

func cmdTopology(x *runner, c *Cmd) error {
	sleds, err := intOpt(c, "sleds", 1)
	if err != nil {
		return err
	}
	disks, err := intOpt(c, "disks-per-sled", 1)
	if err != nil {
		return err
	}
	pools, err := intOpt(c, "pools-per-disk", 1)
	if err != nil {
		return err
	}
	capacity, err := intOpt(c, "capacity", 0)
	if err != nil {
		return err
	}
	if sleds < 1 || disks < 1 || pools < 1 {
		return scriptf("topology needs at least one sled, disk and pool")
	}
	x.topo = model.TopologySpec{Sleds: sleds, DefaultDisks: disks, PoolsPerDisk: pools, Capacity: capacity}
	return nil
}

func cmdOption(x *runner, c *Cmd) error {
	o := &x.cfg.Options
	for _, a := range c.Args {
		switch {
		case a.Key == "" && a.Val == "simulated-agent":
			o.SimulatedAgent = true
		case a.Key == "" && a.Val == "reuse-ports":
			o.ReusePorts = true
		case a.Key == "" && a.Val == "port-prefix-aliasing":
			o.PortPrefixAliasing = true
		case a.Key == "alloc":
			switch a.Val {
			case "random":
				o.AllocRandom = true
			case "random-with-distinct-sleds":
				o.AllocRandom = false
			default:
				return scriptf("alloc: want random or random-with-distinct-sleds")
			}
		case a.Key == "page-size":
			n, err := strconv.Atoi(a.Val)
			if err != nil || n < 1 {
				return scriptf("page-size: want a positive integer")
			}
			o.PageSize = n
		default:
			return scriptf("unknown option %q", a.Val)
		}
	}
	return nil
}

func cmdSwitch(x *runner, c *Cmd) error {
	sw, err := model.SwitchesFor(argsOf(c))
	if err != nil {
		return scriptf("%v", err)
	}
	// merge
	s := &x.cfg.Switches
	s.NoNewRegionVolume = s.NoNewRegionVolume || sw.NoNewRegionVolume
	s.NoCompleteFromRequested = s.NoCompleteFromRequested || sw.NoCompleteFromRequested
	s.NoStepVolumeDeletedFastPath = s.NoStepVolumeDeletedFastPath || sw.NoStepVolumeDeletedFastPath
	s.StepForSoftDeletedVolume = s.StepForSoftDeletedVolume || sw.StepForSoftDeletedVolume
	s.NotifyDeletedVolume = s.NotifyDeletedVolume || sw.NotifyDeletedVolume
	s.PrematureVolumeHardDelete = s.PrematureVolumeHardDelete || sw.PrematureVolumeHardDelete
	s.LockWithoutVolume = s.LockWithoutVolume || sw.LockWithoutVolume
	s.RelockConflict = s.RelockConflict || sw.RelockConflict
	s.SubstringAddressMatch = s.SubstringAddressMatch || sw.SubstringAddressMatch
	return nil
}

// ---------------------------------------------------------------------------
// environment knobs, oracles

var faultKnobs = map[string]int{
	"crash": model.KnobCrash, "crash-after-node": model.KnobCrashAfterNode, "node-fail": model.KnobNodeFail,
	"undo-twice": model.KnobUndoTwice, "agent": model.KnobAgentFail, "notify": model.KnobNotifyFail,
}

func cmdFaults(x *runner, c *Cmd) error {
	if c.Flag("off") {
		for _, k := range faultKnobs {
			x.r.SetKnob(k, 0)
		}
		return nil
	}
	for _, a := range c.Args {
		k, ok := faultKnobs[a.Key]
		if !ok {
			return scriptf("unknown fault %q (want crash, crash-after-node, node-fail, undo-twice, agent, notify)", a.Key)
		}
		v, err := strconv.Atoi(a.Val)
		if err != nil || v < 0 || v > 1000 {
			return scriptf("%s: want a rate in permille (0-1000)", a.Key)
		}
		x.r.SetKnob(k, v)
	}
	return nil
}

func cmdOracles(x *runner, c *Cmd) error {
	a := argsOf(c)
	switch a[0] {
	case "on":
		x.oraclesOff = false
		x.ck.Disabled = nil
	case "off":
		x.oraclesOff = true
	case "disable", "enable":
		if len(a) < 2 {
			return scriptf("oracles %s: name the oracles", a[0])
		}
		if x.ck.Disabled == nil {
			x.ck.Disabled = map[string]bool{}
		}
		for _, n := range list(strings.Join(a[1:], ",")) {
			if _, ok := invariants.Lookup(n); !ok {
				return scriptf("unknown oracle %q (see 'rsrsim list invariants')", n)
			}
			x.ck.Disabled[n] = a[0] == "disable"
		}
	default:
		return scriptf("oracles: want on, off, disable NAME..., enable NAME...")
	}
	return nil
}

// watchNames are the predicates "watch" can check after every step.
var watchNames = []string{"find-deleted-volume-regions-empty"}

func (x *runner) watchFails(name string) string {
	switch name {
	case "find-deleted-volume-regions-empty":
		fr, _ := x.w.DB.FindDeletedVolumeRegions()
		if len(fr.Regions) > 0 || len(fr.Volumes) > 0 {
			var rs []model.UUID
			for _, r := range fr.Regions {
				rs = append(rs, r.RegionID)
			}
			return fmt.Sprintf("find_deleted_volume_regions returns regions %s and volumes %s", x.renderNames(kRegion, rs), x.renderNames(kVolume, fr.Volumes))
		}
	}
	return ""
}

func cmdWatch(x *runner, c *Cmd) error {
	n := argsOf(c)[0]
	if !contains(watchNames, n) {
		return scriptf("unknown watch predicate %q (want %s)", n, strings.Join(watchNames, ", "))
	}
	if !contains(x.watches, n) {
		x.watches = append(x.watches, n)
	}
	return nil
}

func cmdUnwatch(x *runner, c *Cmd) error {
	a := argsOf(c)
	if len(a) == 0 {
		x.watches = nil
		return nil
	}
	var keep []string
	for _, w := range x.watches {
		if w != a[0] {
			keep = append(keep, w)
		}
	}
	x.watches = keep
	return nil
}

// ---------------------------------------------------------------------------
// user and environment actions

// userSaga runs body as a user request and checks the saga it ran (the
// last user saga named sagaName started during it) ended done.
func (x *runner) userSaga(what, sagaName string, body func(c *sim.Ctx)) (*model.Saga, error) {
	before := len(x.w.Sagas)
	if err := x.act(sim.KindUser, "user: "+what, body); err != nil {
		return nil, err
	}
	var sg *model.Saga
	for _, s := range x.w.Sagas[before:] {
		if s.User && s.Name == sagaName {
			sg = s
		}
	}
	if sg == nil {
		return nil, failf(OracleCommand, "%s: the request ran no %s saga (its lookup failed)", what, sagaName)
	}
	if sg.State != model.SagaDone {
		return sg, failf(OracleCommand, "%s: saga %s ended %s (node %s: %v%s)", what, sagaName, sg.State, sg.ErrNode, sg.Err, stuckNote(sg))
	}
	return sg, nil
}

func stuckNote(s *model.Saga) string {
	if s.State == model.SagaStuck {
		return fmt.Sprintf("; undo of %s failed: %v", s.StuckNode, s.UndoErr)
	}
	return ""
}

func (x *runner) expectFail(c *Cmd, err error) error {
	if v, _ := c.Opt("expect"); v == "fail" {
		if err == nil {
			return failf(OracleAssert, "expected the request to fail; it succeeded")
		}
		if _, ok := err.(*failError); ok {
			return nil
		}
	}
	return err
}

func cmdDiskCreate(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	var src model.DiskSource
	if v, ok := c.Opt("snapshot"); ok {
		id, err := x.id(v, kSnapshot)
		if err != nil {
			return err
		}
		src.Snapshot = id
	}
	if v, ok := c.Opt("image"); ok {
		id, err := x.id(v, kImage)
		if err != nil {
			return err
		}
		src.Image = id
	}
	known := map[model.UUID]bool{}
	for _, d := range x.w.DB.Disks {
		known[d.ID] = true
	}
	_, err := x.userSaga("disk create "+name, "disk-create", func(c *sim.Ctx) { x.w.UserDiskCreate(c, src) })
	if err != nil {
		return x.expectFail(c, err)
	}
	if err := x.expectFail(c, nil); err != nil {
		return err
	}
	for _, d := range x.w.DB.Disks {
		if !known[d.ID] {
			return x.bind(name, &obj{kind: kDisk, id: d.ID})
		}
	}
	return failf(OracleCommand, "disk create %s: no new disk row", name)
}

func cmdDiskDelete(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kDisk)
	if err != nil {
		return err
	}
	_, err = x.userSaga("disk delete "+ref, "disk-delete", func(c *sim.Ctx) { x.w.UserDiskDelete(c, id) })
	return x.expectFail(c, err)
}

func cmdSnapshotCreate(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	dref, _ := c.Opt("disk")
	disk, err := x.id(dref, kDisk)
	if err != nil {
		return err
	}
	known := map[model.UUID]bool{}
	for _, s := range x.w.DB.Snapshots {
		known[s.ID] = true
	}
	var body func(c *sim.Ctx)
	if _, inj := c.Opt("inject-error"); inj || hasOpt(c, "repeat") {
		// Nexus::snapshot_create as UserSnapshotCreate does it, with the
		// injection set on the saga before it starts (saga_execute).
		probe := x.w.NewSnapshotCreateSaga(disk, true)
		inj, err := injection(c, probe)
		if err != nil {
			return err
		}
		body = func(c *sim.Ctx) {
			c.Step(opScript)
			d, err := x.w.DB.DiskLookup(disk)
			if err != nil {
				return
			}
			s := x.w.NewSnapshotCreateSaga(d.ID, d.AttachInstanceID == 0)
			s.Inject = inj
			s.User = true
			x.w.StartSaga(c, s)
			c.Wait(s.Actor)
		}
	} else {
		body = func(c *sim.Ctx) { x.w.UserSnapshotCreate(c, disk) }
	}
	_, err = x.userSaga("snapshot create "+name, "snapshot-create", body)
	if err != nil {
		return x.expectFail(c, err)
	}
	if err := x.expectFail(c, nil); err != nil {
		return err
	}
	for _, s := range x.w.DB.Snapshots {
		if !known[s.ID] {
			return x.bind(name, &obj{kind: kSnapshot, id: s.ID})
		}
	}
	return failf(OracleCommand, "snapshot create %s: no new snapshot row", name)
}

func cmdSnapshotDelete(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kSnapshot)
	if err != nil {
		return err
	}
	_, err = x.userSaga("snapshot delete "+ref, "snapshot-delete", func(c *sim.Ctx) { x.w.UserSnapshotDelete(c, id) })
	return x.expectFail(c, err)
}

func cmdImageCreate(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	sref, _ := c.Opt("snapshot")
	snap, err := x.id(sref, kSnapshot)
	if err != nil {
		return err
	}
	known := map[model.UUID]bool{}
	for _, i := range x.w.DB.Images {
		known[i.ID] = true
	}
	var ierr error
	if err := x.act(sim.KindUser, "user: image create "+name, func(c *sim.Ctx) { ierr = x.w.ImageCreateFromSnapshot(c, snap) }); err != nil {
		return err
	}
	if ierr != nil {
		return x.expectFail(c, failf(OracleCommand, "image create %s: %v", name, ierr))
	}
	for _, i := range x.w.DB.Images {
		if !known[i.ID] {
			return x.bind(name, &obj{kind: kImage, id: i.ID})
		}
	}
	return failf(OracleCommand, "image create %s: no new image row", name)
}

func cmdImageDelete(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kImage)
	if err != nil {
		return err
	}
	_, err = x.userSaga("image delete "+ref, "image-delete", func(c *sim.Ctx) { x.w.UserImageDelete(c, id) })
	return x.expectFail(c, err)
}

func cmdRemoveROP(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kDisk)
	if err != nil {
		return err
	}
	_, err = x.userSaga("remove read-only parent of "+ref, "volume-remove-read-only-parent", func(c *sim.Ctx) { x.w.UserRemoveROP(c, id) })
	return x.expectFail(c, err)
}

// cmdAttach attaches a disk to a new instance with an active VMM, or
// detaches it: what the workload's instance start/stop does (model
// workload.go userToggleAttach).
func cmdAttach(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kDisk)
	if err != nil {
		return err
	}
	attach := c.Name == "attach"
	return x.harness(c.Name+" "+ref, func(*sim.Ctx) error {
		d := x.w.DB.Disk(id)
		switch {
		case d == nil || d.Deleted:
			return failf(OracleCommand, "disk %s is deleted", ref)
		case attach && d.State == model.DiskDetached:
			d.State, d.AttachInstanceID, d.Gen = model.DiskAttached, x.w.DB.NewUUID(), d.Gen+1
		case !attach && d.State == model.DiskAttached:
			d.State, d.AttachInstanceID, d.Gen = model.DiskDetached, 0, d.Gen+1
		default:
			return failf(OracleCommand, "disk %s is %s", ref, d.State)
		}
		return nil
	})
}

// datasetOf resolves a dataset, or the dataset of a region or region
// snapshot.
func (x *runner) datasetOf(ref string) (model.UUID, error) {
	o, err := x.want(ref, kDataset, kRegion, kRS)
	if err != nil {
		return 0, err
	}
	switch o.kind {
	case kRegion:
		r := x.w.DB.Region(o.id)
		if r == nil {
			return 0, failf(OracleCommand, "region %s has no row", ref)
		}
		return r.DatasetID, nil
	case kRS:
		return o.rs.DatasetID, nil
	}
	return o.id, nil
}

func cmdExpunge(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	ds, err := x.datasetOf(ref)
	if err != nil {
		return err
	}
	pd := x.w.DB.DatasetDisk(ds)
	if pd == nil {
		return failf(OracleCommand, "no physical disk under %s", ref)
	}
	var xerr error
	if err := x.act(sim.KindEnv, "operator: expunge physical disk", func(c *sim.Ctx) { xerr = x.w.ExpungePhysicalDisk(c, pd.ID) }); err != nil {
		return err
	}
	if xerr != nil {
		return failf(OracleCommand, "expunge: %v", xerr)
	}
	return nil
}

// cmdRRRequest is create_region_replacement_request_for_region, as the RR
// DeletedVolumeTest harness calls it (one transaction).
func cmdRRRequest(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	rref, _ := c.Opt("region")
	rid, err := x.id(rref, kRegion)
	if err != nil {
		return err
	}
	var id model.UUID
	if err := x.harness("create_region_replacement_request_for_region", func(*sim.Ctx) error {
		r, err := x.w.DB.GetRegion(rid)
		if err != nil {
			return failf(OracleCommand, "get_region %s: %v", rref, err)
		}
		id, err = x.w.DB.CreateRRequestForRegion(r)
		if err != nil {
			return failf(OracleCommand, "create_region_replacement_request_for_region: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kRR, id: id})
}

// cmdRSRRequest is create_region_snapshot_replacement_request (and
// insert_region_snapshot_replacement_request): snapshot_get, then the
// lock-and-insert transaction, two atomic steps.
func cmdRSRRequest(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	ref, _ := c.Opt("rs")
	o, err := x.want(ref, kRS)
	if err != nil {
		return err
	}
	db := x.w.DB
	var id model.UUID
	var ierr error
	if err := x.act(sim.KindUser, "harness: create_region_snapshot_replacement_request", func(c *sim.Ctx) {
		c.Step(opScript)
		vol, err := db.InsertRSRequestSnapshotPart(o.rs.SnapshotID)
		if err != nil {
			ierr = err
			return
		}
		c.Step(opScript)
		req := db.NewRSRequest(o.rs)
		if ierr = db.InsertRSRequestWithVolumeID(req, vol); ierr == nil {
			id = req.ID
		}
	}); err != nil {
		return err
	}
	if ierr != nil {
		return x.expectFail(c, failf(OracleCommand, "create_region_snapshot_replacement_request: %v", ierr))
	}
	if err := x.expectFail(c, nil); err != nil {
		return err
	}
	return x.bind(name, &obj{kind: kRequest, id: id})
}

// cmdRSRStep is create_region_snapshot_replacement_step (one transaction).
func cmdRSRStep(x *runner, c *Cmd) error {
	name := argsOf(c)[0]
	qref, _ := c.Opt("request")
	vref, _ := c.Opt("volume")
	q, err := x.id(qref, kRequest)
	if err != nil {
		return err
	}
	v, err := x.id(vref, kVolume)
	if err != nil {
		return err
	}
	want := "inserted"
	if e, ok := c.Opt("expect"); ok {
		want = e
	}
	var res model.InsertStepResult
	var id model.UUID
	if err := x.harness("create_region_snapshot_replacement_step", func(*sim.Ctx) error {
		var err error
		res, id, err = x.w.DB.CreateRSRStep(q, v)
		if err != nil {
			return failf(OracleCommand, "create_region_snapshot_replacement_step: %v", err)
		}
		return nil
	}); err != nil {
		return err
	}
	got := map[model.InsertStepResult]string{model.StepInserted: "inserted", model.StepAlreadyHandled: "already-handled"}[res]
	if got != want {
		return failf(OracleAssert, "create_region_snapshot_replacement_step returned %s, want %s", got, want)
	}
	return x.bind(name, &obj{kind: kStep, id: id})
}

// driveOutcomes are the values the RR drive saga draws for one drive round
// (model saga_rr.go driveOutcome: driveDone, driveNotDone, driveFail,
// driveNotified, in that order).
var driveOutcomes = map[string]int{"done": 0, "not-done": 1, "fail": 2, "notified": 3}

func cmdDriveOutcome(x *runner, c *Cmd) error {
	v, ok := driveOutcomes[argsOf(c)[0]]
	if !ok {
		return scriptf("drive-outcome: want done, not-done, fail or notified")
	}
	x.ch.force(sim.KValue, v)
	return nil
}

func hasOpt(c *Cmd, key string) bool {
	_, ok := c.Opt(key)
	return ok
}

// injection reads inject-error=, repeat=, action-times= and undo-times=
// against saga s's nodes.
func injection(c *Cmd, s *model.Saga) (model.Inject, error) {
	inj := model.NoInject
	var err error
	if v, ok := c.Opt("inject-error"); ok {
		if inj.ErrorAt, err = nodeIndex(s, v); err != nil {
			return inj, err
		}
	}
	if v, ok := c.Opt("repeat"); ok {
		if v == "all" {
			inj.RepeatAll = true
		} else if inj.RepeatNode, err = nodeIndex(s, v); err != nil {
			return inj, err
		}
		if inj.ActionTimes, err = intOpt(c, "action-times", 1); err != nil {
			return inj, err
		}
		if inj.UndoTimes, err = intOpt(c, "undo-times", 1); err != nil {
			return inj, err
		}
	}
	return inj, nil
}

// cmdDeleteAll is World.DeleteAll as a user actor.
func cmdDeleteAll(x *runner, c *Cmd) error {
	return x.act(sim.KindUser, "user: delete everything", func(c *sim.Ctx) { x.w.DeleteAll(c) })
}
