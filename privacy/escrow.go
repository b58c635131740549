package privacy

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The escrow is an optional reverse map from pseudonyms to raw values,
// encrypted under the keyring and written apart from the ledger (the
// ledger never holds raw values). It exists because HMAC is one-way:
// without it, a pseudonym can be revealed only by testing candidate
// values (Keyring.Reveal), which works for a node's users, groups and
// host name but not for remote host names or principals.
//
// File format: text, one entry per line,
//
//	<pseudonym> <base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>
//
// with a random 96-bit nonce per entry, the pseudonym as additional
// authenticated data (an entry cannot be moved to another pseudonym) and
// the key the pseudonym names: its escrow sub-key, derived with HKDF from
// the same secret as the pseudonym key. Reading the escrow therefore
// needs the same keyring as revealing by candidates, and deleting an old
// key shreds its entries too. Random nonces are safe far beyond the
// number of distinct identifiers a node sees (2^32 entries per key).
// Revealer also checks that the decrypted value's pseudonym is the
// pseudonym, so a corrupted or forged entry cannot lie.

// EscrowWriter appends escrow entries. It writes each pseudonym once per
// process (it remembers up to a million of them) and is safe for
// concurrent use. It implements EscrowSink; write errors are sticky and
// reported by Flush and Close.
type EscrowWriter struct {
	kr     *Keyring
	mu     sync.Mutex
	w      *bufio.Writer
	closer io.Closer
	seen   map[string]struct{}
	err    error
}

// maxEscrowSeen bounds the writer's memory of written pseudonyms; beyond
// it entries may repeat (harmless).
const maxEscrowSeen = 1 << 20

// NewEscrowWriter returns a writer appending entries to w.
func NewEscrowWriter(w io.Writer, kr *Keyring) *EscrowWriter {
	return &EscrowWriter{kr: kr, w: bufio.NewWriter(w), seen: map[string]struct{}{}}
}

// CreateEscrow opens (creating, mode 0600) an escrow file for appending.
// Like the keyring, it refuses a file others can read.
func CreateEscrow(path string, kr *Keyring) (*EscrowWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("%s: must be a regular file of mode 0600 (it holds encrypted raw identifiers)", path)
	}
	e := NewEscrowWriter(f, kr)
	e.closer = f
	return e, nil
}

// Record writes an entry for pseudonym and its raw value unless one was
// already written.
func (e *EscrowWriter) Record(pseudonym, value string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return
	}
	if _, ok := e.seen[pseudonym]; ok {
		return
	}
	line, err := e.kr.seal(pseudonym, value)
	if err != nil {
		e.err = err
		return
	}
	if _, err := e.w.WriteString(line); err != nil {
		e.err = err
		return
	}
	if len(e.seen) < maxEscrowSeen {
		e.seen[pseudonym] = struct{}{}
	}
}

// Flush writes buffered entries.
func (e *EscrowWriter) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	e.err = e.w.Flush()
	return e.err
}

// Close flushes and closes the file (if CreateEscrow opened it).
func (e *EscrowWriter) Close() error {
	err := e.Flush()
	if e.closer != nil {
		if cerr := e.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// seal encrypts value for the escrow line of pseudonym.
func (kr *Keyring) seal(pseudonym, value string) (string, error) {
	p, err := ParsePseudonym(pseudonym)
	if err != nil {
		return "", err
	}
	d, ok := kr.keys[p.KeyID]
	if !ok {
		return "", fmt.Errorf("%w (key %s)", ErrUnknownKey, p.KeyID)
	}
	nonce := make([]byte, d.aead.NonceSize(), d.aead.NonceSize()+len(value)+d.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := d.aead.Seal(nonce, nonce, []byte(value), []byte(pseudonym))
	return pseudonym + " " + base64.RawURLEncoding.EncodeToString(sealed) + "\n", nil
}

// Revealer re-identifies pseudonyms and Crypto-PAn addresses with a
// keyring, from an escrow and from candidate values. It is what
// `rampart ledger reveal` uses.
type Revealer struct {
	kr         *Keyring
	escrow     map[string][]byte // pseudonym → nonce ‖ ciphertext
	candidates []string
}

// NewRevealer returns a revealer using kr.
func NewRevealer(kr *Keyring) *Revealer {
	return &Revealer{kr: kr, escrow: map[string][]byte{}}
}

// AddCandidates adds values to test pseudonyms against (user and group
// names, uids, gids, host names; see LocalCandidates).
func (r *Revealer) AddCandidates(values ...string) {
	r.candidates = append(r.candidates, values...)
}

// LoadEscrow reads escrow entries. Malformed lines are an error (with the
// line number); entries of keys not in the keyring are kept but cannot be
// opened.
func (r *Revealer) LoadEscrow(rd io.Reader) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		ps, enc, ok := strings.Cut(line, " ")
		if !ok {
			return fmt.Errorf("privacy: escrow line %d: want \"PSEUDONYM SEALED\"", n)
		}
		if _, err := ParsePseudonym(ps); err != nil {
			return fmt.Errorf("privacy: escrow line %d: %v", n, strings.TrimPrefix(err.Error(), "privacy: "))
		}
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return fmt.Errorf("privacy: escrow line %d: bad encoding", n)
		}
		r.escrow[ps] = b
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("privacy: escrow: %v", err)
	}
	return nil
}

