package slot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rampart-sec/rampart/image/internal/atomicfile"
	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

// Names of the files in the state directory.
const (
	StateFile = "bootstate"
	RootFile  = "root.json"
	lockFile  = "lock"
)

// Config says where the slots and their state live.
type Config struct {
	// Dir is the state directory: boot state, the installed manifests
	// (a.manifest.json, b.manifest.json), the trusted root (root.json)
	// and, without Devices, the slots themselves as files: a.img and
	// a.verity, b.img and b.verity.
	Dir string
	// Devices, if set, are the partitions of slots A and B (block devices,
	// or files standing for them). Each holds the image from byte 0, then
	// the superblock at the first hash block boundary after it, the tree
	// and the parity.
	Devices [2]string
	// Hook, if set, is called before each step of every write (see
	// atomicfile.Hook; payload writes use the step "payload"); an error
	// stops there as a crash would. For tests.
	Hook atomicfile.Hook
}

// ParseConfig builds a Config from the command line's --slots and
// --state: --slots DIR keeps everything in DIR; --slots A,B names two
// partitions and needs --state DIR.
func ParseConfig(slots, state string) (Config, error) {
	if a, b, ok := strings.Cut(slots, ","); ok {
		if a == "" || b == "" || strings.Contains(b, ",") || a == b {
			return Config{}, fmt.Errorf("--slots %q: want DIR or two distinct partitions A,B", slots)
		}
		if state == "" {
			return Config{}, errors.New("--slots with partitions needs --state DIR for the boot state and manifests")
		}
		return Config{Dir: state, Devices: [2]string{a, b}}, nil
	}
	if slots == "" {
		return Config{}, errors.New("--slots is required")
	}
	if state != "" && filepath.Clean(state) != filepath.Clean(slots) {
		return Config{}, errors.New("--state is only for --slots A,B (with --slots DIR, the state lives in DIR)")
	}
	return Config{Dir: slots}, nil
}

// Slots gives access to a node's slots.
type Slots struct{ cfg Config }

