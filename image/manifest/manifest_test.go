package manifest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

func testKey(t *testing.T, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

func writeImage(t *testing.T, dir string, blocks int, seed uint64) string {
	t.Helper()
	b := make([]byte, blocks*4096)
	r := mrand.New(mrand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	p := filepath.Join(dir, "rootfs.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func ring(t *testing.T, threshold int, keys ...ed25519.PrivateKey) *trust.Root {
	t.Helper()
	var pubs []ed25519.PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.Public().(ed25519.PublicKey))
	}
	r, err := trust.KeyRing(pubs, threshold)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func seal(t *testing.T, img string, o SealOptions) *Sealed {
	t.Helper()
	if o.Version == "" {
		o.Version = "1.2.3"
	}
	if o.Keys == nil {
		o.Keys = []ed25519.PrivateKey{testKey(t, 1)}
	}
	s, err := Seal(img, &o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func veritysetup(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"veritysetup", "/usr/sbin/veritysetup", "/sbin/veritysetup"} {
		if q, err := exec.LookPath(p); err == nil {
			return q
		}
	}
	t.Skip("veritysetup not installed (cryptsetup-bin)")
	return ""
}

func TestSealVerifyAndVeritysetup(t *testing.T) {
	vs := veritysetup(t)
	for _, roots := range []int{0, 2} {
		dir := t.TempDir()
		img := writeImage(t, dir, 300, 1)
		s := seal(t, img, SealOptions{Seed: []byte("s"), FECRoots: roots, RollbackIndex: 4, Target: TargetHost})
		m := s.Manifest
		if m.Name != "rootfs" || m.Version != "1.2.3" || m.RollbackIndex != 4 || m.Target != TargetHost || m.Image.Size != 300*4096 ||
			m.Verity.HashStartBlock != 1 || m.Verity.HashBlocks != 4 || (roots == 0) != (m.FEC == nil) {
			t.Fatalf("manifest: %+v", m)
		}
		env, m2, err := Load(s.Files.Manifest)
		if err != nil || m2.Verity.RootHash != m.Verity.RootHash || !bytes.Equal(env.Signed, s.Envelope.Signed) {
			t.Fatalf("load: %v", err)
		}
		if rh, _ := os.ReadFile(s.Files.RootHash); string(rh) != m.Verity.RootHash {
			t.Fatalf(".roothash %q", rh)
		}
		_, rep, err := Verify(env, img, s.Files.Hash, &VerifyOptions{Trust: ring(t, 1, testKey(t, 1)), Now: time.Now()})
		if err != nil || !rep.OK || rep.PKCS7 != "absent" {
			t.Fatalf("verify: %v %+v", err, rep)
		}
		// veritysetup accepts the parameters the manifest states, without
		// the superblock, and with it.
		if out, err := exec.Command(vs, m.VeritysetupArgs(img, s.Files.Hash)...).CombinedOutput(); err != nil {
			t.Fatalf("veritysetup %v: %v\n%s", m.VeritysetupArgs(img, s.Files.Hash), err, out)
		}
		if out, err := exec.Command(vs, "verify", img, s.Files.Hash, m.Verity.RootHash).CombinedOutput(); err != nil {
			t.Fatalf("veritysetup verify with superblock: %v\n%s", err, out)
		}
		// and rejects a root hash one bit off.
		bad := []byte(m.Verity.RootHash)
		bad[0] ^= 1
		args := m.VeritysetupArgs(img, s.Files.Hash)
		args[len(args)-1] = string(bad)
		if err := exec.Command(vs, args...).Run(); err == nil {
			t.Fatal("veritysetup accepted a wrong root hash")
		}
	}
}

func TestReproducible(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	i1, i2 := writeImage(t, d1, 40, 7), writeImage(t, d2, 40, 7)
	ts := time.Unix(1700000000, 0)
	o := SealOptions{Seed: []byte("release-1"), FECRoots: 2, Time: ts, Keys: []ed25519.PrivateKey{testKey(t, 1), testKey(t, 2)}}
	s1, s2 := seal(t, i1, o), seal(t, i2, o)
	for _, f := range [][2]string{{s1.Files.Hash, s2.Files.Hash}, {s1.Files.Manifest, s2.Files.Manifest}, {s1.Files.RootHash, s2.Files.RootHash}} {
		a, _ := os.ReadFile(f[0])
		b, _ := os.ReadFile(f[1])
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s and %s differ", f[0], f[1])
		}
	}
	if s1.Manifest.CreatedBy.Time != "2023-11-14T22:13:20Z" {
		t.Fatalf("time %q", s1.Manifest.CreatedBy.Time)
	}
	// Without a seed the salt is random.
	s3 := seal(t, i2, SealOptions{})
	if s3.Manifest.Verity.RootHash == s1.Manifest.Verity.RootHash {
		t.Fatal("random salt gave the seeded root")
	}
}

func TestCreationTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		sde    string
		repro  bool
		want   time.Time
		errors bool
	}{
		{"", false, now, false},
		{"", true, time.Time{}, false},
		{"86400", true, time.Unix(86400, 0).UTC(), false},
		{"86400", false, time.Unix(86400, 0).UTC(), false},
		{"soon", true, time.Time{}, true},
	} {
		got, err := CreationTime(c.sde, c.repro, now)
		if (err != nil) != c.errors || !got.Equal(c.want) {
			t.Errorf("CreationTime(%q, %v) = %v, %v", c.sde, c.repro, got, err)
		}
	}
}

