/*
 * ds-op: read BUNDLE frames on stdin, apply one operator -- a built-in, a
 * C plugin (--plugin) or a program speaking the operator protocol
 * (--exec) -- and write the tuples it emits as BUNDLE frames on stdout.
 * Keyed state, timers, output bundles and the protocol live in libds
 * (oprun, builtin, exec); this file is options, the event loop and the
 * output policy: write in large chunks, and always before blocking on
 * input, so an interactive pipeline sees every result at once.
 *
 * Topology mode (--listen and --pull, see inst.h): input comes from the
 * inlets, output goes to the retained output stream.  Per input bundle
 * the changed keys (DELTAs) and a MARK (output seq, input frontier) go to
 * the state log before the outputs become pullable; a mark whose outputs
 * every consumer acked is acked upstream and becomes ACKED.  Recovery
 * loads the state at the last (most) or last ACKED (least) mark.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "op/builtin.h"
#include "ds.h"
#include "op/exec.h"
#include "node/inst.h"
#include "op/oprun.h"

#define USAGE \
	"ds-op [-qv] [--bundle N] [--every MS] [--match REGEX] " \
	"[--max-tuple SIZE] [--notify-fd FD] [topology options] " \
	"--builtin NAME [ARG ...]\n" \
	"ds-op [-qv] [--bundle N] [--max-tuple SIZE] [--notify-fd FD] " \
	"[topology options] --plugin FILE [ARG ...]\n" \
	"ds-op [-qv] [--bundle N] [--max-tuple SIZE] [--notify-fd FD] " \
	"[topology options] --exec COMMAND"

#define OUT_HIGH	(256u << 10)	/* write output once this much waits */
#define BUNDLE_MAX	1000000
#define EVERY_MAX	86400000	/* ms: a day */

static struct ds_oprun	 run;
static struct ds_exec	 ex;
static int		 use_exec;
static struct ds_pipein	 in;
static ev_io		 in_w;
static ev_timer		 timer_w;
static uint64_t		 armed;		/* when timer_w was set for */
static int		 stdin_flags = -1;	/* to restore at exit */

/* Topology mode. */
struct pend {				/* a mark not acked downstream yet */
	uint64_t		 mark;
	uint64_t		 outseq;
};
static struct ds_inst	 ti;
static struct ds_slog	 sl;
static int		 use_slog;
static struct ds_mark lastm;	/* newest mark written; pos owned */
static struct pend	*fifo;		/* ring of fcap marks, FIFO */
static struct ds_mark_pos *fpos;	/* their frontiers, ti.nfront each */
static size_t		 fhead, flen, fcap;
static int		 op_ended;	/* on_end ran (now or before a restart) */
static int		 stream_ended;
/* Exactly-once: units written to the journal, waiting to be durable. */
struct junit {
	struct ds_buf		 out;		/* its outputs */
	struct ds_mark_pos	*front;		/* its input frontier */
	uint64_t		 mark, outseq;
	int			 end;
};
static struct junit	*jq;		/* ring of jqcap */
static size_t		 jqhead, jqlen, jqcap;
static struct ds_buf	 jbuf;		/* the unit being built */
static uint32_t		 jnrec;
static uint64_t		 jmark;		/* last mark number used */
static uint64_t		 jacked;	/* ACKED mark to journal, 0: none */
static struct ds_inst_jrec jr;

/* A pipe's read end may be shared: leave it blocking, as it was. */
static void
restore_stdin(void)
{
	if (stdin_flags != -1)
		(void)fcntl(0, F_SETFL, stdin_flags);
}

static void
flush_out(void)
{
	if (run.out.len == 0)
		return;
	if (ds_write_all(1, run.out.p, run.out.len) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	ds_buf_reset(&run.out);
}

/* The operator failed: output of the failing bundle is not written. */
static void __attribute__((noreturn))
die_op(void)
{
	if (use_exec)
		ds_exec_term(&ex);
	ds_die(run.code, "%s", run.msg);
}

static void
oplog(int level, const char *msg)
{
	ds_log((enum ds_log_level)level, 0, "%s", msg);
}

/* Point timer_w at the first pending timer, if it moved. */
static void
arm(struct ev_loop *loop)
{
	uint64_t when, now;

	if (!ds_oprun_next_timer(&run, &when)) {
		ev_timer_stop(loop, &timer_w);
		return;
	}
	if (ev_is_active(&timer_w) && when == armed)
		return;
	ev_timer_stop(loop, &timer_w);
	ev_now_update(loop);
	now = ds_oprun_now();
	ev_timer_set(&timer_w, when > now ? (ev_tstamp)(when - now) / 1e9 :
	    0., 0.);
	ev_timer_start(loop, &timer_w);
	armed = when;
}

static void
fire_due(void)
{
	if (ds_oprun_fire(&run, ds_oprun_now()) == -1)
		die_op();
}

static void commit(const struct ds_bundle *, int);

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	fire_due();
	if (ti.on)
		commit(NULL, 0);
	else
		flush_out();
	arm(loop);
}

