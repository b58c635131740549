package stage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/internal/ptytest"
	"github.com/rampart-sec/rampart/sandbox/seccomp"
)

// missExit is the status of this test binary when it runs as "rampart
// run" and the launcher did not take it over (a cache miss): TestMain
// exits with it instead of running the tests again.
const missExit = 42

// missEnv marks such a run.
const missEnv = "RAMPART_STAGE_TEST_CHILD"

// execEnv makes this binary prepare its process and execute itself
// again, with its arguments and the rest of its environment: see
// execPrepared.
const execEnv = "RAMPART_STAGE_TEST_EXEC"

// nofileEnv makes this binary print its RLIMIT_NOFILE, as the Go
// runtime has it.
const nofileEnv = "RAMPART_STAGE_TEST_NOFILE"

// execPrepared carries out the comma-separated steps of v, then executes
// this binary again: "alarm=DURATION" starts a real-time timer (timers
// survive execve: a shell's "alarm 1; exec rampart run ..."), "ignore=N"
// ignores signal N, "nofile=N" sets the soft RLIMIT_NOFILE to N, "stage"
// adds Env=Version to the environment (the execution is then a
// launcher).
func execPrepared(v string) {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, execEnv+"=") {
			env = append(env, e)
		}
	}
	var err error
	for _, step := range strings.Split(v, ",") {
		name, arg, _ := strings.Cut(step, "=")
		switch name {
		case "alarm":
			var d time.Duration
			if d, err = time.ParseDuration(arg); err == nil {
				_, err = unix.Setitimer(unix.ItimerReal, unix.Itimerval{Value: unix.NsecToTimeval(d.Nanoseconds())})
			}
		case "ignore":
			// rt_sigaction itself: the Go runtime keeps its own
			// handlers, and is replaced at once.
			var n int
			if n, err = strconv.Atoi(arg); err == nil {
				act := [4]uintptr{1} // SIG_IGN, no flags, no restorer, empty mask
				_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(n), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
				if e != 0 {
					err = e
				}
			}
		case "nofile":
			var rl unix.Rlimit
			if err = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
				if rl.Cur, err = strconv.ParseUint(arg, 10, 64); err == nil {
					// (unix.Setrlimit: syscall.Exec then keeps it.)
					err = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
				}
			}
		case "stage":
			env = append(env, Env+"="+Version)
		default:
			err = fmt.Errorf("unknown step %q", step)
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = syscall.Exec("/proc/self/exe", os.Args, env)
	}
	fmt.Fprintf(os.Stderr, "%s=%s: %v\n", execEnv, v, err)
	os.Exit(1)
}

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(execEnv); ok {
		execPrepared(v)
	}
	if os.Getenv(nofileEnv) != "" {
		// What the Go planner sees of RLIMIT_NOFILE.
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(rl.Cur, rl.Max)
		os.Exit(0)
	}
	if os.Getenv(missEnv) != "" {
		// The launcher returned to Go: show what it may have left
		// behind (descriptors of the cache directory).
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
				fmt.Printf("fd %s %s\n", e.Name(), l)
			}
		}
		os.Exit(missExit)
	}
	code := m.Run()
	if copied != "" {
		os.RemoveAll(filepath.Dir(copied))
	}
	os.Exit(code)
}

// richSpec uses every field of the launch record.
func richSpec() *Spec {
	return &Spec{
		Compartment: "web",
		Command:     []string{"sh", "-c", `printf '%s' "$A"`, "ünï"},
		Path:        "/bin/sh",
		Env:         []string{"A=1", "B=\x7f\ttab"},
		Dir:         "/srv",
		User:        true, Mount: true, PID: true, IPC: true, UTS: true, Net: true,
		HostUID: 1000, HostGID: 1001,
		Hostname: "box",
		Mounts: []Mount{
			{Op: MountPrivate, Path: "/"},
			{Op: MountBind, Path: "/data", Writable: true, Dir: true},
			{Op: MountBind, Path: "/etc/resolv.conf"},
			{Op: MountReadOnly, Path: "/"},
			{Op: MountTmpfs, Path: "/tmp"},
			{Op: MountProc, Path: "/proc"},
		},
		LandlockABI: 7, HandledFS: 0xffff, HandledNet: 3, Scoped: 3,
		Paths: []PathRule{{"/usr", 0x5}, {"/tmp", 0x3ffff}, {"/gone", 0x10000}},
		Ports: []PortRule{{443, 2}, {8080, 7}, {53, 4}},
		Seccomp: []byte{
			0x20, 0, 0, 0, 4, 0, 0, 0,
			0x15, 0, 1, 0, 0x3e, 0, 0, 0xc0,
			0x06, 0, 0, 0, 0, 0, 0xff, 0x7f,
		},
		Notify: true, Refuse: 0x50001,
		Names:        []string{"read", "", "open"},
		UID:          0,
		GID:          0,
		Groups:       []int{1, 2},
		Switch:       true,
		Capabilities: []int{0, 21, 40},

		DenyWriteExecute: true,
		Rlimits:          []Rlimit{{"nofile", 7, 1024}, {"core", 4, 0}},
		KeepFDs:          []int{7, 3},
		SELinuxLabel:     "system_u:system_r:container_t:s0",
	}
}

const richDump = `compartment "web"
path "/bin/sh"
arg "sh"
arg "-c"
arg "printf '%s' \"$A\""
arg "\xc3\xbcn\xc3\xaf"
env "A=1"
env "B=\x7f\x09tab"
dir "/srv"
namespaces user mount pid ipc uts net
idmap uid=1000 gid=1001
hostname "box"
mount 1 flags=0 "/"
mount 2 flags=3 "/data"
mount 2 flags=0 "/etc/resolv.conf"
mount 3 flags=0 "/"
mount 4 flags=0 "/tmp"
mount 5 flags=0 "/proc"
landlock abi=7 flags=0x2 fs=0xffff net=0x3 scoped=0x3
landlock-path access=0x5 "/usr"
landlock-path access=0xffff "/tmp"
landlock-port access=0x2 port=443
landlock-port access=0x3 port=8080
seccomp 3 instructions
bpf 0 code=0x0020 jt=0 jf=0 k=0x00000004
bpf 1 code=0x0015 jt=1 jf=0 k=0xc000003e
bpf 2 code=0x0006 jt=0 jf=0 k=0x7fff0000
notify refuse=0x00050001
syscall-name 0 "read"
syscall-name 2 "open"
identity uid=0 gid=0 switch=1 groups=1,2
caps 0x10000200001
mdwe
rlimit 7 value=1024 "nofile"
rlimit 4 value=0 "core"
keep-fd from=5 to=7
keep-fd from=6 to=3
selinux "system_u:system_r:container_t:s0"
`

// The C parser reads what Go's Encode writes, field for field.
func TestRecordRoundTrip(t *testing.T) {
	b, err := richSpec().Encode(false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != richDump {
		t.Errorf("dump:\n%s\nwant:\n%s", got, richDump)
	}

	// In place (a launch cache entry's record): the descriptors are
	// kept at their own numbers.
	b, err = richSpec().Encode(true)
	if err != nil {
		t.Fatal(err)
	}
	got, err = checkRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(richDump, "from=5 to=7", "from=7 to=7", 1), "from=6 to=3", "from=3 to=3", 1)
	if got != want {
		t.Errorf("dump in place:\n%s\nwant:\n%s", got, want)
	}

	// The smallest record Encode writes.
	min := &Spec{Command: []string{"true"}, Path: "/bin/true"}
	b, err = min.Encode(false)
	if err != nil {
		t.Fatal(err)
	}
	got, err = checkRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	want = `compartment ""
path "/bin/true"
arg "true"
dir ""
namespaces
identity uid=0 gid=0 switch=0 groups=
caps 0x0
`
	if got != want {
		t.Errorf("minimal dump:\n%s\nwant:\n%s", got, want)
	}
}

type field struct {
	tag   uint16
	parts []any
}

