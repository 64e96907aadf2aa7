/*
 * stateplan.c: STATE/plan, the plan a state directory was made for
 * (ds-master(1), FILES): the job's delivery mode, every node with its
 * parallelism and run line, every input with its distribution and mode,
 * one canonical line each.  A state log or a journal frontier means
 * something only for the plan that wrote it: instance count.2 of a hash
 * edge owns the keys whose hash is 2 mod 3, not mod 4.  So a run on a
 * state made for another plan would quietly lose and duplicate tuples;
 * plan_diff names each difference so that ds-master can refuse.  Only
 * the text is here: rundir.c reads and writes the file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"

#define PLAN_HEAD	"# dstream plan 1: what this state directory was " \
			"made for (ds-master(1))"

/* What an old plan says about a node, and about an input of a node. */
struct onode {
	const char	*name;
	unsigned long	 parallel;
	const char	*run;		/* canonical, or NULL */
};

struct oedge {
	const char	*to, *from, *dist, *once;
};

struct oplan {
	const char	*once;
	struct onode	*node;
	size_t		 nnode;
	struct oedge	*edge;
	size_t		 nedge;
};

/* Append s to b and free it. */
static void
take(struct ds_buf *b, char *s)
{
	if (ds_buf_addstr(b, s) == -1)
		nomem();
	free(s);
}

/* A word as a run line can say it and ds_topo_split read it back. */
static void
put_word(struct ds_buf *b, const char *w)
{
	int rc;

	if (*w != '\0' && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_./:=,+%@-") == strlen(w)) {
		if (ds_buf_addstr(b, w) == -1)
			nomem();
		return;
	}
	rc = ds_buf_addc(b, '\'');
	for (; rc == 0 && *w != '\0'; w++)
		rc = *w == '\'' ? ds_buf_addstr(b, "'\\''") :
		    ds_buf_addc(b, *w);
	if (rc == -1 || ds_buf_addc(b, '\'') == -1)
		nomem();
}

/*
 * Node n's run line, its words as split and quoted only where needed
 * (malloc'ed): blanks and quoting that do not change a word change
 * nothing.
 */
static char *
canon_run(const struct ds_topo_node *n)
{
	struct ds_buf b = DS_BUF_INIT;
	int a;

	for (a = 0; a < n->argc; a++) {
		if (a > 0 && ds_buf_addc(&b, ' ') == -1)
			nomem();
		put_word(&b, n->argv[a]);
	}
	if (ds_buf_addc(&b, '\0') == -1)
		nomem();
	return (char *)b.p;
}

char *
plan_text(const struct ds_topo *t)
{
	struct ds_buf b = DS_BUF_INIT;
	const struct ds_topo_edge *e;
	char *run;
	size_t i;

	take(&b, xprintf("%s\nonce %s\n", PLAN_HEAD, ds_once_name(t->once)));
	for (i = 0; i < t->nnode; i++) {
		run = canon_run(&t->node[i]);
		take(&b, xprintf("node %s parallel %u\nrun %s %s\n",
		    t->node[i].name, t->node[i].parallel, t->node[i].name,
		    run));
		free(run);
	}
	for (i = 0; i < t->nedge; i++) {
		e = &t->edge[i];
		take(&b, xprintf("input %s %s %s %s\n", t->node[e->to].name,
		    t->node[e->from].name, ds_dist_name(e->dist),
		    ds_once_name(e->once)));
	}
	if (ds_buf_addc(&b, '\0') == -1)
		nomem();
	return (char *)b.p;
}

/* Split off the next blank-separated word of *s (NUL-terminated). */
static char *
word(char **s)
{
	char *w = *s, *e;

	if (*w == '\0')
		return NULL;
	if ((e = strchr(w, ' ')) != NULL) {
		*e = '\0';
		*s = e + 1;
	} else
		*s = w + strlen(w);
	return w;
}

static struct onode *
onode_find(const struct oplan *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nnode; i++)
		if (strcmp(o->node[i].name, name) == 0)
			return &o->node[i];
	return NULL;
}

/* Line l of an old plan into o; 0, or -1 if it is no plan line. */
static int
parse_line(struct oplan *o, char *l)
{
	char *kw, *a, *b, *c, *d, *end;
	struct onode *n;

	if (*l == '\0' || *l == '#')
		return 0;
	kw = word(&l);
	a = word(&l);
	if (a == NULL)
		return -1;
	if (strcmp(kw, "once") == 0 && *l == '\0') {
		o->once = a;
		return 0;
	}
	if (strcmp(kw, "run") == 0) {
		if ((n = onode_find(o, a)) == NULL)
			return -1;
		n->run = l;
		return 0;
	}
	b = word(&l);
	c = word(&l);
	if (strcmp(kw, "node") == 0 && b != NULL && strcmp(b, "parallel") ==
	    0 && c != NULL && *l == '\0' && onode_find(o, a) == NULL) {
		n = &o->node[o->nnode++];
		n->name = a;
		n->parallel = strtoul(c, &end, 10);
		n->run = NULL;
		return *end == '\0' ? 0 : -1;
	}
	d = word(&l);
	if (strcmp(kw, "input") == 0 && d != NULL && *l == '\0') {
		o->edge[o->nedge].to = a;
		o->edge[o->nedge].from = b;
		o->edge[o->nedge].dist = c;
		o->edge[o->nedge++].once = d;
		return 0;
	}
	return -1;
}

