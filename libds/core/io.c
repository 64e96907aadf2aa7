/*
 * io.c: write loop.  Used for frames on pipes, where the pipe buffer is the
 * back-pressure: a slow reader blocks the writer here.
 */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "core/io.h"

#define PIPE_SIZE	(1024 * 1024)	/* Linux's default pipe-max-size */

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
