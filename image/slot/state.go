// Package slot keeps the A/B slots of a node and their boot state, the
// way ChromeOS and Bottlerocket do with GPT attribute bits: each slot has
// a priority, a count of tries left and a "successful" flag, and the
// boot loader's rule picks the slot to boot. An upgrade is written to
// the slot that is not running, verified there, and only then made the
// preferred one; it becomes permanent (and advances the stored rollback
// index) only when the booted system marks it good.
//
// The boot state is a small, versioned, checksummed binary record (see
// State.MarshalBinary), and every change to it is atomic: a new file is
// written, synced and renamed over the old one, and the directory synced.
//
// The boot rule, which an init or boot loader applies (State.Choose):
// a slot can boot if it holds an image whose rollback index is at least
// the stored one, and either (priority > 0 and tries left > 0) or it is
// marked successful. The bootable slot of highest priority wins; A wins
// ties. Before booting a slot that is not yet successful, one try is
// used up and saved (State.BootAttempt), so a slot that never comes up
// far enough to be marked good stops being chosen.
package slot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Slot names one of the two slots.
type Slot int

// The slots, and None for "no slot".
const (
	A    Slot = 0
	B    Slot = 1
	None Slot = -1
)

func (s Slot) String() string {
	switch s {
	case A:
		return "a"
	case B:
		return "b"
	}
	return "none"
}

// Other returns the other slot.
func (s Slot) Other() Slot { return 1 - s }

// ParseSlot parses "a" or "b" (any case).
func ParseSlot(s string) (Slot, error) {
	switch s {
	case "a", "A":
		return A, nil
	case "b", "B":
		return B, nil
	}
	return None, fmt.Errorf("slot %q: want a or b", s)
}

// Limits of the per-slot counters: four bits each, as in the GPT
// attributes of ChromeOS and Bottlerocket.
const (
	MaxPriority = 15
	MaxTries    = 15
)

// SlotState is the boot state of one slot.
type SlotState struct {
	// Priority: the bootable slot with the highest priority boots; 0 means
	// "only if marked successful".
	Priority uint8
	// TriesLeft counts the boots a slot not yet successful may still get.
	TriesLeft uint8
	// Successful is set once a boot from the slot was marked good.
	Successful bool
	// RollbackIndex is the rollback index of the installed image.
	RollbackIndex uint64
	// Manifest is the SHA-256 of the installed image's signed manifest
	// (manifest.Digest); all zero for an empty slot.
	Manifest [32]byte
}

// Empty reports whether no image is installed in the slot.
func (s *SlotState) Empty() bool { return s.Manifest == [32]byte{} }

// State is the boot state of a node.
type State struct {
	// Generation counts the saved changes.
	Generation uint64
	// RollbackIndex is the stored rollback index: no image with a lower
	// index boots or installs. It advances only when a slot is marked
	// good (MarkGood), to that slot's index.
	RollbackIndex uint64
	// Booted is the slot chosen by the last BootAttempt, None before any.
	Booted Slot
	Slots  [2]SlotState
}

// NewState returns the state of a node with two empty slots.
func NewState() *State { return &State{Booted: None} }

// Why returns why slot s cannot boot, or "" when it can.
func (st *State) Why(s Slot) string {
	x := &st.Slots[s]
	switch {
	case x.Empty():
		return "empty"
	case x.RollbackIndex < st.RollbackIndex:
		return fmt.Sprintf("rollback index %d is below the stored %d", x.RollbackIndex, st.RollbackIndex)
	case x.Successful:
		return ""
	case x.Priority == 0:
		return "priority 0 and not marked successful"
	case x.TriesLeft == 0:
		return "no tries left and not marked successful"
	}
	return ""
}

// Bootable reports whether slot s may boot: it holds an image whose
// rollback index is at least the stored one, and either it has priority
// and tries left, or it was marked successful.
func (st *State) Bootable(s Slot) bool { return st.Why(s) == "" }

// Choose applies the boot rule: of the bootable slots, the one of highest
// priority, A on a tie. It returns None and false when no slot can boot.
func (st *State) Choose() (Slot, bool) {
	best := None
	for _, s := range []Slot{A, B} {
		if st.Bootable(s) && (best == None || st.Slots[s].Priority > st.Slots[best].Priority) {
			best = s
		}
	}
	return best, best != None
}

