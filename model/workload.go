package model

import (
	"github.com/oxide-sim/rsrsim/sim"
)

// The workload: user requests (the external API handlers that start sagas
// with saga_execute and wait for them), operator and environment actions,
// and the driver that picks them, plus the setup fixture and the DRAIN loop
// of omicron's tests (spec 30 §B.0).

var (
	opDriverNext      = sim.RegisterReadOp("workload: next action")
	opAPILookup       = sim.RegisterReadOp("API lookup")
	opDiskAttach      = sim.RegisterOp("instance attach/detach disk")
	outNoTarget       = sim.RegisterOutcome("no target")
	outSagaFailed     = sim.RegisterOutcome("saga failed")
	outSagaStuck      = sim.RegisterOutcome("saga stuck")
	errNothingToActOn = &Error{Class: ErrInvalidRequest, Msg: "no object to act on"}
)

// WorkloadConfig shapes a run of the model.
type WorkloadConfig struct {
	Topology TopologySpec `json:"topology"`
	// Setup: initial disks, snapshots of the first disk, and disks made
	// from the first snapshot, created before the main phase (fault-free,
	// one at a time).
	SetupDisks          int `json:"setup_disks"`
	SetupSnapshots      int `json:"setup_snapshots"`
	SetupDisksFromSnaps int `json:"setup_disks_from_snapshot"`
	// Actions is the number of user and environment actions the driver
	// issues in the main phase.
	Actions int `json:"actions"`
	// MaxExpunges bounds physical disk expunges per run, so the rack keeps
	// capacity for replacements.
	MaxExpunges int `json:"max_expunges"`
	// TaskPeriodMillis is the period of every background task (virtual
	// ms); 0 means tasks run only on explicit activation.
	TaskPeriodMillis int64 `json:"task_period_ms"`
	// DrainPasses bounds the quiescence phase.
	DrainPasses int `json:"drain_passes"`
}

// DefaultWorkload is a small, non-uniform rack with spare capacity (five
// sleds; two of them with two disks), a disk with a snapshot and a disk
// made from it, and a short burst of actions.
func DefaultWorkload() WorkloadConfig {
	return WorkloadConfig{
		Topology:            TopologySpec{Sleds: 5, DisksPerSled: []int{2, 1, 2, 1, 1}},
		SetupDisks:          1,
		SetupSnapshots:      1,
		SetupDisksFromSnaps: 1,
		Actions:             12,
		MaxExpunges:         1,
		TaskPeriodMillis:    400,
		DrainPasses:         30,
	}
}

// ---------------------------------------------------------------------------
// user requests

// execute runs a saga the way saga_execute does: the caller waits.
func (w *World) execute(c *sim.Ctx, s *Saga) *Saga {
	s.User = true
	w.StartSaga(c, s)
	c.Wait(s.Actor)
	switch s.State {
	case SagaFailed:
		c.Result(outSagaFailed, uint32(s.ID), 0)
	case SagaStuck:
		c.Result(outSagaStuck, uint32(s.ID), 0)
	}
	return s
}

// pick draws one of n candidates (sim.KValue); -1 if there is none.
func pick(c *sim.Ctx, n int) int {
	if n == 0 {
		return -1
	}
	return c.Choose(sim.KValue, n)
}

func (w *World) liveDisks(dst []Disk) []Disk {
	for _, d := range w.DB.Disks {
		if !d.Deleted {
			dst = append(dst, d)
		}
	}
	return dst
}

func (w *World) liveSnapshots(dst []Snapshot) []Snapshot {
	for _, s := range w.DB.Snapshots {
		if !s.Deleted {
			dst = append(dst, s)
		}
	}
	return dst
}

// UserDiskCreate is the disk create API (project_create_disk,
// nexus/src/app/disk.rs): for a snapshot or image source, LookupPath of the
// source (not soft-deleted; the snapshot's state is not checked), then the
// disk-create saga.
func (w *World) UserDiskCreate(c *sim.Ctx, src DiskSource) *Saga {
	return w.execute(c, w.NewDiskCreateSaga(src))
}

