package bundle

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/image/manifest"
	"github.com/rampart-sec/rampart/image/slot"
	"github.com/rampart-sec/rampart/image/trust"
	"github.com/rampart-sec/rampart/verity"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// fixture is a release setup: root keys (2 of 3), release keys (2 of 3)
// and a signed root v1.
type fixture struct {
	dir      string
	rootKeys []ed25519.PrivateKey
	relKeys  []ed25519.PrivateKey
	root     *trust.Root
	rootEnv  *trust.Envelope
	rootPath string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), rootKeys: []ed25519.PrivateKey{key(1), key(2), key(3)}, relKeys: []ed25519.PrivateKey{key(11), key(12), key(13)}}
	f.root = f.makeRoot(t, 1, f.rootKeys, f.relKeys, nil)
	f.rootEnv = f.sign(t, f.root, f.rootKeys[:2]...)
	f.rootPath = filepath.Join(f.dir, "root.json")
	if err := f.rootEnv.WriteFile(f.rootPath); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) makeRoot(t *testing.T, version uint64, rootKeys, relKeys []ed25519.PrivateKey, mutate func(r *trust.Root)) *trust.Root {
	t.Helper()
	r := &trust.Root{Type: trust.TypeRoot, Version: version, Expires: trust.FormatTime(now.AddDate(1, 0, 0)), Keys: map[string]trust.Key{}, Roles: map[string]trust.Role{}}
	for role, keys := range map[string][]ed25519.PrivateKey{trust.RoleRoot: rootKeys, trust.RoleRelease: relKeys} {
		ro := trust.Role{Threshold: 2}
		for _, k := range keys {
			id := trust.KeyID(pub(k))
			r.Keys[id] = trust.NewKey(pub(k), time.Time{})
			ro.KeyIDs = append(ro.KeyIDs, id)
		}
		r.Roles[role] = ro
	}
	if mutate != nil {
		mutate(r)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) sign(t *testing.T, v any, keys ...ed25519.PrivateKey) *trust.Envelope {
	t.Helper()
	e, err := trust.NewEnvelope(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		e.Sign(k)
	}
	return e
}

type sealOpt struct {
	keys   []ed25519.PrivateKey
	fec    int
	blocks int
	target string
}

// seal makes and seals an image named name-version and returns its
// manifest path.
func (f *fixture) seal(t *testing.T, version string, ri uint64, o sealOpt) string {
	t.Helper()
	if o.keys == nil {
		o.keys = f.relKeys[:2]
	}
	if o.blocks == 0 {
		o.blocks = 64
	}
	d := filepath.Join(f.dir, "release-"+version)
	os.MkdirAll(d, 0o755)
	img := filepath.Join(d, "guestos.img")
	b := make([]byte, o.blocks*4096)
	r := mrand.New(mrand.NewPCG(ri, uint64(len(version))))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := manifest.Seal(img, &manifest.SealOptions{Version: version, RollbackIndex: ri, Keys: o.keys, Seed: []byte(version),
		FECRoots: o.fec, Target: o.target})
	if err != nil {
		t.Fatal(err)
	}
	return s.Files.Manifest
}

func (f *fixture) bundle(t *testing.T, manifestPath string, roots ...*trust.Envelope) string {
	t.Helper()
	out := strings.TrimSuffix(manifestPath, ".manifest.json") + ".bundle"
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if roots == nil {
		roots = []*trust.Envelope{f.rootEnv}
	}
	if _, err := Create(w, manifestPath, &CreateOptions{Roots: roots, Now: now}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) policy() Policy { return Policy{Trust: f.root, Now: now} }

func verifyBytes(t *testing.T, b []byte, p Policy) *Report {
	t.Helper()
	rep, err := Verify(bytes.NewReader(b), int64(len(b)), &p, verity.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func reasons(rep *Report) string {
	s := strings.Join(rep.Problems, "\n")
	if rep.Tree != nil {
		for _, p := range rep.Tree.Problems {
			s += "\n" + p.String()
		}
	}
	return s
}

func TestCreateVerify(t *testing.T) {
	f := newFixture(t)
	b := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{fec: 2}))
	rep, err := VerifyFile(b, &Policy{Trust: f.root, Now: now}, verity.VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %s", err, reasons(rep))
	}
	if rep.Manifest.Version != "1.0.0" || rep.RootVersion != 1 || len(rep.Signatures.Signers) != 2 || rep.Tree.DataBlocks != 64 {
		t.Fatalf("report: %+v", rep)
	}
	data, _ := os.ReadFile(b)
	head, err := ReadHead(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if head.Header.PayloadOffset()%Align != 0 || uint64(len(data)) != head.Header.Size() || head.Header.FECLen == 0 {
		t.Fatalf("layout: %+v", head.Header)
	}
	// The payload is the sealed tree, image and parity, in that order.
	m := head.Manifest
	hashFile, _ := os.ReadFile(filepath.Join(filepath.Dir(b), m.Verity.HashFile))
	img, _ := os.ReadFile(filepath.Join(filepath.Dir(b), m.Image.File))
	po := head.Header.PayloadOffset()
	want := append(append(bytes.Clone(hashFile[4096:4096+m.TreeBytes()]), img...), hashFile[m.FEC.Offset:]...)
	if !bytes.Equal(data[po:], want) {
		t.Fatal("payload is not tree, image, parity")
	}
	// Creating twice gives the same bytes.
	again := f.bundle(t, filepath.Join(filepath.Dir(b), "guestos.manifest.json"))
	if d2, _ := os.ReadFile(again); !bytes.Equal(d2, data) {
		t.Fatal("bundle not reproducible")
	}
}

// TestModifiedByteAnywhere changes each byte of the header, metadata and
// padding, and bytes across the tree, image and parity: every change is
// refused, with a reason naming what is wrong.
func TestModifiedByteAnywhere(t *testing.T) {
	f := newFixture(t)
	path := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{fec: 2}))
	orig, _ := os.ReadFile(path)
	head, _ := ReadHead(bytes.NewReader(orig))
	h := head.Header
	po := h.PayloadOffset()
	type region struct {
		name       string
		start, end uint64
		step       uint64
		want       []string
	}
	regions := []region{
		{"header", 0, HeaderSize, 1, []string{"header:", "metadata:", "size:"}},
		{"metadata", HeaderSize, HeaderSize + h.MetadataLen, 1, []string{"metadata:", "signatures:", "root chain:"}},
		{"padding", HeaderSize + h.MetadataLen, po, 97, []string{"padding"}},
		{"tree", po, po + h.TreeLen, 509, []string{"hash-block-damaged", "root-hash-mismatch", "padding-not-zero"}},
		{"image", po + h.TreeLen, po + h.TreeLen + h.ImageLen, 4093, []string{"data-block-damaged"}},
		{"parity", po + h.TreeLen + h.ImageLen, h.Size(), 1021, []string{"FEC parity"}},
	}
	p := f.policy()
	n := 0
	for _, r := range regions {
		for off := r.start; off < r.end; off += r.step {
			b := bytes.Clone(orig)
			b[off] ^= 0x01
			rep := verifyBytes(t, b, p)
			n++
			why := reasons(rep)
			if rep.OK || why == "" {
				t.Fatalf("%s byte %d changed: accepted", r.name, off)
			}
			found := false
			for _, w := range r.want {
				found = found || strings.Contains(why, w)
			}
			if !found {
				t.Fatalf("%s byte %d changed: reason %q, want one of %q", r.name, off, why, r.want)
			}
		}
	}
	// The metadata is long: make sure the signatures' bytes were covered.
	if !bytes.Contains(orig[HeaderSize:HeaderSize+h.MetadataLen], []byte(`"signatures"`)) || n < int(h.MetadataLen) {
		t.Fatalf("only %d changes tried", n)
	}
	for name, b := range map[string][]byte{
		"truncated": orig[:len(orig)-1],
		"trailing":  append(bytes.Clone(orig), 0),
		"empty":     nil,
	} {
		if rep := verifyBytes(t, b, p); rep.OK || !strings.Contains(reasons(rep), "size:") && !strings.Contains(reasons(rep), "header:") {
			t.Errorf("%s: %v %s", name, rep.OK, reasons(rep))
		}
	}
}

func TestSignaturePolicy(t *testing.T) {
	f := newFixture(t)
	k := f.relKeys
	cases := []struct {
		name   string
		keys   []ed25519.PrivateKey
		policy func(p *Policy)
		roots  func() []*trust.Envelope
		want   string
	}{
		{"two of three", k[:2], nil, nil, ""},
		{"too few signatures", k[:1], nil, nil, "release role of root v1: 2 valid signature(s) needed, 1 found"},
		{"unknown signer", []ed25519.PrivateKey{k[0], key(99)}, nil, nil, "unknown key"},
		{"expired key", k[:2], nil, func() []*trust.Envelope {
			v2 := f.makeRoot(t, 2, f.rootKeys, f.relKeys, func(r *trust.Root) {
				id := trust.KeyID(pub(k[1]))
				e := r.Keys[id]
				e.Expires = trust.FormatTime(now.AddDate(0, -1, 0))
				r.Keys[id] = e
			})
			return []*trust.Envelope{f.rootEnv, f.sign(t, v2, f.rootKeys[:2]...)}
		}, "key expired on 2026-05-01T00:00:00Z"},
		{"revoked key", k[:2], nil, func() []*trust.Envelope {
			v2 := f.makeRoot(t, 2, f.rootKeys, f.relKeys, func(r *trust.Root) { r.Revoked = []string{trust.KeyID(pub(k[0]))} })
			return []*trust.Envelope{f.rootEnv, f.sign(t, v2, f.rootKeys[:2]...)}
		}, "revoked by root v2"},
		{"rotation not signed by enough old root keys", k[:2], nil, func() []*trust.Envelope {
			newRoot := []ed25519.PrivateKey{key(4), key(5), key(6)}
			v2 := f.makeRoot(t, 2, newRoot, f.relKeys, nil)
			return []*trust.Envelope{f.sign(t, v2, newRoot[0], newRoot[1], f.rootKeys[0])}
		}, "root chain: root v2 is not signed by the previous root"},
		{"expired root", k[:2], func(p *Policy) { p.Now = now.AddDate(2, 0, 0) }, nil, "root metadata v1 expired"},
		{"rollback index below stored", k[:2], func(p *Policy) { p.MinRollbackIndex = 2 }, nil, "rollback index 1, below the node's stored 2"},
		{"wrong target", k[:2], func(p *Policy) { p.Target = manifest.TargetHost }, nil, "for guest nodes, this is a host node"},
	}
	for i, c := range cases {
		m := f.seal(t, fmt.Sprintf("1.0.%d", i), 1, sealOpt{keys: c.keys})
		var roots []*trust.Envelope
		if c.roots != nil {
			roots = c.roots()
		}
		// Create refuses to build what nodes will refuse, so build
		// these bundles without the check.
		out := filepath.Join(f.dir, fmt.Sprintf("case%d.bundle", i))
		w, _ := os.Create(out)
		if _, err := Create(w, m, &CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if roots != nil {
			rewriteRoots(t, out, roots)
		}
		p := f.policy()
		if c.policy != nil {
			c.policy(&p)
		}
		rep, err := VerifyFile(out, &p, verity.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.want == "" {
			if !rep.OK {
				t.Errorf("%s: refused: %s", c.name, reasons(rep))
			}
			continue
		}
		if rep.OK || !strings.Contains(reasons(rep), c.want) {
			t.Errorf("%s: ok=%v, reasons %q, want %q", c.name, rep.OK, reasons(rep), c.want)
		}
		// An install refuses it too, before writing anything.
		slots := filepath.Join(f.dir, fmt.Sprintf("slots%d", i))
		s, _ := slot.Open(slot.Config{Dir: slots})
		_, err = installFile(t, out, s, p)
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: install: %v", c.name, err)
		}
		if ents, _ := filepath.Glob(filepath.Join(slots, "*.img")); len(ents) != 0 {
			t.Errorf("%s: install wrote %v", c.name, ents)
		}
	}
}

// rewriteRoots replaces the root chain in a bundle's metadata.
func rewriteRoots(t *testing.T, path string, roots []*trust.Envelope) {
	t.Helper()
	data, _ := os.ReadFile(path)
	head, err := ReadHead(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	md := metadata{Type: Type}
	md.Manifest, _ = head.Envelope.Marshal()
	for _, r := range roots {
		b, _ := r.Marshal()
		md.Roots = append(md.Roots, b)
	}
	mb, err := trust.Canonical(md)
	if err != nil {
		t.Fatal(err)
	}
	h := head.Header
	h.MetadataLen = uint64(len(mb))
	out := append(h.Marshal(), mb...)
	out = append(out, make([]byte, h.PayloadOffset()-HeaderSize-h.MetadataLen)...)
	out = append(out, data[head.Header.PayloadOffset():]...)
	os.WriteFile(path, out, 0o644)
}

func installFile(t *testing.T, path string, s *slot.Slots, p Policy) (*InstallResult, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Install(f, s, &InstallOptions{Policy: p})
}

func mustInstall(t *testing.T, path string, s *slot.Slots, p Policy) *InstallResult {
	t.Helper()
	res, err := installFile(t, path, s, p)
	if err != nil {
		t.Fatalf("install %s: %v", path, err)
	}
	return res
}

func veritysetup(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"veritysetup", "/usr/sbin/veritysetup", "/sbin/veritysetup"} {
		if q, err := exec.LookPath(p); err == nil {
			return q
		}
	}
	t.Skip("veritysetup not installed (cryptsetup-bin)")
	return ""
}

// checkSlots asserts what must hold after any install, complete or not:
// the state reads, some slot boots, and every slot the state says holds
// an image holds exactly that image, verified.
func checkSlots(t *testing.T, s *slot.Slots, good slot.Slot) *slot.State {
	t.Helper()
	st, err := s.Load()
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	if c, ok := st.Choose(); !ok {
		t.Fatalf("no bootable slot: %+v", st)
	} else if c != good && st.Slots[c].Successful {
		t.Fatalf("slot %s chosen", c)
	}
	if !st.Bootable(good) {
		t.Fatalf("good slot %s not bootable: %s", good, st.Why(good))
	}
	for _, x := range []slot.Slot{slot.A, slot.B} {
		if st.Slots[x].Empty() {
			continue
		}
		_, m, err := s.Manifest(st, x)
		if err != nil {
			t.Fatalf("slot %s: %v", x, err)
		}
		rep, err := s.Verify(x, m, verity.VerifyOptions{})
		if err != nil || !rep.OK {
			t.Fatalf("slot %s does not verify: %v %+v", x, err, rep)
		}
	}
	return st
}

func TestInstallLifecycle(t *testing.T) {
	vs := veritysetup(t)
	f := newFixture(t)
	v1 := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{fec: 2}))
	v2 := f.bundle(t, f.seal(t, "1.1.0", 1, sealOpt{fec: 2}))
	v3 := f.bundle(t, f.seal(t, "2.0.0", 2, sealOpt{}))
	s, _ := slot.Open(slot.Config{Dir: filepath.Join(f.dir, "node")})
	p := f.policy()

	res := mustInstall(t, v1, s, p)
	if res.Slot != slot.A || res.RootUpdated || !res.Report.OK {
		t.Fatalf("first install: %+v", res)
	}
	if x, _, err := s.BootAttempt(); err != nil || x != slot.A {
		t.Fatalf("boot: %v %v", x, err)
	}
	s.MarkGood()
	res = mustInstall(t, v2, s, p)
	if res.Slot != slot.B {
		t.Fatalf("second install to %s", res.Slot)
	}
	st := checkSlots(t, s, slot.A)
	if c, _ := st.Choose(); c != slot.B || st.Slots[slot.B].TriesLeft != 1 || st.RollbackIndex != 1 {
		t.Fatalf("after install: %+v", st)
	}
	// veritysetup accepts the slot as written, and the kernel table the
	// placement gives names it.
	_, m, _ := s.Manifest(st, slot.B)
	pl := s.Placement(slot.B, m)
	if out, err := exec.Command(vs, "verify", pl.DataPath, pl.HashPath, m.Verity.RootHash,
		"--fec-device", pl.HashPath, fmt.Sprintf("--fec-offset=%d", pl.FECOffset), "--fec-roots=2").CombinedOutput(); err != nil {
		t.Fatalf("veritysetup verify slot b: %v\n%s", err, out)
	}
	table, _ := pl.Table(m, "/dev/vda5", "/dev/vda6", verity.TableOptions{})
	if !strings.Contains(table, " 4096 4096 64 1 sha256 "+m.Verity.RootHash) || !strings.Contains(table, "use_fec_from_device /dev/vda6") {
		t.Fatalf("table: %s", table)
	}
	// Boot B, mark it good: the stored rollback index stays 1 (v2's).
	s.BootAttempt()
	s.MarkGood()
	// v3 (rollback index 2) goes to A; until it is marked good, the
	// stored index stays 1.
	mustInstall(t, v3, s, p)
	st, _ = s.Load()
	if st.RollbackIndex != 1 || st.Slots[slot.A].RollbackIndex != 2 {
		t.Fatalf("%+v", st)
	}
	s.BootAttempt()
	_, st, _ = s.MarkGood()
	if st.RollbackIndex != 2 {
		t.Fatalf("rollback index not advanced: %+v", st)
	}
	// An older bundle is refused now.
	_, err := installFile(t, v2, s, p)
	if err == nil || !strings.Contains(err.Error(), "rollback index 1, below the node's stored 2") {
		t.Fatalf("older bundle: %v", err)
	}
	// Nor can the node roll back to v2 in B.
	if _, _, err := s.Rollback(); err == nil {
		t.Fatal("rollback below the stored index")
	}
	checkSlots(t, s, slot.A)
}

