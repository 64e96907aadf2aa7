/*
 * t/unit/slog.c: the state log (libds/slog).  Recovery against a model
 * map: LAST versus ACKED with ACKED records arriving after later MARKs,
 * deltas after the chosen mark neither applied nor kept, deletes, a torn
 * tail at every truncation length and every bit flip of the last record
 * (cut with a warning), every bit flip of a middle record and bad record
 * bodies (65 naming the offset), compaction and large values.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "core/frame.h"
#include "store/slog.h"
#include "tap.h"
#include "core/wire.h"

/* A tiny key -> value map, the model and the recovered state. */
struct kv {
	char	*k, *v;
	size_t	 kl, vl;
};

struct map {
	struct kv	*e;
	size_t		 n;
	int		 deletes;	/* deltas with val NULL seen */
	int		 calls;
};

static char dir[256];

static struct kv *
map_find(struct map *m, const void *k, size_t kl)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->e[i].kl == kl && (kl == 0 ||
		    memcmp(m->e[i].k, k, kl) == 0))
			return &m->e[i];
	return NULL;
}

static void
map_set(struct map *m, const void *k, size_t kl, const void *v, size_t vl)
{
	struct kv *e = map_find(m, k, kl);

	if (v == NULL) {
		if (e != NULL) {
			free(e->k);
			free(e->v);
			*e = m->e[--m->n];
		}
		return;
	}
	if (e == NULL) {
		m->e = realloc(m->e, (m->n + 1) * sizeof(*m->e));
		e = &m->e[m->n++];
		e->k = malloc(kl + 1);
		memcpy(e->k, k, kl);
		e->kl = kl;
	} else
		free(e->v);
	e->v = malloc(vl + 1);
	memcpy(e->v, v, vl);
	e->vl = vl;
}

static void
map_free(struct map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->e[i].k);
		free(m->e[i].v);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static int
map_eq(struct map *a, struct map *b)
{
	struct kv *e;
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		e = map_find(b, a->e[i].k, a->e[i].kl);
		if (e == NULL || e->vl != a->e[i].vl ||
		    memcmp(e->v, a->e[i].v, e->vl) != 0)
			return 0;
	}
	return 1;
}

/* Whether m is exactly the pairs "k=v,k=v" (short string keys/values). */
static int
map_is(struct map *m, const char *want)
{
	struct map w = { NULL, 0, 0, 0 };
	char buf[256], *tok, *eq, *save = NULL;
	int r;

	snprintf(buf, sizeof(buf), "%s", want);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		eq = strchr(tok, '=');
		*eq = '\0';
		map_set(&w, tok, strlen(tok), eq + 1, strlen(eq + 1));
	}
	r = map_eq(&w, m);
	map_free(&w);
	return r;
}

static int
on_delta(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct map *m = arg;

	m->calls++;
	if (v == NULL)
		m->deletes++;
	map_set(m, k, kl, v, vl);
	return 0;
}

static int
fail_delta(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)arg, (void)k, (void)kl, (void)v, (void)vl;
	return -1;
}

struct iter {
	struct map	*m;
	size_t		 i;
};

static int
next_kv(void *arg, const void **k, size_t *kl, const void **v, size_t *vl)
{
	struct iter *it = arg;

	if (it->i == it->m->n)
		return 0;
	*k = it->m->e[it->i].k;
	*kl = it->m->e[it->i].kl;
	*v = it->m->e[it->i].v;
	*vl = it->m->e[it->i].vl;
	it->i++;
	return 1;
}

static const char *
path_of(const char *name)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static int
slurp(const char *path, struct ds_buf *b)
{
	char tmp[65536];
	ssize_t n;
	int fd;

	ds_buf_reset(b);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		ds_buf_add(b, tmp, (size_t)n);
	close(fd);
	return n == 0 ? 0 : -1;
}

