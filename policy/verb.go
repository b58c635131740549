package policy

import (
	"fmt"
	"math/bits"
	"strings"
)

// Verb is an access verb: the unit in which the policy grants and denies
// access. The set is small and fixed; each verb has exactly one mapping to
// SELinux classes and permissions per object kind (see SELinuxPerms).
type Verb uint8

// The access verbs. The zero Verb is invalid.
const (
	// VerbRead reads file contents, lists directories and reads device data.
	VerbRead Verb = iota + 1
	// VerbWrite modifies existing objects (including truncation). Write
	// implies Append.
	VerbWrite
	// VerbAppend only appends to files (logs).
	VerbAppend
	// VerbCreate creates new objects (files, directories, device nodes,
	// socket files).
	VerbCreate
	// VerbDelete unlinks or renames away objects.
	VerbDelete
	// VerbSetattr changes attributes: mode, owner, timestamps.
	VerbSetattr
	// VerbIoctl issues ioctl requests.
	VerbIoctl
	// VerbExecute runs a file as a program (execve) without a domain
	// transition; transitions are granted by spawn blocks.
	VerbExecute
	// VerbMapExec maps file contents executable (mmap PROT_EXEC). On a
	// compartment object (only the subject itself) it means anonymous
	// executable memory (JIT; SELinux execmem).
	VerbMapExec
	// VerbConnect connects to a channel (unix socket, TCP/UDP port).
	VerbConnect
	// VerbBind binds a channel's address (unix socket path or port).
	VerbBind
	// VerbListen listens on and accepts from a bound channel.
	VerbListen
	// VerbSignal sends signals to a compartment's processes.
	VerbSignal
	// VerbPtrace traces or inspects a compartment's processes.
	VerbPtrace
	// VerbSpawn starts a compartment (a domain transition on exec). It is
	// granted only by spawn blocks and role enter lists, never by allow.
	VerbSpawn

	verbEnd // one past the last verb
)

var verbNames = [verbEnd]string{
	VerbRead:    "read",
	VerbWrite:   "write",
	VerbAppend:  "append",
	VerbCreate:  "create",
	VerbDelete:  "delete",
	VerbSetattr: "setattr",
	VerbIoctl:   "ioctl",
	VerbExecute: "execute",
	VerbMapExec: "map-exec",
	VerbConnect: "connect",
	VerbBind:    "bind",
	VerbListen:  "listen",
	VerbSignal:  "signal",
	VerbPtrace:  "ptrace",
	VerbSpawn:   "spawn",
}

// Verbs returns every verb in declaration order.
func Verbs() []Verb {
	vs := make([]Verb, 0, verbEnd-1)
	for v := VerbRead; v < verbEnd; v++ {
		vs = append(vs, v)
	}
	return vs
}

// String returns the verb's policy spelling, e.g. "map-exec".
func (v Verb) String() string {
	if v.Valid() {
		return verbNames[v]
	}
	return fmt.Sprintf("Verb(%d)", uint8(v))
}

// Valid reports whether v is one of the defined verbs.
func (v Verb) Valid() bool { return v >= VerbRead && v < verbEnd }