// userDiskCreateFrom picks a live snapshot (fromImage false) or image and
// creates a disk from it.
func (w *World) userDiskCreateFrom(c *sim.Ctx, fromImage bool) {
	c.Step(opAPILookup)
	var src DiskSource
	if fromImage {
		var ids []UUID
		for _, img := range w.DB.Images {
			if !img.Deleted {
				ids = append(ids, img.ID)
			}
		}
		i := pick(c, len(ids))
		if i < 0 {
			c.Result(outNoTarget, 0, 0)
			return
		}
		src.Image = ids[i]
	} else {
		ss := w.liveSnapshots(nil)
		i := pick(c, len(ss))
		if i < 0 {
			c.Result(outNoTarget, 0, 0)
			return
		}
		src.Snapshot = ss[i].ID
	}
	c.Result(sim.OutOK, uint32(src.Snapshot|src.Image), 0)
	w.execute(c, w.NewDiskCreateSaga(src))
}

// UserDiskDelete is the disk delete API: LookupPath disk (its volume id is
// read now), then the disk-delete saga.
func (w *World) UserDiskDelete(c *sim.Ctx, disk UUID) {
	c.Step(opLookupDisk)
	d, err := w.DB.DiskLookup(disk)
	note(c, err, disk, UUID(0))
	if err != nil {
		return
	}
	w.execute(c, w.NewDiskDeleteSaga(d.ID, d.VolumeID))
}

// UserSnapshotCreate is the snapshot create API (Nexus::snapshot_create):
// LookupPath disk; use the Pantry unless the disk is attached to an
// instance with a VMM.
func (w *World) UserSnapshotCreate(c *sim.Ctx, disk UUID) *Saga {
	c.Step(opLookupDisk)
	d, err := w.DB.DiskLookup(disk)
	note(c, err, disk, UUID(0))
	if err != nil {
		return nil
	}
	return w.execute(c, w.NewSnapshotCreateSaga(d.ID, d.AttachInstanceID == 0))
}

// UserSnapshotDelete is the snapshot delete API: LookupPath snapshot (the
// record passed to the saga), then snapshot-delete.
func (w *World) UserSnapshotDelete(c *sim.Ctx, snapshot UUID) {
	c.Step(opLookupSnapshot)
	s, err := w.DB.SnapshotLookup(snapshot)
	note(c, err, snapshot, UUID(0))
	if err != nil {
		return
	}
	w.execute(c, w.NewSnapshotDeleteSaga(s))
}

// UserImageDelete is the image delete API: LookupPath image, then
// image-delete.
func (w *World) UserImageDelete(c *sim.Ctx, image UUID) {
	c.Step(opLookupImage)
	img, err := w.DB.ImageLookup(image)
	note(c, err, image, UUID(0))
	if err != nil {
		return
	}
	w.execute(c, w.NewImageDeleteSaga(img))
}

// UserRemoveROP is disk_remove_read_only_parent (nexus/src/app/disk.rs):
// LookupPath disk, then volume-remove-read-only-parent on its volume.
func (w *World) UserRemoveROP(c *sim.Ctx, disk UUID) {
	c.Step(opLookupDisk)
	d, err := w.DB.DiskLookup(disk)
	note(c, err, disk, UUID(0))
	if err != nil {
		return
	}
	w.execute(c, w.NewRemoveROPSaga(d.VolumeID))
}

// userToggleAttach attaches a detached disk to a (new) instance with an
// active VMM, or detaches an attached one: instance start and stop as far
// as the replacement logic can see them.
func (w *World) userToggleAttach(c *sim.Ctx) {
	c.Step(opDiskAttach)
	ds := w.liveDisks(nil)
	i := pick(c, len(ds))
	if i < 0 {
		c.Result(outNoTarget, 0, 0)
		return
	}
	d := w.DB.Disk(ds[i].ID)
	switch {
	case d.State == DiskDetached && d.AttachInstanceID == 0:
		d.State, d.AttachInstanceID, d.Gen = DiskAttached, w.DB.NewUUID(), d.Gen+1
	case d.State == DiskAttached:
		d.State, d.AttachInstanceID, d.Gen = DiskDetached, 0, d.Gen+1
	default:
		c.Result(outNoTarget, uint32(d.ID), 0)
		return
	}
	c.Result(sim.OutOK, uint32(d.ID), 0)
}

// ---------------------------------------------------------------------------
// the driver

