package model

import "github.com/oxide-sim/rsrsim/sim"

// The abstract Crucible agent of every dataset (spec 20 §0.4, spec 50 §3,
// spec 10 §6 "Modelling the agent"). Each operation models one Nexus
// wrapper of nexus/src/app/crucible.rs together with the agent's answer
// (real behaviour by default; sled-agent/src/sim/storage.rs where noted):
// the "gone" check runs first (dataset_physical_disk_in_service), so on a
// dataset whose physical disk is expunged creates fail with ErrAgentGone
// and deletes succeed without touching the agent state.
//
// Each operation is one [EXT] atomic effect. Injected faults are decided by
// the callers (the saga layer): every operation returns an error value the
// caller may also substitute.

// AgentRegionState is a Crucible region's state on its agent.
type AgentRegionState uint8

const (
	AgentRequested AgentRegionState = iota
	AgentCreated
	AgentFailed
	AgentDestroyed
)

var agentRegionStateNames = [...]string{"requested", "created", "failed", "destroyed"}

func (s AgentRegionState) String() string { return agentRegionStateNames[s] }

// AgentRegion is a region on a dataset's agent.
type AgentRegion struct {
	Dataset  UUID
	Region   UUID
	State    AgentRegionState
	Port     uint16 // 0 if none was assigned
	ReadOnly bool   // created as a clone
}

// AgentSnapshot is a ZFS snapshot of a region on its agent.
type AgentSnapshot struct {
	Dataset  UUID
	Region   UUID
	Snapshot UUID
}

// AgentRunning is a running snapshot: a read-only downstairs serving an
// AgentSnapshot on Port.
type AgentRunning struct {
	Dataset   UUID
	Region    UUID
	Snapshot  UUID
	Port      uint16
	Destroyed bool
}

// agentPorts is one dataset's (one IP's) port space.
type agentPorts struct {
	dataset UUID
	next    uint16   // next never-used port (no-reuse policy)
	inUse   []uint16 // ports held by live regions and running snapshots
	ever    []uint16 // every port handed out
}

// AgentPortBase is the first port an agent hands out.
const AgentPortBase = 1000

// Agent is the state of every dataset's Crucible agent. Records are kept in
// creation order; destroyed regions and running snapshots keep their record
// (state Destroyed) as the agents do.
type Agent struct {
	Regions   []AgentRegion
	Snapshots []AgentSnapshot
	Running   []AgentRunning
	ports     []agentPorts
}

// Agent errors. ErrAgentGone is exported so callers can test identity.
var (
	ErrAgentGone               = &Error{Class: ErrInternal, Msg: "dataset is gone"}
	dsErrAgentCloneSource      = &Error{Class: ErrInternal, Msg: "clone source unreachable"}
	dsErrAgentRegionFailed     = &Error{Class: ErrInternal, Msg: "Failed to create region, unexpected state: failed"}
	dsErrAgentHasSnapshots     = &Error{Class: ErrInternal, Msg: "must delete snapshots first"}
	dsErrAgentNoRegion         = &Error{Class: ErrInvalidRequest, Msg: "region does not exist"}
	dsErrAgentNoSnapshot       = &Error{Class: ErrInvalidRequest, Msg: "snapshot does not exist"}
	dsErrAgentSnapshotInUse    = &Error{Class: ErrInternal, Msg: "downstairs running for region snapshot"}
	dsErrAgentRunningDestroyed = &Error{Class: ErrInternal, Msg: "Failed to create running snapshot, unexpected state: destroyed"}
	errAgentInjected           = &Error{Class: ErrInternal, Msg: "region creation failed"}
)

func (a *Agent) region(ds, region UUID) *AgentRegion {
	for i := range a.Regions {
		if a.Regions[i].Region == region && a.Regions[i].Dataset == ds {
			return &a.Regions[i]
		}
	}
	return nil
}

func (a *Agent) snapshotIndex(ds, region, snap UUID) int {
	for i := range a.Snapshots {
		s := &a.Snapshots[i]
		if s.Snapshot == snap && s.Region == region && s.Dataset == ds {
			return i
		}
	}
	return -1
}

func (a *Agent) hasSnapshots(ds, region UUID) bool {
	for i := range a.Snapshots {
		if a.Snapshots[i].Region == region && a.Snapshots[i].Dataset == ds {
			return true
		}
	}
	return false
}

func (a *Agent) running(ds, region, snap UUID) *AgentRunning {
	for i := range a.Running {
		r := &a.Running[i]
		if r.Snapshot == snap && r.Region == region && r.Dataset == ds {
			return r
		}
	}
	return nil
}

