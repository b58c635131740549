package systemd

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// needs is what the members of a unit may do, gathered from the policy.
type needs struct {
	pl *unitPlan
	// res: granted resources in policy order, with their verbs (union
	// over members) and why lines.
	res          []*policy.Resource
	verbs        map[string]policy.VerbSet
	resWhy       map[string][]string
	resBy        map[string][]string // members granted each resource
	chans        []chanUse
	caps         []policy.Capability
	capWhy       map[policy.Capability][]string
	groups       []string
	mapExec      []string // why lines: members that map code executable
	ptrace       []string // why lines
	allUntrusted bool
	root         bool // the unit runs as root (or as an unset user)
}

// chanUse is a member's use of a channel.
type chanUse struct {
	ch     *policy.Channel
	member string
	server bool
}

func verbList(vs policy.VerbSet) string {
	var s []string
	for _, v := range vs.Verbs() {
		s = append(s, v.String())
	}
	return strings.Join(s, ", ")
}

func (c *compiler) gather(pl *unitPlan) *needs {
	n := &needs{
		pl:           pl,
		verbs:        make(map[string]policy.VerbSet),
		resWhy:       make(map[string][]string),
		resBy:        make(map[string][]string),
		capWhy:       make(map[policy.Capability][]string),
		allUntrusted: true,
		root:         pl.user == "" || pl.user == "root",
	}
	for _, m := range pl.members {
		if m.Tier != policy.TierUntrusted {
			n.allUntrusted = false
		}
		for _, g := range m.Groups {
			if !slices.Contains(n.groups, g) {
				n.groups = append(n.groups, g)
			}
		}
		for _, cp := range m.Capabilities {
			if _, ok := n.capWhy[cp]; !ok {
				n.caps = append(n.caps, cp)
			}
			n.capWhy[cp] = append(n.capWhy[cp], fmt.Sprintf("%s keeps %s (%s)", m.Name, cp, c.pos(m.Range)))
		}
		for _, obj := range c.p.GrantedObjects(m.Name) {
			vs, rules := c.p.Granted(m.Name, obj)
			e, _ := c.p.Entity(obj)
			switch e.Kind {
			case policy.EntityResource:
				if _, ok := n.verbs[obj]; !ok {
					n.res = append(n.res, c.p.Resource(obj))
				}
				n.verbs[obj] |= vs
				n.resBy[obj] = append(n.resBy[obj], m.Name)
				for _, r := range rules {
					n.resWhy[obj] = append(n.resWhy[obj], fmt.Sprintf("%s may %s %s (%s)", m.Name, verbList(r.Verbs), obj, c.pos(r.Range)))
				}
			case policy.EntityChannel:
				ch := c.p.Channel(obj)
				n.chans = append(n.chans, chanUse{ch: ch, member: m.Name, server: vs.Has(policy.VerbBind) || vs.Has(policy.VerbListen)})
			case policy.EntityCompartment:
				for _, r := range rules {
					why := fmt.Sprintf("%s may %s %s (%s)", m.Name, verbList(r.Verbs), obj, c.pos(r.Range))
					if vs.Has(policy.VerbMapExec) && r.Verbs.Has(policy.VerbMapExec) {
						n.mapExec = append(n.mapExec, why)
					}
					if r.Verbs.Has(policy.VerbPtrace) {
						n.ptrace = append(n.ptrace, why)
					}
				}
			}
		}
	}
	// Keep resources in policy order.
	slices.SortStableFunc(n.res, func(a, b *policy.Resource) int {
		return slices.Index(c.p.Resources, a) - slices.Index(c.p.Resources, b)
	})
	for _, r := range n.res {
		if n.verbs[r.Name].Has(policy.VerbMapExec) {
			n.mapExec = append(n.mapExec, n.resWhy[r.Name]...)
		}
	}
	return n
}

func (n *needs) capsWhy(names ...string) []string {
	var why []string
	for _, cp := range n.caps {
		if slices.Contains(names, string(cp)) {
			why = append(why, n.capWhy[cp]...)
		}
	}
	return why
}

// syscalls returns the union of the members' syscall lists, or nil when
// some member is unrestricted.
func (n *needs) syscalls() (list []string, unrestricted []string) {
	for _, m := range n.pl.members {
		if len(m.Syscalls) == 0 {
			unrestricted = append(unrestricted, m.Name)
			continue
		}
		for _, s := range m.Syscalls {
			if !slices.Contains(list, s) {
				list = append(list, s)
			}
		}
	}
	if len(unrestricted) > 0 {
		return nil, unrestricted
	}
	return list, nil
}

