package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/sandbox/internal/stage"
	"github.com/rampart-sec/rampart/sandbox/seccomp"
)

// Exit statuses of Run for failures of its own, as in a shell (and
// "docker run"): the command's own status passes through otherwise.
const (
	ExitSetup       = stage.ExitSetup      // rampart could not set the sandbox up
	ExitCannotExec  = stage.ExitCannotExec // the command exists but cannot be executed
	ExitNotFound    = stage.ExitNotFound   // the command was not found
	exitSignalShift = stage.ExitSignalShift
)

// Stdio are the command's standard streams. A nil stream is /dev/null.
// *os.File streams are passed as they are; others through a pipe.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Refused, when set, receives a line for each syscall the seccomp
	// filter refuses ("refused syscall ptrace (101) by pid 4242", the
	// caller's view of the pid). It may be Stdout or Stderr.
	Refused io.Writer
}

// SetupError is a failure of the sandbox setup: nothing was executed.
type SetupError struct {
	// Code is ExitSetup, ExitCannotExec or ExitNotFound.
	Code int
	Msg  string
}

// Error returns the message.
func (e *SetupError) Error() string { return e.Msg }

// Run starts the plan's command in its sandbox, forwards the signals
// this process receives to it, waits for it and returns its exit status
// (128+N when signal N killed it). Run executes /proc/self/exe as the
// sandbox's init stage (package sandbox/internal/stage, whose init
// function takes over the process then). A *SetupError means the command
// never started.
func Run(pl *Plan, stdio Stdio) (int, error) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, stage.Forwarded...)
	defer signal.Stop(sigs)
	p, err := Start(pl, stdio)
	if err != nil {
		var se *SetupError
		if errors.As(err, &se) {
			return se.Code, err
		}
		return ExitSetup, err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case s := <-sigs:
				p.Signal(s.(syscall.Signal))
			case <-stop:
				return
			}
		}
	}()
	return p.Wait()
}

// Process is a command running in its sandbox.
type Process struct {
	cmd      *exec.Cmd
	listener int
	refuse   seccomp.Action
	log      io.Writer
	arch     *seccomp.Arch

	mu         sync.Mutex
	killed     string // the syscall that got the command killed (kill mode)
	supervised chan struct{}
}

// Pid returns the process id of the sandbox's init (in the caller's pid
// namespace); the command is its child.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Start starts the plan's command in its sandbox and returns once it
// runs, or with a *SetupError when the sandbox could not be set up (then
// nothing ran). The sandbox gets SIGKILL when the thread that started it
// exits (PR_SET_PDEATHSIG): the Go runtime never ends its threads, except
// one whose goroutine exits while locked to it (runtime.LockOSThread), so
// do not call Start from such a goroutine.
func Start(pl *Plan, stdio Stdio) (*Process, error) {
	return start(pl, stdio)
}

