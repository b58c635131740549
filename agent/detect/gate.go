package detect

import (
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
)

// A gate is a cheap necessary condition for a rule to match, read from
// the shape of its expression, so that most rules are not evaluated on
// most events: a rule whose condition is a conjunction with a test
// event.syscall == "x" (or event.syscall in [...]) can only match events
// of those syscalls; one with "T" in event.records only events with such
// a record; one with event.type == "T" only events of that type; one with
// event.access.exists(...) only events with accesses. A disjunction is
// gated when both sides are. nil means no gate: the rule always runs.
type gate []cond

type condKind uint8

const (
	condSyscall condKind = iota + 1
	condRecord
	condType
	condAccess
)

type cond struct {
	kind condKind
	s    string
}

// admits reports whether ev passes the gate.
func (g gate) admits(ev *Event) bool {
	if g == nil {
		return true
	}
	for _, c := range g {
		switch c.kind {
		case condSyscall:
			if ev.Syscall == c.s {
				return true
			}
		case condType:
			if ev.Type == c.s {
				return true
			}
		case condAccess:
			if len(ev.Access) > 0 {
				return true
			}
		case condRecord:
			for _, t := range ev.Records {
				if t == c.s {
					return true
				}
			}
		}
	}
	return false
}

// gateOf derives the gate of a checked expression.
func gateOf(e ast.Expr) gate {
	switch e.Kind() {
	case ast.CallKind:
		c := e.AsCall()
		args := c.Args()
		switch c.FunctionName() {
		case operators.LogicalAnd:
			var best gate
			for _, a := range args {
				if g := gateOf(a); g != nil && (best == nil || len(g) < len(best)) {
					best = g
				}
			}
			return best
		case operators.LogicalOr:
			var out gate
			for _, a := range args {
				g := gateOf(a)
				if g == nil {
					return nil
				}
				out = append(out, g...)
			}
			return out
		case operators.Equals:
			if len(args) != 2 {
				return nil
			}
			for i := range 2 {
				f, lit := eventField(args[i]), stringLit(args[1-i])
				if lit == nil {
					continue
				}
				switch f {
				case "syscall":
					return gate{{condSyscall, *lit}}
				case "type":
					return gate{{condType, *lit}}
				}
			}
		case operators.In:
			if len(args) != 2 {
				return nil
			}
			if f := eventField(args[0]); (f == "syscall" || f == "type") && args[1].Kind() == ast.ListKind {
				kind := condSyscall
				if f == "type" {
					kind = condType
				}
				var out gate
				for _, el := range args[1].AsList().Elements() {
					lit := stringLit(el)
					if lit == nil {
						return nil
					}
					out = append(out, cond{kind, *lit})
				}
				return out
			}
			if lit := stringLit(args[0]); lit != nil && eventField(args[1]) == "records" {
				return gate{{condRecord, *lit}}
			}
		}
	case ast.ComprehensionKind:
		// exists and exists_one over event.access are false on an
		// empty list (their accumulator starts false or 0 and only the
		// loop can change it); all is true on it, so it is no gate.
		c := e.AsComprehension()
		if eventField(c.IterRange()) != "access" || c.AccuInit().Kind() != ast.LiteralKind {
			return nil
		}
		switch c.AccuInit().AsLiteral() {
		case types.False:
			return gate{{condAccess, ""}}
		case types.IntZero:
			return gate{{condAccess, ""}}
		}
	}
	return nil
}

// eventField returns f for the expression event.f, else "".
func eventField(e ast.Expr) string {
	if e.Kind() != ast.SelectKind {
		return ""
	}
	s := e.AsSelect()
	if s.IsTestOnly() || s.Operand().Kind() != ast.IdentKind || s.Operand().AsIdent() != "event" {
		return ""
	}
	return s.FieldName()
}

// stringLit returns the value of a string literal, else nil.
func stringLit(e ast.Expr) *string {
	if e.Kind() != ast.LiteralKind {
		return nil
	}
	if s, ok := e.AsLiteral().(types.String); ok {
		v := string(s)
		return &v
	}
	return nil
}
