/*
 * master.h: what ds-master's files share (bin/ds-master.c and bin/master/,
 * not bin/ds-master/: that is the executable): one struct inst per process
 * of the topology's plan, the forked processes, the one global state M.
 * ds-master.c parses options and runs the subcommands; argv.c renders each
 * process's argv from the plan; rundir.c owns the run and state
 * directories, stateplan.c the plan a state was made for; supervise.c
 * starts, reaps and restarts; stop.c stops the job; control.c serves
 * BEATs and CTL commands, client.c sends them (status, stop); procs.c
 * waits for an earlier master's children; check.c runs each process's
 * --check.  All of it may print and exit: this is bin/.
 */
#ifndef DS_MASTER_H
#define DS_MASTER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "ds.h"
#include "core/msg.h"
#include "net/pull.h"
#include "topo/plan.h"
#include "topo/topo.h"

enum ist {
	I_WAIT,		/* not running: about to (re)start */
	I_STARTING,	/* forked, no beat yet */
	I_RUNNING,
	I_DONE,		/* said DONE in a beat, not exited yet */
	I_EXITED	/* exited 0: finished for good */
};

struct strv {
	char	**v;
	size_t	  n, cap;
};

struct inst;

/* One forked process; outlives its inst's interest when replaced. */
struct proc {
	ev_child	 cw;		/* first: callbacks cast back */
	struct inst	*in;
	pid_t		 pid;
	uint32_t	 epoch;
	ev_tstamp	 started;
	int		 stale;		/* replaced: only left to reap */
	struct proc	*next;
};

struct inst {
	const struct ds_plan_proc *pp;	/* its place in M.plan */
	const char	*name;		/* pp's: NODE.I, U-D or journal */
	uint64_t	 id;		/* pp's */
	char		*path;		/* resolved argv[0] */
	struct strv	 argv;
	size_t		 epoch_slot;	/* argv index of --epoch's value */
	char		 epoch_s[16];
	uint32_t	 epoch;
	enum ist	 state;
	struct proc	*cur;
	unsigned	 restarts;
	unsigned	 quick;		/* quick non-zero exits in a row */
	int		 last_status;	/* wait(2) status of the last exit */
	ev_tstamp	 last_beat;
	ev_timer	 backoff;	/* restart delay after a quick exit */
	uint64_t	 cnt[DS_CNT_N];
	uint64_t	 fenced;	/* beats of stale epochs we refused */
	int		 stdin_ok;	/* a source: keeps our standard input */
	int		 retiring;	/* SIGTERMed: every consumer finished */
	int		 stopped;	/* said STOPPED: drained, not ended */
	unsigned	 lives;		/* spawned in this run */
	ev_tstamp	 cons_done_at;	/* when that was first seen, or 0 */
};

struct master {
	struct ds_topo		 topo;
	int			 runfd, statefd;	/* RUN, STATE (rundir.c) */
	int			 statelock;	/* STATE/lock, locked */
	int			 topodirfd;	/* the file's directory */
	struct ds_plan		 plan;		/* who pulls from whom */
	char			*addr;		/* ipc://RUN/master */
	struct inst		*in;		/* plan.proc[k] is in[k]'s */
	size_t			 nin;
	struct proc		*procs;
	struct inst		*jn;		/* the ds-journal, or NULL */
	int			 jn_termed;	/* SIGTERMed it at the end */
	ev_tstamp		 old_until;	/* stop waiting for old ones */
	ev_timer		 old;		/* polls for old ones */
	struct ds_common	*co;
	struct ds_pull_srv	*srv;
	int			 devnull;
	int			 draining;	/* an orderly stop: DRAIN */
	ev_tstamp		 drain_at;
	int			 drained;	/* ... and it ended so */
	int			 after_stop;	/* the last run drained */
	int			 stopping;
	int			 code;		/* exit status once stopped */
	char			 why[512];	/* the reason, for the log */
	ev_tstamp		 stop_at;
	ev_timer		 tick;		/* keepalive, stop progress */
	ev_timer		 killer;	/* SIGKILL the last ones */
	ev_signal		 sigterm, sigint, sighup;
};

/* A source: an instance without inputs (a ds-source). */
static inline int
inst_source(const struct inst *in)
{
	return in->pp->kind == DS_PLAN_INSTANCE && in->pp->npull == 0;
}

/* The one ds-master of this process (ds-master.c). */
extern struct master M;

/* ds-master.c: load file into M.topo, or die 66 (missing) or 78. */
void	 master_load(const struct ds_common *co, const char *file);

/*
 * client.c: `ds-master status` and `stop` of the job of a topology file
 * or a run directory (target); the exit status.  A job that is not
 * running gets one line from its state directory and 3.  stop waits for
 * the job to end (not with nowait) and prints how it ended.
 */
int	 client_status(const struct ds_common *co, const char *target);
int	 client_stop(const struct ds_common *co, const char *target,
	    int nowait);

