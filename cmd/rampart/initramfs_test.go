package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/boot"
)

func TestImageInitramfs(t *testing.T) {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A fake module tree: dm_verity needs dm_bufio; ext4 is built in.
	mods := filepath.Join(dir, "mods")
	os.MkdirAll(filepath.Join(mods, "kernel/drivers/md"), 0o755)
	os.WriteFile(filepath.Join(mods, "modules.dep"), []byte("kernel/drivers/md/dm-verity.ko: kernel/drivers/md/dm-bufio.ko\nkernel/drivers/md/dm-bufio.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "modules.builtin"), []byte("kernel/fs/ext4/ext4.ko\n"), 0o644)
	os.WriteFile(filepath.Join(mods, "kernel/drivers/md/dm-verity.ko"), []byte("verity"), 0o644)
	os.WriteFile(filepath.Join(mods, "kernel/drivers/md/dm-bufio.ko"), []byte("bufio"), 0o644)
	cfg := filepath.Join(dir, "boot.json")
	os.WriteFile(cfg, []byte(`{"state_device":"/dev/vda","slots":["/dev/vdb","/dev/vdc"],"fstype":"erofs"}`), 0o644)
	keys := filepath.Join(dir, "trust.pem")
	os.WriteFile(keys, []byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"), 0o644)
	out := filepath.Join(dir, "initrd")
	code, stdout, stderr := run(t, "image", "initramfs", "--out", out, "--init", self, "--config", cfg, "--trust", keys,
		"--modules-dir", mods, "--module", "dm-verity", "--module", "ext4")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	es, err := boot.ReadCPIO(bytes.NewReader(b), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, e := range es {
		got[e.Name] = e.Data
	}
	if string(got["etc/rampart/modules"]) != "/lib/modules/kernel/drivers/md/dm-bufio.ko\n/lib/modules/kernel/drivers/md/dm-verity.ko\n" {
		t.Errorf("module list %q", got["etc/rampart/modules"])
	}
	if _, ok := got["init"]; !ok {
		t.Error("no /init")
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed (Debian: cpio)")
	}
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = bytes.NewReader(b)
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	names := strings.Fields(string(list))
	var want []string
	for _, e := range es {
		want = append(want, e.Name)
	}
	sort.Strings(names)
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("cpio -t lists %v, want %v", names, want)
	}
	// Missing modules are refused.
	code, _, _ = run(t, "image", "initramfs", "--out", out, "--init", self, "--config", cfg, "--trust", keys,
		"--modules-dir", mods, "--module", "nosuch")
	if code == 0 {
		t.Error("a missing module was accepted")
	}
}
