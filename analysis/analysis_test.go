package analysis

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
)

// semantics is a small policy pinning down each flow rule.
const semantics = `
compartment "a" {
  tier = "untrusted"
  executables = ["/bin/a"]
  allow {
    verbs = ["append"]
    on    = ["log"]
  }
  allow {
    verbs = ["signal"]
    on    = ["b"]
  }
}
compartment "b" {
  tier = "trusted"
  executables = ["/bin/b"]
  allow {
    verbs = ["read"]
    on    = ["log"]
  }
  allow {
    verbs = ["ptrace"]
    on    = ["d"]
  }
}
compartment "s" {
  tier = "trusted"
  executables = ["/bin/s"]
}
compartment "c1" {
  tier = "trusted"
  executables = ["/bin/c1"]
  allow {
    verbs = ["write"]
    on    = ["shared"]
  }
}
compartment "c2" {
  tier = "trusted"
  executables = ["/bin/c2"]
}
compartment "d" {
  tier = "trusted"
  executables = ["/bin/d"]
}
compartment "e" {
  tier = "trusted"
  executables = ["/bin/e"]
  allow {
    verbs = ["read"]
    on    = ["handoff"]
  }
}
compartment "parent" {
  tier = "privileged"
  executables = ["/bin/parent"]
}
compartment "child" {
  tier = "trusted"
  executables = ["/bin/child"]
}
role "op" {
  allow {
    verbs = ["read"]
    on    = ["shared"]
  }
  allow {
    verbs = ["write"]
    on    = ["handoff"]
  }
}
resource "log" {
  kind = "file"
  paths = ["/var/log/a.log"]
}
resource "shared" {
  kind = "directory"
  paths = ["/srv/shared/**"]
}
resource "handoff" {
  kind = "directory"
  paths = ["/srv/handoff/**"]
}
channel "rpc" {
  protocol = "unix"
  path = "/run/s.sock"
  server = "s"
  clients = ["c1", "c2"]
}
spawn {
  from = "parent"
  to   = ["child"]
}
`

