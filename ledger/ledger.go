package ledger

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Errors returned by the ledger.
var (
	// ErrReadOnly is returned by writes to a ledger opened without a
	// signer.
	ErrReadOnly = errors.New("ledger opened read-only (no signing key)")
	// ErrLocked is returned when another process holds the writer's lock.
	ErrLocked = errors.New("ledger is open for writing by another process")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("ledger is closed")
	// ErrDamaged is wrapped by Open when the ledger's files contradict
	// its own checkpoints: run Verify to see where and how.
	ErrDamaged = errors.New("ledger damaged or tampered with")
)

// Options tune a writer. The zero value gives the defaults.
type Options struct {
	// SyncEvery is the batch size: Append syncs (one fsync) once this
	// many entries are unsynced. Default 1000.
	SyncEvery int
	// SyncInterval, if positive, bounds how long an appended entry stays
	// unsynced: a background goroutine syncs older entries.
	SyncInterval time.Duration
	// CheckpointEvery makes a sync sign a checkpoint once at least this
	// many entries follow the latest checkpoint. Default 10000; negative
	// disables it.
	CheckpointEvery int
	// CheckpointInterval, if positive, makes a background goroutine sign
	// a checkpoint at this interval whenever entries were appended.
	CheckpointInterval time.Duration
	// Now is the clock stamped on entries. Default time.Now.
	Now func() time.Time
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.SyncEvery <= 0 {
		r.SyncEvery = 1000
	}
	if r.CheckpointEvery == 0 {
		r.CheckpointEvery = 10000
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r
}

// Recovery tells what Open found after the latest checkpoint.
type Recovery struct {
	// Checkpoint is the size of the latest checkpoint, where the scan
	// started.
	Checkpoint uint64 `json:"checkpoint"`
	// Rescanned is the number of valid entries found after it; their
	// stored hashes and index were rebuilt.
	Rescanned uint64 `json:"rescanned"`
	// Dropped counts the incomplete or damaged records cut off the end of
	// the entries file (an append interrupted by a crash), DroppedBytes
	// their size. A writer saves the dropped bytes in DroppedFile.
	Dropped      int    `json:"dropped"`
	DroppedBytes int64  `json:"dropped_bytes"`
	DroppedFile  string `json:"dropped_file,omitempty"`
	// DroppedCheckpoints counts torn checkpoint records cut off.
	DroppedCheckpoints int `json:"dropped_checkpoints"`
}

// Ledger is an append-only log of entries in a directory, with a Merkle
// tree over them and signed checkpoints. Its methods are safe for
// concurrent use. A writer holds an exclusive lock on the directory;
// readers (opened without a signer) take no lock and see the entries that
// were written when they opened.
type Ledger struct {
	mu       sync.Mutex
	dir      string
	origin   string
	signer   note.Signer
	opts     Options
	lockFile *os.File

	entries, hashes, index, notes *os.File

	size       uint64 // entries, buffered ones included
	synced     uint64 // entries known durable
	entEnd     int64  // end of the entries file, buffer included
	entFlushed int64  // bytes of the entries file handed to the OS
	hashTotal  int64  // stored hashes, buffered ones included
	hashFlush  int64  // stored hashes handed to the OS
	idxFlush   uint64 // index slots handed to the OS
	ebuf, hbuf []byte
	ibuf       []byte
	front      frontier
	hcache     map[int64]tlog.Hash // stored hashes read from the file
	notesEnd   int64
	latest     *Checkpoint
	recovery   Recovery

	unsyncedSince  time.Time
	lastCheckpoint time.Time
	err            error // sticky write error
	closed         bool
	stop, done     chan struct{}
}

// hashCacheSize bounds the cache of stored hashes read from the file
// (about 3 MiB).
const hashCacheSize = 1 << 16

// flushThreshold is the buffered bytes of entries that trigger a write to
// the OS (not an fsync).
const flushThreshold = 1 << 20

// Create makes a new ledger in dir, which must not exist or be empty, and
// signs its first checkpoint (size 0). The signer's name must be origin.
// The signing key itself is never stored in the ledger.
func Create(dir, origin string, signer note.Signer, opts *Options) (*Ledger, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, err
	}
	if signer == nil {
		return nil, errors.New("creating a ledger needs a signing key")
	}
	if signer.Name() != origin {
		return nil, fmt.Errorf("signing key is named %q, the origin is %q: a ledger's key is named after its origin", signer.Name(), origin)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return nil, err
	} else if len(ents) > 0 {
		return nil, fmt.Errorf("%s: directory is not empty", dir)
	}
	files := []struct {
		name string
		data []byte
	}{
		{entriesName, entriesMagic[:]},
		{hashesName, nil},
		{indexName, nil},
		{checkpointsName, notesMagic[:]},
	}
	for _, f := range files {
		if err := writeFileSync(filepath.Join(dir, f.name), f.data, 0o640); err != nil {
			return nil, err
		}
	}
	m, _ := json.MarshalIndent(meta{Format: Format, Origin: origin, Created: time.Now().UTC().Truncate(time.Second)}, "", "  ")
	if err := writeFileAtomic(dir, metaName, append(m, '\n'), 0o640); err != nil {
		return nil, err
	}
	l, err := Open(dir, signer, opts)
	if err != nil {
		return nil, err
	}
	if _, err := l.Checkpoint(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Open opens the ledger in dir. With a signer it is the writer: it takes
// the directory's lock, checks that the files agree with the latest
// checkpoint, and repairs the end of the log after a crash: entries
// appended after the latest checkpoint are rescanned, an incomplete or
// damaged tail is cut off (and saved aside), and stored hashes and index
// are rebuilt. See [Ledger.Recovery]. Without a signer the ledger is
// read-only and nothing is written.
//
// Open fails, wrapping [ErrDamaged], when the files contradict the latest
// checkpoint (tampering, or damage to synced data): it never repairs
// history that a checkpoint covers. Use [Verify] to diagnose.
func Open(dir string, signer note.Signer, opts *Options) (*Ledger, error) {
	m, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	if signer != nil && signer.Name() != m.Origin {
		return nil, fmt.Errorf("signing key is named %q, the ledger's origin is %q", signer.Name(), m.Origin)
	}
	l := &Ledger{dir: dir, origin: m.Origin, signer: signer, opts: opts.withDefaults(), hcache: map[int64]tlog.Hash{}}
	ok := false
	defer func() {
		if !ok {
			l.closeFiles()
		}
	}()
	flag := os.O_RDONLY
	if signer != nil {
		if l.lockFile, err = lockDir(filepath.Join(dir, lockName)); err != nil {
			return nil, err
		}
		flag = os.O_RDWR
	}
	for _, f := range []struct {
		p    **os.File
		name string
	}{{&l.entries, entriesName}, {&l.hashes, hashesName}, {&l.index, indexName}, {&l.notes, checkpointsName}} {
		if *f.p, err = os.OpenFile(filepath.Join(dir, f.name), flag, 0); err != nil {
			return nil, err
		}
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	now := time.Now()
	l.lastCheckpoint = now
	if l.writable() == nil && (l.opts.SyncInterval > 0 || l.opts.CheckpointInterval > 0) {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.background()
	}
	ok = true
	return l, nil
}

func (l *Ledger) closeFiles() {
	for _, f := range []*os.File{l.entries, l.hashes, l.index, l.notes, l.lockFile} {
		if f != nil {
			f.Close()
		}
	}
}

// Close syncs and closes the ledger. It does not sign a checkpoint: call
// Checkpoint first to cover the last entries.
func (l *Ledger) Close() error {
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	var err error
	if l.signer != nil && l.err == nil {
		err = l.syncLocked()
	}
	l.closed = true
	l.closeFiles()
	return err
}

func (l *Ledger) writable() error {
	switch {
	case l.closed:
		return ErrClosed
	case l.signer == nil:
		return ErrReadOnly
	}
	return l.err
}

// fail records a write error: the ledger refuses further writes, since
// what reached the disk is unknown. Reopening recovers.
func (l *Ledger) fail(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("ledger: write failed, reopen to recover: %w", err)
	}
	return l.err
}

// Origin returns the ledger's origin line.
func (l *Ledger) Origin() string { return l.origin }

// Dir returns the ledger's directory.
func (l *Ledger) Dir() string { return l.dir }

// Size returns the number of entries, including unsynced ones.
func (l *Ledger) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Synced returns the number of entries known to be on disk.
func (l *Ledger) Synced() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced
}

// Recovery returns what Open found and repaired after the latest
// checkpoint.
func (l *Ledger) Recovery() Recovery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recovery
}

