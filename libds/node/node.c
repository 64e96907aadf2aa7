/*
 * node.c: the instance runtime (node.h).  Every externally visible step
 * checks the lease first (ds_node_valid), so a zombie resumed after its
 * lease ran out answers no pull and writes nothing.  Acks, the end of the
 * output and the end of the job are looked at in an ev_prepare watcher,
 * i.e. once per loop round after every callback of that round and before
 * the loop blocks: the program's tick runs there too, never inside a pull
 * server or inlet callback.  Units form one list, oldest first: the
 * durable ones wait for their outputs to be acked, the rest for their
 * backend (n->wnext is the first of those).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dir.h"
#include "core/exit.h"
#include "core/frame.h"
#include "core/msg.h"
#include "node/durable.h"
#include "node/log.h"
#include "node/node.h"
#include "node/notify.h"

#define GRACE		0.02	/* s between done and leaving the loop */
#define PULL_TUPLES	65536
#define PULL_BYTES	(4u << 20)
#define PULL_WAIT	500	/* ms */
#define SHORT_WAIT	0.02	/* s, see wait_of */

void
ds_node_nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

void
ds_node_init(struct ds_node *n, enum ds_node_kind kind)
{
	memset(n, 0, sizeof(*n));
	ds_node_cfg_init(&n->cfg, kind);
	n->maxtuple = DS_TUPLE_MAX;
}

void
ds_node_main(struct ds_node *n, enum ds_node_kind kind, struct ds_common *co,
    const char *usage)
{
	static const char *const names[] = {
		[DS_NODE_SOURCE] = "ds-source", [DS_NODE_OP] = "ds-op",
		[DS_NODE_SINK] = "ds-sink", [DS_NODE_ROUTER] = "ds-router"
	};

	ds_progname = names[kind];
	(void)ds_dir_umask();	/* sockets and files: ours alone */
	co->usage = usage;
	ds_node_init(n, kind);
}

void
ds_node_validate(struct ds_node *n, const struct ds_common *co)
{
	ds_node_cfg_validate(&n->cfg, co);
	n->dur = n->cfg.exactly ? &ds_durable_journal : &ds_durable_slog;
}

#define SPARE_MAX	64	/* units kept for use again */

/* Free what a unit holds besides its frontier's room. */
static void
unit_clear(struct ds_unit *u)
{
	ds_buf_free(&u->recs);
	if (!u->borrowed)
		ds_buf_free(&u->out);
}

static void
unit_free(struct ds_unit *u)
{
	unit_clear(u);
	ds_mark_free(&u->m);
	free(u);
}

/* A unit done with: kept for the next one (its frontier's room too). */
static void
unit_drop(struct ds_node *n, struct ds_unit *u)
{
	if (n->nspare >= SPARE_MAX) {
		unit_free(u);
		return;
	}
	unit_clear(u);
	u->next = n->spare;
	n->spare = u;
	n->nspare++;
}

/* A new unit, its frontier's room for nfront producers. */
static struct ds_unit *
unit_new(struct ds_node *n)
{
	struct ds_mark_pos *pos;
	struct ds_unit *u;

	if ((u = n->spare) != NULL) {
		n->spare = u->next;
		n->nspare--;
		pos = u->m.pos;
		memset(u, 0, sizeof(*u));
		u->m.pos = pos;
		return u;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->m.pos = calloc(n->nfront ? n->nfront : 1,
	    sizeof(*u->m.pos))) == NULL)
		ds_node_nomem();
	return u;
}

void
ds_node_term(struct ds_node *n)
{
	struct ds_unit *u;
	size_t i;

	for (i = 0; n->in != NULL && i < n->cfg.npull; i++)
		ds_inlet_close(n->in[i].inlet);
	if (n->srv != NULL)
		ds_pull_srv_close(n->srv);
	if (n->has_oq)
		ds_outq_term(&n->oq);
	if (n->dur != NULL)
		n->dur->close(n);
	ds_epochq_close(n->eq);
	if (n->lease != NULL)
		ds_lease_close(n->lease);
	while ((u = n->head) != NULL) {
		n->head = u->next;
		unit_free(u);
	}
	while ((u = n->spare) != NULL) {
		n->spare = u->next;
		unit_free(u);
	}
	ds_buf_free(&n->state);
	ds_mark_free(&n->rec);
	ds_buf_free(&n->recout);
	free(n->in);
	free(n->front);
	free(n->last);
	ds_node_cfg_term(&n->cfg);
	memset(n, 0, sizeof(*n));
}

/* --- the lease -------------------------------------------------------- */