func TestRollbackAndFailedBoot(t *testing.T) {
	f := newFixture(t)
	v1 := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{}))
	v2 := f.bundle(t, f.seal(t, "1.1.0", 1, sealOpt{}))
	s, _ := slot.Open(slot.Config{Dir: filepath.Join(f.dir, "node")})
	p := f.policy()
	mustInstall(t, v1, s, p)
	s.BootAttempt()
	s.MarkGood()
	mustInstall(t, v2, s, p)
	// Installing again while B is pending overwrites B, never A.
	if res := mustInstall(t, v2, s, p); res.Slot != slot.B {
		t.Fatalf("reinstall went to %s", res.Slot)
	}
	// B boots but is never marked good: the next boot is A again.
	if x, _, _ := s.BootAttempt(); x != slot.B {
		t.Fatal("B not tried")
	}
	if _, err := installFile(t, v2, s, p); err == nil || !strings.Contains(err.Error(), "not marked good") {
		t.Fatalf("install while running an unconfirmed slot: %v", err)
	}
	if x, _, _ := s.BootAttempt(); x != slot.A {
		t.Fatal("no fallback to A")
	}
	// Reinstall B, boot it, mark it good, then roll back to A by hand.
	mustInstall(t, v2, s, p)
	s.BootAttempt()
	s.MarkGood()
	x, st, err := s.Rollback()
	if err != nil || x != slot.A {
		t.Fatalf("rollback: %v %v", x, err)
	}
	if c, _ := st.Choose(); c != slot.A {
		t.Fatal("rollback did not make A boot next")
	}
	checkSlots(t, s, slot.A)
}

