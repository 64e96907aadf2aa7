/*
 * pull.c: request/reply with long polling over nanomsg (DESIGN 4), the
 * only file that includes nanomsg.  The server is one raw REP socket: a
 * request is received with its backtrace (the SP header, as control
 * data), which is kept with the request while it is parked and handed
 * back to nn_sendmsg with the reply, so any number of requests can wait
 * at once.  The client is one REQ socket with one request outstanding;
 * REQ's own resend is pushed out of reach, so a request is sent once and
 * either answered or timed out by us (then the socket is reopened).
 * NN_RCVFD is level-triggered: after it fires we receive with
 * NN_DONTWAIT until EAGAIN.  Never prints, never exits.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "pull.h"

#define CTL_MAX		512	/* room for the backtrace of a long route */
#define EPS		1e-3	/* deadlines this close count as passed */

struct parked {
	struct ds_pull_req	 req;
	void			*body;		/* nanomsg chunk */
	unsigned char		*ctl;		/* copy of the SP_HDR cmsg */
	size_t			 ctllen;
	struct parked		*next;
};

struct ds_pull_srv {
	struct ev_loop			*loop;
	int				 sock;
	ev_io				 rd;
	ev_timer			 tm;
	const struct ds_pull_srv_ops	*ops;
	void				*arg;
	struct parked			*head;	/* FIFO of parked requests */
	struct parked			**tail;
	size_t				 nparked;
	struct ds_buf			 reply;
	int				 waking;
	int				 rewake;
};

struct ds_pull_cli {
	struct ev_loop		*loop;
	char			*addr;
	int			 sock;
	ev_io			 rd;
	ev_timer		 tm;
	ds_pull_reply_fn	 fn;
	void			*arg;
	int			 busy;
};

const char *
ds_pull_strerror(int e)
{
	return nn_strerror(e);
}

/* The file of an ipc:// address, or NULL. */
static const char *
ipc_path(const char *addr)
{
	if (strncmp(addr, "ipc://", 6) != 0)
		return NULL;
	return addr + 6;
}

static int
set_common(int s)
{
	int max = DS_PULL_MSGMAX;

	return nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max,
	    sizeof(max));
}

static int
rcvfd(int s)
{
	int fd;
	size_t sz = sizeof(fd);

	if (nn_getsockopt(s, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) == -1)
		return -1;
	return fd;
}

/*
 * Server.
 */

static void
srv_rearm(struct ds_pull_srv *s)
{
	struct parked *p;
	ev_tstamp min = 0, now;
	int any = 0;

	ev_timer_stop(s->loop, &s->tm);
	for (p = s->head; p != NULL; p = p->next)
		if (!any || p->req.deadline < min) {
			min = p->req.deadline;
			any = 1;
		}
	if (!any)
		return;
	now = ev_now(s->loop);
	ev_timer_set(&s->tm, min > now ? min - now : 0, 0);
	ev_timer_start(s->loop, &s->tm);
}

static void
srv_release(struct ds_pull_srv *s, struct parked *p)
{
	if (s->ops->forget != NULL)
		s->ops->forget(s->arg, &p->req);
	nn_freemsg(p->body);
	free(p->ctl);
	free(p);
}

static void
srv_send(struct ds_pull_srv *s, struct parked *p)
{
	struct nn_iovec iov;
	struct nn_msghdr h;

	if (s->reply.len > DS_PULL_MSGMAX)
		return;		/* the client times out; see pull.h */
	iov.iov_base = s->reply.p;
	iov.iov_len = s->reply.len;
	memset(&h, 0, sizeof(h));
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	h.msg_control = p->ctl;
	h.msg_controllen = p->ctllen;
	(void)nn_sendmsg(s->sock, &h, NN_DONTWAIT);
}

/*
 * Offer p to serve.  Returns 1 if p left the server (answered or
 * dropped, and released), 0 if it stays parked.
 */