static void
on_lost(void *arg, int why)
{
	struct ds_node *n = arg;

	switch (why) {
	case DS_LEASE_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced: the master runs a newer epoch "
		    "than %u", (unsigned)n->cfg.epoch);
	case DS_LEASE_STOP:
		ds_info("the master stops the job");
		exit(DS_EX_OK);
	case DS_LEASE_DRAIN:
		n->drain_due = 1;	/* acted on in prepare_cb */
		return;
	default:
		ds_die(DS_EX_TEMPFAIL, "lease lost: no answer from the master "
		    "for %llu ms", (unsigned long long)n->cfg.keepalive_ms);
	}
}

void
ds_node_valid(struct ds_node *n)
{
	if (n->lease != NULL && !ds_lease_valid(n->lease))
		ds_die(DS_EX_TEMPFAIL, "lease lost: no answer from the master "
		    "for %llu ms", (unsigned long long)n->cfg.keepalive_ms);
}

void
ds_node_poll(void *arg)
{
	struct ds_node *n = arg;

	if (n->lease != NULL)
		ds_lease_poll(n->lease);
}

static void
counters(struct ds_node *n)
{
	uint64_t fenced = n->has_oq ? n->oq.fenced : 0, dup = 0;
	size_t i;

	if (n->eq != NULL)
		fenced += ds_epochq_refused(n->eq);
	for (i = 0; i < n->cfg.npull; i++) {
		fenced += ds_inlet_fenced(n->in[i].inlet);
		dup += ds_inlet_dups(n->in[i].inlet);
	}
	ds_lease_count(n->lease, DS_CNT_IN, n->cnt_in);
	ds_lease_count(n->lease, DS_CNT_OUT, n->cnt_out);
	ds_lease_count(n->lease, DS_CNT_FENCED, fenced);
	ds_lease_count(n->lease, DS_CNT_DUP, dup);
	ds_lease_count(n->lease, DS_CNT_RETAINED,
	    n->has_oq ? n->oq.tuples : 0);
	ds_lease_count(n->lease, DS_CNT_REFUSED, ds_pull_refused());
	ds_lease_count(n->lease, DS_CNT_SEQ, n->outseq);
	ds_lease_count(n->lease, DS_CNT_AUX, n->aux);
}

/* --- frontiers and acks ----------------------------------------------- */

/*
 * The input frontier over every inlet, in --pull order, in n->front.
 * cur: a bundle being processed, counted in even if its inlet has not
 * moved its frontier yet (NULL: none).
 */
static struct ds_mark_pos *
frontier(struct ds_node *n, const struct ds_bundle *cur)
{
	const struct ds_inlet_prod *ps;
	struct ds_mark_pos *f;
	uint64_t last;
	size_t i, j, np;

	for (i = 0; i < n->cfg.npull; i++) {
		np = ds_inlet_prods(n->in[i].inlet, &ps);
		for (j = 0; j < np; j++) {
			f = &n->front[n->in[i].base + j];
			f->producer = ps[j].producer;
			f->epoch = ps[j].epoch;
			/* A stop is no end: the next run goes on. */
			f->flags = ps[j].ended && !ps[j].stopped ?
			    DS_PROD_ENDED : 0;
			f->seq = ps[j].recv;
			f->end = f->flags ? ps[j].end : 0;
			if (cur == NULL || cur->count == 0 ||
			    cur->producer != f->producer)
				continue;
			last = cur->t[cur->count - 1].seq;
			if (cur->epoch != f->epoch || last > f->seq) {
				f->epoch = cur->epoch;
				f->seq = last;
			}
		}
	}
	return n->front;
}

/* Ack upstream everything up to frontier f. */
static void
ack_up(struct ds_node *n, const struct ds_mark_pos *f)
{
	const struct ds_node_in *in;
	size_t i, j;

	for (i = 0; i < n->cfg.npull; i++) {
		in = &n->in[i];
		for (j = 0; j < in->cfg->nprod; j++)
			ds_inlet_ack(in->inlet, f[in->base + j].producer,
			    f[in->base + j].epoch, f[in->base + j].seq);
	}
}

int
ds_node_moved(struct ds_node *n)
{
	struct ds_mark_pos *f = frontier(n, NULL);

	return !n->committed ||
	    memcmp(f, n->last, n->nfront * sizeof(*f)) != 0;
}

/* --- back-pressure ---------------------------------------------------- */

/* Stop (1) or resume (0) every input. */
static void
pause_inputs(struct ds_node *n, int on)
{
	size_t i;

	if (on == n->paused)
		return;
	n->paused = on;
	if (!n->going)
		return;
	for (i = 0; i < n->cfg.npull; i++) {
		if (on)
			ds_inlet_stop(n->in[i].inlet);
		else
			ds_inlet_start(n->in[i].inlet);
	}
}