func TestInstallPartitions(t *testing.T) {
	vs := veritysetup(t)
	f := newFixture(t)
	v1 := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{fec: 2, blocks: 200}))
	parts := [2]string{filepath.Join(f.dir, "vda3"), filepath.Join(f.dir, "vda4")}
	for _, p := range parts {
		os.WriteFile(p, nil, 0o644)
		os.Truncate(p, 2<<20) // a 2 MiB "partition", larger than needed
	}
	s, _ := slot.Open(slot.Config{Dir: filepath.Join(f.dir, "state"), Devices: parts})
	res := mustInstall(t, v1, s, f.policy())
	st := checkSlots(t, s, res.Slot)
	_, m, _ := s.Manifest(st, res.Slot)
	pl := s.Placement(res.Slot, m)
	if pl.DataPath != parts[0] || pl.HashPath != parts[0] || pl.SuperblockOffset != 200*4096 || pl.HashStart != 201 {
		t.Fatalf("placement %+v", pl)
	}
	if fi, _ := os.Stat(parts[0]); fi.Size() != 2<<20 {
		t.Fatalf("partition resized to %d", fi.Size())
	}
	// veritysetup reads it as one device with the tree at an offset.
	if out, err := exec.Command(vs, "verify", parts[0], parts[0], m.Verity.RootHash, fmt.Sprintf("--hash-offset=%d", pl.SuperblockOffset)).CombinedOutput(); err != nil {
		t.Fatalf("veritysetup: %v\n%s", err, out)
	}
	if out, err := exec.Command(vs, "verify", "--no-superblock", "--salt="+m.Verity.Salt, "--data-blocks=200", fmt.Sprintf("--hash-offset=%d", pl.HashStart*4096),
		parts[0], parts[0], m.Verity.RootHash).CombinedOutput(); err != nil {
		t.Fatalf("veritysetup --no-superblock: %v\n%s", err, out)
	}
	table, _ := pl.Table(m, "", "", verity.TableOptions{})
	if !strings.Contains(table, fmt.Sprintf(" 200 201 sha256 %s %s", m.Verity.RootHash, m.Verity.Salt)) ||
		!strings.Contains(table, fmt.Sprintf("fec_start %d fec_blocks %d fec_roots 2", pl.FECOffset/4096, m.FEC.CoveredBlocks)) {
		t.Fatalf("table: %s", table)
	}
}

