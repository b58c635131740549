package policy

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func loadExample(t testing.TB, name string) *Policy {
	t.Helper()
	p, err := Load(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

func TestExamplesLoad(t *testing.T) {
	for _, name := range []string{"ic-node", "ic-host"} {
		t.Run(name, func(t *testing.T) {
			p := loadExample(t, name)
			if p.Name != name {
				t.Errorf("Name = %q, want %q", p.Name, name)
			}
			if len(p.Invariants) == 0 || len(p.Compartments) == 0 || len(p.Roles) == 0 {
				t.Errorf("empty policy: %d compartments, %d roles, %d invariants", len(p.Compartments), len(p.Roles), len(p.Invariants))
			}
			// Every invariant holds in the example (direct forms).
			if v := violations(p); len(v) > 0 {
				t.Errorf("example violates its invariants:\n%s", strings.Join(v, "\n"))
			}
			// Positions point back to the source.
			for _, c := range p.Compartments {
				if c.Range.Filename == "" || c.Range.Start.Line == 0 {
					t.Errorf("compartment %s has no position", c.Name)
				}
			}
			for _, r := range p.Rules {
				if r.Range.Start.Line == 0 {
					t.Errorf("rule %v has no position", r)
				}
			}
		})
	}
}

func TestBadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/bad files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.ToSlash(f), src)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse: got %v, want *Error", err)
			}
			for _, d := range pe.Diagnostics {
				if d.Range.Start.Line == 0 {
					t.Errorf("diagnostic without position: %s", d)
				}
				if d.Hint == "" {
					t.Errorf("diagnostic without hint: %s", d)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		paths []string
		want  string
	}{
		{nil, "no policy files given"},
		{[]string{filepath.Join(dir, "missing.hcl")}, "missing.hcl: cannot read policy: no such file or directory"},
		{[]string{dir}, "directory has no .hcl files"},
	}
	for _, c := range cases {
		_, err := Load(c.paths...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%v) = %v, want %q", c.paths, err, c.want)
		}
	}
}

func TestMultiFileAndTopLevelAllow(t *testing.T) {
	p, err := ParseFiles(map[string][]byte{
		"a.hcl": []byte(`compartment "web" {
  tier = "trusted"
  executables = ["/usr/bin/web"]
}`),
		"b.hcl": []byte(`resource "site" {
  kind = "directory"
  paths = ["/srv/**"]
}
allow "web" {
  verbs = ["read"]
  on = ["site"]
}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Allows("web", VerbRead, "/srv/index.html")
	if !d.Allowed || len(d.Rules) != 1 || d.Rules[0].Range.Filename != "b.hcl" || d.Rules[0].Range.Start.Line != 5 {
		t.Errorf("decision = %v", d)
	}
	if got := p.Compartment("web").Rules; len(got) != 1 {
		t.Errorf("web has %d rules, want 1", len(got))
	}
}

func TestMalformedBlocksDoNotPanic(t *testing.T) {
	for _, src := range []string{
		"compartment {}",
		"compartment \"a\" \"b\" {}",
		"spawn \"x\" {\nfrom = \"a\"\nto = [\"b\"]\n}",
		"allow {\nverbs = [\"read\"]\non = [\"x\"]\n}",
		"deny_access {}",
		"resource \"r\" {\nkind = \"file\"\npaths = \"/x\"\n}",
		"resource \"r\" {\nkind = \"file\"\npaths = [null, 1, [\"/x\"]]\n}",
		"compartment \"c\" {\ntier = null\n}",
		"channel \"c\" {\nprotocol = \"tcp\"\nports = [1e400, -1, 0.5, null, 65536]\nserver = \"x\"\n}",
		"deny_access \"x\" {\nsubjects = all_except()\nverbs = []\nobjects = all(\"x\")\n}",
		"deny_access \"x\" {\nsubjects = all_except(1, null)\nverbs = [\"read\"]\nobjects = tier([\"a\"]...)\n}",
		"compartment \"c\" {\ntier = \"trusted\"\nlimits {\nmemory = \"99999999999999999999T\"\ncore = 1e400\n}\n}",
	} {
		_, err := Parse("m.hcl", []byte(src))
		if err == nil {
			t.Errorf("Parse(%q) succeeded", src)
			continue
		}
		if testing.Verbose() {
			t.Log(err)
		}
	}
}
