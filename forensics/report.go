package forensics

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/policy"
)

// Direction is the direction of a query.
type Direction uint8

// Directions.
const (
	// Backward: root cause. The report also follows the entry points it
	// finds forward, for the impact.
	Backward Direction = iota + 1
	// Forward: impact.
	Forward
)

// String names the direction.
func (d Direction) String() string {
	if d == Forward {
		return "forward"
	}
	return "backward"
}

// Query is one question.
type Query struct {
	Direction Direction
	// Start names where to start (see the start syntax in spec.go:
	// file:, proc:, pid:, exe:, comm:, endpoint:, session:, event:,
	// alert:).
	Start string
	// At is the time of the start (zero: the end of the input for a
	// backward query, the start's first event for a forward one).
	At time.Time
	// NoImpact skips the forward pass from the entry points of a
	// backward query.
	NoImpact bool
}

// Report is the answer to a query.
type Report struct {
	// Warning, when set, must be shown first: the input was not verified.
	Warning  string             `json:"warning,omitempty"`
	Notes    []string           `json:"notes,omitempty"`
	Query    QueryInfo          `json:"query"`
	Inputs   []Input            `json:"inputs"`
	Graph    GraphInfo          `json:"graph"`
	Filtered []graph.FilterStat `json:"filtered"`
	// RootCause answers a backward query.
	RootCause *RootCause `json:"root_cause,omitempty"`
	// Impact is what the starts (forward) or the entry points (backward)
	// influenced.
	Impact *Impact `json:"impact,omitempty"`
	// Bounds compares, per compromised compartment, the observed impact
	// with the policy's blast radius.
	Bounds          []Bound          `json:"bounds,omitempty"`
	Countermeasures []Countermeasure `json:"countermeasures"`
	Timeline        []TimelineEntry  `json:"timeline"`
	// View is the subgraph the DOT and HTML renderings draw.
	View View `json:"view"`
	// Took is how long the query took (not the load).
	Took time.Duration `json:"took_ns"`
}

// QueryInfo describes the query.
type QueryInfo struct {
	Direction string    `json:"direction"`
	Start     string    `json:"start"`
	At        time.Time `json:"at,omitzero"`
	Starts    []Entity  `json:"starts"`
}

// GraphInfo describes the graph the query ran on.
type GraphInfo struct {
	Events    uint64 `json:"events"`
	EdgesIn   uint64 `json:"edges_before_reduction"`
	Edges     uint64 `json:"edges"`
	Nodes     uint64 `json:"nodes"`
	Merged    uint64 `json:"merged"`
	Dropped   uint64 `json:"filtered"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	IOCalls   bool   `json:"io_calls"`
	LoadTime  string `json:"load_time"`
	Unknown   uint64 `json:"unknown_descriptors"`
	Unobserve uint64 `json:"unobserved_parents"`
}

// Entity is a node of the graph as the report shows it.
type Entity struct {
	ID          uint32             `json:"id"`
	Kind        string             `json:"kind"`
	Name        string             `json:"name"`
	Process     *graph.ProcessInfo `json:"process,omitempty"`
	Session     *graph.SessionInfo `json:"session,omitempty"`
	Resource    string             `json:"resource,omitempty"`
	Labels      []string           `json:"labels,omitempty"`
	Compartment string             `json:"compartment,omitempty"`
	Unobserved  bool               `json:"unobserved,omitempty"`
}

// Step is one edge of a chain.
type Step struct {
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	From  string    `json:"from"`
	To    string    `json:"to"`
	Count uint32    `json:"count,omitempty"`
	Bytes uint64    `json:"bytes,omitempty"`
	// Inferred: the input does not show the edge directly (a parent from
	// a ppid, the reverse direction of a connection).
	Inferred bool `json:"inferred,omitempty"`
}

// Entry point kinds.
const (
	EntryInbound    = "inbound connection"
	EntryOutbound   = "outbound connection"
	EntryLogin      = "login session"
	EntryUnobserved = "process started before the trace"
	EntryDescriptor = "descriptor opened before the trace"
)

// EntryPoint is where something from outside entered the causal past of
// the start.
type EntryPoint struct {
	Kind   string    `json:"kind"`
	Node   Entity    `json:"node"`
	Into   *Entity   `json:"into,omitempty"` // the first process it reached
	Time   time.Time `json:"time"`
	Detail string    `json:"detail"`
	// Chain is the way from the entry point to the start, edge by edge.
	Chain []Step `json:"chain"`
}

// EntryGroup counts entry points of one kind that fed the same process.
type EntryGroup struct {
	Kind   string    `json:"kind"`
	Into   string    `json:"into"`
	Count  int       `json:"count"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	Sample []string  `json:"sample"`
}

