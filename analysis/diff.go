package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// DiffResult is a semantic comparison of two policies, for code review.
type DiffResult struct {
	Old string `json:"old"`
	New string `json:"new"`
	// Access lists, per subject and object, the verbs granted in one
	// policy and not the other (write implying append; spawn from spawn
	// blocks and enter lists).
	Access []AccessChange `json:"access"`
	// FlowsAdded and FlowsRemoved list information flows between
	// endpoints (compartments, roles, labelled resources and network
	// channels) that exist in one policy and not the other.
	FlowsAdded   []FlowChange `json:"flows_added"`
	FlowsRemoved []FlowChange `json:"flows_removed"`
	// FlowsAddedTotal and FlowsRemovedTotal count them: the lists stop at
	// maxDiffFlows entries.
	FlowsAddedTotal   int `json:"flows_added_total"`
	FlowsRemovedTotal int `json:"flows_removed_total"`
	// Blast lists the subjects whose blast radius changed.
	Blast []BlastChange `json:"blast_radius"`
	// NewViolations are counterexamples in the new policy that the old
	// one did not have; Fixed the reverse.
	NewViolations []Violation `json:"new_violations"`
	Fixed         []Violation `json:"fixed_violations"`
	// Invariants lists invariants whose status changed ("holds", "fails",
	// "absent").
	Invariants []InvariantChange `json:"invariants"`
}

// AccessChange is a change of one subject's verbs on one object.
type AccessChange struct {
	Subject string   `json:"subject"`
	Object  string   `json:"object"`
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// At lists the new policy's rules granting the added verbs.
	At []string `json:"at,omitempty"`
}

// FlowChange is a flow between two endpoints, with a shortest path in the
// policy that has it (Path may be nil when too many flows changed).
type FlowChange struct {
	From string `json:"from"`
	To   string `json:"to"`
	Path *Path  `json:"path,omitempty"`
}

// BlastChange is a change of one subject's blast radius. Status is
// "changed", "added" (a new subject) or "removed".
type BlastChange struct {
	Subject          string   `json:"subject"`
	Status           string   `json:"status"`
	Grew             bool     `json:"grew"`
	TakenOverAdded   []string `json:"taken_over_added,omitempty"`
	TakenOverRemoved []string `json:"taken_over_removed,omitempty"`
	ReadAdded        []string `json:"read_added,omitempty"`
	ReadRemoved      []string `json:"read_removed,omitempty"`
	AlterAdded       []string `json:"alter_added,omitempty"`
	AlterRemoved     []string `json:"alter_removed,omitempty"`
	ExecuteAdded     []string `json:"execute_added,omitempty"`
	ExecuteRemoved   []string `json:"execute_removed,omitempty"`
	ChannelsAdded    []string `json:"channels_added,omitempty"`
	ChannelsRemoved  []string `json:"channels_removed,omitempty"`
	FedAdded         []string `json:"fed_added,omitempty"`
	FedRemoved       []string `json:"fed_removed,omitempty"`
}

// InvariantChange is a change of an invariant's status.
type InvariantChange struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// FailOn selects the kinds of change that fail a diff (for CI gates).
type FailOn uint8

// Diff gates.
const (
	// FailNewAccess: some subject gained a verb on some object.
	FailNewAccess FailOn = 1 << iota
	// FailNewFlow: a new information flow between endpoints.
	FailNewFlow
	// FailBlastGrowth: some blast radius gained a member.
	FailBlastGrowth
	// FailInvariant: the new policy has a violation the old one did not.
	FailInvariant
)

var failOnNames = []string{"new-access", "new-flow", "blast-radius-growth", "invariant"}

// ParseFailOn parses a comma-separated list of "new-access", "new-flow",
// "blast-radius-growth" and "invariant" ("" is none, "all" is every one).
func ParseFailOn(s string) (FailOn, error) {
	var f FailOn
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if part == "all" {
			f |= FailNewAccess | FailNewFlow | FailBlastGrowth | FailInvariant
			continue
		}
		i := slices.Index(failOnNames, part)
		if i < 0 {
			return 0, fmt.Errorf("unknown --fail-on %q: want %s or all", part, strings.Join(failOnNames, ", "))
		}
		f |= 1 << i
	}
	return f, nil
}

