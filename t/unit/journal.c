/*
 * t/unit/journal.c: ds-journal's store (libds/journal.c): segment header
 * vectors, record checks, scanning with every truncation length and every
 * single-bit flip, and whole store runs in a temporary directory: replay,
 * torn tails cut, corruption refused with the file and offset, epochs
 * fenced across restarts, checkpoints, and a corrupt state.tch value.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "ds.h"
#include "store/journal.h"
#include "core/msg.h"
#include "store/slog.h"

static char dir[128];

static void
delta(struct ds_buf *b, const char *k, const char *v)
{
	struct ds_buf p = DS_BUF_INIT;
	unsigned char h[4];

	ds_put_le32(h, (uint32_t)strlen(k));
	ds_buf_add(&p, h, 4);
	ds_buf_add(&p, k, strlen(k));
	ds_put_le32(h, v != NULL ? (uint32_t)strlen(v) : 0xffffffffu);
	ds_buf_add(&p, h, 4);
	if (v != NULL)
		ds_buf_add(&p, v, strlen(v));
	ds_frame_append(b, DS_FRAME_DELTA, 0, p.p, p.len);
	ds_buf_free(&p);
}

static void
mark(struct ds_buf *b, uint64_t n, uint64_t outseq)
{
	unsigned char p[28];

	memset(p, 0, sizeof(p));
	ds_put_le64(p, n);
	ds_put_le64(p + 8, outseq);
	ds_frame_append(b, DS_FRAME_MARK, 0, p, sizeof(p));
}

static void
acked(struct ds_buf *b, uint64_t n)
{
	unsigned char p[8];

	ds_put_le64(p, n);
	ds_frame_append(b, DS_FRAME_ACKED, 0, p, sizeof(p));
}

/* A JWRITE frame: writer, epoch, records (frames) and their count. */
static void
jwrite(struct ds_buf *out, uint64_t w, uint32_t e, const struct ds_buf *r,
    uint32_t n)
{
	struct ds_jwrite_msg m;

	m.writer = w;
	m.epoch = e;
	m.n = n;
	m.recs = r->p;
	m.len = r->len;
	ds_msg_jwrite_put(out, &m);
}

/* Unit i of the standard sequence: set k<i>=v<i>, mark i. */
static void
unit(struct ds_buf *out, uint64_t w, uint32_t e, int i)
{
	struct ds_buf r = DS_BUF_INIT;
	char k[32], v[32];

	snprintf(k, sizeof(k), "k%d", i);
	snprintf(v, sizeof(v), "v%d", i);
	delta(&r, k, v);
	ds_frame_append(&r, DS_FRAME_BUNDLE, 0, v, strlen(v));
	ds_rec_put_timer(&r, "t", 1, (uint64_t)i);
	mark(&r, (uint64_t)i, (uint64_t)i * 10);
	jwrite(out, w, e, &r, 4);
	ds_buf_free(&r);
}

static int ncb;
static int
count_cb(void *arg, const unsigned char *f, size_t len, uint64_t off)
{
	(void)arg;
	(void)f;
	(void)len;
	(void)off;
	ncb++;
	return 0;
}

static void
test_header(void)
{
	unsigned char h[DS_JOURNAL_SEGHDR];
	const char *why;
	uint64_t seq = 0;
	size_t i;
	int b, bad = 0;

	ds_journal_seghdr_pack(h, 7, 123);
	ok(h[0] == 0 && memcmp(h + 1, "DSJ", 3) == 0, "header magic");
	ok(ds_get_le16(h + 4) == 1 && ds_get_le64(h + 8) == 7 &&
	    ds_get_le64(h + 16) == 123, "header fields");
	ok(ds_journal_seghdr_unpack(h, sizeof(h), &seq, &why) == 0 &&
	    seq == 7, "header round trip");
	ok(ds_journal_seghdr_unpack(h, 31, &seq, &why) == -1 &&
	    errno == EBADMSG, "short header refused");
	for (i = 0; i < sizeof(h); i++)
		for (b = 0; b < 8; b++) {
			h[i] ^= (unsigned char)(1 << b);
			if (ds_journal_seghdr_unpack(h, sizeof(h), &seq, &why)
			    == 0)
				bad++;
			h[i] ^= (unsigned char)(1 << b);
		}
	ok(bad == 0, "every single-bit flip of the header is refused");
	ds_put_le16(h + 4, 2);
	ds_put_le32(h + 28, ds_crc32c(0, h, 28));
	ok(ds_journal_seghdr_unpack(h, sizeof(h), &seq, &why) == -1 &&
	    errno == EPROTO, "version 2 refused with EPROTO");
}

