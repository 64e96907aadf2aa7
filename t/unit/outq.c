/*
 * t/unit/outq.c: a node's retention and serving (libds/net/outq).  Pure:
 * bundles are appended, PULL requests are built as structs and every
 * reply is decoded back (REPLY header, then BUNDLE frames) and checked:
 * which seqs came, scanned, the end flag, fencing, unknown consumers, the
 * from rules (0, inside, below, above the next seq, DS_FROM_NEW), the
 * epoch a position names (its own, an earlier one, a stable stream's),
 * limits, acks freeing only what every consumer acked, and done;
 * partitions (ds_outq_part): each consumer of a group gets its part only,
 * scanned covers the others' seqs; and several streams (a router's): each
 * with its own position, taken in turn, skipped, restarted and ended.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/msg.h"
#include "core/tuple.h"
#include "net/outq.h"
#include "tap.h"

#define PROD	0x10000ull
#define PROD2	0x10001ull
#define C1	0x20000ull
#define C2	0x20001ull
#define C3	0x20002ull

/* A decoded reply. */
struct rep {
	int		 rc;
	uint32_t	 status;
	uint32_t	 n;
	struct ds_pos	 pos;
	uint64_t	 seqs[256];
	size_t		 nseq;
	size_t		 nbundles;
	int		 bad;
};

/* The tuples first..last of st's producer, one byte payload each. */
static void
encode(struct ds_buf *b, const struct ds_outq_stream *st, uint64_t first,
    uint64_t last)
{
	struct ds_bundle_writer w;
	struct ds_tuple t;
	uint64_t s;
	int rc;

	memset(&t, 0, sizeof(t));
	t.key = (const unsigned char *)"k";
	t.keylen = 1;
	t.payload = (const unsigned char *)"v";
	t.paylen = 1;
	rc = ds_bundle_begin(&w, b, st->producer, st->epoch);
	for (s = first; rc == 0 && s <= last; s++) {
		t.seq = s;
		t.time = s * 1000;
		rc = ds_bundle_add(&w, &t);
	}
	if (rc == 0)
		rc = ds_bundle_end(&w);
	if (rc != 0)
		ok(0, "encode %llu..%llu", (unsigned long long)first,
		    (unsigned long long)last);
}

/* Append a bundle of tuples first..last to the stream of producer. */
static void
append_to(struct ds_outq *q, uint64_t producer, uint64_t first,
    uint64_t last)
{
	struct ds_outq_stream *st = ds_outq_stream(q, producer);
	struct ds_buf b = DS_BUF_INIT;

	encode(&b, st, first, last);
	if (ds_outq_append(q, st, b.p, b.len, first, last) != 0)
		ok(0, "append %llu..%llu", (unsigned long long)first,
		    (unsigned long long)last);
	ds_buf_free(&b);
}

/* Append to PROD's stream. */
static void
append(struct ds_outq *q, uint64_t first, uint64_t last)
{
	append_to(q, PROD, first, last);
}

/* A queue serving PROD (epoch, first) to consumers cons[0..n). */
static void
open_q(struct ds_outq *q, uint32_t epoch, uint64_t first,
    const uint64_t *cons, size_t n)
{
	if (ds_outq_init(q, cons, n) == -1 ||
	    ds_outq_add(q, PROD, epoch, first, 0) == -1)
		ok(0, "open a queue");
}

static struct ds_outq_stream *
S(struct ds_outq *q)
{
	return ds_outq_stream(q, PROD);
}

/* c's ack of PROD's stream, and whether it was told of the end. */
static uint64_t
ack_of(const struct ds_outq *q, size_t c)
{
	return q->cons[c].cs[0].ack;
}

static void
decode(struct rep *r, const struct ds_buf *b, uint64_t producer)
{
	struct ds_bundle bu = DS_BUNDLE_INIT;
	struct ds_reply_msg m;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	uint32_t i;
	int k, first = 1;

	while ((k = ds_msg_next(b->p, b->len, &off, &f, &why)) == 1) {
		if (first) {
			first = 0;
			if (f.type != DS_FRAME_REPLY ||
			    ds_msg_reply_get(&m, f.payload, f.len, &why) == -1) {
				r->bad = 1;
				return;
			}
			r->status = m.status;
			r->n = m.n;
			for (i = 0; i < m.n; i++)
				if (m.pos[i].producer == producer)
					r->pos = m.pos[i];
			free(m.pos);
			continue;
		}
		if (f.type != DS_FRAME_BUNDLE || ds_bundle_decode(&bu,
		    f.payload, f.len, DS_TUPLE_MAX, &why) == -1 ||
		    bu.producer != producer) {
			r->bad = 1;
			break;
		}
		r->nbundles++;
		for (i = 0; i < bu.count && r->nseq < 256; i++)
			r->seqs[r->nseq++] = bu.t[i].seq;
	}
	if (k == -1 || first)
		r->bad = 1;
	ds_bundle_free(&bu);
}

