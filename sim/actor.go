package sim

import (
	"iter"
	"sync"
)

// ActorID identifies an actor within one run. Ids are dense and start at 1.
type ActorID int32

type actorState uint8

const (
	stRunnable actorState = iota
	stBlocked
	stDone
)

// Body is an actor written as straight-line Go. It calls c.Step before each
// atomic step; everything between two Step calls runs without any other
// actor interleaving. Code before the first Step must not read or write
// shared state: it runs when the actor is spawned.
type Body func(c *Ctx)

// Act runs the body (a Body is a Runner).
func (b Body) Act(c *Ctx) { b(c) }

// Runner is an actor's body as a value: a type whose Act method is the
// body. Spawning a Runner that is already allocated (a saga node's
// context, say) needs no closure.
type Runner interface{ Act(c *Ctx) }

// Actor is a saga execution, a saga node, a task activation, a user request
// or an environment action: anything that takes atomic steps.
type Actor struct {
	ID     ActorID
	Kind   ActorKind
	Parent ActorID
	// name, or name+"/"+sub when sub is set (see Name): joined only when
	// shown, so spawning a saga node builds no string.
	name, sub string

	state   actorState
	pending Op // the atomic step it performs when next resumed
	waiting int32
	writes  int32 // atomic steps taken that are not registered read-only
	joiners []*Actor
	joinBuf [1]*Actor // joiners' first backing array (most actors have one)
	prio    int64     // PCT priority

	// CrashPermille, when > 0, makes the engine draw a crash after every
	// atomic step this actor takes (a KFault decision). On a crash the actor
	// is stopped where it is and OnCrash runs, typically to start the saga
	// node again from its beginning.
	CrashPermille int
	OnCrash       func(r *Run, a *Actor)

	// Per-step annotations, reset before each resume.
	outcome Outcome
	rec1    uint32
	rec2    uint32
	note    string

	w   *worker // the coroutine running the body
	ctx Ctx
	r   *Run
	// Killed is set when the actor was stopped by a crash or Kill.
	Killed bool
}

// Name is the actor's display name.
func (a *Actor) Name() string {
	if a.sub == "" {
		return a.name
	}
	return a.name + "/" + a.sub
}

// Writes is the number of atomic steps the actor has taken whose operation
// is not registered read-only (sim.RegisterReadOp): a crashed actor with
// Writes() > 0 ran at least one transaction that may have changed rows.
func (a *Actor) Writes() int { return int(a.writes) }

// Done reports whether the actor has finished (or was killed).
func (a *Actor) Done() bool { return a.state == stDone }

// crashed is the panic value that unwinds an actor's stack when it is
// stopped while suspended.
type crashed struct{}

// Ctx is what an actor's body sees of the engine.
type Ctx struct {
	r *Run
	a *Actor
}

// Run returns the run the actor belongs to.
func (c *Ctx) Run() *Run { return c.r }

// Self returns the actor.
func (c *Ctx) Self() *Actor { return c.a }

// Step suspends the actor until the scheduler picks it, announcing that its
// next atomic step is op. When Step returns the actor owns the world until
// its next Step (or its end).
func (c *Ctx) Step(op Op) {
	w := c.a.w
	// killing is tested before the yield too: a body that is unwinding
	// after a kill never suspends again.
	if w.killing || !w.yield(op) || w.killing {
		panic(crashed{})
	}
}

// Result annotates the current atomic step with its outcome and up to two
// record ids it touched (0 = none). Only the last call in a step counts.
func (c *Ctx) Result(o Outcome, rec1, rec2 uint32) {
	c.a.outcome, c.a.rec1, c.a.rec2 = o, rec1, rec2
}

// Note attaches a human-readable detail (an error message) to the current
// atomic step's trace entry. It is not part of the trace hash.
func (c *Ctx) Note(s string) { c.a.note = s }

// Choose draws a decision from the run's single source of choices.
func (c *Ctx) Choose(k Kind, n int) int { return c.r.Ch.Choose(k, n) }

// Fault draws whether fault f hits here, at its (possibly swarm-drawn) rate.
func (c *Ctx) Fault(f int) bool { return c.r.Fault(f) }

// Knob returns the value of model knob i for this run (swarm may have
// changed it from its default).
func (c *Ctx) Knob(i int) int { return c.r.Knob(i) }

// Now returns the virtual time in milliseconds.
func (c *Ctx) Now() int64 { return c.r.now }

