package model

import (
	"github.com/oxide-sim/rsrsim/sim"
)

// The region snapshot replacement sagas (spec 20 §4–§6.5, §8):
// region-snapshot-replacement-start, -garbage-collect, -step,
// -step-garbage-collect and -finish. Parameters are the record as the task
// read it (possibly stale). Node outputs live in each saga's state struct.

var (
	opSetRSRAllocating     = sim.RegisterOp("set_region_snapshot_replacement_allocating")
	opUndoRSRAllocating    = sim.RegisterOp("undo_set_region_snapshot_replacement_allocating")
	opGetRegion            = sim.RegisterReadOp("get_region")
	opRegionAllocate       = sim.RegisterOp("region allocation")
	opAgentRegionEnsure    = sim.RegisterOp("agent: ensure region")
	opRegionSetPort        = sim.RegisterOp("region_set_port")
	opVolumeCreate         = sim.RegisterOp("volume_create")
	opReplaceSnapshot      = sim.RegisterOp("volume_replace_snapshot")
	opReplaceSnapshotUndo  = sim.RegisterOp("volume_replace_snapshot (undo)")
	opSetRSRReplDone       = sim.RegisterOp("set_region_snapshot_replacement_replacement_done")
	opSetRSRDeletingOld    = sim.RegisterOp("set_region_snapshot_replacement_deleting_old_volume")
	opUndoRSRDeletingOld   = sim.RegisterOp("undo_set_region_snapshot_replacement_deleting_old_volume")
	opSetRSRRunning        = sim.RegisterOp("set_region_snapshot_replacement_running")
	opSetStepRunning       = sim.RegisterOp("set_region_snapshot_replacement_step_running")
	opUndoStepRunning      = sim.RegisterOp("undo_set_region_snapshot_replacement_step_running")
	opGetRSRByID           = sim.RegisterReadOp("get_region_snapshot_replacement_request_by_id")
	opRegionAddr           = sim.RegisterOp("region_addr")
	opDiskForVolume        = sim.RegisterReadOp("disk_for_volume_id")
	opNotifyUpstairs       = sim.RegisterOp("propolis: replace VCR (notify upstairs)")
	opSetStepComplete      = sim.RegisterOp("set_region_snapshot_replacement_step_complete")
	opSetStepVolumeDeleted = sim.RegisterOp("set_region_snapshot_replacement_step_volume_deleted")
	opSetRSRCompleting     = sim.RegisterOp("set_region_snapshot_replacement_completing")
	opUndoRSRCompleting    = sim.RegisterOp("undo_set_region_snapshot_replacement_completing")
	opSetRSRComplete       = sim.RegisterOp("set_region_snapshot_replacement_complete")
)

var (
	errRSDeleted      = &SagaError{Msg: "region snapshot deleted!"}
	errNoNewRegion    = &SagaError{Msg: "expected exactly one new region"}
	errNoNewRegionID  = &SagaError{Msg: "request has no new_region_id"}
	errNotifyFailed   = &SagaError{Msg: "upstairs notification failed"}
	errSnapshotAbsent = &SagaError{Msg: "snapshot not found"}
)

func genID(out *UUID) NodeFunc {
	return func(x *NodeCtx) error { *out = x.DB.NewUUID(); return nil }
}

// ---------------------------------------------------------------------------
// region-snapshot-replacement-start
// (nexus/src/app/sagas/region_snapshot_replacement_start.rs)

type rsrStart struct {
	req      RSRequest
	sagaID   UUID
	stashID  UUID // new_volume_id, the "old snapshot volume" T
	nrvID    UUID // new_region_volume_id (post-fix only)
	snapVol  UUID // alloc params: the snapshot volume SV
	cur      []Region
	alloc    []Region
	newReg   Region
	newAddr  Addr
	oldSnVol UUID // GET_OLD_SNAPSHOT_VOLUME_ID output
}

