/*
 * rundir.c: ds-master's directories.  RUN (sockets, the lock that keeps
 * a second master off the same sockets) and STATE (STATE/lock, held by
 * the one master of the job; STATE/plan, the plan the state was made
 * for (stateplan.c); STATE/epochs, the last epoch of every process, so
 * that a new run fences the old ones; the state logs and STATE/journal;
 * STATE/done or STATE/stopped, how the last run ended: after done the
 * next run starts over).  Only ds-master writes here; the children write
 * their own files below STATE.
 *
 * Both are private (core/dir.h): created 0700 with their parents, an
 * existing one refused (74) unless it is a real directory of ours that
 * no one else may write, and every file in them reached through M.runfd
 * or M.statefd without following a link: a link where a file should be
 * is refused (74), except a stale temporary file, which is removed.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dir.h"
#include "master.h"

/* Open (creating) the private directory path, or die 74 naming it. */
static int
dir_open(const char *what, const char *path)
{
	char err[1024];
	int fd;

	if ((fd = ds_dir_open_msg(path, 1, err, sizeof(err))) == -1)
		ds_die(DS_EX_IOERR, "unable to use %s directory %s: %s", what,
		    path, err);
	return fd;
}

/* Die 74: dir/name could not be opened (a link is not followed). */
static void
die_file(const char *dir, const char *name, const char *verb)
{
	ds_die(DS_EX_IOERR, "unable to %s %s/%s: %s", verb, dir, name,
	    ds_dir_strerror(errno));
}

static struct inst *
inst_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < M.nin; i++)
		if (strcmp(M.in[i].name, name) == 0)
			return &M.in[i];
	return NULL;
}

/* STATE/epochs: "NAME EPOCH" lines; unknown names are dropped. */
static void
epochs_load(void)
{
	char line[512], name[256];
	unsigned long long e;
	struct inst *in;
	FILE *fp;
	int fd;

	if ((fd = ds_dir_openat(M.statefd, "epochs", O_RDONLY)) == -1) {
		if (errno != ENOENT)
			die_file(M.topo.state, "epochs", "read");
		return;
	}
	if ((fp = fdopen(fd, "r")) == NULL)
		ds_diesys(DS_EX_OSERR, "unable to read %s/epochs",
		    M.topo.state);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%255s %llu", name, &e) != 2 ||
		    e > UINT32_MAX - 1)
			ds_die(DS_EX_DATAERR, "%s/epochs: bad line '%.*s'",
			    M.topo.state, (int)strcspn(line, "\n"), line);
		if ((in = inst_by_name(name)) != NULL)
			in->epoch = (uint32_t)e;
	}
	if (ferror(fp))
		ds_diesys(DS_EX_IOERR, "unable to read %s/epochs",
		    M.topo.state);
	fclose(fp);
}

int
rundir_epochs_save(void)
{
	struct ds_buf b = DS_BUF_INIT;
	char line[320];
	size_t i;
	int n, rc;

	for (i = 0; i < M.nin; i++) {
		if (M.in[i].epoch == 0)
			continue;
		n = snprintf(line, sizeof(line), "%s %lu\n", M.in[i].name,
		    (unsigned long)M.in[i].epoch);
		if (ds_buf_add(&b, line, (size_t)n) == -1)
			nomem();
	}
	rc = ds_dir_replace(M.statefd, "epochs", b.p, b.len);
	ds_buf_free(&b);
	return rc;
}

/*
 * Remove the entries of the directory fd whose names match (unlinkat(2)
 * removes a link, never what it points to).  fd is closed.
 */
static void
clear(int fd, const char *dir, int (*match)(const char *))
{
	struct dirent *de;
	DIR *d;

	if ((d = fdopendir(fd)) == NULL)
		ds_diesys(DS_EX_IOERR, "unable to read %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (!match(de->d_name))
			continue;
		if (unlinkat(fd, de->d_name, 0) == -1 && errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to remove %s/%s", dir,
			    de->d_name);
	}
	closedir(d);
}

/* The files of STATE/journal (ds-journal(5)). */
static int
journal_file(const char *name)
{
	return strncmp(name, "journal.", 8) == 0 ||
	    strncmp(name, "state.tch", 9) == 0;
}

static int
slog_file(const char *name)
{
	size_t n = strlen(name);

	return n >= 5 && strcmp(name + n - 5, ".slog") == 0;
}

