//go:build linux

package audit

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/internal/auditlock"
)

// liveControl opens a unicast control socket and reads the audit status,
// or skips the test when the kernel's audit subsystem is not available to
// this process (not root, no CAP_AUDIT_CONTROL, audit in another
// namespace, audit locked).
func liveControl(t *testing.T) (*Client, *Status) {
	t.Helper()
	if testing.Short() {
		t.Skip("live audit test skipped in -short mode")
	}
	auditlock.Lock(t) // other packages' live tests change audit state too
	if os.Geteuid() != 0 {
		t.Skip("live audit test needs root (CAP_AUDIT_CONTROL, CAP_AUDIT_READ)")
	}
	ctl, err := Dial(Unicast)
	if err != nil {
		t.Skipf("no audit netlink socket: %v", err)
	}
	st, err := ctl.Status()
	if err != nil {
		ctl.Close()
		t.Skipf("AUDIT_GET failed (audit not available here): %v", err)
	}
	if st.Enabled == 2 {
		ctl.Close()
		t.Skip("audit is locked (enabled=2): rules cannot be changed until reboot")
	}
	t.Logf("audit status before the test: enabled=%d pid=%d failure=%d backlog_limit=%d lost=%d backlog_wait_time=%d",
		st.Enabled, st.PID, st.Failure, st.BacklogLimit, st.Lost, st.BacklogWaitTime)
	return ctl, st
}

