package sandbox

import (
	"strings"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/rampart-sec/rampart/policy"
)

// Landlock filesystem access rights (LANDLOCK_ACCESS_FS_*).
const (
	fsExecute     = ll.AccessFSExecute
	fsWriteFile   = ll.AccessFSWriteFile
	fsReadFile    = ll.AccessFSReadFile
	fsReadDir     = ll.AccessFSReadDir
	fsRemoveDir   = ll.AccessFSRemoveDir
	fsRemoveFile  = ll.AccessFSRemoveFile
	fsMakeChar    = ll.AccessFSMakeChar
	fsMakeDir     = ll.AccessFSMakeDir
	fsMakeReg     = ll.AccessFSMakeReg
	fsMakeSock    = ll.AccessFSMakeSock
	fsMakeFifo    = ll.AccessFSMakeFifo
	fsMakeBlock   = ll.AccessFSMakeBlock
	fsMakeSym     = ll.AccessFSMakeSym
	fsRefer       = ll.AccessFSRefer
	fsTruncate    = ll.AccessFSTruncate
	fsIoctlDev    = ll.AccessFSIoctlDev
	fsResolveUnix = ll.AccessFSResolveUnix

	// fsFileRights are the rights that apply to a file (the others
	// apply to directories, for what happens inside them).
	fsFileRights = fsExecute | fsWriteFile | fsReadFile | fsTruncate | fsIoctlDev | fsResolveUnix
	// fsWriteRights need a writable mount.
	fsWriteRights = fsWriteFile | fsTruncate | fsRemoveDir | fsRemoveFile | fsMakeChar | fsMakeDir |
		fsMakeReg | fsMakeSock | fsMakeFifo | fsMakeBlock | fsMakeSym | fsRefer
	fsMakeRights = fsMakeChar | fsMakeDir | fsMakeReg | fsMakeSock | fsMakeFifo | fsMakeBlock | fsMakeSym
	// fsAll is every right go-landlock knows; rampart handles them all,
	// so that whatever the plan does not grant is denied.
	fsAll = fsResolveUnix<<1 - 1
)

// Landlock network rights and scopes.
const (
	netBindTCP        = ll.AccessNetBindTCP
	netConnectTCP     = ll.AccessNetConnectTCP
	netBindUDP        = ll.AccessNetBindUDP
	netConnectSendUDP = ll.AccessNetConnectSendUDP
	netAll            = netBindTCP | netConnectTCP | netBindUDP | netConnectSendUDP

	scopeAbstractUnix = ll.ScopeAbstractUnixSocket
	scopeSignal       = ll.ScopeSignal
	scopeAll          = scopeAbstractUnix | scopeSignal
)

// abiRights returns what Landlock ABI version abi handles (the table of
// go-landlock's abi_versions.go).
func abiRights(abi int) (fs, net, scoped uint64) {
	switch {
	case abi <= 0:
		return 0, 0, 0
	case abi == 1:
		return 1<<13 - 1, 0, 0
	case abi == 2:
		return 1<<14 - 1, 0, 0
	case abi == 3:
		return 1<<15 - 1, 0, 0
	case abi == 4:
		return 1<<15 - 1, netBindTCP | netConnectTCP, 0
	case abi == 5:
		return 1<<16 - 1, netBindTCP | netConnectTCP, 0
	case abi <= 8:
		return 1<<16 - 1, netBindTCP | netConnectTCP, scopeAll
	case abi == 9:
		return 1<<17 - 1, netBindTCP | netConnectTCP, scopeAll
	}
	return 1<<17 - 1, netAll, scopeAll
}

// FSAccess is a set of Landlock filesystem rights; it marshals as their
// names.
type FSAccess uint64

// String returns the rights' names, e.g. "read_file,read_dir".
func (a FSAccess) String() string { return strings.Trim(landlock.AccessFSSet(a).String(), "{}") }

// MarshalText implements encoding.TextMarshaler.
func (a FSAccess) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *FSAccess) UnmarshalText(b []byte) error {
	*a = 0
	for _, n := range strings.Split(string(b), ",") {
		if n == "" {
			continue
		}
		for i := 0; i < 64; i++ {
			if FSAccess(1<<i).String() == n {
				*a |= 1 << i
				break
			}
		}
	}
	return nil
}

// NetAccess is a set of Landlock network rights.
type NetAccess uint64

// String returns the rights' names, e.g. "bind_tcp".
func (a NetAccess) String() string { return strings.Trim(landlock.AccessNetSet(a).String(), "{}") }

// MarshalText implements encoding.TextMarshaler.
func (a NetAccess) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *NetAccess) UnmarshalText(b []byte) error {
	*a = 0
	for _, n := range strings.Split(string(b), ",") {
		for i := 0; i < 8 && n != ""; i++ {
			if NetAccess(1<<i).String() == n {
				*a |= 1 << i
				break
			}
		}
	}
	return nil
}

