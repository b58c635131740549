package verity

import (
	"bytes"
	"testing"
)

// FuzzUnmarshalSuperblock: any bytes decode to valid parameters or a
// SuperblockError, never a panic; what decodes re-encodes to the same
// superblock.
func FuzzUnmarshalSuperblock(f *testing.F) {
	p := DefaultParams()
	p.DataBlocks = 129
	p.Salt = testSalt
	sb, _ := MarshalSuperblock(&p)
	f.Add(sb)
	f.Add(sb[:100])
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := UnmarshalSuperblock(b)
		if err != nil {
			if _, ok := err.(*SuperblockError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		again, err := MarshalSuperblock(q)
		if err != nil {
			t.Fatalf("decoded parameters do not re-encode: %v", err)
		}
		q2, err := UnmarshalSuperblock(again)
		if err != nil || q2.DataBlocks != q.DataBlocks || !bytes.Equal(q2.Salt, q.Salt) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzVerify: a verifier fed arbitrary hash devices, data and parameters
// reports problems and never panics; intact input always verifies.
func FuzzVerify(f *testing.F) {
	f.Add(uint16(3), uint8(1), uint8(0), []byte("tree"), []byte("data"), uint16(0))
	f.Add(uint16(1), uint8(0), uint8(2), []byte{}, []byte{1, 2, 3}, uint16(9))
	f.Fuzz(func(t *testing.T, blocks uint16, version uint8, alg uint8, hashBytes, dataSeed []byte, flipAt uint16) {
		n := int(blocks%40) + 1
		p := Params{HashType: uint32(version % 2), Algorithm: []string{"sha256", "sha512", "sha1"}[alg%3],
			DataBlockSize: 512, HashBlockSize: 512, DataBlocks: uint64(n), Salt: dataSeed[:min(len(dataSeed), 8)]}
		data := &memDev{make([]byte, n*512)}
		for i := range data.b {
			if len(dataSeed) > 0 {
				data.b[i] = dataSeed[i%len(dataSeed)] ^ byte(i)
			}
		}
		hashDev := &memDev{make([]byte, 64*512)}
		root, err := Format(data, hashDev, &p, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(data, hashDev, &p, 0, root, nil)
		if err != nil || !rep.OK {
			t.Fatalf("intact device: %v %+v", err, rep)
		}
		// Arbitrary hash device contents, then one flipped data byte.
		copy(hashDev.b, hashBytes)
		data.b[int(flipAt)%len(data.b)] ^= 0x40
		short := &memDev{hashDev.b[:min(len(hashBytes), len(hashDev.b))]}
		for _, h := range []*memDev{hashDev, short} {
			rep, err = Verify(data, h, &p, 0, root, &VerifyOptions{HashSize: int64(len(h.b))})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK {
				t.Fatal("damaged device verified")
			}
		}
	})
}
