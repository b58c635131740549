/*
 * The sandbox launcher: a constructor that runs before the Go runtime
 * (as runc's nsexec does) and takes the process over when it is
 *
 *   - a launcher started by package sandbox (library mode): the
 *     environment has _RAMPART_SANDBOX_STAGE, the launch record is on fd
 *     3, reports go to the SOCK_SEQPACKET socket on fd 4;
 *   - "rampart run" with a usable launch cache entry (cache.c): reports
 *     go to standard error as the Go command would print them.
 *
 * Running a record takes three processes:
 *
 *   launcher L  this process: clones the init into the record's
 *               namespaces, maps the ids of a user namespace, relays
 *               signals to the init and exits with its status;
 *   init I      pid 1 of the new pid namespace: sets up the SELinux exec
 *               label, the mounts, the loopback interface, the hostname
 *               and the resource limits, starts the command, then relays
 *               signals, reaps orphans, answers seccomp notifications and
 *               exits with the command's status;
 *   command C   a vfork-like child of the init that shares its descriptor
 *               table until execve and confines itself (no_new_privs,
 *               MDWE, Landlock, identity and capabilities, seccomp last)
 *               before it executes the command.
 *
 * Every process here is single-threaded and was created with a raw
 * clone(2), so glibc's cached thread id is stale in the children: use
 * nothing that depends on it (raise, abort, pthread_*, stdio locking).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h> /* snprintf only: nothing goes through stdio streams */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

/* ---- kernel interfaces newer than Debian 12's headers ---- */

/* Syscalls added since 5.2 have the same number on every architecture. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_seccomp
#error "SYS_seccomp is not defined"
#endif

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
/* struct mount_attr (MOUNT_ATTR_SIZE_VER0) */
struct rp_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#endif
#ifndef PR_CAP_AMBIENT_RAISE
#define PR_CAP_AMBIENT_RAISE 2
#endif
#ifndef PR_CAP_AMBIENT_CLEAR_ALL
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

/* capset(2) */
#define RP_CAP_VERSION_3 0x20080522
struct rp_cap_header {
	uint32_t version;
	int pid;
};
struct rp_cap_data {
	uint32_t effective, permitted, inheritable;
};

/* Landlock (linux/landlock.h) */
#define RP_LANDLOCK_RULE_PATH_BENEATH 1
#define RP_LANDLOCK_RULE_NET_PORT 2
struct rp_ruleset_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};
struct rp_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));
struct rp_net_port {
	uint64_t allowed_access, port;
};

/* seccomp (linux/seccomp.h) */
#define RP_SECCOMP_SET_MODE_FILTER 1
#define RP_SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#define RP_SECCOMP_RET_KILL_PROCESS 0x80000000U
#define RP_SECCOMP_RET_DATA 0x0000ffffU
struct rp_fprog { /* struct sock_fprog */
	unsigned short len;
	const void *filter;
};
struct rp_notif { /* struct seccomp_notif */
	uint64_t id;
	uint32_t pid, flags;
	int32_t nr;
	uint32_t arch;
	uint64_t ip, args[6];
};
struct rp_notif_resp { /* struct seccomp_notif_resp */
	uint64_t id;
	int64_t val;
	int32_t error;
	uint32_t flags;
};
#define RP_NOTIF_RECV _IOWR('!', 0, struct rp_notif)
#define RP_NOTIF_SEND _IOWR('!', 1, struct rp_notif_resp)
#define RP_NOTIF_ID_VALID _IOW('!', 2, uint64_t)

_Static_assert(sizeof(struct rp_path_beneath) == 12, "landlock_path_beneath_attr");
_Static_assert(sizeof(struct rp_notif) == 80, "seccomp_notif");
_Static_assert(sizeof(struct rp_notif_resp) == 24, "seccomp_notif_resp");

/* ---- messages and reports ---- */

/* Reports go to the report socket (library mode), or to standard error
 * as the Go command prints them (a launch cache hit: cli). */
