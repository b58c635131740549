package verity

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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

// erasures maps the damaged blocks of a report to FEC message blocks:
// blocks shown damaged by an authenticated parent, unreadable blocks, and
// the top hash block when the root does not match and blocks below
// disagree. Unverifiable blocks are not erasures: they may be intact,
// and the decoder finds real errors among them with its spare capacity.
func (d *Device) erasures(rep *Report, g *Geometry) []uint64 {
	var out []uint64
	seen := map[uint64]bool{}
	add := func(blk uint64) {
		if !seen[blk] {
			seen[blk] = true
			out = append(out, blk)
		}
	}
	b := uint64(d.Params.HashBlockSize)
	for _, pr := range rep.Problems {
		switch pr.Kind {
		case DataBlockDamaged, HashBlockDamaged, PaddingNotZero, IOError:
		case RootHashMismatch:
			if len(rep.Problems) == 1 && len(g.Levels) > 0 {
				continue // a wrong root hash, not damage
			}
		default:
			continue
		}
		if pr.Device == DeviceData {
			add(pr.Block)
			continue
		}
		if hb := uint64(pr.Offset) / b; hb >= g.HashStart && hb < g.End {
			add(d.Params.DataBlocks + hb - g.HashStart)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// fecAttempt rebuilds the damaged blocks of rep from the parity and checks
// the rebuilt device against root without writing anything. It returns
// the report of the rebuilt device and the rebuilt blocks by byte offset
// on the data and hash devices.
func (d *Device) fecAttempt(rep *Report, root []byte, data, hf io.ReaderAt, hashSize int64, vo *VerifyOptions) (after *Report, dataFix, hashFix map[int64][]byte, err error) {
	l := d.Layout
	g, err := d.Params.Geometry(l.HashStart(&d.Params))
	if err != nil {
		return nil, nil, nil, err
	}
	onHash := sameFile(l.FECPath, d.HashPath)
	if err := checkFEC(&d.Params, &l, g, onHash); err != nil {
		return nil, nil, nil, err
	}
	ff, err := os.Open(l.FECPath)
	if err != nil {
		return nil, nil, nil, err
	}
	defer ff.Close()
	msg, n := fecGeometry(data, hf, &d.Params, &l, g, hashSize, onHash)
	fp := fec.Params{BlockSize: int(d.Params.HashBlockSize), Roots: l.FECRoots}
	if st, err := ff.Stat(); err == nil && st.Mode().IsRegular() {
		if need := int64(l.FECOffset) + int64(fp.ParityBlocks(n))*int64(fp.BlockSize); st.Size() < need {
			return nil, nil, nil, fmt.Errorf("%s: FEC device has %d bytes, the parity needs %d", l.FECPath, st.Size(), need)
		}
	}
	erased := d.erasures(rep, g)
	// When every problem is located, only the rounds holding them need
	// decoding. Unverifiable blocks may hide damage in other rounds, so
	// then every round is checked (still using the located erasures).
	located := len(erased) > 0
	for _, p := range rep.Problems {
		if p.Kind == Unverifiable {
			located = false
		}
	}
	var res *fec.Result
	if located {
		res, err = fec.CorrectErasures(msg, n, ff, int64(l.FECOffset), fp, erased)
	} else {
		res, err = fec.Correct(msg, n, ff, int64(l.FECOffset), fp, erased)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", l.FECPath, err)
	}
	b := int64(d.Params.HashBlockSize)
	dataFix, hashFix = map[int64][]byte{}, map[int64][]byte{}
	for _, blk := range res.Blocks {
		if blk.Index < d.Params.DataBlocks {
			dataFix[int64(blk.Index)*b] = blk.Data
		} else {
			hashFix[int64(g.HashStart+blk.Index-d.Params.DataBlocks)*b] = blk.Data
		}
	}
	after, err = Verify(&overlay{data, dataFix, b}, &overlay{hf, hashFix, b}, &d.Params, g.HashStart, root, vo)
	if err != nil {
		return nil, nil, nil, err
	}
	markCorrectable(rep, after)
	return after, dataFix, hashFix, nil
}

// markCorrectable sets Correctable on each problem of before: true when
// the rebuilt device no longer has it.
func markCorrectable(before, after *Report) {
	type place struct {
		dev   string
		level int
		off   int64
	}
	left := map[place]bool{}
	for _, p := range after.Problems {
		left[place{p.Device, p.Level, p.Offset}] = true
	}
	for i := range before.Problems {
		p := &before.Problems[i]
		ok := after.OK || !left[place{p.Device, p.Level, p.Offset}]
		if p.Kind == Truncated {
			ok = false
		}
		p.Correctable = &ok
	}
}

// CheckFEC completes rep with what the device's Reed-Solomon parity says.
// When rep has problems, each is marked correctable or not: the damaged
// blocks are rebuilt in memory and the rebuilt device verified against
// root. When data and tree verify, the parity itself is checked, and each
// damaged parity block is added as a ParityDamaged problem. Nothing is
// written.
func (d *Device) CheckFEC(rep *Report, root []byte) error {
	if d.Layout.FECPath == "" {
		return nil
	}
	for _, p := range rep.Problems {
		if p.Kind == Truncated {
			markCorrectable(rep, &Report{Problems: rep.Problems})
			return nil
		}
	}
	data, hf, hashSize, err := d.open(os.O_RDONLY)
	if err != nil {
		return err
	}
	defer data.Close()
	defer hf.Close()
	if rep.OK {
		bad, err := d.checkParity(data, hf, hashSize)
		if err != nil {
			return err
		}
		b := int64(d.Params.HashBlockSize)
		for _, blk := range bad {
			off := int64(d.Layout.FECOffset) + int64(blk)*b
			rep.Problems = append(rep.Problems, Problem{Kind: ParityDamaged, Device: DeviceFEC, Level: -1, Block: blk, Offset: off,
				Detail: "parity block does not match the verified data and tree; repair re-encodes it"})
		}
		rep.OK = len(rep.Problems) == 0
		return nil
	}
	_, _, _, err = d.fecAttempt(rep, root, data, hf, hashSize, nil)
	return err
}

// checkParity decodes every codeword of a device whose data and tree
// verify and returns the parity blocks that disagree with them.
func (d *Device) checkParity(data, hf io.ReaderAt, hashSize int64) ([]uint64, error) {
	l := d.Layout
	g, err := d.Params.Geometry(l.HashStart(&d.Params))
	if err != nil {
		return nil, err
	}
	onHash := sameFile(l.FECPath, d.HashPath)
	if err := checkFEC(&d.Params, &l, g, onHash); err != nil {
		return nil, err
	}
	ff, err := os.Open(l.FECPath)
	if err != nil {
		return nil, err
	}
	defer ff.Close()
	msg, n := fecGeometry(data, hf, &d.Params, &l, g, hashSize, onHash)
	fp := fec.Params{BlockSize: int(d.Params.HashBlockSize), Roots: l.FECRoots}
	res, err := fec.Correct(msg, n, ff, int64(l.FECOffset), fp, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.FECPath, err)
	}
	bad := append([]uint64(nil), res.ParityBlocks...)
	// Rounds beyond repair: with the data verified, their parity is what
	// is wrong. Round r's parity is blocks [r·roots, (r+1)·roots).
	for _, r := range res.Uncorrectable {
		for i := uint64(0); i < uint64(l.FECRoots); i++ {
			bad = append(bad, r*uint64(l.FECRoots)+i)
		}
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i] < bad[j] })
	return slices.Compact(bad), nil
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
	// After is the report of the device as rebuilt (written back unless
	// Refused is set); nil when there was nothing to rebuild.
	After *Report `json:"after,omitempty"`
	// Repaired lists the problems mended.
	Repaired []Problem `json:"repaired,omitempty"`
	// Refused explains why nothing was written, when it was not.
	Refused string `json:"refused,omitempty"`
}