/* Above the buffer: stop; back below half of it: go on. */
static void
pressure(struct ds_node *n)
{
	uint64_t lim = n->cfg.buffer;
	int busy = n->dur->full(n);

	if (!n->paused && (busy || n->oq.bytes > lim || n->wbytes > lim)) {
		ds_debug("holding %zu bytes: inputs stop", n->oq.bytes +
		    n->wbytes);
		pause_inputs(n, 1);
	} else if (n->paused && !busy && n->oq.bytes <= lim / 2 &&
	    n->wbytes <= lim / 2) {
		ds_debug("holding %zu bytes: inputs go on", n->oq.bytes +
		    n->wbytes);
		pause_inputs(n, 0);
	}
}

int
ds_node_full(const struct ds_node *n)
{
	return n->paused;
}

int
ds_node_stopped(const struct ds_node *n)
{
	return n->stopped;
}

size_t
ds_node_pending(const struct ds_node *n)
{
	return n->nwriting;
}

int
ds_node_keeps_state(const struct ds_node *n)
{
	return n->keeps;
}

int
ds_node_syncs(const struct ds_node *n)
{
	return n->dur->syncs;
}

/* --- units ------------------------------------------------------------ */

void
ds_node_commit(struct ds_node *n, const struct ds_bundle *cur,
    struct ds_buf *out, uint64_t outseq, uint64_t aux, uint64_t ntup)
{
	const unsigned char *p;
	struct ds_mark_pos *f;
	struct ds_unit *u;
	uint64_t first;
	uint32_t count, nstate = 0;
	size_t flen;
	int had;

	u = unit_new(n);
	f = frontier(n, cur);
	memcpy(u->m.pos, f, n->nfront * sizeof(*f));
	memcpy(n->last, f, n->nfront * sizeof(*f));
	n->committed = 1;
	u->m.n = (uint32_t)n->nfront;
	u->m.outseq = outseq;
	u->m.aux = n->aux = aux;
	ds_buf_reset(&n->state);
	if (n->keeps && n->prog->dirty != NULL && n->prog->dirty(n->arg,
	    &n->state, n->dur->timers, &nstate) == -1)
		ds_node_nomem();
	u->ntup = ntup;
	/*
	 * The outputs are read in place: a unit durable at once (the state
	 * log) publishes them from there, and only one that waits for its
	 * backend copies them (when write returns).
	 */
	if ((had = out != NULL && out->len > 0)) {
		u->out = *out;
		u->borrowed = 1;
		for (p = u->out.p; p < u->out.p + u->out.len; p += flen) {
			if (ds_bundle_peek(p, (size_t)(u->out.p + u->out.len -
			    p), &flen, &count, &first) == -1)
				ds_die(DS_EX_SOFTWARE, "a unit's outputs are "
				    "not whole bundles");
			u->ntup += count;
			u->nout++;
		}
	}
	n->outseq = outseq;
	u->m.mark = ++n->mark;
	if (n->tail != NULL)
		n->tail->next = u;
	else
		n->head = u;
	n->tail = u;
	if (n->wnext == NULL)
		n->wnext = u;
	n->nwriting++;
	u->bytes = n->state.len + u->out.len;
	n->wbytes += u->bytes;
	ds_debug("unit %llu: %llu tuples, output seq %llu",
	    (unsigned long long)u->m.mark, (unsigned long long)u->ntup,
	    (unsigned long long)outseq);
	ds_node_valid(n);
	n->dur->write(n, u, &n->state, nstate);
	/* Not superseded: it has outputs (a new output seq). */
	if (had && !u->durable) {
		memset(&u->out, 0, sizeof(u->out));
		if (ds_buf_add(&u->out, out->p, out->len) == -1)
			ds_node_nomem();
		u->borrowed = 0;
	}
	if (out != NULL)
		out->len = 0;
	pressure(n);
}

/* Retain the outputs of durable unit u: they may be pulled now. */
static void
publish(struct ds_node *n, struct ds_unit *u)
{
	const unsigned char *p = u->out.p, *end = p + u->out.len;
	uint64_t first;
	uint32_t count;
	size_t flen;

	for (; p < end; p += flen) {
		if (ds_bundle_peek(p, (size_t)(end - p), &flen, &count,
		    &first) == -1)
			ds_die(DS_EX_SOFTWARE, "a unit's outputs are not "
			    "whole bundles");
		if (count == 0)
			continue;
		if (ds_outq_append(&n->oq, n->own, p, flen, first,
		    first + count - 1) == -1) {
			if (errno == ENOMEM)
				ds_node_nomem();
			ds_diesys(DS_EX_SOFTWARE, "unable to retain output "
			    "seqs %llu..%llu", (unsigned long long)first,
			    (unsigned long long)(first + count - 1));
		}
	}
	n->wake = 1;
}

