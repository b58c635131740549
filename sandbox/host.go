package sandbox

import (
	"os"
	"runtime"
	"strings"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/sandbox/seccomp"
)

// Host is what the running kernel and the caller can enforce. Build
// detects it unless Options.Host is set (tests use that to see the plan a
// different kernel would get).
type Host struct {
	// Kernel is the kernel release (uname -r).
	Kernel string `json:"kernel"`
	// Arch is the machine (uname -m).
	Arch string `json:"arch"`
	// LandlockABI is the Landlock ABI version (0: no Landlock), after
	// the errata check go-landlock applies (an ABI 6+ kernel without the
	// signal-scoping fix counts as 5).
	LandlockABI int `json:"landlock_abi"`
	// Seccomp reports seccomp filter support, and that rampart has a
	// syscall table for the architecture.
	Seccomp bool `json:"seccomp"`
	// MDWE reports prctl(PR_SET_MDWE) support (Linux 6.3+).
	MDWE bool `json:"mdwe"`
	// SELinux reports that SELinux is enabled.
	SELinux bool `json:"selinux"`
	// UID and GID are the caller's effective ids; a caller that is not
	// root runs the sandbox in a user namespace.
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// DetectHost probes the running kernel.
func DetectHost() Host {
	h := Host{UID: os.Geteuid(), GID: os.Getegid()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
		h.Arch = unix.ByteSliceToString(u.Machine[:])
	}
	h.LandlockABI = landlockABI()
	_, archErr := seccomp.NativeArch()
	h.Seccomp = archErr == nil && seccomp.Available()
	// PR_GET_MDWE answers on kernels that know MDWE, EINVAL otherwise.
	_, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_GET_MDWE, 0, 0, 0, 0, 0)
	h.MDWE = e == 0
	h.SELinux = runtime.GOOS == "linux" && selinux.GetEnabled()
	return h
}

// landlockABI returns the usable Landlock ABI version, like go-landlock
// does: an ABI 6+ kernel whose errata lack the signal scoping fix (bit 1)
// is treated as ABI 5.
func landlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil || v < 0 {
		return 0
	}
	if v >= 6 {
		errata, err := ll.LandlockGetErrata()
		if err != nil || errata&0x2 == 0 {
			v = 5
		}
	}
	return v
}

// String formats h for the explanation.
func (h Host) String() string {
	var b strings.Builder
	b.WriteString("Linux " + h.Kernel + " " + h.Arch)
	if h.LandlockABI > 0 {
		b.WriteString(", Landlock ABI " + itoa(h.LandlockABI))
	} else {
		b.WriteString(", no Landlock")
	}
	if h.Seccomp {
		b.WriteString(", seccomp")
	} else {
		b.WriteString(", no seccomp")
	}
	if h.MDWE {
		b.WriteString(", MDWE")
	}
	if h.SELinux {
		b.WriteString(", SELinux enabled")
	} else {
		b.WriteString(", SELinux disabled")
	}
	return b.String()
}
