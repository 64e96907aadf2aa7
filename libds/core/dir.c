/*
 * dir.c: private directories, files in them without following links, and
 * the process umask that keeps new files and sockets private (dir.h).
 * The umask is process state: ds_dir_umask is called once, first thing
 * in main.
 */
#define _DEFAULT_SOURCE	/* S_ISVTX */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "core/io.h"

/* What went wrong in ds_dir_open, and where. */
struct why {
	const char	*what;		/* a reason, or the failed call */
	int		 sys;		/* what names a system call */
	size_t		 at;		/* path's prefix at fault, in bytes */
};

static int
fail(int fd, int e, const char *what, struct why *w)
{
	if (fd >= 0 && fd != AT_FDCWD)
		close(fd);
	w->what = what;
	w->sys = 0;
	errno = e;
	return -1;
}

/* A system call failed: errno is its own. */
static int
failsys(int fd, const char *call, struct why *w)
{
	int e = errno;

	fail(fd, e, call, w);
	w->sys = 1;
	return -1;
}

/* A parent on the way down: ours or root's, shared only if sticky. */
static const char *
parent_bad(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return "owned by another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st->st_mode & S_ISVTX) == 0)
		return "writable by group or others";
	return NULL;
}

static const char *
final_bad(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != geteuid())
		return "owned by another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "writable by group or others";
	return NULL;
}

/*
 * Open component name below at: a real directory, or, where allowed, a
 * link owned by root or us.  Created 0700 if missing and create.
 */
static int
step(int at, const char *name, int create, int last, struct why *why)
{
	struct stat st;
	int fd, made = 0;

	for (;;) {
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == ENOENT && create) {
			if (mkdirat(at, name, 0700) == -1 && errno != EEXIST)
				return failsys(-1, "mkdir", why);
			made = 1;
			continue;
		}
		if (errno != ELOOP && errno != ENOTDIR)
			return failsys(-1, "open", why);
		if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return failsys(-1, "lstat", why);
		if (!S_ISLNK(st.st_mode))
			return fail(-1, EPERM, "not a directory", why);
		if (last)
			return fail(-1, EPERM, "a symbolic link", why);
		if (st.st_uid != geteuid() && st.st_uid != 0)
			return fail(-1, EPERM,
			    "a symbolic link owned by another user", why);
		if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			return failsys(-1, "open", why);
		break;
	}
	if (fstat(fd, &st) == -1)
		return failsys(fd, "fstat", why);
	if (made && last && (st.st_mode & 07777) != 0700 &&
	    fchmod(fd, 0700) == -1)
		return failsys(fd, "chmod", why);
	{
		const char *bad = last ? final_bad(&st) : parent_bad(&st);

		if (bad != NULL)
			return fail(fd, EPERM, bad, why);
	}
	return fd;
}

static int
dir_open(const char *path, int create, struct why *why)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *q;
	int at, fd;
	size_t n;

	why->at = 0;
	if (path == NULL || *path == '\0')
		return fail(-1, ENOENT, "empty path", why);
	if (*p == '/') {
		why->at = 1;
		if ((at = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			return failsys(-1, "open", why);
	} else
		at = AT_FDCWD;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != '/'; q++)
			;
		why->at = (size_t)(q - path);
		if ((n = (size_t)(q - p)) > NAME_MAX)
			return fail(at, ENAMETOOLONG, "name too long", why);
		memcpy(comp, p, n);
		comp[n] = '\0';
		p = q;
		while (*q == '/')
			q++;
		if (strcmp(comp, ".") == 0 && *q != '\0')
			continue;
		if (strcmp(comp, "..") == 0)
			return fail(at, EPERM, "a path with ..", why);
		fd = step(at, comp, create, *q == '\0', why);
		if (at != AT_FDCWD)
			close(at);
		if (fd == -1)
			return -1;
		at = fd;
	}
	if (at == AT_FDCWD)
		return fail(-1, EINVAL, "empty path", why);
	return at;
}

int
ds_dir_open(const char *path, int create, const char **why)
{
	struct why w;
	int fd;

	if ((fd = dir_open(path, create, &w)) == -1 && why != NULL)
		*why = w.what;
	return fd;
}

