// Package report renders a forensics.Report: a terminal summary, JSON,
// a Graphviz digraph, and a self-contained HTML page (inline SVG and
// script, no network access) with the graph, the timeline, the findings
// and the countermeasures.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/forensics"
)

// JSON writes the report as indented JSON.
func JSON(w io.Writer, rep *forensics.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}

func list(l []string, max int) string {
	if len(l) == 0 {
		return "none"
	}
	if max > 0 && len(l) > max {
		return strings.Join(l[:max], ", ") + fmt.Sprintf(" (and %d more)", len(l)-max)
	}
	return strings.Join(l, ", ")
}

// Text writes the terminal summary. The first line is the warning of an
// unverified input, when there is one.
func Text(w io.Writer, rep *forensics.Report) error {
	bw := &errWriter{w: w}
	p := bw.printf
	if rep.Warning != "" {
		p("WARNING: %s\n\n", rep.Warning)
	}
	var starts []string
	for _, s := range rep.Query.Starts {
		starts = append(starts, s.Name)
	}
	at := "the end of the input"
	if !rep.Query.At.IsZero() {
		at = ts(rep.Query.At)
	} else if rep.Query.Direction == "forward" {
		at = "its first event"
	}
	p("Investigation (%s) from %s at %s\n", rep.Query.Direction, rep.Query.Start, at)
	if len(starts) > 1 || len(starts) == 1 && starts[0] != rep.Query.Start {
		p("  start: %s\n", list(starts, 6))
	}
	gi := rep.Graph
	p("  graph: %d events, %d nodes, %d edges (%d merged by causality-preserving reduction, %d filtered), %s to %s, loaded in %s\n",
		gi.Events, gi.Nodes, gi.Edges, gi.Merged, gi.Dropped, shortTime(gi.From), shortTime(gi.To), gi.LoadTime)
	for _, n := range rep.Notes {
		p("  note: %s\n", n)
	}
	if rc := rep.RootCause; rc != nil {
		p("\nROOT CAUSE (%d entry points; %d nodes, %d edges in the causal past)\n", rc.Total, rc.Nodes, rc.Edges)
		if len(rc.EntryPoints) == 0 {
			p("  no entry point found: the start's past lies outside the input\n")
		}
		shown := 0
		for _, ep := range rc.EntryPoints {
			if ep.Kind == forensics.EntryDescriptor && shown > 0 || shown >= maxText {
				continue
			}
			shown++
			p("  entry point: %s — %s (%s)\n", ep.Kind, ep.Detail, ts(ep.Time))
			for _, s := range ep.Chain {
				p("    %s  %s -%s-> %s%s\n", ts(s.Time), s.From, s.Kind, s.To, stepExtra(s))
			}
		}
		if n := len(rc.EntryPoints) - shown; n > 0 {
			p("  (%d more entry points, descriptors opened before the trace among them; see --json)\n", n)
		}
		for i, gr := range rc.Groups {
			if i >= 20 {
				p("  … and %d more groups of entry points (see --json)\n", len(rc.Groups)-i)
				break
			}
			p("  and %d more: %s into %s, %s to %s (e.g. %s)\n", gr.Count, gr.Kind, gr.Into, ts(gr.First), ts(gr.Last), strings.Join(gr.Sample, ", "))
		}
		if len(rc.Compromised) > 0 {
			p("  compromised compartment(s): %s\n", list(rc.Compromised, 0))
		}
	}
	if im := rep.Impact; im != nil {
		var from []string
		for _, f := range im.From {
			from = append(from, f.Name)
		}
		p("\nIMPACT from %s (%d nodes, %d edges)\n", list(from, 4), im.Nodes, im.Edges)
		p("  processes tainted: %d; compartments: %s\n", im.ProcessCount, list(im.Compartments, 0))
		for i, s := range im.Started {
			if more(bw, i, im.StartedCount, "processes started") {
				break
			}
			p("  started  %s  %s by %s (%s)%s\n", ts(s.Time), s.Process.Name, s.By, s.How, argv(s.CommandLine))
		}
		for i, f := range im.Files {
			if more(bw, i, im.FileCount, "files written") {
				break
			}
			extra := ""
			if f.Resource != "" {
				extra = " [" + f.Resource + labels(f.Labels) + "]"
			}
			if f.Sealed {
				extra += " [SEALED ROOT]"
			}
			p("  wrote    %s  %s (%s, %d bytes) by %s%s\n", ts(f.First), f.Path, strings.Join(f.Actions, "+"), f.Bytes, list(f.By, 3), extra)
		}
		for i, e := range im.Endpoints {
			if more(bw, i, im.EndpointCount, "endpoints") {
				break
			}
			ch := ""
			if e.Channel != "" {
				ch = " [channel " + e.Channel + "]"
			}
			p("  contact  %s  %s %s, %d bytes sent, by %s%s\n", ts(e.First), e.Direction, e.Address, e.BytesSent, list(e.By, 3), ch)
		}
		for i, s := range im.Secrets {
			if more(bw, i, len(im.Secrets), "secrets") {
				break
			}
			when := "after compromise"
			if s.Before {
				when = "before compromise (in memory)"
			}
			res := ""
			if s.Resource != "" {
				res = " [" + s.Resource + "]"
			}
			p("  SECRET   %s  %s%s read by %s, %s\n", ts(s.Time), s.Path, res, list(s.By, 3), when)
		}
		switch {
		case !im.Sealed.Known:
			p("  sealed root filesystem: unknown (no policy resource labelled rootfs, no --sealed)\n")
		case im.Sealed.Touched:
			p("  sealed root filesystem: WRITTEN (%s)\n", list(im.Sealed.Writes, 5))
		case len(im.Sealed.Attempts) > 0:
			p("  sealed root filesystem: not written; refused attempts: %s\n", list(im.Sealed.Attempts, 5))
		default:
			p("  sealed root filesystem: untouched\n")
		}
	}
	if len(rep.Bounds) > 0 {
		p("\nBOUNDED BY THE POLICY\n")
		for _, b := range rep.Bounds {
			p("  %s\n", b.Summary())
		}
	}
	p("\nCOUNTERMEASURES\n")
	if len(rep.Countermeasures) == 0 {
		p("  none derived\n")
	}
	for i, c := range rep.Countermeasures {
		p("  %2d. %s\n", i+1, c.String())
	}
	var filtered []string
	for _, f := range rep.Filtered {
		if f.Edges > 0 {
			filtered = append(filtered, fmt.Sprintf("%s %d edges of %d objects", f.Filter, f.Edges, f.Objects))
		}
	}
	if len(filtered) > 0 {
		p("\nfiltered: %s (see --json for the objects)\n", strings.Join(filtered, "; "))
	}
	return bw.err
}

// maxText is how many items of a list the terminal summary shows.
const maxText = 40

// more prints how many items are left once i reaches maxText.
func more(w *errWriter, i, n int, what string) bool {
	if i < maxText {
		return false
	}
	w.printf("  … and %d more %s (see --json)\n", n-i, what)
	return true
}

func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return ts(t)
}

func stepExtra(s forensics.Step) string {
	var parts []string
	if s.Count > 1 {
		parts = append(parts, fmt.Sprintf("×%d", s.Count))
	}
	if s.Bytes > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes", s.Bytes))
	}
	if s.Inferred {
		parts = append(parts, "inferred")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func argv(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return ": " + s
}

func labels(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return ": " + strings.Join(l, ", ")
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, a...)
}
