/*
 * msg.c: unit test for the control and transport messages (libds/msg):
 * a known vector per type written out from ds-wire(5), round trips,
 * every truncation, hostile counts, trailing bytes, and ds_msg_next over
 * several frames, truncated ones and corrupt ones.  The invariant: a
 * decoder returns exactly what was encoded or refuses with EBADMSG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/msg.h"
#include "tap.h"
#include "core/wire.h"

/*
 * A PULL of consumer 0x10002, epoch 3, one producer: 0x10000, from 5,
 * ack 4, of its epoch 2.
 */
static const unsigned char pull_vec[16 + 56] = {
	0x00, 'D', 'S', 0x01, 0x02, 0x00, 0x01, 0x00,	/* flags EPOCHS */
	0x38, 0x00, 0x00, 0x00, 0x71, 0xa8, 0xce, 0xe2,	/* CRC 0xe2cea871 */
	0x02, 0x00, 0x01, 0x00, 0, 0, 0, 0,	/* consumer */
	0x03, 0, 0, 0,				/* epoch */
	0x40, 0, 0, 0,				/* max_tuples 64 */
	0x00, 0x00, 0x10, 0x00,			/* max_bytes 1 MiB */
	0xe8, 0x03, 0, 0,			/* wait_ms 1000 */
	0x01, 0, 0, 0,				/* n */
	0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0,	/* producer */
	0x05, 0, 0, 0, 0, 0, 0, 0,		/* from */
	0x04, 0, 0, 0, 0, 0, 0, 0,		/* ack */
	0x02, 0, 0, 0				/* its epoch */
};

static void
test_pull_vec(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pos pos = { 0x10000, 5, 4, 2, 0, 0, 0 };
	struct ds_pull_msg m = { 0x10002, 3, 64, 1u << 20, 1000, 1, &pos };
	static const unsigned char ack_vec[20] = {
		0x00, 'D', 'S', 0x01, 0x05, 0x00, 0x00, 0x00,
		0x04, 0x00, 0x00, 0x00, 0xf4, 0x5d, 0x47, 0x48,
		0x00, 0x00, 0x00, 0x00			/* status OK */
	};

	ok(ds_msg_pull_put(&b, &m) == 0, "pull: encode");
	ok(b.len == sizeof(pull_vec) && memcmp(b.p, pull_vec, b.len) == 0,
	    "pull: bytes match the example in ds-wire(5)");
	ds_buf_reset(&b);
	ok(ds_msg_beatack_put(&b, DS_BEAT_OK) == 0 &&
	    b.len == sizeof(ack_vec) && memcmp(b.p, ack_vec, b.len) == 0,
	    "beatack: bytes match ds-wire(5)");
	ds_buf_free(&b);
}

static int
pos_eq(const struct ds_pos *a, const struct ds_pos *b, int reply)
{
	if (a->producer != b->producer)
		return 0;
	if (!reply)
		return a->from == b->from && a->ack == b->ack &&
		    a->epoch == b->epoch;
	return a->epoch == b->epoch && a->flags == b->flags &&
	    a->scanned == b->scanned && a->end == b->end;
}

/* Get the one frame of b, checking header and CRC. */
static int
one_frame(const struct ds_buf *b, uint16_t type, struct ds_frame *f)
{
	const char *why;
	size_t off = 0;

	if (ds_msg_next(b->p, b->len, &off, f, &why) != 1 || f->type != type)
		return 0;
	return ds_msg_next(b->p, b->len, &off, f, &why) == 0;
}

