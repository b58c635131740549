package privacy

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Built-in redaction rules, applied in this order to values whose action
// is redact (arguments, process titles, paths), before the custom rules.
// Each match is replaced by "[redacted:<rule>]"; for password-arg,
// bearer and url-credentials only the secret part is replaced, so that
// "password=hunter2" becomes "password=[redacted:password-arg]".
//
//	pem             a PEM private key block (-----BEGIN … PRIVATE KEY----- to its END line or the end of the value)
//	ssh-key         an OpenSSH public key (ssh-ed25519 AAAA…, ssh-rsa, ecdsa-sha2-*, sk-*) with its user@host
//	                comment: it identifies its owner
//	jwt             a JSON Web Token (eyJ….….…)
//	url-credentials user:password@ in a URL
//	password-arg    the value of pass=, password=, passwd:, token=, secret=, api_key=, credentials=, … (any case,
//	                also --password=, DB_PASSWORD=, PGPASSWORD=, quoted values); "--password VALUE" when both are
//	                in one value; and the argument after a bare --password, --token, … flag in the next argv field
//	bearer          the token after "Bearer "
//	email           an e-mail address (algorithm names such as chacha20-poly1305@openssh.com are not)
//	hex-secret      a run of 32 or more hex digits with at least one letter and one digit (keys, tokens, digests)
//	base64-secret   a run of 32 or more base64/base64url characters with upper case, lower case and digits that
//	                changes character class at least once every three characters (random-looking)
const (
	RulePEM            = "pem"
	RuleSSHKey         = "ssh-key"
	RuleJWT            = "jwt"
	RuleURLCredentials = "url-credentials"
	RulePasswordArg    = "password-arg"
	RuleBearer         = "bearer"
	RuleEmail          = "email"
	RuleHexSecret      = "hex-secret"
	RuleBase64Secret   = "base64-secret"
)

// BuiltinRedactions lists the built-in rule names in the order applied.
func BuiltinRedactions() []string {
	return []string{RulePEM, RuleSSHKey, RuleJWT, RuleURLCredentials, RulePasswordArg, RuleBearer, RuleEmail, RuleHexSecret, RuleBase64Secret}
}

// Minimum run lengths of the hex-secret and base64-secret redaction
// rules (Lint reports only longer runs, 64 and 40: see Lint).
const (
	minHexSecret    = 32
	minBase64Secret = 32
)

// The built-in expressions. Compiled regexps are immutable and safe for
// concurrent use.
var (
	rePEM      = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)`)
	reSSHKey   = regexp.MustCompile(`(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(?:-cert-v01@openssh\.com)?[ \t]+AAAA[0-9A-Za-z+/]+=*(?:[ \t]+[A-Za-z0-9._-]+@[A-Za-z0-9._-]+)?`)
	reJWT      = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	reURLCreds = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://(?P<secret>[^/\s:@]*:[^/\s@]*)@`)
	rePassword = regexp.MustCompile(`(?i)(?:(?:^|[^a-z0-9])(?:pass|pwd|passphrase|secret|token|api[-_]?key|access[-_]?key|secret[-_]?key|private[-_]?key|client[-_]?secret|auth[-_]?token|credentials?)|pass(?:word|wd))\s*[=:]\s*['"]?(?P<secret>[^\s&;,'"]+)`)
	rePassFlag = regexp.MustCompile(`(?i)(?:^|\s)--?(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key|access[-_]?key|client[-_]?secret|auth[-_]?token)\s+(?P<secret>[^\s-]\S*)`)
	reBearer   = regexp.MustCompile(`(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/-]+=*)`)
	reEmail    = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
)

// DefaultExemptEmailDomains are domains whose "addresses" are algorithm
// names, not mailboxes (chacha20-poly1305@openssh.com,
// curve25519-sha256@libssh.org).
func DefaultExemptEmailDomains() []string { return []string{"openssh.com", "libssh.org"} }

