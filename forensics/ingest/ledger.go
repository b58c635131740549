package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/ledger"
)

// Alert is an alert the agent wrote to its ledger.
type Alert struct {
	// Seq is the alert's ledger entry; Event the entry of the event it is
	// about.
	Seq         uint64    `json:"seq"`
	Event       uint64    `json:"event_entry,omitempty"`
	Time        time.Time `json:"time"`
	Source      string    `json:"source,omitempty"` // deviation, rule
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity,omitempty"`
	Serial      uint64    `json:"event_serial,omitempty"`
	ExecID      string    `json:"exec_id,omitempty"`
	Description string    `json:"description,omitempty"`
	Subject     string    `json:"subject,omitempty"`
}

// LedgerOptions configures a LedgerReader.
type LedgerOptions struct {
	// Audit configures the event pipeline the ledger's records go
	// through (BootID is taken from the agent's exec identities).
	Audit AuditOptions
}

// LedgerStats counts what was read from a ledger.
type LedgerStats struct {
	Entries uint64 `json:"entries"`
	Events  uint64 `json:"events"`
	Alerts  uint64 `json:"alerts"`
	Lost    uint64 `json:"lost_events"`
	Records uint64 `json:"records"`
	// Bad counts entries that are not the agent's JSON (skipped).
	Bad uint64 `json:"bad_entries"`
}

// ledgerEntry is an entry the agent writes (see package agent): an audit
// event with its filtered records, what the agent derived ("agent") and
// the accesses it judged; or an alert, a loss report, an agent entry.
type ledgerEntry struct {
	Kind    string              `json:"kind"`
	Serial  uint64              `json:"serial"`
	Time    time.Time           `json:"time"`
	Event   *uint64             `json:"event"`
	Records []ledgerRecord      `json:"records"`
	Access  []map[string]string `json:"access"`
	Agent   map[string]string   `json:"agent"`
	Alert   map[string]string   `json:"alert"`
	Loss    map[string]string   `json:"loss"`
}

type ledgerRecord struct {
	Type   string            `json:"type"`
	Fields map[string]string `json:"fields"`
}

// LedgerReader reads what the agent wrote to a ledger: the filtered
// audit records of every event are put back together as audit events and
// go through the same pipeline as an audit.log (AuditReader); the agent's
// attribution (compartment or role of each exec identity), the accesses'
// resources and labels (which name secrets whose paths were redacted),
// the alerts and the losses are kept.
type LedgerReader struct {
	m      *Mapper
	opts   LedgerOptions
	ar     *AuditReader
	stats  LedgerStats
	alerts []Alert
}

// NewLedgerReader returns a reader adding to m.
func NewLedgerReader(m *Mapper, opts LedgerOptions) *LedgerReader {
	return &LedgerReader{m: m, opts: opts}
}

// Read reads the ledger in dir (all its entries, without verifying them:
// see ledger.Verify) and hands its events to the Mapper.
func (l *LedgerReader) Read(dir string) error {
	r, err := ledger.NewReader(dir, 0)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: entry %d: %w", dir, r.Position(), err)
		}
		l.stats.Entries++
		l.entry(e.Seq, e.Data)
	}
	if l.ar != nil {
		l.ar.Flush()
		l.stats.Lost += l.ar.Stats().Lost
	}
	return nil
}

// Stats returns the counts so far.
func (l *LedgerReader) Stats() LedgerStats { return l.stats }

// Alerts returns the alerts read, in ledger order.
func (l *LedgerReader) Alerts() []Alert { return l.alerts }

func (l *LedgerReader) entry(seq uint64, data []byte) {
	var e ledgerEntry
	if err := json.Unmarshal(data, &e); err != nil {
		l.stats.Bad++
		return
	}
	switch e.Kind {
	case "event":
		l.event(&e)
	case "alert":
		a := Alert{Seq: seq, Time: e.Time, Serial: e.Serial, Source: e.Alert["source"], Rule: e.Alert["rule"],
			Severity: e.Alert["severity"], ExecID: strings.TrimPrefix(e.Alert["exec_id"], "/"), Subject: e.Alert["subject"]}
		if e.Event != nil {
			a.Event = *e.Event
		}
		a.Description = e.Alert["summary"]
		if a.Description == "" {
			a.Description = e.Alert["description"]
		}
		if s, err := strconv.ParseUint(e.Alert["event_serial"], 10, 64); err == nil && a.Serial == 0 {
			a.Serial = s
		}
		l.alerts = append(l.alerts, a)
		l.stats.Alerts++
	case "loss":
		if n, err := strconv.ParseUint(e.Loss["count"], 10, 64); err == nil {
			if k := e.Loss["loss"]; k == "seq-gap" || k == "kernel" {
				l.stats.Lost += n
			}
		}
	}
}

