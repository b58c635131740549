package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is the program's version, set at link time with
// -ldflags "-X main.version=...".
var version = "devel"

// Exit statuses shared by every command.
const (
	exitOK     = 0 // success
	exitFailed = 1 // a check ran and failed
	exitUsage  = 2 // bad usage or unreadable input
)

// group is a command group such as "verity".
type group struct {
	name    string
	summary string
	verbs   []*verb
}

// verb is one command of a group. setup declares its flags on fs and
// returns the function that runs it with the positional arguments.
type verb struct {
	name    string
	summary string
	// args describes the positional arguments for the usage line.
	args string
	// help is extra text printed after the flags.
	help  string
	setup func(fs *flag.FlagSet) func(c *ctx, args []string) error
}

// ctx is what a running verb sees.
type ctx struct {
	*app
	json bool
}

// failure is returned by a verb whose check ran and failed (exit 1). Its
// message has already been printed when msg is empty.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// usageError is returned for bad arguments (exit 2).
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

// runVerb runs verb v of group g.
func (a *app) runVerb(g *group, v *verb, args []string) int {
	return a.runNamed(g.name+" "+v.name, v, args)
}

// runNamed parses the flags of v, runs it and maps its error to an exit
// status; name is the command as the user typed it after "rampart".
func (a *app) runNamed(name string, v *verb, args []string) int {
	fs := flag.NewFlagSet("rampart "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &ctx{app: a}
	fs.BoolVar(&c.json, "json", false, "print machine-readable JSON on stdout")
	run := v.setup(fs)
	fs.Usage = func() {}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		a.verbUsage(name, v, fs)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "rampart %s: %v (see --help)\n", name, err)
		return exitUsage
	}
	err = run(c, pos)
	var f *failure
	var u *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &f):
		if f.msg != "" {
			fmt.Fprintf(a.stderr, "rampart %s: %s\n", name, f.msg)
		}
		return exitFailed
	case errors.As(err, &u):
		fmt.Fprintf(a.stderr, "rampart %s: %s (see --help)\n", name, u.msg)
		return exitUsage
	default:
		fmt.Fprintf(a.stderr, "rampart %s: %v\n", name, err)
		return exitUsage
	}
}

func (a *app) verbUsage(name string, v *verb, fs *flag.FlagSet) {
	w := a.stdout
	fmt.Fprintf(w, "Usage: rampart %s [flags] %s\n\n%s\n\nFlags:\n", name, v.args, v.summary)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if name != "" {
			name = "=" + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n", f.Name, name, usage, def)
	})
	if v.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(v.help))
	}
}

// parseInterleaved parses flags that may appear before, between or after
// positional arguments, as veritysetup and most GNU tools allow. "--" ends
// flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first non-flag, or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// writeJSON prints v as indented JSON on stdout.
func (c *ctx) writeJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// wantArgs checks the number of positional arguments.
func wantArgs(args []string, min, max int, names string) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		return usagef("expected arguments %s, got %d", names, len(args))
	}
	return nil
}

// isTerminal reports whether f is a character device, used to decide
// whether to print progress.
func isTerminal(f io.Writer) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
