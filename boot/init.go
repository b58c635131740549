// Package boot is Rampart's early-boot component: the logic of
// rampart-init, the PID 1 of an initramfs that refuses to start a root
// filesystem its owners did not sign.
//
// The init mounts /proc, /sys and /dev, loads the kernel modules listed in
// the initramfs, reads the A/B boot state (package slot), picks the slot to
// try and uses up one of its tries, durably. It then checks that slot's
// manifest against the trusted keys built into the initramfs and against
// the stored rollback index, creates the dm-verity device through the
// device-mapper ioctls with the manifest's parameters and root hash, mounts
// it read-only, loads the SELinux policy if one is built in, switches root
// and executes the real init. A slot whose image is refused is made
// unbootable and the other slot is tried; when nothing can boot, the init
// says why on the console and powers off (or halts or reboots, as
// configured). It never mounts a root that dm-verity does not protect and
// never exits (the kernel would panic).
//
// Every kernel call goes through System, so the logic runs in tests with a
// fake; package boot also holds the device-mapper ioctl marshalling (dm.go)
// and the initramfs builder (cpio.go, initramfs.go).
package boot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

// Mount flags used by the init (values of linux/mount.h).
const (
	MSReadOnly = 0x1
	MSNoSUID   = 0x2
	MSNoDev    = 0x4
	MSNoExec   = 0x8
	MSMove     = 0x2000
)

// System is what the init asks of the kernel. Paths are as the init sees
// them (Init.Root already prepended).
type System interface {
	Ioctler
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string) error
	// LoadModule loads a module file with finit_module; a module already
	// loaded is not an error.
	LoadModule(path string) error
	// MknodBlock makes a block device node for the kernel's encoded dev.
	MknodBlock(path string, dev uint64) error
	// SwitchRoot makes newRoot the root: chdir, move mount onto /, chroot.
	SwitchRoot(newRoot string) error
	// Exec replaces the process with path.
	Exec(path string, argv, env []string) error
	// Reboot powers off, halts or reboots (OnFailure… names).
	Reboot(action string) error
	Sync()
}

// Init is one run of the init.
type Init struct {
	Sys System
	// Root is prepended to every path: "" in a real initramfs, a
	// directory in tests.
	Root string
	// Console receives the messages.
	Console io.Writer
	// Now gives the time for expiry checks.
	Now func() time.Time
}

// Result says what was booted.
type Result struct {
	Slot     slot.Slot
	Manifest *manifest.Manifest
	Table    string
	// SELinux is true when a policy was loaded.
	SELinux bool
}

// refusal is a slot whose image must not boot; the other may.
type refusal struct {
	slot slot.Slot
	err  error
}

func (r *refusal) Error() string { return fmt.Sprintf("slot %s refused: %v", r.slot, r.err) }

func (in *Init) path(p string) string { return in.Root + p }

func (in *Init) logf(format string, a ...any) {
	fmt.Fprintf(in.Console, "rampart-init: "+format+"\n", a...)
}

// Main runs the whole boot and never returns on success (the real init
// replaces it). On failure it prints why, syncs and carries out the
// configured failure action; it returns only if that fails too, and the
// caller must then wait forever rather than exit.
func (in *Init) Main() {
	cfg, err := in.Setup()
	action := OnFailurePoweroff
	if cfg != nil {
		action = cfg.OnFailure
	}
	var res *Result
	if err == nil {
		res, err = in.MountRoot(cfg)
	}
	if err == nil {
		err = in.SwitchAndExec(cfg, res)
	}
	in.logf("FATAL: %v", err)
	in.logf("no verified root was booted; %s", action)
	in.Sys.Sync()
	if err := in.Sys.Reboot(action); err != nil {
		in.logf("%s failed: %v", action, err)
	}
}

