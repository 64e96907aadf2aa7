/*
 * ds-source: lines of text in, BUNDLE frames out.  Each line becomes one
 * tuple (payload = the line, seq = its line number, producer 0, epoch 0)
 * with a key and an event time picked from its fields.  Input is read in
 * big chunks and split with memchr; tuples are packed straight into the
 * output buffer, which is written in big batches: when it passes
 * FLUSH_AT, when the input has nothing ready (complete bundles only, so
 * an interactive pipeline sees them at once), when a bundle has lingered
 * --linger ms, and at end of input.  One libev loop: ev_io on a pipe or
 * terminal, ev_idle (read as fast as possible) on a regular file.
 *
 * Topology mode (--listen, see inst.h): bundles carry --id and --epoch
 * and go to the retained output stream instead of stdout; with --state
 * and --file every bundle gets a MARK in the state log (aux: the file
 * offset after it), so a restart seeks back and regenerates the same
 * seqs.  Reading stops while the stream holds too much.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "node/inst.h"
#include "core/line.h"
#include "core/timefmt.h"

#define USAGE \
	"ds-source [-qv] [--bundle N] [--delimiter C] [--file PATH]\n" \
	"          [--key-field N] [--linger MS] [--max-tuple SIZE]\n" \
	"          [--notify-fd FD] [--rate N] [--time-field N]\n" \
	"          [--time-format FORMAT]\n" \
	"          [topology options]"

#define READ_CHUNK	(256 * 1024)	/* least room for one read(2) */
#define RATE_MIN_READ	4096		/* --rate: bytes per read(2), from */
#define RATE_MAX_READ	65536		/* ... to */
#define RATE_MAX	1000000000
#define FLUSH_AT	(256 * 1024)	/* write out once this much is ready */
#define SHOW_MAX	128		/* bytes of a bad field quoted */

enum {
	OPT_BUNDLE = 1,
	OPT_DELIMITER,
	OPT_FILE,
	OPT_KEYFIELD,
	OPT_LINGER,
	OPT_MAXTUPLE,
	OPT_RATE,
	OPT_TIMEFIELD,
	OPT_TIMEFORMAT
};

struct pend_mark {
	uint64_t		 mark;
	uint64_t		 outseq;
	uint64_t		 aux;
};

struct source {
	int			 fd;
	const char		*name;		/* "stdin" or the --file path */
	int			 regular;	/* fd is a regular file */

	/* Read buffer: rb[0..rlen) holds input, no newline in rb[0..scan). */
	char			*rb;
	size_t			 rcap;
	size_t			 rlen;
	size_t			 scan;
	uint64_t		 lineno;
	uint64_t		 now;		/* ingestion time of the chunk */

	size_t			 maxtuple;
	uint32_t		 bundle;
	unsigned		 linger;	/* ms; only for non-files */
	uint64_t		 rate;		/* --rate: lines/s, 0: no limit */
	uint64_t		 rt0;		/* ns: pacing started */
	uint64_t		 rl0;		/* lineno then */
	uint64_t		 rbytes;	/* bytes read since then */
	int			 throttled;	/* not reading: ahead of --rate */
	ev_timer		 rt;
	size_t			 keyfield;	/* 0: no key */
	size_t			 timefield;	/* 0: ingestion time */
	int			 delim;
	int			 timefmt;

	struct ds_buf		 out;
	struct ds_bundle_writer	 w;

	/* Topology mode. */
	struct ds_inst		 ti;
	uint64_t		 producer;	/* 0 in pipe mode */
	uint32_t		 epoch;
	uint64_t		 base;		/* file offset of rb[0] */
	uint64_t		 lineend;	/* offset after the line being added */
	uint64_t		 bfirst, blast;	/* seqs of the open bundle */
	uint64_t		 boff;		/* offset after its last line */
	int			 eof;
	int			 paused;	/* not reading: output is full */
	int			 use_slog;
	struct ds_slog		 sl;
	struct ds_mark	 last;		/* newest mark acked */
	struct pend_mark	*pm;		/* marks not acked yet, FIFO */
	size_t			 pmhead, pmlen, pmcap;
	/* Exactly-once: bundles written to the journal, not yet durable. */
	struct ds_buf		*jq;		/* ring of jqcap */
	struct pend_mark	*jqm;		/* and their marks */
	size_t			 jqhead, jqlen, jqcap;
	struct ds_buf		 jbuf;		/* the unit being built */
	uint64_t		 jmark;		/* last mark number used */
	struct pend_mark	 jack;		/* newest mark acked downstream */
	int			 jackset;	/* jack not journaled yet */
	int			 jrec;		/* recovery found an acked position */
	uint64_t		 jrec_outseq, jrec_aux;
	int			 ended;		/* ds_inst_end called */

