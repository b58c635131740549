package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/forensics"
	"github.com/rampart-sec/rampart/forensics/internal/scenario"
	"github.com/rampart-sec/rampart/forensics/report"
	"github.com/rampart-sec/rampart/policy"
)

// liveReport investigates the live scenario captured in
// ../testdata/live, from the outgoing connection that carried the secret
// away.
func liveReport(t *testing.T, unverified bool) *forensics.Report {
	t.Helper()
	dir := filepath.Join("..", "testdata", "live")
	var info struct {
		ExfilPort int `json:"exfil_port"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "scenario.json"))
	if err != nil {
		t.Skipf("no captured scenario: %v", err)
	}
	json.Unmarshal(b, &info)
	pt, err := os.ReadFile(filepath.Join(dir, "policy.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("policy.hcl", pt)
	if err != nil {
		t.Fatal(err)
	}
	l := scenario.ReplayLedger(t, p, filepath.Join(dir, "audit.log"))
	src := forensics.LedgerSource{Dir: l.Dir, Keys: []string{l.Pub}}
	if unverified {
		src = forensics.LedgerSource{Dir: l.Dir, Unverified: true} // no key: not verified
	}
	inv, err := forensics.Load(forensics.Sources{Ledgers: []forensics.LedgerSource{src}}, forensics.Options{Policy: p, Keyring: l.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inv.Run(forensics.Query{Direction: forensics.Backward, Start: "endpoint:127.0.0.1:" + strconv.Itoa(info.ExfilPort)})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// chromium finds the headless browser (Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// browse runs headless chromium on a file: the DOM after the scripts ran,
// and a screenshot.
func browse(t *testing.T, browser, page, shot string) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, append(args, "--dump-dom", "file://"+page)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	if shot != "" {
		cmd := exec.CommandContext(ctx, browser, append(args, "--window-size=1400,2000", "--screenshot="+shot, "file://"+page)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("chromium --screenshot: %v\n%s", err, b)
		}
	}
	return string(out)
}

func count(s, sub string) int { return strings.Count(s, sub) }

// TestHTMLInChromium renders the HTML report of the live scenario in
// headless Chromium and checks, in the DOM after the page's script ran,
// that the graph, the findings, the bounds and the countermeasures are
// shown.
func TestHTMLInChromium(t *testing.T) {
	browser := chromium(t)
	rep := liveReport(t, false)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := report.HTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	// self-contained: no URL is fetched
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//)`).FindString(buf.String()); m != "" {
		t.Errorf("the page refers to the network: %q", m)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	if s := os.Getenv("RAMPART_REPORT_SCREENSHOT"); s != "" {
		shot = s
	}
	dom := browse(t, browser, page, shot)
	if !strings.Contains(dom, `data-rendered="ok"`) {
		t.Fatalf("the page's script did not finish:\n%.2000s", dom)
	}
	if n, want := count(dom, `<g class="node `), len(rep.View.Nodes); n != want || want == 0 {
		t.Errorf("%d graph nodes drawn, want %d", n, want)
	}
	if n := count(dom, `<path d="M`); n < len(rep.View.Edges) {
		t.Errorf("%d edges drawn, want %d", n, len(rep.View.Edges))
	}
	if n, want := count(dom, `class="finding entry-point"`), len(rep.RootCause.EntryPoints); n != want {
		t.Errorf("%d entry points shown, want %d", n, want)
	}
	if !regexp.MustCompile(`class="finding entry-point" data-kind="inbound connection">inbound connection: connection from endpoint 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ accepted by webapp\[\d+\]`).MatchString(dom) {
		t.Error("the inbound entry point is not shown")
	}
	if !strings.Contains(dom, `class="finding secret-f secret">SECRET api_token (path redacted) [api_token] read by cat[`) {
		t.Error("the secret read is not shown")
	}
	if n, want := count(dom, `<li class="countermeasure"`), len(rep.Countermeasures); n != want {
		t.Errorf("%d countermeasures shown, want %d", n, want)
	}
	if !regexp.MustCompile(`<li class="countermeasure" data-action="rotate"><span class="act">rotate</span>secret api_token \(path redacted\)`).MatchString(dom) {
		t.Error("rotate secret api_token is not shown")
	}
	if !strings.Contains(dom, `data-compartment="webapp"`) || !strings.Contains(dom, "cannot reach: compartment backend, db_password (secret)") {
		t.Error("the policy bound of webapp is not shown")
	}
	if n, want := count(dom, `<tr class="tl `), len(rep.Timeline); n != want || want == 0 {
		t.Errorf("%d timeline rows, want %d", n, want)
	}
	if !strings.Contains(dom, `id="warning" class="warning" hidden=""`) {
		t.Error("a warning is shown for a verified ledger")
	}
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 10000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
}

// TestHTMLUnverifiedWarning: the page of an unverified ledger shows the
// warning first.
func TestHTMLUnverifiedWarning(t *testing.T) {
	browser := chromium(t)
	rep := liveReport(t, true)
	page := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.HTML(f, rep); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dom := browse(t, browser, page, "")
	if !regexp.MustCompile(`<div id="warning" class="warning">WARNING: UNVERIFIED LEDGER [^<]*no verifier key`).MatchString(dom) {
		t.Errorf("no visible warning:\n%.1500s", dom)
	}
	if i, j := strings.Index(dom, `id="warning"`), strings.Index(dom, `id="summary"`); i < 0 || j < i {
		t.Error("the warning is not before the findings")
	}
}

// TestDOT renders the graph with Graphviz when it is installed.
func TestDOT(t *testing.T) {
	rep := liveReport(t, false)
	var buf bytes.Buffer
	if err := report.DOT(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if n := count(buf.String(), " -> "); n != len(rep.View.Edges) {
		t.Errorf("%d DOT edges, want %d", n, len(rep.View.Edges))
	}
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("graphviz not installed")
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dot: %v\n%s", err, out)
	}
	if n := count(string(out), `class="node"`); n != len(rep.View.Nodes) {
		t.Errorf("graphviz drew %d nodes, want %d", n, len(rep.View.Nodes))
	}
}
