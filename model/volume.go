package model

// The volume datastore operations of spec 10 §3, modelled on
// nexus/db-queries/src/db/datastore/volume.rs at 09b150f177. Every method
// is exactly one atomic step (one [TXN] or one [STMT]); the only [MULTI]
// operation, volume_checkout_randomize_ids, is exposed as its two steps,
// and find_volumes_referencing_socket_addr as one step per page.
//
// Transactions are all-or-nothing: each one either validates everything
// before its first write, or (soft_delete_volume, whose later reads see its
// earlier writes) keeps an undo journal and rolls back on error.
//
// omicron's test-build validate_volume_invariants, which runs at the end of
// several of these transactions, is not a guard here: it is an oracle
// (stateinv.go).

// Errors of the volume operations. Every class is what omicron's caller
// sees (spec 10 §0.3): the transaction's own error enums all map to
// Internal, except the ReadOnlyCopy checkout condition (Conflict).
var (
	errVolumeNotFound       = &Error{Class: ErrInternal, Msg: "volume not found"}
	errCouldNotFindResource = &Error{Class: ErrInternal, Msg: "could not find resource"}
	errUsageDeleteCount     = &Error{Class: ErrInternal, Msg: "UnexpectedDatabaseUpdate: volume_resource_usage"}
	errSetDeletingRegion    = &Error{Class: ErrInternal, Msg: "UnexpectedDatabaseUpdate: setting deleting (region)"}
	errSetDeletingRS        = &Error{Class: ErrInternal, Msg: "UnexpectedDatabaseUpdate: setting deleting (region snapshot)"}
	errNonReadOnlyCheckout  = &Error{Class: ErrConflict, Msg: "Non-read-only Volume Checkout for use Copy!"}
	errReplacedTargets      = &Error{Class: ErrInternal, Msg: "UnexpectedReplacedTargets"}
	errStashUpdate          = &Error{Class: ErrInternal, Msg: "UnexpectedDatabaseUpdate: volume to delete"}
	errUsageSwapNotFound    = &Error{Class: ErrInternal, Msg: "NotFound: volume_resource_usage"}
	errMultipleUsage        = &Error{Class: ErrInternal, Msg: "MultipleResourceUsageRecords"}
	errBothRegionsInVCR     = &Error{Class: ErrInternal, Msg: "old_region_in_vcr && new_region_in_vcr"}
	errNeitherRegionInVCR   = &Error{Class: ErrInternal, Msg: "!old_region_in_vcr && !new_region_in_vcr"}
	errROPTempUpdate        = &Error{Class: ErrInternal, Msg: "UnexpectedDatabaseUpdate: temp volume"}
)

// CheckoutReason is VolumeCheckoutReason (volume.rs).
type CheckoutReason uint8

const (
	CheckoutReadOnlyCopy CheckoutReason = iota
	CheckoutCopyAndModify
	// The instance and Pantry reasons check instance and Propolis state,
	// which is out of scope (spec 10 §8): they are always allowed.
	CheckoutInstanceStart
	CheckoutInstanceMigrate
	CheckoutPantry
)

// VolumeReplaceResult is VolumeReplaceResult (volume.rs), the result of
// volume_replace_region and volume_replace_snapshot.
type VolumeReplaceResult uint8

const (
	ReplaceAlreadyHappened VolumeReplaceResult = iota
	ReplaceDone
	ReplaceExistingVolumeSoftDeleted
	ReplaceExistingVolumeHardDeleted
)

var replaceResultNames = [...]string{"AlreadyHappened", "Done", "ExistingVolumeSoftDeleted", "ExistingVolumeHardDeleted"}

func (r VolumeReplaceResult) String() string { return replaceResultNames[r] }

// VolumeReplacementParams is VolumeReplacementParams (volume.rs): one side
// of a read/write region replacement.
type VolumeReplacementParams struct {
	VolumeID   UUID
	RegionID   UUID
	RegionAddr Addr
}

// FreedRegion is one (dataset, region) entry of find_deleted_volume_regions,
// with the region's owning volume.
type FreedRegion struct {
	DatasetID UUID
	RegionID  UUID
	// VolumeID is the region's owning volume (always an existing,
	// soft-deleted row at the time of the call). Post-fix it is
	// informational; pre-fix (PerRegionVolumes) the saga hard-deletes it
	// right after deleting this region.
	VolumeID UUID
}

