// Package audit collects Linux audit events: it parses audit records,
// reassembles them into events, tracks processes, and talks to the
// kernel's audit subsystem over netlink.
//
// # Records
//
// Parse reads one line of audit.log (or of auditd's plugin "string"
// format, the same text), ParseNetlink one record as the kernel sends it.
// The parser is hand-written: it copies the input once and keeps offsets,
// so fields cost no allocation until read. Record.Get decodes a value:
// quotes removed, and the hex encoding the kernel uses for untrusted
// strings (proctitle, execve arguments, names with blanks or control
// characters) decoded for the fields auparse treats as escaped. Nested
// user-space messages (msg='op=… acct="…"'), the node= prefix, the SELinux
// AVC preamble (avc: denied { read } for …) and auditd's ENRICHED fields
// after a 0x1d byte (Record.Enriched) are understood. Reader reads a log,
// skipping and counting, by Reason, lines that are not records.
//
// # Events
//
// A Reassembler groups records by stamp (time and serial) and node into an
// Event, completed by EOE, by a standalone record type, by timeout, by the
// in-flight limit, or by Flush. Missing serials, the kernel's lost counter
// and socket overflows are reported as Loss values and counted, never
// dropped silently. Event has helpers for the usual facts: syscall name
// (x86_64 and aarch64 tables), success and exit, ids, exe, cwd, paths,
// execve argv reassembled across records, proctitle, socket address, AVC.
//
// # Processes
//
// A Tracker keys process images by ExecID (boot id, pid, serial of the
// exec or fork event), not by pid, and links each to its parent from
// fork/clone exit values and ppid.
//
// # Collection
//
// Client is a NETLINK_AUDIT socket: Multicast joins the read-only log
// group next to auditd; Unicast configures audit (status, backlog, rate,
// failure mode, rules) and, after SetPID, receives the records itself.
// ParseRule builds kernel rules from auditctl syntax. RunNetlink, Follow
// (auditd plugin on stdin) and ReadAll (offline logs) feed a Reassembler.
package audit
