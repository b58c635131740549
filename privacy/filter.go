package privacy

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reason is why the filter dropped an event or a field.
type Reason string

// The drop reasons.
const (
	// ReasonTypeNotAllowed: the event's type has no rule (whole event).
	ReasonTypeNotAllowed Reason = "type-not-allowed"
	// ReasonFieldNotAllowed: no rule names the field (fail-closed).
	ReasonFieldNotAllowed Reason = "field-not-allowed"
	// ReasonFieldDropped: a rule says drop.
	ReasonFieldDropped Reason = "field-dropped"
	// ReasonNoHint: the rule says auto but the field has no hint.
	ReasonNoHint Reason = "auto-without-hint"
)

var reasons = [...]Reason{ReasonTypeNotAllowed, ReasonFieldNotAllowed, ReasonFieldDropped, ReasonNoHint}

// EscrowSink receives each new (pseudonym, raw value) pair the filter
// makes, for an escrow kept apart from the ledger (see EscrowWriter).
// Record must be safe for concurrent use and must not block for long.
type EscrowSink interface {
	Record(pseudonym, value string)
}

// Option configures NewFilter.
type Option func(*Filter)

// WithEscrow makes the filter send every new pseudonym and its value to s.
func WithEscrow(s EscrowSink) Option { return func(f *Filter) { f.escrow = s } }

// WithKnownIdentifiers makes the filter pseudonymise these identifiers of
// one kind (typically the node's human accounts, see ParseHumanAccounts,
// and its host name) wherever they appear as whole words in redacted
// values — arguments, titles and paths such as /vagrant/… or
// "su - alice" — not only in identifier fields and home directories.
// Matching ignores ASCII case; values shorter than 2 bytes are ignored.
// Common words make poor identifiers here: "/proc/1/root" becomes
// "/proc/1/ps:…" if root is given.
func WithKnownIdentifiers(kind Kind, values ...string) Option {
	return func(f *Filter) {
		for _, v := range values {
			f.knownList = append(f.knownList, knownID{kind, v})
		}
	}
}

// Filter applies a compiled Config to events. It never modifies its input
// and is safe for concurrent use. Per field, in event order:
//
//   - the rule is the event type's own (exact name, then patterns), else a
//     common one; no rule: the field is dropped (field-not-allowed);
//   - a field's Hint can only strengthen its rule: keep becomes the
//     hint's protection (identifier hints pseudonymise, ip anonymises,
//     sockaddr decodes and anonymises, path and argv redact), and redact
//     of an identifier, ip or sockaddr hint becomes that protection;
//   - values in Config.UnsetValues pass unchanged through pseudonymise,
//     anonymise and sockaddr;
//   - an anonymise value that is not an address (a host name in audit's
//     addr=) is pseudonymised as a host; an unparsable sockaddr or time
//     becomes "[redacted:unparsed-sockaddr]" / "[redacted:unparsed-time]".
//
// Events of a type without rules are dropped entirely
// (type-not-allowed). Everything is counted (Stats).
type Filter struct {
	kr              *Keyring
	types           map[string]*fieldSet
	wildcard        *fieldSet
	ip              IPConfig
	rules           []*rule
	ruleNames       []string
	passwordFlags   bool
	generaliseHomes bool
	coarsen         time.Duration
	unset           map[string]struct{}
	escrow          EscrowSink
	knownList       []knownID
	known           map[string]knownID // lower-case value → identifier
	psCache         cache[psKey, string]
	ipCache         cache[netip.Addr, string]
	scrubCache      cache[string, *scrubbed]
	stats           counters
}

// fieldSet is the compiled rules of one event type, common rules merged.
type fieldSet struct {
	exact map[string]FieldRule
	globs []FieldRule // the type's patterns, then the common ones
}

func (s *fieldSet) lookup(name string) (FieldRule, bool) {
	if r, ok := s.exact[name]; ok {
		return r, true
	}
	for _, g := range s.globs {
		if ok, _ := path.Match(g.Field, name); ok {
			return g, true
		}
	}
	return FieldRule{}, false
}

