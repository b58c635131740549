package policy

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fastParse parses src, which starts at start in filename, into the same
// syntax tree hclsyntax.ParseConfig builds, when src uses only the plain
// subset of HCL that policies are made of: ASCII text without carriage
// returns or backslashes; blocks with quoted or bare labels, each opened
// at the end of a line (or empty, "{}") and closed on a line of its own;
// attributes whose values are quoted strings without template sequences,
// whole numbers, true, false, null, bare names, lists, and function calls
// of those; and comments. It reports false for anything else, and for any
// input hclsyntax would reject or diagnose, and the caller then uses
// hclsyntax. It exists because it is several times faster than hclsyntax
// on large generated policies (no token slice, no template re-lexing);
// FuzzFastParse checks that whenever it accepts an input, its tree is
// deeply equal to hclsyntax's.
func fastParse(src []byte, filename string, start hcl.Pos) (*hclsyntax.Body, bool) {
	for _, c := range src {
		if c != '\n' && c != '\t' && (c < ' ' || c > '~' || c == '\\') {
			return nil, false
		}
	}
	p := &fastParser{src: src, file: filename, line: start.Line, col: start.Column, base: start.Byte}
	body, ok := p.body(true)
	if !ok {
		return nil, false
	}
	return body, true
}

type fastParser struct {
	src       []byte
	file      string
	i         int // offset in src
	line, col int // position of src[i]
	base      int // offset of src[0] in the file
}

func (p *fastParser) pos() hcl.Pos {
	return hcl.Pos{Line: p.line, Column: p.col, Byte: p.base + p.i}
}

func (p *fastParser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

func (p *fastParser) peekAt(k int) byte {
	if p.i+k < len(p.src) {
		return p.src[p.i+k]
	}
	return 0
}

// next consumes one byte.
func (p *fastParser) next() {
	if p.src[p.i] == '\n' {
		p.line++
		p.col = 1
	} else {
		p.col++
	}
	p.i++
}

// token consumes n bytes (no newlines) and returns their range.
func (p *fastParser) token(n int) hcl.Range {
	s := p.pos()
	p.i += n
	p.col += n
	return hcl.Range{Filename: p.file, Start: s, End: p.pos()}
}

func (p *fastParser) skipBlanks() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
		p.col++
	}
}

// lineComment reports whether a # or // comment starts here.
func (p *fastParser) lineComment() bool {
	c := p.peek()
	return c == '#' || c == '/' && p.peekAt(1) == '/'
}

// skipLineComment consumes a line comment and its newline; it returns
// the comment token's range and whether it ended in a newline.
func (p *fastParser) skipLineComment() (hcl.Range, bool) {
	s := p.pos()
	for p.i < len(p.src) && p.src[p.i] != '\n' {
		p.next()
	}
	nl := p.i < len(p.src)
	if nl {
		p.next()
	}
	return hcl.Range{Filename: p.file, Start: s, End: p.pos()}, nl
}

// skipBlockComment consumes a /* */ comment; false if it is not closed.
func (p *fastParser) skipBlockComment() bool {
	p.next()
	p.next()
	for p.i+1 < len(p.src) {
		if p.src[p.i] == '*' && p.src[p.i+1] == '/' {
			p.next()
			p.next()
			return true
		}
		p.next()
	}
	return false
}

// skipAll skips blanks, newlines and comments (inside brackets, where
// hclsyntax ignores newlines).
func (p *fastParser) skipAll() bool {
	for p.i < len(p.src) {
		switch c := p.src[p.i]; {
		case c == ' ' || c == '\t' || c == '\n':
			p.next()
		case p.lineComment():
			p.skipLineComment()
		case c == '/' && p.peekAt(1) == '*':
			if !p.skipBlockComment() {
				return false
			}
		default:
			return true
		}
	}
	return true
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '-' }

// ident consumes an identifier.
func (p *fastParser) ident() (string, hcl.Range) {
	j := p.i
	for j < len(p.src) && isIdentChar(p.src[j]) {
		j++
	}
	s := string(p.src[p.i:j])
	return s, p.token(j - p.i)
}

// firstRange is the range of the token hclsyntax's peeker sees first:
// the first token that is not a comment, where a line comment ending in
// a newline counts as a newline with the comment's range.
func (p *fastParser) firstRange() (hcl.Range, bool) {
	save := *p
	defer func() { *p = save }()
	for {
		p.skipBlanks()
		switch c := p.peek(); {
		case p.i >= len(p.src):
			return p.token(0), true
		case c == '\n':
			s := p.pos()
			p.next()
			return hcl.Range{Filename: p.file, Start: s, End: p.pos()}, true
		case p.lineComment():
			if r, nl := p.skipLineComment(); nl {
				return r, true
			}
		case c == '/' && p.peekAt(1) == '*':
			if !p.skipBlockComment() {
				return hcl.Range{}, false
			}
		case isIdentStart(c):
			_, r := p.ident()
			return r, true
		default:
			return hcl.Range{}, false
		}
	}
}

