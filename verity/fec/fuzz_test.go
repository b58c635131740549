package fec

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

// FuzzCorrect damages an encoded message in the ways ops describe (6 bytes
// per operation: kind, value, 32-bit target) and runs Correct and
// CorrectErasures on it. They must never panic, must fail only on bad
// input, and must restore exactly every round whose damage is within the
// code's capacity (2·errors + erasures <= roots in each codeword).
func FuzzCorrect(f *testing.F) {
	op := func(kind, val byte, target uint32) []byte {
		b := []byte{kind, val, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(b[2:], target)
		return b
	}
	cat := func(ops ...[]byte) []byte { return bytes.Join(ops, nil) }
	f.Add(uint8(2), uint16(300), uint64(1), []byte{})
	f.Add(uint8(2), uint16(300), uint64(2), cat(op(2, 7, 5), op(2, 9, 6)))
	f.Add(uint8(24), uint16(700), uint64(3), cat(op(2, 1, 1), op(0, 0x40, 12345), op(1, 3, 77)))
	f.Add(uint8(4), uint16(1), uint64(4), cat(op(3, 0, 0)))
	f.Add(uint8(5), uint16(600), uint64(5), cat(op(7, 0xaa, 2), op(4, 0, 1000)))
	f.Add(uint8(3), uint16(260), uint64(6), cat(op(5, 0, 100), op(6, 0, 0)))
	f.Add(uint8(30), uint16(10), uint64(7), []byte{})
	f.Add(uint8(2), uint16(0), uint64(8), []byte{})
	f.Fuzz(func(t *testing.T, roots uint8, blocks uint16, seed uint64, ops []byte) {
		const bs = 512
		p := Params{BlockSize: bs, Roots: int(roots)}
		msgBlocks := uint64(blocks % 800)
		if p.Validate() != nil || msgBlocks == 0 {
			if _, err := Correct(bytes.NewReader(nil), msgBlocks, bytes.NewReader(nil), 0, p, nil); err == nil {
				t.Fatal("invalid parameters accepted")
			}
			return
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		msg := randomBytes(rng, int(msgBlocks)*bs)
		out := &memFile{}
		if err := Encode(bytes.NewReader(msg), msgBlocks, p, out, 0); err != nil {
			t.Fatal(err)
		}
		par := out.buf
		dmsg, dpar := slices.Clone(msg), slices.Clone(par)
		var erasures []uint64
		badInput := false
		if len(ops) > 6*64 {
			ops = ops[:6*64]
		}
		for ; len(ops) >= 6; ops = ops[6:] {
			kind, val, target := ops[0]%8, ops[1], binary.LittleEndian.Uint32(ops[2:6])
			j := uint64(target) % msgBlocks
			switch kind {
			case 0: // flip a message byte
				if len(dmsg) > 0 {
					dmsg[int(target)%len(dmsg)] ^= val
				}
			case 1: // flip a parity byte
				if len(dpar) > 0 {
					dpar[int(target)%len(dpar)] ^= val
				}
			case 2: // erase a block, and overwrite what is left of it
				erasures = append(erasures, j)
				for i := j * bs; i < min((j+1)*bs, uint64(len(dmsg))); i++ {
					dmsg[i] = val + byte(i)
				}
			case 3: // overwrite a block, unannounced
				for i := j * bs; i < min((j+1)*bs, uint64(len(dmsg))); i++ {
					dmsg[i] ^= val * byte(i)
				}
			case 4: // truncate the message
				dmsg = dmsg[:int(target)%(len(dmsg)+1)]
				badInput = true
			case 5: // truncate the parity
				dpar = dpar[:int(target)%(len(dpar)+1)]
				badInput = true
			case 6: // an erasure past the end
				erasures = append(erasures, msgBlocks+uint64(target))
				badInput = true
			case 7: // garbage in a parity block
				if len(dpar) < bs {
					break
				}
				pb := int(target) % (len(dpar) / bs)
				g := rand.New(rand.NewPCG(uint64(target), uint64(val)))
				for i := pb * bs; i < (pb+1)*bs; i++ {
					dpar[i] = byte(g.UintN(256))
				}
			}
		}
		res, err := Correct(bytes.NewReader(dmsg), msgBlocks, bytes.NewReader(dpar), 0, p, erasures)
		res2, err2 := CorrectErasures(bytes.NewReader(dmsg), msgBlocks, bytes.NewReader(dpar), 0, p, erasures)
		if err != nil || err2 != nil {
			if !badInput {
				t.Fatalf("errors on good input: %v / %v", err, err2)
			}
			return
		}
		if len(dmsg) < len(msg) {
			// Only erased blocks may be missing; pad for the checks.
			dmsg = append(dmsg, make([]byte, len(msg)-len(dmsg))...)
		}
		inCapacity := roundsInCapacity(p, msgBlocks, msg, dmsg, par, dpar, erasures)
		for _, r := range []*Result{res, res2} {
			checkFuzzResult(t, p, msgBlocks, msg, erasures, inCapacity, r, r == res2)
		}
	})
}

// roundsInCapacity reports, per round, whether every codeword has
// 2·errors + erasures <= roots.
func roundsInCapacity(p Params, msgBlocks uint64, msg, dmsg, par, dpar []byte, erasures []uint64) []bool {
	bs := uint64(p.BlockSize)
	rounds := p.Rounds(msgBlocks)
	rsn := uint64(255 - p.Roots)
	erased := make([]bool, msgBlocks)
	for _, j := range erasures {
		erased[j] = true
	}
	ok := make([]bool, rounds)
	for n := range rounds {
		ok[n] = true
		for b := uint64(0); b < bs && ok[n]; b++ {
			weight := 0
			for i := uint64(0); i < rsn; i++ {
				j := n + i*rounds
				if j >= msgBlocks {
					break
				}
				switch {
				case erased[j]:
					weight++
				case dmsg[j*bs+b] != msg[j*bs+b]:
					weight += 2
				}
			}
			for k := uint64(0); k < uint64(p.Roots); k++ {
				at := (n*bs+b)*uint64(p.Roots) + k
				if dpar[at] != par[at] {
					weight += 2
				}
			}
			ok[n] = weight <= p.Roots
		}
	}
	return ok
}

func checkFuzzResult(t *testing.T, p Params, msgBlocks uint64, msg []byte, erasures []uint64, inCapacity []bool, res *Result, onlyErased bool) {
	t.Helper()
	bs := uint64(p.BlockSize)
	rounds := p.Rounds(msgBlocks)
	if res.Rounds != rounds {
		t.Fatalf("Rounds %d, want %d", res.Rounds, rounds)
	}
	if !slices.IsSorted(res.Uncorrectable) || !slices.IsSorted(res.ParityBlocks) {
		t.Fatal("result lists not sorted")
	}
	for _, pb := range res.ParityBlocks {
		if pb >= p.ParityBlocks(msgBlocks) {
			t.Fatalf("parity block %d out of range", pb)
		}
	}
	returned := map[uint64]bool{}
	for x, b := range res.Blocks {
		if x > 0 && res.Blocks[x-1].Index >= b.Index {
			t.Fatal("blocks not sorted or not unique")
		}
		if b.Index >= msgBlocks || uint64(len(b.Data)) != bs {
			t.Fatalf("bad block %d (%d bytes)", b.Index, len(b.Data))
		}
		n := b.Index % rounds
		if slices.Contains(res.Uncorrectable, n) {
			t.Fatalf("block %d of uncorrectable round %d returned", b.Index, n)
		}
		if b.Erased != slices.Contains(erasures, b.Index) {
			t.Fatalf("block %d: Erased = %v", b.Index, b.Erased)
		}
		if inCapacity[n] && !bytes.Equal(b.Data, msg[b.Index*bs:(b.Index+1)*bs]) {
			t.Fatalf("block %d of a round within capacity corrected wrongly", b.Index)
		}
		returned[b.Index] = true
	}
	for n, ok := range inCapacity {
		if !ok {
			continue
		}
		hasErasure := false
		for _, j := range erasures {
			if j%rounds == uint64(n) {
				hasErasure = true
			}
		}
		if onlyErased && !hasErasure {
			continue
		}
		if slices.Contains(res.Uncorrectable, uint64(n)) {
			t.Fatalf("round %d within capacity reported uncorrectable", n)
		}
	}
	for _, j := range erasures {
		if inCapacity[j%rounds] && !returned[j] {
			t.Fatalf("erased block %d of a correctable round not returned", j)
		}
	}
}
