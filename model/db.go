package model

import "github.com/oxide-sim/rsrsim/sim"

// DB is the whole simulated database plus the Crucible agents' state. Each
// table is a slice kept in ascending id order (ids only grow, so an insert
// appends); iteration is always over these slices, never over a map, so a
// run is deterministic. Tables are small (tens to hundreds of rows): linear
// scans are cheaper than indexes at this size.
type DB struct {
	Cfg Config
	// Ch is the run's single source of choices. "First row" queries with
	// several matches and allocation candidates draw from it.
	Ch sim.Chooser

	nextUUID UUID

	Volumes         []Volume
	Regions         []Region
	RegionSnapshots []RegionSnapshot
	Usages          []Usage
	Locks           []Lock
	Requests        []RSRequest
	Steps           []RSRStep
	RRequests       []RRequest
	Snapshots       []Snapshot
	Disks           []Disk
	Images          []Image

	Sleds         []Sled
	PhysicalDisks []PhysicalDisk
	Zpools        []Zpool
	Datasets      []Dataset

	Agent Agent

	// RepairFinished lists the new regions with a Succeeded
	// upstairs_repair_notification (the only notification the RR driver
	// reads).
	RepairFinished []UUID
	// RSAddrs records every region snapshot's address as it was created
	// (not a table: the oracles use it once the row is gone).
	RSAddrs []RegionSnapshot
	// LockNotes records, per lock insertion, whether the volume row
	// existed in that transaction (drained by the EV-LOCK-MISSING oracle).
	LockNotes []LockNote
}

// LockNote is one repair-lock insertion as the transaction saw it.
type LockNote struct {
	Volume, Repair UUID
	VolumeExisted  bool
}

// NewDB returns an empty database for cfg drawing choices from ch.
func NewDB(cfg Config, ch sim.Chooser) *DB {
	return &DB{Cfg: cfg, Ch: ch}
}

// NewUUID returns a fresh id. Every id omicron draws with Uuid::new_v4 comes
// from here, so ids are unique across all tables and never reused.
func (db *DB) NewUUID() UUID {
	db.nextUUID++
	return db.nextUUID
}

// pick returns one index of n matches, drawn from the run's choices: the
// model of a "get one result" query with no ORDER BY (spec 10 §0.4).
func (db *DB) pick(n int) int {
	if n <= 1 || db.Ch == nil {
		return 0
	}
	return db.Ch.Choose(sim.KRow, n)
}

// pickRow is a ⚠first-row query over rows: among the rows that match, in
// table order, it returns the index of the one the run's choices pick (a
// KRow decision, none for a single match), or -1 when none matches.
func pickRow[T any](db *DB, rows []T, match func(*T) bool) int {
	n := 0
	for i := range rows {
		if match(&rows[i]) {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	k := db.pick(n)
	for i := range rows {
		if match(&rows[i]) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

// Volume returns the volume row with id, or nil if it is absent
// (hard-deleted or never created).
func (db *DB) Volume(id UUID) *Volume {
	for i := range db.Volumes {
		if db.Volumes[i].ID == id {
			return &db.Volumes[i]
		}
	}
	return nil
}

// Region returns the region row with id, or nil.
func (db *DB) Region(id UUID) *Region {
	for i := range db.Regions {
		if db.Regions[i].ID == id {
			return &db.Regions[i]
		}
	}
	return nil
}

// RegionSnapshot returns the region_snapshot row with key k, or nil.
func (db *DB) RegionSnapshot(k RSKey) *RegionSnapshot {
	for i := range db.RegionSnapshots {
		if db.RegionSnapshots[i].Key == k {
			return &db.RegionSnapshots[i]
		}
	}
	return nil
}

// Request returns the region_snapshot_replacement row with id, or nil.
func (db *DB) Request(id UUID) *RSRequest {
	for i := range db.Requests {
		if db.Requests[i].ID == id {
			return &db.Requests[i]
		}
	}
	return nil
}

// Step returns the region_snapshot_replacement_step row with id, or nil.
func (db *DB) Step(id UUID) *RSRStep {
	for i := range db.Steps {
		if db.Steps[i].ID == id {
			return &db.Steps[i]
		}
	}
	return nil
}

// Snapshot returns the snapshot row with id, or nil.
func (db *DB) Snapshot(id UUID) *Snapshot {
	for i := range db.Snapshots {
		if db.Snapshots[i].ID == id {
			return &db.Snapshots[i]
		}
	}
	return nil
}

// Disk returns the disk row with id, or nil.
func (db *DB) Disk(id UUID) *Disk {
	for i := range db.Disks {
		if db.Disks[i].ID == id {
			return &db.Disks[i]
		}
	}
	return nil
}

// Image returns the image row with id, or nil.
func (db *DB) Image(id UUID) *Image {
	for i := range db.Images {
		if db.Images[i].ID == id {
			return &db.Images[i]
		}
	}
	return nil
}

// Dataset returns the dataset row with id, or nil.
func (db *DB) Dataset(id UUID) *Dataset {
	for i := range db.Datasets {
		if db.Datasets[i].ID == id {
			return &db.Datasets[i]
		}
	}
	return nil
}

// LockOn returns the volume_repair row for volume, or nil.
func (db *DB) LockOn(volume UUID) *Lock {
	for i := range db.Locks {
		if db.Locks[i].VolumeID == volume {
			return &db.Locks[i]
		}
	}
	return nil
}

// removeAt deletes element i of s keeping order.
func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}

// HasRepairFinishNotification models
// request_has_matching_successful_finish_notification (region_replacement.rs),
// one [STMT]: some Succeeded upstairs_repair_notification names region.
func (db *DB) HasRepairFinishNotification(region UUID) bool {
	for _, r := range db.RepairFinished {
		if r == region {
			return true
		}
	}
	return false
}

// AddRepairFinishNotification models the Upstairs' repair-finish callback
// (upstairs_repair_notification, one [TXN]): record a Succeeded
// notification for region (idempotent).
func (db *DB) AddRepairFinishNotification(region UUID) {
	if !db.HasRepairFinishNotification(region) {
		db.RepairFinished = append(db.RepairFinished, region)
	}
}
