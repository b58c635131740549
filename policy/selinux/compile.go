package selinux

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/rampart-sec/rampart/policy"
)

// Options configure Compile. The zero value (or nil) is the production
// setting.
type Options struct {
	// HandleUnknown is the policy's handleunknown statement: "deny" (the
	// default: the policy declares the kernel's full class and permission
	// set, see classes.go) or "allow" (bring-up on a kernel with classes
	// newer than this compiler's table).
	HandleUnknown string
	// Permissive names compartments and roles whose domains are compiled
	// permissive (CIL typepermissive): denials are logged, not enforced.
	// It is for learning a policy from denials, never for production.
	Permissive []string
}

// TypeKind says what a generated SELinux type or attribute stands for.
type TypeKind string

// Type kinds in Output.Types.
const (
	// KindDomain is the domain of a compartment or an operator role.
	KindDomain TypeKind = "domain"
	// KindExec is the file type of a compartment's executables (the
	// entrypoint of its domain).
	KindExec TypeKind = "exec"
	// KindResource is the file type of a resource.
	KindResource TypeKind = "resource"
	// KindResourceSet is an attribute holding a resource's type and the
	// executable and socket types of paths the resource governs.
	KindResourceSet TypeKind = "resource-set"
	// KindSocket is the sock_file type of a unix channel's socket path.
	KindSocket TypeKind = "socket"
	// KindPort is the type of a TCP or UDP port range (portcon).
	KindPort TypeKind = "port"
	// KindInvariant is an attribute built for an invariant's selector.
	KindInvariant TypeKind = "invariant"
	// KindSkeleton is a type or attribute of the fixed skeleton.
	KindSkeleton TypeKind = "skeleton"
)

// TypeInfo describes a generated type or attribute.
type TypeInfo struct {
	Kind TypeKind
	// Attribute reports whether the name is a type attribute.
	Attribute bool
	// Entity is the compartment, role, resource, channel or invariant the
	// name stands for; empty for skeleton names. Port types shared by
	// several channels name the first; Channels lists all.
	Entity string
	// Channels lists the channels a port type serves.
	Channels []string
	// Description is a short human-readable note.
	Description string
}

// Neverallow is one neverallow statement generated for an invariant.
type Neverallow struct {
	Invariant string
	// Line is the statement's line in Output.CIL (1-based).
	Line      int
	Statement string
}

// Gap is a part of an invariant that SELinux cannot express, listed in
// the CIL as a comment.
type Gap struct {
	Invariant string
	// Verb and Object name the denied access that cannot be expressed;
	// both are empty when the whole invariant cannot be (no_flow).
	Verb   string
	Object string
	Reason string
}

// String formats g for reports.
func (g Gap) String() string {
	if g.Verb == "" {
		return fmt.Sprintf("%s: %s", g.Invariant, g.Reason)
	}
	return fmt.Sprintf("%s: %s %s: %s", g.Invariant, g.Verb, g.Object, g.Reason)
}

// Output is the result of Compile.
type Output struct {
	// CIL is the complete, standalone policy in CIL.
	CIL []byte
	// FileContexts is the file_contexts secilc writes for CIL (the same
	// entries in the same order), for inspection without secilc.
	FileContexts []byte
	// Seusers is the seusers file for the policy's store: operator role
	// accounts log in as their role's SELinux user, everyone else as
	// system_u (secilc does not write it; semodule would).
	Seusers []byte
	// Types maps every generated type and attribute to what it stands for.
	Types map[string]TypeInfo
	// Domains maps compartments and roles to their domain types.
	Domains map[string]string
	// ExecTypes maps compartments to the file types of their executables.
	ExecTypes map[string][]string
	// ExecPaths maps each executable path to its exec type.
	ExecPaths map[string]string
	// ResourceTypes maps resources to their file types.
	ResourceTypes map[string]string
	// ResourceSets maps a resource to its KindResourceSet attribute, for
	// resources that govern executables or socket paths; allow rules on
	// the resource name the attribute.
	ResourceSets map[string]string
	// ChannelTypes maps channels to their socket type (unix with a path)
	// or port types (tcp, udp). Anonymous unix and vsock channels have
	// none: their access is granted on domains.
	ChannelTypes map[string][]string
	// Roles and Users map operator roles to their SELinux role and user.
	Roles map[string]string
	Users map[string]string
	// Neverallows lists the generated neverallow statements.
	Neverallows []Neverallow
	// NotExpressible lists invariant parts SELinux cannot express.
	NotExpressible []Gap
	// Warnings are compile-time findings that do not stop compilation,
	// e.g. a path whose file context resolves differently from the
	// policy's most-specific-glob rule.
	Warnings []string
}

