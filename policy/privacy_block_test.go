package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/rampart-sec/rampart/privacy"
)

// TestPrivacyBlock checks that the privacy block is decoded into the
// agent's privacy configuration, and that its problems are reported with
// their positions like every other block's.
func TestPrivacyBlock(t *testing.T) {
	src := `policy {
  name = "x"
}

compartment "a" {
  tier        = "trusted"
  executables = ["/bin/a"]
}

privacy {
  coarsen_time = "1m"
  ip {
    mode = "truncate"
  }
  redact "aws-key" {
    pattern = "AKIA[0-9A-Z]{16}"
  }
  event "SYSCALL" {
    keep         = ["comm"]
    pseudonymise = { uid = "uid" }
  }
}
`
	p, err := Parse("x.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Privacy
	if c == nil {
		t.Fatal("no privacy configuration")
	}
	if c.CoarsenTime != time.Minute || c.IP.Mode != privacy.IPTruncate || len(c.Redact) != 1 || c.Redact[0].Name != "aws-key" {
		t.Errorf("decoded %+v", c)
	}
	if p.PrivacyRange.Filename != "x.hcl" || p.PrivacyRange.Start.Line != 10 {
		t.Errorf("privacy block at %v", p.PrivacyRange)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("decoded configuration invalid: %v", err)
	}

	if p, err := Parse("none.hcl", []byte(src[:strings.Index(src, "privacy {")])); err != nil || p.Privacy != nil {
		t.Errorf("policy without a privacy block: %v, %+v", err, p)
	}
	for _, c := range []struct{ src, want string }{
		{src + "privacy {}\n", "x.hcl:23:1: second privacy block (the first is at x.hcl:10:1)"},
		{"privacy {\n  coarsen_time = \"bogus\"\n}\n", "x.hcl:2:18: invalid duration"},
		{"privacy {\n  nonsense = 1\n}\n", "x.hcl:2:3: unsupported argument"},
		{"privacy {\n  event \"X\" {\n    keep = [\"a[\"]\n  }\n}\n", "x.hcl:"},
	} {
		_, err := Parse("x.hcl", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}
