// Package ingest turns what a node recorded — raw audit.log files, or the
// events the Rampart agent wrote to its ledger — into the provenance graph
// of package graph.
//
// Both sources are read into the same Event type: one system call (or
// login) of one process image, with the descriptors, paths and addresses
// it used. A Mapper then replays Events in causal order: it keeps every
// process's descriptor table (inherited at fork, kept across exec without
// the close-on-exec ones), resolves reads and writes to the files,
// pipes and sockets behind the descriptors, and adds the edges to a
// graph.Builder.
package ingest

import (
	"strconv"
)

// Call is what an Event did, as far as provenance is concerned.
type Call uint8

// Calls. The comment says which Event fields each uses.
const (
	CallOther      Call = iota // anything else: the process is seen, nothing flows
	CallOpen                   // open, openat, creat: Path, Flags (O_*), Ret = descriptor
	CallRead                   // read family: FD, Ret = bytes
	CallWrite                  // write family: FD, Ret = bytes
	CallRecv                   // recvfrom, recvmsg: FD, Addr (optional), Ret = bytes
	CallSend                   // sendto, sendmsg: FD, Addr (optional), Ret = bytes
	CallClose                  // close: FD
	CallDup                    // dup, dup2, dup3, fcntl(F_DUPFD): FD = old, Ret = new
	CallPipe                   // pipe, pipe2: FD, FD2 = the two ends
	CallSocketpair             // socketpair: FD, FD2
	CallSocket                 // socket: Ret = descriptor
	CallConnect                // connect: FD, Addr
	CallBind                   // bind: FD, Addr
	CallAccept                 // accept, accept4: FD = listening, Ret = new, Addr = peer
	CallMmap                   // mmap: FD, Prot (PROT_*), Flags (MAP_*)
	CallExec                   // execve, execveat: Proc is the new image; Path the program, Paths2 interpreters
	CallFork                   // fork, vfork, clone, clone3: Ret = child pid, Flags = clone flags
	CallExit                   // exit, exit_group
	CallRename                 // rename family: Path → Path2
	CallLink                   // link, linkat: Path → Path2
	CallSymlink                // symlink: Path2 is the new link, Path its target (text)
	CallUnlink                 // unlink, unlinkat, rmdir: Path
	CallTruncate               // truncate: Path
	CallFtruncate              // ftruncate: FD
	CallSetattr                // chmod, chown, setxattr … by path: Path
	CallFsetattr               // fchmod, fchown, fsetxattr: FD
	CallSetuid                 // setuid family: UID = the new effective uid
	CallPtrace                 // ptrace: Target = traced pid
	CallKill                   // kill, tkill, tgkill: Target
	CallSendfile               // sendfile, splice, copy_file_range, tee: FD = in, FD2 = out, Ret = bytes
	CallMemfd                  // memfd_create: Ret = descriptor, Path = "memfd:NAME"
	CallLogin                  // a login or session start (USER_LOGIN, USER_START, LOGIN): Login
	numCalls
)

var callNames = [...]string{"other", "open", "read", "write", "recv", "send", "close", "dup", "pipe", "socketpair",
	"socket", "connect", "bind", "accept", "mmap", "exec", "fork", "exit", "rename", "link", "symlink", "unlink",
	"truncate", "ftruncate", "setattr", "fsetattr", "setuid", "ptrace", "kill", "sendfile", "memfd", "login"}

// String names the call.
func (c Call) String() string {
	if int(c) < len(callNames) {
		return callNames[c]
	}
	return "call(" + strconv.Itoa(int(c)) + ")"
}

// Open flags and mmap flags the Mapper reads (Linux, all architectures
// Rampart supports).
const (
	oAccMode  = 0x3
	oWronly   = 0x1
	oRdwr     = 0x2
	oCreat    = 0x40
	oTrunc    = 0x200
	oCloexec  = 0x80000
	protWrite = 0x2
	protExec  = 0x4
	mapShared = 0x1
	atFDCWD   = -100
)

// Event is one system call or login of one process image. Time is the
// wall clock (Unix ns); Stream and Serial order events causally: within
// a stream (one kernel boot of one node), by serial.
type Event struct {
	Time   int64
	Stream uint32
	Serial uint64
	Proc   *Proc
	Call   Call
	// Syscall is the system call's name, for reports.
	Syscall string
	Failed  bool
	Errno   int // the error number of a failed call

	FD, FD2 int32 // descriptors (see Call); -1 if none
	Ret     int64 // the return value when it is not an error
	Flags   uint64
	Prot    uint32
	// DirFD is the directory descriptor a relative Path is relative to
	// (openat with a descriptor other than AT_FDCWD), else -100.
	DirFD int32
	// Path and Path2 are absolute paths (or relative to DirFD).
	Path, Path2 string
	// Interps are the other files an exec loads (script interpreter,
	// dynamic loader).
	Interps []string
	// Addr is the socket address (audit.SockAddr.String form).
	Addr string
	// Created is set when an open created the file (O_CREAT on a new
	// name).
	Created bool
	// ChildKey is, for a fork, the exec identity the child's first image
	// will have.
	ChildKey string
	// Target is the pid of the process a ptrace or kill acted on.
	Target int
	// UID is the effective uid after a setuid-family call.
	UID uint32
	// Login describes a session start.
	Login *Login
	// Labels are labels the source attached to the object (the agent
	// labels resources by the policy: secret, integrity-critical…).
	Labels []string
}

// Login describes a login or the start of a session.
type Login struct {
	Session  uint32
	AUID     uint32
	Account  string
	Address  string
	Terminal string
	Via      string // the program reporting it (sshd, login, cron)
}

// Proc is one program image of one process, as the source identified it.
type Proc struct {
	// Key is the exec identity: "boot/pid/serial" (package audit's
	// ExecID), or the agent's.
	Key    string
	Stream uint32
	PID    int
	PPID   int
	// Parent is the image that forked this process, Prev the image this
	// one replaced by exec; nil when not observed.
	Parent, Prev *Proc
	// Forked is set when the fork itself was observed (rather than the
	// parent being inferred from the ppid).
	Forked bool
	Exe    string
	Comm   string
	Argv   []string
	UID    uint32
	EUID   uint32
	AUID   uint32
	Ses    uint32
	// User names the login user when the input has no number for it (a
	// ledger's pseudonym of the auid).
	User string
	// Compartment and Role are the agent's attribution, when known.
	Compartment string
	Role        string
	Host        string

	node  uint32  // 1 + the node id owner gave it, 0 if none yet
	owner *Mapper // the Mapper whose node it is
}

// unset is the kernel's value for an unset auid or session.
const unset = 4294967295
