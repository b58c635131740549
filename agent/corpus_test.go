package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
)

// TestCorpus ingests every log of the shared corpus through the whole
// pipeline, one agent run per file on the same ledger (each run reopens
// it: a restart continues the ledger), and checks that the ledger
// verifies, that every entry is canonical JSON, that the counts agree
// with an independent reassembly of the same files, and that no raw
// identifier of the corpus is in the ledger.
func TestCorpus(t *testing.T) {
	dir := sharedAuditDir(t)
	files := corpusFiles(t, dir)
	p, err := policy.Load("testdata/corpus-policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	led, ver, signer := testLedger(t, nil)
	ldir := led.Dir()
	led.Close()
	kr := testKeyring(t)
	rs := shippedRules(t)

	var want struct{ events, lossReports, lost, parseErrors uint64 }
	var total Stats
	var alerts bytes.Buffer
	for i, f := range files {
		// Independent count: the reassembler alone.
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev, lr, lost uint64
		re := audit.NewReassembler(audit.ReassemblerConfig{
			OnEvent: func(*audit.Event) { ev++ },
			OnLoss: func(l audit.Loss) {
				lr++
				if l.Kind == audit.LossSeqGap {
					lost += l.Count
				}
			},
		})
		rst, err := audit.ReadAll(bytes.NewReader(in), re, audit.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want.events += ev
		want.lossReports += lr
		want.lost += lost
		want.parseErrors += rst.Errors()

		l, err := ledger.Open(ldir, signer, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(Options{Policy: p, Keyring: kr, Ledger: l, Rules: rs, Alerts: &alerts, Source: "file " + filepath.Base(f),
			// The node's human accounts, as the CLI reads them from /etc/passwd.
			FilterOptions: []privacy.Option{privacy.WithKnownIdentifiers(privacy.KindUser, "vagrant", "andrew_kroh")},
			// The node's accounts: the SPADE traces ran as vagrant (uid 1000).
			LookupUser: func(uid uint32) (string, bool) { return "vagrant", uid == 1000 },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		if err := a.RunReader(context.Background(), bytes.NewReader(in), ReaderOptions{}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := a.Close(""); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		st := a.Stats()
		if st.Events != ev || st.LossReports != lr {
			t.Errorf("%s: agent saw %d events and %d losses, the reassembler alone %d and %d", f, st.Events, st.LossReports, ev, lr)
		}
		total.Events += st.Events
		total.Entries += st.Entries
		total.Alerts += st.Alerts
		total.LossReports += st.LossReports
		total.LostEvents += st.LostEvents
		total.ParseErrors += st.ParseErrors
		total.Records += st.Records
		_ = i
	}
	es := readEntries(t, ldir)
	checkCanonical(t, es)
	rep := verifyLedger(t, ldir, ver)
	kinds := map[string]uint64{}
	ops := map[string]uint64{}
	attributed := map[string]uint64{}
	for _, e := range es {
		k := str(e.JSON, "kind")
		kinds[k]++
		if k == "agent" {
			ops[str(e.JSON, "agent.op")]++
		}
		if k == "event" {
			attributed[str(e.JSON, "agent.subject_kind")+"/"+str(e.JSON, "agent.subject")+"/"+str(e.JSON, "agent.by")]++
		}
	}
	n := uint64(len(files))
	if rep.Entries != uint64(len(es)) || total.Entries != uint64(len(es)) {
		t.Errorf("%d entries read, %d verified, %d written", len(es), rep.Entries, total.Entries)
	}
	if total.Events != want.events || kinds["event"] != want.events {
		t.Errorf("%d events processed, %d event entries; %d reassembled", total.Events, kinds["event"], want.events)
	}
	if total.LossReports != want.lossReports || kinds["loss"] != want.lossReports || total.LostEvents != want.lost {
		t.Errorf("%d losses (%d events) processed, %d loss entries; %d (%d) reassembled", total.LossReports, total.LostEvents, kinds["loss"], want.lossReports, want.lost)
	}
	if total.ParseErrors != want.parseErrors {
		t.Errorf("%d parse errors, the reader alone %d", total.ParseErrors, want.parseErrors)
	}
	if kinds["alert"] != total.Alerts || uint64(strings.Count(alerts.String(), "\n")) != total.Alerts {
		t.Errorf("%d alert entries, %d alert lines, %d alerts", kinds["alert"], strings.Count(alerts.String(), "\n"), total.Alerts)
	}
	if ops["start"] != 1 || ops["restart"] != n-1 || ops["stop"] != n {
		t.Errorf("agent entries %v for %d runs", ops, n)
	}
	if kinds["event"]+kinds["alert"]+kinds["loss"]+kinds["agent"] != uint64(len(es)) {
		t.Errorf("entries of unknown kinds: %v", kinds)
	}
	for _, k := range []string{"compartment/php/exe", "compartment/sshd/label", "compartment/wget/exe", "compartment/strace/exe", "role/ops/login-uid"} {
		if attributed[k] == 0 {
			t.Errorf("no event attributed %s: %v", k, attributed)
		}
	}
	t.Logf("%d files, %d records, %d events (%d attributed to compartments or roles), %d alerts, %d losses (%d events), %d parse errors, %d entries",
		n, total.Records, total.Events, total.Events-attributed["//"], total.Alerts, total.LossReports, total.LostEvents, total.ParseErrors, len(es))
	t.Logf("attribution: %v", attributed)
	if os.Getenv("AGENT_TEST_SHOW_ALERTS") != "" {
		t.Logf("alerts:\n%s", alerts.String())
	}

	// Privacy: the corpus's identifiers are nowhere in the ledger.
	var all bytes.Buffer
	for _, e := range es {
		all.Write(e.Raw)
		all.WriteByte('\n')
	}
	raw := []string{"andrew_kroh", "96.241.146.97", "pool-96-241-146-97.washdc.fios.verizon.net", "vagrant", "72.83.230.100", "179.38.151.221", "/home/vagrant"}
	findings, err := privacy.Lint(&all, privacy.LintOptions{Values: raw})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range findings {
		if i == 20 {
			t.Errorf("… %d findings", len(findings))
			break
		}
		t.Errorf("ledger: %v\n%.400s", f, es[f.Line-1].Raw)
	}
}
