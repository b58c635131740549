/*
 * Strict parsers of launch records (record.go) and launch cache entries
 * (cache.go), and canonical text dumps of both for the Go tests.
 *
 * Every length is checked against what is left before it is used, every
 * string is checked for NUL bytes, reserved bits must be zero, unknown
 * tags and repeated settings are errors: the launcher runs only what Go
 * encoded, and a corrupted or truncated record never runs.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

/* seccomp verdicts a TagNotify may carry (linux/seccomp.h) */
#define RP_RET_KILL_PROCESS 0x80000000U
#define RP_RET_ERRNO 0x00050000U
#define RP_RET_ACTION_FULL 0xffff0000U

/* BPF_MAXINSNS */
#define RP_MAX_INSNS 4096
/* NGROUPS_MAX of the kernel */
#define RP_MAX_GROUPS 65536

int rp_next(struct rp_iter *it, struct rp_field *f, const char *what, struct rp_err *e)
{
	if (it->off == it->n)
		return 0;
	if (it->n - it->off < 8) {
		snprintf(e->msg, sizeof e->msg, "%s: truncated field header at offset %zu", what, it->off);
		return -1;
	}
	const uint8_t *h = it->b + it->off;
	f->at = it->off;
	f->tag = rp_le16(h);
	f->len = rp_le32(h + 4);
	if (rp_le16(h + 2) != 0) {
		snprintf(e->msg, sizeof e->msg, "%s: field at offset %zu (tag %u): reserved header bits set", what,
			 f->at, f->tag);
		return -1;
	}
	if (f->len > it->n - it->off - 8) {
		snprintf(e->msg, sizeof e->msg, "%s: field at offset %zu (tag %u) of %u bytes runs past the end",
			 what, f->at, f->tag, f->len);
		return -1;
	}
	f->v = h + 8;
	it->off += 8 + (size_t)f->len;
	return 1;
}

/* ---- launch records ---- */

static const char *const tag_names[RP_TAG_MAX + 1] = {
	[RP_TAG_PATH] = "path",
	[RP_TAG_ARG] = "arg",
	[RP_TAG_ENV] = "env",
	[RP_TAG_DIR] = "dir",
	[RP_TAG_NAMESPACES] = "namespaces",
	[RP_TAG_HOSTNAME] = "hostname",
	[RP_TAG_IDMAP] = "idmap",
	[RP_TAG_MOUNT] = "mount",
	[RP_TAG_LANDLOCK] = "landlock",
	[RP_TAG_LANDLOCK_PATH] = "landlock-path",
	[RP_TAG_LANDLOCK_PORT] = "landlock-port",
	[RP_TAG_SECCOMP] = "seccomp",
	[RP_TAG_NOTIFY] = "notify",
	[RP_TAG_SYSCALL_NAME] = "syscall-name",
	[RP_TAG_IDENTITY] = "identity",
	[RP_TAG_CAPS] = "caps",
	[RP_TAG_MDWE] = "mdwe",
	[RP_TAG_RLIMIT] = "rlimit",
	[RP_TAG_KEEP_FD] = "keep-fd",
	[RP_TAG_SELINUX] = "selinux",
	[RP_TAG_COMPARTMENT] = "compartment",
};

/* The tags that may occur more than once (lists). */
#define LIST_TAGS                                                                                   \
	(1u << RP_TAG_ARG | 1u << RP_TAG_ENV | 1u << RP_TAG_MOUNT | 1u << RP_TAG_LANDLOCK_PATH |      \
	 1u << RP_TAG_LANDLOCK_PORT | 1u << RP_TAG_SYSCALL_NAME | 1u << RP_TAG_RLIMIT |               \
	 1u << RP_TAG_KEEP_FD)

/*
 * The record is parsed in two passes over the same bytes: the first
 * validates every field and counts the list entries and the string bytes,
 * the second copies them into one allocation sized by the first.
 */
struct build {
	struct rp_record *r;
	struct rp_err *e;
	bool fill;	 /* second pass */
	char *arena;	 /* second pass: where the next string goes */
	size_t strbytes; /* first pass: the bytes the strings need */
	uint32_t seen;	 /* the tags seen so far */
};

