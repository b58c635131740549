package audit

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tree runs a log through the reassembler and a tracker and returns, for
// every exec/fork image, "pid exe origin <- parent-pid parent-exe".
func tree(t *testing.T, r *os.File) (map[string]string, *Tracker) {
	t.Helper()
	tr := NewTracker(TrackerConfig{BootID: "b"})
	re := NewReassembler(ReassemblerConfig{OnEvent: func(e *Event) { tr.Observe(e) }})
	if _, err := ReadAll(r, re, ReaderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, p := range tr.byID {
		par := "-"
		if pp := tr.Get(p.Parent); pp != nil {
			par = pp.ID.String() + " " + pp.Exe
		}
		out[id.String()] = p.Exe + " " + p.Origin.String() + " <- " + par
	}
	return out, tr
}

// TestTrackerShellTrace: laurel's shell trace, in order and reordered
// (every EOE at the end, so events complete in reverse), gives the same
// processes, identities and parents: sh forks a subshell and grep; the
// subshell forks echo and sed.
func TestTrackerShellTrace(t *testing.T) {
	dir := sharedAuditDir(t)
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	inOrder, tr := tree(t, open("laurel/shell-proc-trace.txt"))
	reordered, _ := tree(t, open("laurel/shell-proc-trace-reordered.txt"))
	want := map[string]string{
		"b/71432/29237": "/usr/bin/bash observed <- -",
		"b/71505/29238": "/usr/bin/dash exec <- b/71432/29237 /usr/bin/bash",
		"b/71506/29239": "/usr/bin/dash fork <- b/71505/29238 /usr/bin/dash",
		"b/71507/29242": "/usr/bin/grep exec <- b/71505/29238 /usr/bin/dash",
		"b/71508/29244": "/usr/bin/echo exec <- b/71506/29239 /usr/bin/dash",
		"b/71509/29245": "/usr/bin/sed exec <- b/71506/29239 /usr/bin/dash",
	}
	for name, got := range map[string]map[string]string{"in order": inOrder, "reordered": reordered} {
		if len(got) != len(want) {
			t.Errorf("%s: %d images, want %d: %v", name, len(got), len(want), keys(got))
		}
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: %s = %q, want %q", name, id, got[id], w)
			}
		}
	}
	chain := tr.Chain(ExecID{Boot: "b", PID: 71509, Serial: 29245})
	var exes []string
	for _, p := range chain {
		exes = append(exes, p.Exe)
	}
	if strings.Join(exes, " ") != "/usr/bin/sed /usr/bin/dash /usr/bin/dash /usr/bin/bash" {
		t.Errorf("chain of sed: %q", exes)
	}
	if a := tr.Get(ExecID{Boot: "b", PID: 71509, Serial: 29245}).Argv; strings.Join(a, " ") != "/bin/sed -e s/foo/bar/" {
		t.Errorf("sed argv %q", a)
	}
}

// TestTrackerOrphan: laurel's fork-sleep-exec: the child execs after its
// parent exited (ppid=1), and the fork that created it is missing from
// the log; the parent comes from the child's earlier clone event.
func TestTrackerOrphan(t *testing.T) {
	f, err := os.Open(filepath.Join(sharedAuditDir(t), "laurel/fork-sleep-exec.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, tr := tree(t, f)
	if w := "/usr/bin/true exec <- b/1578539/6104005 /home/user/bin/uncaring-parent"; got["b/1578540/6104008"] != w {
		t.Errorf("true: %q, want %q", got["b/1578540/6104008"], w)
	}
	p := tr.Current(1578540)
	if p == nil || p.Prev != (ExecID{"b", 1578540, 6104007}) || p.PPID != 1 {
		t.Errorf("current image of 1578540: %+v", p)
	}
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// ev builds a one-record SYSCALL event (x86_64).
func ev(t *testing.T, serial uint64, syscall string, pid, ppid int, exit int64, exe string) *Event {
	t.Helper()
	n, ok := SyscallNumber(ArchX86_64, syscall)
	if !ok {
		t.Fatalf("syscall %s", syscall)
	}
	r := mustParse(t, "type=SYSCALL msg=audit(1700000000.000:"+strconv.FormatUint(serial, 10)+"): arch=c000003e syscall="+
		strconv.Itoa(n)+" success=yes exit="+strconv.FormatInt(exit, 10)+" a0=1200011 ppid="+strconv.Itoa(ppid)+
		" pid="+strconv.Itoa(pid)+" auid=1000 uid=1000 ses=1 comm=\"x\" exe=\""+exe+"\" key=(null)")
	return &Event{Stamp: r.Stamp, Records: []*Record{r}}
}

// TestTrackerExecBeforeFork: the child's execve completes (and even gets
// its serial) before the parent's clone returns; pids are reused after
// exit; threads are not processes.
func TestTrackerExecBeforeFork(t *testing.T) {
	tr := NewTracker(TrackerConfig{BootID: "b"})
	parent := tr.Observe(ev(t, 10, "execve", 100, 1, 0, "/bin/sh"))
	child := tr.Observe(ev(t, 11, "execve", 200, 100, 0, "/bin/ls"))
	if child.Parent != parent.ID {
		t.Errorf("parent from ppid: %v", child.Parent)
	}
	// exec of 300 (serial 12) seen before the clone that made it (13)
	c3 := tr.Observe(ev(t, 12, "execve", 300, 1, 0, "/bin/cat"))
	tr.Observe(ev(t, 13, "clone", 100, 1, 300, "/bin/sh"))
	if c3.Parent != parent.ID {
		t.Errorf("late clone did not adopt the child: parent %v", c3.Parent)
	}
	// threads: CLONE_THREAD in a0
	th := ev(t, 14, "clone", 100, 1, 301, "/bin/sh")
	th.Records[0] = mustParse(t, strings.Replace(string(th.Records[0].Text()), "a0=1200011", "a0=3d0f00", 1))
	tr.Observe(th)
	if _, ok := tr.forks[301]; ok {
		t.Error("a thread was recorded as a child process")
	}
	// exit and pid reuse: a new process 200 is a new image
	tr.Observe(ev(t, 15, "exit_group", 200, 100, 0, "/bin/ls"))
	if tr.Current(200) != nil {
		t.Error("exited process still current")
	}
	tr.Observe(ev(t, 16, "clone", 100, 1, 200, "/bin/sh"))
	again := tr.Observe(ev(t, 17, "execve", 200, 100, 0, "/bin/date"))
	if again.ID == child.ID || again.Parent != parent.ID || !again.Prev.IsZero() {
		t.Errorf("reused pid: %+v", again)
	}
	if tr.Get(child.ID) == nil || !tr.Get(child.ID).Exited {
		t.Error("the exited image is forgotten or not marked")
	}
}

func mustParse(t *testing.T, s string) *Record {
	t.Helper()
	r, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTrackerBound: the tracker forgets the oldest images beyond
// MaxProcesses.
func TestTrackerBound(t *testing.T) {
	tr := NewTracker(TrackerConfig{MaxProcesses: 100})
	for i := range 1000 {
		tr.Observe(ev(t, uint64(i+1), "execve", 1000+i, 1, 0, "/bin/true"))
	}
	if tr.Len() != 100 || len(tr.byPID) > 100 {
		t.Errorf("%d images, %d pids", tr.Len(), len(tr.byPID))
	}
}
