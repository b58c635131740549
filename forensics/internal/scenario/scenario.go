// Package scenario holds test helpers shared by the forensics packages:
// finding the shared audit logs, and turning an audit log into a ledger
// with the real agent (offline, as "rampart agent run --input" does).
package scenario

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-sec/rampart/agent"
	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/agent/rules"
	"github.com/rampart-sec/rampart/internal/shareddata"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
	"golang.org/x/mod/sumdb/note"
)

// Audit returns the path of a file in shared/testdata/audit, found by
// walking up from the working directory (the package's); the test skips
// when the shared data is not there.
func Audit(tb testing.TB, name string) string {
	tb.Helper()
	return shareddata.AuditFile(tb, name)
}

// Ledger is a ledger the agent wrote.
type Ledger struct {
	Dir     string // the ledger
	Pub     string // the file of its public verifier key
	Keyring *privacy.Keyring
}

// ReplayLedger runs the agent offline over an audit log into a new ledger,
// with the shipped detection rules and the default privacy filter.
func ReplayLedger(tb testing.TB, p *policy.Policy, log string) Ledger {
	tb.Helper()
	dir := tb.TempDir()
	l := Ledger{Dir: filepath.Join(dir, "ledger"), Pub: filepath.Join(dir, "ledger.pub")}
	skey, vkey, err := ledger.GenerateKey("replay.example/rampart-agent")
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	led, err := ledger.Create(l.Dir, signer.Name(), signer, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(l.Pub, []byte(vkey+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	k, err := privacy.NewKey("k1", rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	if l.Keyring, err = privacy.NewKeyring(k); err != nil {
		tb.Fatal(err)
	}
	env, err := detect.NewEnv()
	if err != nil {
		tb.Fatal(err)
	}
	det, err := env.LoadFS(rules.FS, ".")
	if err != nil {
		tb.Fatal(err)
	}
	ag, err := agent.New(agent.Options{Policy: p, Keyring: l.Keyring, Ledger: led, Rules: det})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ag.Start(); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(log)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := ag.RunReader(context.Background(), f, agent.ReaderOptions{}); err != nil {
		tb.Fatal(err)
	}
	if err := ag.Close(""); err != nil {
		tb.Fatal(err)
	}
	if err := led.Close(); err != nil {
		tb.Fatal(err)
	}
	return l
}