static void
test_check(void)
{
	struct ds_buf r = DS_BUF_INIT, f = DS_BUF_INIT;
	struct ds_jwrite_msg m;
	const char *why;
	unsigned char junk[8] = { 1, 2, 3 };

	delta(&r, "a", "1");
	delta(&r, "b", NULL);
	acked(&r, 3);
	mark(&r, 4, 1);
	jwrite(&f, 1, 1, &r, 4);
	ok(ds_msg_jwrite_get(&m, f.p + 16, f.len - 16, &why) == 0 &&
	    m.n == 4 && m.writer == 1, "jwrite decodes");
	ok(ds_journal_check(&m, &why) == 0, "good records pass");
	ds_buf_reset(&f);
	jwrite(&f, 1, 1, &r, 5);
	ok(ds_msg_jwrite_get(&m, f.p + 16, f.len - 16, &why) == -1,
	    "count larger than the records refused");
	ds_buf_reset(&f);
	ds_frame_append(&r, DS_FRAME_DELTA, 0, junk, 8);
	jwrite(&f, 1, 1, &r, 5);
	ok(ds_msg_jwrite_get(&m, f.p + 16, f.len - 16, &why) == 0 &&
	    ds_journal_check(&m, &why) == -1, "bad delta body refused: %s",
	    why ? why : "");
	ds_buf_reset(&r);
	ds_buf_reset(&f);
	ds_frame_append(&r, DS_FRAME_PULL, 0, junk, 8);
	jwrite(&f, 1, 1, &r, 1);
	ok(ds_msg_jwrite_get(&m, f.p + 16, f.len - 16, &why) == 0 &&
	    ds_journal_check(&m, &why) == -1, "foreign record type refused");
	ds_buf_free(&r);
	ds_buf_free(&f);
}

/* A segment image of 3 units; ends[i] = end offset of record i. */
static void
image(struct ds_buf *seg, size_t ends[3])
{
	unsigned char h[DS_JOURNAL_SEGHDR];
	int i;

	ds_buf_reset(seg);
	ds_journal_seghdr_pack(h, 1, 0);
	ds_buf_add(seg, h, sizeof(h));
	for (i = 0; i < 3; i++) {
		unit(seg, 5, 1, i + 1);
		ends[i] = seg->len;
	}
}

static void
test_scan(void)
{
	struct ds_buf seg = DS_BUF_INIT;
	const char *why;
	size_t ends[3], good, badoff, cut, i, want;
	int rc, b, wrong = 0, flips = 0;

	image(&seg, ends);
	ncb = 0;
	ok(ds_journal_scan(seg.p, seg.len, count_cb, NULL, &good, &badoff,
	    &why) == 0 && good == seg.len && ncb == 3, "scan: 3 records");
	for (cut = 0; cut < seg.len; cut++) {
		ncb = 0;
		rc = ds_journal_scan(seg.p, cut, count_cb, NULL, &good, &badoff,
		    &why);
		want = cut < ends[0] ? DS_JOURNAL_SEGHDR : cut < ends[1] ?
		    ends[0] : cut < ends[2] ? ends[1] : ends[2];
		if (cut < DS_JOURNAL_SEGHDR ? rc != -1 :
		    cut == want ? rc != 0 : (rc != 1 || good != want)) {
			if (getenv("DBG"))
				printf("# cut %zu rc %d good %zu want %zu "
				    "bad %zu why %s\n", cut, rc, good, want,
				    badoff, why ? why : "-");
			wrong++;
		}
	}
	ok(wrong == 0, "every truncation length 0..%zu: torn tail cut at "
	    "the last whole record (%d wrong)", seg.len - 1, wrong);
	wrong = 0;
	for (i = DS_JOURNAL_SEGHDR; i < seg.len; i++)
		for (b = 0; b < 8; b++) {
			seg.p[i] ^= (unsigned char)(1 << b);
			rc = ds_journal_scan(seg.p, seg.len, NULL, NULL, &good,
			    &badoff, &why);
			flips++;
			if (i >= ends[1]) {
				/* in the last record: a torn tail */
				if (rc != 1 || good != ends[1])
					wrong++;
			} else if (rc != -1 || badoff != (i < ends[0] ?
			    DS_JOURNAL_SEGHDR : ends[0]))
				wrong++;
			seg.p[i] ^= (unsigned char)(1 << b);
		}
	ok(wrong == 0, "%d single-bit flips: corrupt (with offset) unless in "
	    "the last record (%d wrong)", flips, wrong);
	ds_buf_free(&seg);
}