// NewRSRStartSaga builds the start saga for request q (as the task read it).
func (w *World) NewRSRStartSaga(q RSRequest) *Saga {
	st := &rsrStart{req: q}
	pre := w.DB.Cfg.Switches.NoNewRegionVolume
	nodes := make([]Node, 0, 15)
	nodes = append(nodes,
		Node{Name: "saga_id", Kind: NodePure, Action: genID(&st.sagaID)},
		Node{Name: "new_volume_id", Kind: NodePure, Action: genID(&st.stashID)},
	)
	if !pre {
		nodes = append(nodes, Node{Name: "new_region_volume_id", Kind: NodePure, Action: genID(&st.nrvID)})
	}
	nodes = append(nodes,
		Node{Name: "set_saga_id", Action: st.setSagaID, Undo: st.setSagaIDUndo},
		Node{Name: "get_alloc_region_params", Action: st.getAllocRegionParams},
		Node{Name: "alloc_new_region", Action: st.allocNewRegion, Undo: st.allocNewRegionUndo},
		Node{Name: "find_new_region", Kind: NodePure, Action: st.findNewRegion},
		Node{Name: "new_region_ensure_undo", Action: nopNode, Undo: st.newRegionEnsureUndo},
		Node{Name: "new_region_ensure", Action: st.newRegionEnsure},
	)
	if !pre {
		nodes = append(nodes, Node{Name: "new_region_volume_create", Action: st.newRegionVolumeCreate, Undo: st.newRegionVolumeCreateUndo})
	}
	nodes = append(nodes,
		Node{Name: "get_old_snapshot_volume_id", Action: st.getOldSnapshotVolumeID},
		Node{Name: "create_fake_volume", Action: st.createFakeVolume, Undo: st.createFakeVolumeUndo},
		Node{Name: "replace_snapshot_in_volume", Action: st.replaceSnapshotInVolume, Undo: st.replaceSnapshotInVolumeUndo},
		Node{Name: "update_request_record", Action: st.updateRequestRecord},
	)
	stages := seq(nodes...)
	return &Saga{Name: "region-snapshot-replacement-start", Stages: stages, Inject: NoInject}
}

