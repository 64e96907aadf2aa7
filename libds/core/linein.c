/*
 * linein.c: lines into bundles (linein.h).  Input is read in big chunks
 * and split with memchr; tuples are packed straight into the output
 * buffer.  What is left after the last newline is a partial line, kept at
 * the front of the buffer for the next read; a partial line already over
 * maxtuple is refused before reading more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "core/line.h"
#include "core/linein.h"
#include "core/timefmt.h"

#define READ_CHUNK	(256 * 1024)	/* least room for one read(2) */
#define RATE_MIN_READ	4096		/* --rate: bytes per read(2), from */
#define RATE_MAX_READ	65536		/* ... to */
#define SHOW_MAX	128		/* bytes of a bad field quoted */

void
ds_linein_init(struct ds_linein *l)
{
	memset(l, 0, sizeof(*l));
	l->maxtuple = DS_TUPLE_MAX;
	l->bundle = 64;
	l->delim = DS_LINE_BLANKS;
	l->timefmt = DS_TIMEFMT_EPOCH;
}

int
ds_linein_open(struct ds_linein *l)
{
	l->rcap = l->maxtuple + 1 + READ_CHUNK;
	if ((l->rb = malloc(l->rcap)) == NULL ||
	    ds_buf_grow(&l->out, READ_CHUNK + 64 * 1024) == -1)
		return -1;
	return 0;
}

void
ds_linein_term(struct ds_linein *l)
{
	free(l->rb);
	l->rb = NULL;
	ds_buf_free(&l->out);
}

size_t
ds_linein_room(struct ds_linein *l, char **p)
{
	size_t room = l->rcap - l->rlen;
	uint64_t lines, want;

	*p = l->rb + l->rlen;
	if (l->rate == 0)
		return room;
	/*
	 * About a millisecond of input a read, from the line length so far:
	 * small reads keep the pace even, but at hundreds of thousands of
	 * lines a second they cut bundles of a few lines (measured: p99
	 * twice as high).
	 */
	lines = l->lineno - l->rl0;
	want = lines == 0 ? RATE_MIN_READ : l->rbytes / lines * l->rate / 1000;
	if (want < RATE_MIN_READ)
		want = RATE_MIN_READ;
	if (want > RATE_MAX_READ)
		want = RATE_MAX_READ;
	return room > want ? (size_t)want : room;
}

double
ds_linein_ahead(struct ds_linein *l)
{
	uint64_t now = ds_now_ns(), due;

	if (l->rate == 0)
		return 0;
	if (l->rt0 == 0) {
		l->rt0 = now;
		l->rl0 = l->lineno;
	}
	due = (uint64_t)((double)(now - l->rt0) * (double)l->rate / 1e9);
	if (l->lineno - l->rl0 <= due)
		return 0;
	return (double)(l->lineno - l->rl0 - due) / (double)l->rate;
}

void
ds_linein_close(struct ds_linein *l)
{
	if (!l->w.open)
		return;
	/* Bundles are closed well below DS_FRAME_MAX: end cannot fail. */
	(void)ds_bundle_end(&l->w);
	if (l->closed != NULL)
		l->closed(l->arg, l->last, l->lastend);
}

size_t
ds_linein_whole(const struct ds_linein *l)
{
	return l->w.open ? l->w.start : l->out.len;
}

void
ds_linein_consume(struct ds_linein *l, size_t n)
{
	memmove(l->out.p, l->out.p + n, l->out.len - n);
	l->out.len -= n;
	if (l->w.open)
		l->w.start -= n;
}

void
ds_linein_resume(struct ds_linein *l, uint64_t off, uint64_t lineno)
{
	l->base = off;
	l->lineno = lineno;
}

/* A line too long, or with a bad time field (f, fl): 65, err set. */
static int
too_long(struct ds_linein *l, const char *least, size_t size)
{
	l->code = DS_EX_DATAERR;
	snprintf(l->err, sizeof(l->err), "line %llu: tuple of %s%zu bytes over "
	    "--max-tuple %zu", (unsigned long long)l->lineno, least, size,
	    l->maxtuple);
	return -1;
}

