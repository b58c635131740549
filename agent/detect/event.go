package detect

import "time"

// Event is one audit event as detection rules see it: decoded, attributed
// to a compartment or role, with the accesses it makes and the policy's
// decision on each. It is the raw event — detection runs before the privacy
// filter — and is never written anywhere as it is.
//
// In CEL the event is the variable event, of type detect.Event; fields
// have the names in the cel tags. Numbers are int (CEL int) so that rules
// compare them with plain literals (event.proc.uid == 0). A field that
// does not apply is its zero value ("", 0, false, empty list).
type Event struct {
	// Serial is the audit event serial; Node the node= name (empty for
	// the local kernel).
	Serial int64  `cel:"serial"`
	Node   string `cel:"node"`
	// Time is the event's audit timestamp.
	Time time.Time `cel:"time"`
	// Type is the principal record type: SYSCALL when there is one, else
	// the first record's (USER_LOGIN, AVC, …). Records lists the types
	// of all records in arrival order.
	Type    string   `cel:"type"`
	Records []string `cel:"records"`
	// Syscall is the syscall name (execve, openat, connect…), "" for
	// events without a SYSCALL record. Success and Exit are its result
	// (Exit is the return value, a negative errno on failure); for
	// user-space messages Success is res=success.
	Syscall string `cel:"syscall"`
	Success bool   `cel:"success"`
	Exit    int64  `cel:"exit"`
	// Errno names a failed syscall's error (EACCES, EPERM…), "" on
	// success.
	Errno string `cel:"errno"`
	// Keys are the audit rule keys that matched (-k).
	Keys []string `cel:"keys"`
	// Argv is the program's argument list, for execve.
	Argv []string `cel:"argv"`
	// Subject is who did it: the attribution of Proc.
	Subject Subject `cel:"subject"`
	// Proc is the process image the event belongs to (for an execve, the
	// new image).
	Proc Process `cel:"proc"`
	// Prev is, for an execve, the image the exec replaced (the program
	// that called execve), when it was seen; empty otherwise.
	Prev Process `cel:"prev"`
	// Parent is the parent process (by fork, or the ppid's image).
	Parent Process `cel:"parent"`
	// Target is the process acted on by ptrace, kill, tkill or tgkill
	// (from the OBJ_PID record); empty otherwise.
	Target Process `cel:"target"`
	// Access lists the accesses the event makes, in policy terms, with
	// the policy's decision on each.
	Access []Access `cel:"access"`
	// Paths are the PATH records.
	Paths []Path `cel:"paths"`
	// Net is the socket address of connect, bind, accept, sendto…
	Net Net `cel:"net"`
	// AVC is the SELinux or AppArmor decision of an AVC record.
	AVC AVC `cel:"avc"`
	// Lost is the number of events lost, for the agent's loss events
	// (type RAMPART_LOSS); 0 otherwise.
	Lost int64 `cel:"lost"`
}

// Process is one program image of one process.
type Process struct {
	// Known is false when nothing is known of the process (the field
	// does not apply, or the process was never seen).
	Known bool  `cel:"known"`
	PID   int64 `cel:"pid"`
	PPID  int64 `cel:"ppid"`
	// UID, EUID and AUID are the real, effective and login uids; AUID is
	// 4294967295 when the process never logged in. Ses is the login
	// session (4294967295 for none).
	UID  int64 `cel:"uid"`
	EUID int64 `cel:"euid"`
	AUID int64 `cel:"auid"`
	Ses  int64 `cel:"ses"`
	// Exe is the executable's path, Comm the command name.
	Exe  string `cel:"exe"`
	Comm string `cel:"comm"`
	// ExecID is the stable identity of the image: "boot/pid/serial".
	ExecID string `cel:"exec_id"`
	// Label is the security label (subj=), when the kernel reports one.
	Label string `cel:"label"`
	// Subject is the process's attribution.
	Subject Subject `cel:"subject"`
}

