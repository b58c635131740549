package verity

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
)

// Layout says where a tree lives on its devices.
type Layout struct {
	// HashOffset is the byte offset on the hash device of the superblock,
	// or of the tree itself with NoSuperblock (veritysetup --hash-offset).
	HashOffset uint64
	// NoSuperblock leaves out the superblock (veritysetup --no-superblock).
	NoSuperblock bool
	// FECPath, if set, names the device holding Reed-Solomon parity
	// (veritysetup --fec-device); it may be the hash device itself, with
	// the parity at FECOffset.
	FECPath string
	// FECOffset is the byte offset of the parity on the FEC device.
	FECOffset uint64
	// FECRoots is the number of parity bytes per codeword (2 to 24).
	FECRoots int
}

// HashStart returns the first tree block for p.
func (l *Layout) HashStart(p *Params) uint64 {
	return HashStartBlock(l.HashOffset, p.HashBlockSize, l.NoSuperblock)
}

// Device is a dm-verity device made of files: data, hash tree and
// optionally parity, with their parameters.
type Device struct {
	DataPath, HashPath string
	Params             Params
	Layout             Layout
}

// Result describes a formatted device.
type Result struct {
	Params   Params
	Layout   Layout
	Geometry *Geometry
	RootHash []byte
	// HashDeviceSize is the size of the hash device after formatting.
	HashDeviceSize int64
	// FECBlocks is the number of parity blocks written, if any.
	FECBlocks uint64
}

// RootHashHex returns the root hash in lower-case hex.
func (r *Result) RootHashHex() string { return hex.EncodeToString(r.RootHash) }

// sameFile reports whether two paths name the same file.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// Format writes the hash tree (and parity, and superblock) of the data
// file to the hash file, as "veritysetup format" does, and returns the
// root hash. If d.Params.DataBlocks is zero, the whole blocks of the data
// file are covered; a partial trailing block is not (like veritysetup).
func (d *Device) Format(opts *Options) (*Result, error) {
	p := d.Params
	data, err := os.Open(d.DataPath)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	st, err := data.Stat()
	if err != nil {
		return nil, err
	}
	size := fileSize(data, st)
	if p.DataBlockSize == 0 || !validBlockSize(p.DataBlockSize) {
		return nil, fmt.Errorf("invalid data block size %d", p.DataBlockSize)
	}
	if p.DataBlocks == 0 {
		p.DataBlocks = uint64(size) / uint64(p.DataBlockSize)
		if p.DataBlocks == 0 {
			return nil, fmt.Errorf("%s: %d bytes is too small for one data block of %d bytes", d.DataPath, size, p.DataBlockSize)
		}
	} else if need := p.DataBlocks * uint64(p.DataBlockSize); uint64(size) < need {
		return nil, fmt.Errorf("%s: has %d bytes, %d data blocks of %d bytes need %d", d.DataPath, size, p.DataBlocks, p.DataBlockSize, need)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	l := d.Layout
	if l.HashOffset%512 != 0 {
		return nil, fmt.Errorf("hash offset %d is not a multiple of 512", l.HashOffset)
	}
	shared := sameFile(d.DataPath, d.HashPath)
	if shared && p.DataBlocks*uint64(p.DataBlockSize) > l.HashOffset {
		return nil, fmt.Errorf("data area (%d bytes) overlaps with hash area at byte %d of %s", p.DataBlocks*uint64(p.DataBlockSize), l.HashOffset, d.HashPath)
	}
	hashStart := l.HashStart(&p)
	g, err := p.Geometry(hashStart)
	if err != nil {
		return nil, err
	}
	if l.FECPath != "" {
		if err := checkFEC(&p, &l, g, sameFile(l.FECPath, d.HashPath)); err != nil {
			return nil, err
		}
	}
	hf, err := os.OpenFile(d.HashPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	root, err := Format(data, hf, &p, hashStart, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.HashPath, err)
	}
	res := &Result{Params: p, Layout: l, Geometry: g, RootHash: root}
	// Like veritysetup, extend the hash file to the end of the tree, even
	// when the tree is empty (a single data block).
	if hst, err := hf.Stat(); err == nil {
		res.HashDeviceSize = fileSize(hf, hst)
		if end := int64(g.End * uint64(p.HashBlockSize)); hst.Mode().IsRegular() && res.HashDeviceSize < end {
			if err := hf.Truncate(end); err != nil {
				return nil, err
			}
			res.HashDeviceSize = end
		}
	}
	if l.FECPath != "" {
		n, err := writeFEC(data, hf, d.HashPath, &p, &l, g, res.HashDeviceSize)
		if err != nil {
			return nil, err
		}
		res.FECBlocks = n
	}
	if !l.NoSuperblock {
		sb, err := MarshalSuperblock(&p)
		if err != nil {
			return nil, err
		}
		if _, err := hf.WriteAt(sb, int64(l.HashOffset)); err != nil {
			return nil, fmt.Errorf("%s: writing superblock: %w", d.HashPath, err)
		}
	}
	if err := hf.Sync(); err != nil {
		return nil, fmt.Errorf("%s: %w", d.HashPath, err)
	}
	if hst, err := hf.Stat(); err == nil {
		res.HashDeviceSize = fileSize(hf, hst)
	}
	return res, nil
}

// fileSize returns a file's size; for a block device, the device's size.
func fileSize(f *os.File, st os.FileInfo) int64 {
	if st.Mode()&os.ModeDevice != 0 {
		if n, err := f.Seek(0, 2); err == nil {
			return n
		}
	}
	return st.Size()
}

// ReadSuperblock reads and decodes the superblock at byte offset off of
// the file at path.
func ReadSuperblock(path string, off uint64) (*Params, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, SuperblockSize)
	n, err := f.ReadAt(b, int64(off))
	if n < SuperblockSize {
		if err != nil && n == 0 {
			return nil, fmt.Errorf("%s: no verity superblock at byte %d: file ends at or before it", path, off)
		}
		return nil, fmt.Errorf("%s: verity superblock at byte %d is truncated: %d of %d bytes", path, off, n, SuperblockSize)
	}
	p, err := UnmarshalSuperblock(b)
	if err != nil {
		return nil, fmt.Errorf("%s at byte %d: %w", path, off, err)
	}
	return p, nil
}