static int report_fd = -1;
static bool cli;
/* The arguments of the process, for the init's title (cli). */
static int g_argc;
static char **g_argv;

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* report sends one report: "S", "E<code> <message>", "R<text>", "K<name>". */
static void report(const char *msg)
{
	size_t n = strlen(msg);
	if (!cli) {
		if (report_fd < 0)
			return;
		/* One message per send(2) on the SOCK_SEQPACKET socket.
		 * MSG_NOSIGNAL: a gone reader is no reason to die. */
		while (send(report_fd, msg, n, MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
		return;
	}
	const char *prefix, *text;
	if (msg[0] == 'E') {
		prefix = "rampart run: ";
		text = strchr(msg, ' ');
		text = text ? text + 1 : msg + 1;
	} else if (msg[0] == 'R') {
		prefix = "rampart: ";
		text = msg + 1;
	} else {
		return;
	}
	char line[8300];
	int k = snprintf(line, sizeof line, "%s%s\n", prefix, text);
	write_all(2, line, k < (int)sizeof line ? (size_t)k : sizeof line - 1);
}

/* errstr returns errno e's text as Go prints it: Go's tables are glibc's
 * English descriptions with the first letter lowercased (unless the
 * second is a capital too), or "errno N". */
static const char *errstr(int e)
{
	static char buf[128];
	const char *d = strerrordesc_np(e);
	if (!d) {
		snprintf(buf, sizeof buf, "errno %d", e);
		return buf;
	}
	snprintf(buf, sizeof buf, "%s", d);
	if (buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'a' && buf[1] <= 'z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* die reports "E<code> sandbox setup: <message>" and exits with code.
 * The message is cut to 4 KiB, what package sandbox reads of a report. */
__attribute__((format(printf, 2, 3))) static _Noreturn void die(int code, const char *fmt, ...)
{
	char msg[4096];
	int n = snprintf(msg, sizeof msg, "E%d sandbox setup: ", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	report(msg);
	_exit(code);
}

/* warn writes a warning line to standard error. */
__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
	char msg[8300];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	write_all(2, msg, n < (int)sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* ---- signals and statuses ---- */

/* stage.Forwarded */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM};
#define NFORWARDED (sizeof forwarded / sizeof forwarded[0])

const int *rp_forwarded(size_t *n)
{
	*n = NFORWARDED;
	return forwarded;
}

/* relayed sets the forwarded signals and SIGCHLD: what the launcher and
 * the init read from their signalfd. */
static void relayed(sigset_t *s)
{
	sigemptyset(s);
	for (size_t i = 0; i < NFORWARDED; i++)
		sigaddset(s, forwarded[i]);
	sigaddset(s, SIGCHLD);
}

/* exit_status exits as a shell reports status: the exit code, or 128+N
 * for a death by signal N. When the init killed a process for a refused
 * syscall, 128+SIGKILL becomes 128+SIGSYS, whether the command died of
 * it or passed it on as its status (a shell whose child was killed), as
 * package sandbox did before. */
static _Noreturn void exit_status(int status, bool killed_for_syscall)
{
	int code = RP_EXIT_SETUP;
	if (status != -1 && WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (status != -1 && WIFSIGNALED(status))
		code = RP_EXIT_SIGNAL_SHIFT + WTERMSIG(status);
	if (killed_for_syscall && code == RP_EXIT_SIGNAL_SHIFT + SIGKILL)
		code = RP_EXIT_SIGNAL_SHIFT + SIGSYS;
	_exit(code);
}

/* reap waits for child pid and returns its status (-1 if that fails). */
static int reap(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* ---- the command (C) ---- */

/* The page the command shares with the init (MAP_SHARED): how its setup
 * and its execve went. The init reads it when its vfork-like clone
 * returns, that is once the command has executed or died. */
enum { CP_SETUP, CP_EXECUTING, CP_SETUP_FAILED, CP_EXEC_FAILED };
struct cpage {
	int state;
	int code;     /* CP_SETUP_FAILED: the exit code */
	int err;      /* CP_EXEC_FAILED: execve's errno */
	int listener; /* the seccomp listener, in the init's table, or -1 */
	char msg[4000];
};
_Static_assert(sizeof(struct cpage) <= 4096, "cpage fits a page");

/* cfail records a setup failure of the command ("<step>: <detail>") and
 * exits. Only before the seccomp filter is installed. */
__attribute__((format(printf, 3, 4))) static _Noreturn void cfail(struct cpage *pg, int code, const char *fmt,
								    ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pg->msg, sizeof pg->msg, fmt, ap);
	va_end(ap);
	pg->code = code;
	__atomic_store_n(&pg->state, CP_SETUP_FAILED, __ATOMIC_RELEASE);
	_exit(code);
}

static void apply_landlock(const struct rp_record *r, struct cpage *pg)
{
	struct rp_ruleset_attr attr = {r->ll_fs, r->ll_net, r->ll_scoped};
	/* The struct grew: handled_access_net came with ABI 4, scoped with
	 * ABI 6. Pass the size the ABI knows (the parser refused rights
	 * beyond it). */
	size_t size = r->ll_abi >= 6 ? 24 : r->ll_abi >= 4 ? 16 : 8;
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0UL);
	if (rs < 0)
		cfail(pg, RP_EXIT_SETUP, "landlock: creating the ruleset: %s", errstr(errno));
	for (uint32_t i = 0; i < r->nllpaths; i++) {
		const struct rp_llpath *p = &r->llpaths[i];
		int fd = open(p->path, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue; /* as go-landlock's IgnoreIfMissing */
			cfail(pg, RP_EXIT_SETUP, "landlock: %s: %s", p->path, errstr(errno));
		}
		/* The kernel refuses (EINVAL) a rule on a file that is not a
		 * directory with rights that apply to directories only: drop
		 * those (which takes an fstat only when there are some). */
		uint64_t access = p->access;
		struct stat st;
		if (access & ~RP_FILE_RIGHTS) {
			if (fstat(fd, &st) < 0)
				cfail(pg, RP_EXIT_SETUP, "landlock: %s: %s", p->path, errstr(errno));
			if (!S_ISDIR(st.st_mode))
				access &= RP_FILE_RIGHTS;
		}
		if (access) {
			struct rp_path_beneath pb = {access, fd};
			if (syscall(SYS_landlock_add_rule, (long)rs, (long)RP_LANDLOCK_RULE_PATH_BENEATH, &pb, 0UL) < 0)
				cfail(pg, RP_EXIT_SETUP, "landlock: %s: %s", p->path, errstr(errno));
		}
		close(fd);
	}
	for (uint32_t i = 0; i < r->nllports; i++) {
		struct rp_net_port np = {r->llports[i].access, r->llports[i].port};
		if (syscall(SYS_landlock_add_rule, (long)rs, (long)RP_LANDLOCK_RULE_NET_PORT, &np, 0UL) < 0)
			cfail(pg, RP_EXIT_SETUP, "landlock: port %llu: %s", (unsigned long long)np.port, errstr(errno));
	}
	if (syscall(SYS_landlock_restrict_self, (long)rs, (unsigned long)r->ll_flags) < 0)
		cfail(pg, RP_EXIT_SETUP, "landlock: restricting the command: %s", errstr(errno));
	close(rs);
}

/* apply_identity drops the bounding set to the record's capabilities,
 * switches uid, gid and groups (with switch), and leaves exactly those
 * capabilities in the permitted, effective, inheritable and ambient
 * sets, so that they survive execve (as sandbox's old applyIdentity). */
static void apply_identity(const struct rp_record *r, struct cpage *pg)
{
	const char *what = "identity and capabilities";
	uint64_t keep = r->caps;
	/* PR_CAPBSET_DROP fails with EINVAL past the kernel's last
	 * capability, as PR_CAPBSET_READ does (cap_valid), and succeeds for a
	 * capability already dropped: no need to read the set first. */
	for (int c = 0; c < 64; c++) {
		if (keep & 1ULL << c)
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0UL, 0UL, 0UL) == 0)
			continue;
		if (errno == EINVAL)
			break;
		cfail(pg, RP_EXIT_SETUP, "%s: dropping capability %d from the bounding set: %s", what, c,
		      errstr(errno));
	}
	if (r->sw) {
		/* Keep the permitted set across the uid change; capset below
		 * trims it. */
		if (prctl(PR_SET_KEEPCAPS, 1UL, 0UL, 0UL, 0UL) < 0)
			cfail(pg, RP_EXIT_SETUP, "%s: PR_SET_KEEPCAPS: %s", what, errstr(errno));
		/* Raw syscalls: glibc's wrappers would broadcast to threads
		 * (setxid) through state a raw clone leaves stale. */
		if (syscall(SYS_setgroups, (unsigned long)r->ngroups, r->groups) < 0)
			cfail(pg, RP_EXIT_SETUP, "%s: setgroups: %s", what, errstr(errno));
		if (syscall(SYS_setresgid, (unsigned long)r->gid, (unsigned long)r->gid, (unsigned long)r->gid) < 0)
			cfail(pg, RP_EXIT_SETUP, "%s: setresgid %u: %s", what, r->gid, errstr(errno));
		if (syscall(SYS_setresuid, (unsigned long)r->uid, (unsigned long)r->uid, (unsigned long)r->uid) < 0)
			cfail(pg, RP_EXIT_SETUP, "%s: setresuid %u: %s", what, r->uid, errstr(errno));
	}
	struct rp_cap_header hdr = {RP_CAP_VERSION_3, 0};
	struct rp_cap_data data[2];
	for (int i = 0; i < 2; i++) {
		uint32_t w = (uint32_t)(keep >> 32 * i);
		data[i] = (struct rp_cap_data){w, w, w};
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		cfail(pg, RP_EXIT_SETUP, "%s: capset: %s", what, errstr(errno));
	if (prctl(PR_CAP_AMBIENT, (unsigned long)PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL) < 0)
		cfail(pg, RP_EXIT_SETUP, "%s: clearing ambient capabilities: %s", what, errstr(errno));
	for (int c = 0; c < 64; c++)
		if ((keep & 1ULL << c) &&
		    prctl(PR_CAP_AMBIENT, (unsigned long)PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0UL, 0UL) < 0)
			cfail(pg, RP_EXIT_SETUP, "%s: raising ambient capability %d: %s", what, c, errstr(errno));
	if (r->sw)
		prctl(PR_SET_KEEPCAPS, 0UL, 0UL, 0UL, 0UL);
}

/* run_command is the command's process: it confines itself and executes
 * the command. ipid is the init's pid (its parent). */
static _Noreturn void run_command(const struct rp_record *r, struct cpage *pg, const char *dir, pid_t ipid)
{
	/* Unblock everything (execve keeps the mask); the handlers are the
	 * defaults still (the init installs its own once this process has
	 * executed). Signals sent to this process since the launcher blocked
	 * them are delivered now. */
	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		cfail(pg, RP_EXIT_SETUP, "signals: %s", errstr(errno));

	/* This process shares the init's descriptor table (CLONE_FILES)
	 * until execve, which gives it a private copy and closes the
	 * close-on-exec descriptors in that copy only. So mark everything
	 * close-on-exec instead of closing: CLOSE_RANGE_UNSHARE would give
	 * this process its own table now, and the seccomp listener created
	 * below would not reach the init. */
	if (syscall(SYS_close_range, 3UL, (unsigned long)~0U, (unsigned long)CLOSE_RANGE_CLOEXEC) < 0)
		cfail(pg, RP_EXIT_SETUP, "descriptors: close_range: %s", errstr(errno));
	for (uint32_t i = 0; i < r->nkeep; i++)
		if (fcntl(r->keep[i].to, F_SETFD, 0) < 0)
			cfail(pg, RP_EXIT_SETUP, "descriptors: fd %d: %s", r->keep[i].to, errstr(errno));

	if (prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) < 0)
		cfail(pg, RP_EXIT_SETUP, "no_new_privs: %s", errstr(errno));
	if (r->mdwe && prctl(PR_SET_MDWE, (unsigned long)PR_MDWE_REFUSE_EXEC_GAIN, 0UL, 0UL, 0UL) < 0)
		cfail(pg, RP_EXIT_SETUP, "PR_SET_MDWE: %s", errstr(errno));
	if (r->landlock)
		apply_landlock(r, pg);
	apply_identity(r, pg);

	/* A parent-death signal dies with credential changes, and is not
	 * inherited anyway: the command dies with the init. If the init died
	 * before this prctl, nobody would kill us: check. */
	if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL, 0UL, 0UL, 0UL) < 0)
		cfail(pg, RP_EXIT_SETUP, "PR_SET_PDEATHSIG: %s", errstr(errno));
	if (getppid() != ipid)
		_exit(RP_EXIT_SETUP);

	/* The command starts in the working directory if its identity may
	 * enter it (access(2) checks the real ids, which are the command's
	 * now). */
	if (access(dir, X_OK) < 0) {
		warn("rampart: working directory %s is not reachable as uid %u (%s); using /\n", dir, r->uid,
		     errstr(errno));
		dir = "/";
	}
	if (chdir(dir) < 0)
		cfail(pg, RP_EXIT_SETUP, "working directory %s: %s", dir, errstr(errno));
	/* No core dump of this process's memory (the record, the init's
	 * state) if something below crashes it; execve resets dumpability. */
	if (prctl(PR_SET_DUMPABLE, 0UL, 0UL, 0UL, 0UL) < 0)
		cfail(pg, RP_EXIT_SETUP, "PR_SET_DUMPABLE: %s", errstr(errno));

	int listener = -1;
	if (r->nprog) {
		/* Last: the filter applies to every syscall from here on.
		 * no_new_privs is set, which seccomp(2) requires without
		 * CAP_SYS_ADMIN. With a listener, the kernel creates its
		 * (close-on-exec) descriptor in the shared table. */
		struct rp_fprog prog = {(unsigned short)r->nprog, r->prog};
		unsigned long flags = r->notify ? RP_SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
		long fd = syscall(SYS_seccomp, (unsigned long)RP_SECCOMP_SET_MODE_FILTER, flags, &prog);
		if (fd < 0)
			cfail(pg, RP_EXIT_SETUP, "seccomp(SET_MODE_FILTER%s): %s", r->notify ? ", NEW_LISTENER" : "",
			      errstr(errno));
		if (r->notify)
			listener = (int)fd;
	}
	/* From here on, no syscall but execve: the filter may refuse
	 * anything else (or, with a listener, hand it to the init, which is
	 * waiting for this process's execve: a deadlock). */
	pg->listener = listener;
	__atomic_store_n(&pg->state, CP_EXECUTING, __ATOMIC_RELEASE);
	execve(r->path, r->argv, r->envp);
	pg->err = errno;
	__atomic_store_n(&pg->state, CP_EXEC_FAILED, __ATOMIC_RELEASE);
	if (r->nprog)
		__builtin_trap(); /* dies without a syscall */
	_exit(RP_EXIT_CANNOT_EXEC);
}

/* ---- the init (I) ---- */

/* keep_fds moves the report socket above every descriptor to keep, then
 * moves the descriptors to keep from their numbers to their targets,
 * parking them all above the targets first so that no move overwrites a
 * descriptor still to be moved. */
static void keep_fds(struct rp_record *r)
{
	int base = 3;
	for (uint32_t i = 0; i < r->nkeep; i++) {
		if (r->keep[i].to >= base)
			base = r->keep[i].to + 1;
		if (r->keep[i].from >= base)
			base = r->keep[i].from + 1;
	}
	if (report_fd >= 0) {
		int fd = fcntl(report_fd, F_DUPFD_CLOEXEC, base);
		if (fd < 0)
			die(RP_EXIT_SETUP, "descriptors: moving the report socket: %s", errstr(errno));
		close(report_fd);
		report_fd = fd;
	}
	for (uint32_t i = 0; i < r->nkeep; i++) {
		r->keep[i].parked = fcntl(r->keep[i].from, F_DUPFD_CLOEXEC, base);
		if (r->keep[i].parked < 0)
			die(RP_EXIT_SETUP, "descriptors: fd %d: %s", r->keep[i].to, errstr(errno));
	}
	for (uint32_t i = 0; i < r->nkeep; i++)
		close(r->keep[i].from);
	for (uint32_t i = 0; i < r->nkeep; i++) {
		/* dup3 without O_CLOEXEC: the command's copy stays open. */
		if (dup3(r->keep[i].parked, r->keep[i].to, 0) < 0)
			die(RP_EXIT_SETUP, "descriptors: fd %d: %s", r->keep[i].to, errstr(errno));
		close(r->keep[i].parked);
	}
}

static int by_target(const void *a, const void *b)
{
	const struct rp_keep *x = a, *y = b;
	return (x->to > y->to) - (x->to < y->to);
}

/* close_strays closes every descriptor above 2 that the init does not
 * need: it may have inherited some without close-on-exec (from the
 * caller of rampart, or of package sandbox), and would hold them open
 * for as long as the sandbox runs. The descriptors to keep (sorted here
 * by target; their order does not matter any more) and the report socket
 * stay. */
static void close_strays(struct rp_record *r)
{
	unsigned lo = 3;
	qsort(r->keep, r->nkeep, sizeof *r->keep, by_target);
	for (uint32_t i = 0; i <= r->nkeep; i++) {
		int fd = i < r->nkeep ? r->keep[i].to : report_fd; /* the socket is above every target */
		if (fd < (int)lo)
			continue;
		if ((unsigned)fd > lo && syscall(SYS_close_range, (unsigned long)lo, (unsigned long)fd - 1, 0UL) < 0)
			die(RP_EXIT_SETUP, "descriptors: close_range: %s", errstr(errno));
		lo = (unsigned)fd + 1;
	}
	if (syscall(SYS_close_range, (unsigned long)lo, (unsigned long)~0U, 0UL) < 0)
		die(RP_EXIT_SETUP, "descriptors: close_range: %s", errstr(errno));
}

/* set_exec_label sets the SELinux context of the next execve, as
 * go-selinux's SetExecLabel: it writes /proc/thread-self/attr/exec after
 * checking that this is procfs. The init does it before the mounts (the
 * root and so /proc may become read-only); the command inherits it with
 * its credentials. */
static void set_exec_label(const char *label)
{
	int fd = open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		die(RP_EXIT_SETUP, "SELinux: exec label %s: %s", label, errstr(errno));
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		die(RP_EXIT_SETUP, "SELinux: exec label %s: %s", label, errstr(errno));
	if (sf.f_type != PROC_SUPER_MAGIC)
		die(RP_EXIT_SETUP, "SELinux: exec label %s: /proc/thread-self/attr/exec is not on procfs", label);
	size_t n = strlen(label);
	ssize_t w = write(fd, label, n);
	if (w < 0)
		die(RP_EXIT_SETUP, "SELinux: exec label %s: %s", label, errstr(errno));
	if ((size_t)w != n)
		die(RP_EXIT_SETUP, "SELinux: exec label %s: short write", label);
	close(fd);
}

/* mkdir_all creates path and its missing parents, mode 0755 (as
 * os.MkdirAll). On failure, failed holds the path that failed. */
static int mkdir_all(const char *path, char *failed, size_t size)
{
	char p[PATH_MAX];
	size_t n = strlen(path);
	snprintf(failed, size, "%s", path);
	if (n >= sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0)
			continue;
		char c = p[i];
		p[i] = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			snprintf(failed, size, "%s", p);
			return -1;
		}
		p[i] = c;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* mountpoint creates path (a directory, or an empty file) if it is
 * missing, for a bind to be attached there. */
static void mountpoint(const char *path, bool dir)
{
	struct stat st;
	char failed[PATH_MAX];
	if (lstat(path, &st) == 0)
		return;
	if (dir) {
		if (mkdir_all(path, failed, sizeof failed) < 0)
			die(RP_EXIT_SETUP, "mounts: mkdir %s: %s", failed, errstr(errno));
		return;
	}
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", path);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		snprintf(parent, sizeof parent, "/");
	else
		*slash = 0;
	if (mkdir_all(parent, failed, sizeof failed) < 0)
		die(RP_EXIT_SETUP, "mounts: mkdir %s: %s", failed, errstr(errno));
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		die(RP_EXIT_SETUP, "mounts: open %s: %s", path, errstr(errno));
	close(fd);
}

static bool tmp_like(const char *p)
{
	size_t n = strlen(p);
	return strcmp(p, "/tmp") == 0 || strcmp(p, "/dev/shm") == 0 || (n >= 4 && strcmp(p + n - 4, "/tmp") == 0);
}

/* setup_mounts builds the mount namespace, in this order: every mount
 * private; the binds cloned from the host's tree (before anything hides
 * or write-protects their sources); a new /proc; the read-only trees;
 * empty tmpfs; the binds attached. */
static void setup_mounts(struct rp_record *r)
{
	/* Private first: nothing below may propagate to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(RP_EXIT_SETUP, "mounts: making mounts private: %s", errstr(errno));
	struct rp_mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	for (uint32_t i = 0; i < r->nmounts; i++) {
		struct rp_mount *m = &r->mounts[i];
		if (m->op != RP_OP_BIND)
			continue;
		/* A detached copy of the tree: attached later, wherever the
		 * tmpfs and read-only steps leave its path. */
		m->fd = (int)syscall(SYS_open_tree, (long)AT_FDCWD, m->path,
				     (unsigned long)(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
		if (m->fd < 0)
			die(RP_EXIT_SETUP, "mounts: cloning %s: %s", m->path, errstr(errno));
		if (!(m->flags & RP_MOUNT_WRITABLE) &&
		    syscall(SYS_mount_setattr, (long)m->fd, "", (unsigned long)(AT_EMPTY_PATH | AT_RECURSIVE), &ro,
			    sizeof ro) < 0)
			die(RP_EXIT_SETUP, "mounts: making %s read-only: %s", m->path, errstr(errno));
	}
	/* proc(5) shows the pid namespace of the mounter: only with a new one. */
	if (r->ns & RP_NS_PID)
		for (uint32_t i = 0; i < r->nmounts; i++)
			if (r->mounts[i].op == RP_OP_PROC &&
			    mount("proc", r->mounts[i].path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				die(RP_EXIT_SETUP, "mounts: mounting %s: %s", r->mounts[i].path, errstr(errno));
	for (uint32_t i = 0; i < r->nmounts; i++)
		if (r->mounts[i].op == RP_OP_READ_ONLY &&
		    syscall(SYS_mount_setattr, (long)AT_FDCWD, r->mounts[i].path, (unsigned long)AT_RECURSIVE, &ro,
			    sizeof ro) < 0)
			die(RP_EXIT_SETUP, "mounts: making %s read-only: %s", r->mounts[i].path, errstr(errno));
	for (uint32_t i = 0; i < r->nmounts; i++) {
		const char *p = r->mounts[i].path;
		if (r->mounts[i].op == RP_OP_TMPFS &&
		    mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, tmp_like(p) ? "mode=1777" : "mode=0755") < 0)
			die(RP_EXIT_SETUP, "mounts: tmpfs on %s: %s", p, errstr(errno));
	}
	for (uint32_t i = 0; i < r->nmounts; i++) {
		struct rp_mount *m = &r->mounts[i];
		if (m->op != RP_OP_BIND)
			continue;
		mountpoint(m->path, m->flags & RP_MOUNT_DIR);
		if (syscall(SYS_move_mount, (long)m->fd, "", (long)AT_FDCWD, m->path,
			    (unsigned long)MOVE_MOUNT_F_EMPTY_PATH) < 0)
			die(RP_EXIT_SETUP, "mounts: binding %s: %s", m->path, errstr(errno));
		close(m->fd);
		m->fd = -1;
	}
}

/* loopback_up brings up "lo" of the new network namespace. */
static void loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die(RP_EXIT_SETUP, "network: %s", errstr(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		die(RP_EXIT_SETUP, "network: lo: %s", errstr(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		die(RP_EXIT_SETUP, "network: lo up: %s", errstr(errno));
	close(fd);
}

static void noop(int sig) { (void)sig; }

/* init_signals creates the init's signalfd. The relayed signals stay
 * blocked, as the launcher blocked them, and wait there. */
static int init_signals(void)
{
	sigset_t set;
	relayed(&set);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		die(RP_EXIT_SETUP, "signals: signalfd: %s", errstr(errno));
	return sfd;
}

/* init_handlers gives each relayed signal a no-op handler: a pid
 * namespace's init is not sent signals it has no handler for
 * (SIGNAL_UNKILLABLE). Blocked signals are queued all the same (the
 * kernel never ignores a blocked signal: sig_ignored), so this can wait
 * until the command has executed and needs no handler of its own reset
 * before its execve; the handlers keep the init safe once anything
 * would unblock them. */
static void init_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = noop;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NFORWARDED; i++)
		if (sigaction(forwarded[i], &sa, NULL) < 0)
			die(RP_EXIT_SETUP, "signals: %s", errstr(errno));
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		die(RP_EXIT_SETUP, "signals: %s", errstr(errno));
}

/* set_title makes the init's command line "rampart-sandbox:<compartment>"
 * as when package sandbox starts the launcher (cli: it is "rampart run
 * ..." otherwise). It rewrites the argument strings in place, which must
 * be contiguous as the kernel lays them out. */
static void set_title(const struct rp_record *r)
{
	if (g_argc < 1 || !g_argv)
		return;
	for (int i = 1; i < g_argc; i++)
		if (g_argv[i] != g_argv[i - 1] + strlen(g_argv[i - 1]) + 1)
			return;
	char *start = g_argv[0], *end = g_argv[g_argc - 1] + strlen(g_argv[g_argc - 1]);
	int n = snprintf(start, (size_t)(end - start) + 1, "rampart-sandbox:%s", r->compartment ? r->compartment : "");
	if (n >= 0 && start + n < end)
		memset(start + n, 0, (size_t)(end - (start + n)));
}

/* syscall_name returns the record's name of syscall nr, or its number. */
static const char *syscall_name(const struct rp_record *r, int32_t nr, char num[16])
{
	if (nr >= 0 && (uint32_t)nr < r->nnames && r->names[nr].nr == (uint32_t)nr)
		return r->names[nr].name;
	for (uint32_t i = 0; i < r->nnames; i++)
		if (r->names[i].nr == (uint32_t)nr)
			return r->names[i].name;
	snprintf(num, 16, "%d", nr);
	return num;
}

/* answer handles one seccomp notification: a syscall the filter
 * refused, which waits for the init's answer. It reports it and refuses
 * it with the record's verdict. Returns -1 when the listener is unusable. */
static int answer(const struct rp_record *r, int listener, bool *killed)
{
	union {
		struct rp_notif n;
		uint8_t room[512]; /* newer kernels may fill a larger struct */
	} req;
	/* The kernel wants a zeroed buffer (EINVAL otherwise). */
	memset(&req, 0, sizeof req);
	if (ioctl(listener, RP_NOTIF_RECV, &req) < 0)
		return errno == ENOENT || errno == EINTR ? 0 : -1; /* ENOENT: the caller died meanwhile */
	char num[16], msg[256];
	const char *name = syscall_name(r, req.n.nr, num);
	snprintf(msg, sizeof msg, "Rrefused syscall %s (%d) by pid %u", name, req.n.nr, req.n.pid);
	report(msg);
	struct rp_notif_resp resp = {.id = req.n.id};
	if (r->refuse == RP_SECCOMP_RET_KILL_PROCESS) {
		/* The notification still pending means the pid is still the
		 * caller's (not reused): check, then kill its whole process. */
		uint64_t id = req.n.id;
		/* (A pid the init cannot see would be 0: kill(0) would signal
		 * the init's process group, the caller's.) */
		if (req.n.pid > 0 && req.n.pid <= INT_MAX && ioctl(listener, RP_NOTIF_ID_VALID, &id) == 0) {
			kill((pid_t)req.n.pid, SIGKILL);
			if (!*killed) {
				*killed = true;
				snprintf(msg, sizeof msg, "K%s", name);
				report(msg);
			}
		}
		resp.error = -EPERM;
	} else {
		/* As the kernel's SECCOMP_RET_ERRNO: at most MAX_ERRNO (a
		 * larger value would not read as an error). */
		int e = (int)(r->refuse & RP_SECCOMP_RET_DATA);
		resp.error = -(e == 0 ? EPERM : e > 4095 ? 4095 : e);
	}
	ioctl(listener, RP_NOTIF_SEND, &resp); /* ENOENT: the caller died */
	return 0;
}

/* from_terminal reports whether a signal is one the kernel sent to the
 * whole foreground process group (si_code SI_KERNEL): the terminal's
 * Ctrl-C, Ctrl-\ and window change, and the SIGHUP of a session leader's
 * exit or of an orphaned group. The launcher, the init and the command
 * are all in that group (the namespaces do not change it), so the
 * command already got it: relaying it again would deliver it twice.
 * Other signals from the kernel went to one process alone and are
 * relayed: the SIGHUP of a hangup, which only the session's leader gets
 * (the launcher, when it leads: "ssh -t host rampart run ..."), and the
 * SIGALRM of a timer set before "rampart run" was executed (timers
 * survive execve: "alarm 10; exec rampart run ..."). */
static bool from_terminal(const struct signalfd_siginfo *si, bool session_leader)
{
	if (si->ssi_code != SI_KERNEL)
		return false;
	switch (si->ssi_signo) {
	case SIGINT:
	case SIGQUIT:
	case SIGWINCH:
		return true;
	case SIGHUP:
		return !session_leader;
	}
	return false;
}

/* relay_and_reap handles the signals read from the init's signalfd: it
 * relays the forwarded ones to the command and reaps children on SIGCHLD
 * (the command, and orphans the kernel gave to the namespace's init),
 * exiting with the command's status once it is reaped. */
static void relay_and_reap(int sfd, pid_t cmd, bool killed)
{
	struct signalfd_siginfo si[16];
	ssize_t n = read(sfd, si, sizeof si);
	if (n < 0)
		return;
	bool chld = false;
	for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
		if (si[i].ssi_signo == SIGCHLD)
			chld = true;
		else if (!from_terminal(&si[i], false)) /* the init leads no session */
			kill(cmd, (int)si[i].ssi_signo);
	}
	if (!chld)
		return;
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		if (w == cmd)
			exit_status(st, killed);
	}
}

/* init_loop is the init once the command runs. */
static _Noreturn void init_loop(const struct rp_record *r, pid_t cmd, int sfd, int listener)
{
	struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = listener, .events = POLLIN}};
	nfds_t n = listener >= 0 ? 2 : 1;
	bool killed = false;
	for (;;) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot happen; but never leave the command behind. */
			int st = reap(cmd);
			exit_status(st, killed);
		}
		if (p[0].revents & POLLIN)
			relay_and_reap(sfd, cmd, killed);
		if (n == 2 && p[1].revents) {
			int ok = 0;
			if (p[1].revents & POLLIN)
				ok = answer(r, listener, &killed);
			/* POLLHUP without POLLIN: no task uses the filter any more. */
			else if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
				ok = -1;
			if (ok < 0) {
				close(listener);
				n = 1;
			}
		}
	}
}

