package scenarios

import (
	"errors"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/model"
)

// TestScenarios runs every scenario file with every switch off, with each
// switch alone and with all nine on, and holds each to its header: it
// passes with every switch off; it fails with exactly the switches its
// fails-with lines name (with the oracle named there); its parent line
// holds; a directed trigger fails with its switch's oracle (model.Bugs).
func TestScenarios(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			m, err := RunMatrix(sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.Problems() {
				t.Error(p)
			}
		})
	}
}

// TestCoverage: the suite has omicron's 26 tests (I1-I12, T1-T7, G1-G7)
// and one directed trigger per switch, each with a mirrors line.
func TestCoverage(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, sc := range all {
		have[sc.Name] = true
		if sc.Header.Mirrors == "" {
			t.Errorf("%s: no mirrors line", sc.File)
		}
		if strings.HasPrefix(sc.Name, "omicron/") && sc.Header.Parent == nil {
			t.Errorf("%s: no parent line (spec 30 §B.5)", sc.File)
		}
	}
	count := map[string]int{}
	for n := range have {
		if b, ok := strings.CutPrefix(n, "omicron/"); ok {
			count[b[:1]]++
		}
	}
	if count["i"] != 12 || count["t"] != 7 || count["g"] != 7 {
		t.Errorf("omicron scenarios: %d integration, %d task, %d saga tests; want 12, 7, 7", count["i"], count["t"], count["g"])
	}
	for _, b := range model.Bugs {
		if !have["bugs/"+b.Name] {
			t.Errorf("no directed trigger scenarios/bugs/%s.txt for switch %s", b.Name, b.Switch)
		}
	}
}

// TestRandomSchedules runs every scenario with every switch off under
// seeded uniform scheduling: the outcome must not depend on how the
// activations and sagas of one command interleave. Two of omicron's
// tests depend on timing (see knownRaces); they are held to that one
// deviation.
func TestRandomSchedules(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	seeds := 20
	if testing.Short() {
		seeds = 3
	}
	for _, sc := range all {
		for seed := 1; seed <= seeds; seed++ {
			r, err := Run(sc, Options{Sched: "random", Seed: uint64(seed)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Passed() {
				continue
			}
			if want, ok := knownRaces[sc.Name]; ok && r.Failure.Line == want.line && strings.Contains(r.Failure.Msg, want.msg) {
				continue
			}
			t.Errorf("seed %d: %s", seed, r)
		}
	}
}

// knownRaces: omicron's waits in I5 and I6 accept ReplacementDone (and
// Completing) but not Complete. If the drive saga ends before the same
// driver activation lists done requests, that activation also starts the
// finish saga, and the request can be Complete when the test looks: the
// test would panic ("unexpected state"). A timing assumption of the tests,
// not of Nexus.
var knownRaces = map[string]struct {
	line int
	msg  string
}{
	"omicron/i05-rr-replacement-done": {37, "is Complete, want ReplacementDone"},
	"omicron/i06-racing-replacements": {55, "is Complete, want ReplacementDone|Completing"},
}

// TestDeterminism: the same scenario and seed give the same run.
func TestDeterminism(t *testing.T) {
	sc, err := Find("i06")
	if err != nil {
		t.Fatal(err)
	}
	var steps []uint32
	for i := 0; i < 2; i++ {
		var b strings.Builder
		r, err := Run(sc, Options{Sched: "random", Seed: 7, Trace: &b})
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, r.Steps)
		if i == 1 && b.Len() == 0 {
			t.Fatal("no trace")
		}
	}
	if steps[0] != steps[1] {
		t.Fatalf("steps %v differ", steps)
	}
}

// TestParseErrors: a malformed scenario is reported as "file:line:
// message" before anything runs.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unknown command", "topology sleds=1\nfrobnicate D\n", "t.txt:2: unknown command \"frobnicate\""},
		{"near miss", "disk-creat D\n", "t.txt:1: unknown command \"disk-creat\" (did you mean \"disk-create\"?)"},
		{"missing argument", "disk-create\n", "t.txt:1: disk-create: want 1 argument(s), got 0"},
		{"extra argument", "disk-delete D E\n", "t.txt:1: disk-delete: want 1 argument(s), got 2"},
		{"unknown option", "\n\ndisk-create D colour=red\n", "t.txt:3: disk-create: unknown option \"colour\""},
		{"missing option", "snapshot-create S\n", "t.txt:1: snapshot-create: missing disk="},
		{"empty value", "disk-create D snapshot=\n", "t.txt:1: malformed argument \"snapshot=\": empty value"},
		{"option twice", "activate rr nexus=0 nexus=1\n", "t.txt:1: option \"nexus\" given twice"},
		{"unknown expect form", "expect frobs none\n", "t.txt:1: expect: unknown form \"frobs\""},
		{"expect arity", "expect volume V\n", "t.txt:1: expect: volume: want 2 argument(s), got 1"},
		{"dangling separator", "# c\n----\n", "t.txt:2: \"----\" must directly follow a command"},
		{"output on a silent command", "disk-create D\n----\nx\n", "t.txt:1: disk-create prints nothing"},
		{"unknown bug", "# fails-with: no-such-bug\ndrain\n", "t.txt:1: fails-with: unknown bug \"no-such-bug\""},
		{"unknown oracle", "# fails-with: lock-missing-volume oracle=nope\ndrain\n", "t.txt:1: fails-with: unknown oracle \"nope\""},
		{"directive typo", "# fail-with: lock-missing-volume\ndrain\n", "t.txt:1: unknown header directive \"fail-with\" (did you mean \"fails-with\"?)"},
		{"bad parent", "# parent: maybe\ndrain\n", "t.txt:1: parent: want \"passes\" or \"fails [oracle=<name>]\""},
		{"unknown switch", "switch nope\n", "t.txt:1: switch: unknown bug \"nope\""},
		{"unknown violation oracle", "drain\nexpect-violation nope\n", "t.txt:2: expect-violation: unknown oracle \"nope\""},
		{"empty", "# only a comment\n", "t.txt:2: no commands"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.txt", "t", c.text)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a ParseError", err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got  %q\nwant %q...", err.Error(), c.want)
			}
		})
	}
}