// FreedResources is the result of find_deleted_volume_regions.
//
// Post-fix (FreedCrucibleResources at 09b150f177): Regions to delete and,
// separately, Volumes to hard-delete after all the regions.
// Pre-fix (Switches.PrematureVolumeHardDelete, the Vec<(Dataset, Region,
// Option<Volume>)> of 09b150f177^): PerRegionVolumes is set, Volumes is nil,
// and each region's VolumeID is to be hard-deleted right after that region.
type FreedResources struct {
	Regions          []FreedRegion
	Volumes          []UUID
	PerRegionVolumes bool
}

// ---------------------------------------------------------------------------
// Table helpers (inside the calling step).

// insertVolume inserts v keeping db.Volumes in ascending id order (a volume
// id is drawn long before its row is created, so rows do not always come
// in id order).
func (db *DB) insertVolume(v Volume) {
	i := len(db.Volumes)
	for i > 0 && db.Volumes[i-1].ID > v.ID {
		i--
	}
	db.Volumes = append(db.Volumes, Volume{})
	copy(db.Volumes[i+1:], db.Volumes[i:])
	db.Volumes[i] = v
}

// countUsage counts usage rows (vol, res).
func (db *DB) countUsage(res Resource, vol UUID) int {
	n := 0
	for i := range db.Usages {
		if db.Usages[i].VolumeID == vol && db.Usages[i].Res == res {
			n++
		}
	}
	return n
}

// countUsageAll counts the usage rows of res for any volume. Rows marked
// deleted inside soft_delete_volume (VolumeID 0) do not count.
func (db *DB) countUsageAll(res Resource) int {
	n := 0
	for i := range db.Usages {
		if db.Usages[i].Res == res && db.Usages[i].VolumeID != 0 {
			n++
		}
	}
	return n
}

// swapUsage moves every usage row (from, res) to volume to and returns the
// number of rows matched.
func (db *DB) swapUsage(res Resource, from, to UUID) int {
	n := 0
	for i := range db.Usages {
		u := &db.Usages[i]
		if u.VolumeID == from && u.Res == res {
			u.VolumeID = to
			n++
		}
	}
	return n
}

// addUsage inserts a usage row (vol, res) with a fresh usage_id.
func (db *DB) addUsage(vol UUID, res Resource) {
	db.Usages = append(db.Usages, Usage{UsageID: db.NewUUID(), VolumeID: vol, Res: res})
}

// regionHasSnapshots reports whether any region_snapshot row, whatever its
// deleting flag, has this region_id (soft_delete_volume's count, which
// filters on region_id only).
func (db *DB) regionHasSnapshots(region UUID) bool {
	for i := range db.RegionSnapshots {
		if db.RegionSnapshots[i].Key.RegionID == region {
			return true
		}
	}
	return false
}

// regionHasSnapshotsOn is find_deleted_volume_regions' left join: any
// region_snapshot row with (region_id, dataset_id), whatever its deleting
// flag.
func (db *DB) regionHasSnapshotsOn(region, dataset UUID) bool {
	for i := range db.RegionSnapshots {
		k := db.RegionSnapshots[i].Key
		if k.RegionID == region && k.DatasetID == dataset {
			return true
		}
	}
	return false
}

func (db *DB) volumePageSize() int {
	if ps := db.Cfg.Options.PageSize; ps > 0 {
		return ps
	}
	return 1000 // SQL_BATCH_SIZE
}

// ---------------------------------------------------------------------------
// volume_create, volume_get, volume_deleted, volume_hard_delete

