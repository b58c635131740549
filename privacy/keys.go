package privacy

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// SecretSize is the size in bytes of a privacy key's secret.
const SecretSize = 32

// Key is one privacy key: a secret and the id that pseudonyms made with it
// carry. Sub-keys are derived from the secret with HKDF-SHA256 (RFC 5869,
// no salt) and distinct info strings, one per use: the pseudonym HMAC key,
// the Crypto-PAn key and the escrow encryption key. The secret never
// leaves the value through String or fmt.
type Key struct {
	id      string
	created time.Time
	secret  [SecretSize]byte
}

// NewKey makes a key with a fresh secret read from rand (crypto/rand.Reader
// in production).
func NewKey(id string, rand io.Reader) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	k := Key{id: id, created: time.Now().UTC().Truncate(time.Second)}
	if _, err := io.ReadFull(rand, k.secret[:]); err != nil {
		return Key{}, fmt.Errorf("privacy: reading key secret: %v", err)
	}
	return k, nil
}

// KeyFromSecret makes a key from an existing 32-byte secret.
func KeyFromSecret(id string, secret []byte, created time.Time) (Key, error) {
	if err := checkKeyID(id); err != nil {
		return Key{}, err
	}
	if len(secret) != SecretSize {
		return Key{}, fmt.Errorf("privacy: key %s: secret is %d bytes, want %d", id, len(secret), SecretSize)
	}
	k := Key{id: id, created: created.UTC()}
	copy(k.secret[:], secret)
	return k, nil
}

// ID returns the key id.
func (k Key) ID() string { return k.id }

// Created returns when the key was made (zero if unknown).
func (k Key) Created() time.Time { return k.created }

// String describes the key without its secret.
func (k Key) String() string { return "privacy key " + k.id }

// GoString describes the key without its secret (for %#v).
func (k Key) GoString() string { return "privacy.Key{id: " + fmt.Sprintf("%q", k.id) + "}" }

// checkKeyID accepts 1–16 characters from [a-z0-9-], starting with a letter
// or digit: ids appear inside pseudonyms and must not contain ':'.
func checkKeyID(id string) error {
	if !validKeyID(id) {
		return fmt.Errorf("privacy: bad key id %q: want 1-16 characters from a-z, 0-9 and '-', not starting with '-'", abbreviate(id))
	}
	return nil
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > 16 || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// HKDF info strings: one derived key per purpose.
const (
	infoPseudonym = "rampart privacy v1 pseudonym hmac-sha256"
	infoCryptoPAn = "rampart privacy v1 crypto-pan"
	infoEscrow    = "rampart privacy v1 escrow aes-256-gcm"
)

// derived holds the sub-keys of one key. It is immutable after
// construction except for the pool, which is safe for concurrent use.
type derived struct {
	Key
	macKey [32]byte
	pan    *CryptoPAn
	aead   cipher.AEAD
	macs   sync.Pool // of hash.Hash (HMAC-SHA256 under macKey)
}

func derive(k Key) (*derived, error) {
	d := &derived{Key: k}
	sub := func(info string) ([]byte, error) { return hkdf.Key(sha256.New, k.secret[:], nil, info, 32) }
	b, err := sub(infoPseudonym)
	if err != nil {
		return nil, err
	}
	copy(d.macKey[:], b)
	if b, err = sub(infoCryptoPAn); err != nil {
		return nil, err
	}
	if d.pan, err = NewCryptoPAn(b); err != nil {
		return nil, err
	}
	if b, err = sub(infoEscrow); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, err
	}
	if d.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	d.macs.New = func() any { return newHMAC(d.macKey[:]) }
	return d, nil
}

// Keyring is a set of privacy keys, one of which is current: new
// pseudonyms and anonymised addresses are made with the current key; the
// others are kept to reveal what they made. A Keyring is immutable and
// safe for concurrent use; Rotate and Without return new keyrings.
//
// Deleting an old key (Without) makes everything made with it
// permanently unrevealable and unlinkable to new pseudonyms.
type Keyring struct {
	current *derived
	keys    map[string]*derived
	order   []string // ids in insertion order
}

// NewKeyring makes a keyring from keys; the last one is current.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("privacy: keyring needs at least one key")
	}
	kr := &Keyring{keys: make(map[string]*derived, len(keys))}
	for _, k := range keys {
		if err := checkKeyID(k.id); err != nil {
			return nil, err
		}
		if _, dup := kr.keys[k.id]; dup {
			return nil, fmt.Errorf("privacy: key id %s appears twice in the keyring", k.id)
		}
		d, err := derive(k)
		if err != nil {
			return nil, err
		}
		kr.keys[k.id] = d
		kr.order = append(kr.order, k.id)
	}
	kr.current = kr.keys[keys[len(keys)-1].id]
	return kr, nil
}

// Current returns the id of the current key.
func (kr *Keyring) Current() string { return kr.current.id }

// IDs returns the key ids in the order they were added.
func (kr *Keyring) IDs() []string { return slices.Clone(kr.order) }

// Has reports whether the keyring holds the key id.
func (kr *Keyring) Has(id string) bool { _, ok := kr.keys[id]; return ok }

// String describes the keyring without secrets.
func (kr *Keyring) String() string {
	return fmt.Sprintf("privacy keyring (current %s; keys %s)", kr.current.id, strings.Join(kr.order, ", "))
}

