package policy

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestSplitTopLevel(t *testing.T) {
	src := []byte("# comment { [\nresource \"a\" {\n  kind = \"file\" # }\n  paths = [\"/a\",\n    \"/b\"]\n}\n/* multi\nline } */\nresource \"b\" {\n  kind = \"file\"\n  paths = [\"/c\"] // ]\n}\n")
	segs := splitTopLevel(src, 1)
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	var joined []byte
	for _, s := range segs {
		if s.start.Byte != len(joined) || s.start.Column != 1 || s.start.Line != bytes.Count(joined, []byte("\n"))+1 {
			t.Errorf("segment at %+v, want byte %d line %d", s.start, len(joined), bytes.Count(joined, []byte("\n"))+1)
		}
		joined = append(joined, s.src...)
	}
	if !bytes.Equal(joined, src) {
		t.Error("segments do not make up the source")
	}
	// Nothing is cut inside a block, a list or a comment.
	for _, s := range segs[1:] {
		if p := hcl.InitialPos; s.start.Line == 4 || s.start.Line == 5 || s.start.Line == 8 || s.start == p {
			t.Errorf("cut inside an item at line %d", s.start.Line)
		}
	}
	for _, bad := range []string{
		"a = <<EOT\n}\nEOT\n" + strings.Repeat("\n", 10),
		"a = \"${x}\"\n" + strings.Repeat("\n", 10),
		"a = \"%{if x}\"\n" + strings.Repeat("\n", 10),
		"}\n" + strings.Repeat("\n", 10),
		"a {\n" + strings.Repeat("\n", 10),
		"a = \"x\n\"\n" + strings.Repeat("\n", 10),
		"/* open\n" + strings.Repeat("\n", 10),
	} {
		if segs := splitTopLevel([]byte(bad), 1); segs != nil {
			t.Errorf("%q split into %d segments", bad, len(segs))
		}
	}
	if splitTopLevel(src, len(src)) != nil {
		t.Error("small source split")
	}
}

// corpus returns policies to load: the examples (as several files), the
// bad and broken test data, the fuzz corpus, and mutations of the
// examples with errors in the middle of split files.
func corpus(t *testing.T) [][]source {
	t.Helper()
	var out [][]source
	read := func(names ...string) []source {
		var srcs []source
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, source{n, b})
		}
		return srcs
	}
	for _, ex := range []string{"ic-node", "ic-host"} {
		files, _ := filepath.Glob(filepath.Join("..", "examples", ex, "*.hcl"))
		var keep []string
		for _, f := range files {
			if !strings.HasSuffix(f, TestFileSuffix) {
				keep = append(keep, f)
			}
		}
		base := read(keep...)
		out = append(out, base)
		// One big file, and mutations of it.
		var all []byte
		for _, s := range base {
			all = append(all, s.src...)
			all = append(all, '\n')
		}
		out = append(out, []source{{ex + ".hcl", all}})
		r := rand.New(rand.NewPCG(1, uint64(len(all))))
		for k := 0; k < 40; k++ {
			m := bytes.Clone(all)
			i := r.IntN(len(m))
			switch k % 4 {
			case 0:
				m = append(m[:i], m[i+1:]...)
			case 1:
				m[i] = "{}[]\"=x#\n"[r.IntN(9)]
			case 2:
				m = append(m[:i], append([]byte("\nbogus \"x\" {}\n"), m[i:]...)...)
			case 3:
				m = append(m[:i], append([]byte("}"), m[i:]...)...)
			}
			out = append(out, []source{{ex + "-mut.hcl", m}})
		}
		// Errors and duplicates at top-level boundaries of a split file:
		// the segment failure path.
		var bounds []int
		for i := 0; i+3 <= len(all); i++ {
			if string(all[i:i+3]) == "\n}\n" {
				bounds = append(bounds, i+3)
			}
		}
		for k, ins := range []string{"bogus \"x\" {}\n", "x y z\n", "resource \"system_files\" {\n  kind = \"file\"\n  paths = [\"/q\"]\n}\n", "policy {\n}\n", "compartment \"late\" {\n  tier = \"nope\"\n}\n"} {
			for _, at := range []int{bounds[len(bounds)/3], bounds[len(bounds)*2/3], bounds[len(bounds)-1]} {
				m := append(bytes.Clone(all[:at]), append([]byte(ins), all[at:]...)...)
				out = append(out, []source{{fmt.Sprintf("%s-ins%d.hcl", ex, k), m}})
				// The same after a block with a declaration problem, whose
				// diagnostic must survive the whole-file parse.
				m = append([]byte("compartment \"Bad\" {}\n"), m...)
				out = append(out, []source{{fmt.Sprintf("%s-bad-ins%d.hcl", ex, k), m}})
			}
		}
		// Files in reverse order: roles and top-level allows before the
		// compartments.
		rev := append([]source(nil), base...)
		slices.Reverse(rev)
		brokens, _ := filepath.Glob("testdata/broken/*.hcl")
		for _, b := range brokens {
			if bytes.Contains(read(b)[0].src, []byte("# base: "+ex+"\n")) {
				out = append(out, append(append([]source(nil), base...), read(b)...))
				out = append(out, append(read(b), rev...))
			}
		}
	}
	for _, pattern := range []string{"testdata/bad/*.hcl", "testdata/fuzz/FuzzParse/*"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			src := read(f)[0]
			if strings.Contains(pattern, "fuzz") {
				// go test fuzz v1 corpus files: the value is a Go string
				// literal on the second line; use the raw file as HCL too.
				src.name = "fuzz.hcl"
			}
			out = append(out, []source{src})
		}
	}
	return out
}

