package analysis

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rampart-sec/rampart/policy"
)

// NodeKind is the kind of a node of the information-flow graph.
type NodeKind uint8

// Node kinds. A channel is two nodes: its request half (clients to the
// server) and its reply half (the server to its clients), so that two
// clients of one server do not appear to talk to each other directly.
const (
	NodeCompartment NodeKind = iota + 1
	NodeRole
	NodeResource
	NodeRequest
	NodeReply
)

// String returns "compartment", "role", "resource", "request" or "reply".
func (k NodeKind) String() string {
	switch k {
	case NodeCompartment:
		return "compartment"
	case NodeRole:
		return "role"
	case NodeResource:
		return "resource"
	case NodeRequest:
		return "request"
	case NodeReply:
		return "reply"
	}
	return fmt.Sprintf("NodeKind(%d)", uint8(k))
}

// Flow is a set of reasons for information to flow along an edge of the
// flow graph. docs/policy.md ("Information flow semantics") defines them.
type Flow uint16

// Flow reasons.
const (
	// FlowRead: object to subject, by read, execute, map-exec or ioctl on
	// a resource.
	FlowRead Flow = 1 << iota
	// FlowWrite: subject to object, by write, append, create, delete,
	// setattr or ioctl on a resource.
	FlowWrite
	// FlowRequest: client to a channel's request half (connect), and the
	// request half to the server (bind, listen).
	FlowRequest
	// FlowReply: server to a channel's reply half, and the reply half to
	// each client.
	FlowReply
	// FlowSignal: sender to the signalled compartment.
	FlowSignal
	// FlowPtrace: tracer to tracee and back.
	FlowPtrace
	// FlowSpawn: parent to child (arguments, environment, descriptors).
	FlowSpawn
	// FlowEnter: a role to a compartment it enters and back (a person
	// running commands and reading their output).
	FlowEnter
)

var flowNames = []string{"read", "write", "request", "reply", "signal", "ptrace", "spawn", "enter"}

