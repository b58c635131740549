// Command agentbench measures the node agent. bench/agent.sh runs it.
//
//	agentbench -build OUT -shared DIR -events N   write a log of about N events by looping the shared logs
//	agentbench -pipeline LOG [-ledger DIR]        run the whole pipeline on LOG (parse, reassemble,
//	                                              attribute, detect, filter, append to a ledger)
//	agentbench -spawn RATE -duration D            start /bin/true RATE times a second for D
//	agentbench -cpu PID                           print the CPU seconds PID has used (utime+stime)
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-sec/rampart/agent"
	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/agent/rules"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	build := flag.String("build", "", "write a log built from -shared to this file")
	shared := flag.String("shared", "", "directory of real audit logs (shared/testdata/audit)")
	events := flag.Int("events", 1_000_000, "events in the built log (about)")
	pipeline := flag.String("pipeline", "", "audit log to run through the whole pipeline")
	ledgerDir := flag.String("ledger", "", "ledger directory for -pipeline (default: a new temporary one)")
	spawn := flag.Int("spawn", 0, "start /bin/true this many times a second")
	duration := flag.Duration("duration", 20*time.Second, "how long -spawn runs")
	cpu := flag.Int("cpu", 0, "print the CPU seconds of this process")
	profile := flag.String("cpuprofile", "", "write a CPU profile of -pipeline or -live to this file")
	memprofile := flag.String("memprofile", "", "write a heap profile at the end of -pipeline to this file")
	live := flag.Duration("live", 0, "run the agent on the kernel (multicast, with its rules for -policy) for this long")
	policyPath := flag.String("policy", "agent/testdata/corpus-policy.hcl", "policy file for -pipeline and -live (the default is relative to the repository root)")
	coalesce := flag.Duration("coalesce", 0, "-live: NetlinkOptions.Coalesce")
	capture := flag.String("capture", "", "write the records the kernel multicasts for -duration to this file, as an audit log")
	flag.Parse()
	// As "rampart agent run" does (see tuneGC in cmd/rampart).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "agentbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var err error
	switch {
	case *build != "":
		err = buildLog(*build, *shared, *events)
	case *pipeline != "":
		err = runPipeline(*pipeline, *ledgerDir, *policyPath, *memprofile)
	case *capture != "":
		err = captureLog(*capture, *duration)
	case *live > 0:
		err = runLive(*policyPath, *ledgerDir, *live, *coalesce)
	case *spawn > 0:
		err = spawnLoop(*spawn, *duration)
	case *cpu > 0:
		var s float64
		if s, err = cpuSeconds(*cpu); err == nil {
			fmt.Printf("%.3f\n", s)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "agentbench:", err)
		os.Exit(1)
	}
}

