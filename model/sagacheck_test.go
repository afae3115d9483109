package model

import (
	"strings"
	"testing"

	"github.com/oxide-sim/rsrsim/sim"
)

// The saga checks (sagacheck.go) over every case of SagaCases, one subtest
// per (saga, starting state, check, node), e.g.
// TestSagaChecks/rsr-start/live-snapshot/unwind/node-05-alloc_new_region.
// A check that fails on the reference logic is a finding: it is listed in
// sagaFindings and its subtest asserts the observed failure, so the test
// fails if the behaviour changes.

const sagaCheckSeed = 1

// sagaFinding is a failure the checks observe on the reference logic at
// 09b150f177 and that reading the omicron source confirms.
type sagaFinding struct {
	id     string
	saga   string
	states []string    // nil: every state
	checks []SagaCheck // checks it shows in
	// nodes selects the node indexes (nil: the check is not per node).
	nodes func(i int, name string) bool
	// either marks nodes where the failure depends on how the saga's
	// parallel siblings were scheduled: pass or this failure.
	either func(i int, name string) bool
	step   int    // crash checks: the step it shows at (0: any)
	detail string // the failure detail contains this
}

func nodeIn(names ...string) func(int, string) bool {
	return func(_ int, n string) bool { return contains2(names, n) }
}

func nodeRange(lo, hi int) func(int, string) bool {
	return func(i int, _ string) bool { return i >= lo && i <= hi }
}

