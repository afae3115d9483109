package model

// Region snapshot replacement requests and steps, modelled on
// nexus/db-queries/src/db/datastore/region_snapshot_replacement.rs at
// 09b150f177 (spec 10 §5). Every method is exactly one atomic step.
//
// Transition numbering follows spec 10 §5.3/§5.5. Spec 20 §3 numbers them
// differently; the mapping (spec 10 → spec 20) is:
//
//	R1→R1  R1u→R1u  R2→R2  R3→R4  R3u→R4u  R4→R5  R5→R6  R5u→R6u
//	R6→R7  R7→R3    S1→S1  S1u→S1u  S2→S2  S3→S4  S4→S3
//
// The update-and-check statement (update_and_check.rs) is modelled as: row
// missing → Internal; guard holds → write, Ok; otherwise Ok only if the row
// already has the "idempotent" shape, else Conflict.

// RSR errors (constant values, never mutated).
var (
	dsErrRSRMissing       = &Error{Class: ErrInternal, Msg: "region snapshot replacement not found"}
	dsErrRSRConflict      = &Error{Class: ErrConflict, Msg: "region snapshot replacement state conflict"}
	dsErrRSRNoSnapshot    = &Error{Class: ErrInternal, Msg: "cannot perform region snapshot replacement without snapshot volume"}
	dsErrStepMissing      = &Error{Class: ErrInternal, Msg: "region snapshot replacement step not found"}
	dsErrStepConflict     = &Error{Class: ErrConflict, Msg: "region snapshot replacement step state conflict"}
	dsErrRSRDuplicateKey  = &Error{Class: ErrInternal, Msg: "duplicate key value violates unique constraint region_snapshot_replacement_pkey"}
	dsErrStepDuplicateKey = &Error{Class: ErrInternal, Msg: "duplicate key value violates unique constraint region_snapshot_replacement_step_pkey"}
)

// dsKey is the primary key used to keep a table slice in ascending order.
func (r RSRequest) dsKey() UUID { return r.ID }
func (r RSRStep) dsKey() UUID   { return r.ID }
func (r RRequest) dsKey() UUID  { return r.ID }
func (r Snapshot) dsKey() UUID  { return r.ID }
func (r Disk) dsKey() UUID      { return r.ID }
func (r Image) dsKey() UUID     { return r.ID }

// dsInsertSorted inserts v into s keeping ascending key order. Ids come
// from one counter but may be generated long before the insert (saga node
// 0), so a plain append could break the order.
func dsInsertSorted[T interface{ dsKey() UUID }](s []T, v T) []T {
	k := v.dsKey()
	i := len(s)
	for i > 0 && s[i-1].dsKey() > k {
		i--
	}
	s = append(s, v)
	if i < len(s)-1 {
		copy(s[i+1:], s[i:len(s)-1])
		s[i] = v
	}
	return s
}

// stepPageSize is the page size of get_requested_region_snapshot_replacement_steps.
func (db *DB) stepPageSize() int {
	if n := db.Cfg.Options.PageSize; n > 0 {
		return n
	}
	return 1000 // SQL_BATCH_SIZE
}

// ---------------------------------------------------------------------------
// Request creation (§5.1)

// NewRSRequest builds a request for region snapshot rs as
// RegionSnapshotReplacement::for_region_snapshot does: a fresh id, state
// Requested, every optional field NULL. CPU only.
func (db *DB) NewRSRequest(rs RSKey) RSRequest {
	return RSRequest{ID: db.NewUUID(), Old: rs, State: RSRRequested}
}

// InsertRSRequestSnapshotPart is part 1 of the [MULTI]
// insert_region_snapshot_replacement_request (region_snapshot_replacement.rs):
// the [STMT] snapshot_get(old_snapshot_id), soft-deleted rows included. It
// returns the snapshot volume id to pass to part 2, or Internal when the
// snapshot row does not exist. An interleaving point follows.
func (db *DB) InsertRSRequestSnapshotPart(snapshotID UUID) (UUID, error) {
	s := db.Snapshot(snapshotID)
	if s == nil {
		return 0, dsErrRSRNoSnapshot
	}
	return s.VolumeID, nil
}

