package rootsig

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzVerifyPKCS7 feeds arbitrary bytes to VerifyPKCS7: it must never
// panic, and must return a trusted certificate exactly when it returns no
// error. Seeds are valid signatures of every shape the tests know (Go and,
// when available, openssl), so that mutations reach the deep checks.
func FuzzVerifyPKCS7(f *testing.F) {
	rsaKey, ecKey := goKeys(f)
	notBefore := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	rsaCert := selfSignedCert(f, rsaKey, "fuzz rsa", 7, notBefore, notAfter)
	ecCert := selfSignedCert(f, ecKey, "fuzz ec", 8, notBefore, notAfter)
	trusted := []*x509.Certificate{rsaCert, ecCert}
	for _, s := range []struct {
		cert *x509.Certificate
		key  crypto.Signer
		opts SignOptions
	}{
		{rsaCert, rsaKey, SignOptions{}},
		{rsaCert, rsaKey, SignOptions{EmbedCertificate: true}},
		{ecCert, ecKey, SignOptions{Hash: crypto.SHA384}},
	} {
		sig, err := SignPKCS7(testRootHash, s.cert, s.key, &s.opts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sig)
	}

	if haveOpenSSL() {
		dir := fx(f)
		for _, name := range []string{"rsa.crt", "ec.crt"} {
			trusted = append(trusted, fxCert(f, name))
		}
		tmp := f.TempDir()
		for _, args := range [][]string{
			smimeArgs("rsa", "-nocerts", "-noattr"),
			cmsArgs("rsa", "-nosmimecap"),
			cmsArgs("ec", "-nosmimecap", "-nocerts", "-keyid"),
			cmsArgs("rsa", "-nosmimecap", "-nocerts", "-signer", "ec.crt", "-inkey", "ec.key"),
			cmsArgs("rsa"),
			smimeArgs("ec", "-nocerts", "-noattr", "-nodetach"),
		} {
			out := filepath.Join(tmp, "seed.p7s")
			for j, a := range args {
				if a == "out.p7s" {
					args[j] = out
				}
			}
			openssl(f, dir, args...)
			seed, err := os.ReadFile(out)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(seed)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0, 0})
	f.Add([]byte("-----BEGIN PKCS7-----\n"))

	f.Fuzz(func(t *testing.T, sig []byte) {
		c, err := VerifyPKCS7(sig, testRootHash, trusted)
		if (err == nil) != (c != nil) {
			t.Fatalf("VerifyPKCS7 returned certificate %v with error %v", c != nil, err)
		}
		if c != nil {
			found := false
			for _, tc := range trusted {
				found = found || tc == c
			}
			if !found {
				t.Fatal("returned certificate is not from the trust list")
			}
		}
	})
}