// lockedWriter serializes writes: the refusal log and the command's
// stderr may be one writer, written by two goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func start(pl *Plan, stdio Stdio) (*Process, error) {
	if stdio.Refused != nil {
		if _, isFile := stdio.Refused.(*os.File); !isFile {
			lw := &lockedWriter{w: stdio.Refused}
			if stdio.Stderr == stdio.Refused {
				stdio.Stderr = lw
			}
			if stdio.Stdout == stdio.Refused {
				stdio.Stdout = lw
			}
			stdio.Refused = lw
		}
	}
	planR, planW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer planW.Close()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		planR.Close()
		return nil, err
	}
	ctl := sp[0]
	defer unix.Close(ctl)
	child := os.NewFile(uintptr(sp[1]), "sandbox-control")
	cmd, err := stageCmd(pl, stdio, planR, child)
	planR.Close()
	child.Close()
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, listener: -1, log: stdio.Refused, supervised: make(chan struct{})}
	p.refuse = seccomp.Action(pl.Seccomp.RefuseAction)
	p.arch, _ = seccomp.NativeArch()
	fail := func(e error) (*Process, error) {
		cmd.Process.Kill()
		cmd.Wait()
		if p.listener >= 0 {
			<-p.supervised
			unix.Close(p.listener)
		}
		return nil, e
	}
	spec, err := pl.forStage()
	var payload []byte
	if err == nil {
		payload, err = json.Marshal(spec)
	}
	if err == nil {
		_, err = planW.Write(payload)
	}
	planW.Close()
	if err != nil {
		return fail(&SetupError{ExitSetup, "sending the plan to the init stage: " + err.Error()})
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(ctl, buf, oob, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			// The stage died without a word.
			cmd.Wait()
			return fail(&SetupError{ExitSetup, "sandbox setup: the init stage ended: " + cmd.ProcessState.String()})
		}
		msg := string(buf[:n])
		switch msg[0] {
		case 'L':
			l, err := receivedFD(oob[:oobn])
			if err != nil {
				return fail(&SetupError{ExitSetup, "sandbox setup: seccomp listener: " + err.Error()})
			}
			p.listener = l
			go p.supervise()
		case 'S':
			if p.listener < 0 {
				close(p.supervised)
			}
			return p, nil
		case 'E':
			cmd.Wait()
			code, text := ExitSetup, msg[1:]
			if i := indexByte(text, ' '); i > 0 {
				if c, err := strconv.Atoi(text[:i]); err == nil {
					code, text = c, text[i+1:]
				}
			}
			return fail(&SetupError{code, text})
		default:
			return fail(&SetupError{ExitSetup, "sandbox setup: unexpected message from the init stage"})
		}
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func receivedFD(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1, err
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err == nil && len(fds) == 1 {
			return fds[0], nil
		}
	}
	return -1, errors.New("no descriptor received")
}

// supervise answers the seccomp notifications of the sandbox: the init
// stage's own syscalls (its confined thread, and the command's process
// until its execve, which shares the stage's memory) run; everything
// else gets the plan's refusal.
func (p *Process) supervise() {
	defer close(p.supervised)
	stage := p.Pid()
	seccomp.Supervise(p.listener, func(pid int) bool {
		return seccomp.SameMemory(pid, stage)
	}, func(pid int, nr int32) syscall.Errno {
		name := strconv.Itoa(int(nr))
		if p.arch != nil {
			if n := p.arch.SyscallName(int(nr)); n != "" {
				name = n
			}
		}
		if p.log != nil {
			fmt.Fprintf(p.log, "rampart: refused syscall %s (%d) by pid %d\n", name, nr, pid)
		}
		if p.refuse == seccomp.ActionKillProcess {
			p.mu.Lock()
			if p.killed == "" {
				p.killed = name
			}
			p.mu.Unlock()
			syscall.Kill(pid, syscall.SIGKILL)
			return syscall.EPERM
		}
		if e := syscall.Errno(uint32(p.refuse) & unix.SECCOMP_RET_DATA); e != 0 {
			return e
		}
		return syscall.EPERM
	})
}

// Signal passes signal s to the command, through the sandbox's init.
func (p *Process) Signal(s syscall.Signal) error {
	return syscall.Kill(p.Pid(), s)
}

// Wait waits for the command and returns its exit status, or 128+N when
// signal N killed it; a command killed for a refused syscall (seccomp
// kill mode) reports 128+SIGSYS.
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	if p.listener >= 0 {
		<-p.supervised
		unix.Close(p.listener)
	}
	ps := p.cmd.ProcessState
	if ps == nil {
		return ExitSetup, err
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ExitSetup, err
	}
	code := ExitSetup
	switch {
	case ws.Exited():
		code = ws.ExitStatus()
	case ws.Signaled():
		// The init itself was killed (by SIGKILL: it relays every other
		// signal it gets).
		code = exitSignalShift + int(ws.Signal())
	default:
		return ExitSetup, err
	}
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if killed != "" && code == exitSignalShift+int(syscall.SIGKILL) {
		code = exitSignalShift + int(syscall.SIGSYS)
	}
	return code, nil
}

