// Package bundle makes, checks and installs upgrade bundles: one file
// holding a signed image manifest, the root-of-trust rotation chain, the
// dm-verity hash tree, the image and its parity, laid out so that it can
// be checked while it streams.
//
// Layout (integers little-endian):
//
//	0    8  magic "RPBUNDLE"
//	8    4  format version (1)
//	12   4  header size (64)
//	16   8  metadata length M
//	24   8  tree length T  (hash blocks × hash block size)
//	32   8  image length I (the manifest's image size)
//	40   8  parity length F (0 without FEC)
//	48  16  zero
//	64   M  metadata: canonical JSON
//	        {"manifest":ENVELOPE,"roots":[ENVELOPE...],"type":"rampart-bundle"}
//	        zero bytes up to the next multiple of 4096 (P = payload offset)
//	P    T  the tree, from its first block (no superblock)
//	P+T  I  the image
//	..   F  the parity; nothing follows
//
// Every byte is checked: the metadata's signatures cover the manifest,
// the manifest states every length and the root hash, the root hash
// covers the tree and the image, the manifest's digest covers the parity,
// and the padding must be zero. The tree comes before the image so that
// an installer holds the whole (small) tree when the image starts to
// arrive, and checks the image against it as it is written.
package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-sec/rampart/image/internal/atomicfile"
	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/trust"
)

// Format constants.
const (
	// HeaderSize is the size of the fixed header.
	HeaderSize = 64
	// Version is the format version written and read.
	Version = 1
	// Align is the alignment of the payload.
	Align = 4096
	// MaxMetadata bounds the metadata a reader accepts.
	MaxMetadata = 16 << 20
	// Type is the metadata's "type".
	Type = "rampart-bundle"
)

var magic = [8]byte{'R', 'P', 'B', 'U', 'N', 'D', 'L', 'E'}

// Header is the fixed header: the lengths of the sections.
type Header struct {
	MetadataLen, TreeLen, ImageLen, FECLen uint64
}

// PayloadOffset is where the tree starts.
func (h *Header) PayloadOffset() uint64 {
	return (HeaderSize + h.MetadataLen + Align - 1) / Align * Align
}

// Size is the size of the whole bundle.
func (h *Header) Size() uint64 { return h.PayloadOffset() + h.TreeLen + h.ImageLen + h.FECLen }

// Marshal encodes the header.
func (h *Header) Marshal() []byte {
	b := make([]byte, HeaderSize)
	le := binary.LittleEndian
	copy(b, magic[:])
	le.PutUint32(b[8:], Version)
	le.PutUint32(b[12:], HeaderSize)
	le.PutUint64(b[16:], h.MetadataLen)
	le.PutUint64(b[24:], h.TreeLen)
	le.PutUint64(b[32:], h.ImageLen)
	le.PutUint64(b[40:], h.FECLen)
	return b
}

func parseHeader(b []byte) (*Header, error) {
	le := binary.LittleEndian
	if !bytes.Equal(b[:8], magic[:]) {
		return nil, errors.New("header: not a Rampart bundle (bad magic)")
	}
	if v := le.Uint32(b[8:]); v != Version {
		return nil, fmt.Errorf("header: format version %d, this program reads %d", v, Version)
	}
	if n := le.Uint32(b[12:]); n != HeaderSize {
		return nil, fmt.Errorf("header: size %d, expected %d", n, HeaderSize)
	}
	for i := 48; i < HeaderSize; i++ {
		if b[i] != 0 {
			return nil, fmt.Errorf("header: reserved byte %d is not zero", i)
		}
	}
	h := &Header{MetadataLen: le.Uint64(b[16:]), TreeLen: le.Uint64(b[24:]), ImageLen: le.Uint64(b[32:]), FECLen: le.Uint64(b[40:])}
	if h.MetadataLen == 0 || h.MetadataLen > MaxMetadata {
		return nil, fmt.Errorf("header: metadata length %d (want 1 to %d)", h.MetadataLen, MaxMetadata)
	}
	return h, nil
}

// Bundle is what the head of a bundle says: header, signed manifest and
// root chain. Nothing in it is trusted before Authenticate.
type Bundle struct {
	Header   Header
	Envelope *trust.Envelope
	Manifest *manifest.Manifest
	Roots    []*trust.Envelope
}

type metadata struct {
	Manifest json.RawMessage   `json:"manifest"`
	Roots    []json.RawMessage `json:"roots"`
	Type     string            `json:"type"`
}

// ReadHead reads and checks the header, the metadata and the padding
// from r, leaving r at the tree. It checks that the lengths in the header
// are those the manifest states, but not the signatures.
func ReadHead(r io.Reader) (*Bundle, error) {
	hb := make([]byte, HeaderSize)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("header: %w", noEOF(err))
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	pad := h.PayloadOffset() - HeaderSize - h.MetadataLen
	mb := make([]byte, h.MetadataLen+pad)
	if _, err := io.ReadFull(r, mb); err != nil {
		return nil, fmt.Errorf("metadata: %w", noEOF(err))
	}
	if i := bytes.IndexFunc(mb[h.MetadataLen:], func(c rune) bool { return c != 0 }); i >= 0 {
		return nil, fmt.Errorf("metadata: padding byte at offset %d is not zero", HeaderSize+h.MetadataLen+uint64(i))
	}
	mb = mb[:h.MetadataLen]
	if err := trust.CheckCanonical(mb); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	var md metadata
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&md); err != nil {
		return nil, fmt.Errorf("metadata: %v", err)
	}
	if md.Type != Type {
		return nil, fmt.Errorf("metadata: type %q, expected %q", md.Type, Type)
	}
	b := &Bundle{Header: *h}
	if b.Envelope, err = trust.ParseEnvelope(md.Manifest); err != nil {
		return nil, fmt.Errorf("metadata: manifest: %w", err)
	}
	if b.Manifest, err = manifest.Parse(b.Envelope); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	for i, raw := range md.Roots {
		env, err := trust.ParseEnvelope(raw)
		if err != nil {
			return nil, fmt.Errorf("metadata: root %d: %w", i+1, err)
		}
		b.Roots = append(b.Roots, env)
	}
	m := b.Manifest
	for _, c := range []struct {
		what      string
		got, want uint64
	}{{"tree", h.TreeLen, m.TreeBytes()}, {"image", h.ImageLen, m.Image.Size}, {"parity", h.FECLen, m.FECBytes()}} {
		if c.got != c.want {
			return nil, fmt.Errorf("header: %s length %d, the manifest states %d", c.what, c.got, c.want)
		}
	}
	return b, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the bundle ends early (truncated)")
	}
	return err
}

