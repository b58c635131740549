package boot

import (
	"bufio"

	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mode bits of cpio entries (as in stat's st_mode).
const (
	ModeDir     = 0o040000
	ModeRegular = 0o100000
	ModeSymlink = 0o120000
	ModeCharDev = 0o020000
)

// CPIOEntry is one member of a newc ("070701") cpio archive, the format
// the kernel unpacks as initramfs.
type CPIOEntry struct {
	// Name is the path without a leading slash, e.g. "etc/rampart/boot.json".
	Name string
	// Mode holds the type bits (ModeDir…) and the permissions.
	Mode uint32
	// UID, GID, MTime are written as given (zero for reproducible images).
	UID, GID, MTime uint32
	// RdevMajor, RdevMinor for device nodes.
	RdevMajor, RdevMinor uint32
	// Data is the content of a file or the target of a symlink.
	Data []byte
}

// CPIOWriter writes a newc cpio archive. Close writes the trailer.
type CPIOWriter struct {
	w   io.Writer
	n   int64
	ino uint32
}

// NewCPIOWriter returns a writer to w.
func NewCPIOWriter(w io.Writer) *CPIOWriter { return &CPIOWriter{w: w} }

const cpioTrailer = "TRAILER!!!"

func (c *CPIOWriter) pad() error {
	if r := c.n % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

func (c *CPIOWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return err
}

// Write adds an entry. Names must be relative, clean, and free of NUL.
func (c *CPIOWriter) Write(e *CPIOEntry) error {
	if e.Name != cpioTrailer && (e.Name == "" || strings.HasPrefix(e.Name, "/") || strings.Contains(e.Name, "\x00") ||
		strings.Contains("/"+e.Name+"/", "/../") || strings.Contains("/"+e.Name+"/", "/./")) {
		return fmt.Errorf("cpio: bad member name %q", e.Name)
	}
	if e.Mode&0o170000 == ModeDir && len(e.Data) != 0 {
		return fmt.Errorf("cpio: directory %s with data", e.Name)
	}
	if uint64(len(e.Data)) > 0xffffffff {
		return fmt.Errorf("cpio: %s is larger than 4 GiB", e.Name)
	}
	c.ino++
	nlink := uint32(1)
	if e.Mode&0o170000 == ModeDir {
		nlink = 2
	}
	ino := c.ino
	if e.Name == cpioTrailer {
		ino, nlink = 0, 1
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, e.Mode, e.UID, e.GID, nlink, e.MTime, len(e.Data), 0, 0, e.RdevMajor, e.RdevMinor, len(e.Name)+1, 0)
	if err := c.write([]byte(hdr + e.Name + "\x00")); err != nil {
		return err
	}
	if err := c.pad(); err != nil {
		return err
	}
	if err := c.write(e.Data); err != nil {
		return err
	}
	return c.pad()
}

// Close writes the trailer (it does not close the underlying writer).
func (c *CPIOWriter) Close() error {
	return c.Write(&CPIOEntry{Name: cpioTrailer})
}

// ReadCPIO parses a newc archive up to its trailer, refusing anything
// malformed. limit bounds the total size of the data read.
func ReadCPIO(r io.Reader, limit int64) ([]CPIOEntry, error) {
	br := bufio.NewReader(r)
	var out []CPIOEntry
	var off, total int64
	skip := func(n int64) error {
		if r := n % 4; r != 0 {
			k, err := io.CopyN(io.Discard, br, 4-r)
			off += k
			return err
		}
		return nil
	}
	for {
		hdr := make([]byte, 110)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return out, fmt.Errorf("cpio: header at byte %d: %w", off, err)
		}
		off += 110
		if string(hdr[:6]) != "070701" && string(hdr[:6]) != "070702" {
			return out, fmt.Errorf("cpio: bad magic %q at byte %d (want newc 070701)", hdr[:6], off-110)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return out, fmt.Errorf("cpio: header field %d at byte %d is not hex", i, off-110)
			}
			f[i] = uint32(v)
		}
		size, nameSize := int64(f[6]), int64(f[11])
		if nameSize < 1 || nameSize > 4096 {
			return out, fmt.Errorf("cpio: name size %d at byte %d", nameSize, off)
		}
		name := make([]byte, nameSize)
		if _, err := io.ReadFull(br, name); err != nil {
			return out, fmt.Errorf("cpio: name at byte %d: %w", off, err)
		}
		off += nameSize
		if name[nameSize-1] != 0 {
			return out, fmt.Errorf("cpio: name at byte %d is not NUL-terminated", off-nameSize)
		}
		if err := skip(off); err != nil {
			return out, err
		}
		e := CPIOEntry{Name: string(name[:nameSize-1]), Mode: f[1], UID: f[2], GID: f[3], MTime: f[5], RdevMajor: f[9], RdevMinor: f[10]}
		if e.Name == cpioTrailer {
			return out, nil
		}
		if total += size; total > limit {
			return out, fmt.Errorf("cpio: more than %d bytes of data", limit)
		}
		e.Data = make([]byte, size)
		if _, err := io.ReadFull(br, e.Data); err != nil {
			return out, fmt.Errorf("cpio: data of %s: %w", e.Name, err)
		}
		off += size
		if err := skip(off); err != nil {
			return out, err
		}
		out = append(out, e)
	}
}
