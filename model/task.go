package model

import (
	"github.com/oxide-sim/rsrsim/sim"
)

// Background tasks (omicron nexus/src/app/background/driver.rs and
// init.rs; spec 30 §A.1). Each activation is an actor whose atomic steps are
// the task's queries and transactions; the sagas it starts are independent
// actors (saga_start, fire and forget).
//
// Activation model:
//   - every Nexus instance runs its own copy of every task; activations of
//     the same task on different Nexus instances may overlap;
//   - on one Nexus, a task runs at most one activation at a time; requests
//     that arrive while it runs coalesce into one more run afterwards;
//   - activations come from a periodic timer (virtual clock) and from
//     explicit activation (the internal API, omdb, the tests).

// TaskKind names one of the six background tasks.
type TaskKind uint8

const (
	TaskRSRStart  TaskKind = iota // region_snapshot_replacement_start
	TaskRSRGC                     // region_snapshot_replacement_garbage_collection
	TaskRSRStep                   // region_snapshot_replacement_step
	TaskRSRFinish                 // region_snapshot_replacement_finish
	TaskRR                        // region_replacement
	TaskRRDriver                  // region_replacement_driver
	NumTasks
)

var taskNames = [NumTasks]string{
	"region_snapshot_replacement_start",
	"region_snapshot_replacement_garbage_collection",
	"region_snapshot_replacement_step",
	"region_snapshot_replacement_finish",
	"region_replacement",
	"region_replacement_driver",
}

func (t TaskKind) String() string { return taskNames[t] }

// Status counters, one set per task kind, as in
// nexus/types/src/internal_api/background.rs. Indexes into TaskStatus.Counts.
const (
	// region_snapshot_replacement_start
	StRequestsCreatedOK   = 0
	StStartInvokedOK      = 1
	StRequestsCompletedOK = 2
	// region_snapshot_replacement_garbage_collection
	StGarbageCollectRequested = 0
	// region_snapshot_replacement_step
	StStepRecordsCreatedOK        = 0
	StStepGarbageCollectInvokedOK = 1
	StStepInvokedOK               = 2
	StStepSetVolumeDeletedOK      = 3
	// region_snapshot_replacement_finish
	StFinishInvokedOK = 0
	// region_replacement
	StRRRequestsCreatedOK   = 0
	StRRStartInvokedOK      = 1
	StRRRequestsCompletedOK = 2
	// region_replacement_driver
	StDriveInvokedOK       = 0
	StRRFinishInvokedOK    = 1
	maxStatusCounts        = 4
	maxStatusErrorsPerTask = 16
)

// TaskStatus is one activation's status object. Omicron keeps a list of
// messages per field; the model keeps their counts and the error messages.
type TaskStatus struct {
	Task   TaskKind
	Nexus  int
	Counts [maxStatusCounts]int
	Errors []string
}

// Actions is the number the test helpers count as "actions" for the drain
// loop (spec 30 §A.1 table, last column): the fast-path completions
// (requests_completed_ok of the RSR start task, step_set_volume_deleted_ok)
// are not counted.
func (s *TaskStatus) Actions() int {
	switch s.Task {
	case TaskRSRStart:
		return s.Counts[StRequestsCreatedOK] + s.Counts[StStartInvokedOK]
	case TaskRSRStep:
		return s.Counts[StStepRecordsCreatedOK] + s.Counts[StStepGarbageCollectInvokedOK] + s.Counts[StStepInvokedOK]
	default:
		n := 0
		for _, c := range s.Counts {
			n += c
		}
		return n
	}
}

func (s *TaskStatus) push(err error) {
	if len(s.Errors) < maxStatusErrorsPerTask {
		s.Errors = append(s.Errors, err.Error())
	}
}