// actionKnobs are the knobs of the actions the driver draws from.
var actionKnobs = []int{
	KnobDiskCreateBlank, KnobDiskCreateFromSnapshot, KnobDiskCreateFromImage, KnobDiskDelete,
	KnobSnapshotCreate, KnobSnapshotDelete, KnobImageCreate, KnobImageDelete, KnobExpunge,
	KnobManualRSR, KnobManualRR, KnobRemoveROP, KnobActivateTask, KnobAttach,
}

// SpawnDriver starts the workload driver: each of its steps is "the next
// user or environment action happens now"; it draws the action kind from
// the knob weights (sim.KAction) and starts the action as its own actor.
// The run-shape knobs can make the weights uniform (KnobShapeUniform) and
// multiply the number of actions (KnobShapeActionsX).
func (w *World) SpawnDriver(r *sim.Run, cfg WorkloadConfig) *sim.Actor {
	expunges := 0
	return r.Spawn(sim.KindEnv, "workload driver", func(c *sim.Ctx) {
		weights := make([]int, len(actionKnobs))
		total := 0
		uniform := r.Knob(KnobShapeUniform) > 0
		for i, k := range actionKnobs {
			weights[i] = r.Knob(k)
			if uniform && weights[i] > 0 {
				weights[i] = 1
			}
			total += weights[i]
		}
		if total == 0 {
			return
		}
		actions := cfg.Actions * max(1, r.Knob(KnobShapeActionsX))
		for n := 0; n < actions; n++ {
			c.Step(opDriverNext)
			v := c.Choose(sim.KAction, total)
			k := 0
			for v >= weights[k] {
				v -= weights[k]
				k++
			}
			knob := actionKnobs[k]
			if knob == KnobExpunge {
				if expunges >= cfg.MaxExpunges {
					continue
				}
				expunges++
			}
			c.Result(sim.OutOK, uint32(knob), 0)
			w.spawnAction(c, knob)
		}
	})
}

var actionNames = map[int]string{
	KnobDiskCreateBlank: "user: disk create (blank)", KnobDiskCreateFromSnapshot: "user: disk create from snapshot",
	KnobDiskCreateFromImage: "user: disk create from image", KnobDiskDelete: "user: disk delete",
	KnobSnapshotCreate: "user: snapshot create", KnobSnapshotDelete: "user: snapshot delete",
	KnobImageCreate: "user: image create", KnobImageDelete: "user: image delete",
	KnobExpunge: "operator: expunge physical disk", KnobManualRSR: "operator: manual RSR request",
	KnobManualRR: "operator: manual RR request", KnobRemoveROP: "user: remove read-only parent",
	KnobActivateTask: "operator: activate task", KnobAttach: "user: instance attach/detach",
}

// spawnAction starts one action of kind knob as an actor.
func (w *World) spawnAction(c *sim.Ctx, knob int) {
	if knob == KnobActivateTask {
		n := c.Choose(sim.KValue, len(w.Nexuses))
		t := TaskKind(c.Choose(sim.KValue, int(NumTasks)))
		w.Activate(c, n, t)
		return
	}
	kind := sim.KindUser
	if knob == KnobExpunge || knob == KnobManualRSR || knob == KnobManualRR {
		kind = sim.KindEnv
	}
	w.actions = append(w.actions, c.Spawn(kind, actionNames[knob], func(c *sim.Ctx) { w.runAction(c, knob) }))
}

// ActionsDone reports whether every action the driver started has ended.
func (w *World) ActionsDone() bool {
	for len(w.actions) > 0 && w.actions[0].Done() {
		w.actions = w.actions[1:]
	}
	for _, a := range w.actions {
		if !a.Done() {
			return false
		}
	}
	return true
}

