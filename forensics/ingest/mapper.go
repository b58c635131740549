package ingest

import (
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/policy"
)

// IOMode says whether reads and writes were recorded one by one.
type IOMode uint8

// I/O modes.
const (
	// IOAuto decides from the input: once a read or write has been seen
	// (a reader looks ahead, see HintIO), opens and connections stop
	// standing for the reads and writes after them.
	IOAuto IOMode = iota
	// IOCalls: reads and writes are recorded; opens carry no flow
	// (except creating or truncating a file).
	IOCalls
	// IOOpens: only opens and connections are recorded (the agent's
	// usual rules: watches and connect/accept): an open for reading
	// stands for every read until the end (a Span edge), likewise for
	// writing, and a connection for traffic both ways.
	IOOpens
)

// MapperOptions configures a Mapper.
type MapperOptions struct {
	IO IOMode
	// Policy, if set, attributes processes to compartments by executable
	// (a process whose executable belongs to no compartment stays in its
	// parent's) and sessions to roles by account.
	Policy *policy.Policy
	// MaxAttempts bounds the failed modifications remembered (default
	// 10000).
	MaxAttempts int
}

// Attempt is a modification that failed: an open for writing, an unlink,
// a rename refused by the kernel (read-only filesystem, permissions).
type Attempt struct {
	Process uint32 // node
	Path    string
	Syscall string
	Errno   int
	Time    time.Time
}

// MapperStats counts what a Mapper did.
type MapperStats struct {
	Events       uint64            `json:"events"`
	Failed       uint64            `json:"failed"`
	ByCall       map[string]uint64 `json:"by_call"`
	Descriptors  uint64            `json:"unknown_descriptors"` // descriptors opened before the trace
	Placeholders uint64            `json:"unobserved_parents"`
	IOCalls      bool              `json:"io_calls"` // reads and writes were recorded
}

type pidKey struct {
	stream uint32
	pid    int
}

type fdEntry struct {
	obj     uint32 // 1 + node, 0 for a socket with no address yet
	cloexec bool
	local   string // a socket's bound address
	path    string // a directory's or file's path, for *at calls
}

type fdTable struct {
	origin     string // key of the image that first owned the table
	originName string
	fds        map[int32]fdEntry
}

func (t *fdTable) clone() *fdTable {
	c := &fdTable{origin: t.origin, originName: t.originName, fds: make(map[int32]fdEntry, len(t.fds))}
	for k, v := range t.fds {
		c.fds[k] = v
	}
	return c
}

// Mapper adds Events to a graph.Builder. Events must come in causal
// order (see Event). Not safe for concurrent use.
type Mapper struct {
	b    *graph.Builder
	opts MapperOptions
	io   bool

	tables      map[pidKey]*fdTable
	current     map[pidKey]*Proc
	pendingFork map[pidKey]uint32
	placeholder map[pidKey]uint32
	phSession   map[uint32]bool // placeholders already linked to a session
	sessionRole map[uint32]string

	attempts []Attempt
	stats    MapperStats
	now      int64  // the time of the event being added
	id       uint64 // and its serial
	labels   map[uint32][]string
}

// NewMapper returns a Mapper adding to b.
func NewMapper(b *graph.Builder, opts MapperOptions) *Mapper {
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 10000
	}
	return &Mapper{
		b: b, opts: opts, io: opts.IO == IOCalls,
		tables: map[pidKey]*fdTable{}, current: map[pidKey]*Proc{}, pendingFork: map[pidKey]uint32{},
		placeholder: map[pidKey]uint32{}, phSession: map[uint32]bool{}, sessionRole: map[uint32]string{},
		stats: MapperStats{ByCall: map[string]uint64{}}, labels: map[uint32][]string{},
	}
}

// Labels returns the labels the source attached to objects (by node).
func (m *Mapper) Labels() map[uint32][]string { return m.labels }

// Stats returns the counts so far.
func (m *Mapper) Stats() MapperStats {
	s := m.stats
	s.IOCalls = m.io
	return s
}

// HintIO tells a Mapper in IOAuto mode, before the first event, whether
// the input records reads and writes (a reader that can look ahead knows
// better than the first events).
func (m *Mapper) HintIO(io bool) {
	if m.opts.IO == IOAuto && m.stats.Events == 0 {
		m.io = io
	}
}

// Attempts returns the failed modifications seen.
func (m *Mapper) Attempts() []Attempt { return m.attempts }