static int
srv_offer(struct ds_pull_srv *s, struct parked *p, int final)
{
	int rc;

	p->req.final = final;
	ds_buf_reset(&s->reply);
	rc = s->ops->serve(s->arg, &p->req, &s->reply);
	if (rc == 0 && !final)
		return 0;
	if (rc == 1)
		srv_send(s, p);
	srv_release(s, p);
	return 1;
}

static void
srv_park(struct ds_pull_srv *s, struct parked *p)
{
	p->next = NULL;
	*s->tail = p;
	s->tail = &p->next;
	s->nparked++;
}

/* Walk the parked list, offering each (final if its deadline passed). */
static void
srv_sweep(struct ds_pull_srv *s, int only_due)
{
	struct parked *p, *list;
	ev_tstamp now = ev_now(s->loop);
	int due;

	list = s->head;
	s->head = NULL;
	s->tail = &s->head;
	s->nparked = 0;
	while (list != NULL) {
		p = list;
		list = p->next;
		due = p->req.deadline <= now + EPS;
		if ((only_due && !due) || !srv_offer(s, p, due))
			srv_park(s, p);
	}
}

static void
srv_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_pull_srv *s = w->data;

	(void)loop;
	(void)revents;
	s->waking = 1;
	srv_sweep(s, 1);
	while (s->rewake) {
		s->rewake = 0;
		srv_sweep(s, 0);
	}
	s->waking = 0;
	srv_rearm(s);
}

static void
srv_recv_one(struct ds_pull_srv *s, void *body, size_t len,
    const unsigned char *ctl)
{
	const struct nn_cmsghdr *c;
	struct parked *p;
	double wait;

	c = (const struct nn_cmsghdr *)(const void *)ctl;
	if (c->cmsg_len == 0 || c->cmsg_len > CTL_MAX ||
	    c->cmsg_level != PROTO_SP || c->cmsg_type != SP_HDR ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		nn_freemsg(body);
		return;
	}
	if ((p->ctl = malloc(c->cmsg_len)) == NULL) {
		free(p);
		nn_freemsg(body);
		return;
	}
	memcpy(p->ctl, ctl, c->cmsg_len);
	p->ctllen = c->cmsg_len;
	p->body = body;
	p->req.msg = body;
	p->req.len = len;
	wait = s->ops->wait_of != NULL ? s->ops->wait_of(s->arg, body, len) : 0;
	p->req.deadline = ev_now(s->loop) + (wait > 0 ? wait : 0);
	if (!srv_offer(s, p, wait <= 0)) {
		srv_park(s, p);
		srv_rearm(s);
	}
}

static void
srv_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_pull_srv *s = w->data;
	union {
		struct nn_cmsghdr	 h;
		unsigned char		 b[CTL_MAX];
	} ctl;
	struct nn_iovec iov;
	struct nn_msghdr h;
	void *body;
	int n;

	(void)loop;
	(void)revents;
	for (;;) {
		body = NULL;
		memset(&ctl, 0, sizeof(ctl));
		iov.iov_base = &body;
		iov.iov_len = NN_MSG;
		memset(&h, 0, sizeof(h));
		h.msg_iov = &iov;
		h.msg_iovlen = 1;
		h.msg_control = ctl.b;
		h.msg_controllen = sizeof(ctl.b);
		if ((n = nn_recvmsg(s->sock, &h, NN_DONTWAIT)) < 0)
			return;		/* EAGAIN; errors: the next try */
		srv_recv_one(s, body, (size_t)n, ctl.b);
	}
}

struct ds_pull_srv *
ds_pull_srv_open(struct ev_loop *loop, const char *addr,
    const struct ds_pull_srv_ops *ops, void *arg)
{
	struct ds_pull_srv *s;
	const char *path;
	int fd, e;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	s->ops = ops;
	s->arg = arg;
	s->tail = &s->head;
	if ((s->sock = nn_socket(AF_SP_RAW, NN_REP)) == -1)
		goto fail;
	if (set_common(s->sock) == -1)
		goto fail;
	if ((path = ipc_path(addr)) != NULL && unlink(path) == -1 &&
	    errno != ENOENT)
		goto fail;
	if (nn_bind(s->sock, addr) < 0)
		goto fail;
	if ((fd = rcvfd(s->sock)) == -1)
		goto fail;
	ev_io_init(&s->rd, srv_read_cb, fd, EV_READ);
	s->rd.data = s;
	ev_io_start(loop, &s->rd);
	ev_timer_init(&s->tm, srv_timer_cb, 0, 0);
	s->tm.data = s;
	return s;
fail:
	e = errno;
	if (s->sock >= 0)
		nn_close(s->sock);
	free(s);
	errno = e;
	return NULL;
}

