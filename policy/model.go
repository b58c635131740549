package policy

import (
	"fmt"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/rampart-sec/rampart/privacy"
)

// Policy is a loaded and validated compartment policy. It is produced by
// Load or Parse and must not be modified afterwards: its lookup indexes
// are built once, at load time. All methods are safe for concurrent use.
//
// Entity names (compartments, roles, resources, channels) share one
// namespace, so that a name identifies one node of the policy graph.
// Slices are in declaration order (files in the order given, or sorted by
// name within a directory).
type Policy struct {
	// Name and Description come from the optional policy block.
	Name        string
	Description string
	// Files lists the files the policy was loaded from.
	Files []string

	Compartments []*Compartment
	Roles        []*Role
	Resources    []*Resource
	Channels     []*Channel
	Spawns       []*Spawn
	// Labels lists the labels declared with label blocks (the built-in
	// labels are not listed; see BuiltinLabels).
	Labels     []*LabelDef
	Invariants []*Invariant
	// Rules lists every grant: explicit allow blocks (nested or top-level)
	// followed by the grants that channel blocks imply.
	Rules []*Rule
	// Privacy is the privacy block: what the node agent lets through its
	// privacy filter and how (see package privacy and docs/agent.md); nil
	// when the policy has none (the agent then uses
	// privacy.DefaultConfig). PrivacyRange is the block's position.
	Privacy      *privacy.Config
	PrivacyRange hcl.Range

	idx *index
}

// Compartment is a subject: a set of executables running with one
// identity, trust tier, privileges and accesses.
type Compartment struct {
	Name        string
	Description string
	// Tier is the compartment's trust tier.
	Tier Tier
	// Executables are the absolute paths of the programs that run in the
	// compartment. A path belongs to at most one compartment.
	Executables []string
	// User and Group are the Unix user and primary group; Groups are
	// supplementary groups. Empty means unspecified.
	User   string
	Group  string
	Groups []string
	// Capabilities are the Linux capabilities the compartment keeps.
	Capabilities []Capability
	// Syscalls are the allowed system calls: systemd groups such as
	// "@system-service" and single syscall names. Empty means unrestricted.
	Syscalls []string
	// Limits are resource limits; a missing key means no limit set.
	Limits map[LimitName]uint64
	// Unit is the systemd unit that starts the compartment (e.g.
	// "ic-replica.service"); empty when it is not started by a unit of its
	// own. The systemd compiler writes its hardening drop-in for it.
	Unit string
	// IsolateInstances says that the compartment runs as many instances
	// (e.g. one per canister) that must not interact with each other.
	IsolateInstances bool
	// Rules are the explicit allow rules whose subject is this compartment.
	Rules []*Rule
	// Range is the position of the block header.
	Range hcl.Range
}

// Role is an operator role: a person acting in the role is a subject like
// a compartment.
type Role struct {
	Name        string
	Description string
	// Accounts are the Unix login accounts of the role.
	Accounts []string
	// Enter lists the compartments the role may run commands in (e.g. via
	// sudo); a person in the role then holds that compartment's accesses.
	Enter []string
	// Rules are the explicit allow rules whose subject is this role.
	Rules []*Rule
	// Range is the position of the block header.
	Range hcl.Range
}

// Resource is an object: the filesystem objects matched by a set of path
// globs, with one kind, labels and an owner.
type Resource struct {
	Name        string
	Description string
	Kind        Kind
	// Paths are the resource's globs; PathRanges their positions.
	Paths      []string
	PathRanges []hcl.Range
	// Labels are the resource's labels, built-in or declared.
	Labels []Label
	// Owner is the compartment or role responsible for the resource. It
	// is informational (file ownership, reports) and grants nothing.
	Owner string
	// Range is the position of the block header.
	Range hcl.Range
}

// HasLabel reports whether r carries label l.
func (r *Resource) HasLabel(l Label) bool {
	for _, x := range r.Labels {
		if x == l {
			return true
		}
	}
	return false
}

// Channel is a communication endpoint: a unix socket served by one
// compartment, a TCP/UDP port a compartment listens on, or (without a
// server) outbound traffic to remote destinations.
type Channel struct {
	Name        string
	Description string
	Protocol    Protocol
	// Path is the socket path of a unix channel. A unix channel without
	// a path is an anonymous socket pair that the server creates and
	// hands to its clients (e.g. as an inherited descriptor at spawn).
	Path string
	// Ports are the ports of a TCP, UDP or vsock channel.
	Ports []PortRange
	// Server is the compartment that binds and listens; empty for an
	// outbound channel whose server is remote.
	Server string
	// Clients are the compartments and roles that may connect.
	Clients []string
	// Remote lists network peers: for a served TCP/UDP channel, who may
	// connect from outside the node; for an outbound channel, the
	// destinations. Entries are "any", IP addresses, CIDR prefixes or
	// host names. A TCP/UDP channel with Remote entries is a network
	// channel (see Network).
	Remote []string
	// Range is the position of the block header.
	Range hcl.Range
}