// compileSet merges a type's rules with the common ones, keeping the
// precedence type exact > type pattern > common exact > common pattern.
func compileSet(own, common []FieldRule) *fieldSet {
	s := &fieldSet{exact: map[string]FieldRule{}}
	var ownGlobs, commonGlobs []FieldRule
	for _, r := range own {
		if isPattern(r.Field) {
			ownGlobs = append(ownGlobs, r)
		} else {
			s.exact[r.Field] = r
		}
	}
	for _, r := range common {
		if isPattern(r.Field) {
			commonGlobs = append(commonGlobs, r)
			continue
		}
		if _, ok := s.exact[r.Field]; ok {
			continue
		}
		if slices.ContainsFunc(ownGlobs, func(g FieldRule) bool { ok, _ := path.Match(g.Field, r.Field); return ok }) {
			continue // the type's pattern wins over a common name
		}
		s.exact[r.Field] = r
	}
	s.globs = append(ownGlobs, commonGlobs...)
	return s
}

// NewFilter compiles cfg. The keyring makes pseudonyms and Crypto-PAn
// addresses (its current key); it is required.
func NewFilter(cfg Config, kr *Keyring, opts ...Option) (*Filter, error) {
	if kr == nil {
		return nil, errors.New("privacy: the filter needs a keyring")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("privacy: invalid configuration: %w", err)
	}
	f := &Filter{
		kr:              kr,
		types:           map[string]*fieldSet{},
		ip:              cfg.IP,
		generaliseHomes: cfg.GeneraliseHomes,
		coarsen:         cfg.CoarsenTime,
		unset:           map[string]struct{}{},
	}
	for _, o := range opts {
		o(f)
	}
	for _, k := range f.knownList {
		if !k.kind.Valid() {
			return nil, fmt.Errorf("privacy: known identifiers: kind %q is not one of %v", k.kind, Kinds())
		}
		if len(k.value) < 2 {
			continue
		}
		if f.known == nil {
			f.known = map[string]knownID{}
		}
		f.known[asciiLower(k.value)] = k
	}
	if cfg.EscrowFile != "" && f.escrow == nil {
		return nil, fmt.Errorf("privacy: the configuration names an escrow file (%s): open it with CreateEscrow and pass WithEscrow", cfg.EscrowFile)
	}
	for _, e := range cfg.Events {
		if slices.Contains(cfg.DropEvents, e.Type) {
			continue
		}
		set := compileSet(e.Fields, cfg.Common)
		if e.Type == "*" {
			f.wildcard = set
		} else {
			f.types[e.Type] = set
		}
	}
	for _, v := range cfg.UnsetValues {
		f.unset[v] = struct{}{}
	}
	domains := cfg.ExemptEmailDomains
	if domains == nil {
		domains = DefaultExemptEmailDomains()
	}
	for _, name := range BuiltinRedactions() {
		if slices.Contains(cfg.DisableBuiltins, name) {
			continue
		}
		if name == RulePasswordArg {
			f.passwordFlags = true
		}
		f.addRule(builtinRule(name, domains))
	}
	for _, r := range cfg.Redact {
		re, _ := compileRedact(r.Pattern) // validated
		f.addRule(newRegexRule(r.Name, nil, re))
	}
	f.stats.redactions = make([]atomic.Uint64, len(f.rules)+1) // last: password flag values
	f.stats.droppedFields = map[fieldKey]uint64{}
	f.psCache.init()
	f.ipCache.init()
	f.scrubCache.init()
	return f, nil
}

func (f *Filter) addRule(r *rule) {
	r.idx = len(f.rules)
	f.rules = append(f.rules, r)
	f.ruleNames = append(f.ruleNames, r.name)
}

// Keyring returns the filter's keyring.
func (f *Filter) Keyring() *Keyring { return f.kr }

// typeSet returns the rules for an event type, or nil if it is dropped.
func (f *Filter) typeSet(t string) *fieldSet {
	if s, ok := f.types[t]; ok {
		return s
	}
	return f.wildcard
}

