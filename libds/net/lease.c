/*
 * lease.c: heartbeat to ds-master and the lease it grants (DESIGN 8).  A
 * BEAT goes out every keepalive/4 (never more often than every 100 ms);
 * a BEATACK OK extends the lease to keepalive after the moment that beat
 * was sent, which is never later than when the master saw it, so the
 * instance always gives up its lease before the master may declare it
 * dead.  The lease starts valid for one keepalive from open (the master
 * counts silence from the spawn).  Time is CLOCK_MONOTONIC read at each
 * check, not the loop's cached time, so a process resumed from SIGSTOP
 * sees an expired lease at once.  Never prints, never exits: the owner's
 * on_lost decides, and is called at most once for a loss (and once for
 * a drain, which is not one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/frame.h"
#include "net/lease.h"
#include "core/msg.h"
#include "net/pull.h"

#define MIN_IVL		0.1	/* seconds between beats, at least */
#define CLOSE_WAIT	1.0	/* most seconds close waits for a DONE ack */

struct ds_lease {
	struct ev_loop		*loop;
	struct ds_pull_cli	*cli;
	ev_timer		 tick;
	uint64_t		 id;
	uint32_t		 epoch;
	uint32_t		 state;
	uint64_t		 cnt[DS_CNT_N];
	double			 keepalive;	/* seconds */
	double			 ivl;
	double			 expiry;	/* monotonic seconds */
	double			 sent_at;	/* of the outstanding beat */
	uint32_t		 sent_state;	/* of the outstanding beat */
	int			 again;		/* beat after the current */
	int			 done_acked;
	int			 drain;		/* on_lost told DRAIN */
	int			 lost;
	int			 closing;
	void			(*on_lost)(void *, int);
	void			*arg;
	struct ds_buf		 b;
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Give up the lease; l may be gone when this returns. */
static void
lose(struct ds_lease *l, int why)
{
	if (l->lost)
		return;
	l->lost = why;
	ev_timer_stop(l->loop, &l->tick);
	if (!l->closing)
		l->on_lost(l->arg, why);
}

static void
beat(struct ds_lease *l)
{
	struct ds_beat_msg m;

	if (l->lost)
		return;
	if (ds_pull_cli_busy(l->cli)) {
		l->again = 1;
		return;
	}
	l->again = 0;
	memset(&m, 0, sizeof(m));
	m.id = l->id;
	m.epoch = l->epoch;
	m.state = l->state;
	m.pid = (uint32_t)getpid();
	m.n = DS_CNT_N;
	memcpy(m.cnt, l->cnt, sizeof(m.cnt));
	ds_buf_reset(&l->b);
	if (ds_msg_beat_put(&l->b, &m) == -1)
		return;
	l->sent_at = mono();
	l->sent_state = l->state;
	/* The next tick must find the client free: time out before it. */
	(void)ds_pull_cli_send(l->cli, l->b.p, l->b.len, l->ivl * 0.9);
}

static void
on_reply(void *arg, const unsigned char *msg, size_t len)
{
	struct ds_lease *l = arg;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	uint32_t st;

	if (msg != NULL && ds_msg_next(msg, len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_BEATACK &&
	    ds_msg_beatack_get(&st, f.payload, f.len, &why) == 0) {
		switch (st) {
		case DS_BEAT_OK:
		case DS_BEAT_DRAIN:
			if (l->sent_at + l->keepalive > l->expiry)
				l->expiry = l->sent_at + l->keepalive;
			if (l->sent_state != DS_BEAT_RUNNING)
				l->done_acked = 1;
			if (st == DS_BEAT_DRAIN && !l->drain) {
				/* Not a loss: the lease goes on. */
				l->drain = 1;
				l->on_lost(l->arg, DS_LEASE_DRAIN);
				if (l->lost)
					return;
			}
			break;
		case DS_BEAT_FENCED:
			lose(l, DS_LEASE_FENCED);
			return;
		case DS_BEAT_STOP:
			lose(l, DS_LEASE_STOP);
			return;
		}
	}
	if (l->again)
		beat(l);
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_lease *l = w->data;

	(void)loop;
	(void)revents;
	if (!ds_lease_valid(l)) {
		lose(l, DS_LEASE_LOST);
		return;
	}
	beat(l);
}

struct ds_lease *
ds_lease_open(struct ev_loop *loop, const char *master_addr, uint64_t id,
    uint32_t epoch, uint64_t keepalive_ms, void (*on_lost)(void *, int),
    void *arg)
{
	struct ds_lease *l;
	int e;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->loop = loop;
	l->id = id;
	l->epoch = epoch;
	l->state = DS_BEAT_RUNNING;
	l->keepalive = keepalive_ms / 1000.0;
	l->ivl = l->keepalive / 4 > MIN_IVL ? l->keepalive / 4 : MIN_IVL;
	l->on_lost = on_lost;
	l->arg = arg;
	l->expiry = mono() + l->keepalive;
	if ((l->cli = ds_pull_cli_open(loop, master_addr, on_reply, l)) ==
	    NULL) {
		e = errno;
		free(l);
		errno = e;
		return NULL;
	}
	ev_timer_init(&l->tick, tick_cb, l->ivl, l->ivl);
	l->tick.data = l;
	ev_timer_start(loop, &l->tick);
	beat(l);
	return l;
}

void
ds_lease_count(struct ds_lease *l, int idx, uint64_t value)
{
	if (idx >= 0 && idx < DS_CNT_N)
		l->cnt[idx] = value;
}

void
ds_lease_done(struct ds_lease *l, int stopped)
{
	l->state = stopped ? DS_BEAT_STOPPED : DS_BEAT_DONE;
	beat(l);
}

void
ds_lease_poll(struct ds_lease *l)
{
	if (l == NULL || l->lost)
		return;
	(void)ds_pull_cli_poll(l->cli);
	if (l->lost)
		return;
	if (!ds_lease_valid(l)) {
		lose(l, DS_LEASE_LOST);
		return;
	}
	if (!ds_pull_cli_busy(l->cli) && mono() - l->sent_at >= l->ivl)
		beat(l);
}

int
ds_lease_valid(struct ds_lease *l)
{
	return !l->lost && mono() < l->expiry;
}

/*
 * After ds_lease_done, wait (blocking, at most CLOSE_WAIT) for the DONE
 * beat to be delivered: nanomsg drops what is queued when the process
 * exits.
 */
void
ds_lease_close(struct ds_lease *l)
{
	int i;

	if (l == NULL)
		return;
	l->closing = 1;
	if (l->state != DS_BEAT_RUNNING && !l->lost) {
		if (!ds_pull_cli_busy(l->cli) && !l->done_acked)
			beat(l);
		for (i = 0; i < 2 && !l->done_acked && !l->lost &&
		    ds_pull_cli_busy(l->cli); i++)
			(void)ds_pull_cli_wait(l->cli, CLOSE_WAIT / 2);
	}
	ev_timer_stop(l->loop, &l->tick);
	ds_pull_cli_close(l->cli);
	ds_buf_free(&l->b);
	free(l);
}
