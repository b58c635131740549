package privacy

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseHCL: the decoder never panics; a configuration it accepts is
// valid, compiles, and filters events without panicking.
func FuzzParseHCL(f *testing.F) {
	f.Add([]byte(exampleHCL))
	f.Add([]byte("privacy {}\n"))
	f.Add([]byte("privacy {\n  allow_wildcard = true\n  event \"*\" { auto = [\"*\"] }\n}\n"))
	f.Add([]byte("privacy {\n  coarsen_time = 30\n  ip { mode = \"truncate\" }\n  redact \"r\" { pattern = \"(?P<secret>x+)y\" }\n}\n"))
	f.Add([]byte("privacy {\n  event \"T\" { pseudonymise = { \"a*\" = \"uid\" } }\n}\n"))
	kr := testKeyring(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := ParseHCL(src, "fuzz.hcl")
		if diags.HasErrors() {
			if FormatDiagnostics(diags) == "" {
				t.Fatal("errors without text")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid configuration: %v\n%s", err, src)
		}
		flt, err := NewFilter(cfg, kr)
		if err != nil {
			if cfg.EscrowFile != "" {
				return
			}
			t.Fatalf("accepted configuration does not compile: %v", err)
		}
		for _, typ := range []string{"SYSCALL", "T", "X"} {
			flt.Apply(Event{Type: typ, Fields: []Field{{Name: "a", Value: "10.0.0.1"}, {Name: "uid", Value: "0", Hint: HintUID}, {Name: "x", Value: "/home/a b"}}})
		}
	})
}

// FuzzLint: Lint never panics, and its findings point inside the input
// without echoing long matches.
func FuzzLint(f *testing.F) {
	f.Add([]byte(`{"type":"USER_LOGIN","fields":{"acct":"alice","addr":"96.241.146.97"}}`))
	f.Add([]byte("type=USER_AUTH msg=audit(1.2:3): pid=1 uid=1000 msg='op=x acct=\"dave\" addr=::1 res=ok'\n/home/x /root ssh-rsa AAAAB3Nza x@y"))
	f.Add([]byte(`{"saddr":"0A002BCB000000000000000000000000000000000000000100000000","k":["pan:k1:1.2.3.4",{"x":1000}]}`))
	f.Add([]byte("ip6:2001:db8::1 fe80::1%eth0 1.2.3.4.5 " + strings.Repeat("ab12", 20)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := Lint(bytes.NewReader(data), LintOptions{Values: []string{"alice", "x"}})
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(data, []byte{'\n'}) + 1
		for _, f := range fs {
			if f.Line < 1 || f.Line > lines || f.Offset < 0 || f.Class == "" {
				t.Fatalf("bad finding %+v (%d lines)", f, lines)
			}
			if utf8.RuneCountInString(f.Excerpt) > 40 {
				t.Fatalf("excerpt too long: %q", f.Excerpt)
			}
		}
	})
}

// FuzzScrubLeavesNothingForLint: whatever free text goes through a
// redact field, Lint's value classes find nothing in the result (the
// filter and the lint share their detectors, with stricter thresholds on
// the filter's side).
func FuzzScrubLeavesNothingForLint(f *testing.F) {
	for _, s := range []string{
		"nc 10.0.0.1 4444", "cat /home/alice/.ssh/id_rsa /root/x", "mail bob@example.org", testPEM,
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b",
		"curl https://u:p@h/ -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'",
		"k=" + strings.Repeat("0123456789abcdef", 5), "x q7Zr2Kx9PmW4tB8nL3vY6cH1sD5fG0jAq7Zr2Kx9 y",
		"/run/user/1000/bus fe80::1%eth0 ::ffff:1.2.3.4 [2001:db8::1]:443",
	} {
		f.Add(s)
	}
	cfg := BaseConfig()
	cfg.Events = []EventRule{{Type: "T", Fields: []FieldRule{{Field: "v", Action: ActionRedact}}}}
	flt := mustFilter(f, cfg, testKeyring(f))
	l := NewLinter(LintOptions{})
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := flt.Apply(Event{Type: "T", Fields: []Field{{Name: "v", Value: s}}})
		js := out.AppendJSON(nil)
		for _, fd := range l.Check(1, js) {
			t.Fatalf("after the filter: %v\n in: %q\nout: %s", fd, s, js)
		}
	})
}
