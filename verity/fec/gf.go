package fec

// Arithmetic in GF(2^8) with the field polynomial x^8+x^4+x^3+x^2+1 (0x11d)
// and primitive element α = x (= 2), the field used by dm-verity FEC.

const fieldPoly = 0x11d

// field holds the logarithm and antilogarithm tables. It is built once by
// newField and never modified afterwards.
type field struct {
	// exp[i] = α^i for 0 <= i < 510; the table is doubled so that the sum
	// of two logarithms can be looked up without reduction modulo 255.
	exp [510]byte
	// log[a] = i such that α^i = a, for a != 0. log[0] is unused.
	log [256]byte
}

// gf is the immutable GF(2^8) table set shared by the encoder and decoder.
var gf = newField()

func newField() *field {
	f := new(field)
	x := 1
	for i := 0; i < 255; i++ {
		f.exp[i] = byte(x)
		f.exp[i+255] = byte(x)
		f.log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= fieldPoly
		}
	}
	return f
}

// mul returns a·b.
func (f *field) mul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return f.exp[int(f.log[a])+int(f.log[b])]
}

// div returns a/b; b must not be zero.
func (f *field) div(a, b byte) byte {
	if a == 0 {
		return 0
	}
	return f.exp[int(f.log[a])+255-int(f.log[b])]
}

// pow returns α^e for any integer e.
func (f *field) pow(e int) byte {
	e %= 255
	if e < 0 {
		e += 255
	}
	return f.exp[e]
}

// mulExp returns a·α^e for 0 <= e < 255.
func (f *field) mulExp(a byte, e int) byte {
	if a == 0 {
		return 0
	}
	return f.exp[int(f.log[a])+e]
}

// generator returns the coefficients g[0..roots] (g[k] is the coefficient of
// x^k) of the Reed-Solomon generator polynomial ∏_{i<roots} (x − α^i), that
// is first consecutive root 0 and primitive element α^1, as in
// init_rs_char(8, 0x11d, 0, 1, roots, 0).
func generator(roots int) []byte {
	g := make([]byte, roots+1)
	g[0] = 1
	for i := 0; i < roots; i++ {
		a := gf.pow(i)
		// g *= (x + a), from the top down so g[k-1] is still the old value.
		for k := i + 1; k > 0; k-- {
			g[k] = g[k-1] ^ gf.mul(g[k], a)
		}
		g[0] = gf.mul(g[0], a)
	}
	return g
}
