package agent

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-sec/rampart/agent/detect"
	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/ledger"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
)

// Options configure an Agent.
type Options struct {
	// Policy attributes events and decides accesses. Required.
	Policy *policy.Policy
	// Privacy is the privacy configuration; nil means the policy's
	// privacy block, else privacy.DefaultConfig(). PrivacyConfig completes
	// it (the agent's own types, the policy's secret paths).
	Privacy *privacy.Config
	// Keyring makes pseudonyms and anonymised addresses. Required.
	Keyring *privacy.Keyring
	// FilterOptions are passed to privacy.NewFilter (an escrow, the
	// node's known identifiers).
	FilterOptions []privacy.Option
	// Ledger receives every entry; it must be open for writing. The
	// agent does not close it. Required.
	Ledger *ledger.Ledger
	// Rules are the detection rules; nil means none.
	Rules *detect.Rules
	// Alerts receives every alert as one JSON line (the ledger entry);
	// nil means none.
	Alerts io.Writer
	// Metrics counts; nil makes a private set (see Agent.Metrics).
	Metrics *Metrics
	// BootID scopes process identities (audit.BootID for a live kernel).
	BootID string
	// Source names where events come from, for the start entry.
	Source string
	// Version is the agent's version, for the start entry.
	Version string
	// PolicyDigest identifies the policy's text (sha256 hex), for the
	// start entry.
	PolicyDigest string
	// CheckpointEvery signs a ledger checkpoint after this many entries;
	// 0 means 10000, negative never (only heartbeats and Close).
	CheckpointEvery int
	// LookupUser maps a login uid to its account name, for role
	// attribution by login uid; nil disables it.
	LookupUser func(uid uint32) (string, bool)
	// LookupExe returns the executable a live process runs (from /proc),
	// for processes started before the agent; nil for offline input.
	LookupExe func(pid int) (string, bool)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives warnings (ledger write errors…); nil discards them.
	Log func(msg string)
}

// Stats counts what an Agent has done.
type Stats struct {
	Records        uint64            // audit records in the events processed (EOE records excluded)
	Events         uint64            // audit events processed
	Entries        uint64            // ledger entries written
	Alerts         uint64            // alerts raised
	Deviations     uint64            // of which policy deviations
	LostEvents     uint64            // events reported lost (sequence gaps and the kernel's counter)
	LossReports    uint64            // loss reports (each is a ledger entry)
	ParseErrors    uint64            // input lines or messages that were not records
	ParseErrorsBy  map[string]uint64 // by reason
	RuleErrors     uint64            // detection rule evaluations that failed
	RecordsDropped uint64            // records the privacy filter dropped entirely
	WriteErrors    uint64            // entries that could not be appended
}

// Agent turns audit events into ledger entries and alerts: it tracks and
// attributes processes, judges accesses against the policy, runs the
// detection rules, filters everything through the privacy filter and
// appends canonical JSON to the ledger. The work is done in two stages:
// the caller of Handle (the reassembler's goroutine) does everything up to
// the privacy filter, a writer goroutine started by New encodes and
// writes, in order. Handle, Loss and ParseError must be called from one
// goroutine; Start, Heartbeat, Stats and Close may be called from others.
// Close must be called: it drains the writer and stops it.
type Agent struct {
	opts    Options
	p       *policy.Policy
	filter  *privacy.Filter
	rules   *detect.Rules
	led     *ledger.Ledger
	metrics *Metrics
	now     func() time.Time
	cpEvery uint64

	// Stage one (the caller of Handle): tracking, attribution,
	// decisions, detection rules.
	b  builder
	re *audit.Reassembler
	// Stage two (the writer goroutine): encoding, ledger and alert
	// stream. Jobs (events, losses, agent entries) are handed over in
	// batches, in order: pending collects them (guarded by pmu) until
	// batchSize are waiting or the flusher's tick (flushEvery) comes, so
	// that a quiet node does not pay a goroutine wake-up per event.
	// Batches come back through spare, event work through pool.
	pmu      sync.Mutex
	pending  []job
	jobs     chan []job
	spare    chan []job
	pool     sync.Pool
	done     chan struct{}
	stopTick chan struct{}
	closed   atomic.Bool

	mu sync.Mutex // guards st and writeEr
	st Stats
	// writer state, touched by the writer goroutine only
	buf     []byte
	src     privacy.Event
	dst     privacy.Event
	sorter  fieldSorter
	lastCP  uint64
	writeEr error
}

