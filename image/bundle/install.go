package bundle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

// InstallOptions say how to install a bundle.
type InstallOptions struct {
	// Policy holds the trust, time, certificates and target; the
	// rollback index and stored root come from the node (NodePolicy).
	Policy
	// Tries is how many boots the new slot gets before it must be marked
	// good (default 1, as Bottlerocket).
	Tries uint8
	// TrustEnvelope, if set, is the signed root metadata behind
	// Policy.Trust: an install stores it as the node's trusted root when
	// the node has none or an older one, so that later installs need no
	// trust given.
	TrustEnvelope *trust.Envelope
	// Verity tunes the check of what was written (workers, progress).
	Verity verity.Options
}

// InstallResult describes an install.
type InstallResult struct {
	// Slot is the slot written, which now boots next.
	Slot slot.Slot `json:"-"`
	// Report holds the signature check and the verification of the slot.
	Report *Report `json:"report"`
	// RootUpdated is set when the node's stored trusted root changed: the
	// bundle's chain brought a newer root, or the given one was newer.
	RootUpdated bool        `json:"root_updated"`
	State       *slot.State `json:"-"`
}

// Install reads a bundle from r and installs it in the slot not running:
//
//  1. it reads the header and metadata and checks the root chain, the
//     signatures and the rollback and target rules, before writing
//     anything;
//  2. it clears the target slot in the boot state (so it cannot boot
//     half written), then writes the tree, the image and the parity to
//     it as they stream in, checking the image against the tree as it is
//     written, and syncs;
//  3. it checks what was written: superblock, tree and image against the
//     root hash, the parity's digest;
//  4. only then it stores the manifest (and the newest trusted root) and
//     makes the slot the preferred one with o.Tries tries (Activate).
//
// Each boot-state change is atomic, so a crash at any point leaves the
// old slot bootable. A refused bundle gives a *RefusedError.
func Install(r io.Reader, s *slot.Slots, o *InstallOptions) (*InstallResult, error) {
	l, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	st := l.State()
	p := o.Policy
	if err := NodePolicy(s, st, &p); err != nil {
		return nil, err
	}
	tries := o.Tries
	if tries == 0 {
		tries = 1
	}
	rep := &Report{}
	b, err := ReadHead(r)
	if err != nil {
		rep.fail("%v", err)
		return nil, &RefusedError{rep}
	}
	_, newRoot, ok := b.Authenticate(&p, rep)
	if !ok {
		return nil, &RefusedError{rep}
	}
	x, err := st.InstallTarget()
	if err != nil {
		rep.fail("%v", err)
		return nil, &RefusedError{rep}
	}
	if err := l.Update(func(st *slot.State) error { st.Clear(x); return nil }); err != nil {
		return nil, err
	}
	m := b.Manifest
	if err := writeSlot(l, x, b, r, rep, o.Verity); err != nil {
		var re *readError
		if errors.As(err, &re) {
			rep.fail("%v", err)
			return nil, &RefusedError{rep}
		}
		return nil, err
	}
	if !rep.OK {
		return nil, &RefusedError{rep}
	}
	if err := l.WriteManifest(x, b.Envelope); err != nil {
		return nil, err
	}
	if newRoot == nil && o.TrustEnvelope != nil && p.Trust == o.Trust && o.Trust.Version > 0 {
		// The given root is the newest the node knows: keep it.
		if stored, _, err := trust.LoadRoot(s.RootPath(), p.Now); err != nil || stored.Version < o.Trust.Version {
			newRoot = o.TrustEnvelope
		}
	}
	if newRoot != nil {
		if err := l.WriteRoot(newRoot); err != nil {
			return nil, err
		}
	}
	if err := l.Update(func(st *slot.State) error {
		return st.Activate(x, manifest.Digest(b.Envelope), m.RollbackIndex, tries)
	}); err != nil {
		return nil, err
	}
	return &InstallResult{Slot: x, Report: rep, RootUpdated: newRoot != nil, State: l.State()}, nil
}