func contains2(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

var sagaFindings = []sagaFinding{
	// S1: region_snapshot_replacement_step.rs: when the saga unwinds after
	// REPLACE_SNAPSHOT_IN_VOLUME on a live volume V (NOTIFY_UPSTAIRS fails,
	// e.g. the VMM is migrating, or UPDATE_REQUEST_RECORD fails), the undo
	// rsrss_replace_snapshot_in_volume_undo moves the usage row (V, N) to
	// the stash volume T', and rssrs_create_fake_volume_undo then runs
	// volume_hard_delete(T'), which does not delete usage rows: an orphan
	// (T', N) row keeps N's reference count above zero forever (spec 20
	// §6.3).
	{id: "S1", saga: "rsr-step", states: []string{"live-volume", "attached-volume"},
		checks: []SagaCheck{CheckUnwind, CheckUnwindIdem},
		nodes:  nodeIn("notify_upstairs", "update_request_record"),
		detail: "not a clean slate: +usage volume="},
	// S2: snapshot_create.rs ssc_create_snapshot_record_undo is not
	// idempotent: it looks the snapshot up with LookupPath (soft-deleted
	// rows excluded), so a second run after its project_delete_snapshot
	// committed fails and the saga is stuck, keeping the disk volume's
	// volume_repair lock and the destination volume's regions forever.
	// Omicron's snapshot-create tests run action_failure_can_unwind only.
	{id: "S2", saga: "snapshot-create", checks: []SagaCheck{CheckUnwindIdem},
		nodes: nodeIn("no_result"), detail: "stuck at undo of created_snapshot"},
	{id: "S2", saga: "snapshot-create", checks: []SagaCheck{CheckNoFailedUndo},
		detail: "stuck at undo of created_snapshot"},
	{id: "S2", saga: "snapshot-create", checks: []SagaCheck{CheckCrashUndo},
		nodes: nodeIn("created_snapshot"), step: 2, detail: "stuck at undo of created_snapshot"},
	// S3: snapshot_delete.rs: DELETE_SNAPSHOT_RECORD has no undo, so any
	// later failure leaves the snapshot soft-deleted with its volumes (and
	// the destination volume's regions, the region snapshots) not or only
	// partly deleted, and the API cannot delete it again (LookupPath
	// excludes soft-deleted snapshots): a leak (spec 20 §9.4). Node 13 (the
	// end of the first volume-delete chain) passes with this seed: the
	// parallel chain has finished by then, so nothing is left.
	{id: "S3", saga: "snapshot-delete", checks: []SagaCheck{CheckUnwind, CheckUnwindIdem},
		nodes: nodeRange(1, 23), either: nodeIn("delete_volume.end"),
		detail: "the snapshot delete API's lookup fails"},
	// S4: image_delete.rs: the same for DELETE_IMAGE_RECORD.
	{id: "S4", saga: "image-delete", checks: []SagaCheck{CheckUnwind, CheckUnwindIdem},
		nodes: nodeRange(1, 9), detail: "the image delete API's lookup fails"},
	// S5: volume_remove_rop.rs: REMOVE_READ_ONLY_PARENT has no undo and
	// moves the parent's usage rows to the temporary volume; when the saga
	// then unwinds, svr_create_temp_volume_undo hard-deletes the temporary
	// volume (volume_hard_delete leaves its usage rows, or the resources
	// its soft delete already marked for cleanup): the parent's region
	// snapshots are never freed, and a new request finds no parent to
	// remove.
	{id: "S5", saga: "remove-rop", states: []string{"live-snapshot"}, checks: []SagaCheck{CheckUnwind, CheckUnwindIdem},
		nodes: nodeRange(3, 5), detail: "the re-run ends in another state than an uninterrupted run"},
	{id: "S5", saga: "remove-rop", states: []string{"deleted-snapshot"}, checks: []SagaCheck{CheckUnwind, CheckUnwindIdem},
		nodes: nodeRange(3, 9), detail: "the re-run ends in another state than an uninterrupted run"},
	// S6: snapshot_create.rs ssc_attach_disk_to_pantry is not idempotent:
	// it moves a Detached disk to Maintenance, and a second run finds
	// Maintenance, which its state match sends to the `_` arm
	// (ServiceUnavailable). After a lost success record the node fails,
	// its undo (same node) never runs, the earlier nodes unwind, and the
	// disk stays in Maintenance: it can never be attached, snapshotted or
	// deleted. Omicron's snapshot-create tests run action_failure_can_unwind
	// only (FINDINGS.md F27).
	{id: "S6", saga: "snapshot-create", states: []string{"pantry"}, checks: []SagaCheck{CheckIdempotent},
		detail: "error at disk_generation_number: disk not in a state to attach to the pantry"},
	{id: "S6", saga: "snapshot-create", states: []string{"pantry"}, checks: []SagaCheck{CheckCrashConverges},
		nodes: nodeIn("disk_generation_number"), step: 1, detail: "disk not in a state to attach to the pantry"},
}

// findingFor returns the finding r is expected to show, if any, and whether
// passing is also accepted.
func findingFor(r SagaCheckResult) (*sagaFinding, bool) {
	for i := range sagaFindings {
		f := &sagaFindings[i]
		if f.saga != r.Saga || (f.states != nil && !contains2(f.states, r.State)) {
			continue
		}
		ok := false
		for _, c := range f.checks {
			ok = ok || c == r.Check
		}
		if !ok {
			continue
		}
		if f.nodes == nil {
			if r.Node < 0 {
				return f, false
			}
			continue
		}
		if f.step != 0 && f.step != r.Step {
			continue
		}
		if r.Node >= 0 && f.nodes(r.Node, r.NodeName) {
			return f, f.either != nil && f.either(r.Node, r.NodeName)
		}
	}
	return nil, false
}

func checkResult(t *testing.T, r SagaCheckResult) {
	t.Helper()
	f, either := findingFor(r)
	switch {
	case f == nil && !r.Pass:
		t.Errorf("%s", r.Detail)
	case f != nil && r.Pass && !either:
		t.Errorf("finding %s no longer reproduces (the behaviour changed): %s", f.id, r.Detail)
	case f != nil && !r.Pass && !strings.Contains(r.Detail, f.detail):
		t.Errorf("finding %s fails differently: %s", f.id, r.Detail)
	case f != nil && !r.Pass:
		t.Logf("finding %s reproduced: %s", f.id, r.Detail)
	}
}

// leaf is one subtest at a "/"-separated path.
type leaf struct {
	path []string
	fn   func(t *testing.T)
}

// runTree runs leaves as nested subtests, one level per path element.
func runTree(t *testing.T, leaves []leaf) {
	var order []string
	groups := map[string][]leaf{}
	for _, l := range leaves {
		if _, ok := groups[l.path[0]]; !ok {
			order = append(order, l.path[0])
		}
		groups[l.path[0]] = append(groups[l.path[0]], l)
	}
	for _, name := range order {
		ls := groups[name]
		t.Run(name, func(t *testing.T) {
			var sub []leaf
			for _, l := range ls {
				if len(l.path) == 1 {
					l.fn(t)
				} else {
					sub = append(sub, leaf{l.path[1:], l.fn})
				}
			}
			if len(sub) > 0 {
				runTree(t, sub)
			}
		})
	}
}

func resultLeaf(r SagaCheckResult) leaf {
	return leaf{strings.Split(r.Name(), "/"), func(t *testing.T) { checkResult(t, r) }}
}

func newCheckers(t *testing.T) []*SagaChecker {
	t.Helper()
	var ks []*SagaChecker
	for _, c := range SagaCases() {
		k, err := NewSagaChecker(c, sagaCheckSeed)
		if err != nil {
			t.Fatalf("%v", err)
		}
		ks = append(ks, k)
	}
	return ks
}

// TestSagaChecks runs omicron's saga test helpers over every saga case.
func TestSagaChecks(t *testing.T) {
	var leaves []leaf
	var results []SagaCheckResult
	pass, fail, found := 0, 0, 0
	for _, k := range newCheckers(t) {
		for _, r := range k.All() {
			results = append(results, r)
			if r.Pass {
				pass++
			} else if f, _ := findingFor(r); f != nil {
				found++
			} else {
				fail++
			}
			leaves = append(leaves, resultLeaf(r))
		}
		k := k
		leaves = append(leaves, leaf{[]string{k.Case.Saga, k.Case.State, "starting-state-unchanged"}, func(t *testing.T) {
			if !k.BaseUnchanged() {
				t.Error("a check run changed the starting state it was forked from")
			}
		}})
	}
	runTree(t, leaves)
	t.Logf("saga checks: %d pass, %d known findings, %d unexpected failures", pass, found, fail)
	checkFindingsMatched(t, results, false)
}

// checkFindingsMatched fails for every sagaFindings entry of this test's
// checks (crash checks or the others) that no failing result matched: an
// expectation that matches nothing would let its finding vanish silently.
func checkFindingsMatched(t *testing.T, results []SagaCheckResult, crash bool) {
	t.Helper()
	hit := make([]bool, len(sagaFindings))
	for _, r := range results {
		if f, _ := findingFor(r); f != nil && !r.Pass {
			for i := range sagaFindings {
				if f == &sagaFindings[i] {
					hit[i] = true
				}
			}
		}
	}
	for i, f := range sagaFindings {
		isCrash := false
		for _, c := range f.checks {
			isCrash = isCrash || c == CheckCrashConverges || c == CheckCrashUndo
		}
		if isCrash == crash && !hit[i] {
			t.Errorf("finding %s (saga %s, checks %v) matched no failing check: it no longer reproduces", f.id, f.saga, f.checks)
		}
	}
}

// TestSagaCrashConverges crashes every action node after each of its
// atomic steps (after the last one: the success record is lost), and every
// undo likewise while the saga unwinds from its last node; the node runs
// again and the saga must end as without the crash, in the same state, ids
// aside (spec 20 §1.3).
func TestSagaCrashConverges(t *testing.T) {
	var leaves []leaf
	var results []SagaCheckResult
	runs := 0
	for _, k := range newCheckers(t) {
		before := runs
		for i := 0; i < k.NodeCount(); i++ {
			if !k.NodeIsAction(i) {
				continue
			}
			for _, undo := range []bool{false, true} {
				if undo && !k.NodeHasUndo(i) {
					continue
				}
				for step := 1; ; step++ {
					r, fired := k.CrashConverges(i, step, undo)
					if !fired {
						break
					}
					runs++
					results = append(results, r)
					leaves = append(leaves, resultLeaf(r))
				}
			}
		}
		if runs == before {
			t.Errorf("%s/%s: no crash fired in any node: the crash checks ran nothing", k.Case.Saga, k.Case.State)
		}
	}
	runTree(t, leaves)
	t.Logf("crash checks: %d runs", runs)
	checkFindingsMatched(t, results, true)
}

// TestSagaCrashPlan checks Inject.Crash on a synthetic saga: a crash after
// a node's first step drops the rest of that execution and runs the node
// again; a crash after its last step loses the success record, so the node
// runs again too; a node with fewer steps is not crashed; an undo crashes
// the same way.
func TestSagaCrashPlan(t *testing.T) {
	for _, tc := range []struct {
		crash CrashAt
		err   int
		want  string
		n     int
	}{
		{CrashAt{Node: 1, AfterStep: 1}, -1, "a:n0 a:n1 a:n2", 1},
		{CrashAt{Node: 1, AfterStep: 2}, -1, "a:n0 a:n1 a:n1 a:n2", 1},
		{CrashAt{Node: 1, AfterStep: 3}, -1, "a:n0 a:n1 a:n2", 0},
		{CrashAt{Node: 1, AfterStep: 1, Undo: true}, 2, "a:n0 a:n1 a:n2 u:n1 u:n1 u:n0", 1},
	} {
		var log []string
		s := recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}}, "", "")
		s.Inject = Inject{ErrorAt: tc.err, RepeatNode: -1, Crash: tc.crash}
		if tc.err >= 0 {
			s = recSaga(&log, [][]string{{"n0"}, {"n1"}, {"n2"}}, "n2", "")
			s.Inject = Inject{ErrorAt: -1, RepeatNode: -1, Crash: tc.crash}
		}
		w, _ := runSaga(t, 1, nil, s)
		if got := strings.Join(log, " "); got != tc.want || w.Crashes != tc.n {
			t.Errorf("%+v: log %q crashes %d, want %q and %d", tc.crash, got, w.Crashes, tc.want, tc.n)
		}
	}
	// A crash plan alone survives StartSaga's zero-injection default.
	var log []string
	s := recSaga(&log, [][]string{{"n0"}}, "", "")
	s.Inject = Inject{Crash: CrashAt{Node: 0, AfterStep: 1}}
	if w, _ := runSaga(t, 1, nil, s); w.Crashes != 1 || s.State != SagaDone {
		t.Errorf("crash-only plan: crashes %d state %v", w.Crashes, s.State)
	}
}

