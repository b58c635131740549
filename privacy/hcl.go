package privacy

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// HCL syntax of the privacy block (all items optional):
//
//	privacy {
//	  default_events   = true            # start from DefaultConfig's allowlists (false: none)
//	  allow_wildcard   = false           # permit event "*"
//	  coarsen_time     = "1m"            # or a number of seconds; 0 = off
//	  generalise_homes = true
//	  unset_values     = ["4294967295", "-1", "?", "(none)", "(null)", "unset", ""]
//	  disable_builtin_redactions = ["base64-secret"]
//	  exempt_email_domains       = ["openssh.com", "libssh.org"]
//	  drop_events      = ["AVC"]         # remove types (from the defaults)
//	  keyring          = "/etc/rampart/privacy.keyring"
//	  escrow           = "/var/lib/rampart/privacy.escrow"
//
//	  ip {
//	    mode        = "cryptopan"        # or "truncate"
//	    ipv4_prefix = 24
//	    ipv6_prefix = 48
//	  }
//
//	  redact "aws-access-key" {
//	    pattern = "AKIA[0-9A-Z]{16}"     # RE2; a group named "secret" limits the replacement
//	  }
//
//	  common {                           # rules for every allowlisted type
//	    pseudonymise = { node = "host" }
//	  }
//
//	  event "SYSCALL" {                  # merged into the default rules of SYSCALL
//	    keep         = ["arch", "syscall", "success", "exit"]
//	    pseudonymise = { uid = "uid", auid = "uid", gid = "gid" }
//	    anonymise    = ["addr"]
//	    sockaddr     = ["saddr"]
//	    redact       = ["exe", "a[0-9]*"]
//	    coarsen      = ["time"]
//	    auto         = []
//	    drop         = ["comm"]
//	  }
//	}
//
// Field names in an event or common block are exact names or path.Match
// patterns; a field may appear once per block. The block's rules take
// precedence over the default rules for the same field name.

var (
	privacyFileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "privacy"}}}
	privacySchema     = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "default_events"}, {Name: "allow_wildcard"}, {Name: "coarsen_time"},
			{Name: "generalise_homes"}, {Name: "unset_values"}, {Name: "disable_builtin_redactions"},
			{Name: "exempt_email_domains"}, {Name: "drop_events"}, {Name: "keyring"}, {Name: "escrow"},
		},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "ip"}, {Type: "redact", LabelNames: []string{"name"}},
			{Type: "common"}, {Type: "event", LabelNames: []string{"type"}},
		},
	}
	ipSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "mode"}, {Name: "ipv4_prefix"}, {Name: "ipv6_prefix"},
	}}
	redactSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "pattern", Required: true}}}
	fieldsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "keep"}, {Name: "pseudonymise"}, {Name: "anonymise"}, {Name: "sockaddr"},
		{Name: "redact"}, {Name: "coarsen"}, {Name: "auto"}, {Name: "drop"},
	}}
)

// listActions are the field-list attributes and their actions, in the
// order they are read.
var listActions = [...]struct {
	name   string
	action Action
}{
	{"keep", ActionKeep}, {"anonymise", ActionAnonymise}, {"sockaddr", ActionSockaddr},
	{"redact", ActionRedact}, {"coarsen", ActionCoarsen}, {"auto", ActionAuto}, {"drop", ActionDrop},
}

// ParseHCL parses an HCL file holding one privacy block and decodes it.
// filename is used in diagnostics.
func ParseHCL(src []byte, filename string) (Config, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return Config{}, diags
	}
	content, ds := f.Body.Content(privacyFileSchema)
	diags = append(diags, ds...)
	if diags.HasErrors() {
		return Config{}, diags
	}
	switch len(content.Blocks) {
	case 0:
		return Config{}, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "No privacy block",
			Detail: "The file must hold one privacy { … } block.", Subject: content.MissingItemRange.Ptr(),
		})
	case 1:
	default:
		return Config{}, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Duplicate privacy block",
			Detail: "A policy has one privacy block.", Subject: content.Blocks[1].DefRange.Ptr(),
		})
	}
	cfg, ds := DecodeHCL(content.Blocks[0].Body)
	return cfg, append(diags, ds...)
}

