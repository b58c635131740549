package privacy

import (
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func ev(typ string, kv ...string) Event {
	e := Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields = append(e.Fields, Field{Name: kv[i], Value: kv[i+1]})
	}
	return e
}

func fieldNames(e Event) []string {
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Name)
	}
	return out
}

func TestFilterFailClosed(t *testing.T) {
	cfg := BaseConfig()
	cfg.Events = []EventRule{{Type: "A", Fields: []FieldRule{
		{Field: "keep", Action: ActionKeep},
		{Field: "gone", Action: ActionDrop},
		{Field: "a[0-9]*", Action: ActionKeep},
		{Field: "auto", Action: ActionAuto},
	}}}
	f := mustFilter(t, cfg, testKeyring(t))

	out, ok := f.Apply(ev("A", "keep", "1", "unknown", "secret", "gone", "x", "a1", "y", "arch", "z", "auto", "w", "Keep", "case"))
	if !ok {
		t.Fatal("allowlisted type dropped")
	}
	if got, want := fieldNames(out), []string{"keep", "a1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v (unknown, case-different and pattern-mismatching fields dropped)", got, want)
	}
	if _, ok := f.Apply(ev("B", "keep", "1")); ok {
		t.Error("type without rules passed")
	}
	if _, ok := f.Apply(ev("", "keep", "1")); ok {
		t.Error("empty type passed")
	}
	st := f.Stats()
	want := map[Reason]uint64{ReasonTypeNotAllowed: 2, ReasonFieldNotAllowed: 3, ReasonFieldDropped: 1, ReasonNoHint: 1}
	if !reflect.DeepEqual(st.Dropped, want) {
		t.Errorf("dropped %v, want %v", st.Dropped, want)
	}
	if st.DroppedFields["A unknown"] != 1 || st.DroppedFields["A Keep"] != 1 || st.DroppedFields["A gone"] != 1 {
		t.Errorf("per-field drops %v", st.DroppedFields)
	}
	if st.Events != 3 || st.Passed != 1 {
		t.Errorf("events %d passed %d, want 3 and 1", st.Events, st.Passed)
	}

	// The zero configuration lets nothing through.
	z := mustFilter(t, Config{}, testKeyring(t))
	if _, ok := z.Apply(ev("SYSCALL", "uid", "0")); ok {
		t.Error("zero Config let an event through")
	}
}

func TestFilterWildcardNeedsOptIn(t *testing.T) {
	cfg := BaseConfig()
	cfg.Events = []EventRule{{Type: "*", Fields: []FieldRule{{Field: "x", Action: ActionKeep}}}}
	if _, err := NewFilter(cfg, testKeyring(t)); err == nil || !strings.Contains(err.Error(), "allow_wildcard") {
		t.Fatalf("wildcard without opt-in: err = %v", err)
	}
	cfg.AllowWildcard = true
	cfg.Events = append(cfg.Events, EventRule{Type: "T", Fields: []FieldRule{{Field: "y", Action: ActionKeep}}})
	f := mustFilter(t, cfg, testKeyring(t))
	out, ok := f.Apply(ev("ANY", "x", "1", "y", "2"))
	if !ok || !reflect.DeepEqual(fieldNames(out), []string{"x"}) {
		t.Errorf("wildcard type: %v %v", ok, out)
	}
	// A type with its own rules does not inherit the wildcard's.
	out, ok = f.Apply(ev("T", "x", "1", "y", "2"))
	if !ok || !reflect.DeepEqual(fieldNames(out), []string{"y"}) {
		t.Errorf("own type: %v %v", ok, out)
	}
}

func TestFilterCommonPrecedence(t *testing.T) {
	cfg := BaseConfig()
	cfg.Common = []FieldRule{{Field: "uid", Action: ActionPseudonymise, Kind: KindUID}, {Field: "c*", Action: ActionKeep}}
	cfg.Events = []EventRule{
		{Type: "A", Fields: []FieldRule{{Field: "u*", Action: ActionKeep}}},
		{Type: "B", Fields: []FieldRule{{Field: "uid", Action: ActionDrop}}},
		{Type: "C"},
	}
	f := mustFilter(t, cfg, testKeyring(t))
	a, _ := f.Apply(ev("A", "uid", "1000", "cx", "1"))
	b, _ := f.Apply(ev("B", "uid", "1000", "cx", "1"))
	c, _ := f.Apply(ev("C", "uid", "1000", "cx", "1"))
	if v, _ := a.Get("uid"); v != "1000" {
		t.Errorf("type pattern should win over common name: uid=%q", v)
	}
	if _, ok := b.Get("uid"); ok {
		t.Errorf("type drop should win over common: %v", b)
	}
	if v, _ := c.Get("uid"); !strings.HasPrefix(v, "ps:k1:uid:") {
		t.Errorf("common rule not applied: uid=%q", v)
	}
	if v, _ := c.Get("cx"); v != "1" {
		t.Errorf("common pattern not applied: %v", c)
	}
}