// MarshalText implements encoding.TextMarshaler.
func (v Verb) MarshalText() ([]byte, error) {
	if !v.Valid() {
		return nil, fmt.Errorf("invalid verb %d", uint8(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Verb) UnmarshalText(b []byte) error {
	p, err := ParseVerb(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// ParseVerb parses a verb's policy spelling.
func ParseVerb(s string) (Verb, error) {
	for v := VerbRead; v < verbEnd; v++ {
		if verbNames[v] == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown verb %q", s)
}

// VerbSet is a set of verbs as a bit mask (bit v set for verb v).
type VerbSet uint32

// NewVerbSet returns the set holding vs.
func NewVerbSet(vs ...Verb) VerbSet {
	var s VerbSet
	for _, v := range vs {
		s = s.Add(v)
	}
	return s
}

// Add returns s with v added.
func (s VerbSet) Add(v Verb) VerbSet { return s | 1<<v }

// Has reports whether v is in s.
func (s VerbSet) Has(v Verb) bool { return v.Valid() && s&(1<<v) != 0 }

// Len returns the number of verbs in s.
func (s VerbSet) Len() int { return bits.OnesCount32(uint32(s)) }

// Verbs returns the verbs of s in declaration order.
func (s VerbSet) Verbs() []Verb {
	var vs []Verb
	for v := VerbRead; v < verbEnd; v++ {
		if s.Has(v) {
			vs = append(vs, v)
		}
	}
	return vs
}

// String formats s as "{read,write}".
func (s VerbSet) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range s.Verbs() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v.String())
	}
	b.WriteByte('}')
	return b.String()
}

// Implied returns the verbs implied by s: s plus Append when s holds
// Write. Decisions use the implied set.
func (s VerbSet) Implied() VerbSet {
	if s.Has(VerbWrite) {
		s = s.Add(VerbAppend)
	}
	return s
}

// Kind is the kind of an object that verbs apply to. Resource kinds are the
// first five; the others are the kinds of channels and compartments.
type Kind uint8

// Object kinds. The zero Kind is invalid.
const (
	// KindFile is regular files (and symlinks to them).
	KindFile Kind = iota + 1
	// KindDirectory is directory trees: the matched directories and the
	// files inside them.
	KindDirectory
	// KindCharDevice is character device nodes.
	KindCharDevice
	// KindBlockDevice is block device nodes (disks, partitions).
	KindBlockDevice
	// KindSocket is socket files on the filesystem, as objects (creating,
	// deleting them). Connecting is done through a unix channel.
	KindSocket
	// KindUnix is a unix stream socket channel.
	KindUnix
	// KindTCP is a TCP channel.
	KindTCP
	// KindUDP is a UDP channel.
	KindUDP
	// KindVsock is a virtio socket channel between a VM and its host.
	KindVsock
	// KindProcess is a compartment as the target of signal, ptrace, spawn
	// and (on itself) map-exec.
	KindProcess

	kindEnd
)

var kindNames = [kindEnd]string{
	KindFile:        "file",
	KindDirectory:   "directory",
	KindCharDevice:  "char-device",
	KindBlockDevice: "block-device",
	KindSocket:      "socket",
	KindUnix:        "unix",
	KindTCP:         "tcp",
	KindUDP:         "udp",
	KindVsock:       "vsock",
	KindProcess:     "process",
}

// Kinds returns every kind in declaration order.
func Kinds() []Kind {
	ks := make([]Kind, 0, kindEnd-1)
	for k := KindFile; k < kindEnd; k++ {
		ks = append(ks, k)
	}
	return ks
}

// String returns the kind's policy spelling.
func (k Kind) String() string {
	if k >= KindFile && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// IsResource reports whether k may be the kind of a resource block.
func (k Kind) IsResource() bool { return k >= KindFile && k <= KindSocket }

// IsChannel reports whether k is a channel kind (unix, tcp, udp, vsock).
func (k Kind) IsChannel() bool { return k >= KindUnix && k <= KindVsock }

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// ParseKind parses a kind's spelling (any kind, not only resource kinds).
func ParseKind(s string) (Kind, error) {
	for k := KindFile; k < kindEnd; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q", s)
}

// Target says which SELinux type a ClassPerms applies to, relative to a
// grant "subject verb object".
type Target uint8

// Targets of a ClassPerms.
const (
	// TargetObject is the object's own type: the resource's file type, the
	// channel's socket-file type (unix) or port type (tcp/udp), or the
	// target compartment's domain for process kinds.
	TargetObject Target = iota + 1
	// TargetSelf is the subject's own domain (socket creation, execmem).
	TargetSelf
	// TargetParent is the type of the directory containing the object
	// (adding or removing a name). For directory trees the parent inside
	// the tree has the resource's own type.
	TargetParent
	// TargetPeer is the domain of the compartment serving a unix channel.
	TargetPeer
	// TargetExecutable is the file type of the target compartment's
	// executables (spawn).
	TargetExecutable
)

var targetNames = [...]string{TargetObject: "object", TargetSelf: "self", TargetParent: "parent", TargetPeer: "peer", TargetExecutable: "executable"}

// String returns "object", "self", "parent", "peer" or "executable".
func (t Target) String() string {
	if t >= TargetObject && int(t) < len(targetNames) {
		return targetNames[t]
	}
	return fmt.Sprintf("Target(%d)", uint8(t))
}

// ClassPerms is one SELinux class with a set of its permissions, applied to
// the type named by Target.
type ClassPerms struct {
	Class  string
	Perms  []string
	Target Target
}

func cp(t Target, class string, perms ...string) ClassPerms {
	return ClassPerms{Class: class, Perms: perms, Target: t}
}

// selinuxPerms returns the table entry for (v, k). It builds fresh slices
// on every call so that callers may keep or modify the result.
func selinuxPerms(v Verb, k Kind) []ClassPerms {
	const o, self, parent, peer, exe = TargetObject, TargetSelf, TargetParent, TargetPeer, TargetExecutable
	switch k {
	case KindFile:
		switch v {
		case VerbRead:
			return []ClassPerms{cp(o, "file", "getattr", "open", "read", "lock", "map")}
		case VerbWrite:
			return []ClassPerms{cp(o, "file", "getattr", "open", "write", "append", "lock")}
		case VerbAppend:
			return []ClassPerms{cp(o, "file", "getattr", "open", "append", "lock")}
		case VerbCreate:
			return []ClassPerms{cp(o, "file", "create", "getattr", "open"), cp(parent, "dir", "search", "write", "add_name")}
		case VerbDelete:
			return []ClassPerms{cp(o, "file", "getattr", "unlink", "rename"), cp(parent, "dir", "search", "write", "remove_name")}
		case VerbSetattr:
			return []ClassPerms{cp(o, "file", "getattr", "setattr")}
		case VerbIoctl:
			return []ClassPerms{cp(o, "file", "getattr", "ioctl")}
		case VerbExecute:
			return []ClassPerms{cp(o, "file", "getattr", "open", "read", "map", "execute", "execute_no_trans")}
		case VerbMapExec:
			return []ClassPerms{cp(o, "file", "getattr", "map", "execute")}
		}
	case KindDirectory:
		switch v {
		case VerbRead:
			return []ClassPerms{cp(o, "dir", "getattr", "open", "read", "search", "lock"), cp(o, "file", "getattr", "open", "read", "lock", "map"), cp(o, "lnk_file", "getattr", "read")}
		case VerbWrite:
			return []ClassPerms{cp(o, "dir", "getattr", "search"), cp(o, "file", "getattr", "open", "write", "append", "lock")}
		case VerbAppend:
			return []ClassPerms{cp(o, "dir", "getattr", "search"), cp(o, "file", "getattr", "open", "append", "lock")}
		case VerbCreate:
			return []ClassPerms{cp(o, "dir", "getattr", "search", "write", "add_name", "create"), cp(o, "file", "create", "getattr", "open"), cp(o, "lnk_file", "create", "getattr")}
		case VerbDelete:
			return []ClassPerms{cp(o, "dir", "getattr", "search", "write", "remove_name", "rmdir", "rename", "reparent"), cp(o, "file", "getattr", "unlink", "rename"), cp(o, "lnk_file", "getattr", "unlink", "rename")}
		case VerbSetattr:
			return []ClassPerms{cp(o, "dir", "getattr", "search", "setattr"), cp(o, "file", "getattr", "setattr")}
		case VerbIoctl:
			return []ClassPerms{cp(o, "dir", "getattr", "search", "ioctl"), cp(o, "file", "getattr", "ioctl")}
		case VerbExecute:
			return []ClassPerms{cp(o, "dir", "getattr", "search"), cp(o, "file", "getattr", "open", "read", "map", "execute", "execute_no_trans")}
		case VerbMapExec:
			return []ClassPerms{cp(o, "dir", "getattr", "search"), cp(o, "file", "getattr", "map", "execute")}
		}
	case KindCharDevice, KindBlockDevice:
		class := "chr_file"
		if k == KindBlockDevice {
			class = "blk_file"
		}
		switch v {
		case VerbRead:
			return []ClassPerms{cp(o, class, "getattr", "open", "read", "lock")}
		case VerbWrite:
			return []ClassPerms{cp(o, class, "getattr", "open", "write", "append", "lock")}
		case VerbAppend:
			return []ClassPerms{cp(o, class, "getattr", "open", "append", "lock")}
		case VerbCreate:
			return []ClassPerms{cp(o, class, "create", "getattr"), cp(parent, "dir", "search", "write", "add_name")}
		case VerbDelete:
			return []ClassPerms{cp(o, class, "getattr", "unlink"), cp(parent, "dir", "search", "write", "remove_name")}
		case VerbSetattr:
			return []ClassPerms{cp(o, class, "getattr", "setattr")}
		case VerbIoctl:
			return []ClassPerms{cp(o, class, "getattr", "ioctl")}
		case VerbMapExec:
			return []ClassPerms{cp(o, class, "getattr", "map", "execute")}
		}
	case KindSocket:
		switch v {
		case VerbRead:
			return []ClassPerms{cp(o, "sock_file", "getattr")}
		case VerbCreate:
			return []ClassPerms{cp(o, "sock_file", "create", "getattr"), cp(parent, "dir", "search", "write", "add_name")}
		case VerbDelete:
			return []ClassPerms{cp(o, "sock_file", "getattr", "unlink"), cp(parent, "dir", "search", "write", "remove_name")}
		case VerbSetattr:
			return []ClassPerms{cp(o, "sock_file", "getattr", "setattr")}
		}
	case KindUnix:
		switch v {
		case VerbConnect:
			return []ClassPerms{cp(o, "sock_file", "getattr", "write"), cp(peer, "unix_stream_socket", "connectto"), cp(self, "unix_stream_socket", "create", "connect", "getattr", "read", "write", "setopt", "shutdown")}
		case VerbBind:
			return []ClassPerms{cp(o, "sock_file", "create", "getattr", "setattr", "unlink"), cp(self, "unix_stream_socket", "create", "bind", "getattr", "setopt")}
		case VerbListen:
			return []ClassPerms{cp(self, "unix_stream_socket", "listen", "accept", "getattr", "read", "write", "shutdown")}
		}
	case KindTCP:
		switch v {
		case VerbConnect:
			return []ClassPerms{cp(o, "tcp_socket", "name_connect"), cp(self, "tcp_socket", "create", "connect", "getattr", "read", "write", "setopt", "shutdown")}
		case VerbBind:
			return []ClassPerms{cp(o, "tcp_socket", "name_bind"), cp(self, "tcp_socket", "create", "bind", "getattr", "setopt")}
		case VerbListen:
			return []ClassPerms{cp(self, "tcp_socket", "listen", "accept", "getattr", "read", "write", "shutdown")}
		}
	case KindUDP:
		switch v {
		case VerbConnect:
			return []ClassPerms{cp(self, "udp_socket", "create", "connect", "getattr", "read", "write", "setopt")}
		case VerbBind:
			return []ClassPerms{cp(o, "udp_socket", "name_bind"), cp(self, "udp_socket", "create", "bind", "getattr", "setopt")}
		case VerbListen:
			return []ClassPerms{cp(self, "udp_socket", "getattr", "read", "write")}
		}
	case KindVsock:
		switch v {
		case VerbConnect:
			return []ClassPerms{cp(self, "vsock_socket", "create", "connect", "getattr", "read", "write", "setopt", "shutdown")}
		case VerbBind:
			return []ClassPerms{cp(self, "vsock_socket", "create", "bind", "getattr", "setopt")}
		case VerbListen:
			return []ClassPerms{cp(self, "vsock_socket", "listen", "accept", "getattr", "read", "write", "shutdown")}
		}
	case KindProcess:
		switch v {
		case VerbSignal:
			return []ClassPerms{cp(o, "process", "signal", "sigchld", "sigkill", "sigstop", "signull")}
		case VerbPtrace:
			return []ClassPerms{cp(o, "process", "ptrace", "getattr")}
		case VerbSpawn:
			return []ClassPerms{cp(o, "process", "transition"), cp(exe, "file", "getattr", "open", "read", "map", "execute")}
		case VerbMapExec:
			return []ClassPerms{cp(self, "process", "execmem")}
		}
	}
	return nil
}

// SELinuxPerms returns the SELinux classes and permissions that granting v
// on an object of kind k means. It returns nil when v makes no sense for k
// (see ValidFor). The result is freshly allocated on every call.
func (v Verb) SELinuxPerms(k Kind) []ClassPerms { return selinuxPerms(v, k) }

// ValidFor reports whether v makes sense for objects of kind k.
func (v Verb) ValidFor(k Kind) bool {
	return v.Valid() && k > 0 && k < kindEnd && validVerbKind[v]&(1<<k) != 0
}

// validVerbKind[v] has bit k set when verb v applies to kind k: where the
// SELinux table has a row. Precomputed because decisions and the loader
// ask often.
var validVerbKind = func() (t [verbEnd]uint32) {
	for v := VerbRead; v < verbEnd; v++ {
		for k := KindFile; k < kindEnd; k++ {
			if selinuxPerms(v, k) != nil {
				t[v] |= 1 << k
			}
		}
	}
	return t
}()

// ValidKinds returns the kinds for which v makes sense.
func (v Verb) ValidKinds() []Kind {
	var ks []Kind
	for k := KindFile; k < kindEnd; k++ {
		if v.ValidFor(k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// VerbKind is a verb applied to a kind of object.
type VerbKind struct {
	Verb Verb
	Kind Kind
}

// VerbsForPerm maps an SELinux class and permission (as in an AVC denial)
// back to the (verb, kind) pairs whose mapping contains that permission,
// in verb order. An AVC for "file { write }" yields write and append on
// file and write on directory, for example; callers narrow it with the
// object's kind and the smallest verb.
func VerbsForPerm(class, perm string) []VerbKind {
	var out []VerbKind
	for v := VerbRead; v < verbEnd; v++ {
		for k := KindFile; k < kindEnd; k++ {
			for _, c := range selinuxPerms(v, k) {
				if c.Class != class {
					continue
				}
				found := false
				for _, p := range c.Perms {
					if p == perm {
						found = true
						break
					}
				}
				if found {
					out = append(out, VerbKind{v, k})
					break
				}
			}
		}
	}
	return out
}
