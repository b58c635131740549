package seccomp

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Action is a seccomp filter verdict: a SECCOMP_RET_* value with its data.
type Action uint32

// Verdicts.
const (
	// ActionAllow lets the syscall run.
	ActionAllow Action = unix.SECCOMP_RET_ALLOW
	// ActionKillProcess kills the whole process (SIGSYS, core dump).
	ActionKillProcess Action = unix.SECCOMP_RET_KILL_PROCESS
)

// ActionErrno fails the syscall with errno e.
func ActionErrno(e syscall.Errno) Action {
	return Action(unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA)
}

// ParseAction parses "errno" (EPERM), "errno:ENAME" or "kill".
func ParseAction(s string) (Action, error) {
	switch {
	case s == "kill":
		return ActionKillProcess, nil
	case s == "errno" || s == "eperm":
		return ActionErrno(unix.EPERM), nil
	case strings.HasPrefix(s, "errno:"):
		e := errnoValue(strings.ToUpper(strings.TrimPrefix(s, "errno:")))
		if e == 0 {
			return 0, fmt.Errorf("unknown errno %q", strings.TrimPrefix(s, "errno:"))
		}
		return ActionErrno(e), nil
	}
	return 0, fmt.Errorf("unknown seccomp action %q (want errno, errno:ENAME or kill)", s)
}

// errnoValue returns the errno called name ("EPERM"), or 0.
func errnoValue(name string) syscall.Errno {
	for e := syscall.Errno(1); e < 4096; e++ {
		if unix.ErrnoName(e) == name {
			return e
		}
	}
	return 0
}

// String formats a as "allow", "kill", or "errno EPERM".
func (a Action) String() string {
	switch {
	case a == ActionAllow:
		return "allow"
	case a == ActionKillProcess:
		return "kill"
	case a == ActionNotify:
		return "notify"
	case uint32(a)&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO:
		e := syscall.Errno(uint32(a) & unix.SECCOMP_RET_DATA)
		if n := unix.ErrnoName(e); n != "" {
			return "errno " + n
		}
		return fmt.Sprintf("errno %d", int(e))
	}
	return fmt.Sprintf("action %#x", uint32(a))
}

// Arch is an architecture as seccomp sees it: its AUDIT_ARCH value and
// syscall table.
type Arch struct {
	// Name is the kernel's name for the architecture ("x86_64").
	Name string
	// AuditArch is the AUDIT_ARCH_* value in seccomp_data.arch.
	AuditArch uint32
	// X32 is set on x86_64, where x32 syscalls carry the native
	// AUDIT_ARCH with bit 30 set in the number.
	X32     bool
	numbers map[string]int
	names   map[int]string
	max     int
}

func newArch(name string, audit uint32, x32 bool, table []string) *Arch {
	a := &Arch{Name: name, AuditArch: audit, X32: x32, numbers: make(map[string]int, len(table)), names: make(map[int]string, len(table))}
	for nr, n := range table {
		if n == "" {
			continue
		}
		a.numbers[n] = nr
		a.names[nr] = n
		a.max = nr
	}
	return a
}

// group is a named syscall group.
type group struct {
	name    string
	members []string
}

func groupMembers(name string) ([]string, bool) {
	for _, g := range systemdGroups {
		if g.name == name {
			return g.members, true
		}
	}
	return nil, false
}

// ArchFor returns the architecture of GOARCH goarch (amd64 or arm64).
func ArchFor(goarch string) (*Arch, error) {
	switch goarch {
	case "amd64":
		return newArch("x86_64", unix.AUDIT_ARCH_X86_64, true, sysnumAMD64[:]), nil
	case "arm64":
		return newArch("aarch64", unix.AUDIT_ARCH_AARCH64, false, sysnumARM64[:]), nil
	}
	return nil, fmt.Errorf("seccomp: no syscall table for GOARCH %s", goarch)
}

// NativeArch returns the architecture rampart was built for.
func NativeArch() (*Arch, error) { return ArchFor(runtime.GOARCH) }

// Number returns the number of syscall name.
func (a *Arch) Number(name string) (int, bool) {
	nr, ok := a.numbers[name]
	return nr, ok
}