// hintAction is the protection a hint implies (ActionKeep for none).
func hintAction(h Hint) Action {
	switch h {
	case HintUID, HintGID, HintUser, HintGroup, HintHost, HintPrincipal:
		return ActionPseudonymise
	case HintIP:
		return ActionAnonymise
	case HintSockaddr:
		return ActionSockaddr
	case HintPath, HintArgv:
		return ActionRedact
	case HintTime:
		return ActionCoarsen
	}
	return ActionKeep
}

// strengthen combines a rule's action with a field's hint: hints only
// ever add protection.
func strengthen(a Action, h Hint) Action {
	if h == HintNone {
		return a
	}
	ha := hintAction(h)
	switch a {
	case ActionAuto:
		return ha
	case ActionKeep:
		if ha != ActionCoarsen {
			return ha
		}
	case ActionRedact:
		if ha == ActionPseudonymise || ha == ActionAnonymise || ha == ActionSockaddr {
			return ha
		}
	}
	return a
}

// Apply filters one event and returns the result; ok is false if the
// whole event is dropped. ev is not modified.
func (f *Filter) Apply(ev Event) (out Event, ok bool) {
	ok = f.ApplyTo(&out, &ev)
	return out, ok
}

// ApplyTo is Apply writing into dst, reusing dst.Fields' storage (for a
// pipeline that filters into one buffer). dst.Fields must not share
// storage with src.Fields. src is not modified.
func (f *Filter) ApplyTo(dst, src *Event) bool {
	f.stats.events.Add(1)
	if dst == src {
		c := src.Clone()
		src = &c
		dst.Fields = nil
	}
	set := f.typeSet(src.Type)
	if set == nil {
		f.stats.dropped[0].Add(1)
		*dst = Event{Fields: dst.Fields[:0]}
		return false
	}
	dst.Type = src.Type
	dst.Time = f.coarsenTime(src.Time)
	out := dst.Fields[:0]
	var t tally
	var memo psMemo
	redactNext := false // the previous redacted field was a bare --password flag
	for i := range src.Fields {
		fl := &src.Fields[i]
		r, ok := set.lookup(fl.Name)
		if !ok {
			f.dropField(src.Type, fl.Name, 1)
			redactNext = false
			continue
		}
		a := strengthen(r.Action, fl.Hint)
		v := fl.Value
		unset := false
		if a == ActionPseudonymise || a == ActionAnonymise || a == ActionSockaddr {
			_, unset = f.unset[v]
		}
		switch a {
		case ActionKeep:
		case ActionDrop:
			f.dropField(src.Type, fl.Name, 2)
			continue
		case ActionAuto: // only without a hint
			f.dropField(src.Type, fl.Name, 3)
			continue
		case ActionPseudonymise:
			if !unset {
				k := r.Kind
				if k == "" {
					k = fl.Hint.kind()
				}
				if k == "" {
					k = KindID
				}
				v = memo.pseudonym(f, k, v)
				t.pseudonymised++
			}
		case ActionAnonymise:
			if !unset {
				if s, ok := f.anonIPValue(v); ok {
					v = s
					t.anonymised++
				} else {
					v = f.pseudonym(KindHost, v)
					t.pseudonymised++
				}
			}
		case ActionSockaddr:
			if !unset {
				if s, ok := f.anonSockaddr(v, &t); ok {
					v = s
					t.anonymised++
				} else {
					v = "[redacted:unparsed-sockaddr]"
					t.unparsed++
				}
			}
		case ActionRedact:
			if redactNext {
				redactNext = false
				v = "[redacted:" + RulePasswordArg + "]"
				t.redacted(len(f.rules), 1, len(f.rules)+1)
			} else {
				redactNext = f.passwordFlags && isPasswordFlag(v)
				v = f.scrub(v, &t)
			}
		case ActionCoarsen:
			if f.coarsen > 0 {
				if s, ok := f.coarsenValue(v); ok {
					v = s
				} else {
					v = "[redacted:unparsed-time]"
					t.unparsed++
				}
			}
		}
		if a != ActionRedact {
			redactNext = false
		}
		out = append(out, Field{Name: fl.Name, Value: v, Hint: fl.Hint})
	}
	dst.Fields = out
	f.stats.passed.Add(1)
	f.flush(&t)
	return true
}

