package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a C2SP tlog-checkpoint: a signed statement of the tree's
// origin, size and root hash.
type Checkpoint struct {
	// Origin names the log; for a Rampart ledger it is also the name of
	// the signing key.
	Origin string
	// Size is the number of entries the tree holds.
	Size uint64
	// Root is the RFC 6962 root hash of the first Size entries.
	Root tlog.Hash
	// Extensions are the optional lines after the root hash.
	Extensions []string
	// Note is the signed note as read or written, including every
	// signature line (cosignatures of witnesses too). It is nil for a
	// checkpoint only parsed from its text.
	Note []byte
}

// Text returns the checkpoint body: origin, size and base64 root hash
// lines, then the extension lines.
func (c *Checkpoint) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// String returns "origin@size root" for messages.
func (c *Checkpoint) String() string {
	return fmt.Sprintf("%s@%d %s", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint body (the note text, without
// signatures) strictly as tlog-checkpoint specifies it.
func ParseCheckpoint(text []byte) (*Checkpoint, error) {
	if len(text) > maxNoteSize {
		return nil, fmt.Errorf("checkpoint of %d bytes: too long", len(text))
	}
	if !utf8.Valid(text) {
		return nil, errors.New("checkpoint is not UTF-8")
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, errors.New("checkpoint does not end with a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("checkpoint has %d lines, want at least 3 (origin, size, root hash)", len(lines))
	}
	c := &Checkpoint{Origin: lines[0]}
	if c.Origin == "" {
		return nil, errors.New("checkpoint line 1: empty origin")
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return nil, fmt.Errorf("checkpoint line 2: tree size: %v", err)
	}
	c.Size = size
	if c.Root, err = parseHash(lines[2]); err != nil {
		return nil, fmt.Errorf("checkpoint line 3: root hash: %v", err)
	}
	for i, l := range lines[3:] {
		if l == "" {
			return nil, fmt.Errorf("checkpoint line %d: empty extension line", i+4)
		}
		c.Extensions = append(c.Extensions, l)
	}
	return c, nil
}

// parseDecimal parses an ASCII decimal with no sign and no leading zeros
// that fits an int64 (the limit of tlog's tree sizes).
func parseDecimal(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has leading zeros", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

// parseHash decodes the canonical standard base64 of a 32-byte hash.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	// Re-encoding rejects non-canonical forms (stray CR, non-zero padding bits).
	if err != nil || len(b) != len(h) || base64.StdEncoding.EncodeToString(b) != s {
		return h, fmt.Errorf("%q is not the base64 of a 32-byte hash", truncate(s, 60))
	}
	copy(h[:], b)
	return h, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// OpenCheckpoint checks the signatures of a signed checkpoint note with
// the known verifiers and parses it. At least one known key must have
// signed it, and the origin must be that key's name: a Rampart ledger
// names its key after its origin, so a checkpoint of another log is
// rejected even when the same key signed it.
func OpenCheckpoint(msg []byte, known note.Verifiers) (*Checkpoint, error) {
	if len(msg) > maxNoteSize {
		return nil, fmt.Errorf("signed checkpoint of %d bytes: too long", len(msg))
	}
	n, err := note.Open(msg, known)
	if err != nil {
		return nil, describeNoteError(msg, err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	ok := false
	for _, s := range n.Sigs {
		if s.Name == c.Origin {
			ok = true
		}
	}
	if !ok {
		return nil, fmt.Errorf("checkpoint is for origin %q, but it is signed by %s", c.Origin, sigNames(n.Sigs))
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}

func sigNames(sigs []note.Signature) string {
	var names []string
	for _, s := range sigs {
		names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	return strings.Join(names, ", ")
}

// describeNoteError turns note.Open's terse errors into messages that say
// what to check.
func describeNoteError(msg []byte, err error) error {
	var unv *note.UnverifiedNoteError
	var inv *note.InvalidSignatureError
	switch {
	case errors.As(err, &unv):
		var who []string
		for _, s := range unv.Note.UnverifiedSigs {
			who = append(who, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return fmt.Errorf("%w: signed only by unknown key(s) %s (wrong public key?)", ErrUnknownKey, strings.Join(who, ", "))
	case errors.As(err, &inv):
		return fmt.Errorf("%w: %v (the checkpoint was altered or forged)", ErrBadSignature, err)
	}
	if !bytes.Contains(msg, []byte("\n\n")) {
		return fmt.Errorf("not a signed note (no blank line before signatures): %v", err)
	}
	return fmt.Errorf("not a valid signed note: %v", err)
}

// Errors wrapped by [OpenCheckpoint] and the proof checkers.
var (
	// ErrUnknownKey reports a checkpoint signed by none of the given keys.
	ErrUnknownKey = errors.New("no known key signed the checkpoint")
	// ErrBadSignature reports a signature by a known key that does not
	// verify.
	ErrBadSignature = errors.New("invalid checkpoint signature")
)

// signCheckpoint formats and signs a checkpoint.
func signCheckpoint(origin string, size uint64, root tlog.Hash, s note.Signer) (*Checkpoint, error) {
	c := &Checkpoint{Origin: origin, Size: size, Root: root}
	msg, err := note.Sign(&note.Note{Text: c.Text()}, s)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	c.Note = msg
	return c, nil
}

// ParseSignedCheckpoint parses a signed checkpoint note WITHOUT checking
// its signatures: only for display, or when the signatures are checked
// elsewhere. Use [OpenCheckpoint] to trust it.
func ParseSignedCheckpoint(msg []byte) (*Checkpoint, error) {
	if len(msg) > maxNoteSize {
		return nil, fmt.Errorf("signed checkpoint of %d bytes: too long", len(msg))
	}
	return parseUnverified(msg)
}

// parseUnverified parses a signed note's checkpoint without checking
// signatures, for the writer's own files.
func parseUnverified(msg []byte) (*Checkpoint, error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("not a signed note")
	}
	c, err := ParseCheckpoint(msg[:i+1])
	if err != nil {
		return nil, err
	}
	c.Note = append([]byte(nil), msg...)
	return c, nil
}
