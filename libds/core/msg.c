/*
 * msg.c: PULL, REPLY, BEAT, BEATACK and CTL frames (ds-wire(5)). The J*
 * frames of ds-journal are at the end.  Encoders
 * build the payload on the stack or in a scratch buffer and append one
 * whole frame; decoders check the exact payload length implied by the
 * fixed part and n before allocating anything, so a payload either
 * decodes whole or not at all.  Only PULL defines a frame flag
 * (DS_PULL_EPOCHS), so ds_msg_next refuses any other.  No I/O, never
 * prints.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/msg.h"
#include "core/wire.h"

#define PULL_FIX	28
#define PULL_POS	24
#define REPLY_FIX	20
#define REPLY_POS	32
#define BEAT_FIX	24

static int
bad(const char **why, const char *w)
{
	*why = w;
	errno = EBADMSG;
	return -1;
}

int
ds_msg_pull_put(struct ds_buf *b, const struct ds_pull_msg *m)
{
	unsigned char *p;
	size_t len;
	uint32_t i;

	if (m->n > DS_MSG_MAXPROD) {
		errno = EMSGSIZE;
		return -1;
	}
	len = PULL_FIX + (size_t)m->n * (PULL_POS + 4);
	if ((p = ds_frame_begin(b, len)) == NULL)
		return -1;
	ds_put_le64(p, m->consumer);
	ds_put_le32(p + 8, m->epoch);
	ds_put_le32(p + 12, m->max_tuples);
	ds_put_le32(p + 16, m->max_bytes);
	ds_put_le32(p + 20, m->wait_ms);
	ds_put_le32(p + 24, m->n);
	p += PULL_FIX;
	for (i = 0; i < m->n; i++, p += PULL_POS) {
		ds_put_le64(p, m->pos[i].producer);
		ds_put_le64(p + 8, m->pos[i].from);
		ds_put_le64(p + 16, m->pos[i].ack);
	}
	for (i = 0; i < m->n; i++, p += 4)
		ds_put_le32(p, m->pos[i].epoch);
	ds_frame_end(b, DS_FRAME_PULL, DS_PULL_EPOCHS, len);
	return 0;
}

int
ds_msg_reply_put(struct ds_buf *b, const struct ds_reply_msg *m)
{
	unsigned char *p;
	size_t len;
	uint32_t i;

	if (m->n > DS_MSG_MAXPROD) {
		errno = EMSGSIZE;
		return -1;
	}
	len = REPLY_FIX + (size_t)m->n * REPLY_POS;
	if ((p = ds_frame_begin(b, len)) == NULL)
		return -1;
	ds_put_le32(p, m->status);
	ds_put_le64(p + 4, m->server);
	ds_put_le32(p + 12, m->epoch);
	ds_put_le32(p + 16, m->n);
	p += REPLY_FIX;
	for (i = 0; i < m->n; i++, p += REPLY_POS) {
		ds_put_le64(p, m->pos[i].producer);
		ds_put_le32(p + 8, m->pos[i].epoch);
		ds_put_le32(p + 12, m->pos[i].flags);
		ds_put_le64(p + 16, m->pos[i].scanned);
		ds_put_le64(p + 24, m->pos[i].end);
	}
	ds_frame_end(b, DS_FRAME_REPLY, 0, len);
	return 0;
}

int
ds_msg_beat_put(struct ds_buf *b, const struct ds_beat_msg *m)
{
	unsigned char *p;
	size_t len;
	uint32_t i;

	if (m->n > DS_CNT_N) {
		errno = EMSGSIZE;
		return -1;
	}
	len = BEAT_FIX + (size_t)m->n * 8;
	if ((p = ds_frame_begin(b, len)) == NULL)
		return -1;
	ds_put_le64(p, m->id);
	ds_put_le32(p + 8, m->epoch);
	ds_put_le32(p + 12, m->state);
	ds_put_le32(p + 16, m->pid);
	ds_put_le32(p + 20, m->n);
	p += BEAT_FIX;
	for (i = 0; i < m->n; i++, p += 8)
		ds_put_le64(p, m->cnt[i]);
	ds_frame_end(b, DS_FRAME_BEAT, 0, len);
	return 0;
}

int
ds_msg_beatack_put(struct ds_buf *b, uint32_t status)
{
	unsigned char p[4];

	ds_put_le32(p, status);
	return ds_frame_append(b, DS_FRAME_BEATACK, 0, p, sizeof(p));
}

int
ds_msg_text_put(struct ds_buf *b, uint16_t type, const char *s, size_t len)
{
	return ds_frame_append(b, type, 0, s, len);
}

/* Check n against the payload: exactly fix + n * each bytes. */
static int
check_n(size_t len, size_t fix, uint32_t n, size_t each, uint32_t max,
    const char **why)
{
	if (n > max)
		return bad(why, "vector count over the limit");
	if ((len - fix) / each < n)
		return bad(why, "vector count larger than the message");
	if (len - fix != (size_t)n * each)
		return bad(why, "trailing bytes after the vector");
	return 0;
}