// CreateOptions say what goes into a bundle besides the sealed image.
type CreateOptions struct {
	// Roots is the rotation chain to ship (root metadata, oldest first).
	// When set, Create checks that the chain holds together and that the
	// manifest carries enough release signatures for its newest root, as
	// of Now, so that no node refuses the bundle for those reasons.
	Roots []*trust.Envelope
	Now   time.Time
}

// Create writes to w the bundle of the sealed image whose manifest is at
// manifestPath (the image and hash files are found beside it). It checks
// the sizes, the superblock and the parity digest as it copies, but not
// the tree: Verify does that. It returns the header written.
func Create(w io.Writer, manifestPath string, o *CreateOptions) (*Header, error) {
	env, m, err := manifest.Load(manifestPath)
	if err != nil {
		return nil, err
	}
	if len(o.Roots) > 0 {
		first, err := trust.ParseRoot(o.Roots[0])
		if err != nil {
			return nil, fmt.Errorf("root 1: %w", err)
		}
		if _, err := first.VerifyRole(o.Roots[0], trust.RoleRoot, o.Now); err != nil {
			return nil, fmt.Errorf("root v%d: %w", first.Version, err)
		}
		newest, _, err := trust.Update(first, o.Roots[1:], o.Now)
		if err != nil {
			return nil, err
		}
		if _, err := newest.VerifyRole(env, trust.RoleRelease, o.Now); err != nil {
			return nil, fmt.Errorf("the manifest would be refused: %w", err)
		}
	}
	dir := filepath.Dir(manifestPath)
	img, err := os.Open(filepath.Join(dir, m.Image.File))
	if err != nil {
		return nil, err
	}
	defer img.Close()
	hf, err := os.Open(filepath.Join(dir, m.Verity.HashFile))
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	if st, err := img.Stat(); err != nil || uint64(st.Size()) != m.Image.Size {
		return nil, fmt.Errorf("%s: not %d bytes as the manifest states", img.Name(), m.Image.Size)
	}
	rep := &manifest.Report{}
	if err := m.CheckSuperblock(hf, m.Verity.HashOffset, rep); err != nil {
		return nil, err
	}
	m.CheckFEC(hf, m.SealedLayout().FECOffset, rep)
	if len(rep.Problems) > 0 {
		return nil, fmt.Errorf("%s: %s", hf.Name(), rep.Problems[0])
	}
	md := metadata{Type: Type, Roots: []json.RawMessage{}}
	if md.Manifest, err = env.Marshal(); err != nil {
		return nil, err
	}
	for _, r := range o.Roots {
		b, err := r.Marshal()
		if err != nil {
			return nil, err
		}
		md.Roots = append(md.Roots, b)
	}
	mb, err := trust.Canonical(md)
	if err != nil {
		return nil, err
	}
	h := &Header{MetadataLen: uint64(len(mb)), TreeLen: m.TreeBytes(), ImageLen: m.Image.Size, FECLen: m.FECBytes()}
	head := append(h.Marshal(), mb...)
	head = append(head, make([]byte, h.PayloadOffset()-HeaderSize-h.MetadataLen)...)
	if _, err := w.Write(head); err != nil {
		return nil, err
	}
	bs := int64(m.Verity.HashBlockSize)
	for _, s := range []struct {
		f   *os.File
		off int64
		n   uint64
	}{
		{hf, int64(m.Verity.HashStartBlock) * bs, h.TreeLen},
		{img, 0, h.ImageLen},
		{hf, int64(m.SealedLayout().FECOffset), h.FECLen},
	} {
		// A limited reader of a file lets a file destination copy in the
		// kernel (copy_file_range), without passing through user space.
		if _, err := s.f.Seek(s.off, io.SeekStart); err != nil {
			return nil, err
		}
		n, err := io.Copy(w, io.LimitReader(s.f, int64(s.n)))
		if err != nil {
			return nil, err
		}
		if uint64(n) != s.n {
			return nil, fmt.Errorf("%s: ends %d bytes early", s.f.Name(), s.n-uint64(n))
		}
	}
	return h, nil
}

// CreateFile writes the bundle to the file at path, atomically: a failed
// create leaves no partial bundle behind.
func CreateFile(path, manifestPath string, o *CreateOptions) (*Header, error) {
	f, err := atomicfile.Create(path, 0o644, nil)
	if err != nil {
		return nil, err
	}
	h, err := Create(f, manifestPath, o)
	if err != nil {
		f.Abort()
		return nil, err
	}
	return h, f.Commit()
}