// VolumeCreate models DataStore::volume_create (volume.rs), one [TXN]
// (the read-only targets are listed before the transaction, from the
// argument). If a row with id exists, in any state, nothing happens and the
// call succeeds. Otherwise the row is inserted live, and every read-only
// target occurrence (duplicates included, breadth-first order) is resolved
// and gets one usage row; a target that does not resolve fails the whole
// transaction with Internal ("CouldNotFindResource") and nothing is
// written. data becomes the row's VCR: the caller must not change it
// afterwards.
func (db *DB) VolumeCreate(id UUID, data *VCR) error {
	var tb [24]Addr
	targets := ReadOnlyTargets(tb[:0], data)
	if db.Volume(id) != nil {
		return nil
	}
	var rb [24]Resource
	res := rb[:0]
	for _, t := range targets {
		r, ok := db.resolveRO(t, true)
		if !ok {
			return errCouldNotFindResource
		}
		res = append(res, r)
	}
	db.insertVolume(Volume{ID: id, Data: data})
	for _, r := range res {
		db.addUsage(id, r)
	}
	return nil
}

// VolumeGet models DataStore::volume_get (volume.rs), one [STMT]: the row,
// soft-deleted included; false if hard-deleted. The copy shares the
// (immutable) VCR.
func (db *DB) VolumeGet(id UUID) (Volume, bool) {
	if v := db.Volume(id); v != nil {
		return *v, true
	}
	return Volume{}, false
}

// VolumeDeleted models DataStore::volume_deleted (volume.rs), one [STMT]
// (through volume_get): true if soft- or hard-deleted.
func (db *DB) VolumeDeleted(id UUID) bool {
	v := db.Volume(id)
	return v == nil || v.SoftDeleted
}

// VolumeStateOf returns the volume's observable state (a read, one
// [STMT]).
func (db *DB) VolumeStateOf(id UUID) VolumeState {
	v := db.Volume(id)
	switch {
	case v == nil:
		return VolumeHardDeleted
	case v.SoftDeleted:
		return VolumeSoftDeleted
	}
	return VolumeLive
}

// ReadOnlyResourcesAssociatedWithVolume models the DataStore method
// read_only_resources_associated_with_volume (volume.rs), one [STMT]
// (volume_get): appends the VCR's read-only targets to dst, unresolved;
// nothing for a hard-deleted volume.
func (db *DB) ReadOnlyResourcesAssociatedWithVolume(dst []Addr, id UUID) []Addr {
	v := db.Volume(id)
	if v == nil {
		return dst
	}
	return ReadOnlyTargets(dst, v.Data)
}

// VolumeHardDelete models DataStore::volume_hard_delete (volume.rs), one
// [STMT]: removes the row if present, with no guard and no cascade (usage
// rows, regions, locks and steps naming it stay). Always succeeds.
func (db *DB) VolumeHardDelete(id UUID) {
	for i := range db.Volumes {
		if db.Volumes[i].ID == id {
			db.Volumes = removeAt(db.Volumes, i)
			return
		}
	}
}

// ---------------------------------------------------------------------------
// volume_checkout, volume_checkout_randomize_ids

// VolumeCheckout models DataStore::volume_checkout (volume.rs), one [TXN].
// The row must exist (soft-deleted is accepted); a missing row is Internal
// (NotFound). ReadOnlyCopy requires volume_is_read_only: false gives
// Conflict "Non-read-only Volume Checkout for use Copy!", an invalid VCR
// (top-level Region, non-Region sub-volume) Internal. Other reasons are
// allowed. Then, for a Volume with at least one Region among its top-level
// sub_volumes, every such Region's gen goes up by one and the row is
// rewritten (nested levels untouched); a top-level Region is Internal. It
// returns the VCR as it was before the bump.
func (db *DB) VolumeCheckout(id UUID, reason CheckoutReason) (*VCR, error) {
	v := db.Volume(id)
	if v == nil {
		return nil, errVolumeNotFound
	}
	old := v.Data
	if reason == CheckoutReadOnlyCopy {
		ro, err := VolumeIsReadOnly(old)
		if err != nil {
			return nil, err
		}
		if !ro {
			return nil, errNonReadOnlyCheckout
		}
	}
	if old == nil {
		return nil, nil
	}
	switch old.Kind {
	case VCRVolume:
		bump := false
		for _, s := range old.SubVolumes {
			if s.Kind == VCRRegion {
				bump = true
				break
			}
		}
		if bump {
			nv := *old
			nv.SubVolumes = make([]*VCR, len(old.SubVolumes))
			for i, s := range old.SubVolumes {
				if s.Kind == VCRRegion {
					c := *s
					c.Gen++
					nv.SubVolumes[i] = &c
				} else {
					nv.SubVolumes[i] = s
				}
			}
			v.Data = &nv
		}
	case VCRRegion:
		return nil, errVCRTopLevelRegion
	}
	return old, nil
}

