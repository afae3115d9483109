package scenarios

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// Pseudo-oracles: failure classes that are not in invariants.Catalogue.
const (
	// OracleAssert is a failed expect command or a mismatched output block.
	OracleAssert = "assert"
	// OracleCommand is an action that went wrong (a user request's saga
	// failed, a datastore call of the test harness returned an error).
	OracleCommand = "command"
	// OraclePanic is a panic in the model.
	OraclePanic = "panic"
	// OracleStepLimit is a run that exceeded its step budget.
	OracleStepLimit = "step-limit"
	// watchPrefix starts the oracle name of a watch predicate.
	watchPrefix = "watch:"
)

// Options shape one run of a scenario.
type Options struct {
	// Bugs are pre-fix switches (spec 40 ids or Go names) turned on for
	// this run, on top of the file's own "switch" lines.
	Bugs []string
	// Seed overrides the file's seed when non-zero.
	Seed uint64
	// Sched overrides the file's scheduling ("first" or "random") when set.
	Sched string
	// MaxSteps bounds the run (0: DefaultMaxSteps).
	MaxSteps int
	// AssertionsOnly turns rsrsim's oracles off (the per-step checks and
	// the check-* commands): only the scenario's own assertions, which
	// are omicron's, decide. Used to compare with spec 30 §B.5.
	AssertionsOnly bool
	// Trace, if set, receives the run's trace (one line per atomic step)
	// when the run ends.
	Trace io.Writer
}

// DefaultMaxSteps bounds a scenario run.
const DefaultMaxSteps = 2_000_000

// Failure says where and why a scenario failed.
type Failure struct {
	Line   int    `json:"line"`
	Oracle string `json:"oracle"` // an invariants oracle name, or one of the pseudo-oracles
	Msg    string `json:"message"`
}

// Result is the outcome of one scenario run.
type Result struct {
	Name    string
	File    string
	Bugs    []string
	Failure *Failure // nil: passed
	Steps   uint32
}

// Passed reports whether the scenario passed.
func (r *Result) Passed() bool { return r.Failure == nil }

// String is "PASS name" or "FAIL name: file:line: oracle: message".
func (r *Result) String() string {
	if r.Failure == nil {
		return "PASS " + r.Name
	}
	return fmt.Sprintf("FAIL %s: %s:%d: %s: %s", r.Name, r.File, r.Failure.Line, r.Failure.Oracle, r.Failure.Msg)
}

// scriptError is a mistake in the scenario itself (bad input).
type scriptError struct{ msg string }

func (e *scriptError) Error() string { return e.msg }

// failError is a scenario failure.
type failError struct {
	oracle, msg string
}

func (e *failError) Error() string { return e.oracle + ": " + e.msg }

func scriptf(format string, a ...any) error { return &scriptError{fmt.Sprintf(format, a...)} }

func failf(oracle, format string, a ...any) error {
	return &failError{oracle: oracle, msg: fmt.Sprintf(format, a...)}
}

// pendingViolation is a violation not yet acknowledged by expect-violation.
type pendingViolation struct {
	v    *sim.Violation
	line int
}

// runner runs one scenario.
type runner struct {
	sc    *Scenario
	opts  Options
	cfg   model.Config
	seed  uint64
	sched string
	topo  model.TopologySpec
	knobs map[int]int

	w   *model.World
	r   *sim.Run
	ck  *invariants.Checker
	st  *strategy
	ch  *chooser
	cmd *Cmd

	names map[string]*obj

	pending    []pendingViolation
	seen       map[string]bool
	acked      map[string]bool
	oraclesOff bool
	watches    []string

	lastDrain *invariants.DrainOutcome
	clean     *cleanSlate
	out       []string
}

