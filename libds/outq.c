/*
 * outq.c: one producer's retained output stream.  A singly linked list of
 * whole BUNDLE frames in seq order, each with its first and last seq; a
 * bundle leaves the list once every consumer's ack reaches its last seq.
 * Serving never changes the list except through the request's ack, so a
 * parked request may be served again as often as the owner likes.  Pure
 * bookkeeping: no I/O, never prints.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "outq.h"
#include "tuple.h"
#include "wire.h"

struct ds_outq_item {
	struct ds_outq_item	*next;
	uint64_t		 first, last;
	uint32_t		 count;		/* tuples */
	size_t			 len;
	unsigned char		 frame[];
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
	return 0;
}

void
ds_outq_term(struct ds_outq *q)
{
	struct ds_outq_item *it, *nx;

	for (it = q->head; it != NULL; it = nx) {
		nx = it->next;
		free(it);
	}
	free(q->cons);
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
		free(it);
	}
}

int
ds_outq_append(struct ds_outq *q, const void *frame, size_t len,
    uint64_t first, uint64_t last)
{
	struct ds_outq_item *it;
	const unsigned char *p = frame;

	if (first > last || first < q->next || q->ended) {
		errno = EINVAL;
		return -1;
	}
	it = malloc(sizeof(*it) + len);
	if (it == NULL)
		return -1;
	it->next = NULL;
	it->first = first;
	it->last = last;
	it->len = len;
	memcpy(it->frame, frame, len);
	if (len >= DS_FRAME_HDR + DS_BUNDLE_HDR)
		it->count = ds_get_le32(p + DS_FRAME_HDR + 12);
	else
		it->count = (uint32_t)(last - first + 1);
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->bytes += len;
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

static struct ds_outq_cons *
consumer(struct ds_outq *q, uint64_t id)
{
	size_t i;

	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].id == id)
			return &q->cons[i];
	return NULL;
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
	struct ds_pos pos;
	uint64_t from = 0, ack = 0, ntup = 0;
	size_t nbytes = 0, mark = reply->len;
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
	}
	for (i = 0; i < m->n; i++)
		if (m->pos[i].producer == q->producer) {
			from = m->pos[i].from;
			ack = m->pos[i].ack;
			break;
		}
	if (ack > c->ack) {
		c->ack = ack;
		release(q);
		acked = 1;
	}

	if (from == DS_FROM_NEW) {
		/* At most once after a restart: forget what is retained. */
		for (it = q->head; it != NULL; it = it->next)
			if (it->last > c->ack)
				q->skipped += it->count;
		it = NULL;
	} else
		it = start_of(q, c, from);
	/*
	 * Nothing to send: park, unless this ack finished c's part of an
	 * ended stream.  That request is answered at once, so c learns its
	 * last ack arrived and can exit now rather than at its timeout (a
	 * reply to a request parked here is lost when this process exits).
	 */
	if (it == NULL && !final && from != DS_FROM_NEW &&
	    (!q->ended || c->told_end) &&
	    !(acked && q->ended && c->ack >= q->next - 1))
		return 0;

	/* Whole bundles up to the limits, at least one. */
	for (end = it; end != NULL; end = end->next) {
		if (end != it && ((m->max_tuples != 0 &&
		    ntup + end->count > m->max_tuples) ||
		    (m->max_bytes != 0 && nbytes + end->len > m->max_bytes) ||
		    nbytes + end->len > DS_FRAME_MAX))
			break;
		ntup += end->count;
		nbytes += end->len;
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
		if (ref(arg, it->frame, it->len) == -1)
			goto fail;
	if (pos.flags & DS_PROD_ENDED)
		c->told_end = 1;
	return 1;
fail:
	reply->len = mark;
	return -1;
}