int
ds_msg_pull_get(struct ds_pull_msg *m, uint16_t flags, const unsigned char *p,
    size_t len, const char **why)
{
	size_t each = flags & DS_PULL_EPOCHS ? PULL_POS + 4 : PULL_POS;
	const unsigned char *e;
	uint32_t i;

	*why = NULL;
	m->n = 0;
	m->pos = NULL;
	if (len < PULL_FIX)
		return bad(why, "pull message truncated");
	m->consumer = ds_get_le64(p);
	m->epoch = ds_get_le32(p + 8);
	m->max_tuples = ds_get_le32(p + 12);
	m->max_bytes = ds_get_le32(p + 16);
	m->wait_ms = ds_get_le32(p + 20);
	if (flags & ~DS_PULL_EPOCHS)
		return bad(why, "undefined pull flags set");
	i = ds_get_le32(p + 24);
	if (check_n(len, PULL_FIX, i, each, DS_MSG_MAXPROD, why) == -1)
		return -1;
	if (i == 0)
		return 0;
	if ((m->pos = calloc(i, sizeof(*m->pos))) == NULL)
		return -1;
	m->n = i;
	p += PULL_FIX;
	e = p + (size_t)i * PULL_POS;
	for (i = 0; i < m->n; i++, p += PULL_POS) {
		m->pos[i].producer = ds_get_le64(p);
		m->pos[i].from = ds_get_le64(p + 8);
		m->pos[i].ack = ds_get_le64(p + 16);
		/* Without EPOCHS: 0, "no epoch known" (ds-wire(5)). */
		if (flags & DS_PULL_EPOCHS)
			m->pos[i].epoch = ds_get_le32(e + 4 * (size_t)i);
	}
	return 0;
}

int
ds_msg_reply_get(struct ds_reply_msg *m, const unsigned char *p, size_t len,
    const char **why)
{
	uint32_t i, fl;

	*why = NULL;
	m->n = 0;
	m->pos = NULL;
	if (len < REPLY_FIX)
		return bad(why, "reply message truncated");
	m->status = ds_get_le32(p);
	m->server = ds_get_le64(p + 4);
	m->epoch = ds_get_le32(p + 12);
	i = ds_get_le32(p + 16);
	if (check_n(len, REPLY_FIX, i, REPLY_POS, DS_MSG_MAXPROD, why) == -1)
		return -1;
	if (i == 0)
		return 0;
	if ((m->pos = calloc(i, sizeof(*m->pos))) == NULL)
		return -1;
	m->n = i;
	p += REPLY_FIX;
	for (i = 0; i < m->n; i++, p += REPLY_POS) {
		m->pos[i].producer = ds_get_le64(p);
		m->pos[i].epoch = ds_get_le32(p + 8);
		m->pos[i].flags = fl = ds_get_le32(p + 12);
		if ((fl & ~(uint32_t)(DS_PROD_ENDED | DS_PROD_STOPPED)) ||
		    fl == DS_PROD_STOPPED) {
			free(m->pos);
			m->pos = NULL;
			m->n = 0;
			return bad(why, fl == DS_PROD_STOPPED ?
			    "producer flag STOPPED without ENDED" :
			    "undefined producer flag set");
		}
		m->pos[i].scanned = ds_get_le64(p + 16);
		m->pos[i].end = ds_get_le64(p + 24);
	}
	return 0;
}

