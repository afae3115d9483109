package sim

import "testing"

// depth2Race is a toy with a known depth-2 bug: actor A takes K steps and
// actor B takes K steps; the bug needs A's first step before B's first step
// (constraint 1) and all of B before A's second step (constraint 2).
func depth2Race(src Chooser, strat Strategy, k int) bool {
	r := NewRun(Config{}, src, strat)
	aSteps, bDoneAt := 0, -1
	r.Spawn(KindTest, "A", func(c *Ctx) {
		for i := 0; i < k; i++ {
			c.Step(opWrite)
			aSteps++
		}
	})
	r.Spawn(KindTest, "B", func(c *Ctx) {
		for i := 0; i < k; i++ {
			c.Step(opRead)
			if i == 0 && aSteps != 1 {
				bDoneAt = -2 // constraint 1 broken: never a bug
			}
		}
		if bDoneAt == -1 {
			bDoneAt = aSteps
		}
	})
	r.Loop(nil)
	return bDoneAt == 1
}

// TestPCTFindsDepth2Race checks PCT against its probabilistic guarantee:
// with n=2 actors and K=2k steps, a depth-2 bug is hit with probability at
// least 1/(n*K). The seeds are fixed, so the test is deterministic; the
// uniform random walk is measured beside it (it needs k consecutive B steps,
// about 2^-(k+1)).
func TestPCTFindsDepth2Race(t *testing.T) {
	const k, runs = 10, 4000
	bound := 1.0 / float64(2*2*k)
	pct, uni := 0, 0
	for s := range runs {
		if depth2Race(NewPRNG(uint64(s)), &PCT{Depth: 2, K: 2 * k}, k) {
			pct++
		}
		if depth2Race(NewPRNG(uint64(s)), Uniform{}, k) {
			uni++
		}
	}
	pctRate, uniRate := float64(pct)/runs, float64(uni)/runs
	t.Logf("depth-2 race, k=%d, %d runs: PCT %d hits (%.4f, bound %.4f), uniform %d hits (%.5f)", k, runs, pct, pctRate, bound, uni, uniRate)
	if pctRate < bound*0.75 {
		t.Errorf("PCT hit rate %.4f is below its bound %.4f (with 25%% sampling slack)", pctRate, bound)
	}
	if pct <= uni*5 {
		t.Errorf("PCT (%d) should beat the uniform walk (%d) by far on a depth-2 bug", pct, uni)
	}
}

// TestPCTDepth1IsSequential: with d=1 there is no change point, so a run is
// one actor after another.
func TestPCTDepth1IsSequential(t *testing.T) {
	for s := range 50 {
		r := NewRun(Config{KeepTrace: true}, NewPRNG(uint64(s)), &PCT{Depth: 1})
		for range 3 {
			r.Spawn(KindTest, "x", func(c *Ctx) {
				for range 5 {
					c.Step(opTick)
				}
			})
		}
		r.Loop(nil)
		switches := 0
		tr := r.Trace()
		for i := 1; i < len(tr); i++ {
			if tr[i].Actor != tr[i-1].Actor {
				switches++
			}
		}
		if switches != 2 {
			t.Fatalf("seed %d: %d context switches, want 2", s, switches)
		}
	}
}
