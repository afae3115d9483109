package model

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/sim"
)

// Saga checks: omicron's saga test helpers (nexus/src/app/sagas/test_helpers.rs
// at 09b150f177; spec 20 §1.4) offered as generic checks over every saga of
// the model, plus a deterministic crash-convergence check (spec 20 §1.3).
//
// A SagaCase is a saga in a representative starting state. The checker
// builds that state once, in a fresh world, by running real sagas and
// datastore calls to idle with faults off, and then runs every check on its
// own copy of that world (a fork: the database and agent state are copied,
// the engine run is new, with the same seed for every check, so every check
// starts from the same state and ids). The saga runs alone, as in omicron's tests: no
// other actor, no task timers; only its own parallel siblings interleave.
// Faults are off except the injection under test; draws of kind KValue
// (abstract external outcomes, such as a region replacement drive round)
// take their first, fault-free option.
//
// The checks:
//
//   - ActionsSucceedIdempotently (actions_succeed_idempotently): every
//     node's action runs twice and its undo once; the saga must end Done.
//   - ActionFailureCanUnwind (action_failure_can_unwind), for each node i:
//     an error injected at node i; the saga must end Failed with the error
//     at node i, no saga may be stuck, and the case's clean-slate predicate
//     must hold.
//   - ActionFailureCanUnwindIdempotently, for each i >= 1: the same with node
//     i-1's undo run twice.
//   - NoFailedUndo (assert_no_failed_undo_steps): over every run the
//     checker made, no saga ended stuck.
//   - CrashConverges: the node's action (or undo) is stopped after its k-th
//     atomic step (Inject.Crash) and runs again; the saga must end as the
//     run without the crash did, with the same database state, ids aside.
//
// Clean slate. The predicate compares a canonical image of the database and
// the agents before and after the saga (ids kept; generation numbers, usage
// row ids and other surrogate fields dropped; destroyed agent records are
// absent). Per saga:
//
//   - region-snapshot-replacement-start: spec 30 §C.7 (verify_clean_slate of
//     region_snapshot_replacement_start.rs): the same region rows, no agent
//     region without a region row, the request back to Requested with op
//     and new_region_id NULL, the snapshot volume's VCR unchanged. Other
//     differences are listed as outside C.7, not judged.
//   - sagas that create (step, disk create, snapshot create, region
//     replacement start and drive): every row as before, except the
//     leftovers the reference logic leaves by design, each named with the
//     omicron function responsible.
//   - sagas that delete through a volume-delete subsaga (the RSR garbage
//     collect, step garbage collect and finish sagas, disk/snapshot/image
//     delete, read-only parent removal, region replacement finish): the
//     volume-delete nodes have no undo by design (spec 20 §7) and rely on
//     being re-run. The saga's own records (request, step, disk, locks) must
//     be restored as its undos say; any other difference is excused only if
//     re-running the saga the way its trigger would (the background task, or
//     the user's API call) converges to the state of an uninterrupted run,
//     ids aside. If the trigger cannot run it again, or the re-run does not
//     converge, the leftovers are reported.

// SagaCheck names a check.
type SagaCheck string

const (
	CheckIdempotent     SagaCheck = "idempotent"     // ActionsSucceedIdempotently
	CheckUnwind         SagaCheck = "unwind"         // ActionFailureCanUnwind
	CheckUnwindIdem     SagaCheck = "unwind-idem"    // ActionFailureCanUnwindIdempotently
	CheckNoFailedUndo   SagaCheck = "no-failed-undo" // assert_no_failed_undo_steps
	CheckCrashConverges SagaCheck = "crash"          // a crash after a node's k-th step
	CheckCrashUndo      SagaCheck = "crash-undo"     // a crash after an undo's k-th step
)

// SagaCheckResult is the outcome of one check on one case.
type SagaCheckResult struct {
	Saga, State string
	Check       SagaCheck
	Node        int // node index, -1 when the check is not per node
	NodeName    string
	Step        int // crash checks: the crash lands after this atomic step
	Pass        bool
	// Detail says why a check failed (or what it observed).
	Detail string
	// Excused lists the differences the clean-slate predicate accepted,
	// each with its reason (informational).
	Excused []string
}

// Name is the check's path: saga/state/check[/node-NN-name[/step-K]].
func (r SagaCheckResult) Name() string {
	s := r.Saga + "/" + r.State + "/" + string(r.Check)
	if r.Node >= 0 {
		s += fmt.Sprintf("/node-%02d-%s", r.Node, r.NodeName)
	}
	if r.Step > 0 {
		s += fmt.Sprintf("/step-%d", r.Step)
	}
	return s
}

func (r SagaCheckResult) String() string {
	v := "PASS"
	if !r.Pass {
		v = "FAIL"
	}
	if r.Detail == "" {
		return v + " " + r.Name()
	}
	return v + " " + r.Name() + ": " + r.Detail
}

// SagaFixture names the records a starting state created, for the case's
// saga constructor, retry and clean-slate predicate.
type SagaFixture struct {
	Disk     UUID // disk D (blank, 3 regions)
	Snapshot UUID // snapshot S of D
	Disk2    UUID // disk D2 created from S
	Image    UUID // image created from S
	Request  UUID // region snapshot replacement request
	Step     UUID // region snapshot replacement step
	RRequest UUID // region replacement request
}

// SagaCase is one saga in one representative starting state.
type SagaCase struct {
	Saga  string // short saga name, e.g. "rsr-start"
	State string // starting state, e.g. "live-snapshot"
	// Setup brings a fresh world (topology built, faults off, no timers)
	// to the starting state. It runs inside one actor.
	Setup func(w *World, c *sim.Ctx, f *SagaFixture) error
	// Make builds the saga to check, its parameters read from w as its
	// trigger reads them.
	Make func(w *World, f *SagaFixture) (*Saga, error)
	// Retry builds the saga again as its trigger would after an unwind, or
	// returns nil and why the trigger would not run it. Nil for sagas whose
	// clean slate is strict.
	Retry func(w *World, f *SagaFixture) (*Saga, string)
	clean cleanSpec
}

// ---------------------------------------------------------------------------
// The checker

// CheckTopology is the rack every saga-check world is built on: five sleds,
// two of them with two disks (DefaultWorkload's), enough for distinct-sled
// allocations of four regions after exclusions.
var CheckTopology = TopologySpec{Sleds: 5, DisksPerSled: []int{2, 1, 2, 1, 1}}

var opCheckSetup = sim.RegisterOp("saga-check setup")

// checkMaxSteps bounds every check run (a saga that loops is a failure).
const checkMaxSteps = 200000

// SagaChecker runs the checks of one case. Not safe for concurrent use.
type SagaChecker struct {
	Case SagaCase
	Seed uint64

	base    *World
	fix     SagaFixture
	nodes   []*Node
	names   []string
	baseImg dbImage
	// cleanEnd is the image of an uninterrupted run, its new ids
	// renumbered.
	cleanEnd dbImage
	// stuck lists every stuck saga seen by any run of this checker.
	stuck []string
	runs  int
}

// checkChooser draws each kind of decision from its own PRNG stream, so
// that a node run again (which repeats its "first row" draws) does not
// shift the draws of a later allocation. KValue draws take their first
// option: the fault-free outcome of an abstract external call.
type checkChooser struct{ p []*sim.PRNG }

func newCheckChooser(seed uint64) checkChooser {
	c := checkChooser{p: make([]*sim.PRNG, sim.KValue+1)}
	for k := range c.p {
		c.p[k] = sim.NewPRNG(seed*16 + uint64(k))
	}
	return c
}

func (c checkChooser) Choose(k sim.Kind, n int) int {
	if k >= sim.KValue || n <= 1 {
		return 0
	}
	return c.p[k].Choose(k, n)
}

