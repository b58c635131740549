package fec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// veritysetup returns the path of the veritysetup binary, or skips the test.
func veritysetup(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("veritysetup"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/veritysetup", "/sbin/veritysetup"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("veritysetup not installed (Debian: apt-get install cryptsetup-bin); the FEC oracle test needs it")
	return ""
}

// TestVeritysetupOracle formats random data with veritysetup and checks that
// Encode produces its FEC file byte for byte, then that Correct accepts it
// and repairs damage against it.
func TestVeritysetupOracle(t *testing.T) {
	vs := veritysetup(t)
	const salt = "e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d"
	rng := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []struct {
		bs         int
		roots      int
		dataBlocks int
		superblock bool
		wantRounds uint64 // expected rounds, as a sanity check of the case
	}{
		{4096, 2, 1, true, 1},
		{4096, 2, 2, false, 1},
		{4096, 2, 129, true, 1},
		{4096, 2, 16385, true, 66},
		{4096, 24, 1, true, 1},
		{4096, 24, 129, false, 1},
		{4096, 24, 700, true, 4},
		{4096, 7, 2000, false, 9},
		{4096, 13, 253, true, 2},
		{512, 2, 1000, true, 5},
		{512, 24, 3000, false, 14},
		{512, 17, 129, true, 1},
		{1024, 5, 1500, false, 7},
	} {
		sb := "sb"
		if !tc.superblock {
			sb = "nosb"
		}
		t.Run(fmt.Sprintf("bs%d-roots%d-blocks%d-%s", tc.bs, tc.roots, tc.dataBlocks, sb), func(t *testing.T) {
			dir := t.TempDir()
			data, hash, fec := filepath.Join(dir, "data"), filepath.Join(dir, "hash"), filepath.Join(dir, "fec")
			content := randomBytes(rng, tc.dataBlocks*tc.bs)
			if err := os.WriteFile(data, content, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"format", data, hash,
				"--fec-device", fec, "--fec-roots", strconv.Itoa(tc.roots),
				"--salt", salt,
				"--uuid", "12345678-1234-1234-1234-123456789abc",
				"--data-block-size", strconv.Itoa(tc.bs), "--hash-block-size", strconv.Itoa(tc.bs)}
			if !tc.superblock {
				args = append(args, "--no-superblock")
			}
			if out, err := exec.Command(vs, args...).CombinedOutput(); err != nil {
				t.Fatalf("veritysetup %v: %v\n%s", args, err, out)
			}
			hashBytes, err := os.ReadFile(hash)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(fec)
			if err != nil {
				t.Fatal(err)
			}
			hashStart := 0
			if tc.superblock {
				hashStart = 1 // ceil(512 / bs) for bs >= 512
			}
			msg := append(content[:tc.dataBlocks*tc.bs:tc.dataBlocks*tc.bs], hashBytes[hashStart*tc.bs:]...)
			msgBlocks := uint64(tc.dataBlocks + len(hashBytes)/tc.bs - hashStart)
			p := Params{BlockSize: tc.bs, Roots: tc.roots}
			if r := p.Rounds(msgBlocks); r != tc.wantRounds {
				t.Fatalf("rounds %d, case expects %d", r, tc.wantRounds)
			}
			if uint64(len(want)) != p.ParityBlocks(msgBlocks)*uint64(tc.bs) {
				t.Fatalf("veritysetup wrote %d bytes of FEC, ParityBlocks says %d blocks", len(want), p.ParityBlocks(msgBlocks))
			}
			out := &memFile{}
			if err := Encode(bytes.NewReader(msg), msgBlocks, p, out, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.buf, want) {
				at := 0
				for at < len(want) && at < len(out.buf) && want[at] == out.buf[at] {
					at++
				}
				t.Fatalf("parity differs from veritysetup's at byte %d (got %d bytes, want %d)", at, len(out.buf), len(want))
			}

			// Correct accepts veritysetup's parity, and repairs erased
			// blocks (data and hash) with it.
			res, err := Correct(bytes.NewReader(msg), msgBlocks, bytes.NewReader(want), 0, p, nil)
			if err != nil || !res.OK() || len(res.Blocks) != 0 || len(res.ParityBlocks) != 0 {
				t.Fatalf("clean check: %v %+v", err, res)
			}
			bad := []uint64{0, msgBlocks - 1}
			damaged := bytes.Clone(msg)
			for _, j := range bad {
				clear(damaged[int(j)*tc.bs : int(j+1)*tc.bs])
			}
			res, err = Correct(bytes.NewReader(damaged), msgBlocks, bytes.NewReader(want), 0, p, bad)
			if err != nil || !res.OK() {
				t.Fatalf("repair: %v %+v", err, res)
			}
			for _, b := range res.Blocks {
				if !bytes.Equal(b.Data, msg[int(b.Index)*tc.bs:int(b.Index+1)*tc.bs]) {
					t.Fatalf("block %d repaired wrongly", b.Index)
				}
			}
		})
	}
}
