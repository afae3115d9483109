package model

import "github.com/oxide-sim/rsrsim/sim"

// External effects as the sagas see them: each Crucible agent call is one
// atomic step (the "gone" check of nexus/src/app/crucible.rs and the call
// itself are modelled together; expungement is a single write, so nothing
// observable happens between them). Any call may fail as an injected fault
// (the KnobAgentFail rate), decided here, before the agent state changes.
//
// Faults are injected into forward actions only. Nexus retries transient
// agent errors forever (common/src/progenitor_operation_retry.rs), so an
// undo's agent call does not fail transiently; injecting failures there
// would only manufacture stuck sagas that say nothing about the logic.
// Real refusals (a region that still has snapshots) still fail undos.

var errAgentFault = &Error{Class: ErrInternal, Msg: "injected agent failure"}

// agentFault draws an injected agent failure for a forward action.
func (w *World) agentFault(x *NodeCtx) bool { return !x.Undoing && w.FaultAgent(x) }

// AgentRegionEnsure is ensure_region_in_dataset without its region_set_port.
// With hasSource the region is cloned from source (a region snapshot's
// downstairs). An injected fault leaves a Failed region on the agent, which
// must still be deleted (why omicron has its separate *_ENSURE_UNDO nodes).
func (w *World) AgentRegionEnsure(x *NodeCtx, ds, region UUID, source Addr, hasSource bool) (uint16, error) {
	if w.agentFault(x) {
		if err := w.DB.AgentRegionEnsureFailed(ds, region); err != nil {
			return 0, err
		}
		return 0, errAgentFault
	}
	if !hasSource {
		source = Addr{}
	}
	return w.DB.AgentRegionEnsure(ds, region, source)
}

// AgentRegionDelete is delete_crucible_region.
func (w *World) AgentRegionDelete(x *NodeCtx, ds, region UUID) error {
	if w.agentFault(x) {
		return errAgentFault
	}
	return w.DB.AgentRegionDelete(ds, region)
}

// AgentTakeSnapshot is the ZFS snapshot that a Pantry or Propolis snapshot
// request makes on one region (take_disk_snapshot). It is not gone-checked.
func (w *World) AgentTakeSnapshot(x *NodeCtx, ds, region, snap UUID) error {
	if w.agentFault(x) {
		return errAgentFault
	}
	return w.DB.AgentTakeSnapshot(ds, region, snap)
}

// AgentSnapshotDelete is delete_crucible_snapshot.
func (w *World) AgentSnapshotDelete(x *NodeCtx, k RSKey) error {
	if w.agentFault(x) {
		return errAgentFault
	}
	return w.DB.AgentSnapshotDelete(k.DatasetID, k.RegionID, k.SnapshotID)
}

// AgentRunningSnapshotEnsure is ensure_crucible_running_snapshot.
func (w *World) AgentRunningSnapshotEnsure(x *NodeCtx, ds, region, snap UUID) (uint16, error) {
	if w.agentFault(x) {
		return 0, errAgentFault
	}
	return w.DB.AgentRunningSnapshotEnsure(ds, region, snap)
}

// AgentRunningSnapshotDelete is delete_crucible_running_snapshot.
func (w *World) AgentRunningSnapshotDelete(x *NodeCtx, k RSKey) error {
	if w.agentFault(x) {
		return errAgentFault
	}
	return w.DB.AgentRunningSnapshotDelete(k.DatasetID, k.RegionID, k.SnapshotID)
}

// RegionAddr is Nexus::region_addr: the address from the database when the
// port is recorded; otherwise ask the agent (which answers Gone on an
// expunged disk, or for a region it does not have).
func (w *World) RegionAddr(c *sim.Ctx, region UUID) (Addr, error) {
	a, ok, err := w.DB.RegionAddr(region)
	if err != nil {
		return Addr{}, err
	}
	if ok {
		return a, nil
	}
	r := w.DB.Region(region)
	if gone, err := w.DB.agentGone(r.DatasetID); err != nil || gone {
		return Addr{}, ErrAgentGone
	}
	info, found := w.DB.AgentRegionInfo(r.DatasetID, region)
	if !found || info.State != AgentCreated {
		return Addr{}, ErrAgentGone
	}
	if err := w.DB.RegionSetPort(region, info.Port); err != nil {
		return Addr{}, err
	}
	return w.DB.AddrOf(r.DatasetID, info.Port), nil
}

// AddrOf returns the address of port on dataset ds: (dataset IP, port).
func (db *DB) AddrOf(ds UUID, port uint16) Addr {
	d := db.Dataset(ds)
	if d == nil {
		return Addr{Port: port}
	}
	return Addr{IP: d.IP, Port: port}
}
