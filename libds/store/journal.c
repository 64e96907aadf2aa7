/*
 * journal.c: ds-journal's store (journal.h, ds-journal(5)).  Invariants:
 * memory = state.tch as of the checkpoint + every JWRITE of the segments
 * from the checkpoint's segment on, in order; a record is applied to memory
 * only after it was checked whole; state.tch changes only inside a
 * transaction and every value in it carries its CRC-32C, checked on read.
 * With tcstore.c (ds-sink --tc) and tcfile.c the only includer of Tokyo
 * Cabinet.  The directory must be private (core/dir.h) and every file in
 * it is opened through it without following a link: a link (or anything
 * but a regular file) where a segment or state.tch should be is refused.
 * Never prints, never exits.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tcutil.h>
#include <tchdb.h>

#include "core/crc32c.h"
#include "core/dir.h"
#include "core/exit.h"
#include "core/frame.h"
#include "store/journal.h"
#include "store/tcfile.h"
#include "core/msg.h"
#include "core/rec.h"
#include "core/state.h"
#include "core/wire.h"

#define SEGNAME		"journal.%08llu"
#define SHRINK_STEP	(8 << 20)	/* bytes freed at a time (shrink) */

struct writer {
	uint64_t	 id;
	uint32_t	 epoch;
	uint64_t	 acked;
	struct ds_buf	 mark;		/* last MARK frame, whole */
	struct ds_buf	 pend;		/* frames after the last MARK */
	struct ds_buf	 outs;		/* [mark:u64][BUNDLE frame]..., unacked */
	size_t		 outskip;	/* outs bytes acked, not yet dropped */
	struct ds_state	 timers;	/* key -> when:u64 (LE) */
};

struct ds_journal {
	char		*dir;
	int		 dirfd;
	TCHDB		*db;
	int		 segfd;
	uint64_t	 seg;		/* current segment number */
	uint64_t	 segsize;
	struct ds_buf	 q;		/* queued JWRITE frames */
	struct writer	**w;		/* sorted by id */
	size_t		 nw, capw;
	struct ds_state	 ov;		/* writer:u64 key -> tag val */
	struct ds_journal_stats st;
	int		 code;
	char		 err[512];
	/* A checkpoint in progress (ckpt_thread). */
	pthread_t	 ck_th;
	int		 ck_running, ck_joinable, ck_rc, ck_ecode;
	struct ds_state	 ck_ov;		/* the overlay being written */
	struct ds_buf	 ck_blobs, ck_dir;
	uint64_t	 ck_seg, ck_old;
	void		(*ck_notify)(void *);
	void		*ck_arg;
	ssize_t		(*io_write)(int, const void *, size_t);
	int		(*io_sync)(int);
};

