package fuzz

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"syscall"
	"time"
)

// BenchOptions configures RunBench.
type BenchOptions struct {
	Campaigns int // campaign seeds per (switch, strategy)
	MaxRuns   int // run budget per detection campaign
	// BaselineMaxRuns is the rapid baseline's budget in test cases. It is
	// larger than MaxRuns because the baseline misses the interleaving
	// switches for thousands of cases: with the same small budget its
	// medians are censored and every ratio against them is only a bound.
	BaselineMaxRuns int
	Strategies      []string // rsrsim strategies to measure
	Bugs            []string // switches to measure (all if empty)
	Baseline        bool     // also measure the rapid baseline
	ThroughRun      int      // runs for the throughput measurement (0: skip it)
	// ThroughRounds is how many times the one-worker and all-worker
	// throughput measurements are repeated, alternating (0 counts as 1).
	// The report keeps each worker count's median round and the median of
	// the rounds' scaling ratios: on a shared machine one pair of short
	// measurements can be off by a fifth.
	ThroughRounds int `json:"throughput_rounds,omitempty"`
	// Rates, when > 0, also measures per-run detection rates over this many
	// runs per (switch, strategy) (RunRates), and relates them to the
	// baseline's campaign medians of the same invocation.
	Rates    int       `json:"rates_runs,omitempty"`
	Progress io.Writer `json:"-"`
}

// DefaultBenchOptions is what `rsrsim bench` runs by default.
func DefaultBenchOptions() BenchOptions {
	return BenchOptions{Campaigns: 10, MaxRuns: 3000, BaselineMaxRuns: 20000,
		Strategies: []string{"uniform", "pct", "swarm", "swarm-pct", "buggify-pct", "site-buggify-pct", "test-style-pct", "portfolio-pct"},
		Baseline:   true, ThroughRun: 3000, ThroughRounds: 5}
}

// Cell is one (switch, strategy) measurement.
type Cell struct {
	Strategy   string  `json:"strategy"`
	Found      int     `json:"campaigns_found"`
	Campaigns  int     `json:"campaigns"`
	MedianRuns float64 `json:"median_runs"`
	MaxRuns    int     `json:"max_runs"`
	MedianCPU  float64 `json:"median_cpu_seconds"`
	MaxCPU     float64 `json:"max_cpu_seconds"`
	// RatioToBaseline is MedianCPU / the baseline's MedianCPU (below 1 is
	// faster). Campaigns that hit the budget count with the budget's cost,
	// so a ratio against an undetecting baseline is a bound.
	RatioToBaseline float64 `json:"ratio_to_baseline,omitempty"`
	// RatioBound says how exact RatioToBaseline is: "" exact, "<=" the
	// baseline's median is censored (the true ratio is at most this), ">="
	// this strategy's median is censored (at least this), "?" both.
	RatioBound string `json:"ratio_bound,omitempty"`
	Censored   bool   `json:"censored,omitempty"` // some campaign hit the budget
	// MedianCensored: the median itself is a lower bound, because a
	// campaign that hit the budget is among the values it is taken from.
	// With fewer than half the campaigns censored (and each censored
	// campaign's cost above the median), the median is exact.
	MedianCensored bool `json:"median_censored,omitempty"`
	// CampaignCPU is each campaign's CPU-seconds, in campaign order (the
	// bootstrap resamples them).
	CampaignCPU []float64 `json:"campaign_cpu_seconds"`
	// CampaignFound says which campaigns found the switch.
	CampaignFound []bool `json:"campaign_found"`
	// StepsPerRun and CPUPerStep are over all the cell's campaigns: what
	// a run (a test case, for the baseline) and one atomic step cost.
	StepsPerRun float64 `json:"steps_per_run"`
	CPUPerStep  float64 `json:"cpu_seconds_per_step"`
	// TotalSteps and TotalRuns are the sums the two above come from.
	TotalSteps uint64 `json:"total_steps"`
	TotalRuns  int    `json:"total_runs"`
}

