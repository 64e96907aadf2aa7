/*
 * t/unit/rec.c: the records of state logs and journals (libds/core/rec):
 * every type round-trips through its encoder and ds_rec_get, every
 * truncation of a record and every bad body is refused with EBADMSG and
 * a reason, a MARK numbered 0 or with an undefined producer flag is
 * refused, and ds_mark_copy copies and reuses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/rec.h"
#include "core/wire.h"
#include "tap.h"

/* The one frame of b, header checked, into f. */
static int
frame_of(const struct ds_buf *b, struct ds_frame *f)
{
	const char *why;

	if (b->len < DS_FRAME_HDR ||
	    ds_frame_unpack_hdr(b->p, DS_FRAME_MAX, f, &why) == -1 ||
	    f->len != b->len - DS_FRAME_HDR ||
	    ds_frame_check(b->p, b->p + DS_FRAME_HDR, f->len) == -1)
		return 0;
	f->payload = b->p + DS_FRAME_HDR;
	return 1;
}

/* Every shorter payload of f is refused. */
static int
truncations_refused(const struct ds_frame *f)
{
	struct ds_frame t = *f;
	const char *why;
	uint32_t n;

	for (n = 0; n < f->len; n++) {
		t.len = n;
		errno = 0;
		why = NULL;
		if (ds_rec_check(&t, &why) != -1 || errno != EBADMSG ||
		    why == NULL)
			return 0;
	}
	return 1;
}

static void
delta(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_frame f;
	struct ds_rec r;
	const char *why;

	ok(ds_rec_put_delta(&b, "key", 3, "value", 5) == 0 && frame_of(&b, &f)
	    && f.type == DS_FRAME_DELTA && f.len == 16, "delta: one frame");
	ok(ds_rec_get(&f, &r, NULL, &why) == 0 && r.type == DS_FRAME_DELTA &&
	    r.keylen == 3 && memcmp(r.key, "key", 3) == 0 && r.vallen == 5 &&
	    memcmp(r.val, "value", 5) == 0, "delta: round trip");
	ok(truncations_refused(&f), "delta: every truncation refused");
	ds_buf_reset(&b);
	ok(ds_rec_put_delta(&b, "", 0, NULL, 0) == 0 && frame_of(&b, &f) &&
	    ds_rec_get(&f, &r, NULL, &why) == 0 && r.keylen == 0 &&
	    r.val == NULL && r.vallen == 0,
	    "delta: an empty key, deleted (val NULL)");
	ds_buf_reset(&b);
	ok(ds_rec_put_delta(&b, "k", 1, "", 0) == 0 && frame_of(&b, &f) &&
	    ds_rec_get(&f, &r, NULL, &why) == 0 && r.val != NULL &&
	    r.vallen == 0, "delta: an empty value is not a deletion");
	ds_put_le32(b.p + DS_FRAME_HDR + 5, 7);
	ok(ds_rec_check(&f, &why) == -1 && errno == EBADMSG,
	    "delta: lengths that do not add up are refused");
	ok(ds_rec_put_delta(&b, "k", (size_t)0xffffffffu, NULL, 0) == -1 &&
	    errno == EMSGSIZE, "delta: a key of 2^32-1 bytes: EMSGSIZE");
	ds_buf_free(&b);
}