func (a *Agent) portsOf(ds UUID) *agentPorts {
	for i := range a.ports {
		if a.ports[i].dataset == ds {
			return &a.ports[i]
		}
	}
	a.ports = append(a.ports, agentPorts{dataset: ds, next: AgentPortBase})
	return &a.ports[len(a.ports)-1]
}

func hasPort(s []uint16, p uint16) bool {
	for _, q := range s {
		if q == p {
			return true
		}
	}
	return false
}

// portFree reports whether port may be handed out now: not in use, and
// never used unless ports are reused.
func (db *DB) portFree(p *agentPorts, port uint32) bool {
	if port == 0 || port > 65535 {
		return false
	}
	if hasPort(p.inUse, uint16(port)) {
		return false
	}
	return db.Cfg.Options.ReusePorts || !hasPort(p.ever, uint16(port))
}

// allocPort hands out a port on dataset ds. Default: ports are never
// reused (a counter from AgentPortBase). ReusePorts: the lowest free port
// from AgentPortBase (omicron's simulated agent). PortPrefixAliasing: a
// KValue draw may instead take p·10+d or p/10 for an earlier port p of the
// same dataset, so one port's decimal text is a prefix of another's (spec
// 40 entry #9: "[ip]:1900" vs "[ip]:19000").
func (db *DB) allocPort(ds UUID) uint16 {
	p := db.Agent.portsOf(ds)
	port := uint32(0)
	if db.Cfg.Options.PortPrefixAliasing && len(p.ever) > 0 && db.Ch != nil {
		mode := db.Ch.Choose(sim.KValue, 3)
		if mode != 0 {
			base := uint32(p.ever[db.Ch.Choose(sim.KValue, len(p.ever))])
			var c uint32
			if mode == 1 {
				c = base*10 + uint32(db.Ch.Choose(sim.KValue, 10))
			} else {
				c = base / 10
			}
			if db.portFree(p, c) {
				port = c
			}
		}
	}
	if port == 0 {
		if db.Cfg.Options.ReusePorts {
			port = AgentPortBase
			for !db.portFree(p, port) {
				port++
			}
		} else {
			port = uint32(p.next)
			for !db.portFree(p, port) {
				port++
			}
			p.next = uint16(port + 1)
		}
	}
	p.inUse = append(p.inUse, uint16(port))
	if !hasPort(p.ever, uint16(port)) {
		p.ever = append(p.ever, uint16(port))
	}
	return uint16(port)
}

func (db *DB) freePort(ds UUID, port uint16) {
	if port == 0 {
		return
	}
	p := db.Agent.portsOf(ds)
	for i, q := range p.inUse {
		if q == port {
			p.inUse = removeAt(p.inUse, i)
			return
		}
	}
}

// agentGone is the gone check of crucible.rs (crucible_agent_gone_check):
// gone when the dataset's disk is not in service.
func (db *DB) agentGone(ds UUID) (bool, error) {
	in, err := db.DatasetInService(ds)
	if err != nil {
		return false, err
	}
	return !in, nil
}

// cloneSourceOK reports whether a real agent could read from source: its
// dataset exists and is in service, and a live running snapshot or created
// region serves that port there.
func (db *DB) cloneSourceOK(source Addr) bool {
	d := db.DatasetByIP(source.IP)
	if d == nil {
		return false
	}
	if in, err := db.DatasetInService(d.ID); err != nil || !in {
		return false
	}
	for i := range db.Agent.Running {
		r := &db.Agent.Running[i]
		if r.Dataset == d.ID && r.Port == source.Port && !r.Destroyed {
			return true
		}
	}
	for i := range db.Agent.Regions {
		r := &db.Agent.Regions[i]
		if r.Dataset == d.ID && r.Port == source.Port && r.State == AgentCreated {
			return true
		}
	}
	return false
}

