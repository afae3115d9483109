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

func (w *World) fault(c *sim.Ctx, k int) bool {
	if w.faultsOff || w.Run == nil || k >= len(w.Run.Cfg.Knobs) {
		return false
	}
	return c.Fault(k)
}

func (w *World) crashRate() int {
	if w.faultsOff || w.Run == nil || KnobCrash >= len(w.Run.Cfg.Knobs) {
		return 0
	}
	return w.Run.Knob(KnobCrash)
}

func (w *World) faultNodeFail(c *sim.Ctx) bool       { return w.fault(c, KnobNodeFail) }
func (w *World) faultUndoTwice(c *sim.Ctx) bool      { return w.fault(c, KnobUndoTwice) }
func (w *World) faultCrashAfterNode(c *sim.Ctx) bool { return w.fault(c, KnobCrashAfterNode) }

// FaultAgent draws whether a Crucible agent call fails here.
func (w *World) FaultAgent(c *sim.Ctx) bool { return w.fault(c, KnobAgentFail) }

// FaultNotify draws whether an Upstairs notification fails here.
func (w *World) FaultNotify(c *sim.Ctx) bool { return w.fault(c, KnobNotifyFail) }
