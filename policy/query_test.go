package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestAllowsICNode(t *testing.T) {
	p := loadExample(t, "ic-node")
	cases := []struct {
		subject string
		verb    Verb
		path    string
		allowed bool
		object  string
	}{
		{"crypto_vault", VerbRead, "/var/lib/ic/crypto/sks_data.pb", true, "node_keys"},
		{"crypto_vault", VerbWrite, "/var/lib/ic/crypto/public_keys.pb", true, "node_keys"},
		{"replica", VerbRead, "/var/lib/ic/crypto/sks_data.pb", false, "node_keys"},
		{"canister_sandbox", VerbRead, "/var/lib/ic/crypto", false, "node_keys"},
		// most specific wins: page_deltas inside ic_state.
		{"canister_sandbox", VerbWrite, "/var/lib/ic/data/ic_state/page_deltas/0001.bin", true, "canister_memory"},
		{"canister_sandbox", VerbRead, "/var/lib/ic/data/ic_state/checkpoints/1/state.pbuf", false, "ic_state"},
		{"canister_sandbox", VerbMapExec, "/var/lib/ic/data/wasm_cache/abc.so", true, "wasm_cache"},
		{"canister_sandbox", VerbWrite, "/var/lib/ic/data/wasm_cache/abc.so", false, "wasm_cache"},
		{"replica", VerbAppend, "/var/lib/ic/data/ic_consensus_pool/x", true, "consensus_pool"}, // write implies append
		{"replica", VerbRead, "/var/lib/ic/data/other", false, "ic_data"},
		{"orchestrator", VerbRead, "/run/ic-node/config/ic.json5", true, "ic_config"},
		{"orchestrator", VerbRead, "/run/ic-node/config/../config/ic.json5", true, "ic_config"}, // cleaned
		{"upgrade_manager", VerbWrite, "/dev/vda5", true, "guestos_slots"},
		{"upgrade_manager", VerbWrite, "/dev/vda3", false, ""}, // no resource governs
		{"orchestrator", VerbWrite, "/dev/vda5", false, "guestos_slots"},
		{"upgrade_manager", VerbExecute, "/dev/vda5", false, "guestos_slots"}, // verb makes no sense
		{"node_exporter", VerbRead, "/boot/config/node_exporter/key.pem", true, "node_exporter_tls"},
		{"node_exporter", VerbRead, "/boot/config/ssh_host_ed25519_key", false, "config_partition"},
		{"readonly", VerbRead, "/var/lib/ic/data/ic_state/x", true, "ic_state"},
		{"readonly", VerbRead, "/var/lib/ic/crypto/sks_data.pb", false, "node_keys"},
		{"orchestrator", VerbIoctl, "/dev/sev-guest", true, "sev_guest"},
		{"http_endpoint", VerbRead, "/opt/ic/bin/replica", false, "ic_binaries"},
		// unix channels by socket path.
		{"replica", VerbConnect, "/run/ic-node/crypto-csp/socket", true, "crypto_csp"},
		{"canister_sandbox", VerbConnect, "/run/ic-node/crypto-csp/socket", false, "crypto_csp"},
		{"crypto_vault", VerbListen, "/run/ic-node/crypto-csp/socket", true, "crypto_csp"},
		{"replica", VerbBind, "/run/ic-node/crypto-csp/socket", false, "crypto_csp"},
		{"nobody", VerbRead, "/etc/passwd", false, ""},
		{"replica", VerbRead, "relative/path", false, ""},
		{"replica", Verb(0), "/etc/passwd", false, ""},
	}
	for _, c := range cases {
		d := p.Allows(c.subject, c.verb, c.path)
		if d.Allowed != c.allowed || d.Object != c.object {
			t.Errorf("Allows(%s, %s, %s) = %v (object %q), want allowed=%v object %q", c.subject, c.verb, c.path, d, d.Object, c.allowed, c.object)
		}
		if d.Allowed && len(d.Rules) == 0 {
			t.Errorf("Allows(%s, %s, %s): allowed without rules", c.subject, c.verb, c.path)
		}
		if !d.Allowed && len(d.Rules) != 0 {
			t.Errorf("Allows(%s, %s, %s): denied with rules", c.subject, c.verb, c.path)
		}
		if d.Reason == "" {
			t.Errorf("Allows(%s, %s, %s): no reason", c.subject, c.verb, c.path)
		}
	}

	// The granting rule points at its source.
	d := p.Allows("crypto_vault", VerbRead, "/var/lib/ic/crypto/x")
	if r := d.Rules[0]; !strings.HasSuffix(r.Range.Filename, "compartments.hcl") || r.Origin != OriginAllow {
		t.Errorf("rule = %v", r)
	}
	d = p.Allows("replica", VerbConnect, "/run/ic-node/crypto-csp/socket")
	if r := d.Rules[0]; r.Origin != OriginClient || !strings.HasSuffix(r.Range.Filename, "channels.hcl") {
		t.Errorf("rule = %v", r)
	}
}

