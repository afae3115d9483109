package fuzz_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/oxide-sim/rsrsim/fuzz"
	"github.com/oxide-sim/rsrsim/sim"
)

func toyTarget(t testing.TB, cfg string) fuzz.Target {
	t.Helper()
	tg, err := fuzz.NewTarget("toy", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestByteWidthMatchesBytesChooser(t *testing.T) {
	for _, n := range []uint32{2, 255, 256, 257, 65535, 65536, 65537, 1 << 20, 1<<32 - 1} {
		want := fuzz.ByteWidth(n)
		// Feed exactly want bytes: the chooser must consume all of them,
		// and with one byte fewer it must run out.
		c := sim.NewBytes(bytes.Repeat([]byte{1}, want))
		c.Choose(sim.KSched, int(n))
		if !c.Exhausted() {
			t.Errorf("n=%d: ByteWidth says %d bytes but sim.Bytes consumed fewer", n, want)
		}
		c = sim.NewBytes(bytes.Repeat([]byte{1}, want+1))
		c.Choose(sim.KSched, int(n))
		if c.Exhausted() {
			t.Errorf("n=%d: ByteWidth says %d bytes but sim.Bytes consumed more", n, want)
		}
	}
}

// TestDecisionBytesRoundTrip: any run's recorded decisions, encoded as
// bytes, drive sim.NewBytes through the same decisions, so the trace hash
// is the same. Checked for uniform (one-byte choices) and PCT (four-byte
// priority draws) on fixed seeds.
func TestDecisionBytesRoundTrip(t *testing.T) {
	tg := toyTarget(t, `{"workers":4,"incs":3}`)
	for _, strat := range []string{"uniform", "pct", "swarm"} {
		eng := fuzz.DefaultEngine()
		eng.Strategy, eng.PCTK = strat, 24
		for seed := uint64(1); seed <= 40; seed++ {
			orig, err := fuzz.ExecuteSeed(tg, eng, seed, fuzz.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			data := fuzz.DecisionBytes(orig.Decisions)
			back, err := fuzz.ExecuteBytes(tg, eng, data, fuzz.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if back.Hash != orig.Hash {
				t.Fatalf("%s seed %d: bytes give trace hash %x, the seeded run %x", strat, seed, back.Hash, orig.Hash)
			}
			if d := cmp.Diff(orig.Decisions, back.Decisions); d != "" {
				t.Fatalf("%s seed %d: decisions differ (-seed +bytes):\n%s", strat, seed, d)
			}
		}
	}
}

// TestBytesRecordReplayProperty: for arbitrary fuzzer bytes, the decisions
// the run records replay (sim.NewReplay) and re-encode (DecisionBytes) to
// the same trace hash. This is what import-fuzz and export-fuzz rely on.
func TestBytesRecordReplayProperty(t *testing.T) {
	tg := toyTarget(t, `{"workers":3,"incs":3}`)
	rapid.Check(t, func(rt *rapid.T) {
		data := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(rt, "data")
		strat := rapid.SampledFrom([]string{"uniform", "pct", "swarm-pct"}).Draw(rt, "strategy")
		eng := fuzz.DefaultEngine()
		eng.Strategy, eng.PCTK = strat, 20
		a, err := fuzz.ExecuteBytes(tg, eng, data, fuzz.RunOptions{})
		if err != nil {
			rt.Fatal(err)
		}
		b, _ := fuzz.Execute(tg, eng, sim.NewReplay(a.Decisions), fuzz.RunOptions{})
		c, _ := fuzz.ExecuteBytes(tg, eng, fuzz.DecisionBytes(a.Decisions), fuzz.RunOptions{})
		if a.Hash != b.Hash || a.Hash != c.Hash {
			rt.Fatalf("bytes %x, replay %x, re-encoded bytes %x", a.Hash, b.Hash, c.Hash)
		}
	})
}

func TestCorpusFileRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, data := range [][]byte{{}, []byte("hello"), all, []byte("\"\\`\n\r\x00")} {
		got, err := fuzz.ParseCorpus("x", fuzz.MarshalCorpus(data))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip of %q gave %q", data, got)
		}
	}
	// What go test -fuzz itself writes parses too, including raw strings.
	got, err := fuzz.ParseCorpus("x", []byte("go test fuzz v1\r\n[]byte(`ab`)\n\n"))
	if err != nil || string(got) != "ab" {
		t.Fatalf("raw string literal: %q, %v", got, err)
	}
}

func TestCorpusFileBadInput(t *testing.T) {
	cases := map[string]string{
		"empty":          "",
		"no header":      "[]byte(\"a\")\n",
		"wrong version":  "go test fuzz v2\n[]byte(\"a\")\n",
		"no value":       "go test fuzz v1\n",
		"truncated":      "go test fuzz v1\n[]byte(\"abc",
		"two values":     "go test fuzz v1\n[]byte(\"a\")\n[]byte(\"b\")\n",
		"wrong type":     "go test fuzz v1\nint(3)\n",
		"string type":    "go test fuzz v1\nstring(\"a\")\n",
		"not a literal":  "go test fuzz v1\n[]byte(x)\n",
		"array type":     "go test fuzz v1\n[4]byte(\"a\")\n",
		"json by accide": "{\"version\":1}\n",
	}
	for name, body := range cases {
		_, err := fuzz.ParseCorpus("f", []byte(body))
		if err == nil {
			t.Errorf("%s: parsed without error", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "f: ") {
			t.Errorf("%s: want one line naming the file, got %q", name, msg)
		}
	}
}

// TestSeedCorpus checks every committed seed: it parses, it runs without
// a harness error or model panic, and on a target without known findings
// it passes.
func TestSeedCorpus(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "fuzz"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		spec, ok := fuzz.LookupNative(d.Name())
		if !ok {
			t.Errorf("testdata/fuzz/%s has no fuzz function", d.Name())
			continue
		}
		files, _ := os.ReadDir(filepath.Join("testdata", "fuzz", d.Name()))
		for _, f := range files {
			data, err := fuzz.LoadCorpus(filepath.Join("testdata", "fuzz", d.Name(), f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			n++
			tg, err := spec.Build()
			if err != nil {
				t.Fatal(err)
			}
			res, err := fuzz.ExecuteBytes(tg, spec.Engine, data, fuzz.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			newRSR := spec.Target == "rsr" && res.Violation != nil && fuzz.KnownFindingsFor(res.Violation.Signature) == ""
			if v := res.Violation; v != nil && (!spec.Findings || v.Oracle == "model-panic" || newRSR) {
				t.Errorf("seed %s/%s fails: %v", d.Name(), f.Name(), v)
			}
		}
	}
	if n == 0 {
		t.Fatal("no seed corpus found")
	}
}

// TestToyRaceIsFindableFromBytes: FuzzToyRace really has a bug reachable
// from bytes (one byte suffices), and FuzzToy has none there.
func TestToyRaceIsFindableFromBytes(t *testing.T) {
	spec, _ := fuzz.LookupNative("FuzzToyRace")
	tg, err := spec.Build()
	if err != nil {
		t.Fatal(err)
	}
	res, err := fuzz.ExecuteBytes(tg, spec.Engine, []byte{1}, fuzz.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Violation == nil || res.Violation.Signature != "toy-lost-update" {
		t.Fatalf("byte 0x01 should lose an update, got %v", res.Violation)
	}
	spec, _ = fuzz.LookupNative("FuzzToy")
	tg, _ = spec.Build()
	if res, _ := fuzz.ExecuteBytes(tg, spec.Engine, []byte{1}, fuzz.RunOptions{}); res.Violation != nil {
		t.Fatalf("atomic toy must not fail: %v", res.Violation)
	}
}

func TestMatchNative(t *testing.T) {
	spec, _ := fuzz.LookupNative("FuzzToyRace")
	tg, _ := spec.Build()
	got, ok := fuzz.MatchNative("toy", tg.Config(), spec.Engine)
	if !ok || got.Fuzz != "FuzzToyRace" {
		t.Fatalf("MatchNative = %v, %v", got.Fuzz, ok)
	}
	eng := spec.Engine
	eng.Strategy = "pct"
	if _, ok := fuzz.MatchNative("toy", tg.Config(), eng); ok {
		t.Fatal("a pct failure must not match a swarm fuzz function")
	}
}
