/*
 * nodeopt.c: the topology options (nodeopt.h).  Each option is checked
 * as it comes; ds_node_validate checks them together for the program's
 * kind.  Everything here dies with 64 on a bad value.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "core/msg.h"
#include "node/log.h"
#include "node/nodeopt.h"

#define OPT(name, val, what, arg) \
	{ name, 0, POPT_ARG_STRING, NULL, val, what, arg }
#define O_ID	OPT("id", DS_NODE_OPT_ID, "this instance's id", "N")
#define O_NAME	OPT("name", DS_NODE_OPT_NAME, \
	    "NODE.I, for logs and the state log", "NAME")
#define O_EPOCH	OPT("epoch", DS_NODE_OPT_EPOCH, \
	    "this start's epoch, 1..4294967295 (default 1)", "N")
#define O_MASTER OPT("master", DS_NODE_OPT_MASTER, \
	    "hold a lease from ds-master at ADDR", "ADDR")
#define O_KEEPALIVE OPT("keepalive", DS_NODE_OPT_KEEPALIVE, \
	    "lease length in ms (default 10000)", "MS")
#define O_STATE	OPT("state", DS_NODE_OPT_STATE, \
	    "keep the state log DIR/NAME.slog", "DIR")
#define O_ONCE	OPT("once", DS_NODE_OPT_ONCE, \
	    "own delivery mode: most, least or exactly (default least)", "MODE")
#define O_LISTEN OPT("listen", DS_NODE_OPT_LISTEN, \
	    "serve the output stream at ADDR", "ADDR")
#define O_CONSUMERS OPT("consumers", DS_NODE_OPT_CONSUMERS, \
	    "ids of every consumer of the output, comma-separated", "IDS")
#define O_PART	OPT("part", DS_NODE_OPT_PART, \
	    "consumers IDS (of --consumers) share the output by DIST: " \
	    "hash, range or shuffle (repeatable)", "DIST:IDS")
#define O_ENDED	OPT("ended", DS_NODE_OPT_ENDED, \
	    "producers that finished and exited: their streams are over", \
	    "IDS")
#define O_DRAIN { "drain", 0, POPT_ARG_NONE, NULL, DS_NODE_OPT_DRAIN, \
	    "the job stops in order: read nothing, end the output as " \
	    "stopped", NULL }
#define O_RESUMED { "resumed", 0, POPT_ARG_NONE, NULL, DS_NODE_OPT_RESUMED, \
	    "the job's last run stopped in order: every position is exact", \
	    NULL }
#define O_PULL	OPT("pull", DS_NODE_OPT_PULL, \
	    "pull producers IDS from ADDR, MODE most, least or exactly " \
	    "(repeatable)", "MODE:IDS@ADDR")
#define O_JOURNAL OPT("journal", DS_NODE_OPT_JOURNAL, \
	    "exactly-once: keep state and outputs in ds-journal at ADDR", \
	    "ADDR")
#define O_DIST	OPT("dist", DS_NODE_OPT_DIST, \
	    "hash, range, shuffle or broadcast", "DIST")
#define O_BUFFER OPT("buffer", DS_NODE_OPT_BUFFER, \
	    "most bytes queued before pulling stops, K/M/G (default 64M)", \
	    "SIZE")
#define O_KEY	OPT("key", DS_NODE_OPT_KEY, \
	    "the job key file (default: the per-user key, made if missing)", \
	    "FILE")
#define O_NETWORK OPT("network", DS_NODE_OPT_NETWORK, \
	    "ipc (default) or tcp: allow tcp:// addresses", "NET")
#define O_RSTATE OPT("state", DS_NODE_OPT_STATE, \
	    "accepted and ignored (the router keeps no state)", "DIR")

struct poptOption ds_node_source_opts[] = {
	O_CONSUMERS, O_DRAIN, O_EPOCH, O_ID, O_JOURNAL, O_KEEPALIVE, O_KEY,
	O_LISTEN, O_MASTER, O_NAME, O_NETWORK, O_ONCE, O_PART, O_STATE,
	POPT_TABLEEND
};
struct poptOption ds_node_op_opts[] = {
	O_CONSUMERS, O_ENDED, O_EPOCH, O_ID, O_JOURNAL, O_KEEPALIVE, O_KEY,
	O_LISTEN, O_MASTER, O_NAME, O_NETWORK, O_ONCE, O_PART, O_PULL,
	O_RESUMED, O_STATE, POPT_TABLEEND
};
struct poptOption ds_node_sink_opts[] = {
	O_ENDED, O_EPOCH, O_ID, O_JOURNAL, O_KEEPALIVE, O_KEY, O_MASTER,
	O_NAME, O_NETWORK, O_ONCE, O_PULL, O_RESUMED, O_STATE, POPT_TABLEEND
};
struct poptOption ds_node_router_opts[] = {
	O_BUFFER, O_CONSUMERS, O_DIST, O_ENDED, O_EPOCH, O_ID, O_KEEPALIVE,
	O_KEY, O_LISTEN, O_MASTER, O_NAME, O_NETWORK, O_ONCE, O_PULL,
	O_RESUMED, O_RSTATE, POPT_TABLEEND
};

#define GIVEN(c, v)	((c)->given & (1u << ((v) - DS_NODE_OPT_ID)))

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

void
ds_node_cfg_init(struct ds_node_cfg *c, enum ds_node_kind kind)
{
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->epoch = 1;
	c->keepalive_ms = DS_NODE_KEEPALIVE;
	c->once = DS_ONCE_LEAST;
	c->buffer = DS_NODE_BUFFER;
	c->dist = DS_DIST_FORWARD;
}

void
ds_node_cfg_term(struct ds_node_cfg *c)
{
	size_t i;

	for (i = 0; i < c->npull; i++) {
		free(c->pull[i].prod);
		free(c->pull[i].addr);
	}
	for (i = 0; i < c->npart; i++)
		free(c->part[i].ids);
	free(c->part);
	free(c->pull);
	free(c->cons);
	free(c->ended);
	free(c->name);
	free(c->master);
	free(c->state);
	free(c->listen);
	free(c->journal);
	free(c->key);
	memset(c, 0, sizeof(*c));
}

int
ds_node_parse_ids(const char *s, size_t n, uint64_t **ids, size_t *nids,
    const char **why)
{
	unsigned long long v;
	const char *p = s, *end = s + n, *c;
	char num[24], *e;
	size_t i, len;
	uint64_t *q;

	*ids = NULL;
	*nids = 0;
	while (p <= end) {
		c = memchr(p, ',', (size_t)(end - p));
		len = (size_t)((c ? c : end) - p);
		*why = "not a number";
		if (len == 0 || len >= sizeof(num))
			goto fail;
		memcpy(num, p, len);
		num[len] = '\0';
		if (num[0] < '0' || num[0] > '9')
			goto fail;
		errno = 0;
		v = strtoull(num, &e, 10);
		if (errno != 0 || *e != '\0')
			goto fail;
		*why = "id 0 is not allowed";
		if (v == 0)
			goto fail;
		*why = "an id appears twice";
		for (i = 0; i < *nids; i++)
			if ((*ids)[i] == v)
				goto fail;
		if ((q = realloc(*ids, (*nids + 1) * sizeof(**ids))) == NULL)
			nomem();
		*ids = q;
		(*ids)[(*nids)++] = v;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return 0;
fail:
	free(*ids);
	*ids = NULL;
	*nids = 0;
	return -1;
}

static void
parse_pull(struct ds_node_cfg *cf, const struct ds_common *co, const char *s)
{
	struct ds_node_pull pl, *np;
	const char *colon, *at, *why;
	size_t i, j, k;

	memset(&pl, 0, sizeof(pl));
	if ((at = strchr(s, '@')) == NULL || (colon = memchr(s, ':',
	    (size_t)(at - s))) == NULL)
		ds_dieusage(co, "--pull: not MODE:IDS@ADDR: '%s'", s);
	if (ds_once_parse(s, (size_t)(colon - s), &pl.once) == -1)
		ds_dieusage(co, "--pull: unknown mode '%.*s' (most, least, "
		    "exactly): '%s'", (int)(colon - s), s, s);
	if (ds_node_parse_ids(colon + 1, (size_t)(at - colon - 1), &pl.prod,
	    &pl.nprod, &why) == -1)
		ds_dieusage(co, "--pull: bad producer ids '%.*s': %s",
		    (int)(at - colon - 1), colon + 1, why);
	if (at[1] == '\0')
		ds_dieusage(co, "--pull: empty address: '%s'", s);
	for (i = 0; i < cf->npull; i++)
		for (j = 0; j < cf->pull[i].nprod; j++)
			for (k = 0; k < pl.nprod; k++)
				if (cf->pull[i].prod[j] == pl.prod[k])
					ds_dieusage(co, "--pull: producer %llu "
					    "given twice",
					    (unsigned long long)pl.prod[k]);
	if ((pl.addr = strdup(at + 1)) == NULL)
		nomem();
	if ((np = realloc(cf->pull, (cf->npull + 1) * sizeof(*np))) == NULL)
		nomem();
	cf->pull = np;
	cf->pull[cf->npull++] = pl;
}

static void
parse_part(struct ds_node_cfg *cf, const struct ds_common *co, const char *s)
{
	struct ds_node_part pt, *np;
	const char *colon, *why;
	char name[16];

	memset(&pt, 0, sizeof(pt));
	if ((colon = strchr(s, ':')) == NULL)
		ds_dieusage(co, "--part: not DIST:IDS: '%s'", s);
	snprintf(name, sizeof(name), "%.*s", (int)(colon - s), s);
	if ((size_t)(colon - s) >= sizeof(name) ||
	    ds_dist_parse(name, &pt.dist) == -1 ||
	    (pt.dist != DS_DIST_HASH && pt.dist != DS_DIST_RANGE &&
	    pt.dist != DS_DIST_SHUFFLE))
		ds_dieusage(co, "--part: unknown distribution '%.*s' (hash, "
		    "range, shuffle): '%s'", (int)(colon - s), s, s);
	if (ds_node_parse_ids(colon + 1, strlen(colon + 1), &pt.ids, &pt.n,
	    &why) == -1)
		ds_dieusage(co, "--part: bad consumer ids '%s': %s", colon + 1,
		    why);
	if ((np = realloc(cf->part, (cf->npart + 1) * sizeof(*np))) == NULL)
		nomem();
	cf->part = np;
	cf->part[cf->npart++] = pt;
}

/* A non-empty string option (taken over). */
static void
set_str(const struct ds_common *co, const char *opt, char **dst, char *arg)
{
	if (arg[0] == '\0')
		ds_dieusage(co, "%s: empty value", opt);
	free(*dst);
	*dst = arg;
}

