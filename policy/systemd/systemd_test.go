package systemd

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/gen"
)

var update = flag.Bool("update", false, "rewrite golden files")

var examples = []string{"ic-node", "ic-host"}

func loadExample(t *testing.T, name string) *policy.Policy {
	t.Helper()
	p, err := policy.Load(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func compile(t *testing.T, p *policy.Policy) *Output {
	t.Helper()
	out, err := Compile(p, &Options{SourceRoot: filepath.Join("..", "..")})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// golden renders every distinct drop-in and the warnings.
func golden(out *Output) string {
	var b strings.Builder
	seen := make(map[string]bool)
	for _, d := range out.DropIns {
		if seen[d.Path] {
			continue
		}
		seen[d.Path] = true
		b.WriteString("==> " + d.Path + " <==\n" + d.Content + "\n")
	}
	b.WriteString("==> warnings <==\n")
	for _, w := range out.Warnings {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	p, err := policy.Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := golden(out)
	const file = "testdata/tiny.golden"
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./policy/systemd -run TestGolden -update and review the diff):\n%s", file, firstDiff(string(want), got))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n-" + x + "\n+" + y
		}
	}
	return ""
}

// TestDeterministic compiles each example twice, loaded through
// different relative paths: SourceRoot makes the output identical.
func TestDeterministic(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..")
	for _, ex := range examples {
		a := compile(t, loadExample(t, ex))
		p2, err := policy.Load(filepath.Join(root, "examples", ex))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Compile(p2, &Options{SourceRoot: root})
		if err != nil {
			t.Fatal(err)
		}
		if ga, gb := golden(a), golden(b); ga != gb {
			t.Errorf("%s: output depends on how the policy was loaded:\n%s", ex, firstDiff(ga, gb))
		}
		if !strings.Contains(a.DropIns[0].Content, "# compartment "+a.DropIns[0].Compartment) ||
			!strings.Contains(a.DropIns[0].Content, "from examples/"+ex+"/compartments.hcl:") {
			t.Errorf("%s: drop-in does not cite its compartment's position:\n%s", ex, a.DropIns[0].Content)
		}
	}
}

func TestUnitNames(t *testing.T) {
	p := loadExample(t, "ic-node")
	out := compile(t, p)
	if len(out.DropIns) != len(p.Compartments) {
		t.Fatalf("%d drop-ins for %d compartments", len(out.DropIns), len(p.Compartments))
	}
	for i, d := range out.DropIns {
		c := p.Compartments[i]
		if d.Compartment != c.Name {
			t.Errorf("drop-in %d is for %s, want %s", i, d.Compartment, c.Name)
		}
		want := c.Unit
		if want == "" {
			want = "rampart-" + c.Name + ".service"
		}
		if d.Unit != want || d.Path != want+".d/50-rampart.conf" {
			t.Errorf("%s: unit %s path %s, want %s", c.Name, d.Unit, d.Path, want)
		}
		if !slices.Contains(d.Members, c.Name) {
			t.Errorf("%s: not among the members %v of its own unit", c.Name, d.Members)
		}
	}
	o2, err := Compile(p, &Options{DropInName: "10-x.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(o2.DropIns[0].Path, ".d/10-x.conf") {
		t.Errorf("DropInName ignored: %s", o2.DropIns[0].Path)
	}
	for _, bad := range []string{"x/y.conf", "x.txt"} {
		if _, err := Compile(p, &Options{DropInName: bad}); err == nil {
			t.Errorf("DropInName %q accepted", bad)
		}
	}
	if _, err := Compile(nil, nil); err == nil {
		t.Error("nil policy accepted")
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"socket unit", `
compartment "a" {
  tier = "trusted"
  unit = "a.socket"
}`, `x.hcl:2:1: compartment "a": unit "a.socket" is not a service`},
		{"shared unit, two identities", `
compartment "a" {
  tier = "trusted"
  user = "a"
  unit = "ab.service"
}
compartment "b" {
  tier = "trusted"
  user = "b"
  unit = "ab.service"
}`, `x.hcl:7:1: compartment "b" runs as user b, group (unset) but shares unit "ab.service" with compartment "a" (x.hcl:2)`},
	} {
		p, err := policy.Parse("x.hcl", []byte(tc.src))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, err = Compile(p, nil)
		var pe *policy.Error
		if !errors.As(err, &pe) {
			t.Fatalf("%s: got %v, want a *policy.Error", tc.name, err)
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got %s\nwant %s…", tc.name, err, tc.want)
		}
	}
}

func TestSharedUnitMerges(t *testing.T) {
	p, err := policy.Parse("x.hcl", []byte(`
compartment "a" {
  tier = "trusted"
  user = "svc"
  unit = "ab.service"
  allow {
    verbs = ["write"]
    on    = ["ra"]
  }
}
compartment "b" {
  tier = "trusted"
  user = "svc"
  unit = "ab.service"
  allow {
    verbs = ["write"]
    on    = ["rb"]
  }
}
resource "ra" {
  kind  = "directory"
  paths = ["/srv/a/**"]
}
resource "rb" {
  kind  = "directory"
  paths = ["/srv/b/**"]
}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := out.DropIns[0], out.DropIns[1]
	if a.Path != b.Path || a.Content != b.Content || !slices.Equal(a.Members, []string{"a", "b"}) {
		t.Fatalf("compartments sharing a unit get different drop-ins: %s %v / %s %v", a.Path, a.Members, b.Path, b.Members)
	}
	if got := a.Values("ReadWritePaths"); !slices.Equal(got, []string{"-/srv/a", "-/srv/b"}) {
		t.Errorf("ReadWritePaths = %v", got)
	}
}

func TestWriteDir(t *testing.T) {
	out := compile(t, loadExample(t, "ic-node"))
	dir := t.TempDir()
	stale := filepath.Join(dir, out.DropIns[0].Path)
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := out.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range out.DropIns {
		if !slices.Contains(want, d.Path) {
			want = append(want, d.Path)
		}
		got, err := os.ReadFile(filepath.Join(dir, d.Path))
		if err != nil || !bytes.Equal(got, []byte(d.Content)) {
			t.Errorf("%s: content differs (%v)", d.Path, err)
		}
		if fi, err := os.Stat(filepath.Join(dir, d.Path)); err == nil && fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", d.Path, fi.Mode().Perm())
		}
	}
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("files %v, want %v (temporary files left behind?)", files, want)
	}
	if err := out.WriteDir("/proc/no/such/dir"); err == nil {
		t.Error("WriteDir into /proc succeeded")
	}
}

// TestConsistency checks, against an independent model of how systemd
// sets up a unit's mount namespace, that no drop-in denies what the
// policy allows each of its unit's members, and that the drop-ins hide
// what they should: the examples, the golden policy and generated ones.
func TestConsistency(t *testing.T) {
	var ps []*policy.Policy
	for _, ex := range examples {
		ps = append(ps, loadExample(t, ex))
	}
	tiny, err := policy.Load("testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	ps = append(ps, tiny)
	for seed := int64(1); seed <= 3; seed++ {
		g, err := gen.Generate(24, 120, seed)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, g)
	}
	for _, p := range ps {
		out, err := Compile(p, nil)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		for i := range out.DropIns {
			checkDropIn(t, p, &out.DropIns[i])
		}
	}
}

// mount modes of the namespace model.
type mode uint8

const (
	modeRO mode = iota + 1
	modeRW
	modeGone
	modeTmpfs
	modeBindRW
	modeBindRO
)

func (m mode) String() string {
	return [...]string{"?", "read-only", "writable", "inaccessible", "tmpfs", "bind rw", "bind ro"}[m]
}

// nsModel is the unit's view of the file system as systemd builds it:
// ProtectSystem=strict makes / read-only; each path setting applies to
// its subtree, more specific paths after less specific ones; an
// inaccessible path masks its whole subtree (systemd drops the entries
// below it); a tmpfs hides what was there, and only bind mounts, whose
// sources are taken from the host, bring paths back beneath it.
type nsModel struct {
	root    mode
	entries map[string]mode
}

func newModel(t *testing.T, d *DropIn) *nsModel {
	m := &nsModel{root: modeRW, entries: make(map[string]mode)}
	set := func(v string, md mode) {
		p := strings.TrimPrefix(v, "-")
		if md == modeTmpfs {
			p, _, _ = strings.Cut(p, ":")
		}
		if p == "" || p[0] != '/' || path.Clean(p) != p {
			t.Errorf("%s: %s: bad path %q", d.Unit, md, v)
		}
		if old, dup := m.entries[p]; dup {
			t.Errorf("%s: %s named twice (%s, %s): systemd keeps only one", d.Unit, p, old, md)
		}
		m.entries[p] = md
	}
	if d.Value("ProtectSystem") == "strict" {
		m.root = modeRO
	}
	for _, h := range []string{"/home", "/root", "/run/user"} {
		switch d.Value("ProtectHome") {
		case "yes":
			set(h, modeGone)
		case "read-only":
			set(h, modeRO)
		}
	}
	if d.Value("PrivateTmp") == "yes" {
		set("/tmp", modeGone)
		set("/var/tmp", modeGone)
	}
	for key, md := range map[string]mode{
		"ReadWritePaths": modeRW, "ReadOnlyPaths": modeRO, "InaccessiblePaths": modeGone,
		"TemporaryFileSystem": modeTmpfs, "BindPaths": modeBindRW, "BindReadOnlyPaths": modeBindRO,
	} {
		for _, v := range d.Values(key) {
			set(v, md)
		}
	}
	return m
}

// state is the access the unit has at p: modeRW, modeRO or modeGone.
func (m *nsModel) state(p string) mode {
	var chain []string
	for q := p; ; q = path.Dir(q) {
		if _, ok := m.entries[q]; ok {
			chain = append(chain, q)
		}
		if q == "/" {
			break
		}
	}
	slices.Reverse(chain)
	cur := m.root
	for _, q := range chain {
		switch m.entries[q] {
		case modeGone:
			return modeGone
		case modeTmpfs:
			cur = modeGone
		case modeBindRW:
			cur = modeRW
		case modeBindRO:
			cur = modeRO
		case modeRW:
			if cur != modeGone {
				cur = modeRW
			}
		case modeRO:
			if cur != modeGone {
				cur = modeRO
			}
		}
	}
	return cur
}

// concrete returns a path the glob matches (wildcards filled in).
func concrete(glob string) string {
	segs := strings.Split(glob, "/")
	for i, s := range segs {
		if s == "**" {
			segs[i] = "probe"
			continue
		}
		s = strings.ReplaceAll(s, "*", "x")
		segs[i] = strings.ReplaceAll(s, "?", "q")
	}
	return strings.Join(segs, "/")
}

func checkDropIn(t *testing.T, p *policy.Policy, d *DropIn) {
	t.Helper()
	m := newModel(t, d)
	where := p.Name + ": " + d.Unit + " (" + d.Compartment + ")"
	if d.Value("ProtectSystem") != "strict" {
		t.Errorf("%s: ProtectSystem=%q", where, d.Value("ProtectSystem"))
	}
	self := p.Compartment(d.Compartment)
	if self.User != "" && d.Value("User") != self.User {
		t.Errorf("%s: User=%q, want %q", where, d.Value("User"), self.User)
	}
	caps := strings.Fields(strings.Join(d.Values("CapabilityBoundingSet"), " "))
	families := strings.Fields(strings.Join(d.Values("RestrictAddressFamilies"), " "))
	filter := strings.Fields(strings.Join(d.Values("SystemCallFilter"), " "))
	var wantCaps []string
	inet, netCaps, mapExec := false, false, false
	for _, name := range d.Members {
		c := p.Compartment(name)
		for _, cp := range c.Capabilities {
			wantCaps = append(wantCaps, string(cp))
			if cp == "CAP_NET_ADMIN" || cp == "CAP_NET_RAW" {
				netCaps = true
			}
		}
		if len(c.Syscalls) == 0 && len(filter) > 0 {
			t.Errorf("%s: %s is unrestricted but SystemCallFilter=%v", where, name, filter)
		}
		for _, s := range c.Syscalls {
			if !slices.Contains(filter, s) {
				t.Errorf("%s: %s may use %s, SystemCallFilter=%v", where, name, s, filter)
			}
		}
		if v, ok := c.Limits[policy.LimitNoFile]; ok {
			if got, err := strconv.ParseUint(d.Value("LimitNOFILE"), 10, 64); err != nil || got < v {
				t.Errorf("%s: %s may open %d files, LimitNOFILE=%q", where, name, v, d.Value("LimitNOFILE"))
			}
		}
		for _, exe := range c.Executables {
			if s := m.state(exe); s == modeGone {
				t.Errorf("%s: executable %s of %s is inaccessible", where, exe, name)
			}
		}
		for _, obj := range p.GrantedObjects(name) {
			vs, _ := p.Granted(name, obj)
			if r := p.Resource(obj); r != nil {
				checkResource(t, where, m, d, name, r, vs)
			}
			if ch := p.Channel(obj); ch != nil {
				switch ch.Protocol {
				case policy.ProtoTCP, policy.ProtoUDP:
					inet = true
					if !slices.Contains(families, "AF_INET") || d.Value("PrivateNetwork") != "no" {
						t.Errorf("%s: %s uses %s channel %s, RestrictAddressFamilies=%v PrivateNetwork=%s", where, name, ch.Protocol, ch.Name, families, d.Value("PrivateNetwork"))
					}
					if vs.Has(policy.VerbBind) {
						for _, pr := range ch.Ports {
							if !slices.Contains(d.Values("SocketBindAllow"), ch.Protocol.String()+":"+pr.String()) {
								t.Errorf("%s: %s serves %s port %s, SocketBindAllow=%v", where, name, ch.Protocol, pr, d.Values("SocketBindAllow"))
							}
						}
					}
				case policy.ProtoVsock:
					if !slices.Contains(families, "AF_VSOCK") {
						t.Errorf("%s: %s uses vsock channel %s, RestrictAddressFamilies=%v", where, name, ch.Name, families)
					}
				case policy.ProtoUnix:
					if ch.Path == "" {
						break
					}
					if !slices.Contains(families, "AF_UNIX") {
						t.Errorf("%s: %s uses unix channel %s, RestrictAddressFamilies=%v", where, name, ch.Name, families)
					}
					dir := path.Dir(ch.Path)
					if vs.Has(policy.VerbBind) && m.state(dir) != modeRW {
						t.Errorf("%s: %s binds %s, but %s is %s", where, name, ch.Path, dir, m.state(dir))
					}
					if m.state(dir) == modeGone {
						t.Errorf("%s: %s uses %s, but %s is inaccessible", where, name, ch.Path, dir)
					}
				}
			}
			if obj == name && vs.Has(policy.VerbMapExec) {
				mapExec = true
			}
			if r := p.Resource(obj); r != nil && vs.Has(policy.VerbMapExec) {
				mapExec = true
			}
		}
	}
	slices.Sort(wantCaps)
	wantCaps = slices.Compact(wantCaps)
	slices.Sort(caps)
	if !slices.Equal(caps, wantCaps) {
		t.Errorf("%s: CapabilityBoundingSet=%v, want exactly %v", where, caps, wantCaps)
	}
	if want := map[bool]string{true: "no", false: "yes"}[mapExec]; d.Value("MemoryDenyWriteExecute") != want {
		t.Errorf("%s: MemoryDenyWriteExecute=%s, want %s (map-exec granted: %v)", where, d.Value("MemoryDenyWriteExecute"), want, mapExec)
	}
	if !inet && !netCaps {
		if d.Value("PrivateNetwork") != "yes" || d.Value("IPAddressDeny") != "any" {
			t.Errorf("%s: no TCP/UDP channel but PrivateNetwork=%s IPAddressDeny=%v", where, d.Value("PrivateNetwork"), d.Values("IPAddressDeny"))
		}
		for _, f := range families {
			if f != "none" && f != "AF_UNIX" && f != "AF_VSOCK" {
				t.Errorf("%s: no TCP/UDP channel but RestrictAddressFamilies=%v", where, families)
			}
		}
	}

	// Around every path the drop-in names, the paths a member may use stay
	// usable: a setting must not reach beyond what its resource governs.
	for q := range m.entries {
		for _, probe := range []string{q, q + "/rampart-probe", q + "/rampart-probe.key"} {
			r := p.ResourceAt(probe)
			if r == nil || r.Kind == policy.KindCharDevice || r.Kind == policy.KindBlockDevice {
				continue
			}
			for _, name := range d.Members {
				if vs, _ := p.Granted(name, r.Name); vs != 0 {
					checkProbe(t, where, m, name, r, vs, probe)
				}
			}
		}
	}

	// Secrets no member may touch are inaccessible.
	for _, r := range p.Resources {
		if !r.HasLabel(policy.LabelSecret) || r.Kind == policy.KindCharDevice || r.Kind == policy.KindBlockDevice {
			continue
		}
		granted := false
		for _, name := range d.Members {
			if vs, _ := p.Granted(name, r.Name); vs != 0 {
				granted = true
			}
		}
		if granted {
			continue
		}
		for _, g := range r.Paths {
			// Only a literal path or a "dir/**" tree can be hidden exactly;
			// other globs are hidden through their directory when nothing
			// else needs it (TestWidenedGlobs).
			if rest := strings.TrimSuffix(g, "/**"); strings.ContainsAny(rest, "*?") {
				continue
			}
			if probe := concrete(g); p.ResourceAt(probe) == r && m.state(probe) != modeGone {
				t.Errorf("%s: secret %s (%s) not granted to %v, but %s is %s", where, r.Name, g, d.Members, probe, m.state(probe))
			}
		}
	}
}

func checkResource(t *testing.T, where string, m *nsModel, d *DropIn, member string, r *policy.Resource, vs policy.VerbSet) {
	t.Helper()
	switch r.Kind {
	case policy.KindCharDevice, policy.KindBlockDevice:
		if d.Value("PrivateDevices") != "no" {
			t.Errorf("%s: %s may use device %s, PrivateDevices=%s", where, member, r.Name, d.Value("PrivateDevices"))
		}
		need := ""
		if vs.Has(policy.VerbRead) {
			need += "r"
		}
		if vs.Has(policy.VerbWrite) || vs.Has(policy.VerbAppend) {
			need += "w"
		}
		for _, g := range r.Paths {
			ok := false
			for _, v := range d.Values("DeviceAllow") {
				spec, modes, _ := strings.Cut(v, " ")
				class := map[policy.Kind]string{policy.KindCharDevice: "char-*", policy.KindBlockDevice: "block-*"}[r.Kind]
				if (spec == g || spec == class) && strings.Trim(need, modes) == "" {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: %s may %v %s, DeviceAllow=%v", where, member, vs, g, d.Values("DeviceAllow"))
			}
		}
		return
	case policy.KindFile, policy.KindDirectory, policy.KindSocket:
	default:
		return
	}
	for _, g := range r.Paths {
		checkProbe(t, where, m, member, r, vs, concrete(g))
	}
}

// checkProbe checks the unit's access at probe, a path governed by r, on
// which member holds vs.
func checkProbe(t *testing.T, where string, m *nsModel, member string, r *policy.Resource, vs policy.VerbSet, probe string) {
	t.Helper()
	write := vs.Has(policy.VerbWrite) || vs.Has(policy.VerbAppend) || vs.Has(policy.VerbCreate) || vs.Has(policy.VerbDelete) || vs.Has(policy.VerbSetattr)
	if m.state(probe) == modeGone {
		t.Errorf("%s: %s may %v %s, but %s is inaccessible", where, member, vs, r.Name, probe)
		return
	}
	if write && m.state(probe) != modeRW {
		t.Errorf("%s: %s may %v %s, but %s is %s", where, member, vs, r.Name, probe, m.state(probe))
	}
	if r.Kind != policy.KindDirectory && (vs.Has(policy.VerbCreate) || vs.Has(policy.VerbDelete)) && m.state(path.Dir(probe)) != modeRW {
		t.Errorf("%s: %s may create or delete %s, but %s is %s", where, member, probe, path.Dir(probe), m.state(path.Dir(probe)))
	}
}

// TestExplicitMapping pins the brief's three consistency rules on the
// examples with explicit lookups, next to the model-based test.
func TestExplicitMapping(t *testing.T) {
	for _, ex := range examples {
		p := loadExample(t, ex)
		out := compile(t, p)
		for _, d := range out.DropIns {
			if len(d.Members) != 1 {
				continue
			}
			c := p.Compartment(d.Compartment)
			// A compartment allowed to write a /** tree gets the tree in
			// ReadWritePaths= (or bound back writable under a tmpfs).
			for _, obj := range p.GrantedObjects(c.Name) {
				vs, _ := p.Granted(c.Name, obj)
				r := p.Resource(obj)
				if r == nil || r.Kind != policy.KindDirectory || !vs.Has(policy.VerbWrite) {
					continue
				}
				for _, g := range r.Paths {
					dir := strings.TrimSuffix(g, "/**")
					if !slices.Contains(d.Values("ReadWritePaths"), "-"+dir) && !slices.Contains(d.Values("BindPaths"), "-"+dir) {
						t.Errorf("%s: %s writes %s, ReadWritePaths=%v", ex, c.Name, g, d.Values("ReadWritePaths"))
					}
				}
			}
			// A secret resource it is not granted is in InaccessiblePaths=
			// (without "-": fail closed) or under a TemporaryFileSystem=.
			for _, r := range p.Resources {
				if vs, _ := p.Granted(c.Name, r.Name); vs != 0 || !r.HasLabel(policy.LabelSecret) {
					continue
				}
				for _, g := range r.Paths {
					dir := strings.TrimSuffix(g, "/**")
					hidden := slices.Contains(d.Values("InaccessiblePaths"), dir)
					for _, tmp := range d.Values("TemporaryFileSystem") {
						tp, _, _ := strings.Cut(tmp, ":")
						hidden = hidden || strings.HasPrefix(dir, tp+"/")
					}
					if !hidden {
						t.Errorf("%s: %s may not touch secret %s, InaccessiblePaths=%v", ex, c.Name, g, d.Values("InaccessiblePaths"))
					}
				}
			}
			// No network channel: PrivateNetwork=yes and no socket family
			// beyond AF_UNIX.
			network := false
			for _, ch := range p.Channels {
				if ch.Protocol == policy.ProtoTCP || ch.Protocol == policy.ProtoUDP {
					if vs, _ := p.Granted(c.Name, ch.Name); vs != 0 {
						network = true
					}
				}
			}
			if !network && !slices.Contains(c.Capabilities, "CAP_NET_ADMIN") {
				fams := strings.Fields(d.Value("RestrictAddressFamilies"))
				for _, f := range fams {
					if f != "none" && f != "AF_UNIX" && f != "AF_VSOCK" {
						t.Errorf("%s: %s has no network channel: RestrictAddressFamilies=%v", ex, c.Name, fams)
					}
				}
				if d.Value("PrivateNetwork") != "yes" {
					t.Errorf("%s: %s has no network channel: PrivateNetwork=%s", ex, c.Name, d.Value("PrivateNetwork"))
				}
			}
		}
	}
}

// TestWidenedGlobs covers globs that are not directory prefixes: a
// secret glob inside a writable tree cannot be hidden without hiding its
// neighbours, a read-only glob inside it cannot be carved out, and both
// are reported rather than denying the neighbours' grants.
func TestWidenedGlobs(t *testing.T) {
	p, err := policy.Parse("w.hcl", []byte(`
compartment "app" {
  tier = "untrusted"
  user = "app"
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["data"]
  }
  allow {
    verbs = ["read"]
    on    = ["conf"]
  }
}
resource "data" {
  kind  = "directory"
  paths = ["/srv/app/**"]
}
resource "keys" {
  kind   = "file"
  paths  = ["/srv/app/keys/*.key"]
  labels = ["secret"]
}
resource "conf" {
  kind  = "file"
  paths = ["/srv/app/etc/*.conf"]
}
resource "vault" {
  kind   = "file"
  paths  = ["/srv/vault/*.key"]
  labels = ["secret"]
}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Compile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &out.DropIns[0]
	checkDropIn(t, p, d)
	m := newModel(t, d)
	if s := m.state("/srv/app/keys/notes.txt"); s != modeRW {
		t.Errorf("/srv/app/keys/notes.txt (data) is %s, want writable", s)
	}
	if s := m.state("/srv/vault/a.key"); s != modeGone {
		t.Errorf("/srv/vault/a.key (secret, no neighbours granted) is %s, want inaccessible", s)
	}
	var msgs []string
	for _, w := range out.Warnings {
		msgs = append(msgs, w.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"w.hcl:20:13: app: /srv/app/keys/*.key (keys) is not hidden: its directory /srv/app/keys also holds files of /srv/app",
		"w.hcl:25:12: app: /srv/app/etc/*.conf (conf) lies in writable /srv/app",
		"w.hcl:29:13: app: InaccessiblePaths= takes paths, not globs: /srv/vault/*.key (vault) is hidden through /srv/vault",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
}
