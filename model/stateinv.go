package model

import "strconv"

// State invariants of the volume layer (spec 10 §2.5 items 1–5 and 7,
// §3.15 validate_volume_invariants, §9 item 8), for the oracles package to
// run after steps. They never act as guards inside operations: omicron
// compiles validate_volume_invariants into test builds only.
//
// The checks read the state without drawing choices: where a target could
// resolve to several rows (reused ports), they accept any row the
// resolution query could have returned.

// Violation is one broken invariant: Name is a stable kebab-case
// identifier, Detail says where.
type Violation struct {
	Name   string
	Detail string
}

// Names of the invariants checked by CheckStateInvariants.
const (
	// §3.15 1(a): a live volume's VCR top level is not a Region.
	InvVCRTopLevelRegion = "vcr-top-level-region"
	// §2.5 item 1, §3.15 1(b): every read/write target of a live volume
	// resolves to a read/write region with deleting = false.
	InvRWTargetResolves = "rw-target-resolves"
	// §2.5 item 2, §3.15 1(c): every read-only target of a live volume
	// resolves to a non-deleting region snapshot or read-only region.
	InvROTargetResolves = "ro-target-resolves"
	// §2.5 item 3, §3.15 2: no read-only region is named as
	// region_snapshot_region_id by a region_snapshot usage row.
	InvRORegionNoSnapshotUsage = "ro-region-no-snapshot-usage"
	// §2.5 item 4: for a live volume, the usage rows on live resources are
	// exactly one per read-only target occurrence that resolves.
	InvUsageMatchesVCR = "usage-matches-vcr"
	// §2.5 item 5: no usage row of a live volume names a resource that is
	// deleting or missing.
	InvUsageOnDeletedResource = "usage-on-deleted-resource"
	// §2.5 item 7: at most one volume_repair row per volume.
	InvOneLockPerVolume = "one-lock-per-volume"
	// §9 item 8: a region snapshot sits on its region's dataset.
	InvRegionSnapshotOnRegionDataset = "region-snapshot-on-region-dataset"
)

// CheckStateInvariants appends to buf one Violation per broken invariant
// instance and returns it. It allocates nothing when every invariant holds
// (and the VCRs are small). Item 6 (no volume hard-deleted while it owns
// read/write regions) needs event context: see OrphanedRWRegions.
func (db *DB) CheckStateInvariants(buf []Violation) []Violation {
	for i := range db.Volumes {
		v := &db.Volumes[i]
		if v.SoftDeleted {
			continue
		}
		buf = db.checkLiveVolume(buf, v)
	}
	// Item 3.
	for i := range db.Usages {
		u := &db.Usages[i]
		if u.Res.Kind != UsageRegionSnapshot {
			continue
		}
		if r := db.Region(u.Res.RS.RegionID); r != nil && r.ReadOnly {
			buf = append(buf, Violation{InvRORegionNoSnapshotUsage,
				"read-only region " + idStr(r.ID) + " named by region_snapshot usage row " + idStr(u.UsageID)})
		}
	}
	// Item 5.
	for i := range db.Usages {
		u := &db.Usages[i]
		if v := db.Volume(u.VolumeID); v == nil || v.SoftDeleted {
			continue
		}
		if !db.resourceLive(u.Res) {
			buf = append(buf, Violation{InvUsageOnDeletedResource,
				"usage row " + idStr(u.UsageID) + " of live volume " + idStr(u.VolumeID) + " names " + resStr(u.Res)})
		}
	}
	// Item 7.
	for i := range db.Locks {
		for j := 0; j < i; j++ {
			if db.Locks[j].VolumeID == db.Locks[i].VolumeID {
				buf = append(buf, Violation{InvOneLockPerVolume, "volume " + idStr(db.Locks[i].VolumeID)})
				break
			}
		}
	}
	// §9 item 8.
	for i := range db.RegionSnapshots {
		k := db.RegionSnapshots[i].Key
		if r := db.Region(k.RegionID); r != nil && r.DatasetID != k.DatasetID {
			buf = append(buf, Violation{InvRegionSnapshotOnRegionDataset,
				"region snapshot " + resStr(RegionSnapshotResource(k)) + " not on dataset " + idStr(r.DatasetID)})
		}
	}
	return buf
}

