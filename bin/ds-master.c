/*
 * ds-master: run a topology (ds-topology(5)) as one process per instance,
 * one ds-router per routed edge and, with exactly-once anywhere, one
 * ds-journal, all children of this process; supervise them through
 * beats and leases, and exit 0 once every process finished.  It never
 * touches data and never signals a process it did not start.  This file
 * parses options and runs the subcommands (run, status, stop); the
 * wiring is the topology's plan (topo/plan.h), the rest is in
 * bin/master/ (master.h says which file does what).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "core/dir.h"
#include "core/key.h"
#include "core/msg.h"
#include "master/master.h"

#define USAGE \
	"ds-master run [-qv] [--check] [--discard-state] [--notify-fd FD] " \
	"FILE\n" \
	"ds-master status [-qv] FILE | RUNDIR\n" \
	"ds-master stop [-qv] [--no-wait] FILE | RUNDIR"

enum { OPT_CHECK = 1, OPT_DISCARD, OPT_NOWAIT };

struct master M;

void
master_load(const struct ds_common *co, const char *file)
{
	char err[1024];
	int fd;

	(void)co;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
		ds_die(errno == ENOENT || errno == EACCES ? DS_EX_NOINPUT :
		    DS_EX_IOERR, "%s: cannot open: %s", file, strerror(errno));
	close(fd);
	if (ds_topo_load(&M.topo, file, err, sizeof(err)) == -1)
		ds_die(DS_EX_CONFIG, "%s", err);
}

/*
 * A fresh job key for this run, RUN/key: the children read it (--key),
 * so processes of an earlier run, or of anyone else, cannot talk to them.
 */
static void
make_key(void)
{
	unsigned char key[DS_KEY_LEN];

	if (ds_key_make(M.runfd, "key", key) == -1 ||
	    ds_pull_setkey(key) == -1)
		ds_diesys(DS_EX_IOERR, "%s/key", M.topo.run);
	memset(key, 0, sizeof(key));
}

/*
 * The directory of the topology file, which every process starts in
 * (ds-topology(5)): opened now, so that a child only has to fchdir(2).
 */
static void
open_topodir(void)
{
	if ((M.topodirfd = open(M.topo.dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		ds_diesys(errno == ENOENT ? DS_EX_NOINPUT : DS_EX_IOERR,
		    "unable to open %s", M.topo.dir);
}

static int
cmd_run(struct ds_common *co, const char *file, int check, int discard,
    const char *a0)
{
	struct sigaction sa;
	size_t i;

	master_load(co, file);
	open_topodir();
	M.addr = xprintf("ipc://%s/master", M.topo.run);
	argv_build(a0);
	check_run();		/* a bad run line never starts the job */
	if (check)
		return DS_EX_OK;

	/* acquire */
	rundir_open(discard);
	stop_last_run();
	make_key();
	if ((M.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		ds_diesys(DS_EX_OSERR, "unable to open /dev/null");
	signal(SIGPIPE, SIG_IGN);
	ev_default_loop(0);
	M.srv = ds_pull_srv_open(EV_DEFAULT, M.addr, &ctl_ops, NULL);
	if (M.srv == NULL && errno == EEXIST)
		ds_die(DS_EX_IOERR, "unable to bind %s: not a socket: left "
		    "alone", M.addr);
	if (M.srv == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to bind %s: %s", M.addr,
		    ds_pull_strerror(errno));
	ev_signal_init(&M.sigterm, stop_sig_cb, SIGTERM);
	ev_signal_start(EV_DEFAULT, &M.sigterm);
	ev_signal_init(&M.sigint, stop_sig_cb, SIGINT);
	ev_signal_start(EV_DEFAULT, &M.sigint);
	/* Under nohup(1) SIGHUP stays ignored. */
	if (sigaction(SIGHUP, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN) {
		ev_signal_init(&M.sighup, stop_hup_cb, SIGHUP);
		ev_signal_start(EV_DEFAULT, &M.sighup);
	}
	ev_timer_init(&M.tick, sup_tick_cb, 0,
	    M.topo.keepalive_ms >= 40 ? M.topo.keepalive_ms / 4000.0 : 0.01);
	ev_timer_start(EV_DEFAULT, &M.tick);
	ds_notify_forget();
	ds_info("job %s: %zu processes, run %s, state %s", M.topo.name, M.nin,
	    M.topo.run, M.topo.state);
	for (i = 0; i < M.nin; i++)
		ev_timer_init(&M.in[i].backoff, sup_backoff_cb, 0, 0);
	M.co = co;
	M.old_until = ev_now(EV_DEFAULT) + 2.0 * M.topo.keepalive_ms / 1000.0 +
	    1.0;
	ev_timer_init(&M.old, procs_wait_cb, 0, 0);
	ev_timer_start(EV_DEFAULT, &M.old);
	ev_run(EV_DEFAULT, 0);
	return DS_EX_SOFTWARE;	/* stop_progress() exits */
}

int
main(int argc, char *argv[])
{
	struct ds_common co = DS_COMMON_INIT;
	const char *cmd, *file;
	poptContext pc;
	int rc, check = 0, discard = 0, nowait = 0;
	struct poptOption opts[] = {
		{ "check", 0, POPT_ARG_NONE, NULL, OPT_CHECK,
		    "run: only check FILE and every process's options", NULL },
		{ "discard-state", 0, POPT_ARG_NONE, NULL, OPT_DISCARD,
		    "run: start over, removing the job's state", NULL },
		{ "no-wait", 0, POPT_ARG_NONE, NULL, OPT_NOWAIT,
		    "stop: do not wait for the job to end", NULL },
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-master";
	(void)ds_dir_umask();	/* sockets and files: ours alone */
	co.usage = USAGE;
	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1) {
		if (rc == OPT_CHECK)
			check = 1;
		else if (rc == OPT_DISCARD)
			discard = 1;
		else if (rc == OPT_NOWAIT)
			nowait = 1;
	}
	if ((cmd = poptGetArg(pc)) == NULL)
		ds_dieusage(&co, "missing command");
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "stop") != 0)
		ds_dieusage(&co, "unknown command '%s'", cmd);
	if ((file = poptGetArg(pc)) == NULL)
		ds_dieusage(&co, "%s: missing %s", cmd,
		    strcmp(cmd, "run") == 0 ? "FILE" : "FILE or RUNDIR");
	if (poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "unexpected operand '%s'", poptPeekArg(pc));
	if (strcmp(cmd, "run") != 0 && check)
		ds_dieusage(&co, "--check is for run only");
	if (strcmp(cmd, "run") != 0 && co.notify_fd != -1)
		ds_dieusage(&co, "--notify-fd is for run only");
	if (strcmp(cmd, "run") != 0 && discard)
		ds_dieusage(&co, "--discard-state is for run only");
	if (strcmp(cmd, "stop") != 0 && nowait)
		ds_dieusage(&co, "--no-wait is for stop only");
	if (strcmp(cmd, "run") == 0)
		rc = cmd_run(&co, file, check, discard, argv[0]);
	else if (strcmp(cmd, "status") == 0)
		rc = client_status(&co, file);
	else
		rc = client_stop(&co, file, nowait);
	poptFreeContext(pc);
	return rc;
}