// record writes a launch record of the fields, after the required ones
// (but those whose tag is in omit).
func record(omit []uint16, fields ...field) []byte {
	w := &recordWriter{b: []byte(RecordMagic)}
	base := []field{
		{TagPath, []any{"/bin/true"}},
		{TagArg, []any{"true"}},
		{TagDir, []any{"/"}},
		{TagNamespaces, []any{uint32(0)}},
		{TagIdentity, []any{uint32(0), uint32(0), uint32(0)}},
		{TagCaps, []any{uint64(0)}},
	}
next:
	for _, f := range base {
		for _, o := range omit {
			if f.tag == o {
				continue next
			}
		}
		w.field(f.tag, f.parts...)
	}
	for _, f := range fields {
		w.field(f.tag, f.parts...)
	}
	return w.b
}

func TestRecordErrors(t *testing.T) {
	if _, err := checkRecord(record(nil)); err != nil {
		t.Fatalf("the base record: %v", err)
	}
	f := func(tag uint16, parts ...any) field { return field{tag, parts} }
	seccompOK := f(TagSeccomp, make([]byte, 8))
	landlockOK := f(TagLandlock, uint32(7), uint32(0), uint64(1), uint64(0), uint64(0))
	header := func(tag, reserved uint16, n uint32) []byte {
		b := binary.LittleEndian.AppendUint16(nil, tag)
		b = binary.LittleEndian.AppendUint16(b, reserved)
		return binary.LittleEndian.AppendUint32(b, n)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "launch record: bad magic"},
		{"magic", []byte("RRECORD2"), "launch record: bad magic"},
		{"short header", append(record(nil), 1, 0, 0), "launch record: truncated field header at offset"},
		{"past the end", append(append(record(nil), header(TagArg, 0, 100)...), 'x'), "of 100 bytes runs past the end"},
		{"reserved header", append(record(nil), header(TagMDWE, 1, 0)...), "reserved header bits set"},
		{"unknown tag", record(nil, f(99)), "launch record: unknown field tag 99 at offset"},
		{"tag 0", record(nil, f(0)), "launch record: unknown field tag 0"},
		{"second path", record(nil, f(TagPath, "/x")), "a second path field"},
		{"second caps", record(nil, f(TagCaps, uint64(1))), "a second caps field"},
		{"empty path", record([]uint16{TagPath}, f(TagPath, "")), "path field at offset 77: empty"},
		{"NUL", record(nil, f(TagArg, "a\x00b")), "arg field at offset"},
		{"NUL in env", record(nil, f(TagEnv, "A=\x00")), "the string contains a NUL byte"},
		{"no path", record([]uint16{TagPath}), "launch record: no path field"},
		{"no arg", record([]uint16{TagArg}), "launch record: no arg field"},
		{"no dir", record([]uint16{TagDir}), "launch record: no dir field"},
		{"no namespaces", record([]uint16{TagNamespaces}), "launch record: no namespaces field"},
		{"no identity", record([]uint16{TagIdentity}), "launch record: no identity field"},
		{"no caps", record([]uint16{TagCaps}), "launch record: no caps field"},
		{"namespaces length", record([]uint16{TagNamespaces}, f(TagNamespaces, uint64(0))), "namespaces field at offset 82: 8 bytes, want 4"},
		{"namespace bits", record([]uint16{TagNamespaces}, f(TagNamespaces, uint32(1<<6))), "unknown namespace bits 0x40"},
		{"user without idmap", record([]uint16{TagNamespaces}, f(TagNamespaces, uint32(NsUser))), "a user namespace without an idmap field"},
		{"idmap without user", record(nil, f(TagIDMap, uint32(1), uint32(1))), "an idmap field without a user namespace"},
		{"hostname without UTS", record(nil, f(TagHostname, "h")), "a hostname without a UTS namespace"},
		{"mounts without a mount namespace", record(nil, f(TagMount, uint8(OpTmpfs), uint8(0), uint16(0), "/tmp")), "mount operations without a mount namespace"},
		{"mount op", record(nil, f(TagMount, uint8(6), uint8(0), uint16(0), "/")), "unknown operation 6"},
		{"mount op 0", record(nil, f(TagMount, uint8(0), uint8(0), uint16(0), "/")), "unknown operation 0"},
		{"mount flags", record(nil, f(TagMount, uint8(OpBind), uint8(4), uint16(0), "/")), "unknown flags 0x4"},
		{"mount reserved", record(nil, f(TagMount, uint8(OpBind), uint8(0), uint16(1), "/")), "reserved bytes set"},
		{"mount short", record(nil, f(TagMount, uint8(OpBind), uint8(0))), "2 bytes, want at least 4"},
		{"landlock length", record(nil, f(TagLandlock, uint32(1))), "4 bytes, want 32"},
		{"landlock ABI 0", record(nil, f(TagLandlock, uint32(0), uint32(0), uint64(1), uint64(0), uint64(0))), "ABI 0"},
		{"landlock net ABI 3", record(nil, f(TagLandlock, uint32(3), uint32(0), uint64(1), uint64(1), uint64(0))), "network rights with ABI 3"},
		{"landlock scoped ABI 5", record(nil, f(TagLandlock, uint32(5), uint32(0), uint64(1), uint64(0), uint64(1))), "scopes with ABI 5"},
		{"path rule alone", record(nil, f(TagLandlockPath, uint64(1), "/")), "Landlock rules without a landlock field"},
		{"port rule alone", record(nil, f(TagLandlockPort, uint64(1), uint64(80))), "Landlock rules without a landlock field"},
		{"path rule short", record(nil, landlockOK, f(TagLandlockPath, uint32(1))), "4 bytes, want at least 8"},
		{"port", record(nil, landlockOK, f(TagLandlockPort, uint64(1), uint64(65536))), "port 65536"},
		{"seccomp odd", record(nil, f(TagSeccomp, make([]byte, 7))), "a program of 7 bytes"},
		{"seccomp empty", record(nil, f(TagSeccomp)), "a program of 0 bytes"},
		{"seccomp long", record(nil, f(TagSeccomp, make([]byte, 8*4097))), "a program of 32776 bytes"},
		{"second seccomp", record(nil, seccompOK, seccompOK), "a second seccomp field"},
		{"notify alone", record(nil, f(TagNotify, uint32(0x50001))), "a notify field without a seccomp program"},
		{"notify verdict", record(nil, seccompOK, f(TagNotify, uint32(0x7fc00000))), "refusal verdict 0x7fc00000"},
		{"names alone", record(nil, seccompOK, f(TagSyscallName, uint32(0), "read")), "syscall names without a notify field"},
		{"name short", record(nil, seccompOK, f(TagNotify, uint32(0x50001)), f(TagSyscallName, uint16(0))), "2 bytes, want at least 4"},
		{"identity short", record([]uint16{TagIdentity}, f(TagIdentity, uint32(0), uint32(0))), "8 bytes, want at least 12"},
		{"identity groups", record([]uint16{TagIdentity}, f(TagIdentity, uint32(0), uint32(0), uint32(0), uint16(1))), "14 bytes, not 12 plus 4 per group"},
		{"identity switch", record([]uint16{TagIdentity}, f(TagIdentity, uint32(0), uint32(0), uint32(2))), "switch 2"},
		{"identity uid -1", record([]uint16{TagIdentity}, f(TagIdentity, ^uint32(0), uint32(0), uint32(1))), "uid 4294967295, gid 0"},
		{"identity gid -1", record([]uint16{TagIdentity}, f(TagIdentity, uint32(0), ^uint32(0), uint32(1))), "uid 0, gid 4294967295"},
		{"identity group -1", record([]uint16{TagIdentity}, f(TagIdentity, uint32(0), uint32(0), uint32(1), ^uint32(0))), "group 4294967295"},
		{"caps length", record([]uint16{TagCaps}, f(TagCaps, uint32(0))), "4 bytes, want 8"},
		{"mdwe length", record(nil, f(TagMDWE, uint8(1))), "1 bytes, want 0"},
		{"second mdwe", record(nil, f(TagMDWE), f(TagMDWE)), "a second mdwe field"},
		{"rlimit reserved", record(nil, f(TagRlimit, uint32(7), uint32(1), uint64(1), "nofile")), "reserved bytes set"},
		{"rlimit short", record(nil, f(TagRlimit, uint32(7), uint32(0))), "8 bytes, want at least 16"},
		{"keep-fd", record(nil, f(TagKeepFD, uint32(5), uint32(1<<31))), "descriptor 5 to 2147483648"},
		{"keep-fd length", record(nil, f(TagKeepFD, uint32(5))), "4 bytes, want 8"},
		{"empty selinux", record(nil, f(TagSELinux, "")), "selinux field at offset"},
		{"too large", append([]byte(RecordMagic), make([]byte, MaxEntry)...), "launch record: 8388616 bytes, more than 8388608"},
	} {
		got, err := checkRecord(tc.b)
		if err == nil {
			t.Errorf("%s: parsed:\n%s", tc.name, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "launch record: ") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// fieldEnds returns the offsets at which the record's fields end.
func fieldEnds(b []byte) map[int]bool {
	ends := map[int]bool{8: true}
	for off := 8; off+8 <= len(b); {
		off += 8 + int(binary.LittleEndian.Uint32(b[off+4:]))
		ends[off] = true
	}
	return ends
}

// A truncated record is an error unless it ends at a field boundary;
// no corruption of one byte makes the parser crash or read out of
// bounds, and most are errors.
func TestRecordDamage(t *testing.T) {
	b, err := richSpec().Encode(false)
	if err != nil {
		t.Fatal(err)
	}
	ends := fieldEnds(b)
	for n := 0; n < len(b); n++ {
		_, err := checkRecord(b[:n])
		if err == nil && !ends[n] {
			t.Errorf("a record cut at %d of %d bytes parses", n, len(b))
		}
	}
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			checkRecord(c)
		}
	}
}

