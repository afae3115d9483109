package model

// Read/write region replacement request records, modelled on
// nexus/db-queries/src/db/datastore/region_replacement.rs at 09b150f177
// (spec 50 §6.1–§6.2). Only the request rows and the repair lock they hold
// are modelled; region_replacement_step rows and upstairs repair
// notifications are left to the saga layer.

var (
	dsErrRRMissing      = &Error{Class: ErrInternal, Msg: "region replacement not found"}
	dsErrRRConflict     = &Error{Class: ErrConflict, Msg: "region replacement state conflict"}
	dsErrRRReadOnly     = &Error{Class: ErrInvalidRequest, Msg: "region is read-only"}
	dsErrRRNotRequested = &Error{Class: ErrInternal, Msg: "complete_from_requested called with a request not in state Requested"}
	dsErrRRDuplicateKey = &Error{Class: ErrInternal, Msg: "duplicate key value violates unique constraint region_replacement_pkey"}
)

// RRequest returns the region_replacement row with id, or nil.
func (db *DB) RRequest(id UUID) *RRequest {
	for i := range db.RRequests {
		if db.RRequests[i].ID == id {
			return &db.RRequests[i]
		}
	}
	return nil
}

// NewRRequest builds a request as RegionReplacement::new(old_region,
// volume): fresh id, state Requested, every optional field NULL. CPU only.
func (db *DB) NewRRequest(oldRegion, volume UUID) RRequest {
	return RRequest{ID: db.NewUUID(), OldRegionID: oldRegion, VolumeID: volume, State: RRRequested}
}

// InsertRRequest models insert_region_replacement_request
// (region_replacement.rs), one [TXN]: take the lock (req.VolumeID, req.ID)
// with the rules of volume_repair_insert_in_txn, then insert the row as
// given. Errors: InvalidRequest (volume row absent), Conflict "volume
// repair lock" (Internal under switch #8), Internal (duplicate id).
func (db *DB) InsertRRequest(req RRequest) error {
	ins, err := db.lockCheck(req.VolumeID, req.ID, false)
	if err != nil {
		return err
	}
	if db.RRequest(req.ID) != nil {
		return dsErrRRDuplicateKey
	}
	if ins {
		db.addLock(req.VolumeID, req.ID)
	}
	db.RRequests = dsInsertSorted(db.RRequests, req)
	return nil
}

// CreateRRequestForRegion models create_region_replacement_request_for_region
// (region_replacement.rs): a read-only region → InvalidRequest with no
// write; otherwise one [TXN] InsertRRequest for (region, region.VolumeID).
// r is the region row as the caller read it.
func (db *DB) CreateRRequestForRegion(r Region) (UUID, error) {
	if r.ReadOnly {
		return 0, dsErrRRReadOnly
	}
	req := db.NewRRequest(r.ID, r.VolumeID)
	if err := db.InsertRRequest(req); err != nil {
		return 0, err
	}
	return req.ID, nil
}

// RRequestByID models get_region_replacement_request_by_id [STMT]:
// Internal when missing.
func (db *DB) RRequestByID(id UUID) (RRequest, error) {
	r := db.RRequest(id)
	if r == nil {
		return RRequest{}, dsErrRRMissing
	}
	return *r, nil
}

// RequestedRRequestsPage is one page of the [MULTI]
// get_requested_region_replacements: state Requested, op NOT filtered, id >
// after, ascending, at most the page size. See RequestedStepsPage.
func (db *DB) RequestedRRequestsPage(dst []RRequest, after UUID) (out []RRequest, more bool) {
	limit := db.stepPageSize()
	n := 0
	for i := range db.RRequests {
		r := &db.RRequests[i]
		if r.ID <= after || r.State != RRRequested {
			continue
		}
		dst = append(dst, *r)
		n++
		if n == limit {
			return dst, true
		}
	}
	return dst, false
}