func TestFlowSemantics(t *testing.T) {
	p, err := policy.Parse("semantics.hcl", []byte(semantics))
	if err != nil {
		t.Fatal(err)
	}
	a := New(p)
	sel := func(s string) policy.Selector {
		x, err := p.ParseSelector(s, "test", policy.AllEntities)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	flow := func(from, to, avoid string) string {
		q := FlowQuery{From: sel(from), To: sel(to)}
		if avoid != "" {
			q.Avoid = sel(avoid)
		}
		path, ok := a.ShortestFlow(q)
		if !ok {
			return "none"
		}
		return path.Verbose()
	}
	for _, c := range []struct{ from, to, avoid, want string }{
		// Append is a write; read moves information to the reader.
		{"a", "log", "", "a -[append]-> log"},
		{"log", "b", "", "log -[read]-> b"},
		{"b", "log", "", "none"},
		// Signal is a one-way flow (one step, shorter than the log).
		{"a", "b", "", "a -[signal]-> b"},
		{"b", "a", "", "none"},
		// Ptrace goes both ways.
		{"b", "d", "", "b -[ptrace]-> d"},
		{"d", "b", "", "d -[ptrace]-> b"},
		// Clients of one channel reach each other only through the server.
		{"c1", "c2", "", "c1 -[request]-> rpc -[request]-> s -[reply]-> rpc -[reply]-> c2"},
		{"c1", "c2", "s", "none"},
		{"rpc", "s", "", "rpc -[request]-> s"},
		// Spawn: parent to child only.
		{"parent", "child", "", "parent -[spawn]-> child"},
		{"child", "parent", "", "none"},
		// A role is an endpoint, never a relay.
		{"c1", "op", "", "c1 -[write]-> shared -[read]-> op"},
		{"op", "e", "", "op -[write]-> handoff -[read]-> e"},
		{"c1", "e", "", "none"},
		{"shared", "handoff", "", "none"},
		// Selectors: labelled and tier functions.
		{`tier("untrusted")`, `["log", "d"]`, "", "a -[append]-> log"},
	} {
		if got := flow(c.from, c.to, c.avoid); got != c.want {
			t.Errorf("flow %s -> %s (avoid %q):\n got %s\nwant %s", c.from, c.to, c.avoid, got, c.want)
		}
	}
	// All simple paths from c1 to s: the direct request (and nothing
	// through the role).
	paths, truncated := a.AllFlows(FlowQuery{From: sel("c1"), To: sel("s"), MaxDepth: 6})
	if truncated || len(paths) != 1 || paths[0].String() != "c1 -> rpc -> s" {
		t.Errorf("all paths c1 -> s: %v (truncated %v)", paths, truncated)
	}
}

func TestAllFlowsLimit(t *testing.T) {
	a := load(t, example("ic-node"))
	p := a.Policy()
	from, _ := p.ParseSelector("compiler_sandbox", "from", policy.AllEntities)
	to, _ := p.ParseSelector("canister_sandbox", "to", policy.AllEntities)
	all, truncated := a.AllFlows(FlowQuery{From: from, To: to, MaxDepth: 6, Limit: 1000})
	if truncated || len(all) < 3 {
		t.Fatalf("got %d paths (truncated %v)", len(all), truncated)
	}
	seen := map[string]bool{}
	for _, path := range all {
		s := path.String()
		if seen[s] {
			t.Errorf("duplicate path %s", s)
		}
		seen[s] = true
		if path.Nodes[0] != "compiler_sandbox" || path.Nodes[len(path.Nodes)-1] != "canister_sandbox" || path.Len() > 6 {
			t.Errorf("bad path %s", s)
		}
	}
	some, truncated := a.AllFlows(FlowQuery{From: from, To: to, MaxDepth: 6, Limit: 2})
	if !truncated || len(some) != 2 || some[0].String() != all[0].String() {
		t.Errorf("limit 2: %v truncated %v", some, truncated)
	}
}

func TestWhoCan(t *testing.T) {
	a := load(t, example("ic-node"))
	r, err := a.WhoCan(policy.VerbWrite, "/dev/vda4")
	if err != nil {
		t.Fatal(err)
	}
	if r.Object != "guestos_slots" || r.Kind != "block-device" || r.Glob != "/dev/vda4" {
		t.Errorf("target resolved to %s %s %s", r.Kind, r.Object, r.Glob)
	}
	var got []string
	for _, g := range r.Grants {
		if g.Allowed {
			got = append(got, g.Subject+" direct")
			if len(g.Rules) == 0 || !strings.Contains(g.Rules[0], "compartments.hcl:") {
				t.Errorf("grant without rule position: %+v", g)
			}
		} else {
			got = append(got, g.Subject+" via "+g.Via.String())
		}
	}
	want := []string{"upgrade_manager direct", "orchestrator via orchestrator -> upgrade_manager", "admin via admin -> upgrade_manager"}
	if !slices.Equal(got, want) {
		t.Errorf("who can write /dev/vda4:\n got %q\nwant %q", got, want)
	}

	for _, c := range []struct {
		subject, verb, target string
		allowed               bool
		via                   string
	}{
		{"crypto_vault", "read", "/var/lib/ic/crypto/k", true, ""},
		{"replica", "read", "/var/lib/ic/crypto/k", false, ""},
		{"http_endpoint", "bind", "tcp/8080", true, ""},
		{"http_endpoint", "connect", "tcp/8080", false, ""},
		{"replica", "connect", "/run/ic-node/crypto-csp/socket", true, ""},
		{"replica", "connect", "crypto_csp", true, ""},
		{"canister_sandbox", "connect", "crypto_csp", false, ""},
		{"replica", "signal", "canister_sandbox", true, ""},
		{"replica", "spawn", "canister_sandbox", true, ""},
		{"orchestrator", "spawn", "canister_sandbox", false, "orchestrator -> replica"},
		{"admin", "write", "grub_files", false, "admin -> upgrade_manager"},
	} {
		v, _ := policy.ParseVerb(c.verb)
		r, err := a.Can(c.subject, v, c.target)
		if err != nil {
			t.Fatalf("can %s %s %s: %v", c.subject, c.verb, c.target, err)
		}
		g := r.Grants[0]
		via := ""
		if g.Via != nil {
			via = g.Via.String()
		}
		if g.Allowed != c.allowed || via != c.via {
			t.Errorf("can %s %s %s = %v via %q (%s), want %v via %q", c.subject, c.verb, c.target, g.Allowed, via, r.Reason, c.allowed, c.via)
		}
	}
	for _, bad := range [][3]string{{"nobody", "read", "/x"}, {"replica", "read", "nosuch"}, {"replica", "connect", "tcp/99999"}, {"replica", "read", "admin"}} {
		v, _ := policy.ParseVerb(bad[1])
		if _, err := a.Can(bad[0], v, bad[2]); err == nil {
			t.Errorf("can %v: no error", bad)
		}
	}
}

func TestBlastRadiusExamples(t *testing.T) {
	a := load(t, example("ic-node"))
	br, err := a.BlastRadius("canister_sandbox")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node_keys", "crypto_vault", "replica", "ic_binaries", "guestos_slots", "p2p", "public_http", "registry_store"} {
		if br.Contains(n) {
			t.Errorf("canister_sandbox blast radius contains %s", n)
		}
	}
	for _, n := range []string{"canister_memory", "wasm_cache", "sandbox_rpc"} {
		if !br.Contains(n) {
			t.Errorf("canister_sandbox blast radius lacks %s", n)
		}
	}
	if len(br.TakenOver) != 0 || fedNames(br)[0] != "replica" {
		t.Errorf("canister_sandbox: taken over %v, fed %v", br.TakenOver, br.Fed)
	}

	// The orchestrator takes over the replica (spawn) and through it the
	// sandboxes; never the vault; and reads no secret.
	br, _ = a.BlastRadius("orchestrator")
	var chains []string
	for _, tk := range br.TakenOver {
		chains = append(chains, tk.Path.String())
	}
	want := []string{"orchestrator -> replica", "orchestrator -> ssh_key_provisioner", "orchestrator -> upgrade_manager",
		"orchestrator -> replica -> canister_sandbox", "orchestrator -> replica -> compiler_sandbox"}
	if !slices.Equal(chains, want) {
		t.Errorf("orchestrator chains:\n got %q\nwant %q", chains, want)
	}
	for _, r := range br.Read {
		if r.Secret() {
			t.Errorf("orchestrator reads secret %s", r.Object)
		}
	}

	// In ic-host, the guest takes over the runner through the disk the
	// runner parses (integrity-critical).
	h := load(t, example("ic-host"))
	br, _ = h.BlastRadius("guest_vm")
	if len(br.TakenOver) != 1 || br.TakenOver[0].Path.Verbose() != "guest_vm -[write]-> guest_disk -[read (integrity-critical)]-> guest_vm_runner" {
		t.Errorf("guest_vm takeovers: %+v", br.TakenOver)
	}
	// A compromised vsock agent controls the upgrade manager (spawn) and
	// thus the slots.
	br, _ = h.BlastRadius("vsock_agent")
	if !br.Contains("host_upgrade_manager") || !containsObj(br.Alter, "hostos_slots") {
		t.Errorf("vsock_agent blast radius misses the upgrade path: %+v", br)
	}
	if _, err := h.BlastRadius("nosuch"); err == nil {
		t.Error("unknown subject accepted")
	}
}