/*
 * Remove the job's state: the state logs, the files of STATE/journal,
 * the plan and how the last run ended.  Only names dstream gives its
 * files, each unlinked through its directory (a link is removed, never
 * followed).  STATE/epochs stays: epochs only fence, and a process of
 * an earlier run that is still about must stay fenced.
 */
static void
state_clear(void)
{
	static const char *const names[] = {
		"plan", "done", "stopped", "drained"
	};
	char *jdir;
	size_t i;
	int fd;

	if ((fd = dup(M.statefd)) == -1)
		ds_diesys(DS_EX_OSERR, "unable to read %s", M.topo.state);
	clear(fd, M.topo.state, slog_file);
	jdir = xprintf("%s/journal", M.topo.state);
	if ((fd = openat(M.statefd, "journal", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) != -1)
		clear(fd, jdir, journal_file);
	else if (errno != ENOENT)
		ds_die(DS_EX_IOERR, "unable to read %s: %s", jdir,
		    errno == ELOOP || errno == ENOTDIR ? "not a directory "
		    "(a symbolic link is not followed)" : strerror(errno));
	free(jdir);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (unlinkat(M.statefd, names[i], 0) == -1 && errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to remove %s/%s",
			    M.topo.state, names[i]);
}

/* Is there a regular file STATE/name?  Dies 74 on a link or a fifo. */
static int
state_has(const char *name)
{
	struct stat st;

	if (fstatat(M.statefd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			die_file(M.topo.state, name, "read");
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : EINVAL;
		die_file(M.topo.state, name, "read");
	}
	return 1;
}

/* The longest STATE/plan read: far more than any topology makes. */
#define PLAN_MAX	(1u << 20)

/*
 * STATE/plan against the topology's: refuse (78) a run whose plan
 * differs, naming each difference, before anything in STATE changes.
 * A state without a plan (new, or made before plans were kept) is taken
 * as it is.  Returns the old plan's text (malloc'ed), or NULL.
 */
static char *
plan_verify(const char *now)
{
	char *old, *what;
	size_t nd;
	long n;

	if ((old = malloc(PLAN_MAX)) == NULL)
		nomem();
	if ((n = ds_dir_read(M.statefd, "plan", old, PLAN_MAX)) == -1) {
		if (errno != ENOENT)
			die_file(M.topo.state, "plan", "read");
		free(old);
		return NULL;
	}
	what = xprintf("%s/plan", M.topo.state);
	if ((size_t)n == PLAN_MAX - 1)
		ds_die(DS_EX_DATAERR, "%s: longer than any plan", what);
	if (strcmp(old, now) == 0) {
		free(what);
		return old;
	}
	if ((nd = plan_diff(old, &M.topo, what)) > 0)
		ds_die(DS_EX_CONFIG, "%s: the job changed since its state in "
		    "%s was made (%zu difference%s above): resuming would mix "
		    "two plans; ds-master run --discard-state starts over "
		    "(rescaling or changing a job that has state is not "
		    "supported yet)",
		    M.topo.file, M.topo.state, nd, nd == 1 ? "" : "s");
	free(what);
	/* Only its spelling changed: rewrite it. */
	old[0] = '\0';
	return old;
}

/*
 * Before anything in STATE changes: start over after a finished run
 * (STATE/done) or when asked to, else refuse another plan.  Then forget
 * how the last run ended and record this run's plan.
 */
static void
state_prepare(int discard)
{
	char *now, *old = NULL;

	now = plan_text(&M.topo);
	if (state_has("done")) {
		state_clear();
		ds_info("previous run finished: starting over");
	} else if (discard) {
		state_clear();
		ds_info("--discard-state: starting over");
	} else
		old = plan_verify(now);
	if (unlinkat(M.statefd, "stopped", 0) == -1 && errno != ENOENT)
		ds_diesys(DS_EX_IOERR, "unable to remove %s/stopped",
		    M.topo.state);
	if ((old == NULL || strcmp(old, now) != 0) &&
	    ds_dir_replace(M.statefd, "plan", now, strlen(now)) == -1)
		die_file(M.topo.state, "plan", "write");
	free(old);
	free(now);
}

/* A write lock on dirfd/lock, or -1 (errno EAGAIN: someone holds it). */
static int
lock_file(int dirfd, const char *dir)
{
	struct flock fl;
	int fd, e;

	if ((fd = ds_dir_openat(dirfd, "lock", O_RDWR | O_CREAT)) == -1)
		die_file(dir, "lock", "open");
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		e = errno;
		if (e != EACCES && e != EAGAIN)
			ds_diesys(DS_EX_IOERR, "unable to lock %s/lock", dir);
		close(fd);
		errno = EAGAIN;
		return -1;
	}
	return fd;
}

/*
 * One ds-master per run directory: a lock held until we exit.  The lock
 * file is removed by the master that holds it, just before it exits
 * (rundir_close): one that locked a file already removed tries again.
 */
static void
lock_run(void)
{
	struct stat fst, pst;
	int fd;

	for (;;) {
		if ((fd = lock_file(M.runfd, M.topo.run)) == -1)
			ds_die(DS_EX_UNAVAILABLE, "%s: another ds-master runs "
			    "job %s (%s/lock is locked)", M.topo.file,
			    M.topo.name, M.topo.run);
		if (fstat(fd, &fst) == 0 && fstatat(M.runfd, "lock", &pst,
		    AT_SYMLINK_NOFOLLOW) == 0 && fst.st_dev == pst.st_dev &&
		    fst.st_ino == pst.st_ino)
			break;
		close(fd);
	}
}

/*
 * One ds-master per state directory, whatever its run directory (two
 * topologies, or two paths to one, may name one state): STATE/lock,
 * held until just before we exit, and never removed.
 */
static void
lock_state(void)
{
	if ((M.statelock = lock_file(M.statefd, M.topo.state)) == -1)
		ds_die(DS_EX_UNAVAILABLE, "%s: another ds-master runs job %s "
		    "on its state (%s/lock is locked)", M.topo.file,
		    M.topo.name, M.topo.state);
}

/* ipc://PATH's path, or NULL. */
static const char *
ipc_path(const char *addr)
{
	return addr != NULL && strncmp(addr, "ipc://", 6) == 0 ? addr + 6 :
	    NULL;
}

void
rundir_close(void)
{
	const char *path, *base;
	size_t k, n = strlen(M.topo.run);

	/* Our sockets are RUN/NAME: removed through RUN, never a link. */
	for (k = 0; k <= M.plan.nproc; k++) {
		path = ipc_path(k < M.plan.nproc ? M.plan.proc[k].listen :
		    M.addr);
		if (path == NULL || strncmp(path, M.topo.run, n) != 0 ||
		    path[n] != '/' || strchr(base = path + n + 1, '/') != NULL)
			continue;
		(void)unlinkat(M.runfd, base, 0);
	}
	(void)unlinkat(M.runfd, "key", 0);
	(void)unlinkat(M.runfd, "lock", 0);
	/*
	 * Last: `ds-master stop` waits for this, and a run started right
	 * after finds the run lock gone.
	 */
	close(M.statelock);
	M.statelock = -1;
}

void
rundir_open(int discard)
{
	char *jdir;

	M.runfd = dir_open("run", M.topo.run);
	M.statefd = dir_open("state", M.topo.state);
	lock_run();
	lock_state();
	epochs_load();		/* read before anything is written */
	state_prepare(discard);
	if (M.jn != NULL) {
		jdir = xprintf("%s/journal", M.topo.state);
		close(dir_open("journal", jdir));
		free(jdir);
	}
}

/* Now as "2006-01-02T15:04:05Z" (UTC), in buf. */
static const char *
now_utc(char *buf, size_t n)
{
	struct tm tm;
	time_t t = time(NULL);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "@%lld", (long long)t);
	return buf;
}

void
rundir_done(void)
{
	char *line, ts[32];

	line = xprintf("finished %s\n", now_utc(ts, sizeof(ts)));
	if (ds_dir_replace(M.statefd, "done", line, strlen(line)) == -1)
		die_file(M.topo.state, "done", "write");
	free(line);
}

void
rundir_stopped(const char *why)
{
	char *line, ts[32];

	/* "stopped by SIGHUP" says "stopped" once. */
	if (strncmp(why, "stopped ", 8) == 0)
		why += 8;
	line = xprintf("stopped %s: %s\n", now_utc(ts, sizeof(ts)), why);
	if (ds_dir_replace(M.statefd, "stopped", line, strlen(line)) == -1)
		ds_warn("unable to write %s/stopped: %s", M.topo.state,
		    ds_dir_strerror(errno));
	free(line);
}
