package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// check resolves references, builds the indexes and runs the semantic
// checks. It runs after every block has been decoded.
func (l *loader) check() {
	p := l.p
	x := &index{
		entities: make(map[string]Entity),
		comps:    make(map[string]*Compartment),
		roles:    make(map[string]*Role),
		res:      make(map[string]*Resource),
		chans:    make(map[string]*Channel),
		invs:     make(map[string]*Invariant),
		exe:      make(map[string]*Compartment),
		unix:     make(map[string]*Channel),
		grants:   make(map[string]map[string]*grant),
		spawns:   make(map[string][]string),
	}
	p.idx = x
	for _, c := range p.Compartments {
		x.comps[c.Name] = c
		x.entities[c.Name] = Entity{EntityCompartment, c.Name}
	}
	for _, r := range p.Roles {
		x.roles[r.Name] = r
		x.entities[r.Name] = Entity{EntityRole, r.Name}
	}
	for _, r := range p.Resources {
		x.res[r.Name] = r
		x.entities[r.Name] = Entity{EntityResource, r.Name}
	}
	for _, c := range p.Channels {
		x.chans[c.Name] = c
		x.entities[c.Name] = Entity{EntityChannel, c.Name}
	}
	for _, inv := range p.Invariants {
		x.invs[inv.Name] = inv
	}

	l.checkExecutables()
	l.checkResources()
	l.checkChannels()
	l.checkRules()
	l.checkSpawns()
	l.buildPathIndex()
	l.buildGrants()
	l.checkInvariants()
}

// entityRef resolves a reference that must name an entity of one of the
// given kinds. what describes the slot for messages ("spawn target").
func (l *loader) entityRef(r ref, kinds EntityKinds, what string) (Entity, bool) {
	e, ok := l.p.idx.entities[r.name]
	if !ok {
		if _, declared := l.declared[r.name]; declared {
			return Entity{}, false // declared but broken; already reported
		}
		l.ds.add(r.rng, suggest(r.name, l.namesOf(kinds), "declare it with a "+kindList(kinds, "or")+" block"),
			"%s: unknown %s %s", what, kindList(kinds, "or"), quote(r.name))
		return Entity{}, false
	}
	if !kinds.Has(e.Kind) {
		l.ds.add(r.rng, fmt.Sprintf("%s must name a %s", what, kindList(kinds, "or")),
			"%s: %q is a %s", what, r.name, e.Kind)
		return Entity{}, false
	}
	return e, true
}

