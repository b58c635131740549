package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/ptytest"
)

// runEnv builds the sandbox probe and writes a small policy, in a
// directory outside /tmp (the sandbox's /tmp is private).
func runEnv(t *testing.T) (dir, probe, pol string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain needed to build the probe")
	}
	dir, err := os.MkdirTemp("/var/tmp", "rampart-run-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	probe = filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-o", probe, "../../sandbox/internal/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v\n%s", err, out)
	}
	// The sandbox hides the host's /tmp: run from a directory it shows, so
	// that the launcher has no notice to print about the working directory.
	t.Chdir("/")
	os.Mkdir(filepath.Join(dir, "data"), 0o777)
	os.WriteFile(filepath.Join(dir, "data/f"), []byte("x"), 0o644)
	pol = filepath.Join(dir, "p.hcl")
	src := fmt.Sprintf(`
resource "data" {
  kind  = "directory"
  paths = ["%s/data/**"]
}
compartment "worker" {
  tier     = "trusted"
  user     = "nobody"
  group    = "nogroup"
  syscalls = ["@system-service"]
  allow {
    verbs = ["read"]
    on    = ["data"]
  }
}
role "ops" {
  allow {
    verbs = ["read"]
    on    = ["data"]
  }
}
`, dir)
	if err := os.WriteFile(pol, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, probe, pol
}

func TestRunHelp(t *testing.T) {
	code, out, _ := run(t, "run", "--help")
	if code != 0 || !strings.Contains(out, "Usage: rampart run") || !strings.Contains(out, "--require-full") || !strings.Contains(out, "125") {
		t.Fatalf("run --help: %d\n%s", code, out)
	}
}

func TestRunErrors(t *testing.T) {
	dir, probe, pol := runEnv(t)
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("compartment \"x\" {\n  tier = \"nonsense\"\n}\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--compartment", "worker", probe}, 125, "--policy and --compartment are required"},
		{[]string{"run", "--policy", pol, "--no-such-flag", probe}, 125, "flag provided but not defined"},
		{[]string{"run", "--policy", pol, "--compartment", "wroker", probe}, 125, `did you mean "worker"`},
		{[]string{"run", "--policy", pol, "--compartment", "ops", probe}, 125, "is a role"},
		{[]string{"run", "--policy", bad, "--compartment", "x", probe}, 125, "bad.hcl:2:"},
		{[]string{"run", "--policy", pol, "--compartment", "worker", "--seccomp-action", "trap", probe}, 125, "unknown seccomp action"},
		{[]string{"run", "--policy", pol, "--compartment", "worker", "--add-syscalls", "@nope", probe}, 125, "unknown syscall group"},
		{[]string{"run", "--policy", pol, "--compartment", "worker", "--", filepath.Join(dir, "missing")}, 127, "no such file"},
		{[]string{"run", "--policy", pol, "--compartment", "worker", "--", pol}, 126, "not an executable"},
		{[]string{"run", "--policy", pol, "--compartment", "worker"}, 125, "has no executables"},
	} {
		code, out, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", c.args[1:], code, c.code, out, errOut)
		}
	}
}

func TestRunCommand(t *testing.T) {
	dir, probe, pol := runEnv(t)
	data := filepath.Join(dir, "data/f")
	// Flags end at the command: --explain and --quiet are the probe's.
	code, out, errOut := run(t, "run", "--quiet", "--policy", pol, "--compartment", "worker", probe, "read", data, "read", pol, "echo", "--explain", "exit", "3")
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"read " + data + ": ok", "read " + pol + ": EACCES", "echo --explain: --explain"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("--quiet run printed %q", errOut)
	}
	// Without --quiet the gaps of this kernel are reported first.
	code, _, errOut = run(t, "run", "--policy", pol, "--compartment", "worker", "--", probe, "exit", "0")
	if code != 0 || !strings.Contains(errOut, "warning") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// --log-refused reports what seccomp refused.
	code, out, errOut = run(t, "run", "--quiet", "--log-refused", "--policy", pol, "--compartment", "worker", "--", probe, "syscall", "ptrace")
	if code != 0 || !strings.Contains(out, "syscall ptrace: EPERM") || !strings.Contains(errOut, "refused syscall ptrace") {
		t.Errorf("--log-refused: exit %d\n%s%s", code, out, errOut)
	}
	// kill mode: 128+SIGSYS.
	code, _, _ = run(t, "run", "--quiet", "--seccomp-action", "kill", "--policy", pol, "--compartment", "worker", "--", probe, "syscall", "ptrace")
	if code != 159 {
		t.Errorf("kill mode: exit %d, want 159", code)
	}
}

