package analysis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-sec/rampart/policy"
)

// randomPolicy writes a random policy exercising every construct the
// analyses look at: reads and writes, channels with compartment and role
// clients, network channels, spawns, enters, signal, ptrace, execmem,
// executables inside resources, integrity-critical and secret labels, and
// invariants of every form.
func randomPolicy(seed uint64, nc, nr int) string {
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	var b strings.Builder
	tiers := []string{"untrusted", "network-facing", "trusted", "privileged"}
	verbs := []string{"read", "write", "append", "create", "delete", "setattr", "ioctl", "execute", "map-exec"}
	for j := 0; j < nr; j++ {
		var labels []string
		if r.IntN(4) == 0 {
			labels = append(labels, `"integrity-critical"`)
		}
		if r.IntN(6) == 0 {
			labels = append(labels, `"secret"`)
		}
		if j%5 == 4 && j/5 < nc {
			// A file holding compartment c(j/5)'s executable.
			fmt.Fprintf(&b, "resource \"r%d\" {\n  kind = \"file\"\n  paths = [\"/bin/c%d\"]\n  labels = [%s]\n}\n", j, j/5, strings.Join(labels, ", "))
			continue
		}
		fmt.Fprintf(&b, "resource \"r%d\" {\n  kind = \"directory\"\n  paths = [\"/d/r%d/**\"]\n  labels = [%s]\n}\n", j, j, strings.Join(labels, ", "))
	}
	for i := 0; i < nc; i++ {
		fmt.Fprintf(&b, "compartment \"c%d\" {\n  tier = %q\n  executables = [\"/bin/c%d\"]\n", i, tiers[r.IntN(len(tiers))], i)
		if r.IntN(5) == 0 {
			b.WriteString("  capabilities = [\"CAP_NET_ADMIN\"]\n")
		}
		for k := r.IntN(4); k > 0; k-- {
			var vs []string
			for _, v := range verbs {
				if r.IntN(4) == 0 {
					vs = append(vs, fmt.Sprintf("%q", v))
				}
			}
			if len(vs) == 0 {
				vs = []string{`"read"`}
			}
			fmt.Fprintf(&b, "  allow {\n    verbs = [%s]\n    on = [\"r%d\", \"r%d\"]\n  }\n", strings.Join(vs, ", "), r.IntN(nr), r.IntN(nr))
		}
		if r.IntN(6) == 0 {
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"signal\"]\n    on = [\"c%d\"]\n  }\n", r.IntN(nc))
		}
		if r.IntN(10) == 0 {
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"ptrace\"]\n    on = [\"c%d\"]\n  }\n", r.IntN(nc))
		}
		if r.IntN(10) == 0 {
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"map-exec\"]\n    on = [\"c%d\"]\n  }\n", i)
		}
		b.WriteString("}\n")
	}
	for k := 0; k < 3; k++ {
		fmt.Fprintf(&b, "role \"ro%d\" {\n  enter = [\"c%d\"]\n  allow {\n    verbs = [\"read\", \"write\"]\n    on = [\"r%d\"]\n  }\n}\n", k, r.IntN(nc), r.IntN(nr))
	}
	for k := 0; k < nc/3; k++ {
		clients := []string{fmt.Sprintf("%q", fmt.Sprintf("c%d", r.IntN(nc)))}
		if r.IntN(3) == 0 {
			clients = append(clients, fmt.Sprintf("\"ro%d\"", r.IntN(3)))
		}
		fmt.Fprintf(&b, "channel \"u%d\" {\n  protocol = \"unix\"\n  path = \"/run/u%d.sock\"\n  server = \"c%d\"\n  clients = [%s]\n}\n", k, k, r.IntN(nc), strings.Join(clients, ", "))
	}
	fmt.Fprintf(&b, "channel \"net_in\" {\n  protocol = \"tcp\"\n  ports = [443]\n  server = \"c%d\"\n  remote = [\"any\"]\n}\n", r.IntN(nc))
	fmt.Fprintf(&b, "channel \"net_out\" {\n  protocol = \"tcp\"\n  ports = [443]\n  clients = [\"c%d\"]\n  remote = [\"any\"]\n}\n", r.IntN(nc))
	for k := 0; k < nc/4; k++ {
		fmt.Fprintf(&b, "spawn {\n  from = \"c%d\"\n  to = [\"c%d\"]\n}\n", r.IntN(nc), r.IntN(nc))
	}
	fmt.Fprintf(&b, "no_flow \"nf1\" {\n  from = [\"r%d\", \"c%d\"]\n  to = network()\n  except_through = [\"c%d\"]\n}\n", r.IntN(nr), r.IntN(nc), r.IntN(nc))
	fmt.Fprintf(&b, "no_flow \"nf2\" {\n  from = \"ro%d\"\n  to = [\"r%d\", \"c%d\", \"u0\"]\n}\n", r.IntN(3), r.IntN(nr), r.IntN(nc))
	fmt.Fprintf(&b, "no_flow \"nf3\" {\n  from = \"c%d\"\n  to = \"c%d\"\n}\n", r.IntN(nc), r.IntN(nc))
	fmt.Fprintf(&b, "deny_spawn \"ds1\" {\n  from = [\"c%d\", \"ro%d\"]\n  to = compartments()\n  transitive = true\n}\n", r.IntN(nc), r.IntN(3))
	fmt.Fprintf(&b, "deny_spawn \"ds2\" {\n  from = all()\n  to = [\"c%d\"]\n}\n", r.IntN(nc))
	b.WriteString("deny_access \"da1\" {\n  subjects = all()\n  verbs = [\"append\", \"execute\", \"connect\", \"ptrace\"]\n  objects = all()\n}\n")
	b.WriteString("deny_capability \"dc1\" {\n  subjects = all()\n}\n")
	return b.String()
}

