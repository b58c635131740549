package verity

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// veritysetup returns the path of the real tool, skipping the test when it
// is missing (the test command installs Debian's cryptsetup-bin).
func veritysetup(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("veritysetup")
	if err != nil {
		for _, p := range []string{"/usr/sbin/veritysetup", "/sbin/veritysetup"} {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		t.Skip("veritysetup not installed (apt-get install cryptsetup-bin)")
	}
	return path
}

var rootHashRE = regexp.MustCompile(`(?m)^Root hash:\s+([0-9a-f]+)$`)

// runVeritysetup runs "veritysetup format" and returns the root hash.
func runVeritysetup(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(veritysetup(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("veritysetup %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := rootHashRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no root hash in veritysetup output:\n%s", out)
	}
	root, _ := hex.DecodeString(string(m[1]))
	return root
}

// writeRandom writes n pseudo-random bytes (deterministic per seed).
func writeRandom(t testing.TB, path string, n int, seed uint64) []byte {
	t.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

type oracleCase struct {
	blocks     int
	alg        string
	format     uint32
	dataBS     uint32
	hashBS     uint32
	salt       string
	noSB       bool
	hashOffset uint64 // > 0: tree in the data file at this offset
	dataBlocks uint64 // --data-blocks, 0: whole file
	fecRoots   int    // > 0: parity in a separate FEC file
}

func (c oracleCase) name() string {
	return fmt.Sprintf("n%d_%s_v%d_d%d_h%d_salt%d_nosb%v_off%d_db%d_fec%d", c.blocks, c.alg, c.format, c.dataBS, c.hashBS, len(c.salt), c.noSB, c.hashOffset, c.dataBlocks, c.fecRoots)
}

func (c oracleCase) run(t *testing.T) {
	dir := t.TempDir()
	dataA := filepath.Join(dir, "a.data")
	dataB := filepath.Join(dir, "b.data")
	content := writeRandom(t, dataA, c.blocks*int(c.dataBS), uint64(c.blocks))
	if err := os.WriteFile(dataB, content, 0o644); err != nil {
		t.Fatal(err)
	}
	hashA, hashB := filepath.Join(dir, "a.hash"), filepath.Join(dir, "b.hash")
	if c.hashOffset > 0 {
		hashA, hashB = dataA, dataB
	}
	uuid := "12345678-1234-1234-1234-123456789abc"
	args := []string{"format", dataA, hashA, "--hash=" + c.alg, fmt.Sprintf("--format=%d", c.format),
		fmt.Sprintf("--data-block-size=%d", c.dataBS), fmt.Sprintf("--hash-block-size=%d", c.hashBS),
		"--salt=" + c.salt, "--uuid=" + uuid}
	if c.noSB {
		args = append(args, "--no-superblock")
	}
	if c.hashOffset > 0 {
		args = append(args, fmt.Sprintf("--hash-offset=%d", c.hashOffset))
	}
	if c.dataBlocks > 0 {
		args = append(args, fmt.Sprintf("--data-blocks=%d", c.dataBlocks))
	}
	fecA, fecB := filepath.Join(dir, "a.fec"), filepath.Join(dir, "b.fec")
	if c.fecRoots > 0 {
		args = append(args, "--fec-device="+fecA, fmt.Sprintf("--fec-roots=%d", c.fecRoots))
	}
	want := runVeritysetup(t, args...)

	salt, err := ParseSalt(c.salt)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := ParseUUID(uuid)
	d := &Device{DataPath: dataB, HashPath: hashB,
		Params: Params{HashType: c.format, Algorithm: c.alg, DataBlockSize: c.dataBS, HashBlockSize: c.hashBS, Salt: salt, UUID: u, DataBlocks: c.dataBlocks},
		Layout: Layout{HashOffset: c.hashOffset, NoSuperblock: c.noSB}}
	if c.fecRoots > 0 {
		d.Layout.FECPath, d.Layout.FECRoots = fecB, c.fecRoots
	}
	res, err := d.Format(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.RootHash, want) {
		t.Fatalf("root hash %x, veritysetup %x", res.RootHash, want)
	}
	a, _ := os.ReadFile(hashA)
	b, _ := os.ReadFile(hashB)
	if !bytes.Equal(a, b) {
		t.Fatalf("hash device differs from veritysetup's at byte %d (sizes %d, %d)", firstDiff(a, b), len(b), len(a))
	}
	if c.fecRoots > 0 {
		fa, _ := os.ReadFile(fecA)
		fb, _ := os.ReadFile(fecB)
		if len(fa) == 0 || !bytes.Equal(fa, fb) {
			t.Fatalf("FEC parity differs from veritysetup's at byte %d (sizes %d, %d)", firstDiff(fa, fb), len(fb), len(fa))
		}
		d.Layout.FECPath = fecA
	}
	// Our verifier accepts what veritysetup wrote.
	d.DataPath, d.HashPath = dataA, hashA
	d.Params = Params{}
	if c.noSB {
		d.Params = res.Params
	}
	rep, err := d.Verify(want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify of veritysetup's tree failed: %v", rep.Problems)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestOracleMatrix compares Format with veritysetup byte for byte over the
// parameter matrix of the issue.
func TestOracleMatrix(t *testing.T) {
	veritysetup(t)
	salt := "e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d"
	var cases []oracleCase
	for _, n := range []int{1, 2, 127, 128, 129, 16385} {
		for _, alg := range []string{"sha256", "sha512", "sha1"} {
			for _, f := range []uint32{0, 1} {
				if n == 16385 && (alg != "sha256" || f != 1) && testing.Short() {
					continue
				}
				cases = append(cases, oracleCase{blocks: n, alg: alg, format: f, dataBS: 4096, hashBS: 4096, salt: salt})
			}
		}
	}
	cases = append(cases,
		oracleCase{blocks: 129, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: "-"},
		oracleCase{blocks: 1000, alg: "sha256", format: 1, dataBS: 512, hashBS: 512, salt: salt},
		oracleCase{blocks: 1000, alg: "sha1", format: 0, dataBS: 512, hashBS: 512, salt: "-"},
		oracleCase{blocks: 1000, alg: "sha512", format: 1, dataBS: 512, hashBS: 4096, salt: "ab"},
		oracleCase{blocks: 300, alg: "sha256", format: 1, dataBS: 4096, hashBS: 1024, salt: salt},
		oracleCase{blocks: 129, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, noSB: true},
		oracleCase{blocks: 129, alg: "sha256", format: 0, dataBS: 4096, hashBS: 4096, salt: "-", noSB: true},
		oracleCase{blocks: 200, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, hashOffset: 129 * 4096, dataBlocks: 129},
		oracleCase{blocks: 200, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, hashOffset: 129 * 4096, dataBlocks: 129, noSB: true},
		oracleCase{blocks: 300, alg: "sha1", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, dataBlocks: 257},
		oracleCase{blocks: 129, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, fecRoots: 2},
		oracleCase{blocks: 16385, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, fecRoots: 2},
		oracleCase{blocks: 16385, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, fecRoots: 24},
		oracleCase{blocks: 1000, alg: "sha512", format: 0, dataBS: 512, hashBS: 512, salt: "-", fecRoots: 24, noSB: true},
		oracleCase{blocks: 1, alg: "sha256", format: 1, dataBS: 4096, hashBS: 4096, salt: salt, fecRoots: 7},
	)
	for _, c := range cases {
		t.Run(c.name(), c.run)
	}
}