func TestAllowsPortAndProcess(t *testing.T) {
	p := loadExample(t, "ic-node")
	ports := []struct {
		subject string
		verb    Verb
		proto   Protocol
		port    uint16
		allowed bool
		object  string
	}{
		{"http_endpoint", VerbBind, ProtoTCP, 8080, true, "public_http"},
		{"http_endpoint", VerbListen, ProtoTCP, 2497, true, "xnet"},
		{"replica", VerbBind, ProtoTCP, 8080, false, "public_http"},
		{"replica", VerbConnect, ProtoTCP, 4100, true, "p2p_out"},
		{"bitcoin_adapter", VerbConnect, ProtoTCP, 8333, true, "bitcoin_p2p"},
		{"https_outcalls_adapter", VerbConnect, ProtoTCP, 443, true, "outcalls_out"},
		{"orchestrator", VerbConnect, ProtoTCP, 443, true, "registry_and_images"},
		{"canister_sandbox", VerbConnect, ProtoTCP, 443, false, "registry_and_images"},
		{"canister_sandbox", VerbConnect, ProtoTCP, 1, false, ""},
		{"replica", VerbConnect, ProtoUDP, 4100, false, ""},
		{"replica", VerbRead, ProtoTCP, 4100, false, ""},
	}
	for _, c := range ports {
		d := p.AllowsPort(c.subject, c.verb, c.proto, c.port)
		if d.Allowed != c.allowed || d.Object != c.object {
			t.Errorf("AllowsPort(%s, %s, %s, %d) = %v (object %q), want %v %q", c.subject, c.verb, c.proto, c.port, d, d.Object, c.allowed, c.object)
		}
	}
	procs := []struct {
		subject string
		verb    Verb
		target  string
		allowed bool
	}{
		{"orchestrator", VerbSpawn, "replica", true},
		{"replica", VerbSpawn, "canister_sandbox", true},
		{"canister_sandbox", VerbSpawn, "replica", false},
		{"admin", VerbSpawn, "upgrade_manager", true},
		{"readonly", VerbSpawn, "upgrade_manager", false},
		{"replica", VerbSignal, "canister_sandbox", true},
		{"canister_sandbox", VerbSignal, "canister_sandbox", false},
		{"replica", VerbPtrace, "canister_sandbox", false},
		{"compiler_sandbox", VerbMapExec, "compiler_sandbox", true},
		{"canister_sandbox", VerbMapExec, "canister_sandbox", false},
		{"replica", VerbRead, "canister_sandbox", false},
		{"replica", VerbSignal, "ghost", false},
	}
	for _, c := range procs {
		d := p.AllowsProcess(c.subject, c.verb, c.target)
		if d.Allowed != c.allowed {
			t.Errorf("AllowsProcess(%s, %s, %s) = %v, want %v", c.subject, c.verb, c.target, d, c.allowed)
		}
	}
}

func TestLookups(t *testing.T) {
	p := loadExample(t, "ic-node")
	if c := p.CompartmentByExecutable("/opt/ic/bin/replica"); c == nil || c.Name != "replica" {
		t.Errorf("CompartmentByExecutable(replica) = %v", c)
	}
	if c := p.CompartmentByExecutable("/opt/ic/bin/nothing"); c != nil {
		t.Errorf("CompartmentByExecutable(nothing) = %v", c.Name)
	}
	if r, g := p.MatchingGlob("/var/lib/ic/data/ic_state/page_deltas/x"); r.Name != "canister_memory" || g != "/var/lib/ic/data/ic_state/page_deltas/**" {
		t.Errorf("MatchingGlob = %s %s", r.Name, g)
	}
	if r := p.ResourceAt("/var/lib/ic/data/ic_state/page_deltas"); r == nil || r.Name != "canister_memory" {
		t.Errorf(`"/a/**" must match "/a" itself; got %v`, r)
	}
	if ch := p.UnixChannel("/run/ic-node/crypto-csp/socket"); ch == nil || ch.Server != "crypto_vault" {
		t.Errorf("UnixChannel = %v", ch)
	}
	if got := p.SpawnTargets("orchestrator"); !slices.Equal(got, []string{"replica", "upgrade_manager", "ssh_key_provisioner"}) {
		t.Errorf("SpawnTargets = %v", got)
	}
	vs, rules := p.Granted("replica", "ic_state")
	if !vs.Has(VerbWrite) || !vs.Has(VerbAppend) || len(rules) != 1 {
		t.Errorf("Granted = %v %v", vs, rules)
	}
	// Selectors.
	inv := p.Invariant("only_vault_reads_keys")
	subj := p.Select(inv.Subjects)
	if slices.ContainsFunc(subj, func(e Entity) bool { return e.Name == "crypto_vault" }) ||
		!slices.ContainsFunc(subj, func(e Entity) bool { return e.Name == "readonly" }) {
		t.Errorf("all_except selected %v", subj)
	}
	if got := p.Select(p.Invariant("network_facing_no_executable_write").Objects); !slices.Contains(got, Entity{EntityResource, "wasm_cache"}) ||
		!slices.Contains(got, Entity{EntityResource, "system_files"}) {
		t.Errorf("executables()+labelled(rootfs) = %v", got)
	}
	if got := p.Select(p.Invariant("sandboxes_no_network").Objects); slices.Contains(got, Entity{EntityChannel, "crypto_csp"}) || !slices.Contains(got, Entity{EntityChannel, "bitcoin_p2p"}) {
		t.Errorf("network() = %v", got)
	}
}

