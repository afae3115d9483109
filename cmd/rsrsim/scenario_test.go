package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScenarioCommand(t *testing.T) {
	// a scenario passes: exit 0
	code, out, _ := run(t, "scenario", "i07")
	if code != 0 || !strings.HasPrefix(out, "PASS omicron/i07-rsr-requested") {
		t.Fatalf("i07: exit %d, %q", code, out)
	}
	// with a switch that breaks it: exit 1, the oracle in the line
	code, out, _ = run(t, "scenario", "bugs/lock-missing-volume", "--bug", "lock-missing-volume")
	if code != 1 || !strings.Contains(out, "ev-lock-missing") {
		t.Fatalf("lock-missing-volume on: exit %d, %q", code, out)
	}
	// flags after the name, JSON
	code, out, _ = run(t, "scenario", "t3", "--json", "--bug", "start-ignores-deleted-region-snapshot")
	var rs []map[string]any
	if code != 1 || json.Unmarshal([]byte(out), &rs) != nil || len(rs) != 1 || rs[0]["passed"] != false {
		t.Fatalf("t3 --json: exit %d, %q", code, out)
	}
	// unknown scenario, no name, malformed file: exit 2, one line
	for _, args := range [][]string{{"scenario", "no-such"}, {"scenario"}, {"scenario", "i07", "--all"}} {
		code, _, errs := run(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
		oneLine(t, errs)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("topology sleds=1\nfrob D\n"), 0o644)
	code, _, errs := run(t, "scenario", bad)
	if code != 2 || !strings.Contains(errs, "bad.txt:2: unknown command \"frob\"") {
		t.Fatalf("bad file: exit %d, %q", code, errs)
	}
	oneLine(t, errs)
	// --list
	code, out, _ = run(t, "scenario", "--list")
	if code != 0 || strings.Count(out, "\n") < 35 {
		t.Fatalf("--list: exit %d", code)
	}
}

func TestScenarioCheckAll(t *testing.T) {
	code, out, _ := run(t, "scenario", "--all", "--check")
	if code != 0 || !strings.Contains(out, "0 expectation problem(s)") {
		t.Fatalf("--all --check: exit %d\n%s", code, out)
	}
}
