package model

import (
	"github.com/oxide-sim/rsrsim/sim"
)

// User-facing sagas and operations that create or destroy volumes (spec 20
// §9, spec 50 §5 and §7): disk create (blank, from a snapshot, from an
// image), disk delete, snapshot create (Pantry and attached paths),
// snapshot delete, image create (not a saga), image delete, and
// read-only-parent removal.

var (
	opLookupSource         = sim.RegisterReadOp("LookupPath source (snapshot or image)")
	opCreateDiskRecord     = sim.RegisterOp("project_create_disk")
	opDiskSoftDelete       = sim.RegisterOp("project_delete_disk_no_auth")
	opDiskUndelete         = sim.RegisterOp("project_undelete_disk_set_faulted_no_auth")
	opDiskUpdateRuntime    = sim.RegisterOp("disk_update_runtime")
	opLookupDisk           = sim.RegisterReadOp("LookupPath disk")
	opLookupSnapshot       = sim.RegisterReadOp("LookupPath snapshot")
	opLookupImage          = sim.RegisterReadOp("LookupPath image")
	opVolumeCheckout       = sim.RegisterOp("volume_checkout")
	opVolumeRepairLock     = sim.RegisterOp("volume_repair_lock")
	opVolumeRepairUnlock   = sim.RegisterOp("volume_repair_unlock")
	opEnsureSnapshot       = sim.RegisterOp("project_ensure_snapshot")
	opSnapshotSoftDelete   = sim.RegisterOp("project_delete_snapshot")
	opSnapshotUpdateState  = sim.RegisterOp("project_snapshot_update_state")
	opAgentTakeSnapshot    = sim.RegisterOp("agent: take snapshot (pantry/propolis)")
	opAgentRunSnapEnsure   = sim.RegisterOp("agent: ensure running snapshot")
	opRegionSnapshotCreate = sim.RegisterOp("region_snapshot_create")
	opPantryCall           = sim.RegisterReadOp("pantry call")
	opImageCreate          = sim.RegisterOp("project_image_create")
	opImageDelete          = sim.RegisterOp("image_delete")
	opVolumeRemoveROP      = sim.RegisterOp("volume_remove_rop")

	errDiskFaultedUndo = &SagaError{Msg: "failed to delete regions: disk set to faulted"}
	errTargetNotMapped = &SagaError{Msg: "snapshot: top-level target has no region snapshot"}
	errPantryFault     = &SagaError{Msg: "pantry call failed"}
)

// DiskSource is what a new disk is made from.
type DiskSource struct {
	Snapshot UUID // disk from a snapshot
	Image    UUID // disk from an image
}

// ensureRegions ensures each region on its agent, then records its port:
// two atomic steps per region. It returns the addresses in order.
func ensureRegions(x *NodeCtx, regs []Region) ([]Addr, error) {
	addrs := make([]Addr, 0, len(regs))
	for _, r := range regs {
		x.Step(opAgentRegionEnsure)
		port, err := x.W.AgentRegionEnsure(x, r.DatasetID, r.ID, Addr{}, false)
		note(x.Ctx, err, r.ID, UUID(port))
		if err != nil {
			return nil, err
		}
		x.Step(opRegionSetPort)
		if err := x.DB.RegionSetPort(r.ID, port); err != nil {
			x.Result(outErr, uint32(r.ID), 0)
			return nil, err
		}
		addrs = append(addrs, x.DB.AddrOf(r.DatasetID, port))
	}
	return addrs, nil
}

// deleteRegionsOnAgents is delete_crucible_regions (crucible.rs): one
// agent delete per region, one step each. Omicron sends them concurrently
// and collects every result before returning the first error, so a
// failure does not stop the other deletes (docs/fidelity.md §1 item 12).
func deleteRegionsOnAgents(x *NodeCtx, regs []Region) error {
	var first error
	for _, r := range regs {
		x.Step(opAgentRegionDelete)
		err := x.W.AgentRegionDelete(x, r.DatasetID, r.ID)
		note(x.Ctx, err, r.ID, UUID(0))
		if first == nil {
			first = err
		}
	}
	return first
}

func regionIDs(regs []Region) []UUID {
	ids := make([]UUID, len(regs))
	for i, r := range regs {
		ids[i] = r.ID
	}
	return ids
}

// hardDeleteRegions is the [TXN] regions_hard_delete of an undo.
func hardDeleteRegions(x *NodeCtx, regs []Region) error {
	x.Step(opRegionsHardDelete)
	err := x.DB.RegionsHardDelete(regionIDs(regs))
	note(x.Ctx, err, UUID(len(regs)), UUID(0))
	return err
}

// ---------------------------------------------------------------------------
// disk-create (nexus/src/app/sagas/disk_create.rs)

type diskCreate struct {
	src    DiskSource
	diskID UUID
	volID  UUID
	regs   []Region
	vcr    *VCR
}

