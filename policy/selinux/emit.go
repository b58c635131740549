package selinux

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// PolicyVersion is the binary policy version Build asks secilc for: 33,
// the highest that Linux 5.8 and later (Debian 12's 6.1 among them) load,
// and secilc 3.4's default. Pinning it keeps a newer secilc from writing
// a version an older kernel refuses.
const PolicyVersion = 33

// policyCaps are the policy capabilities the policy turns on (all known
// to secilc 3.4 and Linux 6.1).
var policyCaps = []string{
	"cgroup_seclabel",
	"extended_socket_class",
	"genfs_seclabel_symlinks",
	"ioctl_skip_cloexec",
	"network_peer_controls",
	"nnp_nosuid_transition",
	"open_perms",
}

// Filesystem labeling: which filesystems keep labels in extended
// attributes, which label new objects by transition or by their creator,
// and which get one label per path prefix.
var (
	fsXattr = []string{"btrfs", "erofs", "ext2", "ext3", "ext4", "f2fs", "jffs2", "jfs", "overlay", "squashfs", "ubifs", "xfs"}
	fsTrans = []struct{ fs, typ string }{
		{"devpts", devptsT}, {"devtmpfs", deviceT}, {"hugetlbfs", tmpfsT}, {"mqueue", tmpfsT},
		{"shm", tmpfsT}, {"tmpfs", tmpfsT},
	}
	fsTask  = []string{"pipefs", "sockfs"}
	genfses = []struct{ fs, typ string }{
		{"binfmt_misc", kernelfsT}, {"bpf", kernelfsT}, {"cgroup", cgroupT}, {"cgroup2", cgroupT},
		{"configfs", kernelfsT}, {"debugfs", kernelfsT}, {"efivarfs", kernelfsT}, {"exfat", defaultT},
		{"fusectl", kernelfsT}, {"iso9660", defaultT}, {"msdos", defaultT}, {"proc", procT},
		{"pstore", kernelfsT}, {"ramfs", tmpfsT}, {"rootfs", defaultT}, {"securityfs", kernelfsT},
		{"selinuxfs", securityT}, {"sysfs", sysfsT}, {"tracefs", kernelfsT}, {"vfat", defaultT},
	}
	// sidContexts labels the initial SIDs the kernel uses.
	sidContexts = []struct{ sid, role, typ string }{
		{"kernel", sysRole, unconfinedT}, {"security", objRole, securityT}, {"unlabeled", objRole, unlabeledT},
		{"fs", objRole, fsT}, {"file", objRole, unlabeledT}, {"port", objRole, portT},
		{"netif", objRole, netifT}, {"netmsg", objRole, unlabeledT}, {"node", objRole, nodeT},
		{"devnull", objRole, nullDeviceT},
	}
	// superblockTypes label filesystems (fsuse, genfscon, the fs SID).
	superblockTypes = []string{cgroupT, defaultT, devptsT, deviceT, fsT, kernelfsT, procT, securityT, sysfsT, tmpfsT, unlabeledT}
	nullDevices     = []string{"/dev/full", "/dev/null", "/dev/random", "/dev/urandom", "/dev/zero"}
)

func objCtx(t string) string { return fmt.Sprintf("(%s %s %s %s)", sysUser, objRole, t, levelRange) }

// writer builds the CIL text and counts lines.
type writer struct {
	b    strings.Builder
	line int // lines written so far
}

func (w *writer) ln(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	w.b.WriteString(s)
	w.b.WriteByte('\n')
	w.line += strings.Count(s, "\n") + 1
}

func (w *writer) comment(format string, a ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, a...), "\n") {
		w.ln(";; %s", l)
	}
}

func (w *writer) section(title string) {
	w.ln("")
	w.ln(";; %s", strings.Repeat("=", 74))
	w.ln(";; %s", title)
	w.ln(";; %s", strings.Repeat("=", 74))
}

func list(xs []string) string { return "(" + strings.Join(xs, " ") + ")" }

