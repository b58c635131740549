package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofHeader is the first line of a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// maxProofHashes bounds proof lines: a tree of fewer than 2^63 leaves has
// audit paths of at most 63 hashes and consistency proofs of at most 126.
const maxProofHashes = 126

// maxProofSize bounds a proof file: an entry, base64, and a checkpoint.
const maxProofSize = MaxEntrySize/3*4 + 64<<10

// InclusionProof is a C2SP tlog-proof: an offline-verifiable proof that
// an entry is in the tree a signed checkpoint commits to. Rampart puts
// the entry's leaf (sequence, time, data) in the extra line, so the proof
// is self-contained: whoever holds the public key can check it without
// the ledger.
type InclusionProof struct {
	// Extra is the opaque extra data; for a Rampart ledger, the leaf of
	// the entry (see [Entry.Leaf]). Not trusted until the proof checks.
	Extra []byte
	// Index is the entry's position in the log.
	Index uint64
	// Path is the RFC 6962 audit path, from the leaf's sibling up.
	Path tlog.RecordProof
	// Checkpoint is the signed checkpoint note, verbatim.
	Checkpoint []byte
}

// Marshal encodes the proof in the tlog-proof text format.
func (p *InclusionProof) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader + "\n")
	if p.Extra != nil {
		fmt.Fprintf(&b, "extra %s\n", base64.StdEncoding.EncodeToString(p.Extra))
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	for _, h := range p.Path {
		fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// proofLines splits a proof into its header lines (up to the first empty
// line) and the signed checkpoint that follows.
func proofLines(b []byte, limit int) ([]string, []byte, error) {
	if len(b) > limit {
		return nil, nil, fmt.Errorf("%d bytes: too long", len(b))
	}
	var lines []string
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, nil, fmt.Errorf("line %d: missing the empty line before the checkpoint", len(lines)+1)
		}
		line := string(b[:i])
		b = b[i+1:]
		if line == "" {
			break
		}
		if strings.ContainsAny(line, "\r\t\x00") {
			return nil, nil, fmt.Errorf("line %d: control character", len(lines)+1)
		}
		lines = append(lines, line)
		if len(lines) > maxProofHashes+3 {
			return nil, nil, fmt.Errorf("line %d: too many lines before the checkpoint", len(lines))
		}
	}
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("line %d: no checkpoint after the empty line", len(lines)+2)
	}
	return lines, b, nil
}

