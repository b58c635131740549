package forensics

import (
	"cmp"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-sec/rampart/forensics/graph"
	"github.com/rampart-sec/rampart/policy"
)

// secretNames are file names that hold key material or credentials, used
// to flag secrets when no policy (or ledger label) says so.
func secretByName(p string) bool {
	base := path.Base(p)
	switch {
	case strings.HasSuffix(base, ".key"), strings.HasSuffix(base, ".pem"), strings.HasSuffix(base, ".p12"),
		strings.HasSuffix(base, ".pfx"), strings.HasSuffix(base, ".jks"), strings.HasSuffix(base, ".kdbx"),
		strings.HasPrefix(base, "id_rsa"), strings.HasPrefix(base, "id_ecdsa"), strings.HasPrefix(base, "id_ed25519"),
		strings.HasPrefix(base, "id_dsa"), base == "shadow" || base == "gshadow", base == "authorized_keys",
		strings.Contains(base, "secret"), strings.Contains(base, "token"), strings.Contains(base, "credential"),
		strings.Contains(base, "password"), base == ".netrc", base == ".pgpass":
		return !strings.HasSuffix(base, ".pub")
	}
	return strings.Contains(p, "[redacted:policy-secret]")
}

// secretHow says whether file node id is a secret and how that is known:
// "policy" (a resource labelled secret), "ledger" (the agent labelled
// it), "name" (a key or credential file name), or "".
func (inv *Investigation) secretHow(id uint32) string {
	n := &inv.Graph.Nodes[id]
	if n.Kind != graph.File {
		return ""
	}
	if r := inv.policyResource(id); r != nil && r.HasLabel(policy.LabelSecret) {
		return "policy"
	}
	if slices.Contains(inv.labels[id], string(policy.LabelSecret)) {
		return "ledger"
	}
	if secretByName(n.Key) {
		return "name"
	}
	return ""
}

// isTemp reports whether a path is a temporary file.
func isTemp(p string) bool {
	return strings.HasPrefix(p, "/tmp/") || strings.HasPrefix(p, "/var/tmp/") || strings.HasPrefix(p, "/dev/shm/")
}

// Caps of the impact's lists.
const (
	maxProcesses = 1000
	maxFiles     = 2000
	maxEndpoints = 1000
)

