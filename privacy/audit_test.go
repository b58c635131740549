package privacy

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// rawIdentifiers collects, from an unfiltered event, the raw identifiers
// the default policy promises never to write, with their kind:
// non-numeric values of pseudonymised fields (numeric ids are checked by
// Lint's identifier fields instead: "0" or "1000" also appear as
// legitimate numbers), addresses of anonymised fields and of hex
// sockaddrs (kind ""), and the user names inside home directory paths.
func rawIdentifiers(ev Event, rules map[string]FieldRule, unset map[string]struct{}, into map[string]Kind) {
	for _, fl := range ev.Fields {
		v := fl.Value
		if _, ok := unset[v]; ok {
			continue
		}
		r := rules[fl.Name]
		switch r.Action {
		case ActionPseudonymise:
			if strings.Trim(v, "0123456789") != "" {
				into[v] = r.Kind
			}
		case ActionAnonymise, ActionSockaddr:
			if a, err := netip.ParseAddr(v); err == nil && !a.IsUnspecified() {
				into[a.String()] = ""
			} else if sa, err := decodeSockaddr(v); err == nil && sa.addr.IsValid() && !sa.addr.IsUnspecified() {
				into[sa.addr.String()] = ""
			} else if err != nil && v != "" {
				into[v] = KindHost // a host name in addr=
			}
		}
		for _, sg := range identSegments(v) {
			if seg := v[sg.start:sg.end]; strings.Trim(seg, "0123456789") != "" {
				into[seg] = KindUser
			}
		}
	}
}

// TestDefaultFilterLeavesNothingRaw is the privacy property on real
// data: every record of the shared audit corpus (three projects, several
// distributions), split crudely into fields and passed through the
// default filter, yields a stream in which Lint finds nothing — given
// the list of raw identifiers present in the input. The unfiltered
// stream must produce findings, or the check would prove nothing.
func TestDefaultFilterLeavesNothingRaw(t *testing.T) {
	cfg := DefaultConfig()
	rules := map[string]FieldRule{}
	for _, e := range cfg.Events {
		for _, r := range append(slices.Clone(e.Fields), cfg.Common...) {
			if r.Action == ActionPseudonymise || r.Action == ActionAnonymise || r.Action == ActionSockaddr {
				rules[r.Field] = r
			}
		}
	}
	unset := map[string]struct{}{}
	for _, v := range cfg.UnsetValues {
		unset[v] = struct{}{}
	}
	files := auditFiles(t)
	var inputs [][]Event
	values := map[string]Kind{}
	for _, file := range files {
		evs := loadAudit(t, file)
		inputs = append(inputs, evs)
		for _, ev := range evs {
			rawIdentifiers(ev, rules, unset, values)
		}
	}
	// The agent knows the node's accounts (ParseHumanAccounts): give the
	// filter the user and group names, as it would. Addresses and host
	// names are not given: they must be caught structurally.
	var accounts []string
	for v, k := range values {
		if k == KindUser || k == KindGroup {
			accounts = append(accounts, v)
		}
	}
	f := mustFilter(t, cfg, testKeyring(t), WithKnownIdentifiers(KindUser, accounts...))

	var raw, filtered bytes.Buffer
	events, passed := 0, 0
	for _, evs := range inputs {
		for _, ev := range evs {
			events++
			raw.Write(ev.AppendJSON(nil))
			raw.WriteByte('\n')
			out, ok := f.Apply(ev)
			if !ok {
				continue
			}
			passed++
			filtered.Write(out.AppendJSON(nil))
			filtered.WriteByte('\n')
		}
	}
	if events < 2500 || len(values) < 10 {
		t.Fatalf("corpus too small: %d events, %d raw identifiers", events, len(values))
	}
	for _, want := range []string{"andrew_kroh", "96.241.146.97", "127.0.0.1", "user", "vagrant", "pool-96-241-146-97.washdc.fios.verizon.net"} {
		if _, ok := values[want]; !ok {
			t.Errorf("raw identifier %q not collected from the corpus", want)
		}
	}
	// Identifiers of 5 or more characters must not appear anywhere, as
	// words. Shorter ones ("root", "user") are also words of the audit
	// vocabulary (/proc/1/root, op=add-user): they are checked
	// structurally, by the identifier-field and home-directory checks.
	var list []string
	for v := range values {
		if len(v) >= 5 {
			list = append(list, v)
		}
	}
	slices.Sort(list)
	opts := LintOptions{Values: list}

	findings, err := Lint(bytes.NewReader(filtered.Bytes()), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, fd := range findings {
		if i == 30 {
			t.Errorf("… %d findings in all", len(findings))
			break
		}
		line := strings.Split(filtered.String(), "\n")[fd.Line-1]
		t.Errorf("filtered output: %v\n\t%.300s", fd, line)
	}

	opts.MaxFindings = 1 << 30
	rawFindings, err := Lint(bytes.NewReader(raw.Bytes()), opts)
	if err != nil {
		t.Fatal(err)
	}
	classes := map[Class]int{}
	for _, fd := range rawFindings {
		classes[fd.Class]++
	}
	for _, c := range []Class{ClassIPv4, ClassIPv6, ClassListed, ClassRawIdentifier, ClassHomeDir} {
		if classes[c] == 0 {
			t.Errorf("unfiltered corpus: no %s finding (%v): the check would be vacuous", c, classes)
		}
	}
	st := f.Stats()
	t.Logf("%d records, %d passed, %d raw identifiers listed; unfiltered findings %v; filtered 0; stats dropped %v pseudonymised %d anonymised %d generalised %d redactions %v",
		events, passed, len(list), classes, st.Dropped, st.Pseudonymised, st.Anonymised, st.Generalised, st.Redactions)
	if st.Events != uint64(events) || st.Passed != uint64(passed) {
		t.Errorf("stats count %d/%d events, want %d/%d", st.Events, st.Passed, events, passed)
	}
	if passed < events*9/10 {
		t.Errorf("only %d of %d records pass the default policy: it drops too much", passed, events)
	}
}
