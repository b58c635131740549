package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// GenerateKey makes a new Ed25519 note key pair named after origin. skey
// is the private signing key ("PRIVATE+KEY+origin+hash+…"), to be kept
// off the ledger's disk and readable by the writer only; vkey is the
// public verifier key ("origin+hash+…") that verifiers need.
func GenerateKey(origin string) (skey, vkey string, err error) {
	if err := checkOrigin(origin); err != nil {
		return "", "", err
	}
	return note.GenerateKey(rand.Reader, origin)
}

// VerifierKey derives the public verifier key of a private note key.
func VerifierKey(skey string) (string, error) {
	if _, err := note.NewSigner(skey); err != nil {
		return "", fmt.Errorf("not a note signing key: %v", err)
	}
	parts := strings.SplitN(skey, "+", 5)
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", errors.New("not an Ed25519 note signing key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// LoadSigner reads a private note key from a file: its first line that is
// neither blank nor a # comment.
func LoadSigner(path string) (note.Signer, error) {
	b, err := readSmall(path, 4096)
	if err != nil {
		return nil, err
	}
	var s string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			s = line
			break
		}
	}
	if !strings.HasPrefix(s, "PRIVATE+KEY+") {
		if _, err := note.NewVerifier(s); err == nil {
			return nil, fmt.Errorf("%s: this is a public verifier key; signing needs the private key", path)
		}
		return nil, fmt.Errorf("%s: not a note signing key (want PRIVATE+KEY+name+hash+key)", path)
	}
	signer, err := note.NewSigner(s)
	if err != nil {
		return nil, fmt.Errorf("%s: bad note signing key: %v", path, err)
	}
	return signer, nil
}

// LoadVerifiers reads public note keys, one or more per file (one per
// line; blank lines and lines starting with # are ignored).
func LoadVerifiers(paths ...string) (note.Verifiers, error) {
	var list []note.Verifier
	seen := map[string]bool{}
	for _, p := range paths {
		b, err := readSmall(p, 1<<20)
		if err != nil {
			return nil, err
		}
		n := 0
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if strings.HasPrefix(line, "PRIVATE+KEY+") {
				return nil, fmt.Errorf("%s:%d: this is a private signing key; verifiers need only the public key (keep the private key on the writer)", p, i+1)
			}
			v, err := note.NewVerifier(line)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: not a note verifier key (want name+hash+key): %v", p, i+1, err)
			}
			n++
			if !seen[line] { // note.VerifierList rejects duplicates as ambiguous
				seen[line] = true
				list = append(list, v)
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no verifier key", p)
		}
	}
	if len(list) == 0 {
		return nil, errors.New("no verifier key given")
	}
	return note.VerifierList(list...), nil
}

// readSmall reads a file that must not exceed limit bytes.
func readSmall(path string, limit int64) ([]byte, error) {
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
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", path, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return b, nil
}