static int
spit(const char *path, const void *p, size_t n)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	if (n > 0 && write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static long long
fsize(const char *path)
{
	struct stat st;

	return stat(path, &st) == -1 ? -1 : (long long)st.st_size;
}

/* Open path with mode which into *st; *m gets the mark. */
static int
reopen(const char *path, int which, struct map *st, struct ds_slog *s,
    struct ds_mark *m, int *code)
{
	map_free(st);
	*code = 0;
	return ds_slog_open(s, path, which, on_delta, st, m, code);
}

static int
put(struct ds_slog *s, const char *k, const char *v)
{
	return ds_slog_delta(s, k, strlen(k), v, v != NULL ? strlen(v) : 0);
}

static int
mark(struct ds_slog *s, uint64_t outseq, uint64_t aux)
{
	struct ds_mark_pos pos[2] = {
		{ 0x10000, 3, 0, outseq * 10, 0 },
		{ 0x20001, 7, 1, outseq * 20, outseq * 20 + 5 },
	};
	struct ds_mark m = { 0, outseq, aux, 2, pos };

	if (ds_slog_mark(s, &m) == -1)
		return -1;
	return (int)m.mark;
}

static int
pos_ok(const struct ds_mark *m, uint64_t outseq)
{
	return m->n == 2 && m->pos != NULL && m->outseq == outseq &&
	    m->pos[0].producer == 0x10000 && m->pos[0].epoch == 3 &&
	    m->pos[0].flags == 0 && m->pos[0].seq == outseq * 10 &&
	    m->pos[0].end == 0 && m->pos[1].producer == 0x20001 &&
	    m->pos[1].epoch == 7 && m->pos[1].flags == 1 &&
	    m->pos[1].seq == outseq * 20 && m->pos[1].end == outseq * 20 + 5;
}

static void
empty(void)
{
	const char *p = path_of("empty.slog");
	struct ds_slog s;
	struct ds_mark m;
	struct map st = { NULL, 0, 0, 0 };
	struct stat sb;
	int code, fl;

	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0,
	    "empty: open creates the file");
	ok(m.mark == 0 && m.n == 0 && m.pos == NULL && st.calls == 0 &&
	    s.size == 0 && s.mark == 0 && s.torn == 0,
	    "empty: mark 0, nothing applied");
	memset(&sb, 0, sizeof(sb));
	code = stat(p, &sb);
	ok(code == 0 && (sb.st_mode & 0777) == 0600,
	    "empty: mode 0600 (%o)", (unsigned)(sb.st_mode & 0777));
	fl = fcntl(s.fd, F_GETFD);
	ok(fl != -1 && (fl & FD_CLOEXEC), "empty: close-on-exec");
	ok(ds_slog_flush(&s) == 0 && fsize(p) == 0,
	    "empty: flushing nothing writes nothing");
	ds_slog_close(&s);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 0,
	    "empty: ACKED open of an empty file");
	ds_slog_close(&s);
	ok(ds_slog_open(&s, path_of("no/such/dir.slog"), DS_SLOG_LAST,
	    on_delta, &st, &m, &code) == -1 && code == DS_EX_NOINPUT &&
	    strstr(s.err, "no/such/dir.slog") != NULL && s.fd == -1,
	    "empty: unopenable path: -1, err names it (%s)", s.err);
	ds_slog_close(&s);
	map_free(&st);
}

/*
 * D a=1, M1, A1, D a=2 b=x, M2, D a=3, M3, A2, D a=4 (no mark): LAST
 * recovers M3, ACKED recovers M2 although its ACKED follows M3.
 */
static void
build_interleaved(const char *p, uint64_t *end_m2, uint64_t *end_m3)
{
	struct ds_slog s;
	struct ds_mark m;
	struct map st = { NULL, 0, 0, 0 };
	int code;

	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	mark(&s, 1, 100);
	ds_slog_acked(&s, 1);
	put(&s, "a", "2");
	put(&s, "b", "x");
	mark(&s, 2, 200);
	ds_slog_flush(&s);
	*end_m2 = s.size;
	put(&s, "a", "3");
	mark(&s, 3, 300);
	ds_slog_flush(&s);
	*end_m3 = s.size;
	ds_slog_acked(&s, 2);
	put(&s, "a", "4");
	ds_slog_flush(&s);
	ds_slog_close(&s);
	map_free(&st);
}