// ErrNoBootableSlot is returned when neither slot can boot.
var ErrNoBootableSlot = errors.New("no bootable slot")

// BootAttempt is what an init or boot loader does before booting: it
// chooses the slot (Choose), uses up one of its tries unless it is
// already successful, and records it as booted. The caller must save the
// state before booting the slot.
func (st *State) BootAttempt() (Slot, error) {
	s, ok := st.Choose()
	if !ok {
		return None, fmt.Errorf("%w: a: %s; b: %s", ErrNoBootableSlot, st.Why(A), st.Why(B))
	}
	if x := &st.Slots[s]; !x.Successful {
		x.TriesLeft--
	}
	st.Booted = s
	return s, nil
}

// MarkGood marks the booted slot successful and advances the stored
// rollback index to its image's, if higher. It is what the system does
// once it has come up well on a new image.
func (st *State) MarkGood() (Slot, error) {
	s := st.Booted
	if s == None {
		return None, errors.New("no slot has been booted (the boot attempt records it)")
	}
	x := &st.Slots[s]
	if x.Empty() {
		return None, fmt.Errorf("booted slot %s is empty", s)
	}
	x.Successful = true
	st.RollbackIndex = max(st.RollbackIndex, x.RollbackIndex)
	return s, nil
}

// Rollback makes the slot that would not boot next the preferred one,
// provided it can boot: its image must be good or have tries left, and
// its rollback index must not be below the stored one. It returns the
// slot that will boot next.
func (st *State) Rollback() (Slot, error) {
	cur, ok := st.Choose()
	if !ok {
		return None, fmt.Errorf("%w: nothing to roll back from", ErrNoBootableSlot)
	}
	to := cur.Other()
	if why := st.Why(to); why != "" {
		return None, fmt.Errorf("cannot roll back to slot %s: %s", to, why)
	}
	st.Slots[to].Priority = 2
	st.Slots[cur].Priority = 1
	return to, nil
}

// InstallTarget returns the slot an upgrade may overwrite: the one not
// booted (or, before any boot, the one Choose would not pick). It refuses
// while the booted slot is not marked good, since its fallback is the
// very slot an install would overwrite.
func (st *State) InstallTarget() (Slot, error) {
	cur := st.Booted
	if cur == None {
		c, ok := st.Choose()
		if !ok {
			return A, nil
		}
		return c.Other(), nil
	}
	if !st.Slots[cur].Successful {
		return None, fmt.Errorf("slot %s is running but not marked good: mark it good or roll back before installing", cur)
	}
	return cur.Other(), nil
}

// Clear empties slot s before an image is written to it, so that it
// cannot boot half written (Bottlerocket's clear-inactive).
func (st *State) Clear(s Slot) { st.Slots[s] = SlotState{} }

// Activate records a verified image in slot s and makes it the preferred
// slot with the given tries: priority 2, the other slot's priority 1 so it
// stays the fallback (Bottlerocket's upgrade-to-inactive).
func (st *State) Activate(s Slot, manifest [32]byte, rollbackIndex uint64, tries uint8) error {
	if manifest == [32]byte{} {
		return errors.New("no manifest digest")
	}
	if tries == 0 || tries > MaxTries {
		return fmt.Errorf("tries %d: want 1 to %d", tries, MaxTries)
	}
	if rollbackIndex < st.RollbackIndex {
		return fmt.Errorf("rollback index %d is below the stored %d", rollbackIndex, st.RollbackIndex)
	}
	st.Slots[s] = SlotState{Priority: 2, TriesLeft: tries, RollbackIndex: rollbackIndex, Manifest: manifest}
	if o := &st.Slots[s.Other()]; !o.Empty() {
		o.Priority = 1
	}
	return nil
}

// Binary format of the boot state (little-endian, 128 bytes).
const (
	// StateSize is the size of the encoded state.
	StateSize = 128
	// StateVersion is the format version written.
	StateVersion = 1
	slotRecord   = 44
)

// stateMagic opens the encoded state.
var stateMagic = [8]byte{'R', 'P', 'B', 'O', 'O', 'T', 'S', 'T'}