func loadRandom(t *testing.T, seed uint64, nc, nr int) *Analyzer {
	t.Helper()
	src := randomPolicy(seed, nc, nr)
	p, err := policy.Parse(fmt.Sprintf("random-%d.hcl", seed), []byte(src))
	if err != nil {
		t.Fatalf("seed %d: %v\n%s", seed, err, src)
	}
	return New(p)
}

// The oracles below use only package policy's public queries, not the
// analysis graphs.

// state is a position in the flow semantics: an entity, and for
// channels the direction (request or reply).
type state struct {
	name  string
	reply bool
}

// oracleSteps lists the states one flow step from s, per the documented
// semantics.
func oracleSteps(p *policy.Policy, s state) []state {
	var out []state
	e, _ := p.Entity(s.name)
	subjects := func(f func(string)) {
		for _, c := range p.Compartments {
			f(c.Name)
		}
		for _, r := range p.Roles {
			f(r.Name)
		}
	}
	readV := policy.NewVerbSet(policy.VerbRead, policy.VerbExecute, policy.VerbMapExec, policy.VerbIoctl)
	writeV := policy.NewVerbSet(policy.VerbWrite, policy.VerbAppend, policy.VerbCreate, policy.VerbDelete, policy.VerbSetattr, policy.VerbIoctl)
	switch e.Kind {
	case policy.EntityResource:
		subjects(func(sub string) {
			if v, _ := p.Granted(sub, s.name); v&readV != 0 {
				out = append(out, state{name: sub})
			}
		})
	case policy.EntityChannel:
		ch := p.Channel(s.name)
		if !s.reply {
			if ch.Server != "" {
				out = append(out, state{name: ch.Server})
			}
		} else {
			for _, c := range ch.Clients {
				out = append(out, state{name: c})
			}
		}
	case policy.EntityCompartment, policy.EntityRole:
		for _, r := range p.Resources {
			if v, _ := p.Granted(s.name, r.Name); v&writeV != 0 {
				out = append(out, state{name: r.Name})
			}
		}
		for _, ch := range p.Channels {
			if ch.Server == s.name {
				out = append(out, state{ch.Name, true})
			}
			if slices.Contains(ch.Clients, s.name) {
				out = append(out, state{ch.Name, false})
			}
		}
		for _, t := range p.SpawnTargets(s.name) {
			out = append(out, state{name: t})
		}
		subjects(func(sub string) {
			if sub == s.name {
				return
			}
			if v, _ := p.Granted(s.name, sub); v.Has(policy.VerbSignal) || v.Has(policy.VerbPtrace) {
				out = append(out, state{name: sub})
			}
			if v, _ := p.Granted(sub, s.name); v.Has(policy.VerbPtrace) {
				out = append(out, state{name: sub})
			}
			if r := p.Role(sub); r != nil && slices.Contains(r.Enter, s.name) {
				out = append(out, state{name: sub})
			}
		})
	}
	return out
}