// jobKind says what a job asks the writer to do.
type jobKind uint8

const (
	jobEvent jobKind = iota + 1
	jobLoss
	jobAgent
)

// job is one unit of work for the writer goroutine.
type job struct {
	kind    jobKind
	e       *audit.Event
	w       *work
	matches []*detect.Rule
	loss    audit.Loss
	op      string // jobAgent: start, restart, heartbeat, stop
	prev    uint64
	reason  string
	done    chan error // jobAgent: receives the first write error, after a checkpoint
}

// work is what the first stage prepares for the writer about one event:
// the decoded event and its records through the privacy filter. It is
// recycled (its slices keep their storage).
type work struct {
	ev      detect.Event
	recs    []privacy.Event // filtered records, in order
	dropped int             // records the filter dropped entirely
	src     privacy.Event   // scratch
}

// New returns an Agent. It does not write anything until Start.
func New(opts Options) (*Agent, error) {
	if opts.Policy == nil || opts.Keyring == nil || opts.Ledger == nil {
		return nil, errors.New("agent: Policy, Keyring and Ledger are required")
	}
	cfg := privacy.DefaultConfig()
	switch {
	case opts.Privacy != nil:
		cfg = *opts.Privacy
	case opts.Policy.Privacy != nil:
		cfg = *opts.Policy.Privacy
	}
	cfg = PrivacyConfig(cfg, opts.Policy)
	f, err := privacy.NewFilter(cfg, opts.Keyring, opts.FilterOptions...)
	if err != nil {
		return nil, fmt.Errorf("agent: privacy configuration: %w", err)
	}
	a := &Agent{
		opts:    opts,
		p:       opts.Policy,
		filter:  f,
		rules:   opts.Rules,
		led:     opts.Ledger,
		metrics: opts.Metrics,
		now:     opts.Now,
	}
	if a.metrics == nil {
		a.metrics = NewMetrics()
	}
	if a.now == nil {
		a.now = time.Now
	}
	switch {
	case opts.CheckpointEvery == 0:
		a.cpEvery = 10000
	case opts.CheckpointEvery > 0:
		a.cpEvery = uint64(opts.CheckpointEvery)
	}
	attr := newAttributor(opts.Policy, opts.LookupUser, opts.LookupExe)
	a.b = builder{
		tracker: audit.NewTracker(audit.TrackerConfig{BootID: opts.BootID}),
		attr:    attr,
		check:   newChecker(opts.Policy, attr),
	}
	a.metrics.setLedger(a.led.Dir(), a.led.Size)
	if cp := a.led.Latest(); cp != nil {
		a.lastCP = cp.Size
	}
	a.st.ParseErrorsBy = map[string]uint64{}
	a.pool.New = func() any { return new(work) }
	a.jobs = make(chan []job, 16)
	a.spare = make(chan []job, 18)
	a.done = make(chan struct{})
	a.stopTick = make(chan struct{})
	go a.writer()
	go a.flusher()
	return a, nil
}

// Batching of the hand-over to the writer.
const (
	batchSize  = 128
	flushEvery = 100 * time.Millisecond
)

// enqueue hands j to the writer, in a batch.
func (a *Agent) enqueue(j job, now bool) {
	a.pmu.Lock()
	if a.pending == nil {
		select {
		case a.pending = <-a.spare:
		default:
			a.pending = make([]job, 0, batchSize)
		}
	}
	a.pending = append(a.pending, j)
	if now || len(a.pending) >= batchSize {
		a.flushLocked()
	}
	a.pmu.Unlock()
}

// flushLocked hands the pending batch over (a.pmu held).
func (a *Agent) flushLocked() {
	if len(a.pending) > 0 {
		a.jobs <- a.pending
		a.pending = nil
	}
}

// flusher hands over what is pending every flushEvery, so that events
// reach the ledger and alerts the stream within that time.
func (a *Agent) flusher() {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stopTick:
			return
		case <-t.C:
			a.pmu.Lock()
			a.flushLocked()
			a.pmu.Unlock()
		}
	}
}

// writer is the second stage: it writes what the jobs say, in order.
func (a *Agent) writer() {
	defer close(a.done)
	for batch := range a.jobs {
		for i := range batch {
			a.do(batch[i])
			batch[i] = job{}
		}
		select {
		case a.spare <- batch[:0]:
		default:
		}
	}
}

