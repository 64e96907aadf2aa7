/*
 * durable_slog.c: at most and at least once (durable.h).  With --state,
 * each unit's DELTAs and MARK go to the instance's state log
 * (store/slog.h) with one write(2) before anything of it is seen: the
 * unit is durable then, as far as these modes promise (the death of the
 * process, not of the machine).  Once downstream acked its outputs an
 * ACKED follows, and the node acks its frontier upstream.  Recovery takes
 * the last mark (at most once: what was seen may be lost, nothing seen
 * twice) or the last ACKED one (at least once: replay from there).
 * Without --state (and always for ds-router) nothing is written: units
 * are durable at once and a restart starts from nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "node/durable.h"
#include "node/log.h"
#include "node/node.h"
#include "store/slog.h"

#define SLOGMAX		(64ull << 20)	/* compact the state log past this */

struct slogst {
	struct ds_slog	 sl;
	int		 use;
	struct ds_mark	 last;		/* the newest unit written */
	struct ds_node	*n;		/* for the compaction iterator */
	size_t		 it;
};

static int
load(void *arg, const void *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct ds_node *n = arg;

	if (n->prog->load == NULL)
		return -1;	/* a program without state: not ours */
	return n->prog->load(n->arg, key, keylen, val, vallen);
}

static int
next_key(void *arg, const void **key, size_t *keylen, const void **val,
    size_t *vallen)
{
	struct slogst *st = arg;

	if (st->n->prog->each == NULL)
		return 0;
	return st->n->prog->each(st->n->arg, &st->it, key, keylen, val,
	    vallen);
}

static void
flush(struct ds_node *n, struct slogst *st)
{
	ds_node_valid(n);
	if (ds_slog_flush(&st->sl) == -1)
		ds_die(DS_EX_IOERR, "%s", st->sl.err);
}

static void
open_slog(struct ds_node *n)
{
	struct slogst *st;
	char *path;
	size_t len;
	int code = DS_EX_IOERR;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		ds_node_nomem();
	n->dst = st;
	st->n = n;
	if (n->cfg.state != NULL && n->noreplay != NULL)
		ds_warn("%s: --state is ignored", n->noreplay);
	if (n->cfg.state == NULL || n->noreplay != NULL) {
		ds_node_recovered(n);
		return;
	}
	len = strlen(n->cfg.state) + strlen(n->cfg.name) + sizeof("/.slog");
	if ((path = malloc(len)) == NULL)
		ds_node_nomem();
	snprintf(path, len, "%s/%s.slog", n->cfg.state, n->cfg.name);
	if (ds_slog_open(&st->sl, path, n->cfg.once == DS_ONCE_MOST ?
	    DS_SLOG_LAST : DS_SLOG_ACKED, load, n, &n->rec, &code) == -1)
		ds_die(code, "%s", st->sl.err);
	st->use = n->keeps = 1;
	if (st->sl.torn)
		ds_warn("%s", st->sl.err);
	n->mark = st->sl.mark;
	if (n->rec.mark != 0) {
		ds_info("%s: recovered mark %llu: output seq %llu", path,
		    (unsigned long long)n->rec.mark,
		    (unsigned long long)n->rec.outseq);
		n->res.found = 1;
		n->res.outseq = n->res.durable = n->rec.outseq;
		n->res.aux = n->rec.aux;
		if (ds_mark_copy(&st->last, &n->rec) == -1)
			ds_node_nomem();
	}
	free(path);
	ds_node_recovered(n);
}

static void
write_slog(struct ds_node *n, struct ds_unit *u, const struct ds_buf *state,
    uint32_t nstate)
{
	struct slogst *st = n->dst;

	(void)nstate;
	if (st->use) {
		if (ds_slog_add(&st->sl, state->p, state->len) == -1 ||
		    ds_slog_mark(&st->sl, &u->m) == -1 ||
		    (!n->has_oq && ds_slog_acked(&st->sl, u->m.mark) == -1) ||
		    ds_mark_copy(&st->last, &u->m) == -1)
			ds_node_nomem();
		/* The mark is in the log before anyone can pull the unit. */
		flush(n, st);
	}
	ds_node_durable(n);
}

static void
acked_slog(struct ds_node *n, struct ds_unit *u)
{
	struct slogst *st = n->dst;

	if (!st->use || !n->has_oq)
		return;		/* without consumers ACKED went with MARK */
	if (ds_slog_acked(&st->sl, u->m.mark) == -1)
		ds_node_nomem();
	flush(n, st);
}

/*
 * Past SLOGMAX, rewrite the log as a snapshot at the newest mark.  At
 * least once that mark becomes the ACKED one: only once every unit is.
 */
static void
tick_slog(struct ds_node *n)
{
	struct slogst *st = n->dst;

	if (!st->use || st->sl.size <= SLOGMAX || st->last.mark == 0 ||
	    (n->head != NULL && n->cfg.once != DS_ONCE_MOST) ||
	    n->nwriting > 0)
		return;
	ds_node_valid(n);
	st->it = 0;
	if (ds_slog_compact(&st->sl, &st->last, next_key, st) == -1)
		ds_die(DS_EX_IOERR, "%s", st->sl.err);
}

static int
full_slog(const struct ds_node *n)
{
	(void)n;
	return 0;
}

static void
close_slog(struct ds_node *n)
{
	struct slogst *st = n->dst;

	if (st == NULL)
		return;
	if (st->use)
		ds_slog_close(&st->sl);
	ds_mark_free(&st->last);
	free(st);
	n->dst = NULL;
}

const struct ds_durable ds_durable_slog = {
	"slog", 0, 0, 0, open_slog, write_slog, acked_slog, tick_slog,
	full_slog, close_slog
};
