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

// release sets up root keys r1, r2 (2 of 2) and release keys k1, k2, k3
// (2 of 3), with root v1 signed, in dir/root.json.
func release(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	keys(t, dir, "r1", "r2", "k1", "k2", "k3")
	p := func(n string) string { return filepath.Join(dir, n) }
	root := p("root.json")
	args := append([]string{"bundle", "root", "--out", root, "--expires", "2099-01-01",
		"--root-key", p("r1.pub"), "--root-key", p("r2.pub"), "--root-threshold", "2",
		"--release-key", p("k1.pub"), "--release-key", p("k2.pub"), "--release-key", p("k3.pub"), "--release-threshold", "2",
		"--sign", p("r1.key"), "--sign", p("r2.key")}, extra...)
	mustRun(t, args...)
	return root
}

// makeBundle seals an image with the given release keys and packs it.
func makeBundle(t *testing.T, dir, version, ri string, keyNames []string, roots ...string) string {
	t.Helper()
	var extra []string
	for _, k := range keyNames {
		extra = append(extra, "--key", filepath.Join(dir, k+".key"))
	}
	man := sealed(t, dir, "rel-"+version, version, ri, 64, extra...)
	out := filepath.Join(dir, version+".bundle")
	args := []string{"bundle", "create", man, "--out", out}
	for _, r := range roots {
		args = append(args, "--root", r)
	}
	mustRun(t, args...)
	return out
}

func TestBundleLifecycleCLI(t *testing.T) {
	vs := needTool(t, "veritysetup")
	dir := t.TempDir()
	root := release(t, dir)
	out := mustRun(t, "image", "inspect", root)
	if !strings.Contains(out, "Root metadata v1") || !strings.Contains(out, "release  2 of 3 keys") {
		t.Fatalf("inspect root: %s", out)
	}
	two := []string{"k1", "k2"}
	v1 := makeBundle(t, dir, "1.0.0", "1", two, root)
	v2 := makeBundle(t, dir, "1.1.0", "1", []string{"k2", "k3"}, root)
	v3 := makeBundle(t, dir, "2.0.0", "2", two, root)
	if out := mustRun(t, "bundle", "verify", v1, "--trust", root); !strings.Contains(out, "OK: the bundle can be installed") {
		t.Fatalf("verify: %s", out)
	}
	if out := mustRun(t, "image", "inspect", v1); !strings.Contains(out, "Bundle ") || !strings.Contains(out, "Image guestos 1.0.0") {
		t.Fatalf("inspect bundle: %s", out)
	}
	node := filepath.Join(dir, "node")
	out = mustRun(t, "bundle", "install", v1, "--slots", node, "--trust", root)
	if !strings.Contains(out, "in slot a and verified it there") || !strings.Contains(out, "Trusted root stored: v1") {
		t.Fatalf("install: %s", out)
	}
	// What the init does: choose, count the try, get the table.
	var boot struct {
		Slot, Table, Data, Hash string
		RootHash                string `json:"root_hash"`
		TriesLeft               int    `json:"tries_left"`
	}
	json.Unmarshal([]byte(mustRun(t, "bundle", "boot", "--json", "--slots", node)), &boot)
	if boot.Slot != "a" || boot.TriesLeft != 0 || !strings.Contains(boot.Table, "restart_on_corruption") {
		t.Fatalf("boot: %+v", boot)
	}
	if b, err := exec.Command(vs, "verify", boot.Data, boot.Hash, boot.RootHash).CombinedOutput(); err != nil {
		t.Fatalf("veritysetup verify on slot a: %v %s", err, b)
	}
	mustRun(t, "bundle", "mark-good", "--slots", node)
	// The node keeps its root: no --trust from now on. Installs read a
	// stream as well as a file.
	b2, _ := os.ReadFile(v2)
	code, out, errOut := runStdin(t, b2, "bundle", "install", "-", "--slots", node)
	if code != 0 || !strings.Contains(out, "in slot b") {
		t.Fatalf("install v2 from stdin: %d %s %s", code, out, errOut)
	}
	var st struct {
		RollbackIndex uint64 `json:"rollback_index"`
		Booted, Next  string
		Slots         []struct {
			Version    string
			Successful bool
			TriesLeft  int `json:"tries_left"`
		}
	}
	json.Unmarshal([]byte(mustRun(t, "bundle", "status", "--json", "--slots", node, "--verify")), &st)
	if st.Booted != "a" || st.Next != "b" || st.Slots[1].Version != "1.1.0" || st.Slots[1].TriesLeft != 1 || !st.Slots[0].Successful {
		t.Fatalf("status: %+v", st)
	}
	// Roll back before booting B: A boots next.
	if out := mustRun(t, "bundle", "rollback", "--slots", node); !strings.Contains(out, "Slot a boots next") {
		t.Fatalf("rollback: %s", out)
	}
	mustRun(t, "bundle", "rollback", "--slots", node)
	mustRun(t, "bundle", "boot", "--slots", node)
	mustRun(t, "bundle", "mark-good", "--slots", node)
	// v3 raises the rollback index once marked good; then v2 is refused.
	mustRun(t, "bundle", "install", v3, "--slots", node)
	mustRun(t, "bundle", "boot", "--slots", node)
	if out := mustRun(t, "bundle", "mark-good", "--slots", node); !strings.Contains(out, "stored rollback index is 2") {
		t.Fatalf("mark-good: %s", out)
	}
	code, out, _ = run(t, "bundle", "install", v2, "--slots", node)
	if code != 1 || !strings.Contains(out, "rollback index 1, below the node's stored 2") {
		t.Fatalf("older bundle: %d %s", code, out)
	}
	if code, _, errOut := run(t, "bundle", "rollback", "--slots", node); code != 1 || !strings.Contains(errOut, "below the stored 2") {
		t.Fatalf("rollback below the index: %d %s", code, errOut)
	}
	out = mustRun(t, "bundle", "status", "--slots", node)
	if !strings.Contains(out, "guestos 2.0.0") || !strings.Contains(out, "no: rollback index 1 is below the stored 2") {
		t.Fatalf("status: %s", out)
	}
}