/* Like decode, for the bundles and position of one of several producers. */
static void
decode2(struct rep *r, const struct ds_buf *b, uint64_t producer)
{
	struct ds_bundle bu = DS_BUNDLE_INIT;
	struct ds_reply_msg m;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	uint32_t i;
	int k, first = 1;

	while ((k = ds_msg_next(b->p, b->len, &off, &f, &why)) == 1) {
		if (first) {
			first = 0;
			if (f.type != DS_FRAME_REPLY ||
			    ds_msg_reply_get(&m, f.payload, f.len, &why) == -1) {
				r->bad = 1;
				return;
			}
			r->status = m.status;
			r->n = m.n;
			for (i = 0; i < m.n; i++)
				if (m.pos[i].producer == producer)
					r->pos = m.pos[i];
			free(m.pos);
			continue;
		}
		if (f.type != DS_FRAME_BUNDLE || ds_bundle_decode(&bu,
		    f.payload, f.len, DS_TUPLE_MAX, &why) == -1) {
			r->bad = 1;
			break;
		}
		if (bu.producer != producer)
			continue;
		r->nbundles++;
		for (i = 0; i < bu.count && r->nseq < 256; i++)
			r->seqs[r->nseq++] = bu.t[i].seq;
	}
	if (k == -1 || first)
		r->bad = 1;
	ds_bundle_free(&bu);
}

/*
 * Serve a PULL of consumer cons (epoch cepoch) naming PROD at epoch pe:
 * from, ack; max_tuples; final.
 */
static struct rep
serve6(struct ds_outq *q, uint64_t cons, uint32_t cepoch, uint32_t pe,
    uint64_t from, uint64_t ack, uint32_t max_tuples, int final)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pos pos[2];
	struct ds_pull_msg m;
	struct rep r;

	memset(&r, 0, sizeof(r));
	memset(pos, 0, sizeof(pos));
	memset(&m, 0, sizeof(m));
	pos[0].producer = PROD + 7;	/* someone else's: ignored */
	pos[0].from = 99;
	pos[0].ack = 99;
	pos[1].producer = PROD;
	pos[1].from = from;
	pos[1].ack = ack;
	pos[1].epoch = pe;
	m.consumer = cons;
	m.epoch = cepoch;
	m.max_tuples = max_tuples;
	m.wait_ms = 500;
	m.n = 2;
	m.pos = pos;
	r.rc = ds_outq_serve(q, &m, final, &b);
	if (r.rc == 1)
		decode(&r, &b, PROD);
	else if (b.len != 0)
		r.bad = 1;
	ds_buf_free(&b);
	return r;
}

/* The same, naming the stream's epoch now. */
static struct rep
serve5(struct ds_outq *q, uint64_t cons, uint32_t cepoch, uint64_t from,
    uint64_t ack, uint32_t max_tuples, int final)
{
	return serve6(q, cons, cepoch, S(q)->epoch, from, ack, max_tuples,
	    final);
}

static struct rep
serve(struct ds_outq *q, uint64_t cons, uint64_t from, uint64_t ack)
{
	return serve5(q, cons, 1, from, ack, 0, 0);
}

/* r carries exactly seqs lo..hi. */
static int
seqs(const struct rep *r, uint64_t lo, uint64_t hi)
{
	size_t i;

	if (r->bad || r->rc != 1 || r->status != DS_PULL_OK)
		return 0;
	if (lo > hi)
		return r->nseq == 0;
	if (r->nseq != hi - lo + 1)
		return 0;
	for (i = 0; i < r->nseq; i++)
		if (r->seqs[i] != lo + i)
			return 0;
	return 1;
}

