/*
 * dir.c: unit test for libds/core/dir.  A private directory is created
 * 0700 with its parents; an existing one that is a symbolic link, group
 * or world writable, or not a directory is refused with a reason; a
 * shared parent needs the sticky bit; files are never opened through a
 * link or as anything but a regular file; a replace leaves no temporary
 * file and does not write through a planted one; the message of a failed
 * check names the directory at fault; ds_dir_umask makes what the
 * process creates private and remembers the caller's umask.
 */
#define _DEFAULT_SOURCE	/* S_ISVTX, mkdtemp */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "tap.h"

static char top[256];

/* top/rel, in one of four buffers (two may be used in one call). */
static const char *
at(const char *rel)
{
	static char p[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%.255s/%.200s", top, rel);
	return p[i];
}

static void
dirs(void)
{
	const char *why = NULL;
	struct stat st;
	int fd;

	fd = ds_dir_open(at("a/b/c"), 1, &why);
	ok(fd >= 0, "creates a directory with its parents");
	ok(stat(at("a/b/c"), &st) == 0 && (st.st_mode & 07777) == 0700,
	    "created 0700");
	ok(stat(at("a"), &st) == 0 && (st.st_mode & 07777) == 0700,
	    "parents created 0700");
	close(fd);
	fd = ds_dir_open(at("a/b/c"), 0, &why);
	ok(fd >= 0, "opens an existing private directory");
	close(fd);
	{
		const char *name = NULL;

		fd = ds_dir_open_parent(at("a/b/c/key"), 0, &name, &why);
		ok(fd >= 0 && strcmp(name, "key") == 0,
		    "open_parent opens the directory and names the file");
		if (fd >= 0)
			close(fd);
		ok(ds_dir_open_parent(at("a/b/c/"), 0, &name, &why) == -1 &&
		    errno == EINVAL, "open_parent of a path ending in /: "
		    "EINVAL");
	}
	ok(ds_dir_open(at("none"), 0, &why) == -1 && errno == ENOENT,
	    "a missing one without create: ENOENT");

	mkdir(at("ww"), 0700);
	chmod(at("ww"), 0777);
	why = NULL;
	ok(ds_dir_open(at("ww"), 1, &why) == -1 && errno == EPERM &&
	    why != NULL && strstr(why, "writable") != NULL,
	    "a world-writable directory is refused");
	chmod(at("ww"), 01777);
	ok(ds_dir_open(at("ww"), 1, &why) == -1 && errno == EPERM,
	    "even with the sticky bit, as the last component");
	why = NULL;
	fd = ds_dir_open(at("ww/sub"), 1, &why);
	ok(fd >= 0, "a sticky shared parent is allowed (/tmp)");
	if (fd >= 0)
		close(fd);
	chmod(at("ww"), 0777);
	why = NULL;
	ok(ds_dir_open(at("ww/sub"), 0, &why) == -1 && errno == EPERM,
	    "a shared parent without the sticky bit is refused");

	symlink(at("a"), at("ln"));
	why = NULL;
	ok(ds_dir_open(at("ln"), 1, &why) == -1 && errno == EPERM &&
	    strstr(why, "symbolic link") != NULL,
	    "a symbolic link as the directory is refused");
	fd = ds_dir_open(at("ln/b"), 0, &why);
	ok(fd >= 0, "a parent link of our own is followed");
	if (fd >= 0)
		close(fd);
	close(open(at("file"), O_CREAT | O_WRONLY, 0600));
	why = NULL;
	ok(ds_dir_open(at("file"), 1, &why) == -1 && errno == EPERM &&
	    strcmp(why, "not a directory") == 0, "a file is refused");
	ok(ds_dir_open(at("a/../a"), 1, &why) == -1,
	    "a path with .. is refused");
}

static void
messages(void)
{
	char err[600], want[600];
	int fd;

	mkdir(at("pp"), 0700);
	chmod(at("pp"), 0777);
	ok(ds_dir_open_msg(at("pp/sub"), 1, err, sizeof(err)) == -1 &&
	    errno == EPERM, "a shared parent is refused");
	snprintf(want, sizeof(want), "%s: writable by group or others",
	    at("pp"));
	ok(strcmp(err, want) == 0, "the message names the parent: %s", err);
	ok(ds_dir_open_msg(at("pp"), 1, err, sizeof(err)) == -1 &&
	    strcmp(err, "writable by group or others") == 0,
	    "the directory itself: only the reason: %s", err);
	ok(ds_dir_open_msg(at("pp/"), 1, err, sizeof(err)) == -1 &&
	    strcmp(err, "writable by group or others") == 0,
	    "a trailing slash too: %s", err);
	ok(ds_dir_open_msg(at("nothere"), 0, err, sizeof(err)) == -1 &&
	    errno == ENOENT && strcmp(err, "open: No such file or directory")
	    == 0, "a failed call: its name and the system's text: %s", err);
	close(open(at("plain"), O_CREAT | O_WRONLY, 0600));
	ok(ds_dir_open_msg(at("plain/sub"), 1, err, sizeof(err)) == -1 &&
	    strstr(err, "plain: not a directory") != NULL,
	    "a file as a parent: %s", err);
	fd = ds_dir_open_msg(at("m/n"), 1, err, sizeof(err));
	ok(fd >= 0, "success: the fd");
	close(fd);
}

static void
files(void)
{
	const char *why;
	char buf[64];
	struct stat st;
	int d, fd;

	d = ds_dir_open(at("f"), 1, &why);
	ok(d >= 0, "a directory for files");
	close(open(at("victim"), O_CREAT | O_WRONLY, 0600));
	symlink(at("victim"), at("f/log"));
	ok(ds_dir_openat(d, "log", O_WRONLY | O_CREAT | O_APPEND) == -1 &&
	    errno == ELOOP, "a file is not opened through a link");
	mkfifo(at("f/fifo"), 0600);
	ok(ds_dir_openat(d, "fifo", O_WRONLY | O_CREAT) == -1 &&
	    (errno == EINVAL || errno == ENXIO),
	    "a fifo is not a file (and does not block)");
	ok(ds_dir_openat(d, "x/y", O_RDONLY) == -1 && errno == EINVAL,
	    "a name with / is refused");
	fd = ds_dir_openat(d, "new", O_WRONLY | O_CREAT);
	ok(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "a new file is 0600");
	close(fd);

	symlink(at("victim"), at("f/epochs.tmp"));
	ok(ds_dir_replace(d, "epochs", "a 1\n", 4) == 0,
	    "replace removes a planted temporary link");
	ok(stat(at("victim"), &st) == 0 && st.st_size == 0,
	    "and writes nothing through it");
	ok(ds_dir_read(d, "epochs", buf, sizeof(buf)) == 4 &&
	    strcmp(buf, "a 1\n") == 0, "replace then read gives the bytes");
	ok(access(at("f/epochs.tmp"), F_OK) == -1,
	    "no temporary file is left");
	ok(ds_dir_read(d, "log", buf, sizeof(buf)) == -1 && errno == ELOOP,
	    "read does not follow a link");
	ok(ds_dir_read(d, "nothing", buf, sizeof(buf)) == -1 &&
	    errno == ENOENT, "read of a missing file: ENOENT");
	ok(strcmp(ds_dir_strerror(ELOOP), "a symbolic link (not followed)")
	    == 0 && strcmp(ds_dir_strerror(EINVAL), "not a regular file") ==
	    0, "ds_dir_strerror names a link and a non-file");
	close(d);
}

static void
steps(void)
{
	const char *why;
	char buf[64];
	struct stat st;
	int d, fd;

	d = ds_dir_open(at("s"), 1, &why);
	symlink(at("victim"), at("s/log.tmp"));
	fd = ds_dir_begin(d, "log");
	ok(fd >= 0, "begin removes a planted temporary link");
	ok(fd >= 0 && write(fd, "abc", 3) == 3 &&
	    ds_dir_commit(d, "log", fd) == 0, "commit");
	ok(stat(at("victim"), &st) == 0 && st.st_size == 0,
	    "nothing went through the link");
	ok(ds_dir_read(d, "log", buf, sizeof(buf)) == 3 &&
	    strcmp(buf, "abc") == 0 && access(at("s/log.tmp"), F_OK) == -1,
	    "the file replaced, no temporary left");
	fd = ds_dir_begin(d, "log");
	ok(fd >= 0 && ds_dir_begin(d, "log") >= 0,
	    "begin again removes a stale temporary file");
	ds_dir_abort(d, "log", fd);
	ok(access(at("s/log.tmp"), F_OK) == -1 &&
	    ds_dir_read(d, "log", buf, sizeof(buf)) == 3,
	    "abort removes the temporary file and keeps the old one");
	symlink(at("victim"), at("s/ln"));
	ok(ds_dir_replace(d, "ln", "x", 1) == 0 &&
	    lstat(at("s/ln"), &st) == 0 && S_ISREG(st.st_mode) &&
	    stat(at("victim"), &st) == 0 && st.st_size == 0,
	    "replace replaces a link at the name, never writes through it");
	close(d);
}

static void
masks(void)
{
	struct stat st;
	int fd;

	ok(ds_dir_umask_caller() == 022, "the caller's umask before");
	ok(ds_dir_umask() == 022, "ds_dir_umask returns the caller's");
	fd = open(at("masked"), O_CREAT | O_WRONLY, 0666);
	ok(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "a file created after it is private");
	close(fd);
	ok(ds_dir_umask() == 022 && ds_dir_umask_caller() == 022,
	    "the caller's is remembered");
	umask(022);
}

int
main(void)
{
	char tmpl[] = "/tmp/ds-dir-XXXXXX";
	char real[PATH_MAX];

	umask(022);
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, real) == NULL ||
	    strlen(real) >= sizeof(top))
		return 99;
	memcpy(top, real, strlen(real) + 1);
	dirs();
	messages();
	files();
	steps();
	masks();
	if (fork() == 0) {
		execlp("rm", "rm", "-rf", top, (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	return done();
}