int
ds_node_opt(struct ds_node_cfg *cf, const struct ds_common *co,
    poptContext pc, int val)
{
	const char *why;
	char *arg;

	if (val < DS_NODE_OPT_ID || val >= DS_NODE_OPT_END)
		return 0;
	if (val == DS_NODE_OPT_DRAIN || val == DS_NODE_OPT_RESUMED) {
		cf->given |= 1u << (val - DS_NODE_OPT_ID);	/* no value */
		*(val == DS_NODE_OPT_DRAIN ? &cf->drain : &cf->resumed) = 1;
		return 1;
	}
	if ((arg = poptGetOptArg(pc)) == NULL)
		ds_dieusage(co, "missing option value");
	cf->given |= 1u << (val - DS_NODE_OPT_ID);
	switch (val) {
	case DS_NODE_OPT_ID:
		cf->id = ds_opt_u64(co, "--id", arg, 1, UINT64_MAX);
		break;
	case DS_NODE_OPT_NAME:
		if (arg[0] == '\0' || strchr(arg, '/') != NULL)
			ds_dieusage(co, "--name: empty or has a '/': '%s'",
			    arg);
		set_str(co, "--name", &cf->name, arg);
		return 1;
	case DS_NODE_OPT_EPOCH:
		cf->epoch = (uint32_t)ds_opt_u64(co, "--epoch", arg, 1,
		    UINT32_MAX);
		break;
	case DS_NODE_OPT_MASTER:
		set_str(co, "--master", &cf->master, arg);
		return 1;
	case DS_NODE_OPT_KEEPALIVE:
		cf->keepalive_ms = ds_opt_u64(co, "--keepalive", arg, 100,
		    86400000);
		break;
	case DS_NODE_OPT_STATE:
		set_str(co, "--state", &cf->state, arg);
		return 1;
	case DS_NODE_OPT_ONCE:
		if (ds_once_parse(arg, strlen(arg), &cf->once) == -1)
			ds_dieusage(co, "--once: mode must be most, least or "
			    "exactly: '%s'", arg);
		break;
	case DS_NODE_OPT_JOURNAL:
		set_str(co, "--journal", &cf->journal, arg);
		return 1;
	case DS_NODE_OPT_LISTEN:
		set_str(co, "--listen", &cf->listen, arg);
		return 1;
	case DS_NODE_OPT_CONSUMERS:
		free(cf->cons);
		if (ds_node_parse_ids(arg, strlen(arg), &cf->cons,
		    &cf->ncons, &why) == -1)
			ds_dieusage(co, "--consumers: bad ids '%s': %s", arg,
			    why);
		break;
	case DS_NODE_OPT_PULL:
		parse_pull(cf, co, arg);
		break;
	case DS_NODE_OPT_PART:
		parse_part(cf, co, arg);
		break;
	case DS_NODE_OPT_ENDED:
		free(cf->ended);
		if (ds_node_parse_ids(arg, strlen(arg), &cf->ended,
		    &cf->nended, &why) == -1)
			ds_dieusage(co, "--ended: bad ids '%s': %s", arg, why);
		break;
	case DS_NODE_OPT_DIST:
		if (ds_dist_parse(arg, &cf->dist) == -1 ||
		    cf->dist == DS_DIST_FORWARD)
			ds_dieusage(co, "--dist: expected hash, range, shuffle "
			    "or broadcast: '%s'", arg);
		break;
	case DS_NODE_OPT_KEY:
		set_str(co, "--key", &cf->key, arg);
		return 1;
	case DS_NODE_OPT_NETWORK:
		if (strcmp(arg, "ipc") == 0)
			cf->tcp = 0;
		else if (strcmp(arg, "tcp") == 0)
			cf->tcp = 1;
		else
			ds_dieusage(co, "--network: expected ipc or tcp: '%s'",
			    arg);
		break;
	case DS_NODE_OPT_BUFFER:
		cf->buffer = ds_opt_size(co, "--buffer", arg, 1024,
		    UINT64_MAX >> 2);
		break;
	}
	free(arg);
	return 1;
}

