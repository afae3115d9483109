package sim

import (
	"fmt"
	"runtime/debug"
)

// Knob is a per-run tunable of the model: the weight of an action kind or
// the rate of a fault kind, in permille. Swarm testing redraws every knob at
// the start of each run; other strategies use the defaults.
type Knob struct {
	Name    string
	Default int
	// Fault marks a knob that is a fault rate (so "faults off" can zero it).
	Fault bool
}

// Config shapes a run. It holds no model state.
type Config struct {
	// StepMillis is how much virtual time one atomic step takes.
	StepMillis int64
	// MaxSteps bounds the run; 0 means no bound.
	MaxSteps int
	// Knobs are the model's tunables (see Knob). Fault(i) and Knob(i) index
	// into this list.
	Knobs []Knob
	// KeepTrace keeps every trace entry in memory. The trace hash is always
	// computed.
	KeepTrace bool
	// NoRecord turns off decision recording (pure throughput mode).
	NoRecord bool
}

// Entry is one atomic step of the trace.
type Entry struct {
	Step    uint32
	Time    int64
	Actor   ActorID
	Kind    ActorKind
	Op      Op
	Outcome Outcome
	Rec1    uint32
	Rec2    uint32
	// Note is a human-readable detail (an error message); not hashed.
	Note string
}

// StopReason says why a loop ended.
type StopReason uint8

const (
	StopIdle      StopReason = iota // no runnable actor and no pending timer
	StopSteps                       // the step budget ran out
	StopViolation                   // an oracle reported a violation
	StopPanic                       // the model panicked (a bug in the model or the engine)
	StopUntil                       // the caller's condition became true
)

func (s StopReason) String() string {
	return [...]string{"idle", "step-limit", "violation", "panic", "until"}[s]
}

// Violation is what an oracle reports. The engine stops at the first one.
type Violation struct {
	Oracle    string // stable oracle name
	Signature string // oracle name plus the shape of the offending state, ids abstracted
	Detail    string // human-readable, naming the records involved
	Step      uint32 // the step after which it was seen
}

func (v *Violation) Error() string {
	return fmt.Sprintf("%s at step %d: %s", v.Oracle, v.Step, v.Detail)
}

type timer struct {
	at  int64
	seq uint64
	fn  func(r *Run)
}

// Run is one simulation run: its actors, scheduler, virtual clock, choices
// and trace. A Run is used by one goroutine at a time.
type Run struct {
	Cfg Config
	// Ch is the single source of choices; every decision of the run,
	// engine's and model's, goes through it. It records the decision list.
	Ch  *Recorder
	rec Recorder

	strategy Strategy
	knobs    []int
	sites    siteFaults

	actors   []*Actor
	slab     []Actor   // where spawn allocates actors
	slabs    [][]Actor // every slab of this run, for Recycle
	runnable []*Actor
	pool     []*worker // idle coroutines, reused by spawn
	timers   []timer
	timerSeq uint64
	now      int64
	steps    uint32
	hash     uint64
	trace    []Entry
	last     Entry

	violation *Violation
	panicMsg  string

	// AfterStep, when set, runs after every atomic step; a non-nil result
	// stops the run with that violation. This is where state invariants
	// are checked.
	AfterStep func(r *Run, e *Entry) *Violation
	// OnActorDone, when set, runs when an actor finishes.
	OnActorDone func(a *Actor)
}

// NewRun prepares a run that draws its choices from src and schedules with
// strat.
func NewRun(cfg Config, src Chooser, strat Strategy) *Run {
	if cfg.StepMillis == 0 {
		cfg.StepMillis = 1
	}
	r := &Run{Cfg: cfg, strategy: strat, hash: fnvOffset}
	r.rec = Recorder{Src: src, Off: cfg.NoRecord}
	r.Ch = &r.rec
	r.knobs = make([]int, len(cfg.Knobs))
	for i, k := range cfg.Knobs {
		r.knobs[i] = k.Default
	}
	strat.Start(r)
	return r
}

