package model

import (
	"github.com/oxide-sim/rsrsim/sim"
)

// This file is the saga executor: steno's semantics as omicron uses them
// (steno 0.4.1 src/saga_exec.rs, src/sec.rs; omicron nexus/src/app/saga.rs;
// spec 20 §1).
//
//   - A saga is a list of stages run in order; the nodes of one stage are
//     parallel siblings (steno's append_parallel) and interleave as separate
//     actors. A subsaga is inlined: its nodes become the parent's, bracketed
//     by SubsagaStart/SubsagaEnd nodes, and a failure inside it unwinds the
//     whole parent.
//   - Node outputs live in the saga's own Go struct; a node writes only its
//     own outputs and reads its ancestors'. A node that is re-run overwrites
//     its outputs; a generate-id node's value is fixed once it succeeds.
//   - An action that fails starts the unwind: the engine waits for running
//     siblings, then runs the undo of every node whose action succeeded, in
//     reverse stage order (siblings' undos in parallel). The failed node's own
//     undo never runs. Nodes with no undo are trivially undone.
//   - An undo that fails leaves the saga stuck forever (UndoFailed): it makes
//     no further progress and keeps whatever locks it holds.
//   - Crash and recovery: a node whose action (or undo) started but did not
//     record success runs again from its beginning. The engine can stop a
//     node actor after any of its atomic steps (sim.Actor.CrashPermille), and
//     the executor can also lose the success record after the node's last
//     step; in both cases the node is run again.
//   - Test injection as steno's saga_inject_error and saga_inject_repeat: an
//     injected error replaces the action (it does not run) and fails the
//     node; a repeat runs the action n times and the undo m times back to
//     back, the last result counting.

// SagaState is where a saga execution stands.
type SagaState uint8

const (
	SagaRunning   SagaState = iota
	SagaDone                // every action succeeded
	SagaUnwinding           // an action failed; undos are running
	SagaFailed              // unwound completely: ended "failed"
	SagaStuck               // an undo failed: stuck forever
)

var sagaStateNames = [...]string{"running", "done", "unwinding", "failed", "stuck"}

func (s SagaState) String() string { return sagaStateNames[s] }

// NodeKind distinguishes nodes that take atomic steps from the bookkeeping
// nodes steno also counts (generate-id, constant, subsaga brackets), which
// run inline with no atomic step of their own.
type NodeKind uint8

const (
	NodeAction NodeKind = iota
	NodePure            // generate id, constant, subsaga start/end: no DB access
)

// NodeFunc is a node's action or undo. It takes atomic steps with x.Step.
type NodeFunc func(x *NodeCtx) error

// Node is one saga node. A node with a Chain is not a steno node itself:
// it stands for a sequence of stages that runs as one branch of a parallel
// stage (steno's append_parallel of subsagas, as in snapshot delete).
type Node struct {
	Name   string
	Kind   NodeKind
	Action NodeFunc
	Undo   NodeFunc // nil: nothing to undo
	Chain  [][]Node
	idx    int // flattened steno node index (not for chain nodes)
}

// NodeStatus is a node's last logged event.
type NodeStatus uint8

const (
	NodeNotStarted NodeStatus = iota
	NodeSucceeded
	NodeFailed
	NodeUndone
	NodeUndoFailed
)

// Inject is steno's test injection for one saga: an error at a node index,
// and repeats per node index.
type Inject struct {
	ErrorAt     int // node index whose action is replaced by an error; -1 = none
	RepeatNode  int // node index to repeat; -1 = none (RepeatAll overrides)
	RepeatAll   bool
	ActionTimes int // how many times the repeated node's action runs (>= 1)
	UndoTimes   int // how many times the repeated node's undo runs (>= 1)
	// Crash is a deterministic crash plan (spec 20 §1.3 item 3); the zero
	// value is no crash.
	Crash CrashAt
}

// CrashAt stops node Node's action (or, with Undo, its undo) once, after
// its AfterStep-th atomic step, as a Nexus crash would; the node then runs
// again from its beginning. If the node ends after exactly AfterStep steps,
// its success record is lost instead (the executor re-runs it just the
// same). A node that takes fewer steps is not crashed. AfterStep 0 = none.
type CrashAt struct {
	Node      int
	AfterStep int
	Undo      bool
}

// NoInject is the zero injection.
var NoInject = Inject{ErrorAt: -1, RepeatNode: -1}