func (w *World) runAction(c *sim.Ctx, knob int) {
	db := w.DB
	switch knob {
	case KnobDiskCreateBlank:
		w.UserDiskCreate(c, DiskSource{})
	case KnobDiskCreateFromSnapshot:
		w.userDiskCreateFrom(c, false)
	case KnobDiskCreateFromImage:
		w.userDiskCreateFrom(c, true)
	case KnobDiskDelete:
		c.Step(opAPILookup)
		ds := w.liveDisks(nil)
		if i := pick(c, len(ds)); i >= 0 {
			w.UserDiskDelete(c, ds[i].ID)
		}
	case KnobSnapshotCreate:
		c.Step(opAPILookup)
		ds := w.liveDisks(nil)
		if i := pick(c, len(ds)); i >= 0 {
			w.UserSnapshotCreate(c, ds[i].ID)
		}
	case KnobSnapshotDelete:
		c.Step(opAPILookup)
		ss := w.liveSnapshots(nil)
		if i := pick(c, len(ss)); i >= 0 {
			w.UserSnapshotDelete(c, ss[i].ID)
		}
	case KnobImageCreate:
		c.Step(opAPILookup)
		ss := w.liveSnapshots(nil)
		if i := pick(c, len(ss)); i >= 0 {
			w.ImageCreateFromSnapshot(c, ss[i].ID)
		}
	case KnobImageDelete:
		c.Step(opAPILookup)
		var ids []UUID
		for _, img := range db.Images {
			if !img.Deleted {
				ids = append(ids, img.ID)
			}
		}
		if i := pick(c, len(ids)); i >= 0 {
			w.UserImageDelete(c, ids[i])
		}
	case KnobExpunge:
		c.Step(opAPILookup)
		var pds []UUID
		for _, pd := range db.PhysicalDisks {
			if pd.Policy == PolicyInService {
				pds = append(pds, pd.ID)
			}
		}
		if i := pick(c, len(pds)); i >= 0 {
			w.ExpungePhysicalDisk(c, pds[i])
		}
	case KnobManualRSR:
		c.Step(opAPILookup)
		if i := pick(c, len(db.RegionSnapshots)); i >= 0 {
			w.ManualRSRRequest(c, db.RegionSnapshots[i].Key)
		}
	case KnobManualRR:
		c.Step(opAPILookup)
		if i := pick(c, len(db.Regions)); i >= 0 {
			w.ManualRRRequest(c, db.Regions[i].ID)
		}
	case KnobRemoveROP:
		c.Step(opAPILookup)
		var ids []UUID
		for _, d := range db.Disks {
			if !d.Deleted && (d.OriginSnapshot != 0 || d.OriginImage != 0) {
				ids = append(ids, d.ID)
			}
		}
		if i := pick(c, len(ids)); i >= 0 {
			w.UserRemoveROP(c, ids[i])
		}
	case KnobAttach:
		w.userToggleAttach(c)
	}
}

// ---------------------------------------------------------------------------
// setup and drain

// RunToIdle spawns body as a user actor and runs the engine until nothing
// is runnable (setup and scripted phases). It reports the loop's reason.
func (w *World) RunToIdle(name string, body sim.Body) sim.StopReason {
	w.Run.Spawn(sim.KindUser, name, body)
	return w.Run.Loop(nil)
}

// Setup builds the topology and the initial objects, fault-free and one
// request at a time: SetupDisks blank disks, SetupSnapshots snapshots of
// the first disk, SetupDisksFromSnaps disks from the first snapshot.
func (w *World) Setup(cfg WorkloadConfig) sim.StopReason {
	w.DB.BuildTopology(cfg.Topology)
	off := w.faultsOff
	w.faultsOff = true
	defer func() { w.faultsOff = off }()
	reason := w.RunToIdle("setup", func(c *sim.Ctx) {
		var disks []UUID
		for i := 0; i < cfg.SetupDisks; i++ {
			if s := w.UserDiskCreate(c, DiskSource{}); s != nil && s.State == SagaDone {
				disks = append(disks, s.diskID())
			}
		}
		var snaps []UUID
		for i := 0; i < cfg.SetupSnapshots && len(disks) > 0; i++ {
			if s := w.UserSnapshotCreate(c, disks[0]); s != nil && s.State == SagaDone {
				snaps = append(snaps, s.snapshotID())
			}
		}
		for i := 0; i < cfg.SetupDisksFromSnaps && len(snaps) > 0; i++ {
			w.UserDiskCreate(c, DiskSource{Snapshot: snaps[0]})
		}
	})
	return reason
}

// diskID returns the disk a disk-create saga made (0 if not a disk create).
func (s *Saga) diskID() UUID {
	if dc, ok := s.out.(*diskCreate); ok {
		return dc.diskID
	}
	return 0
}

// snapshotID returns the snapshot a snapshot-create saga made.
func (s *Saga) snapshotID() UUID {
	if sc, ok := s.out.(*snapCreate); ok {
		return sc.snapID
	}
	return 0
}

