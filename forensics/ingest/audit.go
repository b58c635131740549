package ingest

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/audit"
)

// callOf maps a system call name to its Call.
func callOf(name string) Call {
	switch name {
	case "open", "openat", "openat2", "creat", "open_by_handle_at":
		return CallOpen
	case "read", "pread64", "readv", "preadv", "preadv2":
		return CallRead
	case "write", "pwrite64", "writev", "pwritev", "pwritev2":
		return CallWrite
	case "recvfrom", "recvmsg", "recvmmsg", "recv":
		return CallRecv
	case "sendto", "sendmsg", "sendmmsg", "send":
		return CallSend
	case "close":
		return CallClose
	case "dup", "dup2", "dup3", "fcntl":
		return CallDup
	case "pipe", "pipe2":
		return CallPipe
	case "socketpair":
		return CallSocketpair
	case "socket":
		return CallSocket
	case "connect":
		return CallConnect
	case "bind":
		return CallBind
	case "accept", "accept4":
		return CallAccept
	case "mmap", "mmap2":
		return CallMmap
	case "execve", "execveat":
		return CallExec
	case "fork", "vfork", "clone", "clone3":
		return CallFork
	case "exit", "exit_group":
		return CallExit
	case "rename", "renameat", "renameat2":
		return CallRename
	case "link", "linkat":
		return CallLink
	case "symlink", "symlinkat":
		return CallSymlink
	case "unlink", "unlinkat", "rmdir":
		return CallUnlink
	case "truncate":
		return CallTruncate
	case "ftruncate":
		return CallFtruncate
	case "chmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat", "setxattr", "lsetxattr",
		"removexattr", "lremovexattr", "utimensat", "utimes", "utime", "futimesat":
		return CallSetattr
	case "fchmod", "fchown", "fsetxattr", "fremovexattr":
		return CallFsetattr
	case "setuid", "setreuid", "setresuid", "setfsuid", "setgid", "setregid", "setresgid", "setfsgid":
		return CallSetuid
	case "ptrace", "process_vm_writev", "process_vm_readv":
		return CallPtrace
	case "kill", "tkill", "tgkill":
		return CallKill
	case "sendfile", "splice", "copy_file_range", "tee":
		return CallSendfile
	case "memfd_create":
		return CallMemfd
	}
	return CallOther
}

// AuditOptions configures reading audit logs.
type AuditOptions struct {
	// BootID names the kernel boot of the first stream (unknown for a
	// log file; "" keeps exec identities as "pid/serial").
	BootID string
	// Window is how many events are held to put them back in serial
	// order (the reassembler completes them out of order). Default
	// 16384.
	Window int
	// Reassembler tunes event reassembly (OnEvent and OnLoss are set by
	// the reader).
	Reassembler audit.ReassemblerConfig
	// Reveal, if set, turns the anonymised addresses of a ledger
	// ("pan:KEY:ADDR") back into the real ones (privacy.Keyring's
	// RevealAddr, with the key that made them).
	Reveal func(string) (netip.Addr, error)
}

// AuditStats counts what was read from audit logs.
type AuditStats struct {
	Files    []string            `json:"files"`
	Reader   []audit.ReaderStats `json:"-"`
	Lines    uint64              `json:"lines"`
	Records  uint64              `json:"records"`
	Skipped  uint64              `json:"skipped_lines"`
	Events   uint64              `json:"events"`
	Lost     uint64              `json:"lost_events"` // serial gaps: events that never arrived (or an excerpt's holes)
	Streams  int                 `json:"streams"`     // kernel boots told apart by serial resets
	Late     uint64              `json:"late_records"`
	Reorders uint64              `json:"reordered"` // events that came out of serial order
}

// auditItem is a reassembled event waiting in the reorder window.
type auditItem struct {
	ev     *audit.Event
	stream uint32
	serial uint64
	seq    uint64 // arrival, to keep ties stable
}

type auditHeap []auditItem

