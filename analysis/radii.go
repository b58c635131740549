package analysis

import "github.com/rampart-sec/rampart/policy"

// RadiusSummary gives the size of one subject's blast radius.
type RadiusSummary struct {
	Subject string `json:"subject"`
	Kind    string `json:"kind"`
	// TakenOver counts the compartments taken over (the subject excluded).
	TakenOver int `json:"taken_over"`
	// Read, Alter and Execute count resources; Secret counts the readable
	// ones labelled secret, Critical the alterable ones labelled
	// integrity-critical.
	Read     int `json:"read"`
	Secret   int `json:"secret_read"`
	Alter    int `json:"alter"`
	Critical int `json:"critical_altered"`
	Execute  int `json:"execute"`
	// Fed counts subjects outside the compromised set receiving its input.
	Fed int `json:"fed"`
	// Network counts the network channels the compromised set can use.
	Network int `json:"network"`
}

// BlastRadii summarises the blast radius of every compartment and role,
// in declaration order (compartments first). It shares work between
// subjects: the takeover graph is condensed into strongly connected
// components, and each component's sets are the union of its members'
// own sets and its successors' sets (bitsets), computed once, sinks
// first. BlastRadius(s) gives the same sets for one subject in full.
func (a *Analyzer) BlastRadii() []RadiusSummary {
	g, t := a.g, a.tk
	nSubj := int(g.nSubj)
	nObj := len(g.names) - nSubj
	obj := func(id int32) int32 { return id - g.nSubj }

	// Masks over objects.
	secret, critical, network := newBitset(nObj), newBitset(nObj), newBitset(nObj)
	for i, r := range a.p.Resources {
		if r.HasLabel(policy.LabelSecret) {
			secret.set(int32(i))
		}
		if r.HasLabel(policy.LabelIntegrityCritical) {
			critical.set(int32(i))
		}
	}
	for _, c := range a.p.Channels {
		if c.Network() {
			network.set(obj(g.ids[c.Name]))
		}
	}

	comp, order := sccs(nSubj, func(u int32, f func(v int32)) {
		for _, e := range t.edges[u] {
			f(e.to)
		}
	})
	// Successor components and how many predecessors still need each.
	nc := len(order)
	succ := make([][]int32, nc)
	need := make([]int32, nc)
	for c, members := range order {
		for _, u := range members {
			for _, e := range t.edges[u] {
				d := comp[e.to]
				if int(d) != c && !containsInt32(succ[c], d) {
					succ[c] = append(succ[c], d)
					need[d]++
				}
			}
		}
	}
	type sets struct{ subj, fed, read, alter, exec, chans bitset }
	var free []*sets
	alloc := func() *sets {
		if n := len(free); n > 0 {
			s := free[n-1]
			free = free[:n-1]
			for _, b := range []bitset{s.subj, s.fed, s.read, s.alter, s.exec, s.chans} {
				clear(b)
			}
			return s
		}
		return &sets{newBitset(nSubj), newBitset(nSubj), newBitset(nObj), newBitset(nObj), newBitset(nObj), newBitset(nObj)}
	}
	done := make([]*sets, nc)
	out := make([]RadiusSummary, nSubj)
	// sccs returns components sinks first: successors are done before.
	for c, members := range order {
		s := alloc()
		for _, u := range members {
			s.subj.set(u)
			for _, gr := range t.grants[u] {
				o := obj(gr.obj)
				switch g.kinds[gr.obj] {
				case NodeResource:
					if gr.verbs&(policy.NewVerbSet(policy.VerbRead)|codeVerbs) != 0 {
						s.read.set(o)
					}
					if gr.verbs&alterVerbs != 0 {
						s.alter.set(o)
						for _, d := range t.readers[gr.obj] {
							s.fed.set(d)
						}
					}
					if gr.verbs&codeVerbs != 0 {
						s.exec.set(o)
					}
				case NodeRequest:
					s.chans.set(o)
					ch := a.p.Channels[(gr.obj-g.nSubj-int32(len(a.p.Resources)))/2]
					if gr.verbs.Has(policy.VerbBind) || gr.verbs.Has(policy.VerbListen) {
						for _, cl := range ch.Clients {
							if id, ok := g.ids[cl]; ok {
								s.fed.set(id)
							}
						}
					} else if id, ok := g.ids[ch.Server]; ok && ch.Server != "" {
						s.fed.set(id)
					}
				}
			}
		}
		for _, d := range succ[c] {
			x := done[d]
			s.subj.or(x.subj)
			s.fed.or(x.fed)
			s.read.or(x.read)
			s.alter.or(x.alter)
			s.exec.or(x.exec)
			s.chans.or(x.chans)
			if need[d]--; need[d] == 0 {
				free = append(free, x)
				done[d] = nil
			}
		}
		sum := RadiusSummary{
			TakenOver: s.subj.count() - 1,
			Read:      s.read.count(),
			Secret:    s.read.andCount(secret),
			Alter:     s.alter.count(),
			Critical:  s.alter.andCount(critical),
			Execute:   s.exec.count(),
			Fed:       s.fed.andNotCount(s.subj),
			Network:   s.chans.andCount(network),
		}
		for _, u := range members {
			sum.Subject, sum.Kind = g.names[u], g.kinds[u].String()
			out[u] = sum
		}
		if need[c] == 0 {
			free = append(free, s)
		} else {
			done[c] = s
		}
	}
	return out
}

func containsInt32(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// sccs computes the strongly connected components of a graph on nodes
// [0, n) (Tarjan's algorithm, iterative). It returns each node's component
// and the components' members, in reverse topological order: every
// component comes after the components it has edges to.
func sccs(n int, succ func(u int32, f func(v int32))) (comp []int32, order [][]int32) {
	comp = make([]int32, n)
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := newBitset(n)
	for i := range index {
		index[i] = -1
	}
	var stack []int32
	next := int32(0)
	type frame struct {
		u    int32
		adj  []int32
		next int
	}
	var adjBuf []int32
	adjOf := func(u int32) []int32 {
		adjBuf = adjBuf[:0]
		succ(u, func(v int32) { adjBuf = append(adjBuf, v) })
		return append([]int32(nil), adjBuf...)
	}
	for root := int32(0); int(root) < n; root++ {
		if index[root] >= 0 {
			continue
		}
		calls := []frame{{u: root, adj: adjOf(root)}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack.set(root)
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			if f.next < len(f.adj) {
				v := f.adj[f.next]
				f.next++
				if index[v] < 0 {
					index[v], low[v] = next, next
					next++
					stack = append(stack, v)
					onStack.set(v)
					calls = append(calls, frame{u: v, adj: adjOf(v)})
				} else if onStack.has(v) {
					low[f.u] = min(low[f.u], index[v])
				}
				continue
			}
			u := f.u
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				p := calls[len(calls)-1].u
				low[p] = min(low[p], low[u])
			}
			if low[u] == index[u] {
				c := int32(len(order))
				var members []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w>>6] &^= 1 << (uint(w) & 63)
					comp[w] = c
					members = append(members, w)
					if w == u {
						break
					}
				}
				order = append(order, members)
			}
		}
	}
	return comp, order
}
