package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpusExpect pins, per shared log, the records, the events and the
// hex-encoded fields decoded. Records and events are also recomputed
// independently from the raw text (lines with a type= field, distinct
// audit(…:serial) stamps), so a new file needs no entry here to be
// checked; the entry adds the exact counts.
var corpusExpect = map[string]struct {
	records, events, hex int
}{
	"laurel/fork-sleep-exec.txt":            {13, 3, 0},
	"laurel/record-avc-apparmor.txt":        {3, 1, 0},
	"laurel/record-bind-ipv4-bigendian.txt": {4, 1, 1},
	"laurel/record-connect.txt":             {6, 2, 0},
	"laurel/record-execve-long.txt":         {9, 1, 4},
	"laurel/record-execve.txt":              {7, 1, 0},
	"laurel/record-login.txt":               {3, 1, 0},
	"laurel/record-perl-reverse-shell.txt":  {8, 1, 2},
	"laurel/record-ptrace.txt":              {3, 1, 0},
	"laurel/record-syscall-nullkey.txt":     {8, 3, 1},
	"laurel/record-weblogic.txt":            {6, 1, 0},
	"laurel/shell-proc-trace-reordered.txt": {39, 9, 0},
	"laurel/shell-proc-trace.txt":           {39, 9, 0},
	"libaudit/audit-rhel6.log":              {2, 2, 2},
	"libaudit/audit-rhel7.log":              {49, 46, 6},
	"libaudit/audit-ubuntu14.log":           {1, 1, 1},
	"libaudit/audit-ubuntu16.log":           {3, 3, 1},
	"libaudit/audit-ubuntu17.log":           {1, 1, 1},
	"libaudit/test2.log":                    {10, 7, 0},
	"libaudit/test3.log":                    {17, 10, 4},
	"spade/audit_cat.log":                   {277, 239, 0},
	"spade/audit_ls.log":                    {268, 231, 0},
	"spade/audit_mmap.log":                  {373, 370, 0},
	"spade/audit_ping.log":                  {302, 278, 0},
	"spade/audit_rm.log":                    {156, 141, 0},
	"spade/audit_touch.log":                 {97, 79, 0},
	"spade/audit_vim_unit.log":              {388, 368, 0},
	"spade/audit_wget_unit.log":             {537, 397, 0},
}

// knownBad lists the lines of the shared logs that are not records, with
// the reason they must be skipped for. The one entry is go-libaudit's
// test line "type=UNKNOWN[1329] msg=?" (no audit(…) header at all).
var knownBad = map[string]map[Reason]uint64{
	"libaudit/audit-rhel7.log": {ReasonNoHeader: 1},
}

var stampRE = regexp.MustCompile(`msg=audit\(\d+\.\d+:(\d+)\)`)

// TestCorpus parses and reassembles every shared log: every record line
// parses, every hex-encoded field decodes to what it should, and the
// events are exactly the distinct serials.
func TestCorpus(t *testing.T) {
	dir := sharedAuditDir(t)
	files := corpusFiles(t, dir)
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			// independent counts from the raw text
			wantRecords, comments, blank := 0, 0, 0
			serials := map[string]bool{}
			for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
				switch tl := strings.TrimSpace(l); {
				case tl == "":
					blank++
				case strings.HasPrefix(tl, "#"):
					comments++
				case strings.HasPrefix(tl, "type=") || strings.HasPrefix(tl, "node="):
					if m := stampRE.FindStringSubmatch(l); m != nil {
						wantRecords++
						serials[m[1]] = true
					}
				}
			}

			var skipped []string
			rd := NewReader(bytes.NewReader(data), ReaderOptions{OnSkip: func(line int, r Reason, text []byte) {
				if r != ReasonBlank && r != ReasonComment {
					skipped = append(skipped, r.String()+": "+string(text))
				}
			}})
			var events []*Event
			re := NewReassembler(ReassemblerConfig{OnEvent: func(e *Event) { events = append(events, e) }})
			hex := 0
			for {
				rec, err := rd.Next()
				if err != nil {
					break
				}
				hex += checkRecord(t, rec)
				re.Push(rec)
			}
			re.Flush()
			st := rd.Stats()

			if st.Records != uint64(wantRecords) {
				t.Errorf("parsed %d records, the file has %d record lines", st.Records, wantRecords)
			}
			if st.Skipped[ReasonComment] != uint64(comments) || st.Skipped[ReasonBlank] != uint64(blank) {
				t.Errorf("comments/blank %d/%d, want %d/%d", st.Skipped[ReasonComment], st.Skipped[ReasonBlank], comments, blank)
			}
			for r := ReasonNoType; r < numReasons; r++ {
				if st.Skipped[r] != knownBad[name][r] {
					t.Errorf("%d lines skipped for %q, want %d: %q", st.Skipped[r], r, knownBad[name][r], skipped)
				}
			}
			if st.Unknown != 0 {
				t.Errorf("%d records of unknown type", st.Unknown)
			}
			if len(events) != len(serials) {
				t.Errorf("%d events, %d distinct serials", len(events), len(serials))
			}
			rs := re.Stats()
			if rs.InFlight != 0 || rs.LateRecords != 0 || rs.OrphanEOE != 0 || rs.LateEOE != 0 {
				t.Errorf("reassembler: %+v", rs)
			}
			n := 0
			for _, e := range events {
				for _, r := range e.Records {
					if r.Stamp != e.Stamp || r.Node != e.Node {
						t.Errorf("record %s in event %s", r.Stamp, e.Stamp)
					}
				}
				n += len(e.Records)
				if e.EOE {
					n++
				}
				checkEvent(t, e)
			}
			if uint64(n) != st.Records {
				t.Errorf("events hold %d records, %d were read", n, st.Records)
			}
			want, ok := corpusExpect[name]
			if !ok {
				t.Logf("no pinned counts for %s (records %d, events %d, hex %d)", name, st.Records, len(events), hex)
				return
			}
			if int(st.Records) != want.records || len(events) != want.events || hex != want.hex {
				t.Errorf("records/events/hex %d/%d/%d, pinned %d/%d/%d", st.Records, len(events), hex, want.records, want.events, want.hex)
			}
		})
	}
	for name := range corpusExpect {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("pinned file %s is missing from the shared logs", name)
		}
	}
}

