package verity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a formatted device in a temporary directory.
type fixture struct {
	dev      *Device
	root     []byte
	data     []byte // original data
	hash     []byte // original hash device
	geometry *Geometry
}

var testSalt, _ = hex.DecodeString("e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d")

func newFixture(t *testing.T, blocks int, l Layout) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{}
	dataPath := filepath.Join(dir, "data")
	f.data = writeRandom(t, dataPath, blocks*4096, 7)
	p := DefaultParams()
	p.Salt = testSalt
	if l.FECPath != "" {
		l.FECPath = filepath.Join(dir, l.FECPath)
	}
	f.dev = &Device{DataPath: dataPath, HashPath: filepath.Join(dir, "hash"), Params: p, Layout: l}
	res, err := f.dev.Format(nil)
	if err != nil {
		t.Fatal(err)
	}
	f.root = res.RootHash
	f.geometry = res.Geometry
	f.dev.Params = res.Params
	f.hash, _ = os.ReadFile(f.dev.HashPath)
	return f
}

func (f *fixture) verify(t *testing.T, opts *VerifyOptions) *Report {
	t.Helper()
	d := *f.dev
	rep, err := d.Verify(f.root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := fh.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func digest(b []byte) string {
	h := sha256.New()
	h.Write(testSalt)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// problem is the comparable part of a Problem.
type problem struct {
	kind   ProblemKind
	device string
	level  int
	block  uint64
	offset int64
}

func summary(ps []Problem) []problem {
	var out []problem
	for _, p := range ps {
		out = append(out, problem{p.Kind, p.Device, p.Level, p.Block, p.Offset})
	}
	return out
}

func wantProblems(t *testing.T, rep *Report, want ...problem) {
	t.Helper()
	got := summary(rep.Problems)
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), rep.Problems)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v\n(%v)", i, got[i], want[i], rep.Problems[i])
		}
	}
	if rep.OK {
		t.Errorf("report OK despite problems")
	}
}

// 129 data blocks of 4096 bytes with sha256: level 1 is hash block 1,
// level 0 is hash blocks 2 and 3 (the superblock is block 0).

func TestVerifyIntact(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	rep := f.verify(t, nil)
	if !rep.OK || len(rep.Problems) != 0 {
		t.Fatalf("intact device: %+v", rep)
	}
	if rep.DataBlocks != 129 || rep.HashBlocks != 3 {
		t.Errorf("counted %d data and %d hash blocks", rep.DataBlocks, rep.HashBlocks)
	}
}

func TestVerifyDataBlockDamaged(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	flip(t, f.dev.DataPath, 5*4096+100)
	rep := f.verify(t, nil)
	wantProblems(t, rep, problem{DataBlockDamaged, DeviceData, -1, 5, 5 * 4096})
	p := rep.Problems[0]
	damaged, _ := os.ReadFile(f.dev.DataPath)
	if p.Expected != digest(f.data[5*4096:6*4096]) || p.Actual != digest(damaged[5*4096:6*4096]) {
		t.Errorf("digests: expected %s actual %s", p.Expected, p.Actual)
	}
}

func TestVerifyLeafHashBlockDamaged(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	// Entry 0 of level-0 block 1 (hash block 3) is the digest of data block 128.
	flip(t, f.dev.HashPath, 3*4096+3)
	rep := f.verify(t, nil)
	wantProblems(t, rep,
		problem{HashBlockDamaged, DeviceHash, 0, 1, 3 * 4096},
		problem{Unverifiable, DeviceData, -1, 128, 128 * 4096})
	if rep.Problems[0].Expected != digest(f.hash[3*4096:4*4096]) {
		t.Errorf("expected digest of the original hash block, got %s", rep.Problems[0].Expected)
	}
}

func TestVerifyTopHashBlockDamaged(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	flip(t, f.dev.HashPath, 1*4096+40) // entry 1 of the top block
	rep := f.verify(t, nil)
	wantProblems(t, rep,
		problem{RootHashMismatch, DeviceHash, 1, 0, 4096},
		problem{Unverifiable, DeviceHash, 0, 1, 3 * 4096})
	if !strings.Contains(rep.Problems[0].Detail, "top hash block or the root hash") {
		t.Errorf("detail: %s", rep.Problems[0].Detail)
	}
}

