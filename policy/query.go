package policy

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Compartment returns the compartment called name, or nil.
func (p *Policy) Compartment(name string) *Compartment { return p.idx.comps[name] }

// Role returns the role called name, or nil.
func (p *Policy) Role(name string) *Role { return p.idx.roles[name] }

// Resource returns the resource called name, or nil.
func (p *Policy) Resource(name string) *Resource { return p.idx.res[name] }

// Channel returns the channel called name, or nil.
func (p *Policy) Channel(name string) *Channel { return p.idx.chans[name] }

// Invariant returns the invariant called name, or nil.
func (p *Policy) Invariant(name string) *Invariant { return p.idx.invs[name] }

// Entity returns the entity called name.
func (p *Policy) Entity(name string) (Entity, bool) {
	e, ok := p.idx.entities[name]
	return e, ok
}

// entityKind returns the object kind of an entity (KindProcess for
// compartments and roles).
func (p *Policy) entityKind(e Entity) Kind {
	switch e.Kind {
	case EntityResource:
		return p.idx.res[e.Name].Kind
	case EntityChannel:
		return p.idx.chans[e.Name].Protocol.Kind()
	}
	return KindProcess
}

// ObjectKind returns the kind of the object called name: a resource's
// kind, a channel's protocol kind, or KindProcess for a compartment. It
// returns 0 for unknown names and roles.
func (p *Policy) ObjectKind(name string) Kind {
	e, ok := p.idx.entities[name]
	if !ok || e.Kind == EntityRole {
		return 0
	}
	return p.entityKind(e)
}

// CompartmentByExecutable returns the compartment whose executables
// include the clean absolute path exe, or nil. The agent uses it to
// attribute events to compartments.
func (p *Policy) CompartmentByExecutable(exe string) *Compartment {
	return p.idx.exe[exe]
}

// ResourceAt returns the resource that governs path, or nil: among the
// resources with a glob matching the cleaned path, the one with the most
// specific matching glob (see docs/policy.md, "Resolving a path").
func (p *Policy) ResourceAt(pth string) *Resource {
	if pth == "" || pth[0] != '/' {
		return nil
	}
	id := p.idx.paths.lookup(path.Clean(pth))
	if id < 0 {
		return nil
	}
	return p.Resources[p.idx.paths.globs[id].res]
}

// MatchingGlob returns the resource governing path and the glob that
// matched, or nil and "".
func (p *Policy) MatchingGlob(pth string) (*Resource, string) {
	if pth == "" || pth[0] != '/' {
		return nil, ""
	}
	id := p.idx.paths.lookup(path.Clean(pth))
	if id < 0 {
		return nil, ""
	}
	g := p.idx.paths.globs[id]
	return p.Resources[g.res], g.g.src
}

// UnixChannel returns the unix channel whose socket is at path, or nil.
func (p *Policy) UnixChannel(pth string) *Channel {
	return p.idx.unix[path.Clean(pth)]
}

// PortChannels returns the TCP, UDP or vsock channels that include port, in
// declaration order: served ones and outbound ones.
func (p *Policy) PortChannels(proto Protocol, port uint16) []*Channel {
	var out []*Channel
	for _, c := range p.idx.ports {
		if c.Protocol == proto && c.HasPort(port) {
			out = append(out, c)
		}
	}
	return out
}

// RulesFor returns every rule whose subject is the compartment or role
// called subject, explicit and channel-derived, in policy order.
func (p *Policy) RulesFor(subject string) []*Rule {
	var out []*Rule
	for _, r := range p.Rules {
		if r.Subject == subject {
			out = append(out, r)
		}
	}
	return out
}

// Granted returns the verbs that rules grant subject on the object called
// object (write implying append), and the rules.
func (p *Policy) Granted(subject, object string) (VerbSet, []*Rule) {
	g := p.idx.grants[subject][object]
	if g == nil {
		return 0, nil
	}
	return g.verbs, slices.Clone(g.rules)
}

