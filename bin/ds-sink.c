/*
 * ds-sink: BUNDLE frames in, text out, one line per tuple by the --format
 * template, or with --tc key -> payload puts into a Tokyo Cabinet hash
 * database (store/output.h).  A bundle is decoded and validated whole by
 * ds_pipein before any of its tuples is written, so a bad frame never
 * leaves half a bundle behind; a stream that ends without its writer's
 * END was cut, and what came of it is written before ds-sink exits 65
 * (the output is then incomplete).  Output goes out in big writes: when
 * the buffer passes FLUSH_AT, and before any read that could block, so
 * interactive pipelines see every result at once.
 *
 * Topology mode (node/node.h): bundles come from the runtime; what is
 * rendered is written and, every loop round in which the input moved and
 * no unit is pending, committed as a unit whose aux is the file's length.
 * When the runtime's commits must survive a machine crash the output is
 * synced first, and a restart cuts the file back to the committed length;
 * otherwise a restart appends after what it wrote.  Puts need no cut: a
 * restart puts the same values again.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "node/node.h"
#include "sink/sink.h"
#include "store/output.h"

#define USAGE \
	"ds-sink [-qv] [--append] [--check] [--file PATH] [--format FMT]\n" \
	"        [--max-tuple SIZE] [--notify-fd FD] [--tc PATH]\n" \
	"        [topology options]"

#define FLUSH_AT	(256 * 1024)
#define DEFAULT_FORMAT	"%k\\t%p"
#define TC_BATCH	(4u << 20)	/* pipe mode: commit this often */

struct sink {
	struct ds_output	 o;
	uint64_t		 ntuples;	/* since the last commit */
	const char		*file;		/* --file */
	int			 append;	/* --append */
	struct ds_node		 node;
};

/* The output failed: say why, with its exit code. */
static void __attribute__((noreturn))
die_out(struct sink *k)
{
	ds_die(k->o.code, "%s", k->o.err);
}

static void
flush(struct sink *k)
{
	if (ds_output_flush(&k->o) == -1)
		die_out(k);
}

static void
put(struct sink *k, const struct ds_bundle *b)
{
	if (ds_output_bundle(&k->o, b) == -1)
		die_out(k);
	k->ntuples += b->count;
}

/* --- topology mode: the program of a node (node.h) ------------------ */

/*
 * Write and commit what came (a zombie must not touch the output: the
 * lease is checked first), as durable as a unit must be, and commit the
 * input frontier with the file's length (0 with --tc).
 */
static void
commit(struct sink *k)
{
	ds_node_valid(&k->node);
	if (ds_output_commit(&k->o, k->o.tc != NULL ||
	    ds_node_syncs(&k->node)) == -1)
		die_out(k);
	ds_node_commit(&k->node, NULL, NULL, 0, k->o.size, k->ntuples);
	k->ntuples = 0;
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
	int syncs = ds_node_syncs(&k->node);
	uint64_t cut;

	if (k->file != NULL) {
		if (ds_output_file(&k->o, k->file, syncs || res->found ||
		    k->append) == -1 || (syncs && ds_output_cut(&k->o,
		    res->found ? res->aux : k->append ? k->o.size : 0,
		    &cut) == -1))
			die_out(k);
		if (syncs && cut > 0)
			ds_info("%s: cutting %llu bytes written after the "
			    "last commit", k->file, (unsigned long long)cut);
	}
	commit(k);
}

static void
bundle(void *arg, const struct ds_bundle *b)
{
	struct sink *k = arg;

	put(k, b);
	if (k->o.out.len < FLUSH_AT)
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
	NULL, NULL, resume, NULL, NULL, bundle, ended, tick, NULL
};

/* --- pipe mode -------------------------------------------------------- */

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

/* Frames on stdin until its end; commit puts now and then. */
static void
pipe_run(struct sink *k, struct ds_common *co, size_t maxtuple)
{
	struct ds_pipein in;
	struct ds_bundle *b;
	uint64_t records;
	char why[sizeof(k->o.err)];
	int rc;

	ds_grow_pipe(STDIN_FILENO);
	ds_pipein_init(&in, "stdin", maxtuple);
	if (ds_notify_ready(co, NULL) == -1)
		ds_warnsys("unable to signal readiness");
	for (;;) {
		/* About to wait for input: let what is ready go now. */
		if (ds_output_waiting(&k->o) > 0 &&
		    !ds_frame_reader_ready(&in.rd) &&
		    !wait_input(STDIN_FILENO, 0) &&
		    ds_output_commit(&k->o, 0) == -1)
			die_out(k);
		rc = ds_pipein_next(&in, STDIN_FILENO, &b);
		if (rc == 0)
			break;
		if (rc == DS_PIPEIN_AGAIN) {
			/* stdin was left non-blocking by someone else. */
			if (ds_output_commit(&k->o, 0) == -1)
				die_out(k);
			(void)wait_input(STDIN_FILENO, -1);
			continue;
		}
		if (rc == -1) {
			/* Whole bundles before the bad frame still count. */
			(void)ds_output_close(&k->o, &records);
			ds_die(in.code, "%s", in.msg);
		}
		if (ds_output_bundle(&k->o, b) == -1) {
			/* What came before stays. */
			rc = k->o.code;
			snprintf(why, sizeof(why), "%s", k->o.err);
			(void)ds_output_close(&k->o, &records);
			ds_die(rc, "%s", why);
		}
		k->ntuples += b->count;
		if (k->o.out.len >= FLUSH_AT)
			flush(k);
		if (k->o.tcbytes >= TC_BATCH && ds_output_commit(&k->o, 0) == -1)
			die_out(k);
	}
	ds_info("end of input: %llu tuples", (unsigned long long)k->ntuples);
	ds_pipein_term(&in);
}

