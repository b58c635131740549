package policy

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// ParseSelector parses a selector written as in an invariant: a quoted or
// bare entity name ("replica" or replica), a selector function
// (labelled("secret"), network(), tier("untrusted") …) or a list of
// those, and checks it against p. domain restricts the entity kinds it may
// select; what names the selector in messages ("--from"). Errors are
// *Error values with positions in src (file name "<what>").
func (p *Policy) ParseSelector(src, what string, domain EntityKinds) (Selector, error) {
	if validName(src) {
		// A bare name: quote it, so "replica" and replica mean the same.
		src = quote(src)
	}
	expr, hd := hclsyntax.ParseExpression([]byte(src), what, hcl.InitialPos)
	if hd.HasErrors() {
		var ds diags
		ds.addHCL(hd)
		return Selector{}, ds.err()
	}
	return p.SelectorExpr(expr, what, "", domain)
}

// SelectorExpr decodes a selector from an HCL expression (for files that
// embed selectors, such as policy unit tests) and checks it against p:
// every term must be valid and select something. attr and owner name it
// in messages ("from of expect \"x\"" is attr "from", owner
// `expect "x"`; owner may be empty). Errors are *Error values positioned
// at the expression.
func (p *Policy) SelectorExpr(expr hcl.Expression, attr, owner string, domain EntityKinds) (Selector, error) {
	l := &loader{p: p, declared: make(map[string]declared, len(p.idx.entities)), labels: make(map[Label]hcl.Range)}
	for n, e := range p.idx.entities {
		l.declared[n] = declared{kind: e.Kind}
	}
	for _, d := range p.Labels {
		l.labels[d.Name] = d.Range
	}
	s := l.selector(&hcl.Attribute{Name: attr, Expr: expr, Range: expr.Range(), NameRange: expr.Range()}, domain)
	if len(l.ds) == 0 {
		holder := owner
		if holder == "" {
			holder = "the query"
		}
		l.checkSelector(attr, holder, owner, s)
	}
	if len(l.ds) > 0 {
		return Selector{}, l.ds.err()
	}
	return s, nil
}

// String formats s as written: one term, or a list of terms.
func (s Selector) String() string {
	if len(s.Terms) == 1 {
		return s.Terms[0].String()
	}
	out := "["
	for i, t := range s.Terms {
		if i > 0 {
			out += ", "
		}
		out += t.String()
	}
	return out + "]"
}

// NameSelector returns a selector of the named entities (no checks).
func NameSelector(domain EntityKinds, names ...string) Selector {
	s := Selector{Domain: domain}
	for _, n := range names {
		s.Terms = append(s.Terms, Term{Func: TermName, Args: []string{n}})
	}
	return s
}