// do performs one job (writer goroutine).
func (a *Agent) do(j job) {
	switch j.kind {
	case jobEvent:
		a.writeEventJob(j)
		a.pool.Put(j.w)
	case jobLoss:
		a.writeLoss(j.loss)
	case jobAgent:
		a.writeAgent(j.op, j.prev, j.reason)
		a.checkpoint()
		if j.op == "stop" {
			if err := a.led.Sync(); err != nil {
				a.setWriteErr(err)
			}
		}
		a.mu.Lock()
		err := a.writeEr
		a.mu.Unlock()
		j.done <- err
	}
}

// agentJob asks the writer for an agent entry and a checkpoint, and waits.
func (a *Agent) agentJob(op string, prev uint64, reason string) error {
	done := make(chan error, 1)
	a.enqueue(job{kind: jobAgent, op: op, prev: prev, reason: reason, done: done}, true)
	return <-done
}

// Metrics returns the agent's metrics.
func (a *Agent) Metrics() *Metrics { return a.metrics }

// Filter returns the agent's privacy filter.
func (a *Agent) Filter() *privacy.Filter { return a.filter }

// NewReassembler returns a reassembler that delivers events and losses to
// the agent. cfg's OnEvent and OnLoss are replaced.
func (a *Agent) NewReassembler(cfg audit.ReassemblerConfig) *audit.Reassembler {
	cfg.OnEvent = a.Handle
	cfg.OnLoss = a.Loss
	a.re = audit.NewReassembler(cfg)
	return a.re
}

// Stats returns the counts so far.
func (a *Agent) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	st.ParseErrorsBy = make(map[string]uint64, len(a.st.ParseErrorsBy))
	for k, v := range a.st.ParseErrorsBy {
		st.ParseErrorsBy[k] = v
	}
	return st
}

// Start writes the start entry: the agent's version, the policy, where
// events come from, and the ledger's previous size on a restart.
func (a *Agent) Start() error {
	if a.closed.Load() {
		return errors.New("agent: closed")
	}
	op := "start"
	prev := a.led.Size()
	if prev > 0 {
		op = "restart"
	}
	return a.agentJob(op, prev, "")
}

// Heartbeat writes an agent entry with the counts so far and signs a
// checkpoint, so that a quiet node still shows signs of life and a
// checkpoint's age bounds what could be lost.
func (a *Agent) Heartbeat() error {
	if a.closed.Load() {
		return nil
	}
	return a.agentJob("heartbeat", 0, "")
}

// Close waits for everything handed to the agent to be written, writes
// the stop entry with the final counts and signs a final checkpoint.
// reason, if not empty, says why the agent stopped (an error). It returns
// the first ledger write error, if any. The ledger stays open. Handle,
// Loss and Heartbeat must not be called after Close.
func (a *Agent) Close(reason string) error {
	if a.closed.Swap(true) {
		<-a.done
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.writeEr
	}
	err := a.agentJob("stop", 0, reason)
	close(a.stopTick)
	a.pmu.Lock()
	close(a.jobs)
	a.pmu.Unlock()
	<-a.done
	return err
}

// ParseError counts input that was not a record, by reason.
func (a *Agent) ParseError(reason string) {
	a.mu.Lock()
	a.st.ParseErrors++
	a.st.ParseErrorsBy[reason]++
	a.mu.Unlock()
	a.metrics.parseErrors.WithLabelValues(reason).Inc()
}

// Loss records a loss of events in the ledger and counts it.
func (a *Agent) Loss(l audit.Loss) {
	a.enqueue(job{kind: jobLoss, loss: l}, false)
}

