/*
 * io.c: write loop.  Used for frames on pipes, where the pipe buffer is the
 * back-pressure: a slow reader blocks the writer here.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "io.h"

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
