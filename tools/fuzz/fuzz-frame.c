/*
 * fuzz-frame.c: libFuzzer target for the frame reader, the bundle and END
 * decoders and ds_pipein.  It aborts when whole and chunked reading
 * disagree, when a returned frame is not byte for byte the input with a
 * valid CRC, when a decodable bundle does not re-encode to the same bytes,
 * when a fault is not EPROTO/EMSGSIZE/EBADMSG at a frame boundary, or when
 * ds_pipein gives other bundles, ends a stream that has no END agreeing
 * with its bundles (or has anything after it), or fails with an exit code
 * other than 65/76.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/frame.h"
#include "core/pipein.h"
#include "core/io.h"
#include "core/tuple.h"
#include "core/wire.h"

#define CHECK(x) do { if (!(x)) { fprintf(stderr, "%s:%d: check failed: " \
	"%s\n", __FILE__, __LINE__, #x); abort(); } } while (0)

/*
 * The readers here accept frames up to 1 MiB, not DS_FRAME_MAX: the code
 * is the same, and a claimed length of tens of MiB would otherwise cost
 * an allocation (and its ASan shadow) on most inputs.
 */
#define FUZZ_FRAME_MAX	(1u << 20)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct outcome {
	struct ds_buf	 frames;	/* every frame returned, re-encoded */
	size_t		 nframes;
	int		 rc;		/* last next(): 0 or -1 */
	int		 err;
	const char	*why;
	uint64_t	 err_off;
	int		 eof;		/* ds_frame_reader_eof after input */
	int		 eof_err;
};

static void
drain(struct ds_frame_reader *r, struct outcome *o)
{
	struct ds_frame f;

	while ((o->rc = ds_frame_reader_next(r, &f)) == 1) {
		CHECK(ds_frame_check(f.payload - DS_FRAME_HDR, f.payload,
		    f.len) == 0);
		CHECK(ds_frame_append(&o->frames, f.type, f.flags, f.payload,
		    f.len) == 0);
		o->nframes++;
	}
	o->err = o->rc == -1 ? errno : 0;
}

static void
finish(struct ds_frame_reader *r, struct outcome *o)
{
	errno = 0;
	o->eof = ds_frame_reader_eof(r);
	o->eof_err = o->eof == -1 ? errno : 0;
	o->why = r->why;
	o->err_off = r->err_off;
}

static void
read_whole(const uint8_t *p, size_t n, struct outcome *o)
{
	struct ds_frame_reader r;

	ds_frame_reader_init(&r, FUZZ_FRAME_MAX);
	CHECK(ds_frame_reader_feed(&r, p, n) == 0);
	drain(&r, o);
	finish(&r, o);
	ds_frame_reader_term(&r);
}

static void
read_chunked(const uint8_t *p, size_t n, unsigned limit, unsigned seed,
    struct outcome *o)
{
	struct ds_frame_reader r;
	uint32_t x = 0x9e3779b9u ^ seed;
	size_t i, c;

	ds_frame_reader_init(&r, FUZZ_FRAME_MAX);
	o->rc = 0;
	for (i = 0; i < n && o->rc != -1; i += c) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		c = 1 + x % limit;
		if (c > n - i)
			c = n - i;
		CHECK(ds_frame_reader_feed(&r, p + i, c) == 0);
		drain(&r, o);
	}
	finish(&r, o);
	ds_frame_reader_term(&r);
}

/* Give every frame that the lengths delimit a correct CRC. */
static void
fix_crcs(unsigned char *p, size_t n)
{
	size_t off = 0;
	uint32_t len;

	while (n - off >= DS_FRAME_HDR) {
		len = ds_get_le32(p + off + 8);
		if (len > FUZZ_FRAME_MAX || n - off - DS_FRAME_HDR < len)
			break;
		ds_frame_pack(p + off, ds_get_le16(p + off + 4),
		    ds_get_le16(p + off + 6), p + off + DS_FRAME_HDR, len);
		off += DS_FRAME_HDR + len;
	}
}