// RootCause answers a backward query.
type RootCause struct {
	// EntryPoints are described one by one (the first 100, by kind then
	// time); Groups count the others by kind and the process they fed;
	// Total counts them all.
	EntryPoints []EntryPoint `json:"entry_points"`
	Groups      []EntryGroup `json:"entry_groups,omitempty"`
	Total       int          `json:"entry_points_total"`
	// Compromised lists the compartments of the processes on the chains
	// from the entry points to the start.
	Compromised []string `json:"compromised_compartments,omitempty"`
	Sessions    []string `json:"sessions,omitempty"`
	Nodes       int      `json:"nodes"`
	Edges       int      `json:"edges"`
	Truncated   bool     `json:"truncated,omitempty"`
}

// FileChange is a file (or descriptor, pipe) a tainted process modified.
type FileChange struct {
	Path     string    `json:"path"`
	Kind     string    `json:"kind"` // file, descriptor, pipe
	Actions  []string  `json:"actions"`
	Bytes    uint64    `json:"bytes"`
	First    time.Time `json:"first"`
	By       []string  `json:"by"`
	Resource string    `json:"resource,omitempty"`
	Labels   []string  `json:"labels,omitempty"`
	Sealed   bool      `json:"sealed,omitempty"`
	Temp     bool      `json:"temporary,omitempty"`
}

// ProcessStarted is a process image a tainted process started.
type ProcessStarted struct {
	Process     Entity    `json:"process"`
	Time        time.Time `json:"time"`
	How         string    `json:"how"` // fork, exec
	By          string    `json:"by"`
	CommandLine string    `json:"command_line,omitempty"`
}

// EndpointContact is an endpoint tainted processes talked to.
type EndpointContact struct {
	Address   string    `json:"address"`
	Direction string    `json:"direction"` // outbound, inbound
	BytesSent uint64    `json:"bytes_sent"`
	Sends     uint32    `json:"sends"`
	First     time.Time `json:"first"`
	By        []string  `json:"by"`
	Remote    bool      `json:"remote"`
	Channel   string    `json:"channel,omitempty"`
}

// SecretRead is a secret a tainted process read.
type SecretRead struct {
	Path     string    `json:"path"`
	Resource string    `json:"resource,omitempty"`
	By       []string  `json:"by"`
	Time     time.Time `json:"time"`
	// Before: read before the process was tainted; the secret sat in the
	// memory of a process that was then compromised.
	Before bool `json:"before_compromise,omitempty"`
	// How it is known to be a secret: "policy", "ledger", "name".
	How string `json:"how"`
}

// SealedStatus says whether the sealed root filesystem was touched.
type SealedStatus struct {
	Known    bool     `json:"known"` // sealed paths are known (policy label rootfs, --sealed)
	Touched  bool     `json:"touched"`
	Writes   []string `json:"writes,omitempty"`
	Attempts []string `json:"attempts,omitempty"` // refused modifications (EROFS, EACCES…)
}

// Impact is everything influenced from the starts on.
type Impact struct {
	From []Entity `json:"from"`
	// The lists are by time and cut at their first 1000 (files 2000);
	// the counts are of everything.
	Processes     []Entity          `json:"processes"` // tainted processes
	Started       []ProcessStarted  `json:"processes_started"`
	Files         []FileChange      `json:"files_written"`
	Endpoints     []EndpointContact `json:"endpoints"`
	ProcessCount  int               `json:"processes_total"`
	StartedCount  int               `json:"processes_started_total"`
	FileCount     int               `json:"files_written_total"`
	EndpointCount int               `json:"endpoints_total"`
	Secrets       []SecretRead      `json:"secrets_read"`
	Compartments  []string          `json:"compartments"`
	Sessions      []string          `json:"sessions,omitempty"`
	Sealed        SealedStatus      `json:"sealed_root"`
	Nodes         int               `json:"nodes"`
	Edges         int               `json:"edges"`
	Truncated     bool              `json:"truncated,omitempty"`
	obs           map[string]*observed
}

