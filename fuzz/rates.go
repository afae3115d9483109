package fuzz

import (
	"fmt"
	"io"
	"math"
)

// Per-run detection rates: the second half of `rsrsim bench`.
//
// A detection campaign's median over 10-20 campaigns is noisy (its 95%
// interval spans a factor of two), and it cannot say how much better any
// mix of the strategies could do. Runs of an rsrsim strategy are
// independent draws (seed i is run i), so the time to detect a switch is
// geometric: a strategy that detects it in a fraction p of runs costing c
// CPU-seconds each needs c/p CPU-seconds per detection on average, and its
// median time to detect is about ln 2 of that. Measuring p and c over
// thousands of runs gives that figure to a few percent, and from it:
//
//   - which strategy is best on each switch;
//   - the "per-switch best" geometric mean: what a scheduler that knew in
//     advance which switch it was looking for, and picked the best of the
//     measured strategies for it, would achieve. No mix of the measured
//     strategies (a portfolio drawing among them per run) can beat it,
//     because a mix's cost per detection on a switch is at least its best
//     member's. Each strategy's distance to it is its headroom.
//
// The rapid baseline is not measured this way: rapid's test cases are not
// independent draws (early cases are small and each check's seeds follow
// one another), so its time to detect comes only from the campaigns. When
// the same invocation ran them, each cell's implied median (ln 2 times its
// CPU per detection) is related to the baseline's campaign median.

// RateOptions configures RunRates.
type RateOptions struct {
	Runs       int       `json:"runs"`       // runs per (switch, strategy)
	Strategies []string  `json:"strategies"` // rsrsim strategies to measure
	Bugs       []string  `json:"bugs"`       // switches to measure (all if empty)
	Progress   io.Writer `json:"-"`
}

// RateCell is one (switch, strategy) per-run detection rate.
type RateCell struct {
	Strategy string  `json:"strategy"`
	Runs     int     `json:"runs"`
	Hits     int     `json:"hits"`
	Steps    uint64  `json:"steps"`
	CPUSec   float64 `json:"cpu_seconds"`
	// RateLow and RateHigh are the Wilson 95% interval of Hits/Runs.
	RateLow  float64 `json:"rate_ci95_low"`
	RateHigh float64 `json:"rate_ci95_high"`
	// CPUPerHit is CPU-seconds per detection, CPUSec/Hits. With no hit it
	// is CPUSec/3 (three is the 95% upper bound of the expected hits when
	// none was seen), a lower bound, and Bound is ">=".
	CPUPerHit float64 `json:"cpu_seconds_per_detection"`
	Bound     string  `json:"bound,omitempty"`
	// Implied is ln 2 · CPUPerHit (the median time to detect of a
	// geometric distribution) over the rapid baseline's campaign median
	// CPU-seconds; ImpliedBound as Cell.RatioBound.
	Implied      float64 `json:"implied_ratio_to_baseline,omitempty"`
	ImpliedBound string  `json:"implied_ratio_bound,omitempty"`
}

// RateRow is one switch's cells and its best strategy.
type RateRow struct {
	Bug   string     `json:"bug"`
	Cells []RateCell `json:"cells"`
	Best  string     `json:"best_strategy"`
}

// RateGeo is a strategy's geometric mean over switches of CPU-seconds per
// detection, and its ratio to the per-switch best's (>= 1: the most a
// portfolio of the measured strategies could gain over it).
type RateGeo struct {
	Strategy   string  `json:"strategy"`
	GeoCPU     float64 `json:"geomean_cpu_seconds_per_detection"`
	Bound      string  `json:"bound,omitempty"`
	OverBest   float64 `json:"ratio_to_per_switch_best"`
	BoundOver  string  `json:"ratio_bound,omitempty"`
	MeanRunCPU float64 `json:"mean_cpu_seconds_per_run"`
	// Speedup is 1 / the geometric mean of the cells' Implied ratios
	// (0 without a baseline); SpeedupBound its bound.
	Speedup      float64 `json:"implied_speedup,omitempty"`
	SpeedupBound string  `json:"implied_speedup_bound,omitempty"`
}

// RatesReport is the output of RunRates.
type RatesReport struct {
	Machine
	Options RateOptions `json:"options"`
	Rows    []RateRow   `json:"rows"`
	Geo     []RateGeo   `json:"geomeans"`
	// BestGeo is the per-switch best geometric mean; BestBound is ">="
	// when a switch's best cell saw no hit.
	BestGeo   float64 `json:"per_switch_best_geomean_cpu_seconds_per_detection"`
	BestBound string  `json:"per_switch_best_bound,omitempty"`
	// BestSpeedup is the per-switch best's implied speed-up over the
	// baseline (each switch's best cell's Implied ratio, geometric mean).
	BestSpeedup      float64 `json:"per_switch_best_implied_speedup,omitempty"`
	BestSpeedupBound string  `json:"per_switch_best_implied_speedup_bound,omitempty"`
}

