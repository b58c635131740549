package privacy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLintFindsPlantedValues(t *testing.T) {
	kr := testKeyring(t)
	ps := kr.Pseudonym(KindUser, "alice")
	input := strings.Join([]string{
		`{"type":"USER_LOGIN","fields":{"acct":"` + ps + `","addr":"96.241.146.97"}}`,                   // 1 ipv4 + raw-identifier (addr)
		`{"type":"X","fields":{"msg":"from 2001:db8::7 to fe80::1%eth0"}}`,                              // 2 ipv6 ×2
		`{"type":"X","fields":{"a1":"mail bob@example.org"}}`,                                           // 3 email
		`{"type":"CWD","fields":{"cwd":"/home/carol/src"}}`,                                             // 4 home-dir
		`{"type":"CWD","fields":{"cwd":"/root"}}`,                                                       // 5 home-dir
		`{"k":["` + strings.ReplaceAll(testPEM, "\n", `\n`) + `"]}`,                                     // 6 private-key
		`{"k":"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 x"}`,                                            // 7 ssh-key
		`{"k":"` + strings.Repeat("0123456789abcdef", 4) + `"}`,                                         // 8 hex-secret
		`{"sha256":"` + strings.Repeat("0123456789abcdef", 4) + `"}`,                                    // 9 digest field: nothing
		`{"k":"q7Zr2Kx9PmW4tB8nL3vY6cH1sD5fG0jAq7Zr2Kx9"}`,                                              // 10 base64-secret
		`type=USER_AUTH msg=audit(1.2:3): pid=1 uid=1000 auid=4294967295 msg='op=x acct="dave" res=ok'`, // 11 raw uid, raw acct, listed dave
		`free text with Erin's name and eve`,                                                            // 12 listed erin, eve
		`{"uid":1000,"gid":4294967295,"n":1000}`,                                                        // 13 raw-identifier (uid number)
		`{"saddr":"02000035C0A801010000000000000000"}`,                                                  // 14 ipv4 in a hex sockaddr
		`{"t":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc"}`,                                          // 15 jwt
		`{"p":"/run/user/1000/bus"}`,                                                                    // 16 user-path
		`ip6:2001:db8::1 ok`,                                                                            // 17 ipv6 after a word
	}, "\n")
	fs, err := Lint(strings.NewReader(input), LintOptions{Values: []string{"dave", "Erin", "eve", "  "}})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		line  int
		class Class
	}
	got := map[key]int{}
	for _, f := range fs {
		got[key{f.Line, f.Class}]++
	}
	want := map[key]int{
		{1, ClassIPv4}: 1, {1, ClassRawIdentifier}: 1,
		{2, ClassIPv6}:    2,
		{3, ClassEmail}:   1,
		{4, ClassHomeDir}: 1, {5, ClassHomeDir}: 1,
		{6, ClassPrivateKey}:     1,
		{7, ClassSSHKey}:         1,
		{8, ClassHexSecret}:      1,
		{10, ClassBase64Secret}:  1,
		{11, ClassRawIdentifier}: 2, {11, ClassListed}: 1,
		{12, ClassListed}:        2,
		{13, ClassRawIdentifier}: 1,
		{14, ClassIPv4}:          1,
		{15, ClassJWT}:           1,
		{16, ClassUserPath}:      1,
		{17, ClassIPv6}:          1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("line %d: %d %s findings, want %d", k.line, got[k], k.class, n)
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			t.Errorf("line %d: unexpected %d %s findings", k.line, n, k.class)
		}
	}
	for _, f := range fs {
		switch {
		case f.Line == 1 && f.Class == ClassIPv4 && f.Path != "fields.addr",
			f.Line == 11 && f.Class == ClassListed && f.Path != "acct",
			f.Line == 6 && f.Path != "k[0]":
			t.Errorf("finding %v: wrong path", f)
		}
		if strings.Contains(f.Excerpt, "96.241.146.97") || strings.Contains(f.Excerpt, "bob@example.org") || strings.Contains(f.Excerpt, "carol") {
			t.Errorf("excerpt echoes the raw value: %v", f)
		}
	}
}

