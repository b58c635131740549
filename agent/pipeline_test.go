package agent

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/policy/selinux"
	"github.com/rampart-sec/rampart/privacy"
)

// logBuilder writes audit records for a synthetic scenario.
type logBuilder struct {
	b      strings.Builder
	serial int
	ms     int
}

type proc struct {
	pid, ppid, ses, auid int
	exe, comm            string
}

// event starts a new event and returns its stamp.
func (l *logBuilder) stamp() string {
	l.serial++
	l.ms++
	return fmt.Sprintf("audit(1700000000.%03d:%d)", l.ms%1000, l.serial)
}

func (l *logBuilder) line(typ, st, body string) {
	fmt.Fprintf(&l.b, "type=%s msg=%s: %s\n", typ, st, body)
}

// syscall writes a SYSCALL record (and returns the stamp for the rest of
// the event). args are a0..a3 in hex.
func (l *logBuilder) syscall(nr int, ok bool, exit int, args [4]string, p proc, key string) string {
	st := l.stamp()
	succ := "yes"
	if !ok {
		succ = "no"
	}
	k := "(null)"
	if key != "" {
		k = `"` + key + `"`
	}
	l.line("SYSCALL", st, fmt.Sprintf(`arch=c000003e syscall=%d success=%s exit=%d a0=%s a1=%s a2=%s a3=%s items=1 ppid=%d pid=%d auid=%d uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=%d comm="%s" exe="%s" key=%s`,
		nr, succ, exit, args[0], args[1], args[2], args[3], p.ppid, p.pid, p.auid, p.ses, p.comm, p.exe, k))
	return st
}

func (l *logBuilder) path(st string, item int, name, nametype string, mode string) {
	l.line("PATH", st, fmt.Sprintf(`item=%d name="%s" inode=%d dev=fd:01 mode=%s ouid=0 ogid=0 rdev=00:00 nametype=%s`, item, name, 1000+l.serial, mode, nametype))
}

func (l *logBuilder) cwd(st, dir string) { l.line("CWD", st, fmt.Sprintf(`cwd="%s"`, dir)) }

func (l *logBuilder) proctitle(st string, argv ...string) {
	l.line("PROCTITLE", st, "proctitle="+strings.ToUpper(hex.EncodeToString([]byte(strings.Join(argv, "\x00")))))
}

func (l *logBuilder) eoe(st string) { l.line("EOE", st, "") }

func (l *logBuilder) exec(p proc, argv ...string) {
	st := l.syscall(59, true, 0, [4]string{"1", "2", "3", "4"}, p, "rampart-exec")
	var args []string
	for i, a := range argv {
		args = append(args, fmt.Sprintf(`a%d="%s"`, i, a))
	}
	l.line("EXECVE", st, fmt.Sprintf("argc=%d %s", len(argv), strings.Join(args, " ")))
	l.cwd(st, "/home/alice")
	l.path(st, 0, p.exe, "NORMAL", "0100755")
	l.path(st, 1, "/lib64/ld-linux-x86-64.so.2", "NORMAL", "0100755")
	l.proctitle(st, argv...)
	l.eoe(st)
}

// open writes an openat(AT_FDCWD, name, flags) event.
func (l *logBuilder) open(p proc, name string, flags string, ok bool, exit int, mode string) {
	st := l.syscall(257, ok, exit, [4]string{"ffffff9c", "7ffd0000", flags, "0"}, p, "rampart-file")
	l.cwd(st, "/home/alice")
	l.path(st, 0, name, "NORMAL", mode)
	l.proctitle(st, p.comm, name)
	l.eoe(st)
}

func (l *logBuilder) connect(p proc, saddr string, ok bool, exit int) {
	st := l.syscall(42, ok, exit, [4]string{"3", "7ffd0000", "10", "0"}, p, "rampart-net")
	l.line("SOCKADDR", st, "saddr="+saddr)
	l.proctitle(st, p.comm)
	l.eoe(st)
}

