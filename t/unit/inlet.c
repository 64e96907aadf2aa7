/*
 * t/unit/inlet.c: the consumer side of an edge (libds/inlet) against a
 * real server in the same process and libev loop: a ds_pull_srv (pull.h)
 * on an ipc:// socket in a temp dir, serving a ds_outq.  Checks that
 * everything arrives in order and acks free the queue, that a producer
 * restarting with a higher epoch is replayed in least mode and
 * deduplicated in most mode, that a stale (zombie) producer is refused
 * and counted, that a restarted most-mode consumer skips what is retained
 * (DS_FROM_NEW), fencing of a stale consumer, corrupt replies, stop/start
 * and the end of the stream.  Every wait is for a condition, with a
 * deadline.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "core/frame.h"
#include "net/inlet.h"
#include "core/msg.h"
#include "net/outq.h"
#include "net/pull.h"
#include "tap.h"
#include "core/tuple.h"

#define PROD	0x10000ull
#define CONS	0x20000ull
#define WAIT_MS	200
#define MAXGOT	4096

static struct ev_loop *loop;
static char dir[64], addr[128];

/* A producer: an outq behind a pull server. */
struct srv {
	struct ds_outq		 q;
	struct ds_outq_stream	*st;	/* PROD's, in q */
	struct ds_pull_srv	*s;
	int			 junk;	/* answer garbage instead */
};

static int
srv_serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct srv *sv = arg;
	struct ds_pull_msg *m = req->user;
	struct ds_frame f;
	const char *why;
	size_t off = 0;

	if (sv->junk == 1)
		return ds_buf_addstr(reply, "junk, not frames") == -1 ? -1 : 1;
	if (sv->junk == 2) {
		if (ds_msg_beatack_put(reply, 0) == -1)
			return -1;
		reply->p[reply->len - 1] ^= 1;	/* bad CRC */
		return 1;
	}
	if (m == NULL) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return -1;
		req->user = m;
		if (ds_msg_next(req->msg, req->len, &off, &f, &why) != 1 ||
		    f.type != DS_FRAME_PULL ||
		    ds_msg_pull_get(m, f.flags, f.payload, f.len, &why) == -1)
			return -1;
	}
	return ds_outq_serve(&sv->q, m, req->final, reply);
}

static void
srv_forget(void *arg, struct ds_pull_req *req)
{
	struct ds_pull_msg *m = req->user;

	(void)arg;
	if (m != NULL) {
		free(m->pos);
		free(m);
	}
}

static double
srv_wait_of(void *arg, struct ds_pull_req *req)
{
	struct ds_pull_msg m;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	double w;

	(void)arg;
	if (ds_msg_next(req->msg, req->len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_PULL ||
	    ds_msg_pull_get(&m, f.flags, f.payload, f.len, &why) == -1)
		return 0;
	w = m.wait_ms / 1000.0;
	free(m.pos);
	return w;
}

static const struct ds_pull_srv_ops srv_ops = {
	srv_serve, srv_forget, srv_wait_of
};

static int
srv_open(struct srv *sv, uint32_t epoch, uint64_t first,
    const uint64_t *cons, size_t ncons)
{
	memset(sv, 0, sizeof(*sv));
	if (ds_outq_init(&sv->q, cons, ncons) == -1 ||
	    ds_outq_add(&sv->q, PROD, epoch, first, 0) == -1)
		return -1;
	sv->st = ds_outq_stream(&sv->q, PROD);
	sv->s = ds_pull_srv_open(loop, addr, &srv_ops, sv);
	return sv->s == NULL ? -1 : 0;
}

static void
srv_close(struct srv *sv)
{
	ds_pull_srv_close(sv->s);
	ds_outq_term(&sv->q);
}

/* Append bundles of `per` tuples covering first..last, then wake. */
static void
srv_append(struct srv *sv, uint64_t first, uint64_t last, uint64_t per)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_bundle_writer w;
	struct ds_tuple t;
	uint64_t s, e;
	char pay[32];

	memset(&t, 0, sizeof(t));
	t.key = (const unsigned char *)"key";
	t.keylen = 3;
	t.payload = (const unsigned char *)pay;
	for (s = first; s <= last; s = e + 1) {
		e = s + per - 1 < last ? s + per - 1 : last;
		ds_buf_reset(&b);
		if (ds_bundle_begin(&w, &b, PROD, sv->st->epoch) == -1)
			abort();
		for (t.seq = s; t.seq <= e; t.seq++) {
			t.paylen = (size_t)snprintf(pay, sizeof(pay), "%llu",
			    (unsigned long long)t.seq);
			if (ds_bundle_add(&w, &t) == -1)
				abort();
		}
		if (ds_bundle_end(&w) == -1 ||
		    ds_outq_append(&sv->q, sv->st, b.p, b.len, s, e) == -1)
			abort();
	}
	ds_buf_free(&b);
	ds_pull_srv_wake(sv->s);
}

