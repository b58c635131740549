package boot

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/slot"
)

// fakeSystem stands for the kernel: mounts are recorded (the root mount
// puts an init into the mount point), device-mapper is fakeDM.
type fakeSystem struct {
	fakeDM
	root      string
	mounts    []string
	loaded    []string
	exec      string
	rebooted  string
	noInit    bool
	dmVersion error
	// events interleaves table loads and mounts, to check the order.
	events []string
}

var errExec = errors.New("exec reached (fake)")

func (s *fakeSystem) DMIoctl(cmd uint, b []byte) error {
	if cmd == DMVersionCmd && s.dmVersion != nil {
		return s.dmVersion
	}
	if cmd == DMTableLoadCmd {
		_, ts, _ := UnmarshalDM(b)
		if len(ts) == 1 {
			s.events = append(s.events, "table "+ts[0].Params)
		}
	}
	return s.fakeDM.DMIoctl(cmd, b)
}

func (s *fakeSystem) Mount(source, target, fstype string, flags uintptr, data string) error {
	rel := strings.TrimPrefix(target, s.root)
	s.mounts = append(s.mounts, rel)
	s.events = append(s.events, "mount "+rel)
	if rel == RootMount && !s.noInit {
		if flags&MSReadOnly == 0 {
			return errors.New("root mounted writable")
		}
		os.MkdirAll(filepath.Join(target, "sbin"), 0o755)
		return os.WriteFile(filepath.Join(target, "sbin/init"), []byte("\x7fELF"), 0o755)
	}
	return nil
}
func (s *fakeSystem) Unmount(string) error { return nil }
func (s *fakeSystem) LoadModule(p string) error {
	if _, err := os.Stat(p); err != nil {
		return err
	}
	s.loaded = append(s.loaded, strings.TrimPrefix(p, s.root))
	return nil
}
func (s *fakeSystem) MknodBlock(p string, dev uint64) error { return os.WriteFile(p, nil, 0o600) }
func (s *fakeSystem) SwitchRoot(string) error               { return nil }
func (s *fakeSystem) Exec(p string, argv, env []string) error {
	s.exec = p
	return errExec
}
func (s *fakeSystem) Reboot(a string) error { s.rebooted = a; return nil }
func (s *fakeSystem) Sync()                 {}

// node is an initramfs root in a temporary directory with a node's
// disks under its /dev.
type node struct {
	*fixture
	root string
	img  string
	sys  *fakeSystem
	out  bytes.Buffer
}

