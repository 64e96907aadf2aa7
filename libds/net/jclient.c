/*
 * jclient.c: ds-journal's client (jclient.h).  Units wait in a FIFO; one
 * request is outstanding at a time and carries every unit queued when it
 * was sent (up to BATCH_MAX bytes), so the reply's JACKs match the
 * in-flight units one for one, in order.  A reply that does not (wrong
 * count, bad frame) or no reply at all fails every in-flight unit with
 * DS_JCLIENT_LOST.  Never prints, never exits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/jclient.h"
#include "core/msg.h"
#include "net/pull.h"
#include "core/wire.h"

#define BATCH_MAX	(8u << 20)
#define RETRY_S		0.005
#define READ_MAX	(4u << 20)	/* recovery bytes asked per JREAD */

struct unit {
	struct unit	*next;
	ds_jclient_fn	 fn;
	void		*arg;
	size_t		 len;		/* of the JWRITE frame */
	unsigned char	 frame[];
};

struct ds_jclient {
	struct ev_loop		*loop;
	struct ds_pull_cli	*cli;
	uint64_t		 writer;
	uint32_t		 epoch;
	double			 timeout;
	struct unit		*head, **tail;	/* queued, after the in-flight */
	struct unit		*fly;		/* in flight, nfly of them */
	size_t			 nfly, nq;
	struct ds_buf		 msg;		/* the in-flight request */
	int			 sent;		/* msg was handed to the socket */
	ev_tstamp		 since;		/* first try to send msg */
	ev_idle			 kick;
	ev_timer		 retry;
	int			 closing;
	/* Recovery (ds_jclient_recover), while rec_done is set. */
	int			(*rec_frame)(void *, const struct ds_frame *);
	void			(*rec_done)(void *, uint32_t, uint32_t);
	void			*rec_arg;
	uint64_t		 rec_cursor;
	ev_tstamp		 rec_until;
	ev_timer		 rec_again;
};

static void	flush(struct ds_jclient *);
static void	try_send(struct ds_jclient *);
static void	rec_reply(struct ds_jclient *, const unsigned char *, size_t);
static void	rec_again_cb(struct ev_loop *, ev_timer *, int);

static void
finish(struct ds_jclient *c, const struct ds_jack_msg *acks, size_t nacks)
{
	struct unit *u, *list = c->fly;
	size_t i = 0;

	c->fly = NULL;
	c->nfly = 0;
	c->sent = 0;
	ev_timer_stop(c->loop, &c->retry);
	while (list != NULL) {
		u = list;
		list = u->next;
		if (i < nacks)
			u->fn(u->arg, acks[i].status, acks[i].epoch);
		else
			u->fn(u->arg, DS_JCLIENT_LOST, c->epoch);
		i++;
		free(u);
	}
}

static void
on_reply(void *arg, const unsigned char *msg, size_t len)
{
	struct ds_jclient *c = arg;
	struct ds_jack_msg *acks;
	struct ds_frame f;
	const char *why;
	size_t off = 0, n = 0;
	int rc;

	if (c->rec_done != NULL) {
		rec_reply(c, msg, len);
		return;
	}
	if ((acks = calloc(c->nfly ? c->nfly : 1, sizeof(*acks))) == NULL) {
		finish(c, NULL, 0);
		return;
	}
	while (msg != NULL && (rc = ds_msg_next(msg, len, &off, &f, &why))
	    == 1 && n < c->nfly) {
		if (f.type != DS_FRAME_JACK ||
		    ds_msg_jack_get(&acks[n], f.payload, f.len, &why) == -1)
			break;
		n++;
	}
	finish(c, acks, n == c->nfly && off == len ? n : 0);
	free(acks);
	if (!c->closing)
		flush(c);
}

static void
flush(struct ds_jclient *c)
{
	struct unit *u, **lastp;
	size_t bytes = 0;

	if (c->fly != NULL || c->head == NULL)
		return;
	ds_buf_reset(&c->msg);
	lastp = &c->head;
	while ((u = *lastp) != NULL && (bytes == 0 ||
	    bytes + u->len <= BATCH_MAX)) {
		if (ds_buf_add(&c->msg, u->frame, u->len) == -1)
			break;
		bytes += u->len;
		c->nfly++;
		c->nq--;
		lastp = &u->next;
	}
	if (c->nfly == 0)
		return;
	c->fly = c->head;
	c->head = *lastp;
	*lastp = NULL;
	if (c->head == NULL)
		c->tail = &c->head;
	c->since = ev_now(c->loop);
	try_send(c);
}

/*
 * Hand the in-flight request to the socket.  A socket still connecting
 * refuses it (EAGAIN): try again every RETRY_S until the timeout, then
 * fail the units.
 */
