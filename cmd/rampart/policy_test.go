package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	icNode = "../../examples/ic-node"
	icHost = "../../examples/ic-host"
	broken = "../../policy/testdata/broken/"
)

func runExit(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != want {
		t.Fatalf("rampart %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func TestPolicyCheck(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "check", icNode)
	if !strings.Contains(out, "12 invariants, 0 violated") || !strings.Contains(out, "keys_leave_only_through_vault") {
		t.Errorf("check ic-node:\n%s", out)
	}
	runExit(t, 0, "policy", "check", icHost)

	out, _ = runExit(t, 1, "policy", "check", icNode, broken+"node_keys_to_network.hcl")
	for _, want := range []string{
		"FAIL    keys_leave_only_through_vault",
		"counterexample: node_keys -> replica -> p2p",
		"node_keys -[read]-> replica",
		"node_keys_to_network.hcl:7:1",
		"counterexample: replica read node_keys",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	out, _ = runExit(t, 1, "policy", "check", "--json", icHost, broken+"host_vsock_bypass.hcl")
	var res struct {
		Policy     string
		Invariants []struct {
			Name       string
			Holds      bool
			Violations []struct {
				Counterexample string
				Path           struct{ Nodes []string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	failed := 0
	for _, i := range res.Invariants {
		if !i.Holds {
			failed++
			if i.Name != "guest_reaches_host_slots_only_via_vsock_agent" || len(i.Violations) != 1 ||
				i.Violations[0].Counterexample != "guest_vm -> direct_upgrade -> host_upgrade_manager -> hostos_slots" ||
				len(i.Violations[0].Path.Nodes) != 4 {
				t.Errorf("unexpected failure %+v", i)
			}
		}
	}
	if res.Policy != "ic-host" || failed != 1 {
		t.Errorf("json result: %+v", res)
	}

	// Load errors: exit 2, file:line:col on stderr (or JSON on stdout).
	_, errOut := runExit(t, 2, "policy", "check", "../../policy/testdata/bad/spawn_unknown.hcl")
	if !strings.Contains(errOut, "spawn_unknown.hcl:") || !strings.Contains(errOut, "hint:") {
		t.Errorf("diagnostics:\n%s", errOut)
	}
	out, _ = runExit(t, 2, "policy", "check", "--json", "../../policy/testdata/bad/syntax.hcl")
	var diag struct {
		Errors []struct{ At, Message string }
	}
	if err := json.Unmarshal([]byte(out), &diag); err != nil || len(diag.Errors) == 0 || !strings.Contains(diag.Errors[0].At, "syntax.hcl:") {
		t.Errorf("json diagnostics %v:\n%s", err, out)
	}
	runExit(t, 2, "policy", "check", "/nonexistent/policy")
	runExit(t, 2, "policy", "check")
}

func TestPolicyAccess(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "who-can", "--policy", icNode, "write", "/dev/vda4")
	for _, want := range []string{"block-device guestos_slots", "upgrade_manager", "direct", "admin -[enter]-> upgrade_manager"} {
		if !strings.Contains(out, want) {
			t.Errorf("who-can lacks %q:\n%s", want, out)
		}
	}
	out, _ = runExit(t, 0, "policy", "who-can", "--direct", "--json", "--policy", icNode, "write", "/dev/vda4")
	var who struct {
		Object string
		Grants []struct {
			Subject string
			Allowed bool
		}
	}
	if err := json.Unmarshal([]byte(out), &who); err != nil || who.Object != "guestos_slots" || len(who.Grants) != 1 || who.Grants[0].Subject != "upgrade_manager" {
		t.Errorf("who-can --direct --json %v: %s", err, out)
	}
	out, _ = runExit(t, 0, "policy", "can", "--policy", icNode, "replica", "connect", "/run/ic-node/crypto-csp/socket")
	if !strings.HasPrefix(out, "allow: replica may connect crypto_csp") {
		t.Errorf("can: %s", out)
	}
	out, _ = runExit(t, 1, "policy", "can", "--policy", icNode, "admin", "write", "/dev/vda4")
	if !strings.HasPrefix(out, "deny:") || !strings.Contains(out, "admin -[enter]-> upgrade_manager") {
		t.Errorf("can (denied): %s", out)
	}
	runExit(t, 1, "policy", "can", "--json", "--policy", icNode, "canister_sandbox", "connect", "tcp/443")
	runExit(t, 2, "policy", "can", "--policy", icNode, "nobody", "read", "/x")
	runExit(t, 2, "policy", "can", "--policy", icNode, "replica", "reed", "/x")
	runExit(t, 2, "policy", "who-can", "--policy", icNode, "read")
}

func TestPolicyFlows(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "flows", "--policy", icNode, "--from", "canister_sandbox", "--to", "crypto_vault")
	if !strings.HasPrefix(out, "canister_sandbox -> ") || !strings.Contains(out, "(4 steps)") {
		t.Errorf("flows:\n%s", out)
	}
	out, _ = runExit(t, 1, "policy", "flows", "--policy", icNode, "--from", "node_keys", "--to", "network()", "--avoid", "crypto_vault")
	if !strings.HasPrefix(out, "no flow") {
		t.Errorf("flows (none): %s", out)
	}
	out, _ = runExit(t, 0, "policy", "flows", "--json", "--all", "--depth", "5", "--policy", icNode, "--from", "compiler_sandbox", "--to", "canister_sandbox")
	var fl struct {
		Paths []struct{ Nodes []string }
	}
	if err := json.Unmarshal([]byte(out), &fl); err != nil || len(fl.Paths) < 3 {
		t.Errorf("flows --all --json %v: %s", err, out)
	}
	out, _ = runExit(t, 0, "policy", "flows", "--dot", "--policy", icNode, "--from", `labelled("secret")`, "--to", "network()")
	checkDOT(t, out)
	_, errOut := runExit(t, 2, "policy", "flows", "--policy", icNode, "--from", "replika", "--to", "network()")
	if !strings.Contains(errOut, `did you mean "replica"?`) {
		t.Errorf("bad selector: %s", errOut)
	}
	runExit(t, 2, "policy", "flows", "--policy", icNode, "--from", "replica")
}

func TestPolicyBlastRadius(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "blast-radius", "--policy", icNode, "orchestrator")
	for _, want := range []string{"takes over (5)", "orchestrator -[spawn]-> upgrade_manager", "guestos_slots", "feeds input to"} {
		if !strings.Contains(out, want) {
			t.Errorf("blast-radius lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "node_keys") {
		t.Errorf("orchestrator reaches node_keys:\n%s", out)
	}
	out, _ = runExit(t, 0, "policy", "blast-radius", "--policy", icNode, "--json", "crypto_vault")
	var br struct {
		Read []struct {
			Object string
			Labels []string
		}
	}
	if err := json.Unmarshal([]byte(out), &br); err != nil || len(br.Read) == 0 {
		t.Fatalf("json %v: %s", err, out)
	}
	out, _ = runExit(t, 0, "policy", "blast-radius", "--policy", icNode, "--all", "--json")
	var sums []struct {
		Subject   string
		TakenOver int `json:"taken_over"`
	}
	if err := json.Unmarshal([]byte(out), &sums); err != nil || len(sums) != 14 || sums[0].Subject != "orchestrator" || sums[0].TakenOver != 5 {
		t.Errorf("--all --json %v: %s", err, out)
	}
	out, _ = runExit(t, 0, "policy", "blast-radius", "--policy", icNode, "--all")
	if !strings.Contains(out, "TAKES OVER") || strings.Count(out, "\n") != 15 {
		t.Errorf("--all:\n%s", out)
	}
	out, _ = runExit(t, 0, "policy", "blast-radius", "--policy", icHost, "--dot", "guest_vm")
	checkDOT(t, out)
	runExit(t, 2, "policy", "blast-radius", "--policy", icNode, "nobody")
	runExit(t, 2, "policy", "blast-radius", "--policy", icNode)
}

func TestPolicyDiff(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "diff", icNode, icNode)
	if !strings.Contains(out, "access changes (0)") {
		t.Errorf("diff of itself:\n%s", out)
	}
	newer := icNode + "," + broken + "node_keys_to_network.hcl"
	out, _ = runExit(t, 0, "policy", "diff", icNode, newer)
	if !strings.Contains(out, "replica  node_keys  +read") || !strings.Contains(out, "+ keys_leave_only_through_vault: node_keys -> replica -> p2p") {
		t.Errorf("diff:\n%s", out)
	}
	out, _ = runExit(t, 1, "policy", "diff", "--fail-on", "new-access,invariant", icNode, newer)
	if !strings.Contains(out, "FAIL new-access") || !strings.Contains(out, "FAIL invariant") {
		t.Errorf("diff --fail-on:\n%s", out)
	}
	runExit(t, 0, "policy", "diff", "--fail-on", "new-flow", icNode, newer)
	out, _ = runExit(t, 1, "policy", "diff", "--json", "--fail-on", "blast-radius-growth", icNode, newer)
	var d struct {
		Access   []struct{ Subject, Object string }
		Failures []string
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || len(d.Access) != 1 || len(d.Failures) != 1 {
		t.Errorf("diff --json %v: %s", err, out)
	}
	runExit(t, 2, "policy", "diff", "--fail-on", "everything", icNode, newer)
	runExit(t, 2, "policy", "diff", icNode)
}

func TestPolicyTest(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "test", icNode+"/policy_test.hcl")
	if !strings.Contains(out, " passed, 0 failed") {
		t.Errorf("test:\n%s", out)
	}
	runExit(t, 0, "policy", "test", icHost+"/policy_test.hcl")
	out, _ = runExit(t, 1, "policy", "test", icNode+"/policy_test.hcl", icNode, broken+"node_sandbox_reads_keys.hcl")
	if !strings.Contains(out, "FAIL canister sandboxes cannot touch key material") {
		t.Errorf("test (broken):\n%s", out)
	}
	out, _ = runExit(t, 1, "policy", "test", "--json", icNode+"/policy_test.hcl", icNode, broken+"node_sandbox_reads_keys.hcl")
	var res struct {
		Passed, Failed int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Failed != 4 || res.Passed != 8 {
		t.Errorf("test --json %v: %s", err, out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad_test.hcl")
	if err := os.WriteFile(bad, []byte("expect \"x\" {\n  deny {\n    subject = \"replica\"\n    verb = \"reed\"\n    path = \"/x\"\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut := runExit(t, 2, "policy", "test", bad, icNode)
	if !strings.Contains(errOut, "bad_test.hcl:4:12: unknown verb") {
		t.Errorf("test errors: %s", errOut)
	}
	runExit(t, 2, "policy", "test")
}

// checkDOT checks DOT output, with Graphviz when installed.
func checkDOT(t *testing.T, out string) {
	t.Helper()
	if !strings.HasPrefix(out, "digraph ") || !strings.HasSuffix(out, "}\n") {
		t.Fatalf("not DOT:\n%s", out)
	}
	dot, err := exec.LookPath("dot")
	if err != nil {
		return
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("dot: %v %s", err, b)
	}
}

func TestPolicyCompile(t *testing.T) {
	out, _ := runExit(t, 0, "policy", "compile", "--target", "selinux", icNode)
	if !strings.Contains(out, "neverallow") {
		t.Errorf("CIL lacks neverallow statements:\n%.400s", out)
	}
	out, _ = runExit(t, 0, "policy", "compile", "--target", "systemd", "--json", icNode)
	var sd struct {
		DropIns []struct{ Unit, Path, Content string } `json:"drop_ins"`
	}
	if err := json.Unmarshal([]byte(out), &sd); err != nil || len(sd.DropIns) == 0 || !strings.Contains(sd.DropIns[0].Content, "[Service]") {
		t.Errorf("systemd --json %v: %.400s", err, out)
	}
	dir := t.TempDir()
	runExit(t, 0, "policy", "compile", "--target", "systemd", "--out", filepath.Join(dir, "units"), icNode)
	if m, _ := filepath.Glob(filepath.Join(dir, "units", "*.service.d", "*.conf")); len(m) == 0 {
		t.Error("systemd --out wrote no drop-ins")
	}
	runExit(t, 2, "policy", "compile", icNode)
	runExit(t, 2, "policy", "compile", "--target", "apparmor", icNode)
	runExit(t, 2, "policy", "compile", "--target", "selinux", "--build", icNode)

	needTool(t, "secilc")
	runExit(t, 0, "policy", "compile", "--target", "selinux", "--out", filepath.Join(dir, "se"), "--build", icNode)
	if _, err := os.Stat(filepath.Join(dir, "se", "policy.33")); err != nil {
		t.Errorf("no binary policy: %v", err)
	}
	// A violated invariant fails the neverallow check: exit 1.
	_, errOut := runExit(t, 1, "policy", "compile", "--target", "selinux", "--out", filepath.Join(dir, "se2"), "--build", icNode, broken+"node_sandbox_reads_keys.hcl")
	if !strings.Contains(errOut, "sandboxes_no_key_store") && !strings.Contains(errOut, "only_vault_reads_keys") {
		t.Errorf("secilc failure does not name the invariant: %s", errOut)
	}
}