func TestFilterDoesNotMutateInput(t *testing.T) {
	f := mustFilter(t, DefaultConfig(), testKeyring(t))
	in := ev("USER_LOGIN", "pid", "1", "uid", "0", "acct", "alice", "addr", "10.1.2.3", "hostname", "h.example", "junk", "x")
	in.Fields[1].Hint = HintUID
	in.Time = time.Unix(1700000000, 5)
	saved := in.Clone()
	out, ok := f.Apply(in)
	if !ok || !reflect.DeepEqual(in, saved) {
		t.Fatalf("input modified: %v", in)
	}
	// ApplyTo into a reused buffer, and onto itself.
	var dst Event
	for range 3 {
		if !f.ApplyTo(&dst, &in) || !reflect.DeepEqual(dst, out) {
			t.Fatalf("ApplyTo = %v, want %v", dst, out)
		}
	}
	self := in.Clone()
	f.ApplyTo(&self, &self)
	if !reflect.DeepEqual(self, out) {
		t.Errorf("ApplyTo(e, e) = %v, want %v", self, out)
	}
}

func TestFilterHintsOnlyStrengthen(t *testing.T) {
	cfg := BaseConfig()
	cfg.Events = []EventRule{{Type: "T", Fields: []FieldRule{
		{Field: "k1", Action: ActionKeep}, {Field: "k2", Action: ActionKeep}, {Field: "k3", Action: ActionKeep},
		{Field: "r1", Action: ActionRedact}, {Field: "d1", Action: ActionDrop}, {Field: "a1", Action: ActionAuto},
		{Field: "t1", Action: ActionKeep},
	}}}
	kr := testKeyring(t)
	f := mustFilter(t, cfg, kr)
	in := Event{Type: "T", Fields: []Field{
		{Name: "k1", Value: "alice", Hint: HintUser},
		{Name: "k2", Value: "192.0.2.7", Hint: HintIP},
		{Name: "k3", Value: "/home/bob/x", Hint: HintPath},
		{Name: "r1", Value: "1000", Hint: HintUID},
		{Name: "d1", Value: "alice", Hint: HintUser},
		{Name: "a1", Value: "db.example", Hint: HintHost},
		{Name: "t1", Value: "1700000000", Hint: HintTime},
	}}
	out, _ := f.Apply(in)
	want := map[string]string{
		"k1": kr.Pseudonym(KindUser, "alice"),
		"k3": "/home/" + kr.Pseudonym(KindUser, "bob") + "/x",
		"r1": kr.Pseudonym(KindUID, "1000"),
		"a1": kr.Pseudonym(KindHost, "db.example"),
		"t1": "1700000000",
	}
	for k, w := range want {
		if v, _ := out.Get(k); v != w {
			t.Errorf("%s = %q, want %q", k, v, w)
		}
	}
	if v, _ := out.Get("k2"); !strings.HasPrefix(v, "pan:k1:") {
		t.Errorf("kept IP with ip hint = %q, want anonymised", v)
	}
	if _, ok := out.Get("d1"); ok {
		t.Error("drop overridden by hint")
	}
}

func TestFilterUnsetValuesPass(t *testing.T) {
	f := mustFilter(t, DefaultConfig(), testKeyring(t))
	out, _ := f.Apply(ev("USER_LOGIN", "auid", "4294967295", "acct", "?", "addr", "?", "hostname", "?", "uid", "-1"))
	for _, fl := range out.Fields {
		if strings.HasPrefix(fl.Value, "ps:") || strings.HasPrefix(fl.Value, "pan:") {
			t.Errorf("unset %s pseudonymised: %q", fl.Name, fl.Value)
		}
	}
}