void
ds_node_durable(struct ds_node *n)
{
	struct ds_unit *u = n->wnext, *p = n->lastdur;
	struct ds_mark_pos *pos;

	if (u == NULL)
		ds_die(DS_EX_SOFTWARE, "a unit was made durable twice");
	u->durable = 1;
	n->wnext = u->next;
	n->nwriting--;
	n->wbytes -= u->bytes;
	ds_buf_free(&u->recs);
	ds_debug("unit %llu durable", (unsigned long long)u->m.mark);
	if (n->dur->early)
		ack_up(n, u->m.pos);
	if (n->has_oq && u->out.len > 0)
		publish(n, u);
	n->cnt_out += u->ntup;
	if (u->borrowed)
		memset(&u->out, 0, sizeof(u->out));
	else
		ds_buf_free(&u->out);
	/* A unit without new outputs supersedes the durable one before it. */
	if (p != NULL && p->next == u && p->m.outseq == u->m.outseq) {
		pos = p->m.pos;
		p->m = u->m;
		u->m.pos = pos;		/* the same room: nfront */
		p->ntup += u->ntup;
		p->next = u->next;
		if (n->tail == u)
			n->tail = p;
		unit_drop(n, u);
	} else
		n->lastdur = u;
}

/*
 * The durable units whose outputs every consumer acked leave; the newest
 * of them tells the backend, and is acked upstream unless that was done
 * when it became durable.
 */
static void
pop_acked(struct ds_node *n)
{
	struct ds_unit *u, *last = NULL;
	uint64_t minack;

	if (n->head == NULL || !n->head->durable)
		return;
	minack = n->own != NULL ? ds_outq_minack(&n->oq, n->own) :
	    UINT64_MAX;
	while ((u = n->head) != NULL && u->durable &&
	    u->m.outseq <= minack) {
		n->head = u->next;
		if (n->lastdur == u)
			n->lastdur = NULL;
		if (last != NULL)
			unit_drop(n, last);
		last = u;
	}
	if (n->head == NULL)
		n->tail = NULL;
	if (last == NULL)
		return;
	n->dur->acked(n, last);
	if (!n->dur->early)
		ack_up(n, last->m.pos);
	unit_drop(n, last);
}

void
ds_node_end(struct ds_node *n)
{
	n->ending = 1;
}

/* --- serving ---------------------------------------------------------- */

/* A decoded PULL and its question to the master (net/epochq.h). */
struct preq {
	struct ds_pull_msg	 m;		/* first: freed as the whole */
	uint64_t		 ticket;
};

static struct ds_pull_msg *
decode_pull(const unsigned char *msg, size_t len)
{
	struct ds_pull_msg *m;
	struct ds_frame f;
	const char *why = "no frame";
	size_t off = 0;

	memset(&f, 0, sizeof(f));
	if (ds_msg_next(msg, len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_PULL) {
		if (f.type != DS_FRAME_PULL)
			why = "not a PULL";
		goto bad;
	}
	if ((m = calloc(1, sizeof(struct preq))) == NULL)
		ds_node_nomem();
	if (ds_msg_pull_get(m, f.flags, f.payload, f.len, &why) == 0)
		return m;
	if (errno == ENOMEM)
		ds_node_nomem();
	free(m);
bad:
	ds_warn("ignoring a bad request: %s", why);
	return NULL;
}

/*
 * The wait of a new PULL, decoded once here for serve.  Once the output
 * ended or input stopped, a request whose acks are behind waits
 * SHORT_WAIT only: its consumer acks what it got after this request left,
 * and if that ack comes too soon to replace the request (inlet.c's
 * nudge), nothing else would answer it before its whole wait.
 */
static double
wait_of(void *arg, struct ds_pull_req *req)
{
	struct ds_node *n = arg;
	struct ds_pull_msg *m;
	struct ds_outq_cons *c;
	double wait;
	size_t i;
	int ended = n->paused;

	if ((m = decode_pull(req->msg, req->len)) == NULL)
		return 0;
	req->user = m;
	wait = m->wait_ms / 1000.0;
	for (i = 0; i < n->oq.nst; i++)
		if (n->oq.st[i].ended)
			ended = 1;
	if (ended && wait > SHORT_WAIT && ds_outq_lagging(&n->oq, m))
		wait = SHORT_WAIT;
	if (n->eq != NULL && wait < DS_EPOCHQ_WAIT && m->epoch > 1 &&
	    (c = ds_outq_consumer(&n->oq, m->consumer)) != NULL &&
	    m->epoch > c->epoch)
		wait = DS_EPOCHQ_WAIT;	/* room for the master's answer */
	return wait;
}

/* Retained bundles go into the reply by reference: one copy, in pull.c. */
static int
ref_frame(void *arg, const void *p, size_t len)
{
	struct ds_node *n = arg;

	return ds_pull_srv_ref(n->srv, p, len);
}

/*
 * A consumer epoch above the highest seen is believed once the master
 * confirms it (ds-wire(5)): 1 serve, 0 park until it answers, -1 drop
 * unanswered (not confirmed, counted; or no answer in time).
 */
static int
believe(struct ds_node *n, struct ds_pull_req *req)
{
	struct ds_pull_msg *m = req->user;
	int rc;

	rc = ds_epochq_check(n->eq, m->consumer, m->epoch,
	    &((struct preq *)m)->ticket);
	if (rc == 1 || (rc == 0 && !req->final))
		return rc;
	if (rc == -1)
		ds_warn("ignored a pull of consumer %llu epoch %u: "
		    "the master does not run that epoch",
		    (unsigned long long)m->consumer, (unsigned)m->epoch);
	return -1;
}

static void
on_answer(void *arg)
{
	struct ds_node *n = arg;

	if (n->srv != NULL)
		ds_pull_srv_wake(n->srv);
}

static int
serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct ds_node *n = arg;
	struct ds_pull_msg *m = req->user;
	struct ds_outq_cons *c;
	uint32_t was;
	int rc;

	if (m == NULL)
		return -1;
	ds_node_valid(n);
	if ((c = ds_outq_consumer(&n->oq, m->consumer)) == NULL) {
		ds_warn("refused a pull of unknown consumer %llu",
		    (unsigned long long)m->consumer);
		was = 0;
	} else if ((was = c->epoch) < m->epoch && n->eq != NULL &&
	    (rc = believe(n, req)) != 1)
		return rc;
	if ((rc = ds_outq_serve_ref(&n->oq, m, req->final, reply, ref_frame,
	    n)) == -1)
		ds_node_nomem();
	if (n->oq.fenced > n->fenced_seen) {
		n->fenced_seen = n->oq.fenced;
		ds_info("fenced consumer %llu epoch %u < %u",
		    (unsigned long long)m->consumer, (unsigned)m->epoch,
		    (unsigned)was);
	} else if (c != NULL && c->epoch != was)
		ds_debug("consumer %llu epoch %u: first pull",
		    (unsigned long long)m->consumer, (unsigned)m->epoch);
	return rc;
}