/* Decode one BUNDLE payload; if it decodes, it must re-encode the same. */
static int
check_bundle(const unsigned char *frame, uint32_t len, size_t maxt,
    struct ds_bundle *b, struct ds_buf *tmp)
{
	struct ds_bundle_writer w;
	const char *why;
	uint32_t i;

	if (ds_bundle_decode(b, frame + DS_FRAME_HDR, len, maxt, &why) == -1) {
		CHECK(errno == EBADMSG || errno == EMSGSIZE);
		CHECK(why != NULL && b->count == 0);
		return 0;
	}
	CHECK(why == NULL);
	if (b->count == 0)
		return 1;	/* the writer never emits an empty bundle */
	ds_buf_reset(tmp);
	CHECK(ds_bundle_begin(&w, tmp, b->producer, b->epoch) == 0);
	for (i = 0; i < b->count; i++) {
		CHECK(b->t[i].keylen + b->t[i].paylen <= maxt);
		CHECK(ds_bundle_add(&w, &b->t[i]) == 0);
	}
	CHECK(ds_bundle_end(&w) == 0);
	CHECK(tmp->len == DS_FRAME_HDR + (size_t)len);
	CHECK(memcmp(tmp->p, frame, tmp->len) == 0);
	return 1;
}

/* Whether an END payload agrees with the bundles before it. */
static int
end_agrees(const unsigned char *q, const struct ds_end *seen, int bundles,
    int mixed)
{
	if (ds_get_le64(q + 12) != seen->count ||
	    ds_get_le64(q + 20) != seen->last)
		return 0;
	return !bundles || (!mixed && ds_get_le64(q) == seen->producer &&
	    ds_get_le32(q + 8) == seen->epoch);
}

/* Feed the stream to ds_pipein through a pipe; compare with the frames. */
static void
check_input(const uint8_t *p, size_t n, size_t maxt, size_t good,
    int all_good)
{
	struct ds_pipein in;
	struct ds_bundle *bp;
	size_t nb = 0;
	int fds[2], rc;

	if (n > 60000 || pipe(fds) == -1)
		return;
	CHECK(ds_write_all(fds[1], p, n) == 0);
	close(fds[1]);
	ds_pipein_init(&in, "stdin", maxt);
	while ((rc = ds_pipein_next(&in, fds[0], &bp)) == 1)
		nb++;
	close(fds[0]);
	CHECK(nb == good);
	if (all_good)
		CHECK(rc == 0);
	else {
		CHECK(rc == -1);
		CHECK(in.code == DS_EX_DATAERR || in.code == DS_EX_PROTOCOL);
		CHECK(strncmp(in.msg, "stdin: bad frame at offset ", 27) == 0 ||
		    strncmp(in.msg, "stdin: bad END at offset ", 25) == 0 ||
		    strncmp(in.msg, "stdin: stream cut: ", 19) == 0);
	}
	ds_pipein_term(&in);
}

