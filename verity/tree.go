package verity

import (
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strings"
	"sync"
)

// ReadWriterAt is a device that can be read and written at offsets, such
// as an *os.File. Format writes to it from several goroutines at once.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Options tune the work of Format and Verify; the zero value is ready.
type Options struct {
	// Workers is the number of goroutines hashing; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called with the number of bytes hashed so far
	// and the total. It is called from several goroutines, serialised.
	Progress func(done, total uint64)
}

// chunkBytes bounds the bytes one worker reads at a time, and so the
// memory of a Format or Verify: about Workers × 2 × chunkBytes.
const chunkBytes = 1 << 20

// tree holds what Format and Verify share: parameters, geometry and the
// two devices.
type tree struct {
	p       *Params
	g       *Geometry
	data    io.ReaderAt
	hash    io.ReaderAt
	newHash func() hash.Hash
	opts    Options

	progressMu  sync.Mutex
	done, total uint64
}

func newTree(p *Params, hashStart uint64, data, hashDev io.ReaderAt, opts *Options) (*tree, error) {
	g, err := p.Geometry(hashStart)
	if err != nil {
		return nil, err
	}
	h, _ := algorithm(strings.ToLower(p.Algorithm))
	t := &tree{p: p, g: g, data: data, hash: hashDev, newHash: newHash(h)}
	if opts != nil {
		t.opts = *opts
	}
	if t.opts.Workers <= 0 {
		t.opts.Workers = runtime.GOMAXPROCS(0)
	}
	return t, nil
}

// hasher computes salted block digests as dm-verity defines them.
type hasher struct {
	h    hash.Hash
	salt []byte
	v0   bool
	sum  []byte
}

func (t *tree) hasher() *hasher {
	h := t.newHash()
	return &hasher{h: h, salt: t.p.Salt, v0: t.p.HashType == FormatChromeOS, sum: make([]byte, 0, h.Size())}
}

// digest returns H(salt ‖ block) for format 1 and H(block ‖ salt) for
// format 0. The result is valid until the next call.
func (x *hasher) digest(block []byte) []byte {
	x.h.Reset()
	if !x.v0 {
		x.h.Write(x.salt)
	}
	x.h.Write(block)
	if x.v0 {
		x.h.Write(x.salt)
	}
	x.sum = x.h.Sum(x.sum[:0])
	return x.sum
}

// children describes the blocks whose digests level i stores.
func (t *tree) children(i int) (r io.ReaderAt, off int64, size int, n uint64) {
	if i == 0 {
		return t.data, 0, int(t.p.DataBlockSize), t.p.DataBlocks
	}
	hbs := int64(t.p.HashBlockSize)
	prev := t.g.Levels[i-1]
	return t.hash, int64(prev.Start) * hbs, int(t.p.HashBlockSize), prev.Blocks
}

// computeParents fills out with the contents of hash blocks [p0, p1) of
// level i, computed from their children. buf is scratch space of at
// least one child block. An unreadable child is reported through ioErr
// with its index; its digest is left zero.
func (t *tree) computeParents(x *hasher, i int, p0, p1 uint64, buf, out []byte, ioErr func(child uint64, err error)) {
	src, base, cs, n := t.children(i)
	per := t.g.PerBlock()
	hbs := int(t.p.HashBlockSize)
	es := t.g.EntrySize
	ds := t.g.DigestSize
	clear(out[:int(p1-p0)*hbs])
	c0 := p0 * per
	c1 := min(p1*per, n)
	perChunk := uint64(max(len(buf)/cs, 1))
	for c := c0; c < c1; {
		k := min(perChunk, c1-c)
		chunk := buf[:int(k)*cs]
		err := readFullAt(src, chunk, base+int64(c)*int64(cs))
		if err != nil {
			// Retry block by block to isolate the bad ones.
			for j := uint64(0); j < k; j++ {
				blk := chunk[int(j)*cs : int(j+1)*cs]
				if err := readFullAt(src, blk, base+int64(c+j)*int64(cs)); err != nil {
					ioErr(c+j, err)
					clear(blk)
					continue
				}
			}
		}
		for j := uint64(0); j < k; j++ {
			child := c + j
			d := x.digest(chunk[int(j)*cs : int(j+1)*cs])
			rel := child - p0*per
			pb := rel / per
			slot := rel % per
			copy(out[int(pb)*hbs+int(slot)*es:], d[:ds])
		}
		t.addProgress(k * uint64(cs))
		c += k
	}
}

// readFullAt reads len(b) bytes at off. Bytes past the end of the device
// read as zero and yield io.ErrUnexpectedEOF; other errors are returned.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	clear(b[n:])
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (t *tree) addProgress(n uint64) {
	if t.opts.Progress == nil {
		return
	}
	t.progressMu.Lock()
	t.done += n
	t.opts.Progress(t.done, t.total)
	t.progressMu.Unlock()
}

