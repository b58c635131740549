// Command rampart is the defence-in-depth toolkit for Linux nodes that hold
// high-value state: sealed dm-verity images, compartment policies,
// confinement, a tamper-evident ledger and investigation.
//
// Commands take the form "rampart GROUP VERB [flags] [args]". Every command
// accepts --help. Exit status is 0 on success, 1 when a check failed and 2
// on a usage or input error.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	app := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(app.run(os.Args[1:]))
}

// app holds the streams a command writes to, so tests can run the CLI in
// process without touching the real ones.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// groups lists the command groups in the order help shows them.
func (a *app) groups() []*group {
	return []*group{
		verityGroup(),
		imageGroup(),
		bundleGroup(),
		policyGroup(),
		ledgerGroup(),
		agentGroup(),
	}
}

func (a *app) run(args []string) int {
	groups := a.groups()
	if len(args) == 0 {
		a.usage(a.stderr, groups)
		return exitUsage
	}
	if isHelp(args[0]) || args[0] == "help" {
		a.usage(a.stdout, groups)
		return exitOK
	}
	if args[0] == "run" { // verb-less: its flags stop at the command
		return a.runCommand(args[1:])
	}
	// The agent group is also a command: "agent --policy P …" runs it.
	args = agentArgs(args)
	if args[0] == "investigate" { // verb-less: rampart investigate --backward …
		return a.runInvestigate(args[1:])
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(a.stdout, "rampart", version)
		return exitOK
	}
	for _, g := range groups {
		if g.name == args[0] {
			return a.runGroup(g, args[1:])
		}
	}
	fmt.Fprintf(a.stderr, "rampart: unknown command %q (see 'rampart --help')\n", args[0])
	return exitUsage
}

func (a *app) usage(w io.Writer, groups []*group) {
	fmt.Fprintln(w, "Usage: rampart GROUP VERB [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Groups:")
	for _, g := range groups {
		fmt.Fprintf(w, "  %-12s %s\n", g.name, g.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	fmt.Fprintf(w, "  %-12s %s\n", "run", "start a program inside its compartment (rampart run --help)")
	fmt.Fprintf(w, "  %-12s %s\n", "investigate", "root cause and impact from an alert, a file, a process (rampart investigate --help)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'rampart GROUP --help' for the verbs of a group.")
	fmt.Fprintln(w, "Exit status: 0 ok, 1 check failed, 2 usage or input error.")
}

func (a *app) runGroup(g *group, args []string) int {
	if len(args) == 0 {
		a.groupUsage(a.stderr, g)
		return exitUsage
	}
	if isHelp(args[0]) || args[0] == "help" {
		a.groupUsage(a.stdout, g)
		return exitOK
	}
	for _, v := range g.verbs {
		if v.name == args[0] {
			return a.runVerb(g, v, args[1:])
		}
	}
	fmt.Fprintf(a.stderr, "rampart %s: unknown verb %q (see 'rampart %s --help')\n", g.name, args[0], g.name)
	return exitUsage
}

func (a *app) groupUsage(w io.Writer, g *group) {
	fmt.Fprintf(w, "Usage: rampart %s VERB [flags] [args]\n\n%s\n\nVerbs:\n", g.name, g.summary)
	for _, v := range g.verbs {
		fmt.Fprintf(w, "  %-12s %s\n", v.name, v.summary)
	}
	fmt.Fprintf(w, "\nRun 'rampart %s VERB --help' for the flags of a verb.\n", g.name)
}
