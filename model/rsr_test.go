package model

import (
	"fmt"
	"testing"
)

// ---------------------------------------------------------------------------
// region_snapshot_replacement.rs unit tests (omicron, 09b150f177)

func TestOneReplacementPerVolume(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	r1 := db.NewRSRequest(RSKey{DatasetID: db.NewUUID(), RegionID: db.NewUUID(), SnapshotID: db.NewUUID()})
	r2 := db.NewRSRequest(RSKey{DatasetID: db.NewUUID(), RegionID: db.NewUUID(), SnapshotID: db.NewUUID()})
	fxWant(t, "request 1", db.InsertRSRequestWithVolumeID(r1, v), ErrNone)
	err := db.InsertRSRequestWithVolumeID(r2, v)
	if err == nil || !IsRepairLockConflict(err) {
		t.Fatalf("request 2: want lock conflict, got %v", err)
	}
	if len(db.Requests) != 1 || db.Requests[0].ID != r1.ID || !db.LockHeldBy(v, r1.ID) {
		t.Fatal("request 2 wrote something")
	}
}

func TestOneReplacementPerVolumeConflictWithRegion(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	r1 := db.NewRSRequest(RSKey{DatasetID: db.NewUUID(), RegionID: db.NewUUID(), SnapshotID: db.NewUUID()})
	fxWant(t, "rsr request", db.InsertRSRequestWithVolumeID(r1, v), ErrNone)
	err := db.InsertRRequest(db.NewRRequest(db.NewUUID(), v))
	if err == nil {
		t.Fatal("region replacement request must fail")
	}
	fxWant(t, "rr request", err, ErrConflict)
	if len(db.RRequests) != 0 {
		t.Fatal("rr request written")
	}
}

func TestCountReplacementSteps(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	req := db.NewRSRequest(RSKey{DatasetID: db.NewUUID(), RegionID: db.NewUUID(), SnapshotID: db.NewUUID()})
	fxWant(t, "request", db.InsertRSRequestWithVolumeID(req, v), ErrNone)

	requested := func() int {
		page, more := db.RequestedStepsPage(nil, 0)
		if more {
			t.Fatal("unexpected second page")
		}
		return len(page)
	}
	if n := db.InProgressStepCount(req.ID); n != 0 {
		t.Fatalf("in progress = %d, want 0", n)
	}
	if requested() != 0 {
		t.Fatal("requested steps not empty")
	}
	insert := func(st StepState) {
		t.Helper()
		s := db.NewRSRStep(req.ID, fxVolume(db))
		s.State = st
		res, _, err := db.InsertRSRStep(s)
		if err != nil || res != StepInserted {
			t.Fatalf("insert %v: %v %v", st, res, err)
		}
	}
	insert(StepRequested)
	if n := db.InProgressStepCount(req.ID); n != 1 {
		t.Fatalf("in progress = %d, want 1", n)
	}
	if requested() != 1 {
		t.Fatal("want 1 requested")
	}
	insert(StepRunning)
	if n := db.InProgressStepCount(req.ID); n != 2 {
		t.Fatalf("in progress = %d, want 2", n)
	}
	if requested() != 1 {
		t.Fatal("want 1 requested")
	}
	insert(StepVolumeDeleted) // VolumeDeleted is not in progress
	if n := db.InProgressStepCount(req.ID); n != 2 {
		t.Fatalf("in progress = %d, want 2", n)
	}
	if requested() != 1 {
		t.Fatal("want 1 requested")
	}
	// A Complete step still counts (waits for garbage collection).
	insert(StepComplete)
	if n := db.InProgressStepCount(req.ID); n != 3 {
		t.Fatalf("in progress = %d, want 3", n)
	}
	if n := db.InProgressStepCount(db.NewUUID()); n != 0 {
		t.Fatal("other request counted")
	}
}

func TestUniqueRegionSnapshotReplacementStepPerVolume(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	first := db.NewRSRStep(db.NewUUID(), v)
	res, _, err := db.InsertRSRStep(first)
	if err != nil || res != StepInserted {
		t.Fatalf("first: %v %v", res, err)
	}
	second := db.NewRSRStep(db.NewUUID(), v)
	res, id, err := db.InsertRSRStep(second)
	if err != nil || res != StepAlreadyHandled || id != first.ID {
		t.Fatalf("second while Requested: %v %v %v", res, id, err)
	}
	saga := db.NewUUID()
	fxWant(t, "S1", db.SetStepRunning(first.ID, saga), ErrNone)
	res, id, err = db.InsertRSRStep(second)
	if err != nil || res != StepAlreadyHandled || id != first.ID {
		t.Fatalf("second while Running: %v %v %v", res, id, err)
	}
	fxWant(t, "S2", db.SetStepComplete(first.ID, saga, db.NewUUID()), ErrNone)
	res, id, err = db.InsertRSRStep(second)
	if err != nil || res != StepInserted || id != second.ID {
		t.Fatalf("second after Complete: %v %v %v", res, id, err)
	}
	fxWant(t, "S3", db.SetStepVolumeDeleted(first.ID), ErrNone)
	if !db.LockHeldBy(v, second.ID) {
		t.Fatal("second step must hold the lock")
	}
}