int
main(int argc, char *argv[])
{
	static struct sink k;
	struct ds_common co = DS_COMMON_INIT;
	char *file = NULL, *format = NULL, *tc = NULL, *maxtuple_s = NULL;
	const char *why;
	size_t maxtuple = DS_TUPLE_MAX;
	struct ev_loop *loop;
	uint64_t records;
	struct poptOption opts[] = {
		{ "append", 0, POPT_ARG_NONE, &k.append, 0,
		    "append to the --file instead of truncating it", NULL },
		DS_POPT_CHECK,
		{ "file", 0, POPT_ARG_STRING, &file, 0,
		    "write to PATH instead of stdout (%i: the instance index)",
		    "PATH" },
		{ "format", 0, POPT_ARG_STRING, &format, 0,
		    "line template: %k %p %s %P %e %i %t %T %r %% "
		    "(default %k\\t%p)", "FMT" },
		{ "max-tuple", 0, POPT_ARG_STRING, &maxtuple_s, 0,
		    "largest key+payload in bytes, K/M/G (default 1M)",
		    "SIZE" },
		{ "tc", 0, POPT_ARG_STRING, &tc, 0,
		    "put key -> payload into the Tokyo Cabinet hash database "
		    "PATH instead of writing lines (%i: see --file)", "PATH" },
		DS_POPT_NODE(ds_node_sink_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_node_main(&k.node, DS_NODE_SINK, &co, USAGE);
	(void)ds_node_parse(&k.node.cfg, &co, argc, argv, opts, 0);

	/* validate */
	if (maxtuple_s != NULL)
		maxtuple = ds_opt_size(&co, "--max-tuple", maxtuple_s, 1,
		    DS_FRAME_MAX - 1024);
	if (tc != NULL && (file != NULL || format != NULL || k.append))
		ds_dieusage(&co, "--tc writes no text: it excludes --file, "
		    "--format and --append");
	if (k.append && file == NULL)
		ds_dieusage(&co, "--append needs --file");
	if (ds_output_init(&k.o, format != NULL ? format : DEFAULT_FORMAT,
	    &why) == -1) {
		if (errno == ENOMEM)
			ds_die(DS_EX_OSERR, "out of memory");
		ds_dieusage(&co, "--format: %s", why);
	}
	ds_node_validate(&k.node, &co);
	if (k.node.cfg.on && ds_node_syncs(&k.node) && file == NULL &&
	    tc == NULL)
		ds_dieusage(&co, "exactly-once needs --file or --tc: what is "
		    "written to standard output cannot be taken back");
	if (file != NULL)
		file = sink_path(&co, &k.node.cfg, "--file", file);
	if (tc != NULL)
		tc = sink_path(&co, &k.node.cfg, "--tc", tc);
	if (co.check)
		sink_check(file, tc);

	/* acquire: a topology instance opens --file once it knows where */
	signal(SIGPIPE, SIG_IGN);
	k.file = file;
	if ((file != NULL && !k.node.cfg.on && ds_output_file(&k.o, file,
	    k.append) == -1) || (tc != NULL && ds_output_tc(&k.o, tc) == -1))
		die_out(&k);
	if (file == NULL && tc == NULL)
		ds_grow_pipe(STDOUT_FILENO);
	if (ds_buf_grow(&k.o.out, FLUSH_AT + 64 * 1024) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	if (k.node.cfg.on) {
		if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
			ds_die(DS_EX_OSERR, "unable to create the event loop");
		k.node.maxtuple = maxtuple;
		ds_node_start(&k.node, loop, &co, &prog, &k);
		ev_run(loop, 0);
	} else
		pipe_run(&k, &co, maxtuple);
	if (ds_output_close(&k.o, &records) == -1)
		ds_die(k.o.code, "%s", k.o.err);
	if (tc != NULL)
		ds_info("%s: %llu records", tc, (unsigned long long)records);
	ds_node_term(&k.node);
	free(file);
	free(format);
	free(tc);
	free(maxtuple_s);
	return DS_EX_OK;
}