static void
basics(void)
{
	const uint64_t cons[] = { C1, C2 };
	struct ds_outq q;
	struct rep r;

	open_q(&q, 3, 1, cons, 2);
	ok(S(&q)->next == 1 && S(&q)->head == NULL &&
	    ds_outq_minack(&q, S(&q)) == 0, "empty queue: next 1, minack 0");
	ok(ds_outq_add(&q, PROD, 3, 1, 0) == -1 && errno == EINVAL,
	    "a second stream of the same producer is refused");
	r = serve(&q, C1, 0, 0);
	ok(r.rc == 0, "nothing to send: parked");
	r = serve5(&q, C1, 1, 0, 0, 0, 1);
	ok(seqs(&r, 1, 0) && r.n == 1 && r.pos.scanned == 0 &&
	    r.pos.epoch == 3 && !(r.pos.flags & DS_PROD_ENDED),
	    "final: an empty reply, scanned 0, epoch 3");
	append(&q, 1, 3);
	append(&q, 4, 4);
	append(&q, 5, 9);
	ok(S(&q)->next == 10 && q.tuples == 9 && q.bytes > 0 &&
	    S(&q)->tuples == 9, "3 bundles, 9 tuples");
	ok(ds_outq_append(&q, S(&q), "x", 1, 9, 9) == -1 && errno == EINVAL,
	    "append below next is refused");
	ok(ds_outq_add(&q, PROD2, 1, 1, 0) == -1 && errno == EINVAL,
	    "no new stream after an append");
	r = serve(&q, C1, 0, 0);
	ok(seqs(&r, 1, 9) && r.nbundles == 3 && r.pos.scanned == 9,
	    "from 0: everything, scanned 9");
	r = serve(&q, C1, 4, 0);
	ok(seqs(&r, 4, 9) && r.pos.scanned == 9, "from 4: 4..9");
	r = serve(&q, C1, 6, 0);
	ok(seqs(&r, 5, 9), "from 6: the whole bundle holding it (5..9)");
	r = serve(&q, C1, 10, 0);
	ok(r.rc == 0, "from next: parked");
	r = serve(&q, C1, 3, 3);
	ok(seqs(&r, 4, 9) && ack_of(&q, 0) == 3 && q.tuples == 9,
	    "C1 acks 3: C2 has not, nothing freed, acked bundles not resent");
	ok(ds_outq_minack(&q, S(&q)) == 0, "minack 0");
	r = serve(&q, C2, 1, 4);
	ok(seqs(&r, 5, 9) && q.tuples == 6 && ds_outq_minack(&q, S(&q)) == 3,
	    "C2 acks 4 of the stream's epoch, taken at once: 1..3 freed "
	    "(minack 3), from below the oldest: 5..9");
	r = serve(&q, C1, 10, 9);
	ok(r.rc == 0 && q.tuples == 5 && ds_outq_minack(&q, S(&q)) == 4,
	    "C1 acks 9 in a parked request: 4 freed");
	r = serve(&q, C1, 2, 9);
	ok(r.rc == 0, "from below the oldest, everything acked: parked");
	r = serve(&q, C2, 2, 4);
	ok(seqs(&r, 5, 9), "from below the oldest: the oldest (5..9)");
	r = serve(&q, C2, 10, 9);
	ok(r.rc == 0 && S(&q)->head == NULL && q.tuples == 0 && q.bytes == 0,
	    "all acked: the queue is empty");
	r = serve(&q, C1, 9, 2);
	ok(ack_of(&q, 0) == 9 && r.rc == 0, "acks never move backwards");
	append(&q, 10, 12);
	r = serve(&q, C1, 10, 9);
	ok(seqs(&r, 10, 12) && r.pos.scanned == 12, "later bundles come");
	ok(q.fenced == 0 && q.skipped == 0, "no fenced, no skipped");
	ds_outq_term(&q);
}

