package fuzz

import (
	"slices"
	"strings"
)

// KnownFinding ties the violation signatures a campaign reports to one
// finding of FINDINGS.md: a problem in the reference logic (omicron at
// 09b150f177) that rsrsim reports with every pre-fix switch off.
//
// Campaigns label each signature with the findings it belongs to, so a user
// who changed the model can tell the problems already on record from new
// ones (`rsrsim run --fail-on new`). Keep this table in step with
// FINDINGS.md: TestKnownFindingsMatchFindingsFile checks the pinned finding
// files and the FINDINGS.md index against it, and TestCampaignFindsNoNewSignature
// fails when a campaign with every switch off reports a signature that is
// not here (triage it: a modelling error to fix, or a new finding to record).
type KnownFinding struct {
	ID string
	// Signatures are patterns over violation signatures; '*' matches any
	// run of characters, '/' included.
	Signatures []string
}

// KnownFindings lists, per finding, every signature campaigns have shown it
// under (its first violation depends on what else the run did). Every
// pattern is witnessed by a pinned finding file of that finding
// (fuzz/testdata/findings; TestEveryKnownPatternIsWitnessed), so no label
// is broader than what was triaged. F16-F18 are
// found by the saga checks only (model/sagacheck_test.go), not by campaigns;
// F27 by both.
var KnownFindings = []KnownFinding{
	{"F1", []string{"region-set-redundancy:same-sled"}},
	{"F2", []string{"lock-owner-live:saga-stuck-disk-deleted", "lock-owner-live:saga-failed-disk-deleted",
		"end-no-stuck-saga:snapshot-create/volume_lock/rerun", "end-no-stuck-saga:snapshot-create/start_running_snapshot_undo"}},
	{"F3", []string{"ev-harddel:region-not-in-vcr"}},
	{"F4", []string{"live-request:Requested"}},
	{"F5", []string{"end-task-errors:region_snapshot_replacement_start"}},
	{"F6", []string{"end-no-stuck-saga:*/set_saga_id/rerun"}},
	{"F7", []string{"end-no-resources:usage-row-of-missing-volume"}},
	{"F8", []string{"end-no-resources:agent-object"}},
	{"F9", []string{"end-no-resources:read-write-region", "live-request:Running", "end-ro-refcount"}},
	{"F10", []string{"no-orphaned-rw-region", "v1-target-resolves:read-write", "no-free-while-referenced:read-write-region"}},
	{"F11", []string{"inv-newregion:DeletingOldVolume-gone", "inv-newregion:Running-gone", "inv-newregion:ReplacementDone-gone",
		"end-no-stuck-saga:region-snapshot-replacement-step/replace_snapshot_in_volume", "v1-target-resolves:read-only",
		"end-no-stuck-saga:region-snapshot-replacement-start/replace_snapshot_in_volume",
		"end-no-stuck-saga:region-snapshot-replacement-step/set_saga_id",
		"end-no-stuck-saga:region-snapshot-replacement-start/set_saga_id",
		"end-no-stuck-saga:region-snapshot-replacement-start/replace_snapshot_in_volume/rerun"}},
	{"F12", []string{"no-free-while-referenced:read-only-region"}},
	{"F13", []string{"end-no-expunged-dependency:read-only"}},
	{"F14", []string{"lock-owner-live:saga-stuck-disk-live", "end-no-stuck-saga:snapshot-create/created_snapshot/rerun"}},
	{"F15", []string{"end-no-resources:read-only-region"}},
	{"F19", []string{"live-step:Requested-volume-live"}},
	{"F20", []string{"usage-matches-vcr:extra-rows"}},
	{"F21", []string{"end-no-resources:volume-names-replaced-address"}},
	{"F22", []string{"end-relock-ok:volume-missing"}},
	{"F23", []string{"end-no-stuck-saga:region-snapshot-replacement-start/replace_snapshot_in_volume"}},
	{"F24", []string{"live-request:ReplacementDone", "live-region-replacement:ReplacementDone", "live-step:Complete-*"}},
	{"F25", []string{"no-free-while-referenced:region-snapshot", "v1-target-resolves:read-only"}},
	{"F26", []string{"live-region-replacement:Requested"}},
	{"F27", []string{"end-disk-usable:maintenance"}},
	{"F28", []string{"end-no-stuck-saga:region-replacement-start/replace_region_in_volume",
		"end-no-stuck-saga:region-replacement-start/set_saga_id", "v1-target-resolves:read-write",
		"region-set-redundancy:same-zpool"}},
	{"F29", []string{"end-no-stuck-saga:region-replacement-drive/set_saga_id",
		"end-no-stuck-saga:region-snapshot-replacement-garbage-collect/set_saga_id"}},
	{"F30", []string{"end-no-stuck-saga:region-snapshot-replacement-step/replace_snapshot_in_volume/rerun"}},
	{"F31", []string{"region-set-redundancy:same-target"}},
}

// KnownFindingsFor returns the ids of the findings whose patterns match sig,
// comma-separated ("" when none does: a new signature).
func KnownFindingsFor(sig string) string {
	var ids []string
	for _, k := range KnownFindings {
		for _, p := range k.Signatures {
			if globMatch(p, sig) {
				ids = append(ids, k.ID)
				break
			}
		}
	}
	return strings.Join(ids, ",")
}

// knownLabel is the label a campaign of t gives sig: the findings it
// belongs to, or "" for a new signature. Only the rsr target has findings.
// With a pre-fix switch on, a signature that switch's detector matches is
// never labelled known: some switches show the same signature as a finding
// (switch #2 and F4: live-request:Requested), and a user hunting a switch
// must see it as new.
func knownLabel(t Target, sig string) string {
	rt, ok := t.(*rsrTarget)
	if !ok {
		return ""
	}
	for _, bt := range BugTargets {
		if slices.Contains(rt.cfg.Bugs, bt.Bug) && bt.Match(sig) {
			return ""
		}
	}
	return KnownFindingsFor(sig)
}

// globMatch reports whether s matches p, where '*' matches any run of
// characters (including none) and every other byte matches itself.
func globMatch(p, s string) bool {
	// Classic greedy matching with one backtrack point per '*'.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
