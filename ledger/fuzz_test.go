package ledger

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// fuzzKey is a fixed key, so that seeds and crashers stay valid.
func fuzzKey(t testing.TB) (note.Signer, note.Verifiers) {
	seed := sha256.Sum256([]byte("rampart ledger fuzz key"))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(append(seed[:], seed[:]...)), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, note.VerifierList(v)
}

// fuzzSeeds builds a small tree and real proofs over it.
func fuzzSeeds(t testing.TB) (ckpt []byte, incl []byte, cons []byte) {
	s, _ := fuzzKey(t)
	var f frontier
	var m memHashes
	var leaves [][]byte
	for i := range 7 {
		e := Entry{Seq: uint64(i), Time: unixNano(int64(i) * 1e9), Data: entryData(i)}
		leaves = append(leaves, e.Leaf())
		hs, _ := f.add(tlog.RecordHash(e.Leaf()), int64(len(m)))
		m = append(m, hs...)
	}
	c, err := signCheckpoint(testOrigin, 7, f.root(), s)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tlog.ProveRecord(7, 3, m)
	incl = (&InclusionProof{Extra: leaves[3], Index: 3, Path: p, Checkpoint: c.Note}).Marshal()
	tp, _ := tlog.ProveTree(7, 4, m)
	cons = (&ConsistencyProof{Old: 4, Path: tp, Checkpoint: c.Note}).Marshal()
	return c.Note, incl, cons
}

func FuzzParseCheckpoint(f *testing.F) {
	ckpt, _, _ := fuzzSeeds(f)
	_, v := fuzzKey(f)
	f.Add(ckpt)
	f.Add([]byte("origin\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n01\nAAAA\next\n\n— o AAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCheckpoint(b); err == nil {
			// Strict parsing: the text is canonical.
			if c.Text() != string(b) {
				t.Fatalf("ParseCheckpoint(%q).Text() = %q", b, c.Text())
			}
		}
		if c, err := OpenCheckpoint(b, v); err == nil {
			if c.Origin != testOrigin || !bytes.Equal(c.Note, b) {
				t.Fatalf("OpenCheckpoint accepted %q", b)
			}
		}
		ParseSignedCheckpoint(b)
	})
}

func FuzzParseInclusionProof(f *testing.F) {
	_, incl, _ := fuzzSeeds(f)
	_, v := fuzzKey(f)
	f.Add(incl)
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx\n"))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra \nindex 18446744073709551615\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseInclusionProof(b)
		if err != nil {
			return
		}
		if got := p.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip: %q -> %q", b, got)
		}
		if _, _, err := p.Check(v); err == nil && !bytes.Equal(b, incl) && p.Index != 3 {
			// Only the seed's entry is in the seed tree; a proof of
			// another index must not check.
			t.Fatalf("accepted %q", b)
		}
	})
}

func FuzzParseConsistencyProof(f *testing.F) {
	ckpt, _, cons := fuzzSeeds(f)
	_, v := fuzzKey(f)
	old := &Checkpoint{Origin: testOrigin, Size: 4}
	f.Add(cons)
	f.Add([]byte("old 0\n\n" + string(ckpt)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseConsistencyProof(b)
		if err != nil {
			return
		}
		if got := p.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip: %q -> %q", b, got)
		}
		p.Check(old, v) // must not panic; the root of old is unknown here
	})
}

// TestGarbageFiles fills each of a ledger's files with garbage (or empties
// it, or cuts it) and checks that Open, Verify and the Reader return
// errors or reports, never panic.
func TestGarbageFiles(t *testing.T) {
	base := t.TempDir()
	l, v, _ := fill(t, filepath.Join(base, "l"), 300, &Options{CheckpointEvery: 100})
	l.Close()
	s, _, _ := testKey(t, testOrigin)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{entriesName, hashesName, indexName, checkpointsName, checkpointName, metaName} {
		for mode := range 4 {
			dir := filepath.Join(base, name+"-"+string(rune('a'+mode)))
			copyDir(t, filepath.Join(base, "l"), dir)
			p := filepath.Join(dir, name)
			b := readFile(t, p)
			switch mode {
			case 0: // random bytes, same length
				for i := range b {
					b[i] = byte(rng.IntN(256))
				}
			case 1: // empty
				b = nil
			case 2: // cut in the middle
				b = b[:len(b)/2]
			case 3: // a run of random bytes in the middle
				for i := len(b) / 3; i < len(b)/3+40 && i < len(b); i++ {
					b[i] = byte(rng.IntN(256))
				}
			}
			writeFile(t, p, b)
			if l, err := Open(dir, nil, nil); err == nil {
				l.Close()
			}
			if l, err := Open(dir, s, nil); err == nil {
				l.Close()
			}
			rep, err := Verify(dir, v, nil)
			// Only the plain copy is redundant, and a cut checkpoints file
			// just lost its last records: every other change is found.
			if err == nil && rep.OK && name != checkpointName && !(name == checkpointsName && mode == 2) {
				t.Errorf("%s mode %d: verify found nothing", name, mode)
			}
			if r, err := NewReader(dir, 5); err == nil {
				for range 400 {
					if _, err := r.Next(); err != nil {
						break
					}
				}
				r.Close()
			}
		}
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		if e.Type().IsRegular() {
			writeFile(t, filepath.Join(to, e.Name()), readFile(t, filepath.Join(from, e.Name())))
		}
	}
}
