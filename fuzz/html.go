package fuzz

import (
	"fmt"
	"html/template"
	"io"

	"github.com/oxide-sim/rsrsim/sim"
)

// htmlMark is one atomic step drawn in an actor's swimlane.
type htmlMark struct {
	Step    uint32
	Style   template.CSS
	Title   string
	Op      string
	Outcome string
	Records string
	Class   string
}

type htmlLane struct {
	ID    int
	Label string
	Kind  string
	Title string
	Span  template.CSS // "" when the actor took no step
	Marks []htmlMark
}

type htmlTick struct {
	Step  uint32
	Style template.CSS
}

type htmlPage struct {
	Meta      ViewMeta
	Steps     uint32
	Lanes     []htmlLane
	Ticks     []htmlTick
	Violation *sim.Violation
	VStyle    template.CSS
}

// left returns the CSS left offset, in percent of the track, of step s
// (1-based) among n steps: each step owns a cell of width 100/n.
func left(s uint32, n uint32) float64 { return float64(s-1) * 100 / float64(n) }

// WriteHTMLTimeline writes a self-contained HTML page (inline CSS and a
// few lines of inline JavaScript, no network fetches) with one swimlane per
// actor and a mark per atomic step along a step axis. Hovering a mark shows
// its step, operation, outcome and records; clicking pins them in the
// details box. The violation's step is drawn in red, with its detail above
// the lanes.
func WriteHTMLTimeline(w io.Writer, r *sim.Run, v *sim.Violation, m ViewMeta) error {
	tr := r.Trace()
	n := uint32(len(tr))
	if n == 0 {
		n = 1
	}
	cell := 100 / float64(n)
	p := htmlPage{Meta: m, Steps: r.Steps(), Violation: v}
	sp := spans(r)
	for i, a := range r.Actors() {
		l := htmlLane{ID: int(a.ID), Label: fmt.Sprintf("#%d %s", a.ID, a.Name()), Kind: a.Kind.String()}
		l.Title = fmt.Sprintf("%s (%s), %d steps", l.Label, l.Kind, sp[i].steps)
		if a.Parent != 0 {
			l.Title += ", spawned by " + actorLabel(r, a.Parent)
		}
		if a.Killed {
			l.Title += ", killed"
		}
		if sp[i].first >= 0 {
			x0 := left(tr[sp[i].first].Step, n)
			x1 := left(tr[sp[i].last].Step, n) + cell
			l.Span = template.CSS(fmt.Sprintf("left:%.4f%%;width:%.4f%%", x0, x1-x0))
		}
		p.Lanes = append(p.Lanes, l)
	}
	for i := range tr {
		e := &tr[i]
		k := int(e.Actor) - 1
		if k < 0 || k >= len(p.Lanes) {
			continue
		}
		mk := htmlMark{Step: e.Step, Op: e.Op.String(), Outcome: e.Outcome.String(), Records: recordText(e), Class: "mark"}
		mk.Style = template.CSS(fmt.Sprintf("left:%.4f%%;width:%.4f%%", left(e.Step, n), cell))
		mk.Title = fmt.Sprintf("step %d (t=%dms): %s -> %s", e.Step, e.Time, mk.Op, mk.Outcome)
		if mk.Records != "" {
			mk.Title += ", records " + mk.Records
		}
		if e.Note != "" {
			mk.Title += "\n" + e.Note
		}
		if v != nil && e.Step == v.Step {
			mk.Class = "mark viol"
			mk.Title += "\nVIOLATION " + v.Oracle + ": " + v.Detail
		}
		p.Lanes[k].Marks = append(p.Lanes[k].Marks, mk)
	}
	every := uint32(1)
	for _, s := range []uint32{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000} {
		every = s
		if n/s <= 20 {
			break
		}
	}
	for s := uint32(1); s <= n; s++ {
		if s == 1 || s%every == 0 {
			p.Ticks = append(p.Ticks, htmlTick{Step: s, Style: template.CSS(fmt.Sprintf("left:%.4f%%", left(s, n)))})
		}
	}
	if v != nil && v.Step >= 1 && v.Step <= n {
		p.VStyle = template.CSS(fmt.Sprintf("left:%.4f%%;width:%.4f%%", left(v.Step, n), cell))
	}
	return htmlTmpl.Execute(w, p)
}

