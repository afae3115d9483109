package fuzz

import "testing"

// detectionBudget is, per switch, N: the maximum number of runs PCT needed
// to report the switch's signature over the 10 campaigns of
// `rsrsim bench --campaigns 10 --max-runs 2000` (BENCHMARKS.md, measured
// 2026-11-24). The test runs campaign 0 (seeds 0, 1, ...) with the switch
// on and requires detection within N. Re-measure and update when the model
// or the profile changes.
var detectionBudget = map[string]int{
	"no-new-region-volume":                      29,
	"start-ignores-deleted-region-snapshot":     157,
	"step-saga-for-deleted-volume":              176,
	"step-for-soft-deleted-volume":              29,
	"notify-deleted-volume":                     51,
	"hard-delete-volume-with-lingering-regions": 1,
	"lock-missing-volume":                       12,
	"relock-not-idempotent":                     852,
	"substring-address-match":                   20,
}

func pctEngine() EngineConfig {
	e := DefaultEngine()
	e.Strategy = "pct"
	return e
}

// TestFuzzDetectsEverySwitch: with only that switch on, a campaign from a
// fixed seed reports the switch's signature within N runs.
func TestFuzzDetectsEverySwitch(t *testing.T) {
	for _, bt := range BugTargets {
		t.Run(bt.Bug, func(t *testing.T) {
			n, ok := detectionBudget[bt.Bug]
			if !ok {
				t.Fatalf("no calibrated budget for %s", bt.Bug)
			}
			cfg, err := DetectionConfig(bt.Bug)
			if err != nil {
				t.Fatal(err)
			}
			tg, err := NewRSRTarget(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Detect(tg, pctEngine(), 0, n, bt.Match)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Found {
				t.Fatalf("%s: no run of %d reported %s's signature (oracle %s)", bt.Bug, n, bt.Bug, bt.Oracle)
			}
			t.Logf("%s: %s after %d runs (budget %d)", bt.Bug, d.Sig, d.Runs, n)
		})
	}
}

// TestNoSwitchSignatureWithEverySwitchOff: with every switch off, the same
// campaign runs M >= max N runs and no run reports any switch's signature
// (violations of other oracles are findings, FINDINGS.md, and do not fail
// this test).
func TestNoSwitchSignatureWithEverySwitchOff(t *testing.T) {
	m := 0
	for _, n := range detectionBudget {
		m = max(m, n)
	}
	cfg, err := DetectionConfig("")
	if err != nil {
		t.Fatal(err)
	}
	tg, err := NewRSRTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	match := func(sig string) bool {
		for _, bt := range BugTargets {
			if bt.Match(sig) {
				return true
			}
		}
		return false
	}
	d, err := Detect(tg, pctEngine(), 0, m, match)
	if err != nil {
		t.Fatal(err)
	}
	if d.Found {
		t.Fatalf("with every switch off, run seed %d reported %s, a pre-fix switch's signature", d.Seed, d.Sig)
	}
	t.Logf("every switch off: %d runs, no switch signature", d.Runs)
}