func TestSealRefuses(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "odd.img")
	os.WriteFile(img, make([]byte, 10000), 0o644)
	if _, err := Seal(img, &SealOptions{Version: "1.0.0", Keys: []ed25519.PrivateKey{testKey(t, 1)}}); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Fatalf("partial block: %v", err)
	}
	img = writeImage(t, dir, 2, 1)
	for _, o := range []SealOptions{
		{Version: "1.0", Keys: []ed25519.PrivateKey{testKey(t, 1)}},
		{Version: "1.0.0"},
		{Version: "1.0.0", Keys: []ed25519.PrivateKey{testKey(t, 1)}, Target: "vm"},
		{Version: "1.0.0", Keys: []ed25519.PrivateKey{testKey(t, 1)}, FECRoots: 1},
	} {
		if _, err := Seal(img, &o); err == nil {
			t.Errorf("Seal(%+v) succeeded", o)
		}
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	f.ReadAt(b, off)
	b[0] ^= 0x10
	f.WriteAt(b, off)
}

func TestVerifyDamage(t *testing.T) {
	dir := t.TempDir()
	img := writeImage(t, dir, 300, 3)
	s := seal(t, img, SealOptions{Seed: []byte("x"), FECRoots: 2})
	trusted := &VerifyOptions{Trust: ring(t, 1, testKey(t, 1)), Now: time.Now()}
	m := s.Manifest
	for _, c := range []struct {
		file string
		off  int64
		want string
	}{
		{img, 77*4096 + 5, string(verity.DataBlockDamaged)},
		{s.Files.Hash, 2*4096 + 100, string(verity.HashBlockDamaged)},
		{s.Files.Hash, 40, "superblock"},
		{s.Files.Hash, int64(m.FEC.Offset) + 9, "FEC parity"},
	} {
		flip(t, c.file, c.off)
		_, rep, err := Verify(s.Envelope, img, s.Files.Hash, trusted)
		flip(t, c.file, c.off)
		if err != nil || rep.OK {
			t.Fatalf("%s+%d: not detected: %v", c.file, c.off, err)
		}
		text := strings.Join(rep.Problems, "\n")
		if rep.Tree != nil {
			for _, p := range rep.Tree.Problems {
				text += "\n" + p.String()
			}
		}
		if !strings.Contains(text, c.want) {
			t.Errorf("%s+%d: want %q in\n%s", c.file, c.off, c.want, text)
		}
	}
	if _, rep, _ := Verify(s.Envelope, img, s.Files.Hash, trusted); !rep.OK {
		t.Fatalf("restored files: %+v", rep.Problems)
	}
	// Every byte of the manifest file matters.
	orig, _ := os.ReadFile(s.Files.Manifest)
	for i := range len(orig) - 1 {
		b := bytes.Clone(orig)
		b[i] ^= 0x01
		env, err := trust.ParseEnvelope(b)
		if err != nil {
			continue
		}
		if _, rep, _ := Verify(env, img, s.Files.Hash, trusted); rep.OK {
			t.Fatalf("manifest byte %d (%q) changed, still verifies", i, orig[i])
		}
	}
}