func newCheckRun(seed uint64) *sim.Run {
	return sim.NewRun(sim.Config{Knobs: Knobs, MaxSteps: checkMaxSteps, NoRecord: true},
		newCheckChooser(seed), sim.Uniform{})
}

// NewSagaChecker builds c's starting state with seed and runs the saga once
// without injection (the reference end state). It fails if the setup or
// that run fails.
func NewSagaChecker(c SagaCase, seed uint64) (*SagaChecker, error) {
	k := &SagaChecker{Case: c, Seed: seed}
	r := newCheckRun(seed)
	w := NewWorld(Config{}, r)
	w.FaultsOff()
	w.eventsOff = true
	w.DB.BuildTopology(CheckTopology)
	var err error
	reason := w.RunToIdle("saga-check setup: "+c.Saga+"/"+c.State, func(cx *sim.Ctx) {
		cx.Step(opCheckSetup)
		err = c.Setup(w, cx, &k.fix)
	})
	if reason != sim.StopIdle {
		return nil, fmt.Errorf("%s/%s: setup stopped: %v %s", c.Saga, c.State, reason, r.PanicMessage())
	}
	if err != nil {
		return nil, fmt.Errorf("%s/%s: setup: %v", c.Saga, c.State, err)
	}
	for _, s := range w.Sagas {
		if s.State != SagaDone {
			return nil, fmt.Errorf("%s/%s: setup saga %s ended %v", c.Saga, c.State, s.Name, s.State)
		}
	}
	k.base = w
	k.baseImg = imageOf(w.DB)
	s, err := c.Make(w, &k.fix)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: make: %v", c.Saga, c.State, err)
	}
	k.nodes = s.flatNodes()
	for _, n := range k.nodes {
		k.names = append(k.names, n.Name)
	}
	fw, s, err := k.run(NoInject)
	if err != nil {
		return nil, err
	}
	if s.State != SagaDone {
		return nil, fmt.Errorf("%s/%s: the saga without injection ended %v at %s: %v", c.Saga, c.State, s.State, s.ErrNode, s.Err)
	}
	k.cleanEnd = imageOf(fw.DB).renumbered(k.base.DB.nextUUID)
	return k, nil
}

// NodeCount is the saga's node count (steno's).
func (k *SagaChecker) NodeCount() int { return len(k.names) }

// NodeName is node i's name.
func (k *SagaChecker) NodeName(i int) string { return k.names[i] }

// NodeHasUndo reports whether node i has an undo that takes steps.
func (k *SagaChecker) NodeHasUndo(i int) bool {
	return k.nodes[i].Undo != nil && k.nodes[i].Kind == NodeAction
}

// NodeIsAction reports whether node i takes atomic steps.
func (k *SagaChecker) NodeIsAction(i int) bool { return k.nodes[i].Kind == NodeAction }

// Fixture returns the records the starting state created.
func (k *SagaChecker) Fixture() SagaFixture { return k.fix }

// Runs is how many saga runs the checker made.
func (k *SagaChecker) Runs() int { return k.runs }

// fork returns a new world holding a copy of the starting state.
func (k *SagaChecker) fork() *World {
	r := newCheckRun(k.Seed + 1)
	w := NewWorld(k.base.DB.Cfg, r)
	w.DB = k.base.DB.cloneForCheck(r.Ch)
	w.FaultsOff()
	w.eventsOff = true
	return w
}

// run forks the starting state and runs the case's saga alone with inj.
func (k *SagaChecker) run(inj Inject) (*World, *Saga, error) {
	w := k.fork()
	s, err := k.Case.Make(w, &k.fix)
	if err != nil {
		return nil, nil, fmt.Errorf("%s/%s: make: %v", k.Case.Saga, k.Case.State, err)
	}
	s.Inject = inj
	if err := k.runAlone(w, s); err != nil {
		return nil, nil, err
	}
	return w, s, nil
}

// runAlone starts s in w from the top level and runs the engine to idle.
func (k *SagaChecker) runAlone(w *World, s *Saga) error {
	k.runs++
	w.StartSaga(w.Run, s)
	reason := w.Run.Loop(nil)
	for _, x := range w.Sagas {
		if x.State == SagaStuck {
			k.stuck = append(k.stuck, fmt.Sprintf("%s: %s stuck at undo of %s: %v", k.Case.State, x.Name, x.StuckNode, x.UndoErr))
		}
	}
	if reason != sim.StopIdle {
		return fmt.Errorf("%s/%s: run stopped: %v %s", k.Case.Saga, k.Case.State, reason, w.Run.PanicMessage())
	}
	if !s.Finished() {
		return fmt.Errorf("%s/%s: saga did not finish (state %v)", k.Case.Saga, k.Case.State, s.State)
	}
	return nil
}

func (k *SagaChecker) result(check SagaCheck, node int) SagaCheckResult {
	r := SagaCheckResult{Saga: k.Case.Saga, State: k.Case.State, Check: check, Node: node}
	if node >= 0 {
		r.NodeName = k.names[node]
	}
	return r
}

func stuckIn(w *World) string {
	var out []string
	for _, s := range w.Sagas {
		if s.State == SagaStuck {
			out = append(out, fmt.Sprintf("%s stuck at undo of %s: %v", s.Name, s.StuckNode, s.UndoErr))
		}
	}
	return strings.Join(out, "; ")
}

// ActionsSucceedIdempotently runs every action twice (undos once): the saga
// must end Done. The detail notes whether the end state differs from an
// uninterrupted run (not judged: omicron's helper only asks for success).
func (k *SagaChecker) ActionsSucceedIdempotently() SagaCheckResult {
	r := k.result(CheckIdempotent, -1)
	w, s, err := k.run(Inject{ErrorAt: -1, RepeatNode: -1, RepeatAll: true, ActionTimes: 2, UndoTimes: 1})
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	if s.State != SagaDone {
		r.Detail = fmt.Sprintf("saga ended %v, error at %s: %v", s.State, s.ErrNode, s.Err)
		if st := stuckIn(w); st != "" {
			r.Detail += "; " + st
		}
		return r
	}
	r.Pass = true
	if d := diffImages(k.cleanEnd, imageOf(w.DB).renumbered(k.base.DB.nextUUID)); len(d) > 0 {
		r.Detail = "end state differs from a single run (not judged): " + changesString(d, 6)
	}
	return r
}

// ActionFailureCanUnwind injects an error at node i.
func (k *SagaChecker) ActionFailureCanUnwind(i int) SagaCheckResult {
	return k.unwind(CheckUnwind, i, Inject{ErrorAt: i, RepeatNode: -1})
}

// ActionFailureCanUnwindIdempotently injects an error at node i (>= 1) and
// runs node i-1's undo twice.
func (k *SagaChecker) ActionFailureCanUnwindIdempotently(i int) SagaCheckResult {
	return k.unwind(CheckUnwindIdem, i, Inject{ErrorAt: i, RepeatNode: i - 1, ActionTimes: 1, UndoTimes: 2})
}

func (k *SagaChecker) unwind(check SagaCheck, i int, inj Inject) SagaCheckResult {
	r := k.result(check, i)
	w, s, err := k.run(inj)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	var fails []string
	if s.State != SagaFailed {
		fails = append(fails, fmt.Sprintf("saga ended %v, want failed", s.State))
	} else if s.ErrNode != k.names[i] || s.Status(i) != NodeFailed {
		fails = append(fails, fmt.Sprintf("saga failed at %s (%v), want node %d %s", s.ErrNode, s.Err, i, k.names[i]))
	}
	if st := stuckIn(w); st != "" {
		fails = append(fails, st)
	}
	after := imageOf(w.DB)
	in := &cleanInput{k: k, before: k.base.DB, after: w.DB, changes: diffImages(k.baseImg, after), w: w}
	f, ex := k.Case.clean.judge(in)
	fails = append(fails, f...)
	r.Excused = ex
	r.Pass = len(fails) == 0
	r.Detail = strings.Join(fails, "; ")
	return r
}

