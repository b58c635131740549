package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/forensics"
	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/forensics/ingest"
)

// The synthetic provenance generator: a node's workload as the audit
// subsystem records it, system call by system call, with consistent
// descriptors, for "rampart investigate" benchmarks. Long-running services
// accept connections from remote clients, read requests, read shared
// configuration and their own data, append to logs, answer, call local
// services over unix sockets and remote APIs; they fork workers that exec
// helper programs, which read and write data files and temporary files;
// now and then an operator logs in and runs commands. Every program maps
// its shared libraries at exec. The result has the repetition (a service
// reading the same socket and file thousands of times) and the fan-out
// (everyone reads the same configuration) that make provenance graphs
// explode.

// synthProc is a process of the generator.
type synthProc struct {
	p      *ingest.Proc
	fds    map[int32]synthFD
	nextFD int32
	kind   int // service, worker, shell
	files  []int
	ops    int // operations left (workers and commands)
}

type synthFD struct {
	file int    // index in files, or -1 for a socket
	addr string // a socket's peer
}

const (
	kService = iota
	kWorker
	kShell
)

// synth generates events.
type synth struct {
	r        *rand.Rand
	emit     func(*ingest.Event)
	serial   uint64
	now      int64
	files    []string
	libs     []string
	config   []int // shared configuration files
	remotes  []string
	services []*synthProc
	busy     []*synthProc // workers and commands with operations left
	nextPID  int
	ev       ingest.Event
	stream   uint32
}

func newSynth(seed uint64, emit func(*ingest.Event)) *synth {
	s := &synth{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), emit: emit, now: 1_700_000_000 * 1e9, nextPID: 1000}
	for i := range 20 {
		s.libs = append(s.libs, fmt.Sprintf("/usr/lib/x86_64-linux-gnu/lib%d.so.1", i))
	}
	for i := range 40 {
		s.config = append(s.config, len(s.files))
		s.files = append(s.files, fmt.Sprintf("/etc/app/conf%d.conf", i))
	}
	for i := range 200_000 {
		s.files = append(s.files, fmt.Sprintf("/srv/data/%d/%d.dat", i%500, i))
	}
	for i := range 2000 {
		s.remotes = append(s.remotes, fmt.Sprintf("198.51.%d.%d:%d", i/250, i%250+1, []int{443, 80, 53, 5432}[i%4]))
	}
	for i := range 16 {
		sp := s.spawn(nil, fmt.Sprintf("/usr/sbin/svc%d", i), kService)
		// the service's log and its data: a share of the data files of
		// its own; the listening sockets: fd 3 (TCP), fd 5 (unix, for
		// the other services)
		sp.files = append(sp.files, len(s.files))
		s.files = append(s.files, fmt.Sprintf("/var/log/svc%d.log", i))
		for range 200 {
			sp.files = append(sp.files, s.serviceFile(i))
		}
		e := s.event(sp, ingest.CallBind, "bind")
		e.FD, e.Addr = 5, fmt.Sprintf("unix:/run/svc%d.sock", i)
		s.emit(e)
		s.services = append(s.services, sp)
	}
	return s
}

// serviceFile picks a data file of service i: each service has 1/16 of
// /srv/data.
func (s *synth) serviceFile(i int) int { return 40 + i*12500 + s.r.IntN(12500) }

// event fills the reused event for process sp.
func (s *synth) event(sp *synthProc, call ingest.Call, name string) *ingest.Event {
	s.serial++
	s.now += int64(50_000 + s.r.IntN(100_000)) // 50–150 µs apart
	s.ev = ingest.Event{Time: s.now, Stream: s.stream, Serial: s.serial, Proc: sp.p, Call: call, Syscall: name, FD: -1, FD2: -1, DirFD: -100}
	return &s.ev
}

