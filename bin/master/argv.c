/*
 * argv.c: the command line of every process of the job (ds-topology(5),
 * "Processes").  The wiring (who consumes, splits and pulls what, where)
 * is the plan's (topo/plan.h); this file only finds the programs and
 * renders the plan as options, in the order the processes expect them:
 * the node's run words after the topology defaults, so that its own
 * options win.  --epoch is a placeholder that sup_spawn() fills in.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/path.h"
#include "master.h"

static char	*selfdir;	/* ds-master's own directory, or NULL */

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

/*
 * path made absolute (p is freed): every process starts in the
 * topology's directory, not in ours.
 */
static char *
absolute(char *p)
{
	char *cwd, *abs;

	if (p == NULL || p[0] == '/')
		return p;
	if ((cwd = getcwd(NULL, 0)) == NULL)
		ds_diesys(DS_EX_OSERR, "unable to find the current directory");
	abs = xprintf("%s/%s", cwd, p);
	free(cwd);
	free(p);
	return abs;
}

/* Find prog: own directory first, then $PATH.  NULL if not found. */
static char *
resolve(const char *prog, const char *topodir)
{
	char *cand;

	if (strchr(prog, '/') != NULL) {
		cand = prog[0] == '/' ? xstrdup(prog) :
		    xprintf("%s/%s", topodir, prog);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		return NULL;
	}
	if (selfdir != NULL) {
		cand = xprintf("%s/%s", selfdir, prog);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	if ((cand = ds_path_search(prog)) == NULL && errno == ENOMEM)
		nomem();
	return cand;
}

/* "ID,ID,..." (malloc'ed). */
char *
argv_ids(const struct ds_plan_ids *ids)
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

/* --id [--name] --epoch (set by sup_spawn) --master --key --keepalive. */
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
	sv_add(&in->argv, "--key");
	sv_take(&in->argv, xprintf("%s/key", M.topo.run));
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
		s = argv_ids(&pl->from);
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
	if (nd->kind == DS_KIND_OP && t->max_emit > 0) {
		sv_add(&in->argv, "--max-emit");
		sv_take(&in->argv, xprintf("%llu",
		    (unsigned long long)t->max_emit));
	}
	if (nd->kind == DS_KIND_OP && t->max_keys > 0) {
		sv_add(&in->argv, "--max-keys");
		sv_take(&in->argv, xprintf("%llu",
		    (unsigned long long)t->max_keys));
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
		sv_take(&in->argv, argv_ids(&pp->consumers));
	}
	for (j = 0; j < pp->npart; j++) {
		s = argv_ids(&pp->part[j].to);
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
	sv_take(&in->argv, argv_ids(&in->pp->consumers));
	pull_opts(in);
	common_opts(in, 0);
}

/*
 * The ds-journal of the job.  Its lock wait covers a predecessor that
 * lives on until its lease runs out (up to a keepalive; twice for slack).
 * It serves only the writers of the plan (--writers): the instances that
 * get --journal.
 */
static void
render_journal(struct inst *in, const char *journal)
{
	const struct ds_topo *t = &M.topo;
	struct ds_plan_ids w = { NULL, 0 };
	size_t k;

	if ((w.v = calloc(M.plan.nproc, sizeof(*w.v))) == NULL)
		nomem();
	for (k = 0; k < M.plan.nproc; k++)
		if (M.plan.proc[k].journal)
			w.v[w.n++] = M.plan.proc[k].id;
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
	sv_add(&in->argv, "--writers");
	sv_take(&in->argv, argv_ids(&w));
	free(w.v);
	M.jn = in;
}

/*
 * Find every program (ds-router, ds-journal, each node's), then plan the
 * wiring (ds_plan_build) and render each process's argv from it.
 */
void
argv_build(const char *argv0)
{
	const struct ds_topo *t = &M.topo;
	const char *topodir = t->dir;
	char *router = NULL, *journal = NULL, **path;
	char err[1024];
	struct inst *in;
	size_t n, e, k;

	selfdir = absolute(own_dir(argv0));
	for (e = 0; e < t->nedge && router == NULL; e++)
		if (ds_topo_routed(t, e) &&
		    (router = absolute(resolve("ds-router", topodir))) ==
		    NULL)
			ds_die(DS_EX_UNAVAILABLE, "edge %s -> %s: ds-router: "
			    "program not found", t->node[t->edge[e].from].name,
			    t->node[t->edge[e].to].name);
	if (ds_plan_uses_journal(t) &&
	    (journal = absolute(resolve("ds-journal", topodir))) == NULL)
		ds_die(DS_EX_UNAVAILABLE, "exactly-once: ds-journal: program "
		    "not found");
	if ((path = calloc(t->nnode, sizeof(*path))) == NULL)
		nomem();
	for (n = 0; n < t->nnode; n++)
		if ((path[n] = absolute(resolve(t->node[n].argv[0],
		    topodir))) == NULL)
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
}
