package agent

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/policy"
)

// Rule keys (-k) of the generated audit rules.
const (
	KeyExec      = "rampart-exec"
	KeyNet       = "rampart-net"
	KeyPriv      = "rampart-priv"
	KeySignal    = "rampart-signal"
	KeyFile      = "rampart-file"
	KeySecret    = "rampart-secret"
	KeyIntegrity = "rampart-integrity"
)

// AuditRule is one generated audit rule and why it is there.
type AuditRule struct {
	// Rule is the rule in auditctl syntax.
	Rule string `json:"rule"`
	// Why says what the rule is for, with the policy position it comes
	// from when there is one.
	Why string `json:"why"`
}

// AuditRuleOptions configure AuditRules.
type AuditRuleOptions struct {
	// Arch is the machine the rules are for; 0 means the running one.
	// On x86_64 the rules also cover 32-bit (i386) syscalls.
	Arch audit.Arch
	// IntegrityPerm is the -p of the watches on integrity-critical
	// resources; "" means "rwa". Reads of integrity-critical trees such as
	// /usr are frequent (every program loads libraries from there): "wa"
	// keeps the watches on changes only.
	IntegrityPerm string
}

// syscallGroup returns the syscalls a group of rules audits (names absent
// from an architecture's table are left out when the rules are made).
func syscallGroup(key string) []string {
	switch key {
	case KeyExec:
		return []string{"execve", "execveat"}
	case KeyNet:
		return []string{"connect", "bind", "accept", "accept4"}
	case KeyPriv:
		return []string{"ptrace", "init_module", "finit_module", "delete_module", "mount", "umount2",
			"setuid", "setreuid", "setresuid", "setfsuid", "setgid", "setregid", "setresgid", "setfsgid",
			"setuid32", "setreuid32", "setresuid32", "setfsuid32", "setgid32", "setregid32", "setresgid32", "setfsgid32", "bpf"}
	case KeySignal:
		return []string{"kill", "tkill"}
	case KeyFile:
		// Not fchmodat2 (Linux 6.6): auditctl 3.0 does not know it and
		// would refuse the whole rule.
		return []string{"open", "openat", "openat2", "creat", "truncate", "unlink", "unlinkat", "rmdir",
			"rename", "renameat", "renameat2", "mkdir", "mkdirat", "mknod", "mknodat", "link", "linkat", "symlink",
			"symlinkat", "chmod", "fchmodat", "chown", "fchownat", "lchown", "setxattr", "lsetxattr",
			"removexattr", "lremovexattr"}
	}
	return nil
}

