package audit

import (
	"os"
	"strconv"
	"strings"
)

// ExecID identifies one program image run by one process: the boot, the
// pid, and the serial of the event that started it (the execve, or the
// fork/clone that created the process, or the first event seen from a
// process whose start was not observed). Unlike a pid, it is never reused.
type ExecID struct {
	Boot   string // kernel boot id (/proc/sys/kernel/random/boot_id); "" if unknown
	PID    int
	Serial uint64
}

// IsZero reports whether id is the zero ExecID (unknown).
func (id ExecID) IsZero() bool { return id.PID == 0 && id.Serial == 0 }

// String formats id as "boot/pid/serial".
func (id ExecID) String() string {
	return id.Boot + "/" + strconv.Itoa(id.PID) + "/" + strconv.FormatUint(id.Serial, 10)
}

// Origin says how a process entry came to be.
type Origin uint8

// Process origins.
const (
	OriginExec     Origin = iota + 1 // an execve/execveat event
	OriginFork                       // a fork/vfork/clone/clone3 event in the parent
	OriginObserved                   // first seen in some other event; its start was not observed
)

var originNames = [...]string{"", "exec", "fork", "observed"}

// String names the origin.
func (o Origin) String() string {
	if int(o) < len(originNames) {
		return originNames[o]
	}
	return "origin(" + strconv.Itoa(int(o)) + ")"
}

// Process is one program image of one process.
type Process struct {
	ID     ExecID
	Parent ExecID // the process that forked this one (or the ppid's image at exec); zero if unknown
	Prev   ExecID // for an exec: the image this one replaced in the same pid
	Origin Origin
	PPID   int
	Start  Stamp
	Exe    string
	Comm   string
	Argv   []string
	UID    uint32
	AUID   uint32
	Ses    uint32
	Exited bool // an exit/exit_group event was seen
}

// TrackerConfig configures a Tracker.
type TrackerConfig struct {
	// BootID scopes the ExecIDs; BootID() reads the running kernel's.
	BootID string
	// MaxProcesses bounds the processes remembered; the oldest exited,
	// then the oldest, are forgotten first. Default 65536.
	MaxProcesses int
}

// Tracker follows processes through exec, fork/clone and exit events and
// attributes every event to a Process with a stable ExecID and a parent
// chain. Events may come in any order — the reassembler completes them out
// of serial order, and a child's execve can even get a lower serial than
// its parent's clone — and the tracker converges to the same processes and
// parents: a fork seen after its child adopts the child, an exec seen
// after later events of its image takes that image over. Not safe for
// concurrent use.
type Tracker struct {
	cfg   TrackerConfig
	byPID map[int]*Process    // current image of each live pid
	byID  map[ExecID]*Process // every remembered image
	forks map[int]forkInfo    // child pid → fork, for children not seen yet
	order []ExecID            // insertion order, for eviction
}

type forkInfo struct {
	parent ExecID
	serial uint64
}

// BootID returns the running kernel's boot id.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// NewTracker returns an empty Tracker.
func NewTracker(cfg TrackerConfig) *Tracker {
	if cfg.MaxProcesses <= 0 {
		cfg.MaxProcesses = 65536
	}
	return &Tracker{cfg: cfg, byPID: map[int]*Process{}, byID: map[ExecID]*Process{}, forks: map[int]forkInfo{}}
}

// Get returns the process image with the given id.
func (t *Tracker) Get(id ExecID) *Process { return t.byID[id] }

// Current returns the image pid is running now, as far as the events seen
// tell.
func (t *Tracker) Current(pid int) *Process { return t.byPID[pid] }

// Chain returns the process and its ancestors, nearest first, following
// Parent links (at most 1024 steps).
func (t *Tracker) Chain(id ExecID) []*Process {
	var out []*Process
	seen := map[ExecID]bool{}
	for !id.IsZero() && len(out) < 1024 && !seen[id] {
		seen[id] = true
		p := t.byID[id]
		if p == nil {
			break
		}
		out = append(out, p)
		id = p.Parent
	}
	return out
}

// Len returns the number of process images remembered.
func (t *Tracker) Len() int { return len(t.byID) }

// Observe updates the tracker with a completed event and returns the
// process image the event belongs to (nil for events without a pid, such
// as CONFIG_CHANGE from the kernel). For an execve the returned image is
// the new one.
func (t *Tracker) Observe(e *Event) *Process {
	pid, ok := e.PID()
	if !ok || pid <= 0 {
		return nil
	}
	name := ""
	success := true
	if e.First(TypeSyscall) != nil {
		name = e.SyscallName()
		success, _ = e.Success()
	}
	switch {
	case success && (name == "execve" || name == "execveat"):
		return t.exec(e, pid)
	case success && (name == "fork" || name == "vfork" || name == "clone" || name == "clone3"):
		p := t.ensure(e, pid)
		if child, ok := e.Exit(); ok && child > 0 && !isThreadClone(e, name) {
			t.forked(p, int(child), e.Stamp.Serial)
		}
		return p
	case name == "exit" || name == "exit_group":
		p := t.ensure(e, pid)
		p.Exited = true
		delete(t.byPID, pid)
		return p
	}
	return t.ensure(e, pid)
}

// isThreadClone reports whether a clone created a thread (CLONE_THREAD in
// its flags, a0 on x86_64 and aarch64); clone3 passes its flags in memory,
// so its children are treated as processes until they prove otherwise.
func isThreadClone(e *Event, name string) bool {
	if name != "clone" {
		return false
	}
	flags, ok := e.First(TypeSyscall).HexUint("a0")
	return ok && flags&0x10000 != 0
}

