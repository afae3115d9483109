package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/oxide-sim/rsrsim/scenarios"
)

// cmdScenario runs scripted scenarios (package scenarios): omicron's own
// tests re-expressed and the directed trigger of each pre-fix switch.
func cmdScenario(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("scenario", "NAME... | --all [flags]", stdout)
	all := fs.Bool("all", false, "run every scenario")
	var bugs listFlag
	fs.Var(&bugs, "bug", "turn on a pre-fix switch (repeatable; see 'rsrsim list bugs')")
	seed := fs.Uint64("seed", 0, "override the scenario's seed (0 = the file's, default 1)")
	sched := fs.String("sched", "", "override the scenario's scheduling: first (sequential) or random (seeded)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	check := fs.Bool("check", false, "also run each scenario with each switch alone and with all on, and check its fails-with and parent lines")
	markdown := fs.Bool("markdown", false, "print the pass/fail tables of docs/scenarios.md (implies --check)")
	list := fs.Bool("list", false, "list the scenarios")
	trace := fs.Bool("trace", false, "print each run's trace (one line per atomic step)")
	assertsOnly := fs.Bool("assertions-only", false, "turn rsrsim's oracles off: only the scenario's own assertions decide")
	// Flags may come before or after the names.
	var names []string
	rest := args
	for {
		if code, done := parse(fs, rest, stderr); done {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *list {
		scs, err := scenarios.All()
		if err != nil {
			return fail(stderr, "scenario", err)
		}
		for _, sc := range scs {
			fmt.Fprintf(stdout, "%-48s %s\n", sc.Name, sc.Header.Mirrors)
		}
		return exitOK
	}
	if *all == (len(names) > 0) {
		return fail(stderr, "scenario", errors.New("name scenarios or give --all (see 'rsrsim scenario --list')"))
	}
	var scs []*scenarios.Scenario
	if *all {
		var err error
		if scs, err = scenarios.All(); err != nil {
			return fail(stderr, "scenario", err)
		}
	}
	for _, n := range names {
		sc, err := scenarios.Find(n)
		if err != nil {
			return fail(stderr, "scenario", err)
		}
		scs = append(scs, sc)
	}
	opts := scenarios.Options{Bugs: bugs, Seed: *seed, Sched: *sched, AssertionsOnly: *assertsOnly}
	if *trace {
		opts.Trace = stdout
	}
	if *markdown || *check {
		return scenarioMatrix(scs, opts, *markdown, *asJSON, stdout, stderr)
	}
	type jsonResult struct {
		Name    string             `json:"name"`
		File    string             `json:"file"`
		Mirrors string             `json:"mirrors,omitempty"`
		Bugs    []string           `json:"bugs,omitempty"`
		Passed  bool               `json:"passed"`
		Failure *scenarios.Failure `json:"failure,omitempty"`
		Steps   uint32             `json:"steps"`
	}
	var out []jsonResult
	failed := 0
	for _, sc := range scs {
		if *trace {
			fmt.Fprintf(stdout, "== %s\n", sc.Name)
		}
		r, err := scenarios.Run(sc, opts)
		if err != nil {
			return fail(stderr, "scenario", err)
		}
		if !r.Passed() {
			failed++
		}
		if *asJSON {
			out = append(out, jsonResult{Name: r.Name, File: r.File, Mirrors: sc.Header.Mirrors, Bugs: r.Bugs, Passed: r.Passed(), Failure: r.Failure, Steps: r.Steps})
		} else {
			fmt.Fprintln(stdout, r)
		}
	}
	if *asJSON {
		printJSON(stdout, out)
	} else if len(scs) > 1 {
		fmt.Fprintf(stdout, "%d scenarios, %d passed, %d failed\n", len(scs), len(scs)-failed, failed)
	}
	if failed > 0 {
		return exitFound
	}
	return exitOK
}

// scenarioMatrix runs each scenario eleven times and checks the header
// expectations; with markdown it prints the tables instead of the problems
// list.
func scenarioMatrix(scs []*scenarios.Scenario, opts scenarios.Options, markdown, asJSON bool, stdout, stderr io.Writer) int {
	if len(opts.Bugs) > 0 || opts.AssertionsOnly {
		return fail(stderr, "scenario", errors.New("--check and --markdown choose the switches and oracles themselves: drop --bug and --assertions-only"))
	}
	var ms []*scenarios.Matrix
	type jsonRow struct {
		Name     string            `json:"name"`
		Off      bool              `json:"off"`
		Bugs     map[string]string `json:"bugs"`
		Parent   string            `json:"parent"`
		Problems []string          `json:"problems,omitempty"`
	}
	var rows []jsonRow
	problems := 0
	for _, sc := range scs {
		m, err := scenarios.RunMatrix(sc, opts)
		if err != nil {
			return fail(stderr, "scenario", err)
		}
		ms = append(ms, m)
		ps := m.Problems()
		problems += len(ps)
		if asJSON {
			row := jsonRow{Name: sc.Name, Off: m.Off.Passed(), Bugs: map[string]string{}, Parent: outcome(m.Parent), Problems: ps}
			for i, b := range scenarios.AllBugs() {
				row.Bugs[b] = outcome(m.Bugs[i])
			}
			rows = append(rows, row)
			continue
		}
		if markdown {
			continue
		}
		status := "ok  "
		if len(ps) > 0 {
			status = "FAIL"
		}
		var fails []string
		for i, r := range m.Bugs {
			if !r.Passed() {
				fails = append(fails, fmt.Sprintf("#%d %s", i+1, r.Failure.Oracle))
			}
		}
		fmt.Fprintf(stdout, "%s %-44s off %s; fails with: %s; parent %s\n", status, sc.Name, outcome(m.Off), orNone(fails), outcome(m.Parent))
		for _, p := range ps {
			fmt.Fprintf(stdout, "    %s\n", p)
		}
	}
	switch {
	case asJSON:
		printJSON(stdout, rows)
	case markdown:
		fmt.Fprint(stdout, scenarios.Markdown(ms))
	default:
		fmt.Fprintf(stdout, "%d scenarios, %d expectation problem(s)\n", len(scs), problems)
	}
	if problems > 0 {
		return exitFound
	}
	return exitOK
}

func outcome(r *scenarios.Result) string {
	if r.Passed() {
		return "pass"
	}
	return r.Failure.Oracle
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
