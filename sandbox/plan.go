package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/sandbox/internal/stage"
	"github.com/rampart-sec/rampart/sandbox/seccomp"
)

// Plan is a resolved sandbox: everything rampart will do to confine one
// command as one compartment, and what it cannot do. Build makes it; Run
// carries it out; Explain prints it. A Plan is plain data (it is sent to
// the launcher as a binary launch record).
type Plan struct {
	Policy      string `json:"policy,omitempty"`
	Compartment string `json:"compartment"`
	Tier        string `json:"tier"`
	// Declared is the compartment block's position, file:line:col.
	Declared string `json:"declared"`
	// Command is the argument vector; Path the resolved executable.
	Command []string `json:"command"`
	Path    string   `json:"path"`
	// Env is the scrubbed environment; Dir the working directory.
	Env []string `json:"env"`
	Dir string   `json:"dir"`

	Host       Host       `json:"host"`
	Identity   Identity   `json:"identity"`
	Namespaces Namespaces `json:"namespaces"`
	Mounts     []Mount    `json:"mounts"`
	Landlock   Landlock   `json:"landlock"`
	Seccomp    Seccomp    `json:"seccomp"`
	// Capabilities are kept in the bounding, permitted, effective,
	// inheritable and ambient sets; every other one is dropped.
	Capabilities []string `json:"capabilities"`
	// NoNewPrivs is always set: setuid/setgid bits and file capabilities
	// grant nothing in the sandbox.
	NoNewPrivs bool `json:"no_new_privs"`
	// DenyWriteExecute sets PR_SET_MDWE (memory-deny-write-execute) for
	// compartments without map-exec on themselves (SELinux execmem).
	DenyWriteExecute bool     `json:"deny_write_execute"`
	Rlimits          []Rlimit `json:"rlimits,omitempty"`
	// KeepFDs are inherited descriptors passed through to the command;
	// every other descriptor above 2 is closed.
	KeepFDs []int `json:"keep_fds,omitempty"`
	// SELinuxLabel is the exec context when SELinux is enabled.
	SELinuxLabel string `json:"selinux_label,omitempty"`

	// Gaps are what the policy asks and this kernel or host cannot
	// enforce (a newer kernel could); RequireFull makes them errors.
	Gaps []Gap `json:"gaps"`
	// Limits are what no mechanism rampart uses can enforce, and where
	// the sandbox grants more or less than the policy.
	Limits []Note `json:"limits"`
	// Warnings are lint findings and unusual settings.
	Warnings []string `json:"warnings"`

	// deps, rlimits and fds are the host state Build read (see
	// Dependencies); not part of the plan's JSON.
	deps    []stage.Dep
	rlimits []stage.RlimitCheck
	fds     []int
	// unsound says why the plan depends on state that is not recorded;
	// built is set when Build planned for the running host (Options.Host
	// nil): only such plans can be remembered.
	unsound string
	built   bool
}

// Identity is who the command runs as.
type Identity struct {
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Groups []int  `json:"groups,omitempty"`
	User   string `json:"user"`
	Group  string `json:"group"`
	Home   string `json:"home"`
	// Switch is set when the launcher changes uid and gid (the caller
	// is root); otherwise the command keeps the caller's ids in a user
	// namespace.
	Switch bool `json:"switch"`
}

// Namespaces says which namespaces the sandbox gets.
type Namespaces struct {
	User  bool `json:"user"`
	Mount bool `json:"mount"`
	PID   bool `json:"pid"`
	IPC   bool `json:"ipc"`
	UTS   bool `json:"uts"`
	Net   bool `json:"net"`
	// NetReason explains the network namespace decision.
	NetReason string `json:"net_reason"`
	Hostname  string `json:"hostname,omitempty"`
}

// Mount operations, in the order the sandbox's init applies them.
const (
	// MountPrivate makes every mount private to the sandbox.
	MountPrivate = stage.MountPrivate
	// MountBind binds a host path into the sandbox (cloned before the
	// root becomes read-only).
	MountBind = stage.MountBind
	// MountReadOnly makes the whole tree read-only.
	MountReadOnly = stage.MountReadOnly
	// MountTmpfs mounts an empty tmpfs.
	MountTmpfs = stage.MountTmpfs
	// MountProc mounts the pid namespace's /proc.
	MountProc = stage.MountProc
)

// Mount is one mount operation.
type Mount struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	// Writable binds keep the host mount's write access.
	Writable bool `json:"writable,omitempty"`
	// Dir says whether a bound path is a directory (else a file).
	Dir bool `json:"dir,omitempty"`
	// Why says which grants need the mount.
	Why string `json:"why,omitempty"`
}

// Landlock is the Landlock ruleset.
type Landlock struct {
	// Handled* are the rights the ruleset handles (denies unless a rule
	// grants them) on this kernel; Wanted* those a kernel with the
	// newest ABI would handle.
	HandledFS     FSAccess   `json:"handled_fs"`
	HandledNet    NetAccess  `json:"handled_net"`
	HandledScoped uint64     `json:"handled_scoped"`
	WantedFS      FSAccess   `json:"wanted_fs"`
	WantedNet     NetAccess  `json:"wanted_net"`
	WantedScoped  uint64     `json:"wanted_scoped"`
	Paths         []PathRule `json:"paths"`
	Ports         []PortRule `json:"ports"`
}

