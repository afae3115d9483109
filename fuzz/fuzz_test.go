package fuzz_test

// The go test -fuzz targets. Each maps the fuzzer's bytes onto every
// choice of a run (sim.NewBytes: schedule, workload, faults, swarm
// profile), so any input is a legal run; only an oracle violation (or a
// model panic) fails.
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzToyRace$' -fuzztime 30s
//	go test ./fuzz -run '^$' -fuzz '^FuzzRSR$' -fuzztime 10m
//
// A crasher lands in fuzz/testdata/fuzz/<FuzzName>/<hash>; turn it into a
// failure file with `rsrsim import-fuzz fuzz/testdata/fuzz/<FuzzName>/<hash>`.
//
// Targets with known findings (FuzzToyRace, FuzzRSR) fail on a violation
// only while fuzzing (-fuzz) or with RSRSIM_FUZZ_STRICT=1; a plain go test
// runs their corpus as a smoke test and logs violations, so go test ./...
// stays green. RSRSIM_FUZZ_IGNORE=a,b skips violations whose oracle or
// signature is a or b, to fuzz for new findings past known ones.

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

// fuzzing reports whether this test binary runs under go test -fuzz
// (the coordinator and its workers all get -test.fuzz).
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

func ignored(v *sim.Violation) bool {
	for _, s := range strings.Split(os.Getenv("RSRSIM_FUZZ_IGNORE"), ",") {
		if s = strings.TrimSpace(s); s != "" && (s == v.Oracle || s == v.Signature) {
			return true
		}
	}
	return false
}

// fuzzSpec runs the fuzz function called name from fuzz.NativeSpecs.
func fuzzSpec(f *testing.F, name string) {
	spec, ok := fuzz.LookupNative(name)
	if !ok {
		f.Fatalf("no native spec for %s", name)
	}
	t, err := spec.Build()
	if err != nil {
		f.Fatalf("building target %s: %v", spec.Target, err)
	}
	strict := !spec.Findings || fuzzing() || os.Getenv("RSRSIM_FUZZ_STRICT") != ""
	f.Add([]byte{})
	f.Fuzz(func(tt *testing.T, data []byte) {
		res, err := fuzz.ExecuteBytes(t, spec.Engine, data, fuzz.RunOptions{NoRecord: true})
		if err != nil {
			tt.Fatalf("harness error (not a finding): %v", err)
		}
		v := res.Violation
		if v == nil || ignored(v) {
			return
		}
		// a plain go test logs the target's known findings; an rsr
		// signature that is no finding of FINDINGS.md fails even here
		known := spec.Target != "rsr" || fuzz.KnownFindingsFor(v.Signature) != ""
		if !strict && v.Oracle != "model-panic" && known {
			tt.Logf("known-findings target: violation %s (%s) logged, not failed; RSRSIM_FUZZ_STRICT=1 fails on it", v.Oracle, v.Signature)
			return
		}
		tt.Fatalf("VIOLATION %s at step %d\nsignature: %s\n%s\n\nturn the crasher into a replayable failure file:\n  go run ./cmd/rsrsim import-fuzz fuzz/testdata/fuzz/%s/<file named below>",
			v.Oracle, v.Step, v.Signature, v.Detail, name)
	})
}

// FuzzToy fuzzes the toy target with atomic increments: no schedule may
// lose an update, so every input must pass, always.
func FuzzToy(f *testing.F) { fuzzSpec(f, "FuzzToy") }

// FuzzToyRace fuzzes the toy lost-update race, which go test -fuzz finds
// within a second. It exists to demonstrate and test the
// crasher-to-failure-file workflow.
func FuzzToyRace(f *testing.F) { fuzzSpec(f, "FuzzToyRace") }

// FuzzRSR fuzzes the region snapshot replacement model with its oracles.
func FuzzRSR(f *testing.F) { fuzzSpec(f, "FuzzRSR") }

// FuzzDetect measures how long go test -fuzz takes to find one pre-fix
// switch (fuzz/gofuzz-detect.sh runs it per switch and reports the table in
// BENCHMARKS.md). RSRSIM_FUZZ_BUG names the switch; the model runs as in
// rsrsim bench's detection campaigns (profile rsr-focus with that switch
// on) and only that switch's signature fails. Without RSRSIM_FUZZ_BUG it
// runs nothing.
func FuzzDetect(f *testing.F) {
	f.Add([]byte{})
	bug := os.Getenv("RSRSIM_FUZZ_BUG")
	if bug == "" {
		f.Fuzz(func(*testing.T, []byte) {})
		return
	}
	bt, err := fuzz.BugTargetFor(bug)
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := fuzz.DetectionConfig(bug)
	if err != nil {
		f.Fatal(err)
	}
	t, err := fuzz.NewRSRTarget(cfg)
	if err != nil {
		f.Fatal(err)
	}
	eng := fuzz.NativeEngine()
	f.Fuzz(func(tt *testing.T, data []byte) {
		res, err := fuzz.ExecuteBytes(t, eng, data, fuzz.RunOptions{NoRecord: true})
		if err != nil {
			tt.Fatalf("harness error: %v", err)
		}
		if v := res.Violation; v != nil && bt.Match(v.Signature) {
			tt.Fatalf("DETECTED %s: %s", bug, v.Signature)
		}
	})
}