// Run runs sc with opts. A non-nil error is a mistake in the scenario (bad
// input: a name used before it is bound, a command in the wrong place); a
// failing scenario is a Result with a Failure.
func Run(sc *Scenario, opts Options) (*Result, error) {
	x := &runner{sc: sc, opts: opts, seed: 1, sched: "first",
		topo:  model.TopologySpec{Sleds: 1, DisksPerSled: []int{4}},
		knobs: map[int]int{}, names: map[string]*obj{},
		seen: map[string]bool{}, acked: map[string]bool{}}
	if opts.Sched != "" && opts.Sched != "first" && opts.Sched != "random" {
		return nil, fmt.Errorf("sched %q: want first or random", opts.Sched)
	}
	sw, err := model.SwitchesFor(opts.Bugs)
	if err != nil {
		return nil, err
	}
	x.cfg.Switches = sw
	res := &Result{Name: sc.Name, File: sc.File, Bugs: opts.Bugs}
	defer func() {
		if x.r != nil {
			res.Steps = x.r.Steps()
			if opts.Trace != nil {
				x.writeTrace(opts.Trace)
			}
			x.r.Close()
		}
	}()
	fail := func(line int, oracle, msg string) (*Result, error) {
		res.Failure = &Failure{Line: line, Oracle: oracle, Msg: msg}
		return res, nil
	}
	pendingFail := func() (*Result, error) {
		p := x.pending[0]
		return fail(p.line, p.v.Oracle, fmt.Sprintf("%s (after step %d)", p.v.Detail, p.v.Step))
	}
	for _, c := range sc.Cmds {
		x.cmd = c
		if c.Name == "expect-violation" {
			o := c.Pos()[0]
			found := -1
			for i, p := range x.pending {
				if p.v.Oracle == o {
					found = i
					break
				}
			}
			if found < 0 {
				var seen []string
				for k := range x.seen {
					seen = append(seen, k)
				}
				sort.Strings(seen)
				return fail(c.Line, OracleAssert, fmt.Sprintf("expected a violation of %s, none is pending (oracles violated so far: %s)", o, orNone(seen)))
			}
			x.pending = append(x.pending[:found], x.pending[found+1:]...)
			x.acked[o] = true
			continue
		}
		if len(x.pending) > 0 {
			return pendingFail()
		}
		err := x.exec(c)
		var se *scriptError
		var fe *failError
		switch {
		case err == nil:
		case errors.As(err, &se):
			return nil, &ParseError{File: sc.File, Line: c.Line, Msg: c.Name + ": " + se.msg}
		case errors.As(err, &fe):
			if len(x.pending) > 0 {
				return pendingFail()
			}
			return fail(c.Line, fe.oracle, fe.msg)
		default:
			return nil, &ParseError{File: sc.File, Line: c.Line, Msg: c.Name + ": " + err.Error()}
		}
	}
	if len(x.pending) > 0 {
		return pendingFail()
	}
	return res, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// exec runs one command and compares its output block.
func (x *runner) exec(c *Cmd) error {
	spec := specFor(c)
	if spec.setup {
		if x.w != nil {
			return scriptf("a setup command must come before the first action")
		}
	} else if x.w == nil {
		x.build()
	}
	x.out = x.out[:0]
	if err := spec.run(x, c); err != nil {
		return err
	}
	if c.HasExpected {
		if !equalLines(x.out, c.Expected) {
			return failf(OracleAssert, "output differs\n  want:\n%s\n  got:\n%s", indent(c.Expected), indent(x.out))
		}
	}
	return nil
}

func (x *runner) printf(format string, a ...any) {
	x.out = append(x.out, fmt.Sprintf(format, a...))
}

func equalLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.TrimRight(a[i], " \t") != strings.TrimRight(b[i], " \t") {
			return false
		}
	}
	return true
}

func indent(ls []string) string {
	if len(ls) == 0 {
		return "    (nothing)"
	}
	return "    " + strings.Join(ls, "\n    ")
}

// build creates the world: the run (seeded chooser, scenario strategy, no
// faults), the topology, the oracles.
func (x *runner) build() {
	seed := x.seed
	if x.opts.Seed != 0 {
		seed = x.opts.Seed
	}
	knobs := append([]sim.Knob(nil), model.Knobs...)
	for i := range knobs {
		if knobs[i].Fault {
			knobs[i].Default = 0
		}
	}
	max := x.opts.MaxSteps
	if max == 0 {
		max = DefaultMaxSteps
	}
	x.ch = &chooser{base: sim.NewPRNG(seed)}
	sched := x.sched
	if x.opts.Sched != "" {
		sched = x.opts.Sched
	}
	x.st = &strategy{random: sched == "random", held: map[sim.ActorID]bool{}}
	x.r = sim.NewRun(sim.Config{Knobs: knobs, MaxSteps: max, KeepTrace: x.opts.Trace != nil}, x.ch, x.st)
	for k, v := range x.knobs {
		x.r.SetKnob(k, v)
	}
	x.w = model.NewWorld(x.cfg, x.r)
	x.w.DB.BuildTopology(x.topo)
	for i, d := range x.w.DB.Datasets {
		x.names[fmt.Sprintf("X%d", i)] = &obj{kind: kDataset, id: d.ID}
	}
	x.ck = invariants.NewChecker(x.w)
	x.r.AfterStep = x.afterStep
}

// afterStep is the engine hook: the oracles and the watch predicates.
// Violations are recorded, not returned, so the run goes on (a scenario can
// acknowledge one with expect-violation and continue).
func (x *runner) afterStep(r *sim.Run, e *sim.Entry) *sim.Violation {
	if x.oraclesOff || x.opts.AssertionsOnly {
		x.w.TakeEvents()
		x.w.DB.LockNotes = x.w.DB.LockNotes[:0]
	} else if v := x.ck.AfterStep(r, e); v != nil {
		x.note(v)
	}
	for _, name := range x.watches {
		if msg := x.watchFails(name); msg != "" {
			x.note(&sim.Violation{Oracle: watchPrefix + name, Signature: watchPrefix + name, Detail: msg})
		}
	}
	return nil
}

// note records a violation (the first one of each oracle).
func (x *runner) note(v *sim.Violation) {
	if x.acked[v.Oracle] || x.seen[v.Oracle] {
		return
	}
	if x.r != nil {
		v.Step = x.r.Steps()
	}
	x.seen[v.Oracle] = true
	line := 0
	if x.cmd != nil {
		line = x.cmd.Line
	}
	x.pending = append(x.pending, pendingViolation{v: v, line: line})
}

