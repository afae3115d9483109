package invariants

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// oracleCase is one good/bad pair for an oracle. mk builds the state on top
// of the baseline (or of the bare topology): with bad false the GOOD state,
// on which the oracle stays quiet; with bad true the same state with one
// targeted change (the code under `if bad`), on which it fires.
type oracleCase struct {
	oracle string
	name   string
	// shape is the expected signature's shape: the violation's signature
	// must be oracle+":"+shape ("" = the oracle name alone).
	shape string
	mk    func(f *fx, bad bool)
	// cfg is the model configuration (switches) of the world.
	cfg model.Config
	// bare: start from the topology alone, not the baseline.
	bare bool
	// goodAlso / badAlso: the other oracles of the same kind that fire on
	// the good / bad state too (the targeted change cannot avoid them).
	goodAlso, badAlso []string
	// bug: the oracle does not do what its catalogue entry says on this
	// case; the test is skipped with this explanation.
	bug string
}

func (c oracleCase) String() string { return c.oracle + "/" + c.name }

// build makes the case's world.
func (c oracleCase) build(t testing.TB, bad bool) *fx {
	t.Helper()
	f := newFx(t, c.cfg)
	if !c.bare {
		f.baseline()
	}
	c.mk(f, bad)
	return f
}

// check runs the check that judges oracle o: CheckState, CheckEvents,
// CheckQuiescence or CheckEmpty.
func check(ck *Checker, o Oracle, f *fx) *sim.Violation {
	switch {
	case o.Kind == State:
		return ck.CheckState()
	case o.Kind == EventCheck:
		return ck.CheckEvents()
	case o.Name == EndNoResources:
		return ck.CheckEmpty()
	default:
		return ck.CheckQuiescence(f.drain)
	}
}

// firing returns every oracle (with its signature) that fires on the case's
// state, found by running the check again with each oracle found so far
// disabled (a fresh world each time: CheckEvents drains what it judges).
// disabled oracles are off from the start. It fails the test if a disabled
// oracle fires.
func firing(t *testing.T, c oracleCase, bad bool, disabled map[string]bool) map[string]string {
	t.Helper()
	o, ok := Lookup(c.oracle)
	if !ok {
		t.Fatalf("oracle %q is not in the catalogue", c.oracle)
	}
	dis := maps.Clone(disabled)
	if dis == nil {
		dis = map[string]bool{}
	}
	got := map[string]string{}
	for range len(Catalogue) + 1 {
		f := c.build(t, bad)
		ck := NewChecker(f.w)
		ck.Disabled = dis
		v := check(ck, o, f)
		if v == nil {
			return got
		}
		if dis[v.Oracle] {
			t.Fatalf("%s fired although disabled: %s", v.Oracle, v.Signature)
		}
		if v.Signature != v.Oracle && !strings.HasPrefix(v.Signature, v.Oracle+":") {
			t.Fatalf("signature %q does not start with its oracle %q", v.Signature, v.Oracle)
		}
		if v.Detail == "" {
			t.Errorf("%s: empty detail", v.Signature)
		}
		got[v.Oracle] = v.Signature
		dis[v.Oracle] = true
	}
	t.Fatalf("more oracles fired than the catalogue has: %v", got)
	return nil
}

func names(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func sameSet(got map[string]string, want []string) bool {
	w := slices.Clone(want)
	slices.Sort(w)
	return slices.Equal(names(got), slices.Compact(w))
}

func (c oracleCase) wantSig() string {
	if c.shape == "" {
		return c.oracle
	}
	return c.oracle + ":" + c.shape
}

// TestOracles is the table test: per oracle, the good state is quiet and
// the bad state fires with the expected signature.
func TestOracles(t *testing.T) {
	for _, c := range oracleCases() {
		t.Run(c.String(), func(t *testing.T) {
			if c.bug != "" {
				t.Skip("BUG: " + c.bug)
			}
			good := firing(t, c, false, nil)
			if _, ok := good[c.oracle]; ok || !sameSet(good, c.goodAlso) {
				t.Fatalf("good state: fired %v, want only %v", good, c.goodAlso)
			}
			bad := firing(t, c, true, nil)
			if sig, ok := bad[c.oracle]; !ok || sig != c.wantSig() {
				t.Fatalf("bad state: %s fired as %q (all: %v), want %q", c.oracle, sig, bad, c.wantSig())
			}
			if !sameSet(bad, append([]string{c.oracle}, c.badAlso...)) {
				t.Fatalf("bad state: fired %v, want %s plus %v", bad, c.oracle, c.badAlso)
			}
		})
	}
}

// TestEveryOracleHasACase fails when an oracle is added to the catalogue
// without a good/bad case here.
func TestEveryOracleHasACase(t *testing.T) {
	covered := map[string]int{}
	for _, c := range oracleCases() {
		if _, ok := Lookup(c.oracle); !ok {
			t.Errorf("case %s names an oracle missing from the catalogue", c)
		}
		if c.bug == "" {
			covered[c.oracle]++
		}
	}
	for _, o := range Catalogue {
		if covered[o.Name] == 0 {
			t.Errorf("oracle %s (%s) has no test case that runs", o.Name, o.Kind)
		}
	}
	seen := map[string]bool{}
	for _, o := range Catalogue {
		if seen[o.Name] {
			t.Errorf("oracle name %s appears twice in the catalogue", o.Name)
		}
		seen[o.Name] = true
		if got, ok := Lookup(o.Name); !ok || got.Name != o.Name {
			t.Errorf("Lookup(%q) = %v, %v", o.Name, got, ok)
		}
	}
	if _, ok := Lookup("no-such-oracle"); ok {
		t.Error("Lookup found an unknown oracle")
	}
}

// TestDisabledSilencesExactlyIt: on each bad state, disabling the case's
// oracle removes it, and only it, from what fires.
func TestDisabledSilencesExactlyIt(t *testing.T) {
	for _, c := range oracleCases() {
		if c.bug != "" {
			continue
		}
		t.Run(c.String(), func(t *testing.T) {
			all := firing(t, c, true, nil)
			off := firing(t, c, true, map[string]bool{c.oracle: true})
			want := maps.Clone(all)
			delete(want, c.oracle)
			if !maps.Equal(off, want) {
				t.Fatalf("with %s disabled: %v, want %v", c.oracle, off, want)
			}
			// Disabling an oracle that does not fire changes nothing.
			for _, o := range Catalogue {
				if _, fires := all[o.Name]; fires {
					continue
				}
				if got := firing(t, c, true, map[string]bool{o.Name: true}); !maps.Equal(got, all) {
					t.Fatalf("with %s disabled: %v, want %v", o.Name, got, all)
				}
				break
			}
		})
	}
}

// TestOraclesNeverDraw runs every check on every case's good and bad
// states with a chooser that panics when drawn from.
func TestOraclesNeverDraw(t *testing.T) {
	for _, c := range oracleCases() {
		for _, bad := range []bool{false, true} {
			f := c.build(t, bad)
			if _, ok := f.db.Ch.(panicChooser); !ok {
				t.Fatal("the fixture's database does not use the panicking chooser")
			}
			ck := NewChecker(f.w)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s (bad=%v): %v", c, bad, r)
					}
				}()
				ck.CheckEvents()
				ck.CheckState()
				ck.CheckQuiescence(f.drain)
				ck.CheckEmpty()
				ck.Full = true
				ck.AfterStep(f.w.Run, &sim.Entry{})
			}()
			if n := len(f.w.Run.Ch.Log); n != 0 {
				t.Errorf("%s: %d decisions recorded", c, n)
			}
		}
	}
}

