package agent

import (
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the agent's Prometheus metrics, in a registry of their own
// (never the global default registry). All metric names start with
// rampart_agent_; see docs/agent.md, "Metrics".
type Metrics struct {
	reg *prometheus.Registry

	records     prometheus.Counter
	events      prometheus.Counter
	lostEvents  *prometheus.CounterVec
	lossReports *prometheus.CounterVec
	parseErrors *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	ruleErrors  *prometheus.CounterVec
	dropped     prometheus.Counter
	writeErrors prometheus.Counter
	backlog     prometheus.Gauge
	inFlight    prometheus.Gauge
	cpTime      prometheus.Gauge
	cpSize      prometheus.Gauge
	auditRules  prometheus.Gauge

	// ledger gives the ledger gauges at scrape time.
	ledgerDir  atomic.Pointer[string]
	ledgerSize atomic.Pointer[func() uint64]
}

// NewMetrics creates the metrics in a new registry, with the Go runtime
// and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_agent_" + name, Help: help})
		f(c)
		return c
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_agent_" + name, Help: help}, labels)
		f(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_agent_" + name, Help: help})
		f(g)
		return g
	}
	m.records = counter("records_total", "Audit records read and parsed.")
	m.events = counter("events_total", "Audit events reassembled and processed.")
	m.lostEvents = vec("lost_events_total", "Events lost: missing serials (seq-gap) and the kernel's lost counter (kernel).", "kind")
	m.lossReports = vec("loss_reports_total", "Loss reports by kind: seq-gap, kernel, socket (netlink buffer overflow, count unknown), discontinuity.", "kind")
	m.parseErrors = vec("parse_errors_total", "Input that is not an audit record, skipped, by reason.", "reason")
	m.alerts = vec("alerts_total", "Alerts raised, by source (deviation or rule), rule and severity.", "source", "rule", "severity")
	m.ruleErrors = vec("rule_errors_total", "Detection rule evaluations that failed, by rule.", "rule")
	m.dropped = counter("records_dropped_total", "Audit records the privacy filter dropped entirely (types it does not allow).")
	m.writeErrors = counter("write_errors_total", "Entries that could not be appended to the ledger.")
	m.backlog = gauge("backlog", "Records queued in the kernel's audit backlog (last status poll).")
	m.inFlight = gauge("reassembler_in_flight", "Events being reassembled.")
	m.cpTime = gauge("last_checkpoint_timestamp_seconds", "When the agent last signed a ledger checkpoint (Unix time).")
	m.cpSize = gauge("last_checkpoint_size", "The ledger size the last checkpoint covers.")
	m.auditRules = gauge("audit_rules_loaded", "Audit rules the agent loaded into the kernel.")
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_agent_ledger_entries", Help: "Entries in the ledger."}, func() float64 {
		if fn := m.ledgerSize.Load(); fn != nil {
			return float64((*fn)())
		}
		return 0
	}))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_agent_ledger_bytes", Help: "Bytes of the ledger's files on disk."}, func() float64 {
		if d := m.ledgerDir.Load(); d != nil {
			return float64(dirSize(*d))
		}
		return 0
	}))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry holding the metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// setLedger makes the ledger gauges report on dir and size.
func (m *Metrics) setLedger(dir string, size func() uint64) {
	m.ledgerDir.Store(&dir)
	m.ledgerSize.Store(&size)
}

// dirSize sums the sizes of the regular files in dir and its
// subdirectories.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