poptContext
ds_node_parse(struct ds_node_cfg *cf, struct ds_common *co, int argc,
    char **argv, const struct poptOption *opts, int operands)
{
	poptContext pc;
	int rc;

	pc = poptGetContext(ds_progname, argc, (const char **)(void *)argv,
	    opts, 0);
	while ((rc = ds_opt_next(co, pc)) != -1)
		if (!ds_node_opt(cf, co, pc, rc))
			ds_dieusage(co, "unexpected option value %d", rc);
	if (operands)
		return pc;
	if (poptPeekArg(pc) != NULL)
		ds_dieusage(co, "unexpected operand '%s'", poptPeekArg(pc));
	poptFreeContext(pc);
	return NULL;
}

/* Every --part id is a consumer, and in one --part only. */
static void
check_parts(const struct ds_node_cfg *cf, const struct ds_common *co)
{
	const struct ds_node_part *a, *b;
	size_t i, j, k, l;

	for (i = 0; i < cf->npart; i++) {
		a = &cf->part[i];
		for (j = 0; j < a->n; j++) {
			for (k = 0; k < cf->ncons; k++)
				if (cf->cons[k] == a->ids[j])
					break;
			if (k == cf->ncons)
				ds_dieusage(co, "--part: %llu is not one of "
				    "--consumers", (unsigned long long)
				    a->ids[j]);
			for (k = i + 1; k < cf->npart; k++) {
				b = &cf->part[k];
				for (l = 0; l < b->n; l++)
					if (b->ids[l] == a->ids[j])
						ds_dieusage(co, "--part: %llu "
						    "is in two --part options",
						    (unsigned long long)
						    a->ids[j]);
			}
		}
	}
}

