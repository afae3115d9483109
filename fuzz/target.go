// Package fuzz runs rsrsim campaigns: it builds runs of a target (the
// region snapshot replacement model, or the engine's toy program) from a
// seed, fuzzer bytes or a recorded decision list, runs many of them on
// several workers, groups violations by signature, and writes failure files
// that replay a run exactly. Its _test.go files hold the `go test -fuzz`
// targets.
package fuzz

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/oxide-sim/rsrsim/sim"
)

// Target is something rsrsim can run: it owns the model world and its
// oracles. Execute builds a fresh world inside r, runs it (r.Loop and any
// final phase), and leaves any violation in r.Violation or a model panic in
// r.PanicMessage. Execute must be safe to call from several goroutines at
// once on different runs.
type Target interface {
	Name() string
	// Knobs are the target's tunables (action weights, fault rates).
	Knobs() []sim.Knob
	// Config returns the target's configuration as JSON, for failure files.
	Config() json.RawMessage
	// Execute runs one run.
	Execute(r *sim.Run)
	// DefaultMaxSteps bounds a run when the engine config sets no bound.
	DefaultMaxSteps() int
}

// TargetFactory builds a target from its JSON configuration (nil means
// defaults). It returns a clear error for unknown fields or bad values.
type TargetFactory func(cfg json.RawMessage) (Target, error)

var targets = map[string]TargetFactory{}

// RegisterTarget makes a target available by name (call from init).
func RegisterTarget(name string, f TargetFactory) { targets[name] = f }

// NewTarget builds the target called name from cfg.
func NewTarget(name string, cfg json.RawMessage) (Target, error) {
	f, ok := targets[name]
	if !ok {
		return nil, fmt.Errorf("unknown target %q (known: %v)", name, TargetNames())
	}
	return f(cfg)
}

// TargetNames lists the registered targets, sorted.
func TargetNames() []string {
	var ns []string
	for n := range targets {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// EngineConfig is the engine side of a run's configuration.
type EngineConfig struct {
	Strategy   string `json:"strategy"`
	PCTDepth   int    `json:"pct_depth,omitempty"`
	PCTK       int    `json:"pct_k,omitempty"`
	MaxSteps   int    `json:"max_steps,omitempty"`
	StepMillis int64  `json:"step_millis,omitempty"`
}

// DefaultEngine is the engine configuration of a default campaign:
// portfolio-pct, the one strategy that detects every pre-fix switch faster
// than the hand-written rapid baseline, within the noise of the best
// geometric mean, and the one that reaches the most distinct violation
// signatures of the reference logic per run (BENCHMARKS.md).
func DefaultEngine() EngineConfig {
	return EngineConfig{Strategy: "portfolio-pct", PCTDepth: 3, PCTK: 2000, StepMillis: 10}
}

// engineDefaulter is implemented by a target whose default campaign engine
// differs from DefaultEngine.
type engineDefaulter interface{ DefaultEngine() EngineConfig }

// DefaultEngineFor is the engine configuration of a default campaign of
// target name: the target's own default if it has one, else DefaultEngine.
func DefaultEngineFor(name string) EngineConfig {
	if f, ok := targets[name]; ok {
		if t, err := f(nil); err == nil {
			if d, ok := t.(engineDefaulter); ok {
				return d.DefaultEngine()
			}
		}
	}
	return DefaultEngine()
}

// Validate checks the engine configuration.
func (e EngineConfig) Validate() error {
	if _, err := sim.NewStrategy(e.Strategy, e.PCTDepth, e.PCTK); err != nil {
		return err
	}
	if e.PCTDepth < 0 || e.PCTK < 0 || e.MaxSteps < 0 || e.StepMillis < 0 {
		return fmt.Errorf("engine settings must not be negative")
	}
	return nil
}

// Result is what one run produced.
type Result struct {
	Seed      uint64
	HasSeed   bool
	Hash      uint64
	Steps     uint32
	Decisions []sim.Decision
	Violation *sim.Violation // nil if the run passed
	Trace     []sim.Entry    // only when kept
	Run       *sim.Run       // the finished run (for trace views); nil in campaigns
}

// RunOptions says how to execute one run.
type RunOptions struct {
	KeepTrace bool
	NoRecord  bool
	KeepRun   bool
}

// Execute runs t once with choices from src.
func Execute(t Target, eng EngineConfig, src sim.Chooser, o RunOptions) (*Result, error) {
	st, err := sim.NewStrategy(eng.Strategy, eng.PCTDepth, eng.PCTK)
	if err != nil {
		return nil, err
	}
	max := eng.MaxSteps
	if max == 0 {
		max = t.DefaultMaxSteps()
	}
	r := sim.NewRun(sim.Config{StepMillis: eng.StepMillis, MaxSteps: max, Knobs: t.Knobs(),
		KeepTrace: o.KeepTrace, NoRecord: o.NoRecord}, src, st)
	t.Execute(r)
	r.Close()
	res := &Result{Hash: r.Hash(), Steps: r.Steps(), Decisions: r.Decisions(), Trace: r.Trace()}
	if v := r.Violation(); v != nil {
		res.Violation = v
	} else if msg := r.PanicMessage(); msg != "" {
		res.Violation = &sim.Violation{Oracle: "model-panic", Signature: "model-panic:" + firstLine(msg), Detail: msg, Step: r.Steps()}
	}
	if o.KeepRun {
		res.Run = r
	} else {
		r.Recycle() // the result holds no actor: later runs reuse their memory
	}
	return res, nil
}

// ExecuteSeed runs t from a seed.
func ExecuteSeed(t Target, eng EngineConfig, seed uint64, o RunOptions) (*Result, error) {
	res, err := Execute(t, eng, sim.NewPRNG(seed), o)
	if res != nil {
		res.Seed, res.HasSeed = seed, true
	}
	return res, err
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