// TestBaselineIsClean: the shared baseline passes every check but
// CheckEmpty, which must see what remains.
func TestBaselineIsClean(t *testing.T) {
	f := newFx(t, model.Config{})
	f.baseline()
	ck := NewChecker(f.w)
	for _, v := range []*sim.Violation{ck.CheckState(), ck.CheckEvents(), ck.CheckQuiescence(f.drain)} {
		if v != nil {
			t.Fatalf("baseline: %v", v)
		}
	}
	if v := ck.CheckEmpty(); v == nil || v.Oracle != EndNoResources {
		t.Fatalf("CheckEmpty on the baseline: %v", v)
	}
	// the bare topology is empty
	if v := NewChecker(newFx(t, model.Config{}).w).CheckEmpty(); v != nil {
		t.Fatalf("CheckEmpty on the bare topology: %v", v)
	}
}

// TestCheckEventsDrains: events and lock notes are judged once; the first
// violation is returned and every buffered event is drained.
func TestCheckEventsDrains(t *testing.T) {
	f := newFx(t, model.Config{})
	f.db.LockNotes = append(f.db.LockNotes, model.LockNote{Volume: 7, Repair: 8, VolumeExisted: false})
	f.w.Events = append(f.w.Events,
		model.Event{Kind: model.EvNotifyAttempt, Volume: 1, ReplaceResultDeleted: true},
		model.Event{Kind: model.EvStepInserted, Volume: 2, ScannedSoftDeleted: true})
	ck := NewChecker(f.w)
	if v := ck.CheckEvents(); v == nil || v.Oracle != EvLockMissing {
		t.Fatalf("first check: %v, want %s first", v, EvLockMissing)
	}
	if len(f.db.LockNotes) != 0 || len(f.w.Events) != 0 {
		t.Fatalf("not drained: %d notes, %d events", len(f.db.LockNotes), len(f.w.Events))
	}
	if v := ck.CheckEvents(); v != nil {
		t.Fatalf("second check: %v", v)
	}
}

