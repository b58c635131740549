package graph

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Options configures a Builder.
type Options struct {
	// NoReduce keeps every event as an edge of its own instead of
	// applying the causality-preserving reduction.
	NoReduce bool
	// Filters are the filters to apply (see DefaultFilters); nil applies
	// none.
	Filters []Filter
	// TopFiltered is how many objects each FilterStat lists (default 10).
	TopFiltered int
}

// pairKey identifies the edges that may be merged: same ends, kind and
// flags.
type pairKey struct {
	src, dst uint32
	kind     EdgeKind
	flags    uint8
}

// Builder builds a Graph from edges given in tick order. Not safe for
// concurrent use.
type Builder struct {
	opts    Options
	filters []Filter
	g       *Graph

	keys  map[nodeID]uint32
	pairs map[pairKey]uint32
	// lastIn and lastOut are, per node, the tick of the latest edge into
	// and out of it (Forever once a Span edge touches it that way).
	lastIn, lastOut []uint32

	pendingTime int64
	pendingID   uint64
	pending     bool
	lastTime    int64

	filtered  []FilterStat
	filterObj map[uint32]uint64 // filtered edges per object
	// private tracks the objects of private filters: the one process that
	// touched them, or privMany once several did.
	private map[uint32]uint32
}

const privMany = ^uint32(0)

// NewBuilder returns a Builder.
func NewBuilder(opts Options) (*Builder, error) {
	if opts.TopFiltered == 0 {
		opts.TopFiltered = 10
	}
	b := &Builder{
		opts:      opts,
		g:         &Graph{Nodes: make([]Node, 0, 1024), Procs: make([]ProcessInfo, 1), Sessions: make([]SessionInfo, 1)},
		keys:      map[nodeID]uint32{},
		pairs:     map[pairKey]uint32{},
		filterObj: map[uint32]uint64{},
		private:   map[uint32]uint32{},
	}
	seen := map[string]bool{}
	for _, f := range opts.Filters {
		if seen[f.Name] {
			return nil, fmt.Errorf("filter %q given twice", f.Name)
		}
		seen[f.Name] = true
		f.Globs = slices.Clone(f.Globs)
		f.matchers = nil
		if err := f.compile(); err != nil {
			return nil, err
		}
		b.filters = append(b.filters, f)
		b.filtered = append(b.filtered, FilterStat{Filter: f.Name})
	}
	if len(b.filters) > 254 {
		return nil, fmt.Errorf("too many filters (%d)", len(b.filters))
	}
	return b, nil
}

// Node returns the node of the given kind and key, creating it with the
// given name if it does not exist. A new File node is matched against the
// filters.
func (b *Builder) Node(kind NodeKind, key, name string) uint32 {
	if id, ok := b.keys[nodeID{kind, key}]; ok {
		return id
	}
	id := uint32(len(b.g.Nodes))
	n := Node{Kind: kind, Key: key, Name: name, First: Forever}
	if kind == Endpoint && RemoteAddress(key) {
		n.Flags |= remote
	}
	if kind == Endpoint && strings.Contains(key, ">") {
		n.Flags |= Accepted
	}
	if kind == File {
		for i := range b.filters {
			if b.filters[i].Match(key) {
				n.Filter = uint8(i + 1)
				break
			}
		}
	}
	b.g.Nodes = append(b.g.Nodes, n)
	b.lastIn = append(b.lastIn, 0)
	b.lastOut = append(b.lastOut, 0)
	b.keys[nodeID{kind, key}] = id
	return id
}

// Lookup returns the node of the given kind and key, if it exists.
func (b *Builder) Lookup(kind NodeKind, key string) (uint32, bool) {
	id, ok := b.keys[nodeID{kind, key}]
	return id, ok
}

// NodeAt returns node id for reading and updating its name and flags.
func (b *Builder) NodeAt(id uint32) *Node { return &b.g.Nodes[id] }

// SetProcess attaches process information to node id (a Process node).
func (b *Builder) SetProcess(id uint32, info ProcessInfo) *ProcessInfo {
	n := &b.g.Nodes[id]
	if n.Aux == 0 {
		n.Aux = uint32(len(b.g.Procs))
		b.g.Procs = append(b.g.Procs, info)
	} else {
		b.g.Procs[n.Aux] = info
	}
	return &b.g.Procs[n.Aux]
}

// Process returns the process information of node id, or nil.
func (b *Builder) Process(id uint32) *ProcessInfo {
	n := &b.g.Nodes[id]
	if n.Aux == 0 || n.Kind != Process {
		return nil
	}
	return &b.g.Procs[n.Aux]
}