/* The consumer's side: what it got. */
struct got {
	uint64_t	 seq[MAXGOT];
	size_t		 n;
	int		 ack;		/* least: ack each bundle */
	int		 badpay;
	int		 fenced, progress, bad;
	int		 close_on_fence;
	struct ds_inlet	*in;
};

static int
on_bundle(void *arg, struct ds_inlet *in, const struct ds_bundle *b)
{
	struct got *g = arg;
	char pay[32];
	uint32_t i;
	int n;

	if (b->producer != PROD)
		g->badpay++;
	for (i = 0; i < b->count; i++) {
		n = snprintf(pay, sizeof(pay), "%llu",
		    (unsigned long long)b->t[i].seq);
		if ((size_t)n != b->t[i].paylen ||
		    memcmp(pay, b->t[i].payload, (size_t)n) != 0)
			g->badpay++;
		if (g->n < MAXGOT)
			g->seq[g->n++] = b->t[i].seq;
	}
	if (g->ack && b->count > 0)
		ds_inlet_ack(in, b->producer, b->epoch,
		    b->t[b->count - 1].seq);
	return 0;
}

static void
on_event(void *arg, struct ds_inlet *in, int ev, const char *msg)
{
	struct got *g = arg;

	(void)msg;
	switch (ev) {
	case DS_INLET_FENCED:
		g->fenced++;
		if (g->close_on_fence) {
			ds_inlet_close(in);
			g->in = NULL;
		}
		break;
	case DS_INLET_PROGRESS:
		g->progress++;
		break;
	case DS_INLET_BAD:
		g->bad++;
		break;
	}
}

static const struct ds_inlet_ops in_ops = { on_bundle, on_event };

static struct ds_inlet *
inlet(struct got *g, enum ds_once once, uint32_t epoch, int restarted,
    uint32_t max_tuples)
{
	struct ds_inlet_cfg cfg;
	static const uint64_t prods[] = { PROD };

	memset(&cfg, 0, sizeof(cfg));
	cfg.addr = addr;
	cfg.producers = prods;
	cfg.nproducers = 1;
	cfg.consumer = CONS;
	cfg.epoch = epoch;
	cfg.once = once;
	cfg.max_tuples = max_tuples;
	cfg.wait_ms = WAIT_MS;
	cfg.restarted = restarted;
	g->in = ds_inlet_open(loop, &cfg, &in_ops, g);
	return g->in;
}

static uint64_t
recv_of(struct ds_inlet *in)
{
	const struct ds_inlet_prod *p;

	return ds_inlet_prods(in, &p) == 1 ? p[0].recv : 0;
}

/* Run the loop until pred(arg) or 15 s; returns pred(arg). */
typedef int (*pred_fn)(void *);
struct until {
	pred_fn	 fn;
	void	*arg;
};

static void
poll_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct until *u = w->data;

	(void)revents;
	if (u->fn(u->arg))
		ev_break(l, EVBREAK_ONE);
}

static void
deadline_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ONE);
}

static int
until(pred_fn fn, void *arg, double secs)
{
	struct until u = { fn, arg };
	ev_timer poll, dl;

	if (fn(arg))
		return 1;
	ev_timer_init(&poll, poll_cb, 0.005, 0.005);
	poll.data = &u;
	ev_timer_init(&dl, deadline_cb, secs, 0);
	ev_timer_start(loop, &poll);
	ev_timer_start(loop, &dl);
	ev_run(loop, 0);
	ev_timer_stop(loop, &poll);
	ev_timer_stop(loop, &dl);
	return fn(arg);
}

/* Predicates. */
struct cond {
	struct got	*g;
	struct srv	*sv;
	uint64_t	 v;
};

static int
got_n(void *arg)
{
	struct cond *c = arg;

	return c->g->n >= c->v;
}

static int
recv_at(void *arg)
{
	struct cond *c = arg;

	return c->g->in != NULL && recv_of(c->g->in) >= c->v;
}

static int
parked(void *arg)
{
	struct cond *c = arg;

	return ds_pull_srv_parked(c->sv->s) >= c->v;
}

static int
unparked(void *arg)
{
	struct cond *c = arg;

	return ds_pull_srv_parked(c->sv->s) == 0;
}

