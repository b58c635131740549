package boot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultModules returns the kernel modules a verified root on virtio needs:
// the virtio block driver, device-mapper, dm-verity (with dm-bufio and
// reed_solomon for FEC, pulled in by modules.dep) and the root
// filesystems. Built-in ones are skipped.
func DefaultModules() []string {
	return []string{"virtio_pci", "virtio_blk", "dm_mod", "dm_verity", "erofs", "squashfs"}
}

// InitramfsSpec says what goes into an initramfs.
type InitramfsSpec struct {
	// Init is the rampart-init binary (a static executable), installed
	// as /init.
	Init string
	// Config is the boot configuration.
	Config *Config
	// Trust is the trust anchor: a PEM file of Ed25519 keys or signed
	// root metadata.
	Trust string
	// Policy, if set, is a compiled binary SELinux policy to load.
	Policy string
	// ModulesDir is /lib/modules/VERSION of the kernel; empty for none.
	ModulesDir string
	// Modules are the module names wanted (dependencies are added).
	Modules []string
	// Gzip compresses the archive.
	Gzip bool
}

// InitramfsReport lists what was written.
type InitramfsReport struct {
	Files []string `json:"files"`
	// Modules are the module files in load order; Builtin the wanted
	// modules the kernel has built in.
	Modules []string `json:"modules"`
	Builtin []string `json:"builtin,omitempty"`
	Size    int64    `json:"size"`
}

func modName(p string) string {
	b := filepath.Base(p)
	for _, ext := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
		if s, ok := strings.CutSuffix(b, ext); ok {
			b = s
			break
		}
	}
	return strings.ReplaceAll(b, "-", "_")
}

// ResolveModules reads modules.dep and modules.builtin of dir and returns
// the module files (relative to dir) to load for names, dependencies
// first, and the names that are built in.
func ResolveModules(dir string, names []string) (files, builtin []string, err error) {
	deps := map[string][]string{}
	path := map[string]string{}
	b, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, nil, fmt.Errorf("modules of %s: %w", dir, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n := modName(mod)
		path[n] = mod
		deps[n] = strings.Fields(rest)
	}
	built := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			built[modName(l)] = true
		}
	}
	seen := map[string]bool{}
	var visit func(n string, depth int) error
	visit = func(n string, depth int) error {
		if seen[n] {
			return nil
		}
		if depth > 64 {
			return fmt.Errorf("module dependencies of %s loop", n)
		}
		p, ok := path[n]
		if !ok {
			return fmt.Errorf("module %s is neither in %s/modules.dep nor built in", n, dir)
		}
		seen[n] = true
		for _, d := range deps[n] {
			if err := visit(modName(d), depth+1); err != nil {
				return err
			}
		}
		files = append(files, p)
		return nil
	}
	for _, n := range names {
		n = strings.ReplaceAll(n, "-", "_")
		if _, ok := path[n]; !ok && built[n] {
			builtin = append(builtin, n)
			continue
		}
		if err := visit(n, 0); err != nil {
			return nil, nil, err
		}
	}
	return files, builtin, nil
}

// BuildInitramfs writes the initramfs of spec to w: /init, the boot
// configuration, trust anchor, optional policy, the modules with the
// list of them in load order, and the directories and /dev/console the
// init needs before it mounts devtmpfs. Entries are sorted and carry no
// times, so the output is reproducible.
func BuildInitramfs(w io.Writer, spec *InitramfsSpec) (*InitramfsReport, error) {
	if spec.Config == nil {
		return nil, fmt.Errorf("initramfs: no boot configuration")
	}
	if err := spec.Config.Check(); err != nil {
		return nil, err
	}
	rep := &InitramfsReport{}
	initBin, err := os.ReadFile(spec.Init)
	if err != nil {
		return nil, fmt.Errorf("initramfs: init: %w", err)
	}
	if !isELF(initBin) {
		return nil, fmt.Errorf("initramfs: init %s is not an ELF executable", spec.Init)
	}
	trustB, err := os.ReadFile(spec.Trust)
	if err != nil {
		return nil, fmt.Errorf("initramfs: trust: %w", err)
	}
	cfgB, err := jsonIndent(spec.Config)
	if err != nil {
		return nil, err
	}
	files := map[string]CPIOEntry{
		"init":         {Mode: ModeRegular | 0o755, Data: initBin},
		ConfigPath[1:]: {Mode: ModeRegular | 0o644, Data: cfgB},
		TrustPath[1:]:  {Mode: ModeRegular | 0o644, Data: trustB},
		"dev/console":  {Mode: ModeCharDev | 0o600, RdevMajor: 5, RdevMinor: 1},
	}
	dirs := map[string]bool{"dev": true, "proc": true, "sys": true, "run": true, "tmp": true, StateMount[1:]: true, RootMount[1:]: true, "etc/rampart": true}
	if spec.Policy != "" {
		p, err := os.ReadFile(spec.Policy)
		if err != nil {
			return nil, fmt.Errorf("initramfs: policy: %w", err)
		}
		files[PolicyPath[1:]] = CPIOEntry{Mode: ModeRegular | 0o644, Data: p}
	}
	var list []string
	if spec.ModulesDir != "" {
		mods, builtin, err := ResolveModules(spec.ModulesDir, spec.Modules)
		if err != nil {
			return nil, fmt.Errorf("initramfs: %w", err)
		}
		rep.Builtin = builtin
		for _, m := range mods {
			data, err := os.ReadFile(filepath.Join(spec.ModulesDir, m))
			if err != nil {
				return nil, fmt.Errorf("initramfs: module: %w", err)
			}
			dst := "lib/modules/" + m
			if s, ok := strings.CutSuffix(m, ".gz"); ok {
				zr, err := gzip.NewReader(bytes.NewReader(data))
				if err != nil {
					return nil, fmt.Errorf("initramfs: module %s: %w", m, err)
				}
				if data, err = io.ReadAll(zr); err != nil {
					return nil, fmt.Errorf("initramfs: module %s: %w", m, err)
				}
				dst = "lib/modules/" + s
			}
			files[dst] = CPIOEntry{Mode: ModeRegular | 0o644, Data: data}
			list = append(list, "/"+dst)
		}
		rep.Modules = list
	}
	files[ModulesPath[1:]] = CPIOEntry{Mode: ModeRegular | 0o644, Data: []byte(strings.Join(list, "\n") + "\n")}
	for name := range files {
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		for p := filepath.Dir(d); p != "."; p = filepath.Dir(p) {
			dirs[p] = true
		}
	}
	var names []string
	for d := range dirs {
		files[d] = CPIOEntry{Mode: ModeDir | 0o755}
	}
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	cw := &countWriter{w: w}
	var out io.Writer = cw
	var zw *gzip.Writer
	if spec.Gzip {
		zw = gzip.NewWriter(cw)
		out = zw
	}
	c := NewCPIOWriter(out)
	for _, n := range names {
		e := files[n]
		e.Name = n
		if err := c.Write(&e); err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, n)
	}
	if err := c.Close(); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	rep.Size = cw.n
	return rep, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