// AgentRegionEnsure models ensure_region_in_dataset (crucible.rs) without
// its final region_set_port, which the caller runs as a separate [STMT]:
// gone check (gone → ErrAgentGone); with a clone source (non-zero), a real
// agent must reach it: the source's dataset in service and a live running
// snapshot or created region on that port (else an error). With
// Options.SimulatedAgent the source is ignored (sled-agent/src/sim/
// storage.rs). An existing created region returns its port (idempotent); a
// failed one is an error (Nexus sees state Failed); a destroyed one is
// created again with a fresh port (as the simulated agent does). Returns
// the port.
func (db *DB) AgentRegionEnsure(ds, region UUID, source Addr) (uint16, error) {
	gone, err := db.agentGone(ds)
	if err != nil {
		return 0, err
	}
	if gone {
		return 0, ErrAgentGone
	}
	if !source.IsZero() && !db.Cfg.Options.SimulatedAgent && !db.cloneSourceOK(source) {
		return 0, dsErrAgentCloneSource
	}
	if r := db.Agent.region(ds, region); r != nil {
		switch r.State {
		case AgentCreated, AgentRequested:
			r.State = AgentCreated
			if r.Port == 0 {
				r.Port = db.allocPort(ds)
			}
			return r.Port, nil
		case AgentFailed:
			return 0, dsErrAgentRegionFailed
		}
		r.State, r.Port, r.ReadOnly = AgentCreated, db.allocPort(ds), !source.IsZero()
		return r.Port, nil
	}
	port := db.allocPort(ds)
	db.Agent.Regions = append(db.Agent.Regions, AgentRegion{
		Dataset: ds, Region: region, State: AgentCreated, Port: port, ReadOnly: !source.IsZero(),
	})
	return port, nil
}

// AgentRegionEnsureFailed is the fault "the agent accepted the region but
// it ended Failed": it records a failed region (no port) unless one is
// already live, and returns an error. The failed region still has to be
// deleted (spec 20 §0.4). Gone datasets fail with ErrAgentGone first.
func (db *DB) AgentRegionEnsureFailed(ds, region UUID) error {
	gone, err := db.agentGone(ds)
	if err != nil {
		return err
	}
	if gone {
		return ErrAgentGone
	}
	if r := db.Agent.region(ds, region); r != nil {
		if r.State == AgentDestroyed {
			r.State, r.Port = AgentFailed, 0
		}
		return errAgentInjected
	}
	db.Agent.Regions = append(db.Agent.Regions, AgentRegion{Dataset: ds, Region: region, State: AgentFailed})
	return errAgentInjected
}

// AgentRegionDelete models delete_crucible_region (crucible.rs): gone →
// Ok, no change; a region the agent never had → Ok; agent-side snapshots of
// the region still exist → error ("must delete snapshots first"); else the
// region is Destroyed and its port freed. Idempotent.
func (db *DB) AgentRegionDelete(ds, region UUID) error {
	gone, err := db.agentGone(ds)
	if err != nil {
		return err
	}
	if gone {
		return nil
	}
	r := db.Agent.region(ds, region)
	if r == nil {
		return nil
	}
	if db.Agent.hasSnapshots(ds, region) {
		return dsErrAgentHasSnapshots
	}
	if r.State != AgentDestroyed {
		db.freePort(ds, r.Port)
		r.State = AgentDestroyed
	}
	return nil
}

// AgentTakeSnapshot models the effect of take_disk_snapshot on one region
// (the Upstairs in Propolis or the Pantry flushes a ZFS snapshot): the
// region must exist and be requested or created. Idempotent. This call does
// not go through Nexus' gone check (spec 50 §3.3, §7.3): as in omicron's
// simulator it succeeds on a dataset whose disk is expunged.
func (db *DB) AgentTakeSnapshot(ds, region, snap UUID) error {
	r := db.Agent.region(ds, region)
	if r == nil || (r.State != AgentCreated && r.State != AgentRequested) {
		return dsErrAgentNoRegion
	}
	if db.Agent.snapshotIndex(ds, region, snap) < 0 {
		db.Agent.Snapshots = append(db.Agent.Snapshots, AgentSnapshot{Dataset: ds, Region: region, Snapshot: snap})
	}
	return nil
}

// AgentSnapshotDelete models delete_crucible_snapshot (crucible.rs): gone
// → Ok, no change; a running snapshot for it that is not destroyed → error;
// else the snapshot is removed (absent → Ok). Idempotent.
func (db *DB) AgentSnapshotDelete(ds, region, snap UUID) error {
	gone, err := db.agentGone(ds)
	if err != nil {
		return err
	}
	if gone {
		return nil
	}
	if rs := db.Agent.running(ds, region, snap); rs != nil && !rs.Destroyed {
		return dsErrAgentSnapshotInUse
	}
	if i := db.Agent.snapshotIndex(ds, region, snap); i >= 0 {
		db.Agent.Snapshots = removeAt(db.Agent.Snapshots, i)
	}
	return nil
}