	struct ev_loop		*loop;
	ev_io			 rd;
	ev_idle			 idle;
	ev_timer		 lt;
	ev_signal		 sigint;
	ev_signal		 sigterm;
};

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

/* Whether fd has input (or EOF, or an error) ready right now. */
static int
input_ready(int fd)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;
}

/*
 * Write the complete bundles in out; the open bundle, if any, stays and
 * moves to the front of the buffer (the writer's start follows it).
 */
static void
flush_complete(struct source *s)
{
	size_t n = s->w.open ? s->w.start : s->out.len;

	if (n == 0 || s->ti.on)
		return;
	if (ds_write_all(STDOUT_FILENO, s->out.p, n) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	if (s->w.open) {
		memmove(s->out.p, s->out.p + n, s->out.len - n);
		s->out.len -= n;
		s->w.start = 0;
	} else
		s->out.len = 0;
}

static void pause_input(struct source *);

static struct pend_mark *
pm_push(struct source *s)
{
	struct pend_mark *pm;

	if (s->pmhead + s->pmlen == s->pmcap) {
		if (s->pmhead > 0) {
			memmove(s->pm, s->pm + s->pmhead, s->pmlen *
			    sizeof(*s->pm));
			s->pmhead = 0;
		} else {
			s->pmcap = s->pmcap ? s->pmcap * 2 : 256;
			if ((pm = realloc(s->pm, s->pmcap * sizeof(*pm))) ==
			    NULL)
				nomem();
			s->pm = pm;
		}
	}
	return &s->pm[s->pmhead + s->pmlen++];
}

/* Exactly-once: the oldest unit is durable; its bundle may be pulled. */
static void
jdurable(void *arg, uint64_t token)
{
	struct source *s = arg;
	struct ds_buf *b = &s->jq[s->jqhead];

	(void)token;
	DS_ASSERT(s->jqlen > 0);
	*pm_push(s) = s->jqm[s->jqhead];
	ds_inst_append(&s->ti, b->p, b->len);
	ds_buf_free(b);
	s->jqhead = (s->jqhead + 1) % s->jqcap;
	s->jqlen--;
}

/*
 * Exactly-once: the bundle in out and a MARK (output seq, the input
 * offset after it) go to the journal as one unit; the bundle is pulled
 * only once that is durable, so a replay after any crash is the same.
 */
/*
 * What consumers acked, for the journal.  A file is read again from the
 * acked position on recovery (key JACK_KEY: outseq:u64 offset:u64), so
 * its bundles need not be journaled; from stdin the bundles are in the
 * journal and an ACKED lets it drop them.
 */
#define JACK_KEY	"\0acked"
#define JACK_KEYLEN	6

static uint32_t
put_jack(struct source *s)
{
	unsigned char v[16];

	if (!s->jackset)
		return 0;
	s->jackset = 0;
	if (s->regular) {
		ds_put_le64(v, s->jack.outseq);
		ds_put_le64(v + 8, s->jack.aux);
		if (ds_rec_put_delta(&s->jbuf, JACK_KEY, JACK_KEYLEN, v, 16)
		    == -1)
			nomem();
	} else if (ds_rec_put_acked(&s->jbuf, s->jack.mark) == -1)
		nomem();
	return 1;
}

static int
load_jack(void *arg, const void *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct source *s = arg;

	if (keylen != JACK_KEYLEN || memcmp(key, JACK_KEY, JACK_KEYLEN) != 0 ||
	    val == NULL || vallen != 16)
		return -1;	/* a source's state has nothing else */
	s->jrec = 1;
	s->jrec_outseq = ds_get_le64(val);
	s->jrec_aux = ds_get_le64((const unsigned char *)val + 8);
	return 0;
}

static void
jtake(struct source *s)
{
	struct ds_mark m;
	struct ds_buf *nq;
	struct pend_mark *nm;
	size_t i, ncap;
	uint32_t n = 1;

	ds_buf_reset(&s->jbuf);
	if (!s->regular) {
		/* stdin cannot be read again: journal the input itself */
		if (ds_buf_add(&s->jbuf, s->out.p, s->out.len) == -1)
			nomem();
		n++;
	}
	n += put_jack(s);
	memset(&m, 0, sizeof(m));
	m.mark = ++s->jmark;
	m.outseq = s->blast;
	m.aux = s->boff;
	if (ds_rec_put_mark(&s->jbuf, &m) == -1)
		nomem();
	if (s->jqlen == s->jqcap) {
		ncap = s->jqcap ? s->jqcap * 2 : 64;
		if ((nq = calloc(ncap, sizeof(*nq))) == NULL ||
		    (nm = calloc(ncap, sizeof(*nm))) == NULL)
			nomem();
		for (i = 0; i < s->jqlen; i++) {
			nq[i] = s->jq[(s->jqhead + i) % s->jqcap];
			nm[i] = s->jqm[(s->jqhead + i) % s->jqcap];
		}
		free(s->jq);
		free(s->jqm);
		s->jq = nq;
		s->jqm = nm;
		s->jqcap = ncap;
		s->jqhead = 0;
	}
	i = (s->jqhead + s->jqlen++) % s->jqcap;
	s->jq[i] = s->out;		/* moved: the bundle, pulled once durable */
	memset(&s->out, 0, sizeof(s->out));
	s->jqm[i].mark = m.mark;
	s->jqm[i].outseq = m.outseq;
	s->jqm[i].aux = m.aux;
	ds_inst_valid(&s->ti);
	ds_inst_jwrite_buf(&s->ti, &s->jbuf, n, jdurable, s, m.mark);
	s->w.start = 0;
	pause_input(s);
}

/* Stop reading while the output stream (or the journal queue) is full. */
static void
pause_input(struct source *s)
{
	if (!s->paused && ds_inst_full(&s->ti)) {
		s->paused = 1;
		if (s->regular)
			ev_idle_stop(s->loop, &s->idle);
		else
			ev_io_stop(s->loop, &s->rd);
	}
}

/* Topology mode: one closed bundle from out to the output stream. */
static void
take_bundle(struct source *s)
{
	struct ds_mark m;
	struct pend_mark *pm;

	if (s->ti.exactly) {
		jtake(s);
		return;
	}
	if (s->use_slog) {
		memset(&m, 0, sizeof(m));
		m.outseq = s->blast;
		m.aux = s->boff;
		if (ds_slog_mark(&s->sl, &m) == -1)
			nomem();
		/* The mark is in the log before anyone can pull the bundle. */
		ds_inst_slog_flush(&s->ti, &s->sl);
		pm = pm_push(s);
		pm->mark = m.mark;
		pm->outseq = m.outseq;
		pm->aux = m.aux;
	}
	ds_inst_valid(&s->ti);
	ds_inst_append(&s->ti, s->out.p, s->out.len);
	s->out.len = 0;
	s->w.start = 0;
	pause_input(s);
}

static void
close_bundle(struct source *s)
{
	int rc;

	if (!s->w.open)
		return;
	/* Bundles are closed well below DS_FRAME_MAX: end cannot fail. */
	rc = ds_bundle_end(&s->w);
	DS_ASSERT(rc == 0);
	if (s->linger > 0)
		ev_timer_stop(s->loop, &s->lt);
	if (s->ti.on)
		take_bundle(s);
	else if (s->out.len >= FLUSH_AT)
		flush_complete(s);
}

static void
flush_all(struct source *s)
{
	close_bundle(s);
	flush_complete(s);
}

/* A bad line: the tuples of the lines before it go out, then exit 65. */
static void __attribute__((format(printf, 2, 3), noreturn))
die_line(struct source *s, const char *fmt, ...)
{
	va_list ap;

	flush_all(s);
	va_start(ap, fmt);
	ds_vlog(DS_LOG_FATAL, 0, fmt, ap);
	va_end(ap);
	exit(DS_EX_DATAERR);
}

static void
add_line(struct source *s, const char *line, size_t n)
{
	struct ds_tuple t;
	const char *f = NULL;
	size_t fl = 0, size;

	s->lineno++;
	memset(&t, 0, sizeof(t));
	t.seq = s->lineno;
	t.payload = (const unsigned char *)line;
	t.paylen = n;
	if (s->keyfield > 0 &&
	    ds_line_field(line, n, s->keyfield, s->delim, &f, &fl)) {
		t.key = (const unsigned char *)f;
		t.keylen = fl;
	}
	size = t.keylen + t.paylen;
	if (size > s->maxtuple)
		die_line(s, "line %llu: tuple of %zu bytes over "
		    "--max-tuple %zu", (unsigned long long)s->lineno, size,
		    s->maxtuple);
	if (s->timefield > 0) {
		if (!ds_line_field(line, n, s->timefield, s->delim, &f, &fl))
			fl = 0;
		if (fl == 0 || ds_timefmt_parse(s->timefmt, f, fl,
		    &t.time) == -1)
			die_line(s, "line %llu: bad time field: '%.*s'",
			    (unsigned long long)s->lineno,
			    (int)(fl > SHOW_MAX ? SHOW_MAX : fl), fl ? f : "");
	} else
		t.time = s->now;

	/* Keep a bundle under the soft limit unless one tuple is over it. */
	if (s->w.open && s->w.count > 0 &&
	    ds_bundle_bytes(&s->w) + DS_TUPLE_FIXED + size > DS_BUNDLE_SOFTMAX)
		close_bundle(s);
	if (!s->w.open) {
		if (ds_bundle_begin(&s->w, &s->out, s->producer,
		    s->epoch) == -1)
			nomem();
		s->bfirst = t.seq;
		if (s->linger > 0) {
			ev_timer_set(&s->lt, s->linger / 1000.0, 0.0);
			ev_timer_start(s->loop, &s->lt);
		}
	}
	if (ds_bundle_add(&s->w, &t) == -1)
		nomem();
	s->blast = t.seq;
	s->boff = s->lineend;
	if (s->w.count >= s->bundle ||
	    ds_bundle_bytes(&s->w) >= DS_BUNDLE_SOFTMAX)
		close_bundle(s);
}

/*
 * Turn every complete line in rb into a tuple; at EOF the rest is the
 * last line.  What remains is a partial line, kept at the front of rb.
 */
static void
split(struct source *s, int eof)
{
	char *p = s->rb, *end = s->rb + s->rlen, *q = s->rb + s->scan, *nl;
	size_t rest;

	while ((nl = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		s->lineend = s->base + (uint64_t)(nl + 1 - s->rb);
		add_line(s, p, (size_t)(nl - p));
		p = q = nl + 1;
	}
	rest = (size_t)(end - p);
	if (eof && rest > 0) {
		s->lineend = s->base + s->rlen;
		add_line(s, p, rest);
		rest = 0;
	}
	/* The line is already too long: refuse it before reading more. */
	if (rest > s->maxtuple)
		die_line(s, "line %llu: tuple of at least %zu bytes "
		    "over --max-tuple %zu", (unsigned long long)s->lineno + 1,
		    rest, s->maxtuple);
	if (p != s->rb && rest > 0)
		memmove(s->rb, p, rest);
	s->base += (uint64_t)(p - s->rb);
	s->rlen = s->scan = rest;
}

/* Topology mode: the input ended; the process ends with the stream. */
static void
topo_eof(struct source *s)
{
	s->eof = 1;
	if (s->regular)
		ev_idle_stop(s->loop, &s->idle);
	else
		ev_io_stop(s->loop, &s->rd);
	if (s->ti.exactly && ds_inst_jpending(&s->ti) > 0)
		return;		/* tick ends it once everything is durable */
	s->ended = 1;
	ds_inst_end(&s->ti);
}

static void
reading(struct source *s, int on)
{
	if (on && (s->paused || s->throttled || s->eof))
		return;
	if (s->regular)
		(on ? ev_idle_start : ev_idle_stop)(s->loop, &s->idle);
	else
		(on ? ev_io_start : ev_io_stop)(s->loop, &s->rd);
}

static void
on_rate(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source *s = w->data;

	(void)loop;
	(void)revents;
	s->throttled = 0;
	reading(s, 1);
}

/*
 * --rate: 1 if the lines so far are ahead of the rate; reading then
 * stops (what is complete goes out now) until the rate catches up.
 */
static int
ahead(struct source *s)
{
	uint64_t now = ds_now_ns(), due;

	if (s->rt0 == 0) {
		s->rt0 = now;
		s->rl0 = s->lineno;
	}
	due = (uint64_t)((double)(now - s->rt0) * (double)s->rate / 1e9);
	if (s->lineno - s->rl0 <= due)
		return 0;
	s->throttled = 1;
	reading(s, 0);
	if (!s->ti.on || s->linger == 0)
		close_bundle(s);
	flush_complete(s);
	ev_timer_set(&s->rt, (double)(s->lineno - s->rl0 - due) /
	    (double)s->rate, 0);
	ev_timer_start(s->loop, &s->rt);
	return 1;
}

/* One read(2).  Returns 0 at EOF (everything flushed), else 1. */
static int
read_chunk(struct source *s)
{
	ssize_t n;
	size_t room = s->rcap - s->rlen;

	if (s->rate > 0) {
		uint64_t lines, want;

		if (ahead(s))
			return 1;
		/*
		 * About a millisecond of input a read, from the line length
		 * so far: small reads keep the pace even, but at hundreds of
		 * thousands of lines a second they cut bundles of a few
		 * lines (measured: p99 twice as high).
		 */
		lines = s->lineno - s->rl0;
		want = lines == 0 ? RATE_MIN_READ :
		    s->rbytes / lines * s->rate / 1000;
		if (want < RATE_MIN_READ)
			want = RATE_MIN_READ;
		if (want > RATE_MAX_READ)
			want = RATE_MAX_READ;
		if (room > want)
			room = (size_t)want;
	}
	n = read(s->fd, s->rb + s->rlen, room);
	if (n > 0)
		s->rbytes += (uint64_t)n;
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		ds_diesys(DS_EX_IOERR, "unable to read %s", s->name);
	}
	if (n == 0) {
		split(s, 1);
		flush_all(s);
		ds_info("end of input: %llu lines",
		    (unsigned long long)s->lineno);
		if (s->ti.on) {
			topo_eof(s);
			return 0;
		}
		ev_break(s->loop, EVBREAK_ALL);
		return 0;
	}
	if (s->timefield == 0)
		s->now = ds_now_ns();
	s->rlen += (size_t)n;
	split(s, 0);
	return 1;
}

static void
on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)revents;
	read_chunk(w->data);
}

