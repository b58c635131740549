// Package policytest runs policy unit tests: HCL files of expectations
// about a policy (access allowed or denied, information flows present or
// absent, blast radius contents), checked with package analysis.
//
// A test file looks like this (docs/policy.md, "Policy unit tests"):
//
//	policy = ["."]   # optional: policy paths, relative to this file
//
//	expect "the canister sandbox cannot read keys" {
//	  deny {
//	    subject = "canister_sandbox"
//	    verb    = "read"
//	    path    = "/var/lib/ic/crypto/public_keys.pb"
//	  }
//	  no_flow {
//	    from           = "node_keys"
//	    to             = network()
//	    except_through = ["crypto_vault"]
//	  }
//	  blast_radius {
//	    of       = "canister_sandbox"
//	    excludes = ["node_keys", "crypto_vault"]
//	  }
//	}
//
// Check blocks are allow and deny (subject, verb, and one of path, port
// such as "tcp/443", or object naming a compartment, resource or channel),
// flow and no_flow (from, to, except_through selectors as in invariants;
// flow may bound max_steps), and blast_radius (of, with lists contains and
// excludes, which look at the compromised set and what it reads, alters,
// executes or uses, and takes_over, reads, alters, executes, feeds, which
// look at one part each). Errors carry file:line:col.
package policytest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rampart-sec/rampart/analysis"
	"github.com/rampart-sec/rampart/policy"
	"github.com/zclconf/go-cty/cty"
)

// File is a parsed test file.
type File struct {
	// Name is the file name as given.
	Name string
	// Policy lists the policy paths named by the file's policy attribute,
	// relative to the file's directory (empty when absent).
	Policy []string
	Tests  []*Test
}

// Test is one expect block.
type Test struct {
	Name        string
	Description string
	Checks      []*Check
	Range       hcl.Range
}

// Kind is the kind of a check block.
type Kind uint8

// Check kinds.
const (
	Allow Kind = iota + 1
	Deny
	Flow
	NoFlow
	BlastRadius
)

var kindNames = map[string]Kind{"allow": Allow, "deny": Deny, "flow": Flow, "no_flow": NoFlow, "blast_radius": BlastRadius}

// String returns the block type.
func (k Kind) String() string {
	switch k {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Flow:
		return "flow"
	case NoFlow:
		return "no_flow"
	case BlastRadius:
		return "blast_radius"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Check is one expectation.
type Check struct {
	Kind  Kind
	Range hcl.Range

	// Allow and Deny: Subject may (not) apply Verb to Target, an
	// absolute path, a port ("tcp/443") or an entity name.
	Subject string
	Verb    policy.Verb
	Target  string

	// Flow and NoFlow: selectors, decoded against the policy when run.
	From, To, ExceptThrough hcl.Expression
	// MaxSteps bounds a Flow's shortest path (0: any length).
	MaxSteps int

	// BlastRadius: the subject Of and the expected members. Contains and
	// Excludes use BlastRadius.Contains (the compromised set and what it
	// reads, alters, executes or uses); the others look at one part each.
	Of                                                     string
	Contains, Excludes, TakesOver, Reads, Alters, Executes []string
	Feeds                                                  []string

	attrs hcl.Attributes
}

var (
	fileSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "policy"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "expect", LabelNames: []string{"name"}}},
	}
	expectSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "description"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "allow"}, {Type: "deny"}, {Type: "flow"}, {Type: "no_flow"}, {Type: "blast_radius"},
		},
	}
	accessSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "subject", Required: true}, {Name: "verb", Required: true}, {Name: "path"}, {Name: "port"}, {Name: "object"},
	}}
	flowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "from", Required: true}, {Name: "to", Required: true}, {Name: "except_through"}, {Name: "max_steps"},
	}}
	blastSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "of", Required: true}, {Name: "contains"}, {Name: "excludes"}, {Name: "takes_over"},
		{Name: "reads"}, {Name: "alters"}, {Name: "executes"}, {Name: "feeds"},
	}}
)

// diags collects diagnostics in policy's format.
type diags []policy.Diagnostic

func (ds *diags) add(r hcl.Range, hint, format string, a ...any) {
	*ds = append(*ds, policy.Diagnostic{Range: r, Message: fmt.Sprintf(format, a...), Hint: hint})
}

func (ds *diags) addHCL(hd hcl.Diagnostics) {
	for _, d := range hd {
		if d.Severity != hcl.DiagError {
			continue
		}
		var r hcl.Range
		if d.Subject != nil {
			r = *d.Subject
		}
		msg := strings.TrimSuffix(d.Summary, ".")
		if len(msg) > 1 && msg[0] >= 'A' && msg[0] <= 'Z' && !(msg[1] >= 'A' && msg[1] <= 'Z') {
			msg = string(msg[0]+'a'-'A') + msg[1:]
		}
		*ds = append(*ds, policy.Diagnostic{Range: r, Message: msg, Hint: strings.Join(strings.Fields(d.Detail), " ")})
	}
}

