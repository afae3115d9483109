package fuzz

import (
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// TestTraceHashIndependentOfLinkedPackages: this binary links the whole
// model, so its ops are numbered differently from sim's own test binary;
// the same program must still hash to the value sim's tests pin.
func TestTraceHashIndependentOfLinkedPackages(t *testing.T) {
	const golden = 0x19343b3151449d1f // sim.SelfTestGolden
	if got := sim.SelfTestHash(42); got != golden {
		t.Fatalf("SelfTestHash(42) = %#x in the fuzz test binary, want %#x", got, uint64(golden))
	}
}
