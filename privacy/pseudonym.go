package privacy

import (
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Kind is what a pseudonymised identifier was: it is part of the HMAC
// input (so uid "0" and user "0" get different pseudonyms) and of the
// pseudonym text (so a reader knows what it stands for).
type Kind string

// The pseudonym kinds.
const (
	KindUID       Kind = "uid"
	KindGID       Kind = "gid"
	KindUser      Kind = "user"
	KindGroup     Kind = "group"
	KindHost      Kind = "host"
	KindPrincipal Kind = "principal"
	KindID        Kind = "id" // any other identifier
)

// Kinds lists the valid kinds.
func Kinds() []Kind {
	return []Kind{KindUID, KindGID, KindUser, KindGroup, KindHost, KindPrincipal, KindID}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindUID, KindGID, KindUser, KindGroup, KindHost, KindPrincipal, KindID:
		return true
	}
	return false
}

// Pseudonym format.
//
//	ps:<key id>:<kind>:<mac>
//
// mac is the first MACSize bytes of HMAC-SHA256(K, kind ‖ 0x00 ‖ value)
// in lowercase unpadded RFC 4648 base32 (26 characters from a–z, 2–7),
// where K is the key's pseudonym sub-key. 128 bits make accidental
// collisions negligible (birthday bound 2^64) while keeping ledger lines
// short. Example: ps:k1:user:3xq5n2d7v4m6a2b7c4d5e6f7g2.
const (
	PseudonymPrefix = "ps:"
	MACSize         = 16
	macTextLen      = 26 // base32 of 16 bytes, unpadded
)

// b32 is read-only after initialisation.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Pseudonym is a parsed pseudonym.
type Pseudonym struct {
	KeyID string
	Kind  Kind
	MAC   [MACSize]byte
}

// String formats p as ps:<key id>:<kind>:<mac>.
func (p Pseudonym) String() string {
	var buf [64]byte
	return string(p.appendText(buf[:0]))
}

func (p Pseudonym) appendText(dst []byte) []byte {
	dst = append(dst, PseudonymPrefix...)
	dst = append(dst, p.KeyID...)
	dst = append(dst, ':')
	dst = append(dst, p.Kind...)
	dst = append(dst, ':')
	return b32.AppendEncode(dst, p.MAC[:])
}

// ParsePseudonym parses a pseudonym made by Keyring.Pseudonym.
func ParsePseudonym(s string) (Pseudonym, error) {
	var p Pseudonym
	rest, ok := strings.CutPrefix(s, PseudonymPrefix)
	if !ok {
		return p, fmt.Errorf("privacy: %q is not a pseudonym (want ps:KEYID:KIND:MAC)", abbreviate(s))
	}
	id, rest, ok1 := strings.Cut(rest, ":")
	kind, mac, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return p, fmt.Errorf("privacy: %q is not a pseudonym (want ps:KEYID:KIND:MAC)", abbreviate(s))
	}
	if err := checkKeyID(id); err != nil {
		return p, err
	}
	if !Kind(kind).Valid() {
		return p, fmt.Errorf("privacy: pseudonym kind %q is not one of %v", abbreviate(kind), Kinds())
	}
	if len(mac) != macTextLen {
		return p, fmt.Errorf("privacy: pseudonym MAC is %d characters, want %d", len(mac), macTextLen)
	}
	b, err := b32.DecodeString(mac)
	if err != nil || len(b) != MACSize || b32.EncodeToString(b) != mac {
		return p, errors.New("privacy: pseudonym MAC is not lowercase base32")
	}
	p.KeyID, p.Kind = id, Kind(kind)
	copy(p.MAC[:], b)
	return p, nil
}

// isPseudonym reports, without allocating, whether s is a well-formed
// pseudonym (what ParsePseudonym accepts).
func isPseudonym(s string) bool {
	rest, ok := strings.CutPrefix(s, PseudonymPrefix)
	if !ok {
		return false
	}
	id, rest, ok1 := strings.Cut(rest, ":")
	kind, mac, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || !validKeyID(id) || !Kind(kind).Valid() || len(mac) != macTextLen {
		return false
	}
	for i := 0; i < len(mac); i++ {
		c := mac[i]
		var v byte
		switch {
		case c >= 'a' && c <= 'z':
			v = c - 'a'
		case c >= '2' && c <= '7':
			v = c - '2' + 26
		default:
			return false
		}
		if i == len(mac)-1 && v&3 != 0 { // 130 bits of text carry 128: the last 2 are zero
			return false
		}
	}
	return true
}

// abbreviate shortens s for error messages, which must not echo long raw
// values.
func abbreviate(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// mac computes the truncated HMAC of kind ‖ 0x00 ‖ value under d.
func (d *derived) mac(kind Kind, value string) (out [MACSize]byte) {
	h := d.macs.Get().(hash.Hash)
	h.Reset()
	var buf [256]byte
	b := append(buf[:0], kind...)
	b = append(b, 0)
	if len(b)+len(value) <= len(buf) {
		b = append(b, value...)
		h.Write(b)
	} else {
		h.Write(b)
		h.Write([]byte(value))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	d.macs.Put(h)
	copy(out[:], sum[:MACSize])
	return out
}

// Pseudonym returns the pseudonym of value (an identifier of the given
// kind) under the current key. It is deterministic: the same key, kind
// and value always give the same pseudonym, so events stay linkable
// within a key's lifetime. An invalid kind is treated as KindID.
func (kr *Keyring) Pseudonym(kind Kind, value string) string {
	if !kind.Valid() {
		kind = KindID
	}
	return Pseudonym{KeyID: kr.current.id, Kind: kind, MAC: kr.current.mac(kind, value)}.String()
}

// PseudonymWith is Pseudonym under key id (which need not be current).
func (kr *Keyring) PseudonymWith(id string, kind Kind, value string) (string, error) {
	d, ok := kr.keys[id]
	if !ok {
		return "", fmt.Errorf("privacy: key %s is not in the keyring", id)
	}
	if !kind.Valid() {
		return "", fmt.Errorf("privacy: kind %q is not one of %v", kind, Kinds())
	}
	return Pseudonym{KeyID: id, Kind: kind, MAC: d.mac(kind, value)}.String(), nil
}

// Errors of reveal.
var (
	// ErrUnknownKey: the pseudonym (or address) was made with a key that
	// is not in the keyring. Without that key nothing can be revealed.
	ErrUnknownKey = errors.New("privacy: the key that made this is not in the keyring; it can be revealed only with that key")
	// ErrNotRevealed: no candidate (and no escrow entry) matches.
	ErrNotRevealed = errors.New("privacy: no candidate value matches the pseudonym")
)

// Reveal re-identifies a pseudonym by testing candidate values: HMAC is
// one-way, so revealing means recomputing the pseudonym of each candidate
// (e.g. every user name and uid of the node, see LocalCandidates) with
// the key named in the pseudonym and comparing in constant time. It needs
// that key: ErrUnknownKey otherwise. For values that cannot be listed
// (remote host names, principals) use an escrow (see Revealer).
func (kr *Keyring) Reveal(pseudonym string, candidates []string) (string, error) {
	p, err := ParsePseudonym(pseudonym)
	if err != nil {
		return "", err
	}
	d, ok := kr.keys[p.KeyID]
	if !ok {
		return "", fmt.Errorf("%w (key %s)", ErrUnknownKey, p.KeyID)
	}
	for _, c := range candidates {
		m := d.mac(p.Kind, c)
		if equalMAC(m[:], p.MAC[:]) {
			return c, nil
		}
	}
	return "", ErrNotRevealed
}
