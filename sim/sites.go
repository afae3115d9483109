package sim

// Per-site fault injection, as FoundationDB's BUGGIFY does it: a fault site
// is one place in the model's code where a fault kind can hit (for a saga,
// one node of one saga type). Each run enables a random subset of the sites
// and makes faults at enabled sites much more likely than the knob's rate,
// while the other sites keep a low rate. A run then exercises a few sites
// hard (a crash right after one particular node, every time that node
// runs) without drowning in faults everywhere else, which is what a bug
// that needs one specific fault wants.
//
// Without site mode (every strategy except SiteBuggify) SiteRate is the
// knob's rate, so existing strategies draw exactly what they drew before.

type siteFaults struct {
	on     bool
	salt   uint64
	enable uint64 // per mille of sites enabled in this run
	hot    int    // rate at an enabled site, per mille
	cold   int    // rate elsewhere, per mille of the knob's rate
}

// SiteHash names a fault site: fault kind f at place (a, b), for example a
// saga type and one of its nodes. Stable across binaries and runs.
func SiteHash(f int, a, b string) uint64 {
	return mix(mix(mix(fnvOffset, uint64(f)), nameHash(a)), nameHash(b))
}

// SiteMode reports whether the run's strategy rates faults per site; when
// false SiteRate(f, s) is Knob(f) for every s, and callers may skip
// computing the site's hash.
func (r *Run) SiteMode() bool { return r.sites.on }

// SiteRate is the rate (per mille) of fault kind f at site.
func (r *Run) SiteRate(f int, site uint64) int {
	p := r.knobs[f]
	if !r.sites.on || p <= 0 {
		return p
	}
	if mix(r.sites.salt, site)%1000 < r.sites.enable {
		return max(p, r.sites.hot)
	}
	return p * r.sites.cold / 1000
}

// SetSiteFaults turns site mode on for this run: a site is enabled with
// probability enable/1000 (decided by a hash of the site and salt, so the
// same site is enabled for the whole run), fires at hot per mille when
// enabled and at cold/1000 of its knob's rate otherwise. A knob at 0 stays
// off everywhere.
func (r *Run) SetSiteFaults(salt uint64, enable, hot, cold int) {
	r.sites = siteFaults{on: true, salt: salt, enable: uint64(enable), hot: hot, cold: cold}
}