static void
mark(void)
{
	struct ds_mark_pos pos[3] = {
		{ 0x10000, 2, 0, 41, 0 },
		{ 0x10001, 7, DS_PROD_ENDED, 9, 9 },
		{ UINT64_MAX, UINT32_MAX, 0, UINT64_MAX, 0 }
	};
	struct ds_mark m = { 5, 100, 12345, 3, pos }, d, c;
	struct ds_buf b = DS_BUF_INIT;
	struct ds_frame f;
	struct ds_rec r;
	const char *why;

	memset(&d, 0, sizeof(d));
	memset(&c, 0, sizeof(c));
	ok(ds_rec_put_mark(&b, &m) == 0 && frame_of(&b, &f) &&
	    f.type == DS_FRAME_MARK && f.len == 28 + 3 * 32, "mark: one frame");
	ok(ds_rec_get(&f, &r, &d, &why) == 0 && d.mark == 5 &&
	    d.outseq == 100 && d.aux == 12345 && d.n == 3 &&
	    memcmp(d.pos, pos, sizeof(pos)) == 0, "mark: round trip");
	ok(ds_rec_get(&f, &r, NULL, &why) == 0, "mark: checked without m");
	ok(truncations_refused(&f), "mark: every truncation refused");
	ok(ds_mark_copy(&c, &d) == 0 && c.n == 3 && c.pos != d.pos &&
	    memcmp(c.pos, pos, sizeof(pos)) == 0 && c.outseq == 100,
	    "mark: copy");
	d.pos[0].seq = 42;
	ok(ds_mark_copy(&c, &d) == 0 && c.pos[0].seq == 42, "mark: copied "
	    "again into the same room");
	ds_mark_free(&c);
	ds_mark_free(&d);
	ok(c.pos == NULL && c.n == 0, "mark: free");
	ds_put_le32(b.p + DS_FRAME_HDR + 28 + 32 + 12, 2);
	ok(ds_rec_check(&f, &why) == -1 && errno == EBADMSG &&
	    strstr(why, "producer flag") != NULL,
	    "mark: an undefined producer flag is refused");
	ds_buf_reset(&b);
	m.mark = 0;
	ok(ds_rec_put_mark(&b, &m) == 0 && frame_of(&b, &f) &&
	    ds_rec_check(&f, &why) == -1 && strstr(why, "0") != NULL,
	    "mark: a MARK numbered 0 is refused");
	ds_buf_reset(&b);
	m.mark = 1;
	m.n = 0;
	ok(ds_rec_put_mark(&b, &m) == 0 && frame_of(&b, &f) &&
	    ds_rec_get(&f, &r, &d, &why) == 0 && d.n == 0 && d.pos == NULL,
	    "mark: an empty frontier");
	ds_buf_free(&b);
}

static void
acked_timer(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_frame f;
	struct ds_rec r;
	const char *why;

	ok(ds_rec_put_acked(&b, 77) == 0 && frame_of(&b, &f) &&
	    ds_rec_get(&f, &r, NULL, &why) == 0 && r.type == DS_FRAME_ACKED &&
	    r.acked == 77, "acked: round trip");
	ok(truncations_refused(&f), "acked: every truncation refused");
	ds_buf_reset(&b);
	ok(ds_rec_put_timer(&b, "kk", 2, 1700000000000000000ull) == 0 &&
	    frame_of(&b, &f) && ds_rec_get(&f, &r, NULL, &why) == 0 &&
	    r.type == DS_FRAME_TIMER && r.keylen == 2 &&
	    memcmp(r.key, "kk", 2) == 0 && r.when == 1700000000000000000ull,
	    "timer: round trip");
	ok(truncations_refused(&f), "timer: every truncation refused");
	ds_buf_reset(&b);
	ok(ds_rec_put_timer(&b, "k", 1, DS_REC_CANCEL) == 0 &&
	    frame_of(&b, &f) && ds_rec_get(&f, &r, NULL, &why) == 0 &&
	    r.when == DS_REC_CANCEL, "timer: a cancellation");
	f.flags = 1;
	ok(ds_rec_check(&f, &why) == -1 && errno == EBADMSG,
	    "a record with a flag set is refused");
	f.flags = 0;
	f.type = DS_FRAME_BUNDLE;
	ok(ds_rec_check(&f, &why) == -1 && errno == EBADMSG &&
	    strcmp(why, "not a record type") == 0, "a BUNDLE is no record");
	ds_buf_free(&b);
}

int
main(void)
{
	delta();
	mark();
	acked_timer();
	return done();
}