// TestDamagedStream: a bundle damaged in its image is written, found
// bad and refused; the slot stays cleared and the good slot untouched.
func TestDamagedStream(t *testing.T) {
	f := newFixture(t)
	v1 := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{}))
	v2 := f.bundle(t, f.seal(t, "1.1.0", 1, sealOpt{fec: 2}))
	s, _ := slot.Open(slot.Config{Dir: filepath.Join(f.dir, "node")})
	p := f.policy()
	mustInstall(t, v1, s, p)
	s.BootAttempt()
	s.MarkGood()
	data, _ := os.ReadFile(v2)
	head, _ := ReadHead(bytes.NewReader(data))
	po := head.Header.PayloadOffset()
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"image byte": {flipAt(data, po+head.Header.TreeLen+5000), "data-block-damaged"},
		"tree byte":  {flipAt(data, po+100), "hash tree"},
		"parity":     {flipAt(data, uint64(len(data))-3), "FEC parity"},
		"truncated":  {data[:len(data)-4096], "ends early"},
		"trailing":   {append(bytes.Clone(data), 1), "trailing data"},
	} {
		_, err := Install(bytes.NewReader(c.b), s, &InstallOptions{Policy: p})
		var re *RefusedError
		if !errors.As(err, &re) || !strings.Contains(reasons(re.Report), c.want) {
			t.Fatalf("%s: %v", name, err)
		}
		st := checkSlots(t, s, slot.A)
		if !st.Slots[slot.B].Empty() {
			t.Fatalf("%s: slot b not cleared: %+v", name, st.Slots[slot.B])
		}
	}
}

