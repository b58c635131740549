package verity

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// ProblemKind classifies what Verify found wrong.
type ProblemKind string

// The kinds of problem Verify reports.
const (
	// RootHashMismatch: the digest of the top of the tree is not the
	// expected root hash.
	RootHashMismatch ProblemKind = "root-hash-mismatch"
	// HashBlockDamaged: a hash block's digest disagrees with the entry in
	// its authenticated parent.
	HashBlockDamaged ProblemKind = "hash-block-damaged"
	// DataBlockDamaged: a data block's digest disagrees with the entry in
	// its authenticated leaf hash block.
	DataBlockDamaged ProblemKind = "data-block-damaged"
	// Unverifiable: a block disagrees with a parent hash block that is
	// itself damaged, so which of the two is wrong cannot be told.
	Unverifiable ProblemKind = "unverifiable"
	// PaddingNotZero: the padding after a digest or at the end of a hash
	// block holds non-zero bytes (veritysetup: "Spare area is not zeroed").
	PaddingNotZero ProblemKind = "padding-not-zero"
	// Truncated: a device is shorter than the tree's geometry needs.
	Truncated ProblemKind = "truncated"
	// IOError: a block could not be read.
	IOError ProblemKind = "io-error"
	// ParityDamaged: data and tree verify, but a block of the FEC parity
	// does not match them (Repair re-encodes it).
	ParityDamaged ProblemKind = "fec-parity-damaged"
)

// Device names used in Problem.Device.
const (
	DeviceData = "data"
	DeviceHash = "hash"
	DeviceFEC  = "fec"
)

// Problem is one entry of a corruption map.
type Problem struct {
	Kind ProblemKind `json:"kind"`
	// Device is DeviceData or DeviceHash.
	Device string `json:"device"`
	// Level is the tree level of a damaged hash block (0 holds the data
	// blocks' digests, the highest level is the block under the root), or
	// -1 for a data block.
	Level int `json:"level"`
	// Block is the block's index: in the data device, or within its level.
	Block uint64 `json:"block"`
	// Offset is the byte offset of the block (or of the bad padding byte)
	// on its device.
	Offset int64 `json:"offset"`
	// Expected and Actual are hex digests: the one its parent (or the root
	// hash) records, and the one computed from the bytes read.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// Detail explains the problem in a sentence.
	Detail string `json:"detail"`
	// Files names what the block holds in the data device's filesystem
	// (a path, or "metadata or free space") when a caller mapped it.
	Files []string `json:"files,omitempty"`
	// Correctable is set after a check with forward error correction: true
	// when the parity can restore the block.
	Correctable *bool `json:"correctable,omitempty"`
}

func (p Problem) String() string {
	where := fmt.Sprintf("%s block %d", p.Device, p.Block)
	if p.Device == DeviceHash && p.Level >= 0 {
		where = fmt.Sprintf("hash block %d of level %d", p.Block, p.Level)
	}
	s := fmt.Sprintf("%s: %s at byte %d: %s", p.Kind, where, p.Offset, p.Detail)
	if p.Kind == RootHashMismatch || p.Kind == Truncated {
		s = fmt.Sprintf("%s: %s", p.Kind, p.Detail)
	}
	if p.Expected != "" {
		s += fmt.Sprintf(" (expected %s, actual %s)", p.Expected, p.Actual)
	}
	if p.Correctable != nil {
		if *p.Correctable {
			s += " [correctable by FEC]"
		} else {
			s += " [not correctable by FEC]"
		}
	}
	return s
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	Options
	// FirstError stops at the first problem found.
	FirstError bool
	// MaxProblems caps the problems listed (0 means 10,000); the rest are
	// only counted in Report.Omitted.
	MaxProblems int
	// DataSize and HashSize are the devices' sizes in bytes, used to tell
	// truncation from damage; -1 or 0 means unknown.
	DataSize, HashSize int64
}