func (n *needs) syscallsHave(groups ...string) []string {
	var who []string
	for _, m := range n.pl.members {
		for _, s := range m.Syscalls {
			if slices.Contains(groups, s) {
				who = append(who, fmt.Sprintf("%s allows %s", m.Name, s))
			}
		}
	}
	return who
}

// dirs collects directives in order.
type dirs struct{ list []Directive }

func (d *dirs) add(key, value string, why ...string) {
	d.list = append(d.list, Directive{Key: key, Value: value, Why: why})
}

// build derives the directives of a unit.
func (c *compiler) build(pl *unitPlan) {
	n := c.gather(pl)
	d := &dirs{}

	// Identity.
	switch {
	case pl.user != "":
		d.add("User", pl.user, "user of "+c.names(pl.primaries))
	default:
		for _, m := range pl.primaries {
			c.warn(m.Name, m.Range, "no user set: the drop-in leaves User= to the vendor unit (root if it sets none), which systemd-analyze rates as the largest single exposure")
		}
	}
	if pl.group != "" {
		d.add("Group", pl.group, "group of "+c.names(pl.primaries))
	}
	d.add("SupplementaryGroups", "")
	if len(n.groups) > 0 {
		var why []string
		for _, m := range pl.members {
			if len(m.Groups) > 0 {
				why = append(why, fmt.Sprintf("%s: groups %s (%s)", m.Name, strings.Join(m.Groups, ", "), c.pos(m.Range)))
			}
		}
		d.add("SupplementaryGroups", strings.Join(n.groups, " "), why...)
	}

	// Privileges.
	d.add("NoNewPrivileges", "yes", "no setuid, setgid or file capabilities: compartments change identity only through spawn blocks, realised as units")
	d.add("CapabilityBoundingSet", "")
	if len(n.caps) > 0 {
		var cs []string
		var why []string
		for _, cp := range n.caps {
			cs = append(cs, string(cp))
			why = append(why, n.capWhy[cp]...)
		}
		d.add("CapabilityBoundingSet", strings.Join(cs, " "), why...)
	}
	d.add("AmbientCapabilities", "")
	if len(n.caps) > 0 && !n.root {
		var cs []string
		for _, cp := range n.caps {
			cs = append(cs, string(cp))
		}
		d.add("AmbientCapabilities", strings.Join(cs, " "), "a non-root user holds its capabilities as ambient capabilities")
	}

	// File system.
	c.filesystem(pl, n, d)

	// Devices.
	c.devices(pl, n, d)

	// Network.
	c.network(pl, n, d)

	// Kernel, process and IPC isolation.
	if why := slices.Concat(n.capsWhy("CAP_SYS_MODULE"), n.syscallsHave("@module")); len(why) > 0 {
		d.add("ProtectKernelModules", "no", why...)
	} else {
		d.add("ProtectKernelModules", "yes")
	}
	if why := n.capsWhy("CAP_SYSLOG"); len(why) > 0 {
		d.add("ProtectKernelLogs", "no", why...)
	} else {
		d.add("ProtectKernelLogs", "yes")
	}
	if why := slices.Concat(n.capsWhy("CAP_SYS_TIME", "CAP_WAKE_ALARM"), n.syscallsHave("@clock")); len(why) > 0 {
		d.add("ProtectClock", "no", why...)
	} else {
		d.add("ProtectClock", "yes")
	}
	d.add("ProtectHostname", "yes")
	if len(n.ptrace) > 0 {
		d.add("ProtectProc", "ptraceable", slices.Concat([]string{"processes the unit may trace stay visible"}, n.ptrace)...)
	} else {
		d.add("ProtectProc", "invisible", "other users' processes are hidden")
	}
	if n.allUntrusted {
		d.add("ProcSubset", "pid", "untrusted tier: no system-wide /proc files")
	}
	d.add("PrivateMounts", "yes")
	d.add("PrivateIPC", "yes", "no IPC channel in the policy: SysV IPC and POSIX message queues stay private")
	c.privateUsers(pl, n, d)
	d.add("RestrictNamespaces", "yes", "the policy grants no namespace creation")
	d.add("LockPersonality", "yes")
	if len(n.mapExec) > 0 {
		d.add("MemoryDenyWriteExecute", "no", slices.Concat([]string{"W^X exception: code is mapped executable (JIT or precompiled modules)"}, n.mapExec)...)
	} else {
		d.add("MemoryDenyWriteExecute", "yes", "no map-exec grant: no writable-executable memory, no mprotect(PROT_EXEC)")
	}
	if why := n.capsWhy("CAP_SYS_NICE"); len(why) > 0 {
		d.add("RestrictRealtime", "no", why...)
	} else {
		d.add("RestrictRealtime", "yes")
	}
	d.add("RestrictSUIDSGID", "yes", "identities change only through spawn blocks, never through set-user-ID or set-group-ID files")
	if !n.root {
		d.add("RemoveIPC", "yes")
	}
	d.add("KeyringMode", "private")

	// System calls.
	d.add("SystemCallFilter", "")
	list, unrestricted := n.syscalls()
	if len(unrestricted) > 0 {
		d.lastWhy(fmt.Sprintf("no system call filter: %s lists no syscalls (unrestricted)", strings.Join(unrestricted, ", ")))
	} else if len(list) > 0 {
		var why []string
		for _, m := range pl.members {
			why = append(why, fmt.Sprintf("%s: %s (%s)", m.Name, strings.Join(m.Syscalls, " "), c.pos(m.Range)))
		}
		d.add("SystemCallFilter", strings.Join(list, " "), why...)
	}
	d.add("SystemCallArchitectures", "native")
	d.add("SystemCallErrorNumber", "EPERM")

	// Limits.
	c.limits(pl, n, d)

	pl.directives = d.list
}