/*
 * Store runs.
 */

static char errbuf[1024];
static int nwarn;

static void
on_warn(const char *m)
{
	(void)m;
	nwarn++;
}

static struct ds_journal *
jopen(int *code)
{
	*code = 0;
	return ds_journal_open(dir, code, errbuf, sizeof(errbuf), on_warn);
}

static void
rmall(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", dir, dir);
	if (system(cmd) != 0)
		abort();
}

static char *
recovery_text(struct ds_journal *j, uint64_t w)
{
	struct ds_buf b = DS_BUF_INIT;
	char *s;
	size_t n;

	if (ds_journal_recovery(j, w, &b) == -1)
		return NULL;
	/* Byte images compare exactly; DELTA order may differ, so sort
	 * nothing: the tests use one key per recovery or compare sets. */
	s = ds_buf_detach(&b, &n);
	return s != NULL ? s : calloc(1, 1);
}

/* Whether the recovery stream of w contains a DELTA key=val. */
static int
has_delta(struct ds_journal *j, uint64_t w, const char *k, const char *v)
{
	struct ds_buf b = DS_BUF_INIT, d = DS_BUF_INIT;
	int found = 0;

	if (ds_journal_recovery(j, w, &b) == -1)
		return -1;
	delta(&d, k, v);
	if (b.len >= d.len)
		for (size_t i = 0; i + d.len <= b.len; i++)
			if (memcmp(b.p + i, d.p, d.len) == 0)
				found = 1;
	ds_buf_free(&b);
	ds_buf_free(&d);
	return found;
}

static int
apply_unit(struct ds_journal *j, uint64_t w, uint32_t e, int i)
{
	struct ds_buf f = DS_BUF_INIT;
	uint32_t ep;
	int rc;

	unit(&f, w, e, i);
	rc = ds_journal_apply(j, f.p, f.len, &ep);
	ds_buf_free(&f);
	return rc;
}

static void
segpath(char *p, size_t n, int seq)
{
	snprintf(p, n, "%s/journal.%08d", dir, seq);
}

static int
contains(const struct ds_buf *b, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; i + n <= b->len; i++)
		if (memcmp(b->p + i, s, n) == 0)
			return 1;
	return 0;
}

