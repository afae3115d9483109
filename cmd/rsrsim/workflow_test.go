package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/fuzz"
)

// toyFailure runs a small toy campaign and returns the failure file it
// wrote.
func toyFailure(t *testing.T, cfg string, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"run", "--target", "toy", "--target-config", cfg, "--runs", "200", "--out", dir,
		"--quiet", "--stop-on-first", "--workers", "1"}, extra...)
	if code, _, stderr := run(t, args...); code != 1 {
		t.Fatalf("toy campaign: exit %d, want 1 (%s)", code, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("want one failure file, got %v", files)
	}
	return files[0]
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

func TestWorkflowBadInputExits2WithOneLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := toyFailure(t, `{"workers":3,"incs":4}`)
	raw, _ := os.ReadFile(good)
	var obj map[string]any
	json.Unmarshal(raw, &obj)
	obj["version"] = 7
	wrongVersion, _ := json.Marshal(obj)
	obj["version"] = 1
	obj["extra"] = "field"
	unknown, _ := json.Marshal(obj)
	delete(obj, "extra")
	delete(obj, "violation")
	passing, _ := json.Marshal(obj)

	failureCases := map[string]string{
		"truncated":     write("trunc.json", string(raw[:len(raw)/2])),
		"wrong version": write("ver.json", string(wrongVersion)),
		"unknown field": write("unk.json", string(unknown)),
		"not json":      write("text.json", "this is not JSON\n"),
		"empty":         write("empty.json", ""),
		"nonexistent":   filepath.Join(dir, "missing.json"),
	}
	cases := map[string][]string{}
	for name, p := range failureCases {
		cases["shrink "+name] = []string{"shrink", p}
		cases["export-fuzz "+name] = []string{"export-fuzz", "--out", filepath.Join(dir, "out-"+strings.ReplaceAll(name, " ", "-")), p}
	}
	corpusCases := map[string]string{
		"truncated":     write("c-trunc", "go test fuzz v1\n[]byte(\"\\x01\\x0"),
		"wrong version": write("c-ver", "go test fuzz v9\n[]byte(\"\\x01\")\n"),
		"not a corpus":  write("c-json", `{"version":1}`),
		"header only":   write("c-head", "go test fuzz v1\n"),
		"two values":    write("c-two", "go test fuzz v1\n[]byte(\"a\")\n[]byte(\"b\")\n"),
		"wrong type":    write("c-int", "go test fuzz v1\nint(5)\n"),
		"empty":         write("c-empty", ""),
		"nonexistent":   filepath.Join(dir, "c-missing"),
	}
	for name, p := range corpusCases {
		cases["import-fuzz "+name] = []string{"import-fuzz", "--target", "toy", "--out", dir, p}
	}
	okCorpus := write("c-ok", string(fuzz.MarshalCorpus([]byte{1})))
	taken := write("taken", "already here")
	cases["import-fuzz unknown target"] = []string{"import-fuzz", "--target", "nope", okCorpus}
	cases["import-fuzz unknown cfg key"] = []string{"import-fuzz", "--target", "toy", "--target-config", `{"wat":1}`, okCorpus}
	cases["import-fuzz bad cfg json"] = []string{"import-fuzz", "--target", "toy", "--target-config", `{nope`, okCorpus}
	cases["import-fuzz no file"] = []string{"import-fuzz", "--target", "toy"}
	cases["import-fuzz two files"] = []string{"import-fuzz", "--target", "toy", okCorpus, okCorpus}
	cases["export-fuzz would overwrite"] = []string{"export-fuzz", "--out", taken, good}
	cases["shrink no violation"] = []string{"shrink", write("passing.json", string(passing))}
	cases["shrink bad budget"] = []string{"shrink", "--max-runs", "0", good}
	cases["shrink bad flag"] = []string{"shrink", good, "--frobnicate"}
	cases["replay bad kind"] = []string{"replay", "--kind", "frogs", good}
	cases["replay chrome into missing dir"] = []string{"replay", good, "--chrome", filepath.Join(dir, "no", "such", "dir", "t.json")}

	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			oneLine(t, stderr)
		})
	}
	if b, _ := os.ReadFile(taken); string(b) != "already here" {
		t.Fatal("export-fuzz overwrote an existing file")
	}
}

