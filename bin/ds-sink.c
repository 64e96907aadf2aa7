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
 * Topology mode (node/node.h): bundles come from the runtime; what is
 * rendered is written out and, every loop round in which the input moved
 * and no unit is pending, committed as a unit whose aux is the file's
 * length.  When the runtime's commits must survive a machine crash, the
 * file is synced first, and a restart cuts it back to the committed
 * length; otherwise a restart appends after what it wrote.
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
#include "node/node.h"
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
	struct ds_node	 node;
	const char	*file;		/* --file, opened by resume */
	int		 append;	/* --append */
	uint64_t	 size;		/* bytes in the --file */
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
			if (!k->node.cfg.on)
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

/* --- topology mode: the program of a node (node.h) ------------------ */

/*
 * Write what is rendered (a zombie must not touch the file: the lease is
 * checked first), make it as durable as a unit must be, and commit the
 * input frontier with the file's length.  With --tc: commit and sync the
 * puts instead, aux 0 (a restart puts the same values again: no cut).
 */
static void
commit(struct sink *k)
{
	ds_node_valid(&k->node);
	if (k->tc != NULL)
		tc_commit(k, 1);
	else {
		flush(k);
		if (ds_node_syncs(&k->node) && fdatasync(k->fd) == -1 &&
		    errno != EINVAL && errno != EROFS)
			ds_diesys(DS_EX_IOERR, "unable to sync %s", k->name);
	}
	ds_node_commit(&k->node, NULL, NULL, 0, k->size, k->ntuples);
	k->ntuples = 0;
}

/*
 * Cut the --file back to length len, the committed one: what a process
 * killed after writing more had not committed yet.
 */
static void
cut(struct sink *k, uint64_t len)
{
	struct stat st;

	if (fstat(k->fd, &st) == -1)
		ds_diesys(DS_EX_IOERR, "unable to stat %s", k->name);
	if ((uint64_t)st.st_size < len)
		ds_die(DS_EX_DATAERR, "%s: %llu bytes, shorter than the %llu "
		    "the journal says were written: it was changed behind "
		    "our back", k->name, (unsigned long long)st.st_size,
		    (unsigned long long)len);
	k->size = len;
	if ((uint64_t)st.st_size > len) {
		ds_info("%s: cutting %llu bytes written after the last "
		    "commit", k->name,
		    (unsigned long long)((uint64_t)st.st_size - len));
		if (ftruncate(k->fd, (off_t)len) == -1)
			ds_diesys(DS_EX_IOERR, "unable to truncate %s",
			    k->name);
	}
}

/*
 * Recovered: open the --file where the last commit left it, and commit
 * that starting point before anything is pulled.  Synced commits cut the
 * file back to the committed length (a fresh job: to 0, or with --append
 * to what is there); others append after what a restart finds there, or
 * truncate for a fresh job without --append.
 */
static void
resume(void *arg, const struct ds_node_resume *res)
{
	struct sink *k = arg;
	struct stat st;
	int syncs = ds_node_syncs(&k->node), flags;

	if (k->file != NULL) {
		flags = O_WRONLY | O_CREAT | O_CLOEXEC;
		flags |= syncs || res->found || k->append ? O_APPEND : O_TRUNC;
		if ((k->fd = open(k->file, flags, 0666)) == -1)
			ds_diesys(DS_EX_IOERR, "unable to open %s", k->file);
		if (fstat(k->fd, &st) == -1)
			ds_diesys(DS_EX_IOERR, "unable to stat %s", k->name);
		k->size = (uint64_t)st.st_size;
		if (syncs)
			cut(k, res->found ? res->aux : k->append ? k->size : 0);
	}
	commit(k);
}

static void
bundle(void *arg, const struct ds_bundle *b)
{
	struct sink *k = arg;

	emit(k, b);
	k->ntuples += b->count;
	if (k->out.len < FLUSH_AT)
		return;
	ds_node_valid(&k->node);
	flush(k);
}

/* Every round: commit what moved, one unit at a time. */
static void
tick(void *arg)
{
	struct sink *k = arg;

	if (ds_node_pending(&k->node) == 0 && ds_node_moved(&k->node))
		commit(k);
}

static void
ended(void *arg)
{
	struct sink *k = arg;

	ds_info("end of input: %llu tuples",
	    (unsigned long long)k->node.cnt_in);
}

static const struct ds_node_prog prog = {
	NULL, NULL, resume, NULL, NULL, bundle, ended, tick
};

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