// NewDiskCreateSaga builds the disk-create saga.
func (w *World) NewDiskCreateSaga(src DiskSource) *Saga {
	st := &diskCreate{src: src}
	s := &Saga{Name: "disk-create", User: true, Inject: NoInject, out: st}
	s.Stages = seq(
		Node{Name: "disk_id", Kind: NodePure, Action: genID(&st.diskID)},
		Node{Name: "volume_id", Kind: NodePure, Action: genID(&st.volID)},
		Node{Name: "created_disk", Action: st.createDiskRecord, Undo: st.createDiskRecordUndo},
		Node{Name: "datasets_and_regions", Action: st.allocRegions, Undo: st.allocRegionsUndo},
		Node{Name: "no_result", Kind: NodePure, Action: nopNode}, // SPACE_ACCOUNT
		Node{Name: "regions_ensure_undo", Action: nopNode, Undo: st.regionsEnsureUndo},
		Node{Name: "regions_ensure", Action: st.regionsEnsure},
		Node{Name: "created_volume", Action: st.createVolumeRecord, Undo: st.createVolumeRecordUndo},
		Node{Name: "disk_runtime", Action: st.finalizeDiskRecord},
	)
	return s
}

// sdc_create_disk_record: LookupPath of the source (fails if it is
// soft-deleted) ‖ insert the disk row in state Creating.
func (st *diskCreate) createDiskRecord(x *NodeCtx) error {
	if st.src.Snapshot != 0 || st.src.Image != 0 {
		x.Step(opLookupSource)
		var err error
		if st.src.Snapshot != 0 {
			_, err = x.DB.SnapshotLookup(st.src.Snapshot)
		} else {
			_, err = x.DB.ImageLookup(st.src.Image)
		}
		note(x.Ctx, err, st.src.Snapshot|st.src.Image, UUID(0))
		if err != nil {
			return err
		}
	}
	x.Step(opCreateDiskRecord)
	_, err := x.DB.ProjectCreateDisk(Disk{ID: st.diskID, VolumeID: st.volID, State: DiskCreating, Gen: 1,
		OriginSnapshot: st.src.Snapshot, OriginImage: st.src.Image})
	note(x.Ctx, err, st.diskID, st.volID)
	return err
}

// sdc_create_disk_record_undo: soft-delete the disk (Detached, Faulted or
// Creating).
func (st *diskCreate) createDiskRecordUndo(x *NodeCtx) error {
	x.Step(opDiskSoftDelete)
	_, err := x.DB.DiskDeleteNoAuth(st.diskID, DiskStates(DiskDetached, DiskFaulted, DiskCreating))
	note(x.Ctx, err, st.diskID, UUID(0))
	return err
}

// sdc_alloc_regions: disk_region_allocate → 3 read/write regions owned by
// the (not yet created) disk volume.
func (st *diskCreate) allocRegions(x *NodeCtx) error {
	x.Step(opRegionAllocate)
	regs, err := x.DB.DiskRegionAllocate(st.volID, x.DB.DefaultAllocStrategy())
	note(x.Ctx, err, st.volID, UUID(len(regs)))
	if err != nil {
		return err
	}
	st.regs = regs
	x.Saga.Claims = append(x.Saga.Claims[:0], regionIDs(regs)...)
	return nil
}

// sdc_alloc_regions_undo: regions_hard_delete of the allocated regions.
func (st *diskCreate) allocRegionsUndo(x *NodeCtx) error { return hardDeleteRegions(x, st.regs) }

// sdc_regions_ensure_undo: delete the regions on their agents; if that
// fails, set the disk Faulted and fail (the saga is then stuck).
func (st *diskCreate) regionsEnsureUndo(x *NodeCtx) error {
	if err := deleteRegionsOnAgents(x, st.regs); err != nil {
		x.Step(opDiskUpdateRuntime)
		d := x.DB.Disk(st.diskID)
		if d != nil {
			x.DB.DiskUpdateRuntime(st.diskID, DiskFaulted, d.Gen+1)
		}
		return errDiskFaultedUndo
	}
	return nil
}

// sdc_regions_ensure: ensure the regions ‖ for a snapshot or image source,
// LookupPath (fails if soft-deleted) ‖ volume_checkout(source volume,
// ReadOnlyCopy) and copy it, ids randomized and targets unchanged, as the
// read-only parent. Nothing is written for the disk volume yet.
func (st *diskCreate) regionsEnsure(x *NodeCtx) error {
	addrs, err := ensureRegions(x, st.regs)
	if err != nil {
		return err
	}
	vcr := &VCR{Kind: VCRVolume, ID: st.volID, SubVolumes: []*VCR{{
		Kind: VCRRegion, ID: x.DB.NewUUID(), Targets: addrs, ReadOnly: false, Gen: 1}}}
	if st.src.Snapshot != 0 || st.src.Image != 0 {
		var srcVol UUID
		if st.src.Snapshot != 0 {
			x.Step(opLookupSnapshot)
			s, err := x.DB.SnapshotLookup(st.src.Snapshot)
			note(x.Ctx, err, st.src.Snapshot, UUID(0))
			if err != nil {
				return err
			}
			srcVol = s.VolumeID
		} else {
			x.Step(opLookupImage)
			img, err := x.DB.ImageLookup(st.src.Image)
			note(x.Ctx, err, st.src.Image, UUID(0))
			if err != nil {
				return err
			}
			srcVol = img.VolumeID
		}
		x.Step(opVolumeCheckout)
		parent, err := x.DB.VolumeCheckout(srcVol, CheckoutReadOnlyCopy)
		note(x.Ctx, err, srcVol, UUID(0))
		if err != nil {
			return err
		}
		rop, err := RandomizeIDs(parent, x.DB.NewUUID)
		if err != nil {
			return err
		}
		vcr.ReadOnlyParent = rop
	}
	st.vcr = vcr
	return nil
}

