package fuzz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/sim"
)

// This file connects rsrsim to Go's native fuzzing (`go test -fuzz`). A fuzz
// function hands its []byte input to sim.NewBytes, which becomes the run's
// single source of choices: scheduling, workload actions, faults, row and
// allocation picks and a swarm profile all come out of the same bytes, so
// the coverage-guided mutator explores all of them at once.
//
// A crasher that `go test -fuzz` writes under testdata/fuzz/<FuzzName>/ is
// a Go corpus file; ImportCorpus-style code (rsrsim import-fuzz) runs it
// with the decision list recorded and saves an ordinary failure file. The
// reverse, DecisionBytes, encodes a decision list as bytes that drive
// sim.NewBytes through the same decisions.

// NativeSpec ties one `go test -fuzz` function to the rsrsim target,
// target configuration and engine configuration it runs. rsrsim
// import-fuzz uses it to read a crasher under the same configuration the
// fuzz function used, from the crasher's directory name alone.
type NativeSpec struct {
	Fuzz   string          // the Go fuzz function, e.g. "FuzzToy"
	Target string          // the rsrsim target it runs
	Config json.RawMessage // the target configuration (nil = defaults)
	Engine EngineConfig
	// Findings marks a target with known violations (the toy's lost
	// update; the RSR model's bugs at 09b150f177). A plain `go test` runs
	// its seed corpus as a smoke test (a harness error, a model panic or,
	// for rsr, a signature that is no known finding's fails; a known
	// violation is logged), so that `go test ./...` stays green;
	// under `go test -fuzz` (or with RSRSIM_FUZZ_STRICT=1) a violation
	// fails, which is how the fuzzer reports a crasher.
	Findings bool
	Doc      string
}

// NativeEngine is the engine configuration of the native fuzz functions: a
// swarm profile over a uniform walk, so the first bytes choose the profile
// and every later byte is a scheduling, workload or fault decision. It is
// fixed (not the campaign default), so that corpora under testdata/fuzz
// keep driving the same runs.
func NativeEngine() EngineConfig { return swarmEngine() }

// swarmEngine is a swarm profile over a uniform walk with the default
// engine settings.
func swarmEngine() EngineConfig {
	return EngineConfig{Strategy: "swarm", PCTDepth: 3, PCTK: 2000, StepMillis: 10}
}

// NativeSpecs lists the fuzz functions of fuzz/fuzz_test.go.
func NativeSpecs() []NativeSpec {
	return []NativeSpec{
		{Fuzz: "FuzzToy", Target: "toy", Config: json.RawMessage(`{"atomic":true}`), Engine: NativeEngine(),
			Doc: "toy target with atomic increments: no input may produce a violation"},
		{Fuzz: "FuzzToyRace", Target: "toy", Config: json.RawMessage(`{"workers":3,"incs":4}`), Engine: NativeEngine(),
			Findings: true, Doc: "toy lost-update race: go test -fuzz finds it within a second"},
		{Fuzz: "FuzzRSR", Target: "rsr", Engine: NativeEngine(), Findings: true,
			Doc: "the region snapshot replacement model with its oracles"},
	}
}

// LookupNative returns the spec of the fuzz function called name.
func LookupNative(name string) (NativeSpec, bool) {
	for _, s := range NativeSpecs() {
		if s.Fuzz == name {
			return s, true
		}
	}
	return NativeSpec{}, false
}

// Build builds the spec's target.
func (s NativeSpec) Build() (Target, error) { return NewTarget(s.Target, s.Config) }

// MatchNative returns the fuzz function, if any, that runs target name
// with configuration cfg (as a failure file stores it) under eng, that is,
// whose corpus files reproduce such a run.
func MatchNative(name string, cfg json.RawMessage, eng EngineConfig) (NativeSpec, bool) {
	for _, s := range NativeSpecs() {
		if s.Target != name || s.Engine != eng {
			continue
		}
		t, err := s.Build()
		if err != nil {
			continue
		}
		if sameJSON(t.Config(), cfg) {
			return s, true
		}
	}
	return NativeSpec{}, false
}

func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// ExecuteBytes runs t once with every choice drawn from data through
// sim.NewBytes. Past the end of data every choice is 0, so any input,
// including an empty one, ends the run.
func ExecuteBytes(t Target, eng EngineConfig, data []byte, o RunOptions) (*Result, error) {
	return Execute(t, eng, sim.NewBytes(data), o)
}

