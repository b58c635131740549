package sandbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
)

func icPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load("../examples/ic-node")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// host7 is this project's development kernel, as a fixed Host so that
// plan tests do not depend on the machine.
func hostABI(abi int, uid int) *Host {
	return &Host{Kernel: "test", Arch: "x86_64", LandlockABI: abi, Seccomp: true, MDWE: true, UID: uid, GID: uid}
}

func TestTreeOf(t *testing.T) {
	for _, c := range []struct {
		glob, path    string
		exact, widens bool
	}{
		{"/var/lib/ic/data/**", "/var/lib/ic/data", false, false},
		{"/etc/app.conf", "/etc/app.conf", true, false},
		{"/var/lib/app/keys/*.pub", "/var/lib/app/keys", false, true},
		{"/a/*/c/**", "/a", false, true},
		{"/**", "/", false, false},
		{"/dev/vd?", "/dev", false, true},
	} {
		p, exact, widens := treeOf(c.glob)
		if p != c.path || exact != c.exact || widens != c.widens {
			t.Errorf("treeOf(%q) = %q %v %v, want %q %v %v", c.glob, p, exact, widens, c.path, c.exact, c.widens)
		}
	}
}

func TestVerbRights(t *testing.T) {
	self, parent, _ := verbRights(policy.VerbRead, policy.KindDirectory, true)
	if self != fsReadFile|fsReadDir || parent != 0 {
		t.Errorf("read directory: %v %v", FSAccess(self), FSAccess(parent))
	}
	self, parent, note := verbRights(policy.VerbCreate, policy.KindFile, false)
	if self != 0 || parent != fsMakeReg || note == "" {
		t.Errorf("create file: %v %v %q", FSAccess(self), FSAccess(parent), note)
	}
	self, _, _ = verbRights(policy.VerbExecute, policy.KindFile, false)
	if self != fsExecute|fsReadFile {
		t.Errorf("execute: %v", FSAccess(self))
	}
	if _, _, note := verbRights(policy.VerbSetattr, policy.KindFile, false); !strings.Contains(note, "not restricted") {
		t.Errorf("setattr note %q", note)
	}
	var a FSAccess
	if err := a.UnmarshalText([]byte(FSAccess(fsReadFile | fsMakeSock).String())); err != nil || a != fsReadFile|fsMakeSock {
		t.Errorf("FSAccess round trip: %v %v", a, err)
	}
}

