package privacy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Class is the kind of raw value a lint finding is.
type Class string

// The lint classes.
const (
	ClassIPv4          Class = "ipv4"           // a dotted-quad address not inside a pan:/trunc: marker (0.0.0.0 excepted)
	ClassIPv6          Class = "ipv6"           // an IPv6 address likewise (:: excepted)
	ClassEmail         Class = "email"          // an e-mail address (exempt domains aside)
	ClassHomeDir       Class = "home-dir"       // /home/<name> or /root not generalised
	ClassUserPath      Class = "user-path"      // /run/user/<uid>, /var/mail/<name>, cron spools
	ClassPrivateKey    Class = "private-key"    // a PEM private key block
	ClassSSHKey        Class = "ssh-key"        // an OpenSSH public key
	ClassJWT           Class = "jwt"            // a JSON Web Token
	ClassHexSecret     Class = "hex-secret"     // 64+ hex digits outside digest fields
	ClassBase64Secret  Class = "base64-secret"  // 40+ random-looking base64 characters outside digest fields
	ClassListed        Class = "listed-value"   // one of LintOptions.Values
	ClassRawIdentifier Class = "raw-identifier" // an identifier field (uid, acct, hostname…) holding a raw value
)

// Finding is one raw-looking value. Excerpt shows only the first
// characters and the length: lint output must not leak what it finds.
type Finding struct {
	Line    int    // 1-based line number
	Path    string // JSON path ("fields.acct", "a[2].b"), or the key of key=value text, or ""
	Offset  int    // byte offset of the match in the JSON string value, or in the text line
	Class   Class
	Excerpt string
}

// String formats the finding as "line N: path: class excerpt".
func (f Finding) String() string {
	p := f.Path
	if p == "" {
		p = "-"
	}
	return fmt.Sprintf("line %d: %s: %s %s", f.Line, p, f.Class, f.Excerpt)
}

// LintOptions configures Lint.
type LintOptions struct {
	// Values are raw identifiers that must not appear (the node's real
	// user and host names, the scenario's addresses…). They match
	// ignoring ASCII case, as whole words: a value that starts (ends)
	// with a letter, digit or '_' must not be preceded (followed) by
	// one. Very short or common values (numeric ids, "root") match
	// legitimate text too; numeric ids are better caught by
	// IdentifierFields.
	Values []string
	// IdentifierFields are field names (compared ignoring case) whose
	// values must be pseudonyms, anonymised addresses, redaction markers
	// or unset values; nil means DefaultIdentifierFields. A field named
	// saddr holding a hex sockaddr with a (non-unspecified) address is
	// reported as ipv4/ipv6.
	IdentifierFields []string
	// DigestFields are field names (ignoring case) whose values may hold
	// long hex and base64 strings (digests, signatures): hex-secret and
	// base64-secret are not reported there. nil means
	// DefaultDigestFields.
	DigestFields []string
	// IgnoreFields are field names (ignoring case) not checked at all.
	IgnoreFields []string
	// UnsetValues are accepted in identifier fields; nil means
	// DefaultUnsetValues.
	UnsetValues []string
	// ExemptEmailDomains; nil means DefaultExemptEmailDomains.
	ExemptEmailDomains []string
	// MaxFindings stops the scan (with ErrTooManyFindings) after that
	// many findings; 0 means 10000.
	MaxFindings int
	// MaxLineBytes is the longest line accepted; 0 means 16 MiB. A
	// longer line is an error: what cannot be checked fails the check.
	MaxLineBytes int
}

// DefaultIdentifierFields are audit's identifier fields.
func DefaultIdentifierFields() []string {
	return []string{"uid", "auid", "euid", "suid", "fsuid", "ouid", "oauid", "old-auid", "sauid",
		"gid", "egid", "sgid", "fsgid", "ogid", "acct", "hostname", "addr", "laddr", "node",
		"user", "username", "principal", "daddr", "faddr"}
}

// DefaultDigestFields are field names that legitimately hold digests.
func DefaultDigestFields() []string {
	return []string{"sha256", "sha512", "sha1", "md5", "digest", "hash", "checksum", "root_hash",
		"roothash", "root", "sig", "signature", "fingerprint", "tree_hash", "record_hash"}
}

// ErrTooManyFindings reports that Lint stopped at LintOptions.MaxFindings.
var ErrTooManyFindings = errors.New("privacy: lint stopped after too many findings")