// Reveal returns the raw value behind token: a pseudonym (from the
// escrow, else by testing the candidates) or a Crypto-PAn address
// "pan:<key id>:<address>" (inverted with the key). It needs the key that
// made the token (ErrUnknownKey); ErrNotRevealed if neither the escrow nor
// a candidate has it. Truncated addresses cannot be revealed.
func (r *Revealer) Reveal(token string) (string, error) {
	token = strings.TrimSpace(token)
	if rest, ok := strings.CutPrefix(token, PanPrefix); ok {
		a, err := r.kr.RevealAddr(PanPrefix + rest)
		if err != nil {
			return "", err
		}
		return a.String(), nil
	}
	if strings.HasPrefix(token, TruncPrefix) {
		return "", errors.New("privacy: a truncated address keeps no host bits; it cannot be revealed")
	}
	p, err := ParsePseudonym(token)
	if err != nil {
		return "", err
	}
	d, ok := r.kr.keys[p.KeyID]
	if !ok {
		return "", fmt.Errorf("%w (key %s)", ErrUnknownKey, p.KeyID)
	}
	if sealed, ok := r.escrow[token]; ok {
		ns := d.aead.NonceSize()
		if len(sealed) < ns {
			return "", errors.New("privacy: escrow entry too short")
		}
		plain, err := d.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(token))
		if err != nil {
			return "", errors.New("privacy: escrow entry does not open with the key (corrupted or forged)")
		}
		m := d.mac(p.Kind, string(plain))
		if !equalMAC(m[:], p.MAC[:]) {
			return "", errors.New("privacy: escrow entry's value does not have this pseudonym (forged entry)")
		}
		return string(plain), nil
	}
	return r.kr.Reveal(token, r.candidates)
}

// RevealAddr inverts a Crypto-PAn address "pan:<key id>:<address>" with
// the key it names.
func (kr *Keyring) RevealAddr(s string) (netip.Addr, error) {
	rest, ok := strings.CutPrefix(s, PanPrefix)
	if !ok {
		return netip.Addr{}, fmt.Errorf("privacy: %q is not a Crypto-PAn address (want pan:KEYID:ADDRESS)", abbreviate(s))
	}
	id, addr, ok := strings.Cut(rest, ":")
	if !ok {
		return netip.Addr{}, fmt.Errorf("privacy: %q is not a Crypto-PAn address (want pan:KEYID:ADDRESS)", abbreviate(s))
	}
	if a, _, found := strings.Cut(addr, " "); found { // "pan:k:1.2.3.4 port=80"
		addr = a
	}
	d, ok := kr.keys[id]
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w (key %s)", ErrUnknownKey, id)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("privacy: bad address in %q: %v", abbreviate(s), err)
	}
	return d.pan.Deanonymize(a), nil
}

// ParseAccounts reads /etc/passwd or /etc/group formatted text and
// returns the names (first column) and numeric ids (third column), as
// reveal candidates.
func ParseAccounts(r io.Reader) (names, ids []string, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		names = append(names, f[0])
		ids = append(ids, f[2])
	}
	return names, ids, sc.Err()
}

// ParseHumanAccounts reads /etc/passwd formatted text and returns the
// names of accounts with a uid of at least minUID (login.defs UID_MIN,
// usually 1000), nobody (65534) excepted: the identifiers to give
// WithKnownIdentifiers as users.
func ParseHumanAccounts(r io.Reader, minUID int) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil || uid < minUID || uid == 65534 {
			continue
		}
		out = append(out, f[0])
	}
	return out, sc.Err()
}

// LocalCandidates returns this node's user and group names, uids, gids
// and host name (from /etc/passwd, /etc/group and the kernel), for
// Revealer.AddCandidates.
func LocalCandidates() ([]string, error) {
	var out []string
	for _, p := range []string{"/etc/passwd", "/etc/group"} {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		names, ids, err := ParseAccounts(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		out = append(out, names...)
		out = append(out, ids...)
	}
	if h, err := os.Hostname(); err == nil {
		out = append(out, h)
		if short, _, ok := strings.Cut(h, "."); ok {
			out = append(out, short)
		}
	}
	return out, nil
}
