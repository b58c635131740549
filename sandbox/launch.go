package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
	// filter refuses ("rampart: refused syscall ptrace (101) by pid 7",
	// the pid as the sandbox's pid namespace sees it). It may be Stdout
	// or Stderr. Without it, the kernel refuses syscalls on its own;
	// with it, the filter hands them to the sandbox's init, which
	// refuses and reports them.
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
// (128+N when signal N killed it). A *SetupError means the command never
// started.
func Run(pl *Plan, stdio Stdio) (int, error) {
	sigs := make(chan os.Signal, 16)
	fwd := make([]os.Signal, len(stage.Forwarded))
	for i, s := range stage.Forwarded {
		fwd[i] = s
	}
	signal.Notify(sigs, fwd...)
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
	cmd     *exec.Cmd
	reports *os.File
	log     io.Writer
	done    chan struct{} // the reports are read to their end

	mu     sync.Mutex
	killed string // the syscall that got the command killed (kill verdict, with Refused)
}

// Pid returns the process id of the sandbox's launcher, which relays
// the signals it gets to the command and exits with its status.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Start starts the plan's command in its sandbox and returns once it
// runs, or with a *SetupError when the sandbox could not be set up (then
// nothing ran).
//
// The sandbox is set up by rampart's launcher (package
// sandbox/internal/stage), C code that takes over /proc/self/exe before
// the Go runtime starts: Start executes it with the plan's launch
// record. The launcher gets SIGKILL when the thread that started it exits
// (PR_SET_PDEATHSIG): the Go runtime never ends its threads, except one
// whose goroutine exits while locked to it (runtime.LockOSThread), so do
// not call Start from such a goroutine.
func Start(pl *Plan, stdio Stdio) (*Process, error) {
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
	spec, err := pl.forStage(stdio.Refused != nil)
	if err != nil {
		return nil, &SetupError{ExitSetup, "sandbox setup: " + err.Error()}
	}
	record, err := spec.Encode(false)
	if err != nil {
		return nil, &SetupError{ExitSetup, "sandbox setup: " + err.Error()}
	}
	rec, err := recordFile(record)
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: report socket: %w", err)
	}
	reports := os.NewFile(uintptr(sp[0]), "sandbox-reports")
	child := os.NewFile(uintptr(sp[1]), "sandbox-reports")
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"rampart-sandbox:" + pl.Compartment},
		Env:         []string{stage.Env + "=" + stage.Version},
		Stdin:       stdio.Stdin,
		Stdout:      stdio.Stdout,
		Stderr:      stdio.Stderr,
		ExtraFiles:  []*os.File{rec, child},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	for _, fd := range pl.KeepFDs {
		// A duplicate, so that closing the *os.File leaves the caller's
		// descriptor alone.
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			reports.Close()
			child.Close()
			return nil, &SetupError{ExitSetup, fmt.Sprintf("--keep-fd %d: %v", fd, err)}
		}
		f := os.NewFile(uintptr(d), "keep-fd-"+strconv.Itoa(fd))
		defer f.Close()
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	err = cmd.Start()
	child.Close()
	if err != nil {
		reports.Close()
		return nil, &SetupError{ExitSetup, "sandbox setup: starting the launcher: " + err.Error()}
	}
	p := &Process{cmd: cmd, reports: reports, log: stdio.Refused, done: make(chan struct{})}
	// fail ends a launch that did not start the command.
	fail := func(e *SetupError) (*Process, error) {
		reports.Close()
		close(p.done)
		if cmd.ProcessState == nil {
			cmd.Process.Kill() // it is ending, or must
			cmd.Wait()
		}
		return nil, e
	}
	buf := make([]byte, 4096)
	for {
		n, err := reports.Read(buf)
		if err != nil || n == 0 {
			// The launcher ended without a word.
			cmd.Wait()
			return fail(&SetupError{ExitSetup, "sandbox setup: the launcher ended: " + cmd.ProcessState.String()})
		}
		msg := string(buf[:n])
		switch msg[0] {
		case stage.ReportStarted:
			go p.readReports()
			return p, nil
		case stage.ReportError:
			// "E125 message"
			code, text := ExitSetup, msg[1:]
			if c, rest, ok := strings.Cut(text, " "); ok {
				if n, err := strconv.Atoi(c); err == nil {
					code, text = n, rest
				}
			}
			return fail(&SetupError{code, text})
		case stage.ReportRefused, stage.ReportKilled:
			p.report(msg)
		default:
			return fail(&SetupError{ExitSetup, fmt.Sprintf("sandbox setup: unexpected report %q from the launcher", msg)})
		}
	}
}

