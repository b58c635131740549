package agent

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/policy"
)

// Pseudo-verbs for privileged operations, checked against the
// compartment's capabilities rather than grants.
const (
	VerbLoadModule = "load-module"
	VerbMount      = "mount"
)

// Rule names of deviations that break no invariant.
const (
	RuleNoGrant      = "no grant"
	RuleNoCapability = "no capability"
)

// Open flags (asm-generic/fcntl.h, the same on x86 and arm64).
const (
	oAccMode = 0o3
	oWronly  = 0o1
	oRdwr    = 0o2
	oCreat   = 0o100
	oTrunc   = 0o1000
	oAppend  = 0o2000
)

// atFDCWD is AT_FDCWD (-100) as the kernel prints a syscall argument:
// the register in hex.
const (
	atFDCWD64 = 0xffffffffffffff9c
	atFDCWD32 = 0xffffff9c
)

// checker turns observed accesses into policy decisions.
type checker struct {
	p    *policy.Policy
	attr *attributor
	// invariants that can be violated by an access, a spawn or a
	// capability.
	access, spawn, capability []*policy.Invariant
}

func newChecker(p *policy.Policy, attr *attributor) *checker {
	c := &checker{p: p, attr: attr}
	for _, inv := range p.Invariants {
		switch inv.Form {
		case policy.FormDenyAccess:
			c.access = append(c.access, inv)
		case policy.FormDenySpawn:
			c.spawn = append(c.spawn, inv)
		case policy.FormDenyCapability:
			c.capability = append(c.capability, inv)
		}
	}
	return c
}

// fileSyscall says which verb a syscall applies to the NORMAL paths it
// names (CREATE and DELETE paths are create and delete whatever the
// syscall); 0 for syscalls whose paths are not accesses the agent judges.
func fileSyscall(name string) (policy.Verb, bool) {
	switch name {
	case "open", "openat", "openat2", "creat":
		return policy.VerbRead, true // refined by the flags
	case "truncate":
		return policy.VerbWrite, true
	case "unlink", "unlinkat", "rmdir":
		return policy.VerbDelete, true
	case "rename", "renameat", "renameat2", "mkdir", "mkdirat", "mknod", "mknodat",
		"link", "linkat", "symlink", "symlinkat":
		return 0, true // only their CREATE and DELETE paths count
	case "chmod", "fchmodat", "fchmodat2", "chown", "fchownat", "lchown", "setxattr", "lsetxattr",
		"removexattr", "lremovexattr", "utime", "utimes", "utimensat", "futimesat":
		return policy.VerbSetattr, true
	case "execve", "execveat":
		return policy.VerbExecute, true
	}
	return 0, false
}

// openVerbs returns the verbs of an open with the given flags.
func openVerbs(flags uint64) []policy.Verb {
	var vs []policy.Verb
	switch flags & oAccMode {
	case 0:
		vs = append(vs, policy.VerbRead)
	case oWronly:
		vs = append(vs, writeVerb(flags))
	case oRdwr:
		vs = append(vs, policy.VerbRead, writeVerb(flags))
	}
	if flags&oTrunc != 0 && flags&oAccMode == 0 {
		vs = append(vs, policy.VerbWrite) // O_RDONLY|O_TRUNC truncates
	}
	return vs
}

func writeVerb(flags uint64) policy.Verb {
	if flags&oAppend != 0 && flags&oTrunc == 0 {
		return policy.VerbAppend
	}
	return policy.VerbWrite
}

// outcome classifies a syscall's result: made (succeeded, or a network
// operation the peer or the network refused), attempt (the kernel refused
// it: EACCES, EPERM) or neither (the object did not exist, a bad
// argument: no access happened).
func outcome(success bool, exit int64, network bool) (made, attempt bool) {
	switch {
	case success:
		return true, false
	case exit == -1 || exit == -13: // EPERM, EACCES
		return false, true
	case network && exit != -9 && exit != -22 && exit != -14 && exit != -88 && exit != -97:
		// not EBADF, EINVAL, EFAULT, ENOTSOCK, EAFNOSUPPORT
		return true, false
	}
	return false, false
}

