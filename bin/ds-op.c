/*
 * ds-op: apply one operator -- a built-in, a C plugin (--plugin) or a
 * program speaking the operator protocol (--exec), all in libds/op -- to
 * BUNDLE frames on stdin, writing what it emits on stdout in large
 * chunks, and always before blocking on input; or, in a topology, as
 * the program of a node (bin/op/node.c).  --max-emit bounds what one
 * input may make it emit, --max-keys the keys of its state: past either
 * it stops (70) rather than grow without bound.  bin/op/op.h says which
 * file does what.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "op/builtin.h"
#include "op/op.h"

#define USAGE \
	"ds-op [-qv] [--bundle N] [--check] [--every MS] [--final[=WHEN]] " \
	"[--match REGEX] [--max-emit SIZE] [--max-keys N] " \
	"[--max-tuple SIZE] [--notify-fd FD] [topology options] " \
	"--builtin NAME [ARG ...]\n" \
	"ds-op [-qv] [--bundle N] [--check] [--max-emit SIZE] [--max-keys N] " \
	"[--max-tuple SIZE] [--notify-fd FD] [topology options] " \
	"--plugin FILE [ARG ...]\n" \
	"ds-op [-qv] [--bundle N] [--check] [--exec-end] [--max-emit SIZE] " \
	"[--max-keys N] [--max-tuple SIZE] [--notify-fd FD] " \
	"[topology options] --exec COMMAND"

#define OUT_HIGH	(256u << 10)	/* write output once this much waits */
#define BUNDLE_MAX	1000000
#define EVERY_MAX	86400000	/* ms: a day */
#define MAX_EMIT	(64u << 20)	/* --max-emit default */

static struct ds_pipein	 in;
static ev_io		 in_w;
static char		 final_unset[] = "";	/* --final not given */

/* --- pipe mode: frames on stdin and stdout ---------------------------- */

/* The input was whole: on_end, the output, then its END (seqs from 1:
 * the last is the count).  Dying or killed, ds-op writes no END. */
static void
finish(struct ev_loop *loop)
{
	struct ds_end e = { O.run.producer, O.run.epoch, 0, 0 };

	if (ds_oprun_end(&O.run, DS_OPRUN_END) == -1)
		op_die();
	op_flush();
	e.count = e.last = O.run.seq;
	if (ds_write_end(1, &e) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	ev_io_stop(loop, &in_w);
	ev_timer_stop(loop, &O.timer_w);
	ev_break(loop, EVBREAK_ALL);
}

static void __attribute__((noreturn))
die_input(void)
{
	op_flush();	/* whole bundles of the good input before it */
	if (O.run.exec != NULL)
		ds_exec_term(&O.ex);
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
		if (O.run.out.len >= OUT_HIGH)
			op_flush();
	}
	op_flush();
	op_arm(loop);
}

/* Pipe mode: stdin, non-blocking when it is a pipe or a socket. */
static void
pipe_start(struct ev_loop *loop, size_t maxtuple)
{
	op_flush();	/* what init emitted */
	(void)ds_stdin_nonblock();
	ds_grow_pipe(0);
	ds_grow_pipe(1);
	ds_pipein_init(&in, "stdin", maxtuple);
	ev_io_init(&in_w, input_cb, 0, EV_READ);
	ev_io_start(loop, &in_w);
	op_arm(loop);
}