// sdc_create_volume_record: volume_create(DV); this is where the copied
// parent's read-only targets gain their usage rows.
func (st *diskCreate) createVolumeRecord(x *NodeCtx) error {
	x.Step(opVolumeCreate)
	err := x.DB.VolumeCreate(st.volID, st.vcr)
	note(x.Ctx, err, st.volID, UUID(0))
	return err
}

// sdc_create_volume_record_undo: soft_delete_volume(DV), discarding the
// freed list, then volume_hard_delete(DV) in a separate statement.
func (st *diskCreate) createVolumeRecordUndo(x *NodeCtx) error {
	x.Step(opSoftDeleteVolume)
	_, err := x.DB.SoftDeleteVolume(st.volID)
	note(x.Ctx, err, st.volID, UUID(0))
	if err != nil {
		return err
	}
	x.Step(opVolumeHardDelete)
	x.DB.VolumeHardDelete(st.volID)
	x.Result(sim.OutOK, uint32(st.volID), 0)
	return nil
}

// sdc_finalize_disk_record: Creating → Detached.
func (st *diskCreate) finalizeDiskRecord(x *NodeCtx) error {
	x.Step(opDiskUpdateRuntime)
	d := x.DB.Disk(st.diskID)
	if d == nil {
		x.Result(outErr, uint32(st.diskID), 0)
		return errObjectMissing
	}
	if d.State != DiskCreating {
		// a re-run after success: the disk is already finalized
		x.Result(sim.OutOK, uint32(st.diskID), 0)
		return nil
	}
	_, err := x.DB.DiskUpdateRuntime(st.diskID, DiskDetached, d.Gen+1)
	note(x.Ctx, err, st.diskID, UUID(0))
	return err
}

// ---------------------------------------------------------------------------
// disk-delete (nexus/src/app/sagas/disk_delete.rs)

// NewDiskDeleteSaga builds the disk-delete saga for disk (volume read at
// API time).
func (w *World) NewDiskDeleteSaga(disk, volume UUID) *Saga {
	stages := [][]Node{
		{{Name: "deleted_disk", Action: func(x *NodeCtx) error {
			// sdd_delete_disk_record
			x.Step(opDiskSoftDelete)
			_, err := x.DB.DiskDeleteNoAuth(disk, DiskStates(DiskDetached, DiskFaulted))
			note(x.Ctx, err, disk, UUID(0))
			return err
		}, Undo: func(x *NodeCtx) error {
			// sdd_delete_disk_record_undo
			x.Step(opDiskUndelete)
			err := x.DB.DiskUndeleteSetFaulted(disk)
			note(x.Ctx, err, disk, UUID(0))
			return err
		}}},
		{{Name: "no_result1", Kind: NodePure, Action: nopNode}}, // SPACE_ACCOUNT
		{{Name: "params_for_volume_delete_subsaga", Kind: NodePure, Action: nopNode}},
	}
	stages = append(stages, w.VolumeDeleteSubsaga("volume_delete_subsaga_no_result", volume)...)
	return &Saga{Name: "disk-delete", User: true, Stages: stages, Inject: NoInject}
}

// ---------------------------------------------------------------------------
// snapshot-create (nexus/src/app/sagas/snapshot_create.rs)

type snapCreate struct {
	disk      UUID
	pantry    bool // use_the_pantry, decided at API time
	snapID    UUID
	svID      UUID
	dstID     UUID
	lockID    UUID
	dstRegs   []Region
	dstVCR    *VCR
	diskGen   uint32 // ATTACH_DISK_TO_PANTRY output
	sockets   map[Addr]Addr
	diskVolID UUID
}