/* start_command starts the command's process, which confines itself and
 * executes the command, and returns its pid once its execve succeeded;
 * it reports a failure and exits otherwise. */
static pid_t start_command(struct rp_record *r, const char *dir, int *listener)
{
	struct cpage *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED)
		die(RP_EXIT_SETUP, "starting the command: %s", errstr(errno));
	pg->listener = -1;
	pid_t ipid = getpid();
	/* CLONE_VFORK: the init sleeps until the command's execve succeeded
	 * or it died, so the page is final when clone returns. CLONE_FILES:
	 * the command's seccomp listener lands in the init's table. Not
	 * CLONE_VM: the command changes its credentials, and has its own
	 * memory to do it in. */
	pid_t c = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_VFORK | CLONE_FILES | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
	if (c < 0)
		die(RP_EXIT_SETUP, "starting the command: %s", errstr(errno));
	if (c == 0)
		run_command(r, pg, dir, ipid);

	int state = __atomic_load_n(&pg->state, __ATOMIC_ACQUIRE);
	if (state != CP_EXECUTING) {
		int st = reap(c);
		pg->msg[sizeof pg->msg - 1] = 0;
		if (state == CP_SETUP_FAILED)
			die(pg->code, "%s", pg->msg);
		if (state == CP_EXEC_FAILED)
			die(pg->err == ENOENT ? RP_EXIT_NOT_FOUND : RP_EXIT_CANNOT_EXEC, "starting %s: %s", r->path,
			    errstr(pg->err));
		if (st != -1 && WIFSIGNALED(st))
			die(RP_EXIT_SETUP, "starting the command: killed by signal %d before its execve", WTERMSIG(st));
		die(RP_EXIT_SETUP, "starting the command: it ended before its execve");
	}
	*listener = pg->listener;
	return c;
}

