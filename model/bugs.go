package model

import "fmt"

// Bug is one pre-fix switch of spec 40: a behaviour PR #7046 changed,
// restored to the parent commit's.
type Bug struct {
	Name    string // spec 40 id
	Switch  string // spec 40 Go name
	Meaning string
	Oracle  string // the oracle that should report it first
	set     func(*Switches)
}

// Bugs lists the nine pre-fix switches in spec 40 order.
var Bugs = []Bug{
	{"no-new-region-volume", "BugNoNewRegionVolume", "start saga makes no new-region volume; the finish task completes the request directly (old finish path)", "inv-newregion", func(s *Switches) { s.NoNewRegionVolume = true }},
	{"start-ignores-deleted-region-snapshot", "BugNoCompleteFromRequested", "start task starts a saga even when the region snapshot is gone", "live-request", func(s *Switches) { s.NoCompleteFromRequested = true }},
	{"step-saga-for-deleted-volume", "BugNoStepVolumeDeletedFastPath", "step task starts a step saga for a deleted volume", "live-step", func(s *Switches) { s.NoStepVolumeDeletedFastPath = true }},
	{"step-for-soft-deleted-volume", "BugStepForSoftDeletedVolume", "step task creates steps for soft-deleted volumes", "ev-step-softdel", func(s *Switches) { s.StepForSoftDeletedVolume = true }},
	{"notify-deleted-volume", "BugNotifyDeletedVolume", "step saga notifies the Upstairs of a deleted volume", "ev-notify-deleted", func(s *Switches) { s.NotifyDeletedVolume = true }},
	{"hard-delete-volume-with-lingering-regions", "BugPrematureVolumeHardDelete", "volume delete hard-deletes each freed region's volume at once", "ev-harddel", func(s *Switches) { s.PrematureVolumeHardDelete = true }},
	{"lock-missing-volume", "BugLockWithoutVolume", "repair lock insert does not require the volume row", "ev-lock-missing", func(s *Switches) { s.LockWithoutVolume = true }},
	{"relock-not-idempotent", "BugRelockConflict", "re-taking the same repair lock is a conflict", "lock-owner-live", func(s *Switches) { s.RelockConflict = true }},
	{"substring-address-match", "BugSubstringAddressMatch", "volumes referencing an address are found by substring", "ev-step-noref", func(s *Switches) { s.SubstringAddressMatch = true }},
}

// SwitchesFor turns a list of bug names into switches.
func SwitchesFor(names []string) (Switches, error) {
	var s Switches
	for _, n := range names {
		found := false
		for _, b := range Bugs {
			if b.Name == n || b.Switch == n {
				b.set(&s)
				found = true
			}
		}
		if !found {
			return s, fmt.Errorf("unknown bug %q (see 'rsrsim list bugs')", n)
		}
	}
	return s, nil
}