// NewSnapshotCreateSaga builds snapshot-create for disk. Pantry is the
// API-time choice: the disk is not attached to an instance with a VMM.
func (w *World) NewSnapshotCreateSaga(disk UUID, pantry bool) *Saga {
	st := &snapCreate{disk: disk, pantry: pantry}
	nodes := make([]Node, 0, 22)
	nodes = append(nodes,
		Node{Name: "snapshot_id", Kind: NodePure, Action: genID(&st.snapID)},
		Node{Name: "volume_id", Kind: NodePure, Action: genID(&st.svID)},
		Node{Name: "destination_volume_id", Kind: NodePure, Action: genID(&st.dstID)},
		Node{Name: "lock_id", Kind: NodePure, Action: genID(&st.lockID)},
		Node{Name: "volume_lock", Action: st.takeVolumeLock, Undo: st.takeVolumeLockUndo},
		Node{Name: "datasets_and_regions", Action: st.allocRegions, Undo: st.allocRegionsUndo},
		// ssc_regions_ensure_undo: delete_crucible_regions of the destination regions
		Node{Name: "regions_ensure_undo", Action: nopNode, Undo: func(x *NodeCtx) error { return deleteRegionsOnAgents(x, st.dstRegs) }},
		Node{Name: "regions_ensure", Action: st.regionsEnsure},
		Node{Name: "created_destination_volume", Action: st.createDestinationVolume, Undo: st.createDestinationVolumeUndo},
		Node{Name: "created_snapshot", Action: st.createSnapshotRecord, Undo: st.createSnapshotRecordUndo},
		Node{Name: "no_result", Kind: NodePure, Action: nopNode}, // SPACE_ACCOUNT
	)
	if pantry {
		nodes = append(nodes,
			Node{Name: "pantry_address", Kind: NodePure, Action: nopNode},
			Node{Name: "disk_generation_number", Action: st.attachDiskToPantry, Undo: st.attachDiskToPantryUndo},
			Node{Name: "call_pantry_attach_for_disk", Action: st.callPantryAttach, Undo: st.pantryDetachUndo},
			Node{Name: "call_pantry_snapshot_for_disk", Action: st.takeDiskSnapshot, Undo: st.deleteDiskSnapshotsUndo},
			Node{Name: "call_pantry_detach_for_disk", Action: st.pantryCall},
		)
	} else {
		nodes = append(nodes, Node{Name: "snapshot_request", Action: st.takeDiskSnapshot, Undo: st.deleteDiskSnapshotsUndo})
	}
	nodes = append(nodes,
		Node{Name: "start_running_snapshot_undo", Action: nopNode, Undo: st.startRunningSnapshotUndo},
		Node{Name: "replace_sockets_map", Action: st.startRunningSnapshot},
		Node{Name: "created_volume", Action: st.createVolumeRecord, Undo: st.createVolumeRecordUndo},
		Node{Name: "finalized_snapshot", Action: st.finalizeSnapshotRecord},
	)
	if pantry {
		nodes = append(nodes, Node{Name: "detach_disk_from_pantry", Action: st.detachDiskFromPantry})
	}
	nodes = append(nodes, Node{Name: "volume_unlock", Action: st.releaseVolumeLock})
	stages := seq(nodes...)
	return &Saga{Name: "snapshot-create", User: true, Stages: stages, Inject: NoInject, out: st}
}

func (st *snapCreate) lookupDisk(x *NodeCtx) (Disk, error) {
	x.Step(opLookupDisk)
	d, err := x.DB.DiskLookup(st.disk)
	note(x.Ctx, err, st.disk, UUID(0))
	return d, err
}

// diskRegions is the "LookupPath disk ‖ get_allocated_regions(DV)" that
// several snapshot-create nodes start with: two atomic steps.
func (st *snapCreate) diskRegions(x *NodeCtx) ([]Region, error) {
	d, err := st.lookupDisk(x)
	if err != nil {
		return nil, err
	}
	x.Step(opGetAllocatedRegions)
	regs := x.DB.GetAllocatedRegions(nil, d.VolumeID)
	x.Result(sim.OutOK, uint32(d.VolumeID), uint32(len(regs)))
	return regs, nil
}

// ssc_take_volume_lock: LookupPath disk ‖ volume_repair_lock(DV, lock_id).
func (st *snapCreate) takeVolumeLock(x *NodeCtx) error {
	d, err := st.lookupDisk(x)
	if err != nil {
		return err
	}
	x.Step(opVolumeRepairLock)
	err = x.DB.VolumeRepairLock(d.VolumeID, st.lockID)
	note(x.Ctx, err, d.VolumeID, st.lockID)
	return err
}

// ssc_take_volume_lock_undo: LookupPath disk (errors, and the saga is
// stuck, if the disk was deleted since) ‖ volume_repair_unlock.
func (st *snapCreate) takeVolumeLockUndo(x *NodeCtx) error {
	d, err := st.lookupDisk(x)
	if err != nil {
		return err
	}
	x.Step(opVolumeRepairUnlock)
	err = x.DB.VolumeRepairUnlock(d.VolumeID, st.lockID)
	note(x.Ctx, err, d.VolumeID, st.lockID)
	return err
}

// ssc_alloc_regions: LookupPath disk ‖ disk_region_allocate(DstV).
func (st *snapCreate) allocRegions(x *NodeCtx) error {
	if _, err := st.lookupDisk(x); err != nil {
		return err
	}
	x.Step(opRegionAllocate)
	regs, err := x.DB.DiskRegionAllocate(st.dstID, x.DB.DefaultAllocStrategy())
	note(x.Ctx, err, st.dstID, UUID(len(regs)))
	if err != nil {
		return err
	}
	st.dstRegs = regs
	x.Saga.Claims = append(x.Saga.Claims[:0], regionIDs(regs)...)
	return nil
}

// ssc_alloc_regions_undo: regions_hard_delete of the destination regions.
func (st *snapCreate) allocRegionsUndo(x *NodeCtx) error { return hardDeleteRegions(x, st.dstRegs) }