func runStdin(t *testing.T, in []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: bytes.NewReader(in), stdout: &out, stderr: &errb}
	return a.run(args), out.String(), errb.String()
}

// TestBundleRefusalsCLI: too few signatures, an expired key, a revoked
// key and a modified byte are each refused with the reason, exit 1.
func TestBundleRefusalsCLI(t *testing.T) {
	dir := t.TempDir()
	root := release(t, dir)
	p := func(n string) string { return filepath.Join(dir, n) }
	// Root v2: k1 revoked, k2 expired, k4 added.
	keys(t, dir, "k4")
	root2 := p("root2.json")
	mustRun(t, "bundle", "root", "--out", root2, "--from", root, "--expires", "2099-01-01",
		"--root-key", p("r1.pub"), "--root-key", p("r2.pub"), "--root-threshold", "2",
		"--release-key", p("k1.pub"), "--release-key", p("k2.pub"), "--release-key", p("k3.pub"), "--release-key", p("k4.pub"),
		"--release-threshold", "2", "--revoke", p("k1.pub"), "--key-expires", p("k2.pub")+"=2020-01-01", "--sign", p("r1.key"))
	// One root signature is not enough: bundle create refuses the chain.
	few := makeBundle(t, dir, "1.0.0", "1", []string{"k3"})
	code, _, errOut := run(t, "bundle", "create", filepath.Join(dir, "rel-1.0.0", "guestos.manifest.json"), "--out", p("x.bundle"), "--root", root, "--root", root2)
	if code == 0 || !strings.Contains(errOut, "root v2 is not signed by its own root keys") {
		t.Fatalf("under-signed root v2: %d %s", code, errOut)
	}
	mustRun(t, "image", "sign", root2, "--key", p("r2.key"))
	if out := mustRun(t, "image", "inspect", root2); !strings.Contains(out, "(REVOKED)") || !strings.Contains(out, "expires 2020-01-01") {
		t.Fatalf("inspect root2: %s", out)
	}
	// The node learns root v2 from a bundle that ships it.
	node := p("node")
	rotated := makeBundle(t, dir, "1.0.1", "1", []string{"k3", "k4"}, root, root2)
	if out := mustRun(t, "bundle", "install", rotated, "--slots", node, "--trust", root); !strings.Contains(out, "Trusted root stored: v2") {
		t.Fatalf("rotation: %s", out)
	}
	mustRun(t, "bundle", "boot", "--slots", node)
	mustRun(t, "bundle", "mark-good", "--slots", node)
	revoked := makeBundle(t, dir, "1.1.0", "1", []string{"k1", "k3"})
	expired := makeBundle(t, dir, "1.2.0", "1", []string{"k2", "k3"})
	good := makeBundle(t, dir, "1.3.0", "1", []string{"k3", "k2", "k1"}, root)
	for _, c := range []struct {
		bundle, want string
	}{
		{few, "1 found"},
		{revoked, "revoked by root v2"},
		{expired, "key expired on 2020-01-01"},
	} {
		code, out, _ := run(t, "bundle", "verify", c.bundle, "--trust", root2)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want %q:\n%s", c.bundle, code, c.want, out)
		}
		// The node uses the root it stored (v2), though given v1.
		code, out, _ = run(t, "bundle", "install", c.bundle, "--slots", node, "--trust", root)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("install %s: exit %d, want %q:\n%s", c.bundle, code, c.want, out)
		}
	}
	// A modified byte in the header, the manifest, a signature, the tree
	// and the image.
	orig, _ := os.ReadFile(good)
	sig := bytes.Index(orig, []byte(`"sig":"`)) + 10
	man := bytes.Index(orig, []byte(`"rollback_index":1`)) + len(`"rollback_index":`)
	for _, c := range []struct {
		name string
		off  int
		want string
	}{
		{"header", 20, "header: metadata length"},
		{"manifest", man, "document was changed"},
		{"signature", sig, "document was changed"},
		{"tree", 4096 + 10, "hash tree"},
		{"image", 4096 + 4096 + 300, "data-block-damaged"},
	} {
		b := bytes.Clone(orig)
		b[c.off] ^= 0x02
		bad := p(c.name + ".bundle")
		os.WriteFile(bad, b, 0o644)
		code, out, _ := run(t, "bundle", "verify", bad, "--trust", root)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s byte changed: exit %d, want %q:\n%s", c.name, code, c.want, out)
		}
	}
	if out := mustRun(t, "bundle", "verify", good, "--trust", root); !strings.Contains(out, "3 valid of 2 required") {
		t.Fatalf("good: %s", out)
	}
}
