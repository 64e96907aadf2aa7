/*
 * rec.c: DELTA, MARK, ACKED and TIMER records.  Encoders build the
 * payload in place after the frame header and pack the header last;
 * ds_rec_check looks at lengths only, so a caller can check a whole
 * journal image before it decodes (and allocates) anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/frametype.h"
#include "core/rec.h"
#include "core/wire.h"

#define DELETED		0xffffffffu
#define MARK_FIXED	28		/* mark outseq aux n */
#define POS_SIZE	32		/* producer epoch flags seq end */
#define TIMER_FIXED	12		/* keylen when */

static int
bad(const char **why, const char *w)
{
	*why = w;
	errno = EBADMSG;
	return -1;
}

int
ds_rec_put_delta(struct ds_buf *b, const void *key, size_t keylen,
    const void *val, size_t vallen)
{
	unsigned char *p;
	uint64_t len;

	if (keylen >= DELETED || (val != NULL && vallen >= DELETED)) {
		errno = EMSGSIZE;
		return -1;
	}
	len = 8 + (uint64_t)keylen + (val != NULL ? vallen : 0);
	if ((p = ds_frame_begin(b, len)) == NULL)
		return -1;
	ds_put_le32(p, (uint32_t)keylen);
	if (keylen > 0)
		memcpy(p + 4, key, keylen);
	ds_put_le32(p + 4 + keylen, val != NULL ? (uint32_t)vallen : DELETED);
	if (val != NULL && vallen > 0)
		memcpy(p + 8 + keylen, val, vallen);
	ds_frame_end(b, DS_FRAME_DELTA, 0, len);
	return 0;
}

int
ds_rec_put_mark(struct ds_buf *b, const struct ds_mark *m)
{
	unsigned char *p, *q;
	uint32_t i;

	if ((p = ds_frame_begin(b, MARK_FIXED + (uint64_t)m->n * POS_SIZE)) == NULL)
		return -1;
	ds_put_le64(p, m->mark);
	ds_put_le64(p + 8, m->outseq);
	ds_put_le64(p + 16, m->aux);
	ds_put_le32(p + 24, m->n);
	for (i = 0, q = p + MARK_FIXED; i < m->n; i++, q += POS_SIZE) {
		ds_put_le64(q, m->pos[i].producer);
		ds_put_le32(q + 8, m->pos[i].epoch);
		ds_put_le32(q + 12, m->pos[i].flags);
		ds_put_le64(q + 16, m->pos[i].seq);
		ds_put_le64(q + 24, m->pos[i].end);
	}
	ds_frame_end(b, DS_FRAME_MARK, 0, MARK_FIXED +
	    (uint64_t)m->n * POS_SIZE);
	return 0;
}

int
ds_rec_put_acked(struct ds_buf *b, uint64_t mark)
{
	unsigned char *p;

	if ((p = ds_frame_begin(b, 8)) == NULL)
		return -1;
	ds_put_le64(p, mark);
	ds_frame_end(b, DS_FRAME_ACKED, 0, 8);
	return 0;
}

int
ds_rec_put_timer(struct ds_buf *b, const void *key, size_t keylen,
    uint64_t when)
{
	unsigned char *p;

	if (keylen >= DELETED) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((p = ds_frame_begin(b, TIMER_FIXED + (uint64_t)keylen)) == NULL)
		return -1;
	ds_put_le32(p, (uint32_t)keylen);
	if (keylen > 0)
		memcpy(p + 4, key, keylen);
	ds_put_le64(p + 4 + keylen, when);
	ds_frame_end(b, DS_FRAME_TIMER, 0, TIMER_FIXED +
	    (uint64_t)keylen);
	return 0;
}

