package fuzz

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"

	"github.com/oxide-sim/rsrsim/sim"
)

// TraceFilter selects trace entries for display.
type TraceFilter struct {
	Actor    sim.ActorID // 0 = all
	Record   uint32      // 0 = all; matches either record column
	From, To uint32      // step range, inclusive; 0 = open
	Op       string      // "" = all; else a substring of the operation name
	Kind     string      // "" = all; else an actor kind name (saga, node, task, user, env, test)
}

// Match reports whether e passes the filter.
func (f TraceFilter) Match(e *sim.Entry) bool {
	if f.Actor != 0 && e.Actor != f.Actor {
		return false
	}
	if f.Record != 0 && e.Rec1 != f.Record && e.Rec2 != f.Record {
		return false
	}
	if f.From != 0 && e.Step < f.From {
		return false
	}
	if f.To != 0 && e.Step > f.To {
		return false
	}
	if f.Op != "" && !strings.Contains(e.Op.String(), f.Op) {
		return false
	}
	if f.Kind != "" && e.Kind.String() != f.Kind {
		return false
	}
	return true
}

// WriteTraceTable renders the kept trace of r as a table: step, virtual
// time, actor, operation, outcome and the records the step touched.
func WriteTraceTable(w io.Writer, r *sim.Run, f TraceFilter) error {
	t := tablewriter.NewWriter(w)
	t.Header("step", "time", "actor", "operation", "outcome", "records")
	for i := range r.Trace() {
		e := &r.Trace()[i]
		if !f.Match(e) {
			continue
		}
		a := r.Actor(e.Actor)
		name := ""
		if a != nil {
			name = fmt.Sprintf("#%d %s", a.ID, a.Name())
		}
		recs := ""
		if e.Rec1 != 0 {
			recs = strconv.FormatUint(uint64(e.Rec1), 10)
		}
		if e.Rec2 != 0 {
			recs += " " + strconv.FormatUint(uint64(e.Rec2), 10)
		}
		out := e.Outcome.String()
		if e.Note != "" {
			out += ": " + e.Note
		}
		if err := t.Append(strconv.FormatUint(uint64(e.Step), 10), fmt.Sprintf("%.2fs", float64(e.Time)/1000),
			name, e.Op.String(), out, recs); err != nil {
			return err
		}
	}
	return t.Render()
}
