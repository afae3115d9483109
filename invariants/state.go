package invariants

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unsafe"

	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// Checker runs the oracles against one world. It keeps scratch buffers so
// that a check after a step allocates nothing when the state is clean.
type Checker struct {
	W *model.World
	// Disabled oracles are skipped (a user's explicit choice, recorded in
	// the run's configuration; every oracle is on by default). Scenarios
	// may change it between checks: the incremental storage checks then
	// start over (seenDisabled).
	Disabled map[string]bool
	// Full checks state invariants after every step, read-only ones
	// included (debug mode; the results must not differ).
	Full bool
	// sagaEnds is the World.SagaEnds value at the last state check.
	sagaEnds int
	// StateChecks counts the state checks AfterStep ran (the read-only
	// shortcut skips the others); tests compare it between modes.
	StateChecks int

	// placement index (buildPlacement): by dataset IP, and gone(db, ds)
	// by dataset id
	ipPool, ipSled []model.UUID
	ipGone, ipOK   []bool
	dsIDs          []model.UUID
	dsGoneB        []bool

	claimed []model.UUID
	counts  []resCount
	ro      []model.Addr
	rw      []model.Addr

	// seen holds copies of what the storage checks read, as it was when
	// they last passed; cur is the same for the state being checked.
	seen, cur storageInputs
	seenValid bool
	// seenDisabled is Disabled as it was when the storage checks last
	// passed: what passed with an oracle off says nothing of that oracle.
	seenDisabled map[string]bool
	// placementFresh: the placement index was built from the placement
	// tables in seen. A check that rebuilds it and then fails leaves it
	// built from tables seen does not hold.
	placementFresh bool
	// placementSame: the placement index is fresh and datasets, zpools and
	// disks are as in seen, so the index holds for the state being checked.
	placementSame bool
	// frozen is Full mode's record of every VCR tree seen, by pointer.
	frozen   map[*model.VCR][]uint32
	homeless []int32 // findHomeless
	// memo caches per-VCR derived facts (vcrMemo); placementGen counts
	// placement index builds.
	memo         []vcrMemo
	memoAddrs    []model.Addr
	memoHint     []int32 // by volume row index: where its VCR's memo entry was last found
	placementGen uint32
	// StorageSkips counts the state checks whose storage part was skipped
	// because its inputs were unchanged.
	StorageSkips int

	// refs are the live volumes' resolved targets as the last passing
	// storage check found them, in check order, and segs each volume's
	// run of them (checkStorageDelta reuses them); nrefs and nsegs are
	// being built by the check in progress.
	refs, nrefs []targetRef
	segs, nsegs []refSeg
	// what changed since the last passing storage check (collectDirty)
	dirtyAddrs []model.Addr
	dirtyAR    []agentRegionKey
	dirtyRun   []model.RSKey
	// DeltaChecks counts the storage checks done by the delta path, and
	// VolumesReused the live volumes it did not need to check again.
	DeltaChecks, VolumesReused int

	// first backing arrays of the slices above, so that a run's checker
	// seldom allocates them (a run has a few volumes and dirty keys)
	refBuf  [2][32]targetRef
	segBuf  [2][8]refSeg
	addrBuf [8]model.Addr
	arBuf   [8]agentRegionKey
	runBuf  [8]model.RSKey
}

// The tables storageInputs copies, as bits of a change mask.
const (
	chVolumes uint8 = 1 << iota
	chRegions
	chSnaps
	chUsages
	chAgentRegions
	chAgentRunning
	chPlacement
	chAll = 1<<iota - 1
)

// targetRef is one resolved target of a live volume: its address, what it
// resolved to, and so which agent record keeps it alive.
type targetRef struct {
	addr model.Addr
	kind uint8 // refRW, refRORegion or refROSnapshot
	// for regions DatasetID and RegionID; for a region snapshot the key
	key model.RSKey
}

const (
	refRW uint8 = iota
	refRORegion
	refROSnapshot
)

// refSeg is one live volume's refs: the volume id and VCR the refs were
// derived from, and their range in refs.
type refSeg struct {
	vol      model.UUID
	data     *model.VCR
	off, end int32
}

type agentRegionKey struct{ ds, region model.UUID }

// storageInputs is every table the storage checks (checkStorage) read:
// the volume rows (id, soft-delete flag and VCR pointer) and whole tables.
// Besides them the checks read only the disabled oracles (kept apart, in
// Checker.seenDisabled) and the placement index derived from these tables.
//
// A VCR is compared by pointer. That is exact because the model never
// changes a stored VCR in place: every change builds a new tree (model/vcr.go
// CopyVCR, ReplaceRegionInVCR, ReplaceReadOnlyTargetInVCR). Full mode
// proves it on every check (verifyFrozenVCRs).
type storageInputs struct {
	volumes      []volumeKey
	regions      []model.Region
	snaps        []model.RegionSnapshot
	usages       []model.Usage
	agentRegions []model.AgentRegion
	agentRunning []model.AgentRunning
	datasets     []model.Dataset
	zpools       []model.Zpool
	disks        []model.PhysicalDisk
}

type volumeKey struct {
	id          model.UUID
	softDeleted bool
	data        *model.VCR
}

// flattenVCR appends an encoding of v's tree that is equal for two trees
// exactly when they have the same shape, kinds, read-only flags and
// targets (what the storage checks read of a VCR). Full mode only.
func flattenVCR(dst []uint32, v *model.VCR) []uint32 {
	if v == nil {
		return append(dst, 0xFFFFFFFF)
	}
	head := uint32(v.Kind)
	if v.ReadOnly {
		head |= 1 << 8
	}
	dst = append(dst, head, uint32(len(v.Targets)), uint32(len(v.SubVolumes)))
	for _, t := range v.Targets {
		dst = append(dst, uint32(t.IP)<<16|uint32(t.Port))
	}
	for _, sv := range v.SubVolumes {
		dst = flattenVCR(dst, sv)
	}
	return flattenVCR(dst, v.ReadOnlyParent)
}

