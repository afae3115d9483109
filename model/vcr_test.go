package model

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// VCR builders and a structural dump, shared by the volume-half tests.

func vReg(id UUID, ro bool, targets ...Addr) *VCR {
	return &VCR{Kind: VCRRegion, ID: id, Targets: targets, ReadOnly: ro, Gen: 1}
}

func vVol(id UUID, rop *VCR, subs ...*VCR) *VCR {
	return &VCR{Kind: VCRVolume, ID: id, SubVolumes: subs, ReadOnlyParent: rop}
}

// vDump renders a VCR with every field the model keeps, for comparisons.
func vDump(v *VCR) string {
	var b strings.Builder
	var walk func(v *VCR)
	walk = func(v *VCR) {
		if v == nil {
			b.WriteString("nil")
			return
		}
		switch v.Kind {
		case VCRVolume:
			b.WriteString("Vol#" + strconv.Itoa(int(v.ID)) + "{sub:[")
			for i, s := range v.SubVolumes {
				if i > 0 {
					b.WriteString(",")
				}
				walk(s)
			}
			b.WriteString("],rop:")
			walk(v.ReadOnlyParent)
			b.WriteString("}")
		case VCRRegion:
			b.WriteString("Reg#" + strconv.Itoa(int(v.ID)) + "{ro:" + strconv.FormatBool(v.ReadOnly) +
				",gen:" + strconv.Itoa(int(v.Gen)) + ",t:[")
			for i, t := range v.Targets {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(AddrString(t))
			}
			b.WriteString("]}")
		case VCRFile:
			b.WriteString("File#" + strconv.Itoa(int(v.ID)))
		}
	}
	walk(v)
	return b.String()
}

func vA(ip, port uint16) Addr { return Addr{IP: ip, Port: port} }

// ---------------------------------------------------------------------------