// Network reports whether c reaches beyond the node: a TCP or UDP channel
// with remote peers. network() selects these channels.
func (c *Channel) Network() bool {
	return (c.Protocol == ProtoTCP || c.Protocol == ProtoUDP) && len(c.Remote) > 0
}

// Outbound reports whether c is an outbound channel (no local server).
func (c *Channel) Outbound() bool { return c.Server == "" }

// HasPort reports whether port is one of c's ports.
func (c *Channel) HasPort(port uint16) bool {
	for _, r := range c.Ports {
		if port >= r.First && port <= r.Last {
			return true
		}
	}
	return false
}

// PortRange is an inclusive range of ports; a single port has First ==
// Last.
type PortRange struct{ First, Last uint16 }

// String formats r as "8080" or "4100-4199".
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Spawn lets one compartment start others: executing a target's
// executable transitions into the target compartment.
type Spawn struct {
	From string
	To   []string
	// Range is the position of the block header.
	Range hcl.Range
}

// LabelDef is a label declared by a label block.
type LabelDef struct {
	Name        Label
	Description string
	Range       hcl.Range
}

// Origin says where a Rule comes from.
type Origin uint8

// Rule origins.
const (
	// OriginAllow is an allow block.
	OriginAllow Origin = iota + 1
	// OriginServer is a channel's server attribute: bind and listen.
	OriginServer
	// OriginClient is a channel's clients attribute: connect.
	OriginClient
)

// String returns "allow", "server" or "client".
func (o Origin) String() string {
	switch o {
	case OriginAllow:
		return "allow"
	case OriginServer:
		return "server"
	case OriginClient:
		return "client"
	}
	return fmt.Sprintf("Origin(%d)", uint8(o))
}

// Rule is a grant: Subject may apply Verbs to each of Objects.
type Rule struct {
	// Subject is a compartment or role name.
	Subject string
	Verbs   VerbSet
	// Objects are resource, channel or compartment names.
	Objects []string
	Origin  Origin
	// Range is the allow block header, or the channel attribute that
	// implies the rule.
	Range hcl.Range
}

// String formats r as "allow replica {read} [ic_data] (file:line:col)".
func (r *Rule) String() string {
	return fmt.Sprintf("%s %s %s %v (%s)", r.Origin, r.Subject, r.Verbs, r.Objects, posString(r.Range))
}

// InvariantForm is the form of an invariant.
type InvariantForm uint8

// Invariant forms.
const (
	// FormDenyAccess: no subject in Subjects may apply any of Verbs to any
	// object in Objects. Compiles to SELinux neverallow.
	FormDenyAccess InvariantForm = iota + 1
	// FormNoFlow: no information flows from any entity in From to any
	// entity in To, except along paths through a compartment in Through.
	// Evaluated by package analysis.
	FormNoFlow
	// FormDenySpawn: no subject in From may start a compartment in To
	// (directly, or through a chain of spawns when Transitive).
	FormDenySpawn
	// FormDenyCapability: no compartment in Subjects holds any of
	// Capabilities (every capability when Capabilities is empty).
	FormDenyCapability
)

// String returns the block type: "deny_access", "no_flow", "deny_spawn"
// or "deny_capability".
func (f InvariantForm) String() string {
	switch f {
	case FormDenyAccess:
		return "deny_access"
	case FormNoFlow:
		return "no_flow"
	case FormDenySpawn:
		return "deny_spawn"
	case FormDenyCapability:
		return "deny_capability"
	}
	return fmt.Sprintf("InvariantForm(%d)", uint8(f))
}

// Invariant is a statement that must always hold. Which fields are used
// depends on Form (see the Form* constants); the others are zero.
type Invariant struct {
	Name        string
	Description string
	Form        InvariantForm
	// Subjects: deny_access (compartments and roles), deny_capability
	// (compartments).
	Subjects Selector
	// Verbs: deny_access.
	Verbs VerbSet
	// Objects: deny_access (resources, channels, compartments).
	Objects Selector
	// From and To: no_flow (any entities); deny_spawn (From: compartments
	// and roles, To: compartments).
	From Selector
	To   Selector
	// Through: no_flow's except_through (compartments); empty selector
	// when absent.
	Through Selector
	// Transitive: deny_spawn also forbids chains of spawns.
	Transitive bool
	// Capabilities: deny_capability; empty means every capability.
	Capabilities []Capability
	// Range is the position of the block header.
	Range hcl.Range
}