func kindList(kinds EntityKinds, conj string) string {
	var parts []string
	for _, k := range []EntityKind{EntityCompartment, EntityRole, EntityResource, EntityChannel} {
		if kinds.Has(k) {
			parts = append(parts, k.String())
		}
	}
	switch len(parts) {
	case 0:
		return "entity"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " " + conj + " " + parts[len(parts)-1]
}

// pluralKinds formats a set of entity kinds as "compartments and roles".
func pluralKinds(kinds EntityKinds) string {
	var parts []string
	for _, k := range []EntityKind{EntityCompartment, EntityRole, EntityResource, EntityChannel} {
		if kinds.Has(k) {
			parts = append(parts, k.String()+"s")
		}
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func (l *loader) checkExecutables() {
	x := l.p.idx
	for _, c := range l.p.Compartments {
		for i, e := range c.Executables {
			if prev, dup := x.exe[e]; dup {
				hint := "an executable runs in exactly one compartment; the agent attributes events by it"
				if prev == c {
					hint = "remove the duplicate"
				}
				l.ds.add(l.exeRanges[c][i], hint, "executable %s already belongs to compartment %q", quote(e), prev.Name)
				continue
			}
			x.exe[e] = c
		}
	}
}

func (l *loader) knownLabel(s string) bool {
	if slices.Contains(BuiltinLabels(), Label(s)) {
		return true
	}
	_, ok := l.labels[Label(s)]
	return ok
}

func (l *loader) allLabels() []string {
	out := names(BuiltinLabels())
	for _, d := range l.p.Labels {
		out = append(out, string(d.Name))
	}
	return out
}

func (l *loader) checkResources() {
	for _, r := range l.p.Resources {
		for _, lb := range l.labelRefs[r] {
			if !l.knownLabel(lb.name) {
				l.ds.add(lb.rng, suggest(lb.name, l.allLabels(), "declare it with a label block, or use a built-in label: "+strings.Join(names(BuiltinLabels()), ", ")), "unknown label %s", quote(lb.name))
			}
		}
		if o, ok := l.ownerRefs[r]; ok {
			l.entityRef(o, Subjects, "owner")
		}
	}
}

func (l *loader) checkChannels() {
	x := l.p.idx
	for _, ch := range l.p.Channels {
		if s, ok := l.serverRefs[ch]; ok {
			if _, ok := l.entityRef(s, EntityKinds(EntityCompartment), "server"); ok {
				l.p.Rules = append(l.p.Rules, &Rule{
					Subject: s.name, Verbs: NewVerbSet(VerbBind, VerbListen),
					Objects: []string{ch.Name}, Origin: OriginServer, Range: s.rng,
				})
			}
		}
		seen := map[string]bool{}
		for _, c := range l.clientRefs[ch] {
			if seen[c.name] {
				l.ds.add(c.rng, "remove the duplicate", "client %q listed twice", c.name)
				continue
			}
			seen[c.name] = true
			if _, ok := l.entityRef(c, Subjects, "client"); ok {
				l.p.Rules = append(l.p.Rules, &Rule{
					Subject: c.name, Verbs: NewVerbSet(VerbConnect),
					Objects: []string{ch.Name}, Origin: OriginClient, Range: c.rng,
				})
			}
		}
		switch ch.Protocol {
		case ProtoUnix:
			if ch.Path == "" {
				continue
			}
			if prev, dup := x.unix[ch.Path]; dup {
				l.ds.add(l.chanAttrs[ch]["path"].Expr.Range(), "one socket path is one channel; list every client in that channel's clients", "socket %s is already channel %q", quote(ch.Path), prev.Name)
				continue
			}
			x.unix[ch.Path] = ch
		case ProtoTCP, ProtoUDP, ProtoVsock:
			x.ports = append(x.ports, ch)
		}
	}
	// Two local servers on one port.
	for i, a := range x.ports {
		if a.Server == "" {
			continue
		}
		for _, b := range x.ports[i+1:] {
			if b.Server == "" || b.Protocol != a.Protocol {
				continue
			}
			for _, pa := range a.Ports {
				for _, pb := range b.Ports {
					if pa.First <= pb.Last && pb.First <= pa.Last {
						l.ds.add(l.chanAttrs[b]["ports"].Expr.Range(), "only one socket can bind a port; merge the channels or change a port",
							"%s port %s of channel %q is also served by channel %q (%s)", a.Protocol, pb, b.Name, a.Name, posString(a.Range))
					}
				}
			}
		}
	}
}

func (l *loader) checkRules() {
	for _, r := range l.p.Rules {
		if r.Origin != OriginAllow {
			continue
		}
		if r.Verbs.Has(VerbSpawn) {
			for _, v := range l.ruleVerbs[r] {
				if v.name == VerbSpawn.String() {
					l.ds.add(v.rng, "domain transitions are declared with spawn blocks (compartments) or enter lists (roles)", "verb \"spawn\" cannot be granted by allow")
				}
			}
		}
		for _, o := range l.ruleObjs[r] {
			e, ok := l.entityRef(o, Objects|EntityKinds(EntityRole), "allow")
			if !ok {
				continue
			}
			var kind Kind
			switch e.Kind {
			case EntityRole:
				l.ds.add(o.rng, "roles are subjects, not objects; grant access to the compartments they enter instead", "allow on role %q", o.name)
				continue
			case EntityChannel:
				ch := l.p.idx.chans[o.name]
				l.ds.add(o.rng, fmt.Sprintf("access to a channel is declared in the channel block: add %q to clients of channel %q", l.ruleSubject[r].name, ch.Name), "allow on channel %q", o.name)
				continue
			case EntityResource:
				kind = l.p.idx.res[o.name].Kind
			case EntityCompartment:
				kind = KindProcess
				if r.Verbs.Has(VerbMapExec) && o.name != r.Subject {
					l.ds.add(o.rng, "on a compartment, map-exec means executable anonymous memory (execmem) and applies only to the subject itself", "map-exec on another compartment %q", o.name)
				}
			}
			if kind == 0 {
				continue // the resource's kind was invalid; reported
			}
			for _, v := range r.Verbs.Verbs() {
				if v == VerbSpawn || v.ValidFor(kind) {
					continue
				}
				l.ds.add(o.rng, verbKindHint(v, kind), "verb %q makes no sense for %s %q", v, kindPhrase(kind), o.name)
			}
		}
	}
}

func kindPhrase(k Kind) string {
	switch {
	case k == KindProcess:
		return "compartment"
	case k.IsResource():
		return k.String() + " resource"
	}
	return k.String() + " channel"
}

func verbKindHint(v Verb, k Kind) string {
	var valid []string
	for _, vv := range Verbs() {
		if vv != VerbSpawn && vv.ValidFor(k) {
			valid = append(valid, vv.String())
		}
	}
	hint := fmt.Sprintf("%s allows %s", kindPhrase(k), strings.Join(valid, ", "))
	switch {
	case v == VerbConnect || v == VerbBind || v == VerbListen:
		hint = "sockets are used through channel blocks (server, clients); " + hint
	case v == VerbSignal || v == VerbPtrace:
		hint = "signal and ptrace apply to compartments; " + hint
	}
	return hint
}

func (l *loader) checkSpawns() {
	x := l.p.idx
	for _, s := range l.p.Spawns {
		refs := l.spawnRefs[s]
		if len(refs) == 0 {
			continue
		}
		from := refs[0]
		if e, ok := x.entities[from.name]; ok && e.Kind == EntityRole {
			l.ds.add(from.rng, "a role starts compartments with enter = [...] in its role block", "spawn from role %q", from.name)
		} else {
			l.entityRef(from, EntityKinds(EntityCompartment), "spawn from")
		}
		for _, t := range refs[1:] {
			if _, ok := l.entityRef(t, EntityKinds(EntityCompartment), "spawn target"); !ok {
				continue
			}
			if c := x.comps[t.name]; len(c.Executables) == 0 {
				l.ds.add(t.rng, "a transition happens on executing one of the target's executables; add executables to compartment "+quote(t.name), "spawn target %q has no executables", t.name)
				continue
			}
			if !slices.Contains(x.spawns[from.name], t.name) {
				x.spawns[from.name] = append(x.spawns[from.name], t.name)
			}
		}
	}
	for _, r := range l.p.Roles {
		for _, e := range l.enterRefs[r] {
			if _, ok := l.entityRef(e, EntityKinds(EntityCompartment), "enter"); ok && !slices.Contains(x.spawns[r.Name], e.name) {
				x.spawns[r.Name] = append(x.spawns[r.Name], e.name)
			}
		}
	}
}

func (l *loader) buildPathIndex() {
	x := l.p.idx
	for i, r := range l.p.Resources {
		for _, s := range r.Paths {
			g, ge := parseGlob(s, false)
			if ge != nil {
				continue
			}
			x.paths.add(g, int32(i))
		}
	}
	x.paths.finish()
	type pair struct{ a, b int32 }
	reported := make(map[pair]bool)
	x.paths.overlaps(func(a, b int32) bool {
		ga, gb := x.paths.globs[a], x.paths.globs[b]
		if ga.res == gb.res {
			return true
		}
		ra, rb := l.p.Resources[ga.res], l.p.Resources[gb.res]
		key := pair{min(ga.res, gb.res), max(ga.res, gb.res)}
		if reported[key] {
			return true
		}
		c := ga.g.spec.cmp(gb.g.spec)
		if c == 0 {
			reported[key] = true
			at, other, otherPath := l.pathRange(ra, ga.g.src), rb, gb.g.src
			if rangeCmp(l.pathRange(rb, gb.g.src), at, l.p.Files) > 0 {
				at, other, otherPath = l.pathRange(rb, gb.g.src), ra, ga.g.src
			}
			this := ga.g.src
			if other == ra {
				this = gb.g.src
			}
			if this == otherPath {
				l.ds.add(at, "a path belongs to one resource; remove it from one of them", "path %s is also in resource %q", quote(this), other.Name)
			} else {
				l.ds.add(at, "make one of the globs more specific (see \"Resolving a path\" in docs/policy.md) or merge the resources",
					"path %s overlaps %s of resource %q and neither is more specific", quote(this), quote(otherPath), other.Name)
			}
			return true
		}
		win, lose, wg, lg := ra, rb, ga.g.src, gb.g.src
		if c < 0 {
			win, lose, wg, lg = rb, ra, gb.g.src, ga.g.src
		}
		for _, lb := range lose.Labels {
			if lb.Protective() && !win.HasLabel(lb) {
				reported[key] = true
				l.ds.add(l.pathRange(win, wg), fmt.Sprintf("paths matching both resolve to %q and would lose the label; add %q to %q's labels or narrow %s", win.Name, lb, win.Name, quote(lg)),
					"conflicting labels: %s of resource %q overlaps %s of resource %q (label %q) and takes precedence without that label", quote(wg), win.Name, quote(lg), lose.Name, lb)
				break
			}
		}
		return true
	})
}

func (l *loader) pathRange(r *Resource, path string) hcl.Range {
	if i := slices.Index(r.Paths, path); i >= 0 && i < len(r.PathRanges) {
		return r.PathRanges[i]
	}
	return r.Range
}

func (l *loader) buildGrants() {
	x := l.p.idx
	for _, r := range l.p.Rules {
		m := x.grants[r.Subject]
		if m == nil {
			m = make(map[string]*grant)
			x.grants[r.Subject] = m
		}
		for _, o := range r.Objects {
			g := m[o]
			if g == nil {
				g = &grant{}
				m[o] = g
			}
			g.verbs |= r.Verbs.Implied()
			g.rules = append(g.rules, r)
		}
	}
	x.executableRes = make(map[string]bool)
	for _, r := range l.p.Resources {
		if r.HasLabel(LabelExecutable) {
			x.executableRes[r.Name] = true
		}
	}
	for _, c := range l.p.Compartments {
		for _, e := range c.Executables {
			if r := l.p.ResourceAt(e); r != nil {
				x.executableRes[r.Name] = true
			}
		}
	}
}

// termDomain is the set of entity kinds a term function can select.
var termDomain = map[TermFunc]EntityKinds{
	TermCompartments: EntityKinds(EntityCompartment),
	TermTier:         EntityKinds(EntityCompartment),
	TermRoles:        EntityKinds(EntityRole),
	TermResources:    EntityKinds(EntityResource),
	TermLabelled:     EntityKinds(EntityResource),
	TermExecutables:  EntityKinds(EntityResource),
	TermChannels:     EntityKinds(EntityChannel),
	TermNetwork:      EntityKinds(EntityChannel),
	TermKind:         EntityKinds(EntityResource | EntityChannel),
}

func (l *loader) checkInvariants() {
	for _, inv := range l.p.Invariants {
		var sels []struct {
			name string
			s    Selector
		}
		add := func(name string, s Selector) {
			sels = append(sels, struct {
				name string
				s    Selector
			}{name, s})
		}
		switch inv.Form {
		case FormDenyAccess:
			add("subjects", inv.Subjects)
			add("objects", inv.Objects)
		case FormNoFlow:
			add("from", inv.From)
			add("to", inv.To)
			if !inv.Through.Empty() {
				add("except_through", inv.Through)
			}
		case FormDenySpawn:
			add("from", inv.From)
			add("to", inv.To)
		case FormDenyCapability:
			add("subjects", inv.Subjects)
		}
		allOK := true
		for _, s := range sels {
			if !l.checkSelector(s.name, inv.Form.String(), fmt.Sprintf("invariant %q", inv.Name), s.s) {
				allOK = false
			}
		}
		if inv.Form == FormDenyAccess && allOK && inv.Verbs != 0 && !inv.Subjects.Empty() && !inv.Objects.Empty() {
			applies := false
			for _, e := range l.p.Select(inv.Objects) {
				k := l.p.entityKind(e)
				for _, v := range inv.Verbs.Verbs() {
					if v.ValidFor(k) {
						applies = true
					}
				}
			}
			if !applies {
				rng := inv.Range
				if vs := l.verbRefs[inv]; len(vs) > 0 {
					rng = hcl.RangeBetween(vs[0].rng, vs[len(vs)-1].rng)
				}
				l.ds.add(rng, "check the verbs against the objects' kinds (see the verb table in docs/policy.md)", "invariant %q can never be violated: none of %s applies to the selected objects", inv.Name, inv.Verbs)
			}
		}
	}
}

// checkSelector validates a selector's terms; it reports whether all of
// them are valid and select something. attr names the attribute ("from"),
// holder what holds it for hints ("no_flow") and owner what it belongs to
// for messages ("invariant \"x\"").
func (l *loader) checkSelector(attr, holder, owner string, s Selector) bool {
	ok := true
	bad := func(rng hcl.Range, hint, format string, a ...any) {
		ok = false
		l.ds.add(rng, hint, format, a...)
	}
	for _, t := range s.Terms {
		if d, has := termDomain[t.Func]; has && d&s.Domain == 0 {
			bad(t.Range, fmt.Sprintf("%s of %s holds %s", attr, holder, pluralKinds(s.Domain)),
				"%s() selects %s, which %s cannot hold", t.Func, pluralKinds(d), attr)
			continue
		}
		valid := true
		switch t.Func {
		case TermName, TermAllExcept:
			for _, n := range t.Args {
				r := ref{n, t.Range}
				if _, found := l.entityRef(r, s.Domain, ofOwner(attr, owner)); !found {
					ok, valid = false, false
				}
			}
		case TermTier:
			for _, a := range t.Args {
				if _, err := ParseTier(a); err != nil {
					bad(t.Range, suggest(a, names(Tiers()), "tiers are "+strings.Join(names(Tiers()), ", ")), "unknown tier %s", quote(a))
					valid = false
				}
			}
		case TermLabelled:
			for _, a := range t.Args {
				if !l.knownLabel(a) {
					bad(t.Range, suggest(a, l.allLabels(), "declare it with a label block"), "unknown label %s", quote(a))
					valid = false
				}
			}
		case TermKind:
			for _, a := range t.Args {
				if k, err := ParseKind(a); err != nil || k == KindProcess {
					bad(t.Range, "kinds are file, directory, char-device, block-device, socket, unix, tcp, udp, vsock", "unknown kind %s", quote(a))
					valid = false
				}
			}
		}
		if valid && len(l.p.selectTerm(t, s.Domain)) == 0 {
			what := "a selector"
			if strings.HasPrefix(owner, "invariant ") {
				what = "an invariant"
			}
			bad(t.Range, what+" must name something that exists; fix the term or remove it", "%s: %s selects nothing", ofOwner(attr, owner), t)
		}
	}
	return ok
}

// ofOwner names a selector attribute in messages: "from of invariant
// \"x\"", or just the attribute when it has no owner.
func ofOwner(attr, owner string) string {
	if owner == "" {
		return attr
	}
	return attr + " of " + owner
}
