package fuzz

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/model"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/sim"
)

// checkerCapture runs the rsr target and keeps the run's checker.
type checkerCapture struct {
	*rsrTarget
	ck *invariants.Checker
}

func (c *checkerCapture) Execute(r *sim.Run) { _, c.ck = c.execute(r) }

// TestReadOnlyShortcutMissesNothing proves the checker's shortcut (no state
// checks after read-only steps in which no saga ended): with full checks
// after every step, every run reports the same violation at the same step.
func TestReadOnlyShortcutMissesNothing(t *testing.T) {
	runs := 150
	if testing.Short() {
		runs = 40
	}
	for _, profile := range RSRProfileNames() {
		cfg, err := RSRProfileConfig(profile)
		if err != nil {
			t.Fatal(err)
		}
		fastT, err := NewRSRTarget(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.FullChecks = true
		fullT, err := NewRSRTarget(cfg)
		if err != nil {
			t.Fatal(err)
		}
		fast := &checkerCapture{rsrTarget: fastT.(*rsrTarget)}
		full := &checkerCapture{rsrTarget: fullT.(*rsrTarget)}
		eng := DefaultEngine()
		var nFast, nFull, nSkip int
		for seed := uint64(0); seed < uint64(runs); seed++ {
			a, err := ExecuteSeed(fast, eng, seed, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			nFast += fast.ck.StateChecks
			nSkip += fast.ck.StorageSkips
			b, err := ExecuteSeed(full, eng, seed, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			nFull += full.ck.StateChecks
			sa, sb := "none", "none"
			var ta, tb uint32
			if a.Violation != nil {
				sa, ta = a.Violation.Signature, a.Violation.Step
			}
			if b.Violation != nil {
				sb, tb = b.Violation.Signature, b.Violation.Step
			}
			if sa != sb || ta != tb {
				t.Fatalf("%s seed %d: shortcut reports %s at step %d, full checks %s at step %d", profile, seed, sa, ta, sb, tb)
			}
		}
		// both modes must have checked, and the full mode strictly more:
		// otherwise this comparison proves nothing
		if nFast == 0 || nFull <= nFast {
			t.Fatalf("%s: %d state checks with the shortcut, %d without: full mode did not check more", profile, nFast, nFull)
		}
		if nSkip == 0 || full.ck.StorageSkips != 0 {
			t.Fatalf("%s: the incremental storage checks skipped %d times, and %d times in full mode", profile, nSkip, full.ck.StorageSkips)
		}
		t.Logf("%s: %d state checks with the shortcuts (%d with the storage part skipped), %d without", profile, nFast, nSkip, nFull)
	}
}

// TestDeltaChecksMatchFull proves the storage checks' delta path
// (invariants.Checker.checkStorageDelta) step by step. Beside each run's
// incremental checker a second checker in full mode checks the same world
// after every step the incremental one checks, and both must report the
// same violation (signature and detail) or none. The model's own runs seldom
// break a storage invariant, so after a quarter of the steps the test also
// corrupts the world (mutateStorage: a region, agent record, volume row,
// usage row or dataset changed, moved or removed, or a storage oracle
// turned on or off), has both checkers judge it, and undoes the change
// before the model goes on; every other time it makes a second change on
// top first and undoes that one first. Both profiles run, with no
// switch, with no switch and the per-volume oracles off (they would shadow
// the table-wide ones), and with each pre-fix switch. The delta path must
// have reported every storage oracle the mutations can break; otherwise
// the comparison would prove nothing for it.
func TestDeltaChecksMatchFull(t *testing.T) {
	const seeds = 12 // well under a second; fewer leave some oracle unreported
	var steps, deltas, reused int
	deltaSigs := map[string]int{}
	// "" is no switch; "-volume-oracles" is no switch with the per-volume
	// oracles off, so that the table-wide ones they would shadow fire
	bugs := []string{"", "-volume-oracles"}
	for _, b := range BugTargets {
		bugs = append(bugs, b.Bug)
	}
	compare := func(what string, ck, full *invariants.Checker) {
		d := ck.DeltaChecks
		got, want := ck.CheckState(), full.CheckState()
		if describe(got) != describe(want) {
			t.Fatalf("%s: incremental checks report %s, full checks %s", what, describe(got), describe(want))
		}
		if got != nil && ck.DeltaChecks != d {
			deltaSigs[got.Signature]++
		}
	}
	for _, profile := range RSRProfileNames() {
		for _, bug := range bugs {
			cfg, err := RSRProfileConfig(profile)
			if err != nil {
				t.Fatal(err)
			}
			switch bug {
			case "":
			case "-volume-oracles":
				cfg.DisableOracles = []string{invariants.V1TargetResolves, invariants.UsageMatchesVCR, invariants.NoFreeWhileReferenced}
			default:
				cfg.Bugs = []string{bug}
			}
			tg, err := NewRSRTarget(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rt := tg.(*rsrTarget)
			for seed := range uint64(seeds) {
				eng := DefaultEngine()
				st, err := sim.NewStrategy(eng.Strategy, eng.PCTDepth, eng.PCTK)
				if err != nil {
					t.Fatal(err)
				}
				r := sim.NewRun(sim.Config{StepMillis: eng.StepMillis, MaxSteps: tg.DefaultMaxSteps(), Knobs: tg.Knobs(), NoRecord: true}, sim.NewPRNG(seed), st)
				w, ck := rt.Prepare(r)
				// one disabled set for both, which the mutations may change
				dis := maps.Clone(ck.Disabled)
				if dis == nil {
					dis = map[string]bool{}
				}
				ck.Disabled = dis
				full := invariants.NewChecker(w)
				full.Full, full.Disabled = true, dis
				rng := rand.New(rand.NewPCG(seed, 7046))
				fast := r.AfterStep
				r.AfterStep = func(r *sim.Run, e *sim.Entry) *sim.Violation {
					checks, d := ck.StateChecks, ck.DeltaChecks
					v := fast(r, e)
					if ck.StateChecks == checks {
						return v // no state check: events only, or the read-only shortcut
					}
					steps++
					where := fmt.Sprintf("%s %q seed %d step %d", profile, bug, seed, r.Steps())
					if want := full.CheckState(); describe(v) != describe(want) {
						t.Fatalf("%s: incremental checks report %s, full checks %s", where, describe(v), describe(want))
					}
					if v != nil {
						if ck.DeltaChecks != d {
							deltaSigs[v.Signature]++
						}
						return v
					}
					if rng.IntN(4) == 0 {
						undo, what := mutateStorage(w.DB, dis, rng)
						compare(where+" after "+what, ck, full)
						if rng.IntN(2) == 0 {
							// a second change on top, undone first: a state
							// judged with an oracle off, then with it on
							undo2, what2 := mutateStorage(w.DB, dis, rng)
							compare(where+" after "+what+", then "+what2, ck, full)
							undo2()
							compare(where+" after "+what+" (undoing "+what2+")", ck, full)
						}
						undo()
						compare(where+" after undoing "+what, ck, full)
					}
					return nil
				}
				rt.drive(r, w, ck)
				r.Close()
				deltas += ck.DeltaChecks
				reused += ck.VolumesReused
			}
		}
	}
	sigs := slices.Sorted(maps.Keys(deltaSigs))
	t.Logf("%d steps compared; %d delta checks (%d volumes reused); violations reported by the delta path: %v", steps, deltas, reused, deltaSigs)
	for _, want := range []string{invariants.V1TargetResolves, invariants.NoFreeWhileReferenced, invariants.UsageMatchesVCR, invariants.NoLiveUsageOnFreed, invariants.RSOnRegionDataset, invariants.V2NoSnapshotOfRO} {
		if !slices.ContainsFunc(sigs, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("the delta path never reported %s: the comparison proves nothing for it", want)
		}
	}
	if reused == 0 {
		t.Error("the delta path never reused a volume")
	}
}

// mutateStorage makes one random change to what the storage checks read
// (never a VCR in place: the checker may assume stored VCRs do not change),
// or turns a storage oracle in dis on or off, and returns a function that
// undoes it, and what it did.
func mutateStorage(db *model.DB, dis map[string]bool, rng *rand.Rand) (undo func(), what string) {
	regions, agentRegions, agentRunning := slices.Clone(db.Regions), slices.Clone(db.Agent.Regions), slices.Clone(db.Agent.Running)
	volumes, usages, datasets := slices.Clone(db.Volumes), slices.Clone(db.Usages), slices.Clone(db.Datasets)
	disabled := maps.Clone(dis)
	undo = func() {
		db.Regions = append(db.Regions[:0], regions...)
		db.Agent.Regions = append(db.Agent.Regions[:0], agentRegions...)
		db.Agent.Running = append(db.Agent.Running[:0], agentRunning...)
		db.Volumes = append(db.Volumes[:0], volumes...)
		db.Usages = append(db.Usages[:0], usages...)
		db.Datasets = append(db.Datasets[:0], datasets...)
		clear(dis)
		maps.Copy(dis, disabled)
	}
	pick := func(n int) int { return rng.IntN(n) }
	switch k := rng.IntN(14); {
	case k == 12 && len(db.Datasets) > 1:
		i, j := pick(len(db.Datasets)), pick(len(db.Datasets))
		db.Datasets[i].PoolID = db.Datasets[j].PoolID
		return undo, "moving a dataset to another's zpool"
	case k == 13:
		o := storageOracles[pick(len(storageOracles))]
		dis[o] = !dis[o]
		return undo, "turning " + o + " on or off"
	case k < 5 && len(db.Regions) > 1:
		i, j := pick(len(db.Regions)), pick(len(db.Regions))
		r := &db.Regions[i]
		switch k {
		case 0:
			r.Deleting = !r.Deleting
			return undo, "toggling a region's deleting flag"
		case 1:
			r.HasPort = !r.HasPort
			return undo, "toggling whether a region has a port"
		case 2:
			r.Port, r.DatasetID = db.Regions[j].Port, db.Regions[j].DatasetID
			return undo, "giving a region another region's address"
		case 3:
			db.Regions = slices.Delete(db.Regions, i, i+1)
			return undo, "removing a region row"
		default:
			r.ReadOnly = !r.ReadOnly
			return undo, "toggling a region's read-only flag"
		}
	case k < 8 && len(db.Agent.Regions) > 1:
		i, j := pick(len(db.Agent.Regions)), pick(len(db.Agent.Regions))
		switch k {
		case 5:
			db.Agent.Regions[i].State = model.AgentRegionState(pick(4))
			return undo, "changing an agent region's state"
		case 6:
			db.Agent.Regions = slices.Delete(db.Agent.Regions, i, i+1)
			return undo, "removing an agent region"
		default:
			db.Agent.Regions[i], db.Agent.Regions[j] = db.Agent.Regions[j], db.Agent.Regions[i]
			return undo, "swapping two agent regions"
		}
	case k < 10 && len(db.Agent.Running) > 0:
		i := pick(len(db.Agent.Running))
		if k == 8 {
			db.Agent.Running[i].Destroyed = !db.Agent.Running[i].Destroyed
			return undo, "toggling a running snapshot's destroyed flag"
		}
		db.Agent.Running = slices.Delete(db.Agent.Running, i, i+1)
		return undo, "removing a running snapshot"
	case k == 10 && len(db.Volumes) > 1:
		i, j := pick(len(db.Volumes)), pick(len(db.Volumes))
		if rng.IntN(2) == 0 {
			db.Volumes[i].SoftDeleted = !db.Volumes[i].SoftDeleted
			return undo, "toggling a volume's soft delete"
		}
		db.Volumes[i].Data = db.Volumes[j].Data
		return undo, "giving a volume another volume's VCR"
	case len(db.Usages) > 0:
		i := pick(len(db.Usages))
		db.Usages = slices.Delete(db.Usages, i, i+1)
		return undo, "removing a usage row"
	}
	return undo, "nothing"
}

// storageOracles are the oracles the storage checks judge.
var storageOracles = []string{invariants.V1TargetResolves, invariants.NoFreeWhileReferenced, invariants.UsageMatchesVCR,
	invariants.NoLiveUsageOnFreed, invariants.RSOnRegionDataset, invariants.V2NoSnapshotOfRO, invariants.RegionSetRedundancy, invariants.NoOrphanRWRegion}

func describe(v *sim.Violation) string {
	if v == nil {
		return "none"
	}
	return v.Signature + " (" + v.Detail + ")"
}
