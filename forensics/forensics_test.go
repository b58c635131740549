package forensics

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/forensics/ingest"
	"github.com/rampart-sec/rampart/internal/shareddata"
)

// testdata returns the path of a file in shared/testdata/audit, found by
// walking up from the package directory; the test skips when the shared
// data is not there.
func testdata(t testing.TB, name string) string {
	t.Helper()
	return shareddata.AuditFile(t, name)
}

func load(t *testing.T, opts Options, logs ...string) *Investigation {
	t.Helper()
	var paths []string
	for _, l := range logs {
		paths = append(paths, testdata(t, l))
	}
	inv, err := Load(Sources{AuditLogs: paths}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func run(t *testing.T, inv *Investigation, q Query) *Report {
	t.Helper()
	rep, err := inv.Run(q)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// chainNodes lists the nodes of a chain, from the entry point to the
// start.
func chainNodes(steps []Step) []string {
	if len(steps) == 0 {
		return nil
	}
	out := []string{steps[0].From}
	for _, s := range steps {
		out = append(out, s.To)
	}
	return out
}

const wgetDir = "/home/vagrant/UBSI/UBSI_patch/wget-1.17.1"

// TestWgetBackToSSHSession follows the file wget wrote in SPADE's trace
// back to the ssh session that started wget.
func TestWgetBackToSSHSession(t *testing.T) {
	inv := load(t, Options{}, "spade/audit_wget_unit.log")
	rep := run(t, inv, Query{Direction: Backward, Start: "index.html"})
	if len(rep.Query.Starts) != 1 || rep.Query.Starts[0].Name != wgetDir+"/index.html" {
		t.Fatalf("starts %+v", rep.Query.Starts)
	}
	rc := rep.RootCause
	var login *EntryPoint
	var kinds []string
	for i, ep := range rc.EntryPoints {
		kinds = append(kinds, ep.Kind+": "+ep.Node.Name)
		if ep.Kind == EntryLogin {
			login = &rc.EntryPoints[i]
		}
	}
	// Five sources feed the file (by kind, then time): the ssh login session (the log has no
	// USER_LOGIN: the session is the kernel's ses=4 of sshd and its
	// children), the two servers wget received data from (DNS, then the
	// web server), the shell's terminal input (fd 0, opened before the
	// trace) and sshd's socket (fd 3, likewise). The other ssh session
	// in the log (ses=2, sshd 1777) has nothing to do with it.
	want := []string{
		EntryLogin + ": session 4 (auid 1000)",
		EntryOutbound + ": endpoint 10.0.2.3:53",
		EntryOutbound + ": endpoint 130.107.1.110:80",
		EntryDescriptor + ": fd 3 of sshd[24412]", // read before bash started
		EntryDescriptor + ": fd 0 of bash[24413]",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("entry points:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	if s := login.Node.Session; s == nil || s.ID != 4 || s.AUID != 1000 {
		t.Errorf("login session %+v", login.Node.Session)
	}
	chain := chainNodes(login.Chain)
	wantChain := []string{"session 4 (auid 1000)", "pid 24358 (not observed)", "sshd[24412]", "bash[24413]", "bash[3925]", "wget[3925]", wgetDir + "/index.html"}
	if !slices.Equal(chain, wantChain) {
		t.Errorf("chain from the session:\n%s\nwant\n%s", strings.Join(chain, " -> "), strings.Join(wantChain, " -> "))
	}
	for i, s := range login.Chain[1:] {
		if s.Time.Before(login.Chain[i].Time) {
			t.Errorf("chain not in time order at step %d: %+v", i+1, login.Chain)
		}
	}
	// the impact of the session includes the file (and the download)
	found := false
	for _, f := range rep.Impact.Files {
		if f.Path == wgetDir+"/index.html" && f.Bytes == 10660 {
			found = true
		}
	}
	if !found {
		t.Errorf("impact files %+v", rep.Impact.Files)
	}
	// the view draws the chain
	if len(rep.View.Nodes) == 0 || len(rep.View.Edges) == 0 {
		t.Error("empty view")
	}
}

// TestPerlReverseShellParentChain follows laurel's perl reverse shell back
// to its parent chain: a root shell (pid 722076, whose own events are not
// in the record) in login session 3 of user 1000.
func TestPerlReverseShellParentChain(t *testing.T) {
	inv := load(t, Options{}, "laurel/record-perl-reverse-shell.txt")
	rep := run(t, inv, Query{Direction: Backward, Start: "exe:/usr/bin/perl"})
	rc := rep.RootCause
	if len(rc.EntryPoints) != 1 || rc.EntryPoints[0].Kind != EntryLogin {
		t.Fatalf("entry points %+v", rc.EntryPoints)
	}
	chain := chainNodes(rc.EntryPoints[0].Chain)
	want := []string{"session 3 (auid 1000)", "pid 722076 (not observed)", "perl[724395]"}
	if !slices.Equal(chain, want) {
		t.Errorf("chain %v, want %v", chain, want)
	}
	st := rep.Query.Starts[0]
	if st.Process == nil || st.Process.PPID != 722076 || st.Process.UID != 0 || st.Process.AUID != 1000 || st.Process.Session != 3 {
		t.Errorf("perl process %+v", st.Process)
	}
	// the hex-encoded script is decoded: it connects to 10.0.0.1:1234
	if argv := strings.Join(st.Process.Argv, " "); !strings.Contains(argv, `$i="10.0.0.1";$p=1234;`) || !strings.Contains(argv, `exec("/bin/sh -i")`) {
		t.Errorf("argv %q", argv)
	}
	if !slices.ContainsFunc(rep.Countermeasures, func(c Countermeasure) bool { return c.Action == "review" && strings.HasPrefix(c.Target, "session 3") }) {
		t.Errorf("countermeasures %v", rep.Countermeasures)
	}
}

// TestWgetForwardExact: forward from the wget process, its exact writes
// and connections. The figures come from the log: wget (pid 3925) wrote
// 4096+2756+3762+46 = 10660 bytes to index.html (fd 4) and 490 bytes in
// 20 writes to fd 2 (inherited from bash); it connected to the DNS server
// 10.0.2.3:53 (recvfrom, nothing written) and to 130.107.1.110:80, to
// which it wrote the 142-byte request on fd 3; it started no process.
func TestWgetForwardExact(t *testing.T) {
	inv := load(t, Options{}, "spade/audit_wget_unit.log")
	rep := run(t, inv, Query{Direction: Forward, Start: "comm:wget"})
	im := rep.Impact
	type file struct {
		path  string
		bytes uint64
	}
	var files []file
	for _, f := range im.Files {
		files = append(files, file{f.Path, f.Bytes})
	}
	wantFiles := []file{{"fd 2 of bash[24413]", 490}, {wgetDir + "/index.html", 10660}}
	if !slices.Equal(files, wantFiles) {
		t.Errorf("files written %+v, want %+v", files, wantFiles)
	}
	type ep struct {
		addr string
		sent uint64
	}
	var eps []ep
	for _, e := range im.Endpoints {
		eps = append(eps, ep{e.Address, e.BytesSent})
	}
	wantEps := []ep{{"10.0.2.3:53", 0}, {"130.107.1.110:80", 142}}
	if !slices.Equal(eps, wantEps) {
		t.Errorf("endpoints %+v, want %+v", eps, wantEps)
	}
	if len(im.Started) != 0 || len(im.Processes) != 1 || im.Processes[0].Name != "wget[3925]" {
		t.Errorf("processes %+v started %+v", im.Processes, im.Started)
	}
	// without reduction and filters: the same sets
	inv2 := load(t, Options{NoReduce: true, Filters: []graph.Filter{}}, "spade/audit_wget_unit.log")
	rep2 := run(t, inv2, Query{Direction: Forward, Start: "comm:wget"})
	if len(rep2.Impact.Files) != 2 || len(rep2.Impact.Endpoints) != 2 || inv2.Graph.Stats.Merged != 0 || inv2.Graph.Stats.Edges <= inv.Graph.Stats.Edges {
		t.Errorf("unreduced: %d files, %d endpoints, stats %+v vs %+v", len(rep2.Impact.Files), len(rep2.Impact.Endpoints), inv2.Graph.Stats, inv.Graph.Stats)
	}
}

// TestShellTreeForward: laurel's shell trace, in order and reordered,
// gives the same process tree forward from the script.
func TestShellTreeForward(t *testing.T) {
	want := []string{
		"test-script.sh[71506] fork by test-script.sh[71505]",
		"test-script.sh[71507] fork by test-script.sh[71505]",
		"test-script.sh[71508] fork by test-script.sh[71506]",
		"grep[71507] exec by test-script.sh[71507]",
		"test-script.sh[71509] fork by test-script.sh[71506]",
		"echo[71508] exec by test-script.sh[71508]",
		"sed[71509] exec by test-script.sh[71509]",
	}
	slices.Sort(want)
	for _, f := range []string{"laurel/shell-proc-trace.txt", "laurel/shell-proc-trace-reordered.txt"} {
		inv := load(t, Options{}, f)
		rep := run(t, inv, Query{Direction: Forward, Start: "proc:71505/29238"}) // the script's image (the exec)
		var got []string
		for _, s := range rep.Impact.Started {
			got = append(got, s.Process.Name+" "+s.How+" by "+s.By)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: started\n%s\nwant\n%s", f, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestStartErrors(t *testing.T) {
	inv := load(t, Options{}, "spade/audit_wget_unit.log")
	for _, spec := range []string{"nosuchfile.txt", "pid:99999", "event:abc", "alert:1", "endpoint:192.0.2.1:1"} {
		if _, err := inv.Run(Query{Direction: Backward, Start: spec}); err == nil {
			t.Errorf("%s: no error", spec)
		}
	}
	// a suffix matching several files is refused with the candidates
	if _, err := inv.Run(Query{Direction: Backward, Start: "ld.so.cache"}); err != nil && !strings.Contains(err.Error(), "nothing") {
		t.Logf("%v", err)
	}
	// an event start: the connect of wget to the web server (serial 6251)
	rep := run(t, inv, Query{Direction: Backward, Start: "event:6251"})
	if len(rep.Query.Starts) != 1 || rep.Query.Starts[0].Name != "endpoint 130.107.1.110:80" {
		t.Errorf("event start %+v", rep.Query.Starts)
	}
	if !slices.ContainsFunc(rep.RootCause.EntryPoints, func(e EntryPoint) bool { return e.Kind == EntryLogin }) {
		t.Error("the connect's root cause misses the login session")
	}
}

func TestPartialSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		n := r.IntN(300)
		k := r.IntN(n + 2)
		s := make([]int, n)
		for i := range s {
			s[i] = r.IntN(50)
		}
		want := slices.Clone(s)
		slices.Sort(want)
		partialSort(s, k, cmp.Compare[int])
		if k > n {
			k = n
		}
		if !slices.Equal(s[:k], want[:k]) {
			t.Fatalf("n %d k %d: %v, want %v", n, k, s[:k], want[:k])
		}
		rest := slices.Clone(s[k:])
		slices.Sort(rest)
		if !slices.Equal(rest, want[k:]) {
			t.Fatalf("n %d k %d: the rest %v, want %v", n, k, rest, want[k:])
		}
	}
}

// TestSealedRoot: a write to the sealed root filesystem asks for the
// node to be re-imaged; a write the kernel refused (read-only, EROFS) for
// it to be verified.
func TestSealedRoot(t *testing.T) {
	rec := func(serial, pid int, nr int, exit int, a1 string, path, nametype string) string {
		succ := "yes"
		if exit < 0 {
			succ = "no"
		}
		st := fmt.Sprintf("audit(1700000000.%03d:%d)", serial, serial)
		return fmt.Sprintf("type=SYSCALL msg=%s: arch=c000003e syscall=%d success=%s exit=%d a0=ffffff9c a1=%s a2=241 a3=0 items=1 ppid=1 pid=%d auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"x\" exe=\"/usr/bin/x\" key=(null)\n"+
			"type=CWD msg=%s: cwd=\"/\"\ntype=PATH msg=%s: item=0 name=%q nametype=%s\ntype=EOE msg=%s: \n", st, nr, succ, exit, a1, pid, st, st, path, nametype, st)
	}
	log := rec(1, 10, 257, 3, "0", "/usr/bin/sudo", "NORMAL") + // pid 10 opens a system program for writing (O_WRONLY|O_CREAT|O_TRUNC in a2)
		rec(2, 20, 257, -30, "0", "/usr/lib/os-release", "NORMAL") // pid 20 is refused: read-only filesystem
	f := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(f, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(Sources{AuditLogs: []string{f}}, Options{Sealed: []string{"/usr/**"}, IO: ingest.IOCalls})
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, inv, Query{Direction: Forward, Start: "pid:10"})
	if s := rep.Impact.Sealed; !s.Known || !s.Touched || !slices.Equal(s.Writes, []string{"/usr/bin/sudo"}) {
		t.Errorf("pid 10: sealed %+v", s)
	}
	if !slices.ContainsFunc(rep.Countermeasures, func(c Countermeasure) bool { return c.Action == "reimage" && c.Target == "node" }) {
		t.Errorf("pid 10: countermeasures %v", rep.Countermeasures)
	}
	rep = run(t, inv, Query{Direction: Forward, Start: "pid:20"})
	if s := rep.Impact.Sealed; s.Touched || !slices.Equal(s.Attempts, []string{"/usr/lib/os-release (openat, EROFS)"}) {
		t.Errorf("pid 20: sealed %+v", s)
	}
	if !slices.ContainsFunc(rep.Countermeasures, func(c Countermeasure) bool { return c.Action == "verify" && c.Target == "sealed root filesystem" }) {
		t.Errorf("pid 20: countermeasures %v", rep.Countermeasures)
	}
	// without sealed paths: unknown
	inv, _ = Load(Sources{AuditLogs: []string{f}}, Options{IO: ingest.IOCalls})
	if rep := run(t, inv, Query{Direction: Forward, Start: "pid:10"}); rep.Impact.Sealed.Known {
		t.Error("sealed root known without --sealed or a rootfs label")
	}
}
