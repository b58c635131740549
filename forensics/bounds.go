package forensics

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/analysis"
	"github.com/rampart-sec/rampart/policy"
)

// Bound sets the observed impact of one compromised compartment beside
// what the policy lets an attacker who controls it do (its blast radius,
// package analysis): reached X; could still reach Y; cannot reach Z.
type Bound struct {
	Compartment string `json:"compartment"`
	Tier        string `json:"tier,omitempty"`
	// TakenOver lists the compartments the policy lets the attacker take
	// over from this one (spawn, ptrace, altering their code or
	// configuration).
	TakenOver []string `json:"taken_over,omitempty"`
	// Reached lists what the tainted processes did that the blast radius
	// allows; Beyond what they did that it does not (the policy was not
	// enforced, or an attribution is wrong).
	Reached []string `json:"reached"`
	Beyond  []string `json:"beyond_policy,omitempty"`
	// CouldReach lists what the blast radius allows that was not
	// observed; CannotReach the compartments and the labelled resources
	// outside it.
	CouldReach  []string `json:"could_reach"`
	CannotReach []string `json:"cannot_reach"`
}

// Summary formats the bound in one sentence per part.
func (b *Bound) Summary() string {
	part := func(l []string) string {
		if len(l) == 0 {
			return "nothing"
		}
		if len(l) > 8 {
			return strings.Join(l[:8], ", ") + fmt.Sprintf(" and %d more", len(l)-8)
		}
		return strings.Join(l, ", ")
	}
	s := fmt.Sprintf("%s: reached %s; could still reach %s; cannot reach %s", b.Compartment, part(b.Reached), part(b.CouldReach), part(b.CannotReach))
	if len(b.Beyond) > 0 {
		s += "; BEYOND THE POLICY: " + part(b.Beyond)
	}
	return s
}

func labelled(r *policy.Resource) string {
	var ls []string
	for _, l := range r.Labels {
		if l.Protective() || l == policy.LabelSecret {
			ls = append(ls, string(l))
		}
	}
	if len(ls) == 0 {
		return r.Name
	}
	return r.Name + " (" + strings.Join(ls, ", ") + ")"
}