// Subject is who a process acts for in the policy.
type Subject struct {
	// Kind is "compartment", "role", or "" when the process belongs to
	// neither (outside the policy).
	Kind string `cel:"kind"`
	// Name is the compartment's or role's name.
	Name string `cel:"name"`
	// Tier is a compartment's trust tier (untrusted, network-facing,
	// trusted, privileged); "" for roles.
	Tier string `cel:"tier"`
	// By says how the attribution was made: "label" (the SELinux domain
	// in subj=), "exe" (the executable is the compartment's), "parent"
	// (inherited from an ancestor in the same login session that runs a
	// compartment's executable), "session" (a login session of one of the
	// role's accounts), "login-uid" (the login uid is one of the role's
	// accounts).
	By string `cel:"by"`
	// Network reports a compartment that serves or is a client of a
	// network channel (one with remote peers).
	Network bool `cel:"network"`
}

// Access is one access an event makes, in the policy's terms.
type Access struct {
	// Verb is the policy verb: read, write, append, create, delete,
	// setattr, execute, connect, bind, signal, ptrace, spawn, or
	// "load-module"/"mount" for privileged operations (checked against
	// the compartment's capabilities).
	Verb string `cel:"verb"`
	// Path is the file or socket path; Port, Proto and Addr the network
	// endpoint (proto "tcp" — the audit record does not say whether a
	// socket is TCP or UDP; both are tried); Target the compartment acted
	// on (signal, ptrace, spawn).
	Path   string `cel:"path"`
	Port   int64  `cel:"port"`
	Proto  string `cel:"proto"`
	Addr   string `cel:"addr"`
	Target string `cel:"target"`
	// Object is the policy entity the access resolves to (a resource,
	// channel or compartment), "" when nothing in the policy governs it;
	// Kind is the object's kind (file, directory, tcp, unix, process…).
	Object string `cel:"object"`
	Kind   string `cel:"kind"`
	// Labels and Owner are the resource's labels and owner.
	Labels []string `cel:"labels"`
	Owner  string   `cel:"owner"`
	// Executable reports a path that is a program: a compartment's
	// executable, in a resource labelled executable, or a regular file
	// with an execute permission bit (from the PATH record's mode).
	Executable bool `cel:"executable"`
	// Actor is the subject that made the access: the event's subject,
	// except for an execve, made by the program that called it (the
	// replaced image or the parent).
	Actor Subject `cel:"actor"`
	// Checked is false when the actor is outside the policy (no
	// compartment or role): the access was not decided.
	Checked bool `cel:"checked"`
	// Allowed is the policy's decision; Reason explains it.
	Allowed bool   `cel:"allowed"`
	Reason  string `cel:"reason"`
	// Rule names what a denied access breaks: "invariant NAME" (a
	// deny_access, deny_spawn or deny_capability invariant that forbids
	// it), or "no grant" (no rule grants it).
	Rule string `cel:"rule"`
	// Invariants are the names of the invariants that forbid it.
	Invariants []string `cel:"invariants"`
	// Attempt is true when the kernel refused the access (the syscall
	// failed with EACCES or EPERM): it was attempted, not made.
	Attempt bool `cel:"attempt"`
}

// Path is one PATH record.
type Path struct {
	Name     string `cel:"name"`
	NameType string `cel:"nametype"`
	Mode     int64  `cel:"mode"`
	OUID     int64  `cel:"ouid"`
	Label    string `cel:"label"`
}

// Net is a decoded socket address.
type Net struct {
	// Family is "inet", "inet6", "unix", "netlink"…; "" when the event
	// has no socket address.
	Family string `cel:"family"`
	Addr   string `cel:"addr"`
	Port   int64  `cel:"port"`
	Path   string `cel:"path"`
	// Loopback reports a loopback IP address.
	Loopback bool `cel:"loopback"`
}

// AVC is an SELinux (or AppArmor) access decision.
type AVC struct {
	// Result is "denied" or "granted" (SELinux), or AppArmor's
	// apparmor= value; "" when the event has no AVC record.
	Result      string   `cel:"result"`
	Permissions []string `cel:"permissions"`
	Class       string   `cel:"class"`
	Source      string   `cel:"source"`
	Target      string   `cel:"target"`
	Name        string   `cel:"name"`
	Permissive  bool     `cel:"permissive"`
}
