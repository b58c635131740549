package verity

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// SuperblockSize is the size of the on-disk verity superblock.
const SuperblockSize = 512

// superblockMagic opens every verity superblock.
var superblockMagic = [8]byte{'v', 'e', 'r', 'i', 't', 'y', 0, 0}

// MarshalSuperblock encodes p as the 512-byte version 1 superblock that
// veritysetup writes (little-endian, cryptsetup's struct verity_sb).
func MarshalSuperblock(p *Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	alg := strings.ToLower(p.Algorithm)
	if len(alg) > 31 {
		return nil, fmt.Errorf("algorithm name %q too long", alg)
	}
	b := make([]byte, SuperblockSize)
	copy(b[0:8], superblockMagic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], 1)
	le.PutUint32(b[12:], p.HashType)
	copy(b[16:32], p.UUID[:])
	copy(b[32:64], alg)
	le.PutUint32(b[64:], p.DataBlockSize)
	le.PutUint32(b[68:], p.HashBlockSize)
	le.PutUint64(b[72:], p.DataBlocks)
	le.PutUint16(b[80:], uint16(len(p.Salt)))
	copy(b[88:88+MaxSaltSize], p.Salt)
	return b, nil
}

// SuperblockError describes why bytes are not a valid superblock. Field
// names the offending field and Offset its byte offset in the superblock.
type SuperblockError struct {
	Field  string
	Offset int
	Msg    string
}

func (e *SuperblockError) Error() string {
	return fmt.Sprintf("invalid verity superblock: %s (field %s at byte %d)", e.Msg, e.Field, e.Offset)
}

// UnmarshalSuperblock decodes a superblock. It accepts exactly what
// veritysetup 2.6.1 accepts: version 1, hash type 0 or 1, a known
// algorithm, valid block sizes, a salt of at most 256 bytes.
func UnmarshalSuperblock(b []byte) (*Params, error) {
	if len(b) < SuperblockSize {
		return nil, &SuperblockError{"length", 0, fmt.Sprintf("truncated: %d of %d bytes", len(b), SuperblockSize)}
	}
	if !bytes.Equal(b[0:8], superblockMagic[:]) {
		return nil, &SuperblockError{"signature", 0, fmt.Sprintf("bad magic %q, want \"verity\\x00\\x00\"", b[0:8])}
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != 1 {
		return nil, &SuperblockError{"version", 8, fmt.Sprintf("unsupported version %d, want 1", v)}
	}
	p := &Params{
		HashType:      le.Uint32(b[12:]),
		DataBlockSize: le.Uint32(b[64:]),
		HashBlockSize: le.Uint32(b[68:]),
		DataBlocks:    le.Uint64(b[72:]),
	}
	copy(p.UUID[:], b[16:32])
	if p.HashType > 1 {
		return nil, &SuperblockError{"hash_type", 12, fmt.Sprintf("unsupported hash type %d, want 0 or 1", p.HashType)}
	}
	alg := b[32:64]
	n := bytes.IndexByte(alg, 0)
	if n < 0 {
		return nil, &SuperblockError{"algorithm", 32, "algorithm name not NUL-terminated"}
	}
	p.Algorithm = strings.ToLower(string(alg[:n]))
	if _, err := algorithm(p.Algorithm); err != nil {
		return nil, &SuperblockError{"algorithm", 32, err.Error()}
	}
	if !validBlockSize(p.DataBlockSize) {
		return nil, &SuperblockError{"data_block_size", 64, fmt.Sprintf("invalid block size %d", p.DataBlockSize)}
	}
	if !validBlockSize(p.HashBlockSize) {
		return nil, &SuperblockError{"hash_block_size", 68, fmt.Sprintf("invalid block size %d", p.HashBlockSize)}
	}
	saltSize := int(le.Uint16(b[80:]))
	if saltSize > MaxSaltSize {
		return nil, &SuperblockError{"salt_size", 80, fmt.Sprintf("salt size %d exceeds %d", saltSize, MaxSaltSize)}
	}
	if saltSize > 0 {
		p.Salt = append([]byte(nil), b[88:88+saltSize]...)
	}
	if err := p.Validate(); err != nil {
		return nil, &SuperblockError{"data_blocks", 72, err.Error()}
	}
	return p, nil
}
