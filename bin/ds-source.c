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
 * Topology mode (node/node.h): bundles carry --id and --epoch and each
 * goes to the runtime as one unit whose aux is the input offset after it,
 * so a restart seeks back there and makes the same seqs again (or, from
 * standard input, which cannot be read again, goes on where it is).
 * Reading stops while the runtime holds too much.
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
#include "node/node.h"
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
	struct ds_node		 node;
	uint64_t		 producer;	/* 0 in pipe mode */
	uint32_t		 epoch;
	uint64_t		 base;		/* file offset of rb[0] */
	uint64_t		 lineend;	/* offset after the line being added */
	uint64_t		 blast;		/* last seq of the open bundle */
	uint64_t		 boff;		/* offset after its last line */
	int			 eof;
	int			 paused;	/* not reading: output is full */

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

	if (n == 0 || s->node.cfg.on)
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

/* Stop reading while the runtime holds too much. */
static void
pause_input(struct source *s)
{
	if (!s->paused && ds_node_full(&s->node)) {
		s->paused = 1;
		if (s->regular)
			ev_idle_stop(s->loop, &s->idle);
		else
			ev_io_stop(s->loop, &s->rd);
	}
}

/* Topology mode: one closed bundle is one unit. */
static void
take_bundle(struct source *s)
{
	ds_node_commit(&s->node, NULL, &s->out, s->blast, s->boff, 0);
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
	if (s->node.cfg.on)
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
	ds_node_end(&s->node);
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
	if (!s->node.cfg.on || s->linger == 0)
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
		if (s->node.cfg.on) {
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
	if (s->node.cfg.on)
		ds_die(DS_EX_TEMPFAIL, "stopped by signal %d; run again to "
		    "resume", w->signum);
	ds_info("signal %d: stopping after line %llu", w->signum,
	    (unsigned long long)s->lineno);
	flush_all(s);
	ev_break(loop, EVBREAK_ALL);
}

/* Every round: reading goes on once the runtime drained. */
static void
tick(void *arg)
{
	struct source *s = arg;

	if (s->paused && !ds_node_full(&s->node)) {
		s->paused = 0;
		reading(s, 1);
	}
}

/*
 * Recovered: seek back to the offset of the unit the runtime resumes
 * from (a file is read again from there, with the same seqs), and read.
 */
static void
resume(void *arg, const struct ds_node_resume *res)
{
	struct source *s = arg;

	s->producer = s->node.cfg.id;
	s->epoch = s->node.cfg.epoch;
	if (res->found) {
		if (s->regular && lseek(s->fd, (off_t)res->aux, SEEK_SET) == -1)
			ds_diesys(DS_EX_IOERR, "unable to seek %s", s->name);
		s->base = res->aux;
		s->lineno = res->outseq;
		ds_info("resuming %s at offset %llu, line %llu%s", s->name,
		    (unsigned long long)res->aux,
		    (unsigned long long)res->outseq + 1, !s->regular ?
		    " (after what was kept)" : res->durable > res->outseq ?
		    " (acked; later lines were durable)" : "");
	}
	reading(s, 1);
}

static const struct ds_node_prog prog = {
	NULL, NULL, resume, NULL, NULL, NULL, NULL, tick
};

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
		DS_POPT_NODE(ds_node_source_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-source";
	ds_node_init(&s.node, DS_NODE_SOURCE);
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
		if (ds_node_opt(&s.node.cfg, &co, pc, rc))
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
	ds_node_validate(&s.node, &co);

	/* acquire */
	signal(SIGPIPE, SIG_IGN);
	if (!s.node.cfg.on)
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
	ev_idle_init(&s.idle, on_idle);
	s.idle.data = &s;
	ev_io_init(&s.rd, on_read, s.fd, EV_READ);
	s.rd.data = &s;
	ev_init(&s.lt, on_linger);
	s.lt.data = &s;
	ev_init(&s.rt, on_rate);
	s.rt.data = &s;
	ev_signal_init(&s.sigint, on_signal, SIGINT);
	ev_signal_init(&s.sigterm, on_signal, SIGTERM);
	s.sigint.data = s.sigterm.data = &s;
	ev_signal_start(s.loop, &s.sigint);
	ev_signal_start(s.loop, &s.sigterm);
	if (s.node.cfg.on) {
		/* Read once recovery says from where (resume). */
		s.linger = s.regular ? 0 : s.linger;
		s.node.replayable = s.regular;
		if (!s.regular)
			s.node.noreplay = file == NULL ? "standard input cannot "
			    "be read again" : "the input is not a regular file";
		ds_node_start(&s.node, s.loop, &co, &prog, &s);
	} else {
		reading(&s, 1);
		if (ds_notify_ready(&co, NULL) == -1)
			ds_warnsys("unable to signal readiness");
	}

	/* run */
	ev_run(s.loop, 0);
	ds_node_term(&s.node);
	return DS_EX_OK;
}