// spawn starts a process: from parent (fork, then exec of exe), or a
// service whose start is not in the trace.
func (s *synth) spawn(parent *synthProc, exe string, kind int) *synthProc {
	s.nextPID++
	pid := s.nextPID
	comm := exe[strings.LastIndexByte(exe, '/')+1:]
	sp := &synthProc{fds: map[int32]synthFD{}, nextFD: 3, kind: kind}
	if parent == nil {
		sp.p = &ingest.Proc{Key: fmt.Sprintf("%d/%d", pid, s.serial+1), PID: pid, PPID: 1, Exe: exe, Comm: comm, AUID: 4294967295, Ses: 4294967295}
		s.event(sp, ingest.CallOther, "getpid")
		s.emit(&s.ev)
	} else {
		// the fork, in the parent
		e := s.event(parent, ingest.CallFork, "clone")
		e.Ret = int64(pid)
		e.ChildKey = fmt.Sprintf("%d/%d", pid, s.serial)
		forked := &ingest.Proc{Key: e.ChildKey, PID: pid, PPID: parent.p.PID, Parent: parent.p, Forked: true,
			Exe: parent.p.Exe, Comm: parent.p.Comm, AUID: parent.p.AUID, Ses: parent.p.Ses}
		s.emit(e)
		for fd, f := range parent.fds {
			sp.fds[fd] = f
		}
		sp.nextFD = parent.nextFD
		// the exec, in the child
		sp.p = &ingest.Proc{Key: fmt.Sprintf("%d/%d", pid, s.serial+1), PID: pid, PPID: parent.p.PID, Parent: parent.p, Prev: forked,
			Exe: exe, Comm: comm, AUID: parent.p.AUID, Ses: parent.p.Ses}
		e = s.event(sp, ingest.CallExec, "execve")
		e.Path = exe
		s.emit(e)
	}
	// the libraries, mapped executable
	for i := range 3 {
		e := s.event(sp, ingest.CallOpen, "openat")
		e.Path, e.Ret, e.Flags = s.libs[(pid+i*7)%len(s.libs)], int64(sp.nextFD), 0x80000
		s.emit(e)
		e = s.event(sp, ingest.CallMmap, "mmap")
		e.FD, e.Prot, e.Flags = sp.nextFD, 5, 2
		s.emit(e)
		e = s.event(sp, ingest.CallClose, "close")
		e.FD = sp.nextFD
		s.emit(e)
	}
	if kind != kService {
		s.busy = append(s.busy, sp)
	}
	return sp
}

// open opens file f in sp and returns the descriptor.
func (s *synth) open(sp *synthProc, f int, write bool) int32 {
	fd := sp.nextFD
	sp.nextFD++
	e := s.event(sp, ingest.CallOpen, "openat")
	e.Path, e.Ret = s.files[f], int64(fd)
	if write {
		e.Flags = 0x441 // O_WRONLY|O_CREAT|O_APPEND
	}
	s.emit(e)
	sp.fds[fd] = synthFD{file: f}
	return fd
}

func (s *synth) rw(sp *synthProc, fd int32, write bool, n int) {
	call, name := ingest.CallRead, "read"
	if write {
		call, name = ingest.CallWrite, "write"
	}
	e := s.event(sp, call, name)
	e.FD, e.Ret = fd, int64(n)
	s.emit(e)
}

func (s *synth) close(sp *synthProc, fd int32) {
	e := s.event(sp, ingest.CallClose, "close")
	e.FD = fd
	s.emit(e)
	delete(sp.fds, fd)
}