static void
recovery(void)
{
	const char *p = path_of("rec.slog");
	struct ds_slog s;
	struct ds_mark m;
	struct map st = { NULL, 0, 0, 0 };
	uint64_t e2, e3;
	int code;

	build_interleaved(p, &e2, &e3);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && m.mark == 3 &&
	    m.aux == 300 && pos_ok(&m, 3) && map_is(&st, "a=3,b=x") &&
	    st.calls == 4 && s.torn == 0,
	    "LAST: the last mark, a=3 b=x, a=4 after it not applied");
	ok(s.mark == 3, "LAST: mark numbers continue after 3 (%llu)",
	    (unsigned long long)s.mark);
	ok(fsize(p) == (long long)(e3 + DS_FRAME_HDR + 8) &&
	    s.size == e3 + DS_FRAME_HDR + 8,
	    "LAST: cut after M3, the cut ACKED 2 written again (%lld)",
	    fsize(p));
	ds_mark_free(&m);
	ds_mark_free(&m);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 2 &&
	    map_is(&st, "a=2,b=x"),
	    "LAST then ACKED: the re-written ACKED 2 still counts");
	ds_mark_free(&m);
	ds_slog_close(&s);

	build_interleaved(p, &e2, &e3);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 2 &&
	    m.aux == 200 && pos_ok(&m, 2) && map_is(&st, "a=2,b=x") &&
	    st.calls == 3,
	    "ACKED: M2 (acked after M3), a=2 b=x; a=3, a=4 not applied");
	ok(s.mark == 3, "ACKED: the next mark is 4, not a reused 3 (%llu)",
	    (unsigned long long)s.mark);
	ok(fsize(p) == (long long)(e2 + DS_FRAME_HDR + 8),
	    "ACKED: M3 and later cut, ACKED 2 re-written after M2 (%lld)",
	    fsize(p));
	ds_mark_free(&m);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 2 &&
	    map_is(&st, "a=2,b=x") &&
	    fsize(p) == (long long)(e2 + DS_FRAME_HDR + 8),
	    "ACKED: a second recovery changes nothing");
	ds_mark_free(&m);
	put(&s, "c", "new");
	ok(mark(&s, 5, 500) == 3 && ds_slog_acked(&s, 3) == 0 &&
	    ds_slog_flush(&s) == 0, "ACKED: write on: mark 3 and ACKED 3");
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 3 &&
	    m.aux == 500 && map_is(&st, "a=2,b=x,c=new"),
	    "ACKED: the new mark recovers over the old state");
	ds_mark_free(&m);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && m.mark == 3 &&
	    map_is(&st, "a=2,b=x,c=new"), "LAST: the same");
	ds_mark_free(&m);
	ds_slog_close(&s);

	/* A1 arrives after M2: ACKED goes back to M1. */
	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	mark(&s, 1, 1);
	put(&s, "a", "2");
	mark(&s, 2, 2);
	ds_slog_acked(&s, 1);
	ds_slog_flush(&s);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 1 &&
	    map_is(&st, "a=1"), "ACKED: M1 M2 A1 recovers M1");
	ds_mark_free(&m);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 1 &&
	    map_is(&st, "a=1"), "ACKED: and again after the cut");
	ds_mark_free(&m);
	ds_slog_close(&s);

	/* Marks but no ACKED: nothing is recovered in ACKED mode. */
	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	mark(&s, 1, 1);
	ds_slog_flush(&s);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 0 &&
	    m.pos == NULL && st.n == 0 && st.calls == 0 && fsize(p) == 0,
	    "ACKED: no ACKED record: mark 0, no state, file emptied");
	ds_slog_close(&s);

	/* Deltas only: LAST recovers nothing either. */
	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	ds_slog_flush(&s);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && m.mark == 0 &&
	    st.calls == 0 && fsize(p) == 0,
	    "LAST: deltas without a mark are cut");
	ds_slog_close(&s);

	ok(ds_slog_open(&s, p, 7, on_delta, &st, &m, &code) == -1 &&
	    code == DS_EX_SOFTWARE, "a bad mode is refused");
	ds_slog_close(&s);
	map_free(&st);
}

