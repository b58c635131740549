// Package manifest describes sealed images: a filesystem image, its
// dm-verity hash tree (and optional FEC parity), and a signed manifest
// that states everything a verifier or a boot loader needs: name, version,
// rollback index, target, sizes, every hash parameter and the root hash.
//
// Seal builds the tree with the verity engine and writes the manifest,
// signed with Ed25519 (see package trust), plus the kernel's PKCS#7
// root-hash signature when a certificate is given. Verify checks the
// signatures, the parameters and the whole tree. Sealing is reproducible:
// the same image, options and seed give byte-identical files.
//
// A sealed image IMAGE.ext comes with these files beside it:
//
//	IMAGE.verity         superblock, hash tree, then FEC parity if any
//	IMAGE.manifest.json  the signed manifest (canonical JSON + newline)
//	IMAGE.roothash       the root hash in hex (systemd's sidecar)
//	IMAGE.roothash.p7s   the kernel PKCS#7 signature, when a certificate is given
package manifest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
	"github.com/rampart-sec/rampart/verity/fec"
)

// Type is the "type" of an image manifest.
const Type = "rampart-image"

// Targets: which kind of node an image is for.
const (
	TargetGuest = "guest"
	TargetHost  = "host"
)

// Manifest states what a sealed image is and how to check it. Every
// member is covered by the Ed25519 signatures of its envelope.
type Manifest struct {
	Type string `json:"type"`
	// Name names the image, e.g. "guestos".
	Name string `json:"name"`
	// Version is a semantic version without the leading "v", e.g. "1.4.2".
	Version string `json:"version"`
	// RollbackIndex is the anti-rollback counter: a node refuses an image
	// whose index is below the one it stored (see package slot).
	RollbackIndex uint64 `json:"rollback_index"`
	// Target is TargetGuest or TargetHost.
	Target string `json:"target"`
	Image  Image  `json:"image"`
	Verity Verity `json:"verity"`
	// FEC describes Reed-Solomon parity, when there is any.
	FEC *FEC `json:"fec,omitempty"`
	// RootHashPKCS7 is the kernel's detached PKCS#7 signature of the root
	// hash (DER, base64), when the image was sealed with a certificate.
	RootHashPKCS7 string    `json:"root_hash_pkcs7,omitempty"`
	CreatedBy     CreatedBy `json:"created_by"`
}

// Image describes the filesystem image (the dm-verity data device).
type Image struct {
	// File is the image's file name, relative to the manifest.
	File string `json:"file"`
	// Size in bytes: DataBlocks × DataBlockSize, the whole file.
	Size uint64 `json:"size"`
}

// Verity holds the dm-verity parameters and the root hash, with
// veritysetup's names.
type Verity struct {
	// HashFile is the hash device's file name, relative to the manifest.
	HashFile string `json:"hash_file"`
	// Format is the hash format, 1 (normal) or 0 (Chrome OS).
	Format        uint32 `json:"format"`
	Algorithm     string `json:"algorithm"`
	DataBlockSize uint32 `json:"data_block_size"`
	HashBlockSize uint32 `json:"hash_block_size"`
	DataBlocks    uint64 `json:"data_blocks"`
	// HashBlocks is the number of blocks of the tree.
	HashBlocks uint64 `json:"hash_blocks"`
	// Salt in lower-case hex, empty for none.
	Salt string `json:"salt"`
	// UUID is the superblock's UUID.
	UUID string `json:"uuid"`
	// HashOffset is the byte offset of the superblock on the hash file
	// (veritysetup --hash-offset); Superblock says whether there is one.
	HashOffset uint64 `json:"hash_offset"`
	Superblock bool   `json:"superblock"`
	// HashStartBlock is the first tree block on the hash file, in hash
	// blocks: the kernel table's hash_start.
	HashStartBlock uint64 `json:"hash_start_block"`
	// RootHash in lower-case hex.
	RootHash string `json:"root_hash"`
}

// FEC describes Reed-Solomon parity on the hash file.
type FEC struct {
	// Offset is the parity's byte offset on the hash file, just past the
	// tree (veritysetup --fec-offset, with --fec-device the hash file).
	Offset uint64 `json:"offset"`
	// Roots is the number of parity bytes per codeword (--fec-roots).
	Roots int `json:"roots"`
	// Blocks is the number of parity blocks.
	Blocks uint64 `json:"blocks"`
	// CoveredBlocks is the number of data and tree blocks the parity
	// covers: the kernel table's fec_blocks.
	CoveredBlocks uint64 `json:"covered_blocks"`
	// SHA256 is the digest of the parity, which the root hash does not
	// cover.
	SHA256 string `json:"sha256"`
}

