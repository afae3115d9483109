package sim

import (
	"iter"
	"testing"
)

// BenchmarkStep measures one scheduling decision plus one actor switch plus
// the trace-hash update: the engine's fixed cost per atomic step. Four
// actors loop forever; the run stops on its step budget.
func BenchmarkStep(b *testing.B) {
	for _, name := range []string{"uniform", "pct"} {
		b.Run(name, func(b *testing.B) {
			st, _ := NewStrategy(name, 3, 1000)
			r := NewRun(Config{NoRecord: true}, NewPRNG(1), st)
			for range 4 {
				r.Spawn(KindTest, "loop", func(c *Ctx) {
					for {
						c.Step(opTick)
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			r.Cfg.MaxSteps = b.N
			r.Loop(nil)
			b.StopTimer()
			r.Close()
		})
	}
}

// BenchmarkStepRecorded is BenchmarkStep with the decision list recorded,
// as every campaign run does.
func BenchmarkStepRecorded(b *testing.B) {
	r := NewRun(Config{}, NewPRNG(1), Uniform{})
	for range 4 {
		r.Spawn(KindTest, "loop", func(c *Ctx) {
			for {
				c.Step(opTick)
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	r.Cfg.MaxSteps = b.N
	r.Loop(nil)
	b.StopTimer()
	r.Close()
}

// BenchmarkSpawn measures creating an actor that takes one step and ends.
func BenchmarkSpawn(b *testing.B) {
	r := NewRun(Config{NoRecord: true}, NewPRNG(1), Uniform{})
	b.ReportAllocs()
	for b.Loop() {
		r.Spawn(KindTest, "one", func(c *Ctx) { c.Step(opTick) })
		r.Loop(nil)
	}
}

// The three actor mechanisms considered, measured as a raw switch between
// two actors (see docs/architecture.md).
func BenchmarkMechanismIterPull(b *testing.B) {
	mk := func() (func() (int, bool), func()) {
		return iter.Pull(func(yield func(int) bool) {
			for i := 0; ; i++ {
				if !yield(i) {
					return
				}
			}
		})
	}
	n1, s1 := mk()
	n2, s2 := mk()
	defer s1()
	defer s2()
	for i := 0; b.Loop(); i++ {
		if i&1 == 0 {
			n1()
		} else {
			n2()
		}
	}
}

func BenchmarkMechanismChannels(b *testing.B) {
	type act struct{ resume, done chan struct{} }
	mk := func() *act {
		a := &act{make(chan struct{}), make(chan struct{})}
		go func() {
			for range a.resume {
				a.done <- struct{}{}
			}
		}()
		return a
	}
	a1, a2 := mk(), mk()
	for i := 0; b.Loop(); i++ {
		a := a1
		if i&1 == 1 {
			a = a2
		}
		a.resume <- struct{}{}
		<-a.done
	}
	close(a1.resume)
	close(a2.resume)
}

type smActor struct{ pc, x int }

func (s *smActor) step() {
	if s.pc == 0 {
		s.x++
		s.pc = 1
	} else {
		s.x--
		s.pc = 0
	}
}

func BenchmarkMechanismStateMachine(b *testing.B) {
	acts := []*smActor{{}, {}}
	for i := 0; b.Loop(); i++ {
		acts[i&1].step()
	}
}