static void
test_pull(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pos pos[3];
	struct ds_pull_msg m, d;
	struct ds_frame f;
	const char *why;
	size_t cut;
	int all, i;

	for (i = 0; i < 3; i++) {
		memset(&pos[i], 0, sizeof(pos[i]));
		pos[i].producer = 0x100000000ull * (i + 1) + 7;
		pos[i].from = UINT64_MAX - i;
		pos[i].ack = 0x0102030405060708ull + i;
		pos[i].epoch = i == 2 ? UINT32_MAX : (uint32_t)i;
	}
	m.consumer = UINT64_MAX;
	m.epoch = UINT32_MAX;
	m.max_tuples = 1;
	m.max_bytes = 2;
	m.wait_ms = 3;
	m.n = 3;
	m.pos = pos;
	ok(ds_msg_pull_put(&b, &m) == 0 && one_frame(&b, DS_FRAME_PULL, &f),
	    "pull: encode, one frame");
	ok(f.flags == DS_PULL_EPOCHS && f.len == 28 + 3 * 28,
	    "pull: flag EPOCHS, a position and an epoch per producer");
	ok(ds_msg_pull_get(&d, f.flags, f.payload, f.len, &why) == 0,
	    "pull: decode");
	ok(d.consumer == m.consumer && d.epoch == m.epoch &&
	    d.max_tuples == 1 && d.max_bytes == 2 && d.wait_ms == 3 &&
	    d.n == 3 && pos_eq(&d.pos[0], &pos[0], 0) &&
	    pos_eq(&d.pos[1], &pos[1], 0) && pos_eq(&d.pos[2], &pos[2], 0),
	    "pull: round trip, epochs too");
	free(d.pos);
	ok(ds_msg_pull_get(&d, 0, f.payload, 28 + 3 * 24, &why) == 0 &&
	    d.n == 3 && d.pos[0].epoch == 0 && d.pos[2].epoch == 0 &&
	    d.pos[2].from == pos[2].from && d.pos[2].ack == pos[2].ack,
	    "pull: without EPOCHS the positions have epoch 0");
	free(d.pos);
	ok(ds_msg_pull_get(&d, 0, f.payload, f.len, &why) == -1 &&
	    errno == EBADMSG, "pull: epochs without the flag are refused");
	ok(ds_msg_pull_get(&d, DS_PULL_EPOCHS | 0x2, f.payload, f.len,
	    &why) == -1 && errno == EBADMSG && d.pos == NULL,
	    "pull: an undefined flag is refused");
	all = 1;
	for (cut = 0; cut < f.len; cut++) {
		errno = 0;
		if (ds_msg_pull_get(&d, f.flags, f.payload, cut, &why) != -1 ||
		    errno != EBADMSG || why == NULL || d.pos != NULL)
			all = 0;
	}
	ok(all, "pull: every truncation refused with EBADMSG");
	m.n = 0;
	ds_buf_reset(&b);
	ok(ds_msg_pull_put(&b, &m) == 0 && one_frame(&b, DS_FRAME_PULL, &f) &&
	    f.len == 28 && ds_msg_pull_get(&d, f.flags, f.payload, f.len,
	    &why) == 0 &&
	    d.n == 0 && d.pos == NULL, "pull: empty vector, pos NULL");
	m.n = DS_MSG_MAXPROD + 1;
	ok(ds_msg_pull_put(&b, &m) == -1 && errno == EMSGSIZE,
	    "pull: encoder refuses n over DS_MSG_MAXPROD");
	ds_buf_free(&b);
}

static void
test_pull_hostile(void)
{
	unsigned char p[28 + 24 + 1];
	struct ds_pull_msg d;
	const char *why;

	memset(p, 0, sizeof(p));
	ds_put_le32(p + 24, 0xffffffff);
	ok(ds_msg_pull_get(&d, 0, p, 28 + 24, &why) == -1 && errno == EBADMSG &&
	    strcmp(why, "vector count over the limit") == 0,
	    "pull: n 0xffffffff refused before allocating");
	ds_put_le32(p + 24, DS_MSG_MAXPROD + 1);
	ok(ds_msg_pull_get(&d, 0, p, 28 + 24, &why) == -1 && errno == EBADMSG,
	    "pull: n just over DS_MSG_MAXPROD refused");
	ds_put_le32(p + 24, 2);
	ok(ds_msg_pull_get(&d, 0, p, 28 + 24, &why) == -1 && errno == EBADMSG &&
	    strcmp(why, "vector count larger than the message") == 0,
	    "pull: n larger than the payload refused");
	ds_put_le32(p + 24, 1);
	ok(ds_msg_pull_get(&d, 0, p, sizeof(p), &why) == -1 &&
	    errno == EBADMSG &&
	    strcmp(why, "trailing bytes after the vector") == 0,
	    "pull: trailing byte refused");
	ds_put_le32(p + 24, 0);
	ok(ds_msg_pull_get(&d, 0, p, 29, &why) == -1 && errno == EBADMSG,
	    "pull: n 0 with a trailing byte refused");
}