// tally counts what one event (or one cached scrub) did; the filter's
// shared counters are updated once per event.
type tally struct {
	pseudonymised, anonymised, generalised, unparsed uint64
	redactions                                       []uint32 // per rule index, the last for password flag values; nil if none
}

func (t *tally) redacted(idx, n, size int) {
	if t.redactions == nil {
		t.redactions = make([]uint32, size)
	}
	t.redactions[idx] += uint32(n)
}

func (t *tally) merge(o *tally) {
	t.pseudonymised += o.pseudonymised
	t.anonymised += o.anonymised
	t.generalised += o.generalised
	t.unparsed += o.unparsed
	for i, n := range o.redactions {
		if n > 0 {
			t.redacted(i, int(n), len(o.redactions))
		}
	}
}

func (f *Filter) flush(t *tally) {
	add := func(c *atomic.Uint64, n uint64) {
		if n > 0 {
			c.Add(n)
		}
	}
	add(&f.stats.pseudonymised, t.pseudonymised)
	add(&f.stats.anonymised, t.anonymised)
	add(&f.stats.generalised, t.generalised)
	add(&f.stats.unparsed, t.unparsed)
	for i, n := range t.redactions {
		add(&f.stats.redactions[i], uint64(n))
	}
}

// psKey is a pseudonym cache key.
type psKey struct {
	kind Kind
	v    string
}

// psMemo remembers an event's recent pseudonyms: audit records repeat
// the same id in many fields (uid, auid, euid, suid, fsuid).
type psMemo struct {
	n    int
	keys [4]psKey
	vals [4]string
}

func (m *psMemo) pseudonym(f *Filter, kind Kind, v string) string {
	for i := range min(m.n, len(m.keys)) {
		if m.keys[i].v == v && m.keys[i].kind == kind {
			return m.vals[i]
		}
	}
	p := f.pseudonym(kind, v)
	i := m.n % len(m.keys)
	m.keys[i], m.vals[i] = psKey{kind, v}, p
	m.n++
	return p
}

// maxCachedValue bounds the length of cached raw values.
const maxCachedValue = 256

// pseudonym returns (and caches, and escrows when new) the pseudonym of v.
func (f *Filter) pseudonym(kind Kind, v string) string {
	cacheable := len(v) <= maxCachedValue
	k := psKey{kind, v}
	if cacheable {
		if s, ok := f.psCache.get(k); ok {
			return s
		}
	}
	s := f.kr.Pseudonym(kind, v)
	if cacheable {
		f.psCache.put(k, s)
	}
	if f.escrow != nil {
		f.escrow.Record(s, v)
	}
	return s
}