func (ds diags) err() error {
	if len(ds) == 0 {
		return nil
	}
	return &policy.Error{Diagnostics: ds}
}

// ParseFile reads and parses a test file.
func ParseFile(name string) (*File, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		var ds diags
		ds.add(hcl.Range{Filename: name}, "", "cannot read tests: %v", err)
		return nil, ds.err()
	}
	return Parse(name, src)
}

// Parse parses a test file held in memory. Failures are *policy.Error
// values listing every problem with its position.
func Parse(name string, src []byte) (*File, error) {
	var ds diags
	f, hd := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	ds.addHCL(hd)
	if hd.HasErrors() {
		return nil, ds.err()
	}
	content, hd := f.Body.Content(fileSchema)
	ds.addHCL(hd)
	out := &File{Name: name}
	if attr := content.Attributes["policy"]; attr != nil {
		for _, s := range stringList(&ds, attr) {
			if s == "" {
				ds.add(attr.Expr.Range(), "give directories or .hcl files relative to the test file", "empty policy path")
				continue
			}
			out.Policy = append(out.Policy, s)
		}
	}
	seen := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		t := &Test{Name: b.Labels[0], Range: b.DefRange}
		if prev, dup := seen[t.Name]; dup {
			ds.add(b.LabelRanges[0], "give each expect block its own name", "expect %q already declared at %s:%d:%d", t.Name, prev.Filename, prev.Start.Line, prev.Start.Column)
		}
		seen[t.Name] = b.DefRange
		c, hd := b.Body.Content(expectSchema)
		ds.addHCL(hd)
		if attr := c.Attributes["description"]; attr != nil {
			t.Description = stringValue(&ds, attr.Expr, "description")
		}
		if len(c.Blocks) == 0 {
			ds.add(b.DefRange, "add allow, deny, flow, no_flow or blast_radius blocks", "expect %q checks nothing", t.Name)
		}
		for _, cb := range c.Blocks {
			if ck := parseCheck(&ds, cb); ck != nil {
				t.Checks = append(t.Checks, ck)
			}
		}
		out.Tests = append(out.Tests, t)
	}
	if len(out.Tests) == 0 && len(ds) == 0 {
		ds.add(hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}, "add expect \"name\" { … } blocks", "no tests")
	}
	if err := ds.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseCheck(ds *diags, b *hcl.Block) *Check {
	ck := &Check{Kind: kindNames[b.Type], Range: b.DefRange}
	switch ck.Kind {
	case Allow, Deny:
		c, hd := b.Body.Content(accessSchema)
		ds.addHCL(hd)
		if hd.HasErrors() {
			return nil
		}
		a := c.Attributes
		ck.attrs = a
		ck.Subject = stringValue(ds, a["subject"].Expr, "subject")
		vs := stringValue(ds, a["verb"].Expr, "verb")
		if v, err := policy.ParseVerb(vs); err != nil {
			ds.add(a["verb"].Expr.Range(), "verbs are read, write, append, create, delete, setattr, ioctl, execute, map-exec, connect, bind, listen, signal, ptrace, spawn", "unknown verb %q", vs)
		} else {
			ck.Verb = v
		}
		var given []string
		for _, n := range []string{"path", "port", "object"} {
			if attr := a[n]; attr != nil {
				given = append(given, n)
				ck.Target = stringValue(ds, attr.Expr, n)
				if n == "path" && !strings.HasPrefix(ck.Target, "/") {
					ds.add(attr.Expr.Range(), "paths are absolute", "relative path %q", ck.Target)
				}
				if n == "port" {
					if _, _, found := strings.Cut(ck.Target, "/"); !found || strings.HasPrefix(ck.Target, "/") {
						ds.add(attr.Expr.Range(), "write the protocol and the port, e.g. \"tcp/443\"", "invalid port %q", ck.Target)
					}
				}
			}
		}
		if len(given) != 1 {
			ds.add(b.DefRange, "give exactly one of path, port or object", "%s needs one target, found %d", b.Type, len(given))
		}
	case Flow, NoFlow:
		c, hd := b.Body.Content(flowSchema)
		ds.addHCL(hd)
		if hd.HasErrors() {
			return nil
		}
		ck.attrs = c.Attributes
		ck.From, ck.To = c.Attributes["from"].Expr, c.Attributes["to"].Expr
		if attr := c.Attributes["except_through"]; attr != nil {
			ck.ExceptThrough = attr.Expr
		}
		if attr := c.Attributes["max_steps"]; attr != nil {
			if ck.Kind != Flow {
				ds.add(attr.NameRange, "max_steps bounds the length of an expected flow", "max_steps in no_flow")
			}
			v, hd := attr.Expr.Value(nil)
			ds.addHCL(hd)
			if !hd.HasErrors() {
				n, ok := wholeNumber(v)
				if !ok || n < 1 || n > 1000 {
					ds.add(attr.Expr.Range(), "give a number of steps from 1 to 1000", "invalid max_steps")
				}
				ck.MaxSteps = n
			}
		}
	case BlastRadius:
		c, hd := b.Body.Content(blastSchema)
		ds.addHCL(hd)
		if hd.HasErrors() {
			return nil
		}
		a := c.Attributes
		ck.attrs = a
		ck.Of = stringValue(ds, a["of"].Expr, "of")
		lists := map[string]*[]string{"contains": &ck.Contains, "excludes": &ck.Excludes, "takes_over": &ck.TakesOver,
			"reads": &ck.Reads, "alters": &ck.Alters, "executes": &ck.Executes, "feeds": &ck.Feeds}
		n := 0
		for name, dst := range lists {
			if attr := a[name]; attr != nil {
				*dst = stringList(ds, attr)
				n++
			}
		}
		if n == 0 {
			ds.add(b.DefRange, "add contains, excludes, takes_over, reads, alters, executes or feeds", "blast_radius expects nothing")
		}
	}
	return ck
}

