package rootsig

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRootHashContent(t *testing.T) {
	got := RootHashContent([]byte{0x00, 0xab, 0xff, 0x10})
	if string(got) != "00abff10" {
		t.Fatalf("RootHashContent = %q", got)
	}
	if err := checkRootHashHex(testRootHash); err != nil {
		t.Fatal(err)
	}
}

// TestSignVerifyRoundTrip needs no openssl: Go keys, Go certificates.
func TestSignVerifyRoundTrip(t *testing.T) {
	rsaKey, ecKey := goKeys(t)
	now := time.Now()
	rsaCert := selfSignedCert(t, rsaKey, "go rsa", 1001, now.Add(-time.Hour), now.Add(time.Hour))
	ecCert := selfSignedCert(t, ecKey, "go ec", 1002, now.Add(-time.Hour), now.Add(time.Hour))
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		opts *SignOptions
	}{
		{"rsa", rsaKey, nil},
		{"rsa-embed-sha384", rsaKey, &SignOptions{EmbedCertificate: true, Hash: crypto.SHA384}},
		{"ec", ecKey, nil},
		{"ec-sha512", ecKey, &SignOptions{Hash: crypto.SHA512}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := rsaCert
			if strings.HasPrefix(tc.name, "ec") {
				cert = ecCert
			}
			sig, err := SignPKCS7(testRootHash, cert, tc.key, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyPKCS7(sig, testRootHash, []*x509.Certificate{ecCert, rsaCert})
			if err != nil {
				t.Fatal(err)
			}
			if got != cert {
				t.Fatalf("VerifyPKCS7 returned %v, want %v", got.Subject, cert.Subject)
			}
			bad := bytes.Clone(testRootHash)
			bad[3] ^= 1
			if _, err := VerifyPKCS7(sig, bad, []*x509.Certificate{cert}); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("tampered content: err = %v, want ErrSignatureMismatch", err)
			}
		})
	}
}

