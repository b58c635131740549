package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/ledger"
)

// runL runs "rampart ledger ARGS..." in process. It goes through the
// group directly, so it works whether or not main.go lists the group yet.
func runL(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code := a.runGroup(ledgerGroup(), args)
	return code, out.String(), errb.String()
}

func mustL(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runL(t, "", args...)
	if code != 0 {
		t.Fatalf("rampart ledger %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// newCLILedger makes a ledger with the CLI and returns its directory, the
// private and public key files.
func newCLILedger(t *testing.T) (dir, key, pub string) {
	t.Helper()
	tmp := t.TempDir()
	dir, key = filepath.Join(tmp, "ledger"), filepath.Join(tmp, "keys", "node.key")
	os.Mkdir(filepath.Join(tmp, "keys"), 0o700)
	out := mustL(t, "init", dir, "--origin", "node-7.example.net/audit", "--key", key)
	if !strings.Contains(out, "Generated signing key") || !strings.Contains(out, "node-7.example.net/audit+") {
		t.Fatalf("init: %s", out)
	}
	return dir, key, key + ".pub"
}

func TestLedgerHelp(t *testing.T) {
	g := ledgerGroup()
	if code, out, _ := runL(t, "", "--help"); code != 0 || !strings.Contains(out, "Verbs:") {
		t.Fatalf("ledger --help: %d %s", code, out)
	}
	for _, v := range g.verbs {
		code, out, _ := runL(t, "", v.name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: rampart ledger "+v.name) || !strings.Contains(out, "--json") {
			t.Errorf("%s --help: %d %s", v.name, code, out)
		}
	}
}

func TestLedgerInitKeys(t *testing.T) {
	dir, key, pub := newCLILedger(t)
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", err, st.Mode())
	}
	if b, _ := os.ReadFile(key); !strings.HasPrefix(string(b), "PRIVATE+KEY+node-7.example.net/audit+") {
		t.Fatalf("key: %s", b)
	}
	if b, _ := os.ReadFile(pub); strings.Contains(string(b), "PRIVATE") {
		t.Fatal("public key file holds the private key")
	}
	// Nothing in the ledger directory holds the private key.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if b, _ := os.ReadFile(filepath.Join(dir, e.Name())); bytes.Contains(b, []byte("PRIVATE+KEY")) {
			t.Fatalf("%s holds the private key", e.Name())
		}
	}
	// A second ledger with the existing key: the origin comes from it.
	dir2 := filepath.Join(t.TempDir(), "l2")
	out := mustL(t, "init", dir2, "--key", key, "--json")
	var j struct {
		Origin       string `json:"origin"`
		KeyGenerated bool   `json:"key_generated"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.Origin != "node-7.example.net/audit" || j.KeyGenerated {
		t.Fatalf("init with existing key: %v %s", err, out)
	}
	for _, args := range [][]string{
		{"init", filepath.Join(t.TempDir(), "x"), "--origin", "a/b"},                                     // no --key
		{"init", filepath.Join(t.TempDir(), "x"), "--key", filepath.Join(t.TempDir(), "k")},              // no origin for a new key
		{"init", filepath.Join(t.TempDir(), "x"), "--key", key, "--origin", "other/log"},                 // key named otherwise
		{"init", filepath.Join(t.TempDir(), "x"), "--origin", "bad origin", "--key", t.TempDir() + "/k"}, // space in origin
		{"init", dir, "--origin", "a/b", "--key", filepath.Join(dir, "inside.key")},                      // key inside the ledger
	} {
		if code, _, errOut := runL(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
	// A directory that is already a ledger; no key is left behind.
	if code, _, errOut := runL(t, "", "init", dir, "--key", key); code != 2 || !strings.Contains(errOut, "not empty") {
		t.Errorf("init over a ledger: %d %s", code, errOut)
	}
	newKey := filepath.Join(t.TempDir(), "new.key")
	if code, _, _ := runL(t, "", "init", dir, "--origin", "a/b", "--key", newKey); code != 2 || exists(newKey) {
		t.Errorf("init over a ledger made a key: %d", code)
	}
}

func TestLedgerAppendVerifyProve(t *testing.T) {
	dir, key, pub := newCLILedger(t)
	out := mustL(t, "append", dir, `{"type":"exec","proc":{"pid":1,"exe":"/sbin/init"}}`, `{"type":"open","path":"/etc/shadow"}`, "--key", key)
	if !strings.Contains(out, "Appended 2 entries: numbers 0..1") || !strings.Contains(out, "Checkpoint: size 2") {
		t.Fatalf("append: %s", out)
	}
	var lines strings.Builder
	for i := range 40 {
		lines.WriteString(`{"type":"connect","n":` + itoa(i) + `,"dst":{"port":` + itoa(443+i%3) + "}}\n")
	}
	code, out, errOut := runL(t, lines.String(), "append", dir, "--key", key)
	if code != 0 || !strings.Contains(out, "numbers 2..41") {
		t.Fatalf("append from stdin: %d %s %s", code, out, errOut)
	}
	out = mustL(t, "verify", dir, "--key", pub)
	if !strings.Contains(out, "OK: entries 0..41 match") {
		t.Fatalf("verify: %s", out)
	}
	// A witness keeps this checkpoint.
	witness := filepath.Join(t.TempDir(), "witness.ckpt")
	mustL(t, "checkpoint", dir, "--key", key, "--out", witness)

	// Inclusion proof, checked without the ledger.
	proof := filepath.Join(t.TempDir(), "e1.tlog-proof")
	mustL(t, "prove", dir, "1", "--out", proof)
	b, _ := os.ReadFile(proof)
	if !strings.HasPrefix(string(b), "c2sp.org/tlog-proof@v1\nextra ") || !strings.Contains(string(b), "\nindex 1\n") {
		t.Fatalf("proof:\n%s", b)
	}
	out = mustL(t, "prove", "--check", proof, "--key", pub)
	if !strings.Contains(out, "OK: entry 1") || !strings.Contains(out, `/etc/shadow`) {
		t.Fatalf("prove --check: %s", out)
	}
	data := filepath.Join(t.TempDir(), "data")
	os.WriteFile(data, []byte(`{"type":"open","path":"/etc/shadow"}`), 0o644)
	mustL(t, "prove", "--check", proof, "--key", pub, "--data", data)
	os.WriteFile(data, []byte(`{"type":"open","path":"/etc/passwd"}`), 0o644)
	if code, _, errOut := runL(t, "", "prove", "--check", proof, "--key", pub, "--data", data); code != 1 || !strings.Contains(errOut, "differs") {
		t.Fatalf("--data mismatch: %d %s", code, errOut)
	}
	// Another key does not accept it.
	_, _, pub2 := newCLILedger(t)
	if code, _, errOut := runL(t, "", "prove", "--check", proof, "--key", pub2); code != 1 || !strings.Contains(errOut, "unknown key") {
		t.Fatalf("wrong key: %d %s", code, errOut)
	}
	// A tampered proof: the entry changed.
	bad := bytes.Replace(b, []byte("\nindex 1\n"), []byte("\nindex 2\n"), 1)
	os.WriteFile(proof+".bad", bad, 0o644)
	if code, _, _ := runL(t, "", "prove", "--check", proof+".bad", "--key", pub); code != 1 {
		t.Fatalf("tampered proof: exit %d", code)
	}
	os.WriteFile(proof+".junk", []byte("garbage\n"), 0o644)
	if code, _, errOut := runL(t, "", "prove", "--check", proof+".junk", "--key", pub); code != 2 || !strings.Contains(errOut, "line 1") {
		t.Fatalf("garbage proof: %d %s", code, errOut)
	}
	if code, _, errOut := runL(t, "", "prove", dir, "500"); code != 2 || !strings.Contains(errOut, "not covered") {
		t.Fatalf("prove beyond: %d %s", code, errOut)
	}

	// More entries, then a consistency proof from the witness's checkpoint.
	mustL(t, "append", dir, `{"type":"exit"}`, "--key", key)
	cproof := filepath.Join(t.TempDir(), "c.proof")
	out = mustL(t, "consistency", dir, witness, "latest", "--key", pub, "--out", cproof)
	if !strings.Contains(out, "size 43 extends the one of size 42") {
		t.Fatalf("consistency: %s", out)
	}
	if b, _ := os.ReadFile(cproof); !strings.HasPrefix(string(b), "old 42\n") {
		t.Fatalf("consistency proof:\n%s", b)
	}
	out = mustL(t, "consistency", "--check", cproof, "--old", witness, "--key", pub)
	if !strings.Contains(out, "OK") {
		t.Fatalf("consistency --check: %s", out)
	}
	mustL(t, "consistency", dir, "0", "2", "--key", pub)

	// Tamper with entry 5 as root would, then verify.
	tamperEntry(t, dir, 5)
	code, out, _ = runL(t, "", "verify", dir, "--key", pub, "--checkpoint", witness)
	if code != 1 || !strings.Contains(out, "first at entry 5: MODIFIED") {
		t.Fatalf("verify tampered: %d %s", code, out)
	}
	code, out, _ = runL(t, "", "verify", dir, "--key", pub, "--json")
	var rep ledger.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || rep.First().Kind != ledger.KindModified || rep.First().Entry != 5 {
		t.Fatalf("verify --json: %d %v %s", code, err, out)
	}
	// The checkpoints still extend each other (the stored hashes are
	// intact): consistency is about checkpoints, verify about entries.
	mustL(t, "consistency", dir, witness, "latest", "--key", pub)
}

// tamperEntry changes a byte of entry n's data and fixes the record's
// checksum, as someone who knows the format would.
func tamperEntry(t *testing.T, dir string, n int) {
	t.Helper()
	p := filepath.Join(dir, "entries")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	off := 16
	for range n {
		off += 8 + int(binary.BigEndian.Uint32(b[off:]))
	}
	l := int(binary.BigEndian.Uint32(b[off:]))
	payload := append([]byte(nil), b[off+8:off+8+l]...)
	payload[len(payload)-2] ^= 1
	var rec bytes.Buffer
	rec.Write(b[:off])
	rec.Write(frame(payload))
	rec.Write(b[off+8+l:])
	os.WriteFile(p, rec.Bytes(), 0o644)
}

func TestLedgerWitnessCatchesTruncation(t *testing.T) {
	dir, key, pub := newCLILedger(t)
	mustL(t, "append", dir, "a", "b", "c", "d", "--key", key)
	witness := filepath.Join(t.TempDir(), "w.ckpt")
	mustL(t, "checkpoint", dir, "--key", key, "--out", witness)
	// Root rebuilds a shorter ledger with the node's key.
	os.RemoveAll(dir)
	mustL(t, "init", dir, "--key", key)
	mustL(t, "append", dir, "a", "b", "--key", key)
	mustL(t, "verify", dir, "--key", pub) // alone, it looks fine
	code, out, _ := runL(t, "", "verify", dir, "--key", pub, "--checkpoint", witness)
	if code != 1 || !strings.Contains(out, "TRUNCATED") || !strings.Contains(out, "entry 2") {
		t.Fatalf("verify with witness: %d %s", code, out)
	}
	if code, _, errOut := runL(t, "", "consistency", dir, witness, "latest", "--key", pub); code != 1 || !strings.Contains(errOut, "rolled back") {
		t.Fatalf("consistency from the witness: %d %s", code, errOut)
	}
	// The same length with other content: a fork.
	os.RemoveAll(dir)
	mustL(t, "init", dir, "--key", key)
	mustL(t, "append", dir, "a", "B", "c", "d", "--key", key)
	if code, _, errOut := runL(t, "", "consistency", dir, witness, "latest", "--key", pub); code != 1 || !strings.Contains(errOut, "forked") {
		t.Fatalf("consistency on a fork: %d %s", code, errOut)
	}
	code, out, _ = runL(t, "", "verify", dir, "--key", pub, "--checkpoint", witness)
	if code != 1 || !strings.Contains(out, "FORKED") {
		t.Fatalf("verify a fork: %d %s", code, out)
	}
}

func TestLedgerExportTail(t *testing.T) {
	dir, key, _ := newCLILedger(t)
	var in strings.Builder
	for i := range 30 {
		kind := []string{"exec", "open", "connect"}[i%3]
		in.WriteString(`{"kind":"` + kind + `","n":` + itoa(i) + `,"proc":{"uid":` + itoa(i%2) + "}}\n")
	}
	in.WriteString("not json\n")
	if code, _, errOut := runL(t, in.String(), "append", dir, "--key", key); code != 0 {
		t.Fatal(errOut)
	}
	out := mustL(t, "export", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 31 {
		t.Fatalf("export: %d lines", len(lines))
	}
	var e struct {
		Seq        uint64          `json:"seq"`
		Time       time.Time       `json:"time"`
		Data       json.RawMessage `json:"data"`
		DataBase64 []byte          `json:"data_base64"`
	}
	if err := json.Unmarshal([]byte(lines[7]), &e); err != nil || e.Seq != 7 || string(e.Data) != `{"kind":"open","n":7,"proc":{"uid":1}}` || e.Time.IsZero() {
		t.Fatalf("export line: %v %s", err, lines[7])
	}
	if err := json.Unmarshal([]byte(lines[30]), &e); err != nil || string(e.DataBase64) != "not json" {
		t.Fatalf("non-JSON entry: %v %s", err, lines[30])
	}
	out = mustL(t, "export", dir, "--where", "kind=connect", "--where", "proc.uid=1", "--from", "3", "--to", "20")
	if got := strings.Count(out, "\n"); got != 3 { // 5, 11, 17
		t.Fatalf("filtered export: %d\n%s", got, out)
	}
	out = mustL(t, "tail", dir, "-n", "2", "--where", "n~^1[0-9]$")
	if !strings.HasPrefix(out, "18\t") || !strings.Contains(out, "\n19\t") {
		t.Fatalf("tail: %s", out)
	}
	out = mustL(t, "tail", dir, "-n", "1")
	if !strings.HasPrefix(out, "30\t") || !strings.Contains(out, "not json") {
		t.Fatalf("tail -n 1: %s", out)
	}
	if code, _, _ := runL(t, "", "export", dir, "--where", "a..b=1"); code != 2 {
		t.Fatal("bad --where accepted")
	}

	// tail -f sees entries appended while it runs.
	s, err := ledger.LoadSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l, err := ledger.Open(dir, s, &ledger.Options{SyncEvery: 1})
		if err != nil {
			t.Error(err)
			return
		}
		defer l.Close()
		for i := range 6 {
			time.Sleep(30 * time.Millisecond)
			l.Append([]byte(`{"kind":"late","n":` + itoa(100+i) + `}`))
		}
	}()
	code, out, errOut := runL(t, "", "tail", dir, "-f", "-n", "0", "--where", "kind=late", "--count", "4", "--interval", "10ms", "--timeout", "10s", "--json")
	<-done
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, `"n":103`) || strings.Contains(out, `"n":104`) {
		t.Fatalf("tail -f: %d %s %s", code, out, errOut)
	}
	// --timeout ends a follow that sees nothing.
	start := time.Now()
	if code, _, _ := runL(t, "", "tail", dir, "-f", "-n", "0", "--where", "kind=never", "--interval", "5ms", "--timeout", "100ms"); code != 0 || time.Since(start) > 5*time.Second {
		t.Fatal("tail -f --timeout")
	}
}

func TestLedgerBadInput(t *testing.T) {
	dir, key, pub := newCLILedger(t)
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("\x00\x01garbage\n"), 0o644)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"verify", dir}, "--key"},
		{[]string{"verify", dir, "--key", key}, "private signing key"},
		{[]string{"verify", dir, "--key", junk}, "not a note verifier key"},
		{[]string{"verify", dir, "--key", pub, "--checkpoint", junk}, junk},
		{[]string{"verify", t.TempDir(), "--key", pub}, "not a ledger"},
		{[]string{"append", dir, "x"}, "--key"},
		{[]string{"append", dir, "x", "--key", pub}, "public verifier key"},
		{[]string{"prove", dir, "abc"}, "entry number"},
		{[]string{"prove", "--check", junk}, "--key"},
		{[]string{"consistency", dir, "1"}, "expected arguments"},
		{[]string{"consistency", dir, "7", "latest"}, "no checkpoint of size 7"},
		{[]string{"consistency", "--check", junk, "--key", pub}, "--old"},
		{[]string{"tail", dir, "-n", "-1"}, "-n"},
		{[]string{"nope"}, "unknown verb"},
	} {
		code, _, errOut := runL(t, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, want 2 with %q: %s", tc.args, code, tc.msg, errOut)
		}
	}
	// Another ledger's key: a clear error, not a panic.
	_, _, pub2 := newCLILedger(t)
	mustL(t, "append", dir, "x", "--key", key)
	if code, _, errOut := runL(t, "", "verify", dir, "--key", pub2); code != 2 || !strings.Contains(errOut, "no checkpoint is signed by the given key") {
		t.Errorf("verify with another key: %d %s", code, errOut)
	}
	// A checkpoint of another origin as a witness checkpoint.
	other := filepath.Join(t.TempDir(), "other.ckpt")
	tmp := t.TempDir()
	mustL(t, "init", filepath.Join(tmp, "o"), "--origin", "other.example/log", "--key", filepath.Join(tmp, "o.key"))
	mustL(t, "checkpoint", filepath.Join(tmp, "o"), "--key", filepath.Join(tmp, "o.key"), "--out", other)
	if code, _, errOut := runL(t, "", "verify", dir, "--key", pub, "--key", filepath.Join(tmp, "o.key.pub"), "--checkpoint", other); code != 2 || !strings.Contains(errOut, "origin") {
		t.Errorf("other origin: %d %s", code, errOut)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// frame is the ledger's record framing (docs/ledger.md): u32 length,
// CRC-32C of length and payload, payload.
func frame(payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)), crc32.MakeTable(crc32.Castagnoli), payload)
	b = binary.BigEndian.AppendUint32(b, crc)
	return append(b, payload...)
}
