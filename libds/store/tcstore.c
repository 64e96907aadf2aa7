/*
 * tcstore.c: ds-sink --tc's keyed store (tcstore.h).  Invariants: every
 * put happens inside a Tokyo Cabinet transaction, so a process killed
 * mid-put leaves the database as of the last commit (TC rolls PATH.wal
 * back at the next open); nothing is written while the file system has
 * less than DS_TCSTORE_MINFREE free; the memory map never reaches past
 * the bucket array, so a full disk is an error, not SIGBUS.  After a
 * failure the store refuses everything but close.  The database (and
 * its .wal) is never opened through a symbolic link (store/tcfile.h).
 * Never prints, never exits.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tcutil.h>
#include <tchdb.h>

#include "core/dir.h"
#include "core/exit.h"
#include "store/tcfile.h"
#include "store/tcstore.h"

#define BNUM	262139		/* buckets: 2 MiB of 64-bit offsets */

struct ds_tcstore {
	TCHDB		*db;
	char		*path;
	char		*dir;		/* for statvfs */
	int		 open;		/* db is open */
	int		 tran;		/* a transaction is open */
	int		 failed;
	uint64_t	 since;		/* bytes put since the last check */
	int		 code;
	char		 err[512];
};

static int
fail(struct ds_tcstore *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ds_tcstore *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->code = code;
	s->failed = 1;
	return -1;
}

/* A failed TC call: what (e.g. "write") failed, TC's message and errno. */
static int
tcfail(struct ds_tcstore *s, const char *what, int eno)
{
	int ec = tchdbecode(s->db);

	if (eno != 0 && (ec == TCEOPEN || ec == TCEWRITE || ec == TCESYNC ||
	    ec == TCETRUNC || ec == TCEMMAP || ec == TCECLOSE))
		return fail(s, DS_EX_IOERR, "unable to %s %s: %s: %s", what,
		    s->path, tchdberrmsg(ec), strerror(eno));
	return fail(s, DS_EX_IOERR, "unable to %s %s: %s", what, s->path,
	    tchdberrmsg(ec));
}

/* 0 if the file system keeps DS_TCSTORE_MINFREE free, else -1 (74). */
static int
room(struct ds_tcstore *s)
{
	struct statvfs sv;
	uint64_t fr;

	s->since = 0;
	if (statvfs(s->dir, &sv) == -1)
		return 0;	/* unknown: TC's own errors still count */
	fr = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (fr >= DS_TCSTORE_MINFREE)
		return 0;
	return fail(s, DS_EX_IOERR, "unable to write %s: only %llu bytes "
	    "free on its file system, under the %u kept free (Tokyo Cabinet "
	    "dies with SIGBUS on a full disk)", s->path,
	    (unsigned long long)fr, DS_TCSTORE_MINFREE);
}

static char *
dir_of(const char *path)
{
	const char *sl = strrchr(path, '/');
	char *d;

	if (sl == NULL)
		return strdup(".");
	if (sl == path)
		return strdup("/");
	if ((d = malloc((size_t)(sl - path) + 1)) == NULL)
		return NULL;
	memcpy(d, path, (size_t)(sl - path));
	d[sl - path] = '\0';
	return d;
}

static const char *
base_of(const char *path)
{
	const char *sl = strrchr(path, '/');

	return sl == NULL ? path : sl + 1;
}

/*
 * The user's directory is not checked (it is theirs), but the database
 * is never opened through a link (store/tcfile.h); a new one is created
 * 0644 less the caller's umask, as Tokyo Cabinet would.  *dirfd is the
 * directory's, for ds_tcfile_same.
 */
