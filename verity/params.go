// Package verity builds and checks dm-verity hash trees that are byte for
// byte identical to those of cryptsetup's veritysetup (2.6.1) and accepted
// by the Linux kernel's dm-verity target.
//
// A dm-verity device protects a read-only data device with a Merkle tree
// of block digests stored on a hash device (which may be the same file at
// an offset). The tree's root digest, the root hash, is all a verifier must
// trust. This package writes the tree (Format), checks a device against a
// root hash with a detailed report of every damaged block (Verify), reads
// and writes the optional 512-byte superblock, and uses Reed-Solomon
// parity from package fec to correct damage (Repair).
package verity

import (
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"math/bits"
	"strings"
)

// Hash format versions (veritysetup --format).
const (
	// FormatChromeOS is hash format 0, the original Chrome OS layout:
	// digests packed without padding, salt appended to each block.
	FormatChromeOS = 0
	// FormatNormal is hash format 1, the default: digests padded to a
	// power of two, salt prepended to each block.
	FormatNormal = 1
)

// Limits that veritysetup and the kernel enforce.
const (
	// MaxSaltSize is the largest salt the superblock can hold.
	MaxSaltSize = 256
	// MinBlockSize and MaxBlockSize bound data and hash block sizes.
	MinBlockSize = 512
	MaxBlockSize = 512 * 1024
	// maxLevels is the deepest tree veritysetup builds.
	maxLevels = 63
)

// Params are the parameters of a dm-verity hash tree. They are what the
// superblock records and what the kernel table names.
type Params struct {
	// HashType is the hash format: FormatNormal (1) or FormatChromeOS (0).
	HashType uint32
	// Algorithm is the digest name: "sha256", "sha512" or "sha1".
	Algorithm string
	// DataBlockSize and HashBlockSize are powers of two in [512, 512 KiB].
	DataBlockSize uint32
	HashBlockSize uint32
	// DataBlocks is the number of data blocks the tree covers.
	DataBlocks uint64
	// Salt is mixed into every digest; it may be empty.
	Salt []byte
	// UUID identifies the device in the superblock (raw RFC 4122 bytes).
	UUID [16]byte
}

// DefaultParams returns veritysetup's defaults (sha256, 4096-byte blocks,
// format 1) with no salt, UUID or size set.
func DefaultParams() Params {
	return Params{HashType: FormatNormal, Algorithm: "sha256", DataBlockSize: 4096, HashBlockSize: 4096}
}

// algorithm returns the crypto.Hash for a lower-case algorithm name.
func algorithm(name string) (crypto.Hash, error) {
	switch name {
	case "sha256":
		return crypto.SHA256, nil
	case "sha512":
		return crypto.SHA512, nil
	case "sha1":
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("unsupported hash algorithm %q (want sha256, sha512 or sha1)", name)
}

// newHash returns a constructor for the algorithm's hash.Hash.
func newHash(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.SHA512:
		return sha512.New
	case crypto.SHA1:
		return sha1.New
	default:
		return sha256.New
	}
}

func validBlockSize(n uint32) bool {
	return n >= MinBlockSize && n <= MaxBlockSize && n&(n-1) == 0
}

// Validate reports the first parameter that veritysetup or the kernel would
// refuse.
func (p *Params) Validate() error {
	if p.HashType > 1 {
		return fmt.Errorf("hash format %d not supported (want 0 or 1)", p.HashType)
	}
	h, err := algorithm(strings.ToLower(p.Algorithm))
	if err != nil {
		return err
	}
	if !validBlockSize(p.DataBlockSize) {
		return fmt.Errorf("invalid data block size %d (want a power of two from %d to %d)", p.DataBlockSize, MinBlockSize, MaxBlockSize)
	}
	if !validBlockSize(p.HashBlockSize) {
		return fmt.Errorf("invalid hash block size %d (want a power of two from %d to %d)", p.HashBlockSize, MinBlockSize, MaxBlockSize)
	}
	if p.HashBlockSize < 2*uint32(h.Size()) {
		return fmt.Errorf("hash block size %d is too small for %s (at least two digests per block)", p.HashBlockSize, p.Algorithm)
	}
	if len(p.Salt) > MaxSaltSize {
		return fmt.Errorf("salt of %d bytes is too long (at most %d)", len(p.Salt), MaxSaltSize)
	}
	if p.DataBlocks == 0 {
		return fmt.Errorf("no data blocks to protect")
	}
	if p.DataBlocks > (1<<63)/uint64(p.DataBlockSize) {
		return fmt.Errorf("%d data blocks of %d bytes overflow a 64-bit size", p.DataBlocks, p.DataBlockSize)
	}
	if _, err := p.geometry(0); err != nil {
		return err
	}
	return nil
}