// TestTakeoverRules pins each takeover rule on a small policy.
func TestTakeoverRules(t *testing.T) {
	src := `
compartment "w" {
  tier = "untrusted"
  executables = ["/bin/w"]
  allow {
    verbs = ["setattr"]
    on    = ["bin_x"]
  }
  allow {
    verbs = ["create"]
    on    = ["plugins", "conf"]
  }
  allow {
    verbs = ["write"]
    on    = ["data"]
  }
}
compartment "x" {
  tier = "trusted"
  executables = ["/opt/x/bin/x"]
}
compartment "y" {
  tier = "trusted"
  executables = ["/bin/y"]
  allow {
    verbs = ["map-exec"]
    on    = ["plugins"]
  }
}
compartment "z" {
  tier = "trusted"
  executables = ["/bin/z"]
  allow {
    verbs = ["read"]
    on    = ["conf", "data"]
  }
  allow {
    verbs = ["ptrace"]
    on    = ["v"]
  }
}
compartment "v" {
  tier = "trusted"
  executables = ["/bin/v"]
}
compartment "u" {
  tier = "trusted"
  executables = ["/bin/u"]
  allow {
    verbs = ["read"]
    on    = ["data"]
  }
}
resource "bin_x" {
  kind = "directory"
  paths = ["/opt/x/**"]
}
resource "plugins" {
  kind = "directory"
  paths = ["/usr/lib/y/**"]
}
resource "conf" {
  kind = "file"
  paths = ["/etc/z.conf"]
  labels = ["integrity-critical"]
}
resource "data" {
  kind = "directory"
  paths = ["/srv/data/**"]
}
`
	p, err := policy.Parse("takeover.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	br, err := New(p).BlastRadius("w")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range br.TakenOver {
		got = append(got, tk.Path.Verbose())
	}
	want := []string{
		"w -[setattr]-> bin_x -[holds its executable /opt/x/bin/x]-> x",
		"w -[create]-> plugins -[map-exec (code)]-> y",
		"w -[create]-> conf -[read (integrity-critical)]-> z",
		"w -[create]-> conf -[read (integrity-critical)]-> z -[ptrace]-> v",
	}
	if !slices.Equal(got, want) {
		t.Errorf("takeovers:\n got %q\nwant %q", got, want)
	}
	// u reads data that w writes, unlabelled: fed, not taken over.
	if fed := fedNames(br); !slices.Equal(fed, []string{"u"}) {
		t.Errorf("fed %v, want [u]", fed)
	}
}

