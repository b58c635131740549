package graph

import (
	"math/bits"
	"net/netip"
	"sort"
	"strings"
)

// Point is where a query starts: a node, and a tick. For a backward
// query the tick is exclusive: the events before it count. For a forward
// query it is inclusive: the events at or after it count.
type Point struct {
	Node uint32
	Tick uint32
}

// Limits bound a traversal.
type Limits struct {
	// MaxNodes stops the traversal once this many nodes are reached
	// (0: no limit); the trace is then Truncated.
	MaxNodes int
	// ThroughRemote follows edges through remote network endpoints
	// (addresses other than loopback and unix sockets): by default they
	// end a trace, since what a remote host sends does not depend, as far
	// as this node can tell, on what it was sent.
	ThroughRemote bool
}

// Trace is the result of a backward or forward traversal.
type Trace struct {
	Forward bool
	Starts  []Point
	// Nodes lists the nodes reached, in the order they were settled.
	Nodes []uint32
	// Tick is, per node reached (same order as Nodes), its bound
	// (backward: events into it before Tick matter) or its start
	// (forward: events out of it at or after Tick are its influence).
	Tick []uint32
	// Via is, per node, the edge through which it was reached with its
	// final tick (Forever for a start).
	Via []uint32
	// Edges lists the edges that carry the dependency, grouped by the
	// node of Nodes they lead into (backward) or out of (forward).
	Edges     []uint32
	Truncated bool
	// For a backward trace, per node (same order as Nodes): whether an
	// edge of the trace leads into it, and 1 + the earliest edge of the
	// trace out of it (0 for none): when it first fed the causal past.
	HasIn    []bool
	FirstOut []uint32

	pos []int32 // node → 1 + index in Nodes, 0 if not reached
}

// Index returns the position of node id in Nodes, if it was reached.
func (t *Trace) Index(id uint32) (int, bool) {
	if int(id) >= len(t.pos) || t.pos[id] == 0 {
		return 0, false
	}
	return int(t.pos[id] - 1), true
}

// Reached reports whether node id was reached, and its tick.
func (t *Trace) Reached(id uint32) (uint32, bool) {
	if int(id) >= len(t.pos) || t.pos[id] == 0 {
		return 0, false
	}
	return t.Tick[t.pos[id]-1], true
}

// ViaEdge returns the edge through which node id was reached (false for
// a start or a node not reached).
func (t *Trace) ViaEdge(id uint32) (uint32, bool) {
	if int(id) >= len(t.pos) || t.pos[id] == 0 || t.Via[t.pos[id]-1] == Forever {
		return 0, false
	}
	return t.Via[t.pos[id]-1], true
}

// Path returns the chain of edges by which node id was reached from a
// start (for a backward trace, from id towards the start), following Via.
func (t *Trace) Path(g *Graph, id uint32) []uint32 {
	var path []uint32
	seen := map[uint32]bool{}
	for !seen[id] {
		seen[id] = true
		e, ok := t.ViaEdge(id)
		if !ok {
			break
		}
		path = append(path, e)
		if t.Forward {
			id = g.Edges[e].Src
		} else {
			id = g.Edges[e].Dst
		}
	}
	return path
}

// radixHeap is a monotone priority queue of (key, node) pairs: every
// key pushed is at least the last key popped (Ahuja, Mehlhorn, Orlin and
// Tarjan's radix heap), so pushes are O(1) and pops amortised O(1) over
// the 33 buckets of a uint32 key. Backward traversals pop the latest
// bound first: their key is the bound's complement.
type radixHeap struct {
	last    uint32
	size    int
	buckets [33][]uint64 // key<<32 | node
}

func bucketOf(x uint32) int { return bits.Len32(x) }

func (h *radixHeap) push(key, node uint32) {
	b := bucketOf(key ^ h.last)
	h.buckets[b] = append(h.buckets[b], uint64(key)<<32|uint64(node))
	h.size++
}

func (h *radixHeap) pop() (key, node uint32) {
	if len(h.buckets[0]) == 0 {
		i := 1
		for len(h.buckets[i]) == 0 {
			i++
		}
		// the smallest key of bucket i becomes the new last; the bucket
		// spreads over the lower ones
		m := h.buckets[i][0]
		for _, x := range h.buckets[i][1:] {
			m = min(m, x)
		}
		h.last = uint32(m >> 32)
		for _, x := range h.buckets[i] {
			b := bucketOf(uint32(x>>32) ^ h.last)
			h.buckets[b] = append(h.buckets[b], x)
		}
		h.buckets[i] = h.buckets[i][:0]
	}
	b0 := h.buckets[0]
	x := b0[len(b0)-1]
	h.buckets[0] = b0[:len(b0)-1]
	h.size--
	return uint32(x >> 32), uint32(x)
}

// Backward finds everything that could have influenced the starts: from
// each start node it follows the edges into it that happened before its
// bound, giving their source the bound of the edge's latest qualifying
// event, until no new node or later bound is found (BackTracker's
// time-constrained traversal). Each node is settled once, with the
// latest bound any path gives it.
func (g *Graph) Backward(starts []Point, lim Limits) *Trace {
	return g.traverse(starts, lim, false)
}

