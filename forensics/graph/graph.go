// Package graph is the provenance graph behind "rampart investigate": the
// processes, files, endpoints, pipes, users and sessions of a node and the
// information flows between them, each with the time it happened.
//
// The representation is compact: nodes and edges are integers, an edge
// is 32 bytes, and each node's incoming edges are sorted by their first
// time and its outgoing edges by their last, so that a time-constrained
// traversal reads a prefix or a suffix. Time is a tick: the position of
// the event in the causal order of the input (the kernel's audit serial
// order within a boot), with the wall-clock time of every tick kept
// beside it.
//
// A Builder takes edges in tick order. It reduces repeated events between
// the same pair of nodes without changing the result of any backward or
// forward query (causality-preserving reduction, Xu et al., CCS 2016),
// and it drops the edges that configurable filters match (shared
// libraries, caches, private temporary files), counting what it dropped.
//
// Backward and Forward are the time-constrained traversals of King and
// Chen's BackTracker (SOSP 2003) and its forward counterpart.
package graph

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// NodeKind is the kind of a node.
type NodeKind uint8

// Node kinds.
const (
	// Process is one program image of one process, keyed by its exec
	// identity (boot, pid, serial of the exec or fork that started it).
	Process NodeKind = iota + 1
	// File is a filesystem object, keyed by its absolute path.
	File
	// Endpoint is the other end of a socket: a network address and port
	// or a unix socket path.
	Endpoint
	// Pipe is a pipe or a socket pair.
	Pipe
	// User is a user id: the identity a process takes with setuid, and
	// the login user of sessions.
	User
	// Session is a login session (the kernel's audit session id): an
	// operator's shell, an ssh login, a cron job.
	Session
	// Descriptor is a file descriptor opened before the trace began:
	// what it refers to is unknown, but processes that inherit it share
	// it.
	Descriptor
)

var nodeKindNames = [...]string{"", "process", "file", "endpoint", "pipe", "user", "session", "descriptor"}

