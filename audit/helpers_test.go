package audit

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rampart-sec/rampart/internal/shareddata"
)

// sharedAuditDir finds shared/testdata/audit by walking up from the
// package directory (the repository is checked out with shared/ beside
// it), or skips the test.
func sharedAuditDir(t testing.TB) string {
	t.Helper()
	return shareddata.AuditDir(t)
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