static void
test_store(void)
{
	struct ds_journal *j;
	struct ds_journal_stats st;
	struct stat sb;
	char p[512], *a, *b2;
	uint32_t ep;
	int code, i, wrong;
	off_t full, cut;

	rmall();
	j = jopen(&code);
	ok(j != NULL, "open an empty directory: %s", j ? "" : errbuf);
	if (j == NULL)
		return;
	for (i = 1; i <= 3; i++)
		ok(apply_unit(j, 9, 1, i) == DS_J_OK, "apply unit %d", i);
	ok(ds_journal_queued(j) > 0 && ds_journal_sync(j) == 0 &&
	    ds_journal_queued(j) == 0, "group commit");
	a = recovery_text(j, 9);
	ok(has_delta(j, 9, "k2", "v2") == 1, "recovery has k2");
	ds_journal_close(j);

	j = jopen(&code);
	b2 = j != NULL ? recovery_text(j, 9) : NULL;
	ok(j != NULL && a != NULL && b2 != NULL && strlen(a) == strlen(b2),
	    "replay after close gives the same recovery");
	ok(j != NULL && ds_journal_raise(j, 9, 3, &ep) == DS_J_OK && ep == 3,
	    "raise epoch to 3");
	ok(j != NULL && ds_journal_sync(j) == 0, "sync the raise");
	ds_journal_close(j);
	free(a);
	free(b2);

	j = jopen(&code);
	ok(j != NULL && apply_unit(j, 9, 2, 4) == DS_J_FENCED,
	    "epoch 2 fenced after a restart (epoch 3 persisted)");
	ok(j != NULL && apply_unit(j, 9, 3, 4) == DS_J_OK &&
	    ds_journal_sync(j) == 0, "epoch 3 accepted");
	ds_journal_close(j);

	/* Every truncation inside the last record: torn tail cut. */
	segpath(p, sizeof(p), 1);
	stat(p, &sb);
	full = sb.st_size;
	{
		struct ds_buf f = DS_BUF_INIT;

		unit(&f, 9, 3, 4);
		cut = full - (off_t)f.len;
		ds_buf_free(&f);
	}
	wrong = 0;
	for (off_t t = cut + 1; t < full; t += 7) {
		struct ds_buf copy = DS_BUF_INIT;
		int fd = open(p, O_RDWR);

		if (fd == -1 || ftruncate(fd, t) == -1)
			wrong++;
		close(fd);
		nwarn = 0;
		j = jopen(&code);
		if (j == NULL || nwarn != 1 || has_delta(j, 9, "k4", "v4") != 0
		    || has_delta(j, 9, "k3", "v3") != 1)
			wrong++;
		if (j != NULL) {
			ds_journal_stats(j, &st);
			if (st.torn != 1)
				wrong++;
			/* write unit 4 again so the next cut has it */
			if (apply_unit(j, 9, 3, 4) != DS_J_OK ||
			    ds_journal_sync(j) != 0)
				wrong++;
		}
		ds_journal_close(j);
		ds_buf_free(&copy);
	}
	ok(wrong == 0, "truncations of the last record: cut with one warning, "
	    "earlier records kept (%d wrong)", wrong);

	/* A bit flip in the first record: refused, file and offset named. */
	{
		int fd = open(p, O_RDWR);
		unsigned char c;

		pread(fd, &c, 1, 40);
		c ^= 0x10;
		pwrite(fd, &c, 1, 40);
		close(fd);
	}
	j = jopen(&code);
	ok(j == NULL && code == DS_EX_DATAERR && strstr(errbuf,
	    "journal.00000001") != NULL && strstr(errbuf, "offset 32") !=
	    NULL, "corrupt record refused with 65: %s", errbuf);
	ds_journal_close(j);

	/* Checkpoint, then more, then reopen. */
	rmall();
	j = jopen(&code);
	for (i = 1; i <= 5; i++)
		apply_unit(j, 4, 1, i);
	ok(ds_journal_sync(j) == 0 && ds_journal_checkpoint(j) == 0,
	    "checkpoint");
	segpath(p, sizeof(p), 1);
	ok(access(p, F_OK) == -1, "old segment removed");
	for (i = 6; i <= 7; i++)
		apply_unit(j, 4, 1, i);
	ds_journal_sync(j);
	a = recovery_text(j, 4);
	ds_journal_close(j);
	j = jopen(&code);
	b2 = j != NULL ? recovery_text(j, 4) : NULL;
	ok(j != NULL && a != NULL && b2 != NULL && strlen(a) == strlen(b2) &&
	    has_delta(j, 4, "k1", "v1") == 1 && has_delta(j, 4, "k7", "v7") ==
	    1, "checkpoint + segment replay recover everything");
	ds_journal_stats(j, &st);
	ok(st.segment == 2, "replay starts at segment 2");
	ds_journal_close(j);
	free(a);
	free(b2);

	/* A state.tch value that fails its CRC is named and refused. */
	{
		struct ds_buf f = DS_BUF_INIT, r = DS_BUF_INIT, img = DS_BUF_INIT;
		char tch[512];
		FILE *fp;
		size_t n, k;

		j = jopen(&code);
		delta(&r, "needle", "VALUE-TO-FLIP");
		mark(&r, 100, 0);
		jwrite(&f, 4, 1, &r, 2);
		ds_journal_apply(j, f.p, f.len, &ep);
		ds_journal_sync(j);
		ds_journal_checkpoint(j);
		ds_journal_close(j);
		snprintf(tch, sizeof(tch), "%s/state.tch", dir);
		fp = fopen(tch, "r+b");
		ds_buf_grow(&img, 1 << 22);
		n = fread(img.p, 1, img.cap, fp);
		for (k = 0; k + 13 <= n; k++)
			if (memcmp(img.p + k, "VALUE-TO-FLIP", 13) == 0) {
				img.p[k] ^= 1;
				fseek(fp, (long)k, SEEK_SET);
				fwrite(img.p + k, 1, 1, fp);
				break;
			}
		fclose(fp);
		ok(k + 13 <= n, "found the value in state.tch");
		j = jopen(&code);
		ok(j != NULL && ds_journal_recovery(j, 4, &img) == -1 &&
		    ds_journal_code(j) == DS_EX_DATAERR &&
		    strstr(ds_journal_error(j), "checksum") != NULL,
		    "bad value refused with 65: %s", j ?
		    ds_journal_error(j) : errbuf);
		ds_journal_close(j);
		ds_buf_free(&f);
		ds_buf_free(&r);
		ds_buf_free(&img);
	}

	/* Missing directory. */
	snprintf(p, sizeof(p), "%s/nonexistent", dir);
	j = ds_journal_open(p, &code, errbuf, sizeof(errbuf), NULL);
	ok(j == NULL && code == DS_EX_NOINPUT, "missing directory: 66");
}

