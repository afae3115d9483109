package fuzz

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/sim"
)

// Shrinking works on the choice sequence, as Hypothesis and rapid do: a
// failing run is its decision list, and a smaller list that still fails
// with the same violation signature is a simpler counterexample. Every
// choice's 0 is its simplest answer: the first runnable actor (so runs of
// one actor stay together, which means fewer context switches), no fault,
// the first row, the first candidate, the first action. Candidates are
// replayed with sim.NewReplay (values out of range are taken modulo n,
// past the end every choice is 0), and an accepted candidate is replaced by
// the list the run actually consumed, so the current list is always one
// that replays exactly.

// ShrinkOptions bounds a shrink.
type ShrinkOptions struct {
	// MaxRuns bounds the candidate runs (0 = DefaultShrinkRuns).
	MaxRuns int
}

// DefaultShrinkRuns is the default budget of candidate runs.
const DefaultShrinkRuns = 10000

// RunStats measures a run for shrinking reports.
type RunStats struct {
	Decisions int `json:"decisions"`
	NonZero   int `json:"nonzero_decisions"`
	Steps     int `json:"steps"`
	Actors    int `json:"actors"`
	Switches  int `json:"context_switches"`
}

// ShrinkResult is the outcome of Shrink.
type ShrinkResult struct {
	Signature string
	// Decisions is the shrunk list: the list the final run consumed, with
	// trailing zero decisions dropped (replay answers 0 past the end).
	Decisions []sim.Decision
	// Final is the final run, with its trace and run kept.
	Final         *Result
	Before, After RunStats
	Runs          int  // candidate runs made
	Exhausted     bool // the run budget ran out before a fixed point
}

// Shrink minimizes the decision list ds of a failing run of t under eng,
// keeping its violation signature. It is deterministic: the same inputs
// give the same result. It fails if ds does not reproduce a violation.
func Shrink(t Target, eng EngineConfig, ds []sim.Decision, o ShrinkOptions) (*ShrinkResult, error) {
	if o.MaxRuns <= 0 {
		o.MaxRuns = DefaultShrinkRuns
	}
	orig, err := Execute(t, eng, sim.NewReplay(ds), RunOptions{KeepTrace: true, KeepRun: true})
	if err != nil {
		return nil, err
	}
	if orig.Violation == nil {
		return nil, fmt.Errorf("the decision list does not reproduce a violation: nothing to shrink")
	}
	s := &shrinker{t: t, eng: eng, sig: orig.Violation.Signature, max: o.MaxRuns,
		cur: trimZeros(orig.Decisions)}
	s.loop()
	final, err := Execute(t, eng, sim.NewReplay(s.cur), RunOptions{KeepTrace: true, KeepRun: true})
	if err != nil {
		return nil, err
	}
	if final.Violation == nil || final.Violation.Signature != s.sig {
		return nil, fmt.Errorf("internal error: the shrunk list does not reproduce %s", s.sig)
	}
	res := &ShrinkResult{Signature: s.sig, Decisions: trimZeros(final.Decisions), Final: final,
		Before: statsOf(ds, orig), After: statsOf(nil, final), Runs: s.runs, Exhausted: s.runs >= s.max}
	res.After.Decisions, res.After.NonZero = len(res.Decisions), nonZero(res.Decisions)
	return res, nil
}

func statsOf(ds []sim.Decision, r *Result) RunStats {
	if ds == nil {
		ds = r.Decisions
	}
	st := RunStats{Decisions: len(ds), NonZero: nonZero(ds), Steps: int(r.Steps)}
	if r.Run != nil {
		st.Actors = len(r.Run.Actors())
	}
	for i := 1; i < len(r.Trace); i++ {
		if r.Trace[i].Actor != r.Trace[i-1].Actor {
			st.Switches++
		}
	}
	return st
}

func nonZero(ds []sim.Decision) int {
	n := 0
	for _, d := range ds {
		if d.V != 0 {
			n++
		}
	}
	return n
}