// Report is the result of Verify.
type Report struct {
	// OK is true when the whole tree and data match the root hash.
	OK bool `json:"ok"`
	// RootHash is the expected root hash; ComputedRoot the digest of the
	// top of the tree as read.
	RootHash     string `json:"root_hash"`
	ComputedRoot string `json:"computed_root"`
	// DataBlocks and HashBlocks are the blocks checked.
	DataBlocks uint64 `json:"data_blocks"`
	HashBlocks uint64 `json:"hash_blocks"`
	// Problems is the corruption map, ordered by device, level and block.
	Problems []Problem `json:"problems"`
	// Omitted counts problems beyond VerifyOptions.MaxProblems.
	Omitted int `json:"omitted,omitempty"`
	// Stopped is true when FirstError ended the check early.
	Stopped bool `json:"stopped,omitempty"`
}

// mismatch is a child whose digest differs from its parent's entry.
type mismatch struct {
	level    int    // level of the parent
	child    uint64 // child index (data block for level 0)
	expected []byte
	actual   []byte
}

type key struct {
	level int
	child uint64
}

// Verify checks data and the hash tree on hashDev (starting at hash block
// hashStart) against root and returns a corruption map. The returned error
// is for failures to run the check (bad parameters); damage is reported in
// the Report, never as an error.
func Verify(data, hashDev io.ReaderAt, p *Params, hashStart uint64, root []byte, opts *VerifyOptions) (*Report, error) {
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = 10000
	}
	t, err := newTree(p, hashStart, data, hashDev, &o.Options)
	if err != nil {
		return nil, err
	}
	if len(root) != t.g.DigestSize {
		return nil, fmt.Errorf("root hash has %d bytes, %s digests have %d", len(root), p.Algorithm, t.g.DigestSize)
	}
	v := &verifier{tree: t, o: o, mismatches: map[key]*mismatch{}, rep: &Report{
		RootHash:   hex.EncodeToString(root),
		DataBlocks: p.DataBlocks,
		HashBlocks: t.g.HashBlocks(),
	}}
	t.total = p.DataBlocks*uint64(p.DataBlockSize) + t.g.HashBlocks()*uint64(p.HashBlockSize)
	v.checkSizes()
	// Top down, so that with FirstError the first mismatch found lies
	// under blocks already authenticated.
	if !v.stop.Load() {
		computed, err := t.rootDigest(t.hasher())
		v.rep.ComputedRoot = hex.EncodeToString(computed)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			v.add(Problem{Kind: IOError, Device: v.topDevice(), Level: len(t.g.Levels) - 1, Detail: "reading the top of the tree: " + err.Error()})
		}
		v.rootOK = bytes.Equal(computed, root)
		if !v.rootOK && o.FirstError {
			v.stop.Store(true)
		}
	}
	for i := len(t.g.Levels) - 1; i >= 0 && !v.stop.Load(); i-- {
		if err := t.run(t.jobs(i, i+1), v.checkJob); err != nil {
			return nil, err
		}
	}
	v.classify()
	v.rep.Stopped = v.stop.Load()
	v.rep.OK = len(v.rep.Problems) == 0 && v.rep.Omitted == 0 && !v.rep.Stopped
	return v.rep, nil
}

type verifier struct {
	*tree
	o    VerifyOptions
	stop atomic.Bool

	mu         sync.Mutex
	rep        *Report
	mismatches map[key]*mismatch
	unreadable map[key]bool
	rootOK     bool
	dataEnd    uint64 // data blocks readable, when truncated
	hashEnd    uint64 // hash blocks readable, when truncated
	truncData  bool
	truncHash  bool
}

func (v *verifier) topDevice() string {
	if len(v.g.Levels) == 0 {
		return DeviceData
	}
	return DeviceHash
}

// add records a problem, honouring MaxProblems and FirstError.
func (v *verifier) add(p Problem) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.addLocked(p)
}

