package ledger

import (
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// frontier holds the roots of the maximal complete subtrees of a tree of
// n leaves (one per set bit of n): all that tlog.StoredHashes and
// tlog.TreeHash read when appending leaf n or hashing the whole tree. It
// lets the writer and the verifier run in O(log n) memory without reading
// back what they wrote.
type frontier struct {
	n     int64
	nodes [64]frontierNode // nodes[L] is valid when bit L of n is set
}

type frontierNode struct {
	idx int64 // stored hash index
	h   tlog.Hash
}

// ReadHashes implements tlog.HashReader over the frontier.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		found := false
		for m := uint64(f.n); m != 0; m &= m - 1 {
			l := bits.TrailingZeros64(m)
			if f.nodes[l].idx == x {
				out[i], found = f.nodes[l].h, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("ledger: internal error: stored hash %d is not on the frontier of %d leaves", x, f.n)
		}
	}
	return out, nil
}

// add appends the leaf with record hash h as leaf f.n. base must be
// tlog.StoredHashIndex(0, f.n); the returned hashes are to be stored from
// there (leaf first, then each subtree the leaf completes).
func (f *frontier) add(h tlog.Hash, base int64) ([]tlog.Hash, error) {
	hs, err := tlog.StoredHashesForRecordHash(f.n, h, f)
	if err != nil {
		return nil, err
	}
	// Leaf n has m trailing one bits: n+1 clears them and sets bit m; the
	// node at level m is the last hash stored, at base+m.
	m := len(hs) - 1
	f.nodes[m] = frontierNode{base + int64(m), hs[m]}
	f.n++
	return hs, nil
}

// root returns the tree hash of the f.n leaves.
func (f *frontier) root() tlog.Hash {
	h, err := tlog.TreeHash(f.n, f)
	if err != nil {
		panic(err) // the frontier holds exactly what TreeHash reads
	}
	return h
}

// loadFrontier rebuilds the frontier of n leaves from a hash reader.
func loadFrontier(n int64, r tlog.HashReader) (*frontier, error) {
	f := &frontier{n: n}
	var idx []int64
	var levels []int
	start := int64(0)
	for l := 63; l >= 0; l-- {
		if n>>l&1 == 1 {
			idx = append(idx, tlog.StoredHashIndex(l, start>>l))
			levels = append(levels, l)
			start += 1 << l
		}
	}
	if len(idx) == 0 {
		return f, nil
	}
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	for i, l := range levels {
		f.nodes[l] = frontierNode{idx[i], hs[i]}
	}
	return f, nil
}

// recordsForHashes returns the largest n with StoredHashCount(n) <= count:
// how many records a stored-hash array of count hashes fully covers.
func recordsForHashes(count int64) int64 {
	if count <= 0 {
		return 0
	}
	// StoredHashCount(n) is between n and 2n.
	lo, hi := count/2, count+1 // StoredHashCount(lo) <= count < StoredHashCount(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if tlog.StoredHashCount(mid) <= count {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