static void
on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct source *s = w->data;

	(void)loop;
	(void)revents;
	if (read_chunk(s) == 0 || input_ready(s->fd))
		return;
	/* About to wait for input: let what is complete go now. */
	if (s->linger == 0)
		close_bundle(s);
	flush_complete(s);
}

static void
on_linger(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	flush_all(w->data);
}

/* SIGINT, SIGTERM: write out every complete line read so far, exit 0. */
static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct source *s = w->data;

	(void)revents;
	if (s->ti.on)
		ds_die(DS_EX_TEMPFAIL, "stopped by signal %d; run again to "
		    "resume", w->signum);
	ds_info("signal %d: stopping after line %llu", w->signum,
	    (unsigned long long)s->lineno);
	flush_all(s);
	ev_break(loop, EVBREAK_ALL);
}

/* No keys in a source's state log: compaction writes the mark only. */
static int
no_keys(void *arg, const void **key, size_t *keylen, const void **val,
    size_t *vallen)
{
	(void)arg;
	(void)key;
	(void)keylen;
	(void)val;
	(void)vallen;
	return 0;
}

static int
no_delta(void *arg, const void *key, size_t keylen, const void *val,
    size_t vallen)
{
	(void)arg;
	(void)key;
	(void)keylen;
	(void)val;
	(void)vallen;
	return -1;	/* a source's log has none: it is not ours */
}