// resolve makes name absolute with the event's cwd when the syscall
// resolved it from the working directory; ok is false when it cannot be
// known (relative to another directory descriptor).
func resolve(name, cwd string, dirfdRelative bool) (string, bool) {
	if name == "" {
		return "", false
	}
	if name[0] == '/' {
		return path.Clean(name), true
	}
	if dirfdRelative || cwd == "" || cwd[0] != '/' {
		return name, false
	}
	return path.Join(cwd, name), true
}

// dirfdRelative reports whether the syscall's relative paths are relative
// to a directory descriptor other than the working directory.
func dirfdRelative(name string, sys *audit.Record) bool {
	switch name {
	case "openat", "openat2", "unlinkat", "renameat", "renameat2", "mkdirat", "mknodat", "linkat",
		"fchmodat", "fchmodat2", "fchownat", "utimensat", "futimesat", "execveat", "symlinkat":
	default:
		return false
	}
	arg := "a0"
	if name == "symlinkat" {
		arg = "a1"
	}
	fd, ok := sys.HexUint(arg)
	return !ok || (fd != atFDCWD64 && fd != atFDCWD32)
}

// fileAccesses returns the accesses of a file syscall event. pre is the
// subject that made them (for execve, the image that called it).
func (c *checker) fileAccesses(ev *audit.Event, sys *audit.Record, name string, pre detect.Subject, success bool, exit int64, paths []audit.Path) []detect.Access {
	base, ok := fileSyscall(name)
	if !ok {
		return nil
	}
	made, attempt := outcome(success, exit, false)
	if !made && !attempt {
		return nil
	}
	var normal []policy.Verb
	switch name {
	case "open":
		f, _ := sys.HexUint("a1")
		normal = openVerbs(f)
	case "openat":
		f, _ := sys.HexUint("a2")
		normal = openVerbs(f)
	case "creat":
		normal = []policy.Verb{policy.VerbWrite}
	default:
		if base != 0 {
			normal = []policy.Verb{base}
		}
	}
	cwd, _ := ev.Cwd()
	rel := dirfdRelative(name, sys)
	var out []detect.Access
	for i, p := range paths {
		var verbs []policy.Verb
		switch p.NameType {
		case "CREATE":
			verbs = []policy.Verb{policy.VerbCreate}
		case "DELETE":
			verbs = []policy.Verb{policy.VerbDelete}
		case "NORMAL", "UNKNOWN", "":
			if name == "execve" || name == "execveat" {
				if i > 0 {
					continue // the interpreter (ld.so, #! shell) is not what was run
				}
			}
			verbs = normal
		default: // PARENT: the directory entry change is implied
			continue
		}
		full, resolved := resolve(p.Name, cwd, rel)
		for _, v := range verbs {
			a := detect.Access{Verb: v.String(), Path: full, Attempt: attempt, Executable: p.Mode&0o170000 == 0o100000 && p.Mode&0o111 != 0}
			if resolved {
				c.decidePath(&a, pre, v, full)
			} else {
				a.Reason = "the path is relative to a directory descriptor: not decided"
			}
			out = append(out, a)
		}
	}
	return out
}

// decidePath fills a with the object at path and, for a subject in the
// policy, the decision.
func (c *checker) decidePath(a *detect.Access, subj detect.Subject, v policy.Verb, pth string) {
	if r := c.p.ResourceAt(pth); r != nil {
		a.Object, a.Kind, a.Owner = r.Name, r.Kind.String(), r.Owner
		for _, l := range r.Labels {
			a.Labels = append(a.Labels, string(l))
		}
		if r.HasLabel(policy.LabelExecutable) {
			a.Executable = true
		}
	} else if ch := c.p.UnixChannel(pth); ch != nil {
		a.Object, a.Kind = ch.Name, policy.KindUnix.String()
	}
	if c.p.CompartmentByExecutable(pth) != nil {
		a.Executable = true
	}
	if subj.Kind == "" {
		return
	}
	c.decide(a, subj, c.p.Allows(subj.Name, v, pth))
}

