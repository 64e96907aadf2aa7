/*
 * ds-op: apply one operator -- a built-in, a C plugin (--plugin) or a
 * program speaking the operator protocol (--exec), all in libds/op -- to
 * BUNDLE frames on stdin, writing what it emits on stdout in large
 * chunks, and always before blocking on input.  In a topology
 * (node/node.h) input comes from the runtime, and after each bundle, timer
 * and the end what the operator emitted and the keys it changed go back as
 * one unit; recovery gives the state back before the operator starts, and
 * the unit's aux says whether on_end already ran.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "op/builtin.h"
#include "ds.h"
#include "node/node.h"
#include "op/exec.h"
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
static struct ds_pipein	 in;
static ev_io		 in_w;
static ev_timer		 timer_w;
static uint64_t		 armed;		/* when timer_w was set for */

/* Topology mode. */
static struct ds_node	 node;
static int		 op_ended;	/* on_end ran (now or before a restart) */
static const char	*command;	/* --exec */
static const char	*opname;	/* --builtin or --plugin */
static const char *const *opargs;	/* its operands */

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
	if (run.exec != NULL)
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

/* One input bundle through the operator, then the timers it made due. */
static void
op_bundle(const struct ds_bundle *b)
{
	uint64_t when;

	if (ds_oprun_bundle(&run, b) == -1)
		die_op();
	if (ds_oprun_next_timer(&run, &when) && when <= ds_oprun_now())
		fire_due();
}

/* Init a built-in or plugin with its operands. */
static void
start_op(const struct ds_common *co)
{
	if (ds_oprun_start_args(&run, opname, opargs) == -1) {
		if (run.code == DS_EX_USAGE)
			ds_dieusage(co, "%s", run.msg);
		die_op();
	}
}

/* Topology mode: what the operator did since the last unit. */
static void
commit(const struct ds_bundle *cur)
{
	ds_node_commit(&node, cur, &run.out, run.seq, op_ended, 0);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	fire_due();
	if (node.cfg.on)
		commit(NULL);
	else
		flush_out();
	arm(loop);
}

/* The input was whole: on_end, the output, then its END (seqs from 1:
 * the last is the count).  Dying or killed, ds-op writes no END. */
static void
finish(struct ev_loop *loop)
{
	struct ds_end e = { run.producer, run.epoch, 0, 0 };

	if (ds_oprun_end(&run) == -1)
		die_op();
	flush_out();
	e.count = e.last = run.seq;
	if (ds_write_end(1, &e) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	ev_io_stop(loop, &in_w);
	ev_timer_stop(loop, &timer_w);
	ev_break(loop, EVBREAK_ALL);
}

static void __attribute__((noreturn))
die_input(void)
{
	flush_out();	/* whole bundles of the good input before it */
	if (run.exec != NULL)
		ds_exec_term(&ex);
	ds_die(in.code, "%s", in.msg);
}

/* Take every bundle that is ready; flush, then let the loop block. */
static void
input_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_bundle *b;
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
		op_bundle(b);
		if (run.out.len >= OUT_HIGH)
			flush_out();
	}
	flush_out();
	arm(loop);
}

/* --- topology mode: the program of a node (node.h) ------------------- */

static int
load(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	return ds_oprun_restore(arg, key, klen, val, vlen);
}

static int
load_timer(void *arg, const void *key, size_t klen, uint64_t when)
{
	return ds_oprun_restore_timer(arg, key, klen, when);
}

static int
dirty(void *arg, struct ds_buf *b, int timers, uint32_t *n)
{
	return ds_oprun_dirty(arg, b, timers, n);
}

static int
each(void *arg, size_t *it, const void **key, size_t *klen, const void **val,
    size_t *vlen)
{
	return ds_oprun_each(arg, it, key, klen, val, vlen);
}

/* Recovered: start the operator where the state is, commit its init. */
static void
resume(void *arg, const struct ds_node_resume *res)
{
	(void)arg;
	run.producer = node.cfg.id;
	run.epoch = node.cfg.epoch;
	run.seq = res->outseq;
	op_ended = res->found && (res->aux & 1);
	if (ds_node_keeps_state(&node) && ds_state_track(&run.st, 1) == -1)
		ds_node_nomem();
	if (command != NULL) {
		if (ds_exec_start(&ex, &run, command, node.loop) == -1)
			die_op();
		ex.waiting = ds_node_poll;
		ex.waiting_arg = &node;
	} else
		start_op(node.co);
	commit(NULL);		/* what init emitted */
	arm(node.loop);
}

static void
bundle(void *arg, const struct ds_bundle *b)
{
	(void)arg;
	if (op_ended)
		return;		/* on_end ran before a restart */
	op_bundle(b);
	commit(b);
	arm(node.loop);
}

