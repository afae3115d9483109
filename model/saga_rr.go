package model

import "github.com/oxide-sim/rsrsim/sim"

// Read/write region replacement (spec 50 §6): the region_replacement and
// region_replacement_driver tasks, the region-replacement-start, -drive and
// -finish sagas, and the operator's manual request paths (spec 50 §4). RR
// matters to RSR mostly through the volume repair lock it holds.

var (
	opFindRWOnExpunged    = sim.RegisterReadOp("find_read_write_regions_on_expunged_physical_disks")
	opLookupRRByOld       = sim.RegisterReadOp("lookup_region_replacement_request_by_old_region_id")
	opCreateRR            = sim.RegisterOp("insert_region_replacement_request")
	opRequestedRRPage     = sim.RegisterReadOp("get_requested_region_replacements (page)")
	opRRCompleteFromReq   = sim.RegisterOp("set_region_replacement_complete_from_requested")
	opSagaStartRRStart    = sim.RegisterReadOp("saga_start region-replacement-start")
	opRunningRR           = sim.RegisterReadOp("get_running_region_replacements")
	opRRHasFinishNotif    = sim.RegisterReadOp("request_has_matching_successful_finish_notification")
	opMarkRRDone          = sim.RegisterOp("mark_region_replacement_as_done")
	opSagaStartRRDrive    = sim.RegisterReadOp("saga_start region-replacement-drive")
	opDoneRR              = sim.RegisterReadOp("get_done_region_replacements")
	opSagaStartRRFinish   = sim.RegisterReadOp("saga_start region-replacement-finish")
	opSetRRAllocating     = sim.RegisterOp("set_region_replacement_allocating")
	opUndoRRAllocating    = sim.RegisterOp("undo_set_region_replacement_allocating")
	opReplaceRegion       = sim.RegisterOp("volume_replace_region")
	opReplaceRegionUndo   = sim.RegisterOp("volume_replace_region (undo)")
	opSetRRRunning        = sim.RegisterOp("set_region_replacement_running")
	opSetRRDriving        = sim.RegisterOp("set_region_replacement_driving")
	opUndoRRDriving       = sim.RegisterOp("undo_set_region_replacement_driving")
	opRRDriveDone         = sim.RegisterOp("set_region_replacement_from_driving_to_done")
	opDriveUpstairs       = sim.RegisterOp("drive: pantry/propolis repair round")
	opSetRRCompleting     = sim.RegisterOp("set_region_replacement_completing")
	opUndoRRCompleting    = sim.RegisterOp("undo_set_region_replacement_completing")
	opSetRRComplete       = sim.RegisterOp("set_region_replacement_complete")
	opManualRSRGet        = sim.RegisterReadOp("omdb: region_snapshot_get")
	opManualSnapshotGet   = sim.RegisterReadOp("omdb: snapshot by id")
	opManualInsertRSR     = sim.RegisterOp("omdb: insert_region_snapshot_replacement_request_with_volume_id")
	opManualGetRegion     = sim.RegisterReadOp("omdb: get_region")
	opManualCreateRR      = sim.RegisterOp("omdb: create_region_replacement_request_for_region")
	opPhysicalDiskExpunge = sim.RegisterOp("physical_disk_expunge")

	errRRStartReadOnly = &SagaError{Msg: "replacing read-only region currently unsupported"}
	errRRVolumeDeleted = &Error{Class: ErrConflict, Msg: "existing volume deleted"}
	errRRNoPort        = &SagaError{Msg: "old region has no recorded address"}
	errDriveFailed     = &SagaError{Msg: "drive round failed"}
)

