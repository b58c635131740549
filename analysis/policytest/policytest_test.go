package policytest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/analysis"
	"github.com/rampart-sec/rampart/policy"
)

func analyzer(t *testing.T, paths ...string) *analysis.Analyzer {
	t.Helper()
	p, err := policy.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return analysis.New(p)
}

// TestExamples runs the example test files: every test passes.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/*" + policy.TestFileSuffix)
	if len(files) == 0 {
		t.Fatal("no example test files")
	}
	for _, name := range files {
		t.Run(filepath.Base(filepath.Dir(name)), func(t *testing.T) {
			f, err := ParseFile(name)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(analyzer(t, f.PolicyPaths()...), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(f.Tests) || len(res) < 5 {
				t.Fatalf("%d results for %d tests", len(res), len(f.Tests))
			}
			for _, r := range res {
				if !r.Passed {
					t.Errorf("%s: %s", r.Test, strings.Join(r.Failures, "; "))
				}
			}
		})
	}
}

// TestBrokenFail runs the ic-node tests against broken variants: the
// tests that guard the broken property fail, with a reason naming it.
func TestBrokenFail(t *testing.T) {
	f, err := ParseFile("../../examples/ic-node/policy_test.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		overlay, test, reason string
	}{
		{"node_sandbox_reads_keys.hcl", "canister sandboxes cannot touch key material", "deny: allowed: canister_sandbox may read node_keys"},
		{"node_sandbox_network.hcl", "sandboxes have no network", "deny: allowed: canister_sandbox may connect sandbox_exfil"},
		{"node_keys_to_network.hcl", "keys leave the node only through the vault", "no_flow: flow: node_keys -[read]-> replica -[reply]-> p2p"},
		{"node_execmem.hcl", "only the compiler sandbox has executable anonymous memory", "deny: allowed"},
		{"node_sandbox_reads_keys.hcl", "a compromised canister sandbox stays contained", "contains node_keys (read by canister_sandbox)"},
		{"node_replica_writes_boot.hcl", "only the upgrade manager writes the A/B slots", "deny: allowed: replica may write guestos_slots"},
	} {
		res, err := Run(analyzer(t, "../../examples/ic-node", "../../policy/testdata/broken/"+c.overlay), f)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range res {
			if r.Test != c.test {
				continue
			}
			found = true
			if r.Passed || !strings.Contains(strings.Join(r.Failures, "\n"), c.reason) {
				t.Errorf("%s: test %q: passed %v, failures %q, want %q", c.overlay, c.test, r.Passed, r.Failures, c.reason)
			}
			for _, fl := range r.Failures {
				if !strings.HasPrefix(fl, "../../examples/ic-node/policy_test.hcl:") {
					t.Errorf("failure without position: %s", fl)
				}
			}
		}
		if !found {
			t.Errorf("no test %q", c.test)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`expect "x" {`, "t.hcl:1:12: unclosed configuration block"},
		{`expect "x" {}`, `t.hcl:1:1: expect "x" checks nothing`},
		{"expect \"x\" {\n  deny {\n    subject = \"a\"\n    verb = \"reed\"\n    path = \"/x\"\n  }\n}\n", `t.hcl:4:12: unknown verb "reed"`},
		{"expect \"x\" {\n  deny {\n    subject = \"a\"\n    verb = \"read\"\n  }\n}\n", "t.hcl:2:3: deny needs one target, found 0"},
		{"expect \"x\" {\n  deny {\n    subject = \"a\"\n    verb = \"read\"\n    path = \"x\"\n  }\n}\n", `t.hcl:5:12: relative path "x"`},
		{"expect \"x\" {\n  allow {\n    verb = \"read\"\n    path = \"/x\"\n  }\n}\n", `t.hcl:2:9: missing required argument`},
		{"expect \"x\" {\n  flow {\n    from = \"a\"\n    to = \"b\"\n    max_steps = 0\n  }\n}\n", "t.hcl:5:17: invalid max_steps"},
		{"expect \"x\" {\n  blast_radius {\n    of = \"a\"\n  }\n}\n", "t.hcl:2:3: blast_radius expects nothing"},
		{"expect \"x\" {\n  blast_radius {\n    of = \"a\"\n    excludes = \"b\"\n  }\n}\n", "t.hcl:4:16: excludes: expected a list"},
		{"expect \"x\" {\n  nope {}\n}\n", "t.hcl:2:3: unsupported block type"},
		{"", "t.hcl:1:1: no tests"},
		{"policy = [\"\"]\nexpect \"x\" {\n  flow {\n    from = \"a\"\n    to = \"b\"\n  }\n}\n", "t.hcl:1:10: empty policy path"},
		{"expect \"x\" {\n  flow {\n    from = \"a\"\n    to = \"b\"\n  }\n}\nexpect \"x\" {\n  flow {\n    from = \"a\"\n    to = \"b\"\n  }\n}\n", `t.hcl:7:8: expect "x" already declared at t.hcl:1:1`},
	} {
		_, err := Parse("t.hcl", []byte(c.src))
		var pe *policy.Error
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v, want *policy.Error", c.src, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %s\nwant %s", c.src, err, c.want)
		}
	}
}