func trimZeros(ds []sim.Decision) []sim.Decision {
	end := len(ds)
	for end > 0 && ds[end-1].V == 0 {
		end--
	}
	return append([]sim.Decision(nil), ds[:end]...)
}

type shrinker struct {
	t    Target
	eng  EngineConfig
	sig  string
	cur  []sim.Decision // always a consumed list without trailing zeros
	runs int
	max  int
}

func (s *shrinker) out() bool { return s.runs >= s.max }

// try runs cand and accepts it if it fails with the same signature and
// the list it consumed is simpler than the current one (shortlex: shorter,
// or as long and smaller at the first difference). Strict improvement
// makes every pass terminate.
func (s *shrinker) try(cand []sim.Decision) bool {
	if s.out() {
		return false
	}
	s.runs++
	res, err := Execute(s.t, s.eng, sim.NewReplay(cand), RunOptions{})
	if err != nil || res.Violation == nil || res.Violation.Signature != s.sig {
		return false
	}
	got := trimZeros(res.Decisions)
	if !shortlexLess(got, s.cur) {
		return false
	}
	s.cur = got
	return true
}

func shortlexLess(a, b []sim.Decision) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	for i := range a {
		if a[i].V != b[i].V {
			return a[i].V < b[i].V
		}
	}
	return false
}

var chunkSizes = []int{8, 4, 2, 1}

func (s *shrinker) loop() {
	for !s.out() {
		changed := false
		for _, k := range chunkSizes {
			changed = s.deleteChunks(k) || changed
		}
		for _, k := range chunkSizes {
			changed = s.zeroChunks(k) || changed
		}
		changed = s.reduceValues() || changed
		if !changed {
			return
		}
	}
}

// deleteChunks tries to delete every window of k decisions, sliding by one.
func (s *shrinker) deleteChunks(k int) bool {
	changed := false
	for i := 0; i+k <= len(s.cur) && !s.out(); {
		cand := make([]sim.Decision, 0, len(s.cur)-k)
		cand = append(append(cand, s.cur[:i]...), s.cur[i+k:]...)
		if s.try(cand) {
			changed = true // the window now holds new decisions: retry at i
			continue
		}
		i++
	}
	return changed
}

// zeroChunks tries to set every window of k decisions to 0.
func (s *shrinker) zeroChunks(k int) bool {
	changed := false
	for i := 0; i+k <= len(s.cur) && !s.out(); i++ {
		if nonZero(s.cur[i:i+k]) == 0 {
			continue
		}
		cand := append([]sim.Decision(nil), s.cur...)
		for j := i; j < i+k; j++ {
			cand[j].V = 0
		}
		if s.try(cand) {
			changed = true
		}
	}
	return changed
}

// reduceValues binary-searches each non-zero value toward 0.
func (s *shrinker) reduceValues() bool {
	changed := false
	for i := 0; i < len(s.cur) && !s.out(); i++ {
		hi := s.cur[i].V
		if hi == 0 {
			continue
		}
		lo := uint32(0) // assumed not to fail (the zero pass tried it)
		for lo+1 < hi && i < len(s.cur) && !s.out() {
			mid := lo + (hi-lo)/2
			cand := append([]sim.Decision(nil), s.cur...)
			cand[i].V = mid
			if s.try(cand) {
				changed = true
				if i >= len(s.cur) || s.cur[i].V >= hi {
					break // the list changed shape under us
				}
				hi = s.cur[i].V
			} else {
				lo = mid
			}
		}
	}
	return changed
}

// ScheduleLines renders a run's kept trace as a short numbered schedule,
// one line per atomic step, "N. #id actor: operation -> outcome [records]".
// Consecutive steps of one actor share a line with a step range; a
// repeating pattern of operations is written once with a count.
func ScheduleLines(r *sim.Run) []string {
	tr := r.Trace()
	var lines []string
	for i := 0; i < len(tr); {
		j := i + 1
		for j < len(tr) && tr[j].Actor == tr[i].Actor {
			j++
		}
		lines = append(lines, scheduleGroup(r, tr[i:j]))
		i = j
	}
	return lines
}

