package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// Decide answers whether subject may apply v to target directly (by its
// own grants). target is an absolute path (Policy.Allows), a port written
// "tcp/443", "udp/53" or "vsock/19090" (Policy.AllowsPort), or the name of
// a compartment (Policy.AllowsProcess), resource or channel.
func (a *Analyzer) Decide(subject string, v policy.Verb, target string) (policy.Decision, error) {
	p := a.p
	if e, ok := p.Entity(subject); !ok || (e.Kind != policy.EntityCompartment && e.Kind != policy.EntityRole) {
		return policy.Decision{}, fmt.Errorf("unknown compartment or role %q", subject)
	}
	if strings.HasPrefix(target, "/") {
		return p.Allows(subject, v, target), nil
	}
	if proto, port, ok, err := parsePort(target); ok {
		if err != nil {
			return policy.Decision{}, err
		}
		return p.AllowsPort(subject, v, proto, port), nil
	}
	e, ok := p.Entity(target)
	if !ok {
		return policy.Decision{}, fmt.Errorf("unknown target %q: give an absolute path, a port such as tcp/443, or the name of a compartment, resource or channel", target)
	}
	switch e.Kind {
	case policy.EntityCompartment:
		return p.AllowsProcess(subject, v, target), nil
	case policy.EntityRole:
		return policy.Decision{}, fmt.Errorf("%q is a role: roles are subjects, not objects", target)
	}
	d := policy.Decision{Subject: subject, Verb: v, Object: target, Kind: p.ObjectKind(target)}
	if !v.ValidFor(d.Kind) {
		d.Reason = fmt.Sprintf("%s makes no sense for %s %s", v, d.Kind, target)
		return d, nil
	}
	verbs, rules := p.Granted(subject, target)
	if !verbs.Has(v) {
		d.Reason = fmt.Sprintf("no rule grants %s %s on %s", subject, v, target)
		return d, nil
	}
	for _, r := range rules {
		if r.Verbs.Implied().Has(v) {
			d.Rules = append(d.Rules, r)
		}
	}
	d.Allowed = true
	d.Reason = fmt.Sprintf("%s may %s %s", subject, v, target)
	return d, nil
}

// parsePort recognises "tcp/443", "udp/53" and "vsock/19090" (ok), and
// reports malformed ports as errors.
func parsePort(s string) (policy.Protocol, uint16, bool, error) {
	proto, port, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false, nil
	}
	pr, err := policy.ParseProtocol(proto)
	if err != nil || pr == policy.ProtoUnix {
		return 0, 0, false, nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, 0, true, fmt.Errorf("invalid port %q in %q: want 1 to 65535", port, s)
	}
	return pr, uint16(n), true, nil
}

// Grant is a subject's access as answered by Can and WhoCan.
type Grant struct {
	Subject string `json:"subject"`
	Kind    string `json:"kind"`
	// Allowed reports a direct grant; Rules are the granting rules
	// ("allow replica {read} [ic_config] (file:line:col)").
	Allowed bool     `json:"allowed"`
	Rules   []string `json:"rules,omitempty"`
	// Via, for a subject without the grant, is a chain of spawns and
	// enters to a compartment that has it: the subject can obtain the
	// access by starting (and, per the blast radius semantics,
	// controlling) that compartment.
	Via *Path `json:"via,omitempty"`
}

// AccessResult answers Can and WhoCan.
type AccessResult struct {
	Verb   string `json:"verb"`
	Target string `json:"target"`
	// Object is what the target resolves to, with its kind and (for
	// paths) the matching glob; Reason explains a direct decision.
	Object string `json:"object,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Glob   string `json:"glob,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Grants lists the subjects with the access: direct grants first,
	// then subjects that obtain it through spawns or enters.
	Grants []Grant `json:"grants"`
}

// Can answers whether subject may apply v to target (see Decide), and when
// it may not directly, whether it can through a chain of spawns or enters.
func (a *Analyzer) Can(subject string, v policy.Verb, target string) (*AccessResult, error) {
	d, err := a.Decide(subject, v, target)
	if err != nil {
		return nil, err
	}
	r := &AccessResult{Verb: v.String(), Target: target, Object: d.Object, Glob: d.Glob, Reason: d.Reason}
	if d.Kind != 0 {
		r.Kind = d.Kind.String()
	}
	gr := Grant{Subject: subject, Kind: a.g.kinds[a.g.ids[subject]].String(), Allowed: d.Allowed, Rules: ruleStrings(d.Rules)}
	if !d.Allowed {
		who, err := a.WhoCan(v, target)
		if err != nil {
			return nil, err
		}
		for _, w := range who.Grants {
			if w.Subject == subject && w.Via != nil {
				gr.Via = w.Via
			}
		}
	}
	r.Grants = []Grant{gr}
	return r, nil
}

// WhoCan lists the subjects that may apply v to target (see Decide):
// directly, and through chains of spawns and enters.
func (a *Analyzer) WhoCan(v policy.Verb, target string) (*AccessResult, error) {
	g, t := a.g, a.tk
	r := &AccessResult{Verb: v.String(), Target: target}
	holder := newBitset(int(g.nSubj))
	var queue []int32
	for s := int32(0); s < g.nSubj; s++ {
		d, err := a.Decide(g.names[s], v, target)
		if err != nil {
			return nil, err
		}
		if r.Object == "" && d.Object != "" {
			r.Object, r.Glob = d.Object, d.Glob
			if d.Kind != 0 {
				r.Kind = d.Kind.String()
			}
		}
		if d.Allowed {
			holder.set(s)
			queue = append(queue, s)
			r.Grants = append(r.Grants, Grant{Subject: g.names[s], Kind: g.kinds[s].String(), Allowed: true, Rules: ruleStrings(d.Rules)})
		} else if r.Reason == "" && d.Object == "" {
			r.Reason = d.Reason
		}
	}
	// Backwards over spawn and enter edges from the holders.
	rev := make([][]int32, g.nSubj)
	for s := int32(0); s < g.nSubj; s++ {
		for _, e := range t.spawns[s] {
			rev[e.to] = append(rev[e.to], s)
		}
	}
	next := make([]int32, g.nSubj)
	for i := range next {
		next[i] = -1
	}
	var indirect []int32
	for qi := 0; qi < len(queue); qi++ {
		v := queue[qi]
		for _, u := range rev[v] {
			if holder.has(u) || next[u] != -1 {
				continue
			}
			next[u] = v
			queue = append(queue, u)
			indirect = append(indirect, u)
		}
	}
	slices.Sort(indirect)
	for _, u := range indirect {
		p := &Path{Nodes: []string{g.names[u]}}
		for x := u; !holder.has(x); x = next[x] {
			y := next[x]
			for _, e := range t.spawns[x] {
				if e.to == y {
					p.Steps = append(p.Steps, Step{Via: e.how, At: pos(e.at)})
					break
				}
			}
			p.Nodes = append(p.Nodes, g.names[y])
		}
		r.Grants = append(r.Grants, Grant{Subject: g.names[u], Kind: g.kinds[u].String(), Via: p})
	}
	return r, nil
}

func ruleStrings(rs []*policy.Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}
