/*
 * stop.c: stopping the job, for any reason (every process finished, a
 * signal, `ds-master stop` or SIGHUP, a crash loop, a failed fork), and
 * saying in STATE how it ended (STATE/done or STATE/stopped).
 * Children learn it from STOP in their BEATACK and from SIGTERM; those
 * still running KILL_AFTER_S later get SIGKILL.  The ds-journal goes
 * last, once every writer has made its last units durable or is gone.
 * ds-master exits only once every child is reaped, with the first
 * reason's status, leaving RUN empty.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dir.h"
#include "master.h"

#define KILL_AFTER_S	2.0	/* SIGTERM, then SIGKILL after this */

/* Signal every child; the current journal only if also_journal. */
static void
signal_all(int sig, int also_journal)
{
	struct proc *p;

	for (p = M.procs; p != NULL; p = p->next)
		if (also_journal || M.jn == NULL || p != M.jn->cur)
			(void)kill(p->pid, sig);
}

static void
killer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)EV_A;
	(void)w;
	(void)revents;
	if (M.procs != NULL)
		ds_warn("children still running after %.0f s: killing them",
		    KILL_AFTER_S);
	signal_all(SIGKILL, 1);
}

/*
 * Stop the job: STOP in every BEATACK, SIGTERM now, SIGKILL later;
 * stop_progress() exits with code once every child is gone.  The first
 * reason wins.
 */
void
job_stop(int code, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (M.stopping)
		return;
	M.stopping = 1;
	M.draining = 0;		/* an orderly stop ends here, if one ran */
	M.code = code;
	va_start(ap, fmt);
	vsnprintf(M.why, sizeof(M.why), fmt, ap);
	va_end(ap);
	M.stop_at = ev_now(EV_DEFAULT);
	for (i = 0; i < M.nin; i++)
		ev_timer_stop(EV_DEFAULT, &M.in[i].backoff);
	ds_info("stopping the job: %s", M.why);
	ev_timer_stop(EV_DEFAULT, &M.old);
	/* The journal goes last: see journal_last(). */
	signal_all(code == DS_EX_OK ? SIGKILL : SIGTERM, 0);
	ev_timer_init(&M.killer, killer_cb, KILL_AFTER_S, 0);
	ev_timer_start(EV_DEFAULT, &M.killer);
	ev_timer_stop(EV_DEFAULT, &M.tick);
	ev_timer_set(&M.tick, 0.02, 0.02);
	ev_timer_start(EV_DEFAULT, &M.tick);
}

/*
 * Stopping: once the journal is the only child left (every writer has
 * made its last units durable or is gone), SIGTERM it (it syncs what is
 * queued and exits 0), and give it the full KILL_AFTER_S.
 */
static void
journal_last(void)
{
	if (M.jn == NULL || M.jn->cur == NULL || M.jn_termed ||
	    M.procs != M.jn->cur || M.procs->next != NULL)
		return;
	M.jn_termed = 1;
	ds_info("journal: every other process ended: stopping pid=%ld",
	    (long)M.jn->cur->pid);
	(void)kill(M.jn->cur->pid, SIGTERM);
	ev_timer_stop(EV_DEFAULT, &M.killer);
	ev_timer_set(&M.killer, KILL_AFTER_S, 0);
	ev_timer_start(EV_DEFAULT, &M.killer);
}

void
job_drain(const char *fmt, ...)
{
	char why[sizeof(M.why)];
	va_list ap;

	if (M.stopping || M.draining)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (M.topo.drain_ms == 0) {	/* drain = 0: at once */
		job_stop(DS_EX_TEMPFAIL, "%s", why);
		return;
	}
	memcpy(M.why, why, sizeof(why));
	M.draining = 1;
	M.drain_at = ev_now(EV_DEFAULT);
	ds_info("stopping the job in order (%s): sources stop reading, the "
	    "rest finish what was read", M.why);
}

