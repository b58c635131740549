package sandbox_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/sandbox"
)

// icTree lays out the IC node's paths under a root prefix, with the probe
// standing in for the compartments' programs.
func icTree(t *testing.T, e *env) string {
	t.Helper()
	root := filepath.Join(e.dir, "ic")
	probe, err := os.ReadFile(e.probe)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"var/lib/ic/crypto/sks_data.pb":                     "node signing key\n",
		"var/lib/ic/data/ic_state/page_deltas/0001.bin":     "canister heap\n",
		"var/lib/ic/data/ic_state/checkpoints/1/state.pbuf": "replicated state\n",
		"var/lib/ic/data/wasm_cache/module.so":              "compiled module\n",
		"run/ic-node/config/ic.json5":                       "{}\n",
		"opt/ic/bin/canister_sandbox":                       string(probe),
		"opt/ic/bin/ic-crypto-csp":                          string(probe),
	}
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o666)
		if strings.HasPrefix(rel, "opt/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	for _, d := range []string{"run/ic-node/crypto-csp", "var/lib/ic/crypto", "var/lib/ic/data/ic_state/page_deltas"} {
		os.MkdirAll(filepath.Join(root, d), 0o777)
		os.Chmod(filepath.Join(root, d), 0o777)
	}
	return root
}

// TestICNode runs two compartments of examples/ic-node with the probe as
// their program: the canister sandbox reaches neither the key store nor
// the network; the crypto vault reads its keys and serves its socket,
// but reaches no network either.
func TestICNode(t *testing.T) {
	modes(t, func(t *testing.T, e *env) {
		p, err := policy.Load("../examples/ic-node")
		if err != nil {
			t.Fatal(err)
		}
		root := icTree(t, e)
		at := func(rel string) string { return filepath.Join(root, rel) }
		o := sandbox.Options{RootPrefix: root, Environ: []string{"PATH=/usr/bin:/bin"}, Dir: "/"}
		if os.Geteuid() == 0 {
			// The IC's users do not exist here.
			o.User, o.Group = "nobody", "nogroup"
		}
		run := func(comp string, o sandbox.Options, args ...string) result {
			t.Helper()
			pl, err := sandbox.Build(p, comp, nil, o) // nil: the compartment's executable
			if err != nil {
				t.Fatal(err)
			}
			pl.Command = append(pl.Command, args...)
			var out, errb, refused bytes.Buffer
			code, err := sandbox.Run(pl, sandbox.Stdio{Stdout: &out, Stderr: &errb, Refused: &refused})
			if err != nil {
				if os.Geteuid() != 0 && strings.Contains(err.Error(), "namespaces") {
					t.Skip(err)
				}
				t.Fatalf("%s: %v", comp, err)
			}
			r := result{code: code, out: out.String(), err: errb.String() + refused.String(), got: map[string]string{}}
			for _, line := range strings.Split(r.out, "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					r.got[k] = v
				}
			}
			return r
		}
		host := fmt.Sprintf("127.0.0.1:%d", e.upstreamPort)
		key := at("var/lib/ic/crypto/sks_data.pb")
		vaultSock := at("run/ic-node/crypto-csp/socket")

		// The canister sandbox's own allowlist has no openat, socket or
		// clone: the Go probe cannot even start under it, and the
		// init reports what was refused.
		r := run("canister_sandbox", o, "read", key)
		if r.code == 0 || !strings.Contains(r.err, "refused syscall") {
			t.Errorf("canister sandbox with its own syscall filter: exit %d\n%s%s", r.code, r.out, r.err)
		}
		if _, ok := r.got["read "+key]; ok {
			t.Errorf("the probe ran its operations under the canister sandbox's filter")
		}

		// With the probe's syscalls added, Landlock and the namespaces
		// still isolate it.
		wide := o
		wide.AddSyscalls = []string{"@system-service"}
		r = run("canister_sandbox", wide,
			"read", key, "readdir", at("var/lib/ic/crypto"), "opath", key,
			"read", at("var/lib/ic/data/ic_state/page_deltas/0001.bin"),
			"write", at("var/lib/ic/data/ic_state/page_deltas/0001.bin"),
			"read", at("var/lib/ic/data/ic_state/checkpoints/1/state.pbuf"),
			"read", at("var/lib/ic/data/wasm_cache/module.so"),
			"write", at("var/lib/ic/data/wasm_cache/module.so"),
			"connect", host, "connect", "1.1.1.1:443", "unixconnect", vaultSock,
			"caps", "mptcp")
		expect(t, r, map[string]string{
			"read " + key:                        "EACCES",
			"readdir " + at("var/lib/ic/crypto"): "EACCES",
			"opath " + key:                       "EACCES",
			"read " + at("var/lib/ic/data/ic_state/page_deltas/0001.bin"):     "ok",
			"write " + at("var/lib/ic/data/ic_state/page_deltas/0001.bin"):    "ok",
			"read " + at("var/lib/ic/data/ic_state/checkpoints/1/state.pbuf"): "EACCES",
			"read " + at("var/lib/ic/data/wasm_cache/module.so"):              "ok",
			"write " + at("var/lib/ic/data/wasm_cache/module.so"):             "EACCES|EROFS",
			"connect " + host:          "EACCES|ENETUNREACH|ECONNREFUSED",
			"connect 1.1.1.1:443":      "EACCES|ENETUNREACH",
			"unixconnect " + vaultSock: "ENOENT|EACCES|ECONNREFUSED", // the private /run hides it
			"caps":                     "eff=0 prm=0 inh=0 bnd=0 amb=0 nnp=1",
			"mptcp":                    "EPROTONOSUPPORT",
		})

		// The crypto vault reads and creates keys, reads its config and
		// serves its socket; no network.
		r = run("crypto_vault", o,
			"read", key, "create", at("var/lib/ic/crypto/new_key"),
			"read", at("run/ic-node/config/ic.json5"),
			"unixlisten", vaultSock,
			"read", at("var/lib/ic/data/ic_state/page_deltas/0001.bin"),
			"connect", host, "connect", "1.1.1.1:443", "caps")
		expect(t, r, map[string]string{
			"read " + key: "ok",
			"create " + at("var/lib/ic/crypto/new_key"):                   "ok",
			"read " + at("run/ic-node/config/ic.json5"):                   "ok",
			"unixlisten " + vaultSock:                                     "ok",
			"read " + at("var/lib/ic/data/ic_state/page_deltas/0001.bin"): "EACCES",
			"connect " + host:                                             "EACCES|ENETUNREACH|ECONNREFUSED",
			"connect 1.1.1.1:443":                                         "EACCES|ENETUNREACH",
			"caps":                                                        "eff=0 prm=0 inh=0 bnd=0 amb=0 nnp=1",
		})
	})
}
