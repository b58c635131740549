/*
 * The C half of rampart's sandbox launcher: see stage.go for the
 * protocol, record.go for the launch record and cache.go for the launch
 * cache. The numbers below mirror those Go files; the tests in
 * launch_test.go check that both sides agree.
 *
 *   record.c  strict parsers of launch records and cache entries, and
 *             their canonical text dumps (for the Go tests)
 *   cache.c   the launch cache: directory, key, and the checks that make
 *             an entry usable
 *   launch.c  the constructor, and the three processes that run a
 *             record: launcher, init, command
 */
#ifndef RAMPART_LAUNCH_H
#define RAMPART_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* stage.go */
#define RP_ENV "_RAMPART_SANDBOX_STAGE"
#define RP_VERSION "4"
#define RP_RECORD_FD 3
#define RP_REPORT_FD 4
#define RP_KEEP_FD 5

#define RP_EXIT_SETUP 125
#define RP_EXIT_CANNOT_EXEC 126
#define RP_EXIT_NOT_FOUND 127
#define RP_EXIT_SIGNAL_SHIFT 128

/* record.go */
#define RP_RECORD_MAGIC "RRECORD1"
enum {
	RP_TAG_PATH = 1,
	RP_TAG_ARG = 2,
	RP_TAG_ENV = 3,
	RP_TAG_DIR = 4,
	RP_TAG_NAMESPACES = 5,
	RP_TAG_HOSTNAME = 6,
	RP_TAG_IDMAP = 7,
	RP_TAG_MOUNT = 8,
	RP_TAG_LANDLOCK = 9,
	RP_TAG_LANDLOCK_PATH = 10,
	RP_TAG_LANDLOCK_PORT = 11,
	RP_TAG_SECCOMP = 12,
	RP_TAG_NOTIFY = 13,
	RP_TAG_SYSCALL_NAME = 14,
	RP_TAG_IDENTITY = 15,
	RP_TAG_CAPS = 16,
	RP_TAG_MDWE = 17,
	RP_TAG_RLIMIT = 18,
	RP_TAG_KEEP_FD = 19,
	RP_TAG_SELINUX = 20,
	RP_TAG_COMPARTMENT = 21,
	RP_TAG_MAX = 21,
};

enum {
	RP_NS_USER = 1 << 0,
	RP_NS_MOUNT = 1 << 1,
	RP_NS_PID = 1 << 2,
	RP_NS_IPC = 1 << 3,
	RP_NS_UTS = 1 << 4,
	RP_NS_NET = 1 << 5,
	RP_NS_ALL = (1 << 6) - 1,
};

enum {
	RP_OP_PRIVATE = 1,
	RP_OP_BIND = 2,
	RP_OP_READ_ONLY = 3,
	RP_OP_TMPFS = 4,
	RP_OP_PROC = 5,
};

enum {
	RP_MOUNT_WRITABLE = 1 << 0,
	RP_MOUNT_DIR = 1 << 1,
};

/* stage.FileRights: the Landlock rights that apply to a non-directory. */
#define RP_FILE_RIGHTS \
	((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 14) | (1ULL << 15) | (1ULL << 16))

/* cache.go */
#define RP_CACHE_MAGIC "RCACHE02"
#define RP_MAX_ENTRY (8u << 20)
enum {
	RP_CTAG_ARG = 101,
	RP_CTAG_ENV = 102,
	RP_CTAG_CWD = 103,
	RP_CTAG_IDS = 104,
	RP_CTAG_BOOT = 105,
	RP_CTAG_EXE = 106,
	RP_CTAG_DEP = 107,
	RP_CTAG_RLIMIT = 108,
	RP_CTAG_OPENFD = 109,
	RP_CTAG_STDERR = 110,
	RP_CTAG_RECORD = 111,
	RP_CTAG_HOST = 112,
};
enum { RP_CALL_STAT = 1, RP_CALL_LSTAT = 2 };
/* CTagDep flags: RP_DEP_IDENTITY checks only the file's identity, the
 * first RP_STATID_IDENTITY bytes of the statid (dev, ino, mode, uid,
 * gid); the rest is zero. */
enum { RP_DEP_IDENTITY = 1 };
#define RP_STATID_IDENTITY 32
#define RP_STATID_SIZE 72

/* A parser's error message. */
struct rp_err {
	char msg[320];
};

/* A parsed launch record. Strings are NUL-terminated copies; every array
 * and string lives in one allocation, mem. */
