package ledger

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCreateOpenErrors(t *testing.T) {
	s, _, _ := testKey(t, testOrigin)
	dir := t.TempDir()
	if _, err := Create(dir, "other.example/log", s, nil); err == nil || !strings.Contains(err.Error(), "named") {
		t.Fatalf("signer named otherwise: %v", err)
	}
	if _, err := Create(dir, "bad origin", s, nil); err == nil {
		t.Fatal("origin with a space accepted")
	}
	if _, err := Create(dir, testOrigin, nil, nil); err == nil {
		t.Fatal("no signer accepted")
	}
	l, err := Create(dir, testOrigin, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, testOrigin, s, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("create over a ledger: %v", err)
	}
	// One writer at a time; readers need no lock.
	if _, err := Open(dir, s, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v", err)
	}
	r, err := Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Append([]byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("append to a reader: %v", err)
	}
	if _, err := r.Checkpoint(); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("checkpoint of a reader: %v", err)
	}
	r.Close()
	if _, err := l.Append(make([]byte, MaxEntrySize+1)); err == nil {
		t.Fatal("oversized entry accepted")
	}
	l.Close()
	if _, err := l.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	other, _, _ := testKey(t, "rampart.test/other")
	if _, err := Open(dir, other, nil); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("open with another log's key: %v", err)
	}
	if _, err := Open(t.TempDir(), nil, nil); err == nil || !strings.Contains(err.Error(), "not a ledger") {
		t.Fatalf("open an empty dir: %v", err)
	}
}

// TestOpenRefusesDamage: a writer never repairs what a checkpoint covers.
func TestOpenRefusesDamage(t *testing.T) {
	dir, v, s, _ := tamperBase(t)
	recs := readRecords(t, dir)
	os.Truncate(ledgerFile(dir, entriesName), recs[120].off)
	if _, err := Open(dir, s, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("open a truncated ledger: %v", err)
	}
	expect(t, mustVerify(t, dir, v), KindTruncated, 120)

	// Open reads the roots of the complete subtrees (200 = 128+64+8) and
	// checks them against the latest checkpoint; Verify checks the rest.
	dir, _, s, _ = tamperBase(t)
	flipByte(t, ledgerFile(dir, hashesName), tlog.StoredHashIndex(6, 2)*hashSize)
	if _, err := Open(dir, s, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("open with damaged stored hashes: %v", err)
	}
	// And the last checkpointed entry.
	dir, _, s, _ = tamperBase(t)
	recs = readRecords(t, dir)
	flipByte(t, ledgerFile(dir, entriesName), recs[199].off+recordHeaderSize+entryHeaderSize)
	if _, err := Open(dir, s, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("open with the last entry damaged: %v", err)
	}
}

func TestReaderFollowsWriter(t *testing.T) {
	dir := t.TempDir()
	l, _, _ := fill(t, dir, 10, &Options{SyncEvery: 3})
	defer l.Close()
	r, err := NewReader(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 4; i < 10; i++ {
		e, err := r.Next()
		if err != nil || e.Seq != uint64(i) || !bytes.Equal(e.Data, entryData(i)) {
			t.Fatalf("entry %d: %v %+v", i, err, e)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	// Appended and synced (so written) later: the reader sees them.
	for i := 10; i < 13; i++ {
		l.Append(entryData(i))
	}
	l.Sync()
	for i := 10; i < 13; i++ {
		if e, err := r.Next(); err != nil || e.Seq != uint64(i) {
			t.Fatalf("followed entry %d: %v", i, err)
		}
	}
	// A half-written record is not an entry yet.
	f, _ := os.OpenFile(ledgerFile(dir, entriesName), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 1, 0, 9, 9})
	f.Close()
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("torn tail: %v", err)
	}
	// Far beyond the end: starts at the end.
	r2, _ := NewReader(dir, 1000)
	if r2.Position() != 13 {
		t.Fatalf("position %d", r2.Position())
	}
	r2.Close()
	// The last n, via the index.
	r3, _ := NewReaderLast(dir, 2)
	if e, err := r3.Next(); err != nil || e.Seq < 10 {
		t.Fatalf("NewReaderLast: %v %d", err, e.Seq)
	}
	r3.Close()
}

func TestBackgroundSyncAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := testKey(t, testOrigin)
	l, err := Create(dir, testOrigin, s, &Options{SyncEvery: 1 << 20, SyncInterval: 20 * time.Millisecond, CheckpointInterval: 50 * time.Millisecond, CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 5 {
		l.Append(entryData(i))
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Synced() < 5 || l.Latest().Size < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("synced %d, latest checkpoint %d", l.Synced(), l.Latest().Size)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	l, v, _ := fill(t, dir, 0, &Options{SyncEvery: 50, CheckpointEvery: 200})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				if _, err := l.Append([]byte{byte(w), byte(i)}); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					n := l.Size()
					if n > 0 {
						if _, err := l.Entry(n - 1); err != nil {
							t.Error(err)
						}
						if _, err := l.ProveInclusion(0, n); err != nil {
							t.Error(err)
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	rep := mustVerify(t, dir, v)
	if !rep.OK || rep.Entries != 1000 {
		t.Fatalf("%+v", rep)
	}
}

// TestKeyRotation: after the signing key is lost, a new key with the same
// name signs on; old checkpoints still verify with the old public key.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	s1, _, vk1 := testKey(t, testOrigin)
	l, err := Create(dir, testOrigin, s1, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Append([]byte("a"))
	old, _ := l.Checkpoint()
	l.Close()
	s2, _, vk2 := testKey(t, testOrigin)
	l, err = Open(dir, s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Append([]byte("b"))
	l.Checkpoint()
	l.Close()
	v1, _ := note.NewVerifier(vk1)
	v2, _ := note.NewVerifier(vk2)
	rep := mustVerify(t, dir, note.VerifierList(v1, v2), old.Note)
	if !rep.OK || rep.Verified != 2 {
		t.Fatalf("%+v", rep)
	}
	// With only the old key, the new checkpoints are flagged, not trusted.
	rep = mustVerify(t, dir, note.VerifierList(v1))
	if rep.OK || rep.First().Kind != KindBadCheckpoint || rep.Verified != 1 {
		t.Fatalf("%+v", rep)
	}
	if _, err := OpenCheckpoint(old.Note, note.VerifierList(v1)); err != nil {
		t.Fatal(err)
	}
}

func TestKeys(t *testing.T) {
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := VerifierKey(skey); err != nil || got != vkey {
		t.Fatalf("VerifierKey: %v %q", err, got)
	}
	dir := t.TempDir()
	kp, pp := filepath.Join(dir, "k"), filepath.Join(dir, "k.pub")
	writeFile(t, kp, []byte(skey+"\n"))
	writeFile(t, pp, []byte("# node 1\n"+vkey+"\n"+vkey+"\n"))
	if _, err := LoadSigner(kp); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadVerifiers(pp); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(pp); err == nil || !strings.Contains(err.Error(), "public") {
		t.Fatalf("LoadSigner(public): %v", err)
	}
	if _, err := LoadVerifiers(kp); err == nil || !strings.Contains(err.Error(), "private") {
		t.Fatalf("LoadVerifiers(private): %v", err)
	}
	if _, _, err := GenerateKey("a+b"); err == nil {
		t.Fatal("origin with + accepted")
	}
}