/* run_init is the init: it sets the sandbox up, starts the command and
 * stays as the namespace's init. relfd is the launcher's release pipe,
 * lsfd the launcher's signalfd. */
static _Noreturn void run_init(struct rp_record *r, int lsfd, int relfd)
{
	/* Die with the launcher (which reports our status). Set before the
	 * release: a launcher that dies before it leaves the pipe empty. */
	if (prctl(PR_SET_PDEATHSIG, (unsigned long)SIGKILL, 0UL, 0UL, 0UL) < 0)
		die(RP_EXIT_SETUP, "starting the init: PR_SET_PDEATHSIG: %s", errstr(errno));
	/* Wait until the launcher mapped our ids (user namespace): until
	 * then we are nobody. */
	char c;
	ssize_t n;
	while ((n = read(relfd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(RP_EXIT_SETUP);
	if (prctl(PR_SET_DUMPABLE, 0UL, 0UL, 0UL, 0UL) < 0) /* see run_record */
		die(RP_EXIT_SETUP, "starting the init: PR_SET_DUMPABLE: %s", errstr(errno));
	close(relfd);
	close(lsfd); /* a new one below, after the descriptors moved */
	if (cli)
		set_title(r);

	keep_fds(r);
	close_strays(r);
	if (r->selinux)
		set_exec_label(r->selinux);
	if (r->ns & RP_NS_MOUNT)
		setup_mounts(r);
	if (r->ns & RP_NS_NET)
		loopback_up();
	if ((r->ns & RP_NS_UTS) && r->hostname && r->hostname[0] &&
	    sethostname(r->hostname, strlen(r->hostname)) < 0)
		die(RP_EXIT_SETUP, "hostname: %s", errstr(errno));
	for (uint32_t i = 0; i < r->nrlimits; i++) {
		struct rlimit rl = {(rlim_t)r->rlimits[i].value, (rlim_t)r->rlimits[i].value};
		if (setrlimit((__rlimit_resource_t)r->rlimits[i].resource, &rl) < 0)
			die(RP_EXIT_SETUP, "rlimits: %s = %llu: %s", r->rlimits[i].name,
			    (unsigned long long)r->rlimits[i].value, errstr(errno));
	}
	/* The caller's directory may be hidden (under a private /tmp). */
	const char *dir = r->dir;
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		warn("rampart: working directory %s is not visible in the sandbox; using /\n", dir);
		dir = "/";
	}
	int sfd = init_signals();

	int listener = -1;
	pid_t cmd = start_command(r, dir, &listener);
	init_handlers();
	report("S");
	/* Nothing more to report without refusal reports. First: whoever
	 * waits for the kept descriptors below to close sees the init
	 * holding only what it needs. */
	if (!r->notify && report_fd >= 0) {
		close(report_fd);
		report_fd = -1;
	}
	/* The command has its copies: the init's would keep pipes open. */
	for (uint32_t i = 0; i < r->nkeep; i++) {
		int fd = r->keep[i].to;
		if (fd > 2 && fd != report_fd && fd != sfd && fd != listener)
			close(fd);
	}
	init_loop(r, cmd, sfd, listener);
}

/* ---- the launcher (L) ---- */

/* write_proc writes data to /proc/<pid>/<file>. */
static int write_proc(pid_t pid, const char *file, const char *data)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = strlen(data);
	ssize_t w = write(fd, data, n);
	int e = errno;
	close(fd);
	if (w == (ssize_t)n)
		return 0;
	errno = w < 0 ? e : EIO;
	return -1;
}

/* map_ids maps the caller's uid and gid to themselves in the init's user
 * namespace. An unprivileged writer may map only its own ids, and its
 * gid only once setgroups(2) is denied in the namespace
 * (user_namespaces(7)). */
static void map_ids(pid_t pid, const struct rp_record *r)
{
	char uid[48], gid[48];
	snprintf(uid, sizeof uid, "%u %u 1\n", r->map_uid, r->map_uid);
	snprintf(gid, sizeof gid, "%u %u 1\n", r->map_gid, r->map_gid);
	const char *files[3] = {"setgroups", "uid_map", "gid_map"}, *data[3] = {"deny", uid, gid};
	for (int i = 0; i < 3; i++) {
		if (write_proc(pid, files[i], data[i]) == 0)
			continue;
		int e = errno;
		kill(pid, SIGKILL);
		reap(pid);
		die(RP_EXIT_SETUP, "user namespace: writing %s: %s", files[i], errstr(e));
	}
}

static unsigned long clone_flags(uint32_t ns)
{
	unsigned long f = 0;
	if (ns & RP_NS_USER)
		f |= CLONE_NEWUSER;
	if (ns & RP_NS_MOUNT)
		f |= CLONE_NEWNS;
	if (ns & RP_NS_PID)
		f |= CLONE_NEWPID;
	if (ns & RP_NS_IPC)
		f |= CLONE_NEWIPC;
	if (ns & RP_NS_UTS)
		f |= CLONE_NEWUTS;
	if (ns & RP_NS_NET)
		f |= CLONE_NEWNET;
	return f;
}

/* launcher_loop relays the signals the launcher gets to the init and
 * exits with the init's status once it is reaped. */
static _Noreturn void launcher_loop(pid_t init, int sfd)
{
	bool leader = getsid(0) == getpid();
	for (;;) {
		struct signalfd_siginfo si[16];
		ssize_t n = read(sfd, si, sizeof si);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot happen; but never exit before the init. */
			exit_status(reap(init), false);
		}
		for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
			if (si[i].ssi_signo != SIGCHLD) {
				if (!from_terminal(&si[i], leader))
					kill(init, (int)si[i].ssi_signo);
				continue;
			}
			int st;
			pid_t w;
			while ((w = waitpid(init, &st, WNOHANG)) < 0 && errno == EINTR)
				;
			if (w == init)
				exit_status(st, false);
		}
	}
}

