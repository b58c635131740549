package rootsig

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKeys(t *testing.T) {
	dir := fx(t)
	tmp := t.TempDir()
	rsaPKCS8, err := LoadPrivateKey(filepath.Join(dir, "rsa.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rsaPKCS8.(*rsa.PrivateKey); !ok {
		t.Fatalf("rsa.key: %T", rsaPKCS8)
	}
	ecPKCS8, err := LoadPrivateKey(filepath.Join(dir, "ec.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ecPKCS8.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("ec.key: %T", ecPKCS8)
	}

	// PKCS#1 and SEC1 ("traditional") encodings of the same keys.
	pkcs1 := filepath.Join(tmp, "rsa1.key")
	openssl(t, dir, "pkey", "-in", "rsa.key", "-traditional", "-out", pkcs1)
	sec1 := filepath.Join(tmp, "ec1.key")
	openssl(t, dir, "pkey", "-in", "ec.key", "-traditional", "-out", sec1)
	for _, tc := range []struct {
		path, head string
	}{
		{pkcs1, "-----BEGIN RSA PRIVATE KEY-----"},
		{sec1, "-----BEGIN EC PRIVATE KEY-----"},
	} {
		data, _ := os.ReadFile(tc.path)
		if !strings.HasPrefix(string(data), tc.head) {
			t.Fatalf("%s does not start with %s", tc.path, tc.head)
		}
	}
	k1, err := LoadPrivateKey(pkcs1)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(rsaPKCS8.Public(), k1.Public()) {
		t.Error("PKCS#1 key differs from PKCS#8 key")
	}
	k2, err := LoadPrivateKey(sec1)
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(ecPKCS8.Public(), k2.Public()) {
		t.Error("SEC1 key differs from PKCS#8 key")
	}

	// openssl ecparam -genkey writes EC PARAMETERS before the key.
	ecparam := filepath.Join(tmp, "ecparam.key")
	openssl(t, dir, "ecparam", "-genkey", "-name", "prime256v1", "-out", ecparam)
	if k, err := LoadPrivateKey(ecparam); err != nil {
		t.Error(err)
	} else if _, ok := k.(*ecdsa.PrivateKey); !ok {
		t.Errorf("ecparam key: %T", k)
	}

	// A combined cert+key file.
	crt, _ := os.ReadFile(filepath.Join(dir, "rsa.crt"))
	key, _ := os.ReadFile(filepath.Join(dir, "rsa.key"))
	both := writeFile(t, tmp, "both.pem", append(append([]byte("a comment\n"), crt...), key...))
	if _, err := LoadPrivateKey(both); err != nil {
		t.Error(err)
	}
	if _, _, err := LoadKeyPair(both, both); err != nil {
		t.Error(err)
	}

	enc := filepath.Join(tmp, "enc.key")
	openssl(t, dir, "pkey", "-in", "rsa.key", "-aes256", "-passout", "pass:secret", "-out", enc)
	encTrad := filepath.Join(tmp, "enctrad.key")
	openssl(t, dir, "pkey", "-in", "ec.key", "-traditional", "-aes256", "-passout", "pass:secret", "-out", encTrad)
	ecKey, _ := os.ReadFile(filepath.Join(dir, "ec.key"))
	twoKeys := writeFile(t, tmp, "two.key", append(key, ecKey...))
	junk := writeFile(t, tmp, "key.pem", []byte("not a key\n"))

	for _, tc := range []struct {
		path, want string
	}{
		{junk, junk + ": no PEM block"},
		{filepath.Join(dir, "rsa.crt"), "no private key PEM block (found CERTIFICATE)"},
		{enc, "encrypted private key not supported"},
		{encTrad, "encrypted private key not supported"},
		{twoKeys, "more than one private key"},
		{filepath.Join(tmp, "missing.pem"), "missing.pem"},
	} {
		if _, err := LoadPrivateKey(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadPrivateKey(%s) = %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}

func TestLoadCertificates(t *testing.T) {
	dir := fx(t)
	tmp := t.TempDir()
	rsaCrt, _ := os.ReadFile(filepath.Join(dir, "rsa.crt"))
	ecCrt, _ := os.ReadFile(filepath.Join(dir, "ec.crt"))
	bundle := writeFile(t, tmp, "bundle.pem", append(append([]byte{}, rsaCrt...), ecCrt...))
	certs, err := LoadCertificates(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || certs[0].Subject.CommonName != "rsa test" || certs[1].Subject.CommonName != "ec test" {
		t.Fatalf("bundle: %d certificates", len(certs))
	}

	der := filepath.Join(tmp, "rsa.der")
	openssl(t, dir, "x509", "-in", "rsa.crt", "-outform", "DER", "-out", der)
	certs, err = LoadCertificates(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || !certs[0].Equal(fxCert(t, "rsa.crt")) {
		t.Fatal("DER certificate differs")
	}

	// LoadKeyPair picks the matching certificate out of a bundle.
	c, _, err := LoadKeyPair(bundle, filepath.Join(dir, "ec.key"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.CommonName != "ec test" {
		t.Errorf("LoadKeyPair picked %s", c.Subject)
	}
	ecPath, rsaKeyPath := filepath.Join(dir, "ec.crt"), filepath.Join(dir, "rsa.key")
	_, _, err = LoadKeyPair(ecPath, rsaKeyPath)
	if !errors.Is(err, ErrKeyMismatch) || err.Error() != ecPath+": certificate does not match private key in "+rsaKeyPath {
		t.Errorf("LoadKeyPair mismatch: %v", err)
	}

	badPEM := writeFile(t, tmp, "bad.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	junk := writeFile(t, tmp, "cert.pem", []byte("hello"))
	for _, tc := range []struct {
		path, want string
	}{
		{junk, junk + ": no PEM block, and not a DER certificate"},
		{filepath.Join(dir, "rsa.key"), "no CERTIFICATE PEM block (found PRIVATE KEY)"},
		{badPEM, "bad.pem: certificate 1: "},
	} {
		if _, err := LoadCertificates(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadCertificates(%s) = %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}

	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "ed.pem"), "contains a private key"},
		{filepath.Join(dir, "rsa.crt"), "public key is RSA, expected Ed25519"},
		{junk, "no PEM block"},
	} {
		if _, err := LoadEd25519PublicKey(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadEd25519PublicKey(%s) = %v, want %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}

// PublicKeyFromPEM is the block parser both rootsig and image/trust use.
func TestPublicKeyFromPEM(t *testing.T) {
	dir := fx(t)
	for _, tc := range []struct {
		file, typ string // the first block's type, as written by openssl
		key       string // the key's type, "" for none
		err       string
	}{
		{"ed.pub", "PUBLIC KEY", "ed25519.PublicKey", ""},
		{"ed.crt", "CERTIFICATE", "ed25519.PublicKey", ""},
		{"rsa.crt", "CERTIFICATE", "*rsa.PublicKey", ""},
		{"ed.pem", "PRIVATE KEY", "", "private key"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		if b == nil || b.Type != tc.typ {
			t.Fatalf("%s: no %s block", tc.file, tc.typ)
		}
		pub, err := PublicKeyFromPEM(b)
		if got := fmt.Sprintf("%T", pub); (tc.key != "" && got != tc.key) || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %s, %v", tc.file, got, err)
		}
	}
	if pub, err := PublicKeyFromPEM(&pem.Block{Type: "DH PARAMETERS"}); pub != nil || err != nil {
		t.Errorf("other block: %v, %v", pub, err)
	}
	if _, err := PublicKeyFromPEM(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}}); err == nil || !strings.HasPrefix(err.Error(), "PUBLIC KEY: ") {
		t.Errorf("bad public key block: %v", err)
	}
}
