// Package stage is the init stage of rampart's sandboxes: the program
// that package sandbox runs (as /proc/self/exe) in new namespaces, pid 1
// of its pid namespace, to set the sandbox up and start the command.
//
// Its init function takes over the process when the process was started
// as a stage (environment variable Env) and never returns then. Go
// initializes packages in a fixed order (repeatedly, the one with the
// lexically smallest import path among those whose imports are all
// initialized), and this package imports little, so the stage starts
// before the heavier packages of the program (protocol buffers, CEL,
// YAML, policy parsers…) spend time initializing: a stage runs on every
// sandbox launch. Keep it so: it must not import path/filepath, regexp
// or a package that does (such as go-selinux), which sort after
// google.golang.org and would let those packages go first.
// TestRunInitOrder in cmd/rampart checks the order.
//
// The stage sets up the mounts, the network and the resource limits;
// confines its main thread (no_new_privs, memory-deny-write-execute,
// Landlock, identity and capabilities, seccomp); starts the command from
// that thread, which hands all of this to the command; and then stays as
// the namespace's init: it reaps orphans, relays signals and exits with
// the command's status.
package stage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/sandbox/seccomp"
)

// Env marks a process as an init stage; its value is Version.
const Env = "_RAMPART_SANDBOX_STAGE"

// Version is the protocol version between sandbox.Run and the stage.
const Version = "3"

// Descriptors of the stage.
const (
	PlanFD = 3 // the Spec, as JSON; read to EOF
	CtlFD  = 4 // control socket (SOCK_SEQPACKET) to sandbox.Run
	KeepFD = 5 // first of the descriptors to keep
)

// Exit statuses for failures of the sandbox itself, as in a shell (and
// "docker run"); the command's own status passes through otherwise.
const (
	ExitSetup       = 125 // the sandbox could not be set up
	ExitCannotExec  = 126 // the command exists but cannot be executed
	ExitNotFound    = 127 // the command was not found
	ExitSignalShift = 128 // killed by signal N: 128+N
)

// Forwarded are the signals the stage relays to the command (and
// sandbox.Run to the stage). Job control signals are not: the terminal
// sends them to the whole foreground process group, which the command
// is in.
var Forwarded = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM,
}

// Mount operations, in the order the stage applies them.
const (
	// MountPrivate makes every mount private to the sandbox.
	MountPrivate = "private"
	// MountBind binds a host path into the sandbox (cloned before the
	// root becomes read-only).
	MountBind = "bind"
	// MountReadOnly makes the whole tree read-only.
	MountReadOnly = "read-only"
	// MountTmpfs mounts an empty tmpfs.
	MountTmpfs = "tmpfs"
	// MountProc mounts the pid namespace's /proc.
	MountProc = "proc"
)

// Spec is what the stage does: the enforcing part of a sandbox.Plan.
type Spec struct {
	Command []string `json:"command"`
	Path    string   `json:"path"`
	Env     []string `json:"env"`
	Dir     string   `json:"dir"`

	// Namespaces the stage was started in.
	Mount, PID, UTS, Net bool
	Hostname             string  `json:"hostname,omitempty"`
	Mounts               []Mount `json:"mounts,omitempty"`

	// Landlock: the kernel's ABI, the rights to handle, the rules.
	LandlockABI int        `json:"landlock_abi"`
	HandledFS   uint64     `json:"handled_fs"`
	HandledNet  uint64     `json:"handled_net"`
	Scoped      uint64     `json:"scoped"`
	Paths       []PathRule `json:"paths,omitempty"`
	Ports       []PortRule `json:"ports,omitempty"`

	// Seccomp is the BPF program (struct sock_filter layout), or nil.
	Seccomp []byte `json:"seccomp,omitempty"`

	// Identity: set uid, gid and groups when Switch.
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	Groups []int `json:"groups,omitempty"`
	Switch bool  `json:"switch"`
	// Capabilities are the capability numbers to keep.
	Capabilities     []int    `json:"capabilities,omitempty"`
	DenyWriteExecute bool     `json:"deny_write_execute"`
	Rlimits          []Rlimit `json:"rlimits,omitempty"`
	KeepFDs          []int    `json:"keep_fds,omitempty"`
	SELinuxLabel     string   `json:"selinux_label,omitempty"`
}

