package scenarios

import "fmt"

// The command table.
func init() {
	many := -1
	commandSpecs = map[string]*spec{
		// setup
		"seed":     {usage: "N", help: "seed of the run's choices (row order, allocation); default 1", min: 1, max: 1, setup: true, run: cmdSeed},
		"sched":    {usage: "first|random", help: "scheduling: the first runnable actor (default: sequential), or a seeded uniform draw", min: 1, max: 1, setup: true, run: cmdSched},
		"topology": {usage: "sleds=N disks-per-sled=N [pools-per-disk=N] [capacity=N]", help: "the rack: one zpool and Crucible dataset per disk by default; datasets are bound to X0, X1, ...", keys: []string{"sleds", "disks-per-sled", "pools-per-disk", "capacity"}, setup: true, run: cmdTopology},
		"option": {usage: "[simulated-agent] [reuse-ports] [port-prefix-aliasing] [alloc=random|random-with-distinct-sleds] [page-size=N]", help: "model options (model.Options)", max: 0,
			flags: []string{"simulated-agent", "reuse-ports", "port-prefix-aliasing"}, keys: []string{"alloc", "page-size"}, setup: true, run: cmdOption},
		"switch": {usage: "BUG...", help: "turn pre-fix switches on for every run of this file", min: 1, max: many, setup: true, run: cmdSwitch,
			extra: func(c *Cmd) error {
				for _, b := range c.Pos() {
					if !knownBug(b) {
						return fmt.Errorf("unknown bug %q", b)
					}
				}
				return nil
			}},
		// environment, oracles
		"faults":  {usage: "off | NAME=PERMILLE...", help: "fault rates (crash, crash-after-node, node-fail, undo-twice, agent, notify); all 0 by default", max: 0, flags: []string{"off"}, keys: []string{"crash", "crash-after-node", "node-fail", "undo-twice", "agent", "notify"}, run: cmdFaults},
		"oracles": {usage: "on|off | disable NAME... | enable NAME...", help: "the oracles checked after every step (all on by default)", min: 1, max: many, run: cmdOracles},
		"watch":   {usage: "PREDICATE", help: "check a predicate after every step (find-deleted-volume-regions-empty); a failure is oracle watch:PREDICATE", min: 1, max: 1, run: cmdWatch},
		"unwatch": {usage: "[PREDICATE]", help: "stop watching", max: 1, run: cmdUnwatch},
		// user and environment actions
		"disk-create":     {usage: "NAME [snapshot=S] [image=I] [expect=fail]", help: "the disk create API (blank, or from a snapshot or image)", min: 1, max: 1, keys: []string{"snapshot", "image", "expect"}, run: cmdDiskCreate},
		"disk-delete":     {usage: "D [expect=fail]", help: "the disk delete API", min: 1, max: 1, keys: []string{"expect"}, run: cmdDiskDelete},
		"snapshot-create": {usage: "NAME disk=D [expect=fail] [inject-error=NODE] [repeat=NODE|all action-times=N undo-times=N]", help: "the snapshot create API; the injections are steno's saga_inject_error and saga_inject_repeat on its saga (a repeated action is a node re-run after a crash)", min: 1, max: 1, keys: []string{"disk", "expect", "inject-error", "repeat", "action-times", "undo-times"}, run: cmdSnapshotCreate, extra: needKeys("disk")},
		"snapshot-delete": {usage: "S [expect=fail]", help: "the snapshot delete API", min: 1, max: 1, keys: []string{"expect"}, run: cmdSnapshotDelete},
		"image-create":    {usage: "NAME snapshot=S [expect=fail]", help: "the image create API from a snapshot", min: 1, max: 1, keys: []string{"snapshot", "expect"}, run: cmdImageCreate, extra: needKeys("snapshot")},
		"image-delete":    {usage: "I [expect=fail]", help: "the image delete API", min: 1, max: 1, keys: []string{"expect"}, run: cmdImageDelete},
		"remove-rop":      {usage: "D [expect=fail]", help: "disk_remove_read_only_parent", min: 1, max: 1, keys: []string{"expect"}, run: cmdRemoveROP},
		"attach":          {usage: "D", help: "attach the disk to a new instance with an active VMM", min: 1, max: 1, run: cmdAttach},
		"detach":          {usage: "D", help: "detach the disk", min: 1, max: 1, run: cmdAttach},
		"expunge":         {usage: "DATASET|REGION|RS", help: "physical_disk_expunge of the disk under a dataset (or under a region's or region snapshot's dataset)", min: 1, max: 1, run: cmdExpunge},
		"rr-request":      {usage: "NAME region=R", help: "create_region_replacement_request_for_region (test harness)", min: 1, max: 1, keys: []string{"region"}, run: cmdRRRequest, extra: needKeys("region")},
		"rsr-request":     {usage: "NAME rs=RS [expect=fail]", help: "create_region_snapshot_replacement_request (test harness; snapshot_get, then the lock-and-insert transaction)", min: 1, max: 1, keys: []string{"rs", "expect"}, run: cmdRSRRequest, extra: needKeys("rs")},
		"rsr-step":        {usage: "NAME request=Q volume=V [expect=inserted|already-handled]", help: "create_region_snapshot_replacement_step (test harness)", min: 1, max: 1, keys: []string{"request", "volume", "expect"}, run: cmdRSRStep, extra: needKeys("request", "volume")},
		"drive-outcome":   {usage: "done|not-done|fail|notified", help: "the outcome of the next region replacement drive round (the model's abstraction of Pantry/Propolis work)", min: 1, max: 1, run: cmdDriveOutcome},
		// tasks
		"activate":       {usage: "TASK [nexus=N] [noop-start] [hold-sagas] [saga=NAME]", help: "one activation, run with the sagas it starts to idle; asserts no errors (omicron's run_* helpers); prints the status. noop-start: saga starts are only counted (NoopStartSaga); hold-sagas: started sagas wait for run-saga/step-saga; saga=NAME binds the first saga started", min: 1, max: 1, keys: []string{"nexus", "saga"}, flags: []string{"noop-start", "hold-sagas"}, output: true, run: cmdActivate},
		"activate-raw":   {usage: "TASK [nexus=N] [noop-start] [hold-sagas] [saga=NAME]", help: "like activate, but errors are kept in the status, not asserted", min: 1, max: 1, keys: []string{"nexus", "saga"}, flags: []string{"noop-start", "hold-sagas"}, output: true, run: cmdActivate},
		"drain":          {usage: "[max=N]", help: "run_replacement_tasks_to_completion: passes of the six tasks (no errors allowed), sagas finished between passes, until a pass counts no action; at most max passes (60)", keys: []string{"max"}, output: true, run: cmdDrain},
		"run-until-zero": {usage: "TASK [max=N]", help: "repeat run_TASK until it counts no action; more than max (20) repeats fails", min: 1, max: 1, keys: []string{"max"}, output: true, run: cmdRunUntilZero},
		// sagas
		"start-saga":         {usage: "NAME KIND TARGET [inject-error=NODE] [repeat=NODE|all action-times=N undo-times=N]", help: "build a saga (rsr-start, rsr-gc, rsr-finish REQUEST; rsr-step, rsr-step-gc STEP; rr-start, rr-drive, rr-finish RR) from its target's record as read now, and start it held", min: 3, max: 3, keys: []string{"inject-error", "repeat", "action-times", "undo-times"}, run: cmdStartSaga},
		"run-saga":           {usage: "NAME", help: "release a held saga and run it to its end; prints its result", min: 1, max: 1, output: true, run: cmdRunSaga},
		"step-saga":          {usage: "NAME after=NODE | before=NODE", help: "run a held saga up to a node (after: the node's action has its result; before: the node is about to take its first step)", min: 1, max: 1, keys: []string{"after", "before"}, run: cmdStepSaga},
		"saga-check":         {usage: "unwind|unwind-idempotently|idempotent KIND TARGET", help: "omicron's generic saga tests (test_helpers.rs) on fresh sagas; the clean slate (define-clean-slate) is verified after each unwind", min: 3, max: 3, output: true, run: cmdSagaCheck},
		"define-clean-slate": {usage: "request=Q volume=V regions=N", help: "verify_clean_slate's parameters; remembers V's construction request now", keys: []string{"request", "volume", "regions"}, run: cmdDefineCleanSlate, extra: needKeys("request", "volume", "regions")},
		// datastore calls of unit tests
		"ids": {usage: "NAME...", help: "bind fresh ids (random UUIDs that name no row)", min: 1, max: many, run: cmdIDs},
		"db": {subs: map[string]*spec{
			"volume-create":          {usage: "NAME [ro-targets=ADDR,...] [rw-region]", help: "volume_create: an empty volume, or one whose read-only parent has these targets; rw-region: one read/write Region sub-volume with no targets", min: 1, max: 1, keys: []string{"ro-targets"}, flags: []string{"rw-region"}, run: dbVolumeCreate},
			"region-snapshot-create": {usage: "NAME dataset=X|new region=R|new snapshot=S|new addr=ADDR", help: "region_snapshot_create", min: 1, max: 1, keys: []string{"dataset", "region", "snapshot", "addr"}, run: dbRegionSnapshotCreate, extra: needKeys("dataset", "region", "snapshot", "addr")},
			"snapshot-ensure":        {usage: "NAME id=ID volume=V", help: "project_ensure_snapshot of a snapshot row in state Creating", min: 1, max: 1, keys: []string{"id", "volume"}, run: dbSnapshotEnsure, extra: needKeys("id", "volume")},
			"request-insert":         {usage: "NAME (rs=RS | dataset= region= snapshot=) lock=V [state=STATE] [old-snapshot-volume=V|new]", help: "insert_region_snapshot_replacement_request_with_volume_id of a request built by hand", min: 1, max: 1, keys: []string{"rs", "dataset", "region", "snapshot", "lock", "state", "old-snapshot-volume"}, run: dbRequestInsert, extra: needKeys("lock")},
			"request-advance":        {usage: "Q to=STATE", help: "Allocating → ReplacementDone → DeletingOldVolume → Running with one saga id and fresh ids, up to STATE", min: 1, max: 1, keys: []string{"to"}, run: dbRequestAdvance, extra: needKeys("to")},
			"step-insert":            {usage: "NAME request=Q|new volume=V [state=STATE] [old-snapshot-volume=V|new] [op=new]", help: "insert_region_snapshot_replacement_step of a step built by hand (must be Inserted)", min: 1, max: 1, keys: []string{"request", "volume", "state", "old-snapshot-volume", "op"}, run: dbStepInsert, extra: needKeys("request", "volume")},
			"step-volume-deleted":    {usage: "ST", help: "set_region_snapshot_replacement_step_volume_deleted", min: 1, max: 1, run: dbStepVolumeDeleted},
			"soft-delete-volume":     {usage: "V [snapshots-to-delete=RS,...]", help: "soft_delete_volume (and check snapshots_to_delete of its result)", min: 1, max: 1, keys: []string{"snapshots-to-delete"}, run: dbSoftDeleteVolume},
			"region-snapshot-remove": {usage: "RS", help: "region_snapshot_remove", min: 1, max: 1, run: dbRegionSnapshotRemove},
		}},
		"bind": {usage: "NAME REF | NAME region-of V index=N | NAME region-snapshot region=R snapshot=S | NAME rr-for-region R | NAME request-for RS | NAME step-for V", help: "bind a name to a record", min: 2, max: 3, keys: []string{"index", "region", "snapshot"}, run: cmdBind},
		// assertions
		"expect": {subs: map[string]*spec{
			"request":                     {usage: "Q [state=S] [key=RS] [new-region=set|null] [op=set|null] [new-region-volume=set|null] [old-snapshot-volume=set|null]", help: "a region snapshot replacement request's row", min: 1, max: 1, keys: []string{"state", "key", "new-region", "op", "new-region-volume", "old-snapshot-volume"}, run: expectRequest},
			"step":                        {usage: "ST [state=S] [old-snapshot-volume=set|null] [op=set|null]", help: "a step's row", min: 1, max: 1, keys: []string{"state", "old-snapshot-volume", "op"}, run: expectStep},
			"rr":                          {usage: "RR state=S[|S...]", help: "a region replacement request's state", min: 1, max: 1, keys: []string{"state"}, run: expectRR},
			"requests":                    {usage: "[state=S] [count=N] [is=Q,...|none] [contains=Q,...]", help: "the set of requests (in a state)", keys: []string{"state", "count", "is", "contains"}, run: expectRequests},
			"steps":                       {usage: "[state=S] [request=Q] [count=N] [is=...] [volumes=V,...]", help: "the set of steps (in a state, of a request)", keys: []string{"state", "request", "count", "is", "contains", "volumes"}, run: expectSteps},
			"rrs":                         {usage: "[state=S] [old-region=R] [count=N] [is=...]", help: "the set of region replacement requests", keys: []string{"state", "old-region", "count", "is", "contains"}, run: expectRRs},
			"locks":                       {usage: "none | V held-by=REF|none", help: "volume_repair rows", min: 1, max: 1, keys: []string{"held-by"}, run: expectLocks},
			"find-deleted-volume-regions": {usage: "empty", help: "find_deleted_volume_regions returns nothing", min: 1, max: 1, run: expectFindDeleted},
			"volumes-referencing":         {usage: "RS|R|ADDR [is=V,...|none] [contains=V,...] [count=N]", help: "find_volumes_referencing_socket_addr (soft-deleted volumes included)", min: 1, max: 1, keys: []string{"is", "contains", "count"}, run: expectVolumesReferencing},
			"no-crucible-resources":       {usage: "[include-expunged]", help: "crucible_resources_deleted: no agent object left (datasets on expunged disks left out)", flags: []string{"include-expunged"}, run: expectNoCrucibleResources},
			"volume":                      {usage: "V live|soft-deleted|hard-deleted|exists", help: "a volume row's state", min: 2, max: 2, run: expectVolume},
			"region":                      {usage: "R exists|gone", help: "a region row", min: 2, max: 2, run: expectRegion},
			"region-snapshot":             {usage: "RS exists|gone", help: "a region snapshot row", min: 2, max: 2, run: expectRegionSnapshot},
			"regions":                     {usage: "count=N", help: "the number of region rows", keys: []string{"count"}, run: expectRegions, extra: needKeys("count")},
			"allocated-regions":           {usage: "V [count=N] [is=R,...] [contains=R,...]", help: "get_allocated_regions(V)", min: 1, max: 1, keys: []string{"count", "is", "contains"}, run: expectAllocatedRegions},
			"saga-starts":                 {usage: "N", help: "saga starts counted by noop-start activations since the last check (NoopStartSaga::count_reset)", min: 1, max: 1, run: expectSagaStarts},
			"saga":                        {usage: "G [state=done|failed|stuck] [error-node=NODE]", help: "a saga's end", min: 1, max: 1, keys: []string{"state", "error-node"}, run: expectSaga},
			"status":                      {usage: "TASK [nexus=N] [nonempty=FIELD,...] FIELD=N...", help: "fields of a task's last status (errors=N for the error count; nonempty: at least one entry)", min: 1, max: 1, keys: statusKeys(), run: expectStatus},
			"disks":                       {usage: "none", help: "the project's disk list is empty", min: 1, max: 1, run: expectDisks},
			"snapshots":                   {usage: "none", help: "the project's snapshot list is empty", min: 1, max: 1, run: expectSnapshots},
			"usage":                       {usage: "RS|R [is=V,...|none] [count=N]", help: "volume_usage_records_for_resource", min: 1, max: 1, keys: []string{"is", "contains", "count"}, run: expectUsage},
			"expunged-region-snapshots":   {usage: "is=RS,...", help: "find_region_snapshots_on_expunged_physical_disks", keys: []string{"is"}, run: expectExpungedRegionSnapshots, extra: needKeys("is")},
			"expunged-regions":            {usage: "[contains=R,...] [others-of=V] [count=N]", help: "find_read_write_regions_on_expunged_physical_disks; others-of: every region not named is one of V's", keys: []string{"contains", "others-of", "count", "is"}, run: expectExpungedRegions},
			"clean-slate":                 {usage: "", help: "verify_clean_slate of the start saga's unit tests (define-clean-slate first)", run: expectCleanSlate},
			"no-stuck-sagas":              {usage: "", help: "assert_no_failed_undo_steps", run: expectNoStuckSagas},
		}},
		// oracle checks
		"check-state":      {usage: "", help: "run the state invariants now", run: cmdCheckState},
		"check-quiescence": {usage: "[only=ORACLE,...]", help: "run the quiescence (liveness) oracles on the last drain (only: just these)", keys: []string{"only"}, run: cmdCheckQuiescence},
		"delete-all":       {usage: "", help: "delete every image, disk and snapshot through their APIs, one at a time (the fuzzer's final phase)", run: cmdDeleteAll},
		"check-empty":      {usage: "", help: "run the end-no-resources oracle", run: cmdCheckEmpty},
		"expect-violation": {usage: "ORACLE", help: "the previous command reported a violation of ORACLE: acknowledge it (later ones of the same oracle are ignored) and go on", min: 1, max: 1,
			extra: func(c *Cmd) error {
				if o := c.Pos()[0]; !knownOracle(o) {
					return fmt.Errorf("unknown oracle %q", o)
				}
				return nil
			}},
		"show": {usage: "", help: "print the replacement records and counts", output: true, run: cmdShow},
	}
	for _, s := range commandSpecs {
		for _, ss := range s.subs {
			ss.max = maxOr(ss)
		}
	}
}

// maxOr keeps a sub-spec's max (0 means none allowed unless min is set).
func maxOr(s *spec) int {
	if s.max < s.min {
		return s.min
	}
	return s.max
}

func needKeys(keys ...string) func(c *Cmd) error {
	return func(c *Cmd) error {
		for _, k := range keys {
			if _, ok := c.Opt(k); !ok {
				return fmt.Errorf("missing %s=", k)
			}
		}
		return nil
	}
}

func statusKeys() []string {
	keys := []string{"nexus", "errors", "nonempty"}
	for _, fs := range statusFields {
		for _, f := range fs {
			if !contains(keys, f) {
				keys = append(keys, f)
			}
		}
	}
	return keys
}