// BugRow is one switch's measurements.
type BugRow struct {
	Bug   string `json:"bug"`
	Cells []Cell `json:"cells"`
}

// Throughput is the steps and runs per second of the default workload.
type Throughput struct {
	Workers    int     `json:"workers"`
	Runs       int     `json:"runs"`
	RunsPerSec float64 `json:"runs_per_second"`
	StepsPerS  float64 `json:"steps_per_second"`
	// CPUSec is the process's CPU time (user + system, garbage collector
	// included) during the measurement; StepsPerCPUSec = steps / CPUSec
	// is the per-core figure.
	CPUSec         float64 `json:"cpu_seconds"`
	StepsPerCPUSec float64 `json:"steps_per_cpu_second"`
}

// StrategyThroughput is the default workload's throughput on one worker
// under one strategy.
type StrategyThroughput struct {
	Strategy       string  `json:"strategy"`
	Runs           int     `json:"runs"`
	RunsPerSec     float64 `json:"runs_per_second"`
	StepsPerS      float64 `json:"steps_per_second"`
	StepsPerCPUSec float64 `json:"steps_per_cpu_second"`
	StepsPerRun    float64 `json:"steps_per_run"`
}

// StrategyGeo is one strategy's geometric mean ratio to the baseline.
type StrategyGeo struct {
	Strategy string  `json:"strategy"`
	GeoMean  float64 `json:"geomean_ratio"`
	// Bound combines the cells' RatioBound: "" when every ratio is exact,
	// "<=" when some are upper bounds and none lower bounds, ">=" the
	// reverse, "?" when both kinds are mixed in.
	Bound string `json:"bound,omitempty"`
	// CILow and CIHigh are a 95% bootstrap interval of GeoMean: campaigns
	// resampled with replacement within every cell (baseline included),
	// medians, ratios and the geometric mean recomputed, 2,000 times.
	CILow  float64 `json:"ci95_low"`
	CIHigh float64 `json:"ci95_high"`
}

// Machine says when and where a report was measured.
type Machine struct {
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	CPUs      int    `json:"cpus"`
}