int
ds_rec_check(const struct ds_frame *f, const char **why)
{
	const unsigned char *p = f->payload;
	uint64_t keylen, vallen;
	uint32_t i, n;

	if (f->flags != 0)
		return bad(why, "undefined record flags set");
	switch (f->type) {
	case DS_FRAME_DELTA:
		if (f->len < 8)
			return bad(why, "DELTA shorter than its lengths");
		keylen = ds_get_le32(p);
		if (keylen > f->len - 8)
			return bad(why, "DELTA key runs past the record");
		vallen = ds_get_le32(p + 4 + keylen);
		if (vallen == DELETED)
			vallen = 0;
		if (8 + keylen + vallen != f->len)
			return bad(why, "DELTA lengths do not add up");
		return 0;
	case DS_FRAME_MARK:
		if (f->len < MARK_FIXED || MARK_FIXED +
		    (uint64_t)(n = ds_get_le32(p + 24)) * POS_SIZE != f->len)
			return bad(why, "MARK length does not match its count");
		if (ds_get_le64(p) == 0)
			return bad(why, "MARK numbered 0");
		for (i = 0; i < n; i++)
			if (ds_get_le32(p + MARK_FIXED + i * POS_SIZE + 12) &
			    ~(uint32_t)DS_PROD_ENDED)
				return bad(why, "undefined producer flag in a "
				    "MARK");
		return 0;
	case DS_FRAME_ACKED:
		if (f->len != 8)
			return bad(why, "ACKED is not 8 bytes");
		return 0;
	case DS_FRAME_TIMER:
		if (f->len < TIMER_FIXED ||
		    ds_get_le32(p) != f->len - TIMER_FIXED)
			return bad(why, "TIMER key length does not match");
		return 0;
	default:
		return bad(why, "not a record type");
	}
}

static int
get_mark(struct ds_mark *m, const unsigned char *p)
{
	const unsigned char *q;
	uint32_t i;

	m->mark = ds_get_le64(p);
	m->outseq = ds_get_le64(p + 8);
	m->aux = ds_get_le64(p + 16);
	m->n = ds_get_le32(p + 24);
	m->pos = NULL;
	if (m->n == 0)
		return 0;
	if ((m->pos = calloc(m->n, sizeof(*m->pos))) == NULL) {
		m->n = 0;
		return -1;
	}
	for (i = 0, q = p + MARK_FIXED; i < m->n; i++, q += POS_SIZE) {
		m->pos[i].producer = ds_get_le64(q);
		m->pos[i].epoch = ds_get_le32(q + 8);
		m->pos[i].flags = ds_get_le32(q + 12);
		m->pos[i].seq = ds_get_le64(q + 16);
		m->pos[i].end = ds_get_le64(q + 24);
	}
	return 0;
}

int
ds_rec_get(const struct ds_frame *f, struct ds_rec *r, struct ds_mark *m,
    const char **why)
{
	const unsigned char *p = f->payload;
	uint32_t keylen, vallen;

	if (ds_rec_check(f, why) == -1)
		return -1;
	memset(r, 0, sizeof(*r));
	r->type = f->type;
	switch (f->type) {
	case DS_FRAME_DELTA:
		keylen = ds_get_le32(p);
		vallen = ds_get_le32(p + 4 + keylen);
		r->key = p + 4;
		r->keylen = keylen;
		r->val = vallen == DELETED ? NULL : p + 8 + keylen;
		r->vallen = vallen == DELETED ? 0 : vallen;
		return 0;
	case DS_FRAME_TIMER:
		r->key = p + 4;
		r->keylen = ds_get_le32(p);
		r->when = ds_get_le64(p + 4 + r->keylen);
		return 0;
	case DS_FRAME_ACKED:
		r->acked = ds_get_le64(p);
		return 0;
	default:	/* MARK */
		if (m == NULL)
			return 0;
		if (get_mark(m, p) == -1) {
			*why = "out of memory";
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
}

int
ds_mark_copy(struct ds_mark *dst, const struct ds_mark *src)
{
	struct ds_mark_pos *pos = dst->pos;

	if (pos == NULL || dst->n != src->n) {
		if ((pos = calloc(src->n ? src->n : 1, sizeof(*pos))) == NULL)
			return -1;
		free(dst->pos);
	}
	*dst = *src;
	dst->pos = pos;
	if (src->n > 0)
		memcpy(pos, src->pos, src->n * sizeof(*pos));
	return 0;
}

void
ds_mark_free(struct ds_mark *m)
{
	free(m->pos);
	m->pos = NULL;
	m->n = 0;
}