func flipAt(b []byte, off uint64) []byte {
	c := bytes.Clone(b)
	c[off] ^= 0x40
	return c
}

// TestRotationThroughBundles: the node trusts root v1; a bundle brings v2,
// which replaces the release keys; the node stores v2 and from then on
// refuses manifests signed by the old release keys.
func TestRotationThroughBundles(t *testing.T) {
	f := newFixture(t)
	newRel := []ed25519.PrivateKey{key(21), key(22), key(23)}
	v2 := f.makeRoot(t, 2, f.rootKeys[1:], newRel, func(r *trust.Root) { r.Revoked = []string{trust.KeyID(pub(f.relKeys[0]))} })
	v2env := f.sign(t, v2, f.rootKeys...) // 2 of v1's root keys, 2 of its own
	s, _ := slot.Open(slot.Config{Dir: filepath.Join(f.dir, "node")})
	p := f.policy()
	b1 := f.bundle(t, f.seal(t, "1.0.0", 1, sealOpt{keys: newRel[:2]}), f.rootEnv, v2env)
	res := mustInstall(t, b1, s, p)
	if !res.RootUpdated || res.Report.RootVersion != 2 {
		t.Fatalf("root not updated: %+v", res)
	}
	stored, _, err := trust.LoadRoot(s.RootPath(), now)
	if err != nil || stored.Version != 2 {
		t.Fatalf("stored root: %v", err)
	}
	s.BootAttempt()
	s.MarkGood()
	// A bundle signed by the old release keys, shipping only v1: the node
	// uses its stored v2 even though it is given v1 again.
	old := f.seal(t, "1.1.0", 1, sealOpt{keys: f.relKeys[:2]})
	out := filepath.Join(f.dir, "old.bundle")
	w, _ := os.Create(out)
	Create(w, old, &CreateOptions{})
	w.Close()
	_, err = installFile(t, out, s, p)
	if err == nil || !strings.Contains(err.Error(), "release role of root v2: 2 valid signature(s) needed, 0 found") {
		t.Fatalf("old keys after rotation: %v", err)
	}
	if rep, _ := VerifyFile(out, &Policy{Trust: f.root, Now: now}, verity.VerifyOptions{}); !rep.OK {
		t.Fatalf("without the node's stored root the bundle verifies against v1: %s", reasons(rep))
	}
}

// TestCreateRefuses: bundle create checks what it can cheaply.
func TestCreateRefuses(t *testing.T) {
	f := newFixture(t)
	m := f.seal(t, "1.0.0", 1, sealOpt{keys: f.relKeys[:1], fec: 2})
	if _, err := Create(&bytes.Buffer{}, m, &CreateOptions{Roots: []*trust.Envelope{f.rootEnv}, Now: now}); err == nil ||
		!strings.Contains(err.Error(), "would be refused") {
		t.Fatalf("under-signed manifest: %v", err)
	}
	m = f.seal(t, "1.0.1", 1, sealOpt{fec: 2})
	hash := filepath.Join(filepath.Dir(m), "guestos.verity")
	b, _ := os.ReadFile(hash)
	b[len(b)-1] ^= 1
	os.WriteFile(hash, b, 0o644)
	if _, err := Create(&bytes.Buffer{}, m, &CreateOptions{}); err == nil || !strings.Contains(err.Error(), "FEC parity") {
		t.Fatalf("damaged parity: %v", err)
	}
}