// specFrom builds a Spec out of fuzz input, within the invariants the
// planner keeps (Landlock rights within the ABI, a verdict that is errno
// or kill, mounts only with a mount namespace).
func specFrom(b []byte) *Spec {
	s := strings.ReplaceAll(string(b), "\x00", "")
	parts := strings.Split(s, "\n")
	at := func(i int) string { return parts[i%len(parts)] }
	var bits uint64
	for i := 0; i < len(b) && i < 8; i++ {
		bits |= uint64(b[i]) << (8 * i)
	}
	abi := int(bits % 8)
	sp := &Spec{
		Compartment: at(0), Path: "/" + at(1), Command: parts, Env: parts[len(parts)/2:], Dir: at(2),
		User: bits&1 != 0, Mount: bits&2 != 0, PID: bits&4 != 0, IPC: bits&8 != 0, UTS: bits&16 != 0, Net: bits&32 != 0,
		HostUID: int(bits >> 8 & 0xffff), HostGID: int(bits >> 24 & 0xffff), Hostname: at(3),
		LandlockABI: abi, HandledFS: bits >> 3, UID: int(bits >> 16 & 0xffff), GID: int(bits >> 32 & 0xffff),
		Switch: bits&64 != 0, DenyWriteExecute: bits&128 != 0, SELinuxLabel: at(4),
	}
	if abi >= 4 {
		sp.HandledNet = bits >> 40 & 3
	}
	if abi >= 6 {
		sp.Scoped = bits >> 42 & 3
	}
	ops := []string{MountPrivate, MountBind, MountReadOnly, MountTmpfs, MountProc}
	for i, p := range parts {
		if sp.Mount {
			sp.Mounts = append(sp.Mounts, Mount{Op: ops[i%len(ops)], Path: p, Writable: i&1 != 0, Dir: i&2 != 0})
		}
		sp.Paths = append(sp.Paths, PathRule{Path: p, Access: bits >> (i % 64)})
		sp.Ports = append(sp.Ports, PortRule{Port: uint16(i * 17), Access: uint64(i)})
		sp.Rlimits = append(sp.Rlimits, Rlimit{Name: p, Resource: i, Value: bits})
		sp.KeepFDs = append(sp.KeepFDs, i+3)
		sp.Groups = append(sp.Groups, i)
		sp.Capabilities = append(sp.Capabilities, i%64)
	}
	if n := len(b) / 8 * 8; n > 0 && n <= 8*4096 {
		sp.Seccomp = b[:n]
		sp.Notify = bits&256 != 0
		sp.Refuse = uint32(seccomp.ActionKillProcess)
		if bits&512 != 0 {
			sp.Refuse = 0x50000 | uint32(bits>>48&0xffff)
		}
		sp.Names = parts
	}
	return sp
}

// FuzzRecord: any bytes give an error or a dump, never a crash; and what
// Encode writes always parses.
func FuzzRecord(f *testing.F) {
	for _, s := range []*Spec{richSpec(), {Command: []string{"x"}, Path: "/x"}} {
		b, err := s.Encode(false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if dump, err := checkRecord(b); err == nil && dump == "" {
			t.Fatal("an empty dump")
		}
		rec, err := specFrom(b).Encode(false)
		if err != nil {
			return
		}
		if _, err := checkRecord(rec); err != nil {
			t.Fatalf("Encode's record does not parse: %v", err)
		}
	})
}

func TestCacheKey(t *testing.T) {
	for _, tc := range []struct {
		args, env []string
		cwd       string
	}{
		{nil, nil, ""},
		{[]string{""}, []string{""}, ""},
		{[]string{"run"}, nil, "/"},
		{[]string{"run", "--", "ls", "-l"}, []string{"HOME=/root", "PATH=/usr/bin:/bin"}, "/home/u"},
		{[]string{"run", "ls"}, []string{"HOME=/root"}, "/"},
		{[]string{"run"}, []string{"ls", "HOME=/root"}, "/"}, // the same bytes, other lists
		{[]string{"rün", "\x01\xff"}, []string{"É=ï", "\x7f"}, "/tmp/ü"},
		{[]string{strings.Repeat("a", 100000)}, []string{strings.Repeat("b=", 5000)}, strings.Repeat("/c", 2000)},
	} {
		want := CacheKey(tc.args, tc.env, tc.cwd)
		if got := cacheKey(tc.args, tc.env, tc.cwd); got != want {
			t.Errorf("cacheKey(%q, %q, %q) = %s, CacheKey %s", tc.args, tc.env, tc.cwd, got, want)
		}
	}
	if a, b := cacheKey([]string{"run", "ls"}, nil, "/"), cacheKey([]string{"run"}, []string{"ls"}, "/"); a == b {
		t.Errorf("arguments and environment are not told apart: %s", a)
	}
}

func TestCacheDir(t *testing.T) {
	for _, tc := range []struct {
		euid int
		env  []string
	}{
		{0, []string{"XDG_RUNTIME_DIR=/run/user/0"}},
		{0, []string{"RAMPART_RUN_CACHE=/x//y/../z/"}},
		{0, []string{"RAMPART_RUN_CACHE=off", "RAMPART_RUN_CACHE=/x"}},
		{0, []string{"RAMPART_RUN_CACHE=/x", "RAMPART_RUN_CACHE=off"}},
		{1000, []string{"RAMPART_RUN_CACHE=", "RAMPART_RUN_CACHE=/x"}},
		{1000, []string{"RAMPART_RUN_CACHE=relative", "XDG_RUNTIME_DIR=/run/user/1000"}},
		{1000, []string{"RAMPART_RUN_CACHEX=/x", "RAMPART_RUN_CACH=/y"}},
		{1000, nil},
		{1000, []string{"XDG_RUNTIME_DIR=/run/user/1000"}},
		{1000, []string{"XDG_RUNTIME_DIR=relative", "XDG_RUNTIME_DIR=/second"}},
		{1000, []string{"XDG_RUNTIME_DIR=/first", "XDG_RUNTIME_DIR=/second"}},
		{1000, []string{"XDG_RUNTIME_DIR="}},
		{1000, []string{"XDG_RUNTIME_DIRX=/x", "XDG_RUNTIME_DIR=/run/user/1000/"}},
		{1000, []string{"XDG_RUNTIME_DIR=//a//b/./c/../../d/"}},
		{1000, []string{"XDG_RUNTIME_DIR=/.."}},
		{1000, []string{"XDG_RUNTIME_DIR=/../../x/.."}},
		{1000, []string{"XDG_RUNTIME_DIR=/"}},
		{1000, []string{"XDG_RUNTIME_DIR=/a/.../..b/b.."}},
		{4294967294, nil},
	} {
		want := CacheDir(tc.euid, tc.env)
		if got := cacheDir(tc.euid, tc.env); got != want {
			t.Errorf("cacheDir(%d, %q) = %q, CacheDir %q", tc.euid, tc.env, got, want)
		}
	}
}

