package scenarios

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// Background tasks, the drain loop, and sagas run by hand.

var taskNames = map[string]model.TaskKind{
	"rsr-start": model.TaskRSRStart, "region_snapshot_replacement_start": model.TaskRSRStart,
	"rsr-gc": model.TaskRSRGC, "region_snapshot_replacement_garbage_collection": model.TaskRSRGC,
	"rsr-step": model.TaskRSRStep, "region_snapshot_replacement_step": model.TaskRSRStep,
	"rsr-finish": model.TaskRSRFinish, "region_snapshot_replacement_finish": model.TaskRSRFinish,
	"rr": model.TaskRR, "region_replacement": model.TaskRR,
	"rr-driver": model.TaskRRDriver, "region_replacement_driver": model.TaskRRDriver,
}

func taskOf(s string) (model.TaskKind, error) {
	t, ok := taskNames[s]
	if !ok {
		return 0, scriptf("unknown task %q (want rsr-start, rsr-gc, rsr-step, rsr-finish, rr, rr-driver or omicron's task name)", s)
	}
	return t, nil
}

// statusFields are the status struct fields of each task, in
// TaskStatus.Counts order (nexus/types/src/internal_api/background.rs).
var statusFields = [model.NumTasks][]string{
	model.TaskRSRStart:  {"requests_created_ok", "start_invoked_ok", "requests_completed_ok"},
	model.TaskRSRGC:     {"garbage_collect_requested"},
	model.TaskRSRStep:   {"step_records_created_ok", "step_garbage_collect_invoked_ok", "step_invoked_ok", "step_set_volume_deleted_ok"},
	model.TaskRSRFinish: {"finish_invoked_ok"},
	model.TaskRR:        {"requests_created_ok", "start_invoked_ok", "requests_completed_ok"},
	model.TaskRRDriver:  {"drive_invoked_ok", "finish_invoked_ok"},
}

func (x *runner) printStatus(st *model.TaskStatus) {
	for i, f := range statusFields[st.Task] {
		x.printf("%s: %d", f, st.Counts[i])
	}
	x.printf("errors: %d", len(st.Errors))
	for _, e := range st.Errors {
		x.printf("  %s", e)
	}
}

func statusErrors(st *model.TaskStatus) error {
	if len(st.Errors) == 0 {
		return nil
	}
	return failf(invariants.EndTaskErrors, "%s reported %d error(s) (run_* helpers assert none): %s", st.Task, len(st.Errors), strings.Join(st.Errors, "; "))
}

// activation runs one activation of t on Nexus n, and everything it
// starts, to idle. With noop, saga starts are only counted.
func (x *runner) activation(t model.TaskKind, n int, noop, hold bool) (*model.TaskStatus, error) {
	if n < 0 || n >= len(x.w.Nexuses) {
		return nil, scriptf("nexus=%d: there are %d Nexus instances", n, len(x.w.Nexuses))
	}
	var st *model.TaskStatus
	x.w.NoopSagaStart = noop
	x.st.holdTaskSagas = hold
	err := x.act(sim.KindEnv, "scenario: activate "+t.String(), func(c *sim.Ctx) { st = x.w.RunActivation(c, n, t) })
	x.w.NoopSagaStart = false
	x.st.holdTaskSagas = false
	return st, err
}

func cmdActivate(x *runner, c *Cmd) error {
	t, err := taskOf(argsOf(c)[0])
	if err != nil {
		return err
	}
	n, err := intOpt(c, "nexus", 0)
	if err != nil {
		return err
	}
	noop := c.Flag("noop-start")
	before, noopBefore := len(x.w.Sagas), x.w.NoopSagaStarts
	st, err := x.activation(t, n, noop, c.Flag("hold-sagas"))
	if err != nil {
		return err
	}
	x.printStatus(st)
	if noop {
		x.printf("saga starts: %d", x.w.NoopSagaStarts-noopBefore)
	}
	if name, ok := c.Opt("saga"); ok {
		if len(x.w.Sagas) == before {
			return failf(OracleCommand, "the activation started no saga to bind to %s", name)
		}
		if err := x.bind(name, &obj{kind: kSaga, saga: x.w.Sagas[before]}); err != nil {
			return err
		}
	}
	if c.Name == "activate" {
		return statusErrors(st)
	}
	return nil
}

// drainOrder is run_replacement_tasks_to_completion's order
// (nexus/test-utils/src/background.rs).
var drainOrder = []model.TaskKind{model.TaskRR, model.TaskRRDriver, model.TaskRSRStart, model.TaskRSRGC, model.TaskRSRStep, model.TaskRSRFinish}

