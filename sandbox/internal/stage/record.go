package stage

import (
	"encoding/binary"
	"fmt"
)

// The launch record is the binary form of a Spec that the C launcher
// (launch.c) reads: from descriptor RecordFD when package sandbox starts
// it, or from a cache entry (cache.go) when "rampart run" hits the launch
// cache. All integers are little-endian.
//
//	record = "RRECORD1" field*
//	field  = tag:u16 0:u16 len:u32 value[len]
//
// A tag that occurs once is a setting; repeated tags are lists, in order.
// Values (strings have no terminating NUL and must not contain one):
//
//	TagPath        string   executable to execve
//	TagArg         string   argv, repeated in order
//	TagEnv         string   envp entry NAME=value, repeated
//	TagDir         string   working directory
//	TagNamespaces  u32      Ns* bits: the namespaces to clone
//	TagHostname    string   the UTS namespace's hostname
//	TagIDMap       u32 uid, u32 gid: the caller's ids, mapped to themselves
//	               in the user namespace (uid_map "uid uid 1", setgroups deny)
//	TagMount       u8 op (Op* values), u8 flags (MountFlag*), u16 0, path
//	TagLandlock    u32 abi, u32 restrict_self flags, u64 handled_fs,
//	               u64 handled_net, u64 scoped
//	TagLandlockPath u64 access, path (ENOENT: skipped; not a directory:
//	               access &= FileRights)
//	TagLandlockPort u64 access, u64 port
//	TagSeccomp     struct sock_filter[] (8 bytes each: u16 code, u8 jt,
//	               u8 jf, u32 k)
//	TagNotify      u32 refuse (SECCOMP_RET_ERRNO|errno or
//	               SECCOMP_RET_KILL_PROCESS): the program sends refused
//	               syscalls to the listener (SECCOMP_RET_USER_NOTIF) and the
//	               init answers them with this verdict, reporting each one
//	TagSyscallName u32 nr, name: names for the refusal reports, repeated
//	TagIdentity    u32 uid, u32 gid, u32 switch (0/1), u32 groups[]
//	TagCaps        u64 mask of the capabilities to keep
//	TagMDWE        (empty) set PR_SET_MDWE(PR_MDWE_REFUSE_EXEC_GAIN)
//	TagRlimit      u32 resource, u32 0, u64 value (soft = hard), name
//	TagKeepFD      u32 from, u32 to: pass descriptor from as to
//	TagSELinux     string   exec context for the command
//	TagCompartment string   the compartment's name (messages, argv[0] of the init)
const (
	TagPath         = 1
	TagArg          = 2
	TagEnv          = 3
	TagDir          = 4
	TagNamespaces   = 5
	TagHostname     = 6
	TagIDMap        = 7
	TagMount        = 8
	TagLandlock     = 9
	TagLandlockPath = 10
	TagLandlockPort = 11
	TagSeccomp      = 12
	TagNotify       = 13
	TagSyscallName  = 14
	TagIdentity     = 15
	TagCaps         = 16
	TagMDWE         = 17
	TagRlimit       = 18
	TagKeepFD       = 19
	TagSELinux      = 20
	TagCompartment  = 21
)

// RecordMagic starts a launch record.
const RecordMagic = "RRECORD1"

// Namespace bits of TagNamespaces.
const (
	NsUser  = 1 << 0
	NsMount = 1 << 1
	NsPID   = 1 << 2
	NsIPC   = 1 << 3
	NsUTS   = 1 << 4
	NsNet   = 1 << 5
)

// Mount operation codes of TagMount, for the Mount* operations.
const (
	OpPrivate  = 1
	OpBind     = 2
	OpReadOnly = 3
	OpTmpfs    = 4
	OpProc     = 5
)

// Mount flags of TagMount.
const (
	MountFlagWritable = 1 << 0
	MountFlagDir      = 1 << 1
)

// FileRights are the Landlock filesystem rights that apply to a file
// that is not a directory (LANDLOCK_ACCESS_FS_EXECUTE, WRITE_FILE,
// READ_FILE, TRUNCATE, IOCTL_DEV, RESOLVE_UNIX).
const FileRights = 1<<0 | 1<<1 | 1<<2 | 1<<14 | 1<<15 | 1<<16

// landlockLogNewExecOn is LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (ABI 7).
const landlockLogNewExecOn = 1 << 1

// recordWriter appends fields.
type recordWriter struct{ b []byte }

func (w *recordWriter) field(tag uint16, parts ...any) {
	start := len(w.b)
	w.b = binary.LittleEndian.AppendUint16(w.b, tag)
	w.b = binary.LittleEndian.AppendUint16(w.b, 0)
	w.b = binary.LittleEndian.AppendUint32(w.b, 0)
	for _, p := range parts {
		switch v := p.(type) {
		case uint8:
			w.b = append(w.b, v)
		case uint16:
			w.b = binary.LittleEndian.AppendUint16(w.b, v)
		case uint32:
			w.b = binary.LittleEndian.AppendUint32(w.b, v)
		case uint64:
			w.b = binary.LittleEndian.AppendUint64(w.b, v)
		case int64:
			w.b = binary.LittleEndian.AppendUint64(w.b, uint64(v))
		case string:
			w.b = append(w.b, v...)
		case []byte:
			w.b = append(w.b, v...)
		default:
			panic(fmt.Sprintf("stage: record field of type %T", p))
		}
	}
	binary.LittleEndian.PutUint32(w.b[start+4:], uint32(len(w.b)-start-8))
}

