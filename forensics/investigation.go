// Package forensics answers an operator's questions after an alert: how
// did the attacker get in (root cause), what did they touch (impact),
// what could they still reach (the policy's blast radius of the
// compromised compartments), and what must be done now (countermeasures).
//
// Load reads audit.log files and Rampart ledgers into a provenance graph
// (package graph, through package ingest); Investigation.Run answers a
// backward or forward query from a file, process, endpoint, event or
// alert at a time, and returns a Report that package report renders as
// text, JSON, Graphviz DOT or a self-contained HTML page.
package forensics

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/rampart-sec/rampart/analysis"
	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/forensics/ingest"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
)

// Sources are the inputs of an investigation.
type Sources struct {
	// AuditLogs are audit.log files (any order: they are sorted by their
	// first record).
	AuditLogs []string
	// Ledgers are Rampart ledger directories written by the agent.
	Ledgers []LedgerSource
}

// LedgerSource is a ledger to read.
type LedgerSource struct {
	Dir string
	// Keys are files of public verifier keys; Checkpoints signed
	// checkpoints kept outside the ledger (ledger.Verify).
	Keys        []string
	Checkpoints []string
	// Unverified reads the ledger even when it fails verification (or no
	// key is given); the report then says so on its first line.
	Unverified bool
}

// Options configures an investigation.
type Options struct {
	// Policy, if set, attributes processes to compartments, names
	// resources and their labels (secrets), and bounds the impact by the
	// blast radius of the compromised compartments.
	Policy *policy.Policy
	// Filters are the dependency-explosion filters; nil means
	// graph.DefaultFilters (an empty, non-nil slice means none).
	Filters []graph.Filter
	// NoReduce turns the causality-preserving reduction off.
	NoReduce bool
	// IO says whether reads and writes were recorded (default: decided
	// from the input).
	IO ingest.IOMode
	// Sealed are globs of the sealed (dm-verity, read-only) root
	// filesystem, in addition to the policy's resources labelled
	// "rootfs".
	Sealed []string
	// Limits bound each traversal.
	Limits graph.Limits
	// MaxView bounds the nodes drawn in DOT and HTML (default 250).
	MaxView int
	// Keyring, if set, reveals the addresses a ledger anonymised (the
	// privacy keyring that made them): endpoints then carry their real
	// addresses, loopback is told from remote, and starts name them.
	Keyring *privacy.Keyring
}

// Input describes one input that was read.
type Input struct {
	Kind string `json:"kind"` // "audit" or "ledger"
	Path string `json:"path"`
	// Verified tells whether a ledger passed verification; Problem is the
	// first problem found when it did not.
	Verified *bool  `json:"verified,omitempty"`
	Problem  string `json:"problem,omitempty"`
	Entries  uint64 `json:"entries,omitempty"`
	Events   uint64 `json:"events,omitempty"`
	Lost     uint64 `json:"lost_events,omitempty"`
}

// ErrUnverified is wrapped by Load when a ledger fails verification and
// Unverified was not given.
var ErrUnverified = errors.New("ledger failed verification (use --unverified to investigate it anyway)")

// Investigation is a loaded provenance graph with what is needed to
// answer queries on it. It is immutable after Load and safe for
// concurrent queries.
type Investigation struct {
	Graph  *graph.Graph
	Policy *policy.Policy
	Inputs []Input
	// Warnings apply to the whole investigation; an unverified ledger
	// puts its warning first.
	Warnings []string
	// Unverified is set when a ledger that failed verification was read.
	Unverified bool
	Mapper     ingest.MapperStats
	Audit      *ingest.AuditStats
	Attempts   []ingest.Attempt
	Alerts     []ingest.Alert
	// LoadTime is how long Load took.
	LoadTime time.Duration

	labels   map[uint32][]string
	analyzer *analysis.Analyzer
	sealed   []graph.Filter
	opts     Options
}