// buildFileContexts collects the filecon entries and checks that their
// secilc order resolves paths as the policy does.
func (c *compiler) buildFileContexts() {
	p := c.p
	var fcs []*fcEntry
	exactTaken := map[string]bool{}
	for _, e := range sortedKeys(c.execOf) {
		fcs = append(fcs, &fcEntry{re: literalRegex(e), fileType: "any", typ: c.execOf[e], origin: "executable of " + c.out.Types[c.execOf[e]].Entity, prio: prioExec})
		exactTaken[e] = true
	}
	for _, ch := range sortedNames(p.Channels, func(x *policy.Channel) string { return x.Name }) {
		if t, ok := c.sockType[ch.Name]; ok {
			fcs = append(fcs, &fcEntry{re: literalRegex(ch.Path), fileType: "socket", typ: t, origin: "socket of channel " + ch.Name, prio: prioSocket})
			exactTaken[ch.Path] = true
		}
	}
	for _, r := range sortedNames(p.Resources, func(x *policy.Resource) string { return x.Name }) {
		ft := map[policy.Kind]string{policy.KindCharDevice: "char", policy.KindBlockDevice: "block", policy.KindSocket: "socket"}[r.Kind]
		if ft == "" {
			ft = "any"
		}
		for _, g := range r.Paths {
			res, exact := globRegexes(g)
			for i, re := range res {
				if exact[i] {
					lit := unescapedStem(re)
					if exactTaken[lit] {
						continue
					}
					exactTaken[lit] = true
				}
				fcs = append(fcs, &fcEntry{re: re, fileType: ft, typ: c.resType[r.Name], origin: "resource " + r.Name + " " + g, prio: prioResource})
			}
		}
	}
	// Skeleton entries lose to every resource entry. An exact one is kept
	// when no resource governs its path; an expression only when every
	// resource entry that could match the same paths sorts after it.
	resEntries := slices.Clone(fcs)
	for _, d := range nullDevices {
		if p.ResourceAt(d) == nil && !exactTaken[d] {
			fcs = append(fcs, &fcEntry{re: d, fileType: "char", typ: nullDeviceT, origin: "null device", prio: prioSkeleton})
		}
	}
	for _, s := range []*fcEntry{{re: "/.*", fileType: "any", typ: defaultT, origin: "paths no resource governs", prio: prioSkeleton},
		{re: "/dev/.*", fileType: "any", typ: deviceT, origin: "device nodes no resource governs", prio: prioSkeleton}} {
		stem := unescapedStem(s.re)
		ok := true
		for _, r := range resEntries {
			rs := unescapedStem(r.re)
			if !strings.HasPrefix(rs, stem) && !strings.HasPrefix(stem, rs) {
				continue
			}
			if cilCompare(s, r) >= 0 || r.re == s.re {
				ok = false
				break
			}
		}
		if ok {
			fcs = append(fcs, s)
		}
	}
	// Duplicates: keep the highest-priority entry.
	slices.SortStableFunc(fcs, func(a, b *fcEntry) int {
		if a.re != b.re || a.fileType != b.fileType {
			return cilCompare(a, b)
		}
		return a.prio - b.prio
	})
	var kept []*fcEntry
	for _, e := range fcs {
		if n := len(kept); n > 0 && kept[n-1].re == e.re && kept[n-1].fileType == e.fileType {
			if kept[n-1].typ != e.typ {
				c.out.Warnings = append(c.out.Warnings, fmt.Sprintf("file context %s: %s and %s claim it; %s wins", e.re, kept[n-1].origin, e.origin, kept[n-1].origin))
			}
			continue
		}
		kept = append(kept, e)
	}
	c.fcs = kept
	c.checkFileContexts()
}

// checkFileContexts resolves sample paths of every glob, executable and
// socket with the file contexts in secilc's order and compares with the
// policy's resolution; differences become warnings.
func (c *compiler) checkFileContexts() {
	if len(c.fcs) == 0 {
		return
	}
	idx := newFCIndex(c.fcs)
	var samples []string
	for _, r := range c.p.Resources {
		for _, g := range r.Paths {
			samples = append(samples, witnesses(g)...)
		}
	}
	samples = append(samples, sortedKeys(c.execOf)...)
	for _, ch := range c.p.Channels {
		if ch.Path != "" {
			samples = append(samples, ch.Path)
		}
	}
	slices.Sort(samples)
	samples = slices.Compact(samples)
	for _, s := range samples {
		want := c.pathType(s)
		got := defaultT
		if e := idx.lookup(s); e != nil {
			got = e.typ
		}
		if got != want {
			c.out.Warnings = append(c.out.Warnings, fmt.Sprintf("file context of %s is %s, but the policy gives it %s (file_contexts cannot express this glob precedence)", s, got, want))
		}
	}
}

