/*
 * ds-sink: BUNDLE frames in, text out, one line per tuple.  --format is
 * compiled once into a list of ops; each tuple reserves its worst-case
 * size in the output buffer once and the ops write straight into it.  A
 * bundle is decoded and validated whole by ds_pipein before any of its
 * tuples is printed, so a bad frame never leaves half a bundle behind.
 * Output goes out in big writes: when the buffer passes FLUSH_AT, and
 * before any read that could block, so interactive pipelines see every
 * result at once.
 *
 * Topology mode (--pull, see inst.h): bundles come from the inlets; after
 * each write the inputs are acked (what is written is durable enough for
 * issue 3) and, with --state, a MARK and ACKED with the input frontier go
 * to the state log, so a restart resumes after what was written.
 *
 * --tc: no text; each tuple's key -> payload is put into a Tokyo Cabinet
 * hash database (tcstore.h), the last value of a key winning, so writing
 * the same tuples again leaves the same database.  A commit (end of a TC
 * transaction, then a sync in topology mode and at the end) takes the
 * place of a flush, and of the file's length in the journal.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "node/inst.h"
#include "store/tcstore.h"
#include "core/timefmt.h"

#define USAGE \
	"ds-sink [-qv] [--append] [--file PATH] [--format FMT]\n" \
	"        [--max-tuple SIZE] [--notify-fd FD] [--tc PATH]\n" \
	"        [topology options]"

#define FLUSH_AT	(256 * 1024)
#define DEFAULT_FORMAT	"%k\\t%p"
#define TC_BATCH	(4u << 20)	/* pipe mode: commit this often */

enum {
	OPT_APPEND = 1,
	OPT_FILE,
	OPT_FORMAT,
	OPT_MAXTUPLE,
	OPT_TC
};

/* One step of a compiled --format. */
enum fmt_op {
	F_LIT,		/* literal bytes lit[off..off+len) */
	F_KEY,
	F_PAYLOAD,
	F_SEQ,
	F_PRODUCER,
	F_EPOCH,
	F_ID,		/* producer:seq */
	F_TIME,		/* ns */
	F_ISO,		/* ISO 8601 UTC, ns */
	F_TRACE,	/* 16 hex digits or "-" */
	F_LAT		/* now - event time, ns, signed */
};

struct fmt_step {
	enum fmt_op	 op;
	size_t		 off;
	size_t		 len;
};

struct fmt {
	struct fmt_step	*steps;		/* owned */
	size_t		 n;
	struct ds_buf	 lit;		/* literal bytes of every F_LIT */
	size_t		 fixed;		/* most bytes one tuple takes, */
	size_t		 nkey;		/* plus nkey keys */
	size_t		 npayload;	/* and npayload payloads */
};

struct sink {
	int		 fd;
	const char	*name;		/* "stdout" or the --file path */
	struct ds_buf	 out;
	struct fmt	 fmt;
	uint64_t	 ntuples;
	struct ds_tcstore *tc;		/* --tc, or NULL */
	uint64_t	 tcbytes;	/* put since the last commit */
	/* Topology mode. */
	struct ds_inst	 ti;
	int		 use_slog;
	struct ds_slog	 sl;
	struct ds_mark last;	/* frontier of the last mark; pos owned */
	/* Exactly-once: the file's length goes to the journal. */
	uint64_t	 size;		/* bytes in the --file */
	uint64_t	 jmark;
	struct ds_buf	 jbuf;
	int		 jready;	/* the first mark is durable */
	int		 jtrunc;	/* no --append: a fresh job truncates */
};

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

static void
fmt_lit(struct fmt *f, const char *p, size_t n)
{
	struct fmt_step *st;

	if (n == 0)
		return;
	/* Extend the previous literal rather than start a new step. */
	st = f->n > 0 ? &f->steps[f->n - 1] : NULL;
	if (st == NULL || st->op != F_LIT) {
		st = &f->steps[f->n++];
		st->op = F_LIT;
		st->off = f->lit.len;
		st->len = 0;
	}
	if (ds_buf_add(&f->lit, p, n) == -1)
		nomem();
	st->len += n;
	f->fixed += n;
}