// Saga is one saga execution.
type Saga struct {
	ID     UUID // the steno saga id (not the operating_saga_id a node generates)
	Name   string
	Stages [][]Node
	// User sagas are run by saga_execute (the caller waits); task sagas by
	// saga_start (fire and forget).
	User bool

	State     SagaState
	ErrNode   string // the node whose action failed
	Err       error
	UndoErr   error
	StuckNode string
	// StuckRerun: the failed undo was a re-execution, after an earlier
	// execution of the same undo had taken effect (it took a write step
	// and crashed, or succeeded and its result was lost, or ran twice).
	StuckRerun bool
	status     []NodeStatus
	names      []string
	failing    bool // an action failed: no new node starts
	crashDone  bool // Inject.Crash has fired
	Inject     Inject
	Actor      *sim.Actor
	w          *World
	// Claims are read/write regions this saga allocated and will delete by
	// id if it unwinds (disk create, snapshot create's destination, region
	// replacement's new region). The orphaned-region oracle does not count
	// them while the saga runs (spec 10 §9 item 4).
	Claims []UUID
	// out is the saga's state struct (its node outputs), for callers that
	// read what the saga produced.
	out any
}

// index assigns every steno node its flattened index, in stage order,
// chains inlined, and returns the count.
func (s *Saga) index(stages [][]Node, n int) int {
	for si := range stages {
		for i := range stages[si] {
			nd := &stages[si][i]
			if nd.Chain != nil {
				n = s.index(nd.Chain, n)
				continue
			}
			nd.idx = n
			s.names = append(s.names, nd.Name)
			n++
		}
	}
	return n
}

// countNodes counts the nodes of stages, chains inlined.
func countNodes(stages [][]Node) int {
	n := 0
	for si := range stages {
		for i := range stages[si] {
			if c := stages[si][i].Chain; c != nil {
				n += countNodes(c)
			} else {
				n++
			}
		}
	}
	return n
}

// NodeCount is steno's dag.get_nodes().count().
func (s *Saga) NodeCount() int {
	if s.names == nil {
		s.index(s.Stages, 0)
	}
	return len(s.names)
}

// NodeName returns the name of node index i (flattened in stage order).
func (s *Saga) NodeName(i int) string {
	if s.names == nil {
		s.index(s.Stages, 0)
	}
	if i < 0 || i >= len(s.names) {
		return ""
	}
	return s.names[i]
}

// Status returns node i's last logged event.
func (s *Saga) Status(i int) NodeStatus { return s.status[i] }

// Finished reports whether the saga ended (done, failed or stuck).
func (s *Saga) Finished() bool {
	return s.State == SagaDone || s.State == SagaFailed || s.State == SagaStuck
}

// NodeCtx is what a node action or undo sees.
type NodeCtx struct {
	*sim.Ctx
	W       *World
	DB      *DB
	Saga    *Saga
	Node    *Node
	Undoing bool

	crashAfter int      // Inject.Crash: stop this execution after this many steps
	steps      int      // atomic steps taken (counted only with crashAfter > 0)
	err        error    // the node function's result
	fn         NodeFunc // what the node actor runs (Act)
}

// newNodeCtx returns a node context from the free list, or a new one.
func (w *World) newNodeCtx() *NodeCtx {
	if n := len(w.freeNodeCtx); n > 0 {
		x := w.freeNodeCtx[n-1]
		w.freeNodeCtx = w.freeNodeCtx[:n-1]
		return x
	}
	return new(NodeCtx)
}

// Act is the node actor's body: it runs the node function once.
func (x *NodeCtx) Act(c *sim.Ctx) {
	x.Ctx = c
	x.err = x.fn(x)
}

// Step is sim.Ctx.Step, counting the node's steps for Inject.Crash: after
// the crashAfter-th step the engine stops the node actor (a crash at rate
// 1000 draws no choice).
func (x *NodeCtx) Step(op sim.Op) {
	x.Ctx.Step(op)
	if x.crashAfter > 0 {
		x.steps++
		if x.steps == x.crashAfter {
			x.Self().CrashPermille = 1000
		}
	}
}

// SagaError is the error of an injected failure.
type SagaError struct{ Msg string }

func (e *SagaError) Error() string { return e.Msg }

var errInjected = &SagaError{Msg: "injected error"}

var (
	opSagaStart = sim.RegisterOp("saga start")
)

func nopNode(*NodeCtx) error { return nil }

// seq returns one stage per node, in order: a chain, the usual shape of a
// saga DAG. The nodes share one array and the stages another, so a saga
// instance's DAG costs two allocations rather than one per stage.
func seq(nodes ...Node) [][]Node {
	return appendSeq(make([][]Node, 0, len(nodes)), nodes...)
}

// appendSeq appends seq(nodes...)'s stages to dst.
func appendSeq(dst [][]Node, nodes ...Node) [][]Node {
	for i := range nodes {
		dst = append(dst, nodes[i:i+1:i+1])
	}
	return dst
}