/* Topology mode: the runtime pulls, recovers and commits (node.h). */
static void
topo_run(struct sink *k, struct ds_common *co, size_t maxtuple)
{
	struct ev_loop *loop;

	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ds_die(DS_EX_OSERR, "unable to create the event loop");
	k->node.maxtuple = maxtuple;
	ds_node_start(&k->node, loop, co, &prog, k);
	ev_run(loop, 0);
	flush(k);
}

/* Pipe mode: frames on stdin until its end. */
static void
pipe_run(struct sink *k, struct ds_common *co, size_t maxtuple)
{
	struct ds_pipein in;
	struct ds_bundle *b;
	uint64_t ntuples = 0;
	int rc;

	ds_grow_pipe(STDIN_FILENO);
	ds_pipein_init(&in, "stdin", maxtuple);
	if (ds_notify_ready(co, NULL) == -1)
		ds_warnsys("unable to signal readiness");
	for (;;) {
		if ((k->out.len > 0 || k->tcbytes > 0) &&
		    !ds_frame_reader_ready(&in.rd) &&
		    !wait_input(STDIN_FILENO, 0)) {
			flush(k);
			if (k->tc != NULL)
				tc_commit(k, 0);	/* before waiting */
		}
		rc = ds_pipein_next(&in, STDIN_FILENO, &b);
		if (rc == 0)
			break;
		if (rc == DS_PIPEIN_AGAIN) {
			/* stdin was left non-blocking by someone else. */
			flush(k);
			if (k->tc != NULL && k->tcbytes > 0)
				tc_commit(k, 0);
			(void)wait_input(STDIN_FILENO, -1);
			continue;
		}
		if (rc == -1) {
			/* Whole bundles before the bad frame still count. */
			flush(k);
			tc_close(k);
			ds_die(in.code, "%s", in.msg);
		}
		emit(k, b);
		ntuples += b->count;
		if (k->out.len >= FLUSH_AT)
			flush(k);
		if (k->tc != NULL && k->tcbytes >= TC_BATCH)
			tc_commit(k, 0);
	}
	flush(k);
	ds_info("end of input: %llu tuples", (unsigned long long)ntuples);
	ds_pipein_term(&in);
}

int
main(int argc, char *argv[])
{
	static struct sink k;
	struct ds_common co = DS_COMMON_INIT;
	char *file = NULL, *format = NULL, *tc = NULL, *arg;
	char err[512];
	size_t maxtuple = DS_TUPLE_MAX;
	poptContext pc;
	int rc, code;
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
		DS_POPT_NODE(ds_node_sink_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-sink";
	ds_node_init(&k.node, DS_NODE_SINK);
	co.usage = USAGE;
	k.fd = STDOUT_FILENO;
	k.name = "stdout";

	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1) {
		if (ds_node_opt(&k.node.cfg, &co, pc, rc))
			continue;
		arg = poptGetOptArg(pc);
		switch (rc) {
		case OPT_APPEND:
			k.append = 1;
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
	if (tc != NULL && (file != NULL || format != NULL || k.append))
		ds_dieusage(&co, "--tc writes no text: it excludes --file, "
		    "--format and --append");
	if (k.append && file == NULL)
		ds_dieusage(&co, "--append needs --file");
	fmt_compile(&co, &k.fmt, format != NULL ? format : DEFAULT_FORMAT);
	ds_node_validate(&k.node, &co);
	if (k.node.cfg.on && ds_node_syncs(&k.node) && file == NULL &&
	    tc == NULL)
		ds_dieusage(&co, "exactly-once needs --file or --tc: what is "
		    "written to standard output cannot be taken back");

	/* acquire */
	signal(SIGPIPE, SIG_IGN);
	if (file != NULL) {
		k.name = k.file = file;
		/* A topology instance opens it once it knows where it was. */
		if (!k.node.cfg.on && (k.fd = open(file, O_WRONLY | O_CREAT |
		    O_CLOEXEC | (k.append ? O_APPEND : O_TRUNC), 0666)) == -1)
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
	if (k.node.cfg.on)
		topo_run(&k, &co, maxtuple);
	else
		pipe_run(&k, &co, maxtuple);
	tc_close(&k);
	if (close(k.fd) == -1)
		ds_diesys(DS_EX_IOERR, "unable to close %s", k.name);
	ds_node_term(&k.node);
	fmt_free(&k.fmt);
	ds_buf_free(&k.out);
	free(file);
	free(format);
	free(tc);
	return DS_EX_OK;
}
