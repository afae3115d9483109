package scenarios

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/oxide-sim/rsrsim/model"
)

// Named objects. A scenario binds short names (D, S, DFS, Q, NR, ...) to
// model records as they are created or looked up, so that scripts read
// like spec 30's. A reference is a name, optionally followed by one field:
// D.vol, S.dst, Q.new-region, ...

type objKind string

const (
	kDisk     objKind = "disk"
	kSnapshot objKind = "snapshot"
	kImage    objKind = "image"
	kVolume   objKind = "volume"
	kRegion   objKind = "region"
	kRS       objKind = "region-snapshot"
	kRequest  objKind = "request"
	kStep     objKind = "step"
	kRR       objKind = "region-replacement"
	kDataset  objKind = "dataset"
	kID       objKind = "id"
	kSaga     objKind = "saga"
)

type obj struct {
	kind objKind
	id   model.UUID
	rs   model.RSKey
	addr model.Addr // remembered address (region snapshot, region)
	saga *model.Saga
	// sagaKind and sagaTarget rebuild a saga (saga-check).
	sagaKind string
}

func validName(n string) bool {
	if n == "" || !(n[0] >= 'A' && n[0] <= 'Z' || n[0] >= 'a' && n[0] <= 'z') {
		return false
	}
	for _, c := range n {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// bind names o; a name is bound once.
func (x *runner) bind(name string, o *obj) error {
	if !validName(name) {
		return scriptf("%q is not a valid name (a letter, then letters, digits or _)", name)
	}
	if _, ok := x.names[name]; ok {
		return scriptf("name %s is already bound", name)
	}
	x.names[name] = o
	return nil
}

// nameOf returns the name bound to id (for output), or the id in brackets.
func (x *runner) nameOf(k objKind, id model.UUID) string {
	best := ""
	for n, o := range x.names {
		if o.kind == k && o.id == id && (best == "" || n < best) {
			best = n
		}
	}
	if best != "" {
		return best
	}
	if k == kVolume && x.w != nil {
		db := x.w.DB
		for n, o := range x.names {
			var cand string
			switch o.kind {
			case kDisk:
				if d := db.Disk(o.id); d != nil && d.VolumeID == id {
					cand = n + ".vol"
				}
			case kSnapshot:
				if s := db.Snapshot(o.id); s != nil && s.VolumeID == id {
					cand = n + ".vol"
				} else if s != nil && s.DestinationVolumeID == id {
					cand = n + ".dst"
				}
			case kImage:
				if i := db.Image(o.id); i != nil && i.VolumeID == id {
					cand = n + ".vol"
				}
			}
			if cand != "" && (best == "" || cand < best) {
				best = cand
			}
		}
		if best != "" {
			return best
		}
	}
	return fmt.Sprintf("#%d", id)
}

// field names per kind, and what they resolve to.
var fieldKinds = map[objKind]map[string]objKind{
	kDisk:     {"vol": kVolume},
	kSnapshot: {"vol": kVolume, "dst": kVolume},
	kImage:    {"vol": kVolume},
	kRequest:  {"new-region": kRegion, "new-region-volume": kVolume, "old-snapshot-volume": kVolume, "lock-volume": kVolume},
	kStep:     {"vol": kVolume, "old-snapshot-volume": kVolume, "request": kRequest},
	kRR:       {"vol": kVolume, "new-region": kRegion, "old-region": kRegion, "old-region-volume": kVolume},
	kRegion:   {"vol": kVolume, "dataset": kDataset},
	kRS:       {"dataset": kDataset, "region": kRegion},
}

// lookup resolves a reference NAME or NAME.field.
func (x *runner) lookup(ref string) (*obj, error) {
	name, field, hasField := strings.Cut(ref, ".")
	o, ok := x.names[name]
	if !ok {
		return nil, scriptf("unknown name %s", name)
	}
	if !hasField {
		return o, nil
	}
	fk, ok := fieldKinds[o.kind][field]
	if !ok {
		var fs []string
		for f := range fieldKinds[o.kind] {
			fs = append(fs, f)
		}
		return nil, scriptf("%s is a %s: it has no field %q (fields: %s)", name, o.kind, field, orNone(sortedStrings(fs)))
	}
	db := x.w.DB
	var id model.UUID
	switch o.kind {
	case kDisk:
		d := db.Disk(o.id)
		if d == nil {
			return nil, failf(OracleCommand, "disk %s has no row", name)
		}
		id = d.VolumeID
	case kSnapshot:
		s := db.Snapshot(o.id)
		if s == nil {
			return nil, failf(OracleCommand, "snapshot %s has no row", name)
		}
		id = s.VolumeID
		if field == "dst" {
			id = s.DestinationVolumeID
		}
	case kImage:
		img := db.Image(o.id)
		if img == nil {
			return nil, failf(OracleCommand, "image %s has no row", name)
		}
		id = img.VolumeID
	case kRequest:
		q := db.Request(o.id)
		if q == nil {
			return nil, failf(OracleCommand, "request %s has no row", name)
		}
		switch field {
		case "new-region":
			id = q.NewRegionID
		case "new-region-volume":
			id = q.NewRegionVolumeID
		case "old-snapshot-volume":
			id = q.OldSnapshotVolumeID
		case "lock-volume":
			for _, l := range db.Locks {
				if l.RepairID == q.ID {
					id = l.VolumeID
				}
			}
		}
	case kStep:
		s := db.Step(o.id)
		if s == nil {
			return nil, failf(OracleCommand, "step %s has no row", name)
		}
		switch field {
		case "vol":
			id = s.VolumeID
		case "old-snapshot-volume":
			id = s.OldSnapshotVolumeID
		case "request":
			id = s.RequestID
		}
	case kRR:
		q := db.RRequest(o.id)
		if q == nil {
			return nil, failf(OracleCommand, "region replacement %s has no row", name)
		}
		switch field {
		case "vol":
			id = q.VolumeID
		case "new-region":
			id = q.NewRegionID
		case "old-region":
			id = q.OldRegionID
		case "old-region-volume":
			id = q.OldRegionVolumeID
		}
	case kRegion:
		r := db.Region(o.id)
		if r == nil {
			return nil, failf(OracleCommand, "region %s has no row", name)
		}
		id = r.VolumeID
		if field == "dataset" {
			id = r.DatasetID
		}
	case kRS:
		id = o.rs.RegionID
		if field == "dataset" {
			id = o.rs.DatasetID
		}
	}
	if id == 0 {
		return nil, failf(OracleCommand, "%s is not set", ref)
	}
	out := &obj{kind: fk, id: id}
	if fk == kRegion {
		out.addr = x.regionAddr(id)
	}
	return out, nil
}

func (x *runner) regionAddr(id model.UUID) model.Addr {
	a, ok, err := x.w.DB.RegionAddr(id)
	if err != nil || !ok {
		return model.Addr{}
	}
	return a
}

// want resolves ref and requires one of kinds.
func (x *runner) want(ref string, kinds ...objKind) (*obj, error) {
	o, err := x.lookup(ref)
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if o.kind == k {
			return o, nil
		}
	}
	var ks []string
	for _, k := range kinds {
		ks = append(ks, string(k))
	}
	return nil, scriptf("%s is a %s, want a %s", ref, o.kind, strings.Join(ks, " or "))
}

// id resolves ref to an id of one of kinds (an "id" name is accepted for
// every kind).
func (x *runner) id(ref string, kinds ...objKind) (model.UUID, error) {
	o, err := x.want(ref, append(kinds, kID)...)
	if err != nil {
		return 0, err
	}
	return o.id, nil
}

// idOrNew is like id, except that "new" draws a fresh id (a random UUID of
// omicron's tests: it names no row).
func (x *runner) idOrNew(ref string, kinds ...objKind) (model.UUID, error) {
	if ref == "new" {
		return x.w.DB.NewUUID(), nil
	}
	return x.id(ref, kinds...)
}

// addr resolves an address: a literal [ip]:port (ip is the model's IP
// index; real datasets have 1, 2, ...), or a region snapshot's or region's
// address (remembered when the name was bound), or NAME+D: NAME's address
// with the digit D appended to the port's decimal text (a port-prefix
// alias, spec 40 entry #9).
func (x *runner) addr(ref string) (model.Addr, error) {
	if strings.HasPrefix(ref, "[") {
		ip, port, ok := strings.Cut(strings.TrimPrefix(ref, "["), "]:")
		i, err1 := strconv.ParseUint(ip, 10, 16)
		p, err2 := strconv.ParseUint(port, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return model.Addr{}, scriptf("malformed address %q: want [ip]:port with a numeric ip index", ref)
		}
		return model.Addr{IP: uint16(i), Port: uint16(p)}, nil
	}
	name, digit, alias := strings.Cut(ref, "+")
	o, err := x.want(name, kRS, kRegion)
	if err != nil {
		return model.Addr{}, err
	}
	if o.addr.IsZero() && o.kind == kRegion {
		o.addr = x.regionAddr(o.id)
	}
	if o.addr.IsZero() {
		return model.Addr{}, failf(OracleCommand, "%s has no address", name)
	}
	if !alias {
		return o.addr, nil
	}
	d, err := strconv.Atoi(digit)
	if err != nil || d < 0 || d > 9 || int(o.addr.Port)*10+d > 65535 {
		return model.Addr{}, scriptf("%q: want NAME+D with one digit D (the port's text extended by D)", ref)
	}
	return model.Addr{IP: o.addr.IP, Port: o.addr.Port*10 + uint16(d)}, nil
}

// list splits a comma-separated list.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ids resolves a comma-separated list of references of kinds.
func (x *runner) ids(v string, kinds ...objKind) ([]model.UUID, error) {
	var out []model.UUID
	for _, s := range list(v) {
		id, err := x.id(s, kinds...)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// names renders ids with their bound names, sorted.
func (x *runner) renderNames(k objKind, ids []model.UUID) string {
	var s []string
	for _, id := range ids {
		s = append(s, x.nameOf(k, id))
	}
	return "[" + strings.Join(sortedStrings(s), " ") + "]"
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// sameSet reports whether a and b hold the same ids (as multisets).
func sameSet(a, b []model.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !used[j] && x == y {
				used[j] = true
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