func wholeNumber(v cty.Value) (int, bool) {
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, false
	}
	n, _ := bf.Int64()
	if n < 0 || n > 1<<30 {
		return 0, false
	}
	return int(n), true
}

func stringValue(ds *diags, e hcl.Expression, what string) string {
	v, hd := e.Value(nil)
	ds.addHCL(hd)
	if hd.HasErrors() {
		return ""
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		ds.add(e.Range(), "write a quoted string", "%s: expected a string", what)
		return ""
	}
	return v.AsString()
}

func stringList(ds *diags, attr *hcl.Attribute) []string {
	t, ok := attr.Expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		ds.add(attr.Expr.Range(), "write a list in brackets, e.g. [\"a\", \"b\"]", "%s: expected a list", attr.Name)
		return nil
	}
	var out []string
	for _, e := range t.Exprs {
		out = append(out, stringValue(ds, e, attr.Name+" element"))
	}
	return out
}

// PolicyPaths returns the policy paths the file names, resolved against
// its directory; with none named, the file's directory.
func (f *File) PolicyPaths() []string {
	dir := filepath.Dir(f.Name)
	if len(f.Policy) == 0 {
		return []string{dir}
	}
	out := make([]string, len(f.Policy))
	for i, p := range f.Policy {
		if filepath.IsAbs(p) {
			out[i] = p
		} else {
			out[i] = filepath.Join(dir, p)
		}
	}
	return out
}

// Result is the outcome of one test.
type Result struct {
	Test   string `json:"test"`
	At     string `json:"at"`
	Passed bool   `json:"passed"`
	// Failures explain each failed check, prefixed with its position.
	Failures []string `json:"failures,omitempty"`
}

// Run runs every test of f against a. Problems that are the test file's
// fault (unknown names, selectors that select nothing) are returned as a
// *policy.Error with positions in the test file; failed expectations are
// Results with Passed false.
func Run(a *analysis.Analyzer, f *File) ([]Result, error) {
	var ds diags
	var out []Result
	for _, t := range f.Tests {
		r := Result{Test: t.Name, At: at(t.Range), Passed: true}
		for _, ck := range t.Checks {
			msg := runCheck(a, &ds, t, ck)
			if msg != "" {
				r.Passed = false
				r.Failures = append(r.Failures, at(ck.Range)+": "+ck.Kind.String()+": "+msg)
			}
		}
		out = append(out, r)
	}
	if err := ds.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func at(r hcl.Range) string { return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column) }

