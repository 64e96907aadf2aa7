/*
 * inst.c: topology mode shared by ds-source, ds-op and ds-sink.  Every
 * externally visible step checks the lease first (ds_inst_valid), so a
 * zombie resumed after its lease ran out answers no pull and writes
 * nothing.  Acks and the end of the stream are looked at in an
 * ev_prepare watcher, i.e. once per loop round after every callback of
 * that round and before the loop blocks: the owner's tick runs there too,
 * never inside a pull server or inlet callback.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "core/frame.h"
#include "node/inst.h"
#include "net/jclient.h"
#include "node/log.h"
#include "core/wire.h"

#define GRACE		0.02	/* s between done and leaving the loop */
#define PULL_TUPLES	65536
#define PULL_BYTES	(8u << 20)
#define PULL_WAIT	500	/* ms */
#define SHORT_WAIT	0.02	/* s, see wait_of */

#define OPT(name, val, what, arg) \
	{ name, 0, POPT_ARG_STRING, NULL, val, what, arg }
#define O_ID	OPT("id", DS_INST_OPT_ID, "this instance's id", "N")
#define O_NAME	OPT("name", DS_INST_OPT_NAME, \
	    "NODE.I, for logs and the state log", "NAME")
#define O_EPOCH	OPT("epoch", DS_INST_OPT_EPOCH, \
	    "this start's epoch, 1..4294967295 (default 1)", "N")
#define O_MASTER OPT("master", DS_INST_OPT_MASTER, \
	    "hold a lease from ds-master at ADDR", "ADDR")
#define O_KEEPALIVE OPT("keepalive", DS_INST_OPT_KEEPALIVE, \
	    "lease length in ms (default 10000)", "MS")
#define O_STATE	OPT("state", DS_INST_OPT_STATE, \
	    "keep the state log DIR/NAME.slog", "DIR")
#define O_ONCE	OPT("once", DS_INST_OPT_ONCE, \
	    "own delivery mode: most, least or exactly (default least)", "MODE")
#define O_LISTEN OPT("listen", DS_INST_OPT_LISTEN, \
	    "serve the output stream at ADDR", "ADDR")
#define O_CONSUMERS OPT("consumers", DS_INST_OPT_CONSUMERS, \
	    "ids of every consumer of the output, comma-separated", "IDS")
#define O_PART	OPT("part", DS_INST_OPT_PART, \
	    "consumers IDS (of --consumers) share the output by DIST: " \
	    "hash, range or shuffle (repeatable)", "DIST:IDS")
#define O_ENDED	OPT("ended", DS_INST_OPT_ENDED, \
	    "producers that finished and exited: their streams are over", \
	    "IDS")
#define O_PULL	OPT("pull", DS_INST_OPT_PULL, \
	    "pull producers IDS from ADDR, MODE most, least or exactly " \
	    "(repeatable)", "MODE:IDS@ADDR")
#define O_JOURNAL OPT("journal", DS_INST_OPT_JOURNAL, \
	    "exactly-once: keep state and outputs in ds-journal at ADDR", \
	    "ADDR")

struct poptOption ds_inst_source_opts[] = {
	O_CONSUMERS, O_EPOCH, O_ID, O_JOURNAL, O_KEEPALIVE, O_LISTEN,
	O_MASTER, O_NAME, O_ONCE, O_PART, O_STATE, POPT_TABLEEND
};
struct poptOption ds_inst_op_opts[] = {
	O_CONSUMERS, O_ENDED, O_EPOCH, O_ID, O_JOURNAL, O_KEEPALIVE,
	O_LISTEN, O_MASTER, O_NAME, O_ONCE, O_PART, O_PULL, O_STATE,
	POPT_TABLEEND
};
struct poptOption ds_inst_sink_opts[] = {
	O_ENDED, O_EPOCH, O_ID, O_JOURNAL, O_KEEPALIVE, O_MASTER, O_NAME,
	O_ONCE, O_PULL, O_STATE, POPT_TABLEEND
};

#define GIVEN(ti, v)	((ti)->given & (1u << ((v) - DS_INST_OPT_ID)))

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

void
ds_inst_init(struct ds_inst *ti, enum ds_inst_kind kind)
{
	memset(ti, 0, sizeof(*ti));
	ti->kind = kind;
	ti->epoch = 1;
	ti->keepalive_ms = DS_INST_KEEPALIVE;
	ti->once = DS_ONCE_LEAST;
}

void
ds_inst_term(struct ds_inst *ti)
{
	size_t i;

	for (i = 0; i < ti->npull; i++) {
		if (ti->pull[i].inlet != NULL)
			ds_inlet_close(ti->pull[i].inlet);
		free(ti->pull[i].prod);
		free(ti->pull[i].addr);
	}
	if (ti->srv != NULL)
		ds_pull_srv_close(ti->srv);
	if (ti->has_oq)
		ds_outq_term(&ti->oq);
	if (ti->lease != NULL)
		ds_lease_close(ti->lease);
	for (i = 0; i < ti->npart; i++)
		free(ti->part[i].ids);
	free(ti->part);
	free(ti->pull);
	free(ti->cons);
	free(ti->ended);
	free(ti->front);
	free(ti->name);
	free(ti->master);
	free(ti->state);
	free(ti->listen);
	free(ti->journal);
	if (ti->jc != NULL)
		ds_jclient_close(ti->jc);
	while (ti->jlen > 0) {
		ds_buf_free(&ti->ju[ti->jhead].recs);
		ti->jhead = (ti->jhead + 1) % ti->jcap;
		ti->jlen--;
	}
	free(ti->ju);
	memset(ti, 0, sizeof(*ti));
}