// body parses a body up to the end of input (top) or its closing brace,
// which it consumes. The caller has consumed the opening brace; start is
// its range.
func (p *fastParser) body(top bool) (*hclsyntax.Body, bool) {
	return p.bodyFrom(top, hcl.Range{})
}

func (p *fastParser) bodyFrom(top bool, open hcl.Range) (*hclsyntax.Body, bool) {
	startRange := open
	if top {
		r, ok := p.firstRange()
		if !ok {
			return nil, false
		}
		startRange = r
	}
	b := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, Blocks: hclsyntax.Blocks{}}
	var end hcl.Range
	for {
		p.skipBlanks()
		c := p.peek()
		switch {
		case p.i >= len(p.src):
			if !top {
				return nil, false
			}
			end = p.token(0)
		case c == '\n':
			p.next()
			continue
		case p.lineComment():
			p.skipLineComment()
			continue
		case c == '/' && p.peekAt(1) == '*':
			if !p.skipBlockComment() {
				return nil, false
			}
			continue
		case c == '}':
			if top {
				return nil, false
			}
			end = p.token(1)
		case isIdentStart(c):
			if !p.item(b) {
				return nil, false
			}
			continue
		default:
			return nil, false
		}
		break
	}
	b.SrcRange = hcl.RangeBetween(startRange, end)
	b.EndRange = hcl.Range{Filename: end.Filename, Start: end.End, End: end.End}
	return b, true
}

// endOfItem consumes what may follow an attribute or block: blanks, then
// a newline, a line comment (which ends with the newline), or the end of
// input.
func (p *fastParser) endOfItem() bool {
	p.skipBlanks()
	switch {
	case p.i >= len(p.src):
		return true
	case p.peek() == '\n':
		p.next()
		return true
	case p.lineComment():
		p.skipLineComment()
		return true
	}
	return false
}

// item parses an attribute or a block into b.
func (p *fastParser) item(b *hclsyntax.Body) bool {
	name, nameRange := p.ident()
	p.skipBlanks()
	switch c := p.peek(); {
	case c == '=' && p.peekAt(1) != '=':
		eq := p.token(1)
		p.skipBlanks()
		expr, last, ok := p.expr(false)
		if !ok {
			return false
		}
		if _, dup := b.Attributes[name]; dup {
			return false
		}
		if !p.endOfItem() {
			return false
		}
		b.Attributes[name] = &hclsyntax.Attribute{
			Name: name, Expr: expr,
			SrcRange: hcl.RangeBetween(nameRange, last), NameRange: nameRange, EqualsRange: eq,
		}
		return true
	case c == '"' || c == '{' || isIdentStart(c):
		blk := &hclsyntax.Block{Type: name, TypeRange: nameRange}
		for {
			p.skipBlanks()
			switch c := p.peek(); {
			case c == '"':
				s, _, open, close, ok := p.quoted()
				if !ok {
					return false
				}
				blk.Labels = append(blk.Labels, s)
				blk.LabelRanges = append(blk.LabelRanges, hcl.RangeBetween(open, close))
				continue
			case isIdentStart(c):
				s, r := p.ident()
				blk.Labels = append(blk.Labels, s)
				blk.LabelRanges = append(blk.LabelRanges, r)
				continue
			case c != '{':
				return false
			}
			break
		}
		blk.OpenBraceRange = p.token(1)
		p.skipBlanks()
		switch {
		case p.peek() == '}':
		case p.peek() == '\n':
		case p.lineComment():
		default:
			return false // single-line block, or worse
		}
		body, ok := p.bodyFrom(false, blk.OpenBraceRange)
		if !ok {
			return false
		}
		blk.Body = body
		blk.CloseBraceRange = hcl.Range{Filename: p.file, Start: body.EndRange.Start, End: body.EndRange.End}
		blk.CloseBraceRange.Start.Column--
		blk.CloseBraceRange.Start.Byte--
		if !p.endOfItem() {
			return false
		}
		b.Blocks = append(b.Blocks, blk)
		return true
	}
	return false
}

