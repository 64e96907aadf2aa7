/*
 * outq.c: one producer's retained output stream.  A singly linked list of
 * whole BUNDLE frames in seq order, each with its first and last seq; a
 * bundle leaves the list once every consumer's ack reaches its last seq.
 * Serving never changes the list except through the request's ack, so a
 * parked request may be served again as often as the owner likes.  Pure
 * bookkeeping: no I/O, never prints.
 *
 * An item holds one piece per consumer view: piece 0 is the whole bundle
 * (empty when no consumer takes the whole stream), piece 1 + base + k is
 * part k of a group.  An empty piece is skipped in replies, but its seqs
 * still count as scanned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "net/outq.h"
#include "core/part.h"
#include "core/tuple.h"
#include "core/wire.h"

/*
 * A consumer that has nothing but empty pieces to come is answered
 * anyway (an empty reply that moves its scanned seq, so its ack frees
 * the queue) once the queue holds this much; below it, its request stays
 * parked until data or its deadline comes.
 */
#define NUDGE_BYTES	(1u << 20)

struct ds_outq_piece {
	unsigned char	*p;		/* NULL: empty */
	size_t		 len;
	uint32_t	 count;
};

struct ds_outq_item {
	struct ds_outq_item	*next;
	uint64_t		 first, last;
	uint32_t		 count;		/* tuples of the whole bundle */
	size_t			 len;		/* bytes of every piece */
	struct ds_outq_piece	 pc[];		/* npiece, then piece 0 bytes */
};

int
ds_outq_init(struct ds_outq *q, uint64_t producer, uint32_t epoch,
    uint64_t first, const uint64_t *consumers, size_t n)
{
	size_t i;

	memset(q, 0, sizeof(*q));
	q->producer = producer;
	q->epoch = epoch;
	q->first = q->next = first ? first : 1;
	if (n > 0) {
		q->cons = calloc(n, sizeof(*q->cons));
		if (q->cons == NULL)
			return -1;
	}
	for (i = 0; i < n; i++)
		q->cons[i].id = consumers[i];
	q->ncons = n;
	q->npiece = 1;
	return 0;
}

static struct ds_outq_cons *
consumer(struct ds_outq *q, uint64_t id)
{
	size_t i;

	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].id == id)
			return &q->cons[i];
	return NULL;
}

/* Make *v an array of n elements of size sz (contents not kept). */
static int
grow(void *v, size_t n, size_t sz)
{
	void *p;

	if ((p = realloc(*(void **)v, n * sz)) == NULL)
		return -1;
	*(void **)v = p;
	return 0;
}

int
ds_outq_part(struct ds_outq *q, enum ds_dist dist, const uint64_t *ids,
    size_t n)
{
	struct ds_outq_group *g;
	struct ds_outq_cons *c;
	size_t k;

	if (n == 0 || q->next != q->first ||
	    (dist != DS_DIST_HASH && dist != DS_DIST_RANGE &&
	    dist != DS_DIST_SHUFFLE)) {
		errno = EINVAL;
		return -1;
	}
	for (k = 0; k < n; k++)
		if ((c = consumer(q, ids[k])) == NULL || c->piece != 0) {
			errno = EINVAL;
			return -1;
		}
	if (n > q->partcap && (grow(&q->need, n, sizeof(*q->need)) == -1 ||
	    grow(&q->w, n, sizeof(*q->w)) == -1 ||
	    grow(&q->wb, n, sizeof(*q->wb)) == -1))
		return -1;
	if (n > q->partcap)
		q->partcap = n;
	g = realloc(q->group, (q->ngroup + 1) * sizeof(*g));
	if (g == NULL)
		return -1;
	q->group = g;
	g = &q->group[q->ngroup++];
	g->dist = dist;
	g->n = n;
	g->base = q->npiece - 1;
	for (k = 0; k < n; k++)
		consumer(q, ids[k])->piece = q->npiece + k;
	q->npiece += n;
	return 0;
}

static void
item_free(const struct ds_outq *q, struct ds_outq_item *it)
{
	size_t i;

	for (i = 1; i < q->npiece; i++)
		free(it->pc[i].p);
	free(it);
}

void
ds_outq_term(struct ds_outq *q)
{
	struct ds_outq_item *it, *nx;

	for (it = q->head; it != NULL; it = nx) {
		nx = it->next;
		item_free(q, it);
	}
	free(q->cons);
	free(q->group);
	free(q->tgt);
	free(q->need);
	free(q->w);
	free(q->wb);
	ds_bundle_free(&q->dec);
	memset(q, 0, sizeof(*q));
}

uint64_t
ds_outq_minack(const struct ds_outq *q)
{
	uint64_t m = UINT64_MAX;
	size_t i;

	if (q->ncons == 0)
		return q->next - 1;
	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].ack < m)
			m = q->cons[i].ack;
	return m;
}

