// Package scenarios runs scripted scenarios against the model: omicron's
// own tests re-expressed (spec 30 part B), and one directed trigger per
// pre-fix switch (spec 40). A scenario is a small text file in the style of
// cockroachdb/datadriven: one command per line, with positional arguments
// and key=value options; a command that prints something may be followed by
// a line "----" and the expected output, up to the next blank line.
//
//	# mirrors: nexus/tests/integration_tests/crucible_replacements.rs
//	#          test_delete_volume_region_snapshot_replacement_state_requested_3
//	# fails-with: start-ignores-deleted-region-snapshot oracle=live-drain-converges
//	topology sleds=1 disks-per-sled=4
//	option simulated-agent alloc=random
//	disk-create D
//	activate rsr-start
//	----
//	requests_created_ok: 0
//	start_invoked_ok: 1
//	requests_completed_ok: 0
//	errors: 0
//
// Lines starting with '#' are comments; "# key: value" comments at the top
// of the file are header directives (mirrors, fails-with, parent). See
// docs/scenarios.md for the command reference.
package scenarios

import (
	"fmt"
	"os"
	"strings"
)

// Arg is one argument of a command: positional (Key empty) or key=value.
type Arg struct {
	Key, Val string
}

// Cmd is one command line.
type Cmd struct {
	Line     int
	Name     string
	Args     []Arg
	Expected []string // the expected output block, if HasExpected
	// HasExpected is set when the command is followed by "----".
	HasExpected bool
}

// Pos returns the positional arguments.
func (c *Cmd) Pos() []string {
	var out []string
	for _, a := range c.Args {
		if a.Key == "" {
			out = append(out, a.Val)
		}
	}
	return out
}