static void
finish(struct ev_loop *loop)
{
	if ((use_exec ? ds_exec_end(&ex) : ds_oprun_end(&run)) == -1)
		die_op();
	flush_out();
	ev_io_stop(loop, &in_w);
	ev_timer_stop(loop, &timer_w);
	ev_break(loop, EVBREAK_ALL);
}

static void __attribute__((noreturn))
die_input(void)
{
	flush_out();	/* whole bundles of the good input before it */
	if (use_exec)
		ds_exec_term(&ex);
	ds_die(in.code, "%s", in.msg);
}

/* Take every bundle that is ready; flush, then let the loop block. */
static void
input_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_bundle *b;
	uint64_t when;
	int rc;

	(void)w;
	(void)revents;
	for (;;) {
		rc = ds_pipein_next(&in, 0, &b);
		if (rc == DS_PIPEIN_AGAIN)
			break;
		if (rc == 0) {
			finish(loop);
			return;
		}
		if (rc == -1)
			die_input();
		if ((use_exec ? ds_exec_bundle(&ex, b) :
		    ds_oprun_bundle(&run, b)) == -1)
			die_op();
		if (run.out.len >= OUT_HIGH)
			flush_out();
		if (ds_oprun_next_timer(&run, &when) && when <= ds_oprun_now())
			fire_due();
	}
	flush_out();
	arm(loop);
}

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

static int
put_delta(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)arg;
	return ds_slog_delta(&sl, key, klen, val, vlen);
}

/* A changed key for the journal: its value and, if it moved, its timer. */
static int
put_jrec(void *arg, const struct ds_state_rec *rec)
{
	(void)arg;
	jnrec++;
	if (ds_rec_put_delta(&jbuf, rec->key, rec->klen, rec->hasval ?
	    rec->val : NULL, rec->hasval ? rec->vlen : 0) == -1)
		return -1;
	if (!rec->tdirty)
		return 0;
	jnrec++;
	return ds_rec_put_timer(&jbuf, rec->key, rec->klen, rec->tidx != 0 ?
	    rec->when : DS_REC_CANCEL);
}

static int
load_timer(void *arg, const void *key, size_t klen, uint64_t when)
{
	(void)arg;
	return ds_oprun_restore_timer(&run, key, klen, when);
}

static int
load_delta(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)arg;
	if (val == NULL) {
		ds_state_remove(&run.st, key, klen);
		return 0;
	}
	return ds_state_store(&run.st, key, klen, val, vlen);
}

/* Every key with a value, for compaction. */
static int
next_key(void *arg, const void **key, size_t *klen, const void **val,
    size_t *vlen)
{
	size_t *it = arg;
	struct ds_state_rec *rec;

	while ((rec = ds_state_next(&run.st, it)) != NULL) {
		if (!rec->hasval)
			continue;
		*key = rec->key;
		*klen = rec->klen;
		*val = rec->val;
		*vlen = rec->vlen;
		return 1;
	}
	return 0;
}

static void
copy_pos(struct ds_mark_pos **dst, const struct ds_mark_pos *src, size_t n)
{
	if (*dst == NULL && (*dst = calloc(n ? n : 1, sizeof(**dst))) == NULL)
		nomem();
	memcpy(*dst, src, n * sizeof(**dst));
}

static struct pend *
pend_at(size_t i)
{
	return &fifo[(fhead + i) % fcap];
}

static struct ds_mark_pos *
pos_at(size_t i)
{
	return &fpos[(fhead + i) % fcap * ti.nfront];
}