func (v *verifier) addLocked(p Problem) {
	if len(v.rep.Problems) >= v.o.MaxProblems || (v.o.FirstError && len(v.rep.Problems) > 0) {
		v.rep.Omitted++
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
	if v.o.FirstError {
		v.rep.Stopped = true
		v.stop.Store(true)
	}
}

func (v *verifier) checkSizes() {
	dbs, hbs := uint64(v.p.DataBlockSize), uint64(v.p.HashBlockSize)
	if v.o.DataSize > 0 && uint64(v.o.DataSize) < v.p.DataBlocks*dbs {
		v.truncData = true
		v.dataEnd = uint64(v.o.DataSize) / dbs
		v.add(Problem{Kind: Truncated, Device: DeviceData, Level: -1, Block: v.dataEnd, Offset: int64(v.dataEnd * dbs),
			Detail: fmt.Sprintf("data device has %d bytes, the tree covers %d blocks of %d bytes (%d bytes); blocks %d to %d are missing",
				v.o.DataSize, v.p.DataBlocks, dbs, v.p.DataBlocks*dbs, v.dataEnd, v.p.DataBlocks-1)})
	}
	if v.o.HashSize > 0 && uint64(v.o.HashSize) < v.g.End*hbs {
		v.truncHash = true
		v.hashEnd = uint64(v.o.HashSize) / hbs
		v.add(Problem{Kind: Truncated, Device: DeviceHash, Level: -1, Block: v.hashEnd, Offset: int64(v.hashEnd * hbs),
			Detail: fmt.Sprintf("hash device has %d bytes, the tree ends at byte %d (hash blocks %d to %d are missing)",
				v.o.HashSize, v.g.End*hbs, v.hashEnd, v.g.End-1)})
	}
}

// missing reports whether a block lies past the end of a truncated device.
func (v *verifier) missing(level int, child uint64) bool {
	if level == 0 {
		return v.truncData && child >= v.dataEnd
	}
	return v.truncHash && v.g.Levels[level-1].Start+child >= v.hashEnd
}

func (v *verifier) missingHash(level int, block uint64) bool {
	return v.truncHash && v.g.Levels[level].Start+block >= v.hashEnd
}

// checkJob computes parents [p0, p1) of a level from their children and
// compares them with the stored parents.
func (v *verifier) checkJob(w *worker, j job) error {
	if v.stop.Load() {
		return nil
	}
	hbs := int(v.p.HashBlockSize)
	n := int(j.p1-j.p0) * hbs
	v.computeParents(w.x, j.level, j.p0, j.p1, w.buf, w.out, func(child uint64, err error) {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return // covered by the Truncated problem
		}
		v.ioError(j.level, child, err)
	})
	if cap(w.stored) < n {
		w.stored = make([]byte, n)
	}
	stored := w.stored[:n]
	base := int64(v.g.Levels[j.level].Start+j.p0) * int64(hbs)
	if err := readFullAt(v.hash, stored, base); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		for b := j.p0; b < j.p1; b++ {
			blk := stored[int(b-j.p0)*hbs : int(b-j.p0+1)*hbs]
			if err := readFullAt(v.hash, blk, base+int64(b-j.p0)*int64(hbs)); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				v.ioError(j.level+1, b, err)
			}
		}
	}
	if bytes.Equal(stored, w.out[:n]) {
		return nil
	}
	_, _, _, nChildren := v.children(j.level)
	per := v.g.PerBlock()
	es, ds := v.g.EntrySize, v.g.DigestSize
	for b := j.p0; b < j.p1; b++ {
		if v.missingHash(j.level, b) {
			continue
		}
		off := int(b-j.p0) * hbs
		s, c := stored[off:off+hbs], w.out[off:off+hbs]
		if bytes.Equal(s, c) {
			continue
		}
		used := min(per, nChildren-b*per)
		for slot := uint64(0); slot < used; slot++ {
			e := int(slot) * es
			if !bytes.Equal(s[e:e+ds], c[e:e+ds]) {
				child := b*per + slot
				if v.missing(j.level, child) {
					continue
				}
				v.mu.Lock()
				if v.unreadable[key{j.level, child}] {
					v.mu.Unlock()
					continue
				}
				v.mismatches[key{j.level, child}] = &mismatch{j.level, child, bytes.Clone(s[e : e+ds]), bytes.Clone(c[e : e+ds])}
				if v.o.FirstError {
					v.stop.Store(true)
				}
				v.mu.Unlock()
			}
		}
		// Padding: after each digest in format 1, and the block's tail.
		for i := 0; i < hbs; i++ {
			inEntry := uint64(i/es) < used && i%es < ds
			if !inEntry && s[i] != 0 {
				v.add(Problem{Kind: PaddingNotZero, Device: DeviceHash, Level: j.level, Block: b,
					Offset: base + int64(off+i),
					Detail: fmt.Sprintf("spare area of hash block is not zeroed at byte %d of the block", i)})
				break
			}
		}
	}
	return nil
}

