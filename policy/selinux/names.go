package selinux

import (
	"strconv"
	"strings"
)

// sanitize turns s into an SELinux identifier: lower-case letters, digits
// and underscores, starting with a letter. Policy entity names already
// have that form; invariant and label names may contain '-'.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || out[0] < 'a' || out[0] > 'z' {
		out = "x" + out
	}
	return out
}

// namer hands out unique identifiers. Skeleton names are reserved first,
// then generated names are allocated in a fixed order, so the result is
// deterministic. A name already taken gets a numeric suffix before its
// final suffix: replica_exec_t, then replica_exec_2_t.
type namer struct {
	taken map[string]bool
}

func newNamer() *namer { return &namer{taken: make(map[string]bool)} }

func (n *namer) reserve(names ...string) {
	for _, s := range names {
		n.taken[s] = true
	}
}

// alloc returns a fresh identifier sanitize(base)+suffix.
func (n *namer) alloc(base, suffix string) string {
	base = sanitize(base)
	name := base + suffix
	for i := 2; n.taken[name]; i++ {
		name = base + "_" + strconv.Itoa(i) + suffix
	}
	n.taken[name] = true
	return name
}
