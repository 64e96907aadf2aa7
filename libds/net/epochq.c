/*
 * epochq.c: confirming epochs with ds-master (epochq.h).  Per id: the
 * highest epoch the master confirmed, the number of answers about it so
 * far (gen), and the answer its parked requests wait for (want).  A
 * ticket is the gen whose answer decides a request: one whose question
 * left after the request came, so an answer made before a restart never
 * refuses the restarted peer.  One question is out at a time; ids take
 * turns.  A question not answered in DS_EPOCHQ_ASK is forgotten: its
 * requests are answered by no one and time out uncounted, and the next
 * new request asks again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/frame.h"
#include "core/msg.h"
#include "net/epochq.h"
#include "net/pull.h"

struct ent {
	uint64_t	 id;
	uint32_t	 confirmed;
	uint64_t	 gen;		/* answers about id so far */
	uint64_t	 want;		/* answer parked requests wait for */
};

struct ds_epochq {
	struct ds_pull_cli	*cli;
	struct ent		*e;
	size_t			 n;
	size_t			 asking;	/* entry asked, or n: none */
	size_t			 turn;
	uint64_t		 refused;
	void			(*on_answer)(void *);
	void			*arg;
	struct ds_buf		 b;
};

/* Ask about the next entry some request waits for, if none is out. */
static void
kick(struct ds_epochq *q)
{
	struct ent *e;
	size_t i, k;
	char cmd[64];

	if (q->asking < q->n)
		return;
	for (i = 0; i < q->n; i++) {
		k = (q->turn + i) % q->n;
		e = &q->e[k];
		if (e->want <= e->gen)
			continue;
		snprintf(cmd, sizeof(cmd), "epoch %" PRIu64, e->id);
		ds_buf_reset(&q->b);
		if (ds_msg_text_put(&q->b, DS_FRAME_CTL, cmd, strlen(cmd))
		    == -1 || ds_pull_cli_send(q->cli, q->b.p, q->b.len,
		    DS_EPOCHQ_ASK) == -1) {
			e->gen = e->want;	/* refused: nothing to ask with */
			continue;
		}
		q->asking = k;
		q->turn = k + 1;
		return;
	}
}

/* The master's "ID EPOCH\n" about e, or 0. */
static uint32_t
parse(const struct ent *e, const unsigned char *msg, size_t len)
{
	struct ds_frame f;
	const char *why;
	char txt[64], *end;
	size_t off = 0;
	unsigned long long id, ep;

	if (ds_msg_next(msg, len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_CTLREPLY || f.len >= sizeof(txt))
		return 0;
	memcpy(txt, f.payload, f.len);
	txt[f.len] = '\0';
	errno = 0;
	id = strtoull(txt, &end, 10);
	if (errno != 0 || *end != ' ' || id != e->id)
		return 0;
	ep = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\n' || ep > UINT32_MAX)
		return 0;
	return (uint32_t)ep;
}

static void
on_reply(void *arg, const unsigned char *msg, size_t len)
{
	struct ds_epochq *q = arg;
	struct ent *e;
	uint32_t ep;

	if (q->asking >= q->n)
		return;
	e = &q->e[q->asking];
	q->asking = q->n;
	if (msg == NULL)
		e->want = e->gen;	/* timed out: ask again when asked */
	else {
		if ((ep = parse(e, msg, len)) > e->confirmed)
			e->confirmed = ep;
		e->gen++;
	}
	kick(q);
	q->on_answer(q->arg);
}

struct ds_epochq *
ds_epochq_open(struct ev_loop *loop, const char *master,
    void (*on_answer)(void *), void *arg)
{
	struct ds_epochq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->on_answer = on_answer;
	q->arg = arg;
	if ((q->cli = ds_pull_cli_open(loop, master, on_reply, q)) == NULL) {
		free(q);
		return NULL;
	}
	return q;
}

static struct ent *
ent_of(struct ds_epochq *q, uint64_t id)
{
	struct ent *e;
	size_t i;

	for (i = 0; i < q->n; i++)
		if (q->e[i].id == id)
			return &q->e[i];
	if ((e = realloc(q->e, (q->n + 1) * sizeof(*e))) == NULL)
		return NULL;
	q->e = e;
	if (q->asking == q->n)
		q->asking++;
	e = &q->e[q->n++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	return e;
}

int
ds_epochq_check(struct ds_epochq *q, uint64_t id, uint32_t epoch,
    uint64_t *ticket)
{
	struct ent *e;

	/* Every process starts at epoch 1: believing it fences no one. */
	if (epoch <= 1) {
		*ticket = 0;
		return 1;
	}
	if ((e = ent_of(q, id)) != NULL && epoch <= e->confirmed) {
		*ticket = 0;
		return 1;
	}
	if (e == NULL || (*ticket != 0 && e->gen >= *ticket)) {
		q->refused++;
		*ticket = 0;
		return -1;
	}
	if (*ticket == 0) {
		/* An answer to a question sent before now may be stale. */
		*ticket = e->gen + 1 + (q->asking < q->n &&
		    &q->e[q->asking] == e);
		if (e->want < *ticket)
			e->want = *ticket;
		kick(q);
	}
	return 0;
}

uint64_t
ds_epochq_refused(const struct ds_epochq *q)
{
	return q->refused;
}

void
ds_epochq_close(struct ds_epochq *q)
{
	if (q == NULL)
		return;
	ds_pull_cli_close(q->cli);
	ds_buf_free(&q->b);
	free(q->e);
	free(q);
}
