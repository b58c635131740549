// Package fec implements dm-verity forward error correction: the
// Reed-Solomon parity that `veritysetup format --fec-device F --fec-roots R`
// (cryptsetup 2.6.1, lib/verity/verity_fec.c) writes, byte for byte, and a
// decoder that uses it to find and repair damage.
//
// # Layout
//
// The protected "message" is a sequence of msgBlocks blocks of BlockSize
// bytes. For dm-verity it is the data blocks followed by the hash device from
// the hash start block on (the superblock is not covered); building it is the
// caller's job. The code counts the blocks at index msgBlocks and beyond as
// zeros; they are never read.
//
// The code is RS(255, 255−Roots) over GF(2^8) (field polynomial 0x11d, first
// consecutive root α^0, primitive element α). With rsn = 255−Roots and
// rounds = ceil(msgBlocks/rsn), the codeword for round n and byte b holds
// byte b of message blocks n, n+rounds, n+2·rounds, … (rsn of them), so
// message block j belongs to round j mod rounds, where it is symbol
// j / rounds of each of the round's BlockSize codewords. A damaged block is
// therefore one bad symbol in each codeword of its round. The Roots parity
// bytes of codeword c = n·BlockSize + b are stored at byte c·Roots of the
// parity area, which is rounds·Roots blocks long.
//
// # Correction
//
// [Correct] re-encodes every round, compares the result with the stored
// parity and decodes the codewords that differ with an errors-and-erasures
// decoder. Blocks known to be bad (for dm-verity: the blocks whose hashes do
// not verify) are passed as erasures; each round can then rebuild up to
// Roots erased blocks, whereas damage at unknown places is corrected only up
// to Roots/2 bytes per codeword. Like any Reed-Solomon decoder it can be
// fooled by damage beyond its capacity into a wrong but valid codeword, so
// callers that have a hash tree should verify the blocks it returns.
package fec

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// MinRoots and MaxRoots bound Params.Roots, the number of parity bytes per
// 255-byte codeword, as cryptsetup and the kernel do.
const (
	MinRoots = 2
	MaxRoots = 24
)

const (
	minBlockSize = 512
	maxBlockSize = 512 << 10 // cryptsetup's VERITY_MAX_BLOCK_SIZE

	// memBudget bounds the buffers of all workers of one Encode or Correct
	// call together, whatever the message size.
	memBudget = 48 << 20
	// maxWorkers caps the goroutines of one call, so that very wide
	// machines do not shrink the per-worker batches to tiny reads.
	maxWorkers = 16
	// maxBatch caps the rounds one worker reads at a time.
	maxBatch = 64
)

// Params are the FEC parameters.
type Params struct {
	// BlockSize is the size in bytes of a message block (dm-verity's data
	// and hash block size, which must be equal for FEC): a power of two
	// from 512 to 524288.
	BlockSize int
	// Roots is the number of parity bytes per codeword, MinRoots..MaxRoots
	// (veritysetup --fec-roots; its default is 2).
	Roots int
}

// Validate reports whether p is usable.
func (p Params) Validate() error {
	if p.Roots < MinRoots || p.Roots > MaxRoots {
		return fmt.Errorf("fec: roots %d out of range %d..%d", p.Roots, MinRoots, MaxRoots)
	}
	if p.BlockSize < minBlockSize || p.BlockSize > maxBlockSize || p.BlockSize&(p.BlockSize-1) != 0 {
		return fmt.Errorf("fec: block size %d is not a power of two from %d to %d", p.BlockSize, minBlockSize, maxBlockSize)
	}
	return nil
}

// Rounds returns the number of rounds (interleaving depth) for a message of
// msgBlocks blocks: ceil(msgBlocks / (255−Roots)). It returns 0 if p.Roots is
// out of range.
func (p Params) Rounds(msgBlocks uint64) uint64 {
	if p.Roots < MinRoots || p.Roots > MaxRoots {
		return 0
	}
	rsn := uint64(255 - p.Roots)
	r := msgBlocks / rsn
	if msgBlocks%rsn != 0 {
		r++
	}
	return r
}

// ParityBlocks returns the size of the parity area in blocks for a message of
// msgBlocks blocks: Rounds(msgBlocks)·Roots. This is the "FEC blocks" figure
// veritysetup prints. It returns 0 if p.Roots is out of range.
func (p Params) ParityBlocks(msgBlocks uint64) uint64 {
	return p.Rounds(msgBlocks) * uint64(p.Roots)
}