// rsrss_set_saga_id: R1 Requested → Allocating.
func (st *rsrStart) setSagaID(x *NodeCtx) error {
	x.Step(opSetRSRAllocating)
	err := x.DB.SetRSRAllocating(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// rsrss_set_saga_id_undo: R1u Allocating → Requested.
func (st *rsrStart) setSagaIDUndo(x *NodeCtx) error {
	x.Step(opUndoRSRAllocating)
	err := x.DB.UndoSetRSRAllocating(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// rsrss_get_alloc_region_params: snapshot_get ‖ get_region(old) ‖
// get_allocated_regions(SV).
func (st *rsrStart) getAllocRegionParams(x *NodeCtx) error {
	x.Step(opSnapshotGet)
	s := x.DB.Snapshot(st.req.Old.SnapshotID)
	if s == nil {
		x.Result(outNone, uint32(st.req.Old.SnapshotID), 0)
		return errSnapshotAbsent
	}
	sv := s.VolumeID
	x.Step(opGetRegion)
	if _, err := x.DB.GetRegion(st.req.Old.RegionID); err != nil {
		x.Result(outErr, uint32(st.req.Old.RegionID), 0)
		return err
	}
	x.Step(opGetAllocatedRegions)
	st.cur = x.DB.GetAllocatedRegions(st.cur[:0], sv)
	st.snapVol = sv
	x.Result(sim.OutOK, uint32(sv), uint32(len(st.cur)))
	return nil
}

// rsrss_alloc_new_region: allocate |cur|+1 regions for SV as a snapshot
// volume (read-only, excluding pools with this snapshot's region snapshots).
func (st *rsrStart) allocNewRegion(x *NodeCtx) error {
	x.Step(opRegionAllocate)
	regs, err := x.DB.RegionAllocate(st.snapVol, st.req.Old.SnapshotID, AllocRandomDistinctSleds, len(st.cur)+1)
	note(x.Ctx, err, st.snapVol, UUID(len(regs)))
	if err != nil {
		return err
	}
	st.alloc = regs
	return nil
}

// onlyNewRegion is find_only_new_region: the regions of after that are not
// in before (compared as whole records); ok only when exactly one.
func onlyNewRegion(before, after []Region) (Region, bool) {
	var found Region
	n := 0
	for _, a := range after {
		in := false
		for _, b := range before {
			if a == b {
				in = true
				break
			}
		}
		if !in {
			found = a
			n++
		}
	}
	return found, n == 1
}

// rsrss_alloc_new_region_undo: hard-delete the one new region, ignoring
// usage rows.
func (st *rsrStart) allocNewRegionUndo(x *NodeCtx) error {
	r, ok := onlyNewRegion(st.cur, st.alloc)
	if !ok {
		return nil
	}
	x.Step(opRegionsHardDelete)
	err := x.DB.RegionsHardDelete([]UUID{r.ID})
	note(x.Ctx, err, r.ID, UUID(0))
	return err
}

// rsrss_find_new_region: exactly one new region (CPU only).
func (st *rsrStart) findNewRegion(x *NodeCtx) error {
	r, ok := onlyNewRegion(st.cur, st.alloc)
	if !ok {
		return errNoNewRegion
	}
	st.newReg = r
	return nil
}

// rsrss_new_region_ensure_undo: delete the new region on its agent.
func (st *rsrStart) newRegionEnsureUndo(x *NodeCtx) error {
	x.Step(opAgentRegionDelete)
	err := x.W.AgentRegionDelete(x, st.newReg.DatasetID, st.newReg.ID)
	note(x.Ctx, err, st.newReg.ID, UUID(0))
	return err
}

// rsrss_new_region_ensure: region_snapshot_get(A) (fail if gone) ‖ agent
// ensure N cloned from A ‖ region_set_port(N).
func (st *rsrStart) newRegionEnsure(x *NodeCtx) error {
	x.Step(opRegionSnapshotGet)
	rs, ok := x.DB.RegionSnapshotGet(st.req.Old)
	if !ok {
		x.Result(outNone, uint32(st.req.Old.RegionID), 0)
		return errRSDeleted
	}
	x.Step(opAgentRegionEnsure)
	port, err := x.W.AgentRegionEnsure(x, st.newReg.DatasetID, st.newReg.ID, rs.Addr, true)
	note(x.Ctx, err, st.newReg.ID, UUID(port))
	if err != nil {
		return err
	}
	x.Step(opRegionSetPort)
	err = x.DB.RegionSetPort(st.newReg.ID, port)
	note(x.Ctx, err, st.newReg.ID, UUID(port))
	if err != nil {
		return err
	}
	st.newAddr = x.DB.AddrOf(st.newReg.DatasetID, port)
	return nil
}

// rsrss_new_region_volume_create (new at 09b150f177): create NRV, one
// read-only Region with target N, which adds the usage row (NRV, N).
func (st *rsrStart) newRegionVolumeCreate(x *NodeCtx) error {
	x.Step(opVolumeCreate)
	err := x.DB.VolumeCreate(st.nrvID, SingleRegionVCR(st.nrvID, x.DB.NewUUID(), []Addr{st.newAddr}, true))
	note(x.Ctx, err, st.nrvID, st.newReg.ID)
	return err
}

// rsrss_new_region_volume_create_undo: volume_hard_delete(NRV), leaving its
// usage row behind.
func (st *rsrStart) newRegionVolumeCreateUndo(x *NodeCtx) error {
	x.Step(opVolumeHardDelete)
	x.DB.VolumeHardDelete(st.nrvID)
	x.Result(sim.OutOK, uint32(st.nrvID), 0)
	return nil
}

// rsrss_get_old_snapshot_volume_id: snapshot_get → SV.
func (st *rsrStart) getOldSnapshotVolumeID(x *NodeCtx) error {
	x.Step(opSnapshotGet)
	s := x.DB.Snapshot(st.req.Old.SnapshotID)
	if s == nil {
		x.Result(outNone, uint32(st.req.Old.SnapshotID), 0)
		return errSnapshotAbsent
	}
	st.oldSnVol = s.VolumeID
	x.Result(sim.OutOK, uint32(s.VolumeID), 0)
	return nil
}

// rsrss_create_fake_volume: a blank volume T (one read-only Region with no
// targets, so no usage rows).
func (st *rsrStart) createFakeVolume(x *NodeCtx) error {
	x.Step(opVolumeCreate)
	err := x.DB.VolumeCreate(st.stashID, SingleRegionVCR(st.stashID, x.DB.NewUUID(), nil, true))
	note(x.Ctx, err, st.stashID, UUID(0))
	return err
}

// rsrss_create_fake_volume_undo: volume_hard_delete(T).
func (st *rsrStart) createFakeVolumeUndo(x *NodeCtx) error {
	x.Step(opVolumeHardDelete)
	x.DB.VolumeHardDelete(st.stashID)
	x.Result(sim.OutOK, uint32(st.stashID), 0)
	return nil
}

// rsrss_replace_snapshot_in_volume: region_snapshot_get(A) (fail if gone) ‖
// volume_replace_snapshot(SV, A → N, T). Every result is success.
func (st *rsrStart) replaceSnapshotInVolume(x *NodeCtx) error {
	x.Step(opRegionSnapshotGet)
	rs, ok := x.DB.RegionSnapshotGet(st.req.Old)
	if !ok {
		x.Result(outNone, uint32(st.req.Old.RegionID), 0)
		return errRSDeleted
	}
	x.Step(opReplaceSnapshot)
	res, err := x.DB.VolumeReplaceSnapshot(st.oldSnVol, rs.Addr, st.newAddr, st.stashID)
	x.Result(replaceOutcome(res, err), uint32(st.oldSnVol), uint32(st.stashID))
	return err
}

// rsrss_replace_snapshot_in_volume_undo: region_snapshot_get(A) (the undo
// errors, and the saga is stuck, if A's row is gone) ‖ the same call with
// A and N swapped; any result is accepted.
func (st *rsrStart) replaceSnapshotInVolumeUndo(x *NodeCtx) error {
	x.Step(opRegionSnapshotGet)
	rs, ok := x.DB.RegionSnapshotGet(st.req.Old)
	if !ok {
		x.Result(outNone, uint32(st.req.Old.RegionID), 0)
		return errRSDeleted
	}
	x.Step(opReplaceSnapshotUndo)
	res, err := x.DB.VolumeReplaceSnapshot(st.oldSnVol, st.newAddr, rs.Addr, st.stashID)
	x.Result(replaceOutcome(res, err), uint32(st.oldSnVol), uint32(st.stashID))
	return err
}

// rsrss_update_request_record: R2 Allocating → ReplacementDone.
func (st *rsrStart) updateRequestRecord(x *NodeCtx) error {
	x.Step(opSetRSRReplDone)
	err := x.DB.SetRSRReplacementDone(st.req.ID, st.sagaID, st.newReg.ID, st.nrvID, st.stashID)
	note(x.Ctx, err, st.req.ID, st.newReg.ID)
	return err
}

// ---------------------------------------------------------------------------
// region-snapshot-replacement-garbage-collect
// (nexus/src/app/sagas/region_snapshot_replacement_garbage_collect.rs)

type rsrGC struct {
	req    RSRequest
	sagaID UUID
}

// NewRSRGCSaga builds the garbage-collect saga for request q.
func (w *World) NewRSRGCSaga(q RSRequest) *Saga {
	st := &rsrGC{req: q}
	stages := [][]Node{
		{{Name: "saga_id", Kind: NodePure, Action: genID(&st.sagaID)}},
		{{Name: "set_saga_id", Action: st.setSagaID, Undo: st.setSagaIDUndo}},
		{{Name: "params_for_volume_delete_subsaga", Kind: NodePure, Action: nopNode}},
	}
	stages = append(stages, w.VolumeDeleteSubsaga("volume_delete_subsaga_no_result", q.OldSnapshotVolumeID)...)
	stages = append(stages, []Node{{Name: "update_request_record", Action: st.updateRequestRecord}})
	return &Saga{Name: "region-snapshot-replacement-garbage-collect", Stages: stages, Inject: NoInject}
}

// rsrgs_set_saga_id: ReplacementDone → DeletingOldVolume.
func (st *rsrGC) setSagaID(x *NodeCtx) error {
	x.Step(opSetRSRDeletingOld)
	err := x.DB.SetRSRDeletingOldVolume(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// rsrgs_set_saga_id_undo: DeletingOldVolume → ReplacementDone.
func (st *rsrGC) setSagaIDUndo(x *NodeCtx) error {
	x.Step(opUndoRSRDeletingOld)
	err := x.DB.UndoSetRSRDeletingOldVolume(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// rsrgs_update_request_record: DeletingOldVolume → Running.
func (st *rsrGC) updateRequestRecord(x *NodeCtx) error {
	x.Step(opSetRSRRunning)
	err := x.DB.SetRSRRunning(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// ---------------------------------------------------------------------------
// region-snapshot-replacement-step
// (nexus/src/app/sagas/region_snapshot_replacement_step.rs)

type rsrStep struct {
	step    RSRStep
	sagaID  UUID
	stashID UUID
	oldAddr Addr
	newAddr Addr
	result  VolumeReplaceResult
}

// NewRSRStepSaga builds the step saga for step s (as the task read it).
func (w *World) NewRSRStepSaga(s RSRStep) *Saga {
	st := &rsrStep{step: s}
	stages := [][]Node{
		{{Name: "saga_id", Kind: NodePure, Action: genID(&st.sagaID)}},
		{{Name: "new_volume_id", Kind: NodePure, Action: genID(&st.stashID)}},
		{{Name: "set_saga_id", Action: st.setSagaID, Undo: st.setSagaIDUndo}},
		{{Name: "create_replace_params", Action: st.createReplaceParams}},
		{{Name: "create_fake_volume", Action: st.createFakeVolume, Undo: st.createFakeVolumeUndo}},
		{{Name: "replace_snapshot_in_volume", Action: st.replaceSnapshotInVolume, Undo: st.replaceSnapshotInVolumeUndo}},
		{{Name: "notify_upstairs", Action: st.notifyUpstairs}},
		{{Name: "update_request_record", Action: st.updateRequestRecord}},
	}
	return &Saga{Name: "region-snapshot-replacement-step", Stages: stages, Inject: NoInject}
}

// rsrss_set_saga_id (step): S1 Requested → Running (op not checked).
func (st *rsrStep) setSagaID(x *NodeCtx) error {
	x.Step(opSetStepRunning)
	err := x.DB.SetStepRunning(st.step.ID, st.sagaID)
	note(x.Ctx, err, st.step.ID, st.sagaID)
	return err
}

// rsrss_set_saga_id_undo (step): S1u Running → Requested.
func (st *rsrStep) setSagaIDUndo(x *NodeCtx) error {
	x.Step(opUndoStepRunning)
	err := x.DB.UndoSetStepRunning(st.step.ID, st.sagaID)
	note(x.Ctx, err, st.step.ID, st.sagaID)
	return err
}

// rsrss_create_replace_params: get the request ‖ region_snapshot_get(A)
// (fail if gone) ‖ new_region_id must be set ‖ region_addr(N).
func (st *rsrStep) createReplaceParams(x *NodeCtx) error {
	x.Step(opGetRSRByID)
	q, err := x.DB.RSRequestByID(st.step.RequestID)
	note(x.Ctx, err, st.step.RequestID, UUID(0))
	if err != nil {
		return err
	}
	x.Step(opRegionSnapshotGet)
	rs, ok := x.DB.RegionSnapshotGet(q.Old)
	if !ok {
		x.Result(outNone, uint32(q.Old.RegionID), 0)
		return errRSDeleted
	}
	if q.NewRegionID == 0 {
		return errNoNewRegionID
	}
	x.Step(opRegionAddr) // may write the port back: not a read-only step
	addr, err := x.W.RegionAddr(x.Ctx, q.NewRegionID)
	note(x.Ctx, err, q.NewRegionID, UUID(0))
	if err != nil {
		return err
	}
	st.oldAddr, st.newAddr = rs.Addr, addr
	return nil
}

// rssrs_create_fake_volume: blank stash volume T'.
func (st *rsrStep) createFakeVolume(x *NodeCtx) error {
	x.Step(opVolumeCreate)
	err := x.DB.VolumeCreate(st.stashID, SingleRegionVCR(st.stashID, x.DB.NewUUID(), nil, true))
	note(x.Ctx, err, st.stashID, UUID(0))
	return err
}

// rssrs_create_fake_volume_undo: volume_hard_delete(T').
func (st *rsrStep) createFakeVolumeUndo(x *NodeCtx) error {
	x.Step(opVolumeHardDelete)
	x.DB.VolumeHardDelete(st.stashID)
	x.Result(sim.OutOK, uint32(st.stashID), 0)
	return nil
}

// rsrss_replace_snapshot_in_volume: volume_replace_snapshot(V, A → N, T');
// every result is accepted and becomes the node's output.
func (st *rsrStep) replaceSnapshotInVolume(x *NodeCtx) error {
	x.Step(opReplaceSnapshot)
	res, err := x.DB.VolumeReplaceSnapshot(st.step.VolumeID, st.oldAddr, st.newAddr, st.stashID)
	x.Result(replaceOutcome(res, err), uint32(st.step.VolumeID), uint32(st.stashID))
	if err != nil {
		return err
	}
	st.result = res
	return nil
}

// rsrss_replace_snapshot_in_volume_undo: the same call with A and N
// swapped; any result is accepted.
func (st *rsrStep) replaceSnapshotInVolumeUndo(x *NodeCtx) error {
	x.Step(opReplaceSnapshotUndo)
	res, err := x.DB.VolumeReplaceSnapshot(st.step.VolumeID, st.newAddr, st.oldAddr, st.stashID)
	x.Result(replaceOutcome(res, err), uint32(st.step.VolumeID), uint32(st.stashID))
	return err
}

// rsrss_notify_upstairs: skipped when the replace node saw a deleted volume
// (new at this commit; switch #5 restores the attempt). Otherwise: the disk
// for the volume (deleted disks included); if it is attached to an instance
// with an active VMM, send the new VCR to Propolis, which may fail.
func (st *rsrStep) notifyUpstairs(x *NodeCtx) error {
	deleted := st.result == ReplaceExistingVolumeSoftDeleted || st.result == ReplaceExistingVolumeHardDeleted
	if deleted && !x.DB.Cfg.Switches.NotifyDeletedVolume {
		return nil
	}
	x.W.emit(Event{Kind: EvNotifyAttempt, Volume: st.step.VolumeID, Step: st.step.ID, ReplaceResultDeleted: deleted, Saga: x.Saga})
	x.Step(opDiskForVolume)
	d := x.DB.DiskForVolumeID(st.step.VolumeID)
	if d == nil || d.AttachInstanceID == 0 {
		x.Result(outNone, uint32(st.step.VolumeID), 0)
		return nil
	}
	x.Step(opNotifyUpstairs)
	if x.W.FaultNotify(x) {
		x.Result(outErr, uint32(st.step.VolumeID), 0)
		return errNotifyFailed
	}
	x.Result(sim.OutOK, uint32(st.step.VolumeID), 0)
	return nil
}

// rsrss_update_request_record (step): S2 Running → Complete, releasing the
// step's lock, recording T'.
func (st *rsrStep) updateRequestRecord(x *NodeCtx) error {
	x.Step(opSetStepComplete)
	err := x.DB.SetStepComplete(st.step.ID, st.sagaID, st.stashID)
	note(x.Ctx, err, st.step.ID, st.stashID)
	return err
}

// ---------------------------------------------------------------------------
// region-snapshot-replacement-step-garbage-collect
// (nexus/src/app/sagas/region_snapshot_replacement_step_garbage_collect.rs)

// NewStepGCSaga builds the step garbage-collect saga for step s: no lock
// node, the volume-delete subsaga on T', then S3 Complete → VolumeDeleted.
func (w *World) NewStepGCSaga(s RSRStep) *Saga {
	stages := [][]Node{
		{{Name: "params_for_volume_delete_subsaga", Kind: NodePure, Action: nopNode}},
	}
	stages = append(stages, w.VolumeDeleteSubsaga("volume_delete_subsaga_no_result", s.OldSnapshotVolumeID)...)
	stages = append(stages, []Node{{Name: "update_request_record", Action: func(x *NodeCtx) error {
		// srsgs_update_request_record
		x.Step(opSetStepVolumeDeleted)
		err := x.DB.SetStepVolumeDeleted(s.ID)
		note(x.Ctx, err, s.ID, UUID(0))
		return err
	}}})
	return &Saga{Name: "region-snapshot-replacement-step-garbage-collect", Stages: stages, Inject: NoInject}
}

// ---------------------------------------------------------------------------
// region-snapshot-replacement-finish (new at 09b150f177)
// (nexus/src/app/sagas/region_snapshot_replacement_finish.rs)

type rsrFinish struct {
	req    RSRequest
	sagaID UUID
}

// NewRSRFinishSaga builds the finish saga for request q. The volume-delete
// subsaga on NRV is present only if q (as read by the task) has
// new_region_volume_id set.
func (w *World) NewRSRFinishSaga(q RSRequest) *Saga {
	st := &rsrFinish{req: q}
	stages := [][]Node{
		{{Name: "saga_id", Kind: NodePure, Action: genID(&st.sagaID)}},
		{{Name: "set_saga_id", Action: st.setSagaID, Undo: st.setSagaIDUndo}},
	}
	if q.NewRegionVolumeID != 0 {
		stages = append(stages, []Node{{Name: "params_for_volume_delete_subsaga", Kind: NodePure, Action: nopNode}})
		stages = append(stages, w.VolumeDeleteSubsaga("volume_delete_subsaga_no_result", q.NewRegionVolumeID)...)
	}
	stages = append(stages, []Node{{Name: "update_request_record", Action: st.updateRequestRecord}})
	return &Saga{Name: "region-snapshot-replacement-finish", Stages: stages, Inject: NoInject}
}

// rsrfs_set_saga_id: Running → Completing.
func (st *rsrFinish) setSagaID(x *NodeCtx) error {
	x.Step(opSetRSRCompleting)
	err := x.DB.SetRSRCompleting(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// rsrfs_set_saga_id_undo: Completing → Running.
func (st *rsrFinish) setSagaIDUndo(x *NodeCtx) error {
	x.Step(opUndoRSRCompleting)
	err := x.DB.UndoSetRSRCompleting(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// rsrfs_update_request_record: Completing → Complete and release the
// request's lock, one transaction.
func (st *rsrFinish) updateRequestRecord(x *NodeCtx) error {
	x.Step(opSetRSRComplete)
	err := x.DB.SetRSRComplete(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}
