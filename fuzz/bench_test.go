package fuzz

import (
	"math"
	"strings"
	"testing"
)

// BenchmarkRSRRun measures complete runs of the rsr target on its default
// configuration (setup, workload, quiescence, delete-all), every oracle on,
// on one goroutine. Reports atomic steps per second.
func BenchmarkRSRRun(b *testing.B) {
	benchRSR(b, "default")
}

// BenchmarkRSRRunFocus is BenchmarkRSRRun for the rsr-focus profile.
func BenchmarkRSRRunFocus(b *testing.B) {
	benchRSR(b, "rsr-focus")
}

// BenchmarkRSRRunSwarm is BenchmarkRSRRun under the swarm strategy, the
// default campaign strategy until portfolio-pct: the instruction counts of
// BENCHMARKS.md's history were taken under it.
func BenchmarkRSRRunSwarm(b *testing.B) {
	benchRSRWith(b, "default", "swarm")
}

func benchRSR(b *testing.B, profile string) { benchRSRWith(b, profile, "") }

func benchRSRWith(b *testing.B, profile, strategy string) {
	raw, err := RSRProfile(profile)
	if err != nil {
		b.Fatal(err)
	}
	t, err := NewTarget("rsr", raw)
	if err != nil {
		b.Fatal(err)
	}
	eng := DefaultEngine()
	if strategy != "" {
		eng.Strategy = strategy
	}
	steps := 0
	b.ReportAllocs()
	seed := uint64(0)
	for b.Loop() {
		res, err := ExecuteSeed(t, eng, seed, RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		steps += int(res.Steps)
		seed++
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(steps)/float64(b.N), "steps/run")
}

// rapidCaseSeeds lists the seeds of the first n test cases of a rapid check
// started with seed s: rapid's findBug adds the iteration number to the
// seed before each test case (pgregory.net/rapid engine.go), so case k has
// seed s + k(k+1)/2.
func rapidCaseSeeds(s uint64, n int) []uint64 {
	out := make([]uint64, n)
	for k := range n {
		s += uint64(k)
		out[k] = s
	}
	return out
}

// TestBaselineCampaignsDisjoint checks that the baseline's campaigns share
// no test case within the default budget, and that the seeding it replaced
// (1, 2, 3, ...) did, so the check can fail.
func TestBaselineCampaignsDisjoint(t *testing.T) {
	budget := DefaultBenchOptions().BaselineMaxRuns
	overlaps := func(seed func(i int) uint64) int {
		seen := map[uint64]int{}
		shared := 0
		for i := range 10 {
			for _, s := range rapidCaseSeeds(seed(i), budget) {
				if j, ok := seen[s]; ok && j != i {
					shared++
				}
				seen[s] = i
			}
		}
		return shared
	}
	if n := overlaps(BaselineSeed); n != 0 {
		t.Fatalf("baseline campaigns share %d test cases", n)
	}
	if n := overlaps(func(i int) uint64 { return uint64(i + 1) }); n == 0 {
		t.Fatal("consecutive seeds should share test cases (the check is vacuous)")
	}
	if BaselineSeed(0) == 0 {
		t.Fatal("seed 0 makes rapid pick a random seed")
	}
}

func TestRatioBounds(t *testing.T) {
	for _, c := range []struct {
		strat, base bool
		want        string
	}{{false, false, ""}, {false, true, "<="}, {true, false, ">="}, {true, true, "?"}} {
		if got := ratioBound(c.strat, c.base); got != c.want {
			t.Errorf("ratioBound(%v, %v) = %q, want %q", c.strat, c.base, got, c.want)
		}
	}
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"", ""}, ""},
		{[]string{"", "<=", "<="}, "<="},
		{[]string{">=", ""}, ">="},
		{[]string{"<=", ">="}, "?"},
		{[]string{"?", ""}, "?"},
	} {
		if got := combineBounds(c.in); got != c.want {
			t.Errorf("combineBounds(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if flipBound("<=") != ">=" || flipBound(">=") != "<=" || flipBound("?") != "?" || flipBound("") != "" {
		t.Error("flipBound")
	}
}

// TestRunBenchSmall runs the whole bench on a tiny budget: one switch, one
// strategy, the baseline, one campaign each. The switch (#6) is found in a
// run or two by every scheduler, so the ratio is exact.
func TestRunBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	o := BenchOptions{Campaigns: 2, MaxRuns: 40, BaselineMaxRuns: 40, Strategies: []string{"buggify-pct"},
		Bugs: []string{"hard-delete-volume-with-lingering-regions"}, Baseline: true, ThroughRun: 10, ThroughRounds: 3}
	rep, err := RunBench(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Throughput) != 2 || rep.Throughput[0].Runs != 10 || rep.Throughput[0].StepsPerS <= 0 {
		t.Fatalf("throughput: %+v", rep.Throughput)
	}
	if len(rep.ScalingRounds) != 3 || rep.Scaling != median(rep.ScalingRounds) {
		t.Fatalf("scaling %v is not the median of the rounds %v", rep.Scaling, rep.ScalingRounds)
	}
	if len(rep.ByStrategy) != 1 || rep.ByStrategy[0].Strategy != "buggify-pct" || rep.ByStrategy[0].StepsPerRun <= 0 {
		t.Fatalf("throughput by strategy: %+v", rep.ByStrategy)
	}
	if len(rep.Rows) != 1 || len(rep.Rows[0].Cells) != 2 {
		t.Fatalf("rows: %+v", rep.Rows)
	}
	base, cell := rep.Rows[0].Cells[0], rep.Rows[0].Cells[1]
	if base.Strategy != "rapid-baseline" || base.Found != 2 || cell.Found != 2 {
		t.Fatalf("cells: %+v", rep.Rows[0].Cells)
	}
	if cell.RatioToBaseline <= 0 || cell.RatioBound != "" {
		t.Fatalf("ratio %v bound %q", cell.RatioToBaseline, cell.RatioBound)
	}
	if rep.Best != "buggify-pct" || len(rep.GeoMeans) != 1 || rep.GeoMeans[0].Bound != "" {
		t.Fatalf("geomeans: %+v best %q", rep.GeoMeans, rep.Best)
	}
	var md strings.Builder
	rep.WriteMarkdown(&md, "rsrsim bench (test)")
	if base.StepsPerRun <= 0 || base.CPUPerStep <= 0 || cell.StepsPerRun <= 0 || cell.CPUPerStep <= 0 {
		t.Fatalf("step costs: baseline %v/%v, cell %v/%v", base.StepsPerRun, base.CPUPerStep, cell.StepsPerRun, cell.CPUPerStep)
	}
	for _, want := range []string{"| workers |", "| buggify-pct | ", "rapid baseline 40 test cases", "| strategy | steps per run | CPU-µs per step |", "| hard-delete-volume-with-lingering-regions | rapid-baseline | 2/2 |", "Best strategy"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func det(found bool, cpu float64) Detection {
	return Detection{Found: found, CPUSec: cpu, Runs: int(cpu * 1000)}
}

// TestMedianCensored: a median is a bound only when a censored campaign is
// among the values it is taken from.
func TestMedianCensored(t *testing.T) {
	nine := func() []Detection { // a fresh slice each time: the cases append to it
		var ds []Detection
		for i := range 9 {
			ds = append(ds, det(true, float64(i+1)))
		}
		return ds
	}
	if c := summarize("x", append(nine(), det(false, 100))); !c.Censored || c.MedianCensored {
		t.Errorf("9 found, 1 censored far above: censored %v, median censored %v", c.Censored, c.MedianCensored)
	}
	if c := summarize("x", append(nine()[:5], det(false, 100), det(false, 100), det(false, 100), det(false, 100), det(false, 100))); !c.MedianCensored {
		t.Error("half the campaigns censored: the median must be a bound")
	}
	if c := summarize("x", append(nine(), det(false, 2))); !c.MedianCensored {
		t.Error("a censored campaign cheaper than the median: the median must be a bound")
	}
	if c := summarize("x", append(nine(), det(false, 6))); !c.MedianCensored {
		t.Error("a censored campaign equal to the median's upper value is among its values: the median must be a bound")
	}
	if c := summarize("x", nine()); c.Censored || c.MedianCensored {
		t.Error("nothing censored")
	}
}

// TestBootstrapGeoMean: the interval is seeded (the same report gives the
// same interval), it is a point when every campaign of every cell costs the
// same, and it brackets the point estimate when they vary.
func TestBootstrapGeoMean(t *testing.T) {
	cell := func(st string, cpus ...float64) Cell {
		var ds []Detection
		for _, c := range cpus {
			ds = append(ds, det(true, c))
		}
		return summarize(st, ds)
	}
	flat := []BugRow{{Bug: "a", Cells: []Cell{cell("rapid-baseline", 4, 4, 4), cell("s", 1, 1, 1)}},
		{Bug: "b", Cells: []Cell{cell("rapid-baseline", 9, 9, 9), cell("s", 1, 1, 1)}}}
	lo, hi := bootstrapGeoMean(flat, "s", 500)
	if math.Abs(lo-1.0/6) > 1e-9 || math.Abs(hi-1.0/6) > 1e-9 {
		t.Errorf("constant cells: interval [%v, %v], want the point 1/6", lo, hi)
	}
	noisy := []BugRow{{Bug: "a", Cells: []Cell{cell("rapid-baseline", 1, 4, 9, 2, 7), cell("s", 1, 0.5, 2, 0.2, 1)}},
		{Bug: "b", Cells: []Cell{cell("rapid-baseline", 3, 9, 27, 1, 5), cell("s", 1, 3, 0.3, 2, 1)}}}
	lo, hi = bootstrapGeoMean(noisy, "s", 2000)
	lo2, hi2 := bootstrapGeoMean(noisy, "s", 2000)
	point := math.Sqrt((1.0 / 4) * (1.0 / 5))
	if lo != lo2 || hi != hi2 {
		t.Error("the bootstrap is not reproducible")
	}
	if !(lo < point && point < hi) {
		t.Errorf("interval [%v, %v] does not bracket the point estimate %v", lo, hi, point)
	}
}

// TestMedianRound: a worker count's row is its median round by runs/s (the
// lower middle one for an even count), whole (its other fields with it).
func TestMedianRound(t *testing.T) {
	tp := func(rps, cpu float64) Throughput { return Throughput{RunsPerSec: rps, CPUSec: cpu} }
	if got := medianRound([]Throughput{tp(3, 0.3), tp(1, 0.1), tp(2, 0.2)}); got != tp(2, 0.2) {
		t.Errorf("odd: %+v", got)
	}
	if got := medianRound([]Throughput{tp(4, 0.4), tp(1, 0.1), tp(3, 0.3), tp(2, 0.2)}); got != tp(2, 0.2) {
		t.Errorf("even: %+v", got)
	}
	in := []Throughput{tp(2, 0), tp(1, 0)}
	medianRound(in)
	if in[0].RunsPerSec != 2 {
		t.Error("medianRound reordered its argument")
	}
}
