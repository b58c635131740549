package ledger

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// recScanner reads framed records sequentially from [start, end) of a
// file through a reusable buffer.
type recScanner struct {
	r        io.ReaderAt
	end      int64
	base     int64 // file offset of buf[0]
	buf      []byte
	pos      int
	min, max int
}

func newScanner(r io.ReaderAt, start, end int64, minPayload, maxPayload int) *recScanner {
	return &recScanner{r: r, end: end, base: start, min: minPayload, max: maxPayload}
}

// offset is the file offset of the next record.
func (s *recScanner) offset() int64 { return s.base + int64(s.pos) }

// fill makes at least n unconsumed bytes available, or all that remain.
func (s *recScanner) fill(n int) error {
	if len(s.buf)-s.pos >= n {
		return nil
	}
	rest := len(s.buf) - s.pos
	if s.pos > 0 {
		copy(s.buf, s.buf[s.pos:])
		s.base += int64(s.pos)
		s.buf = s.buf[:rest]
		s.pos = 0
	}
	want := max(n, 1<<20)
	if cap(s.buf) < want {
		nb := make([]byte, rest, want)
		copy(nb, s.buf)
		s.buf = nb
	}
	avail := s.end - (s.base + int64(rest))
	if avail <= 0 {
		return nil
	}
	m := int(min(int64(cap(s.buf)-rest), avail))
	k, err := s.r.ReadAt(s.buf[rest:rest+m], s.base+int64(rest))
	s.buf = s.buf[:rest+k]
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

// next parses the record at the current offset. It returns io.EOF at the
// end. On recOK the scanner moves past the record; otherwise it stays.
// The payload is valid until the next call.
func (s *recScanner) next() ([]byte, int, recStatus, error) {
	if err := s.fill(recordHeaderSize); err != nil {
		return nil, 0, 0, err
	}
	if len(s.buf) == s.pos {
		return nil, 0, 0, io.EOF
	}
	if len(s.buf)-s.pos >= recordHeaderSize {
		l := int64(binary.BigEndian.Uint32(s.buf[s.pos:]))
		if l >= int64(s.min) && l <= int64(s.max) {
			if err := s.fill(recordHeaderSize + int(l)); err != nil {
				return nil, 0, 0, err
			}
		}
	}
	p, n, st := parseRecord(s.buf[s.pos:], s.min, s.max)
	if st == recOK {
		s.pos += n
	}
	return p, n, st, nil
}

// skip moves past n bytes.
func (s *recScanner) skip(n int) { s.pos += n }

// checkMagic checks a file's 16-byte header.
func checkMagic(f *os.File, want [fileHeaderSize]byte, name string) error {
	var h [fileHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || h != want {
		return fmt.Errorf("%s: not a ledger %s file (bad header)", name, filepath.Base(name))
	}
	return nil
}

// tailIsTorn decides whether a record that failed to parse at off is the
// torn end of an interrupted append rather than damage in the middle: it
// is torn unless a valid record follows where its length field says.
func tailIsTorn(r io.ReaderAt, off, end int64, claimed int, minPayload, maxPayload int) bool {
	if claimed == 0 || off+int64(claimed) >= end {
		return true
	}
	s := newScanner(r, off+int64(claimed), end, minPayload, maxPayload)
	_, _, st, err := s.next()
	return err != nil || st != recOK
}

// countRecords counts the records, complete or not, in a torn tail by
// following length fields.
func countRecords(r io.ReaderAt, off, end int64, maxPayload int) int {
	n := 0
	var h [4]byte
	for off < end && n < 1<<20 {
		n++
		if end-off < 4 {
			break
		}
		if _, err := r.ReadAt(h[:], off); err != nil {
			break
		}
		l := int64(binary.BigEndian.Uint32(h[:]))
		if l == 0 || l > int64(maxPayload) {
			break
		}
		off += recordHeaderSize + l
	}
	return n
}

// scanNotes calls fn for each valid checkpoint record of the checkpoints
// file, up to end, and returns the end of the last valid record. A torn
// last record is skipped; damage followed by valid records is an error.
func scanNotes(f *os.File, end int64, fn func(c *Checkpoint, off int64) error) (int64, error) {
	name := f.Name()
	if err := checkMagic(f, notesMagic, name); err != nil {
		return 0, err
	}
	s := newScanner(f, fileHeaderSize, end, 1, maxNoteSize)
	var prev *Checkpoint
	for {
		off := s.offset()
		p, n, st, err := s.next()
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		if st != recOK {
			if tailIsTorn(f, off, end, n, 1, maxNoteSize) {
				return off, nil
			}
			return 0, fmt.Errorf("%s: checkpoint record at offset %d: %w: bad checksum", name, off, ErrDamaged)
		}
		c, err := parseUnverified(p)
		if err != nil {
			return 0, fmt.Errorf("%s: checkpoint record at offset %d: %w: %v", name, off, ErrDamaged, err)
		}
		if prev != nil && c.Size < prev.Size {
			return 0, fmt.Errorf("%s: checkpoint at offset %d has size %d, less than the previous %d: %w", name, off, c.Size, prev.Size, ErrDamaged)
		}
		prev = c
		if err := fn(c, off); err != nil {
			return 0, err
		}
	}
}

// load reads the ledger's state, checks it against the latest checkpoint
// and rebuilds what follows it. A writer then repairs the files.
func (l *Ledger) load() error {
	writer := l.signer != nil
	entName := filepath.Join(l.dir, entriesName)
	// 1. The latest checkpoint.
	st, err := l.notes.Stat()
	if err != nil {
		return err
	}
	l.notesEnd, err = scanNotes(l.notes, st.Size(), func(c *Checkpoint, off int64) error {
		if c.Origin != l.origin {
			return fmt.Errorf("%s: checkpoint at offset %d is for origin %q, the ledger's is %q: %w", l.notes.Name(), off, c.Origin, l.origin, ErrDamaged)
		}
		l.latest = c
		return nil
	})
	if err != nil {
		return err
	}
	if l.notesEnd < st.Size() {
		l.recovery.DroppedCheckpoints = countRecords(l.notes, l.notesEnd, st.Size(), maxNoteSize)
	}
	var n0 uint64
	if l.latest != nil {
		n0 = l.latest.Size
	}
	l.recovery.Checkpoint = n0

	// 2. Stored hashes and index up to the checkpoint were synced before
	// it was signed: check them against its root.
	if err := checkMagic(l.entries, entriesMagic, entName); err != nil {
		return err
	}
	hst, err := l.hashes.Stat()
	if err != nil {
		return err
	}
	ist, err := l.index.Stat()
	if err != nil {
		return err
	}
	l.hashFlush = tlog.StoredHashCount(int64(n0))
	l.hashTotal = l.hashFlush
	l.idxFlush = n0
	if hst.Size() < l.hashFlush*hashSize || ist.Size() < int64(n0)*8 {
		return fmt.Errorf("%s: stored hashes or index end before the checkpointed %d entries: %w (run verify)", l.dir, n0, ErrDamaged)
	}
	f, err := loadFrontier(int64(n0), hashReader{l})
	if err != nil {
		return err
	}
	l.front = *f
	if l.latest != nil && l.front.root() != l.latest.Root {
		return fmt.Errorf("%s: stored hashes do not match the latest checkpoint (size %d): %w (run verify)", l.dir, n0, ErrDamaged)
	}

	// 3. Where the entries after the checkpoint start.
	est, err := l.entries.Stat()
	if err != nil {
		return err
	}
	end := est.Size()
	start := int64(fileHeaderSize)
	if n0 > 0 {
		l.size = n0 // for indexAt
		off, err := l.indexAt(n0 - 1)
		if err != nil {
			return err
		}
		s := newScanner(l.entries, off, end, entryHeaderSize, entryHeaderSize+MaxEntrySize)
		p, n, st, err := s.next()
		if err != nil || st != recOK || off < fileHeaderSize || binary.BigEndian.Uint64(p[0:8]) != n0-1 {
			return fmt.Errorf("%s: entry %d (the last one checkpointed) is missing or damaged at offset %d: %w (run verify)", entName, n0-1, off, ErrDamaged)
		}
		hs, err := hashReader{l}.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(n0-1))})
		if err != nil {
			return err
		}
		if tlog.RecordHash(p) != hs[0] {
			return fmt.Errorf("%s: entry %d (the last one checkpointed) does not match its stored hash: %w (run verify)", entName, n0-1, ErrDamaged)
		}
		start = off + int64(n)
	}
	l.size = n0
	l.entEnd = start
	l.entFlushed = start

	// 4. Rescan what follows: valid records in sequence are kept, and
	// their hashes and index rebuilt in memory.
	s := newScanner(l.entries, start, end, entryHeaderSize, entryHeaderSize+MaxEntrySize)
	for {
		off := s.offset()
		p, n, st, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %v", entName, err)
		}
		if st != recOK || binary.BigEndian.Uint64(p[0:8]) != l.size {
			// Nothing after the latest checkpoint was signed, and nothing
			// after the last sync acknowledged: the log ends at the first
			// record that is incomplete, damaged (a torn write, or pages
			// lost in a power failure) or out of sequence. A writer keeps
			// the rest in a side file.
			break
		}
		hs, err := l.front.add(tlog.RecordHash(p), l.hashTotal)
		if err != nil {
			return err
		}
		for i := range hs {
			l.hbuf = append(l.hbuf, hs[i][:]...)
		}
		l.hashTotal += int64(len(hs))
		l.ibuf = binary.BigEndian.AppendUint64(l.ibuf, uint64(off))
		l.size++
		l.entEnd = off + int64(n)
		if writer && len(l.hbuf) >= flushThreshold {
			if err := l.flushLocked(); err != nil {
				return err
			}
		}
	}
	l.entFlushed = l.entEnd
	l.recovery.Rescanned = l.size - n0
	l.synced = l.size
	if l.entEnd < end {
		l.recovery.DroppedBytes = end - l.entEnd
		l.recovery.Dropped = countRecords(l.entries, l.entEnd, end, entryHeaderSize+MaxEntrySize)
	}
	if !writer {
		return nil
	}

	// 5. The writer repairs: save and cut the torn tail, write the
	// rebuilt hashes and index, and make it all durable.
	if l.entEnd < end {
		torn := make([]byte, end-l.entEnd)
		if _, err := l.entries.ReadAt(torn, l.entEnd); err != nil {
			return err
		}
		name := fmt.Sprintf("%s.dropped-%d-%d", entriesName, l.entEnd, time.Now().UnixNano())
		if err := writeFileSync(filepath.Join(l.dir, name), torn, 0o640); err != nil {
			return err
		}
		l.recovery.DroppedFile = name
		if err := l.entries.Truncate(l.entEnd); err != nil {
			return err
		}
	}
	if err := l.flushLocked(); err != nil {
		return err
	}
	if err := l.hashes.Truncate(l.hashTotal * hashSize); err != nil {
		return err
	}
	if err := l.index.Truncate(int64(l.size) * 8); err != nil {
		return err
	}
	if l.notesEnd < st.Size() {
		if err := l.notes.Truncate(l.notesEnd); err != nil {
			return err
		}
	}
	for _, f := range []*os.File{l.entries, l.hashes, l.index, l.notes} {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	l.err = nil
	return nil
}