static void
forget(void *arg, struct ds_pull_req *req)
{
	struct ds_pull_msg *m = req->user;

	(void)arg;
	if (m != NULL) {
		free(m->pos);
		free(m);
	}
	req->user = NULL;
}

static const struct ds_pull_srv_ops srv_ops = { serve, forget, wait_of };

/*
 * Serve: our own stream, from seq first (an instance), or one stream per
 * upstream producer (a router).  Outputs of a node whose units are
 * durable before they are seen are the same in every epoch (stable).
 */
static void
listen_out(struct ds_node *n, uint64_t first)
{
	const struct ds_node_cfg *c = &n->cfg;
	size_t i, j;

	if (ds_outq_init(&n->oq, c->cons, c->ncons) == -1)
		ds_node_nomem();
	n->has_oq = 1;
	if (c->kind == DS_NODE_ROUTER) {
		for (i = 0; i < c->npull; i++)
			for (j = 0; j < c->pull[i].nprod; j++)
				if (ds_outq_add(&n->oq, c->pull[i].prod[j], 0,
				    1, c->pull[i].once == DS_ONCE_EXACTLY) ==
				    -1)
					ds_node_nomem();
	} else {
		if (ds_outq_add(&n->oq, c->id, c->epoch, first,
		    n->dur->early) == -1)
			ds_node_nomem();
		n->own = ds_outq_stream(&n->oq, c->id);
	}
	for (i = 0; i < c->npart; i++)
		if (ds_outq_part(&n->oq, c->part[i].dist, c->part[i].ids,
		    c->part[i].n) == -1)
			ds_node_nomem();	/* the ids were checked */
	if ((n->srv = ds_pull_srv_open(n->loop, c->listen, &srv_ops,
	    n)) == NULL && errno == EEXIST)
		ds_die(DS_EX_IOERR, "unable to listen at %s: not a socket: "
		    "left alone", c->listen);
	if (n->srv == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to listen at %s: %s",
		    c->listen, ds_pull_strerror(errno));
}

/* --- inputs ----------------------------------------------------------- */

/* A router's input bundle goes to its producer's stream as it is. */
static void
pass(struct ds_node *n, const struct ds_node_in *in,
    const struct ds_bundle *b)
{
	struct ds_outq_stream *s;

	if ((s = ds_outq_stream(&n->oq, b->producer)) == NULL)
		return;		/* the inlet checked it */
	if (b->epoch > s->epoch)
		ds_outq_epoch(&n->oq, s, b->epoch,
		    in->cfg->once == DS_ONCE_LEAST);
	if (ds_outq_append_bundle(&n->oq, s, b) == -1) {
		if (errno == ENOMEM)
			ds_node_nomem();
		ds_warn("dropped a bundle of producer %llu out of order",
		    (unsigned long long)b->producer);
		return;
	}
	n->cnt_out += b->count;
	n->wake = 1;
}

/*
 * Input after the inputs stopped: a producer restarted during the stop
 * (at least once it serves what we had again).  Take it, and end again
 * when its new stop comes.
 */