func (d *dirs) lastWhy(why ...string) {
	if len(d.list) > 0 {
		d.list[len(d.list)-1].Why = append(d.list[len(d.list)-1].Why, why...)
	}
}

func (c *compiler) names(cs []*policy.Compartment) string {
	var s []string
	for _, m := range cs {
		s = append(s, fmt.Sprintf("%s (%s)", m.Name, c.pos(m.Range)))
	}
	return strings.Join(s, ", ")
}

// privateUsers sets PrivateUsers=yes when nothing in the unit depends on
// identities outside a user namespace.
func (c *compiler) privateUsers(pl *unitPlan, n *needs, d *dirs) {
	var why []string
	switch {
	case n.root:
		why = append(why, "the unit runs as root")
	case len(n.caps) > 0:
		why = append(why, "capabilities must act in the host's user namespace")
	}
	if len(n.groups) > 0 {
		why = append(why, "supplementary groups are not mapped into a private user namespace")
	}
	for _, r := range n.res {
		if r.Kind == policy.KindCharDevice || r.Kind == policy.KindBlockDevice {
			why = append(why, "device access ("+r.Name+")")
			break
		}
	}
	if len(n.ptrace) > 0 {
		why = append(why, "ptrace of other compartments")
	}
	if len(why) > 0 {
		d.add("PrivateUsers", "no", why...)
		return
	}
	d.add("PrivateUsers", "yes", "only the unit's own user and group are mapped")
}

// limits maps the limits blocks. Resource limits are upper bounds that
// spawned members inherit, so a unit with several members gets the
// largest value any member sets (a lower one would deny that member what
// the policy allows); cgroup limits cover every process of the unit
// together, so they are set only for a unit with one member.
func (c *compiler) limits(pl *unitPlan, n *needs, d *dirs) {
	type lim struct {
		name   policy.LimitName
		key    string
		cgroup bool
		format func(uint64) string
	}
	num := func(v uint64) string { return strconv.FormatUint(v, 10) }
	lims := []lim{
		{policy.LimitNoFile, "LimitNOFILE", false, num},
		{policy.LimitNProc, "LimitNPROC", false, num},
		{policy.LimitCore, "LimitCORE", false, num},
		{policy.LimitMemory, "MemoryMax", true, num},
		{policy.LimitTasks, "TasksMax", true, num},
		{policy.LimitCPU, "CPUQuota", true, func(v uint64) string { return num(v) + "%" }},
	}
	for _, l := range lims {
		var set []*policy.Compartment
		var maxV uint64
		for _, m := range pl.members {
			if v, ok := m.Limits[l.name]; ok {
				set = append(set, m)
				maxV = max(maxV, v)
			}
		}
		if len(set) == 0 {
			continue
		}
		var why []string
		for _, m := range set {
			why = append(why, fmt.Sprintf("%s: %s = %d (%s)", m.Name, l.name, m.Limits[l.name], c.pos(m.Range)))
		}
		switch {
		case l.cgroup && len(pl.members) > 1:
			for _, m := range set {
				c.warn(m.Name, m.Range, fmt.Sprintf("limit %s is not set in %s: the unit's cgroup holds all of %s, so a cgroup limit there would cap them together; enforce it per process with the launcher or give %s a unit of its own",
					l.name, pl.unit, c.plainNames(pl.members), m.Name))
			}
		default:
			d.add(l.key, l.format(maxV), why...)
		}
	}
}