static void
fmt_op(struct fmt *f, enum fmt_op op)
{
	/* Widest text of each conversion (u64: 20 digits, u32: 10). */
	static const size_t width[] = {
		[F_SEQ] = 20, [F_PRODUCER] = 20, [F_EPOCH] = 10,
		[F_ID] = 41, [F_TIME] = 20, [F_ISO] = DS_TIMEFMT_ISO_LEN,
		[F_TRACE] = 16, [F_LAT] = 21
	};

	f->steps[f->n].op = op;
	f->steps[f->n].off = f->steps[f->n].len = 0;
	f->n++;
	if (op == F_KEY)
		f->nkey++;
	else if (op == F_PAYLOAD)
		f->npayload++;
	else
		f->fixed += width[op];
}

/* Compile s into f; a newline ends every tuple's text. */
static void
fmt_compile(const struct ds_common *co, struct fmt *f, const char *s)
{
	const char *p;
	char c;

	memset(f, 0, sizeof(*f));
	/* Each byte makes at most one step, plus the final newline. */
	if ((f->steps = calloc(strlen(s) + 1, sizeof(*f->steps))) == NULL)
		nomem();
	for (p = s; *p != '\0'; p++) {
		if (*p == '\\') {
			switch (p[1]) {
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			case '\\': c = '\\'; break;
			case '\0':
				ds_dieusage(co, "--format: trailing lone '\\'");
			default:
				ds_dieusage(co, "--format: unknown escape "
				    "'\\%c'", p[1]);
			}
			fmt_lit(f, &c, 1);
			p++;
			continue;
		}
		if (*p != '%') {
			fmt_lit(f, p, 1);
			continue;
		}
		switch (*++p) {
		case 'k': fmt_op(f, F_KEY); break;
		case 'p': fmt_op(f, F_PAYLOAD); break;
		case 's': fmt_op(f, F_SEQ); break;
		case 'P': fmt_op(f, F_PRODUCER); break;
		case 'e': fmt_op(f, F_EPOCH); break;
		case 'i': fmt_op(f, F_ID); break;
		case 't': fmt_op(f, F_TIME); break;
		case 'T': fmt_op(f, F_ISO); break;
		case 'r': fmt_op(f, F_TRACE); break;
		case 'l': fmt_op(f, F_LAT); break;
		case '%': fmt_lit(f, "%", 1); break;
		case '\0':
			ds_dieusage(co, "--format: trailing lone '%%'");
		default:
			ds_dieusage(co, "--format: unknown conversion '%%%c'",
			    *p);
		}
	}
	fmt_lit(f, "\n", 1);
}

static void
fmt_free(struct fmt *f)
{
	free(f->steps);
	f->steps = NULL;
	ds_buf_free(&f->lit);
}

static char *
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(p, tmp + i, sizeof(tmp) - i);
	return p + sizeof(tmp) - i;
}

