package agent

import (
	"regexp"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/audit"
	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/privacy"
)

// The agent's own event types, filtered like audit records before they are
// written.
const (
	TypeEvent  = "RAMPART_EVENT"  // what the agent derived from an audit event: syscall, subject, process ids
	TypeAccess = "RAMPART_ACCESS" // one access of an event and the policy's decision
	TypeAlert  = "RAMPART_ALERT"  // an alert: a policy deviation or a detection rule
	TypeLoss   = "RAMPART_LOSS"   // events lost (sequence gap, kernel lost counter, socket overflow)
	TypeAgent  = "RAMPART_AGENT"  // the agent starting, stopping, or alive (heartbeat), with counts
)

// Names of the redaction rules the agent adds for the policy's sensitive
// paths.
const (
	RedactSecretPaths   = "policy-secret"
	RedactPersonalPaths = "policy-personal-data"
)

// AgentEventRules returns the field allowlists of the agent's own event
// types. Identifiers (uid, auid, node) are covered by the configuration's
// common rules; paths, reasons and summaries (which may quote paths) are
// redacted; addresses anonymised; policy names, verbs and decisions kept.
func AgentEventRules() []privacy.EventRule {
	keep := func(names ...string) []privacy.FieldRule {
		var out []privacy.FieldRule
		for _, n := range names {
			out = append(out, privacy.FieldRule{Field: n, Action: privacy.ActionKeep})
		}
		return out
	}
	redact := func(names ...string) []privacy.FieldRule {
		var out []privacy.FieldRule
		for _, n := range names {
			out = append(out, privacy.FieldRule{Field: n, Action: privacy.ActionRedact})
		}
		return out
	}
	anon := privacy.FieldRule{Field: "addr", Action: privacy.ActionAnonymise}
	return []privacy.EventRule{
		{Type: TypeEvent, Fields: slices.Concat(
			keep("syscall", "success", "exit", "errno", "subject", "subject_kind", "tier", "by", "exec_id",
				"parent_exec_id", "prev_exec_id", "target_exec_id", "target", "target_kind", "ses", "keys", "completion", "late"),
		)},
		{Type: TypeAccess, Fields: slices.Concat(
			keep("verb", "actor", "actor_kind", "port", "proto", "target", "object", "kind", "labels", "owner", "executable", "checked",
				"allowed", "rule", "invariants", "attempt"),
			redact("path", "reason"), []privacy.FieldRule{anon},
		)},
		{Type: TypeAlert, Fields: slices.Concat(
			keep("source", "rule", "severity", "description", "tags", "subject", "subject_kind", "tier", "by",
				"verb", "object", "kind", "port", "proto", "target", "invariants", "attempt", "syscall", "exec_id", "event_serial"),
			redact("summary", "path", "reason", "invariant_at"), []privacy.FieldRule{anon},
		)},
		{Type: TypeLoss, Fields: keep("loss", "from", "to", "count")},
		{Type: TypeAgent, Fields: keep("op", "version", "policy", "sha256", "source", "rules", "detections",
			"events", "records", "alerts", "lost_events", "loss_reports", "parse_errors", "rule_errors", "records_dropped",
			"ledger_size", "previous_size", "error")},
	}
}

// PrivacyConfig returns cfg completed for the agent: the agent's own event
// types are added where cfg has no rule for them (a policy may tighten
// them, never lose them: an alert is never dropped for lack of a rule),
// and the paths of the policy's resources labelled secret or personal-data
// are redacted wherever they appear in redacted values (paths, arguments,
// process titles, reasons): a key's path is written
// "[redacted:policy-secret]" while the access names its resource.
func PrivacyConfig(cfg privacy.Config, p *policy.Policy) privacy.Config {
	cfg.Events = slices.Clone(cfg.Events)
	for _, r := range AgentEventRules() {
		if !slices.ContainsFunc(cfg.Events, func(e privacy.EventRule) bool { return e.Type == r.Type }) {
			cfg.Events = append(cfg.Events, r)
		}
	}
	cfg.DropEvents = slices.DeleteFunc(slices.Clone(cfg.DropEvents), func(t string) bool { return strings.HasPrefix(t, "RAMPART_") })
	cfg.Redact = slices.Clone(cfg.Redact)
	if p == nil {
		return cfg
	}
	for _, l := range []struct {
		label policy.Label
		name  string
	}{{policy.LabelSecret, RedactSecretPaths}, {policy.LabelPersonalData, RedactPersonalPaths}} {
		if slices.ContainsFunc(cfg.Redact, func(r privacy.RedactRule) bool { return r.Name == l.name }) {
			continue
		}
		var alts []string
		for _, r := range p.Resources {
			if !r.HasLabel(l.label) {
				continue
			}
			for _, g := range r.Paths {
				alts = append(alts, globPattern(g))
			}
		}
		if len(alts) == 0 {
			continue
		}
		slices.Sort(alts)
		alts = slices.Compact(alts)
		pat := `(?:^|[\s\x00"'=:,(\[])(?P<secret>(?:` + strings.Join(alts, "|") + `))(?:$|[\s\x00"':;,)\]])`
		cfg.Redact = append(cfg.Redact, privacy.RedactRule{Name: l.name, Pattern: pat})
	}
	return cfg
}