func TestDiff(t *testing.T) {
	base := load(t, example("ic-node"))
	same := Diff(base, load(t, example("ic-node")))
	if len(same.Access)+len(same.FlowsAdded)+len(same.FlowsRemoved)+len(same.Blast)+len(same.NewViolations)+len(same.Invariants) != 0 {
		t.Fatalf("diff of a policy with itself: %+v", same)
	}
	if f, _ := ParseFailOn("all"); len(same.Failures(f)) != 0 {
		t.Error("identical policies fail a gate")
	}
	broken := load(t, example("ic-node"), "../policy/testdata/broken/node_keys_to_network.hcl")
	d := Diff(base, broken)
	if len(d.Access) != 1 || d.Access[0].Subject != "replica" || d.Access[0].Object != "node_keys" ||
		!slices.Equal(d.Access[0].Added, []string{"read"}) || len(d.Access[0].At) != 1 {
		t.Errorf("access changes: %+v", d.Access)
	}
	var flows []string
	for _, f := range d.FlowsAdded {
		flows = append(flows, f.From+" -> "+f.To)
		if f.Path == nil || f.Path.Nodes[0] != f.From || f.Path.Nodes[len(f.Path.Nodes)-1] != f.To {
			t.Errorf("flow %s -> %s has path %v", f.From, f.To, f.Path)
		}
	}
	// Flow pairs count endpoints that are connected at all: the key
	// store already reached the replica (through the vault), so the
	// shortcut adds no pair.
	if len(flows) != 0 || len(d.FlowsRemoved) != 0 {
		t.Errorf("flows added %q removed %v", flows, d.FlowsRemoved)
	}
	grew := map[string]bool{}
	for _, b := range d.Blast {
		grew[b.Subject] = b.Grew
		if b.Subject == "replica" && !slices.Equal(b.ReadAdded, []string{"node_keys"}) {
			t.Errorf("replica read added %v", b.ReadAdded)
		}
	}
	// Everyone who takes over the replica now reads the keys.
	for _, s := range []string{"replica", "orchestrator"} {
		if !grew[s] {
			t.Errorf("blast radius of %s did not grow: %+v", s, d.Blast)
		}
	}
	var newV []string
	for _, v := range d.NewViolations {
		newV = append(newV, v.Invariant+": "+v.Counterexample)
	}
	slices.Sort(newV)
	if want := []string{"keys_leave_only_through_vault: node_keys -> replica -> p2p", "only_vault_reads_keys: replica read node_keys"}; !slices.Equal(newV, want) {
		t.Errorf("new violations %q", newV)
	}
	f, err := ParseFailOn("new-access,invariant")
	if err != nil || len(d.Failures(f)) != 2 {
		t.Errorf("failures %v %v", d.Failures(f), err)
	}
	f, _ = ParseFailOn("new-flow")
	if len(d.Failures(f)) != 0 {
		t.Errorf("new-flow fails: %v", d.Failures(f))
	}
	// Reverse: the fix removes access and violations.
	back := Diff(broken, base)
	if len(back.Fixed) != 2 || len(back.NewViolations) != 0 || len(back.Access[0].Removed) != 1 {
		t.Errorf("reverse diff: %+v", back)
	}
	if _, err := ParseFailOn("new-acess"); err == nil {
		t.Error("bad --fail-on accepted")
	}

	// New flows: sharing the staging area with the guest lets the host's
	// upgrade path (and its boot material) flow into the guest, which it
	// could not before; the guest already reached the slots through the
	// vsock agent, so that pair is not new.
	h := load(t, example("ic-host"))
	h2 := load(t, example("ic-host"), "../policy/testdata/broken/host_guest_feeds_staging.hcl")
	d = Diff(h, h2)
	added := map[string]string{}
	for _, fl := range d.FlowsAdded {
		added[fl.From+" -> "+fl.To] = fl.Path.String()
	}
	if got := added["host_upgrade_manager -> guest_vm"]; got != "host_upgrade_manager -> upgrade_staging -> guest_vm" {
		t.Errorf("new flow host_upgrade_manager -> guest_vm: path %q", got)
	}
	if _, ok := added["hostos_slots -> guest_vm"]; !ok {
		t.Error("no new flow hostos_slots -> guest_vm")
	}
	if _, ok := added["guest_vm -> hostos_slots"]; ok {
		t.Error("guest_vm -> hostos_slots reported new")
	}
	if f, _ := ParseFailOn("new-flow"); len(d.Failures(f)) != 1 {
		t.Error("new-flow gate does not fail")
	}
}

