package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/model"
)

// Assertions on the state ("expect <what> ..."), and the oracle checks.

// setNull checks an optional id field against "set" or "null".
func setNull(c *Cmd, key string, v model.UUID) error {
	want, ok := c.Opt(key)
	if !ok {
		return nil
	}
	switch want {
	case "set":
		if v == 0 {
			return failf(OracleAssert, "%s is null, want set", key)
		}
	case "null":
		if v != 0 {
			return failf(OracleAssert, "%s is set (#%d), want null", key, v)
		}
	default:
		return scriptf("%s: want set or null", key)
	}
	return nil
}

func expectRequest(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kRequest)
	if err != nil {
		return err
	}
	q := x.w.DB.Request(id)
	if q == nil {
		return failf(OracleAssert, "request %s has no row", ref)
	}
	if v, ok := c.Opt("state"); ok && q.State.String() != v {
		return failf(OracleAssert, "request %s is %s, want %s", ref, q.State, v)
	}
	for _, f := range []struct {
		key string
		v   model.UUID
	}{{"new-region", q.NewRegionID}, {"op", q.OperatingSagaID}, {"new-region-volume", q.NewRegionVolumeID}, {"old-snapshot-volume", q.OldSnapshotVolumeID}} {
		if err := setNull(c, f.key, f.v); err != nil {
			return err
		}
	}
	if v, ok := c.Opt("key"); ok {
		o, err := x.want(v, kRS)
		if err != nil {
			return err
		}
		if q.Old != o.rs {
			return failf(OracleAssert, "request %s is for %v, want %s %v", ref, q.Old, v, o.rs)
		}
	}
	return nil
}

func expectStep(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kStep)
	if err != nil {
		return err
	}
	s := x.w.DB.Step(id)
	if s == nil {
		return failf(OracleAssert, "step %s has no row", ref)
	}
	if v, ok := c.Opt("state"); ok && s.State.String() != v {
		return failf(OracleAssert, "step %s is %s, want %s", ref, s.State, v)
	}
	if err := setNull(c, "old-snapshot-volume", s.OldSnapshotVolumeID); err != nil {
		return err
	}
	return setNull(c, "op", s.OperatingSagaID)
}

func expectRR(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	id, err := x.id(ref, kRR)
	if err != nil {
		return err
	}
	q := x.w.DB.RRequest(id)
	if q == nil {
		return failf(OracleAssert, "region replacement %s has no row", ref)
	}
	if v, ok := c.Opt("state"); ok {
		ok := false
		for _, s := range strings.Split(v, "|") {
			ok = ok || q.State.String() == s
		}
		if !ok {
			return failf(OracleAssert, "region replacement %s is %s, want %s", ref, q.State, v)
		}
	}
	return nil
}

// matchSet checks ids against is= (exact set), contains= and count=.
func (x *runner) matchSet(c *Cmd, what string, k objKind, kinds []objKind, got []model.UUID) error {
	if v, ok := c.Opt("count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return scriptf("count: want an integer")
		}
		if len(got) != n {
			return failf(OracleAssert, "%s: %d %s, want %d", what, len(got), x.renderNames(k, got), n)
		}
	}
	if v, ok := c.Opt("is"); ok {
		var want []model.UUID
		if v != "none" {
			var err error
			if want, err = x.ids(v, kinds...); err != nil {
				return err
			}
		}
		if !sameSet(got, want) {
			return failf(OracleAssert, "%s: %s, want %s", what, x.renderNames(k, got), x.renderNames(k, want))
		}
	}
	if v, ok := c.Opt("contains"); ok {
		want, err := x.ids(v, kinds...)
		if err != nil {
			return err
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				return failf(OracleAssert, "%s: %s does not contain %s", what, x.renderNames(k, got), x.nameOf(k, w))
			}
		}
	}
	return nil
}

func expectRequests(x *runner, c *Cmd) error {
	var got []model.UUID
	st, hasSt := c.Opt("state")
	for _, q := range x.w.DB.Requests {
		if !hasSt || q.State.String() == st {
			got = append(got, q.ID)
		}
	}
	return x.matchSet(c, "requests", kRequest, []objKind{kRequest}, got)
}