// processName is how a process node is named: "comm[pid]".
func processName(p *Proc) string {
	name := p.Comm
	if name == "" {
		name = path.Base(p.Exe)
	}
	if name == "" || name == "." || name == "/" {
		name = "?"
	}
	return name + "[" + strconv.Itoa(p.PID) + "]"
}

// node returns the node of p, creating it (and the edges from its parent
// or previous image, and from its session) on first sight.
func (m *Mapper) node(p *Proc) uint32 {
	if p.node != 0 && p.owner == m {
		return p.node - 1
	}
	b := m.b
	id := b.Node(graph.Process, p.Key, processName(p))
	p.node, p.owner = id+1, m
	pk := pidKey{p.Stream, p.PID}
	info := graph.ProcessInfo{
		ExecID: p.Key, PID: p.PID, PPID: p.PPID, Exe: p.Exe, Comm: p.Comm, Argv: p.Argv,
		UID: p.UID, EUID: p.EUID, AUID: p.AUID, User: p.User, Session: p.Ses, Compartment: p.Compartment, Role: p.Role, Host: p.Host,
	}
	var from uint32 // 1 + the parent or previous image's node
	emit := true
	kind, flags := graph.Fork, uint8(0)
	pending, hasPending := m.pendingFork[pk]
	switch {
	case hasPending && pending == id:
		// the fork created this node; its edge is there already
		delete(m.pendingFork, pk)
		emit = false
		if p.Parent != nil {
			from = m.node(p.Parent) + 1
		}
	case p.Prev != nil:
		from, kind = m.node(p.Prev)+1, graph.Exec
		delete(m.pendingFork, pk)
	case hasPending:
		// an exec right after an observed fork: the fork's image
		from, kind = pending+1, graph.Exec
		delete(m.pendingFork, pk)
	case p.Parent != nil:
		from = m.node(p.Parent) + 1
		if !p.Forked {
			flags = graph.Inferred
		}
	case p.PPID > 0:
		from, flags = m.unobserved(p.Stream, p.PPID)+1, graph.Inferred
	}
	if info.Compartment == "" && m.opts.Policy != nil {
		if c := m.opts.Policy.CompartmentByExecutable(p.Exe); c != nil {
			info.Compartment = c.Name
		}
	}
	if info.Compartment == "" && from != 0 {
		if pi := b.Process(from - 1); pi != nil {
			info.Compartment = pi.Compartment
		}
	}
	b.SetProcess(id, info)
	// Edges inferred at a process's first sight take ticks of their own,
	// each before the next, so that a backward trace from the process
	// reaches its parent, and from the parent its session.
	var sess uint32
	inSession := p.Ses != unset && p.Ses != 0 && kind != graph.Exec
	if inSession {
		sess = m.session(p.Stream, p.Ses, p.AUID, p.User)
		m.next()
		if from != 0 && b.NodeAt(from-1).Flags&graph.Unobserved != 0 && !m.phSession[from-1] {
			m.phSession[from-1] = true
			b.Edge(graph.Login, sess, from-1, 0, graph.Inferred)
			m.next()
		}
	}
	if from != 0 && emit {
		b.Edge(kind, from-1, id, 0, flags)
	}
	// a session's first process: linked from the session
	if inSession {
		if from == 0 {
			b.Edge(graph.Login, sess, id, 0, 0)
		} else if pi := b.Process(from - 1); pi != nil && b.NodeAt(from-1).Flags&graph.Unobserved == 0 && pi.Session != p.Ses {
			b.Edge(graph.Login, sess, id, 0, 0)
		}
		if r := m.sessionRole[sess]; r != "" {
			b.Process(id).Role = r
		}
	}
	m.next()
	if m.current[pk] == nil || m.current[pk] != p {
		m.current[pk] = p
	}
	return id
}

// unobserved returns the placeholder of a parent process whose own events
// are not in the input.
func (m *Mapper) unobserved(stream uint32, pid int) uint32 {
	pk := pidKey{stream, pid}
	if id, ok := m.placeholder[pk]; ok {
		return id
	}
	id := m.b.Node(graph.Process, strconv.FormatUint(uint64(stream), 10)+"/"+strconv.Itoa(pid)+"/unobserved",
		"pid "+strconv.Itoa(pid)+" (not observed)")
	m.b.NodeAt(id).Flags |= graph.Unobserved
	m.b.SetProcess(id, graph.ProcessInfo{ExecID: "", PID: pid, AUID: unset, Session: unset})
	m.placeholder[pk] = id
	m.stats.Placeholders++
	return id
}