static int
all_done(void *arg)
{
	struct cond *c = arg;

	return ds_inlet_ended(c->g->in) && ds_outq_done(&c->sv->q);
}

static int
fenced_n(void *arg)
{
	struct cond *c = arg;

	return c->g->in != NULL && ds_inlet_fenced(c->g->in) >= c->v;
}

static int
got_fenced(void *arg)
{
	struct cond *c = arg;

	return c->g->fenced > 0;
}

static int
bad_n(void *arg)
{
	struct cond *c = arg;

	return c->g->bad >= (int)c->v;
}

/* g->seq[from..] is exactly lo..hi. */
static int
run_of(const struct got *g, size_t from, uint64_t lo, uint64_t hi)
{
	size_t i;

	if (g->n - from != hi - lo + 1)
		return 0;
	for (i = from; i < g->n; i++)
		if (g->seq[i] != lo + (i - from))
			return 0;
	return 1;
}

static void
basic(void)
{
	static const uint64_t cons[] = { CONS };
	struct srv sv;
	struct got *g = calloc(1, sizeof(*g));
	struct cond c = { g, &sv, 0 };

	ok(srv_open(&sv, 1, 1, cons, 1) == 0, "server up at %s", addr);
	srv_append(&sv, 1, 300, 10);
	g->ack = 1;
	ok(inlet(g, DS_ONCE_LEAST, 1, 0, 50) != NULL, "inlet open");
	ds_inlet_start(g->in);
	c.v = 300;
	ok(until(got_n, &c, 15), "300 tuples arrive");
	ok(sv.q.cons[0].cs[0].ack >= 200, "acks reach the server (%llu)",
	    (unsigned long long)sv.q.cons[0].cs[0].ack);
	srv_append(&sv, 301, 500, 7);
	ds_outq_end(&sv.q, sv.st);
	ds_pull_srv_wake(sv.s);
	ok(until(all_done, &c, 15), "stream ended, acked and told");
	ok(run_of(g, 0, 1, 500) && g->badpay == 0,
	    "1..500 once each, in order, intact");
	ok(sv.q.tuples == 0 && sv.q.bytes == 0 && sv.st->head == NULL,
	    "the queue freed everything");
	ok(ds_inlet_dups(g->in) == 0 && ds_inlet_fenced(g->in) == 0 &&
	    ds_inlet_bad(g->in) == 0, "no dups, fenced, bad");
	ok(g->progress > 0, "the end came as progress");
	ds_inlet_close(g->in);
	srv_close(&sv);
	free(g);
}

/* A producer restart: epoch 1 sends 1..100, epoch 2 resumes at 51. */
/*
 * Exactly-once: a bundle of an older producer epoch (one a router still
 * holds from before the producer restarted) is not fenced: its tuples
 * are the same as the replay's, so those past the frontier are taken
 * (duplicates below it are dropped as in any epoch).
 */
static void
exactly_old_epoch(void)
{
	static const uint64_t cons[] = { CONS };
	struct srv sv;
	struct got *g = calloc(1, sizeof(*g));
	struct cond c = { g, &sv, 0 };
	size_t n1;

	srv_open(&sv, 2, 1, cons, 1);
	srv_append(&sv, 1, 50, 10);
	inlet(g, DS_ONCE_EXACTLY, 1, 0, 0);
	ds_inlet_start(g->in);
	c.v = 50;
	ok(until(got_n, &c, 15) && run_of(g, 0, 1, 50),
	    "exactly: 1..50 of epoch 2");
	ok(until(parked, &(struct cond){ g, &sv, 1 }, 15),
	    "exactly: the next request waits");
	srv_close(&sv);

	srv_open(&sv, 1, 41, cons, 1);
	c.sv = &sv;
	srv_append(&sv, 41, 60, 10);
	n1 = g->n;
	c.v = 60;
	ok(until(recv_at, &c, 15) && run_of(g, n1, 51, 60),
	    "exactly: 51..60 of the older epoch taken");
	ok(ds_inlet_fenced(g->in) == 0,
	    "exactly: not fenced (%llu)",
	    (unsigned long long)ds_inlet_fenced(g->in));
	ds_inlet_close(g->in);
	srv_close(&sv);
	free(g);
}