func (h auditHeap) Len() int { return len(h) }
func (h auditHeap) Less(i, j int) bool {
	if h[i].stream != h[j].stream {
		return h[i].stream < h[j].stream
	}
	if h[i].serial != h[j].serial {
		return h[i].serial < h[j].serial
	}
	return h[i].seq < h[j].seq
}
func (h auditHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *auditHeap) Push(x any)   { *h = append(*h, x.(auditItem)) }
func (h *auditHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// AuditReader turns audit logs into Events for a Mapper: it reassembles
// records into events, puts them back in serial order, tracks processes
// with audit.Tracker (one per kernel boot) and decodes each system call.
type AuditReader struct {
	m     *Mapper
	opts  AuditOptions
	stats AuditStats

	window   auditHeap
	arrivals uint64
	// per node: the stream (boot) and the highest serial seen
	nodeStream map[string]uint32
	nodeMax    map[string]uint64
	streams    int

	trackers []*audit.Tracker
	procs    map[*audit.Process]*Proc
	// subjects is the agent's attribution of exec identities, labels the
	// labels of paths (both from a ledger).
	subjects map[string]subject
	labels   map[string][]string
	lastOut  []uint64 // per stream, the last serial handed on
	ev       Event    // reused for every event
	started  bool     // an event was handed on
}

// NewAuditReader returns a reader adding to m.
func NewAuditReader(m *Mapper, opts AuditOptions) *AuditReader {
	if opts.Window <= 0 {
		opts.Window = 16384
	}
	return &AuditReader{m: m, opts: opts, nodeStream: map[string]uint32{}, nodeMax: map[string]uint64{},
		procs: map[*audit.Process]*Proc{}, subjects: map[string]subject{}, labels: map[string][]string{}}
}

// subject is the agent's attribution of a process.
type subject struct{ compartment, role string }

// firstStamp returns the stamp of the first record of a log file, to put
// files (audit.log, audit.log.1, …) in order.
func firstStamp(name string) (audit.Stamp, error) {
	f, err := os.Open(name)
	if err != nil {
		return audit.Stamp{}, err
	}
	defer f.Close()
	rd := audit.NewReader(f, audit.ReaderOptions{})
	for range 1000 {
		r, err := rd.Next()
		if err != nil {
			return audit.Stamp{}, nil
		}
		if r.Type.Known() && r.Type < 1200 || r.Type >= 1300 {
			return r.Stamp, nil
		}
	}
	return audit.Stamp{}, nil
}

// ReadFiles reads audit log files, oldest first (by their first record),
// whatever order they are given in.
func (a *AuditReader) ReadFiles(names []string) error {
	type fileStamp struct {
		name  string
		stamp audit.Stamp
	}
	var fs []fileStamp
	for _, n := range names {
		s, err := firstStamp(n)
		if err != nil {
			return err
		}
		fs = append(fs, fileStamp{n, s})
	}
	slices.SortStableFunc(fs, func(x, y fileStamp) int {
		if x.stamp.Sec != y.stamp.Sec {
			return int(x.stamp.Sec - y.stamp.Sec)
		}
		return int(x.stamp.Milli) - int(y.stamp.Milli)
	})
	for _, f := range fs {
		fh, err := os.Open(f.name)
		if err != nil {
			return err
		}
		err = a.Read(f.name, fh)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Read reads one audit log (name is for the statistics and errors).
func (a *AuditReader) Read(name string, r io.Reader) error {
	cfg := a.opts.Reassembler
	cfg.OnEvent = a.push
	cfg.OnLoss = func(l audit.Loss) {
		if l.Kind == audit.LossSeqGap {
			a.stats.Lost += l.Count
		}
	}
	re := audit.NewReassembler(cfg)
	rs, err := audit.ReadAll(bufio.NewReaderSize(r, 1<<20), re, audit.ReaderOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	a.stats.Files = append(a.stats.Files, name)
	a.stats.Reader = append(a.stats.Reader, rs)
	a.stats.Lines += rs.Lines
	a.stats.Records += rs.Records
	a.stats.Skipped += rs.Errors()
	st := re.Stats()
	a.stats.Late += st.LateRecords
	return nil
}

// Flush hands on the events still in the reorder window. Call it after
// the last file.
func (a *AuditReader) Flush() {
	for a.window.Len() > 0 {
		a.emit(heap.Pop(&a.window).(auditItem))
	}
}

// Stats returns the counts so far.
func (a *AuditReader) Stats() AuditStats {
	s := a.stats
	s.Streams = a.streams
	return s
}

// push receives a reassembled event.
func (a *AuditReader) push(e *audit.Event) {
	a.stats.Events++
	serial := e.Stamp.Serial
	stream, ok := a.nodeStream[e.Node]
	if !ok || serial+uint64(4*a.opts.Window) < a.nodeMax[e.Node] {
		// a node seen for the first time, or serials starting over: a
		// new kernel boot
		stream = uint32(a.streams)
		a.streams++
		a.nodeStream[e.Node] = stream
		a.nodeMax[e.Node] = 0
	}
	if serial > a.nodeMax[e.Node] {
		a.nodeMax[e.Node] = serial
	} else {
		a.stats.Reorders++
	}
	a.arrivals++
	heap.Push(&a.window, auditItem{ev: e, stream: stream, serial: serial, seq: a.arrivals})
	for a.window.Len() > a.opts.Window {
		a.emit(heap.Pop(&a.window).(auditItem))
	}
}

// procKey formats an exec identity.
func procKey(id audit.ExecID) string {
	if id.Boot == "" {
		return strconv.Itoa(id.PID) + "/" + strconv.FormatUint(id.Serial, 10)
	}
	return id.String()
}

func (a *AuditReader) tracker(stream uint32) *audit.Tracker {
	for int(stream) >= len(a.trackers) {
		boot := a.opts.BootID
		if len(a.trackers) > 0 {
			boot = "boot" + strconv.Itoa(len(a.trackers)+1)
		}
		a.trackers = append(a.trackers, audit.NewTracker(audit.TrackerConfig{BootID: boot, MaxProcesses: 1 << 20}))
		a.lastOut = append(a.lastOut, 0)
	}
	return a.trackers[stream]
}

// proc returns the Proc of a tracked process.
func (a *AuditReader) proc(t *audit.Tracker, stream uint32, p *audit.Process) *Proc {
	if p == nil {
		return nil
	}
	if q := a.procs[p]; q != nil {
		return q
	}
	q := &Proc{
		Key: procKey(p.ID), Stream: stream, PID: p.ID.PID, PPID: p.PPID, Forked: p.Origin == audit.OriginFork,
		Exe: p.Exe, Comm: p.Comm, Argv: p.Argv, UID: p.UID, AUID: p.AUID, Ses: p.Ses,
	}
	a.procs[p] = q
	if s, ok := a.subjects[q.Key]; ok {
		q.Compartment, q.Role = s.compartment, s.role
	}
	if !p.Prev.IsZero() {
		q.Prev = a.proc(t, stream, t.Get(p.Prev))
	}
	if !p.Parent.IsZero() {
		q.Parent = a.proc(t, stream, t.Get(p.Parent))
	}
	return q
}

// emit decodes one event in serial order and hands it to the Mapper.
func (a *AuditReader) emit(it auditItem) {
	if !a.started {
		// look ahead in the window: are reads and writes recorded?
		a.started = true
		io := false
		for _, w := range append(a.window, it) {
			if w.ev.First(audit.TypeSyscall) == nil {
				continue
			}
			switch callOf(w.ev.SyscallName()) {
			case CallRead, CallWrite:
				io = w.ev.First(audit.TypeConfigChange) == nil
			}
			if io {
				break
			}
		}
		a.m.HintIO(io)
	}
	e := it.ev
	t := a.tracker(it.stream)
	a.lastOut[it.stream] = it.serial
	ev := &a.ev
	*ev = Event{Time: e.Stamp.Sec*1e9 + int64(e.Stamp.Milli)*1e6, Stream: it.stream, Serial: it.serial,
		FD: -1, FD2: -1, DirFD: atFDCWD, Interps: ev.Interps[:0]}
	switch typ := e.Type(); {
	case typ == audit.TypeSyscall:
		a.syscall(e, ev, t)
	case typ == audit.TypeUserLogin || typ == audit.TypeUserStart || typ == audit.TypeLogin:
		a.loginEvent(e, ev, t)
	default:
		return
	}
	a.m.Add(ev)
}

func (a *AuditReader) loginEvent(e *audit.Event, ev *Event, t *audit.Tracker) {
	if ok, _ := e.Success(); !ok {
		if _, known := e.Success(); known {
			return
		}
	}
	l := &Login{Session: unset, AUID: unset}
	if v, ok := e.Session(); ok {
		l.Session = v
	}
	if v, ok := e.AUID(); ok {
		l.AUID = v
	}
	l.Account, _ = e.Get("acct")
	l.Address, _ = e.Get("addr")
	if a.opts.Reveal != nil && strings.HasPrefix(l.Address, "pan:") {
		if ip, err := a.opts.Reveal(l.Address); err == nil {
			l.Address = ip.String()
		}
	}
	l.Terminal, _ = e.Get("terminal")
	if exe, ok := e.Exe(); ok {
		l.Via = path.Base(exe)
	}
	if l.Account == "" {
		if r := e.Records[0]; r != nil {
			if v, ok := r.Enriched("AUID"); ok {
				l.Account = v
			}
		}
	}
	ev.Call = CallLogin
	ev.Syscall = e.Type().String()
	ev.Login = l
	// the reporting process (sshd, login) is seen, but USER_* messages
	// carry no ppid: attribute them only to a process already known
	if pid, ok := e.PID(); ok {
		if p := t.Current(pid); p != nil {
			ev.Proc = a.proc(t, ev.Stream, p)
		}
	}
}

// hexArg returns syscall argument i (a0–a3).
func hexArg(r *audit.Record, i int) uint64 {
	v, _ := r.HexUint("a" + strconv.Itoa(i))
	return v
}

// pathOf picks the PATH item of the given nametypes, resolving a relative
// name against cwd when dirfd is AT_FDCWD.
func pathOf(paths []audit.Path, cwd string, dirfd int32, last bool, types ...string) string {
	name := ""
	for _, p := range paths {
		if slices.Contains(types, p.NameType) && p.Name != "" && p.Name != "(null)" {
			name = p.Name
			if !last {
				break
			}
		}
	}
	return absPath(name, cwd, dirfd)
}

func absPath(name, cwd string, dirfd int32) string {
	if name == "" {
		return ""
	}
	if name[0] == '/' {
		return path.Clean(name)
	}
	if strings.HasPrefix(name, "resource:") || strings.HasPrefix(name, "[redacted:") {
		return name // a resource whose path a ledger redacted
	}
	if dirfd == atFDCWD && cwd != "" {
		return path.Join(cwd, name)
	}
	return name
}

func (a *AuditReader) syscall(e *audit.Event, ev *Event, t *audit.Tracker) {
	sc := e.First(audit.TypeSyscall)
	name := e.SyscallName()
	ev.Syscall = name
	ev.Call = callOf(name)
	ok, _ := e.Success()
	exit, _ := e.Exit()
	ev.Failed = !ok
	if !ok && exit < 0 {
		ev.Errno = int(-exit)
	}
	ev.Ret = exit
	if ev.Call == CallFork {
		if flags := hexArg(sc, 0); name == "clone" && flags&0x10000 != 0 {
			ev.Call = CallOther // a thread
		}
	}
	if e.First(audit.TypeConfigChange) != nil {
		ev.Call = CallOther // a change of the audit configuration (rules sent over netlink), not a flow
	}
	p := t.Observe(e)
	if p == nil {
		return
	}
	_, known := a.procs[p]
	ev.Proc = a.proc(t, ev.Stream, p)
	if !known {
		// an identifier the input has as a name (a ledger's pseudonym)
		if v, ok := sc.Get("auid"); ok && v != "" && (v[0] < '0' || v[0] > '9') {
			ev.Proc.User, ev.Proc.AUID = v, unset
		}
	}
	if ev.Call == CallOther {
		return
	}
	cwd, _ := e.Cwd()
	var paths []audit.Path
	switch ev.Call {
	case CallOpen, CallExec, CallRename, CallLink, CallSymlink, CallUnlink, CallTruncate, CallSetattr:
		paths = e.Paths()
	}
	switch ev.Call {
	case CallOpen:
		switch name {
		case "open":
			ev.Flags = hexArg(sc, 1)
		case "creat":
			ev.Flags = oCreat | oWronly | oTrunc
		case "openat":
			ev.DirFD = int32(hexArg(sc, 0))
			ev.Flags = hexArg(sc, 2)
		case "openat2", "open_by_handle_at":
			ev.DirFD = int32(hexArg(sc, 0))
		}
		for _, p := range paths {
			if p.NameType == "CREATE" {
				ev.Created = true
			}
		}
		ev.Path = pathOf(paths, cwd, ev.DirFD, true, "NORMAL", "CREATE", "UNKNOWN")
		if len(a.labels) > 0 {
			ev.Labels = a.labels[ev.Path]
		}
	case CallRead, CallWrite, CallClose, CallFtruncate, CallFsetattr:
		ev.FD = int32(hexArg(sc, 0))
	case CallRecv, CallSend:
		ev.FD = int32(hexArg(sc, 0))
		ev.Addr = a.sockAddr(e)
	case CallDup:
		ev.FD = int32(hexArg(sc, 0))
		switch name {
		case "dup2", "dup3":
			ev.Ret = int64(int32(hexArg(sc, 1)))
			if name == "dup3" && hexArg(sc, 2)&oCloexec != 0 {
				ev.Flags = oCloexec
			}
		case "fcntl":
			switch hexArg(sc, 1) {
			case 0: // F_DUPFD
			case 1030: // F_DUPFD_CLOEXEC
				ev.Flags = oCloexec
			default:
				ev.Call = CallOther
			}
		}
	case CallPipe, CallSocketpair:
		if r := e.First(audit.TypeFDPair); r != nil {
			f0, _ := r.Int("fd0")
			f1, _ := r.Int("fd1")
			ev.FD, ev.FD2 = int32(f0), int32(f1)
		} else {
			ev.Call = CallOther
		}
		if name == "pipe2" && hexArg(sc, 1)&oCloexec != 0 {
			ev.Flags = oCloexec
		}
		if name == "socketpair" && hexArg(sc, 1)&oCloexec != 0 {
			ev.Flags = oCloexec
		}
	case CallSocket:
		if hexArg(sc, 1)&oCloexec != 0 {
			ev.Flags = oCloexec
		}
	case CallConnect, CallBind:
		ev.FD = int32(hexArg(sc, 0))
		ev.Addr = a.sockAddr(e)
	case CallAccept:
		ev.FD = int32(hexArg(sc, 0))
		ev.Addr = a.sockAddr(e)
		if name == "accept4" && hexArg(sc, 3)&oCloexec != 0 {
			ev.Flags = oCloexec
		}
	case CallMmap:
		ev.Prot = uint32(hexArg(sc, 2))
		ev.Flags = hexArg(sc, 3)
		if r := e.First(audit.TypeMmap); r != nil {
			fd, _ := r.Int("fd")
			ev.FD = int32(fd)
			if f, ok := r.HexUint("flags"); ok {
				ev.Flags = f
			}
		}
	case CallExec:
		for i, p := range paths {
			if p.NameType == "PARENT" || p.Name == "" {
				continue
			}
			f := absPath(p.Name, cwd, atFDCWD)
			if i == 0 || ev.Path == "" {
				ev.Path = f
			} else if !slices.Contains(ev.Interps, f) {
				ev.Interps = append(ev.Interps, f)
			}
		}
	case CallFork:
		if exit > 0 {
			ev.ChildKey = procKey(audit.ExecID{Boot: p.ID.Boot, PID: int(exit), Serial: e.Stamp.Serial})
		}
	case CallRename:
		ev.Path = pathOf(paths, cwd, atFDCWD, false, "DELETE")
		ev.Path2 = pathOf(paths, cwd, atFDCWD, true, "CREATE")
	case CallLink:
		ev.Path = pathOf(paths, cwd, atFDCWD, false, "NORMAL")
		ev.Path2 = pathOf(paths, cwd, atFDCWD, true, "CREATE")
	case CallSymlink:
		ev.Path2 = pathOf(paths, cwd, atFDCWD, true, "CREATE")
	case CallUnlink:
		ev.Path = pathOf(paths, cwd, atFDCWD, false, "DELETE")
	case CallTruncate, CallSetattr:
		ev.Path = pathOf(paths, cwd, atFDCWD, true, "NORMAL")
	case CallSetuid:
		if v, ok := e.EUID(); ok {
			ev.UID = v
		}
	case CallPtrace, CallKill:
		if r := e.First(audit.TypeObjPID); r != nil {
			if v, ok := r.Int("opid"); ok {
				ev.Target = int(v)
			}
		}
	case CallSendfile:
		switch name {
		case "sendfile":
			ev.FD, ev.FD2 = int32(hexArg(sc, 1)), int32(hexArg(sc, 0))
		case "tee":
			ev.FD, ev.FD2 = int32(hexArg(sc, 0)), int32(hexArg(sc, 1))
		default: // splice, copy_file_range
			ev.FD, ev.FD2 = int32(hexArg(sc, 0)), int32(hexArg(sc, 2))
		}
	case CallMemfd:
		ev.Path = "memfd:" + strconv.FormatUint(e.Stamp.Serial, 10)
		if hexArg(sc, 1)&1 != 0 { // MFD_CLOEXEC
			ev.Flags = 1
		}
	}
}

// sockAddr returns the event's socket address in the form endpoint keys
// use, or "" for families that are not endpoints.
func (a *AuditReader) sockAddr(e *audit.Event) string {
	sa, ok := e.Sockaddr()
	if !ok {
		if r := e.First(audit.TypeSockaddr); r != nil {
			if v, ok := r.Get("saddr"); ok && strings.HasPrefix(v, "family=") {
				return filteredSockaddr(v, a.opts.Reveal)
			}
		}
		return ""
	}
	switch sa.Family {
	case audit.AFInet, audit.AFInet6:
		if !sa.Addr.IsValid() {
			return ""
		}
		return sa.String()
	case audit.AFUnix:
		if sa.Path == "" {
			return ""
		}
		return sa.String()
	}
	return ""
}

// filteredSockaddr reads a socket address as the privacy filter writes
// it in a ledger: "family=inet addr=pan:K:1.2.3.4 port=80",
// "family=local path=/run/x.sock". reveal, if set, turns an anonymised
// address back into the real one.
func filteredSockaddr(v string, reveal func(string) (netip.Addr, error)) string {
	f := map[string]string{}
	for _, kv := range strings.Fields(v) {
		if k, val, ok := strings.Cut(kv, "="); ok {
			f[k] = val
		}
	}
	if reveal != nil && strings.HasPrefix(f["addr"], "pan:") {
		if ip, err := reveal(f["addr"]); err == nil {
			return netip.AddrPortFrom(ip, uint16(atoiPort(f["port"]))).String()
		}
	}
	switch f["family"] {
	case "inet":
		return f["addr"] + ":" + f["port"]
	case "inet6":
		if parts := strings.SplitN(f["addr"], ":", 3); len(parts) == 3 && parts[0] == "pan" {
			return parts[0] + ":" + parts[1] + ":[" + parts[2] + "]:" + f["port"]
		}
		return "[" + f["addr"] + "]:" + f["port"]
	case "local":
		if f["path"] == "" {
			return ""
		}
		return "unix:" + f["path"]
	}
	return ""
}

func atoiPort(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0
	}
	return n
}