/* ACKED drops outputs; pending records after the last MARK are not state. */
static void
test_semantics(void)
{
	struct ds_journal *j;
	struct ds_buf r = DS_BUF_INIT, f = DS_BUF_INIT, out = DS_BUF_INIT;
	uint32_t ep;
	int code;

	rmall();
	j = jopen(&code);
	unit(&f, 2, 1, 1);
	unit(&f, 2, 1, 2);
	ds_journal_apply(j, f.p, f.len - (f.len / 2), &ep);	/* unit 1 */
	ds_journal_apply(j, f.p + f.len / 2, f.len / 2, &ep);	/* unit 2 */
	ds_buf_reset(&f);
	acked(&r, 1);
	delta(&r, "late", "x");
	jwrite(&f, 2, 1, &r, 2);
	ok(ds_journal_apply(j, f.p, f.len, &ep) == DS_J_OK, "acked + pending");
	ds_journal_sync(j);
	ok(has_delta(j, 2, "late", "x") == 0, "a delta after the last mark "
	    "is not recovered");
	ds_journal_recovery(j, 2, &out);
	ok(contains(&out, "v1") && contains(&out, "v2"), "both units' state");
	{
		/* only v2's BUNDLE remains: the frame "v2" after a header */
		int n1 = 0;
		struct ds_frame fr;
		const char *why;
		size_t off = 0;

		while (ds_msg_next(out.p, out.len, &off, &fr, &why) == 1)
			if (fr.type == DS_FRAME_BUNDLE)
				n1 += fr.len == 2 && memcmp(fr.payload, "v2", 2)
				    == 0 ? 1 : 100;
		ok(n1 == 1, "acked outputs dropped, unacked kept");
	}
	ds_buf_reset(&f);
	f.len = 0;
	ds_buf_add(&f, "\0DS\1", 4);
	ok(ds_journal_apply(j, f.p, f.len, &ep) == DS_J_BAD, "garbage: BAD");
	ds_journal_close(j);
	ds_buf_free(&r);
	ds_buf_free(&f);
	ds_buf_free(&out);
}

/* The BUNDLE payloads "vN" in a recovery stream, as a bit set of N. */
static unsigned long
outs_of(const struct ds_buf *out)
{
	struct ds_frame fr;
	const char *why;
	size_t off = 0;
	unsigned long set = 0;

	while (ds_msg_next(out->p, out->len, &off, &fr, &why) == 1)
		if (fr.type == DS_FRAME_BUNDLE && fr.len >= 2 &&
		    fr.payload[0] == 'v')
			set |= 1ul << atoi((const char *)fr.payload + 1);
	return set;
}