// coarsenTime rounds t down to the coarsening granularity.
func (f *Filter) coarsenTime(t time.Time) time.Time {
	if f.coarsen <= 0 || t.IsZero() {
		return t
	}
	g := int64(f.coarsen / time.Second)
	sec := floorDiv(t.Unix(), g) * g
	return time.Unix(sec, 0).In(t.Location())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// coarsenValue rounds a timestamp value down: Unix seconds with an
// optional fraction ("1481077043.057", the fraction's length is kept and
// zeroed) or RFC 3339.
func (f *Filter) coarsenValue(v string) (string, bool) {
	g := int64(f.coarsen / time.Second)
	secs, frac, hasFrac := strings.Cut(v, ".")
	if n, err := strconv.ParseInt(secs, 10, 64); err == nil && secs != "" && secs[0] != '+' && strings.Trim(frac, "0123456789") == "" {
		out := strconv.FormatInt(floorDiv(n, g)*g, 10)
		if hasFrac {
			out += "." + strings.Repeat("0", len(frac))
		}
		return out, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return f.coarsenTime(t).Format(time.RFC3339Nano), true
	}
	return "", false
}

// counters are the filter's statistics.
type counters struct {
	events, passed                                   atomic.Uint64
	dropped                                          [len(reasons)]atomic.Uint64
	pseudonymised, anonymised, generalised, unparsed atomic.Uint64
	redactions                                       []atomic.Uint64
	mu                                               sync.Mutex
	droppedFields                                    map[fieldKey]uint64
}

type fieldKey struct{ typ, field string }

// maxFieldKeys bounds the per-field drop table (field names come from
// the input).
const maxFieldKeys = 1024

func (f *Filter) dropField(typ, field string, reason int) {
	f.stats.dropped[reason].Add(1)
	k := fieldKey{typ, field}
	f.stats.mu.Lock()
	if _, ok := f.stats.droppedFields[k]; !ok && len(f.stats.droppedFields) >= maxFieldKeys {
		k = fieldKey{"…", "…"}
	}
	f.stats.droppedFields[k]++
	f.stats.mu.Unlock()
}

// Stats is a snapshot of a filter's counters.
type Stats struct {
	Events uint64 // events offered
	Passed uint64 // events let through
	// Dropped counts per reason: whole events for type-not-allowed,
	// fields for the others.
	Dropped map[Reason]uint64
	// DroppedFields counts dropped fields per "TYPE field" (at most 1024
	// keys; the rest are counted under "… …").
	DroppedFields map[string]uint64
	Pseudonymised uint64            // values replaced by pseudonyms
	Anonymised    uint64            // addresses and sockaddrs anonymised
	Generalised   uint64            // user names and uids in paths replaced
	Unparsed      uint64            // sockaddr and time values that could not be parsed (redacted)
	Redactions    map[string]uint64 // replacements per redaction rule
}

// Stats returns a snapshot of the counters.
func (f *Filter) Stats() Stats {
	s := Stats{
		Events:        f.stats.events.Load(),
		Passed:        f.stats.passed.Load(),
		Dropped:       map[Reason]uint64{},
		DroppedFields: map[string]uint64{},
		Pseudonymised: f.stats.pseudonymised.Load(),
		Anonymised:    f.stats.anonymised.Load(),
		Generalised:   f.stats.generalised.Load(),
		Unparsed:      f.stats.unparsed.Load(),
		Redactions:    map[string]uint64{},
	}
	for i, r := range reasons {
		if n := f.stats.dropped[i].Load(); n > 0 {
			s.Dropped[r] = n
		}
	}
	for i, name := range f.ruleNames {
		if n := f.stats.redactions[i].Load(); n > 0 {
			s.Redactions[name] += n
		}
	}
	if n := f.stats.redactions[len(f.rules)].Load(); n > 0 {
		s.Redactions[RulePasswordArg] += n
	}
	f.stats.mu.Lock()
	for k, n := range f.stats.droppedFields {
		s.DroppedFields[k.typ+" "+k.field] = n
	}
	f.stats.mu.Unlock()
	return s
}

// cache is a bounded, sharded map from raw values to their rendering.
// When a shard is full it is emptied (the working set of identifiers and
// paths on a node is small; this only bounds memory under adversarial
// input).
type cache[K comparable, V any] struct {
	seed   maphash.Seed
	shards [16]struct {
		mu sync.Mutex
		m  map[K]V
	}
}

const cacheShardLimit = 1024

func (c *cache[K, V]) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = map[K]V{}
	}
}

func (c *cache[K, V]) shard(k K) int { return int(maphash.Comparable(c.seed, k) & 15) }

func (c *cache[K, V]) get(k K) (V, bool) {
	sh := &c.shards[c.shard(k)]
	sh.mu.Lock()
	v, ok := sh.m[k]
	sh.mu.Unlock()
	return v, ok
}

func (c *cache[K, V]) put(k K, v V) {
	sh := &c.shards[c.shard(k)]
	sh.mu.Lock()
	if len(sh.m) >= cacheShardLimit {
		clear(sh.m)
	}
	sh.m[k] = v
	sh.mu.Unlock()
}
