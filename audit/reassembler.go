package audit

import (
	"slices"
	"strconv"
	"time"
)

// LossKind says how a loss was detected.
type LossKind uint8

// Kinds of loss.
const (
	// LossSeqGap: serials missing from the stream (the records of Count
	// events, serials From..To, never arrived). Serials are global per
	// kernel boot, so when the whole stream is read a gap means lost
	// records; a filtered stream (an excerpt, a plugin with a filter) has
	// gaps that are not losses.
	LossSeqGap LossKind = iota + 1
	// LossKernel: the kernel's lost counter (AUDIT_GET status) went up by
	// Count: records the kernel dropped (backlog full, rate limit, no
	// memory).
	LossKernel
	// LossSocket: the netlink socket's receive buffer overflowed
	// (ENOBUFS); the number of records dropped is unknown (Count 0) and
	// shows up as a sequence gap.
	LossSocket
	// LossDiscontinuity: the serial jumped by more than MaxGap (forward
	// or backward): a reboot, a log rotation, or another node's log. Not
	// counted as lost events; From and To are the serials on either side.
	LossDiscontinuity
)

var lossNames = [...]string{"", "sequence gap", "kernel lost counter", "socket overflow (ENOBUFS)", "serial discontinuity"}

// String names the kind of loss.
func (k LossKind) String() string {
	if int(k) < len(lossNames) {
		return lossNames[k]
	}
	return "loss(" + strconv.Itoa(int(k)) + ")"
}

// Loss reports events that were, or may have been, lost.
type Loss struct {
	Kind     LossKind
	Node     string
	From, To uint64 // serial range (LossSeqGap, LossDiscontinuity)
	Count    uint64 // events lost (0 if unknown)
}

// ReassemblerConfig configures a Reassembler.
type ReassemblerConfig struct {
	// Timeout completes an event that has not ended (EOE) this long after
	// its first record arrived, and declares missing serials lost this
	// long after a later serial arrived, as measured by the times given
	// to Maintain. Default 2s.
	Timeout time.Duration
	// MaxInFlight bounds the events being assembled; beyond it the oldest
	// is completed early (CompleteEvicted). Default 1024.
	MaxInFlight int
	// MaxGap is the largest serial jump treated as lost events; a larger
	// jump is a LossDiscontinuity. Default 1<<20.
	MaxGap uint64
	// OnEvent receives every completed event. Required.
	OnEvent func(*Event)
	// OnLoss receives every loss, as it is detected. Optional: losses are
	// also counted in Stats.
	OnLoss func(Loss)
}

// ReassemblerStats counts what a Reassembler has seen.
type ReassemblerStats struct {
	Records         uint64                       // records pushed
	Events          uint64                       // events delivered
	ByCompletion    [len(completionNames)]uint64 // events by Completion
	LateRecords     uint64                       // records delivered in Late events
	LateEOE         uint64                       // EOE records for events already completed (dropped)
	OrphanEOE       uint64                       // EOE records whose event had no other record (dropped)
	Gaps            uint64                       // LossSeqGap reports
	LostEvents      uint64                       // serials declared lost (sum of LossSeqGap counts)
	KernelLost      uint64                       // sum of LossKernel counts
	SocketLoss      uint64                       // LossSocket reports
	Discontinuities uint64
	InFlight        int // events being assembled now
}

// Reassembler groups records into events by their stamp (time and serial)
// and node. An event completes when its EOE record arrives, at once for
// record types that are events on their own (user-space messages), after
// Timeout, when MaxInFlight is exceeded, or at Flush. Records of different
// events may interleave and arrive out of order. Serial gaps are reported
// as losses, never silently.
//
// Time only moves when Maintain is called: a live collector calls it
// periodically (every few hundred milliseconds) with the wall clock, and
// timeouts count from the last Maintain before a record arrived. Offline
// input (a log file, which may be an excerpt sorted any way) needs no
// clock: events complete by EOE, as standalone records, by the in-flight
// limit, or at Flush, and gaps are declared when 4×MaxInFlight later
// serials have been seen or at Flush.
//
// A Reassembler is not safe for concurrent use.
type Reassembler struct {
	cfg      ReassemblerConfig
	nodes    map[string]*nodeState
	lastNode string // cache for node()
	last     *nodeState
	inflight int
	head     *pending // oldest
	tail     *pending
	clock    int64 // ns
	stats    ReassemblerStats
}

// nodeState is the events in flight and the serial tracking of one node.
type nodeState struct {
	name     string
	inflight map[eventKey]*pending
	gap      gapState
}

type eventKey struct {
	serial uint64
	sec    int64
	milli  uint32
}

