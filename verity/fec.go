package verity

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/rampart-sec/rampart/verity/fec"
)

// checkFEC validates the FEC parameters before anything is written.
func checkFEC(p *Params, l *Layout, g *Geometry, onHashDevice bool) error {
	if p.DataBlockSize != p.HashBlockSize {
		return fmt.Errorf("FEC needs equal data and hash block sizes (got %d and %d)", p.DataBlockSize, p.HashBlockSize)
	}
	if err := (fec.Params{BlockSize: int(p.HashBlockSize), Roots: l.FECRoots}).Validate(); err != nil {
		return err
	}
	if l.FECOffset%uint64(p.HashBlockSize) != 0 {
		return fmt.Errorf("FEC offset %d is not a multiple of the block size %d", l.FECOffset, p.HashBlockSize)
	}
	if onHashDevice && l.FECOffset < g.End*uint64(p.HashBlockSize) {
		return fmt.Errorf("FEC area at byte %d overlaps the hash tree, which ends at byte %d", l.FECOffset, g.End*uint64(p.HashBlockSize))
	}
	return nil
}

// fecMessage is the byte stream the parity covers: the data blocks, then
// the hash device from the first tree block (so not the superblock), as
// cryptsetup and the kernel define it. Blocks past the end read as zero.
type fecMessage struct {
	data, hash io.ReaderAt
	dataBytes  int64
	hashStart  int64 // byte offset of the first tree block
	total      int64
}

