package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

// The fuzzing workflow commands: import-fuzz and export-fuzz convert
// between `go test -fuzz` corpus files and rsrsim failure files; shrink
// minimizes a failure file.

// parseAll parses flags that may come before, between or after the
// positional arguments ("rsrsim shrink FILE --out DIR"), which the flag
// package alone stops at. Everything after "--" is positional.
func parseAll(fs *flag.FlagSet, args []string, stderr io.Writer) (pos []string, code int, done bool) {
	for {
		if code, done := parse(fs, args, stderr); done {
			return nil, code, true
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), 0, false
		}
		if len(rest) == 0 {
			return pos, 0, false
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// compactJSON renders a JSON value on one line.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func violationJSON(v *sim.Violation) *fuzz.ViolationJSON {
	if v == nil {
		return nil
	}
	return &fuzz.ViolationJSON{Oracle: v.Oracle, Signature: v.Signature, Detail: v.Detail, Step: v.Step}
}

func printViolation(w io.Writer, v *sim.Violation) {
	if v == nil {
		fmt.Fprintln(w, "no violation")
		return
	}
	fmt.Fprintf(w, "VIOLATION %s at step %d\n  signature: %s\n  %s\n", v.Oracle, v.Step, v.Signature, indent(v.Detail))
}

// sanitize keeps a file name component to [a-z0-9-].
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, s)
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

func cmdImportFuzz(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("import-fuzz", "[flags] CORPUS_FILE", stdout)
	var cf configFlags
	addConfigFlags(fs, &cf)
	out := fs.String("out", "failures", "directory for the failure file")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, code, done := parseAll(fs, args, stderr)
	if done {
		if code == exitOK {
			fmt.Fprint(stdout, `
Runs a Go fuzz corpus file (a crasher go test -fuzz wrote under
testdata/fuzz/<FuzzName>/) with its bytes as the run's choices, records the
decisions, and writes an rsrsim failure file that 'rsrsim replay' and
'rsrsim shrink' read. When the file sits in a directory named after one of
rsrsim's fuzz functions (FuzzToy, FuzzToyRace, FuzzRSR) the target, its
configuration and the engine are the ones that function uses; flags given
explicitly override them. Exit 1 if the run violates an oracle, else 0.
`)
		}
		return code
	}
	if len(pos) != 1 {
		return fail(stderr, "import-fuzz", fmt.Errorf("give exactly one corpus file (got %d arguments)", len(pos)))
	}
	path := pos[0]
	data, err := fuzz.LoadCorpus(path)
	if err != nil {
		return fail(stderr, "import-fuzz", err)
	}
	given := setFlags(fs)
	fuzzName := filepath.Base(filepath.Dir(path))
	if spec, ok := fuzz.LookupNative(fuzzName); ok && !given["target"] {
		cf.target = spec.Target
		if !given["target-config"] && !given["bug"] {
			cf.targetConfig = string(spec.Config)
		}
		if !given["strategy"] {
			cf.strategy = spec.Engine.Strategy
		}
		if !given["pct-depth"] {
			cf.pctDepth = spec.Engine.PCTDepth
		}
		if !given["pct-k"] {
			cf.pctK = spec.Engine.PCTK
		}
		if !given["max-steps"] {
			cf.maxSteps = spec.Engine.MaxSteps
		}
	}
	t, eng, err := cf.build()
	if err != nil {
		return fail(stderr, "import-fuzz", err)
	}
	res, err := fuzz.ExecuteBytes(t, eng, data, fuzz.RunOptions{})
	if err != nil {
		return fail(stderr, "import-fuzz", err)
	}
	// The recorded list must replay the run exactly; check before saving.
	again, err := fuzz.Execute(t, eng, sim.NewReplay(res.Decisions), fuzz.RunOptions{})
	if err != nil {
		return fail(stderr, "import-fuzz", err)
	}
	if again.Hash != res.Hash {
		return fail(stderr, "import-fuzz", fmt.Errorf("internal error: the recorded decisions replay to trace hash %s, not %s",
			fuzz.FormatHash(again.Hash), fuzz.FormatHash(res.Hash)))
	}
	f := fuzz.NewFailure(t, eng, res)
	f.Note = fmt.Sprintf("imported from go test -fuzz corpus file %s (%d bytes)", filepath.Base(path), len(data))
	stem := "pass"
	if v := res.Violation; v != nil {
		stem = fuzz.FailureStem(v.Signature, 0)
		stem = strings.TrimSuffix(stem, "-seed0")
	}
	stem += "-fuzz-" + sanitize(filepath.Base(path))
	saved, err := f.Save(*out, stem)
	if err != nil {
		return fail(stderr, "import-fuzz", fmt.Errorf("writing the failure file: %v", err))
	}
	if *asJSON {
		printJSON(stdout, map[string]any{"source": path, "target": t.Name(), "target_config": json.RawMessage(t.Config()),
			"strategy": eng.Strategy, "bytes": len(data), "steps": res.Steps, "decisions": len(res.Decisions),
			"trace_hash": fuzz.FormatHash(res.Hash), "violation": violationJSON(res.Violation), "file": saved})
	} else {
		fmt.Fprintf(stdout, "imported %s: %d bytes as choices for target %s %s, strategy %s\n", path, len(data), t.Name(), t.Config(), eng.Strategy)
		fmt.Fprintf(stdout, "%d steps, %d decisions recorded, trace hash %s\n", res.Steps, len(res.Decisions), fuzz.FormatHash(res.Hash))
		printViolation(stdout, res.Violation)
		fmt.Fprintf(stdout, "wrote %s\nnext: rsrsim replay %s", saved, saved)
		if res.Violation != nil {
			fmt.Fprintf(stdout, "   or: rsrsim shrink %s", saved)
		}
		fmt.Fprintln(stdout)
	}
	if res.Violation != nil {
		return exitFound
	}
	return exitOK
}

