/*
 * lease.c: unit test for the heartbeat and lease (libds/lease) against a
 * fake ds-master: a ds_pull_srv in the same process and loop that
 * decodes BEATs and answers a chosen BEATACK status, or nothing.  Every
 * wait is a loop run with a deadline; the one sleep stands for a
 * process stopped with SIGSTOP, during which its loop cannot run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "core/frame.h"
#include "net/lease.h"
#include "core/msg.h"
#include "net/pull.h"
#include "tap.h"

struct master {
	struct ds_pull_srv	*srv;
	int			 silent;	/* answer nothing */
	uint32_t		 status;	/* BEATACK status */
	int			 beats, bad;
	struct ds_beat_msg	 last;
};

static int
m_serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct master *m = arg;
	struct ds_frame f;
	const char *why;
	size_t off = 0;

	if (ds_msg_next(req->msg, req->len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_BEAT ||
	    ds_msg_beat_get(&m->last, f.payload, f.len, &why) == -1) {
		m->bad++;
		return -1;
	}
	m->beats++;
	if (m->silent)
		return -1;
	ds_msg_beatack_put(reply, m->status);
	return 1;
}

static const struct ds_pull_srv_ops m_ops = { m_serve, NULL, NULL };

static struct ev_loop	*loop;
static char		 dir[64], addr[128];
static int		 lost, lost_why;

static void
on_lost(void *arg, int why)
{
	(void)arg;
	lost++;
	lost_why = why;
}

static void
nop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