func TestGlobMatchAndSpecificity(t *testing.T) {
	match := []struct {
		glob, path string
		want       bool
	}{
		{"/a/**", "/a", true},
		{"/a/**", "/a/b/c", true},
		{"/a/**", "/ab", false},
		{"/a/**/c", "/a/c", true},
		{"/a/**/c", "/a/x/y/c", true},
		{"/a/**/c", "/a/x/y/d", false},
		{"/a/*/c", "/a/x/c", true},
		{"/a/*/c", "/a/x/y/c", false},
		{"/a/b?", "/a/bc", true},
		{"/a/b?", "/a/b", false},
		{"/a/*.log", "/a/x.log", true},
		{"/a/*.log", "/a/x.log/y", false},
		{"/**", "/", true},
		{"/", "/", true},
		{"/**/x", "/x", true},
		{"/a/**/**/b", "/a/b", true},
	}
	for _, c := range match {
		g, ge := parseGlob(c.glob, false)
		if ge != nil {
			t.Fatalf("%s: %s", c.glob, ge.msg)
		}
		if got := matchSegs(g.segs, splitPath(c.path)); got != c.want {
			t.Errorf("match(%s, %s) = %v", c.glob, c.path, got)
		}
	}
	overlap := []struct {
		a, b string
		want bool
	}{
		{"/a/**", "/a/b/*.pem", true},
		{"/a/*/c", "/a/b/*", true},
		{"/a/*.log", "/a/*.txt", false},
		{"/a/x*", "/a/*y", true},
		{"/a/**/z", "/b/**", false},
		{"/a/?", "/a/bc", false},
		{"/**", "/anything/at/all", true},
	}
	for _, c := range overlap {
		a, _ := parseGlob(c.a, false)
		b, _ := parseGlob(c.b, false)
		if got := globsOverlap(a, b); got != c.want {
			t.Errorf("overlap(%s, %s) = %v", c.a, c.b, got)
		}
		if got := globsOverlap(b, a); got != c.want {
			t.Errorf("overlap(%s, %s) = %v", c.b, c.a, got)
		}
	}
	// More specific first.
	order := []string{"/a/b/c.pem", "/a/b/*.pem", "/a/b/*", "/a/b/**", "/a/*/c", "/a/**"}
	for i := 0; i+1 < len(order); i++ {
		a, _ := parseGlob(order[i], false)
		b, _ := parseGlob(order[i+1], false)
		if a.spec.cmp(b.spec) <= 0 {
			t.Errorf("%s should be more specific than %s", order[i], order[i+1])
		}
	}
}

func TestVerbTable(t *testing.T) {
	for _, v := range Verbs() {
		p, err := ParseVerb(v.String())
		if err != nil || p != v {
			t.Errorf("ParseVerb(%s) = %v, %v", v, p, err)
		}
		if len(v.ValidKinds()) == 0 {
			t.Errorf("verb %s applies to nothing", v)
		}
		for _, k := range Kinds() {
			for _, cp := range v.SELinuxPerms(k) {
				if cp.Class == "" || len(cp.Perms) == 0 || cp.Target == 0 {
					t.Errorf("%s on %s: bad entry %+v", v, k, cp)
				}
			}
		}
	}
	if _, err := ParseVerb("exec"); err == nil {
		t.Error("ParseVerb(exec) succeeded")
	}
	// Result is a copy.
	a := VerbRead.SELinuxPerms(KindFile)
	a[0].Perms[0] = "mutated"
	if VerbRead.SELinuxPerms(KindFile)[0].Perms[0] == "mutated" {
		t.Error("SELinuxPerms shares storage")
	}
	// Reverse mapping for the agent.
	got := VerbsForPerm("process", "execmem")
	if !slices.Equal(got, []VerbKind{{VerbMapExec, KindProcess}}) {
		t.Errorf("VerbsForPerm(process, execmem) = %v", got)
	}
	got = VerbsForPerm("unix_stream_socket", "connectto")
	if !slices.Equal(got, []VerbKind{{VerbConnect, KindUnix}}) {
		t.Errorf("VerbsForPerm(unix_stream_socket, connectto) = %v", got)
	}
	if got := VerbsForPerm("blk_file", "write"); !slices.Contains(got, VerbKind{VerbWrite, KindBlockDevice}) {
		t.Errorf("VerbsForPerm(blk_file, write) = %v", got)
	}
	if s := NewVerbSet(VerbRead, VerbWrite); s.String() != "{read,write}" || !s.Implied().Has(VerbAppend) || s.Len() != 2 {
		t.Errorf("VerbSet = %v", s)
	}
}
