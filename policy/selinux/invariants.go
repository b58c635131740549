package selinux

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// invBlock is the CIL of one invariant: attributes for its selectors,
// neverallow statements and comments for what cannot be expressed.
type invBlock struct {
	inv   *policy.Invariant
	attrs []attrDef
	never []neverStmt
	notes []string
}

type attrDef struct {
	name    string
	members []string
	comment string
}

type neverStmt struct {
	source, target, class string
	perms                 []string
	what                  string
}

// statement renders n as CIL.
func (n neverStmt) statement() string {
	return fmt.Sprintf("(neverallow %s %s (%s (%s)))", n.source, n.target, n.class, strings.Join(n.perms, " "))
}

// producerIndex maps each permission on a type (resource sets folded into
// their resource's type) to the (verb, object) pairs of the whole policy
// whose mapping contains it: every object with every verb valid for it,
// whether granted or not.
func (c *compiler) producerIndex() map[tupleKey][]pair {
	idx := make(map[tupleKey][]pair)
	for _, o := range c.objects() {
		k := c.p.ObjectKind(o)
		for _, v := range policy.Verbs() {
			if !v.ValidFor(k) {
				continue
			}
			for _, t := range c.verbTuples(v, o) {
				key := tupleKey{c.mainType(t.target), t.class, t.perm}
				if ps := idx[key]; len(ps) == 0 || ps[len(ps)-1] != (pair{v, o}) {
					idx[key] = append(idx[key], pair{v, o})
				}
			}
		}
	}
	return idx
}

