/*
 * procs.c: an earlier ds-master of this run directory that was killed
 * left its children running until their leases end.  Before starting
 * ours, find them in /proc (by "--master ipc://RUN/master" in their argv)
 * and wait until they are gone or their leases must have ended: they may
 * still write (a sink its file, a journal its lock).  Never signals them:
 * they are not ours.
 */
#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"

#define OLD_POLL_S	0.05	/* check for an earlier run's processes */

/*
 * Processes still holding a lease from an earlier ds-master of this run
 * directory (killed before it could stop them): those whose argv has
 * "--master ipc://RUN/master", found in /proc.  Their number; the first
 * pids go in pids.  Called before we start any child of our own.
 */
static size_t
old_procs(pid_t *pids, size_t max)
{
	struct ds_buf b = DS_BUF_INIT;
	char path[64], chunk[4096];
	struct dirent *de;
	const char *a, *end;
	size_t n = 0, alen = strlen(M.addr);
	ssize_t r;
	pid_t pid;
	DIR *d;
	int fd;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)atol(de->d_name)) <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		/* A router's argv can be long: read all of it. */
		ds_buf_reset(&b);
		while ((r = read(fd, chunk, sizeof(chunk))) > 0)
			if (ds_buf_add(&b, chunk, (size_t)r) == -1)
				nomem();
		close(fd);
		if (b.len == 0)
			continue;
		if (ds_buf_addc(&b, '\0') == -1)
			nomem();
		end = (const char *)b.p + b.len - 1;
		for (a = (const char *)b.p; a < end; a += strlen(a) + 1)
			if (strcmp(a, "--master") == 0 &&
			    a + 9 + alen <= end && strcmp(a + 9, M.addr) == 0)
				break;
		if (a >= end)
			continue;
		if (n < max)
			pids[n] = pid;
		n++;
	}
	closedir(d);
	ds_buf_free(&b);
	return n;
}

/*
 * Wait until the processes of an earlier ds-master of this run directory
 * are gone: their leases end within a keepalive of its death, sooner once
 * they reach us and are fenced.  Until then they may still write (a sink
 * its file, a journal its lock): starting ours next to them is not safe.
 */
void
procs_wait_cb(EV_P_ ev_timer *w, int revents)
{
	pid_t pids[8];
	size_t n, i;
	char list[128];
	int off = 0;

	(void)revents;
	n = old_procs(pids, 8);
	if (n > 0 && ev_now(EV_A) < M.old_until) {
		if (w->repeat == 0) {
			for (i = 0; i < n && i < 8; i++)
				off += snprintf(list + off, sizeof(list) - off,
				    "%s%ld", i ? "," : "", (long)pids[i]);
			ds_warn("processes of an earlier ds-master still hold "
			    "leases from %s (%zu: pid %s%s): waiting up to "
			    "%.0f s for them to stop", M.addr, n, list,
			    n > 8 ? ",..." : "", M.old_until - ev_now(EV_A));
			w->repeat = OLD_POLL_S;
			ev_timer_again(EV_A_ w);
		}
		return;
	}
	ev_timer_stop(EV_A_ w);
	if (n > 0)
		ds_warn("processes of an earlier ds-master still hold leases "
		    "from %s (%zu): starting anyway (their epochs are fenced)",
		    M.addr, n);
	else if (w->repeat != 0)
		ds_info("the earlier ds-master's processes are gone");
	sup_start();
}
