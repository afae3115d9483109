package fuzz

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/oxide-sim/rsrsim/sim"
)

// ViewMeta describes the run a trace view shows.
type ViewMeta struct {
	Title     string // what was replayed (a file name or "seed N")
	Target    string
	Config    string // the target configuration as JSON
	Strategy  string
	TraceHash string
}

// chromeEvent is one Chrome trace event (the "Trace Event Format" that
// chrome://tracing and Perfetto read). Field order is fixed, and args are
// maps, which encoding/json writes with sorted keys, so the output is
// byte-for-byte deterministic.
type chromeEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   int64          `json:"ts"`
	Dur  *int64         `json:"dur,omitempty"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	S    string         `json:"s,omitempty"`
	Args map[string]any `json:"args,omitempty"`
}

// actorSpan is the first and last trace entry of an actor.
type actorSpan struct {
	first, last int // indexes into the trace; -1 if the actor took no step
	steps       int
}

func spans(r *sim.Run) []actorSpan {
	sp := make([]actorSpan, len(r.Actors()))
	for i := range sp {
		sp[i] = actorSpan{first: -1, last: -1}
	}
	for i, e := range r.Trace() {
		k := int(e.Actor) - 1
		if k < 0 || k >= len(sp) {
			continue
		}
		if sp[k].first < 0 {
			sp[k].first = i
		}
		sp[k].last = i
		sp[k].steps++
	}
	return sp
}

// WriteChromeTrace writes the kept trace of r as Chrome trace-event JSON,
// openable in Perfetto (ui.perfetto.dev) or chrome://tracing: one track per
// actor, named after it; a span per actor from the start of its first step
// to the end of its last; an instant event per atomic step with its
// operation, outcome and records; and a global instant for the violation.
// Timestamps are virtual time in microseconds (one step takes the run's
// StepMillis).
func WriteChromeTrace(w io.Writer, r *sim.Run, v *sim.Violation, m ViewMeta) error {
	const pid = 1
	stepUS := r.Cfg.StepMillis * 1000
	var evs []chromeEvent
	evs = append(evs, chromeEvent{Name: "process_name", Ph: "M", Pid: pid,
		Args: map[string]any{"name": fmt.Sprintf("rsrsim %s: %s", m.Target, m.Title)}})
	for _, a := range r.Actors() {
		evs = append(evs,
			chromeEvent{Name: "thread_name", Ph: "M", Pid: pid, Tid: int(a.ID),
				Args: map[string]any{"name": fmt.Sprintf("#%d %s", a.ID, a.Name())}},
			chromeEvent{Name: "thread_sort_index", Ph: "M", Pid: pid, Tid: int(a.ID),
				Args: map[string]any{"sort_index": int(a.ID)}})
	}
	tr := r.Trace()
	for i, sp := range spans(r) {
		if sp.first < 0 {
			continue
		}
		a := r.Actors()[i]
		start := tr[sp.first].Time*1000 - stepUS
		dur := tr[sp.last].Time*1000 - start
		args := map[string]any{"kind": a.Kind.String(), "steps": sp.steps,
			"first_step": tr[sp.first].Step, "last_step": tr[sp.last].Step}
		if a.Parent != 0 {
			args["parent"] = actorLabel(r, a.Parent)
		}
		if a.Killed {
			args["killed"] = true
		}
		evs = append(evs, chromeEvent{Name: a.Name(), Cat: a.Kind.String(), Ph: "X", Ts: start, Dur: &dur,
			Pid: pid, Tid: int(a.ID), Args: args})
	}
	for i := range tr {
		e := &tr[i]
		args := map[string]any{"step": e.Step, "op": e.Op.String(), "outcome": e.Outcome.String()}
		if recs := recordText(e); recs != "" {
			args["records"] = recs
		}
		if e.Note != "" {
			args["note"] = e.Note
		}
		if v != nil && e.Step == v.Step {
			args["violation"] = v.Oracle
		}
		evs = append(evs, chromeEvent{Name: e.Op.String(), Cat: "step", Ph: "i", Ts: e.Time * 1000,
			Pid: pid, Tid: int(e.Actor), S: "t", Args: args})
	}
	if v != nil {
		ts := int64(0)
		if v.Step >= 1 && int(v.Step) <= len(tr) {
			ts = tr[v.Step-1].Time * 1000
		}
		evs = append(evs, chromeEvent{Name: "VIOLATION " + v.Oracle, Cat: "violation", Ph: "i", Ts: ts, Pid: pid,
			S: "g", Args: map[string]any{"step": v.Step, "signature": v.Signature, "detail": v.Detail}})
	}

	bw := bufio.NewWriter(w)
	bw.WriteString("{\"traceEvents\":[\n")
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			return err
		}
		bw.Write(b)
		if i < len(evs)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	other, err := json.Marshal(map[string]any{"tool": "rsrsim", "source": m.Title, "target": m.Target,
		"target_config": m.Config, "strategy": m.Strategy, "trace_hash": m.TraceHash, "steps": r.Steps(),
		"time_unit": "virtual microseconds"})
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":%s}\n", other)
	return bw.Flush()
}