/* A new last entry of the ring. */
static size_t
pend_push(void)
{
	struct pend *nf;
	struct ds_mark_pos *np;
	size_t ncap, i, nfr = ti.nfront ? ti.nfront : 1;

	if (flen == fcap) {
		ncap = fcap ? fcap * 2 : 64;
		if ((nf = calloc(ncap, sizeof(*nf))) == NULL ||
		    (np = calloc(ncap * nfr, sizeof(*np))) == NULL)
			nomem();
		for (i = 0; i < flen; i++) {
			nf[i] = *pend_at(i);
			memcpy(np + i * ti.nfront, pos_at(i), ti.nfront *
			    sizeof(*np));
		}
		free(fifo);
		free(fpos);
		fifo = nf;
		fpos = np;
		fcap = ncap;
		fhead = 0;
	}
	return flen++;
}

/*
 * Exactly-once, once a unit is durable: ack its input frontier upstream
 * (the journal has it, so the producers may drop it), make its outputs
 * pullable, remember its mark until they are acked (ACKED, so the
 * journal can drop them), and end the stream after the last one.
 */
static void
jdurable(void *arg, uint64_t token)
{
	struct junit *u = &jq[jqhead];
	size_t i;

	(void)arg;
	(void)token;
	DS_ASSERT(jqlen > 0);
	ds_inst_ack(&ti, u->front, ti.nfront);
	if (flen > 0 && pend_at(flen - 1)->outseq == u->outseq)
		i = flen - 1;
	else
		i = pend_push();
	pend_at(i)->mark = u->mark;
	pend_at(i)->outseq = u->outseq;
	ds_inst_append(&ti, u->out.p, u->out.len);
	if (u->end)
		ds_inst_end(&ti);
	ds_buf_free(&u->out);
	free(u->front);
	jqhead = (jqhead + 1) % jqcap;
	jqlen--;
	if (ti.paused && !ds_inst_full(&ti))
		ds_inst_pause(&ti, 0);
}

/* Write the ACKED mark alone when nothing else is going to carry it. */
static void
jflush_acked(void)
{
	if (jacked == 0 || ds_inst_jpending(&ti) > 0)
		return;
	ds_buf_reset(&jbuf);
	if (ds_rec_put_acked(&jbuf, jacked) == -1)
		nomem();
	jacked = 0;
	ds_inst_jwrite(&ti, jbuf.p, jbuf.len, 1, NULL, NULL, 0);
}

/*
 * Exactly-once commit: one atomic unit to the journal with the changed
 * keys, the outputs, the ACKED mark if one is due, and a MARK (input
 * frontier, output seq, aux 1 once on_end ran).  Nothing of it is seen
 * downstream or acked upstream before it is durable (jdurable).
 */
static void
jcommit(const struct ds_bundle *cur, int end)
{
	struct ds_mark m;
	struct junit *u, *nq;
	struct ds_mark_pos *front;
	const unsigned char *q, *qend;
	size_t n, i, ncap;

	front = ds_inst_frontier(&ti, cur, &n);
	ds_buf_reset(&jbuf);
	jnrec = 0;
	if (ds_state_dirty_recs(&run.st, put_jrec, NULL) == -1)
		nomem();
	for (q = run.out.p, qend = q + run.out.len; q < qend;
	    q += DS_FRAME_HDR + ds_get_le32(q + 8))
		jnrec++;
	if (ds_buf_add(&jbuf, run.out.p, run.out.len) == -1)
		nomem();
	if (jacked != 0) {
		if (ds_rec_put_acked(&jbuf, jacked) == -1)
			nomem();
		jnrec++;
		jacked = 0;
	}
	memset(&m, 0, sizeof(m));
	m.mark = ++jmark;
	m.outseq = run.seq;
	m.aux = end || op_ended;
	m.n = (uint32_t)n;
	m.pos = front;
	if (ds_rec_put_mark(&jbuf, &m) == -1)
		nomem();
	jnrec++;
	if (jqlen == jqcap) {
		ncap = jqcap ? jqcap * 2 : 64;
		if ((nq = calloc(ncap, sizeof(*nq))) == NULL)
			nomem();
		for (i = 0; i < jqlen; i++)
			nq[i] = jq[(jqhead + i) % jqcap];
		free(jq);
		jq = nq;
		jqcap = ncap;
		jqhead = 0;
	}
	u = &jq[(jqhead + jqlen++) % jqcap];
	memset(u, 0, sizeof(*u));
	u->out = run.out;		/* moved */
	memset(&run.out, 0, sizeof(run.out));
	copy_pos(&u->front, front, n);
	u->mark = m.mark;
	u->outseq = run.seq;
	u->end = end;
	ds_inst_valid(&ti);
	ds_inst_jwrite(&ti, jbuf.p, jbuf.len, jnrec, jdurable, NULL, m.mark);
	if (ds_inst_full(&ti))
		ds_inst_pause(&ti, 1);
}