// AuditRules generates the audit rules the agent needs for a policy, in
// auditctl syntax:
//
//   - execve and execveat of every process (process tracking, spawns);
//   - connect, bind, accept and accept4 (channels);
//   - privileged syscalls: ptrace, module loading, mount, the setuid
//     family, bpf; and kill/tkill with a real signal;
//   - file syscalls of every compartment's executables (-F exe=), except
//     those failing with ENOENT (lookups of absent files);
//   - a watch (-w PATH -p rwa) on every resource labelled secret or
//     integrity-critical: for a glob, on its literal directory prefix.
//
// Every rule is checked with audit.ParseRule for the target architecture.
func AuditRules(p *policy.Policy, opts AuditRuleOptions) ([]AuditRule, error) {
	arch := opts.Arch
	if arch == 0 {
		arch = audit.NativeArch()
	}
	arches := []audit.Arch{arch}
	if arch == audit.ArchX86_64 {
		arches = append(arches, audit.ArchI386)
	}
	var out []AuditRule
	add := func(rule, why string) { out = append(out, AuditRule{rule, why}) }
	syscallRule := func(a audit.Arch, extra, key, why string) {
		var have []string
		for _, n := range syscallGroup(key) {
			if _, ok := audit.SyscallNumber(a, n); ok {
				have = append(have, n)
			}
		}
		if len(have) == 0 {
			return
		}
		bits := "b64"
		if a&audit.Arch64Bit == 0 {
			bits = "b32"
		}
		r := fmt.Sprintf("-a always,exit -F arch=%s -S %s", bits, strings.Join(have, ","))
		if extra != "" {
			r += " " + extra
		}
		add(r+" -k "+key, why)
	}
	groups := []struct{ extra, key, why string }{
		{"", KeyExec, "program executions: process tracking, spawns, execute accesses"},
		{"", KeyNet, "connections: channels"},
		{"", KeyPriv, "privileged operations: ptrace, kernel modules, mounts, identity changes, bpf"},
		{"-F a1!=0", KeySignal, "signals between processes (signal 0 only probes)"},
	}
	for _, g := range groups {
		for _, a := range arches {
			syscallRule(a, g.extra, g.key, g.why)
		}
	}
	for _, c := range p.Compartments {
		for _, exe := range c.Executables {
			for _, a := range arches {
				syscallRule(a, "-F exe="+exe+" -F exit!=-ENOENT", KeyFile,
					fmt.Sprintf("file accesses of compartment %s (%s)", c.Name, pos(c.Range.Filename, c.Range.Start.Line, c.Range.Start.Column)))
			}
		}
	}
	iperm := opts.IntegrityPerm
	if iperm == "" {
		iperm = "rwa"
	}
	for _, label := range []policy.Label{policy.LabelSecret, policy.LabelIntegrityCritical} {
		key, perm := KeySecret, "rwa"
		if label == policy.LabelIntegrityCritical {
			key, perm = KeyIntegrity, iperm
		}
		type watch struct{ path, why string }
		var ws []watch
		for _, r := range p.Resources {
			if !r.HasLabel(label) {
				continue
			}
			for i, g := range r.Paths {
				w := watchPath(g)
				if w == "/" || w == "" || strings.ContainsAny(w, " \t\n") {
					continue // nothing narrower than the root to watch, or a path auditctl cannot take
				}
				where := pos(r.Range.Filename, r.Range.Start.Line, r.Range.Start.Column)
				if i < len(r.PathRanges) {
					where = pos(r.PathRanges[i].Filename, r.PathRanges[i].Start.Line, r.PathRanges[i].Start.Column)
				}
				ws = append(ws, watch{w, fmt.Sprintf("resource %s labelled %s: %s (%s)", r.Name, label, g, where)})
			}
		}
		// A directory watch covers its tree: leave out what is below a
		// watched path.
		slices.SortStableFunc(ws, func(a, b watch) int { return strings.Compare(a.path, b.path) })
		var kept []watch
		for _, w := range ws {
			if n := len(kept); n > 0 && (kept[n-1].path == w.path || strings.HasPrefix(w.path, kept[n-1].path+"/")) {
				continue
			}
			kept = append(kept, w)
		}
		for _, w := range kept {
			add(fmt.Sprintf("-w %s -p %s -k %s", w.path, perm, key), w.why)
		}
	}
	notHere := func(string) (os.FileInfo, error) { return nil, os.ErrNotExist }
	for _, r := range out {
		if _, err := audit.ParseRule(r.Rule, audit.RuleOptions{Machine: arch, Stat: notHere}); err != nil {
			return nil, fmt.Errorf("generated rule %q: %w", r.Rule, err)
		}
	}
	return out, nil
}

func pos(file string, line, col int) string { return fmt.Sprintf("%s:%d:%d", file, line, col) }

// watchPath returns what to watch for a glob: the glob itself when it is
// a plain path, else its literal directory prefix (a directory watch
// covers the whole tree).
func watchPath(g string) string {
	segs := strings.Split(strings.TrimPrefix(g, "/"), "/")
	n := 0
	for n < len(segs) && !strings.ContainsAny(segs[n], "*?") {
		n++
	}
	return "/" + strings.Join(segs[:n], "/")
}

// FormatAuditRules writes rules as an audit rules file (for
// /etc/audit/rules.d/ or auditctl -R), each preceded by a comment saying
// why.
func FormatAuditRules(p *policy.Policy, rules []AuditRule) string {
	var b strings.Builder
	name := p.Name
	if name == "" {
		name = strings.Join(p.Files, ", ")
	}
	fmt.Fprintf(&b, "## Audit rules for the Rampart agent, policy %s.\n", name)
	b.WriteString("## Generated by \"rampart agent rules\": regenerate rather than edit.\n")
	last := ""
	for _, r := range rules {
		if r.Why != last {
			fmt.Fprintf(&b, "\n## %s\n", r.Why)
			last = r.Why
		}
		b.WriteString(r.Rule)
		b.WriteByte('\n')
	}
	return b.String()
}

// RuleLines returns the rules' auditctl text, for NetlinkOptions.Rules.
func RuleLines(rules []AuditRule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.Rule
	}
	return slices.Clip(out)
}
