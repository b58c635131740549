// Package bench holds benchmarks that are not timed tests: run them by
// hand on a quiet machine (see ledger.sh).
package bench

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/ledger"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	entrySize = 512  // bytes of data per entry
	batch     = 1000 // entries per fsync
)

// benchDir is where the files go: $BENCH_DIR, else the system's temporary
// directory. It must be a real disk for fsync to mean anything.
func benchDir(b *testing.B) string {
	d := os.Getenv("BENCH_DIR")
	if d == "" {
		return b.TempDir()
	}
	d, err := os.MkdirTemp(d, "rampart-ledger-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func benchKey(b *testing.B) (note.Signer, note.Verifiers) {
	skey, vkey, err := ledger.GenerateKey("bench.example/log")
	if err != nil {
		b.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, note.VerifierList(v)
}

// newBuf returns an entry buffer filled with text.
func newBuf() []byte {
	buf := make([]byte, entrySize)
	for k := range buf {
		buf[k] = byte('a' + k%26)
	}
	return buf
}

// entry stamps entry i's number into buf: every entry differs.
func entry(buf []byte, i int) []byte {
	binary.BigEndian.PutUint64(buf, uint64(i))
	return buf
}

// BenchmarkAppend appends b.N entries of 512 bytes to a ledger, one fsync
// per batch of 1000 (Options.SyncEvery) and a signed checkpoint every
// 10,000 (the defaults), and reports entries per second.
func BenchmarkAppend(b *testing.B) {
	s, _ := benchKey(b)
	l, err := ledger.Create(filepath.Join(benchDir(b), "l"), "bench.example/log", s, &ledger.Options{SyncEvery: batch})
	if err != nil {
		b.Fatal(err)
	}
	buf := newBuf()
	b.SetBytes(entrySize)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(entry(buf, i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	b.StopTimer()
	l.Close()
}

// BenchmarkAppendPlainFile is the physical floor: the same entries written
// to a plain file through a buffer, with one fsync per batch of 1000.
func BenchmarkAppendPlainFile(b *testing.B) {
	f, err := os.Create(filepath.Join(benchDir(b), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	buf := newBuf()
	b.SetBytes(entrySize)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w.Write(entry(buf, i))
		if (i+1)%batch == 0 {
			w.Flush()
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	w.Flush()
	f.Sync()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
	b.StopTimer()
	f.Close()
}

// BenchmarkLedger1M builds a ledger of 1,000,000 entries of 512 bytes,
// then measures inclusion proofs and a full verify on it.
func BenchmarkLedger1M(b *testing.B) {
	const n = 1_000_000
	s, v := benchKey(b)
	dir := filepath.Join(benchDir(b), "l")
	l, err := ledger.Create(dir, "bench.example/log", s, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := newBuf()
	start := time.Now()
	for i := range n {
		if _, err := l.Append(entry(buf, i)); err != nil {
			b.Fatal(err)
		}
	}
	cp, err := l.Checkpoint()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d entries in %v", n, time.Since(start))
	rng := rand.New(rand.NewPCG(1, 2))

	b.Run("prove", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.ProveInclusion(uint64(rng.IntN(n)), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prove+check", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			k := uint64(rng.IntN(n))
			p, err := l.ProveInclusion(k, n)
			if err != nil {
				b.Fatal(err)
			}
			h, _ := l.LeafHash(k)
			if err := tlog.CheckRecord(p, n, cp.Root, int64(k), h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tlog-proof", func(b *testing.B) {
		// What "rampart ledger prove" does: read the entry, prove, encode.
		for i := 0; i < b.N; i++ {
			k := uint64(rng.IntN(n))
			e, err := l.Entry(k)
			if err != nil {
				b.Fatal(err)
			}
			p, err := l.ProveInclusion(k, n)
			if err != nil {
				b.Fatal(err)
			}
			_ = (&ledger.InclusionProof{Extra: e.Leaf(), Index: k, Path: p, Checkpoint: cp.Note}).Marshal()
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := l.ProveConsistency(uint64(1+rng.IntN(n-1)), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	l.Close()
	b.Run("verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rep, err := ledger.Verify(dir, v, nil)
			if err != nil || !rep.OK || rep.Entries != n {
				b.Fatalf("verify: %v %+v", err, rep)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		// Reopening as the writer after a clean close: reads the frontier
		// and checks it against the latest checkpoint.
		for i := 0; i < b.N; i++ {
			l, err := ledger.Open(dir, s, nil)
			if err != nil {
				b.Fatal(err)
			}
			l.Close()
		}
	})
}