// Decisions returns the decision list recorded so far.
func (r *Run) Decisions() []Decision { return r.rec.Log }

// Steps returns the number of atomic steps taken.
func (r *Run) Steps() uint32 { return r.steps }

// Now returns the virtual time in milliseconds.
func (r *Run) Now() int64 { return r.now }

// Hash returns the trace hash so far: FNV-1a over every entry's fields.
func (r *Run) Hash() uint64 { return r.hash }

// Trace returns the kept entries (empty unless Config.KeepTrace).
func (r *Run) Trace() []Entry { return r.trace }

// Actors returns every actor spawned so far, in id order.
func (r *Run) Actors() []*Actor { return r.actors }

// Actor returns the actor with id, or nil.
func (r *Run) Actor(id ActorID) *Actor {
	if id < 1 || int(id) > len(r.actors) {
		return nil
	}
	return r.actors[id-1]
}

// Runnable returns the actors that have an atomic step ready, in spawn order.
func (r *Run) Runnable() []*Actor { return r.runnable }

// Violation returns the violation that stopped the run, if any.
func (r *Run) Violation() *Violation { return r.violation }

// PanicMessage returns the recovered panic and stack if the model panicked.
func (r *Run) PanicMessage() string { return r.panicMsg }

// Knob returns knob i's value for this run.
func (r *Run) Knob(i int) int { return r.knobs[i] }

// SetKnob overrides knob i (strategies and the quiescence phase use it).
func (r *Run) SetKnob(i, v int) { r.knobs[i] = v }

// Fault draws whether fault knob i hits now. A knob at 0 draws nothing.
func (r *Run) Fault(i int) bool { return Chance(r.Ch, KFault, r.knobs[i]) }

// Spawn starts a top-level actor (no parent).
func (r *Run) Spawn(kind ActorKind, name string, body Body) *Actor {
	return r.spawn(kind, name, "", 0, body)
}

// SpawnRunner is Spawn with a Runner for a body.
func (r *Run) SpawnRunner(kind ActorKind, name string, body Runner) *Actor {
	return r.spawn(kind, name, "", 0, body)
}

// At schedules fn at virtual time t (or now, if t is in the past). Timers
// fire in (time, scheduling order) order, between atomic steps.
func (r *Run) At(t int64, fn func(r *Run)) {
	if t < r.now {
		t = r.now
	}
	r.timerSeq++
	tm := timer{at: t, seq: r.timerSeq, fn: fn}
	i := len(r.timers)
	r.timers = append(r.timers, tm)
	for i > 0 && later(r.timers[i-1], tm) {
		r.timers[i] = r.timers[i-1]
		i--
	}
	r.timers[i] = tm
}

func later(a, b timer) bool { return a.at > b.at || (a.at == b.at && a.seq > b.seq) }

// CancelTimers drops every pending timer (used to stop periodic activations
// before a quiescence phase).
func (r *Run) CancelTimers() { r.timers = r.timers[:0] }

// PendingTimers returns how many timers are pending.
func (r *Run) PendingTimers() int { return len(r.timers) }

func (r *Run) fireDue() {
	for len(r.timers) > 0 && r.timers[0].at <= r.now {
		tm := r.timers[0]
		copy(r.timers, r.timers[1:])
		r.timers = r.timers[:len(r.timers)-1]
		tm.fn(r)
	}
}

