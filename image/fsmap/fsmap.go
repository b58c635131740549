// Package fsmap maps block numbers of a filesystem image to the files that
// own them, so that a damaged dm-verity data block can be reported as the
// file a person must restore. It reads ext2/3/4 images with debugfs from
// Debian's e2fsprogs.
package fsmap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// Owner describes what a block of the image holds.
type Owner struct {
	// Path is the file the block belongs to, empty when none does.
	Path string `json:"path,omitempty"`
	// Inode is the owning inode, 0 when none.
	Inode uint64 `json:"inode,omitempty"`
	// What is "file", or "metadata or free space" for blocks no inode
	// owns (superblocks, bitmaps, inode tables, free blocks).
	What string `json:"what"`
}

// Ext4BlockSize returns the block size of the ext2/3/4 filesystem at the
// start of r, or an error if r holds none.
func Ext4BlockSize(r io.ReaderAt) (uint32, error) {
	sb := make([]byte, 1024)
	if _, err := r.ReadAt(sb, 1024); err != nil {
		return 0, fmt.Errorf("no ext2/3/4 superblock: %w", err)
	}
	if binary.LittleEndian.Uint16(sb[56:]) != 0xEF53 {
		return 0, fmt.Errorf("no ext2/3/4 superblock (bad magic)")
	}
	shift := binary.LittleEndian.Uint32(sb[24:])
	if shift > 6 {
		return 0, fmt.Errorf("ext2/3/4 superblock: invalid block size shift %d", shift)
	}
	return 1024 << shift, nil
}

// Ext4 maps byte ranges [off, off+size) of an ext2/3/4 image to the files
// owning them. It returns, for each offset asked, the owners of the
// filesystem blocks in that range (a dm-verity block may span several
// filesystem blocks). debugfs must be installed.
func Ext4(ctx context.Context, image string, size int64, offsets []int64) (map[int64][]Owner, error) {
	f, err := os.Open(image)
	if err != nil {
		return nil, err
	}
	bs, err := Ext4BlockSize(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	debugfs, err := exec.LookPath("debugfs")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/debugfs"); e == nil {
			debugfs = "/usr/sbin/debugfs"
		} else {
			return nil, fmt.Errorf("debugfs not found (Debian package e2fsprogs)")
		}
	}
	blocksOf := map[int64][]uint64{}
	var all []string
	seen := map[uint64]bool{}
	for _, off := range offsets {
		for b := uint64(off) / uint64(bs); b*uint64(bs) < uint64(off+size); b++ {
			blocksOf[off] = append(blocksOf[off], b)
			if !seen[b] {
				seen[b] = true
				all = append(all, strconv.FormatUint(b, 10))
			}
		}
	}
	if len(all) == 0 {
		return map[int64][]Owner{}, nil
	}
	out, err := exec.CommandContext(ctx, debugfs, "-R", "icheck "+strings.Join(all, " "), image).Output()
	if err != nil {
		return nil, fmt.Errorf("debugfs icheck on %s: %w", image, err)
	}
	inodeOf := map[uint64]uint64{}
	var inodes []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		b, err1 := strconv.ParseUint(fields[0], 10, 64)
		ino, err2 := strconv.ParseUint(fields[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		inodeOf[b] = ino
		inodes = append(inodes, fields[1])
	}
	pathOf := map[uint64]string{}
	if len(inodes) > 0 {
		out, err := exec.CommandContext(ctx, debugfs, "-R", "ncheck "+strings.Join(inodes, " "), image).Output()
		if err != nil {
			return nil, fmt.Errorf("debugfs ncheck on %s: %w", image, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			ino, path, ok := strings.Cut(sc.Text(), "\t")
			n, err := strconv.ParseUint(ino, 10, 64)
			if !ok || err != nil {
				continue
			}
			if _, dup := pathOf[n]; !dup {
				pathOf[n] = "/" + strings.TrimLeft(path, "/")
			}
		}
	}
	res := map[int64][]Owner{}
	for off, blocks := range blocksOf {
		seenIno := map[uint64]bool{}
		meta := false
		for _, b := range blocks {
			ino, ok := inodeOf[b]
			switch {
			case !ok:
				meta = true
			case !seenIno[ino]:
				seenIno[ino] = true
				res[off] = append(res[off], Owner{Path: pathOf[ino], Inode: ino, What: "file"})
			}
		}
		sort.Slice(res[off], func(i, j int) bool { return res[off][i].Path < res[off][j].Path })
		if meta {
			res[off] = append(res[off], Owner{What: "metadata or free space"})
		}
	}
	return res, nil
}
