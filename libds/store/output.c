/*
 * output.c: ds-sink's output (output.h).  The file descriptor is opened
 * and closed here for a --file; standard output is only written.  A
 * failed write leaves the rendered bytes in place and the size as it
 * was: the caller stops.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "core/exit.h"
#include "core/io.h"
#include "store/output.h"

static int
fail(struct ds_output *o, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ds_output *o, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->err, sizeof(o->err), fmt, ap);
	va_end(ap);
	o->code = code;
	return -1;
}

static int
failsys(struct ds_output *o, const char *what)
{
	return fail(o, DS_EX_IOERR, "unable to %s %s: %s", what, o->name,
	    errno == ELOOP ? "a symbolic link (not followed)" :
	    strerror(errno));
}

int
ds_output_init(struct ds_output *o, const char *format, const char **why)
{
	memset(o, 0, sizeof(*o));
	o->fd = STDOUT_FILENO;
	o->name = "stdout";
	return ds_linefmt_compile(&o->fmt, format, why);
}

/*
 * A link at path (ELOOP) may still name a device, a fifo or a socket
 * (/dev/stdout, /dev/null), which no write can clobber: open those
 * through it, without O_CREAT or O_TRUNC; a link to a file stays ELOOP.
 */
static int
open_special(const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || S_ISREG(st.st_mode) ||
	    S_ISDIR(st.st_mode) || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) &
	    ~O_NONBLOCK) == -1) {
		close(fd);
		errno = ELOOP;
		return -1;
	}
	return fd;
}

/*
 * The file is the user's, wherever they put it, but a regular file is
 * never reached through a symbolic link (O_NOFOLLOW: ELOOP); a link to a
 * device, fifo or socket is followed (open_special).  A new one is 0666
 * less the caller's umask: ours is 077 (core/dir.h).
 */
int
ds_output_file(struct ds_output *o, const char *path, int append)
{
	int flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC |
	    (append ? O_APPEND : O_TRUNC);
	struct stat st;

	o->name = path;
	for (;;) {
		if ((o->fd = open(path, flags | O_CREAT | O_EXCL, 0666)) != -1) {
			if (fchmod(o->fd, 0666 & ~ds_dir_umask_caller()) == -1)
				return failsys(o, "chmod");
			break;
		}
		if (errno == ELOOP && (o->fd = open_special(path)) != -1)
			break;
		if (errno != EEXIST)
			return failsys(o, "open");
		if ((o->fd = open(path, flags)) != -1)
			break;
		if (errno == ELOOP && (o->fd = open_special(path)) != -1)
			break;
		if (errno != ENOENT)
			return failsys(o, "open");
	}
	if (fstat(o->fd, &st) == -1)
		return failsys(o, "stat");
	o->size = (uint64_t)st.st_size;
	return 0;
}

int
ds_output_tc(struct ds_output *o, const char *path)
{
	o->name = path;
	if ((o->tc = ds_tcstore_open(path, &o->code, o->err,
	    sizeof(o->err))) == NULL)
		return -1;
	return 0;
}

static int
tcfail(struct ds_output *o)
{
	return fail(o, ds_tcstore_code(o->tc), "%s", ds_tcstore_err(o->tc));
}

int
ds_output_bundle(struct ds_output *o, const struct ds_bundle *b)
{
	const struct ds_tuple *t;
	uint32_t i;

	if (o->tc == NULL) {
		for (i = 0; i < b->count; i++)
			if (ds_linefmt_render(&o->fmt, &o->out, b,
			    &b->t[i]) == -1)
				return fail(o, DS_EX_OSERR, "out of memory");
		return 0;
	}
	for (i = 0; i < b->count; i++)
		if (b->t[i].keylen == 0)
			return fail(o, DS_EX_DATAERR, "tuple %llu:%llu has no "
			    "key, and --tc puts key -> payload",
			    (unsigned long long)b->producer,
			    (unsigned long long)b->t[i].seq);
	for (i = 0; i < b->count; i++) {
		t = &b->t[i];
		if (ds_tcstore_put(o->tc, t->key, t->keylen, t->payload,
		    t->paylen) == -1)
			return tcfail(o);
		o->tcbytes += t->keylen + t->paylen;
	}
	return 0;
}

uint64_t
ds_output_waiting(const struct ds_output *o)
{
	return o->out.len + o->tcbytes;
}

int
ds_output_flush(struct ds_output *o)
{
	if (o->out.len == 0)
		return 0;
	if (ds_write_all(o->fd, o->out.p, o->out.len) == -1)
		return failsys(o, "write");
	o->size += o->out.len;
	o->out.len = 0;
	return 0;
}

int
ds_output_commit(struct ds_output *o, int sync)
{
	if (o->tc != NULL) {
		if (ds_tcstore_commit(o->tc, sync) == -1)
			return tcfail(o);
		o->tcbytes = 0;
		return 0;
	}
	if (ds_output_flush(o) == -1)
		return -1;
	/* Not every fd can be synced (a pipe, a terminal): fine then. */
	if (sync && fdatasync(o->fd) == -1 && errno != EINVAL &&
	    errno != EROFS)
		return failsys(o, "sync");
	return 0;
}

int
ds_output_cut(struct ds_output *o, uint64_t len, uint64_t *cut)
{
	struct stat st;

	*cut = 0;
	if (fstat(o->fd, &st) == -1)
		return failsys(o, "stat");
	if ((uint64_t)st.st_size < len)
		return fail(o, DS_EX_DATAERR, "%s: %llu bytes, shorter than "
		    "the %llu the journal says were written: it was changed "
		    "behind our back", o->name, (unsigned long long)st.st_size,
		    (unsigned long long)len);
	o->size = len;
	if ((uint64_t)st.st_size == len)
		return 0;
	if (ftruncate(o->fd, (off_t)len) == -1)
		return failsys(o, "truncate");
	*cut = (uint64_t)st.st_size - len;
	return 0;
}

int
ds_output_close(struct ds_output *o, uint64_t *records)
{
	char err[512];
	int rc;

	*records = 0;
	rc = ds_output_commit(o, o->tc != NULL);
	if (o->tc != NULL) {
		*records = ds_tcstore_count(o->tc);
		if (ds_tcstore_close(o->tc, err, sizeof(err)) == -1 &&
		    rc == 0)
			rc = fail(o, DS_EX_IOERR, "%s", err);
		o->tc = NULL;
	}
	if (close(o->fd) == -1 && rc == 0)
		rc = failsys(o, "close");
	ds_linefmt_free(&o->fmt);
	ds_buf_free(&o->out);
	return rc;
}