// TestDOT renders the DOT output with Graphviz when it is installed.
func TestDOT(t *testing.T) {
	a := load(t, example("ic-node"))
	p := a.Policy()
	from, _ := p.ParseSelector("compiler_sandbox", "from", policy.AllEntities)
	to, _ := p.ParseSelector(`["canister_sandbox", labelled("secret")]`, "to", policy.AllEntities)
	paths, _ := a.AllFlows(FlowQuery{From: from, To: to, MaxDepth: 5})
	var flows bytes.Buffer
	if err := a.WriteDOT(&flows, `flows "quoted"`, paths); err != nil {
		t.Fatal(err)
	}
	br, _ := a.BlastRadius("orchestrator")
	var blast bytes.Buffer
	if err := a.WriteBlastDOT(&blast, br); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{flows.String(), blast.String()} {
		if !strings.HasPrefix(out, "digraph ") || !strings.HasSuffix(out, "}\n") || !strings.Contains(out, "->") {
			t.Fatalf("not a digraph:\n%s", out)
		}
	}
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Skip("dot not installed (Debian package graphviz)")
	}
	for _, out := range []string{flows.String(), blast.String()} {
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = strings.NewReader(out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		svg, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("dot rejected the output: %v %s\n%s", err, stderr.String(), out)
		}
	}
}

func TestExamplesTestFiles(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/*" + policy.TestFileSuffix)
	if len(files) < 2 {
		t.Fatalf("test files: %v", files)
	}
}