// Lint scans r, line by line, for values that look like raw identifiers
// or secrets and returns what it finds; a privacy-filtered ledger must
// produce no finding. Lines that are JSON (an object or array) are
// walked value by value, with paths and field names; other lines are
// scanned as text, with key=value pairs recognised. Heuristics:
//
//   - addresses: maximal runs of digits and dots forming a valid dotted
//     quad (so 1.2.3.4.5 and versions with more parts do not count, but
//     a four-part version number does); IPv6: maximal runs of hex digits,
//     ':' and '.' with at least two colons and a digit that parse as an
//     address and are not preceded by a letter or '_' (so std::map or
//     MAC addresses and fingerprints with more than 8 groups do not
//     count). Addresses inside "pan:<id>:…" and "trunc:…" markers are
//     anonymised and skipped, as are 0.0.0.0 and ::;
//   - e-mail: local@domain.tld, except ExemptEmailDomains;
//   - paths: /home/<name> (also /var/home/…), /root at the start of a
//     path, /run/user/<uid>, /var/mail/<name>, /var/spool/mail/<name>,
//     /var/spool/cron[/crontabs]/<name>, unless the segment is a pseudonym;
//   - key material: PEM private key headers, OpenSSH public keys, JWTs,
//     64+ hex digits with a letter and a digit, 40+ base64 characters
//     with upper case, lower case and digits changing class at least once
//     per three characters — the last two not in DigestFields (sha256
//     digests are legitimate in logs);
//   - Values, as whole words, outside pseudonyms and markers;
//   - IdentifierFields holding anything but a pseudonym, marker or unset
//     value (this is what catches a raw uid=1000).
func Lint(r io.Reader, opts LintOptions) ([]Finding, error) {
	l := NewLinter(opts)
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Finding
	for line := 1; ; line++ {
		b, err := readLine(br, l.maxLine)
		if len(b) > 0 {
			out = append(out, l.Check(line, b)...)
			if len(out) >= l.maxFindings {
				return out[:l.maxFindings], ErrTooManyFindings
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("privacy: lint: line %d: %w", line, err)
		}
	}
}

// readLine reads one line without its newline, failing if it is longer
// than max.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max+1 {
			return nil, fmt.Errorf("longer than %d bytes: it cannot be checked", max)
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, frag...)
			continue
		}
		if buf != nil {
			buf = append(buf, frag...)
		} else {
			buf = frag
		}
		buf = bytes.TrimSuffix(buf, []byte{'\n'})
		return buf, err
	}
}

// Linter is a compiled LintOptions, for checking records one at a time
// (the ledger's entries). It is safe for concurrent use.
type Linter struct {
	values       []string // lower case
	idFields     map[string]bool
	digestFields map[string]bool
	ignore       map[string]bool
	unset        map[string]bool
	emailDomains []string
	maxFindings  int
	maxLine      int
}

// NewLinter compiles opts.
func NewLinter(opts LintOptions) *Linter {
	set := func(list []string, def func() []string) map[string]bool {
		if list == nil && def != nil {
			list = def()
		}
		m := map[string]bool{}
		for _, s := range list {
			m[strings.ToLower(s)] = true
		}
		return m
	}
	l := &Linter{
		idFields:     set(opts.IdentifierFields, DefaultIdentifierFields),
		digestFields: set(opts.DigestFields, DefaultDigestFields),
		ignore:       set(opts.IgnoreFields, nil),
		emailDomains: opts.ExemptEmailDomains,
		maxFindings:  opts.MaxFindings,
		maxLine:      opts.MaxLineBytes,
	}
	unset := opts.UnsetValues
	if unset == nil {
		unset = DefaultUnsetValues()
	}
	l.unset = map[string]bool{}
	for _, v := range unset {
		l.unset[v] = true
	}
	if l.emailDomains == nil {
		l.emailDomains = DefaultExemptEmailDomains()
	}
	if l.maxFindings <= 0 {
		l.maxFindings = 10000
	}
	if l.maxLine <= 0 {
		l.maxLine = 16 << 20
	}
	for _, v := range opts.Values {
		if v = asciiLower(strings.TrimSpace(v)); v != "" && !slices.Contains(l.values, v) {
			l.values = append(l.values, v)
		}
	}
	return l
}

