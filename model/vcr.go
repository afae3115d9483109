package model

// Pure helpers over volume construction requests (spec 10 §1.2, §3.14),
// modelled on the free functions of nexus/db-queries/src/db/datastore/
// volume.rs at 09b150f177. None of them touches the database.
//
// omicron walks a VCR breadth-first with a VecDeque and keeps duplicate
// targets; the walks here do the same, so target lists come out in the same
// order (the order matters: it is the order in which volume_create and
// soft_delete_volume resolve targets, and so the order of their row choices).
//
// VCRs stored in the DB are immutable: every helper that "changes" a VCR
// returns a new tree and leaves its argument alone.

// Errors of the pure helpers. Every caller turns them into Internal.
var (
	errVCRTopLevelRegion = &Error{Class: ErrInternal, Msg: "Region not supported as a top level volume"}
	errVCRNonRegionSub   = &Error{Class: ErrInternal, Msg: "saw non-Region in sub-volume"}
	errVCRRWUnderROP     = &Error{Class: ErrInternal, Msg: "read-write region under read-only parent"}
	errVCRTargetNotFound = &Error{Class: ErrInternal, Msg: "target not found"}
	errVCRRegionNotFound = &Error{Class: ErrInternal, Msg: "old region not found"}
	errVCRRandomizeRW    = &Error{Class: ErrInternal, Msg: "only one Volume can reference a Region non-read-only!"}
)

// vcrWork is one queue entry of a breadth-first walk that tracks whether the
// node lies under some read_only_parent.
type vcrWork struct {
	v        *VCR
	underROP bool
}

// ReadOnlyTargets appends to dst every target of every Region with
// read_only = true, anywhere in v (sub_volumes and read_only_parent, at
// every level), breadth-first, duplicates kept. Models the free function
// read_only_resources_associated_with_volume (volume.rs).
func ReadOnlyTargets(dst []Addr, v *VCR) []Addr {
	if v == nil {
		return dst
	}
	var qb [16]*VCR
	q := append(qb[:0], v)
	for h := 0; h < len(q); h++ {
		n := q[h]
		switch n.Kind {
		case VCRVolume:
			q = append(q, n.SubVolumes...)
			if n.ReadOnlyParent != nil {
				q = append(q, n.ReadOnlyParent)
			}
		case VCRRegion:
			if n.ReadOnly {
				dst = append(dst, n.Targets...)
			}
		}
	}
	return dst
}

// ReadWriteTargets appends to dst the targets of Regions with read_only =
// false reached through sub_volumes only (never entering a
// read_only_parent), breadth-first. Models
// read_write_resources_associated_with_volume (volume.rs).
func ReadWriteTargets(dst []Addr, v *VCR) []Addr {
	if v == nil {
		return dst
	}
	var qb [16]*VCR
	q := append(qb[:0], v)
	for h := 0; h < len(q); h++ {
		n := q[h]
		switch n.Kind {
		case VCRVolume:
			q = append(q, n.SubVolumes...)
		case VCRRegion:
			if !n.ReadOnly {
				dst = append(dst, n.Targets...)
			}
		}
	}
	return dst
}

// RegionInVCR reports whether a is a target of any Region reached through
// sub_volumes only, whatever its read_only flag. Models region_in_vcr
// (volume.rs). (Target parse errors, its only error, cannot occur here.)
func RegionInVCR(v *VCR, a Addr) bool {
	if v == nil {
		return false
	}
	var qb [16]*VCR
	q := append(qb[:0], v)
	for h := 0; h < len(q); h++ {
		n := q[h]
		switch n.Kind {
		case VCRVolume:
			q = append(q, n.SubVolumes...)
		case VCRRegion:
			for _, t := range n.Targets {
				if t == a {
					return true
				}
			}
		}
	}
	return false
}