// DecodeHCL decodes the body of a privacy block (see the syntax above)
// into a Config, for embedding in the policy language. Every problem is a
// diagnostic with its file:line:column range (FormatDiagnostics prints
// them). The result is valid (Config.Validate) when there are no errors.
func DecodeHCL(body hcl.Body) (Config, hcl.Diagnostics) {
	d := &decoder{}
	content, ds := body.Content(privacySchema)
	d.diags = ds
	attrs := content.Attributes

	cfg := DefaultConfig()
	if a := attrs["default_events"]; a != nil {
		if v, ok := d.bool(a); ok && !v {
			cfg = BaseConfig()
		}
	}
	if a := attrs["allow_wildcard"]; a != nil {
		cfg.AllowWildcard, _ = d.bool(a)
	}
	if a := attrs["generalise_homes"]; a != nil {
		if v, ok := d.bool(a); ok {
			cfg.GeneraliseHomes = v
		}
	}
	if a := attrs["coarsen_time"]; a != nil {
		cfg.CoarsenTime = d.duration(a)
	}
	if a := attrs["unset_values"]; a != nil {
		cfg.UnsetValues = itemValues(d.strings(a.Expr))
	}
	if a := attrs["disable_builtin_redactions"]; a != nil {
		for _, it := range d.strings(a.Expr) {
			if !slices.Contains(BuiltinRedactions(), it.v) {
				d.errorf(it.r, "Unknown built-in redaction", "%q is not a built-in rule; they are %s.", it.v, strings.Join(BuiltinRedactions(), ", "))
				continue
			}
			cfg.DisableBuiltins = append(cfg.DisableBuiltins, it.v)
		}
	}
	if a := attrs["exempt_email_domains"]; a != nil {
		cfg.ExemptEmailDomains = itemValues(d.strings(a.Expr))
		for i, s := range cfg.ExemptEmailDomains {
			cfg.ExemptEmailDomains[i] = strings.ToLower(s)
		}
	}
	if a := attrs["drop_events"]; a != nil {
		for _, it := range d.strings(a.Expr) {
			if err := checkEventType(it.v); err != nil {
				d.errorf(it.r, "Invalid event type", "%v.", err)
				continue
			}
			cfg.DropEvents = append(cfg.DropEvents, it.v)
		}
	}
	if a := attrs["keyring"]; a != nil {
		cfg.KeyringFile, _ = d.string(a.Expr)
	}
	if a := attrs["escrow"]; a != nil {
		cfg.EscrowFile, _ = d.string(a.Expr)
	}

	var ipSeen, commonSeen *hcl.Range
	events := map[string]hcl.Range{}
	redacts := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "ip":
			if ipSeen != nil {
				d.errorf(b.DefRange, "Duplicate ip block", "The first one is at %s.", ipSeen)
				continue
			}
			ipSeen = b.DefRange.Ptr()
			d.ipBlock(b, &cfg.IP)
		case "redact":
			name := b.Labels[0]
			if err := checkRuleName(name); err != nil {
				d.errorf(b.LabelRanges[0], "Invalid redaction rule name", "%v.", err)
				continue
			}
			if slices.Contains(BuiltinRedactions(), name) {
				d.errorf(b.LabelRanges[0], "Reserved redaction rule name", "%q is a built-in rule; choose another name.", name)
				continue
			}
			if r, dup := redacts[name]; dup {
				d.errorf(b.LabelRanges[0], "Duplicate redaction rule", "Rule %q is already defined at %s.", name, r)
				continue
			}
			redacts[name] = b.DefRange
			bc, ds := b.Body.Content(redactSchema)
			d.diags = append(d.diags, ds...)
			if a := bc.Attributes["pattern"]; a != nil {
				if p, ok := d.string(a.Expr); ok {
					if _, err := compileRedact(p); err != nil {
						d.errorf(a.Expr.Range(), "Invalid redaction pattern", "%v.", err)
						continue
					}
					cfg.Redact = append(cfg.Redact, RedactRule{Name: name, Pattern: p})
				}
			}
		case "common":
			if commonSeen != nil {
				d.errorf(b.DefRange, "Duplicate common block", "The first one is at %s.", commonSeen)
				continue
			}
			commonSeen = b.DefRange.Ptr()
			cfg.Common = mergeRules(d.fieldRules(b.Body), cfg.Common)
		case "event":
			typ := b.Labels[0]
			if err := checkEventType(typ); err != nil {
				d.errorf(b.LabelRanges[0], "Invalid event type", "%v.", err)
				continue
			}
			if r, dup := events[typ]; dup {
				d.errorf(b.LabelRanges[0], "Duplicate event block", "Event %q is already configured at %s.", typ, r)
				continue
			}
			events[typ] = b.DefRange
			if typ == "*" && !cfg.AllowWildcard {
				d.errorf(b.LabelRanges[0], "Wildcard event type needs opt-in",
					`event "*" lets every event type through (with these field rules); set allow_wildcard = true to mean it.`)
			}
			rules := d.fieldRules(b.Body)
			i := slices.IndexFunc(cfg.Events, func(e EventRule) bool { return e.Type == typ })
			if i >= 0 {
				cfg.Events[i].Fields = mergeRules(rules, cfg.Events[i].Fields)
			} else {
				cfg.Events = append(cfg.Events, EventRule{Type: typ, Fields: rules})
			}
		}
	}
	if !d.diags.HasErrors() {
		if err := cfg.Validate(); err != nil {
			d.errorf(body.MissingItemRange(), "Invalid privacy configuration", "%v", err)
		}
	}
	return cfg, d.diags
}

