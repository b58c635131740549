package policy

import (
	"strconv"
	"strings"
)

// A glob is a parsed path pattern. Patterns are absolute, slash-separated
// and clean; a segment is either "**" (any number of whole segments,
// including none) or a mix of literal characters, "*" (any run of
// characters within the segment) and "?" (one character).
type glob struct {
	src  string
	segs []string // segments after the leading slash; empty for "/"
	nlit int      // number of leading segments without wildcards
	spec specificity
}

// specificity orders globs: when several globs match a path, the one with
// the greatest specificity wins. See (specificity).cmp.
type specificity struct {
	exact   bool // no wildcard at all
	prefix  int  // bytes before the first wildcard character
	literal int  // literal (non-wildcard) bytes in total
	dstars  int  // number of "**" segments
	stars   int  // number of "*"
	qmarks  int  // number of "?"
}

// cmp returns +1 if a is more specific than b, -1 if less, 0 if equal.
// The rule, in order: an exact path beats any pattern; a longer literal
// prefix (before the first wildcard) wins; more literal characters win;
// fewer "**" win; fewer "*" win; fewer "?" win.
func (a specificity) cmp(b specificity) int {
	switch {
	case a.exact != b.exact:
		return boolCmp(a.exact)
	case a.prefix != b.prefix:
		return intCmp(a.prefix, b.prefix)
	case a.literal != b.literal:
		return intCmp(a.literal, b.literal)
	case a.dstars != b.dstars:
		return intCmp(b.dstars, a.dstars)
	case a.stars != b.stars:
		return intCmp(b.stars, a.stars)
	case a.qmarks != b.qmarks:
		return intCmp(b.qmarks, a.qmarks)
	}
	return 0
}

func boolCmp(a bool) int {
	if a {
		return 1
	}
	return -1
}

func intCmp(a, b int) int {
	if a > b {
		return 1
	}
	return -1
}

// globError describes why a pattern is invalid.
type globError struct{ msg, hint string }

// parseGlob parses a path pattern. With exact set, wildcards are refused
// (for executables and unix socket paths).
func parseGlob(s string, exact bool) (*glob, *globError) {
	switch {
	case s == "":
		return nil, &globError{"empty path", "paths are absolute, e.g. \"/var/lib/app/**\""}
	case s[0] != '/':
		return nil, &globError{"relative path " + quote(s), "paths must be absolute: start with \"/\""}
	case len(s) > maxPath:
		return nil, &globError{"path is longer than 4096 bytes", "shorten it"}
	case strings.ContainsAny(s, "\x00\n"):
		return nil, &globError{"path " + quote(s) + " contains a control character", "remove it"}
	case strings.ContainsAny(s, "[]{}\\"):
		return nil, &globError{"path " + quote(s) + " uses unsupported pattern syntax", "only \"*\", \"?\" and whole-segment \"**\" are supported; list alternatives as separate paths"}
	}
	if exact && strings.ContainsAny(s, "*?") {
		return nil, &globError{"path " + quote(s) + " must not contain wildcards", "name the exact file"}
	}
	g := &glob{src: s}
	if s != "/" {
		g.segs = strings.Split(s[1:], "/")
	}
	sawWild := false
	for i, seg := range g.segs {
		switch {
		case seg == "":
			if i == len(g.segs)-1 {
				return nil, &globError{"path " + quote(s) + " ends in \"/\"", "drop the trailing slash; use \"" + strings.TrimRight(s, "/") + "/**\" for everything below a directory"}
			}
			return nil, &globError{"path " + quote(s) + " has an empty segment (\"//\")", "write single slashes"}
		case len(seg) > maxName:
			return nil, &globError{"path " + quote(s) + " has a segment longer than 255 bytes", "file names are at most 255 bytes"}
		case seg == "." || seg == "..":
			return nil, &globError{"path " + quote(s) + " is not clean (contains \"" + seg + "\")", "write the path without \".\" and \"..\" segments"}
		case seg == "**":
			g.spec.dstars++
		case strings.Contains(seg, "**"):
			return nil, &globError{"path " + quote(s) + " uses \"**\" inside a segment", "\"**\" must be a whole segment, as in \"/a/**/b\"; use \"*\" within a segment"}
		}
		wild := seg == "**" || strings.ContainsAny(seg, "*?")
		if !wild && !sawWild {
			g.nlit = i + 1
		}
		sawWild = sawWild || wild
	}
	if i := strings.IndexAny(s, "*?"); i >= 0 {
		g.spec.prefix = i
	} else {
		g.spec.exact = true
		g.spec.prefix = len(s)
	}
	g.spec.stars = strings.Count(s, "*") - 2*g.spec.dstars
	g.spec.qmarks = strings.Count(s, "?")
	g.spec.literal = len(s) - g.spec.stars - g.spec.qmarks - 2*g.spec.dstars
	return g, nil
}

