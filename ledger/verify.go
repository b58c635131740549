package ledger

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Kind is a kind of tampering or damage found by [Verify].
type Kind string

// The kinds of problems. The first six are what happened to the entries;
// the others are damage to checkpoints and to the derived files.
const (
	// KindModified: an entry's content changed in place, or the history
	// was rewritten consistently (then Entry is the lowest position the
	// change can start at).
	KindModified Kind = "modified"
	// KindDeleted: entries are missing in the middle of the log.
	KindDeleted Kind = "deleted"
	// KindInserted: entries that were never logged were added, or an
	// entry was replayed.
	KindInserted Kind = "inserted"
	// KindReordered: authentic entries are in a different order.
	KindReordered Kind = "reordered"
	// KindTruncated: the log ends before a checkpoint or the stored
	// hashes say it did, or a checkpoint is smaller than an earlier one.
	KindTruncated Kind = "truncated"
	// KindForked: two validly signed checkpoints cannot both describe
	// this log: the same size with different roots, or a newer one that
	// does not extend an older one.
	KindForked Kind = "forked"
	// KindBadCheckpoint: a recorded checkpoint is damaged, has a bad
	// signature, an unknown key or another origin.
	KindBadCheckpoint Kind = "bad-checkpoint"
	// KindBadHashes: the stored hashes disagree with entries that the
	// checkpoints confirm.
	KindBadHashes Kind = "bad-hashes"
	// KindBadIndex: the index points at the wrong offsets.
	KindBadIndex Kind = "bad-index"
)

// Problem is one finding of [Verify].
type Problem struct {
	Kind Kind `json:"kind"`
	// Entry is the position of the first entry affected, or -1.
	Entry int64 `json:"entry"`
	// Count is the number of entries deleted, inserted, modified or
	// missing, when known.
	Count uint64 `json:"count,omitempty"`
	// File and Offset locate the damage (Offset -1: not applicable).
	File   string `json:"file,omitempty"`
	Offset int64  `json:"offset"`
	// Checkpoint names the checkpoint that revealed it.
	Checkpoint string `json:"checkpoint,omitempty"`
	Detail     string `json:"detail"`
}

// String describes the problem on one line.
func (p Problem) String() string {
	s := string(p.Kind)
	if p.Entry >= 0 {
		s += fmt.Sprintf(" at entry %d", p.Entry)
	}
	if p.Count > 0 {
		s += " (" + plural(p.Count, "entry", "entries") + ")"
	}
	if p.File != "" {
		s += ", " + p.File
		if p.Offset >= 0 {
			s += fmt.Sprintf(" offset %d", p.Offset)
		}
	}
	return s + ": " + p.Detail
}

// CheckpointStatus is how one checkpoint fared.
type CheckpointStatus struct {
	// Source is "checkpoints#N" (the Nth record, from 1), "checkpoint"
	// (the plain copy) or the file name of an external checkpoint.
	Source   string `json:"source"`
	External bool   `json:"external,omitempty"`
	Size     uint64 `json:"size"`
	Root     string `json:"root,omitempty"`
	// Valid: the signature verified with a given key and the origin is
	// the ledger's.
	Valid bool `json:"valid"`
	// Matches: the ledger's entries have this root at this size. Nil when
	// it could not be computed (invalid, or beyond the entries).
	Matches *bool  `json:"matches,omitempty"`
	Error   string `json:"error,omitempty"`
}

// External is a checkpoint kept outside the ledger, e.g. by a witness.
type External struct {
	// Name identifies it in reports (a file name).
	Name string
	// Note is the signed checkpoint.
	Note []byte
}

// Report is the result of [Verify].
type Report struct {
	Dir    string `json:"dir"`
	Origin string `json:"origin"`
	// Entries is the number of entry records read.
	Entries uint64 `json:"entries"`
	// Verified is the size of the largest valid checkpoint the entries
	// match: everything before it is proven authentic.
	Verified    uint64             `json:"verified"`
	Checkpoints []CheckpointStatus `json:"checkpoints"`
	// Problems are sorted by entry; the first is where the ledger first
	// differs from what was checkpointed.
	Problems []Problem `json:"problems"`
	// Notes are observations that are not tampering: a crash's torn tail,
	// entries not yet checkpointed or hashed.
	Notes []string `json:"notes,omitempty"`
	OK    bool     `json:"ok"`
}

