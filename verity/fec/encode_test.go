package fec

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// memFile is an in-memory io.ReaderAt and io.WriterAt that grows on write.
type memFile struct {
	mu  sync.Mutex
	buf []byte
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(m.buf)) {
		return 0, io.EOF
	}
	n := copy(p, m.buf[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(m.buf)) {
		m.buf = append(m.buf, make([]byte, end-int64(len(m.buf)))...)
	}
	return copy(m.buf[off:], p), nil
}

// slowEncode is an independent reference: the remainder of m(x)·x^roots
// modulo the generator, by schoolbook polynomial long division.
func slowEncode(roots int, msg []byte) []byte {
	g := generator(roots) // monic, g[roots] = 1
	rsn := 255 - roots
	// Dividend coefficients from the highest degree: msg then roots zeros.
	rem := make([]byte, rsn+roots)
	copy(rem, msg[:rsn])
	for i := 0; i < rsn; i++ {
		c := rem[i]
		if c == 0 {
			continue
		}
		// Subtract c·x^(…)·g(x); rem[i+t] is the coefficient matching
		// g[roots-t].
		for t := 0; t <= roots; t++ {
			rem[i+t] ^= gf.mul(c, g[roots-t])
		}
	}
	return rem[rsn:]
}

// refParity computes the whole parity area the slow way, straight from the
// definition (cryptsetup's FEC_process_inputs).
func refParity(msg []byte, msgBlocks uint64, p Params) []byte {
	bs := p.BlockSize
	rsn := 255 - p.Roots
	rounds := p.Rounds(msgBlocks)
	out := make([]byte, 0, p.ParityBlocks(msgBlocks)*uint64(bs))
	cw := make([]byte, rsn)
	for n := uint64(0); n < rounds; n++ {
		for b := 0; b < bs; b++ {
			for i := 0; i < rsn; i++ {
				j := n + uint64(i)*rounds
				cw[i] = 0
				if j < msgBlocks {
					cw[i] = msg[j*uint64(bs)+uint64(b)]
				}
			}
			out = append(out, slowEncode(p.Roots, cw)...)
		}
	}
	return out
}

func TestGenerator(t *testing.T) {
	// (x − 1)(x − α) = x² + 3x + 2 in GF(2^8).
	if g := generator(2); !bytes.Equal(g, []byte{2, 3, 1}) {
		t.Fatalf("generator(2) = %v", g)
	}
	for roots := MinRoots; roots <= MaxRoots; roots++ {
		g := generator(roots)
		if g[roots] != 1 {
			t.Fatalf("generator(%d) not monic", roots)
		}
		for i := 0; i < roots; i++ {
			// Evaluate g at α^i.
			var v byte
			for k := roots; k >= 0; k-- {
				v = gf.mul(v, gf.pow(i)) ^ g[k]
			}
			if v != 0 {
				t.Fatalf("generator(%d)(α^%d) = %d", roots, i, v)
			}
		}
	}
}

func TestField(t *testing.T) {
	if gf.exp[8] != 0x1d || gf.exp[255] != 1 {
		t.Fatalf("α^8 = %#x, α^255 = %#x", gf.exp[8], gf.exp[255])
	}
	for a := 1; a < 256; a++ {
		for b := 1; b < 256; b++ {
			// Carry-less multiplication reduced by 0x11d.
			var p int
			for i := 0; i < 8; i++ {
				if b&(1<<i) != 0 {
					p ^= a << i
				}
			}
			for i := 15; i >= 8; i-- {
				if p&(1<<i) != 0 {
					p ^= fieldPoly << (i - 8)
				}
			}
			if got := gf.mul(byte(a), byte(b)); got != byte(p) {
				t.Fatalf("%d·%d = %d, want %d", a, b, got, p)
			}
			if gf.div(byte(p), byte(b)) != byte(a) {
				t.Fatalf("%d/%d != %d", p, b, a)
			}
		}
	}
}

// TestEncodeKnownAnswer checks the codeword encoder against vectors worked
// out by hand for roots = 2, where g(x) = x² + 3x + 2.
func TestEncodeKnownAnswer(t *testing.T) {
	c := newCodec(2)
	msg := make([]byte, c.rsn)
	par := make([]byte, 2)
	cases := []struct {
		last2 [2]byte // the two lowest-degree message bytes
		want  [2]byte
	}{
		{[2]byte{0, 0}, [2]byte{0, 0}},
		// m = 1: x² mod g = 3x + 2.
		{[2]byte{0, 1}, [2]byte{3, 2}},
		// m = x: x³ = x·(3x + 2) = 3x² + 2x = 3(3x + 2) + 2x = 7x + 6.
		{[2]byte{1, 0}, [2]byte{7, 6}},
		// m = x + 1: linear.
		{[2]byte{1, 1}, [2]byte{7 ^ 3, 6 ^ 2}},
	}
	for _, tc := range cases {
		msg[c.rsn-2], msg[c.rsn-1] = tc.last2[0], tc.last2[1]
		c.encode(msg, par)
		if [2]byte(par) != tc.want {
			t.Errorf("msg …%v: parity %v, want %v", tc.last2, par, tc.want)
		}
	}
	// m = x^252 (msg[0] = 1, the highest degree).
	clear(msg)
	msg[0] = 1
	c.encode(msg, par)
	if want := slowEncode(2, msg); !bytes.Equal(par, want) {
		t.Errorf("msg[0]=1: %v, want %v", par, want)
	}
}