// ssc_regions_ensure: ensure DstV's regions; output DstV's VCR.
func (st *snapCreate) regionsEnsure(x *NodeCtx) error {
	addrs, err := ensureRegions(x, st.dstRegs)
	if err != nil {
		return err
	}
	st.dstVCR = &VCR{Kind: VCRVolume, ID: st.dstID, SubVolumes: []*VCR{{
		Kind: VCRRegion, ID: x.DB.NewUUID(), Targets: addrs, Gen: 1}}}
	return nil
}

// ssc_create_destination_volume_record: volume_create(DstV).
func (st *snapCreate) createDestinationVolume(x *NodeCtx) error {
	x.Step(opVolumeCreate)
	err := x.DB.VolumeCreate(st.dstID, st.dstVCR)
	note(x.Ctx, err, st.dstID, UUID(0))
	return err
}

// ssc_create_destination_volume_record_undo: volume_hard_delete(DstV).
func (st *snapCreate) createDestinationVolumeUndo(x *NodeCtx) error {
	x.Step(opVolumeHardDelete)
	x.DB.VolumeHardDelete(st.dstID)
	x.Result(sim.OutOK, uint32(st.dstID), 0)
	return nil
}

// ssc_create_snapshot_record: LookupPath disk ‖ project_ensure_snapshot
// (Creating, volume SV, destination DstV).
func (st *snapCreate) createSnapshotRecord(x *NodeCtx) error {
	if _, err := st.lookupDisk(x); err != nil {
		return err
	}
	x.Step(opEnsureSnapshot)
	_, err := x.DB.ProjectEnsureSnapshot(Snapshot{ID: st.snapID, DiskID: st.disk, VolumeID: st.svID,
		DestinationVolumeID: st.dstID, State: SnapshotCreating, Gen: 1})
	note(x.Ctx, err, st.snapID, st.svID)
	return err
}

// ssc_create_snapshot_record_undo: LookupPath snapshot ‖ soft-delete it
// (Creating, Ready or Faulted).
func (st *snapCreate) createSnapshotRecordUndo(x *NodeCtx) error {
	x.Step(opLookupSnapshot)
	s, err := x.DB.SnapshotLookup(st.snapID)
	note(x.Ctx, err, st.snapID, UUID(0))
	if err != nil {
		return err
	}
	x.Step(opSnapshotSoftDelete)
	err = x.DB.ProjectDeleteSnapshot(st.snapID, s.Gen, SnapshotStates(SnapshotCreating, SnapshotReady, SnapshotFaulted))
	note(x.Ctx, err, st.snapID, UUID(0))
	return err
}

// ssc_attach_disk_to_pantry (snapshot_create.rs): Detached → Maintenance
// (Finalizing or Attached: no change; any other state or a deleted disk
// fails). Output: the new gen. A re-run after a lost success record finds
// the disk in Maintenance, which omicron's match sends to its `_` arm
// (ServiceUnavailable): the node fails and its own undo never runs, so the
// disk stays in Maintenance (docs/fidelity.md §1 item 11).
func (st *snapCreate) attachDiskToPantry(x *NodeCtx) error {
	x.Step(opDiskUpdateRuntime)
	d := x.DB.Disk(st.disk)
	if d == nil || d.Deleted {
		x.Result(outErr, uint32(st.disk), 0)
		return errObjectMissing
	}
	switch d.State {
	case DiskDetached:
		newGen := d.Gen + 1 // d points at the row: read the gen before updating it
		if _, err := x.DB.DiskUpdateRuntime(st.disk, DiskMaintenance, newGen); err != nil {
			x.Result(outErr, uint32(st.disk), 0)
			return err
		}
		st.diskGen = newGen
	case DiskAttached:
		// attached to an instance: no change
		st.diskGen = d.Gen
	default:
		x.Result(outErr, uint32(st.disk), 0)
		return &SagaError{Msg: "disk not in a state to attach to the pantry"}
	}
	x.Result(sim.OutOK, uint32(st.disk), uint32(st.diskGen))
	return nil
}

// ssc_attach_disk_to_pantry_undo: Maintenance → Detached.
func (st *snapCreate) attachDiskToPantryUndo(x *NodeCtx) error {
	x.Step(opDiskUpdateRuntime)
	d := x.DB.Disk(st.disk)
	if d != nil && !d.Deleted && d.State == DiskMaintenance {
		x.DB.DiskUpdateRuntime(st.disk, DiskDetached, d.Gen+1)
	}
	x.Result(sim.OutOK, uint32(st.disk), 0)
	return nil
}

// ssc_call_pantry_attach_for_disk: LookupPath disk ‖ volume_checkout(DV,
// Pantry) ‖ Pantry attach (may fail).
func (st *snapCreate) callPantryAttach(x *NodeCtx) error {
	d, err := st.lookupDisk(x)
	if err != nil {
		return err
	}
	x.Step(opVolumeCheckout)
	_, err = x.DB.VolumeCheckout(d.VolumeID, CheckoutPantry)
	note(x.Ctx, err, d.VolumeID, UUID(0))
	if err != nil {
		return err
	}
	return st.pantryCall(x)
}

// pantryCall is an abstract Pantry call (attach, detach) that may fail.
func (st *snapCreate) pantryCall(x *NodeCtx) error {
	x.Step(opPantryCall)
	if x.W.agentFault(x) {
		x.Result(outErr, uint32(st.disk), 0)
		return errPantryFault
	}
	x.Result(sim.OutOK, uint32(st.disk), 0)
	return nil
}

