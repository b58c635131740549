package forensics

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/forensics/graph"
)

// A start names what a query starts from:
//
//	file:PATH or PATH       a file (absolute path, or a unique path suffix)
//	proc:EXEC-ID            a process image by exec identity (pid/serial)
//	pid:N                   every image of process N
//	exe:PATH                every image running the executable
//	comm:NAME               every image with that command name
//	endpoint:ADDR           a network or unix endpoint ("10.0.0.1:443",
//	                        "unix:/run/x.sock"), including the
//	                        connections accepted from ADDR
//	session:N               a login session
//	event:SERIAL            an audit event (its edges)
//	alert:N                 an alert of the ledger (its event), N counting
//	                        from 1 or the ledger entry "seq:N"
//
// The time (--at) bounds a backward query (what happened up to then) and
// starts a forward one (what happened from then on).

// startPoints resolves a start for a query: the nodes it names and, for
// an event or alert, the edges.
type resolved struct {
	nodes []uint32
	edges []uint32 // for event and alert starts
	what  string
}

// resolve finds what spec names.
func (inv *Investigation) resolve(spec string) (*resolved, error) {
	g := inv.Graph
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok || strings.HasPrefix(spec, "/") || !knownPrefix(kind) {
		kind, arg = "", spec
	}
	r := &resolved{what: spec}
	switch kind {
	case "", "file":
		if id, ok := g.Lookup(graph.File, arg); ok {
			r.nodes = []uint32{id}
			break
		}
		if kind == "" {
			if ids := inv.endpoints(arg); len(ids) > 0 {
				r.nodes = ids
				break
			}
		}
		suffix := "/" + strings.TrimPrefix(arg, "/")
		if strings.HasPrefix(arg, "/") {
			suffix = arg
		}
		var cands []uint32
		for i := range g.Nodes {
			n := &g.Nodes[i]
			if (n.Kind == graph.File) && (strings.HasSuffix(n.Key, suffix) || n.Name == arg) {
				cands = append(cands, uint32(i))
			}
		}
		if err := unique(g, spec, cands); err != nil {
			return nil, err
		}
		r.nodes = cands
	case "proc":
		if id, ok := g.Lookup(graph.Process, arg); ok {
			r.nodes = []uint32{id}
		}
	case "pid", "exe", "comm":
		for i := range g.Nodes {
			pi := g.Process(uint32(i))
			if pi == nil || g.Nodes[i].Flags&graph.Unobserved != 0 {
				continue
			}
			switch {
			case kind == "pid" && strconv.Itoa(pi.PID) == arg,
				kind == "exe" && (pi.Exe == arg || !strings.HasPrefix(arg, "/") && path.Base(pi.Exe) == arg),
				kind == "comm" && pi.Comm == arg:
				r.nodes = append(r.nodes, uint32(i))
			}
		}
	case "endpoint", "addr":
		r.nodes = inv.endpoints(arg)
	case "session":
		for i := range g.Nodes {
			if si := g.Session(uint32(i)); si != nil && strconv.FormatUint(uint64(si.ID), 10) == arg {
				r.nodes = append(r.nodes, uint32(i))
			}
		}
	case "event":
		serial, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("event:%s: not a serial number", arg)
		}
		r.edges = inv.eventEdges(serial)
	case "alert":
		a, err := inv.alert(arg)
		if err != nil {
			return nil, err
		}
		r.what = fmt.Sprintf("alert %s (%s)", arg, a.Rule)
		if a.Serial != 0 {
			r.edges = inv.eventEdges(a.Serial)
		}
		if len(r.edges) == 0 && a.ExecID != "" {
			if id, ok := g.Lookup(graph.Process, a.ExecID); ok {
				r.nodes = []uint32{id}
			}
		}
	}
	if len(r.nodes) == 0 && len(r.edges) == 0 {
		return nil, fmt.Errorf("%s: nothing in the graph matches (start with file:, proc:, pid:, exe:, comm:, endpoint:, session:, event: or alert:)", spec)
	}
	return r, nil
}

func knownPrefix(k string) bool {
	switch k {
	case "file", "proc", "pid", "exe", "comm", "endpoint", "addr", "session", "event", "alert":
		return true
	}
	return false
}

