/*
 * end.c: unit test for the END frame (libds/core/tuple.c ds_end_pack and
 * ds_end_unpack, io.c ds_write_end) and for how ds_pipein ends a pipe
 * stream: whole only with an END that agrees with the bundles before it
 * and nothing after it; cut (65, "stream cut") at every shorter length;
 * refused (65) when the END disagrees or anything follows it.  Known
 * vectors come from t/data (see golden.c).  Run from the repo top.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/frame.h"
#include "core/io.h"
#include "core/pipein.h"
#include "core/tuple.h"
#include "core/wire.h"
#include "golden.h"
#include "tap.h"

/* The END of t/data/empty.frames, written out by hand from ds-wire(5). */
static const unsigned char empty_vec[DS_END_FRAME] = {
	0x00, 'D', 'S', 0x01,			/* magic, version 1 */
	0x12, 0x00, 0x00, 0x00,			/* type 18, END; flags 0 */
	0x1c, 0x00, 0x00, 0x00,			/* length 28 */
	0xb6, 0x06, 0xab, 0xfc,			/* CRC-32C 0xfcab06b6 */
	0, 0, 0, 0, 0, 0, 0, 0,			/* producer 0 */
	0, 0, 0, 0,				/* epoch 0 */
	0, 0, 0, 0, 0, 0, 0, 0,			/* count 0 */
	0, 0, 0, 0, 0, 0, 0, 0			/* last seq 0 */
};
/* Where the frames of t/data/three.frames start; the END is the last. */
static const size_t three_at[] = { 0, 102, 177, 271, 315 };

static struct ds_buf	three = DS_BUF_INIT, empty = DS_BUF_INIT;

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

/* An END frame appended to b. */
static void
add_end(struct ds_buf *b, uint64_t producer, uint32_t epoch, uint64_t count,
    uint64_t last)
{
	struct ds_end e = { producer, epoch, count, last };

	if (ds_buf_grow(b, DS_END_FRAME) == -1)
		return;
	ds_end_pack(b->p + b->len, &e);
	b->len += DS_END_FRAME;
}

/* A bundle of one tuple with this seq appended to b. */
static void
add_bundle(struct ds_buf *b, uint64_t producer, uint32_t epoch, uint64_t seq)
{
	struct ds_bundle_writer w;
	struct ds_tuple t;

	memset(&t, 0, sizeof(t));
	t.seq = seq;
	t.key = (const unsigned char *)"k";
	t.keylen = 1;
	(void)(ds_bundle_begin(&w, b, producer, epoch) == 0 &&
	    ds_bundle_add(&w, &t) == 0 && ds_bundle_end(&w) == 0);
}