// GrantedObjects returns the names of every object subject holds some
// verb on, sorted.
func (p *Policy) GrantedObjects(subject string) []string {
	m := p.idx.grants[subject]
	out := make([]string, 0, len(m))
	for o := range m {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// SpawnTargets returns the compartments that the compartment or role from
// may start directly: spawn blocks for compartments, enter lists for
// roles.
func (p *Policy) SpawnTargets(from string) []string {
	return slices.Clone(p.idx.spawns[from])
}

// Select returns the entities a selector denotes, sorted by kind and
// name, without duplicates.
func (p *Policy) Select(s Selector) []Entity {
	seen := make(map[string]bool)
	var out []Entity
	for _, t := range s.Terms {
		for _, e := range p.selectTerm(t, s.Domain) {
			if !seen[e.Name] {
				seen[e.Name] = true
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b Entity) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Selects reports whether the selector denotes the entity called name.
func (p *Policy) Selects(s Selector, name string) bool {
	e, ok := p.idx.entities[name]
	if !ok || !s.Domain.Has(e.Kind) {
		return false
	}
	for _, t := range s.Terms {
		if p.termHas(t, e) {
			return true
		}
	}
	return false
}

func (p *Policy) termHas(t Term, e Entity) bool {
	switch t.Func {
	case TermName:
		return len(t.Args) == 1 && t.Args[0] == e.Name
	case TermAll:
		return true
	case TermAllExcept:
		return !slices.Contains(t.Args, e.Name)
	case TermCompartments:
		return e.Kind == EntityCompartment
	case TermRoles:
		return e.Kind == EntityRole
	case TermResources:
		return e.Kind == EntityResource
	case TermChannels:
		return e.Kind == EntityChannel
	case TermTier:
		return e.Kind == EntityCompartment && slices.Contains(t.Args, p.idx.comps[e.Name].Tier.String())
	case TermLabelled:
		if e.Kind != EntityResource {
			return false
		}
		r := p.idx.res[e.Name]
		for _, a := range t.Args {
			if r.HasLabel(Label(a)) {
				return true
			}
		}
		return false
	case TermKind:
		if e.Kind != EntityResource && e.Kind != EntityChannel {
			return false
		}
		return slices.Contains(t.Args, p.entityKind(e).String())
	case TermNetwork:
		return e.Kind == EntityChannel && p.idx.chans[e.Name].Network()
	case TermExecutables:
		return e.Kind == EntityResource && p.idx.executableRes[e.Name]
	}
	return false
}

func (p *Policy) selectTerm(t Term, domain EntityKinds) []Entity {
	var out []Entity
	consider := func(e Entity) {
		if domain.Has(e.Kind) && p.termHas(t, e) {
			out = append(out, e)
		}
	}
	if t.Func == TermName {
		if e, ok := p.idx.entities[t.Args[0]]; ok {
			consider(e)
		}
		return out
	}
	for _, c := range p.Compartments {
		consider(Entity{EntityCompartment, c.Name})
	}
	for _, r := range p.Roles {
		consider(Entity{EntityRole, r.Name})
	}
	for _, r := range p.Resources {
		consider(Entity{EntityResource, r.Name})
	}
	for _, c := range p.Channels {
		consider(Entity{EntityChannel, c.Name})
	}
	return out
}

// Decision is the answer to an access query.
type Decision struct {
	// Allowed reports whether the policy grants the access.
	Allowed bool
	Subject string
	Verb    Verb
	// Object is the resource, channel or compartment the query resolved
	// to; empty when nothing in the policy governs the target.
	Object string
	// Kind is the object's kind (0 when Object is empty).
	Kind Kind
	// Glob is the resource glob that matched, for path queries.
	Glob string
	// Rules are the rules granting Verb on Object to Subject (only when
	// Allowed).
	Rules []*Rule
	// Reason explains the decision in one sentence.
	Reason string
}

// String formats d for logs and tests.
func (d Decision) String() string {
	verdict := "deny"
	if d.Allowed {
		verdict = "allow"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", verdict, d.Reason)
	for _, r := range d.Rules {
		fmt.Fprintf(&b, "; by %s", r)
	}
	return b.String()
}

// Allows decides whether the compartment or role subject may apply v to
// the filesystem object at path.
//
// The path is cleaned. A path that is a unix channel's socket is decided
// by that channel for connect, bind and listen. Otherwise the path
// resolves to a resource (ResourceAt); the access is allowed when v makes
// sense for the resource's kind and some rule grants v (or write, for
// append) to subject on it. Paths no resource governs are denied.
func (p *Policy) Allows(subject string, v Verb, pth string) Decision {
	d := Decision{Subject: subject, Verb: v}
	if bad := p.badQuery(&d); bad {
		return d
	}
	if pth == "" || pth[0] != '/' {
		d.Reason = fmt.Sprintf("%q is not an absolute path", pth)
		return d
	}
	pth = path.Clean(pth)
	if v == VerbConnect || v == VerbBind || v == VerbListen {
		if ch := p.idx.unix[pth]; ch != nil {
			return p.decide(d, ch.Name, KindUnix, "")
		}
	}
	id := p.idx.paths.lookup(pth)
	if id < 0 {
		d.Reason = fmt.Sprintf("no resource governs %s", pth)
		return d
	}
	g := p.idx.paths.globs[id]
	r := p.Resources[g.res]
	return p.decide(d, r.Name, r.Kind, g.g.src)
}

// AllowsPort decides whether subject may apply v (connect, bind or
// listen) to port of protocol proto (ProtoTCP, ProtoUDP or ProtoVsock). Bind and
// listen are decided by the channel served on the port; connect by any
// channel including the port (served locally or outbound) that lists
// subject among its clients. Remote addresses are not considered.
func (p *Policy) AllowsPort(subject string, v Verb, proto Protocol, port uint16) Decision {
	d := Decision{Subject: subject, Verb: v}
	if bad := p.badQuery(&d); bad {
		return d
	}
	if proto != ProtoTCP && proto != ProtoUDP && proto != ProtoVsock {
		d.Reason = fmt.Sprintf("protocol %s has no ports", proto)
		return d
	}
	if v != VerbConnect && v != VerbBind && v != VerbListen {
		d.Reason = fmt.Sprintf("verb %s does not apply to ports", v)
		return d
	}
	var first *Channel
	for _, c := range p.PortChannels(proto, port) {
		if v != VerbConnect && c.Server == "" {
			continue // outbound: the server is remote
		}
		if first == nil {
			first = c
		}
		if dd := p.decide(d, c.Name, proto.Kind(), ""); dd.Allowed {
			return dd
		}
	}
	if first == nil {
		d.Reason = fmt.Sprintf("no channel includes %s port %d", proto, port)
		return d
	}
	return p.decide(d, first.Name, proto.Kind(), "")
}

// AllowsProcess decides whether subject may apply v (signal, ptrace,
// spawn, or map-exec on itself) to the compartment target. Spawn is
// decided by spawn blocks and role enter lists, the others by rules.
func (p *Policy) AllowsProcess(subject string, v Verb, target string) Decision {
	d := Decision{Subject: subject, Verb: v}
	if bad := p.badQuery(&d); bad {
		return d
	}
	if p.idx.comps[target] == nil {
		d.Reason = fmt.Sprintf("unknown compartment %q", target)
		return d
	}
	if v == VerbSpawn {
		d.Object, d.Kind = target, KindProcess
		if slices.Contains(p.idx.spawns[subject], target) {
			d.Allowed = true
			d.Reason = fmt.Sprintf("%s may start %s", subject, target)
			return d
		}
		d.Reason = fmt.Sprintf("no spawn or enter lets %s start %s", subject, target)
		return d
	}
	return p.decide(d, target, KindProcess, "")
}

// badQuery fills d's reason and reports true when the subject or verb is
// unknown.
func (p *Policy) badQuery(d *Decision) bool {
	if !d.Verb.Valid() {
		d.Reason = fmt.Sprintf("invalid verb %d", uint8(d.Verb))
		return true
	}
	if e, ok := p.idx.entities[d.Subject]; !ok || (e.Kind != EntityCompartment && e.Kind != EntityRole) {
		d.Reason = fmt.Sprintf("unknown subject %q", d.Subject)
		return true
	}
	return false
}

func (p *Policy) decide(d Decision, object string, k Kind, glob string) Decision {
	d.Object, d.Kind, d.Glob = object, k, glob
	where := object
	if glob != "" {
		where = fmt.Sprintf("%s (%s)", object, glob)
	}
	if !d.Verb.ValidFor(k) {
		d.Reason = fmt.Sprintf("%s makes no sense for %s %s", d.Verb, kindPhrase(k), where)
		return d
	}
	if k == KindProcess && d.Verb == VerbMapExec && object != d.Subject {
		d.Reason = fmt.Sprintf("map-exec applies only to the subject's own memory, not %s", object)
		return d
	}
	g := p.idx.grants[d.Subject][object]
	if g == nil || !g.verbs.Has(d.Verb) {
		d.Reason = fmt.Sprintf("no rule grants %s %s on %s", d.Subject, d.Verb, where)
		return d
	}
	for _, r := range g.rules {
		if r.Verbs.Implied().Has(d.Verb) {
			d.Rules = append(d.Rules, r)
		}
	}
	d.Allowed = true
	d.Reason = fmt.Sprintf("%s may %s %s", d.Subject, d.Verb, where)
	return d
}
