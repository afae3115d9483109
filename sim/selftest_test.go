package sim

import "testing"

// SelfTestGolden is SelfTestHash(42). fuzz's tests check the same value
// from a binary that links the whole model.
const SelfTestGolden = 0x19343b3151449d1f

func TestSelfTestHashIsStable(t *testing.T) {
	if got := SelfTestHash(42); got != SelfTestGolden {
		t.Fatalf("SelfTestHash(42) = %#x, want %#x: the trace hash changed", got, uint64(SelfTestGolden))
	}
}
