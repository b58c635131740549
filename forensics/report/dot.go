package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/rampart-sec/rampart/forensics"
)

// dotQuote quotes s for Graphviz.
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	return `"` + s + `"`
}

// shape and colour of a node by kind and role
func dotStyle(n forensics.ViewNode) string {
	shape := map[string]string{
		"process": "box", "file": "note", "endpoint": "ellipse", "pipe": "cds",
		"user": "house", "session": "hexagon", "descriptor": "component",
	}[n.Kind]
	if shape == "" {
		shape = "box"
	}
	style := "filled"
	if n.Kind == "process" {
		style = "rounded,filled"
	}
	fill := map[string]string{
		"start": "#ffd166", "entry": "#ef476f", "secret": "#f4a261", "written": "#a8dadc",
		"endpoint": "#cdb4db", "process": "#e9ecef", "other": "#ffffff",
	}[n.Role]
	if fill == "" {
		fill = "#ffffff"
	}
	return fmt.Sprintf("shape=%s, style=%q, fillcolor=%q", shape, style, fill)
}

// DOT writes the report's view as a Graphviz digraph: the chains from the
// entry points to the start (red edges) and the impact (blue edges),
// nodes coloured by role: start yellow, entry points red, secrets orange,
// modified objects cyan.
func DOT(w io.Writer, rep *forensics.Report) error {
	bw := &errWriter{w: w}
	p := bw.printf
	title := fmt.Sprintf("rampart investigate --%s %s", rep.Query.Direction, rep.Query.Start)
	if rep.Warning != "" {
		title = "UNVERIFIED INPUT — " + title
	}
	p("digraph investigation {\n")
	p("  label=%s; labelloc=t; rankdir=LR; fontname=\"Helvetica\";\n", dotQuote(title))
	p("  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n")
	for _, n := range rep.View.Nodes {
		p("  n%d [label=%s, tooltip=%s, %s];\n", n.ID, dotQuote(n.Label), dotQuote(n.Title), dotStyle(n))
	}
	for _, e := range rep.View.Edges {
		color := "#1d3557"
		if e.Phase == "root-cause" {
			color = "#d62828"
		}
		label := e.Kind
		if e.Count > 1 {
			label += fmt.Sprintf(" ×%d", e.Count)
		}
		if len(e.Time) >= 23 {
			label += "\n" + e.Time[11:23]
		}
		p("  n%d -> n%d [label=%s, color=%q, fontcolor=%q];\n", e.Src, e.Dst, dotQuote(label), color, color)
	}
	if rep.View.Truncated {
		p("  truncated [shape=plaintext, label=\"(view cut to the most relevant nodes)\"];\n")
	}
	p("}\n")
	return bw.err
}
