/*
 * rundir.c: ds-master's directories.  RUN (sockets, the lock that keeps
 * a second master off the same job) and STATE (STATE/epochs, the last
 * epoch of every process, so that a new run fences the old ones; the
 * state logs and STATE/journal; STATE/done, left by a run that finished,
 * so that the next one starts over).  Only ds-master writes here; the
 * children write their own files below STATE.
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

#include "master.h"

/* mkdir -p path, the last component with mode. */
static int
mkdirs(const char *path, mode_t mode)
{
	char *p, *s;
	int rc = 0;

	s = xstrdup(path);
	for (p = s + 1; rc == 0 && *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0777) == -1 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(s, mode) == -1 && errno != EEXIST)
		rc = -1;
	free(s);
	return rc;
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
	char *file, line[512], name[256];
	unsigned long long e;
	struct inst *in;
	FILE *fp;

	file = xprintf("%s/epochs", M.topo.state);
	if ((fp = fopen(file, "r")) == NULL) {
		if (errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to read %s", file);
		free(file);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%255s %llu", name, &e) != 2 ||
		    e > UINT32_MAX - 1)
			ds_die(DS_EX_DATAERR, "%s: bad line '%.*s'", file,
			    (int)strcspn(line, "\n"), line);
		if ((in = inst_by_name(name)) != NULL)
			in->epoch = (uint32_t)e;
	}
	fclose(fp);
	free(file);
}

int
rundir_epochs_save(void)
{
	char *file, *tmp;
	size_t i;
	FILE *fp;
	int rc = -1;

	file = xprintf("%s/epochs", M.topo.state);
	tmp = xprintf("%s/epochs.tmp", M.topo.state);
	if ((fp = fopen(tmp, "w")) != NULL) {
		for (i = 0; i < M.nin; i++)
			if (M.in[i].epoch > 0)
				fprintf(fp, "%s %lu\n", M.in[i].name,
				    (unsigned long)M.in[i].epoch);
		if (fclose(fp) == 0 && rename(tmp, file) == 0)
			rc = 0;
	}
	free(tmp);
	free(file);
	return rc;
}

/* Remove the files of STATE/journal (ds-journal(5)), if any. */
static void
journal_clear(void)
{
	struct dirent *de;
	char *dir, *p;
	DIR *d;

	dir = xprintf("%s/journal", M.topo.state);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to read %s", dir);
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "journal.", 8) != 0 &&
		    strncmp(de->d_name, "state.tch", 9) != 0)
			continue;
		p = xprintf("%s/%s", dir, de->d_name);
		if (unlink(p) == -1 && errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to remove %s", p);
		free(p);
	}
	closedir(d);
	free(dir);
}

/* A finished run leaves STATE/done: the next run starts over. */
static void
state_prepare(void)
{
	char *done, *p;
	struct dirent *de;
	size_t n;
	DIR *d;

	done = xprintf("%s/done", M.topo.state);
	if (access(done, F_OK) == 0) {
		if ((d = opendir(M.topo.state)) == NULL)
			ds_diesys(DS_EX_IOERR, "unable to read %s",
			    M.topo.state);
		while ((de = readdir(d)) != NULL) {
			n = strlen(de->d_name);
			if (n < 5 || strcmp(de->d_name + n - 5, ".slog") != 0)
				continue;
			p = xprintf("%s/%s", M.topo.state, de->d_name);
			if (unlink(p) == -1 && errno != ENOENT)
				ds_diesys(DS_EX_IOERR, "unable to remove %s",
				    p);
			free(p);
		}
		closedir(d);
		journal_clear();
		if (unlink(done) == -1)
			ds_diesys(DS_EX_IOERR, "unable to remove %s", done);
		ds_info("previous run finished: starting over");
	}
	free(done);
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
	char *file;
	int fd;

	file = xprintf("%s/lock", M.topo.run);
	for (;;) {
		if ((fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
			ds_diesys(DS_EX_IOERR, "unable to open %s", file);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == -1) {
			if (errno == EACCES || errno == EAGAIN)
				ds_die(DS_EX_UNAVAILABLE, "%s: another "
				    "ds-master runs job %s (%s is locked)",
				    M.topo.file, M.topo.name, file);
			ds_diesys(DS_EX_IOERR, "unable to lock %s", file);
		}
		if (fstat(fd, &fst) == 0 && stat(file, &pst) == 0 &&
		    fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino)
			break;
		close(fd);
	}
	free(file);
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
	const char *path;
	char *file;
	size_t k;

	for (k = 0; k < M.plan.nproc; k++)
		if ((path = ipc_path(M.plan.proc[k].listen)) != NULL)
			(void)unlink(path);
	if ((path = ipc_path(M.addr)) != NULL)
		(void)unlink(path);
	file = xprintf("%s/lock", M.topo.run);
	(void)unlink(file);
	free(file);
}

void
rundir_open(void)
{
	char *jdir;

	if (mkdirs(M.topo.run, 0700) == -1)
		ds_diesys(DS_EX_IOERR, "unable to create %s", M.topo.run);
	if (mkdirs(M.topo.state, 0777) == -1)
		ds_diesys(DS_EX_IOERR, "unable to create %s", M.topo.state);
	lock_run();
	state_prepare();
	if (M.jn != NULL) {
		jdir = xprintf("%s/journal", M.topo.state);
		if (mkdirs(jdir, 0700) == -1)
			ds_diesys(DS_EX_IOERR, "unable to create %s", jdir);
		free(jdir);
	}
	epochs_load();
}

void
rundir_done(void)
{
	char *done;
	FILE *fp;

	done = xprintf("%s/done", M.topo.state);
	if ((fp = fopen(done, "w")) == NULL ||
	    fprintf(fp, "%s\n", M.topo.name) < 0 || fclose(fp) != 0)
		ds_diesys(DS_EX_IOERR, "unable to write %s", done);
	free(done);
}