// keyList returns the keys in order.
func (kr *Keyring) keyList() []Key {
	ks := make([]Key, 0, len(kr.order))
	for _, id := range kr.order {
		ks = append(ks, kr.keys[id].Key)
	}
	return ks
}

// Rotate returns a new keyring with a fresh key id (secret from rand)
// added and made current. The old keys stay, for reveal.
func (kr *Keyring) Rotate(id string, rand io.Reader) (*Keyring, error) {
	k, err := NewKey(id, rand)
	if err != nil {
		return nil, err
	}
	return NewKeyring(append(kr.keyList(), k)...)
}

// Without returns a new keyring without key id. The current key cannot be
// removed: rotate first.
func (kr *Keyring) Without(id string) (*Keyring, error) {
	if id == kr.current.id {
		return nil, fmt.Errorf("privacy: key %s is current; rotate before removing it", id)
	}
	if !kr.Has(id) {
		return nil, fmt.Errorf("privacy: key %s is not in the keyring", id)
	}
	var ks []Key
	for _, k := range kr.keyList() {
		if k.id != id && k.id != kr.current.id {
			ks = append(ks, k)
		}
	}
	return NewKeyring(append(ks, kr.current.Key)...) // current stays last, so current
}

// Keyring file format (text, one item per line, '#' comments):
//
//	rampart-privacy-keyring 1
//	current <id>
//	key <id> <created RFC 3339> <secret, standard base64>
const keyringMagic = "rampart-privacy-keyring 1"

// Encode returns the keyring file contents. They hold the secrets: write
// them only with WriteFile (mode 0600), never into the ledger.
func (kr *Keyring) Encode() []byte {
	var b bytes.Buffer
	b.WriteString("# Rampart privacy keyring: SECRET. Keep it off the ledger, mode 0600.\n")
	b.WriteString(keyringMagic + "\n")
	fmt.Fprintf(&b, "current %s\n", kr.current.id)
	for _, id := range kr.order {
		k := kr.keys[id]
		created := "-"
		if !k.created.IsZero() {
			created = k.created.Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "key %s %s %s\n", id, created, base64.StdEncoding.EncodeToString(k.secret[:]))
	}
	return b.Bytes()
}

// ParseKeyring parses keyring file contents (see Encode).
func ParseKeyring(data []byte) (*Keyring, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	var (
		keys    []Key
		current string
		magic   bool
		lineNo  int
	)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if !magic {
			if line != keyringMagic {
				return nil, fmt.Errorf("privacy: keyring line %d: want %q", lineNo, keyringMagic)
			}
			magic = true
			continue
		}
		f := strings.Fields(line)
		switch {
		case f[0] == "current" && len(f) == 2:
			if current != "" {
				return nil, fmt.Errorf("privacy: keyring line %d: second current line", lineNo)
			}
			current = f[1]
		case f[0] == "key" && len(f) == 4:
			var created time.Time
			if f[2] != "-" {
				t, err := time.Parse(time.RFC3339, f[2])
				if err != nil {
					return nil, fmt.Errorf("privacy: keyring line %d: bad creation time: %v", lineNo, err)
				}
				created = t
			}
			secret, err := base64.StdEncoding.DecodeString(f[3])
			if err != nil {
				return nil, fmt.Errorf("privacy: keyring line %d: bad secret encoding", lineNo)
			}
			k, err := KeyFromSecret(f[1], secret, created)
			if err != nil {
				return nil, fmt.Errorf("privacy: keyring line %d: %v", lineNo, strings.TrimPrefix(err.Error(), "privacy: "))
			}
			keys = append(keys, k)
		default:
			return nil, fmt.Errorf("privacy: keyring line %d: want \"current ID\" or \"key ID CREATED SECRET\"", lineNo)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("privacy: keyring: %v", err)
	}
	if !magic {
		return nil, errors.New("privacy: not a keyring (empty)")
	}
	if current == "" {
		return nil, errors.New("privacy: keyring has no current line")
	}
	i := slices.IndexFunc(keys, func(k Key) bool { return k.id == current })
	if i < 0 {
		return nil, fmt.Errorf("privacy: keyring: current key %s is not in the file", current)
	}
	// NewKeyring makes the last key current.
	cur := keys[i]
	keys = append(slices.Delete(keys, i, i+1), cur)
	return NewKeyring(keys...)
}

// LoadKeyring reads a keyring file. It refuses a file that is not a
// regular file or that its group or others can read or write (like ssh
// with private keys): chmod 600 it.
func LoadKeyring(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the privacy keys; chmod 600 it", path, st.Mode().Perm())
	}
	if st.Size() > 1<<20 {
		return nil, fmt.Errorf("%s: %d bytes is too large for a keyring", path, st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, err
	}
	kr, err := ParseKeyring(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "privacy: "))
	}
	return kr, nil
}

// WriteFile writes the keyring to path with mode 0600, atomically
// (temporary file, fsync, rename). Keep it on a different file system
// from the ledger, or at least outside the ledger directory.
func (kr *Keyring) WriteFile(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyring-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(kr.Encode()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}

// newHMAC returns an HMAC-SHA256 hash keyed with key.
func newHMAC(key []byte) hash.Hash {
	return hmac.New(sha256.New, key)
}

// equalMAC compares two MACs in constant time.
func equalMAC(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