static void
reopen(struct ds_node *n)
{
	ds_info("input after the stop: a producer restarted; going on");
	n->inputs_ended = n->ending = n->stopped = 0;
	if (n->own != NULL && n->own->stopped)
		ds_outq_stop(&n->oq, n->own, 0);
}

static int
on_inlet_bundle(void *arg, struct ds_inlet *inlet, const struct ds_bundle *b)
{
	struct ds_node_in *in = arg;
	struct ds_node *n = in->n;

	(void)inlet;
	if (n->inputs_ended && n->stopped && n->cfg.kind != DS_NODE_ROUTER)
		reopen(n);
	n->cnt_in += b->count;
	if (n->cfg.kind == DS_NODE_ROUTER)
		pass(n, in, b);
	else if (n->prog->bundle != NULL)
		n->prog->bundle(n->arg, b);
	return 0;
}

static void
on_inlet_event(void *arg, struct ds_inlet *inlet, int ev, const char *msg)
{
	struct ds_node_in *in = arg;
	const struct ds_inlet_prod *ps;
	size_t i, np;

	switch (ev) {
	case DS_INLET_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced by %s: a newer epoch than %u "
		    "of this instance pulls there", in->cfg->addr,
		    (unsigned)in->n->cfg.epoch);
	case DS_INLET_BAD:
		ds_warn("%s: %s", in->cfg->addr, msg ? msg : "bad reply");
		break;
	case DS_INLET_PROGRESS:
		if (ds_log_max < DS_LOG_DEBUG)
			break;
		np = ds_inlet_prods(inlet, &ps);
		for (i = 0; i < np; i++)
			ds_debug("%s: producer %llu epoch %u: at %llu%s",
			    in->cfg->addr, (unsigned long long)ps[i].producer,
			    (unsigned)ps[i].epoch,
			    (unsigned long long)ps[i].recv,
			    ps[i].ended ? ", ended" : "");
		break;
	default:
		break;
	}
}

static const struct ds_inlet_ops inlet_ops = {
	on_inlet_bundle, on_inlet_event
};

/* One inlet per --pull, at the recovered frontier. */
static void
open_inputs(struct ds_node *n)
{
	const struct ds_mark_pos *p;
	struct ds_inlet_cfg ic;
	struct ds_node_in *in;
	size_t i, k;
	uint32_t j;

	if ((n->in = calloc(n->cfg.npull ? n->cfg.npull : 1,
	    sizeof(*n->in))) == NULL)
		ds_node_nomem();
	for (i = 0; i < n->cfg.npull; i++) {
		in = &n->in[i];
		in->n = n;
		in->cfg = &n->cfg.pull[i];
		in->base = n->nfront;
		n->nfront += in->cfg->nprod;
		memset(&ic, 0, sizeof(ic));
		ic.addr = in->cfg->addr;
		ic.producers = in->cfg->prod;
		ic.nproducers = in->cfg->nprod;
		ic.consumer = n->cfg.id;
		ic.epoch = n->cfg.epoch;
		ic.once = in->cfg->once;
		ic.max_tuples = PULL_TUPLES;
		ic.max_bytes = n->cfg.buffer / 2 < PULL_BYTES ?
		    (uint32_t)(n->cfg.buffer / 2) : PULL_BYTES;
		ic.wait_ms = PULL_WAIT;
		ic.maxtuple = n->maxtuple;
		/* After an orderly stop every position is exact. */
		ic.restarted = n->cfg.epoch > 1 && !n->cfg.resumed ?
		    DS_INLET_RESTARTED : 0;
		if ((in->inlet = ds_inlet_open(n->loop, &ic, &inlet_ops,
		    in)) == NULL)
			ds_die(DS_EX_UNAVAILABLE, "unable to pull from %s: %s",
			    in->cfg->addr, ds_pull_strerror(errno));
	}
	if ((n->front = calloc(n->nfront ? n->nfront : 1,
	    sizeof(*n->front))) == NULL ||
	    (n->last = calloc(n->nfront ? n->nfront : 1,
	    sizeof(*n->last))) == NULL)
		ds_node_nomem();
	for (j = 0; j < n->rec.n; j++) {
		p = &n->rec.pos[j];
		for (i = 0; i < n->cfg.npull; i++) {
			in = &n->in[i];
			for (k = 0; k < in->cfg->nprod; k++)
				if (in->cfg->prod[k] == p->producer)
					break;
			if (k == in->cfg->nprod)
				continue;
			if (ds_inlet_restore(in->inlet, p->producer, p->epoch,
			    p->seq, !!(p->flags & DS_PROD_ENDED), p->end) == -1)
				ds_node_nomem();
			break;
		}
		if (i == n->cfg.npull)
			ds_warn("recovery: producer %llu is no longer an "
			    "input: its position is ignored",
			    (unsigned long long)p->producer);
	}
}