// quoted parses a quoted string without template sequences: its value,
// the range of its contents (empty when the string is), and the ranges of
// the quotes.
func (p *fastParser) quoted() (string, hcl.Range, hcl.Range, hcl.Range, bool) {
	open := p.token(1)
	j := p.i
	for {
		if j >= len(p.src) {
			return "", hcl.Range{}, open, open, false
		}
		c := p.src[j]
		if c == '"' {
			break
		}
		if c == '\n' || (c == '$' || c == '%') && j+1 < len(p.src) && p.src[j+1] == '{' {
			return "", hcl.Range{}, open, open, false
		}
		j++
	}
	s := string(p.src[p.i:j])
	lit := p.token(j - p.i)
	close := p.token(1)
	return s, lit, open, close, true
}

// expr parses an expression; inside brackets newlines and comments may
// surround it. It returns the expression and the range of its last token.
func (p *fastParser) expr(inBrackets bool) (hclsyntax.Expression, hcl.Range, bool) {
	c := p.peek()
	switch {
	case c == '"':
		s, lit, open, close, ok := p.quoted()
		if !ok {
			return nil, hcl.Range{}, false
		}
		if s == "" {
			// hclsyntax represents "" as one empty literal, placed after
			// the closing quote.
			lit = hcl.Range{Filename: p.file, Start: close.End, End: close.End}
		}
		t := &hclsyntax.TemplateExpr{
			Parts:    []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.StringVal(s), SrcRange: lit}},
			SrcRange: hcl.RangeBetween(open, close),
		}
		return t, close, true
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		if j < len(p.src) && (isIdentChar(p.src[j]) || p.src[j] == '.') {
			return nil, hcl.Range{}, false
		}
		v, err := cty.ParseNumberVal(string(p.src[p.i:j]))
		if err != nil {
			return nil, hcl.Range{}, false
		}
		r := p.token(j - p.i)
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: r}, r, true
	case c == '[':
		return p.tuple()
	case isIdentStart(c):
		name, r := p.ident()
		save := *p
		if inBrackets {
			if !p.skipAll() {
				return nil, hcl.Range{}, false
			}
		} else {
			p.skipBlanks()
		}
		if p.peek() == '(' {
			return p.call(name, r)
		}
		if p.peek() == ':' || p.peek() == '.' || p.peek() == '[' {
			return nil, hcl.Range{}, false
		}
		*p = save
		switch name {
		case "true":
			return &hclsyntax.LiteralValueExpr{Val: cty.True, SrcRange: r}, r, true
		case "false":
			return &hclsyntax.LiteralValueExpr{Val: cty.False, SrcRange: r}, r, true
		case "null":
			return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: r}, r, true
		case "for", "if", "in", "endfor", "endif", "else":
			return nil, hcl.Range{}, false
		}
		return &hclsyntax.ScopeTraversalExpr{Traversal: hcl.Traversal{hcl.TraverseRoot{Name: name, SrcRange: r}}, SrcRange: r}, r, true
	}
	return nil, hcl.Range{}, false
}

// afterTerm reports whether what follows a term inside brackets is a
// separator (no operator, traversal or conditional).
func (p *fastParser) afterTerm(closer byte) bool {
	if !p.skipAll() {
		return false
	}
	c := p.peek()
	return c == ',' || c == closer
}

func (p *fastParser) tuple() (hclsyntax.Expression, hcl.Range, bool) {
	open := p.token(1)
	t := &hclsyntax.TupleConsExpr{OpenRange: open}
	for {
		if !p.skipAll() {
			return nil, hcl.Range{}, false
		}
		if p.peek() == ']' {
			break
		}
		e, _, ok := p.expr(true)
		if !ok || !p.afterTerm(']') {
			return nil, hcl.Range{}, false
		}
		t.Exprs = append(t.Exprs, e)
		if p.peek() == ']' {
			break
		}
		p.token(1) // the comma
	}
	close := p.token(1)
	t.SrcRange = hcl.RangeBetween(open, close)
	return t, close, true
}

func (p *fastParser) call(name string, nameRange hcl.Range) (hclsyntax.Expression, hcl.Range, bool) {
	f := &hclsyntax.FunctionCallExpr{Name: name, NameRange: nameRange, OpenParenRange: p.token(1)}
	for {
		if !p.skipAll() {
			return nil, hcl.Range{}, false
		}
		if p.peek() == ')' {
			break
		}
		e, _, ok := p.expr(true)
		if !ok || !p.afterTerm(')') {
			return nil, hcl.Range{}, false
		}
		f.Args = append(f.Args, e)
		if p.peek() == ')' {
			break
		}
		p.token(1) // the comma
	}
	f.CloseParenRange = p.token(1)
	return f, f.CloseParenRange, true
}
