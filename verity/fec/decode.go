package fec

// Errors-and-erasures Reed-Solomon decoding of one 255-byte codeword.
//
// Symbol positions p = 0..254 follow the codeword order: the rsn message bytes
// first, then the roots parity bytes. Position p is the coefficient of
// x^(254−p), so its locator is X = α^(254−p). With first consecutive root 0
// the syndromes are S_j = r(α^j) = Σ Y_k·X_k^j for j < roots.

// maxPoly is the capacity of the decoder's polynomial arrays: a locator of
// degree up to MaxRoots, plus one coefficient of slack for the x·B shift.
const maxPoly = MaxRoots + 2

// decoder holds the per-goroutine scratch space of the codeword decoder.
type decoder struct {
	roots int

	// Errata found by the last decode: positions and values (the value is
	// XORed into the received symbol to correct it).
	pos []int
	val []byte
}

func newDecoder(roots int) *decoder {
	return &decoder{
		roots: roots,
		pos:   make([]int, 0, roots),
		val:   make([]byte, 0, roots),
	}
}

// locatorLog returns log_α of the locator of position p.
func locatorLog(p int) int { return 254 - p }

// paritySyndromes computes the syndromes of a codeword that is zero except in
// its parity positions, where it holds diff (roots bytes). After re-encoding
// the received message, received − re-encoded is such a word, and since the
// re-encoded word is a codeword it has the received word's syndromes.
func paritySyndromes(diff []byte, synd []byte) (nonzero bool) {
	roots := len(diff)
	clear(synd[:roots])
	for k, d := range diff {
		if d == 0 {
			continue
		}
		// Parity byte k is the coefficient of x^(roots−1−k).
		deg := roots - 1 - k
		ld := int(gf.log[d])
		e := 0
		for j := 0; j < roots; j++ {
			synd[j] ^= gf.exp[ld+e]
			e += deg
			if e >= 255 {
				e -= 255
			}
		}
		nonzero = true
	}
	return nonzero
}

// erasureLocator returns Γ(x) = ∏ (1 + X_k·x) over the erased positions.
// It needs len(erasures) <= MaxRoots; the caller rejects more.
func erasureLocator(erasures []int) (g [maxPoly]byte) {
	g[0] = 1
	if len(erasures) > MaxRoots {
		return g
	}
	for n, p := range erasures {
		lx := locatorLog(p)
		for i := n + 1; i > 0; i-- {
			g[i] ^= gf.mulExp(g[i-1], lx)
		}
	}
	return g
}

