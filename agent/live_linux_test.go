//go:build linux

package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/internal/auditlock"
	"github.com/rampart-sec/rampart/internal/syncbuf"
	"github.com/rampart-sec/rampart/privacy"
)

// probeEnv makes the test binary act as the scenario's probe program.
const probeEnv = "RAMPART_AGENT_TEST_PROBE"

func TestMain(m *testing.M) {
	if os.Getenv(probeEnv) != "" {
		os.Exit(probe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// probe performs one action of the live scenario: read PATH, write PATH
// (open for writing, no data), connect HOST:PORT, ptrace PID (attach and
// detach), finit_module (with a bad descriptor).
func probe(args []string) int {
	if len(args) < 1 {
		return 2
	}
	var err error
	switch args[0] {
	case "read":
		_, err = os.ReadFile(args[1])
	case "write":
		var f *os.File
		if f, err = os.OpenFile(args[1], os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	case "connect":
		var c net.Conn
		if c, err = net.DialTimeout("tcp", args[1], 5*time.Second); err == nil {
			c.Close()
		}
	case "ptrace":
		runtime.LockOSThread()
		pid, _ := strconv.Atoi(args[1])
		if err = syscall.PtraceAttach(pid); err == nil {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WALL, nil)
			err = syscall.PtraceDetach(pid)
		}
	case "finit_module":
		_, _, errno := syscall.Syscall(finitModule(), ^uintptr(0), 0, 0)
		err = errno
	default:
		err = fmt.Errorf("unknown action %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	return 0
}

// liveAudit opens a control socket and enables audit for the test, or
// skips the test when the kernel's audit subsystem is not available to
// this process. The status is restored at cleanup.
func liveAudit(t *testing.T) *audit.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("live audit test skipped in -short mode")
	}
	auditlock.Lock(t) // other packages' live tests change audit state too
	if os.Geteuid() != 0 {
		t.Skip("the live agent test needs root (CAP_AUDIT_CONTROL, CAP_AUDIT_READ)")
	}
	ctl, err := audit.Dial(audit.Unicast)
	if err != nil {
		t.Skipf("no audit netlink socket: %v", err)
	}
	st0, err := ctl.Status()
	if err != nil {
		ctl.Close()
		t.Skipf("AUDIT_GET failed (audit not available here): %v", err)
	}
	if st0.Enabled == 2 {
		ctl.Close()
		t.Skip("audit is locked (enabled=2): rules cannot be changed until reboot")
	}
	mask := audit.StatusEnabled | audit.StatusBacklogLimit | audit.StatusBacklogWaitTime
	set := audit.Status{Enabled: 1, BacklogLimit: max(st0.BacklogLimit, 8192), BacklogWaitTime: 0}
	if err := ctl.SetStatus(set, mask); err != nil {
		ctl.Close()
		t.Skipf("cannot enable audit: %v", err)
	}
	t.Cleanup(func() {
		old := audit.Status{Enabled: st0.Enabled, BacklogLimit: st0.BacklogLimit, BacklogWaitTime: st0.BacklogWaitTime}
		if err := ctl.SetStatus(old, mask); err != nil {
			t.Errorf("restoring the audit status: %v", err)
		}
		ctl.Close()
	})
	return ctl
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLive runs the agent in process against the real kernel, multicast
// next to whatever else reads audit, with the audit rules it generates
// from a small policy: reader (a copy of cat) owns a secret key, web (a
// copy of sh) is network-facing and may start probe (a copy of this test
// binary), which may connect to a loopback channel. The scenario, run as
// nobody: reader reads its key; web starts a shell, then execs probe,
// which connects on loopback; probe reads the key, traces reader, tries
// to load a module and opens an executable for writing. The test checks
// the events and their attribution, the deviation alert (compartment,
// access, invariant), the detection rules' alerts, the metrics, that the
// agent removed its rules, that the ledger verifies, and that it holds
// none of the scenario's raw identifiers while the raw records do.
func TestLive(t *testing.T) {
	ctl := liveAudit(t)

	// The scenario's files, readable by nobody.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	bin := filepath.Join(dir, "bin")
	keys := filepath.Join(dir, "keys")
	for _, d := range []string{bin, keys, filepath.Join(dir, "www")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cat, err1 := exec.LookPath("cat")
	sh, err2 := exec.LookPath("sh")
	trueBin, err3 := exec.LookPath("true")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Skip("cat, sh or true not found")
	}
	execs := map[string]string{"reader": filepath.Join(bin, "reader"), "web": filepath.Join(bin, "web"), "probe": filepath.Join(bin, "probe")}
	copyFile(t, cat, execs["reader"], 0o755)
	copyFile(t, sh, execs["web"], 0o755)
	copyFile(t, self, execs["probe"], 0o755)
	victim := filepath.Join(bin, "victim")
	copyFile(t, trueBin, victim, 0o755)
	os.Chmod(victim, 0o777) // writable by nobody, whatever the umask
	key := filepath.Join(keys, "node.key")
	if err := os.WriteFile(key, []byte("not really a key\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p := scenarioPolicy(t, dir, execs, port, "probe")
	rs, err := AuditRules(p, AuditRuleOptions{IntegrityPerm: "wa"})
	if err != nil {
		t.Fatal(err)
	}

	// An independent multicast reader keeps the raw records, to show
	// that they hold what the ledger must not.
	raw := &syncbuf.Buffer{}
	mc, err := audit.Dial(audit.Multicast)
	if err != nil {
		t.Skipf("multicast: %v", err)
	}
	rawDone := make(chan struct{})
	go func() {
		defer close(rawDone)
		for {
			mc.SetDeadline(time.Now().Add(200 * time.Millisecond))
			typ, data, err := mc.Receive()
			switch {
			case err == nil:
				fmt.Fprintf(raw, "type=%s msg=%s\n", typ, data)
			case os.IsTimeout(err) || err == audit.ErrOverflow:
			default:
				return // closed
			}
		}
	}()
	defer func() { mc.Close(); <-rawDone }()

	led, ver, _ := testLedger(t, nil)
	alerts := &syncbuf.Buffer{}
	logs := &syncbuf.Buffer{}
	boot, _ := audit.BootID()
	a, err := New(Options{
		Policy: p, Keyring: testKeyring(t), Ledger: led, Rules: shippedRules(t), Alerts: alerts,
		BootID: boot, Source: "netlink multicast", LookupExe: ProcExe,
		FilterOptions: []privacy.Option{privacy.WithKnownIdentifiers(privacy.KindUser, "nobody")},
		Log:           func(m string) { fmt.Fprintln(logs, m) },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Metrics().Handler()}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(mln)
	defer srv.Close()

	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	runErr := make(chan error, 1)
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-runErr
	}
	defer stop() // the agent removes its rules when it stops, whatever happens here
	go func() {
		runErr <- a.RunNetlink(ctx, NetlinkOptions{Mode: audit.Multicast, Rules: RuleLines(rs), Heartbeat: time.Second,
			StatusEvery: time.Second, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-runErr:
		stopped = true
		t.Fatalf("agent: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready after 10 s")
	}
	loaded, err := ctl.Rules()
	if err != nil {
		t.Fatal(err)
	}
	ours := 0
	for _, r := range loaded {
		if strings.Contains(r.String(), "key=rampart-") {
			ours++
		}
	}
	if ours < len(rs)-2 { // tolerate watches the kernel refused
		var ls []string
		for _, r := range loaded {
			ls = append(ls, r.String())
		}
		t.Fatalf("%d of %d rules loaded; agent said:\n%s\nloaded:\n%s", ours, len(rs), logs.String(), strings.Join(ls, "\n"))
	}

	// The scenario, as nobody.
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = nobody
		cmd.Env = append(os.Environ(), probeEnv+"=1")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "probe:") {
			t.Logf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	// A long-running reader for probe to trace.
	target := exec.Command(execs["reader"])
	target.SysProcAttr = nobody
	stdin, err := target.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); target.Wait() }()
	time.Sleep(100 * time.Millisecond)

	run(execs["reader"], key)
	run(execs["web"], "-c", "/bin/sh -c true; exec "+execs["probe"]+" connect 127.0.0.1:"+strconv.Itoa(port))
	run(execs["probe"], "read", key)
	run(execs["probe"], "ptrace", strconv.Itoa(target.Process.Pid))
	run(execs["probe"], "finit_module")
	run(execs["probe"], "write", victim)

	// Wait for the alerts.
	want := []string{
		"deviation|invariant only_reader_reads_keys|probe|read|keys",
		"rule|key_read_by_non_owner|probe|read|keys",
		"rule|shell_from_network_facing|web",
		"deviation|no grant|probe|ptrace|reader",
		"rule|ptrace_other_compartment|probe|ptrace|reader",
		"rule|kernel_module_load|probe",
		"rule|write_to_executable|probe|write",
	}
	missing := func() []string {
		var out []string
		got := alerts.String()
		for _, w := range want {
			found := false
			for _, ln := range strings.Split(got, "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(ln), &m) == nil && strings.HasPrefix(alertKey(m), w) {
					found = true
					break
				}
			}
			if !found {
				out = append(out, w)
			}
		}
		return out
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}

	// Metrics while running.
	resp, err := http.Get("http://" + mln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "rampart_agent_") {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			name := f[0]
			if i := strings.IndexByte(name, '{'); i > 0 {
				name = name[:i]
			}
			metrics[name] += v
		}
	}
	resp.Body.Close()

	if err := stop(); err != nil {
		t.Fatalf("agent: %v", err)
	}
	if err := a.Close(""); err != nil {
		t.Fatal(err)
	}
	if err := led.Close(); err != nil {
		t.Fatal(err)
	}
	if m := missing(); len(m) > 0 {
		if st, err := ctl.Status(); err == nil && st.Enabled == 0 {
			t.Skipf("audit was disabled by another process during the test; missing %v", m)
		}
		t.Errorf("alerts missing: %v\nagent log:\n%s\nalerts:\n%s", m, logs.String(), alerts.String())
	}

	// The agent removed its rules.
	after, err := ctl.Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		if s := r.String(); strings.Contains(s, dir) {
			t.Errorf("rule left behind: %s", s)
		}
	}

	for _, m := range []string{"rampart_agent_events_total", "rampart_agent_records_total", "rampart_agent_alerts_total",
		"rampart_agent_ledger_entries", "rampart_agent_ledger_bytes", "rampart_agent_last_checkpoint_timestamp_seconds", "rampart_agent_audit_rules_loaded"} {
		if metrics[m] <= 0 {
			t.Errorf("metric %s = %v", m, metrics[m])
		}
	}
	for _, m := range []string{"rampart_agent_backlog", "rampart_agent_lost_events_total", "rampart_agent_parse_errors_total"} {
		if _, ok := metrics[m]; !ok && m == "rampart_agent_backlog" {
			t.Errorf("metric %s not exported", m)
		}
	}

	// The ledger: verifies, canonical, events attributed.
	es := readEntries(t, led.Dir())
	checkCanonical(t, es)
	verifyLedger(t, led.Dir(), ver)
	attributed := map[string]bool{}
	for _, e := range es {
		if str(e.JSON, "kind") != "event" {
			continue
		}
		k := str(e.JSON, "agent.syscall") + ":" + str(e.JSON, "agent.subject") + "/" + str(e.JSON, "agent.by")
		for _, acc := range anySlice(get(e.JSON, "access")) {
			k2 := k + ":" + str(acc, "verb") + " " + str(acc, "object") + "=" + str(acc, "allowed")
			attributed[k2] = true
		}
		attributed[k] = true
	}
	for _, w := range []string{
		"execve:reader/exe",                 // reader started
		"openat:reader/exe:read keys=true",  // reads its own key
		"execve:web/exe",                    // web started
		"execve:web/parent",                 // the shell web started
		"execve:probe/exe:spawn probe=true", // web became probe
		"connect:probe/exe:connect loop=true",
		"openat:probe/exe:read keys=false",
		"ptrace:probe/exe:ptrace reader=false",
		"finit_module:probe/exe",
	} {
		if !attributed[w] {
			var have []string
			for k := range attributed {
				if strings.Contains(k, "reader") || strings.Contains(k, "web") || strings.Contains(k, "probe") {
					have = append(have, k)
				}
			}
			slices.Sort(have)
			t.Errorf("no event %q; events of the scenario's compartments:\n  %s", w, strings.Join(have, "\n  "))
		}
	}
	st := a.Stats()
	t.Logf("%d events, %d records, %d alerts (%d deviations), %d lost, %d parse errors, %d entries; %d raw bytes",
		st.Events, st.Records, st.Alerts, st.Deviations, st.LostEvents, st.ParseErrors, len(es), len(raw.String()))

	// Privacy: the ledger holds none of the raw values; the raw records do.
	values := []string{key, keys, "127.0.0.1", "nobody"}
	if h, err := os.Hostname(); err == nil && len(h) >= 5 {
		values = append(values, h)
	}
	var all bytes.Buffer
	for _, e := range es {
		all.Write(e.Raw)
		all.WriteByte('\n')
	}
	findings, err := privacy.Lint(&all, privacy.LintOptions{Values: values})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range findings {
		if i == 20 {
			break
		}
		t.Errorf("ledger: %v\n%.600s", f, es[f.Line-1].Raw)
	}
	rawFindings, err := privacy.Lint(strings.NewReader(raw.String()), privacy.LintOptions{Values: values, MaxFindings: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	classes := map[privacy.Class]int{}
	for _, f := range rawFindings {
		classes[f.Class]++
	}
	if classes[privacy.ClassListed] == 0 || classes[privacy.ClassRawIdentifier] == 0 {
		t.Errorf("the raw records give findings %v: the privacy check would prove nothing", classes)
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// finitModule is the finit_module syscall number of this machine.
func finitModule() uintptr {
	n, _ := audit.SyscallNumber(audit.NativeArch(), "finit_module")
	return uintptr(n)
}

// TestAuditctlLoadsRules loads the rules generated for a policy whose
// paths exist with auditctl (Debian package auditd), the way an operator
// would (auditctl -R), then removes them by key.
func TestAuditctlLoadsRules(t *testing.T) {
	ctl := liveAudit(t)
	auditctl, err := exec.LookPath("auditctl")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/auditctl"); err2 != nil {
			t.Skip("auditctl not installed (Debian package auditd)")
		}
		auditctl = "/usr/sbin/auditctl"
	}
	dir := t.TempDir()
	execs := map[string]string{"reader": filepath.Join(dir, "reader"), "web": filepath.Join(dir, "web"), "probe": filepath.Join(dir, "probe")}
	for _, p := range execs {
		copyFile(t, "/bin/true", p, 0o755)
	}
	os.Mkdir(filepath.Join(dir, "keys"), 0o755)
	os.Mkdir(filepath.Join(dir, "www"), 0o755)
	p := scenarioPolicy(t, dir, execs, 7070)
	rs, err := AuditRules(p, AuditRuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rampart.rules")
	if err := os.WriteFile(file, []byte(FormatAuditRules(p, rs)), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := []string{KeyExec, KeyNet, KeyPriv, KeySignal, KeyFile, KeySecret, KeyIntegrity}
	t.Cleanup(func() {
		for _, k := range keys {
			exec.Command(auditctl, "-D", "-k", k).Run()
		}
	})
	if out, err := exec.Command(auditctl, "-R", file).CombinedOutput(); err != nil {
		t.Fatalf("auditctl -R: %v\n%s", err, out)
	}
	loaded, err := ctl.Rules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range loaded {
		for _, want := range rs {
			w, err := audit.ParseRule(want.Rule, audit.RuleOptions{})
			if err == nil && w.Equal(r) {
				n++
				break
			}
		}
	}
	if n != len(rs) {
		t.Errorf("auditctl loaded %d of the %d generated rules as generated", n, len(rs))
	}
}

// TestLiveUnicast runs the agent as the registered audit daemon for a
// moment (skipped when one is registered already, e.g. auditd): it must
// receive an exec, and leave the audit status as it found it.
func TestLiveUnicast(t *testing.T) {
	ctl := liveAudit(t)
	st0, err := ctl.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st0.PID != 0 {
		t.Skipf("an audit daemon (pid %d) is registered: unicast mode would fail, as it should", st0.PID)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "svc")
	copyFile(t, "/bin/true", bin, 0o755)
	p := scenarioPolicy(t, dir, map[string]string{"reader": bin, "web": dir + "/w", "probe": dir + "/p"}, 7070)
	led, ver, _ := testLedger(t, nil)
	a, err := New(Options{Policy: p, Keyring: testKeyring(t), Ledger: led, Source: "netlink unicast"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	runErr := make(chan error, 1)
	go func() {
		runErr <- a.RunNetlink(ctx, NetlinkOptions{Mode: audit.Unicast, Rules: []string{"-a always,exit -F arch=b64 -S execve -F exe=" + bin + " -k rampart-test"},
			Coalesce: -1, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-runErr:
		cancel()
		if strings.Contains(fmt.Sprint(err), "another audit daemon") {
			t.Skipf("registered meanwhile by another process: %v", err)
		}
		t.Fatalf("agent: %v", err)
	}
	if st, err := ctl.Status(); err != nil || st.PID == 0 || st.BacklogWaitTime != 0 {
		t.Errorf("while running: %+v, %v", st, err)
	}
	exec.Command(bin).Run()
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().Events == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("agent: %v", err)
	}
	a.Close("")
	led.Close()
	st, err := ctl.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != 0 || st.BacklogLimit != st0.BacklogLimit || st.Failure != st0.Failure || st.BacklogWaitTime != st0.BacklogWaitTime {
		t.Errorf("status not restored: before %+v, after %+v", st0, st)
	}
	found := false
	for _, e := range readEntries(t, led.Dir()) {
		if str(e.JSON, "agent.syscall") == "execve" && str(e.JSON, "agent.subject") == "reader" {
			found = true
		}
	}
	if !found {
		t.Errorf("the exec of the compartment's program is not in the ledger (%d events)", a.Stats().Events)
	}
	verifyLedger(t, led.Dir(), ver)
}