// cmdDrain is run_replacement_tasks_to_completion (spec 30 §B.0): passes
// of the six run_* helpers (each asserting no errors) on Nexus 0, the
// sagas they start running in the background and all finished before the
// next pass (omicron's 1 s poll interval), until a pass counts no action;
// at most max passes (omicron: 60 s at one pass a second). Not converging
// fails as live-drain-converges, unless that oracle is disabled (a directed
// trigger then asks check-quiescence for a more specific liveness oracle).
func cmdDrain(x *runner, c *Cmd) error {
	max, err := intOpt(c, "max", 60)
	if err != nil {
		return err
	}
	w := x.w
	var out invariants.DrainOutcome
	var bad *model.TaskStatus
	err = x.act(sim.KindEnv, "scenario: drain", func(c *sim.Ctx) {
		for out.Passes < max {
			out.Passes++
			actions := 0
			out.Statuses = nil
			for _, t := range drainOrder {
				st := w.RunActivation(c, 0, t)
				out.Statuses = append(out.Statuses, st)
				actions += st.Actions()
				if len(st.Errors) > 0 {
					bad = st
					return
				}
			}
			w.WaitSagas(c)
			if actions == 0 {
				out.Converged = true
				return
			}
		}
	})
	if err != nil {
		return err
	}
	x.lastDrain = &out
	if bad != nil {
		return statusErrors(bad)
	}
	x.printf("passes: %d", out.Passes)
	if !out.Converged && !x.ck.Disabled[invariants.LiveDrainConverges] {
		return failf(invariants.LiveDrainConverges, "run_replacement_tasks_to_completion timed out: after %d passes the tasks still act on every pass", out.Passes)
	}
	return nil
}

// cmdRunUntilZero repeats run_<task> until it counts no action; more than
// max repeats fails (I6: "more than 20 iterations fails the test").
func cmdRunUntilZero(x *runner, c *Cmd) error {
	t, err := taskOf(argsOf(c)[0])
	if err != nil {
		return err
	}
	max, err := intOpt(c, "max", 20)
	if err != nil {
		return err
	}
	for count := 0; ; {
		st, err := x.activation(t, 0, false, false)
		if err != nil {
			return err
		}
		if err := statusErrors(st); err != nil {
			return err
		}
		if st.Actions() == 0 {
			x.printf("repeats: %d", count)
			return nil
		}
		count++
		if count > max {
			return failf(OracleAssert, "run_%s still acts after %d repeats", t, max)
		}
	}
}

// ---------------------------------------------------------------------------
// sagas by hand

var sagaKinds = []string{"rsr-start", "rsr-gc", "rsr-step", "rsr-step-gc", "rsr-finish", "rr-start", "rr-drive", "rr-finish"}

// newSaga builds a saga of kind for target, reading the target's record now
// (as a task would pass it).
func (x *runner) newSaga(kind, target string) (*model.Saga, error) {
	db := x.w.DB
	switch kind {
	case "rsr-start", "rsr-gc", "rsr-finish":
		id, err := x.id(target, kRequest)
		if err != nil {
			return nil, err
		}
		q := db.Request(id)
		if q == nil {
			return nil, failf(OracleCommand, "request %s has no row", target)
		}
		switch kind {
		case "rsr-start":
			return x.w.NewRSRStartSaga(*q), nil
		case "rsr-gc":
			return x.w.NewRSRGCSaga(*q), nil
		}
		return x.w.NewRSRFinishSaga(*q), nil
	case "rsr-step", "rsr-step-gc":
		id, err := x.id(target, kStep)
		if err != nil {
			return nil, err
		}
		s := db.Step(id)
		if s == nil {
			return nil, failf(OracleCommand, "step %s has no row", target)
		}
		if kind == "rsr-step" {
			return x.w.NewRSRStepSaga(*s), nil
		}
		return x.w.NewStepGCSaga(*s), nil
	case "rr-start", "rr-drive", "rr-finish":
		id, err := x.id(target, kRR)
		if err != nil {
			return nil, err
		}
		q := db.RRequest(id)
		if q == nil {
			return nil, failf(OracleCommand, "region replacement %s has no row", target)
		}
		switch kind {
		case "rr-start":
			return x.w.NewRRStartSaga(*q), nil
		case "rr-drive":
			return x.w.NewRRDriveSaga(*q), nil
		}
		return x.w.NewRRFinishSaga(*q), nil
	}
	return nil, scriptf("unknown saga kind %q (want %s)", kind, strings.Join(sagaKinds, ", "))
}

// nodeIndex resolves a node name (first occurrence) or index.
func nodeIndex(s *model.Saga, ref string) (int, error) {
	n := s.NodeCount()
	if i, err := strconv.Atoi(ref); err == nil {
		if i < 0 || i >= n {
			return 0, scriptf("node index %d out of range (the saga has %d nodes)", i, n)
		}
		return i, nil
	}
	for i := 0; i < n; i++ {
		if s.NodeName(i) == ref {
			return i, nil
		}
	}
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, s.NodeName(i))
	}
	return 0, scriptf("%s has no node %q (nodes: %s)", s.Name, ref, strings.Join(names, " "))
}