// First returns the problem at the lowest entry position, or nil.
func (r *Report) First() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

// trusted is a checkpoint with a verified signature.
type trusted struct {
	c   *Checkpoint
	src string
	st  *CheckpointStatus // set once the statuses are complete
	si  int               // index of the status in Report.Checkpoints
}

// window is how many entries after the first difference are kept to
// classify it.
const window = 64

type wEntry struct {
	off         int64
	seq         uint64
	time        int64
	data        []byte
	leaf        tlog.Hash
	crcBad      bool
	unparseable bool
}

// Verify checks the ledger in dir without modifying it: it recomputes the
// tree from the entries, checks every recorded checkpoint's signature with
// the known keys, checks that every valid checkpoint (recorded or external)
// matches the entries, and compares the stored hashes and index with the
// recomputation. It reports the first entry that differs and the kind of
// tampering.
//
// Verify returns an error, rather than a report, when it cannot judge:
// no ledger in dir, an external checkpoint that does not verify (wrong
// key, another origin, garbage), or recorded checkpoints none of which is
// signed by a known key.
func Verify(dir string, known note.Verifiers, external []External) (*Report, error) {
	m, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	v := &verifier{dir: dir, origin: m.Origin, known: known, rep: &Report{Dir: dir, Origin: m.Origin}}
	for _, name := range []string{entriesName, hashesName, indexName} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		switch name {
		case entriesName:
			v.entries = f
		case hashesName:
			v.hashes = f
		case indexName:
			v.index = f
		}
	}
	if err := v.localCheckpoints(); err != nil {
		return nil, err
	}
	for _, x := range external {
		c, err := OpenCheckpoint(x.Note, known)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", x.Name, err)
		}
		if c.Origin != m.Origin {
			return nil, fmt.Errorf("%s: checkpoint for origin %q, this ledger's origin is %q", x.Name, c.Origin, m.Origin)
		}
		v.rep.Checkpoints = append(v.rep.Checkpoints, CheckpointStatus{Source: x.Name, External: true, Size: c.Size, Root: b64(c.Root), Valid: true})
		v.trusted = append(v.trusted, trusted{c: c, src: x.Name, si: len(v.rep.Checkpoints) - 1})
	}
	for i := range v.trusted {
		v.trusted[i].st = &v.rep.Checkpoints[v.trusted[i].si]
	}
	sort.SliceStable(v.trusted, func(i, j int) bool { return v.trusted[i].c.Size < v.trusted[j].c.Size })
	if err := v.scan(); err != nil {
		return nil, err
	}
	v.judge()
	sort.SliceStable(v.rep.Problems, func(i, j int) bool {
		a, b := v.rep.Problems[i].Entry, v.rep.Problems[j].Entry
		if (a < 0) != (b < 0) {
			return b < 0
		}
		return a < b
	})
	v.rep.OK = len(v.rep.Problems) == 0
	return v.rep, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

type verifier struct {
	dir, origin            string
	known                  note.Verifiers
	rep                    *Report
	entries, hashes, index *os.File
	trusted                []trusted

	// From the scan.
	n           uint64 // entry positions read
	roots       map[uint64]tlog.Hash
	hashRecs    uint64 // records the hashes file fully covers
	idxCount    uint64
	firstDiff   int64 // first position whose record differs; -1
	diffIsLeaf  bool  // only the stored leaf hash differs there
	w           []wEntry
	interior    int64 // first stored interior hash that differs; -1
	interiorEnt int64
	firstIndex  int64 // first index slot that differs; -1
	unparsed    int64 // offset where parsing had to stop; -1
	leafCache   map[uint64]tlog.Hash
}

func (v *verifier) problem(p Problem) { v.rep.Problems = append(v.rep.Problems, p) }

func (v *verifier) path(name string) string { return filepath.Join(v.dir, name) }