// impact summarises a forward trace.
func (inv *Investigation) impact(tr *graph.Trace, from []uint32, v *viewBuilder) *Impact {
	g := inv.Graph
	im := &Impact{Nodes: len(tr.Nodes), Edges: len(tr.Edges), Truncated: tr.Truncated}
	im.Sealed.Known = len(inv.sealed) > 0
	seen := map[uint32]bool{}
	for _, f := range from {
		if !seen[f] {
			seen[f] = true
			im.From = append(im.From, inv.entity(f))
		}
	}
	// tainted processes, in the order the trace settled them (by time)
	var tainted []uint32
	comps := map[string]bool{}
	sessions := map[string]bool{}
	for _, id := range tr.Nodes {
		if g.Nodes[id].Kind != graph.Process {
			continue
		}
		tainted = append(tainted, id)
		if len(im.Processes) < maxProcesses {
			im.Processes = append(im.Processes, inv.entity(id))
		}
		pi := g.Process(id)
		if pi == nil {
			continue
		}
		if pi.Compartment != "" {
			comps[pi.Compartment] = true
		}
		if pi.Session != 4294967295 && pi.Session != 0 {
			for _, e := range g.In(id) {
				if ed := &g.Edges[e]; ed.Kind == graph.Login {
					sessions[g.Label(ed.Src)] = true
				}
			}
		}
	}
	im.ProcessCount = len(tainted)
	// secrets: read by a tainted process, after it was tainted or before
	// (then they sat in its memory); computed beside the rest, on
	// another core
	secrets := map[uint32]*SecretRead{}
	var secOrder, secEdges []uint32
	var obs map[string]*observed
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		howOf := map[uint32]string{} // secretHow, once per file
		for _, proc := range tainted {
			since, _ := tr.Reached(proc)
			for k, end := g.InRange(proc); k < end; k++ {
				e, src, _, _, kind := g.InAt(k)
				if !kind.Inbound() || g.Kind(src) != graph.File {
					continue
				}
				how, ok := howOf[src]
				if !ok {
					how = inv.secretHow(src)
					howOf[src] = how
				}
				if how == "" {
					continue
				}
				ed := &g.Edges[e]
				before := ed.Last != graph.Forever && ed.Last < since
				s := secrets[src]
				if s == nil {
					res, _ := inv.resourceOf(src)
					s = &SecretRead{Path: g.Nodes[src].Name, Resource: res, Time: g.Time(ed.First), Before: before, How: how}
					secrets[src] = s
					secOrder = append(secOrder, src)
				}
				if !before {
					s.Before = false
				}
				if len(s.By) < 10 {
					s.By = appendUnique(s.By, g.Label(proc))
				}
				secEdges = append(secEdges, e)
			}
		}
	}()
	go func() {
		defer wg.Done()
		obs = inv.observe(tr, tainted)
	}()
	// aggregate per object, then keep the earliest, in time order
	type fileAgg struct {
		first   uint32 // tick
		bytes   uint64
		actions uint32 // bit per edge kind, and bit 0 for create
		by      []uint32
	}
	type epAgg struct {
		first uint32
		bytes uint64
		sends uint32
		by    []uint32
	}
	files := denseMap[fileAgg]{tr: tr}
	eps := denseMap[epAgg]{tr: tr}
	var started []uint64 // First<<32 | edge
	addBy := func(by []uint32, p uint32) []uint32 {
		if len(by) < 10 && !slices.Contains(by, p) {
			by = append(by, p)
		}
		return by
	}
	// what the tainted processes did after they were tainted: their
	// outgoing edges from then on (the trace's edges out of them), read
	// from the graph's per-node arrays
	for _, src := range tainted {
		since, _ := tr.Reached(src)
		for k, end := g.OutSince(src, since); k < end; k++ {
			e, dst, first, kind := g.OutAt(k)
			dk := g.Kind(dst)
			switch {
			case (kind == graph.Fork || kind == graph.Exec) && dk == graph.Process:
				started = append(started, uint64(first)<<32|uint64(e))
			case kind.Modifies() && (dk == graph.File || dk == graph.Descriptor):
				bytes, flags := g.OutBytes(k)
				a, fresh := files.get(dst)
				if fresh {
					a.first = first
				}
				a.first = min(a.first, first)
				if kind == graph.Write && bytes == 0 && flags&graph.Span == 0 {
					a.actions |= 1 // a create
				} else {
					a.actions |= 1 << kind
				}
				a.bytes += bytes
				a.by = addBy(a.by, src)
			case dk == graph.Endpoint && (kind == graph.Connect || kind == graph.Send):
				bytes, flags := g.OutBytes(k)
				a, fresh := eps.get(dst)
				if fresh {
					a.first = first
				}
				a.first = min(a.first, first)
				if kind == graph.Send && flags&graph.Inferred == 0 {
					a.bytes += bytes
					a.sends++
				}
				a.by = addBy(a.by, src)
			}
		}
	}
	labels := func(ids []uint32) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = g.Label(id)
		}
		return out
	}
	// processes started, by time
	partialSort(started, maxProcesses, cmp.Compare[uint64])
	im.StartedCount = len(started)
	for _, x := range started[:min(len(started), maxProcesses)] {
		e := uint32(x)
		ed := &g.Edges[e]
		ps := ProcessStarted{Process: inv.entity(ed.Dst), Time: g.Time(ed.First), How: ed.Kind.String(), By: g.Label(ed.Src)}
		if pi := g.Process(ed.Dst); pi != nil {
			ps.CommandLine = strings.Join(pi.Argv, " ")
		}
		im.Started = append(im.Started, ps)
		v.addEdge(e, "impact")
	}
	// byTime returns the positions of the max earliest values
	byTime := func(n int, first func(i int) uint32, max int) []int {
		keys := make([]uint64, n)
		for i := range n {
			keys[i] = uint64(first(i))<<32 | uint64(i)
		}
		partialSort(keys, max, cmp.Compare[uint64])
		out := make([]int, 0, min(n, max))
		for _, k := range keys[:min(n, max)] {
			out = append(out, int(uint32(k)))
		}
		return out
	}
	im.FileCount, im.EndpointCount = len(files.ids), len(eps.ids)
	for _, i := range byTime(len(files.ids), func(i int) uint32 { return files.vals[i].first }, maxFiles) {
		id, a := files.ids[i], &files.vals[i]
		n := &g.Nodes[id]
		fc := FileChange{Path: n.Name, Kind: n.Kind.String(), Bytes: a.bytes, First: g.Time(a.first), By: labels(a.by)}
		if a.actions&1 != 0 {
			fc.Actions = append(fc.Actions, "create")
		}
		for k := graph.EdgeKind(1); k < 32; k++ {
			if a.actions&(1<<k) != 0 {
				fc.Actions = append(fc.Actions, k.String())
			}
		}
		if n.Kind == graph.File {
			fc.Resource, fc.Labels = inv.resourceOf(id)
			fc.Sealed = inv.isSealed(n.Key)
			fc.Temp = isTemp(n.Key)
		}
		im.Files = append(im.Files, fc)
		v.add(id, "written")
	}
	// the sealed root: every file written, not only the first listed
	if len(inv.sealed) > 0 {
		for _, id := range files.ids {
			if n := &g.Nodes[id]; n.Kind == graph.File && inv.isSealed(n.Key) {
				im.Sealed.Touched = true
				im.Sealed.Writes = appendUnique(im.Sealed.Writes, n.Name)
			}
		}
		slices.Sort(im.Sealed.Writes)
	}
	for _, i := range byTime(len(eps.ids), func(i int) uint32 { return eps.vals[i].first }, maxEndpoints) {
		id, a := eps.ids[i], &eps.vals[i]
		n := &g.Nodes[id]
		c := EndpointContact{Address: n.Name, Direction: "outbound", BytesSent: a.bytes, Sends: a.sends, First: g.Time(a.first),
			By: labels(a.by), Remote: g.Remote(id), Channel: inv.channelOf(n.Key)}
		if n.Flags&graph.Accepted != 0 {
			c.Direction = "inbound"
		}
		im.Endpoints = append(im.Endpoints, c)
		v.add(id, "endpoint")
	}
	wg.Wait()
	for _, e := range secEdges {
		v.addEdge(e, "impact")
		v.add(g.Edges[e].Src, "secret")
	}
	slices.Sort(secOrder)
	for _, id := range secOrder {
		s := secrets[id]
		slices.Sort(s.By)
		im.Secrets = append(im.Secrets, *s)
	}
	slices.SortStableFunc(im.Secrets, func(a, b SecretRead) int { return a.Time.Compare(b.Time) })
	// refused modifications of the sealed root by tainted processes
	for _, a := range inv.Attempts {
		if since, ok := tr.Reached(a.Process); ok && inv.isSealed(a.Path) && !a.Time.Before(g.Time(since).Add(-time.Millisecond)) {
			im.Sealed.Attempts = appendUnique(im.Sealed.Attempts, a.Path+" ("+a.Syscall+", "+errnoName(a.Errno)+")")
		}
	}
	im.Compartments = sortedKeys(comps)
	im.Sessions = sortedKeys(sessions)
	im.obs = obs
	return im
}

