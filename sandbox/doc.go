// Package sandbox starts a program confined as a compartment of a
// rampart policy (rampart run): Landlock filesystem and network rules
// from the compartment's grants and channels, a seccomp-bpf filter from
// its syscall groups, mount, pid, ipc, uts and (without TCP/UDP
// channels) network namespaces, a user namespace when not run as root,
// its user, capabilities and resource limits, no_new_privs,
// memory-deny-write-execute, a scrubbed environment, and its SELinux exec
// context where SELinux is enabled.
//
// Build resolves a Plan: every rule, the mechanism that enforces it, and
// what the running kernel cannot enforce (gaps) or no mechanism here
// can (limits). Explain prints it. Run carries it out: it re-executes
// the program (/proc/self/exe) as the sandbox's init stage; package
// sandbox/internal/stage, which this package imports, has an init
// function that takes the process over then, before the program's other
// packages initialize. See docs/confinement.md.
package sandbox
