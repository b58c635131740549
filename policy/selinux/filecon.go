package selinux

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// fcEntry is one file context: a regular expression over absolute paths
// (anchored by the tools), a file type and the type files get.
type fcEntry struct {
	re       string
	fileType string // CIL filecon type: any, file, dir, char, block, socket
	typ      string
	// origin says what the entry comes from, for comments and warnings.
	origin string
	// prio orders duplicates: the entry with the lower prio is kept.
	prio int
}

// Entry priorities for duplicate regular expressions.
const (
	prioExec = iota
	prioSocket
	prioResource
	prioSkeleton
)

// fcFileTypeFlag is how file_contexts spells a CIL filecon file type.
var fcFileTypeFlag = map[string]string{
	"any": "", "file": "--", "dir": "-d", "char": "-c", "block": "-b", "socket": "-s",
	"pipe": "-p", "symlink": "-l",
}

// regexMeta are the characters escaped in literal path bytes.
const regexMeta = `.^$?*+|[](){}\`

// checkPathChars rejects paths that file_contexts cannot carry: its lines
// are whitespace-separated and CIL strings cannot hold quotes.
func checkPathChars(p string) error {
	for _, r := range p {
		if r <= ' ' || r == '"' || r == 0x7f {
			return fmt.Errorf("path %q has a character file_contexts cannot express (whitespace, control character or quote)", p)
		}
	}
	return nil
}

// literalRegex escapes s so that it matches itself.
func literalRegex(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(regexMeta, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// segmentRegex translates one glob segment without "**".
func segmentRegex(seg string) string {
	var b strings.Builder
	for _, r := range seg {
		switch r {
		case '*':
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		default:
			if strings.ContainsRune(regexMeta, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// pathRegex translates segments (no trailing "**") to a regular
// expression: "*" is "[^/]*", "?" is "[^/]", a "**" segment is "(.*/)?".
func pathRegex(segs []string) string {
	var b strings.Builder
	skipSlash := false
	for _, s := range segs {
		if s == "**" {
			if !skipSlash {
				b.WriteByte('/')
			}
			b.WriteString("(.*/)?")
			skipSlash = true
			continue
		}
		if !skipSlash {
			b.WriteByte('/')
		}
		skipSlash = false
		b.WriteString(segmentRegex(s))
	}
	return b.String()
}

// globRegexes translates a policy glob to file-context regular
// expressions. A trailing "**" (the whole tree, including its root) with a
// literal root becomes two entries, the exact root and "root/.*", so that
// the literal stem secilc sorts by equals the policy's literal prefix (see
// cilLess). exact reports which entries have no wildcard.
func globRegexes(glob string) (res []string, exact []bool) {
	if glob == "/" {
		return []string{"/"}, []bool{true}
	}
	segs := strings.Split(strings.TrimPrefix(glob, "/"), "/")
	n := len(segs)
	for n > 0 && segs[n-1] == "**" && n > 1 && segs[n-2] == "**" {
		n-- // "/a/**/**" is "/a/**"
	}
	segs = segs[:n]
	if segs[n-1] != "**" {
		re := pathRegex(segs)
		return []string{re}, []bool{!hasWildcard(glob)}
	}
	head := segs[:n-1]
	headLiteral := !slices.ContainsFunc(head, func(s string) bool { return s == "**" || hasWildcard(s) })
	if !headLiteral {
		return []string{pathRegex(head) + "(/.*)?"}, []bool{false}
	}
	root := pathRegex(head)
	if root == "" {
		return []string{"/", "/.*"}, []bool{true, false}
	}
	return []string{root, root + "/.*"}, []bool{true, false}
}

// fcKey is secilc's sort key for a filecon (libsepol cil_post.c,
// cil_post_fc_fill_data): whether the expression has a meta character,
// the length of the literal stem before the first one, and the length of
// the string, escapes counting as one.
type fcKey struct {
	meta         bool
	stem, strLen int
}

func fillKey(path string) fcKey {
	var k fcKey
	for c := 0; c < len(path); c++ {
		switch path[c] {
		case '.', '^', '$', '?', '*', '+', '|', '[', '(', '{':
			k.meta = true
		case '\\':
			c++
			if c == len(path) {
				if !k.meta {
					k.stem++
				}
				k.strLen++
				return k
			}
			if !k.meta {
				k.stem++
			}
		default:
			if !k.meta {
				k.stem++
			}
		}
		k.strLen++
	}
	return k
}

// cilFileTypeOrder is the order of CIL's enum cil_filecon_types, the
// tie-breaker after the lengths.
var cilFileTypeOrder = map[string]int{
	"any": 0, "file": 1, "dir": 2, "char": 3, "block": 4, "socket": 5, "pipe": 6, "symlink": 7,
}

// cilCompare orders two entries as secilc does when it writes
// file_contexts; later entries take precedence (libselinux uses the last
// match, exact paths after all expressions).
func cilCompare(a, b *fcEntry) int {
	ka, kb := fillKey(a.re), fillKey(b.re)
	switch {
	case ka.meta && !kb.meta:
		return -1
	case kb.meta && !ka.meta:
		return 1
	}
	return cmp.Or(cmp.Compare(ka.stem, kb.stem), cmp.Compare(ka.strLen, kb.strLen),
		cmp.Compare(cilFileTypeOrder[a.fileType], cilFileTypeOrder[b.fileType]),
		strings.Compare(a.re, b.re))
}

// fcIndex finds the entry that governs a path, as libselinux would.
type fcIndex struct {
	entries []*fcEntry // sorted by cilCompare
	byStem  map[string][]int
	res     []*regexp.Regexp
}

func newFCIndex(sorted []*fcEntry) *fcIndex {
	x := &fcIndex{entries: sorted, byStem: make(map[string][]int), res: make([]*regexp.Regexp, len(sorted))}
	for i, e := range sorted {
		x.res[i] = regexp.MustCompile("^(?:" + e.re + ")$")
		stem := unescapedStem(e.re)
		x.byStem[stem] = append(x.byStem[stem], i)
	}
	return x
}

// unescapedStem returns the literal bytes before the first meta character.
func unescapedStem(re string) string {
	var b strings.Builder
	for c := 0; c < len(re); c++ {
		switch re[c] {
		case '.', '^', '$', '?', '*', '+', '|', '[', '(', '{':
			return b.String()
		case '\\':
			c++
			if c < len(re) {
				b.WriteByte(re[c])
			}
		default:
			b.WriteByte(re[c])
		}
	}
	return b.String()
}

// lookup returns the last entry (in secilc's order) matching path, or nil.
func (x *fcIndex) lookup(path string) *fcEntry {
	best := -1
	for l := 0; l <= len(path); l++ {
		for _, i := range x.byStem[path[:l]] {
			if i > best && x.res[i].MatchString(path) {
				best = i
			}
		}
	}
	if best < 0 {
		return nil
	}
	return x.entries[best]
}

// witnesses returns a few concrete paths a glob matches: wildcards
// replaced by short names, "**" by zero, one and two segments.
func witnesses(glob string) []string {
	out := []string{""}
	segs := strings.Split(strings.TrimPrefix(glob, "/"), "/")
	if glob == "/" {
		return []string{"/"}
	}
	for _, s := range segs {
		var next []string
		for _, pfx := range out {
			if s == "**" {
				next = append(next, pfx, pfx+"/w", pfx+"/w/v")
				continue
			}
			inst := strings.NewReplacer("*", "w", "?", "q").Replace(s)
			next = append(next, pfx+"/"+inst)
			if short := strings.ReplaceAll(strings.ReplaceAll(s, "?", "q"), "*", ""); short != "" && short != inst {
				next = append(next, pfx+"/"+short)
			}
		}
		if len(next) > 64 {
			next = next[:64]
		}
		out = next
	}
	for i, w := range out {
		if w == "" {
			out[i] = "/"
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
