package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/oxide-sim/rsrsim/fuzz"
)

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "[flags]", stdout)
	o := fuzz.DefaultBenchOptions()
	campaigns := fs.Int("campaigns", o.Campaigns, "campaign seeds per (switch, strategy) (0: no detection campaigns)")
	maxRuns := fs.Int("max-runs", o.MaxRuns, "run budget of one detection campaign")
	baseRuns := fs.Int("baseline-max-runs", o.BaselineMaxRuns, "test-case budget of one rapid baseline campaign")
	strategies := fs.String("strategies", strings.Join(o.Strategies, ","), "comma-separated strategies to measure")
	bugs := fs.String("bugs", "", "comma-separated switches to measure (default: all; see 'rsrsim list bugs')")
	noBaseline := fs.Bool("no-baseline", false, "skip the rapid baseline")
	through := fs.Int("throughput-runs", o.ThroughRun, "runs for the throughput measurement (0: skip it)")
	rounds := fs.Int("throughput-rounds", o.ThroughRounds, "rounds of the throughput measurement (one worker and all workers back to back in each); the report keeps the medians")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	md := fs.Bool("markdown", false, "print the report as the markdown tables of BENCHMARKS.md")
	save := fs.String("save", "", "also write the report as JSON (every campaign's CPU-seconds included) to this file")
	rates := fs.Int("rates", 0, "also measure per-run detection rates over this many runs per (switch, strategy): CPU per detection, each strategy's distance to the per-switch best, implied speed-ups over the baseline")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fail(stderr, "bench", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *campaigns < 0 || *through < 0 || *rates < 0 {
		return fail(stderr, "bench", fmt.Errorf("--campaigns, --throughput-runs and --rates must not be negative"))
	}
	if *campaigns+*through+*rates == 0 {
		return fail(stderr, "bench", fmt.Errorf("nothing to measure: --campaigns, --throughput-runs and --rates are all 0"))
	}
	if *maxRuns < 1 || *baseRuns < 1 || *rounds < 1 {
		return fail(stderr, "bench", fmt.Errorf("--max-runs, --baseline-max-runs and --throughput-rounds must be at least 1"))
	}
	o.Campaigns, o.MaxRuns, o.BaselineMaxRuns, o.ThroughRun, o.ThroughRounds, o.Baseline, o.Rates = *campaigns, *maxRuns, *baseRuns, *through, *rounds, !*noBaseline, *rates
	o.Strategies = strings.Split(*strategies, ",")
	for _, s := range o.Strategies {
		e := fuzz.DefaultEngine()
		e.Strategy = s
		if err := e.Validate(); err != nil {
			return fail(stderr, "bench", err)
		}
	}
	if *bugs != "" {
		o.Bugs = strings.Split(*bugs, ",")
		for _, b := range o.Bugs {
			if _, err := fuzz.BugTargetFor(b); err != nil {
				return fail(stderr, "bench", err)
			}
		}
	}
	if stderr == io.Writer(os.Stderr) {
		o.Progress = stderr
	}
	rep, err := fuzz.RunBench(o)
	if err != nil {
		return fail(stderr, "bench", err)
	}
	_ = md // markdown is the default output; the flag is kept for scripts
	return writeReport(rep, *save, *asJSON, stdout, stderr, func(w io.Writer) {
		rep.WriteMarkdown(w, "go run ./cmd/rsrsim bench "+strings.Join(args, " "))
	})
}

// writeReport saves rep as JSON when save is set (before printing it:
// nothing measured is lost to a closed terminal), then prints it as JSON
// or as markdown.
func writeReport(rep any, save string, asJSON bool, stdout, stderr io.Writer, markdown func(io.Writer)) int {
	if save != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(save, append(b, '\n'), 0o644); err != nil {
			return fail(stderr, "bench", err)
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return exitOK
	}
	markdown(stdout)
	return exitOK
}
