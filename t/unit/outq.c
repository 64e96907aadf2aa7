/*
 * t/unit/outq.c: the producer side retention queue (libds/outq).  Pure:
 * bundles are appended, PULL requests are built as structs and every
 * reply is decoded back (REPLY header, then BUNDLE frames) and checked:
 * which seqs came, scanned, the end flag, fencing, unknown consumers, the
 * from rules (0, inside, below, above the next seq, DS_FROM_NEW), limits,
 * acks freeing only what every consumer acked, and done; and partitions
 * (ds_outq_part): each consumer of a group gets its part only, scanned
 * covers the others' seqs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/msg.h"
#include "net/outq.h"
#include "tap.h"
#include "core/tuple.h"

#define PROD	0x10000ull
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

/* Append a bundle of tuples first..last (one byte payload each). */
static void
append(struct ds_outq *q, uint64_t first, uint64_t last)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_bundle_writer w;
	struct ds_tuple t;
	uint64_t s;
	int rc;

	memset(&t, 0, sizeof(t));
	t.key = (const unsigned char *)"k";
	t.keylen = 1;
	t.payload = (const unsigned char *)"v";
	t.paylen = 1;
	rc = ds_bundle_begin(&w, &b, q->producer, q->epoch);
	for (s = first; rc == 0 && s <= last; s++) {
		t.seq = s;
		t.time = s * 1000;
		rc = ds_bundle_add(&w, &t);
	}
	if (rc == 0)
		rc = ds_bundle_end(&w);
	if (rc == 0)
		rc = ds_outq_append(q, b.p, b.len, first, last);
	if (rc != 0)
		ok(0, "append %llu..%llu", (unsigned long long)first,
		    (unsigned long long)last);
	ds_buf_free(&b);
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

