package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tamperBase is a ledger of 200 entries with checkpoints at 0, 50, 100,
// 150 and 200; it returns the directory, the verifiers, the signer (the
// "node key" an attacker with root can use) and the final checkpoint, kept
// as a witness would keep it.
func tamperBase(t *testing.T) (string, note.Verifiers, note.Signer, []byte) {
	t.Helper()
	dir := t.TempDir()
	s, v, _ := testKey(t, testOrigin)
	l, err := Create(dir, testOrigin, s, &Options{SyncEvery: 10, CheckpointEvery: 50, Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := l.Append(entryData(i)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, v, s, c.Note
}

type rawRecord struct {
	off     int64
	payload []byte
}

// readRecords parses the entries file.
func readRecords(t *testing.T, dir string) []rawRecord {
	t.Helper()
	b := readFile(t, ledgerFile(dir, entriesName))
	var recs []rawRecord
	off := fileHeaderSize
	for off < len(b) {
		p, n, st := parseRecord(b[off:], entryHeaderSize, entryHeaderSize+MaxEntrySize)
		if st != recOK {
			t.Fatalf("record at %d: %v", off, st)
		}
		recs = append(recs, rawRecord{int64(off), append([]byte(nil), p...)})
		off += n
	}
	return recs
}

// writeRecords rewrites the entries file with valid framing (as an
// attacker who knows the format would).
func writeRecords(t *testing.T, dir string, recs []rawRecord) {
	t.Helper()
	b := append([]byte(nil), entriesMagic[:]...)
	for _, r := range recs {
		b = appendRecord(b, r.payload)
	}
	writeFile(t, ledgerFile(dir, entriesName), b)
}

func renumber(recs []rawRecord) {
	for i := range recs {
		binary.BigEndian.PutUint64(recs[i].payload[0:8], uint64(i))
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b := readFile(t, path)
	b[off] ^= 0x20
	writeFile(t, path, b)
}

func mustVerify(t *testing.T, dir string, v note.Verifiers, ext ...[]byte) *Report {
	t.Helper()
	var xs []External
	for i, n := range ext {
		xs = append(xs, External{Name: "witness-" + string(rune('a'+i)), Note: n})
	}
	rep, err := Verify(dir, v, xs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// expect checks that the first problem has the kind and entry.
func expect(t *testing.T, rep *Report, kind Kind, entry int64) *Problem {
	t.Helper()
	for _, p := range rep.Problems {
		t.Log(p)
	}
	p := rep.First()
	if rep.OK || p == nil || p.Kind != kind || p.Entry != entry {
		t.Fatalf("want %s at entry %d, got OK=%v %v", kind, entry, rep.OK, rep.Problems)
	}
	return p
}

func TestVerifyIntact(t *testing.T) {
	dir, v, _, witness := tamperBase(t)
	rep := mustVerify(t, dir, v, witness)
	if !rep.OK || rep.Entries != 200 || rep.Verified != 200 || len(rep.Checkpoints) != 6 {
		t.Fatalf("%+v", rep)
	}
}

func TestTamperEntry(t *testing.T) {
	t.Run("flip byte, stale checksum", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		flipByte(t, ledgerFile(dir, entriesName), recs[73].off+recordHeaderSize+entryHeaderSize+3)
		p := expect(t, mustVerify(t, dir, v), KindModified, 73)
		if p.Offset != recs[73].off || p.File != entriesName {
			t.Fatalf("position: %+v", p)
		}
	})
	t.Run("flip byte, checksum fixed", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		recs[73].payload[entryHeaderSize+3] ^= 1
		writeRecords(t, dir, recs)
		expect(t, mustVerify(t, dir, v), KindModified, 73)
	})
	t.Run("time changed", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		recs[120].payload[12] ^= 1
		writeRecords(t, dir, recs)
		expect(t, mustVerify(t, dir, v), KindModified, 120)
	})
	t.Run("checksum bytes only", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		flipByte(t, ledgerFile(dir, entriesName), recs[5].off+5)
		p := expect(t, mustVerify(t, dir, v), KindModified, 5)
		if !strings.Contains(p.Detail, "header") {
			t.Fatalf("detail: %s", p.Detail)
		}
	})
	t.Run("last entry", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		recs[199].payload[entryHeaderSize] ^= 1
		writeRecords(t, dir, recs)
		expect(t, mustVerify(t, dir, v), KindModified, 199)
	})
}

func TestTamperStoredHashes(t *testing.T) {
	t.Run("leaf hash", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		off := tlog.StoredHashIndex(0, 73) * hashSize
		flipByte(t, ledgerFile(dir, hashesName), off+7)
		p := expect(t, mustVerify(t, dir, v), KindBadHashes, 73)
		if p.Offset != off {
			t.Fatalf("offset %d, want %d", p.Offset, off)
		}
	})
	t.Run("interior hash", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		idx := tlog.StoredHashIndex(2, 9) // the subtree of entries 36..39, completed by 39
		flipByte(t, ledgerFile(dir, hashesName), idx*hashSize)
		p := expect(t, mustVerify(t, dir, v), KindBadHashes, 39)
		if p.Offset != idx*hashSize {
			t.Fatalf("offset %d", p.Offset)
		}
	})
	t.Run("index", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		flipByte(t, ledgerFile(dir, indexName), 88*8+7)
		expect(t, mustVerify(t, dir, v), KindBadIndex, 88)
	})
}