func TestCodecMatchesLongDivision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for roots := MinRoots; roots <= MaxRoots; roots++ {
		c := newCodec(roots)
		msg := make([]byte, c.rsn)
		par := make([]byte, roots)
		for iter := 0; iter < 20; iter++ {
			for i := range msg {
				msg[i] = byte(rng.UintN(256))
			}
			if iter == 0 {
				clear(msg)
			}
			c.encode(msg, par)
			if want := slowEncode(roots, msg); !bytes.Equal(par, want) {
				t.Fatalf("roots %d: parity %x, want %x", roots, par, want)
			}
			// The full codeword has zero syndromes.
			cw := append(append([]byte{}, msg...), par...)
			for j := 0; j < roots; j++ {
				var s byte
				for _, v := range cw {
					s = gf.mul(s, gf.pow(j)) ^ v
				}
				if s != 0 {
					t.Fatalf("roots %d: syndrome %d = %d", roots, j, s)
				}
			}
		}
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func TestEncodeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		bs     int
		roots  int
		blocks uint64
	}{
		{512, 2, 1},
		{512, 2, 253},
		{512, 2, 254},
		{512, 24, 232},
		{512, 13, 700},
		{4096, 5, 3},
		{1024, 24, 500},
	} {
		p := Params{BlockSize: tc.bs, Roots: tc.roots}
		msg := randomBytes(rng, int(tc.blocks)*tc.bs)
		out := &memFile{}
		if err := Encode(bytes.NewReader(msg), tc.blocks, p, out, 100); err != nil {
			t.Fatal(err)
		}
		want := refParity(msg, tc.blocks, p)
		if got := out.buf[100:]; !bytes.Equal(got, want) {
			t.Errorf("%+v blocks %d: parity differs from reference", p, tc.blocks)
		}
		if uint64(len(out.buf)-100) != p.ParityBlocks(tc.blocks)*uint64(tc.bs) {
			t.Errorf("%+v blocks %d: wrote %d bytes", p, tc.blocks, len(out.buf)-100)
		}
	}
}

// TestEncodeSplitBlocks forces the byte-range split used for very large
// blocks and checks it agrees with the reference.
func TestEncodeSplitBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := Params{BlockSize: 512 << 10, Roots: 3}
	const blocks = 3
	msg := randomBytes(rng, blocks*p.BlockSize)
	l, err := newLayout(bytes.NewReader(msg), blocks, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pl := l.plan(nil, false); pl.pieces == 1 {
		t.Fatalf("512 KiB blocks not split: span %d", pl.span)
	}
	out := &memFile{}
	if err := Encode(bytes.NewReader(msg), blocks, p, out, 0); err != nil {
		t.Fatal(err)
	}
	// Only the first bytes of each block are non-trivial to check with
	// the slow reference, so compare a sample of codewords.
	rsn := 255 - p.Roots
	cw := make([]byte, rsn)
	for _, b := range []int{0, 1, 4095, 4096, 100000, p.BlockSize - 1} {
		clear(cw)
		for j := 0; j < blocks; j++ {
			cw[j] = msg[j*p.BlockSize+b]
		}
		want := slowEncode(p.Roots, cw)
		if got := out.buf[b*p.Roots : (b+1)*p.Roots]; !bytes.Equal(got, want) {
			t.Fatalf("codeword %d: %x, want %x", b, got, want)
		}
	}
}

func TestParams(t *testing.T) {
	for _, tc := range []struct {
		p    Params
		want string
	}{
		{Params{4096, 2}, ""},
		{Params{512, 24}, ""},
		{Params{512 << 10, 7}, ""},
		{Params{4096, 30}, "fec: roots 30 out of range 2..24"},
		{Params{4096, 1}, "fec: roots 1 out of range 2..24"},
		{Params{4096, 0}, "fec: roots 0 out of range 2..24"},
		{Params{4095, 2}, "fec: block size 4095 is not a power of two from 512 to 524288"},
		{Params{256, 2}, "fec: block size 256 is not a power of two from 512 to 524288"},
		{Params{1 << 20, 2}, "fec: block size 1048576 is not a power of two from 512 to 524288"},
		{Params{0, 2}, "fec: block size 0"},
		{Params{-4096, 2}, "fec: block size -4096"},
	} {
		err := tc.p.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.p, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.p, err, tc.want)
		}
	}
	p := Params{4096, 2}
	for _, tc := range []struct{ blocks, rounds uint64 }{
		{0, 0}, {1, 1}, {253, 1}, {254, 2}, {524288 + 4129, 2089},
		{^uint64(0), ^uint64(0)/253 + 1},
	} {
		if r := p.Rounds(tc.blocks); r != tc.rounds {
			t.Errorf("Rounds(%d) = %d, want %d", tc.blocks, r, tc.rounds)
		}
	}
	// 2 GiB of sha256/4 KiB data: 4178 parity blocks (integrity.md §1.5).
	if got := p.ParityBlocks(524288 + 4129); got != 4178 {
		t.Errorf("ParityBlocks = %d, want 4178", got)
	}
	if got := (Params{4096, 24}).ParityBlocks(232); got != 48 {
		t.Errorf("ParityBlocks = %d, want 48", got)
	}
	if (Params{4096, 255}).Rounds(10) != 0 || (Params{4096, 255}).ParityBlocks(10) != 0 {
		t.Error("invalid roots must give 0 rounds")
	}
}

