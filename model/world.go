package model

import "github.com/oxide-sim/rsrsim/sim"

// Knob indexes: the model's tunables, in sim.Config.Knobs order. Fault
// knobs are rates in permille; action knobs are relative weights of the
// workload generator's choices. Swarm testing redraws all of them per run.
const (
	KnobCrash          = iota // a node's process crashes after one of its atomic steps
	KnobCrashAfterNode        // the success record of a finished node is lost
	KnobNodeFail              // a node's action is replaced by a failure
	KnobUndoTwice             // an undo runs twice
	KnobAgentFail             // a Crucible agent call fails
	KnobNotifyFail            // an Upstairs notification fails
	// actions
	KnobDiskCreateBlank
	KnobDiskCreateFromSnapshot
	KnobDiskCreateFromImage
	KnobDiskDelete
	KnobSnapshotCreate
	KnobSnapshotDelete
	KnobImageCreate
	KnobImageDelete
	KnobExpunge
	KnobManualRSR
	KnobManualRR
	KnobRemoveROP
	KnobActivateTask
	KnobAttach
	// run shape (0 = as the workload configures it; strategies that pick a
	// shape per run set them, see sim.Portfolio)
	KnobShapeTasksOnDemand // nonzero: no periodic task timers in the main phase
	KnobShapeActionsX      // >1: the main phase issues this many times the configured actions
	KnobShapeUniform       // nonzero: every enabled action kind is equally likely
	NumKnobs
)

// Knobs is the model's knob table with default values.
var Knobs = []sim.Knob{
	KnobCrash:                  {Name: "fault-crash", Default: 10, Fault: true},
	KnobCrashAfterNode:         {Name: "fault-crash-after-node", Default: 20, Fault: true},
	KnobNodeFail:               {Name: "fault-node-fail", Default: 10, Fault: true},
	KnobUndoTwice:              {Name: "fault-undo-twice", Default: 100, Fault: true},
	KnobAgentFail:              {Name: "fault-agent", Default: 10, Fault: true},
	KnobNotifyFail:             {Name: "fault-notify", Default: 100, Fault: true},
	KnobDiskCreateBlank:        {Name: "act-disk-create-blank", Default: 20},
	KnobDiskCreateFromSnapshot: {Name: "act-disk-create-from-snapshot", Default: 30},
	KnobDiskCreateFromImage:    {Name: "act-disk-create-from-image", Default: 10},
	KnobDiskDelete:             {Name: "act-disk-delete", Default: 20},
	KnobSnapshotCreate:         {Name: "act-snapshot-create", Default: 20},
	KnobSnapshotDelete:         {Name: "act-snapshot-delete", Default: 20},
	KnobImageCreate:            {Name: "act-image-create", Default: 10},
	KnobImageDelete:            {Name: "act-image-delete", Default: 10},
	KnobExpunge:                {Name: "act-expunge-disk", Default: 10},
	KnobManualRSR:              {Name: "act-manual-rsr-request", Default: 3},
	KnobManualRR:               {Name: "act-manual-rr-request", Default: 3},
	KnobRemoveROP:              {Name: "act-remove-read-only-parent", Default: 3},
	KnobActivateTask:           {Name: "act-activate-task", Default: 60},
	KnobAttach:                 {Name: "act-instance-attach-detach", Default: 5},
	KnobShapeTasksOnDemand:     {Name: sim.ShapeTasksOnDemand},
	KnobShapeActionsX:          {Name: sim.ShapeActionsX},
	KnobShapeUniform:           {Name: sim.ShapeUniform},
}

// World is one run of the model: the database, the engine run it lives in,
// and the executions (sagas, tasks) the oracles look at.
type World struct {
	DB  *DB
	Run *sim.Run

	Sagas   []*Saga
	Crashes int
	// SagaEnds counts sagas that ended (done, failed or stuck). Oracles use
	// it to notice that saga state changed during a step that wrote no
	// database row.
	SagaEnds int

	Nexuses []*Nexus
	Tasks   TaskConfig
	// ActivationsStarted counts task activations (for reports).
	ActivationsStarted int

	// actions are the driver's action actors (for ActionsDone).
	actions []*sim.Actor

	// freeNodeCtx holds node contexts whose node actor has ended, for the
	// next node execution (Saga.runNodeOnce).
	freeNodeCtx []*NodeCtx

	// Events reported by acting steps since the oracles last drained them.
	Events []Event

	// NoopSagaStart makes StartSaga count saga starts in NoopSagaStarts
	// instead of running them (omicron's NoopStartSaga; see StartSaga).
	NoopSagaStart  bool
	NoopSagaStarts int

	// faultsOff turns every fault off (quiescence phase, scripted scenarios).
	faultsOff bool
	timersOff bool
	eventsOff bool
}

// NewWorld returns an empty world in run r.
func NewWorld(cfg Config, r *sim.Run) *World {
	w := &World{DB: NewDB(cfg, r.Ch), Run: r}
	for i := 0; i < 2; i++ {
		w.Nexuses = append(w.Nexuses, &Nexus{ID: i})
	}
	return w
}

// FaultsOff stops every fault from now on (the quiescence phase).
func (w *World) FaultsOff() { w.faultsOff = true }

// faultAt draws whether fault kind k hits at a site: one node of one saga
// type. The site matters only to strategies that rate faults per site
// (sim.SiteBuggify); under the others this is one draw at the knob's rate.
func (w *World) faultAt(c *sim.Ctx, k int, saga, node string) bool {
	if w.faultsOff || w.Run == nil || k >= len(w.Run.Cfg.Knobs) {
		return false
	}
	r := w.Run
	if !r.SiteMode() {
		return c.Fault(k)
	}
	return sim.Chance(r.Ch, sim.KFault, r.SiteRate(k, sim.SiteHash(k, saga, node)))
}

// crashRateAt is the per-step crash rate of a node actor of node in saga.
func (w *World) crashRateAt(saga, node string) int {
	if w.faultsOff || w.Run == nil || KnobCrash >= len(w.Run.Cfg.Knobs) {
		return 0
	}
	r := w.Run
	if !r.SiteMode() {
		return r.Knob(KnobCrash)
	}
	return r.SiteRate(KnobCrash, sim.SiteHash(KnobCrash, saga, node))
}

func (w *World) faultNodeFail(c *sim.Ctx, s *Saga, n *Node) bool {
	return w.faultAt(c, KnobNodeFail, s.Name, n.Name)
}
func (w *World) faultUndoTwice(c *sim.Ctx, s *Saga, n *Node) bool {
	return w.faultAt(c, KnobUndoTwice, s.Name, n.Name)
}
func (w *World) faultCrashAfterNode(c *sim.Ctx, s *Saga, n *Node) bool {
	return w.faultAt(c, KnobCrashAfterNode, s.Name, n.Name)
}

// FaultAgent draws whether a Crucible agent call made by node x fails here.
func (w *World) FaultAgent(x *NodeCtx) bool {
	return w.faultAt(x.Ctx, KnobAgentFail, x.Saga.Name, x.Node.Name)
}

// FaultNotify draws whether an Upstairs notification fails here.
func (w *World) FaultNotify(x *NodeCtx) bool {
	return w.faultAt(x.Ctx, KnobNotifyFail, x.Saga.Name, x.Node.Name)
}