// TestExportImportRoundTrip: failure file -> corpus bytes -> failure file
// reproduces the same trace hash, for a swarm failure (which FuzzToyRace
// runs, so import needs no flags when the file sits in its directory) and
// a PCT failure (four-byte priority draws; import needs the engine flags).
func TestExportImportRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name, cfg string
		runFlags  []string
		impFlags  []string
		inferred  bool
	}{
		{"swarm via FuzzToyRace directory", `{"workers":3,"incs":4}`, nil, nil, true},
		{"pct with flags", `{"workers":4,"incs":3}`, []string{"--strategy", "pct", "--pct-k", "24"},
			[]string{"--target", "toy", "--target-config", `{"workers":4,"incs":3}`, "--strategy", "pct", "--pct-k", "24"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			orig := toyFailure(t, c.cfg, c.runFlags...)
			f, _, err := fuzz.LoadFailure(orig)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			corpus := filepath.Join(dir, "FuzzToyRace", "exported")
			code, out, stderr := run(t, "export-fuzz", orig, "--out", corpus, "--json")
			if code != 0 {
				t.Fatalf("export-fuzz: exit %d: %s", code, stderr)
			}
			ex := decodeJSON(t, out)
			if ex["trace_hash"] != f.TraceHash || ex["hash_matches_file"] != true {
				t.Fatalf("export-fuzz did not reproduce %s: %s", f.TraceHash, out)
			}
			if _, ok := ex["fuzz_function"]; ok != c.inferred {
				t.Fatalf("fuzz_function reported %v, want %v: %s", ok, c.inferred, out)
			}
			args := append([]string{"import-fuzz", "--json", "--out", filepath.Join(dir, "failures")}, c.impFlags...)
			code, out, stderr = run(t, append(args, corpus)...)
			if code != 1 {
				t.Fatalf("import-fuzz: exit %d, want 1: %s", code, stderr)
			}
			im := decodeJSON(t, out)
			if im["trace_hash"] != f.TraceHash {
				t.Fatalf("import-fuzz gave trace hash %v, the original %s", im["trace_hash"], f.TraceHash)
			}
			code, out, _ = run(t, "replay", "--json", im["file"].(string))
			rp := decodeJSON(t, out)
			if code != 1 || rp["hash_matches"] != true || rp["trace_hash"] != f.TraceHash {
				t.Fatalf("replay of the imported file: exit %d: %s", code, out)
			}
		})
	}
}

func TestShrinkCommand(t *testing.T) {
	in := toyFailure(t, `{"workers":5,"incs":8}`, "--strategy", "uniform")
	before, _ := os.ReadFile(in)
	outDir := t.TempDir()
	code, out, stderr := run(t, "shrink", in, "--out", outDir, "--json")
	if code != 1 {
		t.Fatalf("shrink: exit %d, want 1: %s", code, stderr)
	}
	s := decodeJSON(t, out)
	b, a := s["before"].(map[string]any), s["after"].(map[string]any)
	t.Logf("before %v", b)
	t.Logf("after  %v", a)
	if a["decisions"].(float64) >= b["decisions"].(float64) || a["context_switches"].(float64) >= b["context_switches"].(float64) {
		t.Fatalf("no reduction reported: %s", out)
	}
	if s["signature"] != "toy-lost-update" || s["hash_verified"] != true || len(s["schedule"].([]any)) == 0 {
		t.Fatalf("bad shrink report: %s", out)
	}
	if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
		t.Fatal("shrink modified its input")
	}
	shrunk := s["file"].(string)
	code, rout, _ := run(t, "replay", "--json", shrunk)
	rp := decodeJSON(t, rout)
	if code != 1 || rp["hash_matches"] != true || rp["violation"].(map[string]any)["signature"] != "toy-lost-update" {
		t.Fatalf("replay of the shrunk file: exit %d: %s", code, rout)
	}
	// Same input, same output: a second shrink writes an identical file
	// (under a new name: nothing is overwritten).
	code, out2, _ := run(t, "shrink", "--out", outDir, "--json", in)
	second := decodeJSON(t, out2)["file"].(string)
	if code != 1 || second == shrunk {
		t.Fatalf("second shrink: exit %d, file %s", code, second)
	}
	x, _ := os.ReadFile(shrunk)
	y, _ := os.ReadFile(second)
	if !bytes.Equal(x, y) {
		t.Fatalf("two shrinks of one file differ:\n%s\n%s", x, y)
	}
	// The text output has the table and the numbered schedule.
	code, text, _ := run(t, "shrink", in, "--out", t.TempDir())
	if code != 1 || !strings.Contains(text, "BEFORE") && !strings.Contains(text, "before") || !strings.Contains(text, "schedule:") ||
		!strings.Contains(text, "1. #") || !strings.Contains(text, "violation after step") {
		t.Fatalf("shrink text output:\n%s", text)
	}
}

func TestReplayWritesViews(t *testing.T) {
	in := toyFailure(t, `{"workers":3,"incs":2}`)
	dir := t.TempDir()
	chrome, page := filepath.Join(dir, "t.json"), filepath.Join(dir, "t.html")
	code, out, stderr := run(t, "replay", in, "--chrome", chrome, "--html", page, "--json")
	if code != 1 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	r := decodeJSON(t, out)
	if r["chrome"] != chrome || r["html"] != page || r["hash_matches"] != true {
		t.Fatalf("replay --json does not report the views: %s", out)
	}
	cj, _ := os.ReadFile(chrome)
	var doc struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal(cj, &doc); err != nil || len(doc.TraceEvents) == 0 {
		t.Fatalf("--chrome wrote no trace events: %v", err)
	}
	h, _ := os.ReadFile(page)
	if n := strings.Count(string(h), `<div class="lane `); n != 3 {
		t.Fatalf("--html has %d swimlanes, want 3", n)
	}
	// Flags may follow the file, and filters still apply to the table.
	code, out, _ = run(t, "replay", in, "--op", "write", "--no-trace=false")
	if code != 1 || strings.Contains(out, "toy read counter") || !strings.Contains(out, "toy write counter") {
		t.Fatalf("replay --op write: exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "replay", in, "--schedule")
	if code != 1 || !strings.Contains(out, "schedule:") || strings.Contains(out, "OPERATION") {
		t.Fatalf("replay --schedule: exit %d:\n%s", code, out)
	}
}
