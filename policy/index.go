package policy

import (
	"slices"
	"strings"
)

// index holds the lookup structures built at load time.
type index struct {
	entities map[string]Entity
	comps    map[string]*Compartment
	roles    map[string]*Role
	res      map[string]*Resource
	chans    map[string]*Channel
	invs     map[string]*Invariant

	paths pathIndex
	// exe maps an executable path to its compartment.
	exe map[string]*Compartment
	// unix maps a unix channel's socket path to the channel.
	unix map[string]*Channel
	// ports lists the TCP/UDP channels, for port lookups.
	ports []*Channel
	// grants maps subject, then object, to the rules granting something.
	grants map[string]map[string]*grant
	// spawns maps a compartment or role to the compartments it may start
	// (spawn blocks and role enter lists).
	spawns map[string][]string
	// executableRes is the set of resources executables() selects.
	executableRes map[string]bool
}

// grant aggregates the rules of one subject on one object.
type grant struct {
	verbs VerbSet // implied verbs
	rules []*Rule
}

// globRef is one glob of one resource.
type globRef struct {
	g   *glob
	res int32 // index into Policy.Resources
}

// pathIndex finds the most specific glob matching a path. Exact paths are
// in a map; patterns hang off a trie of their literal leading segments,
// each node's list sorted by decreasing specificity, so a lookup visits
// only the nodes on the path's own prefix.
type pathIndex struct {
	globs []globRef
	exact map[string]int32 // path -> index into globs
	root  *trieNode
}

type trieNode struct {
	children map[string]*trieNode
	globs    []int32 // patterns whose literal prefix ends here, best first
	exacts   []int32 // exact paths ending here (for overlap checks only)
}

func (n *trieNode) child(seg string, create bool) *trieNode {
	c := n.children[seg]
	if c == nil && create {
		if n.children == nil {
			n.children = make(map[string]*trieNode)
		}
		c = &trieNode{}
		n.children[seg] = c
	}
	return c
}

// add inserts a glob.
func (x *pathIndex) add(g *glob, res int32) {
	if x.root == nil {
		x.root = &trieNode{}
		x.exact = make(map[string]int32)
	}
	id := int32(len(x.globs))
	x.globs = append(x.globs, globRef{g, res})
	n := x.root
	for _, s := range g.segs[:g.nlit] {
		n = n.child(s, true)
	}
	if g.spec.exact {
		if _, dup := x.exact[g.src]; !dup {
			x.exact[g.src] = id
		}
		n.exacts = append(n.exacts, id)
		return
	}
	n.globs = append(n.globs, id)
}

// finish sorts every node's patterns by decreasing specificity.
func (x *pathIndex) finish() {
	if x.root == nil {
		return
	}
	var walk func(n *trieNode)
	walk = func(n *trieNode) {
		slices.SortStableFunc(n.globs, func(a, b int32) int {
			return x.globs[b].g.spec.cmp(x.globs[a].g.spec)
		})
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(x.root)
}

// lookup returns the index of the most specific glob matching the clean
// absolute path p, or -1.
func (x *pathIndex) lookup(p string) int32 {
	if x.root == nil {
		return -1
	}
	if id, ok := x.exact[p]; ok {
		return id
	}
	best := int32(-1)
	n := x.root
	depth := 0
	rest := p[1:]
	var segs []string
	for {
		if len(n.globs) > 0 {
			if segs == nil {
				segs = splitPath(p)
			}
			for _, id := range n.globs {
				g := x.globs[id].g
				if matchSegs(g.segs[depth:], segs[depth:]) {
					if best < 0 || g.spec.cmp(x.globs[best].g.spec) > 0 {
						best = id
					}
					break
				}
			}
		}
		if rest == "" || p == "/" {
			return best
		}
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		n = n.children[seg]
		if n == nil {
			return best
		}
		depth++
	}
}

// overlaps calls f for every pair of globs that some path matches, each
// pair once (a < b not guaranteed). It returns early when f returns false.
func (x *pathIndex) overlaps(f func(a, b int32) bool) {
	if x.root == nil {
		return
	}
	var below func(n *trieNode, visit func(id int32) bool) bool
	below = func(n *trieNode, visit func(id int32) bool) bool {
		for _, id := range n.globs {
			if !visit(id) {
				return false
			}
		}
		for _, id := range n.exacts {
			if !visit(id) {
				return false
			}
		}
		keys := make([]string, 0, len(n.children))
		for k := range n.children {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !below(n.children[k], visit) {
				return false
			}
		}
		return true
	}
	var walk func(n *trieNode) bool
	walk = func(n *trieNode) bool {
		// Patterns here against patterns and exact paths here (later in
		// the lists) and everything in the subtrees.
		all := append(append([]int32(nil), n.globs...), n.exacts...)
		for i, a := range all {
			if i >= len(n.globs) {
				// exact vs exact in the same node: equal paths.
				for _, b := range all[i+1:] {
					if x.globs[a].g.src == x.globs[b].g.src && !f(a, b) {
						return false
					}
				}
				continue
			}
			ga := x.globs[a].g
			for _, b := range all[i+1:] {
				if globsOverlap(ga, x.globs[b].g) && !f(a, b) {
					return false
				}
			}
			keys := make([]string, 0, len(n.children))
			for k := range n.children {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				ok := below(n.children[k], func(b int32) bool {
					if globsOverlap(ga, x.globs[b].g) {
						return f(a, b)
					}
					return true
				})
				if !ok {
					return false
				}
			}
		}
		keys := make([]string, 0, len(n.children))
		for k := range n.children {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !walk(n.children[k]) {
				return false
			}
		}
		return true
	}
	walk(x.root)
}
