package model

import "github.com/oxide-sim/rsrsim/sim"

// Events are what an acting step reports about itself for the event-check
// oracles (spec 40 §13): facts judged against what that actor read, which
// the state after the step cannot show. The model only reports; the
// invariants package judges.

// EventKind names an event.
type EventKind uint8

const (
	// EvStepInserted: the step task inserted a step for Volume. The scan
	// had read the volume as soft-deleted (ScannedSoftDeleted) and its VCR
	// as referencing the region snapshot address exactly
	// (ScannedReferences). Judged by EV-STEP-SOFTDEL and EV-STEP-NOREF.
	EvStepInserted EventKind = iota
	// EvNotifyAttempt: a step saga's NOTIFY_UPSTAIRS went past its
	// deleted-volume check. ReplaceResultDeleted is what its replace node
	// returned. Judged by EV-NOTIFY-DELETED.
	EvNotifyAttempt
	// EvVolumeHardDeleted: a volume-delete saga hard-deleted Volume (its
	// freed-volumes loop or its last node). Judged by EV-HARDDEL right
	// after the step.
	EvVolumeHardDeleted
	// EvLockInserted: a repair lock row was inserted; VolumeExisted says
	// whether the volume row existed in that transaction. Judged by
	// EV-LOCK-MISSING.
	EvLockInserted
)

var eventNames = [...]string{"step-inserted", "notify-attempt", "volume-hard-deleted", "lock-inserted"}

func (k EventKind) String() string { return eventNames[k] }

// Event is one reported fact.
type Event struct {
	Kind                 EventKind
	Volume               UUID
	Step                 UUID
	Request              UUID
	Repair               UUID
	ScannedSoftDeleted   bool
	ScannedReferences    bool
	ReplaceResultDeleted bool
	VolumeExisted        bool
	Saga                 *Saga
	// VCR is the hard-deleted volume's last VCR (EvVolumeHardDeleted).
	VCR *VCR
}

// emit records an event for the oracles. Events are buffered in the world
// and drained after each atomic step.
func (w *World) emit(e Event) {
	if w.eventsOff {
		return
	}
	w.Events = append(w.Events, e)
}

// TakeEvents returns the events reported since the last call and clears
// the buffer (the returned slice is reused by the next call).
func (w *World) TakeEvents() []Event {
	ev := w.Events
	w.Events = w.Events[:0]
	return ev
}

// VCRReferencesAddr is the post-fix match of
// find_volumes_referencing_socket_addr (see vcrReferencesAddrExactly).
func VCRReferencesAddr(v *VCR, addr Addr) bool { return vcrReferencesAddrExactly(v, addr) }

// vcrReferencesAddrExactly is the post-fix match of
// find_volumes_referencing_socket_addr: addr is a target of a Region under
// sub_volumes (any read_only flag), or of a read-only Region anywhere.
func vcrReferencesAddrExactly(v *VCR, addr Addr) bool {
	if v == nil {
		return false
	}
	return vcrSubVolumeHasTarget(v, addr) || vcrReadOnlyHasTarget(v, addr)
}

func vcrSubVolumeHasTarget(v *VCR, addr Addr) bool {
	switch v.Kind {
	case VCRRegion:
		for _, t := range v.Targets {
			if t == addr {
				return true
			}
		}
	case VCRVolume:
		for _, s := range v.SubVolumes {
			if vcrSubVolumeHasTarget(s, addr) {
				return true
			}
		}
	}
	return false
}

func vcrReadOnlyHasTarget(v *VCR, addr Addr) bool {
	switch v.Kind {
	case VCRRegion:
		if v.ReadOnly {
			for _, t := range v.Targets {
				if t == addr {
					return true
				}
			}
		}
	case VCRVolume:
		for _, s := range v.SubVolumes {
			if vcrReadOnlyHasTarget(s, addr) {
				return true
			}
		}
		if v.ReadOnlyParent != nil && vcrReadOnlyHasTarget(v.ReadOnlyParent, addr) {
			return true
		}
	}
	return false
}

// SingleRegionVCR builds Volume{id, sub_volumes: [Region{targets,
// read_only}]}, the shape of the stash volumes, NRV and fresh disk volumes.
func SingleRegionVCR(volume, regionID UUID, targets []Addr, readOnly bool) *VCR {
	return &VCR{Kind: VCRVolume, ID: volume, SubVolumes: []*VCR{{
		Kind: VCRRegion, ID: regionID, Targets: targets, ReadOnly: readOnly, Gen: 1,
	}}}
}

var replaceOutcomes = [...]sim.Outcome{
	ReplaceAlreadyHappened:           sim.RegisterOutcome("AlreadyHappened"),
	ReplaceDone:                      sim.RegisterOutcome("Done"),
	ReplaceExistingVolumeSoftDeleted: sim.RegisterOutcome("ExistingVolumeSoftDeleted"),
	ReplaceExistingVolumeHardDeleted: sim.RegisterOutcome("ExistingVolumeHardDeleted"),
}

// replaceOutcome maps a volume_replace_* result to a trace outcome.
func replaceOutcome(res VolumeReplaceResult, err error) sim.Outcome {
	if err != nil {
		return errOutcome(err)
	}
	return replaceOutcomes[res]
}

// note annotates the current step with err's outcome (and message) and two
// record ids.
func note(c *sim.Ctx, err error, rec1, rec2 UUID) {
	c.Result(errOutcome(err), uint32(rec1), uint32(rec2))
	if err != nil {
		c.Note(err.Error())
	}
}
