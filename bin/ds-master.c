/*
 * ds-master: run a topology (ds-topology(5)) as one process per instance
 * and one ds-router per non-forward edge, all children of this process,
 * and supervise them: restart a dead instance with its epoch + 1, declare
 * silent instances dead (keepalive) and fence their stale epochs, stop the
 * job on a crash loop, exit 0 once every process finished.  The children
 * find each other through ipc:// sockets in the run directory; ds-master
 * only answers BEATs and CTL commands on RUN/master, never touches data.
 * Children are forked and exec'ed at once: a forked child calls only
 * async-signal-safe functions (nanomsg threads do not survive fork).
 * With exactly-once anywhere, one ds-journal child is started first and
 * stopped last.  A run after a ds-master that was killed first waits for
 * that master's children to give up their leases: it never signals a
 * process it did not start.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "core/msg.h"
#include "net/pull.h"
#include "topo/plan.h"
#include "topo/topo.h"

#define USAGE \
	"ds-master run [-qv] [--check] [--notify-fd FD] FILE\n" \
	"ds-master status [-qv] FILE | RUNDIR\n" \
	"ds-master stop [-qv] FILE | RUNDIR"

#define QUICK_S		2.0	/* an exit this soon after start is quick */
#define QUICK_MAX	5	/* this many quick exits in a row: give up */
#define KILL_AFTER_S	2.0	/* SIGTERM, then SIGKILL after this */
#define RETIRE_AFTER_S	1.0	/* consumers done this long: SIGTERM it */
#define CTL_TIMEOUT_S	2.0	/* status/stop wait this long for an answer */
#define OLD_POLL_S	0.05	/* check for an earlier run's processes */

enum { OPT_CHECK = 1 };

enum ist {
	I_WAIT,		/* not running: about to (re)start */
	I_STARTING,	/* forked, no beat yet */
	I_RUNNING,
	I_DONE,		/* said DONE in a beat, not exited yet */
	I_EXITED	/* exited 0: finished for good */
};
static const char *const ist_name[] = {
	"waiting", "starting", "running", "done", "exited"
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
	int		 stale;		/* replaced: only waiting to be reaped */
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
	ev_tstamp	 cons_done_at;	/* when that was first seen, or 0 */
};

static struct {
	struct ds_topo		 topo;
	struct ds_plan		 plan;		/* who pulls from whom */
	char			*addr;		/* ipc://RUN/master */
	char			*dir;		/* ds-master's own directory */
	struct inst		*in;
	size_t			 nin;
	struct proc		*procs;
	struct inst		*jn;		/* the ds-journal, or NULL */
	int			 jn_termed;	/* SIGTERMed it at the end */
	ev_tstamp		 old_until;	/* stop waiting for old ones */
	ev_timer		 old;		/* polls for old ones */
	struct ds_common	*co;
	struct ds_pull_srv	*srv;
	int			 devnull;
	int			 stopping;
	int			 code;		/* exit status once stopped */
	char			 why[512];	/* fatal line, if code != 75/0 */
	ev_tstamp		 stop_at;
	ev_timer		 tick;		/* keepalive check, stop progress */
	ev_timer		 killer;	/* SIGKILL after KILL_AFTER_S */
	ev_signal		 sigterm, sigint;
} M;

static int	all_exited(void);
static void	spawn(struct inst *);
static void	job_stop(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		nomem();
	return p;
}

static char *
xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
		nomem();
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* Append s (taken over) to v, keeping v NULL-ended. */
static void
sv_take(struct strv *v, char *s)
{
	char **nv;

	if (v->n + 2 > v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		if ((nv = realloc(v->v, v->cap * sizeof(*nv))) == NULL)
			nomem();
		v->v = nv;
	}
	v->v[v->n++] = s;
	v->v[v->n] = NULL;
}

static void
sv_add(struct strv *v, const char *s)
{
	sv_take(v, xstrdup(s));
}

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

/* --- setup: paths, executables, state ------------------------------- */

/* mkdir -p path, the last component with mode. */
static int
mkdirs(const char *path, mode_t mode)
{
	char *p, *s;
	int rc = 0;

	s = xstrdup(path);
	for (p = s + 1; rc == 0 && *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0777) == -1 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (rc == 0 && mkdir(s, mode) == -1 && errno != EEXIST)
		rc = -1;
	free(s);
	return rc;
}

