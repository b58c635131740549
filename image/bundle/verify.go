package bundle

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

// Policy is what a node requires of a bundle.
type Policy struct {
	// Trust is the node's root of trust (root metadata or a key ring);
	// the bundle's rotation chain may lead from it to a newer root.
	Trust *trust.Root
	// Now is the time for expiry checks.
	Now time.Time
	// Certs, if set, are trusted for the kernel PKCS#7 root-hash
	// signature, which is then required.
	Certs []*x509.Certificate
	// MinRollbackIndex refuses images with a lower rollback index: the
	// node's stored index (see NodePolicy).
	MinRollbackIndex uint64
	// Target, if set, refuses images for another kind of node.
	Target string
}

// NodePolicy completes p with what the node at s stores: its rollback
// index, and its trusted root when a bundle's chain has led it beyond
// p.Trust. A node trusting plain keys (a key ring) keeps them.
func NodePolicy(s *slot.Slots, st *slot.State, p *Policy) error {
	p.MinRollbackIndex = max(p.MinRollbackIndex, st.RollbackIndex)
	if p.Trust == nil || p.Trust.Version == 0 {
		return nil
	}
	stored, _, err := trust.LoadRoot(s.RootPath(), p.Now)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stored trusted root: %w", err)
	}
	if stored.Version > p.Trust.Version {
		p.Trust = stored
	}
	return nil
}

// Report is the outcome of checking a bundle.
type Report struct {
	manifest.Report
	// Manifest is the bundle's manifest, once it could be read.
	Manifest *manifest.Manifest `json:"manifest,omitempty"`
	// RootVersion is the version of the newest root reached.
	RootVersion uint64 `json:"root_version"`
}

func (r *Report) fail(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
	r.OK = false
}

// RefusedError says a bundle was refused, and why.
type RefusedError struct{ Report *Report }

func (e *RefusedError) Error() string {
	return "bundle refused: " + strings.Join(e.Report.Problems, "; ")
}

// Authenticate follows the bundle's root chain from p.Trust, checks the
// manifest's signatures against the newest root reached, and applies
// p's rollback and target rules. Problems go to rep. It returns the
// newest root and, when it is newer than p.Trust, its envelope (to store).
func (b *Bundle) Authenticate(p *Policy, rep *Report) (*trust.Root, *trust.Envelope, bool) {
	rep.Manifest = b.Manifest
	if p.Trust == nil {
		rep.fail("signatures: no trusted keys given")
		return nil, nil, false
	}
	newest, env, err := trust.Update(p.Trust, b.Roots, p.Now)
	if err != nil {
		rep.fail("root chain: %v", err)
		return nil, nil, false
	}
	rep.RootVersion = newest.Version
	n := len(rep.Problems)
	if manifest.Authenticate(b.Envelope, &manifest.VerifyOptions{Trust: newest, Now: p.Now, Certs: p.Certs}, &rep.Report) == nil {
		return nil, nil, false
	}
	m := b.Manifest
	if m.RollbackIndex < p.MinRollbackIndex {
		rep.fail("rollback: %s %s has rollback index %d, below the node's stored %d", m.Name, m.Version, m.RollbackIndex, p.MinRollbackIndex)
	}
	if p.Target != "" && m.Target != p.Target {
		rep.fail("target: the image is for %s nodes, this is a %s node", m.Target, p.Target)
	}
	return newest, env, len(rep.Problems) == n
}

// Verify checks a whole bundle of size bytes held in r before anything
// is installed: header, metadata, root chain, signatures, the rollback
// and target rules, then the tree and the image against the root hash and
// the parity's digest. Every failure is in the report; the error is for
// parameters that cannot be used.
func Verify(r io.ReaderAt, size int64, p *Policy, vo verity.VerifyOptions) (*Report, error) {
	rep := &Report{}
	b, err := ReadHead(bufio.NewReader(io.NewSectionReader(r, 0, size)))
	if err != nil {
		rep.fail("%v", err)
		return rep, nil
	}
	if want := b.Header.Size(); uint64(size) != want {
		what := "truncated"
		if uint64(size) > want {
			what = "trailing data after the parity"
		}
		rep.fail("size: the bundle is %d bytes, its header gives %d (%s)", size, want, what)
	}
	if _, _, ok := b.Authenticate(p, rep); !ok {
		return rep, nil
	}
	h := &b.Header
	off := int64(h.PayloadOffset())
	tree := io.NewSectionReader(r, off, int64(h.TreeLen))
	image := io.NewSectionReader(r, off+int64(h.TreeLen), int64(h.ImageLen))
	parity := io.NewSectionReader(r, off+int64(h.TreeLen+h.ImageLen), int64(h.FECLen))
	// CheckPayload sets OK only if no problem at all was found.
	if err := b.Manifest.CheckPayload(image, tree, parity, manifest.Layout{SkipSuperblock: true}, &rep.Report, vo); err != nil {
		return nil, err
	}
	return rep, nil
}

// VerifyFile checks the bundle in the file at path (see Verify).
func VerifyFile(path string, p *Policy, vo verity.VerifyOptions) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: bundle verify needs a regular file (bundle install reads a stream)", path)
	}
	return Verify(f, st.Size(), p, vo)
}
