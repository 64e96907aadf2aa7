/*
 * inlet.c: one input edge of a topology instance.  A long-poll loop over
 * one pull.h client: build a PULL (per producer: from = the received
 * frontier + 1, ack per mode), send it, take the REPLY, apply it, send
 * the next one at once unless stopped.  A reply is checked whole (every
 * frame and every bundle decodes) before anything of it is applied, so a
 * corrupt reply changes nothing.  Per producer: a bundle of an older epoch
 * than the highest seen is refused (fenced); a newer epoch is a restart of
 * the producer, whose replay is accepted in least mode and deduplicated
 * against the received frontier in most mode; within an epoch tuples at or
 * below the frontier are duplicates.  Never prints, never exits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "net/inlet.h"
#include "net/outq.h"

#define RETRY_S		0.1	/* after a bad reply or a failed send */
#define SLACK_S		2.0	/* client timeout beyond the server's wait */
#define NUDGE_S		0.005	/* a request out this long may be parked */

struct ds_inlet {
	struct ev_loop			*loop;
	struct ds_inlet_cfg		 cfg;
	char				*addr;
	const struct ds_inlet_ops	*ops;
	void				*arg;
	struct ds_pull_cli		*cli;
	struct ds_inlet_prod		*prod;
	int				*fromnew;	/* ask DS_FROM_NEW */
	int				*stale;		/* scratch, per reply */
	struct ds_pos			*pos;		/* request vector */
	uint64_t			*sent_ack;	/* acks in the request out */
	uint64_t			*synced_ack;	/* acks answered */
	ev_tstamp			 sent_at;
	size_t				 n;
	struct ds_buf			 req;
	struct ds_bundle		 b;
	ev_timer			 retry;
	ev_prepare			 sendw;		/* deferred send_next */
	int				 running;	/* start()ed */
	int				 dead;		/* fenced or owner failed */
	int				 inreply;	/* in on_reply */
	int				 closing;	/* close() during it */
	uint64_t			 fenced, dups, bad;
};

static void send_next(struct ds_inlet *);

static struct ds_inlet_prod *
find(struct ds_inlet *in, uint64_t producer, size_t *idx)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		if (in->prod[i].producer == producer) {
			if (idx != NULL)
				*idx = i;
			return &in->prod[i];
		}
	return NULL;
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_inlet *in = w->data;

	(void)loop;
	(void)revents;
	send_next(in);
}

static void
retry_later(struct ds_inlet *in)
{
	ev_timer_stop(in->loop, &in->retry);
	ev_timer_set(&in->retry, RETRY_S, 0);
	ev_timer_start(in->loop, &in->retry);
}

/* Build the next PULL in in->req and send it (replace: cancel the
 * outstanding one first). */
static int
send_req(struct ds_inlet *in, int replace)
{
	struct ds_pull_msg m;
	struct ds_inlet_prod *p;
	size_t i;
	int rc;

	for (i = 0; i < in->n; i++) {
		p = &in->prod[i];
		if (in->cfg.once == DS_ONCE_MOST && p->ack < p->recv)
			p->ack = p->recv;
		in->pos[i].producer = p->producer;
		if (in->fromnew[i])
			in->pos[i].from = DS_FROM_NEW;
		else
			in->pos[i].from = p->recv == 0 ? 0 : p->recv + 1;
		in->pos[i].ack = p->ack;
		in->pos[i].epoch = p->epoch;
	}
	memset(&m, 0, sizeof(m));
	m.consumer = in->cfg.consumer;
	m.epoch = in->cfg.epoch;
	m.max_tuples = in->cfg.max_tuples;
	m.max_bytes = in->cfg.max_bytes;
	m.wait_ms = in->cfg.wait_ms;
	m.n = (uint32_t)in->n;
	m.pos = in->pos;
	ds_buf_reset(&in->req);
	if (ds_msg_pull_put(&in->req, &m) == -1)
		return -1;
	if (replace)
		rc = ds_pull_cli_replace(in->cli, in->req.p, in->req.len,
		    in->cfg.wait_ms / 1000.0 + SLACK_S);
	else
		rc = ds_pull_cli_send(in->cli, in->req.p, in->req.len,
		    in->cfg.wait_ms / 1000.0 + SLACK_S);
	if (rc == -1)
		return -1;
	for (i = 0; i < in->n; i++)
		in->sent_ack[i] = in->pos[i].ack;
	in->sent_at = ev_now(in->loop);
	return 0;
}