// VolumeCheckoutRandomizeIDsCheckout is the first step of the [MULTI]
// DataStore::volume_checkout_randomize_ids (volume.rs): volume_checkout
// (one [TXN]), then, outside any transaction, randomize_ids on the result
// (Internal if a Region is read/write). The caller runs
// VolumeCheckoutRandomizeIDsCreate as a later, separate step.
func (db *DB) VolumeCheckoutRandomizeIDsCheckout(id UUID, reason CheckoutReason) (*VCR, error) {
	vcr, err := db.VolumeCheckout(id, reason)
	if err != nil {
		return nil, err
	}
	return RandomizeIDs(vcr, db.NewUUID)
}

// VolumeCheckoutRandomizeIDsCreate is the second step of
// volume_checkout_randomize_ids: volume_create (one [TXN]) of a new volume
// with a fresh id (distinct from the VCR's own randomized top-level id, as
// in omicron). It returns the new volume id.
func (db *DB) VolumeCheckoutRandomizeIDsCreate(vcr *VCR) (UUID, error) {
	id := db.NewUUID()
	return id, db.VolumeCreate(id, vcr)
}

// ---------------------------------------------------------------------------
// soft_delete_volume

// SoftDeleteVolume models DataStore::soft_delete_volume (volume.rs), one
// [TXN]: the "decrease crucible resource count" operation.
//
//   - hard-deleted volume: empty resources, no writes;
//   - already soft-deleted: the stored resources_to_clean_up (empty if
//     NULL), no writes (idempotent replay);
//   - top-level Region: Internal.
//
// Otherwise, first every read/write target (sub_volumes, any depth) must
// resolve (Internal if not), and its region is freed only if no
// region_snapshot row of any deleting value has its region_id (deleting is
// not set on it). Then, for every read-only target occurrence, in order:
// resolve it (Internal if not), delete the usage rows (volume, resource),
// which must be exactly 1 (Internal otherwise); if the resource has no usage
// row left, set its deleting flag (exactly one row must match: a read-only,
// non-deleting region, or the region snapshot with that key, that address
// and deleting = false) and free it. Finally the volume is marked
// soft-deleted with the freed list stored. Any error rolls everything back.
func (db *DB) SoftDeleteVolume(id UUID) (CrucibleResources, error) {
	v := db.Volume(id)
	if v == nil {
		return CrucibleResources{}, nil
	}
	if v.SoftDeleted {
		if v.ResourcesToCleanUp != nil {
			return *v.ResourcesToCleanUp, nil
		}
		return CrucibleResources{}, nil
	}
	vcr := v.Data
	var rob [24]Addr
	ro := ReadOnlyTargets(rob[:0], vcr)
	if _, err := CountReadWriteSubVolumes(vcr); err != nil {
		return CrucibleResources{}, err
	}
	var rwb [12]Addr
	rw := ReadWriteTargets(rwb[:0], vcr)

	var out CrucibleResources
	for _, t := range rw {
		i := db.resolveRW(t, true)
		if i < 0 {
			return CrucibleResources{}, errCouldNotFindResource
		}
		if rid := db.Regions[i].ID; !db.regionHasSnapshots(rid) {
			out.Regions = append(out.Regions, rid)
		}
	}

	// From here on the transaction writes, and its later reads see its
	// earlier writes: deleted usage rows are marked with VolumeID 0 (no
	// real row has it) until commit, and deleting flags set here are
	// journaled (>= 0: region index, < 0: -1-region snapshot index).
	var jb [16]int32
	journal := jb[:0]
	for _, t := range ro {
		res, ok := db.resolveRO(t, true)
		if !ok {
			db.softDeleteRollback(id, journal)
			return CrucibleResources{}, errCouldNotFindResource
		}
		if n := db.swapUsage(res, id, 0); n != 1 {
			db.softDeleteRollback(id, journal)
			return CrucibleResources{}, errUsageDeleteCount
		}
		if db.countUsageAll(res) != 0 {
			continue
		}
		if res.Kind == UsageReadOnlyRegion {
			i := -1
			for k := range db.Regions {
				r := &db.Regions[k]
				if r.ID == res.RegionID && r.ReadOnly && !r.Deleting {
					i = k
					break
				}
			}
			if i < 0 {
				db.softDeleteRollback(id, journal)
				return CrucibleResources{}, errSetDeletingRegion
			}
			db.Regions[i].Deleting = true
			journal = append(journal, int32(i))
			out.Regions = append(out.Regions, res.RegionID)
		} else {
			i := -1
			for k := range db.RegionSnapshots {
				rs := &db.RegionSnapshots[k]
				if rs.Key == res.RS && rs.Addr == t && !rs.Deleting {
					i = k
					break
				}
			}
			if i < 0 {
				db.softDeleteRollback(id, journal)
				return CrucibleResources{}, errSetDeletingRS
			}
			db.RegionSnapshots[i].Deleting = true
			journal = append(journal, -1-int32(i))
			out.RegionSnapshots = append(out.RegionSnapshots, res.RS)
		}
	}

	// Commit: drop the marked usage rows, soft-delete the volume.
	j := 0
	for i := range db.Usages {
		if db.Usages[i].VolumeID != 0 {
			db.Usages[j] = db.Usages[i]
			j++
		}
	}
	clear(db.Usages[j:])
	db.Usages = db.Usages[:j]
	out.Regions = out.Regions[:len(out.Regions):len(out.Regions)]
	out.RegionSnapshots = out.RegionSnapshots[:len(out.RegionSnapshots):len(out.RegionSnapshots)]
	stored := out
	v.SoftDeleted = true
	v.ResourcesToCleanUp = &stored
	return out, nil
}