// writeSlot writes the payload that follows the head on r into slot x
// and checks it there: the tree is checked, with the image, while the
// image is being written. Findings go to rep, which is OK only when all
// is well.
func writeSlot(l *slot.Locked, x slot.Slot, b *Bundle, r io.Reader, rep *Report, vo verity.Options) error {
	m := b.Manifest
	data, hash, pl, err := l.OpenPayload(x, m)
	if err != nil {
		return err
	}
	defer data.Close()
	if hash != data {
		defer hash.Close()
	}
	if m.Verity.Superblock {
		p, err := m.Params()
		if err != nil {
			return err
		}
		sb, err := verity.MarshalSuperblock(&p)
		if err != nil {
			return err
		}
		if _, err := hash.WriteAt(sb, int64(pl.SuperblockOffset)); err != nil {
			return err
		}
	}
	bs := int64(m.Verity.HashBlockSize)
	if err := copySection(l, r, hash, pl.HashStart*uint64(bs), b.Header.TreeLen, nil); err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	// Check the image against the tree as it arrives: the verity engine
	// reads the image from the slot, waiting for each part to be written.
	w := newWatermark()
	treeRep := &manifest.Report{}
	checked := make(chan error, 1)
	go func() {
		checked <- m.CheckTree(&followReader{data, w}, hash, pl.HashStart, treeRep,
			verity.VerifyOptions{Options: vo, DataSize: int64(m.Image.Size)})
	}()
	err = copySection(l, r, data, 0, b.Header.ImageLen, w)
	w.finish(err)
	if cerr := <-checked; err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	rep.Tree = treeRep.Tree
	rep.Problems = append(rep.Problems, treeRep.Problems...)
	if err := copySection(l, r, hash, pl.FECOffset, b.Header.FECLen, nil); err != nil {
		return fmt.Errorf("parity: %w", err)
	}
	if n, _ := io.ReadFull(r, make([]byte, 1)); n > 0 {
		rep.fail("size: trailing data after the parity")
	}
	for _, f := range []*os.File{data, hash} {
		if err := l.Hook("fsync-payload", f.Name()); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	// The superblock and the parity, as written.
	if err := m.CheckSuperblock(hash, pl.SuperblockOffset, &rep.Report); err != nil {
		return err
	}
	m.CheckFEC(hash, pl.FECOffset, &rep.Report)
	rep.OK = len(rep.Problems) == 0
	return nil
}

// copySection copies n bytes from r to w at byte off, calling the slot's
// hook before each chunk and advancing wm (if set) after it. The copy goes
// through (*os.File).ReadFrom, so that from a file or a pipe the kernel
// moves the bytes (copy_file_range, splice) without a pass through user
// space; the checks read them back from the slot.
func copySection(l *slot.Locked, r io.Reader, w *os.File, off, n uint64, wm *watermark) error {
	const chunk = 4 << 20
	for done := uint64(0); done < n; {
		k := min(chunk, n-done)
		if err := l.Hook("write-payload", w.Name()); err != nil {
			return err
		}
		if _, err := w.Seek(int64(off+done), io.SeekStart); err != nil {
			return err
		}
		got, err := w.ReadFrom(io.LimitReader(r, int64(k)))
		if err != nil {
			return err
		}
		if uint64(got) < k {
			return &readError{errors.New("the bundle ends early (truncated)")}
		}
		done += k
		if wm != nil {
			wm.advance(int64(done))
		}
	}
	return nil
}

// readError is a failure to read the bundle, as opposed to writing the
// slot: the bundle is refused.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// watermark tracks how much of a file has been written, for readers that
// follow the writer.
type watermark struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int64
	done bool
	err  error
}

func newWatermark() *watermark {
	w := &watermark{}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *watermark) advance(n int64) {
	w.mu.Lock()
	w.n = n
	w.mu.Unlock()
	w.cond.Broadcast()
}

// finish wakes every reader for good; err, if set, is what they get.
func (w *watermark) finish(err error) {
	w.mu.Lock()
	w.done = true
	w.err = err
	w.mu.Unlock()
	w.cond.Broadcast()
}

// followReader reads a file as its writer goes: a read waits until the
// bytes it wants are written, or the writer stops.
type followReader struct {
	f io.ReaderAt
	w *watermark
}

var errWriterStopped = errors.New("the image stopped before this block was written")

func (r *followReader) ReadAt(b []byte, off int64) (int, error) {
	end := off + int64(len(b))
	r.w.mu.Lock()
	for r.w.n < end && !r.w.done {
		r.w.cond.Wait()
	}
	short, err := r.w.n < end, r.w.err
	r.w.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if short {
		return 0, errWriterStopped
	}
	return r.f.ReadAt(b, off)
}