func TestRegionSnapshotReplacementStepGC(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	req := db.NewRSRequest(RSKey{DatasetID: db.NewUUID(), RegionID: db.NewUUID(), SnapshotID: db.NewUUID()})
	req.State = RSRComplete
	fxWant(t, "request", db.InsertRSRequestWithVolumeID(req, v), ErrNone)
	if len(db.StepsRequiringGC(nil)) != 0 {
		t.Fatal("gc list not empty")
	}
	for i := 0; i < 2; i++ {
		s := db.NewRSRStep(req.ID, fxVolume(db))
		s.State = StepComplete
		if res, _, err := db.InsertRSRStep(s); err != nil || res != StepInserted {
			t.Fatalf("insert: %v %v", res, err)
		}
	}
	if n := len(db.StepsRequiringGC(nil)); n != 2 {
		t.Fatalf("gc list = %d, want 2", n)
	}
}

func TestRegionSnapshotReplacementStepConflict(t *testing.T) {
	db := fxDB()
	req := db.NewUUID()
	v, osv := fxVolume(db), fxVolume(db)
	first := db.NewRSRStep(req, v)
	first.State = StepComplete
	first.OldSnapshotVolumeID = osv
	if res, _, err := db.InsertRSRStep(first); err != nil || res != StepInserted {
		t.Fatalf("first: %v %v", res, err)
	}
	res, id, err := db.CreateRSRStep(req, osv)
	if err != nil || res != StepAlreadyHandled || id != first.ID {
		t.Fatalf("step for the old snapshot volume: %v %v %v", res, id, err)
	}
	if db.LockOn(osv) != nil {
		t.Fatal("lock taken")
	}
}

func TestRegionSnapshotReplacementStepConflictWithRegionReplacement(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	fxWant(t, "rr", db.InsertRRequest(db.NewRRequest(db.NewUUID(), v)), ErrNone)
	_, _, err := db.CreateRSRStep(db.NewUUID(), v)
	if err == nil || !IsRepairLockConflict(err) {
		t.Fatalf("want lock conflict, got %v", err)
	}
	if len(db.Steps) != 0 {
		t.Fatal("step written")
	}
}

// ---------------------------------------------------------------------------
// Request creation, queries

func TestInsertRSRequestParts(t *testing.T) {
	db := fxDB()
	_, err := db.InsertRSRequestSnapshotPart(db.NewUUID())
	fxWant(t, "missing snapshot", err, ErrInternal)

	sv := fxVolume(db)
	snap := db.NewUUID()
	db.Snapshots = append(db.Snapshots, Snapshot{ID: snap, VolumeID: sv, State: SnapshotDestroyed, Deleted: true})
	got, err := db.InsertRSRequestSnapshotPart(snap)
	if err != nil || got != sv {
		t.Fatalf("soft-deleted snapshot must be found: %v %v", got, err)
	}
	// Soft-deleted snapshot volume may be locked.
	db.Volume(sv).SoftDeleted = true
	id, err := db.CreateRSRequest(RSKey{DatasetID: 1, RegionID: 2, SnapshotID: snap})
	fxWant(t, "create", err, ErrNone)
	r, err := db.RSRequestByID(id)
	if err != nil || r.State != RSRRequested || r.OperatingSagaID != 0 || r.NewRegionID != 0 || r.Old.SnapshotID != snap {
		t.Fatalf("request row %+v %v", r, err)
	}
	if !db.LockHeldBy(sv, id) {
		t.Fatal("request must lock the snapshot volume")
	}
	_, err = db.RSRequestByID(db.NewUUID())
	fxWant(t, "by id missing", err, ErrInternal)
	// Hard-deleted snapshot volume: InvalidRequest.
	db2 := fxDB()
	snap2 := db2.NewUUID()
	db2.Snapshots = append(db2.Snapshots, Snapshot{ID: snap2, VolumeID: db2.NewUUID()})
	_, err = db2.CreateRSRequest(RSKey{1, 2, snap2})
	fxWant(t, "hard-deleted snapshot volume", err, ErrInvalidRequest)
}