static void
test_reply(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pos pos[2];
	struct ds_reply_msg m, d;
	struct ds_frame f;
	const char *why;
	unsigned char *p;
	size_t cut;
	int all, i;

	for (i = 0; i < 2; i++) {
		memset(&pos[i], 0, sizeof(pos[i]));
		pos[i].producer = 0x20001ull + i;
		pos[i].epoch = 0x80000000u + i;
		pos[i].flags = DS_PROD_ENDED * i;
		pos[i].scanned = UINT64_MAX - 3 * i;
		pos[i].end = 0x1122334455667788ull * i;
	}
	m.status = DS_PULL_FENCED;
	m.server = (1ull << 40) | 3;
	m.epoch = 9;
	m.n = 2;
	m.pos = pos;
	ok(ds_msg_reply_put(&b, &m) == 0 && one_frame(&b, DS_FRAME_REPLY, &f) &&
	    f.len == 20 + 2 * 32, "reply: encode, one frame of 84 bytes");
	ok(ds_msg_reply_get(&d, f.payload, f.len, &why) == 0 &&
	    d.status == DS_PULL_FENCED && d.server == m.server &&
	    d.epoch == 9 && d.n == 2 && pos_eq(&d.pos[0], &pos[0], 1) &&
	    pos_eq(&d.pos[1], &pos[1], 1), "reply: round trip");
	free(d.pos);
	all = 1;
	for (cut = 0; cut < f.len; cut++)
		if (ds_msg_reply_get(&d, f.payload, cut, &why) != -1 ||
		    errno != EBADMSG || d.pos != NULL)
			all = 0;
	ok(all, "reply: every truncation refused with EBADMSG");
	p = malloc(f.len + 1);
	memcpy(p, f.payload, f.len);
	p[f.len] = 0;
	ok(ds_msg_reply_get(&d, p, f.len + 1, &why) == -1 &&
	    errno == EBADMSG, "reply: trailing byte refused");
	ds_put_le32(p + 16, DS_MSG_MAXPROD + 1);
	ok(ds_msg_reply_get(&d, p, f.len, &why) == -1 && errno == EBADMSG,
	    "reply: n over DS_MSG_MAXPROD refused");
	ds_put_le32(p + 16, 2);
	ds_put_le32(p + 20 + 32 + 12, 4);
	ok(ds_msg_reply_get(&d, p, f.len, &why) == -1 && errno == EBADMSG &&
	    d.pos == NULL && strcmp(why, "undefined producer flag set") == 0,
	    "reply: undefined producer flag refused");
	ds_put_le32(p + 20 + 32 + 12, DS_PROD_STOPPED);
	ok(ds_msg_reply_get(&d, p, f.len, &why) == -1 && errno == EBADMSG &&
	    d.pos == NULL && strcmp(why, "producer flag STOPPED without "
	    "ENDED") == 0, "reply: STOPPED without ENDED refused");
	ds_put_le32(p + 20 + 32 + 12, DS_PROD_ENDED | DS_PROD_STOPPED);
	ok(ds_msg_reply_get(&d, p, f.len, &why) == 0 && d.n == 2 &&
	    d.pos[1].flags == (DS_PROD_ENDED | DS_PROD_STOPPED),
	    "reply: ENDED with STOPPED taken");
	free(d.pos);
	free(p);
	ds_buf_free(&b);
}