// taskRR is one activation of region_replacement
// (RegionReplacementDetector::activate,
// nexus/src/app/background/tasks/region_replacement.rs).
func (w *World) taskRR(c *sim.Ctx, st *TaskStatus) {
	db := w.DB
	c.Step(opFindRWOnExpunged) // 1
	regs := db.FindRWRegionsOnExpungedDisks(nil)
	for _, r := range regs {
		c.Step(opLookupRRByOld) // 2
		if _, found := db.LookupRRByOldRegion(r.ID); found {
			c.Result(outFound, uint32(r.ID), 0)
			continue
		}
		c.Step(opCreateRR) // 3
		id, err := db.CreateRRequestForRegion(r)
		note(c, err, id, r.VolumeID)
		switch {
		case err == nil:
			st.Counts[StRRRequestsCreatedOK]++
		case IsRepairLockConflict(err):
		default:
			st.push(err)
		}
	}
	var reqs []RRequest
	var after UUID
	for {
		c.Step(opRequestedRRPage) // 4
		n := len(reqs)
		var more bool
		reqs, more = db.RequestedRRequestsPage(reqs, after)
		if len(reqs) > n {
			after = reqs[len(reqs)-1].ID
		}
		if !more {
			break
		}
	}
	for _, q := range reqs {
		c.Step(opVolumeDeleted) // 5
		if db.VolumeDeleted(q.VolumeID) {
			c.Step(opRRCompleteFromReq) // 6
			err := db.SetRRCompleteFromRequested(q)
			note(c, err, q.ID, UUID(0))
			if err != nil {
				st.push(err)
			} else {
				st.Counts[StRRRequestsCompletedOK]++
			}
			continue
		}
		c.Step(opSagaStartRRStart) // 7
		s := w.StartSaga(c, w.NewRRStartSaga(q))
		c.Result(sim.OutOK, uint32(q.ID), uint32(s.ID))
		st.Counts[StRRStartInvokedOK]++
	}
}

// taskRRDriver is one activation of region_replacement_driver
// (RegionReplacementDriver::activate).
func (w *World) taskRRDriver(c *sim.Ctx, st *TaskStatus) {
	db := w.DB
	c.Step(opRunningRR) // A
	running := db.RunningRRequests(nil)
	for _, q := range running {
		c.Step(opRRHasFinishNotif) // B1
		if db.HasRepairFinishNotification(q.NewRegionID) {
			c.Step(opMarkRRDone) // B2 (success not recorded in the status)
			err := db.MarkRRAsDone(q.ID)
			note(c, err, q.ID, UUID(0))
			if err != nil {
				st.push(err)
			}
			continue
		}
		c.Step(opSagaStartRRDrive) // B3
		s := w.StartSaga(c, w.NewRRDriveSaga(q))
		c.Result(sim.OutOK, uint32(q.ID), uint32(s.ID))
		st.Counts[StDriveInvokedOK]++
	}
	c.Step(opDoneRR) // C
	done := db.DoneRRequests(nil)
	for _, q := range done {
		if q.OldRegionVolumeID == 0 {
			st.push(&Error{Class: ErrInternal, Msg: "region replacement has no old_region_volume_id"})
			continue
		}
		c.Step(opSagaStartRRFinish) // D
		s := w.StartSaga(c, w.NewRRFinishSaga(q))
		c.Result(sim.OutOK, uint32(q.ID), uint32(s.ID))
		st.Counts[StRRFinishInvokedOK]++
	}
}

// ---------------------------------------------------------------------------
// region-replacement-start (nexus/src/app/sagas/region_replacement_start.rs)

type rrStart struct {
	req      RRequest
	sagaID   UUID
	tvID     UUID
	existing []Region
	alloc    []Region
	newReg   Region
	newAddr  Addr
	oldAddr  Addr
	vol      UUID
}