// EntityKind is the kind of a named policy entity.
type EntityKind uint8

// Entity kinds.
const (
	EntityCompartment EntityKind = 1 << iota
	EntityRole
	EntityResource
	EntityChannel
)

// String returns "compartment", "role", "resource" or "channel".
func (k EntityKind) String() string {
	switch k {
	case EntityCompartment:
		return "compartment"
	case EntityRole:
		return "role"
	case EntityResource:
		return "resource"
	case EntityChannel:
		return "channel"
	}
	return fmt.Sprintf("EntityKind(%d)", uint8(k))
}

// EntityKinds is a set of entity kinds (bit mask of EntityKind values).
type EntityKinds uint8

// Common sets of entity kinds.
const (
	// Subjects are compartments and roles.
	Subjects = EntityKinds(EntityCompartment | EntityRole)
	// Objects are what verbs apply to: resources, channels, and
	// compartments (for signal, ptrace, spawn, map-exec).
	Objects = EntityKinds(EntityResource | EntityChannel | EntityCompartment)
	// AllEntities is every entity kind.
	AllEntities = EntityKinds(EntityCompartment | EntityRole | EntityResource | EntityChannel)
)

// Has reports whether k is in s.
func (s EntityKinds) Has(k EntityKind) bool { return s&EntityKinds(k) != 0 }

// Entity is a reference to a named entity.
type Entity struct {
	Kind EntityKind
	Name string
}

// String formats e as "compartment replica".
func (e Entity) String() string { return e.Kind.String() + " " + e.Name }

// Selector denotes a set of entities: the union of its terms, restricted
// to Domain (the entity kinds the attribute admits). A selector is written
// as one term or a list of terms; see TermFunc for the terms.
type Selector struct {
	Terms  []Term
	Domain EntityKinds
	// Range is the position of the attribute's expression.
	Range hcl.Range
}

// Empty reports whether s has no terms (the attribute was absent).
func (s Selector) Empty() bool { return len(s.Terms) == 0 }

// TermFunc is a selector term's function.
type TermFunc uint8

// Selector terms. Every term's result is restricted to the selector's
// Domain.
const (
	// TermName is a quoted entity name: "replica".
	TermName TermFunc = iota + 1
	// TermAll is all(): every entity of the domain.
	TermAll
	// TermAllExcept is all_except(names...): every entity of the domain
	// but the named ones. Names may be given as strings or lists.
	TermAllExcept
	// TermCompartments is compartments(): every compartment.
	TermCompartments
	// TermRoles is roles(): every role.
	TermRoles
	// TermResources is resources(): every resource.
	TermResources
	// TermChannels is channels(): every channel.
	TermChannels
	// TermTier is tier(tiers...): compartments of any of the tiers.
	TermTier
	// TermLabelled is labelled(labels...): resources carrying any of the
	// labels.
	TermLabelled
	// TermKind is kind(kinds...): resources of any of the kinds, and
	// channels whose protocol is one of them ("unix", "tcp", "udp").
	TermKind
	// TermNetwork is network(): every network channel (Channel.Network).
	TermNetwork
	// TermExecutables is executables(): resources labelled executable and
	// resources that hold some compartment's executable.
	TermExecutables
)

var termNames = [...]string{
	TermName: "name", TermAll: "all", TermAllExcept: "all_except",
	TermCompartments: "compartments", TermRoles: "roles",
	TermResources: "resources", TermChannels: "channels", TermTier: "tier",
	TermLabelled: "labelled", TermKind: "kind", TermNetwork: "network",
	TermExecutables: "executables",
}

// String returns the term's function name ("name" for TermName).
func (f TermFunc) String() string {
	if f >= TermName && int(f) < len(termNames) {
		return termNames[f]
	}
	return fmt.Sprintf("TermFunc(%d)", uint8(f))
}

// Term is one term of a selector.
type Term struct {
	Func TermFunc
	// Args are the term's arguments: the name for TermName, names, tiers,
	// labels or kinds for the others.
	Args  []string
	Range hcl.Range
}

// String formats t as written: "replica" or "labelled(\"secret\")".
func (t Term) String() string {
	if t.Func == TermName && len(t.Args) == 1 {
		return strconv.Quote(t.Args[0])
	}
	s := t.Func.String() + "("
	for i, a := range t.Args {
		if i > 0 {
			s += ", "
		}
		s += strconv.Quote(a)
	}
	return s + ")"
}

func posString(r hcl.Range) string {
	if r.Filename == "" && r.Start.Line == 0 {
		return "-"
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
