package seccomp

import "sort"

// dangerous lists syscalls that widen the kernel's attack surface or
// undo other confinement, with the reason. Like minijail's
// seccomp_policy_lint.py and systemd-analyze security's SystemCallFilter=
// checks, a lint flags them when an allowlist contains them; a
// compartment that lists no syscalls gets them refused (DefaultDenylist).
var dangerous = [...]struct{ name, reason string }{
	{"ptrace", "inspects and controls other processes"},
	{"process_vm_readv", "reads other processes' memory"},
	{"process_vm_writev", "writes other processes' memory"},
	{"pidfd_getfd", "steals file descriptors from other processes"},
	{"kcmp", "compares kernel objects of other processes"},
	{"bpf", "loads eBPF programs (large kernel attack surface)"},
	{"perf_event_open", "kernel performance events (frequent kernel exploits)"},
	{"userfaultfd", "user-space page faults (a classic exploit primitive for kernel races)"},
	{"io_uring_setup", "io_uring operations bypass seccomp filtering"},
	{"io_uring_enter", "io_uring operations bypass seccomp filtering"},
	{"io_uring_register", "io_uring operations bypass seccomp filtering"},
	{"keyctl", "kernel keyrings (shared across namespaces; frequent kernel bugs)"},
	{"add_key", "kernel keyrings (shared across namespaces; frequent kernel bugs)"},
	{"request_key", "kernel keyrings (shared across namespaces; frequent kernel bugs)"},
	{"mount", "changes the mount table"},
	{"umount2", "changes the mount table"},
	{"pivot_root", "changes the root filesystem"},
	{"fsopen", "new mount API"},
	{"fsconfig", "new mount API"},
	{"fsmount", "new mount API"},
	{"fspick", "new mount API"},
	{"move_mount", "new mount API"},
	{"open_tree", "new mount API"},
	{"mount_setattr", "changes mount attributes"},
	{"unshare", "creates namespaces (user namespaces expose more kernel code)"},
	{"setns", "joins namespaces"},
	{"init_module", "loads kernel modules"},
	{"finit_module", "loads kernel modules"},
	{"delete_module", "unloads kernel modules"},
	{"kexec_load", "replaces the running kernel"},
	{"kexec_file_load", "replaces the running kernel"},
	{"reboot", "reboots the machine"},
	{"swapon", "changes swap devices"},
	{"swapoff", "changes swap devices"},
	{"acct", "process accounting"},
	{"quotactl", "filesystem quotas"},
	{"open_by_handle_at", "opens files by handle, bypassing path checks (the 'shocker' container escape)"},
	{"iopl", "raw I/O port access"},
	{"ioperm", "raw I/O port access"},
	{"modify_ldt", "changes the local descriptor table (exploit aid)"},
	{"lookup_dcookie", "kernel profiling interface"},
	{"syslog", "reads the kernel log"},
	{"personality", "changes the execution domain (e.g. READ_IMPLIES_EXEC)"},
	{"vmsplice", "page-reference tricks used by kernel exploits"},
	{"settimeofday", "sets the system clock"},
	{"clock_settime", "sets the system clock"},
	{"clock_adjtime", "sets the system clock"},
	{"adjtimex", "sets the system clock"},
}

// Finding is a lint result.
type Finding struct {
	Syscall string `json:"syscall"`
	Reason  string `json:"reason"`
}

// Lint returns the dangerous syscalls among names (an expanded
// allowlist), sorted by name.
func Lint(names []string) []Finding {
	var fs []Finding
	for _, n := range names {
		for _, d := range dangerous {
			if d.name == n {
				fs = append(fs, Finding{n, d.reason})
			}
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Syscall < fs[j].Syscall })
	return fs
}

// DefaultDenylist returns the syscalls refused to a compartment that
// lists none (instead of leaving it unrestricted): the dangerous ones
// that a's table knows, sorted. "personality", "vmsplice" and the clock
// setters are left out: the first is needed by ordinary programs (setarch,
// some emulators), the others are harmless without capabilities or
// common in data pipes; unshare is left to Spec.RestrictNamespaces, which
// refuses only its namespace flags.
func DefaultDenylist(a *Arch) []string {
	var out []string
	for _, d := range dangerous {
		n := d.name
		switch n {
		case "personality", "vmsplice", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "kcmp", "unshare":
			continue
		}
		if _, ok := a.numbers[n]; ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