// TestCatalogueKindsMatchChecks: each case's oracle fires from the check
// its catalogue kind says, so a case cannot test an oracle through the
// wrong entry point.
func TestCatalogueKindsMatchChecks(t *testing.T) {
	for _, c := range oracleCases() {
		if c.bug != "" {
			continue
		}
		o, _ := Lookup(c.oracle)
		others := map[Kind]func(ck *Checker, f *fx) *sim.Violation{
			State:      func(ck *Checker, f *fx) *sim.Violation { return ck.CheckState() },
			EventCheck: func(ck *Checker, f *fx) *sim.Violation { return ck.CheckEvents() },
			Quiescence: func(ck *Checker, f *fx) *sim.Violation {
				if v := ck.CheckQuiescence(f.drain); v != nil {
					return v
				}
				return ck.CheckEmpty()
			},
		}
		for k, run := range others {
			if k == o.Kind {
				continue
			}
			f := c.build(t, true)
			ck := NewChecker(f.w)
			ck.Disabled = map[string]bool{}
			for _, x := range Catalogue {
				ck.Disabled[x.Name] = x.Name != c.oracle
			}
			if v := run(ck, f); v != nil {
				t.Errorf("%s: %s fired from the %s checks: %v", c, c.oracle, k, v)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// the cases

func oracleCases() []oracleCase {
	var cs []oracleCase
	cs = append(cs, stateCases()...)
	cs = append(cs, eventCases()...)
	cs = append(cs, quiescenceCases()...)
	return cs
}

func stateCases() []oracleCase {
	return []oracleCase{
		// --- v1-target-resolves
		{oracle: V1TargetResolves, name: "rw-region-deleting", shape: "read-write", mk: func(f *fx, bad bool) {
			if bad {
				f.region(f.dvRegs[0]).Deleting = true
			}
		}},
		{oracle: V1TargetResolves, name: "rw-region-without-port", shape: "read-write", mk: func(f *fx, bad bool) {
			if bad {
				f.region(f.d2vRegs[1]).HasPort = false
			}
		}},
		{oracle: V1TargetResolves, name: "rw-target-is-read-only-region", shape: "read-write", mk: func(f *fx, bad bool) {
			if bad {
				f.region(f.d2vRegs[2]).ReadOnly = true
			}
		}},
		{oracle: V1TargetResolves, name: "ro-region-deleting", shape: "read-only",
			badAlso: []string{NoLiveUsageOnFreed, UsageMatchesVCR},
			mk: func(f *fx, bad bool) {
				if bad {
					f.region(f.n).Deleting = true
				}
			}},
		{oracle: V1TargetResolves, name: "ro-region-snapshot-removed", shape: "read-only",
			badAlso: []string{NoLiveUsageOnFreed, UsageMatchesVCR},
			mk: func(f *fx, bad bool) {
				if bad {
					f.removeRS(f.rs[1])
				}
			}},
		{oracle: V1TargetResolves, name: "soft-deleted-volume-not-checked", shape: "read-only", mk: func(f *fx, bad bool) {
			// SDV names an address nothing serves: fine while it is
			// soft-deleted.
			if bad {
				f.db.Volume(f.sdv).SoftDeleted = false
			}
		}},

		// --- v2-no-snapshot-of-read-only-region
		{oracle: V2NoSnapshotOfRO, name: "usage-row-names-read-only-region", mk: func(f *fx, bad bool) {
			// a usage row of the (soft-deleted, so otherwise unchecked)
			// SDV on a region snapshot; bad: of read-only region N
			k := model.RSKey{DatasetID: f.ds[0], RegionID: f.dvRegs[0], SnapshotID: f.id()}
			if bad {
				k = model.RSKey{DatasetID: f.ds[3], RegionID: f.n, SnapshotID: k.SnapshotID}
			}
			f.usage(f.sdv, rsRes(k))
		}},

		// --- usage-matches-vcr
		{oracle: UsageMatchesVCR, name: "missing-row", shape: "target-without-row", mk: func(f *fx, bad bool) {
			if bad {
				f.removeUsage(f.sv, rsRes(f.rs[0]))
			}
		}},
		{oracle: UsageMatchesVCR, name: "duplicate-row", shape: "extra-rows", mk: func(f *fx, bad bool) {
			if bad {
				f.usage(f.d2v, rsRes(f.rs[2]))
			}
		}},
		{oracle: UsageMatchesVCR, name: "row-on-live-resource-not-in-vcr", shape: "row-without-target", mk: func(f *fx, bad bool) {
			if bad {
				f.usage(f.d2v, roRes(f.n))
			}
		}},
		{oracle: UsageMatchesVCR, name: "two-occurrences-one-row", shape: "missing-rows", mk: func(f *fx, bad bool) {
			// Z names N in a sub-volume and in its read-only parent: two
			// occurrences, two rows (the table is a multiset).
			z := f.id()
			f.vol(z, volVCR(z, f.regionNode(true, f.nAddr), f.regionNode(true, f.nAddr)))
			f.usage(z, roRes(f.n))
			if !bad {
				f.usage(z, roRes(f.n))
			}
		}},

		// --- no-live-usage-on-freed-resource
		{oracle: NoLiveUsageOnFreed, name: "region-snapshot-deleting", shape: "region-snapshot",
			badAlso: []string{V1TargetResolves, UsageMatchesVCR},
			mk: func(f *fx, bad bool) {
				if bad {
					f.db.RegionSnapshot(f.rs[0]).Deleting = true
				}
			}},
		{oracle: NoLiveUsageOnFreed, name: "read-only-region-gone", shape: "read-only-region",
			badAlso: []string{V1TargetResolves, UsageMatchesVCR},
			mk: func(f *fx, bad bool) {
				if bad {
					f.removeRegion(f.n)
				}
			}},
		{oracle: NoLiveUsageOnFreed, name: "soft-deleted-volume-not-checked", shape: "region-snapshot",
			badAlso: []string{UsageMatchesVCR},
			mk: func(f *fx, bad bool) {
				// U names nothing but has a row on a deleting region
				// snapshot: fine while U is soft-deleted.
				k, _ := f.addRS(f.dvRegs[1], f.id())
				f.db.RegionSnapshot(k).Deleting = true
				u := f.id()
				f.vol(u, volVCR(u, nil)).SoftDeleted = !bad
				f.usage(u, rsRes(k))
			}},

		// --- no-free-while-referenced
		{oracle: NoFreeWhileReferenced, name: "rw-region-destroyed", shape: "read-write-region", mk: func(f *fx, bad bool) {
			if bad {
				f.agentRegion(f.ds[1], f.dvRegs[1]).State = model.AgentDestroyed
			}
		}},
		{oracle: NoFreeWhileReferenced, name: "rw-region-missing-on-agent", shape: "read-write-region", mk: func(f *fx, bad bool) {
			if bad {
				f.agentRegion(f.ds[0], f.d2vRegs[0]).Region = f.id()
			}
		}},
		{oracle: NoFreeWhileReferenced, name: "running-snapshot-destroyed", shape: "region-snapshot", mk: func(f *fx, bad bool) {
			if bad {
				f.agentRunning(f.rs[2]).Destroyed = true
			}
		}},
		{oracle: NoFreeWhileReferenced, name: "ro-region-destroyed", shape: "read-only-region", mk: func(f *fx, bad bool) {
			if bad {
				f.agentRegion(f.ds[3], f.n).State = model.AgentDestroyed
			}
		}},
		{oracle: NoFreeWhileReferenced, name: "expunged-disk-exempt", shape: "read-only-region", mk: func(f *fx, bad bool) {
			// N's agent region is destroyed, which is fine while its disk
			// is expunged (Nexus never talks to that agent again).
			f.agentRegion(f.ds[3], f.n).State = model.AgentDestroyed
			if !bad {
				f.expunge(f.ds[3])
			}
		}},

		// --- no-orphaned-rw-region
		{oracle: NoOrphanRWRegion, name: "claim-of-finished-saga", mk: func(f *fx, bad bool) {
			// R names a volume with no row, but a running disk-create saga
			// allocated it; bad: that saga is done.
			r, _ := f.addRegion(f.ds[1], f.id(), false)
			st := model.SagaRunning
			if bad {
				st = model.SagaDone
			}
			f.saga("disk-create", st, r)
		}},
		{oracle: NoOrphanRWRegion, name: "unclaimed", mk: func(f *fx, bad bool) {
			// a read-only region whose owner has no row is not an orphan
			// (usage rows own it); a saga that claims nothing does not
			// change that; bad: the region is read/write
			r, _ := f.addRegion(f.ds[2], f.id(), true)
			f.saga("disk-create", model.SagaUnwinding)
			if bad {
				f.region(r).ReadOnly = false
			}
		}},
		{oracle: NoOrphanRWRegion, name: "claim-of-failed-saga", mk: func(f *fx, bad bool) {
			r, _ := f.addRegion(f.ds[0], f.id(), false)
			st := model.SagaUnwinding
			if bad {
				st = model.SagaFailed
			}
			f.saga("snapshot-create", st, r)
		}},

		// --- region-set-redundancy
		{oracle: RegionSetRedundancy, name: "same-target-twice", shape: "same-target", mk: func(f *fx, bad bool) {
			if bad {
				f.db.Volume(f.dv).Data = volVCR(f.dv, nil, f.regionNode(false, f.dvAddrs[0], f.dvAddrs[1], f.dvAddrs[0]))
			}
		}},
		{oracle: RegionSetRedundancy, name: "same-zpool", shape: "same-zpool", mk: func(f *fx, bad bool) {
			w := f.id()
			second := f.ds[1]
			if bad {
				second = f.dsSamePool
			}
			_, as := f.addRegions(w, false, f.ds[0], second, f.ds[2])
			f.vol(w, volVCR(w, nil, f.regionNode(false, as...)))
		}},
		{oracle: RegionSetRedundancy, name: "same-sled", shape: "same-sled", mk: func(f *fx, bad bool) {
			w := f.id()
			third := f.ds[3]
			if bad {
				third = f.dsSameSled
			}
			_, as := f.addRegions(w, false, f.ds[1], f.ds[0], third)
			f.vol(w, volVCR(w, nil, f.regionNode(false, as...)))
		}},
		{oracle: RegionSetRedundancy, name: "same-sled-in-read-only-parent", shape: "same-sled", mk: func(f *fx, bad bool) {
			// W's read-only parent names two read-only regions
			w := f.id()
			second := f.ds[3]
			if bad {
				second = f.dsSameSled
			}
			ids, as := f.addRegions(w, true, f.ds[0], second)
			f.vol(w, volVCR(w, f.regionNode(true, as...)))
			for _, id := range ids {
				f.usage(w, roRes(id))
			}
		}},

		// --- region-snapshot-on-region-dataset
		{oracle: RSOnRegionDataset, name: "key-dataset-differs", mk: func(f *fx, bad bool) {
			// an unreferenced region snapshot of DV's first region (ds[0])
			ds := f.ds[0]
			if bad {
				ds = f.ds[1]
			}
			f.db.RegionSnapshots = append(f.db.RegionSnapshots, model.RegionSnapshot{
				Key:  model.RSKey{DatasetID: ds, RegionID: f.dvRegs[0], SnapshotID: f.id()},
				Addr: f.addr(ds, f.nextPort()),
			})
		}},

		// --- request-state-consistent
		{oracle: RequestStateConsist, name: "requested-with-saga", shape: "op-Requested", mk: func(f *fx, bad bool) {
			f.request(f.rs[0], model.RSRRequested, false, bad)
		}},
		{oracle: RequestStateConsist, name: "allocating-without-saga", shape: "op-Allocating", mk: func(f *fx, bad bool) {
			f.request(f.rs[0], model.RSRAllocating, false, !bad)
		}},
		{oracle: RequestStateConsist, name: "running-with-saga", shape: "op-Running", mk: func(f *fx, bad bool) {
			f.request(f.rs[1], model.RSRRunning, true, bad)
		}},
		{oracle: RequestStateConsist, name: "completing-without-saga", shape: "op-Completing", mk: func(f *fx, bad bool) {
			f.request(f.rs[1], model.RSRCompleting, true, !bad)
		}},
		{oracle: RequestStateConsist, name: "complete-with-saga", shape: "op-Complete", mk: func(f *fx, bad bool) {
			f.request(f.rs[2], model.RSRComplete, true, bad)
		}},
		{oracle: RequestStateConsist, name: "requested-with-ids", shape: "ids-Requested", mk: func(f *fx, bad bool) {
			q := f.request(f.rs[0], model.RSRRequested, false, false)
			if bad {
				q.NewRegionID = f.n
			}
		}},
		{oracle: RequestStateConsist, name: "replacement-done-without-nrv", shape: "ids-ReplacementDone", mk: func(f *fx, bad bool) {
			q := f.request(f.rs[0], model.RSRReplacementDone, true, false)
			if bad {
				q.NewRegionVolumeID = 0
			}
		}},
		{oracle: RequestStateConsist, name: "deleting-old-volume-without-old-snapshot-volume", shape: "ids-DeletingOldVolume", mk: func(f *fx, bad bool) {
			q := f.request(f.rs[0], model.RSRDeletingOldVolume, true, true)
			if bad {
				q.OldSnapshotVolumeID = 0
			}
		}},
		{oracle: RequestStateConsist, name: "pre-fix-no-nrv-but-nrv-set", shape: "ids-ReplacementDone",
			cfg: model.Config{Switches: model.Switches{NoNewRegionVolume: true}},
			mk: func(f *fx, bad bool) {
				// switch #1: there is no new region volume
				q := f.request(f.rs[0], model.RSRReplacementDone, true, false)
				if !bad {
					q.NewRegionVolumeID = 0
				}
			}},

		// --- step-state-consistent
		{oracle: StepStateConsist, name: "running-without-saga", shape: "op-Running", mk: func(f *fx, bad bool) {
			f.step(f.id(), f.d2v, model.StepRunning, false, !bad)
		}},
		{oracle: StepStateConsist, name: "requested-with-saga", shape: "op-Requested", mk: func(f *fx, bad bool) {
			f.step(f.id(), f.d2v, model.StepRequested, false, bad)
		}},
		{oracle: StepStateConsist, name: "volume-deleted-with-saga", shape: "op-VolumeDeleted", mk: func(f *fx, bad bool) {
			f.step(f.id(), f.d2v, model.StepVolumeDeleted, true, bad)
		}},
		{oracle: StepStateConsist, name: "complete-without-stash", shape: "no-stash", mk: func(f *fx, bad bool) {
			f.step(f.id(), f.d2v, model.StepComplete, !bad, false)
		}},

		// --- inv-newregion
		{oracle: NewRegionAlive, name: "replacement-done-new-region-deleting", shape: "ReplacementDone-deleting", mk: func(f *fx, bad bool) {
			q := f.request(f.rs[0], model.RSRReplacementDone, true, false)
			if bad {
				f.region(q.NewRegionID).Deleting = true
			}
		}},
		{oracle: NewRegionAlive, name: "deleting-old-volume-new-region-gone", shape: "DeletingOldVolume-gone", mk: func(f *fx, bad bool) {
			q := f.request(f.rs[1], model.RSRDeletingOldVolume, true, true)
			if bad {
				f.removeRegion(q.NewRegionID)
			}
		}},
		{oracle: NewRegionAlive, name: "running-new-region-gone-while-region-snapshot-exists", shape: "Running-gone", mk: func(f *fx, bad bool) {
			// A finish saga deleted N and unwound: the request is Running
			// with N gone, harmless once the region snapshot row is gone
			// too; bad: the row is still there.
			k, _ := f.addRS(f.dvRegs[1], f.id())
			q := f.request(k, model.RSRRunning, true, false)
			f.removeRegion(q.NewRegionID)
			if !bad {
				f.removeRS(k)
			}
		}},

		// --- one-lock-per-volume
		{oracle: OneLockPerVolume, name: "two-locks", mk: func(f *fx, bad bool) {
			q1 := f.request(f.rs[0], model.RSRRequested, false, false).ID
			q2 := f.request(f.rs[1], model.RSRRequested, false, false).ID
			f.lock(f.sv, q1)
			if bad {
				f.lock(f.sv, q2)
			} else {
				f.lock(f.d2v, q2)
			}
		}},

		// --- lock-owner-live
		{oracle: LockOwnerLive, name: "request-complete", shape: "request-Complete", mk: func(f *fx, bad bool) {
			st := model.RSRRequested
			if bad {
				st = model.RSRComplete
			}
			f.lock(f.sv, f.request(f.rs[0], st, false, false).ID)
		}},
		{oracle: LockOwnerLive, name: "step-complete", shape: "step-Complete", mk: func(f *fx, bad bool) {
			st := model.StepRequested
			if bad {
				st = model.StepComplete
			}
			f.lock(f.d2v, f.step(f.id(), f.d2v, st, true, false).ID)
		}},
		{oracle: LockOwnerLive, name: "step-volume-deleted", shape: "step-VolumeDeleted", mk: func(f *fx, bad bool) {
			s := f.step(f.id(), f.d2v, model.StepRunning, true, true)
			if bad {
				s.State, s.OperatingSagaID = model.StepVolumeDeleted, 0
			}
			f.lock(f.d2v, s.ID)
		}},
		{oracle: LockOwnerLive, name: "region-replacement-complete", shape: "region-replacement-Complete", mk: func(f *fx, bad bool) {
			st := model.RRDriving
			if bad {
				st = model.RRComplete
			}
			f.lock(f.dv, f.rr(f.dvRegs[0], f.dv, st).ID)
		}},
		{oracle: LockOwnerLive, name: "snapshot-create-done", shape: "saga-done-disk-live", mk: func(f *fx, bad bool) {
			st := model.SagaRunning
			if bad {
				st = model.SagaDone
			}
			f.lock(f.dv, f.snapshotCreateSaga(f.disk, st).LockID())
		}},
		{oracle: LockOwnerLive, name: "snapshot-create-stuck-disk-deleted", shape: "saga-stuck-disk-deleted", mk: func(f *fx, bad bool) {
			f.db.Disk(f.disk2).Deleted = true
			st := model.SagaUnwinding
			if bad {
				st = model.SagaStuck
			}
			f.lock(f.d2v, f.snapshotCreateSaga(f.disk2, st).LockID())
		}},
		{oracle: LockOwnerLive, name: "no-owner", shape: "no-live-owner", mk: func(f *fx, bad bool) {
			// the lock's repair id names a request; bad: nothing
			q := f.request(f.rs[0], model.RSRRequested, false, false).ID
			if bad {
				f.db.Requests = f.db.Requests[:0]
			}
			f.lock(f.sv, q)
		}},
	}
}

func eventCases() []oracleCase {
	// hardDeleted: volume H was hard-deleted by a volume-delete saga (the
	// event) and its read/write regions were deleted first; a read-only
	// region it created remains (usage rows own it). keep leaves the
	// regions whose index is listed.
	hardDeleted := func(f *fx, keep ...int) (model.UUID, []model.UUID) {
		h := f.id()
		ids, as := f.addRegions(h, false, f.ds[0], f.ds[1], f.ds[2])
		f.addRegion(f.ds[3], h, true)
		vcr := volVCR(h, nil, f.regionNode(false, as...))
		for i, id := range ids {
			if !slices.Contains(keep, i) {
				f.removeRegion(id)
			}
		}
		f.w.Events = append(f.w.Events, model.Event{Kind: model.EvVolumeHardDeleted, Volume: h, VCR: vcr})
		return h, ids
	}
	return []oracleCase{
		// --- ev-harddel
		{oracle: EvHardDel, name: "own-region-left", shape: "region-in-vcr", mk: func(f *fx, bad bool) {
			if bad {
				hardDeleted(f, 1)
			} else {
				hardDeleted(f)
			}
		}},
		{oracle: EvHardDel, name: "unnamed-region-left", shape: "region-not-in-vcr", mk: func(f *fx, bad bool) {
			// a replacement allocated R for H and has not finished
			h, _ := hardDeleted(f)
			r, _ := f.addRegion(f.ds[3], h, false)
			st := model.SagaRunning
			if bad {
				st = model.SagaFailed
			}
			f.saga("region-replacement-start", st, r)
		}},

		// --- ev-lock-missing
		{oracle: EvLockMissing, name: "lock-without-volume-row", mk: func(f *fx, bad bool) {
			f.db.LockNotes = append(f.db.LockNotes, model.LockNote{Volume: f.dv, Repair: f.id(), VolumeExisted: !bad})
		}},

		// --- ev-step-softdel
		{oracle: EvStepSoftDel, name: "scan-read-soft-deleted", mk: func(f *fx, bad bool) {
			f.w.Events = append(f.w.Events, model.Event{Kind: model.EvStepInserted, Volume: f.d2v, Step: f.id(), Request: f.id(),
				ScannedSoftDeleted: bad, ScannedReferences: true})
		}},

		// --- ev-step-noref
		{oracle: EvStepNoRef, name: "scan-vcr-does-not-name-address", mk: func(f *fx, bad bool) {
			f.w.Events = append(f.w.Events, model.Event{Kind: model.EvStepInserted, Volume: f.d2v, Step: f.id(), Request: f.id(),
				ScannedReferences: !bad})
		}},

		// --- ev-notify-deleted
		{oracle: EvNotifyDeleted, name: "notify-after-deleted-result", mk: func(f *fx, bad bool) {
			f.w.Events = append(f.w.Events, model.Event{Kind: model.EvNotifyAttempt, Volume: f.d2v, Step: f.id(),
				ReplaceResultDeleted: bad})
		}},
	}
}

func quiescenceCases() []oracleCase {
	return []oracleCase{
		// --- live-drain-converges
		{oracle: LiveDrainConverges, name: "not-converged", mk: func(f *fx, bad bool) {
			f.drain.Converged = !bad
			f.drain.Passes = 50
		}},

		// --- live-request
		{oracle: LiveRequest, name: "request-running", shape: "Running", mk: func(f *fx, bad bool) {
			// the request replaced a region snapshot that is gone now
			k, _ := f.addRS(f.dvRegs[0], f.id())
			f.removeRS(k)
			st := model.RSRComplete
			if bad {
				st = model.RSRRunning
			}
			f.request(k, st, false, false)
		}},

		// --- live-step
		{oracle: LiveStep, name: "step-complete", shape: "Complete-volume-live", mk: func(f *fx, bad bool) {
			st := model.StepVolumeDeleted
			if bad {
				st = model.StepComplete
			}
			f.step(f.id(), f.d2v, st, true, false)
		}},
		{oracle: LiveStep, name: "step-requested-for-deleted-volume", shape: "Requested-volume-deleted", mk: func(f *fx, bad bool) {
			st := model.StepVolumeDeleted
			if bad {
				st = model.StepRequested
			}
			f.step(f.id(), f.sdv, st, false, false)
		}},

		// --- live-region-replacement
		{oracle: LiveRR, name: "driving", shape: "Driving", mk: func(f *fx, bad bool) {
			st := model.RRComplete
			if bad {
				st = model.RRDriving
			}
			f.rr(f.dvRegs[0], f.dv, st)
		}},

		// --- end-no-locks
		{oracle: EndNoLocks, name: "saga-lock-left", shape: "saga-lock", mk: func(f *fx, bad bool) {
			if bad {
				f.lock(f.sv, f.id())
			}
		}},
		{oracle: EndNoLocks, name: "request-lock-left", shape: "request-Requested",
			goodAlso: []string{LiveRequest}, badAlso: []string{LiveRequest},
			mk: func(f *fx, bad bool) {
				q := f.request(f.rs[0], model.RSRRequested, false, false).ID
				if bad {
					f.lock(f.sv, q)
				}
			}},

		// --- end-no-stuck-saga
		{oracle: EndNoStuckSaga, name: "undo-failed", shape: "region-snapshot-replacement-step/set_saga_id", mk: func(f *fx, bad bool) {
			s := f.saga("region-snapshot-replacement-step", model.SagaFailed)
			if bad {
				s.State, s.StuckNode, s.UndoErr = model.SagaStuck, "set_saga_id", errors.New("undo failed")
			}
		}},
		{oracle: EndNoStuckSaga, name: "undo-failed-on-rerun", shape: "region-snapshot-replacement-start/set_saga_id/rerun", mk: func(f *fx, bad bool) {
			s := f.saga("region-snapshot-replacement-start", model.SagaFailed)
			if bad {
				s.State, s.StuckNode, s.UndoErr, s.StuckRerun = model.SagaStuck, "set_saga_id", errors.New("undo failed"), true
			}
		}},

		// --- end-task-errors
		{oracle: EndTaskErrors, name: "step-task-error", shape: model.TaskRSRStep.String(), mk: func(f *fx, bad bool) {
			f.drain.Statuses = []*model.TaskStatus{{Task: model.TaskRSRStart}, {Task: model.TaskRSRStep}, {Task: model.TaskRR, Nexus: 1}}
			if bad {
				f.drain.Statuses[1].Errors = []string{"step saga start failed"}
			}
		}},

		// --- end-no-expunged-dependency
		{oracle: EndExpungedHealthy, name: "disk-region-on-expunged-disk", shape: "read-write", mk: func(f *fx, bad bool) {
			// ds[3] only holds N, used by NRV, which is no user volume
			f.expunge(f.ds[3])
			if bad {
				f.expunge(f.ds[0])
			}
		}},
		{oracle: EndExpungedHealthy, name: "nothing-healthy-to-copy-from", shape: "read-write", mk: func(f *fx, bad bool) {
			f.expunge(f.ds[0])
			f.expunge(f.ds[1])
			if !bad {
				f.expunge(f.ds[2])
			}
		}},
		{oracle: EndExpungedHealthy, name: "snapshot-on-expunged-disk", shape: "read-only", mk: func(f *fx, bad bool) {
			f.db.Disk(f.disk).Deleted = true
			f.db.Disk(f.disk2).Deleted = true
			if bad {
				f.expunge(f.ds[1])
			}
		}},

		// --- end-relock-ok
		{oracle: EndRelockOK, name: "live-disk-locked", shape: "locked", goodAlso: []string{EndNoLocks}, badAlso: []string{EndNoLocks}, mk: func(f *fx, bad bool) {
			f.lock(f.d2v, f.id())
			f.db.Disk(f.disk2).Deleted = !bad
		}},
		{oracle: EndRelockOK, name: "live-disk-without-volume-row", shape: "volume-missing",
			mk: func(f *fx, bad bool) {
				v := f.id()
				if !bad {
					f.vol(v, volVCR(v, nil))
				}
				f.db.Disks = append(f.db.Disks, model.Disk{ID: f.id(), VolumeID: v, State: model.DiskDetached, Gen: 1})
			}},

		// --- end-disk-usable
		{oracle: EndDiskUsable, name: "disk-left-in-maintenance", shape: "maintenance", mk: func(f *fx, bad bool) {
			if bad {
				f.db.Disk(f.disk2).State = model.DiskMaintenance
			}
		}},

		// --- end-ro-refcount
		{oracle: EndRORefcount, name: "read-only-region-without-usage", mk: func(f *fx, bad bool) {
			// a deleting read-only region with a usage row of a
			// soft-deleted volume still has its reference
			r, _ := f.addRegion(f.ds[2], f.id(), true)
			f.region(r).Deleting = true
			f.usage(f.sdv, roRes(r))
			if bad {
				f.removeUsage(f.sdv, roRes(r))
			}
		}},
		{oracle: EndRORefcount, name: "n-loses-its-row", mk: func(f *fx, bad bool) {
			if bad {
				f.removeUsage(f.nrv, roRes(f.n))
			}
		}},

		// --- end-orphan-rw
		{oracle: EndOrphanRW, name: "rw-region-without-volume", mk: func(f *fx, bad bool) {
			// a read-only region whose owner row is gone is fine (its
			// usage rows own it)
			r, _ := f.addRegion(f.ds[1], f.id(), true)
			f.usage(f.nrv, roRes(r))
			if bad {
				f.region(r).ReadOnly = false
			}
		}},

		// --- end-complete-unreferenced
		{oracle: EndCompleteNoRef, name: "region-snapshot-left", shape: "region-snapshot-present", mk: func(f *fx, bad bool) {
			k, _ := f.addRS(f.dvRegs[2], f.id())
			f.request(k, model.RSRComplete, false, false)
			if !bad {
				f.removeRS(k)
			}
		}},
		{oracle: EndCompleteNoRef, name: "address-still-named", shape: "volume-names-address-live",
			mk: func(f *fx, bad bool) {
				k, a := f.addRS(f.dvRegs[2], f.id())
				f.request(k, model.RSRComplete, false, false)
				f.removeRS(k)
				if bad {
					z := f.id()
					f.vol(z, volVCR(z, f.regionNode(true, a)))
				}
			}},

		// --- end-no-resources (CheckEmpty, from the bare topology)
		{oracle: EndNoResources, name: "rw-region", shape: "read-write-region", bare: true, mk: func(f *fx, bad bool) {
			// what remains on an expunged dataset does not count
			f.expunge(f.ds[3])
			f.addRegion(f.ds[3], f.id(), false)
			if bad {
				f.addRegion(f.ds[2], f.id(), false)
			}
		}},
		{oracle: EndNoResources, name: "ro-region", shape: "read-only-region", bare: true, mk: func(f *fx, bad bool) {
			if bad {
				f.addRegion(f.ds[2], f.id(), true)
			}
		}},
		{oracle: EndNoResources, name: "region-snapshot", shape: "region-snapshot", bare: true, mk: func(f *fx, bad bool) {
			// a region snapshot row (with no agent objects) whose region
			// row is gone
			f.expunge(f.ds[3])
			f.db.RegionSnapshots = append(f.db.RegionSnapshots, model.RegionSnapshot{
				Key: model.RSKey{DatasetID: f.ds[3], RegionID: f.id(), SnapshotID: f.id()}, Addr: f.addr(f.ds[3], 5)})
			if bad {
				f.db.RegionSnapshots = append(f.db.RegionSnapshots, model.RegionSnapshot{
					Key: model.RSKey{DatasetID: f.ds[0], RegionID: f.id(), SnapshotID: f.id()}, Addr: f.addr(f.ds[0], 5)})
			}
		}},
		{oracle: EndNoResources, name: "usage-row", shape: "usage-row", bare: true, mk: func(f *fx, bad bool) {
			v := f.id()
			f.vol(v, volVCR(v, nil)).SoftDeleted = true
			if bad {
				f.usage(v, roRes(f.id()))
			}
		}},
		{oracle: EndNoResources, name: "usage-row-of-missing-volume", shape: "usage-row-of-missing-volume", bare: true, mk: func(f *fx, bad bool) {
			if bad {
				f.usage(f.id(), rsRes(model.RSKey{DatasetID: f.ds[0], RegionID: f.id(), SnapshotID: f.id()}))
			}
		}},
		{oracle: EndNoResources, name: "agent-region", shape: "agent-object", bare: true, mk: func(f *fx, bad bool) {
			// destroyed agent objects are history, not leftovers
			st := model.AgentDestroyed
			if bad {
				st = model.AgentFailed
			}
			f.db.Agent.Regions = append(f.db.Agent.Regions, model.AgentRegion{Dataset: f.ds[1], Region: f.id(), State: st})
		}},
		{oracle: EndNoResources, name: "agent-running-snapshot", shape: "agent-object", bare: true, mk: func(f *fx, bad bool) {
			f.db.Agent.Running = append(f.db.Agent.Running, model.AgentRunning{Dataset: f.ds[1], Region: f.id(), Snapshot: f.id(), Port: 7, Destroyed: !bad})
		}},
		{oracle: EndNoResources, name: "agent-zfs-snapshot", shape: "agent-object", bare: true, mk: func(f *fx, bad bool) {
			ds := f.ds[2]
			f.expunge(ds)
			if bad {
				ds = f.ds[1]
			}
			f.db.Agent.Snapshots = append(f.db.Agent.Snapshots, model.AgentSnapshot{Dataset: ds, Region: f.id(), Snapshot: f.id()})
		}},
	}
}

// TestIncrementalStateChecks proves the storage checks' skip: a checker
// that passed the good state, then sees it again, skips the storage part;
// handed the bad state (each case's one targeted change, whichever table it
// is in) it must still report the oracle. A table missing from
// storageInputs would make some state case pass here.
func TestIncrementalStateChecks(t *testing.T) {
	n := 0
	for _, c := range oracleCases() {
		o, _ := Lookup(c.oracle)
		if o.Kind != State || c.bug != "" || len(c.goodAlso) > 0 {
			continue
		}
		n++
		t.Run(c.String(), func(t *testing.T) {
			good, bad := c.build(t, false), c.build(t, true)
			// Make bad an in-place change of good, as the model makes
			// them: a VCR tree that did not change keeps its pointer.
			for i := range bad.db.Volumes {
				bv := &bad.db.Volumes[i]
				if gv := good.db.Volume(bv.ID); gv != nil && slices.Equal(flattenVCR(nil, gv.Data), flattenVCR(nil, bv.Data)) {
					bv.Data = gv.Data
				}
			}
			ck := NewChecker(good.w)
			ck.Disabled = map[string]bool{}
			for _, x := range Catalogue {
				ck.Disabled[x.Name] = x.Name != c.oracle
			}
			for range 2 {
				if v := ck.CheckState(); v != nil {
					t.Fatalf("good state: %s", v.Signature)
				}
			}
			if ck.StorageSkips != 1 {
				t.Fatalf("the unchanged good state was not skipped (%d skips)", ck.StorageSkips)
			}
			ck.W = bad.w
			v := ck.CheckState()
			if v == nil || v.Signature != c.wantSig() {
				t.Fatalf("bad state after a passing check: got %v, want %s", v, c.wantSig())
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d state cases", n)
	}
}

// TestIncrementalPlacementChanges covers the two storage inputs no oracle
// case changes on its own: moving a dataset to another zpool, and a zpool
// to another sled, in place after a passing check.
func TestIncrementalPlacementChanges(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		move       func(f *fx)
	}{
		{"dataset-to-another-zpool", RegionSetRedundancy + ":same-zpool", func(f *fx) {
			f.db.Dataset(f.ds[1]).PoolID = f.db.Dataset(f.ds[0]).PoolID
		}},
		{"zpool-to-another-sled", RegionSetRedundancy + ":same-sled", func(f *fx) {
			f.db.Zpool(f.db.Dataset(f.ds[1]).PoolID).SledID = f.sleds[0]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t, model.Config{})
			f.baseline()
			w := f.id()
			_, as := f.addRegions(w, false, f.ds[0], f.ds[1], f.ds[2])
			f.vol(w, volVCR(w, nil, f.regionNode(false, as...)))
			ck := NewChecker(f.w)
			for range 2 {
				if v := ck.CheckState(); v != nil {
					t.Fatalf("good state: %s", v.Signature)
				}
			}
			if ck.StorageSkips != 1 {
				t.Fatalf("the unchanged good state was not skipped (%d skips)", ck.StorageSkips)
			}
			tc.move(f)
			if v := ck.CheckState(); v == nil || v.Signature != tc.want {
				t.Fatalf("after the move: got %v, want %s", v, tc.want)
			}
		})
	}
}

// TestFullModeCatchesVCRChangedInPlace: the incremental checks compare
// VCRs by pointer; Full mode must catch a model that edits a stored tree.
func TestFullModeCatchesVCRChangedInPlace(t *testing.T) {
	f := newFx(t, model.Config{})
	f.baseline()
	ck := NewChecker(f.w)
	ck.Full = true
	if v := ck.CheckState(); v != nil {
		t.Fatalf("baseline: %s", v.Signature)
	}
	vol := f.db.Volume(f.dv)
	sub := vol.Data.SubVolumes[0]
	sub.Targets[0], sub.Targets[1] = sub.Targets[1], sub.Targets[0]
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "changed in place") {
			t.Fatalf("got %v, want the changed-in-place panic", p)
		}
	}()
	ck.CheckState()
}

// TestCompleteUnreferencedIgnoresReusedPorts: with port reuse a new region
// (or running snapshot) can take the replaced region snapshot's address; a
// volume that uses the new resource does not name the old snapshot.
func TestCompleteUnreferencedIgnoresReusedPorts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		readOnly bool
	}{{"new-read-write-region", false}, {"new-read-only-region", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFx(t, model.Config{})
			f.baseline()
			k, a := f.addRS(f.dvRegs[2], f.id())
			f.request(k, model.RSRComplete, false, false)
			f.removeRS(k)
			// a new region on the same dataset gets the freed port
			z := f.id()
			id := f.id()
			f.db.Regions = append(f.db.Regions, model.Region{ID: id, DatasetID: k.DatasetID, VolumeID: z, Port: a.Port, HasPort: true, ReadOnly: tc.readOnly})
			f.vol(z, volVCR(z, nil, f.regionNode(tc.readOnly, a)))
			if tc.readOnly {
				f.usage(z, roRes(id))
			}
			ck := NewChecker(f.w)
			ck.Disabled = map[string]bool{}
			for _, x := range Catalogue {
				ck.Disabled[x.Name] = x.Name != EndCompleteNoRef
			}
			if v := ck.CheckQuiescence(f.drain); v != nil {
				t.Fatalf("a volume using the new resource at the reused address was reported: %s", v.Detail)
			}
		})
	}
}

