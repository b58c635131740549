package privacy

import (
	"net/netip"
	"strings"
	"testing"
)

// redactFilter returns a filter whose event "T" redacts field "v".
func redactFilter(t *testing.T, mod func(*Config)) (*Filter, *Keyring) {
	t.Helper()
	cfg := BaseConfig()
	cfg.Events = []EventRule{{Type: "T", Fields: []FieldRule{{Field: "v", Action: ActionRedact}}}}
	if mod != nil {
		mod(&cfg)
	}
	kr := testKeyring(t)
	return mustFilter(t, cfg, kr), kr
}

func redactOne(f *Filter, v string) string {
	out, _ := f.Apply(ev("T", "v", v))
	s, _ := out.Get("v")
	return s
}

const testPEM = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
-----END OPENSSH PRIVATE KEY-----`

func TestRedactionRules(t *testing.T) {
	f, kr := redactFilter(t, nil)
	ps := func(k Kind, v string) string { return kr.Pseudonym(k, v) }
	cases := []struct{ in, want, rule string }{
		{"key=" + testPEM + " rest", "key=[redacted:pem] rest", RulePEM},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "[redacted:pem]", RulePEM},
		{"echo ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop >> k",
			"echo [redacted:ssh-key] >> k", RuleSSHKey},
		{"curl -H eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
			"curl -H [redacted:jwt]", RuleJWT},
		{"git clone https://bob:s3cr3t@git.example.com/r.git", "git clone https://[redacted:url-credentials]@git.example.com/r.git", RuleURLCredentials},
		{"--password=hunter2", "--password=[redacted:password-arg]", RulePasswordArg},
		{"PGPASSWORD=hunter2 psql", "PGPASSWORD=[redacted:password-arg] psql", RulePasswordArg},
		{"login -u x --token abc123def", "login -u x --token [redacted:password-arg]", RulePasswordArg},
		{"db_password: 'x'", "db_password: '[redacted:password-arg]'", RulePasswordArg},
		{"Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted:bearer]", RuleBearer},
		{"mail -s hi carol.smith+x@example.co.uk", "mail -s hi [redacted:email]", RuleEmail},
		{"ssh -c chacha20-poly1305@openssh.com host", "ssh -c chacha20-poly1305@openssh.com host", ""},
		{"--key 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d", "--key [redacted:hex-secret]", RuleHexSecret},
		{"AWS_SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET=[redacted:password-arg]", RulePasswordArg},
		{"export K=q7Zr2Kx9PmW4tB8nL3vY6cH1sD5fG0jA more", "export K=[redacted:base64-secret] more", RuleBase64Secret},
		{"mv compass=north bypass=x", "mv compass=north bypass=x", ""},
		{"token:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpL", "token:[redacted:password-arg]", RulePasswordArg},
		{"cat /home/alice/.ssh/id_rsa", "cat /home/" + ps(KindUser, "alice") + "/.ssh/id_rsa", ""},
		{"/root/.bash_history", "/" + ps(KindUser, "root") + "/.bash_history", ""},
		{"cd /root", "cd /" + ps(KindUser, "root"), ""},
		{"/var/home/bob", "/var/home/" + ps(KindUser, "bob"), ""},
		{"/run/user/1000/bus", "/run/user/" + ps(KindUID, "1000") + "/bus", ""},
		{"/var/spool/cron/crontabs/dave", "/var/spool/cron/crontabs/" + ps(KindUser, "dave"), ""},
		{"/var/spool/cron/erin", "/var/spool/cron/" + ps(KindUser, "erin"), ""},
		{"/var/mail/frank", "/var/mail/" + ps(KindUser, "frank"), ""},
		{"nc 10.0.0.1 4444", "nc " + "pan:k1:" + kr.current.pan.Anonymize(netip.MustParseAddr("10.0.0.1")).String() + " 4444", ""},
		// Not secrets, not identifiers: unchanged.
		{"/usr/lib/x86_64-linux-gnu/libQt5Core.so.5", "/usr/lib/x86_64-linux-gnu/libQt5Core.so.5", ""},
		{"/proc/1/root/etc", "/proc/1/root/etc", ""},
		{"/usr/share/rootfs/x", "/usr/share/rootfs/x", ""},
		{"/home/", "/home/", ""},
		{"uuid 123e4567-e89b-12d3-a456-426614174000", "uuid 123e4567-e89b-12d3-a456-426614174000", ""},
		{"org.apache.catalina.startup.Bootstrap", "org.apache.catalina.startup.Bootstrap", ""},
		{"my-app-7d9f8b6c5-x2z4q tokenizer=x", "my-app-7d9f8b6c5-x2z4q tokenizer=x", ""},
		{"--token-file=/etc/t", "--token-file=/etc/t", ""},
	}
	for _, c := range cases {
		got := redactOne(f, c.in)
		if got != c.want {
			t.Errorf("redact %q\n got %q\nwant %q", c.in, got, c.want)
		}
		if c.rule != "" && f.Stats().Redactions[c.rule] == 0 {
			t.Errorf("rule %s not counted", c.rule)
		}
	}
}

func TestRedactionCustomAndDisabled(t *testing.T) {
	f, _ := redactFilter(t, func(c *Config) {
		c.Redact = []RedactRule{
			{Name: "aws-key", Pattern: `AKIA[0-9A-Z]{16}`},
			{Name: "ticket", Pattern: `ticket #(?P<secret>[0-9]+)`},
		}
		c.DisableBuiltins = []string{RuleEmail}
		c.GeneraliseHomes = false
	})
	for in, want := range map[string]string{
		"id AKIAIOSFODNN7EXAMPLE":  "id [redacted:aws-key]",
		"see ticket #4711 now":     "see ticket #[redacted:ticket] now",
		"mail bob@example.com":     "mail bob@example.com",
		"/home/alice/notes":        "/home/alice/notes",
		"--password=x user@h.test": "--password=[redacted:password-arg] user@h.test",
	} {
		if got := redactOne(f, in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
	for _, bad := range []RedactRule{{Name: "x", Pattern: "("}, {Name: "x", Pattern: "a*"}, {Name: "Bad Name", Pattern: "a"}, {Name: "email", Pattern: "a"}} {
		cfg := BaseConfig()
		cfg.Redact = []RedactRule{bad}
		if err := cfg.Validate(); err == nil {
			t.Errorf("rule %+v accepted", bad)
		}
	}
}

func TestIdentSegments(t *testing.T) {
	for in, want := range map[string]string{
		"/home/alice":              "alice",
		"x=/home/bob:/bin/sh":      "bob",
		"/mnt/backup/home/carol/x": "carol",
		"'/root'":                  "root",
		"/rootfs":                  "",
		"/var/root":                "",
		"/home/ps:k1:user:aaaa":    "",
		"/run/user/abc":            "",
		"/var/spool/cron/crontabs": "",
		"/home/[redacted:email]/x": "",
		"a /home/. b":              "",
	} {
		var got []string
		for _, sg := range identSegments(in) {
			got = append(got, in[sg.start:sg.end])
		}
		if strings.Join(got, ",") != want {
			t.Errorf("identSegments(%q) = %v, want %q", in, got, want)
		}
	}
}
