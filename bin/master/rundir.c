/*
 * rundir.c: ds-master's directories.  RUN (sockets, the lock that keeps
 * a second master off the same job) and STATE (STATE/epochs, the last
 * epoch of every process, so that a new run fences the old ones; the
 * state logs and STATE/journal; STATE/done, left by a run that finished,
 * so that the next one starts over).  Only ds-master writes here; the
 * children write their own files below STATE.
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

/* A finished run leaves STATE/done: the next run starts over. */
static void
state_prepare(void)
{
	struct stat st;
	char *jdir;
	int fd;

	if (fstatat(M.statefd, "done", &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			die_file(M.topo.state, "done", "read");
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISLNK(st.st_mode) ? ELOOP : EINVAL;
		die_file(M.topo.state, "done", "read");
	}
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
	if (unlinkat(M.statefd, "done", 0) == -1)
		ds_diesys(DS_EX_IOERR, "unable to remove %s/done",
		    M.topo.state);
	ds_info("previous run finished: starting over");
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
	struct flock fl;
	int fd;

	for (;;) {
		if ((fd = ds_dir_openat(M.runfd, "lock", O_RDWR | O_CREAT)) ==
		    -1)
			die_file(M.topo.run, "lock", "open");
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == -1) {
			if (errno == EACCES || errno == EAGAIN)
				ds_die(DS_EX_UNAVAILABLE, "%s: another "
				    "ds-master runs job %s (%s/lock is "
				    "locked)", M.topo.file, M.topo.name,
				    M.topo.run);
			ds_diesys(DS_EX_IOERR, "unable to lock %s/lock",
			    M.topo.run);
		}
		if (fstat(fd, &fst) == 0 && fstatat(M.runfd, "lock", &pst,
		    AT_SYMLINK_NOFOLLOW) == 0 && fst.st_dev == pst.st_dev &&
		    fst.st_ino == pst.st_ino)
			break;
		close(fd);
	}
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
}

void
rundir_open(void)
{
	char *jdir;

	M.runfd = dir_open("run", M.topo.run);
	M.statefd = dir_open("state", M.topo.state);
	lock_run();
	state_prepare();
	if (M.jn != NULL) {
		jdir = xprintf("%s/journal", M.topo.state);
		close(dir_open("journal", jdir));
		free(jdir);
	}
	epochs_load();
}

void
rundir_done(void)
{
	char *line;

	line = xprintf("%s\n", M.topo.name);
	if (ds_dir_replace(M.statefd, "done", line, strlen(line)) == -1)
		die_file(M.topo.state, "done", "write");
	free(line);
}
