package fuzz

import (
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// shapeRun runs the rsr-focus profile (with knob overrides) under a Shape
// strategy setting set, and returns how many actions the driver issued and
// how many task activations began before the quiescence phase; ok is false
// when a violation ended the run before quiescence.
func shapeRun(t *testing.T, seed uint64, knobs map[string]int, set []sim.KnobValue) (actions, mainTasks int, ok bool) {
	t.Helper()
	cfg, err := DetectionConfig("")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range knobs {
		cfg.Knobs[k] = v
	}
	tg, err := NewRSRTarget(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt := tg.(*rsrTarget)
	r := sim.NewRun(sim.Config{StepMillis: 10, MaxSteps: tg.DefaultMaxSteps(), Knobs: tg.Knobs(), KeepTrace: true},
		sim.NewPRNG(seed), &sim.Shape{Set: set, Inner: sim.Uniform{}})
	defer r.Close()
	rt.execute(r)
	quiesce := sim.ActorID(-1)
	for _, a := range r.Actors() {
		if a.Name() == "quiescence" {
			quiesce = a.ID
		}
	}
	if quiesce < 0 {
		return 0, 0, false
	}
	for _, a := range r.Actors() {
		if a.Kind == sim.KindTask && a.ID < quiesce {
			mainTasks++
		}
	}
	for _, e := range r.Trace() {
		if e.Op.String() == "workload: next action" {
			actions++
		}
	}
	return actions, mainTasks, true
}

// TestShapeKnobs: shape-actions-x multiplies the main phase's actions;
// shape-tasks-on-demand leaves the main phase without periodic task
// activations (with the activate-task action off, none at all); without
// them the profile's periodic tasks run.
func TestShapeKnobs(t *testing.T) {
	noActivate := map[string]int{"act-activate-task": 0}
	checked := [3]int{}
	for seed := range uint64(60) {
		if a, tasks, ok := shapeRun(t, seed, noActivate, nil); ok {
			checked[0]++
			if a != 16 || tasks == 0 {
				t.Fatalf("seed %d, default shape: %d actions, %d main-phase activations; want 16 and some", seed, a, tasks)
			}
		}
		if a, _, ok := shapeRun(t, seed, noActivate, []sim.KnobValue{{Name: sim.ShapeActionsX, Value: 2}}); ok {
			checked[1]++
			if a != 32 {
				t.Fatalf("seed %d, shape-actions-x 2: %d actions, want 32", seed, a)
			}
		}
		if _, tasks, ok := shapeRun(t, seed, noActivate, []sim.KnobValue{{Name: sim.ShapeTasksOnDemand, Value: 1}}); ok {
			checked[2]++
			if tasks != 0 {
				t.Fatalf("seed %d, tasks on demand: %d main-phase activations, want 0", seed, tasks)
			}
		}
	}
	for i, n := range checked {
		if n < 10 {
			t.Errorf("shape %d: only %d of 60 runs reached quiescence", i, n)
		}
	}
}

// TestShapeUniformActions: with shape-uniform-actions every enabled action
// kind is equally likely, so the rarest kinds of the rsr-focus profile
// (weight 2 and 5 of 262) come up about as often as the common ones;
// disabled kinds stay off.
func TestShapeUniformActions(t *testing.T) {
	count := func(set []sim.KnobValue) (rare, rr int) {
		for seed := range uint64(40) {
			cfg, _ := DetectionConfig("")
			tg, _ := NewRSRTarget(cfg)
			r := sim.NewRun(sim.Config{StepMillis: 10, MaxSteps: tg.DefaultMaxSteps(), Knobs: tg.Knobs(), KeepTrace: true},
				sim.NewPRNG(seed), &sim.Shape{Set: set, Inner: sim.Uniform{}})
			tg.(*rsrTarget).execute(r)
			for _, a := range r.Actors() {
				switch a.Name() {
				case "user: remove read-only parent", "user: disk create (blank)":
					rare++
				case "operator: manual RR request":
					rr++
				}
			}
			r.Close()
		}
		return rare, rr
	}
	rareDefault, _ := count(nil)
	rareUniform, rr := count([]sim.KnobValue{{Name: sim.ShapeUniform, Value: 1}})
	if rareUniform < 3*rareDefault || rareUniform < 40 {
		t.Errorf("rare action kinds: %d with uniform weights, %d with the profile's", rareUniform, rareDefault)
	}
	if rr != 0 {
		t.Errorf("a disabled action kind (manual RR, weight 0) ran %d times", rr)
	}
}

// TestEveryModelFaultGoesThroughItsSite: with every site cold at rate 0 the
// model draws no fault decision at all (each fault path, crash per step
// included, asks sim.Run.SiteRate), while the same runs under buggify-pct
// draw many; and runs under the new strategies replay from their
// decision lists.
func TestEveryModelFaultGoesThroughItsSite(t *testing.T) {
	cfg, _ := DetectionConfig("")
	tg, _ := NewRSRTarget(cfg)
	faults := func(st sim.Strategy, seed uint64) int {
		r := sim.NewRun(sim.Config{StepMillis: 10, MaxSteps: tg.DefaultMaxSteps(), Knobs: tg.Knobs()}, sim.NewPRNG(seed), st)
		tg.Execute(r)
		r.Close()
		n := 0
		for _, d := range r.Decisions() {
			if d.Kind == sim.KFault {
				n++
			}
		}
		return n
	}
	withFaults := 0
	for seed := range uint64(20) {
		if n := faults(&sim.SiteBuggify{Inner: sim.Uniform{}, Enable: 0, Cold: 0}, seed); n != 0 {
			t.Fatalf("seed %d: %d fault decisions with every site off", seed, n)
		}
		withFaults += faults(&sim.Buggify{Inner: sim.Uniform{}}, seed)
	}
	if withFaults < 100 {
		t.Fatalf("only %d fault decisions in 20 buggify runs: the check is vacuous", withFaults)
	}
	for _, name := range []string{"site-buggify-pct", "test-style-pct", "portfolio-pct"} {
		eng := DefaultEngine()
		eng.Strategy = name
		for seed := range uint64(30) {
			a, err := ExecuteSeed(tg, eng, seed, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Execute(tg, eng, sim.NewReplay(a.Decisions), RunOptions{})
			if a.Hash != b.Hash {
				t.Fatalf("%s seed %d: replay hash %x, recorded %x", name, seed, b.Hash, a.Hash)
			}
		}
	}
}

// TestDefaultEngines: the rsr target's default campaign is portfolio-pct;
// the toy keeps a swarm profile over a uniform walk (its runs are far
// shorter than PCT's change-point range); an unknown name gets the generic
// default.
func TestDefaultEngines(t *testing.T) {
	if got := DefaultEngineFor("rsr").Strategy; got != "portfolio-pct" {
		t.Errorf("rsr default strategy %q", got)
	}
	if got := DefaultEngineFor("toy").Strategy; got != "swarm" {
		t.Errorf("toy default strategy %q", got)
	}
	if DefaultEngineFor("nope") != DefaultEngine() {
		t.Error("unknown target: not the generic default")
	}
	if NativeEngine().Strategy != "swarm" {
		t.Error("the native fuzz engine changed: corpora under testdata/fuzz would drive other runs")
	}
}
