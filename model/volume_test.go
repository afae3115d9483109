package model

import (
	"reflect"
	"slices"
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
	"pgregory.net/rapid"
)

// ---------------------------------------------------------------------------
// Test-only fixture builder for the volume half. Rows are appended directly
// to the tables, so these tests do not depend on the region/topology API.

// vTB is what the fixture needs from *testing.T or *rapid.T.
type vTB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type vfx struct {
	t    vTB
	db   *DB
	ip   uint16
	port uint16
}

func newVFX(t vTB) *vfx { return newVFXCfg(t, Config{}) }

func newVFXCfg(t vTB, cfg Config) *vfx {
	return &vfx{t: t, db: NewDB(cfg, nil), ip: 0x100, port: 100}
}

// dataset adds a dataset with its own IP.
func (f *vfx) dataset() UUID {
	f.ip++
	id := f.db.NewUUID()
	f.db.Datasets = append(f.db.Datasets, Dataset{ID: id, IP: f.ip})
	return id
}

func (f *vfx) nextPort() uint16 { f.port++; return f.port }

func (f *vfx) ipOf(ds UUID) uint16 { return f.db.Dataset(ds).IP }

// regionAt adds a region with a port on ds, owned by vol.
func (f *vfx) regionAt(ds, vol UUID, ro bool, port uint16) (UUID, Addr) {
	id := f.db.NewUUID()
	f.db.Regions = append(f.db.Regions, Region{ID: id, DatasetID: ds, VolumeID: vol, Port: port, HasPort: true, ReadOnly: ro})
	return id, Addr{IP: f.ipOf(ds), Port: port}
}

func (f *vfx) region(ds, vol UUID, ro bool) (UUID, Addr) {
	return f.regionAt(ds, vol, ro, f.nextPort())
}

// rs adds a region snapshot of region (on its dataset) at a fresh port.
func (f *vfx) rs(region UUID) (RSKey, Addr) {
	r := f.db.Region(region)
	k := RSKey{DatasetID: r.DatasetID, RegionID: region, SnapshotID: f.db.NewUUID()}
	ad := Addr{IP: f.ipOf(r.DatasetID), Port: f.nextPort()}
	f.db.RegionSnapshots = append(f.db.RegionSnapshots, RegionSnapshot{Key: k, Addr: ad})
	return k, ad
}

// rsRaw adds a region snapshot row with an arbitrary key and address.
func (f *vfx) rsRaw(ad Addr) RSKey {
	k := RSKey{DatasetID: f.db.NewUUID(), RegionID: f.db.NewUUID(), SnapshotID: f.db.NewUUID()}
	f.db.RegionSnapshots = append(f.db.RegionSnapshots, RegionSnapshot{Key: k, Addr: ad})
	return k
}

func (f *vfx) removeRS(k RSKey) {
	for i := range f.db.RegionSnapshots {
		if f.db.RegionSnapshots[i].Key == k {
			f.db.RegionSnapshots = removeAt(f.db.RegionSnapshots, i)
			return
		}
	}
	f.t.Fatalf("no region snapshot %v", k)
}

func (f *vfx) removeRegion(id UUID) {
	for i := range f.db.Regions {
		if f.db.Regions[i].ID == id {
			f.db.Regions = removeAt(f.db.Regions, i)
			return
		}
	}
	f.t.Fatalf("no region %d", id)
}

// owned lists the ids of the regions owned by vol.
func (f *vfx) owned(vol UUID) []UUID {
	var out []UUID
	for _, r := range f.db.Regions {
		if r.VolumeID == vol {
			out = append(out, r.ID)
		}
	}
	return out
}

func (f *vfx) create(id UUID, v *VCR) {
	f.t.Helper()
	if err := f.db.VolumeCreate(id, v); err != nil {
		f.t.Fatalf("VolumeCreate(%d): %v", id, err)
	}
}

func (f *vfx) softDelete(id UUID) CrucibleResources {
	f.t.Helper()
	res, err := f.db.SoftDeleteVolume(id)
	if err != nil {
		f.t.Fatalf("SoftDeleteVolume(%d): %v", id, err)
	}
	return res
}

// disk creates a live disk volume with one read/write region on each
// dataset; rop (may be nil) becomes its read_only_parent.
func (f *vfx) disk(rop *VCR, ds ...UUID) (UUID, []UUID, []Addr) {
	vol := f.db.NewUUID()
	var ids []UUID
	var ads []Addr
	for _, d := range ds {
		id, ad := f.region(d, vol, false)
		ids = append(ids, id)
		ads = append(ads, ad)
	}
	f.create(vol, vVol(vol, rop, vReg(f.db.NewUUID(), false, ads...)))
	return vol, ids, ads
}

// snapshot creates region snapshots of the disk's regions and a live
// snapshot volume (the snapshot-create shape: read-only sub-volume over the
// region snapshots, the disk's read_only_parent copied with targets
// unchanged).
func (f *vfx) snapshot(diskVol UUID, regions []UUID) (UUID, []RSKey, []Addr) {
	sv := f.db.NewUUID()
	var ks []RSKey
	var ads []Addr
	for _, r := range regions {
		k, ad := f.rs(r)
		ks = append(ks, k)
		ads = append(ads, ad)
	}
	var rop *VCR
	if d := f.db.Volume(diskVol); d != nil && d.Data.ReadOnlyParent != nil {
		var err error
		rop, err = RandomizeIDs(d.Data.ReadOnlyParent, f.db.NewUUID)
		if err != nil {
			f.t.Fatal(err)
		}
	}
	f.create(sv, vVol(sv, rop, vReg(f.db.NewUUID(), true, ads...)))
	return sv, ks, ads
}

// blank creates a live "volume to delete" with one read-only Region and
// no targets.
func (f *vfx) blank() UUID {
	id := f.db.NewUUID()
	f.create(id, vVol(id, nil, vReg(f.db.NewUUID(), true)))
	return id
}

// rows returns the volume ids of the usage rows of res, in table order
// (wantRows compares them as a multiset).
func (f *vfx) rows(res Resource) []UUID {
	var out []UUID
	for _, u := range f.db.Usages {
		if u.Res == res {
			out = append(out, u.VolumeID)
		}
	}
	return out
}

func (f *vfx) wantRows(res Resource, vols ...UUID) {
	f.t.Helper()
	got := f.rows(res)
	if len(got) == 0 && len(vols) == 0 {
		return
	}
	want := append([]UUID(nil), vols...)
	slices.Sort(got)
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		f.t.Fatalf("usage rows of %s: got volumes %v, want %v", resStr(res), got, vols)
	}
}

func (f *vfx) clean() {
	f.t.Helper()
	if v := f.db.CheckStateInvariants(nil); len(v) != 0 {
		f.t.Fatalf("state invariants: %v", v)
	}
}

func (f *vfx) data(id UUID) string {
	v := f.db.Volume(id)
	if v == nil {
		return "<absent>"
	}
	return vDump(v.Data)
}

// vfxState is a comparable copy of the tables a volume operation touches.
type vfxState struct {
	Volumes []string
	Flags   []bool
	Regions []Region
	RS      []RegionSnapshot
	Usages  []Usage
}

func (f *vfx) state() vfxState {
	var s vfxState
	for _, v := range f.db.Volumes {
		s.Volumes = append(s.Volumes, idStr(v.ID)+":"+vDump(v.Data))
		s.Flags = append(s.Flags, v.SoftDeleted, v.ResourcesToCleanUp != nil)
	}
	s.Regions = append(s.Regions, f.db.Regions...)
	s.RS = append(s.RS, f.db.RegionSnapshots...)
	s.Usages = append(s.Usages, f.db.Usages...)
	return s
}

