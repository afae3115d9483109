package fuzz

import (
	"math"
	"testing"
)

func TestWilson(t *testing.T) {
	lo, hi := wilson(0, 30)
	if lo != 0 || math.Abs(hi-0.1135) > 5e-4 {
		t.Errorf("wilson(0, 30) = [%v, %v], want [0, 0.1135]", lo, hi)
	}
	lo, hi = wilson(50, 100)
	if math.Abs(lo-0.4038) > 5e-4 || math.Abs(hi-0.5962) > 5e-4 {
		t.Errorf("wilson(50, 100) = [%v, %v], want [0.4038, 0.5962]", lo, hi)
	}
	if lo, hi = wilson(10, 10); hi != 1 || lo >= 1 {
		t.Errorf("wilson(10, 10) = [%v, %v]", lo, hi)
	}
}

func rcell(st string, hits int, cpu float64) RateCell {
	c := RateCell{Strategy: st, Runs: 100, Hits: hits, CPUSec: cpu}
	if hits > 0 {
		c.CPUPerHit = cpu / float64(hits)
	} else {
		c.CPUPerHit, c.Bound = cpu/3, ">="
	}
	return c
}

// TestRatesSummary: the per-switch best takes each switch's cheapest
// measured cell, each strategy's ratio to it is at least 1, and bounds
// carry through.
func TestRatesSummary(t *testing.T) {
	rep := &RatesReport{Options: RateOptions{Strategies: []string{"a", "b"}}, Rows: []RateRow{
		{Bug: "x", Cells: []RateCell{rcell("a", 10, 1), rcell("b", 40, 1)}},  // a 0.1, b 0.025
		{Bug: "y", Cells: []RateCell{rcell("a", 20, 1), rcell("b", 5, 1)}},   // a 0.05, b 0.2
		{Bug: "z", Cells: []RateCell{rcell("a", 0, 0.03), rcell("b", 1, 1)}}, // a >=0.01, b 1
	}}
	rep.summarize()
	// z's best is b: a measured cell beats a bound, however small the bound.
	want := math.Cbrt(0.025 * 0.05 * 1)
	if math.Abs(rep.BestGeo-want) > 1e-12 || rep.BestBound != "" {
		t.Fatalf("per-switch best %v %q, want %v", rep.BestGeo, rep.BestBound, want)
	}
	ga, gb := rep.Geo[0], rep.Geo[1]
	if math.Abs(ga.GeoCPU-math.Cbrt(0.1*0.05*0.01)) > 1e-12 || ga.Bound != ">=" || ga.BoundOver != ">=" {
		t.Errorf("a: %+v", ga)
	}
	if math.Abs(gb.GeoCPU-math.Cbrt(0.025*0.2*1)) > 1e-12 || gb.Bound != "" || gb.BoundOver != "" {
		t.Errorf("b: %+v", gb)
	}
	for _, g := range rep.Geo {
		if g.OverBest < 1 && g.BoundOver == "" {
			t.Errorf("%s beats the per-switch best: %v", g.Strategy, g.OverBest)
		}
	}
}

// TestRunRatesSmall measures one switch that every strategy finds in most
// runs, so the rates are nonzero and the best is a measured cell.
func TestRunRatesSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rep, err := RunRates(RateOptions{Runs: 12, Strategies: []string{"pct", "buggify-pct"}, Bugs: []string{"hard-delete-volume-with-lingering-regions"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || len(rep.Rows[0].Cells) != 2 || rep.Rows[0].Best == "" {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	for _, c := range rep.Rows[0].Cells {
		if c.Hits == 0 || c.Steps == 0 || c.CPUPerHit <= 0 || c.RateLow > float64(c.Hits)/12 || c.RateHigh < float64(c.Hits)/12 {
			t.Errorf("cell %+v", c)
		}
	}
	if len(rep.Geo) != 2 || rep.BestGeo <= 0 || rep.Geo[0].OverBest < 1 || rep.Geo[1].OverBest < 1 {
		t.Errorf("summary: %+v best %v", rep.Geo, rep.BestGeo)
	}
}

// TestRatesRelateToBaseline: a cell's implied ratio is ln 2 times its CPU
// per detection over the baseline's median; a censored baseline median
// makes the ratio an upper bound and the speed-up a lower bound.
func TestRatesRelateToBaseline(t *testing.T) {
	rep := &RatesReport{Options: RateOptions{Strategies: []string{"a"}}, Rows: []RateRow{
		{Bug: "x", Cells: []RateCell{rcell("a", 10, 1)}}, // 0.1 s per detection
		{Bug: "y", Cells: []RateCell{rcell("a", 50, 1)}}, // 0.02
	}}
	rep.summarize()
	rows := []BugRow{
		{Bug: "x", Cells: []Cell{{Strategy: "rapid-baseline", MedianCPU: math.Ln2 * 0.4}}},
		{Bug: "y", Cells: []Cell{{Strategy: "rapid-baseline", MedianCPU: math.Ln2 * 2, MedianCensored: true}}},
	}
	rep.relateToBaseline(rows)
	x, y := rep.Rows[0].Cells[0], rep.Rows[1].Cells[0]
	if math.Abs(x.Implied-0.25) > 1e-12 || x.ImpliedBound != "" || math.Abs(y.Implied-0.01) > 1e-12 || y.ImpliedBound != "<=" {
		t.Fatalf("implied: x %v %q, y %v %q", x.Implied, x.ImpliedBound, y.Implied, y.ImpliedBound)
	}
	want := 1 / math.Sqrt(0.25*0.01)
	if g := rep.Geo[0]; math.Abs(g.Speedup-want) > 1e-9 || g.SpeedupBound != ">=" {
		t.Errorf("speed-up %v %q, want >=%v", g.Speedup, g.SpeedupBound, want)
	}
	if math.Abs(rep.BestSpeedup-want) > 1e-9 || rep.BestSpeedupBound != ">=" {
		t.Errorf("per-switch best speed-up %v %q", rep.BestSpeedup, rep.BestSpeedupBound)
	}
	// Without baseline cells nothing is implied.
	rep2 := &RatesReport{Options: rep.Options, Rows: []RateRow{{Bug: "x", Cells: []RateCell{rcell("a", 10, 1)}}}}
	rep2.summarize()
	rep2.relateToBaseline(nil)
	if rep2.Rows[0].Cells[0].Implied != 0 || rep2.BestSpeedup != 0 {
		t.Error("implied ratios without a baseline")
	}
}
