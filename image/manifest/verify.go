package manifest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
	"github.com/rampart-sec/rampart/verity/rootsig"
)

// VerifyOptions say what Verify trusts and how it checks.
type VerifyOptions struct {
	// Trust holds the release keys and threshold (root metadata or a key
	// ring); Now is the time for expiry checks.
	Trust *trust.Root
	Now   time.Time
	// Certs, if set, are trusted for the kernel's PKCS#7 root-hash
	// signature, which is then required.
	Certs []*x509.Certificate
	// Verity tunes the tree check.
	Verity verity.VerifyOptions
}

// Report is the outcome of a verification.
type Report struct {
	// OK is true when everything checked is good.
	OK bool `json:"ok"`
	// Signatures says which release signatures counted.
	Signatures *trust.Result `json:"signatures,omitempty"`
	// PKCS7 describes the kernel root-hash signature: "absent", "not
	// checked (no certificate given)" or "good (signer)".
	PKCS7 string `json:"pkcs7,omitempty"`
	// Problems lists, in words, what failed outside the tree: manifest,
	// signatures, superblock, parity.
	Problems []string `json:"problems,omitempty"`
	// Tree is the verity engine's report (the corruption map), nil when
	// the manifest could not be trusted and nothing else was read.
	Tree *verity.Report `json:"tree,omitempty"`
}