// recordFile returns a memory file (close-on-exec) holding record, to be
// read from its start.
func recordFile(record []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("rampart-launch-record", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sandbox: launch record: %w", err)
	}
	f := os.NewFile(uintptr(fd), "launch-record")
	if _, err := f.Write(record); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox: launch record: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox: launch record: %w", err)
	}
	return f, nil
}

// readReports passes the launcher's reports on until it ends.
func (p *Process) readReports() {
	defer close(p.done)
	defer p.reports.Close()
	buf := make([]byte, 4096)
	for {
		n, err := p.reports.Read(buf)
		if err != nil || n == 0 {
			return
		}
		p.report(string(buf[:n]))
	}
}

func (p *Process) report(msg string) {
	switch msg[0] {
	case stage.ReportRefused:
		if p.log != nil {
			fmt.Fprintf(p.log, "rampart: %s\n", msg[1:])
		}
	case stage.ReportKilled:
		p.mu.Lock()
		if p.killed == "" {
			p.killed = msg[1:]
		}
		p.mu.Unlock()
	}
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

// Signal passes signal s to the command, through the launcher and the
// sandbox's init.
func (p *Process) Signal(s syscall.Signal) error {
	return syscall.Kill(p.Pid(), s)
}

// Wait waits for the command and returns its exit status, or 128+N when
// signal N killed it; a command killed for a refused syscall (seccomp
// kill verdict) reports 128+SIGSYS.
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	<-p.done
	ps := p.cmd.ProcessState
	if ps == nil {
		return ExitSetup, err
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ExitSetup, err
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus(), nil
	case ws.Signaled():
		// The launcher itself was killed (it relays every other signal
		// it gets).
		return exitSignalShift + int(ws.Signal()), nil
	}
	return ExitSetup, err
}