// NoFailedUndo reports whether any run so far left a saga stuck.
func (k *SagaChecker) NoFailedUndo() SagaCheckResult {
	r := k.result(CheckNoFailedUndo, -1)
	r.Pass = len(k.stuck) == 0
	r.Detail = strings.Join(k.stuck, "; ")
	return r
}

// CrashConverges stops node i's action (undo: its undo, the saga failing at
// its last node) after its step-th atomic step and lets it run again. fired
// reports whether the node took that many steps. The saga must end as the
// uninterrupted run did, with the same state, ids aside.
func (k *SagaChecker) CrashConverges(i, step int, undo bool) (res SagaCheckResult, fired bool) {
	check := CheckCrashConverges
	inj := Inject{ErrorAt: -1, RepeatNode: -1, Crash: CrashAt{Node: i, AfterStep: step}}
	ref := k.cleanEnd
	want := SagaDone
	if undo {
		check = CheckCrashUndo
		last := len(k.names) - 1
		inj.ErrorAt = last
		inj.Crash.Undo = true
		w, s, err := k.run(Inject{ErrorAt: last, RepeatNode: -1})
		if err != nil {
			// the reference unwind itself could not run: report it once
			// (at step 1) as a failed check, never drop it silently
			r := k.result(check, i)
			r.Step, r.Detail = step, "the reference unwind failed to run: "+err.Error()
			return r, step == 1
		}
		ref, want = imageOf(w.DB).renumbered(k.base.DB.nextUUID), s.State
	}
	r := k.result(check, i)
	r.Step = step
	w, s, err := k.run(inj)
	if err != nil {
		r.Detail = err.Error()
		return r, true
	}
	if w.Crashes == 0 {
		r.Pass, r.Detail = true, "the node takes fewer steps"
		return r, false
	}
	var fails []string
	if s.State != want {
		fails = append(fails, fmt.Sprintf("saga ended %v (at %s: %v), without the crash %v", s.State, s.ErrNode, s.Err, want))
	}
	if st := stuckIn(w); st != "" {
		fails = append(fails, st)
	}
	if d := diffImages(ref, imageOf(w.DB).renumbered(k.base.DB.nextUUID)); len(d) > 0 {
		fails = append(fails, "state differs from the run without the crash: "+changesString(d, 8))
	}
	r.Pass = len(fails) == 0
	r.Detail = strings.Join(fails, "; ")
	return r, true
}

// All runs ActionsSucceedIdempotently, ActionFailureCanUnwind for every
// node, ActionFailureCanUnwindIdempotently for every node >= 1, then
// NoFailedUndo, in that order.
func (k *SagaChecker) All() []SagaCheckResult {
	out := []SagaCheckResult{k.ActionsSucceedIdempotently()}
	for i := range k.names {
		out = append(out, k.ActionFailureCanUnwind(i))
	}
	for i := 1; i < len(k.names); i++ {
		out = append(out, k.ActionFailureCanUnwindIdempotently(i))
	}
	return append(out, k.NoFailedUndo())
}

// BaseUnchanged reports whether the starting state is still as it was
// built (the forks must not share mutable state with it).
func (k *SagaChecker) BaseUnchanged() bool {
	return len(diffImages(k.baseImg, imageOf(k.base.DB))) == 0
}

// flatNodes returns the saga's steno nodes in index order (chains inlined).
func (s *Saga) flatNodes() []*Node {
	var out []*Node
	var walk func(stages [][]Node)
	walk = func(stages [][]Node) {
		for si := range stages {
			for i := range stages[si] {
				if nd := &stages[si][i]; nd.Chain != nil {
					walk(nd.Chain)
				} else {
					out = append(out, nd)
				}
			}
		}
	}
	walk(s.Stages)
	return out
}

// cloneForCheck copies the database and agent state for a forked world:
// every slice field is copied (rows are values; VCRs and stored resource
// lists are never mutated in place), choices come from ch.
func (db *DB) cloneForCheck(ch sim.Chooser) *DB {
	c := *db
	c.Ch = ch
	rv := reflect.ValueOf(&c).Elem()
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Field(i)
		if f.Kind() == reflect.Slice && f.CanSet() && !f.IsNil() {
			n := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			reflect.Copy(n, f)
			f.Set(n)
		}
	}
	c.Agent = db.Agent.Clone()
	return &c
}

// ---------------------------------------------------------------------------
// Clean-slate predicates

type cleanInput struct {
	k             *SagaChecker
	before, after *DB
	changes       []dbChange
	w             *World // the world after the unwind (a retry runs in it)
}

type cleanKind uint8

const (
	cleanStrict cleanKind = iota // every row as before, except the excuses
	cleanC7                      // spec 30 §C.7 (start saga)
	cleanRetry                   // own records strict; the rest must converge on a re-run
)

// excuse accepts a difference the reference logic leaves by design.
type excuse struct {
	why string
	ok  func(ch dbChange, in *cleanInput) bool
}

type cleanSpec struct {
	kind    cleanKind
	strict  []string // cleanRetry: tables that must be restored (modulo excuses)
	excuses []excuse
}

func (cs cleanSpec) excused(ch dbChange, in *cleanInput) (string, bool) {
	for _, e := range cs.excuses {
		if e.ok(ch, in) {
			return e.why, true
		}
	}
	return "", false
}

// judge returns the failures and the excused differences of an unwind.
func (cs cleanSpec) judge(in *cleanInput) (fails, excused []string) {
	switch cs.kind {
	case cleanC7:
		return judgeC7(in)
	case cleanStrict:
		var bad []dbChange
		for _, ch := range in.changes {
			if why, ok := cs.excused(ch, in); ok {
				excused = append(excused, ch.String()+" ("+why+")")
			} else {
				bad = append(bad, ch)
			}
		}
		if len(bad) > 0 {
			fails = append(fails, "not a clean slate: "+changesString(bad, 8))
		}
		return fails, excused
	}
	// cleanRetry
	var bad, rest []dbChange
	for _, ch := range in.changes {
		if why, ok := cs.excused(ch, in); ok {
			excused = append(excused, ch.String()+" ("+why+")")
			continue
		}
		if contains(cs.strict, ch.Table) {
			bad = append(bad, ch)
		} else {
			rest = append(rest, ch)
		}
	}
	if len(bad) > 0 {
		fails = append(fails, "own records not restored: "+changesString(bad, 8))
	}
	if len(rest) > 0 {
		if ok, why := in.k.retryConverges(in.w); ok {
			for _, ch := range rest {
				excused = append(excused, ch.String()+" (no undo by design, spec 20 §7; "+why+")")
			}
		} else {
			fails = append(fails, "left behind: "+changesString(rest, 8)+"; and "+why)
		}
	}
	return fails, excused
}

// retryConverges re-runs the saga in w as its trigger would and compares
// the end state with the uninterrupted run's, ids aside.
func (k *SagaChecker) retryConverges(w *World) (bool, string) {
	if len(diffImages(k.cleanEnd, imageOf(w.DB).renumbered(k.base.DB.nextUUID))) == 0 {
		return true, "the state is already an uninterrupted run's end state"
	}
	if k.Case.Retry == nil {
		return false, "no retry is defined for this saga"
	}
	s, why := k.Case.Retry(w, &k.fix)
	if s == nil {
		return false, "the trigger cannot run it again: " + why
	}
	if err := k.runAlone(w, s); err != nil {
		return false, "the re-run did not finish: " + err.Error()
	}
	if s.State != SagaDone {
		return false, fmt.Sprintf("the re-run ended %v at %s: %v", s.State, s.ErrNode, s.Err)
	}
	if d := diffImages(k.cleanEnd, imageOf(w.DB).renumbered(k.base.DB.nextUUID)); len(d) > 0 {
		return false, "the re-run ends in another state than an uninterrupted run: " + changesString(d, 8)
	}
	return true, "a re-run by its trigger (" + why + ") converges"
}