type failWriter struct{}

func (failWriter) WriteAt(p []byte, off int64) (int, error) { return 0, errors.New("disk full") }

type shortWriter struct{}

func (shortWriter) WriteAt(p []byte, off int64) (int, error) { return len(p) / 2, nil }

type failReader struct{ after int64 }

func (f failReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, errors.New("I/O error")
	}
	return len(p), nil
}

func TestEncodeErrors(t *testing.T) {
	p := Params{BlockSize: 512, Roots: 2}
	msg := bytes.NewReader(make([]byte, 10*512))
	for _, tc := range []struct {
		name   string
		msg    io.ReaderAt
		blocks uint64
		p      Params
		w      io.WriterAt
		off    int64
		want   string
	}{
		{"bad roots", msg, 10, Params{512, 30}, &memFile{}, 0, "fec: roots 30 out of range 2..24"},
		{"bad block size", msg, 10, Params{500, 2}, &memFile{}, 0, "fec: block size 500"},
		{"nil reader", nil, 10, p, &memFile{}, 0, "fec: nil message reader"},
		{"nil writer", msg, 10, p, nil, 0, "fec: nil parity writer"},
		{"empty", msg, 0, p, &memFile{}, 0, "fec: empty message"},
		{"negative offset", msg, 10, p, &memFile{}, -1, "fec: negative parity offset"},
		{"huge", msg, 1 << 62, p, &memFile{}, 0, "fec: message of"},
		{"offset overflow", msg, 10, p, &memFile{}, 1<<63 - 1000, "fec: parity area at offset"},
		{"truncated", msg, 11, p, &memFile{}, 0, "fec: reading message block 10: short read at offset 5120 (0 of 512 bytes): unexpected EOF"},
		{"truncated mid-block", bytes.NewReader(make([]byte, 10*512+100)), 11, p, &memFile{}, 0, "fec: reading message block 10: short read at offset 5120 (100 of 512 bytes)"},
		{"io error", failReader{after: 2048}, 10, p, &memFile{}, 0, "fec: reading message block"},
		{"write error", msg, 10, p, failWriter{}, 0, "fec: writing parity at offset 0: disk full"},
		{"short write", msg, 10, p, shortWriter{}, 0, "fec: writing parity at offset 0: short write"},
	} {
		err := Encode(tc.msg, tc.blocks, tc.p, tc.w, tc.off)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestEncodeManyRoundsParallel(t *testing.T) {
	// Enough rounds to give every worker several batches, checked against
	// a single-codeword re-encode of a sample.
	rng := rand.New(rand.NewPCG(7, 8))
	p := Params{BlockSize: 512, Roots: 4}
	const blocks = 251*40 + 17
	msg := randomBytes(rng, blocks*p.BlockSize)
	out := &memFile{}
	if err := Encode(bytes.NewReader(msg), blocks, p, out, 0); err != nil {
		t.Fatal(err)
	}
	rounds := p.Rounds(blocks)
	c := newCodec(p.Roots)
	cw := make([]byte, c.rsn)
	par := make([]byte, p.Roots)
	for s := 0; s < 300; s++ {
		n, b := rng.Uint64N(rounds), rng.IntN(p.BlockSize)
		for i := range cw {
			cw[i] = 0
			if j := n + uint64(i)*rounds; j < blocks {
				cw[i] = msg[j*uint64(p.BlockSize)+uint64(b)]
			}
		}
		c.encode(cw, par)
		at := (n*uint64(p.BlockSize) + uint64(b)) * uint64(p.Roots)
		if !bytes.Equal(out.buf[at:at+uint64(p.Roots)], par) {
			t.Fatalf("codeword (%d, %d) differs", n, b)
		}
	}
}

// discard is an io.WriterAt that drops everything.
type discard struct{}

func (discard) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }

func BenchmarkEncode(b *testing.B) {
	const size = 64 << 20
	msg := randomBytes(rand.New(rand.NewPCG(9, 10)), size)
	for _, roots := range []int{2, 8, 16, 24} {
		b.Run("roots="+strconv.Itoa(roots), func(b *testing.B) {
			p := Params{BlockSize: 4096, Roots: roots}
			b.SetBytes(size)
			for b.Loop() {
				if err := Encode(bytes.NewReader(msg), size/4096, p, discard{}, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