// runCheck returns "" when ck holds, else why not. Test-file errors go to
// ds.
func runCheck(a *analysis.Analyzer, ds *diags, t *Test, ck *Check) string {
	p := a.Policy()
	owner := fmt.Sprintf("expect %q", t.Name)
	switch ck.Kind {
	case Allow, Deny:
		if e, ok := p.Entity(ck.Subject); !ok || (e.Kind != policy.EntityCompartment && e.Kind != policy.EntityRole) {
			ds.add(ck.attrs["subject"].Expr.Range(), "name a compartment or role of the policy", "unknown subject %q", ck.Subject)
			return ""
		}
		d, err := a.Decide(ck.Subject, ck.Verb, ck.Target)
		if err != nil {
			rng := ck.Range
			for _, n := range []string{"path", "port", "object"} {
				if attr := ck.attrs[n]; attr != nil {
					rng = attr.Expr.Range()
				}
			}
			ds.add(rng, "give an absolute path, a port such as \"tcp/443\", or an entity of the policy", "%v", err)
			return ""
		}
		switch {
		case ck.Kind == Allow && !d.Allowed:
			return "denied: " + d.Reason
		case ck.Kind == Deny && d.Allowed:
			msg := "allowed: " + d.Reason
			for _, r := range d.Rules {
				msg += "; by " + r.String()
			}
			return msg
		}
	case Flow, NoFlow:
		q := analysis.FlowQuery{}
		var err error
		bad := false
		if q.From, err = p.SelectorExpr(ck.From, "from", owner, policy.AllEntities); err != nil {
			addErr(ds, err)
			bad = true
		}
		if q.To, err = p.SelectorExpr(ck.To, "to", owner, policy.AllEntities); err != nil {
			addErr(ds, err)
			bad = true
		}
		if ck.ExceptThrough != nil {
			if q.Avoid, err = p.SelectorExpr(ck.ExceptThrough, "except_through", owner, policy.EntityKinds(policy.EntityCompartment)); err != nil {
				addErr(ds, err)
				bad = true
			}
		}
		if bad {
			return ""
		}
		path, found := a.ShortestFlow(q)
		switch {
		case ck.Kind == Flow && !found:
			return "no flow"
		case ck.Kind == Flow && ck.MaxSteps > 0 && path.Len() > ck.MaxSteps:
			return fmt.Sprintf("shortest flow has %d steps, more than %d: %s", path.Len(), ck.MaxSteps, path.Verbose())
		case ck.Kind == NoFlow && found:
			return "flow: " + path.Verbose()
		}
	case BlastRadius:
		br, err := a.BlastRadius(ck.Of)
		if err != nil {
			ds.add(ck.attrs["of"].Expr.Range(), "name a compartment or role of the policy", "%v", err)
			return ""
		}
		for _, lists := range [][]string{ck.Contains, ck.Excludes, ck.TakesOver, ck.Reads, ck.Alters, ck.Executes, ck.Feeds} {
			for _, n := range lists {
				if _, ok := p.Entity(n); !ok {
					ds.add(ck.Range, "name entities of the policy", "blast_radius names unknown entity %q", n)
					return ""
				}
			}
		}
		var why []string
		need := func(what string, names []string, has func(string) bool) {
			for _, n := range names {
				if !has(n) {
					why = append(why, fmt.Sprintf("%s %s", what, n))
				}
			}
		}
		need("does not contain", ck.Contains, br.Contains)
		for _, n := range ck.Excludes {
			if br.Contains(n) {
				why = append(why, "contains "+n+explain(br, n))
			}
		}
		taken := func(n string) bool {
			for _, t := range br.TakenOver {
				if t.Compartment == n {
					return true
				}
			}
			return false
		}
		need("does not take over", ck.TakesOver, taken)
		need("does not read", ck.Reads, func(n string) bool { return hasReach(br.Read, n) })
		need("does not alter", ck.Alters, func(n string) bool { return hasReach(br.Alter, n) })
		need("does not execute", ck.Executes, func(n string) bool { return hasReach(br.Execute, n) })
		need("does not feed", ck.Feeds, func(n string) bool {
			for _, f := range br.Fed {
				if f.Subject == n {
					return true
				}
			}
			return false
		})
		if len(why) > 0 {
			return fmt.Sprintf("blast radius of %s %s", ck.Of, strings.Join(why, "; "))
		}
	}
	return ""
}

func hasReach(rs []analysis.Reach, n string) bool {
	for _, r := range rs {
		if r.Object == n {
			return true
		}
	}
	return false
}

// explain says why n is in the blast radius.
func explain(br *analysis.BlastRadius, n string) string {
	for _, t := range br.TakenOver {
		if t.Compartment == n {
			return " (taken over: " + t.Path.Verbose() + ")"
		}
	}
	for _, set := range []struct {
		what string
		rs   []analysis.Reach
	}{{"read", br.Read}, {"altered", br.Alter}, {"executed", br.Execute}} {
		for _, r := range set.rs {
			if r.Object == n {
				return fmt.Sprintf(" (%s by %s)", set.what, strings.Join(r.Subjects(), ", "))
			}
		}
	}
	for _, c := range br.Channels {
		if c.Channel == n {
			return " (channel used by " + strings.Join(c.By, ", ") + ")"
		}
	}
	for _, f := range br.Fed {
		if f.Subject == n {
			return fmt.Sprintf(" (fed by %s via %s)", f.By, f.Via)
		}
	}
	return ""
}

func addErr(ds *diags, err error) {
	if pe, ok := err.(*policy.Error); ok {
		*ds = append(*ds, pe.Diagnostics...)
		return
	}
	ds.add(hcl.Range{}, "", "%v", err)
}
