/*
 * outq.c: a node's retained output streams.  Each stream is a singly
 * linked list of whole BUNDLE frames in seq order, each with its first
 * and last seq; a bundle leaves its stream once every consumer's ack
 * reaches its last seq.  Serving never changes a stream except through
 * the request's acks, so a parked request may be served again as often as
 * the owner likes.  Pure bookkeeping: no I/O, never prints.
 *
 * An item holds one piece per consumer view: piece 0 is the whole bundle
 * (empty when no consumer takes whole streams), piece 1 + base + k is
 * part k of a group.  An empty piece is skipped in replies, but its seqs
 * still count as scanned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/part.h"
#include "core/tuple.h"
#include "core/wire.h"
#include "net/outq.h"

/*
 * A consumer that has nothing but empty pieces to come is answered
 * anyway (an empty reply that moves its scanned seqs, so its acks free
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

/* Make *v an array of n elements of size sz (contents kept). */
static int
grow(void *v, size_t n, size_t sz)
{
	void *p;

	if ((p = realloc(*(void **)v, (n ? n : 1) * sz)) == NULL)
		return -1;
	*(void **)v = p;
	return 0;
}

int
ds_outq_init(struct ds_outq *q, const uint64_t *consumers, size_t n)
{
	size_t i;

	memset(q, 0, sizeof(*q));
	q->npiece = 1;
	if (n > 0 && (q->cons = calloc(n, sizeof(*q->cons))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		q->cons[i].id = consumers[i];
	q->ncons = n;
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

static void
drop_items(struct ds_outq *q, struct ds_outq_stream *s)
{
	struct ds_outq_item *it, *nx;

	for (it = s->head; it != NULL; it = nx) {
		nx = it->next;
		item_free(q, it);
	}
	q->bytes -= s->bytes;
	q->tuples -= s->tuples;
	s->head = s->tail = NULL;
	s->bytes = 0;
	s->tuples = 0;
}

void
ds_outq_term(struct ds_outq *q)
{
	size_t i;

	for (i = 0; i < q->nst; i++)
		drop_items(q, &q->st[i]);
	for (i = 0; i < q->ncons; i++)
		free(q->cons[i].cs);
	free(q->cons);
	free(q->st);
	free(q->group);
	free(q->from);
	free(q->pos);
	free(q->pick);
	free(q->tgt);
	free(q->need);
	free(q->w);
	free(q->wb);
	ds_bundle_free(&q->dec);
	ds_buf_free(&q->enc);
	memset(q, 0, sizeof(*q));
}

/* Index of producer's stream, or of where it would go (*found 0). */
static size_t
find(const struct ds_outq *q, uint64_t producer, int *found)
{
	size_t lo = 0, hi = q->nst, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (q->st[mid].producer == producer) {
			*found = 1;
			return mid;
		}
		if (q->st[mid].producer < producer)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

struct ds_outq_stream *
ds_outq_stream(struct ds_outq *q, uint64_t producer)
{
	int found;
	size_t i = find(q, producer, &found);

	return found ? &q->st[i] : NULL;
}

int
ds_outq_add(struct ds_outq *q, uint64_t producer, uint32_t epoch,
    uint64_t first, int stable)
{
	struct ds_outq_stream *s;
	size_t i, j, n = q->nst + 1;
	int found;

	i = find(q, producer, &found);
	if (found || q->started) {
		errno = EINVAL;
		return -1;
	}
	if (grow(&q->st, n, sizeof(*q->st)) == -1 ||
	    grow(&q->from, n, sizeof(*q->from)) == -1 ||
	    grow(&q->pos, n, sizeof(*q->pos)) == -1)
		return -1;
	for (j = 0; j < q->ncons; j++) {
		if (grow(&q->cons[j].cs, n, sizeof(*q->cons[j].cs)) == -1)
			return -1;
		memmove(q->cons[j].cs + i + 1, q->cons[j].cs + i,
		    (q->nst - i) * sizeof(*q->cons[j].cs));
		memset(&q->cons[j].cs[i], 0, sizeof(q->cons[j].cs[i]));
	}
	memmove(q->st + i + 1, q->st + i, (q->nst - i) * sizeof(*q->st));
	q->nst = n;
	s = &q->st[i];
	memset(s, 0, sizeof(*s));
	s->producer = producer;
	s->epoch = epoch;
	s->stable = stable;
	s->first = s->next = first ? first : 1;
	return 0;
}

struct ds_outq_cons *
ds_outq_consumer(struct ds_outq *q, uint64_t id)
{
	size_t i;

	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].id == id)
			return &q->cons[i];
	return NULL;
}

int
ds_outq_part(struct ds_outq *q, enum ds_dist dist, const uint64_t *ids,
    size_t n)
{
	struct ds_outq_group *g;
	struct ds_outq_cons *c;
	size_t k;

	if (n == 0 || q->started ||
	    (dist != DS_DIST_HASH && dist != DS_DIST_RANGE &&
	    dist != DS_DIST_SHUFFLE)) {
		errno = EINVAL;
		return -1;
	}
	for (k = 0; k < n; k++)
		if ((c = ds_outq_consumer(q, ids[k])) == NULL || c->piece != 0) {
			errno = EINVAL;
			return -1;
		}
	if (n > q->partcap && (grow(&q->need, n, sizeof(*q->need)) == -1 ||
	    grow(&q->w, n, sizeof(*q->w)) == -1 ||
	    grow(&q->wb, n, sizeof(*q->wb)) == -1))
		return -1;
	if (n > q->partcap)
		q->partcap = n;
	if (grow(&q->group, q->ngroup + 1, sizeof(*q->group)) == -1)
		return -1;
	g = &q->group[q->ngroup++];
	g->dist = dist;
	g->n = n;
	g->base = q->npiece - 1;
	for (k = 0; k < n; k++)
		ds_outq_consumer(q, ids[k])->piece = q->npiece + k;
	q->npiece += n;
	return 0;
}

static size_t
index_of(const struct ds_outq *q, const struct ds_outq_stream *s)
{
	return (size_t)(s - q->st);
}

uint64_t
ds_outq_minack(const struct ds_outq *q, const struct ds_outq_stream *s)
{
	uint64_t m = s->next - 1;
	size_t i, k = index_of(q, s);

	for (i = 0; i < q->ncons; i++)
		if (q->cons[i].cs[k].ack < m)
			m = q->cons[i].cs[k].ack;
	return m;
}

/* Drop every bundle of s that all consumers acked. */
static void
release(struct ds_outq *q, struct ds_outq_stream *s)
{
	uint64_t m = ds_outq_minack(q, s);
	struct ds_outq_item *it;

	while ((it = s->head) != NULL && it->last <= m) {
		s->head = it->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->bytes -= it->len;
		s->tuples -= it->count;
		q->bytes -= it->len;
		q->tuples -= it->count;
		item_free(q, it);
	}
}

/* Does some consumer take whole streams? */
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
 * Encode the tuples of b into the parts of every group, into it: one pass
 * to find each tuple's part and each part's size, one to encode every
 * tuple into its part's buffer (of exactly that size).
 */
static int
split(struct ds_outq *q, struct ds_outq_item *it, const struct ds_bundle *b)
{
	const struct ds_outq_group *g;
	struct ds_outq_piece *pc;
	size_t gi, k, i;
	int rc = 0;

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
			pc = &it->pc[1 + g->base + k];
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

/* A new item of s for seqs first..last with room for whole bytes. */
static struct ds_outq_item *
item_new(struct ds_outq *q, const struct ds_outq_stream *s, uint64_t first,
    uint64_t last, size_t whole)
{
	struct ds_outq_item *it;
	size_t hdr = sizeof(*it) + q->npiece * sizeof(it->pc[0]);

	if (first > last || first < s->next || s->ended) {
		errno = EINVAL;
		return NULL;
	}
	if ((it = calloc(1, hdr + whole)) == NULL)
		return NULL;
	it->first = first;
	it->last = last;
	if (whole > 0) {
		it->pc[0].p = (unsigned char *)it + hdr;
		it->pc[0].len = whole;
		it->len = whole;
	}
	return it;
}

static void
item_link(struct ds_outq *q, struct ds_outq_stream *s, struct ds_outq_item *it)
{
	it->pc[0].count = it->pc[0].len > 0 ? it->count : 0;
	if (s->tail != NULL)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	s->bytes += it->len;
	s->tuples += it->count;
	q->bytes += it->len;
	q->tuples += it->count;
	s->next = it->last + 1;
	q->started = 1;
	release(q, s);
}

int
ds_outq_append(struct ds_outq *q, struct ds_outq_stream *s, const void *frame,
    size_t len, uint64_t first, uint64_t last)
{
	struct ds_outq_item *it;
	const unsigned char *p = frame;
	const char *why;

	if (q->ngroup > 0 && len < DS_FRAME_HDR + DS_BUNDLE_HDR) {
		errno = EINVAL;
		return -1;
	}
	if ((it = item_new(q, s, first, last, wants_whole(q) ? len : 0)) ==
	    NULL)
		return -1;
	if (len >= DS_FRAME_HDR + DS_BUNDLE_HDR)
		it->count = ds_get_le32(p + DS_FRAME_HDR + 12);
	else
		it->count = (uint32_t)(last - first + 1);
	if (it->pc[0].p != NULL)
		memcpy(it->pc[0].p, frame, len);
	if (q->ngroup > 0 && (ds_bundle_decode(&q->dec, p + DS_FRAME_HDR,
	    len - DS_FRAME_HDR, SIZE_MAX, &why) == -1 ||
	    split(q, it, &q->dec) == -1)) {
		if (errno != ENOMEM)
			errno = EINVAL;
		item_free(q, it);
		return -1;
	}
	item_link(q, s, it);
	return 0;
}

int
ds_outq_append_bundle(struct ds_outq *q, struct ds_outq_stream *s,
    const struct ds_bundle *b)
{
	struct ds_outq_item *it;
	struct ds_bundle_writer w;
	uint32_t i;
	int whole = wants_whole(q);

	if (b->count == 0)
		return 0;
	ds_buf_reset(&q->enc);
	if (whole) {
		if (ds_bundle_begin(&w, &q->enc, b->producer, b->epoch) == -1)
			return -1;
		for (i = 0; i < b->count; i++)
			if (ds_bundle_add(&w, &b->t[i]) == -1)
				return -1;
		if (ds_bundle_end(&w) == -1)
			return -1;
	}
	if ((it = item_new(q, s, b->t[0].seq, b->t[b->count - 1].seq,
	    q->enc.len)) == NULL)
		return -1;
	it->count = b->count;
	if (whole)
		memcpy(it->pc[0].p, q->enc.p, q->enc.len);
	if (q->ngroup > 0 && split(q, it, b) == -1) {
		item_free(q, it);
		return -1;
	}
	item_link(q, s, it);
	return 0;
}

void
ds_outq_skip(struct ds_outq *q, struct ds_outq_stream *s, uint64_t upto)
{
	(void)q;
	if (!s->ended && upto >= s->next)
		s->next = upto + 1;
}

void
ds_outq_epoch(struct ds_outq *q, struct ds_outq_stream *s, uint32_t epoch,
    int restart)
{
	size_t i, k = index_of(q, s);

	s->epoch = epoch;
	if (!restart)
		return;
	drop_items(q, s);
	s->first = s->next = 1;
	s->ended = s->stopped = 0;
	for (i = 0; i < q->ncons; i++)
		memset(&q->cons[i].cs[k], 0, sizeof(q->cons[i].cs[k]));
}

void
ds_outq_end(struct ds_outq *q, struct ds_outq_stream *s)
{
	(void)q;
	s->ended = 1;
	s->stopped = 0;
}

void
ds_outq_stop(struct ds_outq *q, struct ds_outq_stream *s, int on)
{
	size_t i, k = index_of(q, s);

	if (!on && !s->stopped)
		return;
	s->ended = s->stopped = on;
	for (i = 0; !on && i < q->ncons; i++)
		q->cons[i].cs[k].told_end = 0;
}

int
ds_outq_done(const struct ds_outq *q)
{
	const struct ds_outq_stream *s;
	size_t i, k;

	for (k = 0; k < q->nst; k++) {
		s = &q->st[k];
		if (!s->ended)
			return 0;
		for (i = 0; i < q->ncons; i++)
			if (q->cons[i].cs[k].ack < s->next - 1 ||
			    !q->cons[i].cs[k].told_end)
				return 0;
	}
	return 1;
}

int
ds_outq_lagging(const struct ds_outq *q, const struct ds_pull_msg *m)
{
	const struct ds_outq_stream *s;
	uint32_t i;
	size_t k;
	int found;

	for (i = 0; i < m->n; i++) {
		k = find(q, m->pos[i].producer, &found);
		if (!found)
			continue;
		s = &q->st[k];
		if (m->pos[i].from != DS_FROM_NEW && m->pos[i].ack < s->next - 1)
			return 1;
	}
	return 0;
}

static int
put_reply(struct ds_buf *reply, uint32_t status, uint32_t n,
    struct ds_pos *pos)
{
	struct ds_reply_msg r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.n = n;
	r.pos = pos;
	return ds_msg_reply_put(reply, &r);
}

/*
 * A position's from and ack, taken at their word only for the epoch of
 * the stream now (or any earlier one of a stable stream): outq.h.
 */
static void
position(const struct ds_outq_stream *s, const struct ds_pos *p,
    uint64_t *from, uint64_t *ack)
{
	if (p->epoch == s->epoch ||
	    (s->stable && p->epoch != 0 && p->epoch < s->epoch)) {
		*from = p->from;
		*ack = p->ack;
		return;
	}
	*from = p->from == DS_FROM_NEW ? DS_FROM_NEW : 0;
	*ack = p->ack < s->first ? p->ack : s->first - 1;
}

/*
 * The first bundle of s to send to a consumer asking from `from`, or
 * NULL when nothing is pending.  Bundles it acked are never sent again.
 */
static struct ds_outq_item *
start_of(const struct ds_outq_stream *s, const struct ds_outq_cs *cs,
    uint64_t from)
{
	struct ds_outq_item *it;
	uint64_t oldest = s->head != NULL ? s->head->first : s->next;

	if (from < oldest || from > s->next)
		from = oldest;
	for (it = s->head; it != NULL; it = it->next)
		if (it->last >= from && it->last > cs->ack)
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

/*
 * Apply the request's positions: from per stream into q->from, acks into
 * c's view.  1 if an ack moved.
 */
static int
take_positions(struct ds_outq *q, struct ds_outq_cons *c,
    const struct ds_pull_msg *m)
{
	struct ds_outq_stream *s;
	uint64_t from, ack;
	uint32_t i;
	size_t k;
	int found, acked = 0;

	memset(q->from, 0, q->nst * sizeof(*q->from));
	for (i = 0; i < m->n; i++) {
		k = find(q, m->pos[i].producer, &found);
		if (!found)
			continue;
		s = &q->st[k];
		position(s, &m->pos[i], &from, &ack);
		q->from[k] = from;
		if (ack > c->cs[k].ack) {
			c->cs[k].ack = ack;
			release(q, s);
			acked = 1;
		}
	}
	return acked;
}

/* Remember piece pc to send, in order. */
static int
pick(struct ds_outq *q, const struct ds_outq_piece *pc)
{
	if (q->npick == q->pickcap) {
		if (grow(&q->pick, q->pickcap ? q->pickcap * 2 : 64,
		    sizeof(*q->pick)) == -1)
			return -1;
		q->pickcap = q->pickcap ? q->pickcap * 2 : 64;
	}
	q->pick[q->npick++] = pc;
	return 0;
}

int
ds_outq_serve_ref(struct ds_outq *q, const struct ds_pull_msg *m, int final,
    struct ds_buf *reply, int (*ref)(void *, const void *, size_t), void *arg)
{
	struct ds_outq_cons *c;
	struct ds_outq_stream *s;
	struct ds_outq_item *it, *stop;
	const struct ds_outq_piece *pc;
	struct ds_pos *ps;
	uint64_t ntup = 0;
	size_t nbytes = 0, k, j, pi, mark = reply->len, lastk = 0;
	int acked, full = 0, news = 0, empties = 0, complete = 1;

	if ((c = ds_outq_consumer(q, m->consumer)) == NULL)
		return put_reply(reply, DS_PULL_UNKNOWN, 0, NULL) == -1 ? -1 : 1;
	if (m->epoch < c->epoch) {
		q->fenced++;
		return put_reply(reply, DS_PULL_FENCED, 0, NULL) == -1 ? -1 : 1;
	}
	if (m->epoch > c->epoch) {
		c->epoch = m->epoch;
		for (k = 0; k < q->nst; k++)
			c->cs[k].told_end = 0;
	}
	acked = take_positions(q, c, m);
	pi = c->piece;
	q->npick = 0;
	/* Streams in turn from c->rr; whole pieces up to the limits. */
	for (j = 0; j < q->nst; j++) {
		k = (c->rr + j) % q->nst;
		s = &q->st[k];
		ps = &q->pos[k];
		memset(ps, 0, sizeof(*ps));
		ps->producer = s->producer;
		ps->epoch = s->epoch;
		if (!s->ended || c->cs[k].ack < s->next - 1)
			complete = 0;
		if (q->from[k] == DS_FROM_NEW) {
			/* At most once after a restart: skip what is kept. */
			for (it = s->head; it != NULL; it = it->next)
				if (it->last > c->cs[k].ack)
					q->skipped += it->pc[pi].count;
			ps->scanned = s->next - 1;
			news = 1;
			continue;
		}
		it = start_of(s, &c->cs[k], q->from[k]);
		for (stop = it; stop != NULL; stop = stop->next) {
			pc = &stop->pc[pi];
			if (!full && q->npick > 0 && pc->len > 0 &&
			    ((m->max_tuples != 0 && ntup + pc->count >
			    m->max_tuples) || (m->max_bytes != 0 &&
			    nbytes + pc->len > m->max_bytes) ||
			    nbytes + pc->len > DS_FRAME_MAX))
				full = 1;
			if (full)
				break;
			if (pc->len == 0) {
				empties = 1;
				continue;
			}
			if (pick(q, pc) == -1)
				return -1;
			ntup += pc->count;
			nbytes += pc->len;
			lastk = k;
		}
		ps->scanned = stop != NULL ? stop->first - 1 : s->next - 1;
		if (s->ended && ps->scanned >= s->next - 1) {
			ps->flags |= DS_PROD_ENDED | (s->stopped ?
			    DS_PROD_STOPPED : 0);
			ps->end = s->next - 1;
			if (!c->cs[k].told_end)
				news = 1;
		}
	}
	/*
	 * Nothing to send: park, unless an end is news or these acks
	 * finished c's part of ended streams.  That request is answered at
	 * once, so c learns its last acks arrived and can exit now rather
	 * than at its timeout (a reply to a request parked here is lost when
	 * this process exits).  Only parts for others pending: park too,
	 * unless they hold up much of the queue (see NUDGE_BYTES).
	 */
	if (q->npick == 0 && !final && !news && !(acked && complete) &&
	    (!empties || q->bytes < NUDGE_BYTES))
		return 0;
	if (put_reply(reply, DS_PULL_OK, (uint32_t)q->nst, q->pos) == -1)
		goto fail;
	for (j = 0; j < q->npick; j++)
		if (ref(arg, q->pick[j]->p, q->pick[j]->len) == -1)
			goto fail;
	for (k = 0; k < q->nst; k++)
		if (q->pos[k].flags & DS_PROD_ENDED)
			c->cs[k].told_end = 1;
	if (q->nst > 0)
		c->rr = (q->npick > 0 ? lastk : c->rr) + 1;
	if (c->rr >= q->nst)
		c->rr = 0;
	return 1;
fail:
	reply->len = mark;
	return -1;
}