static void
fencing(void)
{
	const uint64_t cons[] = { C1 };
	struct ds_outq q;
	struct rep r;

	open_q(&q, 1, 1, cons, 1);
	append(&q, 1, 2);
	r = serve5(&q, C1, 5, 0, 0, 0, 0);
	ok(seqs(&r, 1, 2) && q.cons[0].epoch == 5, "consumer epoch 5 seen");
	r = serve5(&q, C1, 4, 0, 2, 0, 0);
	ok(r.rc == 1 && !r.bad && r.status == DS_PULL_FENCED && r.nseq == 0 &&
	    q.fenced == 1, "epoch 4 after 5: FENCED, counted");
	ok(ack_of(&q, 0) == 0 && q.tuples == 2, "a fenced ack is not applied");
	r = serve5(&q, C1, 5, 0, 0, 0, 0);
	ok(seqs(&r, 1, 2), "epoch 5 again: served");
	r = serve5(&q, C1, 6, 0, 0, 0, 0);
	ok(seqs(&r, 1, 2) && q.cons[0].epoch == 6, "epoch 6: served");
	r = serve5(&q, C1, 5, 0, 0, 0, 1);
	ok(r.status == DS_PULL_FENCED && q.fenced == 2,
	    "a request of epoch 5 now is fenced even when final");
	r = serve(&q, C2, 0, 0);
	ok(r.rc == 1 && !r.bad && r.status == DS_PULL_UNKNOWN && r.nseq == 0,
	    "an unknown consumer gets UNKNOWN");
	ok(q.tuples == 2, "unknown: nothing freed");
	ds_outq_term(&q);
}

static void
restart(void)
{
	const uint64_t cons[] = { C1, C2 };
	struct ds_outq q;
	struct rep r;

	/* Epoch 2 recovered at output seq 50: it starts at 51. */
	open_q(&q, 2, 51, cons, 2);
	ok(S(&q)->next == 51 && S(&q)->first == 51, "recovered: first 51");
	r = serve(&q, C1, 101, 0);
	ok(r.rc == 0, "from above next, nothing retained: parked");
	r = serve5(&q, C1, 1, 101, 0, 0, 1);
	ok(seqs(&r, 1, 0) && r.pos.scanned == 50 && r.pos.epoch == 2,
	    "final: empty, scanned 50 (the new epoch's frontier)");
	append(&q, 51, 60);
	append(&q, 61, 70);
	r = serve(&q, C1, 101, 0);
	ok(seqs(&r, 51, 70) && r.pos.scanned == 70,
	    "from above next: replay from the oldest retained");
	r = serve(&q, C1, 71, 65);
	ok(r.rc == 0 && ack_of(&q, 0) == 65, "ack 65 mid-bundle");
	r = serve(&q, C1, 101, 65);
	ok(seqs(&r, 61, 70), "replay skips bundles the consumer acked");
	r = serve(&q, C2, DS_FROM_NEW, 0);
	ok(seqs(&r, 1, 0) && r.pos.scanned == 70 && q.skipped == 20,
	    "DS_FROM_NEW: nothing sent, scanned 70, 20 skipped");
	r = serve(&q, C2, 71, 70);
	ok(r.rc == 0 && S(&q)->head != NULL && q.tuples == 10,
	    "C2 acks 70: 51..60 freed (C1 acked 65)");
	r = serve(&q, C1, DS_FROM_NEW, 65);
	ok(seqs(&r, 1, 0) && q.skipped == 30,
	    "DS_FROM_NEW counts only unacked retained tuples");
	append(&q, 71, 71);
	r = serve(&q, C2, DS_FROM_NEW, 70);
	ok(seqs(&r, 1, 0) && r.pos.scanned == 71 && q.skipped == 31,
	    "DS_FROM_NEW answers at once, even after new data");
	ds_outq_term(&q);

	/*
	 * Positions of an earlier epoch: its seqs may be other tuples now,
	 * so from counts as 0 and an ack only up to the recovered prefix
	 * (below first); positions of this epoch apply as given.
	 */
	open_q(&q, 3, 51, cons, 2);
	r = serve6(&q, C1, 1, 2, 81, 80, 0, 0);
	ok(r.rc == 0 && ack_of(&q, 0) == 50, "epoch 2's ack of 80, stream "
	    "at epoch 3: parked, the ack taken up to 50 only");
	append(&q, 51, 60);
	append(&q, 61, 90);
	r = serve6(&q, C1, 1, 2, 81, 80, 0, 0);
	ok(seqs(&r, 51, 90) && ack_of(&q, 0) == 50,
	    "from 81 of epoch 2: everything retained is replayed");
	r = serve6(&q, C1, 1, 0, 81, 80, 0, 0);
	ok(seqs(&r, 51, 90) && ack_of(&q, 0) == 50,
	    "epoch 0 (none known, a PULL without EPOCHS): the same");
	r = serve6(&q, C1, 1, 4, 81, 80, 0, 0);
	ok(seqs(&r, 51, 90) && ack_of(&q, 0) == 50,
	    "a newer epoch than the stream's: the same");
	r = serve6(&q, C1, 1, 3, 61, 60, 0, 0);
	ok(seqs(&r, 61, 90) && ack_of(&q, 0) == 60,
	    "epoch 3 (the stream's): from 61 and ack 60 as given");
	r = serve6(&q, C2, 1, 3, 91, 90, 0, 0);
	ok(r.rc == 0 && ack_of(&q, 1) == 90 && q.tuples == 30,
	    "a consumer resuming at 90 of this epoch: nothing replayed");
	ds_outq_term(&q);

	/* A stable (exactly-once) stream: earlier epochs' seqs hold. */
	ds_outq_init(&q, cons, 2);
	ds_outq_add(&q, PROD, 3, 51, 1);
	append(&q, 51, 60);
	append(&q, 61, 70);
	r = serve6(&q, C1, 1, 2, 66, 65, 0, 0);
	ok(seqs(&r, 61, 70) && ack_of(&q, 0) == 65,
	    "stable: epoch 2's from 66 and ack 65 as given");
	r = serve6(&q, C2, 1, 4, 71, 70, 0, 0);
	ok(seqs(&r, 51, 70) && ack_of(&q, 1) == 50,
	    "stable: a newer epoch than the stream's is not taken");
	r = serve6(&q, C2, 1, 2, 71, 70, 0, 0);
	ok(r.rc == 0 && ack_of(&q, 1) == 70 && q.tuples == 10,
	    "stable: epoch 2's ack of 70 frees 51..60 (C1 acked 65)");
	ds_outq_term(&q);
}

