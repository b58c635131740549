package analysis

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/rampart-sec/rampart/internal/brokenpolicy"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/gen"
)

func load(t testing.TB, paths ...string) *Analyzer {
	t.Helper()
	p, err := policy.Load(paths...)
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return New(p)
}

func example(name string) string { return filepath.Join("..", "examples", name) }

func TestExamplesPass(t *testing.T) {
	for _, name := range []string{"ic-node", "ic-host"} {
		t.Run(name, func(t *testing.T) {
			a := load(t, example(name))
			r := a.Check()
			if len(r.Invariants) != len(a.Policy().Invariants) {
				t.Fatalf("%d results for %d invariants", len(r.Invariants), len(a.Policy().Invariants))
			}
			for _, v := range r.Violations() {
				t.Errorf("%s: %s (%s)", v.Invariant, v.Counterexample, v.Path.Verbose())
			}
		})
	}
}

// brokenHeader reads the "# base:" and "# expect:" lines of a broken
// variant.
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

// TestBrokenVariants checks every broken overlay: exactly the expected
// violations (all forms, no_flow included) and nothing else.
func TestBrokenVariants(t *testing.T) {
	files, _ := filepath.Glob("../policy/testdata/broken/*.hcl")
	if len(files) == 0 {
		t.Fatal("no broken variants")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			base, want := brokenHeader(t, f)
			a := load(t, example(base), f)
			var got []string
			for _, v := range a.Check().Violations() {
				got = append(got, v.Invariant+": "+v.Counterexample)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestGeneratedPolicies: the generator's policies satisfy their own
// invariants (no_flow included), and the summary and full blast radii
// agree.
func TestGeneratedPolicies(t *testing.T) {
	for _, c := range []struct{ n, m int }{{5, 30}, {50, 500}, {300, 3000}} {
		for seed := int64(1); seed <= 3; seed++ {
			p, err := gen.Generate(c.n, c.m, seed)
			if err != nil {
				t.Fatal(err)
			}
			a := New(p)
			for _, v := range a.Check().Violations() {
				t.Errorf("gen(%d, %d, %d): %s: %s", c.n, c.m, seed, v.Invariant, v.Counterexample)
			}
			sums := a.BlastRadii()
			for i, s := range sums {
				if i%17 != 0 {
					continue
				}
				br, err := a.BlastRadius(s.Subject)
				if err != nil {
					t.Fatal(err)
				}
				if s.TakenOver != len(br.TakenOver) || s.Read != len(br.Read) || s.Alter != len(br.Alter) {
					t.Errorf("gen(%d, %d, %d): %s: summary %+v, full taken %d read %d alter %d", c.n, c.m, seed, s.Subject, s, len(br.TakenOver), len(br.Read), len(br.Alter))
				}
			}
		}
	}
}
