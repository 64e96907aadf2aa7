/*
 * dir.c: unit test for libds/core/dir.  A private directory is created
 * 0700 with its parents; an existing one that is a symbolic link, group
 * or world writable, or not a directory is refused with a reason; a
 * shared parent needs the sticky bit; files are never opened through a
 * link or as anything but a regular file; a replace leaves no temporary
 * file and does not write through a planted one.
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
	close(d);
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
	files();
	if (fork() == 0) {
		execlp("rm", "rm", "-rf", top, (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	return done();
}
