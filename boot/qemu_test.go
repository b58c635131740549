package boot

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/selinux"
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
	buildStatic(t, e.init, "../cmd/rampart-init")
	buildStatic(t, e.testbin, "./testdata/testinit")
	return e
}

// buildStatic builds the Go package pkg as a static executable out.
func buildStatic(t *testing.T, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
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
	// policy, when set, is a binary SELinux policy the init loads, in
	// enforcing mode.
	policy string
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
	cfg := &Config{StateDevice: "/dev/vda", Slots: [2]string{"/dev/vdb", "/dev/vdc"}, FSType: "erofs", SELinuxEnforce: n.policy != ""}
	f, err := os.Create(n.initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := BuildInitramfs(f, &InitramfsSpec{Init: n.env.init, Config: cfg, Trust: n.trustPEM, Policy: n.policy,
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

// boot boots the node once, with extra kernel parameters, and returns
// the console output.
func (n *qemuNode) boot(t *testing.T, params ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"-nographic", "-no-reboot", "-m", "512", "-smp", "1", "-accel", "tcg",
		"-kernel", n.env.kernel, "-initrd", n.initrd,
		"-append", strings.Join(append([]string{"console=ttyS0 panic=-1 loglevel=4"}, params...), " "),
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

// icNodePolicy compiles examples/ic-node with policy/selinux and secilc
// and returns the binary policy and the file contexts.
func icNodePolicy(t *testing.T) (pol, fc string) {
	t.Helper()
	p, err := policy.Load("../examples/ic-node")
	if err != nil {
		t.Fatal(err)
	}
	out, err := selinux.Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	pol, fc, err = selinux.Build(context.Background(), out.CIL, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return pol, fc
}

// selinuxImage builds an erofs root labelled from the file contexts fc:
// the scenario 5 program (testdata/selinuxinit) as /sbin/init and at the
// executables of the canister sandbox and the crypto vault, and a key
// file in the key store. It returns the image and the key.
func (e *qemuEnv) selinuxImage(t *testing.T, fc string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "selinuxinit")
	buildStatic(t, bin, "./testdata/selinuxinit")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"sbin", "dev", "proc", "sys", "opt/ic/bin", "var/lib/ic/crypto"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"sbin/init", "opt/ic/bin/canister_sandbox", "opt/ic/bin/ic-crypto-csp"} {
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	key := make([]byte, 64)
	rand.Read(key)
	if err := os.WriteFile(filepath.Join(dir, "var/lib/ic/crypto/sks_data.pb"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "root.erofs")
	if out, err := exec.Command("mkfs.erofs", "-T0", "--all-root", "--file-contexts="+fc, img, dir).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.erofs --file-contexts: %v\n%s", err, out)
	}
	// mkfs.erofs stores the labels as security.selinux xattrs; make sure
	// it did (erofs-utils built without libselinux ignores the option).
	raw, _ := os.ReadFile(img)
	for _, typ := range []string{"canister_sandbox_exec_t", "crypto_vault_exec_t", "node_keys_t"} {
		if !bytes.Contains(raw, []byte("system_u:object_r:"+typ+":s0")) {
			t.Fatalf("the image carries no %s label: mkfs.erofs did not apply the file contexts", typ)
		}
	}
	return img, key
}

var reAVC = regexp.MustCompile(`avc:  denied  \{ ([a-z_ ]+) \} .* scontext=(\S+) tcontext=(\S+) tclass=(\S+)`)

// Scenario 5: the compiled examples/ic-node policy, enforcing. The init
// (unconfined_t) executes the canister sandbox and the crypto vault
// executables; the exec moves them into their domains (the policy's
// type_transition from unconfined_t). The sandbox is denied the key store
// (EACCES, and an AVC on the console), the vault reads the key.
func TestQEMUSELinux(t *testing.T) {
	e := qemuSetup(t)
	if _, err := exec.LookPath("secilc"); err != nil {
		if os.Getenv("RAMPART_QEMU") == "1" {
			t.Fatal("RAMPART_QEMU=1 but secilc is not installed")
		}
		t.Skip("secilc is not installed (Debian: secilc)")
	}
	pol, fc := icNodePolicy(t)
	n := newQemuNode(t, e)
	n.policy = pol
	img, key := e.selinuxImage(t, fc)
	n.install(t, n.seal(t, img, "1.0.0", 1, n.good), 2)
	n.build(t)
	// Debian's kernel enables AppArmor, not SELinux, by default
	// (CONFIG_LSM lists both, the first exclusive one wins and there is no
	// selinux= boot parameter); audit messages are KERN_NOTICE, printed
	// on the console from loglevel 6.
	out := n.boot(t, "security=selinux", "enforcing=1", "loglevel=6")
	sandbox, vault := "system_u:system_r:canister_sandbox_t:s0", "system_u:system_r:crypto_vault_t:s0"
	keys := "system_u:object_r:node_keys_t:s0"
	wantLines(t, out, "rampart-init: SELinux policy loaded (",
		"lsm=selinux res=1", // the kernel's audit record of the policy load
		"), enforcing\n",
		"RAMPART-TEST: started as pid 1, slot a, context system_u:system_r:unconfined_t:s0",
		"RAMPART-TEST: selinux enforce 1",
		"RAMPART-TEST: canister_sandbox: context "+sandbox,
		"RAMPART-TEST: canister_sandbox: read /var/lib/ic/crypto/sks_data.pb: EACCES",
		"RAMPART-TEST: canister_sandbox: list /var/lib/ic/crypto: EACCES",
		"RAMPART-TEST: ic-crypto-csp: context "+vault,
		fmt.Sprintf("RAMPART-TEST: ic-crypto-csp: read /var/lib/ic/crypto/sks_data.pb: %d bytes, sha256 %x", len(key), sha256.Sum256(key)),
		"RAMPART-TEST: ic-crypto-csp: list /var/lib/ic/crypto: 1 entries",
		"RAMPART-TEST: done")
	// The only denials: the sandbox on the key store. Opening the key
	// file is stopped at the directory ({ search } on the key store's
	// dir), listing the key store by { read } on it.
	denied := map[string]bool{} // "perm class" the sandbox was denied on the key store
	for _, m := range reAVC.FindAllStringSubmatch(out, -1) {
		t.Logf("AVC: { %s } %s -> %s (%s)", m[1], m[2], m[3], m[4])
		if m[2] != sandbox || m[3] != keys {
			t.Errorf("unexpected denial: %s", m[0])
			continue
		}
		for _, p := range strings.Fields(m[1]) {
			denied[p+" "+m[4]] = true
		}
	}
	if !denied["read dir"] || !(denied["search dir"] || denied["read file"] || denied["open file"]) {
		t.Fatalf("want AVC denials of the canister sandbox on the key store for listing it ({ read } dir) and for opening the key ({ search } dir or { open }/{ read } file), got %v:\n%s", denied, out)
	}
}
