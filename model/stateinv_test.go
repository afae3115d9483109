package model

import (
	"slices"
	"testing"
)

// invFixture: a disk D, its snapshot S, a disk D2 from S, a read-only
// region N referenced by an NRV-like volume, all consistent.
type invFixture struct {
	*rsFixture
	d2  UUID
	nrv UUID
}

func newInvFixture(t testing.TB) *invFixture {
	x := &invFixture{rsFixture: newRSFixture(t)}
	f := x.f
	x.d2, _, _ = f.disk(vVol(f.db.NewUUID(), nil, vReg(f.db.NewUUID(), true, x.ads...)), f.three()...)
	x.nrv = f.db.NewUUID()
	f.create(x.nrv, vVol(x.nrv, nil, vReg(f.db.NewUUID(), true, x.nAd)))
	return x
}

func invNames(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v.Name) {
			out = append(out, v.Name)
		}
	}
	return out
}

func TestStateInvariantsCleanWithoutAllocation(t *testing.T) {
	x := newInvFixture(t)
	x.f.clean()
	// also after a replacement and a soft delete
	if _, err := x.f.db.VolumeReplaceSnapshot(x.d2, x.ads[0], x.nAd, x.tv); err != nil {
		t.Fatal(err)
	}
	x.f.softDelete(x.s)
	x.f.clean()
	buf := make([]Violation, 0, 8)
	allocs := testing.AllocsPerRun(100, func() { buf = x.f.db.CheckStateInvariants(buf[:0]) })
	if allocs != 0 || len(buf) != 0 {
		t.Fatalf("%v allocations, violations %v", allocs, buf)
	}
}

func TestStateInvariantsDetect(t *testing.T) {
	cases := []struct {
		name   string
		want   string
		break_ func(x *invFixture)
	}{
		{"top-level region", InvVCRTopLevelRegion, func(x *invFixture) {
			id := x.f.db.NewUUID()
			x.f.db.insertVolume(Volume{ID: id, Data: vReg(id, false)})
		}},
		{"rw region gone", InvRWTargetResolves, func(x *invFixture) {
			x.f.removeRegion(x.f.db.Regions[0].ID) // D's first region
		}},
		{"rw region deleting", InvRWTargetResolves, func(x *invFixture) {
			x.f.db.Regions[0].Deleting = true
		}},
		{"ro target deleting", InvROTargetResolves, func(x *invFixture) {
			x.f.db.RegionSnapshot(x.ks[0]).Deleting = true
		}},
		{"ro target removed", InvROTargetResolves, func(x *invFixture) {
			x.f.removeRegion(x.n)
		}},
		{"snapshot usage of a read-only region", InvRORegionNoSnapshotUsage, func(x *invFixture) {
			x.f.db.addUsage(9999, rsRes(RSKey{DatasetID: 1, RegionID: x.n, SnapshotID: 2}))
		}},
		{"missing usage row", InvUsageMatchesVCR, func(x *invFixture) {
			for i := range x.f.db.Usages {
				if x.f.db.Usages[i].VolumeID == x.d2 {
					x.f.db.Usages = removeAt(x.f.db.Usages, i)
					break
				}
			}
		}},
		{"duplicate usage row", InvUsageMatchesVCR, func(x *invFixture) {
			x.f.db.addUsage(x.d2, rsRes(x.ks[1]))
		}},
		{"usage row on a live resource not in the VCR", InvUsageMatchesVCR, func(x *invFixture) {
			x.f.db.addUsage(x.d2, roRes(x.n))
		}},
		{"usage row of a live volume on a deleting resource", InvUsageOnDeletedResource, func(x *invFixture) {
			x.f.db.Region(x.n).Deleting = true
		}},
		{"usage row of a live volume on a missing resource", InvUsageOnDeletedResource, func(x *invFixture) {
			x.f.db.addUsage(x.tv, rsRes(RSKey{DatasetID: 1, RegionID: 2, SnapshotID: 3}))
		}},
		{"two locks on a volume", InvOneLockPerVolume, func(x *invFixture) {
			x.f.db.Locks = append(x.f.db.Locks, Lock{VolumeID: x.s, RepairID: 1}, Lock{VolumeID: x.s, RepairID: 2})
		}},
		{"region snapshot off its region's dataset", InvRegionSnapshotOnRegionDataset, func(x *invFixture) {
			x.f.db.RegionSnapshots[0].Key.DatasetID = x.dsets[2]
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newInvFixture(t)
			x.f.clean()
			c.break_(x)
			got := invNames(x.f.db.CheckStateInvariants(nil))
			if !slices.Contains(got, c.want) {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
}

func TestStateInvariantsAccept(t *testing.T) {
	// soft-deleted volumes are not checked
	x := newInvFixture(t)
	x.f.softDelete(x.d2)
	for _, r := range x.f.owned(x.d2) {
		x.f.removeRegion(r)
	}
	x.f.db.Volume(x.d2).Data = vVol(x.d2, vReg(1, true, Addr{IP: 9, Port: 9}), vReg(2, false, Addr{IP: 9, Port: 8}))
	x.f.clean()

	// rows left behind by a hard-deleted volume (spec 40 §13 caveat 2) are
	// not state violations
	x = newInvFixture(t)
	x.f.db.VolumeHardDelete(x.nrv)
	x.f.db.Region(x.n).Deleting = true
	x.f.clean()

	// several region snapshots at one address: any of them may carry the
	// usage row
	f := newVFX(t)
	ds := f.dataset()
	r, _ := f.region(ds, 0, false)
	k1, ad := f.rs(r)
	k2 := RSKey{DatasetID: ds, RegionID: r, SnapshotID: f.db.NewUUID()}
	f.db.RegionSnapshots = append(f.db.RegionSnapshots, RegionSnapshot{Key: k2, Addr: ad})
	f.db.Ch = &vfxChooser{vals: []int{1}}
	v := f.db.NewUUID()
	f.create(v, vVol(v, nil, vReg(1, true, ad)))
	f.wantRows(rsRes(k2), v)
	f.wantRows(rsRes(k1))
	f.clean()
}

func TestOrphanedRWRegions(t *testing.T) {
	f := newVFX(t)
	d, regs, _ := f.disk(nil, f.three()...)
	ro, _ := f.region(f.dataset(), 777, true)
	_ = ro
	if got := f.db.OrphanedRWRegions(nil); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
	f.db.VolumeHardDelete(d)
	if got := f.db.OrphanedRWRegions(nil); !slices.Equal(got, regs) {
		t.Fatalf("got %v, want %v", got, regs)
	}
}