// Failures returns why d fails the gates in f (empty when it passes).
func (d *DiffResult) Failures(f FailOn) []string {
	var out []string
	if f&FailNewAccess != 0 {
		n := 0
		for _, c := range d.Access {
			if len(c.Added) > 0 {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("new-access: %d subject/object pair(s) gained verbs", n))
		}
	}
	if f&FailNewFlow != 0 && d.FlowsAddedTotal > 0 {
		out = append(out, fmt.Sprintf("new-flow: %d new information flows", d.FlowsAddedTotal))
	}
	if f&FailBlastGrowth != 0 {
		var grew []string
		for _, b := range d.Blast {
			if b.Grew {
				grew = append(grew, b.Subject)
			}
		}
		if len(grew) > 0 {
			out = append(out, fmt.Sprintf("blast-radius-growth: %s", strings.Join(grew, ", ")))
		}
	}
	if f&FailInvariant != 0 && len(d.NewViolations) > 0 {
		out = append(out, fmt.Sprintf("invariant: %d new violations", len(d.NewViolations)))
	}
	return out
}

// maxDiffPaths bounds how many changed flows get a path, maxDiffFlows
// how many are listed.
const (
	maxDiffPaths = 500
	maxDiffFlows = 10000
)

// Diff compares two policies.
func Diff(old, new *Analyzer) *DiffResult {
	d := &DiffResult{Old: old.p.Name, New: new.p.Name}
	d.Access = diffAccess(old, new)
	d.FlowsAdded, d.FlowsRemoved, d.FlowsAddedTotal, d.FlowsRemovedTotal = diffFlows(old, new)
	d.Blast = diffBlast(old, new)
	d.NewViolations, d.Fixed, d.Invariants = diffInvariants(old, new)
	return d
}

// grantsOf returns a subject's verbs per object, spawn included.
func grantsOf(a *Analyzer, s int32) map[string]policy.VerbSet {
	m := make(map[string]policy.VerbSet)
	for _, gr := range a.tk.grants[s] {
		m[a.g.names[gr.obj]] |= gr.verbs
	}
	for _, sp := range a.tk.spawns[s] {
		m[a.g.names[sp.to]] |= policy.NewVerbSet(policy.VerbSpawn)
	}
	return m
}

func subjectNames(a *Analyzer) []string { return a.g.names[:a.g.nSubj] }

func unionNames(x, y []string) []string {
	out := append(slices.Clone(x), y...)
	slices.Sort(out)
	return slices.Compact(out)
}

func diffAccess(old, new *Analyzer) []AccessChange {
	var out []AccessChange
	for _, s := range unionNames(subjectNames(old), subjectNames(new)) {
		var og, ng map[string]policy.VerbSet
		if id, ok := old.g.ids[s]; ok && id < old.g.nSubj {
			og = grantsOf(old, id)
		}
		if id, ok := new.g.ids[s]; ok && id < new.g.nSubj {
			ng = grantsOf(new, id)
		}
		objs := make([]string, 0, len(og)+len(ng))
		for o := range og {
			objs = append(objs, o)
		}
		for o := range ng {
			objs = append(objs, o)
		}
		slices.Sort(objs)
		objs = slices.Compact(objs)
		for _, o := range objs {
			added, removed := ng[o]&^og[o], og[o]&^ng[o]
			if added == 0 && removed == 0 {
				continue
			}
			c := AccessChange{Subject: s, Object: o, Added: verbNames(added), Removed: verbNames(removed)}
			if added != 0 {
				for _, v := range added.Verbs() {
					if v == policy.VerbSpawn {
						continue
					}
					_, rules := new.p.Granted(s, o)
					for _, r := range rules {
						if r.Verbs.Implied().Has(v) && !slices.Contains(c.At, pos(&r.Range)) {
							c.At = append(c.At, pos(&r.Range))
						}
					}
				}
			}
			out = append(out, c)
		}
	}
	return out
}

func verbNames(vs policy.VerbSet) []string {
	var out []string
	for _, v := range vs.Verbs() {
		out = append(out, v.String())
	}
	return out
}