func cmdStartSaga(x *runner, c *Cmd) error {
	a := argsOf(c)
	name, kind, target := a[0], a[1], a[2]
	s, err := x.newSaga(kind, target)
	if err != nil {
		return err
	}
	inj, err := injection(c, s)
	if err != nil {
		return err
	}
	s.Inject = inj
	x.w.StartSaga(x.r, s)
	x.st.held[s.Actor.ID] = true
	return x.bind(name, &obj{kind: kSaga, saga: s, sagaKind: kind})
}

func (x *runner) saga(ref string) (*model.Saga, error) {
	o, err := x.want(ref, kSaga)
	if err != nil {
		return nil, err
	}
	return o.saga, nil
}

func sagaResult(s *model.Saga) string {
	switch s.State {
	case model.SagaDone:
		return "done"
	case model.SagaFailed:
		return fmt.Sprintf("failed at %s: %v", s.ErrNode, s.Err)
	case model.SagaStuck:
		return fmt.Sprintf("stuck: failed at %s: %v; undo of %s failed: %v", s.ErrNode, s.Err, s.StuckNode, s.UndoErr)
	}
	return s.State.String()
}

func cmdRunSaga(x *runner, c *Cmd) error {
	s, err := x.saga(argsOf(c)[0])
	if err != nil {
		return err
	}
	delete(x.st.held, s.Actor.ID)
	if err := x.runUntil(s.Actor.Done); err != nil {
		return err
	}
	if !s.Actor.Done() {
		return failf(OracleCommand, "saga %s could not finish (it waits on a held actor)", argsOf(c)[0])
	}
	x.printf("%s", sagaResult(s))
	return nil
}

// cmdStepSaga runs a held saga (only it) up to a node: after=NODE until the
// node's action has a logged result; before=NODE until the node's action
// is about to take its first atomic step. The saga stays held afterwards.
func cmdStepSaga(x *runner, c *Cmd) error {
	ref := argsOf(c)[0]
	s, err := x.saga(ref)
	if err != nil {
		return err
	}
	after, okA := c.Opt("after")
	before, okB := c.Opt("before")
	if okA == okB {
		return scriptf("give exactly one of after=NODE, before=NODE")
	}
	var pred func() bool
	target := after
	if okA {
		i := -1
		for j := 0; j < s.NodeCount(); j++ {
			if s.NodeName(j) == after && s.Status(j) == model.NodeNotStarted {
				i = j
				break
			}
		}
		if i < 0 {
			if _, err := nodeIndex(s, after); err != nil {
				return err
			}
			return failf(OracleCommand, "node %s of %s already ran", after, ref)
		}
		pred = func() bool { return s.Status(i) != model.NodeNotStarted }
	} else {
		target = before
		if _, err := nodeIndex(s, before); err != nil {
			return err
		}
		full := s.Name + "/" + before
		pred = func() bool {
			for _, a := range x.r.Runnable() {
				if a.Kind == sim.KindNode && a.Name() == full && descends(x.r, a, s.Actor) {
					return true
				}
			}
			return false
		}
	}
	if s.Actor.Done() {
		return failf(OracleCommand, "saga %s has already ended (%s)", ref, sagaResult(s))
	}
	delete(x.st.held, s.Actor.ID)
	err = x.runUntil(func() bool { return pred() || s.Actor.Done() })
	x.st.held[s.Actor.ID] = true
	if err != nil {
		return err
	}
	if !pred() {
		return failf(OracleCommand, "saga %s ended (%s) before reaching node %s", ref, sagaResult(s), target)
	}
	return nil
}

func descends(r *sim.Run, a, root *sim.Actor) bool {
	for a != nil {
		if a == root {
			return true
		}
		if a.Parent == 0 {
			return false
		}
		a = r.Actor(a.Parent)
	}
	return false
}

// cleanSlate holds verify_clean_slate's parameters (spec 30 §C.7).
type cleanSlate struct {
	request model.UUID
	volume  model.UUID
	vcr     *model.VCR
	regions int
}

func cmdDefineCleanSlate(x *runner, c *Cmd) error {
	qref, _ := c.Opt("request")
	vref, _ := c.Opt("volume")
	q, err := x.id(qref, kRequest)
	if err != nil {
		return err
	}
	v, err := x.id(vref, kVolume)
	if err != nil {
		return err
	}
	n, err := intOpt(c, "regions", 0)
	if err != nil {
		return err
	}
	vol := x.w.DB.Volume(v)
	if vol == nil {
		return failf(OracleCommand, "volume %s has no row", vref)
	}
	x.clean = &cleanSlate{request: q, volume: v, vcr: vol.Data, regions: n}
	return nil
}