func actorLabel(r *sim.Run, id sim.ActorID) string {
	if a := r.Actor(id); a != nil {
		return fmt.Sprintf("#%d %s", a.ID, a.Name())
	}
	return fmt.Sprintf("#%d", id)
}

func stepText(e *sim.Entry, withRecs bool) string {
	s := e.Op.String() + " -> " + e.Outcome.String()
	if withRecs {
		if recs := recordText(e); recs != "" {
			s += " [" + recs + "]"
		}
	}
	return s
}

func recordText(e *sim.Entry) string {
	switch {
	case e.Rec1 != 0 && e.Rec2 != 0:
		return strconv.FormatUint(uint64(e.Rec1), 10) + " " + strconv.FormatUint(uint64(e.Rec2), 10)
	case e.Rec1 != 0:
		return strconv.FormatUint(uint64(e.Rec1), 10)
	case e.Rec2 != 0:
		return strconv.FormatUint(uint64(e.Rec2), 10)
	}
	return ""
}

func scheduleGroup(r *sim.Run, g []sim.Entry) string {
	head := fmt.Sprintf("%d. %s: ", g[0].Step, actorLabel(r, g[0].Actor))
	if len(g) > 1 {
		head = fmt.Sprintf("%d-%d. %s: ", g[0].Step, g[len(g)-1].Step, actorLabel(r, g[0].Actor))
	}
	if len(g) <= 3 {
		parts := make([]string, len(g))
		for i := range g {
			parts[i] = stepText(&g[i], true)
		}
		return head + strings.Join(parts, ", ")
	}
	// a repeating pattern of (operation, outcome) with period p <= 4
	for p := 1; p <= 4 && 2*p <= len(g); p++ {
		if len(g)%p != 0 {
			continue
		}
		rep := true
		for i := p; i < len(g) && rep; i++ {
			rep = g[i].Op == g[i%p].Op && g[i].Outcome == g[i%p].Outcome
		}
		if !rep {
			continue
		}
		parts := make([]string, p)
		for i := 0; i < p; i++ {
			parts[i] = stepText(&g[i], false)
		}
		last := ""
		if recs := recordText(&g[len(g)-1]); recs != "" {
			last = " (last [" + recs + "])"
		}
		return fmt.Sprintf("%s%d x (%s)%s", head, len(g)/p, strings.Join(parts, ", "), last)
	}
	if len(g) <= 6 {
		parts := make([]string, len(g))
		for i := range g {
			parts[i] = stepText(&g[i], true)
		}
		return head + strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%s%s, %s, ... %d more ..., %s", head, stepText(&g[0], true), stepText(&g[1], true),
		len(g)-3, stepText(&g[len(g)-1], true))
}

// WriteSchedule writes ScheduleLines and, if v is set, the violation.
// With maxLines > 0 a longer schedule is cut in the middle: its first and
// last maxLines/2 lines are kept (the end is where the bug shows).
func WriteSchedule(w io.Writer, r *sim.Run, v *sim.Violation, maxLines int) error {
	lines := ScheduleLines(r)
	if maxLines > 0 && len(lines) > maxLines {
		head, tail := maxLines/2, maxLines-maxLines/2
		cut := fmt.Sprintf("... %d lines omitted ...", len(lines)-head-tail)
		lines = append(append(append([]string(nil), lines[:head]...), cut), lines[len(lines)-tail:]...)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "  %s\n", l); err != nil {
			return err
		}
	}
	if v != nil {
		_, err := fmt.Fprintf(w, "  violation after step %d: %s: %s\n", v.Step, v.Oracle, firstLine(v.Detail))
		return err
	}
	return nil
}