// ssc_call_pantry_attach_for_disk_undo: Pantry detach (Gone → Ok).
func (st *snapCreate) pantryDetachUndo(x *NodeCtx) error {
	x.Step(opPantryCall)
	x.Result(sim.OutOK, uint32(st.disk), 0)
	return nil
}

// take_disk_snapshot (ssc_call_pantry_snapshot_for_disk or
// ssc_send_snapshot_request_to_sled_agent): a ZFS snapshot on every region
// of the disk volume. Not gone-checked per dataset.
func (st *snapCreate) takeDiskSnapshot(x *NodeCtx) error {
	regs, err := st.diskRegions(x)
	if err != nil {
		return err
	}
	for _, r := range regs {
		x.Step(opAgentTakeSnapshot)
		err := x.W.AgentTakeSnapshot(x, r.DatasetID, r.ID, st.snapID)
		note(x.Ctx, err, r.ID, st.snapID)
		if err != nil {
			return err
		}
	}
	return nil
}

// the undo of the snapshot request: LookupPath disk ‖
// get_allocated_regions(DV) ‖ delete the ZFS snapshot on each region.
func (st *snapCreate) deleteDiskSnapshotsUndo(x *NodeCtx) error {
	regs, err := st.diskRegions(x)
	if err != nil {
		return err
	}
	for _, r := range regs {
		x.Step(opAgentSnapDelete)
		err := x.W.AgentSnapshotDelete(x, RSKey{DatasetID: r.DatasetID, RegionID: r.ID, SnapshotID: st.snapID})
		note(x.Ctx, err, r.ID, st.snapID)
		if err != nil {
			return err
		}
	}
	return nil
}

// ssc_start_running_snapshot_undo: LookupPath disk ‖
// get_allocated_regions(DV) ‖ for each region: delete the running snapshot
// ‖ region_snapshot_remove (unconditional).
func (st *snapCreate) startRunningSnapshotUndo(x *NodeCtx) error {
	regs, err := st.diskRegions(x)
	if err != nil {
		return err
	}
	for _, r := range regs {
		k := RSKey{DatasetID: r.DatasetID, RegionID: r.ID, SnapshotID: st.snapID}
		x.Step(opAgentRunSnapDelete)
		if err := x.W.AgentRunningSnapshotDelete(x, k); err != nil {
			x.Result(outErr, uint32(r.ID), uint32(st.snapID))
			return err
		}
		x.Step(opRegionSnapRemove)
		err := x.DB.RegionSnapshotRemove(k)
		note(x.Ctx, err, r.ID, st.snapID)
		if err != nil {
			return err
		}
	}
	return nil
}

// ssc_start_running_snapshot: LookupPath disk ‖ get_allocated_regions(DV)
// ‖ for each region in query order: ensure the running snapshot ‖
// region_snapshot_create (with zero usage rows). Output: map from region
// address to region snapshot address.
func (st *snapCreate) startRunningSnapshot(x *NodeCtx) error {
	regs, err := st.diskRegions(x)
	if err != nil {
		return err
	}
	sockets := make(map[Addr]Addr, len(regs))
	for _, r := range regs {
		x.Step(opAgentRunSnapEnsure)
		port, err := x.W.AgentRunningSnapshotEnsure(x, r.DatasetID, r.ID, st.snapID)
		note(x.Ctx, err, r.ID, st.snapID)
		if err != nil {
			return err
		}
		addr := x.DB.AddrOf(r.DatasetID, port)
		x.Step(opRegionSnapshotCreate)
		err = x.DB.RegionSnapshotCreate(RSKey{DatasetID: r.DatasetID, RegionID: r.ID, SnapshotID: st.snapID}, addr)
		note(x.Ctx, err, r.ID, st.snapID)
		if err != nil {
			return err
		}
		if r.HasPort {
			sockets[x.DB.AddrOf(r.DatasetID, r.Port)] = addr
		}
	}
	st.sockets = sockets
	return nil
}

// ssc_create_volume_record: LookupPath disk ‖ volume_checkout(DV,
// CopyAndModify) ‖ build SV's VCR (new ids, every Region read-only,
// top-level targets mapped to the region snapshots; fails if one is not in
// the map) ‖ volume_create(SV).
func (st *snapCreate) createVolumeRecord(x *NodeCtx) error {
	d, err := st.lookupDisk(x)
	if err != nil {
		return err
	}
	x.Step(opVolumeCheckout)
	disk, err := x.DB.VolumeCheckout(d.VolumeID, CheckoutCopyAndModify)
	note(x.Ctx, err, d.VolumeID, UUID(0))
	if err != nil {
		return err
	}
	sv, err := snapshotVCR(disk, st.svID, st.sockets, x.DB.NewUUID)
	if err != nil {
		return err
	}
	x.Step(opVolumeCreate)
	err = x.DB.VolumeCreate(st.svID, sv)
	note(x.Ctx, err, st.svID, UUID(0))
	return err
}