/*
 * A BEAT may carry more counters than this version knows (later versions
 * append); the extra ones are skipped, and m->n is the number read.
 */
int
ds_msg_beat_get(struct ds_beat_msg *m, const unsigned char *p, size_t len,
    const char **why)
{
	uint32_t i, n;

	*why = NULL;
	memset(m, 0, sizeof(*m));
	if (len < BEAT_FIX)
		return bad(why, "beat message truncated");
	n = ds_get_le32(p + 20);
	if (check_n(len, BEAT_FIX, n, 8, DS_MSG_MAXPROD, why) == -1)
		return -1;
	m->id = ds_get_le64(p);
	m->epoch = ds_get_le32(p + 8);
	m->state = ds_get_le32(p + 12);
	m->pid = ds_get_le32(p + 16);
	m->n = n < DS_CNT_N ? n : DS_CNT_N;
	p += BEAT_FIX;
	for (i = 0; i < m->n; i++, p += 8)
		m->cnt[i] = ds_get_le64(p);
	return 0;
}

int
ds_msg_beatack_get(uint32_t *status, const unsigned char *p, size_t len,
    const char **why)
{
	*why = NULL;
	if (len < 4)
		return bad(why, "beatack message truncated");
	if (len > 4)
		return bad(why, "trailing bytes after the beatack");
	*status = ds_get_le32(p);
	return 0;
}

static int
next(const unsigned char *msg, size_t len, size_t *off, struct ds_frame *f,
    const char **why, int crc)
{
	const unsigned char *p;
	size_t left;

	*why = NULL;
	if (*off >= len)
		return 0;
	p = msg + *off;
	left = len - *off;
	if (left < DS_FRAME_HDR)
		return bad(why, "truncated frame header");
	if (ds_frame_unpack_hdr(p, DS_FRAME_MAX, f, why) == -1)
		return -1;
	if (left - DS_FRAME_HDR < f->len)
		return bad(why, "truncated frame payload");
	if (crc && ds_frame_check(p, p + DS_FRAME_HDR, f->len) == -1)
		return bad(why, "checksum mismatch");
	if (f->flags != 0 && (f->type != DS_FRAME_PULL ||
	    (f->flags & ~DS_PULL_EPOCHS) != 0))
		return bad(why, "undefined frame flags set");
	f->payload = p + DS_FRAME_HDR;
	*off += DS_FRAME_HDR + f->len;
	return 1;
}

int
ds_msg_next(const unsigned char *msg, size_t len, size_t *off,
    struct ds_frame *f, const char **why)
{
	return next(msg, len, off, f, why, 1);
}

int
ds_msg_next_checked(const unsigned char *msg, size_t len, size_t *off,
    struct ds_frame *f, const char **why)
{
	return next(msg, len, off, f, why, 0);
}

/*
 * ds-journal messages (msg.h).
 */
#define JWRITE_FIX	16
#define JACK_LEN	16
#define JREAD_LEN	24
#define JDATA_LEN	40

int
ds_msg_jwrite_put(struct ds_buf *b, const struct ds_jwrite_msg *m)
{
	unsigned char *p;
	size_t len;

	if (m->n > DS_J_MAXREC || m->len > DS_FRAME_MAX - JWRITE_FIX) {
		errno = EMSGSIZE;
		return -1;
	}
	len = JWRITE_FIX + m->len;
	if ((p = ds_frame_begin(b, len)) == NULL)
		return -1;
	ds_put_le64(p, m->writer);
	ds_put_le32(p + 8, m->epoch);
	ds_put_le32(p + 12, m->n);
	if (m->len > 0)
		memcpy(p + JWRITE_FIX, m->recs, m->len);
	ds_frame_end(b, DS_FRAME_JWRITE, 0, len);
	return 0;
}

