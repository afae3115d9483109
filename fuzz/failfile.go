package fuzz

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/oxide-sim/rsrsim/sim"
)

// FailureVersion is the current failure file format version.
const FailureVersion = 1

// Failure is a self-contained failure file: everything needed to replay a
// run exactly, without the seed, on any machine.
type Failure struct {
	Version       int             `json:"version"`
	Tool          string          `json:"tool"`
	Target        string          `json:"target"`
	TargetConfig  json.RawMessage `json:"target_config"`
	Engine        EngineConfig    `json:"engine"`
	Seed          *uint64         `json:"seed,omitempty"`
	DecisionCount int             `json:"decision_count"`
	Decisions     string          `json:"decisions"` // base64 of the encoded list
	TraceHash     string          `json:"trace_hash"`
	Steps         uint32          `json:"steps"`
	Violation     *ViolationJSON  `json:"violation,omitempty"`
	Note          string          `json:"note,omitempty"`
}

// ViolationJSON is a violation as stored in a failure file.
type ViolationJSON struct {
	Oracle    string `json:"oracle"`
	Signature string `json:"signature"`
	Detail    string `json:"detail"`
	Step      uint32 `json:"step"`
}

// NewFailure builds a failure file for a run of t.
func NewFailure(t Target, eng EngineConfig, res *Result) *Failure {
	f := &Failure{Version: FailureVersion, Tool: "rsrsim", Target: t.Name(), TargetConfig: t.Config(),
		Engine: eng, DecisionCount: len(res.Decisions), Decisions: EncodeDecisions(res.Decisions),
		TraceHash: FormatHash(res.Hash), Steps: res.Steps}
	if res.HasSeed {
		s := res.Seed
		f.Seed = &s
	}
	if v := res.Violation; v != nil {
		f.Violation = &ViolationJSON{Oracle: v.Oracle, Signature: v.Signature, Detail: v.Detail, Step: v.Step}
	}
	return f
}

// FormatHash renders a trace hash.
func FormatHash(h uint64) string { return fmt.Sprintf("%016x", h) }

// EncodeDecisions packs a decision list: per decision, the kind byte, then
// n and v as unsigned varints, all base64 encoded.
func EncodeDecisions(ds []sim.Decision) string {
	buf := make([]byte, 0, len(ds)*3)
	for _, d := range ds {
		buf = append(buf, byte(d.Kind))
		buf = binary.AppendUvarint(buf, uint64(d.N))
		buf = binary.AppendUvarint(buf, uint64(d.V))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// DecodeDecisions is the inverse of EncodeDecisions.
func DecodeDecisions(s string) ([]sim.Decision, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decisions are not valid base64: %v", err)
	}
	var ds []sim.Decision
	for len(raw) > 0 {
		k := raw[0]
		raw = raw[1:]
		n, w := binary.Uvarint(raw)
		if w <= 0 {
			return nil, errors.New("decisions are truncated")
		}
		raw = raw[w:]
		v, w := binary.Uvarint(raw)
		if w <= 0 {
			return nil, errors.New("decisions are truncated")
		}
		raw = raw[w:]
		if n > 1<<32-1 || v >= n && n > 0 {
			return nil, fmt.Errorf("decision %d is out of range (%d of %d)", len(ds), v, n)
		}
		ds = append(ds, sim.Decision{Kind: sim.Kind(k), N: uint32(n), V: uint32(v)})
	}
	return ds, nil
}

// LoadFailure reads and validates a failure file. Every problem is one
// clear error naming the file.
func LoadFailure(path string) (*Failure, []sim.Decision, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return ParseFailure(path, data)
}

// ParseFailure validates a failure file's bytes.
func ParseFailure(name string, data []byte) (*Failure, []sim.Decision, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, fmt.Errorf("%s: empty file, not a failure file", name)
	}
	if t := bytes.TrimSpace(data); t[0] != '{' {
		return nil, nil, fmt.Errorf("%s: not a failure file (not a JSON object)", name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Failure
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, nil, fmt.Errorf("%s: malformed JSON at byte %d: %v", name, se.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, nil, fmt.Errorf("%s: truncated JSON", name)
		default:
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
	}
	if f.Tool != "rsrsim" {
		return nil, nil, fmt.Errorf("%s: not an rsrsim failure file (tool %q)", name, f.Tool)
	}
	if f.Version != FailureVersion {
		return nil, nil, fmt.Errorf("%s: failure file version %d, this rsrsim reads version %d", name, f.Version, FailureVersion)
	}
	if err := f.Engine.Validate(); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	if _, err := strconv.ParseUint(f.TraceHash, 16, 64); err != nil || len(f.TraceHash) != 16 {
		return nil, nil, fmt.Errorf("%s: trace_hash %q is not 16 hex digits", name, f.TraceHash)
	}
	ds, err := DecodeDecisions(f.Decisions)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(ds) != f.DecisionCount {
		return nil, nil, fmt.Errorf("%s: decision_count says %d but the list holds %d (truncated?)", name, f.DecisionCount, len(ds))
	}
	return &f, ds, nil
}

// WriteFileAtomic writes data to path through a temporary file and a
// rename, so a reader never sees a partial file. It never overwrites: if
// path exists it returns fs.ErrExist.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	// os.Link fails if the target exists: no overwrite, even under a race.
	if err := os.Link(name, path); err != nil {
		os.Remove(name)
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return err
	}
	return os.Remove(name)
}

// Save writes f into dir under a name derived from its signature and hash,
// atomically and without overwriting (a numeric suffix is added if the name
// is taken). It returns the path written.
func (f *Failure) Save(dir, stem string) (string, error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	for i := 0; i < 1000; i++ {
		name := stem + ".json"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.json", stem, i)
		}
		p := filepath.Join(dir, name)
		err := WriteFileAtomic(p, data)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("too many failure files named %s in %s", stem, dir)
}