/*
 * After a reply, the next request leaves from a prepare watcher of the
 * lowest priority: after the owner's own prepare work of this loop round
 * (which typically acks what the reply brought), so the request carries
 * those acks instead of waiting parked upstream with stale ones.
 */
static void
sendw_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ds_inlet *in = w->data;

	(void)revents;
	ev_prepare_stop(loop, w);
	send_next(in);
}

static void
send_next(struct ds_inlet *in)
{
	if (!in->running || in->dead || ds_pull_cli_busy(in->cli) ||
	    ev_is_active(&in->retry))
		return;
	if (send_req(in, 0) == -1)
		retry_later(in);
}

/*
 * The owner acked more after every producer ended.  If the request out
 * has waited a while (it is parked upstream until its deadline: no data
 * will come to wake it), send it again with the new acks: the producers
 * need them to finish.  While data flows the next request carries the
 * acks soon enough, and replacing requests then costs far more than it
 * saves (measured: 5-8x slower through a router), so it is left alone.
 */
static void
nudge(struct ds_inlet *in)
{
	size_t i;

	if (!in->running || in->dead || in->inreply ||
	    !ds_pull_cli_busy(in->cli) || !ds_inlet_ended(in) ||
	    ev_now(in->loop) - in->sent_at < NUDGE_S)
		return;
	for (i = 0; i < in->n; i++)
		if (in->prod[i].ack > in->sent_ack[i])
			break;
	if (i == in->n)
		return;
	if (send_req(in, 1) == -1)
		retry_later(in);
}

static void
event(struct ds_inlet *in, int ev, const char *msg)
{
	if (in->ops->on_event != NULL)
		in->ops->on_event(in->arg, in, ev, msg);
}

static void
bad(struct ds_inlet *in, const char *why)
{
	in->bad++;
	event(in, DS_INLET_BAD, why != NULL ? why : "corrupt reply");
	retry_later(in);
}

/*
 * Check the whole message: a REPLY first, then BUNDLE frames of known
 * producers that decode.  Fills *r (r->pos malloc'ed).  0 or -1 (*why).
 */
static int
check(struct ds_inlet *in, const unsigned char *msg, size_t len,
    struct ds_reply_msg *r, const char **why)
{
	struct ds_frame f;
	size_t off = 0;
	int k;

	r->pos = NULL;
	if ((k = ds_msg_next(msg, len, &off, &f, why)) != 1) {
		if (k == 0)
			*why = "empty reply";
		return -1;
	}
	if (f.type != DS_FRAME_REPLY) {
		*why = "reply does not start with a REPLY frame";
		return -1;
	}
	if (ds_msg_reply_get(r, f.payload, f.len, why) == -1) {
		if (*why == NULL)
			*why = "out of memory";
		return -1;
	}
	if (r->status != DS_PULL_OK)
		return 0;
	while ((k = ds_msg_next(msg, len, &off, &f, why)) == 1) {
		if (f.type != DS_FRAME_BUNDLE) {
			*why = "unexpected frame type in a reply";
			return -1;
		}
		if (ds_bundle_decode(&in->b, f.payload, f.len,
		    in->cfg.maxtuple, why) == -1) {
			if (*why == NULL)
				*why = "out of memory";
			return -1;
		}
		if (find(in, in->b.producer, NULL) == NULL) {
			*why = "bundle of a producer not served here";
			return -1;
		}
	}
	return k;
}