// flowEndpoints returns the endpoint entities of a: subjects, labelled
// resources and network channels.
func flowEndpoints(a *Analyzer) []string {
	out := slices.Clone(subjectNames(a))
	for _, r := range a.p.Resources {
		if len(r.Labels) > 0 {
			out = append(out, r.Name)
		}
	}
	for _, c := range a.p.Channels {
		if c.Network() {
			out = append(out, c.Name)
		}
	}
	return out
}

// flowMatrix returns, for each endpoint (index into universe) present in
// a, the set of endpoints it flows to (at least one step, itself
// excluded). It condenses the flow graph (terminal nodes have no out-edges
// in the condensation, since paths never pass through them) and unions
// bitsets, sinks first.
func flowMatrix(a *Analyzer, universe map[string]int32, n int) map[int32]bitset {
	g := a.g
	ep := make([]int32, len(g.names))
	for i := range ep {
		ep[i] = -1
	}
	for name, idx := range universe {
		for _, id := range g.nodesOf(name) {
			ep[id] = idx
		}
	}
	succ := func(u int32, f func(v int32)) {
		if g.terminal.has(u) {
			return
		}
		for _, e := range g.out[u] {
			f(e.to)
		}
	}
	comp, order := sccs(len(g.names), succ)
	reach := make([]bitset, len(order)) // D(component): endpoints reachable, own included
	for c, members := range order {
		b := newBitset(n)
		for _, u := range members {
			if ep[u] >= 0 {
				b.set(ep[u])
			}
			succ(u, func(v int32) {
				if d := comp[v]; int(d) != c {
					b.or(reach[d])
				}
			})
		}
		reach[c] = b
	}
	out := make(map[int32]bitset)
	for name, idx := range universe {
		ids := g.nodesOf(name)
		if ids == nil {
			continue
		}
		b := newBitset(n)
		for _, s := range ids {
			for _, e := range g.out[s] {
				b.or(reach[comp[e.to]])
			}
		}
		b[idx>>6] &^= 1 << (uint(idx) & 63)
		out[idx] = b
	}
	return out
}

func diffFlows(old, new *Analyzer) (added, removed []FlowChange, nAdded, nRemoved int) {
	names := unionNames(flowEndpoints(old), flowEndpoints(new))
	universe := make(map[string]int32, len(names))
	for i, n := range names {
		universe[n] = int32(i)
	}
	// Only names that are endpoints in the policy count there.
	restrict := func(a *Analyzer) map[string]int32 {
		m := make(map[string]int32)
		for _, n := range flowEndpoints(a) {
			m[n] = universe[n]
		}
		return m
	}
	om := flowMatrix(old, restrict(old), len(names))
	nm := flowMatrix(new, restrict(new), len(names))
	empty := newBitset(len(names))
	pathIn := func(a *Analyzer, from, to string, budget *int) *Path {
		if *budget <= 0 {
			return nil
		}
		*budget--
		src := a.g.nodesOf(from)
		dst := newBitset(len(a.g.names))
		for _, id := range a.g.nodesOf(to) {
			dst.set(id)
		}
		ids := a.g.shortest(src, dst, newBitset(len(a.g.names)))
		if ids == nil {
			return nil
		}
		p := a.g.toPath(ids)
		return &p
	}
	addBudget, remBudget := maxDiffPaths, maxDiffPaths
	for i, from := range names {
		o, n := om[int32(i)], nm[int32(i)]
		if o == nil {
			o = empty
		}
		if n == nil {
			n = empty
		}
		for w := range n {
			if x := n[w] &^ o[w]; x != 0 {
				bitset{x}.each(func(j int32) {
					if nAdded++; len(added) < maxDiffFlows {
						to := names[int32(w*64)+j]
						added = append(added, FlowChange{From: from, To: to, Path: pathIn(new, from, to, &addBudget)})
					}
				})
			}
			if x := o[w] &^ n[w]; x != 0 {
				bitset{x}.each(func(j int32) {
					if nRemoved++; len(removed) < maxDiffFlows {
						to := names[int32(w*64)+j]
						removed = append(removed, FlowChange{From: from, To: to, Path: pathIn(old, from, to, &remBudget)})
					}
				})
			}
		}
	}
	return added, removed, nAdded, nRemoved
}

