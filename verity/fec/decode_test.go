package fec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// decodeWord runs the codeword decoder on a received word the way Correct
// does: re-encode its message part and take syndromes of the parity
// difference.
func decodeWord(t testing.TB, c *codec, d *decoder, recv []byte, erasures []int, valid func(int) bool) bool {
	t.Helper()
	par := make([]byte, c.roots)
	c.encode(recv[:c.rsn], par)
	diff := make([]byte, c.roots)
	for k := range diff {
		diff[k] = par[k] ^ recv[c.rsn+k]
	}
	synd := make([]byte, c.roots)
	if !paritySyndromes(diff, synd) {
		d.pos, d.val = d.pos[:0], d.val[:0]
		return true
	}
	gamma := erasureLocator(erasures)
	return d.decode(synd, erasures, &gamma, valid)
}

func allValid(int) bool { return true }

// TestDecodeProperty corrupts random codewords with e errors and f erasures,
// 2e + f <= roots, and checks that the decoder restores them exactly.
func TestDecodeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for roots := MinRoots; roots <= MaxRoots; roots++ {
		c := newCodec(roots)
		d := newDecoder(roots)
		for iter := 0; iter < 300; iter++ {
			cw := make([]byte, 255)
			for i := range c.rsn {
				cw[i] = byte(rng.UintN(256))
			}
			c.encode(cw[:c.rsn], cw[c.rsn:])
			f := rng.IntN(roots + 1)
			e := rng.IntN((roots-f)/2 + 1)
			pos := rng.Perm(255)[:f+e]
			recv := slices.Clone(cw)
			erasures := slices.Clone(pos[:f])
			for _, p := range erasures {
				recv[p] = 0 // how Correct fills erased symbols
			}
			for _, p := range pos[f:] {
				recv[p] ^= byte(1 + rng.UintN(255))
			}
			if !decodeWord(t, c, d, recv, erasures, allValid) {
				t.Fatalf("roots %d: decode failed with %d errors %d erasures", roots, e, f)
			}
			for x, p := range d.pos {
				recv[p] ^= d.val[x]
			}
			if !bytes.Equal(recv, cw) {
				t.Fatalf("roots %d: wrong correction with %d errors %d erasures", roots, e, f)
			}
		}
	}
}

// TestDecodeBeyondCapacity checks that heavy damage is reported, not
// miscorrected, with enough redundancy for that to be near certain.
func TestDecodeBeyondCapacity(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const roots = 24
	c := newCodec(roots)
	d := newDecoder(roots)
	failed := 0
	for iter := 0; iter < 500; iter++ {
		cw := make([]byte, 255)
		for i := range c.rsn {
			cw[i] = byte(rng.UintN(256))
		}
		c.encode(cw[:c.rsn], cw[c.rsn:])
		// Keep at least 16 symbols of redundancy beyond the erasures so
		// that a miscorrection is practically impossible (with little
		// redundancy left, beyond-capacity damage can land near another
		// codeword: that is inherent to the code).
		f := rng.IntN(roots - 16)
		e := (roots-f)/2 + 1 + rng.IntN(5) // one error too many, or more
		pos := rng.Perm(255)[:f+e]
		recv := slices.Clone(cw)
		for _, p := range pos[:f] {
			recv[p] = 0
		}
		for _, p := range pos[f:] {
			recv[p] ^= byte(1 + rng.UintN(255))
		}
		if !decodeWord(t, c, d, recv, pos[:f], allValid) {
			failed++
			continue
		}
		for x, p := range d.pos {
			recv[p] ^= d.val[x]
		}
		if bytes.Equal(recv, cw) {
			t.Fatalf("decoded beyond capacity to the original?")
		}
		t.Logf("miscorrection with %d errors %d erasures", e, f)
	}
	if failed < 495 {
		t.Fatalf("only %d of 500 overloaded codewords reported", failed)
	}
	// More erasures than roots can never be decoded.
	if d.decode(make([]byte, roots), make([]int, roots+1), new([maxPoly]byte), allValid) {
		t.Fatal("decoded more erasures than roots")
	}
}

