package selinux

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rampart-sec/rampart/policy"
)

// tupleKey is one permission on one target: the unit allow and neverallow
// rules are made of. target is a type or attribute name, or "self".
type tupleKey struct{ target, class, perm string }

// pair is a verb applied to an object: what a policy rule grants.
type pair struct {
	verb   policy.Verb
	object string
}

// grant is a group of allow rules with one source and one comment.
type grant struct {
	source  string // the rules' source type or attribute
	comment string
	pos     hcl.Range
	tuples  []tupleKey
}

// typeTrans is a type_transition rule.
type typeTrans struct {
	source, target, class, result, name string
	comment                             string
}

func tuples(target, class string, perms ...string) []tupleKey {
	out := make([]tupleKey, len(perms))
	for i, p := range perms {
		out[i] = tupleKey{target, class, p}
	}
	return out
}

// verbTuples resolves the shared verb table for verb v on object: every
// class and permission of v's mapping for the object's kind, with its
// target resolved to a type ("self" for the subject's own domain). The
// table is applied as documented in docs/policy.md, plus the plumbing
// listed in docs/policy.md "SELinux backend": anonymous unix channels
// (no socket file: fd use and socket permissions on the server's domain),
// the parent directory of a unix socket for bind, and node_bind for
// tcp/udp bind.
func (c *compiler) verbTuples(v policy.Verb, object string) []tupleKey {
	p := c.p
	k := p.ObjectKind(object)
	ch := p.Channel(object)
	anon := ch != nil && ch.Protocol == policy.ProtoUnix && ch.Path == ""
	var out []tupleKey
	for _, cp := range v.SELinuxPerms(k) {
		var targets []string
		switch cp.Target {
		case policy.TargetObject:
			switch {
			case p.Resource(object) != nil:
				targets = []string{c.resTarget(object)}
			case ch != nil && ch.Protocol == policy.ProtoUnix:
				if !anon {
					targets = []string{c.sockType[object]}
				}
			case ch != nil:
				targets = c.portTypes[object]
			case p.Compartment(object) != nil:
				targets = []string{c.domain[object]}
			}
		case policy.TargetSelf:
			if anon && v == policy.VerbConnect {
				// The client uses the server's socket pair end.
				perms := slices.DeleteFunc(slices.Clone(cp.Perms), func(s string) bool { return s == "create" || s == "connect" })
				out = append(out, tuples(c.domain[ch.Server], cp.Class, perms...)...)
				continue
			}
			targets = []string{"self"}
		case policy.TargetParent:
			if r := p.Resource(object); r != nil {
				targets = c.parentTypes(r)
			}
		case policy.TargetPeer:
			if ch != nil && !anon && ch.Server != "" {
				targets = []string{c.domain[ch.Server]}
			}
		case policy.TargetExecutable:
			targets = c.execTypes[object]
		}
		for _, t := range targets {
			out = append(out, tuples(t, cp.Class, cp.Perms...)...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	switch {
	case anon && v == policy.VerbConnect:
		out = append(out, tupleKey{c.domain[ch.Server], "fd", "use"})
	case ch != nil && ch.Protocol == policy.ProtoUnix && !anon && v == policy.VerbBind:
		out = append(out, tuples(c.dirType(path.Dir(ch.Path)), "dir", "search", "write", "add_name", "remove_name")...)
	case ch != nil && (ch.Protocol == policy.ProtoTCP || ch.Protocol == policy.ProtoUDP) && v == policy.VerbBind:
		out = append(out, tupleKey{nodeT, ch.Protocol.String() + "_socket", "node_bind"})
	}
	return out
}

// objects returns every object name of the policy: resources, channels
// and compartments, in declaration order.
func (c *compiler) objects() []string {
	var out []string
	for _, r := range c.p.Resources {
		out = append(out, r.Name)
	}
	for _, ch := range c.p.Channels {
		out = append(out, ch.Name)
	}
	for _, x := range c.p.Compartments {
		out = append(out, x.Name)
	}
	return out
}

func (c *compiler) addIncidental(ts []tupleKey) {
	for _, t := range ts {
		c.incidental[tupleKey{c.mainType(t.target), t.class, t.perm}] = true
	}
}

// base rules every compartment and role domain holds: its own process
// basics and /proc entries, what it inherits from the unconfined system
// (descriptors, pipes, stdio sockets, terminals), /dev/null and friends,
// reading /proc and /sys, and traversing directories no resource governs.
// None of these target a resource, a channel's type or another domain.
func (c *compiler) baseGrants() []*grant {
	g := func(comment string, ts ...[]tupleKey) *grant {
		return &grant{source: attrDomain, comment: comment, tuples: slices.Concat(ts...)}
	}
	readFS := func(t string) []tupleKey {
		return slices.Concat(tuples(t, "dir", "getattr", "search", "read", "open"),
			tuples(t, "file", "getattr", "read", "open"), tuples(t, "lnk_file", "getattr", "read"))
	}
	traverse := func(t string) []tupleKey {
		return slices.Concat(tuples(t, "dir", "getattr", "search"), tuples(t, "lnk_file", "getattr", "read"))
	}
	var fsGetattr []tupleKey
	for _, t := range []string{fsT, tmpfsT, procT, sysfsT, deviceT, devptsT, cgroupT} {
		fsGetattr = append(fsGetattr, tupleKey{t, "filesystem", "getattr"})
	}
	return []*grant{
		g("base: own process basics (no signals: those are the signal verb)",
			tuples("self", "process", "fork", "getsched", "setsched", "getpgid", "setpgid", "getsession", "getcap", "setcap", "getrlimit", "setrlimit"),
			tuples("self", "fd", "use"),
			tuples("self", "fifo_file", "getattr", "open", "read", "write", "append", "ioctl", "lock")),
		g("base: own /proc/<pid> entries", readFS("self")),
		g("base: what the unconfined system hands over: descriptors, pipes, stdio sockets, exit signal",
			tuples(unconfinedT, "fd", "use"),
			tuples(unconfinedT, "process", "sigchld"),
			tuples(unconfinedT, "fifo_file", "getattr", "read", "write", "append", "ioctl", "lock"),
			tuples(unconfinedT, "unix_stream_socket", "getattr", "read", "write", "append", "shutdown")),
		g("base: /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom",
			tuples(nullDeviceT, "chr_file", "getattr", "open", "read", "write", "append", "ioctl", "lock")),
		g("base: inherited terminals (no open, no ioctl)", tuples(devptsT, "chr_file", "getattr", "read", "write", "append")),
		g("base: read /proc and /sys", readFS(procT), readFS(sysfsT)),
		g("base: traverse directories no resource governs", traverse(defaultT), traverse(tmpfsT), traverse(deviceT)),
		g("base: statfs", fsGetattr),
	}
}

// capabilityTuples maps Linux capabilities to capability and capability2
// permissions.
func capabilityTuples(target string, caps []policy.Capability) []tupleKey {
	var out []tupleKey
	for _, cp := range caps {
		perm := strings.ToLower(strings.TrimPrefix(string(cp), "CAP_"))
		class := "capability"
		if slices.Contains(commonCap2, perm) {
			class = "capability2"
		}
		out = append(out, tupleKey{target, class, perm})
	}
	return out
}

// spawnSource finds the spawn block (or role) that lets from start to.
func (c *compiler) spawnSource(from, to string) (hcl.Range, string) {
	if r := c.p.Role(from); r != nil {
		return r.Range, fmt.Sprintf("role %s enters %s", from, to)
	}
	for _, s := range c.p.Spawns {
		if s.From == from && slices.Contains(s.To, to) {
			return s.Range, fmt.Sprintf("spawn %s -> %s", from, to)
		}
	}
	return hcl.Range{}, fmt.Sprintf("spawn %s -> %s", from, to)
}

func ruleWording(r *policy.Rule, object string) string {
	switch r.Origin {
	case policy.OriginServer:
		return fmt.Sprintf("%s serves channel %s %s", r.Subject, object, r.Verbs)
	case policy.OriginClient:
		return fmt.Sprintf("%s is a client of channel %s %s", r.Subject, object, r.Verbs)
	}
	return fmt.Sprintf("allow %s %s on %s", r.Subject, r.Verbs, object)
}

// subjectGrants are the rules of one compartment or role, in order:
// executables and capabilities, allow and channel rules in source order,
// spawns, and path traversal.
type subjectGrants struct {
	name   string
	grants []*grant
}

// buildGrants computes every allow rule and type transition.
func (c *compiler) buildGrants() {
	p := c.p
	for _, g := range c.baseGrants() {
		c.addIncidental(g.tuples)
	}
	for _, s := range c.subjects {
		d := c.domain[s]
		var gs []*grant
		traversal := map[string]bool{}
		addTraversal := func(glob, skip string) {
			for _, t := range c.ancestorTypes(glob, skip) {
				traversal[t] = true
			}
		}
		if x := p.Compartment(s); x != nil {
			for _, et := range c.execTypes[s] {
				ts := tuples(et, "file", "entrypoint", "getattr", "open", "read", "map", "execute")
				c.addIncidental(ts)
				gs = append(gs, &grant{source: d, pos: x.Range, tuples: ts,
					comment: fmt.Sprintf("from %s: compartment %s runs its executables", posString(x.Range), s)})
			}
			for _, e := range x.Executables {
				addTraversal(e, "")
			}
			if len(x.Capabilities) > 0 {
				gs = append(gs, &grant{source: d, pos: x.Range, tuples: capabilityTuples("self", x.Capabilities),
					comment: fmt.Sprintf("from %s: capabilities of %s", posString(x.Range), s)})
			}
		}
		if r := p.Role(s); r != nil {
			var ts []tupleKey
			sel := policy.Selector{Terms: []policy.Term{{Func: policy.TermExecutables}}, Domain: policy.EntityKinds(policy.EntityResource)}
			for _, e := range p.Select(sel) {
				ts = append(ts, tupleKey{c.resType[e.Name], "file", "entrypoint"})
			}
			if len(ts) > 0 {
				c.addIncidental(ts)
				gs = append(gs, &grant{source: d, pos: r.Range, tuples: ts,
					comment: fmt.Sprintf("from %s: role %s logs in with a program of executables()", posString(r.Range), s)})
			}
		}
		rules := slices.Clone(p.RulesFor(s))
		slices.SortStableFunc(rules, func(a, b *policy.Rule) int { return c.rangeCmp(a.Range, b.Range) })
		for _, r := range rules {
			for _, o := range r.Objects {
				var ts []tupleKey
				for _, v := range r.Verbs.Implied().Verbs() {
					ts = append(ts, c.verbTuples(v, o)...)
				}
				if len(ts) == 0 {
					continue
				}
				gs = append(gs, &grant{source: d, pos: r.Range, tuples: ts,
					comment: fmt.Sprintf("from %s: %s", posString(r.Range), ruleWording(r, o))})
				if res := p.Resource(o); res != nil {
					for _, g := range res.Paths {
						addTraversal(g, c.resType[o])
					}
					if r.Verbs.Has(policy.VerbCreate) {
						c.createTransitions(d, r, res)
					}
				}
				if ch := p.Channel(o); ch != nil && ch.Path != "" {
					addTraversal(ch.Path, "")
				}
			}
		}
		// Sockets the subject serves are created with their own type.
		for _, ch := range p.Channels {
			if ch.Server == s && ch.Path != "" {
				c.transTypes = append(c.transTypes, typeTrans{
					source: d, target: c.dirType(path.Dir(ch.Path)), class: "sock_file",
					result: c.sockType[ch.Name], name: path.Base(ch.Path),
					comment: fmt.Sprintf("from %s: %s creates socket %s", posString(ch.Range), s, ch.Path),
				})
			}
		}
		for _, t := range p.SpawnTargets(s) {
			rng, what := c.spawnSource(s, t)
			ts := c.verbTuples(policy.VerbSpawn, t)
			gs = append(gs, &grant{source: d, pos: rng, tuples: ts, comment: fmt.Sprintf("from %s: %s", posString(rng), what)})
			child := &grant{source: c.domain[t], pos: rng,
				tuples:  []tupleKey{{d, "fd", "use"}, {d, "process", "sigchld"}},
				comment: fmt.Sprintf("from %s: %s inherits descriptors from %s and signals its exit", posString(rng), t, s)}
			c.addIncidental(child.tuples)
			gs = append(gs, child)
			for _, et := range c.execTypes[t] {
				c.transTypes = append(c.transTypes, typeTrans{source: d, target: et, class: "process", result: c.domain[t],
					comment: fmt.Sprintf("from %s: %s", posString(rng), what)})
			}
			for _, e := range p.Compartment(t).Executables {
				addTraversal(e, "")
			}
		}
		if len(traversal) > 0 {
			var ts []tupleKey
			for _, t := range sortedKeys(traversal) {
				ts = append(ts, tuples(t, "dir", "getattr", "search")...)
				ts = append(ts, tuples(t, "lnk_file", "getattr", "read")...)
			}
			c.addIncidental(ts)
			gs = append(gs, &grant{source: d, tuples: ts,
				comment: "path traversal: directories above the objects " + s + " reaches"})
		}
		c.subjectGrants = append(c.subjectGrants, subjectGrants{name: s, grants: gs})
	}
}

// objectClass is the file class of a single-object resource kind.
var objectClass = map[policy.Kind]string{
	policy.KindFile: "file", policy.KindCharDevice: "chr_file",
	policy.KindBlockDevice: "blk_file", policy.KindSocket: "sock_file",
}

// createTransitions labels objects a subject creates at a resource's
// exact paths with the resource's type, when their directory has another
// type (a named type transition). Objects created at wildcard paths get
// their directory's type until relabeled (restorecon).
func (c *compiler) createTransitions(d string, r *policy.Rule, res *policy.Resource) {
	class, ok := objectClass[res.Kind]
	if !ok {
		return
	}
	for _, g := range res.Paths {
		if hasWildcard(g) || g == "/" {
			continue
		}
		parent := c.dirType(path.Dir(g))
		if parent == c.resType[res.Name] {
			continue
		}
		tt := typeTrans{source: d, target: parent, class: class, result: c.resType[res.Name], name: path.Base(g),
			comment: fmt.Sprintf("from %s: %s creates %s", posString(r.Range), r.Subject, g)}
		if !slices.ContainsFunc(c.transTypes, func(x typeTrans) bool {
			return x.source == tt.source && x.target == tt.target && x.class == tt.class && x.name == tt.name
		}) {
			c.transTypes = append(c.transTypes, tt)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
