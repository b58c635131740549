package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/internal/syncbuf"
)

// agentTestPolicy: reader owns the keys under /srv/agent-cli/keys; probe
// may read nothing.
const agentTestPolicy = `
policy {
  name = "agent-cli"
}

compartment "reader" {
  tier        = "trusted"
  executables = ["/opt/agent-cli/reader"]
  allow {
    verbs = ["read"]
    on    = ["keys"]
  }
}

compartment "probe" {
  tier        = "untrusted"
  executables = ["/opt/agent-cli/probe"]
}

resource "keys" {
  kind   = "file"
  paths  = ["/srv/agent-cli/keys/*"]
  labels = ["secret"]
  owner  = "reader"
}

deny_access "only_reader_reads_keys" {
  subjects = all_except(["reader"])
  verbs    = ["read"]
  objects  = labelled("secret")
}

privacy {
  ip {
    mode = "truncate"
  }
}
`

// agentTestLog returns audit records: a process of compartment exe opens
// the key (serials from serial on).
func agentTestLog(exe string, serial, pid int) string {
	var b strings.Builder
	st := fmt.Sprintf("audit(1700000000.%03d:%d)", serial%1000, serial)
	fmt.Fprintf(&b, `type=SYSCALL msg=%s: arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=%d auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="x" exe="%s" key="rampart-secret"`+"\n", st, pid, exe)
	fmt.Fprintf(&b, `type=CWD msg=%s: cwd="/home/carol"`+"\n", st)
	fmt.Fprintf(&b, `type=PATH msg=%s: item=0 name="/srv/agent-cli/keys/node.key" inode=5 dev=fd:01 mode=0100600 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL`+"\n", st)
	fmt.Fprintf(&b, "type=EOE msg=%s: \n", st)
	st = fmt.Sprintf("audit(1700000000.%03d:%d)", (serial+1)%1000, serial+1)
	fmt.Fprintf(&b, `type=USER_LOGIN msg=%s: pid=%d uid=0 auid=1000 ses=3 msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=carol-laptop.example.com addr=198.51.100.23 terminal=/dev/pts/0 res=success'`+"\n", st, pid+1)
	return b.String()
}

func writeAgentPolicy(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.hcl")
	if err := os.WriteFile(p, []byte(agentTestPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAgentRulesCLI(t *testing.T) {
	out := mustRun(t, "agent", "rules", "--policy", "../../examples/ic-node")
	for _, want := range []string{
		"-a always,exit -F arch=b64 -S execve,execveat -k rampart-exec",
		"-a always,exit -F arch=b64 -S connect,bind,accept,accept4 -k rampart-net",
		"ptrace,init_module,finit_module,delete_module,mount,umount2,setuid",
		"-w /var/lib/ic/crypto -p rwa -k rampart-secret",
		"-w /boot -p rwa -k rampart-integrity",
		"-F exe=/opt/ic/bin/replica -F exit!=-ENOENT -k rampart-file",
		"## resource node_keys labelled secret: /var/lib/ic/crypto/** (../../examples/ic-node/resources.hcl:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rules lack %q", want)
		}
	}
	// Every rule parses as auditctl syntax.
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		n++
		if _, err := audit.ParseRule(l, audit.RuleOptions{Stat: func(string) (os.FileInfo, error) { return nil, os.ErrNotExist }}); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
	var js []map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, "agent", "rules", "--policy", "../../examples/ic-node", "--json", "--integrity-perm", "wa")), &js); err != nil {
		t.Fatal(err)
	}
	if len(js) != n || !strings.Contains(js[len(js)-1]["rule"], "-p wa -k rampart-integrity") {
		t.Errorf("--json: %d rules (text %d), last %v", len(js), n, js[len(js)-1])
	}
	if code, _, errOut := run(t, "agent", "rules"); code != exitUsage || !strings.Contains(errOut, "--policy is required") {
		t.Errorf("without --policy: exit %d %s", code, errOut)
	}
}