// Mount is one mount operation.
type Mount struct {
	Op       string `json:"op"`
	Path     string `json:"path"`
	Writable bool   `json:"writable,omitempty"`
	Dir      bool   `json:"dir,omitempty"`
}

// PathRule grants Landlock filesystem rights on a path.
type PathRule struct {
	Path   string `json:"path"`
	Access uint64 `json:"access"`
}

// PortRule grants Landlock network rights on a port.
type PortRule struct {
	Port   uint16 `json:"port"`
	Access uint64 `json:"access"`
}

// Rlimit is a resource limit set to Value (soft and hard).
type Rlimit struct {
	Name     string `json:"name"`
	Resource int    `json:"resource"`
	Value    uint64 `json:"value"`
}

func init() {
	v, ok := os.LookupEnv(Env)
	if !ok {
		return
	}
	// The per-thread confinement is applied to this thread (the main
	// one: init functions run on it), and the command is forked from it.
	runtime.LockOSThread()
	// The command runs in the same Landlock domain as the confined thread
	// and, without root, as the same uid: without this, it could read and
	// write the stage's memory (process_vm_writev, /proc/1/mem, ptrace)
	// and act through its unconfined threads.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	s := &stageState{ctl: CtlFD}
	if v != Version {
		s.fail(ExitSetup, fmt.Errorf("init stage protocol %q, want %q (was rampart replaced while running?)", v, Version))
	}
	s.run()
}

// stageState is the init stage's state.
type stageState struct {
	pl  Spec
	ctl int // the control socket to sandbox.Run
}

// send writes one message (with descriptors) on the control socket.
func (s *stageState) send(msg string, fds ...int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(s.ctl, []byte(msg), oob, nil, 0)
}

// fail reports a setup failure to Run and exits. It must not be called
// from the confined thread once the seccomp filter is installed.
func (s *stageState) fail(code int, err error) {
	s.send(fmt.Sprintf("E%d sandbox setup: %v", code, err))
	os.Exit(code)
}

// spawned is the result of starting the command.
type spawned struct {
	pid int
	err error
}

