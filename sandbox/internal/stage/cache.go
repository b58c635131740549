package stage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The launch cache lets "rampart run" skip the Go runtime: an entry
// holds a launch record and everything the plan was built from, and the
// launcher (launch.c) runs the record only when all of it is unchanged.
// Entries are files in CacheDir, named by CacheKey; the launcher reads
// one only if the directory is not a symlink, is owned by the effective
// user and has mode 0700 (no group or other bits), and the file is a
// regular file owned by the same user, not group- or other-writable.
//
//	entry = "RCACHE02" field*     (fields as in a launch record)
//
//	CTagArg     string  argv after argv[0], repeated: equal, in order
//	CTagEnv     string  the whole environment, repeated: equal, in order
//	CTagCwd     string  getcwd()
//	CTagIDs     u32 euid, u32 egid, u32 ruid, u32 rgid
//	CTagBoot    string  /proc/sys/kernel/random/boot_id (36 bytes):
//	            the same kernel, Landlock ABI, LSMs and device numbers
//	CTagExe     statid of /proc/self/exe: the same rampart binary
//	CTagDep     u8 call (1 stat, 2 lstat), u8 flags (DepIdentity), u16 0,
//	            u32 errno (0: the call succeeded), statid (zero unless it
//	            succeeded; only its identity part, the rest zero, with
//	            DepIdentity), path: the call gives the same result again
//	CTagRlimit  u32 resource, u32 0, u64 cur, u64 max: getrlimit agrees
//	CTagOpenFD  u32 fd: the descriptor is open (fcntl F_GETFD)
//	CTagStderr  string  written to standard error before the launch
//	            (the gaps and warnings the Go command would print)
//	CTagRecord  the launch record (descriptors to keep in place)
//	CTagHost    u32 Landlock ABI, u32 flags (HostSeccomp, HostMDWE,
//	            HostSELinuxFS): what the planner found the kernel could
//	            do for this caller (sandbox.DetectHost), probed again
//
//	statid = u64 dev, u64 ino, u32 mode, u32 uid, u32 gid, u32 0,
//	         i64 size, i64 mtime_sec, i64 mtime_nsec, i64 ctime_sec,
//	         i64 ctime_nsec          (72 bytes; st_dev as the kernel's
//	                                  new_encode_dev, as glibc returns it)
//
// The identity part of a statid is its first 32 bytes (dev, ino, mode,
// uid, gid): a directory crossed on the way to a file is the same
// directory, whatever names were added to it since.
//
// A statid equal in all fields (with ctime, which no unprivileged caller
// can set) means the file was not changed, provided it was not changed
// within one timestamp tick of the recording: Store refuses entries with
// a dependency changed less than RacyWindow before (as git does for its
// index), so that a later change cannot carry the same timestamps.
const (
	CacheMagic = "RCACHE02"

	CTagArg    = 101
	CTagEnv    = 102
	CTagCwd    = 103
	CTagIDs    = 104
	CTagBoot   = 105
	CTagExe    = 106
	CTagDep    = 107
	CTagRlimit = 108
	CTagOpenFD = 109
	CTagStderr = 110
	CTagRecord = 111
	CTagHost   = 112
)

// Flags of CTagHost.
const (
	HostSeccomp   = 1 << 0 // seccomp filters (seccomp(2) with a NULL program fails with EFAULT)
	HostMDWE      = 1 << 1 // prctl(PR_GET_MDWE) answers
	HostSELinuxFS = 1 << 2 // /sys/fs/selinux is selinuxfs
)

// HostFacts are the host probes a plan was made with.
type HostFacts struct {
	LandlockABI int
	Flags       uint32
}

// Dependency calls of CTagDep.
const (
	CallStat  = 1
	CallLstat = 2
)

// DepIdentity is the CTagDep flag of an identity fact (Dep.Identity).
const DepIdentity = 1

// RacyWindow is how recent a dependency's change may be for an entry to
// be stored: coarser than any filesystem's timestamp granularity that
// matters here (the kernel's tick; FAT's two seconds).
const RacyWindow = 2 * time.Second

