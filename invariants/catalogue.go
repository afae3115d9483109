// Package invariants holds rsrsim's oracles: state invariants checked after
// every atomic step, event checks judged against what an acting step read,
// and quiescence (liveness and cleanliness) checks run after the system has
// been driven to a fixpoint. Each oracle has a stable name and a one-line
// meaning; `rsrsim list invariants` prints this catalogue.
//
// Oracles only read the model. They never draw from the run's chooser, so
// turning checks on or off never changes a run.
package invariants

// Kind says when an oracle is judged.
type Kind uint8

const (
	State      Kind = iota // after every atomic step
	EventCheck             // right after the acting step, on what it reported
	Quiescence             // after the drain phase (and after deleting everything)
)

func (k Kind) String() string { return [...]string{"state", "event", "quiescence"}[k] }

// Oracle describes one check.
type Oracle struct {
	Name    string
	Kind    Kind
	Meaning string
	Source  string // where the property comes from (spec / omicron)
}

// Oracle names. They are stable: failure files and FINDINGS.md use them.
const (
	V1TargetResolves      = "v1-target-resolves"
	V2NoSnapshotOfRO      = "v2-no-snapshot-of-read-only-region"
	UsageMatchesVCR       = "usage-matches-vcr"
	NoLiveUsageOnFreed    = "no-live-usage-on-freed-resource"
	NoFreeWhileReferenced = "no-free-while-referenced"
	NoOrphanRWRegion      = "no-orphaned-rw-region"
	RegionSetRedundancy   = "region-set-redundancy"
	RSOnRegionDataset     = "region-snapshot-on-region-dataset"
	RequestStateConsist   = "request-state-consistent"
	StepStateConsist      = "step-state-consistent"
	NewRegionAlive        = "inv-newregion"
	OneLockPerVolume      = "one-lock-per-volume"
	LockOwnerLive         = "lock-owner-live"
	EvHardDel             = "ev-harddel"
	EvLockMissing         = "ev-lock-missing"
	EvStepSoftDel         = "ev-step-softdel"
	EvStepNoRef           = "ev-step-noref"
	EvNotifyDeleted       = "ev-notify-deleted"
	LiveDrainConverges    = "live-drain-converges"
	LiveRequest           = "live-request"
	LiveStep              = "live-step"
	LiveRR                = "live-region-replacement"
	EndNoLocks            = "end-no-locks"
	EndNoStuckSaga        = "end-no-stuck-saga"
	EndTaskErrors         = "end-task-errors"
	EndExpungedHealthy    = "end-no-expunged-dependency"
	EndRelockOK           = "end-relock-ok"
	EndDiskUsable         = "end-disk-usable"
	EndRORefcount         = "end-ro-refcount"
	EndOrphanRW           = "end-orphan-rw"
	EndCompleteNoRef      = "end-complete-unreferenced"
	EndNoResources        = "end-no-resources"
)