/*
 * A newer epoch of producer p: it restarted and replays from its
 * recovered point.  Least mode takes the replay: the frontier and the
 * ack start over with it (the new epoch's seqs may stand for other
 * tuples).  Most mode keeps its frontier and drops what it saw, and so
 * does exactly mode, where the replay is the same outputs with the same
 * seqs (they were durable in the producer's journal before anyone saw
 * them).
 */
static void
restarted(struct ds_inlet *in, struct ds_inlet_prod *p, uint32_t epoch)
{
	p->epoch = epoch;
	if (in->cfg.once == DS_ONCE_LEAST)
		p->recv = p->ack = 0;
	if (p->stopped) {	/* it goes on: its new end is to come */
		p->ended = p->stopped = 0;
		p->end = 0;
	}
}

/* Deliver one checked bundle.  0, or -1 when the owner failed. */
static int
deliver(struct ds_inlet *in, const unsigned char *payload, size_t len)
{
	struct ds_inlet_prod *p;
	const struct ds_bundle *out = &in->b;
	const char *why;
	size_t idx;
	uint32_t i, k;

	if (ds_bundle_decode(&in->b, payload, len, in->cfg.maxtuple,
	    &why) == -1)
		return 0;	/* checked already: only ENOMEM is left */
	p = find(in, in->b.producer, &idx);
	/*
	 * An older epoch's bundle is a zombie's, refused, except in exactly
	 * mode: there every bundle ever served was durable in its producer's
	 * journal first, and a restart serves the same tuples under the same
	 * seqs, so one a router still holds from before the producer's
	 * restart is as good as the replay (dropping it while the router's
	 * scanned position moves past it lost it: chaos seed 19).
	 */
	if (in->b.epoch < p->epoch && in->cfg.once != DS_ONCE_EXACTLY) {
		if (!in->stale[idx])
			in->fenced++;
		return 0;
	}
	if (in->b.epoch > p->epoch)
		restarted(in, p, in->b.epoch);
	for (i = k = 0; i < in->b.count; i++)
		if (in->b.t[i].seq > p->recv)
			k++;
	if (k == 0) {
		in->dups += in->b.count;
		return 0;
	}
	if (k < in->b.count) {		/* drop the duplicates in place */
		for (i = k = 0; i < in->b.count; i++)
			if (in->b.t[i].seq > p->recv)
				in->b.t[k++] = in->b.t[i];
		in->dups += in->b.count - k;
		in->b.count = k;
	}
	for (i = 0; i < out->count; i++)
		if (out->t[i].seq > p->recv)
			p->recv = out->t[i].seq;
	if (in->cfg.once == DS_ONCE_MOST)
		p->ack = p->recv;
	if (in->ops->on_bundle != NULL &&
	    in->ops->on_bundle(in->arg, in, out) == -1)
		return -1;
	return 0;
}