// Load reads the sources into a provenance graph.
func Load(src Sources, opts Options) (*Investigation, error) {
	if len(src.AuditLogs) == 0 && len(src.Ledgers) == 0 {
		return nil, errors.New("no input: give audit logs or a ledger")
	}
	for _, f := range src.AuditLogs {
		if st, err := os.Stat(f); err != nil {
			return nil, err
		} else if st.IsDir() {
			return nil, fmt.Errorf("%s is a directory: give audit log files (or --ledger for a ledger)", f)
		}
	}
	return Build(opts, func(inv *Investigation, m *ingest.Mapper) error {
		for _, l := range src.Ledgers {
			in, warn, err := verifyLedger(l)
			if err != nil {
				return err
			}
			if warn != "" {
				inv.Unverified = true
				inv.Warnings = append(inv.Warnings, warn)
			}
			var lopts ingest.LedgerOptions
			if opts.Keyring != nil {
				lopts.Audit.Reveal = opts.Keyring.RevealAddr
			}
			lr := ingest.NewLedgerReader(m, lopts)
			if err := lr.Read(l.Dir); err != nil {
				return err
			}
			st := lr.Stats()
			in.Entries, in.Events, in.Lost = st.Entries, st.Events, st.Lost
			inv.Alerts = append(inv.Alerts, lr.Alerts()...)
			inv.Inputs = append(inv.Inputs, in)
			if st.Lost > 0 {
				inv.Warnings = append(inv.Warnings, fmt.Sprintf("the ledger %s records %d lost audit events: the graph may miss flows", l.Dir, st.Lost))
			}
		}
		if len(src.AuditLogs) == 0 {
			return nil
		}
		ar := ingest.NewAuditReader(m, ingest.AuditOptions{})
		if err := ar.ReadFiles(src.AuditLogs); err != nil {
			return err
		}
		ar.Flush()
		st := ar.Stats()
		inv.Audit = &st
		for _, f := range st.Files {
			inv.Inputs = append(inv.Inputs, Input{Kind: "audit", Path: f})
		}
		if n := len(inv.Inputs); n > 0 {
			inv.Inputs[n-1].Events, inv.Inputs[n-1].Lost = st.Events, st.Lost
		}
		if st.Lost > 0 {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("%d audit events are missing from the input (serial gaps): an excerpt, or events the kernel lost; the graph may miss flows", st.Lost))
		}
		return nil
	})
}

// Build makes an investigation from events fed to a Mapper by feed (for
// sources other than files: a generator, a live stream). feed may record
// inputs and warnings in inv.
func Build(opts Options, feed func(inv *Investigation, m *ingest.Mapper) error) (*Investigation, error) {
	start := time.Now()
	if opts.MaxView == 0 {
		opts.MaxView = 250
	}
	filters := opts.Filters
	if filters == nil {
		filters = graph.DefaultFilters()
	}
	b, err := graph.NewBuilder(graph.Options{NoReduce: opts.NoReduce, Filters: filters})
	if err != nil {
		return nil, err
	}
	inv := &Investigation{Policy: opts.Policy, opts: opts}
	m := ingest.NewMapper(b, ingest.MapperOptions{IO: opts.IO, Policy: opts.Policy})
	if err := feed(inv, m); err != nil {
		return nil, err
	}
	inv.Graph = b.Finish()
	inv.Mapper = m.Stats()
	inv.Attempts = m.Attempts()
	inv.labels = m.Labels()
	if opts.Policy != nil {
		inv.analyzer = analysis.New(opts.Policy)
	}
	inv.sealed = sealedFilters(opts)
	inv.LoadTime = time.Since(start)
	return inv, nil
}

// sealedFilters returns matchers for the sealed root filesystem: the
// globs given and the paths of the policy's resources labelled rootfs.
func sealedFilters(opts Options) []graph.Filter {
	var globs []string
	globs = append(globs, opts.Sealed...)
	if opts.Policy != nil {
		for _, r := range opts.Policy.Resources {
			if r.HasLabel("rootfs") {
				globs = append(globs, r.Paths...)
			}
		}
	}
	if len(globs) == 0 {
		return nil
	}
	slices.Sort(globs)
	globs = slices.Compact(globs)
	return []graph.Filter{{Name: "sealed", Globs: globs}}
}

func (inv *Investigation) isSealed(path string) bool {
	for i := range inv.sealed {
		if inv.sealed[i].Match(path) {
			return true
		}
	}
	return false
}