/* Drop every bundle that all consumers acked. */
static void
release(struct ds_outq *q)
{
	uint64_t m = ds_outq_minack(q);
	struct ds_outq_item *it;

	while ((it = q->head) != NULL && it->last <= m) {
		q->head = it->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->bytes -= it->len;
		q->tuples -= it->count;
		item_free(q, it);
	}
}

/* Does some consumer take the whole stream? */
static int
wants_whole(const struct ds_outq *q)
{
	size_t i;

	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].piece == 0)
			return 1;
	return q->ncons == 0;
}

/*
 * Split the bundle frame f into the parts of every group, into it: one
 * pass to find each tuple's part and each part's size, one to encode
 * every tuple into its part's buffer (of exactly that size).
 */
static int
split(struct ds_outq *q, struct ds_outq_item *it, const unsigned char *f,
    size_t len)
{
	const struct ds_outq_group *g;
	struct ds_bundle *b = &q->dec;
	const char *why;
	size_t gi, k, i;
	int rc = 0;

	if (ds_bundle_decode(b, f + DS_FRAME_HDR, len - DS_FRAME_HDR,
	    SIZE_MAX, &why) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (b->count > q->tgtcap) {
		if (grow(&q->tgt, b->count, sizeof(*q->tgt)) == -1)
			return -1;
		q->tgtcap = b->count;
	}
	for (gi = 0; gi < q->ngroup && rc == 0; gi++) {
		g = &q->group[gi];
		memset(q->need, 0, g->n * sizeof(*q->need));
		for (i = 0; i < b->count; i++) {
			k = ds_part_target(g->dist, &b->t[i], b->producer,
			    g->n);
			q->tgt[i] = (uint32_t)k;
			q->need[k] += ds_tuple_size(&b->t[i]);
		}
		for (k = 0; k < g->n; k++) {
			q->wb[k] = (struct ds_buf)DS_BUF_INIT;
			if (q->need[k] > 0 && rc == 0 &&
			    (ds_buf_grow(&q->wb[k], DS_FRAME_HDR +
			    DS_BUNDLE_HDR + q->need[k]) == -1 ||
			    ds_bundle_begin(&q->w[k], &q->wb[k], b->producer,
			    b->epoch) == -1))
				rc = -1;
		}
		for (i = 0; i < b->count && rc == 0; i++)
			rc = ds_bundle_add(&q->w[q->tgt[i]], &b->t[i]);
		for (k = 0; k < g->n; k++) {
			struct ds_outq_piece *pc = &it->pc[1 + g->base + k];

			if (q->need[k] > 0 && rc == 0) {
				pc->count = q->w[k].count;
				rc = ds_bundle_end(&q->w[k]);
			}
			if (q->need[k] > 0 && rc == 0) {
				pc->p = ds_buf_detach(&q->wb[k], &pc->len);
				it->len += pc->len;
			}
			ds_buf_free(&q->wb[k]);
		}
	}
	return rc;
}

int
ds_outq_append(struct ds_outq *q, const void *frame, size_t len,
    uint64_t first, uint64_t last)
{
	struct ds_outq_item *it;
	const unsigned char *p = frame;
	size_t hdr, whole;

	if (first > last || first < q->next || q->ended ||
	    (q->ngroup > 0 && len < DS_FRAME_HDR + DS_BUNDLE_HDR)) {
		errno = EINVAL;
		return -1;
	}
	whole = wants_whole(q) ? len : 0;
	hdr = sizeof(*it) + q->npiece * sizeof(it->pc[0]);
	if ((it = calloc(1, hdr + whole)) == NULL)
		return -1;
	it->first = first;
	it->last = last;
	if (len >= DS_FRAME_HDR + DS_BUNDLE_HDR)
		it->count = ds_get_le32(p + DS_FRAME_HDR + 12);
	else
		it->count = (uint32_t)(last - first + 1);
	if (whole > 0) {
		it->pc[0].p = (unsigned char *)it + hdr;
		it->pc[0].len = len;
		it->pc[0].count = it->count;
		memcpy(it->pc[0].p, frame, len);
		it->len = len;
	}
	if (q->ngroup > 0 && split(q, it, p, len) == -1) {
		item_free(q, it);
		return -1;
	}
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->bytes += it->len;
	q->tuples += it->count;
	q->next = last + 1;
	release(q);
	return 0;
}

void
ds_outq_end(struct ds_outq *q)
{
	q->ended = 1;
}

int
ds_outq_done(const struct ds_outq *q)
{
	size_t i;

	if (!q->ended)
		return 0;
	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].ack < q->next - 1 || !q->cons[i].told_end)
			return 0;
	return 1;
}

static int
put_reply(struct ds_outq *q, struct ds_buf *reply, uint32_t status,
    struct ds_pos *pos)
{
	struct ds_reply_msg r;

	r.status = status;
	r.server = q->producer;
	r.epoch = q->epoch;
	r.n = pos != NULL ? 1 : 0;
	r.pos = pos;
	return ds_msg_reply_put(reply, &r);
}

