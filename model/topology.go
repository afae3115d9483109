package model

// Sleds, physical disks, zpools and Crucible datasets (spec 50 §1, §3),
// modelled on nexus/db-queries/src/db/datastore/{sled,physical_disk,dataset,
// region,region_snapshot}.rs at 09b150f177.

var (
	dsErrTopoMissing   = &Error{Class: ErrInternal, Msg: "topology row not found"}
	dsErrSledNotActive = &Error{Class: ErrInvalidRequest, Msg: "sled is not active"}
)

// AmpleCapacity is the default zpool capacity in regions: effectively
// unlimited for the scenarios.
const AmpleCapacity = 1 << 20

// TopologySpec describes a rack to build. Every sled is in service and
// active, every disk in service and active.
type TopologySpec struct {
	Sleds int
	// DisksPerSled gives the number of physical disks of each sled; a
	// missing or zero entry means DefaultDisks (non-uniform racks).
	DisksPerSled []int
	DefaultDisks int // 0 means 1
	PoolsPerDisk int // 0 means 1
	Capacity     int // regions per zpool; 0 means AmpleCapacity
}

// BuildTopology adds spec's sleds, disks, zpools and one Crucible dataset
// per zpool, in that nesting order, and returns the sled ids. Not a
// simulated step: setup only.
func (db *DB) BuildTopology(spec TopologySpec) []UUID {
	def := spec.DefaultDisks
	if def <= 0 {
		def = 1
	}
	ppd := spec.PoolsPerDisk
	if ppd <= 0 {
		ppd = 1
	}
	capacity := spec.Capacity
	if capacity <= 0 {
		capacity = AmpleCapacity
	}
	sleds := make([]UUID, 0, spec.Sleds)
	for s := 0; s < spec.Sleds; s++ {
		sled := db.AddSled()
		sleds = append(sleds, sled)
		nd := def
		if s < len(spec.DisksPerSled) && spec.DisksPerSled[s] > 0 {
			nd = spec.DisksPerSled[s]
		}
		for d := 0; d < nd; d++ {
			pd := db.AddPhysicalDisk(sled)
			for p := 0; p < ppd; p++ {
				db.AddCrucibleDataset(db.AddZpool(pd, capacity))
			}
		}
	}
	return sleds
}

// AddSled inserts an in-service, active sled. Setup only.
func (db *DB) AddSled() UUID {
	id := db.NewUUID()
	db.Sleds = append(db.Sleds, Sled{ID: id, Provisionable: true, Active: true})
	return id
}

// AddPhysicalDisk inserts an in-service, active physical disk on sled.
func (db *DB) AddPhysicalDisk(sled UUID) UUID {
	id := db.NewUUID()
	db.PhysicalDisks = append(db.PhysicalDisks, PhysicalDisk{ID: id, SledID: sled})
	return id
}

// AddZpool inserts a zpool on physical disk pd (and pd's sled) holding up to
// capacity regions (the latest inventory total_size). capacity ≤ 0 models a
// zpool with no inventory row: it is never chosen.
func (db *DB) AddZpool(pd UUID, capacity int) UUID {
	id := db.NewUUID()
	var sled UUID
	if d := db.PhysicalDisk(pd); d != nil {
		sled = d.SledID
	}
	db.Zpools = append(db.Zpools, Zpool{ID: id, SledID: sled, PhysicalDiskID: pd, Capacity: capacity})
	return id
}

// AddCrucibleDataset inserts a Crucible dataset on zpool with its own IP
// index (1, 2, ... in creation order).
func (db *DB) AddCrucibleDataset(pool UUID) UUID {
	id := db.NewUUID()
	ip := uint16(len(db.Datasets) + 1)
	db.Datasets = append(db.Datasets, Dataset{ID: id, PoolID: pool, IP: ip})
	return id
}

// Sled returns the sled row with id, or nil.
func (db *DB) Sled(id UUID) *Sled {
	for i := range db.Sleds {
		if db.Sleds[i].ID == id {
			return &db.Sleds[i]
		}
	}
	return nil
}

// PhysicalDisk returns the physical_disk row with id, or nil.
func (db *DB) PhysicalDisk(id UUID) *PhysicalDisk {
	for i := range db.PhysicalDisks {
		if db.PhysicalDisks[i].ID == id {
			return &db.PhysicalDisks[i]
		}
	}
	return nil
}

// Zpool returns the zpool row with id, or nil.
func (db *DB) Zpool(id UUID) *Zpool {
	for i := range db.Zpools {
		if db.Zpools[i].ID == id {
			return &db.Zpools[i]
		}
	}
	return nil
}

