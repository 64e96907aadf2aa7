/*
 * frame.c: unit test for the frame codec, the incremental frame reader,
 * the bundle codec and ds_pipein (libds/frame, tuple, pipein, io).  Known
 * vectors come from t/data (see golden.c); the rest is round trips,
 * every truncation, every single-bit flip, hostile lengths and headers,
 * odd chunkings and I/O errors.  The invariant under test: a reader
 * returns only frames that are byte for byte what was written, and
 * refuses everything else with EPROTO, EMSGSIZE or EBADMSG at the right
 * stream offset.  Run from the repo top.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/exit.h"
#include "core/frame.h"
#include "golden.h"
#include "core/pipein.h"
#include "core/io.h"
#include "tap.h"
#include "core/tuple.h"
#include "core/wire.h"

/*
 * t/data/one.frames, written out by hand from ds-wire(5): the bundle
 * frame, then the END frame.
 */
static const unsigned char one_vec[64] = {
	0x00, 'D', 'S', 0x01,			/* magic, version 1 */
	0x01, 0x00, 0x00, 0x00,			/* type BUNDLE, flags 0 */
	0x30, 0x00, 0x00, 0x00,			/* length 48 */
	0xe7, 0x39, 0x3c, 0x89,			/* CRC-32C 0x893c39e7 */
	0, 0, 0, 0, 0, 0, 0, 0,			/* producer 0 */
	0, 0, 0, 0,				/* epoch 0 */
	0x01, 0x00, 0x00, 0x00,			/* count 1 */
	0x00,					/* tflags */
	0x01, 0, 0, 0, 0, 0, 0, 0,		/* seq 1 */
	0x00, 0x00, 0x2a, 0x36, 0xfe, 0x9c, 0x97, 0x17,	/* time */
	0x02, 0x00, 0x00, 0x00, 'k', '1',	/* key */
	0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'	/* payload */
};
static const unsigned char one_end_vec[DS_END_FRAME] = {
	0x00, 'D', 'S', 0x01,			/* magic, version 1 */
	0x12, 0x00, 0x00, 0x00,			/* type END, flags 0 */
	0x1c, 0x00, 0x00, 0x00,			/* length 28 */
	0x6f, 0x76, 0x9b, 0x47,			/* CRC-32C 0x479b766f */
	0, 0, 0, 0, 0, 0, 0, 0,			/* producer 0 */
	0, 0, 0, 0,				/* epoch 0 */
	0x01, 0, 0, 0, 0, 0, 0, 0,		/* count 1 */
	0x01, 0, 0, 0, 0, 0, 0, 0		/* last seq 1 */
};
/* Where the frames of t/data/three.frames start (the END last), and its
 * length. */
static const size_t three_at[] = { 0, 102, 177, 271, 315 };
#define THREE_FRAMES	4

static struct ds_buf	one_file = DS_BUF_INIT, three_file = DS_BUF_INIT;
static unsigned char	*pool;			/* random bytes for tuples */
#define POOL		(2u << 20)
static uint64_t		rnd = 0x2545f4914f6cdd1dull;

static uint32_t
xorshift(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return (uint32_t)(rnd >> 32);
}

static int
slurp(const char *path, struct ds_buf *b)
{
	unsigned char tmp[4096];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		if (ds_buf_add(b, tmp, (size_t)n) == -1)
			n = -1;
	close(fd);
	return n == 0 ? 0 : -1;
}

static int
same(const struct ds_buf *b, const void *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->p, p, n) == 0);
}

/*
 * Take every frame r has now and re-encode it into out (a verified frame
 * re-encodes to the same bytes).  Returns the last ds_frame_reader_next
 * result, 0 or -1.
 */
static int
drain(struct ds_frame_reader *r, struct ds_buf *out, size_t *nframes)
{
	struct ds_frame f;
	int rc;

	while ((rc = ds_frame_reader_next(r, &f)) == 1) {
		if (out != NULL && ds_frame_append(out, f.type, f.flags,
		    f.payload, f.len) == -1)
			return -1;
		if (nframes != NULL)
			(*nframes)++;
	}
	return rc;
}