type resCount struct {
	res      model.Resource
	vcr, use int
}

// NewChecker returns a checker for w with every oracle on.
func NewChecker(w *model.World) *Checker {
	ck := &Checker{W: w}
	ck.refs, ck.nrefs = ck.refBuf[0][:0], ck.refBuf[1][:0]
	ck.segs, ck.nsegs = ck.segBuf[0][:0], ck.segBuf[1][:0]
	ck.dirtyAddrs, ck.dirtyAR, ck.dirtyRun = ck.addrBuf[:0], ck.arBuf[:0], ck.runBuf[:0]
	return ck
}

func (ck *Checker) on(name string) bool { return len(ck.Disabled) == 0 || !ck.Disabled[name] }

// violation builds a violation; shape is the signature's id-free part.
func violation(oracle, shape, detail string) *sim.Violation {
	sig := oracle
	if shape != "" {
		sig += ":" + shape
	}
	return &sim.Violation{Oracle: oracle, Signature: sig, Detail: detail}
}

// ---------------------------------------------------------------------------
// resolution without choices (oracles never draw from the chooser)

// regionAddr is a region's address, if its port is recorded.
func regionAddr(db *model.DB, r *model.Region) (model.Addr, bool) {
	if !r.HasPort {
		return model.Addr{}, false
	}
	ds := db.Dataset(r.DatasetID)
	if ds == nil {
		return model.Addr{}, false
	}
	return model.Addr{IP: ds.IP, Port: r.Port}, true
}

// resolveRW is target_to_region(.., ReadWrite): a read/write, not deleting
// region at addr.
func resolveRW(db *model.DB, a model.Addr) *model.Region {
	for i := range db.Regions {
		r := &db.Regions[i]
		if r.Port != a.Port || r.ReadOnly || r.Deleting || !r.HasPort {
			continue
		}
		if ds := db.Dataset(r.DatasetID); ds != nil && ds.IP == a.IP {
			return r
		}
	}
	return nil
}

// resolveRO is read_only_target_to_volume_resource_usage: a region
// snapshot with that address, not deleting; else a read-only, not deleting
// region at addr. ds is the dataset of what it found.
func resolveRO(db *model.DB, a model.Addr) (res model.Resource, ds model.UUID, ok bool) {
	for i := range db.RegionSnapshots {
		rs := &db.RegionSnapshots[i]
		if rs.Addr == a && !rs.Deleting {
			return model.Resource{Kind: model.UsageRegionSnapshot, RS: rs.Key}, rs.Key.DatasetID, true
		}
	}
	for i := range db.Regions {
		r := &db.Regions[i]
		if !r.ReadOnly || r.Deleting || !r.HasPort || r.Port != a.Port {
			continue
		}
		if d := db.Dataset(r.DatasetID); d != nil && d.IP == a.IP {
			return model.Resource{Kind: model.UsageReadOnlyRegion, RegionID: r.ID}, r.DatasetID, true
		}
	}
	return model.Resource{}, 0, false
}

// roTargets appends every read-only target of v at every level.
func roTargets(dst []model.Addr, v *model.VCR) []model.Addr {
	if v == nil {
		return dst
	}
	switch v.Kind {
	case model.VCRRegion:
		if v.ReadOnly {
			dst = append(dst, v.Targets...)
		}
	case model.VCRVolume:
		for _, s := range v.SubVolumes {
			dst = roTargets(dst, s)
		}
		dst = roTargets(dst, v.ReadOnlyParent)
	}
	return dst
}

// rwTargets appends the read/write targets of v's sub-volumes.
func rwTargets(dst []model.Addr, v *model.VCR) []model.Addr {
	if v == nil {
		return dst
	}
	switch v.Kind {
	case model.VCRRegion:
		if !v.ReadOnly {
			dst = append(dst, v.Targets...)
		}
	case model.VCRVolume:
		for _, s := range v.SubVolumes {
			dst = rwTargets(dst, s)
		}
	}
	return dst
}

// claimedRegions lists the regions that in-flight sagas allocated or are
// moving (model.Saga.Claims): a read/write region whose volume row is
// absent is not an orphan while such a saga may still delete or re-home it.
func (ck *Checker) claimedRegions() []model.UUID {
	ck.claimed = ck.claimed[:0]
	for _, s := range ck.W.Sagas {
		if !s.Finished() {
			ck.claimed = append(ck.claimed, s.Claims...)
		}
	}
	return ck.claimed
}

func contains(s []model.UUID, id model.UUID) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// state invariants

// CheckState runs every state invariant and returns the first violation.
//
// The storage checks are incremental, in two levels. They are pure
// functions of the tables in storageInputs and of the disabled oracles, so
// when none of those changed since they last passed they would pass again
// and are skipped. When only volume rows, regions and agent records
// changed, checkStorageDelta checks again only what those changes can
// reach. Checker.Full turns both off; TestIncrementalStateChecks,
// TestIncrementalPlacementChanges, TestIncrementalAfterFailedCheck,
// TestIncrementalOracleToggled, TestReadOnlyShortcutMissesNothing (full
// against incremental campaigns) and TestDeltaChecksMatchFull (a full
// checker beside the incremental one at every step) prove them.
func (ck *Checker) CheckState() *sim.Violation {
	if ck.Full {
		ck.verifyFrozenVCRs()
	}
	changed := ck.storageChanges()
	switch {
	case ck.Full || changed&(chPlacement|chSnaps|chUsages) != 0:
		if x := ck.checkStorage(); x != nil {
			return x
		}
		ck.rememberStorage()
		ck.findHomeless()
	case changed == 0:
		ck.StorageSkips++
	default:
		ck.DeltaChecks++
		if x := ck.checkStorageDelta(changed); x != nil {
			return x
		}
		ck.rememberStorage()
		if changed&(chRegions|chVolumes) != 0 {
			ck.findHomeless()
		}
	}
	db := ck.W.DB
	if ck.on(NoOrphanRWRegion) && len(ck.homeless) > 0 {
		claimed := ck.claimedRegions()
		for _, i := range ck.homeless {
			r := &db.Regions[i]
			if contains(claimed, r.ID) {
				continue
			}
			return violation(NoOrphanRWRegion, "", fmt.Sprintf("read/write region %d names volume %d, which has no row, and no running saga will delete or re-home it", r.ID, r.VolumeID))
		}
	}
	if x := ck.checkRequests(); x != nil {
		return x
	}
	return ck.checkLocks()
}

