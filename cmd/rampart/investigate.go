package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/forensics"
	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/forensics/ingest"
	"github.com/rampart-sec/rampart/forensics/report"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
)

// investigateGroup is "rampart investigate", a command without verbs: its
// one verb has the group's name and runs on "rampart investigate
// [flags]" (dispatched from app.run).
func investigateGroup() *group {
	return &group{
		name:    "investigate",
		summary: "root cause, impact and countermeasures from the ledger or audit logs (provenance graph)",
		verbs: []*verb{{
			name:    "investigate",
			args:    "(--backward START | --forward START) [--at TIME] (--ledger DIR --key PUB | --audit LOG... | LOG...)",
			summary: "trace a file, process, endpoint, event or alert back to its entry points (--backward) or forward to its impact (--forward)",
			help:    investigateHelp,
			setup:   investigateSetup,
		}},
	}
}

const investigateHelp = `
START names a node of the provenance graph:
  file:PATH or PATH   a file (absolute path, or a unique path suffix)
  proc:PID/SERIAL     a process image by exec identity
  pid:N, exe:PATH, comm:NAME   every image of a process, executable or name
  endpoint:ADDR       a network or unix endpoint (10.0.0.1:443, unix:/run/x.sock)
  session:N           a login session
  event:SERIAL        an audit event
  alert:N             the Nth alert of the ledger (see --alerts), or alert:seq:N

--at bounds a backward query (what happened up to TIME) and starts a forward
one (what happened from TIME on). TIME is RFC 3339, "2006-01-02 15:04:05.000"
(UTC), or Unix seconds as audit writes them (1465932212.727).

A backward query finds the entry points (inbound and outbound connections,
login sessions, processes and descriptors older than the trace), then follows
them forward for the impact: processes started, files modified, endpoints
contacted, secrets read, compartments touched. With --policy, each
compromised compartment's impact is set beside its blast radius, and the
countermeasures name the secrets to rotate, files to restore, compartments to
restart or re-image, endpoints to block and sessions to review.

A ledger is verified first (--key, and --checkpoint kept off the node); one
that fails verification is refused unless --unverified is given, and the
report then says so on its first line.

Exit status: 0 when the report was produced, 1 when the ledger failed
verification, 2 on a usage or input error (unknown START included).
See docs/investigate.md.`

// runInvestigate runs "rampart investigate ARGS".
func (a *app) runInvestigate(args []string) int {
	return a.runNamed("investigate", investigateGroup().verbs[0], args)
}

// parseTime reads --at.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		s = s[:i] // an audit stamp SEC.MS:SERIAL
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9+0.5)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--at %q: not a time (RFC 3339, \"2006-01-02 15:04:05\" or Unix seconds)", s)
}

