package model

// The volume repair "lock" (table volume_repair, primary key volume_id),
// modelled on nexus/db-queries/src/db/datastore/volume_repair.rs at
// 09b150f177 (spec 10 §4). Pre-fix behaviour (09b150f177^) is selected by
// Switches.LockWithoutVolume (#7) and Switches.RelockConflict (#8).

// Lock errors. Shared values: callers must never mutate them.
var (
	dsErrLockConflict = &Error{Class: ErrConflict, Msg: MsgVolumeRepairLock}
	dsErrLockNoVolume = &Error{Class: ErrInvalidRequest, Msg: "cannot create record: volume does not exist"}
	dsErrLockKeyInTxn = &Error{Class: ErrInternal, Msg: "duplicate key value violates unique constraint volume_repair_pkey"}
	dsErrDuplicateKey = &Error{Class: ErrInternal, Msg: "duplicate key value violates unique constraint"}
	errObjectMissing  = &Error{Class: ErrInternal, Msg: "not found"}
)

// lockCheck is the read-and-decide half of volume_repair_insert_in_txn
// (volume_repair.rs). It never writes: it reports whether the caller must
// append the lock row when the rest of its transaction succeeds, so a
// caller that fails later needs no rollback. standalone is true only for
// volume_repair_lock, the one caller that mapped the key violation to
// Conflict before the fix.
//
// Post-fix order: (1) a row (volume, repair) exists → Ok, nothing to insert
// (even if the volume has since been deleted); (2) no volume row →
// InvalidRequest (a soft-deleted volume may be locked); (3) another holder →
// Conflict "volume repair lock".
//
// Switch #8 (RelockConflict) skips (1), so a same-owner re-lock hits the key,
// and inside request/step/region-replacement insertion the key violation is
// Internal (parent: public_error_from_diesel(.., Server)); switch #7
// (LockWithoutVolume) skips (2).
func (db *DB) lockCheck(volume, repair UUID, standalone bool) (insert bool, err error) {
	sw := &db.Cfg.Switches
	held := db.LockOn(volume)
	if !sw.RelockConflict && held != nil && held.RepairID == repair {
		return false, nil
	}
	if !sw.LockWithoutVolume && db.Volume(volume) == nil {
		return false, dsErrLockNoVolume
	}
	if held != nil {
		if sw.RelockConflict && !standalone {
			return false, dsErrLockKeyInTxn
		}
		return false, dsErrLockConflict
	}
	return true, nil
}

// addLock appends a lock row; only call after lockCheck said insert.
// It also records a LockNote (did the volume row exist in this
// transaction?) for the EV-LOCK-MISSING oracle.
func (db *DB) addLock(volume, repair UUID) {
	db.Locks = append(db.Locks, Lock{VolumeID: volume, RepairID: repair})
	db.LockNotes = append(db.LockNotes, LockNote{Volume: volume, Repair: repair, VolumeExisted: db.Volume(volume) != nil})
}

// VolumeRepairLock models volume_repair_lock (volume_repair.rs): one [TXN]
// wrapping volume_repair_insert_in_txn. Errors: InvalidRequest (no volume
// row), Conflict "volume repair lock" (another holder).
func (db *DB) VolumeRepairLock(volume, repair UUID) error {
	ins, err := db.lockCheck(volume, repair, true)
	if err != nil {
		return err
	}
	if ins {
		db.addLock(volume, repair)
	}
	return nil
}

// VolumeRepairUnlock models volume_repair_unlock (volume_repair.rs), one
// [STMT]: delete the row matching both columns. A no-op when absent.
func (db *DB) VolumeRepairUnlock(volume, repair UUID) error {
	for i := range db.Locks {
		if db.Locks[i].VolumeID == volume && db.Locks[i].RepairID == repair {
			db.Locks = removeAt(db.Locks, i)
			return nil
		}
	}
	return nil
}

// deleteLocksByRepair deletes every volume_repair row whose repair_id is
// repair, whatever its volume: the first statement of the RSR "complete"
// transactions (R6, R7, S2, S4 and the pre-fix complete) in
// region_snapshot_replacement.rs. Runs inside the caller's [TXN].
func (db *DB) deleteLocksByRepair(repair UUID) {
	j := 0
	for i := range db.Locks {
		if db.Locks[i].RepairID != repair {
			db.Locks[j] = db.Locks[i]
			j++
		}
	}
	for k := j; k < len(db.Locks); k++ {
		db.Locks[k] = Lock{}
	}
	db.Locks = db.Locks[:j]
}

// LockHeldBy reports whether the lock row (volume, repair) exists
// (volume_repair_get, volume_repair.rs; unused by omicron at this commit,
// handy for checks).
func (db *DB) LockHeldBy(volume, repair UUID) bool {
	l := db.LockOn(volume)
	return l != nil && l.RepairID == repair
}
