// Command rsrsim is a deterministic simulator and race fuzzer for the region
// snapshot replacement machinery of omicron's Nexus (at commit 09b150f177).
//
// Exit codes: 0 nothing found, 1 violations found, 2 usage error or bad
// input.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

const (
	exitOK        = 0
	exitFound     = 1
	exitUsage     = 2
	defaultTarget = "rsr"
)

func main() {
	// A run's live heap is small (a few MiB) and short-lived, so the
	// default GOGC=100 collects very often; 400 trades some tens of MiB
	// for fewer collections. An explicit GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// gcPercent is the collector setting rsrsim uses unless GOGC is set.
const gcPercent = 400

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run a fuzz campaign: N runs from a seed on W workers", cmdRun},
		{"replay", "replay a failure file (or one seed) exactly, with its trace", cmdReplay},
		{"list", "list targets, strategies, bugs, invariants or decision kinds", cmdList},
		{"bench", "measure throughput and time-to-detect every pre-fix switch, against a rapid baseline", cmdBench},
		{"shrink", "minimize a failure file's decisions, keeping its violation; print its schedule", cmdShrink},
		{"import-fuzz", "turn a go test -fuzz corpus file (crasher) into a failure file", cmdImportFuzz},
		{"export-fuzz", "turn a failure file into a go test -fuzz corpus file", cmdExportFuzz},
		{"scenario", "run scripted scenarios: omicron's tests re-expressed, one directed trigger per switch", cmdScenario},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `rsrsim: a deterministic simulator and race fuzzer for omicron's region
snapshot replacement machinery (omicron commit 09b150f177).

Usage: rsrsim <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run 'rsrsim <command> --help' for a command's flags.
Exit codes: 0 nothing found, 1 violations found, 2 usage error or bad input.
`)
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "rsrsim: unknown command %q (run 'rsrsim --help' for the list)\n", args[0])
	return exitUsage
}

