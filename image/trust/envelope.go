package trust

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/rampart-sec/rampart/image/internal/atomicfile"
)

// Signature is one detached Ed25519 signature of an Envelope.
type Signature struct {
	// KeyID names the signing key (see KeyID).
	KeyID string `json:"keyid"`
	// Sig is the 64-byte Ed25519 signature, base64 (standard, padded).
	Sig string `json:"sig"`
}

// Envelope is a signed document: a canonical JSON value and Ed25519
// signatures over exactly its bytes. Its own encoding, as files and
// bundles hold it, is canonical too: {"signatures":[...],"signed":{...}}.
type Envelope struct {
	// Signatures are sorted by key ID, one per key.
	Signatures []Signature `json:"signatures"`
	// Signed is the canonical JSON of the document; it always has a
	// "type" member naming the kind of document.
	Signed json.RawMessage `json:"signed"`
}

// NewEnvelope returns an unsigned envelope holding the canonical JSON of
// doc, which must marshal to an object with a "type" member.
func NewEnvelope(doc any) (*Envelope, error) {
	b, err := Canonical(doc)
	if err != nil {
		return nil, err
	}
	e := &Envelope{Signed: b, Signatures: []Signature{}}
	if _, err := e.Type(); err != nil {
		return nil, err
	}
	return e, nil
}

// ParseEnvelope decodes an envelope. The bytes must be the envelope's
// canonical encoding, optionally followed by one newline (as files end):
// any other byte changed, added or reordered is refused, so the bytes a
// signature covers are exactly the bytes read.
func ParseEnvelope(b []byte) (*Envelope, error) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if err := CheckCanonical(b); err != nil {
		return nil, err
	}
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("not a signed document: %v", err)
	}
	if e.Signed == nil || e.Signatures == nil {
		return nil, errors.New(`not a signed document: "signed" or "signatures" missing`)
	}
	if _, err := e.Type(); err != nil {
		return nil, err
	}
	for i := 1; i < len(e.Signatures); i++ {
		if e.Signatures[i-1].KeyID >= e.Signatures[i].KeyID {
			return nil, fmt.Errorf("signatures are not sorted by key ID, or key %s signs twice", e.Signatures[i].KeyID)
		}
	}
	return &e, nil
}

// ReadEnvelope reads and parses the envelope in the file at path.
func ReadEnvelope(path string) (*Envelope, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e, err := ParseEnvelope(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}

// Type returns the document's "type" member.
func (e *Envelope) Type() (string, error) {
	var t struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(e.Signed, &t); err != nil {
		return "", fmt.Errorf("signed document is not a JSON object: %v", err)
	}
	if t.Type == "" {
		return "", errors.New(`signed document has no "type"`)
	}
	return t.Type, nil
}

// Decode unmarshals the signed document into v after checking its type,
// refusing unknown members (a verifier must understand all it trusts).
func (e *Envelope) Decode(typ string, v any) error {
	got, err := e.Type()
	if err != nil {
		return err
	}
	if got != typ {
		return fmt.Errorf("signed document is a %q, expected a %q", got, typ)
	}
	dec := json.NewDecoder(bytes.NewReader(e.Signed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", typ, err)
	}
	return nil
}

// Sign adds the signature of priv over the signed bytes, replacing an
// earlier signature by the same key. Ed25519 is deterministic, so signing
// the same document with the same key always gives the same envelope.
func (e *Envelope) Sign(priv ed25519.PrivateKey) {
	id := KeyID(priv.Public().(ed25519.PublicKey))
	sig := Signature{KeyID: id, Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, e.Signed))}
	out := e.Signatures[:0:0]
	for _, s := range e.Signatures {
		if s.KeyID != id {
			out = append(out, s)
		}
	}
	out = append(out, sig)
	sort.Slice(out, func(i, j int) bool { return out[i].KeyID < out[j].KeyID })
	e.Signatures = out
}

// Marshal returns the canonical encoding of the envelope.
func (e *Envelope) Marshal() ([]byte, error) {
	if e.Signatures == nil {
		e.Signatures = []Signature{}
	}
	return Canonical(e)
}

// WriteFile writes the envelope's canonical encoding and a newline to
// path, atomically (temporary file, fsync, rename, fsync of the directory).
func (e *Envelope) WriteFile(path string) error {
	b, err := e.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o644, nil)
}

// signatureBy returns the raw signature made by the key with the given ID,
// or a reason why there is none usable.
func (e *Envelope) signatureBy(id string) ([]byte, string) {
	for _, s := range e.Signatures {
		if s.KeyID != id {
			continue
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
		if err != nil || len(sig) != ed25519.SignatureSize {
			return nil, reasonMalformed
		}
		return sig, ""
	}
	return nil, "no signature"
}