func TestRSRequestOrderKept(t *testing.T) {
	db := fxDB()
	v1, v2 := fxVolume(db), fxVolume(db)
	a := db.NewRSRequest(RSKey{1, 1, 1})
	b := db.NewRSRequest(RSKey{2, 2, 2})
	fxWant(t, "b", db.InsertRSRequestWithVolumeID(b, v2), ErrNone)
	fxWant(t, "a", db.InsertRSRequestWithVolumeID(a, v1), ErrNone)
	if db.Requests[0].ID != a.ID || db.Requests[1].ID != b.ID {
		t.Fatalf("requests not in id order: %+v", db.Requests)
	}
}

func TestLookupRSRequestFirstRow(t *testing.T) {
	k := RSKey{7, 8, 9}
	for pickIdx := 0; pickIdx < 2; pickIdx++ {
		ch := &fxChooser{vals: []int{pickIdx}}
		db := NewDB(Config{}, ch)
		v1, v2 := fxVolume(db), fxVolume(db)
		a, b := db.NewRSRequest(k), db.NewRSRequest(k)
		fxWant(t, "a", db.InsertRSRequestWithVolumeID(a, v1), ErrNone)
		fxWant(t, "b", db.InsertRSRequestWithVolumeID(b, v2), ErrNone)
		got, ok := db.LookupRSRequest(k)
		want := []UUID{a.ID, b.ID}[pickIdx]
		if !ok || got.ID != want {
			t.Fatalf("pick %d: got %v, want %v", pickIdx, got.ID, want)
		}
	}
	db := fxDB()
	if _, ok := db.LookupRSRequest(k); ok {
		t.Fatal("lookup of absent request")
	}
}

func TestRSRequestStateQueries(t *testing.T) {
	db := fxDB()
	mk := func(st RSRState, op UUID) UUID {
		id := db.NewUUID()
		db.Requests = append(db.Requests, RSRequest{ID: id, State: st, OperatingSagaID: op})
		return id
	}
	req := mk(RSRRequested, 0)
	mk(RSRRequested, 99)
	run := mk(RSRRunning, 0)
	mk(RSRRunning, 98)
	done := mk(RSRReplacementDone, 0)
	mk(RSRReplacementDone, 97)
	mk(RSRAllocating, 96)
	for _, c := range []struct {
		name string
		got  []RSRequest
		want UUID
	}{
		{"requested", db.RequestedRSRequests(nil), req},
		{"running", db.RunningRSRequests(nil), run},
		{"replacement done", db.ReplacementDoneRSRequests(nil), done},
	} {
		if len(c.got) != 1 || c.got[0].ID != c.want {
			t.Fatalf("%s: got %+v", c.name, c.got)
		}
	}
}

// ---------------------------------------------------------------------------
// Request transitions: every (state, op, new_region_volume_id) against the
// guard / idempotency table of spec 10 §5.3.

type rsrCase struct {
	name    string
	call    func(db *DB, id, saga UUID) error
	guard   func(st RSRState, op, saga, nrv UUID) bool
	idem    func(st RSRState, op, saga UUID) bool
	to      RSRState
	toOp    func(saga, op UUID) UUID
	release bool // [TXN] deleting every lock with repair_id = id
}

func opSaga(saga, _ UUID) UUID { return saga }
func opNull(_, _ UUID) UUID    { return 0 }
func opKeep(_, op UUID) UUID   { return op }

var rsrCases = []rsrCase{
	{"R1", (*DB).SetRSRAllocating,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRRequested && op == 0 },
		func(st RSRState, op, s UUID) bool { return st == RSRAllocating && op == s }, RSRAllocating, opSaga, false},
	{"R1u", (*DB).UndoSetRSRAllocating,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRAllocating && op == s },
		func(st RSRState, op, s UUID) bool { return st == RSRRequested && op == 0 }, RSRRequested, opNull, false},
	{"R3", (*DB).SetRSRDeletingOldVolume,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRReplacementDone && op == 0 },
		func(st RSRState, op, s UUID) bool { return st == RSRDeletingOldVolume && op == s }, RSRDeletingOldVolume, opSaga, false},
	{"R3u", (*DB).UndoSetRSRDeletingOldVolume,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRDeletingOldVolume && op == s },
		func(st RSRState, op, s UUID) bool { return st == RSRReplacementDone && op == 0 }, RSRReplacementDone, opNull, false},
	{"R4", (*DB).SetRSRRunning,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRDeletingOldVolume && op == s },
		func(st RSRState, op, s UUID) bool { return st == RSRRunning && op == 0 }, RSRRunning, opNull, false},
	{"R5", (*DB).SetRSRCompleting,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRRunning && op == 0 },
		func(st RSRState, op, s UUID) bool { return st == RSRCompleting && op == s }, RSRCompleting, opSaga, false},
	{"R5u", (*DB).UndoSetRSRCompleting,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRCompleting && op == s },
		func(st RSRState, op, s UUID) bool { return st == RSRRunning && op == 0 }, RSRRunning, opNull, false},
	{"R6", (*DB).SetRSRComplete,
		func(st RSRState, op, s, _ UUID) bool { return st == RSRCompleting && op == s },
		func(st RSRState, op, s UUID) bool { return st == RSRComplete }, RSRComplete, opNull, true},
	{"R7", func(db *DB, id, _ UUID) error { return db.SetRSRCompleteFromRequested(id) },
		func(st RSRState, op, s, nrv UUID) bool { return st == RSRRequested && op == 0 && nrv == 0 },
		func(st RSRState, op, s UUID) bool { return st == RSRComplete }, RSRComplete, opKeep, true},
	{"PreFixComplete", func(db *DB, id, _ UUID) error { return db.SetRSRCompletePreFix(id) },
		func(st RSRState, op, s, _ UUID) bool { return st == RSRRunning && op == 0 },
		func(st RSRState, op, s UUID) bool { return st == RSRComplete }, RSRComplete, opKeep, true},
}