// ReadOnlyTargetInVCR reports whether a is a target of a Region with
// read_only = true anywhere in v. Models read_only_target_in_vcr
// (volume.rs): the walk is breadth-first and stops at the first match, and
// a Region with read_only = false met under a read_only_parent before that
// is an error. So a match found earlier in breadth-first order wins over a
// malformed parent met later.
func ReadOnlyTargetInVCR(v *VCR, a Addr) (bool, error) {
	if v == nil {
		return false, nil
	}
	var qb [16]vcrWork
	q := append(qb[:0], vcrWork{v: v})
	for h := 0; h < len(q); h++ {
		w := q[h]
		n := w.v
		switch n.Kind {
		case VCRVolume:
			for _, s := range n.SubVolumes {
				q = append(q, vcrWork{v: s, underROP: w.underROP})
			}
			if n.ReadOnlyParent != nil {
				q = append(q, vcrWork{v: n.ReadOnlyParent, underROP: true})
			}
		case VCRRegion:
			if w.underROP && !n.ReadOnly {
				return false, errVCRRWUnderROP
			}
			if n.ReadOnly {
				for _, t := range n.Targets {
					if t == a {
						return true, nil
					}
				}
			}
		}
	}
	return false, nil
}

// CopyVCR returns a deep copy of v (every node and every target slice).
func CopyVCR(v *VCR) *VCR {
	if v == nil {
		return nil
	}
	c := *v
	if v.SubVolumes != nil {
		c.SubVolumes = make([]*VCR, len(v.SubVolumes))
		for i, s := range v.SubVolumes {
			c.SubVolumes[i] = CopyVCR(s)
		}
	}
	c.ReadOnlyParent = CopyVCR(v.ReadOnlyParent)
	if v.Targets != nil {
		c.Targets = append([]Addr(nil), v.Targets...)
	}
	return &c
}

// ReplaceRegionInVCR returns a copy of v in which every occurrence of old
// among the targets of Regions reached through sub_volumes is replaced by
// new, and the gen of every such Region (replaced or not) is bumped by one.
// Error if old was not found. Models replace_region_in_vcr (volume.rs).
func ReplaceRegionInVCR(v *VCR, old, new Addr) (*VCR, error) {
	c := CopyVCR(v)
	found := false
	if c != nil {
		var qb [16]*VCR
		q := append(qb[:0], c)
		for h := 0; h < len(q); h++ {
			n := q[h]
			switch n.Kind {
			case VCRVolume:
				q = append(q, n.SubVolumes...)
			case VCRRegion:
				for i, t := range n.Targets {
					if t == old {
						n.Targets[i] = new
						found = true
					}
				}
				n.Gen++
			}
		}
	}
	if !found {
		return nil, errVCRRegionNotFound
	}
	return c, nil
}

// ReplaceReadOnlyTargetInVCR returns a copy of v in which every occurrence
// of old among the targets of read-only Regions, at any level, is replaced
// by new, together with the number of replacements. gen is not bumped.
// Errors: a read/write Region under a read_only_parent (anywhere: the walk
// visits the whole tree), or zero replacements. Models
// replace_read_only_target_in_vcr (volume.rs).
func ReplaceReadOnlyTargetInVCR(v *VCR, old, new Addr) (*VCR, int, error) {
	c := CopyVCR(v)
	count := 0
	if c != nil {
		var qb [16]vcrWork
		q := append(qb[:0], vcrWork{v: c})
		for h := 0; h < len(q); h++ {
			w := q[h]
			n := w.v
			switch n.Kind {
			case VCRVolume:
				for _, s := range n.SubVolumes {
					q = append(q, vcrWork{v: s, underROP: w.underROP})
				}
				if n.ReadOnlyParent != nil {
					q = append(q, vcrWork{v: n.ReadOnlyParent, underROP: true})
				}
			case VCRRegion:
				if w.underROP && !n.ReadOnly {
					return nil, 0, errVCRRWUnderROP
				}
				if n.ReadOnly {
					for i, t := range n.Targets {
						if t == old {
							n.Targets[i] = new
							count++
						}
					}
				}
			}
		}
	}
	if count == 0 {
		return nil, 0, errVCRTargetNotFound
	}
	return c, count, nil
}

