/*
 * t/unit/jclient.c: the ds-journal client (libds/jclient.c) against a
 * real bin/ds-journal started in a temporary directory: asynchronous
 * units complete in order and share group commits, recovery reads them
 * back in small replies, a raised epoch fences the old writer, and a
 * stopped journal makes units LOST at the timeout.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "tap.h"
#include "ds.h"
#include "core/dir.h"
#include "core/key.h"
#include "net/jclient.h"
#include "net/pull.h"
#include "core/msg.h"
#include "store/slog.h"

static char dir[128], addr[192];
static pid_t jpid = -1;
static uint32_t got[64];
static int ngot;

static int
start_journal(void)
{
	unsigned char key[DS_KEY_LEN];
	char keyf[300];
	int fd[2], dfd;
	char c;

	snprintf(keyf, sizeof(keyf), "%s/key", dir);
	if ((dfd = ds_dir_open(dir, 0, NULL)) == -1 ||
	    ds_key_make(dfd, "key", key) == -1 || ds_pull_setkey(key) == -1)
		return -1;
	close(dfd);

	if (pipe(fd) == -1)
		return -1;
	if ((jpid = fork()) == -1)
		return -1;
	if (jpid == 0) {
		close(fd[0]);
		if (fd[1] != 3) {
			dup2(fd[1], 3);
			close(fd[1]);
		}
		execl("./bin/ds-journal", "ds-journal", "--dir", dir, "--listen",
		    addr, "--min-free", "0", "--notify-fd", "3", "--key", keyf,
		    (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	/* EOF without a newline: it died. */
	if (read(fd[0], &c, 1) != 1) {
		close(fd[0]);
		return -1;
	}
	close(fd[0]);
	return 0;
}

static void
stop_journal(void)
{
	if (jpid > 0) {
		kill(jpid, SIGKILL);
		waitpid(jpid, NULL, 0);
		jpid = -1;
	}
}

static void
done_cb(void *arg, uint32_t status, uint32_t epoch)
{
	(void)epoch;
	if (ngot < 64)
		got[ngot++] = status | (uint32_t)(uintptr_t)arg << 8;
}

static int want;
static void
count_cb(void *arg, uint32_t status, uint32_t epoch)
{
	done_cb(arg, status, epoch);
	if (ngot >= want)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void
timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Run the loop until want completions or secs seconds. */
static void
run_until(int n, double secs)
{
	ev_timer t;

	want = n;
	ev_timer_init(&t, timeout_cb, secs, 0);
	ev_timer_start(EV_DEFAULT, &t);
	if (ngot < want)
		ev_run(EV_DEFAULT, 0);
	ev_timer_stop(EV_DEFAULT, &t);
}

static void
unit(struct ds_buf *b, const char *k, const char *v, uint64_t m)
{
	unsigned char h[28];
	struct ds_buf p = DS_BUF_INIT;

	ds_buf_reset(b);
	ds_put_le32(h, (uint32_t)strlen(k));
	ds_buf_add(&p, h, 4);
	ds_buf_add(&p, k, strlen(k));
	ds_put_le32(h, (uint32_t)strlen(v));
	ds_buf_add(&p, h, 4);
	ds_buf_add(&p, v, strlen(v));
	ds_frame_append(b, DS_FRAME_DELTA, 0, p.p, p.len);
	ds_frame_append(b, DS_FRAME_BUNDLE, 0, v, strlen(v));
	memset(h, 0, sizeof(h));
	ds_put_le64(h, m);
	ds_frame_append(b, DS_FRAME_MARK, 0, h, 28);
	ds_buf_free(&p);
}

int
main(void)
{
	struct ds_jclient *c;
	struct ds_jread r;
	struct ds_frame f;
	struct ds_buf b = DS_BUF_INIT;
	char cmd[400], k[16], v[16];
	int i, inorder, ndelta, nout, nmark, rc;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/ds-jclient-unit.%d", (int)getpid());
	snprintf(addr, sizeof(addr), "ipc://%s/sock", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (system(cmd) != 0 || start_journal() == -1) {
		ok(0, "start ds-journal (run from the top of the tree)");
		return done();
	}
	ok(1, "ds-journal started");

	c = ds_jclient_open(EV_DEFAULT, addr, 42, 1, 5.0);
	ok(c != NULL, "open a client");
	for (i = 1; i <= 20; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "v%d", i);
		unit(&b, k, v, (uint64_t)i);
		if (ds_jclient_write(c, b.p, b.len, 3, count_cb,
		    (void *)(uintptr_t)i) == -1)
			break;
	}
	ok(i == 21 && ds_jclient_pending(c) == 20 && ngot == 0,
	    "20 units queued, no callback from inside write");
	run_until(20, 10);
	inorder = ngot == 20;
	for (i = 0; i < ngot; i++)
		if ((got[i] & 0xff) != DS_J_OK || got[i] >> 8 != (uint32_t)i + 1)
			inorder = 0;
	ok(inorder, "20 units durable, callbacks in order (%d)", ngot);
	ok(ds_jclient_pending(c) == 0, "nothing pending");

	/* Recovery in small replies raises the epoch to 2. */
	rc = ds_jread_open(&r, addr, 42, 2, 5.0);
	ok(rc == 0, "jread open");
	r.max_bytes = 100;
	ndelta = nout = nmark = 0;
	while (rc == 0 && (i = ds_jread_next(&r, &f)) == 1) {
		ndelta += f.type == DS_FRAME_DELTA;
		nout += f.type == DS_FRAME_BUNDLE;
		nmark += f.type == DS_FRAME_MARK &&
		    ds_get_le64(f.payload) == 20;
	}
	ok(rc == 0 && i == 0 && ndelta == 20 && nout == 20 && nmark == 1,
	    "recovery: 20 keys, mark 20, 20 unacked outputs");
	ds_jread_close(&r);
	ok(ds_jread_open(&r, addr, 42, 1, 5.0) == -1 && errno == EPERM &&
	    r.epoch == 2, "an older reader is fenced");
	ds_jread_close(&r);

	/* The old writer (epoch 1) is fenced now. */
	ngot = 0;
	unit(&b, "x", "y", 21);
	ds_jclient_write(c, b.p, b.len, 3, count_cb, (void *)(uintptr_t)1);
	run_until(1, 10);
	ok(ngot == 1 && (got[0] & 0xff) == DS_J_FENCED, "epoch 1 fenced");
	ds_jclient_close(c);

	/* A stopped journal: LOST at the timeout. */
	c = ds_jclient_open(EV_DEFAULT, addr, 43, 1, 0.3);
	kill(jpid, SIGSTOP);
	ngot = 0;
	ds_jclient_write(c, b.p, b.len, 3, count_cb, (void *)(uintptr_t)1);
	run_until(1, 10);
	ok(ngot == 1 && (got[0] & 0xff) == DS_JCLIENT_LOST,
	    "no answer: LOST");
	ds_jclient_close(c);
	kill(jpid, SIGCONT);

	stop_journal();
	ds_buf_free(&b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
	return done();
}