func (f *vfx) sameState(before vfxState, what string) {
	f.t.Helper()
	if after := f.state(); !reflect.DeepEqual(before, after) {
		f.t.Fatalf("%s changed the state:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

func vClass(err error) ErrClass {
	if err == nil {
		return ErrNone
	}
	if e, ok := err.(*Error); ok {
		return e.Class
	}
	return 255
}

func rsRes(k RSKey) Resource       { return RegionSnapshotResource(k) }
func roRes(id UUID) Resource       { return ReadOnlyRegionResource(id) }
func vIDs(ids ...UUID) []UUID      { return ids }
func vAddrs(a ...Addr) []Addr      { return a }
func (f *vfx) three() []UUID       { return []UUID{f.dataset(), f.dataset(), f.dataset()} }
func (f *vfx) vol(id UUID) *Volume { return f.db.Volume(id) }

// vfxChooser returns scripted row choices.
type vfxChooser struct{ vals []int }

func (c *vfxChooser) Choose(k sim.Kind, n int) int {
	if len(c.vals) == 0 || n <= 1 {
		return 0
	}
	v := c.vals[0] % n
	c.vals = c.vals[1:]
	return v
}

// ---------------------------------------------------------------------------
// volume_create

func TestVolumeCreate(t *testing.T) {
	f := newVFX(t)
	ds := f.three()
	d, regs, _ := f.disk(nil, ds...)
	if len(f.db.Usages) != 0 {
		t.Fatal("read/write targets got usage rows")
	}
	s, ks, _ := f.snapshot(d, regs)
	for _, k := range ks {
		f.wantRows(rsRes(k), s)
	}
	f.clean()

	// idempotent: an existing id, whatever the argument, changes nothing
	before := f.state()
	if err := f.db.VolumeCreate(s, vVol(s, nil)); err != nil {
		t.Fatal(err)
	}
	f.sameState(before, "re-create")
	f.softDelete(s)
	before = f.state()
	if err := f.db.VolumeCreate(s, f.vol(s).Data); err != nil {
		t.Fatal(err)
	}
	f.sameState(before, "re-create of a soft-deleted volume")

	// hard-deleted: a re-run recreates the row with fresh usage rows
	s2, ks2, ads2 := f.snapshot(d, regs)
	f.db.VolumeHardDelete(s2)
	f.create(s2, vVol(s2, nil, vReg(1, true, ads2...)))
	f.wantRows(rsRes(ks2[0]), s2, s2)
	if f.vol(s2).SoftDeleted {
		t.Fatal("recreated volume not live")
	}

	// duplicate occurrences give duplicate rows
	dup := f.db.NewUUID()
	f.create(dup, vVol(dup, nil, vReg(1, true, ads2[1], ads2[1])))
	f.wantRows(rsRes(ks2[1]), s2, s2, dup, dup)
}

func TestVolumeCreateUnresolvableIsAtomic(t *testing.T) {
	f := newVFX(t)
	d, regs, _ := f.disk(nil, f.three()...)
	_, ks, ads := f.snapshot(d, regs)
	missing := Addr{IP: 0x999, Port: 1}
	before := f.state()
	id := f.db.NewUUID()
	err := f.db.VolumeCreate(id, vVol(id, vReg(1, true, ads[0], missing)))
	if vClass(err) != ErrInternal {
		t.Fatalf("got %v, want Internal", err)
	}
	f.sameState(before, "failed create")

	// a resource marked deleting does not resolve
	f.db.RegionSnapshot(ks[1]).Deleting = true
	before = f.state()
	err = f.db.VolumeCreate(id, vVol(id, vReg(1, true, ads[0], ads[1])))
	if vClass(err) != ErrInternal {
		t.Fatalf("deleting resource: got %v", err)
	}
	f.sameState(before, "create over a deleting resource")

	// a region without a port does not resolve either
	ds := f.dataset()
	f.db.Regions = append(f.db.Regions, Region{ID: f.db.NewUUID(), DatasetID: ds, ReadOnly: true})
	err = f.db.VolumeCreate(id, vVol(id, nil, vReg(1, true, Addr{IP: f.ipOf(ds)})))
	if vClass(err) != ErrInternal || f.vol(id) != nil {
		t.Fatalf("portless region: %v", err)
	}
}

func TestVolumeCreateResolutionOrderAndRowChoice(t *testing.T) {
	f := newVFX(t)
	ds := f.dataset()
	// A read-only region and a region snapshot answering to one address:
	// the region snapshot wins.
	rr, ad := f.region(ds, 0, true)
	k := RSKey{DatasetID: ds, RegionID: f.db.NewUUID(), SnapshotID: f.db.NewUUID()}
	f.db.RegionSnapshots = append(f.db.RegionSnapshots, RegionSnapshot{Key: k, Addr: ad})
	v := f.db.NewUUID()
	f.create(v, vVol(v, nil, vReg(1, true, ad)))
	f.wantRows(rsRes(k), v)
	f.wantRows(roRes(rr), vIDs()...)

	// two region snapshots at one address (reused port): the chooser picks
	k2 := RSKey{DatasetID: ds, RegionID: f.db.NewUUID(), SnapshotID: f.db.NewUUID()}
	f.db.RegionSnapshots = append(f.db.RegionSnapshots, RegionSnapshot{Key: k2, Addr: ad})
	f.db.Ch = &vfxChooser{vals: []int{1}}
	v2 := f.db.NewUUID()
	f.create(v2, vVol(v2, nil, vReg(1, true, ad)))
	f.wantRows(rsRes(k2), v2)

	// two read-only regions at one address: the chooser picks too
	_, rAd := f.region(ds, 0, true)
	r2, _ := f.regionAt(ds, 0, true, rAd.Port)
	f.db.Ch = &vfxChooser{vals: []int{1}}
	v3 := f.db.NewUUID()
	f.create(v3, vVol(v3, nil, vReg(1, true, rAd)))
	f.wantRows(roRes(r2), v3)
	if f.db.ResolveReadWriteTarget(rAd) != 0 {
		t.Fatal("read-only regions resolved as read/write")
	}
}

// ---------------------------------------------------------------------------
// volume_get, volume_deleted, read_only_resources_associated_with_volume,
// volume_hard_delete

func TestVolumeGetDeletedAndHardDelete(t *testing.T) {
	f := newVFX(t)
	d, regs, _ := f.disk(nil, f.three()...)
	s, ks, ads := f.snapshot(d, regs)
	if got, ok := f.db.VolumeGet(s); !ok || got.ID != s || f.db.VolumeDeleted(s) || f.db.VolumeStateOf(s) != VolumeLive {
		t.Fatal("live volume")
	}
	if got := f.db.ReadOnlyResourcesAssociatedWithVolume(nil, s); !reflect.DeepEqual(got, ads) {
		t.Fatalf("read-only targets %v", got)
	}
	if got := f.db.ReadOnlyResourcesAssociatedWithVolume(nil, d); len(got) != 0 {
		t.Fatalf("disk read-only targets %v", got)
	}
	f.softDelete(d)
	if _, ok := f.db.VolumeGet(d); !ok || !f.db.VolumeDeleted(d) || f.db.VolumeStateOf(d) != VolumeSoftDeleted {
		t.Fatal("soft-deleted volume")
	}
	// hard delete: no guard (s is live), no cascade (usage rows stay)
	f.db.VolumeHardDelete(s)
	if _, ok := f.db.VolumeGet(s); ok || !f.db.VolumeDeleted(s) || f.db.VolumeStateOf(s) != VolumeHardDeleted {
		t.Fatal("hard-deleted volume")
	}
	if got := f.db.ReadOnlyResourcesAssociatedWithVolume(nil, s); len(got) != 0 {
		t.Fatal("targets of a hard-deleted volume")
	}
	f.wantRows(rsRes(ks[0]), s)
	n := len(f.db.Volumes)
	f.db.VolumeHardDelete(s)
	if len(f.db.Volumes) != n {
		t.Fatal("second hard delete removed a row")
	}
}

func TestVolumeRowsStayInIDOrder(t *testing.T) {
	f := newVFX(t)
	early, late := f.db.NewUUID(), f.db.NewUUID()
	f.create(late, vVol(late, nil))
	f.create(early, vVol(early, nil))
	mid := f.db.NewUUID()
	f.create(mid, vVol(mid, nil))
	for i := 1; i < len(f.db.Volumes); i++ {
		if f.db.Volumes[i-1].ID >= f.db.Volumes[i].ID {
			t.Fatalf("volumes out of order: %v", f.db.Volumes)
		}
	}
}

// ---------------------------------------------------------------------------
// volume_checkout, volume_checkout_randomize_ids

func TestVolumeCheckout(t *testing.T) {
	f := newVFX(t)
	if _, err := f.db.VolumeCheckout(12345, CheckoutCopyAndModify); vClass(err) != ErrInternal {
		t.Fatalf("missing volume: %v", err)
	}
	d, regs, _ := f.disk(nil, f.three()...)
	before := f.data(d)
	_, err := f.db.VolumeCheckout(d, CheckoutReadOnlyCopy)
	if vClass(err) != ErrConflict || err.(*Error).Msg != "Non-read-only Volume Checkout for use Copy!" {
		t.Fatalf("ReadOnlyCopy of a read/write volume: %v", err)
	}
	if f.data(d) != before {
		t.Fatal("failed checkout wrote")
	}
	got, err := f.db.VolumeCheckout(d, CheckoutCopyAndModify)
	if err != nil || vDump(got) != before {
		t.Fatalf("CopyAndModify: %v", err)
	}
	if f.vol(d).Data.SubVolumes[0].Gen != 2 {
		t.Fatal("gen not bumped")
	}
	for _, r := range []CheckoutReason{CheckoutPantry, CheckoutInstanceStart, CheckoutInstanceMigrate} {
		if _, err := f.db.VolumeCheckout(d, r); err != nil {
			t.Fatalf("reason %d: %v", r, err)
		}
	}

	// a snapshot volume with a read-only parent: top level bumped, parent not
	s, _, _ := f.snapshot(d, regs)
	sv := f.vol(s)
	sv.Data = vVol(s, vReg(77, true), sv.Data.SubVolumes[0], vVol(78, nil))
	old := sv.Data
	oldDump := vDump(old)
	got, err = f.db.VolumeCheckout(s, CheckoutReadOnlyCopy)
	if vClass(err) != ErrInternal {
		t.Fatalf("non-Region sub-volume under ReadOnlyCopy: %v", err)
	}
	got, err = f.db.VolumeCheckout(s, CheckoutCopyAndModify)
	if err != nil || got != old || vDump(got) != oldDump {
		t.Fatalf("checkout did not return the pre-bump VCR: %v", err)
	}
	nv := f.vol(s).Data
	if nv.SubVolumes[0].Gen != 2 || nv.ReadOnlyParent.Gen != 1 || nv.SubVolumes[1] != old.SubVolumes[1] {
		t.Fatalf("bump: %s", vDump(nv))
	}
	if vDump(old) != oldDump {
		t.Fatal("stored VCR mutated in place")
	}

	// soft-deleted volumes can be checked out
	s3, _, _ := f.snapshot(d, regs)
	f.softDelete(s3)
	if got, err := f.db.VolumeCheckout(s3, CheckoutReadOnlyCopy); err != nil || got.SubVolumes[0].Gen != 1 {
		t.Fatalf("soft-deleted: %v", err)
	}
	if f.vol(s3).Data.SubVolumes[0].Gen != 2 {
		t.Fatal("soft-deleted volume not bumped")
	}

	// a top-level Region is Internal for every reason
	r := f.db.NewUUID()
	f.db.insertVolume(Volume{ID: r, Data: vReg(r, true)})
	for _, reason := range []CheckoutReason{CheckoutReadOnlyCopy, CheckoutCopyAndModify} {
		if _, err := f.db.VolumeCheckout(r, reason); vClass(err) != ErrInternal {
			t.Fatalf("top-level Region, reason %d: %v", reason, err)
		}
	}

	// no Region among the top-level sub-volumes: nothing written
	nr := f.db.NewUUID()
	f.create(nr, vVol(nr, nil, vVol(1, nil, vReg(2, false))))
	p := f.vol(nr).Data
	if _, err := f.db.VolumeCheckout(nr, CheckoutCopyAndModify); err != nil || f.vol(nr).Data != p {
		t.Fatalf("nested-only volume rewritten: %v", err)
	}
}

func TestVolumeCheckoutRandomizeIDsTwoSteps(t *testing.T) {
	f := newVFX(t)
	d, regs, _ := f.disk(nil, f.three()...)
	s, ks, ads := f.snapshot(d, regs)
	cp, err := f.db.VolumeCheckoutRandomizeIDsCheckout(s, CheckoutReadOnlyCopy)
	if err != nil {
		t.Fatal(err)
	}
	if cp.ID == s || !reflect.DeepEqual(cp.SubVolumes[0].Targets, ads) {
		t.Fatalf("copy %s", vDump(cp))
	}
	img, err := f.db.VolumeCheckoutRandomizeIDsCreate(cp)
	if err != nil || f.vol(img) == nil || img == cp.ID {
		t.Fatalf("create: %v", err)
	}
	f.wantRows(rsRes(ks[0]), s, img)

	// the interleaving point: the source is deleted between the two steps
	cp, err = f.db.VolumeCheckoutRandomizeIDsCheckout(s, CheckoutReadOnlyCopy)
	if err != nil {
		t.Fatal(err)
	}
	f.softDelete(img)
	f.softDelete(s) // last references: the region snapshots become deleting
	before := f.state()
	if _, err := f.db.VolumeCheckoutRandomizeIDsCreate(cp); vClass(err) != ErrInternal {
		t.Fatalf("create over deleting resources: %v", err)
	}
	f.sameState(before, "failed create")

	// a read/write volume cannot be copied
	if _, err := f.db.VolumeCheckoutRandomizeIDsCheckout(d, CheckoutCopyAndModify); vClass(err) != ErrInternal {
		t.Fatalf("randomize of read/write: %v", err)
	}
}

// ---------------------------------------------------------------------------
// soft_delete_volume

func TestSoftDeleteVolumeFreesWhatItShould(t *testing.T) {
	f := newVFX(t)
	if res, err := f.db.SoftDeleteVolume(4242); err != nil || len(res.Regions)+len(res.RegionSnapshots) != 0 {
		t.Fatalf("hard-deleted volume: %v %v", res, err)
	}
	d, regs, _ := f.disk(nil, f.three()...)
	// r0 has a region snapshot that is already deleting: still counts
	k0, _ := f.rs(regs[0])
	f.db.RegionSnapshot(k0).Deleting = true
	res := f.softDelete(d)
	if !reflect.DeepEqual(res.Regions, regs[1:]) || len(res.RegionSnapshots) != 0 {
		t.Fatalf("freed %v", res)
	}
	for _, r := range regs {
		if f.db.Region(r).Deleting {
			t.Fatal("read/write region marked deleting")
		}
	}
	if !f.vol(d).SoftDeleted || f.vol(d).ResourcesToCleanUp == nil {
		t.Fatal("not soft-deleted")
	}

	// replay returns the stored list, even after rows are gone
	f.removeRegion(regs[1])
	again := f.softDelete(d)
	if !reflect.DeepEqual(again, res) {
		t.Fatalf("replay %v, want %v", again, res)
	}
	// a soft-deleted row with NULL resources_to_clean_up: empty
	f.vol(d).ResourcesToCleanUp = nil
	if r := f.softDelete(d); len(r.Regions)+len(r.RegionSnapshots) != 0 {
		t.Fatal("NULL resources not empty")
	}
}

func TestSoftDeleteVolumeReferenceCounts(t *testing.T) {
	f := newVFX(t)
	ds := f.three()
	d, regs, _ := f.disk(nil, ds...)
	s, ks, ads := f.snapshot(d, regs)
	// a disk from the snapshot, plus a read-only region N referenced twice
	nReg, nAd := f.region(ds[0], s, true)
	d2, _, _ := f.disk(vVol(f.db.NewUUID(), nil, vReg(f.db.NewUUID(), true, ads...)), f.three()...)
	u1 := f.db.NewUUID()
	f.create(u1, vVol(u1, nil, vReg(1, true, nAd)))
	u2 := f.db.NewUUID()
	f.create(u2, vVol(u2, nil, vReg(1, true, nAd)))
	f.clean()

	res := f.softDelete(s) // not the last reference to anything
	if len(res.Regions)+len(res.RegionSnapshots) != 0 {
		t.Fatalf("freed %v", res)
	}
	for _, k := range ks {
		f.wantRows(rsRes(k), d2)
		if f.db.RegionSnapshot(k).Deleting {
			t.Fatal("referenced region snapshot marked deleting")
		}
	}
	res = f.softDelete(d2) // last references to the region snapshots; its rw regions free
	if len(res.Regions) != 3 || !reflect.DeepEqual(res.RegionSnapshots, ks) {
		t.Fatalf("freed %v", res)
	}
	for _, k := range ks {
		if !f.db.RegionSnapshot(k).Deleting {
			t.Fatal("region snapshot not marked deleting")
		}
	}
	f.softDelete(u1)
	if f.db.Region(nReg).Deleting {
		t.Fatal("read-only region freed early")
	}
	res = f.softDelete(u2)
	if !reflect.DeepEqual(res.Regions, vIDs(nReg)) || !f.db.Region(nReg).Deleting {
		t.Fatalf("read-only region not freed: %v", res)
	}
	if len(f.db.Usages) != 0 {
		t.Fatalf("usage rows left: %v", f.db.Usages)
	}
	f.clean()
}

func TestSoftDeleteVolumeRollsBack(t *testing.T) {
	f := newVFX(t)
	d, regs, _ := f.disk(nil, f.three()...)
	s, ks, ads := f.snapshot(d, regs)

	// The first target is S's last reference (it would be marked deleting),
	// the second has lost its usage row: the whole transaction rolls back.
	for i := range f.db.Usages {
		if f.db.Usages[i].Res == rsRes(ks[1]) {
			f.db.Usages = removeAt(f.db.Usages, i)
			break
		}
	}
	before := f.state()
	if _, err := f.db.SoftDeleteVolume(s); vClass(err) != ErrInternal {
		t.Fatalf("missing usage row: %v", err)
	}
	f.sameState(before, "failed soft delete (missing row)")

	// duplicated occurrence: the first pass deletes two rows
	dup := f.db.NewUUID()
	f.create(dup, vVol(dup, nil, vReg(1, true, ads[2], ads[2])))
	before = f.state()
	if _, err := f.db.SoftDeleteVolume(dup); vClass(err) != ErrInternal {
		t.Fatalf("duplicate target: %v", err)
	}
	f.sameState(before, "failed soft delete (duplicate)")

	// one occurrence but two usage rows: the delete must remove exactly 1
	one := f.db.NewUUID()
	f.create(one, vVol(one, nil, vReg(1, true, ads[1])))
	f.db.addUsage(one, rsRes(ks[1]))
	before = f.state()
	if _, err := f.db.SoftDeleteVolume(one); vClass(err) != ErrInternal {
		t.Fatalf("two rows for one occurrence: %v", err)
	}
	f.sameState(before, "failed soft delete (two rows)")

	// a read-only target that no longer resolves
	ro := f.db.NewUUID()
	f.create(ro, vVol(ro, nil, vReg(1, true, ads[0])))
	f.db.RegionSnapshot(ks[0]).Deleting = true
	before = f.state()
	if _, err := f.db.SoftDeleteVolume(ro); vClass(err) != ErrInternal {
		t.Fatalf("unresolvable read-only target: %v", err)
	}
	f.sameState(before, "failed soft delete (read-only)")

	// a read/write target that no longer resolves
	f.removeRegion(regs[2])
	before = f.state()
	if _, err := f.db.SoftDeleteVolume(d); vClass(err) != ErrInternal {
		t.Fatalf("unresolvable read/write target: %v", err)
	}
	f.sameState(before, "failed soft delete (read/write)")

	// a top-level Region
	r := f.db.NewUUID()
	f.db.insertVolume(Volume{ID: r, Data: vReg(r, true)})
	if _, err := f.db.SoftDeleteVolume(r); vClass(err) != ErrInternal || f.vol(r).SoftDeleted {
		t.Fatalf("top-level Region: %v", err)
	}
}

// A read-only region freed in the same transaction as a later failure keeps
// its deleting flag cleared, and a region snapshot's too.
func TestSoftDeleteVolumeRollsBackDeletingFlags(t *testing.T) {
	f := newVFX(t)
	ds := f.dataset()
	nReg, nAd := f.region(ds, 0, true)
	k := f.rsRaw(Addr{IP: 0x777, Port: 7})
	v := f.db.NewUUID()
	first := vReg(1, true, nAd, Addr{IP: 0x777, Port: 7})
	f.create(v, vVol(v, nil, first))
	// a later target that resolves but has no usage row of v
	f.rsRaw(Addr{IP: 0x777, Port: 8})
	f.vol(v).Data = vVol(v, nil, first, vReg(2, true, Addr{IP: 0x777, Port: 8}))
	before := f.state()
	if _, err := f.db.SoftDeleteVolume(v); vClass(err) != ErrInternal {
		t.Fatalf("got %v", err)
	}
	f.sameState(before, "failed soft delete")
	if f.db.Region(nReg).Deleting || f.db.RegionSnapshot(k).Deleting {
		t.Fatal("deleting flag left set")
	}
}

// ---------------------------------------------------------------------------
// regions_to_delete, snapshots_to_delete

func TestRegionsAndSnapshotsToDelete(t *testing.T) {
	f := newVFX(t)
	ds := f.three()
	_, regs, _ := f.disk(nil, ds...)
	k, _ := f.rs(regs[2])
	res := &CrucibleResources{Regions: []UUID{regs[2], 999, regs[0], regs[1]}, RegionSnapshots: []RSKey{k}}
	got := f.db.RegionsToDelete(nil, res)
	if len(got) != 3 || got[0].ID != regs[0] || got[1].ID != regs[1] || got[2].ID != regs[2] {
		t.Fatalf("regions %v", got)
	}
	if rs, ok := f.db.SnapshotToDelete(k); !ok || rs.Key != k {
		t.Fatal("region snapshot not returned")
	}
	f.removeRegion(regs[0])
	for i := range f.db.Datasets { // drop regs[2]'s dataset: inner join
		if f.db.Datasets[i].ID == ds[2] {
			f.db.Datasets = removeAt(f.db.Datasets, i)
			break
		}
	}
	if got := f.db.RegionsToDelete(nil, res); len(got) != 1 || got[0].ID != regs[1] {
		t.Fatalf("after removal %v", got)
	}
	if _, ok := f.db.SnapshotToDelete(k); ok {
		t.Fatal("snapshot on a missing dataset returned")
	}
	f2 := newVFX(t)
	_, regs2, _ := f2.disk(nil, f2.three()...)
	k2, _ := f2.rs(regs2[1])
	f2.db.RegionSnapshot(k2).Deleting = true
	if rs, ok := f2.db.SnapshotToDelete(k2); !ok || rs.Key != k2 {
		t.Fatal("deleting region snapshot not returned")
	}
	f2.removeRS(k2)
	if _, ok := f2.db.SnapshotToDelete(k2); ok {
		t.Fatal("removed region snapshot returned")
	}
}

// ---------------------------------------------------------------------------
// find_deleted_volume_regions

// Go version of omicron's test_no_find_deleted_region_for_no_volume
// (volume.rs): regions allocated for a volume id with no volume row are
// never returned.
func TestNoFindDeletedRegionForNoVolume_Omicron(t *testing.T) {
	f := newVFX(t)
	vol := f.db.NewUUID()
	var regs []UUID
	for _, ds := range f.three() {
		r, _ := f.region(ds, vol, false)
		regs = append(regs, r)
	}
	fr, err := f.db.FindDeletedVolumeRegions()
	if err != nil || len(fr.Regions) != 0 || len(fr.Volumes) != 0 {
		t.Fatalf("got %+v %v", fr, err)
	}
	// control: once the volume exists and is soft-deleted they are found
	f.db.insertVolume(Volume{ID: vol, Data: vVol(vol, nil), SoftDeleted: true})
	fr, _ = f.db.FindDeletedVolumeRegions()
	if len(fr.Regions) != 3 || !reflect.DeepEqual(fr.Volumes, vIDs(vol)) {
		t.Fatalf("control: %+v", fr)
	}
}

func TestFindDeletedVolumeRegions(t *testing.T) {
	for _, prefix := range []bool{false, true} {
		f := newVFXCfg(t, Config{Switches: Switches{PrematureVolumeHardDelete: prefix}})
		ds := f.three()
		// A: every region freed → A returned for hard deletion
		a, aRegs, _ := f.disk(nil, ds...)
		// B: one region still has a region snapshot (deleting or not)
		b, bRegs, _ := f.disk(nil, ds...)
		kb0, _ := f.rs(bRegs[0])
		f.db.RegionSnapshot(kb0).Deleting = true
		kb1, _ := f.rs(bRegs[1])
		// L: live
		_, _, _ = f.disk(nil, ds...)
		// C: read-only region owned by a soft-deleted volume, a rw region on
		// a missing dataset, and a region snapshot on another dataset
		c := f.db.NewUUID()
		f.region(ds[0], c, true)
		gone := f.db.NewUUID()
		cRW, _ := f.region(ds[1], c, false)
		f.db.Regions = append(f.db.Regions, Region{ID: f.db.NewUUID(), DatasetID: gone, VolumeID: c, HasPort: true, Port: 1})
		f.db.RegionSnapshots = append(f.db.RegionSnapshots, RegionSnapshot{Key: RSKey{DatasetID: ds[0], RegionID: cRW, SnapshotID: 5}})
		f.db.insertVolume(Volume{ID: c, Data: vVol(c, nil), SoftDeleted: true})
		f.softDelete(a)
		f.softDelete(b)

		fr, err := f.db.FindDeletedVolumeRegions()
		if err != nil {
			t.Fatal(err)
		}
		var got []UUID
		for _, r := range fr.Regions {
			got = append(got, r.RegionID)
			if r.DatasetID != f.db.Region(r.RegionID).DatasetID || r.VolumeID != f.db.Region(r.RegionID).VolumeID {
				t.Fatalf("entry %+v", r)
			}
		}
		want := append(append([]UUID{}, aRegs...), bRegs[2], cRW)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("prefix=%v regions %v, want %v", prefix, got, want)
		}
		if prefix {
			if !fr.PerRegionVolumes || fr.Volumes != nil {
				t.Fatalf("pre-fix shape: %+v", fr)
			}
			continue
		}
		// C's rw region on a missing dataset is not among its regions (inner
		// join), so C is returned; B keeps two regions, so it is not.
		if fr.PerRegionVolumes || !reflect.DeepEqual(fr.Volumes, vIDs(a, c)) {
			t.Fatalf("volumes %v", fr.Volumes)
		}
		// B becomes returnable once its snapshots are gone
		f.removeRS(kb0)
		f.removeRS(kb1)
		fr, _ = f.db.FindDeletedVolumeRegions()
		if !reflect.DeepEqual(fr.Volumes, vIDs(a, b, c)) {
			t.Fatalf("volumes after snapshot removal %v", fr.Volumes)
		}
	}
}

// ---------------------------------------------------------------------------
// volume_replace_region

// Go version of omicron's test_volume_replace_region (volume.rs).
func TestVolumeReplaceRegion_Omicron(t *testing.T) {
	f := newVFX(t)
	vol, vtd := f.db.NewUUID(), f.db.NewUUID()
	ds := f.three()
	var regs []UUID
	var ads []Addr
	for i, d := range ds {
		r, ad := f.regionAt(d, vol, false, uint16(100+i))
		regs = append(regs, r)
		ads = append(ads, ad)
	}
	repl, replAd := f.regionAt(ds[0], vtd, false, 111)
	f.create(vol, &VCR{Kind: VCRVolume, ID: vol, SubVolumes: []*VCR{{Kind: VCRRegion, ID: vol, Targets: ads, Gen: 1}}})

	res, err := f.db.VolumeReplaceRegion(
		VolumeReplacementParams{VolumeID: vol, RegionID: regs[0], RegionAddr: ads[0]},
		VolumeReplacementParams{VolumeID: vtd, RegionID: repl, RegionAddr: replAd})
	if err != nil || res != ReplaceDone {
		t.Fatalf("replace: %v %v", res, err)
	}
	want := &VCR{Kind: VCRVolume, ID: vol, SubVolumes: []*VCR{{Kind: VCRRegion, ID: vol, Targets: []Addr{replAd, ads[1], ads[2]}, Gen: 2}}}
	if f.data(vol) != vDump(want) {
		t.Fatalf("got %s want %s", f.data(vol), vDump(want))
	}
	if f.db.Region(regs[0]).VolumeID != vtd || f.db.Region(repl).VolumeID != vol {
		t.Fatal("volume ids not swapped")
	}
	f.clean()

	// undo: same volume id, regions swapped
	res, err = f.db.VolumeReplaceRegion(
		VolumeReplacementParams{VolumeID: vol, RegionID: repl, RegionAddr: replAd},
		VolumeReplacementParams{VolumeID: vtd, RegionID: regs[0], RegionAddr: ads[0]})
	if err != nil || res != ReplaceDone {
		t.Fatalf("undo: %v %v", res, err)
	}
	want = &VCR{Kind: VCRVolume, ID: vol, SubVolumes: []*VCR{{Kind: VCRRegion, ID: vol, Targets: ads, Gen: 3}}}
	if f.data(vol) != vDump(want) {
		t.Fatalf("got %s want %s", f.data(vol), vDump(want))
	}
	if f.db.Region(regs[0]).VolumeID != vol || f.db.Region(repl).VolumeID != vtd {
		t.Fatal("volume ids not swapped back")
	}
	f.clean()
}

func TestVolumeReplaceRegionOutcomes(t *testing.T) {
	f := newVFX(t)
	ds := f.three()
	d, regs, ads := f.disk(nil, ds...)
	tv := f.db.NewUUID()
	nr, nAd := f.region(ds[0], tv, false)
	other, oAd := f.region(ds[1], tv, false)
	ex := VolumeReplacementParams{VolumeID: d, RegionID: regs[0], RegionAddr: ads[0]}
	rp := VolumeReplacementParams{VolumeID: tv, RegionID: nr, RegionAddr: nAd}

	if res, err := f.db.VolumeReplaceRegion(VolumeReplacementParams{VolumeID: 999}, rp); err != nil || res != ReplaceExistingVolumeHardDeleted {
		t.Fatalf("hard-deleted: %v %v", res, err)
	}
	// neither present
	before := f.state()
	_, err := f.db.VolumeReplaceRegion(VolumeReplacementParams{VolumeID: d, RegionID: other, RegionAddr: oAd}, rp)
	if vClass(err) != ErrInternal {
		t.Fatalf("neither: %v", err)
	}
	f.sameState(before, "neither")
	if res, err := f.db.VolumeReplaceRegion(ex, rp); err != nil || res != ReplaceDone {
		t.Fatalf("done: %v %v", res, err)
	}
	// replay
	before = f.state()
	if res, err := f.db.VolumeReplaceRegion(ex, rp); err != nil || res != ReplaceAlreadyHappened {
		t.Fatalf("replay: %v %v", res, err)
	}
	f.sameState(before, "replay")
	// both present: ads[1] and the new one
	_, err = f.db.VolumeReplaceRegion(VolumeReplacementParams{VolumeID: d, RegionID: regs[1], RegionAddr: ads[1]}, rp)
	if vClass(err) != ErrInternal {
		t.Fatalf("both: %v", err)
	}
	f.sameState(before, "both")
	f.softDelete(d)
	before = f.state()
	if res, err := f.db.VolumeReplaceRegion(ex, rp); err != nil || res != ReplaceExistingVolumeSoftDeleted {
		t.Fatalf("soft-deleted: %v %v", res, err)
	}
	f.sameState(before, "soft-deleted")
}

// ---------------------------------------------------------------------------
// volume_replace_snapshot

// Go version of omicron's test_volume_replace_snapshot (volume.rs).
func TestVolumeReplaceSnapshot_Omicron(t *testing.T) {
	f := newVFX(t)
	vol, vtd := f.db.NewUUID(), f.db.NewUUID()
	ds := f.three()
	var ads []Addr
	for i, d := range ds {
		_, ad := f.regionAt(d, vol, false, uint16(100+i))
		ads = append(ads, ad)
	}
	repl, replAd := f.regionAt(ds[0], vtd, true, 111)
	a1, a2, a3 := Addr{IP: 0x104, Port: 400}, Addr{IP: 0x105, Port: 401}, Addr{IP: 0x106, Port: 402}
	ks := []RSKey{f.rsRaw(a1), f.rsRaw(a2), f.rsRaw(a3)}
	ropID := f.db.NewUUID()
	mk := func(rop ...Addr) *VCR {
		return &VCR{Kind: VCRVolume, ID: vol,
			SubVolumes:     []*VCR{{Kind: VCRRegion, ID: vol, Targets: ads, Gen: 1}},
			ReadOnlyParent: &VCR{Kind: VCRRegion, ID: ropID, Targets: rop, ReadOnly: true, Gen: 1}}
	}
	f.create(vol, mk(a1, a2, a3))
	for _, k := range ks {
		f.wantRows(rsRes(k), vol)
	}
	f.create(vtd, &VCR{Kind: VCRVolume, ID: vtd})
	f.wantRows(roRes(repl))
	f.clean()

	res, err := f.db.VolumeReplaceSnapshot(vol, a1, replAd, vtd)
	if err != nil || res != ReplaceDone {
		t.Fatalf("replace: %v %v", res, err)
	}
	if f.data(vol) != vDump(mk(replAd, a2, a3)) {
		t.Fatalf("volume %s", f.data(vol))
	}
	stash := func(tgt Addr) *VCR {
		return &VCR{Kind: VCRVolume, ID: vtd, SubVolumes: []*VCR{{Kind: VCRRegion, ID: vtd, Targets: []Addr{tgt}, ReadOnly: true, Gen: 1}}}
	}
	if f.data(vtd) != vDump(stash(a1)) {
		t.Fatalf("volume to delete %s", f.data(vtd))
	}
	f.wantRows(rsRes(ks[0]), vtd)
	f.wantRows(rsRes(ks[1]), vol)
	f.wantRows(rsRes(ks[2]), vol)
	f.wantRows(roRes(repl), vol)
	f.clean()

	// undo: same volumes, targets swapped
	res, err = f.db.VolumeReplaceSnapshot(vol, replAd, a1, vtd)
	if err != nil || res != ReplaceDone {
		t.Fatalf("undo: %v %v", res, err)
	}
	if f.data(vol) != vDump(mk(a1, a2, a3)) || f.data(vtd) != vDump(stash(replAd)) {
		t.Fatalf("after undo: %s / %s", f.data(vol), f.data(vtd))
	}
	for _, k := range ks {
		f.wantRows(rsRes(k), vol)
	}
	f.wantRows(roRes(repl), vtd)
	f.clean()
}

// rsFixture: a disk, its snapshot volume S over s1..s3, a new read-only
// region N owned by S, and a blank volume to delete T.
type rsFixture struct {
	f     *vfx
	d, s  UUID
	ks    []RSKey
	ads   []Addr
	n     UUID
	nAd   Addr
	tv    UUID
	dsets []UUID
}

func newRSFixture(t testing.TB) *rsFixture {
	f := newVFX(t)
	x := &rsFixture{f: f, dsets: f.three()}
	var regs []UUID
	x.d, regs, _ = f.disk(nil, x.dsets...)
	x.s, x.ks, x.ads = f.snapshot(x.d, regs)
	x.n, x.nAd = f.region(f.dataset(), x.s, true)
	x.tv = f.blank()
	return x
}

func TestVolumeReplaceSnapshotOutcomes(t *testing.T) {
	x := newRSFixture(t)
	f := x.f
	s1 := x.ads[0]

	if res, err := f.db.VolumeReplaceSnapshot(999, s1, x.nAd, x.tv); err != nil || res != ReplaceExistingVolumeHardDeleted {
		t.Fatalf("hard-deleted: %v %v", res, err)
	}
	// neither target present: Internal
	before := f.state()
	if _, err := f.db.VolumeReplaceSnapshot(x.s, Addr{IP: 1, Port: 1}, x.nAd, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("neither: %v", err)
	}
	f.sameState(before, "neither")
	// T missing, T soft-deleted
	if _, err := f.db.VolumeReplaceSnapshot(x.s, s1, x.nAd, 4444); vClass(err) != ErrInternal {
		t.Fatalf("T missing: %v", err)
	}
	f.sameState(before, "T missing")
	tsd := f.blank()
	f.softDelete(tsd)
	before = f.state()
	if _, err := f.db.VolumeReplaceSnapshot(x.s, s1, x.nAd, tsd); vClass(err) != ErrInternal {
		t.Fatalf("T soft-deleted: %v", err)
	}
	f.sameState(before, "T soft-deleted")
	// N does not resolve (deleting)
	f.db.Region(x.n).Deleting = true
	before = f.state()
	if _, err := f.db.VolumeReplaceSnapshot(x.s, s1, x.nAd, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("N deleting: %v", err)
	}
	f.sameState(before, "N deleting")
	f.db.Region(x.n).Deleting = false

	// forward
	res, err := f.db.VolumeReplaceSnapshot(x.s, s1, x.nAd, x.tv)
	if err != nil || res != ReplaceDone {
		t.Fatalf("forward: %v %v", res, err)
	}
	f.wantRows(rsRes(x.ks[0]), x.tv)
	f.wantRows(roRes(x.n), x.s)
	if f.vol(x.s).Data.SubVolumes[0].Gen != 1 {
		t.Fatal("gen bumped")
	}
	f.clean()
	// replay: AlreadyHappened, nothing written (T untouched)
	before = f.state()
	if res, err := f.db.VolumeReplaceSnapshot(x.s, s1, x.nAd, x.tv); err != nil || res != ReplaceAlreadyHappened {
		t.Fatalf("replay: %v %v", res, err)
	}
	f.sameState(before, "replay")
	// undo, undo replay, redo (the (T, N) row is moved back, not inserted)
	if res, err := f.db.VolumeReplaceSnapshot(x.s, x.nAd, s1, x.tv); err != nil || res != ReplaceDone {
		t.Fatalf("undo: %v %v", res, err)
	}
	f.wantRows(roRes(x.n), x.tv)
	f.wantRows(rsRes(x.ks[0]), x.s)
	before = f.state()
	if res, err := f.db.VolumeReplaceSnapshot(x.s, x.nAd, s1, x.tv); err != nil || res != ReplaceAlreadyHappened {
		t.Fatalf("undo replay: %v %v", res, err)
	}
	f.sameState(before, "undo replay")
	nRows := len(f.db.Usages)
	if res, err := f.db.VolumeReplaceSnapshot(x.s, s1, x.nAd, x.tv); err != nil || res != ReplaceDone {
		t.Fatalf("redo: %v %v", res, err)
	}
	if len(f.db.Usages) != nRows {
		t.Fatal("redo inserted a row instead of moving it")
	}
	f.wantRows(roRes(x.n), x.s)
	f.clean()

	// soft-deleted V
	f.softDelete(x.s)
	before = f.state()
	if res, err := f.db.VolumeReplaceSnapshot(x.s, x.nAd, s1, x.tv); err != nil || res != ReplaceExistingVolumeSoftDeleted {
		t.Fatalf("soft-deleted: %v %v", res, err)
	}
	f.sameState(before, "soft-deleted")
}

func TestVolumeReplaceSnapshotInternalErrors(t *testing.T) {
	// E occurs twice: UnexpectedReplacedTargets
	x := newRSFixture(t)
	f := x.f
	v := f.db.NewUUID()
	f.create(v, vVol(v, vReg(1, true, x.ads[0]), vReg(2, true, x.ads[0])))
	before := f.state()
	if _, err := f.db.VolumeReplaceSnapshot(v, x.ads[0], x.nAd, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("two replacements: %v", err)
	}
	f.sameState(before, "two replacements")

	// a read/write Region under the read-only parent
	w := f.db.NewUUID()
	f.db.insertVolume(Volume{ID: w, Data: vVol(w, vReg(1, false, x.ads[1]), vReg(2, true, x.ads[0]))})
	before = f.state()
	if _, err := f.db.VolumeReplaceSnapshot(w, Addr{IP: 3, Port: 3}, x.nAd, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("malformed: %v", err)
	}
	f.sameState(before, "malformed")

	// E does not resolve
	x = newRSFixture(t)
	f = x.f
	f.db.RegionSnapshot(x.ks[0]).Deleting = true
	before = f.state()
	if _, err := f.db.VolumeReplaceSnapshot(x.s, x.ads[0], x.nAd, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("E deleting: %v", err)
	}
	f.sameState(before, "E deleting")

	// no (V, E) usage row
	x = newRSFixture(t)
	f = x.f
	for i := range f.db.Usages {
		if f.db.Usages[i].Res == rsRes(x.ks[0]) {
			f.db.Usages[i].VolumeID = 31337
		}
	}
	before = f.state()
	if _, err := f.db.VolumeReplaceSnapshot(x.s, x.ads[0], x.nAd, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("no (V, E) row: %v", err)
	}
	f.sameState(before, "no (V, E) row")

	// two (T, N) rows: MultipleResourceUsageRecords
	x = newRSFixture(t)
	f = x.f
	f.db.addUsage(x.tv, roRes(x.n))
	f.db.addUsage(x.tv, roRes(x.n))
	before = f.state()
	_, err := f.db.VolumeReplaceSnapshot(x.s, x.ads[0], x.nAd, x.tv)
	if vClass(err) != ErrInternal || err.(*Error).Msg != "MultipleResourceUsageRecords" {
		t.Fatalf("two (T, N) rows: %v", err)
	}
	f.sameState(before, "two (T, N) rows")
}

// E = N: both "present", one replacement (E by itself), so the call goes
// ahead. It moves (V, E) to T, then finds that one row under T and moves it
// back: V keeps E and its row, while T now holds [E] with no row of its own.
// No caller passes E = N; this pins omicron's arithmetic.
func TestVolumeReplaceSnapshotSameTarget(t *testing.T) {
	x := newRSFixture(t)
	f := x.f
	res, err := f.db.VolumeReplaceSnapshot(x.s, x.ads[0], x.ads[0], x.tv)
	if err != nil || res != ReplaceDone {
		t.Fatalf("%v %v", res, err)
	}
	f.wantRows(rsRes(x.ks[0]), x.s)
	if got := f.db.ReadOnlyResourcesAssociatedWithVolume(nil, x.tv); !reflect.DeepEqual(got, vAddrs(x.ads[0])) {
		t.Fatalf("T targets %v", got)
	}
	if !slices.Contains(invNames(f.db.CheckStateInvariants(nil)), InvUsageMatchesVCR) {
		t.Fatal("T's missing row not reported")
	}
}

func TestVolumeReplaceSnapshotBothPresent(t *testing.T) {
	// E and N both present with one E occurrence: the call goes ahead, and
	// N is then referenced twice, with two rows (spec 10 §9 item 6).
	x := newRSFixture(t)
	f := x.f
	v := f.db.NewUUID()
	f.create(v, vVol(v, vReg(1, true, x.nAd), vReg(2, true, x.ads[0])))
	res, err := f.db.VolumeReplaceSnapshot(v, x.ads[0], x.nAd, x.tv)
	if err != nil || res != ReplaceDone {
		t.Fatalf("%v %v", res, err)
	}
	f.wantRows(roRes(x.n), v, v)
	f.clean()
}

// ---------------------------------------------------------------------------
// find_volumes_referencing_socket_addr

// findAll runs the paginated scan to the end, like the step task.
func (f *vfx) findAll(ad Addr) ([]UUID, error) {
	var vols []Volume
	var after UUID
	for {
		var more bool
		var err error
		vols, after, more, err = f.db.FindVolumesReferencingSocketAddrPage(vols, ad, after)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	var ids []UUID
	for _, v := range vols {
		ids = append(ids, v.ID)
	}
	return ids, nil
}

// Go version of omicron's test_find_volumes_referencing_socket_addr
// (volume.rs).
func TestFindVolumesReferencingSocketAddr_Omicron(t *testing.T) {
	f := newVFX(t)
	a1, a2, a3 := Addr{IP: 0x104, Port: 400}, Addr{IP: 0x105, Port: 401}, Addr{IP: 0x106, Port: 402}
	f.rsRaw(a1)
	f.rsRaw(a2)
	f.rsRaw(a3)
	vol := f.db.NewUUID()
	f.create(vol, &VCR{Kind: VCRVolume, ID: vol, ReadOnlyParent: vReg(f.db.NewUUID(), true, a1, a2, a3)})
	got, err := f.findAll(a1)
	if err != nil || !reflect.DeepEqual(got, vIDs(vol)) {
		t.Fatalf("found %v %v", got, err)
	}
	got, err = f.findAll(Addr{IP: 0x5104, Port: 400})
	if err != nil || len(got) != 0 {
		t.Fatalf("missing needle found %v %v", got, err)
	}
}

func TestFindVolumesReferencingSocketAddrPages(t *testing.T) {
	f := newVFXCfg(t, Config{Options: Options{PageSize: 2}})
	ds := f.dataset()
	_, ad := f.region(ds, 0, true)
	_, other := f.region(ds, 0, true)
	mk := func(v *VCR) UUID {
		id := f.db.NewUUID()
		v.ID = id
		f.create(id, v)
		return id
	}
	behind := f.db.NewUUID()
	v1 := mk(vVol(0, vReg(1, true, ad)))         // read-only parent
	v2 := mk(vVol(0, nil, vReg(1, true, other))) // no
	v3 := mk(vVol(0, nil, vReg(1, true, ad)))    // read-only sub-volume (a VTD)
	v4 := mk(vVol(0, nil, vReg(1, true, other))) // no
	v5 := mk(vVol(0, nil, vReg(1, true, ad)))    // soft-deleted below
	f.softDelete(v5)
	rw := f.db.NewUUID() // read/write sub-volume target
	f.db.insertVolume(Volume{ID: rw, Data: vVol(rw, nil, vReg(1, false, ad))})

	var vols []Volume
	vols, next, more, err := f.db.FindVolumesReferencingSocketAddrPage(vols, ad, 0)
	if err != nil || !more || next != v2 || len(vols) != 1 || vols[0].ID != v1 {
		t.Fatalf("page 1: %v %v %v %v", vols, next, more, err)
	}
	// between pages: a volume appearing behind the cursor is not seen,
	// one appearing ahead of it is
	f.create(behind, vVol(behind, nil, vReg(1, true, ad)))
	late := f.db.NewUUID()
	f.create(late, vVol(late, nil, vReg(1, true, ad)))
	vols, next, more, err = f.db.FindVolumesReferencingSocketAddrPage(vols, ad, next)
	if err != nil || !more || next != v4 || len(vols) != 2 || vols[1].ID != v3 {
		t.Fatalf("page 2: %v %v %v %v", vols, next, more, err)
	}
	vols, next, more, err = f.db.FindVolumesReferencingSocketAddrPage(vols, ad, next)
	if err != nil || !more || next != rw || len(vols) != 4 || vols[2].ID != v5 || !vols[2].SoftDeleted || vols[3].ID != rw {
		t.Fatalf("page 3: %v %v %v %v", vols, next, more, err)
	}
	vols, next, more, err = f.db.FindVolumesReferencingSocketAddrPage(vols, ad, next)
	if err != nil || more || next != late || len(vols) != 5 {
		t.Fatalf("page 4: %v %v %v %v", vols, next, more, err)
	}
	// exactly full last page: one more (empty) read
	vols, next, more, err = f.db.FindVolumesReferencingSocketAddrPage(vols[:0], ad, late)
	if err != nil || more || next != late || len(vols) != 0 {
		t.Fatalf("empty page: %v %v %v %v", vols, next, more, err)
	}

	// a read/write Region under a read-only parent fails the scan
	bad := f.db.NewUUID()
	f.db.insertVolume(Volume{ID: bad, Data: vVol(bad, vReg(1, false, other))})
	vols = vols[:0]
	vols = append(vols, Volume{ID: 1})
	vols, _, _, err = f.db.FindVolumesReferencingSocketAddrPage(vols, ad, late)
	if vClass(err) != ErrInternal || len(vols) != 1 {
		t.Fatalf("malformed VCR: %v %v", vols, err)
	}
}

func TestFindVolumesReferencingSocketAddrSubstring(t *testing.T) {
	for _, pre := range []bool{false, true} {
		f := newVFXCfg(t, Config{Switches: Switches{SubstringAddressMatch: pre}})
		ds := f.dataset()
		_, ad := f.regionAt(ds, 0, true, 40)
		_, alias := f.regionAt(ds, 0, true, 400)
		_, far := f.regionAt(f.dataset(), 0, true, 40)
		w := f.db.NewUUID()
		f.create(w, vVol(w, nil, vReg(1, true, alias)))
		x := f.db.NewUUID()
		f.create(x, vVol(x, nil, vReg(1, true, far)))
		got, err := f.findAll(ad)
		if err != nil {
			t.Fatal(err)
		}
		if pre != (len(got) == 1 && got[0] == w) || (!pre && len(got) != 0) {
			t.Fatalf("pre-fix=%v: found %v", pre, got)
		}
	}
}

// ---------------------------------------------------------------------------
// volume_remove_rop

func TestVolumeRemoveROP(t *testing.T) {
	x := newRSFixture(t)
	f := x.f
	rop := vVol(f.db.NewUUID(), nil, vReg(f.db.NewUUID(), true, x.ads...))
	d2, _, _ := f.disk(rop, f.three()...)
	tmp := f.db.NewUUID()
	f.create(tmp, vVol(tmp, nil))

	if ok, err := f.db.VolumeRemoveROP(4444, tmp); ok || err != nil {
		t.Fatal("absent volume")
	}
	if ok, err := f.db.VolumeRemoveROP(x.d, tmp); ok || err != nil {
		t.Fatal("no read-only parent")
	}
	// temp missing or soft-deleted: Internal, nothing written
	before := f.state()
	if _, err := f.db.VolumeRemoveROP(d2, 5555); vClass(err) != ErrInternal {
		t.Fatalf("temp missing: %v", err)
	}
	f.sameState(before, "temp missing")

	ok, err := f.db.VolumeRemoveROP(d2, tmp)
	if !ok || err != nil {
		t.Fatalf("remove: %v %v", ok, err)
	}
	if f.vol(d2).Data.ReadOnlyParent != nil || f.vol(tmp).Data.ReadOnlyParent != rop || len(f.vol(tmp).Data.SubVolumes) != 0 {
		t.Fatalf("after: %s / %s", f.data(d2), f.data(tmp))
	}
	for _, k := range x.ks {
		f.wantRows(rsRes(k), x.s, tmp)
	}
	f.clean()
	// replay: no parent any more
	if ok, err := f.db.VolumeRemoveROP(d2, tmp); ok || err != nil {
		t.Fatal("replay")
	}
	f.softDelete(x.s)
	if ok, err := f.db.VolumeRemoveROP(x.s, tmp); ok || err != nil {
		t.Fatal("soft-deleted volume")
	}

	// a duplicated parent target: the second move finds no row
	y := newRSFixture(t)
	g := y.f
	d3, _, _ := g.disk(vReg(g.db.NewUUID(), true, y.ads[0], y.ads[0]), g.three()...)
	tmp2 := g.db.NewUUID()
	g.create(tmp2, vVol(tmp2, nil))
	before = g.state()
	if _, err := g.db.VolumeRemoveROP(d3, tmp2); vClass(err) != ErrInternal {
		t.Fatalf("duplicate: %v", err)
	}
	g.sameState(before, "duplicate")
	// an unresolvable parent target
	g.db.RegionSnapshot(y.ks[0]).Deleting = true
	before = g.state()
	if _, err := g.db.VolumeRemoveROP(d3, tmp2); vClass(err) != ErrInternal {
		t.Fatalf("unresolvable: %v", err)
	}
	g.sameState(before, "unresolvable")
}

// ---------------------------------------------------------------------------
// usage-row helpers

func TestUsageHelpers(t *testing.T) {
	x := newRSFixture(t)
	f := x.f
	got := f.db.VolumeUsageRecordsForResource(nil, rsRes(x.ks[1]))
	if len(got) != 1 || got[0].VolumeID != x.s || got[0].Res != rsRes(x.ks[1]) {
		t.Fatalf("records %v", got)
	}
	if err := f.db.SwapVolumeUsageRecordsForResources(rsRes(x.ks[1]), x.s, x.tv); err != nil {
		t.Fatal(err)
	}
	f.wantRows(rsRes(x.ks[1]), x.tv)
	if err := f.db.SwapVolumeUsageRecordsForResources(rsRes(x.ks[1]), x.s, x.tv); vClass(err) != ErrInternal {
		t.Fatalf("swap of nothing: %v", err)
	}
	if r, ok := f.db.ResolveReadOnlyTarget(x.nAd); !ok || r != roRes(x.n) {
		t.Fatal("ResolveReadOnlyTarget")
	}
	if f.db.ResolveReadWriteTarget(x.nAd) != 0 {
		t.Fatal("read-only region resolved as read/write")
	}
}

// ---------------------------------------------------------------------------
// Worked example of spec 10 §1.4, at the datastore level, with the usage
// rows checked after every step.

func TestWorkedExample(t *testing.T) {
	for _, c := range []struct {
		name             string
		withNRV, deleteS bool
	}{
		{"post-fix", true, false},
		{"no-NRV", false, false},
		{"post-fix-snapshot-deleted", true, true},
		{"no-NRV-snapshot-deleted", false, true},
	} {
		t.Run(c.name, func(t *testing.T) { workedExample(t, c.withNRV, c.deleteS) })
	}
}

// workedExample runs spec 10 §1.4 with or without the new region volume
// (NRV), optionally with the user deleting snapshot S between the garbage
// collection and D2's step (the race the NRV closes).
func workedExample(t *testing.T, withNRV, deleteS bool) {
	f := newVFX(t)
	ds := f.three()
	d, rs, _ := f.disk(nil, ds...)
	s, ks, ads := f.snapshot(d, rs)
	s1, s2, s3 := rsRes(ks[0]), rsRes(ks[1]), rsRes(ks[2])
	// D2 from S: checkout, randomize, create (separate steps)
	parent, err := f.db.VolumeCheckout(s, CheckoutReadOnlyCopy)
	if err != nil {
		t.Fatal(err)
	}
	rop, err := RandomizeIDs(parent, f.db.NewUUID)
	if err != nil {
		t.Fatal(err)
	}
	d2, _, _ := f.disk(rop, f.three()...)
	for _, r := range []Resource{s1, s2, s3} {
		f.wantRows(r, s, d2)
	}
	// the user deletes D: its regions have snapshots, nothing is freed
	if res := f.softDelete(d); len(res.Regions) != 0 {
		t.Fatalf("D freed %v", res.Regions)
	}
	f.clean()

	// 2. start saga: R with volume_id = S, the NRV, a blank VTD0, the swap
	r, rAd := f.region(f.dataset(), s, true)
	R := roRes(r)
	var nrv UUID
	if withNRV {
		nrv = f.db.NewUUID()
		f.create(nrv, vVol(nrv, nil, vReg(f.db.NewUUID(), true, rAd)))
		f.wantRows(R, nrv)
	}
	vtd0 := f.blank()
	if res, err := f.db.VolumeReplaceSnapshot(s, ads[0], rAd, vtd0); err != nil || res != ReplaceDone {
		t.Fatalf("start replace: %v %v", res, err)
	}
	if got := f.db.ReadOnlyResourcesAssociatedWithVolume(nil, s); !reflect.DeepEqual(got, vAddrs(rAd, ads[1], ads[2])) {
		t.Fatalf("S targets %v", got)
	}
	f.wantRows(s1, d2, vtd0) // (S, s1) became (VTD0, s1)
	f.wantRows(s2, s, d2)
	f.wantRows(s3, s, d2)
	if withNRV {
		f.wantRows(R, nrv, s)
	} else {
		f.wantRows(R, s)
	}
	f.clean()

	// 3. garbage collection: VTD0 deleted; s1 is still used by D2
	if res := f.softDelete(vtd0); len(res.RegionSnapshots) != 0 {
		t.Fatalf("VTD0 freed %v", res)
	}
	f.wantRows(s1, d2)
	f.clean()

	if deleteS {
		res := f.softDelete(s)
		f.wantRows(s2, d2)
		if !withNRV {
			// pre-fix: R loses its last reference and is freed...
			if !reflect.DeepEqual(res.Regions, vIDs(r)) || !f.db.Region(r).Deleting {
				t.Fatalf("R not freed: %v", res)
			}
			f.wantRows(R)
			// ...so D2's step can never swap it in: Internal, no writes
			vtd1 := f.blank()
			before := f.state()
			if _, err := f.db.VolumeReplaceSnapshot(d2, ads[0], rAd, vtd1); vClass(err) != ErrInternal {
				t.Fatalf("step replace: %v", err)
			}
			f.sameState(before, "step replace")
			f.wantRows(s1, d2)
			return
		}
		// post-fix: the NRV pins R
		if len(res.Regions) != 0 || f.db.Region(r).Deleting {
			t.Fatalf("R freed: %v", res)
		}
		f.wantRows(R, nrv)
	}
	rOwners := func(extra ...UUID) []UUID {
		var out []UUID
		if withNRV {
			out = append(out, nrv)
		}
		if !deleteS {
			out = append(out, s)
		}
		return append(out, extra...)
	}

	// 4-5. step for D2: blank VTD1, swap; (VTD1, R) does not exist, so
	// (D2, R) is inserted
	vtd1 := f.blank()
	if res, err := f.db.VolumeReplaceSnapshot(d2, ads[0], rAd, vtd1); err != nil || res != ReplaceDone {
		t.Fatalf("step replace: %v %v", res, err)
	}
	f.wantRows(s1, vtd1)
	f.wantRows(R, rOwners(d2)...)
	f.clean()

	// 6. step garbage collection: s1's count reaches 0; freed, then removed
	res := f.softDelete(vtd1)
	if !reflect.DeepEqual(res.RegionSnapshots, []RSKey{ks[0]}) || !f.db.RegionSnapshot(ks[0]).Deleting {
		t.Fatalf("s1 not freed: %v", res)
	}
	f.wantRows(s1)
	f.removeRS(ks[0])
	f.clean()

	// 7. find_deleted_volume_regions: r1 is freed; D keeps r2, r3 (still
	// snapshotted) so it is not returned post-fix; pre-fix it would be
	// hard-deleted right after r1
	fr, _ := f.db.FindDeletedVolumeRegions()
	if len(fr.Regions) != 1 || fr.Regions[0].RegionID != rs[0] || len(fr.Volumes) != 0 || fr.PerRegionVolumes {
		t.Fatalf("freed %+v", fr)
	}
	f.db.Cfg.Switches.PrematureVolumeHardDelete = true
	fr, _ = f.db.FindDeletedVolumeRegions()
	if len(fr.Regions) != 1 || fr.Regions[0].VolumeID != d || !fr.PerRegionVolumes {
		t.Fatalf("pre-fix freed %+v", fr)
	}
	f.db.Cfg.Switches.PrematureVolumeHardDelete = false

	// 8. finish: the NRV is deleted; R stays, used by S (unless deleted)
	// and D2
	if withNRV {
		res = f.softDelete(nrv)
		if len(res.Regions) != 0 || f.db.Region(r).Deleting {
			t.Fatalf("NRV delete freed %v", res)
		}
		nrv = 0
		withNRV = false
	}
	f.wantRows(R, rOwners(d2)...)
	f.clean()
}

// ---------------------------------------------------------------------------
// Property: random sequences of volume create, checkout-and-copy (a disk
// from a snapshot: checkout, then later create with a copied read-only
// parent), snapshot, snapshot replacement, soft delete (with the freed
// read-only resources removed) and hard delete keep every resource's usage
// row count equal to the number of read-only target occurrences that
// resolve to it in live volumes, and keep the state invariants.

type propWorld struct {
	f       *vfx
	ds      []UUID
	disks   []UUID          // disk volumes (any state)
	regsOf  map[UUID][]UUID // disk → its read/write regions
	snaps   []UUID          // snapshot and image volumes (any state)
	pending []*VCR          // checked-out copies waiting for their create
	all     []UUID          // every volume id ever created
}

// allocDisk allocates the read/write regions of a new disk volume (as the
// disk-create saga does before creating the volume record).
func (w *propWorld) allocDisk(rop *VCR) (UUID, *VCR, []UUID) {
	f := w.f
	vol := f.db.NewUUID()
	var regs []UUID
	var ads []Addr
	for _, d := range w.ds[:3] {
		id, ad := f.region(d, vol, false)
		regs = append(regs, id)
		ads = append(ads, ad)
	}
	return vol, vVol(vol, rop, vReg(f.db.NewUUID(), false, ads...)), regs
}

func (w *propWorld) createDisk(vol UUID, vcr *VCR, regs []UUID) error {
	if err := w.f.db.VolumeCreate(vol, vcr); err != nil {
		return err
	}
	w.disks = append(w.disks, vol)
	w.regsOf[vol] = regs
	w.all = append(w.all, vol)
	return nil
}

func (w *propWorld) live(ids []UUID) []UUID {
	var out []UUID
	for _, id := range ids {
		if w.f.db.VolumeStateOf(id) == VolumeLive {
			out = append(out, id)
		}
	}
	return out
}

// expectedCounts is the reference count each resource must have: one per
// read-only target occurrence in a live volume.
func (w *propWorld) check(t *rapid.T) {
	db := w.f.db
	want := map[Resource]int{}
	for _, v := range db.Volumes {
		if v.SoftDeleted {
			continue
		}
		for _, tgt := range ReadOnlyTargets(nil, v.Data) {
			res, ok := db.ResolveReadOnlyTarget(tgt)
			if !ok {
				t.Fatalf("live volume %d: target %s does not resolve", v.ID, AddrString(tgt))
			}
			want[res]++
		}
	}
	got := map[Resource]int{}
	for _, u := range db.Usages {
		got[u.Res]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("usage counts %v, VCR occurrences %v", got, want)
	}
	if vs := db.CheckStateInvariants(nil); len(vs) != 0 {
		t.Fatalf("state invariants: %v", vs)
	}
}

func TestPropertyRefcountsMatchLiveVCRs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := newVFX(rt)
		w := &propWorld{f: f, regsOf: map[UUID][]UUID{}}
		for i := 0; i < 4; i++ {
			w.ds = append(w.ds, f.dataset())
		}
		if err := w.createDisk(w.allocDisk(nil)); err != nil {
			rt.Fatal(err)
		}
		pick := func(label string, ids []UUID) (UUID, bool) {
			if len(ids) == 0 {
				return 0, false
			}
			return ids[rapid.IntRange(0, len(ids)-1).Draw(rt, label)], true
		}
		expectUnchanged := func(before vfxState, err error, what string) {
			if err == nil {
				return
			}
			if vClass(err) != ErrInternal {
				rt.Fatalf("%s: %v", what, err)
			}
			f.sameState(before, what)
		}
		rt.Repeat(map[string]func(*rapid.T){
			"": func(t *rapid.T) { w.check(t) },
			"blank disk": func(t *rapid.T) {
				if err := w.createDisk(w.allocDisk(nil)); err != nil {
					t.Fatal(err)
				}
			},
			"snapshot": func(t *rapid.T) {
				d, ok := pick("disk", w.live(w.disks))
				if !ok {
					t.Skip("no live disk")
				}
				s, _, _ := f.snapshot(d, w.regsOf[d])
				w.snaps = append(w.snaps, s)
				w.all = append(w.all, s)
			},
			"checkout copy": func(t *rapid.T) {
				s, ok := pick("snapshot", w.snaps)
				if !ok {
					t.Skip("no snapshot")
				}
				vcr, err := f.db.VolumeCheckout(s, CheckoutReadOnlyCopy)
				if err != nil {
					if f.db.Volume(s) != nil {
						t.Fatalf("checkout of %d: %v", s, err)
					}
					return
				}
				cp, err := RandomizeIDs(vcr, f.db.NewUUID)
				if err != nil {
					t.Fatal(err)
				}
				w.pending = append(w.pending, cp)
			},
			"create from copy": func(t *rapid.T) {
				if len(w.pending) == 0 {
					t.Skip("nothing checked out")
				}
				i := rapid.IntRange(0, len(w.pending)-1).Draw(t, "copy")
				cp := w.pending[i]
				w.pending = append(w.pending[:i], w.pending[i+1:]...)
				vol, vcr, regs := w.allocDisk(cp)
				before := f.state()
				err := w.createDisk(vol, vcr, regs)
				expectUnchanged(before, err, "create from copy")
			},
			"image": func(t *rapid.T) {
				s, ok := pick("snapshot", w.snaps)
				if !ok {
					t.Skip("no snapshot")
				}
				cp, err := f.db.VolumeCheckoutRandomizeIDsCheckout(s, CheckoutReadOnlyCopy)
				if err != nil {
					if f.db.Volume(s) != nil {
						t.Fatalf("checkout of %d: %v", s, err)
					}
					return
				}
				before := f.state()
				img, err := f.db.VolumeCheckoutRandomizeIDsCreate(cp)
				expectUnchanged(before, err, "image create")
				if err == nil {
					w.snaps = append(w.snaps, img)
					w.all = append(w.all, img)
				}
			},
			"replace": func(t *rapid.T) {
				v, ok := pick("volume", w.live(w.all))
				if !ok {
					t.Skip("no live volume")
				}
				tgts := ReadOnlyTargets(nil, f.db.Volume(v).Data)
				if len(tgts) == 0 {
					t.Skip("no read-only target")
				}
				e := tgts[rapid.IntRange(0, len(tgts)-1).Draw(t, "existing")]
				var n Addr
				if rapid.IntRange(0, 3).Draw(t, "reuse") == 0 {
					// an existing live read-only target of any volume
					// (E itself excluded: with N = E the call moves E's row to T
					// and back, leaving T's new [E] without a row; no caller
					// passes N = E)
					var cands []Addr
					for _, u := range w.live(w.all) {
						for _, c := range ReadOnlyTargets(nil, f.db.Volume(u).Data) {
							if c != e {
								cands = append(cands, c)
							}
						}
					}
					if len(cands) == 0 {
						t.Skip("no other read-only target")
					}
					n = cands[rapid.IntRange(0, len(cands)-1).Draw(t, "replacement")]
				} else {
					_, n = f.region(w.ds[3], v, true)
				}
				tv := f.blank()
				w.all = append(w.all, tv)
				before := f.state()
				res, err := f.db.VolumeReplaceSnapshot(v, e, n, tv)
				expectUnchanged(before, err, "replace")
				if err == nil && res != ReplaceDone && res != ReplaceAlreadyHappened {
					t.Fatalf("replace on a live volume: %v", res)
				}
			},
			"soft delete": func(t *rapid.T) {
				v, ok := pick("volume", w.all)
				if !ok {
					t.Skip("no volume")
				}
				before := f.state()
				res, err := f.db.SoftDeleteVolume(v)
				expectUnchanged(before, err, "soft delete")
				if err != nil {
					return
				}
				// the volume-delete saga removes what was freed
				for _, k := range res.RegionSnapshots {
					if f.db.RegionSnapshot(k) != nil {
						f.removeRS(k)
					}
				}
				for _, id := range res.Regions {
					if r := f.db.Region(id); r != nil && r.ReadOnly {
						f.removeRegion(id)
					}
				}
			},
			"hard delete": func(t *rapid.T) {
				var sd []UUID
				for _, id := range w.all {
					if f.db.VolumeStateOf(id) == VolumeSoftDeleted {
						sd = append(sd, id)
					}
				}
				v, ok := pick("volume", sd)
				if !ok {
					t.Skip("no soft-deleted volume")
				}
				f.db.VolumeHardDelete(v)
			},
		})
	})
}

