package verity

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	p := DefaultParams()
	p.DataBlocks = 129
	p.Salt = []byte{0, 0xff}
	root := make([]byte, 32)
	root[0] = 0xab
	got, err := p.Table("/dev/vda1", "/dev/vda2", 1, root, TableOptions{OnCorruption: "restart_on_corruption", IgnoreZeroBlocks: true,
		FECDevice: "/dev/vda3", FECStart: 0, FECBlocks: 132, FECRoots: 2, SignatureKeyDesc: "cryptsetup:x"})
	if err != nil {
		t.Fatal(err)
	}
	want := "0 1032 verity 1 /dev/vda1 /dev/vda2 4096 4096 129 1 sha256 ab" + strings.Repeat("00", 31) +
		" 00ff 12 restart_on_corruption ignore_zero_blocks use_fec_from_device /dev/vda3 fec_start 0 fec_blocks 132 fec_roots 2 root_hash_sig_key_desc cryptsetup:x"
	if got != want {
		t.Fatalf("table\n got %s\nwant %s", got, want)
	}
	p.Salt = nil
	got, _ = p.Table("a", "b", 0, root, TableOptions{})
	if !strings.HasSuffix(got, " -") {
		t.Errorf("empty salt not written as '-': %s", got)
	}
	if _, err := p.Table("a b", "c", 0, root, TableOptions{}); err == nil {
		t.Error("device with a space accepted")
	}
	if _, err := p.Table("a", "c", 0, root, TableOptions{OnCorruption: "explode"}); err == nil {
		t.Error("unknown corruption mode accepted")
	}
}
