package model

import (
	"github.com/oxide-sim/rsrsim/sim"
)

// The four region snapshot replacement background tasks, one activation
// each (spec 30 §A.4–§A.7). Every DB call is one atomic step, preceded by
// c.Step.

var (
	opFindRSOnExpunged     = sim.RegisterReadOp("find_region_snapshots_on_expunged_physical_disks")
	opLookupRSR            = sim.RegisterReadOp("lookup_region_snapshot_replacement_request")
	opSnapshotGet          = sim.RegisterReadOp("snapshot_get")
	opInsertRSR            = sim.RegisterOp("insert_region_snapshot_replacement_request_with_volume_id")
	opGetRequestedRSR      = sim.RegisterReadOp("get_requested_region_snapshot_replacements")
	opRegionSnapshotGet    = sim.RegisterReadOp("region_snapshot_get")
	opRSRCompleteFromReq   = sim.RegisterOp("set_region_snapshot_replacement_complete_from_requested")
	opSagaStartRSRStart    = sim.RegisterReadOp("saga_start region-snapshot-replacement-start")
	opGetReplDoneRSR       = sim.RegisterReadOp("get_replacement_done_region_snapshot_replacements")
	opSagaStartRSRGC       = sim.RegisterReadOp("saga_start region-snapshot-replacement-garbage-collect")
	opStepsRequiringGC     = sim.RegisterReadOp("region_snapshot_replacement_steps_requiring_garbage_collection")
	opSagaStartStepGC      = sim.RegisterReadOp("saga_start region-snapshot-replacement-step-garbage-collect")
	opGetRunningRSR        = sim.RegisterReadOp("get_running_region_snapshot_replacements")
	opFindVolumesPage      = sim.RegisterReadOp("find_volumes_referencing_socket_addr (page)")
	opCreateStep           = sim.RegisterOp("insert_region_snapshot_replacement_step")
	opRequestedStepsPage   = sim.RegisterReadOp("get_requested_region_snapshot_replacement_steps (page)")
	opVolumeDeleted        = sim.RegisterReadOp("volume_deleted")
	opStepVolDeletedFromRq = sim.RegisterOp("set_region_snapshot_replacement_step_volume_deleted_from_requested")
	opSagaStartStep        = sim.RegisterReadOp("saga_start region-snapshot-replacement-step")
	opInProgressSteps      = sim.RegisterReadOp("in_progress_region_snapshot_replacement_steps")
	opSagaStartFinish      = sim.RegisterReadOp("saga_start region-snapshot-replacement-finish")
	opRSRCompletePreFix    = sim.RegisterOp("set_region_snapshot_replacement_complete (pre-fix finish task)")

	outErr      = sim.RegisterOutcome("error")
	outConflict = sim.RegisterOutcome("conflict")
	outLockBusy = sim.RegisterOutcome("lock conflict (ignored)")
	outNone     = sim.RegisterOutcome("none")
	outFound    = sim.RegisterOutcome("found")
	outSkipped  = sim.RegisterOutcome("skipped")
	outHandled  = sim.RegisterOutcome("already handled")
	outInserted = sim.RegisterOutcome("inserted")
	outDeleted  = sim.RegisterOutcome("deleted")
)

// errOutcome maps a datastore error to a trace outcome.
func errOutcome(err error) sim.Outcome {
	if err == nil {
		return sim.OutOK
	}
	if IsRepairLockConflict(err) {
		return outLockBusy
	}
	if e, ok := err.(*Error); ok && e.Class == ErrConflict {
		return outConflict
	}
	return outErr
}

