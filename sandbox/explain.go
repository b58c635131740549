package sandbox

import (
	"fmt"
	"io"
	"strings"
)

// Explain prints the resolved sandbox: each rule with the mechanism that
// enforces it, then the gaps, limits and warnings.
func (pl *Plan) Explain(w io.Writer) error {
	e := &explainer{w: w}
	p := func(format string, a ...any) { e.printf(format, a...) }
	policyName := pl.Policy
	if policyName == "" {
		policyName = "(unnamed)"
	}
	p("compartment %s (tier %s), policy %s, declared at %s\n", pl.Compartment, pl.Tier, policyName, pl.Declared)
	p("command: %s\n", strings.Join(quoteAll(pl.Command), " "))
	if pl.Path != pl.Command[0] {
		p("  executable %s\n", pl.Path)
	}
	p("host: %s\n", pl.Host)

	e.section("identity", "credentials")
	id := pl.Identity
	groups := "none"
	if len(id.Groups) > 0 {
		groups = strings.Trim(fmt.Sprint(id.Groups), "[]")
	}
	how := "set by the launcher before the command's execve (setgroups, setresgid, setresuid)"
	if !id.Switch {
		how = "the caller's, mapped into a user namespace"
	}
	p("  uid %d (%s), gid %d (%s), supplementary groups: %s; %s\n", id.UID, id.User, id.GID, id.Group, groups, how)

	e.section("namespaces", "namespaces")
	ns := pl.Namespaces
	var on []string
	for _, x := range []struct {
		name string
		set  bool
	}{{"user", ns.User}, {"mount", ns.Mount}, {"pid", ns.PID}, {"ipc", ns.IPC}, {"uts", ns.UTS}, {"net", ns.Net}} {
		if x.set {
			on = append(on, x.name)
		}
	}
	p("  new: %s\n", strings.Join(on, ", "))
	p("  network: %s\n", ns.NetReason)
	if ns.Hostname != "" {
		p("  hostname: %s\n", ns.Hostname)
	}
	if ns.PID {
		p("  pid 1 is rampart's init: it reaps orphans, relays signals and exits with the command's status\n")
	}

	e.section("mounts", "mount namespace")
	for _, m := range pl.Mounts {
		switch m.Op {
		case MountPrivate:
			p("  every mount private (no propagation to or from the host)\n")
		case MountReadOnly:
			p("  %s read-only, recursively\n", m.Path)
		case MountTmpfs:
			p("  %s: empty tmpfs (private)\n", m.Path)
		case MountBind:
			mode := "read-only"
			if m.Writable {
				mode = "writable"
			}
			p("  %s bound from the host, %s (%s)\n", m.Path, mode, m.Why)
		case MountProc:
			p("  %s: the pid namespace's procfs\n", m.Path)
		}
	}

	e.section("filesystem", "Landlock")
	l := pl.Landlock
	if pl.Host.LandlockABI == 0 {
		p("  not enforced: no Landlock on this kernel\n")
	} else {
		p("  handled (denied unless granted): %s\n", l.HandledFS)
	}
	printPaths := func(runtime bool) {
		for _, r := range l.Paths {
			if r.Runtime != runtime {
				continue
			}
			kind := "file"
			if r.Dir {
				kind = "hierarchy"
			}
			state := ""
			if r.Missing {
				state = " [missing: not installed]"
			}
			p("  %s (%s): %s%s\n", r.Path, kind, r.Access, state)
			for _, why := range r.Why {
				p("      <- %s\n", why)
			}
			for _, wd := range r.Widened {
				p("      ! widened: %s\n", wd)
			}
		}
	}
	printPaths(false)
	p("  needed to start the command (not from the policy):\n")
	printPaths(true)

	e.section("network", "Landlock, network namespace")
	if len(l.Ports) == 0 {
		p("  no port granted: every TCP bind and connect is denied\n")
	}
	for _, r := range l.Ports {
		p("  port %d: %s\n", r.Port, r.Access)
		for _, why := range r.Why {
			p("      <- %s\n", why)
		}
	}
	p("  handled: %s", l.HandledNet)
	if missing := l.WantedNet &^ l.HandledNet; missing != 0 {
		p(" (not on this kernel: %s)", missing)
	}
	p("\n")
	if l.HandledScoped != 0 {
		p("  scoped to the sandbox: abstract unix sockets, signals\n")
	}

	e.section("syscalls", "seccomp")
	sc := pl.Seccomp
	if !sc.Enabled {
		p("  not filtered\n")
	} else {
		if sc.Mode == "allowlist" {
			p("  allowlist of %d syscalls from %s\n", len(sc.Syscalls), strings.Join(sc.Entries, " "))
		} else {
			p("  denylist: %s\n", strings.Join(sc.Syscalls, " "))
		}
		p("  refused syscalls: %s (with --log-refused, decided and reported by the sandbox's init, a user-space notification); foreign architecture: kill; x32: refused; numbers beyond the %s table: ENOSYS\n", sc.Refuse, sc.Arch)
		var args []string
		if sc.RestrictNamespaces {
			args = append(args, "namespace creation (clone/unshare CLONE_NEW*, setns: EPERM; clone3: ENOSYS)")
		}
		if sc.DenyMPTCP {
			args = append(args, "MPTCP sockets (EPROTONOSUPPORT, so Landlock's TCP rules apply)")
		}
		if sc.DenyVsock {
			args = append(args, "vsock sockets (EAFNOSUPPORT)")
		}
		if sc.DenyTIOCSTI {
			args = append(args, "TIOCSTI/TIOCLINUX terminal injection (EPERM)")
		}
		p("  argument rules: %s\n", strings.Join(args, "; "))
		p("  BPF program: %d instructions (binary search over syscall numbers)\n", sc.Instructions)
	}

	e.section("privileges", "capabilities, prctl, rlimit")
	if len(pl.Capabilities) == 0 {
		p("  capabilities: none (bounding, permitted, effective, inheritable and ambient sets empty)\n")
	} else {
		p("  capabilities: %s (all sets); every other one dropped from the bounding set\n", strings.Join(pl.Capabilities, " "))
	}
	p("  no_new_privs: setuid/setgid bits and file capabilities grant nothing\n")
	if pl.DenyWriteExecute {
		p("  memory-deny-write-execute (PR_SET_MDWE): no writable+executable memory, no new executable mappings (no map-exec on itself)\n")
	}
	if len(pl.Rlimits) == 0 {
		p("  rlimits: inherited\n")
	}
	for _, r := range pl.Rlimits {
		p("  rlimit %s = %d\n", r.Name, r.Value)
	}
	if pl.SELinuxLabel != "" {
		p("  SELinux exec context: %s\n", pl.SELinuxLabel)
	} else {
		p("  SELinux: not enabled on this host\n")
	}
	var names []string
	for _, kv := range pl.Env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	p("  environment: %s (everything else removed)\n", strings.Join(names, " "))
	fds := "0-2"
	for _, fd := range pl.KeepFDs {
		fds += fmt.Sprintf(", %d", fd)
	}
	p("  descriptors: %s; all others closed at exec\n", fds)

	e.section("gaps", "what this kernel or host cannot enforce; --require-full refuses to run")
	if len(pl.Gaps) == 0 {
		p("  none\n")
	}
	for _, g := range pl.Gaps {
		p("  - %s\n", g)
	}
	e.section("limits", "what no mechanism here enforces, or enforces differently from the policy")
	for _, n := range pl.Limits {
		p("  - %s: %s\n", n.Mechanism, n.What)
	}
	if len(pl.Warnings) > 0 {
		e.section("warnings", "lint")
		for _, w := range pl.Warnings {
			p("  - %s\n", w)
		}
	}
	return e.err
}

type explainer struct {
	w   io.Writer
	err error
}

func (e *explainer) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func (e *explainer) section(name, mech string) {
	e.printf("\n%s [%s]\n", name, mech)
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			out[i] = fmt.Sprintf("%q", a)
		} else {
			out[i] = a
		}
	}
	return out
}
