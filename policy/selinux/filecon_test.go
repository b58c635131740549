package selinux

import (
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
)

func TestGlobRegexes(t *testing.T) {
	for _, c := range []struct {
		glob  string
		res   []string
		exact []bool
	}{
		{"/", []string{"/"}, []bool{true}},
		{"/**", []string{"/", "/.*"}, []bool{true, false}},
		{"/etc/app.conf", []string{`/etc/app\.conf`}, []bool{true}},
		{"/usr/**", []string{"/usr", "/usr/.*"}, []bool{true, false}},
		{"/a/**/**", []string{"/a", "/a/.*"}, []bool{true, false}},
		{"/var/lib/*/keys/**", []string{"/var/lib/[^/]*/keys(/.*)?"}, []bool{false}},
		{"/a/**/b", []string{"/a/(.*/)?b"}, []bool{false}},
		{"/**/b", []string{"/(.*/)?b"}, []bool{false}},
		{"/k/*.pub", []string{`/k/[^/]*\.pub`}, []bool{false}},
		{"/dev/vd?1", []string{"/dev/vd[^/]1"}, []bool{false}},
		{"/x/a+b(c)", []string{`/x/a\+b\(c\)`}, []bool{true}},
	} {
		res, exact := globRegexes(c.glob)
		if !slices.Equal(res, c.res) || !slices.Equal(exact, c.exact) {
			t.Errorf("globRegexes(%q) = %q %v, want %q %v", c.glob, res, exact, c.res, c.exact)
		}
	}
}

// TestGlobRegexesMatch checks that the expressions match what the globs
// match, on sample paths.
func TestGlobRegexesMatch(t *testing.T) {
	for _, c := range []struct {
		glob     string
		match    []string
		nonmatch []string
	}{
		{"/usr/**", []string{"/usr", "/usr/bin", "/usr/bin/x"}, []string{"/usrx", "/us", "/"}},
		{"/a/**/b", []string{"/a/b", "/a/x/b", "/a/x/y/b"}, []string{"/a/xb", "/a/b/c", "/ab"}},
		{"/k/*.pub", []string{"/k/a.pub", "/k/.pub"}, []string{"/k/a/b.pub", "/k/apub"}},
		{"/var/lib/*/keys/**", []string{"/var/lib/x/keys", "/var/lib/x/keys/y"}, []string{"/var/lib/keys", "/var/lib/x/y/keys"}},
	} {
		res, _ := globRegexes(c.glob)
		var es []*fcEntry
		for _, re := range res {
			es = append(es, &fcEntry{re: re, fileType: "any", typ: "x_t"})
		}
		slices.SortFunc(es, cilCompare)
		idx := newFCIndex(es)
		for _, m := range c.match {
			if idx.lookup(m) == nil {
				t.Errorf("%s: %s does not match", c.glob, m)
			}
		}
		for _, m := range c.nonmatch {
			if idx.lookup(m) != nil {
				t.Errorf("%s: %s matches", c.glob, m)
			}
		}
	}
}

func TestFillKey(t *testing.T) {
	for _, c := range []struct {
		re         string
		meta       bool
		stem, leng int
	}{
		{"/usr", false, 4, 4},
		{`/etc/app\.conf`, false, 13, 13},
		{"/usr/.*", true, 5, 7},
		{`/k/[^/]*\.pub`, true, 3, 12},
	} {
		k := fillKey(c.re)
		if k.meta != c.meta || k.stem != c.stem || k.strLen != c.leng {
			t.Errorf("fillKey(%q) = %+v, want meta %v stem %d len %d", c.re, k, c.meta, c.stem, c.leng)
		}
	}
}

func TestWitnesses(t *testing.T) {
	got := witnesses("/a/**/b*")
	for _, w := range []string{"/a/bw", "/a/w/bw", "/a/w/v/b"} {
		if !slices.Contains(got, w) {
			t.Errorf("witnesses(/a/**/b*) = %q, lacks %s", got, w)
		}
	}
	if ws := witnesses("/"); !slices.Equal(ws, []string{"/"}) {
		t.Errorf("witnesses(/) = %q", ws)
	}
}

func TestNamer(t *testing.T) {
	n := newNamer()
	n.reserve("unconfined_t")
	for _, c := range []struct{ base, suffix, want string }{
		{"unconfined", "_t", "unconfined_2_t"},
		{"web", "_t", "web_t"},
		{"web", "_t", "web_2_t"},
		{"a-b", "", "a_b"},
		{"9lives", "_t", "x9lives_t"},
	} {
		if got := n.alloc(c.base, c.suffix); got != c.want {
			t.Errorf("alloc(%q, %q) = %q, want %q", c.base, c.suffix, got, c.want)
		}
	}
}

// TestPrecedenceWarning: two globs the policy orders one way and
// file_contexts the other way produce a warning naming the path.
func TestPrecedenceWarning(t *testing.T) {
	src := `
resource "e" {
  kind  = "file"
  paths = ["/s/*/a"]
}
resource "f" {
  kind  = "directory"
  paths = ["/s/**/a*"]
}
`
	p, err := policy.Parse("prec.hcl", []byte(src))
	if err != nil {
		t.Skipf("the loader rejects the globs: %v", err)
	}
	if r := p.ResourceAt("/s/w/a"); r == nil || r.Name != "e" {
		t.Fatalf("policy resolves /s/w/a to %v, want e", r)
	}
	out, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(out.Warnings, func(w string) bool { return strings.Contains(w, "/s/w/a") }) {
		t.Errorf("no warning about /s/w/a: %q", out.Warnings)
	}
}

// TestKernelClasses checks the class table: unique names, at most 32
// permissions per class, and the classes the verb table uses.
func TestKernelClasses(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range kernelClasses {
		if seen[c.name] {
			t.Errorf("class %s twice", c.name)
		}
		seen[c.name] = true
		if n := len(classPerms(c.name)); n == 0 || n > 32 {
			t.Errorf("class %s has %d permissions", c.name, n)
		}
	}
	for _, v := range policy.Verbs() {
		for _, k := range policy.Kinds() {
			for _, cp := range v.SELinuxPerms(k) {
				perms := classPerms(cp.Class)
				for _, p := range cp.Perms {
					if !slices.Contains(perms, p) {
						t.Errorf("verb table: %s on %s uses %s %s, which the kernel does not define", v, k, cp.Class, p)
					}
				}
			}
		}
	}
}
