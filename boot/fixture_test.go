package boot

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/bundle"
	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
)

// fixture is a node's disks as files: the boot state directory and the
// two slot partitions, with a trusted release key and an untrusted one.
type fixture struct {
	dir        string
	good, evil ed25519.PrivateKey
	trustPEM   string
	slots      *slot.Slots
	n          int
}

func newFixture(t *testing.T, root, stateDir string, devices [2]string) *fixture {
	t.Helper()
	f := &fixture{dir: root}
	var err error
	if f.good, err = trust.GenerateKey(nil); err != nil {
		t.Fatal(err)
	}
	if f.evil, err = trust.GenerateKey(nil); err != nil {
		t.Fatal(err)
	}
	pem, err := trust.EncodePublicKey(f.good.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	f.trustPEM = filepath.Join(t.TempDir(), "trust.pem")
	if err := os.WriteFile(f.trustPEM, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range devices {
		if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if f.slots, err = slot.Open(slot.Config{Dir: stateDir, Devices: devices}); err != nil {
		t.Fatal(err)
	}
	return f
}

// seal seals a copy of the image at img with key and returns the
// manifest's path.
func (f *fixture) seal(t *testing.T, img, version string, index uint64, key ed25519.PrivateKey) string {
	t.Helper()
	f.n++
	dir := t.TempDir()
	p := filepath.Join(dir, "root.img")
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := manifest.Seal(p, &manifest.SealOptions{Name: "testos", Version: version, RollbackIndex: index, Keys: []ed25519.PrivateKey{key},
		Seed: []byte{byte(f.n)}})
	if err != nil {
		t.Fatal(err)
	}
	return s.Files.Manifest
}

// install installs a sealed image as an installer trusting both keys
// would (so that an image of the untrusted key reaches the disk, as an
// attacker with write access could do).
func (f *fixture) install(t *testing.T, manifestPath string, tries uint8) slot.Slot {
	t.Helper()
	bpath := filepath.Join(t.TempDir(), "b.bundle")
	if _, err := bundle.CreateFile(bpath, manifestPath, &bundle.CreateOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ring, err := trust.KeyRing([]ed25519.PublicKey{f.good.Public().(ed25519.PublicKey), f.evil.Public().(ed25519.PublicKey)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(bpath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	res, err := bundle.Install(in, f.slots, &bundle.InstallOptions{Policy: bundle.Policy{Trust: ring, Now: time.Now()}, Tries: tries})
	if err != nil {
		t.Fatal(err)
	}
	return res.Slot
}

// update changes the boot state as a node (or an attacker) would.
func (f *fixture) update(t *testing.T, fn func(st *slot.State)) {
	t.Helper()
	l, err := f.slots.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if err := l.Update(func(st *slot.State) error { fn(st); return nil }); err != nil {
		t.Fatal(err)
	}
}

// state loads the boot state.
func (f *fixture) state(t *testing.T) *slot.State {
	t.Helper()
	st, err := f.slots.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
