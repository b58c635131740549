package fsmap

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestExt4(t *testing.T) {
	if _, err := exec.LookPath("mke2fs"); err != nil {
		if _, err := os.Stat("/usr/sbin/mke2fs"); err != nil {
			t.Skip("mke2fs not installed (Debian package e2fsprogs)")
		}
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "opt/bin"), 0o755)
	content := bytes.Repeat([]byte("replica!"), 4096) // 32 KiB: 8 blocks
	os.WriteFile(filepath.Join(src, "opt/bin/replica"), content, 0o755)
	img := filepath.Join(dir, "fs.img")
	cmd := exec.Command("mke2fs", "-q", "-t", "ext4", "-b", "4096", "-O", "^has_journal", "-d", src, img, "4M")
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/sbin:"+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v %s", err, b)
	}
	raw, _ := os.ReadFile(img)
	i := bytes.Index(raw, content[:4096])
	if i < 0 || i%4096 != 0 {
		t.Fatalf("file content not found block-aligned in the image (at %d)", i)
	}
	owners, err := Ext4(context.Background(), img, 4096, []int64{int64(i), 0})
	if err != nil {
		t.Fatal(err)
	}
	if got := owners[int64(i)]; len(got) != 1 || got[0].Path != "/opt/bin/replica" {
		t.Errorf("block of the file: %+v", got)
	}
	if got := owners[0]; len(got) != 1 || got[0].What != "metadata or free space" {
		t.Errorf("superblock: %+v", got)
	}
	if _, err := Ext4(context.Background(), filepath.Join(dir, "nope"), 4096, nil); err == nil {
		t.Error("missing image accepted")
	}
	os.WriteFile(filepath.Join(dir, "junk"), make([]byte, 8192), 0o644)
	if _, err := Ext4(context.Background(), filepath.Join(dir, "junk"), 4096, []int64{0}); err == nil {
		t.Error("non-ext4 image accepted")
	}
}