// newFlags returns a flag set that reports errors as one line.
func newFlags(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rsrsim "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// The flag package calls Usage on every parse error; only --help
	// should print it, so the real printer is kept aside.
	fs.Usage = func() {}
	helpers[fs] = func() {
		fmt.Fprintf(stdout, "Usage: rsrsim %s %s\n\nFlags:\n", name, synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// helpers holds each flag set's help printer.
var helpers = map[*flag.FlagSet]func(){}

// parse parses flags; it returns (exit code, done).
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	err := fs.Parse(args)
	if err == nil {
		return 0, false
	}
	if errors.Is(err, flag.ErrHelp) {
		helpers[fs]()
		return exitOK, true
	}
	fmt.Fprintf(stderr, "%s: %v (see '%s --help')\n", fs.Name(), err, fs.Name())
	return exitUsage, true
}

func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "rsrsim %s: %v\n", cmd, err)
	return exitUsage
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// configFlags are the flags that shape a run, shared by run and replay.
type configFlags struct {
	profile      string
	target       string
	targetConfig string
	bugs         listFlag
	strategy     string
	pctDepth     int
	pctK         int
	maxSteps     int
}

func addConfigFlags(fs *flag.FlagSet, c *configFlags) {
	fs.StringVar(&c.target, "target", defaultTarget, "what to simulate: "+strings.Join(fuzz.TargetNames(), ", "))
	fs.StringVar(&c.profile, "profile", "", "rsr target: a named configuration ("+strings.Join(fuzz.RSRProfileNames(), ", ")+"); --target-config keys override it")
	fs.StringVar(&c.targetConfig, "target-config", "", "the target's configuration as a JSON object (see 'rsrsim list targets')")
	fs.Var(&c.bugs, "bug", "turn on a pre-fix switch (repeatable; see 'rsrsim list bugs')")
	fs.StringVar(&c.strategy, "strategy", "", "scheduling strategy: "+strings.Join(sim.StrategyNames, ", ")+" (default: the target's; rsr: "+fuzz.DefaultEngineFor("rsr").Strategy+", toy: "+fuzz.DefaultEngineFor("toy").Strategy+")")
	fs.IntVar(&c.pctDepth, "pct-depth", fuzz.DefaultEngine().PCTDepth, "PCT bug depth d (priority change points = d-1)")
	fs.IntVar(&c.pctK, "pct-k", fuzz.DefaultEngine().PCTK, "PCT: steps over which change points are drawn")
	fs.IntVar(&c.maxSteps, "max-steps", 0, "bound on atomic steps per run (0 = the target's default)")
}

func (c *configFlags) build() (fuzz.Target, fuzz.EngineConfig, error) {
	eng := fuzz.DefaultEngineFor(c.target)
	if c.strategy != "" {
		eng.Strategy = c.strategy
	}
	eng.PCTDepth, eng.PCTK, eng.MaxSteps = c.pctDepth, c.pctK, c.maxSteps
	if err := eng.Validate(); err != nil {
		return nil, eng, err
	}
	base := ""
	if c.profile != "" {
		if c.target != "rsr" {
			return nil, eng, fmt.Errorf("--profile applies to the rsr target only")
		}
		p, err := fuzz.RSRProfile(c.profile)
		if err != nil {
			return nil, eng, err
		}
		base = string(p)
	}
	raw, err := targetConfigJSON(base, c.targetConfig, c.bugs)
	if err != nil {
		return nil, eng, err
	}
	t, err := fuzz.NewTarget(c.target, raw)
	return t, eng, err
}

// targetConfigJSON merges a profile's object, the --target-config object
// (its top-level keys win) and the --bug flags.
func targetConfigJSON(base, cfg string, bugs []string) (json.RawMessage, error) {
	if base == "" && cfg == "" && len(bugs) == 0 {
		return nil, nil
	}
	obj := map[string]any{}
	if base != "" {
		if err := json.Unmarshal([]byte(base), &obj); err != nil {
			return nil, err
		}
	}
	if cfg != "" {
		if err := json.Unmarshal([]byte(cfg), &obj); err != nil {
			return nil, fmt.Errorf("--target-config is not a JSON object: %v", err)
		}
	}
	if len(bugs) > 0 {
		var all []any
		if prev, ok := obj["bugs"].([]any); ok {
			all = prev
		}
		for _, b := range bugs {
			all = append(all, b)
		}
		obj["bugs"] = all
	}
	return json.Marshal(obj)
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "[flags]", stdout)
	var cf configFlags
	addConfigFlags(fs, &cf)
	seed := fs.Uint64("seed", 1, "campaign seed: run i uses seed+i")
	runs := fs.Int("runs", 2000, "number of runs (0 = until --time runs out)")
	budget := fs.Duration("time", 50*time.Second, "wall-clock budget for the campaign (0 = none)")
	workers := fs.Int("workers", 0, "parallel workers (0 = number of CPUs)")
	shard := fs.String("shard", "0/1", "run only shard i of n (i/n): i%n of the run indexes")
	out := fs.String("out", "failures", "directory for failure files (one per new signature)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	quiet := fs.Bool("quiet", false, "no progress line")
	stopFirst := fs.Bool("stop-on-first", false, "stop at the first violation (with --fail-on new: the first new signature)")
	failOn := fs.String("fail-on", "any", "exit 1 on: any (every violation) or new (only signatures that are no known finding of FINDINGS.md; rsr target)")
	selfCheck := fs.Bool("check-determinism", false, "run every seed twice and compare trace hashes (like FoundationDB's unseed check)")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		return fail(stderr, "run", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	t, eng, err := cf.build()
	if err != nil {
		return fail(stderr, "run", err)
	}
	si, sn, err := parseShard(*shard)
	if err != nil {
		return fail(stderr, "run", err)
	}
	if *failOn != "any" && *failOn != "new" {
		return fail(stderr, "run", fmt.Errorf("--fail-on %q: want any or new", *failOn))
	}
	onlyNew := *failOn == "new"
	if *runs < 0 || *budget < 0 {
		return fail(stderr, "run", errors.New("--runs and --time must not be negative"))
	}
	if *runs == 0 && *budget == 0 {
		return fail(stderr, "run", errors.New("set --runs or --time (both are 0)"))
	}
	if *selfCheck {
		return determinismCheck(t, eng, *seed, *runs, stdout, stderr, *asJSON)
	}
	c := &fuzz.Campaign{Target: t, Engine: eng, Seed: *seed, Runs: *runs, Time: *budget, Workers: *workers,
		Shard: si, Shards: sn, OutDir: *out, StopOnFirst: *stopFirst, OnlyNew: onlyNew}
	if !*quiet && fuzz.IsTerminal(os.Stderr) && stderr == io.Writer(os.Stderr) {
		c.Progress = stderr
	} else if !*quiet && stderr == io.Writer(os.Stderr) {
		c.Progress = &lineProgress{w: stderr}
	}
	s, err := c.Run()
	if err != nil {
		return fail(stderr, "run", err)
	}
	for _, e := range s.Errors {
		fmt.Fprintf(stderr, "rsrsim run: %s\n", e)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(s)
	} else {
		printSummary(stdout, s)
	}
	if len(s.Errors) > 0 {
		return exitUsage
	}
	if s.NewSignatures > 0 || (!onlyNew && len(s.Signatures) > 0) {
		return exitFound
	}
	return exitOK
}

// lineProgress turns the campaign's carriage-return progress into a plain
// line every 10 seconds when stderr is not a terminal (CI logs).
type lineProgress struct {
	w    io.Writer
	last time.Time
}

func (p *lineProgress) Write(b []byte) (int, error) {
	s := strings.TrimSpace(strings.TrimPrefix(string(b), "\r"))
	if s == "" || time.Since(p.last) < 10*time.Second {
		return len(b), nil
	}
	p.last = time.Now()
	fmt.Fprintln(p.w, s)
	return len(b), nil
}

func parseShard(s string) (int, int, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, fmt.Errorf("--shard %q: want i/n, e.g. 0/4", s)
	}
	a, err1 := strconv.Atoi(i)
	b, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || b < 1 || a < 0 || a >= b {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 0 <= i < n", s)
	}
	return a, b, nil
}

func printSummary(w io.Writer, s *fuzz.Summary) {
	fmt.Fprintf(w, "target %s, strategy %s, seed %d: %d runs, %d steps in %.1fs (%.0f runs/s, %.2fM steps/s)\n",
		s.Target, s.Strategy, s.Seed, s.Runs, s.Steps, s.ElapsedSec, s.RunsPerSec, s.StepsPerS/1e6)
	if len(s.Signatures) == 0 {
		fmt.Fprintln(w, "no violations found")
		return
	}
	// The rsr target labels each signature with its finding of FINDINGS.md
	// (or NEW); other targets have no findings, so show the oracle.
	label, col := func(st fuzz.SigStat) string { return st.Oracle }, "oracle"
	if s.Target == "rsr" {
		fmt.Fprintf(w, "%d failing runs, %d distinct signatures, %d of them new (not a finding of FINDINGS.md):\n", s.Failures, len(s.Signatures), s.NewSignatures)
		label, col = func(st fuzz.SigStat) string {
			if st.Known == "" {
				return "NEW"
			}
			return st.Known
		}, "finding"
	} else {
		fmt.Fprintf(w, "%d failing runs, %d distinct signatures:\n", s.Failures, len(s.Signatures))
	}
	tbl := newTable(w, "count", col, "first seed", "step", "signature", "failure file")
	for _, st := range s.Signatures {
		tbl.Append(strconv.Itoa(st.Count), label(st), strconv.FormatUint(st.FirstSeed, 10), strconv.Itoa(int(st.Step)), st.Signature, st.File)
	}
	tbl.Render()
	fmt.Fprintln(w, "replay one with: rsrsim replay FILE")
}

func determinismCheck(t fuzz.Target, eng fuzz.EngineConfig, seed uint64, runs int, stdout, stderr io.Writer, asJSON bool) int {
	if runs == 0 {
		runs = 100
	}
	bad := 0
	for i := 0; i < runs; i++ {
		a, err := fuzz.ExecuteSeed(t, eng, seed+uint64(i), fuzz.RunOptions{})
		if err != nil {
			return fail(stderr, "run", err)
		}
		b, _ := fuzz.ExecuteSeed(t, eng, seed+uint64(i), fuzz.RunOptions{})
		if a.Hash != b.Hash {
			bad++
			fmt.Fprintf(stderr, "seed %d: trace hash %s then %s: the run is not deterministic\n", seed+uint64(i), fuzz.FormatHash(a.Hash), fuzz.FormatHash(b.Hash))
		}
	}
	if asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{"runs": runs, "nondeterministic": bad})
	} else {
		fmt.Fprintf(stdout, "determinism check: %d seeds run twice, %d differed\n", runs, bad)
	}
	if bad > 0 {
		return exitFound
	}
	return exitOK
}
