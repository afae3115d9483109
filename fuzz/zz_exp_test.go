package fuzz

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestZZRates(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZZN"))
	if n == 0 {
		t.Skip()
	}
	strat := os.Getenv("ZZSTRAT")
	scale, _ := strconv.Atoi(os.Getenv("ZZSCALE"))
	for _, bt := range BugTargets {
		cfg, _ := DetectionConfig(bt.Bug)
		if scale > 0 {
			for _, k := range []string{"fault-crash", "fault-crash-after-node", "fault-node-fail", "fault-undo-twice", "fault-agent", "fault-notify"} {
				def := map[string]int{"fault-crash": 10, "fault-crash-after-node": 20, "fault-node-fail": 10, "fault-undo-twice": 100, "fault-agent": 10, "fault-notify": 100}[k]
				cfg.Knobs[k] = min(1000, def*scale/10)
			}
		}
		for kv := range strings.SplitSeq(os.Getenv("ZZKNOBS"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				x, _ := strconv.Atoi(v)
				cfg.Knobs[k] = x
			}
		}
		tg, err := NewRSRTarget(cfg)
		if err != nil {
			t.Fatal(err)
		}
		eng := DefaultEngine()
		eng.Strategy = strat
		hits := 0
		c0 := cpuSeconds()
		for s := 0; s < n; s++ {
			res, _ := ExecuteSeed(tg, eng, uint64(s)+7_000_000, RunOptions{NoRecord: true})
			if res.Violation != nil && bt.Match(res.Violation.Signature) {
				hits++
			}
		}
		cpu := cpuSeconds() - c0
		per := "inf"
		if hits > 0 {
			per = fmt.Sprintf("%.4f", cpu/float64(hits))
		}
		fmt.Printf("%-42s %s scale=%d hits %4d/%d  cpu/hit %s\n", bt.Bug, strat, scale, hits, n, per)
	}
}

func TestZZRates2(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZZN"))
	if n == 0 {
		t.Skip()
	}
	for _, strat := range strings.Split(os.Getenv("ZZSTRATS"), ",") {
		for _, bt := range BugTargets {
			if os.Getenv("ZZBUGS") != "" && !strings.Contains(os.Getenv("ZZBUGS"), bt.Bug) {
				continue
			}
			cfg, _ := DetectionConfig(bt.Bug)
			tg, _ := NewRSRTarget(cfg)
			eng := DefaultEngine()
			eng.Strategy = strat
			if k, _ := strconv.Atoi(os.Getenv("ZZK")); k > 0 {
				eng.PCTK = k
			}
			if d, _ := strconv.Atoi(os.Getenv("ZZD")); d > 0 {
				eng.PCTDepth = d
			}
			hits := 0
			c0 := cpuSeconds()
			var steps uint64
			for s := 0; s < n; s++ {
				res, _ := ExecuteSeed(tg, eng, uint64(s)+7_000_000, RunOptions{NoRecord: true})
				steps += uint64(res.Steps)
				if res.Violation != nil && bt.Match(res.Violation.Signature) {
					hits++
				}
			}
			cpu := cpuSeconds() - c0
			fmt.Printf("%-42s %-12s k=%s d=%s hits %4d/%d  cpu/run %.5f steps/run %d\n", bt.Bug, strat, os.Getenv("ZZK"), os.Getenv("ZZD"), hits, n, cpu/float64(n), steps/uint64(n))
		}
	}
}