void
ds_pull_srv_wake(struct ds_pull_srv *s)
{
	if (s->waking) {
		s->rewake = 1;
		return;
	}
	s->waking = 1;
	do {
		s->rewake = 0;
		srv_sweep(s, 0);
	} while (s->rewake);
	s->waking = 0;
	srv_rearm(s);
}

size_t
ds_pull_srv_parked(const struct ds_pull_srv *s)
{
	return s->nparked;
}

void
ds_pull_srv_close(struct ds_pull_srv *s)
{
	struct parked *p;

	if (s == NULL)
		return;
	ev_io_stop(s->loop, &s->rd);
	ev_timer_stop(s->loop, &s->tm);
	while ((p = s->head) != NULL) {
		s->head = p->next;
		s->nparked--;
		(void)srv_offer(s, p, 1);
	}
	nn_close(s->sock);
	ds_buf_free(&s->reply);
	free(s);
}

/*
 * Client.
 */

static void cli_read_cb(struct ev_loop *, ev_io *, int);

static int
cli_socket(struct ds_pull_cli *c)
{
	int ivl = INT_MAX, fd, e;

	if ((c->sock = nn_socket(AF_SP, NN_REQ)) == -1)
		return -1;
	if (set_common(c->sock) == -1 ||
	    nn_setsockopt(c->sock, NN_REQ, NN_REQ_RESEND_IVL, &ivl,
	    sizeof(ivl)) == -1 ||
	    nn_connect(c->sock, c->addr) < 0 ||
	    (fd = rcvfd(c->sock)) == -1) {
		e = errno;
		nn_close(c->sock);
		c->sock = -1;
		errno = e;
		return -1;
	}
	ev_io_init(&c->rd, cli_read_cb, fd, EV_READ);
	c->rd.data = c;
	ev_io_start(c->loop, &c->rd);
	return 0;
}

static void
cli_unsocket(struct ds_pull_cli *c)
{
	if (c->sock < 0)
		return;
	ev_io_stop(c->loop, &c->rd);
	nn_close(c->sock);
	c->sock = -1;
}

/*
 * One reply at most can arrive per request (REQ drops stale ones), so
 * take one and return without touching c after the callback: the owner
 * may send again, reset or close from it.
 */
static void
cli_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ds_pull_cli *c = w->data;
	void *msg = NULL;
	int n;

	(void)revents;
	if ((n = nn_recv(c->sock, &msg, NN_MSG, NN_DONTWAIT)) < 0)
		return;
	if (!c->busy) {
		nn_freemsg(msg);
		return;
	}
	c->busy = 0;
	ev_timer_stop(loop, &c->tm);
	c->fn(c->arg, msg, (size_t)n);
	nn_freemsg(msg);
}

static void
cli_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_pull_cli *c = w->data;

	(void)loop;
	(void)revents;
	ds_pull_cli_reset(c);
	c->fn(c->arg, NULL, 0);
}

struct ds_pull_cli *
ds_pull_cli_open(struct ev_loop *loop, const char *addr, ds_pull_reply_fn fn,
    void *arg)
{
	struct ds_pull_cli *c;
	int e;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	c->sock = -1;
	ev_timer_init(&c->tm, cli_timer_cb, 0, 0);
	c->tm.data = c;
	if ((c->addr = strdup(addr)) == NULL || cli_socket(c) == -1) {
		e = errno;
		free(c->addr);
		free(c);
		errno = e;
		return NULL;
	}
	return c;
}

