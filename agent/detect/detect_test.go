package detect_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/agent/rules"
)

func env(t testing.TB) *detect.Env {
	t.Helper()
	e, err := detect.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func shipped(t testing.TB) *detect.Rules {
	t.Helper()
	rs, err := env(t).LoadFS(rules.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func matches(t testing.TB, rs *detect.Rules, ev *detect.Event) []string {
	t.Helper()
	var out []string
	rs.Eval(ev, func(r *detect.Rule) { out = append(out, r.Name) }, func(r *detect.Rule, err error) {
		t.Errorf("%s: %v", r.Name, err)
	})
	return out
}

func comp(name, tier, by string) detect.Subject {
	return detect.Subject{Kind: "compartment", Name: name, Tier: tier, By: by}
}

// TestShippedRules runs each shipped rule on an event it must match and
// on near misses it must not.
func TestShippedRules(t *testing.T) {
	rs := shipped(t)
	if rs.Len() != 5 {
		t.Fatalf("%d shipped rules, want 5", rs.Len())
	}
	web := detect.Process{Known: true, PID: 10, Exe: "/opt/web/bin/web", Subject: comp("web", "network-facing", "exe")}
	vault := detect.Process{Known: true, PID: 11, Exe: "/opt/vault/bin/vault", Subject: comp("vault", "trusted", "exe")}
	shell := detect.Process{Known: true, PID: 12, Exe: "/usr/bin/dash", Subject: comp("web", "network-facing", "parent")}
	secret := detect.Access{Verb: "read", Path: "/var/lib/keys/k", Object: "keys", Kind: "file", Labels: []string{"secret"}, Owner: "vault", Checked: true}
	cases := []struct {
		name string
		ev   detect.Event
		want string
	}{
		{"shell from web", detect.Event{Syscall: "execve", Success: true, Proc: shell, Subject: shell.Subject, Parent: web}, "shell_from_network_facing"},
		{"shell from vault", detect.Event{Syscall: "execve", Success: true, Proc: shell, Subject: vault.Subject, Parent: vault}, ""},
		{"failed exec", detect.Event{Syscall: "execve", Success: false, Proc: shell, Parent: web}, ""},
		{"exec in place", detect.Event{Syscall: "execve", Success: true, Proc: shell, Prev: web}, "shell_from_network_facing"},
		{"not a shell", detect.Event{Syscall: "execve", Success: true, Proc: vault, Parent: web}, ""},
		{"write exe", detect.Event{Syscall: "openat", Access: []detect.Access{{Verb: "write", Path: "/usr/bin/ls", Executable: true}}}, "write_to_executable"},
		{"granted write", detect.Event{Syscall: "openat", Access: []detect.Access{{Verb: "write", Executable: true, Checked: true, Allowed: true}}}, ""},
		{"refused write", detect.Event{Syscall: "openat", Access: []detect.Access{{Verb: "write", Executable: true, Attempt: true}}}, ""},
		{"read exe", detect.Event{Syscall: "openat", Access: []detect.Access{{Verb: "read", Executable: true}}}, ""},
		{"ptrace other", detect.Event{Syscall: "ptrace", Subject: web.Subject, Target: vault}, "ptrace_other_compartment"},
		{"ptrace own", detect.Event{Syscall: "ptrace", Subject: vault.Subject, Target: vault}, ""},
		{"ptrace outside", detect.Event{Syscall: "ptrace", Subject: web.Subject, Target: detect.Process{Known: true, PID: 1}}, ""},
		{"finit_module", detect.Event{Syscall: "finit_module", Exit: -9}, "kernel_module_load"},
		{"KERN_MODULE", detect.Event{Records: []string{"KERN_MODULE"}}, "kernel_module_load"},
		{"delete_module", detect.Event{Syscall: "delete_module"}, ""},
		{"key read by web", detect.Event{Syscall: "openat", Subject: web.Subject, Access: []detect.Access{secret}}, "key_read_by_non_owner"},
		{"key read by nobody", detect.Event{Syscall: "openat", Access: []detect.Access{secret}}, "key_read_by_non_owner"},
		{"key read by owner", detect.Event{Syscall: "openat", Subject: vault.Subject, Access: []detect.Access{secret}}, ""},
	}
	for _, c := range cases {
		got := strings.Join(matches(t, rs, &c.ev), ",")
		if got != c.want {
			t.Errorf("%s: matched %q, want %q", c.name, got, c.want)
		}
	}
}

// TestCompileErrors checks that problems are reported at their position
// in the file, all of them, with the file's name.
func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a_typo.cel", "// severity: high\n// description: typo\n\nevent.syscall == \"execve\" &&\n  event.proc.exee == \"x\"\n")
	write("b_badsev.cel", "// severity: urgent\nevent.success\n")
	write("c_notbool.cel", "// description: not a condition\nevent.proc.pid + 1\n")
	write("d_syntax.cel", "event.syscall == \n")
	write("e_ok.cel", "// tags: a, b\nin_dir(event.proc.exe, \"/usr\")\n")
	write("f_off.cel", "// enabled: false\nevent.success\n")
	_, err := env(t).Load(dir)
	var de *detect.Error
	if !errors.As(err, &de) {
		t.Fatalf("Load: %v, want *detect.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "a_typo.cel") + ":5:13: undefined field 'exee'",
		filepath.Join(dir, "b_badsev.cel") + ":1:4: severity \"urgent\"",
		filepath.Join(dir, "c_notbool.cel") + ":2:1: a rule must be a boolean expression",
		filepath.Join(dir, "d_syntax.cel") + ":2:1:",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors lack %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "e_ok") || strings.Contains(msg, "f_off") {
		t.Errorf("errors for valid or disabled rules:\n%s", msg)
	}

	// The valid ones load, the disabled one is skipped.
	for _, f := range []string{"a_typo.cel", "b_badsev.cel", "c_notbool.cel", "d_syntax.cel"} {
		os.Remove(filepath.Join(dir, f))
	}
	rs, err := env(t).Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 1 || rs.List()[0].Name != "e_ok" || strings.Join(rs.List()[0].Tags, "|") != "a|b" {
		t.Fatalf("loaded %v", rs.List())
	}
	ev := &detect.Event{Proc: detect.Process{Exe: "/usr/bin/x"}}
	if got := matches(t, rs, ev); len(got) != 1 {
		t.Errorf("in_dir rule did not match /usr/bin/x")
	}
	ev.Proc.Exe = "/usrx/bin"
	if got := matches(t, rs, ev); len(got) != 0 {
		t.Errorf("in_dir rule matched /usrx/bin")
	}
}

// TestEvalError checks that a rule failing at run time does not match and
// is reported.
func TestEvalError(t *testing.T) {
	r, err := env(t).Compile("idx.cel", "event.argv[3] == \"x\"")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := r.Match(&detect.Event{Argv: []string{"a"}})
	if ok || err == nil {
		t.Fatalf("Match = %v, %v; want false and an error", ok, err)
	}
}

func BenchmarkShippedRules(b *testing.B) {
	rs := shipped(b)
	ev := &detect.Event{Syscall: "openat", Success: true, Type: "SYSCALL", Records: []string{"SYSCALL", "CWD", "PATH", "PROCTITLE"},
		Proc:    detect.Process{Known: true, PID: 100, Exe: "/usr/bin/cat", Subject: comp("reader", "trusted", "exe")},
		Subject: comp("reader", "trusted", "exe"),
		Access:  []detect.Access{{Verb: "read", Path: "/etc/passwd", Object: "etc", Kind: "file", Checked: true, Allowed: true}}}
	b.ReportAllocs()
	for b.Loop() {
		rs.Eval(ev, func(*detect.Rule) {}, nil)
	}
}

// TestDocExamples compiles the example rules of docs/agent.md, so that
// the documentation cannot drift from the language.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/agent.md")
	if err != nil {
		t.Skipf("docs/agent.md: %v", err)
	}
	s := string(doc)
	i := strings.Index(s, "More examples:")
	if i < 0 {
		t.Fatal("docs/agent.md: no \"More examples:\"")
	}
	s = s[i:]
	start := strings.Index(s, "```\n") + 4
	end := strings.Index(s[start:], "```")
	examples := strings.Split(strings.TrimSpace(s[start:start+end]), "\n\n")
	if len(examples) < 4 {
		t.Fatalf("%d examples", len(examples))
	}
	e := env(t)
	for n, src := range examples {
		if _, err := e.Compile(fmt.Sprintf("example_%d.cel", n), src); err != nil {
			t.Errorf("example %d:\n%s\n%v", n, src, err)
		}
	}
	// and the first example in the rule file format section
	i = strings.Index(string(doc), "### Detection rules")
	s = string(doc)[i:]
	start = strings.Index(s, "```\n") + 4
	end = strings.Index(s[start:], "```")
	if _, err := e.Compile("shell.cel", s[start:start+end]); err != nil {
		t.Errorf("format example: %v", err)
	}
}
