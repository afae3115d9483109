package sim

import "fmt"

// Strategy decides which runnable actor takes the next atomic step. Every
// random draw a strategy makes goes through r.Ch, so a recorded decision
// list replays a run under the same strategy exactly.
type Strategy interface {
	// Start is called once when the run is created (before any actor).
	Start(r *Run)
	// OnSpawn is called when an actor is created.
	OnSpawn(r *Run, a *Actor)
	// Pick returns an index into runnable (never empty).
	Pick(r *Run, runnable []*Actor) int
	// Name is the strategy's name as the CLI spells it.
	Name() string
}

// Uniform is a uniform random walk: each step, every runnable actor is
// equally likely to go next.
type Uniform struct{}

func (Uniform) Start(*Run)           {}
func (Uniform) OnSpawn(*Run, *Actor) {}
func (Uniform) Name() string         { return "uniform" }
func (Uniform) Pick(r *Run, runnable []*Actor) int {
	return r.Ch.Choose(KSched, len(runnable))
}

// PCT is probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi
// and Nagarakatte, ASPLOS 2010). Each actor gets a random priority when it
// is created; the highest-priority runnable actor always runs. At Depth-1
// change points, drawn uniformly over the first K steps, the running actor's
// priority drops below every initial priority. A bug of depth d among n
// actors and k steps is found with probability at least 1/(n*k^(d-1)).
type PCT struct {
	Depth int // bug depth d >= 1
	K     int // expected run length in steps (the range of change points)

	change []uint32 // change point step numbers, ascending
	idx    int
}

func (p *PCT) Name() string { return fmt.Sprintf("pct(d=%d)", p.Depth) }

// Start draws the change points.
func (p *PCT) Start(r *Run) {
	if p.Depth < 1 {
		p.Depth = 1
	}
	if p.K < 1 {
		p.K = 1000
	}
	p.change = p.change[:0]
	p.idx = 0
	for i := 1; i < p.Depth; i++ {
		p.change = append(p.change, uint32(1+r.Ch.Choose(KStrategy, p.K)))
	}
	// insertion sort: d is tiny
	for i := 1; i < len(p.change); i++ {
		for j := i; j > 0 && p.change[j] < p.change[j-1]; j-- {
			p.change[j], p.change[j-1] = p.change[j-1], p.change[j]
		}
	}
}

// OnSpawn gives a new actor a random priority above every change-point
// priority (which are 1..d-1).
func (p *PCT) OnSpawn(r *Run, a *Actor) {
	a.prio = int64(p.Depth) + 1 + int64(r.Ch.Choose(KStrategy, 1<<20))
}

// Pick runs the highest-priority runnable actor, applying a change point
// first if this step is one.
func (p *PCT) Pick(r *Run, runnable []*Actor) int {
	best := highest(runnable)
	step := r.steps + 1
	for p.idx < len(p.change) && p.change[p.idx] <= step {
		p.idx++
		runnable[best].prio = int64(p.idx) // i-th change point: priority i
		best = highest(runnable)
	}
	return best
}

func highest(rs []*Actor) int {
	best := 0
	for i := 1; i < len(rs); i++ {
		// ties go to the older actor, deterministically
		if rs[i].prio > rs[best].prio {
			best = i
		}
	}
	return best
}

// Swarm is swarm testing (Groce et al., ISSTA 2012), as FoundationDB and
// TigerBeetle's VOPR do it: each run first draws a profile that switches
// some knobs (action kinds, fault kinds) off and scales the rest, then
// schedules with Inner. Diversity across runs, not within one, finds the
// bugs that a fixed mix of actions hides.
type Swarm struct {
	Inner Strategy
}

func (s *Swarm) Name() string { return "swarm+" + s.Inner.Name() }