// StartSaga creates a saga actor. For a user request, the caller then waits
// for s.Actor (saga_execute); a task does not (saga_start).
//
// With World.NoopSagaStart the start is only counted (NoopSagaStarts) and
// the saga never runs: it gets an id but no actor and is not listed in
// w.Sagas (omicron's NoopStartSaga, nexus/src/app/background/init.rs test
// module, used by the background tasks' unit tests). Only task activations
// may run in that mode: a user request would wait on the missing actor.
func (w *World) StartSaga(c spawner, s *Saga) *Saga {
	s.w = w
	s.ID = w.DB.NewUUID()
	n := countNodes(s.Stages)
	if cap(s.names) < n {
		s.names = make([]string, 0, n)
	}
	s.names = s.names[:0]
	s.status = make([]NodeStatus, s.index(s.Stages, 0))
	if s.Inject.ActionTimes == 0 && s.Inject.UndoTimes == 0 && s.Inject.ErrorAt == 0 && s.Inject.RepeatNode == 0 && !s.Inject.RepeatAll {
		crash := s.Inject.Crash
		s.Inject = NoInject
		s.Inject.Crash = crash
	}
	if w.NoopSagaStart {
		w.NoopSagaStarts++
		return s
	}
	w.Sagas = append(w.Sagas, s)
	s.Actor = c.SpawnRunner(sim.KindSaga, s.Name, s)
	return s
}

// Act is the saga actor's body (the saga is its own sim.Runner, so that
// starting it allocates no closure).
func (s *Saga) Act(c *sim.Ctx) { s.execute(c) }

// spawner is a sim.Ctx or a sim.Run: anything that can start an actor.
type spawner interface {
	Spawn(kind sim.ActorKind, name string, body sim.Body) *sim.Actor
	SpawnRunner(kind sim.ActorKind, name string, body sim.Runner) *sim.Actor
}

func (s *Saga) execute(c *sim.Ctx) {
	defer func() { s.w.SagaEnds++ }()
	if !s.runStages(c, s.Stages) {
		s.State = SagaUnwinding
		if s.unwindStages(c, s.Stages) {
			s.State = SagaFailed
		} else {
			s.State = SagaStuck
		}
		return
	}
	s.State = SagaDone
}

// runStages runs stages in order and reports whether every node succeeded.
// Once any action of the saga has failed, no new node starts.
func (s *Saga) runStages(c *sim.Ctx, stages [][]Node) bool {
	for si := range stages {
		if s.failing || !s.runStage(c, stages[si]) {
			return false
		}
	}
	return true
}

// runStage runs the nodes of one stage (in parallel if several) and reports
// whether they all succeeded.
func (s *Saga) runStage(c *sim.Ctx, st []Node) bool {
	if len(st) == 1 {
		return s.runAny(c, &st[0])
	}
	// Parallel siblings: each runs in its own executor actor so their
	// atomic steps interleave; the stage ends when all have ended (steno
	// waits for running siblings before it unwinds).
	kids := make([]*sim.Actor, len(st))
	ok := make([]bool, len(st))
	for i := range st {
		i := i
		kids[i] = c.SpawnSub(sim.KindSaga, s.Name, st[i].Name, sim.Body(func(c *sim.Ctx) {
			ok[i] = s.runAny(c, &st[i])
		}))
	}
	c.Wait(kids...)
	all := true
	for i := range st {
		all = all && ok[i]
	}
	return all
}

func (s *Saga) runAny(c *sim.Ctx, n *Node) bool {
	if n.Chain != nil {
		return s.runStages(c, n.Chain)
	}
	if s.failing {
		return false
	}
	ok := s.runNode(c, n.idx, n, false)
	if !ok {
		s.failing = true
	}
	return ok
}

