/*
 * plan.c: the wiring plan of a topology (plan.h).  Who consumes what:
 * a forward edge pairs upstream instance k with downstream k mod P (P the
 * downstream parallel), a routed edge puts its ds-router between every
 * upstream and every downstream instance, any other edge joins every
 * upstream to every downstream instance and the producer partitions its
 * output (--part) unless it is a broadcast or the downstream is one.  The
 * order of every list is the order of the topology's edges, which the
 * processes see in their argv: keep it.  Never prints, never exits.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/plan.h"

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = EINVAL;
	return -1;
}

/* PRE A SEP B, malloc'ed, or NULL (ENOMEM): names and addresses. */
static char *
join(const char *pre, const char *a, const char *sep, const char *b)
{
	size_t n = strlen(pre) + strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s;

	if ((s = malloc(n)) != NULL)
		snprintf(s, n, "%s%s%s%s", pre, a, sep, b);
	return s;
}

/* ipc://RUN/NAME, malloc'ed; NULL for a NULL name too. */
static char *
addr(const struct ds_topo *t, const char *name)
{
	return name == NULL ? NULL : join("ipc://", t->run, "/", name);
}

/* NODE.I, malloc'ed, or NULL (ENOMEM). */
static char *
inst_name(const struct ds_topo *t, int n, unsigned i)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", i);
	return join("", t->node[n].name, ".", num);
}

/* Capacity is the next power of two >= n: grow when n is one. */
static int
ids_add(struct ds_plan_ids *ids, uint64_t id)
{
	uint64_t *v;

	if ((ids->n & (ids->n - 1)) == 0) {
		v = realloc(ids->v, (ids->n ? ids->n * 2 : 1) * sizeof(*v));
		if (v == NULL)
			return -1;
		ids->v = v;
	}
	ids->v[ids->n++] = id;
	return 0;
}

/* Every instance of node n (parallel par). */
static int
ids_node(struct ds_plan_ids *ids, int n, unsigned par)
{
	unsigned k;

	for (k = 0; k < par; k++)
		if (ids_add(ids, ds_topo_producer(n, k)) == -1)
			return -1;
	return 0;
}

/* A new pull, no producers yet, from at (taken over, even on failure). */
static struct ds_plan_pull *
pull_add(struct ds_plan_proc *pr, enum ds_once once, char *at)
{
	struct ds_plan_pull *v;

	if (at == NULL)
		return NULL;
	v = realloc(pr->pull, (pr->npull + 1) * sizeof(*v));
	if (v == NULL) {
		free(at);
		return NULL;
	}
	pr->pull = v;
	v = &pr->pull[pr->npull++];
	memset(v, 0, sizeof(*v));
	v->once = once;
	v->addr = at;
	return v;
}

/* Pull from instance k of node n through its own address. */
static int
pull_instance(struct ds_plan_proc *pr, const struct ds_topo *t,
    enum ds_once once, int n, unsigned k)
{
	struct ds_plan_pull *pl;
	char *name;

	name = inst_name(t, n, k);
	pl = pull_add(pr, once, addr(t, name));
	free(name);
	if (pl == NULL)
		return -1;
	return ids_add(&pl->from, ds_topo_producer(n, k));
}

/*
 * Node n is exactly-once (gets --journal): the topology's mode, or one of
 * its inputs is.  n == -1: any node or edge is (the job needs a journal).
 */
static int
exactly(const struct ds_topo *t, int n)
{
	size_t e;

	if (t->once == DS_ONCE_EXACTLY)
		return 1;
	for (e = 0; e < t->nedge; e++)
		if (t->edge[e].once == DS_ONCE_EXACTLY &&
		    (n == -1 || t->edge[e].to == n))
			return 1;
	return 0;
}