// MaxEntry is the largest entry the launcher reads.
const MaxEntry = 8 << 20

// StatID identifies a file's state (see the cache format above).
type StatID struct {
	Dev, Ino                                       uint64
	Mode, UID, GID                                 uint32
	Size, MtimeSec, MtimeNsec, CtimeSec, CtimeNsec int64
}

func statID(st *unix.Stat_t) StatID {
	return StatID{
		Dev: st.Dev, Ino: st.Ino, Mode: st.Mode, UID: st.Uid, GID: st.Gid, Size: st.Size,
		MtimeSec: st.Mtim.Sec, MtimeNsec: st.Mtim.Nsec, CtimeSec: st.Ctim.Sec, CtimeNsec: st.Ctim.Nsec,
	}
}

// changed returns the later of the modification and change times.
func (s StatID) changed() time.Time {
	m, c := time.Unix(s.MtimeSec, s.MtimeNsec), time.Unix(s.CtimeSec, s.CtimeNsec)
	if m.After(c) {
		return m
	}
	return c
}

// Dep is one filesystem fact a plan was built from: the result of
// stat(2) or lstat(2) on Path.
type Dep struct {
	Path  string
	Lstat bool
	// Identity says that only the file's identity is recorded and
	// checked: Stat's Dev, Ino, Mode, UID and GID, the rest being zero.
	// It suits a directory whose names the plan does not depend on.
	Identity bool
	Errno    unix.Errno // 0: the call succeeded and Stat holds its result
	Stat     StatID
}

// AsIdentity returns d reduced to an identity fact.
func (d Dep) AsIdentity() Dep {
	d.Identity = true
	d.Stat = StatID{Dev: d.Stat.Dev, Ino: d.Stat.Ino, Mode: d.Stat.Mode, UID: d.Stat.UID, GID: d.Stat.GID}
	return d
}

// Holds reports whether repeating d's call now gives the same fact, as
// the launcher checks it.
func (d Dep) Holds() bool {
	now := StatDep(d.Path, d.Lstat)
	if d.Identity {
		now = now.AsIdentity()
	}
	return now == d
}

// StatDep calls stat(2) (or lstat(2)) on path now and returns the fact.
func StatDep(path string, lstat bool) Dep {
	d := Dep{Path: path, Lstat: lstat}
	var st unix.Stat_t
	var err error
	if lstat {
		err = unix.Lstat(path, &st)
	} else {
		err = unix.Stat(path, &st)
	}
	if err != nil {
		d.Errno = unix.EIO
		var e unix.Errno
		if errors.As(err, &e) {
			d.Errno = e
		}
		return d
	}
	d.Stat = statID(&st)
	return d
}

// RlimitCheck is a resource limit the plan was built with.
type RlimitCheck struct {
	Resource int
	Cur, Max uint64
}

// Entry is a launch cache entry.
type Entry struct {
	// Args are the arguments after argv[0], Env the whole environment,
	// Cwd the working directory: the request, compared exactly.
	Args []string
	Env  []string
	Cwd  string
	// Deps, Rlimits and OpenFDs are what the plan was built from.
	Deps    []Dep
	Rlimits []RlimitCheck
	OpenFDs []int
	// Host is what the planner found the kernel could do.
	Host HostFacts
	// Stderr is printed before the launch.
	Stderr string
	// Record is the launch record, with the descriptors in place.
	Record []byte
}

// CacheDir returns the launch cache directory of a caller with effective
// uid euid and environment env, or "" when the cache is off:
// $RAMPART_RUN_CACHE when it is an absolute path ("off" turns the cache
// off; other values are ignored); else /run/rampart/run-cache for root;
// else $XDG_RUNTIME_DIR/rampart/run-cache when that is an absolute path;
// else /tmp/rampart-<euid>/run-cache. The first of several entries of a
// variable counts. launch.c computes the same.
func CacheDir(euid int, env []string) string {
	dir, _ := cacheDirOf(euid, env)
	return dir
}