// TestRunErrors: names unknown to the policy are test-file errors with
// positions, not failures.
func TestRunErrors(t *testing.T) {
	a := analyzer(t, "../../examples/ic-node")
	for _, c := range []struct{ src, want string }{
		{"expect \"x\" {\n  deny {\n    subject = \"nobody\"\n    verb = \"read\"\n    path = \"/x\"\n  }\n}\n", `t.hcl:3:15: unknown subject "nobody"`},
		{"expect \"x\" {\n  deny {\n    subject = \"replica\"\n    verb = \"read\"\n    object = \"nothing\"\n  }\n}\n", `t.hcl:5:14: unknown target "nothing"`},
		{"expect \"x\" {\n  flow {\n    from = \"replika\"\n    to = network()\n  }\n}\n", `t.hcl:3:12: from of expect "x": unknown compartment, role, resource or channel "replika"`},
		{"expect \"x\" {\n  no_flow {\n    from = \"node_keys\"\n    to = labelled(\"nolabel\")\n  }\n}\n", `t.hcl:4:10: unknown label "nolabel"`},
		{"expect \"x\" {\n  no_flow {\n    from = \"node_keys\"\n    to = network()\n    except_through = [\"node_keys\"]\n  }\n}\n", `except_through of expect "x": "node_keys" is a resource`},
		{"expect \"x\" {\n  blast_radius {\n    of = \"nobody\"\n    excludes = []\n  }\n}\n", `t.hcl:3:10: unknown compartment or role "nobody"`},
		{"expect \"x\" {\n  blast_radius {\n    of = \"replica\"\n    excludes = [\"nothing\"]\n  }\n}\n", `t.hcl:2:3: blast_radius names unknown entity "nothing"`},
	} {
		f, err := Parse("t.hcl", []byte(c.src))
		if err != nil {
			t.Fatalf("%q: parse: %v", c.src, err)
		}
		_, err = Run(a, f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
}

func TestPolicyPaths(t *testing.T) {
	f, err := Parse("dir/t_test.hcl", []byte("policy = [\"../pol\", \"/abs\"]\nexpect \"x\" {\n  flow {\n    from = \"a\"\n    to = \"b\"\n  }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.PolicyPaths()
	if len(got) != 2 || got[0] != "pol" || got[1] != "/abs" {
		t.Errorf("paths %q", got)
	}
	f.Policy = nil
	if got := f.PolicyPaths(); len(got) != 1 || got[0] != "dir" {
		t.Errorf("default paths %q", got)
	}
}

// FuzzParse checks that parsing test files never panics and that errors
// are positioned *policy.Error values; parsed files run without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../examples/*/*" + policy.TestFileSuffix)
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("expect \"x\" {\n  deny {\n    subject = \"a\"\n    verb = \"read\"\n    port = \"tcp/1\"\n  }\n}\n"))
	f.Add([]byte("expect \"y\" {\n  blast_radius {\n    of = \"replica\"\n    takes_over = [\"canister_sandbox\"]\n  }\n}\n"))
	p, err := policy.Load("../../examples/ic-node")
	if err != nil {
		f.Fatal(err)
	}
	a := analysis.New(p)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.hcl", src)
		if err != nil {
			var pe *policy.Error
			if !errors.As(err, &pe) || len(pe.Diagnostics) == 0 {
				t.Fatalf("error is not a non-empty *policy.Error: %v", err)
			}
			_ = err.Error()
			return
		}
		res, err := Run(a, file)
		if err != nil {
			var pe *policy.Error
			if !errors.As(err, &pe) || len(pe.Diagnostics) == 0 {
				t.Fatalf("run error is not a non-empty *policy.Error: %v", err)
			}
			return
		}
		if len(res) != len(file.Tests) {
			t.Fatalf("%d results for %d tests", len(res), len(file.Tests))
		}
	})
}