// AgentRunningSnapshotEnsure models ensure_crucible_running_snapshot
// (crucible.rs): gone → ErrAgentGone; the region must exist on the agent
// (any state) and the ZFS snapshot too (else InvalidRequest); an existing
// live running snapshot returns its port (idempotent); one already
// destroyed is an error (the agent returns it in state destroyed); else a
// new one starts on a fresh port. Returns the port.
func (db *DB) AgentRunningSnapshotEnsure(ds, region, snap UUID) (uint16, error) {
	gone, err := db.agentGone(ds)
	if err != nil {
		return 0, err
	}
	if gone {
		return 0, ErrAgentGone
	}
	if db.Agent.region(ds, region) == nil {
		return 0, dsErrAgentNoRegion
	}
	if db.Agent.snapshotIndex(ds, region, snap) < 0 {
		return 0, dsErrAgentNoSnapshot
	}
	if rs := db.Agent.running(ds, region, snap); rs != nil {
		if rs.Destroyed {
			return 0, dsErrAgentRunningDestroyed
		}
		return rs.Port, nil
	}
	port := db.allocPort(ds)
	db.Agent.Running = append(db.Agent.Running, AgentRunning{Dataset: ds, Region: region, Snapshot: snap, Port: port})
	return port, nil
}

// AgentRunningSnapshotDelete models delete_crucible_running_snapshot
// (crucible.rs): gone → Ok, no change; otherwise the running snapshot (if
// any) is destroyed and its port freed. Idempotent.
func (db *DB) AgentRunningSnapshotDelete(ds, region, snap UUID) error {
	gone, err := db.agentGone(ds)
	if err != nil {
		return err
	}
	if gone {
		return nil
	}
	if rs := db.Agent.running(ds, region, snap); rs != nil && !rs.Destroyed {
		db.freePort(ds, rs.Port)
		rs.Destroyed = true
	}
	return nil
}

// AgentRegionInfo returns the agent's record of region on ds.
func (db *DB) AgentRegionInfo(ds, region UUID) (AgentRegion, bool) {
	if r := db.Agent.region(ds, region); r != nil {
		return *r, true
	}
	return AgentRegion{}, false
}

// AgentObjectKind is the kind of a remaining agent object.
type AgentObjectKind uint8

const (
	AgentObjRegion AgentObjectKind = iota
	AgentObjSnapshot
	AgentObjRunningSnapshot
)

// AgentObject is one remaining Crucible agent object.
type AgentObject struct {
	Kind     AgentObjectKind
	Dataset  UUID
	Region   UUID
	Snapshot UUID // 0 for a region
	Port     uint16
}

// AgentObjects appends every remaining agent object to dst: regions not
// destroyed (failed ones included), ZFS snapshots, running snapshots not
// destroyed (the simulated agent's is_empty). With skipGone, objects on
// datasets whose disk is not in service are left out, as omicron's
// integration tests drop the expunged zpool from their leftover check.
func (db *DB) AgentObjects(dst []AgentObject, skipGone bool) []AgentObject {
	skip := func(ds UUID) bool {
		if !skipGone {
			return false
		}
		in, err := db.DatasetInService(ds)
		return err == nil && !in
	}
	for i := range db.Agent.Regions {
		r := &db.Agent.Regions[i]
		if r.State != AgentDestroyed && !skip(r.Dataset) {
			dst = append(dst, AgentObject{Kind: AgentObjRegion, Dataset: r.Dataset, Region: r.Region, Port: r.Port})
		}
	}
	for i := range db.Agent.Snapshots {
		s := &db.Agent.Snapshots[i]
		if !skip(s.Dataset) {
			dst = append(dst, AgentObject{Kind: AgentObjSnapshot, Dataset: s.Dataset, Region: s.Region, Snapshot: s.Snapshot})
		}
	}
	for i := range db.Agent.Running {
		r := &db.Agent.Running[i]
		if !r.Destroyed && !skip(r.Dataset) {
			dst = append(dst, AgentObject{Kind: AgentObjRunningSnapshot, Dataset: r.Dataset, Region: r.Region, Snapshot: r.Snapshot, Port: r.Port})
		}
	}
	return dst
}

// Clone returns a deep copy of the agent state.
func (a *Agent) Clone() Agent {
	c := Agent{
		Regions:   append([]AgentRegion(nil), a.Regions...),
		Snapshots: append([]AgentSnapshot(nil), a.Snapshots...),
		Running:   append([]AgentRunning(nil), a.Running...),
		ports:     make([]agentPorts, len(a.ports)),
	}
	for i, p := range a.ports {
		c.ports[i] = agentPorts{dataset: p.dataset, next: p.next,
			inUse: append([]uint16(nil), p.inUse...), ever: append([]uint16(nil), p.ever...)}
	}
	return c
}