// decode finds the errata of a codeword with syndromes synd (roots bytes), the
// erased positions erasures (distinct, at most roots of them) whose erasure
// locator is gamma, and valid(p) telling which positions may hold a non-zero
// symbol (positions of blocks past the end of the message are known zeros).
// On success it returns true and leaves the errata in d.pos and d.val.
//
// It fails (returns false) whenever the result cannot be trusted: more
// errata than the code can correct (2·errors + erasures > roots), a locator
// whose roots are not all distinct valid positions, or a correction that
// does not clear the syndromes.
func (d *decoder) decode(synd []byte, erasures []int, gamma *[maxPoly]byte, valid func(p int) bool) bool {
	roots := d.roots
	f := len(erasures)
	d.pos, d.val = d.pos[:0], d.val[:0]
	if f > roots {
		return false
	}

	// Berlekamp–Massey, initialised with the erasure locator.
	lambda := *gamma
	b := *gamma
	var t [maxPoly]byte
	l := f
	changed := false
	for r := f; r < roots; r++ {
		var delta byte
		for i := 0; i <= r && i <= roots; i++ {
			delta ^= gf.mul(lambda[i], synd[r-i])
		}
		if delta == 0 {
			copy(b[1:], b[:maxPoly-1])
			b[0] = 0
			continue
		}
		changed = true
		// t = λ + Δ·x·B
		t[0] = lambda[0]
		for i := 1; i < maxPoly; i++ {
			t[i] = lambda[i] ^ gf.mul(delta, b[i-1])
		}
		if 2*l <= r+f {
			l = r + 1 + f - l
			for i := range b {
				b[i] = gf.div(lambda[i], delta)
			}
		} else {
			copy(b[1:], b[:maxPoly-1])
			b[0] = 0
		}
		lambda = t
	}
	deg := 0
	for i := maxPoly - 1; i > 0; i-- {
		if lambda[i] != 0 {
			deg = i
			break
		}
	}
	// deg errata, f of them erasures: 2·(deg−f) + f must fit in roots.
	if deg != l || deg < f || 2*deg-f > roots {
		return false
	}

	// Locate the errata.
	if !changed {
		// λ = Γ: the errata are exactly the erasures.
		d.pos = append(d.pos, erasures...)
	} else {
		// Chien search over all 255 positions: λ(X⁻¹) = 0, and
		// X⁻¹ = α^(p+1 mod 255).
		var lg [maxPoly]int
		for i := 0; i <= deg; i++ {
			lg[i] = -1
			if lambda[i] != 0 {
				lg[i] = int(gf.log[lambda[i]])
			}
		}
		for p := 0; p < 255 && len(d.pos) <= deg; p++ {
			e := p + 1
			if e == 255 {
				e = 0
			}
			var s byte
			ie := 0 // i·e mod 255
			for i := 0; i <= deg; i++ {
				if lg[i] >= 0 {
					s ^= gf.exp[lg[i]+ie]
				}
				ie += e
				if ie >= 255 {
					ie -= 255
				}
			}
			if s == 0 {
				if len(d.pos) == deg {
					return false // more roots than the degree: impossible
				}
				d.pos = append(d.pos, p)
			}
		}
		if len(d.pos) != deg {
			return false
		}
	}
	for _, p := range d.pos {
		if !valid(p) {
			return false
		}
	}
	// Every erasure must be among the errata (possibly with value zero),
	// or the bound checked above does not hold.
	if changed {
		for _, p := range erasures {
			if !isIn(p, d.pos) {
				return false
			}
		}
	}

	// Forney: with first root 0, Y = X·Ω(X⁻¹)/λ'(X⁻¹), where
	// Ω(x) = S(x)·λ(x) mod x^roots.
	var omega [MaxRoots]byte
	for i := 0; i < roots; i++ {
		var s byte
		for j := 0; j <= i && j <= deg; j++ {
			s ^= gf.mul(synd[i-j], lambda[j])
		}
		omega[i] = s
	}
	for _, p := range d.pos {
		lx := locatorLog(p)
		linv := (255 - lx) % 255 // log of X⁻¹
		var num, den byte
		e := 0
		for i := 0; i < roots; i++ {
			num ^= gf.mulExp(omega[i], e)
			e += linv
			if e >= 255 {
				e -= 255
			}
		}
		// λ'(x) = Σ_{i odd} λ_i x^(i−1) in characteristic 2.
		e = 0
		step := (2 * linv) % 255
		for i := 1; i <= deg; i += 2 {
			den ^= gf.mulExp(lambda[i], e)
			e += step
			if e >= 255 {
				e -= 255
			}
		}
		if den == 0 {
			return false
		}
		d.val = append(d.val, gf.mulExp(gf.div(num, den), lx))
	}

	// Self-check: removing the errata must clear every syndrome.
	var check [MaxRoots]byte
	copy(check[:roots], synd)
	for k, p := range d.pos {
		y := d.val[k]
		if y == 0 {
			continue
		}
		lx := locatorLog(p)
		e := 0
		for j := 0; j < roots; j++ {
			check[j] ^= gf.mulExp(y, e)
			e += lx
			if e >= 255 {
				e -= 255
			}
		}
	}
	for _, s := range check[:roots] {
		if s != 0 {
			return false
		}
	}
	// A located error (not an erasure) of value zero means the locator
	// is not the minimal one BM yields within the code's capacity.
	for k, p := range d.pos {
		if d.val[k] == 0 && !isIn(p, erasures) {
			return false
		}
	}
	return true
}

func isIn(p int, s []int) bool {
	for _, q := range s {
		if q == p {
			return true
		}
	}
	return false
}