// checkRecord checks every field of rec and returns how many hex-encoded
// values it decoded. Decoded strings must be valid UTF-8 without control
// characters, except where control bytes are the data: TTY keystrokes,
// the NULs between proctitle arguments, the 0x01 between rule keys.
func checkRecord(t *testing.T, rec *Record) int {
	t.Helper()
	hex := 0
	for i := range rec.NumFields() {
		f := rec.Field(i)
		if f.Key == "" {
			t.Errorf("%s: empty key in %q", rec.Stamp, rec.Text())
		}
		if v, ok := rec.Get(f.Key); ok && !f.Enriched && !f.Inner && v != rec.Field(firstIndex(rec, f.Key)).Value {
			t.Errorf("Get(%q) disagrees with Field", f.Key)
		}
		if f.Encoding != Hex {
			continue
		}
		hex++
		if len(f.Value)*2 != len(f.Raw) {
			t.Errorf("%s %s=%s: decoded to %d bytes", rec.Type, f.Key, f.Raw, len(f.Value))
		}
		v := f.Value
		switch {
		case f.Key == "data" || (rec.Type == TypeUserTTY && f.Key == "msg"):
			continue
		case f.Key == "proctitle":
			v = strings.ReplaceAll(v, "\x00", " ")
		case f.Key == "key":
			v = strings.ReplaceAll(v, "\x01", " ")
		}
		if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }) {
			t.Errorf("%s %s: decoded value is not printable: %q", rec.Type, f.Key, v)
		}
	}
	return hex
}

func firstIndex(rec *Record, key string) int {
	for i := range rec.NumFields() {
		if f := rec.Field(i); f.Key == key && !f.Enriched {
			return i
		}
	}
	return -1
}

// checkEvent runs every helper of e: none may panic, and facts that the
// records carry must come out.
func checkEvent(t *testing.T, e *Event) {
	t.Helper()
	if s := e.First(TypeSyscall); s != nil {
		if e.SyscallName() == "" {
			t.Errorf("%s: no syscall name", e.Stamp)
		}
		if _, ok := e.Success(); !ok {
			t.Errorf("%s: no success", e.Stamp)
		}
		if _, ok := e.PID(); !ok {
			t.Errorf("%s: no pid", e.Stamp)
		}
		if a, ok := e.Arch(); !ok || a == 0 {
			t.Errorf("%s: no arch", e.Stamp)
		}
	}
	if e.First(TypeExecve) != nil {
		argv, complete := e.Argv()
		// laurel's record-execve-long.txt holds 8192 of the 16384 bytes
		// its a1_len announces: Argv must say so
		if !complete && e.Stamp.Serial != 21028 || len(argv) == 0 {
			t.Errorf("%s: argv incomplete (%d arguments)", e.Stamp, len(argv))
		}
	}
	if e.First(TypeSockaddr) != nil {
		if _, ok := e.Sockaddr(); !ok {
			t.Errorf("%s: sockaddr not decoded", e.Stamp)
		}
	}
	if e.First(TypePath) != nil && len(e.Paths()) == 0 {
		t.Errorf("%s: no paths", e.Stamp)
	}
	e.Proctitle()
	e.Keys()
	e.AVC()
	e.Cwd()
	e.Exe()
}