// request is one request a service handles.
func (s *synth) request(sp *synthProc) {
	// accept a connection from a remote client
	lst := int32(3)
	peer := fmt.Sprintf("203.0.%d.%d:%d", s.r.IntN(64), 1+s.r.IntN(250), 30000+s.r.IntN(30000))
	fd := sp.nextFD
	sp.nextFD++
	e := s.event(sp, ingest.CallAccept, "accept4")
	e.FD, e.Ret, e.Addr = lst, int64(fd), peer
	s.emit(e)
	sp.fds[fd] = synthFD{file: -1, addr: peer}
	s.rw(sp, fd, false, 200+s.r.IntN(2000))
	// shared configuration, own data
	cf := s.open(sp, s.config[s.r.IntN(len(s.config))], false)
	s.rw(sp, cf, false, 4096)
	s.close(sp, cf)
	for range 1 + s.r.IntN(3) {
		df := s.open(sp, sp.files[1+s.r.IntN(len(sp.files)-1)], s.r.IntN(8) == 0)
		s.rw(sp, df, sp.fds[df].file >= 0 && s.r.IntN(8) == 0, 512+s.r.IntN(8192))
		s.close(sp, df)
	}
	// a call to another service over its unix socket, now and then
	if s.r.IntN(100) == 0 {
		other := s.services[s.r.IntN(len(s.services))]
		if other != sp {
			sock := other.p.Exe[strings.LastIndexByte(other.p.Exe, '/')+1:]
			cfd := sp.nextFD
			sp.nextFD++
			e := s.event(sp, ingest.CallConnect, "connect")
			e.FD, e.Addr = cfd, "unix:/run/"+sock+".sock"
			s.emit(e)
			s.rw(sp, cfd, true, 200)
			afd := other.nextFD
			other.nextFD++
			e = s.event(other, ingest.CallAccept, "accept4")
			e.FD, e.Ret = 5, int64(afd)
			s.emit(e)
			s.rw(other, afd, false, 200)
			s.rw(other, afd, true, 2000)
			s.close(other, afd)
			s.rw(sp, cfd, false, 2000)
			s.close(sp, cfd)
		}
	}
	// a call to a remote API now and then
	if s.r.IntN(10) == 0 {
		rfd := sp.nextFD
		sp.nextFD++
		e := s.event(sp, ingest.CallConnect, "connect")
		e.FD, e.Addr = rfd, s.remotes[s.r.IntN(len(s.remotes))]
		s.emit(e)
		s.rw(sp, rfd, true, 300)
		s.rw(sp, rfd, false, 3000)
		s.close(sp, rfd)
	}
	// the log line and the answer
	s.rw(sp, 4, true, 120)
	s.rw(sp, fd, true, 1000+s.r.IntN(20000))
	s.close(sp, fd)
	// a worker for one request in a hundred
	if s.r.IntN(100) == 0 {
		w := s.spawn(sp, fmt.Sprintf("/usr/libexec/helper%d", s.r.IntN(30)), kWorker)
		w.ops = 5 + s.r.IntN(60)
		svc := slicesIndex(s.services, sp)
		for range 20 {
			w.files = append(w.files, s.serviceFile(svc))
		}
	}
}

// work is one step of a worker or a shell command.
func (s *synth) work(sp *synthProc) {
	switch r := s.r.IntN(10); {
	case r < 5:
		// a file read in 4 KiB chunks
		f := s.open(sp, sp.files[s.r.IntN(len(sp.files))], false)
		for range 1 + s.r.IntN(24) {
			s.rw(sp, f, false, 4096)
		}
		s.close(sp, f)
	case r < 8:
		f := s.open(sp, sp.files[s.r.IntN(len(sp.files))], true)
		s.rw(sp, f, true, 100+s.r.IntN(4096))
		s.close(sp, f)
	case r < 9:
		// a temporary file, written and read back
		tmp := len(s.files)
		s.files = append(s.files, fmt.Sprintf("/tmp/tmp.%d", s.serial))
		f := s.open(sp, tmp, true)
		s.rw(sp, f, true, 8192)
		s.rw(sp, f, false, 8192)
		s.close(sp, f)
		e := s.event(sp, ingest.CallUnlink, "unlink")
		e.Path = s.files[tmp]
		s.emit(e)
	default:
		e := s.event(sp, ingest.CallConnect, "connect")
		fd := sp.nextFD
		sp.nextFD++
		e.FD, e.Addr = fd, s.remotes[s.r.IntN(len(s.remotes))]
		s.emit(e)
		s.rw(sp, fd, true, 500)
		s.close(sp, fd)
	}
	sp.ops--
}

