package privacy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Action is what the filter does with an allowlisted field.
type Action uint8

// The actions. A field that no rule names is dropped (fail-closed).
const (
	ActionDrop         Action = iota // drop the field (explicitly; counted as field-dropped)
	ActionKeep                       // copy the value unchanged
	ActionPseudonymise               // replace the value with its pseudonym (FieldRule.Kind)
	ActionAnonymise                  // anonymise an IP address (with optional port): Crypto-PAn or truncation
	ActionSockaddr                   // decode a hex struct sockaddr and anonymise its address
	ActionRedact                     // apply the redaction rules and home generalisation (arguments, titles, paths)
	ActionCoarsen                    // round a timestamp down to Config.CoarsenTime
	ActionAuto                       // choose from the field's Hint; a field without a hint is dropped
)

var actionNames = [...]string{"drop", "keep", "pseudonymise", "anonymise", "sockaddr", "redact", "coarsen", "auto"}

// String returns the action's name as used in the HCL syntax.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// FieldRule gives the action for the fields of an event type whose name
// matches Field: an exact name, or a pattern with path.Match syntax
// ("a[0-9]*" matches EXECVE's a0, a1, a2[0], a2_len but not arch). Exact
// names take precedence over patterns; patterns are tried in order.
type FieldRule struct {
	Field  string
	Action Action
	Kind   Kind // for ActionPseudonymise; empty means the field's hint, else KindID
}

// EventRule is the field allowlist of one event type. Type "*" is the
// wildcard: it applies to types without a rule of their own, and only
// with Config.AllowWildcard.
type EventRule struct {
	Type   string
	Fields []FieldRule
}

// RedactRule is a custom redaction rule: matches of Pattern (RE2 syntax)
// in redacted values are replaced by "[redacted:<Name>]"; if the pattern
// has a group named "secret", only that group is replaced.
type RedactRule struct {
	Name    string
	Pattern string
}

// Config is a privacy policy: what the filter lets through and how. The
// zero Config lets nothing through. DefaultConfig is the built-in policy
// for Linux audit events; DecodeHCL reads one from the policy language.
type Config struct {
	// Events are the per-type field allowlists. Event types without a
	// rule are dropped entirely.
	Events []EventRule
	// Common rules apply to every allowlisted type, after the type's
	// own rules (they do not allowlist a type by themselves).
	Common []FieldRule
	// DropEvents lists types dropped even if Events names them (used to
	// remove a type from the defaults).
	DropEvents []string
	// AllowWildcard permits an EventRule of type "*".
	AllowWildcard bool
	// IP configures address anonymisation.
	IP IPConfig
	// Redact are custom redaction rules, applied after the built-ins.
	Redact []RedactRule
	// DisableBuiltins names built-in redaction rules to switch off
	// (see BuiltinRedactions).
	DisableBuiltins []string
	// ExemptEmailDomains are domains the email rule leaves alone
	// (nil means DefaultExemptEmailDomains).
	ExemptEmailDomains []string
	// GeneraliseHomes replaces user names and uids inside paths
	// (/home/<user>, /root, /run/user/<uid>, mail and cron spools) with
	// pseudonyms, in redacted values.
	GeneraliseHomes bool
	// CoarsenTime, if positive, rounds the event time and the values of
	// coarsen fields down to a multiple of it (whole seconds).
	CoarsenTime time.Duration
	// UnsetValues are values that identify nobody and are kept as they
	// are in pseudonymised and anonymised fields (audit's unset ids and
	// "?").
	UnsetValues []string
	// KeyringFile and EscrowFile are where the agent finds the keyring
	// and writes the escrow (empty EscrowFile: no escrow). The filter
	// itself does not open files.
	KeyringFile string
	EscrowFile  string
}

// DefaultUnsetValues are audit's "no value" spellings: the unset login
// uid (4294967295 = (uid_t)-1), -1, "?", "(none)", "(null)", "unset".
func DefaultUnsetValues() []string {
	return []string{"4294967295", "-1", "?", "(none)", "(null)", "unset", ""}
}

// BaseConfig is a Config with safe settings and no event rules:
// Crypto-PAn, /24 and /48 truncation prefixes, home generalisation, all
// built-in redactions, audit's unset values.
func BaseConfig() Config {
	return Config{
		IP:              IPConfig{Mode: IPCryptoPAn, V4Prefix: 24, V6Prefix: 48},
		GeneraliseHomes: true,
		UnsetValues:     DefaultUnsetValues(),
	}
}