static void
test_beat(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_beat_msg m, d;
	struct ds_frame f;
	const char *why;
	unsigned char p[24 + 8 * (DS_CNT_N + 2)];
	size_t cut;
	uint32_t st;
	int all, i;

	memset(&m, 0, sizeof(m));
	m.id = 0x30005;
	m.epoch = 12;
	m.state = DS_BEAT_DONE;
	m.pid = 4242;
	m.n = DS_CNT_N;
	for (i = 0; i < DS_CNT_N; i++)
		m.cnt[i] = 1000003ull * (i + 1) << 20;
	ok(ds_msg_beat_put(&b, &m) == 0 && one_frame(&b, DS_FRAME_BEAT, &f) &&
	    f.len == 24 + 8 * DS_CNT_N, "beat: encode, one frame");
	ok(ds_msg_beat_get(&d, f.payload, f.len, &why) == 0 &&
	    memcmp(&d, &m, sizeof(d)) == 0, "beat: round trip");
	all = 1;
	for (cut = 0; cut < f.len; cut++)
		if (ds_msg_beat_get(&d, f.payload, cut, &why) != -1 ||
		    errno != EBADMSG)
			all = 0;
	ok(all, "beat: every truncation refused with EBADMSG");

	/* A later version's beat: two more counters, skipped. */
	memcpy(p, f.payload, f.len);
	ds_put_le32(p + 20, DS_CNT_N + 2);
	memset(p + f.len, 0xee, 16);
	ok(ds_msg_beat_get(&d, p, sizeof(p), &why) == 0 && d.n == DS_CNT_N &&
	    memcmp(d.cnt, m.cnt, sizeof(m.cnt)) == 0,
	    "beat: extra counters of a later version skipped");
	ok(ds_msg_beat_get(&d, p, sizeof(p) - 1, &why) == -1 &&
	    errno == EBADMSG, "beat: count past the payload refused");
	/* An earlier one: two counters; the rest read as 0. */
	ds_put_le32(p + 20, 2);
	ok(ds_msg_beat_get(&d, p, 24 + 16, &why) == 0 && d.n == 2 &&
	    d.cnt[1] == m.cnt[1] && d.cnt[2] == 0,
	    "beat: fewer counters, the rest 0");
	ok(ds_msg_beat_get(&d, p, 24 + 17, &why) == -1 && errno == EBADMSG,
	    "beat: trailing byte refused");
	m.n = DS_CNT_N + 1;
	ok(ds_msg_beat_put(&b, &m) == -1 && errno == EMSGSIZE,
	    "beat: encoder refuses n over DS_CNT_N");

	ds_buf_reset(&b);
	ok(ds_msg_beatack_put(&b, DS_BEAT_STOP) == 0 &&
	    one_frame(&b, DS_FRAME_BEATACK, &f) && f.len == 4 &&
	    ds_msg_beatack_get(&st, f.payload, f.len, &why) == 0 &&
	    st == DS_BEAT_STOP, "beatack: round trip");
	ok(ds_msg_beatack_get(&st, f.payload, 3, &why) == -1 &&
	    errno == EBADMSG && ds_msg_beatack_get(&st, f.payload, 0,
	    &why) == -1, "beatack: truncations refused");
	memcpy(p, f.payload, 4);
	ok(ds_msg_beatack_get(&st, p, 5, &why) == -1 && errno == EBADMSG,
	    "beatack: trailing byte refused");
	ds_buf_free(&b);
}

static void
test_text(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_frame f;

	ok(ds_msg_text_put(&b, DS_FRAME_CTL, "status", 6) == 0 &&
	    one_frame(&b, DS_FRAME_CTL, &f) && f.len == 6 &&
	    memcmp(f.payload, "status", 6) == 0, "ctl: round trip");
	ds_buf_reset(&b);
	ok(ds_msg_text_put(&b, DS_FRAME_CTLREPLY, "", 0) == 0 &&
	    one_frame(&b, DS_FRAME_CTLREPLY, &f) && f.len == 0,
	    "ctlreply: empty text");
	ds_buf_free(&b);
}

