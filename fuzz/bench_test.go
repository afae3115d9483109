package fuzz

import (
	"testing"
)

// BenchmarkRSRRun measures complete runs of the rsr target on its default
// configuration (setup, workload, quiescence, delete-all), every oracle on,
// on one goroutine. Reports atomic steps per second.
func BenchmarkRSRRun(b *testing.B) {
	benchRSR(b, "default")
}

// BenchmarkRSRRunFocus is BenchmarkRSRRun for the rsr-focus profile.
func BenchmarkRSRRunFocus(b *testing.B) {
	benchRSR(b, "rsr-focus")
}

func benchRSR(b *testing.B, profile string) {
	raw, err := RSRProfile(profile)
	if err != nil {
		b.Fatal(err)
	}
	t, err := NewTarget("rsr", raw)
	if err != nil {
		b.Fatal(err)
	}
	eng := DefaultEngine()
	steps := 0
	b.ReportAllocs()
	seed := uint64(0)
	for b.Loop() {
		res, err := ExecuteSeed(t, eng, seed, RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		steps += int(res.Steps)
		seed++
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(steps)/float64(b.N), "steps/run")
}