type pending struct {
	ev         Event
	node       *nodeState
	arrival    int64
	prev, next *pending
	recs       [6]*Record // inline storage for the usual event size
}

// NewReassembler returns a Reassembler; cfg.OnEvent must be set.
func NewReassembler(cfg ReassemblerConfig) *Reassembler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1024
	}
	if cfg.MaxGap == 0 {
		cfg.MaxGap = 1 << 20
	}
	if cfg.OnEvent == nil {
		panic("audit: ReassemblerConfig.OnEvent is nil")
	}
	return &Reassembler{cfg: cfg, nodes: make(map[string]*nodeState)}
}

// Stats returns the counts so far.
func (r *Reassembler) Stats() ReassemblerStats {
	s := r.stats
	s.InFlight = r.inflight
	return s
}

// InFlight returns the number of events being assembled.
func (r *Reassembler) InFlight() int { return r.inflight }

// Push adds a record.
func (r *Reassembler) Push(rec *Record) {
	r.stats.Records++
	key := eventKey{rec.Stamp.Serial, rec.Stamp.Sec, rec.Stamp.Milli}
	ns := r.node(rec.Node)
	p := ns.inflight[key]
	if p == nil {
		late := false
		if !rec.Type.isDaemon() {
			late = ns.gap.observe(r, ns.name, rec.Stamp.Serial, rec.Stamp.Sec)
		}
		if rec.Type == TypeEOE {
			if late {
				r.stats.LateEOE++
			} else {
				r.stats.OrphanEOE++
			}
			r.expire(ns)
			return
		}
		p = &pending{ev: Event{Stamp: rec.Stamp, Node: rec.Node, Late: late}, node: ns, arrival: r.clock}
		p.ev.Records = p.recs[:0]
		ns.inflight[key] = p
		r.inflight++
		r.link(p)
		if r.inflight > r.cfg.MaxInFlight {
			r.complete(r.head, CompleteEvicted)
		}
	}
	if rec.Type == TypeEOE {
		p.ev.EOE = true
		r.complete(p, CompleteEOE)
	} else {
		p.ev.Records = append(p.ev.Records, rec)
		if len(p.ev.Records) == 1 && rec.Type.Standalone() {
			r.complete(p, CompleteStandalone)
		}
	}
	r.expire(ns)
}

// Maintain advances the reassembler's clock to now (if later) and
// completes events and declares gaps that have timed out. Call it
// periodically when reading a live stream.
func (r *Reassembler) Maintain(now time.Time) {
	if t := now.UnixNano(); t > r.clock {
		r.clock = t
	}
	r.expire(nil)
	for _, ns := range r.nodes {
		ns.gap.expire(r, ns.name, r.clock, false)
	}
}

// Flush completes every event in flight and declares every serial still
// missing below the highest one seen as lost. Call it at the end of a
// finite input.
func (r *Reassembler) Flush() {
	for r.head != nil {
		r.complete(r.head, CompleteFlushed)
	}
	for _, ns := range r.nodes {
		ns.gap.expire(r, ns.name, r.clock, true)
	}
}

// ReportLoss records a loss detected outside the reassembler (the
// kernel's lost counter, a socket overflow) so that every loss is counted
// in one place and passed to OnLoss.
func (r *Reassembler) ReportLoss(l Loss) {
	switch l.Kind {
	case LossSeqGap:
		r.stats.Gaps++
		r.stats.LostEvents += l.Count
	case LossKernel:
		r.stats.KernelLost += l.Count
	case LossSocket:
		r.stats.SocketLoss++
	case LossDiscontinuity:
		r.stats.Discontinuities++
	}
	if r.cfg.OnLoss != nil {
		r.cfg.OnLoss(l)
	}
}

func (r *Reassembler) link(p *pending) {
	p.prev = r.tail
	if r.tail != nil {
		r.tail.next = p
	} else {
		r.head = p
	}
	r.tail = p
}

func (r *Reassembler) unlink(p *pending) {
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		r.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	} else {
		r.tail = p.prev
	}
	p.prev, p.next = nil, nil
}

func (r *Reassembler) complete(p *pending, how Completion) {
	r.unlink(p)
	delete(p.node.inflight, eventKey{p.ev.Stamp.Serial, p.ev.Stamp.Sec, p.ev.Stamp.Milli})
	r.inflight--
	p.ev.How = how
	r.stats.Events++
	r.stats.ByCompletion[how]++
	if p.ev.Late {
		r.stats.LateRecords += uint64(len(p.ev.Records))
	}
	r.cfg.OnEvent(&p.ev)
}