// InsertRSRequestWithVolumeID models
// insert_region_snapshot_replacement_request_with_volume_id
// (region_snapshot_replacement.rs), one [TXN]: take the repair lock
// (volume, req.ID) and insert the row exactly as given. Errors:
// InvalidRequest (volume row absent), Conflict "volume repair lock"
// (another holder; Internal under switch #8), Internal (duplicate id). No
// check of other requests for the same region snapshot, nor of the region
// snapshot itself.
func (db *DB) InsertRSRequestWithVolumeID(req RSRequest, volume UUID) error {
	ins, err := db.lockCheck(volume, req.ID, false)
	if err != nil {
		return err
	}
	if db.Request(req.ID) != nil {
		return dsErrRSRDuplicateKey
	}
	if ins {
		db.addLock(volume, req.ID)
	}
	db.Requests = dsInsertSorted(db.Requests, req)
	return nil
}

// CreateRSRequest models create_region_snapshot_replacement_request
// (region_snapshot_replacement.rs) with both parts of the [MULTI] insert run
// back to back, with NO interleaving point: a convenience for tests and
// scripted setup. Actors must call InsertRSRequestSnapshotPart and
// InsertRSRequestWithVolumeID as two steps.
func (db *DB) CreateRSRequest(rs RSKey) (UUID, error) {
	vol, err := db.InsertRSRequestSnapshotPart(rs.SnapshotID)
	if err != nil {
		return 0, err
	}
	req := db.NewRSRequest(rs)
	if err := db.InsertRSRequestWithVolumeID(req, vol); err != nil {
		return 0, err
	}
	return req.ID, nil
}

// ---------------------------------------------------------------------------
// Request queries (§5.2), each one [STMT]

// RSRequestByID models get_region_snapshot_replacement_request_by_id:
// Internal when missing.
func (db *DB) RSRequestByID(id UUID) (RSRequest, error) {
	r := db.Request(id)
	if r == nil {
		return RSRequest{}, dsErrRSRMissing
	}
	return *r, nil
}

// LookupRSRequest models lookup_region_snapshot_replacement_request: a
// request for region snapshot rs in any state. ⚠first-row: with several
// matches one is drawn (sim.KRow).
func (db *DB) LookupRSRequest(rs RSKey) (RSRequest, bool) {
	if i := pickRow(db, db.Requests, func(r *RSRequest) bool { return r.Old == rs }); i >= 0 {
		return db.Requests[i], true
	}
	return RSRequest{}, false
}

func (db *DB) requestsIn(dst []RSRequest, st RSRState) []RSRequest {
	for i := range db.Requests {
		if r := &db.Requests[i]; r.State == st && r.OperatingSagaID == 0 {
			dst = append(dst, *r)
		}
	}
	return dst
}

// RequestedRSRequests models get_requested_region_snapshot_replacements:
// state Requested and op NULL. Appends copies to dst.
func (db *DB) RequestedRSRequests(dst []RSRequest) []RSRequest {
	return db.requestsIn(dst, RSRRequested)
}

// RunningRSRequests models get_running_region_snapshot_replacements:
// state Running and op NULL.
func (db *DB) RunningRSRequests(dst []RSRequest) []RSRequest {
	return db.requestsIn(dst, RSRRunning)
}

// ReplacementDoneRSRequests models
// get_replacement_done_region_snapshot_replacements: state ReplacementDone
// and op NULL.
func (db *DB) ReplacementDoneRSRequests(dst []RSRequest) []RSRequest {
	return db.requestsIn(dst, RSRReplacementDone)
}

// ---------------------------------------------------------------------------
// Request transitions (§5.3)

