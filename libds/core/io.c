/*
 * io.c: write loop.  Used for frames on pipes, where the pipe buffer is the
 * back-pressure: a slow reader blocks the writer here.
 */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/io.h"
#include "core/tuple.h"

#define PIPE_SIZE	(1024 * 1024)	/* Linux's default pipe-max-size */

static int	stdin_flags = -1;	/* to restore at exit */

int
ds_write_end(int fd, const struct ds_end *e)
{
	unsigned char f[DS_END_FRAME];

	ds_end_pack(f, e);
	return ds_write_all(fd, f, sizeof(f));
}

int
ds_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	struct pollfd pfd;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, -1);
			continue;
		}
		return -1;
	}
	return 0;
}

/*
 * Grow a pipe on fd to PIPE_SIZE: with the default 64 KiB, a big write
 * wakes the reader again and again and each hop costs two context
 * switches per 64 KiB.  Not a pipe, or not allowed: nothing changes.
 */
void
ds_grow_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
#else
	(void)fd;
#endif
}

static void
restore_stdin(void)
{
	if (stdin_flags != -1)
		(void)fcntl(0, F_SETFL, stdin_flags);
}

int
ds_stdin_nonblock(void)
{
	struct stat sb;

	if (stdin_flags != -1)
		return 1;
	if (fstat(0, &sb) == -1 || (!S_ISFIFO(sb.st_mode) &&
	    !S_ISSOCK(sb.st_mode)) || (stdin_flags = fcntl(0, F_GETFL)) == -1)
		return 0;
	if (atexit(restore_stdin) != 0 ||
	    fcntl(0, F_SETFL, stdin_flags | O_NONBLOCK) == -1) {
		stdin_flags = -1;
		return 0;
	}
	return 1;
}
