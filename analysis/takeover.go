package analysis

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/rampart-sec/rampart/policy"
)

// grantRef is what one subject holds on one object (merged over rules).
type grantRef struct {
	obj   int32 // node id (the request half for a channel)
	verbs policy.VerbSet
	at    *hcl.Range // first rule
}

// spawnEdge is a direct start: a spawn block or a role's enter list.
type spawnEdge struct {
	to  int32
	how string // "spawn" or "enter"
	at  *hcl.Range
}

// Reasons a compartment is taken over through a resource.
const (
	takeExecutable = iota + 1 // the resource holds one of its executables
	takeCode                  // it executes or maps the resource executable
	takeConfig                // it reads the resource, labelled integrity-critical
)

// taker is a compartment taken over by whoever alters a resource.
type taker struct {
	comp   int32
	reason int
	detail string     // the executable path, or the verbs
	at     *hcl.Range // the compartment block or D's rule
}

// takeoverEdge: whoever is compromised at the source also controls to.
type takeoverEdge struct {
	to  int32
	res int32 // resource altered (-1 for spawn, enter, ptrace)
	// first step: the source's spawn/enter/ptrace, or its alteration of
	// res; second step (res >= 0): why to depends on res.
	how1, how2 string
	at1, at2   *hcl.Range
}

// takeoverGraph holds, per subject id, grants and takeover edges.
type takeoverGraph struct {
	grants [][]grantRef
	spawns [][]spawnEdge
	edges  [][]takeoverEdge
	takers map[int32][]taker // resource id → compartments it controls
	// readers and channel parties, for "feeds"
	readers map[int32][]int32 // resource id → subjects that read it
}

func buildTakeovers(p *policy.Policy, g *graph) *takeoverGraph {
	t := &takeoverGraph{
		grants:  make([][]grantRef, g.nSubj),
		spawns:  make([][]spawnEdge, g.nSubj),
		edges:   make([][]takeoverEdge, g.nSubj),
		takers:  make(map[int32][]taker),
		readers: make(map[int32][]int32),
	}
	// Grants, merged per (subject, object) in rule order.
	index := make([]map[int32]int, g.nSubj)
	for _, r := range p.Rules {
		s, ok := g.ids[r.Subject]
		if !ok || s >= g.nSubj {
			continue
		}
		if index[s] == nil {
			index[s] = make(map[int32]int)
		}
		for _, o := range r.Objects {
			oid, ok := g.ids[o]
			if !ok {
				continue
			}
			if i, ok := index[s][oid]; ok {
				t.grants[s][i].verbs |= r.Verbs.Implied()
				continue
			}
			index[s][oid] = len(t.grants[s])
			t.grants[s] = append(t.grants[s], grantRef{obj: oid, verbs: r.Verbs.Implied(), at: &r.Range})
		}
	}
	for _, sp := range p.Spawns {
		from, ok := g.ids[sp.From]
		if !ok {
			continue
		}
		for _, to := range sp.To {
			if id, ok := g.ids[to]; ok && !hasSpawn(t.spawns[from], id) {
				t.spawns[from] = append(t.spawns[from], spawnEdge{id, "spawn", &sp.Range})
			}
		}
	}
	for _, r := range p.Roles {
		rid := g.ids[r.Name]
		for _, e := range r.Enter {
			if id, ok := g.ids[e]; ok && !hasSpawn(t.spawns[rid], id) {
				t.spawns[rid] = append(t.spawns[rid], spawnEdge{id, "enter", &r.Range})
			}
		}
	}
	// Which compartments each resource controls.
	addTaker := func(res int32, tk taker) {
		for _, x := range t.takers[res] {
			if x.comp == tk.comp {
				return
			}
		}
		t.takers[res] = append(t.takers[res], tk)
	}
	for i, c := range p.Compartments {
		for _, exe := range c.Executables {
			if r := p.ResourceAt(exe); r != nil {
				addTaker(g.ids[r.Name], taker{int32(i), takeExecutable, exe, &c.Range})
			}
		}
	}
	for s := int32(0); s < g.nSubj; s++ {
		for _, gr := range t.grants[s] {
			if g.kinds[gr.obj] != NodeResource {
				continue
			}
			if gr.verbs&readVerbs&^policy.NewVerbSet(policy.VerbIoctl) != 0 {
				t.readers[gr.obj] = append(t.readers[gr.obj], s)
			}
			if s >= g.nComp {
				continue // roles are people: nobody takes them over
			}
			if cv := gr.verbs & codeVerbs; cv != 0 {
				addTaker(gr.obj, taker{s, takeCode, verbList(cv), gr.at})
			} else if gr.verbs.Has(policy.VerbRead) && p.Resources[gr.obj-g.nSubj].HasLabel(policy.LabelIntegrityCritical) {
				addTaker(gr.obj, taker{s, takeConfig, "read", gr.at})
			}
		}
	}
	// Takeover edges: spawn and enter, ptrace, then alterations.
	for s := int32(0); s < g.nSubj; s++ {
		seen := map[int32]bool{s: true}
		add := func(e takeoverEdge) {
			if !seen[e.to] {
				seen[e.to] = true
				t.edges[s] = append(t.edges[s], e)
			}
		}
		for _, sp := range t.spawns[s] {
			add(takeoverEdge{to: sp.to, res: -1, how1: sp.how, at1: sp.at})
		}
		for _, gr := range t.grants[s] {
			if g.kinds[gr.obj] == NodeCompartment && gr.verbs.Has(policy.VerbPtrace) {
				add(takeoverEdge{to: gr.obj, res: -1, how1: "ptrace", at1: gr.at})
			}
		}
		for _, gr := range t.grants[s] {
			av := gr.verbs & alterVerbs
			if av == 0 || g.kinds[gr.obj] != NodeResource {
				continue
			}
			for _, tk := range t.takers[gr.obj] {
				e := takeoverEdge{to: tk.comp, res: gr.obj, how1: verbList(av), at1: gr.at, at2: tk.at}
				switch tk.reason {
				case takeExecutable:
					e.how2 = "holds its executable " + tk.detail
				case takeCode:
					e.how2 = tk.detail + " (code)"
				case takeConfig:
					e.how2 = "read (integrity-critical)"
				}
				add(e)
			}
		}
	}
	return t
}

func hasSpawn(es []spawnEdge, id int32) bool {
	for _, e := range es {
		if e.to == id {
			return true
		}
	}
	return false
}

// verbList formats verbs as "write,create" (append omitted when write is
// present).
func verbList(vs policy.VerbSet) string {
	if vs.Has(policy.VerbWrite) {
		vs &^= policy.NewVerbSet(policy.VerbAppend)
	}
	out := ""
	for i, v := range vs.Verbs() {
		if i > 0 {
			out += ","
		}
		out += v.String()
	}
	return out
}
