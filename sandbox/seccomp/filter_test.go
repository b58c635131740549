package seccomp

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/rampart-sec/rampart/policy"
	"golang.org/x/sys/unix"
)

// run interprets a classic BPF seccomp program the way the kernel does,
// on a seccomp_data of (nr, arch, args), and returns the verdict.
func run(t *testing.T, prog []unix.SockFilter, nr int32, arch uint32, args [6]uint64) Action {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[0:], uint32(nr))
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		f := prog[pc]
		switch f.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if f.K+4 > uint32(len(data)) || f.K%4 != 0 {
				t.Fatalf("pc %d: bad load offset %d", pc, f.K)
			}
			acc = binary.LittleEndian.Uint32(data[f.K:])
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(f.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var cond bool
			switch f.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				cond = acc == f.K
			case unix.BPF_JGE:
				cond = acc >= f.K
			case unix.BPF_JSET:
				cond = acc&f.K != 0
			}
			if cond {
				pc += int(f.Jt)
			} else {
				pc += int(f.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return Action(f.K)
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, f.Code)
		}
	}
	t.Fatalf("program fell off its end")
	return 0
}

func mustArch(t *testing.T, goarch string) *Arch {
	t.Helper()
	a, err := ArchFor(goarch)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestGroupsMatchPolicy(t *testing.T) {
	if got, want := Groups(), policy.SyscallGroups(); !slices.Equal(got, sortedCopy(want)) {
		t.Fatalf("seccomp groups %v\npolicy accepts %v", got, want)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestExpand(t *testing.T) {
	a := mustArch(t, "amd64")
	names, unknown, err := Expand(a, []string{"@basic-io", "mmap", "no_such_call", "_llseek"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"read", "write", "close", "mmap", "pread64"} {
		if !slices.Contains(names, n) {
			t.Errorf("%s missing from %v", n, names)
		}
	}
	// _llseek is in @basic-io but not on x86_64: dropped silently from
	// the group, reported when named directly.
	if slices.Contains(names, "_llseek") {
		t.Errorf("_llseek kept on x86_64")
	}
	if !slices.Equal(unknown, []string{"no_such_call", "_llseek"}) {
		t.Errorf("unknown = %v", unknown)
	}
	if _, _, err := Expand(a, []string{"@no-such-group"}); err == nil {
		t.Errorf("unknown group accepted")
	}
	// Nested groups: @system-service includes @basic-io, @default, @process.
	ss, _, err := Expand(a, []string{"@system-service"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"read", "execve", "clone", "keyctl", "socket", "ioctl"} {
		if !slices.Contains(ss, n) {
			t.Errorf("@system-service lacks %s", n)
		}
	}
	if slices.Contains(ss, "mount") || slices.Contains(ss, "init_module") {
		t.Errorf("@system-service has mount or init_module")
	}
	known, _, _ := Expand(a, []string{"@known"})
	if len(known) != len(a.numbers) {
		t.Errorf("@known: %d names, table has %d", len(known), len(a.numbers))
	}
}

func TestProgramVerdicts(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		t.Run(goarch, func(t *testing.T) {
			a := mustArch(t, goarch)
			allowed, _, err := Expand(a, []string{"@default", "@basic-io", "socket", "ioctl", "clone", "unshare", "setns"})
			if err != nil {
				t.Fatal(err)
			}
			for _, refuse := range []Action{ActionErrno(unix.EPERM), ActionKillProcess} {
				s := &Spec{Arch: a, Mode: Allowlist, Names: allowed, Refuse: refuse,
					RestrictNamespaces: true, DenyMPTCP: true, DenyVsock: true, DenyTIOCSTI: true}
				prog, err := s.Program()
				if err != nil {
					t.Fatal(err)
				}
				nr := func(n string) int32 {
					x, ok := a.Number(n)
					if !ok {
						t.Fatalf("no syscall %s", n)
					}
					return int32(x)
				}
				eperm := ActionErrno(unix.EPERM)
				cases := []struct {
					name string
					nr   int32
					arch uint32
					args [6]uint64
					want Action
				}{
					{"read", nr("read"), a.AuditArch, [6]uint64{}, ActionAllow},
					{"execve", nr("execve"), a.AuditArch, [6]uint64{}, ActionAllow},
					{"openat refused", nr("openat"), a.AuditArch, [6]uint64{}, refuse},
					{"ptrace refused", nr("ptrace"), a.AuditArch, [6]uint64{}, refuse},
					{"foreign arch", nr("read"), unix.AUDIT_ARCH_I386, [6]uint64{}, ActionKillProcess},
					{"beyond table", int32(a.MaxNumber() + 1), a.AuditArch, [6]uint64{}, ActionErrno(unix.ENOSYS)},
					{"tcp socket", nr("socket"), a.AuditArch, [6]uint64{unix.AF_INET, unix.SOCK_STREAM, 0}, ActionAllow},
					{"mptcp socket", nr("socket"), a.AuditArch, [6]uint64{unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP}, ActionErrno(unix.EPROTONOSUPPORT)},
					{"vsock socket", nr("socket"), a.AuditArch, [6]uint64{unix.AF_VSOCK, unix.SOCK_STREAM, 0}, ActionErrno(unix.EAFNOSUPPORT)},
					{"ioctl TCGETS", nr("ioctl"), a.AuditArch, [6]uint64{0, unix.TCGETS}, ActionAllow},
					{"ioctl TIOCSTI", nr("ioctl"), a.AuditArch, [6]uint64{0, unix.TIOCSTI}, eperm},
					// The kernel reads ioctl's request as 32 bits: high bits must not hide it.
					{"ioctl TIOCSTI high bits", nr("ioctl"), a.AuditArch, [6]uint64{0, 1<<32 | unix.TIOCSTI}, eperm},
					{"clone thread", nr("clone"), a.AuditArch, [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD}, ActionAllow},
					{"clone newuser", nr("clone"), a.AuditArch, [6]uint64{unix.CLONE_NEWUSER}, eperm},
					{"unshare files", nr("unshare"), a.AuditArch, [6]uint64{unix.CLONE_FILES}, ActionAllow},
					{"unshare newnet", nr("unshare"), a.AuditArch, [6]uint64{unix.CLONE_NEWNET}, eperm},
					{"setns", nr("setns"), a.AuditArch, [6]uint64{}, eperm},
					{"clone3", nr("clone3"), a.AuditArch, [6]uint64{}, ActionErrno(unix.ENOSYS)},
				}
				if a.X32 {
					cases = append(cases, struct {
						name string
						nr   int32
						arch uint32
						args [6]uint64
						want Action
					}{"x32 read", nr("read") | x32SyscallBit, a.AuditArch, [6]uint64{}, refuse})
				}
				for _, c := range cases {
					if got := run(t, prog, c.nr, c.arch, c.args); got != c.want {
						t.Errorf("%s (refuse %v): got %v, want %v", c.name, refuse, got, c.want)
					}
				}
				// Every table entry gets exactly its expected verdict.
				for name, n := range a.numbers {
					want := refuse
					if slices.Contains(allowed, name) {
						want = ActionAllow
					}
					switch name {
					case "setns":
						want = eperm
					case "clone3":
						want = ActionErrno(unix.ENOSYS)
					}
					if got := run(t, prog, int32(n), a.AuditArch, [6]uint64{unix.AF_INET, unix.SOCK_STREAM}); got != want {
						t.Errorf("%s: got %v, want %v", name, got, want)
					}
				}
			}
		})
	}
}

func TestDenylist(t *testing.T) {
	a := mustArch(t, "amd64")
	deny := DefaultDenylist(a)
	for _, n := range []string{"ptrace", "bpf", "mount", "init_module", "finit_module", "keyctl", "userfaultfd", "perf_event_open", "kexec_load"} {
		if !slices.Contains(deny, n) {
			t.Errorf("default denylist lacks %s", n)
		}
	}
	s := &Spec{Arch: a, Mode: Denylist, Names: deny, Refuse: ActionErrno(unix.EPERM), RestrictNamespaces: true}
	prog, err := s.Program()
	if err != nil {
		t.Fatal(err)
	}
	ptrace, _ := a.Number("ptrace")
	openat, _ := a.Number("openat")
	unshare, _ := a.Number("unshare")
	if got := run(t, prog, int32(ptrace), a.AuditArch, [6]uint64{}); got != ActionErrno(unix.EPERM) {
		t.Errorf("ptrace: %v", got)
	}
	if got := run(t, prog, int32(openat), a.AuditArch, [6]uint64{}); got != ActionAllow {
		t.Errorf("openat: %v", got)
	}
	if got := run(t, prog, int32(unshare), a.AuditArch, [6]uint64{unix.CLONE_NEWUSER}); got != ActionErrno(unix.EPERM) {
		t.Errorf("unshare(NEWUSER): %v", got)
	}
}

func TestLint(t *testing.T) {
	a := mustArch(t, "amd64")
	names, _, _ := Expand(a, []string{"@system-service"})
	var got []string
	for _, f := range Lint(names) {
		got = append(got, f.Syscall)
	}
	// @system-service includes @keyring, @aio (io_uring) and userfaultfd.
	for _, n := range []string{"keyctl", "io_uring_setup", "userfaultfd"} {
		if !slices.Contains(got, n) {
			t.Errorf("lint of @system-service misses %s: %v", n, got)
		}
	}
	if len(Lint([]string{"read", "write"})) != 0 {
		t.Errorf("lint flags read/write")
	}
}

func TestActionStrings(t *testing.T) {
	for s, want := range map[string]string{"kill": "kill", "errno": "errno EPERM", "errno:EACCES": "errno EACCES"} {
		a, err := ParseAction(s)
		if err != nil || a.String() != want {
			t.Errorf("ParseAction(%q) = %v, %v; want %s", s, a, err, want)
		}
	}
	if _, err := ParseAction("trap"); err == nil {
		t.Errorf("trap accepted")
	}
	prog := []unix.SockFilter{{Code: 1, Jt: 2, Jf: 3, K: 0xdeadbeef}}
	back, err := Decode(Encode(prog))
	if err != nil || !slices.Equal(back, prog) {
		t.Errorf("Decode(Encode) = %v, %v", back, err)
	}
}

// TestKernel installs filters in a child process (this test binary,
// re-executed) and checks the kernel's verdicts.
func TestKernel(t *testing.T) {
	if !Available() {
		t.Skip("seccomp filters not supported by this kernel")
	}
	if _, err := NativeArch(); err != nil {
		t.Skip(err)
	}
	for _, mode := range []string{"errno", "kill"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "RAMPART_SECCOMP_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		t.Logf("%s child:\n%s", mode, out)
		switch mode {
		case "errno":
			if err != nil {
				t.Fatalf("errno child failed: %v", err)
			}
			for _, want := range []string{"getpid ok", "getcwd EPERM", "mptcp EPROTONOSUPPORT", "unshare EPERM", "clone3 ENOSYS", "beyond ENOSYS", "x32 EPERM"} {
				if !strings.Contains(string(out), want+"\n") {
					t.Errorf("errno child: missing %q", want)
				}
			}
		case "kill":
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("kill child: %v", err)
			}
			ws := ee.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
				t.Fatalf("kill child: status %v, want killed by SIGSYS", ws)
			}
			if !strings.Contains(string(out), "getpid ok\n") || strings.Contains(string(out), "getcwd") {
				t.Errorf("kill child: output %q", out)
			}
		}
	}
}

func TestMain(m *testing.M) {
	if mode := os.Getenv("RAMPART_SECCOMP_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child installs a filter on its main thread and reports syscall results
// on stdout.
func child(mode string) int {
	runtime.LockOSThread()
	a, err := NativeArch()
	if err != nil {
		fmt.Println(err)
		return 2
	}
	refuse, _ := ParseAction(mode)
	names, _, err := Expand(a, []string{"@default", "@basic-io", "@signal", "mmap", "munmap", "madvise", "mprotect", "socket", "unshare", "clone", "sigaltstack", "getpid"})
	if err != nil {
		fmt.Println(err)
		return 2
	}
	s := &Spec{Arch: a, Mode: Allowlist, Names: names, Refuse: refuse, RestrictNamespaces: true, DenyMPTCP: true, DenyTIOCSTI: true}
	prog, err := s.Program()
	if err != nil {
		fmt.Println(err)
		return 2
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println(err)
		return 2
	}
	if err := Install(prog); err != nil {
		fmt.Println(err)
		return 2
	}
	report := func(what string, e syscall.Errno) {
		if e == 0 {
			os.Stdout.WriteString(what + " ok\n")
		} else {
			os.Stdout.WriteString(what + " " + unix.ErrnoName(e) + "\n")
		}
	}
	_, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	report("getpid", e)
	var buf [256]byte
	_, _, e = unix.RawSyscall(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), 256, 0)
	report("getcwd", e)
	_, _, e = unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)
	report("mptcp", e)
	_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	report("unshare", e)
	_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	report("clone3", e)
	_, _, e = unix.RawSyscall(uintptr(a.MaxNumber()+1), 0, 0, 0)
	report("beyond", e)
	if a.X32 {
		_, _, e = unix.RawSyscall(unix.SYS_GETPID|x32SyscallBit, 0, 0, 0)
		report("x32", e)
	}
	return 0
}