// DatasetByIP returns the dataset whose IP index is ip, or nil.
func (db *DB) DatasetByIP(ip uint16) *Dataset {
	for i := range db.Datasets {
		if db.Datasets[i].IP == ip {
			return &db.Datasets[i]
		}
	}
	return nil
}

// DatasetDisk returns the physical disk under dataset ds (dataset → zpool →
// disk), or nil if a row on the way is missing.
func (db *DB) DatasetDisk(ds UUID) *PhysicalDisk {
	d := db.Dataset(ds)
	if d == nil {
		return nil
	}
	z := db.Zpool(d.PoolID)
	if z == nil {
		return nil
	}
	return db.PhysicalDisk(z.PhysicalDiskID)
}

// DatasetInService models dataset_physical_disk_in_service (dataset.rs):
// true iff the disk under the dataset has policy in_service. Deletion flags
// and the disk state are ignored; a missing row is an Internal error. In
// omicron it is three reads ([MULTI]); rows on the path are never removed
// and a policy only moves to expunged, so one read is equivalent. This is
// the "gone" check of nexus/src/app/crucible.rs: gone = !in service.
func (db *DB) DatasetInService(ds UUID) (bool, error) {
	pd := db.DatasetDisk(ds)
	if pd == nil {
		return false, dsErrTopoMissing
	}
	return pd.Policy == PolicyInService, nil
}

// datasetOnExpungedDisk is the filter of the two "on expunged physical
// disks" queries: the dataset and its zpool are not deleted and the zpool's
// disk has policy expunged (disk state and sled ignored).
func (db *DB) datasetOnExpungedDisk(ds UUID) bool {
	d := db.Dataset(ds)
	if d == nil || d.Deleted {
		return false
	}
	z := db.Zpool(d.PoolID)
	if z == nil || z.Deleted {
		return false
	}
	pd := db.PhysicalDisk(z.PhysicalDiskID)
	return pd != nil && pd.Policy == PolicyExpunged
}

// PhysicalDiskExpunge models physical_disk_update_policy(id, Expunged)
// (physical_disk.rs), one [STMT]: set the policy, no guard on the previous
// value (idempotent); a missing row updates nothing and is Ok.
func (db *DB) PhysicalDiskExpunge(pd UUID) error {
	if d := db.PhysicalDisk(pd); d != nil {
		d.Policy = PolicyExpunged
	}
	return nil
}

// SledExpunge models sled_set_policy_to_expunged (sled.rs), one [TXN]: the
// sled must be active (else InvalidRequest; a missing sled is Internal);
// its policy leaves in_service (Provisionable := false) and every physical
// disk of the sled gets policy expunged. Idempotent. The model's Sled has
// no separate "expunged" policy value, only what allocation reads.
func (db *DB) SledExpunge(sled UUID) error {
	s := db.Sled(sled)
	if s == nil {
		return dsErrTopoMissing
	}
	if !s.Active {
		return dsErrSledNotActive
	}
	s.Provisionable = false
	for i := range db.PhysicalDisks {
		if db.PhysicalDisks[i].SledID == sled {
			db.PhysicalDisks[i].Policy = PolicyExpunged
		}
	}
	return nil
}

// FindRWRegionsOnExpungedDisks models
// find_read_write_regions_on_expunged_physical_disks (region.rs), one
// [STMT]: regions with read_only = false on a non-deleted dataset of a
// non-deleted zpool whose disk is expunged. deleting and the owner volume
// are not looked at. Appends copies to dst in table order.
func (db *DB) FindRWRegionsOnExpungedDisks(dst []Region) []Region {
	for i := range db.Regions {
		r := &db.Regions[i]
		if !r.ReadOnly && db.datasetOnExpungedDisk(r.DatasetID) {
			dst = append(dst, *r)
		}
	}
	return dst
}

// FindRegionSnapshotsOnExpungedDisks models
// find_region_snapshots_on_expunged_physical_disks (region_snapshot.rs),
// one [STMT]: region snapshots (any deleting flag) on a non-deleted dataset
// of a non-deleted zpool whose disk is expunged. Appends copies to dst.
func (db *DB) FindRegionSnapshotsOnExpungedDisks(dst []RegionSnapshot) []RegionSnapshot {
	for i := range db.RegionSnapshots {
		rs := &db.RegionSnapshots[i]
		if db.datasetOnExpungedDisk(rs.Key.DatasetID) {
			dst = append(dst, *rs)
		}
	}
	return dst
}
