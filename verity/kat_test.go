package verity

import (
	"encoding/hex"
	"io"
	"testing"
)

// memDev is an in-memory device for tests.
type memDev struct{ b []byte }

func (m *memDev) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memDev) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, io.ErrShortWrite
	}
	return copy(m.b[off:], p), nil
}

// TestKnownAnswers checks the vectors of cryptsetup's own verity test
// suite (tests/verity-compat-test): 8 MiB of zeros, separate devices and
// the hash tree in the data device at byte 8388608.
func TestKnownAnswers(t *testing.T) {
	const salt = "e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d"
	for _, c := range []struct {
		bs      uint32
		root    string
		salt    string
		version uint32
		alg     string
	}{
		{512, "9de18652fe74edfb9b805aaed72ae2aa48f94333f1ba5c452ac33b1c39325174", salt, 1, "sha256"},
		{1024, "54d92778750495d1f80832b486ebd007617d746271511bbf0e295e143da2b3df", salt, 1, "sha256"},
		{4096, "e522df0f97da4febb882ac40f30b37dc0b444bf6df418929463fa25280f09d5c", salt, 1, "sha256"},
		{4096, "cbbf4ebd004ef65e29b935bb635a39cf754d677f3fa10b0126da725bbdf10f7d", salt, 0, "sha256"},
		{4096, "ef29c902d87350f1da4bfa536e16cebc162a909bf89abe448b81ec500d4fb9bf", "-", 1, "sha256"},
		{1024, "d0e9163ca8844aaa2e88fe5265a8c5d9ee494a99", salt, 1, "sha1"},
		{1024, "73509e8e868be6b8ac939817a98a3d35121413b2", "dadada", 1, "sha1"},
	} {
		s, _ := ParseSalt(c.salt)
		p := Params{HashType: c.version, Algorithm: c.alg, DataBlockSize: c.bs, HashBlockSize: c.bs, Salt: s,
			DataBlocks: 8 << 20 / uint64(c.bs)}
		for _, sb := range []bool{true, false} {
			for _, offset := range []uint64{0, 8 << 20} {
				// Sized up front: Format writes from several goroutines.
				data := &memDev{make([]byte, 8<<20+offset+(1<<20))}
				hashDev := &memDev{make([]byte, 1<<20)}
				if offset > 0 {
					hashDev = data
				}
				root, err := Format(data, hashDev, &p, HashStartBlock(offset, c.bs, !sb), nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := hex.EncodeToString(root); got != c.root {
					t.Errorf("v%d %s bs %d salt %s sb %v offset %d: root %s, want %s", c.version, c.alg, c.bs, c.salt, sb, offset, got, c.root)
				}
				rep, err := Verify(data, hashDev, &p, HashStartBlock(offset, c.bs, !sb), root, nil)
				if err != nil || !rep.OK {
					t.Errorf("verify: %v, %d problems", err, len(rep.Problems))
				}
			}
		}
	}
}
