package privacy

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

const exampleHCL = `
privacy {
  coarsen_time     = "1m"
  unset_values     = ["4294967295", "?"]
  disable_builtin_redactions = ["base64-secret"]
  drop_events      = ["AVC"]
  keyring          = "/etc/rampart/privacy.keyring"

  ip {
    mode        = "truncate"
    ipv4_prefix = 16
    ipv6_prefix = 32
  }

  redact "aws-access-key" {
    pattern = "AKIA[0-9A-Z]{16}"
  }

  common {
    pseudonymise = { node = "host", "obj_user" = "principal" }
  }

  event "SYSCALL" {
    keep  = ["comm"]
    drop  = ["a0", "a1", "a2", "a3"]
  }

  event "MY_APP" {
    keep         = ["action"]
    pseudonymise = { who = "user" }
    anonymise    = ["peer"]
    redact       = ["arg*"]
    coarsen      = ["when"]
  }
}
`

func TestParseHCLExample(t *testing.T) {
	cfg, diags := ParseHCL([]byte(exampleHCL), "policy.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	if cfg.CoarsenTime != time.Minute || cfg.IP != (IPConfig{Mode: IPTruncate, V4Prefix: 16, V6Prefix: 32}) ||
		!slices.Equal(cfg.UnsetValues, []string{"4294967295", "?"}) || cfg.KeyringFile != "/etc/rampart/privacy.keyring" ||
		!slices.Equal(cfg.DisableBuiltins, []string{RuleBase64Secret}) || len(cfg.Redact) != 1 {
		t.Errorf("decoded %+v", cfg)
	}
	kr := testKeyring(t)
	f := mustFilter(t, cfg, kr)

	// SYSCALL: the defaults merged with the block (comm kept, a0–a3 dropped).
	out, ok := f.Apply(ev("SYSCALL", "node", "web1", "syscall", "59", "a0", "7f", "comm", "bash", "uid", "1000", "exe", "/home/x/AKIAIOSFODNN7EXAMPLE"))
	if !ok {
		t.Fatal("SYSCALL dropped")
	}
	want := []Field{{Name: "node", Value: kr.Pseudonym(KindHost, "web1")}, {Name: "syscall", Value: "59"}, {Name: "comm", Value: "bash"},
		{Name: "uid", Value: kr.Pseudonym(KindUID, "1000")}, {Name: "exe", Value: "/home/" + kr.Pseudonym(KindUser, "x") + "/[redacted:aws-access-key]"}}
	if !slices.Equal(out.Fields, want) {
		t.Errorf("SYSCALL\n got %v\nwant %v", out.Fields, want)
	}
	// A new type, with the common rules.
	in := ev("MY_APP", "action", "login", "who", "alice", "peer", "192.0.2.77", "arg1", "--password=x", "when", "1700000059", "obj_user", "u@R", "other", "x")
	out, _ = f.Apply(in)
	want = []Field{{Name: "action", Value: "login"}, {Name: "who", Value: kr.Pseudonym(KindUser, "alice")}, {Name: "peer", Value: "trunc:192.0.0.0/16"},
		{Name: "arg1", Value: "--password=[redacted:password-arg]"}, {Name: "when", Value: "1700000040"}, {Name: "obj_user", Value: kr.Pseudonym(KindPrincipal, "u@R")}}
	if !slices.Equal(out.Fields, want) {
		t.Errorf("MY_APP\n got %v\nwant %v", out.Fields, want)
	}
	if _, ok := f.Apply(ev("AVC", "tclass", "file")); ok {
		t.Error("dropped event type passed")
	}
}

func TestParseHCLDefaultsOff(t *testing.T) {
	cfg, diags := ParseHCL([]byte(`privacy {
  default_events = false
  event "X" { keep = ["a"] }
}`), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	if len(cfg.Events) != 1 || len(cfg.Common) != 0 || !cfg.GeneraliseHomes {
		t.Errorf("defaults off: %+v", cfg)
	}
	cfg, diags = ParseHCL([]byte("privacy {}\n"), "p.hcl")
	if diags.HasErrors() || len(cfg.Events) != len(DefaultConfig().Events) {
		t.Errorf("empty block should be the defaults: %v", diags)
	}
}

func TestParseHCLDiagnostics(t *testing.T) {
	cases := []struct {
		src, at, summary string
	}{
		{"privacy {\n  colour = 1\n}", "p.hcl:2:3", "Unsupported argument"},
		{"privacy {\n  event \"*\" {\n    keep = [\"a\"]\n  }\n}", "p.hcl:2:9", "Wildcard event type needs opt-in"},
		{"privacy {\n  event \"T\" {\n    keep = [\"a\"]\n    redact = [\"b\", \"a\"]\n  }\n}", "p.hcl:4:20", "Field listed twice"},
		{"privacy {\n  event \"T\" {\n    pseudonymise = { a = \"person\" }\n  }\n}", "p.hcl:3:26", "Unknown identifier kind"},
		{"privacy {\n  redact \"r\" {\n    pattern = \"(\"\n  }\n}", "p.hcl:3:15", "Invalid redaction pattern"},
		{"privacy {\n  redact \"r\" {\n    pattern = \"x*\"\n  }\n}", "p.hcl:3:15", "Invalid redaction pattern"},
		{"privacy {\n  redact \"email\" {\n    pattern = \"x\"\n  }\n}", "p.hcl:2:10", "Reserved redaction rule name"},
		{"privacy {\n  ip {\n    mode = \"hash\"\n  }\n}", "p.hcl:3:12", "Unknown IP mode"},
		{"privacy {\n  ip {\n    ipv4_prefix = 33\n  }\n}", "p.hcl:3:19", "Value out of range"},
		{"privacy {\n  coarsen_time = \"1.5s\"\n}", "p.hcl:2:18", "Invalid duration"},
		{"privacy {\n  event \"T\" {}\n  event \"T\" {}\n}", "p.hcl:3:9", "Duplicate event block"},
		{"privacy {\n  allow_wildcard = var.x\n}", "p.hcl:2:20", "Variables not allowed"},
		{"privacy {\n  event \"T\" {\n    keep = [\"a[\"]\n  }\n}", "p.hcl:3:13", "Invalid field name"},
		{"privacy {\n  disable_builtin_redactions = [\"pem\", \"nope\"]\n}", "p.hcl:2:40", "Unknown built-in redaction"},
		{"privacy {\n  event \"T\" {\n    keep = \"a\"\n  }\n}", "p.hcl:3:13", "A static list expression is required"},
		{"privacy {}\nprivacy {}\n", "p.hcl:2:1", "Duplicate privacy block"},
		{"policy {}\n", "p.hcl:1:1", "Unsupported block type"},
		{"privacy {\n", "p.hcl:1:9", "Unclosed configuration block"},
		{"", "p.hcl:1:1", "No privacy block"},
	}
	for _, c := range cases {
		_, diags := ParseHCL([]byte(c.src), "p.hcl")
		if !diags.HasErrors() {
			t.Errorf("%q: no error", c.src)
			continue
		}
		text := FormatDiagnostics(diags)
		if !strings.HasPrefix(text, c.at+": ") || !strings.Contains(text, c.summary) {
			t.Errorf("%q:\n got %s\nwant %s: %s…", c.src, strings.TrimSpace(text), c.at, c.summary)
		}
	}
}

func TestDecodeHCLEmbedded(t *testing.T) {
	// The policy owner embeds the block: DecodeHCL takes its body.
	cfg, diags := ParseHCL([]byte("privacy {\n  allow_wildcard = true\n  event \"*\" { keep = [\"x\"] }\n}\n"), "p.hcl")
	if diags.HasErrors() || !cfg.AllowWildcard {
		t.Fatal(FormatDiagnostics(diags))
	}
	var _ func(hcl.Body) (Config, hcl.Diagnostics) = DecodeHCL
}

func TestDefaultConfigValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, e := range cfg.Events {
		types[e.Type] = true
	}
	for _, want := range []string{"SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE", "SOCKADDR", "USER_LOGIN", "USER_CMD", "CRED_ACQ", "AVC", "LOGIN"} {
		if !types[want] {
			t.Errorf("default config lacks %s", want)
		}
	}
	if types["*"] || cfg.AllowWildcard {
		t.Error("default config has a wildcard")
	}
}

// TestDocsExample decodes the HCL example of docs/agent.md.
func TestDocsExample(t *testing.T) {
	b, err := os.ReadFile("../docs/agent.md")
	if err != nil {
		t.Skip(err)
	}
	doc := string(b)
	i := strings.Index(doc, "```hcl\nprivacy {")
	if i < 0 {
		t.Skip("no privacy example in docs/agent.md")
	}
	src := doc[i+len("```hcl\n"):]
	src = src[:strings.Index(src, "```")]
	cfg, diags := ParseHCL([]byte(src), "docs/agent.md")
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags))
	}
	cfg.EscrowFile = "" // the example names one; the filter then wants a writer
	mustFilter(t, cfg, testKeyring(t))
}