// DrainResult is what a DRAIN phase observed.
type DrainResult struct {
	Passes    int
	Converged bool
	// LastStatuses are the statuses of the final pass.
	LastStatuses []*TaskStatus
}

// drainOrder is the order of run_replacement_tasks_to_completion.
var drainOrder = []TaskKind{TaskRR, TaskRRDriver, TaskRSRStart, TaskRSRGC, TaskRSRStep, TaskRSRFinish}

// Drain is the tests' run_replacement_tasks_to_completion: passes of every
// task in drainOrder (on Nexus 0), letting every saga they start run to
// completion before the next pass, until a pass counts no action and starts
// no saga, or maxPasses is reached. Run it inside an actor.
func (w *World) Drain(c *sim.Ctx, maxPasses int) DrainResult {
	var res DrainResult
	for res.Passes < maxPasses {
		res.Passes++
		before := len(w.Sagas)
		actions := 0
		res.LastStatuses = res.LastStatuses[:0]
		for _, t := range drainOrder {
			st := w.RunActivation(c, 0, t)
			actions += st.Actions()
			res.LastStatuses = append(res.LastStatuses, st)
		}
		w.WaitSagas(c)
		if actions == 0 && len(w.Sagas) == before {
			res.Converged = true
			return res
		}
	}
	return res
}

// WaitSagas waits until every saga has finished (done, failed or stuck),
// including sagas started while waiting.
func (w *World) WaitSagas(c *sim.Ctx) {
	for {
		var open []*sim.Actor
		for _, s := range w.Sagas {
			if !s.Finished() && s.Actor != nil && !s.Actor.Done() {
				open = append(open, s.Actor)
			}
		}
		if len(open) == 0 {
			return
		}
		c.Wait(open...)
	}
}

// WaitActivations waits until no task activation is running on any Nexus.
func (w *World) WaitActivations(c *sim.Ctx) {
	for {
		var open []*sim.Actor
		for _, nx := range w.Nexuses {
			for t := range nx.actor {
				if a := nx.actor[t]; a != nil && !a.Done() {
					open = append(open, a)
				}
			}
		}
		if len(open) == 0 {
			return
		}
		c.Wait(open...)
	}
}

// DeleteAll deletes every user object, one request at a time: instances
// stop (disks detach), then images, disks and snapshots are deleted through
// their APIs. Run inside an actor, with faults off.
func (w *World) DeleteAll(c *sim.Ctx) {
	db := w.DB
	for i := range db.Disks {
		if d := &db.Disks[i]; !d.Deleted && d.State == DiskAttached {
			c.Step(opDiskAttach)
			d.State, d.AttachInstanceID, d.Gen = DiskDetached, 0, d.Gen+1
			c.Result(sim.OutOK, uint32(d.ID), 0)
		}
	}
	var ids []UUID
	for _, img := range db.Images {
		if !img.Deleted {
			ids = append(ids, img.ID)
		}
	}
	for _, id := range ids {
		w.UserImageDelete(c, id)
	}
	ids = ids[:0]
	for _, d := range db.Disks {
		if !d.Deleted {
			ids = append(ids, d.ID)
		}
	}
	for _, id := range ids {
		w.UserDiskDelete(c, id)
	}
	ids = ids[:0]
	for _, s := range db.Snapshots {
		if !s.Deleted {
			ids = append(ids, s.ID)
		}
	}
	for _, id := range ids {
		w.UserSnapshotDelete(c, id)
	}
}

// ActionKnobs returns the knobs of the actions the workload driver draws
// from (user, operator and environment actions, and task activations).
func ActionKnobs() []int { return append([]int(nil), actionKnobs...) }

// RunAction performs one action of kind knob inside the calling actor:
// what the driver's action actor would do; a task activation is started
// (its sagas run as their own actors).
func (w *World) RunAction(c *sim.Ctx, knob int) {
	if knob == KnobActivateTask {
		c.Step(opDriverNext)
		n := c.Choose(sim.KValue, len(w.Nexuses))
		t := TaskKind(c.Choose(sim.KValue, int(NumTasks)))
		w.Activate(c, n, t)
		return
	}
	w.runAction(c, knob)
}
