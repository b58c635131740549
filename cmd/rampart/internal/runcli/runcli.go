// Package runcli is "rampart run": the command line of package sandbox.
//
// It is a package of its own, rather than part of package main, so that
// a launch does not pay for the initialization of the rest of the
// program. Go initializes packages in a fixed order (repeatedly, the one
// with the lexically smallest import path among those whose imports are
// all initialized), and this package imports only what "rampart run"
// needs: it is initialized right after package policy, before the
// packages that only other commands use (the Prometheus client, CEL's
// environment, net/http, html/template, crypto/x509…). Its init
// function runs "rampart run" when that is the command (os.Args[1] is
// "run") and exits with its status; otherwise it does nothing and
// package main (whose "run" command calls Main, for in-process tests)
// starts as usual. TestRunInitOrder in cmd/rampart guards the order.
//
// It must stay light: importing a package that brings the heavy ones
// (agent, ledger, forensics, cel-go, the Prometheus client…) would
// initialize them first.
package runcli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/sandbox"
	"github.com/rampart-sec/rampart/sandbox/seccomp"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		os.Exit(run(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, os.Args[1:]))
	}
}

const runUsage = `Usage: rampart run --policy P --compartment NAME [flags] [--] [CMD [ARGS...]]

Start CMD confined as a compartment of the policy: Landlock filesystem and
TCP rules from its grants and channels, a seccomp syscall filter from its
syscall groups, mount/pid/ipc/uts (and, without TCP/UDP channels, network)
namespaces, its user, capabilities and rlimits, no_new_privs and a scrubbed
environment. Without CMD, the compartment's first executable runs.
Flags end at the first argument that is not a flag, or at "--": CMD's own
flags are CMD's.

Flags:
`

const runHelp = `
Exit status: CMD's, or 128+N when signal N killed it; 125 when rampart
failed before CMD started (usage, policy, unknown names, sandbox setup,
--require-full gaps); 126 when CMD cannot be executed; 127 when it is not
found. With --explain: 0, or 1 when --require-full finds gaps.
See docs/confinement.md.`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// intList is a repeatable integer flag.
type intList []int

func (l *intList) String() string { return fmt.Sprint([]int(*l)) }
func (l *intList) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	*l = append(*l, n)
	return nil
}

// Main implements "rampart run" with these arguments (those after "run")
// and streams, and returns its exit status. It has no verb: its flags
// stop at the command. It does not write the launch cache, which is
// keyed by the process's own arguments.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(args, stdin, stdout, stderr, nil)
}