func (c *compiler) fileContextsText() []byte {
	var b strings.Builder
	for _, e := range c.fcs {
		ctx := fmt.Sprintf("%s:%s:%s:s0", sysUser, objRole, e.typ)
		if f := fcFileTypeFlag[e.fileType]; f != "" {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", e.re, f, ctx)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", e.re, ctx)
		}
	}
	return []byte(b.String())
}

// emit writes the CIL.
func (c *compiler) emit() {
	p := c.p
	w := &writer{}
	name := p.Name
	if name == "" {
		name = "(unnamed)"
	}
	w.comment("Rampart SELinux policy %q, generated by \"rampart policy compile --target selinux\".", name)
	w.comment("Sources: %s", strings.Join(p.Files, ", "))
	w.comment("Do not edit: change the policy and compile again. Build with secilc 3.4 or later:")
	w.comment("  secilc -c %d -o policy.%d -f file_contexts policy.cil", PolicyVersion, PolicyVersion)
	w.comment("The design is described in docs/policy.md, \"SELinux backend\".")

	w.section("Policy configuration")
	if c.opts.HandleUnknown == "allow" {
		w.comment("handleunknown allow: classes and permissions this policy lacks are allowed (bring-up only).")
	} else {
		w.comment("handleunknown deny: the policy declares every kernel class and permission; any the")
		w.comment("kernel has and this policy lacks are denied.")
	}
	w.ln("(handleunknown %s)", c.opts.HandleUnknown)
	w.comment("MLS is on with one sensitivity (s0) and one category (c0): every context is s0.")
	w.ln("(mls true)")
	for _, pc := range policyCaps {
		w.ln("(policycap %s)", pc)
	}

	w.section("Kernel classes and permissions (Linux classmap.h)")
	for _, cm := range commons {
		w.ln("(common %s %s)", cm.name, list(cm.perms))
	}
	var classNames []string
	for _, cl := range kernelClasses {
		w.ln("(class %s %s)", cl.name, list(cl.perms))
		if cl.common != "" {
			w.ln("(classcommon %s %s)", cl.name, cl.common)
		}
		classNames = append(classNames, cl.name)
	}
	w.ln("(classorder %s)", list(classNames))

	w.section("Initial SIDs, in the kernel's order")
	for _, s := range initialSIDs {
		w.ln("(sid %s)", s)
	}
	w.ln("(sidorder %s)", list(initialSIDs))

	w.section("MLS, users and roles")
	w.ln("(sensitivity s0)")
	w.ln("(sensitivityorder (s0))")
	w.ln("(category c0)")
	w.ln("(categoryorder (c0))")
	w.ln("(sensitivitycategory s0 (c0))")
	w.ln("(levelrange %s ((s0) (s0)))", levelRange)
	w.comment("system_u and system_r: the unconfined system and every compartment.")
	w.ln("(user %s)", sysUser)
	w.ln("(role %s)", sysRole)
	w.ln("(role %s)", objRole)
	w.ln("(userrole %s %s)", sysUser, sysRole)
	w.ln("(userrole %s %s)", sysUser, objRole)
	w.ln("(userlevel %s (s0))", sysUser)
	w.ln("(userrange %s %s)", sysUser, levelRange)
	w.ln("(roletype %s %s)", objRole, attrAll)
	w.ln("(roletype %s %s)", sysRole, unconfinedT)
	w.ln("(roletype %s %s)", sysRole, attrComp)
	w.ln("(selinuxuserdefault %s %s)", sysUser, levelRange)
	accountSeen := map[string]string{}
	var seusers []string
	for _, r := range sortedNames(p.Roles, func(x *policy.Role) string { return x.Name }) {
		role, user := c.out.Roles[r.Name], c.out.Users[r.Name]
		w.comment("operator role %s (%s): user %s, role %s, domain %s", r.Name, posString(r.Range), user, role, c.domain[r.Name])
		w.ln("(user %s)", user)
		w.ln("(role %s)", role)
		w.ln("(userrole %s %s)", user, role)
		w.ln("(userrole %s %s)", user, objRole)
		w.ln("(userlevel %s (s0))", user)
		w.ln("(userrange %s %s)", user, levelRange)
		w.ln("(roletype %s %s)", role, c.domain[r.Name])
		for _, t := range p.SpawnTargets(r.Name) {
			w.ln("(roletype %s %s) ; enter %s", role, c.domain[t], t)
		}
		w.ln("(roleallow %s %s)", sysRole, role)
		for _, a := range r.Accounts {
			if prev, dup := accountSeen[a]; dup {
				c.out.Warnings = append(c.out.Warnings, fmt.Sprintf("account %q is in roles %s and %s; it logs in as %s", a, prev, r.Name, prev))
				continue
			}
			if !validAccount(a) {
				c.out.Warnings = append(c.out.Warnings, fmt.Sprintf("account %q of role %s is not a valid login name; no seusers entry", a, r.Name))
				continue
			}
			accountSeen[a] = r.Name
			w.ln("(selinuxuser %s %s %s)", a, user, levelRange)
			seusers = append(seusers, fmt.Sprintf("%s:%s:s0", a, user))
		}
	}

	w.section("Skeleton types and attributes")
	for _, t := range skeletonTypes {
		w.ln("(type %s) ; %s", t.name, t.desc)
	}
	w.comment("Package managers hardcode these domains (as in the SELinux notebook's cil-policy).")
	for _, a := range []string{"dpkg_script_t", "rpm_script_t"} {
		w.ln("(typealias %s)", a)
		w.ln("(typealiasactual %s %s)", a, unconfinedT)
	}
	for _, a := range skeletonAttrs {
		w.ln("(typeattribute %s) ; %s", a.name, a.desc)
	}
	for _, t := range policy.Tiers() {
		w.ln("(typeattribute %s) ; %s", tierAttr(t), c.out.Types[tierAttr(t)].Description)
	}

	w.section("Labeling: initial SIDs and filesystems")
	for _, s := range sidContexts {
		w.ln("(sidcontext %s (%s %s %s %s))", s.sid, sysUser, s.role, s.typ, levelRange)
	}
	for _, fs := range fsXattr {
		w.ln("(fsuse xattr %s %s)", fs, objCtx(fsT))
	}
	for _, f := range fsTrans {
		w.ln("(fsuse trans %s %s)", f.fs, objCtx(f.typ))
	}
	for _, fs := range fsTask {
		w.ln("(fsuse task %s %s)", fs, objCtx(fsT))
	}
	w.comment("Filesystems without labels in extended attributes get one label per filesystem;")
	w.comment("mount one that holds a resource with context=system_u:object_r:<resource>_t:s0.")
	for _, g := range genfses {
		w.ln("(genfscon %s \"/\" %s)", g.fs, objCtx(g.typ))
	}

	w.comment("A file's type must be allowed on the filesystem it lives on (checked when a file is")
	w.comment("created or relabeled, e.g. by setfiles).")
	w.ln("(allow %s %s (filesystem (associate)))", attrFile, attrFS)

	w.section("The unconfined system: everything outside the compartments")
	w.comment("Kernel threads, init and every process the policy does not name run as %s with", unconfinedT)
	w.comment("every permission; executing a compartment's executable enters the compartment.")
	for _, cl := range kernelClasses {
		w.ln("(allow %s %s (%s (all)))", unconfinedT, attrAll, cl.name)
	}

	w.section("Base rules of every compartment and role domain")
	for _, g := range c.baseGrants() {
		c.writeGrant(w, g)
	}

	w.section("Compartments")
	for _, x := range sortedNames(p.Compartments, func(x *policy.Compartment) string { return x.Name }) {
		w.ln("")
		w.comment("compartment %s (%s), tier %s", x.Name, posString(x.Range), x.Tier)
		if x.Description != "" {
			w.comment("  %s", x.Description)
		}
		if x.IsolateInstances {
			w.comment("  isolate_instances: all instances share %s; SELinux does not separate them", c.domain[x.Name])
			w.comment("  (no MCS categories are generated). Rely on the launcher's namespaces.")
		}
		w.ln("(type %s)", c.domain[x.Name])
		for _, et := range c.execTypes[x.Name] {
			w.ln("(type %s)", et)
			w.ln("(typetransition %s %s process %s)", unconfinedT, et, c.domain[x.Name])
		}
		if slices.Contains(c.opts.Permissive, x.Name) {
			w.ln("(typepermissive %s) ; permissive by request: denials are logged, not enforced", c.domain[x.Name])
		}
	}

	if len(p.Roles) > 0 {
		w.section("Operator roles")
		for _, r := range sortedNames(p.Roles, func(x *policy.Role) string { return x.Name }) {
			w.comment("role %s (%s), accounts: %s", r.Name, posString(r.Range), strings.Join(r.Accounts, ", "))
			w.ln("(type %s)", c.domain[r.Name])
			if slices.Contains(c.opts.Permissive, r.Name) {
				w.ln("(typepermissive %s) ; permissive by request: denials are logged, not enforced", c.domain[r.Name])
			}
		}
	}

	w.section("Resources")
	for _, r := range sortedNames(p.Resources, func(x *policy.Resource) string { return x.Name }) {
		var labels []string
		for _, l := range r.Labels {
			labels = append(labels, string(l))
		}
		desc := fmt.Sprintf("resource %s (%s), %s", r.Name, posString(r.Range), r.Kind)
		if len(labels) > 0 {
			desc += ", labels " + strings.Join(labels, ", ")
		}
		if r.Owner != "" {
			desc += ", owner " + r.Owner
		}
		w.comment("%s: %s", desc, strings.Join(r.Paths, " "))
		w.ln("(type %s)", c.resType[r.Name])
		if a, ok := c.resSet[r.Name]; ok {
			w.ln("(typeattribute %s)", a)
			w.ln("(typeattributeset %s %s)", a, list(append([]string{c.resType[r.Name]}, c.resExtra[r.Name]...)))
		}
	}

	if len(c.sockType)+len(c.ports) > 0 {
		w.section("Channels: socket files and ports")
	}
	for _, ch := range sortedNames(p.Channels, func(x *policy.Channel) string { return x.Name }) {
		if t, ok := c.sockType[ch.Name]; ok {
			w.comment("channel %s (%s): unix socket %s, server %s", ch.Name, posString(ch.Range), ch.Path, ch.Server)
			w.ln("(type %s)", t)
		}
	}
	declared := map[string]bool{}
	for _, s := range c.ports {
		if !declared[s.typ] {
			declared[s.typ] = true
			w.comment("%s", c.out.Types[s.typ].Description)
			w.ln("(type %s)", s.typ)
		}
		if s.first == s.last {
			w.ln("(portcon %s %d %s)", s.proto, s.first, objCtx(s.typ))
		} else {
			w.ln("(portcon %s (%d %d) %s)", s.proto, s.first, s.last, objCtx(s.typ))
		}
	}

	w.section("File contexts (in the order secilc writes them: later entries win)")
	for _, e := range c.fcs {
		w.ln("(filecon \"%s\" %s %s) ; %s", e.re, e.fileType, objCtx(e.typ), e.origin)
	}
	for _, warn := range c.out.Warnings {
		if strings.HasPrefix(warn, "file context") {
			w.comment("WARNING: %s", warn)
		}
	}

	w.section("Attributes")
	c.writeAttributes(w)

	w.section("Rules of compartments and roles, from the policy")
	for _, sg := range c.subjectGrants {
		kind := "compartment"
		if p.Role(sg.name) != nil {
			kind = "role"
		}
		w.ln("")
		w.comment("--- %s %s (%s) ---", kind, sg.name, c.domain[sg.name])
		for _, g := range sg.grants {
			c.writeGrant(w, g)
		}
		for _, tt := range c.transTypes {
			if tt.source != c.domain[sg.name] {
				continue
			}
			w.comment("%s", tt.comment)
			if tt.name != "" {
				w.ln("(typetransition %s %s %s \"%s\" %s)", tt.source, tt.target, tt.class, tt.name, tt.result)
			} else {
				w.ln("(typetransition %s %s %s %s)", tt.source, tt.target, tt.class, tt.result)
			}
		}
	}

	w.section("Invariants")
	w.comment("Each deny_access, deny_spawn and deny_capability invariant becomes neverallow rules,")
	w.comment("which secilc checks when it compiles; what SELinux cannot express is listed.")
	for _, b := range c.invBlocks {
		inv := b.inv
		w.ln("")
		w.comment("invariant %s (%s): %s", inv.Name, posString(inv.Range), inv.Form)
		if inv.Description != "" {
			w.comment("  %s", inv.Description)
		}
		for _, a := range b.attrs {
			w.comment("%s", a.comment)
			w.ln("(typeattribute %s)", a.name)
			if len(a.members) > 0 {
				w.ln("(typeattributeset %s %s)", a.name, list(a.members))
			}
		}
		for _, n := range b.notes {
			w.comment("%s", n)
		}
		for _, n := range b.never {
			st := n.statement()
			w.ln("%s ; invariant %s: %s", st, inv.Name, n.what)
			c.out.Neverallows = append(c.out.Neverallows, Neverallow{Invariant: inv.Name, Line: w.line, Statement: st})
		}
	}
	slices.Sort(seusers)
	c.out.Seusers = []byte(strings.Join(append([]string{"__default__:" + sysUser + ":s0"}, seusers...), "\n") + "\n")
	c.out.NotExpressible = c.gaps
	c.out.CIL = []byte(w.b.String())
	c.out.FileContexts = c.fileContextsText()
}