// Check scans one record (a line of JSON or text) and returns its
// findings, numbered line.
func (l *Linter) Check(line int, data []byte) []Finding {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil
	}
	var out []Finding
	emit := func(path string, off int, c Class, match string) {
		out = append(out, Finding{Line: line, Path: path, Offset: off, Class: c, Excerpt: mask(match)})
	}
	if t[0] == '{' || t[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil && dec.InputOffset() == int64(len(t)) {
			l.walk(v, "", "", emit)
			return out
		}
	}
	s := string(data)
	l.checkTextPairs(s, emit)
	l.scan(s, func(off int) string { return keyAt(s, off) }, func(off int, c Class, m string) {
		emit(keyAt(s, off), off, c, m)
	})
	return out
}

// walk visits a decoded JSON value.
func (l *Linter) walk(v any, path, field string, emit func(string, int, Class, string)) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if l.ignore[strings.ToLower(k)] {
				continue
			}
			l.scan(k, func(int) string { return "" }, func(off int, c Class, m string) { emit(p+"(key)", off, c, m) })
			l.walk(x[k], p, k, emit)
		}
	case []any:
		for i, e := range x {
			l.walk(e, path+"["+strconv.Itoa(i)+"]", field, emit)
		}
	case string:
		if l.ignore[strings.ToLower(field)] {
			return
		}
		l.checkField(field, x, func(off int, c Class, m string) { emit(path, off, c, m) })
		l.scan(x, func(int) string { return field }, func(off int, c Class, m string) { emit(path, off, c, m) })
	case json.Number:
		if l.ignore[strings.ToLower(field)] {
			return
		}
		s := x.String()
		l.checkField(field, s, func(off int, c Class, m string) { emit(path, off, c, m) })
		l.scanListed(s, nil, func(off int, c Class, m string) { emit(path, off, c, m) })
	}
}

// acceptedIdentifier reports whether an identifier field's value is not
// raw: unset, a pseudonym, an anonymised address or a redaction marker.
func (l *Linter) acceptedIdentifier(v string) bool {
	if l.unset[v] {
		return true
	}
	if a, err := netip.ParseAddr(v); err == nil && a.IsUnspecified() {
		return true // 0.0.0.0 and :: identify nobody
	}
	if strings.HasPrefix(v, PseudonymPrefix) {
		return isPseudonym(v)
	}
	return strings.HasPrefix(v, PanPrefix) || strings.HasPrefix(v, TruncPrefix) || strings.HasPrefix(v, "[redacted:")
}

// checkField applies the identifier-field checks.
func (l *Linter) checkField(field, v string, emit func(int, Class, string)) {
	lf := strings.ToLower(field)
	if lf == "saddr" {
		if sa, err := decodeSockaddr(v); err == nil && sa.addr.IsValid() && !sa.addr.IsUnspecified() {
			c := ClassIPv4
			if sa.family == afInet6 {
				c = ClassIPv6
			}
			emit(0, c, sa.addr.String())
		}
		return
	}
	if l.idFields[lf] && !l.acceptedIdentifier(v) {
		emit(0, ClassRawIdentifier, v)
	}
}