// Start draws the profile: each knob is off with probability 1/3, otherwise
// its default scaled by 1/4, 1, 2 or 4 (capped at 1000 for fault rates).
// At least one non-fault knob stays on.
func (s *Swarm) Start(r *Run) {
	anyOn := false
	for i, k := range r.Cfg.Knobs {
		v := k.Default
		if v == 0 {
			continue
		}
		switch r.Ch.Choose(KStrategy, 6) {
		case 0, 1:
			v = 0
		case 2:
			v = max(1, v/4)
		case 3:
		case 4:
			v *= 2
		case 5:
			v *= 4
		}
		if k.Fault && v > 1000 {
			v = 1000
		}
		r.knobs[i] = v
		if v > 0 && !k.Fault {
			anyOn = true
		}
	}
	if !anyOn {
		for i, k := range r.Cfg.Knobs {
			if !k.Fault && k.Default > 0 {
				r.knobs[i] = k.Default
				break
			}
		}
	}
	s.Inner.Start(r)
}

func (s *Swarm) OnSpawn(r *Run, a *Actor)           { s.Inner.OnSpawn(r, a) }
func (s *Swarm) Pick(r *Run, runnable []*Actor) int { return s.Inner.Pick(r, runnable) }

// Buggify is fault swarming in the manner of FoundationDB's BUGGIFY: each
// run leaves the workload's action mix alone and redraws only the fault
// knobs. Each fault is at its default rate with probability 1/2, off with
// probability 1/4, and hot with probability 1/4: eight times its default,
// at least 50 and at most 500 per mille. A run with one hot fault kind
// reaches the retries and unwinds that the default rates make rare, while
// the other runs keep the default mix that interleaving bugs need.
type Buggify struct {
	Inner Strategy
}

func (b *Buggify) Name() string { return "buggify+" + b.Inner.Name() }

// Start draws the fault rates, then starts Inner.
func (b *Buggify) Start(r *Run) {
	for i, k := range r.Cfg.Knobs {
		if !k.Fault || k.Default == 0 {
			continue
		}
		v := k.Default
		switch r.Ch.Choose(KStrategy, 4) {
		case 0:
			v = 0
		case 1:
			v = min(max(v*8, 50), 500)
		}
		r.knobs[i] = v
	}
	b.Inner.Start(r)
}

func (b *Buggify) OnSpawn(r *Run, a *Actor)           { b.Inner.OnSpawn(r, a) }
func (b *Buggify) Pick(r *Run, runnable []*Actor) int { return b.Inner.Pick(r, runnable) }

// SiteBuggify is BUGGIFY per fault site, as FoundationDB does it: each run
// enables a random subset of the model's fault sites (Enable per mille of
// them; a site is one fault kind at one node of one saga type) and raises
// their rate to Hot per mille, while every other site keeps Cold/1000 of its
// knob's rate. The action mix is left alone. Where Buggify makes one fault
// kind hot everywhere (a run full of crashes, whose noise ends many runs
// early on unrelated findings), this makes a few sites hot: one particular
// node crashes after its action every time it runs, while the rest of the
// run proceeds normally. It costs two decisions per run (the site salt).
type SiteBuggify struct {
	Inner             Strategy
	Enable, Hot, Cold int
}

func (b *SiteBuggify) Name() string { return "site-buggify+" + b.Inner.Name() }

// Start draws the salt that decides which sites are enabled, then starts
// Inner.
func (b *SiteBuggify) Start(r *Run) {
	salt := uint64(r.Ch.Choose(KStrategy, 1<<30))<<30 | uint64(r.Ch.Choose(KStrategy, 1<<30))
	r.SetSiteFaults(salt, b.Enable, b.Hot, b.Cold)
	b.Inner.Start(r)
}

func (b *SiteBuggify) OnSpawn(r *Run, a *Actor)           { b.Inner.OnSpawn(r, a) }
func (b *SiteBuggify) Pick(r *Run, runnable []*Actor) int { return b.Inner.Pick(r, runnable) }

// Run-shape knobs: a target that supports run shapes defines knobs with
// these names (default 0 = as the target configures the run). Shape and
// Portfolio set them by name, so they ignore a target without them.
const (
	ShapeTasksOnDemand = "shape-tasks-on-demand" // nonzero: background tasks run only when activated
	ShapeActionsX      = "shape-actions-x"       // >1: this many times the configured actions
	ShapeUniform       = "shape-uniform-actions" // nonzero: every enabled action kind equally likely
)

// KnobValue sets the knob named Name to Value.
type KnobValue struct {
	Name  string
	Value int
}

