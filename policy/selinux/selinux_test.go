package selinux_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/internal/brokenpolicy"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/gen"
	"github.com/rampart-sec/rampart/policy/selinux"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// examples are the policies the tests compile: the two IC examples and
// the tiny golden policy.
var examples = []string{"../../examples/ic-node", "../../examples/ic-host", "testdata/tiny"}

func load(t *testing.T, paths ...string) *policy.Policy {
	t.Helper()
	p, err := policy.Load(paths...)
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return p
}

func compile(t *testing.T, p *policy.Policy) *selinux.Output {
	t.Helper()
	out, err := selinux.Compile(p, nil)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return out
}

func build(t *testing.T, out *selinux.Output) (pol, fc string) {
	t.Helper()
	pol, fc, err := selinux.Build(context.Background(), out.CIL, t.TempDir())
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return pol, fc
}

// TestGolden compares the CIL and file contexts of the tiny policy with
// the golden files (go test -run TestGolden -update rewrites them) and
// checks that compiling is deterministic.
func TestGolden(t *testing.T) {
	p := load(t, "testdata/tiny")
	out := compile(t, p)
	again := compile(t, load(t, "testdata/tiny"))
	if !bytes.Equal(out.CIL, again.CIL) || !bytes.Equal(out.FileContexts, again.FileContexts) {
		t.Fatal("two compilations of the same policy differ")
	}
	if want := "__default__:system_u:s0\nops:operator_u:s0\n"; string(out.Seusers) != want {
		t.Errorf("seusers %q, want %q", out.Seusers, want)
	}
	for _, g := range []struct {
		file string
		got  []byte
	}{{"testdata/tiny.cil", out.CIL}, {"testdata/tiny.file_contexts", out.FileContexts}} {
		if *update {
			if err := os.WriteFile(g.file, g.got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(g.file)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if !bytes.Equal(g.got, want) {
			t.Errorf("%s differs from the compiler's output (run with -update if the change is intended):\n%s", g.file, firstDiff(want, g.got))
		}
	}
}

func firstDiff(want, got []byte) string {
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, w, g)
		}
	}
	return ""
}

// TestExamples compiles the examples, builds them with secilc, checks
// the binary's statistics with seinfo and the file contexts against the
// compiler's own rendering, then runs the exactness check: it asks SETools
// about every (subject, object, verb) and compares the compiled policy's
// answer with the policy's own decision. A verb is granted in the binary
// when every class and permission of its mapping (Verb.SELinuxPerms) is
// allowed on the types its targets resolve to. Where SELinux cannot tell
// objects apart (a verb whose mapping targets only the subject's own
// socket, anonymous socket pairs of one server), the expected answer is
// the documented coarser one, and the failure message says so.
func TestExamples(t *testing.T) {
	needTools(t, "secilc", "sesearch", "seinfo")
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			p := load(t, ex)
			e := newExact(t, p)
			out, b := e.out, e.b
			for _, w := range out.Warnings {
				t.Errorf("warning: %s", w)
			}
			got, err := os.ReadFile(e.fc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, out.FileContexts) {
				t.Errorf("secilc's file_contexts differs from Output.FileContexts:\n%s", firstDiff(got, out.FileContexts))
			}
			types := 0
			for _, info := range out.Types {
				if !info.Attribute {
					types++
				}
			}
			cil := string(out.CIL)
			want := map[string]string{
				"Policy Version":         "33 (MLS enabled)",
				"Handle unknown classes": "deny",
				"Types":                  fmt.Sprint(types),
				"Users":                  fmt.Sprint(1 + len(p.Roles)),
				"Roles":                  fmt.Sprint(2 + len(p.Roles)),
				"Sensitivities":          "1",
				"Categories":             "1",
				"Initial SIDs":           "10", // those with a context
				"Polcap":                 "7",
				"Permissives":            "0",
				"Neverallow":             "0", // checked by secilc, not kept
				"Role allow":             fmt.Sprint(len(p.Roles)),
				"Classes":                fmt.Sprint(strings.Count(cil, "\n(class ")),
				"Fs_use":                 "20",
				"Genfscon":               "20",
				"Portcon":                fmt.Sprint(strings.Count(cil, "\n(portcon ")),
				"Type_trans":             fmt.Sprint(strings.Count(cil, "\n(typetransition ")),
			}
			for k, v := range want {
				if b.stats[k] != v {
					t.Errorf("seinfo %s: %q, want %q", k, b.stats[k], v)
				}
			}
			// Every type in Output.Types is in the binary (secilc drops
			// attributes no rule uses, so those are not checked).
			all := b.members["all_types"]
			for name, info := range out.Types {
				if !info.Attribute && !slices.Contains(all, name) {
					t.Errorf("type %s missing from the binary", name)
				}
			}
			// Each neverallow is where Output says.
			lines := strings.Split(cil, "\n")
			for _, n := range out.Neverallows {
				if n.Line < 1 || n.Line > len(lines) || !strings.HasPrefix(lines[n.Line-1], n.Statement+" ; invariant "+n.Invariant+":") {
					t.Errorf("neverallow of %s is not at line %d", n.Invariant, n.Line)
				}
			}
			e.resources()
			e.processes()
			e.channels()
			if e.checked < 100 {
				t.Fatalf("only %d checks", e.checked)
			}
			t.Logf("%d (subject, object, verb) checks", e.checked)
		})
	}
}