func (l *Ledger) latestSize() uint64 {
	if l.latest == nil {
		return 0
	}
	return l.latest.Size
}

// Latest returns the latest signed checkpoint, or nil if there is none.
func (l *Ledger) Latest() *Checkpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}

// Append adds an entry and returns its sequence number. The entry is
// durable after the next sync: when SyncEvery entries are pending, after
// SyncInterval, or on Sync, Checkpoint or Close.
func (l *Ledger) Append(data []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	seq, err := l.appendLocked(data)
	if err != nil {
		return 0, err
	}
	if l.size-l.synced >= uint64(l.opts.SyncEvery) {
		if err := l.syncLocked(); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// AppendBatch adds entries and syncs them with one fsync. It returns the
// sequence number of the first.
func (l *Ledger) AppendBatch(data [][]byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	first := l.size
	for _, d := range data {
		if _, err := l.appendLocked(d); err != nil {
			return 0, err
		}
	}
	return first, l.syncLocked()
}

func (l *Ledger) appendLocked(data []byte) (uint64, error) {
	if len(data) > MaxEntrySize {
		return 0, fmt.Errorf("entry of %d bytes: the limit is %d", len(data), MaxEntrySize)
	}
	seq := l.size
	start := len(l.ebuf)
	l.ebuf = appendEntryRecord(l.ebuf, seq, l.opts.Now().UnixNano(), data)
	hs, err := l.front.add(tlog.RecordHash(l.ebuf[start+recordHeaderSize:]), l.hashTotal)
	if err != nil {
		return 0, l.fail(err)
	}
	for i := range hs {
		l.hbuf = append(l.hbuf, hs[i][:]...)
	}
	l.hashTotal += int64(len(hs))
	l.ibuf = binary.BigEndian.AppendUint64(l.ibuf, uint64(l.entEnd))
	l.entEnd += int64(len(l.ebuf) - start)
	if l.size == l.synced {
		l.unsyncedSince = time.Now()
	}
	l.size++
	if len(l.ebuf) >= flushThreshold {
		if err := l.flushLocked(); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// flushLocked hands the buffers to the OS, entries first: a crash can
// leave entries without stored hashes (rebuilt on Open), never the
// reverse.
func (l *Ledger) flushLocked() error {
	if len(l.ebuf) > 0 {
		if _, err := l.entries.WriteAt(l.ebuf, l.entFlushed); err != nil {
			return l.fail(err)
		}
		l.entFlushed += int64(len(l.ebuf))
		l.ebuf = l.ebuf[:0]
	}
	if len(l.hbuf) > 0 {
		if _, err := l.hashes.WriteAt(l.hbuf, l.hashFlush*hashSize); err != nil {
			return l.fail(err)
		}
		l.hashFlush += int64(len(l.hbuf) / hashSize)
		l.hbuf = l.hbuf[:0]
	}
	if len(l.ibuf) > 0 {
		if _, err := l.index.WriteAt(l.ibuf, int64(l.idxFlush)*8); err != nil {
			return l.fail(err)
		}
		l.idxFlush += uint64(len(l.ibuf) / 8)
		l.ibuf = l.ibuf[:0]
	}
	return nil
}

// Sync makes every appended entry durable with one fsync of the entries
// file, then signs a checkpoint if CheckpointEvery says so.
func (l *Ledger) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	return l.syncLocked()
}

func (l *Ledger) syncLocked() error {
	if err := l.flushLocked(); err != nil {
		return err
	}
	if l.synced == l.size {
		return nil
	}
	if err := l.entries.Sync(); err != nil {
		return l.fail(err)
	}
	l.synced = l.size
	if n := l.opts.CheckpointEvery; n > 0 && l.size-l.latestSize() >= uint64(n) {
		if _, err := l.checkpointLocked(); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint syncs, signs a checkpoint of the whole ledger, records it
// and returns it. Stored hashes and index are made durable first, so a
// checkpoint never covers anything a crash could lose. If no entry was
// appended since the latest checkpoint, that one is returned.
func (l *Ledger) Checkpoint() (*Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return nil, err
	}
	return l.checkpointLocked()
}

func (l *Ledger) checkpointLocked() (*Checkpoint, error) {
	if err := l.flushLocked(); err != nil {
		return nil, err
	}
	if l.latest != nil && l.latest.Size == l.size {
		return l.latest, nil
	}
	if l.synced < l.size {
		if err := l.entries.Sync(); err != nil {
			return nil, l.fail(err)
		}
		l.synced = l.size
	}
	if err := l.hashes.Sync(); err != nil {
		return nil, l.fail(err)
	}
	if err := l.index.Sync(); err != nil {
		return nil, l.fail(err)
	}
	c, err := signCheckpoint(l.origin, l.size, l.front.root(), l.signer)
	if err != nil {
		return nil, err
	}
	rec := appendRecord(nil, c.Note)
	if _, err := l.notes.WriteAt(rec, l.notesEnd); err != nil {
		return nil, l.fail(err)
	}
	if err := l.notes.Sync(); err != nil {
		return nil, l.fail(err)
	}
	l.notesEnd += int64(len(rec))
	l.latest = c
	l.lastCheckpoint = time.Now()
	// The plain copy is for shipping off the node; the framed record
	// above is what counts.
	if err := writeFileAtomic(l.dir, checkpointName, c.Note, 0o644); err != nil {
		return nil, l.fail(err)
	}
	return c, nil
}

func (l *Ledger) background() {
	defer close(l.done)
	tick := time.Hour
	for _, d := range []time.Duration{l.opts.SyncInterval, l.opts.CheckpointInterval} {
		if d > 0 && d/2 < tick {
			tick = d / 2
		}
	}
	tick = max(tick, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		if l.writable() == nil {
			if d := l.opts.SyncInterval; d > 0 && l.synced < l.size && time.Since(l.unsyncedSince) >= d {
				_ = l.syncLocked() // a failure is sticky and returned by the next call
			}
			if d := l.opts.CheckpointInterval; d > 0 && l.latestSize() < l.size && time.Since(l.lastCheckpoint) >= d {
				_, _ = l.checkpointLocked()
			}
		}
		l.mu.Unlock()
	}
}

// hashReader reads stored hashes from the buffer or the hashes file; the
// caller holds l.mu.
type hashReader struct{ l *Ledger }

// ReadHashes implements tlog.HashReader.
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	l := r.l
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		switch {
		case x < 0 || x >= l.hashTotal:
			return nil, fmt.Errorf("ledger: stored hash %d out of range (%d stored)", x, l.hashTotal)
		case x >= l.hashFlush:
			copy(out[i][:], l.hbuf[(x-l.hashFlush)*hashSize:])
		default:
			if h, ok := l.hcache[x]; ok {
				out[i] = h
				continue
			}
			if _, err := l.hashes.ReadAt(out[i][:], x*hashSize); err != nil {
				return nil, fmt.Errorf("%s: reading stored hash %d: %v", filepath.Join(l.dir, hashesName), x, err)
			}
			// Hashes high in the tree are in most proofs: keep what was
			// read, up to a bound, then start over.
			if len(l.hcache) >= hashCacheSize {
				clear(l.hcache)
			}
			l.hcache[x] = out[i]
		}
	}
	return out, nil
}

// indexAt returns the offset of entry n in the entries file.
func (l *Ledger) indexAt(n uint64) (int64, error) {
	if n == l.size {
		return l.entEnd, nil
	}
	if n >= l.idxFlush {
		return int64(binary.BigEndian.Uint64(l.ibuf[(n-l.idxFlush)*8:])), nil
	}
	var b [8]byte
	if _, err := l.index.ReadAt(b[:], int64(n)*8); err != nil {
		return 0, fmt.Errorf("%s: reading slot %d: %v", filepath.Join(l.dir, indexName), n, err)
	}
	return int64(binary.BigEndian.Uint64(b[:])), nil
}

// Entry returns entry n, checking its record's checksum and sequence.
func (l *Ledger) Entry(n uint64) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Entry{}, ErrClosed
	}
	if n >= l.size {
		return Entry{}, fmt.Errorf("entry %d: the ledger has %d entries", n, l.size)
	}
	rec, err := l.recordLocked(n)
	if err != nil {
		return Entry{}, err
	}
	e, _ := ParseLeaf(rec[recordHeaderSize:])
	e.Data = append([]byte(nil), e.Data...)
	return e, nil
}

