package systemd

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rampart-sec/rampart/policy"
)

type compiler struct {
	p    *policy.Policy
	opts Options
	root string // absolute SourceRoot, or ""

	warnings []Warning
	warned   map[string]bool
	// execRes holds the resources that contain some compartment's
	// executable or are labelled executable: never hidden.
	execRes map[string]bool
}

// unitPlan is one service unit and the compartments running in it.
type unitPlan struct {
	unit string
	// primaries name the unit (or default to it); members add the
	// compartments they spawn without a unit of their own, transitively.
	primaries []*policy.Compartment
	members   []*policy.Compartment
	// parent maps an in-unit member to the member that spawns it.
	parent map[string]string
	// viaUnit lists spawns of compartments that run in units of their own.
	viaUnit []string

	user, group string
	directives  []Directive
}

func (c *compiler) compile() (*Output, error) {
	c.warned = make(map[string]bool)
	c.execRes = make(map[string]bool)
	for _, r := range c.p.Resources {
		if r.HasLabel(policy.LabelExecutable) {
			c.execRes[r.Name] = true
		}
	}
	for _, comp := range c.p.Compartments {
		for _, exe := range comp.Executables {
			if r := c.p.ResourceAt(exe); r != nil {
				c.execRes[r.Name] = true
			}
		}
	}

	// Units and their primaries, in policy order.
	var diags []policy.Diagnostic
	plans := make(map[string]*unitPlan)
	var order []string
	for _, comp := range c.p.Compartments {
		u := UnitName(comp)
		if !strings.HasSuffix(u, ".service") {
			diags = append(diags, policy.Diagnostic{
				Range:   comp.Range,
				Message: fmt.Sprintf("compartment %q: unit %q is not a service: systemd applies sandboxing settings only to the .service a socket activates, and not at all to scopes", comp.Name, u),
				Hint:    "name the .service unit that runs the compartment's executable",
			})
			continue
		}
		pl := plans[u]
		if pl == nil {
			pl = &unitPlan{unit: u, parent: make(map[string]string), user: comp.User, group: comp.Group}
			plans[u] = pl
			order = append(order, u)
		} else {
			first := pl.primaries[0]
			if comp.User != pl.user || comp.Group != pl.group {
				diags = append(diags, policy.Diagnostic{
					Range: comp.Range,
					Message: fmt.Sprintf("compartment %q runs as %s but shares unit %q with compartment %q (%s), which runs as %s: a unit has one identity",
						comp.Name, identity(comp.User, comp.Group), u, first.Name, c.pos(first.Range), identity(pl.user, pl.group)),
					Hint: "give one of them a unit of its own",
				})
				continue
			}
		}
		pl.primaries = append(pl.primaries, comp)
	}
	if len(diags) > 0 {
		return nil, &policy.Error{Diagnostics: diags}
	}

	for _, u := range order {
		pl := plans[u]
		c.members(pl)
		c.build(pl)
	}
	c.roleWarnings()
	for _, comp := range c.p.Compartments {
		if !comp.IsolateInstances {
			continue
		}
		var shared []string
		for _, u := range order {
			if pl := plans[u]; u != UnitName(comp) && slices.Contains(pl.members, comp) {
				shared = append(shared, u)
			}
		}
		if len(shared) > 0 {
			c.warn(comp.Name, comp.Range, fmt.Sprintf("isolate_instances: instances spawned inside %s share its namespaces, cgroup and user; systemd cannot separate them (the Rampart launcher or SELinux must)", strings.Join(shared, ", ")))
		}
		if !strings.Contains(UnitName(comp), "@.") {
			c.warn(comp.Name, comp.Range, fmt.Sprintf("isolate_instances: %s is not a template, so it runs one instance; a template unit (unit = \"…@.service\") gives each instance its own namespaces and cgroup", UnitName(comp)))
		}
	}

	out := &Output{}
	for _, comp := range c.p.Compartments {
		pl := plans[UnitName(comp)]
		d := DropIn{
			Compartment: comp.Name,
			Unit:        pl.unit,
			Path:        pl.unit + ".d/" + c.opts.DropInName,
			Directives:  pl.directives,
			Content:     c.render(pl),
		}
		for _, m := range pl.members {
			d.Members = append(d.Members, m.Name)
		}
		out.DropIns = append(out.DropIns, d)
	}
	out.Warnings = c.warnings
	return out, nil
}

func identity(user, group string) string {
	if user == "" {
		user = "(unset)"
	}
	if group == "" {
		group = "(unset)"
	}
	return "user " + user + ", group " + group
}