// Loop runs atomic steps until no actor is runnable and no timer is
// pending, the step budget runs out, a violation or panic stops the run, or
// until (if non-nil) returns true after a step.
func (r *Run) Loop(until func(r *Run) bool) (reason StopReason) {
	if r.violation != nil {
		return StopViolation
	}
	if r.panicMsg != "" {
		return StopPanic
	}
	defer func() {
		if p := recover(); p != nil {
			r.panicMsg = fmt.Sprintf("%v\n%s", p, debug.Stack())
			reason = StopPanic
		}
	}()
	for {
		if r.Cfg.MaxSteps > 0 && int(r.steps) >= r.Cfg.MaxSteps {
			return StopSteps
		}
		if len(r.runnable) == 0 {
			if len(r.timers) == 0 {
				return StopIdle
			}
			if r.timers[0].at > r.now {
				r.now = r.timers[0].at
			}
			r.fireDue()
			continue
		}
		i := r.strategy.Pick(r, r.runnable)
		r.exec(r.runnable[i])
		if r.violation != nil {
			return StopViolation
		}
		if until != nil && until(r) {
			return StopUntil
		}
	}
}

// exec performs a's pending atomic step and everything up to its next Step.
func (r *Run) exec(a *Actor) {
	op := a.pending
	a.outcome, a.rec1, a.rec2, a.note = 0, 0, 0, ""
	if !op.ReadOnly() {
		a.writes++
	}
	r.advance(a)
	r.steps++
	r.now += r.Cfg.StepMillis
	e := &r.last
	*e = Entry{Step: r.steps, Time: r.now, Actor: a.ID, Kind: a.Kind, Op: op, Outcome: a.outcome, Rec1: a.rec1, Rec2: a.rec2, Note: a.note}
	r.hash = hashEntry(r.hash, e)
	if r.Cfg.KeepTrace {
		r.trace = append(r.trace, *e)
	}
	if a.state != stDone && a.CrashPermille > 0 && Chance(r.Ch, KFault, a.CrashPermille) {
		a.Killed = true
		r.unwind(a)
		r.finish(a)
		if a.OnCrash != nil {
			a.OnCrash(r, a)
		}
	}
	r.fireDue()
	if r.AfterStep != nil {
		if v := r.AfterStep(r, e); v != nil {
			v.Step = r.steps
			r.violation = v
		}
	}
}

// Report records a violation found outside AfterStep (an event check inside
// an acting step, or a quiescence check). The run stops after the current
// step. The first violation wins.
func (r *Run) Report(v *Violation) {
	if r.violation == nil {
		v.Step = r.steps
		r.violation = v
	}
}

// Close stops every unfinished actor so their coroutines are released. A
// run must be closed when it is dropped before it went idle.
func (r *Run) Close() {
	for _, a := range r.actors {
		if a.state != stDone {
			a.state = stDone
			r.unwind(a)
		}
	}
	idle.put(r.pool)
	clear(r.pool)
	r.pool = nil
	r.runnable = r.runnable[:0]
}

// Recycle hands the run's actor memory to later runs. It is for callers
// that are done with the run: after Close, once the results (hash,
// decisions, trace, violation) are taken. Nothing may use the run, its
// actors or anything that points to them (the model's world) afterwards;
// Actors lists no actor from then on.
func (r *Run) Recycle() {
	r.Close()
	clear(r.actors)
	r.actors = r.actors[:0]
	slabs.put(r.slabs)
	clear(r.slabs)
	r.slabs, r.slab = r.slabs[:0], nil
	clear(r.runnable[:cap(r.runnable)])
}

const (
	fnvOffset = 14695981039346656037
	mulK      = 0x9e3779b97f4a7c15
)

// mix folds one 64-bit word into the hash: xor, multiply by an odd
// constant, and fold the high half down (a word-wise FNV-style hash; it only
// needs to tell traces apart, not resist attackers).
func mix(h, v uint64) uint64 {
	h = (h ^ v) * mulK
	return h ^ h>>29
}

func hashEntry(h uint64, e *Entry) uint64 {
	h = mix(h, uint64(e.Step))
	h = mix(h, uint64(e.Time))
	h = mix(h, uint64(e.Actor)|uint64(e.Kind)<<32)
	h = mix(h, opHashes[e.Op])
	h = mix(h, outcomeHashes[e.Outcome])
	h = mix(h, uint64(e.Rec1)|uint64(e.Rec2)<<32)
	return h
}