// scenarioLog is the synthetic scenario of TestPipelineScenario.
func scenarioLog(root string, execs map[string]string) string {
	var l logBuilder
	reader := proc{pid: 1001, ppid: 900, ses: 4294967295, auid: 4294967295, exe: execs["reader"], comm: "reader"}
	probe := proc{pid: 1002, ppid: 900, ses: 4294967295, auid: 4294967295, exe: execs["probe"], comm: "probe"}
	web := proc{pid: 1003, ppid: 900, ses: 4294967295, auid: 4294967295, exe: execs["web"], comm: "web"}
	sh := proc{pid: 1004, ppid: 1003, ses: 4294967295, auid: 4294967295, exe: "/usr/bin/dash", comm: "sh"}
	child := proc{pid: 1004, ppid: 1003, ses: 4294967295, auid: 4294967295, exe: execs["probe"], comm: "probe"}
	bash := proc{pid: 1010, ppid: 1009, ses: 7, auid: 1000, exe: "/usr/bin/bash", comm: "bash"}
	key := root + "/keys/node.key"

	// 1-2: reader runs and reads its key (allowed).
	l.exec(reader, "reader", key)
	l.open(reader, key, "0", true, 3, "0100600")
	// 3-4: probe runs and reads the key: a deviation (invariant) and
	// key_read_by_non_owner.
	l.exec(probe, "probe", "read", key)
	l.open(probe, key, "0", true, 3, "0100600")
	// 5-8: web runs, connects to its channel (allowed), starts a shell
	// (execute allowed; shell_from_network_facing), the shell starts
	// probe (spawn allowed).
	l.exec(web, "web")
	l.connect(web, "02001B9E7F0000010000000000000000", true, 0) // 127.0.0.1:7070
	l.exec(sh, "/bin/sh", "-c", "probe")
	l.exec(child, "probe", "connect")
	// 9: probe connects to the channel it is no client of: deviation.
	l.connect(child, "02001B9E7F0000010000000000000000", false, -111)
	// 10: probe traces reader: deviation and ptrace_other_compartment.
	st := l.syscall(101, true, 0, [4]string{"10", "3e9", "0", "0"}, probe, "rampart-priv")
	l.line("OBJ_PID", st, `opid=1001 oauid=4294967295 ouid=0 oses=4294967295 obj=unconfined ocomm="reader"`)
	l.eoe(st)
	// 11: probe tries to load a module (EBADF): kernel_module_load.
	st = l.syscall(313, false, -9, [4]string{"ffffffff", "0", "0", "0"}, probe, "rampart-priv")
	l.eoe(st)
	// 12: probe writes reader's executable: deviation (no resource) and
	// write_to_executable.
	l.open(probe, execs["reader"], "241", true, 3, "0100755")
	// 13: probe opens a file that does not exist: no access.
	l.open(probe, root+"/keys/absent", "0", false, -2, "0100600")
	// 14-: alice logs in (role ops), reads the web data (allowed) and
	// tries the key (refused by the kernel: an attempted deviation).
	st = l.stamp()
	l.line("USER_START", st, `pid=950 uid=0 auid=1000 ses=7 msg='op=PAM:session_open grantors=pam_unix acct="alice" exe="/usr/sbin/sshd" hostname=client.example.org addr=192.0.2.10 terminal=ssh res=success'`)
	l.exec(bash, "-bash")
	l.open(bash, root+"/www/index.html", "0", true, 3, "0100644")
	l.open(bash, key, "0", false, -13, "0100600")
	// A gap of four serials, then garbage and bad records.
	l.serial += 4
	l.exec(reader, "reader")
	l.b.WriteString("this is not an audit record\n")
	l.b.WriteString(`type=SYSCALL msg=audit(1700000000.900:9999): arch=c000003e syscall=59 success=yes exit=0 comm="trunc` + "\n")
	l.b.WriteString("type=NOT_A_TYPE msg=audit(1700000000.901:10000): a=b\n")
	l.b.WriteString("type=SYSCALL msg=audit(1700000000.902:10001): " + strings.Repeat("x", 100<<10) + "\n")
	l.b.WriteString("type=SYSCALL msg=audit(garbage): a=b\n")
	l.b.WriteString("\x00\x01\x02\xff binary\n")
	return l.b.String()
}

