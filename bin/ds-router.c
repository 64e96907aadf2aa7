/*
 * ds-router: the partitioner of one topology edge.  It pulls the streams
 * of the upstream producers (one inlet per --pull) and serves d consumers
 * at --listen; each input bundle becomes at most one sub-bundle per
 * consumer (same producer, epoch and seqs: the router is transparent), kept
 * in that consumer's queue until the consumer acks it.  The router keeps
 * no state: after a restart it pulls again from the oldest retained
 * upstream and the consumers' from/ack vectors tell it what to skip.
 * Upstream is acked for a producer only up to the lowest ack of all
 * consumers.  When the queues hold more than --buffer bytes it stops
 * pulling; it starts again below half.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>
#include "ds.h"
#include "net/inlet.h"
#include "net/lease.h"
#include "core/msg.h"
#include "net/outq.h"
#include "core/part.h"
#include "net/pull.h"
#include "topo/topo.h"

#define USAGE \
	"ds-router [-qv] [--buffer SIZE] [--ended IDS] [--epoch N]\n" \
	"          [--keepalive MS] [--master ADDR] [--max-tuple SIZE] [--name NAME]\n" \
	"          [--notify-fd FD] [--once MODE] [--state DIR]\n" \
	"          --consumers IDS --dist DIST --id N --listen ADDR\n" \
	"          --pull MODE:IDS@ADDR ..."

#define MAXCONS		1024		/* most consumers (parallel) */
#define PULL_WAIT_MS	200		/* our long polls upstream */
#define PULL_BYTES	(4u << 20)	/* most bytes asked per pull */
#define PULL_TUPLES	65536
#define SHORT_WAIT	0.02		/* s, see wait_of */
#define LINGER		(2.0 * PULL_WAIT_MS / 1000 + 0.3)

enum {
	OPT_BUFFER = 1, OPT_CONSUMERS, OPT_DIST, OPT_EPOCH, OPT_ID,
	OPT_KEEPALIVE, OPT_LISTEN, OPT_MASTER, OPT_MAXTUPLE, OPT_NAME,
	OPT_ONCE, OPT_PULL, OPT_STATE, OPT_ENDED
};

/* One sub-bundle queued for one consumer: a whole BUNDLE frame. */
struct item {
	struct item	*next;
	size_t		 prod;		/* index in r.prod */
	uint64_t	 first, last;
	uint32_t	 count;
	size_t		 len;
	unsigned char	*frame;		/* owned: a writer's buffer */
};

/* What the router knows of consumer j about producer p. */
struct cp {
	uint64_t	 acked;		/* highest ack from j */
	int		 told_end;	/* j was sent ENDED */
	uint64_t	 newfrom;	/* where DS_FROM_NEW started */
};

struct cons {
	uint64_t	 id;
	uint32_t	 epoch;		/* highest seen; 0: none yet */
	int		 pulled;	/* sent at least one valid PULL */
	struct item	*head, *tail;
	struct cp	*cp;		/* one per producer */
};

struct prod {
	uint64_t	 id;
	size_t		 in;		/* index in r.in */
	uint32_t	 epoch;
	uint64_t	 routed;	/* every seq <= routed is routed */
	uint64_t	 upack;		/* last ack given upstream */
};

struct edge {
	enum ds_once	 once;
	char		*addr;
	uint64_t	*ids;
	size_t		 nids;
	struct ds_inlet	*inlet;
};

static struct router {
	struct ev_loop		*loop;
	enum ds_dist		 dist;
	struct prod		*prod;		/* sorted by id */
	size_t			 nprod;
	struct cons		*cons;
	size_t			 ncons;
	struct edge		*in;
	size_t			 nin;
	struct ds_pull_srv	*srv;
	struct ds_lease		*lease;
	size_t			 bytes, buffer;
	uint64_t		 tuples;	/* queued */
	int			 stopped;	/* inlets stopped: buffer full */
	int			 dirty;		/* offer parked pulls again */
	int			 done;
	int			 ended;		/* every upstream ended */
	struct ds_bundle_writer	*w;		/* one per consumer */
	struct ds_buf		*wb;
	struct ds_pos		*pos;		/* reply vector */
	uint64_t		*gap;		/* per producer, see serve */
	struct item	       **pick;
	size_t			 npick, cappick;
	uint64_t		 cnt[DS_CNT_N];
	ev_prepare		 prep_w;
	ev_timer		 linger_w;
	ev_tstamp		 linger_until;
	ev_signal		 term_w, int_w;
} r;

