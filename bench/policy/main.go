// Command policy benchmarks the policy analyses on a generated policy
// (package policy/gen): loading, building the analysis graphs, evaluating
// every invariant (check), and the blast radius of every compartment and
// role, both summarised (BlastRadii) and in full (BlastRadius for each).
// It prints the time of each phase and the Go heap figures; bench/policy.sh
// runs it under /usr/bin/time for the peak RSS. Not a test: run it by hand
// on a quiet machine.
//
//	go run ./bench/policy [-n 5000] [-m 50000] [-seed 1] [-files 1] [-runs 3]
//	go run ./bench/policy -generate-only -dir DIR   (write the policy only)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-sec/rampart/analysis"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/policy/gen"
)

func main() {
	n := flag.Int("n", 5000, "compartments")
	m := flag.Int("m", 50000, "resources")
	seed := flag.Int64("seed", 1, "generator seed")
	files := flag.Int("files", 1, "split the generated policy into this many files")
	runs := flag.Int("runs", 3, "repetitions; the best time of each phase is printed")
	dir := flag.String("dir", "", "write the policy here (default: a temporary directory, removed afterwards)")
	full := flag.Bool("full", true, "also compute the full blast radius of every subject")
	generate := flag.Bool("generate-only", false, "write the policy into -dir and stop")
	flag.Parse()
	if *generate {
		*runs = 0
		if *dir == "" {
			fmt.Fprintln(os.Stderr, "bench: -generate-only needs -dir")
			os.Exit(2)
		}
	}
	if err := run(*n, *m, *seed, *files, *runs, *dir, *full); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, m int, seed int64, files, runs int, dir string, full bool) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "rampart-policy-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	size := 0
	for name, src := range split(gen.Source(n, m, seed), files) {
		size += len(src)
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("policy: %d compartments, %d resources, seed %d, %d file(s), %.1f MB of HCL in %s\n", n, m, seed, files, float64(size)/1e6, dir)
	if runs == 0 {
		return nil
	}

	type phase struct {
		name string
		best time.Duration
		cpu  time.Duration // process CPU time (user + system) of the best run
	}
	phases := []*phase{{name: "load (parse + validate + index)"}, {name: "analysis graphs (New)"}, {name: "check (every invariant)"},
		{name: "blast radius, all subjects (summary)"}, {name: "blast radius, all subjects (full)"}}
	var violations, subjects, nodes, edges int
	var maxTaken int
	for r := 0; r < runs; r++ {
		runtime.GC()
		t, c := time.Now(), cpuTime()
		lap := func(i int) {
			d, dc := time.Since(t), cpuTime()-c
			if phases[i].best == 0 || d < phases[i].best {
				phases[i].best, phases[i].cpu = d, dc
			}
			t, c = time.Now(), cpuTime()
		}
		p, err := policy.Load(dir)
		if err != nil {
			return err
		}
		lap(0)
		a := analysis.New(p)
		lap(1)
		res := a.Check()
		lap(2)
		sums := a.BlastRadii()
		lap(3)
		if full {
			for _, c := range p.Compartments {
				if _, err := a.BlastRadius(c.Name); err != nil {
					return err
				}
			}
			for _, ro := range p.Roles {
				if _, err := a.BlastRadius(ro.Name); err != nil {
					return err
				}
			}
			lap(4)
		}
		violations = len(res.Violations())
		subjects = len(sums)
		nodes, edges = a.GraphSize()
		for _, s := range sums {
			maxTaken = max(maxTaken, s.TakenOver)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("flow graph: %d nodes, %d edges; %d subjects (largest takeover set %d); %d violations\n", nodes, edges, subjects, maxTaken, violations)
	fmt.Printf("best of %d runs, GOMAXPROCS=%d, %s:\n", runs, runtime.GOMAXPROCS(0), runtime.Version())
	var analysisTotal, analysisCPU time.Duration
	fmt.Printf("  %-40s %8s %8s\n", "phase", "wall", "cpu")
	for i, ph := range phases {
		if i == 4 && !full {
			continue
		}
		fmt.Printf("  %-40s %7.3fs %7.3fs\n", ph.name, ph.best.Seconds(), ph.cpu.Seconds())
		if i >= 1 && i <= 3 {
			analysisTotal += ph.best
			analysisCPU += ph.cpu
		}
	}
	fmt.Printf("  %-40s %7.3fs %7.3fs\n", "analysis (graphs + check + summaries)", analysisTotal.Seconds(), analysisCPU.Seconds())
	fmt.Printf("  %-40s %7.3fs %7.3fs\n", "load + analysis", (analysisTotal + phases[0].best).Seconds(), (analysisCPU + phases[0].cpu).Seconds())
	fmt.Printf("Go heap: %.0f MiB obtained from the OS (Sys), %.0f MiB peak heap in use by GC estimate (HeapSys %.0f MiB)\n",
		float64(ms.Sys)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys)/(1<<20))
	return nil
}

// split cuts a generated policy into k files of about equal size at
// top-level block boundaries (gen.Source ends every block with "}\n" at
// column 1).
func split(src []byte, k int) map[string][]byte {
	out := make(map[string][]byte)
	if k <= 1 {
		out["policy.hcl"] = src
		return out
	}
	text := string(src)
	target := len(text) / k
	for i := 0; len(text) > 0; i++ {
		cut := len(text)
		if i < k-1 && target < len(text) {
			if j := strings.Index(text[target:], "\n}\n"); j >= 0 {
				cut = target + j + 3
			}
		}
		out[fmt.Sprintf("policy-%03d.hcl", i)] = []byte(text[:cut])
		text = text[cut:]
	}
	return out
}

// cpuTime returns the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