// mergeRules returns over followed by the rules of base for fields over
// does not name.
func mergeRules(over, base []FieldRule) []FieldRule {
	out := slices.Clone(over)
	for _, r := range base {
		if !slices.ContainsFunc(over, func(o FieldRule) bool { return o.Field == r.Field }) {
			out = append(out, r)
		}
	}
	return out
}

// decoder accumulates diagnostics.
type decoder struct {
	diags hcl.Diagnostics
}

func (d *decoder) errorf(r hcl.Range, summary, format string, a ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, a...), Subject: r.Ptr(),
	})
}

// value evaluates a constant expression (no variables or functions).
func (d *decoder) value(e hcl.Expression, want cty.Type) (cty.Value, bool) {
	v, ds := e.Value(nil)
	d.diags = append(d.diags, ds...)
	if ds.HasErrors() {
		return cty.NilVal, false
	}
	if v.IsNull() || !v.IsKnown() {
		d.errorf(e.Range(), "Missing value", "A %s value is required here.", want.FriendlyName())
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		d.errorf(e.Range(), "Wrong type", "A %s is required here: %v.", want.FriendlyName(), err)
		return cty.NilVal, false
	}
	return cv, true
}

func (d *decoder) bool(a *hcl.Attribute) (bool, bool) {
	v, ok := d.value(a.Expr, cty.Bool)
	if !ok {
		return false, false
	}
	return v.True(), true
}

