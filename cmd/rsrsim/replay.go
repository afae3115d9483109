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
	if code, done := parse(fs, args, stderr); done {
		return code
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
	case *seed >= 0 && fs.NArg() > 0:
		return fail(stderr, "replay", fmt.Errorf("give a failure file or --seed, not both"))
	case *seed >= 0:
		t, eng, err = cf.build()
		if err != nil {
			return fail(stderr, "replay", err)
		}
		res, err = fuzz.ExecuteSeed(t, eng, uint64(*seed), fuzz.RunOptions{KeepTrace: true, KeepRun: true})
		srcName = fmt.Sprintf("seed %d", *seed)
	case fs.NArg() == 1:
		var ds []sim.Decision
		file, ds, err = fuzz.LoadFailure(fs.Arg(0))
		if err != nil {
			return fail(stderr, "replay", err)
		}
		t, err = fuzz.NewTarget(file.Target, file.TargetConfig)
		if err != nil {
			return fail(stderr, "replay", fmt.Errorf("%s: %v", fs.Arg(0), err))
		}
		eng = file.Engine
		want = file.TraceHash
		rp := sim.NewReplay(ds)
		res, err = fuzz.Execute(t, eng, rp, fuzz.RunOptions{KeepTrace: true, KeepRun: true})
		srcName = fs.Arg(0)
	case fs.NArg() == 0:
		return fail(stderr, "replay", fmt.Errorf("give a failure file or --seed N"))
	default:
		return fail(stderr, "replay", fmt.Errorf("one failure file at a time (got %d arguments)", fs.NArg()))
	}
	if err != nil {
		return fail(stderr, "replay", err)
	}
	got := fuzz.FormatHash(res.Hash)
	hashOK := want == "" || want == got
	if *asJSON {
		out := map[string]any{"source": srcName, "target": t.Name(), "trace_hash": got, "steps": res.Steps,
			"hash_matches": hashOK}
		if want != "" {
			out["expected_trace_hash"] = want
		}
		if v := res.Violation; v != nil {
			out["violation"] = fuzz.ViolationJSON{Oracle: v.Oracle, Signature: v.Signature, Detail: v.Detail, Step: v.Step}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		if !*noTrace {
			f := fuzz.TraceFilter{Actor: sim.ActorID(*actor), Record: uint32(*record), From: uint32(*from), To: uint32(*to)}
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
		if v := res.Violation; v != nil {
			fmt.Fprintf(stdout, "VIOLATION %s at step %d\n  signature: %s\n  %s\n", v.Oracle, v.Step, v.Signature, indent(v.Detail))
		} else {
			fmt.Fprintln(stdout, "no violation")
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
