package forensics_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/forensics"
	"github.com/rampart-sec/rampart/forensics/internal/scenario"
	"github.com/rampart-sec/rampart/forensics/report"
	"github.com/rampart-sec/rampart/policy"
)

// minimalPolicy is enough for the agent to run over the SPADE trace.
func minimalPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("p.hcl", []byte(`compartment "downloader" {
  tier        = "trusted"
  executables = ["/usr/bin/wget"]
}
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func entryPointKinds(rep *forensics.Report) []string {
	var out []string
	for _, ep := range rep.RootCause.EntryPoints {
		out = append(out, ep.Kind)
	}
	return out
}

// TestLedgerMatchesAuditLog: the agent's ledger of SPADE's wget trace —
// pseudonymised user ids and addresses, home directories generalised —
// gives the same graph and the same answer as the raw audit.log.
func TestLedgerMatchesAuditLog(t *testing.T) {
	log := scenario.Audit(t, "spade/audit_wget_unit.log")
	raw, err := forensics.Load(forensics.Sources{AuditLogs: []string{log}}, forensics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := scenario.ReplayLedger(t, minimalPolicy(t), log)
	led, err := forensics.Load(forensics.Sources{Ledgers: []forensics.LedgerSource{{Dir: l.Dir, Keys: []string{l.Pub}}}}, forensics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Graph.Stats.Events != led.Graph.Stats.Events || raw.Graph.Stats.Edges != led.Graph.Stats.Edges || raw.Graph.Stats.Nodes != led.Graph.Stats.Nodes {
		t.Errorf("graph from the ledger %+v, from the log %+v", led.Graph.Stats, raw.Graph.Stats)
	}
	if v := led.Inputs[0].Verified; v == nil || !*v {
		t.Errorf("ledger input %+v", led.Inputs[0])
	}
	r1, err := raw.Run(forensics.Query{Direction: forensics.Backward, Start: "index.html"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := led.Run(forensics.Query{Direction: forensics.Backward, Start: "index.html"})
	if err != nil {
		t.Fatal(err)
	}
	if k1, k2 := entryPointKinds(r1), entryPointKinds(r2); !slices.Equal(k1, k2) {
		t.Errorf("entry points from the ledger %v, from the log %v", k2, k1)
	}
	ep := r2.RootCause.EntryPoints[0]
	if ep.Kind != forensics.EntryLogin || !strings.HasPrefix(ep.Node.Name, "session 4 (user ps:k1:uid:") {
		t.Errorf("the ledger's login entry point %q", ep.Node.Name)
	}
	// nothing raw in the answer: the home directory and the addresses
	// are pseudonyms
	var text strings.Builder
	report.Text(&text, r2)
	for _, raw := range []string{"vagrant", "10.0.2.3", "130.107.1.110"} {
		if strings.Contains(text.String(), raw) {
			t.Errorf("the report from the ledger shows %q:\n%s", raw, text.String())
		}
	}
	// with the keyring, the addresses come back
	l2, err := forensics.Load(forensics.Sources{Ledgers: []forensics.LedgerSource{{Dir: l.Dir, Keys: []string{l.Pub}}}}, forensics.Options{Keyring: l.Keyring})
	if err != nil {
		t.Fatal(err)
	}
	r3, err := l2.Run(forensics.Query{Direction: forensics.Forward, Start: "comm:wget"})
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, e := range r3.Impact.Endpoints {
		eps = append(eps, e.Address)
	}
	if !slices.Equal(eps, []string{"10.0.2.3:53", "130.107.1.110:80"}) {
		t.Errorf("revealed endpoints %v", eps)
	}
}

// rewriteEntry edits the first ledger entry containing old (replaced by
// new, of the same length) and fixes the record's checksum, as an
// attacker with write access to the files would: only the Merkle tree and
// the signed checkpoints can tell.
func rewriteEntry(t *testing.T, dir, old, new string) {
	t.Helper()
	if len(old) != len(new) {
		t.Fatal("same length needed")
	}
	path := filepath.Join(dir, "entries")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tab := crc32.MakeTable(crc32.Castagnoli)
	for off := 16; off+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		payload := b[off+8 : off+8+n]
		if i := bytes.Index(payload, []byte(old)); i >= 0 {
			copy(payload[i:], new)
			crc := crc32.Update(crc32.Update(0, tab, b[off:off+4]), tab, payload)
			binary.BigEndian.PutUint32(b[off+4:], crc)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		off += 8 + n
	}
	t.Fatalf("%q not in the ledger", old)
}

// TestUnverifiedLedger: a ledger that fails verification is refused,
// unless Unverified is set; the report then says so first.
func TestUnverifiedLedger(t *testing.T) {
	log := scenario.Audit(t, "spade/audit_wget_unit.log")
	l := scenario.ReplayLedger(t, minimalPolicy(t), log)
	rewriteEntry(t, l.Dir, "www.csl.sri.com", "www.attacker.xy")
	src := forensics.Sources{Ledgers: []forensics.LedgerSource{{Dir: l.Dir, Keys: []string{l.Pub}}}}
	_, err := forensics.Load(src, forensics.Options{})
	if !errors.Is(err, forensics.ErrUnverified) || !strings.Contains(err.Error(), "modified") {
		t.Fatalf("Load of a tampered ledger: %v", err)
	}
	src.Ledgers[0].Unverified = true
	inv, err := forensics.Load(src, forensics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inv.Run(forensics.Query{Direction: forensics.Backward, Start: "index.html"})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := report.Text(&text, rep); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(text.String(), "\n")
	if !strings.HasPrefix(first, "WARNING: UNVERIFIED LEDGER "+l.Dir) || !strings.Contains(first, "modified") {
		t.Errorf("first line %q", first)
	}
	var js strings.Builder
	report.JSON(&js, rep)
	if lines := strings.SplitN(js.String(), "\n", 3); !strings.HasPrefix(strings.TrimSpace(lines[1]), `"warning": "UNVERIFIED LEDGER`) {
		t.Errorf("JSON does not start with the warning: %q", lines[1])
	}
	// the edit is in the graph: the tampered argument
	found := false
	for _, ps := range rep.Impact.Started {
		if strings.Contains(ps.CommandLine, "www.attacker.xy") {
			found = true
		}
	}
	if !found {
		t.Error("the tampered entry was not read")
	}
	// no key: refused too
	src.Ledgers[0] = forensics.LedgerSource{Dir: l.Dir}
	if _, err := forensics.Load(src, forensics.Options{}); !errors.Is(err, forensics.ErrUnverified) {
		t.Errorf("Load without a key: %v", err)
	}
}