// LoadParams completes d.Params from the superblock unless the layout has
// none. Parameters the caller set (non-zero) must agree with the
// superblock's.
func (d *Device) LoadParams() error {
	if d.Layout.NoSuperblock {
		return d.Params.Validate()
	}
	sb, err := ReadSuperblock(d.HashPath, d.Layout.HashOffset)
	if err != nil {
		return err
	}
	c := d.Params
	conflict := func(name string, got, sbv any) error {
		return fmt.Errorf("%s: %s %v given, but the superblock says %v", d.HashPath, name, got, sbv)
	}
	switch {
	case c.Algorithm != "" && c.Algorithm != sb.Algorithm:
		return conflict("hash algorithm", c.Algorithm, sb.Algorithm)
	case c.DataBlockSize != 0 && c.DataBlockSize != sb.DataBlockSize:
		return conflict("data block size", c.DataBlockSize, sb.DataBlockSize)
	case c.HashBlockSize != 0 && c.HashBlockSize != sb.HashBlockSize:
		return conflict("hash block size", c.HashBlockSize, sb.HashBlockSize)
	case c.DataBlocks != 0 && c.DataBlocks != sb.DataBlocks:
		return conflict("data blocks", c.DataBlocks, sb.DataBlocks)
	case c.Salt != nil && !bytes.Equal(c.Salt, sb.Salt):
		return conflict("salt", hex.EncodeToString(c.Salt), sb.SaltHex())
	}
	d.Params = *sb
	return nil
}

// Verify checks the device against root. It reads the superblock unless
// the layout has none, and reports every damaged block.
func (d *Device) Verify(root []byte, opts *VerifyOptions) (*Report, error) {
	if err := d.LoadParams(); err != nil {
		return nil, err
	}
	data, err := os.Open(d.DataPath)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	hf, err := os.Open(d.HashPath)
	if err != nil {
		return nil, err
	}
	defer hf.Close()
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if st, err := data.Stat(); err == nil {
		o.DataSize = fileSize(data, st)
	}
	if st, err := hf.Stat(); err == nil {
		o.HashSize = fileSize(hf, st)
	}
	return Verify(data, hf, &d.Params, d.Layout.HashStart(&d.Params), root, &o)
}

// ParseRootHash decodes a hex root hash, naming what is wrong.
func ParseRootHash(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("root hash %q is not hex", s)
	}
	return b, nil
}