// SyscallName returns the name of syscall number nr, or "".
func (a *Arch) SyscallName(nr int) string { return a.names[nr] }

// MaxNumber returns the highest syscall number in the table.
func (a *Arch) MaxNumber() int { return a.max }

// Groups returns the names of the syscall groups, sorted: systemd's
// SystemCallFilter= groups and @known (every syscall in the table).
func Groups() []string {
	gs := make([]string, 0, len(systemdGroups)+1)
	for _, g := range systemdGroups {
		gs = append(gs, g.name)
	}
	gs = append(gs, "@known")
	sort.Strings(gs)
	return gs
}

// Expand resolves syscall names and @groups (recursively) into the
// sorted, duplicate-free names known to a. Names that a's table lacks
// (syscalls of other architectures, such as the 32-bit "_llseek" that
// systemd's groups list, or misspellings) are dropped; those given
// directly in entries are returned in unknown. An unknown group is an
// error.
func Expand(a *Arch, entries []string) (names, unknown []string, err error) {
	set := map[string]bool{}
	seen := map[string]bool{}
	var add func(e string, direct bool) error
	add = func(e string, direct bool) error {
		if !strings.HasPrefix(e, "@") {
			if _, ok := a.numbers[e]; ok {
				set[e] = true
			} else if direct {
				unknown = append(unknown, e)
			}
			return nil
		}
		if seen[e] {
			return nil
		}
		seen[e] = true
		if e == "@known" {
			for n := range a.numbers {
				set[n] = true
			}
			return nil
		}
		ms, ok := groupMembers(e)
		if !ok {
			return fmt.Errorf("unknown syscall group %q", e)
		}
		for _, m := range ms {
			if err := add(m, false); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range entries {
		if err := add(e, true); err != nil {
			return nil, nil, err
		}
	}
	names = make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, unknown, nil
}

// Mode says whether a Spec's names are allowed or denied.
type Mode uint8

// Filter modes.
const (
	// Allowlist allows Spec.Names and refuses every other syscall.
	Allowlist Mode = iota + 1
	// Denylist refuses Spec.Names and allows every other syscall.
	Denylist
)

// String returns "allowlist" or "denylist".
func (m Mode) String() string {
	switch m {
	case Allowlist:
		return "allowlist"
	case Denylist:
		return "denylist"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Spec describes a filter.
type Spec struct {
	Arch *Arch
	Mode Mode
	// Names are the syscalls allowed (Allowlist) or refused (Denylist).
	Names []string
	// Refuse is the verdict for refused syscalls (and for x32 calls):
	// ActionErrno(EPERM) or ActionKillProcess.
	Refuse Action
	// RestrictNamespaces refuses creating or joining namespaces: clone
	// and unshare with CLONE_NEW* flags and setns get EPERM, clone3
	// (whose flags are out of the filter's reach) gets ENOSYS so that
	// libc falls back to clone.
	RestrictNamespaces bool
	// DenyMPTCP refuses socket(…, IPPROTO_MPTCP) with EPROTONOSUPPORT:
	// Landlock's TCP rules do not apply to Multipath TCP, and Go ≥ 1.24
	// net.Listen tries MPTCP first and falls back to TCP on this error.
	DenyMPTCP bool
	// DenyVsock refuses socket(AF_VSOCK, …) with EAFNOSUPPORT.
	DenyVsock bool
	// DenyTIOCSTI refuses the TIOCSTI and TIOCLINUX ioctls with EPERM,
	// which inject input into an inherited terminal (CVE-2017-5226).
	DenyTIOCSTI bool
	// Notify sends refused syscalls to the filter's listener
	// (ActionNotify) instead of applying Refuse in the kernel; the
	// supervisor then applies Refuse (rampart's: the sandbox's init, in
	// sandbox/internal/stage). The other verdicts
	// (architecture, x32, ENOSYS, argument rules) stay in the kernel.
	Notify bool
}

// Namespace flags refused by RestrictNamespaces.
const (
	cloneNSFlags   = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET
	unshareNSFlags = cloneNSFlags | unix.CLONE_NEWTIME
)

// argRule refuses a call whose argument Arg (low 32 bits) equals Value
// (Mask false) or has any bit of Value set (Mask true).
type argRule struct {
	Arg    int
	Mask   bool
	Value  uint32
	Action Action
}

// verdict is what the filter does with one syscall number.
type verdict struct {
	action Action
	rules  []argRule // checked in order before action
}

func (v verdict) equal(w verdict) bool {
	if v.action != w.action || len(v.rules) != len(w.rules) {
		return false
	}
	for i := range v.rules {
		if v.rules[i] != w.rules[i] {
			return false
		}
	}
	return true
}

// verdicts computes the verdict of every syscall number in the table.
func (s *Spec) verdicts() (map[int]verdict, Action, error) {
	if s.Arch == nil {
		return nil, 0, fmt.Errorf("seccomp: no architecture")
	}
	if s.Refuse == ActionAllow || s.Refuse == 0 {
		return nil, 0, fmt.Errorf("seccomp: the refusal action must be errno or kill")
	}
	listed := map[int]bool{}
	for _, n := range s.Names {
		nr, ok := s.Arch.numbers[n]
		if !ok {
			return nil, 0, fmt.Errorf("seccomp: unknown syscall %q on %s", n, s.Arch.Name)
		}
		listed[nr] = true
	}
	refuse := s.Refuse
	if s.Notify {
		refuse = ActionNotify
	}
	var dflt Action
	vs := map[int]verdict{}
	switch s.Mode {
	case Allowlist:
		dflt = refuse
		for nr := range listed {
			vs[nr] = verdict{action: ActionAllow}
		}
	case Denylist:
		dflt = ActionAllow
		for nr := range listed {
			vs[nr] = verdict{action: refuse}
		}
	default:
		return nil, 0, fmt.Errorf("seccomp: no mode")
	}
	allowed := func(name string) (int, bool) {
		nr, ok := s.Arch.numbers[name]
		if !ok {
			return 0, false
		}
		v, has := vs[nr]
		if !has {
			return nr, dflt == ActionAllow
		}
		return nr, v.action == ActionAllow
	}
	addRule := func(name string, r argRule) {
		if nr, ok := allowed(name); ok {
			v := verdict{action: ActionAllow}
			if old, has := vs[nr]; has {
				v = old
			}
			v.rules = append(v.rules, r)
			vs[nr] = v
		}
	}
	eperm := ActionErrno(unix.EPERM)
	if s.RestrictNamespaces {
		addRule("clone", argRule{Arg: 0, Mask: true, Value: cloneNSFlags, Action: eperm})
		addRule("unshare", argRule{Arg: 0, Mask: true, Value: unshareNSFlags, Action: eperm})
		for _, n := range []string{"setns"} {
			if nr, ok := s.Arch.numbers[n]; ok {
				if _, ok := allowed(n); ok {
					vs[nr] = verdict{action: eperm}
				}
			}
		}
		if nr, ok := s.Arch.numbers["clone3"]; ok {
			vs[nr] = verdict{action: ActionErrno(unix.ENOSYS)}
		}
	}
	if s.DenyMPTCP {
		addRule("socket", argRule{Arg: 2, Value: unix.IPPROTO_MPTCP, Action: ActionErrno(unix.EPROTONOSUPPORT)})
	}
	if s.DenyVsock {
		addRule("socket", argRule{Arg: 0, Value: unix.AF_VSOCK, Action: ActionErrno(unix.EAFNOSUPPORT)})
	}
	if s.DenyTIOCSTI {
		addRule("ioctl", argRule{Arg: 1, Value: unix.TIOCSTI, Action: eperm})
		addRule("ioctl", argRule{Arg: 1, Value: unix.TIOCLINUX, Action: eperm})
	}
	return vs, dflt, nil
}

// span is a run of syscall numbers [start, end) with one verdict.
type span struct {
	start uint32
	v     verdict
}

// Program assembles the filter.
func (s *Spec) Program() ([]unix.SockFilter, error) {
	vs, dflt, err := s.verdicts()
	if err != nil {
		return nil, err
	}
	var spans []span
	for nr := 0; nr <= s.Arch.max; nr++ {
		v, ok := vs[nr]
		if !ok {
			v = verdict{action: dflt}
		}
		if len(spans) > 0 && spans[len(spans)-1].v.equal(v) {
			continue
		}
		spans = append(spans, span{start: uint32(nr), v: v})
	}
	// Numbers above the table: syscalls this table does not know.
	spans = append(spans, span{start: uint32(s.Arch.max + 1), v: verdict{action: ActionErrno(unix.ENOSYS)}})

	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, s.Arch.AuditArch, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, uint32(ActionKillProcess)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	if s.Arch.X32 {
		prog = append(prog,
			jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32SyscallBit, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, uint32(s.Refuse)))
	}
	prog = append(prog, tree(spans)...)
	if len(prog) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: filter of %d instructions exceeds the kernel's %d", len(prog), unix.BPF_MAXINSNS)
	}
	return prog, nil
}

// x32SyscallBit is __X32_SYSCALL_BIT.
const x32SyscallBit = 0x40000000

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// tree emits a binary search over spans (sorted by start, the first
// starting at 0) with the syscall number in the accumulator. Every
// conditional jump is 0 or 1 long; longer distances use "ja", whose
// offset is 32 bits.
func tree(spans []span) []unix.SockFilter {
	if len(spans) == 1 {
		return leaf(spans[0].v)
	}
	mid := len(spans) / 2
	left, right := tree(spans[:mid]), tree(spans[mid:])
	out := make([]unix.SockFilter, 0, 2+len(left)+len(right))
	out = append(out,
		jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, spans[mid].start, 0, 1),
		stmt(unix.BPF_JMP|unix.BPF_JA, uint32(len(left))))
	out = append(out, left...)
	return append(out, right...)
}

// leaf returns the verdict, after the argument checks. Arguments are
// compared on their low 32 bits (offsets assume a little-endian
// architecture, as amd64 and arm64 are).
func leaf(v verdict) []unix.SockFilter {
	var out []unix.SockFilter
	for _, r := range v.rules {
		op := uint16(unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K)
		if r.Mask {
			op = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		}
		out = append(out,
			stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, uint32(offArgs+8*r.Arg)),
			jump(op, r.Value, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, uint32(r.Action)))
	}
	return append(out, stmt(unix.BPF_RET|unix.BPF_K, uint32(v.action)))
}