// session returns the node of a login session. user names the login
// user when its number is unknown (a pseudonym).
func (m *Mapper) session(stream, ses, auid uint32, user string) uint32 {
	key := strconv.FormatUint(uint64(stream), 10) + "/" + strconv.FormatUint(uint64(ses), 10)
	if id, ok := m.b.Lookup(graph.Session, key); ok {
		return id
	}
	name := "session " + strconv.FormatUint(uint64(ses), 10)
	switch {
	case user != "":
		name += " (user " + user + ")"
	case auid != unset:
		name += " (auid " + strconv.FormatUint(uint64(auid), 10) + ")"
	}
	id := m.b.Node(graph.Session, key, name)
	m.b.SetSession(id, graph.SessionInfo{ID: ses, AUID: auid, User: user})
	switch {
	case user != "":
		m.b.Edge(graph.Login, m.b.Node(graph.User, user, "user "+user), id, 0, 0)
		m.next()
	case auid != unset:
		m.b.Edge(graph.Login, m.user(auid), id, 0, 0)
		m.next()
	}
	return id
}

// next starts a new tick at the current event's time: the edges added
// after it come after those added before.
func (m *Mapper) next() { m.b.Event(m.now, m.id) }

// user returns the node of a user id.
func (m *Mapper) user(uid uint32) uint32 {
	s := strconv.FormatUint(uint64(uid), 10)
	return m.b.Node(graph.User, s, "uid "+s)
}

func (m *Mapper) table(p *Proc) *fdTable {
	pk := pidKey{p.Stream, p.PID}
	t := m.tables[pk]
	if t == nil {
		t = &fdTable{origin: p.Key, originName: processName(p), fds: map[int32]fdEntry{}}
		m.tables[pk] = t
	}
	return t
}

// object returns the node behind descriptor fd of p: a Descriptor node
// when the descriptor was opened before the trace.
func (m *Mapper) object(p *Proc, fd int32) uint32 {
	t := m.table(p)
	if e, ok := t.fds[fd]; ok && e.obj != 0 {
		return e.obj - 1
	}
	n := strconv.Itoa(int(fd))
	id := m.b.Node(graph.Descriptor, t.origin+"#"+n, "fd "+n+" of "+t.originName)
	if _, ok := t.fds[fd]; !ok {
		m.stats.Descriptors++
	}
	e := t.fds[fd]
	e.obj = id + 1
	t.fds[fd] = e
	return id
}

// file returns the node of a file. A ledger names a file whose path it
// redacted by its policy resource ("resource:NAME").
func (m *Mapper) file(p string) uint32 {
	if name, ok := strings.CutPrefix(p, "resource:"); ok {
		return m.b.Node(graph.File, p, name+" (path redacted)")
	}
	return m.b.Node(graph.File, p, p)
}

// resolve makes a path relative to a directory descriptor absolute.
func (m *Mapper) resolve(p *Proc, e *Event, name string) string {
	if name == "" || strings.HasPrefix(name, "/") || e.DirFD == atFDCWD {
		return name
	}
	if d, ok := m.table(p).fds[e.DirFD]; ok && d.path != "" {
		return path.Join(d.path, name)
	}
	return name
}

func (m *Mapper) endpoint(addr string) uint32 { return m.b.Node(graph.Endpoint, addr, addr) }

func (m *Mapper) attempt(proc uint32, e *Event, p string) {
	if len(m.attempts) < m.opts.MaxAttempts && p != "" {
		m.attempts = append(m.attempts, Attempt{Process: proc, Path: p, Syscall: e.Syscall, Errno: e.Errno, Time: time.Unix(0, e.Time).UTC()})
	}
}