static struct rep
serve5(struct ds_outq *q, uint64_t cons, uint32_t epoch, uint64_t from,
    uint64_t ack, uint32_t max_tuples, int final)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pos pos[2];
	struct ds_pull_msg m;
	struct rep r;

	memset(&r, 0, sizeof(r));
	memset(pos, 0, sizeof(pos));
	memset(&m, 0, sizeof(m));
	pos[0].producer = q->producer + 7;	/* someone else's: ignored */
	pos[0].from = 99;
	pos[0].ack = 99;
	pos[1].producer = q->producer;
	pos[1].from = from;
	pos[1].ack = ack;
	m.consumer = cons;
	m.epoch = epoch;
	m.max_tuples = max_tuples;
	m.wait_ms = 500;
	m.n = 2;
	m.pos = pos;
	r.rc = ds_outq_serve(q, &m, final, &b);
	if (r.rc == 1)
		decode(&r, &b, q->producer);
	else if (b.len != 0)
		r.bad = 1;
	ds_buf_free(&b);
	return r;
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

	ok(ds_outq_init(&q, PROD, 3, 1, cons, 2) == 0, "init");
	ok(q.next == 1 && q.head == NULL && ds_outq_minack(&q) == 0,
	    "empty queue: next 1, minack 0");
	r = serve(&q, C1, 0, 0);
	ok(r.rc == 0, "nothing to send: parked");
	r = serve5(&q, C1, 1, 0, 0, 0, 1);
	ok(seqs(&r, 1, 0) && r.n == 1 && r.pos.scanned == 0 &&
	    r.pos.epoch == 3 && !(r.pos.flags & DS_PROD_ENDED),
	    "final: an empty reply, scanned 0, epoch 3");
	append(&q, 1, 3);
	append(&q, 4, 4);
	append(&q, 5, 9);
	ok(q.next == 10 && q.tuples == 9 && q.bytes > 0, "3 bundles, 9 tuples");
	ok(ds_outq_append(&q, "x", 1, 9, 9) == -1 && errno == EINVAL,
	    "append below next is refused");
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
	ok(seqs(&r, 4, 9) && q.cons[0].ack == 3 && q.tuples == 9,
	    "C1 acks 3: C2 has not, nothing freed, acked bundles not resent");
	ok(ds_outq_minack(&q) == 0, "minack 0");
	r = serve(&q, C2, 1, 4);
	ok(seqs(&r, 1, 9) && q.tuples == 9, "C2's first ack, 4, is above "
	    "what it was sent (nothing): ignored, all sent");
	r = serve(&q, C2, 1, 4);
	ok(seqs(&r, 5, 9) && q.tuples == 6 &&
	    ds_outq_minack(&q) == 3, "C2 acks 4: 1..3 freed (minack 3)");
	r = serve(&q, C1, 10, 9);
	ok(r.rc == 0 && q.tuples == 5 && ds_outq_minack(&q) == 4,
	    "C1 acks 9 in a parked request: 4 freed");
	r = serve(&q, C1, 2, 9);
	ok(r.rc == 0, "from below the oldest, everything acked: parked");
	r = serve(&q, C2, 2, 4);
	ok(seqs(&r, 5, 9), "from below the oldest: the oldest (5..9)");
	r = serve(&q, C2, 10, 9);
	ok(r.rc == 0 && q.head == NULL && q.tuples == 0 && q.bytes == 0,
	    "all acked: the queue is empty");
	r = serve(&q, C1, 9, 2);
	ok(q.cons[0].ack == 9 && r.rc == 0, "acks never move backwards");
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

	ds_outq_init(&q, PROD, 1, 1, cons, 1);
	append(&q, 1, 2);
	r = serve5(&q, C1, 5, 0, 0, 0, 0);
	ok(seqs(&r, 1, 2) && q.cons[0].epoch == 5, "consumer epoch 5 seen");
	r = serve5(&q, C1, 4, 0, 2, 0, 0);
	ok(r.rc == 1 && !r.bad && r.status == DS_PULL_FENCED && r.nseq == 0 &&
	    q.fenced == 1, "epoch 4 after 5: FENCED, counted");
	ok(q.cons[0].ack == 0 && q.tuples == 2, "a fenced ack is not applied");
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
	ds_outq_init(&q, PROD, 2, 51, cons, 2);
	ok(q.next == 51 && q.first == 51, "recovered: first 51");
	r = serve(&q, C1, 101, 0);
	ok(r.rc == 0, "from above next, nothing retained: parked");
	r = serve5(&q, C1, 1, 101, 0, 0, 1);
	ok(seqs(&r, 1, 0) && r.pos.scanned == 50 && r.pos.epoch == 2,
	    "final: empty, scanned 50 (the new epoch's frontier)");
	append(&q, 51, 60);
	append(&q, 61, 70);
	r = serve(&q, C1, 101, 0);
	ok(seqs(&r, 51, 70) && r.pos.scanned == 70,
	    "from above next: replay from the oldest retained (least)");
	r = serve(&q, C1, 71, 65);
	ok(r.rc == 0 && q.cons[0].ack == 65, "ack 65 mid-bundle");
	r = serve(&q, C1, 101, 65);
	ok(seqs(&r, 61, 70), "replay skips bundles the consumer acked");
	r = serve(&q, C2, DS_FROM_NEW, 0);
	ok(seqs(&r, 1, 0) && r.pos.scanned == 70 && q.skipped == 20,
	    "DS_FROM_NEW: nothing sent, scanned 70, 20 skipped");
	r = serve(&q, C2, 71, 70);
	ok(r.rc == 0 && q.head != NULL && q.tuples == 10,
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
	 * An ack from an earlier epoch frees nothing this epoch did not send
	 * (its regenerated seqs may be other tuples); the recovered prefix,
	 * below first, it does.
	 */
	ds_outq_init(&q, PROD, 3, 51, cons, 1);
	r = serve(&q, C1, 81, 80);
	ok(r.rc == 0 && q.cons[0].ack == 50, "consumer at 80 from an earlier "
	    "epoch: parked, its ack taken up to 50 only");
	append(&q, 51, 60);
	ok(q.tuples == 10, "51..60 retained");
	r = serve(&q, C1, 81, 80);
	ok(seqs(&r, 51, 60) && r.pos.scanned == 60,
	    "from past next: 51..60 replayed");
	append(&q, 61, 90);
	r = serve(&q, C1, 61, 80);
	ok(seqs(&r, 61, 90) && q.cons[0].ack == 60 && q.tuples == 30,
	    "ack 80 taken up to 60, what was sent: 51..60 freed, 61..90 sent");
	r = serve(&q, C1, 91, 80);
	ok(r.rc == 0 && q.cons[0].ack == 80 && q.tuples == 30,
	    "once sent, ack 80 applies (61..90 is one bundle: kept)");
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

	ds_outq_init(&q, PROD, 1, 1, cons, 1);
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

	ds_outq_init(&q, PROD, 1, 1, cons, 2);
	append(&q, 1, 5);
	append(&q, 6, 10);
	ok(!ds_outq_done(&q), "not ended: not done");
	ds_outq_end(&q);
	ok(q.ended && ds_outq_append(&q, "x", 1, 11, 11) == -1,
	    "no append after the end");
	r = serve5(&q, C1, 1, 0, 0, 5, 0);
	ok(seqs(&r, 1, 5) && !(r.pos.flags & DS_PROD_ENDED) &&
	    !q.cons[0].told_end, "a reply short of the end: no ENDED");
	r = serve(&q, C1, 6, 5);
	ok(seqs(&r, 6, 10) && (r.pos.flags & DS_PROD_ENDED) &&
	    r.pos.end == 10 && q.cons[0].told_end,
	    "the reply through the end: ENDED at 10, told");
	r = serve(&q, C2, 11, 10);
	ok(seqs(&r, 1, 10) && (r.pos.flags & DS_PROD_ENDED) &&
	    r.pos.end == 10 && r.pos.scanned == 10 && q.cons[1].told_end,
	    "C2's first request: its from and ack may be an earlier epoch's, "
	    "so it gets all that is retained, with ENDED");
	ok(q.cons[1].ack == 0, "C2's ack of 10 before it was sent anything: "
	    "not taken");
	r = serve(&q, C2, 11, 10);
	ok(r.rc == 1 && q.cons[1].ack == 10, "sent, its ack of 10 is taken "
	    "(and answered at once: it completes C2's part)");
	ok(!ds_outq_done(&q), "C1 has not acked 10: not done");
	r = serve(&q, C1, 11, 10);
	ok(r.rc == 1 && seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED),
	    "the ack that completes the ended stream: answered at once");
	r = serve(&q, C1, 11, 10);
	ok(r.rc == 0, "told, acked and nothing left: parked");
	ok(ds_outq_done(&q) && q.head == NULL,
	    "everyone acked the end and was told: done, empty");
	r = serve5(&q, C1, 1, 11, 10, 0, 1);
	ok(seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED),
	    "final: empty reply with ENDED");
	r = serve5(&q, C1, 2, 0, 0, 0, 0);
	ok(seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED) &&
	    q.cons[0].epoch == 2 && ds_outq_done(&q),
	    "a restarted consumer is told again");
	ds_outq_term(&q);

	ds_outq_init(&q, PROD, 1, 1, cons, 1);
	ds_outq_end(&q);
	ok(!ds_outq_done(&q), "an empty stream ended: not done until told");
	r = serve(&q, C1, 0, 0);
	ok(seqs(&r, 1, 0) && (r.pos.flags & DS_PROD_ENDED) && r.pos.end == 0,
	    "ENDED at 0 (produced nothing)");
	ok(ds_outq_done(&q), "done");
	ds_outq_term(&q);

	ds_outq_init(&q, PROD, 1, 1, NULL, 0);
	append(&q, 1, 3);
	ok(q.head == NULL && ds_outq_minack(&q) == 3,
	    "no consumers: nothing retained, minack = next - 1");
	ds_outq_end(&q);
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

	ds_outq_init(&q, PROD, 1, 1, cons, 3);
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
	ok(q.head != NULL && q.tuples == 6,
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
	ok(q.head == NULL && q.bytes == 0 && q.tuples == 0, "all acked: "
	    "empty");
	ds_outq_end(&q);
	serve5(&q, C1, 1, 8, 7, 0, 1);
	serve5(&q, C2, 1, 8, 7, 0, 1);
	serve5(&q, C3, 1, 8, 7, 0, 1);
	ok(ds_outq_done(&q), "every part told of the end: done");
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
	return done();
}