/* A file descriptor reading the given bytes (an unlinked temp file). */
static int
tmpfd(const void *p, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/ds-unit-frame-XXXXXX",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	if ((fd = mkstemp(path)) == -1)
		return -1;
	unlink(path);
	if (ds_write_all(fd, p, n) == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
tuple_eq(const struct ds_tuple *want, const struct ds_tuple *got)
{
	unsigned fl = want->flags & DS_TUPLE_FLAGS;

	return got->seq == want->seq && got->time == want->time &&
	    got->flags == fl &&
	    got->trace == ((fl & DS_TUPLE_TRACE) ? want->trace : 0) &&
	    got->keylen == want->keylen && got->paylen == want->paylen &&
	    (want->keylen == 0 ||
	    memcmp(got->key, want->key, want->keylen) == 0) &&
	    (want->paylen == 0 ||
	    memcmp(got->payload, want->payload, want->paylen) == 0);
}

static void
golden_tuple_at(struct ds_tuple *t, const struct golden_tuple *g, size_t n,
    size_t i)
{
	if (i < n)
		golden_tuple(t, &g[i]);
	else
		memset(t, 0, sizeof(*t));
}

static void
known_vectors(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_frame_reader r;
	struct ds_bundle bun = DS_BUNDLE_INIT;
	struct ds_frame f;
	struct ds_tuple want;
	struct ds_end end;
	const char *why = NULL;
	size_t i, k, nb = 0, nt = 0, nend = 0, bad = 0;
	int rc;

	ok(slurp("t/data/one.frames", &one_file) == 0 &&
	    slurp("t/data/three.frames", &three_file) == 0,
	    "vectors: read t/data/one.frames and three.frames");
	ok(one_file.len == sizeof(one_vec) + sizeof(one_end_vec) &&
	    memcmp(one_file.p, one_vec, sizeof(one_vec)) == 0 &&
	    memcmp(one_file.p + sizeof(one_vec), one_end_vec,
	    sizeof(one_end_vec)) == 0,
	    "vectors: one.frames equals the hand-written vectors");
	ok(golden_encode(&b, golden_one, GOLDEN_N(golden_one)) == 0 &&
	    same(&b, one_file.p, one_file.len),
	    "vectors: the bundle writer and ds_end_pack produce one.frames "
	    "byte for byte");
	ds_buf_reset(&b);
	ok(golden_encode(&b, golden_three, GOLDEN_N(golden_three)) == 0 &&
	    same(&b, three_file.p, three_file.len) &&
	    three_file.len == three_at[THREE_FRAMES],
	    "vectors: the bundle writer produces three.frames byte for byte");
	ok(ds_crc32c(ds_crc32c(0, one_vec, 12), one_vec + 16, 48) ==
	    ds_get_le32(one_vec + 12),
	    "vectors: CRC-32C covers header bytes 0..11, then the payload");

	ok(ds_frame_unpack_hdr(one_vec, DS_FRAME_MAX, &f, &why) == 0 &&
	    f.type == DS_FRAME_BUNDLE && f.flags == 0 && f.len == 48,
	    "vectors: unpack the header of one.frames");
	ok(ds_frame_check(one_vec, one_vec + 16, 48) == 0,
	    "vectors: its CRC checks");
	ok(ds_bundle_decode(&bun, one_vec + 16, 48, DS_TUPLE_MAX, &why) == 0 &&
	    bun.producer == 0 && bun.epoch == 0 && bun.count == 1 &&
	    bun.t[0].seq == 1 && bun.t[0].time == GOLDEN_T0 &&
	    bun.t[0].flags == 0 && bun.t[0].keylen == 2 &&
	    memcmp(bun.t[0].key, "k1", 2) == 0 && bun.t[0].paylen == 5 &&
	    memcmp(bun.t[0].payload, "hello", 5) == 0,
	    "vectors: decode one.frames: seq 1, key k1, payload hello");

	ds_frame_reader_init(&r, 0);
	ds_frame_reader_feed(&r, three_file.p, three_file.len);
	while (ds_frame_reader_next(&r, &f) == 1) {
		if (ds_frame_reader_offset(&r) != three_at[nb + 1])
			bad++;
		if (f.type == DS_FRAME_END) {
			nend++;
			if (ds_end_unpack(&end, &f, &why) == -1 ||
			    end.producer != 0 || end.epoch != 0 ||
			    end.count != nt || end.last != nt ||
			    nb != THREE_FRAMES - 1)
				bad++;
			continue;
		}
		if (ds_bundle_decode(&bun, f.payload, f.len, DS_TUPLE_MAX,
		    &why) == -1 || bun.producer != 0 || bun.epoch != 0) {
			bad++;
			continue;
		}
		for (k = 0; k < bun.count; k++, nt++) {
			golden_tuple_at(&want, golden_three,
			    GOLDEN_N(golden_three), nt);
			if (nt >= GOLDEN_N(golden_three) ||
			    golden_three[nt].bundle != (int)nb ||
			    !tuple_eq(&want, &bun.t[k]))
				bad++;
		}
		nb++;
	}
	ok(bad == 0 && nb == 3 && nt == GOLDEN_N(golden_three) && nend == 1 &&
	    ds_frame_reader_eof(&r) == 0,
	    "vectors: three.frames decodes to 3 bundles, 5 tuples as "
	    "golden.h says, and an END that says so");
	ds_frame_reader_term(&r);

	/* An empty payload: header only, CRC over bytes 0..11. */
	ds_buf_reset(&b);
	ok(ds_frame_append(&b, DS_FRAME_BUNDLE, 0, NULL, 0) == 0 &&
	    b.len == DS_FRAME_HDR && ds_get_le32(b.p + 8) == 0 &&
	    ds_get_le32(b.p + 12) == ds_crc32c(0, b.p, 12),
	    "vectors: an empty frame is 16 bytes, CRC of the first 12");
	ds_frame_reader_init(&r, 0);
	ds_frame_reader_feed(&r, b.p, b.len);
	ok(ds_frame_reader_next(&r, &f) == 1 && f.len == 0 &&
	    ds_frame_reader_next(&r, &f) == 0 && ds_frame_reader_eof(&r) == 0,
	    "vectors: the reader returns an empty frame");
	errno = 0;
	rc = ds_bundle_decode(&bun, f.payload, 0, DS_TUPLE_MAX, &why);
	ok(rc == -1 && errno == EBADMSG && why != NULL &&
	    strcmp(why, "bundle header truncated") == 0,
	    "vectors: an empty BUNDLE payload is a truncated bundle header");
	ds_frame_reader_term(&r);

	i = b.len;
	errno = 0;
	ok(ds_frame_append(&b, DS_FRAME_BUNDLE, 0, one_vec,
	    (size_t)DS_FRAME_MAX + 1) == -1 && errno == EMSGSIZE &&
	    b.len == i, "vectors: appending a payload over DS_FRAME_MAX "
	    "fails with EMSGSIZE and writes nothing");
	ds_bundle_free(&bun);
	ds_buf_free(&b);
}

struct spec {
	uint64_t	 producer;
	uint32_t	 epoch;
	size_t		 n;
	struct ds_tuple	*t;
};

static void
rand_tuple(struct ds_tuple *t, uint64_t seq, size_t maxkey, size_t maxpay)
{
	memset(t, 0, sizeof(*t));
	t->seq = seq;
	t->time = ((uint64_t)xorshift() << 32) | xorshift();
	t->flags = xorshift() & 0xff;		/* the writer drops bits 1..7 */
	t->trace = ((uint64_t)xorshift() << 32) | xorshift();
	t->keylen = maxkey ? xorshift() % (maxkey + 1) : 0;
	t->paylen = maxpay ? xorshift() % (maxpay + 1) : 0;
	t->key = pool + xorshift() % (POOL - t->keylen);
	t->payload = pool + xorshift() % (POOL - t->paylen);
}

/* Encode specs into out; 0 or -1. */
static int
encode_specs(struct ds_buf *out, const struct spec *s, size_t ns)
{
	struct ds_bundle_writer w;
	size_t i, k;

	for (i = 0; i < ns; i++) {
		if (ds_bundle_begin(&w, out, s[i].producer, s[i].epoch) == -1)
			return -1;
		for (k = 0; k < s[i].n; k++)
			if (ds_bundle_add(&w, &s[i].t[k]) == -1)
				return -1;
		if (ds_bundle_end(&w) == -1)
			return -1;
	}
	return 0;
}

/* Decode every frame of stream and compare with specs; count mismatches. */
static size_t
check_specs(const struct ds_buf *stream, const struct spec *s, size_t ns)
{
	struct ds_frame_reader r;
	struct ds_bundle b = DS_BUNDLE_INIT;
	struct ds_frame f;
	const char *why;
	size_t i = 0, k, bad = 0;

	ds_frame_reader_init(&r, 0);
	if (ds_frame_reader_feed(&r, stream->p, stream->len) == -1)
		return 1;
	while (ds_frame_reader_next(&r, &f) == 1) {
		if (i >= ns || f.type != DS_FRAME_BUNDLE || f.flags != 0 ||
		    ds_bundle_decode(&b, f.payload, f.len, DS_TUPLE_MAX,
		    &why) == -1 || b.producer != s[i].producer ||
		    b.epoch != s[i].epoch || b.count != s[i].n) {
			bad++;
			i++;
			continue;
		}
		for (k = 0; k < b.count; k++)
			if (!tuple_eq(&s[i].t[k], &b.t[k]))
				bad++;
		i++;
	}
	if (i != ns || ds_frame_reader_eof(&r) != 0)
		bad++;
	ds_frame_reader_term(&r);
	ds_bundle_free(&b);
	return bad;
}

static struct ds_tuple	 varied[12], big1[1], bigs[8], many[1000];
static struct spec	 specs[4];
static struct ds_buf	 rt_stream = DS_BUF_INIT;	/* specs encoded */
static struct ds_buf	 rt_pipe = DS_BUF_INIT;		/* as a pipe stream */

/* specs as a pipe stream: one producer and epoch (0), then the END. */
static int
pipe_specs(struct ds_buf *out, const struct spec *s, size_t ns)
{
	struct spec one;
	struct ds_end e = { 0, 0, 0, 0 };
	size_t i;

	for (i = 0; i < ns; i++) {
		one = s[i];
		one.producer = 0;
		one.epoch = 0;
		if (encode_specs(out, &one, 1) == -1)
			return -1;
		e.count += s[i].n;
		if (s[i].n > 0)
			e.last = s[i].t[s[i].n - 1].seq;
	}
	if (ds_buf_grow(out, DS_END_FRAME) == -1)
		return -1;
	ds_end_pack(out->p + out->len, &e);
	out->len += DS_END_FRAME;
	return 0;
}

static void
round_trip(void)
{
	struct ds_bundle_writer w;
	struct ds_buf b = DS_BUF_INIT;
	struct ds_tuple t;
	unsigned char *big;
	size_t i, before;
	static const unsigned char zkey[] = { 0, 'a', 0, 0xff };

	for (i = 0; i < POOL; i++)
		pool[i] = (unsigned char)xorshift();

	/* Edge values, one tuple each. */
	for (i = 0; i < 12; i++)
		rand_tuple(&varied[i], i + 1, 16, 64);
	varied[0].keylen = varied[0].paylen = 0;	/* both empty */
	varied[1].keylen = 0;				/* empty key */
	varied[2].paylen = 0;				/* empty payload */
	varied[3].flags = DS_TUPLE_TRACE;
	varied[3].trace = 0;				/* trace id 0 */
	varied[4].flags = DS_TUPLE_TRACE;
	varied[4].trace = UINT64_MAX;
	varied[5].flags = 0;
	varied[5].seq = UINT64_MAX;
	varied[5].time = UINT64_MAX;
	varied[6].flags = 0xfe;			/* undefined bits only */
	varied[6].time = 0;
	varied[7].key = zkey;				/* binary key */
	varied[7].keylen = sizeof(zkey);
	varied[8].flags = 0xff;
	specs[0].producer = 0xfedcba9876543210ull;
	specs[0].epoch = UINT32_MAX;
	specs[0].n = 12;
	specs[0].t = varied;

	/* One tuple of exactly DS_TUPLE_MAX bytes of key + payload. */
	rand_tuple(&big1[0], 100, 0, 0);
	big1[0].keylen = 10;
	big1[0].paylen = DS_TUPLE_MAX - 10;
	specs[1].producer = 1;
	specs[1].epoch = 1;
	specs[1].n = 1;
	specs[1].t = big1;

	/* 1000 small random tuples. */
	for (i = 0; i < 1000; i++)
		rand_tuple(&many[i], 1000 + i, 40, 300);
	specs[2].producer = 2;
	specs[2].epoch = 7;
	specs[2].n = 1000;
	specs[2].t = many;

	/* An 8 MiB bundle. */
	for (i = 0; i < 8; i++) {
		rand_tuple(&bigs[i], 5000 + i, 100, 0);
		bigs[i].paylen = DS_TUPLE_MAX - bigs[i].keylen;
		bigs[i].payload = pool + xorshift() % (POOL - bigs[i].paylen);
	}
	specs[3].producer = 3;
	specs[3].epoch = 0;
	specs[3].n = 8;
	specs[3].t = bigs;

	ok(encode_specs(&rt_stream, specs, 4) == 0,
	    "round trip: encode 4 bundles (edge values, a %u-byte tuple, "
	    "1000 tuples, 8 MiB)", DS_TUPLE_MAX);
	ok(check_specs(&rt_stream, specs, 4) == 0,
	    "round trip: every bundle and tuple decodes to what was written "
	    "(%zu bytes)", rt_stream.len);
	ok(pipe_specs(&rt_pipe, specs, 4) == 0,
	    "round trip: the same tuples as one pipe stream, with its END");

	/* Writer bookkeeping. */
	ok(ds_bundle_begin(&w, &b, 9, 9) == 0 && ds_bundle_bytes(&w) ==
	    DS_BUNDLE_HDR, "writer: an open bundle has its 16-byte header");
	rand_tuple(&t, 1, 5, 5);
	ok(ds_bundle_add(&w, &t) == 0 && ds_bundle_bytes(&w) ==
	    DS_BUNDLE_HDR + ds_tuple_size(&t),
	    "writer: ds_bundle_bytes counts the tuple (%zu)",
	    ds_tuple_size(&t));
	ok(ds_tuple_size(&t) == DS_TUPLE_FIXED +
	    ((t.flags & DS_TUPLE_TRACE) ? 8 : 0) + t.keylen + t.paylen,
	    "writer: tuple size = 25 + 8 if traced + key + payload");
	ok(ds_bundle_end(&w) == 0 && ds_bundle_bytes(&w) == 0 &&
	    ds_bundle_end(&w) == 0, "writer: end closes, a second end is a "
	    "no-op");
	before = b.len;
	ok(ds_bundle_begin(&w, &b, 9, 9) == 0 && ds_bundle_end(&w) == 0 &&
	    b.len == before, "writer: a bundle with no tuples writes nothing");
	ds_buf_reset(&b);
	ds_bundle_begin(&w, &b, 0, 0);
	ds_bundle_add(&w, &varied[8]);
	ds_bundle_end(&w);
	ok(b.p[DS_FRAME_HDR + DS_BUNDLE_HDR] == DS_TUPLE_TRACE,
	    "writer: only defined tflags bits reach the wire");

	/* A bundle past DS_FRAME_MAX is refused and rolled back. */
	ds_buf_reset(&b);
	ds_buf_addstr(&b, "keep");
	memset(&t, 0, sizeof(t));
	t.paylen = DS_FRAME_MAX;
	t.payload = big = malloc(t.paylen);
	if (big != NULL) {
		errno = 0;
		ok(ds_bundle_begin(&w, &b, 0, 0) == 0 &&
		    ds_bundle_add(&w, &t) == 0 && ds_bundle_end(&w) == -1 &&
		    errno == EMSGSIZE && b.len == 4 &&
		    memcmp(b.p, "keep", 4) == 0,
		    "writer: a bundle over DS_FRAME_MAX fails with EMSGSIZE "
		    "and is removed from the buffer");
		free(big);
	} else
		ok(0, "writer: malloc for the oversize bundle test");

	/* A frame of exactly DS_FRAME_MAX is accepted. */
	{
		struct ds_frame_reader r;
		struct ds_frame f;
		unsigned char *p = calloc(1, DS_FRAME_MAX);

		ds_buf_free(&b);
		ds_frame_reader_init(&r, 0);
		ok(p != NULL && ds_frame_append(&b, 7, 0, p, DS_FRAME_MAX) ==
		    0 && ds_frame_reader_feed(&r, b.p, b.len) == 0 &&
		    ds_frame_reader_next(&r, &f) == 1 &&
		    f.len == DS_FRAME_MAX && f.type == 7,
		    "reader: a frame of exactly DS_FRAME_MAX bytes is "
		    "accepted");
		ds_frame_reader_term(&r);
		free(p);
	}
	ds_buf_free(&b);
}

static void
truncation(void)
{
	struct ds_frame_reader r;
	struct ds_buf got = DS_BUF_INIT;
	struct ds_frame f;
	size_t k, j, whole, nf, bad_frames = 0, bad_eof = 0, bad_single = 0;
	const char *want;
	int rc;

	for (k = 0; k <= three_file.len; k++) {
		whole = 0;
		for (j = 0; j <= THREE_FRAMES; j++)
			if (three_at[j] <= k)
				whole = three_at[j];
		ds_buf_reset(&got);
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, three_file.p, k);
		rc = drain(&r, &got, NULL);
		if (rc != 0 || !same(&got, three_file.p, whole))
			bad_frames++;
		if (k == whole) {
			if (ds_frame_reader_eof(&r) != 0)
				bad_eof++;
		} else {
			want = k - whole < DS_FRAME_HDR ?
			    "truncated frame header" :
			    "truncated frame payload";
			errno = 0;
			if (ds_frame_reader_eof(&r) != -1 || errno != EBADMSG ||
			    r.why == NULL || strcmp(r.why, want) != 0 ||
			    r.err_off != whole)
				bad_eof++;
			/* Stuck after the error. */
			if (ds_frame_reader_next(&r, &f) != -1 ||
			    errno != EBADMSG)
				bad_eof++;
		}
		ds_frame_reader_term(&r);
	}
	ok(bad_frames == 0, "truncation: for every length 0..%zu of "
	    "three.frames the reader returns exactly the whole frames "
	    "(%zu wrong)", three_file.len, bad_frames);
	ok(bad_eof == 0, "truncation: eof reports a truncated header or "
	    "payload at the partial frame's offset (%zu wrong)", bad_eof);

	for (k = 0; k < sizeof(one_vec); k++) {
		nf = 0;
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, one_vec, k);
		rc = drain(&r, NULL, &nf);
		if (rc != 0 || nf != 0)
			bad_single++;
		errno = 0;
		rc = ds_frame_reader_eof(&r);
		if (k == 0 ? rc != 0 : (rc != -1 || errno != EBADMSG))
			bad_single++;
		ds_frame_reader_term(&r);
	}
	ok(bad_single == 0, "truncation: no prefix of one.frames yields a "
	    "frame, and eof fails with EBADMSG unless empty");
	ds_buf_free(&got);
}

