package invariants

import (
	"fmt"

	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// AfterStep is the engine hook: event checks on what the step reported,
// then every state invariant.
//
// State invariants are skipped after a read-only step (sim.RegisterReadOp):
// it changed nothing, so the state it leaves was already checked.
// Checker.Full turns the skip off (a debug mode that proves the shortcut).
func (ck *Checker) AfterStep(r *sim.Run, e *sim.Entry) *sim.Violation {
	if v := ck.CheckEvents(); v != nil {
		return v
	}
	// Saga states matter to lock ownership and region claims, so a step in
	// which a saga ended is checked even if it wrote no row.
	if e.Op.ReadOnly() && !ck.Full && ck.W.SagaEnds == ck.sagaEnds {
		return nil
	}
	ck.sagaEnds = ck.W.SagaEnds
	ck.StateChecks++
	return ck.CheckState()
}

// CheckEvents judges, and drains, the events the acting step reported.
func (ck *Checker) CheckEvents() *sim.Violation {
	w := ck.W
	db := w.DB
	var found *sim.Violation
	for _, n := range db.LockNotes {
		if found == nil && !n.VolumeExisted && ck.on(EvLockMissing) {
			found = violation(EvLockMissing, "", fmt.Sprintf("a repair lock (volume %d, repair %d) was inserted while volume %d has no row", n.Volume, n.Repair, n.Volume))
		}
	}
	db.LockNotes = db.LockNotes[:0]
	for _, ev := range w.TakeEvents() {
		if found != nil {
			continue
		}
		switch ev.Kind {
		case model.EvStepInserted:
			if ev.ScannedSoftDeleted && ck.on(EvStepSoftDel) {
				found = violation(EvStepSoftDel, "", fmt.Sprintf("step %d was inserted for volume %d, which the same activation's scan read as soft-deleted", ev.Step, ev.Volume))
			} else if !ev.ScannedReferences && ck.on(EvStepNoRef) {
				found = violation(EvStepNoRef, "", fmt.Sprintf("step %d was inserted for volume %d, whose scanned VCR does not name the region snapshot address of request %d", ev.Step, ev.Volume, ev.Request))
			}
		case model.EvNotifyAttempt:
			if ev.ReplaceResultDeleted && ck.on(EvNotifyDeleted) {
				found = violation(EvNotifyDeleted, "", fmt.Sprintf("step saga for step %d attempted an Upstairs notification for volume %d after its replace node saw the volume deleted", ev.Step, ev.Volume))
			}
		case model.EvVolumeHardDeleted:
			if !ck.on(EvHardDel) {
				continue
			}
			claimed := ck.claimedRegions()
			for i := range db.Regions {
				r := &db.Regions[i]
				if !r.ReadOnly && r.VolumeID == ev.Volume && !contains(claimed, r.ID) {
					// Shape: was the lingering region one of the volume's
					// own targets (the premature hard delete of spec 40
					// #6), or a region the volume never named (allocated
					// for it by a replacement that did not finish)?
					shape := "region-not-in-vcr"
					if regionInVCR(ck.W.DB, ev.VCR, r) {
						shape = "region-in-vcr"
					}
					found = violation(EvHardDel, shape, fmt.Sprintf("volume %d was hard-deleted by a volume-delete saga while read/write region %d still names it (%s)", ev.Volume, r.ID, shape))
					break
				}
			}
		}
	}
	return found
}

// DrainOutcome is what the quiescence phase hands to CheckQuiescence.
type DrainOutcome struct {
	Converged bool
	Passes    int
	Statuses  []*model.TaskStatus
}

// CheckQuiescence runs the liveness checks after a drain (spec 40 §13,
// spec 30 §C).
func (ck *Checker) CheckQuiescence(d DrainOutcome) *sim.Violation {
	w := ck.W
	db := w.DB
	if ck.on(EndNoStuckSaga) {
		for _, s := range w.Sagas {
			if s.State == model.SagaStuck {
				shape, how := s.Name+"/"+s.StuckNode, ""
				if s.StuckRerun {
					// the mechanism of F6 and kin: a re-run of an undo that
					// had already taken effect, told apart from an undo that
					// fails the first time it takes effect
					shape, how = shape+"/rerun", " (a re-run, after an earlier execution of it had taken effect)"
				}
				return violation(EndNoStuckSaga, shape, fmt.Sprintf("saga %s (%d) is stuck: the undo of node %s failed%s: %v", s.Name, s.ID, s.StuckNode, how, s.UndoErr))
			}
		}
	}
	if ck.on(LiveStep) {
		for i := range db.Steps {
			if s := &db.Steps[i]; s.State != model.StepVolumeDeleted {
				// Shape: is the step's volume deleted (a step the task should
				// have fast-pathed, spec 40 #3) or live (nothing can finish it)?
				vol := "volume-live"
				if db.VolumeDeleted(s.VolumeID) {
					vol = "volume-deleted"
				}
				return violation(LiveStep, s.State.String()+"-"+vol, fmt.Sprintf("step %d (volume %d, %s) is stuck in %s", s.ID, s.VolumeID, vol, s.State))
			}
		}
	}
	if ck.on(LiveRequest) {
		for i := range db.Requests {
			if q := &db.Requests[i]; q.State != model.RSRComplete {
				return violation(LiveRequest, q.State.String(), fmt.Sprintf("request %d for region snapshot %v is stuck in %s", q.ID, q.Old, q.State))
			}
		}
	}
	if ck.on(LiveRR) {
		for i := range db.RRequests {
			if q := &db.RRequests[i]; q.State != model.RRComplete {
				return violation(LiveRR, q.State.String(), fmt.Sprintf("region replacement %d (region %d) is stuck in %s", q.ID, q.OldRegionID, q.State))
			}
		}
	}
	if ck.on(LiveDrainConverges) && !d.Converged {
		return violation(LiveDrainConverges, "", fmt.Sprintf("after %d passes the background tasks still act on every pass (a saga that keeps unwinding, or work that never finishes)", d.Passes))
	}
	if ck.on(EndTaskErrors) {
		for _, st := range d.Statuses {
			if len(st.Errors) > 0 {
				return violation(EndTaskErrors, st.Task.String(), fmt.Sprintf("at the fixpoint, task %s reports %d error(s), first: %s", st.Task, len(st.Errors), st.Errors[0]))
			}
		}
	}
	if ck.on(EndNoLocks) && len(db.Locks) > 0 {
		l := db.Locks[0]
		return violation(EndNoLocks, lockOwnerShape(db, l.RepairID), fmt.Sprintf("%d repair lock(s) remain; first: volume %d held by %d", len(db.Locks), l.VolumeID, l.RepairID))
	}
	if ck.on(EndDiskUsable) {
		// Quiescence: no saga runs, so nothing will ever move the disk out
		// of Maintenance; it can no longer be attached, snapshotted or
		// deleted (the disk APIs refuse Maintenance).
		for i := range db.Disks {
			if d := &db.Disks[i]; !d.Deleted && d.State == model.DiskMaintenance {
				return violation(EndDiskUsable, "maintenance", fmt.Sprintf("disk %d is left in Maintenance with no saga running: it can never be attached, snapshotted or deleted", d.ID))
			}
		}
	}
	if ck.on(EndRelockOK) {
		for i := range db.Disks {
			d := &db.Disks[i]
			if d.Deleted {
				continue
			}
			if db.LockOn(d.VolumeID) != nil {
				return violation(EndRelockOK, "locked", fmt.Sprintf("disk %d's volume %d cannot be locked: it is held by %d", d.ID, d.VolumeID, db.LockOn(d.VolumeID).RepairID))
			}
			if db.Volume(d.VolumeID) == nil {
				return violation(EndRelockOK, "volume-missing", fmt.Sprintf("disk %d's volume %d has no row: a repair lock on it is refused (volume does not exist)", d.ID, d.VolumeID))
			}
		}
	}
	if ck.on(EndCompleteNoRef) {
		for i := range db.Requests {
			q := &db.Requests[i]
			if q.State != model.RSRComplete {
				continue
			}
			if rs, ok := db.RegionSnapshotGet(q.Old); ok {
				return violation(EndCompleteNoRef, "region-snapshot-present", fmt.Sprintf("request %d is Complete but region snapshot %v still exists (deleting=%v)", q.ID, q.Old, rs.Deleting))
			}
			// omicron's finish_test (spec 30 §C.2): no volume names the
			// address. Live volumes here; soft-deleted leftovers are a
			// cleanliness matter, judged by CheckEmpty after everything
			// is deleted (spec 40 §13 caveat 1: a soft-deleted snapshot
			// volume can linger by design).
			// A region snapshot can only be a read-only target, and once
			// its row is gone nothing of it resolves: a read-only target
			// at its address that still resolves is a newer resource that
			// was given the same port (Options.ReusePorts), not a
			// reference to the replaced snapshot.
			if addr, ok := db.RSAddrOf(q.Old); ok {
				for j := range db.Volumes {
					v := &db.Volumes[j]
					if v.SoftDeleted {
						continue
					}
					if ck.namesReplacedRS(v, addr) {
						return violation(EndCompleteNoRef, "volume-names-address-live", fmt.Sprintf("request %d is Complete but live volume %d still names region snapshot %v's address %v", q.ID, v.ID, q.Old, addr))
					}
				}
			}
		}
	}
	if ck.on(EndExpungedHealthy) {
		if v := ck.checkExpungedDependencies(); v != nil {
			return v
		}
	}
	if ck.on(EndRORefcount) {
		for i := range db.Regions {
			r := &db.Regions[i]
			if !r.ReadOnly {
				continue
			}
			n := 0
			for j := range db.Usages {
				if u := &db.Usages[j]; u.Res.Kind == model.UsageReadOnlyRegion && u.Res.RegionID == r.ID {
					n++
				}
			}
			if n == 0 {
				return violation(EndRORefcount, "", fmt.Sprintf("read-only region %d (owner volume %d, deleting=%v) has no usage row: nothing will ever free it", r.ID, r.VolumeID, r.Deleting))
			}
		}
	}
	if ck.on(EndOrphanRW) {
		for i := range db.Regions {
			r := &db.Regions[i]
			if !r.ReadOnly && db.Volume(r.VolumeID) == nil {
				return violation(EndOrphanRW, "", fmt.Sprintf("read/write region %d names volume %d, which has no row", r.ID, r.VolumeID))
			}
		}
	}
	return nil
}

func lockOwnerShape(db *model.DB, repair model.UUID) string {
	switch {
	case db.Request(repair) != nil:
		return "request-" + db.Request(repair).State.String()
	case db.Step(repair) != nil:
		return "step-" + db.Step(repair).State.String()
	case db.RRequest(repair) != nil:
		return "region-replacement-" + db.RRequest(repair).State.String()
	}
	return "saga-lock"
}

// checkExpungedDependencies: a live disk, snapshot or image volume must not
// use storage on an expunged physical disk while the same Region node has a
// member on healthy storage (replacement had something to copy from).
func (ck *Checker) checkExpungedDependencies() *sim.Violation {
	db := ck.W.DB
	users := make([]model.UUID, 0, len(db.Disks)+len(db.Snapshots)+len(db.Images))
	for i := range db.Disks {
		if !db.Disks[i].Deleted {
			users = append(users, db.Disks[i].VolumeID)
		}
	}
	for i := range db.Snapshots {
		if !db.Snapshots[i].Deleted {
			users = append(users, db.Snapshots[i].VolumeID)
		}
	}
	for i := range db.Images {
		if !db.Images[i].Deleted {
			users = append(users, db.Images[i].VolumeID)
		}
	}
	for _, id := range users {
		v := db.Volume(id)
		if v == nil || v.SoftDeleted {
			continue
		}
		if x := ck.expungedInRegionSets(v, v.Data); x != nil {
			return x
		}
	}
	return nil
}

func (ck *Checker) expungedInRegionSets(vol *model.Volume, v *model.VCR) *sim.Violation {
	if v == nil {
		return nil
	}
	if v.Kind == model.VCRRegion {
		db := ck.W.DB
		var bad model.Addr
		nBad, nGood := 0, 0
		for _, t := range v.Targets {
			d := db.DatasetByIP(t.IP)
			if d == nil {
				continue
			}
			if gone(db, d.ID) {
				bad = t
				nBad++
			} else {
				nGood++
			}
		}
		if nBad > 0 && nGood > 0 {
			kind := "read-write"
			if v.ReadOnly {
				kind = "read-only"
			}
			return violation(EndExpungedHealthy, kind, fmt.Sprintf("live volume %d still uses %v on an expunged disk, while %d member(s) of the same region set are healthy", vol.ID, bad, nGood))
		}
		return nil
	}
	for _, s := range v.SubVolumes {
		if x := ck.expungedInRegionSets(vol, s); x != nil {
			return x
		}
	}
	return ck.expungedInRegionSets(vol, v.ReadOnlyParent)
}

// CheckEmpty is the final cleanliness check after every user object was
// deleted and the system drained again (spec 30 §C.1, §C.9 item 6):
// nothing of Crucible's may remain, except on expunged datasets.
func (ck *Checker) CheckEmpty() *sim.Violation {
	if !ck.on(EndNoResources) {
		return nil
	}
	db := ck.W.DB
	for i := range db.Regions {
		r := &db.Regions[i]
		if gone(db, r.DatasetID) {
			continue
		}
		kind := "read-write-region"
		if r.ReadOnly {
			kind = "read-only-region"
		}
		return violation(EndNoResources, kind, fmt.Sprintf("region %d (owner volume %d, read_only=%v, deleting=%v) remains after every user object was deleted", r.ID, r.VolumeID, r.ReadOnly, r.Deleting))
	}
	for i := range db.RegionSnapshots {
		rs := &db.RegionSnapshots[i]
		if gone(db, rs.Key.DatasetID) {
			continue
		}
		return violation(EndNoResources, "region-snapshot", fmt.Sprintf("region snapshot %v (deleting=%v) remains after every user object was deleted", rs.Key, rs.Deleting))
	}
	for i := range db.Usages {
		u := &db.Usages[i]
		shape := "usage-row"
		if v := db.Volume(u.VolumeID); v == nil {
			shape = "usage-row-of-missing-volume"
		}
		return violation(EndNoResources, shape, fmt.Sprintf("usage row %d (volume %d on %s) remains after every user object was deleted", u.UsageID, u.VolumeID, resString(u.Res)))
	}
	objs := db.AgentObjects(nil, true)
	if len(objs) > 0 {
		return violation(EndNoResources, "agent-object", fmt.Sprintf("%d Crucible agent object(s) remain after every user object was deleted; first: %+v", len(objs), objs[0]))
	}
	// omicron's finish_test (spec 30 §C.2) for every Complete request: no
	// volume row, soft-deleted ones included, still names the replaced
	// address. Checked last, once nothing else is left.
	for i := range db.Requests {
		q := &db.Requests[i]
		if q.State != model.RSRComplete {
			continue
		}
		addr, ok := db.RSAddrOf(q.Old)
		if !ok {
			continue
		}
		for j := range db.Volumes {
			v := &db.Volumes[j]
			if ck.namesReplacedRS(v, addr) {
				return violation(EndNoResources, "volume-names-replaced-address", fmt.Sprintf("volume %d (soft-deleted=%v) still names the address %v of region snapshot %v, replaced by Complete request %d", v.ID, v.SoftDeleted, addr, q.Old, q.ID))
			}
		}
	}
	return nil
}

// regionInVCR reports whether region r's address is a read/write target
// of vcr.
func regionInVCR(db *model.DB, vcr *model.VCR, r *model.Region) bool {
	a, ok := regionAddr(db, r)
	if !ok || vcr == nil {
		return false
	}
	for _, t := range rwTargets(nil, vcr) {
		if t == a {
			return true
		}
	}
	return false
}

// namesReplacedRS reports whether volume v still names a replaced (and
// deleted) region snapshot at addr: as a read-only target, the only way a
// region snapshot is named, and with nothing live resolving there. A
// target at addr that resolves, or a read/write one, belongs to a newer
// resource that was given the same port (Options.ReusePorts).
func (ck *Checker) namesReplacedRS(v *model.Volume, addr model.Addr) bool {
	named := false
	ck.ro = roTargets(ck.ro[:0], v.Data)
	for _, t := range ck.ro {
		named = named || t == addr
	}
	if !named {
		return false
	}
	_, _, resolves := resolveRO(ck.W.DB, addr)
	return !resolves
}