/* A REPLY followed by two BUNDLE frames, as one message. */
static void
test_next(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_reply_msg r = { DS_PULL_OK, 1, 1, 0, NULL };
	struct ds_frame f;
	const char *why;
	unsigned char *m;
	size_t off, cut, len, ends[3];
	int all, n, rc;
	unsigned bit;

	ds_msg_reply_put(&b, &r);
	ends[0] = b.len;
	ds_frame_append(&b, DS_FRAME_BUNDLE, 0, "0123456789abcdef", 16);
	ends[1] = b.len;
	ds_frame_append(&b, DS_FRAME_BUNDLE, 0, "xyz", 3);
	ends[2] = b.len;
	off = 0;
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_REPLY && f.len == 20 && off == ends[0],
	    "next: first frame REPLY");
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_BUNDLE && f.len == 16 &&
	    memcmp(f.payload, "0123456789abcdef", 16) == 0 && off == ends[1],
	    "next: second frame BUNDLE");
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 && f.len == 3 &&
	    memcmp(f.payload, "xyz", 3) == 0 && off == ends[2],
	    "next: third frame BUNDLE");
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 0,
	    "next: 0 at the end");
	off = 0;
	ok(ds_msg_next(b.p, 0, &off, &f, &why) == 0, "next: empty message");

	/* Every truncation: the frames before the cut, then EBADMSG. */
	all = 1;
	for (cut = 1; cut < b.len; cut++) {
		off = 0;
		n = 0;
		while ((rc = ds_msg_next(b.p, cut, &off, &f, &why)) == 1)
			n++;
		if (cut == ends[0] || cut == ends[1]) {
			if (rc != 0 || (n != 1 && n != 2))
				all = 0;
		} else if (rc != -1 || errno != EBADMSG ||
		    n != (cut > ends[1] ? 2 : cut > ends[0] ? 1 : 0))
			all = 0;
	}
	ok(all, "next: every truncation: whole frames, then EBADMSG");

	/* Every single-bit flip is caught somewhere in the walk. */
	len = b.len;
	m = malloc(len);
	all = 1;
	for (bit = 0; bit < len * 8; bit++) {
		memcpy(m, b.p, len);
		m[bit / 8] ^= 1u << (bit % 8);
		off = 0;
		while ((rc = ds_msg_next(m, len, &off, &f, &why)) == 1)
			;
		if (rc != -1)
			all = 0;
	}
	ok(all, "next: every single-bit flip refused");

	memcpy(m, b.p, len);
	m[ends[0] + 1] = 'X';
	off = 0;
	ok(ds_msg_next(m, len, &off, &f, &why) == 1 &&
	    ds_msg_next(m, len, &off, &f, &why) == -1 && errno == EPROTO &&
	    off == ends[0], "next: bad magic in frame 2: EPROTO, cursor kept");
	memcpy(m, b.p, len);
	m[3] = 2;
	off = 0;
	ok(ds_msg_next(m, len, &off, &f, &why) == -1 && errno == EPROTO,
	    "next: bad version: EPROTO");
	memcpy(m, b.p, len);
	m[len - 1] ^= 0x40;
	off = 0;
	ok(ds_msg_next(m, len, &off, &f, &why) == 1 &&
	    ds_msg_next(m, len, &off, &f, &why) == 1 &&
	    ds_msg_next(m, len, &off, &f, &why) == -1 && errno == EBADMSG &&
	    strcmp(why, "checksum mismatch") == 0,
	    "next: corrupt payload of frame 3: checksum mismatch");
	memcpy(m, b.p, len);
	ds_frame_pack(m + ends[1], DS_FRAME_BUNDLE, 0x1, m + ends[1] + 16, 3);
	off = 0;
	ok(ds_msg_next(m, len, &off, &f, &why) == 1 &&
	    ds_msg_next(m, len, &off, &f, &why) == 1 &&
	    ds_msg_next(m, len, &off, &f, &why) == -1 && errno == EBADMSG &&
	    strcmp(why, "undefined frame flags set") == 0,
	    "next: a frame flag set (good CRC) refused");
	memcpy(m, b.p, len);
	ds_put_le32(m + 8, DS_FRAME_MAX + 1);
	off = 0;
	ok(ds_msg_next(m, len, &off, &f, &why) == -1 && errno == EMSGSIZE,
	    "next: length over DS_FRAME_MAX: EMSGSIZE");
	ds_put_le32(m + 8, 0xffffffff);
	off = 0;
	ok(ds_msg_next(m, len, &off, &f, &why) == -1 && errno == EMSGSIZE,
	    "next: length 0xffffffff: EMSGSIZE");
	free(m);
	ds_buf_free(&b);
}

int
main(void)
{
	test_pull_vec();
	test_pull();
	test_pull_hostile();
	test_reply();
	test_beat();
	test_text();
	test_next();
	return done();
}