// relateToBaseline fills the implied ratios from the rapid baseline's
// campaign cells in rows (a no-op without them).
func (rep *RatesReport) relateToBaseline(rows []BugRow) {
	base := map[string]*Cell{}
	for i := range rows {
		for j := range rows[i].Cells {
			if c := &rows[i].Cells[j]; c.Strategy == "rapid-baseline" && c.MedianCPU > 0 {
				base[rows[i].Bug] = c
			}
		}
	}
	if len(base) == 0 {
		return
	}
	speed := func(pick func(row *RateRow) *RateCell) (float64, string) {
		lg, n := 0.0, 0
		var bounds []string
		for i := range rep.Rows {
			c := pick(&rep.Rows[i])
			if c == nil || c.Implied <= 0 {
				continue
			}
			lg += math.Log(c.Implied)
			n++
			bounds = append(bounds, c.ImpliedBound)
		}
		if n == 0 {
			return 0, ""
		}
		return 1 / math.Exp(lg/float64(n)), flipBound(combineBounds(bounds))
	}
	for i := range rep.Rows {
		row := &rep.Rows[i]
		b := base[row.Bug]
		if b == nil {
			continue
		}
		for j := range row.Cells {
			c := &row.Cells[j]
			c.Implied = math.Ln2 * c.CPUPerHit / b.MedianCPU
			c.ImpliedBound = ratioBound(c.Bound != "", b.MedianCensored)
		}
	}
	for k := range rep.Geo {
		g := &rep.Geo[k]
		g.Speedup, g.SpeedupBound = speed(func(row *RateRow) *RateCell {
			for j := range row.Cells {
				if row.Cells[j].Strategy == g.Strategy {
					return &row.Cells[j]
				}
			}
			return nil
		})
	}
	rep.BestSpeedup, rep.BestSpeedupBound = speed(func(row *RateRow) *RateCell { return bestRateCell(row.Cells) })
}

// RateSeed is the seed of run i of a rate measurement: far from the
// campaigns' seeds (i·10⁶ + run), so the two measurements share no run.
func RateSeed(i int) uint64 { return 1<<40 + uint64(i) }

// RunRates measures per-run detection rates.
func RunRates(o RateOptions) (*RatesReport, error) {
	rep := &RatesReport{Machine: thisMachine(), Options: o}
	bugs := benchBugs(o.Bugs)
	for _, bug := range bugs {
		bt, err := BugTargetFor(bug)
		if err != nil {
			return nil, err
		}
		cfg, err := DetectionConfig(bug)
		if err != nil {
			return nil, err
		}
		tg, err := NewRSRTarget(cfg)
		if err != nil {
			return nil, err
		}
		row := RateRow{Bug: bug}
		for _, st := range o.Strategies {
			eng := DefaultEngine()
			eng.Strategy = st
			c := RateCell{Strategy: st, Runs: o.Runs}
			c0 := cpuSeconds()
			for i := range o.Runs {
				res, err := ExecuteSeed(tg, eng, RateSeed(i), RunOptions{NoRecord: true})
				if err != nil {
					return nil, err
				}
				c.Steps += uint64(res.Steps)
				if res.Violation != nil && bt.Match(res.Violation.Signature) {
					c.Hits++
				}
			}
			c.CPUSec = cpuSeconds() - c0
			c.RateLow, c.RateHigh = wilson(c.Hits, c.Runs)
			if c.Hits > 0 {
				c.CPUPerHit = c.CPUSec / float64(c.Hits)
			} else {
				c.CPUPerHit, c.Bound = c.CPUSec/3, ">="
			}
			row.Cells = append(row.Cells, c)
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "rates %s %s: %d/%d runs, %.2f ms per detection\n", bug, st, c.Hits, c.Runs, 1000*c.CPUPerHit)
			}
		}
		if b := bestRateCell(row.Cells); b != nil {
			row.Best = b.Strategy
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.summarize()
	return rep, nil
}

// bestRateCell is the cell with the least CPU per detection, preferring a
// measured one to a bound.
func bestRateCell(cs []RateCell) *RateCell {
	var b *RateCell
	for i := range cs {
		c := &cs[i]
		switch {
		case b == nil:
			b = c
		case (c.Bound == "") != (b.Bound == ""):
			if c.Bound == "" {
				b = c
			}
		case c.CPUPerHit < b.CPUPerHit:
			b = c
		}
	}
	return b
}

