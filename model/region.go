package model

import "github.com/oxide-sim/rsrsim/sim"

// Row operations on regions, region snapshots, snapshots, disks and images
// (spec 10 §6, spec 20 §9), modelled on nexus/db-queries/src/db/datastore/
// {region,region_snapshot,snapshot,disk,image}.rs at 09b150f177. Every
// method is one atomic step. omicron's ObjectNotFound (LookupPath,
// NotFoundByResource) is reported with class Internal and message "not
// found": spec 10 §0.3 keeps three classes and no caller here tells
// NotFound apart.

var (
	dsErrRegionMissing    = &Error{Class: ErrInternal, Msg: "region not found"}
	dsErrDatasetMissing   = &Error{Class: ErrInternal, Msg: "dataset not found"}
	dsErrDiskNotCreating  = &Error{Class: ErrInternal, Msg: "newly-created Disk has unexpected state"}
	dsErrDiskBadState     = &Error{Class: ErrInvalidRequest, Msg: "disk cannot be deleted in this state"}
	dsErrDiskAttached     = &Error{Class: ErrInvalidRequest, Msg: "disk is attached"}
	dsErrDiskCannotDelete = &Error{Class: ErrInternal, Msg: "disk exists, but cannot be deleted"}
	dsErrDiskCannotFault  = &Error{Class: ErrInternal, Msg: "disk exists, but cannot be faulted"}
	dsErrSnapNotCreating  = &Error{Class: ErrInternal, Msg: "newly-created Snapshot has unexpected state"}
	dsErrSnapBadState     = &Error{Class: ErrInvalidRequest, Msg: "snapshot cannot be deleted in this state"}
	dsErrSnapBadGen       = &Error{Class: ErrInvalidRequest, Msg: "snapshot cannot be deleted: mismatched generation"}
	dsErrSnapCannotDelete = &Error{Class: ErrInvalidRequest, Msg: "snapshot exists but cannot be deleted"}
)

// ---------------------------------------------------------------------------
// Regions (region.rs)

// GetAllocatedRegions models get_allocated_regions(volume) (region.rs), one
// [STMT]: every region (read/write and read-only) with that volume_id,
// joined with its dataset. The query has no ORDER BY: the order is drawn
// from the run's chooser (sim.KRow), spec 50 §8.4. Appends copies to dst.
func (db *DB) GetAllocatedRegions(dst []Region, volume UUID) []Region {
	start := len(dst)
	for i := range db.Regions {
		if db.Regions[i].VolumeID == volume && db.Dataset(db.Regions[i].DatasetID) != nil {
			dst = append(dst, db.Regions[i])
		}
	}
	if db.Ch != nil {
		got := dst[start:]
		for i := 0; i < len(got)-1; i++ {
			j := i + db.Ch.Choose(sim.KRow, len(got)-i)
			got[i], got[j] = got[j], got[i]
		}
	}
	return dst
}

// HasAllocatedRegions is get_allocated_regions(volume) (region.rs, one
// [STMT]) for callers that only test the result for emptiness (the
// volume-delete saga's last node, svd_hard_delete_volume_record): it draws
// no order, since no order can matter there.
func (db *DB) HasAllocatedRegions(volume UUID) bool {
	for i := range db.Regions {
		if db.Regions[i].VolumeID == volume && db.Dataset(db.Regions[i].DatasetID) != nil {
			return true
		}
	}
	return false
}

// GetRegion models get_region (region.rs), one [STMT]: Internal when
// missing.
func (db *DB) GetRegion(id UUID) (Region, error) {
	r := db.Region(id)
	if r == nil {
		return Region{}, dsErrRegionMissing
	}
	return *r, nil
}

// GetRegionOptional models get_region_optional (region.rs), one [STMT].
func (db *DB) GetRegionOptional(id UUID) (Region, bool) {
	r := db.Region(id)
	if r == nil {
		return Region{}, false
	}
	return *r, true
}

// RegionAddr models region_addr (region.rs): get_region (Internal if
// missing); no port recorded → (zero, false); else the dataset's IP and the
// port. Two reads in omicron ([MULTI]); the second reads a dataset row,
// which never changes, so one step is equivalent.
func (db *DB) RegionAddr(id UUID) (Addr, bool, error) {
	r := db.Region(id)
	if r == nil {
		return Addr{}, false, dsErrRegionMissing
	}
	if !r.HasPort {
		return Addr{}, false, nil
	}
	ds := db.Dataset(r.DatasetID)
	if ds == nil {
		return Addr{}, false, dsErrDatasetMissing
	}
	return Addr{IP: ds.IP, Port: r.Port}, true, nil
}