// Forward finds everything the starts could have influenced: from each
// start node it follows the edges out of it that happened at or after
// its start, giving their destination the tick after the edge's earliest
// qualifying event.
func (g *Graph) Forward(starts []Point, lim Limits) *Trace {
	return g.traverse(starts, lim, true)
}

func (g *Graph) traverse(starts []Point, lim Limits, forward bool) *Trace {
	n := len(g.Nodes)
	tr := &Trace{Forward: forward, Starts: starts, pos: make([]int32, n)}
	// best holds, per node, the best tick offered so far (+1, so that 0
	// means none) and via the edge that offered it.
	best := make([]uint32, n)
	via := make([]uint32, n)
	h := &radixHeap{}
	key := func(tick uint32) uint32 { // the heap pops the smallest key
		if forward {
			return tick
		}
		return ^tick
	}
	offer := func(node, tick, edge uint32) {
		if tr.pos[node] != 0 {
			return
		}
		if b := best[node]; b != 0 {
			if forward && tick+1 >= b || !forward && tick+1 <= b {
				return
			}
		}
		best[node] = tick + 1
		via[node] = edge
		h.push(key(tick), node)
	}
	for _, s := range starts {
		offer(s.Node, s.Tick, Forever)
	}
	for h.size > 0 {
		k, node := h.pop()
		tick := key(k)
		if tr.pos[node] != 0 || best[node] != tick+1 {
			continue
		}
		tr.pos[node] = int32(len(tr.Nodes) + 1)
		tr.Nodes = append(tr.Nodes, node)
		tr.Tick = append(tr.Tick, tick)
		tr.Via = append(tr.Via, via[node])
		if lim.MaxNodes > 0 && len(tr.Nodes) >= lim.MaxNodes {
			tr.Truncated = h.size > 0
			break
		}
		isStart := via[node] == Forever
		if !isStart && !lim.ThroughRemote && g.Remote(node) {
			continue
		}
		if forward {
			// out-edges sorted by Last: those with Last ≥ tick are a suffix
			lo, hi := int(g.outOff[node]), int(g.outOff[node+1])
			i := lo + sort.Search(hi-lo, func(k int) bool { return g.outLast[lo+k] >= tick })
			for ; i < hi; i++ {
				nt := max(g.outFirst[i], tick)
				if nt < Forever {
					nt++
				}
				offer(g.outPeer[i], nt, g.out[i])
			}
		} else {
			// in-edges sorted by First: those with First < tick are a prefix
			lo, hi := int(g.inOff[node]), int(g.inOff[node+1])
			j := lo + sort.Search(hi-lo, func(k int) bool { return g.inFirst[lo+k] >= tick })
			for i := lo; i < j; i++ {
				offer(g.inPeer[i], min(g.inLast[i], tick-1), g.in[i])
			}
		}
	}
	// the edges that carry the dependency
	var firstTick []uint32 // the First of FirstOut's edge
	if !forward {
		tr.HasIn = make([]bool, len(tr.Nodes))
		tr.FirstOut = make([]uint32, len(tr.Nodes))
		firstTick = make([]uint32, len(tr.Nodes))
	}
	for i, node := range tr.Nodes {
		tick := tr.Tick[i]
		if tr.Via[i] != Forever && !lim.ThroughRemote && g.Remote(node) {
			continue
		}
		if forward {
			lo, hi := int(g.outOff[node]), int(g.outOff[node+1])
			for k := lo + sort.Search(hi-lo, func(k int) bool { return g.outLast[lo+k] >= tick }); k < hi; k++ {
				if tr.pos[g.outPeer[k]] != 0 {
					tr.Edges = append(tr.Edges, g.out[k])
				}
			}
		} else {
			lo, hi := int(g.inOff[node]), int(g.inOff[node+1])
			for k := lo; k < hi && g.inFirst[k] < tick; k++ {
				if p := tr.pos[g.inPeer[k]]; p != 0 {
					tr.Edges = append(tr.Edges, g.in[k])
					tr.HasIn[i] = true
					if fo := &tr.FirstOut[p-1]; *fo == 0 || g.inFirst[k] < firstTick[p-1] {
						*fo = g.in[k] + 1
						firstTick[p-1] = g.inFirst[k]
					}
				}
			}
		}
	}
	return tr
}

// Remote reports whether node id is a remote network endpoint: an
// endpoint whose address is neither loopback nor a unix socket.
func (g *Graph) Remote(id uint32) bool { return g.Nodes[id].Flags&remote != 0 }

// RemoteAddress reports whether an endpoint key names a remote network
// peer. Keys are socket addresses as package audit formats them
// ("10.0.0.1:80", "[::1]:53", "unix:/run/x.sock", "unix:@name",
// "netlink:pid=0"), with "PEER>LOCAL" for an accepted connection. A key
// that is not an address (pseudonymised, redacted) counts as remote.
func RemoteAddress(key string) bool {
	if i := strings.IndexByte(key, '>'); i >= 0 {
		key = key[:i]
	}
	if strings.HasPrefix(key, "unix:") || strings.HasPrefix(key, "netlink:") {
		return false
	}
	if ap, err := netip.ParseAddrPort(key); err == nil {
		return !ap.Addr().IsLoopback()
	}
	if a, err := netip.ParseAddr(key); err == nil {
		return !a.IsLoopback()
	}
	return true
}
