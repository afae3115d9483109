package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

var opTestStep = sim.RegisterOp("test step")

// recSaga builds a saga whose nodes log "a:<name>" / "u:<name>" and take
// two atomic steps each; failAction and failUndo name nodes that fail.
func recSaga(log *[]string, names [][]string, failAction, failUndo string) *Saga {
	var stages [][]Node
	for _, st := range names {
		var ns []Node
		for _, n := range st {
			n := n
			ns = append(ns, Node{Name: n,
				Action: func(x *NodeCtx) error {
					x.Step(opTestStep)
					x.Step(opTestStep)
					*log = append(*log, "a:"+n)
					if n == failAction {
						return errors.New("boom")
					}
					return nil
				},
				Undo: func(x *NodeCtx) error {
					x.Step(opTestStep)
					*log = append(*log, "u:"+n)
					if n == failUndo {
						return errors.New("undo boom")
					}
					return nil
				}})
		}
		stages = append(stages, ns)
	}
	return &Saga{Name: "test", Stages: stages, Inject: NoInject}
}

func runSaga(t *testing.T, seed uint64, knobs []int, s *Saga) (*World, *sim.Run) {
	t.Helper()
	kn := make([]sim.Knob, len(Knobs))
	copy(kn, Knobs)
	for i := range kn {
		kn[i].Default = 0
		if i < len(knobs) {
			kn[i].Default = knobs[i]
		}
	}
	r := sim.NewRun(sim.Config{Knobs: kn, MaxSteps: 100000}, sim.NewPRNG(seed), sim.Uniform{})
	w := NewWorld(Config{}, r)
	w.StartSaga(r, s)
	if got := r.Loop(nil); got != sim.StopIdle {
		t.Fatalf("loop: %v %s", got, r.PanicMessage())
	}
	return w, r
}

func TestSagaHappyPath(t *testing.T) {
	var log []string
	s := recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}}, "", "")
	runSaga(t, 1, nil, s)
	if s.State != SagaDone || strings.Join(log, " ") != "a:n0 a:n1 a:n2" {
		t.Fatalf("state %v log %v", s.State, log)
	}
}

func TestSagaUnwindReverseSkipsFailedNode(t *testing.T) {
	var log []string
	s := recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}, {"n3"}}, "n2", "")
	runSaga(t, 1, nil, s)
	if s.State != SagaFailed || s.ErrNode != "n2" {
		t.Fatalf("state %v err node %q", s.State, s.ErrNode)
	}
	if got := strings.Join(log, " "); got != "a:n0 a:n1 a:n2 u:n1 u:n0" {
		t.Fatalf("log %q: the failed node's undo must not run, the others in reverse", got)
	}
}

func TestSagaUndoFailureIsStuck(t *testing.T) {
	var log []string
	s := recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}}, "n2", "n1")
	runSaga(t, 1, nil, s)
	if s.State != SagaStuck || s.StuckNode != "n1" {
		t.Fatalf("state %v stuck %q", s.State, s.StuckNode)
	}
	if got := strings.Join(log, " "); got != "a:n0 a:n1 a:n2 u:n1" {
		t.Fatalf("log %q: nothing may run after a failed undo", got)
	}
}

func TestSagaInjectedErrorReplacesAction(t *testing.T) {
	for i := 0; i < 3; i++ {
		var log []string
		s := recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}}, "", "")
		s.Inject = Inject{ErrorAt: i, RepeatNode: -1}
		runSaga(t, 1, nil, s)
		if s.State != SagaFailed || s.ErrNode != fmt.Sprintf("n%d", i) {
			t.Fatalf("inject at %d: state %v node %q", i, s.State, s.ErrNode)
		}
		for _, l := range log {
			if l == fmt.Sprintf("a:n%d", i) {
				t.Fatalf("inject at %d: the injected node's action ran", i)
			}
		}
	}
}

