package sim

import (
	"fmt"
	"math/rand/v2"
)

// Kind classifies a nondeterministic decision. Every decision a run makes
// goes through a Chooser with one of these kinds, and is recorded in the
// run's decision list with its kind, so that a list is readable and a replay
// can report where it diverged.
type Kind uint8

const (
	KSched    Kind = iota // which runnable actor goes next
	KRow                  // which row a "first row" query returns
	KFault                // whether (and which) fault hits here
	KAlloc                // which candidate an allocation picks
	KAction               // which user or environment action comes next
	KStrategy             // a strategy's own draws (PCT priorities, swarm profile)
	KValue                // any other model-level value (argument picks)
	numKinds
)

var kindNames = [numKinds]string{"sched", "row", "fault", "alloc", "action", "strategy", "value"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown decision kind %q", s)
}

// Chooser is the single source of nondeterminism of a run. Choose returns a
// value in [0, n). n must be >= 1; with n == 1 the answer is always 0 and
// implementations may skip recording it.
type Chooser interface {
	Choose(k Kind, n int) int
}

// Decision is one recorded choice: its kind, the range it was drawn from and
// the value drawn.
type Decision struct {
	Kind Kind
	N    uint32
	V    uint32
}

// PRNG draws choices uniformly from a seeded PCG generator. It never touches
// the global math/rand state.
type PRNG struct {
	r *rand.Rand
}

// NewPRNG returns a PRNG chooser for seed. Two PRNGs with the same seed give
// the same sequence on every machine.
func NewPRNG(seed uint64) *PRNG {
	return &PRNG{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Choose implements Chooser.
func (p *PRNG) Choose(_ Kind, n int) int {
	if n <= 1 {
		return 0
	}
	return p.r.IntN(n)
}

// Bytes consumes a byte string as choices, the way a coverage-guided fuzzer
// drives a run: a range of up to 256 takes one byte, a larger range takes
// two or four bytes (little endian), reduced modulo n. When the bytes run
// out every further choice is 0, a deterministic default that favours the
// first runnable actor and no faults.
type Bytes struct {
	b   []byte
	pos int
}

// NewBytes returns a chooser reading b.
func NewBytes(b []byte) *Bytes { return &Bytes{b: b} }

// Exhausted reports whether every byte has been consumed.
func (c *Bytes) Exhausted() bool { return c.pos >= len(c.b) }

// Choose implements Chooser.
func (c *Bytes) Choose(_ Kind, n int) int {
	if n <= 1 {
		return 0
	}
	var v uint32
	switch {
	case n <= 1<<8:
		if c.pos >= len(c.b) {
			return 0
		}
		v = uint32(c.b[c.pos])
		c.pos++
	case n <= 1<<16:
		if c.pos+2 > len(c.b) {
			c.pos = len(c.b)
			return 0
		}
		v = uint32(c.b[c.pos]) | uint32(c.b[c.pos+1])<<8
		c.pos += 2
	default:
		if c.pos+4 > len(c.b) {
			c.pos = len(c.b)
			return 0
		}
		v = uint32(c.b[c.pos]) | uint32(c.b[c.pos+1])<<8 | uint32(c.b[c.pos+2])<<16 | uint32(c.b[c.pos+3])<<24
		c.pos += 4
	}
	return int(v % uint32(n))
}

// Replay returns the values of a recorded decision list in order. A value
// out of range (the list was edited by the shrinker, or the code changed) is
// reduced modulo n; past the end of the list every choice is 0. Diverged
// reports the first position where the kind or range asked for differs from
// the recorded one, which for an unedited list means the model changed.
type Replay struct {
	d        []Decision
	pos      int
	diverged int // -1 while in step
}

// NewReplay returns a chooser replaying d.
func NewReplay(d []Decision) *Replay { return &Replay{d: d, diverged: -1} }

// Choose implements Chooser.
func (r *Replay) Choose(k Kind, n int) int {
	if n <= 1 {
		return 0
	}
	if r.pos >= len(r.d) {
		if r.diverged < 0 && r.pos == len(r.d) {
			r.diverged = r.pos
		}
		r.pos++
		return 0
	}
	d := r.d[r.pos]
	if r.diverged < 0 && (d.Kind != k || int(d.N) != n) {
		r.diverged = r.pos
	}
	r.pos++
	return int(d.V % uint32(n))
}

// Diverged returns the index of the first decision where the replay did not
// match the recording (or where it ran past its end), or -1.
func (r *Replay) Diverged() int { return r.diverged }

// Consumed returns how many decisions were asked for.
func (r *Replay) Consumed() int { return r.pos }

// Recorder wraps a Chooser and appends every decision with n > 1 to a list.
type Recorder struct {
	Src Chooser
	Log []Decision
	Off bool // when set, nothing is recorded (throughput mode)
}

// Choose implements Chooser.
func (r *Recorder) Choose(k Kind, n int) int {
	if n <= 1 {
		return 0
	}
	v := r.Src.Choose(k, n)
	if !r.Off {
		r.Log = append(r.Log, Decision{Kind: k, N: uint32(n), V: uint32(v)})
	}
	return v
}

// Chance draws a yes/no decision that is yes with probability permille/1000.
// With permille <= 0 nothing is drawn and the answer is no, so disabled
// faults leave no trace in the decision list.
func Chance(c Chooser, k Kind, permille int) bool {
	if permille <= 0 {
		return false
	}
	if permille >= 1000 {
		return true
	}
	// Draw "1000 - permille" as the threshold so that the 0 default of an
	// exhausted byte string or list means "no".
	return c.Choose(k, 1000) >= 1000-permille
}