/* Instance i of edge e's upstream node: its consumers and parts. */
static int
output(struct ds_plan_proc *pr, const struct ds_topo *t, size_t e,
    unsigned i)
{
	const struct ds_topo_edge *ed = &t->edge[e];
	const struct ds_topo_node *dn = &t->node[ed->to];
	struct ds_plan_part *v;
	int r;

	if (ed->dist == DS_DIST_FORWARD)
		r = ids_add(&pr->consumers,
		    ds_topo_producer(ed->to, i % dn->parallel));
	else if (ds_topo_routed(t, e))
		r = ids_add(&pr->consumers, ds_plan_router_id(e));
	else
		r = ids_node(&pr->consumers, ed->to, dn->parallel);
	if (r == -1)
		return -1;
	/* A direct edge that splits (into one part it need not). */
	if (ed->dist == DS_DIST_FORWARD || ed->dist == DS_DIST_BROADCAST ||
	    dn->parallel == 1 || ds_topo_routed(t, e))
		return 0;
	v = realloc(pr->part, (pr->npart + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	pr->part = v;
	v = &pr->part[pr->npart++];
	memset(v, 0, sizeof(*v));
	v->dist = ed->dist;
	return ids_node(&v->to, ed->to, dn->parallel);
}

/* Instance i of edge e's downstream node: what it pulls through e. */
static int
input(struct ds_plan_proc *pr, const struct ds_topo *t, size_t e,
    unsigned i)
{
	const struct ds_topo_edge *ed = &t->edge[e];
	const struct ds_topo_node *up = &t->node[ed->from];
	const struct ds_topo_node *dn = &t->node[ed->to];
	struct ds_plan_pull *pl;
	char *name;
	unsigned k;

	if (ds_topo_routed(t, e)) {
		name = join("", up->name, "-", dn->name);
		pl = pull_add(pr, ed->once, addr(t, name));
		free(name);
		if (pl == NULL)
			return -1;
		return ids_node(&pl->from, ed->from, up->parallel);
	}
	/* Forward: some upstream instances; direct: all of them. */
	for (k = 0; k < up->parallel; k++)
		if ((ed->dist != DS_DIST_FORWARD || k % dn->parallel == i) &&
		    pull_instance(pr, t, ed->once, ed->from, k) == -1)
			return -1;
	return 0;
}

/* Instance i of node n; edges in order, so that every list keeps it. */
static int
instance(struct ds_plan_proc *pr, const struct ds_topo *t, int n, unsigned i,
    char *err, size_t errlen)
{
	const struct ds_topo_node *nd = &t->node[n];
	size_t e;

	pr->kind = DS_PLAN_INSTANCE;
	pr->id = ds_topo_producer(n, i);
	pr->node = n;
	pr->index = i;
	pr->once = t->once;
	pr->journal = exactly(t, n);
	if ((pr->name = inst_name(t, n, i)) == NULL)
		return -1;
	if (nd->kind != DS_KIND_SINK &&
	    (pr->listen = addr(t, pr->name)) == NULL)
		return -1;
	for (e = 0; e < t->nedge; e++) {
		if (t->edge[e].from == n && output(pr, t, e, i) == -1)
			return -1;
		if (t->edge[e].to == n && input(pr, t, e, i) == -1)
			return -1;
	}
	if (nd->kind != DS_KIND_SOURCE && pr->npull == 0)
		return fail(err, errlen, "%s:%d: parallel: instance %s gets "
		    "no input (forward inputs have fewer instances)", t->file,
		    nd->line, pr->name);
	return 0;
}

static int
router(struct ds_plan_proc *pr, const struct ds_topo *t, size_t e)
{
	const struct ds_topo_edge *ed = &t->edge[e];
	const struct ds_topo_node *up = &t->node[ed->from];
	const struct ds_topo_node *dn = &t->node[ed->to];
	unsigned k;

	pr->kind = DS_PLAN_ROUTER;
	pr->id = ds_plan_router_id(e);
	pr->edge = e;
	pr->once = ed->once;
	pr->dist = ed->dist;
	if ((pr->name = join("", up->name, "-", dn->name)) == NULL ||
	    (pr->listen = addr(t, pr->name)) == NULL ||
	    ids_node(&pr->consumers, ed->to, dn->parallel) == -1)
		return -1;
	for (k = 0; k < up->parallel; k++)
		if (pull_instance(pr, t, ed->once, ed->from, k) == -1)
			return -1;
	return 0;
}

int
ds_plan_build(struct ds_plan *p, const struct ds_topo *t, char *err,
    size_t errlen)
{
	struct ds_plan_proc *pr;
	size_t n, e, k;
	unsigned i;
	int saved;

	memset(p, 0, sizeof(*p));
	p->nproc = ds_plan_uses_journal(t) ? 1 : 0;
	for (n = 0; n < t->nnode; n++)
		p->nproc += t->node[n].parallel;
	for (e = 0; e < t->nedge; e++)
		p->nproc += ds_topo_routed(t, e) ? 1 : 0;
	if ((p->proc = calloc(p->nproc, sizeof(*p->proc))) == NULL)
		goto fail;
	for (k = 0; k < p->nproc; k++)
		p->proc[k].node = -1;
	pr = p->proc;
	if (ds_plan_uses_journal(t)) {
		pr->kind = DS_PLAN_JOURNAL;
		pr->id = DS_PLAN_JOURNAL_ID;
		pr->once = t->once;
		if ((pr->name = strdup("journal")) == NULL ||
		    (pr->listen = addr(t, pr->name)) == NULL ||
		    (p->journal = strdup(pr->listen)) == NULL)
			goto fail;
		pr++;
	}
	for (n = 0; n < t->nnode; n++)
		for (i = 0; i < t->node[n].parallel; i++)
			if (instance(pr++, t, (int)n, i, err, errlen) == -1)
				goto fail;
	for (e = 0; e < t->nedge; e++)
		if (ds_topo_routed(t, e) && router(pr++, t, e) == -1)
			goto fail;
	for (k = 0; k < p->nproc; k++)
		if (strlen(t->run) + strlen(p->proc[k].name) + 1 >
		    DS_PLAN_IPC_MAX) {
			fail(err, errlen, "%s: run: %s/%s is too long for an "
			    "ipc:// address (%d bytes at most)", t->file,
			    t->run, p->proc[k].name, DS_PLAN_IPC_MAX);
			goto fail;
		}
	return 0;
fail:
	saved = errno;
	ds_plan_free(p);
	errno = saved;
	return -1;
}

void
ds_plan_free(struct ds_plan *p)
{
	struct ds_plan_proc *pr;
	size_t k, j;

	for (k = 0; p->proc != NULL && k < p->nproc; k++) {
		pr = &p->proc[k];
		free(pr->name);
		free(pr->listen);
		free(pr->consumers.v);
		for (j = 0; j < pr->npart; j++)
			free(pr->part[j].to.v);
		free(pr->part);
		for (j = 0; j < pr->npull; j++) {
			free(pr->pull[j].from.v);
			free(pr->pull[j].addr);
		}
		free(pr->pull);
	}
	free(p->proc);
	free(p->journal);
	memset(p, 0, sizeof(*p));
}

int
ds_plan_uses_journal(const struct ds_topo *t)
{
	return exactly(t, -1);
}

uint64_t
ds_plan_router_id(size_t e)
{
	return DS_PLAN_ROUTER_BIT | (uint64_t)(e + 1);
}

const struct ds_plan_proc *
ds_plan_find(const struct ds_plan *p, uint64_t id)
{
	size_t k;

	for (k = 0; k < p->nproc; k++)
		if (p->proc[k].id == id)
			return &p->proc[k];
	return NULL;
}
