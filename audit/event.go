package audit

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// Completion says why the reassembler considered an event complete.
type Completion uint8

// Completion reasons.
const (
	CompleteEOE        Completion = iota + 1 // the EOE record arrived
	CompleteStandalone                       // a record type that is an event on its own
	CompleteTimeout                          // no EOE within the timeout
	CompleteEvicted                          // pushed out by the in-flight limit
	CompleteFlushed                          // Flush at the end of the input
)

var completionNames = [...]string{"", "eoe", "standalone", "timeout", "evicted", "flushed"}

// String names the completion reason.
func (c Completion) String() string {
	if int(c) < len(completionNames) {
		return completionNames[c]
	}
	return "completion(" + strconv.Itoa(int(c)) + ")"
}

// Event is the records of one event (one stamp and node) with helpers that
// read the usual facts out of them. Helpers look in the record where the
// kernel puts a fact (SYSCALL for pid/uid/exe, CWD, PATH, EXECVE, …) and
// fall back to the first record that has the field (user-space messages
// carry pid/uid/auid/ses themselves).
type Event struct {
	Stamp   Stamp
	Node    string
	Records []*Record  // in arrival order, without the EOE record
	How     Completion // why the event was considered complete
	EOE     bool       // the event's EOE record was seen
	// Late is set for records that arrived after their event had already
	// been completed (or its serial declared lost): they are delivered as
	// an event of their own rather than dropped.
	Late bool
}

// Type returns the type of the event's principal record: SYSCALL if there
// is one, else the first record's type.
func (e *Event) Type() RecordType {
	if e.First(TypeSyscall) != nil {
		return TypeSyscall
	}
	if len(e.Records) > 0 {
		return e.Records[0].Type
	}
	return 0
}

// First returns the first record of type t, or nil.
func (e *Event) First(t RecordType) *Record {
	for _, r := range e.Records {
		if r.Type == t {
			return r
		}
	}
	return nil
}

// All returns the records of type t.
func (e *Event) All(t RecordType) []*Record {
	var out []*Record
	for _, r := range e.Records {
		if r.Type == t {
			out = append(out, r)
		}
	}
	return out
}

// lookup finds key in the SYSCALL record, else in the first record having
// it.
func (e *Event) lookup(key string) (*Record, bool) {
	if s := e.First(TypeSyscall); s != nil && s.Has(key) {
		return s, true
	}
	for _, r := range e.Records {
		if r.Has(key) {
			return r, true
		}
	}
	return nil, false
}

// Get returns the decoded value of key from the SYSCALL record or the first
// record that has it.
func (e *Event) Get(key string) (string, bool) {
	r, ok := e.lookup(key)
	if !ok {
		return "", false
	}
	return r.Get(key)
}

func (e *Event) uintField(key string) (uint64, bool) {
	r, ok := e.lookup(key)
	if !ok {
		return 0, false
	}
	return r.Uint(key)
}

// Unset is the value of auid and ses for a process that never logged in
// ((uid_t)-1, printed as 4294967295).
const Unset = 4294967295

// PID returns the pid of the process that caused the event.
func (e *Event) PID() (int, bool) { n, ok := e.uintField("pid"); return int(n), ok }

// PPID returns the parent pid recorded in the SYSCALL record.
func (e *Event) PPID() (int, bool) { n, ok := e.uintField("ppid"); return int(n), ok }

// UID returns the real uid.
func (e *Event) UID() (uint32, bool) { n, ok := e.uintField("uid"); return uint32(n), ok }

// EUID returns the effective uid.
func (e *Event) EUID() (uint32, bool) { n, ok := e.uintField("euid"); return uint32(n), ok }

// GID returns the real gid.
func (e *Event) GID() (uint32, bool) { n, ok := e.uintField("gid"); return uint32(n), ok }

// AUID returns the login uid (Unset if the process never logged in).
func (e *Event) AUID() (uint32, bool) { n, ok := e.uintField("auid"); return uint32(n), ok }

// Session returns the login session id (Unset if none).
func (e *Event) Session() (uint32, bool) { n, ok := e.uintField("ses"); return uint32(n), ok }

// Exe returns the executable path (decoded).
func (e *Event) Exe() (string, bool) { return e.Get("exe") }

// Comm returns the command name (decoded).
func (e *Event) Comm() (string, bool) { return e.Get("comm") }

// Subject returns the security label of the process (subj=), e.g.
// "system_u:system_r:sshd_t:s0" or an AppArmor profile.
func (e *Event) Subject() (string, bool) { return e.Get("subj") }

// Cwd returns the working directory from the CWD record.
func (e *Event) Cwd() (string, bool) {
	if r := e.First(TypeCwd); r != nil {
		return r.Get("cwd")
	}
	return "", false
}

