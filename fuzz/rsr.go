package fuzz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/oxide-sim/rsrsim/invariants"
	"github.com/oxide-sim/rsrsim/model"
	"github.com/oxide-sim/rsrsim/sim"
)

// RSRConfig configures the "rsr" target: omicron's region snapshot
// replacement machinery at 09b150f177.
type RSRConfig struct {
	// Bugs are pre-fix switches to turn on (spec 40 ids).
	Bugs     []string             `json:"bugs,omitempty"`
	Workload model.WorkloadConfig `json:"workload"`
	Options  model.Options        `json:"options"`
	// DisableOracles turns named oracles off (explicit, recorded here).
	DisableOracles []string `json:"disable_oracles,omitempty"`
	// NoDeleteAll skips the final delete-everything phase.
	NoDeleteAll bool `json:"no_delete_all,omitempty"`
	// Knobs overrides knob defaults by name (action weights, fault rates).
	Knobs map[string]int `json:"knobs,omitempty"`
	// FullChecks checks state invariants after every step, read-only
	// steps included (a debug mode: results must be identical, only slower).
	FullChecks bool `json:"full_checks,omitempty"`
}

// DefaultRSRConfig is the default target configuration.
func DefaultRSRConfig() RSRConfig {
	return RSRConfig{Workload: model.DefaultWorkload()}
}

type rsrTarget struct {
	cfg      RSRConfig
	sw       model.Switches
	knobs    []sim.Knob
	disabled map[string]bool
}

func init() {
	RegisterTarget("rsr", func(raw json.RawMessage) (Target, error) {
		cfg := DefaultRSRConfig()
		if len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cfg); err != nil {
				return nil, fmt.Errorf("rsr target config: %v", err)
			}
		}
		return NewRSRTarget(cfg)
	})
}