// Catalogue lists every oracle.
var Catalogue = []Oracle{
	{V1TargetResolves, State, "every target of every live volume resolves: read/write to a live read/write region, read-only to a live region snapshot or read-only region", "validate_volume_invariants 1b/1c (volume.rs); spec 10 §2.5 items 1-2"},
	{V2NoSnapshotOfRO, State, "no read-only region is named by a region_snapshot usage row", "validate_volume_invariants 2; spec 10 §2.5 item 3"},
	{UsageMatchesVCR, State, "each live volume has exactly one usage row per read-only target occurrence in its VCR", "spec 10 §2.5 item 4 (soft delete depends on it)"},
	{NoLiveUsageOnFreed, State, "a resource that is deleting or gone has no usage row of a live volume", "spec 10 §2.5 item 5"},
	{NoFreeWhileReferenced, State, "no Crucible agent object backing a live volume's target is destroyed (unless its disk is expunged)", "spec 20 §10.3 item 1"},
	{NoOrphanRWRegion, State, "every read/write region has a volume row, unless an in-flight saga allocated it or is moving it", "spec 10 §2.5 item 6 with §9 item 4"},
	{RegionSetRedundancy, State, "the targets of each Region node of a live volume are distinct, on distinct zpools and distinct sleds", "Crucible's redundancy; spec 50 §2.4"},
	{RSOnRegionDataset, State, "a region snapshot sits on its region's dataset", "spec 10 §9 item 8"},
	{RequestStateConsist, State, "RSR requests: saga-owned states have an operating saga, other states none, and ids are set as the state requires", "spec 10 §5.3"},
	{StepStateConsist, State, "RSR steps: Running has an operating saga, other states none; Complete has its stash volume", "spec 10 §5.5"},
	{NewRegionAlive, State, "while a request in ReplacementDone, DeletingOldVolume or Running still has its region snapshot, its new region exists and is not deleting", "spec 40 §4 INV-NEWREGION, harmful-only form"},
	{OneLockPerVolume, State, "at most one volume_repair row per volume", "spec 10 §2.5 item 7"},
	{LockOwnerLive, State, "every lock is held by a request not Complete, a step Requested or Running, a region replacement not Complete, or a running snapshot-create saga", "spec 40 §13 INV-LOCK-OWNER"},
	{EvHardDel, EventCheck, "a volume-delete saga never hard-deletes a volume that still owns read/write regions", "spec 40 §9 EV-HARDDEL"},
	{EvLockMissing, EventCheck, "a repair lock is never inserted for a volume with no row", "spec 40 §10.1 EV-LOCK-MISSING"},
	{EvStepSoftDel, EventCheck, "the step task never inserts a step for a volume its scan read as soft-deleted", "spec 40 §7 EV-STEP-SOFTDEL"},
	{EvStepNoRef, EventCheck, "the step task never inserts a step for a volume whose scanned VCR does not name the address exactly", "spec 40 §11 EV-STEP-NOREF"},
	{EvNotifyDeleted, EventCheck, "a step saga never attempts an Upstairs notification after its replace saw a deleted volume", "spec 40 §8 EV-NOTIFY-DELETED"},
	{LiveDrainConverges, Quiescence, "with users and faults stopped, task passes reach a pass that does nothing", "spec 30 §C.4"},
	{LiveRequest, Quiescence, "every region snapshot replacement request is Complete", "spec 40 §13 LIVE-REQUEST"},
	{LiveStep, Quiescence, "every replacement step is VolumeDeleted", "spec 40 §13 LIVE-STEP"},
	{LiveRR, Quiescence, "every region replacement request is Complete", "spec 30 §C.3"},
	{EndNoLocks, Quiescence, "no volume_repair row remains", "spec 40 §13 END-NO-LOCKS"},
	{EndNoStuckSaga, Quiescence, "no saga is stuck on a failed undo (shape saga/node, plus /rerun when that undo had already taken effect once)", "assert_no_failed_undo_steps (test_helpers.rs)"},
	{EndTaskErrors, Quiescence, "at the fixpoint the tasks report no errors", "spec 30 §C.4"},
	{EndExpungedHealthy, Quiescence, "no live disk, snapshot or image volume still uses storage on an expunged disk while its region set has a healthy member", "the purpose of replacement"},
	{EndRelockOK, Quiescence, "a new repair lock on every live disk volume would succeed", "spec 30 §A.3"},
	{EndDiskUsable, Quiescence, "no live disk is left in Maintenance, a state only a running snapshot create holds it in", "snapshot_create.rs ssc_attach_disk_to_pantry, ssc_detach_disk_from_pantry"},
	{EndRORefcount, Quiescence, "every remaining read-only region has a usage row", "spec 40 §13 END-RO-REFCOUNT"},
	{EndOrphanRW, Quiescence, "every remaining read/write region has a volume row", "spec 40 §13 END-ORPHAN-RW"},
	{EndCompleteNoRef, Quiescence, "for a Complete request, its region snapshot is gone and no volume names its address", "spec 30 §C.2, §C.9 item 4"},
	{EndNoResources, Quiescence, "after every user object is deleted and drained: no region, region snapshot, usage row or agent object remains (expunged datasets aside)", "spec 30 §C.1, §C.9 item 6"},
}

// Lookup returns the oracle called name.
func Lookup(name string) (Oracle, bool) {
	for _, o := range Catalogue {
		if o.Name == name {
			return o, true
		}
	}
	return Oracle{}, false
}
