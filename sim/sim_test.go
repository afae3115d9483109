package sim

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

var (
	opRead  = RegisterOp("toy read")
	opWrite = RegisterOp("toy write")
	opTick  = RegisterOp("toy tick")
	outLost = RegisterOutcome("toy lost-update")
)

// toyWorld is a small program exercising every engine feature: spawns,
// joins, timers, crashes with restart, fault draws and row choices.
type toyWorld struct {
	counter int
	done    int
	log     []int
}

const (
	knobFault = iota
)

func toyConfig() Config {
	return Config{StepMillis: 5, MaxSteps: 5000, KeepTrace: true,
		Knobs: []Knob{{Name: "toy-fault", Default: 50, Fault: true}}}
}

func runToy(t testing.TB, src Chooser, strat Strategy) *Run {
	w := &toyWorld{}
	r := NewRun(toyConfig(), src, strat)
	var incr func(name string) Body
	incr = func(name string) Body {
		return func(c *Ctx) {
			for i := 0; i < 3; i++ {
				c.Step(opRead)
				v := w.counter
				c.Result(OutOK, uint32(v), 0)
				c.Step(opWrite)
				if c.Fault(knobFault) {
					c.Result(outLost, 0, 0)
					continue
				}
				w.counter = v + 1
				w.log = append(w.log, c.Choose(KRow, 3))
			}
		}
	}
	r.Spawn(KindTest, "parent", func(c *Ctx) {
		kids := make([]*Actor, 0, 3)
		for i := 0; i < 3; i++ {
			kids = append(kids, c.Spawn(KindNode, fmt.Sprintf("kid%d", i), incr("kid")))
		}
		c.Wait(kids...)
		c.Step(opTick)
		w.done++
	})
	crashy := r.Spawn(KindTest, "crashy", incr("crashy"))
	crashy.CrashPermille = 100
	var restart func(r *Run, a *Actor)
	restart = func(r *Run, a *Actor) {
		if w.done > 3 {
			return
		}
		w.done++
		b := r.Spawn(KindTest, "crashy-again", incr("crashy"))
		b.CrashPermille = 100
		b.OnCrash = restart
	}
	crashy.OnCrash = restart
	// a periodic timer, three times
	var tick func(r *Run)
	n := 0
	tick = func(r *Run) {
		n++
		r.Spawn(KindTask, "tick", func(c *Ctx) { c.Step(opTick); w.counter += 100 })
		if n < 3 {
			r.At(r.Now()+20, tick)
		}
	}
	r.At(0, tick)
	reason := r.Loop(nil)
	if reason != StopIdle {
		t.Fatalf("toy run stopped with %v (%s)", reason, r.PanicMessage())
	}
	return r
}

func TestSameSeedSameHash(t *testing.T) {
	for _, procs := range []int{1, 8} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			old := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(old)
			// Run 1000 seeds twice, the second pass from several goroutines
			// at once, and require identical hashes.
			const seeds = 1000
			first := make([]uint64, seeds)
			for s := range seeds {
				r := runToy(t, NewPRNG(uint64(s)), Uniform{})
				first[s] = r.Hash()
			}
			onWorkers(t, seeds, func(s int) []string {
				if h := runToy(t, NewPRNG(uint64(s)), Uniform{}).Hash(); h != first[s] {
					return []string{fmt.Sprintf("seed %d: %x != %x", s, h, first[s])}
				}
				return nil
			})
			distinct := map[uint64]bool{}
			for _, h := range first {
				distinct[h] = true
			}
			if len(distinct) < seeds/2 {
				t.Errorf("only %d distinct hashes over %d seeds: the seed barely matters", len(distinct), seeds)
			}
		})
	}
}

