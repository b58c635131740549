/*
 * The launch cache (cache.go): "rampart run" runs a cached launch record
 * without starting the Go runtime when its exact request was planned
 * before and nothing the plan was built from has changed.
 *
 * Everything here may fail; every failure is a miss: the constructor
 * returns, with every allocation freed and every descriptor closed, and
 * Go plans the sandbox the slow way (and writes a new entry).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif

#include "launch.h"

/* clean_abs writes Go's path.Clean of the absolute path p to out, which
 * has room for strlen(p) + 1 bytes: lexical, as filepath.Join is. */
static void clean_abs(const char *p, char *out)
{
	size_t n = strlen(p), r = 1, w = 1;
	out[0] = '/';
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			/* ".." removes the last element written, never the root. */
			r += 2;
			if (w > 1) {
				w--;
				while (w > 1 && out[w] != '/')
					w--;
			}
		} else {
			if (w != 1)
				out[w++] = '/';
			while (r < n && p[r] != '/')
				out[w++] = p[r++];
		}
	}
	out[w] = 0;
}

/* lookup returns the value of the first entry of name in envp, or NULL. */
static const char *lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

int rp_cache_dir(unsigned euid, char *const *envp, char *out, size_t size)
{
	static const char sub[] = "/rampart/run-cache";
	const char *v = lookup(envp, "RAMPART_RUN_CACHE");
	if (v && strcmp(v, "off") == 0)
		return -1;
	if (v && v[0] == '/') /* as it is, not cleaned */
		return snprintf(out, size, "%s", v) < (int)size ? 0 : -1;
	if (euid == 0)
		return snprintf(out, size, "/run/rampart/run-cache") < (int)size ? 0 : -1;
	v = lookup(envp, "XDG_RUNTIME_DIR");
	if (v && v[0] == '/') {
		/* filepath.Join(v, "rampart", "run-cache") */
		size_t n = strlen(v);
		if (n + sizeof sub > size)
			return -1;
		char joined[n + sizeof sub];
		memcpy(joined, v, n);
		memcpy(joined + n, sub, sizeof sub);
		clean_abs(joined, out);
		return 0;
	}
	return snprintf(out, size, "/tmp/rampart-%u/run-cache", euid) < (int)size ? 0 : -1;
}

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV_PRIME;
	return h;
}

void rp_cache_key(char *const *args, size_t nargs, char *const *env, size_t nenv, const char *cwd, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t h = FNV_OFFSET;
	for (size_t i = 0; i < nargs; i++)
		h = fnv_str(h, args[i]) * FNV_PRIME; /* (h ^ 0) * prime: the NUL after each */
	h = (h ^ 1) * FNV_PRIME;
	for (size_t i = 0; i < nenv; i++)
		h = fnv_str(h, env[i]) * FNV_PRIME;
	h = (h ^ 1) * FNV_PRIME;
	h = fnv_str(h, cwd);
	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = hex[h & 15];
	out[16] = 0;
}

/* read_entry reads the entry file dir/key into a malloc'd buffer. The
 * directory must be the caller's own and private, the file the caller's
 * and not writable by others: otherwise someone else could have planted
 * the entry. Both are checked on the opened descriptors, so that nothing
 * can be swapped in between. */