// TestDecodeInvalidPositions checks that an error located in a known-zero
// position (a block past the end of the message) makes decoding fail.
func TestDecodeInvalidPositions(t *testing.T) {
	c := newCodec(4)
	d := newDecoder(4)
	cw := make([]byte, 255)
	recv := slices.Clone(cw)
	recv[100] = 7
	if !decodeWord(t, c, d, recv, nil, allValid) || len(d.pos) != 1 || d.pos[0] != 100 {
		t.Fatalf("single error not located: %v", d.pos)
	}
	if decodeWord(t, c, d, recv, nil, func(p int) bool { return p < 50 || p >= c.rsn }) {
		t.Fatal("error in a known-zero position accepted")
	}
}

// corrupter builds a message, its parity and damaged copies of both.
type fixture struct {
	p         Params
	blocks    uint64
	msg, par  []byte // originals
	dmsg, dpa []byte // damaged copies
	rounds    uint64
}

func newFixture(t testing.TB, rng *rand.Rand, p Params, blocks uint64) *fixture {
	t.Helper()
	f := &fixture{p: p, blocks: blocks, rounds: p.Rounds(blocks)}
	f.msg = randomBytes(rng, int(blocks)*p.BlockSize)
	out := &memFile{}
	if err := Encode(bytes.NewReader(f.msg), blocks, p, out, 0); err != nil {
		t.Fatal(err)
	}
	f.par = out.buf
	f.dmsg, f.dpa = slices.Clone(f.msg), slices.Clone(f.par)
	return f
}

func (f *fixture) block(b []byte, j uint64) []byte {
	bs := uint64(f.p.BlockSize)
	return b[j*bs : (j+1)*bs]
}

// trash overwrites message block j with random bytes.
func (f *fixture) trash(rng *rand.Rand, j uint64) {
	b := f.block(f.dmsg, j)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[0] = ^f.block(f.msg, j)[0] // surely different
}

func (f *fixture) correct(t testing.TB, erasures []uint64) *Result {
	t.Helper()
	res, err := Correct(bytes.NewReader(f.dmsg), f.blocks, bytes.NewReader(f.dpa), 0, f.p, erasures)
	if err != nil {
		t.Fatal(err)
	}
	f.checkResult(t, res)
	return res
}

// checkResult checks the structural invariants of a result and that every
// returned block equals the original.
func (f *fixture) checkResult(t testing.TB, res *Result) {
	t.Helper()
	if res.Rounds != f.rounds {
		t.Fatalf("Rounds = %d, want %d", res.Rounds, f.rounds)
	}
	for x, b := range res.Blocks {
		if x > 0 && res.Blocks[x-1].Index >= b.Index {
			t.Fatalf("blocks not sorted/unique: %d then %d", res.Blocks[x-1].Index, b.Index)
		}
		if slices.Contains(res.Uncorrectable, b.Index%f.rounds) {
			t.Fatalf("block %d of uncorrectable round returned", b.Index)
		}
		if !bytes.Equal(b.Data, f.block(f.msg, b.Index)) {
			t.Fatalf("block %d (erased %v) corrected wrongly", b.Index, b.Erased)
		}
	}
}

// indices returns the indices of res.Blocks.
func indices(res *Result) []uint64 {
	var s []uint64
	for _, b := range res.Blocks {
		s = append(s, b.Index)
	}
	return s
}

func TestCorrectClean(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	f := newFixture(t, rng, Params{512, 6}, 1000)
	res := f.correct(t, nil)
	if !res.OK() || len(res.Blocks) != 0 || len(res.ParityBlocks) != 0 || res.Errors != 0 || res.Checked != f.rounds {
		t.Fatalf("clean message: %+v", res)
	}
	res = f.correct(t, []uint64{5, 999})
	if !res.OK() || !slices.Equal(indices(res), []uint64{5, 999}) || res.Errors != 0 {
		t.Fatalf("clean message with erasures: %+v", res)
	}
}

