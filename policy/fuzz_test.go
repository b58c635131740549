package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that loading never panics and that failures are always
// an *Error with at least one diagnostic. Successful loads must answer
// queries without panicking either.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../examples/*/*.hcl", "testdata/bad/*.hcl", "testdata/broken/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`resource "r" { kind = "file" paths = ["/a/**/b*?", "/**"] }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("fuzz.hcl", src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || len(pe.Diagnostics) == 0 {
				t.Fatalf("error is not a non-empty *Error: %v", err)
			}
			_ = err.Error()
			return
		}
		for _, c := range p.Compartments {
			for _, v := range Verbs() {
				p.Allows(c.Name, v, "/a/b/c")
				p.AllowsPort(c.Name, v, ProtoTCP, 443)
				p.AllowsProcess(c.Name, v, c.Name)
			}
		}
		for _, r := range p.Resources {
			for _, g := range r.Paths {
				if p.ResourceAt(g) == nil && r.Kind != 0 {
					// A glob used as a path matches itself.
					t.Fatalf("glob %q matches nothing", g)
				}
			}
		}
		for _, inv := range p.Invariants {
			p.Select(inv.Subjects)
			p.Select(inv.Objects)
			p.Select(inv.From)
			p.Select(inv.To)
		}
	})
}