var htmlTmpl = template.Must(template.New("timeline").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rsrsim {{.Meta.Target}}: {{.Meta.Title}}</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 16px; margin: 0 0 4px; }
.meta { color: #555; margin-bottom: 8px; }
.meta code { background: #f3f3f3; padding: 0 3px; }
.violation { background: #fde8e8; border-left: 4px solid #c00; padding: 6px 10px; margin: 8px 0; white-space: pre-wrap; }
.violation b { color: #c00; }
#details { min-height: 1.4em; padding: 4px 10px; background: #f6f6f6; margin: 8px 0; white-space: pre-wrap; font-family: ui-monospace, monospace; }
.timeline { position: relative; }
.lane, .axis { display: flex; align-items: center; height: 22px; border-bottom: 1px solid #eee; }
.label { flex: 0 0 220px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding-right: 8px; }
.label small { color: #888; }
.track { position: relative; flex: 1; height: 100%; }
.span { position: absolute; top: 9px; height: 4px; background: #ccd; }
.mark { position: absolute; top: 4px; height: 14px; min-width: 2px; box-sizing: border-box; border: 1px solid #fff; background: #4a7bd0; cursor: pointer; }
.k-saga .mark { background: #7a4ad0; }
.k-node .mark { background: #4a7bd0; }
.k-task .mark { background: #2f9e6e; }
.k-user .mark { background: #d08a2a; }
.k-env .mark { background: #777; }
.k-test .mark { background: #3b8ab8; }
.mark.viol { background: #d00 !important; }
.mark:hover { outline: 2px solid #000; z-index: 2; }
.overlay { position: absolute; top: 0; bottom: 0; left: 0; right: 0; display: flex; pointer-events: none; }
.vline { position: absolute; top: 0; bottom: 0; background: rgba(220, 0, 0, 0.15); border-left: 1px solid #d00; pointer-events: none; }
.tick { position: absolute; top: 3px; font-size: 10px; color: #888; border-left: 1px solid #ccc; padding-left: 2px; }
</style>
</head>
<body>
<h1>rsrsim trace: {{.Meta.Title}}</h1>
<div class="meta">target <code>{{.Meta.Target}}</code> config <code>{{.Meta.Config}}</code> strategy <code>{{.Meta.Strategy}}</code>, {{.Steps}} steps, {{len .Lanes}} actors, trace hash <code>{{.Meta.TraceHash}}</code></div>
{{with .Violation}}<div class="violation" id="violation"><b>VIOLATION {{.Oracle}}</b> after step {{.Step}}
signature: {{.Signature}}
{{.Detail}}</div>
{{else}}<div class="meta">no violation</div>
{{end}}<div id="details">hover a step for its details; click to pin them here</div>
<div class="timeline" id="timeline">
<div class="axis"><div class="label"><small>actor \ step</small></div><div class="track">{{range .Ticks}}<span class="tick" style="{{.Style}}">{{.Step}}</span>{{end}}</div></div>
{{range .Lanes}}<div class="lane k-{{.Kind}}" data-actor="{{.ID}}"><div class="label" title="{{.Title}}">{{.Label}} <small>{{.Kind}}</small></div><div class="track">{{if .Span}}<div class="span" style="{{.Span}}"></div>{{end}}{{range .Marks}}<div class="{{.Class}}" style="{{.Style}}" title="{{.Title}}" data-step="{{.Step}}"></div>{{end}}</div></div>
{{end}}{{if .VStyle}}<div class="overlay"><div class="label"></div><div class="track"><div class="vline" style="{{.VStyle}}"></div></div></div>
{{end}}</div>
<script>
(function () {
  var box = document.getElementById("details");
  var pinned = false;
  document.getElementById("timeline").addEventListener("mouseover", function (ev) {
    if (!pinned && ev.target.classList.contains("mark")) { box.textContent = ev.target.title; }
  });
  document.getElementById("timeline").addEventListener("click", function (ev) {
    if (ev.target.classList.contains("mark")) { pinned = true; box.textContent = ev.target.title; }
    else { pinned = false; }
  });
})();
</script>
</body>
</html>
`))
