package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// oneLine asserts that stderr is exactly one line.
func oneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || stderr == "" {
		t.Fatalf("want one error line, got %q", stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
		t.Fatalf("error looks like a panic: %q", stderr)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands() {
		code, out, _ := run(t, c.name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: rsrsim "+c.name) {
			t.Errorf("%s --help: exit %d, output %q", c.name, code, out)
		}
	}
	if code, out, _ := run(t, "--help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Errorf("--help: exit %d", code)
	}
}

func TestBadInputExits2WithOneLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	// a real failure file to corrupt
	code, _, _ := run(t, "run", "--target", "toy", "--runs", "20", "--out", dir, "--quiet", "--stop-on-first", "--workers", "1")
	if code != 1 {
		t.Fatalf("toy campaign should find the lost update, exit %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no failure file written")
	}
	good, _ := os.ReadFile(files[0])
	var obj map[string]any
	json.Unmarshal(good, &obj)
	obj["version"] = 99
	wrongVersion, _ := json.Marshal(obj)
	obj["version"] = 1
	obj["surprise"] = true
	unknown, _ := json.Marshal(obj)
	delete(obj, "surprise")
	obj["decision_count"] = 1 + int(obj["decision_count"].(float64))
	badCount, _ := json.Marshal(obj)

	cases := map[string][]string{
		"truncated":        {"replay", write("trunc.json", string(good[:len(good)/2]))},
		"wrong version":    {"replay", write("ver.json", string(wrongVersion))},
		"unknown field":    {"replay", write("unk.json", string(unknown))},
		"not json":         {"replay", write("text.json", "hello, I am not JSON\n")},
		"empty":            {"replay", write("empty.json", "")},
		"count mismatch":   {"replay", write("count.json", string(badCount))},
		"nonexistent path": {"replay", filepath.Join(dir, "nope.json")},
		"bad flag":         {"run", "--no-such-flag"},
		"bad --fail-on":    {"run", "--fail-on", "some"},
		"unknown target":   {"run", "--target", "nope"},
		"unknown strategy": {"run", "--target", "toy", "--strategy", "nope"},
		"bad shard":        {"run", "--target", "toy", "--shard", "3/2"},
		"unknown command":  {"frobnicate"},
		"list nothing":     {"list", "frogs"},
		"bad target cfg":   {"run", "--target", "toy", "--target-config", "{nope"},
		"unknown cfg key":  {"run", "--target", "toy", "--target-config", `{"wat":1}`},
		"two sources":      {"replay", "--seed", "3", files[0]},
		"bench budget":     {"bench", "--baseline-max-runs", "0"},
		"bench bad switch": {"bench", "--bugs", "no-such-switch"},
		"bench bad strat":  {"bench", "--strategies", "pct,nope"},
		"bench bad rates":  {"bench", "--rates", "-1"},
		"bench nothing":    {"bench", "--campaigns", "0", "--throughput-runs", "0"},
		"bench rounds":     {"bench", "--throughput-rounds", "0"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			oneLine(t, stderr)
		})
	}
}