// rsrMove is the update-and-check body shared by the [STMT] transitions:
// guard (from, op = guardOp where guardOp 0 means NULL) → (to, op := newOp);
// Ok without writing when the row is (to, op = newOp).
func (db *DB) rsrMove(id UUID, from RSRState, guardOp UUID, to RSRState, newOp UUID) error {
	r := db.Request(id)
	if r == nil {
		return dsErrRSRMissing
	}
	if r.State == from && r.OperatingSagaID == guardOp {
		r.State, r.OperatingSagaID = to, newOp
		return nil
	}
	if r.State == to && r.OperatingSagaID == newOp {
		return nil
	}
	return dsErrRSRConflict
}

// SetRSRAllocating is R1, set_region_snapshot_replacement_allocating [STMT]:
// Requested ∧ op NULL → Allocating, op := saga. Idempotent when
// Allocating ∧ op = saga.
func (db *DB) SetRSRAllocating(id, saga UUID) error {
	return db.rsrMove(id, RSRRequested, 0, RSRAllocating, saga)
}

// UndoSetRSRAllocating is R1u, undo_set_region_snapshot_replacement_allocating
// [STMT]: Allocating ∧ op = saga → Requested, op := NULL. Idempotent when
// Requested ∧ op NULL.
func (db *DB) UndoSetRSRAllocating(id, saga UUID) error {
	return db.rsrMove(id, RSRAllocating, saga, RSRRequested, 0)
}

// SetRSRReplacementDone is R2, set_region_snapshot_replacement_replacement_done
// [STMT]: Allocating ∧ op = saga → ReplacementDone, op := NULL, and sets
// new_region_id, new_region_volume_id (new at this commit; callers pass 0
// under switch #1, which stores NULL) and old_snapshot_volume_id. Idempotent
// when ReplacementDone ∧ op NULL ∧ all three ids equal the arguments.
func (db *DB) SetRSRReplacementDone(id, saga, newRegion, newRegionVolume, oldSnapshotVolume UUID) error {
	r := db.Request(id)
	if r == nil {
		return dsErrRSRMissing
	}
	if r.State == RSRAllocating && r.OperatingSagaID == saga {
		r.State, r.OperatingSagaID = RSRReplacementDone, 0
		r.NewRegionID, r.NewRegionVolumeID, r.OldSnapshotVolumeID = newRegion, newRegionVolume, oldSnapshotVolume
		return nil
	}
	if r.State == RSRReplacementDone && r.OperatingSagaID == 0 && r.NewRegionID == newRegion &&
		r.NewRegionVolumeID == newRegionVolume && r.OldSnapshotVolumeID == oldSnapshotVolume {
		return nil
	}
	return dsErrRSRConflict
}

// SetRSRDeletingOldVolume is R3, set_region_snapshot_replacement_deleting_old_volume
// [STMT]: ReplacementDone ∧ op NULL → DeletingOldVolume, op := saga.
// Idempotent when DeletingOldVolume ∧ op = saga.
func (db *DB) SetRSRDeletingOldVolume(id, saga UUID) error {
	return db.rsrMove(id, RSRReplacementDone, 0, RSRDeletingOldVolume, saga)
}

// UndoSetRSRDeletingOldVolume is R3u,
// undo_set_region_snapshot_replacement_deleting_old_volume [STMT]:
// DeletingOldVolume ∧ op = saga → ReplacementDone, op := NULL. Idempotent
// when ReplacementDone ∧ op NULL.
func (db *DB) UndoSetRSRDeletingOldVolume(id, saga UUID) error {
	return db.rsrMove(id, RSRDeletingOldVolume, saga, RSRReplacementDone, 0)
}

// SetRSRRunning is R4, set_region_snapshot_replacement_running [STMT]:
// DeletingOldVolume ∧ op = saga → Running, op := NULL. Idempotent when
// Running ∧ op NULL.
func (db *DB) SetRSRRunning(id, saga UUID) error {
	return db.rsrMove(id, RSRDeletingOldVolume, saga, RSRRunning, 0)
}