static void
try_send(struct ds_jclient *c)
{
	if (ds_pull_cli_send(c->cli, c->msg.p, c->msg.len, c->timeout) == 0) {
		c->sent = 1;
		return;
	}
	if (ev_now(c->loop) - c->since >= c->timeout) {
		ev_idle_start(c->loop, &c->kick);	/* fail them from the loop */
		return;
	}
	ev_timer_set(&c->retry, RETRY_S, 0);
	ev_timer_start(c->loop, &c->retry);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_jclient *c = w->data;

	(void)loop;
	(void)revents;
	if (c->fly != NULL && !c->sent)
		try_send(c);
}

static void
kick_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct ds_jclient *c = w->data;

	(void)revents;
	ev_idle_stop(loop, w);
	if (c->fly != NULL && !c->sent && !ev_is_active(&c->retry)) {
		finish(c, NULL, 0);
		ds_pull_cli_reset(c->cli);
	}
	flush(c);
}

/*
 * Recovery, in the loop: one JREAD at a time, each answered with the next
 * piece of the stream; a lost answer is asked again until rec_until.
 */
static void
rec_finish(struct ds_jclient *c, uint32_t status, uint32_t epoch)
{
	void (*done)(void *, uint32_t, uint32_t) = c->rec_done;

	c->rec_done = NULL;
	c->rec_frame = NULL;
	ev_timer_stop(c->loop, &c->rec_again);
	done(c->rec_arg, status, epoch);
}

static void
rec_ask(struct ds_jclient *c)
{
	struct ds_jread_msg q;

	if (ev_now(c->loop) >= c->rec_until) {
		rec_finish(c, DS_JCLIENT_LOST, c->epoch);
		return;
	}
	q.writer = c->writer;
	q.epoch = c->epoch;
	q.max_bytes = READ_MAX;
	q.cursor = c->rec_cursor;
	ds_buf_reset(&c->msg);
	if (ds_msg_jread_put(&c->msg, &q) == -1 ||
	    ds_pull_cli_send(c->cli, c->msg.p, c->msg.len, c->timeout) == -1) {
		ev_timer_set(&c->rec_again, RETRY_S * 10, 0);
		ev_timer_start(c->loop, &c->rec_again);
	}
}

static void
rec_again_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_jclient *c = w->data;

	(void)loop;
	(void)revents;
	if (c->rec_done != NULL)
		rec_ask(c);
}

