package fuzz

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Campaign runs many seeded runs of a target on several workers.
//
// Run i of a campaign uses seed Seed+i, so any run can be replayed with
// `rsrsim replay --seed` and the same flags. With Shards > 1 a worker set
// only runs the indexes i with i % Shards == Shard, so n machines with
// --shard 0/n .. n-1/n together cover exactly the runs of one machine.
type Campaign struct {
	Target  Target
	Engine  EngineConfig
	Seed    uint64
	Runs    int           // 0 means unbounded (then Time must be set)
	Time    time.Duration // wall-clock budget; 0 means none
	Workers int           // 0 means runtime.NumCPU()
	Shard   int
	Shards  int
	// OutDir receives one failure file per new signature ("" = none).
	OutDir string
	// Progress receives a progress line about once a second (nil = none).
	Progress io.Writer
	// StopOnFirst stops the campaign at the first violation (with
	// OnlyNew, at the first violation whose signature is not a known
	// finding's).
	StopOnFirst bool
	// OnlyNew makes signatures of known findings (KnownFindings; rsr
	// target only) not count for StopOnFirst. They are still counted,
	// reported and written to failure files: nothing found is dropped.
	OnlyNew bool
}

// SigStat is one violation signature seen by a campaign.
type SigStat struct {
	Signature string `json:"signature"`
	Oracle    string `json:"oracle"`
	Count     int    `json:"count"`
	FirstSeed uint64 `json:"first_seed"`
	FirstRun  int    `json:"first_run"`
	Detail    string `json:"detail"`
	File      string `json:"file,omitempty"`
	Step      uint32 `json:"step"`
	// Known names the findings of FINDINGS.md this signature belongs to
	// (comma-separated; "" for a new signature). rsr target only.
	Known string `json:"known_findings,omitempty"`
}

// Summary is the result of a campaign.
type Summary struct {
	Target     string        `json:"target"`
	Strategy   string        `json:"strategy"`
	Seed       uint64        `json:"seed"`
	Runs       int           `json:"runs"`
	Steps      uint64        `json:"steps"`
	Failures   int           `json:"failing_runs"`
	Elapsed    time.Duration `json:"-"`
	ElapsedSec float64       `json:"elapsed_seconds"`
	RunsPerSec float64       `json:"runs_per_second"`
	StepsPerS  float64       `json:"steps_per_second"`
	Signatures []SigStat     `json:"signatures"`
	// NewSignatures counts the signatures that are no known finding's.
	NewSignatures int      `json:"new_signatures"`
	Errors        []string `json:"errors,omitempty"`
}

// Run executes the campaign. Failure files are written (atomically, never
// overwritten) before a signature is counted as found.
func (c *Campaign) Run() (*Summary, error) {
	if c.Runs <= 0 && c.Time <= 0 {
		return nil, fmt.Errorf("a campaign needs --runs or --time")
	}
	if c.Shards <= 0 {
		c.Shards = 1
	}
	if c.Shard < 0 || c.Shard >= c.Shards {
		return nil, fmt.Errorf("shard %d/%d is out of range", c.Shard, c.Shards)
	}
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	start := time.Now()
	var deadline time.Time
	if c.Time > 0 {
		deadline = start.Add(c.Time)
	}
	var (
		nextIdx  atomic.Int64
		runsDone atomic.Int64
		steps    atomic.Uint64
		fails    atomic.Int64
		stop     atomic.Bool
		mu       sync.Mutex
		sigs     = map[string]*SigStat{}
		errs     []string
	)
	known := func(sig string) string { return knownLabel(c.Target, sig) }
	nextIdx.Store(int64(c.Shard))
	done := make(chan struct{})
	if c.Progress != nil {
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					el := time.Since(start).Seconds()
					mu.Lock()
					ns := len(sigs)
					mu.Unlock()
					n := runsDone.Load()
					fmt.Fprintf(c.Progress, "\rruns %d  %.0f runs/s  %.2fM steps/s  signatures %d  elapsed %.0fs   ",
						n, float64(n)/el, float64(steps.Load())/el/1e6, ns, el)
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := int(nextIdx.Add(int64(c.Shards)) - int64(c.Shards))
				if c.Runs > 0 && i >= c.Runs {
					return
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				seed := c.Seed + uint64(i)
				res, err := ExecuteSeed(c.Target, c.Engine, seed, RunOptions{})
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					stop.Store(true)
					return
				}
				runsDone.Add(1)
				steps.Add(uint64(res.Steps))
				v := res.Violation
				if v == nil {
					continue
				}
				fails.Add(1)
				mu.Lock()
				st, seen := sigs[v.Signature]
				if !seen {
					st = &SigStat{Signature: v.Signature, Oracle: v.Oracle, FirstSeed: seed, FirstRun: i, Detail: v.Detail, Step: v.Step, Known: known(v.Signature)}
					if c.OutDir != "" {
						f := NewFailure(c.Target, c.Engine, res)
						path, err := f.Save(c.OutDir, FailureStem(v.Signature, seed))
						if err != nil {
							errs = append(errs, fmt.Sprintf("writing failure file: %v", err))
						}
						st.File = path
					}
					sigs[v.Signature] = st
				}
				st.Count++
				if i < st.FirstRun {
					st.FirstRun, st.FirstSeed = i, seed
				}
				isKnown := st.Known != ""
				mu.Unlock()
				if c.StopOnFirst && !(c.OnlyNew && isKnown) {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	if c.Progress != nil {
		fmt.Fprintln(c.Progress)
	}
	el := time.Since(start)
	s := &Summary{Target: c.Target.Name(), Strategy: c.Engine.Strategy, Seed: c.Seed, Runs: int(runsDone.Load()),
		Steps: steps.Load(), Failures: int(fails.Load()), Elapsed: el, ElapsedSec: el.Seconds(), Errors: errs}
	if sec := el.Seconds(); sec > 0 {
		s.RunsPerSec = float64(s.Runs) / sec
		s.StepsPerS = float64(s.Steps) / sec
	}
	for _, st := range sigs {
		s.Signatures = append(s.Signatures, *st)
		if st.Known == "" {
			s.NewSignatures++
		}
	}
	sort.Slice(s.Signatures, func(i, j int) bool {
		a, b := s.Signatures[i], s.Signatures[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Signature < b.Signature
	})
	return s, nil
}

// FailureStem is the file name stem for a failure: the oracle, a short hash
// of the signature and the seed.
func FailureStem(sig string, seed uint64) string {
	h := fnv.New32a()
	h.Write([]byte(sig))
	oracle := sig
	if i := strings.IndexByte(sig, ':'); i >= 0 {
		oracle = sig[:i]
	}
	oracle = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(oracle))
	return fmt.Sprintf("%s-%08x-seed%d", oracle, h.Sum32(), seed)
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