func TestReplayReproducesCampaignFailure(t *testing.T) {
	dir := t.TempDir()
	code, _, _ := run(t, "run", "--target", "toy", "--runs", "50", "--out", dir, "--quiet", "--strategy", "pct", "--pct-k", "24")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatal("the campaign wrote no failure file")
	}
	for _, f := range files {
		code, out, stderr := run(t, "replay", "--json", f)
		if code != 1 {
			t.Fatalf("replay %s: exit %d, stderr %s", f, code, stderr)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got["hash_matches"] != true || got["violation"] == nil {
			t.Fatalf("replay did not reproduce: %s", out)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, _, _ := run(t, "run", "--target", "toy", "--target-config", `{"atomic":true}`, "--runs", "50", "--out", dir, "--quiet"); code != 0 {
		t.Fatalf("clean campaign: exit %d, want 0", code)
	}
	code, out, _ := run(t, "run", "--target", "toy", "--runs", "50", "--out", dir, "--quiet", "--json")
	if code != 1 {
		t.Fatalf("failing campaign: exit %d, want 1", code)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil || s["runs"].(float64) != 50 {
		t.Fatalf("bad --json summary %q: %v", out, err)
	}
}

func TestShardsPartitionRuns(t *testing.T) {
	dir := t.TempDir()
	total := 0
	for i := 0; i < 3; i++ {
		_, out, _ := run(t, "run", "--target", "toy", "--target-config", `{"atomic":true}`, "--runs", "100",
			"--shard", []string{"0/3", "1/3", "2/3"}[i], "--out", dir, "--quiet", "--json")
		var s map[string]any
		json.Unmarshal([]byte(out), &s)
		total += int(s["runs"].(float64))
	}
	if total != 100 {
		t.Fatalf("3 shards ran %d runs, want 100", total)
	}
}

func TestDeterminismSelfCheck(t *testing.T) {
	code, out, _ := run(t, "run", "--target", "toy", "--check-determinism", "--runs", "30")
	if code != 0 || !strings.Contains(out, "0 differed") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// TestFailOnNew: known findings are labelled and reported but do not fail a
// --fail-on new campaign; a pre-fix switch's signature is new and does.
func TestFailOnNew(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := run(t, "run", "--runs", "200", "--quiet", "--out", dir, "--fail-on", "new")
	if code != 0 || !strings.Contains(out, "0 of them new") || !strings.Contains(out, "FINDING") {
		t.Fatalf("known findings only: exit %d, stderr %q, output:\n%s", code, stderr, out)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) == 0 {
		t.Fatal("known findings must still be written to failure files")
	}
	code, out, _ = run(t, "run", "--runs", "200", "--quiet", "--out", dir, "--json")
	if code != 1 || !strings.Contains(out, `"known_findings": "F`) {
		t.Fatalf("--fail-on any (default): exit %d, want 1 and labelled signatures in:\n%s", code, out)
	}
	code, out, _ = run(t, "run", "--runs", "50", "--quiet", "--out", dir, "--fail-on", "new", "--stop-on-first",
		"--profile", "rsr-focus", "--strategy", "pct", "--bug", "hard-delete-volume-with-lingering-regions")
	if code != 1 || !strings.Contains(out, "NEW") {
		t.Fatalf("a switch's signature is new: exit %d, output:\n%s", code, out)
	}
}

// TestListStrategiesDescribesEveryStrategy: `rsrsim list strategies` has a
// row for every name the engine accepts.
func TestListStrategiesDescribesEveryStrategy(t *testing.T) {
	code, out, _ := run(t, "list", "strategies")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, n := range sim.StrategyNames {
		if !strings.Contains(out, "│ "+n+" ") {
			t.Errorf("list strategies lacks %q", n)
		}
	}
}

// TestBenchSavesJSON: a tiny bench prints its tables and writes the JSON
// report (with every campaign's CPU time) where --save says.
func TestBenchSavesJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	code, out, stderr := run(t, "bench", "--campaigns", "2", "--max-runs", "20", "--baseline-max-runs", "20",
		"--strategies", "pct", "--bugs", "hard-delete-volume-with-lingering-regions", "--throughput-runs", "4", "--throughput-rounds", "3", "--save", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "| hard-delete-volume-with-lingering-regions | pct |") {
		t.Fatalf("no table row:\n%s", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rows []struct {
			Cells []struct {
				CPU []float64 `json:"campaign_cpu_seconds"`
			} `json:"cells"`
		} `json:"rows"`
		ScalingRounds []float64 `json:"scaling_rounds"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || len(rep.Rows[0].Cells) != 2 || len(rep.Rows[0].Cells[1].CPU) != 2 {
		t.Fatalf("saved report: %s", b)
	}
	if len(rep.ScalingRounds) != 3 || !strings.Contains(out, "the median of 3 rounds") {
		t.Fatalf("want 3 throughput rounds in the report: %v\n%s", rep.ScalingRounds, out)
	}
}

// TestBenchRates: --rates prints the per-run rate table and the per-switch
// best, and saves the rates report.
func TestBenchRates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rates.json")
	code, out, stderr := run(t, "bench", "--rates", "6", "--campaigns", "2", "--max-runs", "20", "--baseline-max-runs", "20",
		"--throughput-runs", "0", "--strategies", "pct,test-style-pct",
		"--bugs", "hard-delete-volume-with-lingering-regions", "--save", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "### Throughput") {
		t.Errorf("--throughput-runs 0 printed a throughput table")
	}
	for _, want := range []string{"### Time to detect", "### Per-run detection rates", "| hard-delete-volume-with-lingering-regions | ", "| per-switch best |", "implied speed-up"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var full struct {
		Rates struct {
			Rows []struct {
				Cells []struct {
					Runs    int     `json:"runs"`
					Implied float64 `json:"implied_ratio_to_baseline"`
				} `json:"cells"`
			} `json:"rows"`
			Best    float64 `json:"per_switch_best_geomean_cpu_seconds_per_detection"`
			Speedup float64 `json:"per_switch_best_implied_speedup"`
		} `json:"rates"`
	}
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatal(err)
	}
	rep := full.Rates
	if len(rep.Rows) != 1 || len(rep.Rows[0].Cells) != 2 || rep.Rows[0].Cells[0].Runs != 6 || rep.Best <= 0 ||
		rep.Rows[0].Cells[0].Implied <= 0 || rep.Speedup <= 0 {
		t.Fatalf("saved report: %s", b)
	}
}
