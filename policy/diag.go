package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostic is one problem found while loading a policy.
type Diagnostic struct {
	// Range is where the problem is; Filename may be the only field set
	// for problems with a whole file.
	Range   hcl.Range
	Message string
	// Hint says how to fix the problem; it may be empty.
	Hint string
}

// String formats d as "file:line:col: message" followed, when there is a
// hint, by "\n\thint: hint".
func (d Diagnostic) String() string {
	var b strings.Builder
	switch {
	case d.Range.Start.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column)
	case d.Range.Filename != "":
		fmt.Fprintf(&b, "%s: ", d.Range.Filename)
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString("\n\thint: ")
		b.WriteString(d.Hint)
	}
	return b.String()
}

// Error is the error Load and Parse return for an invalid policy. It lists
// every problem found, sorted by position.
type Error struct {
	Diagnostics []Diagnostic
}

// Error formats every diagnostic, one per line (hints on their own
// indented lines).
func (e *Error) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// diags accumulates diagnostics.
type diags []Diagnostic

func (ds *diags) add(r hcl.Range, hint, format string, a ...any) {
	*ds = append(*ds, Diagnostic{Range: r, Message: fmt.Sprintf(format, a...), Hint: hint})
}

// addHCL converts HCL's own diagnostics (syntax, schema).
func (ds *diags) addHCL(hd hcl.Diagnostics) {
	for _, d := range hd {
		if d.Severity != hcl.DiagError {
			continue
		}
		var r hcl.Range
		if d.Subject != nil {
			r = *d.Subject
		} else if d.Context != nil {
			r = *d.Context
		}
		msg := strings.TrimSuffix(d.Summary, ".")
		*ds = append(*ds, Diagnostic{Range: r, Message: lowerFirst(msg), Hint: hclHint(d)})
	}
}

// hclHint turns an HCL diagnostic's detail into a hint.
func hclHint(d *hcl.Diagnostic) string {
	detail := strings.Join(strings.Fields(d.Detail), " ")
	switch {
	case strings.HasPrefix(d.Summary, "Unsupported block type"), strings.HasPrefix(d.Summary, "Unsupported argument"):
		return detail + " See docs/policy.md for the blocks and attributes of the language."
	}
	return detail
}

func lowerFirst(s string) string {
	if len(s) >= 2 && s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z') {
		return string(s[0]+'a'-'A') + s[1:]
	}
	return s
}

// err returns nil or an *Error with the diagnostics sorted by position and
// exact duplicates removed.
func (ds diags) err() error {
	if len(ds) == 0 {
		return nil
	}
	out := slices.Clone([]Diagnostic(ds))
	slices.SortStableFunc(out, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Range.Filename, b.Range.Filename),
			cmp.Compare(a.Range.Start.Line, b.Range.Start.Line),
			cmp.Compare(a.Range.Start.Column, b.Range.Start.Column),
			cmp.Compare(a.Message, b.Message),
		)
	})
	out = slices.CompactFunc(out, func(a, b Diagnostic) bool {
		return a.Range.Filename == b.Range.Filename && a.Range.Start == b.Range.Start && a.Message == b.Message
	})
	return &Error{Diagnostics: out}
}

// suggest returns a "did you mean" hint for name among candidates, or
// fallback when nothing is close.
func suggest(name string, candidates []string, fallback string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(name, c)
		if len(name) >= 3 && strings.HasPrefix(c, name) {
			d = 1
		}
		if d <= max(1, len(name)/3) && (bestD < 0 || d < bestD || d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return fallback
}

// editDistance is the Levenshtein distance between a and b (bytes),
// capped for long inputs.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
