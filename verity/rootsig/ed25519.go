package rootsig

import (
	"crypto/ed25519"
	"fmt"
)

// SignEd25519 returns the raw 64-byte Ed25519 signature (RFC 8032, pure
// Ed25519) of content, the root hash as lowercase hex without a newline.
// It is meant for systems that check the root hash in userspace rather
// than through the kernel keyring. The result is identical to
// "openssl pkeyutl -sign -rawin -inkey ed25519.pem -in roothash.txt"
// because Ed25519 signatures are deterministic. Like ed25519.Sign, it
// panics if key is not ed25519.PrivateKeySize bytes long.
func SignEd25519(content []byte, key ed25519.PrivateKey) []byte {
	return ed25519.Sign(key, content)
}

// VerifyEd25519 checks a raw 64-byte Ed25519 signature over content (the
// root hash as lowercase hex) with pub, as
// "openssl pkeyutl -verify -rawin -pubin -inkey pub.pem -sigfile sig"
// does. A signature that does not verify yields an error wrapping
// ErrSignatureMismatch; malformed key or signature lengths are reported as
// such.
func VerifyEd25519(sig, content []byte, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("Ed25519 public key is %d bytes, expected %d", len(pub), ed25519.PublicKeySize)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("Ed25519 signature is %d bytes, expected %d", len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, content, sig) {
		return ErrSignatureMismatch
	}
	return nil
}