/*
 * Many ACKEDs, each dropping a little of a long unacked tail (dropped
 * lazily): recovery, a checkpoint and a reopen all see exactly the
 * unacked outputs.
 */
static void
test_acked_tail(void)
{
	struct ds_journal *j;
	struct ds_buf r = DS_BUF_INIT, f = DS_BUF_INIT, out = DS_BUF_INIT;
	uint32_t ep;
	int code, i;

	rmall();
	j = jopen(&code);
	for (i = 1; i <= 20; i++) {
		ds_buf_reset(&f);
		unit(&f, 7, 1, i);
		ds_journal_apply(j, f.p, f.len, &ep);
	}
	for (i = 1; i <= 13; i += 3) {
		ds_buf_reset(&r);
		ds_buf_reset(&f);
		acked(&r, (uint64_t)i);
		jwrite(&f, 7, 1, &r, 1);
		ds_journal_apply(j, f.p, f.len, &ep);
	}
	ok(ds_journal_sync(j) == 0, "acks synced");
	ds_journal_recovery(j, 7, &out);
	ok(outs_of(&out) == (((1ul << 21) - 1) & ~((1ul << 14) - 1)),
	    "outputs after ACKED 13 only, live");
	ok(ds_journal_checkpoint(j) == 0, "checkpoint");
	ds_journal_recovery(j, 7, &out);
	ok(outs_of(&out) == (((1ul << 21) - 1) & ~((1ul << 14) - 1)),
	    "and after the checkpoint");
	ds_journal_close(j);
	j = jopen(&code);
	ok(j != NULL, "reopen");
	ds_journal_recovery(j, 7, &out);
	ok(outs_of(&out) == (((1ul << 21) - 1) & ~((1ul << 14) - 1)),
	    "and after a reopen");
	ds_journal_close(j);
	ds_buf_free(&r);
	ds_buf_free(&f);
	ds_buf_free(&out);
}

/*
 * I/O shims: a write that stops after `budget` bytes with short_errno,
 * a failing sync.
 */
static long budget;
static int short_errno;

static ssize_t
short_write(int fd, const void *p, size_t n)
{
	if (budget <= 0) {
		errno = short_errno;
		return -1;
	}
	if ((long)n > budget)
		n = (size_t)budget;
	budget -= (long)n;
	return write(fd, p, n);
}

static int
eio_sync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