static void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct prod *
prod_find(uint64_t id)
{
	size_t lo = 0, hi = r.nprod, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r.prod[mid].id == id)
			return &r.prod[mid];
		if (r.prod[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct cons *
cons_find(uint64_t id)
{
	size_t j;

	for (j = 0; j < r.ncons; j++)
		if (r.cons[j].id == id)
			return &r.cons[j];
	return NULL;
}

/* Comma-separated decimal ids into a malloc'ed array; dies with 64. */
static uint64_t *
parse_ids(const struct ds_common *co, const char *opt, const char *s,
    size_t *n)
{
	uint64_t *v, *sorted;
	char *dup, *tok, *save;
	size_t i, cap = 1;
	const char *p;

	for (p = s; *p != '\0'; p++)
		cap += *p == ',';
	if ((v = calloc(cap, sizeof(*v))) == NULL || (dup = strdup(s)) == NULL)
		nomem();
	*n = 0;
	for (tok = strtok_r(dup, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		v[(*n)++] = ds_opt_u64(co, opt, tok, 0, UINT64_MAX);
	if (*n == 0 || *n != cap)
		ds_dieusage(co, "%s: bad id list '%s'", opt, s);
	free(dup);
	/* Keep the order given (it numbers the consumers). */
	if ((sorted = calloc(*n, sizeof(*sorted))) == NULL)
		nomem();
	memcpy(sorted, v, *n * sizeof(*v));
	qsort(sorted, *n, sizeof(*sorted), cmp_u64);
	for (i = 0; i + 1 < *n; i++)
		if (sorted[i] == sorted[i + 1])
			ds_dieusage(co, "%s: id %llu given twice", opt,
			    (unsigned long long)sorted[i]);
	free(sorted);
	return v;
}

static enum ds_once
parse_once(const struct ds_common *co, const char *opt, const char *s,
    size_t n)
{
	if (n == 4 && strncmp(s, "most", 4) == 0)
		return DS_ONCE_MOST;
	if (n == 5 && strncmp(s, "least", 5) == 0)
		return DS_ONCE_LEAST;
	if (n == 7 && strncmp(s, "exactly", 7) == 0)
		return DS_ONCE_EXACTLY;
	ds_dieusage(co, "%s: mode must be most, least or exactly: '%.*s'",
	    opt, (int)n, s);
}

/* MODE:IDS@ADDR, split at the first '@'. */
static void
parse_pull(const struct ds_common *co, const char *s, struct edge *e)
{
	const char *colon, *at;
	char *ids;

	at = strchr(s, '@');
	colon = strchr(s, ':');
	if (at == NULL || colon == NULL || colon > at || at[1] == '\0')
		ds_dieusage(co, "--pull: expected MODE:IDS@ADDR: '%s'", s);
	e->once = parse_once(co, "--pull", s, (size_t)(colon - s));
	if ((ids = strndup(colon + 1, (size_t)(at - colon - 1))) == NULL ||
	    (e->addr = strdup(at + 1)) == NULL)
		nomem();
	e->ids = parse_ids(co, "--pull", ids, &e->nids);
	free(ids);
}

static void
item_free(struct item *it)
{
	r.bytes -= it->len;
	r.tuples -= it->count;
	free(it->frame);
	free(it);
}

/*
 * Producer pr restarted.  At least once its new epoch's seqs may stand
 * for other tuples: what the consumers acked of the old one says nothing
 * of them, and acking that upstream would free tuples they never got.
 */
static void
prod_epoch(struct prod *pr, uint32_t epoch)
{
	size_t j, p = (size_t)(pr - r.prod);

	pr->epoch = epoch;
	if (r.in[pr->in].once != DS_ONCE_LEAST)
		return;
	pr->routed = pr->upack = 0;
	for (j = 0; j < r.ncons; j++)
		memset(&r.cons[j].cp[p], 0, sizeof(r.cons[j].cp[p]));
}

/*
 * Close writer j into an item at the tail of its consumer's queue.  The
 * item takes the writer's buffer (no copy); on_bundle gives the writer a
 * new one, sized for the whole input bundle.
 */
static void
flush_writer(size_t j, size_t p, uint64_t first, uint64_t last)
{
	struct cons *c = &r.cons[j];
	struct item *it;
	unsigned char *fp;
	uint32_t count = r.w[j].count;

	if (ds_bundle_end(&r.w[j]) == -1)
		ds_diesys(DS_EX_SOFTWARE, "unable to re-encode a bundle");
	if (count == 0)
		return;
	if ((it = malloc(sizeof(*it))) == NULL)
		nomem();
	it->next = NULL;
	it->prod = p;
	it->first = first;
	it->last = last;
	it->count = count;
	it->frame = ds_buf_detach(&r.wb[j], &it->len);
	/* Give back the room reserved for the whole input bundle. */
	if ((fp = realloc(it->frame, it->len)) != NULL)
		it->frame = fp;
	if (c->tail != NULL)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	r.bytes += it->len;
	r.tuples += count;
}

static int
on_bundle(void *arg, struct ds_inlet *in, const struct ds_bundle *b)
{
	struct prod *pr;
	uint64_t *first, *last;
	size_t j, p, lo, hi, need;
	uint32_t i;

	(void)arg;
	(void)in;
	if ((pr = prod_find(b->producer)) == NULL) {
		ds_warn("dropped a bundle of unknown producer %llu",
		    (unsigned long long)b->producer);
		return 0;
	}
	p = (size_t)(pr - r.prod);
	if (b->epoch > pr->epoch)
		prod_epoch(pr, b->epoch);
	if ((first = calloc(r.ncons * 2, sizeof(*first))) == NULL)
		nomem();
	last = first + r.ncons;
	/* Room for every tuple in each writer: adding never reallocates. */
	need = DS_FRAME_HDR + DS_BUNDLE_HDR;
	for (i = 0; i < b->count; i++)
		need += ds_tuple_size(&b->t[i]);
	for (j = 0; j < r.ncons; j++) {
		ds_buf_reset(&r.wb[j]);
		if (ds_buf_grow(&r.wb[j], need) == -1 ||
		    ds_bundle_begin(&r.w[j], &r.wb[j], b->producer,
		    b->epoch) == -1)
			nomem();
	}
	for (i = 0; i < b->count; i++) {
		const struct ds_tuple *t = &b->t[i];

		if (r.dist == DS_DIST_BROADCAST) {
			lo = 0;
			hi = r.ncons;
		} else {
			lo = ds_part_target(r.dist, t, b->producer,
			    r.ncons);
			hi = lo + 1;
		}
		for (j = lo; j < hi; j++) {
			/* j already acked it (before our restart). */
			if (t->seq <= r.cons[j].cp[p].acked) {
				r.cnt[DS_CNT_DUP]++;
				continue;
			}
			if (ds_bundle_add(&r.w[j], t) == -1)
				ds_diesys(DS_EX_SOFTWARE,
				    "unable to re-encode a bundle");
			if (first[j] == 0)
				first[j] = t->seq;
			last[j] = t->seq;
		}
		if (t->seq > pr->routed)
			pr->routed = t->seq;
		r.cnt[DS_CNT_BYTES_IN] += ds_tuple_size(t);
	}
	for (j = 0; j < r.ncons; j++)
		flush_writer(j, p, first[j], last[j]);
	free(first);
	r.cnt[DS_CNT_IN] += b->count;
	r.dirty = 1;
	return 0;
}

/* Fold the inlets' frontiers (scanned positions, ends) into r.prod. */
static void
sync_prods(void)
{
	const struct ds_inlet_prod *ip;
	struct prod *pr;
	size_t e, k, n;

	for (e = 0; e < r.nin; e++) {
		n = ds_inlet_prods(r.in[e].inlet, &ip);
		for (k = 0; k < n; k++) {
			if ((pr = prod_find(ip[k].producer)) == NULL)
				continue;
			if (ip[k].epoch > pr->epoch)
				prod_epoch(pr, ip[k].epoch);
			if (ip[k].recv > pr->routed)
				pr->routed = ip[k].recv;
		}
	}
}

/* Producer p ended and everything through its end is routed; *end set. */
static int
prod_ended(size_t p, uint64_t *end)
{
	const struct ds_inlet_prod *ip;
	size_t k, n;

	n = ds_inlet_prods(r.in[r.prod[p].in].inlet, &ip);
	for (k = 0; k < n; k++) {
		if (ip[k].producer != r.prod[p].id)
			continue;
		*end = ip[k].end;
		return ip[k].ended && r.prod[p].routed >= ip[k].end;
	}
	return 0;
}

static void
on_event(void *arg, struct ds_inlet *in, int ev, const char *msg)
{
	(void)arg;
	(void)in;
	switch (ev) {
	case DS_INLET_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced by an upstream server: a newer "
		    "epoch of this router exists");
	case DS_INLET_BAD:
		ds_warn("ignored a bad reply: %s", msg ? msg : "?");
		break;
	default:
		break;
	}
	r.dirty = 1;
}

/* Free j's items up to its acks; ack upstream what all consumers acked. */
static void
apply_acks(struct cons *c)
{
	struct item **ip, *it;
	struct prod *pr;
	uint64_t min;
	size_t j, p;

	for (ip = &c->head, it = NULL; *ip != NULL;) {
		it = *ip;
		if (it->last <= c->cp[it->prod].acked) {
			*ip = it->next;
			item_free(it);
			continue;
		}
		ip = &it->next;
	}
	c->tail = NULL;
	for (it = c->head; it != NULL; it = it->next)
		c->tail = it;
	for (j = 0; j < r.ncons; j++)
		if (!r.cons[j].pulled)
			return;
	for (p = 0; p < r.nprod; p++) {
		pr = &r.prod[p];
		min = UINT64_MAX;
		for (j = 0; j < r.ncons; j++)
			if (r.cons[j].cp[p].acked < min)
				min = r.cons[j].cp[p].acked;
		if (min > pr->routed)
			min = pr->routed;
		if (min > pr->upack) {
			pr->upack = min;
			/* Exactly-once acks like least: the router keeps
			 * nothing, its consumers' journals do. */
			if (r.in[pr->in].once != DS_ONCE_MOST)
				ds_inlet_ack(r.in[pr->in].inlet, pr->id,
				    pr->epoch, min);
		}
	}
}

static int
reply_status(struct ds_buf *reply, uint32_t status)
{
	struct ds_reply_msg rm;

	memset(&rm, 0, sizeof(rm));
	rm.status = status;
	rm.server = 0;
	return ds_msg_reply_put(reply, &rm) == -1 ? -1 : 1;
}

static int
decode_pull(const unsigned char *msg, size_t len, struct ds_pull_msg *m,
    const char **why)
{
	struct ds_frame f;
	size_t off = 0;

	if (ds_msg_next(msg, len, &off, &f, why) != 1)
		return -1;
	if (f.type != DS_FRAME_PULL) {
		*why = "not a PULL frame";
		return -1;
	}
	return ds_msg_pull_get(m, f.flags, f.payload, f.len, why);
}

/*
 * Answer consumer c: every queued item at or after its from (whole items,
 * up to its limits, at least one).  scanned for p is routed unless an
 * item of p was left out (then just before the first left out); ENDED
 * once p ended and nothing of p for c is left out.  A request with
 * nothing new is parked, unless its acks just finished c (every stream
 * ended, told and acked): c is then told at once that its acks arrived.
 */
static int
serve_cons(struct cons *c, const struct ds_pull_msg *m, int first, int final,
    struct ds_buf *reply, uint64_t id, uint32_t epoch)
{
	struct ds_reply_msg rm;
	struct item *it;
	uint64_t *from, end, tuples = 0, bytes = 0, maxb, maxt;
	size_t p, k;
	int news = 0, full = 0, acked = 0, complete = 1;

	if ((from = calloc(r.nprod, sizeof(*from))) == NULL)
		nomem();
	for (k = 0; k < m->n; k++) {
		struct prod *pr = prod_find(m->pos[k].producer);

		if (pr == NULL)
			continue;
		p = (size_t)(pr - r.prod);
		from[p] = m->pos[k].from;
		if (m->pos[k].ack > c->cp[p].acked) {
			c->cp[p].acked = m->pos[k].ack;
			acked = 1;
		}
		if (from[p] == DS_FROM_NEW && first) {
			/* A most-once consumer restarted: skip what is held. */
			if (pr->routed > c->cp[p].acked)
				c->cp[p].acked = pr->routed;
			c->cp[p].newfrom = pr->routed + 1;
		}
		if (from[p] == DS_FROM_NEW)
			from[p] = c->cp[p].newfrom;
	}
	c->pulled = 1;
	apply_acks(c);

	maxb = m->max_bytes ? m->max_bytes : DS_PULL_MSGMAX;
	if (maxb > DS_PULL_MSGMAX - (1u << 19))
		maxb = DS_PULL_MSGMAX - (1u << 19);
	maxt = m->max_tuples ? m->max_tuples : UINT64_MAX;
	for (p = 0; p < r.nprod; p++)
		r.gap[p] = UINT64_MAX;
	r.npick = 0;
	for (it = c->head; it != NULL; it = it->next) {
		if (it->last < from[it->prod])
			continue;
		if (!full && r.npick > 0 && (bytes + it->len > maxb ||
		    tuples + it->count > maxt))
			full = 1;
		if (full) {
			if (it->first - 1 < r.gap[it->prod])
				r.gap[it->prod] = it->first - 1;
			continue;
		}
		if (r.npick == r.cappick) {
			r.cappick = r.cappick ? r.cappick * 2 : 64;
			if ((r.pick = realloc(r.pick, r.cappick *
			    sizeof(*r.pick))) == NULL)
				nomem();
		}
		r.pick[r.npick++] = it;
		bytes += it->len;
		tuples += it->count;
	}

	memset(&rm, 0, sizeof(rm));
	rm.status = DS_PULL_OK;
	rm.server = id;
	rm.epoch = epoch;
	rm.n = (uint32_t)r.nprod;
	rm.pos = r.pos;
	for (p = 0; p < r.nprod; p++) {
		struct ds_pos *ps = &r.pos[p];

		memset(ps, 0, sizeof(*ps));
		ps->producer = r.prod[p].id;
		ps->epoch = r.prod[p].epoch;
		ps->scanned = r.prod[p].routed;
		if (r.gap[p] != UINT64_MAX)
			ps->scanned = r.gap[p];
		else if (prod_ended(p, &end)) {
			ps->flags = DS_PROD_ENDED;
			ps->end = end;
			if (!c->cp[p].told_end)
				news = 1;
		}
		if (ps->scanned >= (from[p] > 0 ? from[p] : 1))
			news = 1;
		if (!(ps->flags & DS_PROD_ENDED) || !c->cp[p].told_end ||
		    c->cp[p].acked < ps->end)
			complete = 0;
	}
	free(from);
	/* This ack finished c: answer now, see ds_outq_serve. */
	if (acked && complete)
		news = 1;
	if (r.npick == 0 && !news && !final)
		return 0;
	if (ds_msg_reply_put(reply, &rm) == -1)
		return -1;
	/* By reference: pull.c copies them once, into the message. */
	for (k = 0; k < r.npick; k++)
		if (ds_pull_srv_ref(r.srv, r.pick[k]->frame,
		    r.pick[k]->len) == -1)
			return -1;
	for (p = 0; p < r.nprod; p++)
		if (r.pos[p].flags & DS_PROD_ENDED)
			c->cp[p].told_end = 1;
	r.cnt[DS_CNT_OUT] += tuples;
	r.cnt[DS_CNT_BYTES_OUT] += bytes;
	return 1;
}

static uint64_t	 my_id;
static uint32_t	 my_epoch;

static int
serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct ds_pull_msg m;
	struct cons *c;
	const char *why = NULL;
	int rc;

	(void)arg;
	if (r.lease != NULL && !ds_lease_valid(r.lease))
		ds_die(DS_EX_TEMPFAIL, "lease expired: stopping");
	memset(&m, 0, sizeof(m));
	if (decode_pull(req->msg, req->len, &m, &why) == -1) {
		ds_warn("dropped a bad request: %s", why ? why : "?");
		return -1;
	}
	if ((c = cons_find(m.consumer)) == NULL) {
		free(m.pos);
		ds_warn("refused a pull of unknown consumer %llu",
		    (unsigned long long)m.consumer);
		return reply_status(reply, DS_PULL_UNKNOWN);
	}
	if (m.epoch < c->epoch) {
		free(m.pos);
		r.cnt[DS_CNT_FENCED]++;
		ds_info("fenced consumer %llu epoch %u < %u",
		    (unsigned long long)m.consumer, m.epoch, c->epoch);
		return reply_status(reply, DS_PULL_FENCED);
	}
	if (!c->pulled)
		ds_debug("consumer %llu epoch %u: first pull",
		    (unsigned long long)m.consumer, m.epoch);
	c->epoch = m.epoch;
	/* A parked request is offered again: user marks it as seen. */
	rc = serve_cons(c, &m, req->user == NULL, req->final, reply, my_id,
	    my_epoch);
	req->user = &r;
	free(m.pos);
	if (rc == -1)
		nomem();
	r.dirty = 1;
	return rc;
}

/*
 * A consumer's next PULL leaves before it acks what the previous reply
 * brought (it acks once that is written), so with the buffer full, or
 * every stream ended, nothing new would wake its parked request and the
 * ack would wait a whole wait_ms.  Such requests wait SHORT_WAIT only.
 */
static double
wait_of(void *arg, const unsigned char *msg, size_t len)
{
	struct ds_pull_msg m;
	const char *why;
	double wait;
	uint32_t k;
	int behind = 0;

	(void)arg;
	memset(&m, 0, sizeof(m));
	if (decode_pull(msg, len, &m, &why) == -1)
		return 0;
	wait = m.wait_ms / 1000.0;
	for (k = 0; k < m.n; k++)
		if (m.pos[k].from != DS_FROM_NEW && m.pos[k].from > 0 &&
		    m.pos[k].ack < m.pos[k].from - 1)
			behind = 1;
	if (behind && (r.stopped || r.ended) && wait > SHORT_WAIT)
		wait = SHORT_WAIT;
	free(m.pos);
	return wait;
}

/* Every producer ended, every consumer was told and acked every end. */
static int
all_done(void)
{
	uint64_t end;
	size_t j, p;

	for (p = 0; p < r.nprod; p++)
		if (!prod_ended(p, &end))
			return 0;
	r.ended = 1;
	for (p = 0; p < r.nprod; p++) {
		(void)prod_ended(p, &end);
		for (j = 0; j < r.ncons; j++)
			if (!r.cons[j].cp[p].told_end ||
			    r.cons[j].cp[p].acked < end)
				return 0;
	}
	return 1;
}

/* Leave once every inlet carried its last acks upstream, or at LINGER. */
static void
linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	size_t e;

	(void)revents;
	for (e = 0; e < r.nin; e++)
		if (!ds_inlet_synced(r.in[e].inlet))
			break;
	if (e == r.nin || ev_now(loop) >= r.linger_until) {
		ev_timer_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
	}
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	size_t e;
	int i;

	(void)w;
	(void)revents;
	if (r.done)
		return;
	sync_prods();
	if (r.dirty) {
		r.dirty = 0;
		ds_pull_srv_wake(r.srv);
	}
	if (!r.stopped && r.bytes > r.buffer) {
		ds_debug("buffer full (%zu bytes): stop pulling", r.bytes);
		for (e = 0; e < r.nin; e++)
			ds_inlet_stop(r.in[e].inlet);
		r.stopped = 1;
	} else if (r.stopped && r.bytes <= r.buffer / 2) {
		ds_debug("buffer at %zu bytes: pull again", r.bytes);
		for (e = 0; e < r.nin; e++)
			ds_inlet_start(r.in[e].inlet);
		r.stopped = 0;
	}
	r.cnt[DS_CNT_RETAINED] = r.tuples;
	if (r.lease != NULL) {
		uint64_t fenced = r.cnt[DS_CNT_FENCED], dup = r.cnt[DS_CNT_DUP];

		for (e = 0; e < r.nin; e++) {
			fenced += ds_inlet_fenced(r.in[e].inlet);
			dup += ds_inlet_dups(r.in[e].inlet);
		}
		for (i = 0; i < DS_CNT_N; i++)
			ds_lease_count(r.lease, i, r.cnt[i]);
		ds_lease_count(r.lease, DS_CNT_FENCED, fenced);
		ds_lease_count(r.lease, DS_CNT_DUP, dup);
	}
	if (all_done()) {
		/* Let the inlets carry the last acks upstream, then exit. */
		r.done = 1;
		ds_info("every stream ended and was acked: %llu tuples in, "
		    "%llu out", (unsigned long long)r.cnt[DS_CNT_IN],
		    (unsigned long long)r.cnt[DS_CNT_OUT]);
		if (r.lease != NULL)
			ds_lease_done(r.lease);
		r.linger_until = ev_now(loop) + LINGER;
		ev_timer_init(&r.linger_w, linger_cb, 0.01, 0.01);
		ev_timer_start(loop, &r.linger_w);
	}
}

static void
on_lost(void *arg, int why)
{
	(void)arg;
	if (why == DS_LEASE_STOP) {
		ds_info("stopped by the master");
		exit(DS_EX_OK);
	}
	ds_die(DS_EX_TEMPFAIL, "%s", why == DS_LEASE_FENCED ?
	    "fenced by the master: a newer epoch of this router exists" :
	    "lease lost: no answer from the master");
}

static void
term_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	ds_info("stopped by signal %d", w->signum);
	exit(DS_EX_OK);
}