// String lists the reasons: "read,ptrace".
func (f Flow) String() string {
	var parts []string
	for i, n := range flowNames {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// Verbs that move information from an object to the subject, and from the
// subject to an object.
var (
	readVerbs  = policy.NewVerbSet(policy.VerbRead, policy.VerbExecute, policy.VerbMapExec, policy.VerbIoctl)
	writeVerbs = policy.NewVerbSet(policy.VerbWrite, policy.VerbAppend, policy.VerbCreate, policy.VerbDelete, policy.VerbSetattr, policy.VerbIoctl)
	// alterVerbs change an object: what a compromised subject can do to
	// the integrity of a resource.
	alterVerbs = policy.NewVerbSet(policy.VerbWrite, policy.VerbAppend, policy.VerbCreate, policy.VerbDelete, policy.VerbSetattr)
	// codeVerbs load an object as code.
	codeVerbs = policy.NewVerbSet(policy.VerbExecute, policy.VerbMapExec)
)

// edge is an edge of the flow graph.
type edge struct {
	to    int32
	flow  Flow
	verbs policy.VerbSet // verbs behind read, write, signal and ptrace flows
	at    *hcl.Range     // the first rule, spawn or role block creating it
}

// graph is the information-flow graph of a policy: nodes are subjects
// (compartments, roles) and objects (resources, channel halves), edges say
// that information can move from one to the other in one step.
//
// Node ids: compartments [0, nComp), roles [nComp, nSubj), resources
// [nSubj, nSubj+len(Resources)), then two nodes per channel (request,
// reply), all in declaration order.
type graph struct {
	p        *policy.Policy
	names    []string
	kinds    []NodeKind
	ids      map[string]int32 // entity name → first node id
	out      [][]edge
	in       [][]int32
	terminal bitset // roles: paths may start or end there, never pass through
	nComp    int32
	nSubj    int32
	nEdges   int
}

func (g *graph) addNode(name string, k NodeKind) int32 {
	id := int32(len(g.names))
	g.names = append(g.names, name)
	g.kinds = append(g.kinds, k)
	if _, dup := g.ids[name]; !dup {
		g.ids[name] = id
	}
	return id
}

// buildGraph derives the flow graph from the policy's rules, spawn blocks
// and role enter lists.
func buildGraph(p *policy.Policy) *graph {
	n := len(p.Compartments) + len(p.Roles) + len(p.Resources) + 2*len(p.Channels)
	g := &graph{p: p, ids: make(map[string]int32, n), names: make([]string, 0, n), kinds: make([]NodeKind, 0, n)}
	for _, c := range p.Compartments {
		g.addNode(c.Name, NodeCompartment)
	}
	g.nComp = int32(len(g.names))
	for _, r := range p.Roles {
		g.addNode(r.Name, NodeRole)
	}
	g.nSubj = int32(len(g.names))
	for _, r := range p.Resources {
		g.addNode(r.Name, NodeResource)
	}
	for _, c := range p.Channels {
		g.addNode(c.Name, NodeRequest)
		g.addNode(c.Name, NodeReply)
	}
	g.out = make([][]edge, len(g.names))
	g.terminal = newBitset(len(g.names))
	for i := g.nComp; i < g.nSubj; i++ {
		g.terminal.set(i)
	}
	index := make(map[uint64]int32, 4*len(p.Rules))
	add := func(u, v int32, f Flow, verbs policy.VerbSet, at *hcl.Range) {
		if u == v {
			return
		}
		key := uint64(u)<<32 | uint64(uint32(v))
		if i, ok := index[key]; ok {
			e := &g.out[u][i]
			e.flow |= f
			e.verbs |= verbs
			return
		}
		index[key] = int32(len(g.out[u]))
		g.out[u] = append(g.out[u], edge{to: v, flow: f, verbs: verbs, at: at})
		g.nEdges++
	}
	for _, r := range p.Rules {
		s, ok := g.ids[r.Subject]
		if !ok {
			continue
		}
		verbs := r.Verbs.Implied()
		for _, o := range r.Objects {
			oid, ok := g.ids[o]
			if !ok {
				continue
			}
			switch g.kinds[oid] {
			case NodeResource:
				if rv := verbs & readVerbs; rv != 0 {
					add(oid, s, FlowRead, rv, &r.Range)
				}
				if wv := verbs & writeVerbs; wv != 0 {
					add(s, oid, FlowWrite, wv, &r.Range)
				}
			case NodeCompartment:
				if verbs.Has(policy.VerbSignal) {
					add(s, oid, FlowSignal, policy.NewVerbSet(policy.VerbSignal), &r.Range)
				}
				if verbs.Has(policy.VerbPtrace) {
					pt := policy.NewVerbSet(policy.VerbPtrace)
					add(s, oid, FlowPtrace, pt, &r.Range)
					add(oid, s, FlowPtrace, pt, &r.Range)
				}
			case NodeRequest:
				req, rep := oid, oid+1
				switch r.Origin {
				case policy.OriginServer:
					add(req, s, FlowRequest, 0, &r.Range)
					add(s, rep, FlowReply, 0, &r.Range)
				case policy.OriginClient:
					add(s, req, FlowRequest, 0, &r.Range)
					add(rep, s, FlowReply, 0, &r.Range)
				}
			}
		}
	}
	for _, sp := range p.Spawns {
		from, ok := g.ids[sp.From]
		if !ok {
			continue
		}
		for _, t := range sp.To {
			if to, ok := g.ids[t]; ok {
				add(from, to, FlowSpawn, 0, &sp.Range)
			}
		}
	}
	for _, r := range p.Roles {
		rid := g.ids[r.Name]
		for _, e := range r.Enter {
			if c, ok := g.ids[e]; ok {
				add(rid, c, FlowEnter, 0, &r.Range)
				add(c, rid, FlowEnter, 0, &r.Range)
			}
		}
	}
	g.in = make([][]int32, len(g.names))
	for u, es := range g.out {
		for _, e := range es {
			g.in[e.to] = append(g.in[e.to], int32(u))
		}
	}
	return g
}

// nodesOf returns the node ids of the named entity (two for a channel).
func (g *graph) nodesOf(name string) []int32 {
	id, ok := g.ids[name]
	if !ok {
		return nil
	}
	if g.kinds[id] == NodeRequest {
		return []int32{id, id + 1}
	}
	return []int32{id}
}

// selectNodes returns the node ids of the entities a selector denotes, in
// id (declaration) order, and the same as a set.
func (g *graph) selectNodes(s policy.Selector) ([]int32, bitset) {
	set := newBitset(len(g.names))
	if s.Empty() {
		return nil, set
	}
	for _, e := range g.p.Select(s) {
		for _, id := range g.nodesOf(e.Name) {
			set.set(id)
		}
	}
	var ids []int32
	set.each(func(i int32) { ids = append(ids, i) })
	return ids, set
}

// edgeTo returns the edge u→v.
func (g *graph) edgeTo(u, v int32) *edge {
	for i := range g.out[u] {
		if g.out[u][i].to == v {
			return &g.out[u][i]
		}
	}
	return nil
}

// expandable reports whether a path may continue from u: u is the path's
// first node, or u is not terminal.
func (g *graph) expandable(u int32, first bool) bool { return first || !g.terminal.has(u) }

// shortest returns a shortest path (fewest edges, at least one) from a
// node of src to a node of dst that enters no node of avoid and passes
// through no terminal node; nil if there is none. Sources are tried in the
// given order and edges in policy order, so the result is deterministic.
func (g *graph) shortest(src []int32, dst, avoid bitset) []int32 {
	parent := make([]int32, len(g.names))
	for i := range parent {
		parent[i] = -2 // unvisited
	}
	queue := make([]int32, 0, 64)
	for _, s := range src {
		if avoid.has(s) || parent[s] != -2 {
			continue
		}
		parent[s] = -1
		queue = append(queue, s)
	}
	path := func(u, v int32) []int32 {
		p := []int32{v}
		for x := u; x != -1; x = parent[x] {
			p = append(p, x)
		}
		for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
			p[i], p[j] = p[j], p[i]
		}
		return p
	}
	for qi := 0; qi < len(queue); qi++ {
		u := queue[qi]
		if !g.expandable(u, parent[u] == -1) {
			continue
		}
		for _, e := range g.out[u] {
			v := e.to
			if avoid.has(v) {
				continue
			}
			if dst.has(v) {
				return path(u, v)
			}
			if parent[v] != -2 {
				continue
			}
			parent[v] = u
			queue = append(queue, v)
		}
	}
	return nil
}

// allPaths calls emit with every simple path of at most maxDepth edges
// from a node of src to a node of dst that enters no node of avoid and
// passes through no terminal node or other node of dst. It stops when emit
// returns false. The slice passed to emit is reused.
func (g *graph) allPaths(src []int32, dst, avoid bitset, maxDepth int, emit func([]int32) bool) {
	on := newBitset(len(g.names))
	path := make([]int32, 0, maxDepth+1)
	var dfs func(u int32) bool
	dfs = func(u int32) bool {
		if len(path) > maxDepth || !g.expandable(u, len(path) == 1) {
			return true
		}
		for _, e := range g.out[u] {
			v := e.to
			if avoid.has(v) || on.has(v) {
				continue
			}
			path = append(path, v)
			if dst.has(v) {
				if !emit(path) {
					return false
				}
			} else if len(path) <= maxDepth {
				on.set(v)
				if !dfs(v) {
					return false
				}
				on[v>>6] &^= 1 << (uint(v) & 63)
			}
			path = path[:len(path)-1]
		}
		return true
	}
	for _, s := range src {
		if avoid.has(s) {
			continue
		}
		path = append(path[:0], s)
		on.set(s)
		ok := dfs(s)
		on[s>>6] &^= 1 << (uint(s) & 63)
		if !ok {
			return
		}
	}
}

// towards runs one breadth-first search backwards from dst and returns,
// for every node, the next node on a shortest path to dst (next[v] == v
// for nodes of dst, -1 where dst is unreachable) and its distance. Paths
// enter no node of avoid and pass through no terminal node.
func (g *graph) towards(dst, avoid bitset) (next, dist []int32) {
	next = make([]int32, len(g.names))
	dist = make([]int32, len(g.names))
	for i := range next {
		next[i] = -1
	}
	var queue []int32
	dst.each(func(v int32) {
		if !avoid.has(v) {
			next[v], dist[v] = v, 0
			queue = append(queue, v)
		}
	})
	for qi := 0; qi < len(queue); qi++ {
		v := queue[qi]
		if !dst.has(v) && g.terminal.has(v) {
			continue // a path may end at v, not pass through it
		}
		for _, u := range g.in[v] {
			if avoid.has(u) || next[u] != -1 {
				continue
			}
			next[u], dist[u] = v, dist[v]+1
			queue = append(queue, u)
		}
	}
	return next, dist
}

// pathFrom follows next (from towards) from s to dst and returns the node
// ids, with at least one edge; nil when there is no such path.
func (g *graph) pathFrom(s int32, next, dist []int32, dst, avoid bitset) []int32 {
	if avoid.has(s) {
		return nil
	}
	first := s
	if dst.has(s) {
		// A flow from s back to itself needs a cycle: take the best
		// successor.
		best, bestD := int32(-1), int32(-1)
		for _, e := range g.out[s] {
			v := e.to
			if avoid.has(v) || next[v] == -1 || (!dst.has(v) && g.terminal.has(v)) {
				continue
			}
			if bestD < 0 || dist[v] < bestD {
				best, bestD = v, dist[v]
			}
		}
		if best < 0 {
			return nil
		}
		first = best
	} else if next[s] == -1 {
		return nil
	}
	p := []int32{s}
	if first != s {
		p = append(p, first)
	}
	for v := first; !dst.has(v); {
		v = next[v]
		p = append(p, v)
	}
	return p
}

// Path is a chain of policy entities: information (or, for spawn
// chains, control) passes from Nodes[i] to Nodes[i+1] as Steps[i] says.
type Path struct {
	Nodes []string `json:"nodes"`
	Steps []Step   `json:"steps"`
}

// Step is one hop of a Path.
type Step struct {
	// Via says how: verbs ("read", "write", "map-exec") or a flow reason
	// ("request", "reply", "spawn", "enter", "signal", "ptrace"), or for
	// takeovers a sentence.
	Via string `json:"via"`
	// At is the file:line:col of the rule, spawn block or role that
	// allows the step.
	At string `json:"at,omitempty"`
}

// String formats p as "a -> b -> c".
func (p Path) String() string { return strings.Join(p.Nodes, " -> ") }

// Verbose formats p with the steps: "a -[read]-> b -[reply]-> c".
func (p Path) Verbose() string {
	var b strings.Builder
	for i, n := range p.Nodes {
		if i > 0 {
			fmt.Fprintf(&b, " -[%s]-> ", p.Steps[i-1].Via)
		}
		b.WriteString(n)
	}
	return b.String()
}

// Len returns the number of steps.
func (p Path) Len() int { return len(p.Steps) }

// describe says how information moves along e.
func describe(e *edge) string {
	var parts []string
	if vs := e.verbs; vs != 0 {
		if vs.Has(policy.VerbWrite) {
			vs &^= policy.NewVerbSet(policy.VerbAppend)
		}
		for _, v := range vs.Verbs() {
			parts = append(parts, v.String())
		}
	}
	for i, n := range flowNames {
		f := Flow(1 << i)
		if e.flow&f != 0 && f&(FlowRead|FlowWrite|FlowSignal|FlowPtrace) == 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// toPath converts node ids to a Path.
func (g *graph) toPath(ids []int32) Path {
	p := Path{Nodes: make([]string, len(ids)), Steps: make([]Step, 0, len(ids))}
	for i, id := range ids {
		p.Nodes[i] = g.names[id]
		if i == 0 {
			continue
		}
		e := g.edgeTo(ids[i-1], id)
		st := Step{}
		if e != nil {
			st.Via = describe(e)
			st.At = pos(e.at)
		}
		p.Steps = append(p.Steps, st)
	}
	return p
}

// pos formats a source range as file:line:col ("" for none).
func pos(r *hcl.Range) string {
	if r == nil || r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