// event rebuilds the audit event of an entry and pushes it through the
// audit pipeline.
func (l *LedgerReader) event(e *ledgerEntry) {
	l.stats.Events++
	id := strings.TrimPrefix(e.Agent["exec_id"], "/") // "/pid/serial" when the agent knew no boot id
	if l.ar == nil {
		opts := l.opts.Audit
		if opts.BootID == "" {
			opts.BootID = bootOf(id)
		}
		l.ar = NewAuditReader(l.m, opts)
		// The ledger's reader gaps are the agent's to report (loss
		// entries): its reassembly already happened.
	}
	if id != "" {
		switch e.Agent["subject_kind"] {
		case "compartment":
			l.ar.subjects[id] = subject{compartment: e.Agent["subject"]}
		case "role":
			l.ar.subjects[id] = subject{role: e.Agent["subject"]}
		}
	}
	stamp := audit.Stamp{Sec: e.Time.Unix(), Milli: uint32(e.Time.Nanosecond() / 1e6), Serial: e.Serial}
	ev := &audit.Event{Stamp: stamp, EOE: true, How: audit.CompleteEOE}
	// what the accesses say about paths: their resources and labels
	var line []byte
	for _, rec := range e.Records {
		typ, ok := audit.ParseRecordType(rec.Type)
		if !ok {
			continue
		}
		node := rec.Fields["node"]
		if typ == audit.TypePath {
			if name, ok := rec.Fields["name"]; ok && strings.Contains(name, "[redacted:") {
				if obj := accessObject(e.Access, name); obj != "" {
					rec.Fields["name"] = "resource:" + obj
				}
			}
		}
		line = formatRecord(line[:0], node, rec.Type, stamp, rec.Fields)
		r, err := audit.Parse(line)
		if err != nil {
			continue
		}
		ev.Node = node
		ev.Records = append(ev.Records, r)
		l.stats.Records++
	}
	for _, a := range e.Access {
		if a["labels"] == "" {
			continue
		}
		p := a["path"]
		if strings.Contains(p, "[redacted:") && a["object"] != "" {
			p = "resource:" + a["object"]
		}
		if p != "" {
			l.ar.labels[p] = strings.Split(a["labels"], ",")
		}
	}
	if len(ev.Records) == 0 {
		return
	}
	l.ar.push(ev)
}

// accessObject returns the resource of the access whose (redacted) path
// is name.
func accessObject(access []map[string]string, name string) string {
	for _, a := range access {
		if a["path"] == name && a["object"] != "" {
			return a["object"]
		}
	}
	for _, a := range access {
		if (a["kind"] == "file" || a["kind"] == "directory") && a["object"] != "" && strings.Contains(a["path"], "[redacted:") {
			return a["object"]
		}
	}
	return ""
}

// bootOf returns the boot id of an exec identity "boot/pid/serial".
func bootOf(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) == 3 {
		return parts[0]
	}
	return ""
}

// formatRecord writes a record as an audit.log line. Values are the
// decoded ones: those with blanks are quoted, those with quotes too
// hex-encoded (the parser decodes hex for the fields the kernel encodes;
// for others a quote is replaced by an apostrophe).
func formatRecord(b []byte, node, typ string, st audit.Stamp, fields map[string]string) []byte {
	if node != "" {
		b = append(b, "node="...)
		b = append(b, node...)
		b = append(b, ' ')
	}
	b = append(b, "type="...)
	b = append(b, typ...)
	b = append(b, " msg=audit("...)
	b = strconv.AppendInt(b, st.Sec, 10)
	b = append(b, '.')
	ms := strconv.Itoa(int(st.Milli))
	b = append(b, "000"[len(ms):]...)
	b = append(b, ms...)
	b = append(b, ':')
	b = strconv.AppendUint(b, st.Serial, 10)
	b = append(b, "):"...)
	for k, v := range fields {
		if k == "node" || k == "" {
			continue
		}
		b = append(b, ' ')
		b = append(b, k...)
		b = append(b, '=')
		switch {
		case v == "":
			b = append(b, `""`...)
		case !strings.ContainsAny(v, " \t\"'\x1d\n"):
			b = append(b, v...)
		case !strings.ContainsAny(v, "\"\n\x1d"):
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		default:
			b = append(b, strings.ToUpper(fmt.Sprintf("%x", v))...)
		}
	}
	return b
}