func thisMachine() Machine {
	return Machine{Date: time.Now().UTC().Format("2006-01-02"), GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
}

func (m Machine) writeHeader(w io.Writer, command string) {
	fmt.Fprintf(w, "Measured %s on this project's machine (%d CPUs, %s) with:\n\n    %s\n\n", m.Date, m.CPUs, m.GoVersion, command)
}

// BenchReport is RunBench's result.
type BenchReport struct {
	Machine
	Throughput []Throughput         `json:"throughput"`
	ByStrategy []StrategyThroughput `json:"throughput_by_strategy"`
	Scaling    float64              `json:"scaling_all_vs_one_worker"`
	// ScalingRounds are the rounds' scaling ratios (all workers' runs/s
	// over one worker's, each round measured back to back); Scaling is
	// their median.
	ScalingRounds []float64     `json:"scaling_rounds,omitempty"`
	PeakRSSMiB    float64       `json:"peak_rss_mib"`
	Options       BenchOptions  `json:"options"`
	Rows          []BugRow      `json:"rows"`
	GeoMeans      []StrategyGeo `json:"geomean_ratios"`
	BestGeoMean   float64       `json:"best_strategy_geomean_ratio"`
	Best          string        `json:"best_strategy"`
	Rates         *RatesReport  `json:"rates,omitempty"`
}

// RunBench measures everything in one invocation, one thing at a time (so
// CPU times are not disturbed by concurrent work).
func RunBench(o BenchOptions) (*BenchReport, error) {
	rep := &BenchReport{Machine: thisMachine(), Options: o}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if err := rep.throughput(o, say); err != nil {
		return nil, err
	}
	if err := rep.campaigns(o, say); err != nil {
		return nil, err
	}
	if o.Rates > 0 {
		rates, err := RunRates(RateOptions{Runs: o.Rates, Strategies: o.Strategies, Bugs: o.Bugs, Progress: o.Progress})
		if err != nil {
			return nil, err
		}
		rates.relateToBaseline(rep.Rows)
		rep.Rates = rates
	}
	return rep, nil
}

// throughput measures the throughput rows (skipped when o.ThroughRun is 0).
func (rep *BenchReport) throughput(o BenchOptions, say func(string, ...any)) error {
	if o.ThroughRun == 0 {
		return nil
	}
	// Throughput: default workload, every oracle on.
	t, err := NewTarget("rsr", nil)
	if err != nil {
		return err
	}
	// Warm up first: the process's first runs pay for growing the heap and
	// the coroutine pool, which would otherwise land on the one-worker row
	// alone (and flatter the scaling figure).
	if _, err := (&Campaign{Target: t, Engine: DefaultEngine(), Seed: 1 << 40, Runs: max(o.ThroughRun/5, 1), Workers: runtime.NumCPU()}).Run(); err != nil {
		return err
	}
	// Rounds of one worker then all workers (every other round the other
	// way round, so that a drift in the machine's speed does not favour
	// one side); each worker count's row is its median round.
	workers := []int{1, runtime.NumCPU()}
	rounds := max(o.ThroughRounds, 1)
	byWorkers := make([][]Throughput, len(workers))
	for round := range rounds {
		var tps [2]Throughput
		for k := range workers {
			if round%2 == 1 {
				k = len(workers) - 1 - k
			}
			w := workers[k]
			c := &Campaign{Target: t, Engine: DefaultEngine(), Seed: 1, Runs: o.ThroughRun, Workers: w}
			c0 := cpuSeconds()
			s, err := c.Run()
			if err != nil {
				return err
			}
			tp := Throughput{Workers: w, Runs: s.Runs, RunsPerSec: s.RunsPerSec, StepsPerS: s.StepsPerS, CPUSec: cpuSeconds() - c0}
			if tp.CPUSec > 0 {
				tp.StepsPerCPUSec = float64(s.Steps) / tp.CPUSec
			}
			tps[k] = tp
			byWorkers[k] = append(byWorkers[k], tp)
			say("throughput (round %d/%d): %d worker(s): %.0f runs/s, %.0f steps/s, %.0f steps per CPU-second", round+1, rounds, w, s.RunsPerSec, s.StepsPerS, tp.StepsPerCPUSec)
		}
		if tps[0].RunsPerSec > 0 {
			rep.ScalingRounds = append(rep.ScalingRounds, tps[1].RunsPerSec/tps[0].RunsPerSec)
		}
	}
	for _, tps := range byWorkers {
		rep.Throughput = append(rep.Throughput, medianRound(tps))
	}
	if len(rep.ScalingRounds) > 0 {
		rep.Scaling = median(rep.ScalingRounds)
	}
	// Per strategy, one worker: a strategy changes what a step costs (hot
	// faults respawn crashed nodes; the test-style shape keeps more
	// volumes alive for the checks to scan), so steps/s is only comparable
	// under one strategy.
	for _, st := range o.Strategies {
		eng := DefaultEngine()
		eng.Strategy = st
		c := &Campaign{Target: t, Engine: eng, Seed: 1, Runs: o.ThroughRun, Workers: 1}
		c0 := cpuSeconds()
		s, err := c.Run()
		if err != nil {
			return err
		}
		tp := StrategyThroughput{Strategy: st, Runs: s.Runs, RunsPerSec: s.RunsPerSec, StepsPerS: s.StepsPerS, StepsPerRun: float64(s.Steps) / float64(max(s.Runs, 1))}
		if cpu := cpuSeconds() - c0; cpu > 0 {
			tp.StepsPerCPUSec = float64(s.Steps) / cpu
		}
		rep.ByStrategy = append(rep.ByStrategy, tp)
		say("throughput %s: %.0f runs/s, %.0f steps/s, %.0f steps per CPU-second", st, s.RunsPerSec, s.StepsPerS, tp.StepsPerCPUSec)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		rep.PeakRSSMiB = float64(ru.Maxrss) / 1024 // Linux: KiB
	}
	return nil
}

// medianRound is the round with the median runs per second (the lower of
// the two middle ones for an even count).
func medianRound(tps []Throughput) Throughput {
	s := slices.Clone(tps)
	slices.SortFunc(s, func(a, b Throughput) int { return cmp.Compare(a.RunsPerSec, b.RunsPerSec) })
	return s[(len(s)-1)/2]
}

// campaigns runs the detection campaigns (skipped when o.Campaigns is 0).
func (rep *BenchReport) campaigns(o BenchOptions, say func(string, ...any)) error {
	if o.Campaigns == 0 {
		return nil
	}

	bugs := benchBugs(o.Bugs)
	geo := map[string][]float64{}
	bounds := map[string][]string{}
	for _, bug := range bugs {
		bt, err := BugTargetFor(bug)
		if err != nil {
			return err
		}
		cfg, err := DetectionConfig(bug)
		if err != nil {
			return err
		}
		tg, err := NewRSRTarget(cfg)
		if err != nil {
			return err
		}
		row := BugRow{Bug: bug}
		var base *Cell
		if o.Baseline {
			var ds []Detection
			for i := 0; i < o.Campaigns; i++ {
				d, err := RapidDetect(cfg, BaselineSeed(i), o.BaselineMaxRuns, bt.Match)
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			c := summarize("rapid-baseline", ds)
			row.Cells = append(row.Cells, c)
			base = &row.Cells[len(row.Cells)-1]
			say("%s rapid-baseline: found %d/%d, median %.0f runs %.3f CPU-s", bug, c.Found, c.Campaigns, c.MedianRuns, c.MedianCPU)
		}
		for _, st := range o.Strategies {
			eng := DefaultEngine()
			eng.Strategy = st
			var ds []Detection
			for i := 0; i < o.Campaigns; i++ {
				d, err := Detect(tg, eng, uint64(i)*1_000_000, o.MaxRuns, bt.Match)
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			c := summarize(st, ds)
			if base != nil && base.MedianCPU > 0 {
				c.RatioToBaseline = c.MedianCPU / base.MedianCPU
				c.RatioBound = ratioBound(c.MedianCensored, base.MedianCensored)
				geo[st] = append(geo[st], math.Max(c.RatioToBaseline, 1e-6))
				bounds[st] = append(bounds[st], c.RatioBound)
			}
			row.Cells = append(row.Cells, c)
			say("%s %s: found %d/%d, median %.0f runs %.3f CPU-s", bug, st, c.Found, c.Campaigns, c.MedianRuns, c.MedianCPU)
		}
		rep.Rows = append(rep.Rows, row)
	}
	best := math.Inf(1)
	for _, st := range o.Strategies {
		if len(geo[st]) == 0 {
			continue
		}
		s := 0.0
		for _, r := range geo[st] {
			s += math.Log(r)
		}
		g := math.Exp(s / float64(len(geo[st])))
		lo, hi := bootstrapGeoMean(rep.Rows, st, 2000)
		rep.GeoMeans = append(rep.GeoMeans, StrategyGeo{st, g, combineBounds(bounds[st]), lo, hi})
		if g < best {
			best, rep.Best = g, st
		}
	}
	if !math.IsInf(best, 1) {
		rep.BestGeoMean = best
	}
	return nil
}

// BaselineSeed is the rapid seed of baseline campaign i. Rapid runs test
// case k of a check with seed s+k(k+1)/2, so campaigns seeded 1, 2, 3, ...
// share most of their test cases (campaign 1's second case is campaign 2's
// first): their detections were not independent. Seeds 2^32 apart keep
// campaigns disjoint for the first 92,000 test cases; seed 0 (rapid: "pick
// one at random") is never used.
func BaselineSeed(i int) uint64 { return uint64(i+1) << 32 }

// ratioBound is a cell's RatioBound from which medians are censored.
func ratioBound(strategyCensored, baselineCensored bool) string {
	switch {
	case strategyCensored && baselineCensored:
		return "?"
	case baselineCensored:
		return "<="
	case strategyCensored:
		return ">="
	}
	return ""
}

// combineBounds is the bound of a geometric mean of ratios with bounds bs.
func combineBounds(bs []string) string {
	up, down := false, false
	for _, b := range bs {
		switch b {
		case "<=":
			up = true
		case ">=":
			down = true
		case "?":
			up, down = true, true
		}
	}
	switch {
	case up && down:
		return "?"
	case up:
		return "<="
	case down:
		return ">="
	}
	return ""
}

// summarize turns campaign outcomes into a cell. A campaign that hit its
// budget counts with its budget (runs and CPU): medians are then lower
// bounds, flagged Censored.
func summarize(strategy string, ds []Detection) Cell {
	c := Cell{Strategy: strategy, Campaigns: len(ds)}
	runs := make([]float64, len(ds))
	cpu := make([]float64, len(ds))
	for i, d := range ds {
		if d.Found {
			c.Found++
		} else {
			c.Censored = true
		}
		runs[i], cpu[i] = float64(d.Runs), d.CPUSec
		if d.Runs > c.MaxRuns {
			c.MaxRuns = d.Runs
		}
		if d.CPUSec > c.MaxCPU {
			c.MaxCPU = d.CPUSec
		}
	}
	c.MedianRuns, c.MedianCPU = median(runs), median(cpu)
	c.CampaignCPU = cpu
	cpuAll := 0.0
	for _, d := range ds {
		c.TotalSteps += d.Steps
		c.TotalRuns += d.Runs
		cpuAll += d.CPUSec
	}
	if c.TotalRuns > 0 && c.TotalSteps > 0 {
		c.StepsPerRun = float64(c.TotalSteps) / float64(c.TotalRuns)
		c.CPUPerStep = cpuAll / float64(c.TotalSteps)
	}
	for _, d := range ds {
		c.CampaignFound = append(c.CampaignFound, d.Found)
		// A censored campaign's true cost is above its recorded one: the
		// median is exact only if every censored value sorts strictly
		// above the values it is taken from.
		if !d.Found && (2*(len(ds)-c.Found) >= len(ds) || d.CPUSec <= medianTop(cpu)) {
			c.MedianCensored = true
		}
	}
	return c
}

// medianTop is the larger of the values the median of xs is taken from.
func medianTop(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// bootstrapGeoMean is a 95% percentile-bootstrap interval of strategy st's
// geometric-mean ratio to the baseline over rows: in each of n rounds every
// cell's campaigns are resampled with replacement and the medians, ratios
// and geometric mean recomputed. The resampling is seeded, so a report is
// reproducible from its campaign values. Censored campaigns keep their
// recorded (budget) cost, so the interval carries the same bounds as the
// point estimate.
func bootstrapGeoMean(rows []BugRow, st string, n int) (lo, hi float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []float64
	resample := func(xs []float64) float64 {
		buf = buf[:0]
		for range xs {
			buf = append(buf, xs[rng.IntN(len(xs))])
		}
		return median(buf)
	}
	var geos []float64
	for range n {
		sum, k := 0.0, 0
		for _, row := range rows {
			var base, cell *Cell
			for i := range row.Cells {
				switch row.Cells[i].Strategy {
				case "rapid-baseline":
					base = &row.Cells[i]
				case st:
					cell = &row.Cells[i]
				}
			}
			if base == nil || cell == nil || len(base.CampaignCPU) == 0 || len(cell.CampaignCPU) == 0 {
				continue
			}
			b := resample(base.CampaignCPU)
			c := resample(cell.CampaignCPU)
			if b <= 0 {
				continue
			}
			sum += math.Log(math.Max(c/b, 1e-6))
			k++
		}
		if k > 0 {
			geos = append(geos, math.Exp(sum/float64(k)))
		}
	}
	if len(geos) == 0 {
		return 0, 0
	}
	sort.Float64s(geos)
	return geos[len(geos)*25/1000], geos[len(geos)*975/1000-1]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteMarkdown renders the report as the tables of BENCHMARKS.md.
func (rep *BenchReport) WriteMarkdown(w io.Writer, command string) {
	rep.Machine.writeHeader(w, command)
	if len(rep.Throughput) > 0 {
		rep.writeThroughput(w)
	}
	if len(rep.Rows) > 0 {
		rep.writeCampaigns(w)
	}
	if rep.Rates != nil {
		fmt.Fprintln(w)
		rep.Rates.writeTables(w)
	}
}

func (rep *BenchReport) writeThroughput(w io.Writer) {
	fmt.Fprintf(w, "### Throughput (default workload, every oracle on)\n\n| workers | runs | runs/s | atomic steps/s | CPU-s | atomic steps per CPU-second |\n|---|---|---|---|---|---|\n")
	for _, t := range rep.Throughput {
		fmt.Fprintf(w, "| %d | %d | %.0f | %.0f | %.2f | %.0f |\n", t.Workers, t.Runs, t.RunsPerSec, t.StepsPerS, t.CPUSec, t.StepsPerCPUSec)
	}
	if n := len(rep.ScalingRounds); n > 1 {
		fmt.Fprintf(w, "\nEach row is the median of %d rounds (one worker and %d workers measured back to back in each round, %d runs each). Scaling from 1 to %d workers: %.2fx, the median of the rounds' ratios (%.2fx to %.2fx). Peak RSS of the whole process: %.0f MiB.\n\n",
			n, rep.CPUs, rep.Throughput[0].Runs, rep.CPUs, rep.Scaling, slices.Min(rep.ScalingRounds), slices.Max(rep.ScalingRounds), rep.PeakRSSMiB)
	} else {
		fmt.Fprintf(w, "\nScaling from 1 to %d workers: %.2fx. Peak RSS of the whole process: %.0f MiB.\n\n", rep.CPUs, rep.Scaling, rep.PeakRSSMiB)
	}
	if len(rep.ByStrategy) > 0 {
		fmt.Fprintf(w, "Per strategy (default workload, one worker, %d runs each; the rows above use the default strategy, %s):\n\n| strategy | runs/s | atomic steps/s | atomic steps per CPU-second | steps per run |\n|---|---|---|---|---|\n", rep.ByStrategy[0].Runs, DefaultEngine().Strategy)
		for _, t := range rep.ByStrategy {
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f |\n", t.Strategy, t.RunsPerSec, t.StepsPerS, t.StepsPerCPUSec, t.StepsPerRun)
		}
		fmt.Fprintln(w)
	}
}

func (rep *BenchReport) writeCampaigns(w io.Writer) {
	fmt.Fprintf(w, "### Time to detect each pre-fix switch (profile rsr-focus, %d campaigns, budget %d runs each; rapid baseline %d test cases)\n\n", rep.Options.Campaigns, rep.Options.MaxRuns, rep.Options.BaselineMaxRuns)
	fmt.Fprintf(w, "Each cell: campaigns that found the switch's signature / campaigns; median and max runs; median and max CPU-seconds; ratio of the median CPU-seconds to the rapid baseline's (below 1 = faster). `≥` marks a median that is a lower bound (campaigns that hit the budget are among the values it is taken from); a ratio marked `≤` is an upper bound (the baseline's median is censored), `≥` a lower bound, `?` both.\n\n")
	fmt.Fprintf(w, "| switch | strategy | found | median runs | max runs | median CPU-s | max CPU-s | ratio to baseline |\n|---|---|---|---|---|---|---|---|\n")
	for _, row := range rep.Rows {
		for _, c := range row.Cells {
			ge := ""
			if c.MedianCensored {
				ge = "≥"
			}
			ratio := ""
			if c.RatioToBaseline > 0 {
				ratio = boundMark(c.RatioBound) + fmt.Sprintf("%.4f", c.RatioToBaseline)
			}
			fmt.Fprintf(w, "| %s | %s | %d/%d | %s%.0f | %d | %s%.3f | %.3f | %s |\n", row.Bug, c.Strategy, c.Found, c.Campaigns, ge, c.MedianRuns, c.MaxRuns, ge, c.MedianCPU, c.MaxCPU, ratio)
		}
	}
	rep.writeStepCost(w)
	if len(rep.GeoMeans) > 0 {
		fmt.Fprintf(w, "\nGeometric mean over all switches of each strategy's CPU-time ratio to the rapid baseline (`≤`: some ratios are upper bounds, so the true geometric mean is at most this and the speed-up at least this), with a 95%% bootstrap interval (campaigns resampled within each cell, 2,000 rounds):\n\n| strategy | geomean ratio | speed-up | 95%% interval of the speed-up |\n|---|---|---|---|\n")
		for _, g := range rep.GeoMeans {
			ci := ""
			if g.CILow > 0 {
				ci = fmt.Sprintf("%.1fx – %.1fx", 1/g.CIHigh, 1/g.CILow)
			}
			fmt.Fprintf(w, "| %s | %s%.3f | %s%.1fx | %s |\n", g.Strategy, boundMark(g.Bound), g.GeoMean, boundMark(flipBound(g.Bound)), 1/g.GeoMean, ci)
		}
	}
	if rep.Best != "" {
		b := ""
		for _, g := range rep.GeoMeans {
			if g.Strategy == rep.Best {
				b = g.Bound
			}
		}
		fmt.Fprintf(w, "\nBest strategy by geometric mean of the CPU-time ratio to the rapid baseline over all switches: **%s, %s%.3f** (%s%.1fx faster).\n", rep.Best, boundMark(b), rep.BestGeoMean, boundMark(flipBound(b)), 1/rep.BestGeoMean)
	}
}

// writeStepCost is what a run and an atomic step cost per strategy, over
// every campaign of every switch: the baseline drives the same model and
// oracles, so its cost per step shows how much of a ratio is scheduling.
func (rep *BenchReport) writeStepCost(w io.Writer) {
	type acc struct {
		steps, runs, cpu float64
	}
	var order []string
	sum := map[string]*acc{}
	for _, row := range rep.Rows {
		for _, c := range row.Cells {
			if c.TotalSteps == 0 || c.TotalRuns == 0 {
				continue
			}
			a := sum[c.Strategy]
			if a == nil {
				a = &acc{}
				sum[c.Strategy] = a
				order = append(order, c.Strategy)
			}
			for _, x := range c.CampaignCPU {
				a.cpu += x
			}
			a.steps += float64(c.TotalSteps)
			a.runs += float64(c.TotalRuns)
		}
	}
	if len(order) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWhat a run and an atomic step cost in these campaigns (all switches together; a run of the baseline is a rapid test case):\n\n| strategy | steps per run | CPU-µs per step | CPU-ms per run |\n|---|---|---|---|\n")
	for _, st := range order {
		a := sum[st]
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.3f |\n", st, a.steps/a.runs, 1e6*a.cpu/a.steps, 1e3*a.cpu/a.runs)
	}
}

// boundMark renders a RatioBound for a table.
func boundMark(b string) string {
	switch b {
	case "<=":
		return "≤"
	case ">=":
		return "≥"
	case "?":
		return "?"
	}
	return ""
}

// flipBound is the bound of 1/x when x has bound b.
func flipBound(b string) string {
	switch b {
	case "<=":
		return ">="
	case ">=":
		return "<="
	}
	return b
}
