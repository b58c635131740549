package rootsig

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEd25519OpenSSLInterop(t *testing.T) {
	dir := fx(t)
	tmp := t.TempDir()
	k, err := LoadPrivateKey(filepath.Join(dir, "ed.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("LoadPrivateKey(ed.pem) = %T", k)
	}
	pub, err := LoadEd25519PublicKey(filepath.Join(dir, "ed.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(key.Public()) {
		t.Fatal("ed.pub does not match ed.pem")
	}

	// Ours, checked by openssl.
	sig := SignEd25519(testRootHash, key)
	sigPath := writeFile(t, tmp, "sig.bin", sig)
	out := openssl(t, dir, "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", "ed.pub", "-in", "rh.txt", "-sigfile", sigPath)
	if !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl -verify: %s", out)
	}
	badRH := writeFile(t, tmp, "bad.txt", append(bytes.Clone(testRootHash), '\n'))
	if out, err := opensslErr(dir, "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", "ed.pub", "-in", badRH, "-sigfile", sigPath); err == nil {
		t.Fatalf("openssl accepted the signature over another message: %s", out)
	}

	// openssl's, checked by us; Ed25519 is deterministic, so they are equal.
	osigPath := filepath.Join(tmp, "osig.bin")
	openssl(t, dir, "pkeyutl", "-sign", "-rawin", "-inkey", "ed.pem", "-in", "rh.txt", "-out", osigPath)
	osig, err := os.ReadFile(osigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEd25519(osig, testRootHash, pub); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(osig, sig) {
		t.Errorf("openssl signature %x differs from SignEd25519 %x", osig, sig)
	}

	// The certificate form of the public key works too.
	cpub, err := LoadEd25519PublicKey(filepath.Join(dir, "ed.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !cpub.Equal(pub) {
		t.Error("ed.crt key differs from ed.pub")
	}

	bad := bytes.Clone(testRootHash)
	bad[1] ^= 1
	if err := VerifyEd25519(osig, bad, pub); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("tampered content: %v", err)
	}
	flipped := bytes.Clone(osig)
	flipped[10] ^= 0x80
	if err := VerifyEd25519(flipped, testRootHash, pub); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("flipped signature: %v", err)
	}
	if err := VerifyEd25519(osig[:63], testRootHash, pub); err == nil || !strings.Contains(err.Error(), "63 bytes, expected 64") {
		t.Errorf("short signature: %v", err)
	}
	if err := VerifyEd25519(osig, testRootHash, pub[:31]); err == nil || !strings.Contains(err.Error(), "31 bytes, expected 32") {
		t.Errorf("short key: %v", err)
	}

	// PKCS#7 with Ed25519 is refused: the kernel cannot check it.
	edCert := fxCert(t, "ed.crt")
	if _, err := SignPKCS7(testRootHash, edCert, key, nil); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("SignPKCS7 with Ed25519: %v", err)
	}
}
