package main

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/shareddata"
)

// sharedAudit finds a file of shared/testdata/audit above the package.
func sharedAudit(t *testing.T, name string) string {
	t.Helper()
	return shareddata.AuditFile(t, name)
}

func TestInvestigateAuditLog(t *testing.T) {
	log := sharedAudit(t, "spade/audit_wget_unit.log")
	out := mustRun(t, "investigate", "--backward", "index.html", log)
	for _, want := range []string{
		"Investigation (backward) from index.html",
		"entry point: login session — session 4 (auid 1000)",
		"sshd[24412] -fork-> bash[24413]",
		"entry point: outbound connection — data received by wget[3925] from endpoint 130.107.1.110:80",
		"COUNTERMEASURES",
		"review session 4 (auid 1000)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// flags after the arguments, JSON, DOT and HTML files
	dir := t.TempDir()
	dot, html := filepath.Join(dir, "g.dot"), filepath.Join(dir, "r.html")
	out = mustRun(t, "investigate", log, "--forward", "comm:wget", "--json", "--dot", dot, "--html", html)
	var rep struct {
		Query struct {
			Direction string `json:"direction"`
		} `json:"query"`
		Impact struct {
			Endpoints []struct {
				Address   string `json:"address"`
				BytesSent uint64 `json:"bytes_sent"`
			} `json:"endpoints"`
		} `json:"impact"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if rep.Query.Direction != "forward" || len(rep.Impact.Endpoints) != 2 || rep.Impact.Endpoints[1].BytesSent != 142 {
		t.Errorf("JSON report %+v", rep)
	}
	if b, err := os.ReadFile(dot); err != nil || !strings.HasPrefix(string(b), "digraph investigation {") {
		t.Errorf("--dot: %v %.80s", err, b)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), `<script type="application/json" id="data">`) {
		t.Errorf("--html: %v", err)
	}
	// --at before the download: the file did not exist yet
	code, _, errOut := run(t, "investigate", "--backward", "index.html", "--at", "2016-06-14 19:23:30", log)
	if code != exitOK {
		t.Errorf("--at: exit %d %s", code, errOut)
	}
	out = mustRun(t, "investigate", "--backward", "index.html", "--at", "1465932210", log)
	if !strings.Contains(out, "no entry point found") {
		t.Errorf("backward from before the file was written:\n%s", out)
	}
}

func TestInvestigateUsage(t *testing.T) {
	log := sharedAudit(t, "spade/audit_wget_unit.log")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"investigate", log}, exitUsage, "give one of --backward START or --forward START"},
		{[]string{"investigate", "--backward", "x", "--forward", "y", log}, exitUsage, "give one of"},
		{[]string{"investigate", "--backward", "x"}, exitUsage, "no input"},
		{[]string{"investigate", "--backward", "x", "--key", "k", log}, exitUsage, "apply to --ledger"},
		{[]string{"investigate", "--backward", "nosuch.file", log}, exitUsage, "nothing in the graph matches"},
		{[]string{"investigate", "--backward", "index.html", "--at", "yesterday", log}, exitUsage, "not a time"},
		{[]string{"investigate", "--backward", "index.html", "--filters", "bogus", log}, exitUsage, "unknown filter"},
		{[]string{"investigate", "--backward", "index.html", "/nonexistent.log"}, exitUsage, "no such file"},
	} {
		code, _, errOut := run(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args[1:], code, errOut, c.code, c.msg)
		}
	}
	code, out, _ := run(t, "investigate", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: rampart investigate") || !strings.Contains(out, "--unverified") {
		t.Errorf("--help: %d %s", code, out)
	}
}

// TestInvestigateLedger: the agent writes a ledger from an audit log
// ("agent run --input"); investigate verifies it with the agent's public
// key, refuses it once an entry is rewritten, and reads it with
// --unverified, saying so on the first line.
func TestInvestigateLedger(t *testing.T) {
	log := sharedAudit(t, "spade/audit_wget_unit.log")
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.hcl")
	os.WriteFile(pol, []byte("compartment \"downloader\" {\n  tier        = \"trusted\"\n  executables = [\"/usr/bin/wget\"]\n}\n"), 0o644)
	led := filepath.Join(dir, "ledger")
	if code, out, errOut := run(t, "agent", "run", "--policy", pol, "--ledger", led, "--input", log); code != exitOK {
		t.Fatalf("agent run --input: exit %d\n%s%s", code, out, errOut)
	}
	pub := led + ".key.pub"
	out := mustRun(t, "investigate", "--backward", "index.html", "--ledger", led, "--key", pub)
	if !strings.HasPrefix(out, "Investigation (backward)") || !strings.Contains(out, "entry point: login session — session 4 (user ps:") {
		t.Errorf("investigate from the ledger:\n%s", out)
	}
	if code, out, _ := run(t, "investigate", "--backward", "index.html", "--ledger", led); code != exitFailed || out != "" {
		t.Errorf("no key: exit %d (want %d)\n%s", code, exitFailed, out)
	}
	// rewrite an entry, checksum and all
	entries := filepath.Join(led, "entries")
	b, err := os.ReadFile(entries)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "www.csl.sri.com")
	if i < 0 {
		t.Fatal("the download's argument is not in the ledger")
	}
	copy(b[i:], "www.attacker.xy")
	os.WriteFile(entries, fixCRCs(b), 0o644)
	code, out, errOut := run(t, "investigate", "--backward", "index.html", "--ledger", led, "--key", pub)
	if code != exitFailed || !strings.Contains(errOut, "ledger failed verification (use --unverified") || !strings.Contains(errOut, "modified") {
		t.Errorf("tampered ledger: exit %d\n%s%s", code, out, errOut)
	}
	out = mustRun(t, "investigate", "--backward", "index.html", "--ledger", led, "--key", pub, "--unverified")
	first, _, _ := strings.Cut(out, "\n")
	if !strings.HasPrefix(first, "WARNING: UNVERIFIED LEDGER "+led+": verification failed: ") || !strings.Contains(out, "www.attacker.xy") {
		t.Errorf("--unverified: first line %q\n%s", first, out)
	}
	// the alerts of a ledger, and a start at one
	if out := mustRun(t, "investigate", "--alerts", "--ledger", led, "--key", pub, "--unverified"); !strings.HasPrefix(out, "WARNING: UNVERIFIED") {
		t.Errorf("--alerts: %s", out)
	}
}

// fixCRCs recomputes the CRC-32C of every record of a ledger's entries
// file (u32 length, u32 CRC of the length and the payload, payload, after
// a 16-byte magic), as an attacker editing the file would.
func fixCRCs(b []byte) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	for off := 16; off+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if off+8+n > len(b) {
			break
		}
		crc := crc32.Update(crc32.Update(0, tab, b[off:off+4]), tab, b[off+8:off+8+n])
		binary.BigEndian.PutUint32(b[off+4:], crc)
		off += 8 + n
	}
	return b
}