// TestExactnessGenerated runs the exactness check on a generated policy,
// whose invariants must also hold in the compiled policy (no neverallow
// fires on a policy that satisfies them).
func TestExactnessGenerated(t *testing.T) {
	needTools(t, "secilc", "sesearch", "seinfo")
	p, err := gen.Generate(12, 60, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := newExact(t, p)
	if len(e.out.Neverallows) == 0 {
		t.Error("the generated policy has no neverallow")
	}
	e.resources()
	e.processes()
	e.channels()
	t.Logf("%d checks, %d neverallows", e.checked, len(e.out.Neverallows))
}

type exact struct {
	t       *testing.T
	p       *policy.Policy
	out     *selinux.Output
	b       *binPolicy
	pol, fc string
	checked int
}

func newExact(t *testing.T, p *policy.Policy) *exact {
	out := compile(t, p)
	pol, fc := build(t, out)
	sources := map[string]bool{}
	for _, d := range out.Domains {
		sources[d] = true
	}
	return &exact{t: t, p: p, out: out, b: readBinary(t, pol, sources), pol: pol, fc: fc}
}

func (e *exact) subjects() []string {
	var out []string
	for _, c := range e.p.Compartments {
		out = append(out, c.Name)
	}
	for _, r := range e.p.Roles {
		out = append(out, r.Name)
	}
	return out
}

type tup struct{ target, class, perm string }

func tuples(target string, cp policy.ClassPerms) []tup {
	var out []tup
	for _, p := range cp.Perms {
		out = append(out, tup{target, cp.Class, p})
	}
	return out
}

// granted reports whether every tuple is allowed for domain d, and
// lists the missing ones.
func (e *exact) granted(d string, ts []tup) (bool, []tup) {
	var missing []tup
	for _, x := range ts {
		tg := x.target
		if tg == "self" {
			tg = d
		}
		if !e.b.allow[rule{d, tg, x.class, x.perm}] {
			missing = append(missing, x)
		}
	}
	return len(ts) > 0 && len(missing) == 0, missing
}

func (e *exact) compare(subject string, v policy.Verb, object string, want bool, ts []tup, why string) {
	e.t.Helper()
	e.checked++
	got, missing := e.granted(e.out.Domains[subject], ts)
	if got != want {
		detail := ""
		if !got {
			detail = fmt.Sprintf(" (missing %v)", missing)
		}
		if why != "" {
			detail += "; expected by " + why
		}
		e.t.Errorf("%s %s %s: policy says %v, compiled policy says %v%s", subject, v, object, want, got, detail)
	}
}

func instantiate(glob string) string {
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(glob, "/"), "/") {
		if s != "**" {
			segs = append(segs, strings.NewReplacer("*", "w", "?", "q").Replace(s))
		}
	}
	return "/" + strings.Join(segs, "/")
}