func TestVerifyWrongRootHash(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	f.root[0] ^= 0xff
	rep := f.verify(t, nil)
	wantProblems(t, rep, problem{RootHashMismatch, DeviceHash, 1, 0, 4096})
	if !strings.Contains(rep.Problems[0].Detail, "not this image's") {
		t.Errorf("detail: %s", rep.Problems[0].Detail)
	}
}

func TestVerifyPaddingNotZero(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	// Level-0 block 1 holds one digest (32 bytes); byte 100 is padding.
	flip(t, f.dev.HashPath, 3*4096+100)
	rep := f.verify(t, nil)
	wantProblems(t, rep,
		problem{HashBlockDamaged, DeviceHash, 0, 1, 3 * 4096},
		problem{PaddingNotZero, DeviceHash, 0, 1, 3*4096 + 100})
}

func TestVerifyTruncated(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	if err := os.Truncate(f.dev.DataPath, 100*4096+10); err != nil {
		t.Fatal(err)
	}
	rep := f.verify(t, nil)
	// Blocks 100..127 are under level-0 block 0, so that block's own
	// digest is fine but its children are missing: one Truncated problem.
	wantProblems(t, rep, problem{Truncated, DeviceData, -1, 100, 100 * 4096})

	g := newFixture(t, 129, Layout{})
	if err := os.Truncate(g.dev.HashPath, 3*4096); err != nil {
		t.Fatal(err)
	}
	rep = g.verify(t, nil)
	wantProblems(t, rep, problem{Truncated, DeviceHash, -1, 3, 3 * 4096})
}

func TestVerifyFirstError(t *testing.T) {
	f := newFixture(t, 300, Layout{})
	flip(t, f.dev.DataPath, 10*4096)
	flip(t, f.dev.DataPath, 200*4096)
	rep := f.verify(t, nil)
	if len(rep.Problems) != 2 {
		t.Fatalf("want 2 problems, got %v", rep.Problems)
	}
	rep = f.verify(t, &VerifyOptions{FirstError: true})
	if len(rep.Problems) != 1 || !rep.Stopped || rep.Problems[0].Kind != DataBlockDamaged {
		t.Fatalf("first-error: %+v", rep)
	}
}

func TestVerifyBadSuperblock(t *testing.T) {
	f := newFixture(t, 129, Layout{})
	for _, c := range []struct {
		off  int64
		want string
	}{
		{0, "bad magic"},
		{8, "unsupported version"},
		{12, "unsupported hash type"},
		{33, "unsupported hash algorithm"},
		{65, "invalid block size"},
		{81, "salt size"},
	} {
		if err := os.WriteFile(f.dev.HashPath, f.hash, 0o644); err != nil {
			t.Fatal(err)
		}
		flip(t, f.dev.HashPath, c.off)
		if c.off == 81 || c.off == 12 {
			flip(t, f.dev.HashPath, c.off+0) // 0x01 ^ twice = original; set a high bit instead
			b, _ := os.ReadFile(f.dev.HashPath)
			b[c.off] |= 0x10
			os.WriteFile(f.dev.HashPath, b, 0o644)
		}
		d := *f.dev
		d.Params = Params{}
		_, err := d.Verify(f.root, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "hash") {
			t.Errorf("superblock damaged at byte %d: error %v, want %q", c.off, err, c.want)
		}
	}
	os.WriteFile(f.dev.HashPath, f.hash[:100], 0o644)
	d := *f.dev
	if _, err := d.Verify(f.root, nil); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated superblock: %v", err)
	}
}

