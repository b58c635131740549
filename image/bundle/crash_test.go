package bundle

import (
	"bufio"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
)

// crashNode returns a node whose slot A holds v1, booted and marked good,
// and a v2 bundle to install over and over.
func crashNode(t *testing.T, blocks int) (*fixture, string, string) {
	t.Helper()
	f := newFixture(t)
	v1 := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{fec: 2}))
	v2 := f.bundle(t, f.seal(t, "1.1.0", 1, sealOpt{fec: 2, blocks: blocks}))
	dir := filepath.Join(f.dir, "node")
	s, _ := slot.Open(slot.Config{Dir: dir})
	mustInstall(t, v1, s, f.policy())
	s.BootAttempt()
	s.MarkGood()
	return f, dir, v2
}

var errCrash = errors.New("injected crash")

// TestCrashAtEveryStep stops an install before each of its write,
// fsync and rename steps in turn, as a crash would, and checks after
// each that the state reads, the good slot boots and verifies, and a slot
// the state calls installed verifies.
func TestCrashAtEveryStep(t *testing.T) {
	f, dir, v2 := crashNode(t, 600)
	var steps []string
	counting, _ := slot.Open(slot.Config{Dir: dir, Hook: func(step, path string) error {
		steps = append(steps, step+" "+filepath.Base(path))
		return nil
	}})
	mustInstall(t, v2, counting, f.policy())
	if len(steps) < 20 {
		t.Fatalf("only %d steps: %v", len(steps), steps)
	}
	for k := range steps {
		st0, _ := counting.Load()
		n := 0
		s, _ := slot.Open(slot.Config{Dir: dir, Hook: func(step, path string) error {
			if n == k {
				return errCrash
			}
			n++
			return nil
		}})
		_, err := installFile(t, v2, s, f.policy())
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash before step %d (%s): %v", k, steps[k], err)
		}
		st := checkSlots(t, s, slot.A)
		// The state is the old one, or slot B cleared (and A chosen), or
		// B holding the new image, ready to try.
		c, _ := st.Choose()
		switch st.Generation - st0.Generation {
		case 0:
			if *st != *st0 {
				t.Fatalf("crash before step %d (%s): state changed without a new generation", k, steps[k])
			}
		case 1:
			if !st.Slots[slot.B].Empty() || c != slot.A {
				t.Fatalf("crash before step %d (%s): slot b not cleared: %+v", k, steps[k], st)
			}
		case 2:
			if c != slot.B || k < len(steps)-2 {
				t.Fatalf("crash before step %d (%s): install complete, slot %s chosen", k, steps[k], c)
			}
		default:
			t.Fatalf("crash before step %d (%s): %d state changes", k, steps[k], st.Generation-st0.Generation)
		}
	}
	t.Logf("%d crash points", len(steps))
}

// TestInstallChild is the installer the kill test runs and kills.
func TestInstallChild(t *testing.T) {
	env := os.Getenv("RAMPART_CRASH_CHILD")
	if env == "" {
		t.Skip("run by TestCrashKill")
	}
	parts := strings.Split(env, "\n")
	root, _, err := trust.LoadRoot(parts[2], now)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := slot.Open(slot.Config{Dir: parts[0]})
	fmt.Println("installing")
	start := time.Now()
	if _, err := installFile(t, parts[1], s, Policy{Trust: root, Now: now}); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("installed in %d ns\n", time.Since(start))
}

// TestCrashKill runs installs in a child process and kills it with
// SIGKILL at random times, at least 50 times in the middle of an install,
// checking after each kill that the node is consistent and bootable.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	f, dir, v2 := crashNode(t, 4096) // 16 MiB, so an install takes a while
	s, _ := slot.Open(slot.Config{Dir: dir})
	child := func() *exec.Cmd {
		c := exec.Command(os.Args[0], "-test.run=^TestInstallChild$", "-test.count=1")
		c.Env = append(os.Environ(), "RAMPART_CRASH_CHILD="+dir+"\n"+v2+"\n"+f.rootPath)
		return c
	}
	// start runs a child up to the moment it starts installing.
	start := func() (*exec.Cmd, *bufio.Reader) {
		c := child()
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				c.Wait()
				t.Fatalf("child ended before installing: %v", err)
			}
			if line == "installing\n" {
				return c, r
			}
		}
	}
	// How long an install takes.
	c, r := start()
	var whole time.Duration
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		if _, err := fmt.Sscanf(line, "installed in %d ns", &whole); err == nil {
			break
		}
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 8))
	var kills, midInstall, before, completed int
	for i := 0; i < 400 && (kills < 60 || midInstall < 50); i++ {
		st0, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		c, r := start()
		// Kill at a random moment of the install (or just after it).
		time.Sleep(time.Duration(rng.Int64N(int64(whole) * 11 / 10)))
		c.Process.Signal(syscall.SIGKILL)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			// Follow the install's duration as caches warm up.
			var d time.Duration
			if _, err := fmt.Sscanf(line, "installed in %d ns", &d); err == nil {
				whole = d
			}
		}
		err = c.Wait()
		st := checkSlots(t, s, slot.A)
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
		if !killed {
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
			completed++
			continue
		}
		kills++
		switch st.Generation - st0.Generation {
		case 0:
			before++ // killed before the first state change
		case 1:
			midInstall++ // slot B cleared, being written or checked
		default:
			completed++ // killed after the final state change
		}
	}
	t.Logf("install %v; %d kills: %d before any change, %d mid-install; %d runs completed", whole, kills, before, midInstall, completed)
	if kills < 50 || midInstall < 50 {
		t.Fatalf("too few kill points: %d kills, %d mid-install", kills, midInstall)
	}
	// After all that, an install still completes.
	mustInstall(t, v2, s, f.policy())
	checkSlots(t, s, slot.A)
}
