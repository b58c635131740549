package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const testOrigin = "rampart.test/node-1"

// testKey returns a fresh key pair for origin.
func testKey(t testing.TB, origin string) (note.Signer, note.Verifiers, string) {
	t.Helper()
	skey, vkey, err := GenerateKey(origin)
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
	return s, note.VerifierList(v), vkey
}

// testClock is a deterministic clock: one millisecond per call.
func testClock() func() time.Time {
	t := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

// entryData is the content of test entry i: JSON of varying length.
func entryData(i int) []byte {
	pad := make([]byte, i%37)
	for k := range pad {
		pad[k] = 'a' + byte((i+k)%26)
	}
	return fmt.Appendf(nil, `{"i":%d,"kind":"%s","pad":"%s"}`, i, []string{"exec", "open", "connect"}[i%3], pad)
}

// refLeafHash is the RFC 6962 leaf hash of an entry, computed here
// without the package's code: SHA-256(0x00 ‖ seq ‖ unix ns ‖ data).
func refLeafHash(seq uint64, tm time.Time, data []byte) tlog.Hash {
	b := []byte{0}
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(tm.UnixNano()))
	return sha256.Sum256(append(b, data...))
}

// refRoot is RFC 6962 §2.1's MTH, written from the RFC's definition:
// MTH({}) = SHA-256(), MTH({d0}) = leaf, MTH(D[n]) = SHA-256(0x01 ‖
// MTH(D[0:k]) ‖ MTH(D[k:n])) with k the largest power of two below n.
func refRoot(leaves []tlog.Hash) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// fill creates a ledger with n test entries, signs a checkpoint and
// returns it open for writing, with the leaf hashes computed by refLeafHash.
func fill(t testing.TB, dir string, n int, opts *Options) (*Ledger, note.Verifiers, []tlog.Hash) {
	t.Helper()
	s, v, _ := testKey(t, testOrigin)
	if opts == nil {
		opts = &Options{}
	}
	clock := testClock()
	var times []time.Time
	opts.Now = func() time.Time {
		tm := clock()
		times = append(times, tm)
		return tm
	}
	l, err := Create(dir, testOrigin, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	leaves := make([]tlog.Hash, n)
	for i := range n {
		seq, err := l.Append(entryData(i))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i) {
			t.Fatalf("Append returned %d, want %d", seq, i)
		}
		leaves[i] = refLeafHash(seq, times[i], entryData(i))
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	return l, v, leaves
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func ledgerFile(dir, name string) string { return filepath.Join(dir, name) }
