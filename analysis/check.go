package analysis

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/rampart-sec/rampart/policy"
)

// Violation is one counterexample to an invariant.
type Violation struct {
	Invariant string `json:"invariant"`
	Form      string `json:"form"`
	// Subject is the subject (deny_access, deny_capability), the
	// starting subject (deny_spawn) or the source entity (no_flow).
	Subject string `json:"subject"`
	// Verb is the denied verb (deny_access; "spawn" for deny_spawn).
	Verb string `json:"verb,omitempty"`
	// Object is the object (deny_access), the started compartment
	// (deny_spawn) or the entity the flow reaches (no_flow).
	Object string `json:"object,omitempty"`
	// Capability is the held capability (deny_capability).
	Capability string `json:"capability,omitempty"`
	// Path is the counterexample path: the flow (no_flow), the chain of
	// spawns and enters (deny_spawn), or the single grant (deny_access).
	Path *Path `json:"path,omitempty"`
	// At lists the positions of what causes the violation: the granting
	// rules (deny_access), spawn blocks (deny_spawn), the compartment
	// block (deny_capability).
	At []string `json:"at,omitempty"`
	// Counterexample is the one-line summary: "replica read node_keys",
	// "canister_sandbox spawn upgrade_manager", "debug_agent holds
	// CAP_SYS_ADMIN", "node_keys -> replica -> p2p".
	Counterexample string `json:"counterexample"`
}

// InvariantResult is the evaluation of one invariant.
type InvariantResult struct {
	Name        string      `json:"name"`
	Form        string      `json:"form"`
	Description string      `json:"description,omitempty"`
	At          string      `json:"at"`
	Holds       bool        `json:"holds"`
	Violations  []Violation `json:"violations,omitempty"`
}

// CheckResult is the evaluation of every invariant of a policy.
type CheckResult struct {
	Policy     string            `json:"policy"`
	Invariants []InvariantResult `json:"invariants"`
}

// Failed reports whether some invariant is violated.
func (r *CheckResult) Failed() bool {
	for _, i := range r.Invariants {
		if !i.Holds {
			return true
		}
	}
	return false
}

// Violations returns every violation, invariant by invariant.
func (r *CheckResult) Violations() []Violation {
	var out []Violation
	for _, i := range r.Invariants {
		out = append(out, i.Violations...)
	}
	return out
}

// Check evaluates every invariant of the policy, in declaration order.
func (a *Analyzer) Check() *CheckResult {
	r := &CheckResult{Policy: a.p.Name, Invariants: make([]InvariantResult, 0, len(a.p.Invariants))}
	for _, inv := range a.p.Invariants {
		r.Invariants = append(r.Invariants, a.CheckInvariant(inv))
	}
	return r
}

// CheckInvariant evaluates one invariant. Violations come in a
// deterministic order: by subject, then object, then verb (deny_access);
// by starting subject and target (deny_spawn); by source entity in
// declaration order (no_flow).
func (a *Analyzer) CheckInvariant(inv *policy.Invariant) InvariantResult {
	res := InvariantResult{Name: inv.Name, Form: inv.Form.String(), Description: inv.Description, At: pos(&inv.Range)}
	switch inv.Form {
	case policy.FormDenyAccess:
		res.Violations = a.checkDenyAccess(inv)
	case policy.FormDenySpawn:
		res.Violations = a.checkDenySpawn(inv)
	case policy.FormDenyCapability:
		res.Violations = a.checkDenyCapability(inv)
	case policy.FormNoFlow:
		res.Violations = a.checkNoFlow(inv)
	}
	res.Holds = len(res.Violations) == 0
	return res
}