int
ds_pull_cli_send(struct ds_pull_cli *c, const void *msg, size_t len,
    double timeout)
{
	if (c->busy) {
		errno = EBUSY;
		return -1;
	}
	if (len > DS_PULL_MSGMAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (c->sock < 0 && cli_socket(c) == -1)
		return -1;
	if (nn_send(c->sock, msg, len, NN_DONTWAIT) < 0)
		return -1;
	c->busy = 1;
	ev_timer_set(&c->tm, timeout > 0 ? timeout : 0, 0);
	ev_timer_start(c->loop, &c->tm);
	return 0;
}

int
ds_pull_cli_replace(struct ds_pull_cli *c, const void *msg, size_t len,
    double timeout)
{
	/* A new REQ request cancels the outstanding one; nanomsg drops its
	 * reply by request id. */
	if (c->busy) {
		ev_timer_stop(c->loop, &c->tm);
		c->busy = 0;
	}
	return ds_pull_cli_send(c, msg, len, timeout);
}

int
ds_pull_cli_busy(const struct ds_pull_cli *c)
{
	return c->busy;
}

void
ds_pull_cli_reset(struct ds_pull_cli *c)
{
	ev_timer_stop(c->loop, &c->tm);
	c->busy = 0;
	cli_unsocket(c);
	(void)cli_socket(c);	/* on failure the next send retries */
}

int
ds_pull_cli_wait(struct ds_pull_cli *c, double timeout)
{
	int ms, n;
	void *msg = NULL;

	if (!c->busy)
		return 0;
	ms = timeout > 0 ? (int)(timeout * 1000) : 0;
	if (nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms,
	    sizeof(ms)) == -1)
		return -1;
	n = nn_recv(c->sock, &msg, NN_MSG, 0);
	ms = -1;
	(void)nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms,
	    sizeof(ms));
	if (n < 0)
		return -1;
	c->busy = 0;
	ev_timer_stop(c->loop, &c->tm);
	c->fn(c->arg, msg, (size_t)n);
	nn_freemsg(msg);
	return 1;
}

void
ds_pull_cli_close(struct ds_pull_cli *c)
{
	if (c == NULL)
		return;
	ev_timer_stop(c->loop, &c->tm);
	cli_unsocket(c);
	free(c->addr);
	free(c);
}

/*
 * One-shot call.
 */

/* For ipc://: refuse at once when nobody listens on the file. */
static int
ipc_alive(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;	/* let nanomsg report it */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(fd);
	if (rc == -1 && (e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK)) {
		errno = ECONNREFUSED;
		return -1;
	}
	return 0;
}

int
ds_pull_call(const char *addr, const void *msg, size_t len,
    struct ds_buf *reply, double timeout)
{
	const char *path;
	void *buf = NULL;
	int s, ms, ivl = INT_MAX, n, e;

	if (len > DS_PULL_MSGMAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((path = ipc_path(addr)) != NULL && ipc_alive(path) == -1)
		return -1;
	ms = timeout > 0 ? (int)(timeout * 1000) : 0;
	if ((s = nn_socket(AF_SP, NN_REQ)) == -1)
		return -1;
	if (set_common(s) == -1 ||
	    nn_setsockopt(s, NN_REQ, NN_REQ_RESEND_IVL, &ivl,
	    sizeof(ivl)) == -1 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms)) ==
	    -1 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof(ms)) ==
	    -1 ||
	    nn_connect(s, addr) < 0 ||
	    nn_send(s, msg, len, 0) < 0 ||
	    (n = nn_recv(s, &buf, NN_MSG, 0)) < 0)
		goto fail;
	ds_buf_reset(reply);
	if (ds_buf_add(reply, buf, (size_t)n) == -1)
		goto fail;
	nn_freemsg(buf);
	nn_close(s);
	return 0;
fail:
	e = errno == EAGAIN ? ETIMEDOUT : errno;
	if (buf != NULL)
		nn_freemsg(buf);
	nn_close(s);
	errno = e;
	return -1;
}
