package model

import (
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// ---------------------------------------------------------------------------
// Fixtures shared by lock_test.go, rsr_test.go, alloc_test.go, agent_test.go.

// fxChooser returns scripted values (reduced modulo n), then 0.
type fxChooser struct {
	vals  []int
	i     int
	kinds []sim.Kind
}

func (c *fxChooser) Choose(k sim.Kind, n int) int {
	c.kinds = append(c.kinds, k)
	if n <= 1 {
		return 0
	}
	if c.i >= len(c.vals) {
		return 0
	}
	v := c.vals[c.i] % n
	c.i++
	return v
}

func fxDB() *DB { return NewDB(Config{}, sim.NewPRNG(1)) }

func fxDBCfg(cfg Config) *DB { return NewDB(cfg, sim.NewPRNG(1)) }

// fxVolume appends a live volume row with an empty VCR (the volume half's
// VolumeCreate is not used here).
func fxVolume(db *DB) UUID {
	id := db.NewUUID()
	db.Volumes = append(db.Volumes, Volume{ID: id, Data: &VCR{Kind: VCRVolume, ID: id}})
	return id
}

func fxHardDeleteVolume(db *DB, id UUID) {
	for i := range db.Volumes {
		if db.Volumes[i].ID == id {
			db.Volumes = removeAt(db.Volumes, i)
			return
		}
	}
}

func fxClass(err error) ErrClass {
	if err == nil {
		return ErrNone
	}
	e, ok := err.(*Error)
	if !ok {
		return 255
	}
	return e.Class
}

func fxWant(t *testing.T, what string, err error, want ErrClass) {
	t.Helper()
	if got := fxClass(err); got != want {
		t.Fatalf("%s: got class %d (%v), want %d", what, got, err, want)
	}
}

// ---------------------------------------------------------------------------
// volume_repair.rs tests (omicron, 09b150f177)

func TestVolumeLockConflictErrorReturned(t *testing.T) {
	db := fxDB()
	v := fxVolume(db)
	l1, l2 := db.NewUUID(), db.NewUUID()
	fxWant(t, "lock 1", db.VolumeRepairLock(v, l1), ErrNone)
	err := db.VolumeRepairLock(v, l2)
	fxWant(t, "lock 2", err, ErrConflict)
	if !IsRepairLockConflict(err) {
		t.Fatalf("want the benign %q conflict, got %v", MsgVolumeRepairLock, err)
	}
	if !db.LockHeldBy(v, l1) || len(db.Locks) != 1 {
		t.Fatalf("lock rows changed: %+v", db.Locks)
	}
}

func TestVolumeLockShouldFailWithoutVolume(t *testing.T) {
	db := fxDB()
	v, l := db.NewUUID(), db.NewUUID()
	fxWant(t, "lock missing volume", db.VolumeRepairLock(v, l), ErrInvalidRequest)
	if len(db.Locks) != 0 {
		t.Fatalf("lock written: %+v", db.Locks)
	}
	// hard-deleted volume: same
	v2 := fxVolume(db)
	fxHardDeleteVolume(db, v2)
	fxWant(t, "lock hard-deleted volume", db.VolumeRepairLock(v2, l), ErrInvalidRequest)
}

func TestVolumeLockRelockAllowed(t *testing.T) {
	db := fxDB()
	v, l := fxVolume(db), db.NewUUID()
	fxWant(t, "lock", db.VolumeRepairLock(v, l), ErrNone)
	fxWant(t, "relock", db.VolumeRepairLock(v, l), ErrNone)
	if len(db.Locks) != 1 {
		t.Fatalf("want one lock row, got %+v", db.Locks)
	}
}

func TestVolumeLockSoftDeletedAllowed(t *testing.T) {
	db := fxDB()
	v, l := fxVolume(db), db.NewUUID()
	db.Volume(v).SoftDeleted = true
	fxWant(t, "lock soft-deleted", db.VolumeRepairLock(v, l), ErrNone)
	if !db.LockHeldBy(v, l) {
		t.Fatal("lock not taken")
	}
}

func TestVolumeRelockAfterHardDelete(t *testing.T) {
	// Re-lock of the same (volume, repair) is Ok even if the volume has
	// since been hard-deleted (check 1 comes before the volume check).
	db := fxDB()
	v, l := fxVolume(db), db.NewUUID()
	fxWant(t, "lock", db.VolumeRepairLock(v, l), ErrNone)
	fxHardDeleteVolume(db, v)
	fxWant(t, "relock", db.VolumeRepairLock(v, l), ErrNone)
	fxWant(t, "other holder", db.VolumeRepairLock(v, db.NewUUID()), ErrInvalidRequest)
}

func TestVolumeRepairUnlock(t *testing.T) {
	db := fxDB()
	v, l, other := fxVolume(db), db.NewUUID(), db.NewUUID()
	fxWant(t, "unlock absent", db.VolumeRepairUnlock(v, l), ErrNone)
	fxWant(t, "lock", db.VolumeRepairLock(v, l), ErrNone)
	fxWant(t, "unlock wrong repair", db.VolumeRepairUnlock(v, other), ErrNone)
	if !db.LockHeldBy(v, l) {
		t.Fatal("unlock with another repair id removed the lock")
	}
	fxWant(t, "unlock wrong volume", db.VolumeRepairUnlock(other, l), ErrNone)
	if !db.LockHeldBy(v, l) {
		t.Fatal("unlock of another volume removed the lock")
	}
	fxWant(t, "unlock", db.VolumeRepairUnlock(v, l), ErrNone)
	if db.LockOn(v) != nil {
		t.Fatal("lock kept")
	}
	fxWant(t, "unlock twice", db.VolumeRepairUnlock(v, l), ErrNone)
}

func TestDeleteLocksByRepair(t *testing.T) {
	db := fxDB()
	a, b, c := fxVolume(db), fxVolume(db), fxVolume(db)
	r, other := db.NewUUID(), db.NewUUID()
	db.addLock(a, r)
	db.addLock(b, other)
	db.addLock(c, r)
	db.deleteLocksByRepair(r)
	if len(db.Locks) != 1 || !db.LockHeldBy(b, other) {
		t.Fatalf("want only (b, other) left, got %+v", db.Locks)
	}
}

// ---------------------------------------------------------------------------
// Switch #7 LockWithoutVolume

func TestSwitchLockWithoutVolume(t *testing.T) {
	sw := Config{Switches: Switches{LockWithoutVolume: true}}

	db := fxDBCfg(sw)
	v, l := db.NewUUID(), db.NewUUID()
	fxWant(t, "pre-fix lock of missing volume", db.VolumeRepairLock(v, l), ErrNone)
	if !db.LockHeldBy(v, l) {
		t.Fatal("pre-fix lock not taken")
	}

	// Request path: a soft-deleted snapshot whose volume is hard-deleted.
	for _, pre := range []bool{false, true} {
		cfg := Config{}
		if pre {
			cfg = sw
		}
		db := fxDBCfg(cfg)
		sv := db.NewUUID() // never created / hard-deleted
		snap := db.NewUUID()
		db.Snapshots = append(db.Snapshots, Snapshot{ID: snap, VolumeID: sv, State: SnapshotDestroyed, Deleted: true})
		_, err := db.CreateRSRequest(RSKey{DatasetID: 1, RegionID: 2, SnapshotID: snap})
		if pre {
			fxWant(t, "pre-fix request for missing volume", err, ErrNone)
			if len(db.Requests) != 1 || db.LockOn(sv) == nil {
				t.Fatal("pre-fix: request and lock expected")
			}
		} else {
			fxWant(t, "request for missing volume", err, ErrInvalidRequest)
			if len(db.Requests) != 0 || len(db.Locks) != 0 {
				t.Fatal("post-fix: nothing may be written")
			}
		}
		// Step path.
		_, _, err = db.CreateRSRStep(db.NewUUID(), db.NewUUID())
		if pre {
			fxWant(t, "pre-fix step for missing volume", err, ErrNone)
		} else {
			fxWant(t, "step for missing volume", err, ErrInvalidRequest)
			if len(db.Steps) != 0 {
				t.Fatal("post-fix: step written")
			}
		}
		// Region replacement path.
		err = db.InsertRRequest(db.NewRRequest(db.NewUUID(), db.NewUUID()))
		if pre {
			fxWant(t, "pre-fix RR for missing volume", err, ErrNone)
		} else {
			fxWant(t, "RR for missing volume", err, ErrInvalidRequest)
		}
	}
}

// ---------------------------------------------------------------------------
// Switch #8 RelockConflict

func TestSwitchRelockConflict(t *testing.T) {
	db := fxDBCfg(Config{Switches: Switches{RelockConflict: true}})
	v, l := fxVolume(db), db.NewUUID()
	fxWant(t, "lock", db.VolumeRepairLock(v, l), ErrNone)
	err := db.VolumeRepairLock(v, l)
	fxWant(t, "pre-fix relock", err, ErrConflict)
	if !IsRepairLockConflict(err) {
		t.Fatalf("pre-fix volume_repair_lock key violation must be the lock conflict, got %v", err)
	}
	if !db.LockHeldBy(v, l) || len(db.Locks) != 1 {
		t.Fatal("lock rows changed")
	}

	// Inside step / request / RR insertion the key violation is Internal
	// pre-fix, Conflict post-fix.
	for _, pre := range []bool{false, true} {
		cfg := Config{Switches: Switches{RelockConflict: pre}}
		db := fxDBCfg(cfg)
		v := fxVolume(db)
		fxWant(t, "holder", db.VolumeRepairLock(v, db.NewUUID()), ErrNone)
		want := ErrConflict
		if pre {
			want = ErrInternal
		}
		_, _, err := db.CreateRSRStep(db.NewUUID(), v)
		fxWant(t, "step on locked volume", err, want)
		if IsRepairLockConflict(err) == pre {
			t.Fatalf("pre=%v: benign-conflict detection wrong for %v", pre, err)
		}
		err = db.InsertRSRequestWithVolumeID(db.NewRSRequest(RSKey{1, 2, 3}), v)
		fxWant(t, "request on locked volume", err, want)
		err = db.InsertRRequest(db.NewRRequest(db.NewUUID(), v))
		fxWant(t, "RR on locked volume", err, want)
		if len(db.Steps)+len(db.Requests)+len(db.RRequests) != 0 || len(db.Locks) != 1 {
			t.Fatal("failed insertions wrote rows")
		}
	}

	// A re-run of a step insertion with the same step (crash replay of the
	// transaction's caller) post-fix: check 2 sees the step itself.
	db = fxDB()
	v = fxVolume(db)
	step := db.NewRSRStep(db.NewUUID(), v)
	res, _, err := db.InsertRSRStep(step)
	if err != nil || res != StepInserted {
		t.Fatalf("insert: %v %v", res, err)
	}
	res, id, err := db.InsertRSRStep(step)
	if err != nil || res != StepAlreadyHandled || id != step.ID {
		t.Fatalf("re-insert: %v %v %v", res, id, err)
	}
}

func TestSwitchRelockConflictRequestReRun(t *testing.T) {
	// Post-fix, re-running the request transaction with the same request
	// re-locks fine and then fails on the request's primary key (Internal),
	// leaving the lock as it was.
	db := fxDB()
	v := fxVolume(db)
	req := db.NewRSRequest(RSKey{1, 2, 3})
	fxWant(t, "insert", db.InsertRSRequestWithVolumeID(req, v), ErrNone)
	fxWant(t, "re-insert", db.InsertRSRequestWithVolumeID(req, v), ErrInternal)
	if len(db.Requests) != 1 || !db.LockHeldBy(v, req.ID) {
		t.Fatal("state changed by failed re-insert")
	}
}
