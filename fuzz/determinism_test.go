package fuzz

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// TestRSRSameSeedSameHash: the model, like the engine, gives the same trace
// hash for the same seed and config, at GOMAXPROCS 1 and 8, when runs of
// other seeds execute concurrently in the same process.
func TestRSRSameSeedSameHash(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 20
	}
	for _, profile := range RSRProfileNames() {
		raw, _ := RSRProfile(profile)
		tg, err := NewTarget("rsr", raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, strat := range []string{"uniform", "pct", "swarm", "site-buggify-pct", "portfolio-pct"} {
			eng := DefaultEngine()
			eng.Strategy = strat
			first := make([]string, seeds)
			for s := range seeds {
				r, _ := ExecuteSeed(tg, eng, uint64(s), RunOptions{})
				first[s] = FormatHash(r.Hash)
			}
			for _, procs := range []int{1, 8} {
				old := runtime.GOMAXPROCS(procs)
				var wg sync.WaitGroup
				errs := make(chan string, seeds)
				for w := range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for s := w; s < seeds; s += 4 {
							r, _ := ExecuteSeed(tg, eng, uint64(s), RunOptions{})
							if h := FormatHash(r.Hash); h != first[s] {
								errs <- fmt.Sprintf("%s/%s GOMAXPROCS=%d seed %d: %s then %s", profile, strat, procs, s, first[s], h)
							}
						}
					}()
				}
				wg.Wait()
				runtime.GOMAXPROCS(old)
				close(errs)
				for e := range errs {
					t.Error(e)
				}
			}
		}
	}
}