// MarshalBinary encodes the state:
//
//	0   8  magic "RPBOOTST"
//	8   2  format version (1)
//	10  2  record size (128)
//	12  1  booted slot: 0 a, 1 b, 255 none
//	13  3  zero
//	16  8  generation
//	24  8  stored rollback index
//	32  44 slot a, 76 44 slot b:
//	       +0 priority, +1 tries left, +2 flags (bit 0 successful),
//	       +3 zero, +4 rollback index (8), +12 manifest SHA-256 (32)
//	120 4  zero
//	124 4  CRC-32 (IEEE) of bytes 0 to 123
func (st *State) MarshalBinary() ([]byte, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	b := make([]byte, StateSize)
	le := binary.LittleEndian
	copy(b, stateMagic[:])
	le.PutUint16(b[8:], StateVersion)
	le.PutUint16(b[10:], StateSize)
	b[12] = 255
	if st.Booted != None {
		b[12] = byte(st.Booted)
	}
	le.PutUint64(b[16:], st.Generation)
	le.PutUint64(b[24:], st.RollbackIndex)
	for i, x := range st.Slots {
		r := b[32+i*slotRecord:]
		r[0], r[1] = x.Priority, x.TriesLeft
		if x.Successful {
			r[2] = 1
		}
		le.PutUint64(r[4:], x.RollbackIndex)
		copy(r[12:44], x.Manifest[:])
	}
	le.PutUint32(b[124:], crc32.ChecksumIEEE(b[:124]))
	return b, nil
}

// check refuses states the format cannot hold or the rules forbid.
func (st *State) check() error {
	if st.Booted != None && st.Booted != A && st.Booted != B {
		return fmt.Errorf("booted slot %d", st.Booted)
	}
	for i, x := range st.Slots {
		s := Slot(i)
		if x.Priority > MaxPriority || x.TriesLeft > MaxTries {
			return fmt.Errorf("slot %s: priority %d or tries %d above %d", s, x.Priority, x.TriesLeft, MaxPriority)
		}
		if x.Empty() && (x.Priority != 0 || x.TriesLeft != 0 || x.Successful || x.RollbackIndex != 0) {
			return fmt.Errorf("slot %s is empty but has priority %d, tries %d, successful %v, rollback index %d", s, x.Priority, x.TriesLeft, x.Successful, x.RollbackIndex)
		}
	}
	return nil
}

// UnmarshalBinary decodes a state written by MarshalBinary, refusing a
// wrong magic, version, size or checksum, and any reserved bit set.
func (st *State) UnmarshalBinary(b []byte) error {
	if len(b) != StateSize {
		return fmt.Errorf("boot state is %d bytes, expected %d", len(b), StateSize)
	}
	if !bytes.Equal(b[:8], stateMagic[:]) {
		return errors.New("not a Rampart boot state (bad magic)")
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[8:]); v != StateVersion {
		return fmt.Errorf("boot state format version %d, this program reads %d", v, StateVersion)
	}
	if n := le.Uint16(b[10:]); n != StateSize {
		return fmt.Errorf("boot state record size %d, expected %d", n, StateSize)
	}
	if got, want := le.Uint32(b[124:]), crc32.ChecksumIEEE(b[:124]); got != want {
		return fmt.Errorf("boot state checksum %08x, computed %08x: the record is damaged", got, want)
	}
	if b[13]|b[14]|b[15]|b[120]|b[121]|b[122]|b[123] != 0 {
		return errors.New("boot state has reserved bytes set")
	}
	n := State{Booted: None, Generation: le.Uint64(b[16:]), RollbackIndex: le.Uint64(b[24:])}
	switch b[12] {
	case 0, 1:
		n.Booted = Slot(b[12])
	case 255:
	default:
		return fmt.Errorf("boot state names booted slot %d", b[12])
	}
	for i := range n.Slots {
		r := b[32+i*slotRecord:]
		if r[2]&^1 != 0 || r[3] != 0 {
			return fmt.Errorf("boot state of slot %s has reserved bits set", Slot(i))
		}
		x := &n.Slots[i]
		x.Priority, x.TriesLeft, x.Successful = r[0], r[1], r[2]&1 != 0
		x.RollbackIndex = le.Uint64(r[4:])
		copy(x.Manifest[:], r[12:44])
	}
	if err := n.check(); err != nil {
		return fmt.Errorf("boot state: %w", err)
	}
	*st = n
	return nil
}