static int
parse_once(const char *s, size_t n, enum ds_once *m)
{
	if (n == 4 && memcmp(s, "most", 4) == 0)
		*m = DS_ONCE_MOST;
	else if (n == 5 && memcmp(s, "least", 5) == 0)
		*m = DS_ONCE_LEAST;
	else if (n == 7 && memcmp(s, "exactly", 7) == 0)
		*m = DS_ONCE_EXACTLY;
	else
		return -1;
	return 0;
}

/*
 * A comma-separated list of distinct ids, 1..2^64-1.  0, or -1 with why
 * set (*ids then freed).
 */
static int
parse_ids(const char *s, size_t n, uint64_t **ids, size_t *nids,
    const char **why)
{
	unsigned long long v;
	const char *p = s, *end = s + n, *c;
	char num[24], *e;
	size_t i, len;

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
		for (i = 0; i < *nids; i++) {
			*why = "an id appears twice";
			if ((*ids)[i] == v)
				goto fail;
		}
		if ((*nids & (*nids + 1)) == 0 || *nids == 0) {
			uint64_t *q = realloc(*ids, (*nids * 2 + 1) *
			    sizeof(**ids));
			if (q == NULL)
				nomem();
			*ids = q;
		}
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
parse_pull(struct ds_inst *ti, const struct ds_common *co, const char *s)
{
	struct ds_inst_pull pl, *np;
	const char *colon, *at, *why;

	memset(&pl, 0, sizeof(pl));
	if ((at = strchr(s, '@')) == NULL || (colon = memchr(s, ':',
	    (size_t)(at - s))) == NULL)
		ds_dieusage(co, "--pull: not MODE:IDS@ADDR: '%s'", s);
	if (parse_once(s, (size_t)(colon - s), &pl.once) == -1)
		ds_dieusage(co, "--pull: unknown mode '%.*s' (most, least, "
		    "exactly): '%s'", (int)(colon - s), s, s);
	if (parse_ids(colon + 1, (size_t)(at - colon - 1), &pl.prod, &pl.nprod,
	    &why) == -1)
		ds_dieusage(co, "--pull: bad producer ids '%.*s': %s",
		    (int)(at - colon - 1), colon + 1, why);
	if (at[1] == '\0')
		ds_dieusage(co, "--pull: empty address: '%s'", s);
	if ((pl.addr = strdup(at + 1)) == NULL)
		nomem();
	if ((np = realloc(ti->pull, (ti->npull + 1) * sizeof(*np))) == NULL)
		nomem();
	ti->pull = np;
	ti->pull[ti->npull++] = pl;
}

static void
parse_part(struct ds_inst *ti, const struct ds_common *co, const char *s)
{
	struct ds_inst_part pt, *np;
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
	if (parse_ids(colon + 1, strlen(colon + 1), &pt.ids, &pt.n,
	    &why) == -1)
		ds_dieusage(co, "--part: bad consumer ids '%s': %s", colon + 1,
		    why);
	if ((np = realloc(ti->part, (ti->npart + 1) * sizeof(*np))) == NULL)
		nomem();
	ti->part = np;
	ti->part[ti->npart++] = pt;
}

static void
set_str(char **dst, char *arg)
{
	free(*dst);
	*dst = arg;
}

int
ds_inst_opt(struct ds_inst *ti, const struct ds_common *co, poptContext pc,
    int val)
{
	const char *why;
	char *arg;

	if (val < DS_INST_OPT_ID || val >= DS_INST_OPT_END)
		return 0;
	arg = poptGetOptArg(pc);
	if (arg == NULL)
		ds_dieusage(co, "missing option value");
	ti->given |= 1u << (val - DS_INST_OPT_ID);
	switch (val) {
	case DS_INST_OPT_ID:
		ti->id = ds_opt_u64(co, "--id", arg, 1, UINT64_MAX);
		break;
	case DS_INST_OPT_NAME:
		if (arg[0] == '\0' || strchr(arg, '/') != NULL)
			ds_dieusage(co, "--name: empty or has a '/': '%s'",
			    arg);
		set_str(&ti->name, arg);
		return 1;
	case DS_INST_OPT_EPOCH:
		ti->epoch = (uint32_t)ds_opt_u64(co, "--epoch", arg, 1,
		    UINT32_MAX);
		break;
	case DS_INST_OPT_MASTER:
		if (arg[0] == '\0')
			ds_dieusage(co, "--master: empty address");
		set_str(&ti->master, arg);
		return 1;
	case DS_INST_OPT_KEEPALIVE:
		ti->keepalive_ms = ds_opt_u64(co, "--keepalive", arg, 100,
		    86400000);
		break;
	case DS_INST_OPT_STATE:
		if (arg[0] == '\0')
			ds_dieusage(co, "--state: empty directory name");
		set_str(&ti->state, arg);
		return 1;
	case DS_INST_OPT_ONCE:
		if (parse_once(arg, strlen(arg), &ti->once) == -1)
			ds_dieusage(co, "--once: unknown mode '%s' (most, "
			    "least, exactly)", arg);
		break;
	case DS_INST_OPT_JOURNAL:
		if (arg[0] == '\0')
			ds_dieusage(co, "--journal: empty address");
		set_str(&ti->journal, arg);
		return 1;
	case DS_INST_OPT_LISTEN:
		if (arg[0] == '\0')
			ds_dieusage(co, "--listen: empty address");
		set_str(&ti->listen, arg);
		return 1;
	case DS_INST_OPT_CONSUMERS:
		free(ti->cons);
		if (parse_ids(arg, strlen(arg), &ti->cons, &ti->ncons,
		    &why) == -1)
			ds_dieusage(co, "--consumers: bad ids '%s': %s", arg,
			    why);
		break;
	case DS_INST_OPT_PULL:
		parse_pull(ti, co, arg);
		break;
	case DS_INST_OPT_PART:
		parse_part(ti, co, arg);
		break;
	case DS_INST_OPT_ENDED:
		free(ti->ended);
		if (parse_ids(arg, strlen(arg), &ti->ended, &ti->nended,
		    &why) == -1)
			ds_dieusage(co, "--ended: bad ids '%s': %s", arg, why);
		break;
	}
	free(arg);
	return 1;
}

/* Every --part id is a consumer, and in one --part only. */
static void
check_parts(const struct ds_inst *ti, const struct ds_common *co)
{
	const struct ds_inst_part *a, *b;
	size_t i, j, k, l;

	for (i = 0; i < ti->npart; i++) {
		a = &ti->part[i];
		for (j = 0; j < a->n; j++) {
			for (k = 0; k < ti->ncons; k++)
				if (ti->cons[k] == a->ids[j])
					break;
			if (k == ti->ncons)
				ds_dieusage(co, "--part: %llu is not one of "
				    "--consumers", (unsigned long long)
				    a->ids[j]);
			for (k = i + 1; k < ti->npart; k++) {
				b = &ti->part[k];
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

void
ds_inst_validate(struct ds_inst *ti, const struct ds_common *co)
{
	static char ctx[256];
	char buf[24];
	size_t i;

	ti->on = ti->listen != NULL || ti->npull > 0 || ti->master != NULL;
	if (!ti->on) {
		if (ti->given != 0)
			ds_dieusage(co, "topology options need --listen, "
			    "--pull or --master");
		return;
	}
	if (!GIVEN(ti, DS_INST_OPT_ID))
		ds_dieusage(co, "topology mode needs --id");
	if (GIVEN(ti, DS_INST_OPT_KEEPALIVE) && ti->master == NULL)
		ds_dieusage(co, "--keepalive needs --master");
	if (ti->kind != DS_INST_SINK) {
		if (ti->listen == NULL)
			ds_dieusage(co, "topology mode needs --listen");
		if (ti->cons == NULL)
			ds_dieusage(co, "--listen needs --consumers");
	}
	check_parts(ti, co);
	if (ti->kind != DS_INST_SOURCE && ti->npull == 0)
		ds_dieusage(co, "topology mode needs --pull");
	ti->exactly = ti->once == DS_ONCE_EXACTLY;
	for (i = 0; i < ti->npull; i++)
		if (ti->pull[i].once == DS_ONCE_EXACTLY)
			ti->exactly = 1;
	if (ti->exactly && ti->journal == NULL)
		ds_dieusage(co, "exactly-once needs --journal");
	if (!ti->exactly && ti->journal != NULL)
		ds_dieusage(co, "--journal needs --once exactly or an exactly "
		    "--pull");
	if (ti->name != NULL) {
		snprintf(ctx, sizeof(ctx), "name=%s", ti->name);
		ds_log_context(ctx);
	} else {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)ti->id);
		if ((ti->name = strdup(buf)) == NULL)
			nomem();
	}
}

static void
on_lost(void *arg, int why)
{
	struct ds_inst *ti = arg;

	switch (why) {
	case DS_LEASE_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced: the master runs a newer epoch "
		    "than %u", (unsigned)ti->epoch);
	case DS_LEASE_STOP:
		ds_info("the master stops the job");
		exit(DS_EX_OK);
	default:
		ds_die(DS_EX_TEMPFAIL, "lease lost: no answer from the master "
		    "for %llu ms", (unsigned long long)ti->keepalive_ms);
	}
}

void
ds_inst_poll(void *arg)
{
	struct ds_inst *ti = arg;

	if (ti->lease != NULL)
		ds_lease_poll(ti->lease);
}

void
ds_inst_valid(struct ds_inst *ti)
{
	if (ti->lease != NULL && !ds_lease_valid(ti->lease))
		ds_die(DS_EX_TEMPFAIL, "lease lost: no answer from the master "
		    "for %llu ms", (unsigned long long)ti->keepalive_ms);
}

static void
counters(struct ds_inst *ti)
{
	uint64_t fenced = 0, dup = 0;
	size_t i;

	if (ti->has_oq)
		fenced += ti->oq.fenced;
	for (i = 0; i < ti->npull; i++) {
		if (ti->pull[i].inlet == NULL)
			continue;
		fenced += ds_inlet_fenced(ti->pull[i].inlet);
		dup += ds_inlet_dups(ti->pull[i].inlet);
	}
	ds_lease_count(ti->lease, DS_CNT_IN, ti->cnt_in);
	ds_lease_count(ti->lease, DS_CNT_OUT, ti->cnt_out);
	ds_lease_count(ti->lease, DS_CNT_FENCED, fenced);
	ds_lease_count(ti->lease, DS_CNT_DUP, dup);
	ds_lease_count(ti->lease, DS_CNT_RETAINED,
	    ti->has_oq ? ti->oq.tuples : 0);
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ds_inst *ti = w->data;

	(void)loop;
	(void)revents;
	if (ti->finishing)
		return;
	if (ti->tick != NULL)
		ti->tick(ti->arg);
	if (ti->wake) {
		/* Once per loop round: one reply for all output of the round. */
		ti->wake = 0;
		if (ti->srv != NULL)
			ds_pull_srv_wake(ti->srv);
	}
	if (ti->finishing)
		return;
	if (ti->lease != NULL)
		counters(ti);
	if (ti->has_oq && ti->os->ended && ds_outq_done(&ti->oq) &&
	    ti->jlen == 0)
		ds_inst_finish(ti);
}

void
ds_inst_start(struct ds_inst *ti, struct ev_loop *loop, void (*tick)(void *),
    int (*on_bundle)(void *, struct ds_inst_pull *, const struct ds_bundle *),
    void *arg)
{
	ti->loop = loop;
	ti->tick = tick;
	ti->on_bundle = on_bundle;
	ti->arg = arg;
	ds_pull_keep_memory();
	if (ti->master != NULL && (ti->lease = ds_lease_open(loop, ti->master,
	    ti->id, ti->epoch, ti->keepalive_ms, on_lost, ti)) == NULL)
		ds_diesys(DS_EX_UNAVAILABLE, "unable to reach the master at %s",
		    ti->master);
	ev_prepare_init(&ti->prep, prepare_cb);
	ti->prep.data = ti;
	ev_prepare_start(loop, &ti->prep);
}

/* The PULL frame of a request, decoded into a new ds_pull_msg. */
static struct ds_pull_msg *
decode_pull(const unsigned char *msg, size_t len)
{
	struct ds_pull_msg *m;
	struct ds_frame f;
	const char *why = "no frame";
	size_t off = 0;

	memset(&f, 0, sizeof(f));
	if (ds_msg_next(msg, len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_PULL) {
		if (f.type != DS_FRAME_PULL)
			why = "not a PULL";
		goto bad;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		nomem();
	if (ds_msg_pull_get(m, f.flags, f.payload, f.len, &why) == 0)
		return m;
	if (errno == ENOMEM)
		nomem();
	free(m);
bad:
	ds_warn("ignoring a bad request: %s", why);
	return NULL;
}

/* Retained bundles go into the reply by reference: one copy, in pull.c. */
static int
ref_frame(void *arg, const void *p, size_t len)
{
	struct ds_inst *ti = arg;

	ti->refbytes += len;
	return ds_pull_srv_ref(ti->srv, p, len);
}

static int
serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct ds_inst *ti = arg;
	int rc;

	if (req->user == NULL &&
	    (req->user = decode_pull(req->msg, req->len)) == NULL)
		return -1;
	ds_inst_valid(ti);
	ti->refbytes = 0;
	if ((rc = ds_outq_serve_ref(&ti->oq, req->user, req->final, reply,
	    ref_frame, ti)) == -1)
		nomem();
	ds_debug("pull from %llu epoch %u: %s, %zu bytes",
	    (unsigned long long)((struct ds_pull_msg *)req->user)->consumer,
	    (unsigned)((struct ds_pull_msg *)req->user)->epoch,
	    rc ? "answered" : "parked", reply->len + ti->refbytes);
	return rc;
}

static void
forget(void *arg, struct ds_pull_req *req)
{
	struct ds_pull_msg *m = req->user;

	(void)arg;
	if (m != NULL) {
		free(m->pos);
		free(m);
	}
	req->user = NULL;
}

/*
 * The wait of a PULL.  Once the output has ended, a request whose ack for
 * us is behind waits SHORT_WAIT only: the consumer acks what it got after
 * this request left, and if its ack comes too soon to replace the request
 * (see inlet.c's nudge), nothing else would answer it before its whole
 * wait (as ds-router's wait_of).
 */
static double
wait_of(void *arg, const unsigned char *msg, size_t len)
{
	struct ds_inst *ti = arg;
	struct ds_pull_msg *m;
	double wait;

	if ((m = decode_pull(msg, len)) == NULL)
		return 0;
	wait = m->wait_ms / 1000.0;
	if (ti->has_oq && ti->os->ended && wait > SHORT_WAIT &&
	    ds_outq_lagging(&ti->oq, m))
		wait = SHORT_WAIT;
	free(m->pos);
	free(m);
	return wait;
}

static const struct ds_pull_srv_ops srv_ops = { serve, forget, wait_of };

void
ds_inst_listen(struct ds_inst *ti, uint64_t first)
{
	size_t i;

	if (ds_outq_init(&ti->oq, ti->cons, ti->ncons) == -1 ||
	    ds_outq_add(&ti->oq, ti->id, ti->epoch, first, ti->exactly) == -1)
		nomem();
	ti->os = ds_outq_stream(&ti->oq, ti->id);
	ti->has_oq = 1;
	for (i = 0; i < ti->npart; i++)
		if (ds_outq_part(&ti->oq, ti->part[i].dist, ti->part[i].ids,
		    ti->part[i].n) == -1)
			nomem();	/* the ids were checked */
	if ((ti->srv = ds_pull_srv_open(ti->loop, ti->listen, &srv_ops,
	    ti)) == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to listen at %s: %s",
		    ti->listen, ds_pull_strerror(errno));
}

static int
on_inlet_bundle(void *arg, struct ds_inlet *in, const struct ds_bundle *b)
{
	struct ds_inst_pull *pl = arg;
	struct ds_inst *ti = pl->ti;

	(void)in;
	ti->cnt_in += b->count;
	if (ti->on_bundle == NULL)
		return 0;
	return ti->on_bundle(ti->arg, pl, b);
}

static void
on_inlet_event(void *arg, struct ds_inlet *in, int ev, const char *msg)
{
	struct ds_inst_pull *pl = arg;

	switch (ev) {
	case DS_INLET_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced by %s: a newer epoch than %u "
		    "of this instance pulls there", pl->addr,
		    (unsigned)pl->ti->epoch);
	case DS_INLET_BAD:
		ds_warn("%s: %s", pl->addr, msg ? msg : "bad reply");
		break;
	case DS_INLET_PROGRESS:
		if (ds_log_max >= DS_LOG_DEBUG) {
			const struct ds_inlet_prod *ps;
			size_t i, n = ds_inlet_prods(in, &ps);

			for (i = 0; i < n; i++)
				ds_debug("%s: producer %llu epoch %u: at %llu%s",
				    pl->addr, (unsigned long long)ps[i].producer,
				    (unsigned)ps[i].epoch,
				    (unsigned long long)ps[i].recv,
				    ps[i].ended ? ", ended" : "");
		}
		break;
	default:
		break;
	}
}

static const struct ds_inlet_ops inlet_ops = {
	on_inlet_bundle, on_inlet_event
};

void
ds_inst_inlets(struct ds_inst *ti, size_t maxtuple, int restarted)
{
	struct ds_inlet_cfg cfg;
	struct ds_inst_pull *pl;
	size_t i;

	ti->nfront = 0;
	for (i = 0; i < ti->npull; i++) {
		pl = &ti->pull[i];
		pl->base = ti->nfront;
		ti->nfront += pl->nprod;
		pl->ti = ti;
		memset(&cfg, 0, sizeof(cfg));
		cfg.addr = pl->addr;
		cfg.producers = pl->prod;
		cfg.nproducers = pl->nprod;
		cfg.consumer = ti->id;
		cfg.epoch = ti->epoch;
		cfg.once = pl->once;
		cfg.max_tuples = PULL_TUPLES;
		cfg.max_bytes = PULL_BYTES;
		cfg.wait_ms = PULL_WAIT;
		cfg.maxtuple = maxtuple;
		cfg.restarted = restarted ? DS_INLET_RESTARTED : 0;
		if ((pl->inlet = ds_inlet_open(ti->loop, &cfg, &inlet_ops,
		    pl)) == NULL)
			ds_die(DS_EX_UNAVAILABLE, "unable to pull from %s: %s",
			    pl->addr, ds_pull_strerror(errno));
	}
	if ((ti->front = calloc(ti->nfront ? ti->nfront : 1,
	    sizeof(*ti->front))) == NULL)
		nomem();
}

void
ds_inst_restore(struct ds_inst *ti, const struct ds_mark *m)
{
	const struct ds_mark_pos *p;
	struct ds_inst_pull *pl;
	size_t i, j, k;

	for (i = 0; i < m->n; i++) {
		p = &m->pos[i];
		for (j = 0; j < ti->npull; j++) {
			pl = &ti->pull[j];
			for (k = 0; k < pl->nprod; k++)
				if (pl->prod[k] == p->producer)
					break;
			if (k == pl->nprod)
				continue;
			if (ds_inlet_restore(pl->inlet, p->producer, p->epoch,
			    p->seq, !!(p->flags & DS_PROD_ENDED), p->end) == -1)
				nomem();
			break;
		}
		if (j == ti->npull)
			ds_warn("state log: producer %llu is no longer an "
			    "input: its position is ignored",
			    (unsigned long long)p->producer);
	}
}

void
ds_inst_go(struct ds_inst *ti)
{
	size_t i, k;

	for (i = 0; i < ti->npull; i++) {
		for (k = 0; k < ti->nended; k++)
			ds_inlet_end(ti->pull[i].inlet, ti->ended[k]);
		ds_inlet_start(ti->pull[i].inlet);
	}
}

void
ds_inst_append(struct ds_inst *ti, const void *p, size_t len)
{
	const unsigned char *q = p, *end = q + len, *pay;
	uint64_t first;
	uint32_t n, count;

	while ((size_t)(end - q) >= DS_FRAME_HDR) {
		n = ds_get_le32(q + 8);
		pay = q + DS_FRAME_HDR;
		DS_ASSERT(ds_get_le16(q + 4) == DS_FRAME_BUNDLE &&
		    (size_t)(end - pay) >= n && n >= DS_BUNDLE_HDR);
		count = ds_get_le32(pay + 12);
		if (count > 0) {
			/* Tuples: tflags:u8 seq:u64 ...; seqs are consecutive. */
			first = ds_get_le64(pay + DS_BUNDLE_HDR + 1);
			if (ds_outq_append(&ti->oq, ti->os, q, DS_FRAME_HDR + n,
			    first,
			    first + count - 1) == -1) {
				if (errno == ENOMEM)
					nomem();
				ds_diesys(DS_EX_SOFTWARE, "unable to retain "
				    "output seqs %llu..%llu",
				    (unsigned long long)first,
				    (unsigned long long)(first + count - 1));
			}
			ti->cnt_out += count;
		}
		q = pay + n;
	}
	ti->wake = 1;
}

int
ds_inst_full(const struct ds_inst *ti)
{
	return (ti->has_oq && ti->oq.bytes > DS_INST_OUTMAX) ||
	    ti->jbytes > DS_INST_OUTMAX || ti->jfull;
}

void
ds_inst_pause(struct ds_inst *ti, int on)
{
	size_t i;

	if (on == ti->paused)
		return;
	ti->paused = on;
	for (i = 0; i < ti->npull; i++) {
		if (on)
			ds_inlet_stop(ti->pull[i].inlet);
		else
			ds_inlet_start(ti->pull[i].inlet);
	}
}

int
ds_inst_ended(const struct ds_inst *ti)
{
	size_t i;

	for (i = 0; i < ti->npull; i++)
		if (!ds_inlet_ended(ti->pull[i].inlet))
			return 0;
	return 1;
}

struct ds_mark_pos *
ds_inst_frontier(struct ds_inst *ti, const struct ds_bundle *cur, size_t *n)
{
	const struct ds_inlet_prod *ps;
	struct ds_mark_pos *f;
	struct ds_inst_pull *pl;
	uint64_t last;
	size_t i, j, np;

	for (i = 0; i < ti->npull; i++) {
		pl = &ti->pull[i];
		np = ds_inlet_prods(pl->inlet, &ps);
		DS_ASSERT(np == pl->nprod);
		for (j = 0; j < np; j++) {
			f = &ti->front[pl->base + j];
			f->producer = ps[j].producer;
			f->epoch = ps[j].epoch;
			f->flags = ps[j].ended ? DS_PROD_ENDED : 0;
			f->seq = ps[j].recv;
			f->end = ps[j].end;
			if (cur == NULL || cur->count == 0 ||
			    cur->producer != f->producer)
				continue;
			last = cur->t[cur->count - 1].seq;
			if (cur->epoch != f->epoch || last > f->seq) {
				f->epoch = cur->epoch;
				f->seq = last;
			}
		}
	}
	*n = ti->nfront;
	return ti->front;
}

void
ds_inst_ack(struct ds_inst *ti, const struct ds_mark_pos *f, size_t n)
{
	struct ds_inst_pull *pl;
	size_t i, j;

	DS_ASSERT(n == ti->nfront);
	for (i = 0; i < ti->npull; i++) {
		pl = &ti->pull[i];
		for (j = 0; j < pl->nprod; j++)
			ds_inlet_ack(pl->inlet, f[pl->base + j].producer,
			    f[pl->base + j].epoch,
			    f[pl->base + j].seq);
	}
}

void
ds_inst_ack_all(struct ds_inst *ti)
{
	size_t i;

	for (i = 0; i < ti->npull; i++)
		ds_inlet_ack_all(ti->pull[i].inlet);
}

void
ds_inst_end(struct ds_inst *ti)
{
	ds_outq_end(&ti->oq, ti->os);
	if (ti->srv != NULL)
		ds_pull_srv_wake(ti->srv);
}

/* All acks delivered upstream (or given up on): leave the loop. */
static int
synced(const struct ds_inst *ti)
{
	size_t i;

	for (i = 0; i < ti->npull; i++)
		if (ti->pull[i].inlet != NULL &&
		    !ds_inlet_synced(ti->pull[i].inlet))
			return 0;
	return 1;
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_inst *ti = w->data;

	(void)revents;
	if (synced(ti) || ev_now(loop) >= ti->grace_until) {
		ev_timer_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
	}
}

void
ds_inst_finish(struct ds_inst *ti)
{
	if (ti->finishing)
		return;
	ti->finishing = 1;
	ds_inst_valid(ti);
	ds_info("done: %llu tuples in, %llu out",
	    (unsigned long long)ti->cnt_in, (unsigned long long)ti->cnt_out);
	if (ti->lease != NULL) {
		counters(ti);
		ds_lease_done(ti->lease);
	}
	/*
	 * Let the last replies and the DONE beat leave before exit, and keep
	 * the inlets pulling until the producers have seen our last acks
	 * (they need them to finish): the request out now may be parked
	 * upstream, and the inlet re-sends it with the new acks.  Give up
	 * after two long-poll waits.
	 */
	ti->grace_until = ev_now(ti->loop) + GRACE + 2 * PULL_WAIT / 1000.0;
	ev_timer_init(&ti->grace, grace_cb, GRACE, 0.01);
	ti->grace.data = ti;
	ev_timer_start(ti->loop, &ti->grace);
}

char *
ds_inst_slog_path(const struct ds_inst *ti)
{
	char *p;
	size_t n;

	if (ti->state == NULL)
		return NULL;
	n = strlen(ti->state) + strlen(ti->name) + sizeof("/.slog");
	if ((p = malloc(n)) == NULL)
		nomem();
	snprintf(p, n, "%s/%s.slog", ti->state, ti->name);
	return p;
}

void
ds_inst_slog_open(struct ds_inst *ti, struct ds_slog *sl,
    int (*on_delta)(void *, const void *, size_t, const void *, size_t),
    void *arg, struct ds_mark *m)
{
	char *path = ds_inst_slog_path(ti);
	int code = DS_EX_IOERR;

	DS_ASSERT(path != NULL);
	memset(m, 0, sizeof(*m));
	if (ds_slog_open(sl, path, ti->once == DS_ONCE_MOST ? DS_SLOG_LAST :
	    DS_SLOG_ACKED, on_delta, arg, m, &code) == -1)
		ds_die(code, "%s", sl->err);
	if (sl->torn)
		ds_warn("%s", sl->err);
	if (m->mark != 0)
		ds_info("%s: recovered mark %llu: output seq %llu", path,
		    (unsigned long long)m->mark,
		    (unsigned long long)m->outseq);
	free(path);
}

void
ds_inst_slog_flush(struct ds_inst *ti, struct ds_slog *sl)
{
	ds_inst_valid(ti);
	if (ds_slog_flush(sl) == -1)
		ds_die(DS_EX_IOERR, "%s", sl->err);
}

/*
 * Exactly-once: ds-journal.
 */

#define JTIMEOUT	5.0	/* s: an answer later than this is lost */
#define JFULL_RETRY	0.2	/* s between writes refused as FULL */

static struct ds_inst_junit *
junit_at(struct ds_inst *ti, size_t i)
{
	return &ti->ju[(ti->jhead + i) % ti->jcap];
}

/* Re-stamp the BUNDLE frame f with epoch into out (seqs unchanged). */
static void
restamp(struct ds_buf *out, const struct ds_frame *f, uint64_t producer,
    uint32_t epoch, uint64_t *first, const char **why)
{
	struct ds_bundle b = DS_BUNDLE_INIT;
	struct ds_bundle_writer w;
	uint32_t i;

	if (ds_bundle_decode(&b, f->payload, f->len, SIZE_MAX, why) == -1)
		ds_die(DS_EX_DATAERR, "journal recovery: a bad output bundle: "
		    "%s", *why != NULL ? *why : "out of memory");
	if (b.producer != producer)
		ds_die(DS_EX_DATAERR, "journal recovery: an output bundle of "
		    "producer %llu, not ours", (unsigned long long)b.producer);
	if (b.count > 0 && (*first == 0 || b.t[0].seq < *first))
		*first = b.t[0].seq;
	if (ds_bundle_begin(&w, out, producer, epoch) == -1)
		nomem();
	for (i = 0; i < b.count; i++)
		if (ds_bundle_add(&w, &b.t[i]) == -1)
			nomem();
	if (ds_bundle_end(&w) == -1)
		nomem();
	ds_bundle_free(&b);
}

void
ds_inst_jrecover(struct ds_inst *ti, int (*on_delta)(void *, const void *,
    size_t, const void *, size_t), int (*on_timer)(void *, const void *,
    size_t, uint64_t), void *arg, struct ds_inst_jrec *r)
{
	struct ds_jread rd;
	struct ds_rec d;
	struct ds_mark m;
	struct ds_frame f;
	struct timespec ts = { 0, 50000000 };
	const char *why;
	double waited = 0, limit = ti->keepalive_ms / 1000.0;
	int k;

	memset(r, 0, sizeof(*r));
	memset(&rd, 0, sizeof(rd));
	while (ds_jread_open(&rd, ti->journal, ti->id, ti->epoch, 2.0) == -1) {
		int e = errno;

		if (e == EPERM)
			ds_die(DS_EX_TEMPFAIL, "fenced by the journal: it has "
			    "epoch %u of this instance, newer than %u",
			    (unsigned)rd.epoch, (unsigned)ti->epoch);
		if (e == ENOMEM)
			nomem();
		if (e == EBADMSG || waited >= limit)
			ds_die(DS_EX_UNAVAILABLE, "unable to recover from the "
			    "journal at %s: %s", ti->journal,
			    ds_pull_strerror(e));
		ds_jread_close(&rd);
		memset(&rd, 0, sizeof(rd));
		nanosleep(&ts, NULL);
		waited += 0.05 + (e == ETIMEDOUT ? 2.0 : 0);
	}
	while ((k = ds_jread_next(&rd, &f)) == 1) {
		why = NULL;
		switch (f.type) {
		case DS_FRAME_DELTA:
		case DS_FRAME_MARK:
		case DS_FRAME_ACKED:
			memset(&m, 0, sizeof(m));
			if (ds_rec_get(&f, &d, &m, &why) == -1)
				ds_die(DS_EX_DATAERR, "journal recovery: a bad "
				    "record: %s", why);
			if (f.type == DS_FRAME_DELTA) {
				if (on_delta(arg, d.key, d.keylen, d.val,
				    d.vallen) != 0)
					ds_die(DS_EX_SOFTWARE, "journal "
					    "recovery: applying a state change "
					    "failed");
			} else if (f.type == DS_FRAME_MARK) {
				ds_mark_free(&r->mark);
				r->mark = m;
				if (m.mark > r->maxmark)
					r->maxmark = m.mark;
			} else {
				r->acked = d.acked;
				if (d.acked > r->maxmark)
					r->maxmark = d.acked;
			}
			break;
		case DS_FRAME_TIMER:
			if (ds_rec_get(&f, &d, NULL, &why) == -1)
				ds_die(DS_EX_DATAERR, "journal recovery: a bad "
				    "record: %s", why);
			if (on_timer == NULL)
				ds_die(DS_EX_DATAERR, "journal recovery: a "
				    "TIMER record for an instance without "
				    "timers");
			if (on_timer(arg, d.key, d.keylen, d.when) != 0)
				nomem();
			break;
		case DS_FRAME_BUNDLE:
			restamp(&r->out, &f, ti->id, ti->epoch, &r->outfirst,
			    &why);
			break;
		default:
			ds_die(DS_EX_DATAERR, "journal recovery: an unknown "
			    "record type %u", (unsigned)f.type);
		}
	}
	if (k == -1)
		ds_die(errno == EBADMSG ? DS_EX_DATAERR : DS_EX_UNAVAILABLE,
		    "journal recovery from %s failed: %s", ti->journal,
		    ds_pull_strerror(errno));
	ds_jread_close(&rd);
	if (r->mark.mark != 0)
		ds_info("journal: recovered mark %llu: output seq %llu, %zu "
		    "bytes of outputs not acked",
		    (unsigned long long)r->mark.mark,
		    (unsigned long long)r->mark.outseq, r->out.len);
}

void
ds_inst_jrec_free(struct ds_inst_jrec *r)
{
	ds_mark_free(&r->mark);
	ds_buf_free(&r->out);
	memset(r, 0, sizeof(*r));
}

static void jsubmit(struct ds_inst *, size_t);

static void
jretry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_inst *ti = w->data;
	size_t i;

	(void)loop;
	(void)revents;
	ti->jfull = 0;
	ti->jnext = 0;
	for (i = 0; i < ti->jlen; i++)
		jsubmit(ti, i);
}

static void
jdone(void *arg, uint32_t status, uint32_t epoch)
{
	struct ds_inst *ti = arg;
	struct ds_inst_junit *u, done;

	ti->jsent--;
	switch (status) {
	case DS_J_OK:
		if (ti->jfull || ti->jnext != 0)
			ds_die(DS_EX_SOFTWARE, "journal: a unit was made "
			    "durable after one before it was refused");
		u = junit_at(ti, 0);
		done = *u;
		ti->jbytes -= u->recs.len;
		ti->jhead = (ti->jhead + 1) % ti->jcap;
		ti->jlen--;
		ds_buf_free(&done.recs);
		if (done.done != NULL)
			done.done(done.arg, done.token);
		break;
	case DS_J_FULL:
		if (!ti->jfull)
			ds_warn("journal: short of disk space, writes "
			    "refused: holding input until it has room");
		ti->jfull = 1;
		ti->jnext++;
		break;
	case DS_J_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced by the journal: it has epoch %u "
		    "of this instance, newer than %u", (unsigned)epoch,
		    (unsigned)ti->epoch);
	case DS_JCLIENT_LOST:
		ds_die(DS_EX_TEMPFAIL, "journal: no answer from %s for %.0f "
		    "s: stopping, the restart recovers", ti->journal,
		    JTIMEOUT);
	default:
		ds_die(DS_EX_SOFTWARE, "journal: a unit was refused as "
		    "malformed (status %u)", (unsigned)status);
	}
	if (ti->jfull && ti->jsent == 0 && !ev_is_active(&ti->jretry)) {
		ev_timer_set(&ti->jretry, JFULL_RETRY, 0);
		ev_timer_start(ti->loop, &ti->jretry);
	}
}