// Countermeasure is one thing to do.
type Countermeasure struct {
	Action string `json:"action"` // rotate, restore, reimage, restart, block, review, verify
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// String formats the countermeasure on one line.
func (c Countermeasure) String() string {
	return c.Action + " " + c.Target + ": " + c.Reason
}

// TimelineEntry is one event of the timeline.
type TimelineEntry struct {
	Time  time.Time `json:"time"`
	Phase string    `json:"phase"` // root-cause, impact
	Kind  string    `json:"kind"`
	From  string    `json:"from"`
	To    string    `json:"to"`
	Count uint32    `json:"count,omitempty"`
	Bytes uint64    `json:"bytes,omitempty"`
}

// View is a subgraph to draw.
type View struct {
	Nodes     []ViewNode `json:"nodes"`
	Edges     []ViewEdge `json:"edges"`
	Truncated bool       `json:"truncated,omitempty"`
}

// ViewNode is a node to draw. Role says why it is there.
type ViewNode struct {
	ID    uint32 `json:"id"`
	Kind  string `json:"kind"`
	Label string `json:"label"`
	Role  string `json:"role"` // start, entry, secret, written, endpoint, process, other
	Title string `json:"title,omitempty"`
	// Compartment is a process's compartment.
	Compartment string `json:"compartment,omitempty"`
}

// ViewEdge is an edge to draw.
type ViewEdge struct {
	Src   uint32 `json:"src"`
	Dst   uint32 `json:"dst"`
	Kind  string `json:"kind"`
	Time  string `json:"time"`
	Count uint32 `json:"count,omitempty"`
	Phase string `json:"phase"`
}

// Run answers a query.
func (inv *Investigation) Run(q Query) (*Report, error) {
	t0 := time.Now()
	g := inv.Graph
	if q.Direction == 0 {
		q.Direction = Backward
	}
	r, err := inv.resolve(q.Start)
	if err != nil {
		return nil, err
	}
	forward := q.Direction == Forward
	pts := inv.points(r, q.At, forward)
	rep := &Report{
		Query:  QueryInfo{Direction: q.Direction.String(), Start: r.what, At: q.At},
		Inputs: inv.Inputs,
	}
	if len(inv.Warnings) > 0 && inv.Unverified {
		rep.Warning = inv.Warnings[0]
		rep.Notes = inv.Warnings[1:]
	} else {
		rep.Notes = inv.Warnings
	}
	rep.Graph = GraphInfo{Events: g.Stats.Events, EdgesIn: g.Stats.EdgesIn, Edges: g.Stats.Edges, Nodes: g.Stats.Nodes,
		Merged: g.Stats.Merged, IOCalls: inv.Mapper.IOCalls, LoadTime: inv.LoadTime.Round(time.Millisecond).String(),
		Unknown: inv.Mapper.Descriptors, Unobserve: inv.Mapper.Placeholders}
	for _, f := range g.Stats.Filtered {
		rep.Graph.Dropped += f.Edges
	}
	rep.Filtered = g.Stats.Filtered
	if len(g.Times) > 0 {
		rep.Graph.From = g.Time(0).Format(time.RFC3339Nano)
		rep.Graph.To = g.Time(uint32(len(g.Times) - 1)).Format(time.RFC3339Nano)
	}
	seenStart := map[uint32]bool{}
	for _, p := range pts {
		if !seenStart[p.Node] {
			seenStart[p.Node] = true
			rep.Query.Starts = append(rep.Query.Starts, inv.entity(p.Node))
		}
	}
	v := newViewBuilder(inv, inv.opts.MaxView)
	for _, p := range pts {
		v.add(p.Node, "start")
	}
	var fwd *graph.Trace
	var fromNodes []uint32
	var tl []uint64 // timeline: edge<<1 | 1 for the impact
	vi := newViewBuilder(inv, inv.opts.MaxView)
	var tli []uint64 // the impact's part of the timeline
	var timelineCut bool
	// impact follows fwd forward from fpts, and describes it (for a
	// backward query, beside the description of the root cause)
	impact := func(fpts []graph.Point) {
		fwd = g.Forward(fpts, inv.opts.Limits)
		rep.Impact = inv.impact(fwd, fromNodes, vi)
		if len(fwd.Nodes) <= inv.opts.MaxView/2 {
			for _, e := range fwd.Edges {
				vi.addEdge(e, "impact")
			}
		}
		// keep the earliest maxTimeline: edges are numbered by time, so
		// once enough are kept, later ones are skipped without reading
		limit := ^uint32(0)
		for _, e := range fwd.Edges {
			if e > limit {
				continue
			}
			if f := g.Edges[e].Flags; f&graph.Span != 0 && f&graph.Inferred != 0 {
				continue
			}
			if forward || inv.interesting(e) {
				tli = append(tli, uint64(e)<<1|1)
				if len(tli) >= 4*maxTimeline {
					slices.Sort(tli)
					tli = tli[:maxTimeline]
					limit = uint32(tli[maxTimeline-1] >> 1)
					timelineCut = true
				}
			}
		}
	}
	if forward {
		for _, p := range pts {
			fromNodes = append(fromNodes, p.Node)
		}
		impact(pts)
	} else {
		back := g.Backward(pts, inv.opts.Limits)
		cands := inv.entryCandidates(back)
		var wg sync.WaitGroup
		if !q.NoImpact {
			var fpts []graph.Point
			fpts, fromNodes = inv.impactStarts(cands)
			if len(fpts) > 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					impact(fpts)
				}()
			}
		}
		rep.RootCause = inv.rootCause(back, cands, v)
		if len(back.Nodes) <= inv.opts.MaxView/2 {
			for _, e := range back.Edges {
				v.addEdge(e, "root-cause")
			}
		}
		for _, e := range back.Edges {
			if f := g.Edges[e].Flags; f&graph.Span == 0 || f&graph.Inferred == 0 { // not the implied reverse of a connection
				tl = append(tl, uint64(e)<<1)
			}
		}
		wg.Wait()
	}
	v.merge(vi)
	tl = append(tl, tli...)
	if timelineCut {
		rep.Notes = appendUnique(rep.Notes, "the timeline shows the first events only")
	}
	if rep.Impact != nil {
		rep.Bounds = inv.bounds(rep.Impact, rep.RootCause)
	}
	rep.Countermeasures = inv.countermeasures(rep)
	// the timeline: by time (edges are numbered in the order of their
	// first event), root cause before impact, the first 2000
	partialSort(tl, maxTimeline, cmp.Compare[uint64])
	if len(tl) > maxTimeline {
		rep.Notes = appendUnique(rep.Notes, "the timeline shows the first events only")
		tl = tl[:maxTimeline]
	}
	for _, x := range tl {
		phase := "root-cause"
		if x&1 == 1 {
			phase = "impact"
		}
		rep.Timeline = append(rep.Timeline, inv.timelineEntry(uint32(x>>1), phase))
	}
	rep.Timeline = dedupTimeline(rep.Timeline)
	rep.View = v.view()
	rep.Took = time.Since(t0)
	return rep, nil
}

