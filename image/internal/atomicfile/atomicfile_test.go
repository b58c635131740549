package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteAndCrash(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	var steps []string
	if err := Write(p, []byte("one"), 0o640, func(step, path string) error {
		steps = append(steps, step)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"create", "write", "fsync", "rename", "fsync-dir"}; !slices.Equal(steps, want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("content %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
	// A crash before any step leaves the old content and no temporary file.
	for _, at := range steps[:4] {
		crash := errors.New("crash")
		err := Write(p, []byte("two"), 0o640, func(step, path string) error {
			if step == at {
				return crash
			}
			return nil
		})
		if !errors.Is(err, crash) {
			t.Fatalf("%s: %v", at, err)
		}
		if b, _ := os.ReadFile(p); string(b) != "one" {
			t.Fatalf("crash before %s: content %q", at, b)
		}
		if m, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"*")); len(m) != 0 {
			t.Fatalf("crash before %s left %v", at, m)
		}
	}
	// A temporary file a real crash left is removed by RemoveTemps.
	os.WriteFile(filepath.Join(dir, TempPrefix+"state-1"), nil, 0o600)
	if err := RemoveTemps(dir); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 1 {
		t.Fatalf("after RemoveTemps: %v", m)
	}
}