func TestVerifySignatures(t *testing.T) {
	dir := t.TempDir()
	img := writeImage(t, dir, 8, 3)
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	s := seal(t, img, SealOptions{Keys: []ed25519.PrivateKey{k1, k2}})
	for _, c := range []struct {
		trust *trust.Root
		ok    bool
		want  string
	}{
		{ring(t, 1, k1), true, ""},
		{ring(t, 2, k1, k2, k3), true, ""},
		{ring(t, 3, k1, k2, k3), false, "release keys given: 3 valid signature(s) needed, 2 found"},
		{ring(t, 1, k3), false, "unknown key"},
	} {
		_, rep, err := Verify(s.Envelope, img, s.Files.Hash, &VerifyOptions{Trust: c.trust, Now: time.Now()})
		if err != nil || rep.OK != c.ok || !strings.Contains(strings.Join(rep.Problems, ";"), c.want) {
			t.Errorf("trust %v: %v %+v", c.trust.Roles, err, rep)
		}
	}
}

func selfSigned(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func TestPKCS7(t *testing.T) {
	dir := t.TempDir()
	img := writeImage(t, dir, 8, 3)
	cert, key := selfSigned(t, "release signer")
	other, _ := selfSigned(t, "other")
	s := seal(t, img, SealOptions{Cert: cert, CertKey: key})
	p7, err := os.ReadFile(s.Files.PKCS7)
	if err != nil || !bytes.Equal(p7, s.Manifest.PKCS7()) {
		t.Fatalf(".p7s: %v", err)
	}
	o := &VerifyOptions{Trust: ring(t, 1, testKey(t, 1)), Now: time.Now()}
	if _, rep, _ := Verify(s.Envelope, img, s.Files.Hash, o); !rep.OK || !strings.Contains(rep.PKCS7, "not checked") {
		t.Fatalf("%+v", rep)
	}
	o.Certs = []*x509.Certificate{cert}
	if _, rep, _ := Verify(s.Envelope, img, s.Files.Hash, o); !rep.OK || !strings.Contains(rep.PKCS7, "good") {
		t.Fatalf("%+v", rep)
	}
	o.Certs = []*x509.Certificate{other}
	if _, rep, _ := Verify(s.Envelope, img, s.Files.Hash, o); rep.OK {
		t.Fatal("PKCS#7 by an untrusted certificate accepted")
	}
	// Resealing without a certificate removes the stale signature file.
	seal(t, img, SealOptions{})
	if _, err := os.Stat(s.Files.PKCS7); !os.IsNotExist(err) {
		t.Fatalf("stale .p7s: %v", err)
	}
}

func TestFilesFor(t *testing.T) {
	for in, want := range map[string]string{
		"/a/rootfs.img": "/a/rootfs.verity", "rootfs": "rootfs.verity", "/a/b.c/root.ext4": "/a/b.c/root.verity", "/a/.img": "/a/.img.verity",
	} {
		if got := FilesFor(in).Hash; got != want {
			t.Errorf("FilesFor(%q).Hash = %q, want %q", in, got, want)
		}
	}
}
