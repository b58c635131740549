package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// event is one raw event of a random trace.
type event struct {
	src, dst int
	kind     EdgeKind
	span     bool
}

// randomTrace makes a trace over few nodes, so that the same pairs repeat
// (what the reduction merges) and interleave (what stops it).
func randomTrace(r *rand.Rand, nodes, events int, spans bool) []event {
	kinds := []EdgeKind{Read, Write, Fork, Send, Recv}
	var out []event
	for range events {
		s := r.IntN(nodes)
		d := r.IntN(nodes - 1)
		if d >= s {
			d++
		}
		e := event{src: s, dst: d, kind: kinds[r.IntN(len(kinds))]}
		if r.IntN(4) == 0 && len(out) > 0 {
			e = out[len(out)-1-r.IntN(min(len(out), 3))] // repeat a recent pair
			e.span = false
		}
		e.span = spans && r.IntN(25) == 0
		out = append(out, e)
	}
	return out
}

// build makes a graph of the trace, one tick per event.
func build(t *testing.T, tr []event, nodes int, reduce bool) *Graph {
	t.Helper()
	b, err := NewBuilder(Options{NoReduce: !reduce})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		b.Node(Process, fmt.Sprint(i), fmt.Sprint(i))
	}
	for i, e := range tr {
		b.Event(int64(i), uint64(i))
		var f uint8
		if e.span {
			f = Span
		}
		b.Edge(e.kind, uint32(e.src), uint32(e.dst), 1, f)
	}
	return b.Finish()
}

// naive computes BackTracker's answer on the raw events by fixpoint: the
// reached nodes and their bounds (backward) or starts (forward).
func naive(tr []event, nodes int, start Point, forward bool) map[uint32]uint32 {
	reached := map[uint32]uint32{start.Node: start.Tick}
	for changed := true; changed; {
		changed = false
		for i, e := range tr {
			t := uint32(i)
			if forward {
				s, ok := reached[uint32(e.src)]
				if !ok || !e.span && t < s {
					continue
				}
				nt := max(t, s) + 1
				if old, ok := reached[uint32(e.dst)]; !ok || nt < old {
					reached[uint32(e.dst)] = nt
					changed = true
				}
			} else {
				b, ok := reached[uint32(e.dst)]
				if !ok || t >= b {
					continue
				}
				nb := t
				if e.span {
					nb = b - 1
				}
				if old, ok := reached[uint32(e.src)]; !ok || nb > old {
					reached[uint32(e.src)] = nb
					changed = true
				}
			}
		}
	}
	return reached
}

func traceMap(tr *Trace) map[uint32]uint32 {
	m := map[uint32]uint32{}
	for i, n := range tr.Nodes {
		m[n] = tr.Tick[i]
	}
	return m
}

func keys(m map[uint32]uint32) []uint32 {
	var k []uint32
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

// TestTraversalMatchesBruteForce checks Backward and Forward on the
// unreduced graph against the fixpoint on raw events (same nodes, same
// ticks), and that the causality-preserving reduction changes no query's
// set of reached nodes while it does merge edges.
func TestTraversalMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	merged := 0
	for trial := range 300 {
		nodes := 3 + r.IntN(6)
		tr := randomTrace(r, nodes, 10+r.IntN(60), trial%2 == 1)
		full := build(t, tr, nodes, false)
		red := build(t, tr, nodes, true)
		if len(full.Edges) != len(tr) {
			t.Fatalf("unreduced graph has %d edges for %d events", len(full.Edges), len(tr))
		}
		merged += len(full.Edges) - len(red.Edges)
		for range 8 {
			start := Point{Node: uint32(r.IntN(nodes)), Tick: uint32(r.IntN(len(tr) + 1))}
			for _, fwd := range []bool{false, true} {
				want := naive(tr, nodes, start, fwd)
				var got, gotRed *Trace
				if fwd {
					got, gotRed = full.Forward([]Point{start}, Limits{}), red.Forward([]Point{start}, Limits{})
				} else {
					got, gotRed = full.Backward([]Point{start}, Limits{}), red.Backward([]Point{start}, Limits{})
				}
				gm := traceMap(got)
				if fmt.Sprint(gm) != fmt.Sprint(want) {
					t.Fatalf("trial %d forward=%v from %+v: graph %v, brute force %v\ntrace %+v", trial, fwd, start, gm, want, tr)
				}
				if k1, k2 := keys(traceMap(gotRed)), keys(want); !slices.Equal(k1, k2) {
					t.Fatalf("trial %d forward=%v from %+v: reduced graph reaches %v, raw events %v\ntrace %+v", trial, fwd, start, k1, k2, tr)
				}
			}
		}
	}
	if merged == 0 {
		t.Fatal("the reduction merged nothing: the test does not exercise it")
	}
	t.Logf("reduction merged %d edges over the trials", merged)
}