// Limits on paths, as Linux's PATH_MAX and NAME_MAX.
const (
	maxPath = 4096
	maxName = 255
)

func quote(s string) string { return strconv.Quote(s) }

// splitPath splits a clean absolute path into segments.
func splitPath(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// matchSegs reports whether the path segments match the pattern segments.
// It is the classic greedy wildcard algorithm with "**" as the star and
// segment matching as the element comparison; O(len(pat)·len(path)).
func matchSegs(pat, path []string) bool {
	p, s := 0, 0
	star, mark := -1, 0
	for s < len(path) {
		switch {
		case p < len(pat) && pat[p] == "**":
			star, mark = p, s
			p++
		case p < len(pat) && matchSeg(pat[p], path[s]):
			p++
			s++
		case star >= 0:
			p = star + 1
			mark++
			s = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == "**" {
		p++
	}
	return p == len(pat)
}

// matchSeg matches one segment against a pattern with "*" and "?".
func matchSeg(pat, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, i
			p++
		case p < len(pat) && (pat[p] == '?' || pat[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// globsOverlap reports whether some path matches both a and b.
func globsOverlap(a, b *glob) bool {
	return intersects(len(a.segs), len(b.segs),
		func(i int) bool { return a.segs[i] == "**" },
		func(j int) bool { return b.segs[j] == "**" },
		func(i, j int) bool { return segsOverlap(a.segs[i], b.segs[j]) })
}

// segsOverlap reports whether some segment matches both patterns.
func segsOverlap(a, b string) bool {
	return intersects(len(a), len(b),
		func(i int) bool { return a[i] == '*' },
		func(j int) bool { return b[j] == '*' },
		func(i, j int) bool { return a[i] == '?' || b[j] == '?' || a[i] == b[j] })
}

// intersects decides whether two patterns over some alphabet share a word.
// A pattern is a sequence of stars (any word) and single-letter sets;
// step(i, j) reports whether letter sets i and j share a letter. It runs
// in O(n·m) over the product automaton.
func intersects(n, m int, starA, starB func(int) bool, step func(i, j int) bool) bool {
	// memo: 0 unknown, 1 false, 2 true.
	memo := make([]uint8, (n+1)*(m+1))
	var f func(i, j int) bool
	f = func(i, j int) bool {
		k := i*(m+1) + j
		if memo[k] != 0 {
			return memo[k] == 2
		}
		memo[k] = 1 // cycles cannot occur: every move advances i or j
		r := false
		sa, sb := i < n && starA(i), j < m && starB(j)
		switch {
		case i == n && j == m:
			r = true
		case sa && f(i+1, j), sb && f(i, j+1):
			r = true
		case sa && j < m && !sb && f(i, j+1):
			r = true
		case sb && i < n && !sa && f(i+1, j):
			r = true
		case i < n && j < m && !sa && !sb && step(i, j) && f(i+1, j+1):
			r = true
		}
		if r {
			memo[k] = 2
		}
		return r
	}
	return f(0, 0)
}