func TestReplayReproducesHash(t *testing.T) {
	for _, name := range StrategyNames {
		for s := range 200 {
			st, _ := NewStrategy(name, 3, 200)
			r := runToy(t, NewPRNG(uint64(s)), st)
			st2, _ := NewStrategy(name, 3, 200)
			rp := NewReplay(r.Decisions())
			r2 := runToy(t, rp, st2)
			if r2.Hash() != r.Hash() {
				t.Fatalf("%s seed %d: replay hash %x != %x", name, s, r2.Hash(), r.Hash())
			}
			if d := rp.Diverged(); d >= 0 {
				t.Fatalf("%s seed %d: replay diverged at decision %d", name, s, d)
			}
			if rp.Consumed() != len(r.Decisions()) {
				t.Fatalf("%s seed %d: replay consumed %d of %d decisions", name, s, rp.Consumed(), len(r.Decisions()))
			}
		}
	}
}

func TestBytesChooserDeterministicAndTotal(t *testing.T) {
	inputs := [][]byte{nil, {0}, {255, 255, 255}, []byte("some fuzzer bytes of moderate length 0123456789")}
	for _, in := range inputs {
		a := runToy(t, NewBytes(in), Uniform{})
		b := runToy(t, NewBytes(in), Uniform{})
		if a.Hash() != b.Hash() {
			t.Fatalf("bytes %q: hashes differ", in)
		}
		// The recorded list replays the byte-driven run too.
		c := runToy(t, NewReplay(a.Decisions()), Uniform{})
		if c.Hash() != a.Hash() {
			t.Fatalf("bytes %q: replay of recorded list differs", in)
		}
	}
}

func TestReplayPastEndIsDeterministicDefault(t *testing.T) {
	r := runToy(t, NewPRNG(7), Uniform{})
	d := r.Decisions()
	short := d[:len(d)/2]
	a := runToy(t, NewReplay(short), Uniform{})
	b := runToy(t, NewReplay(short), Uniform{})
	if a.Hash() != b.Hash() {
		t.Fatal("a truncated list must replay the same way every time")
	}
}

func TestKilledActorReleasesJoiners(t *testing.T) {
	r := NewRun(Config{}, NewPRNG(1), Uniform{})
	var child *Actor
	joined := false
	r.Spawn(KindTest, "parent", func(c *Ctx) {
		child = c.Spawn(KindNode, "child", func(c *Ctx) {
			for {
				c.Step(opTick)
			}
		})
		c.Wait(child)
		c.Step(opTick)
		joined = true
	})
	n := 0
	reason := r.Loop(func(r *Run) bool { n++; return n == 10 })
	if reason != StopUntil {
		t.Fatalf("got %v", reason)
	}
	r.Kill(child)
	if r.Loop(nil) != StopIdle || !joined {
		t.Fatal("parent did not resume after its child was killed")
	}
	if !child.Killed || !child.Done() {
		t.Fatal("child not marked killed")
	}
}

func TestModelPanicIsReportedNotPropagated(t *testing.T) {
	r := NewRun(Config{}, NewPRNG(1), Uniform{})
	r.Spawn(KindTest, "bad", func(c *Ctx) {
		c.Step(opTick)
		var m map[int]int
		m[1] = 1
	})
	if got := r.Loop(nil); got != StopPanic || r.PanicMessage() == "" {
		t.Fatalf("got %v", got)
	}
}

func TestViolationStopsRun(t *testing.T) {
	r := NewRun(Config{}, NewPRNG(1), Uniform{})
	x := 0
	r.Spawn(KindTest, "inc", func(c *Ctx) {
		for {
			c.Step(opWrite)
			x++
		}
	})
	r.AfterStep = func(r *Run, e *Entry) *Violation {
		if x == 5 {
			return &Violation{Oracle: "x-below-5", Signature: "x-below-5", Detail: "x reached 5"}
		}
		return nil
	}
	if r.Loop(nil) != StopViolation || r.Violation().Step != 5 {
		t.Fatalf("want violation at step 5, got %+v", r.Violation())
	}
	r.Close()
}

func TestChanceZeroDrawsNothing(t *testing.T) {
	rec := &Recorder{Src: NewPRNG(1)}
	for range 100 {
		if Chance(rec, KFault, 0) {
			t.Fatal("chance 0 said yes")
		}
	}
	if len(rec.Log) != 0 {
		t.Fatal("a disabled fault must not draw")
	}
	// An exhausted byte string means "no fault".
	if Chance(NewBytes(nil), KFault, 999) {
		t.Fatal("exhausted bytes must mean no")
	}
}

