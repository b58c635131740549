package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzSeeds returns lines of the shared logs (a sample), or a few built-in
// records when the shared data is absent.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		[]byte(syscallLine),
		[]byte(`type=USER_LOGIN msg=audit(1.000:1): pid=1 msg='op=login acct=28696E76616C6964207573657229 exe="/usr/sbin/sshd" res=failed'`),
		[]byte(`type=AVC msg=audit(1.000:1): avc:  denied  { read write } for  pid=1 comm="x" tclass=file`),
		[]byte("type=PATH msg=audit(1.000:1): item=0 name=2F61 cap_frootid=0\x1dOUID=\"root\""),
		[]byte(`type=EXECVE msg=audit(1.000:1): argc=2 a0="ls" a1_len=4 a1[0]=2D6C a1[1]=2D6C`),
		[]byte(`type=SOCKADDR msg=audit(1.000:1): saddr=0A002BCB000000000000000000000000000000000000000100000000`),
	}
	wd, _ := os.Getwd()
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		dir := filepath.Join(d, "shared", "testdata", "audit")
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				continue
			}
			for i, l := range bytes.Split(data, []byte("\n")) {
				if i%7 == 0 && len(l) > 0 {
					seeds = append(seeds, l)
				}
			}
		}
		if len(files) > 0 {
			break
		}
	}
	return seeds
}

// FuzzParse: any input parses to a record or a *ParseError; a record's
// fields all read back, every helper copes.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte) (*Record, error){
			Parse,
			func(b []byte) (*Record, error) { return ParseNetlink(TypeExecve, b) },
		} {
			r, err := parse(b)
			if err != nil {
				if _, ok := err.(*ParseError); !ok {
					t.Fatalf("error of type %T", err)
				}
				continue
			}
			for i := range r.NumFields() {
				fl := r.Field(i)
				if fl.Encoding == Hex && len(fl.Value)*2 != len(fl.Raw) {
					t.Fatalf("hex %q decoded to %q", fl.Raw, fl.Value)
				}
				r.Get(fl.Key)
				r.Uint(fl.Key)
				r.Int(fl.Key)
				r.HexUint(fl.Key)
				r.Enriched(fl.Key)
			}
			e := &Event{Stamp: r.Stamp, Records: []*Record{r}}
			useEvent(e)
		}
	})
}

func useEvent(e *Event) {
	e.Type()
	e.SyscallName()
	e.Success()
	e.Exit()
	e.PID()
	e.Keys()
	e.Paths()
	e.Argv()
	e.Proctitle()
	e.Sockaddr()
	e.AVC()
	e.Cwd()
	e.CommandLine()
}

// FuzzReassemble: lines of input go through a Reader and a small
// Reassembler with a moving clock; every record comes out in exactly one
// event with its own stamp, and the tracker copes with whatever events
// result.
func FuzzReassemble(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i := 0; i+8 <= len(seeds); i += 8 {
		f.Add(bytes.Join(seeds[i:i+8], []byte("\n")), uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, knob uint8) {
		var out int
		tr := NewTracker(TrackerConfig{MaxProcesses: 8})
		re := NewReassembler(ReassemblerConfig{
			MaxInFlight: 1 + int(knob%8),
			MaxGap:      1 + uint64(knob)*16,
			Timeout:     time.Second,
			OnEvent: func(e *Event) {
				for _, r := range e.Records {
					if r.Stamp != e.Stamp || r.Node != e.Node || r.Type == TypeEOE {
						t.Fatalf("record %s/%s in event %s/%s", r.Stamp, r.Type, e.Stamp, e.Node)
					}
				}
				out += len(e.Records)
				useEvent(e)
				tr.Observe(e)
			},
		})
		rd := NewReader(bytes.NewReader(data), ReaderOptions{MaxLine: 512})
		in := 0
		clock := time.Unix(1700000000, 0)
		for {
			r, err := rd.Next()
			if err != nil {
				break
			}
			if r.Type != TypeEOE {
				in++
			}
			re.Push(r)
			if in%3 == 0 {
				clock = clock.Add(time.Duration(knob) * 10 * time.Millisecond)
				re.Maintain(clock)
			}
		}
		re.Flush()
		if out != in || re.InFlight() != 0 {
			t.Fatalf("%d records in, %d out, %d in flight", in, out, re.InFlight())
		}
	})
}