// TestCorpusFacts checks decoded facts of particular shared events.
func TestCorpusFacts(t *testing.T) {
	dir := sharedAuditDir(t)
	load := func(name string) []*Event {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var evs []*Event
		re := NewReassembler(ReassemblerConfig{OnEvent: func(e *Event) { evs = append(evs, e) }})
		if _, err := ReadAll(f, re, ReaderOptions{}); err != nil {
			t.Fatal(err)
		}
		return evs
	}

	t.Run("perl reverse shell", func(t *testing.T) {
		e := load("laurel/record-perl-reverse-shell.txt")[0]
		pt, _ := e.Proctitle()
		if !strings.HasPrefix(pt, "perl -e use Socket;$i=\"10.0.0.1\"") {
			t.Errorf("proctitle %q", pt)
		}
		argv, ok := e.Argv()
		if !ok || len(argv) != 3 || argv[0] != "perl" || argv[1] != "-e" ||
			!strings.Contains(argv[2], `exec("/bin/sh -i");`) {
			t.Errorf("argv %q %v", argv, ok)
		}
		if e.SyscallName() != "execve" || e.How != CompleteEOE {
			t.Errorf("syscall %s, completed by %s", e.SyscallName(), e.How)
		}
		if uid, _ := e.UID(); uid != 0 {
			t.Errorf("uid %d", uid)
		}
		if auid, _ := e.AUID(); auid != 1000 {
			t.Errorf("auid %d", auid)
		}
		if s, _ := e.First(TypeSyscall).Enriched("AUID"); s != "user" {
			t.Errorf("enriched AUID %q", s)
		}
		if subj, _ := e.Subject(); subj != "=unconfined" {
			t.Errorf("subj %q", subj)
		}
		if p := e.Paths(); len(p) != 3 || p[2].Name != "/lib64/ld-linux-x86-64.so.2" || p[0].Mode != 0o100755 || p[0].NameType != "NORMAL" {
			t.Errorf("paths %+v", p)
		}
	})
	t.Run("execve split across records", func(t *testing.T) {
		e := load("laurel/record-execve-long.txt")[0]
		// a1_len=16384, but the three a1[i] chunks (3732+3746+714
		// bytes, across three EXECVE records) hold 8192: the argument
		// is reassembled and reported incomplete
		argv, ok := e.Argv()
		if ok || len(argv) != 2 || argv[0] != "/bin/echo" || len(argv[1]) != 8192 {
			t.Fatalf("argv complete=%v len=%d", ok, len(argv))
		}
		a := argv[1]
		// markers at the chunk edges: b…c | d…e | f…g
		if a[0] != 'b' || a[3731] != 'c' || a[3732] != 'd' || a[7477] != 'e' || a[7478] != 'f' || a[8191] != 'g' ||
			strings.Count(a, "a") != 8192-6 {
			t.Errorf("reassembled argument %.40q…", a)
		}
		if l, _ := e.First(TypeExecve).Uint("a1_len"); l != 16384 {
			t.Errorf("a1_len %d", l)
		}
		if len(e.All(TypeExecve)) != 3 {
			t.Errorf("%d EXECVE records", len(e.All(TypeExecve)))
		}
	})
	t.Run("sockaddr", func(t *testing.T) {
		evs := load("laurel/record-connect.txt")
		s0, _ := evs[0].Sockaddr()
		s1, _ := evs[1].Sockaddr()
		if s0.String() != "127.0.0.1:11211" || s1.String() != "[::1]:11211" || s1.FamilyName() != "inet6" {
			t.Errorf("sockaddrs %s %s", s0, s1)
		}
		if ex, _ := evs[1].Exit(); ex != -115 || evs[1].SyscallName() != "connect" {
			t.Errorf("exit %d syscall %s", ex, evs[1].SyscallName())
		}
		be := load("laurel/record-bind-ipv4-bigendian.txt")[0]
		s, _ := be.Sockaddr()
		pt, _ := be.ProctitleArgs()
		if s.Family != AFInet || s.Port != 55555 || s.Addr.String() != "0.0.0.0" || strings.Join(pt, " ") != "nc -l -p 55555" {
			t.Errorf("big-endian bind: %+v %q", s, pt)
		}
		rhel := load("libaudit/audit-rhel7.log")
		got := map[string]bool{}
		for _, e := range rhel {
			if s, ok := e.Sockaddr(); ok {
				got[s.String()] = true
			}
		}
		for _, want := range []string{"169.254.169.254:80", "unix:/var/run/nscd/socket", "netlink:pid=0", "[::]:22", "unspec"} {
			if !got[want] {
				t.Errorf("rhel7 sockaddr %s not decoded (got %v)", want, got)
			}
		}
	})
	first := func(evs []*Event, t RecordType) *Event {
		for _, e := range evs {
			if e.First(t) != nil {
				return e
			}
		}
		return nil
	}
	t.Run("avc", func(t *testing.T) {
		e := first(load("libaudit/test2.log"), TypeAVC)
		a, ok := e.AVC()
		if !ok || a.LSM != "selinux" || a.Result != "denied" || strings.Join(a.Permissions, ",") != "read" ||
			a.SContext != "system_u:system_r:postfix_pickup_t:s0" || a.TClass != "dir" || a.Name != "maildrop" {
			t.Errorf("selinux avc %+v", a)
		}
		if ex, _ := e.Exit(); ex != -13 || e.SyscallName() != "open" {
			t.Errorf("exit %d %s", ex, e.SyscallName())
		}
		aa, ok := load("laurel/record-avc-apparmor.txt")[0].AVC()
		if !ok || aa.LSM != "apparmor" || aa.Result != "STATUS" || aa.Operation != "profile_replace" {
			t.Errorf("apparmor avc %+v", aa)
		}
	})
	t.Run("user messages", func(t *testing.T) {
		var login, cmd, oldLogin *Event
		for _, e := range load("libaudit/audit-rhel7.log") {
			switch e.Records[0].Type {
			case TypeUserLogin:
				login = e
			case TypeUserCmd:
				cmd = e
			}
		}
		for _, e := range load("libaudit/test2.log") {
			if e.Records[0].Type == TypeLogin {
				oldLogin = e
			}
		}
		if addr, _ := login.Get("addr"); addr != "96.241.146.97" || login.How != CompleteStandalone {
			t.Errorf("USER_LOGIN addr %q how %s", addr, login.How)
		}
		if ok, _ := login.Success(); !ok {
			t.Error("USER_LOGIN not successful")
		}
		if c, _ := cmd.Get("cmd"); c != "./metricbeat -c mb.dev.yml" {
			t.Errorf("USER_CMD cmd %q", c)
		}
		if a, _ := oldLogin.Get("old-auid"); a != "4294967295" {
			t.Errorf("old-style LOGIN old-auid %q", a)
		}
		if a, _ := oldLogin.AUID(); a != 0 {
			t.Errorf("old-style LOGIN auid %d", a)
		}
		u16 := first(load("libaudit/audit-ubuntu16.log"), TypeUserLogin)
		if acct, _ := u16.Get("acct"); acct != "(invalid user)" {
			t.Errorf("hex acct %q", acct)
		}
		if ok, _ := u16.Success(); ok {
			t.Error("failed login reported successful")
		}
	})
	t.Run("keys and hex names", func(t *testing.T) {
		e := load("libaudit/audit-ubuntu17.log")[0]
		if k := e.Keys(); strings.Join(k, "|") != "exec|64bit" {
			t.Errorf("keys %q", k)
		}
		p := load("libaudit/audit-ubuntu14.log")[0].Paths()
		if len(p) != 1 || p[0].Name != "/share/general/path_redacted" {
			t.Errorf("hex path %+v", p)
		}
		if exe, _ := first(load("libaudit/audit-rhel6.log"), TypeSyscall).Exe(); exe != "/usr/libexec/strongswan/charon (deleted)" {
			t.Errorf("hex exe %q", exe)
		}
		if k := load("laurel/record-execve.txt")[0].Keys(); k != nil {
			t.Errorf("key=(null) gives %q", k)
		}
	})
	t.Run("aarch64 and node", func(t *testing.T) {
		e := load("laurel/record-login.txt")[0]
		if a, _ := e.Arch(); a != ArchAArch64 || e.SyscallName() != "write" {
			t.Errorf("arch %s syscall %s", a, e.SyscallName())
		}
		for _, e := range load("laurel/fork-sleep-exec.txt") {
			if n := e.SyscallName(); n != "execve" && n != "clone" {
				t.Errorf("aarch64 syscall %s", n)
			}
		}
		x := load("laurel/record-execve.txt")[0]
		if x.Node != "work" || x.CommandLine() != "whoami" {
			t.Errorf("node %q cmdline %q", x.Node, x.CommandLine())
		}
	})
}