// recordLocked returns the framed record of entry n, checked.
func (l *Ledger) recordLocked(n uint64) ([]byte, error) {
	off, err := l.indexAt(n)
	if err != nil {
		return nil, err
	}
	end, err := l.indexAt(n + 1)
	if err != nil {
		return nil, err
	}
	if end-off < recordHeaderSize+entryHeaderSize || end-off > recordHeaderSize+entryHeaderSize+MaxEntrySize || off < fileHeaderSize {
		return nil, fmt.Errorf("%s: entry %d: bad index (offsets %d..%d)", filepath.Join(l.dir, indexName), n, off, end)
	}
	rec := make([]byte, end-off)
	if off >= l.entFlushed {
		copy(rec, l.ebuf[off-l.entFlushed:])
	} else if _, err := l.entries.ReadAt(rec, off); err != nil {
		return nil, fmt.Errorf("%s: entry %d at offset %d: %v", filepath.Join(l.dir, entriesName), n, off, err)
	}
	p, size, st := parseRecord(rec, entryHeaderSize, entryHeaderSize+MaxEntrySize)
	if st != recOK || size != len(rec) || binary.BigEndian.Uint64(p[0:8]) != n {
		return nil, fmt.Errorf("%s: entry %d at offset %d: %w: damaged record (run verify)", filepath.Join(l.dir, entriesName), n, off, ErrDamaged)
	}
	return rec, nil
}