// pathChar matches a character of a path segment inside free text (not a
// separator, quote or the punctuation that follows a path in a sentence).
const pathChar = `[^/\s\x00"':;,()\[\]]`

// pathTail matches the rest of a path below a directory.
const pathTail = `(?:/(?:` + pathChar + `|/)*)?`

// globPattern translates a policy glob to a regular expression matching
// the paths it covers and everything below them: the whole tree under the
// glob's literal directory prefix when that prefix is at least two levels
// deep (so that the directory holding keys is not named either), else the
// glob itself segment by segment.
func globPattern(g string) string {
	segs := strings.Split(strings.TrimPrefix(g, "/"), "/")
	n := 0
	for n < len(segs) && !strings.ContainsAny(segs[n], "*?") {
		n++
	}
	if n == len(segs) || n >= 2 {
		return regexp.QuoteMeta("/"+strings.Join(segs[:n], "/")) + pathTail
	}
	var b strings.Builder
	for _, s := range segs {
		if s == "**" {
			b.WriteString(`(?:/` + pathChar + `+)*`)
			continue
		}
		b.WriteByte('/')
		for _, c := range s {
			switch c {
			case '*':
				b.WriteString(pathChar + `*`)
			case '?':
				b.WriteString(pathChar)
			default:
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
	}
	b.WriteString(pathTail)
	return b.String()
}

// hintFor gives the filter what the agent knows of an audit field: hints
// only strengthen the configured action (an identifier is never kept raw).
func hintFor(name string) privacy.Hint {
	switch name {
	case "uid", "auid", "euid", "suid", "fsuid", "ouid", "oauid", "old-auid", "sauid", "id":
		return privacy.HintUID
	case "gid", "egid", "sgid", "fsgid", "ogid":
		return privacy.HintGID
	case "acct":
		return privacy.HintUser
	case "hostname", "node":
		return privacy.HintHost
	case "addr", "laddr", "saddr_ip":
		return privacy.HintIP
	case "saddr":
		return privacy.HintSockaddr
	case "name", "cwd", "exe", "path":
		return privacy.HintPath
	case "proctitle", "cmd", "comm":
		return privacy.HintArgv
	}
	if len(name) >= 2 && name[0] == 'a' && name[1] >= '0' && name[1] <= '9' && !strings.HasSuffix(name, "_len") {
		return privacy.HintArgv // EXECVE a0, a1[2]; a hint never weakens a numeric SYSCALL a0 (kept as it is)
	}
	return privacy.HintNone
}

// recordEvent turns an audit record into a privacy event, reusing
// dst.Fields.
func recordEvent(dst *privacy.Event, r *audit.Record, node string) {
	dst.Type = r.Type.String()
	dst.Time = r.Stamp.Time()
	dst.Fields = dst.Fields[:0]
	if node != "" {
		dst.Fields = append(dst.Fields, privacy.Field{Name: "node", Value: node, Hint: privacy.HintHost})
	}
	for i, n := 0, r.NumFields(); i < n; i++ {
		f := r.Field(i)
		h := hintFor(f.Key)
		if r.Type == audit.TypeSyscall && h == privacy.HintArgv && f.Key != "comm" {
			h = privacy.HintNone // SYSCALL a0–a3 are numbers
		}
		v := f.Value
		if r.Type == audit.TypeProctitle && f.Key == "proctitle" {
			v = strings.TrimRight(strings.ReplaceAll(v, "\x00", " "), " ") // arguments are NUL-separated
		}
		dst.Fields = append(dst.Fields, privacy.Field{Name: f.Key, Value: v, Hint: h})
	}
}