// SetRSRCompleting is R5, set_region_snapshot_replacement_completing [STMT]
// (new at this commit): Running ∧ op NULL → Completing, op := saga.
// Idempotent when Completing ∧ op = saga.
func (db *DB) SetRSRCompleting(id, saga UUID) error {
	return db.rsrMove(id, RSRRunning, 0, RSRCompleting, saga)
}

// UndoSetRSRCompleting is R5u, undo_set_region_snapshot_replacement_completing
// [STMT] (new): Completing ∧ op = saga → Running, op := NULL. Idempotent
// when Running ∧ op NULL.
func (db *DB) UndoSetRSRCompleting(id, saga UUID) error {
	return db.rsrMove(id, RSRCompleting, saga, RSRRunning, 0)
}

// rsrComplete is the body of the three "complete" [TXN]s: first delete
// every lock with repair_id = id, then update-and-check. The delete is
// rolled back only on an error; on the idempotent Ok it commits.
func (db *DB) rsrComplete(id UUID, guard func(*RSRequest) bool) error {
	r := db.Request(id)
	if r == nil {
		return dsErrRSRMissing
	}
	switch {
	case guard(r):
		r.State, r.OperatingSagaID = RSRComplete, 0
	case r.State == RSRComplete:
	default:
		return dsErrRSRConflict
	}
	db.deleteLocksByRepair(id)
	return nil
}

// SetRSRComplete is R6, set_region_snapshot_replacement_complete(id, saga)
// [TXN]: delete every lock with repair_id = id; Completing ∧ op = saga →
// Complete, op := NULL. Idempotent (and the lock delete commits) when the
// state is Complete, whatever op.
func (db *DB) SetRSRComplete(id, saga UUID) error {
	return db.rsrComplete(id, func(r *RSRequest) bool {
		return r.State == RSRCompleting && r.OperatingSagaID == saga
	})
}

// SetRSRCompleteFromRequested is R7,
// set_region_snapshot_replacement_complete_from_requested [TXN]: delete
// every lock with repair_id = id; Requested ∧ op NULL ∧
// new_region_volume_id NULL → Complete (op stays NULL). Idempotent when
// Complete.
func (db *DB) SetRSRCompleteFromRequested(id UUID) error {
	return db.rsrComplete(id, func(r *RSRequest) bool {
		return r.State == RSRRequested && r.OperatingSagaID == 0 && r.NewRegionVolumeID == 0
	})
}

// SetRSRCompletePreFix models the parent commit's
// set_region_snapshot_replacement_complete(id) (09b150f177^,
// region_snapshot_replacement.rs), one [TXN] called by the finish background
// task: delete every lock with repair_id = id; Running ∧ op NULL → Complete.
// Idempotent when Complete. Use only under Switches.NoNewRegionVolume (#1).
func (db *DB) SetRSRCompletePreFix(id UUID) error {
	return db.rsrComplete(id, func(r *RSRequest) bool {
		return r.State == RSRRunning && r.OperatingSagaID == 0
	})
}

// ---------------------------------------------------------------------------
// Step creation (§5.4)

// InsertStepResult is the Ok outcome of step insertion.
type InsertStepResult uint8

const (
	// StepInserted: a new step row (and its lock) was written.
	StepInserted InsertStepResult = iota + 1
	// StepAlreadyHandled: an existing step covers the volume; nothing written.
	StepAlreadyHandled
)

// NewRSRStep builds a step as RegionSnapshotReplacementStep::new: a fresh
// id, state Requested, op and old_snapshot_volume_id NULL. CPU only.
func (db *DB) NewRSRStep(request, volume UUID) RSRStep {
	return RSRStep{ID: db.NewUUID(), RequestID: request, VolumeID: volume, State: StepRequested}
}

// pickStep returns one of the steps matching pred, drawn with sim.KRow
// (⚠first-row), or nil.
func (db *DB) pickStep(pred func(*RSRStep) bool) *RSRStep {
	if i := pickRow(db, db.Steps, pred); i >= 0 {
		return &db.Steps[i]
	}
	return nil
}