func expectSteps(x *runner, c *Cmd) error {
	var got []model.UUID
	st, hasSt := c.Opt("state")
	var req model.UUID
	if v, ok := c.Opt("request"); ok {
		var err error
		if req, err = x.id(v, kRequest); err != nil {
			return err
		}
	}
	var vols []model.UUID
	for _, s := range x.w.DB.Steps {
		if (!hasSt || s.State.String() == st) && (req == 0 || s.RequestID == req) {
			got = append(got, s.ID)
			vols = append(vols, s.VolumeID)
		}
	}
	if err := x.matchSet(c, "steps", kStep, []objKind{kStep}, got); err != nil {
		return err
	}
	if v, ok := c.Opt("volumes"); ok {
		want, err := x.ids(v, kVolume)
		if err != nil {
			return err
		}
		if !sameSet(vols, want) {
			return failf(OracleAssert, "steps are for volumes %s, want %s", x.renderNames(kVolume, vols), x.renderNames(kVolume, want))
		}
	}
	return nil
}

func expectRRs(x *runner, c *Cmd) error {
	var got []model.UUID
	st, hasSt := c.Opt("state")
	var old model.UUID
	if v, ok := c.Opt("old-region"); ok {
		var err error
		if old, err = x.id(v, kRegion); err != nil {
			return err
		}
	}
	for _, q := range x.w.DB.RRequests {
		if (!hasSt || q.State.String() == st) && (old == 0 || q.OldRegionID == old) {
			got = append(got, q.ID)
		}
	}
	return x.matchSet(c, "region replacements", kRR, []objKind{kRR}, got)
}

func expectLocks(x *runner, c *Cmd) error {
	a := argsOf(c)
	db := x.w.DB
	if len(a) == 1 && a[0] == "none" {
		if len(db.Locks) > 0 {
			var s []string
			for _, l := range db.Locks {
				s = append(s, x.nameOf(kVolume, l.VolumeID)+" by "+x.repairName(l.RepairID))
			}
			return failf(OracleAssert, "%d lock(s) remain: %s", len(db.Locks), strings.Join(s, ", "))
		}
		return nil
	}
	if len(a) != 1 {
		return scriptf("expect locks none | expect locks VOLUME held-by=REF|none")
	}
	vol, err := x.id(a[0], kVolume)
	if err != nil {
		return err
	}
	hv, _ := c.Opt("held-by")
	l := db.LockOn(vol)
	if hv == "none" || hv == "" {
		if l != nil {
			return failf(OracleAssert, "%s is locked by %s", a[0], x.repairName(l.RepairID))
		}
		return nil
	}
	o, err := x.lookup(hv)
	if err != nil {
		return err
	}
	if l == nil {
		return failf(OracleAssert, "%s is not locked, want held by %s", a[0], hv)
	}
	if l.RepairID != o.id {
		return failf(OracleAssert, "%s is locked by %s, want %s", a[0], x.repairName(l.RepairID), hv)
	}
	return nil
}

func (x *runner) repairName(id model.UUID) string {
	for _, k := range []objKind{kRequest, kStep, kRR} {
		if n := x.nameOf(k, id); !strings.HasPrefix(n, "#") {
			return n
		}
	}
	return fmt.Sprintf("#%d", id)
}

func expectFindDeleted(x *runner, c *Cmd) error {
	if msg := x.watchFails("find-deleted-volume-regions-empty"); msg != "" {
		return failf(OracleAssert, "%s, want nothing", msg)
	}
	return nil
}

// findVolumesReferencing runs find_volumes_referencing_socket_addr to the
// end (every page), as the test helpers call it.
func (x *runner) findVolumesReferencing(a model.Addr) ([]model.UUID, error) {
	var vols []model.Volume
	var after model.UUID
	for {
		var more bool
		var err error
		vols, after, more, err = x.w.DB.FindVolumesReferencingSocketAddrPage(vols, a, after)
		if err != nil {
			return nil, failf(OracleAssert, "find_volumes_referencing_socket_addr: %v", err)
		}
		if !more {
			break
		}
	}
	var ids []model.UUID
	for _, v := range vols {
		ids = append(ids, v.ID)
	}
	return ids, nil
}

