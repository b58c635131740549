// Command auditbench measures Rampart's audit record parser and
// reassembler: it reads an audit log (or builds one by looping the shared
// test logs), parses every line and reassembles the events, and prints
// records per second. bench/audit.sh runs it next to ausearch.
//
//	auditbench -build OUT -shared DIR -records N   write a large log
//	auditbench -in LOG [-runs 3]                    parse + reassemble LOG
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/rampart-sec/rampart/audit"
)

func main() {
	in := flag.String("in", "", "audit log to parse")
	build := flag.String("build", "", "write a large log built from -shared to this file")
	shared := flag.String("shared", "", "directory of real audit logs (shared/testdata/audit)")
	records := flag.Int("records", 1_000_000, "records in the built log")
	runs := flag.Int("runs", 3, "runs; the best is reported")
	decode := flag.Bool("decode", false, "also decode the usual facts of every event (syscall name, exe, argv, paths, proctitle, sockaddr)")
	flag.Parse()
	switch {
	case *build != "":
		if err := buildLog(*build, *shared, *records); err != nil {
			fmt.Fprintln(os.Stderr, "auditbench:", err)
			os.Exit(1)
		}
	case *in != "":
		if err := run(*in, *runs, *decode); err != nil {
			fmt.Fprintln(os.Stderr, "auditbench:", err)
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// buildLog concatenates copies of every record line of the shared logs,
// shifting serials and times per copy so that every copy is a distinct set
// of events, until n records are written.
func buildLog(out, dir string, n int) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) != "README.md" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	var lines [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(l, []byte("msg=audit(")) {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("no records under %s", dir)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for copyN, written := 0, 0; written < n; copyN++ {
		for _, l := range lines {
			if written == n {
				break
			}
			w.Write(shift(l, copyN))
			w.WriteByte('\n')
			written++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// shift rewrites audit(SEC.MS:SERIAL) to SEC+c*1e6 and SERIAL+c*1e8.
func shift(l []byte, c int) []byte {
	i := bytes.Index(l, []byte("msg=audit(")) + len("msg=audit(")
	j := bytes.IndexByte(l[i:], ')')
	if i < len("msg=audit(") || j < 0 {
		return l
	}
	stamp := l[i : i+j]
	dot := bytes.IndexByte(stamp, '.')
	colon := bytes.IndexByte(stamp, ':')
	if dot < 0 || colon < dot {
		return l
	}
	sec, _ := strconv.ParseInt(string(stamp[:dot]), 10, 64)
	serial, _ := strconv.ParseUint(string(stamp[colon+1:]), 10, 64)
	var b []byte
	b = append(b, l[:i]...)
	b = strconv.AppendInt(b, sec+int64(c)*1_000_000, 10)
	b = append(b, stamp[dot:colon+1]...)
	b = strconv.AppendUint(b, serial+uint64(c)*100_000_000, 10)
	b = append(b, l[i+j:]...)
	return b
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// decodeEvent reads what an agent reads from every event.
func decodeEvent(e *audit.Event) int {
	n := len(e.SyscallName())
	exe, _ := e.Exe()
	n += len(exe)
	argv, _ := e.Argv()
	n += len(argv)
	n += len(e.Paths())
	pt, _ := e.Proctitle()
	n += len(pt)
	if s, ok := e.Sockaddr(); ok {
		n += int(s.Port)
	}
	pid, _ := e.PID()
	return n + pid
}

func run(path string, runs int, decode bool) error {
	best, bestCPU := time.Duration(0), time.Duration(0)
	var recs, events uint64
	var allocs uint64
	sink := 0
	for range runs {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		start, cpu0 := time.Now(), cpuTime()
		var ev uint64
		re := audit.NewReassembler(audit.ReassemblerConfig{OnEvent: func(e *audit.Event) {
			ev++
			if decode {
				sink += decodeEvent(e)
			}
		}})
		st, err := audit.ReadAll(f, re, audit.ReaderOptions{})
		el, cpu := time.Since(start), cpuTime()-cpu0
		runtime.ReadMemStats(&ms1)
		f.Close()
		if err != nil && err != io.EOF {
			return err
		}
		if st.Errors() != 0 {
			return fmt.Errorf("%d lines did not parse", st.Errors())
		}
		if best == 0 || el < best {
			best, bestCPU, recs, events = el, cpu, st.Records, ev
			allocs = ms1.Mallocs - ms0.Mallocs
		}
	}
	fmt.Printf("records %d events %d seconds %.3f cpu_seconds %.3f records/s %.0f events/s %.0f allocs/record %.2f gomaxprocs %d decode %v sink %d\n",
		recs, events, best.Seconds(), bestCPU.Seconds(), float64(recs)/best.Seconds(), float64(events)/best.Seconds(),
		float64(allocs)/float64(recs), runtime.GOMAXPROCS(0), decode, sink%10)
	return nil
}