static void
codec(void)
{
	struct ds_frame_reader r;
	struct ds_frame f;
	struct ds_end e, max = { UINT64_MAX, UINT32_MAX, UINT64_MAX,
	    UINT64_MAX - 1 };
	unsigned char p[DS_END_FRAME];
	const char *why = NULL;
	struct ds_buf b = DS_BUF_INIT;
	static const unsigned len[] = { 0, 27, 29, 44 };
	size_t i;

	ok(slurp("t/data/three.frames", &three) == 0 &&
	    slurp("t/data/empty.frames", &empty) == 0 &&
	    three.len == three_at[4],
	    "vectors: read t/data/three.frames and empty.frames");
	ok(empty.len == sizeof(empty_vec) &&
	    memcmp(empty.p, empty_vec, sizeof(empty_vec)) == 0,
	    "vectors: empty.frames equals the hand-written END");
	e.producer = e.epoch = e.count = e.last = 0;
	ds_end_pack(p, &e);
	ok(memcmp(p, empty_vec, sizeof(p)) == 0,
	    "vectors: ds_end_pack of 0 tuples produces empty.frames");
	ds_frame_reader_init(&r, 0);
	ds_frame_reader_feed(&r, three.p + three_at[3], DS_END_FRAME);
	ok(ds_frame_reader_next(&r, &f) == 1 && f.type == DS_FRAME_END &&
	    f.type == 18 && f.flags == 0 && f.len == DS_END_LEN &&
	    ds_end_unpack(&e, &f, &why) == 0 && why == NULL &&
	    e.producer == 0 && e.epoch == 0 && e.count == 5 && e.last == 5,
	    "vectors: the END of three.frames is type 18 and says 5 tuples, "
	    "last seq 5");
	ds_frame_reader_term(&r);

	ds_end_pack(p, &max);
	ok(ds_get_le64(p + 16) == UINT64_MAX &&
	    ds_get_le32(p + 24) == UINT32_MAX &&
	    ds_get_le64(p + 28) == UINT64_MAX &&
	    ds_get_le64(p + 36) == UINT64_MAX - 1 &&
	    ds_frame_check(p, p + DS_FRAME_HDR, DS_END_LEN) == 0,
	    "pack: fields at 0, 8, 12, 20 of the payload, little-endian, "
	    "with a valid CRC");
	f.type = DS_FRAME_END;
	f.flags = 0;
	f.len = DS_END_LEN;
	f.payload = p + DS_FRAME_HDR;
	memset(&e, 0, sizeof(e));
	ok(ds_end_unpack(&e, &f, &why) == 0 && e.producer == max.producer &&
	    e.epoch == max.epoch && e.count == max.count &&
	    e.last == max.last, "unpack: round trip of the largest values");

	for (i = 0; i < sizeof(len) / sizeof(len[0]); i++) {
		ds_buf_reset(&b);
		ds_buf_grow(&b, len[i]);
		memset(b.p, 0, len[i]);
		f.len = len[i];
		f.payload = b.p;
		errno = 0;
		why = NULL;
		ok(ds_end_unpack(&e, &f, &why) == -1 && errno == EBADMSG &&
		    why != NULL && strcmp(why, "END payload is not 28 bytes") ==
		    0, "unpack: a payload of %u bytes is EBADMSG", len[i]);
	}
	f.len = DS_END_LEN;
	f.payload = p + DS_FRAME_HDR;
	f.flags = 1;
	errno = 0;
	ok(ds_end_unpack(&e, &f, &why) == -1 && errno == EBADMSG &&
	    strcmp(why, "undefined frame flags set") == 0,
	    "unpack: a flag bit is EBADMSG");
	ds_buf_free(&b);
}