// impactStarts returns where the impact of a backward query starts: each
// entry point (but descriptors) from when it first fed the causal past.
// An entry point beyond the described ones that only fed a process an
// earlier one fed already adds nothing (the earlier one taints the process
// first): it is left out.
func (inv *Investigation) impactStarts(cands []entryCand) ([]graph.Point, []uint32) {
	g := inv.Graph
	var pts []graph.Point
	var from []uint32
	earliest := map[uint32]entryCand{} // process fed → its earliest single-target entry point
	for i, c := range cands {
		if c.kind == EntryDescriptor {
			continue
		}
		if i >= maxEntryDetail {
			only, single := uint32(0), true
			for _, e := range g.Out(c.id) {
				if d := g.Edges[e].Dst; only == 0 || d == only-1 {
					only = d + 1
				} else {
					single = false
					break
				}
			}
			if single && only != 0 {
				if old, ok := earliest[only-1]; !ok || c.first < old.first {
					earliest[only-1] = c
				}
				continue
			}
		}
		pts = append(pts, graph.Point{Node: c.id, Tick: c.first})
		from = append(from, c.id)
	}
	var rest []entryCand
	for _, c := range earliest {
		rest = append(rest, c)
	}
	slices.SortFunc(rest, func(a, b entryCand) int { return cmp.Compare(a.id, b.id) })
	for _, c := range rest {
		pts = append(pts, graph.Point{Node: c.id, Tick: c.first})
		from = append(from, c.id)
	}
	return pts, from
}

