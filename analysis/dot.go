package analysis

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// Graphviz output. Shapes: compartments are boxes, roles are houses,
// resources are folders (notes for files and devices), channels are
// ellipses; secret resources are red, integrity-critical ones bold.

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// dotNode returns a node statement for a policy entity.
func (a *Analyzer) dotNode(name string, extra ...string) string {
	attrs := []string{"label=" + dotQuote(name)}
	e, ok := a.p.Entity(name)
	switch {
	case !ok:
		attrs = append(attrs, "shape=plaintext")
	case e.Kind == policy.EntityCompartment:
		attrs = append(attrs, "shape=box")
	case e.Kind == policy.EntityRole:
		attrs = append(attrs, "shape=house")
	case e.Kind == policy.EntityChannel:
		c := a.p.Channel(name)
		attrs = append(attrs, "shape=ellipse")
		if c.Network() {
			attrs = append(attrs, "peripheries=2")
		}
	case e.Kind == policy.EntityResource:
		r := a.p.Resource(name)
		shape := "note"
		if r.Kind == policy.KindDirectory {
			shape = "folder"
		}
		attrs = append(attrs, "shape="+shape)
		if r.HasLabel(policy.LabelSecret) {
			attrs = append(attrs, "color=red", "fontcolor=red")
		}
		if r.HasLabel(policy.LabelIntegrityCritical) {
			attrs = append(attrs, "penwidth=2")
		}
	}
	attrs = append(attrs, extra...)
	return fmt.Sprintf("  %s [%s];\n", dotQuote(name), strings.Join(attrs, ", "))
}

// WriteDOT writes paths as one Graphviz digraph (shared nodes and steps
// drawn once).
func (a *Analyzer) WriteDOT(w io.Writer, title string, paths []Path) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n", dotQuote(title))
	var nodes []string
	type step struct{ from, to, via string }
	var steps []step
	for _, p := range paths {
		for i, n := range p.Nodes {
			if !slices.Contains(nodes, n) {
				nodes = append(nodes, n)
			}
			if i > 0 {
				s := step{p.Nodes[i-1], n, p.Steps[i-1].Via}
				if !slices.Contains(steps, s) {
					steps = append(steps, s)
				}
			}
		}
	}
	for _, n := range nodes {
		var extra []string
		for _, p := range paths {
			switch {
			case p.Nodes[0] == n:
				extra = []string{"style=filled", "fillcolor=lightyellow"}
			case p.Nodes[len(p.Nodes)-1] == n && extra == nil:
				extra = []string{"style=filled", "fillcolor=lightpink"}
			}
		}
		b.WriteString(a.dotNode(n, extra...))
	}
	for _, s := range steps {
		fmt.Fprintf(&b, "  %s -> %s [label=%s];\n", dotQuote(s.from), dotQuote(s.to), dotQuote(s.via))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteBlastDOT writes a blast radius as a Graphviz digraph: the
// compromised subject (red), the takeover chains (orange compartments,
// bold red edges), what the compromised set reads (blue edges), alters
// (red edges) and executes, its channels, and the subjects it feeds
// (dashed).
func (a *Analyzer) WriteBlastDOT(w io.Writer, br *BlastRadius) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n", dotQuote("blast radius of "+br.Subject))
	seen := map[string]bool{}
	node := func(name string, extra ...string) {
		if !seen[name] {
			seen[name] = true
			b.WriteString(a.dotNode(name, extra...))
		}
	}
	node(br.Subject, "style=filled", "fillcolor=red", "fontcolor=white")
	for _, t := range br.TakenOver {
		node(t.Compartment, "style=filled", "fillcolor=orange")
	}
	type edge struct{ from, to, label, attrs string }
	var edges []edge
	addEdge := func(e edge) {
		if !slices.Contains(edges, e) {
			edges = append(edges, e)
		}
	}
	for _, t := range br.TakenOver {
		for i := 1; i < len(t.Path.Nodes); i++ {
			node(t.Path.Nodes[i])
			addEdge(edge{t.Path.Nodes[i-1], t.Path.Nodes[i], t.Path.Steps[i-1].Via, "color=red, penwidth=2"})
		}
	}
	for _, r := range br.Read {
		node(r.Object)
		for _, by := range r.By {
			addEdge(edge{r.Object, by.Subject, strings.Join(by.Verbs, ","), "color=blue"})
		}
	}
	for _, r := range br.Alter {
		node(r.Object)
		for _, by := range r.By {
			addEdge(edge{by.Subject, r.Object, strings.Join(by.Verbs, ","), "color=red"})
		}
	}
	for _, c := range br.Channels {
		node(c.Channel)
		for _, by := range c.By {
			addEdge(edge{by, c.Channel, strings.Join(c.As, ","), "color=gray40"})
		}
	}
	for _, f := range br.Fed {
		node(f.Subject, "style=dashed")
		addEdge(edge{f.By, f.Subject, "feeds via " + f.Via, "style=dashed"})
	}
	for _, e := range edges {
		fmt.Fprintf(&b, "  %s -> %s [label=%s, %s];\n", dotQuote(e.from), dotQuote(e.to), dotQuote(e.label), e.attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