/*
 * The first bundle to send to c for a request from `from`, or NULL when
 * nothing is pending.  Bundles the consumer acked are never sent again.
 */
static struct ds_outq_item *
start_of(struct ds_outq *q, const struct ds_outq_cons *c, uint64_t from)
{
	struct ds_outq_item *it;
	uint64_t oldest = q->head != NULL ? q->head->first : q->next;

	if (from < oldest || from > q->next)
		from = oldest;
	for (it = q->head; it != NULL; it = it->next)
		if (it->last >= from && it->last > c->ack)
			return it;
	return NULL;
}

static int
add_frame(void *arg, const void *p, size_t len)
{
	return ds_buf_add(arg, p, len);
}

int
ds_outq_serve(struct ds_outq *q, const struct ds_pull_msg *m, int final,
    struct ds_buf *reply)
{
	return ds_outq_serve_ref(q, m, final, reply, add_frame, reply);
}

int
ds_outq_serve_ref(struct ds_outq *q, const struct ds_pull_msg *m, int final,
    struct ds_buf *reply, int (*ref)(void *, const void *, size_t), void *arg)
{
	struct ds_outq_cons *c;
	struct ds_outq_item *it, *end, *last = NULL;
	const struct ds_outq_piece *pc;
	struct ds_pos pos;
	uint64_t from = 0, ack = 0, ntup = 0;
	size_t nbytes = 0, nsent = 0, pi, mark = reply->len;
	uint32_t i;
	int acked = 0;

	if ((c = consumer(q, m->consumer)) == NULL)
		return put_reply(q, reply, DS_PULL_UNKNOWN, NULL) == -1 ? -1 : 1;
	if (m->epoch < c->epoch) {
		q->fenced++;
		return put_reply(q, reply, DS_PULL_FENCED, NULL) == -1 ? -1 : 1;
	}
	if (m->epoch > c->epoch) {
		c->epoch = m->epoch;
		c->told_end = 0;
		c->served = 0;
		c->sent = 0;
	}
	for (i = 0; i < m->n; i++)
		if (m->pos[i].producer == q->producer) {
			from = m->pos[i].from;
			ack = m->pos[i].ack;
			break;
		}
	/* Stale positions (outq.h). */
	if (!c->served && from != DS_FROM_NEW)
		from = 0;
	if (ack > c->sent && ack > q->first - 1)
		ack = c->sent > q->first - 1 ? c->sent : q->first - 1;
	if (ack > c->ack) {
		c->ack = ack;
		release(q);
		acked = 1;
	}

	pi = c->piece;
	if (from == DS_FROM_NEW) {
		/* At most once after a restart: forget what is retained. */
		for (it = q->head; it != NULL; it = it->next)
			if (it->last > c->ack)
				q->skipped += it->pc[pi].count;
		it = NULL;
	} else
		it = start_of(q, c, from);
	for (end = it; end != NULL && end->pc[pi].len == 0; end = end->next)
		;
	/*
	 * Nothing to send: park, unless this ack finished c's part of an
	 * ended stream.  That request is answered at once, so c learns its
	 * last ack arrived and can exit now rather than at its timeout (a
	 * reply to a request parked here is lost when this process exits).
	 * Only parts for others pending: park too, unless they hold up much
	 * of the queue (see NUDGE_BYTES).
	 */
	if (end == NULL && !final && from != DS_FROM_NEW &&
	    (!q->ended || c->told_end) &&
	    !(acked && q->ended && c->ack >= q->next - 1) &&
	    (it == NULL || q->bytes < NUDGE_BYTES))
		return 0;

	/* Whole pieces up to the limits, at least one. */
	for (end = it; end != NULL; end = end->next) {
		pc = &end->pc[pi];
		if (nsent > 0 && pc->len > 0 && ((m->max_tuples != 0 &&
		    ntup + pc->count > m->max_tuples) ||
		    (m->max_bytes != 0 && nbytes + pc->len > m->max_bytes) ||
		    nbytes + pc->len > DS_FRAME_MAX))
			break;
		ntup += pc->count;
		nbytes += pc->len;
		nsent += pc->len > 0;
		last = end;
	}

	memset(&pos, 0, sizeof(pos));
	pos.producer = q->producer;
	pos.epoch = q->epoch;
	pos.scanned = end != NULL ? last->last : q->next - 1;
	if (q->ended && pos.scanned >= q->next - 1) {
		pos.flags |= DS_PROD_ENDED;
		pos.end = q->next - 1;
	}
	if (put_reply(q, reply, DS_PULL_OK, &pos) == -1)
		goto fail;
	for (; it != end; it = it->next)
		if (it->pc[pi].len > 0 &&
		    ref(arg, it->pc[pi].p, it->pc[pi].len) == -1)
			goto fail;
	if (pos.flags & DS_PROD_ENDED)
		c->told_end = 1;
	if (pos.scanned > c->sent)
		c->sent = pos.scanned;
	c->served = 1;
	return 1;
fail:
	reply->len = mark;
	return -1;
}