// checkCleanSlate is verify_clean_slate of the start saga's unit tests
// (nexus/src/app/sagas/region_snapshot_replacement_start.rs).
func (x *runner) checkCleanSlate() error {
	cs := x.clean
	if cs == nil {
		return scriptf("no clean slate defined (define-clean-slate first)")
	}
	db := x.w.DB
	if err := x.noStuckSagas(); err != nil {
		return err
	}
	if len(db.Regions) != cs.regions {
		return failf(OracleAssert, "clean slate: %d region rows, want %d", len(db.Regions), cs.regions)
	}
	for _, r := range db.Agent.Regions {
		if r.State != model.AgentDestroyed && db.Region(r.Region) == nil {
			return failf(OracleAssert, "clean slate: agent region %s is %s but has no region row", x.nameOf(kRegion, r.Region), r.State)
		}
	}
	q := db.Request(cs.request)
	if q == nil || q.NewRegionID != 0 || q.State != model.RSRRequested || q.OperatingSagaID != 0 {
		return failf(OracleAssert, "clean slate: request %s is not untouched: %+v", x.nameOf(kRequest, cs.request), q)
	}
	v := db.Volume(cs.volume)
	if v == nil || !reflect.DeepEqual(v.Data, cs.vcr) {
		return failf(OracleAssert, "clean slate: volume %s's construction request changed", x.nameOf(kVolume, cs.volume))
	}
	return nil
}

// noStuckSagas is assert_no_failed_undo_steps.
func (x *runner) noStuckSagas() error {
	for _, s := range x.w.Sagas {
		if s.State == model.SagaStuck {
			return failf(invariants.EndNoStuckSaga, "saga %s is stuck: %s", s.Name, sagaResult(s))
		}
	}
	return nil
}

// cmdSagaCheck runs omicron's generic saga tests (nexus/src/app/sagas/
// test_helpers.rs) on a fresh saga of kind for target, built anew for each
// run:
//   - unwind: action_failure_can_unwind: for every node i, inject an error
//     at i; the saga must fail at node i; then verify the clean slate;
//   - unwind-idempotently: action_failure_can_unwind_idempotently: for
//     every node i ≥ 1, inject an error at i and run node i-1's undo twice;
//   - idempotent: actions_succeed_idempotently: every action runs twice
//     (undo once); the saga must succeed.
//
// Each run ends with assert_no_failed_undo_steps.
func cmdSagaCheck(x *runner, c *Cmd) error {
	a := argsOf(c)
	mode, kind, target := a[0], a[1], a[2]
	probe, err := x.newSaga(kind, target)
	if err != nil {
		return err
	}
	n := probe.NodeCount()
	run := func(inj model.Inject) (*model.Saga, error) {
		s, err := x.newSaga(kind, target)
		if err != nil {
			return nil, err
		}
		if s.NodeCount() != n {
			return nil, failf(OracleAssert, "the node count changed between runs (%d, then %d)", n, s.NodeCount())
		}
		s.Inject = inj
		x.w.StartSaga(x.r, s)
		if err := x.runUntil(s.Actor.Done); err != nil {
			return nil, err
		}
		return s, nil
	}
	switch mode {
	case "unwind", "unwind-idempotently":
		first := 0
		if mode == "unwind-idempotently" {
			first = 1
		}
		for i := first; i < n; i++ {
			inj := model.Inject{ErrorAt: i, RepeatNode: -1}
			if mode == "unwind-idempotently" {
				inj.RepeatNode, inj.ActionTimes, inj.UndoTimes = i-1, 1, 2
			}
			s, err := run(inj)
			if err != nil {
				return err
			}
			if s.State != model.SagaFailed || s.ErrNode != s.NodeName(i) {
				return failf(OracleAssert, "error injected at node %d (%s): the saga ended %s", i, s.NodeName(i), sagaResult(s))
			}
			if x.clean != nil {
				if err := x.checkCleanSlate(); err != nil {
					if fe, ok := err.(*failError); ok {
						fe.msg = fmt.Sprintf("after an error injected at node %d (%s): %s", i, s.NodeName(i), fe.msg)
					}
					return err
				}
			}
		}
		x.printf("%d runs, each failed at its injected node", n-first)
	case "idempotent":
		s, err := run(model.Inject{ErrorAt: -1, RepeatNode: -1, RepeatAll: true, ActionTimes: 2, UndoTimes: 1})
		if err != nil {
			return err
		}
		if s.State != model.SagaDone {
			return failf(OracleAssert, "every action run twice: the saga ended %s", sagaResult(s))
		}
		x.printf("done")
	default:
		return scriptf("saga-check: want unwind, unwind-idempotently or idempotent")
	}
	return x.noStuckSagas()
}