// Repair verifies the device against root and, when the damaged blocks
// can be rebuilt from the FEC parity so that the whole device verifies,
// writes the rebuilt blocks back and syncs. It writes nothing otherwise:
// a repair is all or nothing, so a device is never left half repaired.
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
		return d.repairParity(out, root, vo)
	}
	for _, p := range before.Problems {
		if p.Kind == Truncated {
			markCorrectable(before, &Report{Problems: before.Problems})
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
	after, dataFix, hashFix, err := d.fecAttempt(before, root, data, hf, hashSize, &VerifyOptions{})
	if err != nil {
		return nil, err
	}
	out.After = after
	if !after.OK {
		out.Refused = fmt.Sprintf("the parity (%d roots) cannot rebuild the damage: %d problem(s) would remain", d.Layout.FECRoots, len(after.Problems))
		return out, nil
	}
	if err := writeBlocks(data, d.DataPath, dataFix); err != nil {
		return nil, err
	}
	if err := writeBlocks(hf, d.HashPath, hashFix); err != nil {
		return nil, err
	}
	out.Repaired = before.Problems
	out.After, err = d.Verify(root, vo)
	return out, err
}

func writeBlocks(f *os.File, name string, blocks map[int64][]byte) error {
	for off, blk := range blocks {
		if _, err := f.WriteAt(blk, off); err != nil {
			return fmt.Errorf("%s: writing repaired block at byte %d: %w", name, off, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
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

// repairParity re-encodes the parity of a device whose data and tree
// verify, when the parity is damaged.
func (d *Device) repairParity(out *RepairResult, root []byte, vo *VerifyOptions) (*RepairResult, error) {
	if err := d.CheckFEC(out.Before, root); err != nil {
		return nil, err
	}
	if out.Before.OK {
		return out, nil
	}
	data, hf, hashSize, err := d.open(os.O_RDWR)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	defer hf.Close()
	g, err := d.Params.Geometry(d.Layout.HashStart(&d.Params))
	if err != nil {
		return nil, err
	}
	if _, err := writeFEC(data, hf, d.HashPath, &d.Params, &d.Layout, g, hashSize); err != nil {
		return nil, err
	}
	if err := hf.Sync(); err != nil {
		return nil, err
	}
	out.Repaired = out.Before.Problems
	out.After, err = d.Verify(root, vo)
	if err == nil {
		err = d.CheckFEC(out.After, root)
	}
	return out, err
}