/*
 * After input bundle cur (NULL: timers, the end): log the changed keys and
 * a mark, then make the outputs pullable and remember the mark until its
 * outputs are acked.  end: on_end ran (aux 1 in the mark).
 */
static void
commit(const struct ds_bundle *cur, int end)
{
	struct ds_mark_pos *front;
	struct pend *e;
	size_t n, i;

	if (ti.exactly) {
		jcommit(cur, end);
		return;
	}
	front = ds_inst_frontier(&ti, cur, &n);
	lastm.mark = 0;
	if (use_slog) {
		if (ds_state_dirty(&run.st, put_delta, NULL) == -1)
			nomem();
		lastm.outseq = run.seq;
		lastm.aux = end;
		lastm.n = (uint32_t)n;
		copy_pos(&lastm.pos, front, n);
		if (ds_slog_mark(&sl, &lastm) == -1)
			nomem();
		ds_inst_slog_flush(&ti, &sl);
	}
	/* A mark without new outputs supersedes the one before it. */
	if (flen > 0 && pend_at(flen - 1)->outseq == run.seq)
		i = flen - 1;
	else
		i = pend_push();
	e = pend_at(i);
	e->mark = lastm.mark;
	e->outseq = run.seq;
	memcpy(pos_at(i), front, n * sizeof(*front));
	ds_inst_valid(&ti);
	ds_inst_append(&ti, run.out.p, run.out.len);
	ds_buf_reset(&run.out);
	if (ds_inst_full(&ti))
		ds_inst_pause(&ti, 1);
}

static int
topo_bundle(void *arg, struct ds_inst_pull *pl, const struct ds_bundle *b)
{
	uint64_t when;

	(void)arg;
	(void)pl;
	if (op_ended)
		return 0;
	if ((use_exec ? ds_exec_bundle(&ex, b) : ds_oprun_bundle(&run, b)) ==
	    -1)
		die_op();
	if (ds_oprun_next_timer(&run, &when) && when <= ds_oprun_now())
		fire_due();
	commit(b, 0);
	arm(ti.loop);
	return 0;
}

/* Ack upstream the newest mark whose outputs every consumer acked. */
static void
ack_marks(void)
{
	uint64_t minack = ds_inst_minack(&ti);
	size_t n = 0;

	while (n < flen && pend_at(n)->outseq <= minack)
		n++;
	if (n == 0)
		return;
	if (ti.exactly) {
		/* Acked upstream when durable; tell the journal. */
		if (pend_at(n - 1)->mark > jacked)
			jacked = pend_at(n - 1)->mark;
		fhead = (fhead + n) % fcap;
		flen -= n;
		return;
	}
	/* The newest of them covers the ones before it. */
	ds_inst_ack(&ti, pos_at(n - 1), ti.nfront);
	if (use_slog && pend_at(n - 1)->mark != 0) {
		if (ds_slog_acked(&sl, pend_at(n - 1)->mark) == -1)
			nomem();
		ds_inst_slog_flush(&ti, &sl);
	}
	fhead = (fhead + n) % fcap;
	flen -= n;
}

/* Every loop round: acks, compaction, back-pressure, the end. */
static void
tick(void *arg)
{
	size_t it = 0;

	(void)arg;
	ack_marks();
	if (ti.exactly)
		jflush_acked();
	if (use_slog && sl.size > DS_INST_SLOGMAX && lastm.mark != 0 &&
	    (flen == 0 || ti.once == DS_ONCE_MOST)) {
		ds_inst_valid(&ti);
		if (ds_slog_compact(&sl, &lastm, next_key, &it) == -1)
			ds_die(DS_EX_IOERR, "%s", sl.err);
	}
	if (ti.paused && !ds_inst_full(&ti))
		ds_inst_pause(&ti, 0);
	if (!stream_ended && ds_inst_ended(&ti)) {
		stream_ended = 1;
		ev_timer_stop(ti.loop, &timer_w);
		if (!op_ended && (use_exec ? ds_exec_end(&ex) :
		    ds_oprun_end(&run)) == -1)
			die_op();
		op_ended = 1;
		commit(NULL, 1);
		if (ti.exactly)
			return;		/* jdurable ends the stream */
		ds_inst_end(&ti);
		/*
		 * Ending may make the stream done at once (nothing to
		 * send, consumers told while waking them): ack the final
		 * mark now, before the caller sees it done and finishes.
		 */
		ack_marks();
	}
}

