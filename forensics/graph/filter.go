package graph

import (
	"fmt"
	"strings"
)

// Filter drops edges that make graphs explode without telling an
// investigator anything: files every process reads (shared libraries,
// locale and loader caches) and temporary files a single process uses
// privately.
//
// An input filter (Private false) drops the edges that carry data out of
// a matching file into a process (reads, maps, loads) — never writes —
// and stops applying to a file once something writes, renames or links
// onto it during the trace: a library the attacker replaced is no longer
// filtered. A private filter (Private true) drops every edge of a
// matching file that only one process ever touched, which carries no
// information between processes — unless the file was executed or mapped
// as code.
type Filter struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Globs       []string `json:"globs"`
	Private     bool     `json:"private,omitempty"`

	matchers []glob
}

// FilterStat reports what one filter dropped.
type FilterStat struct {
	Filter string `json:"filter"`
	// Edges is the number of edges (events) dropped, Objects the number
	// of distinct objects they came from.
	Edges   uint64 `json:"edges"`
	Objects uint64 `json:"objects"`
	// Top lists the objects with the most dropped edges, most first.
	Top []FilteredObject `json:"top,omitempty"`
}

// FilteredObject is an object a filter dropped edges of.
type FilteredObject struct {
	Name  string `json:"name"`
	Edges uint64 `json:"edges"`
}

// DefaultFilters returns the filters "rampart investigate" applies unless
// told otherwise: caches, shared libraries, and private temporary files. A
// file belongs to the first filter that matches it.
func DefaultFilters() []Filter {
	return []Filter{
		{
			Name:        "caches",
			Description: "loader, locale, time zone and language caches; /proc and /sys metadata; null and random devices",
			Globs: []string{"/etc/ld.so.cache", "/var/cache/**", "/root/.cache/**", "/home/*/.cache/**",
				"/usr/share/locale/**", "/usr/share/locale-langpack/**", "/usr/lib/locale/**", "**/gconv/**",
				"/usr/share/zoneinfo/**", "/etc/localtime", "**/__pycache__/**",
				"/proc/self/**", "/proc/sys/**", "/proc/meminfo", "/proc/stat", "/proc/cpuinfo", "/proc/filesystems",
				"/sys/**", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"},
		},
		{
			Name:        "libraries",
			Description: "shared libraries and the dynamic loader, read or mapped by every program",
			Globs:       []string{"**/*.so", "**/*.so.*", "/lib/ld-linux*", "/lib64/ld-linux*"},
		},
		{
			Name:        "temporary",
			Description: "temporary files that a single process created and used",
			Globs:       []string{"/tmp/**", "/var/tmp/**", "/dev/shm/**"},
			Private:     true,
		},
	}
}

// compile prepares the filter's globs.
func (f *Filter) compile() error {
	f.matchers = f.matchers[:0]
	for _, g := range f.Globs {
		if g == "" {
			return fmt.Errorf("filter %s: empty glob", f.Name)
		}
		f.matchers = append(f.matchers, compileGlob(g))
	}
	return nil
}

// Match reports whether path matches one of the filter's globs.
func (f *Filter) Match(path string) bool {
	if len(f.matchers) != len(f.Globs) { // not compiled: match the globs as written
		for _, g := range f.Globs {
			if m := compileGlob(g); m.match(path) {
				return true
			}
		}
		return false
	}
	for i := range f.matchers {
		if f.matchers[i].match(path) {
			return true
		}
	}
	return false
}

// glob is a compiled path pattern: "*" matches within one path element,
// "**" across elements, "?" one character other than "/".
type glob struct {
	pattern string
	prefix  string // literal prefix, for a quick rejection
}

func compileGlob(p string) glob {
	i := strings.IndexAny(p, "*?")
	if i < 0 {
		i = len(p)
	}
	return glob{pattern: p, prefix: p[:i]}
}

func (g *glob) match(s string) bool {
	if !strings.HasPrefix(s, g.prefix) {
		return false
	}
	return globMatch(g.pattern[len(g.prefix):], s[len(g.prefix):])
}

// globMatch matches s against p with backtracking over the last star.
func globMatch(p, s string) bool {
	for len(p) > 0 {
		switch {
		case strings.HasPrefix(p, "**"):
			rest := strings.TrimLeft(p, "*")
			if rest == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if globMatch(rest, s[i:]) {
					return true
				}
			}
			return false
		case p[0] == '*':
			rest := p[1:]
			for i := 0; i <= len(s); i++ {
				if globMatch(rest, s[i:]) {
					return true
				}
				if i < len(s) && s[i] == '/' {
					break
				}
			}
			return false
		case p[0] == '?':
			if len(s) == 0 || s[0] == '/' {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}
