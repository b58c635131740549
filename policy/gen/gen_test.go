package gen

import (
	"bytes"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/policy"
)

func TestGenerateLoads(t *testing.T) {
	for _, c := range []struct{ n, m int }{{1, 0}, {2, 3}, {5, 30}, {50, 500}, {200, 2000}} {
		p, err := Generate(c.n, c.m, 1)
		if err != nil {
			t.Fatalf("Generate(%d, %d): %v", c.n, c.m, err)
		}
		if len(p.Compartments) != c.n || len(p.Resources) != c.m {
			t.Errorf("Generate(%d, %d): %d compartments, %d resources", c.n, c.m, len(p.Compartments), len(p.Resources))
		}
	}
	if !bytes.Equal(Source(20, 100, 7), Source(20, 100, 7)) {
		t.Error("Source is not deterministic")
	}
	if bytes.Equal(Source(20, 100, 7), Source(20, 100, 8)) {
		t.Error("seed has no effect")
	}
}

// TestGenerateScale loads the size the analysis benchmark uses. It is
// skipped with -short.
func TestGenerateScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	start := time.Now()
	p, err := Generate(5000, 50000, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5000/50000 loaded in %v (%d rules)", time.Since(start), len(p.Rules))
	d := p.Allows("c2", policy.VerbRead, "/srv/c2/x")
	_ = d
}

func BenchmarkLoad5000x50000(b *testing.B) {
	src := Source(5000, 50000, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := policy.Parse("gen.hcl", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAllows5000x50000(b *testing.B) {
	p, err := Generate(5000, 50000, 1)
	if err != nil {
		b.Fatal(err)
	}
	// A mix of hits deep in the tree, misses, exact files and patterns.
	var paths []string
	for _, r := range p.Resources[:1000] {
		g := r.Paths[0]
		switch {
		case len(g) > 3 && g[len(g)-3:] == "/**":
			paths = append(paths, g[:len(g)-3]+"/some/file.bin")
		default:
			paths = append(paths, g)
		}
	}
	paths = append(paths, "/nowhere/at/all", "/srv/c1/nothing")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pth := paths[i%len(paths)]
		p.Allows("c1", policy.VerbRead, pth)
	}
}