// hasNUL reports whether s contains a NUL byte.
func hasNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// Encode returns the launch record of s. With inPlace, the descriptors
// to keep are expected at their own numbers (the caller's, when "rampart
// run" execs from the launch cache); otherwise at KeepFD, KeepFD+1, …
// (as Start passes them).
func (s *Spec) Encode(inPlace bool) ([]byte, error) {
	w := &recordWriter{b: []byte(RecordMagic)}
	strs := append(append(append([]string{s.Path, s.Dir, s.Hostname, s.SELinuxLabel, s.Compartment}, s.Command...), s.Env...), s.Names...)
	for _, m := range s.Mounts {
		strs = append(strs, m.Path)
	}
	for _, p := range s.Paths {
		strs = append(strs, p.Path)
	}
	for _, v := range strs {
		if hasNUL(v) {
			return nil, fmt.Errorf("launch record: %q contains a NUL byte", v)
		}
	}
	if s.Path == "" || len(s.Command) == 0 {
		return nil, fmt.Errorf("launch record: no command")
	}
	// What the launcher would refuse, said here in Go's terms.
	if len(s.Mounts) > 0 && !s.Mount {
		return nil, fmt.Errorf("launch record: mounts without a mount namespace")
	}
	if s.User && (s.HostUID < 0 || s.HostGID < 0 || s.HostUID >= 1<<32-1 || s.HostGID >= 1<<32-1) {
		return nil, fmt.Errorf("launch record: caller ids %d:%d", s.HostUID, s.HostGID)
	}
	if s.Switch {
		// -1 would be "unchanged" to setresuid: the command stays root.
		for _, id := range append([]int{s.UID, s.GID}, s.Groups...) {
			if id < 0 || id >= 1<<32-1 {
				return nil, fmt.Errorf("launch record: bad uid or gid %d", id)
			}
		}
	}
	for _, fd := range s.KeepFDs {
		if fd < 0 || fd >= 1<<20 {
			return nil, fmt.Errorf("launch record: descriptor %d to keep", fd)
		}
	}
	w.field(TagCompartment, s.Compartment)
	w.field(TagPath, s.Path)
	for _, a := range s.Command {
		w.field(TagArg, a)
	}
	for _, e := range s.Env {
		w.field(TagEnv, e)
	}
	w.field(TagDir, s.Dir)
	var ns uint32
	for _, x := range []struct {
		on  bool
		bit uint32
	}{{s.User, NsUser}, {s.Mount, NsMount}, {s.PID, NsPID}, {s.IPC, NsIPC}, {s.UTS, NsUTS}, {s.Net, NsNet}} {
		if x.on {
			ns |= x.bit
		}
	}
	w.field(TagNamespaces, ns)
	if s.User {
		w.field(TagIDMap, uint32(s.HostUID), uint32(s.HostGID))
	}
	if s.UTS && s.Hostname != "" {
		w.field(TagHostname, s.Hostname)
	}
	for _, m := range s.Mounts {
		op, ok := map[string]uint8{MountPrivate: OpPrivate, MountBind: OpBind, MountReadOnly: OpReadOnly, MountTmpfs: OpTmpfs, MountProc: OpProc}[m.Op]
		if !ok {
			return nil, fmt.Errorf("launch record: unknown mount operation %q", m.Op)
		}
		var flags uint8
		if m.Writable {
			flags |= MountFlagWritable
		}
		if m.Dir {
			flags |= MountFlagDir
		}
		w.field(TagMount, op, flags, uint16(0), m.Path)
	}
	if s.LandlockABI > 0 {
		var flags uint32
		if s.LandlockABI >= 7 {
			flags |= landlockLogNewExecOn
		}
		w.field(TagLandlock, uint32(s.LandlockABI), flags, s.HandledFS, s.HandledNet, s.Scoped)
		for _, p := range s.Paths {
			if a := p.Access & s.HandledFS; a != 0 {
				w.field(TagLandlockPath, a, p.Path)
			}
		}
		for _, p := range s.Ports {
			if a := p.Access & s.HandledNet; a != 0 {
				w.field(TagLandlockPort, a, uint64(p.Port))
			}
		}
	}
	if len(s.Seccomp) > 0 {
		if len(s.Seccomp)%8 != 0 || len(s.Seccomp)/8 > 4096 {
			return nil, fmt.Errorf("launch record: seccomp program of %d bytes", len(s.Seccomp))
		}
		w.field(TagSeccomp, s.Seccomp)
		if s.Notify {
			w.field(TagNotify, s.Refuse)
			for nr, name := range s.Names {
				if name != "" {
					w.field(TagSyscallName, uint32(nr), name)
				}
			}
		}
	}
	id := []any{uint32(s.UID), uint32(s.GID), uint32(0)}
	if s.Switch {
		id[2] = uint32(1)
	}
	for _, g := range s.Groups {
		id = append(id, uint32(g))
	}
	w.field(TagIdentity, id...)
	var caps uint64
	for _, c := range s.Capabilities {
		if c < 0 || c > 63 {
			return nil, fmt.Errorf("launch record: capability number %d", c)
		}
		caps |= 1 << c
	}
	w.field(TagCaps, caps)
	if s.DenyWriteExecute {
		w.field(TagMDWE)
	}
	for _, r := range s.Rlimits {
		w.field(TagRlimit, uint32(r.Resource), uint32(0), r.Value, r.Name)
	}
	for i, fd := range s.KeepFDs {
		from := uint32(KeepFD + i)
		if inPlace {
			from = uint32(fd)
		}
		w.field(TagKeepFD, from, uint32(fd))
	}
	if s.SELinuxLabel != "" {
		w.field(TagSELinux, s.SELinuxLabel)
	}
	if len(w.b) > MaxEntry {
		return nil, fmt.Errorf("launch record: %d bytes, more than %d", len(w.b), MaxEntry)
	}
	return w.b, nil
}