// Encode reads the msgBlocks blocks of the message from msg (block j at byte
// offset j·BlockSize) and writes the ParityBlocks(msgBlocks)·BlockSize bytes of
// parity to w, starting at byte offset off. The output is identical to the
// FEC area veritysetup writes for the same message.
//
// Encode reads and writes from several goroutines at once (non-overlapping
// ranges, as the io.ReaderAt and io.WriterAt contracts allow; *os.File is
// fine). Reads are batched: one read covers the same block range of several
// rounds. Memory use is bounded (under 64 MiB) whatever the message size.
// On error, part of the parity may have been written.
func Encode(msg io.ReaderAt, msgBlocks uint64, p Params, w io.WriterAt, off int64) error {
	if w == nil {
		return errors.New("fec: nil parity writer")
	}
	l, err := newLayout(msg, msgBlocks, p, off)
	if err != nil {
		return err
	}
	pl := l.plan(nil, false)
	return pl.run(func() func(u uint64) error {
		wk := l.newWorker(pl, false)
		return func(u uint64) error {
			n0, k, b0 := pl.unit(u)
			if err := wk.encode(n0, k, b0, nil); err != nil {
				return err
			}
			out := wk.parity[:int(k)*pl.span*l.roots]
			at := off + l.parityOffset(n0, b0)
			if n, err := w.WriteAt(out, at); err != nil || n != len(out) {
				if err == nil {
					err = io.ErrShortWrite
				}
				return fmt.Errorf("fec: writing parity at offset %d: %w", at, err)
			}
			return nil
		}
	})
}

// layout is the geometry of one message.
type layout struct {
	msg       io.ReaderAt
	bs        int
	roots     int
	rsn       int
	msgBlocks uint64
	rounds    uint64
	codec     *codec
}

func newLayout(msg io.ReaderAt, msgBlocks uint64, p Params, off int64) (*layout, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if msg == nil {
		return nil, errors.New("fec: nil message reader")
	}
	if msgBlocks == 0 {
		return nil, errors.New("fec: empty message (0 blocks)")
	}
	bs := uint64(p.BlockSize)
	if msgBlocks > math.MaxInt64/bs {
		return nil, fmt.Errorf("fec: message of %d blocks is too large", msgBlocks)
	}
	if off < 0 {
		return nil, fmt.Errorf("fec: negative parity offset %d", off)
	}
	// At most ceil(msgBlocks/231)·24 blocks, about a tenth of the message
	// plus 24 blocks, so this cannot overflow.
	if size := p.ParityBlocks(msgBlocks) * bs; size > uint64(math.MaxInt64-off) {
		return nil, fmt.Errorf("fec: parity area at offset %d of %d bytes is too large", off, size)
	}
	return &layout{
		msg:       msg,
		bs:        p.BlockSize,
		roots:     p.Roots,
		rsn:       255 - p.Roots,
		msgBlocks: msgBlocks,
		rounds:    p.Rounds(msgBlocks),
		codec:     newCodec(p.Roots),
	}, nil
}

// parityOffset is the byte offset, within the parity area, of the parity of
// codeword (n, b).
func (l *layout) parityOffset(n uint64, b int) int64 {
	return int64((n*uint64(l.bs) + uint64(b)) * uint64(l.roots))
}

// plan splits the work into units. A unit is the k consecutive rounds from
// n0, restricted to the byte range [b0, b0+span) of their blocks: k·span
// codewords that are encoded side by side. Either span is the whole block or
// k is 1 (very large blocks, or rounds chosen by a list).
//
// A worker streams a unit symbol by symbol: symbol i of rounds n0..n0+k−1 is
// bytes [b0, b0+span) of the consecutive blocks n0+i·rounds .. +k−1, a single
// read when span is the whole block, which it feeds to the k·span registers
// at once. Only one stripe of message is held at a time; the registers are
// sized to stay in the CPU cache.
type plan struct {
	span    int      // bytes of each block a unit covers
	pieces  int      // bs / span
	k       uint64   // rounds per unit
	rounds  uint64   // total rounds
	only    []uint64 // if non-nil, the (sorted) rounds to visit, k = 1
	units   uint64
	workers int
}

// regsTarget is the size of the LFSR registers of one unit the planner aims
// for: small enough to stay in a core's L2 cache, large enough that each
// stripe is read with a few big reads.
const regsTarget = 512 << 10

func (l *layout) plan(only []uint64, correcting bool) *plan {
	pl := &plan{rounds: l.rounds, only: only, span: l.bs, pieces: 1, k: 1}
	visit := l.rounds
	if only != nil {
		visit = uint64(len(only))
	}
	workers := min(runtime.GOMAXPROCS(0), maxWorkers)
	if uint64(workers) > visit {
		workers = int(visit)
	}
	workers = max(workers, 1)
	per := memBudget / workers

	// Buffer bytes per codeword of a unit: the stripe, the registers, the
	// computed parity and, when correcting, the stored parity and the
	// corrections.
	regs := 8 * l.codec.words
	perCW := 1 + regs + l.roots
	if correcting {
		perCW += l.roots + 1
	}
	for pl.span > 64 && (pl.span*perCW > per || pl.span*regs > regsTarget && pl.span > 4096) {
		pl.span /= 2
		pl.pieces *= 2
	}
	if pl.pieces == 1 && only == nil {
		k := max(min(regsTarget/(pl.span*regs), per/(pl.span*perCW)), 1)
		// Keep a few units per worker so that they finish together.
		pl.k = min(uint64(k), maxBatch, max(l.rounds/uint64(4*workers), 1))
	}
	pl.units = ((visit + pl.k - 1) / pl.k) * uint64(pl.pieces)
	if uint64(workers) > pl.units {
		workers = int(pl.units)
	}
	pl.workers = workers
	return pl
}