// typeOfDir is the type the policy gives a directory path.
func (e *exact) typeOfDir(dir string) string {
	if r := e.p.ResourceAt(dir); r != nil {
		return e.out.ResourceTypes[r.Name]
	}
	return "default_t"
}

// resourceTuples resolves v's mapping on resource r, as docs/policy.md
// describes the targets.
func (e *exact) resourceTuples(subject string, v policy.Verb, r *policy.Resource) []tup {
	var out []tup
	for _, cp := range v.SELinuxPerms(r.Kind) {
		switch cp.Target {
		case policy.TargetObject:
			out = append(out, tuples(e.out.ResourceTypes[r.Name], cp)...)
		case policy.TargetSelf:
			out = append(out, tuples("self", cp)...)
		case policy.TargetParent:
			for _, g := range r.Paths {
				out = append(out, tuples(e.typeOfDir(path.Dir(instantiate(g))), cp)...)
			}
		default:
			e.t.Fatalf("unexpected target %s for %s on %s", cp.Target, v, r.Kind)
		}
	}
	return out
}

// structural lists the permissions a domain may hold on a resource type
// besides those of its verbs: path traversal, adding and removing names
// in a directory holding objects it creates or deletes (or its socket),
// and, for roles, entering through a program.
var structural = map[string][]string{
	"dir":      {"getattr", "search", "add_name", "remove_name", "write"},
	"lnk_file": {"getattr", "read"},
	"file":     {"entrypoint"},
}

func (e *exact) resources() {
	for _, s := range e.subjects() {
		d := e.out.Domains[s]
		for _, r := range e.p.Resources {
			vs, _ := e.p.Granted(s, r.Name)
			witness := ""
			for _, g := range r.Paths {
				if w := instantiate(g); e.p.ResourceAt(w) == r {
					witness = w
					break
				}
			}
			allowed := map[[2]string]bool{}
			for _, v := range policy.Verbs() {
				if v == policy.VerbSpawn || !v.ValidFor(r.Kind) {
					continue
				}
				want := vs.Has(v)
				if witness != "" {
					if dec := e.p.Allows(s, v, witness); dec.Allowed != want {
						e.t.Fatalf("Granted and Allows disagree on %s %s %s", s, v, witness)
					}
				}
				ts := e.resourceTuples(s, v, r)
				e.compare(s, v, r.Name, want, ts, "")
				if want {
					for _, x := range ts {
						if x.target == e.out.ResourceTypes[r.Name] {
							allowed[[2]string{x.class, x.perm}] = true
						}
					}
					// A resource's grants reach the executables and
					// sockets at its paths.
					if set, ok := e.out.ResourceSets[r.Name]; ok {
						for _, m := range e.b.members[set] {
							for _, x := range ts {
								if x.target == e.out.ResourceTypes[r.Name] && !e.b.allow[rule{d, m, x.class, x.perm}] {
									e.t.Errorf("%s %s %s: %s does not reach %s (%s %s)", s, v, r.Name, x.class, m, x.class, x.perm)
								}
							}
						}
					}
				}
			}
			// No permission on the resource's type beyond its verbs and
			// the structural ones.
			rt := e.out.ResourceTypes[r.Name]
			for k := range e.b.allow {
				if k.src != d || k.tgt != rt || allowed[[2]string{k.class, k.perm}] || slices.Contains(structural[k.class], k.perm) {
					continue
				}
				e.t.Errorf("%s holds %s %s on %s (resource %s), which none of its verbs %s needs", s, k.class, k.perm, rt, r.Name, vs)
			}
		}
	}
}