func (s *stageState) run() {
	f := os.NewFile(PlanFD, "plan")
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		s.fail(ExitSetup, fmt.Errorf("reading the plan: %w", err))
	}
	pl := &s.pl
	if err := json.Unmarshal(data, pl); err != nil {
		s.fail(ExitSetup, fmt.Errorf("decoding the plan: %w", err))
	}
	// Keep the control socket out of the way of the --keep-fd numbers.
	// Descriptors stay below 64 when the numbers to keep do: growing the
	// descriptor table of a multi-threaded process waits for an RCU
	// grace period (milliseconds).
	base := KeepFD + len(pl.KeepFDs)
	for _, fd := range pl.KeepFDs {
		base = max(base, fd+1)
	}
	ctl, err := unix.FcntlInt(CtlFD, unix.F_DUPFD_CLOEXEC, base)
	if err != nil {
		s.fail(ExitSetup, fmt.Errorf("moving the control socket: %w", err))
	}
	unix.Close(CtlFD)
	s.ctl = ctl
	steps := []struct {
		what string
		do   func(*Spec) error
	}{
		{"descriptors", keepFDs},
		{"SELinux", func(pl *Spec) error {
			if pl.SELinuxLabel == "" {
				return nil
			}
			if err := setExecLabel(pl.SELinuxLabel); err != nil {
				return fmt.Errorf("exec label %s: %w", pl.SELinuxLabel, err)
			}
			return nil
		}},
		{"mounts", func(pl *Spec) error {
			if !pl.Mount {
				return nil
			}
			return setupMounts(pl)
		}},
		{"network", func(pl *Spec) error {
			if !pl.Net {
				return nil
			}
			return loopbackUp()
		}},
		{"hostname", func(pl *Spec) error {
			if !pl.UTS || pl.Hostname == "" {
				return nil
			}
			return unix.Sethostname([]byte(pl.Hostname))
		}},
		{"rlimits", func(pl *Spec) error {
			for _, r := range pl.Rlimits {
				if err := unix.Setrlimit(r.Resource, &unix.Rlimit{Cur: r.Value, Max: r.Value}); err != nil {
					return fmt.Errorf("%s = %d: %w", r.Name, r.Value, err)
				}
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := st.do(pl); err != nil {
			s.fail(ExitSetup, fmt.Errorf("%s: %w", st.what, err))
		}
	}
	dir := pl.Dir
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		// The caller's directory may be hidden (under the private /tmp).
		fmt.Fprintf(os.Stderr, "rampart: working directory %s is not visible in the sandbox; using /\n", dir)
		dir = "/"
	}
	// Only the descriptors in files reach the command.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		s.fail(ExitSetup, fmt.Errorf("close_range: %w", err))
	}
	n := 3
	for _, fd := range pl.KeepFDs {
		n = max(n, fd+1)
	}
	files := make([]uintptr, n)
	for i := range files {
		files[i] = ^uintptr(0)
		if i < 3 {
			files[i] = uintptr(i)
		}
	}
	for _, fd := range pl.KeepFDs {
		files[fd] = uintptr(fd)
	}
	attr := &syscall.ProcAttr{Dir: dir, Env: pl.Env, Files: files, Sys: &syscall.SysProcAttr{}}
	var prog []unix.SockFilter
	if pl.Seccomp != nil {
		if prog, err = seccomp.Decode(pl.Seccomp); err != nil {
			s.fail(ExitSetup, err)
		}
	}
	// SIGCHLD too: the init reaps on it, in the goroutine that relays.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, append([]os.Signal{syscall.SIGCHLD}, Forwarded...)...)
	listeners := make(chan int)
	handed := make(chan struct{})
	result := make(chan spawned)
	// One goroutine, on another (unconfined) thread, passes the seccomp
	// listener to Run, which answers the refused syscalls of the confined
	// thread and of the command, and then becomes the namespace's init.
	go s.init(sigs, listeners, handed, result)

	if err := confineThread(pl, prog, &attr.Dir, listeners, handed); err != nil {
		// The filter is not installed yet: failing here is safe.
		s.fail(ExitSetup, err)
	}
	pid, err := syscall.ForkExec(pl.Path, pl.Command, attr)
	result <- spawned{pid, err}
	select {} // this thread stays confined and idle
}

// confineThread applies the per-thread confinement to the calling thread:
// no_new_privs, memory-deny-write-execute, Landlock, identity and
// capabilities, and last the seccomp filter, whose listener it hands to
// the helper.
func confineThread(pl *Spec, prog []unix.SockFilter, dir *string, listeners chan<- int, handed <-chan struct{}) error {
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("no_new_privs: %w", e)
	}
	if pl.DenyWriteExecute {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_MDWE, unix.PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0, 0); e != 0 {
			return fmt.Errorf("PR_SET_MDWE: %w", e)
		}
	}
	if err := applyLandlock(pl); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	if err := applyIdentity(pl); err != nil {
		return fmt.Errorf("identity and capabilities: %w", err)
	}
	// The command starts in the working directory if its identity may
	// enter it (access(2) checks this thread's real ids).
	if err := unix.Access(*dir, unix.X_OK); err != nil {
		fmt.Fprintf(os.Stderr, "rampart: working directory %s is not reachable as uid %d (%v); using /\n", *dir, pl.UID, err)
		*dir = "/"
	}
	if prog == nil {
		close(listeners)
		return nil
	}
	l, err := seccomp.InstallListener(prog)
	if err != nil {
		return err
	}
	listeners <- l
	<-handed
	return nil
}