func TestRSRTransitionsTable(t *testing.T) {
	for _, c := range rsrCases {
		for st := RSRRequested; st <= RSRComplete; st++ {
			for opk := 0; opk < 3; opk++ {
				for _, nrv := range []UUID{0, 500} {
					db := fxDB()
					v1, v2 := fxVolume(db), fxVolume(db)
					id, saga, other := db.NewUUID(), db.NewUUID(), db.NewUUID()
					op := []UUID{0, saga, other}[opk]
					row := RSRequest{ID: id, State: st, OperatingSagaID: op, NewRegionVolumeID: nrv}
					db.Requests = append(db.Requests, row)
					db.addLock(v1, id)
					db.addLock(v2, id)
					db.addLock(fxVolume(db), other)
					err := c.call(db, id, saga)
					got := *db.Request(id)
					what := fmt.Sprintf("%s from %v op=%d nrv=%d", c.name, st, opk, nrv)
					switch {
					case c.guard(st, op, saga, nrv):
						fxWant(t, what, err, ErrNone)
						if got.State != c.to || got.OperatingSagaID != c.toOp(saga, op) {
							t.Fatalf("%s: row %+v", what, got)
						}
					case c.idem(st, op, saga):
						fxWant(t, what, err, ErrNone)
						if got != row {
							t.Fatalf("%s: idempotent Ok changed the row: %+v", what, got)
						}
					default:
						fxWant(t, what, err, ErrConflict)
						if got != row {
							t.Fatalf("%s: conflict changed the row", what)
						}
					}
					wantLocks := 3
					if c.release && err == nil {
						wantLocks = 1
					}
					if len(db.Locks) != wantLocks {
						t.Fatalf("%s: %d locks left, want %d", what, len(db.Locks), wantLocks)
					}
				}
			}
		}
		db := fxDB()
		fxWant(t, c.name+" missing row", c.call(db, db.NewUUID(), db.NewUUID()), ErrInternal)
	}
}

func TestRSRReplacementDone(t *testing.T) {
	db := fxDB()
	id, saga := db.NewUUID(), db.NewUUID()
	nr, nrv, osv := db.NewUUID(), db.NewUUID(), db.NewUUID()
	db.Requests = append(db.Requests, RSRequest{ID: id, State: RSRAllocating, OperatingSagaID: saga})
	fxWant(t, "R2", db.SetRSRReplacementDone(id, saga, nr, nrv, osv), ErrNone)
	r := *db.Request(id)
	if r.State != RSRReplacementDone || r.OperatingSagaID != 0 || r.NewRegionID != nr || r.NewRegionVolumeID != nrv || r.OldSnapshotVolumeID != osv {
		t.Fatalf("row %+v", r)
	}
	fxWant(t, "R2 again", db.SetRSRReplacementDone(id, saga, nr, nrv, osv), ErrNone)
	fxWant(t, "R2 other saga same ids", db.SetRSRReplacementDone(id, db.NewUUID(), nr, nrv, osv), ErrNone)
	fxWant(t, "R2 other region", db.SetRSRReplacementDone(id, saga, db.NewUUID(), nrv, osv), ErrConflict)
	fxWant(t, "R2 other nrv", db.SetRSRReplacementDone(id, saga, nr, db.NewUUID(), osv), ErrConflict)
	fxWant(t, "R2 other osv", db.SetRSRReplacementDone(id, saga, nr, nrv, db.NewUUID()), ErrConflict)
	if *db.Request(id) != r {
		t.Fatal("conflicts changed the row")
	}
	db.Request(id).State = RSRRequested
	fxWant(t, "R2 from Requested", db.SetRSRReplacementDone(id, saga, nr, nrv, osv), ErrConflict)
	db.Request(id).State, db.Request(id).OperatingSagaID = RSRAllocating, db.NewUUID()
	fxWant(t, "R2 wrong saga", db.SetRSRReplacementDone(id, saga, nr, nrv, osv), ErrConflict)
	fxWant(t, "R2 missing", db.SetRSRReplacementDone(db.NewUUID(), saga, nr, nrv, osv), ErrInternal)
	// Pre-fix (#1) callers pass no NRV: stored NULL, replay still Ok.
	db.Request(id).State, db.Request(id).OperatingSagaID = RSRAllocating, saga
	fxWant(t, "R2 pre-fix", db.SetRSRReplacementDone(id, saga, nr, 0, osv), ErrNone)
	fxWant(t, "R2 pre-fix replay", db.SetRSRReplacementDone(id, saga, nr, 0, osv), ErrNone)
}