/* A file descriptor reading the given bytes (an unlinked temp file). */
static int
tmpfd(const void *p, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/ds-unit-end-XXXXXX",
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

/*
 * Read p[0..n) with ds_pipein to its end.  Returns its last result and
 * the bundles and tuples it handed out; in is left for the caller.
 */
static int
run(struct ds_pipein *in, const void *p, size_t n, size_t *nb, size_t *nt)
{
	struct ds_bundle *b;
	int fd, rc;

	*nb = *nt = 0;
	ds_pipein_init(in, "stdin", DS_TUPLE_MAX);
	if ((fd = tmpfd(p, n)) == -1)
		return -2;
	while ((rc = ds_pipein_next(in, fd, &b)) == 1) {
		(*nb)++;
		*nt += b->count;
	}
	close(fd);
	return rc;
}

/* ds_pipein over p[0..n) must fail with 65 and exactly msg. */
static void
refused(const char *name, const void *p, size_t n, size_t nbundles,
    const char *msg)
{
	struct ds_pipein in;
	size_t nb, nt;
	int rc;

	rc = run(&in, p, n, &nb, &nt);
	ok(rc == -1 && in.code == DS_EX_DATAERR && nb == nbundles &&
	    strcmp(in.msg, msg) == 0, "%s: 65 after %zu bundles, \"%s\"",
	    name, nb, in.msg);
	ds_pipein_term(&in);
}

static void
whole(void)
{
	struct ds_pipein in;
	size_t nb, nt;
	int rc;

	rc = run(&in, three.p, three.len, &nb, &nt);
	ok(rc == 0 && nb == 3 && nt == 5 && in.ended && in.seen.count == 5 &&
	    in.seen.last == 5, "whole: three.frames is 3 bundles, 5 tuples, "
	    "its END, the end");
	ds_pipein_term(&in);
	rc = run(&in, empty.p, empty.len, &nb, &nt);
	ok(rc == 0 && nb == 0 && in.ended,
	    "whole: empty.frames, the END alone, is an empty stream");
	ds_pipein_term(&in);
}

static void
cuts(void)
{
	struct ds_pipein in;
	size_t k, j, nb, nt, want, bad = 0;
	char pre[64];
	int rc;

	/* Every length short of the whole stream is a cut. */
	for (k = 0; k < three.len; k++) {
		want = 0;
		for (j = 1; j < 4; j++)
			if (three_at[j] <= k)
				want = j;
		rc = run(&in, three.p, k, &nb, &nt);
		snprintf(pre, sizeof(pre), "stdin: stream cut: %s",
		    k == three_at[want] ? "end of input without an END" :
		    k - three_at[want] < DS_FRAME_HDR ?
		    "truncated frame header" : "truncated frame payload");
		if (rc != -1 || in.code != DS_EX_DATAERR || nb != want ||
		    strncmp(in.msg, pre, strlen(pre)) != 0) {
			if (bad++ == 0)
				printf("# length %zu: %d, %zu bundles, %s\n", k,
				    rc, nb, in.msg);
		}
		ds_pipein_term(&in);
	}
	ok(bad == 0, "cut: each of the %zu shorter lengths of three.frames is "
	    "65 \"stream cut\" after the whole bundles (%zu wrong)", three.len,
	    bad);
	refused("cut: a truncated END", three.p, three.len - 1, 3,
	    "stdin: stream cut: truncated frame payload at offset 271, after "
	    "5 tuples (last seq 5)");
	refused("cut: no END", three.p, three_at[3], 3,
	    "stdin: stream cut: end of input without an END frame at offset "
	    "271, after 5 tuples (last seq 5)");
	refused("cut: nothing at all", "", 0, 0,
	    "stdin: stream cut: end of input without an END frame at offset "
	    "0, before any tuple");
}

static void
bad_ends(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_frame_reader r;
	struct ds_frame f;

	ds_buf_add(&b, three.p, three_at[3]);
	add_end(&b, 0, 0, 4, 5);
	refused("END: a count one short", b.p, b.len, 3,
	    "stdin: bad END at offset 271: it says 4 tuples (last seq 5), 5 "
	    "were read (last seq 5)");
	b.len = three_at[3];
	add_end(&b, 0, 0, 6, 6);
	refused("END: one tuple more", b.p, b.len, 3,
	    "stdin: bad END at offset 271: it says 6 tuples (last seq 6), 5 "
	    "were read (last seq 5)");
	b.len = three_at[3];
	add_end(&b, 0, 0, 5, 4);
	refused("END: another last seq", b.p, b.len, 3,
	    "stdin: bad END at offset 271: it says 5 tuples (last seq 4), 5 "
	    "were read (last seq 5)");
	b.len = three_at[3];
	add_end(&b, 7, 0, 5, 5);
	refused("END: another producer", b.p, b.len, 3,
	    "stdin: bad END at offset 271: it closes producer 7 epoch 0, the "
	    "bundles are of producer 0 epoch 0");
	b.len = three_at[3];
	add_end(&b, 0, 2, 5, 5);
	refused("END: another epoch", b.p, b.len, 3,
	    "stdin: bad END at offset 271: it closes producer 0 epoch 2, the "
	    "bundles are of producer 0 epoch 0");
	ds_buf_reset(&b);
	add_bundle(&b, 0, 0, 1);
	add_bundle(&b, 1, 0, 2);
	add_end(&b, 0, 0, 2, 2);
	refused("END: after bundles of two producers", b.p, b.len, 2,
	    "stdin: bad END at offset 116: the bundles before it are of more "
	    "than one producer or epoch");
	ds_buf_reset(&b);
	add_bundle(&b, 3, 9, 1);
	add_end(&b, 3, 9, 1, 1);
	refused("END: nothing wrong, but for the bytes cut off its end", b.p,
	    b.len - 1, 1, "stdin: stream cut: truncated frame payload at "
	    "offset 58, after 1 tuple (last seq 1)");

	/* An END of another length, or with a flag: a bad frame. */
	ds_buf_reset(&b);
	ds_frame_append(&b, DS_FRAME_END, 0, empty_vec + DS_FRAME_HDR,
	    DS_END_LEN - 1);
	refused("END: 27 bytes", b.p, b.len, 0,
	    "stdin: bad frame at offset 0: END payload is not 28 bytes");
	ds_buf_reset(&b);
	ds_frame_append(&b, DS_FRAME_END, 1, empty_vec + DS_FRAME_HDR,
	    DS_END_LEN);
	refused("END: flag bit 0", b.p, b.len, 0,
	    "stdin: bad frame at offset 0: undefined frame flags set");

	/* What follows an END. */
	ds_buf_reset(&b);
	ds_buf_add(&b, three.p, three.len);
	add_bundle(&b, 0, 0, 6);
	refused("after END: a bundle", b.p, b.len, 3,
	    "stdin: bad frame at offset 315: frame after the END frame");
	b.len = three.len;
	add_end(&b, 0, 0, 5, 5);
	refused("after END: a second END", b.p, b.len, 3,
	    "stdin: bad frame at offset 315: frame after the END frame");
	b.len = three.len;
	ds_buf_add(&b, three.p, 10);
	refused("after END: 10 bytes of a frame", b.p, b.len, 3,
	    "stdin: bad frame at offset 315: data after the END frame");
	b.len = three.len;
	ds_buf_add(&b, empty.p, empty.len);
	ds_frame_reader_init(&r, 0);
	ds_frame_reader_feed(&r, b.p, b.len);
	while (ds_frame_reader_next(&r, &f) == 1)
		;
	ok(ds_frame_reader_eof(&r) == 0, "after END: the frame reader alone "
	    "sees nothing wrong with two streams back to back");
	ds_frame_reader_term(&r);
	refused("after END: two streams back to back (cat a b)", b.p, b.len,
	    3, "stdin: bad frame at offset 315: frame after the END frame");
	ds_buf_free(&b);
}

/* A non-blocking pipe: the END, then nothing yet, then the end. */
static void
nonblocking(void)
{
	struct ds_pipein in;
	struct ds_bundle *bp;
	struct ds_end e = { 0, 0, 5, 5 };
	unsigned char got[DS_END_FRAME], want[DS_END_FRAME];
	int fds[2], rc, nb = 0;

	if (pipe(fds) == -1) {
		ok(0, "pipe");
		return;
	}
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	ds_pipein_init(&in, "stdin", DS_TUPLE_MAX);
	ds_write_all(fds[1], three.p, three_at[3]);
	ok(ds_write_end(fds[1], &e) == 0, "io: ds_write_end writes the END");
	while ((rc = ds_pipein_next(&in, fds[0], &bp)) == 1)
		nb++;
	ok(rc == DS_PIPEIN_AGAIN && nb == 3 && in.ended,
	    "nonblocking: after the END, with the pipe still open, AGAIN");
	ds_write_all(fds[1], three.p, 1);
	rc = ds_pipein_next(&in, fds[0], &bp);
	ok(rc == DS_PIPEIN_AGAIN, "nonblocking: a byte after the END is "
	    "not refused before it is known to be more than a byte");
	close(fds[1]);
	rc = ds_pipein_next(&in, fds[0], &bp);
	ok(rc == -1 && in.code == DS_EX_DATAERR && strcmp(in.msg,
	    "stdin: bad frame at offset 315: data after the END frame") == 0,
	    "nonblocking: ... and at the end of input it is \"%s\"", in.msg);
	close(fds[0]);
	ds_pipein_term(&in);

	if (pipe(fds) == -1) {
		ok(0, "pipe");
		return;
	}
	ok(ds_write_end(fds[1], &e) == 0 && read(fds[0], got, sizeof(got)) ==
	    (ssize_t)sizeof(got), "io: ds_write_end writes %d bytes",
	    DS_END_FRAME);
	ds_end_pack(want, &e);
	ok(memcmp(got, want, sizeof(got)) == 0 &&
	    memcmp(got, three.p + three_at[3], sizeof(got)) == 0,
	    "io: ... exactly ds_end_pack's, here the END of three.frames");
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	codec();
	whole();
	cuts();
	bad_ends();
	nonblocking();
	ds_buf_free(&three);
	ds_buf_free(&empty);
	return done();
}