/* The size of segment seq, or -1. */
static long
segsize(int seq)
{
	struct stat st;
	char p[400];

	segpath(p, sizeof(p), seq);
	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/*
 * A sync that fails is fatal (74) and answers nothing; what reached the
 * file is replayed or cut as a torn tail at the next open, never more.
 * A write that runs out of space is not: the segment is cut back, the
 * queued units are undone in memory too (1: the writers get FULL), and
 * the journal goes on.
 */
static void
test_ioerr(void)
{
	struct ds_journal *j;
	struct ds_journal_stats st;
	struct ds_buf f = DS_BUF_INIT;
	int code, wrong = 0;
	long cut, size;

	rmall();
	j = jopen(&code);
	apply_unit(j, 3, 1, 1);
	ds_journal_sync(j);
	ds_journal_set_io(j, NULL, eio_sync);
	apply_unit(j, 3, 1, 2);
	ok(ds_journal_sync(j) == -1 && errno == EIO &&
	    ds_journal_code(j) == DS_EX_IOERR &&
	    strstr(ds_journal_error(j), "journal.00000001") != NULL,
	    "failed fdatasync: -1, code 74, segment named");
	ds_journal_close(j);
	j = jopen(&code);
	ok(j != NULL && has_delta(j, 3, "k2", "v2") == 1,
	    "a written but unsynced unit may be replayed");
	ds_journal_close(j);

	unit(&f, 3, 1, 3);
	short_errno = EIO;
	for (cut = 0; cut < (long)f.len; cut += 5) {
		j = jopen(&code);
		if (j == NULL) {
			wrong++;
			continue;
		}
		budget = cut;
		ds_journal_set_io(j, short_write, NULL);
		apply_unit(j, 3, 1, 3);
		if (ds_journal_sync(j) != -1 || errno != EIO)
			wrong++;
		ds_journal_close(j);
		nwarn = 0;
		j = jopen(&code);
		if (j == NULL || has_delta(j, 3, "k3", "v3") != 0 ||
		    has_delta(j, 3, "k2", "v2") != 1 || nwarn != (cut > 0))
			wrong++;
		ds_journal_close(j);
	}
	ok(wrong == 0, "a write cut at every 5th byte by EIO: the partial "
	    "unit is cut at the next open, the rest kept (%d wrong)", wrong);

	wrong = 0;
	short_errno = ENOSPC;
	for (cut = 0; cut < 2 * (long)f.len; cut += 7) {
		j = jopen(&code);
		if (j == NULL) {
			wrong++;
			continue;
		}
		size = segsize(1);
		budget = cut;
		ds_journal_set_io(j, short_write, NULL);
		apply_unit(j, 3, 1, 3);
		apply_unit(j, 4, 1, 3);
		if (ds_journal_sync(j) != 1 || errno != ENOSPC ||
		    ds_journal_queued(j) != 0 || segsize(1) != size ||
		    strstr(ds_journal_error(j), "refused") == NULL)
			wrong++;
		/* Memory is as before the two units; writer 4 is gone. */
		ds_journal_stats(j, &st);
		if (has_delta(j, 3, "k3", "v3") != 0 ||
		    has_delta(j, 3, "k2", "v2") != 1 ||
		    ds_journal_known(j, 4) || st.writers != 1)
			wrong++;
		ds_journal_set_io(j, NULL, NULL);
		if (apply_unit(j, 3, 1, 5) != DS_J_OK ||
		    ds_journal_sync(j) != 0 || has_delta(j, 3, "k5", "v5") != 1)
			wrong++;
		ds_journal_close(j);
		nwarn = 0;
		j = jopen(&code);
		if (j == NULL || has_delta(j, 3, "k3", "v3") != 0 ||
		    has_delta(j, 3, "k5", "v5") != 1 || nwarn != 0)
			wrong++;
		ds_journal_close(j);
	}
	ok(wrong == 0, "a write cut at every 7th byte by ENOSPC: 1, the "
	    "segment cut back, nothing applied, the journal goes on, no torn "
	    "tail at the next open (%d wrong)", wrong);

	/* Out of space while a checkpoint runs: it ends first. */
	j = jopen(&code);
	apply_unit(j, 3, 1, 6);
	ds_journal_sync(j);
	ok(ds_journal_ckpt_start(j, NULL, NULL) == 0, "checkpoint started");
	apply_unit(j, 3, 1, 7);
	budget = 0;
	ds_journal_set_io(j, short_write, NULL);
	ok(ds_journal_sync(j) == 1 && !ds_journal_ckpt_busy(j) &&
	    has_delta(j, 3, "k6", "v6") == 1 &&
	    has_delta(j, 3, "k7", "v7") == 0,
	    "ENOSPC during a checkpoint: undone after it, from it");
	ds_journal_set_io(j, NULL, NULL);
	apply_unit(j, 3, 1, 8);
	ok(ds_journal_sync(j) == 0 && ds_journal_ckpt_finish(j) == 0,
	    "and the journal goes on");
	ds_journal_close(j);
	j = jopen(&code);
	ok(j != NULL && has_delta(j, 3, "k6", "v6") == 1 &&
	    has_delta(j, 3, "k7", "v7") == 0 &&
	    has_delta(j, 3, "k8", "v8") == 1, "reopened: the same");
	ds_journal_close(j);
	ds_buf_free(&f);
}

/* The J* messages of msg.h: round trips and length checks. */
static void
test_msg(void)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_jack_msg a = { DS_J_FENCED, 77, 9 }, a2;
	struct ds_jread_msg r = { 5, 2, 100, 4096 }, r2;
	struct ds_jdata_msg d = { 0, 5, 2, 10, 20, 30 }, d2;
	struct ds_frame f;
	const char *why;
	size_t off = 0;

	ds_msg_jack_put(&b, &a);
	ds_msg_jread_put(&b, &r);
	ds_msg_jdata_put(&b, &d);
	ds_rec_put_timer(&b, "key", 3, 1234);
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_JACK && f.len == 16 &&
	    ds_msg_jack_get(&a2, f.payload, f.len, &why) == 0 &&
	    a2.status == 1 && a2.writer == 77 && a2.epoch == 9, "jack");
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_JREAD && f.len == 24 &&
	    ds_msg_jread_get(&r2, f.payload, f.len, &why) == 0 &&
	    r2.writer == 5 && r2.epoch == 2 && r2.max_bytes == 100 &&
	    r2.cursor == 4096, "jread");
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_JDATA && f.len == 40 &&
	    ds_msg_jdata_get(&d2, f.payload, f.len, &why) == 0 &&
	    d2.cursor == 10 && d2.next == 20 && d2.total == 30, "jdata");
	ok(ds_msg_jdata_get(&d2, f.payload, f.len - 1, &why) == -1 &&
	    errno == EBADMSG, "short jdata refused");
	ok(ds_msg_next(b.p, b.len, &off, &f, &why) == 1 &&
	    f.type == DS_FRAME_TIMER && f.len == 15 &&
	    ds_get_le32(f.payload) == 3 &&
	    ds_get_le64(f.payload + 7) == 1234, "timer record layout");
	ds_buf_reset(&b);
	d.cursor = 25;
	ds_msg_jdata_put(&b, &d);
	ok(ds_msg_jdata_get(&d2, b.p + 16, 40, &why) == -1,
	    "jdata with cursor after next refused");
	ds_buf_free(&b);
}