// maxTimeline bounds the timeline of a report.
const maxTimeline = 2000

// interesting reports whether an impact edge belongs in the timeline of a
// backward query (which would otherwise repeat every read).
func (inv *Investigation) interesting(e uint32) bool {
	ed := &inv.Graph.Edges[e]
	switch ed.Kind {
	case graph.Fork, graph.Exec, graph.Write, graph.Send, graph.Connect, graph.Accept, graph.Rename,
		graph.Link, graph.Unlink, graph.Setattr, graph.Setuid, graph.Ptrace, graph.Execute:
		return true
	case graph.Read, graph.Mmap:
		return inv.secretHow(ed.Src) != ""
	}
	return false
}

func dedupTimeline(t []TimelineEntry) []TimelineEntry {
	out := t[:0]
	for i, e := range t {
		if i > 0 {
			p := out[len(out)-1]
			if p.Time.Equal(e.Time) && p.Kind == e.Kind && p.From == e.From && p.To == e.To {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

func (inv *Investigation) timelineEntry(e uint32, phase string) TimelineEntry {
	g := inv.Graph
	ed := &g.Edges[e]
	return TimelineEntry{Time: g.Time(ed.First), Phase: phase, Kind: ed.Kind.String(), From: g.Label(ed.Src),
		To: g.Label(ed.Dst), Count: ed.Count, Bytes: ed.Bytes}
}

// entity describes node id.
func (inv *Investigation) entity(id uint32) Entity {
	g := inv.Graph
	n := &g.Nodes[id]
	e := Entity{ID: id, Kind: n.Kind.String(), Name: g.Label(id), Unobserved: n.Flags&graph.Unobserved != 0}
	if pi := g.Process(id); pi != nil {
		c := *pi
		e.Process = &c
		e.Compartment = pi.Compartment
	}
	if si := g.Session(id); si != nil {
		c := *si
		e.Session = &c
	}
	if n.Kind == graph.File {
		e.Resource, e.Labels = inv.resourceOf(id)
	}
	return e
}

// resourceOf names the policy resource (and labels) of a file node.
func (inv *Investigation) resourceOf(id uint32) (string, []string) {
	n := &inv.Graph.Nodes[id]
	labels := inv.labels[id]
	if r := inv.policyResource(id); r != nil {
		var ls []string
		for _, l := range r.Labels {
			ls = append(ls, string(l))
		}
		for _, l := range labels {
			if !slices.Contains(ls, l) {
				ls = append(ls, l)
			}
		}
		return r.Name, ls
	}
	if name, ok := strings.CutPrefix(n.Key, "resource:"); ok {
		return name, labels
	}
	return "", labels
}

// policyResource returns the policy resource of a file node: by its
// path, or by name for a path a ledger redacted ("resource:NAME").
func (inv *Investigation) policyResource(id uint32) *policy.Resource {
	if inv.Policy == nil {
		return nil
	}
	key := inv.Graph.Nodes[id].Key
	if name, ok := strings.CutPrefix(key, "resource:"); ok {
		return inv.Policy.Resource(name)
	}
	return inv.Policy.ResourceAt(key)
}

// step describes edge e.
func (inv *Investigation) step(e uint32) Step {
	g := inv.Graph
	ed := &g.Edges[e]
	s := Step{Time: g.Time(ed.First), Kind: ed.Kind.String(), From: g.Label(ed.Src), To: g.Label(ed.Dst),
		Bytes: ed.Bytes, Inferred: ed.Flags&graph.Inferred != 0}
	if ed.Count > 1 {
		s.Count = ed.Count
	}
	return s
}

// maxEntryDetail is how many entry points a report describes one by one,
// with their chains; the others are counted in groups.
const maxEntryDetail = 100

// entryRank orders entry point kinds: logins and inbound connections
// first, then outbound connections, processes, descriptors.
func entryRank(k string) int {
	switch k {
	case EntryInbound:
		return 0
	case EntryLogin:
		return 1
	case EntryOutbound:
		return 2
	case EntryUnobserved:
		return 3
	}
	return 4
}

// entryCand is a node of a backward trace that is an entry point.
type entryCand struct {
	id    uint32
	kind  string
	first uint32 // tick of its first edge out
}

// entryCandidates finds the entry points of a backward trace: the first
// maxEntryDetail by kind then time first, then the others in no order.
func (inv *Investigation) entryCandidates(tr *graph.Trace) []entryCand {
	g := inv.Graph
	// per node of the trace: whether an edge of the trace enters it, and
	// its first edge out (when it first fed the causal past)
	hasIn, firstOut := tr.HasIn, tr.FirstOut
	isStart := map[uint32]bool{}
	for _, s := range tr.Starts {
		isStart[s.Node] = true
	}
	type cand = entryCand
	var cands []cand
	for ti, id := range tr.Nodes {
		if isStart[id] {
			continue
		}
		kind := ""
		switch g.Kind(id) {
		case graph.Session:
			kind = EntryLogin
		case graph.Endpoint:
			// an accepted connection is where data entered the service
			// that accepted it, even when the client is a local process
			// the trace goes on through; a remote endpoint, or a local
			// one nothing audited wrote to, is where data came from
			switch {
			case strings.Contains(g.Nodes[id].Key, ">") || inv.feedsSession(tr, id):
				kind = EntryInbound
			case g.Remote(id) || !hasIn[ti]:
				kind = EntryOutbound
			}
		case graph.Process:
			if !hasIn[ti] {
				kind = EntryUnobserved
			}
		case graph.Descriptor:
			if !hasIn[ti] {
				kind = EntryDescriptor
			}
		}
		if kind == "" {
			continue
		}
		c := cand{id: id, kind: kind, first: graph.Forever}
		if e := firstOut[ti]; e != 0 {
			c.first = g.Edges[e-1].First
		}
		cands = append(cands, c)
	}
	// the first maxEntryDetail by kind then time are described; the rest
	// are grouped (a full sort of hundreds of thousands of accepted
	// connections is not needed: a selection, then the groups by time)
	rank := func(c cand) uint64 { return uint64(entryRank(c.kind))<<32 | uint64(c.first) }
	less := func(a, b cand) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	}
	if len(cands) > 4*maxEntryDetail {
		partialSort(cands, maxEntryDetail, less) // the rest is in no order
	} else {
		slices.SortFunc(cands, less)
	}
	return cands
}

// rootCause describes the entry points of a backward trace: the first
// maxEntryDetail with their chains, the others in groups.
func (inv *Investigation) rootCause(tr *graph.Trace, cands []entryCand, v *viewBuilder) *RootCause {
	g := inv.Graph
	rc := &RootCause{Nodes: len(tr.Nodes), Edges: len(tr.Edges), Truncated: tr.Truncated}
	firstOut := tr.FirstOut
	rc.Total = len(cands)
	sessions := map[string]bool{}
	comp := map[string]bool{}
	type groupAgg struct {
		count       int
		first, last uint32
		sample      []entryCand
	}
	groups := map[[2]string]*groupAgg{}
	var groupOrder [][2]string
	for i, c := range cands {
		if c.kind == EntryLogin {
			sessions[g.Nodes[c.id].Name] = true
		}
		if i >= maxEntryDetail {
			// counted in a group: its kind and the process it fed
			into := ""
			if ti, ok := tr.Index(c.id); ok && firstOut[ti] != 0 {
				into = g.Nodes[g.Edges[firstOut[ti]-1].Dst].Name
			}
			k := [2]string{c.kind, into}
			gr := groups[k]
			if gr == nil {
				gr = &groupAgg{first: c.first, last: c.first}
				groups[k] = gr
				groupOrder = append(groupOrder, k)
			}
			gr.count++
			gr.first, gr.last = min(gr.first, c.first), max(gr.last, c.first)
			// the three earliest as samples
			gr.sample = append(gr.sample, c)
			if len(gr.sample) > 3 {
				slices.SortFunc(gr.sample, func(a, b entryCand) int { return cmp.Compare(a.first, b.first) })
				gr.sample = gr.sample[:3]
			}
			continue
		}
		ep := EntryPoint{Kind: c.kind, Node: inv.entity(c.id)}
		// the chain from the entry point to the start, and the first
		// process on it
		path := tr.Path(g, c.id)
		for _, e := range path {
			ep.Chain = append(ep.Chain, inv.step(e))
			v.addEdge(e, "root-cause")
			dst := g.Edges[e].Dst
			if ep.Into == nil && g.Nodes[dst].Kind == graph.Process {
				into := inv.entity(dst)
				ep.Into = &into
			}
			if c.kind != EntryDescriptor && c.kind != EntryUnobserved {
				if pi := g.Process(dst); pi != nil && pi.Compartment != "" {
					comp[pi.Compartment] = true
				}
			}
		}
		if len(path) > 0 {
			ep.Time = g.Time(g.Edges[path[0]].First)
		}
		ep.Detail = inv.entryDetail(ep)
		v.add(c.id, "entry")
		rc.EntryPoints = append(rc.EntryPoints, ep)
	}
	for _, k := range groupOrder {
		ga := groups[k]
		gr := EntryGroup{Kind: k[0], Into: k[1], Count: ga.count, First: g.Time(ga.first), Last: g.Time(ga.last)}
		slices.SortFunc(ga.sample, func(a, b entryCand) int { return cmp.Compare(a.first, b.first) })
		for _, c := range ga.sample {
			gr.Sample = append(gr.Sample, g.Nodes[c.id].Name)
		}
		rc.Groups = append(rc.Groups, gr)
	}
	slices.SortStableFunc(rc.Groups, func(a, b EntryGroup) int {
		if c := cmp.Compare(entryRank(a.Kind), entryRank(b.Kind)); c != 0 {
			return c
		}
		return a.First.Compare(b.First)
	})
	for _, s := range tr.Starts {
		if pi := g.Process(s.Node); pi != nil && pi.Compartment != "" {
			comp[pi.Compartment] = true
		}
	}
	rc.Compromised = sortedKeys(comp)
	rc.Sessions = sortedKeys(sessions)
	return rc
}

// feedsSession reports whether endpoint id logged in to a session (an
// ssh client's address).
func (inv *Investigation) feedsSession(tr *graph.Trace, id uint32) bool {
	g := inv.Graph
	for _, e := range g.Out(id) {
		if ed := &g.Edges[e]; ed.Kind == graph.Login {
			if _, ok := tr.Reached(ed.Dst); ok {
				return true
			}
		}
	}
	return false
}

func (inv *Investigation) entryDetail(ep EntryPoint) string {
	into := ""
	if ep.Into != nil {
		into = ep.Into.Name
	}
	switch ep.Kind {
	case EntryInbound:
		if into != "" {
			return fmt.Sprintf("connection from %s accepted by %s", ep.Node.Name, into)
		}
		return "connection from " + ep.Node.Name
	case EntryOutbound:
		if into != "" {
			return fmt.Sprintf("data received by %s from %s", into, ep.Node.Name)
		}
		return "data from " + ep.Node.Name
	case EntryLogin:
		s := ep.Node.Name
		if si := ep.Node.Session; si != nil {
			var parts []string
			if si.Account != "" {
				parts = append(parts, "account "+si.Account)
			} else if si.AUID != 4294967295 {
				parts = append(parts, fmt.Sprintf("login uid %d", si.AUID))
			}
			if si.Address != "" {
				parts = append(parts, "from "+si.Address)
			}
			if si.Via != "" {
				parts = append(parts, "via "+si.Via)
			}
			if si.Terminal != "" {
				parts = append(parts, "on "+si.Terminal)
			}
			if si.Role != "" {
				parts = append(parts, "role "+si.Role)
			}
			if len(parts) > 0 {
				s += " (" + strings.Join(parts, ", ") + ")"
			}
		}
		if into != "" {
			s += " started " + into
		}
		return s
	case EntryUnobserved:
		return ep.Node.Name + ": its own start is not in the input"
	}
	return ep.Node.Name
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// partialSort puts the k smallest elements of s, sorted, at its start
// (quickselect, then a sort of the k); the rest is in no order.
func partialSort[T any](s []T, k int, cmp func(a, b T) int) {
	if k >= len(s) {
		slices.SortFunc(s, cmp)
		return
	}
	lo, hi := 0, len(s)-1
	for lo < hi {
		p := s[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for cmp(s[i], p) < 0 {
				i++
			}
			for cmp(s[j], p) > 0 {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			lo = hi
		}
	}
	slices.SortFunc(s[:k], cmp)
}