func TestTimersOrderAndTimeJump(t *testing.T) {
	r := NewRun(Config{StepMillis: 1}, NewPRNG(1), Uniform{})
	var order []int64
	r.At(100, func(r *Run) { order = append(order, r.Now()) })
	r.At(50, func(r *Run) { order = append(order, r.Now()) })
	r.At(50, func(r *Run) { order = append(order, -r.Now()) })
	if r.Loop(nil) != StopIdle {
		t.Fatal("not idle")
	}
	if fmt.Sprint(order) != "[50 -50 100]" {
		t.Fatalf("timer order %v", order)
	}
}

// TestIdleCoroutinesReusedAcrossRuns: a closed run hands its parked
// coroutines to the process-wide free list, the next run takes them, and
// the reuse changes nothing a run can observe (the hash). The list is
// bounded: workers beyond the bound are stopped, not kept.
func TestIdleCoroutinesReusedAcrossRuns(t *testing.T) {
	first := runToy(t, NewPRNG(7), Uniform{})
	h := first.Hash()
	first.Close()
	idle.mu.Lock()
	parked := len(idle.ws)
	idle.mu.Unlock()
	if parked == 0 {
		t.Fatal("a closed run parked no coroutines for reuse")
	}
	for i := 0; i < 3; i++ {
		r := runToy(t, NewPRNG(7), Uniform{})
		if r.Hash() != h {
			t.Fatalf("run %d on reused coroutines: hash %x, want %x", i, r.Hash(), h)
		}
		if i == 0 {
			idle.mu.Lock()
			left := len(idle.ws)
			idle.mu.Unlock()
			if left >= parked {
				t.Fatalf("the next run took no parked coroutine (%d parked before, %d after)", parked, left)
			}
		}
		r.Close()
	}

	extra := make([]*worker, idleMax+5)
	for i := range extra {
		extra[i] = newWorker()
	}
	idle.put(extra)
	idle.mu.Lock()
	n := len(idle.ws)
	idle.mu.Unlock()
	if n != idleMax {
		t.Fatalf("free list holds %d workers, want the bound %d", n, idleMax)
	}
	if _, ok := extra[len(extra)-1].next(); ok {
		t.Fatal("a worker beyond the bound was not stopped")
	}
}

// TestBuggifyRedrawsOnlyFaults checks the buggify profile: action knobs
// keep their defaults; each fault knob is off, at its default or hot
// (8x, within [50, 500] per mille), each outcome seen, in roughly the
// 1/4 : 1/2 : 1/4 proportions.
func TestBuggifyRedrawsOnlyFaults(t *testing.T) {
	knobs := []Knob{{Name: "act", Default: 30}, {Name: "crash", Default: 10, Fault: true},
		{Name: "notify", Default: 100, Fault: true}, {Name: "never", Default: 0, Fault: true}}
	hot := []int{0, 80, 500, 0}
	const seeds = 800
	counts := map[[2]int]int{}
	for s := range seeds {
		r := NewRun(Config{Knobs: knobs}, NewPRNG(uint64(s)), &Buggify{Inner: Uniform{}})
		if r.Knob(0) != 30 || r.Knob(3) != 0 {
			t.Fatalf("seed %d: buggify changed a non-fault or disabled knob: %d, %d", s, r.Knob(0), r.Knob(3))
		}
		for i := 1; i <= 2; i++ {
			switch v := r.Knob(i); v {
			case 0:
				counts[[2]int{i, 0}]++
			case knobs[i].Default:
				counts[[2]int{i, 1}]++
			case hot[i]:
				counts[[2]int{i, 2}]++
			default:
				t.Fatalf("seed %d: knob %s = %d, want 0, %d or %d", s, knobs[i].Name, v, knobs[i].Default, hot[i])
			}
		}
	}
	for i := 1; i <= 2; i++ {
		off, def, h := counts[[2]int{i, 0}], counts[[2]int{i, 1}], counts[[2]int{i, 2}]
		if off < seeds/8 || h < seeds/8 || def < seeds/3 {
			t.Errorf("knob %s: off %d, default %d, hot %d of %d runs", knobs[i].Name, off, def, h, seeds)
		}
	}
}