/* Content of path, or "" (static). */
static const char *
slurp(const char *path)
{
	static char b[64];
	ssize_t n;
	int fd;

	b[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return b;
	n = read(fd, b, sizeof(b) - 1);
	b[n > 0 ? n : 0] = '\0';
	close(fd);
	return b;
}

/*
 * No file is opened through a planted link (the open is refused with 74
 * and the file pointed to is untouched); a directory others may write is
 * refused; what the journal creates is 0600.
 */
static void
test_links(void)
{
	static const char *names[] = { "state.tch", "state.tch.wal",
	    "journal.00000001" };
	struct ds_journal *j;
	char victim[200], p[300];
	struct stat st;
	size_t i;
	int code, fd;

	snprintf(victim, sizeof(victim), "%s.victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd >= 0 && write(fd, "precious", 8) == 8, "links: a victim file");
	close(fd);
	rmall();
	j = jopen(&code);
	ok(j != NULL, "links: a new journal");
	ds_journal_close(j);
	snprintf(p, sizeof(p), "%s/state.tch", dir);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "links: state.tch is created 0600");
	snprintf(p, sizeof(p), "%s/journal.00000001", dir);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "links: a segment is created 0600");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rmall();
		if (i == 2)
			ds_journal_close(jopen(&code));
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
		ok(symlink(victim, p) == 0, "links: %s planted", names[i]);
		j = jopen(&code);
		ok(j == NULL && code == DS_EX_IOERR &&
		    strstr(errbuf, "symbolic link") != NULL &&
		    strcmp(slurp(victim), "precious") == 0 &&
		    stat(victim, &st) == 0 && st.st_size == 8,
		    "links: %s refused, nothing written through it: %s",
		    names[i], errbuf);
		ds_journal_close(j);
	}
	rmall();
	chmod(dir, 0777);
	j = jopen(&code);
	ok(j == NULL && code == DS_EX_IOERR &&
	    strstr(errbuf, "writable by group or others") != NULL,
	    "links: a directory others may write is refused: %s", errbuf);
	ds_journal_close(j);
	chmod(dir, 0700);
	unlink(victim);
}

int
main(void)
{
	char cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/ds-journal-unit.%d", (int)getpid());
	test_header();
	test_msg();
	test_check();
	test_scan();
	test_store();
	test_semantics();
	test_acked_tail();
	test_ioerr();
	test_links();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)system(cmd);
	return done();
}