// bounds compares the observed impact of each compromised compartment
// with its blast radius.
func (inv *Investigation) bounds(im *Impact, rc *RootCause) []Bound {
	if inv.analyzer == nil || im == nil {
		return nil
	}
	p := inv.Policy
	comps := map[string]bool{}
	for _, c := range im.Compartments {
		comps[c] = true
	}
	if rc != nil {
		for _, c := range rc.Compromised {
			comps[c] = true
		}
	}
	var out []Bound
	for _, c := range sortedKeys(comps) {
		br, err := inv.analyzer.BlastRadius(c)
		if err != nil {
			continue
		}
		b := Bound{Compartment: c}
		if cc := p.Compartment(c); cc != nil {
			b.Tier = cc.Tier.String()
		}
		set := br.Compromised()
		for _, t := range br.TakenOver {
			b.TakenOver = append(b.TakenOver, t.Compartment)
		}
		obs := newObserved()
		for _, m := range set {
			if o := im.obs[m]; o != nil {
				obs.merge(o)
			}
		}
		readable := reachSet(br.Read)
		alterable := reachSet(br.Alter)
		channels := map[string]bool{}
		for _, ch := range br.Channels {
			channels[ch.Channel] = true
		}
		inSet := map[string]bool{}
		for _, m := range set {
			inSet[m] = true
		}
		name := func(res string) string {
			if r := p.Resource(res); r != nil {
				return labelled(r)
			}
			return res
		}
		for _, r := range sortedKeys(obs.read) {
			if readable[r] {
				b.Reached = append(b.Reached, "read "+name(r))
			} else {
				b.Beyond = append(b.Beyond, "read "+name(r))
			}
		}
		for _, r := range sortedKeys(obs.alter) {
			if alterable[r] {
				b.Reached = append(b.Reached, "alter "+name(r))
			} else {
				b.Beyond = append(b.Beyond, "alter "+name(r))
			}
		}
		for _, ch := range sortedKeys(obs.channels) {
			if channels[ch] {
				b.Reached = append(b.Reached, "channel "+ch)
			} else {
				b.Beyond = append(b.Beyond, "channel "+ch)
			}
		}
		for _, a := range sortedKeys(obs.unmatched) {
			b.Beyond = append(b.Beyond, "connect "+a+" (no channel)")
		}
		for _, m := range sortedKeys(obs.compartments) {
			if m == c {
				continue
			}
			if inSet[m] {
				b.Reached = append(b.Reached, "compartment "+m)
			} else {
				b.Beyond = append(b.Beyond, "compartment "+m)
			}
		}
		// could still reach: the blast radius not observed, labelled
		// resources first
		var could []string
		for _, t := range br.TakenOver {
			if !obs.compartments[t.Compartment] {
				could = append(could, "compartment "+t.Compartment)
			}
		}
		could = append(could, unreached(p, br.Read, obs.read, "read ")...)
		could = append(could, unreached(p, br.Alter, obs.alter, "alter ")...)
		for _, ch := range br.Channels {
			if !obs.channels[ch.Channel] {
				could = append(could, "channel "+ch.Channel)
			}
		}
		b.CouldReach = could
		// cannot reach: compartments outside the compromised set, and
		// labelled resources it can neither read nor alter
		for _, cc := range p.Compartments {
			if !inSet[cc.Name] {
				b.CannotReach = append(b.CannotReach, "compartment "+cc.Name)
			}
		}
		for _, r := range p.Resources {
			if readable[r.Name] || alterable[r.Name] {
				continue
			}
			if r.HasLabel(policy.LabelSecret) || r.HasLabel(policy.LabelIntegrityCritical) || r.HasLabel(policy.LabelPersonalData) {
				b.CannotReach = append(b.CannotReach, labelled(r))
			}
		}
		out = append(out, b)
	}
	return out
}

func reachSet(rs []analysis.Reach) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		m[r.Object] = true
	}
	return m
}

// unreached lists the resources of rs not observed, labelled ones first.
func unreached(p *policy.Policy, rs []analysis.Reach, seen map[string]bool, verb string) []string {
	var first, rest []string
	for _, r := range rs {
		if seen[r.Object] {
			continue
		}
		res := p.Resource(r.Object)
		if res == nil {
			continue
		}
		s := verb + labelled(res)
		if len(r.Labels) > 0 {
			first = append(first, s)
		} else {
			rest = append(rest, s)
		}
	}
	return append(first, rest...)
}

