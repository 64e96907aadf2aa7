/*
 * key.c: job key files (key.h).
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "core/io.h"
#include "core/key.h"

static int
fail(int e, const char *what, const char **why)
{
	if (why != NULL)
		*why = what;
	errno = e;
	return -1;
}

int
ds_key_userdir(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/dstream", xdg);
	else
		n = snprintf(buf, cap, "/tmp/dstream-%lu",
		    (unsigned long)getuid());
	if (n < 0 || (size_t)n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
ds_key_default(char *buf, size_t cap)
{
	size_t n;

	if (ds_key_userdir(buf, cap) == -1 || (n = strlen(buf)) + 5 > cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf + n, "/key", 5);
	return 0;
}

static int
random_key(unsigned char key[DS_KEY_LEN])
{
	ssize_t n;

	while ((n = getrandom(key, DS_KEY_LEN, 0)) == -1 && errno == EINTR)
		;
	if (n != DS_KEY_LEN) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

int
ds_key_make(int dirfd, const char *name, unsigned char key[DS_KEY_LEN])
{
	if (random_key(key) == -1)
		return -1;
	return ds_dir_replace(dirfd, name, key, DS_KEY_LEN);
}

/* Make dirfd/name unless it exists: written under a temporary name,
 * then linked (link never replaces). */
static int
create(int dirfd, const char *name)
{
	unsigned char key[DS_KEY_LEN];
	char tmp[NAME_MAX + 1];
	int fd, rc, e;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", name, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (random_key(key) == -1)
		return -1;
	(void)unlinkat(dirfd, tmp, 0);
	if ((fd = ds_dir_openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL)) ==
	    -1)
		return -1;
	rc = ds_write_all(fd, key, sizeof(key)) == -1 || fsync(fd) == -1 ?
	    -1 : 0;
	e = errno;
	close(fd);
	memset(key, 0, sizeof(key));
	if (rc == 0 && linkat(dirfd, tmp, dirfd, name, 0) == -1 &&
	    errno != EEXIST) {
		rc = -1;
		e = errno;
	}
	(void)unlinkat(dirfd, tmp, 0);
	if (rc == 0)
		rc = ds_dir_sync(dirfd);
	else
		errno = e;
	return rc;
}

int
ds_key_load(const char *path, int create_it, unsigned char key[DS_KEY_LEN],
    const char **why)
{
	const char *base;
	struct stat st;
	ssize_t n;
	int dfd, fd, e;

	if ((dfd = ds_dir_open_parent(path, create_it, &base, why)) == -1)
		return -1;
	fd = ds_dir_openat(dfd, base, O_RDONLY);
	if (fd == -1 && errno == ENOENT && create_it) {
		if (create(dfd, base) == -1) {
			e = errno;
			close(dfd);
			return fail(e, "cannot make it", why);
		}
		fd = ds_dir_openat(dfd, base, O_RDONLY);
	}
	e = errno;
	close(dfd);
	if (fd == -1)
		return fail(e, e == ELOOP ? "a symbolic link" : e == EINVAL ?
		    "not a regular file" : "open", why);
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		return fail(e, "fstat", why);
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return fail(EPERM, "owned by another user", why);
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return fail(EPERM, "readable or writable by group or others",
		    why);
	}
	if (st.st_size != DS_KEY_LEN) {
		close(fd);
		return fail(EINVAL, "not 32 bytes", why);
	}
	while ((n = read(fd, key, DS_KEY_LEN)) == -1 && errno == EINTR)
		;
	e = errno;
	close(fd);
	if (n != DS_KEY_LEN)
		return fail(n == -1 ? e : EIO, "read", why);
	return 0;
}