func cmdExportFuzz(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("export-fuzz", "[flags] FAILURE_FILE", stdout)
	out := fs.String("out", "", "corpus file to write (default: the failure file's name with .fuzz instead of .json); never overwritten")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, code, done := parseAll(fs, args, stderr)
	if done {
		if code == exitOK {
			fmt.Fprint(stdout, `
Writes a Go fuzz corpus file ("go test fuzz v1") whose bytes, read by
sim.NewBytes, make the same decisions as the failure file's decision list,
and checks that they reproduce its trace hash. Put it under
fuzz/testdata/fuzz/<FuzzName>/ to make it a seed of the fuzz function that
runs the same target, configuration and strategy (the output names it).
Exit 0 when written, 2 on bad input.
`)
		}
		return code
	}
	if len(pos) != 1 {
		return fail(stderr, "export-fuzz", fmt.Errorf("give exactly one failure file (got %d arguments)", len(pos)))
	}
	path := pos[0]
	f, ds, err := fuzz.LoadFailure(path)
	if err != nil {
		return fail(stderr, "export-fuzz", err)
	}
	t, err := fuzz.NewTarget(f.Target, f.TargetConfig)
	if err != nil {
		return fail(stderr, "export-fuzz", fmt.Errorf("%s: %v", path, err))
	}
	rep, err := fuzz.Execute(t, f.Engine, sim.NewReplay(ds), fuzz.RunOptions{})
	if err != nil {
		return fail(stderr, "export-fuzz", err)
	}
	data := fuzz.DecisionBytes(ds)
	viaBytes, err := fuzz.ExecuteBytes(t, f.Engine, data, fuzz.RunOptions{})
	if err != nil {
		return fail(stderr, "export-fuzz", err)
	}
	if viaBytes.Hash != rep.Hash {
		return fail(stderr, "export-fuzz", fmt.Errorf("%s: the bytes reproduce trace hash %s but the decision list replays to %s (the list no longer matches the model)",
			path, fuzz.FormatHash(viaBytes.Hash), fuzz.FormatHash(rep.Hash)))
	}
	dest := *out
	if dest == "" {
		dest = strings.TrimSuffix(path, ".json") + ".fuzz"
	}
	if err := fuzz.WriteFileAtomic(dest, fuzz.MarshalCorpus(data)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(stderr, "export-fuzz", fmt.Errorf("%s already exists; not overwriting it (choose another --out)", dest))
		}
		return fail(stderr, "export-fuzz", err)
	}
	got := fuzz.FormatHash(viaBytes.Hash)
	spec, matched := fuzz.MatchNative(f.Target, f.TargetConfig, f.Engine)
	if *asJSON {
		o := map[string]any{"source": path, "file": dest, "bytes": len(data), "decisions": len(ds),
			"trace_hash": got, "hash_matches_file": got == f.TraceHash, "violation": violationJSON(viaBytes.Violation)}
		if matched {
			o["fuzz_function"] = spec.Fuzz
		}
		printJSON(stdout, o)
	} else {
		fmt.Fprintf(stdout, "wrote %s: %d bytes for %d decisions; through sim.NewBytes they reproduce trace hash %s\n", dest, len(data), len(ds), got)
		if matched {
			fmt.Fprintf(stdout, "fuzz function %s runs this target, configuration and strategy: copy it to fuzz/testdata/fuzz/%s/ to make it a seed\n", spec.Fuzz, spec.Fuzz)
		} else {
			cfg := compactJSON(f.TargetConfig)
			fmt.Fprintf(stdout, "no fuzz function runs %s %s with strategy %s; read it back with:\n  rsrsim import-fuzz --target %s --target-config '%s' --strategy %s --pct-depth %d --pct-k %d %s\n",
				f.Target, cfg, f.Engine.Strategy, f.Target, cfg, f.Engine.Strategy, f.Engine.PCTDepth, f.Engine.PCTK, dest)
		}
	}
	if got != f.TraceHash {
		fmt.Fprintf(stderr, "rsrsim export-fuzz: warning: %s recorded trace hash %s, the run now gives %s (the model changed since it was written)\n", path, f.TraceHash, got)
	}
	return exitOK
}