// localCheckpoints reads the checkpoints file and the plain copy.
func (v *verifier) localCheckpoints() error {
	name := v.path(checkpointsName)
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		v.problem(Problem{Kind: KindBadCheckpoint, Entry: -1, File: checkpointsName, Offset: -1, Detail: "the checkpoints file is missing"})
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	unknown, valid, records := 0, 0, 0
	var unknownErr error
	var last []byte
	add := func(msg []byte, src string, off int64) {
		cs := CheckpointStatus{Source: src}
		c, err := OpenCheckpoint(msg, v.known)
		if err == nil && c.Origin != v.origin {
			err = fmt.Errorf("checkpoint for origin %q, the ledger's is %q", c.Origin, v.origin)
		}
		if err != nil {
			if errors.Is(err, ErrUnknownKey) {
				unknown++
				unknownErr = err
			}
			cs.Error = err.Error()
			if pc, perr := parseUnverified(msg); perr == nil {
				cs.Size, cs.Root = pc.Size, b64(pc.Root)
			}
			v.rep.Checkpoints = append(v.rep.Checkpoints, cs)
			v.problem(Problem{Kind: KindBadCheckpoint, Entry: -1, File: filepath.Base(src), Offset: off, Checkpoint: src, Detail: err.Error()})
			return
		}
		valid++
		cs.Valid, cs.Size, cs.Root = true, c.Size, b64(c.Root)
		v.rep.Checkpoints = append(v.rep.Checkpoints, cs)
		v.trusted = append(v.trusted, trusted{c: c, src: src, si: len(v.rep.Checkpoints) - 1})
	}
	if err := checkMagic(f, notesMagic, name); err != nil {
		v.problem(Problem{Kind: KindBadCheckpoint, Entry: -1, File: checkpointsName, Offset: 0, Detail: err.Error()})
	} else {
		s := newScanner(f, fileHeaderSize, st.Size(), 1, maxNoteSize)
		var prev *Checkpoint
		for k := 1; ; k++ {
			off := s.offset()
			p, n, rs, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			src := fmt.Sprintf("%s#%d", checkpointsName, k)
			if rs != recOK {
				if tailIsTorn(f, off, st.Size(), n, 1, maxNoteSize) {
					v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s: %d bytes of an incomplete checkpoint record at offset %d (an interrupted write; the writer drops it on open)", checkpointsName, st.Size()-off, off))
					break
				}
				v.problem(Problem{Kind: KindBadCheckpoint, Entry: -1, File: checkpointsName, Offset: off, Checkpoint: src, Detail: "damaged checkpoint record (bad checksum)"})
				s.skip(n)
				continue
			}
			records++
			last = append(last[:0], p...)
			before := len(v.trusted)
			add(p, src, off)
			if len(v.trusted) > before {
				c := v.trusted[len(v.trusted)-1].c
				if prev != nil && c.Size < prev.Size {
					v.problem(Problem{Kind: KindTruncated, Entry: int64(c.Size), Count: prev.Size - c.Size, File: checkpointsName, Offset: off, Checkpoint: src,
						Detail: fmt.Sprintf("checkpoint of size %d follows one of size %d: the log was rolled back", c.Size, prev.Size)})
				}
				prev = c
			}
		}
	}
	if b, err := readSmall(v.path(checkpointName), maxNoteSize); err == nil {
		if string(b) != string(last) {
			add(b, checkpointName, 0)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		v.problem(Problem{Kind: KindBadCheckpoint, Entry: -1, File: checkpointName, Offset: -1, Detail: err.Error()})
	}
	if records == 0 && len(v.rep.Problems) == 0 {
		v.problem(Problem{Kind: KindBadCheckpoint, Entry: -1, File: checkpointsName, Offset: fileHeaderSize,
			Detail: "the ledger records no checkpoint, yet it signs one when created: its checkpoints were removed"})
	}
	if valid == 0 && unknown > 0 {
		return fmt.Errorf("%s: no checkpoint is signed by the given key(s): %w", v.dir, unknownErr)
	}
	return nil
}

// scan reads every entry, recomputes the tree and compares it with the
// stored hashes and the index.
func (v *verifier) scan() error {
	v.roots = map[uint64]tlog.Hash{0: emptyRoot()}
	v.firstDiff, v.interior, v.firstIndex, v.unparsed = -1, -1, -1, -1
	v.leafCache = map[uint64]tlog.Hash{}
	entName := v.path(entriesName)
	est, err := v.entries.Stat()
	if err != nil {
		return err
	}
	hst, err := v.hashes.Stat()
	if err != nil {
		return err
	}
	ist, err := v.index.Stat()
	if err != nil {
		return err
	}
	hashCount := hst.Size() / hashSize
	v.hashRecs = uint64(recordsForHashes(hashCount))
	v.idxCount = uint64(ist.Size() / 8)
	if err := checkMagic(v.entries, entriesMagic, entName); err != nil {
		v.problem(Problem{Kind: KindModified, Entry: 0, File: entriesName, Offset: 0, Detail: err.Error()})
		v.unparsed = 0
		return nil
	}
	want := map[uint64]bool{}
	for _, t := range v.trusted {
		want[t.c.Size] = true
	}
	hr := bufio.NewReaderSize(io.NewSectionReader(v.hashes, 0, hashCount*hashSize), 1<<20)
	ir := bufio.NewReaderSize(io.NewSectionReader(v.index, 0, int64(v.idxCount)*8), 1<<18)
	var front frontier
	var base int64
	fileHashes := make([]byte, 64*hashSize)
	s := newScanner(v.entries, fileHeaderSize, est.Size(), entryHeaderSize, entryHeaderSize+MaxEntrySize)
	for i := uint64(0); ; i++ {
		off := s.offset()
		p, n, rs, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %v", entName, err)
		}
		e := wEntry{off: off}
		switch {
		case rs == recOK:
		case rs == recShort || tailIsTorn(v.entries, off, est.Size(), n, entryHeaderSize, entryHeaderSize+MaxEntrySize):
			v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s: %d bytes of an incomplete record at offset %d, entry %d (an interrupted append; the writer drops it on open)", entriesName, est.Size()-off, off, i))
			v.n = i
			return v.finishScan(i)
		case n > 0: // bad checksum, plausible length: keep going
			e.crcBad = true
			s.skip(n)
		default: // impossible length: resynchronise with the index
			e.unparseable = true
			next := int64(-1)
			if i+1 < v.idxCount {
				var b [8]byte
				if _, err := v.index.ReadAt(b[:], int64(i+1)*8); err == nil {
					next = int64(binary.BigEndian.Uint64(b[:]))
				}
			}
			if next <= off+recordHeaderSize || next > est.Size() {
				v.unparsed = off
				return v.finishScan(i)
			}
			s.skip(int(next - off))
		}
		if !e.unparseable {
			e.seq = binary.BigEndian.Uint64(p[0:8])
			e.time = int64(binary.BigEndian.Uint64(p[8:16]))
			e.leaf = tlog.RecordHash(p)
			if v.firstDiff >= 0 && int64(i)-v.firstDiff < window {
				e.data = append([]byte(nil), p[entryHeaderSize:]...)
			}
		}
		hs, err := front.add(e.leaf, base)
		if err != nil {
			return err
		}
		leafDiff := false
		if i < v.hashRecs {
			buf := fileHashes[:len(hs)*hashSize]
			if _, err := io.ReadFull(hr, buf); err != nil {
				return fmt.Errorf("%s: %v", v.path(hashesName), err)
			}
			for k := range hs {
				if string(hs[k][:]) == string(buf[k*hashSize:(k+1)*hashSize]) {
					continue
				}
				if k == 0 {
					leafDiff = true
				} else if !leafDiff && v.interior < 0 && v.firstDiff < 0 {
					v.interior, v.interiorEnt = base+int64(k), int64(i)
				}
			}
		}
		base += int64(len(hs))
		if i < v.idxCount {
			var b [8]byte
			if _, err := io.ReadFull(ir, b[:]); err != nil {
				return fmt.Errorf("%s: %v", v.path(indexName), err)
			}
			if int64(binary.BigEndian.Uint64(b[:])) != off && v.firstIndex < 0 {
				v.firstIndex = int64(i)
			}
		}
		if leafDiff || e.crcBad || e.unparseable || e.seq != i {
			v.markDiff(i, e, leafDiff && !e.crcBad && e.seq == i)
		} else if v.firstDiff >= 0 && int64(i)-v.firstDiff < window {
			v.w = append(v.w, e)
		}
		if want[i+1] {
			v.roots[i+1] = front.root()
		}
	}
	return v.finishScan(uint64(front.n))
}