// CountReadWriteSubVolumes returns the number of top-level sub_volumes of a
// Volume (0 for a File); a top-level Region is an error. Models
// count_read_write_sub_volumes (volume.rs).
func CountReadWriteSubVolumes(v *VCR) (int, error) {
	if v == nil {
		return 0, nil
	}
	switch v.Kind {
	case VCRVolume:
		return len(v.SubVolumes), nil
	case VCRRegion:
		return 0, errVCRTopLevelRegion
	}
	return 0, nil
}

// VolumeIsReadOnly models volume_is_read_only (volume.rs): a Volume is
// read-only when its top-level sub_volumes are all Regions with read_only =
// true. The sub-volumes are looked at in order: the first read/write Region
// gives false, the first non-Region gives an error, whichever comes first.
// A File is read-only; a top-level Region is an error.
func VolumeIsReadOnly(v *VCR) (bool, error) {
	if v == nil {
		return true, nil
	}
	switch v.Kind {
	case VCRVolume:
		for _, s := range v.SubVolumes {
			if s.Kind != VCRRegion {
				return false, errVCRNonRegionSub
			}
			if !s.ReadOnly {
				return false, nil
			}
		}
		return true, nil
	case VCRRegion:
		return false, errVCRTopLevelRegion
	}
	return true, nil
}

// vcrHasRWRegion reports whether any Region anywhere in v is read/write.
func vcrHasRWRegion(v *VCR) bool {
	if v == nil {
		return false
	}
	if v.Kind == VCRRegion && !v.ReadOnly {
		return true
	}
	for _, s := range v.SubVolumes {
		if vcrHasRWRegion(s) {
			return true
		}
	}
	return vcrHasRWRegion(v.ReadOnlyParent)
}

// RandomizeIDs returns a copy of v with a fresh id (drawn from newID) on
// every Volume, Region and File node, in breadth-first order. Any Region
// with read_only = false is an error ("only one Volume can reference a
// Region non-read-only!"). Models DataStore::randomize_ids (volume.rs).
// omicron draws ids as it walks and bails at the first read/write Region;
// here the check comes first so no id is drawn on failure (ids carry no
// meaning beyond uniqueness).
func RandomizeIDs(v *VCR, newID func() UUID) (*VCR, error) {
	if vcrHasRWRegion(v) {
		return nil, errVCRRandomizeRW
	}
	c := CopyVCR(v)
	if c == nil {
		return nil, nil
	}
	var qb [16]*VCR
	q := append(qb[:0], c)
	for h := 0; h < len(q); h++ {
		n := q[h]
		n.ID = newID()
		if n.Kind == VCRVolume {
			q = append(q, n.SubVolumes...)
			if n.ReadOnlyParent != nil {
				q = append(q, n.ReadOnlyParent)
			}
		}
	}
	return c, nil
}

// vcrHasTargetTextPrefix is the pre-fix (09b150f177^) match of
// find_volumes_referencing_socket_addr: `volume.data().contains(needle)`
// with needle = "[ip]:port". Every target string of the VCR's JSON (any
// Region, any level, any read_only flag) is "[ip]:port"; the needle starts
// with '[' and the IP ends with ']', so the needle occurs in the text iff
// some target has the same IP and a port whose decimal text starts with the
// needle port's decimal text (":400" contains ":40").
func vcrHasTargetTextPrefix(v *VCR, needle Addr) bool {
	if v == nil {
		return false
	}
	if v.Kind == VCRRegion {
		for _, t := range v.Targets {
			if t.IP == needle.IP && portTextHasPrefix(t.Port, needle.Port) {
				return true
			}
		}
		return false
	}
	for _, s := range v.SubVolumes {
		if vcrHasTargetTextPrefix(s, needle) {
			return true
		}
	}
	return vcrHasTargetTextPrefix(v.ReadOnlyParent, needle)
}

// portTextHasPrefix reports whether the decimal text of port starts with
// the decimal text of prefix.
func portTextHasPrefix(port, prefix uint16) bool {
	q, p := uint32(port), uint32(prefix)
	if p == 0 {
		return q == 0
	}
	for q > p {
		q /= 10
	}
	return q == p
}