// KilledFor returns the syscall whose refusal killed the command in
// seccomp kill mode, or "".
func (p *Process) KilledFor() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// forStage returns the part of pl the init stage acts on.
func (pl *Plan) forStage() (*stage.Spec, error) {
	ns := pl.Namespaces
	s := &stage.Spec{
		Command: pl.Command, Path: pl.Path, Env: pl.Env, Dir: pl.Dir,
		Mount: ns.Mount, PID: ns.PID, UTS: ns.UTS, Net: ns.Net, Hostname: ns.Hostname,
		LandlockABI: pl.Host.LandlockABI, HandledFS: uint64(pl.Landlock.WantedFS),
		HandledNet: uint64(pl.Landlock.WantedNet), Scoped: pl.Landlock.WantedScoped,
		UID: pl.Identity.UID, GID: pl.Identity.GID, Groups: pl.Identity.Groups, Switch: pl.Identity.Switch,
		DenyWriteExecute: pl.DenyWriteExecute, KeepFDs: pl.KeepFDs, SELinuxLabel: pl.SELinuxLabel,
	}
	for _, m := range pl.Mounts {
		s.Mounts = append(s.Mounts, stage.Mount{Op: m.Op, Path: m.Path, Writable: m.Writable, Dir: m.Dir})
	}
	for _, r := range pl.Landlock.Paths {
		if !r.Missing && r.Access != 0 {
			s.Paths = append(s.Paths, stage.PathRule{Path: r.Path, Access: uint64(r.Access)})
		}
	}
	for _, r := range pl.Landlock.Ports {
		s.Ports = append(s.Ports, stage.PortRule{Port: r.Port, Access: uint64(r.Access)})
	}
	if pl.Seccomp.Enabled {
		s.Seccomp = pl.Seccomp.Program
	}
	for _, name := range pl.Capabilities {
		n, ok := capNumber(name)
		if !ok {
			return nil, fmt.Errorf("unknown capability %s", name)
		}
		s.Capabilities = append(s.Capabilities, n)
	}
	for _, r := range pl.Rlimits {
		s.Rlimits = append(s.Rlimits, stage.Rlimit{Name: r.Name, Resource: r.Resource, Value: r.Value})
	}
	return s, nil
}

// stageCmd starts the init stage in its namespaces.
func stageCmd(pl *Plan, stdio Stdio, planR, ctl *os.File) (*exec.Cmd, error) {
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{"rampart-sandbox:" + pl.Compartment},
		// The stage is short-lived before it waits: no garbage
		// collection, no cgroup lookups for GOMAXPROCS.
		Env:    []string{stage.Env + "=" + stage.Version, "GOGC=off", "GODEBUG=containermaxprocs=0,updatemaxprocs=0"},
		Stdin:  stdio.Stdin,
		Stdout: stdio.Stdout,
		Stderr: stdio.Stderr,
	}
	cmd.ExtraFiles = []*os.File{planR, ctl}
	for _, fd := range pl.KeepFDs {
		// A duplicate, so that closing the *os.File leaves the caller's
		// descriptor alone.
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, &SetupError{ExitSetup, fmt.Sprintf("--keep-fd %d: %v", fd, err)}
		}
		f := os.NewFile(uintptr(d), "keep-fd-"+strconv.Itoa(fd))
		defer f.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	ns := pl.Namespaces
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	for _, x := range []struct {
		on   bool
		flag uintptr
	}{{ns.Mount, syscall.CLONE_NEWNS}, {ns.PID, syscall.CLONE_NEWPID}, {ns.IPC, syscall.CLONE_NEWIPC}, {ns.UTS, syscall.CLONE_NEWUTS}, {ns.Net, syscall.CLONE_NEWNET}} {
		if x.on {
			attr.Cloneflags |= x.flag
		}
	}
	if ns.User {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		uid, gid := pl.Host.UID, pl.Host.GID
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
		// The stage keeps the caller's uid inside the namespace, so it
		// needs ambient capabilities to keep its capabilities (in that
		// namespace) across its own execve: all of them, since it hands
		// the compartment's to the command.
		for c := 0; c < 64; c++ {
			if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0, 0); e != 0 {
				break
			}
			attr.AmbientCaps = append(attr.AmbientCaps, uintptr(c))
		}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EACCES) {
			return nil, &SetupError{ExitSetup, fmt.Sprintf("creating the sandbox's namespaces: %v (are user namespaces enabled? kernel.unprivileged_userns_clone, user.max_user_namespaces)", err)}
		}
		return nil, &SetupError{ExitSetup, "starting the init stage: " + err.Error()}
	}
	return cmd, nil
}