static int read_entry(const char *dir, const char *key, uid_t euid, uint8_t **out, size_t *outn)
{
	/* O_PATH|O_NOFOLLOW opens a symlink itself: fstat then sees no
	 * directory. */
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct stat st;
	if (fstat(dfd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != euid || (st.st_mode & 077)) {
		close(dfd);
		return -1;
	}
	/* O_NONBLOCK: a FIFO must not hang the open; O_NOCTTY: a terminal
	 * must not become ours. */
	int fd = openat(dfd, key, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -1;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != euid || (st.st_mode & 022) ||
	    st.st_size < 8 || st.st_size > RP_MAX_ENTRY || !(buf = malloc((size_t)st.st_size))) {
		close(fd);
		return -1;
	}
	size_t n = (size_t)st.st_size, got = 0;
	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (got != n) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outn = n;
	return 0;
}

/* same reports whether the n bytes at b are the C string s. */
static bool same(const uint8_t *b, size_t n, const char *s)
{
	return strnlen(s, n + 1) == n && memcmp(b, s, n) == 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* statid encodes st as cache.go's statid. glibc's st_dev is the kernel's
 * (new_encode_dev), as Go's unix.Stat sees it. */
static void statid(const struct stat *st, uint8_t out[RP_STATID_SIZE])
{
	put64(out, st->st_dev);
	put64(out + 8, st->st_ino);
	put32(out + 16, st->st_mode);
	put32(out + 20, st->st_uid);
	put32(out + 24, st->st_gid);
	put32(out + 28, 0);
	put64(out + 32, (uint64_t)st->st_size);
	put64(out + 40, (uint64_t)st->st_mtim.tv_sec);
	put64(out + 48, (uint64_t)st->st_mtim.tv_nsec);
	put64(out + 56, (uint64_t)st->st_ctim.tv_sec);
	put64(out + 64, (uint64_t)st->st_ctim.tv_nsec);
}

static bool boot_ok(const struct rp_entry *en)
{
	char b[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n;
	while ((n = read(fd, b, sizeof b)) < 0 && errno == EINTR)
		;
	close(fd);
	if (n <= 0 || (size_t)n == sizeof b)
		return false;
	if (b[n - 1] == '\n')
		n--;
	return (size_t)n == en->bootlen && memcmp(b, en->boot, (size_t)n) == 0;
}

static bool exe_ok(const struct rp_entry *en)
{
	struct stat st;
	uint8_t id[RP_STATID_SIZE];
	if (stat("/proc/self/exe", &st) < 0)
		return false;
	statid(&st, id);
	return memcmp(id, en->exe, RP_STATID_SIZE) == 0;
}

/* landlock_abi returns the Landlock ABI as the planner counts it
 * (sandbox.landlockABI, after go-landlock): an ABI 6+ kernel whose errata
 * lack the signal scoping fix (bit 1) counts as 5; 0 without Landlock. */
static uint32_t landlock_abi(void)
{
	/* LANDLOCK_CREATE_RULESET_VERSION (1), _ERRATA (2). */
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0UL, 1UL);
	if (v < 0)
		return 0;
	if (v >= 6) {
		long errata = syscall(SYS_landlock_create_ruleset, NULL, 0UL, 2UL);
		if (errata < 0 || !(errata & 0x2))
			v = 5;
	}
	return (uint32_t)v;
}

/* host_ok probes again what the plan was made for (sandbox.DetectHost):
 * the Landlock ABI, seccomp filters, MDWE, and SELinux's filesystem at
 * /sys/fs/selinux. The boot id fixes the kernel, but these also depend on
 * the caller: a seccomp filter of its own may refuse seccomp(2), and
 * another mount namespace may show another /sys/fs/selinux. */
static bool host_ok(const struct rp_entry *en)
{
	uint32_t flags = 0;
	/* With a NULL program the kernel checks the mode first: EFAULT means
	 * filters are supported (seccomp.Available). */
	if (syscall(SYS_seccomp, 1UL /* SECCOMP_SET_MODE_FILTER */, 0UL, NULL) < 0 && errno == EFAULT)
		flags |= RP_HOST_SECCOMP;
	if (prctl(66 /* PR_GET_MDWE */, 0UL, 0UL, 0UL, 0UL) >= 0)
		flags |= RP_HOST_MDWE;
	struct statfs sf;
	if (statfs("/sys/fs/selinux", &sf) == 0 && (unsigned long)sf.f_type == 0xf97cff8cUL /* SELINUX_MAGIC */)
		flags |= RP_HOST_SELINUXFS;
	return flags == en->host[1] && landlock_abi() == en->host[0];
}

/* dep_ok repeats a CTagDep's call: the same errno, or success with the
 * same statid (its identity part, for an identity fact). */
static bool dep_ok(const struct rp_field *f)
{
	const uint8_t *v = f->v;
	size_t plen = f->len - 8 - RP_STATID_SIZE;
	char path[PATH_MAX];
	if (plen >= sizeof path)
		return false;
	memcpy(path, v + 8 + RP_STATID_SIZE, plen);
	path[plen] = 0;
	struct stat st;
	int rc = v[0] == RP_CALL_LSTAT ? lstat(path, &st) : stat(path, &st);
	uint32_t want = rp_le32(v + 4);
	if (want != 0)
		return rc < 0 && (uint32_t)errno == want;
	if (rc < 0)
		return false;
	uint8_t id[RP_STATID_SIZE];
	statid(&st, id);
	return memcmp(id, v + 8, v[1] & RP_DEP_IDENTITY ? RP_STATID_IDENTITY : RP_STATID_SIZE) == 0;
}

/* rlimit_ok checks a CTagRlimit: getrlimit agrees with what the planner
 * saw. The planner is a Go program, and the Go runtime raises its soft
 * RLIMIT_NOFILE as it starts (package syscall: to the hard limit less
 * one, when lower), so that is what it saw of that one. */
static bool rlimit_ok(const struct rp_field *f)
{
	struct rlimit rl;
	uint32_t res = rp_le32(f->v);
	if (getrlimit((__rlimit_resource_t)res, &rl) < 0)
		return false;
	if (res == RLIMIT_NOFILE && rl.rlim_max > 0 && rl.rlim_cur < rl.rlim_max - 1)
		rl.rlim_cur = rl.rlim_max - 1;
	return (uint64_t)rl.rlim_cur == rp_le64(f->v + 8) && (uint64_t)rl.rlim_max == rp_le64(f->v + 16);
}

/* entry_ok checks everything the entry was built from, cheapest first. */
static bool entry_ok(const struct rp_entry *en, int argc, char **argv, char **envp, size_t nenv,
		     const char *cwd, const uint32_t ids[4])
{
	if (memcmp(en->ids, ids, sizeof en->ids) != 0 || en->nargs != (uint32_t)(argc - 1) ||
	    en->nenv != nenv || !same(en->cwd, en->cwdlen, cwd))
		return false;
	/* In this mode the descriptors to keep are already in place. */
	for (uint32_t i = 0; i < en->record.nkeep; i++)
		if (en->record.keep[i].from != en->record.keep[i].to)
			return false;

	struct rp_iter it = {en->b, en->n, 8};
	struct rp_field f;
	struct rp_err e;
	uint32_t a = 0, v = 0;
	while (rp_next(&it, &f, "launch cache", &e) > 0) {
		if (f.tag == RP_CTAG_ARG && !same(f.v, f.len, argv[1 + a++]))
			return false;
		if (f.tag == RP_CTAG_ENV && !same(f.v, f.len, envp[v++]))
			return false;
	}
	if (!boot_ok(en) || !exe_ok(en) || !host_ok(en))
		return false;
	it.off = 8;
	while (rp_next(&it, &f, "launch cache", &e) > 0) {
		if (f.tag == RP_CTAG_OPENFD && fcntl((int)rp_le32(f.v), F_GETFD) < 0)
			return false;
		if (f.tag == RP_CTAG_RLIMIT && !rlimit_ok(&f))
			return false;
	}
	it.off = 8;
	while (rp_next(&it, &f, "launch cache", &e) > 0)
		if (f.tag == RP_CTAG_DEP && !dep_ok(&f))
			return false;
	return true;
}

void rp_cache_try(int argc, char **argv, char **envp)
{
	char cwd[PATH_MAX], dir[PATH_MAX], key[17];
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	if (argc < 2 || !envp || !getcwd(cwd, sizeof cwd) || getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return;
	if (rp_cache_dir(euid, envp, dir, sizeof dir) < 0)
		return;
	size_t nenv = 0;
	while (envp[nenv])
		nenv++;
	rp_cache_key(argv + 1, (size_t)argc - 1, envp, nenv, cwd, key);

	uint8_t *buf;
	size_t n;
	if (read_entry(dir, key, euid, &buf, &n) < 0)
		return;
	struct rp_entry en;
	struct rp_err e;
	const uint32_t ids[4] = {euid, egid, ruid, rgid};
	if (rp_parse_entry(buf, n, &en, &e) < 0) {
		free(buf);
		return;
	}
	if (!entry_ok(&en, argc, argv, envp, nenv, cwd, ids)) {
		rp_free_entry(&en);
		free(buf);
		return;
	}
	/* A hit: print what the Go command would have, then launch. */
	for (size_t off = 0; off < en.errlen;) {
		ssize_t k = write(2, en.err + off, en.errlen - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	rp_run_cached(&en.record, argc, argv);
}