static void
deletes(void)
{
	const char *p = path_of("del.slog");
	struct ds_slog s;
	struct ds_mark m;
	struct ds_mark m0 = { 0, 9, 0, 0, NULL };
	struct map st = { NULL, 0, 0, 0 };
	int code;

	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	put(&s, "b", "2");
	put(&s, "", "empty key");
	put(&s, "e", "");
	mark(&s, 1, 0);
	put(&s, "a", NULL);
	put(&s, "zz", NULL);
	ok(ds_slog_mark(&s, &m0) == 0 && m0.mark == 2,
	    "delete: a mark with no positions");
	ok(ds_slog_flush(&s) == 0, "delete: flush");
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && m.mark == 2 &&
	    m.n == 0 && m.pos == NULL && m.outseq == 9,
	    "delete: recover the mark without positions");
	ok(st.deletes == 2 && map_find(&st, "a", 1) == NULL &&
	    map_find(&st, "b", 1) != NULL && map_find(&st, "", 0) != NULL &&
	    map_find(&st, "e", 1) != NULL && map_find(&st, "e", 1)->vl == 0,
	    "delete: a deleted, b kept, empty key and empty value kept");
	ds_slog_close(&s);
	map_free(&st);
}

/* D a=1, M1, D a=2, then M2 cut to every length. */
static void
torn(void)
{
	const char *p = path_of("torn.slog");
	struct ds_slog s;
	struct ds_mark m;
	struct map st = { NULL, 0, 0, 0 };
	struct ds_buf full = DS_BUF_INIT;
	uint64_t end1, end2, at, bit;
	size_t len, bad;
	int code;

	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	mark(&s, 1, 1);
	ds_slog_flush(&s);
	end1 = s.size;
	put(&s, "a", "2");
	ds_slog_flush(&s);
	end2 = s.size;
	mark(&s, 2, 2);
	ds_slog_flush(&s);
	ds_slog_close(&s);
	slurp(p, &full);
	ok(full.len == end2 + DS_FRAME_HDR + 28 + 64, "torn: built, %zu bytes",
	    full.len);

	bad = 0;
	for (len = end2 + 1; len < full.len; len++) {
		spit(p, full.p, len);
		if (reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) != 0 ||
		    !s.torn || strstr(s.err, "torn") == NULL ||
		    m.mark != 1 || !map_is(&st, "a=1") ||
		    fsize(p) != (long long)end1 || s.size != end1) {
			if (bad++ == 0)
				printf("# length %zu: %s\n", len, s.err);
		}
		ds_mark_free(&m);
		ds_slog_close(&s);
	}
	ok(bad == 0, "torn: every cut of the last MARK: cut, warned, M1 "
	    "state (%zu bad of %llu)", bad,
	    (unsigned long long)(full.len - end2 - 1));
	spit(p, full.p, end2 + 5);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	ok(strstr(s.err, "offset") != NULL && strstr(s.err, p) != NULL,
	    "torn: the warning names the file and offset: %s", s.err);
	ds_mark_free(&m);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && !s.torn &&
	    m.mark == 1, "torn: reopening after the cut finds no tear");
	ds_mark_free(&m);
	ds_slog_close(&s);

	bad = 0;
	for (len = end1 + 1; len < end2; len++) {
		spit(p, full.p, len);
		if (reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) != 0 ||
		    !s.torn || m.mark != 0 || fsize(p) != 0)
			bad++;
		ds_slog_close(&s);
		spit(p, full.p, len);
		if (reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) != 0 ||
		    !s.torn || m.mark != 1 || !map_is(&st, "a=1") ||
		    fsize(p) != (long long)end1)
			bad++;
		ds_mark_free(&m);
		ds_slog_close(&s);
	}
	ok(bad == 0, "torn: every cut of a trailing DELTA (LAST and ACKED)");

	bad = 0;
	for (len = 1; len < end1; len++) {
		spit(p, full.p, len);
		if (reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) != 0 ||
		    s.torn != (len != DS_FRAME_HDR + 10) || m.mark != 0 ||
		    st.calls != 0 || fsize(p) != 0)
			if (bad++ == 0)
				printf("# length %zu: %s\n", len, s.err);
		ds_slog_close(&s);
	}
	ok(bad == 0, "torn: every cut of the first records: empty state "
	    "(torn unless the cut falls between records)");

	spit(p, full.p, full.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && !s.torn &&
	    m.mark == 2 && map_is(&st, "a=2"), "torn: the whole file: M2");
	ds_mark_free(&m);
	ds_slog_close(&s);

	/* A flip anywhere in the last record is a torn tail too. */
	bad = 0;
	for (at = end2; at < full.len; at++)
		for (bit = 0; bit < 8; bit++) {
			full.p[at] ^= 1u << bit;
			spit(p, full.p, full.len);
			full.p[at] ^= 1u << bit;
			if (reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) != 0 ||
			    !s.torn || m.mark != 1 || !map_is(&st, "a=1") ||
			    fsize(p) != (long long)end1) {
				if (bad++ == 0)
					printf("# byte %llu bit %llu: %s\n",
					    (unsigned long long)at,
					    (unsigned long long)bit, s.err);
			}
			ds_mark_free(&m);
			ds_slog_close(&s);
		}
	ok(bad == 0, "torn: every bit flip in the last record: cut, M1 "
	    "(%zu bad)", bad);
	ds_buf_free(&full);
	map_free(&st);
}