func (v *verifier) markDiff(i uint64, e wEntry, leafOnly bool) {
	if v.firstDiff < 0 {
		v.firstDiff, v.diffIsLeaf = int64(i), leafOnly
	}
	if int64(i)-v.firstDiff < window {
		v.w = append(v.w, e)
	}
}

func (v *verifier) finishScan(n uint64) error {
	v.n = n
	v.rep.Entries = n
	if v.unparsed >= 0 {
		v.problem(Problem{Kind: KindModified, Entry: int64(n), File: entriesName, Offset: v.unparsed,
			Detail: "entry record cannot be parsed, and the index does not say where the next one starts"})
	}
	return nil
}

// fileLeaf returns the stored record hash of entry j from the hashes file.
func (v *verifier) fileLeaf(j uint64) (tlog.Hash, bool) {
	if j >= v.hashRecs {
		return tlog.Hash{}, false
	}
	if h, ok := v.leafCache[j]; ok {
		return h, true
	}
	var h tlog.Hash
	if _, err := v.hashes.ReadAt(h[:], tlog.StoredHashIndex(0, int64(j))*hashSize); err != nil {
		return h, false
	}
	v.leafCache[j] = h
	return h, true
}

// fileHashReader reads stored hashes straight from the hashes file.
type fileHashReader struct{ f *os.File }

