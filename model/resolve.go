package model

import "strconv"

// Address resolution (spec 10 §1.3, spec 20 §0.3). A target is a
// downstairs address; inside the calling transaction it resolves to a
// region (read/write or read-only) or a region snapshot.
//
// A region's address is (its dataset's IP, region.port), and only exists
// once the agent has given the region a port. A region snapshot's address
// is its snapshot_addr, compared exactly.
//
// Both queries are "get one result" with no ORDER BY: with several matches
// (only possible when ports are reused, Options.ReusePorts) the row comes
// from db.pick, one draw per query, in the order omicron runs the queries.

// regionAt reports whether region r answers to address a in the
// target_to_region query (volume.rs): dataset join on ip, port equal,
// read_only as asked and deleting = false.
func (db *DB) regionAt(r *Region, a Addr, readOnly bool) bool {
	if !r.HasPort || r.Port != a.Port || r.ReadOnly != readOnly || r.Deleting {
		return false
	}
	ds := db.Dataset(r.DatasetID)
	return ds != nil && ds.IP == a.IP
}

// resolveRegion models DataStore::target_to_region (volume.rs): the index
// in db.Regions of the region at a with the given read_only flag and
// deleting = false, or -1. With draw, several matches are settled by
// db.pick; without (the oracles), the first in table order is taken.
func (db *DB) resolveRegion(a Addr, readOnly, draw bool) int {
	n, first := 0, -1
	for i := range db.Regions {
		if db.regionAt(&db.Regions[i], a, readOnly) {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	if n <= 1 || !draw {
		return first
	}
	k := db.pick(n)
	for i := range db.Regions {
		if db.regionAt(&db.Regions[i], a, readOnly) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return first
}

// resolveRW is resolve_rw: target_to_region(.., ReadWrite).
func (db *DB) resolveRW(a Addr, draw bool) int { return db.resolveRegion(a, false, draw) }

// resolveRSAddr returns the index in db.RegionSnapshots of the
// non-deleting region snapshot whose snapshot_addr is a, or -1 (same choice
// rule as resolveRegion).
func (db *DB) resolveRSAddr(a Addr, draw bool) int {
	n, first := 0, -1
	for i := range db.RegionSnapshots {
		rs := &db.RegionSnapshots[i]
		if rs.Addr == a && !rs.Deleting {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	if n <= 1 || !draw {
		return first
	}
	k := db.pick(n)
	for i := range db.RegionSnapshots {
		rs := &db.RegionSnapshots[i]
		if rs.Addr == a && !rs.Deleting {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return first
}

// resolveRO models read_only_target_to_volume_resource_usage (volume.rs):
// a non-deleting region snapshot with exactly this address first, else a
// non-deleting read-only region at the address, else nothing.
func (db *DB) resolveRO(a Addr, draw bool) (Resource, bool) {
	if i := db.resolveRSAddr(a, draw); i >= 0 {
		return Resource{Kind: UsageRegionSnapshot, RS: db.RegionSnapshots[i].Key}, true
	}
	if i := db.resolveRegion(a, true, draw); i >= 0 {
		return Resource{Kind: UsageReadOnlyRegion, RegionID: db.Regions[i].ID}, true
	}
	return Resource{}, false
}

// ResolveReadOnlyTarget is resolve_ro as a read for callers outside a
// transaction (tests, oracles, CLI): it never draws, taking the first match
// in table order.
func (db *DB) ResolveReadOnlyTarget(a Addr) (Resource, bool) { return db.resolveRO(a, false) }

// ResolveReadWriteTarget is resolve_rw as a non-drawing read: the region id,
// or 0.
func (db *DB) ResolveReadWriteTarget(a Addr) UUID {
	if i := db.resolveRW(a, false); i >= 0 {
		return db.Regions[i].ID
	}
	return 0
}

// resourceLive reports whether res names an existing row with deleting =
// false (a resource that may still carry usage rows of live volumes).
func (db *DB) resourceLive(res Resource) bool {
	switch res.Kind {
	case UsageReadOnlyRegion:
		r := db.Region(res.RegionID)
		return r != nil && !r.Deleting
	default:
		rs := db.RegionSnapshot(res.RS)
		return rs != nil && !rs.Deleting
	}
}

// AddrString renders a as the target text omicron stores, "[ipv6]:port".
// The IP index is shown as the last group of an fd00::/64 address. Not for
// hot paths (it allocates).
func AddrString(a Addr) string {
	b := make([]byte, 0, 24)
	b = append(b, "[fd00::"...)
	b = strconv.AppendUint(b, uint64(a.IP), 16)
	b = append(b, "]:"...)
	b = strconv.AppendUint(b, uint64(a.Port), 10)
	return string(b)
}
