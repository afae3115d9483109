package scenarios

import (
	"fmt"
	"sort"
	"strings"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/model"
)

// spec describes one command: its arguments (checked when the file is
// parsed) and how it runs.
type spec struct {
	usage    string // argument synopsis, for the reference and errors
	help     string // one line
	min, max int    // positional arguments (flags not counted)
	keys     []string
	flags    []string
	setup    bool // only before the first action
	output   bool // prints something: may have a "----" block
	subs     map[string]*spec
	run      func(x *runner, c *Cmd) error
	// extra, if set, checks argument values when the file is parsed.
	extra func(c *Cmd) error
}

func (s *spec) validate(c *Cmd) error {
	if s.subs != nil {
		pos := c.Pos()
		if len(pos) == 0 {
			return fmt.Errorf("want one of: %s", strings.Join(subNames(s), ", "))
		}
		sub, ok := s.subs[pos[0]]
		if !ok {
			return fmt.Errorf("unknown form %q (want one of: %s)", pos[0], strings.Join(subNames(s), ", "))
		}
		if err := sub.check(c, 1); err != nil {
			return fmt.Errorf("%s: %v (usage: %s %s %s)", pos[0], err, c.Name, pos[0], sub.usage)
		}
		if sub.extra != nil {
			if err := sub.extra(c); err != nil {
				return fmt.Errorf("%s: %v", pos[0], err)
			}
		}
		return nil
	}
	if err := s.check(c, 0); err != nil {
		return fmt.Errorf("%v (usage: %s %s)", err, c.Name, s.usage)
	}
	if s.extra != nil {
		return s.extra(c)
	}
	return nil
}

// check validates c's arguments, skipping the first skip positionals.
func (s *spec) check(c *Cmd, skip int) error {
	n := 0
	for _, a := range c.Args {
		if a.Key != "" {
			if !contains(s.keys, a.Key) {
				return fmt.Errorf("unknown option %q", a.Key)
			}
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if contains(s.flags, a.Val) {
			continue
		}
		n++
	}
	if n < s.min || (s.max >= 0 && n > s.max) {
		if s.min == s.max {
			return fmt.Errorf("want %d argument(s), got %d", s.min, n)
		}
		return fmt.Errorf("want %d to %d arguments, got %d", s.min, s.max, n)
	}
	return nil
}

// args returns c's positional arguments that are not flags, after the
// sub-command word if any.
func (s *spec) args(c *Cmd, skip int) []string {
	var out []string
	for _, a := range c.Args {
		if a.Key != "" {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if contains(s.flags, a.Val) {
			continue
		}
		out = append(out, a.Val)
	}
	return out
}

func subNames(s *spec) []string {
	var out []string
	for k := range s.subs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// specFor returns the spec that runs c (the sub-command's for "expect ...").
func specFor(c *Cmd) *spec {
	s := commandSpecs[c.Name]
	if s.subs != nil {
		return s.subs[c.Pos()[0]]
	}
	return s
}

// argsOf returns c's plain positional arguments (sub-command word dropped).
func argsOf(c *Cmd) []string {
	s := commandSpecs[c.Name]
	if s.subs != nil {
		return s.subs[c.Pos()[0]].args(c, 1)
	}
	return s.args(c, 0)
}

func knownBug(name string) bool {
	for _, b := range model.Bugs {
		if b.Name == name {
			return true
		}
	}
	return false
}

func knownOracle(name string) bool {
	switch name {
	case OracleAssert, OracleCommand, OraclePanic, OracleStepLimit:
		return true
	}
	if strings.HasPrefix(name, watchPrefix) {
		return contains(watchNames, strings.TrimPrefix(name, watchPrefix))
	}
	_, ok := invariants.Lookup(name)
	return ok
}

// Reference renders the command reference (for docs/scenarios.md).
func Reference() string {
	var b strings.Builder
	var names []string
	for k := range commandSpecs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		s := commandSpecs[n]
		if s.subs != nil {
			for _, sn := range subNames(s) {
				ss := s.subs[sn]
				fmt.Fprintf(&b, "- `%s` — %s\n", strings.TrimSpace(n+" "+sn+" "+ss.usage), ss.help)
			}
			continue
		}
		fmt.Fprintf(&b, "- `%s` — %s\n", strings.TrimSpace(n+" "+s.usage), s.help)
	}
	return b.String()
}
