package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

func newTable(w io.Writer, header ...any) *tablewriter.Table {
	t := tablewriter.NewWriter(w)
	t.Header(header...)
	return t
}

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("replay", "FILE | --seed N [config flags]", stdout)
	var cf configFlags
	addConfigFlags(fs, &cf)
	seed := fs.Int64("seed", -1, "replay this seed instead of a failure file (with the same config flags as run)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	noTrace := fs.Bool("no-trace", false, "do not print the trace table")
	actor := fs.Int("actor", 0, "trace: only this actor id")
	record := fs.Uint("record", 0, "trace: only steps touching this record id")
	from := fs.Uint("from", 0, "trace: first step to show")
	to := fs.Uint("to", 0, "trace: last step to show")
	opFilter := fs.String("op", "", "trace: only operations whose name contains this")
	kindFilter := fs.String("kind", "", "trace: only actors of this kind (saga, node, task, user, env, test)")
	schedule := fs.Bool("schedule", false, "print a short numbered schedule (one line per actor's run of steps) instead of the table")
	chromeOut := fs.String("chrome", "", "also write the trace as Chrome trace-event JSON to this file (open in ui.perfetto.dev); always the whole trace")
	htmlOut := fs.String("html", "", "also write a self-contained HTML timeline (swimlanes per actor) to this file; always the whole trace")
	pos, code, done := parseAll(fs, args, stderr)
	if done {
		return code
	}
	if *kindFilter != "" && !knownActorKind(*kindFilter) {
		return fail(stderr, "replay", fmt.Errorf("--kind %q: want one of saga, node, task, user, env, test", *kindFilter))
	}
	var (
		t       fuzz.Target
		eng     fuzz.EngineConfig
		res     *fuzz.Result
		want    string
		file    *fuzz.Failure
		err     error
		srcName string
	)
	switch {
	case *seed >= 0 && len(pos) > 0:
		return fail(stderr, "replay", fmt.Errorf("give a failure file or --seed, not both"))
	case *seed >= 0:
		t, eng, err = cf.build()
		if err != nil {
			return fail(stderr, "replay", err)
		}
		res, err = fuzz.ExecuteSeed(t, eng, uint64(*seed), fuzz.RunOptions{KeepTrace: true, KeepRun: true})
		srcName = fmt.Sprintf("seed %d", *seed)
	case len(pos) == 1:
		var ds []sim.Decision
		file, ds, err = fuzz.LoadFailure(pos[0])
		if err != nil {
			return fail(stderr, "replay", err)
		}
		t, err = fuzz.NewTarget(file.Target, file.TargetConfig)
		if err != nil {
			return fail(stderr, "replay", fmt.Errorf("%s: %v", pos[0], err))
		}
		eng = file.Engine
		want = file.TraceHash
		rp := sim.NewReplay(ds)
		res, err = fuzz.Execute(t, eng, rp, fuzz.RunOptions{KeepTrace: true, KeepRun: true})
		srcName = pos[0]
	case len(pos) == 0:
		return fail(stderr, "replay", fmt.Errorf("give a failure file or --seed N"))
	default:
		return fail(stderr, "replay", fmt.Errorf("one failure file at a time (got %d arguments)", len(pos)))
	}
	if err != nil {
		return fail(stderr, "replay", err)
	}
	got := fuzz.FormatHash(res.Hash)
	hashOK := want == "" || want == got
	views := map[string]string{}
	if *chromeOut != "" || *htmlOut != "" {
		meta := fuzz.ViewMeta{Title: srcName, Target: t.Name(), Config: string(t.Config()), Strategy: eng.Strategy, TraceHash: got}
		if *chromeOut != "" {
			if err := writeView(*chromeOut, func(w io.Writer) error { return fuzz.WriteChromeTrace(w, res.Run, res.Violation, meta) }); err != nil {
				return fail(stderr, "replay", fmt.Errorf("writing --chrome: %v", err))
			}
			views["chrome"] = *chromeOut
		}
		if *htmlOut != "" {
			if err := writeView(*htmlOut, func(w io.Writer) error { return fuzz.WriteHTMLTimeline(w, res.Run, res.Violation, meta) }); err != nil {
				return fail(stderr, "replay", fmt.Errorf("writing --html: %v", err))
			}
			views["html"] = *htmlOut
		}
	}
	if *asJSON {
		out := map[string]any{"source": srcName, "target": t.Name(), "trace_hash": got, "steps": res.Steps,
			"hash_matches": hashOK}
		if want != "" {
			out["expected_trace_hash"] = want
		}
		for k, p := range views {
			out[k] = p
		}
		if *schedule {
			out["schedule"] = fuzz.ScheduleLines(res.Run)
		}
		if v := res.Violation; v != nil {
			out["violation"] = fuzz.ViolationJSON{Oracle: v.Oracle, Signature: v.Signature, Detail: v.Detail, Step: v.Step}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		switch {
		case *schedule:
			fmt.Fprintln(stdout, "schedule:")
			fuzz.WriteSchedule(stdout, res.Run, nil, 0)
			fmt.Fprintln(stdout)
		case !*noTrace:
			f := fuzz.TraceFilter{Actor: sim.ActorID(*actor), Record: uint32(*record), From: uint32(*from), To: uint32(*to),
				Op: *opFilter, Kind: *kindFilter}
			fuzz.WriteTraceTable(stdout, res.Run, f)
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "replayed %s: %d steps, trace hash %s", srcName, res.Steps, got)
		switch {
		case want == "":
			fmt.Fprintln(stdout)
		case hashOK:
			fmt.Fprintln(stdout, " (matches the failure file)")
		default:
			fmt.Fprintf(stdout, "\nWARNING: the failure file recorded trace hash %s: this replay DIFFERS (the model or engine changed since it was written)\n", want)
		}
		printViolation(stdout, res.Violation)
		if p := views["chrome"]; p != "" {
			fmt.Fprintf(stdout, "wrote %s (Chrome trace events: open in ui.perfetto.dev)\n", p)
		}
		if p := views["html"]; p != "" {
			fmt.Fprintf(stdout, "wrote %s (HTML timeline)\n", p)
		}
	}
	if !hashOK {
		fmt.Fprintf(stderr, "rsrsim replay: trace hash %s differs from the recorded %s\n", got, want)
	}
	if res.Violation != nil {
		return exitFound
	}
	return exitOK
}

func knownActorKind(name string) bool {
	for k := sim.ActorKind(0); k.String() != "kind?"; k++ {
		if k.String() == name {
			return true
		}
	}
	return false
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") }

// Lister is implemented by targets that can describe their pre-fix switches
// and oracles.
type lister interface {
	Bugs() [][2]string
	Invariants() [][2]string
}

func cmdList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("list", "targets|strategies|bugs|invariants|kinds", stdout)
	asJSON := fs.Bool("json", false, "print as JSON")
	target := fs.String("target", defaultTarget, "the target whose bugs or invariants to list")
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fail(stderr, "list", fmt.Errorf("say what to list: targets, strategies, bugs, invariants or kinds"))
	}
	var rows [][2]string
	switch fs.Arg(0) {
	case "targets":
		for _, n := range fuzz.TargetNames() {
			rows = append(rows, [2]string{n, targetSummary(n)})
		}
	case "strategies":
		rows = [][2]string{
			{"uniform", "uniform random walk: every runnable actor equally likely each step"},
			{"pct", "PCT (ASPLOS 2010): random priorities, d-1 priority change points (--pct-depth, --pct-k)"},
			{"swarm", "swarm testing: per-run profile of enabled actions and fault rates, uniform walk"},
			{"swarm-pct", "swarm profile with PCT scheduling"},
			{"buggify-pct", "fault swarming (FoundationDB's BUGGIFY): per run, each fault kind off, at its rate or hot (8x); action mix unchanged; PCT scheduling"},
			{"site-buggify-pct", "BUGGIFY per fault site: per run, a quarter of the sites (fault kind x saga node) fire at 25%, the rest at the knob's rate; PCT scheduling"},
			{"test-style-pct", "buggify-pct in the test-style shape: tasks only when activated, uniform action mix, 2x actions (how omicron's tests and a rapid state machine drive the system)"},
			{"portfolio-pct", "per run, buggify-pct as configured or in the test-style shape (tasks only when activated, uniform action mix, 2x actions)"},
		}
	case "kinds":
		for k := sim.KSched; k <= sim.KValue; k++ {
			rows = append(rows, [2]string{k.String(), kindDoc[k]})
		}
	case "bugs", "invariants":
		t, err := fuzz.NewTarget(*target, nil)
		if err != nil {
			return fail(stderr, "list", err)
		}
		l, ok := t.(lister)
		if !ok {
			return fail(stderr, "list", fmt.Errorf("target %s has no %s to list", *target, fs.Arg(0)))
		}
		if fs.Arg(0) == "bugs" {
			rows = l.Bugs()
		} else {
			rows = l.Invariants()
		}
	default:
		return fail(stderr, "list", fmt.Errorf("cannot list %q: want targets, strategies, bugs, invariants or kinds", fs.Arg(0)))
	}
	if *asJSON {
		var out []map[string]string
		for _, r := range rows {
			out = append(out, map[string]string{"name": r[0], "description": r[1]})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return exitOK
	}
	sort.SliceStable(rows, func(i, j int) bool { return false })
	tbl := newTable(stdout, "name", "description")
	for _, r := range rows {
		tbl.Append(r[0], r[1])
	}
	tbl.Render()
	return exitOK
}

var kindDoc = map[sim.Kind]string{
	sim.KSched:    "which runnable actor takes the next atomic step",
	sim.KRow:      "which row a \"first row\" query returns when several match",
	sim.KFault:    "whether a fault (crash, injected failure, undo twice) hits here",
	sim.KAlloc:    "which candidate dataset a region allocation picks",
	sim.KAction:   "which user or environment action comes next",
	sim.KStrategy: "a strategy's own draws (PCT priorities and change points, swarm profile)",
	sim.KValue:    "any other model value (arguments of actions, ports)",
}

func targetSummary(name string) string {
	switch name {
	case "toy":
		return "engine self-test: a lost-update race on a counter"
	case "rsr":
		return "omicron's region snapshot replacement machinery at 09b150f177"
	}
	return ""
}
