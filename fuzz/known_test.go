package fuzz

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"a", "a", true},
		{"a", "ab", false},
		{"ab", "a", false},
		{"*", "", true},
		{"*", "x/y:z", true},
		{"end-no-stuck-saga:*/set_saga_id", "end-no-stuck-saga:region-replacement-drive/set_saga_id", true},
		{"end-no-stuck-saga:*/set_saga_id", "end-no-stuck-saga:snapshot-create/volume_lock", false},
		{"end-no-stuck-saga:*/set_saga_id", "end-no-stuck-saga:a/set_saga_id/set_saga_idx", false},
		{"a*b*c", "abxbc", true},
		{"a*b*c", "acb", false},
		{"**", "x", true},
	}
	for _, c := range cases {
		if got := globMatch(c.p, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

// baseID maps a finding file's name to its finding: F2b → F2, F10c → F10.
func baseID(id string) string { return strings.TrimRight(id, "abcdefghijklmnopqrstuvwxyz") }

// TestKnownFindingsMatchFindingsFile keeps KnownFindings, the pinned finding
// files and the index table of FINDINGS.md in step.
func TestKnownFindingsMatchFindingsFile(t *testing.T) {
	for file, sig := range findingSignatures {
		ids := "," + KnownFindingsFor(sig) + ","
		if !strings.Contains(ids, ","+baseID(file)+",") {
			t.Errorf("finding file %s.json reports %q, which KnownFindings gives to %q, not to %s", file, sig, strings.Trim(ids, ","), baseID(file))
		}
	}
	if got := KnownFindingsFor("made-up-oracle:shape"); got != "" {
		t.Errorf("an unknown signature is classified as %q, want new", got)
	}

	b, err := os.ReadFile("../FINDINGS.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (F\d+) \| (.*?) \|`)
	inIndex := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		inIndex[m[1]] = true
		if strings.HasPrefix(m[2], "saga check") {
			continue // found by the saga checks, never by a campaign
		}
		found := false
		for _, k := range KnownFindings {
			found = found || k.ID == m[1]
		}
		if !found {
			t.Errorf("FINDINGS.md lists %s, which KnownFindings lacks", m[1])
		}
	}
	if len(inIndex) == 0 {
		t.Fatal("no index rows parsed from FINDINGS.md")
	}
	// every campaign finding keeps a pinned, replayed file
	pinned := map[string]bool{}
	for file := range findingSignatures {
		pinned[baseID(file)] = true
	}
	for _, k := range KnownFindings {
		if !pinned[k.ID] {
			t.Errorf("%s has no pinned finding file in testdata/findings", k.ID)
		}
	}
	for _, k := range KnownFindings {
		if !inIndex[k.ID] {
			t.Errorf("KnownFindings has %s, which FINDINGS.md's index lacks", k.ID)
		}
	}
}

// TestEveryKnownPatternIsWitnessed: each signature pattern of a finding
// matches the signature of at least one pinned file of that finding, so a
// label never covers more than what was triaged and replays today.
func TestEveryKnownPatternIsWitnessed(t *testing.T) {
	for _, k := range KnownFindings {
		for _, p := range k.Signatures {
			ok := false
			for file, sig := range findingSignatures {
				ok = ok || (baseID(file) == k.ID && globMatch(p, sig))
			}
			if !ok {
				t.Errorf("%s's pattern %q matches no pinned file of %s", k.ID, p, k.ID)
			}
		}
	}
}

// newSignatures runs a campaign and returns the signatures that are no
// known finding's.
func newSignatures(t *testing.T, profile, strategy string, runs int, bug string) []SigStat {
	t.Helper()
	raw, err := RSRProfile(profile)
	if err != nil {
		t.Fatal(err)
	}
	if bug != "" {
		raw = []byte(strings.TrimSuffix(string(raw), "}") + `,"bugs":["` + bug + `"]}`)
	}
	tg, err := NewTarget("rsr", raw)
	if err != nil {
		t.Fatal(err)
	}
	eng := DefaultEngine()
	eng.Strategy = strategy
	s, err := (&Campaign{Target: tg, Engine: eng, Seed: 1, Runs: runs, Workers: 2}).Run()
	if err != nil {
		t.Fatal(err)
	}
	var out []SigStat
	for _, st := range s.Signatures {
		if st.Known == "" {
			out = append(out, st)
		}
	}
	if len(out) != s.NewSignatures {
		t.Fatalf("summary counts %d new signatures, the table has %d", s.NewSignatures, len(out))
	}
	return out
}

// TestCampaignFindsNoNewSignature: with every switch off, campaigns of both
// profiles report only signatures of known findings. When this fails after
// a model change, replay the named seed: either the change introduced a
// modelling error, or the campaign found something new, which goes into
// FINDINGS.md (with a pinned file) and KnownFindings.
func TestCampaignFindsNoNewSignature(t *testing.T) {
	for _, c := range []struct{ profile, strategy string }{{"default", "swarm"}, {"rsr-focus", "pct"}} {
		for _, st := range newSignatures(t, c.profile, c.strategy, 1000, "") {
			t.Errorf("profile %s, strategy %s: new signature %s (oracle %s) first at seed %d: %s",
				c.profile, c.strategy, st.Signature, st.Oracle, st.FirstSeed, st.Detail)
		}
	}
	// The check can fail: a pre-fix switch's signature is new, also when
	// it equals a finding's (switch #2 shows live-request:Requested, F4's).
	if len(newSignatures(t, "rsr-focus", "pct", 20, "hard-delete-volume-with-lingering-regions")) == 0 {
		t.Fatal("with a pre-fix switch on, the campaign reported no new signature")
	}
	if got := KnownFindingsFor("live-request:Requested"); got != "F4" {
		t.Fatalf("live-request:Requested is labelled %q, want F4", got)
	}
	raw, _ := RSRProfile("rsr-focus")
	raw = []byte(strings.TrimSuffix(string(raw), "}") + `,"bugs":["start-ignores-deleted-region-snapshot"]}`)
	tg, err := NewTarget("rsr", raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := knownLabel(tg, "live-request:Requested"); got != "" {
		t.Fatalf("with switch #2 on, its signature is labelled %q, want new", got)
	}
}