// judgeC7 is spec 30 §C.7, verify_clean_slate of the start saga's tests
// (region_snapshot_replacement_start.rs): assert_no_failed_undo_steps is
// checked by the caller; then the region rows, the agents' regions, the
// request and the snapshot volume's VCR.
func judgeC7(in *cleanInput) (fails, excused []string) {
	req := in.before.Request(in.k.fix.Request)
	sv := UUID(0)
	if s := in.before.Snapshot(req.Old.SnapshotID); s != nil {
		sv = s.VolumeID
	}
	svKey := "volume|" + fid(sv)
	for _, ch := range in.changes {
		switch {
		case ch.Table == "region":
			fails = append(fails, "region rows differ: "+ch.String())
		case ch.Table+"|"+ch.Key == svKey && (ch.Field == "" || ch.Field == "data"):
			fails = append(fails, "snapshot volume changed: "+ch.String())
		case ch.Table == "rsr_request":
			// judged below
		default:
			excused = append(excused, ch.String()+" (outside C.7)")
		}
	}
	for _, ar := range in.after.Agent.Regions {
		if ar.State != AgentDestroyed && in.after.Region(ar.Region) == nil {
			fails = append(fails, fmt.Sprintf("agent region %s on dataset %s (%v) has no region row", fid(ar.Region), fid(ar.Dataset), ar.State))
		}
	}
	q := in.after.Request(req.ID)
	switch {
	case q == nil:
		fails = append(fails, "request row gone")
	case q.State != RSRRequested || q.OperatingSagaID != 0 || q.NewRegionID != 0:
		fails = append(fails, fmt.Sprintf("request not untouched: state %v, op %s, new_region_id %s", q.State, fid(q.OperatingSagaID), fid(q.NewRegionID)))
	}
	return fails, excused
}

// Excuses shared by several cases.

func addedSoftDeleted(table, field, why string) excuse {
	return excuse{why: why, ok: func(ch dbChange, _ *cleanInput) bool {
		return ch.Table == table && ch.Added() && strings.Contains(" "+ch.After+" ", " "+field+"=true ")
	}}
}

// ---------------------------------------------------------------------------
// Canonical database image

// dbImage maps "table|key" to the row's fields, "name=value" separated by
// spaces. Ids are written "#n" (NULL is "null").
type dbImage map[string]string

func fid(id UUID) string {
	if id == 0 {
		return "null"
	}
	return "#" + strconv.FormatUint(uint64(id), 10)
}

func addrStr(a Addr) string {
	if a.IsZero() {
		return "null"
	}
	return strconv.Itoa(int(a.IP)) + ":" + strconv.Itoa(int(a.Port))
}

func resImage(r Resource) string {
	if r.Kind == UsageReadOnlyRegion {
		return "ro_region(" + fid(r.RegionID) + ")"
	}
	return "region_snapshot(" + fid(r.RS.DatasetID) + "," + fid(r.RS.RegionID) + "," + fid(r.RS.SnapshotID) + ")"
}

func rsKeyImage(k RSKey) string {
	return "ds=" + fid(k.DatasetID) + ",region=" + fid(k.RegionID) + ",snap=" + fid(k.SnapshotID)
}

// vcrImage writes a VCR without generation numbers.
func vcrImage(b *strings.Builder, v *VCR) {
	if v == nil {
		b.WriteString("nil")
		return
	}
	switch v.Kind {
	case VCRVolume:
		b.WriteString("vol(" + fid(v.ID) + ";[")
		for i, s := range v.SubVolumes {
			if i > 0 {
				b.WriteByte(',')
			}
			vcrImage(b, s)
		}
		b.WriteString("]")
		if v.ReadOnlyParent != nil {
			b.WriteString(";rop=")
			vcrImage(b, v.ReadOnlyParent)
		}
		b.WriteString(")")
	case VCRRegion:
		rw := "rw"
		if v.ReadOnly {
			rw = "ro"
		}
		b.WriteString("reg(" + fid(v.ID) + ";" + rw + ";[")
		for i, t := range v.Targets {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(addrStr(t))
		}
		b.WriteString("])")
	default:
		b.WriteString("file(" + fid(v.ID) + ")")
	}
}

// imageOf renders every table the sagas touch, and the agents' live
// records (destroyed regions and running snapshots are left out, as the
// agents' tombstones are in omicron's checks).
func imageOf(db *DB) dbImage {
	m := dbImage{}
	var b strings.Builder
	for _, v := range db.Volumes {
		b.Reset()
		vcrImage(&b, v.Data)
		m["volume|"+fid(v.ID)] = "data=" + b.String() + " soft_deleted=" + strconv.FormatBool(v.SoftDeleted)
	}
	for _, r := range db.Regions {
		port := "null"
		if r.HasPort {
			port = strconv.Itoa(int(r.Port))
		}
		m["region|"+fid(r.ID)] = "dataset=" + fid(r.DatasetID) + " volume=" + fid(r.VolumeID) + " port=" + port +
			" read_only=" + strconv.FormatBool(r.ReadOnly) + " deleting=" + strconv.FormatBool(r.Deleting)
	}
	for _, rs := range db.RegionSnapshots {
		m["region_snapshot|"+rsKeyImage(rs.Key)] = "addr=" + addrStr(rs.Addr) + " deleting=" + strconv.FormatBool(rs.Deleting)
	}
	seen := map[string]int{}
	for _, u := range db.Usages {
		k := "usage|volume=" + fid(u.VolumeID) + "," + resImage(u.Res)
		seen[k]++
		m[k+"@"+strconv.Itoa(seen[k])] = ""
	}
	for _, l := range db.Locks {
		m["lock|volume="+fid(l.VolumeID)] = "repair=" + fid(l.RepairID)
	}
	for _, q := range db.Requests {
		m["rsr_request|"+fid(q.ID)] = "old=" + rsKeyImage(q.Old) + " old_snapshot_volume=" + fid(q.OldSnapshotVolumeID) +
			" new_region=" + fid(q.NewRegionID) + " new_region_volume=" + fid(q.NewRegionVolumeID) +
			" state=" + q.State.String() + " op=" + fid(q.OperatingSagaID)
	}
	for _, s := range db.Steps {
		m["rsr_step|"+fid(s.ID)] = "request=" + fid(s.RequestID) + " volume=" + fid(s.VolumeID) +
			" old_snapshot_volume=" + fid(s.OldSnapshotVolumeID) + " state=" + s.State.String() + " op=" + fid(s.OperatingSagaID)
	}
	for _, q := range db.RRequests {
		m["rr_request|"+fid(q.ID)] = "old_region=" + fid(q.OldRegionID) + " volume=" + fid(q.VolumeID) +
			" old_region_volume=" + fid(q.OldRegionVolumeID) + " new_region=" + fid(q.NewRegionID) +
			" state=" + q.State.String() + " op=" + fid(q.OperatingSagaID)
	}
	for _, s := range db.Snapshots {
		m["snapshot|"+fid(s.ID)] = "disk=" + fid(s.DiskID) + " volume=" + fid(s.VolumeID) + " destination_volume=" + fid(s.DestinationVolumeID) +
			" state=" + s.State.String() + " deleted=" + strconv.FormatBool(s.Deleted)
	}
	for _, d := range db.Disks {
		m["disk|"+fid(d.ID)] = "volume=" + fid(d.VolumeID) + " state=" + d.State.String() + " attach_instance=" + fid(d.AttachInstanceID) +
			" origin_snapshot=" + fid(d.OriginSnapshot) + " origin_image=" + fid(d.OriginImage) + " deleted=" + strconv.FormatBool(d.Deleted)
	}
	for _, img := range db.Images {
		m["image|"+fid(img.ID)] = "volume=" + fid(img.VolumeID) + " deleted=" + strconv.FormatBool(img.Deleted)
	}
	for _, r := range db.RepairFinished {
		m["repair_notification|"+fid(r)] = ""
	}
	for _, ar := range db.Agent.Regions {
		if ar.State == AgentDestroyed {
			continue
		}
		m["agent_region|ds="+fid(ar.Dataset)+",region="+fid(ar.Region)] = "state=" + ar.State.String() +
			" port=" + strconv.Itoa(int(ar.Port)) + " read_only=" + strconv.FormatBool(ar.ReadOnly)
	}
	for _, as := range db.Agent.Snapshots {
		m["agent_snapshot|ds="+fid(as.Dataset)+",region="+fid(as.Region)+",snap="+fid(as.Snapshot)] = ""
	}
	for _, ar := range db.Agent.Running {
		if ar.Destroyed {
			continue
		}
		m["agent_running_snapshot|ds="+fid(ar.Dataset)+",region="+fid(ar.Region)+",snap="+fid(ar.Snapshot)] = "port=" + strconv.Itoa(int(ar.Port))
	}
	return m
}