/* Print one difference: "FILE:LINE: ..." (no LINE when 0). */
__attribute__((format(printf, 3, 4)))
static void
differs(const struct ds_topo *t, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		ds_log(DS_LOG_FATAL, 0, "%s:%d: %s", t->file, line, msg);
	else
		ds_log(DS_LOG_FATAL, 0, "%s: %s", t->file, msg);
}

static const struct oedge *
oedge_find(const struct oplan *o, const char *to, const char *from)
{
	size_t i;

	for (i = 0; i < o->nedge; i++)
		if (strcmp(o->edge[i].to, to) == 0 &&
		    strcmp(o->edge[i].from, from) == 0)
			return &o->edge[i];
	return NULL;
}

/* The inputs of node i against the old plan's; the differences. */
static size_t
diff_inputs(const struct ds_topo *t, const struct oplan *o, size_t i)
{
	const struct ds_topo_node *n = &t->node[i];
	const struct ds_topo_edge *e;
	const struct oedge *oe;
	const char *dist, *once;
	size_t k, nd = 0;

	for (k = 0; k < t->nedge; k++) {
		if ((e = &t->edge[k])->to != (int)i)
			continue;
		oe = oedge_find(o, n->name, t->node[e->from].name);
		if (oe == NULL) {
			if (onode_find(o, t->node[e->from].name) != NULL) {
				differs(t, e->line, "node %s: input %s: added",
				    n->name, t->node[e->from].name);
				nd++;
			}
			continue;
		}
		dist = ds_dist_name(e->dist);
		once = ds_once_name(e->once);
		if (strcmp(oe->dist, dist) != 0) {
			differs(t, e->line, "node %s: input: %s:%s -> %s:%s",
			    n->name, oe->from, oe->dist, oe->from, dist);
			nd++;
		}
		/* Not when it only follows the job's once. */
		if (strcmp(oe->once, once) != 0 && (o->once == NULL ||
		    strcmp(oe->once, o->once) != 0 ||
		    e->once != t->once)) {
			differs(t, e->once_line > 0 ? e->once_line : e->line,
			    "node %s: once.%s: %s -> %s",
			    n->name, oe->from, oe->once, once);
			nd++;
		}
	}
	for (k = 0; k < o->nedge; k++) {
		oe = &o->edge[k];
		if (strcmp(oe->to, n->name) != 0)
			continue;
		if (ds_topo_find(t, oe->from) == -1)
			continue;	/* said: that node is removed */
		for (e = t->edge; e < t->edge + t->nedge; e++)
			if (e->to == (int)i && strcmp(t->node[e->from].name,
			    oe->from) == 0)
				break;
		if (e == t->edge + t->nedge) {
			differs(t, n->line, "node %s: input %s: removed",
			    n->name, oe->from);
			nd++;
		}
	}
	return nd;
}

static size_t
diff_nodes(const struct ds_topo *t, const struct oplan *o)
{
	const struct ds_topo_node *n;
	const struct onode *on;
	size_t i, nd = 0;
	char *run;

	for (i = 0; i < t->nnode; i++) {
		n = &t->node[i];
		if ((on = onode_find(o, n->name)) == NULL) {
			differs(t, n->line, "node %s: added", n->name);
			nd++;
			continue;
		}
		if (on->parallel != n->parallel) {
			differs(t, n->par_line > 0 ? n->par_line : n->line,
			    "node %s: parallel: %lu -> %u (the state holds %lu "
			    "instance%s)", n->name, on->parallel, n->parallel,
			    on->parallel, on->parallel == 1 ? "" : "s");
			nd++;
		}
		run = canon_run(n);
		if (on->run == NULL || strcmp(on->run, run) != 0) {
			differs(t, n->run_line, "node %s: run: %s -> %s",
			    n->name, on->run != NULL ? on->run : "(none)",
			    run);
			nd++;
		}
		free(run);
		nd += diff_inputs(t, o, i);
	}
	for (i = 0; i < o->nnode; i++)
		if (ds_topo_find(t, o->node[i].name) == -1) {
			differs(t, 0, "node %s: removed (the state holds %lu "
			    "instance%s)", o->node[i].name, o->node[i].parallel,
			    o->node[i].parallel == 1 ? "" : "s");
			nd++;
		}
	return nd;
}

size_t
plan_diff(char *old, const struct ds_topo *t, const char *what)
{
	struct oplan o;
	size_t nl = 1, nd = 0;
	char *l, *nx;
	int ln = 1;

	memset(&o, 0, sizeof(o));
	for (l = old; *l != '\0'; l++)
		nl += *l == '\n';
	if ((o.node = calloc(nl, sizeof(*o.node))) == NULL ||
	    (o.edge = calloc(nl, sizeof(*o.edge))) == NULL)
		nomem();
	for (l = old; *l != '\0'; l = nx, ln++) {
		if ((nx = strchr(l, '\n')) != NULL)
			*nx++ = '\0';
		else
			nx = l + strlen(l);
		if (parse_line(&o, l) == -1)
			ds_die(DS_EX_DATAERR, "%s:%d: not a line of a plan; "
			    "ds-master run --discard-state starts over", what,
			    ln);
	}
	if (o.once != NULL && strcmp(o.once, ds_once_name(t->once)) != 0) {
		differs(t, t->once_line, "once: %s -> %s", o.once,
		    ds_once_name(t->once));
		nd++;
	}
	nd += diff_nodes(t, &o);
	free(o.node);
	free(o.edge);
	return nd;
}