// SaltHex returns the salt as veritysetup prints it: lower-case hex, or
// "-" when empty.
func (p *Params) SaltHex() string {
	if len(p.Salt) == 0 {
		return "-"
	}
	return hex.EncodeToString(p.Salt)
}

// ParseSalt parses a salt given in hex; "-" and "" mean an empty salt.
func ParseSalt(s string) ([]byte, error) {
	if s == "-" || s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("salt %q is not hex: %v", s, err)
	}
	if len(b) > MaxSaltSize {
		return nil, fmt.Errorf("salt of %d bytes is too long (at most %d)", len(b), MaxSaltSize)
	}
	return b, nil
}

// UUIDString formats the UUID as 8-4-4-4-12 lower-case hex.
func (p *Params) UUIDString() string {
	u := p.UUID
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// ParseUUID parses an RFC 4122 UUID in 8-4-4-4-12 hex form.
func ParseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("UUID %q is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return u, fmt.Errorf("UUID %q is not hex", s)
	}
	copy(u[:], b)
	return u, nil
}

// Level is one level of the hash tree.
type Level struct {
	// Start is the index, in hash blocks from the start of the hash
	// device, of the level's first block.
	Start uint64
	// Blocks is the number of hash blocks in the level.
	Blocks uint64
}

// Geometry is the layout of a hash tree on the hash device.
type Geometry struct {
	// DigestSize is the algorithm's digest length; EntrySize the space a
	// digest takes in a hash block (padded to a power of two in format 1).
	DigestSize, EntrySize int
	// PerBlockBits is log2 of the number of digests per hash block.
	PerBlockBits uint
	// HashStart is the first tree block, in hash blocks.
	HashStart uint64
	// Levels[0] holds the digests of the data blocks; the last level is
	// the single block under the root. Levels are stored top first.
	Levels []Level
	// End is the hash block index just past the tree.
	End uint64
}

// Geometry computes where each tree level lies when the tree starts at
// hash block hashStart.
func (p *Params) Geometry(hashStart uint64) (*Geometry, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.geometry(hashStart)
}

func (p *Params) geometry(hashStart uint64) (*Geometry, error) {
	h, err := algorithm(strings.ToLower(p.Algorithm))
	if err != nil {
		return nil, err
	}
	g := &Geometry{DigestSize: h.Size(), EntrySize: h.Size(), HashStart: hashStart}
	if p.HashType == FormatNormal {
		g.EntrySize = 1 << bits.Len(uint(h.Size()-1))
	}
	g.PerBlockBits = uint(bits.Len32(p.HashBlockSize/uint32(h.Size())) - 1)
	levels := 0
	for g.PerBlockBits*uint(levels) < 64 && (p.DataBlocks-1)>>(g.PerBlockBits*uint(levels)) != 0 {
		levels++
	}
	if levels > maxLevels {
		return nil, fmt.Errorf("hash tree of %d levels is too deep", levels)
	}
	g.Levels = make([]Level, levels)
	pos := hashStart
	for i := levels - 1; i >= 0; i-- {
		shift := uint(i+1) * g.PerBlockBits
		if shift > 63 {
			return nil, fmt.Errorf("hash tree level %d overflows", i)
		}
		n := (p.DataBlocks + (1 << shift) - 1) >> shift
		g.Levels[i] = Level{Start: pos, Blocks: n}
		if pos+n < pos {
			return nil, fmt.Errorf("hash tree overflows the hash device")
		}
		pos += n
	}
	g.End = pos
	return g, nil
}

// PerBlock is the number of digests stored in one hash block.
func (g *Geometry) PerBlock() uint64 { return 1 << g.PerBlockBits }

// HashBlocks is the number of blocks in the tree.
func (g *Geometry) HashBlocks() uint64 { return g.End - g.HashStart }

// HashStartBlock returns the first tree block on the hash device for a
// superblock (or, with noSuperblock, the tree itself) at byte hashOffset,
// as veritysetup computes it.
func HashStartBlock(hashOffset uint64, hashBlockSize uint32, noSuperblock bool) uint64 {
	bs := uint64(hashBlockSize)
	if noSuperblock {
		return hashOffset / bs
	}
	return (hashOffset + SuperblockSize + bs - 1) / bs
}