// summarize computes the geometric means and the per-switch best.
func (rep *RatesReport) summarize() {
	rep.Geo = nil
	if len(rep.Rows) == 0 {
		return
	}
	bestLog, bestBound := 0.0, ""
	for _, row := range rep.Rows {
		b := bestRateCell(row.Cells)
		if b == nil {
			return
		}
		bestLog += math.Log(b.CPUPerHit)
		if b.Bound != "" {
			bestBound = ">="
		}
	}
	n := float64(len(rep.Rows))
	rep.BestGeo, rep.BestBound = math.Exp(bestLog/n), bestBound
	for _, st := range rep.Options.Strategies {
		lg, bound, runCPU, runs := 0.0, "", 0.0, 0
		for _, row := range rep.Rows {
			for _, c := range row.Cells {
				if c.Strategy == st {
					lg += math.Log(c.CPUPerHit)
					runCPU += c.CPUSec
					runs += c.Runs
					if c.Bound != "" {
						bound = ">="
					}
				}
			}
		}
		g := RateGeo{Strategy: st, GeoCPU: math.Exp(lg / n), Bound: bound, MeanRunCPU: runCPU / float64(max(runs, 1))}
		g.OverBest = g.GeoCPU / rep.BestGeo
		// A lower bound over a lower bound says nothing; over an exact
		// best it stays a lower bound.
		switch {
		case bound != "" && bestBound != "":
			g.BoundOver = "?"
		case bound != "":
			g.BoundOver = ">="
		case bestBound != "":
			g.BoundOver = "<="
		}
		rep.Geo = append(rep.Geo, g)
	}
}

// wilson is the Wilson score 95% interval of k successes in n trials.
func wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p, nn := float64(k)/float64(n), float64(n)
	d := 1 + z*z/nn
	mid := (p + z*z/(2*nn)) / d
	half := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / d
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

// WriteMarkdown renders the report as the tables of BENCHMARKS.md.
func (rep *RatesReport) WriteMarkdown(w io.Writer, command string) {
	rep.Machine.writeHeader(w, command)
	rep.writeTables(w)
}

func (rep *RatesReport) writeTables(w io.Writer) {
	fmt.Fprintf(w, "### Per-run detection rates (profile rsr-focus, %d runs per cell)\n\n", rep.Options.Runs)
	fmt.Fprintf(w, "Each cell: runs whose violation is the switch's signature, the rate's 95%% Wilson interval, atomic steps per run, CPU-milliseconds per run and per detection (`≥`: no run detected it; the figure is CPU/3, a lower bound). The expected time to detect is the cost per detection; the median is about 0.69 of it. **Bold**: the switch's best strategy.\n\n")
	fmt.Fprintf(w, "| switch | strategy | detections | rate (95%% interval) | steps per run | CPU-ms per run | CPU-ms per detection |\n|---|---|---|---|---|---|---|\n")
	for _, row := range rep.Rows {
		for _, c := range row.Cells {
			name := c.Strategy
			if name == row.Best {
				name = "**" + name + "**"
			}
			fmt.Fprintf(w, "| %s | %s | %d/%d | %.4f (%.4f–%.4f) | %.0f | %.3f | %s%.2f |\n", row.Bug, name, c.Hits, c.Runs,
				float64(c.Hits)/float64(max(c.Runs, 1)), c.RateLow, c.RateHigh, float64(c.Steps)/float64(max(c.Runs, 1)),
				1000*c.CPUSec/float64(max(c.Runs, 1)), boundMark(c.Bound), 1000*c.CPUPerHit)
		}
	}
	if len(rep.Geo) == 0 {
		return
	}
	fmt.Fprintf(w, "\nGeometric mean over the switches of CPU-ms per detection, and its ratio to the per-switch best (the best measured strategy on each switch, chosen after the fact: no portfolio of these strategies can do better)")
	if rep.BestSpeedup > 0 {
		fmt.Fprintf(w, "; and the implied speed-up over the rapid baseline: the geometric mean over the switches of the baseline's campaign median CPU-seconds (this invocation's) over 0.69 times the CPU per detection (`≥`: a lower bound)")
	}
	fmt.Fprintf(w, ":\n\n| strategy | geomean CPU-ms per detection | ratio to the per-switch best | implied speed-up over the baseline |\n|---|---|---|---|\n")
	sp := func(x float64, b string) string {
		if x <= 0 {
			return ""
		}
		return fmt.Sprintf("%s%.1fx", boundMark(b), x)
	}
	for _, g := range rep.Geo {
		fmt.Fprintf(w, "| %s | %s%.2f | %s%.2f | %s |\n", g.Strategy, boundMark(g.Bound), 1000*g.GeoCPU, boundMark(g.BoundOver), g.OverBest, sp(g.Speedup, g.SpeedupBound))
	}
	fmt.Fprintf(w, "| per-switch best | %s%.2f | 1 | %s |\n", boundMark(rep.BestBound), 1000*rep.BestGeo, sp(rep.BestSpeedup, rep.BestSpeedupBound))
}

// benchBugs is the switches a bench measures: bugs, or every switch.
func benchBugs(bugs []string) []string {
	if len(bugs) > 0 {
		return bugs
	}
	var all []string
	for _, b := range BugTargets {
		all = append(all, b.Bug)
	}
	return all
}
