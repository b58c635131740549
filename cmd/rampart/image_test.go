package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keys makes Ed25519 key pairs NAME.key/NAME.pub in dir.
func keys(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		out := mustRun(t, "image", "keygen", "--out", filepath.Join(dir, n))
		if !strings.Contains(out, "Ed25519 key ") {
			t.Fatalf("keygen: %s", out)
		}
	}
}

// sealed makes an image of blocks 4 KiB blocks in dir/name/guestos.img and
// seals it; it returns the manifest path.
func sealed(t *testing.T, dir, name, version, ri string, blocks int, extra ...string) string {
	t.Helper()
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	b := make([]byte, blocks*4096)
	for i := range b {
		b[i] = byte(i*13 + len(version) + i/4096)
	}
	img := filepath.Join(d, "guestos.img")
	os.WriteFile(img, b, 0o644)
	args := append([]string{"image", "seal", img, "--version", version, "--rollback-index", ri, "--seed", version}, extra...)
	mustRun(t, args...)
	return filepath.Join(d, "guestos.manifest.json")
}

func TestImageSealVerifyInspect(t *testing.T) {
	vs := needTool(t, "veritysetup")
	dir := t.TempDir()
	keys(t, dir, "rel1", "rel2", "other")
	k1, k2 := filepath.Join(dir, "rel1.key"), filepath.Join(dir, "rel2.key")
	if code, _, _ := run(t, "image", "keygen", "--out", filepath.Join(dir, "rel1")); code == 0 {
		t.Fatal("keygen overwrote a key")
	}
	man := sealed(t, dir, "v1", "1.0.0", "3", 100, "--key", k1, "--fec-roots", "2", "--target", "host")
	img := filepath.Join(dir, "v1", "guestos.img")
	mustRun(t, "image", "sign", man, "--key", k2)
	both := filepath.Join(dir, "both.pub")
	p1, _ := os.ReadFile(filepath.Join(dir, "rel1.pub"))
	p2, _ := os.ReadFile(filepath.Join(dir, "rel2.pub"))
	os.WriteFile(both, append(p1, p2...), 0o644)
	out := mustRun(t, "image", "verify", img, man, "--trust", both, "--threshold", "2")
	if !strings.Contains(out, "2 valid of 2 required") || !strings.Contains(out, "Verified 100 data blocks") {
		t.Fatalf("verify: %s", out)
	}
	// An untrusted key: exit 1, with the reason.
	code, out, _ := run(t, "image", "verify", img, man, "--trust", filepath.Join(dir, "other.pub"))
	if code != 1 || !strings.Contains(out, "unknown key") {
		t.Fatalf("untrusted: %d %s", code, out)
	}
	// inspect in words and JSON; veritysetup accepts the parameters the
	// manifest states.
	out = mustRun(t, "image", "inspect", man)
	for _, want := range []string{"Image guestos 1.0.0 for host nodes, rollback index 3", "100 data blocks of 4096 bytes", "Reed-Solomon, 2 roots", "no time recorded"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	var facts struct {
		Veritysetup []string `json:"veritysetup_verify"`
		Signatures  []string
	}
	if err := json.Unmarshal([]byte(mustRun(t, "image", "inspect", "--json", man)), &facts); err != nil || len(facts.Signatures) != 2 {
		t.Fatalf("inspect --json: %v %+v", err, facts)
	}
	cmd := exec.Command(vs, facts.Veritysetup[1:]...)
	cmd.Dir = filepath.Dir(man)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", facts.Veritysetup, err, b)
	}
	// Damage: exit 1 and the verity engine's corruption map.
	b, _ := os.ReadFile(img)
	b[42*4096+7] ^= 1
	os.WriteFile(img, b, 0o644)
	code, out, _ = run(t, "image", "verify", img, man, "--trust", both)
	if code != 1 || !strings.Contains(out, "data-block-damaged") || !strings.Contains(out, "172032") {
		t.Fatalf("damaged image: %d %s", code, out)
	}
	code, out, _ = run(t, "image", "verify", "--json", img, man, "--trust", both)
	var rep struct {
		OK   bool
		Tree struct{ Problems []struct{ Block uint64 } }
	}
	if json.Unmarshal([]byte(out), &rep); code != 1 || rep.OK || len(rep.Tree.Problems) != 1 || rep.Tree.Problems[0].Block != 42 {
		t.Fatalf("json: %d %s", code, out)
	}
	// A changed manifest: exit 1.
	mb, _ := os.ReadFile(man)
	os.WriteFile(man, bytes.Replace(mb, []byte(`"rollback_index":3`), []byte(`"rollback_index":9`), 1), 0o644)
	if code, out, _ := run(t, "image", "verify", img, man, "--trust", both); code != 1 || !strings.Contains(out, "the document was changed") {
		t.Fatalf("changed manifest: exit %d %s", code, out)
	}
}

func TestImageReproducible(t *testing.T) {
	dir := t.TempDir()
	keys(t, dir, "rel")
	k := filepath.Join(dir, "rel.key")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	m1 := sealed(t, dir, "a", "2.0.0", "1", 30, "--key", k, "--fec-roots", "2")
	m2 := sealed(t, dir, "b", "2.0.0", "1", 30, "--key", k, "--fec-roots", "2")
	for _, f := range []string{"guestos.manifest.json", "guestos.verity", "guestos.roothash"} {
		a, _ := os.ReadFile(filepath.Join(filepath.Dir(m1), f))
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(m2), f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two seals", f)
		}
	}
	if b, _ := os.ReadFile(m1); !bytes.Contains(b, []byte(`"time":"2023-11-14T22:13:20Z"`)) {
		t.Errorf("SOURCE_DATE_EPOCH not used: %s", b)
	}
}

func TestImageUsageErrors(t *testing.T) {
	dir := t.TempDir()
	keys(t, dir, "rel")
	img := filepath.Join(dir, "x.img")
	os.WriteFile(img, make([]byte, 8192), 0o644)
	k := filepath.Join(dir, "rel.key")
	for _, args := range [][]string{
		{"image", "seal", img, "--key", k},
		{"image", "seal", img, "--version", "1.0.0"},
		{"image", "seal", img, "--key", k, "--version", "1.0.0", "--cert", "c.pem"},
		{"image", "seal", img, "--key", filepath.Join(dir, "rel.pub"), "--version", "1.0.0"},
		{"image", "keygen"},
		{"image", "verify", img},
		{"image", "verify", img, "m.json"},
		{"image", "sign", filepath.Join(dir, "missing.json"), "--key", k},
		{"bundle", "install", "x.bundle", "--trust", k},
		{"bundle", "install", "x.bundle", "--slots", "a,b"},
		{"bundle", "root", "--out", filepath.Join(dir, "r.json")},
		{"bundle", "create", "m.json"},
		{"bundle", "status"},
	} {
		if code, _, errOut := run(t, args...); code != 2 || errOut == "" {
			t.Errorf("rampart %s: exit %d, want 2 (%s)", strings.Join(args, " "), code, errOut)
		}
	}
	// A partial last block is refused rather than left unprotected.
	os.WriteFile(img, make([]byte, 10000), 0o644)
	if code, _, errOut := run(t, "image", "seal", img, "--key", k, "--version", "1.0.0"); code == 0 || !strings.Contains(errOut, "whole number") {
		t.Errorf("partial block: %d %s", code, errOut)
	}
}