// RegionSetPort models region_set_port (region.rs), one [STMT]
// update-and-check filtering on the id only: an existing row always gets
// the port (overwriting an earlier one) and Ok; a missing row → Internal.
// The "Conflict if the port differs" branch is unreachable (spec 50 §3.4).
func (db *DB) RegionSetPort(id UUID, port uint16) error {
	r := db.Region(id)
	if r == nil {
		return dsErrRegionMissing
	}
	r.Port, r.HasPort = port, true
	return nil
}

// RegionsHardDelete models regions_hard_delete (region.rs), one [TXN]:
// delete the listed region rows by id with no guards (deleting, read_only,
// owner, region snapshots and usage rows ignored); missing ids are skipped;
// an empty list is a no-op. size_used is derived from the region rows, so
// nothing else changes. Idempotent.
func (db *DB) RegionsHardDelete(ids []UUID) error {
	if len(ids) == 0 {
		return nil
	}
	j := 0
	for i := range db.Regions {
		del := false
		for _, id := range ids {
			if db.Regions[i].ID == id {
				del = true
				break
			}
		}
		if !del {
			db.Regions[j] = db.Regions[i]
			j++
		}
	}
	for k := j; k < len(db.Regions); k++ {
		db.Regions[k] = Region{}
	}
	db.Regions = db.Regions[:j]
	return nil
}

// ---------------------------------------------------------------------------
// Region snapshots (region_snapshot.rs)

// RegionSnapshotCreate models region_snapshot_create (region_snapshot.rs),
// one [STMT]: insert with deleting = false; ON CONFLICT (key) DO NOTHING,
// so an existing row (any flag, any address) is left unchanged and Ok.
func (db *DB) RegionSnapshotCreate(k RSKey, addr Addr) error {
	if db.RegionSnapshot(k) != nil {
		return nil
	}
	db.RegionSnapshots = append(db.RegionSnapshots, RegionSnapshot{Key: k, Addr: addr})
	db.RSAddrs = append(db.RSAddrs, RegionSnapshot{Key: k, Addr: addr})
	return nil
}

// RSAddrOf returns the address a region snapshot had when it was created,
// even after its row is removed (oracles only: omicron keeps no such
// history).
func (db *DB) RSAddrOf(k RSKey) (Addr, bool) {
	for i := len(db.RSAddrs) - 1; i >= 0; i-- {
		if db.RSAddrs[i].Key == k {
			return db.RSAddrs[i].Addr, true
		}
	}
	return Addr{}, false
}

// RegionSnapshotGet models region_snapshot_get (region_snapshot.rs), one
// [STMT]. Rows with deleting = true are returned too.
func (db *DB) RegionSnapshotGet(k RSKey) (RegionSnapshot, bool) {
	rs := db.RegionSnapshot(k)
	if rs == nil {
		return RegionSnapshot{}, false
	}
	return *rs, true
}

