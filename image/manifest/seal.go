package manifest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/image/internal/atomicfile"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
	"github.com/rampart-sec/rampart/verity/rootsig"
)

// Files are the paths of a sealed image's files.
type Files struct {
	Image, Hash, Manifest, RootHash, PKCS7 string
}

// FilesFor returns the file names that go with the image at path: its
// name without the last extension, plus .verity, .manifest.json,
// .roothash and .roothash.p7s (systemd's sidecar names).
func FilesFor(image string) Files {
	base := strings.TrimSuffix(image, filepath.Ext(image))
	if base == "" || strings.HasSuffix(base, "/") {
		base = image
	}
	return Files{Image: image, Hash: base + ".verity", Manifest: base + ".manifest.json",
		RootHash: base + ".roothash", PKCS7: base + ".roothash.p7s"}
}

// SealOptions say how to seal an image.
type SealOptions struct {
	// Name defaults to the image's file name without its extension.
	Name string
	// Version is a semantic version, with or without a leading "v".
	Version       string
	RollbackIndex uint64
	// Target is TargetGuest (the default) or TargetHost.
	Target string
	// Keys sign the manifest (release keys); at least one.
	Keys []ed25519.PrivateKey
	// Seed, if set, derives the salt and UUID (verity.Params.FromSeed),
	// making the output reproducible; otherwise they are random.
	Seed []byte
	// FECRoots, if not 0, adds Reed-Solomon parity with that many roots.
	FECRoots int
	// Cert and CertKey, if set, add the kernel's PKCS#7 signature of the
	// root hash (the .roothash.p7s file and root_hash_pkcs7).
	Cert    *x509.Certificate
	CertKey crypto.Signer
	// Tool and ToolVersion fill created_by; Time, unless zero, too.
	Tool, ToolVersion string
	Time              time.Time
	// Verity tunes the hashing (workers, progress).
	Verity verity.Options
}

// Sealed is the result of Seal.
type Sealed struct {
	Files    Files
	Manifest *Manifest
	Envelope *trust.Envelope
}

// CreationTime decides the manifest's created_by time: SOURCE_DATE_EPOCH
// (sourceDateEpoch, seconds since 1970) when set, else nothing for a
// reproducible build, else now.
func CreationTime(sourceDateEpoch string, reproducible bool, now time.Time) (time.Time, error) {
	if sourceDateEpoch != "" {
		s, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil || s < 0 {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a count of seconds", sourceDateEpoch)
		}
		return time.Unix(s, 0).UTC(), nil
	}
	if reproducible {
		return time.Time{}, nil
	}
	return now.UTC(), nil
}

// Seal builds the hash tree (and parity) of the image at path into
// IMAGE.verity, and writes the signed manifest, the root hash and, with a
// certificate, the kernel signature beside it (see FilesFor). The image
// must be a whole number of 4096-byte blocks: a partial last block would
// be left unprotected, so it is refused. Every output file is replaced
// atomically; the image is only read.
func Seal(path string, o *SealOptions) (*Sealed, error) {
	if len(o.Keys) == 0 {
		return nil, errors.New("no signing key")
	}
	files := FilesFor(path)
	m := &Manifest{Type: Type, Name: o.Name, Version: strings.TrimPrefix(o.Version, "v"), RollbackIndex: o.RollbackIndex,
		Target: o.Target, CreatedBy: CreatedBy{Tool: o.Tool, Version: o.ToolVersion}}
	if m.Name == "" {
		m.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if m.Target == "" {
		m.Target = TargetGuest
	}
	if m.CreatedBy.Tool == "" {
		m.CreatedBy.Tool = "rampart"
	}
	if !o.Time.IsZero() {
		m.CreatedBy.Time = o.Time.UTC().Format(time.RFC3339)
	}
	if !ValidVersion(m.Version) {
		return nil, fmt.Errorf("version %q is not a semantic version such as 1.4.2", o.Version)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	p := verity.DefaultParams()
	size := uint64(st.Size())
	if !st.Mode().IsRegular() || size == 0 || size%uint64(p.DataBlockSize) != 0 {
		return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte blocks; pad the image (truncate -s %%%d %s) so that no block is left unprotected",
			path, size, p.DataBlockSize, p.DataBlockSize, path)
	}
	p.DataBlocks = size / uint64(p.DataBlockSize)
	if o.Seed != nil {
		err = p.FromSeed(o.Seed)
	} else {
		err = p.Randomize()
	}
	if err != nil {
		return nil, err
	}
	layout := verity.Layout{}
	hashStart := layout.HashStart(&p)
	g, err := p.Geometry(hashStart)
	if err != nil {
		return nil, err
	}
	tmp, err := atomicfile.Create(files.Hash, 0o644, nil)
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	if o.FECRoots != 0 {
		layout.FECPath, layout.FECOffset, layout.FECRoots = tmp.Name(), g.End*uint64(p.HashBlockSize), o.FECRoots
	}
	dev := &verity.Device{DataPath: path, HashPath: tmp.Name(), Params: p, Layout: layout}
	res, err := dev.Format(&o.Verity)
	if err != nil {
		return nil, err
	}
	m.Image = Image{File: filepath.Base(path), Size: size}
	m.Verity = Verity{HashFile: filepath.Base(files.Hash), Format: p.HashType, Algorithm: p.Algorithm,
		DataBlockSize: p.DataBlockSize, HashBlockSize: p.HashBlockSize, DataBlocks: p.DataBlocks,
		HashBlocks: g.HashBlocks(), Salt: hex.EncodeToString(p.Salt), UUID: p.UUIDString(),
		Superblock: true, HashStartBlock: hashStart, RootHash: res.RootHashHex()}
	if o.FECRoots != 0 {
		m.FEC = &FEC{Offset: layout.FECOffset, Roots: o.FECRoots, Blocks: res.FECBlocks,
			CoveredBlocks: p.FECCoverage(hashStart, 0, layout.FECOffset, true)}
		sum, err := sectionSHA256(tmp.File, int64(layout.FECOffset), int64(m.FECBytes()))
		if err != nil {
			return nil, err
		}
		m.FEC.SHA256 = sum
	}
	var p7 []byte
	if o.Cert != nil {
		p7, err = rootsig.SignPKCS7(rootsig.RootHashContent(res.RootHash), o.Cert, o.CertKey, nil)
		if err != nil {
			return nil, fmt.Errorf("PKCS#7 root-hash signature: %w", err)
		}
		m.RootHashPKCS7 = base64.StdEncoding.EncodeToString(p7)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("sealed manifest is inconsistent: %w", err)
	}
	env, err := trust.NewEnvelope(m)
	if err != nil {
		return nil, err
	}
	for _, k := range o.Keys {
		env.Sign(k)
	}
	if err := tmp.Commit(); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(files.RootHash, []byte(m.Verity.RootHash), 0o644, nil); err != nil {
		return nil, err
	}
	if p7 != nil {
		if err := atomicfile.Write(files.PKCS7, p7, 0o644, nil); err != nil {
			return nil, err
		}
	} else if err := os.Remove(files.PKCS7); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err := env.WriteFile(files.Manifest); err != nil {
		return nil, err
	}
	return &Sealed{Files: files, Manifest: m, Envelope: env}, nil
}

// sectionSHA256 returns the hex SHA-256 of n bytes of r at off.
func sectionSHA256(r io.ReaderAt, off, n int64) (string, error) {
	h := sha256.New()
	got, err := io.Copy(h, io.NewSectionReader(r, off, n))
	if err != nil {
		return "", err
	}
	if got != n {
		return "", fmt.Errorf("%d bytes at byte %d: the file ends after %d", n, off, got)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