// softDeleteRollback undoes the writes of a failed SoftDeleteVolume.
func (db *DB) softDeleteRollback(id UUID, journal []int32) {
	for i := range db.Usages {
		if db.Usages[i].VolumeID == 0 {
			db.Usages[i].VolumeID = id
		}
	}
	for _, k := range journal {
		if k >= 0 {
			db.Regions[k].Deleting = false
		} else {
			db.RegionSnapshots[-1-k].Deleting = false
		}
	}
}

// ---------------------------------------------------------------------------
// regions_to_delete, snapshots_to_delete, find_deleted_volume_regions

// RegionsToDelete models DataStore::regions_to_delete (volume.rs) for
// CrucibleResources V3, one [STMT]: appends the listed regions that still
// exist and whose dataset row exists (inner join); missing ones are
// skipped. No ORDER BY: table (id) order.
func (db *DB) RegionsToDelete(dst []Region, res *CrucibleResources) []Region {
	if res == nil || len(res.Regions) == 0 {
		return dst
	}
	for i := range db.Regions {
		r := &db.Regions[i]
		for _, id := range res.Regions {
			if r.ID == id {
				if db.Dataset(r.DatasetID) != nil {
					dst = append(dst, *r)
				}
				break
			}
		}
	}
	return dst
}

// SnapshotToDelete is one query of the [MULTI] DataStore::
// snapshots_to_delete (volume.rs) for CrucibleResources V3, one [STMT] per
// listed key: the region_snapshot row (any deleting value) joined with its
// dataset; false when missing (skipped by the caller).
func (db *DB) SnapshotToDelete(k RSKey) (RegionSnapshot, bool) {
	rs := db.RegionSnapshot(k)
	if rs == nil || db.Dataset(k.DatasetID) == nil {
		return RegionSnapshot{}, false
	}
	return *rs, true
}