func expectVolumesReferencing(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	a, err := x.addr(ref)
	if err != nil {
		return err
	}
	got, err := x.findVolumesReferencing(a)
	if err != nil {
		return err
	}
	return x.matchSet(c, "volumes referencing "+ref, kVolume, []objKind{kVolume}, got)
}

// expectNoCrucibleResources is DiskTest::crucible_resources_deleted (spec 30
// §C.1): no region (other than destroyed), ZFS snapshot or running snapshot
// remains on any agent. Datasets on expunged disks are left out, as I6
// removes the expunged zpool from the check (and the other tests expunge
// nothing); include-expunged checks them too.
func expectNoCrucibleResources(x *runner, c *Cmd) error {
	objs := x.w.DB.AgentObjects(nil, !c.Flag("include-expunged"))
	if len(objs) == 0 {
		return nil
	}
	var s []string
	for i, o := range objs {
		if i == 4 {
			s = append(s, fmt.Sprintf("... %d more", len(objs)-4))
			break
		}
		kind := [...]string{"region", "snapshot", "running snapshot"}[o.Kind]
		s = append(s, fmt.Sprintf("%s %s on %s", kind, x.nameOf(kRegion, o.Region), x.nameOf(kDataset, o.Dataset)))
	}
	return failf(OracleAssert, "crucible_resources_deleted is false: %d agent object(s) remain: %s", len(objs), strings.Join(s, ", "))
}

func expectVolume(x *runner, c *Cmd) error {
	a := argsOf(c)
	id, err := x.id(a[0], kVolume)
	if err != nil {
		return err
	}
	got := map[model.VolumeState]string{model.VolumeLive: "live", model.VolumeSoftDeleted: "soft-deleted", model.VolumeHardDeleted: "hard-deleted"}[x.w.DB.VolumeStateOf(id)]
	want := a[1]
	if want == "exists" {
		if got == "hard-deleted" {
			return failf(OracleAssert, "volume %s is hard-deleted, want a row", a[0])
		}
		return nil
	}
	if got != want {
		return failf(OracleAssert, "volume %s is %s, want %s", a[0], got, want)
	}
	return nil
}

func expectRegion(x *runner, c *Cmd) error {
	a := argsOf(c)
	id, err := x.id(a[0], kRegion)
	if err != nil {
		return err
	}
	_, exists := x.w.DB.GetRegionOptional(id)
	return existsGone(a[0], a[1], exists)
}

func existsGone(ref, want string, exists bool) error {
	switch want {
	case "exists":
		if !exists {
			return failf(OracleAssert, "%s has no row, want one", ref)
		}
	case "gone":
		if exists {
			return failf(OracleAssert, "%s still has a row, want none", ref)
		}
	default:
		return scriptf("want exists or gone")
	}
	return nil
}

func expectRegionSnapshot(x *runner, c *Cmd) error {
	a := argsOf(c)
	o, err := x.want(a[0], kRS)
	if err != nil {
		return err
	}
	_, exists := x.w.DB.RegionSnapshotGet(o.rs)
	return existsGone(a[0], a[1], exists)
}

func expectRegions(x *runner, c *Cmd) error {
	n, err := intOpt(c, "count", 0)
	if err != nil {
		return err
	}
	if got := len(x.w.DB.Regions); got != n {
		return failf(OracleAssert, "%d region rows, want %d", got, n)
	}
	return nil
}

func expectAllocatedRegions(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	vol, err := x.id(ref, kVolume)
	if err != nil {
		return err
	}
	var got []model.UUID
	for _, r := range x.w.DB.Regions {
		if r.VolumeID == vol && x.w.DB.Dataset(r.DatasetID) != nil {
			got = append(got, r.ID)
		}
	}
	return x.matchSet(c, "allocated regions of "+ref, kRegion, []objKind{kRegion}, got)
}

func expectSagaStarts(x *runner, c *Cmd) error {
	n, err := strconv.Atoi(argsOf(c)[0])
	if err != nil {
		return scriptf("want a count")
	}
	got := x.w.NoopSagaStarts
	x.w.NoopSagaStarts = 0
	if got != n {
		return failf(OracleAssert, "%d saga start(s) counted, want %d", got, n)
	}
	return nil
}

