/*
 * supervise.c: ds-master's children.  Fork and exec each process of the
 * plan with its epoch + 1 (a forked child calls only async-signal-safe
 * functions: nanomsg threads do not survive fork), reap them through
 * ev_child only, restart the dead (at once after a SIGKILL, with a
 * growing delay after quick exits, never after QUICK_MAX of them in a
 * row nor after an exit 64 or 78), declare the silent dead (keepalive)
 * and fence their epoch, and retire a producer whose consumers all
 * finished.  It never signals a process it did not start.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "master.h"

#define QUICK_S		2.0	/* an exit this soon after start is quick */
#define QUICK_MAX	5	/* this many quick exits in a row: give up */
#define RETIRE_AFTER_S	1.0	/* consumers done this long: SIGTERM it */

static void
status_str(int st, char *buf, size_t n)
{
	if (WIFEXITED(st))
		snprintf(buf, n, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, n, "signal %d", WTERMSIG(st));
	else
		snprintf(buf, n, "status %#x", st);
}

struct inst *
inst_by_id(uint64_t id)
{
	const struct ds_plan_proc *pp = ds_plan_find(&M.plan, id);

	return pp == NULL ? NULL : &M.in[pp - M.plan.proc];
}

/* The process with this id exited 0: finished for good. */
static int
id_exited(uint64_t id)
{
	const struct inst *in = inst_by_id(id);

	return in != NULL && in->state == I_EXITED;
}

/* Highest open fd, for closing everything in the child. */
static int
max_fd(void)
{
	struct dirent *de;
	DIR *d;
	long v;
	int max = 2, fd;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		v = sysconf(_SC_OPEN_MAX);
		return v > 0 && v < 65536 ? (int)v - 1 : 65535;
	}
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (fd > max)
			max = fd;
	}
	closedir(d);
	return max;
}

/*
 * Every consumer of in's output finished (exited 0 after acking all of
 * it).  Then in has nothing left to deliver: a restart after its last
 * ack reached them (it recovers a frontier from before the end) would
 * wait forever for consumers that are gone.  Sinks have no consumers.
 */
static int
consumers_done(const struct inst *in)
{
	const struct ds_plan_ids *c = &in->pp->consumers;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!id_exited(c->v[i]))
			return 0;
	return c->n > 0;
}

/* Every current process exited 0? */
static int
all_exited(void)
{
	size_t i;

	for (i = 0; i < M.nin; i++)
		if (M.in[i].state != I_EXITED && &M.in[i] != M.jn)
			return 0;
	return 1;
}

/*
 * The producers in pulls from that finished and exited 0: "ID,ID"
 * (malloc'ed), or NULL.  A process restarted after they ended must know,
 * or it waits for them forever (--ended).
 */
static char *
ended_ids(const struct inst *in)
{
	struct ds_plan_ids ended = { NULL, 0 };
	const struct ds_plan_ids *from;
	size_t j, i, n = 0;
	char *s = NULL;

	for (j = 0; j < in->pp->npull; j++)
		n += in->pp->pull[j].from.n;
	if (n == 0)
		return NULL;
	if ((ended.v = calloc(n, sizeof(*ended.v))) == NULL)
		nomem();
	for (j = 0; j < in->pp->npull; j++) {
		from = &in->pp->pull[j].from;
		for (i = 0; i < from->n; i++)
			if (id_exited(from->v[i]))
				ended.v[ended.n++] = from->v[i];
	}
	if (ended.n > 0)
		s = argv_ids(&ended);
	free(ended.v);
	return s;
}