func investigateSetup(fs *flag.FlagSet) func(*ctx, []string) error {
	var (
		audits, ledgers, keys, cps, policies, sealed, globs listFlag
		backward, forward, at, dotOut, htmlOut, ioMode      string
		keyringPath                                         string
		filters                                             = "libraries,caches,temporary"
		unverified, noReduce, noImpact, through, alerts     bool
		maxNodes, maxView                                   int
	)
	fs.StringVar(&backward, "backward", "", "root cause: trace START back to its entry points")
	fs.StringVar(&forward, "forward", "", "impact: trace START forward")
	fs.StringVar(&at, "at", "", "the time of the start (default: the end of the input backward, the start's first event forward)")
	fs.Var(&audits, "audit", "audit log file (repeatable; positional arguments are audit logs too)")
	fs.Var(&ledgers, "ledger", "ledger directory written by the agent (repeatable)")
	fs.Var(&keys, "key", "public verifier key file of the ledger (repeatable)")
	fs.Var(&cps, "checkpoint", "signed checkpoint kept outside the ledger (repeatable)")
	fs.BoolVar(&unverified, "unverified", false, "read a ledger that fails verification (the report says so first)")
	fs.StringVar(&keyringPath, "keyring", "", "privacy keyring of the ledger: reveal the addresses it anonymised")
	fs.Var(&policies, "policy", "policy file or directory: compartments, secrets, blast radius (repeatable)")
	fs.Var(&sealed, "sealed", "glob of the sealed root filesystem, besides resources labelled rootfs (repeatable)")
	fs.StringVar(&filters, "filters", filters, "input filters to apply: libraries, caches, temporary, or none")
	fs.Var(&globs, "filter-glob", "also filter reads of files matching this glob (repeatable)")
	fs.BoolVar(&noReduce, "no-reduce", false, "keep every event (no causality-preserving reduction)")
	fs.StringVar(&ioMode, "io", "auto", "were reads and writes recorded: auto, calls, opens")
	fs.BoolVar(&noImpact, "no-impact", false, "backward: do not follow the entry points forward")
	fs.BoolVar(&through, "through-remote", false, "follow flows through remote network endpoints")
	fs.IntVar(&maxNodes, "max-nodes", 0, "stop a traversal after this many nodes (0: no limit)")
	fs.IntVar(&maxView, "max-view", 250, "nodes drawn in --dot and --html")
	fs.StringVar(&dotOut, "dot", "", "write the graph as Graphviz DOT to this file (- for stdout)")
	fs.StringVar(&htmlOut, "html", "", "write a self-contained HTML report to this file (- for stdout)")
	fs.BoolVar(&alerts, "alerts", false, "list the ledger's alerts (for alert:N) and exit")
	return func(c *ctx, args []string) error {
		audits = append(audits, args...)
		if (backward == "") == (forward == "") && !alerts {
			return usagef("give one of --backward START or --forward START")
		}
		if len(audits) == 0 && len(ledgers) == 0 {
			return usagef("no input: give audit logs (--audit or arguments) or --ledger DIR")
		}
		if len(ledgers) == 0 && (len(keys) > 0 || len(cps) > 0 || unverified || keyringPath != "") {
			return usagef("--key, --checkpoint, --unverified and --keyring apply to --ledger")
		}
		t, err := parseTime(at)
		if err != nil {
			return usagef("%v", err)
		}
		opts := forensics.Options{NoReduce: noReduce, Sealed: sealed, MaxView: maxView,
			Limits: graph.Limits{MaxNodes: maxNodes, ThroughRemote: through}}
		switch ioMode {
		case "auto":
		case "calls":
			opts.IO = ingest.IOCalls
		case "opens":
			opts.IO = ingest.IOOpens
		default:
			return usagef("--io %q: want auto, calls or opens", ioMode)
		}
		opts.Filters = []graph.Filter{}
		if filters != "none" && filters != "" {
			def := graph.DefaultFilters()
			for _, name := range strings.Split(filters, ",") {
				found := false
				for _, f := range def {
					if f.Name == strings.TrimSpace(name) {
						opts.Filters = append(opts.Filters, f)
						found = true
					}
				}
				if !found {
					return usagef("--filters: unknown filter %q (libraries, caches, temporary, none)", name)
				}
			}
		}
		if len(globs) > 0 {
			opts.Filters = append(opts.Filters, graph.Filter{Name: "custom", Description: "--filter-glob", Globs: globs})
		}
		if keyringPath != "" {
			kr, err := privacy.LoadKeyring(keyringPath)
			if err != nil {
				return err
			}
			opts.Keyring = kr
		}
		if len(policies) > 0 {
			p, err := policy.Load(policies...)
			if err != nil {
				return err
			}
			opts.Policy = p
		}
		src := forensics.Sources{AuditLogs: audits}
		for _, l := range ledgers {
			src.Ledgers = append(src.Ledgers, forensics.LedgerSource{Dir: l, Keys: keys, Checkpoints: cps, Unverified: unverified})
		}
		inv, err := forensics.Load(src, opts)
		if errors.Is(err, forensics.ErrUnverified) {
			return &failure{msg: err.Error()}
		}
		if err != nil {
			return err
		}
		if alerts {
			return listAlerts(c, inv)
		}
		q := forensics.Query{Direction: forensics.Backward, Start: backward, At: t, NoImpact: noImpact}
		if forward != "" {
			q.Direction, q.Start = forensics.Forward, forward
		}
		rep, err := inv.Run(q)
		if err != nil {
			return err
		}
		if dotOut != "" {
			if err := writeOut(c, dotOut, func(w io.Writer) error { return report.DOT(w, rep) }); err != nil {
				return err
			}
		}
		if htmlOut != "" {
			if err := writeOut(c, htmlOut, func(w io.Writer) error { return report.HTML(w, rep) }); err != nil {
				return err
			}
		}
		if dotOut == "-" || htmlOut == "-" {
			return nil
		}
		if c.json {
			return report.JSON(c.stdout, rep)
		}
		return report.Text(c.stdout, rep)
	}
}

// writeOut writes to a file, or to stdout for "-".
func writeOut(c *ctx, name string, write func(io.Writer) error) error {
	if name == "-" {
		return write(c.stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func listAlerts(c *ctx, inv *forensics.Investigation) error {
	if c.json {
		return c.writeJSON(inv.Alerts)
	}
	if len(inv.Warnings) > 0 && inv.Unverified {
		fmt.Fprintf(c.stdout, "WARNING: %s\n\n", inv.Warnings[0])
	}
	if len(inv.Alerts) == 0 {
		fmt.Fprintln(c.stdout, "No alerts in the input.")
		return nil
	}
	for i, a := range inv.Alerts {
		fmt.Fprintf(c.stdout, "alert:%d  entry %d  %s  %s  %s  (event %d, %s)\n", i+1, a.Seq, a.Time.UTC().Format("2006-01-02 15:04:05.000"), a.Rule, a.Description, a.Serial, a.Subject)
	}
	return nil
}