func TestRunExplain(t *testing.T) {
	_, probe, pol := runEnv(t)
	code, out, errOut := run(t, "run", "--explain", "--policy", pol, "--compartment", "worker", "--", probe)
	if code != 0 {
		t.Fatalf("--explain: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"[Landlock]", "[seccomp]", "[namespaces]", "[mount namespace]", "[capabilities, prctl, rlimit]", "[credentials]", "gaps [", "allowlist of", "read_file,read_dir"} {
		if !strings.Contains(out, want) {
			t.Errorf("--explain lacks %q", want)
		}
	}
	code, out, _ = run(t, "run", "--explain", "--json", "--policy", pol, "--compartment", "worker", "--", probe)
	var plan struct {
		Compartment string
		Landlock    struct {
			Paths []struct{ Path, Access string }
		}
		Gaps []struct{ Mechanism, What string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &plan) != nil || plan.Compartment != "worker" || len(plan.Landlock.Paths) == 0 {
		t.Fatalf("--json: exit %d, %+v\n%s", code, plan, out)
	}
	// --require-full: a failed check (1) with --explain, a refusal to
	// run (125) otherwise, when this kernel has gaps.
	code, _, errOut = run(t, "run", "--explain", "--require-full", "--policy", pol, "--compartment", "worker", "--", probe)
	runCode, runOut, runErr := run(t, "run", "--require-full", "--policy", pol, "--compartment", "worker", "--", probe, "echo", "ran")
	if len(plan.Gaps) > 0 {
		if code != 1 || !strings.Contains(errOut, "--require-full") {
			t.Errorf("--explain --require-full with gaps: exit %d %s", code, errOut)
		}
		if runCode != 125 || strings.Contains(runOut, "ran") || !strings.Contains(runErr, plan.Gaps[0].What) {
			t.Errorf("--require-full with gaps: exit %d\n%s%s", runCode, runOut, runErr)
		}
	} else if code != 0 || runCode != 0 {
		t.Errorf("--require-full without gaps: exit %d, %d", code, runCode)
	}
}

// initOrder returns the package initialization order the linker recorded
// in a Go binary (go:main.inittasks: the packages with init work, in the
// order the runtime initializes them).
func initOrder(t *testing.T, bin string) []string {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	tasks := map[uint64]string{}
	var list *elf.Symbol
	for i, s := range syms {
		if p, ok := strings.CutSuffix(s.Name, "..inittask"); ok {
			tasks[s.Value] = p
		}
		if s.Name == "go:main.inittasks" {
			list = &syms[i]
		}
	}
	if list == nil {
		t.Skip("no go:main.inittasks symbol in the binary (linker changed?)")
	}
	ptr := uint64(8)
	if f.Class == elf.ELFCLASS32 {
		ptr = 4
	}
	for _, sec := range f.Sections {
		if list.Value < sec.Addr || list.Value+list.Size > sec.Addr+sec.Size {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			t.Fatal(err)
		}
		data = data[list.Value-sec.Addr : list.Value-sec.Addr+list.Size]
		var order []string
		for i := uint64(0); i+ptr <= uint64(len(data)); i += ptr {
			a := uint64(f.ByteOrder.Uint32(data[i:]))
			if ptr == 8 {
				a = f.ByteOrder.Uint64(data[i:])
			}
			order = append(order, tasks[a])
		}
		return order
	}
	t.Fatal("go:main.inittasks is in no section")
	return nil
}

// matchPkg reports whether package p is pattern, or under it when pattern
// ends in "/".
func matchPkg(p, pattern string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(p, pattern)
	}
	return p == pattern
}

// TestRunInitOrder guards the design that keeps a launch that is not in
// the launch cache cheap: "rampart run" runs from the init function of
// package runcli, so that Go has not initialized the program's heavy
// packages yet (see docs/confinement.md). An import that changes the
// order fails here.
func TestRunInitOrder(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	_, probe, pol := runEnv(t) // changes to /
	bin := buildRampart(t, wd)
	const runcli = "github.com/rampart-sec/rampart/cmd/rampart/internal/runcli"
	// Packages that "rampart run" does not need, and whose initialization
	// costs: none may be initialized before runcli.
	// (A name ending in "/" is a prefix.)
	heavy := []string{
		"github.com/prometheus/client_golang/prometheus",
		"github.com/prometheus/client_golang/prometheus/collectors",
		"github.com/prometheus/procfs", "github.com/google/cel-go/cel",
		"net/http", "html/template", "expvar", "crypto/x509",
		"github.com/rampart-sec/rampart/forensics/",
	}
	order := initOrder(t, bin)
	i := slices.Index(order, runcli)
	if i < 0 {
		t.Fatalf("%s has no init work in the binary", runcli)
	}
	for _, p := range order[:i] {
		for _, h := range heavy {
			if matchPkg(p, h) {
				t.Errorf("%s is initialized before %s", p, runcli)
			}
		}
	}
	// And at run time: with GODEBUG=inittrace=1 the runtime prints a line
	// for each package it has initialized. runcli's init function exits
	// (it ran the command), so its line never comes, nor any heavy one.
	cmd := exec.Command(bin, "run", "--explain", "--policy", pol, "--compartment", "worker", "--", probe)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), "[Landlock]") {
		t.Fatalf("run --explain: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var inits []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "init" && strings.HasPrefix(f[2], "@") {
			inits = append(inits, f[1])
		}
	}
	if !slices.Contains(inits, "github.com/rampart-sec/rampart/policy") || slices.Contains(inits, runcli) {
		t.Fatalf("rampart run did not run from %s's init:\n%s", runcli, strings.Join(inits, "\n"))
	}
	for _, p := range inits {
		for _, h := range heavy {
			if matchPkg(p, h) {
				t.Errorf("rampart run initialized %s", p)
			}
		}
	}
}