static void
rec_reply(struct ds_jclient *c, const unsigned char *msg, size_t len)
{
	struct ds_jdata_msg d;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	int rc;

	if (msg == NULL) {		/* timed out: ask again */
		rec_ask(c);
		return;
	}
	if (ds_msg_next(msg, len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_JDATA ||
	    ds_msg_jdata_get(&d, f.payload, f.len, &why) == -1 ||
	    d.writer != c->writer) {
		rec_finish(c, DS_J_BAD, c->epoch);
		return;
	}
	if (d.status == DS_J_FENCED) {
		rec_finish(c, DS_J_FENCED, d.epoch);
		return;
	}
	if (d.status != DS_J_OK || d.cursor != c->rec_cursor ||
	    (d.next == d.cursor && d.next != d.total) ||
	    d.next - d.cursor != len - off) {
		rec_finish(c, DS_J_BAD, c->epoch);
		return;
	}
	while ((rc = ds_msg_next(msg, len, &off, &f, &why)) == 1)
		if (c->rec_frame(c->rec_arg, &f) == -1) {
			c->rec_done = NULL;	/* the owner stops */
			c->rec_frame = NULL;
			return;
		}
	if (rc == -1) {
		rec_finish(c, DS_J_BAD, c->epoch);
		return;
	}
	c->rec_cursor = d.next;
	if (d.next == d.total)
		rec_finish(c, DS_J_OK, c->epoch);
	else
		rec_ask(c);
}

int
ds_jclient_recover(struct ds_jclient *c, double deadline,
    int (*frame)(void *, const struct ds_frame *),
    void (*done)(void *, uint32_t, uint32_t), void *arg)
{
	if (c->rec_done != NULL || c->fly != NULL || c->head != NULL) {
		errno = EBUSY;
		return -1;
	}
	c->rec_frame = frame;
	c->rec_done = done;
	c->rec_arg = arg;
	c->rec_cursor = 0;
	c->rec_until = ev_now(c->loop) + deadline;
	rec_ask(c);
	return 0;
}

struct ds_jclient *
ds_jclient_open(struct ev_loop *loop, const char *addr, uint64_t writer,
    uint32_t epoch, double timeout)
{
	struct ds_jclient *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = loop;
	c->writer = writer;
	c->epoch = epoch;
	c->timeout = timeout;
	c->tail = &c->head;
	ev_idle_init(&c->kick, kick_cb);
	c->kick.data = c;
	ev_timer_init(&c->retry, retry_cb, 0, 0);
	c->retry.data = c;
	ev_timer_init(&c->rec_again, rec_again_cb, 0, 0);
	c->rec_again.data = c;
	if ((c->cli = ds_pull_cli_open(loop, addr, on_reply, c)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

int
ds_jclient_write(struct ds_jclient *c, const void *recs, size_t len,
    uint32_t n, ds_jclient_fn fn, void *arg)
{
	struct ds_jwrite_msg m;
	struct ds_buf b = DS_BUF_INIT;
	struct unit *u;

	m.writer = c->writer;
	m.epoch = c->epoch;
	m.n = n;
	m.recs = recs;
	m.len = len;
	if (ds_msg_jwrite_put(&b, &m) == -1)
		return -1;
	if ((u = malloc(sizeof(*u) + b.len)) == NULL) {
		ds_buf_free(&b);
		return -1;
	}
	u->next = NULL;
	u->fn = fn;
	u->arg = arg;
	u->len = b.len;
	memcpy(u->frame, b.p, b.len);
	ds_buf_free(&b);
	*c->tail = u;
	c->tail = &u->next;
	c->nq++;
	/* Send from the loop, never from inside this call. */
	if (c->fly == NULL)
		ev_idle_start(c->loop, &c->kick);
	return 0;
}

size_t
ds_jclient_pending(const struct ds_jclient *c)
{
	return c->nq + c->nfly;
}

static void
free_list(struct unit *u)
{
	struct unit *n;

	for (; u != NULL; u = n) {
		n = u->next;
		free(u);
	}
}

void
ds_jclient_close(struct ds_jclient *c)
{
	if (c == NULL)
		return;
	c->closing = 1;
	ev_idle_stop(c->loop, &c->kick);
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_stop(c->loop, &c->rec_again);
	ds_pull_cli_close(c->cli);
	free_list(c->fly);
	free_list(c->head);
	ds_buf_free(&c->msg);
	free(c);
}

/*
 * Recovery.
 */

static int
jread_ask(struct ds_jread *r)
{
	struct ds_jread_msg q;
	struct ds_jdata_msg d;
	struct ds_buf req = DS_BUF_INIT;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	int rc;

	q.writer = r->writer;
	q.epoch = r->epoch;
	q.max_bytes = r->max_bytes;
	q.cursor = r->cursor;
	rc = ds_msg_jread_put(&req, &q);
	if (rc == 0)
		rc = ds_pull_call(r->addr, req.p, req.len, &r->reply,
		    r->timeout);
	ds_buf_free(&req);
	if (rc == -1)
		return -1;
	if (ds_msg_next(r->reply.p, r->reply.len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_JDATA ||
	    ds_msg_jdata_get(&d, f.payload, f.len, &why) == -1 ||
	    d.writer != r->writer) {
		errno = EBADMSG;
		return -1;
	}
	r->status = d.status;
	if (d.status == DS_J_FENCED) {
		r->epoch = d.epoch;
		errno = EPERM;
		return -1;
	}
	if (d.status != DS_J_OK || d.cursor != r->cursor ||
	    (d.next == d.cursor && d.next != d.total) ||
	    d.next - d.cursor != r->reply.len - off) {
		errno = EBADMSG;
		return -1;
	}
	r->off = off;
	r->cursor = d.next;
	r->total = d.total;
	r->started = 1;
	return 0;
}

int
ds_jread_open(struct ds_jread *r, const char *addr, uint64_t writer,
    uint32_t epoch, double timeout)
{
	memset(r, 0, sizeof(*r));
	if ((r->addr = strdup(addr)) == NULL)
		return -1;
	r->writer = writer;
	r->epoch = epoch;
	r->timeout = timeout;
	r->max_bytes = 1u << 20;
	return jread_ask(r);
}

int
ds_jread_next(struct ds_jread *r, struct ds_frame *f)
{
	const char *why;
	int rc;

	for (;;) {
		rc = ds_msg_next(r->reply.p, r->reply.len, &r->off, f, &why);
		if (rc != 0)
			return rc;
		if (r->cursor >= r->total)
			return 0;
		if (jread_ask(r) == -1)
			return -1;
	}
}

void
ds_jread_close(struct ds_jread *r)
{
	free(r->addr);
	r->addr = NULL;
	ds_buf_free(&r->reply);
}