/* D a=1, M1, D b=2 (the middle record), M2, D c=3, M3. */
static void
corrupt(void)
{
	const char *p = path_of("bad.slog");
	struct ds_slog s;
	struct ds_mark m;
	struct map st = { NULL, 0, 0, 0 };
	struct ds_buf full = DS_BUF_INIT, b = DS_BUF_INIT;
	unsigned char body[64];
	char want[64];
	uint64_t mid, midend, at, bit, end3;
	size_t bad;
	int code;

	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "a", "1");
	mark(&s, 1, 1);
	ds_slog_flush(&s);
	mid = s.size;
	put(&s, "b", "2");
	ds_slog_flush(&s);
	midend = s.size;
	mark(&s, 2, 2);
	put(&s, "c", "3");
	mark(&s, 3, 3);
	ds_slog_flush(&s);
	end3 = s.size;
	ds_slog_close(&s);
	slurp(p, &full);
	snprintf(want, sizeof(want), "corrupt record at offset %llu",
	    (unsigned long long)mid);

	bad = 0;
	for (at = mid; at < midend; at++)
		for (bit = 0; bit < 8; bit++) {
			full.p[at] ^= 1u << bit;
			spit(p, full.p, full.len);
			full.p[at] ^= 1u << bit;
			if (reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) !=
			    -1 || code != DS_EX_DATAERR ||
			    strstr(s.err, want) == NULL ||
			    strncmp(s.err, p, strlen(p)) != 0 ||
			    st.calls != 0 || s.fd != -1 || fsize(p) != (long long)full.len) {
				if (bad++ == 0)
					printf("# byte %llu bit %llu: %s\n",
					    (unsigned long long)at,
					    (unsigned long long)bit, s.err);
			}
			ds_slog_close(&s);
		}
	ok(bad == 0, "corrupt: every bit flip in a middle record: 65, "
	    "offset %llu, nothing applied or cut (%zu bad)",
	    (unsigned long long)mid, bad);
	full.p[mid + 20] ^= 4;
	spit(p, full.p, full.len);
	full.p[mid + 20] ^= 4;
	reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code);
	printf("# %s\n", s.err);
	ok(code == DS_EX_DATAERR && strstr(s.err, "checksum") != NULL,
	    "corrupt: ACKED mode too, and the reason is given");
	ds_slog_close(&s);

	/* Good frames with bad bodies: corrupt even at the end. */
	memset(body, 0, sizeof(body));
	ds_put_le32(body, 5);		/* key 5 bytes, but only 2 follow */
	ds_buf_reset(&b);
	ds_buf_add(&b, full.p, end3);
	ds_frame_append(&b, DS_FRAME_DELTA, 0, body, 6);
	spit(p, b.p, b.len);
	snprintf(want, sizeof(want), "corrupt record at offset %llu",
	    (unsigned long long)end3);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR && strstr(s.err, want) != NULL &&
	    fsize(p) == (long long)b.len,
	    "corrupt: a DELTA whose key runs past it (%s)", s.err);
	ds_slog_close(&s);

	ds_put_le32(body, 1);		/* key 1, vallen 9, only 3 bytes */
	ds_put_le32(body + 5, 9);
	b.len = end3;
	ds_frame_append(&b, DS_FRAME_DELTA, 0, body, 12);
	spit(p, b.p, b.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR && strstr(s.err, want) != NULL,
	    "corrupt: a DELTA whose lengths do not add up");
	ds_slog_close(&s);

	b.len = end3;
	ds_frame_append(&b, DS_FRAME_DELTA, 0, body, 3);
	spit(p, b.p, b.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR, "corrupt: a DELTA under 8 bytes");
	ds_slog_close(&s);

	memset(body, 0, sizeof(body));
	ds_put_le32(body + 24, 1);	/* one position, none there */
	b.len = end3;
	ds_frame_append(&b, DS_FRAME_MARK, 0, body, 28);
	spit(p, b.p, b.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR && strstr(s.err, "MARK") != NULL,
	    "corrupt: a MARK shorter than its count");
	ds_slog_close(&s);

	b.len = end3;
	ds_frame_append(&b, DS_FRAME_ACKED, 0, body, 4);
	spit(p, b.p, b.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR, "corrupt: an ACKED of 4 bytes");
	ds_slog_close(&s);

	b.len = end3;
	ds_frame_append(&b, DS_FRAME_BUNDLE, 0, body, 8);
	spit(p, b.p, b.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR && strstr(s.err, "type") != NULL,
	    "corrupt: a record of another type");
	ds_slog_close(&s);

	b.len = end3;
	ds_frame_append(&b, DS_FRAME_ACKED, 1, body, 8);
	spit(p, b.p, b.len);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR && strstr(s.err, "flags") != NULL,
	    "corrupt: unknown flags");
	ds_slog_close(&s);

	spit(p, "key=value\nmore text here\n", 25);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_DATAERR && fsize(p) == 25,
	    "corrupt: a text file is not a state log and is left alone");
	ds_slog_close(&s);

	spit(p, full.p, full.len);
	ok(ds_slog_open(&s, p, DS_SLOG_LAST, fail_delta, NULL, &m, &code) ==
	    -1 && code == DS_EX_SOFTWARE && s.fd == -1 &&
	    fsize(p) == (long long)full.len,
	    "a failing on_delta stops recovery (70), nothing cut");
	ds_slog_close(&s);
	ds_buf_free(&full);
	ds_buf_free(&b);
	map_free(&st);
}