// ---------------------------------------------------------------------------
// Step insertion details and step queries

func TestInsertStepFirstRowCheck2(t *testing.T) {
	// Two steps for one volume: A Complete (lock released), B Requested
	// (holds the lock). Check 2 returns one of them.
	for pickIdx := 0; pickIdx < 2; pickIdx++ {
		ch := &fxChooser{}
		db := NewDB(Config{}, ch)
		v := fxVolume(db)
		a := db.NewRSRStep(db.NewUUID(), v)
		if res, _, err := db.InsertRSRStep(a); err != nil || res != StepInserted {
			t.Fatal(err)
		}
		saga := db.NewUUID()
		fxWant(t, "S1", db.SetStepRunning(a.ID, saga), ErrNone)
		fxWant(t, "S2", db.SetStepComplete(a.ID, saga, db.NewUUID()), ErrNone)
		b := db.NewRSRStep(db.NewUUID(), v)
		if res, _, err := db.InsertRSRStep(b); err != nil || res != StepInserted {
			t.Fatalf("b: %v %v", res, err)
		}
		ch.vals, ch.i = []int{pickIdx}, 0
		res, id, err := db.CreateRSRStep(db.NewUUID(), v)
		if pickIdx == 0 { // Complete row seen: go on, lock held by B
			fxWant(t, "first-row Complete", err, ErrConflict)
		} else {
			if err != nil || res != StepAlreadyHandled || id != b.ID {
				t.Fatalf("first-row Requested: %v %v %v", res, id, err)
			}
		}
		if len(db.Steps) != 2 {
			t.Fatal("duplicate step inserted")
		}
	}
}

func TestInsertStepFirstRowCheck1(t *testing.T) {
	for pickIdx := 0; pickIdx < 2; pickIdx++ {
		ch := &fxChooser{vals: []int{pickIdx}}
		db := NewDB(Config{}, ch)
		x := fxVolume(db)
		s1 := RSRStep{ID: db.NewUUID(), VolumeID: db.NewUUID(), OldSnapshotVolumeID: x, State: StepComplete}
		s2 := RSRStep{ID: db.NewUUID(), VolumeID: db.NewUUID(), OldSnapshotVolumeID: x, State: StepVolumeDeleted}
		db.Steps = append(db.Steps, s1, s2)
		res, id, err := db.CreateRSRStep(db.NewUUID(), x)
		want := []UUID{s1.ID, s2.ID}[pickIdx]
		if err != nil || res != StepAlreadyHandled || id != want {
			t.Fatalf("pick %d: %v %v %v", pickIdx, res, id, err)
		}
	}
}

func TestInsertStepOutcomes(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	// soft-deleted volume is not rejected here
	db.Volume(v).SoftDeleted = true
	res, id, err := db.CreateRSRStep(db.NewUUID(), v)
	if err != nil || res != StepInserted || !db.LockHeldBy(v, id) {
		t.Fatalf("soft-deleted volume: %v %v", res, err)
	}
	// duplicate id → Internal (volume w fresh, so the lock would be free)
	w := fxVolume(db)
	dup := db.Steps[0]
	dup.VolumeID = w
	_, _, err = db.InsertRSRStep(dup)
	fxWant(t, "duplicate id", err, ErrInternal)
	if db.LockOn(w) != nil {
		t.Fatal("failed insert left a lock")
	}
	// steps stay in id order even when ids were drawn earlier
	early := db.NewRSRStep(db.NewUUID(), fxVolume(db))
	late := db.NewRSRStep(db.NewUUID(), fxVolume(db))
	db.InsertRSRStep(late)
	db.InsertRSRStep(early)
	for i := 1; i < len(db.Steps); i++ {
		if db.Steps[i-1].ID >= db.Steps[i].ID {
			t.Fatal("steps not in id order")
		}
	}
}

