package model

import "github.com/oxide-sim/rsrsim/sim"

// Region allocation: the one-statement CTE allocation_query of
// nexus/db-queries/src/db/queries/region_allocation.rs at 09b150f177, as
// called by arbitrary_region_allocate / disk_region_allocate (region.rs).
// Spec 50 §2.

// AllocStrategy is nexus_config::RegionAllocationStrategy. The md5(seed)
// orderings of omicron are drawn from the run's chooser (sim.KAlloc).
type AllocStrategy uint8

const (
	// AllocRandom: every eligible zpool is a candidate.
	AllocRandom AllocStrategy = iota
	// AllocRandomDistinctSleds: one eligible zpool per sled is a candidate.
	AllocRandomDistinctSleds
)

// The three failure sentinels, all InsufficientCapacity ("Not enough
// storage" externally).
var (
	dsErrAllocZpoolSpace   = &Error{Class: ErrInsufficientCapacity, Msg: "Not enough zpool space"}
	dsErrAllocDatasets     = &Error{Class: ErrInsufficientCapacity, Msg: "Not enough datasets"}
	dsErrAllocUniqueZpools = &Error{Class: ErrInsufficientCapacity, Msg: "Not enough unique zpools selected"}
)

// RegionAllocate models arbitrary_region_allocate(for, params, strategy, n)
// (region.rs) running allocation_query (region_allocation.rs): one [STMT].
// snapshot 0 is RegionAllocationFor::DiskVolume{volume}; otherwise
// SnapshotVolume{volume, snapshot}, whose new regions are read-only. The
// volume row need not exist. Regions are unit-sized.
//
// old := every region with volume_id = volume (any flag, any dataset
// state). If |old| ≥ n the statement inserts nothing and returns old
// (decision: the do_insert checks are not evaluated then; they all hold in
// the idempotent re-run of a successful allocation, spec 50 §2.5, §8.3).
// Otherwise:
//   - excl = pools of old's datasets ∪ (snapshot ? pools of every
//     region_snapshot row of the snapshot, deleting or not : ∅); exclRows is
//     |old| without a snapshot (rows of a join, duplicates kept) and the
//     size of the de-duplicated union with one;
//   - eligible pool: has a non-deleted dataset; used + 1 ≤ capacity (used =
//     regions on its non-deleted datasets, = Σ size_used); sled in service
//     and active; disk in service and active; not in excl (zpool.deleted is
//     not checked);
//   - candidates: every eligible pool (Random) or one drawn per sled
//     (RandomWithDistinctSleds), then one non-deleted dataset drawn per pool;
//   - C1 |cand| + exclRows ≥ n else "Not enough zpool space";
//     C2 min(n−|old|, |cand|) + |old| ≥ n else "Not enough datasets";
//     then n−|old| candidates are drawn;
//     C3 distinct pools of (chosen ∪ old) ≥ n else "Not enough unique
//     zpools selected". Any failure: InsufficientCapacity, nothing written;
//   - insert one region per chosen dataset (port NULL, deleting false).
//
// Returns old then the new rows (copies).
func (db *DB) RegionAllocate(volume, snapshot UUID, strategy AllocStrategy, n int) ([]Region, error) {
	var old []Region
	for i := range db.Regions {
		if db.Regions[i].VolumeID == volume {
			old = append(old, db.Regions[i])
		}
	}
	if len(old) >= n {
		return old, nil
	}

	// Pool of each dataset, by dataset index.
	dsPool := make([]int, len(db.Datasets))
	for i := range db.Datasets {
		dsPool[i] = -1
		for p := range db.Zpools {
			if db.Zpools[p].ID == db.Datasets[i].PoolID {
				dsPool[i] = p
				break
			}
		}
	}
	poolOfDataset := func(ds UUID) int {
		for i := range db.Datasets {
			if db.Datasets[i].ID == ds {
				return dsPool[i]
			}
		}
		return -1
	}

	np := len(db.Zpools)
	used := make([]int, np)
	hasDS := make([]bool, np)
	excl := make([]bool, np)
	for i := range db.Datasets {
		if p := dsPool[i]; p >= 0 && !db.Datasets[i].Deleted {
			hasDS[p] = true
		}
	}
	for i := range db.Regions {
		ds := db.Dataset(db.Regions[i].DatasetID)
		if ds == nil || ds.Deleted {
			continue
		}
		if p := poolOfDataset(ds.ID); p >= 0 {
			used[p]++
		}
	}
	exclRows := 0
	for i := range old {
		if p := poolOfDataset(old[i].DatasetID); p >= 0 {
			if snapshot == 0 {
				exclRows++
			} else if !excl[p] {
				exclRows++
			}
			excl[p] = true
		}
	}
	if snapshot != 0 {
		for i := range db.RegionSnapshots {
			rs := &db.RegionSnapshots[i]
			if rs.Key.SnapshotID != snapshot {
				continue
			}
			if p := poolOfDataset(rs.Key.DatasetID); p >= 0 && !excl[p] {
				excl[p] = true
				exclRows++
			}
		}
	}

	// Eligible pools, in table order.
	elig := make([]int, 0, np)
	for p := range db.Zpools {
		z := &db.Zpools[p]
		if !hasDS[p] || excl[p] || used[p]+1 > z.Capacity {
			continue
		}
		s := db.Sled(z.SledID)
		if s == nil || !s.Provisionable || !s.Active {
			continue
		}
		d := db.PhysicalDisk(z.PhysicalDiskID)
		if d == nil || d.Policy != PolicyInService || d.State != PDStateActive {
			continue
		}
		elig = append(elig, p)
	}

	cand := elig
	if strategy == AllocRandomDistinctSleds {
		cand = make([]int, 0, len(elig))
		done := make([]bool, len(elig))
		for i := range elig {
			if done[i] {
				continue
			}
			sled := db.Zpools[elig[i]].SledID
			k := 0
			for j := i; j < len(elig); j++ {
				if db.Zpools[elig[j]].SledID == sled {
					k++
				}
			}
			c := 0
			if k > 1 && db.Ch != nil {
				c = db.Ch.Choose(sim.KAlloc, k)
			}
			for j := i; j < len(elig); j++ {
				if db.Zpools[elig[j]].SledID == sled {
					done[j] = true
					if c == 0 {
						cand = append(cand, elig[j])
					}
					c--
				}
			}
		}
	}

	if len(cand)+exclRows < n {
		return nil, dsErrAllocZpoolSpace
	}
	need := n - len(old)
	if need > len(cand) {
		need = len(cand)
	}
	if need+len(old) < n {
		return nil, dsErrAllocDatasets
	}
	// Draw need candidates (partial Fisher-Yates; cand is local).
	for i := 0; i < need; i++ {
		j := i
		if len(cand)-i > 1 && db.Ch != nil {
			j = i + db.Ch.Choose(sim.KAlloc, len(cand)-i)
		}
		cand[i], cand[j] = cand[j], cand[i]
	}
	chosen := cand[:need]

	// C3: chosen pools are distinct and outside excl (which holds old's
	// pools), so the distinct count is need + distinct pools of old.
	distinctOld := 0
	for i := range old {
		p := poolOfDataset(old[i].DatasetID)
		dup := false
		for j := 0; j < i; j++ {
			if poolOfDataset(old[j].DatasetID) == p {
				dup = true
				break
			}
		}
		if !dup {
			distinctOld++
		}
	}
	if need+distinctOld < n {
		return nil, dsErrAllocUniqueZpools
	}

	out := old
	for _, p := range chosen {
		ds := db.pickPoolDataset(dsPool, p)
		r := Region{ID: db.NewUUID(), DatasetID: ds, VolumeID: volume, ReadOnly: snapshot != 0}
		db.Regions = append(db.Regions, r)
		out = append(out, r)
	}
	return out, nil
}