func appendUnique(l []string, s string) []string {
	if slices.Contains(l, s) {
		return l
	}
	return append(l, s)
}

// channelOf names the policy channel of an endpoint key, if any.
func (inv *Investigation) channelOf(key string) string {
	p := inv.Policy
	if p == nil {
		return ""
	}
	if rest, ok := strings.CutPrefix(key, "unix:"); ok {
		if ch := p.UnixChannel(rest); ch != nil {
			return ch.Name
		}
		return ""
	}
	addr := key
	if i := strings.IndexByte(key, '>'); i >= 0 {
		addr = key[i+1:] // an accepted connection: the local (served) port
	}
	port := portOf(addr)
	if port == 0 {
		return ""
	}
	for _, proto := range []policy.Protocol{policy.ProtoTCP, policy.ProtoUDP} {
		if chs := p.PortChannels(proto, port); len(chs) > 0 {
			return chs[0].Name
		}
	}
	return ""
}

func portOf(addr string) uint16 {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range addr[i+1:] {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return 0
		}
	}
	return uint16(n)
}

func errnoName(n int) string {
	switch n {
	case 1:
		return "EPERM"
	case 2:
		return "ENOENT"
	case 13:
		return "EACCES"
	case 17:
		return "EEXIST"
	case 26:
		return "ETXTBSY"
	case 30:
		return "EROFS"
	}
	return "errno " + strconv.Itoa(n)
}