// taskRSRStart is one activation of region_snapshot_replacement_start
// (RegionSnapshotReplacementDetector::activate,
// nexus/src/app/background/tasks/region_snapshot_replacement_start.rs).
func (w *World) taskRSRStart(c *sim.Ctx, st *TaskStatus) {
	db := w.DB
	// Phase A: create_requests_for_region_snapshots_on_expunged_disks.
	c.Step(opFindRSOnExpunged)
	cands := db.FindRegionSnapshotsOnExpungedDisks(nil)
	for _, rs := range cands {
		c.Step(opLookupRSR) // A2
		if _, found := db.LookupRSRequest(rs.Key); found {
			c.Result(outFound, uint32(rs.Key.RegionID), 0)
			continue
		}
		c.Step(opSnapshotGet) // A3: create_region_snapshot_replacement_request part 1
		vol, err := db.InsertRSRequestSnapshotPart(rs.Key.SnapshotID)
		if err != nil {
			c.Result(outErr, uint32(rs.Key.SnapshotID), 0)
			st.push(err)
			continue
		}
		req := db.NewRSRequest(rs.Key)
		c.Step(opInsertRSR) // A4
		err = db.InsertRSRequestWithVolumeID(req, vol)
		note(c, err, req.ID, vol)
		switch {
		case err == nil:
			st.Counts[StRequestsCreatedOK]++
		case IsRepairLockConflict(err):
			// new at this commit: silently retried next activation
		default:
			st.push(err)
		}
	}

	// Phase B: start_requested_region_snapshot_replacements.
	c.Step(opGetRequestedRSR) // B1
	reqs := db.RequestedRSRequests(nil)
	for _, q := range reqs {
		if !w.DB.Cfg.Switches.NoCompleteFromRequested {
			c.Step(opRegionSnapshotGet) // B2
			_, present := db.RegionSnapshotGet(q.Old)
			if !present {
				c.Result(outNone, uint32(q.ID), 0)
				c.Step(opRSRCompleteFromReq) // B3
				err := db.SetRSRCompleteFromRequested(q.ID)
				note(c, err, q.ID, UUID(0))
				if err != nil {
					st.push(err)
				} else {
					st.Counts[StRequestsCompletedOK]++
				}
				continue
			}
		}
		c.Step(opSagaStartRSRStart) // B4
		s := w.StartSaga(c, w.NewRSRStartSaga(q))
		c.Result(sim.OutOK, uint32(q.ID), uint32(s.ID))
		st.Counts[StStartInvokedOK]++
	}
}

// taskRSRGC is one activation of region_snapshot_replacement_garbage_collection
// (RegionSnapshotReplacementGarbageCollect::activate).
func (w *World) taskRSRGC(c *sim.Ctx, st *TaskStatus) {
	c.Step(opGetReplDoneRSR) // G1
	reqs := w.DB.ReplacementDoneRSRequests(nil)
	for _, q := range reqs {
		if q.OldSnapshotVolumeID == 0 { // G2
			st.push(&Error{Class: ErrInternal, Msg: "request has no old_snapshot_volume_id"})
			continue
		}
		c.Step(opSagaStartRSRGC) // G3
		s := w.StartSaga(c, w.NewRSRGCSaga(q))
		c.Result(sim.OutOK, uint32(q.ID), uint32(s.ID))
		st.Counts[StGarbageCollectRequested]++
	}
}

