/*
 * slog.c: an instance's own state log (format in slog.h).  Recovery reads
 * the whole file, checks every frame and record body before applying
 * anything, picks the mark, replays the DELTAs before it and cuts the
 * rest off.  A bad frame is a torn tail only when no good frame follows
 * it anywhere; otherwise the file is corrupt and nothing is cut.  The
 * log's directory must be private and the log is reached through it
 * without following a link (core/dir.h).  Nothing here prints or exits;
 * only compaction fsyncs (its snapshot before the rename and the
 * directory after: a rename of an unwritten file could lose the log).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "core/exit.h"
#include "core/frame.h"
#include "core/rec.h"
#include "core/wire.h"
#include "store/slog.h"

#define COMPACT_CHUNK	(1u << 20)	/* write the snapshot in such pieces */

struct mark_at {
	uint64_t	 num;
	uint64_t	 off;		/* of the MARK frame */
	uint64_t	 end;		/* just after it */
};

struct ack_at {
	uint64_t	 num;
	uint64_t	 first;		/* offset of its first ACKED */
	uint64_t	 last;		/* and of its last */
};

struct scan {
	struct mark_at	*marks;
	size_t		 nmarks, capmarks;
	struct ack_at	*acks;
	size_t		 nacks, capacks;
	uint64_t	 good;		/* end of the last good frame */
	uint64_t	 maxmark;
};