func (db *DB) rrIn(dst []RRequest, st RRState) []RRequest {
	for i := range db.RRequests {
		if r := &db.RRequests[i]; r.State == st && r.OperatingSagaID == 0 {
			dst = append(dst, *r)
		}
	}
	return dst
}

// RunningRRequests models get_running_region_replacements [STMT]:
// Running ∧ op NULL.
func (db *DB) RunningRRequests(dst []RRequest) []RRequest { return db.rrIn(dst, RRRunning) }

// DoneRRequests models get_done_region_replacements [STMT]:
// ReplacementDone ∧ op NULL.
func (db *DB) DoneRRequests(dst []RRequest) []RRequest { return db.rrIn(dst, RRReplacementDone) }

// pickRR returns one request matching pred, drawn with sim.KRow
// (⚠first-row), or false.
func (db *DB) pickRR(pred func(*RRequest) bool) (RRequest, bool) {
	if i := pickRow(db, db.RRequests, pred); i >= 0 {
		return db.RRequests[i], true
	}
	return RRequest{}, false
}

// LookupRRByOldRegion models lookup_region_replacement_request_by_old_region_id
// [STMT]: any state, ⚠first-row.
func (db *DB) LookupRRByOldRegion(oldRegion UUID) (RRequest, bool) {
	return db.pickRR(func(r *RRequest) bool { return r.OldRegionID == oldRegion })
}

// LookupInProgressRRByNewRegion models
// lookup_in_progress_region_replacement_request_by_new_region_id [STMT]:
// new_region_id matches and state ≠ Complete, ⚠first-row.
func (db *DB) LookupInProgressRRByNewRegion(newRegion UUID) (RRequest, bool) {
	return db.pickRR(func(r *RRequest) bool { return r.NewRegionID == newRegion && newRegion != 0 && r.State != RRComplete })
}

// rrMove is the update-and-check body of the [STMT] transitions: guard
// (from, op = guardOp; 0 = NULL) → (to, op := newOp); Ok without writing
// when the row is (to, op = newOp); else Conflict.
func (db *DB) rrMove(id UUID, from RRState, guardOp UUID, to RRState, newOp UUID) error {
	r := db.RRequest(id)
	if r == nil {
		return dsErrRRMissing
	}
	if r.State == from && r.OperatingSagaID == guardOp {
		r.State, r.OperatingSagaID = to, newOp
		return nil
	}
	if r.State == to && r.OperatingSagaID == newOp {
		return nil
	}
	return dsErrRRConflict
}

// SetRRAllocating models set_region_replacement_allocating [STMT]:
// Requested ∧ op NULL → Allocating, op := saga; Ok if Allocating ∧ op = saga.
func (db *DB) SetRRAllocating(id, saga UUID) error {
	return db.rrMove(id, RRRequested, 0, RRAllocating, saga)
}

// UndoSetRRAllocating models undo_set_region_replacement_allocating [STMT]:
// Allocating ∧ op = saga → Requested, op := NULL; Ok if Requested ∧ op NULL.
func (db *DB) UndoSetRRAllocating(id, saga UUID) error {
	return db.rrMove(id, RRAllocating, saga, RRRequested, 0)
}

// SetRRRunning models set_region_replacement_running [STMT]: Allocating ∧
// op = saga → Running, op := NULL, new_region_id and old_region_volume_id
// set; Ok if Running ∧ op NULL ∧ both ids equal the arguments.
func (db *DB) SetRRRunning(id, saga, newRegion, oldRegionVolume UUID) error {
	r := db.RRequest(id)
	if r == nil {
		return dsErrRRMissing
	}
	if r.State == RRAllocating && r.OperatingSagaID == saga {
		r.State, r.OperatingSagaID = RRRunning, 0
		r.NewRegionID, r.OldRegionVolumeID = newRegion, oldRegionVolume
		return nil
	}
	if r.State == RRRunning && r.OperatingSagaID == 0 && r.NewRegionID == newRegion && r.OldRegionVolumeID == oldRegionVolume {
		return nil
	}
	return dsErrRRConflict
}