func (c *compiler) plainNames(cs []*policy.Compartment) string {
	var s []string
	for _, m := range cs {
		s = append(s, m.Name)
	}
	return strings.Join(s, ", ")
}

// devices maps char-device and block-device grants to DeviceAllow=.
func (c *compiler) devices(pl *unitPlan, n *needs, d *dirs) {
	type allow struct {
		spec, mode string
		why        []string
	}
	var allows []allow
	for _, r := range n.res {
		if r.Kind != policy.KindCharDevice && r.Kind != policy.KindBlockDevice {
			continue
		}
		vs := n.verbs[r.Name]
		mode := ""
		if vs.Has(policy.VerbRead) || vs.Has(policy.VerbIoctl) || vs.Has(policy.VerbMapExec) || vs.Has(policy.VerbExecute) {
			mode += "r"
		}
		if vs.Has(policy.VerbWrite) || vs.Has(policy.VerbAppend) {
			mode += "w"
		}
		if vs.Has(policy.VerbCreate) {
			mode += "m"
		}
		if mode == "" {
			continue
		}
		for i, g := range r.Paths {
			spec := g
			if strings.ContainsAny(g, "*?") {
				class := "char-*"
				if r.Kind == policy.KindBlockDevice {
					class = "block-*"
				}
				spec = class
				c.warn(n.resBy[r.Name][0], r.PathRanges[i], fmt.Sprintf("DeviceAllow= takes device nodes or driver classes, not globs: %s of %s is allowed as %s (every %s device)", g, r.Name, class, r.Kind))
			}
			allows = append(allows, allow{spec, mode, n.resWhy[r.Name]})
		}
	}
	var why []string
	if len(allows) > 0 {
		why = append(why, "device resources are granted: the host's /dev stays, the device cgroup admits only them")
	}
	why = append(why, n.capsWhy("CAP_SYS_RAWIO", "CAP_MKNOD")...)
	why = append(why, n.syscallsHave("@raw-io")...)
	if len(why) > 0 {
		d.add("PrivateDevices", "no", why...)
	} else {
		d.add("PrivateDevices", "yes", "no device resource granted")
	}
	d.add("DevicePolicy", "closed", "only pseudo devices (null, zero, random, …) and DeviceAllow= entries")
	d.add("DeviceAllow", "")
	seen := make(map[string]bool)
	for _, a := range allows {
		v := a.spec + " " + a.mode
		if seen[v] {
			continue
		}
		seen[v] = true
		d.add("DeviceAllow", v, a.why...)
	}
}

