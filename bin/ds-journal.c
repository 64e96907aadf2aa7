/*
 * ds-journal: the only process that writes durable state (DESIGN 5).  It
 * serves JWRITE, JREAD and JSTAT requests (ds-wire(5)) at --listen and
 * keeps them in DIR (ds-journal(5)).  Group commit: requests are applied
 * to memory and queued as they arrive; just before the loop would block
 * (or every --sync-every ms) one write(2) and one fdatasync(2) cover
 * every queued JWRITE of every writer, and only then are their JACKs
 * sent.  Before each request and each checkpoint free space is checked
 * against --min-free, counting what is already queued: below it, JWRITEs
 * get FULL (never applied), so the disk never fills under Tokyo Cabinet
 * (which dies with SIGBUS); a write that runs out of space anyway undoes
 * its whole group commit, which gets FULL too.  Only the writer ids of
 * --writers (ds-master gives the topology's), or else up to --max-writers
 * of them, are served: a request of any other gets BAD.
 * --lock-wait: a journal restarted while its predecessor still holds
 * state.tch's lock (it lives on for up to a keepalive after losing its
 * lease) retries the lock, beating to the master meanwhile.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "core/dir.h"
#include "core/msg.h"
#include "journal/journald.h"
#include "node/nodeopt.h"

#define USAGE \
	"ds-journal [-qv] [--check] [--checkpoint SIZE] [--epoch N]\n" \
	"          [--id N] [--keepalive MS] [--key FILE]\n" \
	"          [--lock-wait SECONDS] [--master ADDR] [--max-writers N]\n" \
	"          [--min-free SIZE] [--network NET] [--notify-fd FD]\n" \
	"          [--sync-every MS] [--writers IDS] --dir DIR --listen ADDR"

#define LOCK_RETRY_S	0.1		/* --lock-wait: retry this often */
#define MAX_WRITERS	65536		/* --max-writers default */

enum {
	OPT_CHECKPOINT = 1, OPT_DIR, OPT_EPOCH, OPT_ID, OPT_KEEPALIVE,
	OPT_KEY, OPT_LISTEN, OPT_LOCKWAIT, OPT_MASTER, OPT_MAXWRITERS,
	OPT_MINFREE, OPT_NETWORK, OPT_SYNCEVERY, OPT_WRITERS
};

/* At a clean stop, under -v: what the group commits cost. */
static void
info_stats(void)
{
	struct ds_journal_stats st;

	if (g.j == NULL)
		return;
	ds_journal_stats(g.j, &st);
	ds_info("%" PRIu64 " writes, %" PRIu64 " syncs, sync avg %" PRIu64
	    " us, max %" PRIu64 " us", st.writes, st.syncs,
	    st.syncs ? st.sync_ns / st.syncs / 1000 : 0,
	    st.sync_max_ns / 1000);
}

static void
term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	/* Refused for want of space (1): the writers recover them. */
	if (g.j != NULL && ds_journal_queued(g.j) > 0 &&
	    ds_journal_sync(g.j) == -1)
		journald_die();
	info_stats();
	ds_info("stopped by signal %d", w->signum);
	ds_journal_close(g.j);
	exit(DS_EX_OK);
}

static void
on_lost(void *arg, int why)
{
	(void)arg;
	if (why == DS_LEASE_DRAIN)
		return;		/* for the others: the journal goes last */
	if (why == DS_LEASE_STOP) {
		info_stats();
		ds_info("stopped by the master");
		exit(DS_EX_OK);
	}
	ds_warn("%s: stopping without answering",
	    why == DS_LEASE_FENCED ? "fenced by the master" : "lease lost");
	exit(DS_EX_TEMPFAIL);
}

static void
warn_torn(const char *msg)
{
	ds_warn("%s", msg);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	*(int *)w->data = 1;
}

/*
 * Open and recover DIR; while another process holds state.tch's lock,
 * retry for up to wait_s seconds, running the loop (the lease beats).
 */
