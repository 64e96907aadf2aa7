/*
 * tcfile.c: Tokyo Cabinet's file, never through a link (tcfile.h).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "core/dir.h"
#include "store/tcfile.h"

/* dirfd/name is missing (0) or a regular file (1); else -1. */
static int
plain(int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (S_ISREG(st->st_mode))
		return 1;
	errno = S_ISLNK(st->st_mode) ? ELOOP : EINVAL;
	return -1;
}

int
ds_tcfile_check(int dirfd, const char *name, mode_t mode, struct stat *st,
    int *wal)
{
	char wname[NAME_MAX + 1];
	int fd, e;

	*wal = 1;
	if (snprintf(wname, sizeof(wname), "%s.wal", name) >=
	    (int)sizeof(wname)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (plain(dirfd, wname, st) == -1)
		return -1;
	*wal = 0;
	if ((fd = ds_dir_openat(dirfd, name, O_RDONLY)) == -1 &&
	    errno == ENOENT) {
		fd = ds_dir_openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL);
		if (fd != -1 && fchmod(fd, mode) == -1)
			goto fail;
	}
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1)
		goto fail;
	/* Closed before TC opens it: closing any fd drops TC's lock. */
	return close(fd);
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
ds_tcfile_same(TCHDB *db, int dirfd, const char *name, const struct stat *st)
{
	struct stat now;

	if (tchdbinode(db) != (uint64_t)st->st_ino ||
	    plain(dirfd, name, &now) != 1 || now.st_ino != st->st_ino ||
	    now.st_dev != st->st_dev) {
		errno = ELOOP;
		return -1;
	}
	return 0;
}