func parseHashLines(lines []string, first int) ([]tlog.Hash, error) {
	hs := make([]tlog.Hash, 0, len(lines))
	for i, l := range lines {
		h, err := parseHash(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", first+i, err)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// ParseInclusionProof parses the tlog-proof text format. Errors name the
// line. It does not check the proof: see [InclusionProof.Check].
func ParseInclusionProof(b []byte) (*InclusionProof, error) {
	if !bytes.HasPrefix(b, []byte(ProofHeader+"\n")) {
		return nil, fmt.Errorf("tlog-proof: line 1: want %q", ProofHeader)
	}
	lines, ckpt, err := proofLines(b, maxProofSize)
	if err != nil {
		return nil, fmt.Errorf("tlog-proof: %v", err)
	}
	if len(lines) == 0 || lines[0] != ProofHeader {
		return nil, fmt.Errorf("tlog-proof: line 1: want %q", ProofHeader)
	}
	p := &InclusionProof{Checkpoint: ckpt}
	i := 1
	if i < len(lines) && strings.HasPrefix(lines[i], "extra ") {
		x, err := base64.StdEncoding.Strict().DecodeString(lines[i][len("extra "):])
		if err != nil {
			return nil, fmt.Errorf("tlog-proof: line %d: extra data is not base64: %v", i+1, err)
		}
		p.Extra = x
		i++
	}
	if i >= len(lines) || !strings.HasPrefix(lines[i], "index ") {
		return nil, fmt.Errorf("tlog-proof: line %d: want \"index N\"", i+1)
	}
	if p.Index, err = parseDecimal(lines[i][len("index "):]); err != nil {
		return nil, fmt.Errorf("tlog-proof: line %d: index: %v", i+1, err)
	}
	i++
	if len(lines)-i > 63 {
		return nil, fmt.Errorf("tlog-proof: %d proof hashes, more than a tree can need (63)", len(lines)-i)
	}
	hs, err := parseHashLines(lines[i:], i+1)
	if err != nil {
		return nil, fmt.Errorf("tlog-proof: %v", err)
	}
	p.Path = hs
	return p, nil
}

// Check verifies the proof: the checkpoint must be signed by a known key
// for its origin, Extra must be a Rampart entry leaf whose sequence is
// Index, and the audit path must lead from the leaf to the checkpoint's
// root. It returns the checkpoint and the entry, whose Data aliases Extra.
func (p *InclusionProof) Check(known note.Verifiers) (*Checkpoint, Entry, error) {
	c, err := OpenCheckpoint(p.Checkpoint, known)
	if err != nil {
		return nil, Entry{}, fmt.Errorf("tlog-proof: checkpoint: %w", err)
	}
	if p.Extra == nil {
		return c, Entry{}, errors.New("tlog-proof: no extra line: the proof does not carry the entry")
	}
	e, err := ParseLeaf(p.Extra)
	if err != nil {
		return c, Entry{}, fmt.Errorf("tlog-proof: extra data: %v", err)
	}
	if e.Seq != p.Index {
		return c, e, fmt.Errorf("tlog-proof: the entry says it is number %d, the proof is for index %d", e.Seq, p.Index)
	}
	if err := CheckInclusion(c, p.Index, tlog.RecordHash(p.Extra), p.Path); err != nil {
		return c, e, err
	}
	return c, e, nil
}

// CheckInclusion checks an audit path for the record hash of entry n
// against a checkpoint's root.
func CheckInclusion(c *Checkpoint, n uint64, leafHash tlog.Hash, path tlog.RecordProof) error {
	if n >= c.Size {
		return fmt.Errorf("entry %d is not in a tree of %d entries", n, c.Size)
	}
	if err := tlog.CheckRecord(path, int64(c.Size), c.Root, int64(n), leafHash); err != nil {
		return fmt.Errorf("inclusion proof of entry %d in %s does not verify: %w", n, c, ErrProof)
	}
	return nil
}

// ErrProof is wrapped by proof checks that fail.
var ErrProof = errors.New("invalid proof")

// ConsistencyProof proves that a signed checkpoint extends an older tree.
// Its text form is the body of a C2SP tlog-witness add-checkpoint request:
// "old SIZE", the proof hashes, an empty line, the new signed checkpoint.
type ConsistencyProof struct {
	// Old is the size of the older tree.
	Old uint64
	// Path is the RFC 6962 consistency proof.
	Path tlog.TreeProof
	// Checkpoint is the newer signed checkpoint, verbatim.
	Checkpoint []byte
}

// Marshal encodes the proof.
func (p *ConsistencyProof) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", p.Old)
	for _, h := range p.Path {
		fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.Bytes()
}

// ParseConsistencyProof parses the text form. Errors name the line.
func ParseConsistencyProof(b []byte) (*ConsistencyProof, error) {
	if !bytes.HasPrefix(b, []byte("old ")) {
		return nil, errors.New(`consistency proof: line 1: want "old SIZE"`)
	}
	lines, ckpt, err := proofLines(b, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %v", err)
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "old ") {
		return nil, errors.New(`consistency proof: line 1: want "old SIZE"`)
	}
	p := &ConsistencyProof{Checkpoint: ckpt}
	if p.Old, err = parseDecimal(lines[0][len("old "):]); err != nil {
		return nil, fmt.Errorf("consistency proof: line 1: %v", err)
	}
	hs, err := parseHashLines(lines[1:], 2)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %v", err)
	}
	p.Path = hs
	return p, nil
}

// Check verifies the new checkpoint's signature and that it extends old.
func (p *ConsistencyProof) Check(old *Checkpoint, known note.Verifiers) (*Checkpoint, error) {
	c, err := OpenCheckpoint(p.Checkpoint, known)
	if err != nil {
		return nil, fmt.Errorf("consistency proof: checkpoint: %w", err)
	}
	if p.Old != old.Size {
		return c, fmt.Errorf("consistency proof is from size %d, the old checkpoint has size %d", p.Old, old.Size)
	}
	if old.Size == 0 && c.Size > 0 {
		if len(p.Path) != 0 || old.Root != emptyRoot() || old.Origin != c.Origin {
			return c, fmt.Errorf("a proof from the empty tree of %s must be empty: %w", old.Origin, ErrProof)
		}
		return c, nil // every tree extends the empty tree
	}
	return c, CheckConsistency(old, c, p.Path)
}

// CheckConsistency checks that checkpoint newer extends older with the
// RFC 6962 consistency proof path. As in transparency-dev/merkle, a proof
// from the empty tree to a larger one is refused: it proves nothing.
func CheckConsistency(older, newer *Checkpoint, path tlog.TreeProof) error {
	switch {
	case older.Origin != newer.Origin:
		return fmt.Errorf("checkpoints of different logs: %q and %q", older.Origin, newer.Origin)
	case older.Size > newer.Size:
		return fmt.Errorf("%s is older than %s", newer, older)
	case older.Size == newer.Size:
		if len(path) != 0 {
			return fmt.Errorf("consistency proof between trees of the same size must be empty: %w", ErrProof)
		}
		if older.Root != newer.Root {
			return fmt.Errorf("%s and %s have the same size and different roots: forked", older, newer)
		}
		if older.Size == 0 && older.Root != emptyRoot() {
			return fmt.Errorf("%s: not the root of the empty tree: %w", older, ErrProof)
		}
		return nil
	case older.Size == 0:
		// Every tree extends the empty one: there is nothing to prove, and
		// RFC 6962 defines no such proof. Callers handle size 0 first.
		return fmt.Errorf("no consistency proof from the empty tree: %w", ErrProof)
	}
	if err := tlog.CheckTree(path, int64(newer.Size), newer.Root, int64(older.Size), older.Root); err != nil {
		return fmt.Errorf("%s does not extend %s: %w", newer, older, ErrProof)
	}
	return nil
}

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256("").
func emptyRoot() tlog.Hash { return sha256.Sum256(nil) }
