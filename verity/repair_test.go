package verity

import (
	"bytes"
	"os"
	"testing"
)

func correctable(p Problem) string {
	switch {
	case p.Correctable == nil:
		return "unset"
	case *p.Correctable:
		return "yes"
	}
	return "no"
}

// 129 blocks, roots 2: the message is 129 data + 3 tree blocks in one
// round, so any two damaged blocks can be rebuilt, not three.

func TestRepairDataAndHash(t *testing.T) {
	f := newFixture(t, 129, Layout{FECPath: "fec", FECRoots: 2})
	flip(t, f.dev.DataPath, 5*4096+7)
	flip(t, f.dev.HashPath, 3*4096+3) // leaf hash block 1: data block 128 unverifiable
	rep := f.verify(t, nil)
	if err := f.dev.CheckFEC(rep, f.root); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep,
		problem{HashBlockDamaged, DeviceHash, 0, 1, 3 * 4096},
		problem{DataBlockDamaged, DeviceData, -1, 5, 5 * 4096},
		problem{Unverifiable, DeviceData, -1, 128, 128 * 4096})
	for _, p := range rep.Problems {
		if correctable(p) != "yes" {
			t.Errorf("%v: correctable %s, want yes", p, correctable(p))
		}
	}
	res, err := f.dev.Repair(f.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != "" || res.After == nil || !res.After.OK {
		t.Fatalf("repair: %+v", res)
	}
	data, _ := os.ReadFile(f.dev.DataPath)
	hash, _ := os.ReadFile(f.dev.HashPath)
	if !bytes.Equal(data, f.data) || !bytes.Equal(hash, f.hash) {
		t.Fatal("repair did not restore the original bytes")
	}
}

func TestRepairRefusesBeyondParity(t *testing.T) {
	f := newFixture(t, 129, Layout{FECPath: "fec", FECRoots: 2})
	for _, b := range []int64{1, 50, 100} {
		flip(t, f.dev.DataPath, b*4096)
	}
	damagedData, _ := os.ReadFile(f.dev.DataPath)
	rep := f.verify(t, nil)
	if err := f.dev.CheckFEC(rep, f.root); err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 3 {
		t.Fatalf("problems: %v", rep.Problems)
	}
	for _, p := range rep.Problems {
		if correctable(p) != "no" {
			t.Errorf("%v: correctable %s, want no", p, correctable(p))
		}
	}
	res, err := f.dev.Repair(f.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused == "" {
		t.Fatal("repair of three erasures with two roots was not refused")
	}
	if data, _ := os.ReadFile(f.dev.DataPath); !bytes.Equal(data, damagedData) {
		t.Fatal("a refused repair wrote to the data device")
	}
}

func TestRepairManyRounds(t *testing.T) {
	// 16385 data blocks + 132 tree blocks, roots 24: 231 message bytes
	// per codeword, 72 rounds; blocks j and j+72 share a round. Block 146
	// lies under the damaged leaf hash block 1, so it is only located
	// by the decoder.
	f := newFixture(t, 16385, Layout{FECPath: "fec", FECRoots: 24})
	for _, b := range []int64{0, 72, 144, 146, 9000, 16384} {
		flip(t, f.dev.DataPath, b*4096+100)
	}
	flip(t, f.dev.HashPath, 5*4096+64) // a leaf hash block
	res, err := f.dev.Repair(f.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != "" || !res.After.OK {
		t.Fatalf("repair refused: %s %v", res.Refused, res.Before.Problems)
	}
	data, _ := os.ReadFile(f.dev.DataPath)
	hash, _ := os.ReadFile(f.dev.HashPath)
	if !bytes.Equal(data, f.data) || !bytes.Equal(hash, f.hash) {
		t.Fatal("repair did not restore the original bytes")
	}
}

func TestRepairParityOnHashDevice(t *testing.T) {
	// FEC area in the hash file after the tree, as --fec-device=HASH
	// --fec-offset does.
	f := newFixture(t, 129, Layout{FECPath: "hash", FECOffset: 8 * 4096, FECRoots: 4})
	flip(t, f.dev.DataPath, 64*4096)
	res, err := f.dev.Repair(f.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != "" || !res.After.OK {
		t.Fatalf("repair: %+v", res)
	}
	data, _ := os.ReadFile(f.dev.DataPath)
	if !bytes.Equal(data, f.data) {
		t.Fatal("not restored")
	}
}

func TestRepairWrongRootHash(t *testing.T) {
	f := newFixture(t, 129, Layout{FECPath: "fec", FECRoots: 2})
	f.root[3] ^= 1
	res, err := f.dev.Repair(f.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused == "" {
		t.Fatal("repair against a wrong root hash was not refused")
	}
}

func TestParityDamage(t *testing.T) {
	f := newFixture(t, 129, Layout{FECPath: "fec", FECRoots: 2})
	orig, _ := os.ReadFile(f.dev.Layout.FECPath)
	// Parity byte 5000 belongs to codeword 2500, in parity block 1.
	flip(t, f.dev.Layout.FECPath, 5000)
	rep := f.verify(t, nil)
	if !rep.OK {
		t.Fatalf("tree check: %v", rep.Problems)
	}
	if err := f.dev.CheckFEC(rep, f.root); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, problem{ParityDamaged, DeviceFEC, -1, 1, 4096})
	res, err := f.dev.Repair(f.root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Repaired) != 1 || !res.After.OK {
		t.Fatalf("parity repair: %+v", res)
	}
	if now, _ := os.ReadFile(f.dev.Layout.FECPath); !bytes.Equal(now, orig) {
		t.Fatal("parity not restored")
	}
}
