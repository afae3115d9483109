package fuzz

import (
	"flag"
	"fmt"
	"strconv"
	"testing"

	"pgregory.net/rapid"

	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// The rapid baseline is what a Go engineer would write by hand without
// rsrsim: a pgregory.net/rapid state-machine test over the same model. Its
// actions are the model's user and operator actions and task activations;
// each action runs to completion before the next (the engine always runs
// the first runnable actor, so there is no interleaving between actions);
// rapid draws every action, argument and model choice (including the same
// fault rates); the same oracles run after every atomic step, and the same
// quiescence checks at the end. Only the scheduling differs from rsrsim.

// rapidChooser draws the model's choices from rapid; scheduling decisions
// are always 0 (the oldest runnable actor: sequential execution).
type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) Choose(k sim.Kind, n int) int {
	if n <= 1 || k == sim.KSched {
		return 0
	}
	return rapid.IntRange(0, n-1).Draw(c.t, k.String())
}

// baselineTB is a rapid.TB that records the first failure instead of
// aborting a test.
type baselineTB struct {
	failed bool
	msg    string
}

func (b *baselineTB) Helper()                           {}
func (b *baselineTB) Name() string                      { return "rsrsim-rapid-baseline" }
func (b *baselineTB) Logf(string, ...any)               {}
func (b *baselineTB) Log(...any)                        {}
func (b *baselineTB) Skipf(string, ...any)              {}
func (b *baselineTB) Skip(...any)                       {}
func (b *baselineTB) SkipNow()                          {}
func (b *baselineTB) Errorf(format string, args ...any) { b.fail(fmt.Sprintf(format, args...)) }
func (b *baselineTB) Error(args ...any)                 { b.fail(fmt.Sprint(args...)) }
func (b *baselineTB) Fatalf(format string, args ...any) { b.fail(fmt.Sprintf(format, args...)) }
func (b *baselineTB) Fatal(args ...any)                 { b.fail(fmt.Sprint(args...)) }
func (b *baselineTB) FailNow()                          { b.fail("FailNow") }
func (b *baselineTB) Fail()                             { b.fail("Fail") }
func (b *baselineTB) Failed() bool                      { return b.failed }
func (b *baselineTB) fail(m string) {
	if !b.failed {
		b.failed, b.msg = true, m
	}
}

type firstRunnable struct{}

func (firstRunnable) Start(*sim.Run)                  {}
func (firstRunnable) OnSpawn(*sim.Run, *sim.Actor)    {}
func (firstRunnable) Pick(*sim.Run, []*sim.Actor) int { return 0 }
func (firstRunnable) Name() string                    { return "first-runnable" }

// RapidDetect runs the rapid baseline for cfg with rapid's seed until a
// test case's violation satisfies match, or maxChecks test cases. It sets
// rapid's global flags (rapid.seed, rapid.checks, rapid.nofailfile), so it
// must not run concurrently with another rapid check in the process.
func RapidDetect(cfg RSRConfig, seed uint64, maxChecks int, match func(string) bool) (Detection, error) {
	t, err := NewRSRTarget(cfg)
	if err != nil {
		return Detection{}, err
	}
	rt := t.(*rsrTarget)
	// rapid reads testing's flags (testing.Short); outside a test binary
	// they must be registered first. Init is idempotent.
	testing.Init()
	if !flag.Parsed() {
		flag.CommandLine.Parse(nil) // no arguments: only marks the flags parsed
	}
	for name, v := range map[string]string{
		"rapid.seed": strconv.FormatUint(seed, 10), "rapid.checks": strconv.Itoa(maxChecks),
		"rapid.nofailfile": "true", "rapid.steps": "30",
	} {
		if f := flag.Lookup(name); f != nil {
			if err := f.Value.Set(v); err != nil {
				return Detection{}, err
			}
		}
	}
	var d Detection
	c0 := cpuSeconds()
	tb := &baselineTB{}
	rapid.Check(tb, func(rt2 *rapid.T) {
		if d.Found {
			return // rapid is shrinking a found case: not counted
		}
		d.Runs++
		sig := rt.rapidCase(rt2, &d)
		if sig != "" && match(sig) {
			d.Found, d.Sig = true, sig
			d.CPUSec = cpuSeconds() - c0
			rt2.Fatalf("%s", sig)
		}
	})
	if !d.Found {
		d.CPUSec = cpuSeconds() - c0
	}
	return d, nil
}

// rapidCase is one rapid test case; it returns the violation signature or "".
func (t *rsrTarget) rapidCase(rt *rapid.T, d *Detection) string {
	r := sim.NewRun(sim.Config{StepMillis: 10, MaxSteps: t.DefaultMaxSteps(), Knobs: t.Knobs(), NoRecord: true},
		rapidChooser{rt}, firstRunnable{})
	defer r.Recycle() // as Execute does for the strategies' runs
	w, ck := t.Prepare(r)
	wl := t.cfg.Workload
	if w.Setup(wl) != sim.StopIdle {
		return sigOf(r)
	}
	actions := map[string]func(*rapid.T){}
	for _, k := range model.ActionKnobs() {
		k := k
		if r.Knob(k) == 0 {
			continue
		}
		actions[model.Knobs[k].Name] = func(*rapid.T) {
			if r.Violation() != nil {
				return
			}
			w.RunToIdle("rapid action", func(c *sim.Ctx) { w.RunAction(c, k) })
		}
	}
	rt.Repeat(actions)
	if r.Violation() == nil {
		t.Quiesce(r, w, ck)
	}
	d.Steps += uint64(r.Steps())
	return sigOf(r)
}

func sigOf(r *sim.Run) string {
	if v := r.Violation(); v != nil {
		return v.Signature
	}
	return ""
}
