package fuzz

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// findingSignatures pins, for each finding of FINDINGS.md, the violation
// signature its shrunk failure file must still produce with every pre-fix
// switch off. If the model changes so that a file no longer reproduces its
// finding, this test fails: re-find it with a campaign, shrink it again and
// update the file, or record why the finding is gone.
var findingSignatures = map[string]string{
	"F1":   "region-set-redundancy:same-sled",
	"F2":   "lock-owner-live:saga-stuck-disk-deleted",
	"F2b":  "lock-owner-live:saga-failed-disk-deleted",
	"F2c":  "end-no-stuck-saga:snapshot-create/start_running_snapshot_undo",
	"F2d":  "end-no-stuck-saga:snapshot-create/volume_lock/rerun",
	"F9c":  "end-ro-refcount",
	"F10d": "no-free-while-referenced:read-write-region",
	"F11e": "inv-newregion:Running-gone",
	"F3":   "ev-harddel:region-not-in-vcr",
	"F4":   "live-request:Requested",
	"F5":   "end-task-errors:region_snapshot_replacement_start",
	"F6":   "end-no-stuck-saga:region-snapshot-replacement-start/set_saga_id/rerun",
	"F7":   "end-no-resources:usage-row-of-missing-volume",
	"F8":   "end-no-resources:agent-object",
	"F9":   "end-no-resources:read-write-region",
	"F9b":  "live-request:Running",
	"F10":  "no-orphaned-rw-region",
	"F10b": "no-orphaned-rw-region",
	"F10c": "v1-target-resolves:read-write",
	"F11":  "inv-newregion:DeletingOldVolume-gone",
	"F12":  "no-free-while-referenced:read-only-region",
	"F13":  "end-no-expunged-dependency:read-only",
	"F14b": "end-no-stuck-saga:snapshot-create/created_snapshot/rerun",
	"F14":  "lock-owner-live:saga-stuck-disk-live",
	"F15":  "end-no-resources:read-only-region",
	"F19":  "live-step:Requested-volume-live",
	"F20":  "usage-matches-vcr:extra-rows",
	"F21":  "end-no-resources:volume-names-replaced-address",
	"F22":  "end-relock-ok:volume-missing",
	"F23":  "end-no-stuck-saga:region-snapshot-replacement-start/replace_snapshot_in_volume",
	"F24":  "live-request:ReplacementDone",
	"F24b": "live-region-replacement:ReplacementDone",
	"F24c": "live-step:Complete-volume-live",
	"F25":  "no-free-while-referenced:region-snapshot",
	"F26":  "live-region-replacement:Requested",
	"F27":  "end-disk-usable:maintenance",
	"F28":  "end-no-stuck-saga:region-replacement-start/replace_region_in_volume",
	"F28b": "end-no-stuck-saga:region-replacement-start/set_saga_id",
	"F28c": "v1-target-resolves:read-write",
	"F28d": "region-set-redundancy:same-zpool",
	"F29":  "end-no-stuck-saga:region-replacement-drive/set_saga_id",
	"F31":  "region-set-redundancy:same-target",
	"F30":  "end-no-stuck-saga:region-snapshot-replacement-step/replace_snapshot_in_volume/rerun",
	"F29b": "end-no-stuck-saga:region-snapshot-replacement-garbage-collect/set_saga_id",
	"F11f": "end-no-stuck-saga:region-snapshot-replacement-start/replace_snapshot_in_volume",
	"F11g": "end-no-stuck-saga:region-snapshot-replacement-step/set_saga_id",
	"F11h": "end-no-stuck-saga:region-snapshot-replacement-start/set_saga_id",
	"F11i": "end-no-stuck-saga:region-snapshot-replacement-start/replace_snapshot_in_volume/rerun",
	"F11b": "end-no-stuck-saga:region-snapshot-replacement-step/replace_snapshot_in_volume",
	"F11c": "v1-target-resolves:read-only",
	"F11d": "inv-newregion:ReplacementDone-gone",
	"F25b": "v1-target-resolves:read-only",
}

func TestFindingsStayDetectable(t *testing.T) {
	files, _ := filepath.Glob("testdata/findings/*.json")
	if len(files) != len(findingSignatures) {
		t.Errorf("%d finding files, %d pinned signatures", len(files), len(findingSignatures))
	}
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(id, func(t *testing.T) {
			want, ok := findingSignatures[id]
			if !ok {
				t.Fatalf("no pinned signature for %s", id)
			}
			ff, ds, err := LoadFailure(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(ff.TargetConfig) > 0 && strings.Contains(string(ff.TargetConfig), `"bugs"`) {
				t.Fatalf("%s turns a pre-fix switch on: findings must reproduce with every switch off", id)
			}
			if len(ff.TargetConfig) > 0 && strings.Contains(string(ff.TargetConfig), `"disable_oracles"`) {
				t.Fatalf("%s disables oracles: findings must reproduce with every oracle on", id)
			}
			tg, err := NewTarget(ff.Target, ff.TargetConfig)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Execute(tg, ff.Engine, sim.NewReplay(ds), RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Violation == nil {
				t.Fatalf("%s no longer reproduces: no violation (want %s)", id, want)
			}
			if res.Violation.Signature != want {
				t.Fatalf("%s reproduces %q, want %q", id, res.Violation.Signature, want)
			}
			if got := FormatHash(res.Hash); got != ff.TraceHash {
				t.Logf("%s: trace hash %s differs from the file's %s (the model changed; the finding still reproduces)", id, got, ff.TraceHash)
			}
		})
	}
}

// TestTriageFilesReproduce replays the failure files of FINDINGS.md's "Not
// yet triaged" list: each must still report the signature it was saved
// with, so nothing found is lost before someone triages it.
func TestTriageFilesReproduce(t *testing.T) {
	files, _ := filepath.Glob("testdata/triage/*.json")
	if len(files) == 0 {
		t.Skip("no parked failure files (FINDINGS.md, Not yet triaged)")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ff, ds, err := LoadFailure(f)
			if err != nil {
				t.Fatal(err)
			}
			if ff.Violation == nil {
				t.Fatalf("%s records no violation", f)
			}
			tg, err := NewTarget(ff.Target, ff.TargetConfig)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Execute(tg, ff.Engine, sim.NewReplay(ds), RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Violation == nil || res.Violation.Signature != ff.Violation.Signature {
				t.Fatalf("%s no longer reproduces %q: got %v", f, ff.Violation.Signature, res.Violation)
			}
			if KnownFindingsFor(ff.Violation.Signature) != "" {
				t.Fatalf("%s is labelled %s now: move it to testdata/findings", f, KnownFindingsFor(ff.Violation.Signature))
			}
		})
	}
}