// ---------------------------------------------------------------------------
// running the engine

// runUntil runs atomic steps until done() holds or no actor that is not
// held is runnable.
func (x *runner) runUntil(done func() bool) error {
	stop := func() bool { return (done != nil && done()) || x.allHeld() }
	if stop() {
		return nil
	}
	switch x.r.Loop(func(*sim.Run) bool { return stop() }) {
	case sim.StopPanic:
		msg := x.r.PanicMessage()
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		return failf(OraclePanic, "the model panicked: %s", msg)
	case sim.StopSteps:
		return failf(OracleStepLimit, "the run exceeded its step budget (%d steps)", x.r.Steps())
	case sim.StopViolation:
		v := x.r.Violation()
		return failf(v.Oracle, "%s", v.Detail)
	}
	return nil
}

func (x *runner) allHeld() bool {
	for _, a := range x.r.Runnable() {
		if !x.st.isHeld(x.r, a) {
			return false
		}
	}
	return true
}

// act spawns body as an actor of kind and runs until idle. It fails if the
// actor could not finish (it waits on a held saga).
func (x *runner) act(kind sim.ActorKind, name string, body sim.Body) error {
	a := x.r.Spawn(kind, name, body)
	if err := x.runUntil(nil); err != nil {
		return err
	}
	if !a.Done() {
		return failf(OracleCommand, "%s could not finish: it waits on a held saga (run-saga it first)", name)
	}
	return nil
}

var opScript = sim.RegisterOp("scenario: test harness call")

// harness runs fn as one atomic step of a test-harness actor (a direct
// datastore call of omicron's test code).
func (x *runner) harness(name string, fn func(c *sim.Ctx) error) error {
	var err error
	if e := x.act(sim.KindUser, "harness: "+name, func(c *sim.Ctx) {
		c.Step(opScript)
		err = fn(c)
	}); e != nil {
		return e
	}
	return err
}

// ---------------------------------------------------------------------------
// scheduling and choices

// strategy schedules the scenario's actors: the first runnable actor in
// spawn order ("first", the default: a sequential, readable schedule in
// which a task activation ends before the sagas it started run) or a
// uniformly drawn one ("random"). Held actors (a held saga and everything
// it spawned) never run.
type strategy struct {
	random bool
	held   map[sim.ActorID]bool
	// holdTaskSagas: sagas that task activations start are held as they
	// start (activate ... hold-sagas).
	holdTaskSagas bool
	buf           []int
}

func (s *strategy) Start(*sim.Run) {}
func (s *strategy) Name() string   { return "scenario" }

func (s *strategy) OnSpawn(r *sim.Run, a *sim.Actor) {
	if s.holdTaskSagas && a.Kind == sim.KindSaga {
		if p := r.Actor(a.Parent); p != nil && p.Kind == sim.KindTask {
			s.held[a.ID] = true
		}
	}
}

func (s *strategy) isHeld(r *sim.Run, a *sim.Actor) bool {
	for a != nil {
		if s.held[a.ID] {
			return true
		}
		if a.Parent == 0 {
			return false
		}
		a = r.Actor(a.Parent)
	}
	return false
}

func (s *strategy) Pick(r *sim.Run, runnable []*sim.Actor) int {
	s.buf = s.buf[:0]
	for i, a := range runnable {
		if !s.isHeld(r, a) {
			if !s.random {
				return i
			}
			s.buf = append(s.buf, i)
		}
	}
	if len(s.buf) == 0 {
		return 0 // unreachable: runUntil stops when every runnable actor is held
	}
	return s.buf[r.Ch.Choose(sim.KSched, len(s.buf))]
}

// chooser is the run's source of choices: a seeded PRNG, except for values
// a scenario forces (drive-outcome).
type chooser struct {
	base   *sim.PRNG
	forced map[sim.Kind][]int
}

func (c *chooser) Choose(k sim.Kind, n int) int {
	if q := c.forced[k]; len(q) > 0 {
		c.forced[k] = q[1:]
		return q[0] % n
	}
	return c.base.Choose(k, n)
}

func (c *chooser) force(k sim.Kind, v int) {
	if c.forced == nil {
		c.forced = map[sim.Kind][]int{}
	}
	c.forced[k] = append(c.forced[k], v)
}

// writeTrace prints the kept trace: step, actor, operation, outcome,
// records, note.
func (x *runner) writeTrace(w io.Writer) {
	for _, e := range x.r.Trace() {
		name := ""
		if a := x.r.Actor(e.Actor); a != nil {
			name = a.Name()
		}
		fmt.Fprintf(w, "%5d  #%-4d %-48s %-60s %-12s %d %d", e.Step, e.Actor, trunc(name, 48), trunc(e.Op.String(), 60), e.Outcome, e.Rec1, e.Rec2)
		if e.Note != "" {
			fmt.Fprintf(w, "  (%s)", e.Note)
		}
		fmt.Fprintln(w)
	}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
