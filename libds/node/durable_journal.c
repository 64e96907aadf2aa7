/*
 * durable_journal.c: exactly once (durable.h).  Each unit goes to
 * ds-journal as one atomic JWRITE: its state records (DELTAs and TIMERs),
 * its outputs, an ACKED or acked position when one is due, and a MARK
 * with its frontier.  Only once the journal synced it are its outputs
 * pullable and its frontier acked upstream, so a restart serves the same
 * outputs under the same seqs and pulls after the same frontier.  A
 * source reading a file does not journal its outputs (it makes them again
 * from the file), only the position its consumers acked, as the state
 * key ACKPOS.  Writes the journal refuses as FULL are held and written
 * again, in order, once it answered every unit out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "core/wire.h"
#include "net/jclient.h"
#include "node/durable.h"
#include "node/log.h"
#include "node/node.h"

#define JTIMEOUT	5.0	/* s: an answer later than this is lost */
#define JFULL_RETRY	0.2	/* s between writes refused as FULL */
#define ACKPOS		"\0acked"	/* a source's acked position */
#define ACKPOS_LEN	6

struct jst {
	struct ds_jclient	*jc;
	size_t			 sent;		/* units out, no answer */
	size_t			 refused;	/* of them answered FULL */
	int			 full;
	ev_timer		 retry;
	uint64_t		 acked;		/* ACKED to write, 0: none */
	int			 posdue;	/* ACKPOS to write */
	uint64_t		 pos[2];	/* its outseq, aux */
	int			 posfound;	/* recovery found one */
	uint64_t		 maxmark;
	struct ds_buf		 side;		/* a write of its own */
	struct ds_bundle	 b;
};

/* --- recovery --------------------------------------------------------- */

/* Keep the BUNDLE frame f, re-stamped with our epoch (seqs unchanged). */
static void
restamp(struct ds_node *n, struct jst *st, const struct ds_frame *f)
{
	struct ds_bundle_writer w;
	const char *why;
	uint32_t i;

	if (ds_bundle_decode(&st->b, f->payload, f->len, SIZE_MAX, &why) == -1)
		ds_die(DS_EX_DATAERR, "journal recovery: a bad output bundle: "
		    "%s", why != NULL ? why : "out of memory");
	if (st->b.producer != n->cfg.id)
		ds_die(DS_EX_DATAERR, "journal recovery: an output bundle of "
		    "producer %llu, not ours",
		    (unsigned long long)st->b.producer);
	if (st->b.count > 0 && (n->recfirst == 0 ||
	    st->b.t[0].seq < n->recfirst))
		n->recfirst = st->b.t[0].seq;
	if (ds_bundle_begin(&w, &n->recout, n->cfg.id, n->cfg.epoch) == -1)
		ds_node_nomem();
	for (i = 0; i < st->b.count; i++)
		if (ds_bundle_add(&w, &st->b.t[i]) == -1)
			ds_node_nomem();
	if (ds_bundle_end(&w) == -1)
		ds_node_nomem();
}

/* A DELTA of the key ACKPOS: a source's acked position.  1 if it was. */
static int
ackpos(struct ds_node *n, struct jst *st, const struct ds_frame *f)
{
	struct ds_rec r;
	const char *why;

	if (!n->replayable || ds_rec_get(f, &r, NULL, &why) == -1 ||
	    r.keylen != ACKPOS_LEN || memcmp(r.key, ACKPOS, ACKPOS_LEN) != 0)
		return 0;
	if (r.val == NULL || r.vallen != 16)
		ds_die(DS_EX_DATAERR, "journal recovery: a bad acked position");
	st->posfound = 1;
	st->pos[0] = ds_get_le64(r.val);
	st->pos[1] = ds_get_le64(r.val + 8);
	return 1;
}

static int
rec_frame(void *arg, const struct ds_frame *f)
{
	struct ds_node *n = arg;
	struct jst *st = n->dst;
	struct ds_mark m;
	struct ds_rec r;
	const char *why;

	switch (f->type) {
	case DS_FRAME_DELTA:
		if (!ackpos(n, st, f))
			ds_node_load(n, f);
		break;
	case DS_FRAME_TIMER:
		ds_node_load(n, f);
		break;
	case DS_FRAME_MARK:
	case DS_FRAME_ACKED:
		memset(&m, 0, sizeof(m));
		if (ds_rec_get(f, &r, &m, &why) == -1)
			ds_die(errno == ENOMEM ? DS_EX_OSERR : DS_EX_DATAERR,
			    "journal recovery: a bad record: %s", why);
		if (f->type == DS_FRAME_MARK) {
			ds_mark_free(&n->rec);
			n->rec = m;
		}
		if (m.mark > st->maxmark)
			st->maxmark = m.mark;
		if (r.acked > st->maxmark)
			st->maxmark = r.acked;
		break;
	case DS_FRAME_BUNDLE:
		restamp(n, st, f);
		break;
	default:
		ds_die(DS_EX_DATAERR, "journal recovery: an unknown record "
		    "type %u", (unsigned)f->type);
	}
	return 0;
}