// alertKey summarises an alert for comparison.
func alertKey(m map[string]any) string {
	a := get(m, "alert")
	return strings.Join([]string{str(a, "source"), str(a, "rule"), str(a, "subject"), str(a, "verb"), str(a, "object")}, "|")
}

// TestPipelineScenario runs a synthetic scenario through the whole
// pipeline (parse, reassemble, attribute, detect, filter, append) and
// checks the attribution, the alerts, the losses, the bad input, and
// that the ledger verifies, is canonical JSON and leaks none of the
// scenario's raw identifiers.
func TestPipelineScenario(t *testing.T) {
	root := "/srv/agent-test"
	execs := map[string]string{"reader": "/opt/agent-test/bin/reader", "web": "/opt/agent-test/bin/web", "probe": "/opt/agent-test/bin/probe"}
	p := scenarioPolicy(t, root, execs, 7070)
	led, ver, _ := testLedger(t, nil)
	var alerts bytes.Buffer
	a, err := New(Options{
		Policy: p, Keyring: testKeyring(t), Ledger: led, Rules: shippedRules(t), Alerts: &alerts,
		Source: "test", Version: "test",
		LookupUser: func(uid uint32) (string, bool) {
			if uid == 1000 {
				return "alice", true
			}
			return "", false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	log := scenarioLog(root, execs)
	if err := a.RunReader(context.Background(), strings.NewReader(log), ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(""); err != nil {
		t.Fatal(err)
	}
	if err := led.Close(); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()

	es := readEntries(t, led.Dir())
	checkCanonical(t, es)
	rep := verifyLedger(t, led.Dir(), ver)
	if rep.Entries != uint64(len(es)) || st.Entries != uint64(len(es)) {
		t.Errorf("ledger has %d entries, report %d, agent wrote %d", len(es), rep.Entries, st.Entries)
	}

	// Attribution, by audit serial.
	bySerial := map[string]map[string]any{}
	kinds := map[string]int{}
	var alertEntries []map[string]any
	for _, e := range es {
		k := str(e.JSON, "kind")
		kinds[k]++
		switch k {
		case "event":
			bySerial[string(e.JSON["serial"].(json.Number))] = e.JSON
		case "alert":
			alertEntries = append(alertEntries, e.JSON)
			ev := es[int(mustInt(t, e.JSON["event"]))]
			if str(ev.JSON, "kind") != "event" || ev.JSON["serial"] != e.JSON["serial"] {
				t.Errorf("alert entry %d refers to entry %v, which is not its event", e.Seq, e.JSON["event"])
			}
		}
	}
	attr := func(serial int, want string) {
		t.Helper()
		ev := bySerial[itoa(serial)]
		got := strings.Join([]string{str(ev, "agent.subject_kind"), str(ev, "agent.subject"), str(ev, "agent.by")}, "/")
		if got != want {
			t.Errorf("event %d attributed to %q, want %q", serial, got, want)
		}
	}
	attr(1, "compartment/reader/exe")
	attr(3, "compartment/probe/exe")
	attr(7, "compartment/web/parent") // the shell web started
	attr(8, "compartment/probe/exe")
	attr(15, "role/ops/session")
	attr(17, "role/ops/session")

	// Access decisions in the event entries.
	if got := str(bySerial["2"], "access.0.allowed"); got != "true" {
		t.Errorf("reader reading its key: allowed=%q", got)
	}
	if got := str(bySerial["4"], "access.0.rule"); got != "invariant only_reader_reads_keys" {
		t.Errorf("probe reading the key: rule %q", got)
	}
	if got := str(bySerial["8"], "access.0.verb") + "/" + str(bySerial["8"], "access.0.allowed"); got != "spawn/true" {
		t.Errorf("web's shell starting probe: %q", got)
	}
	if acc := get(bySerial["13"], "access"); acc != nil {
		t.Errorf("an open failing with ENOENT has accesses: %v", acc)
	}

	// Alerts: the ledger's and stdout's are the same lines.
	var lines []string
	for _, e := range alertEntries {
		b, _ := json.Marshal(e)
		_ = b
		lines = append(lines, alertKey(e))
	}
	var out []string
	for _, ln := range strings.Split(strings.TrimSpace(alerts.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("alert line is not JSON: %v: %s", err, ln)
		}
		out = append(out, alertKey(m))
	}
	if !slices.Equal(lines, out) {
		t.Errorf("stdout alerts differ from the ledger's:\n%v\n%v", out, lines)
	}
	want := []string{
		"deviation|invariant only_reader_reads_keys|probe|read|keys",
		"rule|key_read_by_non_owner|probe|read|keys",
		"rule|shell_from_network_facing|web|execute|system_bin",
		"deviation|no grant|probe|connect|loop",
		"deviation|no grant|probe|ptrace|reader",
		"rule|ptrace_other_compartment|probe|ptrace|reader",
		"rule|kernel_module_load|probe||",
		"deviation|no grant|probe|write|",
		"rule|write_to_executable|probe|write|",
		"deviation|invariant only_reader_reads_keys|ops|read|keys",
		"rule|key_read_by_non_owner|ops|read|keys",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("alerts:\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
	}
	for _, e := range alertEntries {
		if str(e, "alert.rule") == "invariant only_reader_reads_keys" && str(e, "alert.subject") == "ops" {
			if str(e, "alert.attempt") != "true" || !strings.Contains(str(e, "alert.invariant_at"), "policy.hcl:") {
				t.Errorf("ops's refused read: %v", e["alert"])
			}
		}
	}
	if st.Alerts != uint64(len(want)) || st.Deviations != 5 {
		t.Errorf("stats: %d alerts, %d deviations", st.Alerts, st.Deviations)
	}

	// Losses and bad input: counted, recorded, never fatal.
	if st.LostEvents != 4 || kinds["loss"] != 1 {
		t.Errorf("lost %d events in %d loss entries, want 4 in 1", st.LostEvents, kinds["loss"])
	}
	wantErr := map[string]uint64{"no-type": 2, "truncated": 1, "unknown-type": 1, "too-long": 1, "bad-stamp": 1}
	for r, n := range wantErr {
		if st.ParseErrorsBy[r] != n {
			t.Errorf("parse errors %s: %d, want %d (all: %v)", r, st.ParseErrorsBy[r], n, st.ParseErrorsBy)
		}
	}
	if kinds["event"] != int(st.Events) || kinds["alert"] != int(st.Alerts) || kinds["agent"] != 2 {
		t.Errorf("entries by kind %v; stats %+v", kinds, st)
	}
	stop := es[len(es)-1].JSON
	if str(stop, "agent.op") != "stop" || str(stop, "agent.parse_errors") != itoa(int(st.ParseErrors)) || str(stop, "agent.lost_events") != "4" {
		t.Errorf("stop entry %v", stop)
	}

	// Privacy: none of the raw identifiers is in the ledger; the raw log
	// has them all (or the check would prove nothing).
	raw := []string{"alice", "192.0.2.10", "client.example.org", "127.0.0.1", root + "/keys/node.key", root + "/keys"}
	var all bytes.Buffer
	for _, e := range es {
		all.Write(e.Raw)
		all.WriteByte('\n')
	}
	findings, err := privacy.Lint(bytes.NewReader(all.Bytes()), privacy.LintOptions{Values: raw})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("ledger: %v", f)
	}
	rawFindings, err := privacy.Lint(strings.NewReader(log), privacy.LintOptions{Values: raw, MaxFindings: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range rawFindings {
		found[string(f.Class)] = true
	}
	if !found["listed-value"] || !found["ipv4"] {
		t.Errorf("the raw log gives findings %v: the check would be vacuous", found)
	}
	if !strings.Contains(all.String(), "[redacted:policy-secret]") {
		t.Errorf("no secret path was redacted")
	}
}

func mustInt(t testing.TB, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestLossKinds checks that every kind of loss becomes a ledger entry and
// is counted.
func TestLossKinds(t *testing.T) {
	p := scenarioPolicy(t, "/srv/x", map[string]string{"reader": "/x/r", "web": "/x/w", "probe": "/x/p"}, 1)
	led, ver, _ := testLedger(t, nil)
	a, err := New(Options{Policy: p, Keyring: testKeyring(t), Ledger: led})
	if err != nil {
		t.Fatal(err)
	}
	a.Loss(audit.Loss{Kind: audit.LossKernel, Count: 17})
	a.Loss(audit.Loss{Kind: audit.LossSocket})
	a.Loss(audit.Loss{Kind: audit.LossSeqGap, From: 10, To: 12, Count: 3, Node: "node-a.example.org"})
	a.Loss(audit.Loss{Kind: audit.LossDiscontinuity, From: 10, To: 5000000})
	a.Close("")
	led.Close()
	es := readEntries(t, led.Dir())
	checkCanonical(t, es)
	verifyLedger(t, led.Dir(), ver)
	var got []string
	for _, e := range es {
		if str(e.JSON, "kind") == "loss" {
			got = append(got, str(e.JSON, "loss.loss")+":"+str(e.JSON, "loss.count"))
			if strings.Contains(string(e.Raw), "node-a") {
				t.Errorf("raw node name in %s", e.Raw)
			}
		}
	}
	if !slices.Equal(got, []string{"kernel:17", "socket:0", "seq-gap:3", "discontinuity:0"}) {
		t.Errorf("loss entries %v", got)
	}
	if st := a.Stats(); st.LostEvents != 20 || st.LossReports != 4 {
		t.Errorf("stats %+v", st)
	}
}

// TestAVCDeviation checks that an SELinux denial is judged: subject and
// object from the contexts (the SELinux compiler's type names), the verb
// from the permission, the invariant it breaks.
func TestAVCDeviation(t *testing.T) {
	p := scenarioPolicy(t, "/srv/avc", map[string]string{"reader": "/x/r", "web": "/x/w", "probe": "/x/p"}, 1)
	out, err := selinux.Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := fmt.Sprintf(`type=AVC msg=audit(1700000000.100:10): avc:  denied  { read } for  pid=77 comm="probe" name="node.key" dev="vda1" ino=5 scontext=system_u:system_r:%s:s0 tcontext=system_u:object_r:%s:s0 tclass=file permissive=0
type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=77 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="probe" exe="/usr/bin/whatever" subj=system_u:system_r:%s:s0 key=(null)
type=EOE msg=audit(1700000000.100:10): 
`, out.Domains["probe"], out.ResourceTypes["keys"], out.Domains["probe"])
	led, _, _ := testLedger(t, nil)
	var alerts bytes.Buffer
	a, err := New(Options{Policy: p, Keyring: testKeyring(t), Ledger: led, Alerts: &alerts})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RunReader(context.Background(), strings.NewReader(log), ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	a.Close("")
	led.Close()
	var m map[string]any
	if err := json.Unmarshal(alerts.Bytes(), &m); err != nil {
		t.Fatalf("alerts %q: %v", alerts.String(), err)
	}
	got := strings.Join([]string{str(m, "alert.subject"), str(m, "alert.by"), str(m, "alert.verb"), str(m, "alert.object"), str(m, "alert.rule"), str(m, "alert.attempt")}, "|")
	if got != "probe|label|read|keys|invariant only_reader_reads_keys|true" {
		t.Errorf("AVC alert: %s\n%s", got, alerts.String())
	}
}
