package slot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func digest(b byte) [32]byte { return [32]byte{b, 1} }

// TestLifecycle walks the ChromeOS/Bottlerocket state machine: install,
// boot, mark good, upgrade, failed upgrade falls back, rollback.
func TestLifecycle(t *testing.T) {
	st := NewState()
	if _, ok := st.Choose(); ok {
		t.Fatal("empty node bootable")
	}
	if x, err := st.InstallTarget(); err != nil || x != A {
		t.Fatalf("first target: %v %v", x, err)
	}
	st.Clear(A)
	must(t, st.Activate(A, digest(1), 1, 1))
	boot := func(want Slot) {
		t.Helper()
		x, err := st.BootAttempt()
		if err != nil || x != want {
			t.Fatalf("boot: %v %v, want %v (%+v)", x, err, want, st)
		}
	}
	boot(A)
	if st.Slots[A].TriesLeft != 0 {
		t.Fatal("try not used")
	}
	if _, err := st.InstallTarget(); err == nil {
		t.Fatal("install allowed while the running slot is not marked good")
	}
	if x, err := st.MarkGood(); err != nil || x != A || st.RollbackIndex != 1 {
		t.Fatalf("mark good: %v %v", x, err)
	}
	boot(A) // successful: no try needed
	// Upgrade to B (v2, rollback index 1).
	x, err := st.InstallTarget()
	if err != nil || x != B {
		t.Fatalf("target %v %v", x, err)
	}
	st.Clear(B)
	must(t, st.Activate(B, digest(2), 1, 1))
	if st.Slots[A].Priority != 1 || st.Slots[B].Priority != 2 {
		t.Fatalf("priorities %+v", st.Slots)
	}
	boot(B)
	// B never gets marked good: the next boot falls back to A.
	boot(A)
	if st.Bootable(B) || st.Why(B) != "no tries left and not marked successful" {
		t.Fatalf("B: %q", st.Why(B))
	}
	// Upgrade again, this time B is marked good.
	x, _ = st.InstallTarget()
	st.Clear(x)
	must(t, st.Activate(x, digest(3), 2, 3))
	boot(B)
	if st.Slots[B].TriesLeft != 2 {
		t.Fatal("tries")
	}
	if _, err := st.MarkGood(); err != nil || st.RollbackIndex != 2 {
		t.Fatalf("mark good: %v %d", err, st.RollbackIndex)
	}
	// A holds rollback index 1 < 2: it cannot boot, nor be rolled back to.
	if st.Bootable(A) {
		t.Fatal("A bootable below the stored rollback index")
	}
	if _, err := st.Rollback(); err == nil || !strings.Contains(err.Error(), "below the stored 2") {
		t.Fatalf("rollback: %v", err)
	}
	// Install v4 in A with rollback index 2: rollback between equals works.
	x, _ = st.InstallTarget()
	if x != A {
		t.Fatal(x)
	}
	st.Clear(A)
	must(t, st.Activate(A, digest(4), 2, 1))
	boot(A)
	st.MarkGood()
	if to, err := st.Rollback(); err != nil || to != B {
		t.Fatalf("rollback: %v %v", to, err)
	}
	boot(B)
	if to, err := st.Rollback(); err != nil || to != A {
		t.Fatalf("rollback again: %v %v", to, err)
	}
	// Activate refuses what rules forbid.
	if err := st.Activate(B, digest(5), 1, 1); err == nil {
		t.Fatal("activated below the stored rollback index")
	}
	if err := st.Activate(B, [32]byte{}, 5, 1); err == nil {
		t.Fatal("activated without a manifest")
	}
	if err := st.Activate(B, digest(5), 5, 0); err == nil {
		t.Fatal("activated without tries")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestChooseRule checks Choose against the rule as stated, over random
// states: bootable iff (prio>0 && tries>0 || successful) with an image
// whose rollback index is not below the stored one; highest priority
// wins; A wins ties.
func TestChooseRule(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		st := NewState()
		st.RollbackIndex = uint64(r.IntN(3))
		for i := range st.Slots {
			if r.IntN(5) == 0 {
				continue
			}
			st.Slots[i] = SlotState{Priority: uint8(r.IntN(4)), TriesLeft: uint8(r.IntN(3)), Successful: r.IntN(2) == 0,
				RollbackIndex: uint64(r.IntN(3)), Manifest: digest(byte(i + 1))}
		}
		ok := func(x SlotState) bool {
			return !x.Empty() && x.RollbackIndex >= st.RollbackIndex && (x.Priority > 0 && x.TriesLeft > 0 || x.Successful)
		}
		a, b := ok(st.Slots[A]), ok(st.Slots[B])
		want := None
		switch {
		case a && b && st.Slots[B].Priority > st.Slots[A].Priority:
			want = B
		case a:
			want = A
		case b:
			want = B
		}
		got, found := st.Choose()
		if got != want || found != (want != None) {
			t.Fatalf("%+v: Choose = %v, want %v", st, got, want)
		}
		// Whatever happens, a boot attempt never makes the state invalid.
		if _, err := st.BootAttempt(); err != nil && !errors.Is(err, ErrNoBootableSlot) {
			t.Fatal(err)
		}
		if _, err := st.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBinaryFormat(t *testing.T) {
	st := &State{Generation: 7, RollbackIndex: 3, Booted: B, Slots: [2]SlotState{
		{Priority: 1, Successful: true, RollbackIndex: 3, Manifest: digest(9)},
		{Priority: 2, TriesLeft: 1, RollbackIndex: 4, Manifest: digest(8)},
	}}
	b, err := st.MarshalBinary()
	if err != nil || len(b) != StateSize {
		t.Fatal(err)
	}
	// The layout the docs give.
	le := binary.LittleEndian
	if string(b[:8]) != "RPBOOTST" || le.Uint16(b[8:]) != 1 || le.Uint16(b[10:]) != 128 || b[12] != 1 ||
		le.Uint64(b[16:]) != 7 || le.Uint64(b[24:]) != 3 || b[32] != 1 || b[34] != 1 || le.Uint64(b[36:]) != 3 ||
		b[44] != 9 || b[76] != 2 || b[77] != 1 || b[78] != 0 || le.Uint64(b[80:]) != 4 || le.Uint32(b[124:]) != crc32.ChecksumIEEE(b[:124]) {
		t.Fatalf("layout: % x", b)
	}
	var got State
	if err := got.UnmarshalBinary(b); err != nil || got != *st {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	// Any single changed bit is refused (the checksum), and so are
	// well-checksummed records that break the rules.
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if err := got.UnmarshalBinary(c); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
	}
	reseal := func(mut func(c []byte)) []byte {
		c := bytes.Clone(b)
		mut(c)
		le.PutUint32(c[124:], crc32.ChecksumIEEE(c[:124]))
		return c
	}
	for name, mut := range map[string]func(c []byte){
		"version":    func(c []byte) { c[8] = 2 },
		"booted":     func(c []byte) { c[12] = 3 },
		"priority":   func(c []byte) { c[32] = 16 },
		"flags":      func(c []byte) { c[34] = 3 },
		"reserved":   func(c []byte) { c[120] = 1 },
		"empty slot": func(c []byte) { clear(c[44:76]) },
	} {
		if err := got.UnmarshalBinary(reseal(mut)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := got.UnmarshalBinary(b[:100]); err == nil {
		t.Fatal("short record accepted")
	}
}

func TestSlotsFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// No state yet: empty slots, nothing to boot.
	if _, _, err := s.BootAttempt(); !errors.Is(err, ErrNoBootableSlot) {
		t.Fatalf("boot of empty node: %v", err)
	}
	l, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	must(t, l.Update(func(st *State) error { return st.Activate(A, digest(1), 0, 2) }))
	l.Unlock()
	x, st, err := s.BootAttempt()
	if err != nil || x != A || st.Generation != 2 || st.Slots[A].TriesLeft != 1 {
		t.Fatalf("boot: %v %v %+v", x, err, st)
	}
	if _, _, err := s.MarkGood(); err != nil {
		t.Fatal(err)
	}
	loaded, err := s.Load()
	if err != nil || !loaded.Slots[A].Successful || loaded.Booted != A {
		t.Fatalf("load: %v %+v", err, loaded)
	}
	// A crash leftover is ignored by readers and removed by the next lock.
	os.WriteFile(filepath.Join(dir, ".tmp-bootstate-123"), []byte("junk"), 0o644)
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	l, _ = s.Lock()
	l.Unlock()
	if m, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(m) != 0 {
		t.Fatalf("leftovers: %v", m)
	}
	// A damaged state file is an error, never a silent reset.
	b, _ := os.ReadFile(s.StatePath())
	b[20] ^= 1
	os.WriteFile(s.StatePath(), b, 0o644)
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("damaged state: %v", err)
	}
	// A failed step leaves the old state in place.
	b[20] ^= 1
	os.WriteFile(s.StatePath(), b, 0o644)
	s2, _ := Open(Config{Dir: dir, Hook: func(step, path string) error {
		if step == "rename" {
			return errors.New("crash")
		}
		return nil
	}})
	if _, _, err := s2.Rollback(); err == nil {
		t.Fatal("rollback with nothing to roll back to")
	}
	if _, _, err := s2.BootAttempt(); err == nil || err.Error() != "crash" {
		t.Fatalf("injected crash: %v", err)
	}
	if after, _ := os.ReadFile(s.StatePath()); !bytes.Equal(after, b) {
		t.Fatal("state changed by a crashed write")
	}
}

func TestParseConfig(t *testing.T) {
	for _, c := range []struct {
		slots, state string
		ok           bool
	}{
		{"/var/slots", "", true},
		{"/var/slots", "/var/slots/", true},
		{"/dev/vda3,/dev/vda4", "/var/lib/rampart", true},
		{"/dev/vda3,/dev/vda4", "", false},
		{"/dev/vda3,", "/s", false},
		{"/dev/vda3,/dev/vda3", "/s", false},
		{"a,b,c", "/s", false},
		{"", "", false},
		{"/var/slots", "/elsewhere", false},
	} {
		cfg, err := ParseConfig(c.slots, c.state)
		if (err == nil) != c.ok {
			t.Errorf("ParseConfig(%q, %q) = %+v, %v", c.slots, c.state, cfg, err)
		}
	}
}