static size_t
frame_of(size_t byte)
{
	size_t j;

	for (j = 0; j < THREE_FRAMES - 1; j++)
		if (byte < three_at[j + 1])
			break;
	return j;
}

static void
bit_flips(void)
{
	struct ds_frame_reader r;
	struct ds_buf got = DS_BUF_INIT;
	unsigned char *p;
	size_t n = three_file.len, i, fs, off, bad_content = 0, bad_detect = 0;
	size_t nproto = 0, nsize = 0, nbad = 0, ntrunc = 0;
	uint32_t len;
	int rc, e;

	if ((p = malloc(n)) == NULL) {
		ok(0, "bit flips: malloc");
		return;
	}
	for (i = 0; i < n * 8; i++) {
		memcpy(p, three_file.p, n);
		p[i / 8] ^= (unsigned char)(1u << (i % 8));
		fs = three_at[frame_of(i / 8)];
		off = i / 8 - fs;
		ds_buf_reset(&got);
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, p, n);
		rc = drain(&r, &got, NULL);
		e = errno;
		/* Only the untouched frames before the flip come out. */
		if (!same(&got, three_file.p, fs))
			bad_content++;
		len = ds_get_le32(p + fs + 8);
		if (rc == -1) {
			if (r.err_off != fs)
				bad_detect++;
			else if (off < 4 && e == EPROTO)
				nproto++;
			else if (off >= 8 && off < 12 && len > DS_FRAME_MAX &&
			    e == EMSGSIZE)
				nsize++;
			else if (off >= 4 && len <= DS_FRAME_MAX &&
			    e == EBADMSG)
				nbad++;
			else
				bad_detect++;
		} else if (rc == 0 && off >= 8 && off < 12 &&
		    len <= DS_FRAME_MAX && fs + DS_FRAME_HDR + len > n) {
			/* A longer length: only the end of input tells. */
			errno = 0;
			if (ds_frame_reader_eof(&r) == -1 && errno == EBADMSG &&
			    r.err_off == fs)
				ntrunc++;
			else
				bad_detect++;
		} else
			bad_detect++;
		ds_frame_reader_term(&r);
	}
	ok(bad_content == 0, "bit flips: none of the %zu single-bit flips "
	    "of three.frames yields a frame that differs from the original "
	    "(%zu did)", n * 8, bad_content);
	ok(bad_detect == 0, "bit flips: every flip is refused at its frame's "
	    "offset: %zu EPROTO, %zu EMSGSIZE, %zu EBADMSG, %zu truncated "
	    "(%zu wrong)", nproto, nsize, nbad, ntrunc, bad_detect);
	ok(nproto == THREE_FRAMES * 4 * 8 && nsize > 0 && ntrunc > 0 &&
	    nproto + nsize + nbad + ntrunc == n * 8,
	    "bit flips: magic/version flips are EPROTO, huge lengths "
	    "EMSGSIZE, the rest EBADMSG");
	free(p);
	ds_buf_free(&got);
}