int
main(int argc, const char *argv[])
{
	struct ds_common co = DS_COMMON_INIT;
	char *builtin = NULL, *plugin = NULL, *cmd = NULL, *match = NULL;
	char *every_s = NULL, *bundle_s = NULL, *maxtuple_s = NULL;
	char *maxemit_s = NULL, *maxkeys_s = NULL, *final_s = final_unset;
	uint64_t maxtuple = DS_TUPLE_MAX, bundle = 64, every = 0;
	uint64_t maxemit = MAX_EMIT, maxkeys = 0;
	int exec_end = 0, final = 0;
	const struct ds_op_plugin *op = NULL;
	struct poptOption opts[] = {
		{ "builtin", 0, POPT_ARG_STRING, &builtin, 0,
		    "run the built-in operator NAME", "NAME" },
		{ "bundle", 0, POPT_ARG_STRING, &bundle_s, 0,
		    "at most N tuples per output bundle (64)", "N" },
		DS_POPT_CHECK,
		{ "every", 0, POPT_ARG_STRING, &every_s, 0,
		    "topk: also emit the top N every MS milliseconds", "MS" },
		{ "exec", 0, POPT_ARG_STRING, &cmd, 0,
		    "run COMMAND as an operator program", "COMMAND" },
		{ "exec-end", 0, POPT_ARG_NONE, &exec_end, 0,
		    "send the program an end request per key with state at "
		    "the end of input", NULL },
		{ "final", 0, POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL,
		    &final_s, 0, "count, sum: emit each key's value once, at "
		    "the end (WHEN end), or at an orderly stop too (stop)",
		    "WHEN" },
		{ "match", 0, POPT_ARG_STRING, &match, 0,
		    "filter: pass tuples whose payload matches REGEX", "REGEX" },
		{ "max-emit", 0, POPT_ARG_STRING, &maxemit_s, 0,
		    "most output bytes for one tuple, timer or end (64M)",
		    "SIZE" },
		{ "max-keys", 0, POPT_ARG_STRING, &maxkeys_s, 0,
		    "most keys with a state value (no limit)", "N" },
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

	ds_node_main(&O.node, DS_NODE_OP, &co, USAGE);
	pc = ds_node_parse(&O.node.cfg, &co, argc, (char **)(void *)argv, opts,
	    1);

	if (!!builtin + !!plugin + !!cmd != 1)
		ds_dieusage(&co, "exactly one of --builtin, --plugin and --exec "
		    "is required");
	if (maxtuple_s != NULL)
		maxtuple = ds_opt_size(&co, "--max-tuple", maxtuple_s, 1,
		    DS_FRAME_MAX - 1024);
	if (maxemit_s != NULL)
		maxemit = ds_opt_size(&co, "--max-emit", maxemit_s, 1,
		    UINT64_MAX >> 2);
	if (maxkeys_s != NULL)
		maxkeys = ds_opt_u64(&co, "--max-keys", maxkeys_s, 1,
		    UINT64_MAX >> 2);
	if (bundle_s != NULL)
		bundle = ds_opt_u64(&co, "--bundle", bundle_s, 1, BUNDLE_MAX);
	if (every_s != NULL)
		every = ds_opt_u64(&co, "--every", every_s, 1, EVERY_MAX);
	if (final_s != final_unset) {
		if (final_s == NULL || strcmp(final_s, "end") == 0)
			final = DS_OPRUN_FINAL_END;
		else if (strcmp(final_s, "stop") == 0)
			final = DS_OPRUN_FINAL_STOP;
		else
			ds_dieusage(&co, "--final: WHEN is end or stop, not "
			    "'%s' (write --final=WHEN)", final_s);
	}
	if ((match != NULL || every_s != NULL || final != 0) &&
	    builtin == NULL)
		ds_dieusage(&co, "--match, --every and --final are only valid "
		    "with --builtin");
	if (exec_end && cmd == NULL)
		ds_dieusage(&co, "--exec-end is only valid with --exec");
	if (cmd != NULL && poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "--exec takes no operands: quote COMMAND");
	if (builtin != NULL && (op = ds_builtin_find(builtin)) == NULL)
		ds_dieusage(&co, "unknown built-in '%s' (built-ins: %s)",
		    builtin, ds_builtin_names);
	ds_node_validate(&O.node, &co);

	signal(SIGPIPE, SIG_IGN);
	if (co.notify_fd >= 0)
		fcntl(co.notify_fd, F_SETFD, FD_CLOEXEC);
	loop = EV_DEFAULT;
	ds_oprun_init(&O.run, maxtuple, (uint32_t)bundle);
	O.run.log = op_log;
	O.run.match = match;
	O.run.every = every * 1000000;
	O.run.final = final;
	O.run.maxemit = maxemit;
	O.run.maxkeys = maxkeys;
	ev_init(&O.timer_w, op_timer_cb);
	O.command = cmd;
	O.exec_end = exec_end;
	if (builtin != NULL)
		ds_oprun_use(&O.run, op, "built-in", builtin);
	else if (plugin != NULL && ds_oprun_load(&O.run, plugin) == -1)
		op_die();
	O.opname = builtin != NULL ? builtin : plugin;
	O.opargs = poptGetArgs(pc);
	if (co.check)
		op_check(&co, builtin != NULL);
	if (O.node.cfg.on) {
		/* The operator starts once recovery is over (resume). */
		O.node.maxtuple = maxtuple;
		ds_node_start(&O.node, loop, &co, &op_prog, &O.run);
	} else {
		if (cmd != NULL) {
			if (ds_exec_start(&O.ex, &O.run, O.command, loop) == -1)
				op_die();
			O.ex.endreq = exec_end;
		} else
			op_start(&co);
		pipe_start(loop, maxtuple);
		(void)ds_notify_ready(&co, "running");
	}
	ev_run(loop, 0);

	(void)ds_notify_send("STOPPING=1");
	if (O.run.exec != NULL)
		ds_exec_term(&O.ex);
	ds_oprun_term(&O.run);
	ds_pipein_term(&in);
	ds_node_term(&O.node);
	free(builtin);
	free(plugin);
	free(cmd);
	free(match);
	free(every_s);
	if (final_s != final_unset)
		free(final_s);
	free(bundle_s);
	free(maxtuple_s);
	free(maxemit_s);
	free(maxkeys_s);
	poptFreeContext(pc);
	return DS_EX_OK;
}