// PathRule grants rights on a file or a directory hierarchy.
type PathRule struct {
	Path   string   `json:"path"`
	Access FSAccess `json:"access"`
	// Dir: the rule covers the hierarchy under Path.
	Dir bool `json:"dir"`
	// Missing: the path does not exist, so the rule is not installed
	// (the path stays denied if it appears later).
	Missing bool `json:"missing,omitempty"`
	// Runtime: granted so the command can start (not by the policy).
	Runtime bool `json:"runtime,omitempty"`
	// Why lists the grants behind the rule.
	Why []string `json:"why"`
	// Widened lists what the rule grants beyond the policy.
	Widened []string `json:"widened,omitempty"`
}

// PortRule grants a TCP or UDP port.
type PortRule struct {
	Port   uint16    `json:"port"`
	Access NetAccess `json:"access"`
	Why    []string  `json:"why"`
}

// Seccomp is the syscall filter.
type Seccomp struct {
	// Enabled is false when the kernel lacks seccomp filters.
	Enabled bool   `json:"enabled"`
	Arch    string `json:"arch"`
	// Mode is "allowlist" (the compartment lists syscalls) or
	// "denylist" (it lists none: the dangerous ones are refused).
	Mode string `json:"mode"`
	// Entries are the compartment's syscalls attribute, plus @default.
	Entries []string `json:"entries,omitempty"`
	// Syscalls are the expanded names allowed (allowlist) or refused.
	Syscalls []string `json:"syscalls"`
	Refuse   string   `json:"refuse"`
	// RefuseAction is Refuse as a seccomp verdict: the filter's own, or,
	// when refusals are reported (Stdio.Refused, --log-refused), the
	// sandbox's init's answer to the filter's user-space notification.
	RefuseAction uint32 `json:"refuse_action"`
	// Argument rules.
	RestrictNamespaces bool `json:"restrict_namespaces"`
	DenyMPTCP          bool `json:"deny_mptcp"`
	DenyVsock          bool `json:"deny_vsock"`
	DenyTIOCSTI        bool `json:"deny_tiocsti"`
	// Program is the BPF filter in struct sock_filter layout.
	Program []byte `json:"program,omitempty"`
	// Instructions is the length of Program in instructions.
	Instructions int `json:"instructions"`
}

// Rlimit is a resource limit set to Value (soft and hard).
type Rlimit struct {
	Name     string `json:"name"`
	Resource int    `json:"resource"`
	Value    uint64 `json:"value"`
}

// Gap is something the policy asks that this kernel or host cannot
// enforce.
type Gap struct {
	Mechanism  string `json:"mechanism"`
	What       string `json:"what"`
	Needs      string `json:"needs"`
	Mitigation string `json:"mitigation,omitempty"`
}

// String formats g on one line.
func (g Gap) String() string {
	s := g.Mechanism + ": " + g.What + " (needs " + g.Needs + ")"
	if g.Mitigation != "" {
		s += "; mitigated: " + g.Mitigation
	}
	return s
}

// Note is a limitation of the sandbox, or a place where it differs from
// the policy.
type Note struct {
	Mechanism string `json:"mechanism"`
	What      string `json:"what"`
}

// Options tune Build.
type Options struct {
	// Host is the kernel to plan for; nil detects the running one.
	Host *Host
	// RootPrefix is prepended to every path the policy names
	// (resources, unix channel sockets, executables): the policy's
	// filesystem is rooted there. Tests and image checks use it; paths
	// of the command and its libraries are not rewritten.
	RootPrefix string
	// SeccompRefuse is the verdict for refused syscalls; zero means
	// errno EPERM.
	SeccompRefuse seccomp.Action
	// User and Group override the compartment's user and primary group
	// (and drop its supplementary groups) when the caller is root.
	User, Group string
	// Environ is the caller's environment, scrubbed for the command;
	// SetEnv adds "NAME=value" entries; KeepEnv names more variables to
	// keep.
	Environ []string
	SetEnv  []string
	KeepEnv []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// KeepFDs are descriptors above 2 to pass through (e.g. the socket
	// pair of an anonymous unix channel on fd 3).
	KeepFDs []int
	// SELinuxLabel overrides the exec context (default
	// DefaultSELinuxLabel).
	SELinuxLabel string
	// AddSyscalls widens the compartment's syscall filter (names and
	// @groups): for diagnosis, or to run a stand-in program that needs
	// more than the real one. The explanation warns about it.
	AddSyscalls []string
}

// keptEnv are the variables the scrubbed environment keeps, besides
// LC_* ones.
var keptEnv = []string{"PATH", "LANG", "LANGUAGE", "TERM", "TZ", "COLORTERM", "NO_COLOR"}

// defaultPath is PATH when the caller has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BuildError is an error in the request, found before anything starts.
type BuildError struct{ Msg string }