/* The directory of this executable, or NULL. */
static char *
own_dir(const char *argv0)
{
	char buf[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0)
		buf[n] = '\0';
	else if (strchr(argv0, '/') != NULL &&
	    strlen(argv0) < sizeof(buf))
		strcpy(buf, argv0);
	else
		return NULL;
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return xstrdup(buf[0] ? buf : "/");
}

/* Find prog: own directory first, then $PATH.  NULL if not found. */
static char *
resolve(const char *prog, const char *topodir)
{
	const char *path, *p, *e;
	char *cand;

	if (strchr(prog, '/') != NULL) {
		cand = prog[0] == '/' ? xstrdup(prog) :
		    xprintf("%s/%s", topodir, prog);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		return NULL;
	}
	if (M.dir != NULL) {
		cand = xprintf("%s/%s", M.dir, prog);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e == p)
			cand = xprintf("./%s", prog);
		else
			cand = xprintf("%.*s/%s", (int)(e - p), p, prog);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (*e == '\0')
			return NULL;
	}
}

static struct inst *
inst_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < M.nin; i++)
		if (strcmp(M.in[i].name, name) == 0)
			return &M.in[i];
	return NULL;
}

static struct inst *
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

/* STATE/epochs: "NAME EPOCH" lines; unknown names are dropped. */
static void
epochs_load(void)
{
	char *file, line[512], name[256];
	unsigned long long e;
	struct inst *in;
	FILE *fp;

	file = xprintf("%s/epochs", M.topo.state);
	if ((fp = fopen(file, "r")) == NULL) {
		if (errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to read %s", file);
		free(file);
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%255s %llu", name, &e) != 2 ||
		    e > UINT32_MAX - 1)
			ds_die(DS_EX_DATAERR, "%s: bad line '%.*s'", file,
			    (int)strcspn(line, "\n"), line);
		if ((in = inst_by_name(name)) != NULL)
			in->epoch = (uint32_t)e;
	}
	fclose(fp);
	free(file);
}

static int
epochs_save(void)
{
	char *file, *tmp;
	size_t i;
	FILE *fp;
	int rc = -1;

	file = xprintf("%s/epochs", M.topo.state);
	tmp = xprintf("%s/epochs.tmp", M.topo.state);
	if ((fp = fopen(tmp, "w")) != NULL) {
		for (i = 0; i < M.nin; i++)
			if (M.in[i].epoch > 0)
				fprintf(fp, "%s %lu\n", M.in[i].name,
				    (unsigned long)M.in[i].epoch);
		if (fclose(fp) == 0 && rename(tmp, file) == 0)
			rc = 0;
	}
	free(tmp);
	free(file);
	return rc;
}

/* Remove the files of STATE/journal (ds-journal(5)), if any. */
static void
journal_clear(void)
{
	struct dirent *de;
	char *dir, *p;
	DIR *d;

	dir = xprintf("%s/journal", M.topo.state);
	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to read %s", dir);
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "journal.", 8) != 0 &&
		    strncmp(de->d_name, "state.tch", 9) != 0)
			continue;
		p = xprintf("%s/%s", dir, de->d_name);
		if (unlink(p) == -1 && errno != ENOENT)
			ds_diesys(DS_EX_IOERR, "unable to remove %s", p);
		free(p);
	}
	closedir(d);
	free(dir);
}

/* A finished run leaves STATE/done: the next run starts over. */
static void
state_prepare(void)
{
	char *done, *p;
	struct dirent *de;
	size_t n;
	DIR *d;

	done = xprintf("%s/done", M.topo.state);
	if (access(done, F_OK) == 0) {
		if ((d = opendir(M.topo.state)) == NULL)
			ds_diesys(DS_EX_IOERR, "unable to read %s",
			    M.topo.state);
		while ((de = readdir(d)) != NULL) {
			n = strlen(de->d_name);
			if (n < 5 || strcmp(de->d_name + n - 5, ".slog") != 0)
				continue;
			p = xprintf("%s/%s", M.topo.state, de->d_name);
			if (unlink(p) == -1 && errno != ENOENT)
				ds_diesys(DS_EX_IOERR, "unable to remove %s",
				    p);
			free(p);
		}
		closedir(d);
		journal_clear();
		if (unlink(done) == -1)
			ds_diesys(DS_EX_IOERR, "unable to remove %s", done);
		ds_info("previous run finished: starting over");
	}
	free(done);
}