// CreatedBy records the tool that sealed the image and, outside
// reproducible builds, when.
type CreatedBy struct {
	Tool    string `json:"tool"`
	Version string `json:"version"`
	// Time is RFC 3339 UTC; omitted in reproducible builds without
	// SOURCE_DATE_EPOCH.
	Time string `json:"time,omitempty"`
}

// Params returns the verity parameters the manifest states.
func (m *Manifest) Params() (verity.Params, error) {
	p := verity.Params{HashType: m.Verity.Format, Algorithm: m.Verity.Algorithm,
		DataBlockSize: m.Verity.DataBlockSize, HashBlockSize: m.Verity.HashBlockSize, DataBlocks: m.Verity.DataBlocks}
	salt, err := verity.ParseSalt(m.Verity.Salt)
	if err != nil {
		return p, err
	}
	p.Salt = salt
	if p.Salt == nil {
		p.Salt = []byte{}
	}
	if p.UUID, err = verity.ParseUUID(m.Verity.UUID); err != nil {
		return p, err
	}
	return p, p.Validate()
}

// RootHash returns the decoded root hash.
func (m *Manifest) RootHash() ([]byte, error) { return verity.ParseRootHash(m.Verity.RootHash) }

// Geometry returns the tree's layout on the hash file.
func (m *Manifest) Geometry() (*verity.Geometry, error) {
	p, err := m.Params()
	if err != nil {
		return nil, err
	}
	return p.Geometry(m.Verity.HashStartBlock)
}

// TreeBytes is the size of the tree alone: HashBlocks × HashBlockSize.
func (m *Manifest) TreeBytes() uint64 {
	return m.Verity.HashBlocks * uint64(m.Verity.HashBlockSize)
}

// FECBytes is the size of the parity, 0 without FEC.
func (m *Manifest) FECBytes() uint64 {
	if m.FEC == nil {
		return 0
	}
	return m.FEC.Blocks * uint64(m.Verity.HashBlockSize)
}

// ValidVersion reports whether v is a full semantic version
// MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], without a leading "v".
func ValidVersion(v string) bool {
	core, _, _ := strings.Cut(v, "+")
	core, _, _ = strings.Cut(core, "-")
	return !strings.HasPrefix(v, "v") && strings.Count(core, ".") == 2 && semver.IsValid("v"+v)
}

// validFileName accepts a plain file name, no directory.
func validFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00") && filepath.Base(s) == s
}

func isLowerHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == "" && len(s)%2 == 0
}

