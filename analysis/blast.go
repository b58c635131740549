package analysis

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/rampart-sec/rampart/policy"
)

// BlastRadius is what an attacker who compromises one subject controls:
// the compromised set (the subject and every compartment it takes over,
// transitively) and everything that set can read, alter, execute and
// reach. docs/policy.md ("Blast radius") defines what propagates a
// compromise.
type BlastRadius struct {
	Subject string `json:"subject"`
	Kind    string `json:"kind"`
	// TakenOver lists the compartments the attacker takes over, each with
	// a shortest chain from Subject.
	TakenOver []Takeover `json:"taken_over"`
	// Read, Alter and Execute list the resources the compromised set can
	// read (read, execute, map-exec), alter (write, append, create,
	// delete, setattr) and run as code (execute, map-exec).
	Read    []Reach `json:"read"`
	Alter   []Reach `json:"alter"`
	Execute []Reach `json:"execute"`
	// Execmem lists compromised compartments with anonymous executable
	// memory (map-exec on themselves).
	Execmem []string `json:"execmem,omitempty"`
	// Channels lists the channels the compromised set can use.
	Channels []ChannelReach `json:"channels"`
	// Fed lists the subjects outside the compromised set that it can feed
	// input to: through channels (requests to servers, replies to
	// clients) and resources they read.
	Fed []Feed `json:"fed"`
	// Signal lists the compartments outside the compromised set that it
	// can signal (kill, stop).
	Signal []string `json:"signal,omitempty"`
	// Capabilities lists the Linux capabilities the compromised set holds.
	Capabilities []Held `json:"capabilities,omitempty"`
}

// Takeover is a compartment in the compromised set and why.
type Takeover struct {
	Compartment string `json:"compartment"`
	// Path is a shortest chain of takeovers from the compromised subject:
	// "spawn", "enter" and "ptrace" steps, and resource steps (the
	// attacker alters a resource; the next compartment runs it as code or
	// trusts it as configuration).
	Path Path `json:"path"`
}

// Reach is an object the compromised set can access.
type Reach struct {
	Object string   `json:"object"`
	Kind   string   `json:"kind"`
	Labels []string `json:"labels,omitempty"`
	// Verbs is the union of the holders' verbs.
	Verbs []string `json:"verbs"`
	// By lists the compromised subjects holding the access, with their
	// verbs.
	By []Holder `json:"by"`
}

// Holder is a subject holding some verbs on an object.
type Holder struct {
	Subject string   `json:"subject"`
	Verbs   []string `json:"verbs"`
}

// Subjects returns the holders' names.
func (r Reach) Subjects() []string {
	out := make([]string, len(r.By))
	for i, h := range r.By {
		out[i] = h.Subject
	}
	return out
}

// Secret reports whether the object is labelled secret.
func (r Reach) Secret() bool { return slices.Contains(r.Labels, string(policy.LabelSecret)) }

// ChannelReach is a channel the compromised set can use.
type ChannelReach struct {
	Channel  string   `json:"channel"`
	Protocol string   `json:"protocol"`
	Network  bool     `json:"network"`
	As       []string `json:"as"` // "client", "server"
	By       []string `json:"by"`
}

// Feed is a subject outside the compromised set that receives its input.
type Feed struct {
	Subject string `json:"subject"`
	Kind    string `json:"kind"`
	// Via is the channel or resource carrying the input; How is
	// "request" (the subject serves Via), "reply" (it is a client of Via)
	// or "reads" (it reads the resource Via, which the attacker alters).
	Via string `json:"via"`
	How string `json:"how"`
	By  string `json:"by"`
}

// Held is a capability held by a compromised compartment.
type Held struct {
	Capability  string `json:"capability"`
	Compartment string `json:"compartment"`
}

// Compromised returns the subject and the compartments taken over.
func (b *BlastRadius) Compromised() []string {
	out := []string{b.Subject}
	for _, t := range b.TakenOver {
		out = append(out, t.Compartment)
	}
	return out
}

