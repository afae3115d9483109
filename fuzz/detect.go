package fuzz

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/oxide-sim/rsrsim/model"
)

// BugTarget says how a campaign recognises one pre-fix switch: the oracle
// spec 40 names for it and the signature shape that switch produces. Shapes
// matter where the same oracle also reports a finding of the reference
// logic (FINDINGS.md): switch #1's new region is freed by its count
// ("-deleting"), F11's is deleted outright ("-gone"); switch #6's lingering
// region is one the volume named ("region-in-vcr"), F3's is not; switch #8
// strands a lock on a live disk, F2 on a deleted one; switch #3 strands a
// step whose volume is deleted, F19 one whose volume is live.
type BugTarget struct {
	Bug    string
	Oracle string
	Match  func(signature string) bool
}

func prefix(p string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, p) }
}
func suffixed(o, suf string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, o+":") && strings.HasSuffix(s, suf) }
}

// BugTargets lists every switch in spec 40 order.
var BugTargets = []BugTarget{
	{"no-new-region-volume", "inv-newregion", suffixed("inv-newregion", "-deleting")},
	{"start-ignores-deleted-region-snapshot", "live-request", prefix("live-request:Requested")},
	{"step-saga-for-deleted-volume", "live-step", suffixed("live-step", "-volume-deleted")},
	{"step-for-soft-deleted-volume", "ev-step-softdel", prefix("ev-step-softdel")},
	{"notify-deleted-volume", "ev-notify-deleted", prefix("ev-notify-deleted")},
	{"hard-delete-volume-with-lingering-regions", "ev-harddel", prefix("ev-harddel:region-in-vcr")},
	{"lock-missing-volume", "ev-lock-missing", prefix("ev-lock-missing")},
	{"relock-not-idempotent", "lock-owner-live", prefix("lock-owner-live:saga-failed-disk-live")},
	{"substring-address-match", "ev-step-noref", prefix("ev-step-noref")},
}

// BugTargetFor returns the target of bug.
func BugTargetFor(bug string) (BugTarget, error) {
	for _, b := range BugTargets {
		if b.Bug == bug {
			return b, nil
		}
	}
	return BugTarget{}, fmt.Errorf("unknown bug %q", bug)
}

// DetectionConfig is the target configuration the detection campaigns
// use: the rsr-focus profile, with the switch turned on.
func DetectionConfig(bug string) (RSRConfig, error) {
	cfg, err := RSRProfileConfig("rsr-focus")
	if err != nil {
		return RSRConfig{}, err
	}
	if bug != "" {
		if _, err := model.SwitchesFor([]string{bug}); err != nil {
			return RSRConfig{}, err
		}
		cfg.Bugs = []string{bug}
	}
	return cfg, nil
}

// Detection is the outcome of one campaign that stops at the first run
// whose violation matches.
type Detection struct {
	Found  bool
	Runs   int     // runs executed, the detecting one included
	Seed   uint64  // the detecting run's seed
	CPUSec float64 // process CPU time (user+system) the campaign used
	Steps  uint64
	Sig    string
}

// Detect runs seeds first, first+1, ... on one goroutine until a run's
// violation signature satisfies match, or maxRuns runs.
func Detect(t Target, eng EngineConfig, first uint64, maxRuns int, match func(string) bool) (Detection, error) {
	var d Detection
	c0 := cpuSeconds()
	for i := 0; i < maxRuns; i++ {
		res, err := ExecuteSeed(t, eng, first+uint64(i), RunOptions{NoRecord: true})
		if err != nil {
			return d, err
		}
		d.Runs++
		d.Steps += uint64(res.Steps)
		if res.Violation != nil && match(res.Violation.Signature) {
			d.Found, d.Seed, d.Sig = true, first+uint64(i), res.Violation.Signature
			break
		}
	}
	d.CPUSec = cpuSeconds() - c0
	return d, nil
}

// cpuSeconds returns the process's user+system CPU time. Detection
// campaigns run one at a time on one goroutine, so differences measure
// what they cost (garbage collection included).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 {
		return float64(t.Sec) + float64(t.Usec)/1e6
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

// wallSince is used where CPU time is not meaningful (several workers).
func wallSince(t time.Time) float64 { return time.Since(t).Seconds() }
