//go:build ignore

// run_launch times process launches for bench/run.sh: each command is
// started N times in a row (fork, exec, wait; output to /dev/null), in
// ROUNDS interleaved rounds, and the best round's mean is reported per
// launch, with the median round's.
//
//	go run bench/run_launch.go -n 200 -rounds 5 [-uid 65534] \
//	    plain /bin/true ::: rampart rampart run ... /bin/true ::: bwrap bwrap ... /bin/true
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

type command struct {
	label string
	argv  []string
	times []float64 // ms per launch, per round
	cpu   []float64 // CPU ms (user+system, with waited-for descendants) per launch, per round
}

func main() {
	n := flag.Int("n", 200, "launches per command (split over the rounds)")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	uid := flag.Int("uid", -1, "run the commands as this uid and gid (root only)")
	flag.Parse()
	var cmds []*command
	var cur []string
	flush := func() {
		if len(cur) > 1 {
			cmds = append(cmds, &command{label: cur[0], argv: cur[1:]})
		}
		cur = nil
	}
	for _, a := range flag.Args() {
		if a == ":::" {
			flush()
			continue
		}
		cur = append(cur, a)
	}
	flush()
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{null.Fd(), null.Fd(), 2}, Sys: &syscall.SysProcAttr{}}
	if *uid >= 0 {
		attr.Sys.Credential = &syscall.Credential{Uid: uint32(*uid), Gid: uint32(*uid)}
	}
	per := *n / *rounds
	if per < 1 {
		per = 1
	}
	launch := func(c *command) time.Duration {
		pid, err := syscall.ForkExec(c.argv[0], c.argv, attr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.label, err)
			os.Exit(1)
		}
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		syscall.Wait4(pid, &ws, 0, &ru)
		if !ws.Exited() || ws.ExitStatus() != 0 {
			fmt.Fprintf(os.Stderr, "%s: %s: status %v\n", c.label, strings.Join(c.argv, " "), ws)
			os.Exit(1)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, c := range cmds {
		launch(c) // warm the page cache
	}
	for r := 0; r < *rounds; r++ {
		for _, c := range cmds {
			start := time.Now()
			var cpu time.Duration
			for i := 0; i < per; i++ {
				cpu += launch(c)
			}
			c.times = append(c.times, float64(time.Since(start).Microseconds())/1000/float64(per))
			c.cpu = append(c.cpu, float64(cpu.Microseconds())/1000/float64(per))
		}
	}
	base := 0.0
	for i, c := range cmds {
		sort.Float64s(c.times)
		sort.Float64s(c.cpu)
		best, med := c.times[0], c.times[len(c.times)/2]
		if i == 0 {
			base = best
			fmt.Printf("%-10s %8.2f ms/launch (median round %.2f), CPU %.2f ms\n", c.label, best, med, c.cpu[0])
			continue
		}
		fmt.Printf("%-10s %8.2f ms/launch (median round %.2f), +%.2f ms over %s, CPU %.2f ms\n", c.label, best, med, best-base, cmds[0].label, c.cpu[0])
	}
	if len(cmds) >= 3 {
		o1, o2 := cmds[1].times[0]-base, cmds[2].times[0]-base
		fmt.Printf("%s/%s: %.2f per launch, %.2f of the overhead (overheads %.2f / %.2f ms)\n", cmds[1].label, cmds[2].label, cmds[1].times[0]/cmds[2].times[0], o1/o2, o1, o2)
	}
	fmt.Printf("(%d launches per command in %d rounds)\n", per**rounds, *rounds)
}