// buildRampart builds the rampart binary (with its C launcher) from
// package directory wd.
func buildRampart(t *testing.T, wd string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "rampart-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "rampart")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = wd
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building rampart: %v\n%s", err, out)
	}
	return bin
}

// cacheEnv is runEnv with the rampart binary built and an empty launch
// cache directory.
func cacheEnv(t *testing.T) (dir, probe, pol, bin, cache string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, probe, pol = runEnv(t)
	bin = buildRampart(t, wd)
	cache = filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, probe, pol, bin, cache
}

// TestRunLaunchCache checks that a repeated "rampart run" starts from the
// launch cache without the Go runtime, and that whatever the plan was
// built from, changed, sends it back to the Go planner.
func TestRunLaunchCache(t *testing.T) {
	dir, probe, pol, bin, cache := cacheEnv(t)
	data := filepath.Join(dir, "data/f")
	// With GODEBUG=inittrace=1 the Go runtime prints a line for each
	// package it initializes: a launch from the cache prints none.
	baseEnv := append(os.Environ(), "RAMPART_RUN_CACHE="+cache, "GODEBUG=inittrace=1")
	type result struct {
		code    int
		out     string
		goStart bool
	}
	launch := func(env []string, flags ...string) result {
		t.Helper()
		args := append([]string{"run", "--quiet", "--policy", pol, "--compartment", "worker"}, flags...)
		args = append(args, "--", probe, "read", data, "echo", "hello", "exit", "3")
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		r := result{code, stdout.String(), strings.HasPrefix(stderr.String(), "init ") || strings.Contains(stderr.String(), "\ninit ")}
		for _, l := range strings.Split(stderr.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, "init ") {
				t.Errorf("stderr: %s", l)
			}
		}
		return r
	}
	allowed := "read " + data + ": ok\necho hello: hello\n"
	denied := "read " + data + ": EACCES\necho hello: hello\n"
	check := func(what string, r result, out string, goStart bool) {
		t.Helper()
		if r.code != 3 || r.out != out || r.goStart != goStart {
			t.Errorf("%s: exit %d, Go runtime started %v (want %v), output:\n%s", what, r.code, r.goStart, goStart, r.out)
		}
	}
	// Files changed within the last two seconds keep a plan out of the
	// cache: a later change could carry the same timestamps.
	src, err := os.ReadFile(pol)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pol, src, 0o644); err != nil {
		t.Fatal(err)
	}
	check("fresh policy", launch(baseEnv), allowed, true)
	check("fresh policy, again", launch(baseEnv), allowed, true)
	time.Sleep(2100 * time.Millisecond)
	check("first launch", launch(baseEnv), allowed, true)
	check("second launch", launch(baseEnv), allowed, false)
	check("third launch", launch(baseEnv), allowed, false)
	check("--no-cache", launch(baseEnv, "--no-cache"), allowed, true)
	check("--no-cache, again", launch(baseEnv, "--no-cache"), allowed, true)
	check("another environment", launch(append(baseEnv[:len(baseEnv):len(baseEnv)], "X=1")), allowed, true)

	// A changed policy is planned anew, at once.
	narrowed := strings.Replace(string(src), "  allow {\n    verbs = [\"read\"]\n    on    = [\"data\"]\n  }\n}\nrole", "}\nrole", 1)
	if narrowed == string(src) {
		t.Fatal("could not narrow the policy")
	}
	if err := os.WriteFile(pol, []byte(narrowed), 0o644); err != nil {
		t.Fatal(err)
	}
	check("narrowed policy", launch(baseEnv), denied, true)
	time.Sleep(2100 * time.Millisecond)
	check("narrowed policy, planned", launch(baseEnv), denied, true)
	check("narrowed policy, cached", launch(baseEnv), denied, false)

	// A corrupt entry is ignored (and replaced).
	entries, err := os.ReadDir(cache)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache directory: %v, %d entries", err, len(entries))
	}
	for _, e := range entries {
		p := filepath.Join(cache, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i := 8; i < len(b); i += 97 {
			b[i] ^= 0x5a
		}
		os.WriteFile(p, b, 0o600)
	}
	check("corrupt entry", launch(baseEnv), denied, true)
	check("replaced entry", launch(baseEnv), denied, false)

	// A cache directory others may write to is not used.
	os.Chmod(cache, 0o755)
	check("group-readable cache", launch(baseEnv), denied, true)
	check("group-readable cache, again", launch(baseEnv), denied, true)
	os.Chmod(cache, 0o700)
	check("private again", launch(baseEnv), denied, false)
}