func (e *exact) processes() {
	for _, s := range e.subjects() {
		d := e.out.Domains[s]
		for _, c := range e.p.Compartments {
			ct := e.out.Domains[c.Name]
			processPerms := map[string]bool{"sigchld": true}
			for _, v := range []policy.Verb{policy.VerbSignal, policy.VerbPtrace, policy.VerbMapExec, policy.VerbSpawn} {
				want := e.p.AllowsProcess(s, v, c.Name).Allowed
				var ts []tup
				for _, cp := range v.SELinuxPerms(policy.KindProcess) {
					switch cp.Target {
					case policy.TargetObject:
						ts = append(ts, tuples(ct, cp)...)
					case policy.TargetSelf:
						ts = append(ts, tuples("self", cp)...)
					case policy.TargetExecutable:
						for _, et := range e.out.ExecTypes[c.Name] {
							ts = append(ts, tuples(et, cp)...)
						}
					}
				}
				if want {
					for _, x := range ts {
						if x.target == ct && x.class == "process" {
							processPerms[x.perm] = true
						}
					}
				}
				switch v {
				case policy.VerbMapExec:
					if c.Name != s {
						continue // execmem is the subject's own; see map-exec on itself
					}
				case policy.VerbSpawn:
					// A transition also needs the target's entrypoint and
					// the type transition on its executables.
					got, _ := e.granted(d, ts)
					for _, et := range e.out.ExecTypes[c.Name] {
						if !e.b.allow[rule{ct, et, "file", "entrypoint"}] || e.b.trans[[3]string{d, et, "process"}] != ct {
							got = false
						}
					}
					if len(e.out.ExecTypes[c.Name]) == 0 {
						got = false
					}
					e.checked++
					if got != want {
						e.t.Errorf("%s spawn %s: policy says %v, compiled policy says %v", s, c.Name, want, got)
					}
					continue
				}
				e.compare(s, v, c.Name, want, ts, "")
			}
			for k := range e.b.allow {
				if k.src == d && k.tgt == ct && k.class == "process" && !processPerms[k.perm] && k.src != k.tgt {
					e.t.Errorf("%s holds process %s on %s, which none of its verbs needs", s, k.perm, c.Name)
				}
			}
		}
	}
}

// holds reports whether subject holds v on some channel satisfying ok.
func (e *exact) holds(subject string, v policy.Verb, ok func(*policy.Channel) bool) bool {
	for _, ch := range e.p.Channels {
		if vs, _ := e.p.Granted(subject, ch.Name); ok(ch) && vs.Has(v) {
			return true
		}
	}
	return false
}

func (e *exact) channels() {
	sockVerbs := []policy.Verb{policy.VerbConnect, policy.VerbBind, policy.VerbListen}
	for _, s := range e.subjects() {
		for _, ch := range e.p.Channels {
			k := ch.Protocol.Kind()
			sameProto := func(c *policy.Channel) bool { return c.Protocol == ch.Protocol }
			for _, v := range sockVerbs {
				cps := v.SELinuxPerms(k)
				resolve := func(objType string) []tup {
					var ts []tup
					for _, cp := range cps {
						switch cp.Target {
						case policy.TargetObject:
							if objType != "" {
								ts = append(ts, tuples(objType, cp)...)
							}
						case policy.TargetSelf:
							ts = append(ts, tuples("self", cp)...)
						case policy.TargetPeer:
							ts = append(ts, tuples(e.out.Domains[ch.Server], cp)...)
						}
					}
					return ts
				}
				switch {
				case ch.Protocol == policy.ProtoUnix && ch.Path != "":
					want := e.p.Allows(s, v, ch.Path).Allowed
					why := ""
					if v == policy.VerbListen {
						want, why = e.holds(s, v, sameProto), "listen on any unix channel (listen is checked on the own socket)"
					}
					e.compare(s, v, ch.Name, want, resolve(e.out.ChannelTypes[ch.Name][0]), why)
				case ch.Protocol == policy.ProtoUnix:
					// Anonymous socket pair: no socket file; the client
					// uses the server's end (docs/policy.md).
					var ts []tup
					var want bool
					var why string
					if v == policy.VerbConnect {
						server := e.out.Domains[ch.Server]
						ts = append(ts, tup{server, "fd", "use"})
						for _, cp := range cps {
							if cp.Target == policy.TargetSelf {
								for _, p := range cp.Perms {
									if p != "create" && p != "connect" {
										ts = append(ts, tup{server, cp.Class, p})
									}
								}
							}
						}
						want = s == ch.Server || e.holds(s, v, func(c *policy.Channel) bool {
							return c.Protocol == policy.ProtoUnix && c.Path == "" && c.Server == ch.Server
						})
						why = "connect to any socket pair of the same server (which holds both ends)"
					} else {
						for _, cp := range cps {
							if cp.Target == policy.TargetSelf {
								ts = append(ts, tuples("self", cp)...)
							}
						}
						want, why = e.holds(s, v, sameProto), fmt.Sprintf("%s on any unix channel", v)
					}
					e.compare(s, v, ch.Name, want, ts, why)
				case ch.Protocol == policy.ProtoTCP || ch.Protocol == policy.ProtoUDP:
					for _, pr := range ch.Ports {
						for _, port := range []uint16{pr.First, pr.Last} {
							pt := e.b.portType(ch.Protocol.String(), port)
							if pt == "" {
								e.t.Fatalf("%s port %d of channel %s has no portcon", ch.Protocol, port, ch.Name)
							}
							want := e.p.AllowsPort(s, v, ch.Protocol, port).Allowed
							why := ""
							if v == policy.VerbListen || (ch.Protocol == policy.ProtoUDP && v == policy.VerbConnect) {
								want, why = e.holds(s, v, sameProto), fmt.Sprintf("%s on any %s channel (checked on the own socket)", v, ch.Protocol)
							}
							e.compare(s, v, fmt.Sprintf("%s/%s:%d", ch.Name, ch.Protocol, port), want, resolve(pt), why)
						}
					}
				case ch.Protocol == policy.ProtoVsock:
					e.compare(s, v, ch.Name, e.holds(s, v, sameProto), resolve(""), "vsock has no port labels")
				}
			}
		}
	}
}