static int
check(struct ds_tcstore *s, int *dirfd, struct stat *st)
{
	int wal;

	if ((*dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return fail(s, DS_EX_IOERR, "unable to open %s: %s", s->path,
		    strerror(errno));
	if (ds_tcfile_check(*dirfd, base_of(s->path), 0644 &
	    ~ds_dir_umask_caller(), st, &wal) == -1) {
		fail(s, DS_EX_IOERR, "unable to open %s%s: %s", s->path,
		    wal ? ".wal" : "", ds_dir_strerror(errno));
		close(*dirfd);
		return -1;
	}
	return 0;
}

struct ds_tcstore *
ds_tcstore_open(const char *path, int *code, char *err, size_t errlen)
{
	struct ds_tcstore *s;
	struct stat st;
	int ec, eno, dirfd;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL ||
	    (s->dir = dir_of(path)) == NULL) {
		*code = DS_EX_OSERR;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (room(s) == -1 || check(s, &dirfd, &st) == -1)
		goto fail;
	s->db = tchdbnew();
	/* Only the bucket array is mapped: records use pwrite(2). */
	(void)tchdbtune(s->db, BNUM, -1, -1, HDBTLARGE);
	(void)tchdbsetxmsiz(s->db, 0);
	errno = 0;
	if (tchdbopen(s->db, path, HDBOWRITER | HDBOCREAT | HDBOLCKNB)) {
		s->open = 1;
		if (ds_tcfile_same(s->db, dirfd, base_of(path), &st) == -1) {
			fail(s, DS_EX_IOERR, "unable to open %s: %s", path,
			    ds_dir_strerror(errno));
			close(dirfd);
			goto fail;
		}
		close(dirfd);
		return s;
	}
	eno = errno;
	close(dirfd);
	ec = tchdbecode(s->db);
	if (ec == TCELOCK)
		fail(s, DS_EX_UNAVAILABLE, "unable to open %s: another process "
		    "holds its lock (a stopped process keeps it until it is "
		    "killed)", path);
	else
		tcfail(s, "open", eno);
fail:
	*code = s->code;
	snprintf(err, errlen, "%s", s->err);
out:
	ds_tcstore_close(s, NULL, 0);
	return NULL;
}

int
ds_tcstore_put(struct ds_tcstore *s, const void *key, size_t keylen,
    const void *val, size_t vallen)
{
	if (s->failed)
		return fail(s, s->code, "%s", s->err);
	if (keylen > INT_MAX || vallen > INT_MAX)
		return fail(s, DS_EX_DATAERR, "unable to write %s: a key or "
		    "value over 2 GiB", s->path);
	s->since += keylen + vallen + 32;
	if (s->since >= DS_TCSTORE_CHECK && room(s) == -1)
		return -1;
	errno = 0;
	if (!s->tran) {
		if (!tchdbtranbegin(s->db))
			return tcfail(s, "begin a transaction on", errno);
		s->tran = 1;
	}
	if (!tchdbput(s->db, key, (int)keylen, val, (int)vallen))
		return tcfail(s, "write", errno);
	return 0;
}

int
ds_tcstore_commit(struct ds_tcstore *s, int sync)
{
	if (s->failed)
		return fail(s, s->code, "%s", s->err);
	if (room(s) == -1)
		return -1;
	errno = 0;
	if (s->tran) {
		s->tran = 0;
		if (!tchdbtrancommit(s->db))
			return tcfail(s, "commit to", errno);
	}
	if (sync && !tchdbsync(s->db))
		return tcfail(s, "sync", errno);
	return 0;
}

uint64_t
ds_tcstore_count(const struct ds_tcstore *s)
{
	return tchdbrnum(s->db);
}

const char *
ds_tcstore_err(const struct ds_tcstore *s)
{
	return s->err;
}

int
ds_tcstore_code(const struct ds_tcstore *s)
{
	return s->code;
}

int
ds_tcstore_close(struct ds_tcstore *s, char *err, size_t errlen)
{
	int rc = 0;

	if (s == NULL)
		return 0;
	if (s->db != NULL) {
		errno = 0;
		if (s->tran)
			(void)tchdbtranabort(s->db);
		if (s->open && !tchdbclose(s->db)) {
			rc = tcfail(s, "close", errno);
			if (err != NULL)
				snprintf(err, errlen, "%s", s->err);
		}
		tchdbdel(s->db);
	}
	free(s->path);
	free(s->dir);
	free(s);
	return rc;
}