// writeLoss writes a loss entry (writer goroutine).
func (a *Agent) writeLoss(l audit.Loss) {
	kind := lossSlug(l.Kind)
	a.mu.Lock()
	a.st.LossReports++
	if l.Kind == audit.LossSeqGap || l.Kind == audit.LossKernel {
		a.st.LostEvents += l.Count
	}
	a.mu.Unlock()
	a.metrics.lossReports.WithLabelValues(kind).Inc()
	if l.Kind == audit.LossSeqGap || l.Kind == audit.LossKernel {
		a.metrics.lostEvents.WithLabelValues(kind).Add(float64(l.Count))
	}
	a.src.Type, a.src.Time = TypeLoss, a.now()
	a.src.Fields = append(a.src.Fields[:0], privacy.Field{Name: "loss", Value: kind})
	if l.Kind == audit.LossSeqGap || l.Kind == audit.LossDiscontinuity {
		a.src.Fields = append(a.src.Fields,
			privacy.Field{Name: "from", Value: strconv.FormatUint(l.From, 10)},
			privacy.Field{Name: "to", Value: strconv.FormatUint(l.To, 10)})
	}
	a.src.Fields = append(a.src.Fields, privacy.Field{Name: "count", Value: strconv.FormatUint(l.Count, 10)})
	if l.Node != "" {
		a.src.Fields = append(a.src.Fields, privacy.Field{Name: "node", Value: l.Node, Hint: privacy.HintHost})
	}
	o := openObj(a.buf[:0])
	o.str("kind", "loss")
	o.key("loss")
	t := a.filterInto(&o)
	o.time("time", t)
	a.buf = o.close()
	a.append(a.buf)
}

// lossSlug names a kind of loss in entries and metric labels.
func lossSlug(k audit.LossKind) string {
	switch k {
	case audit.LossSeqGap:
		return "seq-gap"
	case audit.LossKernel:
		return "kernel"
	case audit.LossSocket:
		return "socket"
	case audit.LossDiscontinuity:
		return "discontinuity"
	}
	return "unknown"
}

// ReasonSlug names why input was not a record, for Stats.ParseErrorsBy
// and metric labels: no-type, unknown-type, no-header, bad-stamp,
// truncated, too-long.
func ReasonSlug(r audit.Reason) string {
	switch r {
	case audit.ReasonNoType:
		return "no-type"
	case audit.ReasonUnknownType:
		return "unknown-type"
	case audit.ReasonNoHeader:
		return "no-header"
	case audit.ReasonBadStamp:
		return "bad-stamp"
	case audit.ReasonUnterminated:
		return "truncated"
	case audit.ReasonTooLong:
		return "too-long"
	}
	return "other"
}

// Handle processes one reassembled event: it tracks and attributes the
// process, judges the event's accesses and runs the detection rules; the
// writer goroutine then filters the event, writes it to the ledger and
// raises the alerts.
func (a *Agent) Handle(e *audit.Event) {
	a.metrics.events.Inc()
	a.metrics.records.Add(float64(len(e.Records)))
	if a.re != nil {
		a.metrics.inFlight.Set(float64(a.re.InFlight()))
	}
	w := a.pool.Get().(*work)
	ev := &w.ev
	a.b.build(e, ev)
	var matches []*detect.Rule
	if a.rules != nil {
		a.rules.Eval(ev, func(r *detect.Rule) {
			matches = append(matches, r)
		}, func(r *detect.Rule, err error) {
			a.mu.Lock()
			a.st.RuleErrors++
			a.mu.Unlock()
			a.metrics.ruleErrors.WithLabelValues(r.Name).Inc()
		})
	}
	// The records through the privacy filter, here rather than in the
	// writer so that the two stages share the work.
	w.recs, w.dropped = w.recs[:0], 0
	for _, r := range e.Records {
		recordEvent(&w.src, r, e.Node)
		n := len(w.recs)
		if n < cap(w.recs) {
			w.recs = w.recs[:n+1]
		} else {
			w.recs = append(w.recs, privacy.Event{})
		}
		if !a.filter.ApplyTo(&w.recs[n], &w.src) {
			w.recs = w.recs[:n]
			w.dropped++
		}
	}
	a.enqueue(job{kind: jobEvent, e: e, w: w, matches: matches}, false)
}

// writeEventJob writes an event and its alerts (writer goroutine).
func (a *Agent) writeEventJob(j job) {
	ev := &j.w.ev
	a.mu.Lock()
	a.st.Events++
	a.st.Records += uint64(len(j.e.Records))
	a.st.RecordsDropped += uint64(j.w.dropped)
	a.mu.Unlock()
	a.metrics.dropped.Add(float64(j.w.dropped))
	seq, ok := a.writeEvent(j.e, j.w)
	for i := range ev.Access {
		acc := &ev.Access[i]
		if acc.Checked && !acc.Allowed {
			a.writeAlert(ev, alert{source: "deviation", access: acc}, seq, ok)
		}
	}
	for _, r := range j.matches {
		a.writeAlert(ev, alert{source: "rule", rule: r}, seq, ok)
	}
}