/* ds-router: always a node; its distribution is a part of every consumer. */
static void
validate_router(struct ds_node_cfg *cf, const struct ds_common *co)
{
	size_t i, nprod = 0;

	if (cf->listen == NULL)
		ds_dieusage(co, "--listen is required");
	if (cf->cons == NULL)
		ds_dieusage(co, "--consumers is required");
	if (!GIVEN(cf, DS_NODE_OPT_DIST))
		ds_dieusage(co, "--dist is required");
	if (!GIVEN(cf, DS_NODE_OPT_ID))
		ds_dieusage(co, "--id is required");
	if (cf->npull == 0)
		ds_dieusage(co, "--pull is required");
	if (cf->ncons > DS_NODE_MAXCONS)
		ds_dieusage(co, "--consumers: more than %d", DS_NODE_MAXCONS);
	for (i = 0; i < cf->npull; i++)
		nprod += cf->pull[i].nprod;
	if (nprod > DS_MSG_MAXPROD)
		ds_dieusage(co, "--pull: more than %d producers",
		    DS_MSG_MAXPROD);
	free(cf->state);	/* accepted and ignored */
	cf->state = NULL;
	cf->on = 1;
	if (cf->dist == DS_DIST_BROADCAST)
		return;
	if ((cf->part = calloc(1, sizeof(*cf->part))) == NULL ||
	    (cf->part[0].ids = calloc(cf->ncons, sizeof(uint64_t))) == NULL)
		nomem();
	memcpy(cf->part[0].ids, cf->cons, cf->ncons * sizeof(uint64_t));
	cf->part[0].n = cf->ncons;
	cf->part[0].dist = cf->dist;
	cf->npart = 1;
}