/* Topology mode, before the operator starts: recover state and seq. */
static void
topo_recover(struct ds_mark *m)
{
	run.producer = ti.id;
	run.epoch = ti.epoch;
	memset(m, 0, sizeof(*m));
	if (ti.exactly) {
		ds_inst_jrecover(&ti, load_delta, load_timer, NULL, &jr);
		*m = jr.mark;
		memset(&jr.mark, 0, sizeof(jr.mark));
		jmark = jr.maxmark;
		run.seq = m->outseq;
		op_ended = m->mark != 0 && (m->aux & 1);
		if (ds_state_track(&run.st, 1) == -1)
			nomem();
		return;
	}
	if (ti.state == NULL)
		return;
	use_slog = 1;
	ds_inst_slog_open(&ti, &sl, load_delta, NULL, m);
	run.seq = m->outseq;
	op_ended = m->mark != 0 && (m->aux & 1);
	if (ds_state_track(&run.st, 1) == -1)
		nomem();
	if (m->mark != 0) {
		lastm = *m;
		lastm.pos = NULL;
		copy_pos(&lastm.pos, m->pos, m->n);
	}
}

/* Topology mode, after the operator started: sockets, then run. */
static void
topo_start(struct ev_loop *loop, struct ds_mark *m, size_t maxtuple)
{
	ds_inst_start(&ti, loop, tick, topo_bundle, NULL);
	if (ti.exactly) {
		ds_inst_jopen(&ti);
		ds_inst_listen(&ti, jr.outfirst ? jr.outfirst : run.seq + 1);
		ds_inst_append(&ti, jr.out.p, jr.out.len);
		ds_inst_jrec_free(&jr);
	} else
		ds_inst_listen(&ti, run.seq + 1);
	ds_inst_inlets(&ti, maxtuple, ti.epoch > 1);
	ds_inst_restore(&ti, m);
	ds_mark_free(m);
	if (lastm.pos != NULL && lastm.n != ti.nfront) {
		/* The inputs changed: the old frontier does not fit. */
		free(lastm.pos);
		lastm.pos = NULL;
		lastm.mark = 0;
	}
	commit(NULL, 0);	/* what init emitted */
	ds_inst_go(&ti);
}

/* argv for an operator's init: name, then the operands (caller frees). */
static char **
op_argv(const char *name, const char **args, int *argc)
{
	char **av;
	int n = 0, i;

	while (args != NULL && args[n] != NULL)
		n++;
	if ((av = calloc((size_t)n + 2, sizeof(*av))) == NULL ||
	    (av[0] = strdup(name)) == NULL)
		ds_diesys(DS_EX_OSERR, "unable to allocate memory");
	for (i = 0; i < n; i++)
		if ((av[i + 1] = strdup(args[i])) == NULL)
			ds_diesys(DS_EX_OSERR, "unable to allocate memory");
	*argc = n + 1;
	return av;
}