// Skeleton names. They are reserved before any generated name.
const (
	sysUser      = "system_u"
	sysRole      = "system_r"
	objRole      = "object_r"
	levelRange   = "low_low"
	unconfinedT  = "unconfined_t"
	unlabeledT   = "unlabeled_t"
	fsT          = "fs_t"
	securityT    = "security_t"
	defaultT     = "default_t"
	deviceT      = "device_t"
	nullDeviceT  = "null_device_t"
	devptsT      = "devpts_t"
	tmpfsT       = "tmpfs_t"
	procT        = "proc_t"
	sysfsT       = "sysfs_t"
	kernelfsT    = "kernelfs_t"
	cgroupT      = "cgroup_t"
	portT        = "port_t"
	nodeT        = "node_t"
	netifT       = "netif_t"
	attrAll      = "all_types"
	attrDomain   = "domain"
	attrComp     = "compartment_domain"
	attrRoleDom  = "role_domain"
	attrExec     = "exec_type"
	attrResource = "resource_type"
	attrFile     = "file_type"
	attrPort     = "port_type"
	attrSocket   = "socket_type"
	attrFS       = "filesystem_type"
)

// skeletonTypes are the skeleton's types with their descriptions.
var skeletonTypes = []struct{ name, desc string }{
	{unconfinedT, "the system outside every compartment: kernel threads, init, services and logins the policy does not name; unrestricted"},
	{unlabeledT, "objects whose label is invalid or missing (initial SIDs unlabeled, file, netmsg)"},
	{fsT, "filesystems (superblocks) with extended attributes"},
	{securityT, "selinuxfs and the security server"},
	{defaultT, "paths no resource governs, and non-xattr filesystems"},
	{deviceT, "device nodes no resource governs (devtmpfs)"},
	{nullDeviceT, "/dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom"},
	{devptsT, "pseudo-terminals"},
	{tmpfsT, "tmpfs, mqueue, hugetlbfs and ramfs objects"},
	{procT, "/proc (processes' own entries carry their domain)"},
	{sysfsT, "/sys"},
	{kernelfsT, "debugfs, tracefs, securityfs, pstore, bpf, efivarfs and other kernel filesystems"},
	{cgroupT, "cgroup filesystems"},
	{portT, "ports no channel names"},
	{nodeT, "network nodes (addresses)"},
	{netifT, "network interfaces"},
}

var skeletonAttrs = []struct{ name, desc string }{
	{attrAll, "every type"},
	{attrDomain, "every compartment and role domain"},
	{attrComp, "compartment domains"},
	{attrRoleDom, "operator role domains"},
	{attrExec, "compartment executables"},
	{attrResource, "resource file types"},
	{attrFile, "every file type (resources, executables, sockets, skeleton file types)"},
	{attrPort, "channel port types"},
	{attrSocket, "unix channel socket types"},
	{attrFS, "types that label filesystems (superblocks)"},
}

// skeletonFileTypes are the skeleton types that label files.
var skeletonFileTypes = []string{unlabeledT, fsT, securityT, defaultT, deviceT, nullDeviceT,
	devptsT, tmpfsT, procT, sysfsT, kernelfsT, cgroupT}