static void
restart(enum ds_once once)
{
	static const uint64_t cons[] = { CONS };
	const char *mode = once == DS_ONCE_LEAST ? "least" : "most";
	struct srv sv, zombie;
	struct got *g = calloc(1, sizeof(*g));
	struct cond c = { g, &sv, 0 };
	const struct ds_inlet_prod *p;
	size_t n1;
	int r;

	srv_open(&sv, 1, 1, cons, 1);
	srv_append(&sv, 1, 100, 10);
	inlet(g, once, 1, 0, 0);
	ds_inlet_start(g->in);
	c.v = 100;
	ok(until(got_n, &c, 15) && run_of(g, 0, 1, 100), "%s: 1..100", mode);
	ok(until(parked, &(struct cond){ g, &sv, 1 }, 15),
	    "%s: the next request waits at the server", mode);
	srv_close(&sv);

	srv_open(&sv, 2, 51, cons, 1);
	c.sv = &sv;
	c.v = 1;
	ok(until(parked, &c, 15), "%s: the request reaches epoch 2", mode);
	srv_append(&sv, 51, 90, 10);
	srv_append(&sv, 91, 110, 20);
	n1 = g->n;
	c.v = 110;
	ok(until(recv_at, &c, 15), "%s: received through 110", mode);
	ds_inlet_prods(g->in, &p);
	ok(p[0].epoch == 2, "%s: producer epoch 2 taken", mode);
	if (once == DS_ONCE_LEAST) {
		ok(run_of(g, n1, 51, 110) && ds_inlet_dups(g->in) == 0,
		    "least: the replay 51..100 is accepted, then 101..110");
	} else {
		ok(run_of(g, n1, 101, 110),
		    "most: only 101..110 delivered (%zu new)", g->n - n1);
		/* The new epoch has not answered it yet: all it holds. */
		ok(ds_inlet_dups(g->in) == 50,
		    "most: the replay 51..100 dropped as dups (%llu)",
		    (unsigned long long)ds_inlet_dups(g->in));
		ok(sv.q.cons[0].cs[0].ack >= 100,
		    "most: acks what it received, across epochs");
	}
	ok(g->badpay == 0, "%s: payloads intact", mode);
	c.v = 1;
	ok(until(parked, &c, 15), "%s: waiting again", mode);
	srv_close(&sv);

	/* A zombie of epoch 1 takes the address: refused, counted. */
	srv_open(&zombie, 1, 1, cons, 1);
	srv_append(&zombie, 1, 120, 10);
	n1 = g->n;
	c.v = 3;
	r = until(fenced_n, &c, 15);
	ok(r, "%s: stale epoch counted as fenced (%llu)", mode,
	    (unsigned long long)ds_inlet_fenced(g->in));
	ok(g->n == n1 && recv_of(g->in) == 110,
	    "%s: nothing of the stale epoch delivered", mode);
	ds_inlet_close(g->in);
	srv_close(&zombie);
	free(g);
}

static void
fromnew(void)
{
	static const uint64_t cons[] = { CONS };
	struct srv sv;
	struct got *g = calloc(1, sizeof(*g));
	struct cond c = { g, &sv, 0 };

	srv_open(&sv, 1, 1, cons, 1);
	srv_append(&sv, 1, 50, 10);
	inlet(g, DS_ONCE_MOST, 2, DS_INLET_RESTARTED, 0);
	ds_inlet_start(g->in);
	c.v = 50;
	ok(until(recv_at, &c, 15), "restarted most: frontier jumps to 50");
	c.v = 1;
	ok(until(parked, &c, 15) && g->n == 0,
	    "restarted most: nothing retained delivered");
	ok(sv.q.skipped == 50, "the server counted 50 skipped (%llu)",
	    (unsigned long long)sv.q.skipped);
	srv_append(&sv, 51, 60, 5);
	c.v = 10;
	ok(until(got_n, &c, 15) && run_of(g, 0, 51, 60),
	    "new data arrives (51..60)");
	c.v = 60;
	ok(until(recv_at, &c, 15) && sv.q.cons[0].cs[0].ack >= 50,
	    "acked on receipt");
	ds_inlet_close(g->in);
	srv_close(&sv);
	free(g);
}

static void
fencing(void)
{
	static const uint64_t cons[] = { CONS };
	struct srv sv;
	struct got *g1 = calloc(1, sizeof(*g1)), *g2 = calloc(1, sizeof(*g2));
	struct cond c = { g2, &sv, 1 };

	srv_open(&sv, 1, 1, cons, 1);
	inlet(g2, DS_ONCE_LEAST, 2, 0, 0);
	ds_inlet_start(g2->in);
	ok(until(parked, &c, 15) && sv.q.cons[0].epoch == 2,
	    "consumer epoch 2 pulls");
	inlet(g1, DS_ONCE_LEAST, 1, 0, 0);
	g1->close_on_fence = 1;
	ds_inlet_start(g1->in);
	c.g = g1;
	ok(until(got_fenced, &c, 15) && g1->fenced == 1,
	    "epoch 1 of the same consumer is FENCED");
	ok(g1->in == NULL && sv.q.fenced == 1,
	    "closed from its event callback; the server counted it");
	srv_append(&sv, 1, 5, 5);
	c.g = g2;
	c.v = 5;
	ok(until(got_n, &c, 15) && run_of(g2, 0, 1, 5),
	    "the current consumer goes on");
	ds_inlet_close(g2->in);
	srv_close(&sv);
	free(g1);
	free(g2);
}