static void
render(struct sink *k, const struct ds_bundle *b, const struct ds_tuple *t)
{
	static const char hex[] = "0123456789abcdef";
	const struct fmt *f = &k->fmt;
	const struct fmt_step *st, *end = f->steps + f->n;
	char *p;
	int i;

	if (ds_buf_grow(&k->out, f->fixed + f->nkey * t->keylen +
	    f->npayload * t->paylen) == -1)
		nomem();
	p = (char *)k->out.p + k->out.len;
	for (st = f->steps; st < end; st++) {
		switch (st->op) {
		case F_LIT:
			memcpy(p, f->lit.p + st->off, st->len);
			p += st->len;
			break;
		case F_KEY:
			memcpy(p, t->key, t->keylen);
			p += t->keylen;
			break;
		case F_PAYLOAD:
			memcpy(p, t->payload, t->paylen);
			p += t->paylen;
			break;
		case F_SEQ:
			p = put_u64(p, t->seq);
			break;
		case F_PRODUCER:
			p = put_u64(p, b->producer);
			break;
		case F_EPOCH:
			p = put_u64(p, b->epoch);
			break;
		case F_ID:
			p = put_u64(p, b->producer);
			*p++ = ':';
			p = put_u64(p, t->seq);
			break;
		case F_TIME:
			p = put_u64(p, t->time);
			break;
		case F_LAT: {
			uint64_t now = ds_now_ns();

			if (now >= t->time)
				p = put_u64(p, now - t->time);
			else {
				*p++ = '-';
				p = put_u64(p, t->time - now);
			}
			break;
		}
		case F_ISO:
			ds_timefmt_iso(t->time, p);
			p += DS_TIMEFMT_ISO_LEN;
			break;
		case F_TRACE:
			if (!(t->flags & DS_TUPLE_TRACE)) {
				*p++ = '-';
				break;
			}
			for (i = 60; i >= 0; i -= 4)
				*p++ = hex[(t->trace >> i) & 0xf];
			break;
		}
	}
	k->out.len = (size_t)(p - (char *)k->out.p);
}