// TestLiveAudit drives the real kernel: it adds rules (a syscall rule on
// a path, a watch, an execve rule for this test's children), runs cat as
// a child, receives the records over multicast (next to auditd, if it
// runs) and, when no audit daemon is registered, over unicast as the
// registered daemon; it reassembles the events and checks them. It then
// deletes the rules and restores the enabled flag and the daemon pid as
// they were.
func TestLiveAudit(t *testing.T) {
	ctl, st0 := liveControl(t)

	mc, err := Dial(Multicast)
	if err != nil {
		t.Fatalf("multicast: %v", err)
	}
	defer mc.Close()

	// The directory must outlive the cleanup below (cleanups run last
	// registered first): the kernel drops path rules whose path goes.
	dir := t.TempDir()
	var added []*Rule
	t.Cleanup(func() {
		for _, r := range added {
			if err := ctl.DeleteRule(r); err != nil {
				t.Errorf("delete rule %s: %v", r, err)
			}
		}
		if st, err := ctl.Status(); err == nil && st.Enabled != st0.Enabled {
			if err := ctl.SetEnabled(st0.Enabled); err != nil {
				t.Errorf("restore enabled=%d: %v", st0.Enabled, err)
			}
		}
		st, err := ctl.Status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Enabled != st0.Enabled || st.PID != st0.PID {
			t.Errorf("status not restored: enabled %d→%d, pid %d→%d", st0.Enabled, st.Enabled, st0.PID, st.PID)
		}
		rules, err := ctl.Rules()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			for _, a := range added {
				if r.Equal(a) {
					t.Errorf("rule left behind: %s", r)
				}
			}
		}
		ctl.Close()
	})
	if st0.Enabled == 0 {
		// Tasks forked from now on get an audit context; the children
		// started below are.
		if err := ctl.SetEnabled(1); err != nil {
			t.Fatalf("enable audit: %v", err)
		}
	}

	secret := filepath.Join(dir, "secret file") // the blank makes the kernel hex-encode the name
	watched := filepath.Join(dir, "watched")
	for _, f := range []string{secret, watched} {
		if err := os.WriteFile(f, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tag := "rampart-live-" + strconv.Itoa(os.Getpid())
	ruleText := []string{
		"-a always,exit -F arch=b64 -S open,openat -F 'path=" + secret + "' -F key=" + tag + "-open",
		"-w " + watched + " -p r -k " + tag + "-watch",
		"-a always,exit -F arch=b64 -S execve -F ppid=" + strconv.Itoa(os.Getpid()) + " -k " + tag + "-exec",
	}
	for _, text := range ruleText {
		r, err := ParseRule(text, RuleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ctl.AddRule(r); err != nil {
			t.Fatalf("add %s: %v", text, err)
		}
		added = append(added, r)
		if err := ctl.AddRule(r); !errors.Is(err, syscall.EEXIST) {
			t.Errorf("adding %s twice: %v, want EEXIST", text, err)
		}
	}
	listed, err := ctl.Rules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range added {
		if !slices.ContainsFunc(listed, r.Equal) {
			t.Errorf("rule %s not listed by the kernel", r)
		}
	}
	checkAuditctl(t, listed, added)

	boot, err := BootID()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("multicast", func(t *testing.T) {
		liveScenario(t, mc, ctl, tag, secret, watched, boot)
	})
	t.Run("unicast", func(t *testing.T) {
		if st0.PID != 0 {
			t.Skipf("an audit daemon (pid %d) owns unicast delivery; multicast was tested", st0.PID)
		}
		uc, err := Dial(Unicast)
		if err != nil {
			t.Fatal(err)
		}
		defer uc.Close()
		if err := uc.SetPID(); err != nil {
			t.Skipf("cannot register as the audit daemon (another one appeared?): %v", err)
		}
		st, err := ctl.Status()
		if err != nil || st.PID != uint32(os.Getpid()) {
			t.Fatalf("daemon pid %v after SetPID: %v", st, err)
		}
		liveScenario(t, uc, ctl, tag, secret, watched, boot)
		if err := uc.Close(); err != nil {
			t.Fatal(err)
		}
		if st, _ := ctl.Status(); st.PID != 0 {
			t.Errorf("daemon pid %d after Close", st.PID)
		}
	})
}

// liveScenario runs cat on the two files and checks the events received
// from src.
func liveScenario(t *testing.T, src *Client, ctl *Client, tag, secret, watched, boot string) {
	events := make(chan *Event, 1024)
	losses := make(chan Loss, 64)
	re := NewReassembler(ReassemblerConfig{
		Timeout: time.Second,
		OnEvent: func(e *Event) {
			if strings.Join(e.Keys(), ",") != "" && strings.HasPrefix(e.Keys()[0], tag) {
				events <- e
			}
		},
		OnLoss: func(l Loss) { losses <- l },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var nst NetlinkStats
	go func() {
		var err error
		nst, err = RunNetlink(ctx, src, re, RunOptions{Tick: 100 * time.Millisecond, Status: ctl, LostEvery: 200 * time.Millisecond,
			OnParseError: func(typ RecordType, data []byte, err error) { t.Errorf("%s %q: %v", typ, data, err) }})
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("RunNetlink: %v", err)
		}
		t.Logf("netlink: %+v", nst)
	}()
	time.Sleep(100 * time.Millisecond) // let the reader start

	cmd := exec.Command("cat", secret, watched)
	cmd.Stdout = nil
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.Process.Pid

	got := map[string]*Event{}
	deadline := time.After(10 * time.Second)
	for len(got) < 3 {
		select {
		case e := <-events:
			k := strings.TrimPrefix(e.Keys()[0], tag+"-")
			if p, _ := e.PID(); p == child {
				got[k] = e
			}
		case l := <-losses:
			t.Logf("loss reported: %+v", l)
		case <-deadline:
			t.Fatalf("events received: %v (want open, watch, exec)", mapKeys(got))
		}
	}

	catPath, _ := exec.LookPath("cat")
	ex := got["exec"]
	argv, ok := ex.Argv()
	if ex.SyscallName() != "execve" || !ok || strings.Join(argv, "|") != "cat|"+secret+"|"+watched {
		t.Errorf("exec event: %s argv %q %v", ex.SyscallName(), argv, ok)
	}
	if ppid, _ := ex.PPID(); ppid != os.Getpid() {
		t.Errorf("exec ppid %d, want %d", ppid, os.Getpid())
	}
	if ok, _ := ex.Success(); !ok || ex.How != CompleteEOE || !ex.EOE {
		t.Errorf("exec event success=%v completed by %s", ok, ex.How)
	}
	pt, _ := ex.Proctitle()
	if pt != "cat "+secret+" "+watched {
		t.Errorf("proctitle %q", pt)
	}
	exe, _ := ex.Exe()
	if real, _ := filepath.EvalSymlinks(catPath); exe != real {
		t.Errorf("exe %q, want %q", exe, real)
	}

	op := got["open"]
	paths := op.Paths()
	raw, enc, _ := op.First(TypePath).Raw("name")
	if len(paths) != 1 || paths[0].Name != secret || enc != Hex || strings.Contains(string(raw), " ") {
		t.Errorf("open paths %+v (name written %s as %q)", paths, []string{"plain", "quoted", "hex"}[min(int(enc), 2)], raw)
	}
	if ok, _ := op.Success(); !ok || (op.SyscallName() != "openat" && op.SyscallName() != "open") {
		t.Errorf("open event %s success=%v", op.SyscallName(), ok)
	}
	if cwd, _ := op.Cwd(); cwd == "" {
		t.Error("no CWD record")
	}
	if uid, _ := op.UID(); uid != uint32(os.Getuid()) {
		t.Errorf("uid %d", uid)
	}

	w := got["watch"]
	if wp := w.Paths(); len(wp) == 0 || wp[0].Name != watched {
		t.Errorf("watch paths %+v", wp)
	}

	// process tracking on the live events: the exec is cat's image, and
	// its opens belong to it
	tr := NewTracker(TrackerConfig{BootID: boot})
	p := tr.Observe(ex)
	if p == nil || p.ID != (ExecID{boot, child, ex.Stamp.Serial}) || p.Origin != OriginExec || p.PPID != os.Getpid() {
		t.Errorf("tracked exec %+v", p)
	}
	if q := tr.Observe(op); q != p {
		t.Errorf("open attributed to %+v, want the exec image", q)
	}
	if ex.Stamp.Serial >= op.Stamp.Serial || op.Stamp.Serial >= w.Stamp.Serial {
		t.Errorf("serials exec %d open %d watch %d not increasing", ex.Stamp.Serial, op.Stamp.Serial, w.Stamp.Serial)
	}
}

func mapKeys(m map[string]*Event) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	return k
}

// checkAuditctl compares the kernel's rules, as this package formats
// them, with what auditctl -l prints, when auditctl is installed (Debian
// package auditd).
func checkAuditctl(t *testing.T, listed, added []*Rule) {
	path, err := exec.LookPath("auditctl")
	if err != nil {
		t.Log("auditctl not installed: rule listing not compared with it")
		return
	}
	out, err := exec.Command(path, "-l").CombinedOutput()
	if err != nil {
		t.Errorf("auditctl -l: %v: %s", err, out)
		return
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, r := range listed {
		for _, a := range added {
			if r.Equal(a) && !slices.Contains(lines, r.String()) {
				t.Errorf("rule %q not in auditctl -l:\n%s", r.String(), out)
			}
		}
	}
	// and the other way: a rule auditctl adds is read back as auditctl
	// lists it, and deleted by this package
	text := "-a always,exit -F arch=b64 -S ptrace,process_vm_readv -F a0=0x10 -C uid!=euid -F key=rampart-live-actl-" + strconv.Itoa(os.Getpid())
	args := strings.Fields(text)
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Errorf("auditctl %s: %v: %s", text, err, out)
		return
	}
	// in case the deletion below does not happen (it should: then this
	// fails quietly)
	defer exec.Command(path, append([]string{"-d"}, args[1:]...)...).Run()
	ctl, err := Dial(Unicast)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	mine, _ := ParseRule(text, RuleOptions{})
	rules, err := ctl.Rules()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rules {
		if r.Equal(mine) {
			found = true
			if r.String() != text {
				t.Errorf("auditctl's rule reads back as %q", r.String())
			}
		}
	}
	if !found {
		t.Errorf("auditctl's rule %q not found", text)
	}
	if err := ctl.DeleteRule(mine); err != nil {
		t.Errorf("delete auditctl's rule: %v", err)
	}
}