// verbRights maps a verb on an object of kind k to Landlock rights: self
// on the object (the file, or the directory whose hierarchy is the
// object when tree is set), parent on the directory holding an exact
// path (creating and removing names happen there). note explains what
// Landlock cannot express.
func verbRights(v policy.Verb, k policy.Kind, tree bool) (self, parent uint64, note string) {
	make1 := map[policy.Kind]uint64{
		policy.KindFile: fsMakeReg, policy.KindCharDevice: fsMakeChar,
		policy.KindBlockDevice: fsMakeBlock, policy.KindSocket: fsMakeSock,
		policy.KindDirectory: fsMakeReg | fsMakeDir | fsMakeSym,
	}[k]
	removeR := uint64(fsRemoveFile)
	if k == policy.KindDirectory {
		removeR |= fsRemoveDir
	}
	switch v {
	case policy.VerbRead:
		switch k {
		case policy.KindSocket:
			return 0, 0, ""
		case policy.KindDirectory:
			return fsReadFile | fsReadDir, 0, ""
		}
		if tree {
			return fsReadFile | fsReadDir, 0, ""
		}
		return fsReadFile, 0, ""
	case policy.VerbWrite:
		return fsWriteFile | fsTruncate, 0, ""
	case policy.VerbAppend:
		return fsWriteFile, 0, "append is enforced as write_file (Landlock has no append-only right; truncation stays denied)"
	case policy.VerbCreate:
		if tree || k == policy.KindDirectory {
			return make1, 0, ""
		}
		return 0, make1, "create is granted on the parent directory (any new name there)"
	case policy.VerbDelete:
		if tree || k == policy.KindDirectory {
			return removeR, 0, ""
		}
		return 0, removeR, "delete is granted on the parent directory (any name there)"
	case policy.VerbExecute:
		// execve opens the file for reading and executing.
		return fsExecute | fsReadFile, 0, ""
	case policy.VerbIoctl:
		return fsIoctlDev, 0, "Landlock restricts ioctl on device files only"
	case policy.VerbSetattr:
		return 0, 0, "setattr is not restricted by Landlock (chmod, chown, utimes, xattrs stay possible where the mount is writable)"
	case policy.VerbMapExec:
		return 0, 0, "map-exec is not restricted by Landlock (any readable file can be mapped executable)"
	}
	return 0, 0, ""
}

// treeOf maps a resource glob to the path a Landlock rule can name: the
// glob itself when it has no wildcard, else its longest literal
// directory prefix. widened is set when the rule covers more than the
// glob ("/a/*.pub" becomes the hierarchy "/a"); "/a/**" is exactly the
// hierarchy "/a".
func treeOf(glob string) (path string, exact bool, widened bool) {
	if !strings.ContainsAny(glob, "*?") {
		return glob, true, false
	}
	segs := strings.Split(glob, "/")
	i := 0
	for i < len(segs) && !strings.ContainsAny(segs[i], "*?") {
		i++
	}
	path = strings.Join(segs[:i], "/")
	if path == "" {
		path = "/"
	}
	rest := segs[i:]
	return path, false, !(len(rest) == 1 && rest[0] == "**")
}

// beneath reports whether p is d or inside d.
func beneath(p, d string) bool {
	return p == d || d == "/" || strings.HasPrefix(p, d+"/")
}

// abiGap describes a right or scope that needs a newer Landlock ABI.
type abiGap struct {
	abi        int
	fs, net    uint64
	scoped     uint64
	what       string
	mitigation string
}

// abiGaps lists what each Landlock ABI adds, as a rampart sandbox sees it.
var abiGaps = []abiGap{
	{abi: 1, fs: 1<<13 - 1, what: "filesystem access is not restricted by Landlock", mitigation: "the root is read-only; only granted paths are writable"},
	{abi: 2, fs: fsRefer, what: "renaming and linking files across directories is always denied (Landlock ABI 1 has no refer right)", mitigation: "none needed: this denies more than the policy"},
	{abi: 3, fs: fsTruncate, what: "truncating files is not restricted", mitigation: "only granted paths are on writable mounts"},
	{abi: 4, net: netBindTCP | netConnectTCP, what: "TCP bind and connect are not restricted", mitigation: "a compartment without TCP/UDP channels gets its own network namespace"},
	{abi: 5, fs: fsIoctlDev, what: "ioctl on device files is not restricted", mitigation: "device files outside the grants cannot be opened"},
	{abi: 6, scoped: scopeAll, what: "abstract unix sockets and signals are not scoped to the sandbox", mitigation: "the network and pid namespaces isolate abstract sockets and processes"},
	{abi: 9, fs: fsResolveUnix, what: "connecting to pathname unix sockets is not restricted", mitigation: "/run and /tmp are private: only granted sockets under them are visible; sockets elsewhere stay reachable"},
	{abi: 10, net: netBindUDP | netConnectSendUDP, what: "UDP bind, connect and send are not restricted", mitigation: "a compartment without TCP/UDP channels gets its own network namespace"},
}