// job is a range of parent hash blocks of one level.
type job struct {
	level  int
	p0, p1 uint64
}

// jobs splits levels [lo, hi) into jobs whose children span about
// chunkBytes each.
func (t *tree) jobs(lo, hi int) []job {
	var js []job
	for i := lo; i < hi; i++ {
		_, _, cs, _ := t.children(i)
		childrenPerParent := t.g.PerBlock() * uint64(cs)
		step := max(uint64(4*chunkBytes)/childrenPerParent, 1)
		lv := t.g.Levels[i]
		for p := uint64(0); p < lv.Blocks; p += step {
			js = append(js, job{i, p, min(p+step, lv.Blocks)})
		}
	}
	return js
}

// worker is the state of one hashing goroutine.
type worker struct {
	x      *hasher
	buf    []byte // children read from a device
	out    []byte // parent blocks computed
	stored []byte // parent blocks read back (Verify)
}

// run executes fn over jobs on t.opts.Workers goroutines, each with its own
// hasher and buffers, and returns the first error.
func (t *tree) run(js []job, fn func(w *worker, j job) error) error {
	workers := min(t.opts.Workers, len(js))
	ch := make(chan job)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	maxOut := 0
	for _, j := range js {
		maxOut = max(maxOut, int(j.p1-j.p0)*int(t.p.HashBlockSize))
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{
				x:   t.hasher(),
				buf: make([]byte, max(chunkBytes, int(t.p.DataBlockSize), int(t.p.HashBlockSize))),
				out: make([]byte, maxOut),
			}
			var failed bool
			for j := range ch {
				if failed {
					continue
				}
				if err := fn(w, j); err != nil {
					errc <- err
					failed = true
				}
			}
		}()
	}
	for _, j := range js {
		ch <- j
	}
	close(ch)
	wg.Wait()
	close(errc)
	return <-errc
}

// rootDigest hashes the top of the tree: the single top-level hash block,
// or the only data block when the tree has no level.
func (t *tree) rootDigest(x *hasher) ([]byte, error) {
	var blk []byte
	var err error
	if len(t.g.Levels) == 0 {
		blk = make([]byte, t.p.DataBlockSize)
		err = readFullAt(t.data, blk, 0)
	} else {
		blk = make([]byte, t.p.HashBlockSize)
		err = readFullAt(t.hash, blk, int64(t.g.Levels[len(t.g.Levels)-1].Start)*int64(t.p.HashBlockSize))
	}
	return bytes.Clone(x.digest(blk)), err
}

// Format computes the hash tree of the first p.DataBlocks blocks of data
// and writes it to hashDev starting at hash block hashStart (see
// HashStartBlock). It returns the root digest. It writes no superblock
// (see MarshalSuperblock). The hashing is spread over opts.Workers
// goroutines, with memory bounded whatever the device size.
func Format(data io.ReaderAt, hashDev ReadWriterAt, p *Params, hashStart uint64, opts *Options) ([]byte, error) {
	t, err := newTree(p, hashStart, data, hashDev, opts)
	if err != nil {
		return nil, err
	}
	t.total = p.DataBlocks * uint64(p.DataBlockSize)
	for i := range t.g.Levels {
		t.total += t.g.Levels[i].Blocks * uint64(p.HashBlockSize)
	}
	hbs := int64(p.HashBlockSize)
	for i := range t.g.Levels {
		err := t.run(t.jobs(i, i+1), func(w *worker, j job) error {
			var rerr error
			n := int(j.p1-j.p0) * int(hbs)
			t.computeParents(w.x, j.level, j.p0, j.p1, w.buf, w.out, func(child uint64, err error) {
				if rerr == nil {
					rerr = t.childError(j.level, child, err)
				}
			})
			if rerr != nil {
				return rerr
			}
			off := int64(t.g.Levels[j.level].Start+j.p0) * hbs
			if _, err := hashDev.WriteAt(w.out[:n], off); err != nil {
				return fmt.Errorf("writing hash level %d at byte %d: %w", j.level, off, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	root, err := t.rootDigest(t.hasher())
	if err != nil {
		return nil, t.childError(len(t.g.Levels), 0, err)
	}
	return root, nil
}

func (t *tree) childError(level int, child uint64, err error) error {
	if level == 0 {
		off := int64(child) * int64(t.p.DataBlockSize)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("data device is too small: data block %d at byte %d is past its end", child, off)
		}
		return fmt.Errorf("reading data block %d at byte %d: %w", child, off, err)
	}
	_, base, cs, _ := t.children(level)
	return fmt.Errorf("reading hash block at byte %d: %w", base+int64(child)*int64(cs), err)
}