// forked records that parent created child with the fork event serial.
func (t *Tracker) forked(parent *Process, child int, serial uint64) {
	c := t.byPID[child]
	if c == nil || c.Start.Serial < serial && c.Origin == OriginExec && !c.Parent.IsZero() {
		// not seen yet (the usual order), or a stale image of a reused pid
		t.forks[child] = forkInfo{parent.ID, serial}
		return
	}
	// The child's events came first. Every image of the child since the
	// fork has this parent; the oldest, if only observed, is the fork's.
	oldest := c
	for img := c; img != nil; img = t.byID[img.Prev] {
		if img.Parent.IsZero() {
			img.Parent = parent.ID
		}
		oldest = img
		if img.Prev.IsZero() {
			break
		}
	}
	if oldest.Origin == OriginObserved {
		oldest.Origin = OriginFork
		oldest.Start.Serial = serial
		t.rekey(oldest, ExecID{Boot: t.cfg.BootID, PID: child, Serial: serial})
	}
}

func (t *Tracker) exec(e *Event, pid int) *Process {
	cur := t.byPID[pid]
	if cur != nil && cur.Start.Serial > e.Stamp.Serial {
		// Out of order: events of a later image arrived first.
		if cur.Origin != OriginExec {
			// cur was built from events after this exec: it is this
			// exec's image
			prevParent := cur.Parent
			t.fill(cur, e)
			cur.Origin, cur.Start = OriginExec, e.Stamp
			cur.Argv, _ = e.Argv()
			if cur.Parent.IsZero() {
				cur.Parent = prevParent
			}
			t.rekey(cur, ExecID{Boot: t.cfg.BootID, PID: pid, Serial: e.Stamp.Serial})
			return cur
		}
		// an earlier exec of the same pid: the image before cur
		p := t.newProcess(e, pid, OriginExec)
		p.Argv, _ = e.Argv()
		p.Parent = cur.Parent
		if cur.Prev.IsZero() {
			cur.Prev = p.ID
		}
		t.remember(p)
		return p
	}
	p := t.newProcess(e, pid, OriginExec)
	if cur != nil {
		p.Prev = cur.ID
	}
	switch f, ok := t.forks[pid]; {
	case ok:
		p.Parent = f.parent
	case cur != nil && !cur.Parent.IsZero():
		p.Parent = cur.Parent
	default:
		if pp := t.byPID[p.PPID]; pp != nil {
			p.Parent = pp.ID
		}
	}
	p.Argv, _ = e.Argv()
	t.add(p)
	return p
}

// ensure returns the current image of pid, creating it from the event if
// none is known (from a recorded fork, or as observed).
func (t *Tracker) ensure(e *Event, pid int) *Process {
	if p := t.byPID[pid]; p != nil {
		if p.Origin == OriginObserved && e.Stamp.Serial < p.ID.Serial {
			// an earlier event of the same image: the image is known
			// since then
			p.Start = e.Stamp
			t.rekey(p, ExecID{Boot: t.cfg.BootID, PID: pid, Serial: e.Stamp.Serial})
		}
		return p
	}
	p := t.newProcess(e, pid, OriginObserved)
	if f, ok := t.forks[pid]; ok {
		p.Origin, p.Parent = OriginFork, f.parent
		p.ID.Serial, p.Start.Serial = f.serial, f.serial
		if pp := t.byID[f.parent]; pp != nil {
			p.Argv = pp.Argv
		}
	} else if pp := t.byPID[p.PPID]; pp != nil {
		p.Parent = pp.ID
	}
	t.add(p)
	return p
}

func (t *Tracker) newProcess(e *Event, pid int, origin Origin) *Process {
	p := &Process{ID: ExecID{Boot: t.cfg.BootID, PID: pid, Serial: e.Stamp.Serial}, Origin: origin, Start: e.Stamp}
	t.fill(p, e)
	return p
}

func (t *Tracker) fill(p *Process, e *Event) {
	p.PPID, _ = e.PPID()
	p.Exe, _ = e.Exe()
	p.Comm, _ = e.Comm()
	p.UID, _ = e.UID()
	p.AUID, _ = e.AUID()
	p.Ses, _ = e.Session()
}

// add makes p the current image of its pid and remembers it.
func (t *Tracker) add(p *Process) {
	t.byPID[p.ID.PID] = p
	delete(t.forks, p.ID.PID)
	t.remember(p)
}

// remember stores p by id, forgetting the oldest images beyond the limit.
func (t *Tracker) remember(p *Process) {
	if _, dup := t.byID[p.ID]; !dup {
		t.order = append(t.order, p.ID)
	}
	t.byID[p.ID] = p
	for len(t.byID) > t.cfg.MaxProcesses && len(t.order) > 0 {
		old := t.order[0]
		t.order = t.order[1:]
		if q := t.byID[old]; q != nil && t.byPID[old.PID] == q {
			delete(t.byPID, old.PID)
		}
		delete(t.byID, old)
	}
	if len(t.forks) > t.cfg.MaxProcesses {
		clear(t.forks)
	}
}

// rekey renames image p, updating every reference to it. It scans all
// images, which only happens when events arrive out of order.
func (t *Tracker) rekey(p *Process, id ExecID) {
	old := p.ID
	if old == id {
		return
	}
	delete(t.byID, old)
	p.ID = id
	t.byID[id] = p
	for _, q := range t.byID {
		if q.Parent == old {
			q.Parent = id
		}
		if q.Prev == old {
			q.Prev = id
		}
	}
	for pid, f := range t.forks {
		if f.parent == old {
			f.parent = id
			t.forks[pid] = f
		}
	}
	for i, o := range t.order {
		if o == old {
			t.order[i] = id
		}
	}
}
