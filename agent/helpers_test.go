package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/agent/rules"
	"github.com/rampart-sec/rampart/internal/shareddata"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
	"golang.org/x/mod/sumdb/note"
)

// sharedAuditDir finds shared/testdata/audit by walking up from the
// package directory (the repository is checked out with shared/ beside
// it), or skips the test.
func sharedAuditDir(t testing.TB) string {
	t.Helper()
	return shareddata.AuditDir(t)
}

// corpusFiles lists the audit logs under dir, sorted.
func corpusFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Base(p) != "README.md" {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no audit logs under %s", dir)
	}
	return out
}

// testLedger creates a ledger in a new temporary directory and returns
// it with the verifiers of its key.
func testLedger(t testing.TB, opts *ledger.Options) (*ledger.Ledger, note.Verifiers, note.Signer) {
	t.Helper()
	skey, vkey, err := ledger.GenerateKey("rampart.test/agent")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Create(filepath.Join(t.TempDir(), "ledger"), "rampart.test/agent", s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, note.VerifierList(v), s
}

// testKeyring makes a keyring with a secret derived from a fixed string
// (tests only).
func testKeyring(t testing.TB) *privacy.Keyring {
	t.Helper()
	sec := sha256.Sum256([]byte("rampart agent test key"))
	k, err := privacy.KeyFromSecret("k1", sec[:], time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := privacy.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// shippedRules compiles the rules shipped with the agent.
func shippedRules(t testing.TB) *detect.Rules {
	t.Helper()
	env, err := detect.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := env.LoadFS(rules.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// scenarioPolicy is a small policy whose paths live under root:
// reader owns the keys, web is network-facing and may start probe,
// probe is untrusted, ops is an operator role.
func scenarioPolicy(t testing.TB, root string, execs map[string]string, port int, loopClients ...string) *policy.Policy {
	if len(loopClients) == 0 {
		loopClients = []string{"web"}
	}
	clients, _ := json.Marshal(loopClients)
	t.Helper()
	src := `
policy {
  name = "agent-test"
}

compartment "reader" {
  tier        = "trusted"
  executables = ["` + execs["reader"] + `"]
  allow {
    verbs = ["read"]
    on    = ["keys"]
  }
}

compartment "web" {
  tier        = "network-facing"
  executables = ["` + execs["web"] + `"]
  allow {
    verbs = ["read"]
    on    = ["web_data"]
  }
  allow {
    verbs = ["execute"]
    on    = ["system_bin"]
  }
}

compartment "probe" {
  tier        = "untrusted"
  executables = ["` + execs["probe"] + `"]
}

role "ops" {
  accounts = ["alice"]
  allow {
    verbs = ["read"]
    on    = ["web_data"]
  }
}

resource "keys" {
  kind   = "file"
  paths  = ["` + root + `/keys/*"]
  labels = ["secret"]
  owner  = "reader"
}

resource "web_data" {
  kind  = "directory"
  paths = ["` + root + `/www/**"]
}

resource "system_bin" {
  kind   = "file"
  paths  = ["/usr/bin/*", "/bin/*"]
  labels = ["executable"]
}

channel "loop" {
  protocol = "tcp"
  ports    = [` + itoa(port) + `]
  server   = "reader"
  clients  = ` + string(clients) + `
}

spawn {
  from = "web"
  to   = ["probe"]
}

deny_access "only_reader_reads_keys" {
  description = "Nobody but reader reads key material."
  subjects    = all_except(["reader"])
  verbs       = ["read"]
  objects     = labelled("secret")
}
`
	dir := t.TempDir()
	f := filepath.Join(dir, "policy.hcl")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(f)
	if err != nil {
		t.Fatalf("test policy: %v", err)
	}
	return p
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// entry is a decoded ledger entry.
type entry struct {
	Seq  uint64
	Raw  []byte
	JSON map[string]any
}

// readEntries reads every entry of the ledger in dir.
func readEntries(t testing.TB, dir string) []entry {
	t.Helper()
	r, err := ledger.NewReader(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []entry
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(e.Data))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("entry %d is not JSON: %v\n%s", e.Seq, err, e.Data)
		}
		out = append(out, entry{e.Seq, append([]byte(nil), e.Data...), m})
	}
	return out
}

// canonical re-encodes v as canonical JSON (sorted keys, no HTML
// escaping, no white space).
func canonical(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// checkCanonical fails the test for an entry that is not canonical JSON.
func checkCanonical(t testing.TB, es []entry) {
	t.Helper()
	bad := 0
	for _, e := range es {
		if got := canonical(t, e.JSON); !bytes.Equal(got, e.Raw) {
			if bad++; bad <= 3 {
				t.Errorf("entry %d is not canonical JSON:\n got %s\nwant %s", e.Seq, e.Raw, got)
			}
		}
	}
}

// get reads a dotted path (a.b.0.c) from a decoded entry.
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path string) string {
	s, _ := get(v, path).(string)
	return s
}

// verifyLedger runs ledger.Verify and fails on any problem.
func verifyLedger(t testing.TB, dir string, v note.Verifiers) *ledger.Report {
	t.Helper()
	rep, err := ledger.Verify(dir, v, nil)
	if err != nil {
		t.Fatalf("ledger verify: %v", err)
	}
	if !rep.OK {
		t.Fatalf("ledger verify: %+v", rep.Problems)
	}
	return rep
}