// TestCorrectErasures erases up to roots blocks per round, overwriting them
// with garbage, and checks everything is restored byte for byte, by both
// Correct and CorrectErasures.
func TestCorrectErasures(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, tc := range []struct {
		p      Params
		blocks uint64
	}{
		{Params{512, 2}, 253*3 + 100},
		{Params{512, 3}, 252*4 + 7},
		{Params{1024, 8}, 247*2 + 1},
		{Params{512, 24}, 231 * 3},
		{Params{4096, 24}, 300},
	} {
		t.Run(fmt.Sprintf("%d-%d-%d", tc.p.BlockSize, tc.p.Roots, tc.blocks), func(t *testing.T) {
			f := newFixture(t, rng, tc.p, tc.blocks)
			var erasures []uint64
			for n := uint64(0); n < f.rounds; n++ {
				if n == 1 {
					continue // one round undamaged
				}
				// Blocks of round n: n + i·rounds.
				var cands []uint64
				for j := n; j < tc.blocks; j += f.rounds {
					cands = append(cands, j)
				}
				rng.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
				cnt := min(len(cands), tc.p.Roots)
				if n == 0 {
					cnt = 1
				}
				for _, j := range cands[:cnt] {
					f.trash(rng, j)
					erasures = append(erasures, j)
				}
			}
			// Duplicates are ignored.
			erasures = append(erasures, erasures[0])
			res := f.correct(t, erasures)
			want := slices.Clone(erasures[:len(erasures)-1])
			slices.Sort(want)
			if !res.OK() || !slices.Equal(indices(res), want) || res.Errors != 0 {
				t.Fatalf("result: ok %v blocks %v errors %d, want blocks %v", res.OK(), indices(res), res.Errors, want)
			}
			for _, b := range res.Blocks {
				if !b.Erased {
					t.Fatalf("block %d not marked erased", b.Index)
				}
			}
			res2, err := CorrectErasures(bytes.NewReader(f.dmsg), f.blocks, bytes.NewReader(f.dpa), 0, f.p, erasures)
			if err != nil {
				t.Fatal(err)
			}
			f.checkResult(t, res2)
			if !res2.OK() || !slices.Equal(indices(res2), want) || res2.Checked != f.rounds-1 {
				t.Fatalf("CorrectErasures: ok %v blocks %v checked %d", res2.OK(), indices(res2), res2.Checked)
			}
		})
	}
}

// unreadable fails reads that touch any of the listed blocks.
type unreadable struct {
	r   io.ReaderAt
	bs  int64
	bad []uint64
}

func (u unreadable) ReadAt(p []byte, off int64) (int, error) {
	for _, j := range u.bad {
		if off < int64(j+1)*u.bs && off+int64(len(p)) > int64(j)*u.bs {
			return 0, errors.New("I/O error")
		}
	}
	return u.r.ReadAt(p, off)
}

// TestCorrectUnreadable checks that erased blocks are not read, so that
// blocks with I/O errors can be rebuilt.
func TestCorrectUnreadable(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	p := Params{512, 4}
	f := newFixture(t, rng, p, 1200)
	bad := []uint64{0, 1, 2, 3, 4, 600, 1199}
	msg := unreadable{bytes.NewReader(f.msg), 512, bad}
	if _, err := Correct(msg, f.blocks, bytes.NewReader(f.par), 0, p, nil); err == nil || !strings.Contains(err.Error(), "I/O error") {
		t.Fatalf("unreadable block without erasure: %v", err)
	}
	res, err := Correct(msg, f.blocks, bytes.NewReader(f.par), 0, p, bad)
	if err != nil {
		t.Fatal(err)
	}
	f.checkResult(t, res)
	if !res.OK() || !slices.Equal(indices(res), bad) {
		t.Fatalf("ok %v blocks %v", res.OK(), indices(res))
	}
	// A truncated message whose missing tail is erased is fine too.
	res, err = Correct(bytes.NewReader(f.msg[:1199*512]), f.blocks, bytes.NewReader(f.par), 0, p, []uint64{1199})
	if err != nil || !res.OK() || len(res.Blocks) != 1 {
		t.Fatalf("truncated, tail erased: %v %+v", err, res)
	}
}