// snapshotVCR builds a snapshot volume's VCR from the disk volume's: a copy
// with new ids, every Region read-only, and the top-level sub-volume
// targets replaced by their region snapshots' addresses. The read-only
// parent is copied with its targets unchanged.
func snapshotVCR(disk *VCR, id UUID, sockets map[Addr]Addr, newID func() UUID) (*VCR, error) {
	out := &VCR{Kind: VCRVolume, ID: id}
	for _, sub := range disk.SubVolumes {
		if sub.Kind != VCRRegion {
			c := copyReadOnly(sub, newID)
			out.SubVolumes = append(out.SubVolumes, c)
			continue
		}
		ts := make([]Addr, len(sub.Targets))
		for i, t := range sub.Targets {
			a, ok := sockets[t]
			if !ok {
				return nil, errTargetNotMapped
			}
			ts[i] = a
		}
		out.SubVolumes = append(out.SubVolumes, &VCR{Kind: VCRRegion, ID: newID(), Targets: ts, ReadOnly: true, Gen: sub.Gen})
	}
	if disk.ReadOnlyParent != nil {
		out.ReadOnlyParent = copyReadOnly(disk.ReadOnlyParent, newID)
	}
	return out, nil
}

// copyReadOnly copies a VCR subtree with new ids and every Region set
// read-only, targets unchanged.
func copyReadOnly(v *VCR, newID func() UUID) *VCR {
	c := &VCR{Kind: v.Kind, ID: newID(), ReadOnly: true, Gen: v.Gen}
	if v.Kind == VCRVolume {
		c.ReadOnly = false
		for _, s := range v.SubVolumes {
			c.SubVolumes = append(c.SubVolumes, copyReadOnly(s, newID))
		}
		if v.ReadOnlyParent != nil {
			c.ReadOnlyParent = copyReadOnly(v.ReadOnlyParent, newID)
		}
	}
	c.Targets = append([]Addr(nil), v.Targets...)
	return c
}

// ssc_create_volume_record_undo: soft_delete_volume(SV) only; no hard
// delete, and the freed resources are not processed.
func (st *snapCreate) createVolumeRecordUndo(x *NodeCtx) error {
	x.Step(opSoftDeleteVolume)
	_, err := x.DB.SoftDeleteVolume(st.svID)
	note(x.Ctx, err, st.svID, UUID(0))
	return err
}

// ssc_finalize_snapshot_record: LookupPath snapshot ‖ state → Ready.
func (st *snapCreate) finalizeSnapshotRecord(x *NodeCtx) error {
	x.Step(opLookupSnapshot)
	s, err := x.DB.SnapshotLookup(st.snapID)
	note(x.Ctx, err, st.snapID, UUID(0))
	if err != nil {
		return err
	}
	if s.State == SnapshotReady {
		return nil // a re-run after success
	}
	x.Step(opSnapshotUpdateState)
	_, err = x.DB.SnapshotUpdateState(st.snapID, s.Gen, SnapshotReady)
	note(x.Ctx, err, st.snapID, UUID(0))
	return err
}

// ssc_detach_disk_from_pantry: Maintenance → Detached, only if the disk's
// generation still equals the one ATTACH_DISK_TO_PANTRY recorded.
func (st *snapCreate) detachDiskFromPantry(x *NodeCtx) error {
	x.Step(opDiskUpdateRuntime)
	d := x.DB.Disk(st.disk)
	if d != nil && !d.Deleted && d.State == DiskMaintenance && d.Gen == st.diskGen {
		x.DB.DiskUpdateRuntime(st.disk, DiskDetached, d.Gen+1)
	}
	x.Result(sim.OutOK, uint32(st.disk), 0)
	return nil
}

// ssc_release_volume_lock: LookupPath disk ‖ volume_repair_unlock.
func (st *snapCreate) releaseVolumeLock(x *NodeCtx) error {
	d, err := st.lookupDisk(x)
	if err != nil {
		return err
	}
	x.Step(opVolumeRepairUnlock)
	err = x.DB.VolumeRepairUnlock(d.VolumeID, st.lockID)
	note(x.Ctx, err, d.VolumeID, st.lockID)
	return err
}

// ---------------------------------------------------------------------------
// snapshot-delete (nexus/src/app/sagas/snapshot_delete.rs)

// NewSnapshotDeleteSaga builds snapshot-delete for snapshot s (the record
// as read at API time): soft-delete the record, then two volume-delete
// subsagas in parallel (snapshot volume and destination volume).
func (w *World) NewSnapshotDeleteSaga(s Snapshot) *Saga {
	stages := [][]Node{
		{{Name: "no_result1", Action: func(x *NodeCtx) error {
			// ssd_delete_snapshot_record
			x.Step(opSnapshotSoftDelete)
			err := x.DB.ProjectDeleteSnapshot(s.ID, s.Gen, SnapshotStates(SnapshotReady, SnapshotFaulted, SnapshotDestroyed))
			note(x.Ctx, err, s.ID, UUID(0))
			return err
		}}},
		{{Name: "no_result2", Kind: NodePure, Action: nopNode}}, // SPACE_ACCOUNT
		{{Name: "delete_volume_params", Kind: NodePure, Action: nopNode}},
		{{Name: "delete_volume_destination_params", Kind: NodePure, Action: nopNode}},
		{
			{Name: "delete_volume", Chain: w.VolumeDeleteSubsaga("delete_volume", s.VolumeID)},
			{Name: "delete_destination_volume", Chain: w.VolumeDeleteSubsaga("delete_destination_volume", s.DestinationVolumeID)},
		},
		{{Name: "no_result3", Kind: NodePure, Action: nopNode}},
	}
	return &Saga{Name: "snapshot-delete", User: true, Stages: stages, Inject: NoInject}
}