static void
limits(void)
{
	const uint64_t cons[] = { C1 };
	struct ds_outq q;
	struct ds_pull_msg m;
	struct ds_buf b = DS_BUF_INIT;
	struct rep r;
	uint64_t s;
	size_t one;

	open_q(&q, 1, 1, cons, 1);
	for (s = 1; s <= 40; s += 4)
		append(&q, s, s + 3);
	r = serve5(&q, C1, 1, 0, 0, 10, 0);
	ok(seqs(&r, 1, 8) && r.pos.scanned == 8, "max_tuples 10: 2 bundles");
	r = serve5(&q, C1, 1, 0, 0, 2, 0);
	ok(seqs(&r, 1, 4) && r.pos.scanned == 4,
	    "max_tuples 2: one whole bundle anyway");
	r = serve5(&q, C1, 1, 37, 0, 3, 0);
	ok(seqs(&r, 37, 40) && r.pos.scanned == 40, "the last bundle alone");
	one = q.bytes / 10;
	memset(&m, 0, sizeof(m));
	m.consumer = C1;
	m.epoch = 1;
	m.max_bytes = (uint32_t)(3 * one);
	ok(ds_outq_serve(&q, &m, 0, &b) == 1, "max_bytes: answered");
	memset(&r, 0, sizeof(r));
	decode(&r, &b, PROD);
	r.rc = 1;
	ok(seqs(&r, 1, 12) && r.nbundles == 3, "max_bytes 3 bundles: 3 bundles");
	ds_buf_reset(&b);
	m.max_bytes = 1;
	ds_outq_serve(&q, &m, 0, &b);
	memset(&r, 0, sizeof(r));
	decode(&r, &b, PROD);
	r.rc = 1;
	ok(seqs(&r, 1, 4), "max_bytes 1: one bundle anyway");
	ds_buf_free(&b);
	ds_outq_term(&q);
}

