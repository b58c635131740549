package sandbox

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rampart-sec/rampart/policy"
	"github.com/rampart-sec/rampart/sandbox/internal/stage"
)

// A plan is a function of the request (arguments, environment, working
// directory, ids), the host (kernel, Landlock ABI, LSMs, seccomp, MDWE:
// fixed for a boot) and the host state Build reads. The launch cache
// keys an entry by the first two and checks the third: so Build reads
// every file, directory and symlink through a recorder, which takes a
// fact (stage.Dep: the result of stat(2) or lstat(2), errors included)
// of each path before it is used, and the rlimits and descriptors it
// consults. Decisions are made from the recorded facts themselves where
// a stat suffices, so that the plan follows from what is recorded.
//
// What each kind of access records:
//
//   - stat or lstat of a path: that call's fact;
//   - reading a file (its content, or an ELF header): stat(path), taken
//     before the read; the content cannot change without changing the
//     file's mtime and ctime (or, replaced, its inode);
//   - reading a directory's names (glob): stat(dir), whose mtime and
//     ctime change when a name is added, removed or renamed;
//   - resolving symlinks: lstat of every path visited, intermediate
//     links of a chain included (a symlink's target cannot change in
//     place: a new target is a new symlink, with a new lstat);
//   - the working directory (os.Getwd): stat of "." and of $PWD, which
//     decide between $PWD and getcwd(2), both part of the key.
//
// Only the identity (device, inode, mode, owner) of a directory is
// recorded where the plan depends on nothing else of it: the directories
// lstat crosses (each name in them that the plan depends on has its own
// fact) and the working directory. Their times change whenever a name
// is added or removed, as in /tmp or a service's working directory all
// the time, and would make the cache miss for nothing. So a directory's
// names are only ever read after a stat (never an lstat) of it.
//
// A fact is taken once per path and call; later uses of the same path
// see the first fact. A change after a fact was taken makes the fact
// stale, so the cache misses; a change within one timestamp tick of the
// fact could go unseen, which Store rules out (stage.RacyWindow).
type recorder struct {
	deps  []stage.Dep
	index map[depKey]int
	// rlimits are the resource limits read with getrlimit(2); fds the
	// descriptors checked open with F_GETFD.
	rlimits []stage.RlimitCheck
	fds     []int
	// unsound says why the plan depends on something that is not
	// recorded (an error that is not a fact of the filesystem, such as
	// running out of descriptors); such a plan is not cached.
	unsound string
}

type depKey struct {
	path            string
	lstat, identity bool
}

func newRecorder() *recorder { return &recorder{index: map[depKey]int{}} }

// fact returns the result of stat(2), or lstat(2), on path: the one this
// build recorded, else taken now and recorded. The lstat of a directory
// is an identity fact. A nil recorder takes it without recording.
func (r *recorder) fact(path string, lstat bool) stage.Dep {
	return r.take(depKey{path: path, lstat: lstat})
}

// identity is fact(path, false) reduced to the file's identity.
func (r *recorder) identity(path string) stage.Dep {
	return r.take(depKey{path: path, identity: true})
}

// keyOf returns the key under which take records d.
func keyOf(d stage.Dep) depKey {
	return depKey{path: d.Path, lstat: d.Lstat, identity: d.Identity && !d.Lstat}
}

// add records d unless a fact under the same key is recorded.
func (r *recorder) add(d stage.Dep) {
	k := keyOf(d)
	if _, ok := r.index[k]; ok {
		return
	}
	r.index[k] = len(r.deps)
	r.deps = append(r.deps, d)
}

func (r *recorder) take(k depKey) stage.Dep {
	if r != nil {
		if i, ok := r.index[k]; ok {
			return r.deps[i]
		}
	}
	d := stage.StatDep(k.path, k.lstat)
	for d.Errno == unix.EINTR { // as os.Stat retries
		d = stage.StatDep(k.path, k.lstat)
	}
	if k.identity || k.lstat && d.Errno == 0 && isDirectory(d.Stat) {
		d = d.AsIdentity()
	}
	if r != nil {
		r.add(d)
	}
	return d
}

// checked returns err, having tainted the build if err is transient: a
// failure that is not a fact of the filesystem.
func (r *recorder) checked(err error) error {
	if err != nil && transient(err) {
		r.taint("%v", err)
	}
	return err
}