static void
validate_instance(struct ds_node_cfg *cf, const struct ds_common *co)
{
	size_t i;

	cf->on = cf->listen != NULL || cf->npull > 0 || cf->master != NULL;
	if (!cf->on) {
		if (cf->given != 0)
			ds_dieusage(co, "topology options need --listen, "
			    "--pull or --master");
		return;
	}
	if (!GIVEN(cf, DS_NODE_OPT_ID))
		ds_dieusage(co, "topology mode needs --id");
	if (cf->kind != DS_NODE_SINK) {
		if (cf->listen == NULL)
			ds_dieusage(co, "topology mode needs --listen");
		if (cf->cons == NULL)
			ds_dieusage(co, "--listen needs --consumers");
	}
	check_parts(cf, co);
	if (cf->kind != DS_NODE_SOURCE && cf->npull == 0)
		ds_dieusage(co, "topology mode needs --pull");
	cf->exactly = cf->once == DS_ONCE_EXACTLY;
	for (i = 0; i < cf->npull; i++)
		if (cf->pull[i].once == DS_ONCE_EXACTLY)
			cf->exactly = 1;
	if (cf->exactly && cf->journal == NULL)
		ds_dieusage(co, "exactly-once needs --journal");
	if (!cf->exactly && cf->journal != NULL)
		ds_dieusage(co, "--journal needs --once exactly or an exactly "
		    "--pull");
}

void
ds_node_cfg_validate(struct ds_node_cfg *cf, const struct ds_common *co)
{
	size_t i;
	static char ctx[256];
	char buf[24];

	if (cf->kind == DS_NODE_ROUTER)
		validate_router(cf, co);
	else
		validate_instance(cf, co);
	if (!cf->on)
		return;
	if (GIVEN(cf, DS_NODE_OPT_KEEPALIVE) && cf->master == NULL)
		ds_dieusage(co, "--keepalive needs --master");
	if (cf->drain && cf->master == NULL)
		ds_dieusage(co, "--drain needs --master");
	if (cf->resumed && cf->master == NULL)
		ds_dieusage(co, "--resumed needs --master");
	ds_node_addr_ok(co, cf->tcp, "--listen", cf->listen);
	ds_node_addr_ok(co, cf->tcp, "--master", cf->master);
	ds_node_addr_ok(co, cf->tcp, "--journal", cf->journal);
	for (i = 0; i < cf->npull; i++)
		ds_node_addr_ok(co, cf->tcp, "--pull", cf->pull[i].addr);
	/* --check reads no key: ds-master checks before it makes one. */
	if (!co->check)
		ds_node_setkey(cf->key);
	if (cf->name != NULL) {
		snprintf(ctx, sizeof(ctx), "name=%s", cf->name);
		ds_log_context(ctx);
	} else {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)cf->id);
		if ((cf->name = strdup(buf)) == NULL)
			nomem();
	}
}

int
ds_node_cfg_index(const struct ds_node_cfg *cf, uint64_t *index)
{
	unsigned long long v;
	const char *dot;
	char *end;

	*index = 0;
	if (!cf->on || !GIVEN(cf, DS_NODE_OPT_NAME))
		return 0;
	if ((dot = strrchr(cf->name, '.')) == NULL || dot[1] < '0' ||
	    dot[1] > '9')
		return -1;
	errno = 0;
	v = strtoull(dot + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*index = v;
	return 0;
}