static void
hostile_headers(void)
{
	struct ds_frame_reader r;
	struct ds_frame f;
	unsigned char h[DS_FRAME_HDR];
	const char *why = NULL;
	static const uint32_t huge[] = { DS_FRAME_MAX + 1, 0x7fffffff,
	    0xffffffff };
	size_t i;
	int rc;

	for (i = 0; i < 3; i++) {
		ds_frame_pack(h, DS_FRAME_BUNDLE, 0, h, 0);
		ds_put_le32(h + 8, huge[i]);
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, h, sizeof(h));
		errno = 0;
		rc = ds_frame_reader_next(&r, &f);
		ok(rc == -1 && errno == EMSGSIZE && r.buf.cap <= 256 &&
		    r.err_off == 0 && strcmp(r.why,
		    "frame length over the limit") == 0,
		    "oversize: length %u is EMSGSIZE from the header alone, "
		    "nothing allocated (cap %zu)", huge[i], r.buf.cap);
		ds_frame_reader_term(&r);
	}
	ds_frame_pack(h, DS_FRAME_BUNDLE, 0, h, 0);
	ds_put_le32(h + 8, 101);
	ok(ds_frame_unpack_hdr(h, 100, &f, &why) == -1 && errno == EMSGSIZE,
	    "oversize: unpack_hdr refuses length 101 with max 100");
	ds_put_le32(h + 8, 100);
	ok(ds_frame_unpack_hdr(h, 100, &f, &why) == 0 && f.len == 100,
	    "oversize: unpack_hdr accepts length 100 with max 100");
	ds_frame_reader_init(&r, 100);
	ds_frame_reader_feed(&r, h, sizeof(h));
	ok(ds_frame_reader_next(&r, &f) == 0 &&
	    r.buf.cap - r.pos >= DS_FRAME_HDR + 100,
	    "oversize: a valid length makes room for the whole frame");
	ds_frame_reader_term(&r);

	/* Versions other than 1, whole header or just 4 bytes. */
	for (i = 0; i < 3; i++) {
		static const unsigned char v[] = { 0, 2, 0xff };

		ds_frame_pack(h, DS_FRAME_BUNDLE, 0, h, 0);
		h[3] = v[i];
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, h, sizeof(h));
		errno = 0;
		ok(ds_frame_reader_next(&r, &f) == -1 && errno == EPROTO &&
		    strcmp(r.why, "unsupported frame version") == 0,
		    "version: %u is EPROTO", v[i]);
		ds_frame_reader_term(&r);
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, h, 4);
		errno = 0;
		ok(ds_frame_reader_next(&r, &f) == -1 && errno == EPROTO,
		    "version: %u is refused after 4 bytes, before a whole "
		    "header", v[i]);
		ds_frame_reader_term(&r);
	}

	/* Bad magic: text, a wrong byte, and after a good frame. */
	ds_frame_reader_init(&r, 0);
	ds_frame_reader_feed(&r, "h", 1);
	errno = 0;
	ok(ds_frame_reader_next(&r, &f) == -1 && errno == EPROTO &&
	    strcmp(r.why, "bad magic (not a dstream frame stream)") == 0,
	    "magic: a text stream is EPROTO at its first byte");
	ok(ds_frame_reader_next(&r, &f) == -1 && errno == EPROTO &&
	    ds_frame_reader_fill(&r, 0) == -1 && errno == EPROTO &&
	    ds_frame_reader_eof(&r) == -1 && errno == EPROTO,
	    "magic: after an error the reader stays failed (next, fill, eof)");
	ds_frame_reader_term(&r);
	for (i = 0; i < 3; i++) {
		memcpy(h, one_vec, sizeof(h));
		h[i] ^= 0x20;
		ds_frame_reader_init(&r, 0);
		ds_frame_reader_feed(&r, h, i + 1);
		errno = 0;
		ok(ds_frame_reader_next(&r, &f) == -1 && errno == EPROTO &&
		    ds_frame_unpack_hdr(h, DS_FRAME_MAX, &f, &why) == -1 &&
		    errno == EPROTO, "magic: byte %zu wrong is EPROTO after "
		    "%zu bytes", i, i + 1);
		ds_frame_reader_term(&r);
	}
	ds_frame_reader_init(&r, 0);
	ds_frame_reader_feed(&r, one_vec, sizeof(one_vec));
	ds_frame_reader_feed(&r, "GET / HTTP/1.0\r\n\r\n", 18);
	ok(ds_frame_reader_next(&r, &f) == 1 &&
	    ds_frame_reader_next(&r, &f) == -1 && errno == EPROTO &&
	    r.err_off == sizeof(one_vec),
	    "magic: garbage after a good frame is EPROTO at offset 64");
	ds_frame_reader_term(&r);
}