int
main(int argc, const char *argv[])
{
	struct ds_common co = DS_COMMON_INIT;
	char *builtin = NULL, *plugin = NULL, *command = NULL, *match = NULL;
	char *every_s = NULL, *bundle_s = NULL, *maxtuple_s = NULL;
	char **av = NULL;
	uint64_t maxtuple = DS_TUPLE_MAX, bundle = 64, every = 0;
	const struct ds_op_plugin *op;
	struct poptOption opts[] = {
		{ "builtin", 0, POPT_ARG_STRING, &builtin, 0,
		    "run the built-in operator NAME", "NAME" },
		{ "bundle", 0, POPT_ARG_STRING, &bundle_s, 0,
		    "at most N tuples per output bundle (64)", "N" },
		{ "every", 0, POPT_ARG_STRING, &every_s, 0,
		    "topk: also emit the top N every MS milliseconds", "MS" },
		{ "exec", 0, POPT_ARG_STRING, &command, 0,
		    "run COMMAND as an operator program", "COMMAND" },
		{ "match", 0, POPT_ARG_STRING, &match, 0,
		    "filter: pass tuples whose payload matches REGEX", "REGEX" },
		{ "max-tuple", 0, POPT_ARG_STRING, &maxtuple_s, 0,
		    "largest key+payload of a tuple (1M)", "SIZE" },
		{ "plugin", 0, POPT_ARG_STRING, &plugin, 0,
		    "load the C plugin FILE", "FILE" },
		DS_POPT_INST(ds_inst_op_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};
	struct ds_mark m;
	struct ev_loop *loop;
	struct stat sb;
	poptContext pc;
	int ac = 0, i, rc;

	ds_progname = "ds-op";
	co.usage = USAGE;
	ds_inst_init(&ti, DS_INST_OP);
	pc = poptGetContext(ds_progname, argc, argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1)
		(void)ds_inst_opt(&ti, &co, pc, rc);

	if (!!builtin + !!plugin + !!command != 1)
		ds_dieusage(&co, "exactly one of --builtin, --plugin and --exec "
		    "is required");
	if (maxtuple_s != NULL)
		maxtuple = ds_opt_size(&co, "--max-tuple", maxtuple_s, 1,
		    DS_FRAME_MAX - 1024);
	if (bundle_s != NULL)
		bundle = ds_opt_u64(&co, "--bundle", bundle_s, 1, BUNDLE_MAX);
	if (every_s != NULL)
		every = ds_opt_u64(&co, "--every", every_s, 1, EVERY_MAX);
	if ((match != NULL || every_s != NULL) && builtin == NULL)
		ds_dieusage(&co, "--match and --every are only valid with "
		    "--builtin");
	if (command != NULL && poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "--exec takes no operands: quote COMMAND");
	op = NULL;
	if (builtin != NULL && (op = ds_builtin_find(builtin)) == NULL)
		ds_dieusage(&co, "unknown built-in '%s' (built-ins: %s)",
		    builtin, ds_builtin_names);
	ds_inst_validate(&ti, &co);

	signal(SIGPIPE, SIG_IGN);
	if (co.notify_fd >= 0)
		fcntl(co.notify_fd, F_SETFD, FD_CLOEXEC);
	loop = EV_DEFAULT;
	ds_oprun_init(&run, maxtuple, (uint32_t)bundle);
	run.log = oplog;
	run.match = match;
	run.every = every * 1000000;
	if (ti.on)
		topo_recover(&m);
	if (command != NULL) {
		use_exec = 1;
		if (ds_exec_start(&ex, &run, command, loop) == -1)
			die_op();
		if (ti.on) {
			ex.waiting = ds_inst_poll;
			ex.waiting_arg = &ti;
		}
	} else {
		if (builtin != NULL)
			ds_oprun_use(&run, op, "built-in", builtin);
		else if (ds_oprun_load(&run, plugin) == -1)
			die_op();
		av = op_argv(builtin ? builtin : plugin, poptGetArgs(pc), &ac);
		if (ds_oprun_start(&run, ac, av) == -1) {
			if (run.code == DS_EX_USAGE)
				ds_dieusage(&co, "%s", run.msg);
			die_op();
		}
	}
	if (ti.on) {
		ev_init(&timer_w, timer_cb);
		topo_start(loop, &m, maxtuple);
		arm(loop);
		goto run;
	}
	flush_out();	/* what init emitted */
	if (fstat(0, &sb) == 0 && (S_ISFIFO(sb.st_mode) ||
	    S_ISSOCK(sb.st_mode)) && (stdin_flags = fcntl(0, F_GETFL)) != -1) {
		atexit(restore_stdin);
		(void)fcntl(0, F_SETFL, stdin_flags | O_NONBLOCK);
	}
	ds_grow_pipe(0);
	ds_grow_pipe(1);
	ds_pipein_init(&in, "stdin", maxtuple);
	ev_io_init(&in_w, input_cb, 0, EV_READ);
	ev_io_start(loop, &in_w);
	ev_init(&timer_w, timer_cb);
	arm(loop);
run:
	(void)ds_notify_ready(&co, "running");
	ev_run(loop, 0);

	(void)ds_notify_send("STOPPING=1");
	if (use_exec)
		ds_exec_term(&ex);
	ds_oprun_term(&run);
	ds_pipein_term(&in);
	if (ti.on) {
		free(fifo);
		free(fpos);
		free(lastm.pos);
		while (jqlen > 0) {
			ds_buf_free(&jq[jqhead].out);
			free(jq[jqhead].front);
			jqhead = (jqhead + 1) % jqcap;
			jqlen--;
		}
		free(jq);
		ds_buf_free(&jbuf);
		if (use_slog)
			ds_slog_close(&sl);
		ds_inst_term(&ti);
	}
	for (i = 0; i < ac; i++)
		free(av[i]);
	free(av);
	free(builtin);
	free(plugin);
	free(command);
	free(match);
	free(every_s);
	free(bundle_s);
	free(maxtuple_s);
	poptFreeContext(pc);
	return DS_EX_OK;
}