func expectSaga(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	s, err := x.saga(ref)
	if err != nil {
		return err
	}
	if v, ok := c.Opt("state"); ok && s.State.String() != v {
		return failf(OracleAssert, "saga %s is %s, want %s", ref, sagaResult(s), v)
	}
	if v, ok := c.Opt("error-node"); ok && s.ErrNode != v {
		return failf(OracleAssert, "saga %s failed at %q, want %s", ref, s.ErrNode, v)
	}
	return nil
}

func expectStatus(x *runner, c *Cmd) error {
	t, err := taskOf(argsOf(c)[0])
	if err != nil {
		return err
	}
	n, err := intOpt(c, "nexus", 0)
	if err != nil {
		return err
	}
	st := x.w.Nexuses[n].Last[t]
	if st == nil {
		return failf(OracleAssert, "%s has not run on Nexus %d", t, n)
	}
	field := func(k string) int {
		if k == "errors" {
			return len(st.Errors)
		}
		for i, f := range statusFields[t] {
			if f == k {
				return st.Counts[i]
			}
		}
		return -1
	}
	if v, ok := c.Opt("nonempty"); ok {
		for _, k := range list(v) {
			n := field(k)
			if n < 0 {
				return scriptf("%s has no status field %q (fields: %s, errors)", t, k, strings.Join(statusFields[t], ", "))
			}
			if n == 0 {
				return failf(OracleAssert, "%s %s is empty", t, k)
			}
		}
	}
	for _, a := range c.Args {
		if a.Key == "" || a.Key == "nexus" || a.Key == "nonempty" {
			continue
		}
		want, err := strconv.Atoi(a.Val)
		if err != nil {
			return scriptf("%s: want a count", a.Key)
		}
		got := field(a.Key)
		if got < 0 {
			return scriptf("%s has no status field %q (fields: %s, errors)", t, a.Key, strings.Join(statusFields[t], ", "))
		}
		if got != want {
			return failf(OracleAssert, "%s %s is %d, want %d", t, a.Key, got, want)
		}
	}
	return nil
}

func expectDisks(x *runner, c *Cmd) error {
	var live []model.UUID
	for _, d := range x.w.DB.Disks {
		if !d.Deleted {
			live = append(live, d.ID)
		}
	}
	if len(live) > 0 {
		return failf(OracleAssert, "the disk list is %s, want empty", x.renderNames(kDisk, live))
	}
	return nil
}

func expectSnapshots(x *runner, c *Cmd) error {
	var live []model.UUID
	for _, s := range x.w.DB.Snapshots {
		if !s.Deleted {
			live = append(live, s.ID)
		}
	}
	if len(live) > 0 {
		return failf(OracleAssert, "the snapshot list is %s, want empty", x.renderNames(kSnapshot, live))
	}
	return nil
}

// expectUsage is volume_usage_records_for_resource(RS): the volumes of its
// usage rows.
func expectUsage(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	o, err := x.want(ref, kRS, kRegion)
	if err != nil {
		return err
	}
	res := model.ReadOnlyRegionResource(o.id)
	if o.kind == kRS {
		res = model.RegionSnapshotResource(o.rs)
	}
	var got []model.UUID
	for _, u := range x.w.DB.VolumeUsageRecordsForResource(nil, res) {
		got = append(got, u.VolumeID)
	}
	return x.matchSet(c, "usage records of "+ref, kVolume, []objKind{kVolume}, got)
}

func expectExpungedRegionSnapshots(x *runner, c *Cmd) error {
	var got []model.RSKey
	got = append(got, rsKeys(x.w.DB.FindRegionSnapshotsOnExpungedDisks(nil))...)
	v, _ := c.Opt("is")
	var want []model.RSKey
	for _, s := range list(v) {
		o, err := x.want(s, kRS)
		if err != nil {
			return err
		}
		want = append(want, o.rs)
	}
	if len(got) != len(want) {
		return failf(OracleAssert, "%d region snapshot(s) on expunged disks, want %d", len(got), len(want))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return failf(OracleAssert, "region snapshot %v is not on an expunged disk", w)
		}
	}
	return nil
}