/*
 * Every loop round (topology mode): marks whose bundles every consumer
 * acked become ACKED; reading resumes once the output stream drained.
 */
static void
tick(void *arg)
{
	struct source *s = arg;
	uint64_t minack = ds_inst_minack(&s->ti);
	const struct pend_mark *pm = NULL;

	while (s->pmlen > 0 && s->pm[s->pmhead].outseq <= minack) {
		pm = &s->pm[s->pmhead++];
		s->pmlen--;
	}
	if (s->pmlen == 0)
		s->pmhead = 0;
	if (s->ti.exactly) {
		if (pm != NULL) {
			s->jack = *pm;
			s->jackset = 1;
		}
		if (s->jackset && ds_inst_jpending(&s->ti) == 0) {
			ds_buf_reset(&s->jbuf);
			(void)put_jack(s);
			ds_inst_jwrite(&s->ti, s->jbuf.p, s->jbuf.len, 1, NULL,
			    NULL, 0);
		}
		if (s->eof && !s->ended && ds_inst_jpending(&s->ti) == 0) {
			s->ended = 1;
			ds_inst_end(&s->ti);
		}
		pm = NULL;
	}
	if (pm != NULL) {
		s->last.mark = pm->mark;
		s->last.outseq = pm->outseq;
		s->last.aux = pm->aux;
		if (ds_slog_acked(&s->sl, pm->mark) == -1)
			nomem();
		ds_inst_slog_flush(&s->ti, &s->sl);
		if (s->pmlen == 0 && s->sl.size > DS_INST_SLOGMAX) {
			ds_inst_valid(&s->ti);
			if (ds_slog_compact(&s->sl, &s->last, no_keys,
			    NULL) == -1)
				ds_die(DS_EX_IOERR, "%s", s->sl.err);
		}
	}
	if (s->paused && !ds_inst_full(&s->ti)) {
		s->paused = 0;
		reading(s, 1);
	}
}