func tierAttr(t policy.Tier) string { return "tier_" + sanitize(t.String()) }

// compiler holds the state of one Compile call.
type compiler struct {
	p    *policy.Policy
	opts Options
	n    *namer
	out  *Output

	fileIndex map[string]int // file name -> position in p.Files

	subjects  []string // compartments then roles, each sorted by name
	domain    map[string]string
	execOf    map[string]string   // exec path -> exec type
	execTypes map[string][]string // compartment -> exec types
	execRes   map[string]string   // exec type -> governing resource ("" none)
	resType   map[string]string
	resSet    map[string]string
	resExtra  map[string][]string // resource -> exec and socket types it governs
	sockType  map[string]string   // channel -> socket type
	portTypes map[string][]string // channel -> port types
	ports     []portSeg

	fcs []*fcEntry

	subjectGrants []subjectGrants
	incidental    map[tupleKey]bool
	transTypes    []typeTrans // type transitions
	gaps          []Gap
	invBlocks     []invBlock
}

// portSeg is a maximal port range covered by one set of channels.
type portSeg struct {
	proto       policy.Protocol
	first, last uint16
	channels    []string
	typ         string
}

// Compile translates p into a complete, standalone SELinux policy in CIL
// for secilc 3.4 (see docs/policy.md, "SELinux backend"). It returns an
// error when the policy cannot be expressed (a path file_contexts cannot
// carry, an unknown name in opts).
func Compile(p *policy.Policy, opts *Options) (*Output, error) {
	c := &compiler{
		p: p, n: newNamer(),
		out: &Output{
			Types: make(map[string]TypeInfo), Domains: make(map[string]string),
			ExecTypes: make(map[string][]string), ExecPaths: make(map[string]string),
			ResourceTypes: make(map[string]string), ResourceSets: make(map[string]string),
			ChannelTypes: make(map[string][]string), Roles: make(map[string]string),
			Users: make(map[string]string),
		},
		fileIndex:  make(map[string]int),
		domain:     make(map[string]string),
		execOf:     make(map[string]string),
		execTypes:  make(map[string][]string),
		execRes:    make(map[string]string),
		resType:    make(map[string]string),
		resSet:     make(map[string]string),
		resExtra:   make(map[string][]string),
		sockType:   make(map[string]string),
		portTypes:  make(map[string][]string),
		incidental: make(map[tupleKey]bool),
	}
	if opts != nil {
		c.opts = *opts
	}
	switch c.opts.HandleUnknown {
	case "":
		c.opts.HandleUnknown = "deny"
	case "deny", "allow":
	default:
		return nil, fmt.Errorf("selinux: handleunknown %q: want deny or allow", c.opts.HandleUnknown)
	}
	for _, name := range c.opts.Permissive {
		if e, ok := p.Entity(name); !ok || (e.Kind != policy.EntityCompartment && e.Kind != policy.EntityRole) {
			return nil, fmt.Errorf("selinux: permissive: %q is not a compartment or role", name)
		}
	}
	for i, f := range p.Files {
		c.fileIndex[f] = i
	}
	c.reserveSkeleton()
	if err := c.allocate(); err != nil {
		return nil, err
	}
	c.buildFileContexts()
	c.buildGrants()
	c.buildInvariants()
	c.emit()
	return c.out, nil
}

func (c *compiler) reserveSkeleton() {
	c.n.reserve(sysUser, sysRole, objRole, levelRange, "self", "all", "s0", "c0")
	for _, t := range skeletonTypes {
		c.n.reserve(t.name)
		c.out.Types[t.name] = TypeInfo{Kind: KindSkeleton, Description: t.desc}
	}
	for _, a := range skeletonAttrs {
		c.n.reserve(a.name)
		c.out.Types[a.name] = TypeInfo{Kind: KindSkeleton, Attribute: true, Description: a.desc}
	}
	for _, t := range policy.Tiers() {
		c.n.reserve(tierAttr(t))
		c.out.Types[tierAttr(t)] = TypeInfo{Kind: KindSkeleton, Attribute: true, Description: "compartments of tier " + t.String()}
	}
	// Aliases of unconfined_t (see emit).
	c.n.reserve("dpkg_script_t", "rpm_script_t")
}