static int
bad_time(struct ds_linein *l, const char *f, size_t fl)
{
	l->code = DS_EX_DATAERR;
	snprintf(l->err, sizeof(l->err), "line %llu: bad time field: '%.*s'",
	    (unsigned long long)l->lineno, (int)(fl > SHOW_MAX ? SHOW_MAX : fl),
	    fl ? f : "");
	return -1;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether f[0..rest) has a field end (or a blank run) at used. */
static int
field_end(const struct ds_linein *l, const char *f, size_t rest, size_t used)
{
	if (used == 0)
		return 0;
	if (used == rest)
		return 1;
	if (l->delim != DS_LINE_BLANKS)
		return f[used] == l->delim;
	return blank(f[used]) || blank(f[used - 1]);
}

/*
 * The bytes from f on that a pattern spanning as many fields as it has
 * words would read: what an error quotes.
 */
static size_t
pat_span(const struct ds_linein *l, const char *f, size_t rest)
{
	const char *q = l->timepat->all;
	size_t words = 0, fl;
	int sep, in = 0;

	for (; *q != '\0'; q++) {
		sep = l->delim == DS_LINE_BLANKS ? blank(*q) : *q == l->delim;
		if (!sep && !in)
			words++;
		in = !sep;
	}
	if (words > 0 && ds_line_field(f, rest, words, l->delim, &q, &fl))
		return (size_t)(q + fl - f);
	return rest;
}

/* The event time of line[0..n) into *ns: 0, or -1 with err set. */
static int
read_time(struct ds_linein *l, const char *line, size_t n, uint64_t *ns)
{
	const char *f = NULL;
	size_t fl = 0, rest, used;

	if (!ds_line_field(line, n, l->timefield, l->delim, &f, &fl))
		return bad_time(l, f, 0);
	if (l->timepat == NULL) {
		if (ds_timefmt_parse(l->timefmt, f, fl, ns) == -1)
			return bad_time(l, f, fl);
		return 0;
	}
	/* A pattern reads on from the field's start to a field's end. */
	rest = (size_t)(line + n - f);
	if (ds_timefmt_pat_parse(l->timepat, f, rest, ns, &used) == -1 ||
	    !field_end(l, f, rest, used))
		return bad_time(l, f, pat_span(l, f, rest));
	return 0;
}

static int
nomem(struct ds_linein *l)
{
	l->code = DS_EX_OSERR;
	snprintf(l->err, sizeof(l->err), "out of memory");
	return -1;
}

/* One line, ending at input offset end, into the open bundle. */
static int
add_line(struct ds_linein *l, const char *line, size_t n, uint64_t end)
{
	struct ds_tuple t;
	const char *f = NULL;
	size_t fl = 0, size;

	l->lineno++;
	memset(&t, 0, sizeof(t));
	t.seq = l->lineno;
	t.payload = (const unsigned char *)line;
	t.paylen = n;
	t.time = l->now;
	if (l->keyfield > 0 &&
	    ds_line_field(line, n, l->keyfield, l->delim, &f, &fl)) {
		t.key = (const unsigned char *)f;
		t.keylen = fl;
	}
	if ((size = t.keylen + t.paylen) > l->maxtuple)
		return too_long(l, "", size);
	if (l->timefield > 0 && read_time(l, line, n, &t.time) == -1)
		return -1;
	/* Keep a bundle under the soft limit unless one tuple is over it. */
	if (l->w.open && l->w.count > 0 &&
	    ds_bundle_bytes(&l->w) + DS_TUPLE_FIXED + size > DS_BUNDLE_SOFTMAX)
		ds_linein_close(l);
	if (!l->w.open) {
		if (ds_bundle_begin(&l->w, &l->out, l->producer, l->epoch) ==
		    -1)
			return nomem(l);
		if (l->opened != NULL)
			l->opened(l->arg);
	}
	if (ds_bundle_add(&l->w, &t) == -1)
		return nomem(l);
	l->last = t.seq;
	l->lastend = end;
	if (l->w.count >= l->bundle ||
	    ds_bundle_bytes(&l->w) >= DS_BUNDLE_SOFTMAX)
		ds_linein_close(l);
	return 0;
}

int
ds_linein_feed(struct ds_linein *l, size_t n, int eof)
{
	char *p = l->rb, *end, *q, *nl;
	size_t rest;
	int rc = 0;

	if (n > 0) {
		l->rbytes += n;
		if (l->timefield == 0)
			l->now = ds_now_ns();
	}
	l->rlen += n;
	end = l->rb + l->rlen;
	q = l->rb + l->scan;
	while (rc == 0 && (nl = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		rc = add_line(l, p, (size_t)(nl - p),
		    l->base + (uint64_t)(nl + 1 - l->rb));
		p = q = nl + 1;
	}
	rest = (size_t)(end - p);
	if (rc == 0 && eof && rest > 0) {
		rc = add_line(l, p, rest, l->base + l->rlen);
		rest = 0;
	}
	/* The line is already too long: refuse it before reading more. */
	if (rc == 0 && rest > l->maxtuple) {
		l->lineno++;
		rc = too_long(l, "at least ", rest);
	}
	if (p != l->rb && rest > 0)
		memmove(l->rb, p, rest);
	l->base += (uint64_t)(p - l->rb);
	l->rlen = l->scan = rest;
	return rc;
}
