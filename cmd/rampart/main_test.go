package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// run executes the CLI in process and returns its exit status and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code := a.run(args)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("rampart %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if _, err := os.Stat("/usr/sbin/" + name); err == nil {
			return "/usr/sbin/" + name
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

var rootRE = regexp.MustCompile(`Root hash:\s+([0-9a-f]+)`)

func writeData(t *testing.T, dir string, blocks int) string {
	t.Helper()
	p := filepath.Join(dir, "data.img")
	b := make([]byte, blocks*4096)
	for i := range b {
		b[i] = byte(i*7 + i/4096)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelpEverywhere(t *testing.T) {
	if code, out, _ := run(t, "--help"); code != 0 || !strings.Contains(out, "verity") {
		t.Fatalf("rampart --help: %d %s", code, out)
	}
	a := &app{}
	for _, g := range a.groups() {
		if code, out, _ := run(t, g.name, "--help"); code != 0 || !strings.Contains(out, "Verbs:") {
			t.Errorf("%s --help: %d %s", g.name, code, out)
		}
		for _, v := range g.verbs {
			code, out, _ := run(t, g.name, v.name, "--help")
			if code != 0 || !strings.Contains(out, "Usage: rampart "+g.name+" "+v.name) || !strings.Contains(out, "--json") {
				t.Errorf("%s %s --help: %d %s", g.name, v.name, code, out)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	data := writeData(t, dir, 4)
	for _, args := range [][]string{
		{},
		{"nope"},
		{"verity"},
		{"verity", "nope"},
		{"verity", "format", data},
		{"verity", "format", "--bogus", data, "h"},
		{"verity", "format", "--salt=xyz", data, filepath.Join(dir, "h")},
		{"verity", "format", "--uuid=nope", data, filepath.Join(dir, "h")},
		{"verity", "format", "--seed=a", "--salt=00", data, filepath.Join(dir, "h")},
		{"verity", "format", "--format=3", data, filepath.Join(dir, "h")},
		{"verity", "format", filepath.Join(dir, "missing"), filepath.Join(dir, "h")},
		{"verity", "verify", data, filepath.Join(dir, "h")},
		{"verity", "verify", data, filepath.Join(dir, "h"), "zz"},
		{"verity", "dump", data},
		{"verity", "sign", "--key", "k"},
	} {
		code, _, errOut := run(t, args...)
		if code != 2 {
			t.Errorf("rampart %s: exit %d, want 2 (%s)", strings.Join(args, " "), code, errOut)
		}
		if len(args) > 0 && errOut == "" {
			t.Errorf("rampart %s: no error message", strings.Join(args, " "))
		}
	}
}

func TestFormatVerifyDamage(t *testing.T) {
	needTool(t, "veritysetup")
	dir := t.TempDir()
	data := writeData(t, dir, 300)
	hash := filepath.Join(dir, "hash.img")
	// Flags after positional arguments, as with veritysetup.
	out := mustRun(t, "verity", "format", data, hash, "--salt=00ff", "--uuid=12345678-1234-1234-1234-123456789abc")
	m := rootRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no root hash in:\n%s", out)
	}
	root := m[1]
	// veritysetup accepts what rampart wrote.
	if b, err := exec.Command(needTool(t, "veritysetup"), "verify", data, hash, root).CombinedOutput(); err != nil {
		t.Fatalf("veritysetup verify: %v %s", err, b)
	}
	// dump prints what veritysetup dump prints.
	want, err := exec.Command(needTool(t, "veritysetup"), "dump", hash).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRun(t, "verity", "dump", hash); got != string(want) {
		t.Errorf("dump differs from veritysetup:\n%s\nwant:\n%s", got, want)
	}
	if out := mustRun(t, "verity", "verify", data, hash, root); !strings.Contains(out, "matches") {
		t.Errorf("verify output: %s", out)
	}
	// Damage one data block: exit 1 and a corruption map.
	b, _ := os.ReadFile(data)
	b[200*4096+5] ^= 0x80
	os.WriteFile(data, b, 0o644)
	code, out, _ := run(t, "verity", "verify", data, hash, root)
	if code != 1 || !strings.Contains(out, "data-block-damaged") || !strings.Contains(out, "819200") {
		t.Fatalf("verify of damaged data: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "verity", "verify", "--json", data, hash, root)
	var rep struct {
		OK       bool
		Problems []struct {
			Kind   string
			Block  uint64
			Offset int64
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Block != 200 {
		t.Fatalf("json: %d %v %+v\n%s", code, err, rep, out)
	}
}

func TestSeedReproducible(t *testing.T) {
	dir := t.TempDir()
	data := writeData(t, dir, 10)
	h1, h2 := filepath.Join(dir, "h1"), filepath.Join(dir, "h2")
	o1 := mustRun(t, "verity", "format", "--seed", "release-1.2", data, h1)
	o2 := mustRun(t, "verity", "format", "--seed", "release-1.2", data, h2)
	b1, _ := os.ReadFile(h1)
	b2, _ := os.ReadFile(h2)
	if o1 != strings.Replace(o2, h2, h1, 1) || !bytes.Equal(b1, b2) {
		t.Fatal("the same seed gave different trees")
	}
	o3 := mustRun(t, "verity", "format", data, h2)
	if rootRE.FindString(o3) == rootRE.FindString(o1) {
		t.Fatal("random salt gave the seeded root hash")
	}
}

func TestRepairCLI(t *testing.T) {
	dir := t.TempDir()
	data := writeData(t, dir, 200)
	orig, _ := os.ReadFile(data)
	hash, fec := filepath.Join(dir, "hash"), filepath.Join(dir, "fec")
	out := mustRun(t, "verity", "format", data, hash, "--fec-device", fec, "--fec-roots", "4")
	root := rootRE.FindStringSubmatch(out)[1]
	b := append([]byte(nil), orig...)
	b[7*4096] ^= 1
	b[150*4096+9] ^= 1
	os.WriteFile(data, b, 0o644)
	code, out, _ := run(t, "verity", "verify", data, hash, root, "--fec-device", fec, "--fec-roots", "4")
	if code != 1 || strings.Count(out, "[correctable by FEC]") != 2 {
		t.Fatalf("verify with FEC: %d\n%s", code, out)
	}
	out = mustRun(t, "verity", "repair", data, hash, root, "--fec-device", fec, "--fec-roots", "4")
	if !strings.Contains(out, "Repaired 2 block(s)") {
		t.Fatalf("repair: %s", out)
	}
	if now, _ := os.ReadFile(data); !bytes.Equal(now, orig) {
		t.Fatal("repair did not restore the data")
	}
}

func TestSignAndVerifySignature(t *testing.T) {
	openssl := needTool(t, "openssl")
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if b, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "30", "-subj", "/CN=rampart test signer").CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v %s", err, b)
	}
	data := writeData(t, dir, 20)
	hash, rootFile, sig := filepath.Join(dir, "hash"), filepath.Join(dir, "root"), filepath.Join(dir, "root.p7s")
	mustRun(t, "verity", "format", data, hash, "--root-hash-file", rootFile)
	mustRun(t, "verity", "sign", "--root-hash-file", rootFile, "--key", key, "--cert", cert, "--out", sig)
	// openssl checks rampart's signature over the same content.
	if b, err := exec.Command(openssl, "smime", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", rootFile,
		"-certfile", cert, "-nointern", "-noverify", "-out", os.DevNull).CombinedOutput(); err != nil {
		t.Fatalf("openssl smime -verify: %v %s", err, b)
	}
	out := mustRun(t, "verity", "verify", data, hash, "--root-hash-file", rootFile, "--root-hash-signature", sig, "--root-hash-cert", cert)
	if !strings.Contains(out, "signature: good") {
		t.Fatalf("verify with signature: %s", out)
	}
	// A signature made by openssl verifies with rampart.
	osig := filepath.Join(dir, "openssl.p7s")
	if b, err := exec.Command(openssl, "smime", "-sign", "-nocerts", "-noattr", "-binary", "-in", rootFile, "-signer", cert,
		"-inkey", key, "-outform", "der", "-out", osig).CombinedOutput(); err != nil {
		t.Fatalf("openssl smime -sign: %v %s", err, b)
	}
	mustRun(t, "verity", "verify", data, hash, "--root-hash-file", rootFile, "--root-hash-signature", osig, "--root-hash-cert", cert)
	// Another signer's certificate: exit 1 with the reason.
	key2, cert2 := filepath.Join(dir, "key2.pem"), filepath.Join(dir, "cert2.pem")
	exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key2, "-out", cert2, "-days", "30", "-subj", "/CN=other").Run()
	code, out, _ := run(t, "verity", "verify", data, hash, "--root-hash-file", rootFile, "--root-hash-signature", sig, "--root-hash-cert", cert2)
	if code != 1 || !strings.Contains(out, "BAD") {
		t.Fatalf("untrusted signer: exit %d %s", code, out)
	}
	// Ed25519.
	edKey, edPub, edSig := filepath.Join(dir, "ed.pem"), filepath.Join(dir, "ed.pub"), filepath.Join(dir, "root.ed25519")
	exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", edKey).Run()
	exec.Command(openssl, "pkey", "-in", edKey, "-pubout", "-out", edPub).Run()
	mustRun(t, "verity", "sign", "--root-hash-file", rootFile, "--key", edKey, "--out", edSig)
	if b, err := exec.Command(openssl, "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", edPub, "-in", rootFile, "-sigfile", edSig).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkeyutl -verify: %v %s", err, b)
	}
	mustRun(t, "verity", "verify", data, hash, "--root-hash-file", rootFile, "--root-hash-signature", edSig, "--public-key", edPub)
	b, _ := os.ReadFile(edSig)
	b[10] ^= 1
	os.WriteFile(edSig, b, 0o644)
	if code, _, _ := run(t, "verity", "verify", data, hash, "--root-hash-file", rootFile, "--root-hash-signature", edSig, "--public-key", edPub); code != 1 {
		t.Fatalf("tampered Ed25519 signature: exit %d", code)
	}
}

func TestVerifyNamesFiles(t *testing.T) {
	needTool(t, "debugfs")
	dir := t.TempDir()
	img := filepath.Join(dir, "rootfs.img")
	b, err := os.ReadFile("../../examples/ic-node/rootfs.img")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(img, b, 0o644)
	hash := filepath.Join(dir, "hash")
	root := rootRE.FindStringSubmatch(mustRun(t, "verity", "format", img, hash))[1]
	i := bytes.Index(b, []byte("replica stand-in"))
	if i < 0 {
		t.Fatal("example image lacks the replica stand-in")
	}
	b[i] ^= 1
	os.WriteFile(img, b, 0o644)
	code, out, _ := run(t, "verity", "verify", "--files", img, hash, root)
	if code != 1 || !strings.Contains(out, "in /opt/ic/bin/replica") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