func TestAgentDetectionsCLI(t *testing.T) {
	out := mustRun(t, "agent", "detections")
	for _, r := range []string{"shell_from_network_facing", "write_to_executable", "ptrace_other_compartment", "kernel_module_load", "key_read_by_non_owner"} {
		if !strings.Contains(out, r) {
			t.Errorf("shipped rule %s not listed:\n%s", r, out)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.cel"), []byte("// severity: low\nevent.syscall == \"mount\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.cel"), []byte("// severity: high\nevent.syscall == \"x\" &&\n  event.subject.nmae == \"y\"\n"), 0o644)
	code, _, errOut := run(t, "agent", "detections", "--rules", dir)
	if code != exitFailed || !strings.Contains(errOut, filepath.Join(dir, "bad.cel")+":3:16: undefined field 'nmae'") {
		t.Errorf("broken rule: exit %d\n%s", code, errOut)
	}
	os.Remove(filepath.Join(dir, "bad.cel"))
	if out := mustRun(t, "agent", "detections", "--rules", dir, "--no-shipped-rules"); !strings.Contains(out, "ok ") || !strings.Contains(out, "1 rules compiled") {
		t.Errorf("custom rules: %s", out)
	}
	// A rule file that does not compile stops the agent before it starts.
	os.WriteFile(filepath.Join(dir, "bad.cel"), []byte("event.nope\n"), 0o644)
	code, _, errOut = run(t, "agent", "--policy", writeAgentPolicy(t), "--ledger", filepath.Join(t.TempDir(), "l"), "--rules", dir, "--input", os.DevNull)
	if code != exitUsage || !strings.Contains(errOut, "bad.cel:1:6:") {
		t.Errorf("agent with a broken rule: exit %d\n%s", code, errOut)
	}
}

// TestAgentOfflineCLI ingests a log with the bare "rampart agent" form,
// restarts on the same ledger, verifies it, lints it (clean, then dirty)
// and reveals a pseudonym.
func TestAgentOfflineCLI(t *testing.T) {
	pol := writeAgentPolicy(t)
	dir := t.TempDir()
	led := filepath.Join(dir, "ledger")
	kr := filepath.Join(dir, "privacy.keyring")
	in1 := filepath.Join(dir, "1.log")
	in2 := filepath.Join(dir, "2.log")
	os.WriteFile(in1, []byte(agentTestLog("/opt/agent-cli/probe", 10, 500)+"garbage line\n"), 0o644)
	os.WriteFile(in2, []byte(agentTestLog("/opt/agent-cli/reader", 20, 600)), 0o644)

	code, out, errOut := run(t, "agent", "--policy", pol, "--ledger", led, "--keyring", kr, "--input", in1)
	if code != 0 {
		t.Fatalf("agent: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "generated ledger signing key "+led+".key") || !strings.Contains(errOut, "generated privacy keyring") {
		t.Errorf("stderr: %s", errOut)
	}
	var alerts []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("alert line %q: %v", l, err)
		}
		alerts = append(alerts, m["alert"].(map[string]any))
	}
	if len(alerts) != 2 || alerts[0]["rule"] != "invariant only_reader_reads_keys" || alerts[0]["subject"] != "probe" ||
		alerts[0]["object"] != "keys" || alerts[1]["rule"] != "key_read_by_non_owner" {
		t.Errorf("alerts: %v", alerts)
	}
	if strings.Contains(out, "/srv/agent-cli/keys/node.key") || strings.Contains(out, "carol") {
		t.Errorf("raw values in the alerts: %s", out)
	}
	// Restart: the same ledger continues.
	code, out, errOut = run(t, "agent", "run", "--policy", pol, "--ledger", led, "--keyring", kr, "--input", in2)
	if code != 0 || out != "" {
		t.Fatalf("second run: exit %d, alerts %q\n%s", code, out, errOut)
	}
	export := mustRun(t, "ledger", "export", led)
	lines := strings.Split(strings.TrimSpace(export), "\n")
	var ops []string
	for _, l := range lines {
		if m := regexp.MustCompile(`"agent":\{[^}]*"op":"([a-z]+)"`).FindStringSubmatch(l); m != nil {
			ops = append(ops, m[1])
		}
	}
	if strings.Join(ops, ",") != "start,stop,restart,stop" {
		t.Errorf("agent entries %v", ops)
	}
	if !strings.Contains(export, `"parse_errors":"1"`) || !strings.Contains(export, `"addr":"trunc:198.51.100.0/24"`) {
		t.Errorf("export lacks the parse error count or the truncated address:\n%s", export)
	}
	vout := mustRun(t, "ledger", "verify", led, "--key", led+".key.pub")
	if !strings.Contains(vout, fmt.Sprintf("%d entries", len(lines))) || !strings.Contains(vout, "OK") {
		t.Errorf("verify: %s", vout)
	}

	// Lint: clean with the scenario's raw values, dirty once a raw
	// address is appended.
	vals := filepath.Join(dir, "values")
	os.WriteFile(vals, []byte("carol\ncarol-laptop.example.com\n198.51.100.23\n/srv/agent-cli/keys/node.key\n"), 0o644)
	if out := mustRun(t, "ledger", "lint", led, "--values", vals); !strings.Contains(out, "OK: ") {
		t.Errorf("lint: %s", out)
	}
	mustRun(t, "ledger", "append", led, "--key", led+".key", `{"note":"peer 198.51.100.23 and carol"}`)
	code, out, _ = run(t, "ledger", "lint", led, "--values", vals, "--json")
	var lr struct {
		Findings []struct {
			Entry uint64 `json:"entry"`
			Class string `json:"class"`
		} `json:"findings"`
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal([]byte(out), &lr); err != nil {
		t.Fatal(err)
	}
	if code != exitFailed || lr.OK || len(lr.Findings) < 2 || lr.Findings[0].Entry != uint64(len(lines)) {
		t.Errorf("lint of a raw entry: exit %d %+v", code, lr)
	}

	// Reveal: the login's account pseudonym with the keyring and a
	// candidate; not without the right key.
	pseud := regexp.MustCompile(`ps:k1:uid:[a-z2-7]{26}`).FindString(export)
	out = mustRun(t, "ledger", "reveal", "--keyring", kr, "--candidate", "1000", "--candidate", "0", pseud)
	if !strings.Contains(out, `"1000"`) && !strings.Contains(out, `"0"`) {
		t.Errorf("reveal: %s", out)
	}
	other := filepath.Join(dir, "other.keyring")
	mustRun(t, "agent", "--policy", pol, "--ledger", filepath.Join(dir, "l2"), "--keyring", other, "--input", os.DevNull)
	// (the other keyring's key is also called k1, with another secret)
	if code, out, _ := run(t, "ledger", "reveal", "--keyring", other, "--candidate", "1000", "--candidate", "0", pseud); code != exitFailed || !strings.Contains(out, "no candidate matches") {
		t.Errorf("reveal with another keyring: exit %d %s", code, out)
	}
}

// TestAgentPluginSIGTERM runs the agent as an auditd plugin (records on
// stdin) with metrics on a loopback port, scrapes them, then stops it with
// SIGTERM: the events are written, a stop entry and a final checkpoint
// signed.
func TestAgentPluginSIGTERM(t *testing.T) {
	pol := writeAgentPolicy(t)
	dir := t.TempDir()
	led := filepath.Join(dir, "ledger")
	pr, pw := io.Pipe()
	defer pw.Close()
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	a := &app{stdin: pr, stdout: stdout, stderr: stderr}
	done := make(chan int, 1)
	go func() {
		done <- a.run([]string{"agent", "--policy", pol, "--ledger", led, "--keyring", filepath.Join(dir, "kr"),
			"--input", "-", "--metrics", "127.0.0.1:0", "--heartbeat", "200ms"})
	}()
	addrRE := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var url string
	for i := 0; i < 200 && url == ""; i++ {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("agent exited %d: %s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if url == "" {
		t.Fatalf("no metrics address: %s", stderr.String())
	}
	if _, err := io.WriteString(pw, agentTestLog("/opt/agent-cli/probe", 10, 500)+"type=BOGUS msg=audit(1.1:1): x\n"); err != nil {
		t.Fatal(err)
	}
	metrics := map[string]string{}
	for i := 0; i < 100; i++ {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "rampart_agent_") {
				i := strings.LastIndexByte(l, ' ')
				metrics[l[:i]] = l[i+1:]
			}
		}
		resp.Body.Close()
		if metrics["rampart_agent_events_total"] == "2" && metrics[`rampart_agent_parse_errors_total{reason="unknown-type"}`] == "1" &&
			metrics[`rampart_agent_alerts_total{rule="key_read_by_non_owner",severity="critical",source="rule"}`] == "1" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, want := range map[string]string{
		"rampart_agent_events_total":  "2",
		"rampart_agent_records_total": "4",
		`rampart_agent_alerts_total{rule="invariant only_reader_reads_keys",severity="high",source="deviation"}`: "1",
		`rampart_agent_alerts_total{rule="key_read_by_non_owner",severity="critical",source="rule"}`:             "1",
		`rampart_agent_parse_errors_total{reason="unknown-type"}`:                                                "1",
	} {
		if metrics[k] != want {
			t.Errorf("metric %s = %q, want %s", k, metrics[k], want)
		}
	}
	for _, k := range []string{"rampart_agent_ledger_entries", "rampart_agent_ledger_bytes", "rampart_agent_last_checkpoint_timestamp_seconds", "rampart_agent_last_checkpoint_size", "rampart_agent_backlog"} {
		if _, ok := metrics[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	time.Sleep(500 * time.Millisecond) // a heartbeat or two
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("agent exited %d after SIGTERM: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop on SIGTERM")
	}
	export := strings.Split(strings.TrimSpace(mustRun(t, "ledger", "export", led)), "\n")
	last := export[len(export)-1]
	if !strings.Contains(last, `"op":"stop"`) || !strings.Contains(last, `"events":"2"`) {
		t.Errorf("last entry: %s", last)
	}
	if !strings.Contains(strings.Join(export, "\n"), `"op":"heartbeat"`) {
		t.Errorf("no heartbeat entry")
	}
	cp, err := os.ReadFile(filepath.Join(led, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(string(cp), "\n"); len(lines) < 2 || lines[1] != fmt.Sprint(len(export)) {
		t.Errorf("final checkpoint covers %q entries of %d", lines[1], len(export))
	}
	mustRun(t, "ledger", "verify", led, "--key", led+".key.pub")
	if got := stdout.String(); strings.Count(got, "\n") != 2 {
		t.Errorf("alerts on stdout: %q", got)
	}
}