// unit returns the first round, the number of rounds and the first byte of
// unit u.
func (pl *plan) unit(u uint64) (n0, k uint64, b0 int) {
	g, piece := u/uint64(pl.pieces), int(u%uint64(pl.pieces))
	if pl.only != nil {
		return pl.only[g], 1, piece * pl.span
	}
	n0 = g * pl.k
	return n0, min(pl.k, pl.rounds-n0), piece * pl.span
}

// run processes every unit on pl.workers goroutines. newFn is called once
// per goroutine to set up its buffers. The first error stops the work.
func (pl *plan) run(newFn func() func(u uint64) error) error {
	var (
		next    atomic.Uint64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range pl.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := newFn()
			for !failed.Load() {
				u := next.Add(1) - 1
				if u >= pl.units {
					return
				}
				if err := fn(u); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// worker holds one goroutine's buffers.
type worker struct {
	l      *layout
	pl     *plan
	stripe []byte   // one symbol of the unit's k·span codewords
	regs   []uint64 // LFSR registers of the k·span codewords
	parity []byte   // their computed parity, k·span·roots bytes
	stored []byte   // their stored parity, when correcting
}

func (l *layout) newWorker(pl *plan, correcting bool) *worker {
	cws := int(pl.k) * pl.span
	wk := &worker{
		l:      l,
		pl:     pl,
		stripe: make([]byte, cws),
		regs:   make([]uint64, l.codec.stateLen(cws)),
		parity: make([]byte, cws*l.roots),
	}
	if correcting {
		wk.stored = make([]byte, len(wk.parity))
	}
	return wk
}

// encode computes into wk.parity the parity of the k·span codewords of the
// unit (n0, k, b0), reading the message symbol by symbol. Blocks past the
// end of the message, and those listed in erased (sorted), count as zeros and
// are not read.
func (wk *worker) encode(n0, k uint64, b0 int, erased []uint64) error {
	l, span := wk.l, wk.pl.span
	cws := int(k) * span
	regs, dst := wk.regs[:l.codec.stateLen(cws)], wk.stripe[:cws]
	clear(regs)
	for i := 0; i < l.rsn; i++ {
		j0 := n0 + uint64(i)*l.rounds
		if j0 >= l.msgBlocks {
			// Symbols from here on are zero for the whole unit. A
			// zero symbol still shifts the registers.
			clear(dst)
		} else if err := wk.readStripe(dst, j0, b0, erased); err != nil {
			return err
		}
		l.codec.step(regs, dst)
	}
	l.codec.emit(regs, wk.parity[:cws*l.roots])
	return nil
}

// readStripe fills dst with bytes [b0, b0+span) of the consecutive blocks
// from j0, zero for blocks past the message or listed in erased.
func (wk *worker) readStripe(dst []byte, j0 uint64, b0 int, erased []uint64) error {
	l, span := wk.l, wk.pl.span
	cnt := uint64(len(dst) / span)
	valid := min(cnt, l.msgBlocks-j0)
	clear(dst[int(valid)*span:])
	j, end := j0, j0+valid
	e := searchUint64(erased, j)
	for j < end {
		stop := end
		if e < len(erased) && erased[e] < end {
			stop = erased[e]
		}
		if stop > j {
			if err := wk.readBlocks(dst[int(j-j0)*span:int(stop-j0)*span], j, b0); err != nil {
				return err
			}
		}
		if stop < end {
			clear(dst[int(stop-j0)*span : int(stop-j0+1)*span])
			e++
		}
		j = stop + 1
	}
	return nil
}

// readBlocks reads bytes [b0, b0+span) of consecutive blocks from j into dst;
// when span < bs, dst covers one block.
func (wk *worker) readBlocks(dst []byte, j uint64, b0 int) error {
	l := wk.l
	off := int64(j)*int64(l.bs) + int64(b0)
	if err := readFull(l.msg, dst, off); err != nil {
		last := j + uint64(max(len(dst)/l.bs, 1)) - 1
		if last == j {
			return fmt.Errorf("fec: reading message block %d: %w", j, err)
		}
		return fmt.Errorf("fec: reading message blocks %d..%d: %w", j, last, err)
	}
	return nil
}

// readFull reads len(p) bytes at off, turning a short read into an error.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("short read at offset %d (%d of %d bytes): %w", off, max(n, 0), len(p), err)
}

// searchUint64 returns the index of the first element of s that is >= x.
func searchUint64(s []uint64, x uint64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