static int
fail_iter_kv(void *arg, const void **k, size_t *kl, const void **v,
    size_t *vl)
{
	(void)arg, (void)k, (void)kl, (void)v, (void)vl;
	return -1;
}

static void
compact(void)
{
	const char *p = path_of("cmp.slog");
	char tmp[600], k[32], v[64];
	struct ds_slog s;
	struct ds_mark m, cm;
	struct map st = { NULL, 0, 0, 0 }, model = { NULL, 0, 0, 0 };
	struct iter it;
	struct stat sb;
	long long before;
	int code, i, n;

	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	for (i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "k%d", i % 97);
		if (i % 7 == 3) {
			put(&s, k, NULL);
			map_set(&model, k, strlen(k), NULL, 0);
		} else {
			snprintf(v, sizeof(v), "value %d", i);
			put(&s, k, v);
			map_set(&model, k, strlen(k), v, strlen(v));
		}
		if (i % 50 == 49) {
			n = mark(&s, (uint64_t)i, (uint64_t)i);
			ds_slog_acked(&s, (uint64_t)n);
			ds_slog_flush(&s);
		}
	}
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 60 &&
	    map_eq(&st, &model), "compact: 60 marks recovered");
	before = fsize(p);
	it.m = &st;
	it.i = 0;
	cm = m;
	ok(ds_slog_compact(&s, &cm, next_kv, &it) == 0 && cm.mark == 60,
	    "compact: compaction at mark 60");
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	ok(fsize(p) < before && fsize(p) == (long long)s.size &&
	    access(tmp, F_OK) == -1 && stat(p, &sb) == 0 &&
	    (sb.st_mode & 0777) == 0600,
	    "compact: smaller (%lld < %lld), no .tmp left, mode 0600",
	    fsize(p), before);
	put(&s, "after", "compaction");
	map_set(&model, "after", 5, "compaction", 10);
	ok(mark(&s, 7777, 1) == 61 && ds_slog_flush(&s) == 0 &&
	    fsize(p) == (long long)s.size,
	    "compact: writes go on into the new file");
	ds_mark_free(&m);
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && m.mark == 61 &&
	    pos_ok(&m, 7777) && map_eq(&st, &model) && !s.torn,
	    "compact: reopen LAST: snapshot + later records");
	ds_mark_free(&m);
	ds_slog_close(&s);
	map_set(&model, "after", 5, NULL, 0);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 60 &&
	    pos_ok(&m, 2999) && map_eq(&st, &model),
	    "compact: reopen ACKED: the snapshot's own ACKED counts");
	ds_mark_free(&m);

	/* A failing iterator leaves the old log in place. */
	before = fsize(p);
	cm.mark = 0;
	ok(ds_slog_compact(&s, &cm, fail_iter_kv, NULL) == -1 &&
	    fsize(p) == before && access(tmp, F_OK) == -1,
	    "compact: a failing iterator changes nothing (%s)", s.err);
	ds_slog_close(&s);

	/* Empty state, new mark number. */
	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	put(&s, "x", "1");
	mark(&s, 1, 1);
	put(&s, "x", NULL);
	mark(&s, 2, 2);
	map_free(&model);
	it.m = &model;
	it.i = 0;
	memset(&cm, 0, sizeof(cm));
	ok(ds_slog_compact(&s, &cm, next_kv, &it) == 0 && cm.mark == 3 &&
	    s.size == DS_FRAME_HDR + 28 + DS_FRAME_HDR + 8,
	    "compact: mark 0 takes a new number; an empty snapshot");
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_ACKED, &st, &s, &m, &code) == 0 && m.mark == 3 &&
	    st.n == 0, "compact: and it recovers");
	ds_slog_close(&s);
	map_free(&st);
	map_free(&model);
}