struct rp_mount {
	uint8_t op, flags;
	const char *path;
	int fd; /* the init's clone of a bind's tree (launch.c) */
};
struct rp_llpath {
	uint64_t access;
	const char *path;
};
struct rp_llport {
	uint64_t access, port;
};
struct rp_name {
	uint32_t nr;
	const char *name;
};
struct rp_rlimit {
	uint32_t resource;
	uint64_t value;
	const char *name;
};
struct rp_keep {
	int from, to;
	int parked; /* launch.c */
};

struct rp_record {
	const char *compartment, *path, *dir, *hostname, *selinux;
	char **argv; /* NULL-terminated */
	uint32_t nargv;
	char **envp; /* NULL-terminated */
	uint32_t nenv;
	uint32_t ns;
	bool idmap;
	uint32_t map_uid, map_gid;
	struct rp_mount *mounts;
	uint32_t nmounts;
	bool landlock;
	uint32_t ll_abi, ll_flags;
	uint64_t ll_fs, ll_net, ll_scoped;
	struct rp_llpath *llpaths;
	uint32_t nllpaths;
	struct rp_llport *llports;
	uint32_t nllports;
	const uint8_t *prog; /* struct sock_filter[nprog], 8-byte aligned */
	uint32_t nprog;
	bool notify;
	uint32_t refuse;
	struct rp_name *names;
	uint32_t nnames;
	uint32_t uid, gid;
	bool sw; /* switch uid, gid and groups */
	gid_t *groups;
	uint32_t ngroups;
	uint64_t caps;
	bool mdwe;
	struct rp_rlimit *rlimits;
	uint32_t nrlimits;
	struct rp_keep *keep;
	uint32_t nkeep;
	void *mem;
};

/* Returns 0, or -1 with e set ("launch record: ..."). */
int rp_parse_record(const uint8_t *b, size_t n, struct rp_record *r, struct rp_err *e);
void rp_free_record(struct rp_record *r);

/* A parsed cache entry: pointers into the entry's bytes (b), which the
 * checks walk again for the repeated fields. */
struct rp_entry {
	const uint8_t *b;
	size_t n;
	uint32_t nargs, nenv, ndeps, nrlimits, nopenfds;
	const uint8_t *cwd, *boot, *exe, *err, *rec;
	uint32_t cwdlen, bootlen, errlen, reclen;
	uint32_t ids[4]; /* euid, egid, ruid, rgid */
	uint32_t host[2]; /* Landlock ABI, RP_HOST_* bits */
	bool has_err;
	struct rp_record record;
};

/* Bits of a CTagHost's flags: what the planner found the kernel could
 * do, as the launcher probes it again. */
enum {
	RP_HOST_SECCOMP = 1,
	RP_HOST_MDWE = 2,
	RP_HOST_SELINUXFS = 4,
};

/* Returns 0, or -1 with e set ("launch cache: ..."). */
int rp_parse_entry(const uint8_t *b, size_t n, struct rp_entry *en, struct rp_err *e);
void rp_free_entry(struct rp_entry *en);

/* Field iteration, shared by the parsers and the cache checks. */
struct rp_iter {
	const uint8_t *b;
	size_t n, off;
};
struct rp_field {
	unsigned tag;
	uint32_t len;
	const uint8_t *v;
	size_t at;
};
/* Returns 1 with the next field, 0 at the end, -1 on a malformed header. */
int rp_next(struct rp_iter *it, struct rp_field *f, const char *what, struct rp_err *e);

static inline uint16_t rp_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rp_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rp_le64(const uint8_t *p) { return rp_le32(p) | (uint64_t)rp_le32(p + 4) << 32; }

/* cache.c */

/* rp_cache_try runs the cached record of this "rampart run" request if
 * the launch cache has a usable one (it does not return then), and
 * returns otherwise, with nothing changed. */
void rp_cache_try(int argc, char **argv, char **envp);
/* The entry's directory (stage.CacheDir); -1 if the cache is off or the
 * name does not fit. */
int rp_cache_dir(unsigned euid, char *const *envp, char *out, size_t size);
/* The entry's file name (stage.CacheKey): 16 hex digits and a NUL. */
void rp_cache_key(char *const *args, size_t nargs, char *const *env, size_t nenv, const char *cwd,
		  char out[17]);

/* launch.c */

/* rp_run_cached runs a cache hit's record, reporting on standard error. */
_Noreturn void rp_run_cached(struct rp_record *r, int argc, char **argv);

/* Test hooks (cgo.go): a malloc'd canonical dump of the parsed record or
 * entry with *ok = 1, or the parser's error message with *ok = 0. */
char *rp_check_record(const void *b, size_t n, int *ok);
char *rp_check_entry(const void *b, size_t n, int *ok);
/* The signals the launcher and the init relay (stage.Forwarded). */
const int *rp_forwarded(size_t *n);

#endif
