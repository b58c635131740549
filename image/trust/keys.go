package trust

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rampart-sec/rampart/verity/rootsig"
)

// KeyIDBytes is the length of a key ID before hex encoding.
const KeyIDBytes = 16

// KeyID names an Ed25519 public key: the first KeyIDBytes bytes, in hex,
// of the SHA-256 of its PKIX SubjectPublicKeyInfo DER encoding, which is
// what "openssl pkey -pubin -in k.pub -outform DER | sha256sum | cut -c1-32"
// prints. It is a name for finding the key, not a substitute for it:
// signatures are always checked with the key itself.
func KeyID(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		// Only an ed25519.PublicKey of the wrong length fails, and such a
		// key can match no signature: give it an ID no real key has.
		return "invalid-key"
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:KeyIDBytes])
}

// GenerateKey returns a new Ed25519 private key drawn from rand (nil
// means crypto/rand).
func GenerateKey(rand io.Reader) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand)
	return priv, err
}

// EncodePrivateKey returns priv as a PEM "PRIVATE KEY" block (PKCS#8), the
// form "openssl genpkey -algorithm ed25519" writes.
func EncodePrivateKey(priv ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKey returns pub as a PEM "PUBLIC KEY" block (PKIX), the form
// "openssl pkey -pubout" writes.
func EncodePublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// LoadPrivateKey reads an Ed25519 private key from a PEM file (PKCS#8, as
// GenerateKey's callers and openssl write it).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	k, err := rootsig.LoadPrivateKey(path)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 private key (%T)", path, k)
	}
	return priv, nil
}

// LoadPublicKeys reads every Ed25519 "PUBLIC KEY" (or certificate) PEM
// block of the file at path, in order. A file holding a private key is
// refused, so that a secret is never mistaken for a trust anchor.
func LoadPublicKeys(path string) ([]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []ed25519.PublicKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		pub, err := rootsig.PublicKeyFromPEM(b)
		switch {
		case errors.Is(err, rootsig.ErrPrivateKey):
			return nil, fmt.Errorf("%s: holds a private key; give the public key (rampart image keygen writes it as .pub)", path)
		case err != nil:
			return nil, fmt.Errorf("%s: block %d: %v", path, len(keys)+1, err)
		case pub == nil:
			continue
		}
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: key %d is %T, not Ed25519", path, len(keys)+1, pub)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PUBLIC KEY PEM block", path)
	}
	return keys, nil
}