// ByteWidth is how many bytes sim.Bytes consumes for a choice among n
// options: 1 for n <= 256, 2 for n <= 65536, else 4.
func ByteWidth(n uint32) int {
	switch {
	case n <= 1<<8:
		return 1
	case n <= 1<<16:
		return 2
	}
	return 4
}

// DecisionBytes encodes a decision list as fuzzer bytes: each value takes
// the width sim.Bytes reads for its range, little endian. Trailing zero
// decisions are left out, since an exhausted byte string answers 0. Run
// through sim.NewBytes, the result makes the same decisions as
// sim.NewReplay(ds) does, as long as the run asks for the recorded ranges
// (which it does for an unedited list from the same model).
func DecisionBytes(ds []sim.Decision) []byte {
	end := len(ds)
	for end > 0 && ds[end-1].V == 0 {
		end--
	}
	var out []byte
	for _, d := range ds[:end] {
		v := d.V
		if d.N > 1 {
			v %= d.N
		}
		switch ByteWidth(d.N) {
		case 1:
			out = append(out, byte(v))
		case 2:
			out = append(out, byte(v), byte(v>>8))
		default:
			out = append(out, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		}
	}
	return out
}

// CorpusHeader is the first line of a Go fuzz corpus file.
const CorpusHeader = "go test fuzz v1"

// MarshalCorpus renders data as a Go fuzz corpus file for a fuzz function
// taking one []byte, the format `go test -fuzz` reads and writes.
func MarshalCorpus(data []byte) []byte {
	return fmt.Appendf(nil, "%s\n[]byte(%q)\n", CorpusHeader, data)
}

// LoadCorpus reads a Go fuzz corpus file holding one []byte value.
func LoadCorpus(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return ParseCorpus(path, raw)
}

// ParseCorpus parses a Go fuzz corpus file holding exactly one []byte
// value. Every problem is one error naming the file.
func ParseCorpus(name string, raw []byte) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s: empty file, not a Go fuzz corpus file", name)
	}
	lines := strings.Split(string(raw), "\n")
	head := strings.TrimSuffix(lines[0], "\r")
	if head != CorpusHeader {
		if strings.HasPrefix(head, "go test fuzz ") {
			return nil, fmt.Errorf("%s: corpus encoding %q, this rsrsim reads %q", name, strings.TrimPrefix(head, "go test fuzz "), "v1")
		}
		return nil, fmt.Errorf("%s: not a Go fuzz corpus file (first line is not %q)", name, CorpusHeader)
	}
	var vals []string
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			vals = append(vals, l)
		}
	}
	switch len(vals) {
	case 0:
		return nil, fmt.Errorf("%s: corpus file holds no value (truncated?)", name)
	case 1:
	default:
		return nil, fmt.Errorf("%s: corpus file holds %d values, rsrsim fuzz functions take one []byte", name, len(vals))
	}
	data, err := parseBytesLiteral(vals[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return data, nil
}

// parseBytesLiteral parses `[]byte("...")` (an interpreted or raw string
// literal), the only value form rsrsim's fuzz functions use.
func parseBytesLiteral(line string) ([]byte, error) {
	short := line
	if len(short) > 40 {
		short = short[:40] + "..."
	}
	expr, err := parser.ParseExprFrom(token.NewFileSet(), "corpus", line, 0)
	if err != nil {
		return nil, fmt.Errorf("value %q is not a Go expression (truncated?)", short)
	}
	call, ok := expr.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return nil, fmt.Errorf("value %q is not of the form []byte(\"...\")", short)
	}
	at, ok := call.Fun.(*ast.ArrayType)
	if !ok || at.Len != nil {
		return nil, fmt.Errorf("value %q is not a []byte (rsrsim fuzz functions take one []byte)", short)
	}
	if id, ok := at.Elt.(*ast.Ident); !ok || id.Name != "byte" && id.Name != "uint8" {
		return nil, fmt.Errorf("value %q is not a []byte (rsrsim fuzz functions take one []byte)", short)
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return nil, fmt.Errorf("value %q: []byte needs a string literal", short)
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return nil, fmt.Errorf("value %q: bad string literal: %v", short, err)
	}
	return []byte(s), nil
}