// rules builds a rule list: keep these, pseudonymise those as kind, …
type ruleList []FieldRule

func (l ruleList) with(a Action, k Kind, names ...string) ruleList {
	for _, n := range names {
		l = append(l, FieldRule{Field: n, Action: a, Kind: k})
	}
	return l
}

func (l ruleList) keep(names ...string) ruleList   { return l.with(ActionKeep, "", names...) }
func (l ruleList) redact(names ...string) ruleList { return l.with(ActionRedact, "", names...) }
func (l ruleList) ip(names ...string) ruleList     { return l.with(ActionAnonymise, "", names...) }
func (l ruleList) ps(k Kind, names ...string) ruleList {
	return l.with(ActionPseudonymise, k, names...)
}

// DefaultConfig is BaseConfig with the built-in allowlists for Linux
// audit records. Every type's rules are listed in docs/agent.md; in short:
//
//   - everywhere: uid, auid, euid, suid, fsuid, ouid, oauid, old-auid
//     pseudonymised as uid; gid, egid, sgid, fsgid, ogid as gid; the
//     enriched (log_format=ENRICHED) UID, AUID, … as user and GID, … as
//     group; node as host; comm and exe redacted; pid, ppid, ses, subj,
//     res, key kept;
//   - SYSCALL keeps arch, syscall, success, exit, a0–a3, items, tty;
//     EXECVE keeps argc and redacts every argument (a[0-9]*);
//     PROCTITLE redacts proctitle; PATH redacts name and keeps inode,
//     dev, mode, nametype and capability fields; CWD redacts cwd;
//     SOCKADDR decodes saddr and anonymises its address;
//   - user-space records (USER_*, CRED_*, LOGIN, CRYPTO_*, account and
//     group management): acct as user (group for group records), id as
//     uid (gid), hostname as host, fp as principal, addr and laddr
//     anonymised, cwd and cmd redacted, op, grantors, terminal and the
//     ssh session parameters kept;
//   - USER_TTY and TTY keep no data (keystrokes are dropped);
//   - AVC (SELinux and AppArmor), SECCOMP, ANOM_*, BPRM_FCAPS, CAPSET,
//     MMAP, FD_PAIR, OBJ_PID, KERN_MODULE, CONFIG_CHANGE, NETFILTER_CFG,
//     DAEMON_* with their non-identifying fields; SERVICE_* and SYSTEM_*
//     like the user-space records.
//
// Anything else — other types, other fields, the enriched SADDR text —
// is dropped.
func DefaultConfig() Config {
	c := BaseConfig()
	c.Common = ruleList{}.
		ps(KindUID, "uid", "auid", "euid", "suid", "fsuid", "ouid", "oauid", "old-auid", "sauid").
		ps(KindGID, "gid", "egid", "sgid", "fsgid", "ogid").
		ps(KindUser, "UID", "AUID", "EUID", "SUID", "FSUID", "OUID", "OAUID", "OLD-AUID", "SAUID").
		ps(KindGroup, "GID", "EGID", "SGID", "FSGID", "OGID").
		ps(KindHost, "node").
		redact("comm", "exe").
		keep("pid", "ppid", "ses", "subj", "res", "key", "ARCH", "SYSCALL")

	userRec := ruleList{}.
		ps(KindUser, "acct").ps(KindUID, "id").ps(KindHost, "hostname").ps(KindPrincipal, "fp").
		ip("addr", "laddr").redact("cwd", "cmd").
		keep("op", "grantors", "terminal", "direction", "kind", "cipher", "ksize", "mac", "pfs",
			"spid", "rport", "lport", "unit", "default-context", "selected-context", "old-context",
			"new-context", "old-role", "new-role", "old-ses", "tty", "old-level", "new-level", "auid-old")
	groupRec := ruleList{}.
		ps(KindGroup, "acct", "grp").ps(KindGID, "id").ps(KindHost, "hostname").
		ip("addr").keep("op", "terminal")

	var ev []EventRule
	add := func(l ruleList, types ...string) {
		for _, t := range types {
			ev = append(ev, EventRule{Type: t, Fields: slices.Clone(l)})
		}
	}
	add(ruleList{}.keep("arch", "syscall", "success", "exit", "a0", "a1", "a2", "a3", "items", "tty"), "SYSCALL")
	add(ruleList{}.keep("argc").redact("a[0-9]*"), "EXECVE")
	add(ruleList{}.redact("proctitle"), "PROCTITLE")
	add(ruleList{}.redact("name").
		keep("item", "inode", "dev", "mode", "rdev", "nametype", "objtype", "obj", "cap_fp", "cap_fi", "cap_fe", "cap_fver", "cap_frootid"), "PATH")
	add(ruleList{}.redact("cwd"), "CWD")
	add(ruleList{}.with(ActionSockaddr, "", "saddr"), "SOCKADDR")
	add(userRec, "USER_AUTH", "USER_ACCT", "USER_MGMT", "USER_CHAUTHTOK", "USER_ERR", "USER_LOGIN",
		"USER_LOGOUT", "USER_START", "USER_END", "USER_CMD", "USER_ROLE_CHANGE", "USER_LABELED_EXPORT",
		"USER_UNLABELED_EXPORT", "USER_DEVICE", "USER_MAC_POLICY_LOAD", "USER_SELINUX_ERR", "USER_AVC",
		"USYS_CONFIG", "CRED_ACQ", "CRED_DISP", "CRED_REFR", "LOGIN", "CRYPTO_KEY_USER", "CRYPTO_SESSION",
		"ADD_USER", "DEL_USER", "CHUSER_ID", "ACCT_LOCK", "ACCT_UNLOCK", "ANOM_LOGIN_FAILURES",
		"ANOM_LOGIN_TIME", "ANOM_LOGIN_SESSIONS", "ANOM_LOGIN_LOCATION", "ANOM_LOGIN_ACCT")
	add(groupRec, "ADD_GROUP", "DEL_GROUP", "GRP_MGMT", "GRP_CHAUTHTOK", "CHGRP_ID")
	add(ruleList{}.keep("major", "minor").with(ActionDrop, "", "data"), "USER_TTY", "TTY")
	add(ruleList{}.keep("seresult", "seperms", "tclass", "scontext", "tcontext", "permissive", "dev", "ino",
		"apparmor", "operation", "info", "profile", "requested_mask", "denied_mask", "class", "family",
		"sock_type", "protocol", "requested", "denied", "signal", "peer", "capability", "capname", "error",
		"src", "dest", "sport", "dport", "netif", "lport", "fsuid_name").
		redact("name", "path", "target").ip("saddr", "daddr", "laddr", "faddr"), "AVC", "SELINUX_ERR")
	add(ruleList{}.keep("arch", "syscall", "compat", "ip", "code", "sig"), "SECCOMP")
	add(ruleList{}.keep("sig", "dev", "prom", "old_prom", "reason", "operation"), "ANOM_ABEND", "ANOM_PROMISCUOUS", "ANOM_LINK", "ANOM_CREAT")
	add(ruleList{}.keep("fver", "fp", "fi", "fe", "old_pp", "old_pi", "old_pe", "old_pa", "pp", "pi", "pe", "pa",
		"new_pp", "new_pi", "new_pe", "new_pa", "frootid"), "BPRM_FCAPS")
	add(ruleList{}.keep("cap_pi", "cap_pp", "cap_pe", "cap_pa"), "CAPSET")
	add(ruleList{}.keep("fd", "flags"), "MMAP")
	add(ruleList{}.keep("fd0", "fd1"), "FD_PAIR")
	add(ruleList{}.keep("opid", "oses", "obj").redact("ocomm"), "OBJ_PID")
	add(ruleList{}.keep("op").redact("name"), "KERN_MODULE")
	add(ruleList{}.keep("op", "list", "audit_enabled", "old", "audit_backlog_limit", "audit_failure",
		"audit_rate_limit", "audit_backlog_wait_time", "audit_pid"), "CONFIG_CHANGE")
	add(ruleList{}.keep("table", "family", "entries", "op"), "NETFILTER_CFG")
	add(ruleList{}.keep("ver", "format", "kernel", "op"), "DAEMON_START", "DAEMON_END", "DAEMON_CONFIG", "DAEMON_ABORT", "DAEMON_ROTATE", "DAEMON_RESUME")
	add(userRec, "SERVICE_START", "SERVICE_STOP", "SYSTEM_BOOT", "SYSTEM_SHUTDOWN", "SYSTEM_RUNLEVEL")
	c.Events = ev
	return c
}