int
main(int argc, char *argv[])
{
	static const struct ds_pull_srv_ops ops = { serve, NULL, wait_of };
	static const struct ds_inlet_ops iops = { on_bundle, on_event };
	struct ds_common co = DS_COMMON_INIT;
	struct ds_inlet_cfg cfg;
	static char ctx[256];
	char *listen = NULL, *master = NULL, *name = NULL, *arg;
	uint64_t *cids = NULL, *eids = NULL, keepalive = 10000;
	size_t maxtuple = DS_TUPLE_MAX, ncids = 0, neids = 0, e, k, p, j;
	int rc, have_dist = 0, have_id = 0;
	poptContext pc;
	struct poptOption opts[] = {
		{ "buffer", 0, POPT_ARG_STRING, NULL, OPT_BUFFER,
		    "most bytes queued before pulling stops, K/M/G "
		    "(default 64M)", "SIZE" },
		{ "consumers", 0, POPT_ARG_STRING, NULL, OPT_CONSUMERS,
		    "comma-separated ids of the consumers, in partition "
		    "order", "IDS" },
		{ "ended", 0, POPT_ARG_STRING, NULL, OPT_ENDED,
		    "producers that finished and exited: their streams are "
		    "over", "IDS" },
		{ "dist", 0, POPT_ARG_STRING, NULL, OPT_DIST,
		    "hash, range, shuffle or broadcast", "DIST" },
		{ "epoch", 0, POPT_ARG_STRING, NULL, OPT_EPOCH,
		    "this router's epoch (default 1)", "N" },
		{ "id", 0, POPT_ARG_STRING, NULL, OPT_ID,
		    "this router's consumer id upstream", "N" },
		{ "keepalive", 0, POPT_ARG_STRING, NULL, OPT_KEEPALIVE,
		    "lease length in ms (default 10000)", "MS" },
		{ "listen", 0, POPT_ARG_STRING, NULL, OPT_LISTEN,
		    "serve the consumers at this nanomsg address", "ADDR" },
		{ "master", 0, POPT_ARG_STRING, NULL, OPT_MASTER,
		    "ds-master's control socket", "ADDR" },
		{ "max-tuple", 0, POPT_ARG_STRING, NULL, OPT_MAXTUPLE,
		    "largest key+payload in bytes, K/M/G (default 1M)",
		    "SIZE" },
		{ "name", 0, POPT_ARG_STRING, NULL, OPT_NAME,
		    "name for logs, e.g. split-count", "NAME" },
		{ "once", 0, POPT_ARG_STRING, NULL, OPT_ONCE,
		    "most or least (the router keeps no state)", "MODE" },
		{ "pull", 0, POPT_ARG_STRING, NULL, OPT_PULL,
		    "pull producers IDS served at ADDR (repeatable)",
		    "MODE:IDS@ADDR" },
		{ "state", 0, POPT_ARG_STRING, NULL, OPT_STATE,
		    "accepted and ignored (the router keeps no state)",
		    "DIR" },
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_progname = "ds-router";
	co.usage = USAGE;
	r.buffer = 64u << 20;
	my_epoch = 1;

	pc = poptGetContext(ds_progname, argc, (void *)argv, opts, 0);
	while ((rc = ds_opt_next(&co, pc)) != -1) {
		arg = poptGetOptArg(pc);
		switch (rc) {
		case OPT_BUFFER:
			r.buffer = ds_opt_size(&co, "--buffer", arg, 1024,
			    UINT64_MAX >> 2);
			break;
		case OPT_CONSUMERS:
			free(cids);
			cids = parse_ids(&co, "--consumers", arg, &ncids);
			break;
		case OPT_ENDED:
			free(eids);
			eids = parse_ids(&co, "--ended", arg, &neids);
			break;
		case OPT_DIST:
			if (strcmp(arg, "hash") == 0)
				r.dist = DS_DIST_HASH;
			else if (strcmp(arg, "range") == 0)
				r.dist = DS_DIST_RANGE;
			else if (strcmp(arg, "shuffle") == 0)
				r.dist = DS_DIST_SHUFFLE;
			else if (strcmp(arg, "broadcast") == 0)
				r.dist = DS_DIST_BROADCAST;
			else
				ds_dieusage(&co, "--dist: expected hash, "
				    "range, shuffle or broadcast: '%s'", arg);
			have_dist = 1;
			break;
		case OPT_EPOCH:
			my_epoch = (uint32_t)ds_opt_u64(&co, "--epoch", arg, 1,
			    UINT32_MAX);
			break;
		case OPT_ID:
			my_id = ds_opt_u64(&co, "--id", arg, 0, UINT64_MAX);
			have_id = 1;
			break;
		case OPT_KEEPALIVE:
			keepalive = ds_opt_u64(&co, "--keepalive", arg, 100,
			    86400000);
			break;
		case OPT_LISTEN:
			free(listen);
			listen = arg;
			arg = NULL;
			break;
		case OPT_MASTER:
			free(master);
			master = arg;
			arg = NULL;
			break;
		case OPT_MAXTUPLE:
			maxtuple = ds_opt_size(&co, "--max-tuple", arg, 1,
			    DS_FRAME_MAX - 1024);
			break;
		case OPT_NAME:
			free(name);
			name = arg;
			arg = NULL;
			break;
		case OPT_ONCE:
			(void)parse_once(&co, "--once", arg, strlen(arg));
			break;
		case OPT_PULL:
			if ((r.in = realloc(r.in, (r.nin + 1) *
			    sizeof(*r.in))) == NULL)
				nomem();
			memset(&r.in[r.nin], 0, sizeof(*r.in));
			parse_pull(&co, arg, &r.in[r.nin++]);
			break;
		case OPT_STATE:
			break;
		}
		free(arg);
	}
	if (poptPeekArg(pc) != NULL)
		ds_dieusage(&co, "unexpected operand '%s'", poptPeekArg(pc));
	poptFreeContext(pc);

	/* validate */
	if (listen == NULL)
		ds_dieusage(&co, "--listen is required");
	if (cids == NULL)
		ds_dieusage(&co, "--consumers is required");
	if (ncids > MAXCONS)
		ds_dieusage(&co, "--consumers: more than %d", MAXCONS);
	if (!have_dist)
		ds_dieusage(&co, "--dist is required");
	if (!have_id)
		ds_dieusage(&co, "--id is required");
	if (r.nin == 0)
		ds_dieusage(&co, "--pull is required");
	for (e = 0; e < r.nin; e++)
		r.nprod += r.in[e].nids;
	if (r.nprod > DS_MSG_MAXPROD)
		ds_dieusage(&co, "--pull: more than %d producers",
		    DS_MSG_MAXPROD);
	if ((r.prod = calloc(r.nprod, sizeof(*r.prod))) == NULL)
		nomem();
	for (p = 0, e = 0; e < r.nin; e++)
		for (k = 0; k < r.in[e].nids; k++, p++) {
			r.prod[p].id = r.in[e].ids[k];
			r.prod[p].in = e;
		}
	qsort(r.prod, r.nprod, sizeof(*r.prod), cmp_u64);
	for (p = 0; p + 1 < r.nprod; p++)
		if (r.prod[p].id == r.prod[p + 1].id)
			ds_dieusage(&co, "--pull: producer %llu given twice",
			    (unsigned long long)r.prod[p].id);
	r.ncons = ncids;
	if (name != NULL) {
		(void)snprintf(ctx, sizeof(ctx), "name=%s", name);
		ds_log_context(ctx);
	}

	/* acquire */
	signal(SIGPIPE, SIG_IGN);
	if ((r.cons = calloc(r.ncons, sizeof(*r.cons))) == NULL ||
	    (r.w = calloc(r.ncons, sizeof(*r.w))) == NULL ||
	    (r.wb = calloc(r.ncons, sizeof(*r.wb))) == NULL ||
	    (r.pos = calloc(r.nprod, sizeof(*r.pos))) == NULL ||
	    (r.gap = calloc(r.nprod, sizeof(*r.gap))) == NULL)
		nomem();
	for (j = 0; j < r.ncons; j++) {
		r.cons[j].id = cids[j];
		if ((r.cons[j].cp = calloc(r.nprod,
		    sizeof(*r.cons[j].cp))) == NULL)
			nomem();
	}
	r.loop = EV_DEFAULT;
	ds_pull_keep_memory();
	/* Before nanomsg starts its threads, so that they inherit it. */
	ev_signal_init(&r.term_w, term_cb, SIGTERM);
	ev_signal_start(r.loop, &r.term_w);
	ev_signal_init(&r.int_w, term_cb, SIGINT);
	ev_signal_start(r.loop, &r.int_w);
	if (master != NULL && (r.lease = ds_lease_open(r.loop, master, my_id,
	    my_epoch, keepalive, on_lost, NULL)) == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to reach master %s: %s",
		    master, ds_pull_strerror(errno));
	if ((r.srv = ds_pull_srv_open(r.loop, listen, &ops, NULL)) == NULL)
		ds_die(DS_EX_UNAVAILABLE, "unable to listen on %s: %s", listen,
		    ds_pull_strerror(errno));
	for (e = 0; e < r.nin; e++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.addr = r.in[e].addr;
		cfg.producers = r.in[e].ids;
		cfg.nproducers = r.in[e].nids;
		cfg.consumer = my_id;
		cfg.epoch = my_epoch;
		cfg.once = r.in[e].once;
		cfg.max_tuples = PULL_TUPLES;
		/* A reply may overshoot the buffer by this much. */
		cfg.max_bytes = r.buffer / 2 < PULL_BYTES ?
		    (uint32_t)(r.buffer / 2) : PULL_BYTES;
		cfg.wait_ms = PULL_WAIT_MS;
		cfg.maxtuple = maxtuple;
		if ((r.in[e].inlet = ds_inlet_open(r.loop, &cfg, &iops,
		    NULL)) == NULL)
			ds_die(DS_EX_UNAVAILABLE, "unable to pull from %s: %s",
			    r.in[e].addr, ds_pull_strerror(errno));
	}
	ev_prepare_init(&r.prep_w, prepare_cb);
	ev_prepare_start(r.loop, &r.prep_w);
	for (e = 0; e < r.nin; e++) {
		for (k = 0; k < neids; k++)
			ds_inlet_end(r.in[e].inlet, eids[k]);
		ds_inlet_start(r.in[e].inlet);
	}
	if (ds_notify_ready(&co, NULL) == -1)
		ds_warnsys("unable to signal readiness");

	/* run */
	ev_run(r.loop, 0);

	ds_pull_srv_close(r.srv);
	for (e = 0; e < r.nin; e++)
		ds_inlet_close(r.in[e].inlet);
	if (r.lease != NULL)
		ds_lease_close(r.lease);
	return DS_EX_OK;
}