static void
flush(struct sink *k)
{
	if (k->out.len == 0)
		return;
	if (ds_write_all(k->fd, k->out.p, k->out.len) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write %s", k->name);
	k->size += k->out.len;
	k->out.len = 0;
}

/* --tc: end the transaction; with sync, make the database durable. */
static void
tc_commit(struct sink *k, int sync)
{
	if (ds_tcstore_commit(k->tc, sync) == -1)
		ds_die(ds_tcstore_code(k->tc), "%s", ds_tcstore_err(k->tc));
	k->tcbytes = 0;
}

/* --tc: commit, sync and close (74 on failure). */
static void
tc_close(struct sink *k)
{
	char err[512];
	uint64_t n;

	if (k->tc == NULL)
		return;
	tc_commit(k, 1);
	n = ds_tcstore_count(k->tc);
	if (ds_tcstore_close(k->tc, err, sizeof(err)) == -1) {
		k->tc = NULL;
		ds_die(DS_EX_IOERR, "%s", err);
	}
	k->tc = NULL;
	ds_info("%s: %llu records", k->name, (unsigned long long)n);
}

/*
 * --tc: put key -> payload for each tuple.  A tuple without a key is
 * refused (65) before anything of its bundle is put.
 */
static void
tc_put(struct sink *k, const struct ds_bundle *b)
{
	const struct ds_tuple *t;
	uint32_t i;

	for (i = 0; i < b->count; i++)
		if (b->t[i].keylen == 0) {
			if (!k->ti.on)
				tc_close(k);	/* what came before stays */
			ds_die(DS_EX_DATAERR, "tuple %llu:%llu has no key, "
			    "and --tc puts key -> payload", (unsigned long long)
			    b->producer, (unsigned long long)b->t[i].seq);
		}
	for (i = 0; i < b->count; i++) {
		t = &b->t[i];
		if (ds_tcstore_put(k->tc, t->key, t->keylen, t->payload,
		    t->paylen) == -1)
			ds_die(ds_tcstore_code(k->tc), "%s",
			    ds_tcstore_err(k->tc));
		k->tcbytes += t->keylen + t->paylen;
	}
}

/* Render or put one bundle. */
static void
emit(struct sink *k, const struct ds_bundle *b)
{
	uint32_t i;

	if (k->tc != NULL) {
		tc_put(k, b);
		return;
	}
	for (i = 0; i < b->count; i++)
		render(k, b, &b->t[i]);
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
	return -1;	/* a sink's log has none: it is not ours */
}

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

/* Exactly-once: the unit out is durable: ack its frontier upstream. */
static void
jdurable(void *arg, uint64_t token)
{
	struct sink *k = arg;

	(void)token;
	if (!k->jready) {
		k->jready = 1;
		ds_inst_go(&k->ti);
		return;
	}
	ds_debug("unit %llu durable", (unsigned long long)token);
	/* One unit out at a time: last is its frontier. */
	ds_inst_ack(&k->ti, k->last.pos, k->ti.nfront);
}

/*
 * Topology mode: the input frontier into *fp and *np; 0 when neither it
 * nor the output moved since the last commit (nothing to commit).
 */
static int
moved(struct sink *k, struct ds_mark_pos **fp, size_t *np)
{
	*fp = ds_inst_frontier(&k->ti, NULL, np);
	return k->out.len > 0 || k->last.pos == NULL ||
	    memcmp(*fp, k->last.pos, *np * sizeof(**fp)) != 0;
}

/* The frontier f of n positions was committed: it becomes last. */
static void
keep_last(struct sink *k, const struct ds_mark_pos *f, size_t n)
{
	if (k->last.pos == NULL && (k->last.pos = calloc(n ? n : 1,
	    sizeof(*f))) == NULL)
		nomem();
	memcpy(k->last.pos, f, n * sizeof(*f));
	k->last.n = (uint32_t)n;
}

/*
 * Exactly-once: write what is rendered, make it durable (fdatasync), then
 * journal the frontier with the file's length in one MARK; the frontier
 * is acked upstream once that is durable.  One unit at a time: what comes
 * meanwhile goes with the next one.  A restart cuts the file back to the
 * length of the last durable MARK and pulls from its frontier on.  With
 * --tc: commit and sync the puts instead, and the MARK's aux is 0 (a
 * restart puts the same values again from the frontier on: no cut).
 */
static void
jcommit(struct sink *k)
{
	struct ds_mark m;
	struct ds_mark_pos *f;
	uint64_t ntup;
	size_t n;

	if (!k->jready || ds_inst_jpending(&k->ti) > 0 || !moved(k, &f, &n))
		return;
	ds_inst_valid(&k->ti);
	ntup = k->ntuples;
	k->ti.cnt_out += k->ntuples;
	k->ntuples = 0;
	if (k->tc != NULL)
		tc_commit(k, 1);	/* aux stays 0: puts need no cut */
	else {
		flush(k);
		if (fdatasync(k->fd) == -1 && errno != EINVAL &&
		    errno != EROFS)
			ds_diesys(DS_EX_IOERR, "unable to sync %s", k->name);
	}
	keep_last(k, f, n);
	memset(&m, 0, sizeof(m));
	m.mark = ++k->jmark;
	m.aux = k->size;
	m.n = (uint32_t)n;
	m.pos = f;
	ds_debug("unit %llu: %llu tuples", (unsigned long long)m.mark,
	    (unsigned long long)ntup);
	ds_buf_reset(&k->jbuf);
	if (ds_rec_put_mark(&k->jbuf, &m) == -1 ||
	    ds_rec_put_acked(&k->jbuf, m.mark) == -1)
		nomem();
	ds_inst_jwrite(&k->ti, k->jbuf.p, k->jbuf.len, 2, jdurable, k,
	    m.mark);
}

/*
 * Topology mode: write what is rendered, then ack it upstream and log the
 * frontier, when either moved.
 */
static void
topo_commit(struct sink *k)
{
	struct ds_mark_pos *f;
	size_t n;

	if (k->ti.exactly) {
		jcommit(k);
		return;
	}
	if (!moved(k, &f, &n))
		return;
	ds_inst_valid(&k->ti);
	k->ti.cnt_out += k->ntuples;
	k->ntuples = 0;
	if (k->tc != NULL)
		tc_commit(k, 1);	/* what is acked is in the database */
	else
		flush(k);
	ds_inst_ack_all(&k->ti);
	keep_last(k, f, n);
	if (!k->use_slog)
		return;
	k->last.mark = 0;
	if (ds_slog_mark(&k->sl, &k->last) == -1 ||
	    ds_slog_acked(&k->sl, k->last.mark) == -1)
		nomem();
	ds_inst_slog_flush(&k->ti, &k->sl);
	if (k->sl.size > DS_INST_SLOGMAX && ds_slog_compact(&k->sl, &k->last,
	    no_keys, NULL) == -1)
		ds_die(DS_EX_IOERR, "%s", k->sl.err);
}

static int
topo_bundle(void *arg, struct ds_inst_pull *pl, const struct ds_bundle *b)
{
	struct sink *k = arg;

	(void)pl;
	emit(k, b);
	k->ntuples += b->count;
	if (k->out.len >= FLUSH_AT) {
		if (k->ti.exactly) {
			/* A zombie must not touch the file: check first. */
			ds_inst_valid(&k->ti);
			flush(k);	/* jcommit makes it durable */
		} else
			topo_commit(k);
	}
	return 0;
}

/* Every loop round, before the loop blocks. */
static void
topo_tick(void *arg)
{
	struct sink *k = arg;

	topo_commit(k);
	if (k->ti.exactly && (!k->jready || ds_inst_jpending(&k->ti) > 0 ||
	    k->out.len > 0))
		return;		/* not durable yet */
	if (ds_inst_ended(&k->ti)) {
		ds_info("end of input: %llu tuples",
		    (unsigned long long)k->ti.cnt_in);
		ds_inst_finish(&k->ti);
	}
}

/*
 * Exactly-once recovery of a --file: cut it back to the length of the
 * last durable mark m (0 or, with --append, its length without a mark).
 */
static void
jcut(struct sink *k, const struct ds_mark *m)
{
	struct stat st;

	if (fstat(k->fd, &st) == -1)
		ds_diesys(DS_EX_IOERR, "unable to stat %s", k->name);
	if (m->mark != 0 && (uint64_t)st.st_size < m->aux)
		ds_die(DS_EX_DATAERR, "%s: %llu bytes, shorter than the %llu "
		    "the journal says were written: it was changed behind "
		    "our back", k->name, (unsigned long long)st.st_size,
		    (unsigned long long)m->aux);
	k->size = m->mark != 0 ? m->aux : k->jtrunc ? 0 :
	    (uint64_t)st.st_size;
	if ((uint64_t)st.st_size > k->size) {
		ds_info("%s: cutting %llu bytes written after the last "
		    "commit", k->name,
		    (unsigned long long)((uint64_t)st.st_size - k->size));
		if (ftruncate(k->fd, (off_t)k->size) == -1)
			ds_diesys(DS_EX_IOERR, "unable to truncate %s",
			    k->name);
	}
}

/* Topology mode: recover, pull until every input ended. */
static void
topo_run(struct sink *k, struct ds_common *co, size_t maxtuple)
{
	struct ev_loop *loop;
	struct ds_mark m;

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ds_die(DS_EX_OSERR, "unable to create the event loop");
	ds_inst_start(&k->ti, loop, topo_tick, topo_bundle, k);
	memset(&m, 0, sizeof(m));
	if (k->ti.exactly) {
		struct ds_inst_jrec jr;

		ds_inst_jrecover(&k->ti, no_delta, NULL, NULL, &jr);
		m = jr.mark;
		memset(&jr.mark, 0, sizeof(jr.mark));
		k->jmark = jr.maxmark;
		ds_inst_jrec_free(&jr);
		if (k->tc == NULL)
			jcut(k, &m);	/* puts are idempotent: no cut */
		ds_inst_jopen(&k->ti);
	} else if (k->ti.state != NULL) {
		k->use_slog = 1;
		ds_inst_slog_open(&k->ti, &k->sl, no_delta, NULL, &m);
	}
	ds_inst_inlets(&k->ti, maxtuple, k->ti.epoch > 1);
	ds_inst_restore(&k->ti, &m);
	if (k->ti.exactly) {
		/*
		 * The file's starting length is durable before anything is
		 * written: pulling starts once this first MARK is.
		 */
		struct ds_mark f;
		size_t n;

		memset(&f, 0, sizeof(f));
		f.mark = ++k->jmark;
		f.aux = k->size;
		f.pos = ds_inst_frontier(&k->ti, NULL, &n);
		f.n = (uint32_t)n;
		if (ds_rec_put_mark(&k->jbuf, &f) == -1 ||
		    ds_rec_put_acked(&k->jbuf, f.mark) == -1)
			nomem();
		ds_inst_jwrite(&k->ti, k->jbuf.p, k->jbuf.len, 2, jdurable,
		    k, f.mark);
	}
	ds_mark_free(&m);
	if (!k->ti.exactly)
		ds_inst_go(&k->ti);
	if (ds_notify_ready(co, NULL) == -1)
		ds_warnsys("unable to signal readiness");
	ev_run(loop, 0);
	flush(k);
	if (k->use_slog)
		ds_slog_close(&k->sl);
	free(k->last.pos);
	ds_inst_term(&k->ti);
}

/* Whether the state log of a topology-mode sink holds a mark. */
static int
resuming(struct sink *k)
{
	char *path = ds_inst_slog_path(&k->ti);
	struct stat st;
	int r;

	if (path == NULL)
		return 0;
	r = stat(path, &st) == 0 && st.st_size > 0;
	free(path);
	return r;
}

/* Wait for fd to be readable; timeout 0 just asks.  1 if it is. */
static int
wait_input(int fd, int timeout)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, timeout) != 0;
}