// ReadHashes implements tlog.HashReader.
func (r fileHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if _, err := r.f.ReadAt(out[i][:], x*hashSize); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// judge turns the scan into problems.
func (v *verifier) judge() {
	// Checkpoints against the entries, and against each other.
	bySize := map[uint64]trusted{}
	var maxT *trusted
	for i := range v.trusted {
		t := &v.trusted[i]
		if r, ok := v.roots[t.c.Size]; ok && t.c.Size <= v.n {
			m := r == t.c.Root
			t.st.Matches = &m
			if m && t.c.Size > v.rep.Verified {
				v.rep.Verified = t.c.Size
			}
		}
		if o, ok := bySize[t.c.Size]; ok && o.c.Root != t.c.Root {
			v.problem(Problem{Kind: KindForked, Entry: v.lowerBound(t.c.Size, o.st.External || t.st.External), Offset: -1, Checkpoint: o.src + " and " + t.src,
				Detail: fmt.Sprintf("%s and %s are both validly signed for size %d with different roots: the log showed two histories", o.src, t.src, t.c.Size)})
		}
		bySize[t.c.Size] = *t
		maxT = t
	}
	v.checkSuccessive()
	entryProblem := false
	// The first entry that differs from the stored hashes.
	if v.firstDiff >= 0 {
		i := uint64(v.firstDiff)
		if v.diffIsLeaf && v.checkpointsConfirm(i) {
			v.problem(Problem{Kind: KindBadHashes, Entry: int64(i), File: hashesName, Offset: tlog.StoredHashIndex(0, int64(i)) * hashSize,
				Detail: "the stored record hash differs from the entry, which the checkpoints confirm"})
		} else {
			v.problem(v.classify())
			entryProblem = true
		}
	}
	if v.interior >= 0 {
		v.problem(Problem{Kind: KindBadHashes, Entry: v.interiorEnt, File: hashesName, Offset: v.interior * hashSize,
			Detail: fmt.Sprintf("stored hash %d (a subtree completed by entry %d) differs from the recomputed one", v.interior, v.interiorEnt)})
	}
	// Truncation: checkpoints or stored hashes beyond the entries.
	if !entryProblem && maxT != nil && maxT.c.Size > v.n {
		v.problem(Problem{Kind: KindTruncated, Entry: int64(v.n), Count: maxT.c.Size - v.n, File: entriesName, Offset: -1, Checkpoint: maxT.src,
			Detail: fmt.Sprintf("%s has size %d, the ledger has %d entries", maxT.src, maxT.c.Size, v.n)})
		entryProblem = true
	}
	if !entryProblem && v.hashRecs > v.n && v.hashesAnchored() {
		v.problem(Problem{Kind: KindTruncated, Entry: int64(v.n), Count: v.hashRecs - v.n, File: entriesName, Offset: -1,
			Detail: fmt.Sprintf("the stored hashes cover %d entries, the entries file has %d (or a power loss before the writer reopened)", v.hashRecs, v.n)})
		entryProblem = true
	}
	// A consistent rewrite: entries and stored hashes agree, a checkpoint
	// does not.
	for _, t := range v.trusted {
		if t.st.Matches == nil || *t.st.Matches {
			continue
		}
		if entryProblem && v.firstDiff >= 0 && uint64(v.firstDiff) < t.c.Size {
			continue // explained by the entry-level finding
		}
		lb := v.lowerBound(t.c.Size, t.st.External)
		v.problem(Problem{Kind: KindModified, Entry: lb, Count: t.c.Size - uint64(lb), File: entriesName, Offset: -1, Checkpoint: t.src,
			Detail: fmt.Sprintf("the entries before %d do not have the root %s signed: history was rewritten (entries and stored hashes consistently); the first change is in entries %d..%d", t.c.Size, t.src, lb, t.c.Size-1)})
		break
	}
	if v.firstIndex >= 0 && (v.firstDiff < 0 || v.firstIndex < v.firstDiff) {
		v.problem(Problem{Kind: KindBadIndex, Entry: v.firstIndex, File: indexName, Offset: v.firstIndex * 8,
			Detail: "the index does not point at this entry's record"})
	}
	// Stored hashes and index are made durable before a checkpoint is
	// signed: missing below one is damage, above it a writer at work.
	var covered uint64
	if maxT != nil {
		covered = maxT.c.Size
	}
	if lim := min(covered, v.n); v.hashRecs < lim {
		v.problem(Problem{Kind: KindBadHashes, Entry: int64(v.hashRecs), File: hashesName, Offset: tlog.StoredHashCount(int64(v.hashRecs)) * hashSize, Checkpoint: maxT.src,
			Detail: fmt.Sprintf("the stored hashes end at entry %d, but %s covers %d entries", v.hashRecs, maxT.src, covered)})
	}
	if lim := min(covered, v.n); v.idxCount < lim {
		v.problem(Problem{Kind: KindBadIndex, Entry: int64(v.idxCount), File: indexName, Offset: int64(v.idxCount) * 8, Checkpoint: maxT.src,
			Detail: fmt.Sprintf("the index ends at entry %d, but %s covers %d entries", v.idxCount, maxT.src, covered)})
	}
	// Not tampering: what the checkpoints do not cover yet.
	if v.n > covered {
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%d entries after the latest valid checkpoint (size %d) are not covered by any signature", v.n-covered, covered))
	}
	if v.hashRecs < v.n {
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%d entries have no stored hashes yet (a writer is active, or crashed and has not reopened)", v.n-v.hashRecs))
	}
}

// checkSuccessive checks that each valid checkpoint extends the previous
// one (by size). When both match the entries this is already proven; when
// one does not, an RFC 6962 consistency proof built from the stored
// hashes, where they have the newer checkpoint's root, shows whether the
// two signed histories are compatible at all. Two that are not mean the
// key signed a fork.
func (v *verifier) checkSuccessive() {
	matches := func(t trusted) bool { return t.st.Matches != nil && *t.st.Matches }
	for i := 1; i < len(v.trusted); i++ {
		a, b := v.trusted[i-1], v.trusted[i]
		if a.c.Size == 0 || a.c.Size == b.c.Size || (matches(a) && matches(b)) || b.c.Size > v.hashRecs {
			continue
		}
		r := fileHashReader{v.hashes}
		if h, err := tlog.TreeHash(int64(b.c.Size), r); err != nil || h != b.c.Root {
			continue // the stored hashes are not those of b's tree: no proof
		}
		p, err := tlog.ProveTree(int64(b.c.Size), int64(a.c.Size), r)
		if err != nil || tlog.CheckTree(p, int64(b.c.Size), b.c.Root, int64(a.c.Size), a.c.Root) == nil {
			continue
		}
		v.problem(Problem{Kind: KindForked, Entry: v.lowerBound(a.c.Size, a.st.External || b.st.External), Offset: -1, Checkpoint: a.src + " and " + b.src,
			Detail: fmt.Sprintf("%s (size %d) and %s (size %d) are both validly signed, but the second does not extend the first: the key signed two histories", a.src, a.c.Size, b.src, b.c.Size)})
	}
}

// checkpointsConfirm reports whether some valid checkpoint covers entry i
// and every such checkpoint matches the entries.
func (v *verifier) checkpointsConfirm(i uint64) bool {
	covered := false
	for _, t := range v.trusted {
		if t.c.Size <= i {
			continue
		}
		if t.st.Matches == nil || !*t.st.Matches {
			return false
		}
		covered = true
	}
	return covered
}

// hashesAnchored reports whether the stored hashes have the root of every
// valid checkpoint they cover.
func (v *verifier) hashesAnchored() bool {
	for _, t := range v.trusted {
		if t.c.Size == 0 || t.c.Size > v.hashRecs {
			continue
		}
		h, err := tlog.TreeHash(int64(t.c.Size), fileHashReader{v.hashes})
		if err != nil || h != t.c.Root {
			return false
		}
	}
	return true
}

// lowerBound is the size of the largest valid checkpoint below size that
// the entries match: the entries before it are authentic. When an
// external checkpoint revealed the problem, the ledger's own checkpoints
// prove nothing (whoever rewrote the log may hold the node's key), so
// only external ones count.
func (v *verifier) lowerBound(size uint64, externalOnly bool) int64 {
	lb := uint64(0)
	for _, t := range v.trusted {
		if externalOnly && !t.st.External {
			continue
		}
		if t.c.Size < size && t.st.Matches != nil && *t.st.Matches && t.c.Size > lb {
			lb = t.c.Size
		}
	}
	return int64(lb)
}

// token identifies the authentic entry that entry w[k] is, or -1: the
// entry under its own sequence number, or, if it was renumbered, under a
// nearby one.
func (v *verifier) token(k int) int64 {
	e := v.w[k]
	if e.unparseable {
		return -1
	}
	if h, ok := v.fileLeaf(e.seq); ok && h == e.leaf && !e.crcBad {
		return int64(e.seq)
	}
	if e.data == nil && k > 0 {
		return -1
	}
	pos := uint64(v.firstDiff) + uint64(k)
	lo := uint64(0)
	if pos > window {
		lo = pos - window
	}
	ent := Entry{Time: unixNano(e.time), Data: e.data}
	for j := lo; j <= pos+window; j++ {
		h, ok := v.fileLeaf(j)
		if !ok {
			break
		}
		ent.Seq = j
		if tlog.RecordHash(ent.Leaf()) == h {
			return int64(j)
		}
	}
	return -1
}

// classify names the tampering at the first differing entry by matching
// the entries that follow against the stored record hashes.
func (v *verifier) classify() Problem {
	i := uint64(v.firstDiff)
	e := v.w[0]
	p := Problem{Entry: int64(i), File: entriesName, Offset: e.off}
	if e.data == nil && !e.unparseable {
		// The first differing record was read before we knew: reread it.
		if rec, err := readRecordAt(v.entries, e.off); err == nil {
			v.w[0].data = rec[entryHeaderSize:]
		}
	}
	tok := make([]int64, len(v.w))
	for k := range v.w {
		tok[k] = v.token(k)
	}
	_, haveRef := v.fileLeaf(i)
	t0 := tok[0]
	switch {
	case !haveRef:
		// No stored hash to compare with: judge by sequence numbers.
		switch {
		case e.unparseable || e.crcBad:
			p.Kind, p.Count, p.Detail = KindModified, 1, "the entry's record is damaged (checksum); it is not covered by any stored hash"
		case e.seq > i:
			p.Kind, p.Count, p.Detail = KindDeleted, e.seq-i, fmt.Sprintf("entry %d is at position %d: %s missing", e.seq, i, span(int64(i), int64(e.seq)-1))
		case e.seq < i:
			p.Kind, p.Count, p.Detail = KindInserted, 1, fmt.Sprintf("a second entry numbered %d appears at position %d", e.seq, i)
		default:
			p.Kind, p.Count, p.Detail = KindModified, 1, "entry differs (not covered by stored hashes)"
		}
	case t0 == int64(i):
		p.Kind, p.Count, p.Detail = KindModified, 1, "the entry's record header was altered (its content is intact)"
	case t0 < 0:
		k := 1
		for k < len(tok) && tok[k] < 0 {
			k++
		}
		switch {
		case k == len(tok):
			p.Kind, p.Count = KindModified, uint64(k)
			p.Detail = fmt.Sprintf("entry %d does not match its stored hash", i)
			if k > 1 {
				p.Detail = fmt.Sprintf("entries from %d on (%d checked) do not match their stored hashes", i, k)
			}
			if e.crcBad {
				p.Detail += " (and its record checksum is wrong)"
			}
		case tok[k] == int64(i):
			p.Kind, p.Count = KindInserted, uint64(k)
			p.Detail = fmt.Sprintf("%s that %s never logged %s entry %d", plural(uint64(k), "entry", "entries"), map[bool]string{true: "was", false: "were"}[k == 1], map[bool]string{true: "precedes", false: "precede"}[k == 1], i)
		case tok[k] < int64(i)+int64(k) && tok[k] > int64(i):
			p.Kind, p.Count = KindInserted, uint64(int64(i)+int64(k)-tok[k])
			p.Detail = fmt.Sprintf("foreign entries at %d..%d; entry %d comes next", i, int64(i)+int64(k)-1, tok[k])
		case k == 1:
			p.Kind, p.Count = KindModified, 1
			p.Detail = fmt.Sprintf("entry %d does not match its stored hash; entry %d follows", i, tok[k])
		default:
			p.Kind, p.Count = KindModified, uint64(k)
			p.Detail = fmt.Sprintf("entries %d..%d do not match their stored hashes; entry %d follows", i, int64(i)+int64(k)-1, tok[k])
		}
	case t0 > int64(i):
		for k := 1; k < len(tok); k++ {
			if tok[k] == int64(i) {
				p.Kind, p.Count = KindReordered, uint64(k+1)
				p.Detail = fmt.Sprintf("entry %d is at position %d, entry %d at position %d", t0, i, i, i+uint64(k))
				return p
			}
		}
		p.Kind, p.Count = KindDeleted, uint64(t0)-i
		p.Detail = fmt.Sprintf("entry %d is at position %d: %s removed", t0, i, span(int64(i), t0-1))
		if e.seq != uint64(t0) {
			p.Detail += " (and the following entries renumbered)"
		}
	default: // t0 < i: an earlier entry again
		k := 1
		for k < len(tok) && tok[k] != int64(i) {
			k++
		}
		if k == len(tok) {
			k = 1
		}
		p.Kind, p.Count = KindInserted, uint64(k)
		p.Detail = fmt.Sprintf("a copy of entry %d was inserted at position %d", t0, i)
	}
	return p
}

// plural formats a count with its noun.
func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// span names entries a..b in a sentence.
func span(a, b int64) string {
	if a == b {
		return fmt.Sprintf("entry %d was", a)
	}
	return fmt.Sprintf("entries %d..%d were", a, b)
}

func unixNano(ns int64) time.Time { return time.Unix(0, ns) }

// readRecordAt reads and checks the entry record at off; it returns the
// payload.
func readRecordAt(f *os.File, off int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s := newScanner(f, off, st.Size(), entryHeaderSize, entryHeaderSize+MaxEntrySize)
	p, n, _, err := s.next()
	if err != nil || n == 0 || p == nil {
		return nil, fmt.Errorf("no record at offset %d", off)
	}
	return append([]byte(nil), p...), nil
}