func TestSignPKCS7Errors(t *testing.T) {
	rsaKey, ecKey := goKeys(t)
	now := time.Now()
	rsaCert := selfSignedCert(t, rsaKey, "go rsa", 1001, now.Add(-time.Hour), now.Add(time.Hour))
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"newline", append(bytes.Clone(testRootHash), '\n'), "trailing newline"},
		{"uppercase", bytes.ToUpper(testRootHash), "uppercase"},
		{"empty", nil, "content is empty"},
		{"odd", testRootHash[:5], "odd length"},
		{"binary", []byte{0x9d, 0xe1}, "not a lowercase hex root hash"},
	} {
		if _, err := SignPKCS7(tc.content, rsaCert, rsaKey, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := SignPKCS7(testRootHash, rsaCert, ecKey, nil); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("mismatched key: err = %v, want ErrKeyMismatch", err)
	}
	if _, err := SignPKCS7(testRootHash, rsaCert, rsaKey, &SignOptions{Hash: crypto.SHA1}); err == nil || !strings.Contains(err.Error(), "unsupported hash") {
		t.Errorf("SHA-1: err = %v", err)
	}
	if _, err := SignPKCS7(testRootHash, nil, rsaKey, nil); err == nil {
		t.Error("nil certificate accepted")
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edCert := selfSignedCert(t, edKey, "go ed", 1003, now.Add(-time.Hour), now.Add(time.Hour))
	if _, err := SignPKCS7(testRootHash, edCert, edKey, nil); err == nil || !strings.Contains(err.Error(), "Ed25519") {
		t.Errorf("Ed25519: err = %v", err)
	}
}

// TestSignPKCS7VerifiedByOpenSSL checks that openssl smime and openssl cms
// accept what SignPKCS7 makes, and (as a check on the oracle) reject it
// over a different root hash.
func TestSignPKCS7VerifiedByOpenSSL(t *testing.T) {
	dir := fx(t)
	tmp := t.TempDir()
	badRH := writeFile(t, tmp, "bad.txt", append(bytes.Clone(testRootHash[:len(testRootHash)-1]), 'x'))
	for _, kt := range []string{"rsa", "ec"} {
		cert, key, err := LoadKeyPair(filepath.Join(dir, kt+".crt"), filepath.Join(dir, kt+".key"))
		if err != nil {
			t.Fatal(err)
		}
		for _, opts := range []SignOptions{{}, {EmbedCertificate: true}, {Hash: crypto.SHA512}} {
			sig, err := SignPKCS7(testRootHash, cert, key, &opts)
			if err != nil {
				t.Fatal(err)
			}
			sigPath := writeFile(t, tmp, "sig.p7s", sig)
			certPath := filepath.Join(dir, kt+".crt")
			openssl(t, dir, "smime", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
				"-content", "rh.txt", "-certfile", certPath, "-nointern", "-noverify", "-out", os.DevNull)
			openssl(t, dir, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
				"-content", "rh.txt", "-certfile", certPath, "-CAfile", certPath, "-purpose", "any", "-out", os.DevNull)
			if out, err := opensslErr(dir, "smime", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
				"-content", badRH, "-certfile", certPath, "-nointern", "-noverify", "-out", os.DevNull); err == nil {
				t.Fatalf("%s %+v: openssl accepted the signature over another root hash\n%s", kt, opts, out)
			}
		}
	}
}

// TestSignPKCS7MatchesOpenSSL: RSA PKCS#1 v1.5 is deterministic, so
// SignPKCS7 must reproduce openssl smime's output byte for byte.
func TestSignPKCS7MatchesOpenSSL(t *testing.T) {
	dir := fx(t)
	cert, key, err := LoadKeyPair(filepath.Join(dir, "rsa.crt"), filepath.Join(dir, "rsa.key"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "o.p7s")
	for _, tc := range []struct {
		opts  SignOptions
		extra []string
	}{
		{SignOptions{}, []string{"-nocerts"}},
		{SignOptions{EmbedCertificate: true}, nil},
		{SignOptions{Hash: crypto.SHA384}, []string{"-nocerts", "-md", "sha384"}},
	} {
		args := append([]string{"smime", "-sign", "-noattr", "-binary", "-in", "rh.txt", "-signer", "rsa.crt",
			"-inkey", "rsa.key", "-outform", "der", "-out", out}, tc.extra...)
		openssl(t, dir, args...)
		want, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SignPKCS7(testRootHash, cert, key, &tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: SignPKCS7 output differs from openssl smime %v\n got %x\nwant %x", tc.opts, tc.extra, got, want)
		}
	}
}

// opensslSign runs an openssl signing command in the fixture directory;
// args name the input/output as rh.txt and out.p7s.
func opensslSign(t *testing.T, args ...string) []byte {
	t.Helper()
	dir := fx(t)
	out := filepath.Join(t.TempDir(), "out.p7s")
	for i, a := range args {
		if a == "out.p7s" {
			args[i] = out
		}
	}
	openssl(t, dir, args...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func smimeArgs(kt string, extra ...string) []string {
	return append([]string{"smime", "-sign", "-binary", "-in", "rh.txt", "-signer", kt + ".crt", "-inkey", kt + ".key",
		"-outform", "der", "-out", "out.p7s"}, extra...)
}

func cmsArgs(kt string, extra ...string) []string {
	return append([]string{"cms", "-sign", "-binary", "-in", "rh.txt", "-signer", kt + ".crt", "-inkey", kt + ".key",
		"-outform", "der", "-out", "out.p7s"}, extra...)
}

func TestVerifyPKCS7AcceptsOpenSSL(t *testing.T) {
	rsaCert, ecCert, rsa2Cert := fxCert(t, "rsa.crt"), fxCert(t, "ec.crt"), fxCert(t, "rsa2.crt")
	trusted := []*x509.Certificate{rsa2Cert, ecCert, rsaCert}
	for _, tc := range []struct {
		name string
		args []string
		want *x509.Certificate
	}{
		{"smime-noattr-nocerts-rsa", smimeArgs("rsa", "-nocerts", "-noattr"), rsaCert},
		{"smime-noattr-nocerts-ec", smimeArgs("ec", "-nocerts", "-noattr"), ecCert},
		{"smime-noattr-certs-rsa", smimeArgs("rsa", "-noattr"), rsaCert},
		{"smime-noattr-sha384-ec", smimeArgs("ec", "-nocerts", "-noattr", "-md", "sha384"), ecCert},
		{"smime-noattr-sha512-rsa", smimeArgs("rsa", "-nocerts", "-noattr", "-md", "sha512"), rsaCert},
		{"cms-noattr-nocerts-rsa", cmsArgs("rsa", "-nocerts", "-noattr"), rsaCert},
		{"cms-attrs-certs-rsa", cmsArgs("rsa", "-nosmimecap"), rsaCert},
		{"cms-attrs-certs-ec", cmsArgs("ec", "-nosmimecap"), ecCert},
		{"cms-attrs-nocerts-sha512-rsa", cmsArgs("rsa", "-nosmimecap", "-nocerts", "-md", "sha512"), rsaCert},
		{"cms-keyid-attrs-rsa", cmsArgs("rsa", "-nosmimecap", "-nocerts", "-keyid"), rsaCert},
		{"cms-keyid-noattr-ec", cmsArgs("ec", "-noattr", "-nocerts", "-keyid"), ecCert},
		{"smime-attrs-nosmimecap-ec", smimeArgs("ec", "-nosmimecap", "-nocerts"), ecCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := opensslSign(t, tc.args...)
			got, err := VerifyPKCS7(sig, testRootHash, trusted)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("signer = %s, want %s", got.Subject, tc.want.Subject)
			}
			bad := bytes.Clone(testRootHash)
			bad[0] ^= 1
			if _, err := VerifyPKCS7(sig, bad, trusted); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("tampered root hash: err = %v, want ErrSignatureMismatch", err)
			}
			flipped := bytes.Clone(sig)
			flipped[len(flipped)-1] ^= 1 // last byte of the signature value
			if _, err := VerifyPKCS7(flipped, testRootHash, trusted); !errors.Is(err, ErrSignatureMismatch) {
				t.Fatalf("flipped signature byte: err = %v, want ErrSignatureMismatch", err)
			}
		})
	}
}

func TestVerifyPKCS7MultipleSigners(t *testing.T) {
	rsaCert, ecCert, rsa2Cert := fxCert(t, "rsa.crt"), fxCert(t, "ec.crt"), fxCert(t, "rsa2.crt")
	sig := opensslSign(t, cmsArgs("rsa", "-nosmimecap", "-nocerts", "-signer", "ec.crt", "-inkey", "ec.key")...)
	// DER sorts the SET OF SignerInfo, so find out which comes first.
	sd, err := parsePKCS7(sig)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.signers) != 2 {
		t.Fatalf("%d SignerInfos", len(sd.signers))
	}
	first := ecCert
	if sd.signers[0].names(rsaCert) {
		first = rsaCert
	}
	for _, tc := range []struct {
		trusted []*x509.Certificate
		want    *x509.Certificate
	}{
		{[]*x509.Certificate{ecCert}, ecCert},
		{[]*x509.Certificate{rsaCert}, rsaCert},
		{[]*x509.Certificate{ecCert, rsaCert}, first}, // first trusted SignerInfo wins
	} {
		got, err := VerifyPKCS7(sig, testRootHash, tc.trusted)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("signer = %s, want %s", got.Subject, tc.want.Subject)
		}
	}
	if _, err := VerifyPKCS7(sig, testRootHash, []*x509.Certificate{rsa2Cert}); !errors.Is(err, ErrUntrustedSigner) {
		t.Errorf("untrusted: err = %v", err)
	}
}