// Check reports the first inconsistency: a field out of range, or sizes,
// geometry and FEC figures that do not follow from the parameters. A
// manifest that passes describes exactly one tree layout.
func (m *Manifest) Check() error {
	if m.Type != Type {
		return fmt.Errorf("manifest type %q, expected %q", m.Type, Type)
	}
	if !validFileName(m.Name) {
		return fmt.Errorf("image name %q is empty or contains a slash", m.Name)
	}
	if !ValidVersion(m.Version) {
		return fmt.Errorf("version %q is not a semantic version such as 1.4.2", m.Version)
	}
	if m.Target != TargetGuest && m.Target != TargetHost {
		return fmt.Errorf("target %q: want %s or %s", m.Target, TargetGuest, TargetHost)
	}
	if !validFileName(m.Image.File) || !validFileName(m.Verity.HashFile) || m.Image.File == m.Verity.HashFile {
		return fmt.Errorf("image file %q and hash file %q must be distinct plain file names", m.Image.File, m.Verity.HashFile)
	}
	v := &m.Verity
	if !isLowerHex(v.Salt) || !isLowerHex(v.RootHash) {
		return fmt.Errorf("salt and root hash must be lower-case hex")
	}
	p, err := m.Params()
	if err != nil {
		return err
	}
	if got := p.UUIDString(); got != v.UUID {
		return fmt.Errorf("UUID %q is not in canonical lower-case form (%s)", v.UUID, got)
	}
	if m.Image.Size != v.DataBlocks*uint64(v.DataBlockSize) {
		return fmt.Errorf("image size %d is not %d data blocks of %d bytes", m.Image.Size, v.DataBlocks, v.DataBlockSize)
	}
	if v.HashOffset%512 != 0 {
		return fmt.Errorf("hash offset %d is not a multiple of 512", v.HashOffset)
	}
	if want := verity.HashStartBlock(v.HashOffset, v.HashBlockSize, !v.Superblock); v.HashStartBlock != want {
		return fmt.Errorf("hash start block %d does not follow from hash offset %d (want %d)", v.HashStartBlock, v.HashOffset, want)
	}
	g, err := p.Geometry(v.HashStartBlock)
	if err != nil {
		return err
	}
	if g.HashBlocks() != v.HashBlocks {
		return fmt.Errorf("%d hash blocks stated, the parameters give %d", v.HashBlocks, g.HashBlocks())
	}
	if root, err := m.RootHash(); err != nil || len(root) != g.DigestSize {
		return fmt.Errorf("root hash %q is not a %s digest", v.RootHash, v.Algorithm)
	}
	if f := m.FEC; f != nil {
		if v.DataBlockSize != v.HashBlockSize {
			return fmt.Errorf("FEC needs equal data and hash block sizes")
		}
		fp := fec.Params{BlockSize: int(v.HashBlockSize), Roots: f.Roots}
		if err := fp.Validate(); err != nil {
			return err
		}
		if f.Offset != g.End*uint64(v.HashBlockSize) {
			return fmt.Errorf("FEC offset %d is not the end of the tree (%d)", f.Offset, g.End*uint64(v.HashBlockSize))
		}
		if want := p.FECCoverage(g.HashStart, 0, f.Offset, true); f.CoveredBlocks != want {
			return fmt.Errorf("FEC covers %d blocks, the layout gives %d", f.CoveredBlocks, want)
		}
		if want := fp.ParityBlocks(f.CoveredBlocks); f.Blocks != want {
			return fmt.Errorf("%d FEC blocks stated, %d roots over %d blocks give %d", f.Blocks, f.Roots, f.CoveredBlocks, want)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size || !isLowerHex(f.SHA256) {
			return fmt.Errorf("FEC sha256 %q is not a lower-case SHA-256 digest", f.SHA256)
		}
	}
	if m.RootHashPKCS7 != "" {
		if _, err := base64.StdEncoding.Strict().DecodeString(m.RootHashPKCS7); err != nil {
			return fmt.Errorf("root_hash_pkcs7 is not base64: %v", err)
		}
	}
	if m.CreatedBy.Tool == "" {
		return fmt.Errorf("created_by.tool is empty")
	}
	return nil
}

// PKCS7 returns the decoded kernel root-hash signature, nil if none.
func (m *Manifest) PKCS7() []byte {
	b, _ := base64.StdEncoding.DecodeString(m.RootHashPKCS7)
	return b
}

// Parse decodes and checks the manifest inside env (not its signatures:
// see Verify and trust.Root.VerifyRole).
func Parse(env *trust.Envelope) (*Manifest, error) {
	var m Manifest
	if err := env.Decode(Type, &m); err != nil {
		return nil, err
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("manifest of %s %s: %w", m.Name, m.Version, err)
	}
	return &m, nil
}

// Load reads the envelope at path and decodes its manifest.
func Load(path string) (*trust.Envelope, *Manifest, error) {
	env, err := trust.ReadEnvelope(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := Parse(env)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, m, nil
}

// Digest identifies a signed manifest: the SHA-256 of its canonical
// signed bytes. The boot state records it for each slot.
func Digest(env *trust.Envelope) [32]byte { return sha256.Sum256(env.Signed) }

// Table returns the kernel dm-verity table line for the image on dataDev
// with its tree (and parity) on hashDev, hashStart being the tree's first
// block there. opts may add flags; FEC arguments are filled in when the
// manifest has parity at fecStart (in blocks) on hashDev.
func (m *Manifest) Table(dataDev, hashDev string, hashStart, fecStart uint64, opts verity.TableOptions) (string, error) {
	p, err := m.Params()
	if err != nil {
		return "", err
	}
	root, err := m.RootHash()
	if err != nil {
		return "", err
	}
	if m.FEC != nil {
		opts.FECDevice, opts.FECStart, opts.FECBlocks, opts.FECRoots = hashDev, fecStart, m.FEC.CoveredBlocks, m.FEC.Roots
	}
	return p.Table(dataDev, hashDev, hashStart, root, opts)
}

// VeritysetupArgs returns the arguments of the "veritysetup verify"
// command that checks the sealed image with exactly the parameters the
// manifest states (and no reliance on the superblock).
func (m *Manifest) VeritysetupArgs(image, hash string) []string {
	v := &m.Verity
	salt := v.Salt
	if salt == "" {
		salt = "-"
	}
	args := []string{"verify", "--no-superblock",
		fmt.Sprintf("--format=%d", v.Format), "--hash=" + v.Algorithm,
		fmt.Sprintf("--data-block-size=%d", v.DataBlockSize), fmt.Sprintf("--hash-block-size=%d", v.HashBlockSize),
		fmt.Sprintf("--data-blocks=%d", v.DataBlocks), "--salt=" + salt,
		fmt.Sprintf("--hash-offset=%d", v.HashStartBlock*uint64(v.HashBlockSize))}
	return append(args, image, hash, v.RootHash)
}