// run is Main; cacheArgs, when set, are the process's arguments after
// argv[0], and the planned launch is remembered in the launch cache
// under them (with the environment and working directory), so that the
// next identical "rampart run" starts without the Go runtime.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, cacheArgs []string) int {
	fs := flag.NewFlagSet("rampart run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		policies, setenv, keepEnv stringList
		addSyscalls               stringList
		keepFDs                   intList
		compartment, rootPrefix   string
		user, group, action       string
		selinuxLabel              string
		explain, jsonOut, full    bool
		quiet, logRefused         bool
		noCache                   bool
	)
	fs.Var(&policies, "policy", "policy file or directory of *.hcl (repeatable)")
	fs.StringVar(&compartment, "compartment", "", "the compartment to run as")
	fs.BoolVar(&explain, "explain", false, "print the resolved sandbox (each rule and the mechanism that enforces it) instead of running")
	fs.BoolVar(&jsonOut, "json", false, "with --explain: print the plan as JSON")
	fs.BoolVar(&full, "require-full", false, "refuse to run when this kernel cannot enforce part of the policy (a gap)")
	fs.StringVar(&action, "seccomp-action", "errno", "verdict for refused syscalls: errno (EPERM), errno:ENAME or kill")
	fs.StringVar(&rootPrefix, "root-prefix", "", "directory the policy's paths are rooted at (testing an image or a staged tree)")
	fs.StringVar(&user, "user", "", "run as this user instead of the compartment's (root only)")
	fs.StringVar(&group, "group", "", "run with this primary group instead of the compartment's (root only)")
	fs.Var(&setenv, "setenv", "set NAME=value in the command's environment (repeatable)")
	fs.Var(&keepEnv, "keep-env", "keep this variable of the caller's environment (repeatable)")
	fs.Var(&keepFDs, "keep-fd", "pass this inherited descriptor (>2) to the command (repeatable)")
	fs.StringVar(&selinuxLabel, "selinux-label", "", "SELinux exec context (default system_u:system_r:<compartment>_t:s0) when SELinux is enabled")
	fs.BoolVar(&quiet, "quiet", false, "do not print gaps and warnings before running")
	fs.BoolVar(&logRefused, "log-refused", false, "print each syscall the seccomp filter refuses, on stderr")
	fs.BoolVar(&noCache, "no-cache", false, "plan the sandbox anew and do not remember it in the launch cache")
	fs.Var(&addSyscalls, "add-syscalls", "widen the compartment's syscall filter with these names or @groups (comma-separated, repeatable; diagnosis)")
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "rampart run: "+format+"\n", args...)
		return sandbox.ExitSetup
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return 0
		}
		return fail("%v (see --help)", err)
	}
	if len(policies) == 0 || compartment == "" {
		return fail("--policy and --compartment are required (see --help)")
	}
	refuse, err := seccomp.ParseAction(action)
	if err != nil {
		return fail("--seccomp-action: %v", err)
	}
	// A short-lived command: no garbage collection while it loads the
	// policy and plans the sandbox (it is back on before the command
	// runs, for a long wait).
	debug.SetGCPercent(-1)
	p, err := policy.Load(policies...)
	if err != nil {
		return fail("%v", err)
	}
	// A descriptor to keep must be one rampart inherited, which is not
	// close-on-exec (execve closed those). The Go runtime's own are (it
	// keeps files open from its start, such as its cgroup CPU limits):
	// one of them on the number of a descriptor the caller had closed
	// would pass the check below and reach the command.
	if cacheArgs != nil {
		for _, fd := range keepFDs {
			if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && fl&unix.FD_CLOEXEC != 0 {
				return fail("--keep-fd %d: bad file descriptor", fd)
			}
		}
	}
	// The working directory as the kernel has it: the launch cache is
	// keyed by it (os.Getwd may answer $PWD, a path through symlinks).
	cwd, err := unix.Getwd()
	if err != nil {
		return fail("working directory: %v", err)
	}
	pl, err := sandbox.Build(p, compartment, fs.Args(), sandbox.Options{
		RootPrefix: rootPrefix, SeccompRefuse: refuse, User: user, Group: group,
		Environ: os.Environ(), SetEnv: setenv, KeepEnv: keepEnv, KeepFDs: keepFDs,
		SELinuxLabel: selinuxLabel, AddSyscalls: splitList(addSyscalls), Dir: cwd,
	})
	if err != nil {
		var ce *sandbox.CommandError
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "rampart run: %v\n", err)
			return ce.Code
		}
		return fail("%v", err)
	}
	if explain || jsonOut {
		if jsonOut {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(pl)
		} else {
			err = pl.Explain(stdout)
		}
		if err != nil {
			return fail("%v", err)
		}
		if full && pl.RequireFull() != nil {
			fmt.Fprintf(stderr, "rampart run: %v\n", pl.RequireFull())
			return 1
		}
		return 0
	}
	if full {
		if err := pl.RequireFull(); err != nil {
			return fail("%v", err)
		}
	}
	var notes strings.Builder
	if !quiet {
		for _, g := range pl.Gaps {
			fmt.Fprintf(&notes, "rampart run: gap: %s\n", g)
		}
		if n := len(pl.Warnings); n > 0 {
			fmt.Fprintf(&notes, "rampart run: %d warning(s) about compartment %s; see --explain\n", n, pl.Compartment)
		}
		io.WriteString(stderr, notes.String())
	}
	if cacheArgs != nil {
		// The process itself: it becomes the launcher, with the record
		// it remembers in the launch cache.
		record, err := pl.LaunchRecord(logRefused)
		if err != nil {
			return fail("sandbox setup: %v", err)
		}
		if !noCache {
			remember(pl, cacheArgs, cwd, policies, notes.String(), record)
		}
		err = sandbox.Exec(pl, record)
		fmt.Fprintf(stderr, "rampart run: %v\n", err)
		return sandbox.ExitSetup
	}
	debug.SetGCPercent(100) // for the wait
	stdio := sandbox.Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if logRefused {
		stdio.Refused = stderr
	}
	code, err := sandbox.Run(pl, stdio)
	if err != nil {
		fmt.Fprintf(stderr, "rampart run: %v\n", err)
	}
	return code
}

// remember stores the plan in the launch cache. It is an optimization:
// when it cannot (a policy file changed a moment ago, no writable cache
// directory), the next launch plans again; RAMPART_DEBUG_CACHE=1 says
// why on stderr.
func remember(pl *sandbox.Plan, args []string, cwd string, policies []string, notes string, record []byte) {
	err := pl.Remember(args, os.Environ(), cwd, policies, notes, record)
	if err != nil && os.Getenv("RAMPART_DEBUG_CACHE") == "1" {
		fmt.Fprintf(os.Stderr, "rampart run: launch cache: %v\n", err)
	}
}

// splitList splits comma-separated flag values.
func splitList(l []string) []string {
	var out []string
	for _, v := range l {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, runUsage)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = "=" + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n", f.Name, name, usage, def)
	})
	fmt.Fprintln(w, runHelp)
}