func (v *verifier) ioError(level int, child uint64, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.unreadable == nil {
		v.unreadable = map[key]bool{}
	}
	v.unreadable[key{level, child}] = true
	dev, lvl, off := v.childPos(level, child)
	v.addLocked(Problem{Kind: IOError, Device: dev, Level: lvl, Block: child, Offset: off, Detail: err.Error()})
}

// childPos gives the device, level and byte offset of child of a level.
func (v *verifier) childPos(level int, child uint64) (string, int, int64) {
	if level == 0 {
		return DeviceData, -1, int64(child) * int64(v.p.DataBlockSize)
	}
	return DeviceHash, level - 1, int64(v.g.Levels[level-1].Start+child) * int64(v.p.HashBlockSize)
}

// classify turns mismatches into problems, walking down from the root: a
// block is authentic when its parent is authentic and agrees with it.
func (v *verifier) classify() {
	levels := len(v.g.Levels)
	if !v.rootOK && v.rep.ComputedRoot != "" {
		detail := "the tree is consistent with the data, but its top does not match the root hash: the root hash given is not this image's, or data and tree were replaced together"
		if len(v.mismatches) > 0 || v.truncData || v.truncHash {
			detail = "the top of the tree does not match the root hash, and blocks below disagree with it: the top hash block or the root hash is wrong"
		}
		if levels == 0 {
			detail = "the only data block does not match the root hash"
		}
		p := Problem{Kind: RootHashMismatch, Device: v.topDevice(), Level: levels - 1, Expected: v.rep.RootHash, Actual: v.rep.ComputedRoot, Detail: detail}
		if levels == 0 {
			p.Level = -1
		} else {
			p.Offset = int64(v.g.Levels[levels-1].Start) * int64(v.p.HashBlockSize)
		}
		v.addLocked(p)
	}
	keys := make([]key, 0, len(v.mismatches))
	for k := range v.mismatches {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].level != keys[b].level {
			return keys[a].level > keys[b].level
		}
		return keys[a].child < keys[b].child
	})
	per := v.g.PerBlockBits
	// authentic reports whether hash block b of level i chains to the root.
	var authentic func(i int, b uint64) bool
	authentic = func(i int, b uint64) bool {
		if i == levels-1 {
			return v.rootOK
		}
		if _, bad := v.mismatches[key{i + 1, b}]; bad || v.unreadable[key{i + 1, b}] || v.missingHash(i, b) {
			return false
		}
		return authentic(i+1, b>>per)
	}
	for _, k := range keys {
		m := v.mismatches[k]
		dev, lvl, off := v.childPos(k.level, k.child)
		p := Problem{Device: dev, Level: lvl, Block: k.child, Offset: off,
			Expected: hex.EncodeToString(m.expected), Actual: hex.EncodeToString(m.actual)}
		parent := k.child >> per
		if authentic(k.level, parent) {
			if dev == DeviceData {
				p.Kind, p.Detail = DataBlockDamaged, "data block digest differs from its authenticated hash entry"
			} else {
				p.Kind, p.Detail = HashBlockDamaged, "hash block digest differs from its authenticated parent's entry"
			}
		} else {
			p.Kind = Unverifiable
			p.Detail = fmt.Sprintf("disagrees with hash block %d of level %d, which is itself not authentic", parent, k.level)
		}
		v.addLocked(p)
	}
	sort.SliceStable(v.rep.Problems, func(a, b int) bool {
		ra, rb := rank(v.rep.Problems[a]), rank(v.rep.Problems[b])
		return slices.Compare(ra[:], rb[:]) < 0
	})
}

// rank orders problems: truncation and root first, then hash blocks from
// the top level down, then data blocks.
func rank(p Problem) [3]int64 {
	switch p.Kind {
	case Truncated:
		return [3]int64{0, 0, p.Offset}
	case RootHashMismatch:
		return [3]int64{1, 0, 0}
	}
	if p.Device == DeviceHash {
		return [3]int64{2, int64(-p.Level), p.Offset}
	}
	return [3]int64{3, 0, p.Offset}
}