__attribute__((format(printf, 3, 4))) static int ferr(struct build *bd, const struct rp_field *f,
						       const char *fmt, ...)
{
	char m[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	snprintf(bd->e->msg, sizeof bd->e->msg, "launch record: %s field at offset %zu: %s", tag_names[f->tag],
		 f->at, m);
	return -1;
}

static int want_len(struct build *bd, const struct rp_field *f, uint32_t n)
{
	if (f->len != n)
		return ferr(bd, f, "%u bytes, want %u", f->len, n);
	return 0;
}

static int min_len(struct build *bd, const struct rp_field *f, uint32_t n)
{
	if (f->len < n)
		return ferr(bd, f, "%u bytes, want at least %u", f->len, n);
	return 0;
}

/* take_str checks the string at offset off of the field's value and, in
 * the second pass, stores a NUL-terminated copy in *out. */
static int take_str(struct build *bd, const struct rp_field *f, uint32_t off, const char **out)
{
	const uint8_t *v = f->v + off;
	size_t len = f->len - off;
	if (memchr(v, 0, len))
		return ferr(bd, f, "the string contains a NUL byte");
	if (!bd->fill) {
		bd->strbytes += len + 1;
		return 0;
	}
	memcpy(bd->arena, v, len);
	bd->arena[len] = 0;
	*out = bd->arena;
	bd->arena += len + 1;
	return 0;
}

static int record_field(struct build *bd, const struct rp_field *f)
{
	struct rp_record *r = bd->r;
	const uint8_t *v = f->v;
	const char *s = NULL;

	if (f->tag == 0 || f->tag > RP_TAG_MAX) {
		snprintf(bd->e->msg, sizeof bd->e->msg, "launch record: unknown field tag %u at offset %zu", f->tag,
			 f->at);
		return -1;
	}
	uint32_t bit = 1u << f->tag;
	if ((bd->seen & bit) && !(LIST_TAGS & bit))
		return ferr(bd, f, "a second %s field", tag_names[f->tag]);
	bd->seen |= bit;

	switch (f->tag) {
	case RP_TAG_PATH:
		if (f->len == 0)
			return ferr(bd, f, "empty");
		return take_str(bd, f, 0, &r->path);
	case RP_TAG_DIR:
		return take_str(bd, f, 0, &r->dir);
	case RP_TAG_HOSTNAME:
		return take_str(bd, f, 0, &r->hostname);
	case RP_TAG_COMPARTMENT:
		return take_str(bd, f, 0, &r->compartment);
	case RP_TAG_SELINUX:
		if (f->len == 0)
			return ferr(bd, f, "empty");
		return take_str(bd, f, 0, &r->selinux);
	case RP_TAG_ARG:
		if (take_str(bd, f, 0, &s))
			return -1;
		if (bd->fill)
			r->argv[r->nargv] = (char *)s;
		r->nargv++;
		return 0;
	case RP_TAG_ENV:
		if (take_str(bd, f, 0, &s))
			return -1;
		if (bd->fill)
			r->envp[r->nenv] = (char *)s;
		r->nenv++;
		return 0;
	case RP_TAG_NAMESPACES:
		if (want_len(bd, f, 4))
			return -1;
		r->ns = rp_le32(v);
		if (r->ns & ~(uint32_t)RP_NS_ALL)
			return ferr(bd, f, "unknown namespace bits %#x", r->ns & ~(uint32_t)RP_NS_ALL);
		return 0;
	case RP_TAG_IDMAP:
		if (want_len(bd, f, 8))
			return -1;
		r->idmap = true;
		r->map_uid = rp_le32(v);
		r->map_gid = rp_le32(v + 4);
		return 0;
	case RP_TAG_MOUNT: {
		if (min_len(bd, f, 4))
			return -1;
		uint8_t op = v[0], flags = v[1];
		if (rp_le16(v + 2) != 0)
			return ferr(bd, f, "reserved bytes set");
		if (op < RP_OP_PRIVATE || op > RP_OP_PROC)
			return ferr(bd, f, "unknown operation %u", op);
		if (flags & ~(RP_MOUNT_WRITABLE | RP_MOUNT_DIR))
			return ferr(bd, f, "unknown flags %#x", flags);
		if (take_str(bd, f, 4, &s))
			return -1;
		if (bd->fill)
			r->mounts[r->nmounts] = (struct rp_mount){op, flags, s, -1};
		r->nmounts++;
		return 0;
	}
	case RP_TAG_LANDLOCK:
		if (want_len(bd, f, 32))
			return -1;
		r->landlock = true;
		r->ll_abi = rp_le32(v);
		r->ll_flags = rp_le32(v + 4);
		r->ll_fs = rp_le64(v + 8);
		r->ll_net = rp_le64(v + 16);
		r->ll_scoped = rp_le64(v + 24);
		if (r->ll_abi == 0)
			return ferr(bd, f, "ABI 0");
		/* The ruleset attribute is passed with the size of the ABI's
		 * struct: rights beyond it would be silently dropped. */
		if (r->ll_net && r->ll_abi < 4)
			return ferr(bd, f, "network rights with ABI %u", r->ll_abi);
		if (r->ll_scoped && r->ll_abi < 6)
			return ferr(bd, f, "scopes with ABI %u", r->ll_abi);
		return 0;
	case RP_TAG_LANDLOCK_PATH: {
		if (min_len(bd, f, 8))
			return -1;
		uint64_t access = rp_le64(v);
		if (take_str(bd, f, 8, &s))
			return -1;
		if (bd->fill)
			r->llpaths[r->nllpaths] = (struct rp_llpath){access, s};
		r->nllpaths++;
		return 0;
	}
	case RP_TAG_LANDLOCK_PORT: {
		if (want_len(bd, f, 16))
			return -1;
		uint64_t access = rp_le64(v), port = rp_le64(v + 8);
		if (port > 65535)
			return ferr(bd, f, "port %llu", (unsigned long long)port);
		if (bd->fill)
			r->llports[r->nllports] = (struct rp_llport){access, port};
		r->nllports++;
		return 0;
	}
	case RP_TAG_SECCOMP:
		if (f->len % 8 != 0 || f->len == 0 || f->len / 8 > RP_MAX_INSNS)
			return ferr(bd, f, "a program of %u bytes (want 1 to %u instructions of 8 bytes)", f->len,
				    RP_MAX_INSNS);
		r->nprog = f->len / 8;
		if (bd->fill)
			memcpy((uint8_t *)r->prog, v, f->len);
		return 0;
	case RP_TAG_NOTIFY:
		if (want_len(bd, f, 4))
			return -1;
		r->notify = true;
		r->refuse = rp_le32(v);
		if (r->refuse != RP_RET_KILL_PROCESS && (r->refuse & RP_RET_ACTION_FULL) != RP_RET_ERRNO)
			return ferr(bd, f, "refusal verdict %#x", r->refuse);
		return 0;
	case RP_TAG_SYSCALL_NAME: {
		if (min_len(bd, f, 4))
			return -1;
		uint32_t nr = rp_le32(v);
		if (take_str(bd, f, 4, &s))
			return -1;
		if (bd->fill)
			r->names[r->nnames] = (struct rp_name){nr, s};
		r->nnames++;
		return 0;
	}
	case RP_TAG_IDENTITY: {
		if (min_len(bd, f, 12))
			return -1;
		if ((f->len - 12) % 4 != 0)
			return ferr(bd, f, "%u bytes, not 12 plus 4 per group", f->len);
		r->uid = rp_le32(v);
		r->gid = rp_le32(v + 4);
		uint32_t sw = rp_le32(v + 8);
		if (sw > 1)
			return ferr(bd, f, "switch %u", sw);
		r->sw = sw;
		r->ngroups = (f->len - 12) / 4;
		if (r->ngroups > RP_MAX_GROUPS)
			return ferr(bd, f, "%u groups", r->ngroups);
		/* (uid_t)-1 means "unchanged" to setresuid and setresgid: a
		 * switch to it would keep the caller's ids (Encode turns a
		 * negative int into it). */
		if (sw && (r->uid == UINT32_MAX || r->gid == UINT32_MAX))
			return ferr(bd, f, "uid %u, gid %u", r->uid, r->gid);
		for (uint32_t i = 0; i < r->ngroups; i++) {
			uint32_t g = rp_le32(v + 12 + 4 * i);
			if (g == UINT32_MAX)
				return ferr(bd, f, "group %u", g);
			if (bd->fill)
				r->groups[i] = g;
		}
		return 0;
	}
	case RP_TAG_CAPS:
		if (want_len(bd, f, 8))
			return -1;
		r->caps = rp_le64(v);
		return 0;
	case RP_TAG_MDWE:
		if (want_len(bd, f, 0))
			return -1;
		r->mdwe = true;
		return 0;
	case RP_TAG_RLIMIT: {
		if (min_len(bd, f, 16))
			return -1;
		uint32_t res = rp_le32(v);
		if (rp_le32(v + 4) != 0)
			return ferr(bd, f, "reserved bytes set");
		uint64_t value = rp_le64(v + 8);
		if (take_str(bd, f, 16, &s))
			return -1;
		if (bd->fill)
			r->rlimits[r->nrlimits] = (struct rp_rlimit){res, value, s};
		r->nrlimits++;
		return 0;
	}
	case RP_TAG_KEEP_FD: {
		if (want_len(bd, f, 8))
			return -1;
		uint32_t from = rp_le32(v), to = rp_le32(v + 4);
		if (from >= INT_MAX || to >= INT_MAX)
			return ferr(bd, f, "descriptor %u to %u", from, to);
		if (bd->fill)
			r->keep[r->nkeep] = (struct rp_keep){(int)from, (int)to, -1};
		r->nkeep++;
		return 0;
	}
	}
	return -1; /* not reached: every tag up to RP_TAG_MAX is handled */
}

static int walk_record(struct build *bd, const uint8_t *b, size_t n)
{
	struct rp_iter it = {b, n, 8};
	struct rp_field f;
	int k;
	while ((k = rp_next(&it, &f, "launch record", bd->e)) > 0)
		if (record_field(bd, &f) < 0)
			return -1;
	return k;
}

__attribute__((format(printf, 2, 3))) static int rerr(struct rp_err *e, const char *fmt, ...)
{
	int n = snprintf(e->msg, sizeof e->msg, "launch record: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* check_record checks what involves more than one field. */
static int check_record(const struct rp_record *r, uint32_t seen, struct rp_err *e)
{
	static const unsigned required[] = {RP_TAG_PATH, RP_TAG_ARG, RP_TAG_DIR, RP_TAG_NAMESPACES,
					    RP_TAG_IDENTITY, RP_TAG_CAPS};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!(seen & 1u << required[i]))
			return rerr(e, "no %s field", tag_names[required[i]]);
	if (!!(r->ns & RP_NS_USER) != r->idmap)
		return rerr(e, r->idmap ? "an idmap field without a user namespace"
					: "a user namespace without an idmap field");
	/* Not silently skipped: a read-only root or a private /tmp that does
	 * not happen is a sandbox weaker than planned. */
	if (r->nmounts && !(r->ns & RP_NS_MOUNT))
		return rerr(e, "mount operations without a mount namespace");
	if ((seen & 1u << RP_TAG_HOSTNAME) && !(r->ns & RP_NS_UTS))
		return rerr(e, "a hostname without a UTS namespace");
	if ((r->nllpaths || r->nllports) && !r->landlock)
		return rerr(e, "Landlock rules without a landlock field");
	if (r->notify && !r->nprog)
		return rerr(e, "a notify field without a seccomp program");
	if (r->nnames && !r->notify)
		return rerr(e, "syscall names without a notify field");
	return 0;
}

/* carve reserves n objects of size sz, 8-byte aligned, and returns their
 * offset in the allocation. */
static size_t carve(size_t *total, size_t n, size_t sz)
{
	size_t off = (*total + 7) & ~(size_t)7;
	*total = off + n * sz;
	return off;
}

int rp_parse_record(const uint8_t *b, size_t n, struct rp_record *r, struct rp_err *e)
{
	memset(r, 0, sizeof *r);
	if (n > RP_MAX_ENTRY)
		return rerr(e, "%zu bytes, more than %u", n, RP_MAX_ENTRY);
	if (n < 8 || memcmp(b, RP_RECORD_MAGIC, 8) != 0)
		return rerr(e, "bad magic");

	struct build bd = {.r = r, .e = e};
	if (walk_record(&bd, b, n) < 0)
		return -1;
	if (check_record(r, bd.seen, e) < 0)
		return -1;

	struct rp_record c = *r; /* the counts */
	size_t total = 0;
	size_t o_prog = carve(&total, c.nprog, 8);
	size_t o_argv = carve(&total, (size_t)c.nargv + 1, sizeof(char *));
	size_t o_envp = carve(&total, (size_t)c.nenv + 1, sizeof(char *));
	size_t o_mounts = carve(&total, c.nmounts, sizeof(struct rp_mount));
	size_t o_llpaths = carve(&total, c.nllpaths, sizeof(struct rp_llpath));
	size_t o_llports = carve(&total, c.nllports, sizeof(struct rp_llport));
	size_t o_names = carve(&total, c.nnames, sizeof(struct rp_name));
	size_t o_groups = carve(&total, c.ngroups, sizeof(gid_t));
	size_t o_rlimits = carve(&total, c.nrlimits, sizeof(struct rp_rlimit));
	size_t o_keep = carve(&total, c.nkeep, sizeof(struct rp_keep));
	size_t o_strs = carve(&total, bd.strbytes, 1);
	uint8_t *mem = malloc(total ? total : 1);
	if (!mem)
		return rerr(e, "out of memory");

	memset(r, 0, sizeof *r);
	r->mem = mem;
	r->prog = mem + o_prog;
	r->argv = (char **)(void *)(mem + o_argv);
	r->envp = (char **)(void *)(mem + o_envp);
	r->mounts = (struct rp_mount *)(void *)(mem + o_mounts);
	r->llpaths = (struct rp_llpath *)(void *)(mem + o_llpaths);
	r->llports = (struct rp_llport *)(void *)(mem + o_llports);
	r->names = (struct rp_name *)(void *)(mem + o_names);
	r->groups = (gid_t *)(void *)(mem + o_groups);
	r->rlimits = (struct rp_rlimit *)(void *)(mem + o_rlimits);
	r->keep = (struct rp_keep *)(void *)(mem + o_keep);
	bd = (struct build){.r = r, .e = e, .fill = true, .arena = (char *)mem + o_strs};
	if (walk_record(&bd, b, n) < 0 || r->nargv != c.nargv || r->nenv != c.nenv ||
	    r->nmounts != c.nmounts || r->nllpaths != c.nllpaths || r->nllports != c.nllports ||
	    r->nnames != c.nnames || r->nrlimits != c.nrlimits || r->nkeep != c.nkeep) {
		rp_free_record(r);
		return rerr(e, "inconsistent second pass"); /* not reached */
	}
	r->argv[r->nargv] = NULL;
	r->envp[r->nenv] = NULL;
	return 0;
}

void rp_free_record(struct rp_record *r)
{
	free(r->mem);
	memset(r, 0, sizeof *r);
}

/* ---- launch cache entries ---- */

__attribute__((format(printf, 2, 3))) static int cerr(struct rp_err *e, const char *fmt, ...)
{
	int n = snprintf(e->msg, sizeof e->msg, "launch cache: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int entry_field(struct rp_entry *en, const struct rp_field *f, uint32_t *seen, struct rp_err *e)
{
	static const uint32_t lists = 1u << (RP_CTAG_ARG - 100) | 1u << (RP_CTAG_ENV - 100) |
				      1u << (RP_CTAG_DEP - 100) | 1u << (RP_CTAG_RLIMIT - 100) |
				      1u << (RP_CTAG_OPENFD - 100);
	const uint8_t *v = f->v;
	if (f->tag < RP_CTAG_ARG || f->tag > RP_CTAG_HOST)
		return cerr(e, "unknown field tag %u at offset %zu", f->tag, f->at);
	uint32_t bit = 1u << (f->tag - 100);
	if ((*seen & bit) && !(lists & bit))
		return cerr(e, "a second field of tag %u at offset %zu", f->tag, f->at);
	*seen |= bit;

	/* The lengths each tag needs: exact (fixed) or at least (min). */
	uint32_t fixed = 0, min = 0;
	bool str = false;
	switch (f->tag) {
	case RP_CTAG_ARG:
	case RP_CTAG_ENV:
	case RP_CTAG_CWD:
	case RP_CTAG_BOOT:
		str = true;
		break;
	case RP_CTAG_IDS:
		fixed = 16;
		break;
	case RP_CTAG_EXE:
		fixed = RP_STATID_SIZE;
		break;
	case RP_CTAG_DEP:
		min = 8 + RP_STATID_SIZE;
		break;
	case RP_CTAG_RLIMIT:
		fixed = 24;
		break;
	case RP_CTAG_OPENFD:
		fixed = 4;
		break;
	case RP_CTAG_HOST:
		fixed = 8;
		break;
	}
	if ((fixed && f->len != fixed) || f->len < min)
		return cerr(e, "field at offset %zu (tag %u): %u bytes", f->at, f->tag, f->len);
	if (str && memchr(v, 0, f->len))
		return cerr(e, "field at offset %zu (tag %u): the string contains a NUL byte", f->at, f->tag);

	switch (f->tag) {
	case RP_CTAG_ARG:
		en->nargs++;
		break;
	case RP_CTAG_ENV:
		en->nenv++;
		break;
	case RP_CTAG_CWD:
		en->cwd = v;
		en->cwdlen = f->len;
		break;
	case RP_CTAG_BOOT:
		en->boot = v;
		en->bootlen = f->len;
		break;
	case RP_CTAG_IDS:
		for (int i = 0; i < 4; i++)
			en->ids[i] = rp_le32(v + 4 * i);
		break;
	case RP_CTAG_EXE:
		if (rp_le32(v + 28) != 0)
			return cerr(e, "exe field at offset %zu: reserved bytes set", f->at);
		en->exe = v;
		break;
	case RP_CTAG_DEP: {
		const uint8_t *st = v + 8, *path = st + RP_STATID_SIZE;
		uint32_t plen = f->len - 8 - RP_STATID_SIZE;
		if ((v[0] != RP_CALL_STAT && v[0] != RP_CALL_LSTAT) || (v[1] & ~RP_DEP_IDENTITY) || rp_le16(v + 2))
			return cerr(e, "dep field at offset %zu: call %u, flags %u, reserved %u", f->at, v[0], v[1],
				    rp_le16(v + 2));
		if (rp_le32(st + 28) != 0 || (rp_le32(v + 4) != 0 && !all_zero(st, RP_STATID_SIZE)))
			return cerr(e, "dep field at offset %zu: reserved statid bytes set", f->at);
		if ((v[1] & RP_DEP_IDENTITY) &&
		    !all_zero(st + RP_STATID_IDENTITY, RP_STATID_SIZE - RP_STATID_IDENTITY))
			return cerr(e, "dep field at offset %zu: an identity fact with size or times", f->at);
		if (memchr(path, 0, plen))
			return cerr(e, "dep field at offset %zu: the path contains a NUL byte", f->at);
		en->ndeps++;
		break;
	}
	case RP_CTAG_RLIMIT:
		if (rp_le32(v + 4) != 0)
			return cerr(e, "rlimit field at offset %zu: reserved bytes set", f->at);
		en->nrlimits++;
		break;
	case RP_CTAG_OPENFD:
		if (rp_le32(v) > INT_MAX)
			return cerr(e, "openfd field at offset %zu: descriptor %u", f->at, rp_le32(v));
		en->nopenfds++;
		break;
	case RP_CTAG_STDERR:
		en->has_err = true;
		en->err = v;
		en->errlen = f->len;
		break;
	case RP_CTAG_RECORD:
		en->rec = v;
		en->reclen = f->len;
		break;
	case RP_CTAG_HOST:
		en->host[0] = rp_le32(v);
		en->host[1] = rp_le32(v + 4);
		if (en->host[1] & ~(uint32_t)(RP_HOST_SECCOMP | RP_HOST_MDWE | RP_HOST_SELINUXFS))
			return cerr(e, "host field at offset %zu: unknown bits %#x", f->at, en->host[1]);
		break;
	}
	return 0;
}

int rp_parse_entry(const uint8_t *b, size_t n, struct rp_entry *en, struct rp_err *e)
{
	memset(en, 0, sizeof *en);
	if (n > RP_MAX_ENTRY)
		return cerr(e, "%zu bytes, more than %u", n, RP_MAX_ENTRY);
	if (n < 8 || memcmp(b, RP_CACHE_MAGIC, 8) != 0)
		return cerr(e, "bad magic");
	en->b = b;
	en->n = n;
	struct rp_iter it = {b, n, 8};
	struct rp_field f;
	uint32_t seen = 0;
	int k;
	while ((k = rp_next(&it, &f, "launch cache", e)) > 0)
		if (entry_field(en, &f, &seen, e) < 0)
			return -1;
	if (k < 0)
		return -1;
	static const unsigned required[] = {RP_CTAG_CWD, RP_CTAG_IDS, RP_CTAG_BOOT, RP_CTAG_EXE, RP_CTAG_RECORD,
					    RP_CTAG_HOST};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!(seen & 1u << (required[i] - 100)))
			return cerr(e, "no field of tag %u", required[i]);
	struct rp_err re;
	if (rp_parse_record(en->rec, en->reclen, &en->record, &re) < 0)
		return cerr(e, "%s", re.msg);
	return 0;
}

void rp_free_entry(struct rp_entry *en)
{
	rp_free_record(&en->record);
	memset(en, 0, sizeof *en);
}

/* ---- canonical dumps, for the Go tests ---- */

struct sb {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_grow(struct sb *s, size_t more)
{
	if (s->oom || s->len + more + 1 <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < s->len + more + 1)
		cap *= 2;
	char *p = realloc(s->p, cap);
	if (!p) {
		s->oom = true;
		return;
	}
	s->p = p;
	s->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_grow(s, (size_t)n);
	if (s->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

/* sb_quote appends s quoted: printable ASCII as is (with \" and \\),
 * everything else as \xHH. */
static void sb_quote(struct sb *s, const char *str, size_t n)
{
	sb_printf(s, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c == '"' || c == '\\')
			sb_printf(s, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			sb_printf(s, "%c", c);
		else
			sb_printf(s, "\\x%02x", c);
	}
	sb_printf(s, "\"");
}

static void sb_qline(struct sb *s, const char *indent, const char *key, const char *str)
{
	sb_printf(s, "%s%s ", indent, key);
	sb_quote(s, str, strlen(str));
	sb_printf(s, "\n");
}

static void dump_record(struct sb *s, const struct rp_record *r, const char *in)
{
	static const char *const ns_names[] = {"user", "mount", "pid", "ipc", "uts", "net"};
	if (r->compartment)
		sb_qline(s, in, "compartment", r->compartment);
	sb_qline(s, in, "path", r->path);
	for (uint32_t i = 0; i < r->nargv; i++)
		sb_qline(s, in, "arg", r->argv[i]);
	for (uint32_t i = 0; i < r->nenv; i++)
		sb_qline(s, in, "env", r->envp[i]);
	sb_qline(s, in, "dir", r->dir);
	sb_printf(s, "%snamespaces", in);
	for (int i = 0; i < 6; i++)
		if (r->ns & 1u << i)
			sb_printf(s, " %s", ns_names[i]);
	sb_printf(s, "\n");
	if (r->idmap)
		sb_printf(s, "%sidmap uid=%u gid=%u\n", in, r->map_uid, r->map_gid);
	if (r->hostname)
		sb_qline(s, in, "hostname", r->hostname);
	for (uint32_t i = 0; i < r->nmounts; i++) {
		sb_printf(s, "%smount %u flags=%u ", in, r->mounts[i].op, r->mounts[i].flags);
		sb_quote(s, r->mounts[i].path, strlen(r->mounts[i].path));
		sb_printf(s, "\n");
	}
	if (r->landlock)
		sb_printf(s, "%slandlock abi=%u flags=0x%x fs=0x%llx net=0x%llx scoped=0x%llx\n", in, r->ll_abi,
			  r->ll_flags, (unsigned long long)r->ll_fs, (unsigned long long)r->ll_net,
			  (unsigned long long)r->ll_scoped);
	for (uint32_t i = 0; i < r->nllpaths; i++) {
		sb_printf(s, "%slandlock-path access=0x%llx ", in, (unsigned long long)r->llpaths[i].access);
		sb_quote(s, r->llpaths[i].path, strlen(r->llpaths[i].path));
		sb_printf(s, "\n");
	}
	for (uint32_t i = 0; i < r->nllports; i++)
		sb_printf(s, "%slandlock-port access=0x%llx port=%llu\n", in, (unsigned long long)r->llports[i].access,
			  (unsigned long long)r->llports[i].port);
	if (r->nprog)
		sb_printf(s, "%sseccomp %u instructions\n", in, r->nprog);
	for (uint32_t i = 0; i < r->nprog; i++) {
		const uint8_t *p = r->prog + 8 * i;
		sb_printf(s, "%sbpf %u code=0x%04x jt=%u jf=%u k=0x%08x\n", in, i, rp_le16(p), p[2], p[3],
			  rp_le32(p + 4));
	}
	if (r->notify)
		sb_printf(s, "%snotify refuse=0x%08x\n", in, r->refuse);
	for (uint32_t i = 0; i < r->nnames; i++) {
		sb_printf(s, "%ssyscall-name %u ", in, r->names[i].nr);
		sb_quote(s, r->names[i].name, strlen(r->names[i].name));
		sb_printf(s, "\n");
	}
	sb_printf(s, "%sidentity uid=%u gid=%u switch=%d groups=", in, r->uid, r->gid, r->sw);
	for (uint32_t i = 0; i < r->ngroups; i++)
		sb_printf(s, "%s%u", i ? "," : "", (unsigned)r->groups[i]);
	sb_printf(s, "\n%scaps 0x%llx\n", in, (unsigned long long)r->caps);
	if (r->mdwe)
		sb_printf(s, "%smdwe\n", in);
	for (uint32_t i = 0; i < r->nrlimits; i++) {
		sb_printf(s, "%srlimit %u value=%llu ", in, r->rlimits[i].resource,
			  (unsigned long long)r->rlimits[i].value);
		sb_quote(s, r->rlimits[i].name, strlen(r->rlimits[i].name));
		sb_printf(s, "\n");
	}
	for (uint32_t i = 0; i < r->nkeep; i++)
		sb_printf(s, "%skeep-fd from=%d to=%d\n", in, r->keep[i].from, r->keep[i].to);
	if (r->selinux)
		sb_qline(s, in, "selinux", r->selinux);
}

static void dump_statid(struct sb *s, const uint8_t *p)
{
	sb_printf(s, "dev=%llu ino=%llu mode=0%o uid=%u gid=%u size=%lld mtime=%lld,%lld ctime=%lld,%lld",
		  (unsigned long long)rp_le64(p), (unsigned long long)rp_le64(p + 8), rp_le32(p + 16),
		  rp_le32(p + 20), rp_le32(p + 24), (long long)rp_le64(p + 32), (long long)rp_le64(p + 40),
		  (long long)rp_le64(p + 48), (long long)rp_le64(p + 56), (long long)rp_le64(p + 64));
}

static void dump_entry(struct sb *s, const struct rp_entry *en)
{
	struct rp_iter it = {en->b, en->n, 8};
	struct rp_field f;
	struct rp_err e;
	/* Repeated fields in their order, settings where they occur. */
	while (rp_next(&it, &f, "launch cache", &e) > 0) {
		const uint8_t *v = f.v;
		switch (f.tag) {
		case RP_CTAG_ARG:
		case RP_CTAG_ENV:
		case RP_CTAG_CWD:
		case RP_CTAG_BOOT:
		case RP_CTAG_STDERR:
			sb_printf(s, "%s ",
				  f.tag == RP_CTAG_ARG   ? "arg"
				  : f.tag == RP_CTAG_ENV ? "env"
				  : f.tag == RP_CTAG_CWD ? "cwd"
				  : f.tag == RP_CTAG_BOOT ? "boot"
							  : "stderr");
			sb_quote(s, (const char *)v, f.len);
			sb_printf(s, "\n");
			break;
		case RP_CTAG_IDS:
			sb_printf(s, "ids euid=%u egid=%u ruid=%u rgid=%u\n", en->ids[0], en->ids[1], en->ids[2],
				  en->ids[3]);
			break;
		case RP_CTAG_EXE:
			sb_printf(s, "exe ");
			dump_statid(s, v);
			sb_printf(s, "\n");
			break;
		case RP_CTAG_DEP:
			sb_printf(s, "dep %s%s errno=%u ", v[0] == RP_CALL_STAT ? "stat" : "lstat",
				  v[1] & RP_DEP_IDENTITY ? " identity" : "", rp_le32(v + 4));
			dump_statid(s, v + 8);
			sb_printf(s, " ");
			sb_quote(s, (const char *)v + 8 + RP_STATID_SIZE, f.len - 8 - RP_STATID_SIZE);
			sb_printf(s, "\n");
			break;
		case RP_CTAG_RLIMIT:
			sb_printf(s, "rlimit %u cur=%llu max=%llu\n", rp_le32(v), (unsigned long long)rp_le64(v + 8),
				  (unsigned long long)rp_le64(v + 16));
			break;
		case RP_CTAG_OPENFD:
			sb_printf(s, "openfd %u\n", rp_le32(v));
			break;
		case RP_CTAG_HOST:
			sb_printf(s, "host landlock=%u flags=%u\n", en->host[0], en->host[1]);
			break;
		case RP_CTAG_RECORD:
			sb_printf(s, "record\n");
			dump_record(s, &en->record, "  ");
			break;
		}
	}
}

static char *sb_result(struct sb *s, int *ok)
{
	if (s->oom) {
		free(s->p);
		*ok = 0;
		return strdup("out of memory");
	}
	if (!s->p)
		return strdup("");
	return s->p;
}

char *rp_check_record(const void *b, size_t n, int *ok)
{
	struct rp_record r;
	struct rp_err e;
	if (rp_parse_record(b, n, &r, &e) < 0) {
		*ok = 0;
		return strdup(e.msg);
	}
	struct sb s = {0};
	dump_record(&s, &r, "");
	rp_free_record(&r);
	*ok = 1;
	return sb_result(&s, ok);
}

char *rp_check_entry(const void *b, size_t n, int *ok)
{
	struct rp_entry en;
	struct rp_err e;
	if (rp_parse_entry(b, n, &en, &e) < 0) {
		*ok = 0;
		return strdup(e.msg);
	}
	struct sb s = {0};
	dump_entry(&s, &en);
	rp_free_entry(&en);
	*ok = 1;
	return sb_result(&s, ok);
}