int
main(int argc, char *argv[])
{
	static struct sink k;
	struct ds_common co = DS_COMMON_INIT;
	struct ds_pipein in;
	struct ds_bundle *b;
	char *file = NULL, *format = NULL, *tc = NULL, *arg;
	char err[512];
	size_t maxtuple = DS_TUPLE_MAX;
	uint64_t ntuples = 0;
	poptContext pc;
	int rc, append = 0, flags, code;
	struct poptOption opts[] = {
		{ "append", 0, POPT_ARG_NONE, NULL, OPT_APPEND,
		    "append to the --file instead of truncating it", NULL },
		{ "file", 0, POPT_ARG_STRING, NULL, OPT_FILE,
		    "write to PATH instead of stdout", "PATH" },
		{ "format", 0, POPT_ARG_STRING, NULL, OPT_FORMAT,
		    "line template: %k %p %s %P %e %i %t %T %r %% "
		    "(default %k\\t%p)", "FMT" },
		{ "max-tuple", 0, POPT_ARG_STRING, NULL, OPT_MAXTUPLE,
		    "largest key+payload in bytes, K/M/G (default 1M)",
		    "SIZE" },
		{ "tc", 0, POPT_ARG_STRING, NULL, OPT_TC,
		    "put key -> payload into the Tokyo Cabinet hash database "
		    "PATH instead of writing lines", "PATH" },
		DS_POPT_INST(ds_inst_sink_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-sink";
	ds_inst_init(&k.ti, DS_INST_SINK);
	co.usage = USAGE;
	k.fd = STDOUT_FILENO;
	k.name = "stdout";

	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1) {
		if (ds_inst_opt(&k.ti, &co, pc, rc))
			continue;
		arg = poptGetOptArg(pc);
		switch (rc) {
		case OPT_APPEND:
			append = 1;
			break;
		case OPT_FILE:
			free(file);
			file = arg;
			arg = NULL;
			break;
		case OPT_FORMAT:
			free(format);
			format = arg;
			arg = NULL;
			break;
		case OPT_MAXTUPLE:
			maxtuple = ds_opt_size(&co, "--max-tuple", arg, 1,
			    DS_FRAME_MAX - 1024);
			break;
		case OPT_TC:
			free(tc);
			tc = arg;
			arg = NULL;
			break;
		}
		free(arg);
	}
	if (poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "unexpected operand '%s'", poptPeekArg(pc));
	poptFreeContext(pc);

	/* validate */
	if (tc != NULL && (file != NULL || format != NULL || append))
		ds_dieusage(&co, "--tc writes no text: it excludes --file, "
		    "--format and --append");
	if (append && file == NULL)
		ds_dieusage(&co, "--append needs --file");
	fmt_compile(&co, &k.fmt, format != NULL ? format : DEFAULT_FORMAT);
	ds_inst_validate(&k.ti, &co);
	/* A restart in a topology appends after what it wrote before. */
	if (k.ti.on && resuming(&k))
		append = 1;
	if (k.ti.exactly) {
		if (file == NULL && tc == NULL)
			ds_dieusage(&co, "exactly-once needs --file or --tc: "
			    "what is written to standard output cannot be "
			    "taken back");
		/*
		 * The journal knows the length to keep; a fresh job without
		 * --append truncates only when it has no mark (recovery).
		 */
		k.jtrunc = !append;
		append = 1;
	}

	/* acquire */
	signal(SIGPIPE, SIG_IGN);
	if (!k.ti.on)
		ds_grow_pipe(STDIN_FILENO);
	if (file != NULL) {
		k.name = file;
		flags = O_WRONLY | O_CREAT | O_CLOEXEC |
		    (append ? O_APPEND : O_TRUNC);
		if ((k.fd = open(file, flags, 0666)) == -1)
			ds_diesys(DS_EX_IOERR, "unable to open %s", file);
	}
	if (tc != NULL) {
		k.name = tc;
		if ((k.tc = ds_tcstore_open(tc, &code, err,
		    sizeof(err))) == NULL)
			ds_die(code, "%s", err);
	} else if (file == NULL)
		ds_grow_pipe(STDOUT_FILENO);
	if (ds_buf_grow(&k.out, FLUSH_AT + 64 * 1024) == -1)
		nomem();
	ds_pipein_init(&in, "stdin", maxtuple);
	if (k.ti.on) {
		topo_run(&k, &co, maxtuple);
		goto done;
	}
	if (ds_notify_ready(&co, NULL) == -1)
		ds_warnsys("unable to signal readiness");

	/* run */
	for (;;) {
		if ((k.out.len > 0 || k.tcbytes > 0) &&
		    !ds_frame_reader_ready(&in.rd) &&
		    !wait_input(STDIN_FILENO, 0)) {
			flush(&k);
			if (k.tc != NULL)
				tc_commit(&k, 0);	/* before waiting */
		}
		rc = ds_pipein_next(&in, STDIN_FILENO, &b);
		if (rc == 0)
			break;
		if (rc == DS_PIPEIN_AGAIN) {
			/* stdin was left non-blocking by someone else. */
			flush(&k);
			if (k.tc != NULL && k.tcbytes > 0)
				tc_commit(&k, 0);
			(void)wait_input(STDIN_FILENO, -1);
			continue;
		}
		if (rc == -1) {
			/* Whole bundles before the bad frame still count. */
			flush(&k);
			tc_close(&k);
			ds_die(in.code, "%s", in.msg);
		}
		emit(&k, b);
		ntuples += b->count;
		if (k.out.len >= FLUSH_AT)
			flush(&k);
		if (k.tc != NULL && k.tcbytes >= TC_BATCH)
			tc_commit(&k, 0);
	}
	flush(&k);
	ds_info("end of input: %llu tuples", (unsigned long long)ntuples);
done:
	tc_close(&k);
	if (close(k.fd) == -1)
		ds_diesys(DS_EX_IOERR, "unable to close %s", k.name);
	ds_pipein_term(&in);
	fmt_free(&k.fmt);
	ds_buf_free(&k.out);
	free(file);
	free(format);
	free(tc);
	return DS_EX_OK;
}