// LeafHash returns the record hash of entry n as stored.
func (l *Ledger) LeafHash(n uint64) (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n >= l.size {
		return tlog.Hash{}, fmt.Errorf("entry %d: the ledger has %d entries", n, l.size)
	}
	hs, err := hashReader{l}.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(n))})
	if err != nil {
		return tlog.Hash{}, err
	}
	return hs[0], nil
}

// TreeHash returns the root hash of the tree of the first size entries.
func (l *Ledger) TreeHash(size uint64) (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size > l.size {
		return tlog.Hash{}, fmt.Errorf("tree size %d: the ledger has %d entries", size, l.size)
	}
	if size == l.size {
		return l.front.root(), nil
	}
	return tlog.TreeHash(int64(size), hashReader{l})
}

// ProveInclusion returns the RFC 6962 audit path of entry n in the tree of
// the first treeSize entries, read from the stored hashes.
func (l *Ledger) ProveInclusion(n, treeSize uint64) (tlog.RecordProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n >= treeSize || treeSize > l.size {
		return nil, fmt.Errorf("no inclusion proof of entry %d in a tree of %d (the ledger has %d entries)", n, treeSize, l.size)
	}
	return tlog.ProveRecord(int64(treeSize), int64(n), hashReader{l})
}

// ProveConsistency returns the RFC 6962 consistency proof that the tree of
// newSize entries extends the tree of oldSize entries.
func (l *Ledger) ProveConsistency(oldSize, newSize uint64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if oldSize > newSize || newSize > l.size {
		return nil, fmt.Errorf("no consistency proof from size %d to %d (the ledger has %d entries)", oldSize, newSize, l.size)
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	return tlog.ProveTree(int64(newSize), int64(oldSize), hashReader{l})
}

// Checkpoints reads every checkpoint recorded in the ledger, oldest first,
// without checking signatures.
func (l *Ledger) Checkpoints() ([]*Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var list []*Checkpoint
	_, err := scanNotes(l.notes, l.notesEnd, func(c *Checkpoint, _ int64) error {
		list = append(list, c)
		return nil
	})
	return list, err
}

// writeFileSync writes a new file and fsyncs it.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeFileAtomic replaces dir/name with data: temporary file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	os.Remove(tmp)
	if err := writeFileSync(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