func TestFilterIPModes(t *testing.T) {
	kr := testKeyring(t, "old", "k7")
	cfg := BaseConfig()
	cfg.Events = []EventRule{{Type: "T", Fields: []FieldRule{{Field: "addr", Action: ActionAnonymise}}}}
	f := mustFilter(t, cfg, kr)
	get := func(f *Filter, v string) string {
		out, _ := f.Apply(ev("T", "addr", v))
		s, _ := out.Get("addr")
		return s
	}
	for _, v := range []string{"96.241.146.97", "2001:db8::1", "::ffff:10.0.0.1", "fe80::1%eth0"} {
		got := get(f, v)
		if !strings.HasPrefix(got, "pan:k7:") {
			t.Errorf("%s → %q, want pan:k7:…", v, got)
			continue
		}
		back, err := kr.RevealAddr(got)
		if err != nil || back != netip.MustParseAddr(v) {
			t.Errorf("RevealAddr(%q) = %v, %v; want %s", got, back, err, v)
		}
	}
	if got := get(f, "10.0.0.1:22"); !strings.HasPrefix(got, "pan:k7:") || !strings.HasSuffix(got, " port=22") {
		t.Errorf("addr:port → %q", got)
	}
	if got := get(f, "[2001:db8::5]:443"); !strings.HasSuffix(got, " port=443") {
		t.Errorf("[v6]:port → %q", got)
	}
	if got, want := get(f, "gw.example.org"), kr.Pseudonym(KindHost, "gw.example.org"); got != want {
		t.Errorf("host name in addr → %q, want host pseudonym %q", got, want)
	}
	// Prefix preservation is visible through the filter too.
	a, b := get(f, "10.1.2.3"), get(f, "10.1.2.200")
	pa, _ := netip.ParseAddr(strings.TrimPrefix(a, "pan:k7:"))
	pb, _ := netip.ParseAddr(strings.TrimPrefix(b, "pan:k7:"))
	if a4, b4 := pa.As4(), pb.As4(); [3]byte(a4[:3]) != [3]byte(b4[:3]) {
		t.Errorf("10.1.2.3 → %s and 10.1.2.200 → %s do not share 24 bits", pa, pb)
	}

	cfg.IP = IPConfig{Mode: IPTruncate, V4Prefix: 24, V6Prefix: 48}
	tf := mustFilter(t, cfg, kr)
	for in, want := range map[string]string{
		"96.241.146.97":     "trunc:96.241.146.0/24",
		"2001:db8:aa:bb::1": "trunc:2001:db8:aa::/48",
		"::ffff:10.9.8.7":   "trunc:10.9.8.0/24",
		"10.0.0.1:22":       "trunc:10.0.0.0/24 port=22",
	} {
		if got := get(tf, in); got != want {
			t.Errorf("truncate %s → %q, want %q", in, got, want)
		}
	}
}

func TestFilterSockaddr(t *testing.T) {
	kr := testKeyring(t)
	f := mustFilter(t, DefaultConfig(), kr)
	cases := []struct{ hex, want string }{
		// from the shared corpus (laurel record-connect.txt, record-bind-ipv4-bigendian.txt)
		{"02002BCB7F0000010000000000000000", "family=inet addr=" + f.anonAddr(netip.MustParseAddr("127.0.0.1")) + " port=11211"},
		{"0A002BCB000000000000000000000000000000000000000100000000", "family=inet6 addr=" + f.anonAddr(netip.MustParseAddr("::1")) + " port=11211"},
		{"0002D903000000000000000000000000", "family=inet addr=0.0.0.0 port=55555"},
		{"01002F7661722F72756E2F6E7363642F736F636B657400", "family=local path=/var/run/nscd/socket"},
		{"01002F72756E2F757365722F313030302F62757300", "family=local path=/run/user/" + kr.Pseudonym(KindUID, "1000") + "/bus"},
		{"1000000000000000", "family=netlink"},
		{"11000300020000000000000000000000", "family=packet"},
		{"ZZ", "[redacted:unparsed-sockaddr]"},
		{"020000", "[redacted:unparsed-sockaddr]"},
	}
	for _, c := range cases {
		out, _ := f.Apply(ev("SOCKADDR", "saddr", c.hex))
		if got, _ := out.Get("saddr"); got != c.want {
			t.Errorf("saddr=%s → %q, want %q", c.hex, got, c.want)
		}
	}
	if f.Stats().Unparsed != 2 {
		t.Errorf("unparsed = %d, want 2", f.Stats().Unparsed)
	}
}