/* Start pulling, once the units of the start are durable. */
static void
go(struct ds_node *n)
{
	size_t i, k;

	n->going = 1;
	for (i = 0; i < n->cfg.npull; i++) {
		for (k = 0; k < n->cfg.nended; k++)
			ds_inlet_end(n->in[i].inlet, n->cfg.ended[k]);
		if (!n->paused)
			ds_inlet_start(n->in[i].inlet);
	}
}

static int
inputs_over(const struct ds_node *n)
{
	size_t i;

	for (i = 0; i < n->cfg.npull; i++)
		if (!ds_inlet_ended(n->in[i].inlet))
			return 0;
	return 1;
}

/*
 * A router, every round: what its inlets know of each producer (a new
 * epoch, seqs scanned, the end) goes to that producer's stream, and each
 * producer is acked upstream as far as every consumer acked its stream.
 */
static void
pass_sync(struct ds_node *n)
{
	const struct ds_inlet_prod *ps;
	struct ds_outq_stream *s;
	struct ds_node_in *in;
	size_t i, j, np;

	for (i = 0; i < n->cfg.npull; i++) {
		in = &n->in[i];
		np = ds_inlet_prods(in->inlet, &ps);
		for (j = 0; j < np; j++) {
			if ((s = ds_outq_stream(&n->oq, ps[j].producer)) ==
			    NULL)
				continue;
			if (ps[j].epoch > s->epoch)
				ds_outq_epoch(&n->oq, s, ps[j].epoch,
				    in->cfg->once == DS_ONCE_LEAST);
			if (!ps[j].ended && s->stopped) {
				ds_outq_stop(&n->oq, s, 0);	/* goes on */
				n->wake = 1;
			}
			if (ps[j].epoch == s->epoch)
				ds_outq_skip(&n->oq, s, ps[j].recv);
			if (ps[j].ended && ps[j].recv >= ps[j].end &&
			    !s->ended && ps[j].epoch == s->epoch) {
				ds_outq_skip(&n->oq, s, ps[j].end);
				if (ps[j].stopped)
					ds_outq_stop(&n->oq, s, 1);
				else
					ds_outq_end(&n->oq, s);
				n->wake = 1;
			}
			if (s->stopped)
				n->stopped = 1;
			ds_inlet_ack(in->inlet, ps[j].producer, s->epoch,
			    ds_outq_minack(&n->oq, s));
		}
	}
}

/* --- the end ---------------------------------------------------------- */

/* Some input ended by an orderly stop, not at its end. */
static int
inputs_stopped(const struct ds_node *n)
{
	const struct ds_inlet_prod *ps;
	size_t i, j, np;

	for (i = 0; i < n->cfg.npull; i++) {
		np = ds_inlet_prods(n->in[i].inlet, &ps);
		for (j = 0; j < np; j++)
			if (ps[j].stopped)
				return 1;
	}
	return 0;
}

/*
 * The job stops in order.  A program without inputs stops reading and
 * ends its output as stopped, unless it ended for real already; the
 * others go on until their inputs stop.
 */
static void
drain(struct ds_node *n)
{
	if (n->cfg.npull > 0 || n->cfg.kind == DS_NODE_ROUTER) {
		ds_debug("the job stops in order: finishing what comes");
		return;
	}
	if (n->ending) {
		ds_info("the job stops in order: the input had ended");
		return;
	}
	ds_info("the job stops in order: reading no more");
	n->stopped = 1;
	if (n->prog->drain != NULL)
		n->prog->drain(n->arg);
	else
		ds_node_end(n);
}

/* All acks delivered upstream (or given up on). */
static int
synced(const struct ds_node *n)
{
	size_t i;

	for (i = 0; i < n->cfg.npull; i++)
		if (!ds_inlet_synced(n->in[i].inlet))
			return 0;
	return 1;
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_node *n = w->data;

	(void)revents;
	if (synced(n) || ev_now(loop) >= n->grace_until) {
		ev_timer_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
	}
}

/* Done: beat DONE, answer and close, leave the loop shortly after. */
static void
finish(struct ds_node *n)
{
	n->finishing = 1;
	ds_node_valid(n);
	ds_info("%s: %llu tuples in, %llu out", n->stopped ? "stopped in "
	    "order" : "done", (unsigned long long)n->cnt_in,
	    (unsigned long long)n->cnt_out);
	if (n->lease != NULL) {
		counters(n);
		ds_lease_done(n->lease, n->stopped);
	}
	/*
	 * Let the last replies and the DONE beat leave before exit, and keep
	 * the inlets pulling until the producers have seen our last acks
	 * (they need them to finish): the request out now may be parked
	 * upstream, and the inlet sends it again with the new acks.  Give up
	 * after two long-poll waits.
	 */
	n->grace_until = ev_now(n->loop) + GRACE + 2 * PULL_WAIT / 1000.0;
	ev_timer_init(&n->grace, grace_cb, GRACE, 0.01);
	n->grace.data = n;
	ev_timer_start(n->loop, &n->grace);
}