/* reset_ignored leaves the signals ignored as the Go runtime leaves them
 * at an execve, which is how package sandbox and "rampart run" on a
 * launch cache miss start the launcher: SIGHUP, SIGINT and the job
 * control signals stay ignored, the others are reset to the default, so
 * that a command starts the same from the cache or not. SIGCHLD above all: ignored, the kernel
 * would reap the init (and the command, before the init's handlers)
 * without a word, and the launcher would wait for it forever. */
static void reset_ignored(void)
{
	for (int s = 1; s < NSIG; s++) {
		switch (s) {
		case SIGHUP:
		case SIGINT:
		case SIGKILL:
		case SIGSTOP:
		case SIGCONT:
		case SIGTSTP:
		case SIGTTIN:
		case SIGTTOU:
			continue;
		}
		if (s >= 32 && s <= 34) /* glibc's and musl's own, which Go leaves alone */
			continue;
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) < 0 || sa.sa_handler != SIG_IGN)
			continue;
		sa.sa_handler = SIG_DFL;
		if (sigaction(s, &sa, NULL) < 0)
			die(RP_EXIT_SETUP, "signals: %s", errstr(errno));
	}
}

/* run_record runs a parsed record: the launcher's part. */
static _Noreturn void run_record(struct rp_record *r)
{
	reset_ignored();
	/* Block the relayed signals before the signalfd exists and before
	 * the clone: from now on they queue for the signalfd, here and in
	 * the init, which inherits the mask. SIGPIPE too: a closed standard
	 * error must not kill the launcher or the init mid-way (the command
	 * gets an empty mask). */
	sigset_t set, block;
	relayed(&set);
	block = set;
	sigaddset(&block, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &block, NULL) < 0)
		die(RP_EXIT_SETUP, "signals: %s", errstr(errno));
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		die(RP_EXIT_SETUP, "signals: signalfd: %s", errstr(errno));
	/* The init waits for a byte on this pipe before it does anything:
	 * until its ids are mapped, and until it is sure to die with the
	 * launcher (EOF: the launcher died first). */
	int rel[2];
	if (pipe2(rel, O_CLOEXEC) < 0)
		die(RP_EXIT_SETUP, "starting the init: %s", errstr(errno));

	/* A raw clone, fork-like (no stack: the child continues on a copy
	 * of this one), into the record's namespaces. */
	pid_t pid = (pid_t)syscall(SYS_clone, clone_flags(r->ns) | SIGCHLD, 0UL, 0UL, 0UL, 0UL);
	if (pid < 0) {
		int e = errno;
		if (e == EPERM || e == EINVAL || e == ENOSPC || e == EACCES)
			die(RP_EXIT_SETUP,
			    "creating the sandbox's namespaces: %s (are user namespaces enabled? "
			    "kernel.unprivileged_userns_clone, user.max_user_namespaces)",
			    errstr(e));
		die(RP_EXIT_SETUP, "starting the init: %s", errstr(e));
	}
	if (pid == 0) {
		close(rel[1]);
		run_init(r, sfd, rel[0]);
	}
	close(rel[0]);
	/* Not dumpable from now on (the init makes itself so too, once
	 * released): then neither can be ptraced, nor their memory written
	 * through /proc, by a process of the same uid without CAP_SYS_PTRACE,
	 * as the command may be (user namespace), and neither is confined.
	 * Before the release, so that no command exists while the launcher
	 * is dumpable. Not before the clone: the init would inherit it, the
	 * /proc files of a process that is not dumpable belong to root, and
	 * an unprivileged launcher could not write the init's uid_map. */
	if (prctl(PR_SET_DUMPABLE, 0UL, 0UL, 0UL, 0UL) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		reap(pid);
		die(RP_EXIT_SETUP, "starting the init: PR_SET_DUMPABLE: %s", errstr(e));
	}
	if (r->ns & RP_NS_USER)
		map_ids(pid, r);
	if (write(rel[1], "", 1) != 1) {
		int e = errno;
		kill(pid, SIGKILL);
		reap(pid);
		die(RP_EXIT_SETUP, "starting the init: %s", errstr(e));
	}
	/* From here on the init reports. Keep only the signalfd: the
	 * launcher must hold nothing of the sandbox's open (a pipe's reader
	 * would wait for the launcher's copy of its writing end). */
	if ((sfd > 3 && syscall(SYS_close_range, 3UL, (unsigned long)sfd - 1, 0UL) < 0) ||
	    syscall(SYS_close_range, (unsigned long)sfd + 1, (unsigned long)~0U, 0UL) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		reap(pid);
		die(RP_EXIT_SETUP, "descriptors: close_range: %s", errstr(e));
	}
	report_fd = -1;
	launcher_loop(pid, sfd);
}

