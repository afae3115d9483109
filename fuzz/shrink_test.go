package fuzz_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

// longToyFailure finds the first failing seed of a long toy run (5 workers
// of 8 increments, 80 steps) under the uniform walk.
func longToyFailure(t *testing.T) (fuzz.Target, fuzz.EngineConfig, *fuzz.Result) {
	t.Helper()
	tg := toyTarget(t, `{"workers":5,"incs":8}`)
	eng := fuzz.DefaultEngine()
	eng.Strategy = "uniform"
	for seed := uint64(1); seed < 100; seed++ {
		res, err := fuzz.ExecuteSeed(tg, eng, seed, fuzz.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Violation != nil {
			return tg, eng, res
		}
	}
	t.Fatal("no failing seed in 1..99")
	return nil, eng, nil
}

func TestShrinkToyKeepsSignatureAndReduces(t *testing.T) {
	tg, eng, orig := longToyFailure(t)
	sr, err := fuzz.Shrink(tg, eng, orig.Decisions, fuzz.ShrinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sr.Signature != orig.Violation.Signature || sr.Final.Violation == nil ||
		sr.Final.Violation.Signature != orig.Violation.Signature {
		t.Fatalf("signature changed: %q -> %v", orig.Violation.Signature, sr.Final.Violation)
	}
	b, a := sr.Before, sr.After
	t.Logf("before %+v", b)
	t.Logf("after  %+v (%d candidate runs)", a, sr.Runs)
	if b.Decisions != len(orig.Decisions) || b.Steps != int(orig.Steps) || b.Actors != 5 {
		t.Fatalf("before stats %+v do not describe the original run (%d decisions, %d steps)", b, len(orig.Decisions), orig.Steps)
	}
	if a.Decisions >= b.Decisions || a.NonZero >= b.NonZero || a.Switches >= b.Switches {
		t.Fatalf("no reduction: before %+v after %+v", b, a)
	}
	// One context switch away from the all-zero schedule is the minimum
	// for a lost update: the shrinker must reach it on this toy.
	if a.NonZero != 1 || a.Decisions != 1 {
		t.Fatalf("want a single non-zero decision, got %+v: %v", a, sr.Decisions)
	}
	if sr.Exhausted {
		t.Fatal("budget exhausted on an 80-step toy")
	}
	// The shrunk list replays exactly to the final run.
	again, _ := fuzz.Execute(tg, eng, sim.NewReplay(sr.Decisions), fuzz.RunOptions{})
	if again.Hash != sr.Final.Hash || again.Violation == nil {
		t.Fatalf("shrunk list replays to %x (violation %v), final run was %x", again.Hash, again.Violation, sr.Final.Hash)
	}
}

func TestShrinkIsDeterministic(t *testing.T) {
	tg, eng, orig := longToyFailure(t)
	a, err := fuzz.Shrink(tg, eng, orig.Decisions, fuzz.ShrinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fuzz.Shrink(tg, eng, orig.Decisions, fuzz.ShrinkOptions{})
	if d := cmp.Diff(a.Decisions, b.Decisions); d != "" || a.Runs != b.Runs || a.Final.Hash != b.Final.Hash {
		t.Fatalf("two shrinks of the same list differ (runs %d vs %d):\n%s", a.Runs, b.Runs, d)
	}
}

func TestShrinkBudget(t *testing.T) {
	tg, eng, orig := longToyFailure(t)
	sr, err := fuzz.Shrink(tg, eng, orig.Decisions, fuzz.ShrinkOptions{MaxRuns: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sr.Runs != 3 || !sr.Exhausted {
		t.Fatalf("budget 3: %d runs, exhausted %v", sr.Runs, sr.Exhausted)
	}
	if sr.Final.Violation == nil || sr.Final.Violation.Signature != orig.Violation.Signature {
		t.Fatalf("a cut-short shrink must still fail the same way: %v", sr.Final.Violation)
	}
}

func TestShrinkRejectsPassingRun(t *testing.T) {
	tg := toyTarget(t, `{"atomic":true}`)
	res, _ := fuzz.ExecuteSeed(tg, fuzz.DefaultEngine(), 1, fuzz.RunOptions{})
	if _, err := fuzz.Shrink(tg, fuzz.DefaultEngine(), res.Decisions, fuzz.ShrinkOptions{}); err == nil ||
		!strings.Contains(err.Error(), "nothing to shrink") {
		t.Fatalf("want a 'nothing to shrink' error, got %v", err)
	}
}

func TestScheduleLines(t *testing.T) {
	r := fixedToyRun(t)
	lines := fuzz.ScheduleLines(r.Run)
	want := []string{
		"1. #2 worker 2: toy read counter -> ok",
		"2-5. #1 worker 1: 2 x (toy read counter -> ok, toy write counter -> ok) (last [2])",
		"6-8. #2 worker 2: toy write counter -> ok [1], toy read counter -> ok [1], toy write counter -> ok [2]",
		"9-12. #3 worker 3: 2 x (toy read counter -> ok, toy write counter -> ok) (last [4])",
	}
	if d := cmp.Diff(want, lines); d != "" {
		t.Fatalf("schedule (-want +got):\n%s", d)
	}
}