// findHomeless lists, in table order, the read/write regions whose volume
// has no row: the candidates of no-orphaned-rw-region, which only the
// claims of running sagas can excuse. It depends on regions and volumes
// alone, so it is recomputed only after storage checks that found either
// changed.
func (ck *Checker) findHomeless() {
	db := ck.W.DB
	ck.homeless = ck.homeless[:0]
	for i := range db.Regions {
		r := &db.Regions[i]
		if !r.ReadOnly && !hasVolume(ck.seen.volumes, r.VolumeID) {
			ck.homeless = append(ck.homeless, int32(i))
		}
	}
}

func hasVolume(vs []volumeKey, id model.UUID) bool {
	for i := range vs {
		if vs[i].id == id {
			return true
		}
	}
	return false
}

// storageChanges reports which of the tables the storage checks read
// differ from their copies from the last time the checks passed: all of
// them before the first pass, and when the disabled oracles are not those
// of that pass. The placement tables count as changed too when the
// placement index was not built from them (placementFresh). It also notes
// whether the placement index holds (placementSame), so that checkStorage
// can keep it.
func (ck *Checker) storageChanges() uint8 {
	db, s, c := ck.W.DB, &ck.seen, &ck.cur
	c.volumes = c.volumes[:0]
	for i := range db.Volumes {
		v := &db.Volumes[i]
		c.volumes = append(c.volumes, volumeKey{v.ID, v.SoftDeleted, v.Data})
	}
	if !ck.seenValid || !maps.Equal(ck.seenDisabled, ck.Disabled) {
		ck.placementSame = false
		return chAll
	}
	var m uint8
	if !ck.placementFresh || !sameRows(s.datasets, db.Datasets) || !sameRows(s.zpools, db.Zpools) || !sameRows(s.disks, db.PhysicalDisks) {
		m |= chPlacement
	}
	ck.placementSame = m == 0
	if !sameRows(s.regions, db.Regions) {
		m |= chRegions
	}
	if !sameRows(s.agentRegions, db.Agent.Regions) {
		m |= chAgentRegions
	}
	if !sameRows(s.volumes, c.volumes) {
		m |= chVolumes
	}
	if !sameRows(s.usages, db.Usages) {
		m |= chUsages
	}
	if !sameRows(s.snaps, db.RegionSnapshots) {
		m |= chSnaps
	}
	if !sameRows(s.agentRunning, db.Agent.Running) {
		m |= chAgentRunning
	}
	return m
}

// sameRows reports whether a and b hold equal rows. It compares memory
// first (a memcmp, several times cheaper than comparing field by field)
// and, only when that differs, the rows field by field: rows with padding
// (Dataset, Region, ...) can hold equal fields and different padding
// bytes, because append writes a new element's fields and not the padding
// of memory growslice did not zero. Equal bytes mean equal fields (the row
// types hold integers, booleans and, in volumeKey, a pointer compared by
// address), so the answer is exact either way.
func sameRows[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	n := len(a) * int(unsafe.Sizeof(a[0]))
	if bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), n), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), n)) {
		return true
	}
	return slices.Equal(a, b)
}

// rememberStorage keeps what the storage checks just passed on (no
// allocation once the copies have grown to the tables' sizes).
func (ck *Checker) rememberStorage() {
	db, s, c := ck.W.DB, &ck.seen, &ck.cur
	s.volumes, c.volumes = c.volumes, s.volumes
	s.regions = append(s.regions[:0], db.Regions...)
	s.snaps = append(s.snaps[:0], db.RegionSnapshots...)
	s.usages = append(s.usages[:0], db.Usages...)
	s.agentRegions = append(s.agentRegions[:0], db.Agent.Regions...)
	s.agentRunning = append(s.agentRunning[:0], db.Agent.Running...)
	s.datasets = append(s.datasets[:0], db.Datasets...)
	s.zpools = append(s.zpools[:0], db.Zpools...)
	s.disks = append(s.disks[:0], db.PhysicalDisks...)
	ck.seenValid = true
	ck.placementFresh = true // built from these tables, or kept because they did not change
	if !maps.Equal(ck.seenDisabled, ck.Disabled) {
		ck.seenDisabled = maps.Clone(ck.Disabled)
	}
	ck.refs, ck.nrefs = ck.nrefs, ck.refs
	ck.segs, ck.nsegs = ck.nsegs, ck.segs
}

// verifyFrozenVCRs (Full mode) proves what the pointer comparison of VCRs
// relies on: a VCR tree seen before still has the content it had then.
func (ck *Checker) verifyFrozenVCRs() {
	if ck.frozen == nil {
		ck.frozen = map[*model.VCR][]uint32{}
	}
	for i := range ck.W.DB.Volumes {
		v := ck.W.DB.Volumes[i].Data
		if v == nil {
			continue
		}
		enc := flattenVCR(nil, v)
		if old, ok := ck.frozen[v]; ok && !slices.Equal(old, enc) {
			panic(fmt.Sprintf("invariants: volume %d's stored VCR was changed in place; the incremental storage checks compare VCRs by pointer and need every change to build a new tree", ck.W.DB.Volumes[i].ID))
		}
		ck.frozen[v] = enc
	}
}

