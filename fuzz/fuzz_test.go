package fuzz_test

// The go test -fuzz targets. Each maps the fuzzer's bytes onto every
// choice of a run (sim.NewBytes: schedule, workload, faults, swarm
// profile), so any input is a legal run; only an oracle violation fails.
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzToy$' -fuzztime 30s
//	RSRSIM_FUZZ_TOY_RACE=1 go test ./fuzz -run '^$' -fuzz '^FuzzToyRace$'
//	go test ./fuzz -run '^$' -fuzz '^FuzzRSR$'
//
// A crasher lands in fuzz/testdata/fuzz/<FuzzName>/<hash>; turn it into a
// failure file with `rsrsim import-fuzz fuzz/testdata/fuzz/<FuzzName>/<hash>`.
//
// FuzzRSR runs once the "rsr" target is registered in this test binary
// (a blank import of the model package in an external test file such as
// this one); until then it skips.

import (
	"os"
	"testing"

	"github.com/oxide-sim/rsrsim/fuzz"
)

// fuzzSpec runs the fuzz function called name from fuzz.NativeSpecs.
func fuzzSpec(f *testing.F, name string, mustExist bool) {
	spec, ok := fuzz.LookupNative(name)
	if !ok {
		f.Fatalf("no native spec for %s", name)
	}
	if spec.Gate != "" && os.Getenv(spec.Gate) == "" {
		f.Skipf("%s fails by design; set %s=1 to run it", name, spec.Gate)
	}
	t, err := spec.Build()
	if err != nil {
		if mustExist {
			f.Fatalf("building target %s: %v", spec.Target, err)
		}
		f.Skipf("target %s is not available in this test binary: %v", spec.Target, err)
	}
	f.Add([]byte{})
	f.Fuzz(func(tt *testing.T, data []byte) {
		res, err := fuzz.ExecuteBytes(t, spec.Engine, data, fuzz.RunOptions{NoRecord: true})
		if err != nil {
			tt.Fatalf("harness error (not a finding): %v", err)
		}
		if v := res.Violation; v != nil {
			tt.Fatalf("VIOLATION %s at step %d\nsignature: %s\n%s\n\nturn the crasher into a replayable failure file:\n  go run ./cmd/rsrsim import-fuzz fuzz/testdata/fuzz/%s/<file named below>",
				v.Oracle, v.Step, v.Signature, v.Detail, name)
		}
	})
}

// FuzzToy fuzzes the toy target with atomic increments: no schedule may
// lose an update, so every input must pass.
func FuzzToy(f *testing.F) { fuzzSpec(f, "FuzzToy", true) }

// FuzzToyRace fuzzes the toy lost-update race, which the fuzzer finds in
// seconds. It is gated behind RSRSIM_FUZZ_TOY_RACE so that `go test ./...`
// passes; it exists to demonstrate and test the crasher-to-failure-file
// workflow.
func FuzzToyRace(f *testing.F) { fuzzSpec(f, "FuzzToyRace", true) }

// FuzzRSR fuzzes the region snapshot replacement model with its oracles.
func FuzzRSR(f *testing.F) { fuzzSpec(f, "FuzzRSR", false) }