// pickPoolDataset draws one non-deleted dataset of pool index p
// (candidate_datasets: DISTINCT ON pool_id ORDER BY md5).
func (db *DB) pickPoolDataset(dsPool []int, p int) UUID {
	k := 0
	for i := range db.Datasets {
		if dsPool[i] == p && !db.Datasets[i].Deleted {
			k++
		}
	}
	c := 0
	if k > 1 && db.Ch != nil {
		c = db.Ch.Choose(sim.KAlloc, k)
	}
	for i := range db.Datasets {
		if dsPool[i] == p && !db.Datasets[i].Deleted {
			if c == 0 {
				return db.Datasets[i].ID
			}
			c--
		}
	}
	return 0
}

// DiskRegionAllocate models disk_region_allocate(volume, source, size,
// strategy) (region.rs) for a blank source: arbitrary_region_allocate with
// DiskVolume{volume} and REGION_REDUNDANCY_THRESHOLD = 3, one [STMT]. For a
// Snapshot or Image source omicron first reads the source with LookupPath
// (fails if soft-deleted): callers do SnapshotLookup / ImageLookup as a
// separate step before this one.
func (db *DB) DiskRegionAllocate(volume UUID, strategy AllocStrategy) ([]Region, error) {
	return db.RegionAllocate(volume, 0, strategy, 3)
}

// DefaultAllocStrategy is Nexus's configured default_region_allocation_strategy,
// used by disk create and snapshot create (Options.AllocRandom).
func (db *DB) DefaultAllocStrategy() AllocStrategy {
	if db.Cfg.Options.AllocRandom {
		return AllocRandom
	}
	return AllocRandomDistinctSleds
}