func cmdShrink(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("shrink", "[flags] FAILURE_FILE", stdout)
	out := fs.String("out", "", "directory for the shrunk failure file (default: the input's directory); the input is never overwritten")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	maxRuns := fs.Int("max-runs", fuzz.DefaultShrinkRuns, "budget of candidate runs")
	maxLines := fs.Int("lines", 60, "print at most this many schedule lines, the first and last halves (0 = all; 'rsrsim replay FILE --schedule' prints all)")
	pos, code, done := parseAll(fs, args, stderr)
	if done {
		if code == exitOK {
			fmt.Fprint(stdout, `
Minimizes a failing run's decision list while keeping its violation
signature: deletes chunks of 8, 4, 2 and 1 decisions, sets chunks to 0 and
binary-searches values toward 0 (0 = first runnable actor, no fault, first
action), replaying every candidate. Writes a new failure file whose trace
hash is verified by replay, and prints a short numbered schedule.
Deterministic: the same file gives the same result. Exit 1 (the shrunk
file holds a violation), 2 on bad input or if the file does not fail.
`)
		}
		return code
	}
	if len(pos) != 1 {
		return fail(stderr, "shrink", fmt.Errorf("give exactly one failure file (got %d arguments)", len(pos)))
	}
	if *maxRuns < 1 {
		return fail(stderr, "shrink", fmt.Errorf("--max-runs must be at least 1"))
	}
	if *maxLines < 0 {
		return fail(stderr, "shrink", fmt.Errorf("--lines must not be negative"))
	}
	path := pos[0]
	f, ds, err := fuzz.LoadFailure(path)
	if err != nil {
		return fail(stderr, "shrink", err)
	}
	if f.Violation == nil {
		return fail(stderr, "shrink", fmt.Errorf("%s records no violation: nothing to shrink", path))
	}
	t, err := fuzz.NewTarget(f.Target, f.TargetConfig)
	if err != nil {
		return fail(stderr, "shrink", fmt.Errorf("%s: %v", path, err))
	}
	sr, err := fuzz.Shrink(t, f.Engine, ds, fuzz.ShrinkOptions{MaxRuns: *maxRuns})
	if err != nil {
		return fail(stderr, "shrink", fmt.Errorf("%s: %v", path, err))
	}
	if sr.Signature != f.Violation.Signature {
		return fail(stderr, "shrink", fmt.Errorf("%s: replay fails with %q, not the recorded %q (the model changed since it was written)",
			path, sr.Signature, f.Violation.Signature))
	}
	res := sr.Final
	res.Decisions = sr.Decisions
	nf := fuzz.NewFailure(t, f.Engine, res)
	nf.Note = fmt.Sprintf("shrunk from %s: decisions %d -> %d, steps %d -> %d, actors %d -> %d, %d candidate runs",
		filepath.Base(path), sr.Before.Decisions, sr.After.Decisions, sr.Before.Steps, sr.After.Steps,
		sr.Before.Actors, sr.After.Actors, sr.Runs)
	dir := *out
	if dir == "" {
		dir = filepath.Dir(path)
	}
	stem := strings.TrimSuffix(filepath.Base(path), ".json") + "-shrunk"
	saved, err := nf.Save(dir, stem)
	if err != nil {
		return fail(stderr, "shrink", fmt.Errorf("writing the shrunk file: %v", err))
	}
	// Verify what was written: load it back and replay it.
	_, sds, err := fuzz.LoadFailure(saved)
	if err != nil {
		return fail(stderr, "shrink", err)
	}
	check, err := fuzz.Execute(t, f.Engine, sim.NewReplay(sds), fuzz.RunOptions{})
	if err != nil {
		return fail(stderr, "shrink", err)
	}
	if fuzz.FormatHash(check.Hash) != nf.TraceHash {
		return fail(stderr, "shrink", fmt.Errorf("internal error: %s replays to trace hash %s, not %s", saved, fuzz.FormatHash(check.Hash), nf.TraceHash))
	}
	lines := fuzz.ScheduleLines(res.Run)
	v := res.Violation
	if *asJSON {
		printJSON(stdout, map[string]any{"input": path, "file": saved, "signature": sr.Signature,
			"before": sr.Before, "after": sr.After, "runs": sr.Runs, "budget_exhausted": sr.Exhausted,
			"trace_hash": nf.TraceHash, "hash_verified": true, "schedule": lines, "violation": violationJSON(v)})
		return exitFound
	}
	fmt.Fprintf(stdout, "shrunk %s (%s) in %d candidate runs", path, sr.Signature, sr.Runs)
	if sr.Exhausted {
		fmt.Fprintf(stdout, " (budget exhausted; raise --max-runs to shrink further)")
	}
	fmt.Fprintln(stdout)
	tbl := newTable(stdout, "", "decisions", "nonzero", "steps", "actors", "switches")
	for _, row := range []struct {
		name string
		s    fuzz.RunStats
	}{{"before", sr.Before}, {"after", sr.After}} {
		tbl.Append(row.name, strconv.Itoa(row.s.Decisions), strconv.Itoa(row.s.NonZero), strconv.Itoa(row.s.Steps),
			strconv.Itoa(row.s.Actors), strconv.Itoa(row.s.Switches))
	}
	tbl.Render()
	fmt.Fprintf(stdout, "wrote %s (trace hash %s, verified by replay)\n\nschedule:\n", saved, nf.TraceHash)
	fuzz.WriteSchedule(stdout, res.Run, v, *maxLines)
	return exitFound
}

// writeView writes a trace view to path through a temporary file and a
// rename (views are regenerated, so an existing file is replaced).
func writeView(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