// decide records decision d in a and, for a denial, the rule it breaks.
func (c *checker) decide(a *detect.Access, subj detect.Subject, d policy.Decision) {
	a.Actor = subj
	a.Checked = true
	a.Allowed = d.Allowed
	a.Reason = d.Reason
	if d.Object != "" {
		a.Object = d.Object
		a.Kind = d.Kind.String()
	}
	if d.Allowed {
		return
	}
	var names []string
	switch d.Verb {
	case policy.VerbSpawn:
		for _, inv := range c.spawn {
			if c.p.Selects(inv.From, subj.Name) && c.p.Selects(inv.To, d.Object) {
				names = append(names, inv.Name)
			}
		}
	default:
		if d.Object != "" {
			for _, inv := range c.access {
				if inv.Verbs.Implied().Has(d.Verb) && c.p.Selects(inv.Subjects, subj.Name) && c.p.Selects(inv.Objects, d.Object) {
					names = append(names, inv.Name)
				}
			}
		}
	}
	a.Invariants = names
	a.Rule = ruleName(names, RuleNoGrant)
}

func ruleName(invariants []string, otherwise string) string {
	if len(invariants) == 0 {
		return otherwise
	}
	return "invariant " + strings.Join(invariants, ", invariant ")
}

// execAccesses adds, for an execve of a compartment's executable by
// another subject, the spawn decision; for other programs the execute
// access is judged by fileAccesses.
func (c *checker) spawnAccess(pre, post detect.Subject, exe string) (detect.Access, bool) {
	if pre.Kind == "" || post.Kind != KindCompartment || post.By != ByExe {
		return detect.Access{}, false
	}
	a := detect.Access{Verb: policy.VerbSpawn.String(), Target: post.Name, Path: exe}
	if pre.Name == post.Name {
		a.Verb, a.Checked, a.Allowed, a.Actor = policy.VerbExecute.String(), true, true, pre
		a.Object, a.Kind = post.Name, policy.KindProcess.String()
		a.Reason = fmt.Sprintf("%s runs its own executable", post.Name)
		return a, true
	}
	c.decide(&a, pre, c.p.AllowsProcess(pre.Name, policy.VerbSpawn, post.Name))
	return a, true
}

// netAccess judges connect and bind on a socket address.
func (c *checker) netAccess(subj detect.Subject, v policy.Verb, sa audit.SockAddr, attempt bool) (detect.Access, bool) {
	a := detect.Access{Verb: v.String(), Attempt: attempt}
	switch sa.Family {
	case audit.AFInet, audit.AFInet6:
		if v == policy.VerbBind && sa.Port == 0 {
			return a, false // an ephemeral port: nothing to judge
		}
		a.Port, a.Proto, a.Addr = int64(sa.Port), policy.ProtoTCP.String(), sa.Addr.String()
		if subj.Kind == "" {
			if chs := c.p.PortChannels(policy.ProtoTCP, sa.Port); len(chs) > 0 {
				a.Object, a.Kind = chs[0].Name, policy.KindTCP.String()
			}
			return a, true
		}
		// The record does not say TCP or UDP: allowed if either is.
		d := c.p.AllowsPort(subj.Name, v, policy.ProtoTCP, sa.Port)
		if !d.Allowed {
			if du := c.p.AllowsPort(subj.Name, v, policy.ProtoUDP, sa.Port); du.Allowed || (d.Object == "" && du.Object != "") {
				d = du
				a.Proto = policy.ProtoUDP.String()
			}
		}
		c.decide(&a, subj, d)
		return a, true
	case audit.AFUnix:
		if sa.Abstract || sa.Path == "" {
			return a, false // abstract sockets are not in the policy
		}
		a.Path = path.Clean(sa.Path)
		if a.Path[0] != '/' {
			a.Reason = "relative socket path: not decided"
			return a, true
		}
		c.decidePath(&a, subj, v, a.Path)
		return a, true
	}
	return a, false
}