static void
ending(void)
{
	const uint64_t cons[] = { C1, C2 };
	struct ds_outq q;
	struct rep r;

	open_q(&q, 1, 1, cons, 2);
	append(&q, 1, 5);
	append(&q, 6, 10);
	ok(!ds_outq_done(&q), "not ended: not done");
	ds_outq_end(&q, S(&q));
	ok(S(&q)->ended && ds_outq_append(&q, S(&q), "x", 1, 11, 11) == -1,
	    "no append after the end");
	r = serve5(&q, C1, 1, 0, 0, 5, 0);
	ok(seqs(&r, 1, 5) && !(r.pos.flags & DS_PROD_ENDED) &&
	    !q.cons[0].cs[0].told_end, "a reply short of the end: no ENDED");
	r = serve(&q, C1, 6, 5);
	ok(seqs(&r, 6, 10) && (r.pos.flags & DS_PROD_ENDED) &&
	    r.pos.end == 10 && q.cons[0].cs[0].told_end,
	    "the reply through the end: ENDED at 10, told");
	r = serve6(&q, C2, 1, 0, 11, 10, 0, 0);
	ok(seqs(&r, 1, 10) && (r.pos.flags & DS_PROD_ENDED) &&
	    r.pos.end == 10 && r.pos.scanned == 10 && q.cons[1].cs[0].told_end,
	    "C2 with no epoch of the producer: all that is retained, ENDED");
	ok(ack_of(&q, 1) == 0, "its ack of 10 with no epoch: not taken");
	r = serve(&q, C2, 11, 10);
	ok(r.rc == 1 && ack_of(&q, 1) == 10, "its ack of 10 of epoch 1 is "
	    "taken (and answered at once: it completes C2's part)");
	ok(!ds_outq_done(&q), "C1 has not acked 10: not done");
	r = serve(&q, C1, 11, 10);
	ok(r.rc == 1 && seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED),
	    "the ack that completes the ended stream: answered at once");
	r = serve(&q, C1, 11, 10);
	ok(r.rc == 0, "told, acked and nothing left: parked");
	ok(ds_outq_done(&q) && S(&q)->head == NULL,
	    "everyone acked the end and was told: done, empty");
	r = serve5(&q, C1, 1, 11, 10, 0, 1);
	ok(seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED),
	    "final: empty reply with ENDED");
	r = serve5(&q, C1, 2, 0, 0, 0, 0);
	ok(seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED) &&
	    q.cons[0].epoch == 2 && ds_outq_done(&q),
	    "a restarted consumer is told again");
	ds_outq_term(&q);

	open_q(&q, 1, 1, cons, 1);
	ds_outq_end(&q, S(&q));
	ok(!ds_outq_done(&q), "an empty stream ended: not done until told");
	r = serve(&q, C1, 0, 0);
	ok(seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED) && r.pos.end == 0,
	    "ENDED at 0 (produced nothing)");
	ok(ds_outq_done(&q), "done");
	ds_outq_term(&q);

	open_q(&q, 1, 1, NULL, 0);
	append(&q, 1, 3);
	ok(S(&q)->head == NULL && ds_outq_minack(&q, S(&q)) == 3,
	    "no consumers: nothing retained, minack = next - 1");
	ds_outq_end(&q, S(&q));
	ok(ds_outq_done(&q), "no consumers: done at the end");
	ds_outq_term(&q);
}

/*
 * Shuffle parts (PROD is even: even seqs go to part 0, C2, odd ones to
 * part 1, C3) beside C1, which takes the whole stream.
 */
