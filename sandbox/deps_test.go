package sandbox

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/sandbox/internal/stage"
)

// depsTree is a small host tree for dependency tests:
//
//	a/                  a PATH directory without the command
//	(b/)                a PATH directory that does not exist
//	bin/prog -> ../links/l1 -> l2 -> <dir>/real/prog (a copy of /bin/true)
//	keys/id.pub         resource keys: keys/*.pub
//	(missing/file.conf) resource conf, missing
//	data/               resource data: data/**
type depsTree struct {
	dir  string
	p    *policy.Policy
	o    Options
	argv []string
}

func newDepsTree(t *testing.T) *depsTree {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"a", "bin", "links", "real", "keys", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, "/bin/true", filepath.Join(dir, "real/prog"))
	copyFile(t, "/bin/true", filepath.Join(dir, "real/other-prog"))
	for _, l := range [][2]string{
		{"../links/l1", "bin/prog"},
		{"l2", "links/l1"},
		{filepath.Join(dir, "real/prog"), "links/l2"},
	} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "keys/id.pub"), []byte("key\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
resource "keys" {
  kind  = "file"
  paths = ["%[1]s/keys/*.pub"]
}
resource "conf" {
  kind  = "file"
  paths = ["%[1]s/missing/file.conf"]
}
resource "data" {
  kind  = "directory"
  paths = ["%[1]s/data/**"]
}
compartment "c" {
  tier        = "trusted"
  executables = ["%[1]s/real/prog"]
  user        = "nobody"
  group       = "nogroup"
  limits {
    nofile = 100
  }
  allow {
    verbs = ["read"]
    on    = ["keys", "conf", "data"]
  }
}
`, dir)
	p, err := policy.Parse(filepath.Join(dir, "deps.hcl"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	path := strings.Join([]string{filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "bin")}, ":")
	return &depsTree{
		dir:  dir,
		p:    p,
		o:    Options{Host: hostABI(7, 0), Environ: []string{"PATH=" + path}},
		argv: []string{"prog"},
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func (tr *depsTree) path(rel string) string { return filepath.Join(tr.dir, rel) }

func (tr *depsTree) build(t *testing.T) *Plan {
	t.Helper()
	pl, err := Build(tr.p, "c", tr.argv, tr.o)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// fact returns the recorded fact of path and call.
func fact(deps []stage.Dep, path string, lstat bool) (stage.Dep, bool) {
	i := slices.IndexFunc(deps, func(d stage.Dep) bool { return d.Path == path && d.Lstat == lstat })
	if i < 0 {
		return stage.Dep{}, false
	}
	return deps[i], true
}

// stale returns the recorded facts that differ when taken again now:
// the ones that would make the launch cache miss.
func stale(deps []stage.Dep) []stage.Dep {
	var out []stage.Dep
	for _, d := range deps {
		if !d.Holds() {
			out = append(out, d)
		}
	}
	return out
}

// nextTick waits until a file changed now gets timestamps later than any
// recorded fact's, so that a change made next shows in the facts (as
// Store's racy check ensures for real entries).
func nextTick(t *testing.T, deps []stage.Dep) {
	t.Helper()
	var last time.Time
	for _, d := range deps {
		for _, ts := range []time.Time{time.Unix(d.Stat.MtimeSec, d.Stat.MtimeNsec), time.Unix(d.Stat.CtimeSec, d.Stat.CtimeNsec)} {
			if ts.After(last) {
				last = ts
			}
		}
	}
	probe := filepath.Join(t.TempDir(), "tick")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if err := os.WriteFile(probe, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if d := stage.StatDep(probe, false); time.Unix(d.Stat.CtimeSec, d.Stat.CtimeNsec).After(last) {
			return
		}
	}
	t.Fatal("file timestamps do not advance")
}

func TestDepsRecorded(t *testing.T) {
	tr := newDepsTree(t)
	fds := make([]int, 2)
	if err := unix.Pipe2(fds, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	tr.o.KeepFDs = []int{fds[0]}
	pl := tr.build(t)
	if pl.Path != tr.path("bin/prog") {
		t.Fatalf("command resolved to %s", pl.Path)
	}
	deps, rlimits, openFDs := pl.Dependencies()
	var list strings.Builder
	for _, d := range deps {
		fmt.Fprintf(&list, "  lstat=%v errno=%d %s\n", d.Lstat, d.Errno, d.Path)
	}
	t.Logf("%d facts:\n%s", len(deps), list.String())
	want := func(path string, lstat bool, errno unix.Errno, what string) {
		t.Helper()
		d, ok := fact(deps, path, lstat)
		switch {
		case !ok:
			t.Errorf("%s: no fact of %s (lstat %v)", what, path, lstat)
		case d.Errno != errno:
			t.Errorf("%s: fact of %s has errno %v, want %v", what, path, d.Errno, errno)
		}
	}
	// The command, and the PATH candidates probed before it.
	want(tr.path("a/prog"), false, unix.ENOENT, "PATH candidate")
	want(tr.path("b/prog"), false, unix.ENOENT, "PATH candidate")
	want(tr.path("bin/prog"), false, 0, "the command")
	// Every link of the chain to it, and the directories walked.
	for _, p := range []string{"bin/prog", "links/l1", "links/l2", "real/prog", "bin", "links", "real"} {
		want(tr.path(p), true, 0, "symlink resolution")
	}
	// Its ELF interpreter and libraries.
	ef, err := elf.Open("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			p.ReadAt(b, 0)
			want(strings.TrimRight(string(b), "\x00"), false, 0, "ELF interpreter")
		}
	}
	if !slices.ContainsFunc(deps, func(d stage.Dep) bool { return filepath.Base(d.Path) == "libc.so.6" && !d.Lstat && d.Errno == 0 }) {
		t.Errorf("no fact of libc.so.6")
	}
	want("/etc/ld.so.conf", false, 0, "loader configuration")
	// The accounts, for user nobody and group nogroup.
	want("/etc/passwd", false, 0, "accounts")
	want("/etc/group", false, 0, "groups")
	// Every resource path.
	want(tr.path("keys"), false, 0, "resource keys")
	want(tr.path("missing/file.conf"), false, unix.ENOENT, "resource conf")
	want(tr.path("data"), false, 0, "resource data")
	// Once per path and call.
	seen := map[depKey]bool{}
	for _, d := range deps {
		k := keyOf(d)
		if seen[k] {
			t.Errorf("fact of %s (lstat %v) recorded twice", d.Path, d.Lstat)
		}
		seen[k] = true
	}
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	if !slices.Equal(rlimits, []stage.RlimitCheck{{Resource: unix.RLIMIT_NOFILE, Cur: lim.Cur, Max: lim.Max}}) {
		t.Errorf("rlimits %v", rlimits)
	}
	if !slices.Equal(openFDs, []int{fds[0]}) {
		t.Errorf("open fds %v, want [%d]", openFDs, fds[0])
	}
	if s := stale(deps); len(s) > 0 {
		t.Errorf("facts stale right after the build: %v", s)
	}
	// The facts are not part of the plan's JSON.
	b, err := json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(b, &keys)
	for k := range keys {
		if strings.Contains(k, "dep") || strings.Contains(k, "fds") && k != "keep_fds" || strings.Contains(k, "unsound") {
			t.Errorf("plan JSON has key %q", k)
		}
	}
}

func TestDepsStableBuild(t *testing.T) {
	tr := newDepsTree(t)
	d1, r1, f1 := tr.build(t).Dependencies()
	d2, r2, f2 := tr.build(t).Dependencies()
	if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(f1, f2) {
		t.Errorf("two builds on an unchanged tree record different facts:\n%v\n%v", d1, d2)
	}
	if len(d1) == 0 {
		t.Errorf("no facts")
	}
}

// Each change to the tree makes a recorded fact stale.
func TestDepsMutations(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, tr *depsTree)
		// stale are facts (path relative to the tree, lstat) that the
		// change must make stale.
		stale []pathCall
	}{
		{"replace the command binary", func(t *testing.T, tr *depsTree) {
			copyFile(t, "/bin/false", tr.path("real/prog.new"))
			if err := os.Rename(tr.path("real/prog.new"), tr.path("real/prog")); err != nil {
				t.Fatal(err)
			}
		}, []pathCall{{"bin/prog", false}, {"real/prog", true}}},
		{"add a file a resource glob matches", func(t *testing.T, tr *depsTree) {
			if err := os.WriteFile(tr.path("keys/new.pub"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []pathCall{{"keys", false}}},
		{"re-point a symlink of the chain", func(t *testing.T, tr *depsTree) {
			if err := os.Remove(tr.path("links/l2")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tr.path("real/other-prog"), tr.path("links/l2")); err != nil {
				t.Fatal(err)
			}
		}, []pathCall{{"links/l2", true}, {"bin/prog", false}}},
		{"create a missing resource path", func(t *testing.T, tr *depsTree) {
			if err := os.Mkdir(tr.path("missing"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tr.path("missing/file.conf"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []pathCall{{"missing/file.conf", false}}},
		{"create the command earlier in PATH", func(t *testing.T, tr *depsTree) {
			copyFile(t, "/bin/true", tr.path("a/prog"))
		}, []pathCall{{"a/prog", false}}},
		{"change the policy's executable to a symlink", func(t *testing.T, tr *depsTree) {
			if err := os.Rename(tr.path("real/prog"), tr.path("real/prog2")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("prog2", tr.path("real/prog")); err != nil {
				t.Fatal(err)
			}
		}, []pathCall{{"real/prog", true}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newDepsTree(t)
			pl := tr.build(t)
			deps, _, _ := pl.Dependencies()
			nextTick(t, deps)
			c.change(t, tr)
			st := stale(deps)
			if len(st) == 0 {
				t.Fatalf("no recorded fact changed: the cache would not miss")
			}
			for _, k := range c.stale {
				d, ok := fact(deps, tr.path(k.path), k.lstat)
				if !ok {
					t.Errorf("no fact of %s (lstat %v)", k.path, k.lstat)
				} else if !slices.Contains(st, d) {
					t.Errorf("fact of %s (lstat %v) did not change", k.path, k.lstat)
				}
			}
		})
	}
}

// pathCall names a fact: a path relative to the tree, and the call.
type pathCall struct {
	path  string
	lstat bool
}

// Names added to the directories crossed on the way to the command, and
// in the working directory, change no fact: the cache keeps hitting in
// a busy /tmp or a service's working directory.
func TestDepsCrossedDirectories(t *testing.T) {
	tr := newDepsTree(t)
	t.Chdir(tr.dir)
	tr.argv = []string{"./bin/prog"}
	deps, _, _ := tr.build(t).Dependencies()
	nextTick(t, deps)
	for _, d := range []string{".", "bin", "links", "real"} {
		if err := os.WriteFile(filepath.Join(tr.path(d), "new-name"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if st := stale(deps); len(st) > 0 {
		t.Errorf("names added to crossed directories made facts stale: %v", st)
	}
	// bin is crossed (an identity fact): replaced by another directory,
	// the fact is stale.
	var crossed []stage.Dep
	for _, d := range deps {
		if d.Path == tr.path("bin") && d.Lstat {
			crossed = append(crossed, d)
		}
	}
	if len(crossed) != 1 || !crossed[0].Identity {
		t.Fatalf("facts of the crossed bin: %v, want one identity fact", crossed)
	}
	if err := os.Rename(tr.path("bin"), tr.path("bin.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(tr.path("bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if crossed[0].Holds() {
		t.Errorf("the identity fact of bin holds for another directory")
	}
}

// A relative command resolves against the working directory: the facts
// that decide os.Getwd's answer are recorded.
func TestDepsRelativeCommand(t *testing.T) {
	tr := newDepsTree(t)
	t.Chdir(tr.dir)
	tr.argv = []string{"./bin/prog"}
	pl := tr.build(t)
	if pl.Path != tr.path("bin/prog") {
		t.Errorf("command resolved to %s", pl.Path)
	}
	deps, _, _ := pl.Dependencies()
	for _, p := range []string{".", os.Getenv("PWD")} {
		if _, ok := fact(deps, p, false); !ok {
			t.Errorf("no fact of %q", p)
		}
	}
}

// Remember's entry holds the plan's and the policy's facts; it refuses
// plans for another host, and entries whose dependencies changed just
// now.
func TestDepsRemember(t *testing.T) {
	cache := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + cache}
	o := Options{User: "nobody", Group: "nogroup", Environ: env}
	// A plan for a given host is not the running host's.
	pl, err := Build(icPolicy(t), "canister_sandbox", []string{"/bin/true"}, Options{Host: hostABI(7, 0), User: "nobody", Group: "nogroup"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Remember([]string{"x"}, env, "/", nil, "", []byte("record")); err == nil {
		t.Errorf("a plan for a given host was remembered")
	}
	pl, err = Build(icPolicy(t), "canister_sandbox", []string{"/bin/true"}, o)
	if err != nil {
		t.Fatal(err)
	}
	// A policy file written just now is too recent (Store refuses before
	// it writes anything).
	polFile := filepath.Join(t.TempDir(), "new.hcl")
	if err := os.WriteFile(polFile, []byte("# policy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pl.Remember([]string{"a"}, env, "/", []string{polFile}, "", []byte("record")); !errors.Is(err, ErrCacheRacy) || !errors.Is(err, stage.ErrRacy) {
		t.Errorf("Remember with a new policy file: %v, want ErrCacheRacy", err)
	}
	// The entry: the plan's facts, then the policy directory's.
	polDir, err := filepath.Abs("../examples/ic-node")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--policy", polDir, "--compartment", "canister_sandbox", "--", "/bin/true"}
	e, err := pl.cacheEntry(args, env, "/", []string{polDir}, "warning\n", []byte("record"))
	if err != nil {
		t.Fatal(err)
	}
	planDeps, rl, fds := pl.Dependencies()
	if !slices.Equal(e.Deps[:len(planDeps)], planDeps) || !slices.Equal(e.Rlimits, rl) || !slices.Equal(e.OpenFDs, fds) {
		t.Errorf("entry does not start with the plan's facts")
	}
	if d, ok := fact(e.Deps, polDir, false); !ok || d.Errno != 0 || !isDirectory(d.Stat) {
		t.Errorf("entry lacks the policy directory: %+v", d)
	}
	ents, _ := os.ReadDir(polDir)
	n := 0
	for _, ent := range ents {
		name := filepath.Join(polDir, ent.Name())
		_, ok := fact(e.Deps, name, false)
		if want := strings.HasSuffix(name, ".hcl") && !strings.HasSuffix(name, policy.TestFileSuffix); ok != want {
			t.Errorf("entry has a fact of %s: %v, want %v", name, ok, want)
		}
		if ok {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no policy file facts")
	}
	if _, ok := fact(e.Deps, "/etc/passwd", false); !ok {
		t.Errorf("entry lacks /etc/passwd")
	}
	if os.Geteuid() == 0 {
		return // root's cache is /run/rampart/run-cache: do not write there
	}
	err = pl.Remember(args, env, "/", []string{polDir}, "warning\n", []byte("record"))
	if errors.Is(err, ErrCacheRacy) {
		t.Skipf("a dependency changed in the last %v: %v", stage.RacyWindow, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	entry, err := os.ReadFile(filepath.Join(stage.CacheDir(os.Geteuid(), env), stage.CacheKey(args, env, "/")))
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(entry) != string(want) {
		t.Errorf("stored entry differs from the encoded one")
	}
}

func TestDepsPolicyFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.hcl", "b_test.hcl", "README", "sub.hcl/x.hcl"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	os.Symlink("a.hcl", filepath.Join(dir, "link.hcl"))
	single := filepath.Join(t.TempDir(), "one.hcl")
	os.WriteFile(single, nil, 0o644)
	r := newRecorder()
	r.policyFiles([]string{dir, single, filepath.Join(dir, "none")})
	var got []string
	for _, d := range r.deps {
		rel, _ := filepath.Rel(dir, d.Path)
		if d.Path == single {
			rel = "single"
		}
		got = append(got, fmt.Sprintf("%s lstat=%v errno=%d", rel, d.Lstat, d.Errno))
	}
	want := []string{
		". lstat=false errno=0",
		"a.hcl lstat=true errno=0",
		"a.hcl lstat=false errno=0",
		"link.hcl lstat=true errno=0",
		"link.hcl lstat=false errno=0",
		"sub.hcl lstat=true errno=0",
		"single lstat=false errno=0",
		fmt.Sprintf("none lstat=false errno=%d", unix.ENOENT),
	}
	if !slices.Equal(got, want) {
		t.Errorf("policy facts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The recorded glob and symlink walk agree with the standard library's.
func TestDepsGlobAndSymlinks(t *testing.T) {
	tr := newDepsTree(t)
	r := newRecorder()
	for _, pat := range []string{tr.path("*/*.pub"), tr.path("keys/*"), tr.path("links/l?"), tr.path("nope/*"), tr.path("keys/id.pub"), tr.path("[")} {
		got, gerr := r.glob(pat)
		want, werr := filepath.Glob(pat)
		if !slices.Equal(got, want) || (gerr == nil) != (werr == nil) {
			t.Errorf("glob %s = %v %v, want %v %v", pat, got, gerr, want, werr)
		}
	}
	if _, ok := fact(r.deps, tr.dir, false); !ok {
		t.Errorf("glob */*.pub: no fact of the directory read")
	}
	os.Symlink("../bin/prog/x", tr.path("links/bad"))
	os.Symlink("loop", tr.path("links/loop"))
	t.Chdir(tr.dir)
	for _, p := range []string{tr.path("bin/prog"), tr.path("links/../bin/./prog"), tr.path("links/bad"), tr.path("links/loop"), tr.path("nope/x"), "bin/prog", "../" + filepath.Base(tr.dir) + "/links/l1"} {
		got, gerr := r.evalSymlinks(p)
		want, werr := filepath.EvalSymlinks(p)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Errorf("evalSymlinks %s = %q %v, want %q %v", p, got, gerr, want, werr)
		}
	}
}

// Reading what a stat does not cover makes the plan uncacheable.
func TestDepsUnsound(t *testing.T) {
	r := newRecorder()
	if f, err := r.open("/dev/null"); err == nil {
		f.Close()
	}
	if r.unsound == "" {
		t.Errorf("reading /dev/null is recorded as sound")
	}
	tr := newDepsTree(t)
	tr.o.Host = nil
	pl := tr.build(t)
	if _, err := pl.cacheEntry(nil, nil, "/", nil, "", nil); err != nil {
		t.Errorf("cacheEntry: %v", err)
	}
	pl.unsound = r.unsound
	if _, err := pl.cacheEntry(nil, nil, "/", nil, "", nil); err == nil || !strings.Contains(err.Error(), "/dev/null") {
		t.Errorf("cacheEntry of an unsound plan: %v", err)
	}
}