// renumbered returns the image with every id above from (the ids a run
// drew after the starting state was built) replaced by from plus its rank
// among those the image mentions: two runs that drew different ids in the
// same order (a re-run node draws fresh ones) give equal images. Ids of
// the starting state are kept.
func (m dbImage) renumbered(from UUID) dbImage {
	var ids []uint64
	seen := map[uint64]bool{}
	collect := func(s string) {
		for i := 0; i < len(s); i++ {
			if s[i] != '#' {
				continue
			}
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if n, err := strconv.ParseUint(s[i+1:j], 10, 64); err == nil && n > uint64(from) && !seen[n] {
				seen[n] = true
				ids = append(ids, n)
			}
			i = j - 1
		}
	}
	for k, v := range m {
		collect(k)
		collect(v)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	rank := make(map[uint64]uint64, len(ids))
	for i, n := range ids {
		rank[n] = uint64(from) + uint64(i) + 1
	}
	rewrite := func(s string) string {
		if !strings.Contains(s, "#") {
			return s
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] != '#' {
				b.WriteByte(s[i])
				continue
			}
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, _ := strconv.ParseUint(s[i+1:j], 10, 64)
			if r, ok := rank[n]; ok {
				n = r
			}
			b.WriteString("#" + strconv.FormatUint(n, 10))
			i = j - 1
		}
		return b.String()
	}
	out := make(dbImage, len(m))
	for k, v := range m {
		out[rewrite(k)] = rewrite(v)
	}
	return out
}

// dbChange is one difference between two images: a row added (Before ""),
// removed (After ""), or one field changed.
type dbChange struct {
	Table, Key    string
	Field         string // "" for a whole row
	Before, After string
	whole         bool
	added         bool
}

// Added reports whether the change adds a row.
func (c dbChange) Added() bool { return c.whole && c.added }

// Removed reports whether the change removes a row.
func (c dbChange) Removed() bool { return c.whole && !c.added }

func (c dbChange) String() string {
	switch {
	case c.Added():
		return "+" + c.Table + " " + c.Key + " {" + c.After + "}"
	case c.Removed():
		return "-" + c.Table + " " + c.Key + " {" + c.Before + "}"
	}
	return "~" + c.Table + " " + c.Key + " " + c.Field + ": " + c.Before + " -> " + c.After
}

func splitFields(s string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(s) {
		if i := strings.IndexByte(f, '='); i >= 0 {
			out[f[:i]] = f[i+1:]
		}
	}
	return out
}