// buildLog concatenates copies of the shared logs, giving every event of
// every copy a new serial, consecutive in order of first appearance (so
// that the reassembler sees a gapless stream), until about n events are
// written.
func buildLog(out, dir string, n int) error {
	stampRE := regexp.MustCompile(`msg=audit\((\d+)\.(\d+):(\d+)\)`)
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
	var logs [][][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var lines [][]byte
		for _, l := range bytes.Split(b, []byte("\n")) {
			if stampRE.Match(l) {
				lines = append(lines, l)
			}
		}
		logs = append(logs, lines)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	next := uint64(1000)
	written := 0
	for written < n {
		for _, lines := range logs {
			serials := map[string]uint64{}
			for _, l := range lines {
				m := stampRE.FindSubmatchIndex(l)
				old := string(l[m[6]:m[7]])
				s, ok := serials[old]
				if !ok {
					s = next
					next++
					serials[old] = s
					written++
				}
				w.Write(l[:m[6]])
				w.WriteString(strconv.FormatUint(s, 10))
				w.Write(l[m[7]:])
				w.WriteByte('\n')
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// runPipeline runs the agent on a log and prints its throughput.
func runPipeline(in, dir, policyPath, memprofile string) error {
	p, err := policy.Load(policyPath)
	if err != nil {
		return err
	}
	env, err := detect.NewEnv()
	if err != nil {
		return err
	}
	rs, err := env.LoadFS(rules.FS, ".")
	if err != nil {
		return err
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "agentbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "ledger")
	}
	skey, _, err := ledger.GenerateKey("bench/agent")
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	led, err := ledger.Create(dir, "bench/agent", signer, nil)
	if err != nil {
		return err
	}
	k, err := privacy.NewKey("k1", rand.Reader)
	if err != nil {
		return err
	}
	kr, err := privacy.NewKeyring(k)
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Options{Policy: p, Keyring: kr, Ledger: led, Rules: rs, Source: "bench",
		FilterOptions: []privacy.Option{privacy.WithKnownIdentifiers(privacy.KindUser, "vagrant", "andrew_kroh")},
		LookupUser:    func(uid uint32) (string, bool) { return "vagrant", uid == 1000 }})
	if err != nil {
		return err
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	runtime.GC()
	cpu0 := selfCPU()
	t0 := time.Now()
	if err := a.Start(); err != nil {
		return err
	}
	if err := a.RunReader(context.Background(), bufio.NewReaderSize(f, 1<<20), agent.ReaderOptions{}); err != nil {
		return err
	}
	if memprofile != "" {
		runtime.GC()
		if f, err := os.Create(memprofile); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	if err := a.Close(""); err != nil {
		return err
	}
	if err := led.Close(); err != nil {
		return err
	}
	wall := time.Since(t0).Seconds()
	cpu := selfCPU() - cpu0
	st := a.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("input %.0f MiB, %d records, %d events, %d alerts, %d losses, %d ledger entries (%.0f MiB)\n",
		float64(fi.Size())/(1<<20), st.Records, st.Events, st.Alerts, st.LossReports, st.Entries, float64(dirSize(dir))/(1<<20))
	fmt.Printf("wall %.2f s, CPU %.2f s (GOMAXPROCS %d), heap in use %.0f MiB\n", wall, cpu, runtime.GOMAXPROCS(0), float64(ms.HeapInuse)/(1<<20))
	fmt.Printf("events/s wall %.0f, events/s per CPU second %.0f\n", float64(st.Events)/wall, float64(st.Events)/cpu)
	return nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// runLive runs the agent on the kernel for d and prints its CPU use.
func runLive(policyFile, dir string, d, coalesce time.Duration) error {
	p, err := policy.Load(policyFile)
	if err != nil {
		return err
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "agentbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "ledger")
	}
	led, kr, err := newLedger(dir)
	if err != nil {
		return err
	}
	a, err := agent.New(agent.Options{Policy: p, Keyring: kr, Ledger: led, Source: "bench", LookupExe: agent.ProcExe})
	if err != nil {
		return err
	}
	rs, err := agent.AuditRules(p, agent.AuditRuleOptions{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := a.Start(); err != nil {
		return err
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	cpu0 := selfCPU()
	err = a.RunNetlink(ctx, agent.NetlinkOptions{Mode: audit.Multicast, Rules: agent.RuleLines(rs), Coalesce: coalesce})
	cpu := selfCPU() - cpu0
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	fmt.Printf("user %.2f s, system %.2f s, %d voluntary and %d involuntary context switches\n",
		float64(ru1.Utime.Nano()-ru0.Utime.Nano())/1e9, float64(ru1.Stime.Nano()-ru0.Stime.Nano())/1e9, ru1.Nvcsw-ru0.Nvcsw, ru1.Nivcsw-ru0.Nivcsw)
	if cerr := a.Close(""); err == nil {
		err = cerr
	}
	st := a.Stats()
	fmt.Printf("%d events, %d records in %v: CPU %.2f s (%.1f%% of one CPU), %.1f µs per event\n",
		st.Events, st.Records, d, cpu, 100*cpu/d.Seconds(), 1e6*cpu/float64(max(st.Events, 1)))
	return err
}

// captureLog writes what the kernel multicasts for d to out.
func captureLog(out string, d time.Duration) error {
	c, err := audit.Dial(audit.Multicast)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	end := time.Now().Add(d)
	n := 0
	for time.Now().Before(end) {
		c.SetDeadline(end)
		t, data, err := c.Receive()
		if err != nil {
			if os.IsTimeout(err) || err == audit.ErrOverflow {
				continue
			}
			return err
		}
		fmt.Fprintf(w, "type=%s msg=%s\n", t, data)
		n++
	}
	fmt.Printf("%d records captured\n", n)
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// newLedger creates a ledger in dir and a fresh keyring.
func newLedger(dir string) (*ledger.Ledger, *privacy.Keyring, error) {
	skey, _, err := ledger.GenerateKey("bench/agent")
	if err != nil {
		return nil, nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, err
	}
	led, err := ledger.Create(dir, "bench/agent", signer, nil)
	if err != nil {
		return nil, nil, err
	}
	k, err := privacy.NewKey("k1", rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	kr, err := privacy.NewKeyring(k)
	return led, kr, err
}

// selfCPU returns this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// spawnLoop starts /bin/true rate times a second for d and prints the
// rate achieved. Four goroutines share the rate, so that a slow fork does
// not hold back the next.
func spawnLoop(rate int, d time.Duration) error {
	const workers = 4
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	var mu sync.Mutex
	n, fails := 0, 0
	attr := &syscall.ProcAttr{Env: []string{}, Files: []uintptr{0, 1, 2}}
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second * workers / time.Duration(rate))
			defer tick.Stop()
			for time.Now().Before(end) {
				<-tick.C
				pid, err := syscall.ForkExec("/bin/true", []string{"true"}, attr)
				mu.Lock()
				if err != nil {
					fails++
				} else {
					n++
				}
				mu.Unlock()
				if err == nil {
					var ws syscall.WaitStatus
					syscall.Wait4(pid, &ws, 0, nil)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	fmt.Printf("%d execs in %.1f s: %.0f/s (%d failed)\n", n, el, float64(n)/el, fails)
	return nil
}

// cpuSeconds reads utime+stime of pid from /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields after the comm: state is f[0]; utime and stime are stat
	// fields 14 and 15, f[11] and f[12]
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	return (u + st) / 100, nil // USER_HZ is 100 on Linux
}