/* Topology mode: open the output stream, recovering from the state log. */
static void
topo_start(struct source *s, const char *file)
{
	struct ds_mark m;
	uint64_t first = 1;

	s->producer = s->ti.id;
	s->epoch = s->ti.epoch;
	s->linger = s->regular ? 0 : s->linger;
	ds_inst_start(&s->ti, s->loop, tick, NULL, s);
	if (s->ti.exactly) {
		struct ds_inst_jrec jr;

		ds_inst_jrecover(&s->ti, load_jack, NULL, s, &jr);
		ds_inst_jopen(&s->ti);
		s->jmark = jr.maxmark;
		if (s->regular) {
			/*
			 * Read again from what the consumers acked: the
			 * lines after it come out with the same seqs.
			 */
			if (s->jrec && lseek(s->fd, (off_t)s->jrec_aux,
			    SEEK_SET) == -1)
				ds_diesys(DS_EX_IOERR, "unable to seek %s",
				    s->name);
			s->base = s->jrec ? s->jrec_aux : 0;
			s->lineno = s->jrec ? s->jrec_outseq : 0;
			first = s->lineno + 1;
			if (jr.mark.mark != 0)
				ds_info("resuming %s at offset %llu, line %llu "
				    "(acked; line %llu was durable)", s->name,
				    (unsigned long long)s->base,
				    (unsigned long long)first,
				    (unsigned long long)jr.mark.outseq);
		} else if (jr.mark.mark != 0) {
			if (s->regular && lseek(s->fd, (off_t)jr.mark.aux,
			    SEEK_SET) == -1)
				ds_diesys(DS_EX_IOERR, "unable to seek %s",
				    s->name);
			s->base = jr.mark.aux;
			s->lineno = jr.mark.outseq;
			first = jr.mark.outseq + 1;
			ds_info("resuming %s at offset %llu, line %llu%s",
			    s->name, (unsigned long long)jr.mark.aux,
			    (unsigned long long)jr.mark.outseq + 1,
			    s->regular ? "" : " (after what the journal has)");
		}
		ds_inst_listen(&s->ti, jr.outfirst ? jr.outfirst : first);
		ds_inst_append(&s->ti, jr.out.p, jr.out.len);
		ds_inst_jrec_free(&jr);
		return;
	}
	if (s->ti.state != NULL && file == NULL)
		ds_warn("standard input cannot be read again: --state is "
		    "ignored");
	else if (s->ti.state != NULL && !s->regular)
		ds_warn("%s is not a regular file: --state is ignored", file);
	else if (s->ti.state != NULL) {
		s->use_slog = 1;
		ds_inst_slog_open(&s->ti, &s->sl, no_delta, NULL, &m);
		if (m.mark != 0) {
			if (lseek(s->fd, (off_t)m.aux, SEEK_SET) == -1)
				ds_diesys(DS_EX_IOERR, "unable to seek %s",
				    file);
			s->base = m.aux;
			s->lineno = m.outseq;
			first = m.outseq + 1;
			s->last.mark = m.mark;
			s->last.outseq = m.outseq;
			s->last.aux = m.aux;
			ds_info("resuming %s at offset %llu, line %llu", file,
			    (unsigned long long)m.aux,
			    (unsigned long long)m.outseq + 1);
		}
		ds_mark_free(&m);
	}
	ds_inst_listen(&s->ti, first);
}