// checkStorage runs the state invariants over volumes, regions, region
// snapshots, usage rows and agents: every live volume's checks, and the
// table-wide usage and region snapshot checks.
func (ck *Checker) checkStorage() *sim.Violation {
	db := ck.W.DB
	if !ck.placementSame || ck.Full {
		ck.buildPlacement()
	}
	ck.growMemoHint()
	ck.nrefs, ck.nsegs = ck.nrefs[:0], ck.nsegs[:0]
	for i := range db.Volumes {
		v := &db.Volumes[i]
		if v.SoftDeleted {
			continue
		}
		if x := ck.checkLiveVolume(v, i); x != nil {
			return x
		}
	}
	return ck.checkTables(chAll)
}

func (ck *Checker) growMemoHint() {
	if n := len(ck.W.DB.Volumes); len(ck.memoHint) < n {
		ck.memoHint = append(ck.memoHint, make([]int32, n-len(ck.memoHint))...)
	}
}

// checkTables runs the table-wide storage checks (usage rows and region
// snapshots) whose inputs are among the changed tables; the others passed
// on the same inputs. None reads the agents.
func (ck *Checker) checkTables(changed uint8) *sim.Violation {
	db := ck.W.DB
	// usage rows, regions
	if changed&(chUsages|chRegions) != 0 && ck.on(V2NoSnapshotOfRO) {
		for i := range db.Usages {
			u := &db.Usages[i]
			if u.Res.Kind != model.UsageRegionSnapshot {
				continue
			}
			if r := db.Region(u.Res.RS.RegionID); r != nil && r.ReadOnly {
				return violation(V2NoSnapshotOfRO, "", fmt.Sprintf("usage row %d of volume %d names read-only region %d as a region snapshot's region", u.UsageID, u.VolumeID, r.ID))
			}
		}
	}
	// usage rows, volumes, regions, region snapshots
	if changed&(chUsages|chVolumes|chRegions|chSnaps) != 0 && ck.on(NoLiveUsageOnFreed) {
		for i := range db.Usages {
			u := &db.Usages[i]
			v := db.Volume(u.VolumeID)
			if v == nil || v.SoftDeleted {
				continue
			}
			switch u.Res.Kind {
			case model.UsageReadOnlyRegion:
				r := db.Region(u.Res.RegionID)
				if r == nil || r.Deleting {
					return violation(NoLiveUsageOnFreed, "read-only-region", fmt.Sprintf("live volume %d has a usage row on read-only region %d, which is %s", u.VolumeID, u.Res.RegionID, goneOrDeleting(r == nil)))
				}
			case model.UsageRegionSnapshot:
				rs := db.RegionSnapshot(u.Res.RS)
				if rs == nil || rs.Deleting {
					return violation(NoLiveUsageOnFreed, "region-snapshot", fmt.Sprintf("live volume %d has a usage row on region snapshot %v, which is %s", u.VolumeID, u.Res.RS, goneOrDeleting(rs == nil)))
				}
			}
		}
	}
	// region snapshots, regions
	if changed&(chSnaps|chRegions) != 0 && ck.on(RSOnRegionDataset) {
		for i := range db.RegionSnapshots {
			rs := &db.RegionSnapshots[i]
			if r := db.Region(rs.Key.RegionID); r != nil && r.DatasetID != rs.Key.DatasetID {
				return violation(RSOnRegionDataset, "", fmt.Sprintf("region snapshot %v is not on region %d's dataset %d", rs.Key, r.ID, r.DatasetID))
			}
		}
	}
	return nil
}

func goneOrDeleting(gone bool) string {
	if gone {
		return "gone"
	}
	return "marked deleting"
}

// checkLiveVolume checks V1, usage-matches-vcr, no-free-while-referenced and
// region-set-redundancy for one live volume, the row at index row of the
// volume table.
func (ck *Checker) checkLiveVolume(v *model.Volume, row int) *sim.Violation {
	db := ck.W.DB
	var m *vcrMemo
	rw, ro := ck.rw, ck.ro
	if ck.Full {
		ck.rw = rwTargets(ck.rw[:0], v.Data)
		ck.ro = roTargets(ck.ro[:0], v.Data)
		rw, ro = ck.rw, ck.ro
	} else {
		m = ck.memoFor(v.Data, &ck.memoHint[row])
		rw, ro = ck.memoAddrs[m.rwOff:m.rwEnd], ck.memoAddrs[m.roOff:m.roEnd]
	}
	start := int32(len(ck.nrefs))
	for _, a := range rw {
		r := resolveRW(db, a)
		if r == nil {
			if ck.on(V1TargetResolves) {
				return violation(V1TargetResolves, "read-write", fmt.Sprintf("live volume %d's read/write target %v resolves to no live read/write region", v.ID, a))
			}
			continue
		}
		ref := targetRef{addr: a, kind: refRW, key: model.RSKey{DatasetID: r.DatasetID, RegionID: r.ID}}
		if x := ck.checkRefAlive(v.ID, &ref); x != nil {
			return x
		}
		ck.nrefs = append(ck.nrefs, ref)
	}
	ck.counts = ck.counts[:0]
	for _, a := range ro {
		res, ds, ok := resolveRO(db, a)
		if !ok {
			if ck.on(V1TargetResolves) {
				return violation(V1TargetResolves, "read-only", fmt.Sprintf("live volume %d's read-only target %v resolves to no live region snapshot or read-only region", v.ID, a))
			}
			continue
		}
		ref := targetRef{addr: a, kind: refROSnapshot, key: res.RS}
		if res.Kind == model.UsageReadOnlyRegion {
			ref.kind, ref.key = refRORegion, model.RSKey{DatasetID: ds, RegionID: res.RegionID}
		}
		if x := ck.checkRefAlive(v.ID, &ref); x != nil {
			return x
		}
		ck.nrefs = append(ck.nrefs, ref)
		ck.bump(res, 1, 0)
	}
	if ck.on(UsageMatchesVCR) {
		for i := range db.Usages {
			if u := &db.Usages[i]; u.VolumeID == v.ID {
				ck.bump(u.Res, 0, 1)
			}
		}
		for _, c := range ck.counts {
			if c.vcr != c.use {
				return violation(UsageMatchesVCR, usageShape(c), fmt.Sprintf("live volume %d names %s %d time(s) in its VCR but has %d usage row(s) for it", v.ID, resString(c.res), c.vcr, c.use))
			}
		}
	}
	if ck.on(RegionSetRedundancy) && (m == nil || m.setsPassed != ck.placementGen) {
		if x := ck.checkRegionSets(v, v.Data); x != nil {
			return x
		}
		if m != nil {
			m.setsPassed = ck.placementGen
		}
	}
	ck.nsegs = append(ck.nsegs, refSeg{vol: v.ID, data: v.Data, off: start, end: int32(len(ck.nrefs))})
	return nil
}