static void
rec_done(void *arg, uint32_t status, uint32_t epoch)
{
	struct ds_node *n = arg;
	struct jst *st = n->dst;

	switch (status) {
	case DS_J_OK:
		break;
	case DS_J_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced by the journal: it has epoch %u "
		    "of this instance, newer than %u", (unsigned)epoch,
		    (unsigned)n->cfg.epoch);
	default:
		ds_die(DS_EX_UNAVAILABLE, "unable to recover from the journal "
		    "at %s: %s", n->cfg.journal, status == DS_J_BAD ?
		    "refused, or a malformed answer (is this id one of "
		    "its writers?)" : "no answer");
	}
	n->mark = st->maxmark;
	n->res.durable = n->rec.outseq;
	if (n->replayable) {
		/* Made again from what the consumers acked. */
		n->res.found = st->posfound;
		n->res.outseq = st->pos[0];
		n->res.aux = st->pos[1];
	} else {
		n->res.found = n->rec.mark != 0;
		n->res.outseq = n->rec.outseq;
		n->res.aux = n->rec.aux;
	}
	if (n->rec.mark != 0)
		ds_info("journal: recovered mark %llu: output seq %llu, %zu "
		    "bytes of outputs not acked",
		    (unsigned long long)n->rec.mark,
		    (unsigned long long)n->rec.outseq, n->recout.len);
	ds_bundle_free(&st->b);
	ds_node_recovered(n);
}

/* --- writing ---------------------------------------------------------- */

static void submit(struct ds_node *, struct ds_unit *);

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_node *n = w->data;
	struct jst *st = n->dst;
	struct ds_unit *u;

	(void)loop;
	(void)revents;
	st->full = 0;
	st->refused = 0;
	for (u = n->wnext; u != NULL; u = u->next)
		submit(n, u);
}

static void
answer(struct ds_node *n, uint32_t status, uint32_t epoch)
{
	struct jst *st = n->dst;

	switch (status) {
	case DS_J_OK:
		return;
	case DS_J_FULL:
		if (!st->full)
			ds_warn("journal: short of disk space, writes "
			    "refused: holding input until it has room");
		st->full = 1;
		return;
	case DS_J_FENCED:
		ds_die(DS_EX_TEMPFAIL, "fenced by the journal: it has epoch %u "
		    "of this instance, newer than %u", (unsigned)epoch,
		    (unsigned)n->cfg.epoch);
	case DS_JCLIENT_LOST:
		ds_die(DS_EX_TEMPFAIL, "journal: no answer from %s for %.0f "
		    "s: stopping, the restart recovers", n->cfg.journal,
		    JTIMEOUT);
	default:
		ds_die(DS_EX_SOFTWARE, "journal: a unit was refused as "
		    "malformed, or this id is not one of its writers (status "
		    "%u)", (unsigned)status);
	}
}

static void
retry_later(struct ds_node *n)
{
	struct jst *st = n->dst;

	if (st->full && st->sent == 0 && !ev_is_active(&st->retry)) {
		ev_timer_set(&st->retry, JFULL_RETRY, 0);
		ev_timer_start(n->loop, &st->retry);
	}
}

/* The answer for the oldest unit out (units are answered in order). */
static void
unit_done(void *arg, uint32_t status, uint32_t epoch)
{
	struct ds_node *n = arg;
	struct jst *st = n->dst;

	st->sent--;
	if (status == DS_J_OK && (st->full || st->refused > 0))
		ds_die(DS_EX_SOFTWARE, "journal: a unit was made durable "
		    "after one before it was refused");
	answer(n, status, epoch);
	if (status == DS_J_OK)
		ds_node_durable(n);
	else
		st->refused++;
	retry_later(n);
}

static void
submit(struct ds_node *n, struct ds_unit *u)
{
	struct jst *st = n->dst;

	if (ds_jclient_write(st->jc, u->recs.p, u->recs.len, u->nrecs,
	    unit_done, n) == -1) {
		if (errno == ENOMEM)
			ds_node_nomem();
		ds_die(DS_EX_SOFTWARE, "journal: a unit of %zu bytes is too "
		    "big to write", u->recs.len);
	}
	st->sent++;
}

