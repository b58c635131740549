// Package systemd compiles a Rampart policy into systemd hardening: one
// drop-in per compartment for the service unit that runs it
// (<unit>.d/50-rampart.conf), with User=, ProtectSystem=strict, path
// rules derived from resources, address families and IP filters from
// channels, capability and system call filters, resource limits and the
// sandboxing defaults of the compartment's tier.
//
// The drop-ins never deny what the policy allows: a setting that would
// (PrivateDevices= for a compartment that opens a disk, MemoryDenyWrite-
// Execute= for one that maps code executable, PrivateNetwork= for one
// with a TCP channel, …) is relaxed, and what systemd cannot express
// exactly (globs, per-instance isolation, socket permissions) is
// approximated on the permissive side and reported as a Warning.
// docs/policy.md, section "systemd backend", has the full mapping.
package systemd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rampart-sec/rampart/policy"
)

// DefaultDropInName is the file name of every drop-in unless
// Options.DropInName says otherwise.
const DefaultDropInName = "50-rampart.conf"

// Options tunes Compile. The zero value (or nil) is valid.
type Options struct {
	// DropInName is the drop-in's file name inside <unit>.d/; empty means
	// DefaultDropInName. It must end in ".conf" and contain no "/".
	DropInName string
	// SourceRoot, when set, makes the policy file names quoted in the
	// drop-ins' comments ("# from examples/ic-node/compartments.hcl:37")
	// relative to this directory, so that output does not depend on the
	// directory the policy was loaded from. Files outside it keep their
	// names.
	SourceRoot string
}

// Output is the result of Compile.
type Output struct {
	// DropIns has one entry per compartment, in policy order. Compartments
	// that share a unit share its drop-in: same Path and Content.
	DropIns []DropIn
	// Warnings lists what systemd cannot express exactly, in the order
	// found. Each names the compartment and the policy position concerned.
	Warnings []Warning
}

// DropIn is the hardening drop-in of one compartment's unit.
type DropIn struct {
	// Compartment is the compartment's name.
	Compartment string
	// Unit is the service unit that runs the compartment: its unit
	// attribute, or "rampart-<compartment>.service" when it has none.
	Unit string
	// Path is the drop-in's path relative to a unit directory such as
	// /etc/systemd/system: "<Unit>.d/50-rampart.conf".
	Path string
	// Members are the compartments whose processes run in Unit, in policy
	// order: the compartments naming Unit, and the compartments they spawn
	// that have no unit of their own (children inherit the unit's
	// sandbox, so the drop-in admits what each member needs).
	Members []string
	// Directives are the drop-in's settings in file order, all in the
	// [Service] section. A directive with an empty Value resets a list
	// setting, so that the vendor unit cannot widen it.
	Directives []Directive
	// Content is the drop-in file: a header, then [Service] and the
	// directives, each preceded by comments saying why.
	Content string
}

// Directive is one "Key=Value" line of a drop-in.
type Directive struct {
	Key, Value string
	// Why are the comment lines written above the directive (without
	// "# "): the policy elements it comes from, with their positions.
	Why []string
}

// Values returns the values the drop-in assigns to key, in order, after
// the last reset (an empty assignment) of key.
func (d *DropIn) Values(key string) []string {
	var vs []string
	for _, x := range d.Directives {
		if x.Key != key {
			continue
		}
		if x.Value == "" {
			vs = vs[:0]
			continue
		}
		vs = append(vs, x.Value)
	}
	return vs
}

// Value returns the last value the drop-in assigns to key, or "".
func (d *DropIn) Value(key string) string {
	vs := d.Values(key)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// Warning is something the drop-ins express only approximately, or a
// policy construct systemd cannot enforce.
type Warning struct {
	// Compartment is the compartment concerned.
	Compartment string
	// Range is the policy position concerned (a compartment, resource,
	// channel or spawn block).
	Range hcl.Range
	// Message says what is approximated and how.
	Message string
}

// String formats w as "file:line:col: compartment: message".
func (w Warning) String() string {
	var b strings.Builder
	if w.Range.Filename != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", w.Range.Filename, w.Range.Start.Line, w.Range.Start.Column)
	}
	fmt.Fprintf(&b, "%s: %s", w.Compartment, w.Message)
	return b.String()
}

// UnitName returns the unit the systemd backend hardens for c: c.Unit,
// or "rampart-<name>.service" when c names none.
func UnitName(c *policy.Compartment) string {
	if c.Unit != "" {
		return c.Unit
	}
	return "rampart-" + c.Name + ".service"
}

// Compile derives one hardening drop-in per compartment of p. It fails,
// with a *policy.Error whose diagnostics name file:line:col, when a
// compartment names a unit that cannot carry service hardening (a .socket
// or .scope unit), or when compartments sharing a unit disagree on the
// identity it runs with.
func Compile(p *policy.Policy, opts *Options) (*Output, error) {
	if p == nil {
		return nil, errors.New("systemd: nil policy")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DropInName == "" {
		o.DropInName = DefaultDropInName
	}
	if strings.Contains(o.DropInName, "/") || !strings.HasSuffix(o.DropInName, ".conf") || o.DropInName == ".conf" {
		return nil, fmt.Errorf("systemd: drop-in name %q: want a file name ending in .conf", o.DropInName)
	}
	c := &compiler{p: p, opts: o}
	if o.SourceRoot != "" {
		root, err := filepath.Abs(o.SourceRoot)
		if err != nil {
			return nil, fmt.Errorf("systemd: source root: %w", err)
		}
		c.root = root
	}
	return c.compile()
}

// WriteDir writes every drop-in under dir (for instance
// /etc/systemd/system), creating the <unit>.d directories. Each file is
// written to a temporary file in its directory, synced and renamed into
// place, so a reader sees the old or the new drop-in, never a mix. Run
// "systemctl daemon-reload" afterwards.
func (o *Output) WriteDir(dir string) error {
	done := make(map[string]bool)
	for _, d := range o.DropIns {
		if done[d.Path] {
			continue
		}
		done[d.Path] = true
		if err := writeAtomic(filepath.Join(dir, filepath.FromSlash(d.Path)), []byte(d.Content)); err != nil {
			return err
		}
	}
	return nil
}

// Units returns the distinct units in policy order.
func (o *Output) Units() []string {
	var us []string
	for _, d := range o.DropIns {
		if !slices.Contains(us, d.Unit) {
			us = append(us, d.Unit)
		}
	}
	return us
}

func writeAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