// taskRSRStep is one activation of region_snapshot_replacement_step
// (RegionSnapshotReplacementFindAffected::activate): clean up, create steps,
// invoke step sagas, in that order.
func (w *World) taskRSRStep(c *sim.Ctx, st *TaskStatus) {
	db := w.DB
	sw := &db.Cfg.Switches

	// Phase 1: clean_up_region_snapshot_replacement_step_volumes.
	c.Step(opStepsRequiringGC) // P1.1
	done := db.StepsRequiringGC(nil)
	for _, s := range done {
		if s.OldSnapshotVolumeID == 0 { // P1.2
			st.push(&Error{Class: ErrInternal, Msg: "step has no old_snapshot_volume_id"})
			continue
		}
		c.Step(opSagaStartStepGC) // P1.3 (no lock node: duplicates expected)
		sg := w.StartSaga(c, w.NewStepGCSaga(s))
		c.Result(sim.OutOK, uint32(s.ID), uint32(sg.ID))
		st.Counts[StStepGarbageCollectInvokedOK]++
	}

	// Phase 2: create_step_records_for_affected_volumes.
	c.Step(opGetRunningRSR) // P2.1
	running := db.RunningRSRequests(nil)
	var vols []Volume
	for _, q := range running {
		c.Step(opRegionSnapshotGet) // P2.2
		rs, present := db.RegionSnapshotGet(q.Old)
		if !present {
			c.Result(outNone, uint32(q.ID), 0)
			continue
		}
		// P2.3 parse the address: always valid in the model.
		// P2.4 find_volumes_referencing_socket_addr, one step per page.
		vols = vols[:0]
		var after UUID
		var err error
		for {
			c.Step(opFindVolumesPage)
			var more bool
			vols, after, more, err = db.FindVolumesReferencingSocketAddrPage(vols, rs.Addr, after)
			if err != nil || !more {
				break
			}
		}
		if err != nil {
			st.push(err)
			continue
		}
		for i := range vols {
			v := &vols[i]
			if v.SoftDeleted && !sw.StepForSoftDeletedVolume { // P2.5 (new)
				continue
			}
			c.Step(opCreateStep) // P2.6
			res, id, err := db.CreateRSRStep(q.ID, v.ID)
			switch {
			case err == nil && res == StepInserted:
				c.Result(outInserted, uint32(id), uint32(v.ID))
				st.Counts[StStepRecordsCreatedOK]++
				w.emit(Event{Kind: EvStepInserted, Volume: v.ID, Step: id, Request: q.ID,
					ScannedSoftDeleted: v.SoftDeleted, ScannedReferences: vcrReferencesAddrExactly(v.Data, rs.Addr)})
			case err == nil:
				c.Result(outHandled, uint32(id), uint32(v.ID))
			case IsRepairLockConflict(err):
				c.Result(outLockBusy, uint32(v.ID), 0)
			default:
				note(c, err, v.ID, UUID(0))
				st.push(err)
			}
		}
	}

	// Phase 3: invoke_step_saga_for_affected_volumes.
	var steps []RSRStep
	var after UUID
	for {
		c.Step(opRequestedStepsPage) // P3.1
		n := len(steps)
		var more bool
		steps, more = db.RequestedStepsPage(steps, after)
		if len(steps) > n {
			after = steps[len(steps)-1].ID
		}
		if !more {
			break
		}
	}
	for _, s := range steps {
		if !sw.NoStepVolumeDeletedFastPath {
			c.Step(opVolumeDeleted) // P3.2
			if db.VolumeDeleted(s.VolumeID) {
				c.Result(outDeleted, uint32(s.VolumeID), 0)
				c.Step(opStepVolDeletedFromRq) // P3.3 (new)
				err := db.SetStepVolumeDeletedFromRequested(s.ID)
				note(c, err, s.ID, UUID(0))
				if err != nil {
					st.push(err)
				} else {
					st.Counts[StStepSetVolumeDeletedOK]++
				}
				continue
			}
		}
		c.Step(opSagaStartStep) // P3.4
		sg := w.StartSaga(c, w.NewRSRStepSaga(s))
		c.Result(sim.OutOK, uint32(s.ID), uint32(sg.ID))
		st.Counts[StStepInvokedOK]++
	}
}

// taskRSRFinish is one activation of region_snapshot_replacement_finish
// (RegionSnapshotReplacementFinishDetector::activate).
func (w *World) taskRSRFinish(c *sim.Ctx, st *TaskStatus) {
	db := w.DB
	c.Step(opGetRunningRSR) // F1
	running := db.RunningRSRequests(nil)
	for _, q := range running {
		c.Step(opInProgressSteps) // F2
		if n := db.InProgressStepCount(q.ID); n > 0 {
			c.Result(outSkipped, uint32(q.ID), uint32(n))
			continue
		}
		c.Step(opRegionSnapshotGet) // F3
		if _, present := db.RegionSnapshotGet(q.Old); present {
			c.Result(outFound, uint32(q.ID), 0)
			continue
		}
		if db.Cfg.Switches.NoNewRegionVolume {
			// Pre-fix (09b150f177^): the task itself moves Running →
			// Complete and releases the lock, in one transaction.
			c.Step(opRSRCompletePreFix)
			err := db.SetRSRCompletePreFix(q.ID)
			note(c, err, q.ID, UUID(0))
			if err != nil {
				st.push(err)
			} else {
				st.Counts[StFinishInvokedOK]++
			}
			continue
		}
		c.Step(opSagaStartFinish) // F4
		sg := w.StartSaga(c, w.NewRSRFinishSaga(q))
		c.Result(sim.OutOK, uint32(q.ID), uint32(sg.ID))
		st.Counts[StFinishInvokedOK]++
	}
}