static void
chunking(void)
{
	struct ds_frame_reader r;
	struct ds_buf in = DS_BUF_INIT, got = DS_BUF_INIT;
	size_t i, k, c, bad = 0;
	int rc = 0;

	/* three.frames, the edge-value and the 1000-tuple bundles. */
	ds_buf_add(&in, three_file.p, three_file.len);
	encode_specs(&in, &specs[0], 1);
	encode_specs(&in, &specs[2], 1);

	ds_frame_reader_init(&r, 0);
	for (i = 0; i < in.len && rc != -1; i++) {
		ds_frame_reader_feed(&r, in.p + i, 1);
		rc = drain(&r, &got, NULL);
	}
	ok(rc == 0 && same(&got, in.p, in.len) &&
	    ds_frame_reader_eof(&r) == 0 &&
	    ds_frame_reader_offset(&r) == in.len,
	    "chunks: fed byte by byte, the same %zu bytes of frames come out",
	    in.len);
	ds_frame_reader_term(&r);

	for (k = 0; k < 200; k++) {
		ds_buf_reset(&got);
		ds_frame_reader_init(&r, 0);
		rc = 0;
		for (i = 0; i < in.len && rc != -1; i += c) {
			c = 1 + xorshift() % (k < 100 ? 64 : 20000);
			if (c > in.len - i)
				c = in.len - i;
			ds_frame_reader_feed(&r, in.p + i, c);
			rc = drain(&r, &got, NULL);
		}
		if (rc != 0 || !same(&got, in.p, in.len) ||
		    ds_frame_reader_eof(&r) != 0)
			bad++;
		ds_frame_reader_term(&r);
	}
	ok(bad == 0, "chunks: 200 random chunkings give the same frames "
	    "(%zu differ)", bad);
	ds_buf_free(&in);
	ds_buf_free(&got);
}