// Add maps one event. The Mapper keeps none of e's memory.
func (m *Mapper) Add(e *Event) {
	m.stats.Events++
	m.stats.ByCall[e.Call.String()]++
	b := m.b
	m.now, m.id = e.Time, e.Serial
	b.Event(e.Time, e.Serial)
	if e.Call == CallLogin && e.Login != nil {
		m.login(e)
	}
	p := e.Proc
	if p == nil {
		return
	}
	proc := m.node(p)
	if m.opts.IO == IOAuto && !m.io {
		switch e.Call {
		case CallRead, CallWrite:
			m.io = true
		}
	}
	if e.Failed {
		m.stats.Failed++
		switch e.Call {
		case CallOpen:
			if e.Flags&oAccMode != 0 || e.Flags&(oCreat|oTrunc) != 0 {
				m.attempt(proc, e, m.resolve(p, e, e.Path))
			}
		case CallUnlink, CallRename, CallLink, CallTruncate, CallSetattr:
			m.attempt(proc, e, m.resolve(p, e, e.Path))
		case CallConnect:
			if e.Errno == 115 { // EINPROGRESS: a non-blocking connect under way
				break
			}
			return
		default:
			return
		}
		if e.Call != CallConnect {
			return
		}
	}
	span := uint8(0)
	if !m.io {
		span = graph.Span
	}
	switch e.Call {
	case CallOpen:
		name := m.resolve(p, e, e.Path)
		if name == "" {
			return
		}
		f := m.file(name)
		if len(e.Labels) > 0 {
			m.labels[f] = e.Labels
		}
		if e.Ret >= 0 {
			m.table(p).fds[int32(e.Ret)] = fdEntry{obj: f + 1, cloexec: e.Flags&oCloexec != 0, path: name}
		}
		acc := e.Flags & oAccMode
		switch {
		case !m.io:
			if acc == 0 || acc == oRdwr {
				b.Edge(graph.Read, f, proc, 0, graph.Span)
			}
			if acc == oWronly || acc == oRdwr || e.Created || e.Flags&oTrunc != 0 {
				b.Edge(graph.Write, proc, f, 0, graph.Span)
			}
		case e.Created || (e.Flags&oTrunc != 0 && acc != 0):
			b.Edge(graph.Write, proc, f, 0, 0)
		}
	case CallMemfd:
		if e.Ret >= 0 {
			f := m.b.Node(graph.File, e.Path+"@"+p.Key+"/"+strconv.FormatUint(e.Serial, 10), e.Path)
			m.table(p).fds[int32(e.Ret)] = fdEntry{obj: f + 1, cloexec: e.Flags&1 != 0}
			b.Edge(graph.Write, proc, f, 0, span)
		}
	case CallRead, CallRecv:
		if e.Ret <= 0 {
			return
		}
		obj := m.source(p, e)
		kind := graph.Read
		if b.NodeAt(obj).Kind == graph.Endpoint {
			kind = graph.Recv
		}
		b.Edge(kind, obj, proc, uint64(e.Ret), 0)
	case CallWrite, CallSend:
		if e.Ret <= 0 {
			return
		}
		obj := m.source(p, e)
		kind := graph.Write
		if b.NodeAt(obj).Kind == graph.Endpoint {
			kind = graph.Send
		}
		b.Edge(kind, proc, obj, uint64(e.Ret), 0)
	case CallSendfile:
		in, out := m.object(p, e.FD), m.object(p, e.FD2)
		n := uint64(max(e.Ret, 0))
		rk, wk := graph.Read, graph.Write
		if b.NodeAt(in).Kind == graph.Endpoint {
			rk = graph.Recv
		}
		if b.NodeAt(out).Kind == graph.Endpoint {
			wk = graph.Send
		}
		b.Edge(rk, in, proc, n, 0)
		b.Edge(wk, proc, out, n, 0)
	case CallClose:
		delete(m.table(p).fds, e.FD)
	case CallDup:
		t := m.table(p)
		if e.Ret >= 0 && e.Ret != int64(e.FD) {
			old, ok := t.fds[e.FD]
			if !ok {
				m.object(p, e.FD)
				old = t.fds[e.FD]
			}
			old.cloexec = e.Flags&oCloexec != 0
			t.fds[int32(e.Ret)] = old
		}
	case CallPipe, CallSocketpair:
		kind := "pipe"
		if e.Call == CallSocketpair {
			kind = "socketpair"
		}
		id := b.Node(graph.Pipe, p.Key+"/"+strconv.FormatUint(e.Serial, 10)+"/"+strconv.Itoa(int(e.FD)),
			kind+" of "+processName(p)+" (fds "+strconv.Itoa(int(e.FD))+","+strconv.Itoa(int(e.FD2))+")")
		t := m.table(p)
		t.fds[e.FD] = fdEntry{obj: id + 1, cloexec: e.Flags&oCloexec != 0}
		t.fds[e.FD2] = fdEntry{obj: id + 1, cloexec: e.Flags&oCloexec != 0}
	case CallSocket:
		if e.Ret >= 0 {
			m.table(p).fds[int32(e.Ret)] = fdEntry{cloexec: e.Flags&oCloexec != 0}
		}
	case CallBind:
		t := m.table(p)
		ent := t.fds[e.FD]
		ent.local = e.Addr
		if strings.HasPrefix(e.Addr, "unix:") {
			ent.obj = m.endpoint(e.Addr) + 1
		}
		t.fds[e.FD] = ent
	case CallConnect:
		if e.Addr == "" {
			return
		}
		ep := m.endpoint(e.Addr)
		t := m.table(p)
		ent := t.fds[e.FD]
		ent.obj = ep + 1
		t.fds[e.FD] = ent
		b.Edge(graph.Connect, proc, ep, 0, span)
		if !m.io {
			b.Edge(graph.Recv, ep, proc, 0, graph.Span|graph.Inferred)
		}
	case CallAccept:
		m.accept(p, proc, e, span)
	case CallMmap:
		if e.FD < 0 {
			return
		}
		obj := m.object(p, e.FD)
		kind := graph.Mmap
		if e.Prot&protExec != 0 {
			kind = graph.Load
		}
		b.Edge(kind, obj, proc, 0, 0)
		if e.Flags&mapShared != 0 && e.Prot&protWrite != 0 {
			b.Edge(graph.Write, proc, obj, 0, span)
		}
	case CallExec:
		t := m.table(p)
		for fd, ent := range t.fds {
			if ent.cloexec {
				delete(t.fds, fd)
			}
		}
		if e.Path != "" {
			b.Edge(graph.Execute, m.file(e.Path), proc, 0, 0)
		}
		for _, f := range e.Interps {
			if f != e.Path {
				b.Edge(graph.Load, m.file(f), proc, 0, 0)
			}
		}
	case CallFork:
		m.fork(p, proc, e)
	case CallExit:
		pk := pidKey{p.Stream, p.PID}
		delete(m.tables, pk)
		if m.current[pk] == p {
			delete(m.current, pk)
		}
	case CallRename, CallLink:
		from, to := m.resolve(p, e, e.Path), m.resolve(p, e, e.Path2)
		if from == "" || to == "" {
			return
		}
		kind := graph.Rename
		if e.Call == CallLink {
			kind = graph.Link
		}
		fn, tn := m.file(from), m.file(to)
		b.Edge(kind, fn, tn, 0, 0)
		b.Edge(kind, proc, tn, 0, 0)
	case CallSymlink:
		if to := m.resolve(p, e, e.Path2); to != "" {
			b.Edge(graph.Link, proc, m.file(to), 0, 0)
		}
	case CallUnlink:
		if name := m.resolve(p, e, e.Path); name != "" {
			b.Edge(graph.Unlink, proc, m.file(name), 0, 0)
		}
	case CallTruncate:
		if name := m.resolve(p, e, e.Path); name != "" {
			b.Edge(graph.Write, proc, m.file(name), 0, 0)
		}
	case CallFtruncate:
		b.Edge(graph.Write, proc, m.object(p, e.FD), 0, 0)
	case CallSetattr:
		if name := m.resolve(p, e, e.Path); name != "" {
			b.Edge(graph.Setattr, proc, m.file(name), 0, 0)
		}
	case CallFsetattr:
		b.Edge(graph.Setattr, proc, m.object(p, e.FD), 0, 0)
	case CallSetuid:
		b.Edge(graph.Setuid, m.user(e.UID), proc, 0, 0)
		if pi := b.Process(proc); pi != nil {
			pi.EUID = e.UID
		}
	case CallPtrace, CallKill:
		if e.Target <= 0 || e.Target == p.PID {
			return
		}
		var target uint32
		if q := m.current[pidKey{p.Stream, e.Target}]; q != nil {
			target = m.node(q)
		} else {
			target = m.unobserved(p.Stream, e.Target)
		}
		kind := graph.Ptrace
		if e.Call == CallKill {
			kind = graph.Signal
		}
		b.Edge(kind, proc, target, 0, 0)
	}
}