static void
corrupt(void)
{
	static const uint64_t cons[] = { CONS + 1 };
	struct srv sv;
	struct got *g = calloc(1, sizeof(*g));
	struct cond c = { g, &sv, 2 };

	srv_open(&sv, 1, 1, cons, 1);
	srv_append(&sv, 1, 5, 5);
	sv.junk = 1;
	inlet(g, DS_ONCE_LEAST, 1, 0, 0);
	ds_inlet_start(g->in);
	ok(until(bad_n, &c, 15), "garbage: DS_INLET_BAD, retried");
	sv.junk = 2;
	c.v = g->bad + 2;
	ok(until(bad_n, &c, 15), "a bad CRC: DS_INLET_BAD");
	sv.junk = 0;
	c.v = g->bad + 2;
	ok(until(bad_n, &c, 15), "an unknown consumer: DS_INLET_BAD");
	ok(g->n == 0 && recv_of(g->in) == 0 &&
	    ds_inlet_bad(g->in) == (uint64_t)g->bad,
	    "nothing applied, every one counted");
	ds_inlet_close(g->in);
	srv_close(&sv);
	free(g);
}

static void
stopstart(void)
{
	static const uint64_t cons[] = { CONS };
	struct srv sv;
	struct got *g = calloc(1, sizeof(*g));
	struct cond c = { g, &sv, 1 };
	const struct ds_inlet_prod *p;

	srv_open(&sv, 1, 1, cons, 1);
	inlet(g, DS_ONCE_LEAST, 1, 0, 0);
	ok(ds_inlet_restore(g->in, PROD, 1, 20, 0, 0) == 0 &&
	    ds_inlet_restore(g->in, PROD + 1, 1, 20, 0, 0) == -1,
	    "restore a known producer, refuse another");
	srv_append(&sv, 1, 30, 10);
	ds_inlet_start(g->in);
	c.v = 10;
	ok(until(got_n, &c, 15) && run_of(g, 0, 21, 30),
	    "restored at 20: 21..30 arrive");
	ds_inlet_stop(g->in);
	ok(until(unparked, &c, 15), "stopped: the outstanding one completes");
	srv_append(&sv, 31, 40, 10);
	c.v = 1;
	ok(!until(parked, &c, 3 * WAIT_MS / 1000.0) && g->n == 10,
	    "stopped: no new request, nothing delivered");
	ds_inlet_start(g->in);
	c.v = 20;
	ok(until(got_n, &c, 15) && run_of(g, 0, 21, 40), "started: 31..40");
	ds_inlet_ack_all(g->in);
	ds_inlet_prods(g->in, &p);
	ok(p[0].ack == 40, "ack_all: ack at the frontier");
	ds_inlet_ack(g->in, PROD, 1, 35);
	ok(p[0].ack == 40, "acks never move backwards");
	srv_append(&sv, 41, 50, 10);
	c.v = 30;
	ok(until(got_n, &c, 15) && run_of(g, 0, 21, 50), "41..50");
	ds_inlet_ack(g->in, PROD, 2, 45);
	ok(p[0].ack == 40, "least: an ack of another epoch is ignored");
	ds_inlet_ack(g->in, PROD, 1, 45);
	ok(p[0].ack == 45, "least: an ack of the producer's epoch is taken");
	ds_inlet_close(g->in);
	srv_close(&sv);
	free(g);
}

int
main(void)
{
	static const unsigned char key[DS_KEY_LEN] = "unit test key, not a secret!!!";

	if (ds_pull_setkey(key) == -1)
		return 99;
	snprintf(dir, sizeof(dir), "/tmp/ds-inlet.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(addr, sizeof(addr), "ipc://%s/p", dir);
	loop = ev_default_loop(0);
	basic();
	restart(DS_ONCE_LEAST);
	restart(DS_ONCE_MOST);
	exactly_old_epoch();
	fromnew();
	fencing();
	corrupt();
	stopstart();
	snprintf(addr, sizeof(addr), "%s/p", dir);
	unlink(addr);
	rmdir(dir);
	return done();
}