// Contains reports whether name is in the blast radius: compromised
// (the subject or taken over), or a resource the compromised set reads,
// alters or executes, or a channel it uses. Subjects it merely feeds
// input to are not in it (see Fed).
func (b *BlastRadius) Contains(name string) bool {
	return b.Subject == name || slices.ContainsFunc(b.TakenOver, func(t Takeover) bool { return t.Compartment == name }) ||
		containsObj(b.Read, name) || containsObj(b.Alter, name) || containsObj(b.Execute, name) ||
		slices.ContainsFunc(b.Channels, func(c ChannelReach) bool { return c.Channel == name })
}

func containsObj(rs []Reach, name string) bool {
	return slices.ContainsFunc(rs, func(r Reach) bool { return r.Object == name })
}

// BlastRadius computes the blast radius of the compartment or role called
// subject.
func (a *Analyzer) BlastRadius(subject string) (*BlastRadius, error) {
	g, t := a.g, a.tk
	s, ok := g.ids[subject]
	if !ok || s >= g.nSubj {
		return nil, fmt.Errorf("unknown compartment or role %q", subject)
	}
	br := &BlastRadius{Subject: subject, Kind: g.kinds[s].String()}
	// The compromised set: breadth-first over takeover edges.
	parent := map[int32]*takeoverEdge{s: nil}
	from := map[int32]int32{}
	set := []int32{s}
	for qi := 0; qi < len(set); qi++ {
		u := set[qi]
		for i := range t.edges[u] {
			e := &t.edges[u][i]
			if _, seen := parent[e.to]; seen {
				continue
			}
			parent[e.to], from[e.to] = e, u
			set = append(set, e.to)
		}
	}
	in := make(map[int32]bool, len(set))
	for _, x := range set {
		in[x] = true
	}
	for _, d := range set[1:] {
		var chain []*takeoverEdge
		var nodes []int32
		for x := d; x != s; x = from[x] {
			chain = append(chain, parent[x])
			nodes = append(nodes, x)
		}
		slices.Reverse(chain)
		slices.Reverse(nodes)
		p := Path{Nodes: []string{subject}}
		for i, e := range chain {
			if e.res >= 0 {
				p.Nodes = append(p.Nodes, g.names[e.res])
				p.Steps = append(p.Steps, Step{Via: e.how1, At: pos(e.at1)})
				p.Steps = append(p.Steps, Step{Via: e.how2, At: pos(e.at2)})
			} else {
				p.Steps = append(p.Steps, Step{Via: e.how1, At: pos(e.at1)})
			}
			p.Nodes = append(p.Nodes, g.names[nodes[i]])
		}
		br.TakenOver = append(br.TakenOver, Takeover{Compartment: g.names[d], Path: p})
	}
	slices.SortFunc(br.TakenOver, func(x, y Takeover) int {
		return cmp.Or(cmp.Compare(x.Path.Len(), y.Path.Len()), cmp.Compare(x.Compartment, y.Compartment))
	})

	// What the compromised set holds.
	type acc struct {
		verbs policy.VerbSet
		by    []string
		byVs  []policy.VerbSet
	}
	read, alter, exec := map[int32]*acc{}, map[int32]*acc{}, map[int32]*acc{}
	chans := map[int32]*ChannelReach{}
	note := func(m map[int32]*acc, o int32, vs policy.VerbSet, by string) {
		x := m[o]
		if x == nil {
			x = &acc{}
			m[o] = x
		}
		x.verbs |= vs
		if i := slices.Index(x.by, by); i >= 0 {
			x.byVs[i] |= vs
		} else {
			x.by = append(x.by, by)
			x.byVs = append(x.byVs, vs)
		}
	}
	type feedKey struct{ d, via int32 }
	feeds := map[feedKey]Feed{}
	feed := func(d, via int32, how string, by int32) {
		if in[d] {
			return
		}
		k := feedKey{d, via}
		if _, ok := feeds[k]; !ok {
			feeds[k] = Feed{Subject: g.names[d], Kind: g.kinds[d].String(), Via: g.names[via], How: how, By: g.names[by]}
		}
	}
	signal := map[string]bool{}
	for _, x := range set {
		xn := g.names[x]
		for _, gr := range t.grants[x] {
			switch g.kinds[gr.obj] {
			case NodeResource:
				if v := gr.verbs & (policy.NewVerbSet(policy.VerbRead) | codeVerbs); v != 0 {
					note(read, gr.obj, v, xn)
				}
				if v := gr.verbs & alterVerbs; v != 0 {
					note(alter, gr.obj, v, xn)
					for _, d := range t.readers[gr.obj] {
						feed(d, gr.obj, "reads", x)
					}
				}
				if v := gr.verbs & codeVerbs; v != 0 {
					note(exec, gr.obj, v, xn)
				}
			case NodeCompartment:
				if gr.verbs.Has(policy.VerbMapExec) && gr.obj == x {
					br.Execmem = append(br.Execmem, xn)
				}
				if gr.verbs.Has(policy.VerbSignal) && !in[gr.obj] {
					signal[g.names[gr.obj]] = true
				}
			case NodeRequest:
				ch := a.p.Channel(g.names[gr.obj])
				c := chans[gr.obj]
				if c == nil {
					c = &ChannelReach{Channel: ch.Name, Protocol: ch.Protocol.String(), Network: ch.Network()}
					chans[gr.obj] = c
				}
				as := "client"
				if gr.verbs.Has(policy.VerbBind) || gr.verbs.Has(policy.VerbListen) {
					as = "server"
					for _, cl := range ch.Clients {
						if id, ok := g.ids[cl]; ok {
							feed(id, gr.obj, "reply", x)
						}
					}
				} else if id, ok := g.ids[ch.Server]; ok && ch.Server != "" {
					feed(id, gr.obj, "request", x)
				}
				if !slices.Contains(c.As, as) {
					c.As = append(c.As, as)
				}
				if !slices.Contains(c.By, xn) {
					c.By = append(c.By, xn)
				}
			}
		}
		if x < g.nComp {
			for _, cp := range a.p.Compartments[x].Capabilities {
				br.Capabilities = append(br.Capabilities, Held{Capability: string(cp), Compartment: xn})
			}
		}
	}
	conv := func(m map[int32]*acc) []Reach {
		out := make([]Reach, 0, len(m))
		for o, x := range m {
			r := a.p.Resources[o-g.nSubj]
			rc := Reach{Object: r.Name, Kind: r.Kind.String(), Verbs: verbStrings(x.verbs)}
			for _, l := range r.Labels {
				rc.Labels = append(rc.Labels, string(l))
			}
			for i, by := range x.by {
				rc.By = append(rc.By, Holder{Subject: by, Verbs: verbStrings(x.byVs[i])})
			}
			out = append(out, rc)
		}
		slices.SortFunc(out, func(x, y Reach) int { return cmp.Compare(x.Object, y.Object) })
		return out
	}
	br.Read, br.Alter, br.Execute = conv(read), conv(alter), conv(exec)
	for _, c := range chans {
		br.Channels = append(br.Channels, *c)
	}
	slices.SortFunc(br.Channels, func(x, y ChannelReach) int { return cmp.Compare(x.Channel, y.Channel) })
	for _, f := range feeds {
		br.Fed = append(br.Fed, f)
	}
	slices.SortFunc(br.Fed, func(x, y Feed) int { return cmp.Or(cmp.Compare(x.Subject, y.Subject), cmp.Compare(x.Via, y.Via)) })
	for n := range signal {
		br.Signal = append(br.Signal, n)
	}
	slices.Sort(br.Signal)
	slices.Sort(br.Execmem)
	br.Execmem = slices.Compact(br.Execmem)
	slices.SortFunc(br.Capabilities, func(x, y Held) int {
		return cmp.Or(cmp.Compare(x.Capability, y.Capability), cmp.Compare(x.Compartment, y.Compartment))
	})
	return br, nil
}

// verbStrings lists verbs by name, append omitted when write is present.
func verbStrings(vs policy.VerbSet) []string {
	if vs.Has(policy.VerbWrite) {
		vs &^= policy.NewVerbSet(policy.VerbAppend)
	}
	out := make([]string, 0, vs.Len())
	for _, v := range vs.Verbs() {
		out = append(out, v.String())
	}
	return out
}