/* An ACKED or an acked position that is due goes into b: 1 if one did. */
static uint32_t
put_acked(struct jst *st, struct ds_buf *b)
{
	unsigned char v[16];

	if (st->posdue) {
		st->posdue = 0;
		ds_put_le64(v, st->pos[0]);
		ds_put_le64(v + 8, st->pos[1]);
		if (ds_rec_put_delta(b, ACKPOS, ACKPOS_LEN, v, 16) == -1)
			ds_node_nomem();
		return 1;
	}
	if (st->acked == 0)
		return 0;
	if (ds_rec_put_acked(b, st->acked) == -1)
		ds_node_nomem();
	st->acked = 0;
	return 1;
}

static void
write_journal(struct ds_node *n, struct ds_unit *u, const struct ds_buf *state,
    uint32_t nstate)
{
	struct jst *st = n->dst;

	/* The JWRITE is kept until durable: FULL writes it again. */
	if (ds_buf_grow(&u->recs, state->len + u->out.len + 256 +
	    (size_t)u->m.n * 32) == -1 ||
	    ds_buf_add(&u->recs, state->p, state->len) == -1)
		ds_node_nomem();
	u->nrecs = nstate;
	if (!n->replayable) {
		if (ds_buf_add(&u->recs, u->out.p, u->out.len) == -1)
			ds_node_nomem();
		u->nrecs += u->nout;
	}
	u->nrecs += put_acked(st, &u->recs);
	if (ds_rec_put_mark(&u->recs, &u->m) == -1)
		ds_node_nomem();
	u->nrecs++;
	/* Without consumers nothing waits for acks: acked at once. */
	if (!n->has_oq) {
		if (ds_rec_put_acked(&u->recs, u->m.mark) == -1)
			ds_node_nomem();
		u->nrecs++;
	}
	if (!st->full)
		submit(n, u);
}

static void
acked_journal(struct ds_node *n, struct ds_unit *u)
{
	struct jst *st = n->dst;

	if (!n->has_oq)
		return;		/* written with its MARK */
	if (n->replayable) {
		st->posdue = 1;
		st->pos[0] = u->m.outseq;
		st->pos[1] = u->m.aux;
	} else
		st->acked = u->m.mark;
}

/* A refused ACKED is no loss: a later one says more. */
static void
side_done(void *arg, uint32_t status, uint32_t epoch)
{
	if (status != DS_J_FULL)
		answer(arg, status, epoch);
}

/* An ACKED that no unit is going to carry goes alone. */
static void
tick_journal(struct ds_node *n)
{
	struct jst *st = n->dst;

	if (st->jc == NULL || n->nwriting > 0 || st->full ||
	    (!st->posdue && st->acked == 0))
		return;
	ds_buf_reset(&st->side);
	(void)put_acked(st, &st->side);
	ds_node_valid(n);
	if (ds_jclient_write(st->jc, st->side.p, st->side.len, 1, side_done,
	    n) == -1)
		ds_node_nomem();
}

static int
full_journal(const struct ds_node *n)
{
	const struct jst *st = n->dst;

	return st->full;
}

static void
open_journal(struct ds_node *n)
{
	struct jst *st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		ds_node_nomem();
	n->dst = st;
	n->keeps = 1;
	ev_timer_init(&st->retry, retry_cb, 0, 0);
	st->retry.data = n;
	if ((st->jc = ds_jclient_open(n->loop, n->cfg.journal, n->cfg.id,
	    n->cfg.epoch, JTIMEOUT)) == NULL)
		ds_diesys(DS_EX_UNAVAILABLE, "unable to reach the journal at "
		    "%s", n->cfg.journal);
	if (ds_jclient_recover(st->jc, n->cfg.keepalive_ms / 1000.0,
	    rec_frame, rec_done, n) == -1)
		ds_diesys(DS_EX_SOFTWARE, "unable to recover from the journal");
}

static void
close_journal(struct ds_node *n)
{
	struct jst *st = n->dst;

	if (st == NULL)
		return;
	ev_timer_stop(n->loop, &st->retry);
	if (st->jc != NULL)
		ds_jclient_close(st->jc);
	ds_buf_free(&st->side);
	ds_bundle_free(&st->b);
	free(st);
	n->dst = NULL;
}

const struct ds_durable ds_durable_journal = {
	"journal", 1, 1, 1, open_journal, write_journal, acked_journal,
	tick_journal, full_journal, close_journal
};