// ---------------------------------------------------------------------------
// Allocation and speed of the hot paths.

func TestVolumeReadPathsDoNotAllocate(t *testing.T) {
	x := newInvFixture(t)
	f := x.f
	vols := make([]Volume, 0, 16)
	tgts := make([]Addr, 0, 16)
	regs := make([]Region, 0, 16)
	res := &CrucibleResources{Regions: []UUID{x.n}}
	allocs := testing.AllocsPerRun(100, func() {
		vols, _, _, _ = f.db.FindVolumesReferencingSocketAddrPage(vols[:0], x.ads[0], 0)
		tgts = f.db.ReadOnlyResourcesAssociatedWithVolume(tgts[:0], x.d2)
		regs = f.db.RegionsToDelete(regs[:0], res)
		f.db.VolumeGet(x.s)
		f.db.VolumeDeleted(x.s)
		f.db.FindDeletedVolumeRegions()
		f.db.ResolveReadOnlyTarget(x.nAd)
		// the no-write outcomes of the transactions
		f.db.VolumeReplaceSnapshot(x.s, x.nAd, x.ads[0], x.tv) // AlreadyHappened
		f.db.VolumeCreate(x.s, nil)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
	if len(vols) != 2 {
		t.Fatalf("found %v", vols)
	}
}

// BenchmarkVolumeLifecycle: create a disk from a snapshot, replace one of
// its read-only targets, soft-delete both volumes involved.
func BenchmarkVolumeLifecycle(b *testing.B) {
	x := newInvFixture(b) // the NRV pins N
	f := x.f
	rop := vVol(1, nil, vReg(2, true, x.ads...))
	for i := 0; i < b.N; i++ {
		vol := f.db.NewUUID()
		f.create(vol, vVol(vol, rop, vReg(3, false)))
		tv := f.db.NewUUID()
		f.create(tv, vVol(tv, nil, vReg(tv, true)))
		if _, err := f.db.VolumeReplaceSnapshot(vol, x.ads[0], x.nAd, tv); err != nil {
			b.Fatal(err)
		}
		f.softDelete(tv)
		f.softDelete(vol)
		f.db.VolumeHardDelete(tv)
		f.db.VolumeHardDelete(vol)
	}
}

func BenchmarkCheckStateInvariants(b *testing.B) {
	x := &invFixture{rsFixture: newRSFixture(b)}
	f := x.f
	for i := 0; i < 20; i++ {
		d, _, _ := f.disk(vVol(f.db.NewUUID(), nil, vReg(f.db.NewUUID(), true, x.ads...)), f.three()...)
		_ = d
	}
	buf := make([]Violation, 0, 8)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = f.db.CheckStateInvariants(buf[:0])
	}
	if len(buf) != 0 {
		b.Fatal(buf)
	}
}
