package forensics

import (
	"fmt"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/forensics/graph"
)

// rolePriority orders node roles: a node keeps its most important role,
// and the most important nodes are kept when a view is cut.
func rolePriority(r string) int {
	switch r {
	case "start":
		return 0
	case "entry":
		return 1
	case "secret":
		return 2
	case "written", "endpoint":
		return 3
	case "process":
		return 4
	}
	return 5
}

// viewBuilder collects the subgraph to draw.
type viewBuilder struct {
	inv   *Investigation
	max   int
	role  map[uint32]string
	order []uint32
	edges []uint32
	phase map[uint32]string
}

func newViewBuilder(inv *Investigation, max int) *viewBuilder {
	return &viewBuilder{inv: inv, max: max, role: map[uint32]string{}, phase: map[uint32]string{}}
}

func (v *viewBuilder) add(id uint32, role string) {
	old, ok := v.role[id]
	if !ok {
		if v.full() && rolePriority(role) > rolePriority("secret") {
			return
		}
		v.order = append(v.order, id)
		v.role[id] = role
		return
	}
	if rolePriority(role) < rolePriority(old) {
		v.role[id] = role
	}
}

func (v *viewBuilder) defaultRole(id uint32) string {
	switch v.inv.Graph.Nodes[id].Kind {
	case graph.Process:
		return "process"
	case graph.Endpoint:
		return "endpoint"
	}
	return "other"
}

// full reports whether the view has collected enough candidates: beyond
// them only starts, entry points and secrets are added.
func (v *viewBuilder) full() bool { return len(v.order) >= 4*v.max }

func (v *viewBuilder) addEdge(e uint32, phase string) {
	if _, ok := v.phase[e]; ok {
		return
	}
	if v.full() {
		ed := &v.inv.Graph.Edges[e]
		_, s := v.role[ed.Src]
		_, d := v.role[ed.Dst]
		if !s || !d {
			return
		}
	}
	ed := &v.inv.Graph.Edges[e]
	v.add(ed.Src, v.defaultRole(ed.Src))
	dr := v.defaultRole(ed.Dst)
	if ed.Kind.Modifies() && v.inv.Graph.Nodes[ed.Dst].Kind != graph.Process {
		dr = "written"
	}
	v.add(ed.Dst, dr)
	v.phase[e] = phase
	v.edges = append(v.edges, e)
}

func (v *viewBuilder) view() View {
	g := v.inv.Graph
	keep := map[uint32]bool{}
	var out View
	if len(v.order) <= v.max {
		for _, id := range v.order {
			keep[id] = true
		}
	} else {
		out.Truncated = true
		for pri := 0; pri <= 5 && len(keep) < v.max; pri++ {
			for _, id := range v.order {
				if rolePriority(v.role[id]) == pri && len(keep) < v.max {
					keep[id] = true
				}
			}
		}
	}
	for _, id := range v.order {
		if !keep[id] {
			continue
		}
		n := &g.Nodes[id]
		vn := ViewNode{ID: id, Kind: n.Kind.String(), Label: g.Label(id), Role: v.role[id]}
		if n.Kind == graph.Endpoint || n.Kind == graph.Session || n.Kind == graph.User || n.Kind == graph.Descriptor || n.Kind == graph.Pipe {
			vn.Label = n.Name
		}
		vn.Title = v.title(id)
		if pi := g.Process(id); pi != nil {
			vn.Compartment = pi.Compartment
		}
		out.Nodes = append(out.Nodes, vn)
	}
	for _, e := range v.edges {
		ed := &g.Edges[e]
		if !keep[ed.Src] || !keep[ed.Dst] {
			continue
		}
		out.Edges = append(out.Edges, ViewEdge{Src: ed.Src, Dst: ed.Dst, Kind: ed.Kind.String(),
			Time: g.Time(ed.First).Format(time.RFC3339Nano), Count: ed.Count, Phase: v.phase[e]})
	}
	return out
}

// title is the tooltip of a node.
func (v *viewBuilder) title(id uint32) string {
	inv := v.inv
	g := inv.Graph
	n := &g.Nodes[id]
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", n.Kind, n.Name)
	if pi := g.Process(id); pi != nil {
		if pi.ExecID != "" {
			fmt.Fprintf(&b, "\nexec id %s", pi.ExecID)
		}
		if pi.Exe != "" {
			fmt.Fprintf(&b, "\nexe %s", pi.Exe)
		}
		if len(pi.Argv) > 0 {
			fmt.Fprintf(&b, "\nargv %s", strings.Join(pi.Argv, " "))
		}
		fmt.Fprintf(&b, "\nuid %d auid %d session %d", pi.UID, pi.AUID, pi.Session)
		if pi.Compartment != "" {
			fmt.Fprintf(&b, "\ncompartment %s", pi.Compartment)
		}
	}
	if n.Kind == graph.File {
		if res, labels := inv.resourceOf(id); res != "" || len(labels) > 0 {
			fmt.Fprintf(&b, "\nresource %s %v", res, labels)
		}
	}
	if n.First != graph.Forever {
		fmt.Fprintf(&b, "\nfirst seen %s", g.Time(n.First).Format(time.RFC3339Nano))
	}
	return b.String()
}

// merge adds what w collected after what v has.
func (v *viewBuilder) merge(w *viewBuilder) {
	for _, id := range w.order {
		v.add(id, w.role[id])
	}
	for _, e := range w.edges {
		v.addEdge(e, w.phase[e])
	}
}