// rule is one compiled redaction rule: regexps (replacing the group named
// "secret" when there is one, else the whole match) or a hand-written
// scanner.
type rule struct {
	name   string
	marker string // "[redacted:name]"
	res    []*regexp.Regexp
	groups []int                   // per regexp: index of the "secret" group, or 0
	pre    func(string) bool       // cheap necessary condition; nil = always run
	scan   func(string) [][2]int   // hand-written detector, instead of res
	keep   func(match string) bool // exempts a match
	idx    int                     // index in the filter's redaction counters
}

// newRegexRule builds a rule from regexps.
func newRegexRule(name string, pre func(string) bool, res ...*regexp.Regexp) *rule {
	r := &rule{name: name, marker: "[redacted:" + name + "]", res: res, pre: pre}
	for _, re := range res {
		r.groups = append(r.groups, max(re.SubexpIndex("secret"), 0))
	}
	return r
}

// apply runs the rule on s, returning the new value and the number of
// replacements.
func (r *rule) apply(s string) (string, int) {
	if r.pre != nil && !r.pre(s) {
		return s, 0
	}
	if r.scan != nil {
		return replaceSpans(s, r.scan(s), r.marker)
	}
	total := 0
	for i, re := range r.res {
		g := r.groups[i]
		var spans [][2]int
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			st, en := m[0], m[1]
			if g > 0 {
				st, en = m[2*g], m[2*g+1]
				if st < 0 {
					continue
				}
			}
			if r.keep != nil && r.keep(s[st:en]) {
				continue
			}
			spans = append(spans, [2]int{st, en})
		}
		if len(spans) > 0 {
			var n int
			s, n = replaceSpans(s, spans, r.marker)
			total += n
		}
	}
	return s, total
}

// replaceSpans replaces the (sorted, non-overlapping after filtering)
// spans of s with marker.
func replaceSpans(s string, spans [][2]int, marker string) (string, int) {
	var b strings.Builder
	b.Grow(len(s))
	last, n := 0, 0
	for _, sp := range spans {
		if sp[0] < last || sp[1] <= sp[0] {
			continue
		}
		b.WriteString(s[last:sp[0]])
		b.WriteString(marker)
		last = sp[1]
		n++
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), n
}

// builtinRule returns the named built-in rule.
func builtinRule(name string, exemptDomains []string) *rule {
	switch name {
	case RulePEM:
		return newRegexRule(name, func(s string) bool { return strings.Contains(s, "-----BEGIN ") }, rePEM)
	case RuleSSHKey:
		return newRegexRule(name, func(s string) bool { return strings.Contains(s, "AAAA") }, reSSHKey)
	case RuleJWT:
		return newRegexRule(name, func(s string) bool { return strings.Contains(s, "eyJ") }, reJWT)
	case RuleURLCredentials:
		return newRegexRule(name, func(s string) bool { return strings.Contains(s, "://") && strings.Contains(s, "@") }, reURLCreds)
	case RulePasswordArg:
		return newRegexRule(name, mayHoldPassword, rePassword, rePassFlag)
	case RuleBearer:
		return newRegexRule(name, func(s string) bool { return containsFold(s, "bearer") }, reBearer)
	case RuleEmail:
		r := newRegexRule(name, func(s string) bool { return strings.IndexByte(s, '@') > 0 }, reEmail)
		r.keep = func(m string) bool { return emailExempt(m, exemptDomains) }
		return r
	case RuleHexSecret:
		return &rule{name: name, marker: "[redacted:" + name + "]", scan: func(s string) [][2]int { return hexRuns(s, minHexSecret) }}
	case RuleBase64Secret:
		return &rule{name: name, marker: "[redacted:" + name + "]", scan: func(s string) [][2]int { return base64Runs(s, minBase64Secret) }}
	}
	return nil
}

// emailExempt reports whether the address's domain is exempt.
func emailExempt(addr string, domains []string) bool {
	at := strings.LastIndexByte(addr, '@')
	dom := strings.ToLower(addr[at+1:])
	for _, d := range domains {
		if dom == d || strings.HasSuffix(dom, "."+d) {
			return true
		}
	}
	return false
}