// diffImages lists the differences from a to b, sorted by table and key.
func diffImages(a, b dbImage) []dbChange {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []dbChange
	for _, k := range keys {
		table, key, _ := strings.Cut(k, "|")
		av, ina := a[k]
		bv, inb := b[k]
		switch {
		case !ina:
			out = append(out, dbChange{Table: table, Key: key, After: bv, whole: true, added: true})
		case !inb:
			out = append(out, dbChange{Table: table, Key: key, Before: av, whole: true})
		case av != bv:
			af, bf := splitFields(av), splitFields(bv)
			var names []string
			for n := range af {
				names = append(names, n)
			}
			for n := range bf {
				if _, ok := af[n]; !ok {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				if af[n] != bf[n] {
					out = append(out, dbChange{Table: table, Key: key, Field: n, Before: af[n], After: bf[n]})
				}
			}
		}
	}
	return out
}

// changesString lists up to max changes.
func changesString(cs []dbChange, max int) string {
	var parts []string
	for i, c := range cs {
		if i == max {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(cs)-max))
			break
		}
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

// ---------------------------------------------------------------------------
// Starting states: built with the user API paths, the sagas the tasks start,
// and the datastore calls the tasks make.

// runSagaIn runs s to its end inside the setup actor (saga_execute).
func runSagaIn(w *World, c *sim.Ctx, s *Saga) error {
	w.StartSaga(c, s)
	c.Wait(s.Actor)
	if s.State != SagaDone {
		return fmt.Errorf("%s ended %v at %s: %v", s.Name, s.State, s.ErrNode, s.Err)
	}
	return nil
}

// fixDiskAndSnapshot creates D (blank) and S, a snapshot of D (Pantry):
// spec 30 §B.3's prepare_for_test.
func fixDiskAndSnapshot(w *World, c *sim.Ctx, f *SagaFixture) error {
	s := w.UserDiskCreate(c, DiskSource{})
	if s.State != SagaDone {
		return fmt.Errorf("disk create: %v %v", s.State, s.Err)
	}
	f.Disk = s.diskID()
	s = w.UserSnapshotCreate(c, f.Disk)
	if s == nil || s.State != SagaDone {
		return fmt.Errorf("snapshot create failed")
	}
	f.Snapshot = s.snapshotID()
	return nil
}

// fixDiskFromSnapshot creates D2 from S.
func fixDiskFromSnapshot(w *World, c *sim.Ctx, f *SagaFixture) error {
	s := w.UserDiskCreate(c, DiskSource{Snapshot: f.Snapshot})
	if s.State != SagaDone {
		return fmt.Errorf("disk create from snapshot: %v %v", s.State, s.Err)
	}
	f.Disk2 = s.diskID()
	return nil
}

// fixImage creates an image from S (image_create, not a saga).
func fixImage(w *World, c *sim.Ctx, f *SagaFixture) error {
	n := len(w.DB.Images)
	if err := w.ImageCreateFromSnapshot(c, f.Snapshot); err != nil {
		return fmt.Errorf("image create: %v", err)
	}
	f.Image = w.DB.Images[n].ID
	return nil
}

// fixDeleteSnapshot deletes S through its API (snapshot-delete saga).
func fixDeleteSnapshot(w *World, c *sim.Ctx, f *SagaFixture) error {
	c.Step(opLookupSnapshot)
	s, err := w.DB.SnapshotLookup(f.Snapshot)
	if err != nil {
		return err
	}
	return runSagaIn(w, c, w.NewSnapshotDeleteSaga(s))
}

// fixDeleteDisk deletes a disk through its API (disk-delete saga).
func fixDeleteDisk(w *World, c *sim.Ctx, disk UUID) error {
	c.Step(opLookupDisk)
	d, err := w.DB.DiskLookup(disk)
	if err != nil {
		return err
	}
	return runSagaIn(w, c, w.NewDiskDeleteSaga(d.ID, d.VolumeID))
}

// fixAttach attaches a disk to an instance with an active VMM (the model's
// instance start, as userToggleAttach does).
func fixAttach(w *World, c *sim.Ctx, disk UUID) {
	c.Step(opDiskAttach)
	d := w.DB.Disk(disk)
	d.State, d.AttachInstanceID, d.Gen = DiskAttached, w.DB.NewUUID(), d.Gen+1
}

// fixRSRRequest inserts a request for the region snapshot of D's first
// region in S (insert_region_snapshot_replacement_request, as the start
// saga's tests do).
func fixRSRRequest(w *World, c *sim.Ctx, f *SagaFixture) error {
	db := w.DB
	c.Step(opGetAllocatedRegions)
	regs := db.GetAllocatedRegions(nil, db.Disk(f.Disk).VolumeID)
	if len(regs) == 0 {
		return fmt.Errorf("disk has no regions")
	}
	c.Step(opInsertRSR)
	id, err := db.CreateRSRequest(RSKey{DatasetID: regs[0].DatasetID, RegionID: regs[0].ID, SnapshotID: f.Snapshot})
	f.Request = id
	return err
}

// fixSoftDeleteSnapshotVolume soft-deletes S's record and its volume SV:
// the state inside a snapshot delete between its soft_delete_volume and the
// hard delete of SV.
func fixSoftDeleteSnapshotVolume(w *World, c *sim.Ctx, f *SagaFixture) error {
	db := w.DB
	c.Step(opSnapshotSoftDelete)
	s := db.Snapshot(f.Snapshot)
	if err := db.ProjectDeleteSnapshot(s.ID, s.Gen, SnapshotStates(SnapshotReady, SnapshotFaulted, SnapshotDestroyed)); err != nil {
		return err
	}
	c.Step(opSoftDeleteVolume)
	_, err := db.SoftDeleteVolume(s.VolumeID)
	return err
}

func fixRunRSR(mk func(w *World, q RSRequest) *Saga) func(w *World, c *sim.Ctx, f *SagaFixture) error {
	return func(w *World, c *sim.Ctx, f *SagaFixture) error {
		c.Step(opGetRSRByID)
		return runSagaIn(w, c, mk(w, *w.DB.Request(f.Request)))
	}
}

var (
	fixRunStart  = fixRunRSR((*World).NewRSRStartSaga)
	fixRunGC     = fixRunRSR((*World).NewRSRGCSaga)
	fixRunFinish = fixRunRSR((*World).NewRSRFinishSaga)
)

// fixStepFor inserts a step for D2's volume, as the step task does.
func fixStepFor(w *World, c *sim.Ctx, f *SagaFixture) error {
	c.Step(opCreateStep)
	_, id, err := w.DB.CreateRSRStep(f.Request, w.DB.Disk(f.Disk2).VolumeID)
	f.Step = id
	return err
}

func fixRunStep(w *World, c *sim.Ctx, f *SagaFixture) error {
	c.Step(opRequestedStepsPage)
	return runSagaIn(w, c, w.NewRSRStepSaga(*w.DB.Step(f.Step)))
}

// fixRRRequest creates a region replacement request for D's first region.
func fixRRRequest(disk func(f *SagaFixture) UUID) func(w *World, c *sim.Ctx, f *SagaFixture) error {
	return func(w *World, c *sim.Ctx, f *SagaFixture) error {
		db := w.DB
		c.Step(opGetAllocatedRegions)
		regs := db.GetAllocatedRegions(nil, db.Disk(disk(f)).VolumeID)
		if len(regs) == 0 {
			return fmt.Errorf("disk has no regions")
		}
		c.Step(opManualCreateRR)
		id, err := db.CreateRRequestForRegion(regs[0])
		f.RRequest = id
		return err
	}
}

func fixRunRRStart(w *World, c *sim.Ctx, f *SagaFixture) error {
	c.Step(opRequestedRRPage)
	return runSagaIn(w, c, w.NewRRStartSaga(*w.DB.RRequest(f.RRequest)))
}

// fixRRDone records the Upstairs' repair-finish notification and moves the
// request to ReplacementDone, as the driver task does (B1, B2).
func fixRRDone(w *World, c *sim.Ctx, f *SagaFixture) error {
	c.Step(opRRHasFinishNotif)
	q := w.DB.RRequest(f.RRequest)
	w.DB.AddRepairFinishNotification(q.NewRegionID)
	c.Step(opMarkRRDone)
	return w.DB.MarkRRAsDone(q.ID)
}

// setupSeq runs setup steps in order.
func setupSeq(steps ...func(w *World, c *sim.Ctx, f *SagaFixture) error) func(w *World, c *sim.Ctx, f *SagaFixture) error {
	return func(w *World, c *sim.Ctx, f *SagaFixture) error {
		for _, s := range steps {
			if err := s(w, c, f); err != nil {
				return err
			}
		}
		return nil
	}
}

// withPreFix runs step with switch #1 on (the reference logic's parent
// commit): a request started before the upgrade to 09b150f177, finished
// after it.
func withPreFix(step func(w *World, c *sim.Ctx, f *SagaFixture) error) func(w *World, c *sim.Ctx, f *SagaFixture) error {
	return func(w *World, c *sim.Ctx, f *SagaFixture) error {
		w.DB.Cfg.Switches.NoNewRegionVolume = true
		defer func() { w.DB.Cfg.Switches.NoNewRegionVolume = false }()
		return step(w, c, f)
	}
}

// ---------------------------------------------------------------------------
// Saga constructors and retries (the triggers' reads, spec 30 §A)

func makeRSR(mk func(w *World, q RSRequest) *Saga) func(w *World, f *SagaFixture) (*Saga, error) {
	return func(w *World, f *SagaFixture) (*Saga, error) {
		q := w.DB.Request(f.Request)
		if q == nil {
			return nil, fmt.Errorf("no request")
		}
		return mk(w, *q), nil
	}
}

// retryRSRGC is the garbage-collect task: ReplacementDone, op NULL, an old
// snapshot volume recorded.
func retryRSRGC(w *World, f *SagaFixture) (*Saga, string) {
	q := w.DB.Request(f.Request)
	if q.State != RSRReplacementDone || q.OperatingSagaID != 0 || q.OldSnapshotVolumeID == 0 {
		return nil, fmt.Sprintf("request is %v op %s", q.State, fid(q.OperatingSagaID))
	}
	return w.NewRSRGCSaga(*q), "the garbage-collect task"
}

// retryRSRFinish is the finish task: Running, op NULL, no step in
// progress, the region snapshot gone.
func retryRSRFinish(w *World, f *SagaFixture) (*Saga, string) {
	q := w.DB.Request(f.Request)
	if q.State != RSRRunning || q.OperatingSagaID != 0 {
		return nil, fmt.Sprintf("request is %v op %s", q.State, fid(q.OperatingSagaID))
	}
	if w.DB.InProgressStepCount(q.ID) > 0 {
		return nil, "steps in progress"
	}
	if _, ok := w.DB.RegionSnapshotGet(q.Old); ok {
		return nil, "the region snapshot still exists"
	}
	return w.NewRSRFinishSaga(*q), "the finish task"
}

func makeStep(w *World, f *SagaFixture) (*Saga, error) {
	s := w.DB.Step(f.Step)
	if s == nil {
		return nil, fmt.Errorf("no step")
	}
	return w.NewRSRStepSaga(*s), nil
}

func makeStepGC(w *World, f *SagaFixture) (*Saga, error) {
	s := w.DB.Step(f.Step)
	if s == nil {
		return nil, fmt.Errorf("no step")
	}
	return w.NewStepGCSaga(*s), nil
}

// retryStepGC is the step task's first phase: Complete steps with an old
// snapshot volume.
func retryStepGC(w *World, f *SagaFixture) (*Saga, string) {
	s := w.DB.Step(f.Step)
	if s.State != StepComplete || s.OldSnapshotVolumeID == 0 {
		return nil, "step is " + s.State.String()
	}
	return w.NewStepGCSaga(*s), "the step task"
}

func makeDiskCreate(src func(f *SagaFixture) DiskSource) func(w *World, f *SagaFixture) (*Saga, error) {
	return func(w *World, f *SagaFixture) (*Saga, error) { return w.NewDiskCreateSaga(src(f)), nil }
}

func makeDiskDelete(disk func(f *SagaFixture) UUID) func(w *World, f *SagaFixture) (*Saga, error) {
	return func(w *World, f *SagaFixture) (*Saga, error) {
		d, err := w.DB.DiskLookup(disk(f))
		if err != nil {
			return nil, err
		}
		return w.NewDiskDeleteSaga(d.ID, d.VolumeID), nil
	}
}

// retryDiskDelete is the disk delete API again (the undo left the disk
// Faulted, which it accepts).
func retryDiskDelete(disk func(f *SagaFixture) UUID) func(w *World, f *SagaFixture) (*Saga, string) {
	return func(w *World, f *SagaFixture) (*Saga, string) {
		d, err := w.DB.DiskLookup(disk(f))
		if err != nil {
			return nil, "disk lookup: " + err.Error()
		}
		return w.NewDiskDeleteSaga(d.ID, d.VolumeID), "the disk delete API"
	}
}

func makeSnapshotCreate(pantry bool) func(w *World, f *SagaFixture) (*Saga, error) {
	return func(w *World, f *SagaFixture) (*Saga, error) { return w.NewSnapshotCreateSaga(f.Disk, pantry), nil }
}

func makeSnapshotDelete(w *World, f *SagaFixture) (*Saga, error) {
	s, err := w.DB.SnapshotLookup(f.Snapshot)
	if err != nil {
		return nil, err
	}
	return w.NewSnapshotDeleteSaga(s), nil
}

// retrySnapshotDelete is the snapshot delete API: LookupPath of a
// soft-deleted snapshot fails.
func retrySnapshotDelete(w *World, f *SagaFixture) (*Saga, string) {
	s, err := w.DB.SnapshotLookup(f.Snapshot)
	if err != nil {
		return nil, "the snapshot delete API's lookup fails (" + err.Error() + ")"
	}
	return w.NewSnapshotDeleteSaga(s), "the snapshot delete API"
}

func makeImageDelete(w *World, f *SagaFixture) (*Saga, error) {
	img, err := w.DB.ImageLookup(f.Image)
	if err != nil {
		return nil, err
	}
	return w.NewImageDeleteSaga(img), nil
}

func retryImageDelete(w *World, f *SagaFixture) (*Saga, string) {
	img, err := w.DB.ImageLookup(f.Image)
	if err != nil {
		return nil, "the image delete API's lookup fails (" + err.Error() + ")"
	}
	return w.NewImageDeleteSaga(img), "the image delete API"
}

func makeRemoveROP(w *World, f *SagaFixture) (*Saga, error) {
	d, err := w.DB.DiskLookup(f.Disk2)
	if err != nil {
		return nil, err
	}
	return w.NewRemoveROPSaga(d.VolumeID), nil
}

func retryRemoveROP(w *World, f *SagaFixture) (*Saga, string) {
	d, err := w.DB.DiskLookup(f.Disk2)
	if err != nil {
		return nil, "disk lookup: " + err.Error()
	}
	return w.NewRemoveROPSaga(d.VolumeID), "the remove-read-only-parent API"
}

func makeRR(mk func(w *World, q RRequest) *Saga) func(w *World, f *SagaFixture) (*Saga, error) {
	return func(w *World, f *SagaFixture) (*Saga, error) {
		q := w.DB.RRequest(f.RRequest)
		if q == nil {
			return nil, fmt.Errorf("no region replacement request")
		}
		return mk(w, *q), nil
	}
}

// retryRRFinish is the driver task's phase C: ReplacementDone requests.
func retryRRFinish(w *World, f *SagaFixture) (*Saga, string) {
	q := w.DB.RRequest(f.RRequest)
	if q.State != RRReplacementDone || q.OldRegionVolumeID == 0 {
		return nil, "request is " + q.State.String()
	}
	return w.NewRRFinishSaga(*q), "the region replacement driver task"
}

// ---------------------------------------------------------------------------
// The registry

var (
	cleanStrictSpec = cleanSpec{kind: cleanStrict}
	cleanC7Spec     = cleanSpec{kind: cleanC7}

	excDiskCreateRecord = addedSoftDeleted("disk", "deleted",
		"sdc_create_disk_record_undo soft-deletes the new disk (disk_create.rs; its verify_clean_slate counts live disks only)")
	excSnapshotRecord = addedSoftDeleted("snapshot", "deleted",
		"ssc_create_snapshot_record_undo soft-deletes the new snapshot (snapshot_create.rs)")
	excSnapshotVolume = addedSoftDeleted("volume", "soft_deleted",
		"ssc_create_volume_record_undo only soft-deletes the snapshot volume (snapshot_create.rs; its verify_clean_slate counts live volumes only)")
	excDiskFaulted = excuse{
		why: "sdd_delete_disk_record_undo un-deletes the disk and sets it Faulted (disk_delete.rs)",
		ok: func(ch dbChange, _ *cleanInput) bool {
			return ch.Table == "disk" && ch.Field == "state" && ch.After == DiskFaulted.String()
		},
	}
	excRepairNotification = excuse{
		why: "an Upstairs repair notification is the Upstairs' record, not the saga's",
		ok:  func(ch dbChange, _ *cleanInput) bool { return ch.Table == "repair_notification" },
	}
)

func diskOf(f *SagaFixture) UUID  { return f.Disk }
func disk2Of(f *SagaFixture) UUID { return f.Disk2 }

// SagaCases returns every (saga, starting state) case, in a fixed order.
func SagaCases() []SagaCase {
	base := fixDiskAndSnapshot
	withD2 := setupSeq(base, fixDiskFromSnapshot)
	reqLive := setupSeq(base, fixRSRRequest)
	reqD2 := setupSeq(withD2, fixRSRRequest)
	running := setupSeq(reqD2, fixRunStart, fixRunGC, fixStepFor)
	// The step volume deleted after the step was created; an image of S
	// keeps the region snapshot referenced, so the saga still runs.
	runningDeleted := setupSeq(withD2, fixImage, fixRSRRequest, fixRunStart, fixRunGC, fixStepFor,
		func(w *World, c *sim.Ctx, f *SagaFixture) error { return fixDeleteDisk(w, c, f.Disk2) })
	rr := fixRRRequest(diskOf)
	retryRR := cleanSpec{kind: cleanRetry, strict: []string{"rr_request", "lock"}}
	retryReq := cleanSpec{kind: cleanRetry, strict: []string{"rsr_request", "lock"}}
	return []SagaCase{
		// region-snapshot-replacement-start (G1–G5): the snapshot volume
		// live, soft-deleted, and hard-deleted (a disk made from the
		// snapshot keeps the region snapshot referenced).
		{Saga: "rsr-start", State: "live-snapshot", Setup: reqLive,
			Make: makeRSR((*World).NewRSRStartSaga), clean: cleanC7Spec},
		{Saga: "rsr-start", State: "soft-deleted-snapshot-volume", Setup: setupSeq(reqD2, fixSoftDeleteSnapshotVolume),
			Make: makeRSR((*World).NewRSRStartSaga), clean: cleanC7Spec},
		{Saga: "rsr-start", State: "deleted-snapshot", Setup: setupSeq(reqD2, fixDeleteSnapshot),
			Make: makeRSR((*World).NewRSRStartSaga), clean: cleanC7Spec},
		// region-snapshot-replacement-garbage-collect (G6): T holding A, or
		// T blank (the snapshot was deleted before the swap).
		{Saga: "rsr-gc", State: "live-snapshot", Setup: setupSeq(reqLive, fixRunStart),
			Make: makeRSR((*World).NewRSRGCSaga), Retry: retryRSRGC, clean: retryReq},
		{Saga: "rsr-gc", State: "deleted-snapshot", Setup: setupSeq(reqD2, fixDeleteSnapshot, fixRunStart),
			Make: makeRSR((*World).NewRSRGCSaga), Retry: retryRSRGC, clean: retryReq},
		// region-snapshot-replacement-step: the step volume (D2's) live
		// and detached, attached (the notification runs), or deleted.
		{Saga: "rsr-step", State: "live-volume", Setup: running, Make: makeStep, clean: cleanStrictSpec},
		{Saga: "rsr-step", State: "attached-volume", Setup: setupSeq(running, func(w *World, c *sim.Ctx, f *SagaFixture) error {
			fixAttach(w, c, f.Disk2)
			return nil
		}), Make: makeStep, clean: cleanStrictSpec},
		{Saga: "rsr-step", State: "deleted-volume", Setup: runningDeleted, Make: makeStep, clean: cleanStrictSpec},
		// region-snapshot-replacement-step-garbage-collect (G7).
		{Saga: "step-gc", State: "live-volume", Setup: setupSeq(running, fixRunStep),
			Make: makeStepGC, Retry: retryStepGC, clean: cleanSpec{kind: cleanRetry, strict: []string{"rsr_step", "lock"}}},
		{Saga: "step-gc", State: "deleted-volume", Setup: setupSeq(runningDeleted, fixRunStep),
			Make: makeStepGC, Retry: retryStepGC, clean: cleanSpec{kind: cleanRetry, strict: []string{"rsr_step", "lock"}}},
		// region-snapshot-replacement-finish: with a new region volume, and
		// for a request started before 09b150f177 (no NRV: no subsaga).
		{Saga: "rsr-finish", State: "with-nrv", Setup: setupSeq(reqLive, fixRunStart, fixRunGC),
			Make: makeRSR((*World).NewRSRFinishSaga), Retry: retryRSRFinish, clean: retryReq},
		{Saga: "rsr-finish", State: "started-pre-fix", Setup: setupSeq(reqLive, withPreFix(fixRunStart), fixRunGC),
			Make: makeRSR((*World).NewRSRFinishSaga), Retry: retryRSRFinish, clean: retryReq},
		// disk-create: blank, from the snapshot, from an image.
		{Saga: "disk-create", State: "blank", Setup: base,
			Make:  makeDiskCreate(func(*SagaFixture) DiskSource { return DiskSource{} }),
			clean: cleanSpec{kind: cleanStrict, excuses: []excuse{excDiskCreateRecord}}},
		{Saga: "disk-create", State: "from-snapshot", Setup: base,
			Make:  makeDiskCreate(func(f *SagaFixture) DiskSource { return DiskSource{Snapshot: f.Snapshot} }),
			clean: cleanSpec{kind: cleanStrict, excuses: []excuse{excDiskCreateRecord}}},
		{Saga: "disk-create", State: "from-image", Setup: setupSeq(base, fixImage),
			Make:  makeDiskCreate(func(f *SagaFixture) DiskSource { return DiskSource{Image: f.Image} }),
			clean: cleanSpec{kind: cleanStrict, excuses: []excuse{excDiskCreateRecord}}},
		// disk-delete: a disk with no snapshot, a disk with a snapshot
		// (its regions are pinned), a disk made from a snapshot.
		{Saga: "disk-delete", State: "no-snapshot", Setup: func(w *World, c *sim.Ctx, f *SagaFixture) error {
			s := w.UserDiskCreate(c, DiskSource{})
			f.Disk = s.diskID()
			if s.State != SagaDone {
				return fmt.Errorf("disk create: %v", s.Err)
			}
			return nil
		}, Make: makeDiskDelete(diskOf), Retry: retryDiskDelete(diskOf),
			clean: cleanSpec{kind: cleanRetry, strict: []string{"disk", "lock"}, excuses: []excuse{excDiskFaulted}}},
		{Saga: "disk-delete", State: "with-snapshot", Setup: base, Make: makeDiskDelete(diskOf), Retry: retryDiskDelete(diskOf),
			clean: cleanSpec{kind: cleanRetry, strict: []string{"disk", "lock"}, excuses: []excuse{excDiskFaulted}}},
		{Saga: "disk-delete", State: "from-snapshot", Setup: withD2, Make: makeDiskDelete(disk2Of), Retry: retryDiskDelete(disk2Of),
			clean: cleanSpec{kind: cleanRetry, strict: []string{"disk", "lock"}, excuses: []excuse{excDiskFaulted}}},
		// snapshot-create: the Pantry path (detached disk) and the attached
		// path (sled agent).
		{Saga: "snapshot-create", State: "pantry", Setup: base, Make: makeSnapshotCreate(true),
			clean: cleanSpec{kind: cleanStrict, excuses: []excuse{excSnapshotRecord, excSnapshotVolume}}},
		{Saga: "snapshot-create", State: "attached", Setup: setupSeq(base, func(w *World, c *sim.Ctx, f *SagaFixture) error {
			fixAttach(w, c, f.Disk)
			return nil
		}), Make: makeSnapshotCreate(false),
			clean: cleanSpec{kind: cleanStrict, excuses: []excuse{excSnapshotRecord, excSnapshotVolume}}},
		// snapshot-delete: the snapshot's only user, and a snapshot a disk
		// was made from.
		{Saga: "snapshot-delete", State: "unreferenced", Setup: base, Make: makeSnapshotDelete, Retry: retrySnapshotDelete,
			clean: cleanSpec{kind: cleanRetry, strict: []string{"lock"}}},
		{Saga: "snapshot-delete", State: "disk-from-snapshot", Setup: withD2, Make: makeSnapshotDelete, Retry: retrySnapshotDelete,
			clean: cleanSpec{kind: cleanRetry, strict: []string{"lock"}}},
		// image-delete: with the snapshot live, and deleted (the image holds
		// the last references).
		{Saga: "image-delete", State: "live-snapshot", Setup: setupSeq(base, fixImage), Make: makeImageDelete, Retry: retryImageDelete,
			clean: cleanSpec{kind: cleanRetry, strict: []string{"lock"}}},
		{Saga: "image-delete", State: "deleted-snapshot", Setup: setupSeq(base, fixImage, fixDeleteSnapshot), Make: makeImageDelete, Retry: retryImageDelete,
			clean: cleanSpec{kind: cleanRetry, strict: []string{"lock"}}},
		// volume-remove-read-only-parent on D2: the snapshot live, and
		// deleted (the parent holds the last references).
		{Saga: "remove-rop", State: "live-snapshot", Setup: withD2, Make: makeRemoveROP, Retry: retryRemoveROP,
			clean: cleanSpec{kind: cleanRetry, strict: []string{"lock", "disk"}}},
		{Saga: "remove-rop", State: "deleted-snapshot", Setup: setupSeq(withD2, fixDeleteSnapshot), Make: makeRemoveROP, Retry: retryRemoveROP,
			clean: cleanSpec{kind: cleanRetry, strict: []string{"lock", "disk"}}},
		// region-replacement-start on D's first region, and on D2's.
		{Saga: "rr-start", State: "disk", Setup: setupSeq(base, rr),
			Make: makeRR((*World).NewRRStartSaga), clean: cleanStrictSpec},
		{Saga: "rr-start", State: "disk-from-snapshot", Setup: setupSeq(withD2, fixRRRequest(disk2Of)),
			Make: makeRR((*World).NewRRStartSaga), clean: cleanStrictSpec},
		// region-replacement-drive (one round; the drive outcome is its
		// fault-free option, "done").
		{Saga: "rr-drive", State: "running", Setup: setupSeq(base, rr, fixRunRRStart),
			Make: makeRR((*World).NewRRDriveSaga), clean: cleanSpec{kind: cleanStrict, excuses: []excuse{excRepairNotification}}},
		// region-replacement-finish.
		{Saga: "rr-finish", State: "replacement-done", Setup: setupSeq(base, rr, fixRunRRStart, fixRRDone),
			Make: makeRR((*World).NewRRFinishSaga), Retry: retryRRFinish, clean: retryRR},
	}
}