// KilledFor returns the syscall whose refusal killed the command (with
// the kill verdict and Stdio.Refused set), or "".
func (p *Process) KilledFor() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// forStage returns the part of pl the launcher acts on. With notify, the
// seccomp filter hands refused syscalls to the sandbox's init, which
// refuses and reports them.
func (pl *Plan) forStage(notify bool) (*stage.Spec, error) {
	ns := pl.Namespaces
	s := &stage.Spec{
		Compartment: pl.Compartment,
		Command:     pl.Command, Path: pl.Path, Env: pl.Env, Dir: pl.Dir,
		User: ns.User, Mount: ns.Mount, PID: ns.PID, IPC: ns.IPC, UTS: ns.UTS, Net: ns.Net, Hostname: ns.Hostname,
		HostUID: pl.Host.UID, HostGID: pl.Host.GID,
		LandlockABI: pl.Host.LandlockABI, HandledFS: uint64(pl.Landlock.HandledFS),
		HandledNet: uint64(pl.Landlock.HandledNet), Scoped: pl.Landlock.HandledScoped,
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
	switch {
	case pl.Seccomp.Enabled && !notify:
		s.Seccomp = pl.Seccomp.Program // as Build compiled it
	case pl.Seccomp.Enabled:
		prog, arch, err := pl.seccompProgram(true)
		if err != nil {
			return nil, err
		}
		s.Seccomp, s.Notify, s.Refuse = prog, true, pl.Seccomp.RefuseAction
		s.Names = make([]string, arch.MaxNumber()+1)
		for nr := range s.Names {
			s.Names[nr] = arch.SyscallName(nr)
		}
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

// seccompProgram compiles the plan's syscall filter again; with notify,
// refused syscalls go to the filter's listener.
func (pl *Plan) seccompProgram(notify bool) ([]byte, *seccomp.Arch, error) {
	sc := &pl.Seccomp
	arch, err := seccomp.ArchFor(runtime.GOARCH)
	if err != nil {
		return nil, nil, err
	}
	if arch.Name != sc.Arch {
		return nil, nil, fmt.Errorf("seccomp: the plan is for %s, this is %s", sc.Arch, arch.Name)
	}
	spec := &seccomp.Spec{
		Arch: arch, Names: sc.Syscalls, Refuse: seccomp.Action(sc.RefuseAction),
		RestrictNamespaces: sc.RestrictNamespaces, DenyMPTCP: sc.DenyMPTCP, DenyVsock: sc.DenyVsock,
		DenyTIOCSTI: sc.DenyTIOCSTI, Notify: notify,
	}
	// The launcher's last syscall under the filter is the command's
	// execve; refused, the command could never start (and, with
	// refusal reports, would wait for an init that waits for it).
	// @default, part of every allowlist, allows it.
	switch sc.Mode {
	case "allowlist":
		spec.Mode = seccomp.Allowlist
		if !slices.Contains(sc.Syscalls, "execve") {
			return nil, nil, fmt.Errorf("seccomp: the filter refuses execve: the command could not start")
		}
	case "denylist":
		spec.Mode = seccomp.Denylist
		if slices.Contains(sc.Syscalls, "execve") {
			return nil, nil, fmt.Errorf("seccomp: the filter refuses execve: the command could not start")
		}
	default:
		return nil, nil, fmt.Errorf("seccomp: unknown mode %q", sc.Mode)
	}
	prog, err := spec.Program()
	if err != nil {
		return nil, nil, err
	}
	return seccomp.Encode(prog), arch, nil
}

// LaunchRecord returns the plan as the launcher's record for "rampart
// run" itself (the descriptors to keep are where the caller has them),
// for the launch cache. With logRefused, refused syscalls are reported
// on standard error.
func (pl *Plan) LaunchRecord(logRefused bool) ([]byte, error) {
	spec, err := pl.forStage(logRefused)
	if err != nil {
		return nil, err
	}
	return spec.Encode(true)
}

// Exec replaces the calling process with the sandbox's launcher, which
// runs the plan's command with the process's own standard streams and
// descriptors to keep, reports setup failures and refused syscalls (when
// the record reports them) on standard error as "rampart run" prints
// them, relays signals, and exits with the command's status. record is
// pl.LaunchRecord's (which the launch cache stores too). Exec returns
// only when the launcher could not be executed. This is how "rampart
// run" starts a sandbox: with no Go process left waiting, the command's
// signals and exit status go through the launcher alone, as from the
// launch cache.
func Exec(pl *Plan, record []byte) error {
	f, err := recordFile(record)
	if err != nil {
		return err
	}
	defer f.Close()
	// The launcher's copy of the record's descriptor must survive the
	// execve and stay clear of the ones to keep, which stay where they
	// are and must survive it too.
	low := 3
	for _, k := range pl.KeepFDs {
		low = max(low, k+1)
		if _, err := unix.FcntlInt(uintptr(k), unix.F_SETFD, 0); err != nil {
			return &SetupError{ExitSetup, fmt.Sprintf("--keep-fd %d: %v", k, err)}
		}
	}
	rfd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD, low)
	if err != nil {
		return fmt.Errorf("sandbox: launch record: %w", err)
	}
	defer unix.Close(rfd)
	env := []string{stage.Env + "=" + stage.Version + ",cli," + strconv.Itoa(rfd)}
	if err := syscall.Exec("/proc/self/exe", os.Args, env); err != nil {
		return &SetupError{ExitSetup, "sandbox setup: executing the launcher: " + err.Error()}
	}
	return nil
}