// login starts an operator session: a shell that runs a few commands.
func (s *synth) login() {
	s.nextPID++
	ses := uint32(s.serial % 100000)
	e := s.event(&synthProc{}, ingest.CallLogin, "USER_START")
	e.Proc = nil
	e.Login = &ingest.Login{Session: ses, AUID: 1000 + uint32(s.r.IntN(5)), Account: "op", Address: "192.0.2.10", Via: "sshd"}
	s.emit(e)
	sh := &synthProc{fds: map[int32]synthFD{}, nextFD: 3, kind: kShell}
	sh.p = &ingest.Proc{Key: fmt.Sprintf("%d/%d", s.nextPID, s.serial+1), PID: s.nextPID, PPID: 900, Exe: "/bin/bash", Comm: "bash", AUID: e.Login.AUID, Ses: ses}
	s.event(sh, ingest.CallOther, "getpid")
	s.emit(&s.ev)
	// commands in the operator's home directory
	for range 3 + s.r.IntN(5) {
		c := s.spawn(sh, []string{"/bin/cat", "/bin/ls", "/usr/bin/vim", "/usr/bin/curl"}[s.r.IntN(4)], kWorker)
		c.ops = 3 + s.r.IntN(10)
		for range 10 {
			c.files = append(c.files, len(s.files))
			s.files = append(s.files, fmt.Sprintf("/home/op/notes.%d", s.r.IntN(50)))
		}
	}
}

// run generates n events (a little more: the last operation completes).
func (s *synth) run(n uint64) {
	for s.serial < n {
		switch r := s.r.IntN(1000); {
		case r == 0:
			s.login()
		case r < 700:
			s.request(s.services[s.r.IntN(len(s.services))])
		default:
			// a worker or command step
			if len(s.busy) == 0 {
				continue
			}
			i := s.r.IntN(len(s.busy))
			w := s.busy[i]
			if w.ops > 0 {
				s.work(w)
			}
			if w.ops <= 0 {
				e := s.event(w, ingest.CallExit, "exit_group")
				s.emit(e)
				s.busy[i] = s.busy[len(s.busy)-1]
				s.busy = s.busy[:len(s.busy)-1]
			}
		}
	}
}

func slicesIndex(l []*synthProc, p *synthProc) int {
	for i, q := range l {
		if q == p {
			return i
		}
	}
	return 0
}

func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func benchEvents(b *testing.B) uint64 {
	if s := os.Getenv("INVESTIGATE_EVENTS"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err == nil {
			return n
		}
	}
	return 1_000_000
}

