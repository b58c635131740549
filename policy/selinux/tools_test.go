package selinux_test

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTools skips the test when a real tool it relies on is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	pkg := map[string]string{"secilc": "secilc", "sesearch": "setools", "seinfo": "setools"}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian package %s)", tool, pkg[tool])
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// binPolicy is what SETools reports about a binary policy: allow rules
// with attributes expanded, type transitions, port labels and counts.
type binPolicy struct {
	members map[string][]string // attribute -> types
	allow   map[rule]bool
	// trans maps (source, target, class) to the new type, for unnamed
	// type transitions.
	trans map[[3]string]string
	ports []portcon
	stats map[string]string
}

type rule struct{ src, tgt, class, perm string }

type portcon struct {
	proto   string
	lo, hi  uint16
	typeNam string
}

var (
	reAllow  = regexp.MustCompile(`^allow (\S+) (\S+):(\S+) (?:\{ ([^}]*) \}|(\S+));$`)
	reTrans  = regexp.MustCompile(`^type_transition (\S+) (\S+):(\S+) (\S+);$`)
	rePort   = regexp.MustCompile(`^\s*portcon (\S+) (\d+)(?:-(\d+))? \S+:\S+:(\S+):\S+$`)
	reAttr   = regexp.MustCompile(`^\s+attribute (\S+);$`)
	reMember = regexp.MustCompile(`^\t(\S+)$`)
	reStat   = regexp.MustCompile(`([A-Z][A-Za-z_. ]+):\s+(\S+(?: \([^)]*\))?)`)
)

// readBinary asks SETools about the policy file: "seinfo --all -x" for
// the statistics, attribute members and port labels, "sesearch -A -T" for
// the rules (two calls: SETools' startup is slow). Only rules whose
// source is one of sources are kept (the unconfined domain's rules on
// every type are left out).
func readBinary(t *testing.T, pol string, sources map[string]bool) *binPolicy {
	t.Helper()
	b := &binPolicy{members: map[string][]string{}, allow: map[rule]bool{}, trans: map[[3]string]string{}, stats: map[string]string{}}
	section, cur := "stats", ""
	for _, l := range strings.Split(run(t, "seinfo", pol, "--all", "-x"), "\n") {
		switch {
		case section == "stats" && l == "":
			section = ""
		case section == "stats":
			for _, m := range reStat.FindAllStringSubmatch(l, -1) {
				b.stats[strings.TrimSpace(m[1])] = m[2]
			}
		case l != "" && l[0] != ' ' && l[0] != '\t':
			section = strings.TrimSpace(strings.Split(l, ":")[0])
		case section == "Type Attributes":
			if m := reAttr.FindStringSubmatch(l); m != nil {
				cur = m[1]
				b.members[cur] = nil
			} else if m := reMember.FindStringSubmatch(l); m != nil && cur != "" {
				b.members[cur] = append(b.members[cur], m[1])
			}
		case section == "Portcon":
			if m := rePort.FindStringSubmatch(l); m != nil {
				lo, _ := strconv.Atoi(m[2])
				hi := lo
				if m[3] != "" {
					hi, _ = strconv.Atoi(m[3])
				}
				b.ports = append(b.ports, portcon{m[1], uint16(lo), uint16(hi), m[4]})
			}
		}
	}
	if len(b.stats) == 0 || len(b.members) == 0 {
		t.Fatalf("cannot parse seinfo's output for %s", pol)
	}
	expand := func(n string) []string {
		if ms, ok := b.members[n]; ok {
			return ms
		}
		return []string{n}
	}
	sc := bufio.NewScanner(strings.NewReader(run(t, "sesearch", "-A", "-T", pol)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := reTrans.FindStringSubmatch(l); m != nil {
			for _, s := range expand(m[1]) {
				for _, tg := range expand(m[2]) {
					b.trans[[3]string{s, tg, m[3]}] = m[4]
				}
			}
			continue
		}
		m := reAllow.FindStringSubmatch(l)
		if m == nil {
			if strings.HasPrefix(l, "allow ") {
				t.Fatalf("cannot parse sesearch line %q", l)
			}
			continue
		}
		perms := strings.Fields(m[4] + " " + m[5])
		for _, s := range expand(m[1]) {
			if !sources[s] {
				continue
			}
			for _, tg := range expand(m[2]) {
				for _, p := range perms {
					b.allow[rule{s, tg, m[3], p}] = true
				}
			}
		}
	}
	return b
}

// portType is the type portcon gives a port, or "" (the port SID).
func (b *binPolicy) portType(proto string, port uint16) string {
	for _, p := range b.ports {
		if p.proto == proto && port >= p.lo && port <= p.hi {
			return p.typeNam
		}
	}
	return ""
}