// NewRRStartSaga builds region-replacement-start for request q.
func (w *World) NewRRStartSaga(q RRequest) *Saga {
	st := &rrStart{req: q}
	stages := seq(
		Node{Name: "saga_id", Kind: NodePure, Action: genID(&st.sagaID)},
		Node{Name: "new_volume_id", Kind: NodePure, Action: genID(&st.tvID)},
		Node{Name: "set_saga_id", Action: st.setSagaID, Undo: st.setSagaIDUndo},
		Node{Name: "existing_datasets_and_regions", Action: st.getExisting},
		Node{Name: "new_datasets_and_regions", Action: st.allocNewRegion, Undo: st.allocNewRegionUndo},
		Node{Name: "new_dataset_and_region", Kind: NodePure, Action: st.findNewRegion},
		Node{Name: "ensured_dataset_and_region", Action: st.newRegionEnsure, Undo: st.newRegionEnsureUndo},
		Node{Name: "old_region_address", Action: st.getOldRegionAddress},
		Node{Name: "old_region_volume_id", Action: st.getOldRegionVolumeID},
		Node{Name: "replace_region_in_volume", Action: st.replaceRegion, Undo: st.replaceRegionUndo},
		Node{Name: "create_fake_volume", Action: st.createFakeVolume, Undo: st.createFakeVolumeUndo},
		Node{Name: "update_request_record", Action: st.updateRequestRecord},
	)
	return &Saga{Name: "region-replacement-start", Stages: stages, Inject: NoInject}
}

