package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// verbTableMarkdown renders the SELinux mapping as the Markdown table that
// docs/policy.md carries.
func verbTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| verb | kind | SELinux class { permissions } → target |\n|---|---|---|\n")
	for _, v := range Verbs() {
		for _, k := range Kinds() {
			cps := v.SELinuxPerms(k)
			if cps == nil {
				continue
			}
			var parts []string
			for _, c := range cps {
				parts = append(parts, fmt.Sprintf("`%s { %s }` → %s", c.Class, strings.Join(c.Perms, " "), c.Target))
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", v, k, strings.Join(parts, "<br>"))
		}
	}
	return b.String()
}

// TestDocsVerbTable keeps the table in docs/policy.md in sync with the
// code. Run with -update to rewrite it between the markers.
func TestDocsVerbTable(t *testing.T) {
	const file = "../docs/policy.md"
	const begin, end = "<!-- verb-table-begin -->\n", "<!-- verb-table-end -->"
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s: markers missing", file)
	}
	want := verbTableMarkdown()
	if *update {
		s = s[:i+len(begin)] + want + s[j:]
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := s[i+len(begin) : j]; got != want {
		t.Errorf("%s: verb table out of date; run go test ./policy -run TestDocsVerbTable -update", file)
	}
}