_Noreturn void rp_run_cached(struct rp_record *r, int argc, char **argv)
{
	cli = true;
	report_fd = -1;
	g_argc = argc;
	g_argv = argv;
	run_record(r);
}

/* library runs a record that package sandbox passes. v is the value of
 * _RAMPART_SANDBOX_STAGE: "4" from sandbox.Start (the record on fd 3,
 * reports on the socket on fd 4, kept descriptors from fd 5 on), or
 * "4,cli,N" from sandbox.Exec, which "rampart run" executes in its own
 * process (the record on fd N, reports as text on standard error, kept
 * descriptors in place), as from the launch cache. */
static _Noreturn void library(const char *v, int argc, char **argv)
{
	int recfd = RP_RECORD_FD;
	size_t vl = strlen(RP_VERSION);
	if (strncmp(v, RP_VERSION ",cli,", vl + 5) == 0) {
		cli = true;
		g_argc = argc;
		g_argv = argv;
		char *end;
		errno = 0;
		long fd = strtol(v + vl + 5, &end, 10);
		if (errno != 0 || *end != 0 || end == v + vl + 5 || fd < 3 || fd > INT_MAX)
			die(RP_EXIT_SETUP, "launcher: bad record descriptor in %s=%s", RP_ENV, v);
		recfd = (int)fd;
	} else {
		report_fd = RP_REPORT_FD;
		if (strcmp(v, RP_VERSION) != 0)
			die(RP_EXIT_SETUP, "launcher protocol \"%s\", want \"%s\" (was rampart replaced while running?)",
			    v, RP_VERSION);
	}
	/* Pages are allocated as the record fills them. */
	size_t cap = (size_t)RP_MAX_ENTRY + 1, n = 0;
	uint8_t *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		die(RP_EXIT_SETUP, "reading the launch record: %s", errstr(errno));
	for (;;) {
		ssize_t k = read(recfd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die(RP_EXIT_SETUP, "reading the launch record: %s", errstr(errno));
		if (k == 0)
			break;
		n += (size_t)k;
		if (n == cap)
			die(RP_EXIT_SETUP, "launch record: more than %u bytes", RP_MAX_ENTRY);
	}
	close(recfd);
	struct rp_record r;
	struct rp_err e;
	if (rp_parse_record(buf, n, &r, &e) < 0)
		die(RP_EXIT_SETUP, "%s", e.msg);
	munmap(buf, cap);
	run_record(&r);
}

/* glibc calls constructors with the program's argc, argv and envp. */
__attribute__((constructor)) static void rampart_launch(int argc, char **argv, char **envp)
{
	static const char env[] = RP_ENV "=";
	if (!envp)
		return;
	for (char **e = envp; *e; e++)
		if (strncmp(*e, env, sizeof env - 1) == 0)
			library(*e + sizeof env - 1, argc, argv);
	if (argc >= 2 && argv && argv[1] && strcmp(argv[1], "run") == 0)
		rp_cache_try(argc, argv, envp);
}
