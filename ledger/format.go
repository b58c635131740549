package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// File names inside a ledger directory. See docs/ledger.md for the format.
const (
	metaName        = "ledger.json" // origin and format version
	entriesName     = "entries"     // the entries: framed, CRC-protected records
	hashesName      = "hashes"      // tlog stored hashes, 32 bytes each
	indexName       = "index"       // 8-byte big-endian offset of each entry
	checkpointsName = "checkpoints" // every signed checkpoint, framed
	checkpointName  = "checkpoint"  // the latest signed checkpoint, plain text
	lockName        = "lock"        // flock of the single writer
)

// Format is the format identifier written in ledger.json.
const Format = "rampart-ledger/v1"

// Sizes of the on-disk structures.
const (
	fileHeaderSize   = 16 // magic at the start of entries and checkpoints
	recordHeaderSize = 8  // u32 length ‖ u32 CRC-32C
	entryHeaderSize  = 16 // u64 sequence ‖ i64 time (Unix ns)
	hashSize         = 32

	// MaxEntrySize is the largest entry (data bytes) a ledger accepts.
	MaxEntrySize = 16 << 20
	// maxNoteSize bounds a signed checkpoint.
	maxNoteSize = 64 << 10
)

// File magics: 16 bytes each, the last byte before '\n' is the version.
var (
	entriesMagic = [fileHeaderSize]byte{'r', 'a', 'm', 'p', 'a', 'r', 't', '-', 'e', 'n', 't', 'r', 'y', '-', '1', '\n'}
	notesMagic   = [fileHeaderSize]byte{'r', 'a', 'm', 'p', 'a', 'r', 't', '-', 'n', 'o', 't', 'e', 's', '-', '1', '\n'}
)

// crcTable is CRC-32C (Castagnoli), computed in hardware on amd64 and arm64.
// It is read-only after initialisation.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// recordCRC is the CRC-32C of the 4 length bytes followed by the payload.
func recordCRC(lenBytes, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, crcTable, lenBytes), crcTable, payload)
}

// appendRecord frames payload: u32 length, u32 CRC-32C, payload.
func appendRecord(dst, payload []byte) []byte {
	var h [recordHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[4:8], recordCRC(h[0:4], payload))
	return append(append(dst, h[:]...), payload...)
}

// appendEntryRecord appends the framed record of an entry. The payload,
// which is also the Merkle leaf, is u64 seq ‖ i64 time ‖ data.
func appendEntryRecord(dst []byte, seq uint64, unixNano int64, data []byte) []byte {
	start := len(dst)
	var h [recordHeaderSize + entryHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:4], uint32(entryHeaderSize+len(data)))
	binary.BigEndian.PutUint64(h[8:16], seq)
	binary.BigEndian.PutUint64(h[16:24], uint64(unixNano))
	dst = append(append(dst, h[:]...), data...)
	crc := recordCRC(dst[start:start+4], dst[start+recordHeaderSize:])
	binary.BigEndian.PutUint32(dst[start+4:start+8], crc)
	return dst
}

// recStatus is the outcome of parsing one framed record.
type recStatus int

const (
	recOK    recStatus = iota
	recShort           // the buffer ends inside the record: incomplete
	recBad             // impossible length or checksum mismatch
)

// parseRecord parses the framed record at the start of b. It returns the
// payload and the record's total size. With recBad, n is the size the
// length field claims (0 if the length itself is impossible).
func parseRecord(b []byte, minPayload, maxPayload int) (payload []byte, n int, st recStatus) {
	if len(b) < recordHeaderSize {
		return nil, 0, recShort
	}
	l := binary.BigEndian.Uint32(b[0:4])
	if int64(l) < int64(minPayload) || int64(l) > int64(maxPayload) {
		return nil, 0, recBad
	}
	n = recordHeaderSize + int(l)
	if len(b) < n {
		return nil, n, recShort
	}
	payload = b[recordHeaderSize:n]
	if binary.BigEndian.Uint32(b[4:8]) != recordCRC(b[0:4], payload) {
		return payload, n, recBad
	}
	return payload, n, recOK
}

// Entry is one ledger entry.
type Entry struct {
	// Seq is the entry's sequence number, equal to its position (from 0).
	Seq uint64
	// Time is when the entry was appended, as the writer's clock said.
	Time time.Time
	// Data is the entry's content.
	Data []byte
}

// Leaf returns the entry's Merkle leaf: u64 seq ‖ i64 Unix ns ‖ data, big
// endian. The tree's record hash is SHA-256(0x00 ‖ leaf), per RFC 6962.
func (e *Entry) Leaf() []byte {
	b := make([]byte, entryHeaderSize, entryHeaderSize+len(e.Data))
	binary.BigEndian.PutUint64(b[0:8], e.Seq)
	binary.BigEndian.PutUint64(b[8:16], uint64(e.Time.UnixNano()))
	return append(b, e.Data...)
}

// ParseLeaf decodes a Merkle leaf made by [Entry.Leaf]. The entry's Data
// aliases leaf.
func ParseLeaf(leaf []byte) (Entry, error) {
	if len(leaf) < entryHeaderSize {
		return Entry{}, fmt.Errorf("entry leaf of %d bytes: want at least %d", len(leaf), entryHeaderSize)
	}
	return Entry{
		Seq:  binary.BigEndian.Uint64(leaf[0:8]),
		Time: time.Unix(0, int64(binary.BigEndian.Uint64(leaf[8:16]))).UTC(),
		Data: leaf[entryHeaderSize:],
	}, nil
}

// meta is the content of ledger.json. It is not authenticated: nothing in
// it is trusted by a verifier, which takes the origin from its key.
type meta struct {
	Format  string    `json:"format"`
	Origin  string    `json:"origin"`
	Created time.Time `json:"created"`
}

func readMeta(dir string) (*meta, error) {
	p := filepath.Join(dir, metaName)
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, err2 := os.Stat(dir); err2 != nil {
				return nil, fmt.Errorf("%s: %w", dir, err2)
			}
			return nil, fmt.Errorf("%s: not a ledger (no %s)", dir, metaName)
		}
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a ledger description: %v", p, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %q, want %q", p, m.Format, Format)
	}
	if err := checkOrigin(m.Origin); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	return &m, nil
}

// checkOrigin enforces what tlog-checkpoint recommends and note key names
// require: non-empty UTF-8 without spaces, '+' or control characters.
func checkOrigin(o string) error {
	switch {
	case o == "":
		return errors.New("empty origin")
	case !utf8.ValidString(o):
		return fmt.Errorf("origin %q is not UTF-8", o)
	case strings.IndexFunc(o, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("origin %q contains spaces or control characters", o)
	case strings.Contains(o, "+"):
		return fmt.Errorf("origin %q contains '+'", o)
	}
	return nil
}
