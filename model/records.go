// Package model holds omicron's logic at commit 09b150f177 (PR #7046,
// "Handle region snapshot replacement volume deletes"): its database records,
// datastore transactions, topology, the abstract Crucible agent, sagas and
// background tasks. Every datastore operation is a method on *DB that runs as
// exactly one atomic step of the simulator (one CockroachDB transaction or
// one statement), unless its doc comment says it is [MULTI].
//
// Records use small integer ids. Ids are never reused: every UUID omicron
// would generate comes from one counter in the DB (NewUUID), so a repair
// lock's repair_id can name a request, a step or a saga's lock id alike.
package model

// UUID stands for every omicron UUID (volume, region, snapshot, request,
// step, saga, lock id, dataset, ...). 0 is NULL.
type UUID uint32

// Addr is a downstairs socket address "[ip]:port". IP is the index of the
// dataset's IP (one IP per dataset), Port the port the agent assigned.
// 0/0 is "no address".
type Addr struct {
	IP   uint16
	Port uint16
}

// IsZero reports whether the address is unset.
func (a Addr) IsZero() bool { return a.IP == 0 && a.Port == 0 }

// VCRKind is the variant of a volume construction request node.
type VCRKind uint8

const (
	VCRVolume VCRKind = iota
	VCRRegion
	VCRFile // no targets; exists so that volume_is_read_only's File rule can be modelled
)

// VCR is a volume construction request tree (the JSON in volume.data),
// reduced to what the logic reads: ids, structure, targets, the read_only
// flag and gen. A VCR stored in the DB is never mutated in place: every
// writer builds a new tree (copy on write), so a saga that read a VCR in one
// step keeps an immutable value.
type VCR struct {
	Kind VCRKind
	ID   UUID // Volume: the volume id; Region: opts.id
	// Volume fields
	SubVolumes     []*VCR
	ReadOnlyParent *VCR
	// Region fields
	Targets  []Addr
	ReadOnly bool
	Gen      uint32
}

// VolumeState is the observable state of a volume row.
type VolumeState uint8

const (
	VolumeLive VolumeState = iota
	VolumeSoftDeleted
	// A hard-deleted volume has no row at all; VolumeHardDeleted is only used
	// by callers that report a lookup result.
	VolumeHardDeleted
)

// Volume is a row of table `volume` (nexus/db-model/src/volume.rs).
type Volume struct {
	ID          UUID
	Data        *VCR
	SoftDeleted bool // time_deleted IS NOT NULL
	// ResourcesToCleanUp is written by soft_delete_volume (CrucibleResources
	// V3). Nil until then.
	ResourcesToCleanUp *CrucibleResources
}

// CrucibleResources is CrucibleResources::V3: what a soft delete freed.
type CrucibleResources struct {
	Regions         []UUID
	RegionSnapshots []RSKey
}

// Region is a row of table `region` (nexus/db-model/src/region.rs).
type Region struct {
	ID        UUID
	DatasetID UUID
	VolumeID  UUID // the owning volume; may not exist (yet, or any more)
	Port      uint16
	HasPort   bool // port IS NOT NULL
	ReadOnly  bool
	Deleting  bool
}

// RSKey is the primary key of a region_snapshot row.
type RSKey struct {
	DatasetID  UUID
	RegionID   UUID
	SnapshotID UUID
}

// RegionSnapshot is a row of table `region_snapshot`
// (nexus/db-model/src/region_snapshot.rs).
type RegionSnapshot struct {
	Key      RSKey
	Addr     Addr // snapshot_addr
	Deleting bool
}

// UsageKind is volume_resource_usage.usage_type.
type UsageKind uint8

const (
	UsageReadOnlyRegion UsageKind = iota
	UsageRegionSnapshot
)

// Resource is what a read-only target resolves to: a read-only region or a
// region snapshot.
type Resource struct {
	Kind     UsageKind
	RegionID UUID  // UsageReadOnlyRegion
	RS       RSKey // UsageRegionSnapshot
}

// Usage is a row of table `volume_resource_usage`. The table is a multiset:
// its "unique" index has NULL columns in every row, so duplicates exist.
type Usage struct {
	UsageID  UUID
	VolumeID UUID
	Res      Resource
}

// RSRState is region_snapshot_replacement.replacement_state.
type RSRState uint8