// TestReductionMergesOnlyWithoutInterleaving checks the rule on a small
// case: repeated reads merge; a write into the reader between them stops
// the merge.
func TestReductionMergesOnlyWithoutInterleaving(t *testing.T) {
	b, _ := NewBuilder(Options{})
	p := b.Node(Process, "p", "p")
	f := b.Node(File, "/f", "/f")
	q := b.Node(Process, "q", "q")
	g := b.Node(File, "/g", "/g")
	add := func(k EdgeKind, s, d uint32) { b.Event(0, 0); b.Edge(k, s, d, 10, 0) }
	add(Read, f, p)  // 0
	add(Read, f, p)  // 1: merges with 0
	add(Read, f, p)  // 2: merges
	add(Write, q, f) // 3: something flows into the source f
	add(Read, f, p)  // 4: so this read is not equivalent to 0–2: a new edge
	add(Write, p, g) // 5: something flows out of the reader p
	add(Read, f, p)  // 6: so no merge with 4 either
	gr := b.Finish()
	var reads []Edge
	for _, e := range gr.Edges {
		if e.Kind == Read {
			reads = append(reads, e)
		}
	}
	want := []struct{ first, last, count uint32 }{{0, 2, 3}, {4, 4, 1}, {6, 6, 1}}
	if len(reads) != len(want) {
		t.Fatalf("read edges %+v", reads)
	}
	for i, w := range want {
		if reads[i].First != w.first || reads[i].Last != w.last || reads[i].Count != w.count || reads[i].Bytes != uint64(10*w.count) {
			t.Errorf("read edge %d: %+v, want first %d last %d count %d", i, reads[i], w.first, w.last, w.count)
		}
	}
	if gr.Stats.Merged != 2 || gr.Stats.EdgesIn != 7 {
		t.Errorf("stats %+v", gr.Stats)
	}
}

// TestTimeConstraint: a write into a file after a process read it does not
// explain the process.
func TestTimeConstraint(t *testing.T) {
	b, _ := NewBuilder(Options{})
	a := b.Node(Process, "a", "a")
	bb := b.Node(Process, "b", "b")
	f := b.Node(File, "/f", "/f")
	out := b.Node(File, "/out", "/out")
	b.Event(0, 1)
	b.Edge(Read, f, bb, 0, 0) // tick 0: b reads f
	b.Event(1, 2)
	b.Edge(Write, a, f, 0, 0) // tick 1: a writes f, too late
	b.Event(2, 3)
	b.Edge(Write, bb, out, 0, 0) // tick 2
	g := b.Finish()
	back := g.Backward([]Point{{out, g.End()}}, Limits{})
	if _, ok := back.Reached(a); ok {
		t.Error("backward from /out reached a, whose write came after b's read")
	}
	if _, ok := back.Reached(f); !ok {
		t.Error("backward from /out did not reach /f")
	}
	fwd := g.Forward([]Point{{a, 0}}, Limits{})
	if _, ok := fwd.Reached(out); ok {
		t.Error("forward from a reached /out")
	}
	if path := back.Path(g, f); len(path) != 2 || g.Edges[path[0]].Kind != Read || g.Edges[path[1]].Kind != Write {
		t.Errorf("path from /f: %v", path)
	}
	if g.TickAt(g.Time(1)) != 2 || g.IDs[2] != 3 {
		t.Errorf("TickAt(time of tick 1) = %d, IDs %v", g.TickAt(g.Time(1)), g.IDs)
	}
}