// Setup mounts /proc, /sys and /dev, reads the configuration and loads
// the modules listed in the initramfs, in order.
func (in *Init) Setup() (*Config, error) {
	for _, m := range []struct{ src, dir, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := os.MkdirAll(in.path(m.dir), 0o755); err != nil {
			return nil, err
		}
		if err := in.Sys.Mount(m.src, in.path(m.dir), m.fs, MSNoSUID|MSNoExec, ""); err != nil {
			return nil, fmt.Errorf("mounting %s on %s: %w", m.fs, m.dir, err)
		}
	}
	b, err := os.ReadFile(in.path(ConfigPath))
	if err != nil {
		return nil, fmt.Errorf("reading the boot configuration: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, err
	}
	list, err := os.ReadFile(in.path(ModulesPath))
	if err != nil && !os.IsNotExist(err) {
		return cfg, fmt.Errorf("reading the module list: %w", err)
	}
	for _, m := range strings.Fields(string(list)) {
		if err := in.Sys.LoadModule(in.path(m)); err != nil {
			return cfg, fmt.Errorf("loading kernel module %s: %w", m, err)
		}
	}
	return cfg, nil
}

// waitFor waits until path exists, up to the configured timeout.
func (in *Init) waitFor(cfg *Config, path string) error {
	deadline := time.Now().Add(time.Duration(cfg.DeviceTimeoutSeconds) * time.Second)
	for {
		if _, err := os.Stat(in.path(path)); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("device %s did not appear within %d s: %w", path, cfg.DeviceTimeoutSeconds, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MountRoot mounts the boot state, picks a slot and mounts its verified
// root at RootMount, trying the other slot when the first is refused.
func (in *Init) MountRoot(cfg *Config) (*Result, error) {
	for _, d := range []string{cfg.StateDevice, cfg.Slots[0], cfg.Slots[1]} {
		if err := in.waitFor(cfg, d); err != nil {
			return nil, err
		}
	}
	if _, err := (DM{IO: in.Sys}).Version(); err != nil {
		return nil, fmt.Errorf("device-mapper is not available (dm-mod not loaded?): %w", err)
	}
	root, _, err := trust.LoadTrust(in.path(TrustPath), cfg.Threshold, in.Now())
	if err != nil {
		return nil, fmt.Errorf("trusted keys of the initramfs: %w", err)
	}
	if err := os.MkdirAll(in.path(StateMount), 0o755); err != nil {
		return nil, err
	}
	if err := in.Sys.Mount(in.path(cfg.StateDevice), in.path(StateMount), cfg.StateFSType, MSNoSUID|MSNoDev|MSNoExec, ""); err != nil {
		return nil, fmt.Errorf("mounting the boot state %s (%s): %w", cfg.StateDevice, cfg.StateFSType, err)
	}
	slots, err := slot.Open(slot.Config{Dir: in.path(StateMount),
		Devices: [2]string{in.path(cfg.Slots[0]), in.path(cfg.Slots[1])}})
	if err != nil {
		return nil, err
	}
	for range 2 {
		x, st, err := slots.BootAttempt()
		if err != nil {
			return nil, fmt.Errorf("boot state: %w", err)
		}
		res, err := in.trySlot(cfg, root, slots, x, st)
		var ref *refusal
		if errors.As(err, &ref) {
			in.logf("%v", err)
			if err := in.markBad(slots, x); err != nil {
				return nil, fmt.Errorf("recording that slot %s is bad: %w", x, err)
			}
			in.logf("slot %s marked unbootable; trying the other slot", x)
			continue
		}
		return res, err
	}
	return nil, errors.New("both slots were refused")
}

// markBad makes slot x unbootable: no priority, no tries, not successful.
func (in *Init) markBad(slots *slot.Slots, x slot.Slot) error {
	l, err := slots.Lock()
	if err != nil {
		return err
	}
	defer l.Unlock()
	return l.Update(func(st *slot.State) error {
		s := &st.Slots[x]
		if !s.Empty() {
			s.Priority, s.TriesLeft, s.Successful = 0, 0, false
		}
		return nil
	})
}

// CheckSlot authenticates the manifest installed in slot x: it must be
// the one the boot state records, signed by the trusted keys, and its
// rollback index must not be below the stored one. It reads nothing of
// the image.
func CheckSlot(slots *slot.Slots, st *slot.State, x slot.Slot, root *trust.Root, now time.Time) (*manifest.Manifest, error) {
	env, _, err := slots.Manifest(st, x)
	if err != nil {
		return nil, err
	}
	rep := &manifest.Report{}
	m := manifest.Authenticate(env, &manifest.VerifyOptions{Trust: root, Now: now}, rep)
	if m == nil {
		return nil, fmt.Errorf("manifest not trusted: %s", strings.Join(rep.Problems, "; "))
	}
	if m.RollbackIndex < st.RollbackIndex {
		return nil, fmt.Errorf("%s %s has rollback index %d, below the stored %d", m.Name, m.Version, m.RollbackIndex, st.RollbackIndex)
	}
	return m, nil
}

func (in *Init) trySlot(cfg *Config, root *trust.Root, slots *slot.Slots, x slot.Slot, st *slot.State) (*Result, error) {
	ss := st.Slots[x]
	in.logf("trying slot %s (priority %d, %d tries left, successful %v; stored rollback index %d)",
		x, ss.Priority, ss.TriesLeft, ss.Successful, st.RollbackIndex)
	m, err := CheckSlot(slots, st, x, root, in.Now())
	if err != nil {
		return nil, &refusal{x, err}
	}
	in.logf("slot %s: %s %s, rollback index %d, signature good, root hash %s", x, m.Name, m.Version, m.RollbackIndex, m.Verity.RootHash)
	pl := slots.Placement(x, m)
	if size, err := deviceSize(pl.DataPath); err != nil {
		return nil, fmt.Errorf("slot %s device: %w", x, err)
	} else if uint64(size) < pl.End {
		return nil, &refusal{x, fmt.Errorf("device %s holds %d bytes, the image, tree and parity need %d", cfg.Slots[x], size, pl.End)}
	}
	dev := cfg.Slots[x]
	table, err := pl.Table(m, dev, dev, verity.TableOptions{OnCorruption: cfg.OnCorruption})
	if err != nil {
		return nil, &refusal{x, err}
	}
	tgt, err := ParseTable(table)
	if err != nil {
		return nil, err
	}
	dm := DM{IO: in.Sys}
	devno, err := dm.CreateReadOnly(DMName, fmt.Sprintf("RAMPART-%s-%s", x, m.Verity.RootHash[:32]), tgt)
	if err != nil {
		return nil, fmt.Errorf("creating the dm-verity device (is dm-verity in the kernel?): %w", err)
	}
	in.logf("dm-verity device %s: %s", DMName, table)
	node := in.path("/dev/mapper/" + DMName)
	if err := os.MkdirAll(filepath.Dir(node), 0o755); err != nil {
		return nil, err
	}
	os.Remove(node)
	if err := in.Sys.MknodBlock(node, devno); err != nil {
		return nil, fmt.Errorf("making %s: %w", node, err)
	}
	if err := os.MkdirAll(in.path(RootMount), 0o755); err != nil {
		return nil, err
	}
	if err := in.Sys.Mount(node, in.path(RootMount), cfg.FSType, MSReadOnly, ""); err != nil {
		dm.Remove(DMName)
		return nil, &refusal{x, fmt.Errorf("mounting the verified root (%s) read-only: %w", cfg.FSType, err)}
	}
	if _, err := os.Stat(in.path(RootMount + cfg.Init)); err != nil {
		in.Sys.Unmount(in.path(RootMount))
		dm.Remove(DMName)
		return nil, &refusal{x, fmt.Errorf("the image has no %s: %w", cfg.Init, err)}
	}
	res := &Result{Slot: x, Manifest: m, Table: table}
	if res.SELinux, err = in.loadPolicy(cfg); err != nil {
		return nil, err
	}
	return res, nil
}

func deviceSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Seek(0, io.SeekEnd)
}

// loadPolicy loads the built-in SELinux policy, if any, and sets the
// configured mode. Without a policy it returns false.
func (in *Init) loadPolicy(cfg *Config) (bool, error) {
	pol, err := os.ReadFile(in.path(PolicyPath))
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the SELinux policy: %w", err)
	}
	fs := in.path("/sys/fs/selinux")
	if _, err := os.Stat(fs); err != nil {
		return false, fmt.Errorf("the kernel has no SELinux (boot with security=selinux): %w", err)
	}
	if err := in.Sys.Mount("selinuxfs", fs, "selinuxfs", MSNoSUID|MSNoExec, ""); err != nil {
		return false, fmt.Errorf("mounting selinuxfs: %w", err)
	}
	if err := writeFile(fs+"/load", pol); err != nil {
		return false, fmt.Errorf("loading the SELinux policy (%d bytes): %w", len(pol), err)
	}
	mode := "permissive"
	if cfg.SELinuxEnforce {
		if err := writeFile(fs+"/enforce", []byte("1")); err != nil {
			return false, fmt.Errorf("setting SELinux enforcing: %w", err)
		}
		mode = "enforcing"
	}
	in.logf("SELinux policy loaded (%d bytes), %s", len(pol), mode)
	return true, nil
}

// writeFile writes b in one write to an existing file, as selinuxfs wants.
func writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SwitchAndExec unmounts the boot state, moves /dev, /proc and /sys into
// the new root (when it has those directories), switches to it and
// executes the real init. It returns only on failure.
func (in *Init) SwitchAndExec(cfg *Config, res *Result) error {
	in.Sys.Sync()
	if err := in.Sys.Unmount(in.path(StateMount)); err != nil {
		return fmt.Errorf("unmounting the boot state: %w", err)
	}
	nr := in.path(RootMount)
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if st, err := os.Stat(nr + d); err == nil && st.IsDir() {
			if err := in.Sys.Mount(in.path(d), nr+d, "", MSMove, ""); err != nil {
				return fmt.Errorf("moving %s into the new root: %w", d, err)
			}
		}
	}
	in.logf("booting slot %s: %s %s; exec %s", res.Slot, res.Manifest.Name, res.Manifest.Version, cfg.Init)
	if err := in.Sys.SwitchRoot(nr); err != nil {
		return fmt.Errorf("switching root: %w", err)
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "RAMPART_SLOT=" + res.Slot.String(),
		"RAMPART_ROOT_HASH=" + res.Manifest.Verity.RootHash, "RAMPART_DM_NAME=" + DMName}
	return fmt.Errorf("executing %s: %w", cfg.Init, in.Sys.Exec(cfg.Init, []string{cfg.Init}, env))
}

// isELF reports whether b starts like an executable.
func isELF(b []byte) bool { return bytes.HasPrefix(b, []byte("\x7fELF")) }
