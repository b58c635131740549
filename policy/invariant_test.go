package policy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/brokenpolicy"
)

// violations evaluates the direct invariant forms (deny_access,
// deny_spawn, deny_capability) by brute force and returns counterexamples
// formatted as "invariant: subject verb object". no_flow is the analysis
// package's business and is skipped. The test uses it as an oracle for the
// fixtures; it is deliberately independent of any index.
func violations(p *Policy) []string {
	var out []string
	for _, inv := range p.Invariants {
		switch inv.Form {
		case FormDenyAccess:
			for _, s := range p.Select(inv.Subjects) {
				for _, r := range p.Rules {
					if r.Subject != s.Name {
						continue
					}
					for _, o := range r.Objects {
						if !p.Selects(inv.Objects, o) {
							continue
						}
						k := p.ObjectKind(o)
						for _, v := range r.Verbs.Implied().Verbs() {
							if inv.Verbs.Has(v) && v.ValidFor(k) {
								out = append(out, fmt.Sprintf("%s: %s %s %s", inv.Name, s.Name, v, o))
							}
						}
					}
				}
			}
		case FormDenySpawn:
			for _, f := range p.Select(inv.From) {
				seen := map[string]bool{}
				queue := []string{f.Name}
				for len(queue) > 0 {
					cur := queue[0]
					queue = queue[1:]
					for _, t := range p.SpawnTargets(cur) {
						if seen[t] {
							continue
						}
						seen[t] = true
						if p.Selects(inv.To, t) {
							out = append(out, fmt.Sprintf("%s: %s spawn %s", inv.Name, f.Name, t))
						}
						if inv.Transitive {
							queue = append(queue, t)
						}
					}
				}
			}
		case FormDenyCapability:
			for _, s := range p.Select(inv.Subjects) {
				for _, c := range p.Compartment(s.Name).Capabilities {
					if len(inv.Capabilities) == 0 || slices.Contains(inv.Capabilities, c) {
						out = append(out, fmt.Sprintf("%s: %s holds %s", inv.Name, s.Name, c))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// brokenHeader reads the "# base:", "# violates:" and "# expect:" lines
// of a broken variant.
func brokenHeader(t *testing.T, file string) (base string, expect []string) {
	t.Helper()
	base, expect, err := brokenpolicy.Header(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(expect) == 0 {
		t.Fatalf("%s: missing # expect: header", file)
	}
	return base, expect
}

// TestBrokenVariants loads each testdata/broken/*.hcl on top of its base
// example and checks that it still loads and that exactly the expected
// counterexamples appear (no_flow expectations are left to analysis and
// only checked to name an existing invariant).
func TestBrokenVariants(t *testing.T) {
	files, _ := filepath.Glob("testdata/broken/*.hcl")
	if len(files) == 0 {
		t.Fatal("no broken variants")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			base, expect := brokenHeader(t, f)
			p, err := Load(filepath.Join("..", "examples", base), f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			got := violations(p)
			var want []string
			for _, e := range expect {
				name, _, _ := strings.Cut(e, ":")
				inv := p.Invariant(name)
				if inv == nil {
					t.Fatalf("expect names unknown invariant %q", name)
				}
				if inv.Form != FormNoFlow {
					want = append(want, e)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("counterexamples:\n got %q\nwant %q", got, want)
			}
		})
	}
}