// filterInto filters a.src and writes its fields as the current key's
// object; it returns the (possibly coarsened) time. An event the filter
// drops writes an empty object.
func (a *Agent) filterInto(o *obj) time.Time {
	if !a.filter.ApplyTo(&a.dst, &a.src) {
		o.b = append(o.b, '{', '}')
		return a.src.Time
	}
	o.b = appendFields(o.b, a.dst.Type, a.dst.Fields, &a.sorter)
	return a.dst.Time
}

func (a *Agent) add(name, value string) {
	if value != "" {
		a.src.Fields = append(a.src.Fields, privacy.Field{Name: name, Value: value})
	}
}

func (a *Agent) addHint(name, value string, h privacy.Hint) {
	if value != "" {
		a.src.Fields = append(a.src.Fields, privacy.Field{Name: name, Value: value, Hint: h})
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func idStr(v int64, known bool) string {
	if !known {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

// writeEvent writes the event entry and returns its sequence number.
func (a *Agent) writeEvent(e *audit.Event, w *work) (uint64, bool) {
	ev := &w.ev
	o := openObj(a.buf[:0])
	if len(ev.Access) > 0 {
		o.key("access")
		o.b = append(o.b, '[')
		for i := range ev.Access {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			a.accessEvent(ev, &ev.Access[i])
			a.filterInto(&o)
		}
		o.b = append(o.b, ']')
	}
	// What the agent derived.
	a.src.Type, a.src.Time = TypeEvent, ev.Time
	a.src.Fields = a.src.Fields[:0]
	if ev.Syscall != "" {
		a.add("syscall", ev.Syscall)
		a.add("success", boolStr(ev.Success))
		a.add("exit", strconv.FormatInt(ev.Exit, 10))
		a.add("errno", ev.Errno)
	}
	a.subjectFields(ev.Subject)
	if ev.Proc.Known {
		a.add("exec_id", ev.Proc.ExecID)
		a.addHint("auid", idStr(ev.Proc.AUID, true), privacy.HintUID)
		a.add("ses", idStr(ev.Proc.Ses, true))
	}
	if ev.Prev.Known {
		a.add("prev_exec_id", ev.Prev.ExecID)
	}
	if ev.Parent.Known {
		a.add("parent_exec_id", ev.Parent.ExecID)
	}
	if ev.Target.Known {
		a.add("target_exec_id", ev.Target.ExecID)
		a.add("target", ev.Target.Subject.Name)
		a.add("target_kind", ev.Target.Subject.Kind)
	}
	a.add("keys", strings.Join(ev.Keys, ","))
	a.add("completion", e.How.String())
	if e.Late {
		a.add("late", "true")
	}
	o.key("agent")
	t := a.filterInto(&o)
	o.str("kind", "event")
	o.key("records")
	o.b = append(o.b, '[')
	for n := range w.recs {
		if n > 0 {
			o.b = append(o.b, ',')
		}
		ro := openObj(o.b)
		ro.key("fields")
		ro.b = appendFields(ro.b, w.recs[n].Type, w.recs[n].Fields, &a.sorter)
		ro.str("type", w.recs[n].Type)
		o.b = ro.close()
	}
	o.b = append(o.b, ']')
	o.uint("serial", uint64(ev.Serial))
	o.time("time", t)
	a.buf = o.close()
	return a.append(a.buf)
}

func (a *Agent) subjectFields(s detect.Subject) {
	if s.Kind == "" {
		return
	}
	a.add("subject", s.Name)
	a.add("subject_kind", s.Kind)
	a.add("tier", s.Tier)
	a.add("by", s.By)
}

// accessEvent loads a.src with an access.
func (a *Agent) accessEvent(ev *detect.Event, acc *detect.Access) {
	a.src.Type, a.src.Time = TypeAccess, ev.Time
	a.src.Fields = a.src.Fields[:0]
	a.add("verb", acc.Verb)
	a.add("actor", acc.Actor.Name)
	a.add("actor_kind", acc.Actor.Kind)
	a.addHint("path", acc.Path, privacy.HintPath)
	if acc.Port != 0 {
		a.add("port", strconv.FormatInt(acc.Port, 10))
	}
	a.add("proto", acc.Proto)
	a.addHint("addr", acc.Addr, privacy.HintIP)
	a.add("target", acc.Target)
	a.add("object", acc.Object)
	a.add("kind", acc.Kind)
	a.add("labels", strings.Join(acc.Labels, ","))
	a.add("owner", acc.Owner)
	if acc.Executable {
		a.add("executable", "true")
	}
	a.add("checked", boolStr(acc.Checked))
	if acc.Checked {
		a.add("allowed", boolStr(acc.Allowed))
	}
	a.add("reason", acc.Reason)
	a.add("rule", acc.Rule)
	a.add("invariants", strings.Join(acc.Invariants, ","))
	if acc.Attempt {
		a.add("attempt", "true")
	}
}

// alert is an alert about to be written: a deviation (access set) or a
// detection rule match (rule set).
type alert struct {
	source string
	access *detect.Access
	rule   *detect.Rule
}

// writeAlert writes an alert entry to the ledger and to the alert stream,
// referring to the event's entry.
func (a *Agent) writeAlert(ev *detect.Event, al alert, eventSeq uint64, haveSeq bool) {
	a.mu.Lock()
	a.st.Alerts++
	if al.source == "deviation" {
		a.st.Deviations++
	}
	a.mu.Unlock()
	acc := al.access
	var ruleName, severity, summary string
	if al.source == "deviation" {
		ruleName = acc.Rule
		severity = "medium"
		if len(acc.Invariants) > 0 {
			severity = "high"
		}
		summary = deviationSummary(acc.Actor, acc)
	} else {
		ruleName, severity = al.rule.Name, al.rule.Severity
		summary = al.rule.Name
		if al.rule.Description != "" {
			summary += ": " + al.rule.Description
		}
		acc = firstAccess(ev.Access)
	}
	a.metrics.alerts.WithLabelValues(al.source, ruleName, severity).Inc()

	a.src.Type, a.src.Time = TypeAlert, ev.Time
	a.src.Fields = a.src.Fields[:0]
	a.add("source", al.source)
	a.add("rule", ruleName)
	a.add("severity", severity)
	a.add("summary", summary)
	if al.rule != nil {
		a.add("description", al.rule.Description)
		a.add("tags", strings.Join(al.rule.Tags, ","))
	}
	actor := ev.Subject
	if al.source == "deviation" {
		actor = acc.Actor // for an execve, the program that called it
	}
	a.subjectFields(actor)
	a.add("syscall", ev.Syscall)
	if ev.Proc.Known {
		a.add("exec_id", ev.Proc.ExecID)
		a.addHint("exe", ev.Proc.Exe, privacy.HintPath)
		a.addHint("uid", idStr(ev.Proc.UID, true), privacy.HintUID)
		a.addHint("auid", idStr(ev.Proc.AUID, true), privacy.HintUID)
	}
	a.add("event_serial", strconv.FormatInt(ev.Serial, 10))
	if acc != nil {
		a.add("verb", acc.Verb)
		a.add("object", acc.Object)
		a.add("kind", acc.Kind)
		a.addHint("path", acc.Path, privacy.HintPath)
		if acc.Port != 0 {
			a.add("port", strconv.FormatInt(acc.Port, 10))
		}
		a.add("proto", acc.Proto)
		a.addHint("addr", acc.Addr, privacy.HintIP)
		a.add("target", acc.Target)
		a.add("reason", acc.Reason)
		a.add("invariants", strings.Join(acc.Invariants, ","))
		var at []string
		for _, n := range acc.Invariants {
			if inv := a.p.Invariant(n); inv != nil {
				at = append(at, fmt.Sprintf("%s:%d:%d", inv.Range.Filename, inv.Range.Start.Line, inv.Range.Start.Column))
			}
		}
		a.add("invariant_at", strings.Join(at, ","))
		if acc.Attempt {
			a.add("attempt", "true")
		}
	} else if ev.Target.Known {
		a.add("target", ev.Target.Subject.Name)
	}

	o := openObj(a.buf[:0])
	o.key("alert")
	t := a.filterInto(&o)
	if haveSeq {
		o.uint("event", eventSeq)
	}
	o.str("kind", "alert")
	o.uint("serial", uint64(ev.Serial))
	o.time("time", t)
	a.buf = o.close()
	a.append(a.buf)
	if a.opts.Alerts != nil {
		line := append(a.buf, '\n')
		if _, err := a.opts.Alerts.Write(line); err != nil {
			a.warn("writing an alert: " + err.Error())
		}
		a.buf = line[:len(line)-1]
	}
}

// firstAccess returns the access a rule alert describes: the first denied
// one, else the first.
func firstAccess(acc []detect.Access) *detect.Access {
	for i := range acc {
		if acc[i].Checked && !acc[i].Allowed {
			return &acc[i]
		}
	}
	if len(acc) > 0 {
		return &acc[0]
	}
	return nil
}

// deviationSummary says in one line who did what and which rule it
// breaks: "compartment probe read keys (file) at /…: breaks invariant
// only_owner_reads_keys".
func deviationSummary(s detect.Subject, acc *detect.Access) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", s.Kind, s.Name, acc.Verb)
	switch {
	case acc.Target != "":
		fmt.Fprintf(&b, " compartment %s", acc.Target)
	case acc.Object != "":
		fmt.Fprintf(&b, " %s (%s)", acc.Object, acc.Kind)
	}
	if acc.Path != "" && acc.Target == "" {
		fmt.Fprintf(&b, " at %s", acc.Path)
	}
	if acc.Port != 0 {
		fmt.Fprintf(&b, " %s port %d", acc.Proto, acc.Port)
	}
	if acc.Attempt {
		b.WriteString(" (attempted; the kernel refused)")
	}
	if len(acc.Invariants) > 0 {
		fmt.Fprintf(&b, ": breaks %s", acc.Rule)
	} else {
		fmt.Fprintf(&b, ": %s (%s)", acc.Rule, acc.Reason)
	}
	return b.String()
}

// writeAgent writes an agent entry (start, restart, heartbeat, stop).
func (a *Agent) writeAgent(op string, prev uint64, errMsg string) {
	a.mu.Lock()
	st := a.st
	a.mu.Unlock()
	a.src.Type, a.src.Time = TypeAgent, a.now()
	a.src.Fields = a.src.Fields[:0]
	a.add("op", op)
	u := func(name string, v uint64) { a.add(name, strconv.FormatUint(v, 10)) }
	switch op {
	case "start", "restart":
		a.add("version", a.opts.Version)
		a.add("policy", a.p.Name)
		a.add("sha256", a.opts.PolicyDigest) // of the policy files (a digest field for lint)
		a.add("source", a.opts.Source)
		u("detections", uint64(a.rules.Len()))
		if op == "restart" {
			u("previous_size", prev)
		}
	default:
		u("events", st.Events)
		u("records", st.Records)
		u("alerts", st.Alerts)
		u("lost_events", st.LostEvents)
		u("loss_reports", st.LossReports)
		u("parse_errors", st.ParseErrors)
		u("rule_errors", st.RuleErrors)
		u("records_dropped", st.RecordsDropped)
		u("ledger_size", a.led.Size()+1)
		a.add("error", errMsg)
	}
	o := openObj(a.buf[:0])
	o.key("agent")
	t := a.filterInto(&o)
	o.str("kind", "agent")
	o.time("time", t)
	a.buf = o.close()
	a.append(a.buf)
}

// append appends an entry to the ledger, signing a checkpoint every
// cpEvery entries (writer goroutine).
func (a *Agent) append(data []byte) (uint64, bool) {
	seq, err := a.led.Append(data)
	if err != nil {
		a.metrics.writeErrors.Inc()
		a.mu.Lock()
		a.st.WriteErrors++
		a.mu.Unlock()
		a.setWriteErr(fmt.Errorf("ledger append: %w", err))
		return 0, false
	}
	a.mu.Lock()
	a.st.Entries++
	a.mu.Unlock()
	if a.cpEvery > 0 && seq+1-a.lastCP >= a.cpEvery {
		a.checkpoint()
	}
	return seq, true
}

// checkpoint signs a checkpoint (writer goroutine).
func (a *Agent) checkpoint() {
	cp, err := a.led.Checkpoint()
	if err != nil {
		a.setWriteErr(fmt.Errorf("ledger checkpoint: %w", err))
		return
	}
	a.lastCP = cp.Size
	a.metrics.cpTime.Set(float64(a.now().UnixNano()) / 1e9)
	a.metrics.cpSize.Set(float64(cp.Size))
}

// setWriteErr records the first write error and reports every one.
func (a *Agent) setWriteErr(err error) {
	a.mu.Lock()
	if a.writeEr == nil {
		a.writeEr = err
	}
	a.mu.Unlock()
	a.warn(err.Error())
}

func (a *Agent) warn(msg string) {
	if a.opts.Log != nil {
		a.opts.Log(msg)
	}
}
