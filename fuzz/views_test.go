package fuzz_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixedToyRun is the run every view is tested on: three toy workers of two
// increments, worker 2 reads first (the one non-zero decision), then every
// choice is 0. Worker 2's write of 1 overwrites worker 1's 2: a lost update
// found at quiescence after step 12.
func fixedToyRun(t *testing.T) *fuzz.Result {
	t.Helper()
	tg := toyTarget(t, `{"workers":3,"incs":2}`)
	eng := fuzz.DefaultEngine()
	eng.Strategy = "uniform"
	res, err := fuzz.Execute(tg, eng, sim.NewReplay([]sim.Decision{{Kind: sim.KSched, N: 3, V: 1}}),
		fuzz.RunOptions{KeepTrace: true, KeepRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Steps != 12 {
		t.Fatalf("fixed toy run: %d steps, violation %v", res.Steps, res.Violation)
	}
	return res
}

// fixedMeta describes the fixed run. The trace hash shown is a stand-in:
// real hashes fold in operation ids, which depend on which packages of the
// binary register operations, and a golden file must not change with that.
func fixedMeta(*fuzz.Result) fuzz.ViewMeta {
	return fuzz.ViewMeta{Title: "fixed toy run", Target: "toy", Config: `{"workers":3,"incs":2,"atomic":false}`,
		Strategy: "uniform", TraceHash: "0123456789abcdef"}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./fuzz -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (run go test ./fuzz -run %s -update if the change is intended)\n--- got ---\n%s",
			path, t.Name(), got)
	}
}

func TestChromeTraceGolden(t *testing.T) {
	res := fixedToyRun(t)
	var buf bytes.Buffer
	if err := fuzz.WriteChromeTrace(&buf, res.Run, res.Violation, fixedMeta(res)); err != nil {
		t.Fatal(err)
	}
	golden(t, "toy.chrome.json", buf.Bytes())

	// Structure, independent of the golden bytes: valid JSON, a named
	// track and a span per actor, an instant per step, one violation.
	var doc struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Ph   string         `json:"ph"`
			Ts   int64          `json:"ts"`
			Dur  int64          `json:"dur"`
			Tid  int            `json:"tid"`
			S    string         `json:"s"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	names, spansByTid, instants, globals := map[int]string{}, map[int]int{}, 0, 0
	for _, e := range doc.TraceEvents {
		switch {
		case e.Ph == "M" && e.Name == "thread_name":
			names[e.Tid] = e.Args["name"].(string)
		case e.Ph == "X":
			spansByTid[e.Tid]++
			if e.Dur <= 0 {
				t.Errorf("span of tid %d has duration %d", e.Tid, e.Dur)
			}
		case e.Ph == "i" && e.S == "t":
			instants++
		case e.Ph == "i" && e.S == "g":
			globals++
		}
	}
	for _, a := range res.Run.Actors() {
		if names[int(a.ID)] != "#"+strconv.Itoa(int(a.ID))+" "+a.Name() || spansByTid[int(a.ID)] != 1 {
			t.Errorf("actor %d: track name %q, %d spans", a.ID, names[int(a.ID)], spansByTid[int(a.ID)])
		}
	}
	if instants != int(res.Steps) || globals != 1 {
		t.Errorf("%d step instants for %d steps, %d violation markers", instants, res.Steps, globals)
	}
}

func TestHTMLTimelineGolden(t *testing.T) {
	res := fixedToyRun(t)
	var buf bytes.Buffer
	if err := fuzz.WriteHTMLTimeline(&buf, res.Run, res.Violation, fixedMeta(res)); err != nil {
		t.Fatal(err)
	}
	golden(t, "toy.html", buf.Bytes())
	s := buf.String()
	if n := strings.Count(s, `<div class="lane `); n != 3 {
		t.Errorf("%d swimlanes, want 3", n)
	}
	if n := strings.Count(s, `data-step=`); n != 12 {
		t.Errorf("%d step marks, want 12", n)
	}
	if n := strings.Count(s, `class="mark viol"`); n != 1 {
		t.Errorf("%d red violation marks, want 1", n)
	}
	for _, banned := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(s, banned) {
			t.Errorf("the page is not self-contained: it contains %q", banned)
		}
	}
}

// TestHTMLEscapes: names and details from the model go through
// html/template, so markup in them is inert.
func TestHTMLEscapes(t *testing.T) {
	res := fixedToyRun(t)
	v := *res.Violation
	v.Detail = `<script>alert("x")</script>`
	var buf bytes.Buffer
	m := fixedMeta(res)
	m.Title = `<b>title</b>`
	if err := fuzz.WriteHTMLTimeline(&buf, res.Run, &v, m); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `<script>alert`) || strings.Contains(buf.String(), `<b>title`) {
		t.Fatal("markup from the trace was not escaped")
	}
}

func TestScheduleGolden(t *testing.T) {
	res := fixedToyRun(t)
	var buf bytes.Buffer
	if err := fuzz.WriteSchedule(&buf, res.Run, res.Violation, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, "toy.schedule.txt", buf.Bytes())
	buf.Reset()
	fuzz.WriteSchedule(&buf, res.Run, nil, 2)
	if got := buf.String(); got != "  1. #2 worker 2: toy read counter -> ok\n  ... 2 lines omitted ...\n"+
		"  9-12. #3 worker 3: 2 x (toy read counter -> ok, toy write counter -> ok) (last [4])\n" {
		t.Fatalf("schedule cut to 2 lines:\n%s", got)
	}
}

func TestTraceTableGolden(t *testing.T) {
	res := fixedToyRun(t)
	var buf bytes.Buffer
	if err := fuzz.WriteTraceTable(&buf, res.Run, fuzz.TraceFilter{Op: "write", Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "toy.table-writes.txt", buf.Bytes())
	if n := strings.Count(buf.String(), "toy write counter"); n != 6 {
		t.Fatalf("--op write kept %d rows, want 6", n)
	}
	buf.Reset()
	fuzz.WriteTraceTable(&buf, res.Run, fuzz.TraceFilter{Kind: "saga"})
	if strings.Contains(buf.String(), "toy") {
		t.Fatal("--kind saga kept a test actor's step")
	}
}

// TestHTMLInChromium opens the timeline in a headless Chromium, when one is
// installed, and checks the rendered DOM has the swimlanes.
func TestHTMLInChromium(t *testing.T) {
	var bin string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no chromium or chromium-browser on PATH")
	}
	res := fixedToyRun(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "timeline.html")
	var buf bytes.Buffer
	if err := fuzz.WriteHTMLTimeline(&buf, res.Run, res.Violation, fixedMeta(res)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--dump-dom", "file://"+page).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if n := strings.Count(dom, `class="lane k-test"`); n != 3 {
		t.Fatalf("rendered DOM has %d swimlanes, want 3:\n%s", n, dom)
	}
	if !strings.Contains(dom, `class="mark viol"`) || !strings.Contains(dom, "VIOLATION toy-lost-update") {
		t.Fatal("rendered DOM lacks the violation mark")
	}
}
