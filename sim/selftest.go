package sim

var (
	opSelfRead  = RegisterOp("selftest read")
	opSelfWrite = RegisterOp("selftest write")
)

// SelfTestHash runs a small fixed program (three actors racing on a
// counter) from seed and returns its trace hash. Binaries that link
// different packages register different ops in different orders; the
// trace hash must not depend on that, so this value is the same in every
// binary (the tests check it against a constant from two packages).
func SelfTestHash(seed uint64) uint64 {
	r := NewRun(Config{}, NewPRNG(seed), Uniform{})
	x := 0
	for i := 0; i < 3; i++ {
		r.Spawn(KindTest, "selftest", func(c *Ctx) {
			for j := 0; j < 3; j++ {
				c.Step(opSelfRead)
				v := x
				c.Step(opSelfWrite)
				x = v + 1
				c.Result(OutOK, uint32(x), 0)
			}
		})
	}
	r.Loop(nil)
	return r.Hash()
}