// checkTextPairs applies the identifier-field checks to the key=value
// pairs of a text line (audit's format: bare, "double-quoted" values; the
// single-quoted msg='…' of user-space records is descended into).
func (l *Linter) checkTextPairs(s string, emit func(string, int, Class, string)) {
	i := 0
	for i < len(s) {
		for i < len(s) && (isSpace(s[i]) || s[i] == '\'' || s[i] == 0x1d) {
			i++
		}
		ks := i
		for i < len(s) && isKeyChar(s[i]) {
			i++
		}
		if i == ks || i >= len(s) || s[i] != '=' {
			for i < len(s) && !isSpace(s[i]) && s[i] != 0x1d {
				i++
			}
			continue
		}
		key := s[ks:i]
		i++
		var val string
		vs := i
		switch {
		case i < len(s) && s[i] == '\'':
			i++ // descend into msg='…'
			continue
		case i < len(s) && s[i] == '"':
			e := strings.IndexByte(s[i+1:], '"')
			if e < 0 {
				e = len(s) - i - 1
			}
			vs = i + 1
			val = s[vs : vs+e]
			i = vs + e + 1
		default:
			for i < len(s) && !isSpace(s[i]) && s[i] != '\'' && s[i] != 0x1d {
				i++
			}
			val = s[vs:i]
		}
		if l.ignore[strings.ToLower(key)] {
			continue
		}
		l.checkField(key, val, func(off int, c Class, m string) { emit(key, vs+off, c, m) })
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '[' || c == ']'
}

// keyAt returns the key of the key=value token containing offset off of
// a text line, or "".
func keyAt(s string, off int) string {
	i := off
	for i > 0 && !isSpace(s[i-1]) && s[i-1] != 0x1d {
		i--
	}
	tok := s[i:off]
	tok = strings.TrimLeft(tok, `'"`)
	if eq := strings.IndexByte(tok, '='); eq > 0 {
		return strings.TrimLeft(tok[:eq], `'"`)
	}
	return ""
}

// span is a match [start, end) with its class.
type span struct {
	start, end int
	class      Class
}

// markerSpans finds the spans of s that are already protected:
// pseudonyms, pan:/trunc: addresses and redaction markers.
func markerSpans(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], PseudonymPrefix):
			if e := pseudonymEnd(s, i); e > 0 {
				out = append(out, [2]int{i, e})
				i = e - 1
			}
		case strings.HasPrefix(s[i:], PanPrefix):
			j := i + len(PanPrefix)
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9' || s[j] == '-') {
				j++
			}
			if j < len(s) && s[j] == ':' {
				j++
				for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
					j++
				}
				out = append(out, [2]int{i, j})
				i = j - 1
			}
		case strings.HasPrefix(s[i:], TruncPrefix):
			j := i + len(TruncPrefix)
			for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.' || s[j] == '/') {
				j++
			}
			out = append(out, [2]int{i, j})
			i = j - 1
		case strings.HasPrefix(s[i:], "[redacted:"):
			if e := strings.IndexByte(s[i:], ']'); e > 0 {
				out = append(out, [2]int{i, i + e + 1})
				i += e
			}
		}
	}
	return out
}

// pseudonymEnd returns the end of a well-formed pseudonym starting at i,
// or 0.
func pseudonymEnd(s string, i int) int {
	j := i + len(PseudonymPrefix)
	k := strings.IndexByte(s[j:], ':')
	if k < 1 || k > 16 {
		return 0
	}
	j += k + 1
	k = strings.IndexByte(s[j:], ':')
	if k < 1 || k > 16 {
		return 0
	}
	j += k + 1
	if j+macTextLen > len(s) {
		return 0
	}
	end := j + macTextLen
	if !isPseudonym(s[i:end]) {
		return 0
	}
	return end
}

func inSpans(spans [][2]int, st, en int) bool {
	for _, sp := range spans {
		if st < sp[1] && en > sp[0] {
			return true
		}
	}
	return false
}

// scan runs the class detectors on s. fieldAt gives the field name at an
// offset (for digest exemptions).
func (l *Linter) scan(s string, fieldAt func(int) string, emit func(int, Class, string)) {
	marks := markerSpans(s)
	var found []span
	add := func(st, en int, c Class) {
		if inSpans(marks, st, en) {
			return
		}
		for _, f := range found {
			if st < f.end && en > f.start {
				return // already reported as something more specific
			}
		}
		found = append(found, span{st, en, c})
	}
	digest := func(off int) bool { return l.digestFields[strings.ToLower(fieldAt(off))] }

	// Key material first: it is the most specific.
	if strings.Contains(s, "PRIVATE KEY") {
		for _, m := range rePEM.FindAllStringIndex(s, -1) {
			add(m[0], m[1], ClassPrivateKey)
		}
	}
	if strings.Contains(s, "AAAA") {
		for _, m := range reSSHKey.FindAllStringIndex(s, -1) {
			add(m[0], m[1], ClassSSHKey)
		}
	}
	if strings.Contains(s, "eyJ") {
		for _, m := range reJWT.FindAllStringIndex(s, -1) {
			add(m[0], m[1], ClassJWT)
		}
	}
	for _, m := range hexRuns(s, 64) {
		if !digest(m[0]) {
			add(m[0], m[1], ClassHexSecret)
		}
	}
	for _, m := range base64Runs(s, 40) {
		if !digest(m[0]) {
			add(m[0], m[1], ClassBase64Secret)
		}
	}
	for _, m := range ipv6Runs(s) {
		add(m[0], m[1], ClassIPv6)
	}
	for _, m := range ipv4Runs(s) {
		add(m[0], m[1], ClassIPv4)
	}
	if strings.IndexByte(s, '@') > 0 {
		for _, m := range reEmail.FindAllStringIndex(s, -1) {
			if !emailExempt(s[m[0]:m[1]], l.emailDomains) {
				add(m[0], m[1], ClassEmail)
			}
		}
	}
	for _, sg := range identSegments(s) {
		c := ClassUserPath
		if sg.kind == KindUser && (sg.start >= 6 && s[sg.start-6:sg.start] == "/home/" || s[sg.start:sg.end] == "root" && sg.start >= 1 && s[sg.start-1] == '/') {
			c = ClassHomeDir
		}
		add(sg.start, sg.end, c)
	}
	l.scanListed(s, marks, func(off int, c Class, m string) { add(off, off+len(m), c) })
	slices.SortFunc(found, func(a, b span) int { return a.start - b.start })
	for _, f := range found {
		emit(f.start, f.class, s[f.start:f.end])
	}
}