func TestReadOnlyTargetsBreadthFirstWithDuplicates(t *testing.T) {
	// Volume{sub: [Vol{sub:[R(ro: 1,2)], rop: R(ro: 3)}, R(ro: 4,1)], rop: R(ro: 5)}
	v := vVol(1, vReg(2, true, vA(1, 5)),
		vVol(3, vReg(4, true, vA(1, 3)), vReg(5, true, vA(1, 1), vA(1, 2))),
		vReg(6, true, vA(1, 4), vA(1, 1)),
		vReg(7, false, vA(1, 9)))
	got := ReadOnlyTargets(nil, v)
	// BFS: level 1 = [Vol3, R6, R7, rop R2]; level 2 = [R5, rop R4].
	want := []Addr{vA(1, 4), vA(1, 1), vA(1, 5), vA(1, 1), vA(1, 2), vA(1, 3)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestReadWriteTargetsSubVolumesOnly(t *testing.T) {
	v := vVol(1, vVol(2, nil, vReg(3, false, vA(2, 1))),
		vVol(4, vReg(5, false, vA(2, 2)), vReg(6, false, vA(2, 3))),
		vReg(7, false, vA(2, 4), vA(2, 5)),
		vReg(8, true, vA(2, 6)))
	got := ReadWriteTargets(nil, v)
	want := []Addr{vA(2, 4), vA(2, 5), vA(2, 3)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestRegionInVCR(t *testing.T) {
	v := vVol(1, vReg(2, true, vA(1, 1)),
		vVol(3, vReg(4, true, vA(1, 2)), vReg(5, true, vA(1, 3))),
		vReg(6, false, vA(1, 4)))
	for _, c := range []struct {
		addr Addr
		want bool
	}{{vA(1, 1), false}, {vA(1, 2), false}, {vA(1, 3), true}, {vA(1, 4), true}, {vA(1, 5), false}} {
		if got := RegionInVCR(v, c.addr); got != c.want {
			t.Errorf("RegionInVCR(%v) = %v, want %v", c.addr, got, c.want)
		}
	}
}

// Go version of omicron's test_read_only_target_in_vcr (volume.rs).
func TestReadOnlyTargetInVCR_Omicron(t *testing.T) {
	t104, t105, t106 := vA(0x104, 400), vA(0x105, 401), vA(0x106, 402)
	// finds read-only targets in a read_only_parent
	v := vVol(1, vReg(2, true, t104, t105, t106))
	if ok, err := ReadOnlyTargetInVCR(v, t104); err != nil || !ok {
		t.Fatalf("read-only parent target: %v %v", ok, err)
	}
	// does not find read/write targets
	v = vVol(1, nil, vReg(2, false, t104, t105, t106))
	if ok, err := ReadOnlyTargetInVCR(v, t104); err != nil || ok {
		t.Fatalf("read/write target: %v %v", ok, err)
	}
	// bails on a read/write region under a read-only parent
	v = vVol(1, vReg(2, false, t104, t105, t106))
	if _, err := ReadOnlyTargetInVCR(v, t104); err == nil {
		t.Fatal("read/write region under read-only parent: no error")
	}
}

func TestReadOnlyTargetInVCR_BreadthFirstEarlyMatch(t *testing.T) {
	// A match in the top-level sub-volumes is found before the malformed
	// parent is visited; a miss visits it and errors.
	v := vVol(1, vReg(2, false, vA(1, 9)), vReg(3, true, vA(1, 1)))
	if ok, err := ReadOnlyTargetInVCR(v, vA(1, 1)); err != nil || !ok {
		t.Fatalf("early match: %v %v", ok, err)
	}
	if _, err := ReadOnlyTargetInVCR(v, vA(1, 2)); err == nil || err.(*Error).Class != ErrInternal {
		t.Fatalf("miss: %v", err)
	}
	// nested read-only parent of a sub-volume
	v = vVol(1, nil, vVol(2, vReg(3, true, vA(3, 3))))
	if ok, _ := ReadOnlyTargetInVCR(v, vA(3, 3)); !ok {
		t.Fatal("nested parent target not found")
	}
}

// Go version of omicron's test_replace_read_only_target_in_vcr (volume.rs).
func TestReplaceReadOnlyTargetInVCR_Omicron(t *testing.T) {
	const id = 7
	t400, t401, t402 := vA(0x104, 400), vA(0x105, 401), vA(0x106, 402)
	newT := vA(0x9105, 12345)

	// replacement in a read-only parent
	v := vVol(id, vReg(id, true, t400, t401, t402))
	before := vDump(v)
	nv, n, err := ReplaceReadOnlyTargetInVCR(v, t401, newT)
	if err != nil || n != 1 {
		t.Fatalf("case 1: %d %v", n, err)
	}
	if got, want := vDump(nv), vDump(vVol(id, vReg(id, true, t400, newT, t402))); got != want {
		t.Fatalf("case 1:\n got %s\nwant %s", got, want)
	}
	if vDump(v) != before {
		t.Fatal("input VCR changed")
	}

	// replacement in a read-only parent of a sub-volume
	s1000, s1001, s1002 := vA(0x204, 1000), vA(0x205, 1001), vA(0x206, 1002)
	p2000, p2001, p2002 := vA(0x304, 2000), vA(0x305, 2001), vA(0x306, 2002)
	v = vVol(id, vReg(id, true, t400, t401, t402),
		vVol(id, vReg(id, true, p2000, p2001, p2002), vReg(id, false, s1000, s1001, s1002)))
	nv, n, err = ReplaceReadOnlyTargetInVCR(v, p2002, newT)
	if err != nil || n != 1 {
		t.Fatalf("case 2: %d %v", n, err)
	}
	want := vVol(id, vReg(id, true, t400, t401, t402),
		vVol(id, vReg(id, true, p2000, p2001, newT), vReg(id, false, s1000, s1001, s1002)))
	if vDump(nv) != vDump(want) {
		t.Fatalf("case 2:\n got %s\nwant %s", vDump(nv), vDump(want))
	}

	// multiple replacements are performed and counted
	rop := func(first Addr) *VCR { return vReg(id, true, first, p2001, p2002) }
	v = vVol(id, rop(p2000), vVol(id, rop(p2000), vReg(id, false, s1000, s1001, s1002)))
	nv, n, err = ReplaceReadOnlyTargetInVCR(v, p2000, newT)
	if err != nil || n != 2 {
		t.Fatalf("case 3: %d %v", n, err)
	}
	want = vVol(id, rop(newT), vVol(id, rop(newT), vReg(id, false, s1000, s1001, s1002)))
	if vDump(nv) != vDump(want) {
		t.Fatalf("case 3:\n got %s\nwant %s", vDump(nv), vDump(want))
	}
}

func TestReplaceReadOnlyTargetInVCR_Errors(t *testing.T) {
	v := vVol(1, nil, vReg(2, true, vA(1, 1)))
	if _, _, err := ReplaceReadOnlyTargetInVCR(v, vA(1, 2), vA(1, 3)); err == nil {
		t.Fatal("target absent: no error")
	}
	// read/write targets are not replaced
	v = vVol(1, nil, vReg(2, false, vA(1, 1)))
	if _, _, err := ReplaceReadOnlyTargetInVCR(v, vA(1, 1), vA(1, 3)); err == nil {
		t.Fatal("read/write target replaced")
	}
	// a malformed parent anywhere errors, even after a replacement
	v = vVol(1, vReg(3, false, vA(1, 9)), vReg(2, true, vA(1, 1)))
	if _, _, err := ReplaceReadOnlyTargetInVCR(v, vA(1, 1), vA(1, 3)); err == nil {
		t.Fatal("read/write region under read-only parent: no error")
	}
}

func TestReplaceRegionInVCR(t *testing.T) {
	v := vVol(1, vReg(2, true, vA(1, 1)),
		vReg(3, false, vA(1, 1), vA(1, 2)),
		vVol(4, nil, vReg(5, false, vA(1, 3))))
	before := vDump(v)
	nv, err := ReplaceRegionInVCR(v, vA(1, 1), vA(1, 7))
	if err != nil {
		t.Fatal(err)
	}
	want := vVol(1, vReg(2, true, vA(1, 1)),
		&VCR{Kind: VCRRegion, ID: 3, Targets: []Addr{vA(1, 7), vA(1, 2)}, Gen: 2},
		vVol(4, nil, &VCR{Kind: VCRRegion, ID: 5, Targets: []Addr{vA(1, 3)}, Gen: 2}))
	if vDump(nv) != vDump(want) {
		t.Fatalf("\n got %s\nwant %s", vDump(nv), vDump(want))
	}
	if vDump(v) != before {
		t.Fatal("input VCR changed")
	}
	if _, err := ReplaceRegionInVCR(v, vA(1, 9), vA(1, 7)); err == nil {
		t.Fatal("absent region: no error")
	}
	// only the read-only parent holds it: not found
	if _, err := ReplaceRegionInVCR(vVol(1, vReg(2, false, vA(1, 1))), vA(1, 1), vA(1, 7)); err == nil {
		t.Fatal("parent target replaced")
	}
}

func TestCountReadWriteSubVolumesAndVolumeIsReadOnly(t *testing.T) {
	if n, err := CountReadWriteSubVolumes(vVol(1, nil, vReg(2, false), vReg(3, true))); n != 2 || err != nil {
		t.Fatalf("count: %d %v", n, err)
	}
	if _, err := CountReadWriteSubVolumes(vReg(1, false)); err == nil {
		t.Fatal("top-level Region: no error")
	}
	if n, err := CountReadWriteSubVolumes(&VCR{Kind: VCRFile}); n != 0 || err != nil {
		t.Fatal("File")
	}
	cases := []struct {
		v       *VCR
		ro, err bool
	}{
		{vVol(1, vReg(9, false), vReg(2, true), vReg(3, true)), true, false}, // parent not looked at
		{vVol(1, nil, vReg(2, true), vReg(3, false)), false, false},
		{vVol(1, nil, vReg(2, false), vVol(3, nil)), false, false}, // rw first wins
		{vVol(1, nil, vVol(3, nil), vReg(2, false)), false, true},  // non-Region first errors
		{vReg(1, true), false, true},
		{&VCR{Kind: VCRFile}, true, false},
		{vVol(1, nil), true, false},
	}
	for i, c := range cases {
		ro, err := VolumeIsReadOnly(c.v)
		if ro != c.ro || (err != nil) != c.err {
			t.Errorf("case %d: got %v %v", i, ro, err)
		}
	}
}

func TestRandomizeIDs(t *testing.T) {
	next := UUID(100)
	gen := func() UUID { next++; return next }
	v := vVol(1, vVol(2, nil, vReg(3, true, vA(1, 1))), vReg(4, true, vA(1, 2)), &VCR{Kind: VCRFile, ID: 5})
	before := vDump(v)
	c, err := RandomizeIDs(v, gen)
	if err != nil {
		t.Fatal(err)
	}
	if vDump(v) != before {
		t.Fatal("input changed")
	}
	// BFS order of new ids: Vol1, R4, File5, Vol2, R3.
	want := vVol(101, vVol(104, nil, vReg(105, true, vA(1, 1))), vReg(102, true, vA(1, 2)), &VCR{Kind: VCRFile, ID: 103})
	if vDump(c) != vDump(want) {
		t.Fatalf("\n got %s\nwant %s", vDump(c), vDump(want))
	}
	// a read/write Region anywhere is an error
	_, err = RandomizeIDs(vVol(1, vReg(2, false, vA(1, 1))), gen)
	if err == nil || err.(*Error).Class != ErrInternal {
		t.Fatalf("read/write parent: %v", err)
	}
}

func TestCopyVCRIsDeep(t *testing.T) {
	v := vVol(1, vReg(2, true, vA(1, 1)), vReg(3, false, vA(1, 2)))
	c := CopyVCR(v)
	if vDump(c) != vDump(v) {
		t.Fatal("copy differs")
	}
	c.SubVolumes[0].Targets[0] = vA(9, 9)
	c.ReadOnlyParent.Targets[0] = vA(9, 9)
	c.SubVolumes[0].Gen = 5
	if v.SubVolumes[0].Targets[0] != vA(1, 2) || v.ReadOnlyParent.Targets[0] != vA(1, 1) || v.SubVolumes[0].Gen != 1 {
		t.Fatal("copy shares storage with the original")
	}
}

func TestSubstringAddressMatch(t *testing.T) {
	for _, c := range []struct {
		port, prefix uint16
		want         bool
	}{{400, 40, true}, {40, 40, true}, {4, 40, false}, {401, 40, true}, {1900, 19, true},
		{19001, 1900, true}, {19, 190, false}, {13, 12, false}, {50000, 5, true}, {0, 0, true}, {10, 0, false}} {
		if got := portTextHasPrefix(c.port, c.prefix); got != c.want {
			t.Errorf("portTextHasPrefix(%d, %d) = %v", c.port, c.prefix, got)
		}
	}
	// whole tree, any flag, same IP only
	v := vVol(1, vReg(2, false, vA(1, 4000)), vReg(3, true, vA(2, 400)))
	if !vcrHasTargetTextPrefix(v, vA(1, 40)) || !vcrHasTargetTextPrefix(v, vA(2, 40)) {
		t.Fatal("prefix alias not matched")
	}
	if vcrHasTargetTextPrefix(v, vA(3, 40)) || vcrHasTargetTextPrefix(v, vA(2, 41)) {
		t.Fatal("unrelated address matched")
	}
	if got := AddrString(vA(0x104, 400)); got != "[fd00::104]:400" {
		t.Fatalf("AddrString = %q", got)
	}
}