/* A bundle payload builder for decode faults. */
static void
bhdr(struct ds_buf *b, uint32_t count)
{
	unsigned char h[DS_BUNDLE_HDR];

	ds_buf_reset(b);
	ds_put_le64(h, 0);
	ds_put_le32(h + 8, 0);
	ds_put_le32(h + 12, count);
	ds_buf_add(b, h, sizeof(h));
}

static void
btuple(struct ds_buf *b, unsigned fl, uint32_t keylen, const char *key,
    uint32_t paylen, const char *pay)
{
	unsigned char x[17];

	x[0] = (unsigned char)fl;
	ds_put_le64(x + 1, 42);
	ds_put_le64(x + 9, 43);
	ds_buf_add(b, x, 17);
	if (fl & DS_TUPLE_TRACE) {
		ds_put_le64(x, 44);
		ds_buf_add(b, x, 8);
	}
	ds_put_le32(x, keylen);
	ds_buf_add(b, x, 4);
	ds_buf_add(b, key, strlen(key));
	ds_put_le32(x, paylen);
	ds_buf_add(b, x, 4);
	ds_buf_add(b, pay, strlen(pay));
}

static int
dec_fails(const struct ds_buf *p, size_t maxt, int err, const char *want)
{
	struct ds_bundle b = DS_BUNDLE_INIT;
	const char *why = NULL;
	int rc;

	b.count = 99;
	errno = 0;
	rc = ds_bundle_decode(&b, p->p, p->len, maxt, &why);
	rc = rc == -1 && errno == err && b.count == 0 && why != NULL &&
	    (want == NULL || strcmp(why, want) == 0);
	ds_bundle_free(&b);
	return rc;
}

static void
decode_faults(void)
{
	struct ds_buf p = DS_BUF_INIT;
	struct ds_bundle b = DS_BUNDLE_INIT;
	const char *why;
	unsigned bit;

	bhdr(&p, 0);
	ok(ds_bundle_decode(&b, p.p, p.len, 1, &why) == 0 && b.count == 0,
	    "decode: a bundle of 0 tuples is valid");
	p.len = 15;
	ok(dec_fails(&p, 100, EBADMSG, "bundle header truncated"),
	    "decode: 15 bytes is a truncated bundle header");
	p.len = 0;
	ok(dec_fails(&p, 100, EBADMSG, "bundle header truncated"),
	    "decode: 0 bytes is a truncated bundle header");

	bhdr(&p, 1);
	ok(dec_fails(&p, 100, EBADMSG, "tuple count larger than the bundle"),
	    "decode: count 1 with no tuple bytes");
	bhdr(&p, 0xffffffff);
	btuple(&p, 0, 1, "k", 1, "v");
	ok(dec_fails(&p, 100, EBADMSG, "tuple count larger than the bundle"),
	    "decode: count 0xffffffff is refused before allocating");
	bhdr(&p, 2);
	btuple(&p, 0, 30, "abcdefghijklmnopqrstuvwxyz0123", 1, "v");
	ok(dec_fails(&p, 100, EBADMSG, "tuple truncated"),
	    "decode: count 2 with one tuple's bytes is a truncated tuple");

	bhdr(&p, 1);
	btuple(&p, 0, 1000, "k", 1, "v");
	ok(dec_fails(&p, 10000, EBADMSG, "tuple key length past the bundle"),
	    "decode: key length past the end");
	bhdr(&p, 1);
	btuple(&p, 0, 0xffffffff, "k", 1, "v");
	ok(dec_fails(&p, SIZE_MAX, EBADMSG,
	    "tuple key length past the bundle"),
	    "decode: key length 0xffffffff");
	bhdr(&p, 1);
	btuple(&p, 0, 1, "k", 2, "v");
	ok(dec_fails(&p, 100, EBADMSG,
	    "tuple payload length past the bundle"),
	    "decode: payload length past the end");
	bhdr(&p, 1);
	btuple(&p, 0, 1, "k", 0xffffffff, "v");
	ok(dec_fails(&p, SIZE_MAX, EBADMSG,
	    "tuple payload length past the bundle"),
	    "decode: payload length 0xffffffff");

	bhdr(&p, 1);
	btuple(&p, 0, 1, "k", 1, "v");
	ds_buf_addc(&p, 0);
	ok(dec_fails(&p, 100, EBADMSG, "trailing bytes after the last tuple"),
	    "decode: one trailing byte");
	bhdr(&p, 1);
	btuple(&p, 0, 1, "k", 1, "v");
	btuple(&p, 0, 1, "k", 1, "v");
	ok(dec_fails(&p, 100, EBADMSG, "trailing bytes after the last tuple"),
	    "decode: a whole extra tuple after count is trailing bytes");

	for (bit = 1; bit < 8; bit++) {
		bhdr(&p, 1);
		btuple(&p, 1u << bit, 1, "k", 1, "v");
		ok(dec_fails(&p, 100, EBADMSG, "undefined tuple flag set"),
		    "decode: undefined tflags bit %u", bit);
	}
	/* Trace flag set, but the trace id and lengths do not fit. */
	bhdr(&p, 1);
	btuple(&p, 0, 0, "", 0, "");
	p.p[DS_BUNDLE_HDR] = DS_TUPLE_TRACE;
	ok(dec_fails(&p, 100, EBADMSG, "tuple truncated"),
	    "decode: trace flag without room for the trace id");

	bhdr(&p, 1);
	btuple(&p, DS_TUPLE_TRACE, 3, "key", 4, "valu");
	ok(ds_bundle_decode(&b, p.p, p.len, 7, &why) == 0 && b.count == 1 &&
	    b.t[0].trace == 44 && b.t[0].seq == 42 && b.t[0].time == 43,
	    "decode: key + payload == maxtuple is accepted");
	ok(dec_fails(&p, 6, EMSGSIZE,
	    "tuple larger than the maximum tuple size"),
	    "decode: key + payload == maxtuple + 1 is EMSGSIZE");
	bhdr(&p, 2);
	btuple(&p, 0, 1, "k", 1, "v");
	btuple(&p, 0, 5, "kkkkk", 5, "vvvvv");
	ok(dec_fails(&p, 9, EMSGSIZE, NULL),
	    "decode: an oversize second tuple fails the whole bundle");
	ds_bundle_free(&b);
	ds_buf_free(&p);
}