func statLine(s StatID) string {
	return fmt.Sprintf("dev=%d ino=%d mode=0%o uid=%d gid=%d size=%d mtime=%d,%d ctime=%d,%d",
		s.Dev, s.Ino, s.Mode, s.UID, s.GID, s.Size, s.MtimeSec, s.MtimeNsec, s.CtimeSec, s.CtimeNsec)
}

// The C parser reads what Entry.Encode writes.
func TestEntryRoundTrip(t *testing.T) {
	rec, err := richSpec().Encode(true)
	if err != nil {
		t.Fatal(err)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil {
		t.Fatal(err)
	}
	e := &Entry{
		Args:    []string{"run", "ls"},
		Env:     []string{"HOME=/root", "X=ü"},
		Cwd:     "/home",
		Deps:    []Dep{StatDep("/", false), StatDep("/proc/self", true), StatDep("/nonexistent", false)},
		Rlimits: []RlimitCheck{{unix.RLIMIT_CORE, rl.Cur, rl.Max}},
		OpenFDs: []int{0, 2},
		Host:    HostFacts{7, HostSeccomp | HostSELinuxFS},
		Stderr:  "rampart: a warning\n",
		Record:  rec,
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	exe := StatDep("/proc/self/exe", false)
	var want strings.Builder
	fmt.Fprintf(&want, "arg \"run\"\narg \"ls\"\nenv \"HOME=/root\"\nenv \"X=\\xc3\\xbc\"\ncwd \"/home\"\n")
	fmt.Fprintf(&want, "ids euid=%d egid=%d ruid=%d rgid=%d\n", os.Geteuid(), os.Getegid(), os.Getuid(), os.Getgid())
	fmt.Fprintf(&want, "boot %q\nexe %s\n", strings.TrimSpace(string(boot)), statLine(exe.Stat))
	for _, d := range e.Deps {
		call := "stat"
		if d.Lstat {
			call = "lstat"
		}
		if d.Identity {
			call += " identity"
		}
		fmt.Fprintf(&want, "dep %s errno=%d %s %q\n", call, uint32(d.Errno), statLine(d.Stat), d.Path)
	}
	fmt.Fprintf(&want, "rlimit %d cur=%d max=%d\nopenfd 0\nopenfd 2\nstderr \"rampart: a warning\\x0a\"\nrecord\n", unix.RLIMIT_CORE, rl.Cur, rl.Max)
	inPlace := strings.Replace(strings.Replace(richDump, "from=5 to=7", "from=7 to=7", 1), "from=6 to=3", "from=3 to=3", 1)
	for _, l := range strings.SplitAfter(strings.TrimSuffix(inPlace, "\n"), "\n") {
		want.WriteString("  " + l)
	}
	want.WriteString("\nhost landlock=7 flags=5\n")
	if got != want.String() {
		t.Errorf("dump:\n%s\nwant:\n%s", got, want.String())
	}

	// Damaged entries.
	ends := fieldEnds(b)
	for n := 0; n < len(b); n++ {
		if _, err := checkEntry(b[:n]); err == nil && !ends[n] {
			t.Errorf("an entry cut at %d of %d bytes parses", n, len(b))
		}
	}
	bad := bytes.Clone(b)
	binary.LittleEndian.PutUint16(bad[8:], 113)
	if _, err := checkEntry(bad); err == nil || !strings.Contains(err.Error(), "unknown field tag 113") {
		t.Errorf("unknown tag: %v", err)
	}
	w := &recordWriter{b: bytes.Clone(b)}
	w.field(CTagCwd, "/")
	if _, err := checkEntry(w.b); err == nil || !strings.Contains(err.Error(), "a second field of tag 103") {
		t.Errorf("second cwd: %v", err)
	}
	w = &recordWriter{b: bytes.Clone(b)}
	w.field(CTagOpenFD, uint16(1))
	if _, err := checkEntry(w.b); err == nil || !strings.Contains(err.Error(), "(tag 109): 2 bytes") {
		t.Errorf("short openfd: %v", err)
	}
	w = &recordWriter{b: []byte(CacheMagic)}
	w.field(CTagRecord, []byte("RRECORD1"))
	if _, err := checkEntry(w.b); err == nil || !strings.Contains(err.Error(), "no field of tag 103") {
		t.Errorf("no cwd: %v", err)
	}
}

// probeHost probes the host as the launcher does (cache.c, host_ok),
// written again in Go.
func probeHost() HostFacts {
	var h HostFacts
	const version, errata = 1, 2 // LANDLOCK_CREATE_RULESET_*
	if v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, version); e == 0 {
		h.LandlockABI = int(v)
		if v >= 6 {
			if er, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, errata); e != 0 || er&2 == 0 {
				h.LandlockABI = 5
			}
		}
	}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, 0); e == unix.EFAULT {
		h.Flags |= HostSeccomp
	}
	if _, _, e := unix.Syscall6(unix.SYS_PRCTL, unix.PR_GET_MDWE, 0, 0, 0, 0, 0); e == 0 {
		h.Flags |= HostMDWE
	}
	if SELinuxFS() {
		h.Flags |= HostSELinuxFS
	}
	return h
}

// richEntry is a cache entry with every kind of field.
func richEntry(t testing.TB) *Entry {
	rec, err := richSpec().Encode(true)
	if err != nil {
		t.Fatal(err)
	}
	return &Entry{
		Args: []string{"run", "--policy", "/p", "--", "ls"},
		Env:  []string{"HOME=/root", "X=\xff"},
		Cwd:  "/home",
		Deps: []Dep{StatDep("/", false), StatDep("/proc/self", true), StatDep("/nonexistent", false), {Path: ""},
			StatDep("/tmp", true).AsIdentity(), StatDep("/nonexistent", true).AsIdentity()},
		Rlimits: []RlimitCheck{{unix.RLIMIT_CORE, 0, ^uint64(0)}},
		OpenFDs: []int{0, 2, 1 << 20},
		Stderr:  "rampart run: gap: x\n\x00",
		Record:  rec,
	}
}

// entryFrom builds an Entry out of fuzz input: what the planner could
// store (paths and strings without NUL bytes, a record Encode writes).
func entryFrom(b []byte) *Entry {
	s := strings.ReplaceAll(string(b), "\x00", "")
	parts := strings.Split(s, "\n")
	var bits uint64
	for i := 0; i < len(b) && i < 8; i++ {
		bits |= uint64(b[i]) << (8 * i)
	}
	e := &Entry{Args: parts, Env: parts[len(parts)/2:], Cwd: parts[0], Stderr: string(b)}
	for i, p := range parts {
		d := Dep{Path: p, Lstat: i&1 != 0}
		if bits>>(i%64)&1 != 0 {
			d.Errno = unix.Errno(bits >> 8 & 0xff)
		}
		if d.Errno == 0 {
			d.Stat = StatID{Dev: bits, Ino: uint64(i), Mode: uint32(bits >> 16), UID: uint32(i), GID: uint32(bits >> 32),
				Size: int64(bits), MtimeSec: -int64(i), MtimeNsec: int64(bits >> 40), CtimeSec: int64(bits), CtimeNsec: 999999999}
		}
		if i%3 == 2 {
			d = d.AsIdentity()
		}
		e.Deps = append(e.Deps, d)
		e.Rlimits = append(e.Rlimits, RlimitCheck{Resource: i, Cur: bits, Max: ^bits})
		e.OpenFDs = append(e.OpenFDs, int(bits>>(i%64))&0x7fffffff)
	}
	rec, err := specFrom(b).Encode(true)
	if err != nil {
		rec, _ = (&Spec{Command: []string{"x"}, Path: "/x"}).Encode(true)
	}
	e.Record = rec
	return e
}