static struct ds_journal *
open_journal(const char *dir, uint64_t wait_s)
{
	struct ds_journal *j;
	ev_tstamp until = ev_time() + (double)wait_s;
	ev_timer t;
	char err[1024];
	int code, fired, said = 0;

	ev_timer_init(&t, retry_cb, LOCK_RETRY_S, 0);
	t.data = &fired;
	while ((j = ds_journal_open(dir, &code, err, sizeof(err), warn_torn))
	    == NULL) {
		if (code != DS_EX_UNAVAILABLE || ev_time() >= until)
			ds_die(code, "%s", err);
		if (!said++)
			ds_warn("%s: waiting up to %llu s for it", err,
			    (unsigned long long)wait_s);
		fired = 0;
		ev_timer_set(&t, LOCK_RETRY_S, 0);
		ev_timer_start(g.loop, &t);
		while (!fired)
			ev_run(g.loop, EVRUN_ONCE);
	}
	if (said)
		ds_info("got the lock of %s", dir);
	return j;
}

int
main(int argc, char *argv[])
{
	struct ds_common co = DS_COMMON_INIT;
	char *listen = NULL, *dir = NULL, *master = NULL, *key = NULL, *arg;
	uint64_t id = 0, keepalive = 10000, lock_wait = 0, *wl = NULL;
	uint32_t epoch = 1;
	const char *why;
	size_t nwl = 0;
	int rc, have_id = 0, tcp = 0;
	poptContext pc;
	struct poptOption opts[] = {
		{ "checkpoint", 0, POPT_ARG_STRING, NULL, OPT_CHECKPOINT,
		    "checkpoint into state.tch after this many journal "
		    "bytes, K/M/G (default 256M)", "SIZE" },
		{ "dir", 0, POPT_ARG_STRING, NULL, OPT_DIR,
		    "the journal directory (must exist)", "DIR" },
		{ "epoch", 0, POPT_ARG_STRING, NULL, OPT_EPOCH,
		    "this process's epoch (default 1)", "N" },
		{ "id", 0, POPT_ARG_STRING, NULL, OPT_ID,
		    "this process's id for the master", "N" },
		{ "keepalive", 0, POPT_ARG_STRING, NULL, OPT_KEEPALIVE,
		    "lease length in ms (default 10000)", "MS" },
		{ "key", 0, POPT_ARG_STRING, NULL, OPT_KEY,
		    "the job key file (default: the per-user key)", "FILE" },
		{ "listen", 0, POPT_ARG_STRING, NULL, OPT_LISTEN,
		    "serve requests at this nanomsg address", "ADDR" },
		{ "lock-wait", 0, POPT_ARG_STRING, NULL, OPT_LOCKWAIT,
		    "wait up to this long for DIR's lock (default 0)",
		    "SECONDS" },
		{ "master", 0, POPT_ARG_STRING, NULL, OPT_MASTER,
		    "ds-master's control socket", "ADDR" },
		{ "max-writers", 0, POPT_ARG_STRING, NULL, OPT_MAXWRITERS,
		    "serve at most N writer ids (default 65536)", "N" },
		{ "min-free", 0, POPT_ARG_STRING, NULL, OPT_MINFREE,
		    "refuse writes (FULL) below this much free space, K/M/G "
		    "(default 64M)", "SIZE" },
		{ "network", 0, POPT_ARG_STRING, NULL, OPT_NETWORK,
		    "ipc (default) or tcp: allow tcp:// addresses", "NET" },
		{ "sync-every", 0, POPT_ARG_STRING, NULL, OPT_SYNCEVERY,
		    "wait up to MS to gather a group commit (default 0)",
		    "MS" },
		{ "writers", 0, POPT_ARG_STRING, NULL, OPT_WRITERS,
		    "serve only these writer ids, comma-separated", "IDS" },
		DS_POPT_CHECK,
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-journal";
	(void)ds_dir_umask();	/* sockets and files: ours alone */
	co.usage = USAGE;
	g.min_free = 64u << 20;
	g.ckpt = 256u << 20;	/* a checkpoint stalls writers for tens of ms */
	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1) {
		arg = poptGetOptArg(pc);
		switch (rc) {
		case OPT_CHECKPOINT:
			g.ckpt = ds_opt_size(&co, "--checkpoint", arg, 4096,
			    UINT64_MAX >> 2);
			break;
		case OPT_DIR:
			free(dir);
			dir = arg;
			arg = NULL;
			break;
		case OPT_EPOCH:
			epoch = (uint32_t)ds_opt_u64(&co, "--epoch", arg, 1,
			    UINT32_MAX);
			break;
		case OPT_ID:
			id = ds_opt_u64(&co, "--id", arg, 0, UINT64_MAX);
			have_id = 1;
			break;
		case OPT_KEEPALIVE:
			keepalive = ds_opt_u64(&co, "--keepalive", arg, 100,
			    86400000);
			break;
		case OPT_KEY:
			free(key);
			key = arg;
			arg = NULL;
			break;
		case OPT_NETWORK:
			if (strcmp(arg, "ipc") != 0 && strcmp(arg, "tcp") != 0)
				ds_dieusage(&co, "--network: expected ipc or "
				    "tcp: '%s'", arg);
			tcp = strcmp(arg, "tcp") == 0;
			break;
		case OPT_LISTEN:
			free(listen);
			listen = arg;
			arg = NULL;
			break;
		case OPT_LOCKWAIT:
			lock_wait = ds_opt_u64(&co, "--lock-wait", arg, 0,
			    86400);
			break;
		case OPT_MASTER:
			free(master);
			master = arg;
			arg = NULL;
			break;
		case OPT_MAXWRITERS:
			g.max_writers = ds_opt_u64(&co, "--max-writers", arg,
			    1, UINT32_MAX);
			break;
		case OPT_MINFREE:
			g.min_free = ds_opt_size(&co, "--min-free", arg, 0,
			    UINT64_MAX >> 2);
			break;
		case OPT_SYNCEVERY:
			g.sync_every = (double)ds_opt_u64(&co, "--sync-every",
			    arg, 0, 10000) / 1000.0;
			break;
		case OPT_WRITERS:
			free(wl);
			if (ds_node_parse_ids(arg, strlen(arg), &wl, &nwl,
			    &why) == -1)
				ds_dieusage(&co, "--writers: bad ids '%s': %s",
				    arg, why);
			break;
		}
		free(arg);
	}
	if (poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "unexpected operand '%s'", poptPeekArg(pc));
	poptFreeContext(pc);
	if (dir == NULL)
		ds_dieusage(&co, "--dir is required");
	if (listen == NULL)
		ds_dieusage(&co, "--listen is required");
	if (master != NULL && !have_id)
		ds_dieusage(&co, "--master needs --id");
	ds_node_addr_ok(&co, tcp, "--listen", listen);
	ds_node_addr_ok(&co, tcp, "--master", master);
	if (wl != NULL && g.max_writers != 0)
		ds_dieusage(&co, "--max-writers is for a journal without "
		    "--writers");
	if (g.max_writers == 0)
		g.max_writers = MAX_WRITERS;
	if (wl != NULL)
		journald_writers(wl, nwl);
	if (co.check)
		exit(DS_EX_OK);	/* no key read, nothing opened or bound */
	ds_node_setkey(key);
	free(key);
	g.dir = dir;

	/* acquire: the lease, then recover (maybe waiting), then bind */
	signal(SIGPIPE, SIG_IGN);
	/* Units come and go by the megabyte: keep freed memory. */
	ds_pull_keep_memory();
	g.loop = EV_DEFAULT;
	g.gen = 1;
	ev_signal_init(&g.term_w, term_cb, SIGTERM);
	ev_signal_start(g.loop, &g.term_w);
	ev_signal_init(&g.int_w, term_cb, SIGINT);
	ev_signal_start(g.loop, &g.int_w);
	if (master != NULL && (g.lease = ds_lease_open(g.loop, master, id,
	    epoch, keepalive, on_lost, NULL)) == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to reach master %s: %s",
		    master, ds_pull_strerror(errno));
	if (master != NULL && (g.eq = ds_epochq_open(g.loop, master,
	    journald_wake, NULL)) == NULL)
		ds_diesys(DS_EX_UNAVAILABLE, "unable to reach master %s", master);
	g.j = open_journal(dir, lock_wait);
	ev_async_init(&g.ckpt_w, journald_ckpt_cb);
	ev_async_start(g.loop, &g.ckpt_w);
	ev_prepare_init(&g.prep_w, journald_prep_cb);
	ev_prepare_start(g.loop, &g.prep_w);
	ev_timer_init(&g.sync_w, journald_sync_cb, 0, 0);
	if ((g.srv = ds_pull_srv_open(g.loop, listen, &journald_ops, NULL)) ==
	    NULL && errno == EEXIST)
		ds_die(DS_EX_IOERR, "unable to listen on %s: not a socket: "
		    "left alone", listen);
	if (g.srv == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to listen on %s: %s", listen,
		    ds_pull_strerror(errno));
	(void)journald_room(0);
	ds_info("ready: %s on %s", dir, listen);
	if (ds_notify_ready(&co, NULL) == -1)
		ds_warnsys("unable to signal readiness");

	ev_run(g.loop, 0);
	return DS_EX_OK;
}