/* Run ds_pipein_next over bytes until it stops; return its last result. */
static int
input_run(struct ds_pipein *in, const void *p, size_t n, size_t *tuples,
    size_t *bundles)
{
	struct ds_bundle *b;
	int fd, rc;

	*tuples = *bundles = 0;
	if ((fd = tmpfd(p, n)) == -1)
		return -2;
	while ((rc = ds_pipein_next(in, fd, &b)) == 1) {
		(*bundles)++;
		*tuples += b->count;
	}
	close(fd);
	return rc;
}

static void
input_expect(const char *name, const void *p, size_t n, size_t maxt,
    int code, size_t nbundles, const char *msg)
{
	struct ds_pipein in;
	size_t t, nb;
	int rc;

	ds_pipein_init(&in, "stdin", maxt);
	rc = input_run(&in, p, n, &t, &nb);
	if (code == 0)
		ok(rc == 0 && nb == nbundles, "input: %s: %zu bundles, then "
		    "end of stream", name, nb);
	else
		ok(rc == -1 && in.code == code && nb == nbundles &&
		    strcmp(in.msg, msg) == 0, "input: %s: exit %d \"%s\"", name,
		    in.code, in.msg);
	ds_pipein_term(&in);
}

static void
input(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_pipein in;
	struct ds_bundle *bp;
	size_t t, nb;
	int fds[2], fd, rc;

	input_expect("three.frames", three_file.p, three_file.len,
	    DS_TUPLE_MAX, 0, 3, NULL);
	input_expect("the END of three.frames alone", three_file.p +
	    three_at[THREE_FRAMES - 1], DS_END_FRAME, DS_TUPLE_MAX,
	    DS_EX_DATAERR, 0, "stdin: bad END at offset 0: it says 5 tuples "
	    "(last seq 5), 0 were read (last seq 0)");
	input_expect("empty input", "", 0, DS_TUPLE_MAX, DS_EX_DATAERR, 0,
	    "stdin: stream cut: end of input without an END frame at offset "
	    "0, before any tuple");
	input_expect("text", "hello\n", 6, DS_TUPLE_MAX, DS_EX_PROTOCOL, 0,
	    "stdin: bad frame at offset 0: bad magic (not a dstream frame "
	    "stream)");

	ds_buf_add(&b, three_file.p, three_file.len);
	b.p[three_at[1] + 3] = 2;
	input_expect("version 2 in frame 2", b.p, b.len, DS_TUPLE_MAX,
	    DS_EX_PROTOCOL, 1,
	    "stdin: bad frame at offset 102: unsupported frame version");
	memcpy(b.p, three_file.p, b.len);
	b.p[three_at[2] + 40] ^= 0x10;
	input_expect("bit flip in frame 3", b.p, b.len, DS_TUPLE_MAX,
	    DS_EX_DATAERR, 2,
	    "stdin: bad frame at offset 177: checksum mismatch");
	input_expect("last byte missing", three_file.p, three_file.len - 1,
	    DS_TUPLE_MAX, DS_EX_DATAERR, 3,
	    "stdin: stream cut: truncated frame payload at offset 271, after "
	    "5 tuples (last seq 5)");
	input_expect("last bundle's last byte missing", three_file.p,
	    three_at[3] - 1, DS_TUPLE_MAX, DS_EX_DATAERR, 2,
	    "stdin: stream cut: truncated frame payload at offset 177, after "
	    "3 tuples (last seq 3)");
	input_expect("10 bytes of a header", three_file.p, three_at[1] + 10,
	    DS_TUPLE_MAX, DS_EX_DATAERR, 1,
	    "stdin: stream cut: truncated frame header at offset 102, after "
	    "2 tuples (last seq 2)");
	input_expect("no END", three_file.p, three_at[3], DS_TUPLE_MAX,
	    DS_EX_DATAERR, 3, "stdin: stream cut: end of input without an "
	    "END frame at offset 271, after 5 tuples (last seq 5)");
	memcpy(b.p, one_vec, 64);
	ds_put_le32(b.p + 8, DS_FRAME_MAX + 1);
	input_expect("oversize length", b.p, 64, DS_TUPLE_MAX,
	    DS_EX_DATAERR, 0,
	    "stdin: bad frame at offset 0: frame length over the limit");
	input_expect("maxtuple 7 (one.frames has 7 bytes)", one_file.p,
	    one_file.len, 7, 0, 1, NULL);
	input_expect("maxtuple 6", one_vec, 64, 6, DS_EX_DATAERR, 0,
	    "stdin: bad frame at offset 0: tuple larger than the maximum "
	    "tuple size (--max-tuple 6)");

	/* Valid CRCs, but not a bundle this version reads. */
	ds_buf_reset(&b);
	ds_buf_add(&b, one_vec, 64);
	ds_frame_append(&b, 2, 0, one_vec + 16, 48);
	input_expect("unknown type 2", b.p, b.len, DS_TUPLE_MAX,
	    DS_EX_DATAERR, 1,
	    "stdin: bad frame at offset 64: unknown frame type 2");
	b.len = 64;
	ds_frame_append(&b, 0, 0, one_vec + 16, 48);
	input_expect("type 0", b.p, b.len, DS_TUPLE_MAX, DS_EX_DATAERR, 1,
	    "stdin: bad frame at offset 64: unknown frame type 0");
	b.len = 64;
	ds_frame_append(&b, DS_FRAME_BUNDLE, 0x8000, one_vec + 16, 48);
	input_expect("flags 0x8000", b.p, b.len, DS_TUPLE_MAX, DS_EX_DATAERR,
	    1, "stdin: bad frame at offset 64: undefined frame flags set");
	b.len = 64;
	ds_frame_append(&b, DS_FRAME_BUNDLE, 0, one_vec + 16, 47);
	input_expect("bundle short by one byte", b.p, b.len, DS_TUPLE_MAX,
	    DS_EX_DATAERR, 1, "stdin: bad frame at offset 64: tuple payload "
	    "length past the bundle");

	input_expect("round-trip stream (9 MiB, big frames)", rt_pipe.p,
	    rt_pipe.len, DS_TUPLE_MAX, 0, 4, NULL);

	/* Read errors are 74. */
	ds_pipein_init(&in, "stdin", DS_TUPLE_MAX);
	ok(ds_pipein_next(&in, -1, &bp) == -1 && in.code == DS_EX_IOERR &&
	    strcmp(in.msg, "unable to read stdin: Bad file descriptor") == 0,
	    "input: a bad fd is exit 74 \"%s\"", in.msg);
	ds_pipein_term(&in);
	ds_pipein_init(&in, "t/data", DS_TUPLE_MAX);
	fd = open("t/data", O_RDONLY);
	ok(fd != -1 && ds_pipein_next(&in, fd, &bp) == -1 &&
	    in.code == DS_EX_IOERR &&
	    strcmp(in.msg, "unable to read t/data: Is a directory") == 0,
	    "input: reading a directory is exit 74 \"%s\"", in.msg);
	if (fd != -1)
		close(fd);
	ds_pipein_term(&in);

	/* A non-blocking pipe: AGAIN, then bundles, then the end. */
	ds_pipein_init(&in, "stdin", DS_TUPLE_MAX);
	if (pipe(fds) == 0) {
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		rc = ds_pipein_next(&in, fds[0], &bp);
		ok(rc == DS_PIPEIN_AGAIN, "input: an empty non-blocking pipe "
		    "gives DS_PIPEIN_AGAIN");
		ds_write_all(fds[1], three_file.p, 50);
		rc = ds_pipein_next(&in, fds[0], &bp);
		ok(rc == DS_PIPEIN_AGAIN, "input: half a frame gives "
		    "DS_PIPEIN_AGAIN");
		ds_write_all(fds[1], three_file.p + 50, three_file.len - 50);
		close(fds[1]);
		nb = t = 0;
		while ((rc = ds_pipein_next(&in, fds[0], &bp)) == 1) {
			nb++;
			t += bp->count;
		}
		ok(rc == 0 && nb == 3 && t == 5, "input: the rest arrives: 3 "
		    "bundles, 5 tuples, end of stream");
		close(fds[0]);
	} else
		ok(0, "input: pipe");
	ds_pipein_term(&in);
	ds_buf_free(&b);
}