func (r *Report) fail(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// Authenticate checks env's manifest and release signatures against
// o.Trust (whose expiry is checked at o.Now) and, with o.Certs, the kernel
// PKCS#7 signature. Problems go to rep; the manifest is returned only
// when it can be trusted.
func Authenticate(env *trust.Envelope, o *VerifyOptions, rep *Report) *Manifest {
	m, err := Parse(env)
	if err != nil {
		rep.fail("manifest: %v", err)
		return nil
	}
	if o.Trust == nil {
		rep.fail("signatures: no trusted keys given")
		return nil
	}
	if err := o.Trust.Expired(o.Now); err != nil {
		rep.fail("trust: %v", err)
		return nil
	}
	res, err := o.Trust.VerifyRole(env, trust.RoleRelease, o.Now)
	rep.Signatures = res
	if err != nil {
		rep.fail("signatures: %v", err)
		return nil
	}
	switch {
	case m.RootHashPKCS7 == "" && o.Certs != nil:
		rep.fail("kernel root-hash signature: absent, but certificates were given")
		return nil
	case m.RootHashPKCS7 == "":
		rep.PKCS7 = "absent"
	case o.Certs == nil:
		rep.PKCS7 = "not checked (no certificate given)"
	default:
		signer, err := rootsig.VerifyPKCS7(m.PKCS7(), []byte(m.Verity.RootHash), o.Certs)
		if err != nil {
			rep.fail("kernel root-hash signature: %v", err)
			return nil
		}
		rep.PKCS7 = fmt.Sprintf("good (%s)", signer.Subject)
	}
	return m
}

// Verify checks a sealed image: the manifest in env, its signatures (see
// Authenticate), then the superblock, the whole tree and the data of the
// image file against the root hash, and the parity's digest. Damage is
// reported in Report (the tree's as the verity engine's corruption map);
// the error is for files that cannot be read. The manifest is returned
// when it could be trusted.
func Verify(env *trust.Envelope, imagePath, hashPath string, o *VerifyOptions) (*Manifest, *Report, error) {
	rep := &Report{}
	m := Authenticate(env, o, rep)
	if m == nil {
		return nil, rep, nil
	}
	data, err := os.Open(imagePath)
	if err != nil {
		return m, nil, err
	}
	defer data.Close()
	hf, err := os.Open(hashPath)
	if err != nil {
		return m, nil, err
	}
	defer hf.Close()
	if err := m.CheckPayload(data, hf, nil, m.SealedLayout(), rep, o.Verity); err != nil {
		return m, nil, err
	}
	return m, rep, nil
}

func fecOffset(m *Manifest) uint64 {
	if m.FEC == nil {
		return 0
	}
	return m.FEC.Offset
}

// Layout says where the parts of an image lie on its devices.
type Layout struct {
	// Superblock, when the manifest has one, is at byte SuperblockOffset
	// of the hash device; it is not checked when SkipSuperblock is set
	// (a bundle carries none).
	SuperblockOffset uint64
	SkipSuperblock   bool
	// HashStart is the first tree block on the hash device.
	HashStart uint64
	// FECOffset is the byte offset of the parity on its device.
	FECOffset uint64
}

// SealedLayout is the layout of a sealed image's hash file, as the
// manifest states it.
func (m *Manifest) SealedLayout() Layout {
	return Layout{SuperblockOffset: m.Verity.HashOffset, HashStart: m.Verity.HashStartBlock, FECOffset: fecOffset(m)}
}

// CheckPayload checks an image already authenticated: data holds the
// image at byte 0, hash the superblock and tree, and fecDev (hash when
// nil) the parity, as l says. It adds its findings to rep and sets
// rep.OK. The error is for parameters that cannot be used.
func (m *Manifest) CheckPayload(data, hash, fecDev io.ReaderAt, l Layout, rep *Report, vo verity.VerifyOptions) error {
	if fecDev == nil {
		fecDev = hash
	}
	if !l.SkipSuperblock {
		if err := m.CheckSuperblock(hash, l.SuperblockOffset, rep); err != nil {
			return err
		}
	}
	if err := m.CheckTree(data, hash, l.HashStart, rep, vo); err != nil {
		return err
	}
	m.CheckFEC(fecDev, l.FECOffset, rep)
	rep.OK = len(rep.Problems) == 0
	return nil
}

// CheckSuperblock checks that the superblock at byte off of hash is the
// one the manifest's parameters give (the root hash does not cover it).
func (m *Manifest) CheckSuperblock(hash io.ReaderAt, off uint64, rep *Report) error {
	if !m.Verity.Superblock {
		return nil
	}
	p, err := m.Params()
	if err != nil {
		return err
	}
	want, err := verity.MarshalSuperblock(&p)
	if err != nil {
		return err
	}
	got := make([]byte, len(want))
	n, _ := hash.ReadAt(got, int64(off))
	if !bytes.Equal(got, want) {
		i := 0
		for i < n && got[i] == want[i] {
			i++
		}
		rep.fail("superblock at byte %d differs from the manifest's parameters at its byte %d", off, i)
	}
	return nil
}

// CheckTree checks the whole tree on hash (from block hashStart) and the
// data against the root hash with the verity engine, whose report goes to
// rep.Tree.
func (m *Manifest) CheckTree(data, hash io.ReaderAt, hashStart uint64, rep *Report, vo verity.VerifyOptions) error {
	p, err := m.Params()
	if err != nil {
		return err
	}
	root, err := m.RootHash()
	if err != nil {
		return err
	}
	if vo.DataSize == 0 {
		vo.DataSize = sizeOf(data)
	}
	if vo.HashSize == 0 {
		vo.HashSize = sizeOf(hash)
	}
	tree, err := verity.Verify(data, hash, &p, hashStart, root, &vo)
	if err != nil {
		return err
	}
	rep.Tree = tree
	if !tree.OK {
		rep.fail("hash tree: %d problem(s) against root hash %s", len(tree.Problems)+tree.Omitted, m.Verity.RootHash)
	}
	return nil
}

// CheckFEC checks the digest of the parity at byte off of r, if the
// manifest has parity.
func (m *Manifest) CheckFEC(r io.ReaderAt, off uint64, rep *Report) {
	if m.FEC == nil {
		return
	}
	sum, err := sectionSHA256(r, int64(off), int64(m.FECBytes()))
	switch {
	case err != nil:
		rep.fail("FEC parity: %v", err)
	case sum != m.FEC.SHA256:
		rep.fail("FEC parity at byte %d has sha256 %s, the manifest states %s", off, sum, m.FEC.SHA256)
	}
}

// sizeOf returns the size of a file or section, or 0 when unknown.
func sizeOf(r io.ReaderAt) int64 {
	switch f := r.(type) {
	case *os.File:
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	case *io.SectionReader:
		return f.Size()
	}
	return 0
}