// The IC example's canister sandbox: memory and compiled code only, no
// network, no key store, no capabilities, its syscall allowlist.
func TestPlanCanisterSandbox(t *testing.T) {
	p := icPolicy(t)
	pl, err := Build(p, "canister_sandbox", []string{"/bin/true"}, Options{Host: hostABI(7, 0), User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range pl.Landlock.Paths {
		if !r.Runtime {
			paths = append(paths, r.Path)
		}
		if strings.HasPrefix(r.Path, "/var/lib/ic/crypto") {
			t.Errorf("canister sandbox has a rule on the key store: %+v", r)
		}
	}
	want := []string{"/var/lib/ic/data/ic_state/page_deltas", "/var/lib/ic/data/wasm_cache"}
	if !slices.Equal(paths, want) {
		t.Errorf("policy paths %v, want %v", paths, want)
	}
	if len(pl.Landlock.Ports) != 0 || !pl.Namespaces.Net {
		t.Errorf("canister sandbox has network: ports %v, netns %v", pl.Landlock.Ports, pl.Namespaces.Net)
	}
	if len(pl.Capabilities) != 0 || !pl.DenyWriteExecute {
		t.Errorf("capabilities %v, MDWE %v", pl.Capabilities, pl.DenyWriteExecute)
	}
	if pl.Seccomp.Mode != "allowlist" || slices.Contains(pl.Seccomp.Syscalls, "socket") || !slices.Contains(pl.Seccomp.Syscalls, "sendmsg") {
		t.Errorf("seccomp %s: socket %v sendmsg %v", pl.Seccomp.Mode, slices.Contains(pl.Seccomp.Syscalls, "socket"), slices.Contains(pl.Seccomp.Syscalls, "sendmsg"))
	}
	rl := map[string]uint64{}
	for _, r := range pl.Rlimits {
		rl[r.Name] = r.Value
	}
	if rl["core"] != 0 || rl["nofile"] == 0 {
		t.Errorf("rlimits %v", pl.Rlimits)
	}
	var limits bytes.Buffer
	for _, n := range pl.Limits {
		limits.WriteString(n.What + "\n")
	}
	for _, want := range []string{"memory", "tasks", "sandbox_rpc"} {
		if !strings.Contains(limits.String(), want) {
			t.Errorf("limits do not mention %s:\n%s", want, limits.String())
		}
	}
}

// The crypto vault serves its unix socket and reads keys; it has no TCP
// channel, so it gets a network namespace.
func TestPlanCryptoVault(t *testing.T) {
	p := icPolicy(t)
	pl, err := Build(p, "crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(9, 0), User: "nobody", Group: "nogroup"})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]PathRule{}
	for _, r := range pl.Landlock.Paths {
		rules[r.Path] = r
	}
	keys := rules["/var/lib/ic/crypto"]
	if keys.Access&fsReadFile == 0 || !keys.Dir {
		t.Errorf("key store rule %+v", keys)
	}
	sock := rules["/run/ic-node/crypto-csp"]
	if sock.Access != fsMakeSock|fsRemoveFile {
		t.Errorf("socket directory rule %+v", sock)
	}
	if !pl.Namespaces.Net {
		t.Errorf("crypto vault shares the host network")
	}
	if pl.Identity.User != "nobody" || pl.Identity.Group != "nogroup" || !pl.Identity.Switch {
		t.Errorf("identity %+v", pl.Identity)
	}
	// The replica is a client of the vault's socket: resolve_unix on
	// ABI 9, and the directory is bound into the private /run.
	pr, err := Build(p, "replica", []string{"/bin/true"}, Options{Host: hostABI(9, 0), User: "nobody", Group: "nogroup"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range pr.Landlock.Paths {
		if r.Path == "/run/ic-node/crypto-csp" && r.Access&fsResolveUnix != 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("replica has no resolve_unix rule on the vault's socket directory")
	}
	if pr.Namespaces.Net {
		t.Errorf("replica (p2p server) got its own network namespace")
	}
	var ports []uint16
	for _, r := range pr.Landlock.Ports {
		ports = append(ports, r.Port)
	}
	if !slices.Equal(ports, []uint16{4100, 9090}) {
		t.Errorf("replica ports %v", ports)
	}
}

// A kernel without newer Landlock ABIs reports each missing right as a
// gap; a network namespace covers the network ones.
func TestGapsByABI(t *testing.T) {
	p := icPolicy(t)
	gaps := func(comp string, abi int) string {
		pl, err := Build(p, comp, []string{"/bin/true"}, Options{Host: hostABI(abi, 0), User: "nobody", Group: "nogroup"})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, g := range pl.Gaps {
			b.WriteString(g.String() + "\n")
		}
		return b.String()
	}
	if g := gaps("http_endpoint", 3); !strings.Contains(g, "TCP bind and connect") || !strings.Contains(g, "ioctl") {
		t.Errorf("ABI 3 gaps:\n%s", g)
	}
	if g := gaps("canister_sandbox", 3); strings.Contains(g, "TCP") {
		t.Errorf("network namespace should cover TCP:\n%s", g)
	}
	if g := gaps("canister_sandbox", 7); !strings.Contains(g, "pathname unix sockets") {
		t.Errorf("ABI 7 lacks resolve_unix:\n%s", g)
	}
	if g := gaps("http_endpoint", 7); !strings.Contains(g, "UDP") {
		t.Errorf("host network on ABI 7 lacks UDP rules:\n%s", g)
	}
	if g := gaps("canister_sandbox", 10); g != "" {
		t.Errorf("ABI 10 gaps:\n%s", g)
	}
	if g := gaps("canister_sandbox", 0); !strings.Contains(g, "no Landlock") {
		t.Errorf("ABI 0 gaps:\n%s", g)
	}
	pl, _ := Build(p, "canister_sandbox", []string{"/bin/true"}, Options{Host: hostABI(7, 0), User: "nobody"})
	if err := pl.RequireFull(); err == nil || !strings.Contains(err.Error(), "ABI 9") {
		t.Errorf("RequireFull = %v", err)
	}
}

// Landlock cannot exclude a subtree: a grant on ic_data reaches ic_state.
func TestWidening(t *testing.T) {
	src := `
resource "data"  {
  kind = "directory"
  paths = ["/srv/data/**"]
}
resource "state" {
  kind = "directory"
  paths = ["/srv/data/state/**"]
  labels = ["personal-data"]
}
resource "keys"  {
  kind = "file"
  paths = ["/srv/keys/*.pub"]
}
compartment "c" {
  tier = "trusted"
  allow {
    verbs = ["read", "write"]
    on = ["data"]
  }
  allow {
    verbs = ["read"]
    on = ["state", "keys"]
  }
}
`
	p, err := policy.Parse("w.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := Build(p, "c", []string{"/bin/true"}, Options{Host: hostABI(7, 0), User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	var widened []string
	for _, r := range pl.Landlock.Paths {
		widened = append(widened, r.Widened...)
	}
	all := strings.Join(widened, "\n")
	if !strings.Contains(all, "on resource state") || !strings.Contains(all, "write_file") {
		t.Errorf("no widening onto state:\n%s", all)
	}
	if !strings.Contains(all, "glob /srv/keys/*.pub") {
		t.Errorf("no glob widening:\n%s", all)
	}
}

func TestBuildErrors(t *testing.T) {
	p := icPolicy(t)
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, []byte("data"), 0o644)
	for _, c := range []struct {
		comp string
		argv []string
		o    Options
		want string
	}{
		{"canister_sandbx", []string{"/bin/true"}, Options{}, `did you mean "canister_sandbox"`},
		{"admin", []string{"/bin/true"}, Options{}, "is a role"},
		{"crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(7, 0)}, `user "ic-csp-vault" not found`},
		{"crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(7, 0), User: "nobody", Group: "no-such-group"}, `group "no-such-group" not found`},
		{"crypto_vault", []string{"/no/such/program"}, Options{Host: hostABI(7, 1000)}, "no such file"},
		{"crypto_vault", []string{"no-such-program-in-path"}, Options{Host: hostABI(7, 1000), Environ: []string{"PATH=/usr/bin"}}, "not found in PATH"},
		{"crypto_vault", []string{plain}, Options{Host: hostABI(7, 1000)}, "not an executable"},
		{"crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(7, 1000), KeepFDs: []int{2}}, "always passed"},
		{"crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(7, 1000), RootPrefix: "relative"}, "not an absolute path"},
		{"crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(7, 1000), SetEnv: []string{"NOEQUALS"}}, "NAME=value"},
	} {
		_, err := Build(p, c.comp, c.argv, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build(%s, %v): %v, want %q", c.comp, c.argv, err, c.want)
		}
	}
	// The unknown user error names the compartment's position.
	_, err := Build(p, "crypto_vault", []string{"/bin/true"}, Options{Host: hostABI(7, 0)})
	if err == nil || !strings.Contains(err.Error(), "compartments.hcl:") {
		t.Errorf("error without position: %v", err)
	}
	var ce *CommandError
	_, err = Build(p, "crypto_vault", []string{"/no/such/program"}, Options{Host: hostABI(7, 1000)})
	if !errors.As(err, &ce) || ce.Code != ExitNotFound {
		t.Errorf("missing command: %v", err)
	}
}

func TestEnvironmentScrubbed(t *testing.T) {
	p := icPolicy(t)
	pl, err := Build(p, "canister_sandbox", []string{"/bin/true"}, Options{
		Host: hostABI(7, 1000), Environ: []string{"PATH=/bin", "LANG=C.UTF-8", "LC_ALL=C", "SECRET_TOKEN=x", "LD_PRELOAD=/evil.so", "HOME=/home/u", "KEEP=1"},
		KeepEnv: []string{"KEEP"}, SetEnv: []string{"EXTRA=2", "LANG=en_US.UTF-8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(pl.Env, " ")
	for _, want := range []string{"PATH=/bin", "LC_ALL=C", "KEEP=1", "EXTRA=2", "LANG=en_US.UTF-8", "HOME=/home/u"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s: %s", want, env)
		}
	}
	for _, bad := range []string{"SECRET_TOKEN", "LD_PRELOAD", "LANG=C.UTF-8"} {
		if strings.Contains(env, bad) {
			t.Errorf("env keeps %s: %s", bad, env)
		}
	}
}

func TestSELinuxLabel(t *testing.T) {
	if got := DefaultSELinuxLabel("crypto_vault"); got != "system_u:system_r:crypto_vault_t:s0" {
		t.Errorf("DefaultSELinuxLabel = %s", got)
	}
	if err := checkSELinuxLabel(DefaultSELinuxLabel("replica")); err != nil {
		t.Errorf("default label rejected: %v", err)
	}
	for _, bad := range []string{"", "crypto_vault_t", "a:b"} {
		if checkSELinuxLabel(bad) == nil {
			t.Errorf("label %q accepted", bad)
		}
	}
	// With SELinux enabled, the plan carries the label (the stage sets
	// it with selinux.SetExecLabel before execve).
	h := hostABI(7, 0)
	h.SELinux = true
	pl, err := Build(icPolicy(t), "replica", []string{"/bin/true"}, Options{Host: h, User: "nobody", Group: "nogroup"})
	if err != nil {
		t.Fatal(err)
	}
	if pl.SELinuxLabel != "system_u:system_r:replica_t:s0" {
		t.Errorf("plan label %q", pl.SELinuxLabel)
	}
	if _, err := Build(icPolicy(t), "replica", []string{"/bin/true"}, Options{Host: h, User: "nobody", Group: "nogroup", SELinuxLabel: "bad"}); err == nil {
		t.Errorf("bad label accepted")
	}
}

// The launcher receives a Spec; it must carry the plan's enforcement.
func TestStageSpec(t *testing.T) {
	pl, err := Build(icPolicy(t), "upgrade_manager", []string{"/bin/true"}, Options{Host: hostABI(7, 0), User: "nobody", Group: "nogroup"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := pl.forStage(false)
	if err != nil {
		t.Fatal(err)
	}
	var installed int
	for _, r := range pl.Landlock.Paths {
		if !r.Missing {
			installed++
		}
	}
	if len(back.Paths) != installed || !bytes.Equal(back.Seccomp, pl.Seccomp.Program) || back.HandledFS != uint64(pl.Landlock.HandledFS) || back.Notify {
		t.Errorf("spec: %d paths (want %d), seccomp %d bytes (plan %d), notify %v", len(back.Paths), installed, len(back.Seccomp), len(pl.Seccomp.Program), back.Notify)
	}
	// upgrade_manager keeps CAP_SYS_ADMIN (21), CAP_SYS_BOOT (22),
	// CAP_DAC_OVERRIDE (1).
	if !slices.Equal(back.Capabilities, []int{21, 22, 1}) || back.UID != pl.Identity.UID || !back.Switch || !back.Net {
		t.Errorf("spec: caps %v uid %d switch %v net %v", back.Capabilities, back.UID, back.Switch, back.Net)
	}
	// Reporting refusals changes the filter's refusal verdict only, and
	// names the syscalls.
	notify, err := pl.forStage(true)
	if err != nil {
		t.Fatal(err)
	}
	if !notify.Notify || bytes.Equal(notify.Seccomp, back.Seccomp) || len(notify.Seccomp) != len(back.Seccomp) || notify.Names[101] != "ptrace" {
		t.Errorf("notify spec: notify %v, program %d bytes (plain %d)", notify.Notify, len(notify.Seccomp), len(back.Seccomp))
	}
	// The plan's own program is the plain filter, as the launcher
	// compiles it from the plan's fields.
	plain, _, err := pl.seccompProgram(false)
	if err != nil || !bytes.Equal(plain, pl.Seccomp.Program) {
		t.Errorf("the plan's filter differs from the plain one compiled again (%v)", err)
	}
}

func TestCommandFiles(t *testing.T) {
	files, err := commandFiles("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	var why []string
	for _, f := range files {
		why = append(why, f.why)
	}
	all := strings.Join(why, ",")
	// /bin/true is dynamically linked on Debian.
	if !strings.Contains(all, "ELF interpreter") || !strings.Contains(all, "libc.so.6") {
		t.Errorf("runtime files of /bin/true: %v", files)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755)
	files, err = commandFiles(script)
	if err != nil || len(files) < 2 || files[1].path != "/bin/sh" {
		t.Errorf("script: %v %v", files, err)
	}
}