// init passes the seccomp listener to Run, waits for the command, then
// acts as the pid namespace's init: it relays signals to the command,
// reaps orphans, and exits with the command's status when it ends.
func (s *stageState) init(sigs <-chan os.Signal, listeners <-chan int, handed chan<- struct{}, result <-chan spawned) {
	if l, ok := <-listeners; ok {
		if err := s.send("L", l); err != nil {
			s.fail(ExitSetup, fmt.Errorf("passing the seccomp listener: %w", err))
		}
		unix.Close(l)
	}
	close(handed)
	r := <-result
	if r.err != nil {
		code := ExitCannotExec
		if errors.Is(r.err, syscall.ENOENT) {
			code = ExitNotFound
		}
		s.fail(code, fmt.Errorf("starting %s: %w", s.pl.Path, r.err))
	}
	s.send("S")
	unix.Close(s.ctl)
	for {
		// Reap whatever has ended: the command, or orphans that the
		// kernel gave to this init.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			if pid != r.pid {
				continue
			}
			switch {
			case ws.Exited():
				os.Exit(ws.ExitStatus())
			case ws.Signaled():
				// A namespace's init cannot die of its own signals:
				// report the command's as 128+N.
				os.Exit(ExitSignalShift + int(ws.Signal()))
			}
		}
		select {
		case sig := <-sigs:
			if sig != syscall.SIGCHLD {
				syscall.Kill(r.pid, sig.(syscall.Signal))
			}
		case <-time.After(time.Second):
			// A SIGCHLD dropped by a full channel must not hang the init.
		}
	}
}

// keepFDs moves the descriptors to keep (Run passes them from fd 5 on)
// to their numbers.
func keepFDs(pl *Spec) error {
	// Park the descriptors above every target (and the error pipe) first,
	// so that no move overwrites a descriptor still to be moved.
	base := KeepFD + len(pl.KeepFDs)
	for _, fd := range pl.KeepFDs {
		base = max(base, fd+1)
	}
	high := make([]int, len(pl.KeepFDs))
	for i := range pl.KeepFDs {
		fd, err := unix.FcntlInt(uintptr(KeepFD+i), unix.F_DUPFD_CLOEXEC, base)
		if err != nil {
			return err
		}
		unix.Close(KeepFD + i)
		high[i] = fd
	}
	for i, target := range pl.KeepFDs {
		if err := unix.Dup3(high[i], target, 0); err != nil {
			return fmt.Errorf("fd %d: %w", target, err)
		}
		unix.Close(high[i])
	}
	return nil
}

// setupMounts builds the mount namespace: every mount private; the
// binds cloned from the host; a new /proc; the whole tree read-only;
// empty private directories; the binds attached.
func setupMounts(pl *Spec) error {
	type clone struct {
		fd int
		m  Mount
	}
	var clones []clone
	defer func() {
		for _, c := range clones {
			unix.Close(c.fd)
		}
	}()
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	for _, m := range pl.Mounts {
		if m.Op != MountBind {
			continue
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, m.Path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err != nil {
			return fmt.Errorf("cloning %s: %w", m.Path, err)
		}
		clones = append(clones, clone{fd, m})
		if !m.Writable {
			attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
			if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
				return fmt.Errorf("making %s read-only: %w", m.Path, err)
			}
		}
	}
	for _, m := range pl.Mounts {
		if m.Op == MountProc && pl.PID {
			if err := unix.Mount("proc", m.Path, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("mounting %s: %w", m.Path, err)
			}
		}
	}
	for _, m := range pl.Mounts {
		if m.Op == MountReadOnly {
			attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
			if err := unix.MountSetattr(unix.AT_FDCWD, m.Path, unix.AT_RECURSIVE, &attr); err != nil {
				return fmt.Errorf("making %s read-only: %w", m.Path, err)
			}
		}
	}
	for _, m := range pl.Mounts {
		if m.Op == MountTmpfs {
			mode := "0755"
			if m.Path == "/tmp" || m.Path == "/dev/shm" || strings.HasSuffix(m.Path, "/tmp") {
				mode = "1777"
			}
			if err := unix.Mount("tmpfs", m.Path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode="+mode); err != nil {
				return fmt.Errorf("tmpfs on %s: %w", m.Path, err)
			}
		}
	}
	for _, c := range clones {
		if err := mountpoint(c.m.Path, c.m.Dir); err != nil {
			return err
		}
		if err := unix.MoveMount(c.fd, "", unix.AT_FDCWD, c.m.Path, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("binding %s: %w", c.m.Path, err)
		}
	}
	return nil
}

