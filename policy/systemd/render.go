package systemd

import (
	"fmt"
	"strings"
)

// render formats a unit's drop-in.
func (c *compiler) render(pl *unitPlan) string {
	var b strings.Builder
	name := c.p.Name
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(&b, "# Rampart hardening for %s, generated from policy %q\n", pl.unit, name)
	b.WriteString("# by \"rampart policy compile --target systemd\". Do not edit: change the\n")
	b.WriteString("# policy and compile again. Every setting below replaces the vendor unit's;\n")
	b.WriteString("# list settings are reset first (an empty assignment).\n#\n")
	for _, m := range pl.primaries {
		fmt.Fprintf(&b, "# compartment %s (tier %s)\n#   from %s\n", m.Name, m.Tier, c.pos(m.Range))
	}
	first := true
	for _, m := range pl.members {
		par, ok := pl.parent[m.Name]
		if !ok {
			continue
		}
		if first {
			b.WriteString("# spawned into this unit (no unit of their own), so the sandbox admits\n# what they need too:\n")
			first = false
		}
		fmt.Fprintf(&b, "# compartment %s (tier %s), spawned by %s\n#   from %s\n", m.Name, m.Tier, par, c.pos(m.Range))
	}
	for _, v := range pl.viaUnit {
		fmt.Fprintf(&b, "# %s\n", v)
	}
	b.WriteString("\n[Service]\n")
	for _, d := range pl.directives {
		if len(d.Why) > 0 {
			b.WriteByte('\n')
			for _, w := range d.Why {
				fmt.Fprintf(&b, "# %s\n", w)
			}
		}
		fmt.Fprintf(&b, "%s=%s\n", d.Key, d.Value)
	}
	return b.String()
}
