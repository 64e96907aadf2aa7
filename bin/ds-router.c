/*
 * ds-router: the partitioner of one topology edge, a node with the
 * identity transform (node/node.h).  It pulls the streams of the upstream
 * producers (one inlet per --pull) and serves its consumers at --listen
 * the same tuples, split by --dist exactly as producers split their own
 * output on a direct edge (each consumer its part; broadcast: all of it),
 * with the producer, epoch and seqs unchanged.  It keeps nothing: each
 * producer is acked upstream only as far as every consumer acked it, and
 * after a restart it pulls again what upstream retained.  When it holds
 * more than --buffer bytes it stops pulling; it starts again below half.
 */
#include <signal.h>
#include <stdlib.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "node/node.h"

#define USAGE \
	"ds-router [-qv] [--buffer SIZE] [--check] [--ended IDS]\n" \
	"          [--epoch N] [--keepalive MS] [--key FILE]\n" \
	"          [--master ADDR] [--max-tuple SIZE] [--name NAME]\n" \
	"          [--network NET] [--notify-fd FD] [--once MODE]\n" \
	"          [--state DIR] --consumers IDS --dist DIST --id N\n" \
	"          --listen ADDR --pull MODE:IDS@ADDR ..."

static void
term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	ds_info("stopped by signal %d", w->signum);
	exit(DS_EX_OK);
}

int
main(int argc, char *argv[])
{
	static struct ds_node n;
	struct ds_common co = DS_COMMON_INIT;
	struct ev_loop *loop;
	ev_signal term_w, int_w;
	char *maxtuple = NULL;
	struct poptOption opts[] = {
		{ "max-tuple", 0, POPT_ARG_STRING, &maxtuple, 0,
		    "largest key+payload in bytes, K/M/G (default 1M)",
		    "SIZE" },
		DS_POPT_CHECK,
		DS_POPT_NODE(ds_node_router_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_node_main(&n, DS_NODE_ROUTER, &co, USAGE);
	(void)ds_node_parse(&n.cfg, &co, argc, argv, opts, 0);
	if (maxtuple != NULL)
		n.maxtuple = ds_opt_size(&co, "--max-tuple", maxtuple, 1,
		    DS_FRAME_MAX - 1024);
	free(maxtuple);
	ds_node_validate(&n, &co);
	if (co.check)
		exit(DS_EX_OK);

	signal(SIGPIPE, SIG_IGN);
	loop = EV_DEFAULT;
	/* Before nanomsg starts its threads, so that they inherit it. */
	ev_signal_init(&term_w, term_cb, SIGTERM);
	ev_signal_start(loop, &term_w);
	ev_signal_init(&int_w, term_cb, SIGINT);
	ev_signal_start(loop, &int_w);
	ds_node_start(&n, loop, &co, NULL, NULL);
	ev_run(loop, 0);
	ds_node_term(&n);
	return DS_EX_OK;
}