/* Apply a checked OK reply.  Returns 1 when it was all stale (a zombie). */
static int
apply(struct ds_inlet *in, const unsigned char *msg, size_t len,
    const struct ds_reply_msg *r)
{
	struct ds_inlet_prod *p;
	struct ds_frame f;
	const struct ds_pos *ps;
	const char *why;
	size_t off = 0, idx;
	uint32_t i;
	int moved = 0, fresh = 0, stale = 0;

	for (idx = 0; idx < in->n; idx++)
		in->stale[idx] = 0;
	/* Epochs first, so the bundles are judged against them. */
	for (i = 0; i < r->n; i++) {
		ps = &r->pos[i];
		if ((p = find(in, ps->producer, &idx)) == NULL)
			continue;
		/* Exactly-once: an older epoch is the same stream (deliver). */
		if (ps->epoch < p->epoch && in->cfg.once != DS_ONCE_EXACTLY) {
			in->stale[idx] = 1;
			in->fenced++;
			stale = 1;
			continue;
		}
		fresh = 1;
		if (ps->epoch > p->epoch) {
			restarted(in, p, ps->epoch);
			moved = 1;
		}
	}
	/* check() verified every frame: no second pass of CRCs. */
	(void)ds_msg_next_checked(msg, len, &off, &f, &why);	/* the REPLY */
	while (!in->closing &&
	    ds_msg_next_checked(msg, len, &off, &f, &why) == 1)
		if (deliver(in, f.payload, f.len) == -1) {
			in->dead = 1;
			return 0;
		}
	for (i = 0; i < r->n; i++) {
		ps = &r->pos[i];
		if ((p = find(in, ps->producer, &idx)) == NULL ||
		    in->stale[idx])
			continue;
		if (in->fromnew[idx]) {
			in->fromnew[idx] = 0;
			moved = 1;
		}
		if (ps->scanned > p->recv) {
			p->recv = ps->scanned;
			if (in->cfg.once == DS_ONCE_MOST)
				p->ack = p->recv;
			moved = 1;
		}
		if ((ps->flags & DS_PROD_ENDED) &&
		    (!p->ended || p->end != ps->end ||
		    p->stopped != !!(ps->flags & DS_PROD_STOPPED))) {
			p->ended = 1;
			p->stopped = !!(ps->flags & DS_PROD_STOPPED);
			p->end = ps->end;
			moved = 1;
		}
	}
	if (moved)
		event(in, DS_INLET_PROGRESS, NULL);
	return stale && !fresh;
}

static void
on_reply(void *arg, const unsigned char *msg, size_t len)
{
	struct ds_inlet *in = arg;
	struct ds_reply_msg r;
	const char *why = NULL;

	if (msg == NULL) {		/* timed out; the client reconnected */
		send_next(in);
		return;
	}
	in->inreply = 1;
	memcpy(in->synced_ack, in->sent_ack, in->n * sizeof(*in->sent_ack));
	if (check(in, msg, len, &r, &why) == -1)
		bad(in, why);
	else if (r.status == DS_PULL_FENCED) {
		in->dead = 1;
		event(in, DS_INLET_FENCED, "fenced by the server: a newer "
		    "epoch of this consumer pulled");
	} else if (r.status != DS_PULL_OK)
		bad(in, "the server does not serve this consumer");
	else if (apply(in, msg, len, &r))
		retry_later(in);	/* only a zombie answers: don't spin */
	free(r.pos);
	in->inreply = 0;
	if (in->closing) {
		ds_inlet_close(in);
		return;
	}
	ev_prepare_start(in->loop, &in->sendw);
}