// srrs_set_saga_id: Requested → Allocating.
func (st *rrStart) setSagaID(x *NodeCtx) error {
	x.Step(opSetRRAllocating)
	err := x.DB.SetRRAllocating(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// srrs_set_saga_id_undo: Allocating → Requested.
func (st *rrStart) setSagaIDUndo(x *NodeCtx) error {
	x.Step(opUndoRRAllocating)
	err := x.DB.UndoSetRRAllocating(st.req.ID, st.sagaID)
	note(x.Ctx, err, st.req.ID, st.sagaID)
	return err
}

// srrs_get_existing_datasets_and_regions: get_region(old) (absent or
// read-only → fail) ‖ get_allocated_regions(old.volume_id).
func (st *rrStart) getExisting(x *NodeCtx) error {
	x.Step(opGetRegion)
	old, err := x.DB.GetRegion(st.req.OldRegionID)
	note(x.Ctx, err, st.req.OldRegionID, UUID(0))
	if err != nil {
		return err
	}
	if old.ReadOnly {
		return errRRStartReadOnly
	}
	x.Step(opGetAllocatedRegions)
	st.existing = x.DB.GetAllocatedRegions(st.existing[:0], old.VolumeID)
	x.Result(sim.OutOK, uint32(old.VolumeID), uint32(len(st.existing)))
	return nil
}

// srrs_alloc_new_region: get_region(old) ‖ allocate n = 4 regions for the
// old region's current owner.
func (st *rrStart) allocNewRegion(x *NodeCtx) error {
	x.Step(opGetRegion)
	old, err := x.DB.GetRegion(st.req.OldRegionID)
	note(x.Ctx, err, st.req.OldRegionID, UUID(0))
	if err != nil {
		return err
	}
	x.Step(opRegionAllocate)
	regs, err := x.DB.RegionAllocate(old.VolumeID, 0, AllocRandomDistinctSleds, 4)
	note(x.Ctx, err, old.VolumeID, UUID(len(regs)))
	if err != nil {
		return err
	}
	st.alloc = regs
	if r, ok := onlyNewRegion(st.existing, regs); ok && !contains(x.Saga.Claims, r.ID) {
		x.Saga.Claims = append(x.Saga.Claims, r.ID)
	}
	return nil
}

// srrs_alloc_new_region_undo: hard-delete the one new region, if exactly one.
func (st *rrStart) allocNewRegionUndo(x *NodeCtx) error {
	r, ok := onlyNewRegion(st.existing, st.alloc)
	if !ok {
		return nil
	}
	x.Step(opRegionsHardDelete)
	err := x.DB.RegionsHardDelete([]UUID{r.ID})
	note(x.Ctx, err, r.ID, UUID(0))
	return err
}

// srrs_find_new_region: exactly one new region.
func (st *rrStart) findNewRegion(x *NodeCtx) error {
	r, ok := onlyNewRegion(st.existing, st.alloc)
	if !ok {
		return errNoNewRegion
	}
	st.newReg = r
	return nil
}

// srrs_new_region_ensure: agent ensure ‖ region_set_port. Its undo (agent
// delete) belongs to the same node.
func (st *rrStart) newRegionEnsure(x *NodeCtx) error {
	addrs, err := ensureRegions(x, []Region{st.newReg})
	if err != nil {
		return err
	}
	st.newAddr = addrs[0]
	return nil
}

// srrs_new_region_ensure_undo: delete_crucible_regions of the new region.
func (st *rrStart) newRegionEnsureUndo(x *NodeCtx) error {
	return deleteRegionsOnAgents(x, []Region{st.newReg})
}

// srrs_get_old_region_address: Nexus::region_addr(old). The model answers
// from the database (the port is recorded for every region that was
// ensured); a region with no port fails.
func (st *rrStart) getOldRegionAddress(x *NodeCtx) error {
	x.Step(opGetRegion)
	a, ok, err := x.DB.RegionAddr(st.req.OldRegionID)
	note(x.Ctx, err, st.req.OldRegionID, UUID(0))
	if err != nil {
		return err
	}
	if !ok {
		return errRRNoPort
	}
	st.oldAddr = a
	return nil
}

// srrs_get_old_region_volume_id: get_region(old).volume_id.
func (st *rrStart) getOldRegionVolumeID(x *NodeCtx) error {
	x.Step(opGetRegion)
	old, err := x.DB.GetRegion(st.req.OldRegionID)
	note(x.Ctx, err, st.req.OldRegionID, UUID(0))
	if err != nil {
		return err
	}
	st.vol = old.VolumeID
	return nil
}

// srrs_replace_region_in_volume: get_region(old) ‖ volume_replace_region.
// Done or AlreadyHappened continue; a deleted volume fails the node.
func (st *rrStart) replaceRegion(x *NodeCtx) error {
	x.Step(opGetRegion)
	if _, err := x.DB.GetRegion(st.req.OldRegionID); err != nil {
		x.Result(outErr, uint32(st.req.OldRegionID), 0)
		return err
	}
	// From here on the old region may be owned by TV before TV's row
	// exists (node 9): claim it for the orphaned-region oracle.
	if !contains(x.Saga.Claims, st.req.OldRegionID) {
		x.Saga.Claims = append(x.Saga.Claims, st.req.OldRegionID)
	}
	x.Step(opReplaceRegion)
	res, err := x.DB.VolumeReplaceRegion(
		VolumeReplacementParams{VolumeID: st.vol, RegionID: st.req.OldRegionID, RegionAddr: st.oldAddr},
		VolumeReplacementParams{VolumeID: st.tvID, RegionID: st.newReg.ID, RegionAddr: st.newAddr})
	x.Result(replaceOutcome(res, err), uint32(st.vol), uint32(st.newReg.ID))
	if err != nil {
		return err
	}
	if res == ReplaceExistingVolumeSoftDeleted || res == ReplaceExistingVolumeHardDeleted {
		return errRRVolumeDeleted
	}
	return nil
}

// srrs_replace_region_in_volume_undo: get_region(old region) first (its
// error fails the undo: the old region may be gone once the request moved
// on, see F28), then the swap back; any replacement result accepted.
func (st *rrStart) replaceRegionUndo(x *NodeCtx) error {
	x.Step(opGetRegion)
	if _, err := x.DB.GetRegion(st.req.OldRegionID); err != nil {
		x.Result(outErr, uint32(st.req.OldRegionID), 0)
		return err
	}
	x.Step(opReplaceRegionUndo)
	res, err := x.DB.VolumeReplaceRegion(
		VolumeReplacementParams{VolumeID: st.vol, RegionID: st.newReg.ID, RegionAddr: st.newAddr},
		VolumeReplacementParams{VolumeID: st.tvID, RegionID: st.req.OldRegionID, RegionAddr: st.oldAddr})
	x.Result(replaceOutcome(res, err), uint32(st.vol), uint32(st.newReg.ID))
	return err
}

// srrs_create_fake_volume: TV with the old region as its read/write target.
func (st *rrStart) createFakeVolume(x *NodeCtx) error {
	x.Step(opVolumeCreate)
	err := x.DB.VolumeCreate(st.tvID, SingleRegionVCR(st.tvID, x.DB.NewUUID(), []Addr{st.oldAddr}, false))
	note(x.Ctx, err, st.tvID, UUID(0))
	return err
}

// srrs_create_fake_volume_undo: volume_hard_delete of the fake volume TV.
func (st *rrStart) createFakeVolumeUndo(x *NodeCtx) error {
	x.Step(opVolumeHardDelete)
	x.DB.VolumeHardDelete(st.tvID)
	x.Result(sim.OutOK, uint32(st.tvID), 0)
	return nil
}

// srrs_update_request_record: Allocating → Running with R_new and TV.
func (st *rrStart) updateRequestRecord(x *NodeCtx) error {
	x.Step(opSetRRRunning)
	err := x.DB.SetRRRunning(st.req.ID, st.sagaID, st.newReg.ID, st.tvID)
	note(x.Ctx, err, st.req.ID, st.newReg.ID)
	return err
}

// ---------------------------------------------------------------------------
// region-replacement-drive (one drive round, abstracted as spec 50 §6.6
// proposes: Pantry/Propolis work becomes a seeded outcome).

type driveOutcome uint8

const (
	driveDone driveOutcome = iota
	driveNotDone
	driveFail
	driveNotified // the Upstairs reports the repair finished; the driver marks it done later
)

type rrDrive struct {
	req     RRequest
	sagaID  UUID
	outcome driveOutcome
}

// NewRRDriveSaga builds one drive round for request q.
func (w *World) NewRRDriveSaga(q RRequest) *Saga {
	st := &rrDrive{req: q}
	stages := [][]Node{
		{{Name: "saga_id", Kind: NodePure, Action: genID(&st.sagaID)}},
		// srrd_set_saga_id / srrd_set_saga_id_undo
		{{Name: "set_saga_id", Action: func(x *NodeCtx) error {
			x.Step(opSetRRDriving)
			err := x.DB.SetRRDriving(q.ID, st.sagaID)
			note(x.Ctx, err, q.ID, st.sagaID)
			return err
		}, Undo: func(x *NodeCtx) error {
			x.Step(opUndoRRDriving)
			err := x.DB.UndoSetRRDriving(q.ID, st.sagaID)
			note(x.Ctx, err, q.ID, st.sagaID)
			return err
		}}},
		// srrd_drive_region_replacement_check, _prepare and _execute,
		// abstracted to one seeded round (docs/fidelity.md §1 item 6)
		{{Name: "drive_check_prepare_execute", Action: func(x *NodeCtx) error {
			x.Step(opVolumeDeleted)
			if x.DB.VolumeDeleted(q.VolumeID) {
				x.Result(outDeleted, uint32(q.VolumeID), 0)
				st.outcome = driveDone
				return nil
			}
			x.Step(opDriveUpstairs)
			st.outcome = driveOutcome(x.Choose(sim.KValue, 4))
			x.Result(sim.OutOK, uint32(q.ID), uint32(st.outcome))
			switch st.outcome {
			case driveFail:
				return errDriveFailed
			case driveNotified:
				x.DB.AddRepairFinishNotification(q.NewRegionID)
			}
			return nil
		}}},
		// srrd_finish_saga: Driving → ReplacementDone, or back to Running
		{{Name: "finish_saga", Action: func(x *NodeCtx) error {
			if st.outcome == driveDone {
				x.Step(opRRDriveDone)
				err := x.DB.SetRRFromDrivingToDone(q.ID, st.sagaID)
				note(x.Ctx, err, q.ID, UUID(0))
				return err
			}
			x.Step(opUndoRRDriving)
			err := x.DB.UndoSetRRDriving(q.ID, st.sagaID)
			note(x.Ctx, err, q.ID, UUID(0))
			return err
		}}},
	}
	return &Saga{Name: "region-replacement-drive", Stages: stages, Inject: NoInject}
}

// ---------------------------------------------------------------------------
// region-replacement-finish (nexus/src/app/sagas/region_replacement_finish.rs)

// NewRRFinishSaga builds region-replacement-finish for request q: the
// volume-delete subsaga on TV, then Completing → Complete with the lock
// released.
func (w *World) NewRRFinishSaga(q RRequest) *Saga {
	var sagaID UUID
	stages := [][]Node{
		{{Name: "saga_id", Kind: NodePure, Action: genID(&sagaID)}},
		// srrf_set_saga_id / srrf_set_saga_id_undo
		{{Name: "set_saga_id", Action: func(x *NodeCtx) error {
			x.Step(opSetRRCompleting)
			err := x.DB.SetRRCompleting(q.ID, sagaID)
			note(x.Ctx, err, q.ID, sagaID)
			return err
		}, Undo: func(x *NodeCtx) error {
			x.Step(opUndoRRCompleting)
			err := x.DB.UndoSetRRCompleting(q.ID, sagaID)
			note(x.Ctx, err, q.ID, sagaID)
			return err
		}}},
		{{Name: "params_for_volume_delete_subsaga", Kind: NodePure, Action: nopNode}},
	}
	stages = append(stages, w.VolumeDeleteSubsaga("volume_delete_subsaga_no_result", q.OldRegionVolumeID)...)
	// srrf_update_request_record: set_region_replacement_complete
	stages = append(stages, []Node{{Name: "update_request_record", Action: func(x *NodeCtx) error {
		x.Step(opSetRRComplete)
		err := x.DB.SetRRComplete(q.ID, sagaID)
		note(x.Ctx, err, q.ID, UUID(0))
		return err
	}}})
	return &Saga{Name: "region-replacement-finish", Stages: stages, Inject: NoInject}
}

// ---------------------------------------------------------------------------
// Operator paths (omdb, dev-tools/omdb/src/bin/omdb/db.rs; spec 50 §4)

// ManualRSRRequest is `omdb -w db region-snapshot-replacement request`:
// region_snapshot_get (must exist; deleting accepted) ‖ the snapshot row by
// id (soft-deleted included) ‖ the lock-and-insert transaction. No check of
// expungement nor of an existing request.
func (w *World) ManualRSRRequest(c *sim.Ctx, k RSKey) error {
	db := w.DB
	c.Step(opManualRSRGet)
	if _, ok := db.RegionSnapshotGet(k); !ok {
		c.Result(outNone, uint32(k.RegionID), 0)
		return &Error{Class: ErrInvalidRequest, Msg: "region snapshot not found!"}
	}
	c.Step(opManualSnapshotGet)
	s, ok := db.SnapshotGet(k.SnapshotID)
	if !ok {
		c.Result(outNone, uint32(k.SnapshotID), 0)
		return errObjectMissing
	}
	req := db.NewRSRequest(k)
	c.Step(opManualInsertRSR)
	err := db.InsertRSRequestWithVolumeID(req, s.VolumeID)
	note(c, err, req.ID, s.VolumeID)
	return err
}

// ManualRRRequest is `omdb -w db region-replacement request`: get_region ‖
// create_region_replacement_request_for_region (read-only → InvalidRequest).
func (w *World) ManualRRRequest(c *sim.Ctx, region UUID) error {
	db := w.DB
	c.Step(opManualGetRegion)
	r, err := db.GetRegion(region)
	note(c, err, region, UUID(0))
	if err != nil {
		return err
	}
	c.Step(opManualCreateRR)
	id, err := db.CreateRRequestForRegion(r)
	note(c, err, id, r.VolumeID)
	return err
}

// ExpungePhysicalDisk is the operator's physical_disk_expunge: one write.
func (w *World) ExpungePhysicalDisk(c *sim.Ctx, pd UUID) error {
	c.Step(opPhysicalDiskExpunge)
	err := w.DB.PhysicalDiskExpunge(pd)
	note(c, err, pd, UUID(0))
	return err
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