// Validate checks the configuration: event types, field names and
// patterns, kinds, duplicate rules, the wildcard opt-in, IP prefixes,
// redaction rules and the coarsening granularity.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	checkFields := func(where string, rules []FieldRule) {
		seen := map[string]bool{}
		for _, r := range rules {
			if err := checkFieldPattern(r.Field); err != nil {
				bad("%s: %v", where, err)
			}
			if seen[r.Field] {
				bad("%s: field %q has two rules", where, r.Field)
			}
			seen[r.Field] = true
			if r.Action > ActionAuto {
				bad("%s: field %q: unknown action %d", where, r.Field, r.Action)
			}
			if r.Kind != "" && !r.Kind.Valid() {
				bad("%s: field %q: kind %q is not one of %v", where, r.Field, r.Kind, Kinds())
			}
			if r.Kind != "" && r.Action != ActionPseudonymise {
				bad("%s: field %q: a kind is only meaningful with pseudonymise", where, r.Field)
			}
		}
	}
	types := map[string]bool{}
	for _, e := range c.Events {
		if err := checkEventType(e.Type); err != nil {
			bad("%v", err)
		}
		if types[e.Type] {
			bad("event %q has two rules", e.Type)
		}
		types[e.Type] = true
		if e.Type == "*" && !c.AllowWildcard {
			bad(`event "*" lets every event type through; set allow_wildcard = true to mean it`)
		}
		checkFields(fmt.Sprintf("event %q", e.Type), e.Fields)
	}
	checkFields("common", c.Common)
	for _, t := range c.DropEvents {
		if err := checkEventType(t); err != nil {
			bad("drop_events: %v", err)
		}
	}
	switch c.IP.Mode {
	case IPCryptoPAn, IPTruncate:
	default:
		bad("ip mode %d is not cryptopan or truncate", c.IP.Mode)
	}
	if c.IP.V4Prefix < 0 || c.IP.V4Prefix > 32 {
		bad("ipv4_prefix %d is not in 0..32", c.IP.V4Prefix)
	}
	if c.IP.V6Prefix < 0 || c.IP.V6Prefix > 128 {
		bad("ipv6_prefix %d is not in 0..128", c.IP.V6Prefix)
	}
	names := map[string]bool{}
	for _, r := range c.Redact {
		if err := checkRuleName(r.Name); err != nil {
			bad("%v", err)
		}
		if names[r.Name] || slices.Contains(BuiltinRedactions(), r.Name) {
			bad("redaction rule %q is defined twice (or is a built-in name)", r.Name)
		}
		names[r.Name] = true
		if _, err := compileRedact(r.Pattern); err != nil {
			bad("redaction rule %q: %v", r.Name, err)
		}
	}
	for _, n := range c.DisableBuiltins {
		if !slices.Contains(BuiltinRedactions(), n) {
			bad("disable_builtin_redactions: %q is not a built-in rule (%s)", n, strings.Join(BuiltinRedactions(), ", "))
		}
	}
	if c.CoarsenTime < 0 || c.CoarsenTime%time.Second != 0 {
		bad("coarsen_time %v is not a whole, non-negative number of seconds", c.CoarsenTime)
	}
	return errors.Join(errs...)
}