func (a *Analyzer) checkDenyAccess(inv *policy.Invariant) []Violation {
	g := a.g
	_, subj := g.selectNodes(inv.Subjects)
	_, obj := g.selectNodes(inv.Objects)
	type key struct {
		s, o int32
		v    policy.Verb
	}
	found := make(map[key]int)
	var out []Violation
	var keys []key
	hit := func(s, o int32, v policy.Verb, at *hcl.Range) {
		k := key{s, o, v}
		if i, ok := found[k]; ok {
			if p := pos(at); !slices.Contains(out[i].At, p) {
				out[i].At = append(out[i].At, p)
			}
			return
		}
		found[k] = len(out)
		keys = append(keys, k)
		sn, on := g.names[s], g.names[o]
		out = append(out, Violation{
			Invariant: inv.Name, Form: inv.Form.String(), Subject: sn, Verb: v.String(), Object: on,
			Path:           &Path{Nodes: []string{sn, on}, Steps: []Step{{Via: v.String(), At: pos(at)}}},
			At:             []string{pos(at)},
			Counterexample: fmt.Sprintf("%s %s %s", sn, v, on),
		})
	}
	for _, r := range a.p.Rules {
		s, ok := g.ids[r.Subject]
		if !ok || !subj.has(s) {
			continue
		}
		verbs := r.Verbs.Implied() & inv.Verbs
		if verbs == 0 {
			continue
		}
		for _, o := range r.Objects {
			oid, ok := g.ids[o]
			if !ok || !obj.has(oid) {
				continue
			}
			k := a.p.ObjectKind(o)
			for _, v := range verbs.Verbs() {
				if v.ValidFor(k) {
					hit(s, oid, v, &r.Range)
				}
			}
		}
	}
	if inv.Verbs.Has(policy.VerbSpawn) {
		// Spawn is granted by spawn blocks and enter lists, which the
		// CIL compiler turns into allow rules a neverallow would catch.
		for s := int32(0); s < g.nSubj; s++ {
			if !subj.has(s) {
				continue
			}
			for _, t := range a.tk.spawns[s] {
				if obj.has(t.to) {
					hit(s, t.to, policy.VerbSpawn, t.at)
				}
			}
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := keys[i], keys[j]
		return cmp.Or(cmp.Compare(g.names[a.s], g.names[b.s]), cmp.Compare(g.names[a.o], g.names[b.o]), cmp.Compare(a.v, b.v))
	})
	sorted := make([]Violation, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

func (a *Analyzer) checkDenySpawn(inv *policy.Invariant) []Violation {
	g := a.g
	from, _ := g.selectNodes(inv.From)
	_, to := g.selectNodes(inv.To)
	var out []Violation
	parent := make([]int32, g.nSubj)
	via := make([]*spawnEdge, g.nSubj)
	for _, f := range from {
		for i := range parent {
			parent[i] = -2 // unreached; f itself is reached only by a cycle
		}
		queue := []int32{f}
		var reached []int32
		for qi := 0; qi < len(queue); qi++ {
			u := queue[qi]
			if u != f && !inv.Transitive {
				break
			}
			for i := range a.tk.spawns[u] {
				t := &a.tk.spawns[u][i]
				if parent[t.to] != -2 {
					continue
				}
				parent[t.to], via[t.to] = u, t
				queue = append(queue, t.to)
				if to.has(t.to) {
					reached = append(reached, t.to)
				}
			}
		}
		slices.SortFunc(reached, func(x, y int32) int { return cmp.Compare(g.names[x], g.names[y]) })
		for _, t := range reached {
			chain := []int32{t}
			for x := parent[t]; x != f; x = parent[x] {
				chain = append(chain, x)
			}
			chain = append(chain, f)
			slices.Reverse(chain)
			p := &Path{}
			var at []string
			for i, x := range chain {
				p.Nodes = append(p.Nodes, g.names[x])
				if i > 0 {
					e := via[x]
					p.Steps = append(p.Steps, Step{Via: e.how, At: pos(e.at)})
					at = append(at, pos(e.at))
				}
			}
			out = append(out, Violation{
				Invariant: inv.Name, Form: inv.Form.String(), Subject: g.names[f], Verb: "spawn", Object: g.names[t],
				Path: p, At: at, Counterexample: fmt.Sprintf("%s spawn %s", g.names[f], g.names[t]),
			})
		}
	}
	return out
}

func (a *Analyzer) checkDenyCapability(inv *policy.Invariant) []Violation {
	var out []Violation
	for _, c := range a.p.Compartments {
		if !a.p.Selects(inv.Subjects, c.Name) {
			continue
		}
		for _, cp := range c.Capabilities {
			if len(inv.Capabilities) == 0 || slices.Contains(inv.Capabilities, cp) {
				out = append(out, Violation{
					Invariant: inv.Name, Form: inv.Form.String(), Subject: c.Name, Capability: string(cp),
					At: []string{pos(&c.Range)}, Counterexample: fmt.Sprintf("%s holds %s", c.Name, cp),
				})
			}
		}
	}
	return out
}

func (a *Analyzer) checkNoFlow(inv *policy.Invariant) []Violation {
	g := a.g
	src, _ := g.selectNodes(inv.From)
	_, dst := g.selectNodes(inv.To)
	_, avoid := g.selectNodes(inv.Through)
	next, dist := g.towards(dst, avoid)
	var out []Violation
	for i := 0; i < len(src); i++ {
		s := src[i]
		ids := g.pathFrom(s, next, dist, dst, avoid)
		if g.kinds[s] == NodeRequest && i+1 < len(src) && src[i+1] == s+1 {
			// A channel: the shorter flow of its two halves.
			if alt := g.pathFrom(s+1, next, dist, dst, avoid); alt != nil && (ids == nil || len(alt) < len(ids)) {
				ids = alt
			}
			i++
		}
		if ids == nil {
			continue
		}
		p := g.toPath(ids)
		var at []string
		for _, st := range p.Steps {
			at = append(at, st.At)
		}
		out = append(out, Violation{
			Invariant: inv.Name, Form: inv.Form.String(), Subject: g.names[s], Object: g.names[ids[len(ids)-1]],
			Path: &p, At: at, Counterexample: p.String(),
		})
	}
	return out
}