// oracleShortest returns the length of a shortest flow (at least one step)
// from any of from to any of to, avoiding avoid and never passing through
// a role; -1 when there is none.
func oracleShortest(p *policy.Policy, from, to, avoid []string) int {
	isTo := func(n string) bool { return slices.Contains(to, n) }
	dist := map[state]int{}
	var queue []state
	for _, f := range from {
		if slices.Contains(avoid, f) {
			continue
		}
		ss := []state{{name: f}}
		if p.Channel(f) != nil {
			ss = []state{{f, false}, {f, true}}
		}
		for _, s := range ss {
			dist[s] = 0
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if dist[s] > 0 && p.Role(s.name) != nil {
			continue
		}
		for _, n := range oracleSteps(p, s) {
			if slices.Contains(avoid, n.name) {
				continue
			}
			if isTo(n.name) {
				return dist[s] + 1
			}
			if _, seen := dist[n]; !seen {
				dist[n] = dist[s] + 1
				queue = append(queue, n)
			}
		}
	}
	return -1
}

// oracleStep reports whether one step from a to b exists (any direction
// state for channels).
func oracleStep(p *policy.Policy, a, b string) bool {
	for _, s := range []state{{a, false}, {a, true}} {
		for _, n := range oracleSteps(p, s) {
			if n.name == b {
				return true
			}
		}
	}
	return false
}

// oracleCompromised computes the compromised set of s by a fixed point
// over the documented takeover rules.
func oracleCompromised(p *policy.Policy, s string) []string {
	alter := policy.NewVerbSet(policy.VerbWrite, policy.VerbAppend, policy.VerbCreate, policy.VerbDelete, policy.VerbSetattr)
	set := []string{s}
	for changed := true; changed; {
		changed = false
		for _, d := range p.Compartments {
			if slices.Contains(set, d.Name) {
				continue
			}
			taken := false
			for _, x := range set {
				if slices.Contains(p.SpawnTargets(x), d.Name) {
					taken = true
				}
				if v, _ := p.Granted(x, d.Name); v.Has(policy.VerbPtrace) {
					taken = true
				}
				for _, r := range p.Resources {
					xv, _ := p.Granted(x, r.Name)
					if xv&alter == 0 {
						continue
					}
					dv, _ := p.Granted(d.Name, r.Name)
					holdsExe := false
					for _, e := range d.Executables {
						if p.ResourceAt(e) == r {
							holdsExe = true
						}
					}
					if holdsExe || dv.Has(policy.VerbExecute) || dv.Has(policy.VerbMapExec) ||
						(dv.Has(policy.VerbRead) && r.HasLabel(policy.LabelIntegrityCritical)) {
						taken = true
					}
				}
			}
			if taken {
				set = append(set, d.Name)
				changed = true
			}
		}
	}
	slices.Sort(set)
	return set
}

// oracleViolations evaluates the direct invariant forms by brute force
// (as policy's own test does) as "invariant: counterexample".
func oracleViolations(p *policy.Policy) []string {
	var out []string
	for _, inv := range p.Invariants {
		switch inv.Form {
		case policy.FormDenyAccess:
			for _, s := range p.Select(inv.Subjects) {
				for _, r := range p.Rules {
					if r.Subject != s.Name {
						continue
					}
					for _, o := range r.Objects {
						if !p.Selects(inv.Objects, o) {
							continue
						}
						for _, v := range r.Verbs.Implied().Verbs() {
							if inv.Verbs.Has(v) && v.ValidFor(p.ObjectKind(o)) {
								out = append(out, fmt.Sprintf("%s: %s %s %s", inv.Name, s.Name, v, o))
							}
						}
					}
				}
			}
		case policy.FormDenySpawn:
			for _, f := range p.Select(inv.From) {
				seen := map[string]bool{}
				queue := []string{f.Name}
				for len(queue) > 0 {
					cur := queue[0]
					queue = queue[1:]
					for _, t := range p.SpawnTargets(cur) {
						if seen[t] {
							continue
						}
						seen[t] = true
						if p.Selects(inv.To, t) {
							out = append(out, fmt.Sprintf("%s: %s spawn %s", inv.Name, f.Name, t))
						}
						if inv.Transitive {
							queue = append(queue, t)
						}
					}
				}
			}
		case policy.FormDenyCapability:
			for _, s := range p.Select(inv.Subjects) {
				for _, c := range p.Compartment(s.Name).Capabilities {
					if len(inv.Capabilities) == 0 || slices.Contains(inv.Capabilities, c) {
						out = append(out, fmt.Sprintf("%s: %s holds %s", inv.Name, s.Name, c))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func names(es []policy.Entity) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

// checkPath verifies that a path is a real flow: each step exists, no
// intermediate role, nothing avoided.
func checkPath(t *testing.T, p *policy.Policy, path Path, avoid []string) {
	t.Helper()
	if len(path.Nodes) != len(path.Steps)+1 || len(path.Steps) == 0 {
		t.Fatalf("malformed path %+v", path)
	}
	for i := 1; i < len(path.Nodes); i++ {
		if !oracleStep(p, path.Nodes[i-1], path.Nodes[i]) {
			t.Errorf("path %s: no step %s -> %s", path.Verbose(), path.Nodes[i-1], path.Nodes[i])
		}
		if path.Steps[i-1].At == "" {
			t.Errorf("path %s: step %d has no position", path.Verbose(), i)
		}
	}
	for i, n := range path.Nodes {
		if slices.Contains(avoid, n) {
			t.Errorf("path %s passes through avoided %s", path, n)
		}
		if i > 0 && i < len(path.Nodes)-1 && p.Role(n) != nil {
			t.Errorf("path %s passes through role %s", path, n)
		}
	}
}

// TestOracleRandom compares the analyses with the oracles on random
// policies: the direct invariant forms, no_flow (existence, length and
// validity of counterexamples), shortest flows between random endpoints,
// and compromised sets (per-subject and summarised).
func TestOracleRandom(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		a := loadRandom(t, seed, 14, 30)
		p := a.Policy()
		res := a.Check()
		// Direct forms.
		var got []string
		for _, v := range res.Violations() {
			if v.Form != "no_flow" {
				got = append(got, v.Invariant+": "+v.Counterexample)
			}
		}
		slices.Sort(got)
		if want := oracleViolations(p); !slices.Equal(got, want) {
			t.Fatalf("seed %d: violations\n got %q\nwant %q", seed, got, want)
		}
		// no_flow: one counterexample per source entity that has a flow,
		// of the oracle's shortest length.
		for _, ir := range res.Invariants {
			inv := p.Invariant(ir.Name)
			if inv.Form != policy.FormNoFlow {
				continue
			}
			to, avoid := names(p.Select(inv.To)), names(p.Select(inv.Through))
			bySource := map[string]Violation{}
			for _, v := range ir.Violations {
				bySource[v.Subject] = v
			}
			for _, f := range p.Select(inv.From) {
				want := oracleShortest(p, []string{f.Name}, to, avoid)
				v, ok := bySource[f.Name]
				switch {
				case want < 0 && ok:
					t.Errorf("seed %d %s: flow from %s reported (%s), oracle has none", seed, inv.Name, f.Name, v.Path.Verbose())
				case want >= 0 && !ok:
					t.Errorf("seed %d %s: oracle flow from %s of %d steps not reported", seed, inv.Name, f.Name, want)
				case ok:
					if v.Path.Len() != want {
						t.Errorf("seed %d %s: %s has %d steps, oracle %d", seed, inv.Name, v.Path.Verbose(), v.Path.Len(), want)
					}
					checkPath(t, p, *v.Path, avoid)
					if !slices.Contains(to, v.Path.Nodes[len(v.Path.Nodes)-1]) || v.Path.Nodes[0] != f.Name {
						t.Errorf("seed %d %s: path %s has wrong ends", seed, inv.Name, v.Path)
					}
				}
			}
		}
		// Shortest flows between random entities.
		var all []string
		for _, e := range p.Select(policy.Selector{Domain: policy.AllEntities, Terms: []policy.Term{{Func: policy.TermAll}}}) {
			all = append(all, e.Name)
		}
		r := rand.New(rand.NewPCG(seed, 99))
		for k := 0; k < 40; k++ {
			from, to := all[r.IntN(len(all))], all[r.IntN(len(all))]
			q := FlowQuery{From: policy.NameSelector(policy.AllEntities, from), To: policy.NameSelector(policy.AllEntities, to)}
			path, ok := a.ShortestFlow(q)
			want := oracleShortest(p, []string{from}, []string{to}, nil)
			if ok != (want >= 0) || (ok && path.Len() != want) {
				t.Errorf("seed %d: shortest %s -> %s: got %v %d (%s), oracle %d", seed, from, to, ok, path.Len(), path.Verbose(), want)
			}
			if ok {
				checkPath(t, p, path, nil)
			}
			// All simple paths up to 4 steps: each valid, the shortest among
			// them as long as the oracle's.
			paths, _ := a.AllFlows(FlowQuery{From: q.From, To: q.To, MaxDepth: 4, Limit: 1000})
			minLen := -1
			for _, ap := range paths {
				checkPath(t, p, ap, nil)
				if ap.Len() > 4 {
					t.Errorf("path longer than the depth: %s", ap)
				}
				if minLen < 0 || ap.Len() < minLen {
					minLen = ap.Len()
				}
			}
			if want >= 1 && want <= 4 && minLen != want && from != to {
				t.Errorf("seed %d: all paths %s -> %s: shortest %d, oracle %d", seed, from, to, minLen, want)
			}
		}
		// Compromised sets, two implementations against the oracle.
		sums := a.BlastRadii()
		for i, c := range p.Compartments {
			br, err := a.BlastRadius(c.Name)
			if err != nil {
				t.Fatal(err)
			}
			got := br.Compromised()
			slices.Sort(got)
			if want := oracleCompromised(p, c.Name); !slices.Equal(got, want) {
				t.Errorf("seed %d: compromised set of %s: got %v, oracle %v", seed, c.Name, got, want)
			}
			s := sums[i]
			if s.Subject != c.Name || s.TakenOver != len(br.TakenOver) || s.Read != len(br.Read) || s.Alter != len(br.Alter) ||
				s.Execute != len(br.Execute) || s.Fed != len(fedNames(br)) {
				t.Errorf("seed %d: summary of %s %+v disagrees with the blast radius (taken %d read %d alter %d exec %d fed %d)",
					seed, c.Name, s, len(br.TakenOver), len(br.Read), len(br.Alter), len(br.Execute), len(fedNames(br)))
			}
			for _, tk := range br.TakenOver {
				if tk.Path.Nodes[0] != c.Name || tk.Path.Nodes[len(tk.Path.Nodes)-1] != tk.Compartment {
					t.Errorf("takeover chain %s does not lead from %s to %s", tk.Path.Verbose(), c.Name, tk.Compartment)
				}
			}
		}
	}
}