// processAccess judges signal and ptrace on a target process.
func (c *checker) processAccess(subj, target detect.Subject, v policy.Verb, attempt bool) (detect.Access, bool) {
	if target.Kind != KindCompartment {
		return detect.Access{}, false
	}
	a := detect.Access{Verb: v.String(), Target: target.Name, Object: target.Name, Kind: policy.KindProcess.String(), Attempt: attempt}
	if subj.Kind == "" {
		return a, true
	}
	a.Actor = subj
	if subj.Name == target.Name {
		if comp := c.p.Compartment(subj.Name); comp != nil && !comp.IsolateInstances {
			a.Checked, a.Allowed = true, true
			a.Reason = fmt.Sprintf("%s acts on its own processes", subj.Name)
			return a, true
		}
	}
	c.decide(&a, subj, c.p.AllowsProcess(subj.Name, v, target.Name))
	return a, true
}

// capabilityAccess judges a privileged operation (module load, mount)
// against the compartment's capabilities.
func (c *checker) capabilityAccess(subj detect.Subject, verb string, capability policy.Capability, attempt bool) (detect.Access, bool) {
	a := detect.Access{Verb: verb, Attempt: attempt, Actor: subj}
	if subj.Kind != KindCompartment {
		return a, true
	}
	comp := c.p.Compartment(subj.Name)
	a.Checked = true
	if slices.Contains(comp.Capabilities, capability) {
		a.Allowed = true
		a.Reason = fmt.Sprintf("%s holds %s", subj.Name, capability)
		return a, true
	}
	a.Reason = fmt.Sprintf("%s does not hold %s, which %s needs", subj.Name, capability, verb)
	var names []string
	for _, inv := range c.capability {
		if c.p.Selects(inv.Subjects, subj.Name) && (len(inv.Capabilities) == 0 || slices.Contains(inv.Capabilities, capability)) {
			names = append(names, inv.Name)
		}
	}
	a.Invariants = names
	a.Rule = ruleName(names, RuleNoCapability)
	return a, true
}

// avcAccesses turns an SELinux denial into accesses: the subject from the
// source context, the object from the target context (the policy's
// generated types), the verbs from the verb table's permissions.
func (c *checker) avcAccesses(subj detect.Subject, avc audit.AVC) []detect.Access {
	if avc.LSM != "selinux" || avc.Result != "denied" {
		return nil
	}
	if name, ok := c.attr.domains[labelType(avc.SContext)]; ok {
		subj = c.attr.subjectNamed(name, ByLabel)
	}
	if subj.Kind == "" {
		return nil
	}
	obj := c.attr.objects[labelType(avc.TContext)]
	kind := c.p.ObjectKind(obj)
	var out []detect.Access
	for _, perm := range avc.Permissions {
		a := detect.Access{Verb: perm, Path: avc.Name, Object: obj, Attempt: !avc.Permissive, Checked: true}
		if kind != 0 {
			a.Kind = kind.String()
		}
		var verb policy.Verb
		for _, vk := range policy.VerbsForPerm(avc.TClass, perm) {
			if vk.Kind == kind || (kind == 0 && verb == 0) {
				verb = vk.Verb
				break
			}
		}
		switch {
		case verb == 0:
			a.Reason = fmt.Sprintf("SELinux denied %s { %s } on %s: no verb maps to it", avc.TClass, perm, labelType(avc.TContext))
			a.Rule = RuleNoGrant
		case obj == "":
			a.Verb = verb.String()
			a.Reason = fmt.Sprintf("SELinux denied %s %s on type %s, which the policy does not define", subj.Name, verb, labelType(avc.TContext))
			a.Rule = RuleNoGrant
		default:
			a.Verb = verb.String()
			granted, _ := c.p.Granted(subj.Name, obj)
			if granted.Implied().Has(verb) {
				a.Allowed = true
				a.Reason = fmt.Sprintf("SELinux denied %s %s on %s, which the policy grants: the loaded SELinux policy is out of date", subj.Name, verb, obj)
				break
			}
			c.decide(&a, subj, policy.Decision{Subject: subj.Name, Verb: verb, Object: obj, Kind: kind,
				Reason: fmt.Sprintf("SELinux denied %s %s on %s (%s { %s })", subj.Name, verb, obj, avc.TClass, perm)})
		}
		out = append(out, a)
	}
	return out
}