// Spawn starts a new actor. It runs its prelude at once (up to its first
// Step) and then competes for the scheduler like any other.
func (c *Ctx) Spawn(kind ActorKind, name string, body Body) *Actor {
	return c.r.spawn(kind, name, "", c.a.ID, body)
}

// SpawnSub is Spawn for an actor named name+"/"+sub (a saga's node, say)
// whose body is a Runner.
func (c *Ctx) SpawnSub(kind ActorKind, name, sub string, body Runner) *Actor {
	return c.r.spawn(kind, name, sub, c.a.ID, body)
}

// SpawnRunner is Spawn with a Runner for a body.
func (c *Ctx) SpawnRunner(kind ActorKind, name string, body Runner) *Actor {
	return c.r.spawn(kind, name, "", c.a.ID, body)
}

// Wait blocks until every actor in as has finished. Waiting is not an
// atomic step: the actor resumes as soon as the last one finishes, and runs
// on to its next Step without a scheduling decision.
func (c *Ctx) Wait(as ...*Actor) {
	n := int32(0)
	for _, o := range as {
		if o.state != stDone {
			if o.joiners == nil {
				o.joiners = o.joinBuf[:0]
			}
			o.joiners = append(o.joiners, c.a)
			n++
		}
	}
	if n == 0 {
		return
	}
	c.a.waiting = n
	c.a.state = stBlocked
	c.r.removeRunnable(c.a)
	w := c.a.w
	if w.killing || !w.yield(OpNone) || w.killing {
		panic(crashed{})
	}
}

// worker is a pooled coroutine. It runs one actor's body after another: a
// finished body yields opBodyDone and the coroutine waits for the next
// body, so spawning an actor usually reuses a coroutine (and its already
// grown stack) instead of creating one. A killed actor's coroutine is
// reused too (see Run.unwind).
type worker struct {
	next  func() (Op, bool)
	stop  func()
	yield func(Op) bool
	body  Runner
	ctx   *Ctx
	// killing is set while the actor is being killed: the body's next
	// Step or Wait (the one it is suspended in) panics with crashed, the
	// body unwinds, and the coroutine parks for the next body.
	killing bool
}

// opBodyDone is what a worker yields when its body has returned. It is
// never a registered op.
const opBodyDone Op = 0xFFFF

// idle is the process-wide free list of parked coroutines: a run hands its
// idle ones back on Close, and the next run on any goroutine takes them
// instead of starting new ones (which would also regrow their stacks).
// A worker between bodies holds no state, so reuse cannot change a run's
// behaviour, only its cost. It is bounded; a worker beyond the bound is
// stopped.
var idle idleList

const idleMax = 512

type idleList struct {
	mu sync.Mutex
	ws []*worker
}

// take moves up to 16 idle workers onto dst.
func (l *idleList) take(dst []*worker) []*worker {
	l.mu.Lock()
	n := min(len(l.ws), 16)
	dst = append(dst, l.ws[len(l.ws)-n:]...)
	clear(l.ws[len(l.ws)-n:])
	l.ws = l.ws[:len(l.ws)-n]
	l.mu.Unlock()
	return dst
}

// put returns ws to the list and stops the ones beyond the bound.
func (l *idleList) put(ws []*worker) {
	l.mu.Lock()
	k := min(len(ws), idleMax-len(l.ws))
	l.ws = append(l.ws, ws[:k]...)
	l.mu.Unlock()
	for _, w := range ws[k:] {
		w.stop()
	}
}

func newWorker() *worker {
	w := &worker{}
	w.next, w.stop = iter.Pull(func(yield func(Op) bool) {
		w.yield = yield
		for {
			w.run() // the body returned, or unwound after a kill or a stop
			w.body, w.ctx, w.killing = nil, nil, false
			if !yield(opBodyDone) {
				return // stopped: the coroutine ends
			}
		}
	})
	return w
}

// run runs the current body until it returns or unwinds after a kill or a
// stop (a crashed panic, recovered here); any other panic propagates.
func (w *worker) run() {
	defer func() {
		if p := recover(); p != nil {
			if _, isCrash := p.(crashed); !isCrash {
				panic(p)
			}
		}
	}()
	w.body.Act(w.ctx)
}

// actorSlab is how many actors one allocation holds.
const actorSlab = 32