func sortedNames[T any](xs []T, name func(T) string) []T {
	out := slices.Clone(xs)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	return out
}

// allocate names every type, role and user, in a fixed order.
func (c *compiler) allocate() error {
	p := c.p
	comps := sortedNames(p.Compartments, func(x *policy.Compartment) string { return x.Name })
	roles := sortedNames(p.Roles, func(x *policy.Role) string { return x.Name })
	resources := sortedNames(p.Resources, func(x *policy.Resource) string { return x.Name })
	channels := sortedNames(p.Channels, func(x *policy.Channel) string { return x.Name })

	for _, x := range comps {
		d := c.n.alloc(x.Name, "_t")
		c.domain[x.Name] = d
		c.subjects = append(c.subjects, x.Name)
		c.out.Types[d] = TypeInfo{Kind: KindDomain, Entity: x.Name, Description: "compartment " + x.Name + " (tier " + x.Tier.String() + ")"}
	}
	for _, x := range roles {
		d := c.n.alloc(x.Name, "_t")
		c.domain[x.Name] = d
		c.subjects = append(c.subjects, x.Name)
		c.out.Types[d] = TypeInfo{Kind: KindDomain, Entity: x.Name, Description: "operator role " + x.Name}
	}
	for _, x := range resources {
		t := c.n.alloc(x.Name, "_t")
		c.resType[x.Name] = t
		c.out.Types[t] = TypeInfo{Kind: KindResource, Entity: x.Name, Description: x.Kind.String() + " resource " + x.Name}
		for i, g := range x.Paths {
			if err := checkPathChars(g); err != nil {
				return fmt.Errorf("%s: resource %q: %w", posString(rangeAt(x.PathRanges, i, x.Range)), x.Name, err)
			}
		}
	}
	// Executables: one exec type per compartment, or one per governing
	// resource when its executables lie in several resources.
	for _, x := range comps {
		groups := map[string][]string{}
		var keys []string
		for _, e := range x.Executables {
			if err := checkPathChars(e); err != nil {
				return fmt.Errorf("%s: compartment %q: %w", posString(x.Range), x.Name, err)
			}
			r := ""
			if res := p.ResourceAt(e); res != nil {
				r = res.Name
			}
			if _, ok := groups[r]; !ok {
				keys = append(keys, r)
			}
			groups[r] = append(groups[r], e)
		}
		slices.Sort(keys)
		for _, r := range keys {
			base := x.Name + "_exec"
			if len(keys) > 1 && r != "" {
				base = x.Name + "_" + r + "_exec"
			}
			t := c.n.alloc(base, "_t")
			c.execTypes[x.Name] = append(c.execTypes[x.Name], t)
			c.execRes[t] = r
			desc := "executables of compartment " + x.Name
			c.out.Types[t] = TypeInfo{Kind: KindExec, Entity: x.Name, Description: desc}
			for _, e := range groups[r] {
				c.execOf[e] = t
				c.out.ExecPaths[e] = t
			}
			if r != "" {
				c.resExtra[r] = append(c.resExtra[r], t)
			}
		}
		c.out.ExecTypes[x.Name] = slices.Clone(c.execTypes[x.Name])
	}
	for _, x := range roles {
		r := c.n.alloc(x.Name, "_r")
		u := c.n.alloc(x.Name, "_u")
		c.out.Roles[x.Name] = r
		c.out.Users[x.Name] = u
	}
	// Channels: socket types for unix channels with a path.
	for _, ch := range channels {
		if ch.Protocol != policy.ProtoUnix || ch.Path == "" {
			continue
		}
		if err := checkPathChars(ch.Path); err != nil {
			return fmt.Errorf("%s: channel %q: %w", posString(ch.Range), ch.Name, err)
		}
		t := c.n.alloc(ch.Name, "_sock_t")
		c.sockType[ch.Name] = t
		c.out.ChannelTypes[ch.Name] = []string{t}
		c.out.Types[t] = TypeInfo{Kind: KindSocket, Entity: ch.Name, Channels: []string{ch.Name}, Description: "socket " + ch.Path + " of unix channel " + ch.Name}
		if res := p.ResourceAt(ch.Path); res != nil {
			c.resExtra[res.Name] = append(c.resExtra[res.Name], t)
		}
	}
	c.allocatePorts(channels)
	// Resource sets for resources that govern exec or socket paths.
	for _, x := range resources {
		extra := c.resExtra[x.Name]
		if len(extra) == 0 {
			continue
		}
		slices.Sort(extra)
		a := c.n.alloc(x.Name, "_types")
		c.resSet[x.Name] = a
		c.out.ResourceSets[x.Name] = a
		c.out.Types[a] = TypeInfo{Kind: KindResourceSet, Attribute: true, Entity: x.Name,
			Description: "resource " + x.Name + " with the executables and sockets at its paths"}
	}
	for k, v := range c.domain {
		c.out.Domains[k] = v
	}
	for k, v := range c.resType {
		c.out.ResourceTypes[k] = v
	}
	return nil
}