// unique refuses a suffix that matches several files.
func unique(g *graph.Graph, spec string, ids []uint32) error {
	if len(ids) <= 1 {
		return nil
	}
	var names []string
	for _, id := range ids[:min(len(ids), 5)] {
		names = append(names, g.Nodes[id].Name)
	}
	more := ""
	if len(ids) > 5 {
		more = fmt.Sprintf(" and %d more", len(ids)-5)
	}
	return fmt.Errorf("%s matches %d files (%s%s): give the full path", spec, len(ids), strings.Join(names, ", "), more)
}

// endpoints returns the endpoints with address addr, and the connections
// accepted from it.
func (inv *Investigation) endpoints(addr string) []uint32 {
	g := inv.Graph
	var out []uint32
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if n.Kind != graph.Endpoint {
			continue
		}
		if n.Key == addr || strings.HasPrefix(n.Key, addr+">") || strings.HasSuffix(n.Key, ">"+addr) {
			out = append(out, uint32(i))
		}
	}
	return out
}

// eventEdges returns the edges of the event with the given serial.
func (inv *Investigation) eventEdges(serial uint64) []uint32 {
	g := inv.Graph
	ticks := map[uint32]bool{}
	for t, id := range g.IDs {
		if id == serial {
			ticks[uint32(t)] = true
		}
	}
	var out, within []uint32
	if len(ticks) == 0 {
		return nil
	}
	for i := range g.Edges {
		e := &g.Edges[i]
		if ticks[e.First] || ticks[e.Last] {
			out = append(out, uint32(i))
			continue
		}
		// an event the reduction merged into an edge, not as its first
		// or last: the edges whose span holds its tick
		if e.Count > 1 && e.Last != graph.Forever {
			for t := range ticks {
				if t > e.First && t < e.Last {
					within = append(within, uint32(i))
					break
				}
			}
		}
	}
	if len(out) == 0 {
		return within
	}
	return out
}

func (inv *Investigation) alert(arg string) (*alertRef, error) {
	if len(inv.Alerts) == 0 {
		return nil, fmt.Errorf("alert:%s: the input has no alerts (alerts come from a ledger)", arg)
	}
	if s, ok := strings.CutPrefix(arg, "seq:"); ok {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("alert:%s: not an entry number", arg)
		}
		for _, a := range inv.Alerts {
			if a.Seq == seq {
				return &alertRef{Rule: a.Rule, Serial: a.Serial, ExecID: a.ExecID}, nil
			}
		}
		return nil, fmt.Errorf("alert:%s: no alert at ledger entry %d", arg, seq)
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(inv.Alerts) {
		return nil, fmt.Errorf("alert:%s: give 1..%d (see the alerts listed with --alerts) or seq:N", arg, len(inv.Alerts))
	}
	a := inv.Alerts[n-1]
	return &alertRef{Rule: a.Rule, Serial: a.Serial, ExecID: a.ExecID}, nil
}

type alertRef struct {
	Rule   string
	Serial uint64
	ExecID string
}

// points turns a resolved start into traversal points. at bounds a
// backward query (zero: the end of the input) or starts a forward one
// (zero: each node's first event).
func (inv *Investigation) points(r *resolved, at time.Time, forward bool) []graph.Point {
	g := inv.Graph
	var pts []graph.Point
	for _, e := range r.edges {
		ed := &g.Edges[e]
		if forward {
			pts = append(pts, graph.Point{Node: ed.Dst, Tick: ed.First})
		} else {
			pts = append(pts, graph.Point{Node: ed.Dst, Tick: ed.Last + 1})
			if ed.Last == graph.Forever {
				pts[len(pts)-1].Tick = g.End()
			}
		}
	}
	for _, n := range r.nodes {
		switch {
		case forward && at.IsZero():
			first := g.Nodes[n].First
			if first == graph.Forever {
				first = 0
			}
			pts = append(pts, graph.Point{Node: n, Tick: first})
		case forward:
			pts = append(pts, graph.Point{Node: n, Tick: g.TickAt(at.Add(-time.Nanosecond))})
		case at.IsZero():
			pts = append(pts, graph.Point{Node: n, Tick: g.End()})
		default:
			pts = append(pts, graph.Point{Node: n, Tick: g.TickAt(at)})
		}
	}
	slices.SortFunc(pts, func(a, b graph.Point) int {
		if a.Node != b.Node {
			return int(a.Node) - int(b.Node)
		}
		return int(a.Tick) - int(b.Tick)
	})
	return pts
}
