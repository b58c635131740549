package fec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Block is a message block rebuilt by Correct.
type Block struct {
	// Index is the block's index in the message.
	Index uint64
	// Data is the corrected content, BlockSize bytes, ready to be written
	// back at byte offset Index·BlockSize of the message.
	Data []byte
	// Erased is true if the caller listed the block as an erasure; if
	// false the decoder found errors in it by itself.
	Erased bool
}

// Result is the outcome of Correct or CorrectErasures.
type Result struct {
	// Rounds is the number of rounds of the code: message block j belongs
	// to round j mod Rounds.
	Rounds uint64
	// Checked is the number of rounds examined.
	Checked uint64
	// Blocks holds, in ascending Index order, every message block of a
	// correctable round that was given as an erasure or in which errors
	// were found, with its corrected content. Blocks of uncorrectable
	// rounds are never included.
	Blocks []Block
	// Uncorrectable lists, in ascending order, the rounds in which at
	// least one codeword could not be decoded: the damage exceeds what the
	// code can repair (more than Roots erasures in the round, or
	// 2·errors + erasures > Roots in some codeword). Nothing in these
	// rounds was corrected. Heavy damage to the parity alone (such as a
	// lost parity block) also shows here; if the round's message blocks
	// verify against the hash tree, rebuild the parity with Encode.
	Uncorrectable []uint64
	// ParityBlocks lists, in ascending order, the blocks of the parity
	// area (0 is the first block at the parity offset) in which corrupted
	// parity bytes were found in correctable rounds. Running Encode again
	// after writing Blocks back rewrites them.
	ParityBlocks []uint64
	// Errors counts the symbols (bytes) corrected in correctable rounds at
	// positions that were not given as erasures, in the message and in the
	// parity.
	Errors uint64
}

// OK reports whether every examined round was correctable.
func (r *Result) OK() bool { return len(r.Uncorrectable) == 0 }

// Correct examines every codeword of the message msg (msgBlocks blocks) and
// of its parity area (read from parity at byte offset parityOff, as written
// by Encode) and corrects what it can. It modifies neither input: corrected
// blocks are returned in the Result for the caller to verify and write back.
//
// erasures lists message blocks known to be bad (in any order; duplicates
// are ignored). They are not read, and every round can rebuild up to Roots of
// them. Without erasures (nil) Correct is a full check: it locates and
// corrects up to Roots/2 damaged bytes per codeword, wherever they are, and
// reports the blocks it changed. Damage confined to the parity is corrected
// too (reported in ParityBlocks; the message is then intact).
//
// An error is returned for invalid arguments and for failed or short reads
// of non-erased message blocks or of the parity; damage that is too heavy to
// correct is not an error but is reported in Result.Uncorrectable. Memory
// use is bounded (a few tens of MiB) apart from the returned blocks,
// BlockSize bytes each.
//
// A decoded round is self-checked (locator roots, known-zero positions,
// zero syndromes after correction), but damage far beyond the capacity can
// still look like small damage to a different codeword, above all with few
// roots; with as many erasures as roots in a round nothing is left to check
// with. Callers with a hash tree should verify the returned blocks before
// writing them back.
func Correct(msg io.ReaderAt, msgBlocks uint64, parity io.ReaderAt, parityOff int64, p Params, erasures []uint64) (*Result, error) {
	return correct(msg, msgBlocks, parity, parityOff, p, erasures, false)
}

// CorrectErasures is like Correct but examines only the rounds that contain
// at least one of the erasures, which is much faster than a full check when
// the bad blocks are known (for dm-verity: from the hash tree). Damage in
// other rounds goes unnoticed.
func CorrectErasures(msg io.ReaderAt, msgBlocks uint64, parity io.ReaderAt, parityOff int64, p Params, erasures []uint64) (*Result, error) {
	return correct(msg, msgBlocks, parity, parityOff, p, erasures, true)
}

