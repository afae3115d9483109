package scenarios

import (
	"fmt"
	"path"
	"strings"

	"github.com/oxide-sim/rsrsim/model"
)

// MarkdownCommand is the command that prints the tables of
// docs/scenarios.md.
const MarkdownCommand = "go run ./cmd/rsrsim scenario --all --markdown"

// cell renders one result: "pass", or the failing oracle.
func cell(r *Result) string {
	if r.Passed() {
		return "pass"
	}
	return "**" + r.Failure.Oracle + "**"
}

// mirrorsShort is the omicron test function a header names (its last
// word), or the whole text.
func mirrorsShort(m string) string {
	f := strings.Fields(m)
	for _, w := range f {
		if strings.HasPrefix(w, "test_") {
			return "`" + w + "`"
		}
	}
	return m
}

// Markdown renders the matrices as two markdown tables: omicron's
// scenarios, then the directed triggers. Each row is one scenario; the
// columns are: every switch off, each switch alone (#1-#9, spec 40
// order), and all nine on judged by omicron's own assertions only
// ("parent", spec 30 §B.5). A cell is "pass" or the oracle that failed.
func Markdown(ms []*Matrix) string {
	var b strings.Builder
	head := func() {
		b.WriteString("| scenario | mirrors | off |")
		for i := range model.Bugs {
			fmt.Fprintf(&b, " #%d |", i+1)
		}
		b.WriteString(" parent (asserts only) |\n|---|---|---|")
		for range model.Bugs {
			b.WriteString("---|")
		}
		b.WriteString("---|\n")
	}
	row := func(m *Matrix) {
		fmt.Fprintf(&b, "| %s | %s | %s |", path.Base(m.Scenario.Name), mirrorsShort(m.Scenario.Header.Mirrors), cell(m.Off))
		for _, r := range m.Bugs {
			fmt.Fprintf(&b, " %s |", cell(r))
		}
		fmt.Fprintf(&b, " %s |\n", cell(m.Parent))
	}
	b.WriteString("Omicron's scenarios (spec 30 part B):\n\n")
	head()
	for _, m := range ms {
		if strings.HasPrefix(m.Scenario.Name, "omicron/") {
			row(m)
		}
	}
	b.WriteString("\nDirected triggers (spec 40, one per switch):\n\n")
	head()
	for _, m := range ms {
		if !strings.HasPrefix(m.Scenario.Name, "omicron/") {
			row(m)
		}
	}
	b.WriteString("\nSwitches: ")
	for i, bug := range model.Bugs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "#%d `%s`", i+1, bug.Name)
	}
	b.WriteString(".\n")
	return b.String()
}