const (
	RSRRequested RSRState = iota
	RSRAllocating
	RSRReplacementDone
	RSRDeletingOldVolume
	RSRRunning
	RSRCompleting // new at 09b150f177
	RSRComplete
)

var rsrStateNames = [...]string{"Requested", "Allocating", "ReplacementDone", "DeletingOldVolume", "Running", "Completing", "Complete"}

func (s RSRState) String() string { return rsrStateNames[s] }

// RSRequest is a row of table `region_snapshot_replacement`
// (nexus/db-model/src/region_snapshot_replacement.rs).
type RSRequest struct {
	ID                  UUID
	Old                 RSKey
	OldSnapshotVolumeID UUID // NULL = 0
	NewRegionID         UUID
	NewRegionVolumeID   UUID // new at 09b150f177
	State               RSRState
	OperatingSagaID     UUID
}

// StepState is region_snapshot_replacement_step.replacement_state.
type StepState uint8

const (
	StepRequested StepState = iota
	StepRunning
	StepComplete
	StepVolumeDeleted
)

var stepStateNames = [...]string{"Requested", "Running", "Complete", "VolumeDeleted"}

func (s StepState) String() string { return stepStateNames[s] }

// RSRStep is a row of table `region_snapshot_replacement_step`.
type RSRStep struct {
	ID                  UUID
	RequestID           UUID
	VolumeID            UUID
	OldSnapshotVolumeID UUID
	State               StepState
	OperatingSagaID     UUID
}

// RRState is region_replacement.replacement_state.
type RRState uint8

const (
	RRRequested RRState = iota
	RRAllocating
	RRRunning
	RRDriving
	RRReplacementDone
	RRCompleting
	RRComplete
)

var rrStateNames = [...]string{"Requested", "Allocating", "Running", "Driving", "ReplacementDone", "Completing", "Complete"}

func (s RRState) String() string { return rrStateNames[s] }

// RRequest is a row of table `region_replacement` (read/write region
// replacement; it matters here mostly for the repair lock it holds).
type RRequest struct {
	ID                UUID
	OldRegionID       UUID
	VolumeID          UUID
	OldRegionVolumeID UUID // the stash volume holding the old region (NULL = 0)
	NewRegionID       UUID
	State             RRState
	OperatingSagaID   UUID
}

// Lock is a row of table `volume_repair`: at most one per volume.
type Lock struct {
	VolumeID UUID
	RepairID UUID
}

// SnapshotState is snapshot.state.
type SnapshotState uint8

const (
	SnapshotCreating SnapshotState = iota
	SnapshotReady
	SnapshotFaulted
	SnapshotDestroyed
)

var snapshotStateNames = [...]string{"Creating", "Ready", "Faulted", "Destroyed"}

func (s SnapshotState) String() string { return snapshotStateNames[s] }

// Snapshot is a row of table `snapshot`. Snapshot rows are only ever
// soft-deleted.
type Snapshot struct {
	ID                  UUID
	DiskID              UUID
	VolumeID            UUID
	DestinationVolumeID UUID
	State               SnapshotState
	Gen                 uint32
	Deleted             bool // time_deleted IS NOT NULL
}

// DiskState is the disk's runtime state.
type DiskState uint8

const (
	DiskCreating DiskState = iota
	DiskDetached
	DiskAttached
	DiskMaintenance
	DiskFaulted
	DiskDestroyed
)

var diskStateNames = [...]string{"Creating", "Detached", "Attached", "Maintenance", "Faulted", "Destroyed"}

func (s DiskState) String() string { return diskStateNames[s] }

// Disk is a row of table `disk`.
type Disk struct {
	ID               UUID
	VolumeID         UUID
	State            DiskState
	Gen              uint32 // runtime state_generation (disk_update_runtime guard)
	AttachInstanceID UUID
	OriginSnapshot   UUID
	OriginImage      UUID
	Deleted          bool
}

// Image is a row of table `image`.
type Image struct {
	ID       UUID
	VolumeID UUID
	Deleted  bool
}

// PhysicalDiskPolicy is physical_disk.disk_policy.
type PhysicalDiskPolicy uint8

const (
	PolicyInService PhysicalDiskPolicy = iota
	PolicyExpunged
)

// PhysicalDiskState is physical_disk.disk_state.
type PhysicalDiskState uint8

const (
	PDStateActive PhysicalDiskState = iota
	PDStateDecommissioned
)

