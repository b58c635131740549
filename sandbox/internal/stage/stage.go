// Package stage is the part of rampart's sandboxes that runs before the
// Go runtime starts: a small C program (launch.c), linked into every
// binary that imports this package, whose constructor takes over the
// process when it was started as a launcher, as runc's nsexec does.
//
// Package sandbox plans a sandbox in Go and hands the result to the
// launcher as a launch record (record.go): it executes /proc/self/exe
// with the environment variable Env set, the record on RecordFD and a
// report socket on ReportFD. "rampart run" also finds records in the
// launch cache (cache.go): when its exact request was planned before and
// nothing the plan was built from has changed, the launcher runs the
// cached record without starting the Go runtime at all.
//
// The launcher (pid L) clones the init (pid 1 of the new pid namespace)
// into the record's namespaces, maps the caller's ids when there is a
// user namespace, relays signals to it and exits with its status. The
// init sets up the mounts, the loopback interface, the hostname and the
// resource limits, then starts the command: a child that shares its
// descriptor table until its execve (so that the init receives the
// seccomp listener without a syscall of the confined process) and
// confines itself (no_new_privs, memory-deny-write-execute, Landlock,
// identity and capabilities, seccomp last) before execve. The init then
// reaps orphans, relays signals, answers seccomp notifications when the
// record asks for refusal reports, and exits with the command's status.
package stage

import "syscall"

// Env marks a process as a launcher; its value is Version.
const Env = "_RAMPART_SANDBOX_STAGE"

// Version is the protocol version between package sandbox and the
// launcher (record format and reports).
const Version = "4"

// Descriptors of a launcher started by package sandbox.
const (
	RecordFD = 3 // the launch record; read to EOF
	ReportFD = 4 // report socket (SOCK_SEQPACKET) to package sandbox
	KeepFD   = 5 // first of the descriptors to keep
)

// Reports, one per message on ReportFD (with "rampart run" from the
// cache they go to standard error instead, as the Go command prints
// them).
const (
	// ReportStarted ("S"): the command's execve succeeded.
	ReportStarted = 'S'
	// ReportError ("E<code> <message>"): the sandbox could not be set
	// up; nothing ran; the launcher exits with code.
	ReportError = 'E'
	// ReportRefused ("R<text>"): a refused syscall ("refused syscall
	// ptrace (101) by pid 7"), with TagNotify only.
	ReportRefused = 'R'
	// ReportKilled ("K<name>"): the command was killed for refused
	// syscall name (TagNotify with the kill verdict).
	ReportKilled = 'K'
)

// Exit statuses for failures of the sandbox itself, as in a shell (and
// "docker run"); the command's own status passes through otherwise.
const (
	ExitSetup       = 125 // the sandbox could not be set up
	ExitCannotExec  = 126 // the command exists but cannot be executed
	ExitNotFound    = 127 // the command was not found
	ExitSignalShift = 128 // killed by signal N: 128+N
)

// Forwarded are the signals the launcher and the init relay to the
// command. Job control signals are not: the terminal sends them to the
// whole foreground process group, which the command is in.
var Forwarded = []syscall.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGALRM,
}

// Mount operations, in the order the init applies them.
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

// Spec is what the launcher does: the enforcing part of a sandbox.Plan.
type Spec struct {
	// Compartment names the sandbox in messages.
	Compartment string
	Command     []string
	Path        string
	Env         []string
	Dir         string

	// Namespaces to create; with User, the caller's HostUID and HostGID
	// are mapped to themselves.
	User, Mount, PID, IPC, UTS, Net bool
	HostUID, HostGID                int
	Hostname                        string
	Mounts                          []Mount

	// Landlock: the kernel's ABI, the rights handled on it, the rules.
	LandlockABI int
	HandledFS   uint64
	HandledNet  uint64
	Scoped      uint64
	Paths       []PathRule
	Ports       []PortRule

	// Seccomp is the BPF program (struct sock_filter layout), or nil.
	// With Notify, it sends refused syscalls to the init, which answers
	// Refuse and reports them; Names are the syscall names by number.
	Seccomp []byte
	Notify  bool
	Refuse  uint32
	Names   []string

	// Identity: set uid, gid and groups when Switch.
	UID    int
	GID    int
	Groups []int
	Switch bool
	// Capabilities are the capability numbers to keep.
	Capabilities     []int
	DenyWriteExecute bool
	Rlimits          []Rlimit
	KeepFDs          []int
	SELinuxLabel     string
}

// Mount is one mount operation.
type Mount struct {
	Op       string
	Path     string
	Writable bool
	Dir      bool
}

// PathRule grants Landlock filesystem rights on a path.
type PathRule struct {
	Path   string
	Access uint64
}

// PortRule grants Landlock network rights on a port.
type PortRule struct {
	Port   uint16
	Access uint64
}

// Rlimit is a resource limit set to Value (soft and hard).
type Rlimit struct {
	Name     string
	Resource int
	Value    uint64
}