// Open returns the slots of cfg, creating the state directory if needed.
func Open(cfg Config) (*Slots, error) {
	if cfg.Dir == "" {
		return nil, errors.New("no state directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	return &Slots{cfg: cfg}, nil
}

// Config returns the configuration the slots were opened with.
func (s *Slots) Config() Config { return s.cfg }

// StatePath is the boot state file.
func (s *Slots) StatePath() string { return filepath.Join(s.cfg.Dir, StateFile) }

// RootPath is the trusted root metadata a bundle's rotation chain last
// reached.
func (s *Slots) RootPath() string { return filepath.Join(s.cfg.Dir, RootFile) }

// ManifestPath is the signed manifest of the image installed in slot x.
func (s *Slots) ManifestPath(x Slot) string {
	return filepath.Join(s.cfg.Dir, x.String()+".manifest.json")
}

// Load reads the boot state; a missing file is a node with empty slots.
func (s *Slots) Load() (*State, error) {
	b, err := os.ReadFile(s.StatePath())
	if os.IsNotExist(err) {
		return NewState(), nil
	}
	if err != nil {
		return nil, err
	}
	st := &State{}
	if err := st.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", s.StatePath(), err)
	}
	return st, nil
}

// Manifest reads the manifest installed in slot x and checks that it is
// the one the boot state records. It does not check signatures, which
// were checked at install; an init may check them again against its own
// trust (manifest.Authenticate).
func (s *Slots) Manifest(st *State, x Slot) (*trust.Envelope, *manifest.Manifest, error) {
	if st.Slots[x].Empty() {
		return nil, nil, fmt.Errorf("slot %s is empty", x)
	}
	env, m, err := manifest.Load(s.ManifestPath(x))
	if err != nil {
		return nil, nil, err
	}
	if manifest.Digest(env) != st.Slots[x].Manifest {
		return nil, nil, fmt.Errorf("%s is not the manifest the boot state records for slot %s", s.ManifestPath(x), x)
	}
	return env, m, nil
}

// Placement says where an image lives in a slot.
type Placement struct {
	// DataPath holds the image from byte 0; HashPath the superblock (if
	// any) at SuperblockOffset, the tree from hash block HashStart, and
	// the parity at FECOffset. They are the same file with partitions.
	DataPath, HashPath string
	SuperblockOffset   uint64
	HashStart          uint64
	FECOffset          uint64
	// End is the size HashPath must have: the end of the parity or tree.
	End uint64
}

// Placement returns where slot x holds the image of m. In a directory, the
// hash file is laid out as sealed (superblock at 0). On a partition, the
// superblock goes at the first hash block boundary after the image.
func (s *Slots) Placement(x Slot, m *manifest.Manifest) *Placement {
	v := &m.Verity
	bs := uint64(v.HashBlockSize)
	pl := &Placement{}
	if dev := s.cfg.Devices[x]; dev != "" {
		pl.DataPath, pl.HashPath = dev, dev
		pl.SuperblockOffset = (m.Image.Size + bs - 1) / bs * bs
	} else {
		pl.DataPath = filepath.Join(s.cfg.Dir, x.String()+".img")
		pl.HashPath = filepath.Join(s.cfg.Dir, x.String()+".verity")
	}
	pl.HashStart = verity.HashStartBlock(pl.SuperblockOffset, v.HashBlockSize, !v.Superblock)
	pl.FECOffset = (pl.HashStart + v.HashBlocks) * bs
	pl.End = pl.FECOffset + m.FECBytes()
	return pl
}

// Layout returns the placement as the manifest package's checks take it.
func (pl *Placement) Layout() manifest.Layout {
	return manifest.Layout{SuperblockOffset: pl.SuperblockOffset, HashStart: pl.HashStart, FECOffset: pl.FECOffset}
}

// Table returns the kernel dm-verity table of m in this placement, with
// dataDev and hashDev as the kernel names the devices (the placement's
// paths when empty).
func (pl *Placement) Table(m *manifest.Manifest, dataDev, hashDev string, opts verity.TableOptions) (string, error) {
	if dataDev == "" {
		dataDev = pl.DataPath
	}
	if hashDev == "" {
		hashDev = pl.HashPath
	}
	return m.Table(dataDev, hashDev, pl.HashStart, pl.FECOffset/uint64(m.Verity.HashBlockSize), opts)
}

// Verify checks the image of m as it lies in slot x: superblock, the whole
// tree and data against the root hash, and the parity's digest.
func (s *Slots) Verify(x Slot, m *manifest.Manifest, vo verity.VerifyOptions) (*manifest.Report, error) {
	pl := s.Placement(x, m)
	data, err := os.Open(pl.DataPath)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	hash := data
	if pl.HashPath != pl.DataPath {
		if hash, err = os.Open(pl.HashPath); err != nil {
			return nil, err
		}
		defer hash.Close()
	}
	rep := &manifest.Report{}
	if err := m.CheckPayload(data, hash, nil, pl.Layout(), rep, vo); err != nil {
		return nil, err
	}
	return rep, nil
}

// Locked is the slots held under an exclusive lock, so that installs and
// state changes of several processes never interleave.
type Locked struct {
	s    *Slots
	lock *os.File
	st   *State
}

// Lock takes the exclusive lock of the state directory (waiting for it),
// removes what crashed writes left behind, and loads the state.
func (s *Slots) Lock() (*Locked, error) {
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", s.cfg.Dir, err)
	}
	l := &Locked{s: s, lock: f}
	if err := atomicfile.RemoveTemps(s.cfg.Dir); err != nil {
		l.Unlock()
		return nil, err
	}
	if l.st, err = s.Load(); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

// Unlock releases the lock.
func (l *Locked) Unlock() { l.lock.Close() }

// State returns a copy of the current state.
func (l *Locked) State() *State {
	c := *l.st
	return &c
}

// Update applies fn to a copy of the state and, if it succeeds, saves the
// result atomically with the generation advanced.
func (l *Locked) Update(fn func(st *State) error) error {
	n := l.State()
	if err := fn(n); err != nil {
		return err
	}
	n.Generation++
	b, err := n.MarshalBinary()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(l.s.StatePath(), b, 0o644, l.s.cfg.Hook); err != nil {
		return err
	}
	l.st = n
	return nil
}

// WriteManifest installs env as the manifest of slot x, atomically.
func (l *Locked) WriteManifest(x Slot, env *trust.Envelope) error {
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(l.s.ManifestPath(x), append(b, '\n'), 0o644, l.s.cfg.Hook)
}

// WriteRoot stores newer root metadata as the node's trusted root.
func (l *Locked) WriteRoot(env *trust.Envelope) error {
	b, err := env.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(l.s.RootPath(), append(b, '\n'), 0o644, l.s.cfg.Hook)
}

// Hook calls the configured hook, if any, for a step of a payload write.
func (l *Locked) Hook(step, path string) error {
	if l.s.cfg.Hook == nil {
		return nil
	}
	return l.s.cfg.Hook(step, path)
}

// transition runs one state change under the lock.
func (s *Slots) transition(fn func(st *State) error) (*State, error) {
	l, err := s.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	if err := l.Update(fn); err != nil {
		return nil, err
	}
	return l.State(), nil
}

// BootAttempt applies the boot rule and records the attempt (see
// State.BootAttempt), durably, before the caller boots the slot. It
// returns the slot to boot and the new state; Manifest gives the slot's
// manifest, checked against the state.
func (s *Slots) BootAttempt() (Slot, *State, error) {
	var x Slot
	st, err := s.transition(func(st *State) (err error) {
		x, err = st.BootAttempt()
		return err
	})
	return x, st, err
}

// MarkGood marks the booted slot successful and advances the stored
// rollback index (see State.MarkGood).
func (s *Slots) MarkGood() (Slot, *State, error) {
	var x Slot
	st, err := s.transition(func(st *State) (err error) {
		x, err = st.MarkGood()
		return err
	})
	return x, st, err
}

// Rollback makes the other slot boot next, if it can (State.Rollback).
func (s *Slots) Rollback() (Slot, *State, error) {
	var x Slot
	st, err := s.transition(func(st *State) (err error) {
		x, err = st.Rollback()
		return err
	})
	return x, st, err
}

// OpenPayload opens the files of slot x for writing an image of m: in a
// directory, fresh files cut to size; on a partition, the device itself,
// whose size is checked when it is a block device. hash is data when both
// are one partition.
func (l *Locked) OpenPayload(x Slot, m *manifest.Manifest) (data, hash *os.File, pl *Placement, err error) {
	pl = l.s.Placement(x, m)
	if pl.DataPath == pl.HashPath {
		data, err = os.OpenFile(pl.DataPath, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, nil, err
		}
		st, err := data.Stat()
		if err == nil && st.Mode()&os.ModeDevice != 0 {
			var n int64
			if n, err = data.Seek(0, io.SeekEnd); err == nil && uint64(n) < pl.End {
				err = fmt.Errorf("%s: partition of %d bytes is too small: the image, tree and parity need %d", pl.DataPath, n, pl.End)
			}
		}
		if err != nil {
			data.Close()
			return nil, nil, nil, err
		}
		return data, data, pl, nil
	}
	data, err = os.OpenFile(pl.DataPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, nil, err
	}
	hash, err = os.OpenFile(pl.HashPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		data.Close()
		return nil, nil, nil, err
	}
	for _, f := range []struct {
		f *os.File
		n uint64
	}{{data, m.Image.Size}, {hash, pl.End}} {
		if err := f.f.Truncate(int64(f.n)); err != nil {
			data.Close()
			hash.Close()
			return nil, nil, nil, err
		}
	}
	return data, hash, pl, nil
}