// FindDeletedVolumeRegions models DataStore::find_deleted_volume_regions
// (volume.rs), one read-only [TXN].
//
// Part A: read/write regions whose dataset row exists, whose owning volume
// row exists and is soft-deleted, and which have no region_snapshot row
// with (region_id, dataset_id), whatever its deleting flag. Table order.
//
// Part B (post-fix): an owning volume of a part-A region is returned for
// hard deletion iff every read/write region it owns (dataset row present)
// is among the part-A regions. Order of first appearance (omicron iterates
// a HashSet).
//
// With Switches.PrematureVolumeHardDelete the pre-fix shape is returned
// (see FreedResources). Never fails (database errors are not modelled).
func (db *DB) FindDeletedVolumeRegions() (FreedResources, error) {
	var out FreedResources
	for i := range db.Regions {
		r := &db.Regions[i]
		if r.ReadOnly || db.Dataset(r.DatasetID) == nil {
			continue
		}
		v := db.Volume(r.VolumeID)
		if v == nil || !v.SoftDeleted {
			continue
		}
		if db.regionHasSnapshotsOn(r.ID, r.DatasetID) {
			continue
		}
		out.Regions = append(out.Regions, FreedRegion{DatasetID: r.DatasetID, RegionID: r.ID, VolumeID: r.VolumeID})
	}
	if db.Cfg.Switches.PrematureVolumeHardDelete {
		out.PerRegionVolumes = true
		return out, nil
	}
	for k, fr := range out.Regions {
		y := fr.VolumeID
		seen := false
		for _, p := range out.Regions[:k] {
			if p.VolumeID == y {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		all := true
		for i := range db.Regions {
			r := &db.Regions[i]
			if r.VolumeID != y || r.ReadOnly || db.Dataset(r.DatasetID) == nil {
				continue
			}
			in := false
			for _, p := range out.Regions {
				if p.RegionID == r.ID {
					in = true
					break
				}
			}
			if !in {
				all = false
				break
			}
		}
		if all {
			out.Volumes = append(out.Volumes, y)
		}
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// volume_replace_region, volume_replace_snapshot

// VolumeReplaceRegion models DataStore::volume_replace_region (volume.rs),
// one [TXN]. existing's volume absent → ExistingVolumeHardDeleted,
// soft-deleted → ExistingVolumeSoftDeleted (no writes). Then, with old/new
// = region_in_vcr of existing's / replacement's address (sub_volumes only):
// new only → AlreadyHappened (no writes); both or neither → Internal; old
// only → swap the two regions' volume_id (missing rows are not an error),
// rewrite the VCR with the address replaced and every sub-volume Region's
// gen bumped, and return Done. Usage rows are not touched. The undo is the
// same call with the two parameter sets' region ids and addresses swapped.
func (db *DB) VolumeReplaceRegion(existing, replacement VolumeReplacementParams) (VolumeReplaceResult, error) {
	v := db.Volume(existing.VolumeID)
	if v == nil {
		return ReplaceExistingVolumeHardDeleted, nil
	}
	if v.SoftDeleted {
		return ReplaceExistingVolumeSoftDeleted, nil
	}
	oldIn := RegionInVCR(v.Data, existing.RegionAddr)
	newIn := RegionInVCR(v.Data, replacement.RegionAddr)
	switch {
	case !oldIn && newIn:
		return ReplaceAlreadyHappened, nil
	case oldIn && newIn:
		return 0, errBothRegionsInVCR
	case !oldIn && !newIn:
		return 0, errNeitherRegionInVCR
	}
	nv, err := ReplaceRegionInVCR(v.Data, existing.RegionAddr, replacement.RegionAddr)
	if err != nil {
		return 0, err
	}
	if r := db.Region(existing.RegionID); r != nil {
		r.VolumeID = replacement.VolumeID
	}
	if r := db.Region(replacement.RegionID); r != nil {
		r.VolumeID = existing.VolumeID
	}
	v.Data = nv
	return ReplaceDone, nil
}

// VolumeReplaceSnapshot models DataStore::volume_replace_snapshot
// (volume.rs), one [TXN], with V = vol, E = existing, N = replacement and
// T = toDelete (spec 10 §3.10):
//
//  1. V absent → ExistingVolumeHardDeleted; soft-deleted →
//     ExistingVolumeSoftDeleted (no writes).
//  2. oldIn / newIn = read_only_target_in_vcr(V, E / N); its error (a
//     read/write Region under a read_only_parent) is Internal.
//  3. !oldIn && newIn → AlreadyHappened, no writes (T untouched).
//  4. Replace E by N in read-only Regions at any level: 0 replacements
//     (or the malformed-VCR error) → Internal; != 1 → Internal
//     "UnexpectedReplacedTargets". V.data is rewritten (gen not bumped).
//  5. T.data := Volume{T, [Region{id T, targets [E], read-only, gen 1}]},
//     guarded by T existing and live: else Internal.
//  6. E must resolve (Internal) and every usage row (V, E) moves to T: 0
//     rows → Internal (NotFound).
//  7. N must resolve (Internal); the usage rows (T, N): 0 → insert (V, N);
//     1 → move it to V; more → Internal "MultipleResourceUsageRecords".
//  8. Done.
//
// The undo is the same call with E and N swapped. Everything is validated
// before the first write, so an error leaves no trace; the row choices
// (db.pick) are drawn in omicron's query order: E's resolution, then N's.
func (db *DB) VolumeReplaceSnapshot(vol UUID, existing, replacement Addr, toDelete UUID) (VolumeReplaceResult, error) {
	v := db.Volume(vol)
	if v == nil {
		return ReplaceExistingVolumeHardDeleted, nil
	}
	if v.SoftDeleted {
		return ReplaceExistingVolumeSoftDeleted, nil
	}
	oldIn, err := ReadOnlyTargetInVCR(v.Data, existing)
	if err != nil {
		return 0, err
	}
	newIn, err := ReadOnlyTargetInVCR(v.Data, replacement)
	if err != nil {
		return 0, err
	}
	if !oldIn && newIn {
		return ReplaceAlreadyHappened, nil
	}
	nv, n, err := ReplaceReadOnlyTargetInVCR(v.Data, existing, replacement)
	if err != nil {
		return 0, err
	}
	if n != 1 {
		return 0, errReplacedTargets
	}
	t := db.Volume(toDelete)
	if t == nil || t.SoftDeleted {
		return 0, errStashUpdate
	}
	eRes, ok := db.resolveRO(existing, true)
	if !ok {
		return 0, errCouldNotFindResource
	}
	moved := db.countUsage(eRes, vol)
	if moved == 0 {
		return 0, errUsageSwapNotFound
	}
	nRes, ok := db.resolveRO(replacement, true)
	if !ok {
		return 0, errCouldNotFindResource
	}
	// (T, N) rows as the transaction sees them after step 6's move.
	k := db.countUsage(nRes, toDelete)
	if nRes == eRes && vol != toDelete {
		k += moved
	}
	if k > 1 {
		return 0, errMultipleUsage
	}

	// Apply, in omicron's order (V then T: if they are the same row, T's
	// write wins).
	v.Data = nv
	t.Data = &VCR{Kind: VCRVolume, ID: toDelete, SubVolumes: []*VCR{{
		Kind: VCRRegion, ID: toDelete, Targets: []Addr{existing}, ReadOnly: true, Gen: 1,
	}}}
	db.swapUsage(eRes, vol, toDelete)
	if k == 0 {
		db.addUsage(vol, nRes)
	} else {
		db.swapUsage(nRes, toDelete, vol)
	}
	return ReplaceDone, nil
}

// ---------------------------------------------------------------------------
// find_volumes_referencing_socket_addr

// FindVolumesReferencingSocketAddrPage is one page of the [MULTI]
// DataStore::find_volumes_referencing_socket_addr (volume.rs): one [STMT]
// reading up to PageSize volume rows (soft-deleted included) with id >
// after, in id order. Matching rows are appended to dst. It returns the
// cursor for the next page (the last id read) and whether another page
// must be read (the page was full, as omicron's Paginator decides).
//
// Match rule post-fix: region_in_vcr(addr) or read_only_target_in_vcr(addr);
// the latter's error (a read/write Region under a read_only_parent) fails
// the whole call with Internal, and dst comes back as it was given. With
// Switches.SubstringAddressMatch, the pre-fix rule: the address text is a
// substring of the VCR's JSON text (see vcrHasTargetTextPrefix).
func (db *DB) FindVolumesReferencingSocketAddrPage(dst []Volume, addr Addr, after UUID) ([]Volume, UUID, bool, error) {
	ps := db.volumePageSize()
	lo, hi := 0, len(db.Volumes)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if db.Volumes[m].ID <= after {
			lo = m + 1
		} else {
			hi = m
		}
	}
	start := len(dst)
	substring := db.Cfg.Switches.SubstringAddressMatch
	read := 0
	next := after
	for i := lo; i < len(db.Volumes) && read < ps; i++ {
		v := &db.Volumes[i]
		read++
		next = v.ID
		var match bool
		if substring {
			match = vcrHasTargetTextPrefix(v.Data, addr)
		} else {
			rw := RegionInVCR(v.Data, addr)
			ro, err := ReadOnlyTargetInVCR(v.Data, addr)
			if err != nil {
				return dst[:start], after, false, err
			}
			match = rw || ro
		}
		if match {
			dst = append(dst, *v)
		}
	}
	return dst, next, read == ps, nil
}

// ---------------------------------------------------------------------------
// volume_remove_rop

// VolumeRemoveROP models DataStore::volume_remove_rop (volume.rs), one
// [TXN]. A volume that is absent, soft-deleted, not a Volume, or without a
// read_only_parent gives false with no writes. Otherwise the volume loses
// its read_only_parent, temp's data becomes Volume{temp, no sub-volumes,
// that parent} (guarded by temp existing and live, else Internal), and for
// every read-only target occurrence of the parent: it must resolve
// (Internal) and all usage rows (volume, resource) move to temp (0 rows →
// Internal NotFound, so a duplicated target fails). Returns true.
func (db *DB) VolumeRemoveROP(id, temp UUID) (bool, error) {
	v := db.Volume(id)
	if v == nil || v.SoftDeleted {
		return false, nil
	}
	if v.Data == nil || v.Data.Kind != VCRVolume || v.Data.ReadOnlyParent == nil {
		return false, nil
	}
	tv := db.Volume(temp)
	if tv == nil || tv.SoftDeleted {
		return false, errROPTempUpdate
	}
	ropVCR := &VCR{Kind: VCRVolume, ID: temp, ReadOnlyParent: v.Data.ReadOnlyParent}
	var tb [24]Addr
	targets := ReadOnlyTargets(tb[:0], ropVCR)
	var rb [24]Resource
	res := rb[:0]
	for _, t := range targets {
		r, ok := db.resolveRO(t, true)
		if !ok {
			return false, errCouldNotFindResource
		}
		already := false
		for _, p := range res {
			if p == r {
				already = true
				break
			}
		}
		if (already && id != temp) || db.countUsage(r, id) == 0 {
			return false, errUsageSwapNotFound
		}
		res = append(res, r)
	}
	nv := *v.Data
	nv.ReadOnlyParent = nil
	v.Data = &nv
	tv.Data = ropVCR
	for _, r := range res {
		db.swapUsage(r, id, temp)
	}
	return true, nil
}

// ---------------------------------------------------------------------------
// Usage-row helpers

// VolumeUsageRecordsForResource models DataStore::
// volume_usage_records_for_resource (volume.rs), one [STMT]: appends every
// usage row of res to dst, in table order.
func (db *DB) VolumeUsageRecordsForResource(dst []Usage, res Resource) []Usage {
	for i := range db.Usages {
		if db.Usages[i].Res == res {
			dst = append(dst, db.Usages[i])
		}
	}
	return dst
}

// SwapVolumeUsageRecordsForResources models DataStore::
// swap_volume_usage_records_for_resources (volume.rs), which omicron only
// runs inside a caller's transaction; as a standalone call it is one
// [STMT]: every usage row (from, res) moves to to; none → Internal
// (NotFound).
func (db *DB) SwapVolumeUsageRecordsForResources(res Resource, from, to UUID) error {
	if db.swapUsage(res, from, to) == 0 {
		return errUsageSwapNotFound
	}
	return nil
}

// RegionSnapshotResource and ReadOnlyRegionResource build the two kinds of
// Resource (VolumeResourceUsage) in their canonical form, so that == on
// Resource is the usage table's match.
func RegionSnapshotResource(k RSKey) Resource {
	return Resource{Kind: UsageRegionSnapshot, RS: k}
}

// ReadOnlyRegionResource: see RegionSnapshotResource.
func ReadOnlyRegionResource(region UUID) Resource {
	return Resource{Kind: UsageReadOnlyRegion, RegionID: region}
}