func TestSagaRepeatInjection(t *testing.T) {
	var log []string
	s := recSaga(&log, [][]string{{"n0"}, {"n1"}}, "", "")
	s.Inject = Inject{ErrorAt: 1, RepeatNode: 0, ActionTimes: 1, UndoTimes: 2}
	runSaga(t, 1, nil, s)
	if got := strings.Join(log, " "); got != "a:n0 u:n0 u:n0" {
		t.Fatalf("log %q", got)
	}
	log = nil
	s = recSaga(&log, [][]string{{"n0"}, {"n1"}}, "", "")
	s.Inject = Inject{ErrorAt: -1, RepeatAll: true, ActionTimes: 2, UndoTimes: 1}
	runSaga(t, 1, nil, s)
	if got := strings.Join(log, " "); got != "a:n0 a:n0 a:n1 a:n1" || s.State != SagaDone {
		t.Fatalf("log %q state %v", got, s.State)
	}
}

func TestSagaParallelSiblingsInterleave(t *testing.T) {
	interleaved := false
	for seed := uint64(0); seed < 50 && !interleaved; seed++ {
		var log []string
		var order []string
		s := &Saga{Name: "par", Inject: NoInject, Stages: [][]Node{{
			{Name: "x", Action: func(x *NodeCtx) error {
				for i := 0; i < 4; i++ {
					x.Step(opTestStep)
					order = append(order, "x")
				}
				return nil
			}},
			{Name: "y", Action: func(x *NodeCtx) error {
				for i := 0; i < 4; i++ {
					x.Step(opTestStep)
					order = append(order, "y")
				}
				return nil
			}},
		}, {{Name: "after", Action: func(x *NodeCtx) error { x.Step(opTestStep); log = append(log, "after"); return nil }}}}}
		runSaga(t, seed, nil, s)
		if len(order) != 8 || len(log) != 1 || s.State != SagaDone {
			t.Fatalf("seed %d: order %v log %v", seed, order, log)
		}
		if strings.Join(order, "") != "xxxxyyyy" && strings.Join(order, "") != "yyyyxxxx" {
			interleaved = true
		}
	}
	if !interleaved {
		t.Fatal("parallel siblings never interleaved over 50 seeds")
	}
}

func TestSagaCrashRerunsNodeFromStart(t *testing.T) {
	// With crashes on, some node's action must run more than once, and the
	// saga must still complete: every node re-runs from its beginning.
	reruns := 0
	for seed := uint64(0); seed < 20; seed++ {
		var log []string
		s := recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}}, "", "")
		w, _ := runSaga(t, seed, []int{KnobCrash: 300, KnobCrashAfterNode: 300}, s)
		if s.State != SagaDone {
			t.Fatalf("seed %d: state %v", seed, s.State)
		}
		reruns += w.Crashes
		// each node logged at least once, in order of first completion
		seen := map[string]bool{}
		for _, l := range log {
			seen[l] = true
		}
		if len(seen) != 3 {
			t.Fatalf("seed %d: log %v", seed, log)
		}
	}
	if reruns == 0 {
		t.Fatal("no crash ever happened at 30% crash rates")
	}
}

// TestSeqStages: seq makes one stage per node, in order, over one shared
// node array; a stage cannot grow into its neighbour (appending to one
// copies it), and appendSeq adds the same stages to what is there.
func TestSeqStages(t *testing.T) {
	a, b, c := Node{Name: "a"}, Node{Name: "b"}, Node{Name: "c"}
	st := seq(a, b, c)
	if len(st) != 3 || st[0][0].Name != "a" || st[1][0].Name != "b" || st[2][0].Name != "c" {
		t.Fatalf("seq: %v", st)
	}
	for i := range st {
		if len(st[i]) != 1 || cap(st[i]) != 1 {
			t.Fatalf("stage %d: len %d cap %d", i, len(st[i]), cap(st[i]))
		}
	}
	_ = append(st[0], Node{Name: "x"})
	if st[1][0].Name != "b" {
		t.Fatal("appending to a stage overwrote the next one")
	}
	more := appendSeq([][]Node{{{Name: "p"}, {Name: "q"}}}, a, b)
	if len(more) != 3 || len(more[0]) != 2 || more[2][0].Name != "b" {
		t.Fatalf("appendSeq: %v", more)
	}
}