func correct(msg io.ReaderAt, msgBlocks uint64, parity io.ReaderAt, parityOff int64, p Params, erasures []uint64, onlyErased bool) (*Result, error) {
	if parity == nil {
		return nil, errors.New("fec: nil parity reader")
	}
	l, err := newLayout(msg, msgBlocks, p, parityOff)
	if err != nil {
		return nil, err
	}
	erased := slices.Clone(erasures)
	slices.Sort(erased)
	erased = slices.Compact(erased)
	if len(erased) > 0 && erased[len(erased)-1] >= msgBlocks {
		return nil, fmt.Errorf("fec: erasure at block %d is past the end of the message (%d blocks)", erased[len(erased)-1], msgBlocks)
	}
	// Erased positions of each round, ascending.
	byRound := make(map[uint64][]int)
	for _, j := range erased {
		n := j % l.rounds
		byRound[n] = append(byRound[n], int(j/l.rounds))
	}

	res := &Result{Rounds: l.rounds}
	var only []uint64
	if onlyErased {
		only = make([]uint64, 0, len(byRound))
		for n := range byRound {
			only = append(only, n)
		}
		slices.Sort(only)
		res.Checked = uint64(len(only))
		if len(only) == 0 {
			return res, nil
		}
	} else {
		res.Checked = l.rounds
	}

	pl := l.plan(only, true)
	col := &collector{
		blocks: make(map[uint64]*pending),
		failed: make(map[uint64]bool),
		parity: make(map[uint64]bool),
		errors: make(map[uint64]uint64),
	}
	err = pl.run(func() func(u uint64) error {
		cw := &corrWorker{
			worker: l.newWorker(pl, true),
			dec:    newDecoder(l.roots),
			col:    col,
		}
		return func(u uint64) error {
			n0, k, b0 := pl.unit(u)
			stored := cw.stored[:int(k)*pl.span*l.roots]
			at := parityOff + l.parityOffset(n0, b0)
			if err := readFull(parity, stored, at); err != nil {
				return fmt.Errorf("fec: reading parity: %w", err)
			}
			if err := cw.encode(n0, k, b0, erased); err != nil {
				return err
			}
			for r := 0; r < int(k); r++ {
				cw.round(n0+uint64(r), r, b0, byRound[n0+uint64(r)])
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return col.result(l, res)
}

// pending is a corrected block being assembled from the units of its round.
type pending struct {
	// data is the block's content if erased, else the XOR of its
	// corrections (applied to the stored block in result).
	data   []byte
	erased bool
}

// collector gathers the workers' findings.
type collector struct {
	mu     sync.Mutex
	blocks map[uint64]*pending
	failed map[uint64]bool   // uncorrectable rounds
	parity map[uint64]bool   // damaged parity blocks
	errors map[uint64]uint64 // corrected errors per round
}

// corrWorker is one goroutine of Correct.
type corrWorker struct {
	*worker
	dec     *decoder
	col     *collector
	synd    [MaxRoots]byte
	diff    [MaxRoots]byte
	delta   [][]byte // per symbol position: the corrections of the round
	touched []int    // positions with a delta in the current round
	damaged []uint64 // parity blocks with errors in the current round
}

// touch returns the correction buffer of position p for the current round.
func (cw *corrWorker) touch(p int) []byte {
	if cw.delta == nil {
		cw.delta = make([][]byte, cw.l.rsn)
	}
	d := cw.delta[p]
	if d == nil {
		d = make([]byte, cw.pl.span)
		cw.delta[p] = d
	}
	if !slices.Contains(cw.touched, p) {
		cw.touched = append(cw.touched, p)
	}
	return d
}

// round checks and corrects round n, whose codewords are the r-th span of
// the unit (bytes [b0, b0+span) of its blocks); er are its erased positions.
func (cw *corrWorker) round(n uint64, r int, b0 int, er []int) {
	l, span, roots := cw.l, cw.pl.span, cw.l.roots
	pr := cw.worker.parity[r*span*roots : (r+1)*span*roots]
	sr := cw.stored[r*span*roots : (r+1)*span*roots]
	if len(er) == 0 && bytes.Equal(pr, sr) {
		return // every codeword is valid
	}
	if len(er) > roots {
		cw.fail(n)
		return
	}
	for _, p := range cw.touched {
		clear(cw.delta[p])
	}
	cw.touched = cw.touched[:0]
	for _, p := range er {
		cw.touch(p)
	}
	gamma := erasureLocator(er)
	valid := func(p int) bool {
		return p >= l.rsn || n+uint64(p)*l.rounds < l.msgBlocks
	}
	var errs uint64
	cw.damaged = cw.damaged[:0]
	for bl := 0; bl < span; bl++ {
		comp, stor := pr[bl*roots:(bl+1)*roots], sr[bl*roots:(bl+1)*roots]
		for i := range comp {
			cw.diff[i] = comp[i] ^ stor[i]
		}
		if !paritySyndromes(cw.diff[:roots], cw.synd[:]) {
			continue // a codeword; erased symbols are zero as filled in
		}
		if !cw.dec.decode(cw.synd[:roots], er, &gamma, valid) {
			cw.fail(n)
			return
		}
		for x, p := range cw.dec.pos {
			v := cw.dec.val[x]
			if v == 0 {
				continue
			}
			if p < l.rsn {
				// Erased symbols were read as zero, so for them the
				// correction is the value itself.
				cw.touch(p)[bl] ^= v
				if !isIn(p, er) {
					errs++
				}
				continue
			}
			errs++
			off := uint64(l.parityOffset(n, b0+bl)) + uint64(p-l.rsn)
			pb := off / uint64(l.bs)
			if len(cw.damaged) == 0 || cw.damaged[len(cw.damaged)-1] != pb {
				cw.damaged = append(cw.damaged, pb)
			}
		}
	}

	c := cw.col
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors[n] += errs
	for _, pb := range cw.damaged {
		c.parity[pb] = true
	}
	for _, p := range cw.touched {
		j := n + uint64(p)*l.rounds
		pd := c.blocks[j]
		if pd == nil {
			pd = &pending{data: make([]byte, l.bs), erased: isIn(p, er)}
			c.blocks[j] = pd
		}
		copy(pd.data[b0:b0+span], cw.delta[p])
	}
}

func (cw *corrWorker) fail(n uint64) {
	cw.col.mu.Lock()
	cw.col.failed[n] = true
	cw.col.mu.Unlock()
}

// result completes res from the collected findings.
func (c *collector) result(l *layout, res *Result) (*Result, error) {
	for n := range c.failed {
		res.Uncorrectable = append(res.Uncorrectable, n)
	}
	slices.Sort(res.Uncorrectable)
	roots := uint64(l.roots)
	for pb := range c.parity {
		// Round n's parity is blocks [n·roots, (n+1)·roots).
		if !c.failed[pb/roots] {
			res.ParityBlocks = append(res.ParityBlocks, pb)
		}
	}
	slices.Sort(res.ParityBlocks)
	for n, e := range c.errors {
		if !c.failed[n] {
			res.Errors += e
		}
	}

	for j, pd := range c.blocks {
		if c.failed[j%l.rounds] {
			continue
		}
		if !pd.erased {
			// Apply the corrections to the stored block.
			data := make([]byte, l.bs)
			if err := readFull(l.msg, data, int64(j)*int64(l.bs)); err != nil {
				return nil, fmt.Errorf("fec: reading message block %d: %w", j, err)
			}
			for i, d := range pd.data {
				data[i] ^= d
			}
			pd.data = data
		}
		res.Blocks = append(res.Blocks, Block{Index: j, Data: pd.data, Erased: pd.erased})
	}
	slices.SortFunc(res.Blocks, func(a, b Block) int { return cmp.Compare(a.Index, b.Index) })
	return res, nil
}