// TestScriptErrors: mistakes only visible when the scenario runs (a name
// used before it is bound, a setup command after an action) are bad input,
// also reported as "file:line: message".
func TestScriptErrors(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unbound name", "disk-delete D\n", "t.txt:4: disk-delete: unknown name D"},
		{"wrong kind", "disk-create D\nsnapshot-delete D\n", "t.txt:5: snapshot-delete: D is a disk, want a snapshot"},
		{"setup too late", "disk-create D\nseed 3\n", "t.txt:5: seed: a setup command must come before the first action"},
		{"rebinding", "disk-create D\ndisk-create D\n", "t.txt:5: disk-create: name D is already bound"},
		{"unknown field", "disk-create D\nexpect volume D.dst live\n", "t.txt:5: expect: D is a disk: it has no field \"dst\""},
		{"check-quiescence without drain", "check-quiescence\n", "t.txt:4: check-quiescence: check-quiescence needs a drain first"},
		{"unknown task", "activate frob\n", "t.txt:4: activate: unknown task \"frob\""},
	}
	env := "topology sleds=1 disks-per-sled=4\noption alloc=random\noracles disable region-set-redundancy\n"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, err := Parse("t.txt", "t", env+c.text)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(sc, Options{})
			if err == nil {
				t.Fatalf("got %v, want a script error", r)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got  %v\nwant %q...", err, c.want)
			}
		})
	}
}

// TestFailureReport: a failing assertion names its line and the pseudo
// oracle "assert".
func TestFailureReport(t *testing.T) {
	base := "topology sleds=1 disks-per-sled=4\noption simulated-agent alloc=random\noracles disable region-set-redundancy\ndisk-create D\n"
	run := func(text string) *Result {
		t.Helper()
		sc, err := Parse("t.txt", "t", base+text)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(sc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run("expect regions count=2\n")
	if r.Passed() || r.Failure.Line != 5 || r.Failure.Oracle != OracleAssert || r.Failure.Msg != "3 region rows, want 2" {
		t.Fatalf("got %v", r)
	}
}

// TestExpectViolation: a violation reported during a command fails the
// scenario at that command unless the next line acknowledges it.
func TestExpectViolation(t *testing.T) {
	text := `topology sleds=1 disks-per-sled=4
option simulated-agent alloc=random
oracles disable region-set-redundancy
disk-create D
snapshot-create S disk=D
disk-create DFS snapshot=S
bind R0 region-of D.vol index=0
bind RS0 region-snapshot region=R0 snapshot=S
snapshot-delete S
expunge RS0
activate-raw rsr-start
%s
expect requests count=1
`
	for _, c := range []struct {
		ack, oracle string
		line        int
		pass        bool
	}{
		{"", "ev-lock-missing", 11, false},
		{"expect-violation ev-lock-missing", "", 0, true},
		{"expect-violation lock-owner-live", OracleAssert, 12, false},
	} {
		sc, err := Parse("t.txt", "t", strings.Replace(text, "%s", c.ack, 1))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(sc, Options{Bugs: []string{"lock-missing-volume"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Passed() != c.pass {
			t.Fatalf("%q: got %v", c.ack, r)
		}
		if !c.pass && (r.Failure.Oracle != c.oracle || r.Failure.Line != c.line) {
			t.Fatalf("%q: got %v, want %s at line %d", c.ack, r, c.oracle, c.line)
		}
	}
}

// TestDocsTable: docs/scenarios.md holds the current tables.
func TestDocsTable(t *testing.T) {
	b, err := os.ReadFile(path.Join("..", "docs", "scenarios.md"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	var ms []*Matrix
	for _, sc := range all {
		m, err := RunMatrix(sc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if !strings.Contains(string(b), Markdown(ms)) {
		t.Errorf("docs/scenarios.md does not hold the current tables; regenerate them with\n  %s", MarkdownCommand)
	}
	if !strings.Contains(string(b), Reference()) {
		t.Errorf("docs/scenarios.md does not hold the current command reference (scenarios.Reference())")
	}
}

// TestStepSagaBefore: step-saga before=NODE stops a held saga just before
// the node's first atomic step; the saga resumes from there.
func TestStepSagaBefore(t *testing.T) {
	text := `topology sleds=1 disks-per-sled=4
option simulated-agent alloc=random
oracles disable region-set-redundancy
disk-create D
snapshot-create S disk=D
disk-create DFS snapshot=S
bind R0 region-of D.vol index=0
bind RS0 region-snapshot region=R0 snapshot=S
rsr-request Q rs=RS0
activate rsr-start
activate rsr-gc
activate rsr-step hold-sagas saga=G
step-saga G before=replace_snapshot_in_volume
expect steps state=Running count=1
expect volumes-referencing RS0 is=DFS.vol
run-saga G
----
done

bind ST step-for DFS.vol
expect step ST state=Complete
expect volumes-referencing RS0 is=ST.old-snapshot-volume
`
	sc, err := Parse("t.txt", "t", text)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Passed() {
		t.Fatal(r)
	}
}
