package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/oxide-sim/rsrsim/model"
)

// The scenario files are embedded, so the CLI runs them from anywhere.
//
//go:embed omicron/*.txt bugs/*.txt
var files embed.FS

// Dir is the scenario directory relative to the module root (for messages).
const Dir = "scenarios"

// All parses every embedded scenario, in suite order (see rank).
func All() ([]*Scenario, error) {
	var out []*Scenario
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".txt") {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sc, err := Parse(path.Join(Dir, p), strings.TrimSuffix(p, ".txt"), string(b))
		if err != nil {
			return err
		}
		out = append(out, sc)
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank(out[i].Name), rank(out[j].Name)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// rank orders the suite as the specs do: omicron's integration tests, task
// tests and saga tests (spec 30 B.1-B.3), then the directed triggers in
// spec 40 order.
func rank(name string) int {
	if b, ok := strings.CutPrefix(name, "omicron/"); ok {
		return strings.IndexByte("itg", b[0])
	}
	if b, ok := strings.CutPrefix(name, "bugs/"); ok {
		for i, bug := range model.Bugs {
			if bug.Name == b {
				return 10 + i
			}
		}
	}
	return 100
}

// Find returns the scenario called name: its full name
// ("omicron/i07-rsr-requested"), its base name ("i07-rsr-requested"), the
// part of the base name before the first '-' ("i07"), or a path to a
// scenario file on disk.
func Find(name string) (*Scenario, error) {
	if strings.HasSuffix(name, ".txt") {
		if _, err := os.Stat(name); err == nil {
			return ParseFile(name, strings.TrimSuffix(path.Base(name), ".txt"))
		}
	}
	all, err := All()
	if err != nil {
		return nil, err
	}
	var hits []*Scenario
	for _, sc := range all {
		base := path.Base(sc.Name)
		short, _, _ := strings.Cut(base, "-")
		if sc.Name == name || base == name {
			return sc, nil
		}
		if strings.EqualFold(short, name) {
			hits = append(hits, sc)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return nil, fmt.Errorf("no scenario %q (see 'rsrsim scenario --list')", name)
	}
	var ns []string
	for _, h := range hits {
		ns = append(ns, h.Name)
	}
	return nil, fmt.Errorf("scenario %q is ambiguous: %s", name, strings.Join(ns, ", "))
}

// IsBugScenario reports whether sc is a directed trigger of a switch
// (bugs/<bug-id>), and which.
func IsBugScenario(sc *Scenario) (model.Bug, bool) {
	dir, base := path.Split(sc.Name)
	if dir != "bugs/" {
		return model.Bug{}, false
	}
	for _, b := range model.Bugs {
		if b.Name == base {
			return b, true
		}
	}
	return model.Bug{}, false
}

// Matrix is a scenario run with every switch off, with each switch alone
// (oracles on), and with all nine on judged by the scenario's own
// assertions only (omicron's test on the parent commit, spec 30 §B.5).
type Matrix struct {
	Scenario *Scenario
	Off      *Result
	Bugs     []*Result // model.Bugs order
	Parent   *Result
}

// AllBugs lists every switch's spec 40 id.
func AllBugs() []string {
	var out []string
	for _, b := range model.Bugs {
		out = append(out, b.Name)
	}
	return out
}

// RunMatrix runs sc eleven times: every switch off, each switch alone, and
// all nine switches with AssertionsOnly.
func RunMatrix(sc *Scenario, opts Options) (*Matrix, error) {
	m := &Matrix{Scenario: sc}
	var err error
	if m.Off, err = Run(sc, opts); err != nil {
		return nil, err
	}
	for _, b := range model.Bugs {
		o := opts
		o.Bugs = append(append([]string(nil), opts.Bugs...), b.Name)
		r, err := Run(sc, o)
		if err != nil {
			return nil, err
		}
		m.Bugs = append(m.Bugs, r)
	}
	o := opts
	o.Bugs = AllBugs()
	o.AssertionsOnly = true
	if m.Parent, err = Run(sc, o); err != nil {
		return nil, err
	}
	return m, nil
}

// Problems compares the matrix with the scenario's header: with every
// switch off it passes; each switch listed in fails-with makes it fail
// (with the oracle named there, if any); every other switch alone leaves
// it passing; the parent line, if present, holds. A scenario under bugs/
// must name its own switch with model.Bugs' oracle.
func (m *Matrix) Problems() []string {
	sc := m.Scenario
	var out []string
	if !m.Off.Passed() {
		out = append(out, "with every switch off: "+m.Off.String())
	}
	for i, b := range model.Bugs {
		r := m.Bugs[i]
		var exp *Expectation
		for j := range sc.Header.FailsWith {
			if sc.Header.FailsWith[j].Bug == b.Name {
				exp = &sc.Header.FailsWith[j]
			}
		}
		switch {
		case exp == nil && !r.Passed():
			out = append(out, fmt.Sprintf("with %s on: %s (not listed in fails-with)", b.Name, r))
		case exp != nil && r.Passed():
			out = append(out, fmt.Sprintf("%s:%d: with %s on the scenario passes; fails-with says it fails", sc.File, exp.Line, b.Name))
		case exp != nil && exp.Oracle != "" && r.Failure.Oracle != exp.Oracle:
			out = append(out, fmt.Sprintf("%s:%d: with %s on it fails with %s, fails-with says %s: %s", sc.File, exp.Line, b.Name, r.Failure.Oracle, exp.Oracle, r))
		}
	}
	if p := sc.Header.Parent; p != nil {
		switch {
		case p.Fails && m.Parent.Passed():
			out = append(out, fmt.Sprintf("%s:%d: with all switches on it passes; parent says it fails", sc.File, p.Line))
		case !p.Fails && !m.Parent.Passed():
			out = append(out, fmt.Sprintf("%s:%d: with all switches on: %s; parent says it passes", sc.File, p.Line, m.Parent))
		case p.Fails && p.Oracle != "" && m.Parent.Failure.Oracle != p.Oracle:
			out = append(out, fmt.Sprintf("%s:%d: with all switches on it fails with %s, parent says %s", sc.File, p.Line, m.Parent.Failure.Oracle, p.Oracle))
		}
	}
	if bug, ok := IsBugScenario(sc); ok {
		found := false
		for _, e := range sc.Header.FailsWith {
			if e.Bug == bug.Name {
				found = true
				if e.Oracle != bug.Oracle {
					out = append(out, fmt.Sprintf("%s:%d: a directed trigger of %s must fail with %s (model.Bugs), says %q", sc.File, e.Line, bug.Name, bug.Oracle, e.Oracle))
				}
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("%s: a directed trigger of %s must say \"# fails-with: %s oracle=%s\"", sc.File, bug.Name, bug.Name, bug.Oracle))
		}
	}
	return out
}
