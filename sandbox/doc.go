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
// can (limits). Explain prints it. Run, Start and Exec carry it out:
// they execute the program (/proc/self/exe) as the sandbox's launcher,
// C code in package sandbox/internal/stage (which this package imports)
// that takes the process over before the Go runtime starts and sets the
// sandbox up from the plan's launch record. Plan.Remember stores the
// plan in the launch cache, from which "rampart run" starts without
// planning again. See docs/confinement.md.
package sandbox
