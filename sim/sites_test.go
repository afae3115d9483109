package sim

import "testing"

// TestSiteRateOffIsKnob: without site mode every site gets the knob's rate,
// so strategies other than SiteBuggify draw exactly what they drew before.
func TestSiteRateOffIsKnob(t *testing.T) {
	knobs := []Knob{{Name: "crash", Default: 20, Fault: true}, {Name: "off", Default: 0, Fault: true}}
	r := NewRun(Config{Knobs: knobs}, NewPRNG(1), Uniform{})
	if r.SiteMode() {
		t.Fatal("uniform turned site mode on")
	}
	for s := range uint64(100) {
		if got := r.SiteRate(0, SiteHash(0, "saga", string(rune('a'+s%26)))); got != 20 {
			t.Fatalf("site %d: rate %d, want the knob's 20", s, got)
		}
	}
}

// TestSiteBuggifyEnablesSomeSites: under SiteBuggify about Enable/1000 of
// the sites run hot, the rest at Cold/1000 of the knob's rate; different
// runs enable different sites; a knob at 0 stays off everywhere.
func TestSiteBuggifyEnablesSomeSites(t *testing.T) {
	knobs := []Knob{{Name: "crash", Default: 20, Fault: true}, {Name: "off", Default: 0, Fault: true}}
	sites := make([]uint64, 400)
	for i := range sites {
		sites[i] = SiteHash(0, "saga", string(rune(0x100+i)))
	}
	enabledIn := make([]int, len(sites))
	const runs = 40
	for seed := range uint64(runs) {
		r := NewRun(Config{Knobs: knobs}, NewPRNG(seed), &SiteBuggify{Inner: Uniform{}, Enable: 250, Hot: 300, Cold: 500})
		if !r.SiteMode() {
			t.Fatal("site mode off")
		}
		hot := 0
		for i, s := range sites {
			switch got := r.SiteRate(0, s); got {
			case 300:
				hot++
				enabledIn[i]++
			case 10:
			default:
				t.Fatalf("seed %d site %d: rate %d, want 300 (hot) or 10 (cold)", seed, i, got)
			}
			if r.SiteRate(1, s) != 0 {
				t.Fatal("a knob at 0 fired at a site")
			}
		}
		if hot < len(sites)/8 || hot > len(sites)/2 {
			t.Errorf("seed %d: %d of %d sites hot, want about a quarter", seed, hot, len(sites))
		}
	}
	for i, n := range enabledIn {
		if n == 0 || n == runs {
			t.Errorf("site %d enabled in %d of %d runs: the salt does not vary the choice", i, n, runs)
		}
	}
}

// TestPortfolioPicksBothArmsAndShapesKnobs: each run takes one arm; the
// test-style arm sets the shape knobs a target defines and ignores the ones
// it does not; the other arm leaves them at their defaults.
func TestPortfolioPicksBothArmsAndShapesKnobs(t *testing.T) {
	knobs := []Knob{{Name: "act", Default: 30}, {Name: ShapeTasksOnDemand}, {Name: ShapeActionsX},
		{Name: "crash", Default: 10, Fault: true}}
	shaped := 0
	const runs = 200
	for seed := range uint64(runs) {
		st, err := NewStrategy("portfolio-pct", 3, 100)
		if err != nil {
			t.Fatal(err)
		}
		r := NewRun(Config{Knobs: knobs}, NewPRNG(seed), st)
		switch {
		case r.Knob(1) == 1 && r.Knob(2) == 2:
			shaped++
		case r.Knob(1) == 0 && r.Knob(2) == 0:
		default:
			t.Fatalf("seed %d: shape knobs %d, %d: want all set or none", seed, r.Knob(1), r.Knob(2))
		}
		if r.Knob(0) != 30 {
			t.Fatalf("seed %d: an action weight changed", seed)
		}
	}
	if shaped < runs/4 || shaped > 3*runs/4 {
		t.Errorf("test-style arm in %d of %d runs, want about half", shaped, runs)
	}
}