// slabs holds actor slabs of recycled runs (Run.Recycle) for later runs of
// any goroutine: a run spawns a few hundred actors, and allocating (and
// zeroing) their slabs afresh each run was a third of a campaign's
// allocated bytes.
var slabs slabList

type slabList struct {
	mu   sync.Mutex
	free [][]Actor
}

// slabsMax bounds the recycled slabs kept: enough for a few runs per
// worker.
const slabsMax = 256

func (l *slabList) take() []Actor {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		s := l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return s
	}
	l.mu.Unlock()
	return make([]Actor, 0, actorSlab)
}

// put takes back slabs whose actors nothing references any more; they are
// zeroed first so they keep nothing alive.
func (l *slabList) put(ss [][]Actor) {
	for _, s := range ss {
		clear(s[:cap(s)])
	}
	l.mu.Lock()
	k := min(len(ss), slabsMax-len(l.free))
	for _, s := range ss[:k] {
		l.free = append(l.free, s[:0])
	}
	l.mu.Unlock()
}

func (r *Run) spawn(kind ActorKind, name, sub string, parent ActorID, body Runner) *Actor {
	if len(r.slab) == cap(r.slab) {
		r.slab = slabs.take() // earlier slabs stay where they are
		r.slabs = append(r.slabs, r.slab)
	}
	r.slab = append(r.slab, Actor{ID: ActorID(len(r.actors) + 1), Kind: kind, name: name, sub: sub, Parent: parent, r: r})
	a := &r.slab[len(r.slab)-1]
	a.ctx = Ctx{r: r, a: a}
	r.actors = append(r.actors, a)
	if len(r.pool) == 0 {
		r.pool = idle.take(r.pool)
	}
	var w *worker
	if n := len(r.pool); n > 0 {
		w = r.pool[n-1]
		r.pool = r.pool[:n-1]
	} else {
		w = newWorker()
	}
	w.body, w.ctx = body, &a.ctx
	a.w = w
	r.strategy.OnSpawn(r, a)
	r.addRunnable(a)
	r.advance(a) // run the prelude up to the first Step
	return a
}

// advance resumes a until its next yield, and handles its end. It is used
// both to execute a scheduled atomic step and to run preludes and
// post-Wait code, which take no step of their own.
func (r *Run) advance(a *Actor) {
	op, ok := a.w.next()
	if !ok {
		r.finish(a)
		return
	}
	if op == opBodyDone {
		r.pool = append(r.pool, a.w)
		r.finish(a)
		return
	}
	a.pending = op
}

func (r *Run) finish(a *Actor) {
	if a.state == stDone {
		return
	}
	if a.state == stRunnable {
		r.removeRunnable(a)
	}
	a.state = stDone
	js := a.joiners
	a.joiners = nil
	for _, j := range js {
		if j.state != stBlocked {
			continue
		}
		j.waiting--
		if j.waiting == 0 {
			j.state = stRunnable
			r.addRunnable(j)
			r.advance(j)
		}
	}
	if r.OnActorDone != nil {
		r.OnActorDone(a)
	}
}

// Kill stops an actor where it is suspended, as a crash of the process
// running it would. Its joiners are released. Killing a finished actor does
// nothing.
func (r *Run) Kill(a *Actor) {
	if a.state == stDone {
		return
	}
	a.Killed = true
	r.unwind(a)
	r.finish(a)
}

// unwind ends a's body where it is suspended: the body unwinds (its Step or
// Wait panics with crashed, deferred calls run) and the coroutine, idle
// again, goes back to the run's pool for the next spawn. Ending it with
// iter.Pull's stop would unwind the body the same way but end the
// coroutine, so every kill would cost a new goroutine later.
func (r *Run) unwind(a *Actor) {
	w := a.w
	w.killing = true
	op, ok := w.next()
	if ok && op == opBodyDone {
		r.pool = append(r.pool, w)
		return
	}
	// Not reachable while Step and Wait honour killing; end the
	// coroutine rather than pool one in an unknown state.
	if ok {
		w.stop()
	}
}

func (r *Run) addRunnable(a *Actor) {
	a.state = stRunnable
	r.runnable = append(r.runnable, a)
}

func (r *Run) removeRunnable(a *Actor) {
	for i, b := range r.runnable {
		if b == a {
			copy(r.runnable[i:], r.runnable[i+1:])
			r.runnable[len(r.runnable)-1] = nil
			r.runnable = r.runnable[:len(r.runnable)-1]
			return
		}
	}
}