// Nexus is one Nexus instance: its copy of every task's activation state.
type Nexus struct {
	ID      int
	running [NumTasks]bool
	pending [NumTasks]bool
	actor   [NumTasks]*sim.Actor
	// Last is the status of the last finished activation of each task.
	Last [NumTasks]*TaskStatus
}

// TaskConfig holds the periods of the background tasks (virtual ms). A
// period of 0 disables the periodic timer (activations then come only from
// explicit activation).
type TaskConfig struct {
	Period [NumTasks]int64
}

// Activate asks Nexus n to run task t now (omicron's Activator, or the
// internal API's bgtasks/activate). If an activation is running it is
// coalesced into one more run afterwards.
func (w *World) Activate(sp spawner, n int, t TaskKind) {
	nx := w.Nexuses[n]
	if nx.running[t] {
		nx.pending[t] = true
		return
	}
	nx.running[t] = true
	w.spawnActivation(sp, nx, t)
}

func (w *World) spawnActivation(sp spawner, nx *Nexus, t TaskKind) *sim.Actor {
	act := &activation{w: w, nx: nx, st: TaskStatus{Task: t, Nexus: nx.ID}}
	w.ActivationsStarted++
	a := sp.SpawnRunner(sim.KindTask, t.String(), act)
	nx.actor[t] = a
	return a
}

// activation is one run of a background task on one Nexus: the actor's
// body (Act) and the status it reports.
type activation struct {
	w  *World
	nx *Nexus
	st TaskStatus
}

func (act *activation) Act(c *sim.Ctx) {
	w, nx, st := act.w, act.nx, &act.st
	t := st.Task
	switch t {
	case TaskRSRStart:
		w.taskRSRStart(c, st)
	case TaskRSRGC:
		w.taskRSRGC(c, st)
	case TaskRSRStep:
		w.taskRSRStep(c, st)
	case TaskRSRFinish:
		w.taskRSRFinish(c, st)
	case TaskRR:
		w.taskRR(c, st)
	case TaskRRDriver:
		w.taskRRDriver(c, st)
	}
	nx.Last[t] = st
	if nx.pending[t] {
		nx.pending[t] = false
		w.spawnActivation(c, nx, t)
	} else {
		nx.running[t] = false
	}
}

// StartTimers arms the periodic timers of every task on every Nexus. The
// first tick fires at once, as omicron's driver does.
func (w *World) StartTimers() {
	for i := range w.Nexuses {
		for t := TaskKind(0); t < NumTasks; t++ {
			p := w.Tasks.Period[t]
			if p <= 0 {
				continue
			}
			i, t := i, t
			var tick func(r *sim.Run)
			tick = func(r *sim.Run) {
				if w.timersOff {
					return
				}
				w.Activate(r, i, t)
				r.At(r.Now()+p, tick)
			}
			// stagger the Nexus instances deterministically
			w.Run.At(w.Run.Now()+int64(i)*p/int64(len(w.Nexuses)), tick)
		}
	}
}

// StopTimers stops the periodic activations (the quiescence phase drives
// the tasks itself).
func (w *World) StopTimers() { w.timersOff = true }

// RunActivation runs one activation of task t on Nexus n and returns its
// status once the activation (not its sagas) has finished. For scripted
// scenarios and the quiescence phase: the caller is an actor that waits.
func (w *World) RunActivation(c *sim.Ctx, n int, t TaskKind) *TaskStatus {
	nx := w.Nexuses[n]
	for nx.running[t] {
		// wait for the running activation (and any coalesced re-run)
		if a := nx.actor[t]; a != nil && !a.Done() {
			c.Wait(a)
		} else {
			break
		}
	}
	nx.running[t] = true
	a := w.spawnActivation(c, nx, t)
	c.Wait(a)
	return nx.Last[t]
}

// SagasInFlight reports how many sagas have not finished (done, failed or
// stuck).
func (w *World) SagasInFlight() int {
	n := 0
	for _, s := range w.Sagas {
		if !s.Finished() {
			n++
		}
	}
	return n
}