// SetRRDriving models set_region_replacement_driving [STMT]: Running ∧ op
// NULL → Driving, op := saga; Ok if Driving ∧ op = saga.
func (db *DB) SetRRDriving(id, saga UUID) error {
	return db.rrMove(id, RRRunning, 0, RRDriving, saga)
}

// UndoSetRRDriving models undo_set_region_replacement_driving [STMT]:
// Driving ∧ op = saga → Running, op := NULL; Ok if Running ∧ op NULL.
func (db *DB) UndoSetRRDriving(id, saga UUID) error {
	return db.rrMove(id, RRDriving, saga, RRRunning, 0)
}

// SetRRFromDrivingToDone models set_region_replacement_from_driving_to_done
// [STMT]: Driving ∧ op = saga → ReplacementDone, op := NULL; Ok if
// ReplacementDone ∧ op NULL.
func (db *DB) SetRRFromDrivingToDone(id, saga UUID) error {
	return db.rrMove(id, RRDriving, saga, RRReplacementDone, 0)
}

// MarkRRAsDone models mark_region_replacement_as_done [STMT]: Running ∧ op
// NULL → ReplacementDone; Ok if ReplacementDone ∧ op NULL.
func (db *DB) MarkRRAsDone(id UUID) error {
	return db.rrMove(id, RRRunning, 0, RRReplacementDone, 0)
}

// SetRRCompleting models set_region_replacement_completing [STMT]:
// ReplacementDone ∧ op NULL → Completing, op := saga; Ok if Completing ∧
// op = saga.
func (db *DB) SetRRCompleting(id, saga UUID) error {
	return db.rrMove(id, RRReplacementDone, 0, RRCompleting, saga)
}

// UndoSetRRCompleting models undo_set_region_replacement_completing [STMT]:
// Completing ∧ op = saga → ReplacementDone, op := NULL; Ok if
// ReplacementDone ∧ op NULL.
func (db *DB) UndoSetRRCompleting(id, saga UUID) error {
	return db.rrMove(id, RRCompleting, saga, RRReplacementDone, 0)
}

// SetRRComplete models set_region_replacement_complete(request, saga)
// [TXN]: delete the lock (volume_id, id) (both columns), then Completing ∧
// op = saga → Complete, op := NULL. Ok (lock delete commits) if Complete ∧
// op NULL; any other row → Conflict and the lock stays.
func (db *DB) SetRRComplete(id, saga UUID) error {
	r := db.RRequest(id)
	if r == nil {
		return dsErrRRMissing
	}
	switch {
	case r.State == RRCompleting && r.OperatingSagaID == saga:
		r.State, r.OperatingSagaID = RRComplete, 0
	case r.State == RRComplete && r.OperatingSagaID == 0:
	default:
		return dsErrRRConflict
	}
	db.VolumeRepairUnlock(r.VolumeID, id)
	return nil
}

// SetRRCompleteFromRequested models
// set_region_replacement_complete_from_requested(request) [TXN]. omicron
// asserts the caller's copy is Requested (a panic); the model returns
// Internal instead. Then: delete the lock (volume_id, id); Requested ∧ op
// NULL → Complete (op untouched); Ok (lock delete commits) if Complete.
func (db *DB) SetRRCompleteFromRequested(req RRequest) error {
	if req.State != RRRequested {
		return dsErrRRNotRequested
	}
	r := db.RRequest(req.ID)
	if r == nil {
		return dsErrRRMissing
	}
	switch {
	case r.State == RRRequested && r.OperatingSagaID == 0:
		r.State = RRComplete
	case r.State == RRComplete:
	default:
		return dsErrRRConflict
	}
	db.VolumeRepairUnlock(req.VolumeID, req.ID)
	return nil
}