// String names the kind.
func (k NodeKind) String() string {
	if int(k) < len(nodeKindNames) && k != 0 {
		return nodeKindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseNodeKind parses a kind name.
func ParseNodeKind(s string) (NodeKind, bool) {
	for i, n := range nodeKindNames {
		if i > 0 && n == s {
			return NodeKind(i), true
		}
	}
	return 0, false
}

// EdgeKind is the kind of an edge. Edges point the way information (or
// control) flows: from what was read to the reader, from the writer to
// what was written, from parent to child.
type EdgeKind uint8

// Edge kinds.
const (
	Fork    EdgeKind = iota + 1 // parent → child (fork, vfork, clone)
	Exec                        // previous image → new image of the same process (execve)
	Execute                     // executable file → the image that runs it
	Load                        // file → process: mapped executable (shared library, interpreter)
	Read                        // file, pipe or descriptor → process
	Mmap                        // file → process: mapped readable
	Write                       // process → file, pipe or descriptor (also create, truncate)
	Recv                        // endpoint → process: data received
	Send                        // process → endpoint: data sent
	Connect                     // process → endpoint: outgoing connection
	Accept                      // endpoint → process: incoming connection
	Rename                      // old path → new path
	Link                        // existing path → new hard link
	Unlink                      // process → file it removed
	Setattr                     // process → file whose mode or owner it changed
	Setuid                      // user → process that took the user's identity
	Ptrace                      // tracer → traced process
	Signal                      // sender → signalled process
	Login                       // endpoint or user → session, session → its first process
	numEdgeKinds
)

var edgeKindNames = [...]string{"", "fork", "exec", "execute", "load", "read", "mmap", "write", "recv", "send",
	"connect", "accept", "rename", "link", "unlink", "setattr", "setuid", "ptrace", "signal", "login"}

// String names the kind.
func (k EdgeKind) String() string {
	if int(k) < len(edgeKindNames) && k != 0 {
		return edgeKindNames[k]
	}
	return "edge(" + strconv.Itoa(int(k)) + ")"
}

// ParseEdgeKind parses an edge kind name.
func ParseEdgeKind(s string) (EdgeKind, bool) {
	for i, n := range edgeKindNames {
		if i > 0 && n == s {
			return EdgeKind(i), true
		}
	}
	return 0, false
}

// Inbound reports whether the edge carries data from a file or a socket
// into a process (a read of some kind): the edges input filters drop.
func (k EdgeKind) Inbound() bool {
	return k == Read || k == Mmap || k == Load || k == Recv
}

// Modifies reports whether the edge changes its destination object
// (a write, a rename or link onto it, an unlink, a mode change).
func (k EdgeKind) Modifies() bool {
	return k == Write || k == Rename || k == Link || k == Unlink || k == Setattr
}

// Edge flags.
const (
	// Span marks an edge whose flow may happen at any time from First
	// on, for as long as the object stays open: an open for reading or
	// writing when the individual reads and writes were not recorded,
	// a connection whose traffic was not recorded. Its Last is Forever.
	Span uint8 = 1 << iota
	// Inferred marks an edge the input does not show directly: a parent
	// known only from a ppid, the reverse direction of a connection.
	Inferred
)

// Forever is the Last tick of a Span edge.
const Forever = math.MaxUint32

// Edge is a flow from Src to Dst. A reduced edge stands for Count events
// of the same kind between the same nodes, at ticks First to Last, with
// Bytes bytes in total (when the events carried a size).
type Edge struct {
	Src, Dst    uint32
	First, Last uint32
	Bytes       uint64
	Count       uint32
	Kind        EdgeKind
	Flags       uint8
}

// Node flags.
const (
	// Unobserved: a process known only as the parent of another (its
	// own events are not in the input).
	Unobserved uint8 = 1 << iota
	// Written: something wrote, renamed or linked onto the object during
	// the trace, so input filters no longer apply to it.
	Written
	// Removed: the object was unlinked or renamed away.
	Removed
	// remote: an endpoint with a remote network address (see Remote).
	remote
	// Accepted: an endpoint that is a connection a process accepted.
	Accepted
)

// Node is one entity. Name is what identifies it to a person: the path
// of a file, the address of an endpoint, "wget[3925]" for a process.
// Key is its identity in the graph (see Graph.Lookup).
type Node struct {
	Name   string
	Key    string
	Kind   NodeKind
	Flags  uint8
	Filter uint8 // 1 + the index of the input filter it matches, or 0
	// Aux is the index of the node's ProcessInfo (processes), or the
	// session's SessionInfo (sessions), else 0.
	Aux uint32
	// First and Last are the ticks of the first and last edge that
	// touched the node.
	First, Last uint32
}

// ProcessInfo describes a process node.
type ProcessInfo struct {
	ExecID      string   `json:"exec_id"`
	PID         int      `json:"pid"`
	PPID        int      `json:"ppid,omitempty"`
	Exe         string   `json:"exe,omitempty"`
	Comm        string   `json:"comm,omitempty"`
	Argv        []string `json:"argv,omitempty"`
	UID         uint32   `json:"uid"`
	EUID        uint32   `json:"euid"`
	AUID        uint32   `json:"auid"`
	User        string   `json:"user,omitempty"` // the login user when only a name (pseudonym) is known
	Session     uint32   `json:"session"`
	Compartment string   `json:"compartment,omitempty"`
	Role        string   `json:"role,omitempty"`
	Host        string   `json:"host,omitempty"`
}

// SessionInfo describes a session node.
type SessionInfo struct {
	ID       uint32 `json:"id"`
	AUID     uint32 `json:"auid"`
	User     string `json:"user,omitempty"`
	Account  string `json:"account,omitempty"`
	Address  string `json:"address,omitempty"`
	Terminal string `json:"terminal,omitempty"`
	Via      string `json:"via,omitempty"` // the program that opened it (sshd, login, cron)
	Role     string `json:"role,omitempty"`
	Host     string `json:"host,omitempty"`
}

// Graph is a built provenance graph. It is immutable and safe for
// concurrent readers.
type Graph struct {
	Nodes    []Node
	Edges    []Edge
	Procs    []ProcessInfo // index 0 unused
	Sessions []SessionInfo // index 0 unused
	// Times holds the wall-clock time (Unix nanoseconds) of every tick,
	// non-decreasing; IDs the source's id of the event of every tick (the
	// audit serial).
	Times []int64
	IDs   []uint64

	in, out       []uint32 // edge indexes
	inOff, outOff []uint32 // per node: start in in/out; len(Nodes)+1
	// the fields traversals read, beside in and out, so that scanning a
	// node's edges reads memory in order: the other end, First, Last
	inPeer, inFirst, inLast    []uint32
	outPeer, outFirst, outLast []uint32
	inKind, outKind            []EdgeKind
	outBytes                   []uint64
	outFlags                   []uint8
	kinds                      []NodeKind // per node
	keys                       map[nodeID]uint32

	Stats Stats
}

// Stats describes how a graph was built.
type Stats struct {
	// Events is the number of ticks (input events that produced edges).
	Events uint64 `json:"events"`
	// EdgesIn is the number of edges offered to the builder; Edges the
	// number kept after reduction and filtering.
	EdgesIn uint64 `json:"edges_in"`
	Edges   uint64 `json:"edges"`
	Nodes   uint64 `json:"nodes"`
	// Merged is the number of edges the causality-preserving reduction
	// folded into an earlier edge between the same nodes.
	Merged uint64 `json:"merged"`
	// Filtered lists what each input filter dropped.
	Filtered []FilterStat `json:"filtered,omitempty"`
}

// Node returns node id.
func (g *Graph) Node(id uint32) *Node { return &g.Nodes[id] }

// Process returns the process information of node id, or nil.
func (g *Graph) Process(id uint32) *ProcessInfo {
	n := &g.Nodes[id]
	if n.Kind != Process || n.Aux == 0 {
		return nil
	}
	return &g.Procs[n.Aux]
}

// Session returns the session information of node id, or nil.
func (g *Graph) Session(id uint32) *SessionInfo {
	n := &g.Nodes[id]
	if n.Kind != Session || n.Aux == 0 {
		return nil
	}
	return &g.Sessions[n.Aux]
}

// Lookup returns the node of the given kind and key.
func (g *Graph) Lookup(kind NodeKind, key string) (uint32, bool) {
	id, ok := g.keys[nodeID{kind, key}]
	return id, ok
}

// Kind returns the kind of node id (from a compact array: cheaper in loops
// over many nodes than Nodes[id].Kind).
func (g *Graph) Kind(id uint32) NodeKind { return g.kinds[id] }

// InRange returns the positions [k, end) of node id's incoming edges, for
// InAt.
func (g *Graph) InRange(id uint32) (k, end int) { return int(g.inOff[id]), int(g.inOff[id+1]) }

// InAt returns the incoming edge at position k (see InRange): its index,
// its source, first and last ticks and kind, read from arrays laid out
// by node.
func (g *Graph) InAt(k int) (edge, src, first, last uint32, kind EdgeKind) {
	return g.in[k], g.inPeer[k], g.inFirst[k], g.inLast[k], g.inKind[k]
}

// OutSince returns the positions [k, end) of node id's outgoing edges
// whose last event is at or after tick, for OutAt.
func (g *Graph) OutSince(id, tick uint32) (k, end int) {
	lo, hi := int(g.outOff[id]), int(g.outOff[id+1])
	return lo + sort.Search(hi-lo, func(i int) bool { return g.outLast[lo+i] >= tick }), hi
}

// OutAt returns the outgoing edge at position k (see OutSince): its
// index, its destination, first tick and kind.
func (g *Graph) OutAt(k int) (edge, dst, first uint32, kind EdgeKind) {
	return g.out[k], g.outPeer[k], g.outFirst[k], g.outKind[k]
}

// OutBytes returns the bytes and flags of the outgoing edge at position k.
func (g *Graph) OutBytes(k int) (uint64, uint8) { return g.outBytes[k], g.outFlags[k] }

// In returns the indexes of the edges into node id, by First.
func (g *Graph) In(id uint32) []uint32 { return g.in[g.inOff[id]:g.inOff[id+1]] }

// Out returns the indexes of the edges out of node id, by Last.
func (g *Graph) Out(id uint32) []uint32 { return g.out[g.outOff[id]:g.outOff[id+1]] }

// Time returns the wall-clock time of tick t (the zero time for Forever
// or a tick beyond the input).
func (g *Graph) Time(t uint32) time.Time {
	if int(t) >= len(g.Times) {
		return time.Time{}
	}
	return time.Unix(0, g.Times[t]).UTC()
}

// TickAt returns the first tick whose time is after t: the bound that
// includes everything that happened up to t.
func (g *Graph) TickAt(t time.Time) uint32 {
	ns := t.UnixNano()
	lo, hi := 0, len(g.Times)
	for lo < hi {
		m := (lo + hi) / 2
		if g.Times[m] <= ns {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return uint32(lo)
}

// End returns the tick after the last one: a bound that includes every
// event.
func (g *Graph) End() uint32 { return uint32(len(g.Times)) }

// Label returns a short description of node id for people: its name,
// prefixed with "endpoint" for endpoints (whose names are bare
// addresses).
func (g *Graph) Label(id uint32) string {
	n := &g.Nodes[id]
	if n.Kind == Endpoint {
		return "endpoint " + n.Name
	}
	return n.Name
}

// EdgeString describes edge e on one line.
func (g *Graph) EdgeString(e *Edge) string {
	s := fmt.Sprintf("%s -%s-> %s", g.Label(e.Src), e.Kind, g.Label(e.Dst))
	if e.Count > 1 {
		s += fmt.Sprintf(" ×%d", e.Count)
	}
	return s
}

// MemoryBytes estimates the memory the graph's arrays hold (not counting
// strings and the key index).
func (g *Graph) MemoryBytes() uint64 {
	const nodeSize, edgeSize = 64, 32
	return uint64(len(g.Nodes))*nodeSize + uint64(len(g.Edges))*edgeSize +
		uint64(len(g.in)+len(g.out)+len(g.inOff)+len(g.outOff))*4 + uint64(len(g.in)+len(g.out))*13 + uint64(len(g.out))*9 + uint64(len(g.Times))*16
}

// nodeID is a node's identity: its kind and key.
type nodeID struct {
	kind NodeKind
	key  string
}