// passwordKeywords start the key words of the password-arg rule (lower
// case); the rest of the word is skipped by the pre-filter.
var passwordKeywords = [...]string{"pass", "pwd", "secret", "token", "key", "cred", "auth"}

// mayHoldPassword is the password-arg pre-filter, one pass over s: a key
// word (any case) whose identifier is followed, after optional spaces, by
// '=' or ':', or is preceded by '-' and followed by a space (a flag and
// its value). Necessary, not sufficient: the regexps decide.
func mayHoldPassword(s string) bool {
	for i := 0; i < len(s); i++ {
		c := lowerASCII(s[i])
		if c != 'p' && c != 's' && c != 't' && c != 'k' && c != 'c' && c != 'a' {
			continue
		}
		for _, w := range passwordKeywords {
			if len(s)-i < len(w) || !hasPrefixFold(s[i:], w) {
				continue
			}
			j := i + len(w)
			for j < len(s) && (isIdentChar(s[j]) && s[j] != '.') {
				j++
			}
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			if k < len(s) && (s[k] == '=' || s[k] == ':') {
				return true
			}
			if k > j && k < len(s) && i > 0 && s[i-1] == '-' {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold reports whether s starts with the lower-case ASCII word w,
// ignoring ASCII case.
func hasPrefixFold(s, w string) bool {
	for i := 0; i < len(w); i++ {
		if lowerASCII(s[i]) != w[i] {
			return false
		}
	}
	return true
}

// isPasswordFlag reports whether an argument is a bare secret flag such as
// "--password" or "-token" (its value is the next argument).
func isPasswordFlag(arg string) bool {
	if len(arg) < 4 || arg[0] != '-' || len(arg) > 20 {
		return false
	}
	a := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	switch strings.ReplaceAll(strings.ToLower(a), "_", "-") {
	case "pass", "password", "passwd", "passphrase", "secret", "token", "api-key", "apikey",
		"access-key", "client-secret", "auth-token":
		return true
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII word w,
// ignoring ASCII case.
func containsFold(s, w string) bool {
	n := len(w)
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != w[0] {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == w[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hexRuns returns the runs of at least min hex digits holding both a
// letter and a digit.
func hexRuns(s string, min int) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !isHex(s[i]) {
			i++
			continue
		}
		j, letter, digit := i, false, false
		for j < len(s) && isHex(s[j]) {
			if s[j] <= '9' {
				digit = true
			} else {
				letter = true
			}
			j++
		}
		if j-i >= min && letter && digit {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
}

// charClass: 1 upper, 2 lower, 3 digit, 0 other.
func charClass(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return 1
	case c >= 'a' && c <= 'z':
		return 2
	case c >= '0' && c <= '9':
		return 3
	}
	return 0
}

// base64Runs returns the runs of at least min base64 characters (plus
// '=' padding) that look random: upper case, lower case and digits
// present, and the class of consecutive letters/digits (symbols ignored)
// changing at least once per three characters. Paths and identifiers
// (/usr/lib/x86_64-linux-gnu/libQt5Core) change class far less often.
func base64Runs(s string, min int) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !isB64(s[i]) {
			i++
			continue
		}
		j := i
		var seen [4]bool
		changes, prev := 0, -1
		for j < len(s) && isB64(s[j]) {
			c := charClass(s[j])
			seen[c] = true
			if c != 0 {
				if prev >= 0 && c != prev {
					changes++
				}
				prev = c
			}
			j++
		}
		end := j
		for end < len(s) && s[end] == '=' && end-j < 2 {
			end++
		}
		n := j - i
		if n >= min && seen[1] && seen[2] && seen[3] && changes*3 >= n {
			out = append(out, [2]int{i, end})
		}
		i = end
		if i == j && j < len(s) && s[j] == '=' {
			i++
		}
	}
	return out
}

// identSegment is an identifying path segment: a user name or uid inside a
// path such as /home/alice or /run/user/1000.
type identSegment struct {
	start, end int
	kind       Kind
}

// segEnd returns the end of the path segment starting at j.
func segEnd(s string, j int) int {
	for j < len(s) {
		switch s[j] {
		case '/', ' ', '\t', '\n', '\r', '"', '\'', ',', ';', ':', ')', ']', '}', '=', 0:
			return j
		}
		j++
	}
	return j
}

// identPrefixes are the directories whose next segment names a user (or,
// for /run/user/, a uid).
var identPrefixes = [...]struct {
	prefix string
	kind   Kind
}{
	{"/home/", KindUser},
	{"/run/user/", KindUID},
	{"/var/mail/", KindUser},
	{"/var/spool/mail/", KindUser},
	{"/var/spool/cron/crontabs/", KindUser},
	{"/var/spool/cron/", KindUser},
}

// isPathStart reports whether position i of s can start a path: the start
// of the value or after a separator.
func isPathStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	switch s[i-1] {
	case ' ', '\t', '\n', '\r', '"', '\'', '=', ':', ',', '(', '[', '{', 0, '>', '<', '|', ';', '@', '~':
		return true
	}
	return false
}

// identSegments finds the identifying path segments in s: the name after
// /home/ (anywhere, so /var/home/x and /mnt/home/x too), "root" in a path
// starting with /root, the uid after /run/user/, the name after
// /var/mail/, /var/spool/mail/ and the cron spool directories. Segments
// that already are pseudonyms are skipped.
func identSegments(s string) []identSegment {
	if !strings.Contains(s, "/home/") && !strings.Contains(s, "/root") && !strings.Contains(s, "/run/user/") && !strings.Contains(s, "/var/") {
		return nil
	}
	var out []identSegment
	for i := 0; i < len(s); i++ {
		if s[i] != '/' {
			continue
		}
		rest := s[i:]
		if strings.HasPrefix(rest, "/root") && isPathStart(s, i) && (len(rest) == 5 || segEnd(rest, 5) == 5) {
			out = append(out, identSegment{i + 1, i + 5, KindUser})
			i += 4
			continue
		}
		for _, p := range identPrefixes {
			if !strings.HasPrefix(rest, p.prefix) {
				continue
			}
			j := i + len(p.prefix)
			if strings.HasPrefix(s[j:], PseudonymPrefix) {
				break
			}
			e := segEnd(s, j)
			seg := s[j:e]
			if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(s[j:], "[redacted:") ||
				p.prefix == "/var/spool/cron/" && seg == "crontabs" ||
				p.kind == KindUID && strings.Trim(seg, "0123456789") != "" {
				break
			}
			out = append(out, identSegment{j, e, p.kind})
			i = e - 1
			break
		}
	}
	return out
}

// scrub protects free text (an argument, a process title, a path): the
// redaction rules, then IP addresses anonymised in place (as in
// anonymise fields), then known identifiers pseudonymised, then, if
// enabled, user names and uids in paths generalised.
func (f *Filter) scrub(s string, t *tally) string {
	if len(s) > maxCachedValue {
		return f.scrubUncached(s, t)
	}
	if r, ok := f.scrubCache.get(s); ok {
		t.merge(&r.tally)
		return r.out
	}
	var local tally
	out := f.scrubUncached(s, &local)
	f.scrubCache.put(s, &scrubbed{out: out, tally: local})
	t.merge(&local)
	return out
}

// scrubbed is a cached scrub result with what it counted.
type scrubbed struct {
	out   string
	tally tally
}

func (f *Filter) scrubUncached(s string, t *tally) string {
	for _, r := range f.rules {
		out, n := r.apply(s)
		if n > 0 {
			t.redacted(r.idx, n, len(f.rules)+1)
			s = out
		}
	}
	s = f.anonTextAddrs(s, t)
	if len(f.known) > 0 {
		s = f.replaceKnown(s, t)
	}
	if f.generaliseHomes {
		s = f.generalise(s, t)
	}
	return s
}

// mayHoldAddr is a cheap necessary condition for an address in s: a
// digit and a '.' or ':'.
func mayHoldAddr(s string) bool {
	return strings.ContainsAny(s, "0123456789") && strings.ContainsAny(s, ".:")
}

// anonTextAddrs anonymises the IP addresses inside free text, found with
// Lint's detectors (so that whatever Lint would report is replaced). A
// replacement can end a run of hex digits and colons that was not an
// address before ("0::A0.0.0.1" → "0::Apan:…"), so passes repeat until
// nothing changes; what is left after a few passes is redacted.
func (f *Filter) anonTextAddrs(s string, t *tally) string {
	for range 4 {
		out := f.anonTextAddrsOnce(s, t)
		if out == s {
			return s
		}
		s = out
	}
	if out := f.anonTextAddrsOnce(s, t); out != s {
		return "[redacted:ip]"
	}
	return s
}

func (f *Filter) anonTextAddrsOnce(s string, t *tally) string {
	if !mayHoldAddr(s) {
		return s
	}
	spans := ipv6Runs(s)
	for _, v4 := range ipv4Runs(s) {
		if !inSpans(spans, v4[0], v4[1]) {
			spans = append(spans, v4)
		}
	}
	if len(spans) == 0 {
		return s
	}
	marks := markerSpans(s)
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if inSpans(marks, sp[0], sp[1]) {
			continue
		}
		a, err := netip.ParseAddr(s[sp[0]:sp[1]])
		if err != nil {
			continue
		}
		b.WriteString(s[last:sp[0]])
		b.WriteString(f.anonAddr(a))
		last = sp[1]
		t.anonymised++
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// knownID is an identifier the filter pseudonymises inside free text.
type knownID struct {
	kind  Kind
	value string
}

func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// replaceKnown pseudonymises known identifiers that appear as whole
// words in s: a maximal run of letters, digits, '_', '.', '-' that is a
// known identifier (ignoring case), or such a run's parts between '.'
// and '-' (so "alice.txt" and "backup-alice" reveal nothing). Markers
// already in s are left alone.
func (f *Filter) replaceKnown(s string, t *tally) string {
	var marks [][2]int
	if strings.Contains(s, ":") || strings.Contains(s, "[redacted:") {
		marks = markerSpans(s)
	}
	var b strings.Builder
	last := 0
	replace := func(st, en int, k knownID) {
		if inSpans(marks, st, en) {
			return
		}
		b.WriteString(s[last:st])
		b.WriteString(f.pseudonym(k.kind, k.value))
		last = en
		t.generalised++
	}
	for i := 0; i < len(s); {
		if !isIdentChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		if k, ok := f.known[asciiLower(s[i:j])]; ok {
			replace(i, j, k)
		} else if strings.ContainsAny(s[i:j], ".-") {
			for p := i; p < j; {
				q := p
				for q < j && s[q] != '.' && s[q] != '-' {
					q++
				}
				if k, ok := f.known[asciiLower(s[p:q])]; ok && q > p {
					replace(p, q, k)
				}
				p = q + 1
			}
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// generalise replaces identifying path segments with pseudonyms:
// /home/alice/x → /home/ps:k1:user:…/x, /root/.ssh → /ps:k1:user:…/.ssh
// (the segment "root" is root's name), /run/user/1000 → /run/user/ps:k1:uid:….
func (f *Filter) generalise(s string, t *tally) string {
	segs := identSegments(s)
	if len(segs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sg := range segs {
		b.WriteString(s[last:sg.start])
		b.WriteString(f.pseudonym(sg.kind, s[sg.start:sg.end]))
		last = sg.end
	}
	b.WriteString(s[last:])
	t.generalised += uint64(len(segs))
	return b.String()
}

// checkRuleName validates a custom redaction rule name.
func checkRuleName(name string) error {
	if name == "" || len(name) > 32 {
		return fmt.Errorf("redaction rule name %q: want 1-32 characters from a-z, 0-9 and '-'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("redaction rule name %q: want 1-32 characters from a-z, 0-9 and '-'", name)
		}
	}
	return nil
}