func (c *compiler) domains(es []policy.Entity) []string {
	var out []string
	for _, e := range es {
		if d, ok := c.domain[e.Name]; ok {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func entityNames(es []policy.Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func (c *compiler) invAttr(inv *policy.Invariant, role, comment string, members []string) attrDef {
	name := c.n.alloc(inv.Name+"_"+role, "")
	c.out.Types[name] = TypeInfo{Kind: KindInvariant, Attribute: true, Entity: inv.Name, Description: comment}
	return attrDef{name: name, members: members, comment: comment}
}

func termsString(s policy.Selector) string {
	parts := make([]string, len(s.Terms))
	for i, t := range s.Terms {
		parts[i] = t.String()
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// buildInvariants compiles deny_access, deny_spawn and deny_capability to
// neverallow rules and records what cannot be expressed.
func (c *compiler) buildInvariants() {
	var producers map[tupleKey][]pair
	for _, inv := range c.p.Invariants {
		b := invBlock{inv: inv}
		switch inv.Form {
		case policy.FormDenyAccess:
			if producers == nil {
				producers = c.producerIndex()
			}
			c.denyAccess(&b, producers)
		case policy.FormDenySpawn:
			c.denySpawn(&b)
		case policy.FormDenyCapability:
			c.denyCapability(&b)
		case policy.FormNoFlow:
			c.gap(&b, "", "", "information flow is a property of paths through many rules, not of one rule; package analysis checks it")
		}
		c.invBlocks = append(c.invBlocks, b)
	}
}

func (c *compiler) gap(b *invBlock, verb, object, reason string) {
	g := Gap{Invariant: b.inv.Name, Verb: verb, Object: object, Reason: reason}
	c.gaps = append(c.gaps, g)
	b.notes = append(b.notes, "not expressible: "+g.String())
}

// denyAccess compiles a deny_access invariant. A grant of verb w on
// object o violates it when o is selected and w or a verb w implies is
// denied. Such a grant yields every permission of w's mapping; the
// neverallow names those of them that no other (verb, object) pair of the
// policy and no structural rule (base, traversal, spawn plumbing) can
// yield, so it fires exactly on violating grants. A violating pair whose
// permissions are all shared is reported as not expressible.
func (c *compiler) denyAccess(b *invBlock, producers map[tupleKey][]pair) {
	inv := b.inv
	p := c.p
	subjects := p.Select(inv.Subjects)
	subjSet := map[string]bool{}
	for _, s := range subjects {
		subjSet[s.Name] = true
	}
	objects := p.Select(inv.Objects)
	violates := func(w policy.Verb) bool {
		return w != policy.VerbSpawn && policy.NewVerbSet(w).Implied()&inv.Verbs != 0
	}
	denied := map[pair]bool{}
	var pairs []pair
	for _, o := range objects {
		k := p.ObjectKind(o.Name)
		for _, w := range policy.Verbs() {
			if w.ValidFor(k) && violates(w) {
				denied[pair{w, o.Name}] = true
				pairs = append(pairs, pair{w, o.Name})
			}
		}
	}
	if inv.Verbs.Has(policy.VerbSpawn) {
		b.notes = append(b.notes, "spawn is not granted by allow or channel rules; deny_spawn constrains it")
	}
	distinguishing := func(t tupleKey) bool {
		if c.incidental[t] {
			return false
		}
		for _, pr := range producers[t] {
			// execmem on self comes only from the subject's own map-exec.
			if pr.verb == policy.VerbMapExec && t.target == "self" && p.Compartment(pr.object) != nil && !subjSet[pr.object] {
				continue
			}
			if !denied[pr] {
				return false
			}
		}
		return true
	}
	type group struct{ target, class string }
	chosen := map[group]map[string]bool{}
	what := map[group][]string{}
	for _, pr := range pairs {
		var any bool
		seen := map[tupleKey]bool{}
		for _, t := range c.verbTuples(pr.verb, pr.object) {
			key := tupleKey{c.mainType(t.target), t.class, t.perm}
			if seen[key] || !distinguishing(key) {
				continue
			}
			seen[key] = true
			any = true
			g := group{key.target, key.class}
			if chosen[g] == nil {
				chosen[g] = map[string]bool{}
			}
			chosen[g][key.perm] = true
			w := pr.verb.String() + " " + pr.object
			if !slices.Contains(what[g], w) {
				what[g] = append(what[g], w)
			}
		}
		if !any && inv.Verbs.Has(pr.verb) {
			c.gap(b, pr.verb.String(), pr.object, c.whyShared(pr))
		}
	}
	if len(chosen) == 0 {
		return
	}
	subj := c.invAttr(inv, "subjects", "subjects = "+termsString(inv.Subjects)+": "+strings.Join(entityNames(subjects), ", "), c.domains(subjects))
	b.attrs = append(b.attrs, subj)
	groups := make([]group, 0, len(chosen))
	for g := range chosen {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int {
		if a.target != b.target {
			return strings.Compare(a.target, b.target)
		}
		return strings.Compare(a.class, b.class)
	})
	for _, g := range groups {
		b.never = append(b.never, neverStmt{source: subj.name, target: g.target, class: g.class,
			perms: sortedKeys(chosen[g]), what: strings.Join(what[g], ", ")})
	}
}

// whyShared explains why a denied (verb, object) has no permission of its
// own.
func (c *compiler) whyShared(pr pair) string {
	k := c.p.ObjectKind(pr.object)
	onlySelf := true
	for _, t := range c.verbTuples(pr.verb, pr.object) {
		if t.target != "self" {
			onlySelf = false
		}
	}
	switch {
	case onlySelf && k.IsChannel():
		return fmt.Sprintf("%s on a %s channel is checked on the subject's own socket only; SELinux cannot tell this channel from the subject's other %s channels", pr.verb, k, k)
	case k == policy.KindTCP || k == policy.KindUDP:
		return "its ports are shared with channels the invariant does not select (portcon gives a port one type)"
	}
	return "every permission it needs is also needed by a verb or object the invariant does not deny"
}

// denySpawn compiles deny_spawn to a neverallow on process transitions.
// For a transitive invariant the source is every subject reachable from
// `from` in this policy: no subject reachable from `from` may start a
// compartment in `to`, which on this policy is the same statement.
func (c *compiler) denySpawn(b *invBlock) {
	inv := b.inv
	p := c.p
	from := p.Select(inv.From)
	to := p.Select(inv.To)
	srcNames := entityNames(from)
	comment := "from = " + termsString(inv.From) + ": " + strings.Join(srcNames, ", ")
	if inv.Transitive {
		seen := map[string]bool{}
		queue := slices.Clone(srcNames)
		for _, s := range queue {
			seen[s] = true
		}
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			for _, t := range p.SpawnTargets(s) {
				if !seen[t] {
					seen[t] = true
					queue = append(queue, t)
				}
			}
		}
		srcNames = sortedKeys(seen)
		comment += "; transitive: with every compartment they reach in this policy: " + strings.Join(srcNames, ", ")
	}
	var srcDomains []string
	for _, s := range srcNames {
		srcDomains = append(srcDomains, c.domain[s])
	}
	slices.Sort(srcDomains)
	src := c.invAttr(inv, "from", comment, srcDomains)
	dst := c.invAttr(inv, "to", "to = "+termsString(inv.To)+": "+strings.Join(entityNames(to), ", "), c.domains(to))
	b.attrs = append(b.attrs, src, dst)
	b.never = append(b.never, neverStmt{source: src.name, target: dst.name, class: "process",
		perms: []string{"dyntransition", "transition"}, what: "spawn"})
}

// denyCapability compiles deny_capability to neverallows on the
// capability classes, in the initial and in other user namespaces.
func (c *compiler) denyCapability(b *invBlock) {
	inv := b.inv
	subjects := c.p.Select(inv.Subjects)
	subj := c.invAttr(inv, "subjects", "subjects = "+termsString(inv.Subjects)+": "+strings.Join(entityNames(subjects), ", "), c.domains(subjects))
	b.attrs = append(b.attrs, subj)
	perms := map[string][]string{}
	if len(inv.Capabilities) == 0 {
		for _, class := range []string{"capability", "capability2"} {
			perms[class] = []string{"all"}
		}
	} else {
		for _, t := range capabilityTuples("self", inv.Capabilities) {
			perms[t.class] = append(perms[t.class], t.perm)
		}
	}
	userns := map[string]string{"capability": "cap_userns", "capability2": "cap2_userns"}
	for _, class := range []string{"capability", "capability2"} {
		ps := perms[class]
		if len(ps) == 0 {
			continue
		}
		slices.Sort(ps)
		for _, cl := range []string{class, userns[class]} {
			b.never = append(b.never, neverStmt{source: subj.name, target: "self", class: cl, perms: ps, what: "capabilities"})
		}
	}
}