// Keys returns the rule keys that matched (key=), split at the 0x01
// separator the kernel uses between several keys; nil for key=(null).
func (e *Event) Keys() []string {
	r, ok := e.lookup("key")
	if !ok {
		return nil
	}
	v, _, _ := r.Raw("key")
	if string(v) == "(null)" || len(v) == 0 {
		return nil
	}
	k, _ := r.Get("key")
	return strings.Split(k, "\x01")
}

// Arch returns the architecture of the syscall.
func (e *Event) Arch() (Arch, bool) {
	r := e.First(TypeSyscall)
	if r == nil {
		r = e.First(TypeSeccomp)
	}
	if r == nil {
		return 0, false
	}
	a, ok := r.HexUint("arch")
	return Arch(a), ok
}

// SyscallNumber returns the syscall number of the SYSCALL record.
func (e *Event) SyscallNumber() (int, bool) {
	r := e.First(TypeSyscall)
	if r == nil {
		return 0, false
	}
	n, ok := r.Uint("syscall")
	return int(n), ok
}

// SyscallName returns the syscall's name (x86_64 and aarch64), falling back
// to the SYSCALL= enrichment field and then to the number.
func (e *Event) SyscallName() string {
	n, ok := e.SyscallNumber()
	if !ok {
		return ""
	}
	a, _ := e.Arch()
	if name := SyscallName(a, n); name != "" {
		return name
	}
	if r := e.First(TypeSyscall); r != nil {
		if name, ok := r.Enriched("SYSCALL"); ok {
			return name
		}
	}
	return strconv.Itoa(n)
}

// Success reports the syscall's success=yes/no, or for user-space messages
// res=success/failed (or 1/0).
func (e *Event) Success() (bool, bool) {
	if r := e.First(TypeSyscall); r != nil {
		if v, ok := r.Get("success"); ok {
			return v == "yes", true
		}
	}
	v, ok := e.Get("res")
	if !ok {
		return false, false
	}
	return v == "success" || v == "1" || v == "yes", true
}

// Exit returns the syscall's return value (negative errno on failure).
func (e *Event) Exit() (int64, bool) {
	r := e.First(TypeSyscall)
	if r == nil {
		return 0, false
	}
	return r.Int("exit")
}

// Path is one PATH record: a file the syscall touched.
type Path struct {
	Item     int    // item=: index among the event's paths
	Name     string // name= (decoded); may be relative to Cwd
	NameType string // nametype=: NORMAL, PARENT, CREATE, DELETE, UNKNOWN
	Inode    uint64
	Dev      string // major:minor
	Mode     uint32 // st_mode (octal in the record)
	OUID     uint32
	OGID     uint32
	Obj      string // obj=: the object's security label
}

// Paths returns the PATH records in item order.
func (e *Event) Paths() []Path {
	var out []Path
	for _, r := range e.All(TypePath) {
		var p Path
		n, _ := r.Uint("item")
		p.Item = int(n)
		p.Name, _ = r.Get("name")
		p.NameType, _ = r.Get("nametype")
		if p.NameType == "" {
			p.NameType, _ = r.Get("objtype")
		}
		p.Inode, _ = r.Uint("inode")
		p.Dev, _ = r.Get("dev")
		if m, ok := r.Bytes("mode"); ok {
			v, _ := strconv.ParseUint(string(m), 8, 32)
			p.Mode = uint32(v)
		}
		u, _ := r.Uint("ouid")
		p.OUID = uint32(u)
		g, _ := r.Uint("ogid")
		p.OGID = uint32(g)
		p.Obj, _ = r.Get("obj")
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Item < out[j].Item })
	return out
}

// Argv returns the execve arguments, reassembled from all EXECVE records of
// the event: plain aN fields and arguments the kernel split into aN[i]
// chunks with aN_len (long arguments, possibly across several records).
// complete is false if argc or a chunk length does not match what arrived.
func (e *Event) Argv() (argv []string, complete bool) {
	recs := e.All(TypeExecve)
	if len(recs) == 0 {
		return nil, false
	}
	type arg struct {
		whole  []byte
		chunks map[int][]byte
		length int
		hasLen bool
		seen   bool
	}
	args := map[int]*arg{}
	get := func(n int) *arg {
		a := args[n]
		if a == nil {
			a = &arg{}
			args[n] = a
		}
		return a
	}
	argc := -1
	for _, r := range recs {
		for i := range r.fields {
			f := &r.fields[i]
			k := r.key(f)
			if string(k) == "argc" {
				if n, ok := parseUint(r.text[f.v0:f.v1]); ok {
					argc = int(n)
				}
				continue
			}
			if len(k) < 2 || k[0] != 'a' {
				continue
			}
			j := 1
			for j < len(k) && k[j] >= '0' && k[j] <= '9' {
				j++
			}
			n, ok := parseUint(k[1:j])
			if !ok || n >= maxArgs {
				continue
			}
			rest := k[j:]
			switch {
			case len(rest) == 0:
				a := get(int(n))
				a.whole, a.seen = r.value(f), true
			case string(rest) == "_len":
				a := get(int(n))
				if l, ok := parseUint(r.text[f.v0:f.v1]); ok {
					a.length, a.hasLen = int(l), true
				}
			case rest[0] == '[' && rest[len(rest)-1] == ']':
				idx, ok := parseUint(rest[1 : len(rest)-1])
				if !ok {
					continue
				}
				a := get(int(n))
				if a.chunks == nil {
					a.chunks = map[int][]byte{}
				}
				a.chunks[int(idx)] = r.value(f)
				a.seen = true
			}
		}
	}
	n := 0
	for k := range args {
		n = max(n, k+1)
	}
	// argc must match the arguments that arrived; it is not trusted for
	// the allocation
	complete = argc >= 0 && argc == n
	argv = make([]string, n)
	for i := range n {
		a := args[i]
		if a == nil || !a.seen {
			complete = false
			continue
		}
		if a.chunks == nil {
			argv[i] = string(a.whole)
			continue
		}
		var buf bytes.Buffer
		for c := 0; c < len(a.chunks); c++ {
			part, ok := a.chunks[c]
			if !ok {
				complete = false
				break
			}
			buf.Write(part)
		}
		if a.hasLen && buf.Len() != a.length {
			complete = false
		}
		argv[i] = buf.String()
	}
	return argv, complete
}