// scanListed reports occurrences of LintOptions.Values in s, as whole
// words, outside marks.
func (l *Linter) scanListed(s string, marks [][2]int, emit func(int, Class, string)) {
	if len(l.values) == 0 {
		return
	}
	ls := asciiLower(s)
	for _, v := range l.values {
		for from := 0; ; {
			i := strings.Index(ls[from:], v)
			if i < 0 {
				break
			}
			st := from + i
			en := st + len(v)
			from = st + 1
			if isWordChar(v[0]) && st > 0 && isWordChar(ls[st-1]) {
				continue
			}
			if isWordChar(v[len(v)-1]) && en < len(ls) && isWordChar(ls[en]) {
				continue
			}
			if inSpans(marks, st, en) {
				continue
			}
			emit(st, ClassListed, s[st:en])
		}
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// ipv4Runs finds dotted quads: maximal runs of digits and dots (trailing
// dots trimmed) that parse as IPv4, 0.0.0.0 excepted.
func ipv4Runs(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !(s[i] >= '0' && s[i] <= '9') {
			i++
			continue
		}
		j := i
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		e := j
		for e > i && s[e-1] == '.' {
			e--
		}
		if strings.Count(s[i:e], ".") == 3 {
			if a, err := netip.ParseAddr(s[i:e]); err == nil && a.Is4() && !a.IsUnspecified() {
				out = append(out, [2]int{i, e})
			}
		}
		i = j
	}
	return out
}

// ipv6Runs finds IPv6 addresses: maximal runs of hex digits, ':' and '.'
// with at least two colons and a digit, not preceded by a letter or '_',
// that parse as an address (trailing '.' or a single trailing ':'
// trimmed), :: excepted. If a run fails, its part after the first colon
// is tried (so "ip6:2001:db8::1" is found).
func ipv6Runs(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !(isHex(s[i]) || s[i] == ':') {
			i++
			continue
		}
		j := i
		for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
			j++
		}
		if st, en, ok := ipv6At(s, i, j); ok {
			out = append(out, [2]int{st, en})
		} else if c := strings.IndexByte(s[i:j], ':'); c >= 0 {
			if st, en, ok := ipv6At(s, i+c+1, j); ok {
				out = append(out, [2]int{st, en})
			}
		}
		i = j
	}
	return out
}

// ipv6At checks the candidate s[i:j] (see ipv6Runs).
func ipv6At(s string, i, j int) (int, int, bool) {
	if i >= j || strings.Count(s[i:j], ":") < 2 || !strings.ContainsAny(s[i:j], "0123456789") {
		return 0, 0, false
	}
	if i > 0 && isWordChar(s[i-1]) && !isHex(s[i-1]) {
		return 0, 0, false
	}
	e := j
	for e > i && s[e-1] == '.' {
		e--
	}
	cand := s[i:e]
	if strings.HasSuffix(cand, ":") && !strings.HasSuffix(cand, "::") {
		cand = cand[:len(cand)-1]
	}
	a, err := netip.ParseAddr(cand)
	if err != nil || !a.Is6() || a.IsUnspecified() {
		return 0, 0, false
	}
	return i, i + len(cand), true
}

// asciiLower lowers ASCII letters only, so that byte offsets are kept.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// mask shows the first characters (at most 3) of a match and its
// length in bytes.
func mask(m string) string {
	n := len(m)
	show := 0
	switch {
	case n >= 12:
		show = 3
	case n >= 6:
		show = 2
	case n >= 3:
		show = 1
	}
	end := 0
	for i := 0; i < show && end < n; i++ {
		_, size := utf8.DecodeRuneInString(m[end:])
		end += size
	}
	return fmt.Sprintf("%q…(%d bytes)", m[:end], n)
}