// checkRefAlive is no-free-while-referenced for one resolved target of
// live volume vol: the agent still has what the target resolved to.
func (ck *Checker) checkRefAlive(vol model.UUID, ref *targetRef) *sim.Violation {
	if !ck.on(NoFreeWhileReferenced) {
		return nil
	}
	switch ref.kind {
	case refRW:
		if !ck.agentRegionAlive(ref.key.DatasetID, ref.key.RegionID) {
			return violation(NoFreeWhileReferenced, "read-write-region", fmt.Sprintf("live volume %d's read/write target %v is region %d, which its agent has destroyed", vol, ref.addr, ref.key.RegionID))
		}
	case refROSnapshot:
		if !ck.agentRunningAlive(ref.key) {
			return violation(NoFreeWhileReferenced, "region-snapshot", fmt.Sprintf("live volume %d's read-only target %v is region snapshot %v, whose downstairs its agent has destroyed", vol, ref.addr, ref.key))
		}
	case refRORegion:
		if !ck.agentRegionAlive(ref.key.DatasetID, ref.key.RegionID) {
			return violation(NoFreeWhileReferenced, "read-only-region", fmt.Sprintf("live volume %d's read-only target %v is region %d, which its agent has destroyed", vol, ref.addr, ref.key.RegionID))
		}
	}
	return nil
}

// checkStorageDelta is checkStorage when only volume rows, regions and
// agent records changed since the checks last passed (changed says which).
// A live volume's checks (checkLiveVolume) are a function of its id and VCR
// and of the tables, so a volume with the same id and VCR pointer as then
// passes them again, except where a change reaches it:
//   - a region row that changed, appeared or vanished (collectDirty compares
//     the tables row by row) can change how a target with its address
//     resolves, so a volume with a target at such an address is checked
//     again in full;
//   - an agent record that changed can change whether a resolved target is
//     alive, so the refs keyed by it are checked again.
//
// Other volumes keep their refs from the last pass. The first violation is
// the one checkStorage would report: volumes are visited in the same order
// and a reused volume's refs are in its check order. A table-wide check
// runs again only if a table it reads changed.
func (ck *Checker) checkStorageDelta(changed uint8) *sim.Violation {
	db := ck.W.DB
	ck.collectDirty(changed)
	ck.growMemoHint()
	ck.nrefs, ck.nsegs = ck.nrefs[:0], ck.nsegs[:0]
	agents := changed&(chAgentRegions|chAgentRunning) != 0
	for i := range db.Volumes {
		v := &db.Volumes[i]
		if v.SoftDeleted {
			continue
		}
		seg, ok := ck.segFor(v)
		if !ok || ck.onDirtyAddr(v, i) {
			if x := ck.checkLiveVolume(v, i); x != nil {
				return x
			}
			continue
		}
		ck.VolumesReused++
		refs := ck.refs[seg.off:seg.end]
		if agents {
			for j := range refs {
				if ck.refDirty(&refs[j]) {
					if x := ck.checkRefAlive(v.ID, &refs[j]); x != nil {
						return x
					}
				}
			}
		}
		start := int32(len(ck.nrefs))
		ck.nrefs = append(ck.nrefs, refs...)
		ck.nsegs = append(ck.nsegs, refSeg{vol: v.ID, data: v.Data, off: start, end: int32(len(ck.nrefs))})
	}
	return ck.checkTables(changed)
}

// segFor finds the refs the last pass derived for v's id and VCR.
func (ck *Checker) segFor(v *model.Volume) (refSeg, bool) {
	for _, s := range ck.segs {
		if s.vol == v.ID && s.data == v.Data {
			return s, true
		}
	}
	return refSeg{}, false
}

// onDirtyAddr reports whether a target of v (the volume at row) is in
// dirtyAddrs.
func (ck *Checker) onDirtyAddr(v *model.Volume, row int) bool {
	if len(ck.dirtyAddrs) == 0 {
		return false
	}
	m := ck.memoFor(v.Data, &ck.memoHint[row])
	for _, a := range ck.memoAddrs[m.rwOff:m.roEnd] {
		if slices.Contains(ck.dirtyAddrs, a) {
			return true
		}
	}
	return false
}