/* Every input ended: on_end (once over restarts), the last unit. */
static void
ended(void *arg)
{
	(void)arg;
	ev_timer_stop(node.loop, &timer_w);
	if (!op_ended && ds_oprun_end(&run) == -1)
		die_op();
	op_ended = 1;
	commit(NULL);
	ds_node_end(&node);
}

static const struct ds_node_prog prog = {
	load, load_timer, resume, dirty, each, bundle, ended, NULL
};

/* Pipe mode: stdin, non-blocking when it is a pipe or a socket. */
static void
pipe_start(struct ev_loop *loop, size_t maxtuple)
{
	flush_out();	/* what init emitted */
	(void)ds_stdin_nonblock();
	ds_grow_pipe(0);
	ds_grow_pipe(1);
	ds_pipein_init(&in, "stdin", maxtuple);
	ev_io_init(&in_w, input_cb, 0, EV_READ);
	ev_io_start(loop, &in_w);
	arm(loop);
}

int
main(int argc, const char *argv[])
{
	struct ds_common co = DS_COMMON_INIT;
	char *builtin = NULL, *plugin = NULL, *cmd = NULL, *match = NULL;
	char *every_s = NULL, *bundle_s = NULL, *maxtuple_s = NULL;
	uint64_t maxtuple = DS_TUPLE_MAX, bundle = 64, every = 0;
	const struct ds_op_plugin *op = NULL;
	struct poptOption opts[] = {
		{ "builtin", 0, POPT_ARG_STRING, &builtin, 0,
		    "run the built-in operator NAME", "NAME" },
		{ "bundle", 0, POPT_ARG_STRING, &bundle_s, 0,
		    "at most N tuples per output bundle (64)", "N" },
		{ "every", 0, POPT_ARG_STRING, &every_s, 0,
		    "topk: also emit the top N every MS milliseconds", "MS" },
		{ "exec", 0, POPT_ARG_STRING, &cmd, 0,
		    "run COMMAND as an operator program", "COMMAND" },
		{ "match", 0, POPT_ARG_STRING, &match, 0,
		    "filter: pass tuples whose payload matches REGEX", "REGEX" },
		{ "max-tuple", 0, POPT_ARG_STRING, &maxtuple_s, 0,
		    "largest key+payload of a tuple (1M)", "SIZE" },
		{ "plugin", 0, POPT_ARG_STRING, &plugin, 0,
		    "load the C plugin FILE", "FILE" },
		DS_POPT_NODE(ds_node_op_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};
	struct ev_loop *loop;
	poptContext pc;

	ds_node_main(&node, DS_NODE_OP, &co, USAGE);
	pc = ds_node_parse(&node.cfg, &co, argc, (char **)(void *)argv, opts,
	    1);

	if (!!builtin + !!plugin + !!cmd != 1)
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
	if (cmd != NULL && poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "--exec takes no operands: quote COMMAND");
	if (builtin != NULL && (op = ds_builtin_find(builtin)) == NULL)
		ds_dieusage(&co, "unknown built-in '%s' (built-ins: %s)",
		    builtin, ds_builtin_names);
	ds_node_validate(&node, &co);

	signal(SIGPIPE, SIG_IGN);
	if (co.notify_fd >= 0)
		fcntl(co.notify_fd, F_SETFD, FD_CLOEXEC);
	loop = EV_DEFAULT;
	ds_oprun_init(&run, maxtuple, (uint32_t)bundle);
	run.log = oplog;
	run.match = match;
	run.every = every * 1000000;
	ev_init(&timer_w, timer_cb);
	command = cmd;
	if (builtin != NULL)
		ds_oprun_use(&run, op, "built-in", builtin);
	else if (plugin != NULL && ds_oprun_load(&run, plugin) == -1)
		die_op();
	opname = builtin != NULL ? builtin : plugin;
	opargs = poptGetArgs(pc);
	if (node.cfg.on) {
		/* The operator starts once recovery is over (resume). */
		node.maxtuple = maxtuple;
		ds_node_start(&node, loop, &co, &prog, &run);
	} else {
		if (cmd != NULL && ds_exec_start(&ex, &run, command, loop) == -1)
			die_op();
		if (cmd == NULL)
			start_op(&co);
		pipe_start(loop, maxtuple);
		(void)ds_notify_ready(&co, "running");
	}
	ev_run(loop, 0);

	(void)ds_notify_send("STOPPING=1");
	if (run.exec != NULL)
		ds_exec_term(&ex);
	ds_oprun_term(&run);
	ds_pipein_term(&in);
	ds_node_term(&node);
	free(builtin);
	free(plugin);
	free(cmd);
	free(match);
	free(every_s);
	free(bundle_s);
	free(maxtuple_s);
	poptFreeContext(pc);
	return DS_EX_OK;
}