// Install loads prog as a seccomp filter on the calling thread only (no
// TSYNC): the caller locks its goroutine to the thread, has set
// no_new_privs (or holds CAP_SYS_ADMIN), and execs right after, so that
// the new program, and only it, runs under the filter.
func Install(prog []unix.SockFilter) error {
	if len(prog) == 0 {
		return fmt.Errorf("seccomp: empty filter")
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER): %w", e)
	}
	return nil
}

// Available reports whether the kernel supports seccomp filters.
func Available() bool {
	// With a NULL program the kernel checks the mode first: EFAULT means
	// filters are supported, EINVAL that they are not.
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, 0)
	return e == unix.EFAULT
}

// Encode returns prog in the kernel's struct sock_filter layout.
func Encode(prog []unix.SockFilter) []byte {
	b := make([]byte, 0, 8*len(prog))
	for _, f := range prog {
		b = append(b, byte(f.Code), byte(f.Code>>8), f.Jt, f.Jf,
			byte(f.K), byte(f.K>>8), byte(f.K>>16), byte(f.K>>24))
	}
	return b
}

// Decode is the inverse of Encode.
func Decode(b []byte) ([]unix.SockFilter, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("seccomp: program of %d bytes is not a multiple of 8", len(b))
	}
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		p := b[8*i:]
		prog[i] = unix.SockFilter{
			Code: uint16(p[0]) | uint16(p[1])<<8, Jt: p[2], Jf: p[3],
			K: uint32(p[4]) | uint32(p[5])<<8 | uint32(p[6])<<16 | uint32(p[7])<<24,
		}
	}
	return prog, nil
}
