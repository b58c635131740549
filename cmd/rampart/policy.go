package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rampart-sec/rampart/analysis"
	"github.com/rampart-sec/rampart/analysis/policytest"
	"github.com/rampart-sec/rampart/policy"
)

func policyGroup() *group {
	return &group{
		name:    "policy",
		summary: "compartment policies: check invariants, query access and flows, blast radius, diff, unit tests, compile",
		verbs: []*verb{
			{name: "check", args: "PATH...", summary: "load a policy and evaluate every invariant; print counterexamples (exit 1 on a violation)", setup: policyCheck, help: policyCheckHelp},
			{name: "who-can", args: "VERB TARGET", summary: "list the subjects that may apply VERB to TARGET, directly or through spawns", setup: policyWhoCan, help: targetHelp},
			{name: "can", args: "SUBJECT VERB TARGET", summary: "decide one access (exit 1 when denied)", setup: policyCan, help: targetHelp},
			{name: "flows", args: "--from SEL --to SEL", summary: "information-flow paths: the shortest, or all simple ones up to a depth (exit 1 when none)", setup: policyFlows, help: policyFlowsHelp},
			{name: "blast-radius", args: "SUBJECT | --all", summary: "what an attacker controls after compromising a compartment or role", setup: policyBlast, help: policyBlastHelp},
			{name: "diff", args: "OLD NEW", summary: "semantic diff for code review: access, flows, blast radius, invariants", setup: policyDiff, help: policyDiffHelp},
			{name: "test", args: "FILE [POLICY...]", summary: "run policy unit tests (exit 1 when one fails)", setup: policyTest, help: policyTestHelp},
			{name: "compile", args: "--target selinux|systemd PATH...", summary: "compile a policy to SELinux CIL (and a binary policy) or systemd hardening drop-ins", setup: policyCompile, help: policyCompileHelp},
		},
	}
}

const policyCheckHelp = `
PATH is a directory of .hcl files (files ending in _test.hcl are skipped) or
a file; several paths form one policy. Load errors are printed as
file:line:col with a hint and exit with status 2.`

const targetHelp = `
TARGET is an absolute path (resolved to the resource that governs it), a
port written tcp/443, udp/53 or vsock/19090, or the name of a compartment
(signal, ptrace, spawn, map-exec), resource or channel. The policy is read
from --policy (default: the current directory).`

const policyFlowsHelp = `
SEL is a selector as in invariants: a name (replica), a function
(labelled("secret"), network(), tier("untrusted"), executables() ...) or a
list ['["a", "b"]']. A channel stands for both directions. Information moves
from an object to a subject by read, execute, map-exec and ioctl; from a
subject to an object by write, append, create, delete, setattr and ioctl;
through a channel from clients to the server and back; from a parent to
the compartments it spawns; between a role and the compartments it enters.
Paths never pass through a role (a person). Lengths count steps (hops).`

const policyBlastHelp = `
A compromised subject takes over a compartment it can spawn or enter,
ptrace, or whose code or integrity-critical configuration it can alter
(write, append, create, delete, setattr on a resource holding the
compartment's executable, a resource it executes or maps executable, or a
resource labelled integrity-critical it reads); transitively. --all prints
one summary line per compartment and role.`

const policyDiffHelp = `
OLD and NEW are policy directories or files. --fail-on takes a comma list of
new-access, new-flow, blast-radius-growth, invariant (or all) and exits 1
when the diff contains such a change.`

const policyTestHelp = `
FILE holds expect blocks (see docs/policy.md, "Policy unit tests"). The
policy is POLICY if given, else the file's policy attribute, else the
file's directory.`

// pathsFlag collects repeated or comma-separated paths.
type pathsFlag []string

// String implements flag.Value.
func (p *pathsFlag) String() string { return strings.Join(*p, ",") }

// Set implements flag.Value: it appends comma-separated paths.
func (p *pathsFlag) Set(s string) error {
	for _, x := range strings.Split(s, ",") {
		if x != "" {
			*p = append(*p, x)
		}
	}
	return nil
}

// loadError is a policy that failed to load; its diagnostics have been
// printed (exit 2).
type loadError struct{ n int }