// addDirtyRegion lists the address region row r can resolve a target at:
// its port on its dataset's IP (the resolvers' match). The placement
// tables are unchanged on the delta path, so the dataset's IP is as it was
// for the old version of a row too; a row whose dataset has no row
// resolves nothing.
func (ck *Checker) addDirtyRegion(r *model.Region) {
	if ds := ck.W.DB.Dataset(r.DatasetID); ds != nil {
		ck.dirtyAddrs = append(ck.dirtyAddrs, model.Addr{IP: ds.IP, Port: r.Port})
	}
}

// refDirty reports whether the agent record ref depends on may have
// changed.
func (ck *Checker) refDirty(ref *targetRef) bool {
	if ref.kind == refROSnapshot {
		return slices.Contains(ck.dirtyRun, ref.key)
	}
	return slices.Contains(ck.dirtyAR, agentRegionKey{ref.key.DatasetID, ref.key.RegionID})
}

// collectDirty lists the keys of the rows that differ between the tables
// and their copies from the last pass: addresses of regions, keys of agent
// region and running-snapshot records. Rows are compared position by
// position and both versions of a changed row count, as does every row
// beyond the shorter table; so a key not listed has its rows at the same
// positions with the same contents in both, and any lookup by that key
// (first match in table order) answers as it did.
func (ck *Checker) collectDirty(changed uint8) {
	db, s := ck.W.DB, &ck.seen
	ck.dirtyAddrs, ck.dirtyAR, ck.dirtyRun = ck.dirtyAddrs[:0], ck.dirtyAR[:0], ck.dirtyRun[:0]
	if changed&chRegions != 0 {
		old, cur := s.regions, db.Regions
		for i := range max(len(old), len(cur)) {
			switch {
			case i >= len(old):
				ck.addDirtyRegion(&cur[i])
			case i >= len(cur):
				ck.addDirtyRegion(&old[i])
			case old[i] != cur[i]:
				ck.addDirtyRegion(&old[i])
				ck.addDirtyRegion(&cur[i])
			}
		}
	}
	if changed&chAgentRegions != 0 {
		old, cur := s.agentRegions, db.Agent.Regions
		for i := range max(len(old), len(cur)) {
			switch {
			case i >= len(old):
				ck.dirtyAR = append(ck.dirtyAR, agentRegionKey{cur[i].Dataset, cur[i].Region})
			case i >= len(cur):
				ck.dirtyAR = append(ck.dirtyAR, agentRegionKey{old[i].Dataset, old[i].Region})
			case old[i] != cur[i]:
				ck.dirtyAR = append(ck.dirtyAR, agentRegionKey{old[i].Dataset, old[i].Region}, agentRegionKey{cur[i].Dataset, cur[i].Region})
			}
		}
	}
	if changed&chAgentRunning != 0 {
		old, cur := s.agentRunning, db.Agent.Running
		for i := range max(len(old), len(cur)) {
			switch {
			case i >= len(old):
				ck.dirtyRun = append(ck.dirtyRun, runKey(&cur[i]))
			case i >= len(cur):
				ck.dirtyRun = append(ck.dirtyRun, runKey(&old[i]))
			case old[i] != cur[i]:
				ck.dirtyRun = append(ck.dirtyRun, runKey(&old[i]), runKey(&cur[i]))
			}
		}
	}
}

func runKey(r *model.AgentRunning) model.RSKey {
	return model.RSKey{DatasetID: r.Dataset, RegionID: r.Region, SnapshotID: r.Snapshot}
}

// vcrMemo is what the storage checks derive from a VCR tree alone: its
// read/write and read-only targets (offsets into Checker.memoAddrs), and
// whether its region sets passed under the current placement index. A
// stored VCR never changes (see storageInputs), so an entry stays valid for
// as long as it is kept. Full mode does not use it.
type vcrMemo struct {
	data         *model.VCR
	rwOff, rwEnd int32
	roOff, roEnd int32
	setsPassed   uint32 // the placementGen under which the region sets passed (0 = not yet)
}

// memoMax bounds the memo; when full it is emptied and refilled.
const memoMax = 64

// memoFor returns v's memo entry, deriving it on first sight. The entry
// and its target slices are valid until the next memoFor call. *hint is
// where the caller's volume found its entry last time: tried first, and
// updated (a volume's VCR seldom changes, so the scan is seldom needed).
func (ck *Checker) memoFor(v *model.VCR, hint *int32) *vcrMemo {
	if h := int(*hint); h < len(ck.memo) && ck.memo[h].data == v {
		return &ck.memo[h]
	}
	for i := range ck.memo {
		if ck.memo[i].data == v {
			*hint = int32(i)
			return &ck.memo[i]
		}
	}
	if len(ck.memo) >= memoMax {
		ck.memo, ck.memoAddrs = ck.memo[:0], ck.memoAddrs[:0]
	}
	off := int32(len(ck.memoAddrs))
	ck.memoAddrs = rwTargets(ck.memoAddrs, v)
	mid := int32(len(ck.memoAddrs))
	ck.memoAddrs = roTargets(ck.memoAddrs, v)
	ck.memo = append(ck.memo, vcrMemo{data: v, rwOff: off, rwEnd: mid, roOff: mid, roEnd: int32(len(ck.memoAddrs))})
	*hint = int32(len(ck.memo) - 1)
	return &ck.memo[len(ck.memo)-1]
}

func usageShape(c resCount) string {
	switch {
	case c.vcr == 0:
		return "row-without-target"
	case c.use == 0:
		return "target-without-row"
	case c.use > c.vcr:
		return "extra-rows"
	}
	return "missing-rows"
}

func resString(r model.Resource) string {
	if r.Kind == model.UsageReadOnlyRegion {
		return fmt.Sprintf("read-only region %d", r.RegionID)
	}
	return fmt.Sprintf("region snapshot %v", r.RS)
}