static int
parse_delim(const struct ds_common *co, const char *a)
{
	if (strcmp(a, "\\t") == 0)
		return '\t';
	if (strlen(a) != 1)
		ds_dieusage(co, "--delimiter: not one byte: '%s'", a);
	return (unsigned char)a[0];
}

int
main(int argc, char *argv[])
{
	static struct source s;
	struct ds_common co = DS_COMMON_INIT;
	struct stat st;
	char *file = NULL, *tfname = NULL, *arg;
	poptContext pc;
	int rc;
	struct poptOption opts[] = {
		{ "bundle", 0, POPT_ARG_STRING, NULL, OPT_BUNDLE,
		    "tuples per bundle, 1..65536 (default 64)", "N" },
		{ "delimiter", 0, POPT_ARG_STRING, NULL, OPT_DELIMITER,
		    "fields are separated by byte C (\\t: TAB)", "C" },
		{ "file", 0, POPT_ARG_STRING, NULL, OPT_FILE,
		    "read PATH instead of stdin", "PATH" },
		{ "key-field", 0, POPT_ARG_STRING, NULL, OPT_KEYFIELD,
		    "field N (1-based) is the key (default 0: none)", "N" },
		{ "linger", 0, POPT_ARG_STRING, NULL, OPT_LINGER,
		    "write a partial bundle after MS ms (default 5)", "MS" },
		{ "max-tuple", 0, POPT_ARG_STRING, NULL, OPT_MAXTUPLE,
		    "largest key+line in bytes, K/M/G (default 1M)", "SIZE" },
		{ "rate", 0, POPT_ARG_STRING, NULL, OPT_RATE,
		    "read at most N lines per second (default: no limit)",
		    "N" },
		{ "time-field", 0, POPT_ARG_STRING, NULL, OPT_TIMEFIELD,
		    "field N (1-based) is the event time", "N" },
		{ "time-format", 0, POPT_ARG_STRING, NULL, OPT_TIMEFORMAT,
		    "epoch, epoch-ms or iso8601 (default epoch)", "FORMAT" },
		DS_POPT_INST(ds_inst_source_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-source";
	ds_inst_init(&s.ti, DS_INST_SOURCE);
	co.usage = USAGE;
	s.fd = STDIN_FILENO;
	s.name = "stdin";
	s.maxtuple = DS_TUPLE_MAX;
	s.bundle = 64;
	s.linger = 5;
	s.delim = DS_LINE_BLANKS;
	s.timefmt = DS_TIMEFMT_EPOCH;

	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1) {
		if (ds_inst_opt(&s.ti, &co, pc, rc))
			continue;
		arg = poptGetOptArg(pc);
		switch (rc) {
		case OPT_BUNDLE:
			s.bundle = (uint32_t)ds_opt_u64(&co, "--bundle", arg,
			    1, 65536);
			break;
		case OPT_DELIMITER:
			s.delim = parse_delim(&co, arg);
			break;
		case OPT_FILE:
			free(file);
			file = arg;
			arg = NULL;
			break;
		case OPT_KEYFIELD:
			s.keyfield = ds_opt_u64(&co, "--key-field", arg, 0,
			    UINT32_MAX);
			break;
		case OPT_LINGER:
			s.linger = (unsigned)ds_opt_u64(&co, "--linger", arg,
			    0, 60000);
			break;
		case OPT_MAXTUPLE:
			s.maxtuple = ds_opt_size(&co, "--max-tuple", arg, 1,
			    DS_FRAME_MAX - 1024);
			break;
		case OPT_RATE:
			s.rate = ds_opt_u64(&co, "--rate", arg, 1, RATE_MAX);
			break;
		case OPT_TIMEFIELD:
			s.timefield = ds_opt_u64(&co, "--time-field", arg, 0,
			    UINT32_MAX);
			break;
		case OPT_TIMEFORMAT:
			free(tfname);
			tfname = arg;
			arg = NULL;
			break;
		}
		free(arg);
	}
	if (poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "unexpected operand '%s'", poptPeekArg(pc));
	poptFreeContext(pc);

	/* validate */
	if (tfname != NULL) {
		if (s.timefield == 0)
			ds_dieusage(&co, "--time-format needs --time-field");
		if ((s.timefmt = ds_timefmt_byname(tfname)) == -1)
			ds_dieusage(&co, "--time-format: unknown format '%s' "
			    "(epoch, epoch-ms, iso8601)", tfname);
	}
	ds_inst_validate(&s.ti, &co);

	/* acquire */
	signal(SIGPIPE, SIG_IGN);
	if (!s.ti.on)
		ds_grow_pipe(STDOUT_FILENO);
	if (file != NULL) {
		s.name = file;
		if ((s.fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			ds_diesys(DS_EX_NOINPUT, "unable to open %s", file);
	}
	if (fstat(s.fd, &st) == 0) {
		if (file != NULL && S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			ds_diesys(DS_EX_NOINPUT, "unable to open %s", file);
		}
		s.regular = S_ISREG(st.st_mode);
		if (S_ISFIFO(st.st_mode))
			ds_grow_pipe(s.fd);
	}
	if (s.regular)
		s.linger = 0;	/* a file is always ready: no waiting */
	s.rcap = s.maxtuple + 1 + READ_CHUNK;
	if ((s.rb = malloc(s.rcap)) == NULL ||
	    ds_buf_grow(&s.out, FLUSH_AT + 64 * 1024) == -1)
		nomem();
	if ((s.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ds_die(DS_EX_OSERR, "unable to create the event loop");
	if (s.regular) {
		ev_idle_init(&s.idle, on_idle);
		s.idle.data = &s;
		ev_idle_start(s.loop, &s.idle);
	} else {
		ev_io_init(&s.rd, on_read, s.fd, EV_READ);
		s.rd.data = &s;
		ev_io_start(s.loop, &s.rd);
	}
	ev_init(&s.lt, on_linger);
	s.lt.data = &s;
	ev_init(&s.rt, on_rate);
	s.rt.data = &s;
	ev_signal_init(&s.sigint, on_signal, SIGINT);
	ev_signal_init(&s.sigterm, on_signal, SIGTERM);
	s.sigint.data = s.sigterm.data = &s;
	ev_signal_start(s.loop, &s.sigint);
	ev_signal_start(s.loop, &s.sigterm);
	if (s.ti.on)
		topo_start(&s, file);
	if (ds_notify_ready(&co, NULL) == -1)
		ds_warnsys("unable to signal readiness");

	/* run */
	ev_run(s.loop, 0);
	if (s.ti.on) {
		if (s.use_slog)
			ds_slog_close(&s.sl);
		ds_inst_term(&s.ti);
	}
	return DS_EX_OK;
}