func TestRequestedStepsPaginated(t *testing.T) {
	db := fxDBCfg(Config{Options: Options{PageSize: 2}})
	var want []UUID
	for i := 0; i < 7; i++ {
		st := StepRequested
		op := UUID(0)
		switch i {
		case 2:
			st = StepRunning
		case 4:
			op = 77 // op is not filtered
		case 5:
			st = StepComplete
		}
		s := RSRStep{ID: db.NewUUID(), VolumeID: db.NewUUID(), State: st, OperatingSagaID: op}
		db.Steps = append(db.Steps, s)
		if st == StepRequested {
			want = append(want, s.ID)
		}
	}
	var got []UUID
	var pages []int
	cursor := UUID(0)
	for {
		page, more := db.RequestedStepsPage(nil, cursor)
		pages = append(pages, len(page))
		for _, s := range page {
			got = append(got, s.ID)
		}
		if !more {
			break
		}
		cursor = page[len(page)-1].ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if fmt.Sprint(pages) != "[2 2 1]" {
		t.Fatalf("pages %v", pages)
	}
	// default page size 1000
	db.Cfg.Options.PageSize = 0
	if page, more := db.RequestedStepsPage(nil, 0); more || len(page) != len(want) {
		t.Fatal("default page size")
	}
	if _, err := db.RSRStepByID(db.NewUUID()); fxClass(err) != ErrInternal {
		t.Fatal("step by id missing must be Internal")
	}
	if s, err := db.RSRStepByID(want[0]); err != nil || s.ID != want[0] {
		t.Fatal("step by id")
	}
}

// ---------------------------------------------------------------------------
// Step transitions table (spec 10 §5.5)

type stepCase struct {
	name    string
	call    func(db *DB, id, saga, osv UUID) error
	guard   func(st StepState, op, saga, osv UUID) bool
	idem    func(st StepState, op, saga UUID) bool
	to      StepState
	toOp    func(saga, op UUID) UUID
	setsOSV bool
	release bool
}

var stepCases = []stepCase{
	{"S1", func(db *DB, id, s, _ UUID) error { return db.SetStepRunning(id, s) },
		func(st StepState, op, s, _ UUID) bool { return st == StepRequested },
		func(st StepState, op, s UUID) bool { return st == StepRunning && op == s }, StepRunning, opSaga, false, false},
	{"S1u", func(db *DB, id, s, _ UUID) error { return db.UndoSetStepRunning(id, s) },
		func(st StepState, op, s, _ UUID) bool { return st == StepRunning && op == s },
		func(st StepState, op, s UUID) bool { return st == StepRequested && op == 0 }, StepRequested, opNull, false, false},
	{"S2", func(db *DB, id, s, osv UUID) error { return db.SetStepComplete(id, s, 600) },
		func(st StepState, op, s, osv UUID) bool { return st == StepRunning && op == s && osv == 0 },
		func(st StepState, op, s UUID) bool { return st == StepComplete && op == 0 }, StepComplete, opNull, true, true},
	{"S3", func(db *DB, id, _, _ UUID) error { return db.SetStepVolumeDeleted(id) },
		func(st StepState, op, s, _ UUID) bool { return st == StepComplete },
		func(st StepState, op, s UUID) bool { return st == StepVolumeDeleted }, StepVolumeDeleted, opKeep, false, false},
	{"S4", func(db *DB, id, _, _ UUID) error { return db.SetStepVolumeDeletedFromRequested(id) },
		func(st StepState, op, s, osv UUID) bool { return st == StepRequested && op == 0 && osv == 0 },
		func(st StepState, op, s UUID) bool { return st == StepVolumeDeleted }, StepVolumeDeleted, opKeep, false, true},
}

func TestStepTransitionsTable(t *testing.T) {
	for _, c := range stepCases {
		for st := StepRequested; st <= StepVolumeDeleted; st++ {
			for opk := 0; opk < 3; opk++ {
				for _, osv := range []UUID{0, 500} {
					db := fxDB()
					v := fxVolume(db)
					id, saga, other := db.NewUUID(), db.NewUUID(), db.NewUUID()
					op := []UUID{0, saga, other}[opk]
					row := RSRStep{ID: id, VolumeID: v, State: st, OperatingSagaID: op, OldSnapshotVolumeID: osv}
					db.Steps = append(db.Steps, row)
					db.addLock(v, id)
					db.addLock(fxVolume(db), other)
					err := c.call(db, id, saga, osv)
					got := *db.Step(id)
					what := fmt.Sprintf("%s from %v op=%d osv=%d", c.name, st, opk, osv)
					switch {
					case c.guard(st, op, saga, osv):
						fxWant(t, what, err, ErrNone)
						wantOSV := osv
						if c.setsOSV {
							wantOSV = 600
						}
						if got.State != c.to || got.OperatingSagaID != c.toOp(saga, op) || got.OldSnapshotVolumeID != wantOSV {
							t.Fatalf("%s: row %+v", what, got)
						}
					case c.idem(st, op, saga):
						fxWant(t, what, err, ErrNone)
						if got != row {
							t.Fatalf("%s: idempotent Ok changed the row", what)
						}
					default:
						fxWant(t, what, err, ErrConflict)
						if got != row {
							t.Fatalf("%s: conflict changed the row", what)
						}
					}
					wantLocks := 2
					if c.release && err == nil {
						wantLocks = 1
					}
					if len(db.Locks) != wantLocks || (wantLocks == 1 && db.LockOn(v) != nil) {
						t.Fatalf("%s: locks %+v", what, db.Locks)
					}
				}
			}
		}
		db := fxDB()
		fxWant(t, c.name+" missing row", c.call(db, db.NewUUID(), db.NewUUID(), 0), ErrInternal)
	}
}

func TestStepRaces(t *testing.T) {
	// S4 against S1 (spec 10 §5.5 "Races the guards settle").
	db := fxDB()
	v := fxVolume(db)
	_, id, _ := db.CreateRSRStep(db.NewUUID(), v)
	saga := db.NewUUID()
	fxWant(t, "S1 wins", db.SetStepRunning(id, saga), ErrNone)
	fxWant(t, "S4 loses", db.SetStepVolumeDeletedFromRequested(id), ErrConflict)
	if !db.LockHeldBy(v, id) {
		t.Fatal("S4 conflict must keep the lock")
	}
	fxWant(t, "second saga S1", db.SetStepRunning(id, db.NewUUID()), ErrConflict)
	fxWant(t, "S2", db.SetStepComplete(id, saga, db.NewUUID()), ErrNone)
	fxWant(t, "S3", db.SetStepVolumeDeleted(id), ErrNone)
	fxWant(t, "S2 replay after S3", db.SetStepComplete(id, saga, db.NewUUID()), ErrConflict)
}

// ---------------------------------------------------------------------------
// region_replacement.rs (records and locks)

func TestRROneReplacementPerVolume(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	fxWant(t, "rr 1", db.InsertRRequest(db.NewRRequest(db.NewUUID(), v)), ErrNone)
	err := db.InsertRRequest(db.NewRRequest(db.NewUUID(), v))
	if !IsRepairLockConflict(err) {
		t.Fatalf("rr 2: want lock conflict, got %v", err)
	}
}

func TestRRReplacementDoneInMiddleOfDriveSaga(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	req := db.NewRRequest(db.NewUUID(), v)
	req.State = RRRunning
	fxWant(t, "insert", db.InsertRRequest(req), ErrNone)
	saga := db.NewUUID()
	fxWant(t, "driving", db.SetRRDriving(req.ID, saga), ErrNone)
	fxWant(t, "mark done while driving", db.MarkRRAsDone(req.ID), ErrConflict)
	r, _ := db.RRequestByID(req.ID)
	if r.State != RRDriving || r.OperatingSagaID != saga {
		t.Fatalf("row %+v", r)
	}
	fxWant(t, "undo driving", db.UndoSetRRDriving(req.ID, saga), ErrNone)
	fxWant(t, "mark done", db.MarkRRAsDone(req.ID), ErrNone)
	r, _ = db.RRequestByID(req.ID)
	if r.State != RRReplacementDone || r.OperatingSagaID != 0 {
		t.Fatalf("row %+v", r)
	}
}

func TestRRReplacementDoneInMiddleOfFinishSaga(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	req := db.NewRRequest(db.NewUUID(), v)
	req.State = RRReplacementDone
	fxWant(t, "insert", db.InsertRRequest(req), ErrNone)
	saga := db.NewUUID()
	fxWant(t, "completing", db.SetRRCompleting(req.ID, saga), ErrNone)
	fxWant(t, "completing other saga", db.SetRRCompleting(req.ID, db.NewUUID()), ErrConflict)
	fxWant(t, "mark done", db.MarkRRAsDone(req.ID), ErrConflict)
	fxWant(t, "complete", db.SetRRComplete(req.ID, saga), ErrNone)
	if db.LockOn(v) != nil {
		t.Fatal("complete must release the lock")
	}
	fxWant(t, "complete replay", db.SetRRComplete(req.ID, saga), ErrNone)
}

func TestRRLifecycleAndLocks(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	_, err := db.CreateRRequestForRegion(Region{ID: db.NewUUID(), VolumeID: v, ReadOnly: true})
	fxWant(t, "read-only region", err, ErrInvalidRequest)
	if len(db.Locks) != 0 {
		t.Fatal("lock taken for read-only region")
	}
	old := db.NewUUID()
	id, err := db.CreateRRequestForRegion(Region{ID: old, VolumeID: v})
	fxWant(t, "create", err, ErrNone)
	if !db.LockHeldBy(v, id) {
		t.Fatal("RR lock")
	}
	if r, ok := db.LookupRRByOldRegion(old); !ok || r.ID != id {
		t.Fatal("lookup by old region")
	}
	page, more := db.RequestedRRequestsPage(nil, 0)
	if more || len(page) != 1 {
		t.Fatal("requested page")
	}
	s1, s2 := db.NewUUID(), db.NewUUID()
	fxWant(t, "allocating", db.SetRRAllocating(id, s1), ErrNone)
	fxWant(t, "allocating replay", db.SetRRAllocating(id, s1), ErrNone)
	fxWant(t, "allocating other", db.SetRRAllocating(id, s2), ErrConflict)
	fxWant(t, "undo allocating", db.UndoSetRRAllocating(id, s1), ErrNone)
	fxWant(t, "undo allocating replay", db.UndoSetRRAllocating(id, s1), ErrNone)
	fxWant(t, "allocating", db.SetRRAllocating(id, s2), ErrNone)
	nr, tv := db.NewUUID(), db.NewUUID()
	fxWant(t, "running", db.SetRRRunning(id, s2, nr, tv), ErrNone)
	fxWant(t, "running replay", db.SetRRRunning(id, s2, nr, tv), ErrNone)
	fxWant(t, "running other region", db.SetRRRunning(id, s2, db.NewUUID(), tv), ErrConflict)
	if r, ok := db.LookupInProgressRRByNewRegion(nr); !ok || r.ID != id {
		t.Fatal("lookup by new region")
	}
	if len(db.RunningRRequests(nil)) != 1 {
		t.Fatal("running list")
	}
	fxWant(t, "driving", db.SetRRDriving(id, s1), ErrNone)
	fxWant(t, "to done", db.SetRRFromDrivingToDone(id, s1), ErrNone)
	fxWant(t, "to done replay", db.SetRRFromDrivingToDone(id, s1), ErrNone)
	if len(db.DoneRRequests(nil)) != 1 {
		t.Fatal("done list")
	}
	fxWant(t, "completing", db.SetRRCompleting(id, s2), ErrNone)
	fxWant(t, "undo completing", db.UndoSetRRCompleting(id, s2), ErrNone)
	fxWant(t, "completing", db.SetRRCompleting(id, s2), ErrNone)
	fxWant(t, "complete wrong saga", db.SetRRComplete(id, s1), ErrConflict)
	if !db.LockHeldBy(v, id) {
		t.Fatal("conflict must keep the lock")
	}
	fxWant(t, "complete", db.SetRRComplete(id, s2), ErrNone)
	if db.LockOn(v) != nil {
		t.Fatal("lock kept")
	}
	if _, ok := db.LookupInProgressRRByNewRegion(nr); ok {
		t.Fatal("complete request is not in progress")
	}
	fxWant(t, "missing", db.SetRRAllocating(db.NewUUID(), s1), ErrInternal)
}

func TestRRCompleteFromRequested(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	req := db.NewRRequest(db.NewUUID(), v)
	fxWant(t, "insert", db.InsertRRequest(req), ErrNone)
	saga := db.NewUUID()
	fxWant(t, "allocating", db.SetRRAllocating(req.ID, saga), ErrNone)
	fxWant(t, "from requested while allocating", db.SetRRCompleteFromRequested(req), ErrConflict)
	if !db.LockHeldBy(v, req.ID) {
		t.Fatal("conflict must keep the lock")
	}
	fxWant(t, "undo", db.UndoSetRRAllocating(req.ID, saga), ErrNone)
	fxHardDeleteVolume(db, v)
	fxWant(t, "from requested", db.SetRRCompleteFromRequested(req), ErrNone)
	if db.LockOn(v) != nil {
		t.Fatal("lock kept")
	}
	fxWant(t, "replay", db.SetRRCompleteFromRequested(req), ErrNone)
	req.State = RRRunning
	fxWant(t, "non-Requested input", db.SetRRCompleteFromRequested(req), ErrInternal)
}