static void
jsubmit(struct ds_inst *ti, size_t i)
{
	struct ds_inst_junit *u = junit_at(ti, i);

	if (ds_jclient_write(ti->jc, u->recs.p, u->recs.len, u->n, jdone,
	    ti) == -1) {
		if (errno == ENOMEM)
			nomem();
		ds_die(DS_EX_SOFTWARE, "journal: a unit of %zu bytes is too "
		    "big to write", u->recs.len);
	}
	ti->jsent++;
}

void
ds_inst_jopen(struct ds_inst *ti)
{
	if ((ti->jc = ds_jclient_open(ti->loop, ti->journal, ti->id,
	    ti->epoch, JTIMEOUT)) == NULL)
		ds_diesys(DS_EX_UNAVAILABLE, "unable to reach the journal at "
		    "%s", ti->journal);
	ev_timer_init(&ti->jretry, jretry_cb, 0, 0);
	ti->jretry.data = ti;
}

void
ds_inst_jwrite(struct ds_inst *ti, const void *recs, size_t len, uint32_t n,
    void (*done)(void *, uint64_t), void *arg, uint64_t token)
{
	struct ds_buf b = DS_BUF_INIT;

	if (ds_buf_add(&b, recs, len) == -1)
		nomem();
	ds_inst_jwrite_buf(ti, &b, n, done, arg, token);
}