func TestSuperblockRoundTrip(t *testing.T) {
	p := DefaultParams()
	p.DataBlocks = 12345
	p.Salt = testSalt
	p.UUID, _ = ParseUUID("12345678-1234-1234-1234-123456789abc")
	b, err := MarshalSuperblock(&p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := UnmarshalSuperblock(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.DataBlocks != p.DataBlocks || !bytes.Equal(q.Salt, p.Salt) || q.UUID != p.UUID || q.Algorithm != "sha256" {
		t.Fatalf("round trip: %+v", q)
	}
	if q.UUIDString() != "12345678-1234-1234-1234-123456789abc" {
		t.Errorf("uuid %s", q.UUIDString())
	}
}

func TestSeedIsReproducible(t *testing.T) {
	var a, b, c Params
	a.FromSeed([]byte("build-42"))
	b.FromSeed([]byte("build-42"))
	c.FromSeed([]byte("build-43"))
	if !bytes.Equal(a.Salt, b.Salt) || a.UUID != b.UUID || bytes.Equal(a.Salt, c.Salt) {
		t.Fatal("seed derivation is not deterministic per seed")
	}
	if len(a.Salt) != 32 || a.UUID[6]>>4 != 4 || a.UUID[8]>>6 != 2 {
		t.Fatalf("salt %x uuid %x", a.Salt, a.UUID)
	}
}

func TestFormatRefuses(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, make([]byte, 1000), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 8192), 0o644)
	for _, c := range []struct {
		name string
		d    Device
		want string
	}{
		{"small", Device{DataPath: small, HashPath: filepath.Join(dir, "h"), Params: DefaultParams()}, "too small"},
		{"empty", Device{DataPath: empty, HashPath: filepath.Join(dir, "h"), Params: DefaultParams()}, "too small"},
		{"overlap", Device{DataPath: big, HashPath: big, Params: DefaultParams(), Layout: Layout{HashOffset: 4096}}, "overlaps"},
		{"unaligned", Device{DataPath: big, HashPath: filepath.Join(dir, "h"), Params: DefaultParams(), Layout: Layout{HashOffset: 100}}, "multiple of 512"},
		{"blocks", Device{DataPath: big, HashPath: filepath.Join(dir, "h"), Params: Params{HashType: 1, Algorithm: "sha256", DataBlockSize: 4096, HashBlockSize: 4096, DataBlocks: 3}}, "need"},
		{"alg", Device{DataPath: big, HashPath: filepath.Join(dir, "h"), Params: Params{HashType: 1, Algorithm: "md5", DataBlockSize: 4096, HashBlockSize: 4096}}, "unsupported hash algorithm"},
		{"bs", Device{DataPath: big, HashPath: filepath.Join(dir, "h"), Params: Params{HashType: 1, Algorithm: "sha256", DataBlockSize: 4096, HashBlockSize: 3000}}, "invalid hash block size"},
		{"format", Device{DataPath: big, HashPath: filepath.Join(dir, "h"), Params: Params{HashType: 2, Algorithm: "sha256", DataBlockSize: 4096, HashBlockSize: 4096}}, "hash format 2"},
		{"sha512-512", Device{DataPath: big, HashPath: filepath.Join(dir, "h"), Params: Params{HashType: 1, Algorithm: "sha512", DataBlockSize: 512, HashBlockSize: 512}}, ""},
		{"missing", Device{DataPath: filepath.Join(dir, "nope"), HashPath: filepath.Join(dir, "h"), Params: DefaultParams()}, "no such file"},
	} {
		_, err := c.d.Format(nil)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// faulty fails reads that touch one byte range, like a bad sector.
type faulty struct {
	r      *memDev
	lo, hi int64
}

func (f *faulty) ReadAt(b []byte, off int64) (int, error) {
	if off < f.hi && off+int64(len(b)) > f.lo {
		return 0, errors.New("input/output error")
	}
	return f.r.ReadAt(b, off)
}

func TestVerifyIOError(t *testing.T) {
	p := DefaultParams()
	p.DataBlocks = 300
	p.Salt = testSalt
	data := &memDev{make([]byte, 300*4096)}
	hashDev := &memDev{make([]byte, 64*4096)}
	root, err := Format(data, hashDev, &p, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := &faulty{data, 42*4096 + 10, 42*4096 + 11}
	rep, err := Verify(bad, hashDev, &p, 1, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, problem{IOError, DeviceData, -1, 42, 42 * 4096})
	if !strings.Contains(rep.Problems[0].Detail, "input/output error") {
		t.Errorf("detail: %s", rep.Problems[0].Detail)
	}
	// Formatting from a failing device is an error naming the block.
	if _, err := Format(bad, &memDev{make([]byte, 64*4096)}, &p, 1, nil); err == nil || !strings.Contains(err.Error(), "data block 42") {
		t.Errorf("format from a failing device: %v", err)
	}
}