// ---------------------------------------------------------------------------
// image create (not a saga: Nexus::image_create, nexus/src/app/image.rs)

// ImageCreateFromSnapshot is the image_create request handler for a
// snapshot source, run inside a user request actor: LookupPath snapshot ‖
// volume_checkout_randomize_ids(SV, ReadOnlyCopy) (checkout ‖ create) ‖
// insert the image record. No cleanup if a later step fails.
func (w *World) ImageCreateFromSnapshot(c *sim.Ctx, snapshot UUID) error {
	db := w.DB
	c.Step(opLookupSnapshot)
	s, err := db.SnapshotLookup(snapshot)
	note(c, err, snapshot, UUID(0))
	if err != nil {
		return err
	}
	c.Step(opVolumeCheckout)
	vcr, err := db.VolumeCheckout(s.VolumeID, CheckoutReadOnlyCopy)
	note(c, err, s.VolumeID, UUID(0))
	if err != nil {
		return err
	}
	newVol := db.NewUUID()
	cp, err := RandomizeIDs(vcr, db.NewUUID)
	if err != nil {
		return err
	}
	cp.ID = newVol
	c.Step(opVolumeCreate)
	err = db.VolumeCreate(newVol, cp)
	note(c, err, newVol, UUID(0))
	if err != nil {
		return err
	}
	img := Image{ID: db.NewUUID(), VolumeID: newVol}
	c.Step(opImageCreate)
	_, err = db.ProjectImageCreate(img)
	note(c, err, img.ID, newVol)
	return err
}

// NewImageDeleteSaga builds image-delete (nexus/src/app/sagas/image_delete.rs):
// soft-delete the image record (no undo), then the volume-delete subsaga.
func (w *World) NewImageDeleteSaga(img Image) *Saga {
	stages := [][]Node{
		// sid_delete_image_record: project_image_delete (soft delete)
		{{Name: "deleted_image", Action: func(x *NodeCtx) error {
			x.Step(opImageDelete)
			err := x.DB.ImageDelete(img.ID)
			note(x.Ctx, err, img.ID, UUID(0))
			return err
		}}},
	}
	stages = append(stages, w.VolumeDeleteSubsaga("image_delete_subsaga", img.VolumeID)...)
	return &Saga{Name: "image-delete", User: true, Stages: stages, Inject: NoInject}
}

// ---------------------------------------------------------------------------
// volume-remove-read-only-parent (nexus/src/app/sagas/volume_remove_rop.rs)

// NewRemoveROPSaga builds the saga for volume. The temporary volume id is
// generated when the DAG is built (a constant node), so every re-run uses
// the same id.
func (w *World) NewRemoveROPSaga(volume UUID) *Saga {
	tmp := w.DB.NewUUID()
	stages := [][]Node{
		{{Name: "temp_volume_id", Kind: NodePure, Action: nopNode}},
		// svr_create_temp_volume / svr_create_temp_volume_undo
		{{Name: "create_temp_volume", Action: func(x *NodeCtx) error {
			x.Step(opVolumeCreate)
			err := x.DB.VolumeCreate(tmp, &VCR{Kind: VCRVolume, ID: tmp})
			note(x.Ctx, err, tmp, UUID(0))
			return err
		}, Undo: func(x *NodeCtx) error {
			x.Step(opVolumeHardDelete)
			x.DB.VolumeHardDelete(tmp)
			x.Result(sim.OutOK, uint32(tmp), 0)
			return nil
		}}},
		// svr_remove_read_only_parent: volume_remove_rop (no undo)
		{{Name: "remove_read_only_parent", Action: func(x *NodeCtx) error {
			x.Step(opVolumeRemoveROP)
			_, err := x.DB.VolumeRemoveROP(volume, tmp)
			note(x.Ctx, err, volume, tmp)
			return err
		}}},
		{{Name: "params_for_delete_subsaga", Kind: NodePure, Action: nopNode}},
	}
	stages = append(stages, w.VolumeDeleteSubsaga("final_no_result", tmp)...)
	return &Saga{Name: "volume-remove-read-only-parent", User: true, Stages: stages, Inject: NoInject}
}

// LockID returns the repair lock id of a snapshot-create saga (0 for any
// other saga): the lock its TAKE_VOLUME_LOCK node takes on the disk volume.
func (s *Saga) LockID() UUID {
	if sc, ok := s.out.(*snapCreate); ok {
		return sc.lockID
	}
	return 0
}

// LockDisk returns the disk a snapshot-create saga locks (0 for any other
// saga).
func (s *Saga) LockDisk() UUID {
	if sc, ok := s.out.(*snapCreate); ok {
		return sc.disk
	}
	return 0
}