// FuzzEntry: any bytes give an error or a dump, never a crash; and what
// Entry.Encode writes always parses, with every field.
func FuzzEntry(f *testing.F) {
	for _, e := range []*Entry{richEntry(f), {Record: []byte("RRECORD1")}} {
		b, err := e.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if dump, err := checkEntry(b); err == nil && dump == "" {
			t.Fatal("an empty dump")
		}
		e := entryFrom(b)
		enc, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		dump, err := checkEntry(enc)
		if err != nil {
			t.Fatalf("Encode's entry does not parse: %v", err)
		}
		count := func(prefix string) int {
			n := 0
			for _, l := range strings.Split(dump, "\n") {
				if strings.HasPrefix(l, prefix) {
					n++
				}
			}
			return n
		}
		for _, c := range []struct {
			prefix string
			want   int
		}{{"arg ", len(e.Args)}, {"env ", len(e.Env)}, {"dep ", len(e.Deps)}, {"rlimit ", len(e.Rlimits)}, {"openfd ", len(e.OpenFDs)}, {"cwd ", 1}, {"record", 1}} {
			if got := count(c.prefix); got != c.want {
				t.Fatalf("%d %q lines, want %d:\n%s", got, c.prefix, c.want, dump)
			}
		}
	})
}

// ---- the launcher, end to end ----

// launched is the outcome of a launcher run.
type launched struct {
	code           int
	reports        []string
	stdout, stderr string
}

// launch runs rec with this binary's launcher (library mode), as package
// sandbox does, with the extra descriptors from fd 5 on.
func launch(t *testing.T, rec []byte, version string, extra []*os.File, started func(pid int), attr *syscall.SysProcAttr) launched {
	t.Helper()
	return launchEnv(t, rec, []string{Env + "=" + version}, extra, started, attr)
}