// compileRedact compiles a custom redaction pattern. Patterns that match
// the empty string are refused (they would redact between every byte).
func compileRedact(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, errors.New("empty pattern")
	}
	if len(p) > 4096 {
		return nil, errors.New("pattern longer than 4096 bytes")
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("pattern %q matches the empty string", p)
	}
	return re, nil
}

// checkEventType accepts "*" and 1–64 printable ASCII characters without
// spaces.
func checkEventType(t string) error {
	if t == "" || len(t) > 64 {
		return fmt.Errorf("event type %q: want 1-64 characters", abbreviate(t))
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return fmt.Errorf("event type %q: only printable ASCII without spaces", abbreviate(t))
		}
	}
	return nil
}

// checkFieldPattern accepts a field name or path.Match pattern of 1–128
// bytes.
func checkFieldPattern(f string) error {
	if f == "" || len(f) > 128 {
		return fmt.Errorf("field name %q: want 1-128 characters", abbreviate(f))
	}
	if _, err := path.Match(f, ""); err != nil {
		return fmt.Errorf("field pattern %q: %v", abbreviate(f), err)
	}
	return nil
}

// isPattern reports whether a field rule is a pattern rather than a name.
func isPattern(f string) bool { return strings.ContainsAny(f, `*?[\`) }
