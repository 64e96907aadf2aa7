/*
 * notify.c: readiness without libsystemd.  Errors are returned, never
 * printed: a supervisor that went away must not kill the process.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/notify.h"

int
ds_notify_send(const char *msg)
{
	struct sockaddr_un sa;
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;
	int fd, rc;

	if (path == NULL || *path == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == -1 ?
	    -1 : 0;
	close(fd);
	return rc;
}

int
ds_notify_ready(struct ds_common *co, const char *status)
{
	char msg[512];
	int rc = 0;

	if (co->notify_fd >= 0) {
		if (write(co->notify_fd, "\n", 1) != 1)
			rc = -1;
		close(co->notify_fd);
		co->notify_fd = -1;
	}
	snprintf(msg, sizeof(msg), "READY=1%s%s", status ? "\nSTATUS=" : "",
	    status ? status : "");
	if (ds_notify_send(msg) == -1)
		rc = -1;
	return rc;
}

void
ds_notify_forget(void)
{
	unsetenv("NOTIFY_SOCKET");
}
