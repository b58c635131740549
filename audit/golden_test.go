package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenFiles are the shared logs whose decoded events are pinned in
// testdata/golden/<dir>_<file>.json.
var goldenFiles = []string{
	"laurel/record-perl-reverse-shell.txt",
	"laurel/record-execve-long.txt",
	"laurel/record-connect.txt",
	"laurel/record-bind-ipv4-bigendian.txt",
	"laurel/shell-proc-trace-reordered.txt",
	"laurel/fork-sleep-exec.txt",
	"libaudit/test2.log",
	"libaudit/audit-rhel7.log",
}

// goldenEvent is the decoded view of an event that the golden files pin.
type goldenEvent struct {
	Stamp      string            `json:"stamp"`
	Node       string            `json:"node,omitempty"`
	How        string            `json:"completed_by"`
	Types      []string          `json:"types"`
	Syscall    string            `json:"syscall,omitempty"`
	Arch       string            `json:"arch,omitempty"`
	Success    *bool             `json:"success,omitempty"`
	Exit       *int64            `json:"exit,omitempty"`
	PID        *int              `json:"pid,omitempty"`
	PPID       *int              `json:"ppid,omitempty"`
	UID        *uint32           `json:"uid,omitempty"`
	AUID       *uint32           `json:"auid,omitempty"`
	Ses        *uint32           `json:"ses,omitempty"`
	Exe        string            `json:"exe,omitempty"`
	Comm       string            `json:"comm,omitempty"`
	Cwd        string            `json:"cwd,omitempty"`
	Keys       []string          `json:"keys,omitempty"`
	Argv       []string          `json:"argv,omitempty"`
	ArgvOK     *bool             `json:"argv_complete,omitempty"`
	Proctitle  []string          `json:"proctitle,omitempty"`
	Paths      []Path            `json:"paths,omitempty"`
	Sockaddr   string            `json:"sockaddr,omitempty"`
	AVC        *AVC              `json:"avc,omitempty"`
	Fields     map[string]string `json:"user_fields,omitempty"` // decoded fields of standalone user-space records
	Process    string            `json:"process,omitempty"`
	Parent     string            `json:"parent,omitempty"`
	ProcOrigin string            `json:"process_origin,omitempty"`
}

func summarize(e *Event, tr *Tracker) (goldenEvent, *Process) {
	g := goldenEvent{Stamp: e.Stamp.String(), Node: e.Node, How: e.How.String()}
	for _, r := range e.Records {
		g.Types = append(g.Types, r.Type.String())
	}
	if e.First(TypeSyscall) != nil {
		g.Syscall = e.SyscallName()
		a, _ := e.Arch()
		g.Arch = a.String()
		if s, ok := e.Success(); ok {
			g.Success = &s
		}
		if x, ok := e.Exit(); ok {
			g.Exit = &x
		}
	}
	if v, ok := e.PID(); ok {
		g.PID = &v
	}
	if v, ok := e.PPID(); ok {
		g.PPID = &v
	}
	if v, ok := e.UID(); ok {
		g.UID = &v
	}
	if v, ok := e.AUID(); ok {
		g.AUID = &v
	}
	if v, ok := e.Session(); ok {
		g.Ses = &v
	}
	g.Exe, _ = e.Exe()
	g.Comm, _ = e.Comm()
	g.Cwd, _ = e.Cwd()
	g.Keys = e.Keys()
	if e.First(TypeExecve) != nil {
		var ok bool
		g.Argv, ok = e.Argv()
		g.ArgvOK = &ok
		for i, a := range g.Argv {
			if len(a) > 200 {
				g.Argv[i] = a[:100] + "…(" + strconv.Itoa(len(a)) + " bytes)"
			}
		}
	}
	g.Proctitle, _ = e.ProctitleArgs()
	g.Paths = e.Paths()
	if s, ok := e.Sockaddr(); ok {
		g.Sockaddr = s.FamilyName() + " " + s.String()
	}
	if a, ok := e.AVC(); ok {
		g.AVC = &a
	}
	if len(e.Records) == 1 && e.Records[0].Type.Standalone() {
		r := e.Records[0]
		g.Fields = map[string]string{}
		for i := range r.NumFields() {
			f := r.Field(i)
			if f.Encoding != Nested && !f.Enriched {
				g.Fields[f.Key] = f.Value
			}
		}
	}
	return g, tr.Observe(e)
}

// setProcess fills in the process identity as the tracker settled it
// after the whole log (events may complete out of order).
func (g *goldenEvent) setProcess(p *Process) {
	if p == nil {
		return
	}
	g.Process = p.ID.String()
	if !p.Parent.IsZero() {
		g.Parent = p.Parent.String()
	}
	g.ProcOrigin = p.Origin.String()
}

// TestGolden compares the decoded events of a few shared logs with
// testdata/golden; run with -update to rewrite them after a deliberate
// change (and review the diff).
func TestGolden(t *testing.T) {
	dir := sharedAuditDir(t)
	for _, name := range goldenFiles {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tr := NewTracker(TrackerConfig{BootID: "boot"})
			var out []goldenEvent
			var procs []*Process
			re := NewReassembler(ReassemblerConfig{OnEvent: func(e *Event) {
				g, p := summarize(e, tr)
				out, procs = append(out, g), append(procs, p)
			}})
			if _, err := ReadAll(f, re, ReaderOptions{}); err != nil {
				t.Fatal(err)
			}
			for i := range out {
				out[i].setProcess(procs[i])
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", strings.ReplaceAll(name, "/", "_")+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded events differ from %s (run go test -run TestGolden -update and review the diff):\n%s", path, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + x + "\n  got  " + y
		}
	}
	return ""
}