// InsertRSRStep models insert_region_snapshot_replacement_step
// (region_snapshot_replacement.rs), one [TXN]:
//  1. a step whose old_snapshot_volume_id = step.VolumeID (⚠first-row) →
//     AlreadyHandled(its id), no writes;
//  2. a step whose volume_id = step.VolumeID (⚠first-row): Requested or
//     Running → AlreadyHandled(its id); Complete or VolumeDeleted → go on;
//  3. lock (step.VolumeID, step.ID): InvalidRequest (volume row absent),
//     Conflict "volume repair lock" (another holder; Internal under #8);
//  4. insert the row as given (duplicate id → Internal) → Inserted.
//
// Returns the result and the inserted or existing step id.
func (db *DB) InsertRSRStep(step RSRStep) (InsertStepResult, UUID, error) {
	vol := step.VolumeID
	if s := db.pickStep(func(s *RSRStep) bool { return s.OldSnapshotVolumeID == vol && vol != 0 }); s != nil {
		return StepAlreadyHandled, s.ID, nil
	}
	if s := db.pickStep(func(s *RSRStep) bool { return s.VolumeID == vol }); s != nil {
		if s.State == StepRequested || s.State == StepRunning {
			return StepAlreadyHandled, s.ID, nil
		}
	}
	ins, err := db.lockCheck(vol, step.ID, false)
	if err != nil {
		return 0, 0, err
	}
	if db.Step(step.ID) != nil {
		return 0, 0, dsErrStepDuplicateKey
	}
	if ins {
		db.addLock(vol, step.ID)
	}
	db.Steps = dsInsertSorted(db.Steps, step)
	return StepInserted, step.ID, nil
}

// CreateRSRStep models create_region_snapshot_replacement_step: build a new
// step (CPU) and insert it, one [TXN].
func (db *DB) CreateRSRStep(request, volume UUID) (InsertStepResult, UUID, error) {
	return db.InsertRSRStep(db.NewRSRStep(request, volume))
}

// ---------------------------------------------------------------------------
// Step queries (§5.5)

// RSRStepByID models get_region_snapshot_replacement_step_by_id [STMT]:
// Internal when missing.
func (db *DB) RSRStepByID(id UUID) (RSRStep, error) {
	s := db.Step(id)
	if s == nil {
		return RSRStep{}, dsErrStepMissing
	}
	return *s, nil
}

// RequestedStepsPage is one page of the [MULTI]
// get_requested_region_snapshot_replacement_steps: steps with id > after in
// state Requested (op NOT filtered), ascending id, at most PageSize rows
// (Options.PageSize, 0 = 1000). It appends copies to dst. more is true when
// the page was full: the paginator then issues another query with cursor =
// the last id returned (possibly getting an empty page). Each call is one
// [STMT]; other actors run between pages.
func (db *DB) RequestedStepsPage(dst []RSRStep, after UUID) (out []RSRStep, more bool) {
	limit := db.stepPageSize()
	n := 0
	for i := range db.Steps {
		s := &db.Steps[i]
		if s.ID <= after || s.State != StepRequested {
			continue
		}
		dst = append(dst, *s)
		n++
		if n == limit {
			return dst, true
		}
	}
	return dst, false
}

// InProgressStepCount models in_progress_region_snapshot_replacement_steps
// [STMT]: the number of steps of request whose state is not VolumeDeleted
// (Requested, Running and Complete count).
func (db *DB) InProgressStepCount(request UUID) int {
	n := 0
	for i := range db.Steps {
		if db.Steps[i].RequestID == request && db.Steps[i].State != StepVolumeDeleted {
			n++
		}
	}
	return n
}

// StepsRequiringGC models
// region_snapshot_replacement_steps_requiring_garbage_collection [STMT]:
// every step in state Complete, any request. Appends copies to dst.
func (db *DB) StepsRequiringGC(dst []RSRStep) []RSRStep {
	for i := range db.Steps {
		if db.Steps[i].State == StepComplete {
			dst = append(dst, db.Steps[i])
		}
	}
	return dst
}

