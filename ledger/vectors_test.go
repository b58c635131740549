package ledger

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The RFC 6962 test tree of transparency-dev/merkle (testonly/constants.go,
// Apache 2.0): eight leaf inputs and the root of every prefix, as
// published there (they match Certificate Transparency's test data).
var (
	vectorLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	vectorRoots  = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
)

// memHashes is a stored-hash array built with the ledger's frontier, as
// the writer builds the hashes file.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m[x]
	}
	return out, nil
}

func buildVectorTree(t *testing.T) (memHashes, *frontier) {
	var f frontier
	var m memHashes
	for i, s := range vectorLeaves {
		b, _ := hex.DecodeString(s)
		if got := tlog.StoredHashIndex(0, int64(i)); got != int64(len(m)) {
			t.Fatalf("leaf %d stored at %d, want %d", i, len(m), got)
		}
		hs, err := f.add(tlog.RecordHash(b), int64(len(m)))
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
		if got := f.root(); hex.EncodeToString(got[:]) != vectorRoots[i+1] {
			t.Fatalf("root of %d leaves: %x, want %s", i+1, f.root(), vectorRoots[i+1])
		}
	}
	return m, &f
}

func TestVectorRoots(t *testing.T) {
	m, f := buildVectorTree(t)
	if int64(len(m)) != tlog.StoredHashCount(8) {
		t.Fatalf("%d stored hashes, want %d", len(m), tlog.StoredHashCount(8))
	}
	// The frontier's nodes sit where tlog.StoredHashIndex says.
	g, err := loadFrontier(8, m)
	if err != nil || g.root() != f.root() {
		t.Fatalf("reloaded frontier: %v", err)
	}
	if e := emptyRoot(); hex.EncodeToString(e[:]) != vectorRoots[0] {
		t.Fatal("empty root")
	}
}

type inclusionVector struct {
	LeafIdx  uint64   `json:"leafIdx"`
	TreeSize uint64   `json:"treeSize"`
	Root     string   `json:"root"`
	LeafHash string   `json:"leafHash"`
	Proof    []string `json:"proof"`
	Desc     string   `json:"desc"`
	WantErr  bool     `json:"wantErr"`
}

type consistencyVector struct {
	Size1   uint64   `json:"size1"`
	Size2   uint64   `json:"size2"`
	Root1   string   `json:"root1"`
	Root2   string   `json:"root2"`
	Proof   []string `json:"proof"`
	Desc    string   `json:"desc"`
	WantErr bool     `json:"wantErr"`
}

// decodeHash decodes a vector's base64 hash; ok is false for anything but
// 32 bytes (such vectors must be rejected).
func decodeHash(s string) (tlog.Hash, bool) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// decodeRoot is decodeHash, except that the "additional" consistency
// vectors use placeholder roots that are not hashes ("don't care"): they
// stand for some root, equal when the strings are equal.
func decodeRoot(s string) (tlog.Hash, bool) {
	if h, ok := decodeHash(s); ok {
		return h, true
	}
	if s == "" {
		return tlog.Hash{}, false
	}
	return sha256.Sum256([]byte(s)), true
}

func decodeProof(list []string) ([]tlog.Hash, bool) {
	var p []tlog.Hash
	for _, s := range list {
		h, ok := decodeHash(s)
		if !ok {
			return nil, false
		}
		p = append(p, h)
	}
	return p, true
}

func vectorFiles(t *testing.T, kind string) []string {
	var files []string
	err := filepath.WalkDir(filepath.Join("testdata", "merkle", kind), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) < 50 {
		t.Fatalf("%s vectors: %d files, %v", kind, len(files), err)
	}
	return files
}

func TestInclusionVectors(t *testing.T) {
	m, _ := buildVectorTree(t)
	happy := 0
	for _, file := range vectorFiles(t, "inclusion") {
		var v inclusionVector
		if err := json.Unmarshal(readFile(t, file), &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		root, okR := decodeHash(v.Root)
		leaf, okL := decodeHash(v.LeafHash)
		proof, okP := decodeProof(v.Proof)
		var err error = errBadVector
		if okR && okL && okP {
			err = CheckInclusion(&Checkpoint{Size: v.TreeSize, Root: root}, v.LeafIdx, leaf, proof)
		}
		if (err != nil) != v.WantErr {
			t.Errorf("%s (%s): CheckInclusion: %v, wantErr %v", file, v.Desc, err, v.WantErr)
		}
		// Happy paths over the 8-leaf tree: our proof is the same.
		if !v.WantErr && v.TreeSize <= 8 && strings.Contains(file, "happy-path") {
			happy++
			got, err := tlog.ProveRecord(int64(v.TreeSize), int64(v.LeafIdx), m)
			if err != nil || len(got) != len(proof) {
				t.Fatalf("%s: ProveRecord: %v (%d hashes, want %d)", file, err, len(got), len(proof))
			}
			for i := range got {
				if got[i] != proof[i] {
					t.Errorf("%s: proof hash %d differs", file, i)
				}
			}
			if th, _ := tlog.TreeHash(int64(v.TreeSize), m); th != root {
				t.Errorf("%s: root differs", file)
			}
		}
	}
	if happy < 4 {
		t.Fatalf("only %d happy paths compared", happy)
	}
}

func TestConsistencyVectors(t *testing.T) {
	m, _ := buildVectorTree(t)
	happy := 0
	for _, file := range vectorFiles(t, "consistency") {
		var v consistencyVector
		if err := json.Unmarshal(readFile(t, file), &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		r1, ok1 := decodeRoot(v.Root1)
		r2, ok2 := decodeRoot(v.Root2)
		proof, okP := decodeProof(v.Proof)
		var err error = errBadVector
		if ok1 && ok2 && okP {
			err = CheckConsistency(&Checkpoint{Size: v.Size1, Root: r1}, &Checkpoint{Size: v.Size2, Root: r2}, proof)
		}
		if (err != nil) != v.WantErr {
			t.Errorf("%s (%s): CheckConsistency: %v, wantErr %v", file, v.Desc, err, v.WantErr)
		}
		if !v.WantErr && v.Size1 > 0 && v.Size1 < v.Size2 && v.Size2 <= 8 {
			happy++
			got, err := tlog.ProveTree(int64(v.Size2), int64(v.Size1), m)
			if err != nil || len(got) != len(proof) {
				t.Fatalf("%s: ProveTree: %v", file, err)
			}
			for i := range got {
				if got[i] != proof[i] {
					t.Errorf("%s: proof hash %d differs", file, i)
				}
			}
		}
	}
	if happy < 4 {
		t.Fatalf("only %d happy paths compared", happy)
	}
}

var errBadVector = os.ErrInvalid

func TestRecordsForHashes(t *testing.T) {
	for n := int64(0); n < 5000; n++ {
		c := tlog.StoredHashCount(n)
		if got := recordsForHashes(c); got != n {
			t.Fatalf("recordsForHashes(StoredHashCount(%d)) = %d", n, got)
		}
		if next := tlog.StoredHashCount(n + 1); next-1 > c {
			if got := recordsForHashes(next - 1); got != n {
				t.Fatalf("recordsForHashes(%d) = %d, want %d", next-1, got, n)
			}
		}
	}
}