void
ds_inst_jwrite_buf(struct ds_inst *ti, struct ds_buf *recs, uint32_t n,
    void (*done)(void *, uint64_t), void *arg, uint64_t token)
{
	struct ds_inst_junit *nu, *u;
	size_t ncap, i, len = recs->len;

	DS_ASSERT(ti->jc != NULL);
	if (ti->jlen == ti->jcap) {
		ncap = ti->jcap ? ti->jcap * 2 : 64;
		if ((nu = calloc(ncap, sizeof(*nu))) == NULL)
			nomem();
		for (i = 0; i < ti->jlen; i++)
			nu[i] = *junit_at(ti, i);
		free(ti->ju);
		ti->ju = nu;
		ti->jcap = ncap;
		ti->jhead = 0;
	}
	u = &ti->ju[(ti->jhead + ti->jlen) % ti->jcap];
	memset(u, 0, sizeof(*u));
	u->recs = *recs;		/* moved */
	memset(recs, 0, sizeof(*recs));
	u->n = n;
	u->done = done;
	u->arg = arg;
	u->token = token;
	ti->jlen++;
	ti->jbytes += len;
	if (!ti->jfull)
		jsubmit(ti, ti->jlen - 1);
}

size_t
ds_inst_jpending(const struct ds_inst *ti)
{
	return ti->jlen;
}

uint64_t
ds_inst_minack(const struct ds_inst *ti)
{
	return ds_outq_minack(&ti->oq, ti->os);
}