// brokenHeader reads the "# base:" and "# expect:" lines of a broken
// variant.
func brokenHeader(t *testing.T, file string) (base string, expect []string) {
	t.Helper()
	base, expect, err := brokenpolicy.Header(file)
	if err != nil {
		t.Fatal(err)
	}
	return base, expect
}

// TestBrokenVariants builds each broken overlay of policy/testdata/broken:
// secilc's neverallow check must fail for exactly the access, spawn and
// capability invariants it violates, and the error must name them.
func TestBrokenVariants(t *testing.T) {
	needTools(t, "secilc")
	files, _ := filepath.Glob("../testdata/broken/*.hcl")
	if len(files) == 0 {
		t.Fatal("no broken variants")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			base, expect := brokenHeader(t, f)
			p := load(t, filepath.Join("../../examples", base), f)
			out := compile(t, p)
			var want []string
			for _, x := range expect {
				name, rest, _ := strings.Cut(x, ":")
				inv := p.Invariant(name)
				if inv == nil {
					t.Fatalf("expect names unknown invariant %q", name)
				}
				if inv.Form == policy.FormNoFlow {
					continue
				}
				if f := strings.Fields(rest); len(f) == 3 && slices.ContainsFunc(out.NotExpressible, func(g selinux.Gap) bool {
					return g.Invariant == name && g.Verb == f[1] && g.Object == f[2]
				}) {
					continue
				}
				if !slices.Contains(want, name) {
					want = append(want, name)
				}
			}
			_, _, err := selinux.Build(context.Background(), out.CIL, t.TempDir())
			if len(want) == 0 {
				if err != nil {
					t.Fatalf("no access invariant is violated, but: %v", err)
				}
				return
			}
			var se *selinux.SecilcError
			if !errors.As(err, &se) {
				t.Fatalf("want a neverallow failure for %v, got %v", want, err)
			}
			var got []string
			for _, v := range se.Violations {
				if !slices.Contains(got, v.Invariant) {
					got = append(got, v.Invariant)
				}
				if len(v.Allows) == 0 {
					t.Errorf("violation of %s names no allow rule", v.Invariant)
				}
				for _, a := range v.Allows {
					if !strings.Contains(a.Source, filepath.Base(f)) && !strings.Contains(a.Source, "spawn") {
						t.Errorf("violation of %s by %q: not traced to the overlay", v.Invariant, a.Source)
					}
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violated invariants: got %v, want %v\n%v", got, want, err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", w)) {
					t.Errorf("error does not name %s: %v", w, err)
				}
			}
		})
	}
}