// writeAttributes fills the skeleton attributes.
func (c *compiler) writeAttributes(w *writer) {
	p := c.p
	var comps, roles, execs, res, socks, portsT []string
	tiers := map[policy.Tier][]string{}
	for _, x := range p.Compartments {
		comps = append(comps, c.domain[x.Name])
		tiers[x.Tier] = append(tiers[x.Tier], c.domain[x.Name])
		execs = append(execs, c.execTypes[x.Name]...)
	}
	for _, r := range p.Roles {
		roles = append(roles, c.domain[r.Name])
	}
	for _, r := range p.Resources {
		res = append(res, c.resType[r.Name])
	}
	for _, t := range c.sockType {
		socks = append(socks, t)
	}
	for _, s := range c.ports {
		portsT = append(portsT, s.typ)
	}
	set := func(attr string, members []string) {
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) > 0 {
			w.ln("(typeattributeset %s %s)", attr, list(members))
		}
	}
	w.ln("(typeattributeset %s (all))", attrAll)
	w.ln("(typeattributeset %s (%s %s))", attrDomain, attrComp, attrRoleDom)
	set(attrComp, comps)
	set(attrRoleDom, roles)
	for _, t := range policy.Tiers() {
		set(tierAttr(t), tiers[t])
	}
	set(attrExec, execs)
	set(attrResource, res)
	set(attrSocket, socks)
	set(attrPort, portsT)
	w.ln("(typeattributeset %s %s)", attrFile, list(append([]string{attrExec, attrResource, attrSocket}, skeletonFileTypes...)))
	w.ln("(typeattributeset %s %s)", attrFS, list(superblockTypes))
}

// writeGrant writes one grant: its comment and one allow per target and
// class.
func (c *compiler) writeGrant(w *writer, g *grant) {
	type key struct{ target, class string }
	perms := map[key][]string{}
	var keys []key
	for _, t := range g.tuples {
		k := key{t.target, t.class}
		if _, ok := perms[k]; !ok {
			keys = append(keys, k)
		}
		if !slices.Contains(perms[k], t.perm) {
			perms[k] = append(perms[k], t.perm)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.target != b.target {
			return strings.Compare(a.target, b.target)
		}
		return strings.Compare(a.class, b.class)
	})
	w.comment("%s", g.comment)
	for _, k := range keys {
		ps := perms[k]
		slices.Sort(ps)
		w.ln("(allow %s %s (%s %s))", g.source, k.target, k.class, list(ps))
	}
}

// validAccount reports whether a is a plain Linux login name.
func validAccount(a string) bool {
	if a == "" || len(a) > 32 {
		return false
	}
	for i, r := range a {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9') || r == '-' || r == '.':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