// TestKillUnwindsAndReusesCoroutine: a killed actor's body unwinds (its
// deferred calls run, nothing after its Step does) and its coroutine goes
// back to the run's pool, so the next spawn reuses it instead of starting a
// goroutine. A body that tries to Step while unwinding is stopped again
// rather than suspended.
func TestKillUnwindsAndReusesCoroutine(t *testing.T) {
	r := NewRun(Config{}, NewPRNG(1), Uniform{})
	deferred, after, stepInDefer := false, false, false
	victim := r.Spawn(KindNode, "victim", func(c *Ctx) {
		defer func() {
			deferred = true
			defer func() { stepInDefer = recover() != nil }()
			c.Step(opTick) // while unwinding: must panic, not suspend
		}()
		c.Step(opTick)
		after = true
	})
	w := victim.w
	pooled := len(r.pool)
	r.Kill(victim)
	if !deferred || after || !stepInDefer {
		t.Fatalf("unwinding: deferred %v, code after the Step ran %v, Step in a deferred call panicked %v", deferred, after, stepInDefer)
	}
	if len(r.pool) != pooled+1 || r.pool[len(r.pool)-1] != w {
		t.Fatalf("the killed actor's coroutine was not pooled (pool %d -> %d)", pooled, len(r.pool))
	}
	ran := false
	next := r.Spawn(KindNode, "next", func(c *Ctx) {
		c.Step(opTick)
		ran = true
	})
	if next.w != w {
		t.Fatal("the next spawn did not reuse the pooled coroutine")
	}
	if r.Loop(nil) != StopIdle || !ran {
		t.Fatal("the reused coroutine did not run its new body")
	}
	r.Close()
}

// TestRecycleReusesZeroedSlabs: a recycled run's actor slabs come back
// zeroed to later runs, concurrent runs that recycle give the hashes of
// fresh runs, and a recycled run lists no actors.
func TestRecycleReusesZeroedSlabs(t *testing.T) {
	const seeds = 200
	fresh := make([]uint64, seeds)
	for s := range seeds {
		fresh[s] = runToy(t, NewPRNG(uint64(s)), &PCT{Depth: 3, K: 200}).Hash()
	}
	onWorkers(t, seeds, func(s int) []string {
		var errs []string
		r := runToy(t, NewPRNG(uint64(s)), &PCT{Depth: 3, K: 200})
		h := r.Hash()
		r.Recycle()
		if h != fresh[s] {
			errs = append(errs, fmt.Sprintf("seed %d: %x != %x", s, h, fresh[s]))
		}
		if len(r.Actors()) != 0 {
			errs = append(errs, fmt.Sprintf("seed %d: a recycled run lists %d actors", s, len(r.Actors())))
		}
		return errs
	})
	slabs.mu.Lock()
	n := len(slabs.free)
	for _, s := range slabs.free {
		for _, a := range s[:cap(s)] {
			if a.r != nil || a.w != nil || a.ID != 0 {
				t.Fatalf("a recycled slab keeps actor %d", a.ID)
			}
		}
	}
	slabs.mu.Unlock()
	if n == 0 {
		t.Fatal("no slab was recycled: the check is vacuous")
	}
}

// onWorkers runs check for seeds 0..n-1 on four goroutines at once and
// reports what it returns as test errors.
func onWorkers(t *testing.T, n int, check func(seed int) []string) {
	var wg sync.WaitGroup
	errs := make(chan []string, n)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w; s < n; s += 4 {
				if e := check(s); len(e) > 0 {
					errs <- e
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for es := range errs {
		for _, e := range es {
			t.Error(e)
		}
	}
}
