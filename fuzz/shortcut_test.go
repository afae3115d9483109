package fuzz

import (
	"encoding/json"
	"testing"

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
		raw, err := RSRProfile(profile)
		if err != nil {
			t.Fatal(err)
		}
		var cfg RSRConfig
		if err := json.Unmarshal(raw, &cfg); err != nil {
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