// members computes the compartments running in pl's unit: the primaries
// and, transitively, the compartments they spawn that have no unit of
// their own (a spawned process inherits the unit's sandbox).
func (c *compiler) members(pl *unitPlan) {
	pl.members = append(pl.members, pl.primaries...)
	caps := make(map[policy.Capability]bool)
	for _, m := range pl.primaries {
		for _, cp := range m.Capabilities {
			caps[cp] = true
		}
	}
	for i := 0; i < len(pl.members); i++ {
		m := pl.members[i]
		for _, t := range c.p.SpawnTargets(m.Name) {
			tc := c.p.Compartment(t)
			if tc == nil || slices.Contains(pl.members, tc) {
				continue
			}
			rng := c.spawnRange(m.Name, t)
			if tc.Unit != "" && tc.Unit != pl.unit {
				pl.viaUnit = append(pl.viaUnit, fmt.Sprintf("%s starts %s through its own unit %s (spawn at %s)", m.Name, tc.Name, tc.Unit, c.pos(rng)))
				continue
			}
			var why []string
			if tc.User != "" && tc.User != pl.user {
				why = append(why, fmt.Sprintf("runs as user %s, the unit as %s", tc.User, orUnset(pl.user)))
			}
			if tc.Group != "" && tc.Group != pl.group {
				why = append(why, fmt.Sprintf("has group %s, the unit %s", tc.Group, orUnset(pl.group)))
			}
			var extra []string
			for _, cp := range tc.Capabilities {
				if !caps[cp] {
					extra = append(extra, string(cp))
				}
			}
			if len(extra) > 0 {
				why = append(why, "holds "+strings.Join(extra, ", ")+", which the unit's own compartments do not")
			}
			if len(why) > 0 {
				c.warn(tc.Name, rng, fmt.Sprintf("spawned by %s, it would run inside %s, but it %s; under NoNewPrivileges=yes and the unit's capability bounding set it cannot gain that identity (no sudo, no setuid): give it a unit of its own (unit = \"...\") and start that unit instead of executing it; its drop-in here is for %s",
					m.Name, pl.unit, strings.Join(why, " and "), UnitName(tc)))
				continue
			}
			pl.members = append(pl.members, tc)
			pl.parent[tc.Name] = m.Name
			c.warn(tc.Name, rng, fmt.Sprintf("spawned by %s without a unit of its own, it runs inside %s, whose sandbox admits what every member needs; its stricter drop-in for %s applies only when it is started as that unit, so the rest of its confinement inside %s comes from SELinux or the Rampart launcher", m.Name, pl.unit, UnitName(tc), pl.unit))
		}
	}
	// Policy order for members (primaries first is not needed: the
	// header lists primaries separately).
	slices.SortStableFunc(pl.members, func(a, b *policy.Compartment) int {
		return slices.Index(c.p.Compartments, a) - slices.Index(c.p.Compartments, b)
	})
}

// roleWarnings reports compartments that only operator roles enter: a
// login session runs in a session scope, which takes no sandboxing, so
// the compartment's drop-in binds only where it is started as its unit.
func (c *compiler) roleWarnings() {
	spawned := make(map[string]bool)
	for _, s := range c.p.Spawns {
		for _, t := range s.To {
			spawned[t] = true
		}
	}
	for _, comp := range c.p.Compartments {
		if comp.Unit != "" || spawned[comp.Name] {
			continue
		}
		var roles []string
		for _, r := range c.p.Roles {
			if slices.Contains(r.Enter, comp.Name) {
				roles = append(roles, r.Name)
			}
		}
		if len(roles) == 0 {
			continue
		}
		c.warn(comp.Name, comp.Range, fmt.Sprintf("entered by roles %s: sessions run in login session scopes, which systemd does not sandbox; the drop-in for %s binds only where the compartment is started as that service (for example a ForceCommand running systemd-run --unit)",
			strings.Join(roles, ", "), UnitName(comp)))
	}
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

func (c *compiler) spawnRange(from, to string) hcl.Range {
	for _, s := range c.p.Spawns {
		if s.From == from && slices.Contains(s.To, to) {
			return s.Range
		}
	}
	if comp := c.p.Compartment(to); comp != nil {
		return comp.Range
	}
	return hcl.Range{}
}

func (c *compiler) warn(comp string, rng hcl.Range, msg string) {
	key := comp + "\x00" + c.pos(rng) + "\x00" + msg
	if c.warned[key] {
		return
	}
	c.warned[key] = true
	w := Warning{Compartment: comp, Range: rng, Message: msg}
	w.Range.Filename = c.file(rng.Filename)
	c.warnings = append(c.warnings, w)
}

// file returns name relative to the source root when it lies inside it.
func (c *compiler) file(name string) string {
	if c.root == "" || name == "" {
		return name
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return name
	}
	rel, err := filepath.Rel(c.root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return name
	}
	return filepath.ToSlash(rel)
}

// pos formats a range as "file:line".
func (c *compiler) pos(r hcl.Range) string {
	if r.Filename == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d", c.file(r.Filename), r.Start.Line)
}