void
drain_progress(ev_tstamp now)
{
	double lim = M.topo.drain_ms / 1000.0;

	if (!M.draining || M.stopping || now - M.drain_at < lim)
		return;
	ds_warn("the orderly stop did not end within drain = %.3g s: "
	    "stopping at once (at least once, outputs may repeat after the "
	    "rerun)", lim);
	job_stop(DS_EX_TEMPFAIL, "stopped at once: the orderly stop took "
	    "over %.3g s", lim);
}

/* Where the sources stopped: "src.0 at line 3, offset 42; ...". */
static void
where(char *buf, size_t n)
{
	const struct inst *in;
	size_t i, len = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < M.nin && len < n; i++) {
		in = &M.in[i];
		if (!inst_source(in))
			continue;
		w = snprintf(buf + len, n - len, "%s%s at line %llu, offset "
		    "%llu", len > 0 ? "; " : "", in->name,
		    (unsigned long long)in->cnt[DS_CNT_SEQ],
		    (unsigned long long)in->cnt[DS_CNT_AUX]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

void
job_ended(void)
{
	char at[1024], why[sizeof(M.why)];
	size_t i;

	for (i = 0; M.draining && i < M.nin; i++)
		if (M.in[i].stopped)
			M.drained = 1;
	if (!M.drained) {
		job_stop(DS_EX_OK, "every process finished");
		return;
	}
	where(at, sizeof(at));
	memcpy(why, M.why, sizeof(why));	/* job_stop writes M.why */
	job_stop(DS_EX_TEMPFAIL, "%s: %s", why, at);
}

void
stop_last_run(void)
{
	struct stat st;

	if (fstatat(M.statefd, "drained", &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "%s/drained", M.topo.state);
		return;
	}
	M.after_stop = S_ISREG(st.st_mode);
	if (unlinkat(M.statefd, "drained", 0) == -1)
		ds_diesys(DS_EX_IOERR, "unable to remove %s/drained",
		    M.topo.state);
}

/* Every child is gone: leave RUN empty, and exit. */
static void
finish(void)
{
	char *why;

	if (M.code == DS_EX_OK)
		rundir_done();
	else if (M.code == DS_EX_TEMPFAIL)
		rundir_stopped(M.why);
	else {
		why = xprintf("%s (exit %d)", M.why, M.code);
		rundir_stopped(why);
		free(why);
	}
	/* Every position is exact: the next run's consumers may say so. */
	if (M.drained && ds_dir_replace(M.statefd, "drained", "", 0) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write %s/drained",
		    M.topo.state);
	ds_pull_srv_close(M.srv);
	M.srv = NULL;
	rundir_close();
	(void)ds_notify_send("STOPPING=1");
	switch (M.code) {
	case DS_EX_OK:
		ds_info("job %s finished", M.topo.name);
		break;
	case DS_EX_TEMPFAIL:
		if (M.drained)
			ds_info("job %s stopped in order, %s; run again to "
			    "resume", M.topo.name, M.why);
		else
			ds_warn("%s; run again to resume", M.why);
		break;
	default:
		ds_die(M.code, "%s", M.why);
	}
	exit(M.code);
}

void
stop_progress(ev_tstamp now)
{
	journal_last();
	/* Leave a stop command's answer time to go out. */
	if (M.procs == NULL && (M.code == DS_EX_OK || now - M.stop_at >= 0.2))
		finish();
}

/*
 * SIGHUP: exactly `ds-master stop` (an orderly stop, 75, run again to
 * resume); another one, like another stop, changes nothing.
 */
void
stop_hup_cb(EV_P_ ev_signal *w, int revents)
{
	(void)EV_A;
	(void)w;
	(void)revents;
	job_drain("stopped by SIGHUP");
}

void
stop_sig_cb(EV_P_ ev_signal *w, int revents)
{
	(void)EV_A;
	(void)revents;
	if (M.stopping) {
		signal_all(SIGKILL, 1);
		return;
	}
	if (M.draining) {
		job_stop(DS_EX_TEMPFAIL, "stopped at once by signal %d "
		    "during the orderly stop", w->signum);
		return;
	}
	job_drain("stopped by signal %d", w->signum);
}