__attribute__((format(printf, 2, 3)))
static void
seterr(struct ds_slog *s, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	errno = saved;
}

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read the whole of fd from offset 0 into b. */
static int
slurp(int fd, struct ds_buf *b)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_size > 0 && ds_buf_grow(b, (size_t)st.st_size + 1) == -1)
		return -1;
	for (;;) {
		if (ds_buf_grow(b, 65536) == -1)
			return -1;
		n = pread(fd, b->p + b->len, b->cap - b->len, (off_t)b->len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

/*
 * Check the frame at off of p[0..n): 0 and *f filled, or -1 with *why.
 * The payload must fit in n and its CRC must match.
 */
static int
frame_at(const unsigned char *p, size_t n, size_t off, struct ds_frame *f,
    const char **why)
{
	if (n - off < DS_FRAME_HDR) {
		*why = "truncated frame header";
		return -1;
	}
	if (ds_frame_unpack_hdr(p + off, DS_FRAME_MAX, f, why) == -1)
		return -1;
	if (n - off - DS_FRAME_HDR < f->len) {
		*why = "truncated frame payload";
		return -1;
	}
	if (ds_frame_check(p + off, p + off + DS_FRAME_HDR, f->len) == -1) {
		*why = "checksum mismatch";
		return -1;
	}
	f->payload = p + off + DS_FRAME_HDR;
	return 0;
}

/* Whether a good frame starts anywhere in p[from..n). */
static int
good_frame_after(const unsigned char *p, size_t n, size_t from)
{
	struct ds_frame f;
	const unsigned char *q;
	const char *why;
	size_t at = from;

	while (n - at >= DS_FRAME_HDR) {
		if ((q = memchr(p + at, 0x00, n - at - DS_FRAME_HDR + 1)) ==
		    NULL)
			return 0;
		at = (size_t)(q - p);
		if (q[1] == 'D' && q[2] == 'S' && q[3] == DS_FRAME_VERSION &&
		    frame_at(p, n, at, &f, &why) == 0)
			return 1;
		at++;
	}
	return 0;
}

/* Check a record's body: NULL if good, else why not. */
static const char *
body_check(const struct ds_frame *f)
{
	const char *why;

	if (f->type == DS_FRAME_TIMER)
		return "TIMER record in a state log";
	return ds_rec_check(f, &why) == -1 ? why : NULL;
}

static int
add_mark(struct scan *sc, uint64_t num, uint64_t off, uint64_t end)
{
	struct mark_at *p;
	size_t cap;

	if (sc->nmarks == sc->capmarks) {
		cap = sc->capmarks ? sc->capmarks * 2 : 16;
		if ((p = realloc(sc->marks, cap * sizeof(*p))) == NULL)
			return -1;
		sc->marks = p;
		sc->capmarks = cap;
	}
	sc->marks[sc->nmarks].num = num;
	sc->marks[sc->nmarks].off = off;
	sc->marks[sc->nmarks++].end = end;
	if (num > sc->maxmark)
		sc->maxmark = num;
	return 0;
}

static int
add_ack(struct scan *sc, uint64_t num, uint64_t off)
{
	struct ack_at *p;
	size_t cap;

	if (sc->nacks == sc->capacks) {
		cap = sc->capacks ? sc->capacks * 2 : 16;
		if ((p = realloc(sc->acks, cap * sizeof(*p))) == NULL)
			return -1;
		sc->acks = p;
		sc->capacks = cap;
	}
	sc->acks[sc->nacks].num = num;
	sc->acks[sc->nacks].first = off;
	sc->acks[sc->nacks++].last = off;
	return 0;
}

static int
ack_cmp(const void *a, const void *b)
{
	const struct ack_at *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

/* Sort acks by number and merge duplicates (first/last offsets). */
static void
acks_index(struct scan *sc)
{
	size_t i, j;

	if (sc->nacks == 0)
		return;
	qsort(sc->acks, sc->nacks, sizeof(*sc->acks), ack_cmp);
	for (i = 0, j = 1; j < sc->nacks; j++) {
		if (sc->acks[j].num == sc->acks[i].num) {
			if (sc->acks[j].first < sc->acks[i].first)
				sc->acks[i].first = sc->acks[j].first;
			if (sc->acks[j].last > sc->acks[i].last)
				sc->acks[i].last = sc->acks[j].last;
		} else
			sc->acks[++i] = sc->acks[j];
	}
	sc->nacks = i + 1;
}

static const struct ack_at *
ack_find(const struct scan *sc, uint64_t num)
{
	struct ack_at key;

	key.num = num;
	if (sc->nacks == 0)
		return NULL;
	return bsearch(&key, sc->acks, sc->nacks, sizeof(*sc->acks), ack_cmp);
}

/*
 * Walk every frame of p[0..n): record marks and acks, set sc->good to the
 * end of the last good frame.  -1 (*code set) on corruption or ENOMEM;
 * a bad frame with no good one after it only ends the walk.
 */
static int
scan_file(struct ds_slog *s, const unsigned char *p, size_t n,
    struct scan *sc, int *code)
{
	struct ds_frame f;
	const char *why;
	size_t off = 0;

	while (off < n) {
		if (frame_at(p, n, off, &f, &why) == -1) {
			if (off == 0 && (p[0] != 0x00 ||
			    (n > 1 && p[1] != 'D') || (n > 2 && p[2] != 'S') ||
			    (n > 3 && p[3] != DS_FRAME_VERSION))) {
				seterr(s, "%s: corrupt record at offset 0: "
				    "not a state log (%s)", s->path,
				    "bad magic or version");
				*code = DS_EX_DATAERR;
				return -1;
			}
			if (good_frame_after(p, n, off + 1)) {
				seterr(s, "%s: corrupt record at offset %zu: "
				    "%s", s->path, off, why);
				*code = DS_EX_DATAERR;
				return -1;
			}
			s->torn = 1;
			seterr(s, "%s: cut a torn tail at offset %zu "
			    "(%zu bytes): %s", s->path, off, n - off, why);
			break;
		}
		if ((why = body_check(&f)) != NULL) {
			seterr(s, "%s: corrupt record at offset %zu: %s",
			    s->path, off, why);
			*code = DS_EX_DATAERR;
			return -1;
		}
		if ((f.type == DS_FRAME_MARK && add_mark(sc,
		    ds_get_le64(f.payload), off, off + DS_FRAME_HDR + f.len) ==
		    -1) || (f.type == DS_FRAME_ACKED && add_ack(sc,
		    ds_get_le64(f.payload), off) == -1)) {
			seterr(s, "%s: %s", s->path, strerror(errno));
			*code = DS_EX_OSERR;
			return -1;
		}
		off += DS_FRAME_HDR + f.len;
		sc->good = off;
	}
	return 0;
}

/* Index into sc->marks of the recovery mark, or -1 if there is none. */
static long
choose(const struct scan *sc, int which)
{
	size_t i;

	if (sc->nmarks == 0)
		return -1;
	if (which == DS_SLOG_LAST)
		return (long)sc->nmarks - 1;
	for (i = sc->nmarks; i-- > 0; )
		if (ack_find(sc, sc->marks[i].num) != NULL)
			return (long)i;
	return -1;
}

/*
 * The mark to write ACKED for again after the cut: the last mark up to
 * the chosen one acked only after the cut, if no later one is acked
 * before it.  0 if none.
 */
static uint64_t
reack(const struct scan *sc, long chosen, uint64_t cut)
{
	const struct ack_at *a;
	long i;

	for (i = chosen; i >= 0; i--) {
		if ((a = ack_find(sc, sc->marks[i].num)) == NULL)
			continue;
		if (a->first < cut)
			return 0;
		return sc->marks[i].num;
	}
	return 0;
}


/* Apply the DELTAs of p[0..upto) (all checked by scan_file already). */
static int
replay(struct ds_slog *s, const unsigned char *p, size_t upto,
    int (*on_delta)(void *, const void *, size_t, const void *, size_t),
    void *arg)
{
	struct ds_frame f;
	struct ds_rec r;
	const char *why;
	size_t off = 0;

	while (off < upto) {
		(void)ds_frame_unpack_hdr(p + off, DS_FRAME_MAX, &f, &why);
		f.payload = p + off + DS_FRAME_HDR;
		if (f.type == DS_FRAME_DELTA &&
		    (ds_rec_get(&f, &r, NULL, &why) == -1 ||
		    on_delta(arg, r.key, r.keylen, r.val, r.vallen) != 0)) {
			seterr(s, "%s: replaying the record at offset %zu "
			    "failed", s->path, off);
			return -1;
		}
		off += DS_FRAME_HDR + f.len;
	}
	return 0;
}

/* Decode the MARK frame at p (checked by scan_file already). */
static int
mark_at(struct ds_mark *m, const unsigned char *p)
{
	struct ds_frame f;
	struct ds_rec r;
	const char *why;

	(void)ds_frame_unpack_hdr(p, DS_FRAME_MAX, &f, &why);
	f.payload = p + DS_FRAME_HDR;
	return ds_rec_get(&f, &r, m, &why);
}

/*
 * Split s->path (a copy of path) into its directory, opened into
 * s->dirfd after checking it is private, and s->name, the log's name in
 * it.
 */
static int
open_dir(struct ds_slog *s, const char *path, int *code)
{
	char *sl = strrchr(s->path, '/'), err[512];
	const char *dir = ".";
	int e = 0;

	s->name = s->path;
	if (sl != NULL) {
		*sl = '\0';
		dir = sl == s->path ? "/" : s->path;
		s->name = sl + 1;
	}
	if ((s->dirfd = ds_dir_open_msg(dir, 0, err, sizeof(err))) == -1) {
		e = errno;
		seterr(s, "%s: unable to use %s: %s", path, dir, err);
		*code = e == ENOENT ? DS_EX_NOINPUT : DS_EX_IOERR;
	}
	if (sl != NULL)
		*sl = '/';
	if (s->dirfd == -1) {
		errno = e;
		return -1;
	}
	if (*s->name == '\0') {
		seterr(s, "%s: not a file name", s->path);
		*code = DS_EX_IOERR;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
ds_slog_open(struct ds_slog *s, const char *path, int which,
    int (*on_delta)(void *arg, const void *key, size_t keylen,
    const void *val, size_t vallen), void *arg,
    struct ds_mark *m, int *code)
{
	struct ds_buf file = DS_BUF_INIT;
	struct scan sc;
	uint64_t cut, again;
	long chosen;

	memset(s, 0, sizeof(*s));
	memset(m, 0, sizeof(*m));
	memset(&sc, 0, sizeof(sc));
	s->fd = s->dirfd = -1;
	if ((s->path = strdup(path)) == NULL) {
		seterr(s, "%s: %s", path, strerror(errno));
		*code = DS_EX_OSERR;
		return -1;
	}
	if (which != DS_SLOG_LAST && which != DS_SLOG_ACKED) {
		seterr(s, "%s: bad recovery mode %d", path, which);
		errno = EINVAL;
		*code = DS_EX_SOFTWARE;
		goto fail;
	}
	if (open_dir(s, path, code) == -1)
		goto fail;
	s->fd = ds_dir_openat(s->dirfd, s->name, O_RDWR | O_CREAT | O_APPEND);
	if (s->fd == -1) {
		seterr(s, "%s: open: %s", path, ds_dir_strerror(errno));
		*code = DS_EX_IOERR;
		goto fail;
	}
	if (slurp(s->fd, &file) == -1) {
		seterr(s, "%s: read: %s", path, strerror(errno));
		*code = errno == ENOMEM ? DS_EX_OSERR : DS_EX_IOERR;
		goto fail;
	}
	if (scan_file(s, file.p, file.len, &sc, code) == -1)
		goto fail;
	acks_index(&sc);
	chosen = choose(&sc, which);
	cut = chosen >= 0 ? sc.marks[chosen].end : 0;
	if (chosen >= 0) {
		if (replay(s, file.p, (size_t)cut, on_delta, arg) == -1) {
			*code = DS_EX_SOFTWARE;
			goto fail;
		}
		if (mark_at(m, file.p + sc.marks[chosen].off) == -1) {
			seterr(s, "%s: %s", path, strerror(errno));
			*code = DS_EX_OSERR;
			goto fail;
		}
	}
	if (cut < file.len && ftruncate(s->fd, (off_t)cut) == -1) {
		seterr(s, "%s: truncate: %s", path, strerror(errno));
		*code = DS_EX_IOERR;
		goto fail;
	}
	s->size = cut;
	s->mark = sc.maxmark;
	again = chosen >= 0 ? reack(&sc, chosen, cut) : 0;
	if (again != 0 && (ds_slog_acked(s, again) == -1 ||
	    ds_slog_flush(s) == -1)) {
		*code = errno == ENOMEM ? DS_EX_OSERR : DS_EX_IOERR;
		goto fail;
	}
	ds_buf_free(&file);
	free(sc.marks);
	free(sc.acks);
	return 0;
fail:
	ds_buf_free(&file);
	free(sc.marks);
	free(sc.acks);
	ds_mark_free(m);
	ds_slog_close(s);
	s->torn = 0;
	return -1;
}

int
ds_slog_delta(struct ds_slog *s, const void *key, size_t keylen,
    const void *val, size_t vallen)
{
	return ds_rec_put_delta(&s->pend, key, keylen, val, vallen);
}

int
ds_slog_mark(struct ds_slog *s, struct ds_mark *m)
{
	struct ds_mark w = *m;

	if (m->n > DS_REC_MARKMAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (w.mark == 0)
		w.mark = s->mark + 1;
	if (ds_rec_put_mark(&s->pend, &w) == -1)
		return -1;
	m->mark = w.mark;
	if (w.mark > s->mark)
		s->mark = w.mark;
	return 0;
}

int
ds_slog_add(struct ds_slog *s, const void *recs, size_t len)
{
	return ds_buf_add(&s->pend, recs, len);
}

int
ds_slog_acked(struct ds_slog *s, uint64_t mark)
{
	return ds_rec_put_acked(&s->pend, mark);
}

int
ds_slog_flush(struct ds_slog *s)
{
	int saved;

	if (s->pend.len == 0)
		return 0;
	if (write_all(s->fd, s->pend.p, s->pend.len) == -1) {
		saved = errno;
		seterr(s, "%s: write: %s", s->path, strerror(errno));
		/* No half record may stay in front of later ones. */
		(void)ftruncate(s->fd, (off_t)s->size);
		errno = saved;
		return -1;
	}
	s->size += s->pend.len;
	ds_buf_reset(&s->pend);
	return 0;
}

/* Write b to fd when it holds at least min bytes. */
static int
drain_at(int fd, struct ds_buf *b, size_t min, uint64_t *total)
{
	if (b->len < min || b->len == 0)
		return 0;
	if (write_all(fd, b->p, b->len) == -1)
		return -1;
	*total += b->len;
	ds_buf_reset(b);
	return 0;
}

int
ds_slog_compact(struct ds_slog *s, struct ds_mark *m,
    int (*next)(void *arg, const void **key, size_t *keylen,
    const void **val, size_t *vallen), void *arg)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_mark w = *m;
	const void *key, *val;
	size_t keylen, vallen;
	uint64_t total = 0;
	int fd = -1, nfd, rc, saved;

	if (ds_slog_flush(s) == -1)
		return -1;
	if (m->n > DS_REC_MARKMAX) {
		errno = EMSGSIZE;
		seterr(s, "%s: compact: %s", s->path, strerror(errno));
		return -1;
	}
	if (w.mark == 0)
		w.mark = s->mark + 1;
	if ((fd = ds_dir_begin(s->dirfd, s->name)) == -1)
		goto fail;
	while ((rc = next(arg, &key, &keylen, &val, &vallen)) == 1) {
		if (ds_rec_put_delta(&b, key, keylen, val, vallen) == -1 ||
		    drain_at(fd, &b, COMPACT_CHUNK, &total) == -1)
			goto fail;
	}
	if (rc != 0) {
		errno = ECANCELED;
		goto fail;
	}
	if (ds_rec_put_mark(&b, &w) == -1 || ds_rec_put_acked(&b, w.mark) == -1 ||
	    drain_at(fd, &b, 0, &total) == -1)
		goto fail;
	rc = ds_dir_commit(s->dirfd, s->name, fd);
	fd = -1;
	if (rc == -1)
		goto fail;
	/* The old fd now names an unlinked file; reopen the new one. */
	nfd = ds_dir_openat(s->dirfd, s->name, O_RDWR | O_APPEND);
	if (nfd == -1) {
		seterr(s, "%s: reopen after compaction: %s", s->path,
		    ds_dir_strerror(errno));
		ds_buf_free(&b);
		return -1;
	}
	close(s->fd);
	s->fd = nfd;
	s->size = total;
	m->mark = w.mark;
	if (w.mark > s->mark)
		s->mark = w.mark;
	ds_buf_free(&b);
	return 0;
fail:
	saved = errno;
	seterr(s, "%s: compact: %s", s->path, ds_dir_strerror(errno));
	if (fd != -1)
		ds_dir_abort(s->dirfd, s->name, fd);
	ds_buf_free(&b);
	errno = saved;
	return -1;
}

void
ds_slog_close(struct ds_slog *s)
{
	if (s->fd != -1)
		close(s->fd);
	if (s->dirfd != -1)
		close(s->dirfd);
	s->fd = s->dirfd = -1;
	free(s->path);
	s->path = s->name = NULL;
	ds_buf_free(&s->pend);
}