// taint marks the build as depending on something not recorded.
func (r *recorder) taint(format string, a ...any) {
	if r != nil && r.unsound == "" {
		r.unsound = fmt.Sprintf(format, a...)
	}
}

// factErr returns the error of a fact's call, as os.Stat would.
func factErr(op string, d stage.Dep) error {
	if d.Errno == 0 {
		return nil
	}
	return &fs.PathError{Op: op, Path: d.Path, Err: d.Errno}
}

// stat is os.Stat, recorded.
func (r *recorder) stat(path string) (stage.StatID, error) {
	d := r.fact(path, false)
	return d.Stat, factErr("stat", d)
}

// lstat is os.Lstat, recorded.
func (r *recorder) lstat(path string) (stage.StatID, error) {
	d := r.fact(path, true)
	return d.Stat, factErr("lstat", d)
}

func isDirectory(s stage.StatID) bool { return s.Mode&unix.S_IFMT == unix.S_IFDIR }
func isRegular(s stage.StatID) bool   { return s.Mode&unix.S_IFMT == unix.S_IFREG }
func isSymlink(s stage.StatID) bool   { return s.Mode&unix.S_IFMT == unix.S_IFLNK }

// transient reports whether err is a failure that says nothing about the
// file (out of descriptors or memory, an I/O error, an interrupted
// call): a result that depends on it is not a function of the facts.
func transient(err error) bool {
	for _, e := range []syscall.Errno{unix.EMFILE, unix.ENFILE, unix.ENOMEM, unix.EIO, unix.EINTR, unix.EAGAIN, unix.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// open records stat(path) and opens path for reading.
func (r *recorder) open(path string) (*os.File, error) {
	r.toRead(path)
	f, err := os.Open(path)
	return f, r.checked(err)
}

// toRead records stat(path) of a file about to be read. The content of
// a regular file is covered by its stat, that of a device or a pipe is
// not: reading one makes the build unsound.
func (r *recorder) toRead(path string) {
	if d := r.fact(path, false); d.Errno == 0 && !isRegular(d.Stat) && !isDirectory(d.Stat) {
		r.taint("%s is not a regular file", path)
	}
}

// openELF records stat(path) and opens path as an ELF file.
func (r *recorder) openELF(path string) (*elf.File, error) {
	r.toRead(path)
	ef, err := elf.Open(path)
	return ef, r.checked(err)
}

// readlink is os.Readlink of a path whose lstat is recorded.
func (r *recorder) readlink(path string) (string, error) {
	link, err := os.Readlink(path)
	return link, r.checked(err)
}

// evalSymlinks is filepath.EvalSymlinks (walkSymlinks on Unix, whose
// algorithm it follows step by step, so that it resolves exactly as the
// standard library does), with the lstat of every path it visits
// recorded: each component of the path and of every link target, so
// each link of a chain. TestDepsGlobAndSymlinks compares the two.
func (r *recorder) evalSymlinks(path string) (string, error) {
	volLen := 0
	if len(path) > 0 && path[0] == '/' {
		volLen = 1
	}
	vol := path[:volLen]
	dest := vol
	linksWalked := 0
	for start, end := volLen, volLen; start < len(path); start = end {
		for start < len(path) && path[start] == '/' {
			start++
		}
		end = start
		for end < len(path) && path[end] != '/' {
			end++
		}
		if end == start {
			break
		} else if path[start:end] == "." {
			continue
		} else if path[start:end] == ".." {
			var i int
			for i = len(dest) - 1; i >= volLen; i-- {
				if dest[i] == '/' {
					break
				}
			}
			if i < volLen || dest[i+1:] == ".." {
				if len(dest) > volLen {
					dest += "/"
				}
				dest += ".."
			} else {
				dest = dest[:i]
			}
			continue
		}
		if len(dest) > 0 && dest[len(dest)-1] != '/' {
			dest += "/"
		}
		dest += path[start:end]
		st, err := r.lstat(dest)
		if err != nil {
			return "", err
		}
		if !isSymlink(st) {
			if !isDirectory(st) && end < len(path) {
				return "", syscall.ENOTDIR
			}
			continue
		}
		linksWalked++
		if linksWalked > 255 {
			return "", errors.New("EvalSymlinks: too many links")
		}
		link, err := r.readlink(dest)
		if err != nil {
			return "", err
		}
		path = link + path[end:]
		if len(link) > 0 && link[0] == '/' {
			dest, end, vol, volLen = "/", 1, "/", 1
		} else {
			var i int
			for i = len(dest) - 1; i >= volLen; i-- {
				if dest[i] == '/' {
					break
				}
			}
			if i < volLen {
				dest = vol
			} else {
				dest = dest[:i]
			}
			end = 0
		}
	}
	return filepath.Clean(dest), nil
}

// getwd is os.Getwd, recorded: $PWD when it is absolute and names the
// same directory as ".", else getcwd(2) (both of which the cache keys).
func (r *recorder) getwd() (string, error) {
	if pwd := os.Getenv("PWD"); len(pwd) > 0 && pwd[0] == '/' {
		dot := r.identity(".")
		if dot.Errno != 0 {
			return "", factErr("stat", dot)
		}
		d := r.identity(pwd)
		if d.Errno == 0 && d.Stat.Dev == dot.Stat.Dev && d.Stat.Ino == dot.Stat.Ino {
			return pwd, nil
		}
	}
	for {
		dir, err := unix.Getwd()
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			return dir, nil
		}
		// A working directory too deep for getcwd(2): os.Getwd walks
		// "..", which is not recorded.
		r.taint("getcwd: %v", err)
		return os.Getwd()
	}
}

// abs is filepath.Abs, recorded.
func (r *recorder) abs(path string) (string, error) {
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	wd, err := r.getwd()
	if err != nil {
		return "", err
	}
	return filepath.Join(wd, path), nil
}

// glob is filepath.Glob, recorded: lstat of a pattern without
// metacharacters, stat of each directory whose names are read (its
// mtime changes when a name is added or removed). The matches are
// recorded when they are used.
func (r *recorder) glob(pattern string) ([]string, error) { return r.globDepth(pattern, 0) }

func (r *recorder) globDepth(pattern string, depth int) (matches []string, err error) {
	if depth == 10000 {
		return nil, filepath.ErrBadPattern
	}
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	if !hasGlobMeta(pattern) {
		if _, err := r.lstat(pattern); err != nil {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	dir, file := filepath.Split(pattern)
	switch dir {
	case "":
		dir = "."
	case "/":
	default:
		dir = dir[:len(dir)-1]
	}
	if !hasGlobMeta(dir) {
		return r.globDir(dir, file, nil)
	}
	if dir == pattern {
		return nil, filepath.ErrBadPattern
	}
	m, err := r.globDepth(dir, depth+1)
	if err != nil {
		return nil, err
	}
	for _, d := range m {
		matches, err = r.globDir(d, file, matches)
		if err != nil {
			return matches, err
		}
	}
	return matches, nil
}

func hasGlobMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

// globDir appends the names in dir matching pattern, as filepath.Glob's
// glob does.
func (r *recorder) globDir(dir, pattern string, matches []string) ([]string, error) {
	st, err := r.stat(dir)
	if err != nil || !isDirectory(st) {
		return matches, nil
	}
	d, err := os.Open(dir)
	if r.checked(err) != nil {
		return matches, nil
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		r.taint("reading directory %s: %v", dir, err)
	}
	slices.Sort(names)
	for _, n := range names {
		ok, err := filepath.Match(pattern, n)
		if err != nil {
			return matches, err
		}
		if ok {
			matches = append(matches, filepath.Join(dir, n))
		}
	}
	return matches, nil
}

// getrlimit is unix.Getrlimit, recorded.
func (r *recorder) getrlimit(res int) (unix.Rlimit, error) {
	var lim unix.Rlimit
	err := unix.Getrlimit(res, &lim)
	if err != nil {
		r.taint("getrlimit %d: %v", res, err)
		return lim, err
	}
	if r != nil && !slices.ContainsFunc(r.rlimits, func(c stage.RlimitCheck) bool { return c.Resource == res }) {
		r.rlimits = append(r.rlimits, stage.RlimitCheck{Resource: res, Cur: lim.Cur, Max: lim.Max})
	}
	return lim, nil
}

// fdOpen checks that descriptor fd is open (fcntl F_GETFD), recorded.
func (r *recorder) fdOpen(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return err
	}
	if r != nil && !slices.Contains(r.fds, fd) {
		r.fds = append(r.fds, fd)
	}
	return nil
}

// policyFiles records what policy.Load reads for paths: stat of each
// path (the file read, or the directory whose names are listed); in a
// directory, for each name Load considers ("*.hcl" but not
// "*_test.hcl"), lstat (whether the entry is a directory, which Load
// skips) and, when it is not a directory, stat (the file read through
// it). Other names are covered by the directory's stat.
func (r *recorder) policyFiles(paths []string) {
	for _, p := range paths {
		st, err := r.stat(p)
		if err != nil || !isDirectory(st) {
			continue
		}
		ents, err := os.ReadDir(p)
		if r.checked(err) != nil {
			continue
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".hcl") || strings.HasSuffix(e.Name(), policy.TestFileSuffix) {
				continue
			}
			name := filepath.Join(p, e.Name())
			if st, err := r.lstat(name); err != nil || !isDirectory(st) {
				r.fact(name, false)
			}
		}
	}
}

// Dependencies returns the host state the plan was built from: the
// facts of every path Build probed or read (stat or lstat, in the order
// taken, each path and call once), the resource limits it consulted and
// the inherited descriptors it checked open. The request (arguments,
// environment, working directory, ids) and the host (kernel, Landlock,
// SELinux, seccomp, MDWE) are not among them: the launch cache keys
// entries by those.
func (pl *Plan) Dependencies() (deps []stage.Dep, rlimits []stage.RlimitCheck, fds []int) {
	return slices.Clone(pl.deps), slices.Clone(pl.rlimits), slices.Clone(pl.fds)
}

// ErrCacheRacy is returned by Remember when the plan was not remembered
// because a file it depends on changed too recently (it is
// stage.ErrRacy).
var ErrCacheRacy = stage.ErrRacy

// Remember stores the plan in the caller's launch cache, so that the
// launcher runs record for the same request without planning again as
// long as nothing the plan depends on has changed. args (the arguments
// after argv[0]), env and cwd are the request, exactly as the launcher
// will see them; policyFiles the paths given to policy.Load, whose facts
// (the files, the directories and the files Load reads from them) are
// added to the plan's Dependencies; stderr is printed before each cached
// launch; record is the launch record (Plan.LaunchRecord).
//
// The policy files' facts are taken now, after policy.Load read them:
// call Remember right after Load and Build, so that a change in between
// falls within the racy window below.
//
// Remember returns ErrCacheRacy (stage.ErrRacy), and stores nothing,
// when a dependency changed less than stage.RacyWindow ago: a later
// change could then carry the same timestamps and go unseen. It returns
// another error when the plan was not made by Build for the running
// host, when Build's result depended on something it could not record,
// or when the entry cannot be written.
func (pl *Plan) Remember(args, env []string, cwd string, policyFiles []string, stderr string, record []byte) error {
	e, err := pl.cacheEntry(args, env, cwd, policyFiles, stderr, record)
	if err != nil {
		return err
	}
	return e.Store()
}

// cacheEntry returns the launch cache entry Remember stores.
func (pl *Plan) cacheEntry(args, env []string, cwd string, policyFiles []string, stderr string, record []byte) (*stage.Entry, error) {
	if !pl.built {
		return nil, errors.New("launch cache: the plan was not built for the running host")
	}
	if pl.unsound != "" {
		return nil, fmt.Errorf("launch cache: the plan depends on state that is not recorded (%s)", pl.unsound)
	}
	r := newRecorder()
	for _, d := range pl.deps {
		r.add(d)
	}
	r.policyFiles(policyFiles)
	if r.unsound != "" {
		return nil, fmt.Errorf("launch cache: reading the policy: %s", r.unsound)
	}
	// The launcher probes the host again as below; SELinux it probes by
	// /sys/fs/selinux alone, so a host where go-selinux sees otherwise
	// (selinuxfs mounted elsewhere) is not cached.
	h := stage.HostFacts{LandlockABI: pl.Host.LandlockABI}
	if pl.Host.Seccomp {
		h.Flags |= stage.HostSeccomp
	}
	if pl.Host.MDWE {
		h.Flags |= stage.HostMDWE
	}
	fs := stage.SELinuxFS()
	if fs {
		h.Flags |= stage.HostSELinuxFS
	}
	if fs != pl.Host.SELinux {
		return nil, errors.New("launch cache: SELinux is enabled without selinuxfs at /sys/fs/selinux")
	}
	return &stage.Entry{
		Args: slices.Clone(args), Env: slices.Clone(env), Cwd: cwd,
		Deps: r.deps, Rlimits: slices.Clone(pl.rlimits), OpenFDs: slices.Clone(pl.fds),
		Host: h, Stderr: stderr, Record: record,
	}, nil
}
