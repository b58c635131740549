package analysis

import (
	"github.com/rampart-sec/rampart/policy"
)

// Analyzer answers questions about one policy. It builds the flow graph
// and the takeover graph once; it is immutable afterwards and safe for
// concurrent use.
type Analyzer struct {
	p  *policy.Policy
	g  *graph
	tk *takeoverGraph
}

// New builds the analyses' graphs for p.
func New(p *policy.Policy) *Analyzer {
	g := buildGraph(p)
	return &Analyzer{p: p, g: g, tk: buildTakeovers(p, g)}
}

// Policy returns the analysed policy.
func (a *Analyzer) Policy() *policy.Policy { return a.p }

// GraphSize returns the number of nodes and edges of the flow graph.
func (a *Analyzer) GraphSize() (nodes, edges int) { return len(a.g.names), a.g.nEdges }

// FlowQuery asks for information flows between two sets of entities.
type FlowQuery struct {
	// From and To select the endpoints (Policy.ParseSelector); a
	// channel stands for both its halves.
	From, To policy.Selector
	// Avoid selects entities that paths must not pass through (as in a
	// no_flow invariant's except_through); it may be empty.
	Avoid policy.Selector
	// MaxDepth bounds the number of steps of the paths AllFlows returns
	// (default 4).
	MaxDepth int
	// Limit bounds the number of paths AllFlows returns (default 100).
	Limit int
}

func (a *Analyzer) query(q FlowQuery) (src []int32, dst, avoid bitset) {
	src, _ = a.g.selectNodes(q.From)
	_, dst = a.g.selectNodes(q.To)
	_, avoid = a.g.selectNodes(q.Avoid)
	return src, dst, avoid
}

// ShortestFlow returns a shortest flow path (fewest steps, at least one)
// from an entity of q.From to one of q.To, and whether there is one. Ties
// are broken by declaration order.
func (a *Analyzer) ShortestFlow(q FlowQuery) (Path, bool) {
	src, dst, avoid := a.query(q)
	ids := a.g.shortest(src, dst, avoid)
	if ids == nil {
		return Path{}, false
	}
	return a.g.toPath(ids), true
}

// AllFlows returns every simple flow path of at most q.MaxDepth steps from
// q.From to q.To (a path ends at the first entity of q.To it reaches), in
// depth-first order, at most q.Limit of them; truncated reports whether
// more exist.
func (a *Analyzer) AllFlows(q FlowQuery) (paths []Path, truncated bool) {
	if q.MaxDepth <= 0 {
		q.MaxDepth = 4
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	src, dst, avoid := a.query(q)
	a.g.allPaths(src, dst, avoid, q.MaxDepth, func(ids []int32) bool {
		if len(paths) == q.Limit {
			truncated = true
			return false
		}
		paths = append(paths, a.g.toPath(ids))
		return true
	})
	return paths, truncated
}