static void
parts(void)
{
	const uint64_t cons[] = { C1, C2, C3 }, two[] = { C2, C3 };
	const uint64_t bad[] = { C2, 0x999 }, one[] = { C1 };
	struct ds_outq q;
	struct rep r;

	open_q(&q, 1, 1, cons, 3);
	ok(ds_outq_part(&q, DS_DIST_BROADCAST, two, 2) == -1 &&
	    errno == EINVAL, "part: broadcast is no partition (EINVAL)");
	ok(ds_outq_part(&q, DS_DIST_HASH, bad, 2) == -1 && errno == EINVAL,
	    "part: an id that is no consumer (EINVAL)");
	ok(ds_outq_part(&q, DS_DIST_SHUFFLE, two, 2) == 0, "part: shuffle");
	ok(ds_outq_part(&q, DS_DIST_HASH, two + 1, 1) == -1 &&
	    errno == EINVAL, "part: a consumer in two groups (EINVAL)");
	append(&q, 1, 4);
	append(&q, 5, 5);
	ok(ds_outq_part(&q, DS_DIST_HASH, one, 1) == -1 && errno == EINVAL,
	    "part: after an append (EINVAL)");
	r = serve(&q, C1, 0, 0);
	ok(seqs(&r, 1, 5) && r.pos.scanned == 5, "whole consumer: 1..5");
	r = serve(&q, C2, 0, 0);
	ok(r.rc == 1 && r.nseq == 2 && r.seqs[0] == 2 && r.seqs[1] == 4 &&
	    r.nbundles == 1 && r.pos.scanned == 5,
	    "part 0: seqs 2 and 4 in one bundle, scanned 5 (got %zu seqs, "
	    "scanned %llu)", r.nseq, (unsigned long long)r.pos.scanned);
	r = serve(&q, C3, 0, 0);
	ok(r.rc == 1 && r.nseq == 3 && r.seqs[0] == 1 && r.seqs[1] == 3 &&
	    r.seqs[2] == 5 && r.nbundles == 2 && r.pos.scanned == 5,
	    "part 1: seqs 1, 3, 5 in two bundles, scanned 5");
	r = serve(&q, C2, 6, 5);
	ok(r.rc == 0, "part 0 acked everything: parked");
	append(&q, 7, 7);
	r = serve(&q, C2, 6, 5);
	ok(r.rc == 0, "only another part's seqs pending, little retained: "
	    "parked");
	r = serve5(&q, C2, 1, 6, 5, 0, 1);
	ok(r.rc == 1 && r.nseq == 0 && r.pos.scanned == 7,
	    "at its deadline: an empty reply that scanned 7");
	ok(S(&q)->head != NULL && q.tuples == 6,
	    "nothing freed before every consumer acked");
	r = serve(&q, C1, 6, 5);
	ok(seqs(&r, 7, 7), "C1 gets 7");
	r = serve(&q, C3, 6, 5);
	ok(seqs(&r, 7, 7) && q.tuples == 1,
	    "acks of all three free 1..5, keep 7 (%llu left)",
	    (unsigned long long)q.tuples);
	serve(&q, C1, 8, 7);
	serve(&q, C3, 8, 7);
	ok(q.tuples == 1, "C2 has not acked 7 yet: kept");
	serve(&q, C2, 8, 7);
	ok(S(&q)->head == NULL && q.bytes == 0 && q.tuples == 0,
	    "all acked: empty");
	ds_outq_end(&q, S(&q));
	serve5(&q, C1, 1, 8, 7, 0, 1);
	serve5(&q, C2, 1, 8, 7, 0, 1);
	serve5(&q, C3, 1, 8, 7, 0, 1);
	ok(ds_outq_done(&q), "every part told of the end: done");
	ds_outq_term(&q);
}

/* A reply to a PULL naming both producers (from, ack of each). */
static int
serve2(struct ds_outq *q, uint64_t cons, uint64_t f1, uint64_t a1,
    uint64_t f2, uint64_t a2, uint32_t max_tuples, int final,
    struct rep *r1, struct rep *r2)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pos pos[2];
	struct ds_pull_msg m;
	int rc;

	memset(pos, 0, sizeof(pos));
	memset(&m, 0, sizeof(m));
	pos[0].producer = PROD2;
	pos[0].from = f2;
	pos[0].ack = a2;
	pos[0].epoch = ds_outq_stream(q, PROD2)->epoch;
	pos[1].producer = PROD;
	pos[1].from = f1;
	pos[1].ack = a1;
	pos[1].epoch = ds_outq_stream(q, PROD)->epoch;
	m.consumer = cons;
	m.epoch = 1;
	m.max_tuples = max_tuples;
	m.n = 2;
	m.pos = pos;
	memset(r1, 0, sizeof(*r1));
	memset(r2, 0, sizeof(*r2));
	rc = ds_outq_serve(q, &m, final, &b);
	if (rc == 1) {
		decode2(r1, &b, PROD);
		decode2(r2, &b, PROD2);
	}
	r1->rc = r2->rc = rc;
	ds_buf_free(&b);
	return rc;
}

