package ledger

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// The crash test re-executes the test binary as a child that appends to
// the ledger in a loop and prints "synced N" each time Sync returns (N
// entries are then acknowledged as durable). The parent kills it with
// SIGKILL at random moments, sometimes tears the unsynced tail the way an
// interrupted write would, then reopens the ledger and checks that it
// recovers, verifies, and kept every acknowledged entry.

const (
	crashDirEnv = "RAMPART_LEDGER_CRASH_DIR"
	crashKeyEnv = "RAMPART_LEDGER_CRASH_KEY"
)

// crashData is the content of entry i in the crash test: mostly small,
// sometimes large enough that a batch spans many pages.
func crashData(i uint64) []byte {
	d := entryData(int(i))
	if i%5 == 0 {
		d = append(d, bytes.Repeat([]byte{'x'}, int(i*7919%8000))...)
	}
	return d
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("crash test child only")
	}
	s, err := note.NewSigner(os.Getenv(crashKeyEnv))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	l, err := Open(dir, s, &Options{SyncEvery: 1 << 30, CheckpointEvery: -1})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	fmt.Printf("open %d\n", l.Size())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for batch := 0; ; batch++ {
		k := 1 + rng.IntN(60)
		if batch%4 == 0 {
			var ds [][]byte
			for j := range k {
				ds = append(ds, crashData(l.Size()+uint64(j)))
			}
			if _, err := l.AppendBatch(ds); err != nil {
				fmt.Println("error", err)
				os.Exit(3)
			}
		} else {
			for range k {
				if _, err := l.Append(crashData(l.Size())); err != nil {
					fmt.Println("error", err)
					os.Exit(3)
				}
			}
			if err := l.Sync(); err != nil {
				fmt.Println("error", err)
				os.Exit(3)
			}
		}
		l.mu.Lock()
		n, end := l.synced, l.entEnd
		l.mu.Unlock()
		fmt.Printf("synced %d %d\n", n, end)
		if batch%5 == 2 {
			if _, err := l.Checkpoint(); err != nil {
				fmt.Println("error", err)
				os.Exit(3)
			}
		}
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(1500)) * time.Microsecond)
		}
		// Unsynced appends, in flight when the kill comes.
		for range rng.IntN(30) {
			l.Append(crashData(l.Size()))
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	kills := 60
	if testing.Short() {
		kills = 20
	}
	dir := t.TempDir()
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	nv, _ := note.NewVerifier(vkey)
	verifiers := note.VerifierList(nv)
	l, err := Create(dir, testOrigin, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()

	rng := rand.New(rand.NewPCG(42, uint64(time.Now().UnixNano())))
	var acked, checked uint64
	ackedEnd := int64(fileHeaderSize) // where the acknowledged entries end
	dropped, torn, natural := 0, 0, 0
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashKeyEnv+"="+skey)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill during open (recovery) one time in ten, else while
		// appending.
		if k%10 == 9 {
			time.Sleep(time.Duration(rng.IntN(8000)) * time.Microsecond)
		} else {
			select {
			case l := <-lines:
				if !strings.HasPrefix(l, "open ") {
					t.Fatalf("child: %s\n%s", l, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("child did not open: %s", stderr.String())
			}
			time.Sleep(time.Duration(1000+rng.IntN(25000)) * time.Microsecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for line := range lines {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "synced":
				n, _ := strconv.ParseUint(f[1], 10, 64)
				end, _ := strconv.ParseInt(f[2], 10, 64)
				if n >= acked {
					acked, ackedEnd = n, end
				}
			case f[0] == "error":
				t.Fatalf("child: %s", line)
			}
		}
		cmd.Wait()

		// Sometimes tear the tail after the acknowledged entries, as a
		// write cut short would: cut it at a random byte, or garble it.
		tore := 0
		if rng.IntN(2) == 0 {
			tore = tearTail(t, dir, ackedEnd, rng)
			torn += tore
		}

		tornNote := false
		if rng.IntN(6) == 0 {
			// A checkpoint record cut short.
			f, _ := os.OpenFile(ledgerFile(dir, checkpointsName), os.O_WRONLY|os.O_APPEND, 0)
			f.Write([]byte{0, 0, 0, 200, 1, 2, 3})
			f.Close()
			tornNote = true
		}
		l, err := Open(dir, s, nil)
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", k, err)
		}
		if tornNote && l.Recovery().DroppedCheckpoints < 1 {
			t.Fatalf("kill %d: torn checkpoint record not dropped: %+v", k, l.Recovery())
		}
		rec := l.Recovery()
		if tore == 0 {
			natural += rec.Dropped
		}
		dropped += rec.Dropped
		if rec.Dropped > 0 {
			if _, err := os.Stat(ledgerFile(dir, rec.DroppedFile)); err != nil {
				t.Fatalf("kill %d: dropped bytes not kept: %v", k, err)
			}
		}
		if l.Size() < acked {
			t.Fatalf("kill %d: %d entries after reopening, %d were acknowledged as synced (recovery %+v)", k, l.Size(), acked, rec)
		}
		for i := checked; i < l.Size(); i++ {
			if i > 200 && i < l.Size()-50 && rng.IntN(20) != 0 {
				continue // spot checks, and every entry near the end
			}
			e, err := l.Entry(i)
			if err != nil || !bytes.Equal(e.Data, crashData(i)) {
				t.Fatalf("kill %d: entry %d: %v", k, i, err)
			}
		}
		// Recovery made everything it kept durable, and the checkpoint
		// below signs it: from now on it is acknowledged too.
		acked = l.Size()
		l.mu.Lock()
		ackedEnd = l.entEnd
		l.mu.Unlock()
		checked = acked
		if _, err := l.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		l.Close()
		if k%6 == 5 || k == kills-1 {
			rep, err := Verify(dir, verifiers, nil)
			if err != nil || !rep.OK {
				t.Fatalf("kill %d: verify: %v %+v", k, err, rep)
			}
		}
	}
	t.Logf("%d kills, %d entries acknowledged, %d torn tails made, %d incomplete or damaged records dropped (%d after a plain kill)", kills, acked, torn, dropped, natural)
}

// tearTail damages the entries file after the acknowledged entries, which
// end at off: it appends half a record, cuts the file at a random byte or
// overwrites a random byte. It returns 1 if it changed something.
func tearTail(t *testing.T, dir string, off int64, rng *rand.Rand) int {
	f, err := os.OpenFile(ledgerFile(dir, entriesName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	size := st.Size()
	switch r := rng.IntN(3); {
	case off >= size || r == 0:
		// Half a record: a header claiming more than follows.
		junk := make([]byte, 1+rng.IntN(100))
		for i := range junk {
			junk[i] = byte(rng.IntN(256))
		}
		f.WriteAt(junk, size)
	case r == 1:
		f.Truncate(off + rng.Int64N(size-off))
	default:
		at := off + rng.Int64N(size-off)
		b := []byte{0}
		f.ReadAt(b, at)
		b[0] ^= 0xff
		f.WriteAt(b, at)
	}
	return 1
}