// parentDir is filepath.Dir for the clean absolute paths of a Spec.
// The stage does not import path/filepath (nor go-selinux, which does):
// see the package comment.
func parentDir(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// setExecLabel sets the SELinux context of the calling thread's next
// execve, as go-selinux's SetExecLabel: it writes the label to
// /proc/thread-self/attr/exec, after checking that this is procfs.
func setExecLabel(label string) error {
	fd, err := unix.Open("/proc/thread-self/attr/exec", unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return err
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return errors.New("/proc/thread-self/attr/exec is not on procfs")
	}
	_, err = unix.Write(fd, []byte(label))
	return err
}

// mountpoint creates path (a directory, or an empty file) in a private
// tmpfs if it is missing.
func mountpoint(path string, dir bool) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(parentDir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// loopbackUp brings the loopback interface of a new network namespace
// up.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// applyIdentity drops the capability bounding set to the plan's
// capabilities, switches uid and gid (as root), and leaves exactly the
// plan's capabilities in the permitted, effective, inheritable and
// ambient sets. It acts on the calling thread, which execs afterwards.
func applyIdentity(pl *Spec) error {
	var keep uint64
	for _, n := range pl.Capabilities {
		if n < 0 || n > 63 {
			return fmt.Errorf("bad capability number %d", n)
		}
		keep |= 1 << n
	}
	for c := 0; c < 64; c++ {
		_, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0, 0)
		if e == unix.EINVAL {
			break // past the last capability
		}
		if keep&(1<<c) != 0 {
			continue
		}
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0, 0); e != 0 {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", c, e)
		}
	}
	id := pl
	if id.Switch {
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0, 0, 0, 0); e != 0 {
			return fmt.Errorf("PR_SET_KEEPCAPS: %w", e)
		}
		gids := make([]uint32, len(id.Groups))
		for i, g := range id.Groups {
			gids[i] = uint32(g)
		}
		var gp unsafe.Pointer
		if len(gids) > 0 {
			gp = unsafe.Pointer(&gids[0])
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(gp), 0); e != 0 {
			return fmt.Errorf("setgroups: %w", e)
		}
		runtime.KeepAlive(gids)
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(id.GID), uintptr(id.GID), uintptr(id.GID)); e != 0 {
			return fmt.Errorf("setresgid %d: %w", id.GID, e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(id.UID), uintptr(id.UID), uintptr(id.UID)); e != 0 {
			return fmt.Errorf("setresuid %d: %w", id.UID, e)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		w := uint32(keep >> (32 * i))
		data[i] = unix.CapUserData{Effective: w, Permitted: w, Inheritable: w}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capset: %w", e)
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("clearing ambient capabilities: %w", e)
	}
	for c := 0; c < 64; c++ {
		if keep&(1<<c) == 0 {
			continue
		}
		if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0, 0); e != 0 {
			return fmt.Errorf("raising ambient capability %d: %w", c, e)
		}
	}
	if id.Switch {
		unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0, 0, 0, 0)
	}
	return nil
}

// applyLandlock enforces the plan's Landlock ruleset on the calling
// thread (no_new_privs is set).
func applyLandlock(pl *Spec) error {
	if pl.LandlockABI == 0 {
		return nil
	}
	cfg := landlock.Config{
		HandledAccessFS:  landlock.AccessFSSet(pl.HandledFS),
		HandledAccessNet: landlock.AccessNetSet(pl.HandledNet),
		Scoped:           landlock.ScopedSet(pl.Scoped),
	}.BestEffort().EnableLoggingForSubprocesses()
	var rules []landlock.Rule
	for _, r := range pl.Paths {
		rules = append(rules, landlock.PathAccess(landlock.AccessFSSet(r.Access), r.Path).IgnoreIfMissing())
	}
	for _, p := range pl.Ports {
		for _, x := range []struct {
			bit  uint64
			rule func(uint16) landlock.NetRule
		}{{ll.AccessNetBindTCP, landlock.BindTCP}, {ll.AccessNetConnectTCP, landlock.ConnectTCP}, {ll.AccessNetBindUDP, landlock.BindUDP}, {ll.AccessNetConnectSendUDP, landlock.ConnectSendUDP}} {
			if p.Access&x.bit != 0 {
				rules = append(rules, x.rule(p.Port))
			}
		}
	}
	fd, flags, err := cfg.NewRulesetFD(rules...)
	if err != nil {
		return err
	}
	if fd < 0 {
		return errors.New("the kernel enforces no Landlock right")
	}
	defer unix.Close(fd)
	return ll.LandlockRestrictSelf(fd, flags)
}
