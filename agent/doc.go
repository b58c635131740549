// Package agent is Rampart's node agent: it turns the kernel's audit
// events into a private, tamper-evident record and raises an alert when a
// process steps outside its compartment.
//
// An Agent takes reassembled audit events (package audit) and, for each:
//
//   - tracks the process (audit.Tracker) and attributes it to a
//     compartment of the policy — by its SELinux label, its executable or
//     an ancestor's in the same login session — or to an operator role by
//     its login session;
//   - turns its syscall into accesses in policy terms (read, write,
//     create, execute, spawn, connect, bind, signal, ptrace, capability
//     use, AVC denials) and asks the policy about each: a denied access is
//     a deviation alert naming the compartment, the access and the rule it
//     breaks (an invariant, or "no grant"), with or without enforcement;
//   - runs the detection rules (package agent/detect: CEL over
//     detect.Event; the shipped set is package agent/rules);
//   - passes everything through the privacy filter (package privacy: the
//     policy's privacy block, plus the agent's own event types and the
//     redaction of the policy's secret paths, see PrivacyConfig) and
//     appends canonical JSON to the ledger (package ledger), in batches,
//     with periodic and final signed checkpoints; alerts also go to a JSON
//     lines stream and every count to Prometheus metrics (Metrics).
//
// Losses (sequence gaps, the kernel's lost counter, socket overflows) are
// ledger entries too. RunNetlink (multicast next to auditd, or unicast as
// the audit daemon) and RunReader (offline audit.log, or auditd's plugin
// stream) feed an Agent; AuditRules generates the audit rules it needs
// from the policy. The deployment, the entry format, the rule language and
// the metrics are described in docs/agent.md.
package agent
