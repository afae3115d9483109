package fuzz

import (
	"encoding/json"
	"testing"
)

// TestReadOnlyShortcutMissesNothing proves the checker's shortcut (no state
// checks after read-only steps in which no saga ended): with full checks
// after every step, every run reports the same violation at the same step.
func TestReadOnlyShortcutMissesNothing(t *testing.T) {
	runs := 150
	if testing.Short() {
		runs = 40
	}
	for _, profile := range RSRProfileNames() {
		raw, _ := RSRProfile(profile)
		var cfg RSRConfig
		json.Unmarshal(raw, &cfg)
		fast, err := NewRSRTarget(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.FullChecks = true
		full, _ := NewRSRTarget(cfg)
		eng := DefaultEngine()
		for seed := uint64(0); seed < uint64(runs); seed++ {
			a, _ := ExecuteSeed(fast, eng, seed, RunOptions{})
			b, _ := ExecuteSeed(full, eng, seed, RunOptions{})
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
	}
}