// TestRunTerminalSignal checks that a Ctrl-C on the terminal reaches the
// command once: the terminal signals the whole foreground process group
// (rampart's launcher, the sandbox's init and the command), so neither
// relays a signal the kernel sent. A SIGINT sent to rampart itself is
// relayed, once.
func TestRunTerminalSignal(t *testing.T) {
	_, probe, pol, bin, cache := cacheEnv(t)
	env := append(os.Environ(), "RAMPART_RUN_CACHE="+cache, "GODEBUG=inittrace=1")
	time.Sleep(2100 * time.Millisecond) // let the files age (see TestRunLaunchCache)
	count := regexp.MustCompile(`sigcount 1: (\d+)`)
	launch := func(how string, viaTerminal bool, flags ...string) {
		t.Helper()
		ptmx, tty := ptytest.Open(t)
		args := append(append([]string{"run", "--quiet", "--policy", pol, "--compartment", "worker"}, flags...), "--", probe, "sigcount", "1")
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdin, cmd.Stdout = tty, tty
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		out := make(chan string)
		go func() {
			var b strings.Builder
			buf := make([]byte, 512)
			sent := false
			for {
				k, err := ptmx.Read(buf)
				b.Write(buf[:k])
				if !sent && strings.Contains(b.String(), "sigcount: ready") {
					sent = true
					if viaTerminal {
						ptmx.Write([]byte{3}) // ^C
					} else {
						cmd.Process.Signal(syscall.SIGINT)
					}
				}
				if err != nil || count.MatchString(b.String()) {
					out <- b.String()
					return
				}
			}
		}()
		var got string
		select {
		case got = <-out:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%s: no answer", how)
		}
		cmd.Wait()
		m := count.FindStringSubmatch(got)
		if m == nil || m[1] != "1" {
			t.Errorf("%s: the command got %v SIGINTs, want 1:\n%s", how, m, got)
		}
		goStart := strings.Contains(stderr.String(), "init ")
		if wantGo := how != "from the cache"; goStart != wantGo {
			t.Errorf("%s: Go runtime started %v", how, goStart)
		}
	}
	launch("planned", true)
	launch("from the cache", true)
	launch("planned, not cached", true, "--no-cache")
	launch("from the cache", false)
	launch("planned, not cached", false, "--no-cache")
}