// RegionSnapshotRemove models region_snapshot_remove (region_snapshot.rs),
// one [STMT]: delete by key with no guards (deleting flag and usage rows
// ignored). Idempotent. (omicron's test-build invariant check after it is an
// oracle here, not part of the operation.)
func (db *DB) RegionSnapshotRemove(k RSKey) error {
	for i := range db.RegionSnapshots {
		if db.RegionSnapshots[i].Key == k {
			db.RegionSnapshots = removeAt(db.RegionSnapshots, i)
			return nil
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Snapshots (snapshot.rs)

// SnapshotStateSet is a set of snapshot states (ok_to_delete_states).
type SnapshotStateSet uint8

// SnapshotStates builds a set.
func SnapshotStates(states ...SnapshotState) SnapshotStateSet {
	var s SnapshotStateSet
	for _, st := range states {
		s |= 1 << st
	}
	return s
}

// Has reports whether st is in the set.
func (s SnapshotStateSet) Has(st SnapshotState) bool { return s&(1<<st) != 0 }

// SnapshotGet models snapshot_get (snapshot.rs), one [STMT]: the row,
// soft-deleted included.
func (db *DB) SnapshotGet(id UUID) (Snapshot, bool) {
	s := db.Snapshot(id)
	if s == nil {
		return Snapshot{}, false
	}
	return *s, true
}

// SnapshotLookup models LookupPath::snapshot_id(id).fetch(), one [STMT]:
// the row if it exists and is not soft-deleted, else "not found"
// (Internal class).
func (db *DB) SnapshotLookup(id UUID) (Snapshot, error) {
	s := db.Snapshot(id)
	if s == nil || s.Deleted {
		return Snapshot{}, errObjectMissing
	}
	return *s, nil
}

// ProjectEnsureSnapshot models project_ensure_snapshot (snapshot.rs), one
// [TXN]: insert the row (state as given, normally Creating); if an
// undeleted row with that id exists it is returned instead (names are not
// modelled: the id stands for (project, name)). Then omicron's bail_unless:
// the returned row must be Creating with the given gen, else Internal. A
// soft-deleted row with the same id is a primary-key violation (Internal).
func (db *DB) ProjectEnsureSnapshot(s Snapshot) (Snapshot, error) {
	if ex := db.Snapshot(s.ID); ex != nil {
		if ex.Deleted {
			return Snapshot{}, dsErrDuplicateKey
		}
		if ex.State != SnapshotCreating || ex.Gen != s.Gen {
			return Snapshot{}, dsErrSnapNotCreating
		}
		return *ex, nil
	}
	db.Snapshots = dsInsertSorted(db.Snapshots, s)
	if s.State != SnapshotCreating {
		// The row was written; the caller still sees the error (bail_unless
		// runs after the insert committed).
		return Snapshot{}, dsErrSnapNotCreating
	}
	return s, nil
}

// SnapshotUpdateState models project_snapshot_update_state(id, old_gen,
// new_state) (snapshot.rs), one [STMT]: undeleted ∧ gen = oldGen → state :=
// newState, gen := oldGen+1, returning the row; no such row → "not found"
// (Internal class).
func (db *DB) SnapshotUpdateState(id UUID, oldGen uint32, newState SnapshotState) (Snapshot, error) {
	s := db.Snapshot(id)
	if s == nil || s.Deleted || s.Gen != oldGen {
		return Snapshot{}, errObjectMissing
	}
	s.State, s.Gen = newState, oldGen+1
	return *s, nil
}

// ProjectDeleteSnapshot models project_delete_snapshot(snapshot, gen,
// ok_to_delete_states) (snapshot.rs), one [STMT] update-and-check:
// undeleted ∧ gen ∧ state ∈ ok → time_deleted set, state Destroyed. Not
// updated: already deleted ∧ Destroyed → Ok (idempotent); state ∉ ok →
// InvalidRequest; gen differs → InvalidRequest; else InvalidRequest. A
// missing row → "not found" (Internal class).
func (db *DB) ProjectDeleteSnapshot(id UUID, gen uint32, ok SnapshotStateSet) error {
	s := db.Snapshot(id)
	if s == nil {
		return errObjectMissing
	}
	if !s.Deleted && s.Gen == gen && ok.Has(s.State) {
		s.Deleted, s.State = true, SnapshotDestroyed
		return nil
	}
	switch {
	case s.Deleted && s.State == SnapshotDestroyed:
		return nil
	case !ok.Has(s.State):
		return dsErrSnapBadState
	case s.Gen != gen:
		return dsErrSnapBadGen
	}
	return dsErrSnapCannotDelete
}

// FindSnapshotByDestinationVolumeID models
// find_snapshot_by_destination_volume_id (snapshot.rs), one [STMT], soft
// deleted rows included, ⚠first-row.
func (db *DB) FindSnapshotByDestinationVolumeID(volume UUID) (Snapshot, bool) {
	i := pickRow(db, db.Snapshots, func(s *Snapshot) bool { return s.DestinationVolumeID == volume })
	if i < 0 {
		return Snapshot{}, false
	}
	return db.Snapshots[i], true
}

// ---------------------------------------------------------------------------
// Disks (disk.rs)

// DiskStateSet is a set of disk states (ok_to_delete_states).
type DiskStateSet uint8

// DiskStates builds a set.
func DiskStates(states ...DiskState) DiskStateSet {
	var s DiskStateSet
	for _, st := range states {
		s |= 1 << st
	}
	return s
}

// Has reports whether st is in the set.
func (s DiskStateSet) Has(st DiskState) bool { return s&(1<<st) != 0 }

// ProjectCreateDisk models project_create_disk (disk.rs), one [STMT]:
// insert, ON CONFLICT (id) touch only, returning the row; then omicron's
// bail_unless: the row must be Creating with the given gen, else Internal.
// So a re-run before finalize returns the existing row.
func (db *DB) ProjectCreateDisk(d Disk) (Disk, error) {
	ex := db.Disk(d.ID)
	if ex == nil {
		db.Disks = dsInsertSorted(db.Disks, d)
		ex = db.Disk(d.ID)
	}
	if ex.State != DiskCreating || ex.Gen != d.Gen {
		return Disk{}, dsErrDiskNotCreating
	}
	return *ex, nil
}

// DiskLookup models LookupPath::disk_id(id).fetch(), one [STMT]: the row if
// it exists and is not soft-deleted, else "not found" (Internal class).
func (db *DB) DiskLookup(id UUID) (Disk, error) {
	d := db.Disk(id)
	if d == nil || d.Deleted {
		return Disk{}, errObjectMissing
	}
	return *d, nil
}

// DiskForVolumeID models disk_for_volume_id (disk.rs), one [STMT]: a disk
// with that volume_id, soft-deleted included, ⚠first-row; nil if none. The
// pointer is into the table: read it at once (valid until the next write).
func (db *DB) DiskForVolumeID(volume UUID) *Disk {
	if i := pickRow(db, db.Disks, func(d *Disk) bool { return d.VolumeID == volume }); i >= 0 {
		return &db.Disks[i]
	}
	return nil
}

// DiskDeleteNoAuth models project_delete_disk_no_auth(id, ok_states)
// (disk.rs), one [STMT] update-and-check: undeleted ∧ state ∈ ok ∧ not
// attached → state Destroyed, time_deleted set, returning the row. Not
// updated: deleted ∧ Destroyed → Ok; state ∉ ok → InvalidRequest;
// attached → InvalidRequest; else Internal. Missing → "not found".
func (db *DB) DiskDeleteNoAuth(id UUID, ok DiskStateSet) (Disk, error) {
	d := db.Disk(id)
	if d == nil {
		return Disk{}, errObjectMissing
	}
	if !d.Deleted && ok.Has(d.State) && d.AttachInstanceID == 0 {
		d.State, d.Deleted = DiskDestroyed, true
		return *d, nil
	}
	switch {
	case d.Deleted && d.State == DiskDestroyed:
		return *d, nil
	case !ok.Has(d.State):
		return Disk{}, dsErrDiskBadState
	case d.AttachInstanceID != 0 || d.State == DiskAttached:
		return Disk{}, dsErrDiskAttached
	}
	return Disk{}, dsErrDiskCannotDelete
}

// DiskUndeleteSetFaulted models project_undelete_disk_set_faulted_no_auth
// (disk.rs), one [STMT] update-and-check: deleted → undeleted, Faulted. Not
// updated: undeleted ∧ Faulted → Ok; else Internal. Missing → "not found".
func (db *DB) DiskUndeleteSetFaulted(id UUID) error {
	d := db.Disk(id)
	if d == nil {
		return errObjectMissing
	}
	if d.Deleted {
		d.Deleted, d.State = false, DiskFaulted
		return nil
	}
	if d.State == DiskFaulted {
		return nil
	}
	return dsErrDiskCannotFault
}

// DiskUpdateRuntime models disk_update_runtime(disk, new_runtime)
// (disk.rs), one [STMT] update-and-check: undeleted ∧ state_generation <
// newGen → state := newState, gen := newGen, returning true; an existing
// row that does not match → false. Missing → "not found". (Finalize
// Creating→Detached, Pantry attach Detached→Maintenance, detach and the
// Faulted marking all use it with gen = old gen + 1.)
func (db *DB) DiskUpdateRuntime(id UUID, newState DiskState, newGen uint32) (bool, error) {
	d := db.Disk(id)
	if d == nil {
		return false, errObjectMissing
	}
	if !d.Deleted && d.Gen < newGen {
		d.State, d.Gen = newState, newGen
		return true, nil
	}
	return false, nil
}

// ---------------------------------------------------------------------------
// Images (image.rs)

// ProjectImageCreate models project_image_create (image.rs), one [STMT]:
// insert, ON CONFLICT (id) touch only, returning the row.
func (db *DB) ProjectImageCreate(img Image) (Image, error) {
	if ex := db.Image(img.ID); ex != nil {
		return *ex, nil
	}
	db.Images = dsInsertSorted(db.Images, img)
	return img, nil
}

// ImageLookup models LookupPath::image_id(id).fetch(), one [STMT]: the row
// if it exists and is not soft-deleted, else "not found".
func (db *DB) ImageLookup(id UUID) (Image, error) {
	img := db.Image(id)
	if img == nil || img.Deleted {
		return Image{}, errObjectMissing
	}
	return *img, nil
}

// ImageDelete models image_delete (image.rs), one [STMT]: set time_deleted
// with no guard (0 rows is Ok). Idempotent.
func (db *DB) ImageDelete(id UUID) error {
	if img := db.Image(id); img != nil {
		img.Deleted = true
	}
	return nil
}