// source returns the object a read or write goes to: the address given
// with it (sendto, recvfrom on an unconnected socket), else the
// descriptor's.
func (m *Mapper) source(p *Proc, e *Event) uint32 {
	if e.Addr != "" && !strings.HasPrefix(e.Addr, "unix:") {
		if ent, ok := m.table(p).fds[e.FD]; !ok || ent.obj == 0 || m.b.NodeAt(ent.obj-1).Kind != graph.Endpoint {
			return m.endpoint(e.Addr)
		}
	}
	return m.object(p, e.FD)
}

// fork records a fork: the child's first image gets a node now, with the
// parent's descriptors.
func (m *Mapper) fork(p *Proc, proc uint32, e *Event) {
	child := int(e.Ret)
	if child <= 0 {
		return
	}
	ck := pidKey{p.Stream, child}
	if q := m.current[ck]; q != nil && q.Parent == p {
		return // the child's events came first (a lower serial): linked already
	}
	if e.ChildKey != "" {
		pi := m.b.Process(proc)
		id := m.b.Node(graph.Process, e.ChildKey, processName(&Proc{Comm: p.Comm, Exe: p.Exe, PID: child}))
		info := *pi
		info.ExecID, info.PID, info.PPID = e.ChildKey, child, p.PID
		m.b.SetProcess(id, info)
		m.b.Edge(graph.Fork, proc, id, 0, 0)
		m.pendingFork[ck] = id
	}
	m.tables[ck] = m.table(p).clone()
}