// TestSagaChecksCatchLeftovers runs the checker on a synthetic saga whose
// undo leaves a volume behind and whose second action is not idempotent:
// the checks must fail.
func TestSagaChecksCatchLeftovers(t *testing.T) {
	var vol UUID
	c := SagaCase{Saga: "synthetic", State: "empty",
		Setup: func(w *World, c *sim.Ctx, f *SagaFixture) error { return nil },
		Make: func(w *World, f *SagaFixture) (*Saga, error) {
			return &Saga{Name: "synthetic", Inject: NoInject, Stages: [][]Node{
				{{Name: "id", Kind: NodePure, Action: genID(&vol)}},
				{{Name: "create", Action: func(x *NodeCtx) error {
					x.Step(opVolumeCreate)
					return x.DB.VolumeCreate(vol, SingleRegionVCR(vol, vol, nil, true))
				}, Undo: func(x *NodeCtx) error { x.Step(opVolumeHardDelete); return nil }}},
				{{Name: "count", Action: func(x *NodeCtx) error {
					x.Step(opDiskAttach)
					x.DB.RepairFinished = append(x.DB.RepairFinished, x.DB.NewUUID())
					return nil
				}}},
			}}, nil
		},
		clean: cleanStrictSpec,
	}
	k, err := NewSagaChecker(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := k.ActionFailureCanUnwind(2); r.Pass || !strings.Contains(r.Detail, "+volume") {
		t.Errorf("the leftover volume was not caught: %v", r)
	}
	if r := k.ActionFailureCanUnwind(1); !r.Pass {
		t.Errorf("an unwind before the volume exists must be clean: %v", r)
	}
	if r, fired := k.CrashConverges(2, 1, false); !fired || r.Pass {
		t.Errorf("the non-idempotent node's re-run was not caught: %v", r)
	}
}