// checkLiveVolume runs items 1, 2 and 4 (and §3.15 1(a)) on a live volume.
func (db *DB) checkLiveVolume(buf []Violation, v *Volume) []Violation {
	if _, err := CountReadWriteSubVolumes(v.Data); err != nil {
		buf = append(buf, Violation{InvVCRTopLevelRegion, "volume " + idStr(v.ID)})
	}
	var tb [24]Addr
	rw := ReadWriteTargets(tb[:0], v.Data)
	for _, t := range rw {
		if db.resolveRW(t, false) < 0 {
			buf = append(buf, Violation{InvRWTargetResolves, "volume " + idStr(v.ID) + " target " + AddrString(t)})
		}
	}
	ro := ReadOnlyTargets(tb[:0], v.Data)
	matched := 0
	for i, t := range ro {
		if _, ok := db.resolveRO(t, false); !ok {
			buf = append(buf, Violation{InvROTargetResolves, "volume " + idStr(v.ID) + " target " + AddrString(t)})
			continue
		}
		dup := false
		for _, p := range ro[:i] {
			if p == t {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		occ := 0
		for _, p := range ro[i:] {
			if p == t {
				occ++
			}
		}
		rows := 0
		for j := range db.Usages {
			u := &db.Usages[j]
			if u.VolumeID == v.ID && db.isResolutionOf(u.Res, t) {
				rows++
			}
		}
		matched += rows
		if rows != occ {
			buf = append(buf, Violation{InvUsageMatchesVCR, "volume " + idStr(v.ID) + " target " + AddrString(t) +
				": " + strconv.Itoa(occ) + " occurrences, " + strconv.Itoa(rows) + " usage rows"})
		}
	}
	live := 0
	for j := range db.Usages {
		u := &db.Usages[j]
		if u.VolumeID == v.ID && db.resourceLive(u.Res) {
			live++
		}
	}
	if live != matched {
		buf = append(buf, Violation{InvUsageMatchesVCR, "volume " + idStr(v.ID) + ": " +
			strconv.Itoa(live-matched) + " usage rows on live resources match no read-only target"})
	}
	return buf
}

// isResolutionOf reports whether res is a row read_only_target_to_volume_
// resource_usage could return for t: a non-deleting region snapshot at
// exactly t if there is any, else a non-deleting read-only region at t.
func (db *DB) isResolutionOf(res Resource, t Addr) bool {
	if db.resolveRSAddr(t, false) >= 0 {
		if res.Kind != UsageRegionSnapshot {
			return false
		}
		rs := db.RegionSnapshot(res.RS)
		return rs != nil && rs.Addr == t && !rs.Deleting
	}
	if res.Kind != UsageReadOnlyRegion {
		return false
	}
	r := db.Region(res.RegionID)
	return r != nil && db.regionAt(r, t, true)
}

// OrphanedRWRegions appends to buf the read/write regions whose owning
// volume row is absent (spec 10 §2.5 item 6). Regions allocated before
// their volume row is created, and the disk-create unwind (§9 item 4),
// show up here legitimately: the caller decides with event context.
func (db *DB) OrphanedRWRegions(buf []UUID) []UUID {
	for i := range db.Regions {
		r := &db.Regions[i]
		if !r.ReadOnly && db.Volume(r.VolumeID) == nil {
			buf = append(buf, r.ID)
		}
	}
	return buf
}

func idStr(id UUID) string { return strconv.FormatUint(uint64(id), 10) }

func resStr(r Resource) string {
	if r.Kind == UsageReadOnlyRegion {
		return "read-only region " + idStr(r.RegionID)
	}
	return "region snapshot (" + idStr(r.RS.DatasetID) + "," + idStr(r.RS.RegionID) + "," + idStr(r.RS.SnapshotID) + ")"
}