static void
large(void)
{
	const char *p = path_of("big.slog");
	struct ds_slog s;
	struct ds_mark m;
	struct map st = { NULL, 0, 0, 0 };
	struct ds_mark_pos *pos;
	struct ds_mark bm;
	struct kv *e;
	char *key, *val;
	size_t i, kl = 100000, vl = 3u << 20;
	int code, ro;

	key = malloc(kl);
	val = malloc(vl);
	pos = calloc(5000, sizeof(*pos));
	for (i = 0; i < kl; i++)
		key[i] = (char)(i * 7);
	for (i = 0; i < vl; i++)
		val[i] = (char)(i * 13 + 1);
	for (i = 0; i < 5000; i++) {
		pos[i].producer = i;
		pos[i].seq = (uint64_t)i << 33;
	}
	unlink(p);
	reopen(p, DS_SLOG_LAST, &st, &s, &m, &code);
	ok(ds_slog_delta(&s, key, kl, val, vl) == 0, "large: a 3 MiB value "
	    "under a 100 kB key");
	bm = (struct ds_mark){ 0, 1, 2, 5000, pos };
	ok(ds_slog_mark(&s, &bm) == 0 && ds_slog_flush(&s) == 0,
	    "large: a mark with 5000 positions");
	errno = 0;
	ok(ds_slog_delta(&s, "k", 1, val, DS_FRAME_MAX) == -1 &&
	    errno == EMSGSIZE, "large: a record over the frame limit: "
	    "EMSGSIZE");
	ok(s.pend.len == 0, "large: and nothing queued");

	/* A failing write leaves the records queued and the file as it was. */
	put(&s, "q", "queued");
	ro = open(p, O_RDONLY);
	i = (size_t)s.fd;
	s.fd = ro;
	ok(ds_slog_flush(&s) == -1 && s.pend.len > 0 &&
	    fsize(p) == (long long)s.size && strstr(s.err, "write") != NULL,
	    "large: a failed flush keeps the records queued (%s)", s.err);
	s.fd = (int)i;
	close(ro);
	ok(ds_slog_flush(&s) == 0 && s.pend.len == 0 &&
	    fsize(p) == (long long)s.size, "large: and a later flush writes "
	    "them");
	ds_slog_close(&s);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0 && m.mark == 1 &&
	    m.n == 5000 && m.pos[4999].producer == 4999 &&
	    m.pos[4999].seq == (uint64_t)4999 << 33 && st.n == 1 &&
	    (e = map_find(&st, key, kl)) != NULL && e->vl == vl &&
	    memcmp(e->v, val, vl) == 0, "large: recovered byte for byte");
	ds_mark_free(&m);
	ds_slog_close(&s);
	free(key);
	free(val);
	free(pos);
	map_free(&st);
}

