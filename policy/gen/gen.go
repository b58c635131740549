// Package gen generates large synthetic policies for benchmarks and
// scale tests. The output is deterministic for a given configuration and
// seed, loads without diagnostics, and satisfies its own invariants.
package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// Generate returns a policy with n compartments and m resources built from
// seed, loaded through policy.Parse (so the loader is exercised too).
func Generate(n, m int, seed int64) (*policy.Policy, error) {
	return policy.Parse(fmt.Sprintf("generated-%d-%d-%d.hcl", n, m, seed), Source(n, m, seed))
}

// Source returns the HCL text of the policy Generate loads. n is at least
// 1 and m at least 0 (smaller values are raised).
//
// Shape, for benchmark realism: compartment cI runs /opt/gen/bin/cI with a
// tier cycling untrusted, network-facing, trusted, trusted, privileged
// (one in five each, three in five trusted); resource rJ is a directory
// /srv/cK/rJ/** owned by cK, and one in ten resources is nested inside the
// previous one, one in ten is a single file, one in ten a "*.log" pattern;
// one in 25 is secret (owned by a trusted compartment, read only by it),
// one in 20 personal-data. Each compartment owns its resources and reads
// three random non-secret ones; one in ten serves a unix socket with two
// clients, each network-facing one serves a TCP port open to the network;
// one in five spawns the next two compartments. Roles admin and readonly
// read random non-secret resources. Invariants: untrusted compartments
// read no secret and reach no network, no flow from secrets to the
// network except through their owners, untrusted compartments spawn no
// privileged one.
func Source(n, m int, seed int64) []byte {
	n = max(n, 1)
	m = max(m, 0)
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	var b strings.Builder
	b.Grow(m*180 + n*400)
	fmt.Fprintf(&b, "policy {\n  name = %q\n}\n\n", fmt.Sprintf("generated-%d-%d", n, m))

	tiers := []string{"untrusted", "network-facing", "trusted", "trusted", "privileged", "trusted"}
	tierOf := func(i int) string { return tiers[i%len(tiers)] }
	trusted := func(i int) bool { t := tierOf(i); return t == "trusted" || t == "privileged" }

	type res struct {
		name, owner string
		secret      bool
	}
	resources := make([]res, m)
	owned := make([][]int, n)
	var secrets []int
	var nonSecret []int
	for j := 0; j < m; j++ {
		owner := rng.IntN(n)
		secret := j%25 == 24
		if secret {
			// Secrets belong to trusted compartments.
			for k := 0; k < n && !trusted(owner); k++ {
				owner = (owner + 1) % n
			}
			secret = trusted(owner)
		}
		// A secret keeps its trusted owner: it is never nested in another
		// compartment's resource.
		nested := j%10 == 9 && j > 0 && !resources[j-1].secret && !secret
		labels := []string{}
		if secret {
			labels = append(labels, `"secret"`)
			secrets = append(secrets, j)
		} else {
			nonSecret = append(nonSecret, j)
		}
		if j%20 == 19 {
			labels = append(labels, `"personal-data"`)
		}
		var path, kind string
		switch {
		case nested:
			prev := resources[j-1]
			owner = ownerIndex(prev.owner)
			path = fmt.Sprintf("/srv/%s/%s/sub%d/**", prev.owner, prev.name, j)
			kind = "directory"
			if j%20 == 19 || (j-1)%20 == 19 {
				// Keep the parent's protection label.
				if !contains(labels, `"personal-data"`) {
					labels = append(labels, `"personal-data"`)
				}
			}
		case j%10 == 3:
			path = fmt.Sprintf("/etc/gen/c%d/r%d.conf", owner, j)
			kind = "file"
		case j%10 == 5:
			path = fmt.Sprintf("/var/log/gen/c%d/r%d-*.log", owner, j)
			kind = "file"
		default:
			path = fmt.Sprintf("/srv/c%d/r%d/**", owner, j)
			kind = "directory"
		}
		resources[j] = res{fmt.Sprintf("r%d", j), fmt.Sprintf("c%d", owner), secret}
		owned[owner] = append(owned[owner], j)
		fmt.Fprintf(&b, "resource %q {\n  kind = %q\n  paths = [%q]\n  labels = [%s]\n  owner = %q\n}\n",
			resources[j].name, kind, path, strings.Join(labels, ", "), resources[j].owner)
	}
	b.WriteByte('\n')

	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "compartment \"c%d\" {\n  tier = %q\n  executables = [\"/opt/gen/bin/c%d\"]\n  user = \"u%d\"\n  syscalls = [\"@system-service\"]\n", i, tierOf(i), i, i)
		if len(owned[i]) > 0 {
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"read\", \"write\", \"create\", \"delete\"]\n    on = [%s]\n  }\n", quoteRes(resources, owned[i], nil))
		}
		if len(nonSecret) > 0 {
			pick := make([]int, 0, 3)
			for k := 0; k < 3; k++ {
				pick = append(pick, nonSecret[rng.IntN(len(nonSecret))])
			}
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"read\"]\n    on = [%s]\n  }\n", quoteRes(resources, pick, nil))
		}
		if i%7 == 0 && n > 1 {
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"signal\"]\n    on = [\"c%d\"]\n  }\n", (i+1)%n)
		}
		b.WriteString("}\n")
	}
	b.WriteByte('\n')

	network := 0
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			clients := fmt.Sprintf("\"c%d\"", (i+3)%n)
			if (i+7)%n != (i+3)%n {
				clients += fmt.Sprintf(", \"c%d\"", (i+7)%n)
			}
			fmt.Fprintf(&b, "channel \"sock%d\" {\n  protocol = \"unix\"\n  path = \"/run/gen/c%d.sock\"\n  server = \"c%d\"\n  clients = [%s]\n}\n",
				i, i, i, clients)
		}
		if tierOf(i) == "network-facing" && i < 65535-10000 {
			fmt.Fprintf(&b, "channel \"net%d\" {\n  protocol = \"tcp\"\n  ports = [%d]\n  server = \"c%d\"\n  remote = [\"any\"]\n}\n", i, 10000+i, i)
			network++
		}
		if i%5 == 0 && n > 2 {
			fmt.Fprintf(&b, "spawn {\n  from = \"c%d\"\n  to = [\"c%d\", \"c%d\"]\n}\n", i, (i+1)%n, (i+2)%n)
		}
	}
	b.WriteByte('\n')

	for _, role := range []string{"admin", "readonly"} {
		fmt.Fprintf(&b, "role %q {\n  accounts = [%q]\n", role, role)
		if len(nonSecret) > 0 {
			pick := make([]int, 0, 20)
			for k := 0; k < 20; k++ {
				pick = append(pick, nonSecret[rng.IntN(len(nonSecret))])
			}
			fmt.Fprintf(&b, "  allow {\n    verbs = [\"read\"]\n    on = [%s]\n  }\n", quoteRes(resources, pick, nil))
		}
		b.WriteString("}\n")
	}
	b.WriteByte('\n')

	hasUntrusted := n > 0 // c0 is untrusted
	hasPrivileged := n > 4
	if len(secrets) > 0 && hasUntrusted {
		b.WriteString("deny_access \"untrusted_no_secrets\" {\n  subjects = tier(\"untrusted\")\n  verbs = [\"read\", \"write\", \"map-exec\"]\n  objects = labelled(\"secret\")\n}\n")
	}
	if network > 0 && hasUntrusted {
		b.WriteString("deny_access \"untrusted_no_network\" {\n  subjects = tier(\"untrusted\")\n  verbs = [\"connect\", \"bind\", \"listen\"]\n  objects = network()\n}\n")
	}
	if len(secrets) > 0 && network > 0 {
		owners := make([]string, 0, len(secrets))
		seen := map[string]bool{}
		for _, j := range secrets {
			if o := resources[j].owner; !seen[o] {
				seen[o] = true
				owners = append(owners, fmt.Sprintf("%q", o))
			}
		}
		fmt.Fprintf(&b, "no_flow \"secrets_stay_home\" {\n  from = labelled(\"secret\")\n  to = network()\n  except_through = [%s]\n}\n", strings.Join(owners, ", "))
	}
	if hasUntrusted && hasPrivileged {
		b.WriteString("deny_spawn \"untrusted_no_privileged\" {\n  from = tier(\"untrusted\")\n  to = tier(\"privileged\")\n  transitive = false\n}\n")
	}
	return []byte(b.String())
}

func ownerIndex(name string) int {
	var i int
	fmt.Sscanf(name, "c%d", &i)
	return i
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func quoteRes[T any](resources []T, idx []int, _ []int) string {
	seen := make(map[int]bool, len(idx))
	parts := make([]string, 0, len(idx))
	for _, j := range idx {
		if seen[j] {
			continue
		}
		seen[j] = true
		parts = append(parts, fmt.Sprintf("\"r%d\"", j))
	}
	return strings.Join(parts, ", ")
}
