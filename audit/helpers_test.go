package audit

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// sharedAuditDir finds shared/testdata/audit by walking up from the
// package directory (the repository is checked out with shared/ beside
// it), or skips the test.
func sharedAuditDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "testdata", "audit")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Skipf("shared/testdata/audit not found in any parent of %s: check out the shared test data beside the repository", wd)
	return ""
}

// corpusFiles lists the audit logs under dir (relative paths, sorted).
func corpusFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || filepath.Base(p) == "README.md" {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no audit logs under %s", dir)
	}
	return out
}