/* Child: read fd to EOF, write back the byte count and CRC, exit. */
__attribute__((noreturn))
static void
reader_child(int rfd, int resfd)
{
	unsigned char buf[65536], res[12];
	uint64_t total = 0;
	uint32_t crc = 0;
	ssize_t n;

	while ((n = read(rfd, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		crc = ds_crc32c(crc, buf, (size_t)n);
	}
	ds_put_le64(res, total);
	ds_put_le32(res + 8, crc);
	(void)ds_write_all(resfd, res, sizeof(res));
	_exit(n == 0 ? 0 : 1);
}

static void
io_errors(void)
{
	struct ds_frame_reader r;
	struct ds_pipein in;
	struct ds_bundle *bp;
	unsigned char res[12];
	size_t nb, t;
	int fds[2], res_fds[2], fd, st;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	ds_frame_reader_init(&r, 0);
	errno = 0;
	ok(ds_frame_reader_fill(&r, -1) == -1 && errno == EBADF,
	    "io: fill on fd -1 is -1/EBADF");
	fd = open("/dev/null", O_RDONLY);
	close(fd);
	errno = 0;
	ok(ds_frame_reader_fill(&r, fd) == -1 && errno == EBADF,
	    "io: fill on a closed fd is -1/EBADF");
	fd = open("/dev/null", O_RDONLY);
	ok(ds_frame_reader_fill(&r, fd) == 0 && ds_frame_reader_eof(&r) == 0,
	    "io: fill at end of file is 0");
	close(fd);
	ds_frame_reader_term(&r);

	if (pipe(fds) == 0) {
		close(fds[0]);
		errno = 0;
		ok(ds_write_all(fds[1], one_vec, sizeof(one_vec)) == -1 &&
		    errno == EPIPE, "io: write_all to a pipe with no reader "
		    "is -1/EPIPE (SIGPIPE ignored)");
		close(fds[1]);
	} else
		ok(0, "io: pipe");
	errno = 0;
	ok(ds_write_all(-1, one_vec, 1) == -1 && errno == EBADF,
	    "io: write_all on fd -1 is -1/EBADF");
	ok(ds_write_all(-1, one_vec, 0) == 0, "io: writing 0 bytes is 0");
	if ((fd = open("/dev/full", O_WRONLY)) != -1) {
		errno = 0;
		ok(ds_write_all(fd, one_vec, sizeof(one_vec)) == -1 &&
		    errno == ENOSPC, "io: write_all to /dev/full is "
		    "-1/ENOSPC");
		close(fd);
	} else
		ok(1, "io: # SKIP no /dev/full");

	/* A non-blocking pipe far smaller than the data: poll and retry. */
	if (pipe(fds) == 0 && pipe(res_fds) == 0) {
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
		fflush(stdout);	/* the child must not repeat it */
		if ((pid = fork()) == 0) {
			close(fds[1]);
			close(res_fds[0]);
			reader_child(fds[0], res_fds[1]);
		}
		close(fds[0]);
		close(res_fds[1]);
		ok(pid > 0 &&
		    ds_write_all(fds[1], rt_stream.p, rt_stream.len) == 0,
		    "io: write_all of %zu bytes to a non-blocking pipe",
		    rt_stream.len);
		close(fds[1]);
		ok(read(res_fds[0], res, sizeof(res)) == (ssize_t)sizeof(res) &&
		    ds_get_le64(res) == rt_stream.len &&
		    ds_get_le32(res + 8) == ds_crc32c(0, rt_stream.p,
		    rt_stream.len), "io: the reader got every byte in order");
		close(res_fds[0]);
		ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0, "io: the reader exited 0");
	} else
		ok(0, "io: pipes");

	/* ds_pipein through a pipe from a writing process. */
	if (pipe(fds) == 0) {
		fflush(stdout);	/* the child must not repeat it */
		if ((pid = fork()) == 0) {
			close(fds[0]);
			_exit(ds_write_all(fds[1], rt_pipe.p, rt_pipe.len)
			    == 0 ? 0 : 1);
		}
		close(fds[1]);
		ds_pipein_init(&in, "stdin", DS_TUPLE_MAX);
		nb = t = 0;
		while ((st = ds_pipein_next(&in, fds[0], &bp)) == 1) {
			nb++;
			t += bp->count;
		}
		ok(st == 0 && nb == 4 && t == 12 + 1 + 1000 + 8,
		    "io: ds_pipein reads the round-trip pipe stream from a pipe "
		    "(%zu bundles, %zu tuples)", nb, t);
		ds_pipein_term(&in);
		close(fds[0]);
		ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0, "io: the writer exited 0");
	} else
		ok(0, "io: pipe");
}

int
main(void)
{
	if ((pool = malloc(POOL)) == NULL) {
		ok(0, "malloc");
		return done();
	}
	known_vectors();
	round_trip();
	truncation();
	bit_flips();
	hostile_headers();
	chunking();
	decode_faults();
	input();
	io_errors();
	ds_buf_free(&one_file);
	ds_buf_free(&three_file);
	ds_buf_free(&rt_stream);
	ds_buf_free(&rt_pipe);
	free(pool);
	return done();
}