func rsKeys(rs []model.RegionSnapshot) []model.RSKey {
	var out []model.RSKey
	for _, r := range rs {
		out = append(out, r.Key)
	}
	return out
}

// expectExpungedRegions is find_read_write_regions_on_expunged_physical_disks:
// contains=R..., and every other one must be a region of others-of=VOLUME.
func expectExpungedRegions(x *runner, c *Cmd) error {
	var got []model.UUID
	for _, r := range x.w.DB.FindRWRegionsOnExpungedDisks(nil) {
		got = append(got, r.ID)
	}
	if err := x.matchSet(c, "read/write regions on expunged disks", kRegion, []objKind{kRegion}, got); err != nil {
		return err
	}
	if v, ok := c.Opt("others-of"); ok {
		vol, err := x.id(v, kVolume)
		if err != nil {
			return err
		}
		want, _ := c.Opt("contains")
		named, err := x.ids(want, kRegion)
		if err != nil {
			return err
		}
		for _, g := range got {
			isNamed := false
			for _, n := range named {
				isNamed = isNamed || n == g
			}
			if r := x.w.DB.Region(g); !isNamed && (r == nil || r.VolumeID != vol) {
				return failf(OracleAssert, "region %s on an expunged disk is neither named nor a region of %s", x.nameOf(kRegion, g), v)
			}
		}
	}
	return nil
}

func expectCleanSlate(x *runner, c *Cmd) error { return x.checkCleanSlate() }

func expectNoStuckSagas(x *runner, c *Cmd) error { return x.noStuckSagas() }

// ---------------------------------------------------------------------------
// oracle checks

func cmdCheckState(x *runner, c *Cmd) error {
	if x.opts.AssertionsOnly {
		return nil
	}
	if v := x.ck.CheckState(); v != nil {
		x.note(v)
	}
	return nil
}

func cmdCheckQuiescence(x *runner, c *Cmd) error {
	if x.opts.AssertionsOnly {
		return nil
	}
	if x.lastDrain == nil {
		return scriptf("check-quiescence needs a drain first")
	}
	saved := x.ck.Disabled
	if v, ok := c.Opt("only"); ok {
		only := list(v)
		for _, o := range only {
			if _, ok := invariants.Lookup(o); !ok {
				return scriptf("unknown oracle %q", o)
			}
		}
		x.ck.Disabled = map[string]bool{}
		for _, o := range invariants.Catalogue {
			x.ck.Disabled[o.Name] = !contains(only, o.Name)
		}
	}
	v := x.ck.CheckQuiescence(*x.lastDrain)
	x.ck.Disabled = saved
	if v != nil {
		x.note(v)
	}
	return nil
}

func cmdCheckEmpty(x *runner, c *Cmd) error {
	if x.opts.AssertionsOnly {
		return nil
	}
	if v := x.ck.CheckEmpty(); v != nil {
		x.note(v)
	}
	return nil
}

// cmdShow prints the replacement records, with names (for debugging and
// for output blocks).
func cmdShow(x *runner, c *Cmd) error {
	db := x.w.DB
	for _, q := range db.Requests {
		x.printf("request %s: %s", x.nameOf(kRequest, q.ID), q.State)
	}
	for _, s := range db.Steps {
		x.printf("step %s: %s volume=%s", x.nameOf(kStep, s.ID), s.State, x.nameOf(kVolume, s.VolumeID))
	}
	for _, q := range db.RRequests {
		x.printf("region replacement %s: %s", x.nameOf(kRR, q.ID), q.State)
	}
	for _, l := range db.Locks {
		x.printf("lock %s by %s", x.nameOf(kVolume, l.VolumeID), x.repairName(l.RepairID))
	}
	live, soft := 0, 0
	for _, v := range db.Volumes {
		if v.SoftDeleted {
			soft++
		} else {
			live++
		}
	}
	x.printf("volumes: %d live, %d soft-deleted; regions: %d; region snapshots: %d; agent objects: %d",
		live, soft, len(db.Regions), len(db.RegionSnapshots), len(db.AgentObjects(nil, false)))
	return nil
}