int
ds_dir_open_parent(const char *path, int create, const char **name,
    const char **why)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;

	*name = slash != NULL ? slash + 1 : path;
	if (**name == '\0') {
		if (why != NULL)
			*why = "no file name";
		errno = EINVAL;
		return -1;
	}
	if (slash == NULL)
		return ds_dir_open(".", create, why);
	if ((n = (size_t)(slash - path)) >= sizeof(dir)) {
		if (why != NULL)
			*why = "path too long";
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return ds_dir_open(n == 0 ? "/" : dir, create, why);
}

int
ds_dir_open_msg(const char *path, int create, char *err, size_t errlen)
{
	struct why w;
	size_t len;
	int fd, e;

	if ((fd = dir_open(path, create, &w)) != -1)
		return fd;
	e = errno;
	len = path == NULL ? 0 : strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (w.at > 0 && w.at < len)
		snprintf(err, errlen, "%.*s: %s%s%s", (int)w.at, path, w.what,
		    w.sys ? ": " : "", w.sys ? strerror(e) : "");
	else
		snprintf(err, errlen, "%s%s%s", w.what, w.sys ? ": " : "",
		    w.sys ? strerror(e) : "");
	errno = e;
	return -1;
}

int
ds_dir_openat(int dirfd, const char *name, int flags)
{
	struct stat st;
	int fd, e;

	if (strchr(name, '/') != NULL || *name == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK, 0600)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if ((flags & O_NONBLOCK) == 0 &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
ds_dir_sync(int dirfd)
{
	return fsync(dirfd);
}

/* name.tmp in tmp; -1 (ENAMETOOLONG) if it does not fit. */
static int
tmpname(char tmp[NAME_MAX + 1], const char *name)
{
	if (snprintf(tmp, NAME_MAX + 1, "%s.tmp", name) >= NAME_MAX + 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
ds_dir_begin(int dirfd, const char *name)
{
	char tmp[NAME_MAX + 1];

	if (tmpname(tmp, name) == -1)
		return -1;
	if (unlinkat(dirfd, tmp, 0) == -1 && errno != ENOENT)
		return -1;
	return ds_dir_openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL);
}

void
ds_dir_abort(int dirfd, const char *name, int fd)
{
	char tmp[NAME_MAX + 1];
	int e = errno;

	if (fd >= 0)
		close(fd);
	if (tmpname(tmp, name) == 0)
		(void)unlinkat(dirfd, tmp, 0);
	errno = e;
}

int
ds_dir_commit(int dirfd, const char *name, int fd)
{
	char tmp[NAME_MAX + 1];

	if (tmpname(tmp, name) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1)
		goto fail;
	return fsync(dirfd);
fail:
	ds_dir_abort(dirfd, name, fd);
	return -1;
}

int
ds_dir_replace(int dirfd, const char *name, const void *p, size_t len)
{
	int fd;

	if ((fd = ds_dir_begin(dirfd, name)) == -1)
		return -1;
	if (ds_write_all(fd, p, len) == -1) {
		ds_dir_abort(dirfd, name, fd);
		return -1;
	}
	return ds_dir_commit(dirfd, name, fd);
}

long
ds_dir_read(int dirfd, const char *name, char *p, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int fd, e;

	if (cap == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = ds_dir_openat(dirfd, name, O_RDONLY)) == -1)
		return -1;
	while (n < cap - 1) {
		r = read(fd, p + n, cap - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	return (long)n;
}

const char *
ds_dir_strerror(int e)
{
	if (e == ELOOP)
		return "a symbolic link (not followed)";
	if (e == EINVAL)
		return "not a regular file";
	return strerror(e);
}

static mode_t caller_mask;
static int masked;

mode_t
ds_dir_umask(void)
{
	if (!masked) {
		caller_mask = umask(077);
		masked = 1;
	}
	return caller_mask;
}

mode_t
ds_dir_umask_caller(void)
{
	mode_t m;

	if (masked)
		return caller_mask;
	m = umask(077);
	(void)umask(m);
	return m;
}