/* Is the job of this node over? */
static int
over(struct ds_node *n)
{
	if (n->nwriting > 0)
		return 0;
	if (!n->has_oq)
		return n->inputs_ended && !ds_node_moved(n);
	return ds_outq_done(&n->oq);
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ds_node *n = w->data;

	(void)loop;
	(void)revents;
	if (n->finishing || !n->resumed)
		return;
	if (!n->going && n->nwriting == 0)
		go(n);
	if (n->drain_due) {
		n->drain_due = 0;	/* the lease says DRAIN once */
		drain(n);
	}
	if (n->prog->tick != NULL)
		n->prog->tick(n->arg);
	if (n->cfg.kind == DS_NODE_ROUTER)
		pass_sync(n);
	if (n->going && !n->inputs_ended && inputs_over(n)) {
		n->inputs_ended = 1;
		if (inputs_stopped(n))
			n->stopped = 1;
		if (n->prog->ended != NULL)
			n->prog->ended(n->arg);
	}
	if (n->ending && n->nwriting == 0 && n->own != NULL &&
	    !n->own->ended) {
		if (n->stopped)
			ds_outq_stop(&n->oq, n->own, 1);
		else
			ds_outq_end(&n->oq, n->own);
		n->wake = 1;
	}
	if (n->wake) {
		/* Once per loop round: one reply for all output of the round. */
		n->wake = 0;
		if (n->srv != NULL)
			ds_pull_srv_wake(n->srv);
	}
	pop_acked(n);
	n->dur->tick(n);
	pressure(n);
	if (n->finishing)
		return;
	if (n->lease != NULL)
		counters(n);
	if (over(n))
		finish(n);
}

/* --- start ------------------------------------------------------------ */

int
ds_node_load(struct ds_node *n, const struct ds_frame *f)
{
	struct ds_rec r;
	const char *why;

	if (ds_rec_get(f, &r, NULL, &why) == -1)
		ds_die(DS_EX_DATAERR, "recovery: a bad record: %s", why);
	if (f->type == DS_FRAME_TIMER) {
		if (n->prog->load_timer == NULL)
			ds_die(DS_EX_DATAERR, "recovery: a TIMER record for "
			    "an instance without timers");
		if (n->prog->load_timer(n->arg, r.key, r.keylen, r.when) != 0)
			ds_node_nomem();
		return 0;
	}
	if (n->prog->load == NULL)
		ds_die(DS_EX_DATAERR, "recovery: a state record for an "
		    "instance without state");
	if (n->prog->load(n->arg, r.key, r.keylen, r.val, r.vallen) != 0)
		ds_die(DS_EX_SOFTWARE, "recovery: applying a state change "
		    "failed");
	return 0;
}

void
ds_node_recovered(struct ds_node *n)
{
	struct ds_buf rec = n->recout;

	if (n->cfg.listen != NULL) {
		listen_out(n, n->recfirst ? n->recfirst : n->res.outseq + 1);
		memset(&n->recout, 0, sizeof(n->recout));
		if (rec.len > 0)
			publish(n, &(struct ds_unit){ .out = rec });
		ds_buf_free(&rec);
	}
	open_inputs(n);
	n->outseq = n->res.outseq;
	n->resumed = 1;
	if (n->prog->resume != NULL)
		n->prog->resume(n->arg, &n->res);
	if (ds_notify_ready(n->co, NULL) == -1)
		ds_warnsys("unable to signal readiness");
}

void
ds_node_start(struct ds_node *n, struct ev_loop *loop, struct ds_common *co,
    const struct ds_node_prog *prog, void *arg)
{
	static const struct ds_node_prog none;

	n->loop = loop;
	n->co = co;
	n->prog = prog != NULL ? prog : &none;
	n->arg = arg;
	ds_pull_keep_memory();
	n->drain_due = n->cfg.drain;
	if (n->cfg.master != NULL && (n->lease = ds_lease_open(loop,
	    n->cfg.master, n->cfg.id, n->cfg.epoch, n->cfg.keepalive_ms,
	    on_lost, n)) == NULL)
		ds_diesys(DS_EX_UNAVAILABLE, "unable to reach the master at %s",
		    n->cfg.master);
	if (n->cfg.master != NULL && (n->eq = ds_epochq_open(loop,
	    n->cfg.master, on_answer, n)) == NULL)
		ds_diesys(DS_EX_UNAVAILABLE, "unable to reach the master at %s",
		    n->cfg.master);
	ev_prepare_init(&n->prep, prepare_cb);
	n->prep.data = n;
	ev_prepare_start(loop, &n->prep);
	n->dur->open(n);
}