// launchEnv is launch with the launcher's environment.
func launchEnv(t *testing.T, rec []byte, env []string, extra []*os.File, started func(pid int), attr *syscall.SysProcAttr) launched {
	t.Helper()
	recR, recW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		recW.Write(rec)
		recW.Close()
	}()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(sp[0]), "reports"), os.NewFile(uintptr(sp[1]), "reports")
	defer ours.Close()
	var stdout, stderr bytes.Buffer
	exe := "/proc/self/exe"
	if attr != nil && attr.Credential != nil {
		exe = unprivilegedCopy(t)
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{"rampart-sandbox:test"},
		Env:        env,
		Stdout:     &stdout,
		Stderr:     &stderr,
		ExtraFiles: append([]*os.File{recR, theirs}, extra...),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if attr != nil {
		cmd.SysProcAttr = attr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	recR.Close()
	theirs.Close()
	// A launcher that outlives its command by far hangs.
	var hung atomic.Bool
	timer := time.AfterFunc(20*time.Second, func() {
		hung.Store(true)
		cmd.Process.Kill()
	})
	defer timer.Stop()
	var out launched
	buf := make([]byte, 4096)
	for {
		n, err := ours.Read(buf)
		if err != nil || n == 0 {
			break
		}
		out.reports = append(out.reports, string(buf[:n]))
		if buf[0] == 'S' && started != nil {
			started(cmd.Process.Pid)
		}
	}
	if err := cmd.Wait(); err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	out.code = cmd.ProcessState.ExitCode()
	if hung.Load() {
		t.Fatalf("the launcher hung (reports %q, stderr %q)", out.reports, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("the launcher died of %v (stderr %q)", ws.Signal(), stderr.String())
	}
	out.stdout, out.stderr = stdout.String(), stderr.String()
	return out
}

var copied string

// unprivilegedCopy copies this test binary where any user may execute
// it (go test builds it in a directory of mode 0700).
func unprivilegedCopy(t *testing.T) string {
	if copied != "" {
		return copied
	}
	dir, err := os.MkdirTemp("", "rampart-stage-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	copied = filepath.Join(dir, "stage.test")
	if err := os.WriteFile(copied, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return copied
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func landlockABI() int {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(abi)
}

// Landlock filesystem rights (linux/landlock.h).
const (
	llExecute  = 1 << 0
	llWrite    = 1 << 1
	llRead     = 1 << 2
	llReadDir  = 1 << 3
	llReadExec = llExecute | llRead | llReadDir
)

// sandboxSpec is a sandbox like rampart's default: read-only root,
// private /tmp, new /proc, every namespace, Landlock, a system-service
// allowlist.
func sandboxSpec(t *testing.T, script string) *Spec {
	t.Helper()
	arch, err := seccomp.NativeArch()
	if err != nil {
		t.Fatal(err)
	}
	names, _, err := seccomp.Expand(arch, []string{"@system-service"})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := (&seccomp.Spec{Arch: arch, Mode: seccomp.Allowlist, Names: names, Refuse: seccomp.ActionErrno(unix.EPERM)}).Program()
	if err != nil {
		t.Fatal(err)
	}
	s := &Spec{
		Compartment: "smoke",
		Command:     []string{"sh", "-c", script},
		Path:        "/bin/sh",
		Env:         []string{"PATH=/usr/bin:/bin", "LC_ALL=C"},
		Dir:         "/",
		Mount:       true, PID: true, IPC: true, UTS: true, Net: true,
		Hostname: "smoke",
		Mounts: []Mount{
			{Op: MountPrivate, Path: "/"},
			{Op: MountProc, Path: "/proc"},
			{Op: MountReadOnly, Path: "/"},
			{Op: MountTmpfs, Path: "/tmp"},
		},
		Seccomp: seccomp.Encode(prog),
		UID:     65534, GID: 65534, Groups: []int{65534}, Switch: true,
		DenyWriteExecute: true,
	}
	if abi := landlockABI(); abi > 0 {
		s.LandlockABI = abi
		s.HandledFS = 1<<13 - 1
		switch {
		case abi >= 5:
			s.HandledFS = 1<<16 - 1
		case abi >= 3:
			s.HandledFS = 1<<15 - 1
		case abi >= 2:
			s.HandledFS = 1<<14 - 1
		}
		if abi >= 4 {
			s.HandledNet = 3
		}
		if abi >= 6 {
			s.Scoped = 3
		}
		for _, p := range []string{"/usr", "/lib", "/lib64", "/bin", "/etc"} {
			s.Paths = append(s.Paths, PathRule{p, llReadExec})
		}
		s.Paths = append(s.Paths, PathRule{"/proc", llRead | llReadDir},
			PathRule{"/dev/null", llRead | llWrite}, PathRule{"/tmp", s.HandledFS})
	}
	return s
}

func encode(t *testing.T, s *Spec) []byte {
	t.Helper()
	b, err := s.Encode(false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantReports(t *testing.T, got launched, want ...string) {
	t.Helper()
	if strings.Join(got.reports, "\n") != strings.Join(want, "\n") {
		t.Errorf("reports %q, want %q (stderr %q)", got.reports, want, got.stderr)
	}
}

// The smoke test of the brief: a confined shell as nobody.
func TestLaunchSandbox(t *testing.T) {
	needRoot(t)
	script := `id; ls /root; grep -E "NoNewPrivs|CapEff|Seccomp:" /proc/self/status; hostname; grep -c "127.0.0.1" /proc/net/fib_trie;
echo x > /tmp/f && cat /tmp/f; ls /var 2>&1 >/dev/null | grep -c denied; touch /etc/rampart-test 2>&1 || echo no-etc; echo pid $$; exit 3`
	landlocked := "x\n1\n" // ls /var: no Landlock rule
	if landlockABI() == 0 {
		landlocked = "x\n0\n"
	}
	out := launch(t, encode(t, sandboxSpec(t, script)), Version, nil, nil, nil)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.stdout, out.stderr)
	if out.code != 3 {
		t.Errorf("exit %d, want 3", out.code)
	}
	wantReports(t, out, "S")
	for _, want := range []string{"uid=65534", "gid=65534", "NoNewPrivs:\t1", "CapEff:\t0000000000000000", "Seccomp:\t2", "smoke\n2\n", landlocked, "no-etc", "pid 2\n"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !strings.Contains(out.stderr, "/root") || !strings.Contains(out.stderr, "denied") {
		t.Errorf("ls /root was not refused: %q", out.stderr)
	}
}

// As an unprivileged user, in a user namespace.
func TestLaunchUnprivileged(t *testing.T) {
	needRoot(t) // to become nobody
	s := sandboxSpec(t, `id; grep -E "NoNewPrivs|CapEff" /proc/self/status; cat /proc/self/uid_map; read x; exit 4`)
	s.User, s.HostUID, s.HostGID = true, 65534, 65534
	s.Switch, s.Groups = false, nil
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s.KeepFDs = []int{0}
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out := launch(t, encode(t, s), Version, []*os.File{r}, func(pid int) {
		// The launcher and the init run as the command's uid, unconfined:
		// they are not dumpable, so their /proc files are root's and the
		// command cannot ptrace them or write their memory.
		for _, p := range []int{pid, child(pid)} {
			var st syscall.Stat_t
			if err := syscall.Stat(fmt.Sprintf("/proc/%d/mem", p), &st); err != nil || st.Uid != 0 {
				t.Errorf("/proc/%d/mem: uid %d, %v (dumpable)", p, st.Uid, err)
			}
		}
		w.Close()
	}, attr)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.stdout, out.stderr)
	if out.code != 4 {
		t.Errorf("exit %d, want 4", out.code)
	}
	wantReports(t, out, "S")
	for _, want := range []string{"uid=65534", "NoNewPrivs:\t1", "CapEff:\t0000000000000000", "65534      65534          1"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
}

// simpleSpec runs a script as root in a pid namespace, nothing else.
func simpleSpec(script string) *Spec {
	return &Spec{Compartment: "simple", Command: []string{"sh", "-c", script}, Path: "/bin/sh",
		Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/", PID: true, Capabilities: []int{0}}
}

func TestLaunchFailures(t *testing.T) {
	needRoot(t)
	notFound := simpleSpec("")
	notFound.Path = "/nonexistent"
	notFoundFiltered := sandboxSpec(t, "")
	notFoundFiltered.Path = "/nonexistent/sh"
	notExec := simpleSpec("")
	notExec.Path = "/etc/passwd"
	tmpfs := simpleSpec("")
	tmpfs.Mount = true
	tmpfs.Mounts = []Mount{{Op: MountTmpfs, Path: "/nonexistent"}}
	rlimit := simpleSpec("")
	rlimit.Rlimits = []Rlimit{{Name: "bogus", Resource: 99, Value: 1}}
	landlock := sandboxSpec(t, "")
	landlock.HandledFS |= 1 << 40 // a right no kernel has
	keep := simpleSpec("")
	keep.KeepFDs = []int{9}
	for _, tc := range []struct {
		name    string
		rec     []byte
		version string
		code    int
		report  string
	}{
		{"not found", encode(t, notFound), Version, 127, "E127 sandbox setup: starting /nonexistent: no such file or directory"},
		{"not found, filtered", encode(t, notFoundFiltered), Version, 127, "E127 sandbox setup: starting /nonexistent/sh: no such file or directory"},
		{"not executable", encode(t, notExec), Version, 126, "E126 sandbox setup: starting /etc/passwd: permission denied"},
		{"version", encode(t, notFound), "3", 125, `E125 sandbox setup: launcher protocol "3", want "4" (was rampart replaced while running?)`},
		{"record", []byte("RRECORD1\x01"), Version, 125, "E125 sandbox setup: launch record: truncated field header at offset 8"},
		{"mounts", encode(t, tmpfs), Version, 125, "E125 sandbox setup: mounts: tmpfs on /nonexistent: no such file or directory"},
		{"rlimits", encode(t, rlimit), Version, 125, "E125 sandbox setup: rlimits: bogus = 1: invalid argument"},
		{"descriptors", encode(t, keep), Version, 125, "E125 sandbox setup: descriptors: fd 9: bad file descriptor"},
	} {
		out := launch(t, tc.rec, tc.version, nil, nil, nil)
		if out.code != tc.code {
			t.Errorf("%s: exit %d, want %d", tc.name, out.code, tc.code)
		}
		wantReports(t, out, tc.report)
	}
	if landlockABI() > 0 {
		out := launch(t, encode(t, landlock), Version, nil, nil, nil)
		if out.code != 125 {
			t.Errorf("landlock: exit %d", out.code)
		}
		wantReports(t, out, "E125 sandbox setup: landlock: creating the ruleset: invalid argument")
	}
}

func TestLaunchWorkingDirectory(t *testing.T) {
	needRoot(t)
	s := sandboxSpec(t, "pwd")
	s.Dir = "/nonexistent"
	out := launch(t, encode(t, s), Version, nil, nil, nil)
	if out.code != 0 || out.stdout != "/\n" || out.stderr != "rampart: working directory /nonexistent is not visible in the sandbox; using /\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
	s = sandboxSpec(t, "pwd")
	s.Dir = "/root"
	out = launch(t, encode(t, s), Version, nil, nil, nil)
	if out.code != 0 || out.stdout != "/\n" || out.stderr != "rampart: working directory /root is not reachable as uid 65534 (permission denied); using /\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
}

func TestLaunchSignals(t *testing.T) {
	needRoot(t)
	// The launcher relays SIGTERM to the init, which relays it to the
	// command; the command's status passes through.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := simpleSpec(`trap "exit 42" TERM; echo ready >&3; exec 3>&-; while :; do sleep 0.01; done`)
	s.KeepFDs = []int{3}
	out := launch(t, encode(t, s), Version, []*os.File{w}, func(pid int) {
		w.Close()
		b := make([]byte, 10)
		r.Read(b) // the trap is set
		syscall.Kill(pid, syscall.SIGTERM)
	}, nil)
	if out.code != 42 {
		t.Errorf("exit %d, want 42 (stderr %q)", out.code, out.stderr)
	}
	// Killed by a signal: 128+N.
	out = launch(t, encode(t, simpleSpec(`kill -USR1 $$`)), Version, nil, nil, nil)
	if out.code != 128+int(syscall.SIGUSR1) {
		t.Errorf("exit %d, want %d", out.code, 128+int(syscall.SIGUSR1))
	}
}

// blockedScript is a command that waits on descriptor 3 (exit 5 at its
// EOF), and the pipe to pass as 3, whose writing end closes after a
// while: a signal that kills the command must come before.
func blockedScript(t *testing.T) (*Spec, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	time.AfterFunc(5*time.Second, func() { w.Close() })
	s := simpleSpec(`read x <&3; exit 5`)
	s.KeepFDs = []int{3}
	return s, r
}

// A signal the kernel sends to the launcher alone reaches the command:
// the SIGALRM of a timer that was running when "rampart run" was
// executed (alarm, then exec: a timeout).
func TestLaunchAlarm(t *testing.T) {
	needRoot(t)
	s, r := blockedScript(t)
	out := launchEnv(t, encode(t, s), []string{execEnv + "=alarm=1s,stage"}, []*os.File{r}, nil, nil)
	if want := 128 + int(syscall.SIGALRM); out.code != want {
		t.Errorf("exit %d, want %d (stderr %q)", out.code, want, out.stderr)
	}
}

// Ignored signals reach the command as the Go runtime passes them on
// (as package sandbox and a launch cache miss start the launcher): still
// ignored for SIGHUP, SIGINT and job control, reset to the default
// otherwise. An
// ignored SIGCHLD must not make the kernel reap the init and the
// command unseen (the launcher would wait forever).
func TestLaunchIgnoredSignals(t *testing.T) {
	needRoot(t)
	s := simpleSpec(`grep SigIgn /proc/self/status; exit 3`)
	steps := "ignore=1,ignore=2,ignore=10,ignore=13,ignore=15,ignore=17,ignore=20,ignore=40,stage"
	out := launchEnv(t, encode(t, s), []string{execEnv + "=" + steps}, nil, nil, nil)
	// SIGHUP, SIGINT and SIGTSTP stay ignored.
	if out.code != 3 || out.stdout != "SigIgn:\t0000000000080003\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
}

// A hangup of the terminal signals the session's leader alone: when that
// is the launcher ("ssh -t host rampart run ...", a terminal window
// running it), the command must get the SIGHUP, or it outlives its
// terminal.
func TestLaunchHangup(t *testing.T) {
	needRoot(t)
	ptmx, tty := ptytest.Open(t)
	s, r := blockedScript(t)
	// The launcher leads a session whose terminal is tty (its fd 6,
	// which the record does not keep).
	attr := &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 6, Pdeathsig: syscall.SIGKILL}
	out := launch(t, encode(t, s), Version, []*os.File{r, tty}, func(int) {
		tty.Close()
		ptmx.Close() // hangs the terminal up
	}, attr)
	if want := 128 + int(syscall.SIGHUP); out.code != want {
		t.Errorf("exit %d, want %d (stderr %q)", out.code, want, out.stderr)
	}
}

func TestLaunchKeepFDs(t *testing.T) {
	needRoot(t)
	var reads []*os.File
	var writes []*os.File
	for i := 0; i < 2; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		reads, writes = append(reads, r), append(writes, w)
	}
	s := simpleSpec(`echo seven >&7; echo three >&3; ls /proc/self/fd | tr '\n' ' '`)
	s.KeepFDs = []int{7, 3}
	out := launch(t, encode(t, s), Version, writes, nil, nil)
	for _, w := range writes {
		w.Close()
	}
	if out.code != 0 || out.stdout != "0 1 2 3 4 7 " { // 4: ls's own directory
		t.Errorf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
	for i, want := range []string{"seven\n", "three\n"} {
		b := make([]byte, 100)
		n, _ := reads[i].Read(b)
		if string(b[:n]) != want {
			t.Errorf("pipe %d: %q, want %q", i, b[:n], want)
		}
	}
}

func TestLaunchNotify(t *testing.T) {
	needRoot(t)
	arch, err := seccomp.NativeArch()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, arch.MaxNumber()+1)
	for nr := range names {
		names[nr] = arch.SyscallName(nr)
	}
	mkdir, denied := "mkdirat", []string{"mkdirat"}
	if runtime.GOARCH == "amd64" {
		mkdir, denied = "mkdir", []string{"mkdir", "mkdirat"}
	}
	nr, _ := arch.Number(mkdir)
	for _, kill := range []bool{false, true} {
		refuse := seccomp.ActionErrno(unix.EACCES)
		if kill {
			refuse = seccomp.ActionKillProcess
		}
		prog, err := (&seccomp.Spec{Arch: arch, Mode: seccomp.Denylist, Names: denied, Refuse: refuse, Notify: true}).Program()
		if err != nil {
			t.Fatal(err)
		}
		s := simpleSpec(`mkdir /nonexistent/x`)
		if !kill {
			s.Command[2] += `; echo status $?`
		}
		s.Seccomp, s.Notify, s.Refuse, s.Names = seccomp.Encode(prog), true, uint32(refuse), names
		out := launch(t, encode(t, s), Version, nil, nil, nil)
		if len(out.reports) < 2 || out.reports[0] != "S" || !strings.HasPrefix(out.reports[1], fmt.Sprintf("Rrefused syscall %s (%d) by pid ", mkdir, nr)) {
			t.Errorf("kill %v: reports %q", kill, out.reports)
		}
		if kill {
			if out.code != 128+int(syscall.SIGSYS) || len(out.reports) != 3 || out.reports[2] != "K"+mkdir {
				t.Errorf("kill: exit %d, reports %q", out.code, out.reports)
			}
		} else if out.code != 0 || !strings.Contains(out.stderr, "Permission denied") || out.stdout != "status 1\n" {
			t.Errorf("errno: exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
		}
	}
}

// runCached runs this binary as "rampart run" args, with env, in dir.
func runCached(t *testing.T, args, env []string, dir string) launched {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: append([]string{"rampart"}, args...), Env: env, Dir: dir, Stdout: &stdout, Stderr: &stderr}
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return launched{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// The launch cache: "rampart run" with a usable entry runs its record
// without the Go runtime; any difference is a miss that leaves nothing
// behind.
func TestLaunchCached(t *testing.T) {
	dir := t.TempDir()
	cdir := filepath.Join(dir, "cache")
	if err := os.Mkdir(cdir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{missEnv + "=1", "RAMPART_RUN_CACHE=" + cdir, "PATH=/usr/bin:/bin"}
	args := []string{"run", "--", "sh"}
	s := &Spec{Compartment: "cached", Command: []string{"sh", "-c", `echo hi $0 >&3; exit 7`, "arg0"}, Path: "/bin/sh",
		Env: []string{"X=1"}, Dir: "/", KeepFDs: []int{3}, Capabilities: []int{}}
	if os.Geteuid() == 0 {
		s.PID = true
	} else {
		// Dropping the bounding set takes CAP_SETPCAP: a user namespace.
		s.User, s.HostUID, s.HostGID, s.UID, s.GID = true, os.Geteuid(), os.Getegid(), os.Geteuid(), os.Getegid()
	}
	rec, err := s.Encode(true)
	if err != nil {
		t.Fatal(err)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &rl); err != nil {
		t.Fatal(err)
	}
	e := &Entry{Args: args, Env: env, Cwd: dir, Deps: []Dep{StatDep("/bin/sh", false), StatDep("/nonexistent", true)},
		Rlimits: []RlimitCheck{{unix.RLIMIT_CORE, rl.Cur, rl.Max}}, OpenFDs: []int{0, 1, 2}, Host: probeHost(),
		Stderr: "rampart: note\n", Record: rec}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got := CacheDir(os.Geteuid(), env); got != cdir {
		t.Fatalf("CacheDir %q", got)
	}
	file := filepath.Join(cdir, CacheKey(args, env, dir))
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(file)

	// Descriptor 3 of "rampart run" is kept in place: the shell's
	// stdout redirected there shows up in our stdout.
	// With prepare, this binary first carries out those steps of
	// execPrepared and then executes itself with env.
	hit := func(prepare ...string) launched {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmdEnv := env
		if len(prepare) > 0 {
			cmdEnv = append([]string{execEnv + "=" + strings.Join(prepare, ",")}, env...)
		}
		cmd := &exec.Cmd{Path: "/proc/self/exe", Args: append([]string{"rampart"}, args...), Env: cmdEnv, Dir: dir, Stdout: &stdout, Stderr: &stderr}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{w}
		err = cmd.Start()
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
		defer timer.Stop()
		out := make([]byte, 100)
		n, _ := r.Read(out)
		r.Close()
		cmd.Wait()
		if !timer.Stop() {
			t.Fatalf("the launcher hung (prepared with %q)", prepare)
		}
		return launched{code: cmd.ProcessState.ExitCode(), stdout: string(out[:n]) + stdout.String(), stderr: stderr.String()}
	}
	out := hit()
	if out.code != 7 || out.stdout != "hi arg0\n" || out.stderr != "rampart: note\n" {
		t.Errorf("hit: exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}
	// A caller that ignores SIGCHLD (inherited through execve): the
	// kernel must not reap the init unseen.
	out = hit("ignore=17")
	if out.code != 7 || out.stdout != "hi arg0\n" {
		t.Errorf("hit, SIGCHLD ignored: exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
	}

	// Misses: the Go runtime starts (and TestMain lists its
	// descriptors), with no descriptor of the cache left open.
	miss := func(what string, out launched) {
		t.Helper()
		if out.code != missExit || !strings.Contains(out.stdout, "fd 0 ") || strings.Contains(out.stdout, cdir) || out.stderr != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", what, out.code, out.stdout, out.stderr)
		}
	}
	miss("other arguments", runCached(t, []string{"run", "--", "sh", "x"}, env, dir))
	miss("other environment", runCached(t, args, append(env, "Y=2"), dir))
	e2 := *e
	e2.OpenFDs = []int{0, 1, 2, 3}
	if b, err = e2.Encode(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, b, 0o600)
	miss("descriptor 3 recorded, closed", runCached(t, args, env, dir))
	for name, change := range map[string]func(*Entry){
		"dependency": func(e *Entry) { e.Deps[0].Stat.MtimeNsec++ },
		"errno":      func(e *Entry) { e.Deps[1].Errno = unix.EACCES },
		"rlimit":     func(e *Entry) { e.Rlimits[0].Cur-- },
		"open fd":    func(e *Entry) { e.OpenFDs = append(e.OpenFDs, 100) },
		"bad record": func(e *Entry) { e.Record = e.Record[:len(e.Record)-1] },
		"landlock":   func(e *Entry) { e.Host.LandlockABI++ },
		"seccomp":    func(e *Entry) { e.Host.Flags ^= HostSeccomp },
		"mdwe":       func(e *Entry) { e.Host.Flags ^= HostMDWE },
		"selinuxfs":  func(e *Entry) { e.Host.Flags ^= HostSELinuxFS },
		"not in place": func(e *Entry) {
			e.Record, _ = (&Spec{Command: []string{"x"}, Path: "/x", KeepFDs: []int{3}}).Encode(false)
		},
	} {
		e2 := *e
		e2.Deps = append([]Dep(nil), e.Deps...)
		e2.Rlimits = append([]RlimitCheck(nil), e.Rlimits...)
		change(&e2)
		if b, err = e2.Encode(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, b, 0o600)
		miss(name, hit())
	}
	// An identity fact of a directory holds while names come and go in
	// it, and not once it is another directory or its mode changed; a
	// full fact of it does not hold after a name was added.
	idDir := filepath.Join(dir, "crossed")
	if err := os.Mkdir(idDir, 0o755); err != nil {
		t.Fatal(err)
	}
	withDep := func(d Dep) {
		t.Helper()
		e2 := *e
		e2.Deps = append(append([]Dep(nil), e.Deps...), d)
		if b, err = e2.Encode(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, b, 0o600)
	}
	full := StatDep(idDir, true)
	withDep(full.AsIdentity())
	if out := hit(); out.code != 7 {
		t.Errorf("hit, identity fact: exit %d, stderr %q", out.code, out.stderr)
	}
	for !time.Unix(full.Stat.MtimeSec, full.Stat.MtimeNsec).Before(time.Now().Add(-10 * time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(idDir, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := hit(); out.code != 7 {
		t.Errorf("hit, identity fact, a name added: exit %d, stderr %q", out.code, out.stderr)
	}
	withDep(full)
	miss("full fact, a name added", hit())
	withDep(full.AsIdentity())
	os.Chmod(idDir, 0o700)
	miss("identity fact, mode changed", hit())
	os.Chmod(idDir, 0o755)
	if out := hit(); out.code != 7 {
		t.Errorf("hit, identity fact, mode back: exit %d, stderr %q", out.code, out.stderr)
	}
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.RemoveAll(idDir)
	if err := os.Rename(other, idDir); err != nil {
		t.Fatal(err)
	}
	miss("identity fact, another directory", hit())

	// RLIMIT_NOFILE, as the Go planner saw it: the Go runtime raises its
	// soft limit as it starts. A caller whose soft limit is below the
	// hard one (the usual 1024) hits an entry that checks it.
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		t.Fatal(err)
	}
	if nofile.Max > 200 {
		var stdout bytes.Buffer
		cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{"nofile"}, Env: []string{execEnv + "=nofile=100", nofileEnv + "=1"}, Stdout: &stdout, Stderr: os.Stderr}
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		var goCur, goMax uint64
		if _, err := fmt.Sscan(stdout.String(), &goCur, &goMax); err != nil || goMax != nofile.Max {
			t.Fatalf("the Go runtime's RLIMIT_NOFILE with a soft limit of 100: %q (%v)", stdout.String(), err)
		}
		e2 := *e
		e2.Rlimits = append([]RlimitCheck{{unix.RLIMIT_NOFILE, goCur, goMax}}, e.Rlimits...)
		if b, err = e2.Encode(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, b, 0o600)
		if out := hit("nofile=100"); out.code != 7 {
			t.Errorf("hit, soft RLIMIT_NOFILE 100 (Go saw %d): exit %d, stdout %q", goCur, out.code, out.stdout)
		}
		if out := hit("nofile=" + strconv.FormatUint(goCur, 10)); out.code != 7 {
			t.Errorf("hit, soft RLIMIT_NOFILE %d: exit %d, stdout %q", goCur, out.code, out.stdout)
		}
		e2.Rlimits[0].Cur = 100
		if b, err = e2.Encode(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, b, 0o600)
		miss("RLIMIT_NOFILE as the caller has it, not as Go sees it", hit("nofile=100"))
		if b, err = e.Encode(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, b, 0o600)
	}

	// The file must be the caller's and not writable by others.
	if b, err = e.Encode(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, b, 0o600)
	if out := hit(); out.code != 7 {
		t.Errorf("hit again: exit %d, stderr %q", out.code, out.stderr)
	}
	os.Chmod(file, 0o622)
	miss("group-writable entry", hit())
	os.Chmod(file, 0o600)
	os.Chmod(cdir, 0o750)
	miss("group-readable directory", hit())
	os.Chmod(cdir, 0o700)
	// A symlink to the directory is not the directory.
	link := filepath.Join(dir, "link")
	os.Symlink(cdir, link)
	for i, v := range env {
		if strings.HasPrefix(v, "RAMPART_RUN_CACHE=") {
			env[i] = "RAMPART_RUN_CACHE=" + link
		}
	}
	file = filepath.Join(cdir, CacheKey(args, env, dir))
	os.WriteFile(file, b, 0o600)
	miss("symlinked directory", hit())
}

// fds lists the open descriptors of pid above 2, as "n:target".
func fds(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd/", pid)
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if l, err := os.Readlink(dir + e.Name()); err == nil && e.Name() != "0" && e.Name() != "1" && e.Name() != "2" {
			out = append(out, e.Name()+":"+l)
		}
	}
	return out
}

// waitSleeping waits until pid is sleep(1) blocked in clock_nanosleep,
// past the dynamic loader, which holds the libraries open for a moment.
func waitSleeping(t *testing.T, pid int) {
	t.Helper()
	for range 500 {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		sc, _ := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		nr, _, _ := strings.Cut(string(sc), " ")
		if string(comm) == "sleep\n" && nr == strconv.Itoa(unix.SYS_CLOCK_NANOSLEEP) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("pid %d never blocked in sleep", pid)
}

func child(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var c int
	fmt.Sscan(string(b), &c)
	return c
}

// The launcher, the init and the command hold exactly the descriptors
// they need: a stray one the launcher inherited reaches none of them.
func TestLaunchDescriptors(t *testing.T) {
	needRoot(t)
	for _, notify := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		stray, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		s := sandboxSpec(t, "exec 9>&-; exec sleep 5")
		s.Notify, s.Refuse, s.Names = notify, 0x50001, []string{"read"}
		s.KeepFDs = []int{9} // from fd 5 (w); fd 6 (stray) is not kept
		var got [3][]string
		out := launch(t, encode(t, s), Version, []*os.File{w, stray}, func(pid int) {
			w.Close()
			stray.Close()
			r.Read(make([]byte, 1)) // EOF: the command closed 9, the init its copy
			ipid := child(pid)
			cpid := child(ipid)
			waitSleeping(t, cpid)
			got = [3][]string{fds(pid), fds(ipid), fds(cpid)}
			syscall.Kill(pid, syscall.SIGTERM)
		}, nil)
		r.Close()
		want := [3]string{"3:anon_inode:[signalfd]", "3:anon_inode:[signalfd]", ""}
		if notify {
			want[1] = "3:anon_inode:[signalfd] 4:anon_inode:seccomp notify N:socket:[*]"
		}
		for i, who := range []string{"launcher", "init", "command"} {
			// The report socket moves to the lowest free descriptor above
			// the kept ones (9); which one that is depends on what the
			// test process happened to have open.
			var g []string
			for _, f := range got[i] {
				n, target, _ := strings.Cut(f, ":")
				if strings.HasPrefix(target, "socket:[") {
					if fd, _ := strconv.Atoi(n); fd <= 9 {
						t.Errorf("notify %v: the %s's report socket is fd %d, not above the kept fd 9", notify, who, fd)
					}
					f = "N:socket:[*]"
				}
				g = append(g, f)
			}
			slices.Sort(g)
			if strings.Join(g, " ") != want[i] {
				t.Errorf("notify %v: the %s's descriptors: %q, want %q", notify, who, g, want[i])
			}
		}
		if out.code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit %d", out.code)
		}
	}
}

// The launcher's C list of relayed signals is Forwarded, in order.
func TestForwardedAgree(t *testing.T) {
	var want []int
	for _, s := range Forwarded {
		want = append(want, int(s))
	}
	if got := forwarded(); !slices.Equal(got, want) {
		t.Errorf("the launcher relays %v, Forwarded says %v", got, want)
	}
}