// Error says how many problems were reported.
func (e *loadError) Error() string {
	if e.n == 1 {
		return "the policy has 1 error"
	}
	return fmt.Sprintf("the policy has %d errors", e.n)
}

// diagJSON is the machine form of a diagnostic.
type diagJSON struct {
	At      string `json:"at"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func diagsJSON(ds []policy.Diagnostic) []diagJSON {
	out := make([]diagJSON, len(ds))
	for i, d := range ds {
		at := d.Range.Filename
		if d.Range.Start.Line > 0 {
			at = fmt.Sprintf("%s:%d:%d", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column)
		}
		out[i] = diagJSON{At: at, Message: d.Message, Hint: d.Hint}
	}
	return out
}

// reportDiagnostics prints a *policy.Error (stderr, or JSON on stdout)
// and returns the error that exits 2; other errors pass through.
func (c *ctx) reportDiagnostics(err error) error {
	var pe *policy.Error
	if !errors.As(err, &pe) {
		return err
	}
	if c.json {
		if jerr := c.writeJSON(struct {
			Errors []diagJSON `json:"errors"`
		}{diagsJSON(pe.Diagnostics)}); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintln(c.stderr, pe.Error())
	}
	return &loadError{len(pe.Diagnostics)}
}

func (c *ctx) loadPolicy(paths []string) (*analysis.Analyzer, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	p, err := policy.Load(paths...)
	if err != nil {
		return nil, c.reportDiagnostics(err)
	}
	return analysis.New(p), nil
}

func policyFlag(fs *flag.FlagSet) *pathsFlag {
	var p pathsFlag
	fs.Var(&p, "policy", "policy directory or file `PATH`; repeat or separate with commas (default: current directory)")
	return &p
}

func parseVerb(s string) (policy.Verb, error) {
	v, err := policy.ParseVerb(s)
	if err != nil {
		var names []string
		for _, v := range policy.Verbs() {
			names = append(names, v.String())
		}
		return 0, usagef("unknown verb %q: verbs are %s", s, strings.Join(names, ", "))
	}
	return v, nil
}

func policyCheck(fs *flag.FlagSet) func(*ctx, []string) error {
	return func(c *ctx, args []string) error {
		if len(args) == 0 {
			return usagef("name the policy: a directory of .hcl files or files")
		}
		a, err := c.loadPolicy(args)
		if err != nil {
			return err
		}
		r := a.Check()
		if c.json {
			if err := c.writeJSON(r); err != nil {
				return err
			}
		} else {
			printCheck(c.stdout, a.Policy(), r)
		}
		if r.Failed() {
			return &failure{}
		}
		return nil
	}
}

func printCheck(w io.Writer, p *policy.Policy, r *analysis.CheckResult) {
	failed := 0
	for _, i := range r.Invariants {
		if !i.Holds {
			failed++
		}
	}
	name := p.Name
	if name == "" {
		name = strings.Join(p.Files, " ")
	}
	fmt.Fprintf(w, "policy %s: %d compartments, %d roles, %d resources, %d channels; %d invariants, %d violated\n\n",
		name, len(p.Compartments), len(p.Roles), len(p.Resources), len(p.Channels), len(r.Invariants), failed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tINVARIANT\tFORM\tVIOLATIONS\tAT")
	for _, i := range r.Invariants {
		st := "ok"
		if !i.Holds {
			st = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", st, i.Name, i.Form, len(i.Violations), i.At)
	}
	tw.Flush()
	for _, i := range r.Invariants {
		if i.Holds {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s, %s)", i.Name, i.Form, i.At)
		if i.Description != "" {
			fmt.Fprintf(w, ": %s", i.Description)
		}
		fmt.Fprintln(w)
		for _, v := range i.Violations {
			fmt.Fprintf(w, "  counterexample: %s\n", v.Counterexample)
			switch {
			case v.Path != nil && (v.Form == "no_flow" || v.Form == "deny_spawn"):
				printSteps(w, "    ", *v.Path)
			default:
				for _, at := range v.At {
					fmt.Fprintf(w, "    at %s\n", at)
				}
			}
		}
	}
}

// printSteps prints a path one step per line with positions.
func printSteps(w io.Writer, indent string, p analysis.Path) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, st := range p.Steps {
		fmt.Fprintf(tw, "%s%s -[%s]-> %s\t%s\n", indent, p.Nodes[i], st.Via, p.Nodes[i+1], st.At)
	}
	tw.Flush()
}

func policyWhoCan(fs *flag.FlagSet) func(*ctx, []string) error {
	paths := policyFlag(fs)
	direct := fs.Bool("direct", false, "only direct grants (not through spawns and enters)")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 2, 2, "VERB TARGET"); err != nil {
			return err
		}
		v, err := parseVerb(args[0])
		if err != nil {
			return err
		}
		a, err := c.loadPolicy(*paths)
		if err != nil {
			return err
		}
		r, err := a.WhoCan(v, args[1])
		if err != nil {
			return usagef("%v", err)
		}
		if *direct {
			var keep []analysis.Grant
			for _, g := range r.Grants {
				if g.Allowed {
					keep = append(keep, g)
				}
			}
			r.Grants = keep
		}
		if c.json {
			return c.writeJSON(r)
		}
		printTarget(c.stdout, r)
		if len(r.Grants) == 0 {
			fmt.Fprintln(c.stdout, "nobody")
			return nil
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SUBJECT\tKIND\tACCESS\tBY")
		for _, g := range r.Grants {
			if g.Allowed {
				for i, rule := range g.Rules {
					if i == 0 {
						fmt.Fprintf(tw, "%s\t%s\tdirect\t%s\n", g.Subject, g.Kind, rule)
					} else {
						fmt.Fprintf(tw, "\t\t\t%s\n", rule)
					}
				}
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\tvia\t%s\n", g.Subject, g.Kind, g.Via.Verbose())
		}
		return tw.Flush()
	}
}

func printTarget(w io.Writer, r *analysis.AccessResult) {
	switch {
	case r.Object == "":
		fmt.Fprintf(w, "%s %s: %s\n", r.Verb, r.Target, r.Reason)
	case r.Glob != "":
		fmt.Fprintf(w, "%s %s: %s %s (glob %s)\n", r.Verb, r.Target, r.Kind, r.Object, r.Glob)
	default:
		fmt.Fprintf(w, "%s %s: %s %s\n", r.Verb, r.Target, r.Kind, r.Object)
	}
}

func policyCan(fs *flag.FlagSet) func(*ctx, []string) error {
	paths := policyFlag(fs)
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 3, 3, "SUBJECT VERB TARGET"); err != nil {
			return err
		}
		v, err := parseVerb(args[1])
		if err != nil {
			return err
		}
		a, err := c.loadPolicy(*paths)
		if err != nil {
			return err
		}
		r, err := a.Can(args[0], v, args[2])
		if err != nil {
			return usagef("%v", err)
		}
		g := r.Grants[0]
		if c.json {
			if err := c.writeJSON(r); err != nil {
				return err
			}
		} else {
			verdict := "deny"
			if g.Allowed {
				verdict = "allow"
			}
			fmt.Fprintf(c.stdout, "%s: %s\n", verdict, r.Reason)
			for _, rule := range g.Rules {
				fmt.Fprintf(c.stdout, "  by %s\n", rule)
			}
			if g.Via != nil {
				fmt.Fprintf(c.stdout, "  but %s can obtain it: %s\n", g.Subject, g.Via.Verbose())
			}
		}
		if !g.Allowed {
			return &failure{}
		}
		return nil
	}
}

func policyFlows(fs *flag.FlagSet) func(*ctx, []string) error {
	paths := policyFlag(fs)
	from := fs.String("from", "", "selector `SEL` of the sources (required)")
	to := fs.String("to", "", "selector `SEL` of the destinations (required)")
	avoid := fs.String("avoid", "", "selector `SEL` of compartments the paths must not pass through")
	all := fs.Bool("all", false, "list every simple path up to --depth steps instead of the shortest")
	depth := fs.Int("depth", 4, "with --all: maximum number of steps `N`")
	limit := fs.Int("limit", 100, "with --all: maximum number of paths `N`")
	dot := fs.Bool("dot", false, "print a Graphviz digraph of the paths")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 0, "(none: use --from and --to)"); err != nil {
			return err
		}
		if *from == "" || *to == "" {
			return usagef("--from and --to are required")
		}
		if *depth < 1 || *limit < 1 {
			return usagef("--depth and --limit must be positive")
		}
		a, err := c.loadPolicy(*paths)
		if err != nil {
			return err
		}
		p := a.Policy()
		q := analysis.FlowQuery{MaxDepth: *depth, Limit: *limit}
		if q.From, err = p.ParseSelector(*from, "--from", policy.AllEntities); err != nil {
			return c.selectorError(err)
		}
		if q.To, err = p.ParseSelector(*to, "--to", policy.AllEntities); err != nil {
			return c.selectorError(err)
		}
		if *avoid != "" {
			if q.Avoid, err = p.ParseSelector(*avoid, "--avoid", policy.EntityKinds(policy.EntityCompartment)); err != nil {
				return c.selectorError(err)
			}
		}
		var paths []analysis.Path
		truncated := false
		if *all {
			paths, truncated = a.AllFlows(q)
		} else if path, ok := a.ShortestFlow(q); ok {
			paths = []analysis.Path{path}
		}
		switch {
		case *dot:
			if err := a.WriteDOT(c.stdout, fmt.Sprintf("flows from %s to %s", *from, *to), paths); err != nil {
				return err
			}
		case c.json:
			if paths == nil {
				paths = []analysis.Path{}
			}
			if err := c.writeJSON(struct {
				From      string          `json:"from"`
				To        string          `json:"to"`
				Paths     []analysis.Path `json:"paths"`
				Truncated bool            `json:"truncated"`
			}{*from, *to, paths, truncated}); err != nil {
				return err
			}
		default:
			if len(paths) == 0 {
				fmt.Fprintf(c.stdout, "no flow from %s to %s\n", *from, *to)
			}
			for i, path := range paths {
				if i > 0 {
					fmt.Fprintln(c.stdout)
				}
				fmt.Fprintf(c.stdout, "%s  (%d steps)\n", path, path.Len())
				printSteps(c.stdout, "  ", path)
			}
			if truncated {
				fmt.Fprintf(c.stdout, "\n(more than %d paths; raise --limit)\n", *limit)
			}
		}
		if len(paths) == 0 {
			return &failure{}
		}
		return nil
	}
}

// selectorError reports a bad selector given on the command line (exit 2).
func (c *ctx) selectorError(err error) error {
	var pe *policy.Error
	if errors.As(err, &pe) && len(pe.Diagnostics) > 0 {
		d := pe.Diagnostics[0]
		msg := d.Message
		if d.Hint != "" {
			msg += " (" + d.Hint + ")"
		}
		if !strings.HasPrefix(msg, d.Range.Filename) {
			msg = d.Range.Filename + ": " + msg
		}
		return usagef("%s", msg)
	}
	return usagef("%v", err)
}

func policyBlast(fs *flag.FlagSet) func(*ctx, []string) error {
	paths := policyFlag(fs)
	all := fs.Bool("all", false, "summarise the blast radius of every compartment and role")
	dot := fs.Bool("dot", false, "print a Graphviz digraph of the blast radius")
	return func(c *ctx, args []string) error {
		if *all {
			if len(args) != 0 || *dot {
				return usagef("--all takes no SUBJECT and no --dot")
			}
		} else if err := wantArgs(args, 1, 1, "SUBJECT"); err != nil {
			return err
		}
		a, err := c.loadPolicy(*paths)
		if err != nil {
			return err
		}
		if *all {
			sums := a.BlastRadii()
			if c.json {
				return c.writeJSON(sums)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "SUBJECT\tKIND\tTAKES OVER\tREADS\tSECRET\tALTERS\tCRITICAL\tEXECUTES\tFEEDS\tNETWORK\t")
			for _, s := range sums {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", s.Subject, s.Kind, s.TakenOver, s.Read, s.Secret, s.Alter, s.Critical, s.Execute, s.Fed, s.Network)
			}
			return tw.Flush()
		}
		br, err := a.BlastRadius(args[0])
		if err != nil {
			return usagef("%v", err)
		}
		switch {
		case *dot:
			return a.WriteBlastDOT(c.stdout, br)
		case c.json:
			return c.writeJSON(br)
		}
		printBlast(c.stdout, br)
		return nil
	}
}

func printBlast(w io.Writer, br *analysis.BlastRadius) {
	fmt.Fprintf(w, "blast radius of %s %s\n", br.Kind, br.Subject)
	fmt.Fprintf(w, "\ntakes over (%d):\n", len(br.TakenOver))
	for _, t := range br.TakenOver {
		fmt.Fprintf(w, "  %s\n", t.Compartment)
		printSteps(w, "    ", t.Path)
	}
	reaches := func(title string, rs []analysis.Reach) {
		fmt.Fprintf(w, "\n%s (%d):\n", title, len(rs))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range rs {
			mark := ""
			if r.Secret() {
				mark = "SECRET "
			}
			labels := ""
			if len(r.Labels) > 0 {
				labels = "[" + strings.Join(r.Labels, ",") + "]"
			}
			var by []string
			for _, h := range r.By {
				by = append(by, h.Subject+" ("+strings.Join(h.Verbs, ",")+")")
			}
			fmt.Fprintf(tw, "  %s%s\t%s\t%s\tby %s\n", mark, r.Object, r.Kind, labels, strings.Join(by, ", "))
		}
		tw.Flush()
	}
	reaches("confidentiality: reads", br.Read)
	reaches("integrity: alters", br.Alter)
	reaches("executes", br.Execute)
	if len(br.Execmem) > 0 {
		fmt.Fprintf(w, "  anonymous executable memory in: %s\n", strings.Join(br.Execmem, ", "))
	}
	fmt.Fprintf(w, "\nchannels (%d):\n", len(br.Channels))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ch := range br.Channels {
		net := ""
		if ch.Network {
			net = "NETWORK"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\tas %s\tby %s\n", ch.Channel, ch.Protocol, net, strings.Join(ch.As, ","), strings.Join(ch.By, ","))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nfeeds input to (%d):\n", len(br.Fed))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range br.Fed {
		fmt.Fprintf(tw, "  %s\t%s\t%s %s\tby %s\n", f.Subject, f.Kind, f.How, f.Via, f.By)
	}
	tw.Flush()
	if len(br.Signal) > 0 {
		fmt.Fprintf(w, "\ncan signal: %s\n", strings.Join(br.Signal, ", "))
	}
	if len(br.Capabilities) > 0 {
		fmt.Fprintln(w, "\ncapabilities:")
		for _, h := range br.Capabilities {
			fmt.Fprintf(w, "  %s (%s)\n", h.Capability, h.Compartment)
		}
	}
}

func policyDiff(fs *flag.FlagSet) func(*ctx, []string) error {
	failOn := fs.String("fail-on", "", "exit 1 on these changes: comma `LIST` of new-access, new-flow, blast-radius-growth, invariant, all")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 2, 2, "OLD NEW"); err != nil {
			return err
		}
		gates, err := analysis.ParseFailOn(*failOn)
		if err != nil {
			return usagef("%v", err)
		}
		oldA, err := c.loadPolicy(strings.Split(args[0], ","))
		if err != nil {
			return err
		}
		newA, err := c.loadPolicy(strings.Split(args[1], ","))
		if err != nil {
			return err
		}
		d := analysis.Diff(oldA, newA)
		fails := d.Failures(gates)
		if c.json {
			if err := c.writeJSON(struct {
				*analysis.DiffResult
				Failures []string `json:"failures"`
			}{d, fails}); err != nil {
				return err
			}
		} else {
			printDiff(c.stdout, d)
			for _, f := range fails {
				fmt.Fprintf(c.stdout, "FAIL %s\n", f)
			}
		}
		if len(fails) > 0 {
			return &failure{}
		}
		return nil
	}
}

func printDiff(w io.Writer, d *analysis.DiffResult) {
	fmt.Fprintf(w, "access changes (%d):\n", len(d.Access))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range d.Access {
		var parts []string
		if len(a.Added) > 0 {
			parts = append(parts, "+"+strings.Join(a.Added, ",+"))
		}
		if len(a.Removed) > 0 {
			parts = append(parts, "-"+strings.Join(a.Removed, ",-"))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Subject, a.Object, strings.Join(parts, " "), strings.Join(a.At, " "))
	}
	tw.Flush()
	flows := func(sign string, fs []analysis.FlowChange) {
		for _, f := range fs {
			if f.Path != nil {
				fmt.Fprintf(w, "  %s %s -> %s: %s\n", sign, f.From, f.To, f.Path.Verbose())
			} else {
				fmt.Fprintf(w, "  %s %s -> %s\n", sign, f.From, f.To)
			}
		}
	}
	fmt.Fprintf(w, "\nflows added (%d), removed (%d):\n", d.FlowsAddedTotal, d.FlowsRemovedTotal)
	flows("+", d.FlowsAdded)
	flows("-", d.FlowsRemoved)
	if d.FlowsAddedTotal > len(d.FlowsAdded) || d.FlowsRemovedTotal > len(d.FlowsRemoved) {
		fmt.Fprintln(w, "  (lists truncated; --json has the totals)")
	}
	fmt.Fprintf(w, "\nblast radius changes (%d):\n", len(d.Blast))
	for _, b := range d.Blast {
		fmt.Fprintf(w, "  %s (%s)\n", b.Subject, b.Status)
		for _, part := range []struct {
			what           string
			added, removed []string
		}{
			{"takes over", b.TakenOverAdded, b.TakenOverRemoved},
			{"reads", b.ReadAdded, b.ReadRemoved},
			{"alters", b.AlterAdded, b.AlterRemoved},
			{"executes", b.ExecuteAdded, b.ExecuteRemoved},
			{"channels", b.ChannelsAdded, b.ChannelsRemoved},
			{"feeds", b.FedAdded, b.FedRemoved},
		} {
			if len(part.added) > 0 {
				fmt.Fprintf(w, "    + %s %s\n", part.what, strings.Join(part.added, ", "))
			}
			if len(part.removed) > 0 {
				fmt.Fprintf(w, "    - %s %s\n", part.what, strings.Join(part.removed, ", "))
			}
		}
	}
	fmt.Fprintf(w, "\ninvariants: %d new violations, %d fixed\n", len(d.NewViolations), len(d.Fixed))
	for _, v := range d.NewViolations {
		fmt.Fprintf(w, "  + %s: %s\n", v.Invariant, v.Counterexample)
	}
	for _, v := range d.Fixed {
		fmt.Fprintf(w, "  - %s: %s\n", v.Invariant, v.Counterexample)
	}
	for _, i := range d.Invariants {
		fmt.Fprintf(w, "  %s: %s -> %s\n", i.Name, i.Old, i.New)
	}
}

func policyTest(fs *flag.FlagSet) func(*ctx, []string) error {
	return func(c *ctx, args []string) error {
		if len(args) == 0 {
			return usagef("name the test file")
		}
		f, err := policytest.ParseFile(args[0])
		if err != nil {
			return c.reportDiagnostics(err)
		}
		paths := args[1:]
		if len(paths) == 0 {
			paths = f.PolicyPaths()
		}
		a, err := c.loadPolicy(paths)
		if err != nil {
			return err
		}
		res, err := policytest.Run(a, f)
		if err != nil {
			return c.reportDiagnostics(err)
		}
		failed := 0
		for _, r := range res {
			if !r.Passed {
				failed++
			}
		}
		if c.json {
			if err := c.writeJSON(struct {
				File   string              `json:"file"`
				Passed int                 `json:"passed"`
				Failed int                 `json:"failed"`
				Tests  []policytest.Result `json:"tests"`
			}{f.Name, len(res) - failed, failed, res}); err != nil {
				return err
			}
		} else {
			for _, r := range res {
				st := "ok  "
				if !r.Passed {
					st = "FAIL"
				}
				fmt.Fprintf(c.stdout, "%s %s (%s)\n", st, r.Test, r.At)
				for _, f := range r.Failures {
					fmt.Fprintf(c.stdout, "     %s\n", f)
				}
			}
			fmt.Fprintf(c.stdout, "%d passed, %d failed\n", len(res)-failed, failed)
		}
		if failed > 0 {
			return &failure{}
		}
		return nil
	}
}