// TestCorrectTooManyErasures checks that a round with more than roots
// erasures is reported and nothing of it is returned, while the other
// rounds are corrected.
func TestCorrectTooManyErasures(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	p := Params{512, 3}
	f := newFixture(t, rng, p, 252*3)
	rounds := f.rounds
	var erasures []uint64
	for i := uint64(0); i < 4; i++ { // round 1: 4 > 3 erasures
		j := 1 + i*rounds
		f.trash(rng, j)
		erasures = append(erasures, j)
	}
	f.trash(rng, 2) // round 2: one erasure
	erasures = append(erasures, 2)
	for _, fn := range []func(io.ReaderAt, uint64, io.ReaderAt, int64, Params, []uint64) (*Result, error){Correct, CorrectErasures} {
		res, err := fn(bytes.NewReader(f.dmsg), f.blocks, bytes.NewReader(f.dpa), 0, p, erasures)
		if err != nil {
			t.Fatal(err)
		}
		f.checkResult(t, res)
		if res.OK() || !slices.Equal(res.Uncorrectable, []uint64{1}) || !slices.Equal(indices(res), []uint64{2}) {
			t.Fatalf("uncorrectable %v blocks %v", res.Uncorrectable, indices(res))
		}
	}
}

// TestCorrectUnknownErrors damages up to roots/2 bytes per codeword, in the
// message and in the parity, without telling the decoder where.
func TestCorrectUnknownErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, p := range []Params{{512, 2}, {512, 5}, {512, 24}, {1024, 10}} {
		t.Run(fmt.Sprintf("%d-%d", p.BlockSize, p.Roots), func(t *testing.T) {
			rsn := 255 - p.Roots
			blocks := uint64(rsn*3 - 10)
			f := newFixture(t, rng, p, blocks)
			bs := uint64(p.BlockSize)
			damaged := map[uint64]bool{}
			damagedParity := map[uint64]bool{}
			var errs uint64
			// Damage some codewords of rounds 0 and 2, leave round 1.
			for _, n := range []uint64{0, 2} {
				for _, b := range rng.Perm(int(bs))[:60] {
					b := uint64(b)
					e := 1 + rng.IntN(p.Roots/2)
					for _, pos := range rng.Perm(255)[:e] {
						v := byte(1 + rng.UintN(255))
						if pos < rsn {
							j := n + uint64(pos)*f.rounds
							if j >= blocks {
								continue // known-zero padding, not stored
							}
							if f.dmsg[j*bs+b] == f.msg[j*bs+b] {
								errs++
							}
							f.dmsg[j*bs+b] ^= v
							damaged[j] = true
						} else {
							at := (n*bs+b)*uint64(p.Roots) + uint64(pos-rsn)
							if f.dpa[at] == f.par[at] {
								errs++
							}
							f.dpa[at] ^= v
							damagedParity[at/bs] = true
						}
					}
				}
			}
			// A whole block in round 1 is one error per codeword.
			f.trash(rng, 1+f.rounds)
			damaged[1+f.rounds] = true
			errs += bs - uint64(bytes.Count(xorBytes(f.block(f.msg, 1+f.rounds), f.block(f.dmsg, 1+f.rounds)), []byte{0}))

			res := f.correct(t, nil)
			var want, wantP []uint64
			for j := range damaged {
				if !bytes.Equal(f.block(f.msg, j), f.block(f.dmsg, j)) {
					want = append(want, j)
				}
			}
			for j := range damagedParity {
				if !bytes.Equal(f.block(f.par, j), f.block(f.dpa, j)) {
					wantP = append(wantP, j)
				}
			}
			slices.Sort(want)
			slices.Sort(wantP)
			if !res.OK() || !slices.Equal(indices(res), want) || !slices.Equal(res.ParityBlocks, wantP) || res.Errors != errs {
				t.Fatalf("ok %v uncorrectable %v\nblocks %v\nwant   %v\nparity %v want %v\nerrors %d want %d",
					res.OK(), res.Uncorrectable, indices(res), want, res.ParityBlocks, wantP, res.Errors, errs)
			}
		})
	}
}

func xorBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// TestCorrectErrorsAndErasures mixes f erasures (whole blocks) with e unknown
// whole-block errors per round, 2e + f <= roots.
func TestCorrectErrorsAndErasures(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	p := Params{512, 10}
	blocks := uint64(245*2 + 50)
	f := newFixture(t, rng, p, blocks)
	var erasures, want []uint64
	for n := uint64(0); n < f.rounds; n++ {
		var cands []uint64
		for j := n; j < blocks; j += f.rounds {
			cands = append(cands, j)
		}
		perm := rng.Perm(len(cands))
		nf, ne := 4, 3 // 2·3 + 4 = 10
		for x, k := range perm[:nf+ne] {
			j := cands[k]
			f.trash(rng, j)
			want = append(want, j)
			if x < nf {
				erasures = append(erasures, j)
			}
		}
	}
	slices.Sort(want)
	res := f.correct(t, erasures)
	if !res.OK() || !slices.Equal(indices(res), want) {
		t.Fatalf("ok %v blocks %v want %v", res.OK(), indices(res), want)
	}
	// One unknown error more per round exceeds the capacity: reported.
	for n := uint64(0); n < f.rounds; n++ {
		for j := n; j < blocks; j += f.rounds {
			if !slices.Contains(want, j) {
				f.trash(rng, j)
				break
			}
		}
	}
	res = f.correct(t, erasures)
	if len(res.Uncorrectable) != int(f.rounds) || len(res.Blocks) != 0 {
		t.Fatalf("overloaded: uncorrectable %v blocks %v", res.Uncorrectable, indices(res))
	}
}

// TestCorrectParityDamage damages only the parity.
func TestCorrectParityDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	p := Params{512, 4}
	f := newFixture(t, rng, p, 251*2)
	// Up to 2 bytes per codeword of round 0: correctable.
	bs := uint64(p.BlockSize)
	for b := uint64(0); b < bs; b += 3 {
		f.dpa[b*4+1] ^= 0x55
		f.dpa[b*4+3] ^= 0xaa
	}
	res := f.correct(t, nil)
	if !res.OK() || len(res.Blocks) != 0 || !slices.Equal(res.ParityBlocks, []uint64{0, 1, 2, 3}) || res.Errors != 2*((bs+2)/3) {
		t.Fatalf("ok %v blocks %v parity %v errors %d", res.OK(), indices(res), res.ParityBlocks, res.Errors)
	}
	// With erasures in the same round, 2·1 + 2 <= 4.
	copy(f.dpa, f.par)
	for b := uint64(0); b < bs; b++ {
		f.dpa[b*4+2] ^= 1
	}
	f.trash(rng, 0)
	f.trash(rng, 2)
	res = f.correct(t, []uint64{0, 2})
	if !res.OK() || !slices.Equal(indices(res), []uint64{0, 2}) || len(res.ParityBlocks) != 4 {
		t.Fatalf("ok %v blocks %v parity %v", res.OK(), indices(res), res.ParityBlocks)
	}
	// A whole parity block lost is roots errors in each of its codewords:
	// beyond what unknown errors allow, so reported, with nothing returned.
	// (An identical error pattern in every codeword would be decoded the
	// same way everywhere, and with only 4 roots it lands near another
	// codeword about half the time; random damage makes a miscorrection
	// of all 128 codewords practically impossible.)
	copy(f.dmsg, f.msg)
	copy(f.dpa, f.par)
	for i := range f.block(f.dpa, 5) {
		f.block(f.dpa, 5)[i] ^= byte(1 + rng.UintN(255))
	}
	res = f.correct(t, nil)
	if !slices.Equal(res.Uncorrectable, []uint64{1}) || len(res.Blocks) != 0 || len(res.ParityBlocks) != 0 {
		t.Fatalf("lost parity block: uncorrectable %v blocks %v parity %v", res.Uncorrectable, indices(res), res.ParityBlocks)
	}
}

// TestCorrectSplitBlocks exercises the byte-range split used for very large
// blocks, including a block with errors in only some of its pieces.
func TestCorrectSplitBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	p := Params{512 << 10, 6}
	f := newFixture(t, rng, p, 4)
	f.trash(rng, 1)
	f.dmsg[2*p.BlockSize+10] ^= 1 // one error early in block 2
	f.dmsg[3*p.BlockSize-1] ^= 2  // one late in block 2
	f.dpa[12345] ^= 3
	res := f.correct(t, []uint64{1})
	if !res.OK() || !slices.Equal(indices(res), []uint64{1, 2}) || res.Errors != 3 || !slices.Equal(res.ParityBlocks, []uint64{0}) {
		t.Fatalf("ok %v blocks %v errors %d parity %v", res.OK(), indices(res), res.Errors, res.ParityBlocks)
	}
}