// TestLintNoFalsePositives: what the filter writes, and ordinary audit
// vocabulary, is not reported.
func TestLintNoFalsePositives(t *testing.T) {
	kr := testKeyring(t)
	f := mustFilter(t, DefaultConfig(), kr)
	out, _ := f.Apply(ev("USER_LOGIN", "uid", "1000", "acct", "alice", "addr", "2001:db8::1", "hostname", "h.example",
		"cwd", "/home/alice/x", "cmd", "ssh bob@example.org -i /root/.ssh/id_rsa 10.1.2.3", "laddr", "10.0.0.1:22"))
	lines := []string{
		string(out.AppendJSON(nil)),
		`{"saddr":"family=inet addr=pan:k1:135.242.180.132 port=53","n":"trunc:10.1.0.0/16","v6":"trunc:2001:db8::/48"}`,
		`{"sha256":"` + strings.Repeat("ab01", 16) + `","root_hash":"` + strings.Repeat("cd23", 16) + `"}`,
		`type=CRYPTO_SESSION msg=audit(1481077041.515:406): cipher=chacha20-poly1305@openssh.com pfs=curve25519-sha256@libssh.org`,
		`fp=6d:a3:7f:ed:de:4a:79:f2:aa:49:ec:d1:75:36:97:a3 mac=52:54:00:12:34:56 time=12:30:45 std::map d::`,
		`kernel=3.10.0-327.36.3.el7.x86_64 ver=2.4.1 ts=1481077043.057 oid=1.3.6.1.4.1`,
		`subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 /proc/1/root /usr/share/rootfs uuid=123e4567-e89b-12d3-a456-426614174000`,
		`addr=0.0.0.0 a=:: auid=4294967295 acct="?" hostname=? uid=` + kr.Pseudonym(KindUID, "0"),
		`path=/usr/lib/x86_64-linux-gnu/libQt5Core.so.5 [redacted:email] [redacted:hex-secret]`,
	}
	fs, err := Lint(strings.NewReader(strings.Join(lines, "\n")), LintOptions{Values: []string{"alice", "bob", "h.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Errorf("false positive: %v in %.200s", f, lines[f.Line-1])
	}
}

func TestLintLimits(t *testing.T) {
	long := strings.Repeat("x", 100) + "\n"
	if _, err := Lint(strings.NewReader(long), LintOptions{MaxLineBytes: 50}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("over-long line: %v", err)
	}
	if _, err := Lint(strings.NewReader(long), LintOptions{MaxLineBytes: 100}); err != nil {
		t.Errorf("line at the limit: %v", err)
	}
	many := strings.Repeat("10.0.0.1 ", 30)
	fs, err := Lint(strings.NewReader(many), LintOptions{MaxFindings: 7})
	if !errors.Is(err, ErrTooManyFindings) || len(fs) != 7 {
		t.Errorf("MaxFindings: %d findings, %v", len(fs), err)
	}
	// A finding's String names the line, path and class, never the value.
	s := fmt.Sprint(Finding{Line: 3, Path: "fields.acct", Class: ClassListed, Excerpt: mask("andrew_kroh")})
	if s != `line 3: fields.acct: listed-value "an"…(11 bytes)` {
		t.Errorf("String = %s", s)
	}
	// Lines without a trailing newline and blank lines.
	fs, err = Lint(strings.NewReader("\n\n1.2.3.4"), LintOptions{})
	if err != nil || len(fs) != 1 || fs[0].Line != 3 {
		t.Errorf("last line: %v %v", fs, err)
	}
}

func TestLinterCheckRecord(t *testing.T) {
	l := NewLinter(LintOptions{IgnoreFields: []string{"peer"}, IdentifierFields: []string{"who"}, DigestFields: []string{}})
	if fs := l.Check(9, []byte(`{"peer":"10.1.1.1","who":"x"}`)); len(fs) != 1 || fs[0].Line != 9 || fs[0].Path != "who" || fs[0].Class != ClassRawIdentifier {
		t.Errorf("Check = %v", fs)
	}
	// With no digest fields, a digest is reported.
	if fs := l.Check(1, []byte(`{"sha256":"`+strings.Repeat("ab01", 16)+`"}`)); len(fs) != 1 {
		t.Errorf("digest with DigestFields empty: %v", fs)
	}
}
