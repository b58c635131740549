package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
