/*
 * tuple.c: bundle and END codec.  Decoding validates every length against
 * the bytes that remain before looking at them, and checks count and
 * trailing bytes exactly, so a bundle either decodes whole or not at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/tuple.h"
#include "core/wire.h"

void
ds_bundle_free(struct ds_bundle *b)
{
	free(b->t);
	b->t = NULL;
	b->cap = b->count = 0;
}

static int
bad(const char **why, const char *w)
{
	*why = w;
	errno = EBADMSG;
	return -1;
}

int
ds_bundle_decode(struct ds_bundle *b, const unsigned char *p, size_t len,
    size_t maxtuple, const char **why)
{
	const unsigned char *end = p + len;
	struct ds_tuple *t;
	uint32_t i, count;
	size_t need;

	*why = NULL;
	b->count = 0;
	if (len < DS_BUNDLE_HDR)
		return bad(why, "bundle header truncated");
	b->producer = ds_get_le64(p);
	b->epoch = ds_get_le32(p + 8);
	count = ds_get_le32(p + 12);
	p += DS_BUNDLE_HDR;
	if (count > (len - DS_BUNDLE_HDR) / DS_TUPLE_FIXED)
		return bad(why, "tuple count larger than the bundle");
	if (count > b->cap) {
		t = realloc(b->t, count * sizeof(*t));
		if (t == NULL)
			return -1;
		b->t = t;
		b->cap = count;
	}
	for (i = 0; i < count; i++) {
		t = &b->t[i];
		if ((size_t)(end - p) < DS_TUPLE_FIXED)
			return bad(why, "tuple truncated");
		t->flags = p[0];
		if (t->flags & ~DS_TUPLE_FLAGS)
			return bad(why, "undefined tuple flag set");
		t->seq = ds_get_le64(p + 1);
		t->time = ds_get_le64(p + 9);
		p += 17;
		t->trace = 0;
		if (t->flags & DS_TUPLE_TRACE) {
			if ((size_t)(end - p) < 8 + 8)
				return bad(why, "tuple truncated");
			t->trace = ds_get_le64(p);
			p += 8;
		}
		t->keylen = ds_get_le32(p);
		p += 4;
		if ((size_t)(end - p) < t->keylen + 4)
			return bad(why, "tuple key length past the bundle");
		t->key = p;
		p += t->keylen;
		t->paylen = ds_get_le32(p);
		p += 4;
		if ((size_t)(end - p) < t->paylen)
			return bad(why, "tuple payload length past the bundle");
		t->payload = p;
		p += t->paylen;
		need = t->keylen + t->paylen;
		if (need > maxtuple) {
			*why = "tuple larger than the maximum tuple size";
			errno = EMSGSIZE;
			return -1;
		}
	}
	if (p != end)
		return bad(why, "trailing bytes after the last tuple");
	b->count = count;
	return 0;
}

size_t
ds_tuple_size(const struct ds_tuple *t)
{
	return DS_TUPLE_FIXED + ((t->flags & DS_TUPLE_TRACE) ? 8 : 0) +
	    t->keylen + t->paylen;
}

int
ds_bundle_begin(struct ds_bundle_writer *w, struct ds_buf *out,
    uint64_t producer, uint32_t epoch)
{
	unsigned char *h;

	if (ds_buf_grow(out, DS_FRAME_HDR + DS_BUNDLE_HDR) == -1)
		return -1;
	w->out = out;
	w->start = out->len;
	w->count = 0;
	w->open = 1;
	h = out->p + out->len + DS_FRAME_HDR;
	ds_put_le64(h, producer);
	ds_put_le32(h + 8, epoch);
	ds_put_le32(h + 12, 0);
	out->len += DS_FRAME_HDR + DS_BUNDLE_HDR;
	return 0;
}

int
ds_bundle_add(struct ds_bundle_writer *w, const struct ds_tuple *t)
{
	struct ds_buf *b = w->out;
	unsigned char *p;
	unsigned fl = t->flags & DS_TUPLE_FLAGS;

	if (ds_buf_grow(b, ds_tuple_size(t)) == -1)
		return -1;
	p = b->p + b->len;
	*p++ = (unsigned char)fl;
	ds_put_le64(p, t->seq);
	ds_put_le64(p + 8, t->time);
	p += 16;
	if (fl & DS_TUPLE_TRACE) {
		ds_put_le64(p, t->trace);
		p += 8;
	}
	ds_put_le32(p, (uint32_t)t->keylen);
	p += 4;
	if (t->keylen)
		memcpy(p, t->key, t->keylen);
	p += t->keylen;
	ds_put_le32(p, (uint32_t)t->paylen);
	p += 4;
	if (t->paylen)
		memcpy(p, t->payload, t->paylen);
	p += t->paylen;
	b->len = (size_t)(p - b->p);
	w->count++;
	return 0;
}

size_t
ds_bundle_bytes(const struct ds_bundle_writer *w)
{
	return w->open ? w->out->len - w->start - DS_FRAME_HDR : 0;
}

int
ds_bundle_end(struct ds_bundle_writer *w)
{
	struct ds_buf *b = w->out;
	size_t len;

	if (!w->open)
		return 0;
	w->open = 0;
	if (w->count == 0) {
		b->len = w->start;
		return 0;
	}
	len = b->len - w->start - DS_FRAME_HDR;
	if (len > DS_FRAME_MAX) {
		b->len = w->start;
		errno = EMSGSIZE;
		return -1;
	}
	ds_put_le32(b->p + w->start + DS_FRAME_HDR + 12, w->count);
	ds_frame_pack(b->p + w->start, DS_FRAME_BUNDLE, 0,
	    b->p + w->start + DS_FRAME_HDR, (uint32_t)len);
	return 0;
}

int
ds_bundle_peek(const void *frame, size_t len, size_t *flen, uint32_t *count,
    uint64_t *first)
{
	const unsigned char *p = frame;
	uint32_t n;

	if (len < DS_FRAME_HDR + DS_BUNDLE_HDR ||
	    ds_get_le16(p + 4) != DS_FRAME_BUNDLE ||
	    (n = ds_get_le32(p + 8)) < DS_BUNDLE_HDR ||
	    len - DS_FRAME_HDR < n) {
		errno = EBADMSG;
		return -1;
	}
	*flen = DS_FRAME_HDR + (size_t)n;
	*count = ds_get_le32(p + DS_FRAME_HDR + 12);
	*first = 0;
	if (*count > 0) {
		if (n < DS_BUNDLE_HDR + 9) {
			errno = EBADMSG;
			return -1;
		}
		/* The first tuple: tflags:u8 seq:u64 ... */
		*first = ds_get_le64(p + DS_FRAME_HDR + DS_BUNDLE_HDR + 1);
	}
	return 0;
}

void
ds_end_pack(unsigned char *p, const struct ds_end *e)
{
	unsigned char *q = p + DS_FRAME_HDR;

	ds_put_le64(q, e->producer);
	ds_put_le32(q + 8, e->epoch);
	ds_put_le64(q + 12, e->count);
	ds_put_le64(q + 20, e->last);
	ds_frame_pack(p, DS_FRAME_END, 0, q, DS_END_LEN);
}

int
ds_end_unpack(struct ds_end *e, const struct ds_frame *f, const char **why)
{
	const unsigned char *p = f->payload;

	*why = NULL;
	if (f->flags != 0)
		return bad(why, "undefined frame flags set");
	if (f->len != DS_END_LEN)
		return bad(why, "END payload is not 28 bytes");
	e->producer = ds_get_le64(p);
	e->epoch = ds_get_le32(p + 8);
	e->count = ds_get_le64(p + 12);
	e->last = ds_get_le64(p + 20);
	return 0;
}