func newNode(t *testing.T) *node {
	root := t.TempDir()
	n := &node{root: root}
	n.fixture = newFixture(t, root, filepath.Join(root, StateMount), [2]string{root + "/dev/vdb", root + "/dev/vdc"})
	n.img = filepath.Join(t.TempDir(), "root.img")
	data := make([]byte, 64*4096)
	rand.Read(data)
	if err := os.WriteFile(n.img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{StateDevice: "/dev/vda", Slots: [2]string{"/dev/vdb", "/dev/vdc"}, FSType: "erofs", DeviceTimeoutSeconds: 1}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	b, _ := jsonIndent(cfg)
	pem, _ := os.ReadFile(n.trustPEM)
	for p, data := range map[string][]byte{ConfigPath: b, TrustPath: pem, "/dev/vda": nil, "/dev/vdb": nil, "/dev/vdc": nil,
		ModulesPath: []byte("/lib/modules/dm-mod.ko\n"), "/lib/modules/dm-mod.ko": []byte("module")} {
		os.MkdirAll(filepath.Dir(root+p), 0o755)
		if err := os.WriteFile(root+p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n.sys = &fakeSystem{root: root}
	return n
}

func (n *node) boot() {
	in := &Init{Sys: n.sys, Root: n.root, Console: &n.out, Now: time.Now}
	in.Main()
}

func (n *node) rootHash(t *testing.T, x slot.Slot) string {
	st := n.state(t)
	_, m, err := n.slots.Manifest(st, x)
	if err != nil {
		t.Fatal(err)
	}
	return m.Verity.RootHash
}

func TestBootGoodImage(t *testing.T) {
	n := newNode(t)
	x := n.install(t, n.seal(t, n.img, "1.0.0", 1, n.good), 2)
	n.boot()
	if n.sys.exec != "/sbin/init" {
		t.Fatalf("exec %q\n%s", n.sys.exec, n.out.String())
	}
	tbl := n.sys.tables[DMName]
	if !strings.Contains(tbl.Params, n.rootHash(t, x)) || !strings.Contains(tbl.Params, "restart_on_corruption") ||
		!strings.HasPrefix(tbl.Params, "1 /dev/vdb /dev/vdb 4096 4096 64 ") {
		t.Errorf("table %+v", tbl)
	}
	st := n.state(t)
	if st.Booted != x || st.Slots[x].TriesLeft != 1 {
		t.Errorf("state after boot: booted %s, tries %d", st.Booted, st.Slots[x].TriesLeft)
	}
	if len(n.sys.loaded) != 1 || !strings.Contains(n.out.String(), "booting slot a: testos 1.0.0") {
		t.Errorf("modules %v; console:\n%s", n.sys.loaded, n.out.String())
	}
}

// installGoodB installs a good image in B and marks it good, then the
// image of manifest in A, preferred.
func (n *node) installBThenA(t *testing.T, manifestA string) {
	if x := n.install(t, n.seal(t, n.img, "1.0.0", 1, n.good), 1); x != slot.A {
		t.Fatal("first install not in A")
	}
	n.update(t, func(st *slot.State) { st.Booted = slot.A; st.Slots[slot.A].Successful = true })
	if x := n.install(t, n.seal(t, n.img, "1.1.0", 1, n.good), 1); x != slot.B {
		t.Fatal("second install not in B")
	}
	n.update(t, func(st *slot.State) { st.Booted = slot.B; st.Slots[slot.B].Successful = true; st.RollbackIndex = 1 })
	// Now A is replaced by the image under test, and preferred.
	if x := n.install(t, manifestA, 1); x != slot.A {
		t.Fatal("third install not in A")
	}
}

func TestUntrustedKeyFallsBackToB(t *testing.T) {
	n := newNode(t)
	n.installBThenA(t, n.seal(t, n.img, "2.0.0", 2, n.evil))
	hashA, hashB := n.rootHash(t, slot.A), n.rootHash(t, slot.B)
	n.boot()
	out := n.out.String()
	if !strings.Contains(out, "slot a refused: manifest not trusted") || n.sys.exec != "/sbin/init" {
		t.Fatalf("console:\n%s", out)
	}
	for _, e := range n.sys.events {
		if strings.Contains(e, hashA) {
			t.Fatalf("slot A's table was loaded: %s", e)
		}
	}
	if !strings.Contains(n.sys.tables[DMName].Params, hashB) || !strings.Contains(n.sys.tables[DMName].Params, "/dev/vdc") {
		t.Errorf("table %+v", n.sys.tables[DMName])
	}
	st := n.state(t)
	if st.Booted != slot.B || st.Bootable(slot.A) {
		t.Errorf("after fallback: booted %s, A bootable %v", st.Booted, st.Bootable(slot.A))
	}
}

func TestRollbackRefused(t *testing.T) {
	// The stored index is above the image's: the boot rule refuses.
	n := newNode(t)
	n.install(t, n.seal(t, n.img, "1.0.0", 1, n.good), 1)
	n.update(t, func(st *slot.State) { st.RollbackIndex = 3 })
	n.boot()
	if n.sys.exec != "" || n.sys.rebooted != OnFailurePoweroff || !strings.Contains(n.out.String(), "rollback index 1 is below the stored 3") {
		t.Fatalf("exec %q reboot %q console:\n%s", n.sys.exec, n.sys.rebooted, n.out.String())
	}
	// The state claims a higher index than the signed manifest: the init
	// believes the manifest.
	n = newNode(t)
	n.install(t, n.seal(t, n.img, "1.0.0", 1, n.good), 1)
	n.update(t, func(st *slot.State) { st.RollbackIndex = 3; st.Slots[slot.A].RollbackIndex = 3 })
	n.boot()
	if n.sys.exec != "" || !strings.Contains(n.out.String(), "has rollback index 1, below the stored 3") {
		t.Fatalf("exec %q console:\n%s", n.sys.exec, n.out.String())
	}
	for _, e := range n.sys.events {
		if strings.HasPrefix(e, "table") || e == "mount "+RootMount {
			t.Fatalf("refused image reached %q", e)
		}
	}
}

func TestBadInputHalts(t *testing.T) {
	cases := map[string]struct {
		prep func(t *testing.T, n *node)
		want string
	}{
		"truncated manifest": {func(t *testing.T, n *node) {
			p := n.slots.ManifestPath(slot.A)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "slot a refused"},
		"garbage config":   {func(t *testing.T, n *node) { os.WriteFile(n.root+ConfigPath, []byte("\x00garbage"), 0o644) }, "boot configuration"},
		"missing module":   {func(t *testing.T, n *node) { os.Remove(n.root + "/lib/modules/dm-mod.ko") }, "loading kernel module /lib/modules/dm-mod.ko"},
		"no device-mapper": {func(t *testing.T, n *node) { n.sys.dmVersion = errors.New("no such device") }, "device-mapper is not available"},
		"no dm-verity":     {func(t *testing.T, n *node) { n.sys.failCmd = DMTableLoadCmd }, "creating the dm-verity device"},
		"garbage trust":    {func(t *testing.T, n *node) { os.WriteFile(n.root+TrustPath, []byte("junk"), 0o644) }, "trusted keys of the initramfs"},
		"missing slot dev": {func(t *testing.T, n *node) { os.Remove(n.root + "/dev/vdc") }, "device /dev/vdc did not appear"},
		"no init in image": {func(t *testing.T, n *node) { n.sys.noInit = true }, "the image has no /sbin/init"},
		"damaged state":    {func(t *testing.T, n *node) { os.WriteFile(n.slots.StatePath(), []byte("x"), 0o644) }, "boot state"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			n := newNode(t)
			n.install(t, n.seal(t, n.img, "1.0.0", 1, n.good), 1)
			c.prep(t, n)
			n.boot()
			out := n.out.String()
			if n.sys.exec != "" || n.sys.rebooted != OnFailurePoweroff || !strings.Contains(out, c.want) || !strings.Contains(out, "FATAL") {
				t.Fatalf("exec %q reboot %q; want %q on the console:\n%s", n.sys.exec, n.sys.rebooted, c.want, out)
			}
			for _, e := range n.sys.events {
				if e == "mount "+RootMount && name != "no init in image" {
					t.Fatalf("root mounted")
				}
			}
		})
	}
}
