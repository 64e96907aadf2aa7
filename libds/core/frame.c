/*
 * frame.c: frame header codec and the incremental frame reader.  The
 * reader never trusts a length before checking it against max, never
 * returns a frame whose CRC has not been verified, and never resyncs on
 * its own: a stream with one bad frame is refused from that frame on.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/frame.h"
#include "core/wire.h"

int
ds_frame_unpack_hdr(const unsigned char *p, uint32_t max, struct ds_frame *f,
    const char **why)
{
	if (p[0] != 0x00 || p[1] != 'D' || p[2] != 'S') {
		*why = "bad magic (not a dstream frame stream)";
		errno = EPROTO;
		return -1;
	}
	if (p[3] != DS_FRAME_VERSION) {
		*why = "unsupported frame version";
		errno = EPROTO;
		return -1;
	}
	f->type = ds_get_le16(p + 4);
	f->flags = ds_get_le16(p + 6);
	f->len = ds_get_le32(p + 8);
	f->payload = NULL;
	if (f->len > max) {
		*why = "frame length over the limit";
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
ds_frame_check(const unsigned char *hdr, const unsigned char *payload,
    uint32_t len)
{
	uint32_t crc;

	crc = ds_crc32c(0, hdr, 12);
	crc = ds_crc32c(crc, payload, len);
	if (crc != ds_get_le32(hdr + 12)) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

void
ds_frame_pack(unsigned char *hdr, uint16_t type, uint16_t flags,
    const unsigned char *payload, uint32_t len)
{
	uint32_t crc;

	hdr[0] = 0x00;
	hdr[1] = 'D';
	hdr[2] = 'S';
	hdr[3] = DS_FRAME_VERSION;
	ds_put_le16(hdr + 4, type);
	ds_put_le16(hdr + 6, flags);
	ds_put_le32(hdr + 8, len);
	crc = ds_crc32c(0, hdr, 12);
	crc = ds_crc32c(crc, payload, len);
	ds_put_le32(hdr + 12, crc);
}

unsigned char *
ds_frame_begin(struct ds_buf *b, uint64_t len)
{
	if (len > DS_FRAME_MAX) {
		errno = EMSGSIZE;
		return NULL;
	}
	if (ds_buf_grow(b, DS_FRAME_HDR + (size_t)len) == -1)
		return NULL;
	return b->p + b->len + DS_FRAME_HDR;
}

void
ds_frame_end(struct ds_buf *b, uint16_t type, uint16_t flags, uint64_t len)
{
	unsigned char *hdr = b->p + b->len;

	ds_frame_pack(hdr, type, flags, hdr + DS_FRAME_HDR, (uint32_t)len);
	b->len += DS_FRAME_HDR + (size_t)len;
}

int
ds_frame_append(struct ds_buf *b, uint16_t type, uint16_t flags,
    const void *payload, size_t len)
{
	unsigned char *p;

	if ((p = ds_frame_begin(b, len)) == NULL)
		return -1;
	if (len > 0)
		memcpy(p, payload, len);
	ds_frame_end(b, type, flags, len);
	return 0;
}

void
ds_frame_reader_init(struct ds_frame_reader *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : DS_FRAME_MAX;
}

void
ds_frame_reader_term(struct ds_frame_reader *r)
{
	ds_buf_free(&r->buf);
}

/* Drop consumed bytes so the buffer does not grow without bound. */
static void
compact(struct ds_frame_reader *r)
{
	if (r->pos == 0)
		return;
	r->base += r->pos;
	ds_buf_consume(&r->buf, r->pos);
	r->pos = 0;
}

long
ds_frame_reader_fill(struct ds_frame_reader *r, int fd)
{
	ssize_t n;
	size_t want = 256 * 1024;

	if (r->why != NULL) {
		errno = r->err;
		return -1;
	}
	compact(r);
	if (ds_buf_grow(&r->buf, want) == -1)
		return -1;
	want = r->buf.cap - r->buf.len;
	do
		n = read(fd, r->buf.p + r->buf.len, want);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		r->buf.len += (size_t)n;
	return (long)n;
}

int
ds_frame_reader_feed(struct ds_frame_reader *r, const void *p, size_t n)
{
	compact(r);
	return ds_buf_add(&r->buf, p, n);
}

static int
fail(struct ds_frame_reader *r, int err, const char *why)
{
	r->why = why;
	r->err = err;
	r->err_off = r->base + r->pos;
	errno = err;
	return -1;
}

int
ds_frame_reader_next(struct ds_frame_reader *r, struct ds_frame *f)
{
	const unsigned char *p;
	size_t avail;
	const char *why;

	if (r->why != NULL) {
		errno = r->err;
		return -1;
	}
	avail = r->buf.len - r->pos;
	if (avail < DS_FRAME_HDR) {
		if (avail == 0)		/* buf.p may still be NULL */
			return 0;
		/* Reject garbage early, before a whole header arrives. */
		p = r->buf.p + r->pos;
		if ((avail >= 1 && p[0] != 0x00) ||
		    (avail >= 2 && p[1] != 'D') || (avail >= 3 && p[2] != 'S'))
			return fail(r, EPROTO,
			    "bad magic (not a dstream frame stream)");
		if (avail >= 4 && p[3] != DS_FRAME_VERSION)
			return fail(r, EPROTO, "unsupported frame version");
		return 0;
	}
	p = r->buf.p + r->pos;
	if (ds_frame_unpack_hdr(p, r->max, f, &why) == -1)
		return fail(r, errno, why);
	if (avail - DS_FRAME_HDR < f->len) {
		/* Make sure one fill can complete this frame. */
		if (ds_buf_grow(&r->buf, f->len + DS_FRAME_HDR) == -1)
			return -1;
		return 0;
	}
	if (ds_frame_check(p, p + DS_FRAME_HDR, f->len) == -1)
		return fail(r, EBADMSG, "checksum mismatch");
	f->payload = p + DS_FRAME_HDR;
	r->pos += DS_FRAME_HDR + f->len;
	return 1;
}

int
ds_frame_reader_eof(struct ds_frame_reader *r)
{
	size_t avail;

	if (r->why != NULL) {
		errno = r->err;
		return -1;
	}
	avail = r->buf.len - r->pos;
	if (avail == 0)
		return 0;
	return fail(r, EBADMSG, avail < DS_FRAME_HDR ?
	    "truncated frame header" : "truncated frame payload");
}

uint64_t
ds_frame_reader_offset(const struct ds_frame_reader *r)
{
	return r->base + r->pos;
}

int
ds_frame_reader_ready(const struct ds_frame_reader *r)
{
	size_t avail = r->buf.len - r->pos;

	if (r->why != NULL)
		return 1;
	if (avail < DS_FRAME_HDR)
		return 0;
	return avail - DS_FRAME_HDR >= ds_get_le32(r->buf.p + r->pos + 8);
}