func (d *decoder) string(e hcl.Expression) (string, bool) {
	v, ok := d.value(e, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) int(e hcl.Expression, lo, hi int) (int, bool) {
	v, ok := d.value(e, cty.Number)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if acc != big.Exact || n < int64(lo) || n > int64(hi) {
		d.errorf(e.Range(), "Value out of range", "Want a whole number from %d to %d.", lo, hi)
		return 0, false
	}
	return int(n), true
}

// duration reads a duration: a string such as "30s" or "1m", or a number
// of seconds. It must be whole seconds.
func (d *decoder) duration(a *hcl.Attribute) time.Duration {
	v, ds := a.Expr.Value(nil)
	if ds.HasErrors() {
		d.diags = append(d.diags, ds...)
		return 0
	}
	var dur time.Duration
	switch {
	case !v.IsKnown() || v.IsNull():
		d.errorf(a.Expr.Range(), "Missing value", "A duration is required here.")
		return 0
	case v.Type() == cty.Number:
		n, ok := d.int(a.Expr, 0, 366*86400)
		if !ok {
			return 0
		}
		dur = time.Duration(n) * time.Second
	case v.Type() == cty.String:
		var err error
		dur, err = time.ParseDuration(v.AsString())
		if err != nil || dur < 0 || dur%time.Second != 0 || dur > 366*24*time.Hour {
			d.errorf(a.Expr.Range(), "Invalid duration", `Want a whole number of seconds up to a year, such as "30s", "5m" or "1h".`)
			return 0
		}
	default:
		d.errorf(a.Expr.Range(), "Wrong type", `Want a duration string such as "1m" or a number of seconds.`)
	}
	return dur
}

// item is a string with its source range.
type item struct {
	v string
	r hcl.Range
}

func itemValues(its []item) []string {
	out := make([]string, 0, len(its))
	for _, it := range its {
		out = append(out, it.v)
	}
	return out
}

// strings reads a list of strings.
func (d *decoder) strings(e hcl.Expression) []item {
	exprs, ds := hcl.ExprList(e)
	d.diags = append(d.diags, ds...)
	var out []item
	for _, x := range exprs {
		if s, ok := d.string(x); ok {
			out = append(out, item{s, x.Range()})
		}
	}
	return out
}

func (d *decoder) ipBlock(b *hcl.Block, ip *IPConfig) {
	c, ds := b.Body.Content(ipSchema)
	d.diags = append(d.diags, ds...)
	if a := c.Attributes["mode"]; a != nil {
		if s, ok := d.string(a.Expr); ok {
			switch s {
			case "cryptopan":
				ip.Mode = IPCryptoPAn
			case "truncate":
				ip.Mode = IPTruncate
			default:
				d.errorf(a.Expr.Range(), "Unknown IP mode", `%q: want "cryptopan" or "truncate".`, s)
			}
		}
	}
	if a := c.Attributes["ipv4_prefix"]; a != nil {
		if n, ok := d.int(a.Expr, 0, 32); ok {
			ip.V4Prefix = n
		}
	}
	if a := c.Attributes["ipv6_prefix"]; a != nil {
		if n, ok := d.int(a.Expr, 0, 128); ok {
			ip.V6Prefix = n
		}
	}
}

// fieldRules reads the field rules of an event or common block.
func (d *decoder) fieldRules(body hcl.Body) []FieldRule {
	c, ds := body.Content(fieldsSchema)
	d.diags = append(d.diags, ds...)
	var rules []FieldRule
	seen := map[string]hcl.Range{}
	add := func(name string, r hcl.Range, fr FieldRule) {
		if err := checkFieldPattern(name); err != nil {
			d.errorf(r, "Invalid field name", "%v.", err)
			return
		}
		if first, dup := seen[name]; dup {
			d.errorf(r, "Field listed twice", "Field %q already has a rule at %s; a field has one action per block.", name, first)
			return
		}
		seen[name] = r
		rules = append(rules, fr)
	}
	if a := c.Attributes["pseudonymise"]; a != nil {
		pairs, ds := hcl.ExprMap(a.Expr)
		d.diags = append(d.diags, ds...)
		for _, kv := range pairs {
			name, ok1 := d.string(kv.Key)
			kind, ok2 := d.string(kv.Value)
			if !ok1 || !ok2 {
				continue
			}
			if !Kind(kind).Valid() {
				d.errorf(kv.Value.Range(), "Unknown identifier kind", "%q: want one of uid, gid, user, group, host, principal, id.", kind)
				continue
			}
			add(name, kv.Key.Range(), FieldRule{Field: name, Action: ActionPseudonymise, Kind: Kind(kind)})
		}
	}
	for _, la := range listActions {
		a := c.Attributes[la.name]
		if a == nil {
			continue
		}
		for _, it := range d.strings(a.Expr) {
			add(it.v, it.r, FieldRule{Field: it.v, Action: la.action})
		}
	}
	// Attributes are a map: report in source order for stable output.
	slices.SortStableFunc(rules, func(a, b FieldRule) int {
		ra, rb := seen[a.Field], seen[b.Field]
		return ra.Start.Byte - rb.Start.Byte
	})
	return rules
}

// FormatDiagnostics formats diagnostics one per line as
// "file:line:col: summary: detail".
func FormatDiagnostics(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		if d.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(d.Detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
