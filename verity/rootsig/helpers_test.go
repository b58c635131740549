package rootsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testRootHash is the signed message used throughout the tests: a root
// hash in the form the kernel sees it.
var testRootHash = func() []byte {
	d := sha256.Sum256([]byte("rampart rootsig test"))
	return RootHashContent(d[:])
}()

// fixtureDir holds keys and certificates generated once per test binary
// with openssl; TestMain removes it.
var (
	fixtureOnce sync.Once
	fixtureErr  error
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// haveOpenSSL reports whether the openssl binary is available.
func haveOpenSSL() bool {
	_, err := exec.LookPath("openssl")
	return err == nil
}

// openssl runs openssl in dir and fails the test if it fails.
func openssl(tb testing.TB, dir string, args ...string) []byte {
	tb.Helper()
	out, err := opensslErr(dir, args...)
	if err != nil {
		tb.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// opensslErr runs openssl in dir and returns its combined output.
func opensslErr(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// fx returns the fixture directory, creating it on first use, with:
//
//	rh.txt                      testRootHash (no newline)
//	rsa.key rsa.crt             RSA-2048, self-signed, CN=rsa test
//	ec.key ec.crt               ECDSA P-256, self-signed, CN=ec test
//	rsa2.key rsa2.crt           another RSA key, also CN=rsa test
//	same.crt                    rsa2.key with rsa.crt's issuer and serial
//	ed.pem ed.pub ed.crt        Ed25519 private key, PKIX public key, cert
//
// It skips the test when openssl is missing.
func fx(tb testing.TB) string {
	tb.Helper()
	if !haveOpenSSL() {
		tb.Skip("openssl not installed")
	}
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rootsig-fixtures-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureDir = dir
		fixtureErr = makeFixtures(dir)
	})
	if fixtureErr != nil {
		tb.Fatal(fixtureErr)
	}
	return fixtureDir
}

func makeFixtures(dir string) error {
	run := func(args ...string) (string, error) {
		out, err := opensslErr(dir, args...)
		if err != nil {
			return "", fmt.Errorf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	if err := os.WriteFile(filepath.Join(dir, "rh.txt"), testRootHash, 0o600); err != nil {
		return err
	}
	cmds := [][]string{
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.crt", "-subj", "/CN=rsa test", "-days", "3650"},
		{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key", "-out", "ec.crt", "-subj", "/CN=ec test", "-days", "3650"},
		{"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa2.key", "-out", "rsa2.crt", "-subj", "/CN=rsa test", "-days", "3650"},
		{"genpkey", "-algorithm", "ed25519", "-out", "ed.pem"},
		{"pkey", "-in", "ed.pem", "-pubout", "-out", "ed.pub"},
		{"req", "-x509", "-new", "-key", "ed.pem", "-out", "ed.crt", "-subj", "/CN=ed test", "-days", "3650"},
	}
	for _, c := range cmds {
		if _, err := run(c...); err != nil {
			return err
		}
	}
	serial, err := run("x509", "-in", "rsa.crt", "-noout", "-serial")
	if err != nil {
		return err
	}
	serial = strings.TrimPrefix(strings.TrimSpace(serial), "serial=")
	_, err = run("req", "-x509", "-new", "-key", "rsa2.key", "-out", "same.crt", "-subj", "/CN=rsa test",
		"-set_serial", "0x"+serial, "-days", "3650")
	return err
}

// fxPath joins a fixture file name to the fixture directory.
func fxPath(tb testing.TB, name string) string {
	return filepath.Join(fx(tb), name)
}

// fxCert loads the single certificate in a fixture file.
func fxCert(tb testing.TB, name string) *x509.Certificate {
	tb.Helper()
	certs, err := LoadCertificates(fxPath(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return certs[0]
}

// Keys generated in Go, for tests that do not need openssl.
var (
	goKeysOnce sync.Once
	goRSAKey   *rsa.PrivateKey
	goECKey    *ecdsa.PrivateKey
)

func goKeys(tb testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	tb.Helper()
	goKeysOnce.Do(func() {
		var err error
		if goRSAKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if goECKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return goRSAKey, goECKey
}

// selfSignedCert makes a self-signed test certificate for key, valid from
// notBefore to notAfter, with a subjectKeyIdentifier.
func selfSignedCert(tb testing.TB, key crypto.Signer, cn string, serial int64, notBefore, notAfter time.Time) *x509.Certificate {
	tb.Helper()
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	skid := sha256.Sum256(spki)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		SubjectKeyId:          skid[:20],
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// writeCertPEM writes c as a PEM file and returns its path.
func writeCertPEM(tb testing.TB, dir, name string, c *x509.Certificate) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// writeFile writes data to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}