func diffBlast(old, new *Analyzer) []BlastChange {
	var out []BlastChange
	for _, s := range unionNames(subjectNames(old), subjectNames(new)) {
		ob, oerr := old.BlastRadius(s)
		nb, nerr := new.BlastRadius(s)
		switch {
		case oerr != nil && nerr == nil:
			out = append(out, BlastChange{Subject: s, Status: "added", Grew: true, TakenOverAdded: takenNames(nb)})
			continue
		case oerr == nil && nerr != nil:
			out = append(out, BlastChange{Subject: s, Status: "removed"})
			continue
		case oerr != nil:
			continue
		}
		c := BlastChange{Subject: s, Status: "changed"}
		c.TakenOverAdded, c.TakenOverRemoved = setDiff(takenNames(ob), takenNames(nb))
		c.ReadAdded, c.ReadRemoved = setDiff(reachNames(ob.Read), reachNames(nb.Read))
		c.AlterAdded, c.AlterRemoved = setDiff(reachNames(ob.Alter), reachNames(nb.Alter))
		c.ExecuteAdded, c.ExecuteRemoved = setDiff(reachNames(ob.Execute), reachNames(nb.Execute))
		c.ChannelsAdded, c.ChannelsRemoved = setDiff(chanNames(ob), chanNames(nb))
		c.FedAdded, c.FedRemoved = setDiff(fedNames(ob), fedNames(nb))
		c.Grew = len(c.TakenOverAdded)+len(c.ReadAdded)+len(c.AlterAdded)+len(c.ExecuteAdded)+len(c.ChannelsAdded)+len(c.FedAdded) > 0
		shrank := len(c.TakenOverRemoved)+len(c.ReadRemoved)+len(c.AlterRemoved)+len(c.ExecuteRemoved)+len(c.ChannelsRemoved)+len(c.FedRemoved) > 0
		if c.Grew || shrank {
			out = append(out, c)
		}
	}
	return out
}

func takenNames(b *BlastRadius) []string {
	var out []string
	for _, t := range b.TakenOver {
		out = append(out, t.Compartment)
	}
	slices.Sort(out)
	return out
}

func reachNames(rs []Reach) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Object
	}
	return out
}

func chanNames(b *BlastRadius) []string {
	out := make([]string, len(b.Channels))
	for i, c := range b.Channels {
		out[i] = c.Channel
	}
	return out
}

func fedNames(b *BlastRadius) []string {
	var out []string
	for _, f := range b.Fed {
		out = append(out, f.Subject)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// setDiff returns the members of y missing from x (added) and of x
// missing from y (removed); both inputs are sorted.
func setDiff(x, y []string) (added, removed []string) {
	for _, s := range y {
		if _, ok := slices.BinarySearch(x, s); !ok {
			added = append(added, s)
		}
	}
	for _, s := range x {
		if _, ok := slices.BinarySearch(y, s); !ok {
			removed = append(removed, s)
		}
	}
	return added, removed
}

func diffInvariants(old, new *Analyzer) (added, fixed []Violation, changes []InvariantChange) {
	or, nr := old.Check(), new.Check()
	key := func(v Violation) string { return v.Invariant + "\x00" + v.Counterexample }
	index := func(r *CheckResult) (map[string]bool, map[string]string) {
		vs, st := map[string]bool{}, map[string]string{}
		for _, i := range r.Invariants {
			st[i.Name] = "holds"
			if !i.Holds {
				st[i.Name] = "fails"
			}
			for _, v := range i.Violations {
				vs[key(v)] = true
			}
		}
		return vs, st
	}
	ov, os := index(or)
	nv, ns := index(nr)
	for _, v := range nr.Violations() {
		if !ov[key(v)] {
			added = append(added, v)
		}
	}
	for _, v := range or.Violations() {
		if !nv[key(v)] {
			fixed = append(fixed, v)
		}
	}
	var names []string
	for n := range os {
		names = append(names, n)
	}
	for n := range ns {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		o, nn := cmp.Or(os[n], "absent"), cmp.Or(ns[n], "absent")
		if o != nn {
			changes = append(changes, InvariantChange{Name: n, Old: o, New: nn})
		}
	}
	return added, fixed, changes
}