func TestTamperCheckpoint(t *testing.T) {
	notesRecords := func(t *testing.T, dir string) []rawRecord {
		b := readFile(t, ledgerFile(dir, checkpointsName))
		var recs []rawRecord
		for off := fileHeaderSize; off < len(b); {
			p, n, st := parseRecord(b[off:], 1, maxNoteSize)
			if st != recOK {
				t.Fatal("bad notes file")
			}
			recs = append(recs, rawRecord{int64(off), append([]byte(nil), p...)})
			off += n
		}
		return recs
	}
	t.Run("stale checksum", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := notesRecords(t, dir)
		flipByte(t, ledgerFile(dir, checkpointsName), recs[2].off+recordHeaderSize+30)
		rep := mustVerify(t, dir, v)
		p := expect(t, rep, KindBadCheckpoint, -1)
		if p.Checkpoint != "checkpoints#3" || p.Offset != recs[2].off {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("root changed, checksum fixed", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := notesRecords(t, dir)
		// Line 3 is the root hash: change a character of it.
		i := bytes.IndexByte(recs[2].payload, '\n')
		i += bytes.IndexByte(recs[2].payload[i+1:], '\n') + 2
		recs[2].payload[i] ^= 1
		b := append([]byte(nil), notesMagic[:]...)
		for _, r := range recs {
			b = appendRecord(b, r.payload)
		}
		writeFile(t, ledgerFile(dir, checkpointsName), b)
		p := expect(t, mustVerify(t, dir, v), KindBadCheckpoint, -1)
		if p.Checkpoint != "checkpoints#3" || !strings.Contains(p.Detail, "invalid signature") {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("plain copy", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		flipByte(t, ledgerFile(dir, checkpointName), 25)
		p := expect(t, mustVerify(t, dir, v), KindBadCheckpoint, -1)
		if p.Checkpoint != checkpointName {
			t.Fatalf("%+v", p)
		}
	})
}

func TestTamperDelete(t *testing.T) {
	t.Run("one entry", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		writeRecords(t, dir, append(recs[:73:73], recs[74:]...))
		p := expect(t, mustVerify(t, dir, v), KindDeleted, 73)
		if p.Count != 1 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("three entries, renumbered", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		recs = append(recs[:73:73], recs[76:]...)
		renumber(recs)
		writeRecords(t, dir, recs)
		p := expect(t, mustVerify(t, dir, v), KindDeleted, 73)
		if p.Count != 3 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("first entry", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		writeRecords(t, dir, recs[1:])
		expect(t, mustVerify(t, dir, v), KindDeleted, 0)
	})
}

func TestTamperInsert(t *testing.T) {
	t.Run("forged, renumbered", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		forged := rawRecord{payload: append(append([]byte(nil), recs[73].payload[:entryHeaderSize]...), `{"i":-1,"kind":"nothing to see"}`...)}
		recs = append(recs[:73:73], append([]rawRecord{forged}, recs[73:]...)...)
		renumber(recs)
		writeRecords(t, dir, recs)
		p := expect(t, mustVerify(t, dir, v), KindInserted, 73)
		if p.Count != 1 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("replayed entry", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		recs = append(recs[:73:73], append([]rawRecord{recs[10]}, recs[73:]...)...)
		writeRecords(t, dir, recs)
		p := expect(t, mustVerify(t, dir, v), KindInserted, 73)
		if !strings.Contains(p.Detail, "copy of entry 10") {
			t.Fatalf("%+v", p)
		}
	})
}

func TestTamperReorder(t *testing.T) {
	for _, renum := range []bool{false, true} {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		recs[73], recs[74] = recs[74], recs[73]
		if renum {
			renumber(recs)
		}
		writeRecords(t, dir, recs)
		expect(t, mustVerify(t, dir, v), KindReordered, 73)
	}
	// An entry moved later.
	dir, v, _, _ := tamperBase(t)
	recs := readRecords(t, dir)
	moved := recs[60]
	recs = append(recs[:60:60], recs[61:]...)
	recs = append(recs[:70:70], append([]rawRecord{moved}, recs[70:]...)...)
	writeRecords(t, dir, recs)
	expect(t, mustVerify(t, dir, v), KindReordered, 60)
}

func TestTamperTruncate(t *testing.T) {
	t.Run("entries file", func(t *testing.T) {
		dir, v, _, _ := tamperBase(t)
		recs := readRecords(t, dir)
		if err := os.Truncate(ledgerFile(dir, entriesName), recs[150].off); err != nil {
			t.Fatal(err)
		}
		p := expect(t, mustVerify(t, dir, v), KindTruncated, 150)
		if p.Count != 50 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("consistently, witness holds the newer checkpoint", func(t *testing.T) {
		dir, v, _, witness := tamperBase(t)
		// Cut entries, hashes, index and checkpoints back to size 150: the
		// ledger alone looks intact.
		l0, err := Open(dir, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cps, _ := l0.Checkpoints()
		l0.Close()
		recs := readRecords(t, dir)
		os.Truncate(ledgerFile(dir, entriesName), recs[150].off)
		os.Truncate(ledgerFile(dir, hashesName), tlog.StoredHashCount(150)*hashSize)
		os.Truncate(ledgerFile(dir, indexName), 150*8)
		var b []byte
		b = append(b, notesMagic[:]...)
		for _, c := range cps {
			if c.Size <= 150 {
				b = appendRecord(b, c.Note)
				writeFile(t, ledgerFile(dir, checkpointName), c.Note)
			}
		}
		writeFile(t, ledgerFile(dir, checkpointsName), b)
		if rep := mustVerify(t, dir, v); !rep.OK {
			t.Fatalf("without the witness: %v", rep.Problems)
		}
		p := expect(t, mustVerify(t, dir, v, witness), KindTruncated, 150)
		if p.Checkpoint != "witness-a" || p.Count != 50 {
			t.Fatalf("%+v", p)
		}
	})
}

// TestTamperRewrite is the root attacker: it replaces the whole ledger with
// another one signed with the node's key. Only a checkpoint kept off the
// node reveals it.
func TestTamperRewrite(t *testing.T) {
	rebuild := func(t *testing.T, dir string, s note.Signer, n int, change func(i int, d []byte) []byte) {
		t.Helper()
		recs := readRecords(t, dir)
		os.RemoveAll(dir)
		clock := testClock()
		l, err := Create(dir, testOrigin, s, &Options{SyncEvery: 10, CheckpointEvery: 50, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := l.Append(change(i, recs[i].payload[entryHeaderSize:])); err != nil {
				t.Fatal(err)
			}
		}
		l.Checkpoint()
		l.Close()
	}
	t.Run("shorter consistent ledger", func(t *testing.T) {
		dir, v, s, witness := tamperBase(t)
		rebuild(t, dir, s, 120, func(_ int, d []byte) []byte { return d })
		if rep := mustVerify(t, dir, v); !rep.OK {
			t.Fatalf("the shorter ledger should verify alone: %v", rep.Problems)
		}
		p := expect(t, mustVerify(t, dir, v, witness), KindTruncated, 120)
		if p.Count != 80 {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("same length, one entry changed", func(t *testing.T) {
		dir, v, s, witness := tamperBase(t)
		rebuild(t, dir, s, 200, func(i int, d []byte) []byte {
			if i == 30 {
				return []byte(`{"i":30,"kind":"harmless"}`)
			}
			return d
		})
		if rep := mustVerify(t, dir, v); !rep.OK {
			t.Fatalf("the rewritten ledger should verify alone: %v", rep.Problems)
		}
		rep := mustVerify(t, dir, v, witness)
		p := expect(t, rep, KindForked, 0)
		if !strings.Contains(p.Checkpoint, "witness-a") {
			t.Fatalf("%+v", p)
		}
		found := false
		for _, q := range rep.Problems {
			found = found || q.Kind == KindModified && q.Entry == 0 && q.Count == 200
		}
		if !found {
			t.Fatalf("no modified range: %v", rep.Problems)
		}
	})
	t.Run("witness checkpoint of another size", func(t *testing.T) {
		// The witness kept size 120 (between the node's checkpoints);
		// entry 30 was rewritten and everything re-signed.
		dir, v, s, _ := tamperBase(t)
		l, err := Open(dir, s, &Options{CheckpointEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		r, _ := Open(dir, nil, nil)
		root120, _ := r.TreeHash(120)
		r.Close()
		c120, _ := signCheckpoint(testOrigin, 120, root120, s)
		rebuild(t, dir, s, 200, func(i int, d []byte) []byte {
			if i == 30 {
				return []byte(`{}`)
			}
			return d
		})
		rep := mustVerify(t, dir, v, c120.Note)
		found := false
		for _, p := range rep.Problems {
			found = found || p.Kind == KindForked && strings.Contains(p.Detail, "does not extend")
		}
		if !found {
			t.Fatalf("no fork between the witness's and the node's checkpoints: %v", rep.Problems)
		}
		expect(t, rep, KindForked, 0)
	})
	t.Run("witness checkpoint narrows the range", func(t *testing.T) {
		// The verifier kept checkpoints 100 and 200; entry 130 was changed.
		dir, v, s, witness := tamperBase(t)
		r, _ := Open(dir, nil, nil)
		cps, _ := r.Checkpoints()
		r.Close()
		w100 := cps[2].Note
		rebuild(t, dir, s, 200, func(i int, d []byte) []byte {
			if i == 130 {
				return []byte(`{}`)
			}
			return d
		})
		rep := mustVerify(t, dir, v, w100, witness)
		expect(t, rep, KindForked, 100)
	})
}

func TestVerifyBadInput(t *testing.T) {
	dir := t.TempDir()
	s, v, vkey := testKey(t, testOrigin)
	l, err := Create(dir, testOrigin, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		l.Append(entryData(i))
	}
	c, _ := l.Checkpoint()
	witness := c.Note
	l.Close()

	_, other, _ := testKey(t, testOrigin)
	if _, err := Verify(dir, other, nil); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "no checkpoint is signed by the given key") {
		t.Fatalf("wrong key: %v", err)
	}
	// A checkpoint of another log, signed by that log's key.
	os2, _, ovkey := testKey(t, "rampart.test/other")
	ol, err := Create(t.TempDir(), "rampart.test/other", os2, nil)
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := ol.Checkpoint()
	ol.Close()
	v1, _ := note.NewVerifier(vkey)
	v2, _ := note.NewVerifier(ovkey)
	both := note.VerifierList(v1, v2)
	if _, err := Verify(dir, both, []External{{Name: "other.ckpt", Note: oc.Note}}); err == nil || !strings.Contains(err.Error(), "other.ckpt") || !strings.Contains(err.Error(), "origin") {
		t.Fatalf("other origin: %v", err)
	}
	// Garbage as an external checkpoint.
	if _, err := Verify(dir, v, []External{{Name: "junk", Note: []byte("\x00\xffgarbage")}}); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Fatalf("garbage: %v", err)
	}
	// The witness's checkpoint with a forged signature.
	bad := append([]byte(nil), witness...)
	bad[len(bad)-5] ^= 1
	if _, err := Verify(dir, v, []External{{Name: "w", Note: bad}}); err == nil {
		t.Fatal("forged witness checkpoint accepted")
	}
	// Not a ledger, garbage files.
	if _, err := Verify(t.TempDir(), v, nil); err == nil || !strings.Contains(err.Error(), "not a ledger") {
		t.Fatalf("empty dir: %v", err)
	}
	writeFile(t, ledgerFile(dir, metaName), []byte("{garbage"))
	if _, err := Verify(dir, v, nil); err == nil || !strings.Contains(err.Error(), metaName) {
		t.Fatalf("garbage meta: %v", err)
	}
}