// cacheDirOf is CacheDir, and whether RAMPART_RUN_CACHE named the
// directory (which Store does not create).
func cacheDirOf(euid int, env []string) (dir string, named bool) {
	switch v := lookupEnv(env, "RAMPART_RUN_CACHE"); {
	case v == "off":
		return "", false
	case strings.HasPrefix(v, "/"):
		return v, true
	}
	if euid == 0 {
		return "/run/rampart/run-cache", false
	}
	if v := lookupEnv(env, "XDG_RUNTIME_DIR"); strings.HasPrefix(v, "/") {
		return filepath.Join(v, "rampart", "run-cache"), false
	}
	return "/tmp/rampart-" + strconv.Itoa(euid) + "/run-cache", false
}

// lookupEnv returns the value of the first entry of name in env, or "".
func lookupEnv(env []string, name string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// CacheKey returns the file name of the entry for a request: 16 hex
// digits of the 64-bit FNV-1a hash of each argument followed by NUL, a
// 0x01 byte, each environment entry followed by NUL, a 0x01 byte, and
// the working directory. launch.c computes the same.
func CacheKey(args, env []string, cwd string) string {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	add := func(s string, end byte) {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		h = (h ^ uint64(end)) * prime
	}
	for _, a := range args {
		add(a, 0)
	}
	h = (h ^ 1) * prime
	for _, e := range env {
		add(e, 0)
	}
	h = (h ^ 1) * prime
	for i := 0; i < len(cwd); i++ {
		h = (h ^ uint64(cwd[i])) * prime
	}
	return fmt.Sprintf("%016x", h)
}

// SELinuxFS reports whether /sys/fs/selinux is selinuxfs: the launcher's
// probe of SELinux (go-selinux looks further).
func SELinuxFS() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

// ErrRacy means an entry was not stored because a file it depends on
// changed too recently to be told apart from a later change.
var ErrRacy = errors.New("launch cache: a dependency changed too recently")

// Encode returns the entry's bytes, with the identity of the running
// binary, the caller's ids and the boot id.
func (e *Entry) Encode() ([]byte, error) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil, fmt.Errorf("launch cache: %w", err)
	}
	exe := StatDep("/proc/self/exe", false)
	if exe.Errno != 0 {
		return nil, fmt.Errorf("launch cache: stat /proc/self/exe: %v", exe.Errno)
	}
	w := &recordWriter{b: []byte(CacheMagic)}
	for _, a := range e.Args {
		w.field(CTagArg, a)
	}
	for _, v := range e.Env {
		w.field(CTagEnv, v)
	}
	w.field(CTagCwd, e.Cwd)
	w.field(CTagIDs, uint32(os.Geteuid()), uint32(os.Getegid()), uint32(os.Getuid()), uint32(os.Getgid()))
	w.field(CTagBoot, strings.TrimSpace(string(boot)))
	w.field(CTagExe, statBytes(exe.Stat))
	for _, d := range e.Deps {
		call := uint8(CallStat)
		if d.Lstat {
			call = CallLstat
		}
		if hasNUL(d.Path) {
			return nil, fmt.Errorf("launch cache: path %q contains a NUL byte", d.Path)
		}
		var flags uint8
		if d.Identity {
			flags = DepIdentity
			d = d.AsIdentity()
		}
		w.field(CTagDep, call, flags, uint16(0), uint32(d.Errno), statBytes(d.Stat), d.Path)
	}
	for _, r := range e.Rlimits {
		w.field(CTagRlimit, uint32(r.Resource), uint32(0), r.Cur, r.Max)
	}
	for _, fd := range e.OpenFDs {
		w.field(CTagOpenFD, uint32(fd))
	}
	if e.Stderr != "" {
		w.field(CTagStderr, e.Stderr)
	}
	w.field(CTagRecord, e.Record)
	w.field(CTagHost, uint32(e.Host.LandlockABI), e.Host.Flags)
	if len(w.b) > MaxEntry {
		return nil, fmt.Errorf("launch cache: entry of %d bytes", len(w.b))
	}
	return w.b, nil
}