func (ck *Checker) bump(res model.Resource, vcr, use int) {
	for i := range ck.counts {
		if ck.counts[i].res == res {
			ck.counts[i].vcr += vcr
			ck.counts[i].use += use
			return
		}
	}
	ck.counts = append(ck.counts, resCount{res: res, vcr: vcr, use: use})
}

// agentRegionAlive: the region exists on its agent (Created), or its
// dataset is gone (expunged: Nexus never talks to it again).
func (ck *Checker) agentRegionAlive(ds, region model.UUID) bool {
	db := ck.W.DB
	if ck.dsGone(ds) {
		return true
	}
	for i := range db.Agent.Regions {
		r := &db.Agent.Regions[i]
		if r.Dataset == ds && r.Region == region {
			return r.State == model.AgentCreated
		}
	}
	return false
}

// agentRunningAlive: the region snapshot's downstairs runs, or its dataset
// is gone.
func (ck *Checker) agentRunningAlive(k model.RSKey) bool {
	db := ck.W.DB
	if ck.dsGone(k.DatasetID) {
		return true
	}
	for i := range db.Agent.Running {
		r := &db.Agent.Running[i]
		if r.Dataset == k.DatasetID && r.Region == k.RegionID && r.Snapshot == k.SnapshotID {
			return !r.Destroyed
		}
	}
	return false
}

func gone(db *model.DB, ds model.UUID) bool {
	in, err := db.DatasetInService(ds)
	return err == nil && !in
}

// buildPlacement fills the per-check table dataset IP → (zpool, sled,
// gone), so target lookups cost an index instead of row scans.
func (ck *Checker) buildPlacement() {
	db := ck.W.DB
	ck.placementGen++
	ck.placementFresh = false // until the check passes and seen takes these tables
	n := 0
	for i := range db.Datasets {
		if ip := int(db.Datasets[i].IP); ip >= n {
			n = ip + 1
		}
	}
	ck.ipPool = grow(ck.ipPool, n)
	ck.ipSled = grow(ck.ipSled, n)
	ck.ipGone = growB(ck.ipGone, n)
	ck.ipOK = growB(ck.ipOK, n)
	for i := range db.Datasets {
		d := &db.Datasets[i]
		z := db.Zpool(d.PoolID)
		if z == nil {
			continue
		}
		ck.ipPool[d.IP], ck.ipSled[d.IP], ck.ipOK[d.IP] = z.ID, z.SledID, true
		ck.ipGone[d.IP] = gone(db, d.ID)
	}
	ck.dsIDs, ck.dsGoneB = ck.dsIDs[:0], ck.dsGoneB[:0]
	for i := range db.Datasets {
		ck.dsIDs = append(ck.dsIDs, db.Datasets[i].ID)
		ck.dsGoneB = append(ck.dsGoneB, gone(db, db.Datasets[i].ID))
	}
}

// dsGone is gone(db, ds) from the placement index.
func (ck *Checker) dsGone(ds model.UUID) bool {
	for i, id := range ck.dsIDs {
		if id == ds {
			return ck.dsGoneB[i]
		}
	}
	return false // no such dataset: gone reports false too
}