// describeV is a violation's signature and detail, or "none".
func describeV(v *sim.Violation) string {
	if v == nil {
		return "none"
	}
	return v.Signature + " (" + v.Detail + ")"
}

// TestIncrementalOracleToggled: scenarios turn oracles on and off between
// checks. What passed with an oracle off says nothing of that oracle, so a
// checker that passed a broken state with the oracle off must report it
// once the oracle is on again: after no change at all (the skip), and
// after an unrelated agent change (the delta path), for a per-volume
// oracle and a table-wide one.
func TestIncrementalOracleToggled(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		off        []string
		breakIt    func(f *fx)
	}{
		{"v1-target-resolves", V1TargetResolves + ":read-write", []string{V1TargetResolves},
			func(f *fx) { f.db.Regions = f.db.Regions[1:] }},
		{"no-live-usage-on-freed-resource", NoLiveUsageOnFreed + ":read-only-region", []string{NoLiveUsageOnFreed, V1TargetResolves, UsageMatchesVCR},
			func(f *fx) { f.region(f.n).Deleting = true }},
	} {
		for _, change := range []string{"nothing", "an agent record"} {
			t.Run(tc.name+"/"+change, func(t *testing.T) {
				f := newFx(t, model.Config{})
				f.baseline()
				tc.breakIt(f)
				dis := map[string]bool{}
				for _, o := range tc.off {
					dis[o] = true
				}
				ck := NewChecker(f.w)
				ck.Disabled = dis
				if v := ck.CheckState(); v != nil {
					t.Fatalf("with %v off: %s", tc.off, v.Signature)
				}
				delete(dis, tc.off[0])
				if change != "nothing" {
					f.db.Agent.Regions = append(f.db.Agent.Regions, model.AgentRegion{Dataset: f.ds[3], Region: f.id(), State: model.AgentCreated})
				}
				full := NewChecker(f.w)
				full.Full, full.Disabled = true, dis
				got, want := ck.CheckState(), full.CheckState()
				if want == nil || want.Signature != tc.want {
					t.Fatalf("full checks: %s, want %s", describeV(want), tc.want)
				}
				if describeV(got) != describeV(want) {
					t.Fatalf("incremental checks: %s, full checks: %s", describeV(got), describeV(want))
				}
			})
		}
	}
}

// TestIncrementalAfterFailedCheck: a check that rebuilds the placement
// index for a new placement and then fails leaves the index built from
// tables the last pass never saw. When the placement goes back and
// something else changes, the index must be rebuilt, not reused.
func TestIncrementalAfterFailedCheck(t *testing.T) {
	f := newFx(t, model.Config{})
	f.baseline()
	ck := NewChecker(f.w)
	if v := ck.CheckState(); v != nil {
		t.Fatalf("baseline: %s", v.Signature)
	}
	ds1 := f.db.Dataset(f.ds[1])
	home := ds1.PoolID
	ds1.PoolID = f.db.Dataset(f.ds[0]).PoolID
	if v := ck.CheckState(); v == nil || v.Signature != RegionSetRedundancy+":same-zpool" {
		t.Fatalf("dataset moved onto another's zpool: %s", describeV(v))
	}
	ds1.PoolID = home
	f.db.Regions[0].VolumeID = f.d2v // any change that is no violation
	full := NewChecker(f.w)
	full.Full = true
	got, want := ck.CheckState(), full.CheckState()
	if describeV(got) != describeV(want) {
		t.Fatalf("after moving the dataset back: incremental checks %s, full checks %s", describeV(got), describeV(want))
	}
}