// BenchmarkInvestigateGenerate times the generator alone, to subtract it
// from the ingest figure.
func BenchmarkInvestigateGenerate(b *testing.B) {
	n := benchEvents(b)
	for b.Loop() {
		newSynth(1, func(*ingest.Event) {}).run(n)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkInvestigateIngest builds the graph from generated events —
// descriptor tracking, process and session nodes, the reduction, the
// filters, the final indexes — timing the build only: the events are
// generated into memory first.
func BenchmarkInvestigateIngest(b *testing.B) {
	n := benchEvents(b)
	events := make([]ingest.Event, 0, n+1000)
	newSynth(1, func(e *ingest.Event) { events = append(events, *e) }).run(n)
	var st graph.Stats
	b.ResetTimer()
	for b.Loop() {
		inv, err := forensics.Build(forensics.Options{}, func(_ *forensics.Investigation, m *ingest.Mapper) error {
			m.HintIO(true)
			for i := range events {
				m.Add(&events[i])
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		st = inv.Graph.Stats
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(st.EdgesIn), "edges-in")
	b.ReportMetric(float64(st.Edges), "edges")
	b.ReportMetric(float64(st.Nodes), "nodes")
}

// BenchmarkInvestigateQuery builds one graph, then times a backward query
// with its forward impact (the report included) from a file a worker wrote
// near the end, and a forward query from a service.
func BenchmarkInvestigateQuery(b *testing.B) {
	n := benchEvents(b)
	var last string
	t0 := time.Now()
	inv, err := forensics.Build(forensics.Options{}, func(_ *forensics.Investigation, m *ingest.Mapper) error {
		m.HintIO(true)
		newSynth(1, func(e *ingest.Event) {
			if e.Call == ingest.CallOpen && e.Flags&1 != 0 && strings.HasPrefix(e.Path, "/srv/data/") {
				last = e.Path
			}
			m.Add(e)
		}).run(n)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	load := time.Since(t0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := inv.Graph
	b.Logf("%d events: %d nodes, %d edges (%d offered, %d merged, filtered %v); load %s; heap after load %d MiB; peak RSS %d MiB",
		n, g.Stats.Nodes, g.Stats.Edges, g.Stats.EdgesIn, g.Stats.Merged, filtered(g.Stats.Filtered), load.Round(time.Millisecond),
		ms.HeapAlloc>>20, peakRSS()>>20)
	b.Run("backward+forward", func(b *testing.B) {
		var rep *forensics.Report
		for b.Loop() {
			rep, err = inv.Run(forensics.Query{Direction: forensics.Backward, Start: "file:" + last})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rep.RootCause.Nodes), "back-nodes")
		b.ReportMetric(float64(rep.Impact.Nodes), "fwd-nodes")
		b.ReportMetric(float64(len(rep.RootCause.EntryPoints)), "entry-points")
	})
	b.Run("forward-service", func(b *testing.B) {
		var rep *forensics.Report
		for b.Loop() {
			rep, err = inv.Run(forensics.Query{Direction: forensics.Forward, Start: "exe:/usr/sbin/svc3"})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rep.Impact.Nodes), "fwd-nodes")
	})
	b.Run("traversal-only", func(b *testing.B) {
		id, _ := g.Lookup(graph.File, last)
		var nb, nf int
		for b.Loop() {
			back := g.Backward([]graph.Point{{Node: id, Tick: g.End()}}, graph.Limits{})
			fwd := g.Forward([]graph.Point{{Node: back.Nodes[len(back.Nodes)-1], Tick: 0}}, graph.Limits{})
			nb, nf = len(back.Nodes), len(fwd.Nodes)
		}
		b.ReportMetric(float64(nb), "back-nodes")
		b.ReportMetric(float64(nf), "fwd-nodes")
	})
	runtime.KeepAlive(inv)
}

func filtered(fs []graph.FilterStat) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s %d", f.Filter, f.Edges))
	}
	return strings.Join(parts, ", ")
}

// auditWriter writes generated events as audit.log records (x86_64), the
// way the kernel would have logged them: a SYSCALL record, the CWD, PATH,
// SOCKADDR, FD_PAIR or MMAP records the call has, and EOE.
type auditWriter struct {
	w *bufio.Writer
}

func sockaddrHex(addr string) string {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return fmt.Sprintf("0100%X00", p)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "0000"
	}
	ip := ap.Addr().As4()
	return fmt.Sprintf("0200%04X%02X%02X%02X%02X0000000000000000", ap.Port(), ip[0], ip[1], ip[2], ip[3])
}

func (a *auditWriter) write(e *ingest.Event) {
	sec, ms := e.Time/1e9, (e.Time/1e6)%1000
	stamp := fmt.Sprintf("audit(%d.%03d:%d)", sec, ms, e.Serial)
	if e.Call == ingest.CallLogin {
		l := e.Login
		fmt.Fprintf(a.w, "type=USER_START msg=%s: pid=900 uid=0 auid=%d ses=%d msg='op=PAM:session_open acct=\"%s\" exe=\"/usr/sbin/sshd\" hostname=? addr=%s terminal=ssh res=success'\n",
			stamp, l.AUID, l.Session, l.Account, l.Address)
		return
	}
	p := e.Proc
	nr, a0, a1, a2, a3, items := 39, "0", "0", "0", "0", 0
	exit := e.Ret
	var extra []string
	switch e.Call {
	case ingest.CallOpen:
		nr, a0, a2, items = 257, "ffffff9c", strconv.FormatUint(e.Flags, 16), 1
		nt := "NORMAL"
		if e.Flags&0x40 != 0 {
			nt = "CREATE"
		}
		extra = append(extra, "type=CWD cwd=\"/\"", fmt.Sprintf("type=PATH item=0 name=%q nametype=%s", e.Path, nt))
	case ingest.CallRead:
		nr, a0 = 0, strconv.FormatInt(int64(e.FD), 16)
	case ingest.CallWrite:
		nr, a0 = 1, strconv.FormatInt(int64(e.FD), 16)
	case ingest.CallClose:
		nr, a0 = 3, strconv.FormatInt(int64(e.FD), 16)
	case ingest.CallAccept:
		nr, a0 = 288, strconv.FormatInt(int64(e.FD), 16)
		if e.Addr != "" && !strings.HasPrefix(e.Addr, "unix:") {
			extra = append(extra, "type=SOCKADDR saddr="+sockaddrHex(e.Addr))
		}
	case ingest.CallBind:
		nr, a0, exit = 49, strconv.FormatInt(int64(e.FD), 16), 0
		extra = append(extra, "type=SOCKADDR saddr="+sockaddrHex(e.Addr))
	case ingest.CallConnect:
		nr, a0, exit = 42, strconv.FormatInt(int64(e.FD), 16), 0
		extra = append(extra, "type=SOCKADDR saddr="+sockaddrHex(e.Addr))
	case ingest.CallMmap:
		nr, a2, a3 = 9, strconv.FormatUint(uint64(e.Prot), 16), strconv.FormatUint(e.Flags, 16)
		exit = 0x7f0000000000
		extra = append(extra, fmt.Sprintf("type=MMAP fd=%d flags=0x%x", e.FD, e.Flags))
	case ingest.CallFork:
		nr, a0 = 56, "1200011"
	case ingest.CallExec:
		nr, items, exit = 59, 1, 0
		extra = append(extra, fmt.Sprintf("type=EXECVE argc=1 a0=%q", e.Path), "type=CWD cwd=\"/\"",
			fmt.Sprintf("type=PATH item=0 name=%q nametype=NORMAL", e.Path))
	case ingest.CallExit:
		nr, exit = 231, 0
	case ingest.CallUnlink:
		nr, items, exit = 87, 1, 0
		extra = append(extra, "type=CWD cwd=\"/\"", fmt.Sprintf("type=PATH item=0 name=%q nametype=DELETE", e.Path))
	}
	fmt.Fprintf(a.w, "type=SYSCALL msg=%s: arch=c000003e syscall=%d success=yes exit=%d a0=%s a1=%s a2=%s a3=%s items=%d ppid=%d pid=%d auid=%d uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=%d comm=%q exe=%q key=(null)\n",
		stamp, nr, exit, a0, a1, a2, a3, items, p.PPID, p.PID, p.AUID, p.Ses, p.Comm, p.Exe)
	for _, x := range extra {
		typ, rest, _ := strings.Cut(x, " ")
		fmt.Fprintf(a.w, "%s msg=%s: %s\n", typ, stamp, rest)
	}
	fmt.Fprintf(a.w, "type=EOE msg=%s: \n", stamp)
}

// BenchmarkInvestigateAuditLog writes the generated events as an
// audit.log, then times the whole ingest from the file: parsing,
// reassembly, reordering, process tracking, descriptors, the graph.
func BenchmarkInvestigateAuditLog(b *testing.B) {
	n := benchEvents(b)
	dir := os.Getenv("BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "investigate-bench-audit.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(path)
	aw := &auditWriter{w: bufio.NewWriterSize(f, 1<<20)}
	events := 0
	newSynth(1, func(e *ingest.Event) { aw.write(e); events++ }).run(n)
	aw.w.Flush()
	f.Close()
	st, _ := os.Stat(path)
	var gs graph.Stats
	b.ResetTimer()
	for b.Loop() {
		inv, err := forensics.Load(forensics.Sources{AuditLogs: []string{path}}, forensics.Options{})
		if err != nil {
			b.Fatal(err)
		}
		gs = inv.Graph.Stats
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(st.Size())/float64(1<<20), "MiB")
	b.ReportMetric(float64(gs.Edges), "edges")
	b.ReportMetric(float64(gs.Nodes), "nodes")
}