// NewRSRTarget validates cfg and builds the target.
func NewRSRTarget(cfg RSRConfig) (Target, error) {
	sw, err := model.SwitchesFor(cfg.Bugs)
	if err != nil {
		return nil, err
	}
	t := &rsrTarget{cfg: cfg, sw: sw}
	t.knobs = append([]sim.Knob(nil), model.Knobs...)
	// In name order, so that of several bad knobs the error names the
	// same one every time.
	for _, name := range slices.Sorted(maps.Keys(cfg.Knobs)) {
		v := cfg.Knobs[name]
		found := false
		for i := range t.knobs {
			if t.knobs[i].Name == name {
				t.knobs[i].Default = v
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("rsr target config: unknown knob %q", name)
		}
		if v < 0 {
			return nil, fmt.Errorf("rsr target config: knob %q must not be negative", name)
		}
	}
	for _, o := range cfg.DisableOracles {
		if _, ok := invariants.Lookup(o); !ok {
			return nil, fmt.Errorf("rsr target config: unknown oracle %q (see 'rsrsim list invariants')", o)
		}
		if t.disabled == nil {
			t.disabled = map[string]bool{}
		}
		t.disabled[o] = true
	}
	wl := cfg.Workload
	if wl.Topology.Sleds < 1 || wl.Actions < 0 || wl.DrainPasses < 1 || wl.TaskPeriodMillis < 0 {
		return nil, fmt.Errorf("rsr target config: workload needs at least one sled, drain_passes >= 1, and no negative counts")
	}
	return t, nil
}

func (t *rsrTarget) Name() string         { return "rsr" }
func (t *rsrTarget) Knobs() []sim.Knob    { return t.knobs }
func (t *rsrTarget) DefaultMaxSteps() int { return 50000 }
func (t *rsrTarget) Config() json.RawMessage {
	b, _ := json.Marshal(t.cfg)
	return b
}

// Bugs lists the pre-fix switches for `rsrsim list bugs`.
func (t *rsrTarget) Bugs() [][2]string {
	var rows [][2]string
	for _, b := range model.Bugs {
		rows = append(rows, [2]string{b.Name, b.Meaning + " (oracle: " + b.Oracle + ")"})
	}
	return rows
}

// Invariants lists the oracles for `rsrsim list invariants`.
func (t *rsrTarget) Invariants() [][2]string {
	var rows [][2]string
	for _, o := range invariants.Catalogue {
		rows = append(rows, [2]string{o.Name, "[" + o.Kind.String() + "] " + o.Meaning})
	}
	return rows
}

// Execute runs one run: setup, the main phase (workload driver, periodic
// tasks on two Nexus instances, faults), then quiescence (drain and
// liveness checks), then delete everything, drain again and check that
// nothing is left.
func (t *rsrTarget) Execute(r *sim.Run) { t.execute(r) }

func (t *rsrTarget) execute(r *sim.Run) (*model.World, *invariants.Checker) {
	w, ck := t.Prepare(r)
	t.drive(r, w, ck)
	return w, ck
}

// drive runs the phases of a run on a prepared world.
func (t *rsrTarget) drive(r *sim.Run, w *model.World, ck *invariants.Checker) {
	wl := t.cfg.Workload
	if w.Setup(wl) != sim.StopIdle {
		return
	}
	period := wl.TaskPeriodMillis
	if r.Knob(model.KnobShapeTasksOnDemand) > 0 {
		period = 0 // tasks run only when an action activates them (as omicron's tests drive them)
	}
	for k := range w.Tasks.Period {
		w.Tasks.Period[k] = period
	}
	w.StartTimers()
	driver := w.SpawnDriver(r, wl)
	if r.Loop(func(r *sim.Run) bool { return driver.Done() && w.ActionsDone() }) != sim.StopUntil {
		return
	}
	t.Quiesce(r, w, ck)
}

// ReplayWorld replays a run of the rsr target from a decision list and
// returns the world as the run left it, for inspection and for tests that
// assert end states.
func ReplayWorld(t Target, eng EngineConfig, src sim.Chooser) (*model.World, *Result, error) {
	rt, ok := t.(*rsrTarget)
	if !ok {
		return nil, nil, fmt.Errorf("target %s has no world to inspect", t.Name())
	}
	var w *model.World
	res, err := Execute(&worldCapture{rt, &w}, eng, src, RunOptions{KeepTrace: true, KeepRun: true})
	return w, res, err
}

type worldCapture struct {
	*rsrTarget
	w **model.World
}

func (c *worldCapture) Execute(r *sim.Run) { *c.w, _ = c.execute(r) }

// Prepare builds the world and installs the oracles.
func (t *rsrTarget) Prepare(r *sim.Run) (*model.World, *invariants.Checker) {
	w := model.NewWorld(model.Config{Switches: t.sw, Options: t.cfg.Options}, r)
	ck := invariants.NewChecker(w)
	ck.Disabled = t.disabled
	ck.Full = t.cfg.FullChecks
	r.AfterStep = ck.AfterStep
	return w, ck
}

// Quiesce stops users, faults and timers; drains; checks liveness; then
// deletes every user object, drains again and checks cleanliness.
func (t *rsrTarget) Quiesce(r *sim.Run, w *model.World, ck *invariants.Checker) {
	wl := t.cfg.Workload
	w.FaultsOff()
	w.StopTimers()
	r.Spawn(sim.KindEnv, "quiescence", func(c *sim.Ctx) {
		w.WaitActivations(c)
		w.WaitSagas(c)
		d := w.Drain(c, wl.DrainPasses)
		if v := ck.CheckQuiescence(invariants.DrainOutcome{Converged: d.Converged, Passes: d.Passes, Statuses: d.LastStatuses}); v != nil {
			r.Report(v)
			return
		}
		if t.cfg.NoDeleteAll {
			return
		}
		w.DeleteAll(c)
		w.WaitSagas(c)
		d = w.Drain(c, wl.DrainPasses)
		if v := ck.CheckQuiescence(invariants.DrainOutcome{Converged: d.Converged, Passes: d.Passes, Statuses: d.LastStatuses}); v != nil {
			r.Report(v)
			return
		}
		if v := ck.CheckEmpty(); v != nil {
			r.Report(v)
		}
	})
	r.Loop(nil)
}

// Profiles are named target configurations. A profile is resolved into a
// full RSRConfig when a campaign starts, so failure files record the
// resolved configuration, never a profile name.
var rsrProfiles = map[string]func() RSRConfig{
	// default: the default rack (non-uniform, real Crucible agent).
	"default": DefaultRSRConfig,
	// rsr-focus drives region snapshot replacement through its whole flow
	// as omicron's own tests do: the simulated agent (a clone from an
	// expunged source succeeds, spec 50 §3.4), ports drawn so that one
	// port's text can prefix another's (spec 40 #9 needs it), one disk per
	// sled (so the
	// region-set finding F1 cannot end runs early), more users of the
	// snapshot, and weights toward deletes, clones, replacement requests
	// and task activations.
	"rsr-focus": func() RSRConfig {
		c := DefaultRSRConfig()
		c.Options.SimulatedAgent = true
		c.Options.PortPrefixAliasing = true
		c.Workload.Topology = model.TopologySpec{Sleds: 5}
		c.Workload.SetupDisksFromSnaps = 2
		c.Workload.Actions = 16
		c.Knobs = map[string]int{
			"act-disk-create-blank":         5,
			"act-disk-create-from-snapshot": 30,
			"act-disk-create-from-image":    10,
			"act-disk-delete":               30,
			"act-snapshot-create":           5,
			"act-snapshot-delete":           30,
			"act-image-create":              10,
			"act-image-delete":              5,
			"act-expunge-disk":              15,
			"act-manual-rsr-request":        25,
			"act-manual-rr-request":         0,
			"act-remove-read-only-parent":   2,
			"act-activate-task":             90,
			"act-instance-attach-detach":    5,
		}
		return c
	},
}

// RSRProfileNames lists the profiles.
func RSRProfileNames() []string { return []string{"default", "rsr-focus"} }

// RSRProfile returns the configuration of profile name as JSON.
func RSRProfile(name string) (json.RawMessage, error) {
	cfg, err := RSRProfileConfig(name)
	if err != nil {
		return nil, err
	}
	return json.Marshal(cfg)
}

// RSRProfileConfig returns the configuration of profile name.
func RSRProfileConfig(name string) (RSRConfig, error) {
	f, ok := rsrProfiles[name]
	if !ok {
		return RSRConfig{}, fmt.Errorf("unknown profile %q (known: %v)", name, RSRProfileNames())
	}
	return f(), nil
}