/* One ds-master per run directory: a lock held until we exit. */
static void
lock_run(void)
{
	struct flock fl;
	char *file;
	int fd;

	file = xprintf("%s/lock", M.topo.run);
	if ((fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		ds_diesys(DS_EX_IOERR, "unable to open %s", file);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		if (errno == EACCES || errno == EAGAIN)
			ds_die(DS_EX_UNAVAILABLE, "%s: another ds-master runs "
			    "job %s (%s is locked)", M.topo.file, M.topo.name,
			    file);
		ds_diesys(DS_EX_IOERR, "unable to lock %s", file);
	}
	free(file);
}

/* --- the argv of every process (ds-topology(5), "Processes") -------- */

/* "ID,ID,..." (malloc'ed). */
static char *
ids_str(const struct ds_plan_ids *ids)
{
	struct ds_buf b = DS_BUF_INIT;
	char num[24];
	size_t i;

	for (i = 0; i < ids->n; i++) {
		snprintf(num, sizeof(num), "%s%llu", i ? "," : "",
		    (unsigned long long)ids->v[i]);
		if (ds_buf_addstr(&b, num) == -1)
			nomem();
	}
	if (ds_buf_addc(&b, '\0') == -1)
		nomem();
	return (char *)b.p;
}

/* --id [--name] --epoch (set by spawn) --master --keepalive. */
static void
lease_opts(struct inst *in, int with_name)
{
	sv_add(&in->argv, "--id");
	sv_take(&in->argv, xprintf("%llu", (unsigned long long)in->id));
	if (with_name) {
		sv_add(&in->argv, "--name");
		sv_add(&in->argv, in->name);
	}
	sv_add(&in->argv, "--epoch");
	in->epoch_slot = in->argv.n;
	sv_add(&in->argv, "0");
	sv_add(&in->argv, "--master");
	sv_add(&in->argv, M.addr);
	sv_add(&in->argv, "--keepalive");
	sv_take(&in->argv, xprintf("%llu",
	    (unsigned long long)M.topo.keepalive_ms));
}

static void
common_opts(struct inst *in, int with_state)
{
	lease_opts(in, 1);
	sv_add(&in->argv, "--once");
	sv_add(&in->argv, ds_once_name(in->pp->once));
	if (with_state) {
		sv_add(&in->argv, "--state");
		sv_add(&in->argv, M.topo.state);
	}
}

/* --pull MODE:IDS@ADDR, one a pull of the plan. */
static void
pull_opts(struct inst *in)
{
	const struct ds_plan_pull *pl;
	size_t j;
	char *s;

	for (j = 0; j < in->pp->npull; j++) {
		pl = &in->pp->pull[j];
		s = ids_str(&pl->from);
		sv_add(&in->argv, "--pull");
		sv_take(&in->argv, xprintf("%s:%s@%s", ds_once_name(pl->once),
		    s, pl->addr));
		free(s);
	}
}

static void
render_instance(struct inst *in, const char *path)
{
	const struct ds_topo *t = &M.topo;
	const struct ds_plan_proc *pp = in->pp;
	const struct ds_topo_node *nd = &t->node[pp->node];
	size_t j;
	int a;
	char *s;

	in->path = xstrdup(path);
	sv_add(&in->argv, nd->argv[0]);
	in->stdin_ok = nd->kind == DS_KIND_SOURCE;
	/* Topology defaults first, so that the node's own options win. */
	if (nd->kind != DS_KIND_SINK && t->bundle > 0) {
		sv_add(&in->argv, "--bundle");
		sv_take(&in->argv, xprintf("%u", t->bundle));
	}
	if (nd->kind == DS_KIND_SOURCE) {
		sv_add(&in->argv, "--linger");
		sv_take(&in->argv, xprintf("%llu",
		    (unsigned long long)t->linger_ms));
	}
	for (a = 1; a < nd->argc; a++)
		sv_add(&in->argv, nd->argv[a]);
	common_opts(in, 1);
	if (pp->journal) {
		sv_add(&in->argv, "--journal");
		sv_add(&in->argv, M.plan.journal);
	}
	if (pp->listen != NULL) {
		sv_add(&in->argv, "--listen");
		sv_add(&in->argv, pp->listen);
		sv_add(&in->argv, "--consumers");
		sv_take(&in->argv, ids_str(&pp->consumers));
	}
	for (j = 0; j < pp->npart; j++) {
		s = ids_str(&pp->part[j].to);
		sv_add(&in->argv, "--part");
		sv_take(&in->argv, xprintf("%s:%s",
		    ds_dist_name(pp->part[j].dist), s));
		free(s);
	}
	pull_opts(in);
}

static void
render_router(struct inst *in, const char *router)
{
	in->path = xstrdup(router);
	sv_add(&in->argv, "ds-router");
	sv_add(&in->argv, "--dist");
	sv_add(&in->argv, ds_dist_name(in->pp->dist));
	sv_add(&in->argv, "--listen");
	sv_add(&in->argv, in->pp->listen);
	sv_add(&in->argv, "--consumers");
	sv_take(&in->argv, ids_str(&in->pp->consumers));
	pull_opts(in);
	common_opts(in, 0);
}

/*
 * The ds-journal of the job.  Its lock wait covers a predecessor that
 * lives on until its lease runs out (up to a keepalive; twice for slack).
 */
static void
render_journal(struct inst *in, const char *journal)
{
	const struct ds_topo *t = &M.topo;

	in->path = xstrdup(journal);
	sv_add(&in->argv, "ds-journal");
	sv_add(&in->argv, "--dir");
	sv_take(&in->argv, xprintf("%s/journal", t->state));
	sv_add(&in->argv, "--listen");
	sv_add(&in->argv, in->pp->listen);
	lease_opts(in, 0);
	sv_add(&in->argv, "--lock-wait");
	sv_take(&in->argv, xprintf("%llu",
	    (unsigned long long)(2 * t->keepalive_ms + 999) / 1000));
	M.jn = in;
}

/*
 * Find every program (ds-router, ds-journal, each node's), then plan the
 * wiring (ds_plan_build) and render each process's argv from it.
 */
static void
build_all(void)
{
	const struct ds_topo *t = &M.topo;
	char *topodir, *slash, *router = NULL, *journal = NULL, **path;
	char err[1024];
	struct inst *in;
	size_t n, e, k;

	topodir = xstrdup(t->file);
	if ((slash = strrchr(topodir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(topodir, ".");
	for (e = 0; e < t->nedge && router == NULL; e++)
		if (ds_topo_routed(t, e) &&
		    (router = resolve("ds-router", topodir)) == NULL)
			ds_die(DS_EX_UNAVAILABLE, "edge %s -> %s: ds-router: "
			    "program not found", t->node[t->edge[e].from].name,
			    t->node[t->edge[e].to].name);
	if (ds_plan_uses_journal(t) &&
	    (journal = resolve("ds-journal", topodir)) == NULL)
		ds_die(DS_EX_UNAVAILABLE, "exactly-once: ds-journal: program "
		    "not found");
	if ((path = calloc(t->nnode, sizeof(*path))) == NULL)
		nomem();
	for (n = 0; n < t->nnode; n++)
		if ((path[n] = resolve(t->node[n].argv[0], topodir)) == NULL)
			ds_die(DS_EX_UNAVAILABLE, "node %s: %s: program not "
			    "found", t->node[n].name, t->node[n].argv[0]);
	if (ds_plan_build(&M.plan, t, err, sizeof(err)) == -1) {
		if (errno == ENOMEM)
			nomem();
		ds_die(DS_EX_CONFIG, "%s", err);
	}
	M.nin = M.plan.nproc;
	if ((M.in = calloc(M.nin, sizeof(*M.in))) == NULL)
		nomem();
	for (k = 0; k < M.nin; k++) {
		in = &M.in[k];
		in->pp = &M.plan.proc[k];
		in->id = in->pp->id;
		in->name = in->pp->name;
		if (in->pp->kind == DS_PLAN_JOURNAL)
			render_journal(in, journal);
		else if (in->pp->kind == DS_PLAN_ROUTER)
			render_router(in, router);
		else
			render_instance(in, path[in->pp->node]);
	}
	for (n = 0; n < t->nnode; n++)
		free(path[n]);
	free(path);
	free(journal);
	free(router);
	free(topodir);
}

/* --- supervision ----------------------------------------------------- */

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

static void
child_cb(EV_P_ ev_child *w, int revents)
{
	struct proc *p = (struct proc *)w, **pp;
	struct inst *in = p->in;
	char st[32];
	double delay;

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
			job_stop(DS_EX_OK, "every process finished");
		return;
	}
	in->state = I_WAIT;
	if (M.stopping) {
		free(p);
		return;
	}
	if (consumers_done(in)) {
		in->state = I_EXITED;
		ds_info("%s ended (%s) pid=%ld epoch=%lu after every consumer "
		    "finished: done", in->name, st, (long)p->pid,
		    (unsigned long)p->epoch);
		free(p);
		if (all_exited())
			job_stop(DS_EX_OK, "every process finished");
		return;
	}
	/*
	 * A SIGKILL comes from outside (an operator, a chaos test, the OOM
	 * killer), not from the program failing to start: restart at once
	 * and do not count it towards giving up.
	 */
	if (WIFSIGNALED(in->last_status) && WTERMSIG(in->last_status) == SIGKILL)
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

static void
backoff_cb(EV_P_ ev_timer *w, int revents)
{
	struct inst *in = (struct inst *)((char *)w -
	    offsetof(struct inst, backoff));

	(void)revents;
	(void)EV_A;
	if (!M.stopping && in->cur == NULL)
		spawn(in);
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
		s = ids_str(&ended);
	free(ended.v);
	return s;
}

static void
spawn(struct inst *in)
{
	struct proc *p;
	sigset_t none;
	pid_t pid;
	char **av, *ended;
	size_t n;
	int fd, maxfd;

	if (in->epoch >= UINT32_MAX - 1) {
		job_stop(DS_EX_SOFTWARE, "%s: out of epochs", in->name);
		return;
	}
	in->epoch++;
	in->retiring = 0;	/* a new life: SIGTERM it again if need be */
	in->cons_done_at = 0;
	if (epochs_save() == -1) {
		job_stop(DS_EX_IOERR, "unable to write %s/epochs: %s",
		    M.topo.state, strerror(errno));
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
	if ((av = calloc(n + 3, sizeof(*av))) == NULL)
		nomem();
	memcpy(av, in->argv.v, n * sizeof(*av));
	if ((ended = ended_ids(in)) != NULL) {
		av[n] = (char *)(uintptr_t)"--ended";
		av[n + 1] = ended;
		ds_info("%s: producers %s finished: passing --ended",
		    in->name, ended);
	}
	maxfd = max_fd();
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
 * Stop the job: STOP in every BEATACK, SIGTERM now, SIGKILL later; tick_cb
 * exits with code once every child is gone.  The first reason wins.
 */
static void
job_stop(int code, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (M.stopping)
		return;
	M.stopping = 1;
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

static void
finish(void)
{
	char *done, *sock;
	FILE *fp;

	if (M.code == DS_EX_OK) {
		done = xprintf("%s/done", M.topo.state);
		if ((fp = fopen(done, "w")) == NULL ||
		    fprintf(fp, "%s\n", M.topo.name) < 0 || fclose(fp) != 0)
			ds_diesys(DS_EX_IOERR, "unable to write %s", done);
		free(done);
	}
	ds_pull_srv_close(M.srv);
	M.srv = NULL;
	sock = xprintf("%s/master", M.topo.run);
	(void)unlink(sock);
	free(sock);
	(void)ds_notify_send("STOPPING=1");
	switch (M.code) {
	case DS_EX_OK:
		ds_info("job %s finished", M.topo.name);
		break;
	case DS_EX_TEMPFAIL:
		ds_warn("%s; run again to resume", M.why);
		break;
	default:
		ds_die(M.code, "%s", M.why);
	}
	exit(M.code);
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

static void
tick_cb(EV_P_ ev_timer *w, int revents)
{
	ev_tstamp now = ev_now(EV_A), ka = M.topo.keepalive_ms / 1000.0;
	struct inst *in;
	size_t i;

	(void)w;
	(void)revents;
	if (M.stopping) {
		journal_last();
		/* Leave a stop command's answer time to go out. */
		if (M.procs == NULL && (M.code == DS_EX_OK ||
		    now - M.stop_at >= 0.2))
			finish();
		return;
	}
	if (all_exited()) {
		job_stop(DS_EX_OK, "every process finished");
		return;
	}
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
		spawn(in);
	}
}

static void
sig_cb(EV_P_ ev_signal *w, int revents)
{
	(void)EV_A;
	(void)revents;
	if (M.stopping) {
		signal_all(SIGKILL, 1);
		return;
	}
	job_stop(DS_EX_TEMPFAIL, "stopped by signal %d", w->signum);
}

/* --- control socket -------------------------------------------------- */

static void
on_beat(const struct ds_frame *f, struct ds_buf *reply)
{
	struct ds_beat_msg b;
	struct inst *in;
	const char *why = "";
	uint32_t ack = DS_BEAT_OK;
	uint32_t i;

	if (ds_msg_beat_get(&b, f->payload, f->len, &why) == -1) {
		ds_warn("control: bad BEAT: %s", why);
		return;
	}
	in = inst_by_id(b.id);
	if (in == NULL) {
		ds_warn("control: BEAT from unknown id %llu pid=%lu: fenced",
		    (unsigned long long)b.id, (unsigned long)b.pid);
		ack = DS_BEAT_FENCED;
	} else if (in->cur == NULL || b.epoch != in->epoch) {
		in->fenced++;
		ds_warn("%s: fenced a beat from epoch %lu pid=%lu "
		    "(current epoch %lu)", in->name, (unsigned long)b.epoch,
		    (unsigned long)b.pid, (unsigned long)in->epoch);
		ack = DS_BEAT_FENCED;
	} else {
		in->last_beat = ev_now(EV_DEFAULT);
		for (i = 0; i < b.n && i < DS_CNT_N; i++)
			in->cnt[i] = b.cnt[i];
		in->state = b.state == DS_BEAT_DONE ? I_DONE : I_RUNNING;
		if (M.stopping && in != M.jn)
			ack = DS_BEAT_STOP;	/* the journal: journal_last() */
	}
	if (ds_msg_beatack_put(reply, ack) == -1)
		nomem();
}

static void
status_text(struct ds_buf *t)
{
	const struct inst *in;
	size_t i, done = 0;
	char line[512];

	for (i = 0; i < M.nin; i++)
		done += M.in[i].state == I_EXITED;
	snprintf(line, sizeof(line), "job %s once=%s instances=%zu "
	    "done=%zu%s\n", M.topo.name, ds_once_name(M.topo.once), M.nin,
	    done, M.stopping ? " stopping" : "");
	if (ds_buf_addstr(t, line) == -1)
		nomem();
	for (i = 0; i < M.nin; i++) {
		in = &M.in[i];
		snprintf(line, sizeof(line), "%s pid=%ld epoch=%lu state=%s "
		    "restarts=%u in=%llu out=%llu fenced=%llu dup=%llu\n",
		    in->name, in->cur ? (long)in->cur->pid : 0L,
		    (unsigned long)in->epoch, ist_name[in->state],
		    in->restarts, (unsigned long long)in->cnt[DS_CNT_IN],
		    (unsigned long long)in->cnt[DS_CNT_OUT],
		    (unsigned long long)(in->cnt[DS_CNT_FENCED] + in->fenced),
		    (unsigned long long)in->cnt[DS_CNT_DUP]);
		if (ds_buf_addstr(t, line) == -1)
			nomem();
	}
}

static void
on_ctl(const struct ds_frame *f, struct ds_buf *reply)
{
	struct ds_buf t = DS_BUF_INIT;
	size_t n = f->len;
	const char *cmd = (const char *)f->payload;

	while (n > 0 && (cmd[n - 1] == '\n' || cmd[n - 1] == ' '))
		n--;
	if (n == 6 && memcmp(cmd, "status", 6) == 0)
		status_text(&t);
	else if (n == 4 && memcmp(cmd, "stop", 4) == 0) {
		if (ds_buf_addstr(&t, M.stopping ? "already stopping\n" :
		    "stopping\n") == -1)
			nomem();
		job_stop(DS_EX_TEMPFAIL, "stopped by ds-master stop");
	} else if (ds_buf_addstr(&t, "error: unknown command\n") == -1)
		nomem();
	if (ds_msg_text_put(reply, DS_FRAME_CTLREPLY, (const char *)t.p,
	    t.len) == -1)
		nomem();
	ds_buf_free(&t);
}

static int
ctl_serve(void *arg, struct ds_pull_req *rq, struct ds_buf *reply)
{
	struct ds_frame f;
	const char *why = "empty message";
	size_t off = 0;

	(void)arg;
	if (ds_msg_next(rq->msg, rq->len, &off, &f, &why) != 1) {
		ds_warn("control: bad message: %s", why);
		return -1;
	}
	switch (f.type) {
	case DS_FRAME_BEAT:
		on_beat(&f, reply);
		break;
	case DS_FRAME_CTL:
		on_ctl(&f, reply);
		break;
	default:
		ds_warn("control: unexpected frame type %u", f.type);
		return -1;
	}
	return reply->len > 0 ? 1 : -1;
}

static double
ctl_wait(void *arg, const unsigned char *msg, size_t len)
{
	(void)arg;
	(void)msg;
	(void)len;
	return 0;
}

static const struct ds_pull_srv_ops ctl_ops = {
	ctl_serve, NULL, ctl_wait
};

/* --- subcommands ------------------------------------------------------ */

static void
load(const struct ds_common *co, const char *file)
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
 * Processes still holding a lease from an earlier ds-master of this run
 * directory (killed before it could stop them): those whose argv has
 * "--master ipc://RUN/master", found in /proc.  Their number; the first
 * pids go in pids.  Called before we start any child of our own.
 */
static size_t
old_procs(pid_t *pids, size_t max)
{
	struct ds_buf b = DS_BUF_INIT;
	char path[64], chunk[4096];
	struct dirent *de;
	const char *a, *end;
	size_t n = 0, alen = strlen(M.addr);
	ssize_t r;
	pid_t pid;
	DIR *d;
	int fd;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)atol(de->d_name)) <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		/* A router's argv can be long: read all of it. */
		ds_buf_reset(&b);
		while ((r = read(fd, chunk, sizeof(chunk))) > 0)
			if (ds_buf_add(&b, chunk, (size_t)r) == -1)
				nomem();
		close(fd);
		if (b.len == 0)
			continue;
		if (ds_buf_addc(&b, '\0') == -1)
			nomem();
		end = (const char *)b.p + b.len - 1;
		for (a = (const char *)b.p; a < end; a += strlen(a) + 1)
			if (strcmp(a, "--master") == 0 &&
			    a + 9 + alen <= end && strcmp(a + 9, M.addr) == 0)
				break;
		if (a >= end)
			continue;
		if (n < max)
			pids[n] = pid;
		n++;
	}
	closedir(d);
	ds_buf_free(&b);
	return n;
}

/* Start every process, the journal first; then we are ready. */
static void
start_all(void)
{
	size_t i;

	for (i = 0; i < M.nin && !M.stopping; i++) {
		M.in[i].state = I_WAIT;
		spawn(&M.in[i]);
	}
	if (ds_notify_ready(M.co, "STATUS=running") == -1)
		ds_warnsys("unable to signal readiness");
}

/*
 * Wait until the processes of an earlier ds-master of this run directory
 * are gone: their leases end within a keepalive of its death, sooner once
 * they reach us and are fenced.  Until then they may still write (a sink
 * its file, a journal its lock): starting ours next to them is not safe.
 */
static void
old_cb(EV_P_ ev_timer *w, int revents)
{
	pid_t pids[8];
	size_t n, i;
	char list[128];
	int off = 0;

	(void)revents;
	n = old_procs(pids, 8);
	if (n > 0 && ev_now(EV_A) < M.old_until) {
		if (w->repeat == 0) {
			for (i = 0; i < n && i < 8; i++)
				off += snprintf(list + off, sizeof(list) - off,
				    "%s%ld", i ? "," : "", (long)pids[i]);
			ds_warn("processes of an earlier ds-master still hold "
			    "leases from %s (%zu: pid %s%s): waiting up to "
			    "%.0f s for them to stop", M.addr, n, list,
			    n > 8 ? ",..." : "", M.old_until - ev_now(EV_A));
			w->repeat = OLD_POLL_S;
			ev_timer_again(EV_A_ w);
		}
		return;
	}
	ev_timer_stop(EV_A_ w);
	if (n > 0)
		ds_warn("processes of an earlier ds-master still hold leases "
		    "from %s (%zu): starting anyway (their epochs are fenced)",
		    M.addr, n);
	else if (w->repeat != 0)
		ds_info("the earlier ds-master's processes are gone");
	start_all();
}

static int
cmd_run(struct ds_common *co, const char *file, int check, const char *a0)
{
	char *jdir;
	size_t i;

	load(co, file);
	if (check)
		return DS_EX_OK;
	M.dir = own_dir(a0);
	M.addr = xprintf("ipc://%s/master", M.topo.run);
	build_all();

	/* acquire */
	if (mkdirs(M.topo.run, 0700) == -1)
		ds_diesys(DS_EX_IOERR, "unable to create %s", M.topo.run);
	if (mkdirs(M.topo.state, 0777) == -1)
		ds_diesys(DS_EX_IOERR, "unable to create %s", M.topo.state);
	lock_run();
	state_prepare();
	if (M.jn != NULL) {
		jdir = xprintf("%s/journal", M.topo.state);
		if (mkdirs(jdir, 0700) == -1)
			ds_diesys(DS_EX_IOERR, "unable to create %s", jdir);
		free(jdir);
	}
	epochs_load();
	if ((M.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		ds_diesys(DS_EX_OSERR, "unable to open /dev/null");
	signal(SIGPIPE, SIG_IGN);
	ev_default_loop(0);
	M.srv = ds_pull_srv_open(EV_DEFAULT, M.addr, &ctl_ops, NULL);
	if (M.srv == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to bind %s: %s", M.addr,
		    ds_pull_strerror(errno));
	ev_signal_init(&M.sigterm, sig_cb, SIGTERM);
	ev_signal_start(EV_DEFAULT, &M.sigterm);
	ev_signal_init(&M.sigint, sig_cb, SIGINT);
	ev_signal_start(EV_DEFAULT, &M.sigint);
	ev_timer_init(&M.tick, tick_cb, 0,
	    M.topo.keepalive_ms >= 40 ? M.topo.keepalive_ms / 4000.0 : 0.01);
	ev_timer_start(EV_DEFAULT, &M.tick);
	ds_notify_forget();
	ds_info("job %s: %zu processes, run %s, state %s", M.topo.name, M.nin,
	    M.topo.run, M.topo.state);
	for (i = 0; i < M.nin; i++)
		ev_timer_init(&M.in[i].backoff, backoff_cb, 0, 0);
	M.co = co;
	M.old_until = ev_now(EV_DEFAULT) + 2.0 * M.topo.keepalive_ms / 1000.0 +
	    1.0;
	ev_timer_init(&M.old, old_cb, 0, 0);
	ev_timer_start(EV_DEFAULT, &M.old);
	ev_run(EV_DEFAULT, 0);
	return DS_EX_SOFTWARE;	/* finish() exits */
}

/* ds-master status|stop FILE|RUNDIR: one CTL command, print the answer. */
static int
cmd_ctl(const struct ds_common *co, const char *what, const char *target)
{
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_frame f;
	struct stat sb;
	const char *why = "no frame";
	char *addr, *sock;
	size_t off = 0;

	if (stat(target, &sb) == -1)
		ds_die(DS_EX_NOINPUT, "%s: cannot open: %s", target,
		    strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		sock = xprintf("%s/master", target);
	} else {
		load(co, target);
		sock = xprintf("%s/master", M.topo.run);
	}
	addr = xprintf("ipc://%s", sock);
	if (access(sock, F_OK) == -1)
		ds_die(DS_EX_UNAVAILABLE, "no master answers at %s: %s", addr,
		    strerror(errno));
	if (ds_msg_text_put(&req, DS_FRAME_CTL, what, strlen(what)) == -1)
		nomem();
	if (ds_pull_call(addr, req.p, req.len, &rep, CTL_TIMEOUT_S) == -1)
		ds_die(DS_EX_UNAVAILABLE, "no master answers at %s: %s", addr,
		    errno == ETIMEDOUT ? "timed out" : ds_pull_strerror(errno));
	if (ds_msg_next(rep.p, rep.len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_CTLREPLY)
		ds_die(DS_EX_PROTOCOL, "bad answer from %s: %s", addr,
		    f.type != DS_FRAME_CTLREPLY ? "not a CTLREPLY" : why);
	if (ds_write_all(1, f.payload, f.len) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	ds_buf_free(&req);
	ds_buf_free(&rep);
	free(addr);
	free(sock);
	return DS_EX_OK;
}

int
main(int argc, char *argv[])
{
	struct ds_common co = DS_COMMON_INIT;
	const char *cmd, *file;
	poptContext pc;
	int rc, check = 0;
	struct poptOption opts[] = {
		{ "check", 0, POPT_ARG_NONE, NULL, OPT_CHECK,
		    "run: only validate FILE", NULL },
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-master";
	co.usage = USAGE;
	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1)
		if (rc == OPT_CHECK)
			check = 1;
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
	if (strcmp(cmd, "run") == 0)
		rc = cmd_run(&co, file, check, argv[0]);
	else
		rc = cmd_ctl(&co, cmd, file);
	poptFreeContext(pc);
	return rc;
}