static void
child_cb(EV_P_ ev_child *w, int revents)
{
	struct proc *p = (struct proc *)w, **pp;
	struct inst *in = p->in;
	char st[32];
	double delay;
	int code;

	(void)revents;
	ev_child_stop(EV_A_ w);
	for (pp = &M.procs; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	status_str(w->rstatus, st, sizeof(st));
	if (p->stale) {
		ds_info("%s: replaced pid=%ld epoch=%lu ended (%s)", in->name,
		    (long)p->pid, (unsigned long)p->epoch, st);
		free(p);
		return;
	}
	in->cur = NULL;
	in->last_status = w->rstatus;
	/* The journal is needed until the end: its exit is a death. */
	if (WIFEXITED(w->rstatus) && WEXITSTATUS(w->rstatus) == 0 &&
	    (in != M.jn || M.stopping)) {
		in->state = I_EXITED;
		ds_info("%s finished pid=%ld epoch=%lu", in->name,
		    (long)p->pid, (unsigned long)p->epoch);
		free(p);
		if (!M.stopping && all_exited())
			job_ended();
		return;
	}
	in->state = I_WAIT;
	if (M.stopping) {
		free(p);
		return;
	}
	/* Bad options or configuration fail again the same way: dstream(7). */
	code = WIFEXITED(in->last_status) ? WEXITSTATUS(in->last_status) : 0;
	if (code == DS_EX_USAGE || code == DS_EX_CONFIG) {
		free(p);
		job_stop(code, "%s exited %d: not restarted", in->name, code);
		return;
	}
	if (consumers_done(in)) {
		in->state = I_EXITED;
		ds_info("%s ended (%s) pid=%ld epoch=%lu after every consumer "
		    "finished: done", in->name, st, (long)p->pid,
		    (unsigned long)p->epoch);
		free(p);
		if (all_exited())
			job_ended();
		return;
	}
	/*
	 * A SIGKILL comes from outside (an operator, a chaos test, the OOM
	 * killer), not from the program failing to start: restart at once
	 * and do not count it towards giving up.
	 */
	if (WIFSIGNALED(in->last_status) &&
	    WTERMSIG(in->last_status) == SIGKILL)
		in->quick = 0;
	else if (ev_now(EV_A) - p->started < QUICK_S)
		in->quick++;
	else
		in->quick = 0;
	if (in->quick >= QUICK_MAX) {
		free(p);
		job_stop(DS_EX_UNAVAILABLE, "%s exited %u times in a row "
		    "within %.0f s of starting, last with %s: cannot go on",
		    in->name, in->quick, QUICK_S, st);
		return;
	}
	delay = in->quick == 0 ? 0 : 0.05 * (1u << (in->quick - 1));
	ds_warn("%s died (%s) pid=%ld epoch=%lu; restarting", in->name, st,
	    (long)p->pid, (unsigned long)p->epoch);
	in->restarts++;
	free(p);
	ev_timer_set(&in->backoff, delay, 0);
	ev_timer_start(EV_A_ &in->backoff);
}

/* Start every process, the journal first; then we are ready. */
void
sup_start(void)
{
	size_t i;

	for (i = 0; i < M.nin && !M.stopping; i++) {
		M.in[i].state = I_WAIT;
		sup_spawn(&M.in[i]);
	}
	if (ds_notify_ready(M.co, "STATUS=running") == -1)
		ds_warnsys("unable to signal readiness");
}

void
sup_spawn(struct inst *in)
{
	struct proc *p;
	sigset_t none;
	pid_t pid;
	char **av, *ended;
	mode_t mask;
	size_t n, k;
	int fd, maxfd, own;

	if (in->epoch >= UINT32_MAX - 1) {
		job_stop(DS_EX_SOFTWARE, "%s: out of epochs", in->name);
		return;
	}
	in->epoch++;
	in->retiring = 0;	/* a new life: SIGTERM it again if need be */
	in->cons_done_at = 0;
	if (rundir_epochs_save() == -1) {
		job_stop(DS_EX_IOERR, "unable to write %s/epochs: %s",
		    M.topo.state, ds_dir_strerror(errno));
		return;
	}
	snprintf(in->epoch_s, sizeof(in->epoch_s), "%lu",
	    (unsigned long)in->epoch);
	free(in->argv.v[in->epoch_slot]);
	in->argv.v[in->epoch_slot] = xstrdup(in->epoch_s);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		nomem();
	for (n = 0; in->argv.v[n] != NULL; n++)
		;
	if ((av = calloc(n + 4, sizeof(*av))) == NULL)
		nomem();
	memcpy(av, in->argv.v, n * sizeof(*av));
	k = n;
	if ((ended = ended_ids(in)) != NULL) {
		av[k++] = (char *)(uintptr_t)"--ended";
		av[k++] = ended;
		ds_info("%s: producers %s finished: passing --ended",
		    in->name, ended);
	}
	if (M.draining && inst_source(in))
		av[k++] = (char *)(uintptr_t)"--drain";	/* read nothing */
	/* The first life after an orderly stop: positions are exact. */
	if (M.after_stop && in->lives == 0 && in->pp->npull > 0)
		av[k++] = (char *)(uintptr_t)"--resumed";
	in->lives++;
	/*
	 * Children get a process group of their own, so a ^C at the
	 * terminal reaches ds-master alone, which stops the job in order;
	 * except a source reading that terminal (a background group cannot).
	 */
	own = !(in->stdin_ok && isatty(0));
	maxfd = max_fd();
	mask = ds_dir_umask_caller();	/* ours is 077: not the child's */
	sigemptyset(&none);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		free(av);
		free(ended);
		free(p);
		job_stop(DS_EX_OSERR, "unable to fork for %s: %s", in->name,
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		umask(mask);
		if (own)
			(void)setpgid(0, 0);
		/* Run lines are relative to the topology's directory. */
		if (fchdir(M.topodirfd) == -1)
			_exit(DS_EX_OSERR);
		if (!in->stdin_ok && M.devnull != 0)
			dup2(M.devnull, 0);
		for (fd = 3; fd <= maxfd; fd++)
			close(fd);
		execv(in->path, av);
		_exit(DS_EX_OSERR);
	}
	free(av);
	free(ended);
	p->in = in;
	p->pid = pid;
	p->epoch = in->epoch;
	p->started = ev_now(EV_DEFAULT);
	p->next = M.procs;
	M.procs = p;
	ev_child_init(&p->cw, child_cb, pid, 0);
	ev_child_start(EV_DEFAULT, &p->cw);
	in->cur = p;
	in->state = I_STARTING;
	in->last_beat = ev_now(EV_DEFAULT);
	memset(in->cnt, 0, sizeof(in->cnt));
	ds_info("%s started pid=%ld epoch=%lu", in->name, (long)pid,
	    (unsigned long)in->epoch);
}

void
sup_backoff_cb(EV_P_ ev_timer *w, int revents)
{
	struct inst *in = (struct inst *)((char *)w -
	    offsetof(struct inst, backoff));

	(void)revents;
	(void)EV_A;
	if (!M.stopping && in->cur == NULL)
		sup_spawn(in);
}

void
sup_tick_cb(EV_P_ ev_timer *w, int revents)
{
	ev_tstamp now = ev_now(EV_A), ka = M.topo.keepalive_ms / 1000.0;
	struct inst *in;
	size_t i;

	(void)w;
	(void)revents;
	if (M.stopping) {
		stop_progress(now);
		return;
	}
	if (all_exited()) {
		job_ended();
		return;
	}
	drain_progress(now);
	/*
	 * A producer whose consumers all finished is normally finishing
	 * too: the last consumer's final ack may still be on its way, and a
	 * SIGTERM now would drop it and leave the producer's own producer
	 * waiting for it (seen: the router stopped 6 ms after its consumers,
	 * the source then waited for the next tick, 2.5 s).  Only one still
	 * running RETIRE_AFTER_S later, at a later tick, is stopped.
	 */
	for (i = 0; i < M.nin; i++) {
		in = &M.in[i];
		if (in->cur == NULL || in->retiring || !consumers_done(in)) {
			in->cons_done_at = 0;
			continue;
		}
		if (in->cons_done_at == 0)
			in->cons_done_at = now;
		if (now - in->cons_done_at >= RETIRE_AFTER_S) {
			ds_info("%s: every consumer finished: stopping pid=%ld",
			    in->name, (long)in->cur->pid);
			in->retiring = 1;
			kill(in->cur->pid, SIGTERM);
		}
	}
	for (i = 0; i < M.nin; i++) {
		in = &M.in[i];
		if (in->cur == NULL || now - in->last_beat <= ka)
			continue;
		if (M.topo.fence_only)
			ds_warn("%s declared dead: no beat for %llu ms; "
			    "fencing pid=%ld epoch=%lu", in->name,
			    (unsigned long long)M.topo.keepalive_ms,
			    (long)in->cur->pid, (unsigned long)in->epoch);
		else {
			ds_warn("%s declared dead: no beat for %llu ms; "
			    "killing pid=%ld epoch=%lu", in->name,
			    (unsigned long long)M.topo.keepalive_ms,
			    (long)in->cur->pid, (unsigned long)in->epoch);
			(void)kill(in->cur->pid, SIGKILL);
		}
		in->cur->stale = 1;
		in->cur = NULL;
		if (consumers_done(in)) {
			/* A replacement would wait for them forever. */
			in->state = I_EXITED;
			ds_info("%s: every consumer finished: done, not "
			    "replaced", in->name);
			continue;
		}
		in->state = I_WAIT;
		in->restarts++;
		sup_spawn(in);
	}
}