// TestCorrectParityOffset checks parity stored at an offset in a larger
// file.
func TestCorrectParityOffset(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	p := Params{512, 2}
	f := newFixture(t, rng, p, 300)
	const off = 7 * 512
	file := &memFile{}
	if err := Encode(bytes.NewReader(f.msg), f.blocks, p, file, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file.buf[off:], f.par) {
		t.Fatal("parity at offset differs")
	}
	f.trash(rng, 7)
	res, err := Correct(bytes.NewReader(f.dmsg), f.blocks, bytes.NewReader(file.buf), off, p, []uint64{7})
	if err != nil {
		t.Fatal(err)
	}
	f.checkResult(t, res)
	if !res.OK() || !slices.Equal(indices(res), []uint64{7}) {
		t.Fatalf("ok %v blocks %v", res.OK(), indices(res))
	}
}

func TestCorrectErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	p := Params{512, 2}
	f := newFixture(t, rng, p, 300)
	msg, par := bytes.NewReader(f.msg), bytes.NewReader(f.par)
	for _, tc := range []struct {
		name     string
		msg, par io.ReaderAt
		blocks   uint64
		p        Params
		off      int64
		erasures []uint64
		want     string
	}{
		{"bad params", msg, par, 300, Params{512, 99}, 0, nil, "fec: roots 99 out of range 2..24"},
		{"nil parity", msg, nil, 300, p, 0, nil, "fec: nil parity reader"},
		{"nil message", nil, par, 300, p, 0, nil, "fec: nil message reader"},
		{"empty", msg, par, 0, p, 0, nil, "fec: empty message"},
		{"negative offset", msg, par, 300, p, -5, nil, "fec: negative parity offset -5"},
		{"erasure out of range", msg, par, 300, p, 0, []uint64{3, 300}, "fec: erasure at block 300 is past the end of the message (300 blocks)"},
		{"truncated parity", msg, bytes.NewReader(f.par[:len(f.par)-1]), 300, p, 0, nil, "fec: reading parity: short read at offset"},
		{"parity offset past end", msg, par, 300, p, 512, nil, "fec: reading parity: short read"},
		{"truncated message", bytes.NewReader(f.msg[:299*512+3]), par, 300, p, 0, nil, "fec: reading message block 299: short read at offset 153088 (3 of 512 bytes): unexpected EOF"},
		{"wrong block count", msg, par, 301, p, 0, nil, "fec: reading message block 300"},
	} {
		_, err := Correct(tc.msg, tc.blocks, tc.par, tc.off, tc.p, tc.erasures)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// CorrectErasures without erasures examines nothing.
	res, err := CorrectErasures(msg, 300, par, 0, p, nil)
	if err != nil || !res.OK() || res.Checked != 0 {
		t.Fatalf("CorrectErasures(nil): %v %+v", err, res)
	}
}

// BenchmarkCorrect measures a full check of a clean 64 MiB message (the
// Correct path re-encodes everything and compares it with the stored
// parity), and the rebuilding of 8 erased blocks.
func BenchmarkCorrect(b *testing.B) {
	const size = 64 << 20
	rng := rand.New(rand.NewPCG(9, 10))
	msg := randomBytes(rng, size)
	p := Params{BlockSize: 4096, Roots: 2}
	out := &memFile{}
	if err := Encode(bytes.NewReader(msg), size/4096, p, out, 0); err != nil {
		b.Fatal(err)
	}
	b.Run("check", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			res, err := Correct(bytes.NewReader(msg), size/4096, bytes.NewReader(out.buf), 0, p, nil)
			if err != nil || !res.OK() {
				b.Fatal(err)
			}
		}
	})
	b.Run("erasures", func(b *testing.B) {
		erasures := []uint64{0, 1, 2, 3, 1000, 5000, 9000, 16383}
		for b.Loop() {
			res, err := CorrectErasures(bytes.NewReader(msg), size/4096, bytes.NewReader(out.buf), 0, p, erasures)
			if err != nil || !res.OK() || len(res.Blocks) != len(erasures) {
				b.Fatal(err)
			}
		}
	})
}