func statBytes(s StatID) []byte {
	b := make([]byte, 0, 72)
	for _, v := range []uint64{s.Dev, s.Ino} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	for _, v := range []uint32{s.Mode, s.UID, s.GID, 0} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	for _, v := range []int64{s.Size, s.MtimeSec, s.MtimeNsec, s.CtimeSec, s.CtimeNsec} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// Store writes the entry into the caller's cache directory (creating it,
// mode 0700), atomically. It returns ErrRacy, without writing, when a
// dependency changed less than RacyWindow ago, and an error when the
// directory is not the caller's own.
func (e *Entry) Store() error {
	now := time.Now()
	for _, d := range e.Deps {
		if d.Errno == 0 && !d.Identity && now.Sub(d.Stat.changed()) < RacyWindow {
			return ErrRacy
		}
	}
	b, err := e.Encode()
	if err != nil {
		return err
	}
	dir, named := cacheDirOf(os.Geteuid(), e.Env)
	if dir == "" {
		return nil
	}
	// A directory named by RAMPART_RUN_CACHE must exist; the default ones
	// are created.
	if err := ownDir(dir, !named); err != nil {
		return err
	}
	name := filepath.Join(dir, CacheKey(e.Args, e.Env, e.Cwd))
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("launch cache: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("launch cache: %w", err)
	}
	return trim(dir, MaxEntries)
}

// MaxEntries bounds a cache directory: storing an entry beyond it
// removes the least recently stored quarter (the cache lives in /run,
// in memory, and requests with ever new arguments must not fill it).
const MaxEntries = 1024

// trim removes the oldest entries of dir (and stale temporary files)
// when it holds more than max.
func trim(dir string, max int) error {
	des, err := os.ReadDir(dir)
	if err != nil || len(des) <= max {
		return nil
	}
	type old struct {
		name string
		mod  time.Time
	}
	var all []old
	for _, de := range des {
		// Only what Store writes: a directory named by
		// RAMPART_RUN_CACHE may hold other files.
		if !isEntryName(de.Name()) && !strings.HasPrefix(de.Name(), ".tmp-") {
			continue
		}
		info, err := de.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		all = append(all, old{de.Name(), info.ModTime()})
	}
	keep := max * 3 / 4
	if len(all) <= keep {
		return nil
	}
	slices.SortFunc(all, func(a, b old) int { return a.mod.Compare(b.mod) })
	for _, o := range all[:len(all)-keep] {
		os.Remove(filepath.Join(dir, o.name))
	}
	return nil
}

// isEntryName reports whether name is a CacheKey.
func isEntryName(name string) bool {
	if len(name) != 16 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ownDir creates dir (and its parent, as for /tmp/rampart-<uid>) with
// mode 0700 if missing (a directory named by RAMPART_RUN_CACHE must
// exist) and checks that it is a directory of the
// effective user with no group or other permissions, as the launcher
// will.
func ownDir(dir string, create bool) error {
	euid := os.Geteuid()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if !create {
			break
		}
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("launch cache: %w", err)
		}
	}
	var st unix.Stat_t
	if create {
		// A default directory's parent (/tmp/rampart-<uid>, which
		// anyone could have made first) must be the caller's too:
		// whoever may rename in it could swap dir for a symlink
		// between this check and the writes (and trim's removals).
		parent := filepath.Dir(dir)
		if err := unix.Lstat(parent, &st); err != nil {
			return fmt.Errorf("launch cache: %w", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != euid || st.Mode&0o022 != 0 {
			return fmt.Errorf("launch cache: %s is not a directory of uid %d that only it may write", parent, euid)
		}
	}
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("launch cache: %w", err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("launch cache: %s is not a directory", dir)
	case int(st.Uid) != euid:
		return fmt.Errorf("launch cache: %s belongs to uid %d, not %d", dir, st.Uid, euid)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("launch cache: %s has mode %#o (want 0700)", dir, st.Mode&0o7777)
	}
	return nil
}