__attribute__((format(printf, 3, 4)))
static int
fail(struct ds_journal *j, int code, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(j->err, sizeof(j->err), fmt, ap);
	va_end(ap);
	j->code = code;
	errno = saved;
	return -1;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
bad(const char **why, const char *w)
{
	*why = w;
	errno = EBADMSG;
	return -1;
}

/*
 * Segment header and scanning.
 */

void
ds_journal_seghdr_pack(unsigned char *p, uint64_t seq, uint64_t ns)
{
	memset(p, 0, DS_JOURNAL_SEGHDR);
	p[0] = 0;
	p[1] = 'D';
	p[2] = 'S';
	p[3] = 'J';
	ds_put_le16(p + 4, DS_JOURNAL_VERSION);
	ds_put_le16(p + 6, 0);
	ds_put_le64(p + 8, seq);
	ds_put_le64(p + 16, ns);
	ds_put_le32(p + 24, 0);
	ds_put_le32(p + 28, ds_crc32c(0, p, 28));
}

int
ds_journal_seghdr_unpack(const unsigned char *p, size_t len, uint64_t *seq,
    const char **why)
{
	if (len < DS_JOURNAL_SEGHDR)
		return bad(why, "segment header truncated");
	if (p[0] != 0 || p[1] != 'D' || p[2] != 'S' || p[3] != 'J')
		return bad(why, "bad segment magic");
	if (ds_get_le32(p + 28) != ds_crc32c(0, p, 28))
		return bad(why, "segment header checksum mismatch");
	if (ds_get_le16(p + 4) != DS_JOURNAL_VERSION) {
		*why = "unsupported segment version";
		errno = EPROTO;
		return -1;
	}
	if (ds_get_le16(p + 6) != 0)
		return bad(why, "undefined segment flags set");
	*seq = ds_get_le64(p + 8);
	return 0;
}

int
ds_journal_check(const struct ds_jwrite_msg *m, const char **why)
{
	struct ds_frame f;
	size_t off = 0;
	int rc;

	while ((rc = ds_msg_next(m->recs, m->len, &off, &f, why)) == 1) {
		rc = f.type == DS_FRAME_BUNDLE ? 0 : ds_rec_check(&f, why);
		if (rc == -1)
			return -1;
	}
	return rc;
}

/* Check one whole JWRITE or JREAD (epoch raise) record at p. */
static int
check_frame(const unsigned char *p, size_t left, size_t *flen,
    const char **why)
{
	struct ds_jwrite_msg m;
	struct ds_jread_msg r;
	struct ds_frame f;
	size_t off = 0;

	if (ds_msg_next(p, left, &off, &f, why) != 1)
		return -1;
	if (f.type == DS_FRAME_JREAD) {
		if (ds_msg_jread_get(&r, f.payload, f.len, why) == -1)
			return -1;
	} else if (f.type != DS_FRAME_JWRITE)
		return bad(why, "not a JWRITE or JREAD record");
	else if (ds_msg_jwrite_get(&m, f.payload, f.len, why) == -1 ||
	    ds_journal_check(&m, why) == -1)
		return -1;
	*flen = off;
	return 0;
}

/*
 * Whether a whole good record (a JWRITE or JREAD passing every check)
 * starts after off.  Records nested in a JWRITE are not records, so a
 * torn JWRITE's own complete DELTAs do not count.
 */
static int
good_after(const unsigned char *p, size_t len, size_t off)
{
	const char *why;
	size_t o, flen;

	for (o = off + 1; o + DS_FRAME_HDR <= len; o++) {
		if (p[o] != 0 || p[o + 1] != 'D' || p[o + 2] != 'S')
			continue;
		if (check_frame(p + o, len - o, &flen, &why) == 0)
			return 1;
	}
	return 0;
}

int
ds_journal_scan(const unsigned char *p, size_t len,
    int (*fn)(void *, const unsigned char *, size_t, uint64_t), void *arg,
    size_t *good, size_t *badoff, const char **why)
{
	struct ds_frame f;
	const char *w2;
	uint64_t seq;
	size_t off, flen, k;

	*good = 0;
	*badoff = 0;
	*why = NULL;
	if (ds_journal_seghdr_unpack(p, len, &seq, why) == -1)
		return -1;
	for (off = DS_JOURNAL_SEGHDR; off < len; off += flen)
		if (check_frame(p + off, len - off, &flen, why) == -1)
			break;
	*good = off;
	if (off < len) {
		k = 0;
		/* A whole frame with a good CRC is no torn write. */
		if (ds_msg_next(p + off, len - off, &k, &f, &w2) == 1 ||
		    good_after(p, len, off)) {
			*badoff = off;
			errno = EBADMSG;
			return -1;
		}
	}
	if (fn != NULL)
		for (off = DS_JOURNAL_SEGHDR; off < *good; off += flen) {
			(void)check_frame(p + off, *good - off, &flen, why);
			if (fn(arg, p + off, flen, off) == -1) {
				*badoff = off;
				return -1;
			}
		}
	*why = off < len ? "torn tail" : NULL;
	return *good < len ? 1 : 0;
}

/*
 * Writers and the in-memory state.
 */

static struct writer *
writer_find(const struct ds_journal *j, uint64_t id, size_t *at)
{
	size_t lo = 0, hi = j->nw, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (j->w[mid]->id == id) {
			*at = mid;
			return j->w[mid];
		}
		if (j->w[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return NULL;
}

static struct writer *
writer_get(struct ds_journal *j, uint64_t id)
{
	struct writer *w, **nw;
	size_t at;

	if ((w = writer_find(j, id, &at)) != NULL)
		return w;
	if (j->nw == j->capw) {
		if ((nw = realloc(j->w, (j->capw ? j->capw * 2 : 16) *
		    sizeof(*nw))) == NULL)
			return NULL;
		j->w = nw;
		j->capw = j->capw ? j->capw * 2 : 16;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->id = id;
	ds_state_init(&w->timers);
	memmove(j->w + at + 1, j->w + at, (j->nw - at) * sizeof(*j->w));
	j->w[at] = w;
	j->nw++;
	j->st.writers = j->nw;
	return w;
}

static void
writer_free(struct writer *w)
{
	ds_buf_free(&w->mark);
	ds_buf_free(&w->pend);
	ds_buf_free(&w->outs);
	ds_state_term(&w->timers);
	free(w);
}

/* Overlay key: writer:u64 then the key bytes, in scratch. */
static int
ovkey(struct ds_buf *k, uint64_t writer, const void *key, size_t klen)
{
	unsigned char p[8];

	ds_buf_reset(k);
	ds_put_le64(p, writer);
	return ds_buf_add(k, p, 8) == -1 || ds_buf_add(k, key, klen) == -1 ?
	    -1 : 0;
}

static int
apply_delta(struct ds_journal *j, uint64_t writer, const struct ds_rec *r)
{
	struct ds_buf k = DS_BUF_INIT, v = DS_BUF_INIT;
	int rc = -1;

	if (ovkey(&k, writer, r->key, r->keylen) == -1 ||
	    ds_buf_addc(&v, r->val == NULL ? 0 : 1) == -1 ||
	    (r->val != NULL && ds_buf_add(&v, r->val, r->vallen) == -1))
		goto out;
	rc = ds_state_store(&j->ov, k.p, k.len, v.p, v.len);
out:
	ds_buf_free(&k);
	ds_buf_free(&v);
	return rc;
}

static int
apply_timer(struct writer *w, const struct ds_rec *r)
{
	unsigned char v[8];

	if (r->when == DS_REC_CANCEL) {
		ds_state_remove(&w->timers, r->key, r->keylen);
		return 0;
	}
	ds_put_le64(v, r->when);
	return ds_state_store(&w->timers, r->key, r->keylen, v, 8);
}

/* A MARK closes the pending records: state, timers, outputs. */
static int
close_mark(struct ds_journal *j, struct writer *w, const unsigned char *mf,
    size_t mlen)
{
	struct ds_frame f;
	struct ds_rec r;
	const char *why;
	unsigned char mk[8];
	uint64_t mark = ds_get_le64(mf + DS_FRAME_HDR);
	size_t off = 0, at;
	int rc = 0;

	while (rc == 0 && ds_msg_next(w->pend.p, w->pend.len, &off, &f,
	    &why) == 1) {
		at = off - DS_FRAME_HDR - f.len;
		switch (f.type) {
		case DS_FRAME_DELTA:
			rc = ds_rec_get(&f, &r, NULL, &why) == -1 ? -1 :
			    apply_delta(j, w->id, &r);
			break;
		case DS_FRAME_TIMER:
			rc = ds_rec_get(&f, &r, NULL, &why) == -1 ? -1 :
			    apply_timer(w, &r);
			break;
		case DS_FRAME_BUNDLE:
			ds_put_le64(mk, mark);
			rc = ds_buf_add(&w->outs, mk, 8) == -1 ||
			    ds_buf_add(&w->outs, w->pend.p + at,
			    DS_FRAME_HDR + f.len) == -1 ? -1 : 0;
			break;
		}
	}
	ds_buf_reset(&w->pend);
	ds_buf_reset(&w->mark);
	if (rc == 0)
		rc = ds_buf_add(&w->mark, mf, mlen);
	return rc;
}

static void
drop_acked(struct writer *w, uint64_t acked)
{
	size_t off = w->outskip;

	while (off + 8 + DS_FRAME_HDR <= w->outs.len &&
	    ds_get_le64(w->outs.p + off) <= acked)
		off += 8 + DS_FRAME_HDR +
		    ds_get_le32(w->outs.p + off + 8 + 8);
	/*
	 * Acks come often and the unacked tail may be long: move it down
	 * only once the acked head is at least as long (amortized O(1)).
	 */
	w->outskip = off;
	if (off * 2 >= w->outs.len) {
		ds_buf_consume(&w->outs, off);
		w->outskip = 0;
	}
	if (acked > w->acked)
		w->acked = acked;
}

/* Apply a checked JWRITE to memory (live or during recovery). */
static int
apply(struct ds_journal *j, const struct ds_jwrite_msg *m)
{
	struct writer *w;
	struct ds_frame f;
	const char *why;
	size_t off = 0, at;
	int rc = 0;

	if ((w = writer_get(j, m->writer)) == NULL)
		return -1;
	if (m->epoch > w->epoch) {
		w->epoch = m->epoch;
		ds_buf_reset(&w->pend);
	}
	while (rc == 0 && ds_msg_next(m->recs, m->len, &off, &f, &why) == 1) {
		at = off - DS_FRAME_HDR - f.len;
		switch (f.type) {
		case DS_FRAME_MARK:
			rc = close_mark(j, w, m->recs + at,
			    DS_FRAME_HDR + f.len);
			break;
		case DS_FRAME_ACKED:
			drop_acked(w, ds_get_le64(f.payload));
			break;
		default:
			rc = ds_buf_add(&w->pend, m->recs + at,
			    DS_FRAME_HDR + f.len);
		}
	}
	j->st.records += m->n;
	return rc;
}

/*
 * Tokyo Cabinet: every value is crc32c:u32 then the bytes.  Keys: 'K'
 * writer key (state), 'W' writer (writer blob), 'D' (writer directory),
 * 'C' (first segment after the checkpoint).
 */

static int
tc_put(struct ds_journal *j, const void *k, size_t kl, const void *v,
    size_t vl)
{
	unsigned char *b;
	bool ok;

	if ((b = malloc(vl + 4)) == NULL)
		return -1;
	ds_put_le32(b, ds_crc32c(0, v, vl));
	if (vl > 0)
		memcpy(b + 4, v, vl);
	ok = tchdbput(j->db, k, (int)kl, b, (int)(vl + 4));
	free(b);
	return ok ? 0 : -1;
}

static void
hexkey(char *out, size_t outlen, const unsigned char *k, size_t kl)
{
	size_t i, o = 0;

	for (i = 0; i < kl && o + 3 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", k[i]);
	out[o] = '\0';
}

/*
 * Check a TC value (crc + bytes) in place: 0 and (*v, *vl) pointing
 * after the CRC, or -1 (corrupt: j->err names the key, code 65).
 */
static int
tc_check(struct ds_journal *j, const unsigned char *k, size_t kl,
    const unsigned char *b, int bl, const unsigned char **v, size_t *vl)
{
	char hk[128];

	if (bl < 4 || ds_get_le32(b) != ds_crc32c(0, b + 4, (size_t)bl - 4)) {
		hexkey(hk, sizeof(hk), k, kl);
		errno = EBADMSG;
		return fail(j, DS_EX_DATAERR, "%s/state.tch: value of key "
		    "%s fails its checksum", j->dir, hk);
	}
	*v = b + 4;
	*vl = (size_t)bl - 4;
	return 0;
}

/* Get a value: 1 and *out (malloc'ed, caller frees), 0 if none, -1. */
static int
tc_get(struct ds_journal *j, const unsigned char *k, size_t kl,
    struct ds_buf *out)
{
	const unsigned char *v;
	unsigned char *b;
	size_t vl;
	int bl;

	if ((b = tchdbget(j->db, k, (int)kl, &bl)) == NULL)
		return tchdbecode(j->db) == TCENOREC ? 0 :
		    fail(j, DS_EX_IOERR, "%s/state.tch: unable to read: %s",
		    j->dir, tchdberrmsg(tchdbecode(j->db)));
	if (tc_check(j, k, kl, b, bl, &v, &vl) == -1) {
		free(b);
		return -1;
	}
	ds_buf_reset(out);
	if (ds_buf_add(out, v, vl) == -1) {
		free(b);
		return -1;
	}
	free(b);
	return 1;
}

static int
blob_add(struct ds_buf *b, const struct ds_buf *part)
{
	unsigned char p[4];

	ds_put_le32(p, (uint32_t)part->len);
	return ds_buf_add(b, p, 4) == -1 || ds_buf_add(b, part->p,
	    part->len) == -1 ? -1 : 0;
}

/* The writer blob: epoch:u32 acked:u64, then mark, pend, timers, outs. */
static int
writer_blob(const struct writer *w, struct ds_buf *b)
{
	struct ds_buf t = DS_BUF_INIT, outs;
	struct ds_state_rec *r;
	unsigned char p[12];
	size_t it = 0;
	int rc = -1;

	outs = w->outs;		/* a view of the unacked part */
	outs.p += w->outskip;
	outs.len -= w->outskip;

	while ((r = ds_state_next(&w->timers, &it)) != NULL)
		if (r->hasval && ds_rec_put_timer(&t, r->key, r->klen,
		    ds_get_le64(r->val)) == -1)
			goto out;
	ds_buf_reset(b);
	ds_put_le32(p, w->epoch);
	ds_put_le64(p + 4, w->acked);
	if (ds_buf_add(b, p, 12) == -1 || blob_add(b, &w->mark) == -1 ||
	    blob_add(b, &w->pend) == -1 || blob_add(b, &t) == -1 ||
	    blob_add(b, &outs) == -1)
		goto out;
	rc = 0;
out:
	ds_buf_free(&t);
	return rc;
}

static int
blob_part(const unsigned char **p, size_t *left, struct ds_buf *into)
{
	uint32_t n;

	if (*left < 4)
		return -1;
	n = ds_get_le32(*p);
	if (n > *left - 4)
		return -1;
	ds_buf_reset(into);
	if (ds_buf_add(into, *p + 4, n) == -1)
		return -1;
	*p += 4 + n;
	*left -= 4 + n;
	return 0;
}

static int
writer_load(struct ds_journal *j, uint64_t id)
{
	struct ds_buf v = DS_BUF_INIT, t = DS_BUF_INIT;
	unsigned char k[9];
	const unsigned char *p;
	struct ds_frame f;
	struct ds_rec r;
	const char *why;
	struct writer *w;
	size_t left, off = 0;
	int rc;

	k[0] = 'W';
	ds_put_le64(k + 1, id);
	if ((rc = tc_get(j, k, 9, &v)) != 1) {
		ds_buf_free(&v);
		return rc == 0 ? fail(j, DS_EX_DATAERR, "%s/state.tch: "
		    "writer %llu listed but missing", j->dir,
		    (unsigned long long)id) : -1;
	}
	if ((w = writer_get(j, id)) == NULL)
		goto nomem;
	p = v.p;
	left = v.len;
	rc = -1;
	if (left >= 12) {
		w->epoch = ds_get_le32(p);
		w->acked = ds_get_le64(p + 4);
		p += 12;
		left -= 12;
		if (blob_part(&p, &left, &w->mark) == 0 &&
		    blob_part(&p, &left, &w->pend) == 0 &&
		    blob_part(&p, &left, &t) == 0 &&
		    blob_part(&p, &left, &w->outs) == 0 && left == 0)
			rc = 0;
	}
	while (rc == 0 && ds_msg_next(t.p, t.len, &off, &f, &why) == 1)
		rc = f.type != DS_FRAME_TIMER ||
		    ds_rec_get(&f, &r, NULL, &why) == -1 ? -1 :
		    apply_timer(w, &r);
	ds_buf_free(&v);
	ds_buf_free(&t);
	if (rc == -1)
		return fail(j, DS_EX_DATAERR, "%s/state.tch: writer %llu: "
		    "bad record", j->dir, (unsigned long long)id);
	return 0;
nomem:
	ds_buf_free(&v);
	return fail(j, DS_EX_OSERR, "out of memory");
}

/*
 * Segments.
 */

static int
seg_create(struct ds_journal *j, uint64_t seq)
{
	unsigned char h[DS_JOURNAL_SEGHDR];
	struct timespec ts;
	char name[64];
	int fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	ds_journal_seghdr_pack(h, seq, (uint64_t)ts.tv_sec * 1000000000u +
	    (uint64_t)ts.tv_nsec);
	snprintf(name, sizeof(name), SEGNAME, (unsigned long long)seq);
	if ((fd = ds_dir_openat(j->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_APPEND)) == -1)
		return fail(j, errno == ELOOP || errno == EINVAL ? DS_EX_IOERR :
		    DS_JOURNAL_EX_CANTCREAT, "unable to create %s/%s: %s",
		    j->dir, name, ds_dir_strerror(errno));
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    fdatasync(fd) == -1 || fsync(j->dirfd) == -1) {
		if (errno == 0)
			errno = EIO;
		fail(j, DS_EX_IOERR, "unable to write %s/%s: %s", j->dir,
		    name, strerror(errno));
		close(fd);
		return -1;
	}
	if (j->segfd != -1)
		close(j->segfd);
	j->segfd = fd;
	j->seg = seq;
	j->segsize = sizeof(h);
	j->st.segment = seq;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segment numbers in dir, sorted; *n of them (malloc'ed). */
static uint64_t *
seg_list(struct ds_journal *j, size_t *n)
{
	DIR *d;
	struct dirent *e;
	uint64_t *v = NULL, *nv, s;
	size_t cap = 0;
	char *end;
	int fd;

	*n = 0;
	if ((fd = dup(j->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		fail(j, DS_EX_IOERR, "unable to list %s: %s", j->dir,
		    strerror(errno));
		return NULL;
	}
	rewinddir(d);	/* the dup shares dirfd's offset: list it again */
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "journal.", 8) != 0 ||
		    strlen(e->d_name) != 16)
			continue;
		errno = 0;
		s = strtoull(e->d_name + 8, &end, 10);
		if (*end != '\0' || errno != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				fail(j, DS_EX_OSERR, "out of memory");
				return NULL;
			}
			v = nv;
		}
		v[(*n)++] = s;
	}
	closedir(d);
	if (v == NULL && (v = malloc(sizeof(*v))) == NULL)
		fail(j, DS_EX_OSERR, "out of memory");
	else
		qsort(v, *n, sizeof(*v), cmp_u64);
	return v;
}

static int
raise_epoch(struct ds_journal *j, uint64_t writer, uint32_t epoch)
{
	struct writer *w;

	if ((w = writer_get(j, writer)) == NULL)
		return -1;
	/* A recovering reader restarts after its last MARK. */
	if (epoch > w->epoch)
		w->epoch = epoch;
	ds_buf_reset(&w->pend);
	return 0;
}

static int
replay_one(void *arg, const unsigned char *fr, size_t flen, uint64_t off)
{
	struct ds_journal *j = arg;
	struct ds_jwrite_msg m;
	struct ds_jread_msg r;
	const char *why;

	(void)off;
	if (ds_get_le16(fr + 4) == DS_FRAME_JREAD) {
		if (ds_msg_jread_get(&r, fr + DS_FRAME_HDR, flen -
		    DS_FRAME_HDR, &why) == -1)
			return -1;
		return raise_epoch(j, r.writer, r.epoch);
	}
	if (ds_msg_jwrite_get(&m, fr + DS_FRAME_HDR, flen - DS_FRAME_HDR,
	    &why) == -1)
		return -1;
	return apply(j, &m);
}

static int
read_file(int dirfd, const char *name, struct ds_buf *b)
{
	struct stat st;
	ssize_t n;
	int fd;

	ds_buf_reset(b);
	if ((fd = ds_dir_openat(dirfd, name, O_RDONLY)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || ds_buf_grow(b, (size_t)st.st_size + 1)
	    == -1)
		goto fail;
	for (;;) {
		if (ds_buf_grow(b, 65536) == -1)
			goto fail;
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/* Replay segment seq; last: a torn tail may be cut. */
static int
seg_replay(struct ds_journal *j, uint64_t seq, int last,
    void (*warn)(const char *))
{
	struct ds_buf b = DS_BUF_INIT;
	char name[64], msg[600];
	const char *why;
	size_t good, badoff;
	uint64_t hseq;
	int rc, fd;

	snprintf(name, sizeof(name), SEGNAME, (unsigned long long)seq);
	if (read_file(j->dirfd, name, &b) == -1) {
		ds_buf_free(&b);
		return fail(j, DS_EX_IOERR, "unable to read %s/%s: %s",
		    j->dir, name, ds_dir_strerror(errno));
	}
	if (last && b.len < DS_JOURNAL_SEGHDR) {
		/* Died while creating it: nothing was ever acknowledged. */
		snprintf(msg, sizeof(msg), "%s/%s: torn segment header "
		    "(%zu bytes) rewritten", j->dir, name, b.len);
		ds_buf_free(&b);
		if (warn != NULL)
			warn(msg);
		j->st.torn++;
		return seg_create(j, seq);
	}
	if ((rc = ds_journal_seghdr_unpack(b.p, b.len, &hseq, &why)) == -1 ||
	    hseq != seq) {
		ds_buf_free(&b);
		if (rc == 0) {
			errno = EBADMSG;
			why = "segment number does not match its name";
		}
		return fail(j, errno == EPROTO ? DS_EX_PROTOCOL :
		    DS_EX_DATAERR, "%s/%s: offset 0: %s", j->dir, name, why);
	}
	rc = ds_journal_scan(b.p, b.len, replay_one, j, &good, &badoff, &why);
	if (rc == -1) {
		ds_buf_free(&b);
		if (why == NULL)
			return fail(j, DS_EX_OSERR, "out of memory");
		return fail(j, DS_EX_DATAERR, "%s/%s: offset %zu: corrupt "
		    "record (%s) followed by good ones: refusing to start",
		    j->dir, name, badoff, why);
	}
	if (rc == 1 && !last) {
		ds_buf_free(&b);
		return fail(j, DS_EX_DATAERR, "%s/%s: offset %zu: bad record "
		    "at the end of a closed segment", j->dir, name, good);
	}
	fd = -1;
	if ((fd = ds_dir_openat(j->dirfd, name, O_WRONLY | O_APPEND)) == -1 ||
	    (rc == 1 && (ftruncate(fd, (off_t)good) == -1 ||
	    fdatasync(fd) == -1))) {
		ds_buf_free(&b);
		if (fd != -1)
			close(fd);
		return fail(j, DS_EX_IOERR, "unable to open %s/%s: %s",
		    j->dir, name, ds_dir_strerror(errno));
	}
	if (rc == 1) {
		snprintf(msg, sizeof(msg), "%s/%s: torn tail cut at offset "
		    "%zu (%zu bytes dropped)", j->dir, name, good,
		    b.len - good);
		if (warn != NULL)
			warn(msg);
		j->st.torn++;
	}
	if (j->segfd != -1)
		close(j->segfd);
	j->segfd = fd;
	j->seg = seq;
	j->segsize = good;
	j->st.segment = seq;
	j->st.since_ckpt += good - DS_JOURNAL_SEGHDR;
	ds_buf_free(&b);
	return 0;
}

/* state.tch, never through a link (store/tcfile.h). */
static int
tc_open(struct ds_journal *j)
{
	char path[4096];
	struct stat st;
	int ec, wal;

	snprintf(path, sizeof(path), "%s/state.tch", j->dir);
	if (ds_tcfile_check(j->dirfd, "state.tch", 0600, &st, &wal) == -1)
		return fail(j, errno == ELOOP || errno == EINVAL ?
		    DS_EX_IOERR : DS_JOURNAL_EX_CANTCREAT, "unable to open "
		    "%s%s: %s", path, wal ? ".wal" : "",
		    ds_dir_strerror(errno));
	if ((j->db = tchdbnew()) == NULL)
		return fail(j, DS_EX_OSERR, "out of memory");
	(void)tchdbtune(j->db, 1 << 17, -1, -1, HDBTLARGE);
	if (tchdbopen(j->db, path, HDBOWRITER | HDBOCREAT | HDBOLCKNB |
	    HDBOTSYNC)) {
		if (ds_tcfile_same(j->db, j->dirfd, "state.tch", &st) == 0)
			return 0;
		(void)tchdbclose(j->db);
		tchdbdel(j->db);
		j->db = NULL;
		return fail(j, DS_EX_IOERR, "unable to open %s: %s", path,
		    ds_dir_strerror(ELOOP));
	}
	ec = tchdbecode(j->db);
	tchdbdel(j->db);
	j->db = NULL;
	if (ec == TCELOCK || (ec == TCEOPEN && errno == EWOULDBLOCK))
		return fail(j, DS_EX_UNAVAILABLE, "another ds-journal holds "
		    "%s (state.tch is locked; a stopped ds-journal keeps its "
		    "lock until it is killed)", j->dir);
	if (ec == TCENOPERM || ec == TCENOFILE || ec == TCEOPEN)
		return fail(j, DS_JOURNAL_EX_CANTCREAT, "unable to open "
		    "%s: %s", path, tchdberrmsg(ec));
	if (ec == TCEMETA || ec == TCERHEAD || ec == TCEINVALID)
		return fail(j, DS_EX_DATAERR, "%s: corrupt database: %s",
		    path, tchdberrmsg(ec));
	return fail(j, DS_EX_IOERR, "unable to open %s: %s", path,
	    tchdberrmsg(ec));
}

/*
 * Memory from disk: the writers of the checkpoint in state.tch, then
 * every segment from the checkpoint's on, replayed (older ones are
 * removed); the last one, or a new one, is the live segment.
 */
static int
load(struct ds_journal *j, void (*warn)(const char *))
{
	struct ds_buf v = DS_BUF_INIT;
	uint64_t ck = 1, *segs = NULL;
	unsigned char k = 'D', kc = 'C';
	char name[64];
	size_t n = 0, i;
	int rc;

	if ((rc = tc_get(j, &kc, 1, &v)) == -1)
		goto fail;
	if (rc == 1 && v.len == 8)
		ck = ds_get_le64(v.p);
	else if (rc == 1) {
		fail(j, DS_EX_DATAERR, "%s/state.tch: bad checkpoint record",
		    j->dir);
		goto fail;
	}
	if ((rc = tc_get(j, &k, 1, &v)) == -1)
		goto fail;
	for (i = 0; rc == 1 && i + 8 <= v.len; i += 8)
		if (writer_load(j, ds_get_le64(v.p + i)) == -1)
			goto fail;
	if ((segs = seg_list(j, &n)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (segs[i] < ck) {
			snprintf(name, sizeof(name), SEGNAME,
			    (unsigned long long)segs[i]);
			(void)unlinkat(j->dirfd, name, 0);
			continue;
		}
		if (segs[i] != (i > 0 && segs[i - 1] >= ck ? segs[i - 1] + 1 :
		    ck)) {
			fail(j, DS_EX_DATAERR, "%s: segment %llu missing "
			    "before " SEGNAME, j->dir, (unsigned long long)
			    (i > 0 && segs[i - 1] >= ck ? segs[i - 1] + 1 : ck),
			    (unsigned long long)segs[i]);
			goto fail;
		}
		if (seg_replay(j, segs[i], i + 1 == n, warn) == -1)
			goto fail;
	}
	if (j->segfd == -1 && seg_create(j, ck) == -1)
		goto fail;
	free(segs);
	ds_buf_free(&v);
	return 0;
fail:
	free(segs);
	ds_buf_free(&v);
	return -1;
}

struct ds_journal *
ds_journal_open(const char *dir, int *code, char *err, size_t errlen,
    void (*warn)(const char *))
{
	struct ds_journal *j;
	char derr[512];

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->dir = strdup(dir)) == NULL) {
		free(j);
		*code = DS_EX_OSERR;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->segfd = -1;
	j->dirfd = -1;
	j->io_write = write;
	j->io_sync = fdatasync;
	ds_state_init(&j->ov);
	ds_state_init(&j->ck_ov);
	if ((j->dirfd = ds_dir_open_msg(dir, 0, derr, sizeof(derr))) == -1) {
		fail(j, errno == ENOENT ? DS_EX_NOINPUT : DS_EX_IOERR,
		    "unable to open directory %s: %s", dir, derr);
		goto fail;
	}
	if (tc_open(j) == -1 || load(j, warn) == -1)
		goto fail;
	return j;
fail:
	*code = j->code;
	snprintf(err, errlen, "%s", j->err);
	ds_journal_close(j);
	return NULL;
}

void
ds_journal_close(struct ds_journal *j)
{
	size_t i;

	if (j == NULL)
		return;
	(void)ds_journal_ckpt_finish(j);
	ds_state_term(&j->ck_ov);
	ds_buf_free(&j->ck_blobs);
	ds_buf_free(&j->ck_dir);
	if (j->db != NULL) {
		tchdbclose(j->db);
		tchdbdel(j->db);
	}
	if (j->segfd != -1)
		close(j->segfd);
	if (j->dirfd != -1)
		close(j->dirfd);
	for (i = 0; i < j->nw; i++)
		writer_free(j->w[i]);
	free(j->w);
	ds_state_term(&j->ov);
	ds_buf_free(&j->q);
	free(j->dir);
	free(j);
}

const char *
ds_journal_error(const struct ds_journal *j)
{
	return j->err;
}

int
ds_journal_code(const struct ds_journal *j)
{
	return j->code;
}

int
ds_journal_apply(struct ds_journal *j, const unsigned char *fr, size_t len,
    uint32_t *epoch)
{
	struct ds_jwrite_msg m;
	struct writer *w;
	const char *why;
	size_t at;

	*epoch = 0;
	if (len < DS_FRAME_HDR || ds_msg_jwrite_get(&m, fr + DS_FRAME_HDR,
	    len - DS_FRAME_HDR, &why) == -1 || ds_journal_check(&m, &why)
	    == -1 || m.epoch == 0) {
		j->st.bad++;
		return DS_J_BAD;
	}
	if ((w = writer_find(j, m.writer, &at)) != NULL && m.epoch < w->epoch) {
		*epoch = w->epoch;
		j->st.fenced++;
		return DS_J_FENCED;
	}
	if (ds_buf_add(&j->q, fr, len) == -1 || apply(j, &m) == -1)
		return -1;	/* memory and queue disagree: fatal */
	*epoch = m.epoch;
	j->st.writes++;
	return DS_J_OK;
}

int
ds_journal_raise(struct ds_journal *j, uint64_t writer, uint32_t epoch,
    uint32_t *cur)
{
	struct ds_jread_msg r;
	struct writer *w;
	size_t at;

	if ((w = writer_find(j, writer, &at)) != NULL && epoch < w->epoch) {
		*cur = w->epoch;
		j->st.fenced++;
		return DS_J_FENCED;
	}
	memset(&r, 0, sizeof(r));
	r.writer = writer;
	r.epoch = epoch;
	if (ds_msg_jread_put(&j->q, &r) == -1 ||
	    raise_epoch(j, writer, epoch) == -1)
		return -1;
	*cur = epoch;
	return DS_J_OK;
}

int
ds_journal_known(const struct ds_journal *j, uint64_t writer)
{
	size_t at;

	return writer_find(j, writer, &at) != NULL;
}

uint32_t
ds_journal_epoch(struct ds_journal *j, uint64_t writer)
{
	struct writer *w;
	size_t at;

	return (w = writer_find(j, writer, &at)) != NULL ? w->epoch : 0;
}

size_t
ds_journal_queued(const struct ds_journal *j)
{
	return j->q.len;
}

/*
 * The write of the queue ran out of space: cut the segment back to what
 * was synced and rebuild memory from disk, which undoes every queued
 * JWRITE and raise (a checkpoint under way is waited for first: it reads
 * what the rebuild replaces).  0, or -1 (fatal) with code and err.
 */
static int
undo(struct ds_journal *j)
{
	struct ds_journal_stats keep;
	struct ds_jwrite_msg m;
	struct ds_frame f;
	const char *why;
	uint64_t writes = 0, records = 0;
	size_t off = 0, i;

	if (ftruncate(j->segfd, (off_t)j->segsize) == -1 ||
	    fdatasync(j->segfd) == -1)
		return fail(j, DS_EX_IOERR, "unable to cut " SEGNAME " in %s "
		    "back after a failed write: %s", (unsigned long long)j->seg,
		    j->dir, strerror(errno));
	while (ds_msg_next_checked(j->q.p, j->q.len, &off, &f, &why) == 1)
		if (f.type == DS_FRAME_JWRITE &&
		    ds_msg_jwrite_get(&m, f.payload, f.len, &why) == 0) {
			writes++;
			records += m.n;
		}
	ds_buf_reset(&j->q);
	if (ds_journal_ckpt_finish(j) == -1)
		return -1;
	keep = j->st;
	keep.writes -= writes;
	keep.records -= records;
	for (i = 0; i < j->nw; i++)
		writer_free(j->w[i]);
	j->nw = 0;
	ds_state_term(&j->ov);
	ds_state_init(&j->ov);
	j->st.since_ckpt = 0;
	if (load(j, NULL) == -1)
		return -1;
	keep.writers = j->nw;
	keep.segment = j->seg;
	keep.since_ckpt = j->st.since_ckpt;
	j->st = keep;
	return 0;
}

int
ds_journal_sync(struct ds_journal *j)
{
	uint64_t t0 = now_ns(), dt;
	size_t off = 0, len = j->q.len;
	ssize_t n;
	int e;

	while (off < j->q.len) {
		n = j->io_write(j->segfd, j->q.p + off, j->q.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == ENOSPC || errno == EDQUOT)) {
			e = errno;
			if (undo(j) == -1)
				return -1;
			errno = e;
			fail(j, DS_EX_TEMPFAIL, "unable to write " SEGNAME
			    " in %s: %s: %zu queued bytes refused, none "
			    "applied", (unsigned long long)j->seg, j->dir,
			    strerror(e), len);
			return 1;
		}
		if (n == -1)
			goto fail;
		off += (size_t)n;
	}
	if (j->io_sync(j->segfd) == -1)
		goto fail;
	dt = now_ns() - t0;
	j->segsize += j->q.len;
	j->st.bytes += j->q.len;
	j->st.since_ckpt += j->q.len;
	j->st.syncs++;
	j->st.sync_ns += dt;
	if (dt > j->st.sync_max_ns)
		j->st.sync_max_ns = dt;
	ds_buf_reset(&j->q);
	return 0;
fail:
	return fail(j, DS_EX_IOERR, "unable to write " SEGNAME " in %s: %s",
	    (unsigned long long)j->seg, j->dir, strerror(errno));
}

/*
 * After a failed checkpoint: every key of the moved overlay that the new
 * one does not have goes back (the old segments stay, so nothing is lost
 * on disk either).  Out of memory here leaves the key to the segments.
 */
static void
merge_back(struct ds_journal *j)
{
	struct ds_state_rec *r;
	const void *v;
	size_t it = 0, vl;

	while ((r = ds_state_next(&j->ck_ov, &it)) != NULL)
		if (r->hasval && !ds_state_lookup(&j->ov, r->key, r->klen, &v,
		    &vl))
			(void)ds_state_store(&j->ov, r->key, r->klen, r->val,
			    r->vlen);
	ds_state_term(&j->ck_ov);
	ds_state_init(&j->ck_ov);
}

/*
 * Checkpoints run in a thread so that Tokyo Cabinet's transaction and
 * syncs never hold up group commits.  At the start, in the loop's
 * thread, the overlay is moved out (a new, empty one takes its place),
 * every writer is serialized and the next segment is created; from then
 * on the thread alone touches the old overlay, the blobs and state.tch,
 * and the loop keeps applying and syncing into the new segment.  Only
 * recovery reads state.tch, so it waits (ds_journal_ckpt_busy).
 */
/*
 * Free a big file's blocks a few megabytes at a time: freeing hundreds
 * of megabytes at once makes the file system hold up the fdatasync of
 * the live segment for tens of milliseconds.
 */
static void
shrink(struct ds_journal *j, const char *name)
{
	struct timespec ts = { 0, 2000000 };
	struct stat st;
	off_t size;
	int fd;

	if ((fd = ds_dir_openat(j->dirfd, name, O_WRONLY)) == -1)
		return;
	if (fstat(fd, &st) == 0)
		for (size = st.st_size; size > SHRINK_STEP; ) {
			size -= SHRINK_STEP;
			if (ftruncate(fd, size) == -1)
				break;
			nanosleep(&ts, NULL);
		}
	(void)close(fd);
}

/* Remove the segments a checkpoint made obsolete (ck_old and before). */
static void
unlink_old(struct ds_journal *j)
{
	char name[64];
	uint64_t q;

	for (q = j->ck_old; ; q--) {
		snprintf(name, sizeof(name), SEGNAME, (unsigned long long)q);
		shrink(j, name);
		if (unlinkat(j->dirfd, name, 0) == -1 || q == 0)
			break;
	}
	(void)fsync(j->dirfd);
}

static void *
ckpt_thread(void *arg)
{
	struct ds_journal *j = arg;
	struct ds_state_rec *r;
	struct ds_buf k = DS_BUF_INIT;
	unsigned char c = 'C', d = 'D', sq[8];
	const unsigned char *p;
	size_t it = 0, off, len;
	int rc = 0;

	if (!tchdbtranbegin(j->db))
		goto fail;
	while (rc == 0 && (r = ds_state_next(&j->ck_ov, &it)) != NULL) {
		if (!r->hasval)
			continue;
		ds_buf_reset(&k);
		if (ds_buf_addc(&k, 'K') == -1 ||
		    ds_buf_add(&k, r->key, r->klen) == -1)
			rc = -1;
		else if (r->val[0] == 1)
			rc = tc_put(j, k.p, k.len, r->val + 1, r->vlen - 1);
		else if (!tchdbout(j->db, k.p, (int)k.len) &&
		    tchdbecode(j->db) != TCENOREC)
			rc = -1;
	}
	/* ck_blobs: [key:9][len:u32][blob]... */
	for (off = 0; rc == 0 && off + 13 <= j->ck_blobs.len; off += 13 + len) {
		p = j->ck_blobs.p + off;
		len = ds_get_le32(p + 9);
		rc = tc_put(j, p, 9, p + 13, len);
	}
	ds_put_le64(sq, j->ck_seg);
	if (rc == 0 && (tc_put(j, &d, 1, j->ck_dir.p, j->ck_dir.len) == -1 ||
	    tc_put(j, &c, 1, sq, 8) == -1))
		rc = -1;
	if (rc == -1) {
		j->ck_ecode = tchdbecode(j->db);
		(void)tchdbtranabort(j->db);
		goto out;
	}
	if (!tchdbtrancommit(j->db))
		goto fail;
	/*
	 * The old segments are in state.tch now.  Removing a big file takes
	 * tens of milliseconds (measured: 52 ms for 220 MB): do it here, not
	 * in the writers' thread.
	 */
	unlink_old(j);
	goto out;
fail:
	rc = -1;
	j->ck_ecode = tchdbecode(j->db);
out:
	ds_buf_free(&k);
	j->ck_rc = rc;
	if (j->ck_notify != NULL)
		j->ck_notify(j->ck_arg);
	return NULL;
}

int
ds_journal_ckpt_start(struct ds_journal *j, void (*notify)(void *),
    void *arg)
{
	struct ds_buf b = DS_BUF_INIT;
	unsigned char h[13];
	size_t i;
	int e;

	if (j->ck_running) {
		errno = EBUSY;
		return fail(j, DS_EX_SOFTWARE, "checkpoint already running");
	}
	if (j->q.len != 0) {
		errno = EBUSY;
		return fail(j, DS_EX_SOFTWARE, "checkpoint with queued writes");
	}
	ds_buf_reset(&j->ck_blobs);
	ds_buf_reset(&j->ck_dir);
	for (i = 0; i < j->nw; i++) {
		h[0] = 'W';
		ds_put_le64(h + 1, j->w[i]->id);
		if (writer_blob(j->w[i], &b) == -1)
			goto nomem;
		ds_put_le32(h + 9, (uint32_t)b.len);
		if (ds_buf_add(&j->ck_blobs, h, 13) == -1 ||
		    ds_buf_add(&j->ck_blobs, b.p, b.len) == -1 ||
		    ds_buf_add(&j->ck_dir, h + 1, 8) == -1)
			goto nomem;
	}
	ds_buf_free(&b);
	j->ck_old = j->seg;
	if (seg_create(j, j->seg + 1) == -1)
		return -1;
	j->ck_seg = j->seg;
	j->ck_ov = j->ov;
	ds_state_init(&j->ov);
	j->ck_notify = notify;
	j->ck_arg = arg;
	j->ck_rc = 0;
	j->ck_ecode = 0;
	j->st.since_ckpt = 0;
	if ((e = pthread_create(&j->ck_th, NULL, ckpt_thread, j)) != 0) {
		errno = e;
		j->ck_notify = NULL;
		ckpt_thread(j);		/* do it here, then */
	}
	j->ck_running = 1;
	j->ck_joinable = e == 0;
	return 0;
nomem:
	ds_buf_free(&b);
	return fail(j, DS_EX_OSERR, "out of memory");
}

int
ds_journal_ckpt_busy(const struct ds_journal *j)
{
	return j->ck_running;
}

int
ds_journal_ckpt_finish(struct ds_journal *j)
{

	if (!j->ck_running)
		return 0;
	if (j->ck_joinable)
		(void)pthread_join(j->ck_th, NULL);
	j->ck_running = 0;
	j->ck_joinable = 0;
	/* The keys are in state.tch (or, on failure, still in segments). */
	if (j->ck_rc == -1) {
		/* Put the moved keys back under the newer ones. */
		merge_back(j);
		errno = EIO;
		return fail(j, DS_EX_IOERR, "%s/state.tch: checkpoint failed: "
		    "%s", j->dir, tchdberrmsg(j->ck_ecode));
	}
	ds_state_term(&j->ck_ov);
	ds_state_init(&j->ck_ov);
	j->st.checkpoints++;
	return 0;
}

int
ds_journal_checkpoint(struct ds_journal *j)
{
	if (ds_journal_ckpt_start(j, NULL, NULL) == -1)
		return -1;
	return ds_journal_ckpt_finish(j);
}

int
ds_journal_recovery(struct ds_journal *j, uint64_t writer,
    struct ds_buf *out)
{
	struct ds_state_rec *r;
	struct writer *w;
	const unsigned char *v;
	unsigned char *k, *b, wk[8];
	size_t it = 0, at, vl;
	int kl, bl, rc = 0;

	if (j->ck_running) {
		errno = EBUSY;
		return fail(j, DS_EX_SOFTWARE, "recovery during a checkpoint");
	}
	ds_buf_reset(out);
	ds_put_le64(wk, writer);
	/* Checkpointed keys the overlay does not override. */
	if (!tchdbiterinit(j->db))
		return fail(j, DS_EX_IOERR, "%s/state.tch: %s", j->dir,
		    tchdberrmsg(tchdbecode(j->db)));
	while (rc == 0 && (k = tchdbiternext(j->db, &kl)) != NULL) {
		if (kl >= 9 && k[0] == 'K' && memcmp(k + 1, wk, 8) == 0 &&
		    !ds_state_lookup(&j->ov, k + 1, (size_t)kl - 1,
		    (const void **)&v, &vl)) {
			if ((b = tchdbget(j->db, k, kl, &bl)) == NULL)
				rc = fail(j, DS_EX_IOERR, "%s/state.tch: %s",
				    j->dir, tchdberrmsg(tchdbecode(j->db)));
			else {
				if ((rc = tc_check(j, k, (size_t)kl, b, bl, &v,
				    &vl)) == 0)
					rc = ds_rec_put_delta(out, k + 9,
					    (size_t)kl - 9, v, vl);
				free(b);
			}
		}
		free(k);
	}
	if (rc == -1)
		return -1;
	while ((r = ds_state_next(&j->ov, &it)) != NULL)
		if (r->hasval && r->klen >= 8 && memcmp(r->key, wk, 8) == 0 &&
		    r->val[0] == 1 && ds_rec_put_delta(out, r->key + 8, r->klen - 8,
		    r->val + 1, r->vlen - 1) == -1)
			return -1;
	if ((w = writer_find(j, writer, &at)) == NULL)
		return 0;
	it = 0;
	while ((r = ds_state_next(&w->timers, &it)) != NULL)
		if (r->hasval && ds_rec_put_timer(out, r->key, r->klen,
		    ds_get_le64(r->val)) == -1)
			return -1;
	if (ds_buf_add(out, w->mark.p, w->mark.len) == -1)
		return -1;
	if (w->acked > 0 && ds_rec_put_acked(out, w->acked) == -1)
		return -1;
	for (at = w->outskip; at + 8 + DS_FRAME_HDR <= w->outs.len; ) {
		vl = DS_FRAME_HDR + ds_get_le32(w->outs.p + at + 16);
		if (ds_buf_add(out, w->outs.p + at + 8, vl) == -1)
			return -1;
		at += 8 + vl;
	}
	return 0;
}

void
ds_journal_set_io(struct ds_journal *j, ssize_t (*wr)(int, const void *,
    size_t), int (*sync)(int))
{
	j->io_write = wr != NULL ? wr : write;
	j->io_sync = sync != NULL ? sync : fdatasync;
}

void
ds_journal_stats(const struct ds_journal *j, struct ds_journal_stats *st)
{
	*st = j->st;
}