// SetSession attaches session information to node id (a Session node).
func (b *Builder) SetSession(id uint32, info SessionInfo) *SessionInfo {
	n := &b.g.Nodes[id]
	if n.Aux == 0 {
		n.Aux = uint32(len(b.g.Sessions))
		b.g.Sessions = append(b.g.Sessions, info)
	} else {
		b.g.Sessions[n.Aux] = info
	}
	return &b.g.Sessions[n.Aux]
}

// Session returns the session information of node id, or nil.
func (b *Builder) Session(id uint32) *SessionInfo {
	n := &b.g.Nodes[id]
	if n.Aux == 0 || n.Kind != Session {
		return nil
	}
	return &b.g.Sessions[n.Aux]
}

// Event starts a new input event at wall-clock time t (Unix ns) with
// the source's id for it (the audit serial). The edges added until the
// next call share its tick; an event that adds no edge takes no tick.
// Times that go backwards are raised to the latest one, so that ticks
// and times agree.
func (b *Builder) Event(t int64, id uint64) {
	b.pendingTime = t
	b.pendingID = id
	b.pending = true
}

// tick returns the current tick, allocating it for a pending event.
func (b *Builder) tick() uint32 {
	if b.pending {
		b.pending = false
		t := max(b.pendingTime, b.lastTime)
		b.lastTime = t
		b.g.Times = append(b.g.Times, t)
		b.g.IDs = append(b.g.IDs, b.pendingID)
	}
	if len(b.g.Times) == 0 {
		b.g.Times = append(b.g.Times, b.lastTime)
		b.g.IDs = append(b.g.IDs, 0)
	}
	return uint32(len(b.g.Times) - 1)
}

// Tick returns the tick of the current event (allocating it).
func (b *Builder) Tick() uint32 { return b.tick() }

// Edge adds an edge of the current event. Flags are Span and Inferred.
// An edge from a node to itself is ignored.
func (b *Builder) Edge(kind EdgeKind, src, dst uint32, bytes uint64, flags uint8) {
	if src == dst {
		return
	}
	g := b.g
	g.Stats.EdgesIn++
	ns, nd := &g.Nodes[src], &g.Nodes[dst]
	if kind.Modifies() {
		nd.Flags |= Written
		if kind == Unlink {
			nd.Flags |= Removed
		}
	}
	if kind == Rename && ns.Kind == File {
		ns.Flags |= Removed
	}
	if ns.Filter != 0 && kind.Inbound() && ns.Flags&Written == 0 && !b.filters[ns.Filter-1].Private {
		b.drop(src, ns.Filter)
		return
	}
	if ns.Filter != 0 && b.filters[ns.Filter-1].Private {
		if kind == Execute || kind == Load {
			b.private[src] = privMany // a program run from a temporary file is never filtered
		} else {
			b.touchPrivate(src, dst)
		}
	}
	if nd.Filter != 0 && b.filters[nd.Filter-1].Private {
		b.touchPrivate(dst, src)
	}
	t := b.tick()
	if ns.First == Forever {
		ns.First = t
	}
	if nd.First == Forever {
		nd.First = t
	}
	ns.Last, nd.Last = t, t
	span := flags&Span != 0
	key := pairKey{src, dst, kind, flags}
	if !b.opts.NoReduce {
		if ei, ok := b.pairs[key]; ok {
			e := &g.Edges[ei]
			// Causality-preserving reduction: the new event is
			// equivalent to e for every backward and forward query if
			// nothing flowed into src and nothing flowed out of dst
			// since e's last event. Two Span edges between the same
			// nodes: the later adds nothing.
			if span || (b.lastIn[src] <= e.Last && b.lastOut[dst] <= e.Last) {
				if !span {
					e.Last = t
				}
				e.Count++
				e.Bytes += bytes
				g.Stats.Merged++
				b.stamp(src, dst, t, span)
				return
			}
		}
	}
	last := t
	if span {
		last = Forever
	}
	b.pairs[key] = uint32(len(g.Edges))
	g.Edges = append(g.Edges, Edge{Src: src, Dst: dst, First: t, Last: last, Bytes: bytes, Count: 1, Kind: kind, Flags: flags})
	b.stamp(src, dst, t, span)
}

// stamp records that an edge from src to dst happened at t.
func (b *Builder) stamp(src, dst, t uint32, span bool) {
	if span {
		b.lastIn[dst] = Forever
		b.lastOut[src] = Forever
		return
	}
	if b.lastIn[dst] < t {
		b.lastIn[dst] = t
	}
	if b.lastOut[src] < t {
		b.lastOut[src] = t
	}
}

func (b *Builder) drop(obj uint32, filter uint8) {
	b.filtered[filter-1].Edges++
	if b.filterObj[obj] == 0 {
		b.filtered[filter-1].Objects++
	}
	b.filterObj[obj]++
}

// touchPrivate records that process other touched obj.
func (b *Builder) touchPrivate(obj, other uint32) {
	if b.g.Nodes[other].Kind != Process {
		b.private[obj] = privMany // a rename or link to another object: not private
		return
	}
	switch p, ok := b.private[obj]; {
	case !ok:
		b.private[obj] = other
	case p != other:
		b.private[obj] = privMany
	}
}

