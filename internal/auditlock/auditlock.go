// Package auditlock serialises the tests that change the kernel's audit
// state (enabled flag, daemon pid, rules). "go test ./..." runs packages in
// parallel, and two such tests at once would see each other's rules and
// events, or restore each other's state.
package auditlock

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Lock takes a machine-wide lock for the rest of the test t; it waits for
// any other test holding it.
func Lock(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "rampart-audit-test.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("audit test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("audit test lock %s: %v", path, err)
	}
	t.Cleanup(func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
