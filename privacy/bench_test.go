package privacy

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time. The benchmarks report
// throughput per CPU second besides per wall second: on a shared machine
// the wall clock also measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCorpus returns every record of the shared audit corpus and the
// number of audit events (distinct serials) they form.
func benchCorpus(b *testing.B) ([]Event, int) {
	var recs []Event
	serials := map[string]bool{}
	for _, file := range auditFiles(b) {
		recs = append(recs, loadAudit(b, file)...)
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if _, rest, ok := strings.Cut(line, "msg=audit("); ok {
				if stamp, _, ok := strings.Cut(rest, ")"); ok {
					serials[file+"|"+stamp] = true
				}
			}
		}
	}
	return recs, len(serials)
}

// BenchmarkFilterAuditCorpus filters the shared audit corpus (real
// SYSCALL, EXECVE, PATH, CWD, PROCTITLE, SOCKADDR, USER_* … records) with
// the default policy, one goroutine, warm caches as in steady state.
func BenchmarkFilterAuditCorpus(b *testing.B) {
	recs, events := benchCorpus(b)
	f := mustFilter(b, DefaultConfig(), testKeyring(b))
	var dst Event
	b.ResetTimer()
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		for i := range recs {
			f.ApplyTo(&dst, &recs[i])
		}
		n += len(recs)
	}
	sec, cpu := b.Elapsed().Seconds(), (cpuTime() - cpu0).Seconds()
	ev := float64(n) * float64(events) / float64(len(recs))
	b.ReportMetric(float64(n)/sec, "records/s")
	b.ReportMetric(ev/sec, "events/s")
	b.ReportMetric(ev/cpu, "events/cpu-s")
}

// execEvent is a typical exec event: SYSCALL, EXECVE, CWD, two PATHs and
// PROCTITLE, with identifiers varying by i (cold caches when i grows).
func execEvent(i int) []Event {
	uid := strconv.Itoa(1000 + i%50000)
	user := "user" + uid
	return []Event{
		ev("SYSCALL", "arch", "c000003e", "syscall", "59", "success", "yes", "exit", "0", "a0", "55d5c0a0", "a1", "55d5c0b0", "a2", "55d5c0c0",
			"a3", "0", "items", "2", "ppid", "4242", "pid", strconv.Itoa(5000+i), "auid", uid, "uid", uid, "gid", uid, "euid", uid, "suid", uid,
			"fsuid", uid, "egid", uid, "sgid", uid, "fsgid", uid, "tty", "pts0", "ses", "3", "comm", "grep", "exe", "/usr/bin/grep", "key", "exec"),
		ev("EXECVE", "argc", "4", "a0", "grep", "a1", "-r", "a2", "password", "a3", "/home/"+user+"/notes"),
		ev("CWD", "cwd", "/home/"+user),
		ev("PATH", "item", "0", "name", "/usr/bin/grep", "inode", "1835", "dev", "fd:01", "mode", "0100755", "ouid", "0", "ogid", "0", "rdev", "00:00", "nametype", "NORMAL"),
		ev("PATH", "item", "1", "name", "/lib64/ld-linux-x86-64.so.2", "inode", "2042", "dev", "fd:01", "mode", "0100755", "ouid", "0", "ogid", "0", "rdev", "00:00", "nametype", "NORMAL"),
		ev("PROCTITLE", "proctitle", "grep -r password /home/"+user+"/notes"),
	}
}

// BenchmarkFilterExec filters typical exec events (6 records each).
// "warm": 50 users recur; "cold": every event has a new uid, user name
// and (in a connect record) a new IP address, so every pseudonym and
// Crypto-PAn address is computed.
func BenchmarkFilterExec(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			f := mustFilter(b, DefaultConfig(), testKeyring(b))
			var pool [][]Event
			size := 50
			if mode == "cold" {
				size = 50000
			}
			for i := range size {
				e := execEvent(i)
				if mode == "cold" {
					e = append(e, ev("SOCKADDR", "saddr", fmt.Sprintf("02000050%08X0000000000000000", 0x0A000000+i)))
				}
				pool = append(pool, e)
			}
			var dst Event
			n := 0
			cpu0 := cpuTime()
			for b.Loop() {
				for _, r := range pool[n%len(pool)] {
					f.ApplyTo(&dst, &r)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(n)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
		})
	}
}

// BenchmarkFilterParallel runs the corpus on all cores.
func BenchmarkFilterParallel(b *testing.B) {
	recs, events := benchCorpus(b)
	f := mustFilter(b, DefaultConfig(), testKeyring(b))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var dst Event
		i := 0
		for pb.Next() {
			f.ApplyTo(&dst, &recs[i%len(recs)])
			i++
		}
	})
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "records/s")
	b.ReportMetric(float64(b.N)*float64(events)/float64(len(recs))/sec, "events/s")
}

// BenchmarkLint scans the filtered corpus as JSON lines.
func BenchmarkLint(b *testing.B) {
	recs, _ := benchCorpus(b)
	f := mustFilter(b, DefaultConfig(), testKeyring(b))
	var sb strings.Builder
	for _, r := range recs {
		if out, ok := f.Apply(r); ok {
			sb.Write(out.AppendJSON(nil))
			sb.WriteByte('\n')
		}
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if fs, err := Lint(strings.NewReader(data), LintOptions{Values: []string{"andrew_kroh", "washdc"}}); err != nil || len(fs) != 0 {
			b.Fatal(err, fs)
		}
	}
	b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
