package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/forensics/graph"
)

// logWriter writes audit records of a scenario, one event per call.
type logWriter struct {
	events []string
	serial int
}

type pr struct {
	pid, ppid int
	comm, exe string
	ses, auid int
}

func (l *logWriter) event(p pr, nr int, exit int, args [4]string, extra ...string) {
	l.serial++
	st := fmt.Sprintf("audit(1700000000.%03d:%d)", l.serial, l.serial)
	succ := "yes"
	if exit < 0 {
		succ = "no"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "type=SYSCALL msg=%s: arch=c000003e syscall=%d success=%s exit=%d a0=%s a1=%s a2=%s a3=%s items=%d ppid=%d pid=%d auid=%d uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=%d comm=%q exe=%q key=(null)\n",
		st, nr, succ, exit, args[0], args[1], args[2], args[3], len(extra), p.ppid, p.pid, p.auid, p.ses, p.comm, p.exe)
	for _, x := range extra {
		fmt.Fprintf(&b, "%s msg=%s: %s\n", strings.SplitN(x, " ", 2)[0], st, strings.SplitN(x, " ", 2)[1])
	}
	fmt.Fprintf(&b, "type=EOE msg=%s: \n", st)
	l.events = append(l.events, b.String())
}

func sockaddrHex(ip [4]byte, port int) string {
	return fmt.Sprintf("0200%04X%02X%02X%02X%02X0000000000000000", port, ip[0], ip[1], ip[2], ip[3])
}

// scenario is a shell that reads a secret through cat and a pipe, sends
// it to a remote host and writes a file it then renames; and a server
// that accepts a connection.
func scenario() *logWriter {
	l := &logWriter{}
	bash := pr{100, 50, "bash", "/bin/bash", 5, 1000}
	child := pr{101, 100, "bash", "/bin/bash", 5, 1000}
	cat := pr{101, 100, "cat", "/bin/cat", 5, 1000}
	srv := pr{102, 1, "srv", "/usr/sbin/srv", 4294967295, 4294967295}
	l.event(bash, 2, 3, [4]string{"1", "0", "0", "0"}, `type=CWD cwd="/home/u"`, `type=PATH item=0 name="/etc/secret" nametype=NORMAL`) // 1 open
	l.event(bash, 22, 0, [4]string{"7ff", "0", "0", "0"}, "type=FD_PAIR fd0=4 fd1=5")                                                   // 2 pipe
	l.event(bash, 56, 101, [4]string{"1200011", "0", "0", "0"})                                                                         // 3 clone
	l.event(child, 33, 1, [4]string{"5", "1", "0", "0"})                                                                                // 4 dup2(5, 1)
	l.event(cat, 59, 0, [4]string{"1", "2", "3", "4"}, "type=EXECVE argc=2 a0=\"cat\" a1=\"-\"", `type=CWD cwd="/home/u"`,
		`type=PATH item=0 name="/bin/cat" nametype=NORMAL`, `type=PATH item=1 name="/lib64/ld-linux-x86-64.so.2" nametype=NORMAL`) // 5 execve
	l.event(cat, 0, 20, [4]string{"3", "0", "0", "0"})                                                                    // 6 read secret (inherited fd 3)
	l.event(cat, 1, 20, [4]string{"1", "0", "0", "0"})                                                                    // 7 write to the pipe
	l.event(bash, 0, 20, [4]string{"4", "0", "0", "0"})                                                                   // 8 read the pipe
	l.event(bash, 42, 0, [4]string{"6", "0", "0", "0"}, "type=SOCKADDR saddr="+sockaddrHex([4]byte{203, 0, 113, 9}, 443)) // 9 connect
	l.event(bash, 1, 20, [4]string{"6", "0", "0", "0"})                                                                   // 10 send
	l.event(bash, 2, 7, [4]string{"1", "241", "1b6", "0"}, `type=CWD cwd="/home/u"`, `type=PATH item=0 name="/home/u" nametype=PARENT`,
		`type=PATH item=1 name="out.txt" nametype=CREATE`) // 11 open O_CREAT|O_TRUNC|O_WRONLY, relative
	l.event(bash, 82, 0, [4]string{"1", "2", "0", "0"}, `type=CWD cwd="/home/u"`, `type=PATH item=0 name="/home/u" nametype=PARENT`,
		`type=PATH item=1 name="/home/u" nametype=PARENT`, `type=PATH item=2 name="out.txt" nametype=DELETE`, `type=PATH item=3 name="final.txt" nametype=CREATE`) // 12 rename
	l.event(srv, 49, 0, [4]string{"3", "0", "0", "0"}, "type=SOCKADDR saddr="+sockaddrHex([4]byte{0, 0, 0, 0}, 8080))                     // 13 bind
	l.event(srv, 43, 4, [4]string{"3", "0", "0", "0"}, "type=SOCKADDR saddr="+sockaddrHex([4]byte{198, 51, 100, 4}, 5555))                // 14 accept
	l.event(srv, 0, 10, [4]string{"4", "0", "0", "0"})                                                                                    // 15 recv
	l.event(bash, 2, -13, [4]string{"1", "1", "0", "0"}, `type=CWD cwd="/home/u"`, `type=PATH item=0 name="/usr/bin/ls" nametype=NORMAL`) // 16 refused open for writing
	return l
}