// allocatePorts splits the TCP and UDP channels' ports into maximal
// ranges with one set of channels each, and names a type per set: the
// channel's name for a set of one, the protocol and first range otherwise
// (portcon gives a port one type, so channels sharing a port share it).
func (c *compiler) allocatePorts(channels []*policy.Channel) {
	for _, proto := range []policy.Protocol{policy.ProtoTCP, policy.ProtoUDP} {
		var pts []int
		var chs []*policy.Channel
		for _, ch := range channels {
			if ch.Protocol != proto {
				continue
			}
			chs = append(chs, ch)
			for _, r := range ch.Ports {
				pts = append(pts, int(r.First), int(r.Last)+1)
			}
		}
		if len(chs) == 0 {
			continue
		}
		slices.Sort(pts)
		pts = slices.Compact(pts)
		var segs []portSeg
		for i := 0; i+1 < len(pts); i++ {
			lo, hi := pts[i], pts[i+1]-1
			var names []string
			for _, ch := range chs {
				if ch.HasPort(uint16(lo)) {
					names = append(names, ch.Name)
				}
			}
			if len(names) == 0 {
				continue
			}
			// Merge with the previous segment when contiguous and equal.
			if n := len(segs); n > 0 && int(segs[n-1].last)+1 == lo && slices.Equal(segs[n-1].channels, names) {
				segs[n-1].last = uint16(hi)
				continue
			}
			segs = append(segs, portSeg{proto: proto, first: uint16(lo), last: uint16(hi), channels: names})
		}
		typeOf := map[string]string{}
		for i := range segs {
			s := &segs[i]
			key := strings.Join(s.channels, ",")
			t, ok := typeOf[key]
			if !ok {
				base := s.channels[0]
				if len(s.channels) > 1 {
					base = fmt.Sprintf("%s_%d", proto, s.first)
					if s.last != s.first {
						base += fmt.Sprintf("_%d", s.last)
					}
				}
				t = c.n.alloc(base, "_port_t")
				typeOf[key] = t
				c.out.Types[t] = TypeInfo{Kind: KindPort, Entity: s.channels[0], Channels: slices.Clone(s.channels),
					Description: proto.String() + " ports of channel(s) " + strings.Join(s.channels, ", ")}
			}
			s.typ = t
			for _, ch := range s.channels {
				if !slices.Contains(c.portTypes[ch], t) {
					c.portTypes[ch] = append(c.portTypes[ch], t)
				}
			}
		}
		c.ports = append(c.ports, segs...)
	}
	for ch, ts := range c.portTypes {
		slices.Sort(ts)
		c.out.ChannelTypes[ch] = slices.Clone(ts)
	}
}

