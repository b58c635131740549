package ledger

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// roundTripSizes are 0, 1, 2, 3 and the powers of two with their
// neighbours up to 1025.
func roundTripSizes() []int {
	s := []int{0, 1, 2, 3}
	for p := 4; p <= 1024; p *= 2 {
		s = append(s, p-1, p, p+1)
	}
	return s
}

// TestRoundTripSizes grows one ledger through every size, signs a
// checkpoint at each, and checks it from a freshly opened reader.
func TestRoundTripSizes(t *testing.T) {
	dir := t.TempDir()
	l, v, _ := fill(t, dir, 0, &Options{CheckpointEvery: -1})
	defer l.Close()
	var leaves []tlog.Hash
	for _, n := range roundTripSizes() {
		for i := len(leaves); i < n; i++ {
			if _, err := l.Append(entryData(i)); err != nil {
				t.Fatal(err)
			}
			e, err := l.Entry(uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, refLeafHash(uint64(i), e.Time, entryData(i)))
		}
		if _, err := l.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		checkLedger(t, dir, v, leaves, n <= 65)
	}
}

func TestRoundTrip100k(t *testing.T) {
	const n = 100_000
	dir := t.TempDir()
	l, v, leaves := fill(t, dir, n, nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checkLedger(t, dir, v, leaves, false)
	// CheckpointEvery's default signed one every 10,000 entries, each
	// consistent with the next.
	r, err := Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cps, err := r.Checkpoints()
	if err != nil {
		t.Fatal(err)
	}
	// 0 (Create), 10000, ..., 100000; the final Checkpoint call found
	// nothing new to sign.
	if len(cps) != 11 {
		t.Fatalf("%d checkpoints", len(cps))
	}
	for i, c := range cps {
		if c.Size != uint64(i)*10000 {
			t.Fatalf("checkpoint %d has size %d", i, c.Size)
		}
	}
	for i := 1; i < len(cps); i++ {
		p, err := r.ProveConsistency(cps[i-1].Size, cps[i].Size)
		if err != nil {
			t.Fatal(err)
		}
		if cps[i-1].Size > 0 {
			if err := CheckConsistency(cps[i-1], cps[i], p); err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, int64(cps[i].Size), cps[i].Root, int64(cps[i-1].Size), cps[i-1].Root); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkLedger checks a ledger against the reference leaf hashes with
// independent code: refRoot and tlog's checkers.
func checkLedger(t *testing.T, dir string, v note.Verifiers, leaves []tlog.Hash, exhaustive bool) {
	t.Helper()
	n := len(leaves)
	r, err := Open(dir, nil, nil)
	if err != nil {
		t.Fatalf("size %d: %v", n, err)
	}
	defer r.Close()
	if r.Size() != uint64(n) {
		t.Fatalf("size %d: reopened with %d entries", n, r.Size())
	}
	root := refRoot(leaves)
	c := r.Latest()
	if c == nil || c.Size != uint64(n) || c.Root != root {
		t.Fatalf("size %d: latest checkpoint %v, want root %x", n, c, root)
	}
	if _, err := OpenCheckpoint(c.Note, v); err != nil {
		t.Fatalf("size %d: %v", n, err)
	}
	if h, err := r.TreeHash(uint64(n)); err != nil || h != root {
		t.Fatalf("size %d: TreeHash %x %v", n, h, err)
	}
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	pick := func(k int) []int {
		if exhaustive || k <= 64 {
			all := make([]int, k)
			for i := range all {
				all[i] = i
			}
			return all
		}
		s := []int{0, 1, k / 2, k - 2, k - 1}
		for range 500 {
			s = append(s, rng.IntN(k))
		}
		return s
	}
	sizes := []int{n}
	if exhaustive {
		sizes = nil
		for s := 1; s <= n; s++ {
			sizes = append(sizes, s)
		}
	}
	for _, size := range sizes {
		th := refRoot(leaves[:size])
		for _, i := range pick(size) {
			p, err := r.ProveInclusion(uint64(i), uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, int64(size), th, int64(i), leaves[i]); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
		}
		olds := pick(size + 1)
		if !exhaustive && len(olds) > 40 {
			olds = olds[:40] // refRoot of each old tree is O(n)
		}
		for _, old := range olds {
			p, err := r.ProveConsistency(uint64(old), uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if old == 0 {
				if len(p) != 0 {
					t.Fatalf("consistency from 0: %d hashes", len(p))
				}
				continue
			}
			if err := tlog.CheckTree(p, int64(size), th, int64(old), refRoot(leaves[:old])); err != nil {
				t.Fatalf("consistency %d→%d: %v", old, size, err)
			}
		}
	}
	for _, i := range pick(n) {
		e, err := r.Entry(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != uint64(i) || !bytes.Equal(e.Data, entryData(i)) || refLeafHash(e.Seq, e.Time, e.Data) != leaves[i] {
			t.Fatalf("entry %d: %+v", i, e)
		}
		// A tlog-proof for it, checked without the ledger.
		if n > 0 {
			p, err := r.ProveInclusion(uint64(i), c.Size)
			if err != nil {
				t.Fatal(err)
			}
			pf := &InclusionProof{Extra: e.Leaf(), Index: uint64(i), Path: p, Checkpoint: c.Note}
			back, err := ParseInclusionProof(pf.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if _, got, err := back.Check(v); err != nil || !bytes.Equal(got.Data, entryData(i)) {
				t.Fatalf("tlog-proof of %d: %v", i, err)
			}
		}
	}
	rep, err := Verify(dir, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != uint64(n) || rep.Verified != uint64(n) {
		t.Fatalf("size %d: verify: %+v", n, rep)
	}
}