struct ds_inlet *
ds_inlet_open(struct ev_loop *loop, const struct ds_inlet_cfg *cfg,
    const struct ds_inlet_ops *ops, void *arg)
{
	struct ds_inlet *in;
	size_t i;
	int e;

	if (cfg->nproducers > DS_MSG_MAXPROD || cfg->addr == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	in->loop = loop;
	in->cfg = *cfg;
	in->ops = ops;
	in->arg = arg;
	in->n = cfg->nproducers;
	if (in->cfg.wait_ms == 0)
		in->cfg.wait_ms = 500;
	if (in->cfg.maxtuple == 0)
		in->cfg.maxtuple = DS_TUPLE_MAX;
	ev_timer_init(&in->retry, retry_cb, 0, 0);
	in->retry.data = in;
	if ((in->addr = strdup(cfg->addr)) == NULL ||
	    (in->prod = calloc(in->n + 1, sizeof(*in->prod))) == NULL ||
	    (in->fromnew = calloc(in->n + 1, sizeof(int))) == NULL ||
	    (in->stale = calloc(in->n + 1, sizeof(int))) == NULL ||
	    (in->pos = calloc(in->n + 1, sizeof(*in->pos))) == NULL ||
	    (in->sent_ack = calloc(in->n + 1, sizeof(uint64_t))) == NULL ||
	    (in->synced_ack = calloc(in->n + 1, sizeof(uint64_t))) == NULL)
		goto fail;
	in->cfg.addr = in->addr;
	in->cfg.producers = NULL;
	for (i = 0; i < in->n; i++) {
		in->prod[i].producer = cfg->producers[i];
		in->fromnew[i] = cfg->once == DS_ONCE_MOST &&
		    cfg->restarted == DS_INLET_RESTARTED;
	}
	ev_prepare_init(&in->sendw, sendw_cb);
	ev_set_priority(&in->sendw, EV_MINPRI);
	in->sendw.data = in;
	if ((in->cli = ds_pull_cli_open(loop, in->addr, on_reply, in)) == NULL)
		goto fail;
	return in;
fail:
	e = errno;
	free(in->addr);
	free(in->prod);
	free(in->fromnew);
	free(in->stale);
	free(in->pos);
	free(in->sent_ack);
	free(in->synced_ack);
	free(in);
	errno = e;
	return NULL;
}

void
ds_inlet_close(struct ds_inlet *in)
{
	if (in == NULL)
		return;
	if (in->inreply) {
		in->closing = 1;
		in->running = 0;
		return;
	}
	ev_timer_stop(in->loop, &in->retry);
	ev_prepare_stop(in->loop, &in->sendw);
	ds_pull_cli_close(in->cli);
	ds_buf_free(&in->req);
	ds_bundle_free(&in->b);
	free(in->addr);
	free(in->prod);
	free(in->fromnew);
	free(in->stale);
	free(in->pos);
	free(in->sent_ack);
	free(in->synced_ack);
	free(in);
}

void
ds_inlet_start(struct ds_inlet *in)
{
	in->running = 1;
	if (!in->inreply)
		send_next(in);
}

void
ds_inlet_stop(struct ds_inlet *in)
{
	in->running = 0;
	ev_timer_stop(in->loop, &in->retry);
}

int
ds_inlet_restore(struct ds_inlet *in, uint64_t producer, uint32_t epoch,
    uint64_t seq, int ended, uint64_t end)
{
	struct ds_inlet_prod *p;

	if ((p = find(in, producer, NULL)) == NULL) {
		errno = EINVAL;
		return -1;
	}
	p->epoch = epoch;
	p->recv = p->ack = seq;
	p->ended = ended;
	p->end = ended ? end : 0;
	return 0;
}

void
ds_inlet_ack(struct ds_inlet *in, uint64_t producer, uint32_t epoch,
    uint64_t seq)
{
	struct ds_inlet_prod *p;

	if ((p = find(in, producer, NULL)) == NULL || (epoch != p->epoch &&
	    in->cfg.once != DS_ONCE_EXACTLY))
		return;
	if (seq > p->ack) {
		p->ack = seq;
		nudge(in);
	}
}

void
ds_inlet_ack_all(struct ds_inlet *in)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		if (in->prod[i].recv > in->prod[i].ack)
			in->prod[i].ack = in->prod[i].recv;
	nudge(in);
}

void
ds_inlet_end(struct ds_inlet *in, uint64_t producer)
{
	struct ds_inlet_prod *p;

	if ((p = find(in, producer, NULL)) != NULL && !p->ended) {
		p->ended = 1;
		p->end = p->recv;
	}
}

int
ds_inlet_synced(const struct ds_inlet *in)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		if (in->synced_ack[i] < in->prod[i].ack)
			return 0;
	return 1;
}

int
ds_inlet_ended(const struct ds_inlet *in)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		if (!in->prod[i].ended || in->prod[i].recv < in->prod[i].end)
			return 0;
	return 1;
}

size_t
ds_inlet_prods(const struct ds_inlet *in, const struct ds_inlet_prod **p)
{
	*p = in->prod;
	return in->n;
}

uint64_t
ds_inlet_fenced(const struct ds_inlet *in)
{
	return in->fenced;
}

uint64_t
ds_inlet_dups(const struct ds_inlet *in)
{
	return in->dups;
}

uint64_t
ds_inlet_bad(const struct ds_inlet *in)
{
	return in->bad;
}