// resTarget is the type allow rules name for a resource: its resource set
// when it has one, else its type.
func (c *compiler) resTarget(r string) string {
	if a, ok := c.resSet[r]; ok {
		return a
	}
	return c.resType[r]
}

// mainType maps a rule target back to the type neverallows name: a
// resource set to its resource's type.
func (c *compiler) mainType(t string) string {
	if info, ok := c.out.Types[t]; ok && info.Kind == KindResourceSet {
		return c.resType[info.Entity]
	}
	return t
}

// pathType is the type the policy gives a concrete path: an executable's
// or socket's type, else its resource's type, else default_t.
func (c *compiler) pathType(pth string) string {
	if t, ok := c.execOf[pth]; ok {
		return t
	}
	if ch := c.p.UnixChannel(pth); ch != nil {
		if t, ok := c.sockType[ch.Name]; ok {
			return t
		}
	}
	if r := c.p.ResourceAt(pth); r != nil {
		return c.resType[r.Name]
	}
	return defaultT
}

// dirType is the type of a directory on a path: its resource's type or
// default_t.
func (c *compiler) dirType(dir string) string {
	if r := c.p.ResourceAt(dir); r != nil {
		return c.resType[r.Name]
	}
	return defaultT
}

// instantiate replaces wildcards in a glob by a representative name.
func instantiate(glob string) string {
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(glob, "/"), "/") {
		if s == "**" {
			continue
		}
		segs = append(segs, strings.NewReplacer("*", "w", "?", "q").Replace(s))
	}
	return "/" + strings.Join(segs, "/")
}

// parentTypes are the types of the directories holding a resource's
// objects (for create and delete of single objects).
func (c *compiler) parentTypes(r *policy.Resource) []string {
	var out []string
	for _, g := range r.Paths {
		dir := path.Dir(instantiate(g))
		out = append(out, c.dirType(dir))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ancestorTypes returns the types of the literal directories above a
// glob's objects, for path traversal: every directory up to the first
// wildcard segment (for an exact path, up to its parent). Types equal to
// skip (the resource's own) and default_t (traversable by every domain)
// are left out.
func (c *compiler) ancestorTypes(glob string, skip string) []string {
	if glob == "/" {
		return nil
	}
	segs := strings.Split(strings.TrimPrefix(glob, "/"), "/")
	last := len(segs) - 1 // join(segs[:i]) for i <= last are the directories
	for i, s := range segs {
		if s == "**" || hasWildcard(s) {
			last = i
			break
		}
	}
	var out []string
	for i := 0; i <= last; i++ {
		dir := "/" + strings.Join(segs[:i], "/")
		if t := c.dirType(dir); t != skip && t != defaultT {
			out = append(out, t)
		}
	}
	return out
}

func rangeAt(rs []hcl.Range, i int, def hcl.Range) hcl.Range {
	if i < len(rs) {
		return rs[i]
	}
	return def
}

func posString(r hcl.Range) string {
	if r.Filename == "" && r.Start.Line == 0 {
		return "-"
	}
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

// rangeCmp orders source ranges by file (in policy order), line and column.
func (c *compiler) rangeCmp(a, b hcl.Range) int {
	fa, oka := c.fileIndex[a.Filename]
	fb, okb := c.fileIndex[b.Filename]
	if !oka {
		fa = len(c.fileIndex)
	}
	if !okb {
		fb = len(c.fileIndex)
	}
	return cmp.Or(cmp.Compare(fa, fb), strings.Compare(a.Filename, b.Filename),
		cmp.Compare(a.Start.Line, b.Start.Line), cmp.Compare(a.Start.Column, b.Start.Column))
}
