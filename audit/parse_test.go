package audit

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

const syscallLine = `type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 a1=0 a2=7fffd19c4b50 a3=a items=1 ppid=2686 pid=3538 auid=500 uid=500 gid=500 euid=500 suid=500 fsuid=500 egid=500 sgid=500 fsgid=500 tty=pts0 ses=1 comm="cat" exe="/bin/cat" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key="sshd_config"`

func TestParseSyscall(t *testing.T) {
	r, err := Parse([]byte(syscallLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != TypeSyscall || r.Type.String() != "SYSCALL" || r.Stamp != (Stamp{1364481363, 243, 24287}) {
		t.Errorf("header %v %+v", r.Type, r.Stamp)
	}
	if r.Stamp.String() != "1364481363.243:24287" || !r.Stamp.Time().Equal(time.Unix(1364481363, 243e6)) {
		t.Errorf("stamp %s %v", r.Stamp, r.Stamp.Time())
	}
	if r.NumFields() != 26 {
		t.Errorf("%d fields", r.NumFields())
	}
	checks := map[string]string{"arch": "c000003e", "exit": "-13", "comm": "cat", "exe": "/bin/cat", "key": "sshd_config",
		"subj": "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"}
	for k, want := range checks {
		if v, ok := r.Get(k); !ok || v != want {
			t.Errorf("Get(%s) = %q, %v", k, v, ok)
		}
	}
	if a, _ := r.HexUint("arch"); Arch(a) != ArchX86_64 {
		t.Errorf("arch %x", a)
	}
	if x, _ := r.Int("exit"); x != -13 {
		t.Errorf("exit %d", x)
	}
	if p, _ := r.Uint("pid"); p != 3538 {
		t.Errorf("pid %d", p)
	}
	if _, ok := r.Get("nope"); ok || r.Has("nope") {
		t.Error("missing field found")
	}
	if raw, enc, _ := r.Raw("exe"); string(raw) != "/bin/cat" || enc != Quoted {
		t.Errorf("Raw(exe) %q %v", raw, enc)
	}
	if !bytes.Equal(r.Text(), []byte(syscallLine)) || !bytes.HasPrefix(r.Body(), []byte("arch=")) {
		t.Errorf("text/body")
	}
	c := r.Clone()
	r.Text()[len(r.Text())-2] = 'X' // the original's buffer changes; the clone's must not
	if v, _ := c.Get("key"); v != "sshd_config" || c.NumFields() != r.NumFields() {
		t.Errorf("clone key %q", v)
	}
}

func TestParseNetlinkForm(t *testing.T) {
	body := syscallLine[strings.Index(syscallLine, "audit("):]
	r, err := ParseNetlink(TypeSyscall, []byte(body+"\x00"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := Parse([]byte(syscallLine))
	if r.Stamp != l.Stamp || r.NumFields() != l.NumFields() {
		t.Errorf("netlink %+v/%d vs log %+v/%d", r.Stamp, r.NumFields(), l.Stamp, l.NumFields())
	}
	for i := range r.NumFields() {
		if r.Field(i) != l.Field(i) {
			t.Errorf("field %d: %+v vs %+v", i, r.Field(i), l.Field(i))
		}
	}
	if _, err := ParseNetlink(1300, []byte("arch=c000003e")); !isReason(err, ReasonNoHeader) {
		t.Errorf("netlink without header: %v", err)
	}
	// a type the table does not know keeps its number
	u, err := ParseNetlink(1399, []byte("audit(1.001:2): x=1"))
	if err != nil || u.Type.Known() || u.Type.String() != "UNKNOWN[1399]" {
		t.Errorf("unknown type: %v %v", u, err)
	}
}

func isReason(err error, r Reason) bool {
	var pe *ParseError
	return errors.As(err, &pe) && pe.Reason == r
}

func TestParseEncodings(t *testing.T) {
	cases := []struct {
		line, key, want string
		enc             Encoding
	}{
		{`type=PROCTITLE msg=audit(1.000:1): proctitle=6C73002D6C61`, "proctitle", "ls\x00-la", Hex},
		{`type=PROCTITLE msg=audit(1.000:1): proctitle="bash"`, "proctitle", "bash", Quoted},
		{`type=PATH msg=audit(1.000:1): item=0 name=2F746D702F6120622063 nametype=NORMAL`, "name", "/tmp/a b c", Hex},
		{`type=PATH msg=audit(1.000:1): item=0 name=(null) nametype=NORMAL`, "name", "(null)", Plain},
		{`type=PATH msg=audit(1.000:1): item=0 inode=1234 dev=fd:01`, "inode", "1234", Plain}, // not an encoded field
		{`type=EXECVE msg=audit(1.000:1): argc=2 a0="ls" a1=2D6C`, "a1", "-l", Hex},
		{`type=EXECVE msg=audit(1.000:1): argc=2 a0="ls" a1_len=4 a1[0]=2D6C`, "a1[0]", "-l", Hex},
		{`type=EXECVE msg=audit(1.000:1): argc=1 a0_len=1234`, "a0_len", "1234", Plain},
		{`type=SYSCALL msg=audit(1.000:1): a0=1234 comm=6162`, "a0", "1234", Plain}, // a0 is an argument, not text, in SYSCALL
		{`type=SYSCALL msg=audit(1.000:1): comm=6162`, "comm", "ab", Hex},
		{`type=SYSCALL msg=audit(1.000:1): key=65786563013634626974"`, "key", "exec\x0164bit", Hex}, // stray quote, as in go-libaudit's ubuntu17 log
		{`type=USER_LOGIN msg=audit(1.000:1): pid=1 msg='op=login acct=28696E76616C6964207573657229 res=failed'`, "acct", "(invalid user)", Hex},
		{`type=USER_ACCT msg=audit(1.000:1): pid=1 msg='op=x acct=root res=success'`, "acct", "root", Plain},
		{`type=USER_TTY msg=audit(1.000:1): pid=1 msg=6C730D`, "msg", "ls\r", Hex},
		{`type=SYSCALL msg=audit(1.000:1): subj==unconfined key=(null)`, "subj", "=unconfined", Plain},
		{`type=CRYPTO_SESSION msg=audit(1.000:1): msg='op=start mac= pfs=x'`, "mac", "", Plain},
		{`type=USER_START msg=audit(1.000:1): msg='PAM: session open acct=root : exe="/usr/sbin/crond" (hostname=?, addr=?, terminal=cron res=success)'`, "res", "success", Plain},
		{`type=USER_START msg=audit(1.000:1): msg='PAM: session open acct=root : exe="/usr/sbin/crond" (hostname=?, addr=?, terminal=cron res=success)'`, "hostname", "?", Plain},
		{`type=USER_CMD msg=audit(1.000:1): msg='cwd="/home/o'brien" cmd=6C73 res=success'`, "cwd", "/home/o'brien", Quoted},
		{`type=USER_CMD msg=audit(1.000:1): msg='cwd="/home/o'brien" cmd=6C73 res=success'`, "cmd", "ls", Hex},
		{`type=AVC msg=audit(1.000:1): avc:  denied  { read write } for  pid=1 comm="x" tclass=file permissive=0`, "seperms", "read write", Braced},
		{`type=AVC msg=audit(1.000:1): avc:  denied  { read write } for  pid=1 comm="x" tclass=file permissive=0`, "seresult", "denied", Plain},
		{`type=LOGIN msg=audit(1.000:1): login pid=1 uid=0 old auid=4294967295 new auid=0`, "old-auid", "4294967295", Plain},
		{`type=LOGIN msg=audit(1.000:1): login pid=1 uid=0 old auid=4294967295 new auid=0`, "auid", "0", Plain},
		{`type=DAEMON_CONFIG msg=audit(1490239800.477:34) config changed, auid=0 pid=1512 res=success`, "pid", "1512", Plain},
	}
	for _, c := range cases {
		r, err := Parse([]byte(c.line))
		if err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		v, ok := r.Get(c.key)
		_, enc, _ := r.Raw(c.key)
		if !ok || v != c.want || enc != c.enc {
			t.Errorf("%s\n  %s = %q (%v, %v), want %q (%v)", c.line, c.key, v, enc, ok, c.want, c.enc)
		}
	}
}

func TestParseEnrichedAndNode(t *testing.T) {
	r, err := Parse([]byte("node=web1 type=PATH msg=audit(1.000:1): item=0 name=\"/x\" cap_frootid=0\x1dOUID=\"root\" OGID=\"root\""))
	if err != nil {
		t.Fatal(err)
	}
	if r.Node != "web1" {
		t.Errorf("node %q", r.Node)
	}
	if v, _ := r.Get("cap_frootid"); v != "0" {
		t.Errorf("cap_frootid %q", v)
	}
	if v, _ := r.Enriched("OUID"); v != "root" {
		t.Errorf("OUID %q", v)
	}
	if r.Has("OUID") {
		t.Error("enrichment fields are found by Get")
	}
	if _, ok := r.Enriched("cap_frootid"); ok {
		t.Error("raw fields are found by Enriched")
	}
}

// TestParseBad: input that is not a record fails with a reason, never a
// panic, and a valid record cut at any byte either still parses (the cut
// fell between fields) or reports why not.
func TestParseBad(t *testing.T) {
	bad := map[string]Reason{
		"":                              ReasonBlank,
		"   ":                           ReasonBlank,
		"garbage":                       ReasonNoType,
		"\x00\x01\x02\xff":              ReasonNoType,
		"type=FOOBAR msg=audit(1.0:1):": ReasonUnknownType,
		"type=SYSCALL msg=?":            ReasonNoHeader,
		"type=UNKNOWN[1329] msg=?":      ReasonNoHeader,
		"type=SYSCALL msg=audit(":       ReasonBadStamp,
		"type=SYSCALL msg=audit(1:2)":   ReasonBadStamp,
		"type=SYSCALL msg=audit(1.2)":   ReasonBadStamp,
		"type=SYSCALL msg=audit(1.2:)":  ReasonBadStamp,
		"type=SYSCALL msg=audit(99999999999999999999.2:3):":         ReasonBadStamp,
		`type=SYSCALL msg=audit(1.2:3): comm="ca`:                   ReasonUnterminated,
		`type=USER_LOGIN msg=audit(1.2:3): msg='op=login acct="ro'`: ReasonUnterminated,
	}
	for in, want := range bad {
		_, err := Parse([]byte(in))
		if !isReason(err, want) {
			t.Errorf("%q: %v, want %v", in, err, want)
		}
		if err != nil && err.Error() == "" {
			t.Error("empty error text")
		}
	}
	line := []byte(`type=USER_LOGIN msg=audit(1492896301.818:19955): pid=12635 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=28696E76616C6964207573657229 exe="/usr/sbin/sshd" hostname=? addr=179.38.151.221 terminal=sshd res=failed'` + "\x1dUID=\"root\"")
	reasons := map[Reason]int{}
	for i := range line {
		r, err := Parse(line[:i])
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("cut at %d: error %T", i, err)
			}
			reasons[pe.Reason]++
			continue
		}
		reasons[ReasonNone]++
		for j := range r.NumFields() {
			r.Field(j)
		}
	}
	if reasons[ReasonUnterminated] == 0 || reasons[ReasonBadStamp] == 0 || reasons[ReasonNone] == 0 {
		t.Errorf("cuts by reason: %v", reasons)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "type=SYSCALLmsg=audit(1.2:3):\"' {}\x1d=a0x"
	for range 20000 {
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if r, err := Parse(b); err == nil {
			for j := range r.NumFields() {
				f := r.Field(j)
				r.Get(f.Key)
			}
		}
	}
}

// TestReaderBadInput: a log with garbage, a truncated record, a line over
// the limit, an unknown type name and an unknown type number: every bad
// line is counted under its reason and skipped, the good ones parse.
func TestReaderBadInput(t *testing.T) {
	huge := "type=EXECVE msg=audit(1.000:9): argc=1 a0=\"" + strings.Repeat("x", 70<<10) + "\""
	in := strings.Join([]string{
		"type=SYSCALL msg=audit(1.000:1): pid=1 comm=\"a\"",
		"garbage here",
		"type=SYSCALL msg=audit(1.000:2): pid=1 comm=\"tru",
		huge,
		"type=NOT_A_TYPE msg=audit(1.000:3): x=1",
		"type=UNKNOWN[1999] msg=audit(1.000:4): x=1",
		"",
		"# comment",
		"type=EOE msg=audit(1.000:1): \r",
		"type=SYSCALL msg=audit(1.000:5): pid=1 comm=\"last, no newline\"",
	}, "\n")
	var skips []string
	rd := NewReader(strings.NewReader(in), ReaderOptions{OnSkip: func(line int, r Reason, text []byte) {
		skips = append(skips, r.String()+"@"+strconv.Itoa(line))
	}})
	var got []uint64
	for {
		r, err := rd.Next()
		if err != nil {
			break
		}
		got = append(got, r.Stamp.Serial)
	}
	st := rd.Stats()
	if len(got) != 4 || got[0] != 1 || got[1] != 4 || got[2] != 1 || got[3] != 5 {
		t.Errorf("records %v", got)
	}
	if st.Skipped[ReasonNoType] != 1 || st.Skipped[ReasonUnterminated] != 1 || st.Skipped[ReasonTooLong] != 1 ||
		st.Skipped[ReasonUnknownType] != 1 || st.Skipped[ReasonBlank] != 1 || st.Skipped[ReasonComment] != 1 ||
		st.Errors() != 4 || st.Unknown != 1 || st.Lines != 10 {
		t.Errorf("stats %+v, skips %v", st, skips)
	}
	want := "no type= field@2 unterminated quoted value (truncated record)@3 line too long@4 unknown record type name@5 blank line@7 comment@8"
	if strings.Join(skips, " ") != want {
		t.Errorf("skips\n %s\nwant\n %s", strings.Join(skips, " "), want)
	}
	// a larger limit takes the long line
	rd = NewReader(strings.NewReader(huge+"\n"), ReaderOptions{MaxLine: 1 << 20})
	if r, err := rd.Next(); err != nil || len(r.Text()) != len(huge) {
		t.Errorf("long line with a larger limit: %v", err)
	}
}

func TestRecordTypes(t *testing.T) {
	for _, name := range []string{"SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE", "SOCKADDR", "USER_LOGIN", "USER_CMD",
		"LOGIN", "AVC", "SELINUX_ERR", "CONFIG_CHANGE", "EOE", "BPRM_FCAPS", "ANOM_ABEND", "ANOM_PROMISCUOUS",
		"NETFILTER_CFG", "SECCOMP", "KERN_MODULE", "BPF", "APPARMOR_DENIED", "CRYPTO_KEY_USER", "DAEMON_START"} {
		typ, ok := ParseRecordType(name)
		if !ok || typ.String() != name || !typ.Known() {
			t.Errorf("%s: %d %v", name, typ, ok)
		}
	}
	if typ, ok := ParseRecordType("UNKNOWN[1700]"); !ok || typ != 1700 || typ.String() != "ANOM_PROMISCUOUS" {
		t.Errorf("UNKNOWN[1700]: %v", typ)
	}
	if _, ok := ParseRecordType("UNKNOWN[x]"); ok {
		t.Error("UNKNOWN[x] accepted")
	}
	if !TypeUserLogin.Standalone() || TypeSyscall.Standalone() || TypeAVC.Standalone() || !TypeDaemonStart.Standalone() {
		t.Error("Standalone")
	}
	if SyscallName(ArchX86_64, 59) != "execve" || SyscallName(ArchAArch64, 221) != "execve" || SyscallName(ArchI386, 11) != "execve" {
		t.Error("execve numbers")
	}
	if n, _ := SyscallNumber(ArchAArch64, "openat"); n != 56 {
		t.Errorf("aarch64 openat %d", n)
	}
	if n, _ := SyscallNumber(ArchX86_64, "file_setattr"); n != 469 {
		t.Errorf("x86_64 file_setattr %d", n)
	}
	if SyscallName(ArchPPC64, 1) != "" || len(Syscalls(ArchX86_64)) < 400 {
		t.Error("tables")
	}
}
