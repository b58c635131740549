package ledger

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Reader reads entries in order straight from a ledger's entries file,
// while a writer may be appending: it takes no lock, and at the end of what
// was written, Next returns io.EOF and can be called again later to
// follow. It checks each record's checksum and sequence number, not the
// Merkle tree: use [Verify] for that.
type Reader struct {
	f    *os.File
	name string
	next uint64 // sequence number of the next entry
	off  int64  // its offset
	s    *recScanner
}

// NewReader opens the entries of the ledger in dir for reading from entry
// from on; if the ledger has fewer entries, reading starts at the end.
func NewReader(dir string, from uint64) (*Reader, error) {
	if _, err := readMeta(dir); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, entriesName)
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if err := checkMagic(f, entriesMagic, name); err != nil {
		f.Close()
		return nil, err
	}
	r := &Reader{f: f, name: name, off: fileHeaderSize}
	if from > 0 {
		r.seek(dir, from)
	}
	return r, nil
}

// NewReaderLast opens the entries of the ledger in dir for reading from
// at most back entries before the last one the index records (the index
// may lag behind a writer, so more may follow).
func NewReaderLast(dir string, back uint64) (*Reader, error) {
	from := uint64(0)
	if st, err := os.Stat(filepath.Join(dir, indexName)); err == nil && uint64(st.Size()/8) > back {
		from = uint64(st.Size()/8) - back
	}
	return NewReader(dir, from)
}

// seek positions the reader at entry from, or at the end: through the
// index when it has the entry (checked against the record's sequence
// number), else by scanning from the last indexed entry.
func (r *Reader) seek(dir string, from uint64) {
	idx, err := os.Open(filepath.Join(dir, indexName))
	if err == nil {
		defer idx.Close()
		if st, err := idx.Stat(); err == nil && st.Size() >= 8 {
			k := min(from, uint64(st.Size()/8)-1)
			var b [8]byte
			if _, err := idx.ReadAt(b[:], int64(k)*8); err == nil {
				off := int64(binary.BigEndian.Uint64(b[:]))
				if e, _, err := r.peek(off); err == nil && e == k {
					r.next, r.off = k, off
				}
			}
		}
	}
	for r.next < from {
		if _, err := r.Next(); err != nil {
			return
		}
	}
}

// peek returns the sequence number and size of the record at off.
func (r *Reader) peek(off int64) (uint64, int, error) {
	st, err := r.f.Stat()
	if err != nil {
		return 0, 0, err
	}
	s := newScanner(r.f, off, st.Size(), entryHeaderSize, entryHeaderSize+MaxEntrySize)
	p, n, rs, err := s.next()
	if err != nil || rs != recOK {
		return 0, 0, fmt.Errorf("no record at %d", off)
	}
	return binary.BigEndian.Uint64(p[0:8]), n, nil
}

// Position returns the sequence number of the entry Next reads next.
func (r *Reader) Position() uint64 { return r.next }

// Next returns the next entry. At the end of the entries written so far,
// including a record still being written or a crash's torn tail, it
// returns io.EOF; call it again to see later appends. A damaged record
// followed by more records is an error wrapping [ErrDamaged].
func (r *Reader) Next() (Entry, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if r.s == nil {
			st, err := r.f.Stat()
			if err != nil {
				return Entry{}, err
			}
			r.s = newScanner(r.f, r.off, st.Size(), entryHeaderSize, entryHeaderSize+MaxEntrySize)
		}
		p, n, rs, err := r.s.next()
		switch {
		case err == io.EOF || rs == recShort:
			// Forget what was buffered: the file may have grown, or a
			// writer's recovery may have rewritten a torn tail.
			r.s = nil
			continue
		case err != nil:
			return Entry{}, fmt.Errorf("%s: %v", r.name, err)
		case rs == recBad:
			if tailIsTorn(r.f, r.off, r.s.end, n, entryHeaderSize, entryHeaderSize+MaxEntrySize) {
				r.s = nil
				return Entry{}, io.EOF
			}
			return Entry{}, fmt.Errorf("%s: entry %d at offset %d: %w: bad checksum (run verify)", r.name, r.next, r.off, ErrDamaged)
		}
		e, _ := ParseLeaf(p)
		if e.Seq != r.next {
			return Entry{}, fmt.Errorf("%s: entry at offset %d says it is number %d, expected %d: %w (run verify)", r.name, r.off, e.Seq, r.next, ErrDamaged)
		}
		e.Data = append([]byte(nil), e.Data...)
		r.next++
		r.off += int64(n)
		return e, nil
	}
	return Entry{}, io.EOF
}

// Close closes the reader.
func (r *Reader) Close() error { return r.f.Close() }