/*
 * Nothing is written through a planted link: the log itself is refused
 * (74), a stale .tmp is removed by compaction; a directory others may
 * write is refused (74) and named.
 */
static void
links(void)
{
	struct ds_slog s;
	struct ds_mark m, cm;
	struct map st = { 0 };
	struct iter it = { 0 };
	struct stat sb;
	char p[512], victim[512], tmp[520], sub[512];
	int code = 0;

	snprintf(p, sizeof(p), "%s", path_of("ln.slog"));
	snprintf(victim, sizeof(victim), "%s", path_of("victim"));
	spit(victim, "precious\n", 9);
	symlink(victim, p);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_IOERR && strstr(s.err, "symbolic link") != NULL &&
	    fsize(victim) == 9, "links: a link as the log is refused (%s)",
	    s.err);
	ds_slog_close(&s);
	unlink(p);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	symlink(victim, tmp);
	ok(reopen(p, DS_SLOG_LAST, &st, &s, &m, &code) == 0, "links: open");
	put(&s, "k", "v");
	mark(&s, 1, 1);
	memset(&cm, 0, sizeof(cm));
	it.m = &st;
	ok(ds_slog_compact(&s, &cm, next_kv, &it) == 0 && fsize(victim) == 9 &&
	    lstat(tmp, &sb) == -1 && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode),
	    "links: compaction removes a planted .tmp link, writes nothing "
	    "through it");
	ds_mark_free(&m);
	ds_slog_close(&s);

	mkdir(path_of("shared"), 0700);
	chmod(path_of("shared"), 0777);
	snprintf(sub, sizeof(sub), "%s", path_of("shared/x.slog"));
	ok(reopen(sub, DS_SLOG_LAST, &st, &s, &m, &code) == -1 &&
	    code == DS_EX_IOERR &&
	    strstr(s.err, "writable by group or others") != NULL &&
	    fsize(sub) == -1,
	    "links: a directory others may write is refused (%s)", s.err);
	ds_slog_close(&s);
	map_free(&st);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");
	char cmd[300];

	snprintf(dir, sizeof(dir), "%s/ds-unit-slog-XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	empty();
	recovery();
	deletes();
	torn();
	corrupt();
	compact();
	links();
	large();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done();
}