// network maps channels to address families, IP filters and bind rules.
func (c *compiler) network(pl *unitPlan, n *needs, d *dirs) {
	var unixWhy, inetWhy, vsockWhy []string
	var binds []string
	bindWhy := map[string][]string{}
	var allowIPs []string
	ipWhy := map[string][]string{}
	var anyWhy []string
	for _, u := range n.chans {
		ch := u.ch
		role := "client"
		if u.server {
			role = "server"
		}
		why := fmt.Sprintf("%s is %s of channel %s (%s)", u.member, role, ch.Name, c.pos(ch.Range))
		switch ch.Protocol {
		case policy.ProtoUnix:
			if ch.Path != "" {
				unixWhy = append(unixWhy, why)
			}
		case policy.ProtoVsock:
			vsockWhy = append(vsockWhy, why)
		case policy.ProtoTCP, policy.ProtoUDP:
			inetWhy = append(inetWhy, why)
			if u.server {
				for _, pr := range ch.Ports {
					b := ch.Protocol.String() + ":" + pr.String()
					binds = appendNew(binds, b)
					bindWhy[b] = append(bindWhy[b], why)
				}
			}
			local := len(ch.Remote) == 0 || (u.server && len(ch.Clients) > 0) || (!u.server && !ch.Outbound())
			if local {
				allowIPs = appendNew(allowIPs, "localhost")
				ipWhy["localhost"] = append(ipWhy["localhost"], why+": local peers")
			}
			for _, r := range ch.Remote {
				switch ip, ok := ipEntry(r); {
				case r == "any":
					anyWhy = append(anyWhy, why+": remote any")
				case ok:
					allowIPs = appendNew(allowIPs, ip)
					ipWhy[ip] = append(ipWhy[ip], why)
				default:
					anyWhy = append(anyWhy, why+": remote "+r)
					c.warn(u.member, ch.Range, fmt.Sprintf("IPAddressAllow= takes addresses and prefixes, not host names: remote %q of channel %s cannot be expressed, so the unit's IP traffic is not filtered", r, ch.Name))
				}
			}
		}
	}
	netAdmin := n.capsWhy("CAP_NET_ADMIN")
	netRaw := n.capsWhy("CAP_NET_RAW")

	// PrivateNetwork.
	if len(inetWhy) == 0 && len(netAdmin) == 0 && len(netRaw) == 0 {
		d.add("PrivateNetwork", "yes", "no TCP or UDP channel: only a private loopback device")
	} else {
		d.add("PrivateNetwork", "no", slices.Concat(inetWhy, netAdmin, netRaw)...)
	}

	// Address families.
	d.add("RestrictAddressFamilies", "")
	var fams []string
	var famWhy []string
	switch {
	case len(unixWhy) > 0:
		fams = append(fams, "AF_UNIX")
		famWhy = append(famWhy, unixWhy...)
	case !n.allUntrusted:
		fams = append(fams, "AF_UNIX")
		famWhy = append(famWhy, "AF_UNIX: the service manager and the journal (sd_notify, syslog); the untrusted tier does without")
	}
	if len(inetWhy) > 0 {
		fams = append(fams, "AF_INET", "AF_INET6")
		famWhy = append(famWhy, inetWhy...)
	}
	if len(vsockWhy) > 0 {
		fams = append(fams, "AF_VSOCK")
		famWhy = append(famWhy, vsockWhy...)
	}
	if len(netAdmin) > 0 {
		fams = append(fams, "AF_NETLINK")
		famWhy = append(famWhy, "AF_NETLINK: network configuration")
		famWhy = append(famWhy, netAdmin...)
	}
	if len(netRaw) > 0 {
		fams = append(fams, "AF_PACKET")
		famWhy = append(famWhy, "AF_PACKET: raw sockets")
		famWhy = append(famWhy, netRaw...)
	}
	if len(fams) == 0 {
		d.add("RestrictAddressFamilies", "none", "no socket channel: no socket() at all (inherited descriptors still work)")
	} else {
		d.add("RestrictAddressFamilies", strings.Join(fams, " "), famWhy...)
	}

	// IP filters.
	switch {
	case len(inetWhy) == 0:
		d.add("IPAddressDeny", "")
		d.add("IPAddressAllow", "")
		d.add("IPAddressDeny", "any", "no TCP or UDP channel")
	case len(anyWhy) > 0:
		d.add("IPAddressDeny", "", slices.Concat([]string{"no IP filter: a channel admits any remote"}, anyWhy)...)
		d.add("IPAddressAllow", "")
	default:
		d.add("IPAddressDeny", "")
		d.add("IPAddressAllow", "")
		d.add("IPAddressDeny", "any", "only the channels' peers")
		slices.Sort(allowIPs)
		for _, ip := range allowIPs {
			d.add("IPAddressAllow", ip, ipWhy[ip]...)
		}
	}

	// Bind rules (enforced only where systemd is built with its BPF
	// framework; Debian 12's systemd 252 parses and ignores them).
	if len(inetWhy) > 0 {
		d.add("SocketBindAllow", "")
		d.add("SocketBindDeny", "")
		for _, b := range binds {
			d.add("SocketBindAllow", b, bindWhy[b]...)
		}
		d.add("SocketBindDeny", "any", "bind() only to the ports of served channels (needs systemd built with BPF framework; ignored otherwise)")
	}
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// ipEntry normalises an IP address or prefix for IPAddressAllow=.
func ipEntry(s string) (string, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), true
	}
	return "", false
}
