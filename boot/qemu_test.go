package boot

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/slot"
)

// The QEMU tests boot Debian's cloud kernel (linux-image-cloud-amd64)
// with an initramfs of rampart-init under software emulation
// (qemu-system-x86), with a boot state disk (vda) and two slot disks (vdb,
// vdc). They run when those are installed, unless RAMPART_QEMU=0; with
// RAMPART_QEMU=1 missing pieces are a failure rather than a skip.

type qemuEnv struct {
	kernel, kver  string
	init, testbin string
}

func qemuSetup(t *testing.T) *qemuEnv {
	t.Helper()
	need := os.Getenv("RAMPART_QEMU")
	if need == "0" {
		t.Skip("RAMPART_QEMU=0")
	}
	if testing.Short() && need != "1" {
		t.Skip("QEMU boots are slow; skipped with -short")
	}
	skip := func(why string) {
		if need == "1" {
			t.Fatalf("RAMPART_QEMU=1 but %s", why)
		}
		t.Skip(why)
	}
	for _, tool := range []string{"qemu-system-x86_64", "mkfs.erofs", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			skip(tool + " is not installed (Debian: qemu-system-x86, erofs-utils, e2fsprogs)")
		}
	}
	ks, _ := filepath.Glob("/boot/vmlinuz-*-cloud-amd64")
	if len(ks) == 0 {
		skip("no /boot/vmlinuz-*-cloud-amd64 (Debian: linux-image-cloud-amd64)")
	}
	e := &qemuEnv{kernel: ks[len(ks)-1]}
	e.kver = strings.TrimPrefix(filepath.Base(e.kernel), "vmlinuz-")
	if _, err := os.Stat("/lib/modules/" + e.kver + "/modules.dep"); err != nil {
		skip("no modules for " + e.kver)
	}
	dir := t.TempDir()
	e.init, e.testbin = filepath.Join(dir, "rampart-init"), filepath.Join(dir, "testinit")
	for _, b := range []struct{ out, pkg string }{{e.init, "../cmd/rampart-init"}, {e.testbin, "./testdata/testinit"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return e
}

// rootImage builds an erofs root with the test program as /sbin/init and
// a 16 KiB random /data/block.bin, whose bytes it returns.
func (e *qemuEnv) rootImage(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"sbin", "dev", "proc", "sys", "data"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	bin, _ := os.ReadFile(e.testbin)
	os.WriteFile(filepath.Join(dir, "sbin/init"), bin, 0o755)
	block := make([]byte, 16384)
	rand.Read(block)
	os.WriteFile(filepath.Join(dir, "data/block.bin"), block, 0o644)
	img := filepath.Join(t.TempDir(), "root.erofs")
	if out, err := exec.Command("mkfs.erofs", "-T0", "--all-root", img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.erofs: %v\n%s", err, out)
	}
	return img, block
}

// qemuNode is a node's three disks and its initramfs.
type qemuNode struct {
	*fixture
	env               *qemuEnv
	stateDir          string
	parts             [2]string
	initrd, stateDisk string
}

func newQemuNode(t *testing.T, e *qemuEnv) *qemuNode {
	d := t.TempDir()
	n := &qemuNode{env: e, stateDir: filepath.Join(d, "state"), parts: [2]string{filepath.Join(d, "a.part"), filepath.Join(d, "b.part")}}
	n.fixture = newFixture(t, d, n.stateDir, n.parts)
	n.initrd, n.stateDisk = filepath.Join(d, "initrd.cpio"), filepath.Join(d, "state.ext4")
	return n
}

// build writes the initramfs and the state disk from the state directory.
func (n *qemuNode) build(t *testing.T) {
	t.Helper()
	cfg := &Config{StateDevice: "/dev/vda", Slots: [2]string{"/dev/vdb", "/dev/vdc"}, FSType: "erofs"}
	f, err := os.Create(n.initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := BuildInitramfs(f, &InitramfsSpec{Init: n.env.init, Config: cfg, Trust: n.trustPEM,
		ModulesDir: "/lib/modules/" + n.env.kver, Modules: DefaultModules()}); err != nil {
		t.Fatal(err)
	}
	for _, p := range n.parts { // an empty slot still needs its disk
		if _, err := os.Stat(p); err != nil {
			os.WriteFile(p, make([]byte, 4096), 0o644)
		}
	}
	os.Remove(n.stateDisk)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", n.stateDir, n.stateDisk, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
}

// boot boots the node once and returns the console output.
func (n *qemuNode) boot(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"-nographic", "-no-reboot", "-m", "512", "-smp", "1", "-accel", "tcg",
		"-kernel", n.env.kernel, "-initrd", n.initrd,
		"-append", "console=ttyS0 panic=-1 loglevel=4",
		"-drive", "file=" + n.stateDisk + ",if=virtio,format=raw",
		"-drive", "file=" + n.parts[0] + ",if=virtio,format=raw",
		"-drive", "file=" + n.parts[1] + ",if=virtio,format=raw"}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("QEMU boot took %v", time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("QEMU did not finish within 2 minutes; console:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("qemu: %v\n%s", err, out.String())
	}
	return strings.ReplaceAll(out.String(), "\r", "")
}

func wantLines(t *testing.T, console string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(console, w) {
			t.Fatalf("console lacks %q:\n%s", w, console)
		}
	}
}

func TestQEMUGoodImageBoots(t *testing.T) {
	e := qemuSetup(t)
	n := newQemuNode(t, e)
	img, _ := e.rootImage(t)
	n.install(t, n.seal(t, img, "1.0.0", 1, n.good), 2)
	n.build(t)
	out := n.boot(t)
	wantLines(t, out, "rampart-init: booting slot a: testos 1.0.0",
		"RAMPART-TEST: started as pid 1, slot a",
		"RAMPART-TEST: root read-only flag true",
		"RAMPART-TEST: write to / refused",
		"RAMPART-TEST: verity status: verity 0 ",
		"RAMPART-TEST: read /data/block.bin: 16384 bytes",
		"RAMPART-TEST: done")
	if !strings.Contains(out, " V\n") {
		t.Errorf("verity status is not V:\n%s", out)
	}
}

func TestQEMUUntrustedKeyRefused(t *testing.T) {
	e := qemuSetup(t)
	n := newQemuNode(t, e)
	img, _ := e.rootImage(t)
	n.install(t, n.seal(t, img, "1.0.0", 1, n.evil), 1)
	n.build(t)
	out := n.boot(t)
	wantLines(t, out, "rampart-init: slot a refused: manifest not trusted", "rampart-init: FATAL: boot state: no bootable slot")
	if strings.Contains(out, "RAMPART-TEST") || strings.Contains(out, "dm-verity device") {
		t.Fatalf("the untrusted image was set up or booted:\n%s", out)
	}
}

func TestQEMURollbackRefused(t *testing.T) {
	e := qemuSetup(t)
	n := newQemuNode(t, e)
	img, _ := e.rootImage(t)
	n.install(t, n.seal(t, img, "1.0.0", 1, n.good), 1)
	// The stored index says a newer image was marked good; the record of
	// the slot claims that index too, but the signed manifest says 1.
	n.update(t, func(st *slot.State) { st.RollbackIndex = 3; st.Slots[slot.A].RollbackIndex = 3 })
	n.build(t)
	out := n.boot(t)
	wantLines(t, out, "slot a refused: testos 1.0.0 has rollback index 1, below the stored 3", "FATAL")
	if strings.Contains(out, "RAMPART-TEST") || strings.Contains(out, "dm-verity device") {
		t.Fatalf("the old image was set up or booted:\n%s", out)
	}
}

func TestQEMUCorruptionFallsBackToB(t *testing.T) {
	e := qemuSetup(t)
	n := newQemuNode(t, e)
	imgB, _ := e.rootImage(t)
	imgA, block := e.rootImage(t)
	// B: installed, booted and marked good. A: the upgrade, one try.
	if x := n.install(t, n.seal(t, imgB, "1.0.0", 1, n.good), 1); x != slot.A {
		t.Fatalf("first install went to %s", x)
	}
	n.update(t, func(st *slot.State) { st.Booted = slot.A; st.Slots[slot.A].Successful = true; st.RollbackIndex = 1 })
	if x := n.install(t, n.seal(t, imgB, "1.0.1", 1, n.good), 1); x != slot.B {
		t.Fatalf("second install went to %s", x)
	}
	n.update(t, func(st *slot.State) { st.Booted = slot.B; st.Slots[slot.B].Successful = true })
	if x := n.install(t, n.seal(t, imgA, "2.0.0", 2, n.good), 1); x != slot.A {
		t.Fatalf("upgrade went to %s", x)
	}
	// Flip one byte of /data/block.bin on slot A's disk.
	part, err := os.ReadFile(n.parts[0])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(part, block[:256])
	if i < 0 {
		t.Fatal("block.bin not found in slot A's image")
	}
	part[i+5000] ^= 0x01
	if err := os.WriteFile(n.parts[0], part, 0o644); err != nil {
		t.Fatal(err)
	}
	n.build(t)
	out := n.boot(t)
	wantLines(t, out, "rampart-init: booting slot a: testos 2.0.0", "RAMPART-TEST: started as pid 1, slot a", "is corrupted")
	if strings.Contains(out, "read /data/block.bin: 16384 bytes") {
		t.Fatalf("the corrupted block was read:\n%s", out)
	}
	out = n.boot(t)
	wantLines(t, out, "rampart-init: booting slot b: testos 1.0.1", "RAMPART-TEST: started as pid 1, slot b",
		"RAMPART-TEST: read /data/block.bin: 16384 bytes", "RAMPART-TEST: done")
}