// countermeasures derives what to do from the report.
func (inv *Investigation) countermeasures(rep *Report) []Countermeasure {
	var out []Countermeasure
	seen := map[[2]string]bool{}
	add := func(action, target, reason string) {
		if seen[[2]string{action, target}] {
			return
		}
		seen[[2]string{action, target}] = true
		out = append(out, Countermeasure{Action: action, Target: target, Reason: reason})
	}
	im := rep.Impact
	if im != nil {
		for _, s := range im.Secrets {
			target := "secret " + s.Path
			switch {
			case s.Resource != "" && strings.HasPrefix(s.Path, s.Resource+" "):
				target = "secret " + s.Path // "NAME (path redacted)"
			case s.Resource != "":
				target = "secret " + s.Resource + " (" + s.Path + ")"
			}
			why := "read by " + strings.Join(s.By, ", ") + " after it was compromised"
			if s.Before {
				why = "held in the memory of " + strings.Join(s.By, ", ") + ", which was compromised"
			}
			if s.How == "name" {
				why += " (a secret by its name)"
			}
			add("rotate", target, why)
		}
	}
	// compartments: re-image when their code, integrity-critical
	// configuration or the sealed root was altered, else restart
	if im != nil {
		reimage := map[string]string{}
		for _, f := range im.Files {
			crit := f.Sealed || slices.Contains(f.Labels, string(policy.LabelIntegrityCritical)) || slices.Contains(f.Labels, string(policy.LabelExecutable))
			if !crit {
				continue
			}
			for _, c := range im.Compartments {
				if _, ok := reimage[c]; !ok {
					reimage[c] = "integrity-critical file " + f.Path + " was altered"
				}
			}
		}
		for _, c := range im.Compartments {
			if why, ok := reimage[c]; ok {
				add("reimage", "compartment "+c, why)
			} else {
				add("restart", "compartment "+c, "its processes ran attacker-influenced code or data ("+inv.processesOf(im, c)+")")
			}
		}
		if len(im.Compartments) == 0 && len(im.Processes) > 0 {
			add("restart", "processes", "tainted processes not attributed to a compartment: "+inv.processesOf(im, ""))
		}
		if im.Sealed.Touched {
			add("reimage", "node", "the sealed root filesystem was written: "+strings.Join(im.Sealed.Writes, ", "))
		} else if len(im.Sealed.Attempts) > 0 {
			add("verify", "sealed root filesystem", "tainted processes tried to modify it: "+strings.Join(im.Sealed.Attempts, ", "))
		}
		// files: one by one, then by directory beyond maxListed
		const maxListed = 25
		type dirCount struct {
			n  int
			by []string
		}
		dirs := map[string]*dirCount{}
		var dirOrder []string
		listed := 0
		for _, f := range im.Files {
			if f.Kind != "file" || f.Sealed {
				continue
			}
			action := "restore"
			if f.Temp {
				action = "remove"
			}
			if listed < maxListed {
				listed++
				add(action, f.Path, strings.Join(f.Actions, ", ")+" by "+list(f.By, 3))
				continue
			}
			d := path.Dir(f.Path)
			if dirs[d] == nil {
				dirs[d] = &dirCount{}
				dirOrder = append(dirOrder, d)
			}
			dirs[d].n++
			for _, b := range f.By {
				if len(dirs[d].by) < 3 {
					dirs[d].by = appendUnique(dirs[d].by, b)
				}
			}
		}
		for _, d := range dirOrder {
			add("restore", fmt.Sprintf("%d more files in %s", dirs[d].n, d), "modified by "+strings.Join(dirs[d].by, ", ")+"… (all in --json)")
		}
	}
	if rc := rep.RootCause; rc != nil {
		for _, ep := range rc.EntryPoints {
			switch ep.Kind {
			case EntryInbound:
				peer, _, _ := strings.Cut(strings.TrimPrefix(ep.Node.Name, "endpoint "), " → ")
				add("block", peer, "entry point: "+ep.Detail)
			case EntryLogin:
				add("review", ep.Node.Name, "entry point: "+ep.Detail)
			}
		}
	}
	if im != nil {
		// outbound endpoints, those sent the most first, 25 at most
		eps := slices.Clone(im.Endpoints)
		slices.SortFunc(eps, func(a, b EndpointContact) int {
			if c := cmp.Compare(b.BytesSent, a.BytesSent); c != 0 {
				return c
			}
			return strings.Compare(a.Address, b.Address)
		})
		blocked := 0
		for _, e := range eps {
			if e.Direction != "outbound" {
				continue
			}
			if blocked++; blocked > 25 {
				continue
			}
			why := "contacted by " + list(e.By, 3)
			if e.BytesSent > 0 {
				why += fmt.Sprintf(", %d bytes sent", e.BytesSent)
			}
			if !e.Remote {
				why += " (a local listener: find and stop it)"
			}
			add("block", e.Address, why)
		}
		if blocked > 25 {
			add("block", fmt.Sprintf("%d more endpoints", blocked-25), "contacted by tainted processes (all in --json)")
		}
		for _, s := range im.Sessions {
			add("review", s, "a tainted process ran in it")
		}
	}
	return out
}

// processesOf lists the tainted processes of compartment c ("" for the
// unattributed), at most 5.
func (inv *Investigation) processesOf(im *Impact, c string) string {
	var names []string
	for _, p := range im.Processes {
		if p.Compartment == c && !p.Unobserved {
			names = appendUnique(names, p.Name)
		}
	}
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}

// list joins at most max names, saying how many more there are.
func list(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}