// TestNeverallowMutations adds, to each example, every grant an access
// or spawn invariant forbids (one rule per line of an overlay) and checks
// that secilc's neverallow check catches each of them under the right
// invariant, unless the compiler reported it as not expressible.
func TestNeverallowMutations(t *testing.T) {
	needTools(t, "secilc")
	for _, ex := range examples {
		t.Run(filepath.Base(ex), func(t *testing.T) {
			p := load(t, ex)
			var b strings.Builder
			type mutation struct{ inv, subject, verb, object string }
			lines := map[int]mutation{}
			line := 1
			add := func(m mutation, text string) {
				lines[line] = m
				b.WriteString(text)
				line += strings.Count(text, "\n")
			}
			for _, inv := range p.Invariants {
				switch inv.Form {
				case policy.FormDenyAccess:
					for _, s := range p.Select(inv.Subjects) {
						for _, o := range p.Select(inv.Objects) {
							if o.Kind == policy.EntityChannel {
								continue // granted by channel blocks
							}
							k := p.ObjectKind(o.Name)
							for _, v := range inv.Verbs.Verbs() {
								if v == policy.VerbSpawn || !v.ValidFor(k) || (v == policy.VerbMapExec && k == policy.KindProcess && o.Name != s.Name) {
									continue
								}
								add(mutation{inv.Name, s.Name, v.String(), o.Name},
									fmt.Sprintf("allow %q {\n  verbs = [%q]\n  on = [%q]\n}\n", s.Name, v, o.Name))
							}
						}
					}
				case policy.FormDenySpawn:
					for _, s := range p.Select(inv.From) {
						if s.Kind != policy.EntityCompartment {
							continue
						}
						for _, o := range p.Select(inv.To) {
							if c := p.Compartment(o.Name); c != nil && len(c.Executables) > 0 {
								add(mutation{inv.Name, s.Name, "spawn", o.Name}, fmt.Sprintf("spawn {\n  from = %q\n  to = [%q]\n}\n", s.Name, o.Name))
							}
						}
					}
				}
			}
			if len(lines) == 0 {
				t.Skip("no mutations")
			}
			overlay := filepath.Join(t.TempDir(), "mutations.hcl")
			if err := os.WriteFile(overlay, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			mp := load(t, ex, overlay)
			out := compile(t, mp)
			_, _, err := selinux.Build(context.Background(), out.CIL, t.TempDir())
			var se *selinux.SecilcError
			if !errors.As(err, &se) {
				t.Fatalf("want neverallow failures, got %v", err)
			}
			caught := map[mutation]bool{}
			for _, v := range se.Violations {
				for _, a := range v.Allows {
					for l, m := range lines {
						if m.inv == v.Invariant && strings.Contains(a.Source, fmt.Sprintf("mutations.hcl:%d:", l)) {
							caught[m] = true
						}
					}
				}
			}
			n := 0
			for _, m := range lines {
				if caught[m] {
					n++
					continue
				}
				if slices.ContainsFunc(out.NotExpressible, func(g selinux.Gap) bool {
					return g.Invariant == m.inv && g.Verb == m.verb && g.Object == m.object
				}) {
					continue
				}
				t.Errorf("invariant %s: %s %s %s is not caught by secilc", m.inv, m.subject, m.verb, m.object)
			}
			t.Logf("%d of %d mutations caught", n, len(lines))
		})
	}
}

// TestOptions covers handleunknown and permissive domains.
func TestOptions(t *testing.T) {
	p := load(t, "testdata/tiny")
	out, err := selinux.Compile(p, &selinux.Options{HandleUnknown: "allow", Permissive: []string{"sandbox", "operator"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(handleunknown allow)", "(typepermissive sandbox_t)", "(typepermissive operator_t)"} {
		if !bytes.Contains(out.CIL, []byte(want)) {
			t.Errorf("CIL lacks %s", want)
		}
	}
	for _, bad := range []selinux.Options{{HandleUnknown: "reject"}, {Permissive: []string{"app_data"}}, {Permissive: []string{"nobody"}}} {
		if _, err := selinux.Compile(p, &bad); err == nil {
			t.Errorf("Compile accepted %+v", bad)
		}
	}
	if _, err := exec.LookPath("secilc"); err == nil {
		pol, _ := build(t, out)
		b := readBinary(t, pol, nil)
		if b.stats["Permissives"] != "2" || b.stats["Handle unknown classes"] != "allow" {
			t.Errorf("seinfo: permissives %s, handle unknown %s", b.stats["Permissives"], b.stats["Handle unknown classes"])
		}
	}
}

// TestNameCollisions checks that generated names that collide with each
// other or with the skeleton get distinct identifiers, and that the
// result compiles.
func TestNameCollisions(t *testing.T) {
	src := `
compartment "unconfined" {
  tier        = "trusted"
  executables = ["/bin/a"]
  allow {
    verbs = ["read"]
    on    = ["unconfined_exec", "default"]
  }
}
resource "unconfined_exec" {
  kind  = "file"
  paths = ["/etc/a"]
}
resource "default" {
  kind  = "directory"
  paths = ["/srv/**"]
}
channel "web" {
  protocol = "tcp"
  ports    = [80]
  server   = "unconfined"
}
resource "web_port" {
  kind  = "file"
  paths = ["/etc/b"]
}
`
	p, err := policy.Parse("collide.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := compile(t, p)
	want := map[string]string{
		"domain":   out.Domains["unconfined"],
		"exec":     out.ExecTypes["unconfined"][0],
		"resource": out.ResourceTypes["unconfined_exec"],
		"default":  out.ResourceTypes["default"],
		"port":     out.ChannelTypes["web"][0],
		"web_port": out.ResourceTypes["web_port"],
	}
	seen := map[string]string{}
	for k, v := range want {
		if prev, dup := seen[v]; dup {
			t.Errorf("%s and %s are both %s", prev, k, v)
		}
		seen[v] = k
		if v == "unconfined_t" || v == "default_t" {
			t.Errorf("%s took skeleton name %s", k, v)
		}
	}
	if _, err := exec.LookPath("secilc"); err == nil {
		build(t, out)
	}
}

// TestCompileErrors covers policies Compile refuses.
func TestCompileErrors(t *testing.T) {
	src := `
resource "spaced" {
  kind  = "file"
  paths = ["/srv/with space"]
}
`
	p, err := policy.Parse("bad.hcl", []byte(src))
	if err != nil {
		t.Skipf("the loader rejects the path already: %v", err)
	}
	_, err = selinux.Compile(p, nil)
	if err == nil || !strings.Contains(err.Error(), "bad.hcl:") {
		t.Fatalf("want an error naming bad.hcl, got %v", err)
	}
}

// TestBuildErrors checks that Build quotes secilc when it fails for a
// reason other than a neverallow.
func TestBuildErrors(t *testing.T) {
	needTools(t, "secilc")
	_, _, err := selinux.Build(context.Background(), []byte("(type x_t)\n(allow x_t y_t (file (read)))\n"), t.TempDir())
	var se *selinux.SecilcError
	if !errors.As(err, &se) || len(se.Violations) != 0 || !strings.Contains(err.Error(), "secilc: ") || se.Stderr == "" {
		t.Fatalf("want a quoted secilc error, got %v", err)
	}
}

// TestMinimalPolicies builds policies with almost nothing in them: the
// skeleton alone must make a complete policy.
func TestMinimalPolicies(t *testing.T) {
	needTools(t, "secilc")
	for name, src := range map[string]string{
		"empty":       `policy { name = "empty" }`,
		"resource":    "resource \"r\" {\n  kind = \"file\"\n  paths = [\"/etc/r\"]\n}\n",
		"compartment": "compartment \"c\" {\n  tier = \"trusted\"\n}\n",
		"role":        "role \"r\" {\n  accounts = [\"alice\"]\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := policy.Parse(name+".hcl", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			build(t, compile(t, p))
		})
	}
}