// TestSegmentedEquivalence: loading in segments (as small as possible)
// gives the same policy, or the same diagnostics, as loading whole files.
func TestSegmentedEquivalence(t *testing.T) {
	for i, srcs := range corpus(t) {
		compareSegmented(t, fmt.Sprintf("corpus %d (%s)", i, srcs[0].name), srcs)
	}
}

func compareSegmented(t *testing.T, what string, srcs []source) {
	t.Helper()
	whole, werr := buildSegmented(srcs, 1<<40)
	seg, serr := buildSegmented(srcs, 1)
	switch {
	case (werr == nil) != (serr == nil):
		t.Fatalf("%s: whole-file error %v, segmented error %v", what, werr, serr)
	case werr != nil:
		if werr.Error() != serr.Error() {
			t.Fatalf("%s: diagnostics differ:\nwhole:\n%s\nsegmented:\n%s", what, werr, serr)
		}
	case !reflect.DeepEqual(whole, seg):
		t.Fatalf("%s: policies differ", what)
	}
}

// FuzzSegmented compares segmented and whole-file loading on arbitrary
// input.
func FuzzSegmented(f *testing.F) {
	for _, pattern := range []string{"../examples/*/*.hcl", "testdata/bad/*.hcl", "testdata/broken/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		compareSegmented(t, "fuzz", []source{{"fuzz.hcl", src}})
	})
}

// TestRuleOrder: Policy.Rules lists compartments' allow blocks (in
// compartment order), then roles', then top-level allow blocks, then
// channel grants, whatever the order of the blocks in the files.
func TestRuleOrder(t *testing.T) {
	src := `
allow "c2" {
  verbs = ["read"]
  on    = ["r"]
}
role "op" {
  allow {
    verbs = ["read"]
    on    = ["r"]
  }
}
channel "ch" {
  protocol = "unix"
  path     = "/run/ch.sock"
  server   = "c1"
  clients  = ["c2"]
}
compartment "c2" {
  tier = "trusted"
  allow {
    verbs = ["write"]
    on    = ["r"]
  }
}
allow "op" {
  verbs = ["append"]
  on    = ["r"]
}
compartment "c1" {
  tier = "trusted"
  allow {
    verbs = ["create"]
    on    = ["r"]
  }
}
resource "r" {
  kind  = "file"
  paths = ["/r"]
}
`
	for _, segMin := range []int{1, 1 << 40} {
		p, err := buildSegmented([]source{{"order.hcl", []byte(src)}}, segMin)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p.Rules {
			got = append(got, fmt.Sprintf("%s %s %s", r.Origin, r.Subject, r.Verbs))
		}
		want := []string{
			"allow c2 {write}", "allow c1 {create}", // compartments, in declaration order
			"allow op {read}",                      // roles
			"allow c2 {read}", "allow op {append}", // top-level, in file order
			"server c1 {bind,listen}", "client c2 {connect}", // channels
		}
		if !slices.Equal(got, want) {
			t.Errorf("segMin %d: rules\n got %q\nwant %q", segMin, got, want)
		}
	}
}