// accept records an incoming connection.
func (m *Mapper) accept(p *Proc, proc uint32, e *Event, span uint8) {
	t := m.table(p)
	lst := t.fds[e.FD]
	var ep uint32
	switch {
	case e.Addr == "" || strings.HasPrefix(e.Addr, "unix:"):
		if lst.obj != 0 {
			ep = lst.obj - 1
		} else {
			ep = m.object(p, e.FD)
		}
	default:
		local := lst.local
		if local == "" {
			local = "?"
		}
		ep = m.b.Node(graph.Endpoint, e.Addr+">"+local, e.Addr+" → "+local)
		// a loopback client we may have seen connect
		if ap, err := netip.ParseAddrPort(e.Addr); err == nil && ap.Addr().IsLoopback() {
			if lp, err := netip.ParseAddrPort(local); err == nil {
				for _, k := range []string{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), lp.Port()).String(),
					netip.AddrPortFrom(netip.IPv6Loopback(), lp.Port()).String(), local} {
					if c, ok := m.b.Lookup(graph.Endpoint, k); ok {
						m.b.Edge(graph.Accept, c, ep, 0, graph.Inferred)
						break
					}
				}
			}
		}
	}
	if e.Ret >= 0 {
		t.fds[int32(e.Ret)] = fdEntry{obj: ep + 1, cloexec: e.Flags&oCloexec != 0, local: lst.local}
	}
	m.b.Edge(graph.Accept, ep, proc, 0, span)
	if !m.io {
		m.b.Edge(graph.Send, proc, ep, 0, graph.Span|graph.Inferred)
	}
}

// login records a session start.
func (m *Mapper) login(e *Event) {
	l := e.Login
	if l.Session == unset || l.Session == 0 {
		return
	}
	stream := e.Stream
	if e.Proc != nil {
		stream = e.Proc.Stream
	}
	sess := m.session(stream, l.Session, l.AUID, "")
	si := m.b.Session(sess)
	if l.Account != "" && l.Account != "?" {
		si.Account = l.Account
		m.b.NodeAt(sess).Name = "session " + strconv.FormatUint(uint64(l.Session), 10) + " of " + l.Account
	}
	if l.Terminal != "" && l.Terminal != "?" {
		si.Terminal = l.Terminal
	}
	if l.Via != "" {
		si.Via = l.Via
	}
	if l.AUID != unset && si.AUID == unset {
		si.AUID = l.AUID
		m.b.Edge(graph.Login, m.user(l.AUID), sess, 0, 0)
	}
	if a, err := netip.ParseAddr(l.Address); err == nil {
		si.Address = a.String()
		m.b.Edge(graph.Login, m.endpoint(a.String()), sess, 0, 0)
	}
	if m.opts.Policy != nil && si.Account != "" {
		for _, r := range m.opts.Policy.Roles {
			for _, acct := range r.Accounts {
				if acct == si.Account {
					si.Role = r.Name
					m.sessionRole[sess] = r.Name
				}
			}
		}
	}
}