/*
 * Input layout:
 *	byte 0	bits 0..6: chunk limit: 0 feeds the stream at once, else
 *		chunks of 1..limit bytes drawn from a generator seeded by
 *		byte 1; bit 7 clear: first patch the CRC of every frame
 *		that the stream's lengths delimit (else mutations would
 *		almost never get past the CRC), set: leave the bytes alone
 *	byte 2	maxtuple for decoding: 0 means DS_TUPLE_MAX
 *	rest	the byte stream
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, c;
	struct ds_bundle b = DS_BUNDLE_INIT;
	struct ds_buf tmp = DS_BUF_INIT;
	struct ds_end seen = { 0, 0, 0, 0 };
	unsigned char *copy;
	const uint8_t *p;
	size_t n, maxt, off, good = 0;
	uint32_t len;
	int prefix, ended = 0, mixed = 0, isbundle;

	if (size < 3)
		return 0;
	maxt = data[2] ? data[2] : DS_TUPLE_MAX;
	n = size - 3;
	if ((copy = malloc(n + 1)) == NULL)
		return 0;
	memcpy(copy, data + 3, n);
	if ((data[0] & 0x80) == 0)
		fix_crcs(copy, n);
	p = copy;
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	read_whole(p, n, &a);
	if ((data[0] & 0x7f) != 0)
		read_chunked(p, n, data[0] & 0x7f, data[1], &c);
	else
		read_whole(p, n, &c);

	/* Both ways of reading agree. */
	CHECK(a.nframes == c.nframes && a.frames.len == c.frames.len);
	CHECK(a.frames.len == 0 ||
	    memcmp(a.frames.p, c.frames.p, a.frames.len) == 0);
	CHECK(a.rc == c.rc && a.err == c.err && a.eof == c.eof &&
	    a.eof_err == c.eof_err);
	CHECK((a.why == NULL) == (c.why == NULL));
	if (a.why != NULL)
		CHECK(strcmp(a.why, c.why) == 0 && a.err_off == c.err_off);

	/* What came out is a prefix of what went in. */
	CHECK(a.frames.len <= n);
	CHECK(a.frames.len == 0 || memcmp(a.frames.p, p, a.frames.len) == 0);
	if (a.rc == -1)
		CHECK(a.err == EPROTO || a.err == EMSGSIZE || a.err == EBADMSG);
	if (a.why != NULL)
		CHECK(a.err_off == a.frames.len);
	if (a.rc == 0 && a.eof == 0)
		CHECK(a.frames.len == n);
	if (a.eof == -1)
		CHECK(a.eof_err == (a.rc == -1 ? a.err : EBADMSG));

	/*
	 * Every frame: a decodable bundle or a clean refusal.  ds_pipein
	 * hands out the leading good bundles, then fails at the first bad
	 * frame, a bad END, a frame after the END or a stream error, if
	 * any; it ends the stream only at an END that agrees with the
	 * bundles, with nothing after it.
	 */
	prefix = 1;
	for (off = 0; off < a.frames.len; off += DS_FRAME_HDR + len) {
		len = (uint32_t)p[off + 8] | (uint32_t)p[off + 9] << 8 |
		    (uint32_t)p[off + 10] << 16 | (uint32_t)p[off + 11] << 24;
		isbundle = p[off + 4] == DS_FRAME_BUNDLE && p[off + 5] == 0 &&
		    p[off + 6] == 0 && p[off + 7] == 0 &&
		    check_bundle(p + off, len, maxt, &b, &tmp);
		if (!prefix)
			continue;
		if (ended)
			prefix = 0;
		else if (p[off + 4] == DS_FRAME_END && p[off + 5] == 0)
			ended = p[off + 6] == 0 && p[off + 7] == 0 &&
			    len == DS_END_LEN && end_agrees(p + off +
			    DS_FRAME_HDR, &seen, good > 0, mixed);
		else if (isbundle) {
			if (good++ == 0) {
				seen.producer = b.producer;
				seen.epoch = b.epoch;
			} else if (b.producer != seen.producer ||
			    b.epoch != seen.epoch)
				mixed = 1;
			seen.count += b.count;
			if (b.count > 0)
				seen.last = b.t[b.count - 1].seq;
		}
		if (!isbundle && !ended)
			prefix = 0;
	}
	/* ds_pipein reads up to DS_FRAME_MAX: skip what it would allocate. */
	if (!(a.err == EMSGSIZE &&
	    ds_get_le32(p + a.frames.len + 8) <= DS_FRAME_MAX))
		check_input(p, n, maxt, good, prefix && ended &&
		    a.why == NULL);

	ds_bundle_free(&b);
	ds_buf_free(&tmp);
	ds_buf_free(&a.frames);
	ds_buf_free(&c.frames);
	free(copy);
	return 0;
}