func TestVerifyPKCS7Rejects(t *testing.T) {
	dir := fx(t)
	rsaCert, ecCert, rsa2Cert, sameCert := fxCert(t, "rsa.crt"), fxCert(t, "ec.crt"), fxCert(t, "rsa2.crt"), fxCert(t, "same.crt")
	plain := opensslSign(t, smimeArgs("rsa", "-nocerts", "-noattr")...)
	serialOut := openssl(t, dir, "x509", "-in", "rsa.crt", "-noout", "-serial")
	serial := strings.TrimPrefix(strings.TrimSpace(string(serialOut)), "serial=")

	// A certificate whose validity ended long before openssl's signingTime.
	key, err := LoadPrivateKey(filepath.Join(dir, "rsa.key"))
	if err != nil {
		t.Fatal(err)
	}
	old := selfSignedCert(t, key, "expired", 42, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC))
	oldPath := writeCertPEM(t, t.TempDir(), "old.crt", old)
	expiredSig := opensslSign(t, "cms", "-sign", "-binary", "-nosmimecap", "-nocerts", "-in", "rh.txt", "-signer", oldPath,
		"-inkey", "rsa.key", "-outform", "der", "-out", "out.p7s")
	expiredNoAttr := opensslSign(t, "cms", "-sign", "-binary", "-noattr", "-nocerts", "-in", "rh.txt", "-signer", oldPath,
		"-inkey", "rsa.key", "-outform", "der", "-out", "out.p7s")
	if _, err := VerifyPKCS7(expiredNoAttr, testRootHash, []*x509.Certificate{old}); err != nil {
		t.Errorf("expired certificate without signingTime: %v (validity is not checked against the clock)", err)
	}

	sha256WithRSA := bytes.Clone(plain)
	rsaEnc := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}
	i := bytes.Index(sha256WithRSA, rsaEnc)
	if i < 0 || bytes.Count(sha256WithRSA, rsaEnc) != 1 {
		t.Fatal("rsaEncryption OID not found once")
	}
	sha256WithRSA[i+len(rsaEnc)-1] = 0x0b

	notSigned, err := asn1.Marshal(struct {
		OID     asn1.ObjectIdentifier
		Content asn1.RawValue
	}{oidData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{4, 1, 'x'}}})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		sig     []byte
		content []byte
		trusted []*x509.Certificate
		is      error
		want    string
	}{
		{"wrong-cert", plain, testRootHash, []*x509.Certificate{rsa2Cert, ecCert}, ErrUntrustedSigner,
			"signed by certificate not in trust list (issuer CN=rsa test, serial " + serial + ")"},
		{"no-trust", plain, testRootHash, nil, ErrUntrustedSigner, "issuer CN=rsa test"},
		{"same-issuer-serial-other-key", plain, testRootHash, []*x509.Certificate{sameCert}, ErrSignatureMismatch, "signature does not match root hash"},
		{"key-type", opensslSign(t, smimeArgs("ec", "-nocerts", "-noattr")...), testRootHash, []*x509.Certificate{withIdentity(t, rsaCert, ecCert)}, nil,
			"certificate key is RSA but the signature algorithm is ECDSA"},
		{"keyid-untrusted", opensslSign(t, cmsArgs("rsa", "-noattr", "-nocerts", "-keyid")...), testRootHash, []*x509.Certificate{ecCert}, ErrUntrustedSigner, "subjectKeyIdentifier"},
		{"newline", plain, append(bytes.Clone(testRootHash), '\n'), []*x509.Certificate{rsaCert}, ErrSignatureMismatch, ""},
		{"attrs-content", opensslSign(t, cmsArgs("rsa", "-nosmimecap")...), testRootHash[1:], []*x509.Certificate{rsaCert}, ErrSignatureMismatch, "messageDigest"},
		{"attached", opensslSign(t, smimeArgs("rsa", "-nocerts", "-noattr", "-nodetach")...), testRootHash, []*x509.Certificate{rsaCert}, ErrAttachedContent,
			"attached content equals the root hash"},
		{"cms-default-smimecap", opensslSign(t, cmsArgs("rsa")...), testRootHash, []*x509.Certificate{rsaCert}, nil, "smimeCapabilities is rejected by the Linux kernel"},
		{"smime-default-attrs", opensslSign(t, smimeArgs("ec", "-nocerts")...), testRootHash, []*x509.Certificate{ecCert}, nil, "smimeCapabilities"},
		{"sha1", opensslSign(t, smimeArgs("rsa", "-nocerts", "-noattr", "-md", "sha1")...), testRootHash, []*x509.Certificate{rsaCert}, nil,
			"unsupported digest algorithm sha1"},
		{"sha256WithRSAEncryption", sha256WithRSA, testRootHash, []*x509.Certificate{rsaCert}, nil, "sha256WithRSAEncryption is rejected by the Linux kernel"},
		{"signing-time", expiredSig, testRootHash, []*x509.Certificate{old}, nil, "outside the validity of certificate CN=expired"},
		{"pem", opensslSign(t, smimeArgs("rsa", "-nocerts", "-noattr", "-outform", "PEM")...), testRootHash, []*x509.Certificate{rsaCert}, ErrNotSignedData, "PEM"},
		{"smime-mime", opensslSign(t, smimeArgs("rsa", "-nocerts", "-noattr", "-outform", "SMIME")...), testRootHash, []*x509.Certificate{rsaCert}, ErrNotSignedData, "S/MIME"},
		{"trailing", append(bytes.Clone(plain), 0), testRootHash, []*x509.Certificate{rsaCert}, ErrNotSignedData, "trailing data"},
		{"truncated", plain[:len(plain)-1], testRootHash, []*x509.Certificate{rsaCert}, ErrNotSignedData, ""},
		{"empty", nil, testRootHash, []*x509.Certificate{rsaCert}, ErrNotSignedData, "empty"},
		{"id-data", notSigned, testRootHash, []*x509.Certificate{rsaCert}, ErrNotSignedData, "content type is id-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := VerifyPKCS7(tc.sig, tc.content, tc.trusted)
			if err == nil {
				t.Fatalf("accepted, signer %v", c.Subject)
			}
			if c != nil {
				t.Errorf("returned a certificate with error %v", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to contain %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// withIdentity returns a copy of c that claims the issuer and serial number
// of id, to reach the key-type check.
func withIdentity(t *testing.T, c, id *x509.Certificate) *x509.Certificate {
	t.Helper()
	cp := *c
	cp.RawIssuer = id.RawIssuer
	cp.SerialNumber = id.SerialNumber
	return &cp
}