// maxArgs bounds the argument index Argv accepts (the kernel's limit is
// far higher, but no real command line comes near).
const maxArgs = 1 << 17

// CommandLine returns the execve arguments joined with spaces.
func (e *Event) CommandLine() string {
	argv, _ := e.Argv()
	return strings.Join(argv, " ")
}

// Proctitle returns the decoded PROCTITLE (the process's command line as
// the kernel saw it, at most 128 bytes) with the NUL separators between
// arguments turned into spaces.
func (e *Event) Proctitle() (string, bool) {
	args, ok := e.ProctitleArgs()
	if !ok {
		return "", false
	}
	return strings.Join(args, " "), true
}

// ProctitleArgs returns the decoded PROCTITLE split at its NUL bytes.
func (e *Event) ProctitleArgs() ([]string, bool) {
	r := e.First(TypeProctitle)
	if r == nil {
		return nil, false
	}
	v, ok := r.Bytes("proctitle")
	if !ok {
		return nil, false
	}
	v = bytes.TrimRight(v, "\x00")
	parts := bytes.Split(v, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out, true
}

// Sockaddr decodes the event's SOCKADDR record (saddr=), using the
// syscall's architecture for the byte order of the address family.
func (e *Event) Sockaddr() (SockAddr, bool) {
	r := e.First(TypeSockaddr)
	if r == nil {
		return SockAddr{}, false
	}
	raw, _, ok := r.Raw("saddr")
	if !ok || !isHex(raw) {
		return SockAddr{}, false
	}
	a, haveArch := e.Arch()
	order := orderUnknown
	if haveArch {
		order = orderBig
		if a.LittleEndian() {
			order = orderLittle
		}
	}
	return decodeSockaddr(decodeHex(raw), order), true
}

// AVC is a decoded access-vector-cache (SELinux) or AppArmor decision.
type AVC struct {
	LSM         string   // "selinux" or "apparmor"
	Result      string   // denied/granted (SELinux), DENIED/ALLOWED/STATUS/… (AppArmor)
	Permissions []string // SELinux { … } permissions, or AppArmor requested_mask
	SContext    string   // SELinux source context, or AppArmor profile
	TContext    string   // SELinux target context, or AppArmor peer
	TClass      string   // SELinux target class
	Operation   string   // AppArmor operation
	Name        string   // object name, when given
	Permissive  bool     // SELinux permissive=1: logged but not enforced
}

// AVC returns the event's first AVC or USER_AVC decision.
func (e *Event) AVC() (AVC, bool) {
	r := e.First(TypeAVC)
	if r == nil {
		r = e.First(TypeUserAVC)
	}
	if r == nil {
		return AVC{}, false
	}
	var a AVC
	if res, ok := r.Get("seresult"); ok {
		a.LSM = "selinux"
		a.Result = res
		if p, ok := r.Get("seperms"); ok {
			a.Permissions = strings.Fields(p)
		}
		a.SContext, _ = r.Get("scontext")
		a.TContext, _ = r.Get("tcontext")
		a.TClass, _ = r.Get("tclass")
		a.Name, _ = r.Get("name")
		p, _ := r.Get("permissive")
		a.Permissive = p == "1"
		return a, true
	}
	if res, ok := r.Get("apparmor"); ok {
		a.LSM = "apparmor"
		a.Result = res
		a.Operation, _ = r.Get("operation")
		a.SContext, _ = r.Get("profile")
		a.TContext, _ = r.Get("peer")
		a.Name, _ = r.Get("name")
		if m, ok := r.Get("requested_mask"); ok {
			a.Permissions = strings.Fields(m)
		}
		return a, true
	}
	return AVC{}, false
}