// Finish builds the graph. The Builder must not be used afterwards.
func (b *Builder) Finish() *Graph {
	g := b.g
	b.tick() // a graph has at least one tick
	b.pending = false
	// Private filters: drop every edge of objects only one process
	// touched.
	if len(b.private) > 0 {
		drop := map[uint32]bool{}
		for obj, p := range b.private {
			if p != privMany {
				drop[obj] = true
			}
		}
		if len(drop) > 0 {
			kept := g.Edges[:0]
			for _, e := range g.Edges {
				obj := e.Src
				if !drop[obj] {
					obj = e.Dst
				}
				if drop[obj] {
					for range e.Count {
						b.drop(obj, g.Nodes[obj].Filter)
					}
					continue
				}
				kept = append(kept, e)
			}
			g.Edges = kept
		}
	}
	n := len(g.Nodes)
	g.inOff = make([]uint32, n+1)
	g.outOff = make([]uint32, n+1)
	for i := range g.Edges {
		g.inOff[g.Edges[i].Dst+1]++
		g.outOff[g.Edges[i].Src+1]++
	}
	for i := 0; i < n; i++ {
		g.inOff[i+1] += g.inOff[i]
		g.outOff[i+1] += g.outOff[i]
	}
	g.in = make([]uint32, len(g.Edges))
	g.out = make([]uint32, len(g.Edges))
	inPos := slices.Clone(g.inOff[:n])
	outPos := slices.Clone(g.outOff[:n])
	// Edges are in order of their First tick, so the in-lists come out
	// sorted by First.
	for i := range g.Edges {
		e := &g.Edges[i]
		g.in[inPos[e.Dst]] = uint32(i)
		inPos[e.Dst]++
		g.out[outPos[e.Src]] = uint32(i)
		outPos[e.Src]++
	}
	// Out-lists by Last: only reduced and Span edges can be out of
	// order.
	for v := 0; v < n; v++ {
		l := g.out[g.outOff[v]:g.outOff[v+1]]
		if !slices.IsSortedFunc(l, func(a, c uint32) int { return cmp.Compare(g.Edges[a].Last, g.Edges[c].Last) }) {
			slices.SortStableFunc(l, func(a, c uint32) int { return cmp.Compare(g.Edges[a].Last, g.Edges[c].Last) })
		}
	}
	g.inPeer, g.inFirst, g.inLast = make([]uint32, len(g.in)), make([]uint32, len(g.in)), make([]uint32, len(g.in))
	g.inKind = make([]EdgeKind, len(g.in))
	for i, ei := range g.in {
		e := &g.Edges[ei]
		g.inPeer[i], g.inFirst[i], g.inLast[i], g.inKind[i] = e.Src, e.First, e.Last, e.Kind
	}
	g.outPeer, g.outFirst, g.outLast = make([]uint32, len(g.out)), make([]uint32, len(g.out)), make([]uint32, len(g.out))
	g.outKind = make([]EdgeKind, len(g.out))
	g.outBytes, g.outFlags = make([]uint64, len(g.out)), make([]uint8, len(g.out))
	for i, ei := range g.out {
		e := &g.Edges[ei]
		g.outPeer[i], g.outFirst[i], g.outLast[i], g.outKind[i] = e.Dst, e.First, e.Last, e.Kind
		g.outBytes[i], g.outFlags[i] = e.Bytes, e.Flags
	}
	g.kinds = make([]NodeKind, n)
	for i := range g.Nodes {
		g.kinds[i] = g.Nodes[i].Kind
	}
	g.keys = b.keys
	g.Stats.Events = uint64(len(g.Times))
	g.Stats.Edges = uint64(len(g.Edges))
	g.Stats.Nodes = uint64(n)
	// the top filtered objects of each filter
	type objCount struct {
		obj uint32
		n   uint64
	}
	per := make([][]objCount, len(b.filters))
	for obj, c := range b.filterObj {
		f := g.Nodes[obj].Filter - 1
		per[f] = append(per[f], objCount{obj, c})
	}
	for i := range b.filtered {
		l := per[i]
		sort.Slice(l, func(a, c int) bool {
			if l[a].n != l[c].n {
				return l[a].n > l[c].n
			}
			return g.Nodes[l[a].obj].Key < g.Nodes[l[c].obj].Key
		})
		for _, oc := range l[:min(len(l), b.opts.TopFiltered)] {
			b.filtered[i].Top = append(b.filtered[i].Top, FilteredObject{Name: g.Nodes[oc.obj].Name, Edges: oc.n})
		}
	}
	g.Stats.Filtered = b.filtered
	b.g = nil
	b.pairs = nil
	return g
}