// TestRemoteEndpointsEndTraces: what a remote host sends is not explained
// by what it was sent.
func TestRemoteEndpointsEndTraces(t *testing.T) {
	b, _ := NewBuilder(Options{})
	p := b.Node(Process, "p", "p")
	q := b.Node(Process, "q", "q")
	remote := b.Node(Endpoint, "192.0.2.7:443", "192.0.2.7:443")
	local := b.Node(Endpoint, "127.0.0.1:8080", "127.0.0.1:8080")
	b.Event(0, 0)
	b.Edge(Send, p, remote, 5, 0)
	b.Event(1, 0)
	b.Edge(Recv, remote, q, 5, 0)
	b.Event(2, 0)
	b.Edge(Send, p, local, 5, 0)
	b.Event(3, 0)
	b.Edge(Recv, local, q, 5, 0)
	g := b.Finish()
	if !g.Remote(remote) || g.Remote(local) {
		t.Fatal("remote classification")
	}
	back := g.Backward([]Point{{q, g.End()}}, Limits{})
	if _, ok := back.Reached(remote); !ok {
		t.Fatal("remote endpoint not reached")
	}
	// p is reached through the loopback endpoint only
	path := back.Path(g, p)
	if len(path) != 2 || g.Edges[path[0]].Dst != local {
		t.Errorf("p reached via %v, want the loopback endpoint", path)
	}
	back2 := g.Backward([]Point{{remote, g.End()}}, Limits{})
	if _, ok := back2.Reached(p); !ok {
		t.Error("a start at a remote endpoint must still be expanded")
	}
	fwd := g.Forward([]Point{{p, 0}}, Limits{ThroughRemote: true})
	if n := len(fwd.Nodes); n != 4 {
		t.Errorf("forward through remote endpoints reached %d nodes, want 4", n)
	}
	if !RemoteAddress("pan:k1:10.1.2.3:80") || RemoteAddress("[::1]:53") || RemoteAddress("unix:/run/x") || RemoteAddress("127.0.0.1:5>127.0.0.1:80") {
		t.Error("RemoteAddress")
	}
}

func TestFilters(t *testing.T) {
	b, err := NewBuilder(Options{Filters: DefaultFilters()})
	if err != nil {
		t.Fatal(err)
	}
	p := b.Node(Process, "p", "p")
	q := b.Node(Process, "q", "q")
	libc := b.Node(File, "/lib/x86_64-linux-gnu/libc.so.6", "libc")
	evil := b.Node(File, "/usr/lib/libevil.so", "libevil")
	cache := b.Node(File, "/etc/ld.so.cache", "cache")
	tmpP := b.Node(File, "/tmp/p-only", "tmp1")
	tmpShared := b.Node(File, "/tmp/shared", "tmp2")
	conf := b.Node(File, "/etc/app.conf", "conf")
	steps := []struct {
		k        EdgeKind
		src, dst uint32
	}{
		{Load, libc, p}, {Mmap, cache, p}, {Read, conf, p},
		{Write, q, evil}, {Load, evil, p}, // a library written during the trace is not filtered
		{Write, p, tmpP}, {Read, tmpP, p},
		{Write, p, tmpShared}, {Read, tmpShared, q},
	}
	for i, s := range steps {
		b.Event(int64(i), 0)
		b.Edge(s.k, s.src, s.dst, 0, 0)
	}
	g := b.Finish()
	has := func(s, d uint32) bool {
		for _, e := range g.Edges {
			if e.Src == s && e.Dst == d {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		s, d uint32
		want bool
	}{{libc, p, false}, {cache, p, false}, {conf, p, true}, {evil, p, true}, {p, tmpP, false}, {tmpP, p, false},
		{p, tmpShared, true}, {tmpShared, q, true}} {
		if has(c.s, c.d) != c.want {
			t.Errorf("edge %s -> %s kept=%v, want %v", g.Nodes[c.s].Key, g.Nodes[c.d].Key, !c.want, c.want)
		}
	}
	stats := map[string]FilterStat{}
	for _, f := range g.Stats.Filtered {
		stats[f.Filter] = f
	}
	if s := stats["libraries"]; s.Edges != 1 || s.Objects != 1 || len(s.Top) != 1 || s.Top[0].Name != "libc" {
		t.Errorf("libraries: %+v", s)
	}
	if s := stats["caches"]; s.Edges != 1 || s.Objects != 1 {
		t.Errorf("caches: %+v", s)
	}
	if s := stats["temporary"]; s.Edges != 2 || s.Objects != 1 {
		t.Errorf("temporary: %+v", s)
	}
}

func TestGlob(t *testing.T) {
	f := Filter{Name: "x", Globs: []string{"**/*.so", "/usr/share/locale/**", "/home/*/.cache/**", "/a/?b"}}
	for p, want := range map[string]bool{
		"/lib/libc.so": true, "/lib/libc.so.6": false, "/usr/share/locale/de/x.mo": true, "/usr/share/localex": false,
		"/home/u/.cache/x/y": true, "/home/u/v/.cache/x": false, "/a/xb": true, "/a/xyb": false, "/a//b": false,
	} {
		if f.Match(p) != want {
			t.Errorf("Match(%q) = %v", p, !want)
		}
	}
}
