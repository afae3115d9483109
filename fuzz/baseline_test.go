package fuzz

import "testing"

// TestRapidBaselineRuns checks that the rapid baseline drives the model and
// finds an easy switch (#7: lock insert without the volume row).
func TestRapidBaselineRuns(t *testing.T) {
	bug := "lock-missing-volume"
	cfg, err := DetectionConfig(bug)
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := BugTargetFor(bug)
	d, err := RapidDetect(cfg, 1, 400, tg.Match)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rapid baseline: found=%v after %d test cases, %.2f CPU-s, %d steps", d.Found, d.Runs, d.CPUSec, d.Steps)
	if d.Runs == 0 || d.Steps == 0 {
		t.Fatal("the baseline ran nothing")
	}
	// BENCHMARKS.md: the baseline finds #7 within 8 test cases in all 10
	// campaigns; 400 is a wide margin.
	if !d.Found {
		t.Fatalf("the rapid baseline did not find %s in %d test cases", bug, d.Runs)
	}
}
