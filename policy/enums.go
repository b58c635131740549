package policy

import (
	"fmt"
	"strings"
)

// Tier is a compartment's trust tier, from least to most trusted. Compilers
// turn tiers into SELinux attributes; invariants select compartments by
// tier with tier("...").
type Tier uint8

// Trust tiers. The zero Tier is invalid.
const (
	// TierUntrusted runs arbitrary, attacker-supplied input as code or
	// data (a Wasm sandbox, a compiler of user code).
	TierUntrusted Tier = iota + 1
	// TierNetworkFacing parses input from the network.
	TierNetworkFacing
	// TierTrusted is trusted code handling only authenticated input.
	TierTrusted
	// TierPrivileged is trusted code holding powers over the whole system
	// (writing disks, changing the boot configuration).
	TierPrivileged

	tierEnd
)

var tierNames = [tierEnd]string{
	TierUntrusted:     "untrusted",
	TierNetworkFacing: "network-facing",
	TierTrusted:       "trusted",
	TierPrivileged:    "privileged",
}

// Tiers returns every tier, least trusted first.
func Tiers() []Tier { return []Tier{TierUntrusted, TierNetworkFacing, TierTrusted, TierPrivileged} }

// String returns the tier's policy spelling.
func (t Tier) String() string {
	if t >= TierUntrusted && t < tierEnd {
		return tierNames[t]
	}
	return fmt.Sprintf("Tier(%d)", uint8(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// ParseTier parses a tier's policy spelling.
func ParseTier(s string) (Tier, error) {
	for t := TierUntrusted; t < tierEnd; t++ {
		if tierNames[t] == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tier %q", s)
}

// Label is a resource label. The built-in labels below are always defined;
// a policy may declare more with label blocks.
type Label string

// Built-in labels.
const (
	// LabelSecret marks confidential material such as keys.
	LabelSecret Label = "secret"
	// LabelIntegrityCritical marks objects whose modification subverts the
	// system (boot partitions, executables, policy).
	LabelIntegrityCritical Label = "integrity-critical"
	// LabelPersonalData marks data about people.
	LabelPersonalData Label = "personal-data"
	// LabelExecutable marks program files. Resources holding a
	// compartment's executable are also selected by executables().
	LabelExecutable Label = "executable"
)

// BuiltinLabels returns the built-in labels.
func BuiltinLabels() []Label {
	return []Label{LabelSecret, LabelIntegrityCritical, LabelPersonalData, LabelExecutable}
}

// Protective reports whether l is a protection label (secret,
// integrity-critical or personal-data). A more specific resource may not
// drop a protection label of a resource it shadows.
func (l Label) Protective() bool {
	return l == LabelSecret || l == LabelIntegrityCritical || l == LabelPersonalData
}

// Capability is a Linux capability in canonical form, e.g. "CAP_NET_ADMIN".
type Capability string

// capabilityNames lists the Linux capabilities without the CAP_ prefix.
var capabilityNames = [...]string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// ParseCapability parses a capability name, with or without the CAP_
// prefix and in any case, and returns it in canonical form.
func ParseCapability(s string) (Capability, error) {
	u := strings.TrimPrefix(strings.ToUpper(s), "CAP_")
	for _, n := range capabilityNames {
		if n == u {
			return Capability("CAP_" + n), nil
		}
	}
	return "", fmt.Errorf("unknown capability %q", s)
}

// Capabilities returns every Linux capability in canonical form.
func Capabilities() []Capability {
	cs := make([]Capability, len(capabilityNames))
	for i, n := range capabilityNames {
		cs[i] = Capability("CAP_" + n)
	}
	return cs
}

// syscallGroups are systemd's SystemCallFilter= groups, which the
// syscalls attribute accepts besides single syscall names.
var syscallGroups = [...]string{
	"@aio", "@basic-io", "@chown", "@clock", "@cpu-emulation", "@debug",
	"@default", "@file-system", "@io-event", "@ipc", "@keyring", "@known",
	"@memlock", "@module", "@mount", "@network-io", "@obsolete", "@pkey",
	"@privileged", "@process", "@raw-io", "@reboot", "@resources",
	"@sandbox", "@setuid", "@signal", "@swap", "@sync", "@system-service",
	"@timer",
}

// SyscallGroups returns the syscall group names the syscalls attribute
// accepts (systemd's SystemCallFilter= groups).
func SyscallGroups() []string { return append([]string(nil), syscallGroups[:]...) }

func validSyscall(s string) bool {
	if strings.HasPrefix(s, "@") {
		for _, g := range syscallGroups {
			if g == s {
				return true
			}
		}
		return false
	}
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Protocol is a channel's transport.
type Protocol uint8

// Channel protocols. The zero Protocol is invalid.
const (
	// ProtoUnix is a unix stream socket at a filesystem path.
	ProtoUnix Protocol = iota + 1
	// ProtoTCP is TCP over IPv4 or IPv6.
	ProtoTCP
	// ProtoUDP is UDP over IPv4 or IPv6.
	ProtoUDP
	// ProtoVsock is a virtio socket (AF_VSOCK) between a VM and its host.
	// Its ports are vsock ports; it is never a network channel.
	ProtoVsock
)

// String returns "unix", "tcp", "udp" or "vsock".
func (p Protocol) String() string {
	switch p {
	case ProtoUnix:
		return "unix"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoVsock:
		return "vsock"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// ParseProtocol parses "unix", "tcp", "udp" or "vsock".
func ParseProtocol(s string) (Protocol, error) {
	switch s {
	case "unix":
		return ProtoUnix, nil
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	case "vsock":
		return ProtoVsock, nil
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}

// Kind returns the object kind of a channel with protocol p.
func (p Protocol) Kind() Kind {
	switch p {
	case ProtoUnix:
		return KindUnix
	case ProtoTCP:
		return KindTCP
	case ProtoUDP:
		return KindUDP
	case ProtoVsock:
		return KindVsock
	}
	return 0
}

// LimitName names a resource limit in a limits block.
type LimitName string

// Resource limits.
const (
	// LimitNoFile is the maximum number of open files (RLIMIT_NOFILE).
	LimitNoFile LimitName = "nofile"
	// LimitNProc is the maximum number of processes (RLIMIT_NPROC).
	LimitNProc LimitName = "nproc"
	// LimitMemory is the memory ceiling in bytes (cgroup memory.max).
	LimitMemory LimitName = "memory"
	// LimitCore is the maximum core dump size in bytes (RLIMIT_CORE);
	// 0 disables core dumps.
	LimitCore LimitName = "core"
	// LimitCPU is the CPU quota in percent of one CPU (cgroup cpu.max).
	LimitCPU LimitName = "cpu"
	// LimitTasks is the maximum number of tasks (cgroup pids.max).
	LimitTasks LimitName = "tasks"
)

// LimitNames returns every limit name.
func LimitNames() []LimitName {
	return []LimitName{LimitNoFile, LimitNProc, LimitMemory, LimitCore, LimitCPU, LimitTasks}
}

// takesSize reports whether a limit accepts a size with a K/M/G/T suffix.
func (n LimitName) takesSize() bool { return n == LimitMemory || n == LimitCore }

// String returns the capability's canonical name.
func (c Capability) String() string { return string(c) }

// String returns the label's name.
func (l Label) String() string { return string(l) }
