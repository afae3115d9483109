package fuzz

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/oxide-sim/rsrsim/sim"
)

// ToyConfig configures the toy target: Workers actors each add 1 to a
// shared counter Incs times, reading and writing it in two separate atomic
// steps (a lost-update race). It is the engine's self-test target: it
// exercises spawning, scheduling, faults and the oracles' plumbing with
// nothing of the model in the way.
type ToyConfig struct {
	Workers int `json:"workers"`
	Incs    int `json:"incs"`
	// Atomic makes each increment one atomic step, which removes the race.
	Atomic bool `json:"atomic"`
}

var (
	toyRead  = sim.RegisterOp("toy read counter")
	toyWrite = sim.RegisterOp("toy write counter")
	toyIncr  = sim.RegisterOp("toy increment")
)

type toyTarget struct{ cfg ToyConfig }

func init() {
	RegisterTarget("toy", func(raw json.RawMessage) (Target, error) {
		cfg := ToyConfig{Workers: 3, Incs: 4}
		if len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cfg); err != nil {
				return nil, fmt.Errorf("toy target config: %v", err)
			}
		}
		if cfg.Workers < 1 || cfg.Incs < 1 {
			return nil, fmt.Errorf("toy target config: workers and incs must be at least 1")
		}
		return &toyTarget{cfg: cfg}, nil
	})
}

func (t *toyTarget) Name() string         { return "toy" }
func (t *toyTarget) Knobs() []sim.Knob    { return nil }
func (t *toyTarget) DefaultMaxSteps() int { return 10000 }

// DefaultEngine: a toy run is a few dozen steps, far below the PCT change
// point range of the rsr default, so its default campaign is a swarm
// profile over a uniform walk (which finds its lost update in a few runs).
func (t *toyTarget) DefaultEngine() EngineConfig { return swarmEngine() }
func (t *toyTarget) Config() json.RawMessage {
	b, _ := json.Marshal(t.cfg)
	return b
}

func (t *toyTarget) Execute(r *sim.Run) {
	counter := 0
	for w := 0; w < t.cfg.Workers; w++ {
		r.Spawn(sim.KindTest, fmt.Sprintf("worker %d", w+1), func(c *sim.Ctx) {
			for i := 0; i < t.cfg.Incs; i++ {
				if t.cfg.Atomic {
					c.Step(toyIncr)
					counter++
					c.Result(sim.OutOK, uint32(counter), 0)
					continue
				}
				c.Step(toyRead)
				v := counter
				c.Result(sim.OutOK, uint32(v), 0)
				c.Step(toyWrite)
				counter = v + 1
				c.Result(sim.OutOK, uint32(counter), 0)
			}
		})
	}
	if r.Loop(nil) != sim.StopIdle {
		return
	}
	if want := t.cfg.Workers * t.cfg.Incs; counter != want {
		r.Report(&sim.Violation{Oracle: "toy-lost-update", Signature: "toy-lost-update",
			Detail: fmt.Sprintf("counter is %d after %d increments: an update was lost", counter, want)})
	}
}