// runNode runs node idx's action (or undo) to a logged result, re-running
// it from its beginning after each crash. It reports success.
func (s *Saga) runNode(c *sim.Ctx, idx int, n *Node, undo bool) bool {
	fn := n.Action
	if undo {
		fn = n.Undo
	}
	if !undo && idx == s.Inject.ErrorAt {
		s.status[idx] = NodeFailed
		s.ErrNode, s.Err = n.Name, errInjected
		return false
	}
	times := 1
	if s.Inject.RepeatAll || idx == s.Inject.RepeatNode {
		if undo {
			times = max(1, s.Inject.UndoTimes)
		} else {
			times = max(1, s.Inject.ActionTimes)
		}
	}
	w := s.w
	var err error
	rerun := false     // the last execution followed one that took effect
	effective := false // some execution so far took effect
	for t := 0; t < times; t++ {
		if n.Kind == NodePure {
			x := w.newNodeCtx()
			*x = NodeCtx{Ctx: c, W: w, DB: w.DB, Saga: s, Node: n, Undoing: undo}
			err = fn(x) // runs inline: x is free again when it returns
			w.freeNodeCtx = append(w.freeNodeCtx, x)
			continue
		}
		// Fuzzing faults: an injected failure of the action (it does not
		// run), and an undo that runs twice.
		if !undo && w.faultNodeFail(c, s, n) {
			s.status[idx] = NodeFailed
			s.ErrNode, s.Err = n.Name, errInjected
			return false
		}
		runs := 1
		if undo && w.faultUndoTwice(c, s, n) {
			runs = 2
		}
		for r := 0; r < runs; r++ {
			rerun, err = s.runNodeOnce(c, n, fn, undo, effective)
			effective = rerun || err == nil
		}
	}
	if err != nil {
		if undo {
			s.status[idx] = NodeUndoFailed
			s.UndoErr, s.StuckNode, s.StuckRerun = err, n.Name, rerun
		} else {
			s.status[idx] = NodeFailed
			s.ErrNode, s.Err = n.Name, err
		}
		return false
	}
	if undo {
		s.status[idx] = NodeUndone
	} else {
		s.status[idx] = NodeSucceeded
	}
	return true
}

// runNodeOnce runs fn in a node actor until one execution ends without a
// crash, and returns its result, and whether that execution followed one
// that had taken effect: one that succeeded and whose result was lost, one
// killed after a write step, or (earlier) a previous successful run.
func (s *Saga) runNodeOnce(c *sim.Ctx, n *Node, fn NodeFunc, undo, earlier bool) (took bool, err error) {
	w := s.w
	took = earlier
	for {
		crash := 0
		if ci := s.Inject.Crash; ci.AfterStep > 0 && ci.Node == n.idx && ci.Undo == undo && !s.crashDone {
			crash = ci.AfterStep
		}
		x := w.newNodeCtx()
		*x = NodeCtx{W: w, DB: w.DB, Saga: s, Node: n, Undoing: undo, crashAfter: crash, fn: fn}
		a := c.SpawnSub(sim.KindNode, s.Name, n.Name, x)
		a.CrashPermille = w.crashRateAt(s.Name, n.Name)
		c.Wait(a)
		// The node actor has ended: the engine holds x no longer (a
		// worker drops its body when the body returns or unwinds), and
		// nothing in the model keeps a node context, so x can serve the
		// next node execution once its results are read here.
		steps, nodeErr := x.steps, x.err
		w.freeNodeCtx = append(w.freeNodeCtx, x)
		if crash > 0 && (a.Killed || steps == crash) {
			// Inject.Crash: stopped after its crash-th step, or ended
			// there before its result was recorded.
			s.crashDone = true
			w.Crashes++
			took = took || a.Writes() > 0
			continue
		}
		if a.Killed {
			w.Crashes++
			took = took || a.Writes() > 0
			continue // recovery: the node runs again from its beginning
		}
		// The node's effects are committed; the success (or failure)
		// record can still be lost to a crash before it is written.
		if w.faultCrashAfterNode(c, s, n) {
			w.Crashes++
			took = took || (nodeErr == nil && a.Writes() > 0)
			continue
		}
		return took, nodeErr
	}
}

// unwindStages undoes, in reverse stage order, every node of stages whose
// action succeeded; the undos of one parallel stage run in parallel. It
// reports false (stuck) as soon as an undo fails.
func (s *Saga) unwindStages(c *sim.Ctx, stages [][]Node) bool {
	for si := len(stages) - 1; si >= 0; si-- {
		st := stages[si]
		var todo []int
		for i := range st {
			nd := &st[i]
			switch {
			case nd.Chain != nil:
				todo = append(todo, i)
			case s.status[nd.idx] != NodeSucceeded:
				// never ran, or failed: its undo never runs
			case nd.Undo == nil:
				s.status[nd.idx] = NodeUndone
			default:
				todo = append(todo, i)
			}
		}
		if len(todo) == 1 {
			if !s.undoAny(c, &st[todo[0]]) {
				return false
			}
			continue
		}
		if len(todo) > 1 {
			kids := make([]*sim.Actor, 0, len(todo))
			ok := make([]bool, len(todo))
			for j, i := range todo {
				j, i := j, i
				kids = append(kids, c.SpawnSub(sim.KindSaga, s.Name, "undo "+st[i].Name, sim.Body(func(c *sim.Ctx) {
					ok[j] = s.undoAny(c, &st[i])
				})))
			}
			c.Wait(kids...)
			for j := range todo {
				if !ok[j] {
					return false
				}
			}
		}
	}
	return true
}

func (s *Saga) undoAny(c *sim.Ctx, n *Node) bool {
	if n.Chain != nil {
		return s.unwindStages(c, n.Chain)
	}
	return s.runNode(c, n.idx, n, true)
}