// Sled is a row of table `sled` (only what placement reads).
type Sled struct {
	ID            UUID
	Provisionable bool // sled policy in service and provisionable
	Active        bool // sled state active
}

// PhysicalDisk is a row of table `physical_disk`.
type PhysicalDisk struct {
	ID     UUID
	SledID UUID
	Policy PhysicalDiskPolicy
	State  PhysicalDiskState
}

// Zpool is a row of table `zpool`.
type Zpool struct {
	ID             UUID
	SledID         UUID
	PhysicalDiskID UUID
	Deleted        bool
	Capacity       int // how many regions fit (abstracts size accounting)
}

// Dataset is a Crucible dataset row (table `dataset`, kind Crucible).
type Dataset struct {
	ID      UUID
	PoolID  UUID
	IP      uint16 // one IP per dataset
	Deleted bool
}

// Outcome classes of a datastore call, as omicron's callers tell them apart
// (spec 10 §0.3).
type ErrClass uint8

const (
	ErrNone ErrClass = iota
	ErrConflict
	ErrInvalidRequest
	ErrInternal
	ErrInsufficientCapacity
)

// Error is a datastore error. Msg is only compared in one place: the
// "volume repair lock" Conflict the background tasks treat as benign.
type Error struct {
	Class ErrClass
	Msg   string
}

func (e *Error) Error() string {
	switch e.Class {
	case ErrConflict:
		return "conflict: " + e.Msg
	case ErrInvalidRequest:
		return "invalid request: " + e.Msg
	case ErrInsufficientCapacity:
		return "insufficient capacity: " + e.Msg
	default:
		return "internal: " + e.Msg
	}
}

// MsgVolumeRepairLock is the Conflict message the tasks ignore.
const MsgVolumeRepairLock = "volume repair lock"

// IsRepairLockConflict reports whether err is the benign lock Conflict.
func IsRepairLockConflict(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Class == ErrConflict && e.Msg == MsgVolumeRepairLock
}

// Switches are the pre-fix behaviours of spec 40. Every field false is the
// reference logic at 09b150f177. A switch set restores the behaviour of the
// parent commit 09b150f177^ in one place. Switches live only here, never in
// globals.
type Switches struct {
	NoNewRegionVolume           bool // #1 no NRV, no finish saga (old finish path)
	NoCompleteFromRequested     bool // #2 start task ignores a deleted region snapshot
	NoStepVolumeDeletedFastPath bool // #3 step task starts sagas for deleted volumes
	StepForSoftDeletedVolume    bool // #4 step task does not skip soft-deleted volumes
	NotifyDeletedVolume         bool // #5 step saga notifies a deleted volume
	PrematureVolumeHardDelete   bool // #6 find_deleted_volume_regions per-region volume
	LockWithoutVolume           bool // #7 lock insert without the volume-exists check
	RelockConflict              bool // #8 re-lock of the same (volume, repair) conflicts
	SubstringAddressMatch       bool // #9 find_volumes_referencing_socket_addr by substring
}

// Options are model behaviours that are not bugs: environment choices.
type Options struct {
	// SimulatedAgent reproduces omicron's simulated Crucible agent, which
	// ignores the clone source (a clone from an expunged source succeeds).
	// Off by default: a real agent reads from the source downstairs.
	SimulatedAgent bool
	// ReusePorts lets an agent hand out a port again after a delete, and
	// PortPrefixAliasing draws ports so that one port's decimal text can be a
	// prefix of another's on the same IP (spec 40 entry #9).
	ReusePorts         bool
	PortPrefixAliasing bool
	// PageSize is the page size of the paginated scans
	// (find_volumes_referencing_socket_addr, requested steps). 0 means
	// omicron's SQL_BATCH_SIZE (1000).
	PageSize int
	// AllocRandom sets Nexus's default_region_allocation_strategy to
	// `random` (nexus/tests/config.test.toml and the single-sled config),
	// the strategy of the disk-create and snapshot-create allocations in
	// omicron's own tests (spec 50 §2.7). False is the multi-sled
	// production default, random_with_distinct_sleds. The replacement
	// sagas take their strategy from their task, which always passes
	// random_with_distinct_sleds.
	AllocRandom bool `json:",omitempty"`
}

// Config is everything that shapes the model's behaviour for a run.
type Config struct {
	Switches Switches
	Options  Options
}
