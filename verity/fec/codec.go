package fec

import "encoding/binary"

// codec is a table-driven systematic Reed-Solomon encoder for one number of
// roots. It computes exactly what Phil Karn's encode_rs_char computes with
// init_rs_char(8, 0x11d, 0, 1, roots, 0): the remainder of m(x)·x^roots
// divided by the generator polynomial, where the first message byte is the
// highest-degree coefficient and the first parity byte is the highest-degree
// coefficient of the remainder.
//
// The encoder runs many codewords side by side. The LFSR register of each
// codeword (roots bytes) is packed little-endian into words uint64s: byte m
// of the register is parity[m], so parity[0], the byte that is fed back, is
// the low byte of the first word. One step for message byte d is
//
//	f := d ^ parity[0]
//	parity[m] = parity[m+1] ^ f·g[roots-1-m]   (parity[roots] = 0)
//
// which, packed, is a right shift of the register by one byte XORed with a
// precomputed 256-entry table of f·g.
type codec struct {
	roots int
	rsn   int // message bytes per codeword: 255 - roots
	words int // uint64 words of register per codeword: ceil(roots/8)
	gen   []byte

	t1 *[256]uint64
	t2 *[256][2]uint64
	t3 *[256][3]uint64
}

func newCodec(roots int) *codec {
	c := &codec{
		roots: roots,
		rsn:   255 - roots,
		words: (roots + 7) / 8,
		gen:   generator(roots),
	}
	var tab [256][3]uint64
	for f := 0; f < 256; f++ {
		for m := 0; m < roots; m++ {
			v := gf.mul(byte(f), c.gen[roots-1-m])
			tab[f][m/8] |= uint64(v) << (8 * (m % 8))
		}
	}
	switch c.words {
	case 1:
		c.t1 = new([256]uint64)
		for f := range tab {
			c.t1[f] = tab[f][0]
		}
	case 2:
		c.t2 = new([256][2]uint64)
		for f := range tab {
			c.t2[f] = [2]uint64{tab[f][0], tab[f][1]}
		}
	default:
		c.t3 = &tab
	}
	return c
}

// stateLen is the number of uint64s of register for span codewords.
func (c *codec) stateLen(span int) int { return span * c.words }

// step feeds one message byte to each of len(row) codewords: row[b] goes to
// codeword b, whose register is st[b*words:(b+1)*words].
func (c *codec) step(st []uint64, row []byte) {
	switch c.words {
	case 1:
		// The common case (veritysetup's default is 2 roots): eight
		// codewords per iteration, with one load of message bytes.
		st = st[:len(row)]
		t := c.t1
		n := len(row) &^ 7
		for b := 0; b < n; b += 8 {
			d := binary.LittleEndian.Uint64(row[b:])
			s := st[b : b+8 : b+8]
			s0, s1, s2, s3 := s[0], s[1], s[2], s[3]
			s[0] = s0>>8 ^ t[byte(d)^byte(s0)]
			s[1] = s1>>8 ^ t[byte(d>>8)^byte(s1)]
			s[2] = s2>>8 ^ t[byte(d>>16)^byte(s2)]
			s[3] = s3>>8 ^ t[byte(d>>24)^byte(s3)]
			s4, s5, s6, s7 := s[4], s[5], s[6], s[7]
			s[4] = s4>>8 ^ t[byte(d>>32)^byte(s4)]
			s[5] = s5>>8 ^ t[byte(d>>40)^byte(s5)]
			s[6] = s6>>8 ^ t[byte(d>>48)^byte(s6)]
			s[7] = s7>>8 ^ t[byte(d>>56)^byte(s7)]
		}
		for b := n; b < len(row); b++ {
			s := st[b]
			st[b] = s>>8 ^ t[row[b]^byte(s)]
		}
	case 2:
		st = st[:2*len(row)]
		t := c.t2
		for b, d := range row {
			r := st[2*b : 2*b+2 : 2*b+2]
			s0, s1 := r[0], r[1]
			v := &t[d^byte(s0)]
			r[0] = (s0>>8 | s1<<56) ^ v[0]
			r[1] = s1>>8 ^ v[1]
		}
	default:
		st = st[:3*len(row)]
		t := c.t3
		for b, d := range row {
			r := st[3*b : 3*b+3 : 3*b+3]
			s0, s1, s2 := r[0], r[1], r[2]
			v := &t[d^byte(s0)]
			r[0] = (s0>>8 | s1<<56) ^ v[0]
			r[1] = (s1>>8 | s2<<56) ^ v[1]
			r[2] = s2>>8 ^ v[2]
		}
	}
}

// emit writes the parity of the span codewords whose registers are in st:
// roots bytes per codeword, codeword after codeword, into out.
func (c *codec) emit(st []uint64, out []byte) {
	span := len(out) / c.roots
	for b := 0; b < span; b++ {
		p := out[b*c.roots : (b+1)*c.roots]
		r := st[b*c.words : (b+1)*c.words]
		for m := range p {
			p[m] = byte(r[m/8] >> (8 * (m % 8)))
		}
	}
}

// encode computes the parity of a single codeword (a reference for the
// tests); msg must hold rsn bytes and parity roots bytes.
func (c *codec) encode(msg, parity []byte) {
	st := make([]uint64, c.words)
	for _, d := range msg[:c.rsn] {
		c.step(st, []byte{d})
	}
	c.emit(st, parity[:c.roots])
}