func TestFilterCoarsenTime(t *testing.T) {
	cfg := BaseConfig()
	cfg.CoarsenTime = time.Minute
	cfg.Events = []EventRule{{Type: "T", Fields: []FieldRule{{Field: "ts", Action: ActionCoarsen}}}}
	f := mustFilter(t, cfg, testKeyring(t))
	in := ev("T", "ts", "1481077043.057")
	in.Time = time.Date(2016, 12, 7, 2, 17, 23, 57e6, time.UTC)
	out, _ := f.Apply(in)
	if want := time.Date(2016, 12, 7, 2, 17, 0, 0, time.UTC); !out.Time.Equal(want) {
		t.Errorf("time %v, want %v", out.Time, want)
	}
	for in, want := range map[string]string{
		"1481077043.057":            "1481077020.000",
		"1481077043":                "1481077020",
		"2016-12-07T02:17:23.5Z":    "2016-12-07T02:17:00Z",
		"2016-12-07T04:17:23+02:00": "2016-12-07T04:17:00+02:00",
		"yesterday":                 "[redacted:unparsed-time]",
	} {
		out, _ := f.Apply(ev("T", "ts", in))
		if got, _ := out.Get("ts"); got != want {
			t.Errorf("coarsen %q → %q, want %q", in, got, want)
		}
	}
	cfg.CoarsenTime = 1500 * time.Millisecond
	if _, err := NewFilter(cfg, testKeyring(t)); err == nil {
		t.Error("fractional coarsening accepted")
	}
}

func TestFilterPasswordFlagRedactsNextArgument(t *testing.T) {
	f := mustFilter(t, DefaultConfig(), testKeyring(t))
	out, _ := f.Apply(ev("EXECVE", "argc", "5", "a0", "mysql", "a1", "--password", "a2", "hunter2", "a3", "-h", "a4", "db1"))
	want := []string{"5", "mysql", "--password", "[redacted:password-arg]", "-h", "db1"}
	for i, fl := range out.Fields {
		if fl.Value != want[i] {
			t.Errorf("%s = %q, want %q", fl.Name, fl.Value, want[i])
		}
	}
	if n := f.Stats().Redactions[RulePasswordArg]; n != 1 {
		t.Errorf("password-arg redactions = %d, want 1", n)
	}
}

func TestFilterKnownIdentifiers(t *testing.T) {
	kr := testKeyring(t)
	f := mustFilter(t, DefaultConfig(), kr, WithKnownIdentifiers(KindUser, "vagrant", "Alice"), WithKnownIdentifiers(KindHost, "db1"))
	out, _ := f.Apply(ev("EXECVE", "a0", "scp", "a1", "/vagrant/alice.txt", "a2", "alice@db1:/tmp/", "a3", "vagrantfile", "a4", "su - ALICE"))
	ps := func(k Kind, v string) string { return kr.Pseudonym(k, v) }
	want := []string{"scp", "/" + ps(KindUser, "vagrant") + "/" + ps(KindUser, "Alice") + ".txt",
		ps(KindUser, "Alice") + "@" + ps(KindHost, "db1") + ":/tmp/", "vagrantfile", "su - " + ps(KindUser, "Alice")}
	for i, fl := range out.Fields {
		if fl.Value != want[i] {
			t.Errorf("%s = %q, want %q", fl.Name, fl.Value, want[i])
		}
	}
	if _, err := NewFilter(DefaultConfig(), kr, WithKnownIdentifiers("person", "x")); err == nil {
		t.Error("bad kind accepted")
	}
}

func TestFilterConcurrent(t *testing.T) {
	f := mustFilter(t, DefaultConfig(), testKeyring(t))
	in := ev("USER_LOGIN", "uid", "0", "acct", "alice", "addr", "10.1.2.3", "cwd", "/home/alice")
	want, _ := f.Apply(in)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				e := in.Clone()
				if i%2 == 0 {
					e.Fields[2].Value = "10.9.9." + string(rune('0'+g))
				}
				out, _ := f.Apply(e)
				if i%2 == 1 && !reflect.DeepEqual(out, want) {
					t.Errorf("concurrent result differs: %v", out)
					return
				}
			}
		})
	}
	wg.Wait()
	if f.Stats().Events != 4001 {
		t.Errorf("events = %d, want 4001", f.Stats().Events)
	}
}

func TestFilterNeedsKeyringAndEscrow(t *testing.T) {
	if _, err := NewFilter(DefaultConfig(), nil); err == nil {
		t.Error("nil keyring accepted")
	}
	cfg := DefaultConfig()
	cfg.EscrowFile = "/var/lib/rampart/escrow"
	if _, err := NewFilter(cfg, testKeyring(t)); err == nil {
		t.Error("escrow file without an escrow writer accepted")
	}
}

func TestEventJSON(t *testing.T) {
	e := Event{Type: "T\"", Time: time.Date(2020, 1, 2, 3, 4, 5, 6e6, time.UTC), Fields: []Field{
		{Name: "a", Value: "x\n\"<&>\x01\xff\u2028"}, {Name: "b", Value: ""},
	}}
	got := string(e.AppendJSON(nil))
	want := `{"type":"T\"","time":"2020-01-02T03:04:05.006Z","fields":{"a":"x\n\"\u003c\u0026\u003e\u0001\ufffd\u2028","b":""}}`
	if got != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}