// Shape sets knobs for the whole run by name (a target without a knob of
// that name ignores it), then schedules with Inner.
type Shape struct {
	Set   []KnobValue
	Inner Strategy
}

func (s *Shape) Name() string { return "shape+" + s.Inner.Name() }

// Start sets the knobs, then starts Inner.
func (s *Shape) Start(r *Run) {
	for _, kv := range s.Set {
		for i, k := range r.Cfg.Knobs {
			if k.Name == kv.Name {
				r.knobs[i] = kv.Value
			}
		}
	}
	s.Inner.Start(r)
}

func (s *Shape) OnSpawn(r *Run, a *Actor)           { s.Inner.OnSpawn(r, a) }
func (s *Shape) Pick(r *Run, runnable []*Actor) int { return s.Inner.Pick(r, runnable) }

// TestStyle is the run shape of a hand-written test, as omicron's own tests
// and a rapid state machine drive the system: background tasks run only when
// an action activates them, every action kind is equally likely, and there
// are twice as many actions. Requests then wait for their task, so users
// get to delete what a request names before the task looks at it; and the
// rarer action kinds (a snapshot create in a profile weighted toward
// replacement) come up several times per run.
var TestStyle = []KnobValue{{ShapeTasksOnDemand, 1}, {ShapeUniform, 1}, {ShapeActionsX, 2}}

// Portfolio runs each run under one of its arms, drawn uniformly per run:
// swarm testing over whole run shapes rather than single knobs. Runs of
// different shapes find different bugs (interleavings with periodic tasks
// in one, sequences of whole actions in the other), and a mix pays at most
// the arms' count over the best arm for any one bug.
type Portfolio struct {
	Arms []Strategy
	cur  Strategy
}

func (p *Portfolio) Name() string {
	n := "portfolio("
	for i, a := range p.Arms {
		if i > 0 {
			n += ","
		}
		n += a.Name()
	}
	return n + ")"
}

// Start draws the arm, then starts it.
func (p *Portfolio) Start(r *Run) {
	p.cur = p.Arms[r.Ch.Choose(KStrategy, len(p.Arms))]
	p.cur.Start(r)
}

func (p *Portfolio) OnSpawn(r *Run, a *Actor)           { p.cur.OnSpawn(r, a) }
func (p *Portfolio) Pick(r *Run, runnable []*Actor) int { return p.cur.Pick(r, runnable) }

// NewStrategy builds a strategy by its CLI name: "uniform", "pct", or
// "swarm" (swarm profile over a uniform walk). depth and k configure PCT.
func NewStrategy(name string, depth, k int) (Strategy, error) {
	switch name {
	case "uniform", "random":
		return Uniform{}, nil
	case "pct":
		return &PCT{Depth: depth, K: k}, nil
	case "swarm":
		return &Swarm{Inner: Uniform{}}, nil
	case "swarm-pct":
		return &Swarm{Inner: &PCT{Depth: depth, K: k}}, nil
	case "buggify-pct":
		return &Buggify{Inner: &PCT{Depth: depth, K: k}}, nil
	case "site-buggify-pct":
		return &SiteBuggify{Inner: &PCT{Depth: depth, K: k}, Enable: 250, Hot: 250, Cold: 1000}, nil
	case "test-style-pct":
		return testStylePCT(depth, k), nil
	case "portfolio-pct":
		return &Portfolio{Arms: []Strategy{&Buggify{Inner: &PCT{Depth: depth, K: k}}, testStylePCT(depth, k)}}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q (want uniform, pct, swarm, swarm-pct, buggify-pct, site-buggify-pct, test-style-pct or portfolio-pct)", name)
}

// testStylePCT is buggify-pct in the test-style run shape: the strategy
// test-style-pct, and the second arm of portfolio-pct.
func testStylePCT(depth, k int) Strategy {
	return &Shape{Set: TestStyle, Inner: &Buggify{Inner: &PCT{Depth: depth, K: k}}}
}

// StrategyNames lists the names NewStrategy accepts.
var StrategyNames = []string{"uniform", "pct", "swarm", "swarm-pct", "buggify-pct", "site-buggify-pct", "test-style-pct", "portfolio-pct"}