// Opt returns the value of key=value option key, and whether it is given.
func (c *Cmd) Opt(key string) (string, bool) {
	for _, a := range c.Args {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// Flag reports whether a bare positional word is present (used for flags
// such as "noop-start").
func (c *Cmd) Flag(word string) bool {
	for _, a := range c.Args {
		if a.Key == "" && a.Val == word {
			return true
		}
	}
	return false
}

// Expectation is one "fails-with" (or "parent") header directive: with the
// switch Bug on (with every switch on, for "parent"), the scenario must
// fail, and, if Oracle is set, the failure must be that oracle's.
type Expectation struct {
	Bug    string
	Oracle string
	Line   int
}

// Header is what a scenario's top comment says about it.
type Header struct {
	// Mirrors names the omicron test (or spec 40 trigger) it re-expresses.
	Mirrors string
	// FailsWith lists the pre-fix switches that make it fail. Every other
	// switch, alone, must leave it passing.
	FailsWith []Expectation
	// Parent is the expectation with all nine switches on, judged by the
	// scenario's own assertions only (Options.AssertionsOnly): spec 30
	// §B.5 "expected on the parent". Nil when the file says nothing.
	Parent *ParentExpectation
}

// ParentExpectation is the "parent:" directive.
type ParentExpectation struct {
	Fails  bool
	Oracle string
	Line   int
}

// Scenario is a parsed scenario file.
type Scenario struct {
	Name   string // e.g. "omicron/i07-rsr-requested" or "bugs/lock-missing-volume"
	File   string // the path used in messages
	Header Header
	Cmds   []*Cmd
}

// ParseError is a malformed scenario: "file:line: message".
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ParseFile reads and parses a scenario file.
func ParseFile(path, name string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, name, string(b))
}

// Parse parses scenario text. file is used in error messages; name is the
// scenario's name.
func Parse(file, name, text string) (*Scenario, error) {
	sc := &Scenario{Name: name, File: file}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	perr := func(line int, format string, a ...any) error {
		return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	inHeader := true
	mirrorsOpen := false // the previous line was a mirrors line: indented comments continue it
	var last *Cmd
	for i := 0; i < len(lines); i++ {
		ln := i + 1
		raw := strings.TrimRight(lines[i], " \t")
		trim := strings.TrimSpace(raw)
		if trim == "" {
			last = nil
			continue
		}
		if strings.HasPrefix(trim, "#") {
			if inHeader {
				if rest := strings.TrimPrefix(trim, "#"); mirrorsOpen && strings.HasPrefix(rest, "  ") && strings.TrimSpace(rest) != "" {
					sc.Header.Mirrors += " " + strings.TrimSpace(rest)
					continue
				}
				mirrorsOpen = false
				if err := parseDirective(sc, trim, ln, perr); err != nil {
					return nil, err
				}
				mirrorsOpen = strings.HasPrefix(trim, "# mirrors:")
			}
			continue
		}
		inHeader = false
		if trim == "----" {
			if last == nil {
				return nil, perr(ln, `"----" must directly follow a command`)
			}
			if last.HasExpected {
				return nil, perr(ln, `a second "----" for the command of line %d`, last.Line)
			}
			last.HasExpected = true
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				last.Expected = append(last.Expected, strings.TrimRight(lines[i], " \t"))
			}
			last = nil
			continue
		}
		if idx := strings.Index(raw, " #"); idx >= 0 {
			raw = raw[:idx]
		}
		toks := strings.Fields(raw)
		cmd := &Cmd{Line: ln, Name: toks[0]}
		for _, t := range toks[1:] {
			if k, v, ok := strings.Cut(t, "="); ok {
				if k == "" {
					return nil, perr(ln, "malformed argument %q: empty key", t)
				}
				if v == "" {
					return nil, perr(ln, "malformed argument %q: empty value", t)
				}
				for _, a := range cmd.Args {
					if a.Key == k {
						return nil, perr(ln, "option %q given twice", k)
					}
				}
				cmd.Args = append(cmd.Args, Arg{Key: k, Val: v})
			} else {
				cmd.Args = append(cmd.Args, Arg{Val: t})
			}
		}
		spec, ok := commandSpecs[cmd.Name]
		if !ok {
			return nil, perr(ln, "unknown command %q%s", cmd.Name, suggest(cmd.Name))
		}
		if err := spec.validate(cmd); err != nil {
			return nil, perr(ln, "%s: %v", cmd.Name, err)
		}
		sc.Cmds = append(sc.Cmds, cmd)
		last = cmd
	}
	for _, c := range sc.Cmds {
		if c.HasExpected && !commandSpecs[c.Name].output {
			return nil, perr(c.Line, "%s prints nothing: it cannot be followed by an expected output block", c.Name)
		}
	}
	if len(sc.Cmds) == 0 {
		return nil, perr(len(lines), "no commands")
	}
	return sc, nil
}

// parseDirective reads a "# key: value" header comment. Comments that are
// not directives are ignored.
func parseDirective(sc *Scenario, line string, ln int, perr func(int, string, ...any) error) error {
	body := strings.TrimSpace(strings.TrimPrefix(line, "#"))
	key, val, ok := strings.Cut(body, ":")
	if !ok || strings.ContainsAny(key, " \t") {
		return nil
	}
	val = strings.TrimSpace(val)
	directives := []string{"mirrors", "fails-with", "parent"}
	known := false
	for _, d := range directives {
		if key == d {
			known = true
		} else if editDistance(key, d) <= 2 {
			return perr(ln, "unknown header directive %q (did you mean %q?)", key, d)
		}
	}
	if !known {
		return nil
	}
	switch key {
	case "mirrors":
		if sc.Header.Mirrors != "" {
			sc.Header.Mirrors += " "
		}
		sc.Header.Mirrors += val
	case "fails-with":
		f := strings.Fields(val)
		if len(f) == 0 || len(f) > 2 {
			return perr(ln, "fails-with: want \"<bug-id> [oracle=<name>]\"")
		}
		e := Expectation{Bug: f[0], Line: ln}
		if !knownBug(e.Bug) {
			return perr(ln, "fails-with: unknown bug %q (see 'rsrsim list bugs')", e.Bug)
		}
		if len(f) == 2 {
			o, ok := strings.CutPrefix(f[1], "oracle=")
			if !ok || o == "" {
				return perr(ln, "fails-with: want \"<bug-id> [oracle=<name>]\", got %q", f[1])
			}
			if !knownOracle(o) {
				return perr(ln, "fails-with: unknown oracle %q", o)
			}
			e.Oracle = o
		}
		for _, x := range sc.Header.FailsWith {
			if x.Bug == e.Bug {
				return perr(ln, "fails-with: %s listed twice", e.Bug)
			}
		}
		sc.Header.FailsWith = append(sc.Header.FailsWith, e)
	case "parent":
		if sc.Header.Parent != nil {
			return perr(ln, "parent: given twice")
		}
		f := strings.Fields(val)
		p := &ParentExpectation{Line: ln}
		switch {
		case len(f) == 1 && f[0] == "passes":
		case (len(f) == 1 || len(f) == 2) && f[0] == "fails":
			p.Fails = true
			if len(f) == 2 {
				o, ok := strings.CutPrefix(f[1], "oracle=")
				if !ok || !knownOracle(o) {
					return perr(ln, "parent: unknown oracle in %q", f[1])
				}
				p.Oracle = o
			}
		default:
			return perr(ln, "parent: want \"passes\" or \"fails [oracle=<name>]\"")
		}
		sc.Header.Parent = p
	}
	return nil
}

// suggest returns " (did you mean X?)" for a near miss.
func suggest(name string) string {
	best, bd := "", 3
	for k := range commandSpecs {
		if d := editDistance(name, k); d < bd || (d == bd && best != "" && k < best) {
			best, bd = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