func (m *fecMessage) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	n := 0
	for n < len(b) {
		pos := off + int64(n)
		if pos >= m.total {
			return n, io.EOF
		}
		chunk := b[n:min(len(b), n+int(m.total-pos))]
		var src io.ReaderAt
		var at int64
		if pos < m.dataBytes {
			src, at = m.data, pos
			chunk = chunk[:min(int64(len(chunk)), m.dataBytes-pos)]
		} else {
			src, at = m.hash, m.hashStart+pos-m.dataBytes
		}
		if err := readFullAt(src, chunk, at); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

// fecGeometry gives the message and its block count for a device whose
// hash device has hashSize bytes.
func fecGeometry(data, hashDev io.ReaderAt, p *Params, l *Layout, g *Geometry, hashSize int64, onHashDevice bool) (*fecMessage, uint64) {
	b := uint64(p.HashBlockSize)
	hashBlocks := uint64(hashSize) / b
	if onHashDevice {
		hashBlocks = l.FECOffset / b
	}
	n := p.DataBlocks + hashBlocks - g.HashStart
	m := &fecMessage{data: data, hash: hashDev, dataBytes: int64(p.DataBlocks * b), hashStart: int64(g.HashStart * b), total: int64(n * b)}
	return m, n
}

// writeFEC computes the parity and writes it to the FEC device. It returns
// the number of parity blocks.
func writeFEC(data io.ReaderAt, hashDev ReadWriterAt, hashPath string, p *Params, l *Layout, g *Geometry, hashSize int64) (uint64, error) {
	onHash := sameFile(l.FECPath, hashPath)
	msg, n := fecGeometry(data, hashDev, p, l, g, hashSize, onHash)
	fp := fec.Params{BlockSize: int(p.HashBlockSize), Roots: l.FECRoots}
	var w io.WriterAt = hashDev
	if !onHash {
		f, err := os.OpenFile(l.FECPath, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		w = f
		defer f.Sync()
	}
	if err := fec.Encode(msg, n, fp, w, int64(l.FECOffset)); err != nil {
		return 0, fmt.Errorf("%s: %w", l.FECPath, err)
	}
	return fp.ParityBlocks(n), nil
}

// fecPlan maps the damaged blocks of a report to message blocks.
type fecPlan struct {
	erasures []uint64
	// problem index → message block
	where map[int]uint64
}

func (d *Device) fecPlan(rep *Report, g *Geometry) *fecPlan {
	pl := &fecPlan{where: map[int]uint64{}}
	seen := map[uint64]bool{}
	add := func(i int, blk uint64) {
		pl.where[i] = blk
		if !seen[blk] {
			seen[blk] = true
			pl.erasures = append(pl.erasures, blk)
		}
	}
	b := uint64(d.Params.HashBlockSize)
	for i, pr := range rep.Problems {
		switch pr.Kind {
		case DataBlockDamaged, Unverifiable, HashBlockDamaged, PaddingNotZero, RootHashMismatch, IOError:
		default:
			continue
		}
		if pr.Kind == RootHashMismatch && len(g.Levels) == 0 {
			add(i, 0)
			continue
		}
		if pr.Device == DeviceData {
			add(i, pr.Block)
			continue
		}
		hb := uint64(pr.Offset) / b
		if hb >= g.HashStart && hb < g.End {
			add(i, d.Params.DataBlocks+hb-g.HashStart)
		}
	}
	sort.Slice(pl.erasures, func(i, j int) bool { return pl.erasures[i] < pl.erasures[j] })
	return pl
}

// fecRun opens the devices and runs the corrector over the report's
// damaged blocks.
func (d *Device) fecRun(rep *Report, data, hf io.ReaderAt, hashSize int64) (*fec.Result, *fecPlan, error) {
	l := d.Layout
	g, err := d.Params.Geometry(l.HashStart(&d.Params))
	if err != nil {
		return nil, nil, err
	}
	if err := checkFEC(&d.Params, &l, g, sameFile(l.FECPath, d.HashPath)); err != nil {
		return nil, nil, err
	}
	ff, err := os.Open(l.FECPath)
	if err != nil {
		return nil, nil, err
	}
	defer ff.Close()
	msg, n := fecGeometry(data, hf, &d.Params, &l, g, hashSize, sameFile(l.FECPath, d.HashPath))
	pl := d.fecPlan(rep, g)
	fp := fec.Params{BlockSize: int(d.Params.HashBlockSize), Roots: l.FECRoots}
	if st, err := ff.Stat(); err == nil && st.Mode().IsRegular() {
		if need := int64(l.FECOffset) + int64(fp.ParityBlocks(n))*int64(fp.BlockSize); st.Size() < need {
			return nil, nil, fmt.Errorf("%s: FEC device has %d bytes, the parity needs %d", l.FECPath, st.Size(), need)
		}
	}
	res, err := fec.CorrectErasures(msg, n, ff, int64(l.FECOffset), fp, pl.erasures)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", l.FECPath, err)
	}
	return res, pl, nil
}

// CheckFEC marks each damaged block of rep as correctable or not by the
// device's Reed-Solomon parity. It reads only the rounds with damage.
func (d *Device) CheckFEC(rep *Report) error {
	if rep.OK || d.Layout.FECPath == "" {
		return nil
	}
	data, hf, hashSize, err := d.open(os.O_RDONLY)
	if err != nil {
		return err
	}
	defer data.Close()
	defer hf.Close()
	res, pl, err := d.fecRun(rep, data, hf, hashSize)
	if err != nil {
		return err
	}
	bad := map[uint64]bool{}
	for _, r := range res.Uncorrectable {
		bad[r] = true
	}
	for i, blk := range pl.where {
		ok := !bad[blk%res.Rounds]
		rep.Problems[i].Correctable = &ok
	}
	return nil
}

func (d *Device) open(flag int) (data, hf *os.File, hashSize int64, err error) {
	data, err = os.OpenFile(d.DataPath, flag, 0)
	if err != nil {
		return nil, nil, 0, err
	}
	hf, err = os.OpenFile(d.HashPath, flag, 0)
	if err != nil {
		data.Close()
		return nil, nil, 0, err
	}
	st, err := hf.Stat()
	if err != nil {
		data.Close()
		hf.Close()
		return nil, nil, 0, err
	}
	return data, hf, fileSize(hf, st), nil
}

// RepairResult describes what Repair did.
type RepairResult struct {
	// Before is the report before repair, with Correctable set.
	Before *Report `json:"before"`
	// After is the report after the repaired blocks were written back;
	// nil when nothing was written.
	After *Report `json:"after,omitempty"`
	// Repaired lists the blocks rewritten.
	Repaired []Problem `json:"repaired,omitempty"`
	// Refused explains why nothing was written, when it was not.
	Refused string `json:"refused,omitempty"`
}

// Repair verifies the device against root and, when every damaged block
// can be rebuilt from the FEC parity and the rebuilt device verifies,
// writes the rebuilt blocks back. It writes nothing otherwise: a repair is
// all or nothing, so a device is never left half repaired.
func (d *Device) Repair(root []byte, opts *Options) (*RepairResult, error) {
	if d.Layout.FECPath == "" {
		return nil, fmt.Errorf("repair needs FEC parity (--fec-device)")
	}
	vo := &VerifyOptions{}
	if opts != nil {
		vo.Options = *opts
	}
	before, err := d.Verify(root, vo)
	if err != nil {
		return nil, err
	}
	out := &RepairResult{Before: before}
	if before.OK {
		return out, nil
	}
	for _, p := range before.Problems {
		if p.Kind == Truncated {
			out.Refused = "a device is truncated: " + p.Detail
			return out, nil
		}
	}
	if before.Omitted > 0 {
		out.Refused = fmt.Sprintf("%d problems beyond the report's limit", before.Omitted)
		return out, nil
	}
	data, hf, hashSize, err := d.open(os.O_RDWR)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	defer hf.Close()
	res, pl, err := d.fecRun(before, data, hf, hashSize)
	if err != nil {
		return nil, err
	}
	bad := map[uint64]bool{}
	for _, r := range res.Uncorrectable {
		bad[r] = true
	}
	for i, blk := range pl.where {
		ok := !bad[blk%res.Rounds]
		before.Problems[i].Correctable = &ok
	}
	if !res.OK() {
		out.Refused = fmt.Sprintf("damage in %d FEC round(s) exceeds what %d parity bytes per codeword can correct", len(res.Uncorrectable), d.Layout.FECRoots)
		return out, nil
	}
	// Check the rebuilt device before writing anything.
	b := int64(d.Params.HashBlockSize)
	g, _ := d.Params.Geometry(d.Layout.HashStart(&d.Params))
	dataFix, hashFix := map[int64][]byte{}, map[int64][]byte{}
	for _, blk := range res.Blocks {
		if blk.Index < d.Params.DataBlocks {
			dataFix[int64(blk.Index)*b] = blk.Data
		} else {
			hashFix[int64(g.HashStart+blk.Index-d.Params.DataBlocks)*b] = blk.Data
		}
	}
	after, err := Verify(&overlay{data, dataFix, b}, &overlay{hf, hashFix, b}, &d.Params, g.HashStart, root, vo)
	if err != nil {
		return nil, err
	}
	if !after.OK {
		out.Refused = "the rebuilt blocks do not verify against the root hash"
		out.After = after
		return out, nil
	}
	for off, blk := range dataFix {
		if _, err := data.WriteAt(blk, off); err != nil {
			return nil, fmt.Errorf("%s: writing repaired block at byte %d: %w", d.DataPath, off, err)
		}
	}
	for off, blk := range hashFix {
		if _, err := hf.WriteAt(blk, off); err != nil {
			return nil, fmt.Errorf("%s: writing repaired block at byte %d: %w", d.HashPath, off, err)
		}
	}
	if err := data.Sync(); err != nil {
		return nil, err
	}
	if err := hf.Sync(); err != nil {
		return nil, err
	}
	for _, p := range before.Problems {
		if p.Correctable != nil && *p.Correctable {
			out.Repaired = append(out.Repaired, p)
		}
	}
	out.After, err = d.Verify(root, vo)
	return out, err
}

// overlay reads a device with some blocks replaced.
type overlay struct {
	r      io.ReaderAt
	blocks map[int64][]byte // block offset → content
	bs     int64
}

func (o *overlay) ReadAt(b []byte, off int64) (int, error) {
	n, err := o.r.ReadAt(b, off)
	for i := (off / o.bs) * o.bs; i < off+int64(len(b)); i += o.bs {
		blk, ok := o.blocks[i]
		if !ok {
			continue
		}
		lo, hi := max(i, off), min(i+o.bs, off+int64(len(b)))
		copy(b[lo-off:hi-off], blk[lo-i:hi-i])
		if int(hi-off) > n {
			n = int(hi - off)
		}
	}
	if n == len(b) {
		err = nil
	}
	return n, err
}