func grow(s []model.UUID, n int) []model.UUID {
	if cap(s) < n {
		s = make([]model.UUID, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func growB(s []bool, n int) []bool {
	if cap(s) < n {
		s = make([]bool, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// placement returns the zpool and sled behind a target, if it resolves.
func (ck *Checker) placement(a model.Addr) (pool, sled model.UUID, ok bool) {
	if int(a.IP) >= len(ck.ipOK) || !ck.ipOK[a.IP] {
		return 0, 0, false
	}
	return ck.ipPool[a.IP], ck.ipSled[a.IP], true
}

// checkRegionSets walks every Region node of v (sub-volumes and read-only
// parents) and requires its targets to be distinct, on distinct zpools and
// on distinct sleds.
func (ck *Checker) checkRegionSets(vol *model.Volume, v *model.VCR) *sim.Violation {
	if v == nil {
		return nil
	}
	if v.Kind == model.VCRRegion {
		ts := v.Targets
		for i := 0; i < len(ts); i++ {
			pi, si, oki := ck.placement(ts[i])
			for j := i + 1; j < len(ts); j++ {
				if ts[i] == ts[j] {
					return violation(RegionSetRedundancy, "same-target", fmt.Sprintf("live volume %d has a Region naming target %v twice", vol.ID, ts[i]))
				}
				pj, sj, okj := ck.placement(ts[j])
				if !oki || !okj {
					continue
				}
				if pi == pj {
					return violation(RegionSetRedundancy, "same-zpool", fmt.Sprintf("live volume %d has a Region whose targets %v and %v are on the same zpool %d", vol.ID, ts[i], ts[j], pi))
				}
				if si == sj {
					return violation(RegionSetRedundancy, "same-sled", fmt.Sprintf("live volume %d has a Region whose targets %v and %v are on the same sled %d (zpools %d and %d)", vol.ID, ts[i], ts[j], si, pi, pj))
				}
			}
		}
		return nil
	}
	for _, s := range v.SubVolumes {
		if x := ck.checkRegionSets(vol, s); x != nil {
			return x
		}
	}
	return ck.checkRegionSets(vol, v.ReadOnlyParent)
}

// checkRequests checks the request and step state machines and
// INV-NEWREGION.
func (ck *Checker) checkRequests() *sim.Violation {
	db := ck.W.DB
	prefix1 := db.Cfg.Switches.NoNewRegionVolume
	for i := range db.Requests {
		q := &db.Requests[i]
		if ck.on(RequestStateConsist) {
			owned := q.State == model.RSRAllocating || q.State == model.RSRDeletingOldVolume || q.State == model.RSRCompleting
			if owned != (q.OperatingSagaID != 0) {
				return violation(RequestStateConsist, "op-"+q.State.String(), fmt.Sprintf("request %d is %s with operating saga %d", q.ID, q.State, q.OperatingSagaID))
			}
			switch q.State {
			case model.RSRRequested, model.RSRAllocating:
				if q.NewRegionID != 0 || q.OldSnapshotVolumeID != 0 || q.NewRegionVolumeID != 0 {
					return violation(RequestStateConsist, "ids-"+q.State.String(), fmt.Sprintf("request %d is %s but has replacement ids set", q.ID, q.State))
				}
			case model.RSRReplacementDone, model.RSRDeletingOldVolume, model.RSRRunning, model.RSRCompleting:
				if q.NewRegionID == 0 || q.OldSnapshotVolumeID == 0 || (q.NewRegionVolumeID == 0) != prefix1 {
					return violation(RequestStateConsist, "ids-"+q.State.String(), fmt.Sprintf("request %d is %s but new_region_id=%d old_snapshot_volume_id=%d new_region_volume_id=%d", q.ID, q.State, q.NewRegionID, q.OldSnapshotVolumeID, q.NewRegionVolumeID))
				}
			}
		}
		// N is needed while the replaced region snapshot's row exists: as
		// long as it does, the step task can still create steps that swap
		// A for N (spec 40 §4, the "harmful only" form). Once the row is
		// gone no step can need N; a finish saga that deleted NRV and then
		// unwound leaves the request Running with N legitimately gone.
		if ck.on(NewRegionAlive) && (q.State == model.RSRReplacementDone || q.State == model.RSRDeletingOldVolume || q.State == model.RSRRunning) && db.RegionSnapshot(q.Old) != nil {
			r := db.Region(q.NewRegionID)
			if r == nil || r.Deleting {
				return violation(NewRegionAlive, q.State.String()+"-"+strings.ReplaceAll(goneOrDeleting(r == nil), "marked ", ""), fmt.Sprintf("request %d is %s and its region snapshot %v still exists, but its new region %d is %s", q.ID, q.State, q.Old, q.NewRegionID, goneOrDeleting(r == nil)))
			}
		}
	}
	if ck.on(StepStateConsist) {
		for i := range db.Steps {
			s := &db.Steps[i]
			if (s.State == model.StepRunning) != (s.OperatingSagaID != 0) {
				return violation(StepStateConsist, "op-"+s.State.String(), fmt.Sprintf("step %d is %s with operating saga %d", s.ID, s.State, s.OperatingSagaID))
			}
			if s.State == model.StepComplete && s.OldSnapshotVolumeID == 0 {
				return violation(StepStateConsist, "no-stash", fmt.Sprintf("step %d is Complete with no old_snapshot_volume_id", s.ID))
			}
		}
	}
	return nil
}

// LiveLockIDs appends the lock ids of snapshot-create sagas still running
// (their TAKE_VOLUME_LOCK may hold a lock).
func liveLockIDs(w *model.World, dst []model.UUID) []model.UUID {
	for _, s := range w.Sagas {
		if s.State == model.SagaRunning || s.State == model.SagaUnwinding {
			if id := s.LockID(); id != 0 {
				dst = append(dst, id)
			}
		}
	}
	return dst
}

// checkLocks checks one-lock-per-volume and lock-owner-live.
func (ck *Checker) checkLocks() *sim.Violation {
	db := ck.W.DB
	if ck.on(OneLockPerVolume) {
		for i := range db.Locks {
			for j := i + 1; j < len(db.Locks); j++ {
				if db.Locks[i].VolumeID == db.Locks[j].VolumeID {
					return violation(OneLockPerVolume, "", fmt.Sprintf("volume %d has two repair locks (%d and %d)", db.Locks[i].VolumeID, db.Locks[i].RepairID, db.Locks[j].RepairID))
				}
			}
		}
	}
	if !ck.on(LockOwnerLive) || len(db.Locks) == 0 {
		return nil
	}
	ck.claimed = liveLockIDs(ck.W, ck.claimed[:0])
	for i := range db.Locks {
		l := &db.Locks[i]
		if q := db.Request(l.RepairID); q != nil {
			if q.State == model.RSRComplete {
				return violation(LockOwnerLive, "request-Complete", fmt.Sprintf("volume %d is locked by request %d, which is Complete", l.VolumeID, q.ID))
			}
			continue
		}
		if s := db.Step(l.RepairID); s != nil {
			if s.State != model.StepRequested && s.State != model.StepRunning {
				return violation(LockOwnerLive, "step-"+s.State.String(), fmt.Sprintf("volume %d is locked by step %d, which is %s", l.VolumeID, s.ID, s.State))
			}
			continue
		}
		if rr := db.RRequest(l.RepairID); rr != nil {
			if rr.State == model.RRComplete {
				return violation(LockOwnerLive, "region-replacement-Complete", fmt.Sprintf("volume %d is locked by region replacement %d, which is Complete", l.VolumeID, rr.ID))
			}
			continue
		}
		if contains(ck.claimed, l.RepairID) {
			continue
		}
		for _, sg := range ck.W.Sagas {
			if sg.LockID() == l.RepairID {
				// Shape: did the saga lose its lock with its disk gone
				// (its lookups fail) or with the disk still there?
				disk := "disk-live"
				if d := db.Disk(sg.LockDisk()); d == nil || d.Deleted {
					disk = "disk-deleted"
				}
				return violation(LockOwnerLive, "saga-"+sg.State.String()+"-"+disk, fmt.Sprintf("volume %d is locked by %s saga %d's lock %d, and that saga is %s (%s)", l.VolumeID, sg.Name, sg.ID, l.RepairID, sg.State, disk))
			}
		}
		return violation(LockOwnerLive, "no-live-owner", fmt.Sprintf("volume %d is locked by %d, which is no request, step, region replacement or running snapshot-create saga", l.VolumeID, l.RepairID))
	}
	return nil
}