// expire completes the events older than the timeout and, if ns is not
// nil, runs its gap check when one is due.
func (r *Reassembler) expire(ns *nodeState) {
	limit := r.clock - int64(r.cfg.Timeout)
	for r.head != nil && r.head.arrival < limit {
		r.complete(r.head, CompleteTimeout)
	}
	if ns != nil {
		if g := &ns.gap; g.due != 0 && r.clock >= g.due || len(g.seen) > 4*r.cfg.MaxInFlight {
			g.expire(r, ns.name, r.clock, false)
		}
	}
}

func (r *Reassembler) node(name string) *nodeState {
	if r.last != nil && r.lastNode == name {
		return r.last
	}
	ns := r.nodes[name]
	if ns == nil {
		ns = &nodeState{name: name, inflight: make(map[eventKey]*pending)}
		r.nodes[name] = ns
	}
	r.lastNode, r.last = name, ns
	return ns
}

// gapState tracks the serials of one node: every serial ≤ low has been
// seen or declared lost; seen holds the serials above low that have been
// seen, with their arrival time.
type gapState struct {
	init bool
	sec  int64  // latest stamp seen (seconds)
	base uint64 // first serial of the window: older serials are not tracked
	low  uint64
	max  uint64
	seen map[uint64]int64
	due  int64 // when the oldest hole times out (0: no hole)
}

// rebootSlack is how much later than every stamp seen a record with a
// lower serial must be to mean a new boot (serials restart) rather than a
// late record. A record's stamp is its syscall's entry time and its serial
// is assigned at exit, so late records can carry somewhat later stamps
// than records with higher serials; a minute covers any real skew and is
// less than any real reboot.
const rebootSlack = 60

// observe notes a new serial and reports whether it is late: already seen
// or already declared lost. Serials below the first one seen (or the one
// after a discontinuity) are outside the window and not tracked.
func (g *gapState) observe(r *Reassembler, node string, s uint64, sec int64) bool {
	if s == 0 {
		return false
	}
	if !g.init {
		g.init, g.base, g.low, g.max, g.sec = true, s, s, s, sec
		return false
	}
	if s < g.max && sec > g.sec+rebootSlack {
		// serials went back while time went on: the kernel restarted
		g.reset(r, node, s)
		g.sec = sec
		return false
	}
	g.sec = max(g.sec, sec)
	if s <= g.low {
		if s < g.base {
			// before the start of the window: an excerpt or another
			// boot's log, not tracked
			return false
		}
		return true
	}
	if _, ok := g.seen[s]; ok {
		return true
	}
	if s-g.low > r.cfg.MaxGap {
		g.reset(r, node, s)
		return false
	}
	if s > g.max {
		g.max = s
	}
	if s == g.low+1 {
		g.low = s
		g.advance()
		return false
	}
	if g.seen == nil {
		g.seen = make(map[uint64]int64)
	}
	g.seen[s] = r.clock
	if g.due == 0 {
		g.due = r.clock + int64(r.cfg.Timeout)
	}
	return false
}

// reset starts over at serial s after a discontinuity, first declaring
// the holes of the old window.
func (g *gapState) reset(r *Reassembler, node string, s uint64) {
	g.expire(r, node, 0, true)
	from := g.max
	g.base, g.low, g.max, g.due = s, s, s, 0
	clear(g.seen)
	r.ReportLoss(Loss{Kind: LossDiscontinuity, Node: node, From: from, To: s})
}

func (g *gapState) advance() {
	for len(g.seen) > 0 {
		if _, ok := g.seen[g.low+1]; !ok {
			g.due = 1 // a hole remains: recompute its deadline at the next check
			return
		}
		delete(g.seen, g.low+1)
		g.low++
	}
	g.due = 0
}

// expire declares lost the holes whose next seen serial arrived more than
// the timeout ago (all holes if force), walking the seen serials in order.
func (g *gapState) expire(r *Reassembler, node string, now int64, force bool) {
	if len(g.seen) == 0 {
		g.due = 0
		return
	}
	serials := make([]uint64, 0, len(g.seen))
	for s := range g.seen {
		serials = append(serials, s)
	}
	slices.Sort(serials)
	for _, next := range serials {
		if next <= g.low {
			continue // absorbed by advance
		}
		at := g.seen[next]
		if !force && now-at < int64(r.cfg.Timeout) && len(g.seen) <= 4*r.cfg.MaxInFlight {
			g.due = at + int64(r.cfg.Timeout)
			return
		}
		r.ReportLoss(Loss{Kind: LossSeqGap, Node: node, From: g.low + 1, To: next - 1, Count: next - 1 - g.low})
		g.low = next - 1
		g.advance()
	}
	g.due = 0
}