int
ds_msg_jwrite_get(struct ds_jwrite_msg *m, const unsigned char *p,
    size_t len, const char **why)
{
	struct ds_frame f;
	size_t off = 0;
	uint32_t k = 0;
	int rc;

	*why = NULL;
	memset(m, 0, sizeof(*m));
	if (len < JWRITE_FIX)
		return bad(why, "jwrite message truncated");
	m->writer = ds_get_le64(p);
	m->epoch = ds_get_le32(p + 8);
	m->n = ds_get_le32(p + 12);
	if (m->n > DS_J_MAXREC)
		return bad(why, "record count over the limit");
	m->recs = p + JWRITE_FIX;
	m->len = len - JWRITE_FIX;
	while ((rc = ds_msg_next(m->recs, m->len, &off, &f, why)) == 1)
		if (++k > m->n)
			return bad(why, "more records than its count");
	if (rc == -1) {
		errno = EBADMSG;
		return -1;
	}
	if (k != m->n)
		return bad(why, "fewer records than its count");
	return 0;
}

int
ds_msg_jack_put(struct ds_buf *b, const struct ds_jack_msg *m)
{
	unsigned char p[JACK_LEN];

	ds_put_le32(p, m->status);
	ds_put_le64(p + 4, m->writer);
	ds_put_le32(p + 12, m->epoch);
	return ds_frame_append(b, DS_FRAME_JACK, 0, p, sizeof(p));
}

int
ds_msg_jack_get(struct ds_jack_msg *m, const unsigned char *p, size_t len,
    const char **why)
{
	*why = NULL;
	if (len != JACK_LEN)
		return bad(why, "jack message has the wrong length");
	m->status = ds_get_le32(p);
	m->writer = ds_get_le64(p + 4);
	m->epoch = ds_get_le32(p + 12);
	return 0;
}

int
ds_msg_jread_put(struct ds_buf *b, const struct ds_jread_msg *m)
{
	unsigned char p[JREAD_LEN];

	ds_put_le64(p, m->writer);
	ds_put_le32(p + 8, m->epoch);
	ds_put_le32(p + 12, m->max_bytes);
	ds_put_le64(p + 16, m->cursor);
	return ds_frame_append(b, DS_FRAME_JREAD, 0, p, sizeof(p));
}

int
ds_msg_jread_get(struct ds_jread_msg *m, const unsigned char *p, size_t len,
    const char **why)
{
	*why = NULL;
	if (len != JREAD_LEN)
		return bad(why, "jread message has the wrong length");
	m->writer = ds_get_le64(p);
	m->epoch = ds_get_le32(p + 8);
	m->max_bytes = ds_get_le32(p + 12);
	m->cursor = ds_get_le64(p + 16);
	return 0;
}

int
ds_msg_jdata_put(struct ds_buf *b, const struct ds_jdata_msg *m)
{
	unsigned char p[JDATA_LEN];

	ds_put_le32(p, m->status);
	ds_put_le64(p + 4, m->writer);
	ds_put_le32(p + 12, m->epoch);
	ds_put_le64(p + 16, m->cursor);
	ds_put_le64(p + 24, m->next);
	ds_put_le64(p + 32, m->total);
	return ds_frame_append(b, DS_FRAME_JDATA, 0, p, sizeof(p));
}

int
ds_msg_jdata_get(struct ds_jdata_msg *m, const unsigned char *p, size_t len,
    const char **why)
{
	*why = NULL;
	if (len != JDATA_LEN)
		return bad(why, "jdata message has the wrong length");
	m->status = ds_get_le32(p);
	m->writer = ds_get_le64(p + 4);
	m->epoch = ds_get_le32(p + 12);
	m->cursor = ds_get_le64(p + 16);
	m->next = ds_get_le64(p + 24);
	m->total = ds_get_le64(p + 32);
	if (m->cursor > m->next || m->next > m->total)
		return bad(why, "jdata cursor out of order");
	return 0;
}