/* Two streams, as a router serves them. */
static void
streams(void)
{
	const uint64_t cons[] = { C1, C2 };
	struct ds_outq q;
	struct ds_buf b = DS_BUF_INIT;
	struct ds_bundle bu = DS_BUNDLE_INIT;
	struct ds_outq_stream *s1, *s2;
	struct rep r1, r2;
	const char *why;

	ds_outq_init(&q, cons, 2);
	ok(ds_outq_add(&q, PROD2, 4, 1, 0) == 0 &&
	    ds_outq_add(&q, PROD, 1, 1, 0) == 0 && q.nst == 2 &&
	    q.st[0].producer == PROD && q.st[1].producer == PROD2,
	    "two streams, kept sorted by producer");
	s1 = ds_outq_stream(&q, PROD);
	s2 = ds_outq_stream(&q, PROD2);
	append_to(&q, PROD, 1, 4);
	append_to(&q, PROD2, 1, 2);
	append_to(&q, PROD, 5, 8);
	ok(serve2(&q, C1, 0, 0, 0, 0, 0, 0, &r1, &r2) == 1 &&
	    seqs(&r1, 1, 8) && seqs(&r2, 1, 2) && r1.n == 2 &&
	    r1.pos.scanned == 8 && r2.pos.scanned == 2 && r2.pos.epoch == 4,
	    "one reply: both streams, a position each");
	ok(serve2(&q, C1, 9, 8, 3, 2, 0, 0, &r1, &r2) == 0 &&
	    ds_outq_minack(&q, s1) == 0 && ds_outq_minack(&q, s2) == 0,
	    "everything acked by C1: parked, C2 holds both");
	ok(serve2(&q, C2, 0, 0, 0, 0, 3, 0, &r1, &r2) == 1 &&
	    r1.nseq + r2.nseq == 4, "max_tuples 3: one bundle of 4");
	ok(serve2(&q, C2, 0, 0, 0, 0, 3, 0, &r1, &r2) == 1 &&
	    r1.nseq + r2.nseq > 0 && (r1.nseq == 0 || r2.nseq == 0),
	    "the next reply starts at the other stream");
	/* Skip: seqs with no tuple for anyone. */
	ds_outq_skip(&q, s2, 10);
	ok(s2->next == 11, "skip moves next");
	ds_outq_skip(&q, s2, 5);
	ok(s2->next == 11, "skip never moves back");
	ok(serve2(&q, C1, 9, 8, 3, 2, 0, 1, &r1, &r2) == 1 &&
	    r2.pos.scanned == 10 && r1.pos.scanned == 8,
	    "scanned follows the skip");
	/* A decoded bundle, as a router's inlet hands it over. */
	encode(&b, s2, 11, 13);
	ok(ds_bundle_decode(&bu, b.p + DS_FRAME_HDR, b.len - DS_FRAME_HDR,
	    DS_TUPLE_MAX, &why) == 0 && ds_outq_append_bundle(&q, s2, &bu) == 0
	    && s2->next == 14, "append_bundle: 11..13");
	ok(serve2(&q, C1, 9, 8, 11, 10, 0, 0, &r1, &r2) == 1 &&
	    seqs(&r2, 11, 13) && r1.nseq == 0, "it is served as a frame");
	/* The producer of s2 restarts, at least once: its seqs start over. */
	ds_outq_epoch(&q, s2, 5, 1);
	ok(s2->epoch == 5 && s2->head == NULL && s2->next == 1 &&
	    q.cons[0].cs[1].ack == 0, "restart: dropped, acks forgotten");
	append_to(&q, PROD2, 6, 9);
	ok(serve2(&q, C1, 9, 8, 0, 0, 0, 0, &r1, &r2) == 1 &&
	    seqs(&r2, 6, 9) && r2.pos.epoch == 5 && r2.pos.scanned == 9,
	    "epoch 5: its bundles come with the new epoch");
	ok(serve2(&q, C1, 9, 8, 10, 9, 0, 0, &r1, &r2) == 0 &&
	    q.cons[0].cs[1].ack == 9, "an ack of epoch 5 is taken");
	ds_outq_epoch(&q, s1, 2, 0);
	ok(s1->epoch == 2 && s1->next == 9, "a restart that keeps the seqs");
	/* Ends: done only once both ended, acked and told. */
	ds_outq_end(&q, s1);
	ok(serve2(&q, C1, 9, 8, 10, 9, 0, 0, &r1, &r2) == 1 &&
	    (r1.pos.flags & DS_PROD_ENDED) && !(r2.pos.flags & DS_PROD_ENDED),
	    "one stream ended: told at once");
	ok(!ds_outq_done(&q), "one stream left: not done");
	ds_outq_end(&q, s2);
	serve2(&q, C1, 9, 8, 10, 9, 0, 1, &r1, &r2);
	serve2(&q, C2, 9, 8, 10, 9, 0, 1, &r1, &r2);
	ok(ds_outq_done(&q) && q.tuples == 0, "both ended, acked, told: done");
	ds_bundle_free(&bu);
	ds_buf_free(&b);
	ds_outq_term(&q);
}

int
main(void)
{
	basics();
	fencing();
	restart();
	limits();
	ending();
	parts();
	streams();
	return done();
}