// Error returns the message.
func (e *BuildError) Error() string { return e.Msg }

func buildErrorf(format string, a ...any) error { return &BuildError{fmt.Sprintf(format, a...)} }

// RequireFull returns an error listing the gaps, or nil when this
// kernel and host enforce everything the plan asks.
func (pl *Plan) RequireFull() error {
	if len(pl.Gaps) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "this host cannot enforce all of compartment %s (--require-full):", pl.Compartment)
	for _, g := range pl.Gaps {
		b.WriteString("\n  - " + g.String())
	}
	return &BuildError{b.String()}
}

// pos formats a source range as file:line:col.
func pos(file string, line, col int) string {
	if file == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// Build resolves the sandbox of compartment name of p for the command
// argv. Errors (unknown compartment, unknown user, missing command, bad
// options) come before anything starts.
func Build(p *policy.Policy, name string, argv []string, o Options) (*Plan, error) {
	c := p.Compartment(name)
	if c == nil {
		return nil, unknownCompartment(p, name)
	}
	if len(argv) == 0 {
		if len(c.Executables) == 0 {
			return nil, buildErrorf("no command given, and compartment %s has no executables", c.Name)
		}
		exe := c.Executables[0]
		if o.RootPrefix != "" {
			exe = filepath.Join(o.RootPrefix, exe)
		}
		argv = []string{exe}
	}
	if argv[0] == "" {
		return nil, buildErrorf("empty command name")
	}
	host := DetectHost()
	if o.Host != nil {
		host = *o.Host
	}
	at := pos(c.Range.Filename, c.Range.Start.Line, c.Range.Start.Column)
	pl := &Plan{
		Policy: p.Name, Compartment: c.Name, Tier: c.Tier.String(), Declared: at,
		Command: slices.Clone(argv), Host: host, NoNewPrivs: true,
	}
	b := &builder{p: p, c: c, o: o, pl: pl, rec: newRecorder(), rules: map[string]*PathRule{}, ports: map[uint16]*PortRule{}, resRights: map[string]uint64{}}
	if o.RootPrefix != "" {
		if !filepath.IsAbs(o.RootPrefix) {
			return nil, buildErrorf("--root-prefix %q: not an absolute path", o.RootPrefix)
		}
		b.prefix = filepath.Clean(o.RootPrefix)
	}
	for _, fd := range o.KeepFDs {
		if fd >= 1000 {
			return nil, buildErrorf("--keep-fd %d: descriptors from 1000 on are reserved", fd)
		}
		if fd < 3 {
			return nil, buildErrorf("--keep-fd %d: descriptors 0-2 are always passed", fd)
		}
		if err := b.rec.fdOpen(fd); err != nil {
			return nil, buildErrorf("--keep-fd %d: %v", fd, err)
		}
	}
	pl.KeepFDs = slices.Clone(o.KeepFDs)
	steps := []func() error{b.command, b.identity, b.grants, b.runtime, b.namespaces, b.mounts, b.landlock, b.seccomp, b.privileges, b.environment}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	pl.deps, pl.rlimits, pl.fds, pl.unsound = b.rec.deps, b.rec.rlimits, b.rec.fds, b.rec.unsound
	pl.built = o.Host == nil
	return pl, nil
}

func unknownCompartment(p *policy.Policy, name string) error {
	if p.Role(name) != nil {
		return buildErrorf("%q is a role, not a compartment: a role is not a program to confine", name)
	}
	var names []string
	for _, c := range p.Compartments {
		names = append(names, c.Name)
	}
	hint := ""
	best := -1
	for _, n := range names {
		if d := levenshtein(name, n); d <= 3 && (best < 0 || d < best) {
			best, hint = d, n
		}
	}
	if hint != "" {
		return buildErrorf("unknown compartment %q (did you mean %q?)", name, hint)
	}
	if len(names) == 0 {
		return buildErrorf("unknown compartment %q: the policy has no compartments", name)
	}
	return buildErrorf("unknown compartment %q (compartments: %s)", name, strings.Join(names, ", "))
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// builder holds the state of one Build.
type builder struct {
	p      *policy.Policy
	c      *policy.Compartment
	o      Options
	pl     *Plan
	prefix string
	rules  map[string]*PathRule
	ports  map[uint16]*PortRule
	// resRights are the rights the compartment's grants give on each
	// resource's own hierarchy, to find widenings.
	resRights map[string]uint64
	// netChannels: the compartment serves or uses a TCP/UDP channel.
	netChannels []string
	vsock       bool
	mapExecSelf bool
	// rec records the host state the build reads: every filesystem
	// access, rlimit and descriptor check goes through it.
	rec *recorder
}

func (b *builder) rp(path string) string {
	if b.prefix == "" {
		return path
	}
	return filepath.Join(b.prefix, path)
}

func (b *builder) limit(mech, format string, a ...any) {
	b.pl.Limits = append(b.pl.Limits, Note{mech, fmt.Sprintf(format, a...)})
}

func (b *builder) warn(format string, a ...any) {
	b.pl.Warnings = append(b.pl.Warnings, fmt.Sprintf(format, a...))
}

// command resolves the executable.
func (b *builder) command() error {
	arg0 := b.pl.Command[0]
	path := arg0
	if !strings.Contains(arg0, "/") {
		pathEnv := envValue(b.o.Environ, "PATH")
		if pathEnv == "" {
			pathEnv = defaultPath
		}
		path = ""
		for _, d := range filepath.SplitList(pathEnv) {
			cand := filepath.Join(d, arg0)
			if st, err := b.rec.stat(cand); err == nil && isRegular(st) && st.Mode&0o111 != 0 {
				path = cand
				break
			}
		}
		if path == "" {
			return &CommandError{Code: 127, Msg: fmt.Sprintf("%s: command not found in PATH", arg0)}
		}
	}
	abs, err := b.rec.abs(path)
	if err != nil {
		return err
	}
	st, err := b.rec.stat(abs)
	if err != nil {
		code := 126
		if errors.Is(err, os.ErrNotExist) {
			code = 127
		}
		return &CommandError{Code: code, Msg: err.Error()}
	}
	if !isRegular(st) || st.Mode&0o111 == 0 {
		return &CommandError{Code: 126, Msg: abs + ": not an executable file"}
	}
	b.pl.Path = abs
	dir := b.o.Dir
	if dir == "" {
		dir, _ = b.rec.getwd()
	}
	b.pl.Dir = dir
	real, _ := b.rec.evalSymlinks(abs)
	own := false
	for _, e := range b.c.Executables {
		if r, _ := b.rec.evalSymlinks(b.rp(e)); b.rp(e) == abs || (r != "" && r == real) {
			own = true
		}
	}
	if !own {
		exes := "it has none"
		if len(b.c.Executables) > 0 {
			exes = "its executables: " + strings.Join(b.c.Executables, ", ")
		}
		b.warn("%s is not an executable of compartment %s (%s); it runs confined as %s anyway", abs, b.c.Name, exes, b.c.Name)
	}
	return nil
}

// CommandError is a command that cannot be run: Code is 126 (not
// executable) or 127 (not found), as in a shell.
type CommandError struct {
	Code int
	Msg  string
}

// Error returns the message.
func (e *CommandError) Error() string { return e.Msg }

// identity resolves who the command runs as.
func (b *builder) identity() error {
	db := defaultUserDB()
	db.rec = b.rec
	id := &b.pl.Identity
	at := b.pl.Declared
	if b.pl.Host.UID != 0 {
		id.UID, id.GID = b.pl.Host.UID, b.pl.Host.GID
		id.User, id.Group = db.userName(id.UID), db.groupName(id.GID)
		id.Home = envValue(b.o.Environ, "HOME")
		if u, err := db.user(strconv.Itoa(id.UID)); err == nil && id.Home == "" {
			id.Home = u.home
		}
		want := b.c.User
		if b.o.User != "" {
			want = b.o.User
		}
		if want != "" && want != id.User && want != strconv.Itoa(id.UID) {
			b.limit("identity", "the compartment's user %s is not applied: without root the command keeps your uid %d (%s) in a user namespace", want, id.UID, id.User)
		}
		if len(b.c.Groups) > 0 {
			b.limit("identity", "supplementary groups %s are not applied without root", strings.Join(b.c.Groups, ", "))
		}
		return nil
	}
	id.Switch = true
	userName, groupName, groups := b.c.User, b.c.Group, b.c.Groups
	if b.o.User != "" {
		userName, groups = b.o.User, nil
		if b.o.Group == "" {
			groupName = ""
		}
	}
	if b.o.Group != "" {
		groupName = b.o.Group
	}
	if userName == "" {
		userName = "nobody"
		b.limit("identity", "compartment %s names no user: the command runs as nobody", b.c.Name)
	}
	u, err := db.user(userName)
	if err != nil {
		return buildErrorf("%s: compartment %s: %v (--user overrides it)", at, b.c.Name, err)
	}
	id.UID, id.User, id.Home, id.GID = u.uid, u.name, u.home, u.gid
	if groupName != "" {
		gid, err := db.groupID(groupName)
		if err != nil {
			return buildErrorf("%s: compartment %s: %v (--group overrides it)", at, b.c.Name, err)
		}
		id.GID = gid
	}
	if id.GID < 0 {
		return buildErrorf("%s: compartment %s: user %s has no primary group; name one (--group)", at, b.c.Name, userName)
	}
	id.Group = db.groupName(id.GID)
	for _, g := range groups {
		gid, err := db.groupID(g)
		if err != nil {
			return buildErrorf("%s: compartment %s: supplementary %v", at, b.c.Name, err)
		}
		id.Groups = append(id.Groups, gid)
	}
	return nil
}

// addPath merges rights for a path into the rule set.
func (b *builder) addPath(path string, access uint64, dir bool, why, widened string, runtime bool) {
	if access == 0 {
		return
	}
	r := b.rules[path]
	if r == nil {
		r = &PathRule{Path: path, Dir: dir, Runtime: runtime}
		b.rules[path] = r
	}
	r.Dir = r.Dir || dir
	r.Runtime = r.Runtime && runtime
	r.Access |= FSAccess(access)
	if !slices.Contains(r.Why, why) {
		r.Why = append(r.Why, why)
	}
	if widened != "" && !slices.Contains(r.Widened, widened) {
		r.Widened = append(r.Widened, widened)
	}
}

func (b *builder) addPort(port uint16, access uint64, why string) {
	r := b.ports[port]
	if r == nil {
		r = &PortRule{Port: port}
		b.ports[port] = r
	}
	r.Access |= NetAccess(access)
	if !slices.Contains(r.Why, why) {
		r.Why = append(r.Why, why)
	}
}

// grants turns the compartment's rules into Landlock rules.
func (b *builder) grants() error {
	notes := map[string]bool{}
	note := func(mech, s string) {
		if s != "" && !notes[s] {
			notes[s] = true
			b.limit(mech, "%s", s)
		}
	}
	for _, r := range b.p.RulesFor(b.c.Name) {
		why := r.String()
		for _, obj := range r.Objects {
			if res := b.p.Resource(obj); res != nil {
				b.resourceGrant(res, r.Verbs, why, note)
				continue
			}
			if ch := b.p.Channel(obj); ch != nil {
				b.channelGrant(ch, r, why, note)
				continue
			}
			if b.p.Compartment(obj) != nil {
				for _, v := range r.Verbs.Verbs() {
					switch {
					case v == policy.VerbMapExec && obj == b.c.Name:
						b.mapExecSelf = true
					case v == policy.VerbSignal || v == policy.VerbPtrace:
						note("namespaces", fmt.Sprintf("%s on compartment %s cannot be used: each sandbox has its own pid namespace, and Landlock scopes signals and ptrace to the sandbox (%s)", v, obj, why))
					}
				}
			}
		}
	}
	for _, t := range b.p.SpawnTargets(b.c.Name) {
		tc := b.p.Compartment(t)
		if tc == nil {
			continue
		}
		for _, e := range tc.Executables {
			b.addPath(b.rp(e), fsExecute|fsReadFile, false, "spawn "+b.c.Name+" → "+t, "", false)
		}
		note("landlock", fmt.Sprintf("spawn %s: the target's executables may be executed, but they run inside this sandbox (Landlock has no domain transition); start %s with its own 'rampart run'", t, t))
	}
	b.widenings()
	return nil
}

func (b *builder) resourceGrant(res *policy.Resource, verbs policy.VerbSet, why string, note func(string, string)) {
	for _, glob := range res.Paths {
		path, exact, widenedGlob := treeOf(glob)
		path = b.rp(path)
		tree := !exact || res.Kind == policy.KindDirectory
		// An exact path of a file kind that is a directory on disk is
		// still a file grant; one of kind directory is a hierarchy.
		st, statErr := b.rec.stat(path)
		isDir := tree
		if statErr == nil {
			isDir = isDirectory(st)
		}
		var self, parent uint64
		for _, v := range verbs.Verbs() {
			s, pa, n := verbRights(v, res.Kind, tree)
			self |= s
			parent |= pa
			if n != "" {
				note("landlock", fmt.Sprintf("%s (%s on %s)", n, v, res.Name))
			}
		}
		if self&fsMakeRights != 0 && self&(fsRemoveFile|fsRemoveDir) != 0 && b.pl.Host.LandlockABI >= 2 {
			self |= fsRefer
		}
		if !isDir {
			self &= fsFileRights
		}
		if tree {
			b.resRights[res.Name] |= self
		}
		widened := ""
		if widenedGlob {
			widened = fmt.Sprintf("glob %s of %s is widened to the whole hierarchy %s", glob, res.Name, path)
		}
		b.addPath(path, self, isDir, why+" on "+res.Name+" "+glob, widened, false)
		if parent != 0 {
			dir := filepath.Dir(path)
			b.addPath(dir, parent, true, why+" on "+res.Name+" "+glob+" (parent directory)",
				fmt.Sprintf("%s on the directory %s, not only on %s", FSAccess(parent), dir, glob), false)
		}
	}
}

func (b *builder) channelGrant(ch *policy.Channel, r *policy.Rule, why string, note func(string, string)) {
	switch ch.Protocol {
	case policy.ProtoUnix:
		if ch.Path == "" {
			note("fds", fmt.Sprintf("channel %s is an anonymous socket pair: pass its descriptor with --keep-fd", ch.Name))
			return
		}
		sock := b.rp(ch.Path)
		dir := filepath.Dir(sock)
		if r.Origin == policy.OriginServer {
			b.addPath(dir, fsMakeSock|fsRemoveFile, true, why+" (socket "+ch.Path+")",
				fmt.Sprintf("creating sockets and removing files anywhere under %s", dir), false)
		} else {
			// A rule on the directory survives the server re-creating
			// its socket (a new inode).
			b.addPath(dir, fsResolveUnix, true, why+" (socket "+ch.Path+")",
				fmt.Sprintf("connecting to any unix socket under %s", dir), false)
		}
	case policy.ProtoTCP, policy.ProtoUDP:
		b.netChannels = append(b.netChannels, ch.Name)
		var access uint64
		switch {
		case ch.Protocol == policy.ProtoTCP && r.Origin == policy.OriginServer:
			access = netBindTCP
			note("landlock", fmt.Sprintf("listen is not checked by Landlock: a socket that listens without bind gets an ephemeral port (channel %s)", ch.Name))
		case ch.Protocol == policy.ProtoTCP:
			access = netConnectTCP
		case r.Origin == policy.OriginServer:
			access = netBindUDP
		default:
			access = netConnectSendUDP
		}
		if len(ch.Remote) > 0 && !(len(ch.Remote) == 1 && ch.Remote[0] == "any") {
			note("landlock", fmt.Sprintf("channel %s: Landlock restricts ports, not addresses (remote %s is not enforced)", ch.Name, strings.Join(ch.Remote, ", ")))
		}
		for _, pr := range ch.Ports {
			for port := int(pr.First); port <= int(pr.Last); port++ {
				b.addPort(uint16(port), access, why)
			}
		}
		if access == netConnectSendUDP {
			// An unbound UDP socket is bound to an ephemeral port
			// ("autobind") when it first sends: go-landlock's BindUDP(0).
			b.addPort(0, netBindUDP, why+" (UDP autobind)")
		}
	case policy.ProtoVsock:
		b.vsock = true
		note("seccomp", fmt.Sprintf("channel %s: vsock sockets are allowed; their ports are not restricted (Landlock has no vsock rights)", ch.Name))
	}
}

// widenings notes where a hierarchy rule grants rights on a more
// specific resource beneath it that the policy grants less.
func (b *builder) widenings() {
	for path, r := range b.rules {
		if !r.Dir {
			continue
		}
		for _, res := range b.p.Resources {
			for _, glob := range res.Paths {
				t, _, _ := treeOf(glob)
				t = b.rp(t)
				if t == path && slices.ContainsFunc(r.Why, func(w string) bool { return strings.HasSuffix(w, " on "+res.Name+" "+glob) }) {
					continue // the rule's own resource
				}
				if !beneath(t, path) {
					continue
				}
				excess := uint64(r.Access) &^ b.resRights[res.Name] &^ fsResolveUnix
				if !res.Kind.IsResource() || res.Kind != policy.KindDirectory {
					excess &= fsFileRights | fsMakeRights | fsRemoveFile
				}
				if excess == 0 {
					continue
				}
				w := fmt.Sprintf("also grants %s on resource %s (%s), which the policy does not: Landlock cannot exclude a subtree", FSAccess(excess), res.Name, glob)
				if !slices.Contains(r.Widened, w) {
					r.Widened = append(r.Widened, w)
				}
			}
		}
	}
}

// runtime grants what the command needs to start.
func (b *builder) runtime() error {
	files, err := b.rec.commandFiles(b.pl.Path)
	if err != nil {
		return &CommandError{Code: 126, Msg: err.Error()}
	}
	for _, f := range files {
		b.addPath(f.path, f.access, false, "runtime: "+f.why, "", true)
	}
	for _, d := range []struct {
		path   string
		access uint64
	}{
		{"/dev/null", fsReadFile | fsWriteFile | fsTruncate},
		{"/dev/zero", fsReadFile},
		{"/dev/full", fsReadFile | fsWriteFile},
		{"/dev/random", fsReadFile},
		{"/dev/urandom", fsReadFile},
	} {
		b.addPath(d.path, d.access, false, "runtime: device", "", true)
	}
	return nil
}

// namespaces decides the namespaces.
func (b *builder) namespaces() error {
	ns := &b.pl.Namespaces
	ns.User = b.pl.Host.UID != 0
	ns.Mount, ns.PID, ns.IPC, ns.UTS = true, true, true, true
	ns.Hostname = b.c.Name
	if len(b.netChannels) == 0 {
		ns.Net = true
		ns.NetReason = "no TCP/UDP channel: a network namespace with only loopback"
	} else {
		ns.NetReason = "the host's network namespace, for channels " + strings.Join(uniq(b.netChannels), ", ") + " (Landlock restricts the ports)"
	}
	return nil
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// privateDirs are emptied (tmpfs) in the sandbox; granted paths under
// them are bound back.
func (b *builder) privateDirs() []string {
	dirs := []string{"/tmp", "/run", "/dev/shm"}
	if b.prefix != "" {
		for _, d := range []string{"/tmp", "/run"} {
			if st, err := b.rec.stat(b.rp(d)); err == nil && isDirectory(st) {
				dirs = append(dirs, b.rp(d))
			}
		}
	}
	return dirs
}

// mounts plans the mount namespace.
func (b *builder) mounts() error {
	privs := b.privateDirs()
	under := func(p string) bool {
		for _, d := range privs {
			if beneath(p, d) {
				return true
			}
		}
		return false
	}
	ms := []Mount{{Op: MountPrivate, Path: "/"}}
	var binds []Mount
	for _, path := range sortedKeys(b.rules) {
		r := b.rules[path]
		st, err := b.rec.stat(path)
		if err != nil {
			r.Missing = true
			continue
		}
		writable := uint64(r.Access)&fsWriteRights != 0 && (isDirectory(st) || isRegular(st))
		if !writable && !under(path) {
			continue
		}
		why := "granted under a private directory"
		if writable {
			why = "writable grant"
		}
		binds = append(binds, Mount{Op: MountBind, Path: path, Writable: writable, Dir: isDirectory(st), Why: why})
	}
	// Parents before children, so that a child's bind lands on top.
	sort.SliceStable(binds, func(i, j int) bool { return len(binds[i].Path) < len(binds[j].Path) })
	ms = append(ms, Mount{Op: MountReadOnly, Path: "/"})
	for _, d := range privs {
		ms = append(ms, Mount{Op: MountTmpfs, Path: d, Why: "private"})
	}
	ms = append(ms, binds...)
	ms = append(ms, Mount{Op: MountProc, Path: "/proc", Why: "the pid namespace's processes"})
	b.pl.Mounts = ms
	for _, path := range sortedKeys(b.rules) {
		if r := b.rules[path]; r.Missing && !r.Runtime {
			b.limit("landlock", "%s does not exist: its rule is not installed (the path stays denied if it appears later)", path)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// landlock computes the ruleset and the gaps of this kernel.
func (b *builder) landlock() error {
	abi := b.pl.Host.LandlockABI
	fs, net, scoped := abiRights(abi)
	ll := &b.pl.Landlock
	ll.WantedFS, ll.WantedNet, ll.WantedScoped = fsAll, netAll, scopeAll
	ll.HandledFS, ll.HandledNet, ll.HandledScoped = FSAccess(fs), NetAccess(net), scoped
	for _, path := range sortedKeys(b.rules) {
		ll.Paths = append(ll.Paths, *b.rules[path])
	}
	ports := make([]int, 0, len(b.ports))
	for p := range b.ports {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	for _, p := range ports {
		ll.Ports = append(ll.Ports, *b.ports[uint16(p)])
	}
	ns := b.pl.Namespaces
	for _, g := range abiGaps {
		if abi >= g.abi {
			continue
		}
		if g.abi == 1 && abi == 0 {
			b.pl.Gaps = append(b.pl.Gaps, Gap{"landlock", "no Landlock: filesystem and network rules are not enforced", "Landlock (Linux 5.13+, enabled in the lsm= boot list)", g.mitigation})
			break
		}
		// A network namespace with only loopback covers the network
		// rights and abstract sockets completely (and the pid namespace
		// the signals).
		if (g.net != 0 || g.scoped != 0) && ns.Net {
			continue
		}
		if g.abi == 2 {
			continue // refer: denies more, never less
		}
		b.pl.Gaps = append(b.pl.Gaps, Gap{"landlock", g.what, fmt.Sprintf("Landlock ABI %d", g.abi), g.mitigation})
	}
	return nil
}

// seccomp builds the syscall filter.
func (b *builder) seccomp() error {
	sc := &b.pl.Seccomp
	refuse := b.o.SeccompRefuse
	if refuse == 0 {
		refuse = seccomp.ActionErrno(unix.EPERM)
	}
	sc.Refuse, sc.RefuseAction = refuse.String(), uint32(refuse)
	arch, err := seccomp.NativeArch()
	if err != nil || !b.pl.Host.Seccomp {
		what := "the kernel has no seccomp filters"
		if err != nil {
			what = err.Error()
		}
		b.pl.Gaps = append(b.pl.Gaps, Gap{"seccomp", "syscalls are not filtered: " + what, "seccomp-bpf (CONFIG_SECCOMP_FILTER) and a syscall table for the architecture", ""})
		return nil
	}
	sc.Enabled, sc.Arch = true, arch.Name
	spec := &seccomp.Spec{Arch: arch, Refuse: refuse, RestrictNamespaces: true, DenyMPTCP: true, DenyVsock: !b.vsock, DenyTIOCSTI: true}
	added, unknownAdded, err := seccomp.Expand(arch, b.o.AddSyscalls)
	if err != nil {
		return buildErrorf("--add-syscalls: %v", err)
	}
	if len(unknownAdded) > 0 {
		return buildErrorf("--add-syscalls: unknown %s syscalls %s", arch.Name, strings.Join(unknownAdded, ", "))
	}
	if len(b.o.AddSyscalls) > 0 {
		b.warn("seccomp: syscalls added on the command line, beyond the policy: %s", strings.Join(b.o.AddSyscalls, " "))
	}
	if len(b.c.Syscalls) == 0 {
		spec.Mode = seccomp.Denylist
		spec.Names = slices.DeleteFunc(seccomp.DefaultDenylist(arch), func(n string) bool { return slices.Contains(added, n) })
		sc.Mode = "denylist"
		b.limit("seccomp", "compartment %s lists no syscalls: rampart refuses the dangerous ones (%d) instead of leaving syscalls unrestricted", b.c.Name, len(spec.Names))
	} else {
		spec.Mode = seccomp.Allowlist
		sc.Mode = "allowlist"
		sc.Entries = append(append([]string{"@default"}, b.c.Syscalls...), b.o.AddSyscalls...)
		names, unknown, err := seccomp.Expand(arch, sc.Entries)
		if err != nil {
			return buildErrorf("%s: compartment %s: syscalls: %v", b.pl.Declared, b.c.Name, err)
		}
		for _, u := range unknown {
			b.warn("seccomp: syscall %q is not a %s syscall; ignored", u, arch.Name)
		}
		spec.Names = names
		// Group the findings by reason; the namespace syscalls are
		// already limited by the argument rules.
		byReason := map[string][]string{}
		var reasons []string
		for _, f := range seccomp.Lint(names) {
			if f.Syscall == "unshare" || f.Syscall == "setns" {
				continue
			}
			if byReason[f.Reason] == nil {
				reasons = append(reasons, f.Reason)
			}
			byReason[f.Reason] = append(byReason[f.Reason], f.Syscall)
		}
		for _, r := range reasons {
			b.warn("seccomp: the allowlist allows %s: %s", strings.Join(byReason[r], ", "), r)
		}
	}
	sc.Syscalls = spec.Names
	sc.RestrictNamespaces, sc.DenyMPTCP, sc.DenyVsock, sc.DenyTIOCSTI = spec.RestrictNamespaces, spec.DenyMPTCP, spec.DenyVsock, spec.DenyTIOCSTI
	prog, err := spec.Program()
	if err != nil {
		return err
	}
	sc.Program = seccomp.Encode(prog)
	sc.Instructions = len(prog)
	return nil
}

// privileges plans capabilities, MDWE, rlimits and the SELinux label.
func (b *builder) privileges() error {
	for _, cp := range b.c.Capabilities {
		b.pl.Capabilities = append(b.pl.Capabilities, string(cp))
	}
	if b.pl.Namespaces.User && len(b.pl.Capabilities) > 0 {
		b.limit("capabilities", "without root, capabilities %s hold only inside the sandbox's user namespace", strings.Join(b.pl.Capabilities, ", "))
	}
	if !b.mapExecSelf {
		if b.pl.Host.MDWE {
			b.pl.DenyWriteExecute = true
		} else {
			b.pl.Gaps = append(b.pl.Gaps, Gap{"mdwe", "writable-and-executable memory is not refused (the compartment has no map-exec on itself)", "prctl(PR_SET_MDWE), Linux 6.3+", ""})
		}
	}
	for _, n := range policy.LimitNames() {
		v, ok := b.c.Limits[n]
		if !ok {
			continue
		}
		res := -1
		switch n {
		case policy.LimitNoFile:
			res = unix.RLIMIT_NOFILE
		case policy.LimitNProc:
			res = unix.RLIMIT_NPROC
		case policy.LimitCore:
			res = unix.RLIMIT_CORE
		default:
			b.limit("cgroup", "limit %s = %d is a cgroup limit and is not applied by rampart run (use the systemd unit, or systemd-run)", n, v)
			continue
		}
		if cur, err := b.rec.getrlimit(res); err == nil && v > cur.Max {
			b.limit("rlimit", "limit %s = %d is above the hard limit %d and is clamped to it (raising it needs CAP_SYS_RESOURCE)", n, v, cur.Max)
			v = cur.Max
		}
		b.pl.Rlimits = append(b.pl.Rlimits, Rlimit{Name: string(n), Resource: res, Value: v})
	}
	if b.pl.Host.SELinux {
		b.pl.SELinuxLabel = b.o.SELinuxLabel
		if b.pl.SELinuxLabel == "" {
			b.pl.SELinuxLabel = DefaultSELinuxLabel(b.c.Name)
		}
		if err := checkSELinuxLabel(b.pl.SELinuxLabel); err != nil {
			return buildErrorf("SELinux label %q: %v", b.pl.SELinuxLabel, err)
		}
	} else if b.o.SELinuxLabel != "" {
		b.warn("SELinux is not enabled: label %s is not applied", b.o.SELinuxLabel)
	}
	b.limit("fds", "descriptors 0-2 (and --keep-fd ones) are inherited as opened by the caller: Landlock does not check descriptors opened before confinement")
	b.limit("landlock", "hard links created before confinement inside a granted hierarchy reach their inode: Landlock checks paths, SELinux checks the inode's label")
	return nil
}

// environment scrubs the environment.
func (b *builder) environment() error {
	var env []string
	keep := map[string]bool{}
	for _, k := range append(slices.Clone(keptEnv), b.o.KeepEnv...) {
		keep[k] = true
	}
	for _, kv := range b.o.Environ {
		k, _, ok := strings.Cut(kv, "=")
		if ok && (keep[k] || strings.HasPrefix(k, "LC_")) {
			env = append(env, kv)
		}
	}
	if envValue(env, "PATH") == "" {
		env = append(env, "PATH="+defaultPath)
	}
	id := b.pl.Identity
	env = append(env, "HOME="+id.Home, "USER="+id.User, "LOGNAME="+id.User)
	for _, kv := range b.o.SetEnv {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return buildErrorf("--setenv %q: want NAME=value", kv)
		}
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		env = append(env, kv)
	}
	b.pl.Env = env
	return nil
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
