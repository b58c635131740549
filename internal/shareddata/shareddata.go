// Package shareddata locates the project's shared test data: real audit
// logs from public projects, kept in shared/testdata/audit beside the
// repository (CI clones the repository with shared/ next to it).
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// FindAuditDir returns shared/testdata/audit found by walking up from the
// working directory, or "" when there is none.
func FindAuditDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "testdata", "audit")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// AuditDir returns shared/testdata/audit, or skips tb when it is absent.
func AuditDir(tb testing.TB) string {
	tb.Helper()
	dir := FindAuditDir()
	if dir == "" {
		tb.Skip("shared/testdata/audit not found in any parent of the package: check out the shared test data beside the repository")
	}
	return dir
}

// AuditFile returns the path of name (e.g. "spade/audit_wget_unit.log")
// under shared/testdata/audit, or skips tb when it is absent.
func AuditFile(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(AuditDir(tb), name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared/testdata/audit/%s not found", name)
	}
	return p
}
