// Package seccomp builds and installs the seccomp-bpf syscall filters of
// rampart's confinement: an allowlist expanded from systemd-style syscall
// groups ("@system-service", "@basic-io", …) and names, or, for a
// compartment that lists no syscalls, a denylist of dangerous syscalls.
//
// The BPF program is emitted here rather than with a library:
//
//   - the architecture is checked first and a foreign architecture kills
//     the process, whatever the default action (on amd64, i386 compat
//     calls are foreign); x32 calls are refused with the default action;
//   - syscall numbers above the architecture's table get ENOSYS, so a
//     libc that probes a newer syscall falls back instead of failing;
//   - a few rules look at arguments (the low 32 bits, which is what the
//     kernel reads for int arguments): namespace flags of clone and
//     unshare, the IPPROTO_MPTCP protocol and AF_VSOCK family of socket,
//     and the TIOCSTI/TIOCLINUX requests of ioctl;
//   - the verdict is found by a binary search over runs of syscall
//     numbers with the same verdict (a few comparisons per syscall),
//     where github.com/elastic/go-seccomp-bpf emits a linear chain of
//     comparisons, sends a foreign architecture to the default action,
//     and has no user-space notification (refusal reports).
//
// The syscall tables (zsysnum.go) are generated from golang.org/x/sys/unix
// and the groups (zgroups.go) from systemd's group definitions (systemd's
// src/shared/seccomp-util.c, syscall_filter_sets[], as printed by
// "systemd-analyze syscall-filter" of systemd 252); see mktables.go.
//
// Like systemd, an allowlist always includes @default (execve, exit,
// futex, rt_sigreturn, …), which every program and rampart's own last
// step (execve) need.
package seccomp

//go:generate go run mktables.go