func buildLog(t *testing.T, text string, opts MapperOptions) (*graph.Graph, *Mapper, AuditStats) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := graph.NewBuilder(graph.Options{Filters: graph.DefaultFilters()})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMapper(b, opts)
	ar := NewAuditReader(m, AuditOptions{})
	if err := ar.ReadFiles([]string{f}); err != nil {
		t.Fatal(err)
	}
	ar.Flush()
	return b.Finish(), m, ar.Stats()
}

// edgeSet lists a graph's edges as "src -kind-> dst bytes".
func edgeSet(g *graph.Graph) []string {
	var out []string
	for _, e := range g.Edges {
		s := fmt.Sprintf("%s -%s-> %s", g.Nodes[e.Src].Name, e.Kind, g.Nodes[e.Dst].Name)
		if e.Bytes > 0 {
			s += fmt.Sprintf(" %dB", e.Bytes)
		}
		if e.Flags&graph.Span != 0 {
			s += " span"
		}
		if e.Flags&graph.Inferred != 0 {
			s += " inferred"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestMapperDescriptorsAndFlows(t *testing.T) {
	l := scenario()
	g, m, st := buildLog(t, strings.Join(l.events, ""), MapperOptions{})
	if st.Events != 16 || st.Lost != 0 {
		t.Errorf("audit stats %+v", st)
	}
	want := []string{
		"/bin/cat -execute-> cat[101]",
		"/etc/secret -read-> cat[101] 20B", // the descriptor was opened by the parent before the fork
		"/home/u/out.txt -rename-> /home/u/final.txt",
		"198.51.100.4:5555 → 0.0.0.0:8080 -accept-> srv[102]",
		"198.51.100.4:5555 → 0.0.0.0:8080 -recv-> srv[102] 10B",
		"bash[100] -connect-> 203.0.113.9:443",
		"bash[100] -fork-> bash[101]",
		"bash[100] -rename-> /home/u/final.txt",
		"bash[100] -send-> 203.0.113.9:443 20B",
		"bash[100] -write-> /home/u/out.txt", // created (O_CREAT, nametype CREATE)
		"bash[101] -exec-> cat[101]",
		"cat[101] -write-> pipe of bash[100] (fds 4,5) 20B", // stdout was dup2'd onto the pipe
		"pid 1 (not observed) -fork-> srv[102] inferred",
		"pid 50 (not observed) -fork-> bash[100] inferred",
		"pipe of bash[100] (fds 4,5) -read-> bash[100] 20B",
		"session 5 (auid 1000) -login-> pid 50 (not observed) inferred",
		"uid 1000 -login-> session 5 (auid 1000)",
	}
	if got := edgeSet(g); !slices.Equal(got, want) {
		t.Errorf("edges:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// the dynamic loader was mapped at exec, and filtered
	var lib graph.FilterStat
	for _, f := range g.Stats.Filtered {
		if f.Filter == "libraries" {
			lib = f
		}
	}
	if lib.Edges != 1 || lib.Top[0].Name != "/lib64/ld-linux-x86-64.so.2" {
		t.Errorf("libraries filter: %+v", lib)
	}
	if a := m.Attempts(); len(a) != 1 || a[0].Path != "/usr/bin/ls" || a[0].Errno != 13 {
		t.Errorf("attempts %+v", a)
	}
	if s := m.Stats(); !s.IOCalls || s.Placeholders != 2 || s.Failed != 1 {
		t.Errorf("mapper stats %+v", s)
	}
	// backward from the remote endpoint reaches the secret through the
	// pipe, in time order
	ep, ok := g.Lookup(graph.Endpoint, "203.0.113.9:443")
	secret, _ := g.Lookup(graph.File, "/etc/secret")
	if !ok {
		t.Fatal("no endpoint node")
	}
	back := g.Backward([]graph.Point{{Node: ep, Tick: g.End()}}, graph.Limits{})
	if _, ok := back.Reached(secret); !ok {
		t.Error("backward from the endpoint does not reach /etc/secret")
	}
	var chain []string
	for _, e := range back.Path(g, secret) {
		chain = append(chain, g.Edges[e].Kind.String())
	}
	if strings.Join(chain, ",") != "read,write,read,send" {
		t.Errorf("chain from the secret: %v", chain)
	}
}

// TestMapperReorderedInput: events arriving out of serial order, records
// interleaved, give the same graph.
func TestMapperReorderedInput(t *testing.T) {
	l := scenario()
	g1, _, _ := buildLog(t, strings.Join(l.events, ""), MapperOptions{})
	ev := slices.Clone(l.events)
	ev[5], ev[6] = ev[6], ev[5] // the cat's write before its read
	ev[2], ev[4] = ev[4], ev[2] // the child's exec before the clone
	// interleave the records of two events
	a, b := strings.SplitAfter(ev[9], "\n"), strings.SplitAfter(ev[10], "\n")
	mixed := a[0] + b[0] + strings.Join(a[1:], "") + strings.Join(b[1:], "")
	text := strings.Join(ev[:9], "") + mixed + strings.Join(ev[11:], "")
	g2, _, st := buildLog(t, text, MapperOptions{})
	if st.Reorders == 0 {
		t.Error("no reordering seen")
	}
	if e1, e2 := edgeSet(g1), edgeSet(g2); !slices.Equal(e1, e2) {
		t.Errorf("reordered input gives another graph:\n%s\nvs\n%s", strings.Join(e2, "\n"), strings.Join(e1, "\n"))
	}
}

// TestMapperOpensOnly: without read and write records, opens and
// connections stand for the flows after them (Span edges).
func TestMapperOpensOnly(t *testing.T) {
	l := scenario()
	var keep []string
	for _, e := range l.events {
		if strings.Contains(e, " syscall=0 ") || strings.Contains(e, " syscall=1 ") {
			continue
		}
		keep = append(keep, e)
	}
	g, m, _ := buildLog(t, strings.Join(keep, ""), MapperOptions{})
	if m.Stats().IOCalls {
		t.Fatal("I/O calls detected in an input without reads and writes")
	}
	got := edgeSet(g)
	for _, want := range []string{
		"/etc/secret -read-> bash[100] span",
		"bash[100] -connect-> 203.0.113.9:443 span",
		"203.0.113.9:443 -recv-> bash[100] span inferred",
		"bash[100] -write-> /home/u/out.txt span",
		"198.51.100.4:5555 → 0.0.0.0:8080 -accept-> srv[102] span",
		"srv[102] -send-> 198.51.100.4:5555 → 0.0.0.0:8080 span inferred",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	// the secret opened before the connection reaches the endpoint
	ep, _ := g.Lookup(graph.Endpoint, "203.0.113.9:443")
	secret, _ := g.Lookup(graph.File, "/etc/secret")
	fwd := g.Forward([]graph.Point{{Node: secret, Tick: 0}}, graph.Limits{})
	if _, ok := fwd.Reached(ep); !ok {
		t.Error("forward from the secret does not reach the endpoint")
	}
}

func TestFilteredSockaddr(t *testing.T) {
	for in, want := range map[string]string{
		"family=inet addr=pan:k1:10.1.2.3 port=443":    "pan:k1:10.1.2.3:443",
		"family=inet6 addr=pan:k1:2001:db8::7 port=53": "pan:k1:[2001:db8::7]:53",
		"family=inet6 addr=:: port=80":                 "[::]:80",
		"family=local path=/run/x.sock":                "unix:/run/x.sock",
		"family=netlink":                               "",
	} {
		if got := filteredSockaddr(in, nil); got != want {
			t.Errorf("filteredSockaddr(%q) = %q, want %q", in, got, want)
		}
	}
}