// ---------------------------------------------------------------------------
// Step transitions (§5.5)

// SetStepRunning is S1, set_region_snapshot_replacement_step_running
// [STMT]: Requested (op NOT checked) → Running, op := saga. Idempotent when
// Running ∧ op = saga.
func (db *DB) SetStepRunning(id, saga UUID) error {
	s := db.Step(id)
	if s == nil {
		return dsErrStepMissing
	}
	if s.State == StepRequested {
		s.State, s.OperatingSagaID = StepRunning, saga
		return nil
	}
	if s.State == StepRunning && s.OperatingSagaID == saga {
		return nil
	}
	return dsErrStepConflict
}

// UndoSetStepRunning is S1u, undo_set_region_snapshot_replacement_step_running
// [STMT]: Running ∧ op = saga → Requested, op := NULL. Idempotent when
// Requested ∧ op NULL.
func (db *DB) UndoSetStepRunning(id, saga UUID) error {
	s := db.Step(id)
	if s == nil {
		return dsErrStepMissing
	}
	if s.State == StepRunning && s.OperatingSagaID == saga {
		s.State, s.OperatingSagaID = StepRequested, 0
		return nil
	}
	if s.State == StepRequested && s.OperatingSagaID == 0 {
		return nil
	}
	return dsErrStepConflict
}

// SetStepComplete is S2, set_region_snapshot_replacement_step_complete
// [TXN]: delete every lock with repair_id = id; Running ∧ op = saga ∧
// old_snapshot_volume_id NULL → Complete, op := NULL,
// old_snapshot_volume_id := oldSnapshotVolume. Idempotent (lock delete
// commits) when Complete ∧ op NULL; old_snapshot_volume_id is not compared.
func (db *DB) SetStepComplete(id, saga, oldSnapshotVolume UUID) error {
	s := db.Step(id)
	if s == nil {
		return dsErrStepMissing
	}
	switch {
	case s.State == StepRunning && s.OperatingSagaID == saga && s.OldSnapshotVolumeID == 0:
		s.State, s.OperatingSagaID, s.OldSnapshotVolumeID = StepComplete, 0, oldSnapshotVolume
	case s.State == StepComplete && s.OperatingSagaID == 0:
	default:
		return dsErrStepConflict
	}
	db.deleteLocksByRepair(id)
	return nil
}

// SetStepVolumeDeleted is S3, set_region_snapshot_replacement_step_volume_deleted
// [STMT]: Complete → VolumeDeleted (no op guard). Idempotent when
// VolumeDeleted.
func (db *DB) SetStepVolumeDeleted(id UUID) error {
	s := db.Step(id)
	if s == nil {
		return dsErrStepMissing
	}
	switch s.State {
	case StepComplete:
		s.State = StepVolumeDeleted
		return nil
	case StepVolumeDeleted:
		return nil
	}
	return dsErrStepConflict
}

// SetStepVolumeDeletedFromRequested is S4,
// set_region_snapshot_replacement_step_volume_deleted_from_requested [TXN]
// (new at this commit): delete every lock with repair_id = id; Requested ∧
// op NULL ∧ old_snapshot_volume_id NULL → VolumeDeleted. Idempotent (lock
// delete commits) when VolumeDeleted. omicron takes the step record; only
// its id is used.
func (db *DB) SetStepVolumeDeletedFromRequested(id UUID) error {
	s := db.Step(id)
	if s == nil {
		return dsErrStepMissing
	}
	switch {
	case s.State == StepRequested && s.OperatingSagaID == 0 && s.OldSnapshotVolumeID == 0:
		s.State = StepVolumeDeleted
	case s.State == StepVolumeDeleted:
	default:
		return dsErrStepConflict
	}
	db.deleteLocksByRepair(id)
	return nil
}
