package stage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Store writes an entry into the directory RAMPART_RUN_CACHE names, only
// when its dependencies are old enough and the directory is private.
func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "old")
	os.WriteFile(old, []byte("x"), 0o644)
	past := time.Now().Add(-time.Hour)
	os.Chtimes(old, past, past) // mtime only: ctime stays fresh
	fresh := filepath.Join(t.TempDir(), "fresh")
	os.WriteFile(fresh, []byte("x"), 0o644)
	env := []string{"RAMPART_RUN_CACHE=" + dir}
	rec, err := (&Spec{Compartment: "c", Path: "/bin/true", Command: []string{"true"}, Dir: "/"}).Encode(true)
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{Args: []string{"run", "x"}, Env: env, Cwd: "/", Record: rec}

	// A dependency changed a moment ago (its ctime) is racy.
	e.Deps = []Dep{StatDep(old, false)}
	if err := e.Store(); !errors.Is(err, ErrRacy) {
		t.Fatalf("fresh ctime: %v, want ErrRacy", err)
	}
	e.Deps = []Dep{StatDep(fresh, false)}
	if err := e.Store(); !errors.Is(err, ErrRacy) {
		t.Fatalf("fresh file: %v, want ErrRacy", err)
	}
	// A missing path is a fact without a time.
	e.Deps = []Dep{StatDep(filepath.Join(dir, "missing"), false)}
	if err := e.Store(); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, CacheKey(e.Args, e.Env, e.Cwd))
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkEntry(b); err != nil {
		t.Errorf("stored entry: %v", err)
	}
	if st, err := os.Stat(name); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, %v", st.Mode(), err)
	}

	// Not a private directory: refused.
	os.Chmod(dir, 0o750)
	if err := e.Store(); err == nil {
		t.Error("stored into a mode 0750 directory")
	}
	os.Chmod(dir, 0o700)
	// A directory named by RAMPART_RUN_CACHE is not created.
	e.Env = []string{"RAMPART_RUN_CACHE=" + filepath.Join(dir, "nope")}
	if err := e.Store(); err == nil {
		t.Error("stored into a missing RAMPART_RUN_CACHE directory")
	}
	// Off.
	e.Env = []string{"RAMPART_RUN_CACHE=off"}
	if err := e.Store(); err != nil {
		t.Errorf("cache off: %v", err)
	}
}

// A full directory loses its oldest entries.
func TestTrim(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i := 0; i < 20; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%016x", i))
		os.WriteFile(p, nil, 0o600)
		m := base.Add(time.Duration(i) * time.Second)
		os.Chtimes(p, m, m)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o700) // not an entry
	other := filepath.Join(dir, "notes.txt")   // nor this, older than all
	os.WriteFile(other, nil, 0o600)
	os.Chtimes(other, base.Add(-time.Hour), base.Add(-time.Hour))
	if err := trim(dir, 30); err != nil {
		t.Fatal(err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 22 {
		t.Fatalf("below the bound: %d left", len(des))
	}
	if err := trim(dir, 16); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 14 || des[0].Name() != "0000000000000008" || des[12].Name() != "notes.txt" {
		t.Errorf("after trimming: %d left, first %s (want 14, 0000000000000008, and notes.txt)", len(des), des[0].Name())
	}
	// Mostly directories: nothing to remove, and no panic.
	dir = t.TempDir()
	for i := 0; i < 10; i++ {
		os.Mkdir(filepath.Join(dir, fmt.Sprint(i)), 0o700)
	}
	os.WriteFile(filepath.Join(dir, "e"), nil, 0o600)
	if err := trim(dir, 4); err != nil {
		t.Fatal(err)
	}
}