// observed is what the tainted processes of one compartment did, in
// policy terms.
type observed struct {
	read, alter, channels, compartments map[string]bool
	// unmatched are outgoing connections no policy channel covers
	unmatched map[string]bool
}

func (o *observed) merge(p *observed) {
	for _, m := range [][2]map[string]bool{{o.read, p.read}, {o.alter, p.alter}, {o.channels, p.channels},
		{o.compartments, p.compartments}, {o.unmatched, p.unmatched}} {
		for k := range m[1] {
			m[0][k] = true
		}
	}
}

func newObserved() *observed {
	return &observed{read: map[string]bool{}, alter: map[string]bool{}, channels: map[string]bool{},
		compartments: map[string]bool{}, unmatched: map[string]bool{}}
}

// observe collects, per compartment of the tainted processes, the
// resources they read and altered, the channels they used and the
// compartments they started.
func (inv *Investigation) observe(tr *graph.Trace, tainted []uint32) map[string]*observed {
	if inv.Policy == nil {
		return nil
	}
	g := inv.Graph
	out := map[string]*observed{}
	get := func(c string) *observed {
		o := out[c]
		if o == nil {
			o = newObserved()
			out[c] = o
		}
		return o
	}
	for _, proc := range tainted {
		pi := g.Process(proc)
		if pi == nil || pi.Compartment == "" {
			continue
		}
		o := get(pi.Compartment)
		o.compartments[pi.Compartment] = true
		for _, e := range g.In(proc) {
			ed := &g.Edges[e]
			if (ed.Kind.Inbound() || ed.Kind == graph.Execute) && g.Nodes[ed.Src].Kind == graph.File {
				if r := inv.policyResource(ed.Src); r != nil {
					o.read[r.Name] = true
				}
			}
		}
		for _, e := range g.Out(proc) {
			ed := &g.Edges[e]
			if _, ok := tr.Reached(ed.Dst); !ok {
				continue
			}
			dn := &g.Nodes[ed.Dst]
			switch {
			case ed.Kind.Modifies() && dn.Kind == graph.File:
				if r := inv.policyResource(ed.Dst); r != nil {
					o.alter[r.Name] = true
				}
			case dn.Kind == graph.Endpoint:
				if ch := inv.channelOf(dn.Key); ch != "" {
					o.channels[ch] = true
				} else if ed.Kind == graph.Connect {
					o.unmatched[dn.Name] = true
				}
			}
		}
	}
	return out
}

// denseMap maps the nodes of a trace to values, by their index in the
// trace (no hashing).
type denseMap[V any] struct {
	tr   *graph.Trace
	idx  []int32 // by trace index: 1 + index in vals
	ids  []uint32
	vals []V
}

// get returns the value of node id (which the trace reached), creating
// it (fresh) on first use.
func (m *denseMap[V]) get(id uint32) (*V, bool) {
	if m.idx == nil {
		m.idx = make([]int32, len(m.tr.Nodes))
	}
	ti, ok := m.tr.Index(id)
	if !ok {
		// not reached (a truncated trace): appended each time
		var zero V
		m.ids = append(m.ids, id)
		m.vals = append(m.vals, zero)
		return &m.vals[len(m.vals)-1], true
	}
	if i := m.idx[ti]; i != 0 {
		return &m.vals[i-1], false
	}
	var zero V
	m.ids = append(m.ids, id)
	m.vals = append(m.vals, zero)
	m.idx[ti] = int32(len(m.vals))
	return &m.vals[len(m.vals)-1], true
}