/* xalloc.c: allocate or die with 71 ("out of memory"). */
void	 nomem(void) __attribute__((noreturn));
char	*xstrdup(const char *);
char	*xprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * argv.c: find every program (dies 69 if one is missing), plan the
 * wiring (dies 78 on a plan error) into M.plan, and fill M.in, M.nin and
 * M.jn with each process's path and argv (epoch 0 until spawned).  argv0
 * is ds-master's: its directory is searched before $PATH.
 */
void	 argv_build(const char *argv0);
/* "ID,ID,..." (malloc'ed; "" for none). */
char	*argv_ids(const struct ds_plan_ids *);

/*
 * rundir.c: create or check the private run and state directories into
 * M.runfd and M.statefd (dies 74 naming a directory that is not ours
 * alone), take the run and the state locks (dies 69 if another master
 * holds one), read STATE/epochs, then, before anything in STATE
 * changes: start over if the last run finished (STATE/done) or discard
 * is set, else die 78 if STATE/plan differs from the topology's (naming
 * each difference).  Then remove STATE/stopped and write STATE/plan.
 * Dies 71/74 on errors, 74 on a symbolic link where a file should be.
 */
void	 rundir_open(int discard);
/* Replace STATE/epochs (synced): 0, or -1 with errno set. */
int	 rundir_epochs_save(void);
/*
 * Write STATE/done, "finished TIME" (the job finished; the next run
 * starts over); dies 74.
 */
void	 rundir_done(void);
/*
 * Write STATE/stopped, "stopped TIME: why" (one line: why has no
 * newline), how a run that did not finish ended; warns if it cannot.
 */
void	 rundir_stopped(const char *why);
/*
 * Every child is gone: remove the sockets of the plan's processes and
 * ours from RUN, then the run lock, then release the state lock (last:
 * call it just before exiting).
 */
void	 rundir_close(void);

/*
 * stateplan.c: the plan of t as STATE/plan holds it (malloc'ed), and
 * the differences between an old one (modified in place; what names it
 * in messages) and t's, each printed as one fatal line naming t's
 * FILE:LINE; their number.  Dies 65 if old is no plan.
 */
char	*plan_text(const struct ds_topo *t);
size_t	 plan_diff(char *old, const struct ds_topo *t, const char *what);

/*
 * supervise.c: start every process (the journal first), then signal
 * readiness.  The ev callbacks: a restart delay's end (inst's backoff),
 * the periodic tick (keepalive, retiring producers, stop progress).
 */
void	 sup_start(void);
void	 sup_backoff_cb(EV_P_ ev_timer *, int);
void	 sup_tick_cb(EV_P_ ev_timer *, int);
/* Fork and exec in with its epoch + 1; on failure the job stops. */
void	 sup_spawn(struct inst *in);
/* The process with this id, or NULL. */
struct inst *inst_by_id(uint64_t id);

/*
 * stop.c: stop the job with exit status code and the reason fmt: STOP in
 * every BEATACK, SIGTERM now (the journal last), SIGKILL later.  The
 * first call wins; later ones do nothing.
 */
void	 job_stop(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Stop the job in order (`ds-master stop`, SIGHUP, a first SIGINT or
 * SIGTERM): DRAIN in every BEATACK; sources stop reading, every process
 * finishes what was read and exits 0; job_ended() then stops the job with
 * 75 (run again to resume), saying where each source stopped.  Nothing is
 * signalled; a crashed process is restarted as always.  The first reason
 * wins; drain (topology) later the job is stopped at once (job_stop), and
 * with drain = 0 at once from the start.
 */
void	 job_drain(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Every process exited 0: the job finished, or drained (no return). */
void	 job_ended(void);
/*
 * At the start of a run: did the last one stop in order (STATE/drained)?
 * Sets M.after_stop and removes the file: positions are exact only until
 * this run changes them.  Dies 74.
 */
void	 stop_last_run(void);
/* While stopping, at each tick: the journal last, then exit (no return). */
void	 stop_progress(ev_tstamp now);
/* While draining, at each tick: give up after drain. */
void	 drain_progress(ev_tstamp now);
/*
 * SIGTERM/SIGINT: the first drains the job (75), the second stops it at
 * once (SIGTERM to every child), the third SIGKILLs every child.
 */
void	 stop_sig_cb(EV_P_ ev_signal *, int);
/* SIGHUP: what `ds-master stop` does. */
void	 stop_hup_cb(EV_P_ ev_signal *, int);

/*
 * check.c: run every process's command line (M.in, from argv_build) with
 * --check in the topology file's directory: exit with a failing one's
 * status and message (FILE:LINE: NODE: ...), or 78 if two processes
 * would write the same file.  Starts nothing, creates nothing.
 */
void	 check_run(void);

/* control.c: the server side of RUN/master (BEAT and CTL frames). */
extern const struct ds_pull_srv_ops ctl_ops;

/*
 * procs.c: the ev callback of M.old: wait (up to M.old_until) for the
 * processes of an earlier master of this run directory to be gone, then
 * sup_start().
 */
void	 procs_wait_cb(EV_P_ ev_timer *, int);

#endif