static int
run_until(const int *flag, int want, double timeout)
{
	ev_timer tick;
	ev_tstamp end;

	ev_timer_init(&tick, nop_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	ev_now_update(loop);
	end = ev_now(loop) + timeout;
	while (*flag < want && ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return *flag >= want;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_beats(struct master *m)
{
	struct ds_lease *l;
	double t0;
	int n;

	lost = 0;
	m->beats = 0;
	m->silent = 0;
	m->status = DS_BEAT_OK;
	t0 = mono();
	l = ds_lease_open(loop, addr, 0x20001, 7, 400, on_lost, NULL);
	ok(l != NULL && ds_lease_valid(l), "open: lease valid at once");
	ok(run_until(&m->beats, 1, 5) && m->last.id == 0x20001 &&
	    m->last.epoch == 7 && m->last.pid == (uint32_t)getpid() &&
	    m->last.state == DS_BEAT_RUNNING && m->last.n == DS_CNT_N,
	    "first beat at once: id, epoch, pid, RUNNING, every counter");
	ds_lease_count(l, DS_CNT_IN, 42);
	ds_lease_count(l, DS_CNT_BYTES_OUT, 1ull << 40);
	ds_lease_count(l, DS_CNT_N, 1);		/* out of range: ignored */
	ok(run_until(&m->beats, 4, 5) && m->last.cnt[DS_CNT_IN] == 42 &&
	    m->last.cnt[DS_CNT_BYTES_OUT] == 1ull << 40,
	    "later beats carry the counters");
	ok(mono() - t0 >= 0.25, "beats every keepalive/4 = 100 ms, not faster"
	    " (4 in %.3f s)", mono() - t0);
	ok(lost == 0 && ds_lease_valid(l), "acked: lease still valid");

	n = m->beats;
	ds_lease_done(l, 0);
	ok(m->beats == n && run_until(&m->beats, n + 1, 1) &&
	    m->last.state == DS_BEAT_DONE, "done: a DONE beat at once");

	/* The master goes silent: the lease ends after about keepalive. */
	m->silent = 1;
	t0 = mono();
	ok(run_until(&lost, 1, 5) && lost_why == DS_LEASE_LOST &&
	    !ds_lease_valid(l), "master silent: on_lost(LOST)");
	ok(mono() - t0 >= 0.2 && mono() - t0 < 2,
	    "... after about a keepalive (%.3f s)", mono() - t0);
	n = m->beats;
	run_until(&lost, 2, 0.3);
	ok(lost == 1 && m->beats == n, "on_lost once, no beats after it");
	ds_lease_close(l);
}

static void
test_status(struct master *m, uint32_t st, int want, const char *name)
{
	struct ds_lease *l;

	lost = 0;
	m->silent = 0;
	m->status = st;
	l = ds_lease_open(loop, addr, 0x20002, 8, 400, on_lost, NULL);
	ok(l != NULL && run_until(&lost, 1, 5) && lost_why == want &&
	    !ds_lease_valid(l), "BEATACK %s: on_lost(%d)", name, want);
	ds_lease_close(l);
}

/* DRAIN is no loss: on_lost(DRAIN) once, the lease lives on. */
static void
test_drain(struct master *m)
{
	struct ds_lease *l;

	lost = 0;
	m->silent = 0;
	m->status = DS_BEAT_DRAIN;
	m->beats = 0;
	l = ds_lease_open(loop, addr, 0x20004, 3, 400, on_lost, NULL);
	ok(l != NULL && run_until(&lost, 1, 5) && lost_why == DS_LEASE_DRAIN,
	    "BEATACK DRAIN: on_lost(DS_LEASE_DRAIN)");
	run_until(&m->beats, 6, 5);
	ok(lost == 1 && ds_lease_valid(l), "DRAIN: told once, the lease "
	    "lives on over more beats (%d calls, %d beats)", lost, m->beats);
	ds_lease_done(l, 1);
	run_until(&m->beats, m->beats + 1, 5);
	ok(m->last.state == DS_BEAT_STOPPED, "done after a drain: a STOPPED "
	    "beat");
	ds_lease_close(l);
}

static void
test_stopped(struct master *m)
{
	struct ds_lease *l;
	struct timespec ts = { 0, 450 * 1000000L };

	lost = 0;
	m->silent = 0;
	m->status = DS_BEAT_OK;
	m->beats = 0;
	l = ds_lease_open(loop, addr, 0x20003, 9, 400, on_lost, NULL);
	run_until(&m->beats, 2, 5);
	ok(ds_lease_valid(l), "valid while beating");
	/* Stand-in for SIGSTOP: the loop does not run for > keepalive. */
	nanosleep(&ts, NULL);
	ok(!ds_lease_valid(l), "after a stop longer than keepalive: invalid"
	    " before any timer ran");
	ok(run_until(&lost, 1, 5) && lost_why == DS_LEASE_LOST,
	    "and on_lost(LOST) once the loop runs");
	ds_lease_close(l);
}

static void
test_nomaster(void)
{
	struct ds_lease *l;
	char none[160];

	lost = 0;
	snprintf(none, sizeof(none), "ipc://%s/none", dir);
	l = ds_lease_open(loop, none, 0x20004, 1, 300, on_lost, NULL);
	ok(l != NULL && ds_lease_valid(l), "no master: open works");
	ok(run_until(&lost, 1, 5) && lost_why == DS_LEASE_LOST,
	    "no master: lease lost");
	ds_lease_close(l);
}

/* A fake master in a second thread with its own loop. */
struct thr {
	struct ev_loop	*loop;
	ev_async	 stop;
	struct master	 m;
	char		 addr[160];
};

static void
thr_stop(struct ev_loop *l, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void *
thr_main(void *arg)
{
	struct thr *h = arg;

	h->m.srv = ds_pull_srv_open(h->loop, h->addr, &m_ops, &h->m);
	ev_async_start(h->loop, &h->stop);
	ev_run(h->loop, 0);
	if (h->m.srv != NULL)
		ds_pull_srv_close(h->m.srv);
	return NULL;
}

static void
test_close_done(void)
{
	struct ds_lease *l;
	struct thr h;
	pthread_t tid;

	memset(&h, 0, sizeof(h));
	snprintf(h.addr, sizeof(h.addr), "ipc://%s/master2", dir);
	h.loop = ev_loop_new(EVFLAG_AUTO);
	ev_async_init(&h.stop, thr_stop);
	lost = 0;
	ok(pthread_create(&tid, NULL, thr_main, &h) == 0, "thread master");
	l = ds_lease_open(loop, h.addr, 0x20005, 2, 10000, on_lost, NULL);
	ds_lease_done(l, 0);
	/* Close waits (bounded) until the DONE beat is acked. */
	ds_lease_close(l);
	ev_async_send(h.loop, &h.stop);
	pthread_join(tid, NULL);
	ev_loop_destroy(h.loop);
	ok(h.m.srv != NULL && h.m.last.state == DS_BEAT_DONE &&
	    h.m.last.id == 0x20005 && lost == 0,
	    "close after done: the master got the DONE beat");
}

int
main(void)
{
	struct master m;
	char path[160];

	static const unsigned char key[DS_KEY_LEN] = "unit test key, not a secret!!!";

	if (ds_pull_setkey(key) == -1)
		return 99;
	strcpy(dir, "/tmp/ds-lease-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(addr, sizeof(addr), "ipc://%s/master", dir);
	loop = EV_DEFAULT;
	memset(&m, 0, sizeof(m));
	m.srv = ds_pull_srv_open(loop, addr, &m_ops, &m);
	ok(m.srv != NULL, "fake master up");
	test_beats(&m);
	test_status(&m, DS_BEAT_FENCED, DS_LEASE_FENCED, "FENCED");
	test_status(&m, DS_BEAT_STOP, DS_LEASE_STOP, "STOP");
	test_drain(&m);
	test_stopped(&m);
	test_nomaster();
	test_close_done();
	ok(m.bad == 0, "every message the master got was a good BEAT");
	ds_pull_srv_close(m.srv);
	snprintf(path, sizeof(path), "%s/master", dir);
	unlink(path);
	rmdir(dir);
	return done();
}
