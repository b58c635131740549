package privacy

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testKey makes a key with a secret derived from its id (tests only).
func testKey(t testing.TB, id string) Key {
	t.Helper()
	s := sha256.Sum256([]byte("rampart privacy test key " + id))
	k, err := KeyFromSecret(id, s[:], time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeyring makes a keyring of test keys; the last is current.
func testKeyring(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	if len(ids) == 0 {
		ids = []string{"k1"}
	}
	var ks []Key
	for _, id := range ids {
		ks = append(ks, testKey(t, id))
	}
	kr, err := NewKeyring(ks...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func mustFilter(t testing.TB, cfg Config, kr *Keyring, opts ...Option) *Filter {
	t.Helper()
	f, err := NewFilter(cfg, kr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// auditDir is the shared corpus of real audit logs.
const auditDir = "../../shared/testdata/audit"

// auditFiles lists every log of the shared corpus (skipping the test if
// the corpus is absent).
func auditFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(auditDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".log") || strings.HasSuffix(p, ".txt")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil || len(files) == 0 {
		t.Skipf("shared audit corpus not found at %s: %v", auditDir, err)
	}
	slices.Sort(files)
	return files
}

// hexEncodable are the audit fields whose unquoted values are hex
// encodings (the kernel and auditd encode a value that contains spaces,
// quotes or control characters).
func hexEncodable(typ, name string) bool {
	switch name {
	case "proctitle", "name", "cwd", "acct", "comm", "exe", "cmd", "data", "path", "old", "new", "ocomm":
		return true
	}
	if typ == "EXECVE" && len(name) >= 2 && name[0] == 'a' && name[1] >= '0' && name[1] <= '9' && !strings.HasSuffix(name, "_len") {
		return true // EXECVE a0, a1, a2[0]
	}
	return false
}

func isUpperHex(s string) bool {
	if len(s) < 2 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// splitAudit is a crude, test-local splitter of one raw audit line
// ("[node=N ]type=T msg=audit(S.MS:SERIAL): k=v k="v" msg='k=v …'") into
// an Event. The real parser lives in package audit; this one only needs
// to present the shared logs' values to the filter: it decodes hex
// values of encodable fields (NULs become spaces), flattens msg='…' and
// the enriched section after 0x1d, and ignores tokens without '='.
func splitAudit(line string) (Event, bool) {
	var ev Event
	line = strings.TrimSpace(line)
	rest := line
	if node, r, ok := strings.Cut(rest, " type="); ok && strings.HasPrefix(node, "node=") {
		ev.Fields = append(ev.Fields, Field{Name: "node", Value: strings.TrimPrefix(node, "node=")})
		rest = "type=" + r
	}
	typ, r, ok := strings.Cut(rest, " msg=audit(")
	if !ok || !strings.HasPrefix(typ, "type=") {
		return ev, false
	}
	ev.Type = strings.TrimPrefix(typ, "type=")
	if ev.Type == "" {
		return ev, false
	}
	stamp, body, ok := strings.Cut(r, "):")
	if !ok {
		return ev, false
	}
	if ts, _, ok := strings.Cut(stamp, ":"); ok {
		if sec, frac, ok := strings.Cut(ts, "."); ok {
			var s, ms int64
			for _, c := range sec {
				s = s*10 + int64(c-'0')
			}
			for _, c := range frac {
				ms = ms*10 + int64(c-'0')
			}
			ev.Time = time.Unix(s, ms*int64(time.Millisecond)).UTC()
		}
	}
	ev.Fields = append(ev.Fields, splitPairs(ev.Type, body)...)
	return ev, true
}

func splitPairs(typ, s string) []Field {
	var out []Field
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == 0x1d || s[i] == '\t') {
			i++
		}
		ks := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != 0x1d {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue
		}
		key := s[ks:i]
		i++
		switch {
		case i < len(s) && s[i] == '"':
			e := strings.IndexByte(s[i+1:], '"')
			if e < 0 {
				e = len(s) - i - 1
			}
			out = append(out, Field{Name: key, Value: s[i+1 : i+1+e]})
			i += e + 2
		case i < len(s) && s[i] == '\'':
			e := strings.IndexByte(s[i+1:], '\'')
			if e < 0 {
				e = len(s) - i - 1
			}
			out = append(out, splitPairs(typ, s[i+1:i+1+e])...)
			i += e + 2
		default:
			vs := i
			for i < len(s) && s[i] != ' ' && s[i] != 0x1d {
				i++
			}
			v := s[vs:i]
			if hexEncodable(typ, key) && isUpperHex(v) {
				if b, err := hex.DecodeString(v); err == nil {
					v = strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
				}
			}
			out = append(out, Field{Name: key, Value: v})
		}
	}
	return out
}

// loadAudit returns the events of one log file.
func loadAudit(t testing.TB, path string) []Event {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for _, line := range strings.Split(string(b), "\n") {
		if ev, ok := splitAudit(line); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}
