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
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "core/dir.h"
#include "core/mac.h"
#include "core/wire.h"
#include "net/pull.h"

#define CTL_MAX		512	/* room for the backtrace of a long route */
#define EPS		1e-3	/* deadlines this close count as passed */
#define UNSENT_MAX_S	10.0	/* drop a reply that could not leave */
#define RECONNECT_MS	5	/* first retry of a refused connect ... */
#define RECONNECT_MAX_MS 100	/* ... doubling up to this */

struct parked {
	struct ds_pull_req	 req;
	void			*body;		/* nanomsg chunk */
	unsigned char		*ctl;		/* copy of the SP_HDR cmsg */
	size_t			 ctllen;
	int			 priv;		/* asked over a private channel */
	struct parked		*next;
};

/* A reply nanomsg could not take yet (the pipe was busy): sent later. */
struct unsent {
	unsigned char		*ctl;
	size_t			 ctllen;
	unsigned char		*body;
	size_t			 len;
	ev_tstamp		 since;
	struct unsent		*next;
};

struct ds_pull_srv {
	struct ev_loop			*loop;
	struct unsent			*uhead;
	struct unsent			**utail;
	ev_timer			 utm;
	int				 sock;
	ev_io				 rd;
	ev_timer			 tm;
	const struct ds_pull_srv_ops	*ops;
	void				*arg;
	struct parked			*head;	/* FIFO of parked requests */
	struct parked			**tail;
	size_t				 nparked;
	struct ds_buf			 reply;
	struct nn_iovec			*iov;	/* [0] reply, then refs */
	size_t				 niov, capiov;
	size_t				 reflen;	/* bytes in refs */
	unsigned char			 trailer[DS_MAC_LEN];
	int				 waking;
	int				 rewake;
};

struct ds_pull_cli {
	struct ev_loop		*loop;
	char			*addr;
	int			 priv;		/* ipc:// in a private directory */
	int			 sock;
	ev_io			 rd;
	ev_timer		 tm;
	ds_pull_reply_fn	 fn;
	void			*arg;
	int			 busy;
	uint32_t		 id;		/* of the request out */
	uint32_t		 next;		/* request id counter */
	struct ds_buf		 unsent;	/* request not yet taken (EAGAIN) */
	int			 hasunsent;
	ev_timer		 sendtm;	/* retries sending it */
};

/*
 * The job key: every message sent is signed with it and every message
 * received is checked against it before anything sees its bytes
 * (core/mac.h).  One per process.
 */
static struct ds_mac	mac;
static int		keyed;
static uint64_t		refused;

int
ds_pull_setkey(const unsigned char key[DS_KEY_LEN])
{
	if (ds_mac_init(&mac, key) == -1)
		return -1;
	keyed = 1;
	return 0;
}

uint64_t
ds_pull_refused(void)
{
	return refused;
}

/*
 * The bytes a DS_MAC_REPH trailer covers: the message's first frame,
 * from its header's length field (covered itself, so a changed one fails
 * the check).  0 if there is no whole first frame.
 */
static size_t
first_frame(const unsigned char *msg, size_t len)
{
	size_t n;

	if (len < DS_FRAME_HDR)
		return 0;
	n = DS_FRAME_HDR + (size_t)ds_get_le32(msg + 8);
	return n <= len ? n : 0;
}

/* 0 if msg/len (trailer included) is authentic for dir over its first
 * cover bytes ((size_t)-1: all); else counted. */
static int
authentic(int dir, const unsigned char *msg, size_t len, size_t cover)
{
	if (ds_mac_check(&mac, dir, msg, len, cover) == 0)
		return 0;
	refused++;
	return -1;
}

/* The trailer's direction byte, or 0 when there is none. */
static int
direction(const unsigned char *msg, size_t len)
{
	return len >= DS_MAC_LEN ? msg[len - DS_MAC_LEN] : 0;
}

/*
 * A request: DS_MAC_REQ, or DS_MAC_REQP from a client on a private
 * channel (*priv set: its reply may be DS_MAC_REPH).  0, or -1 counted.
 */
static int
request_ok(const unsigned char *msg, size_t len, int *priv)
{
	*priv = direction(msg, len) == DS_MAC_REQP;
	return authentic(*priv ? DS_MAC_REQP : DS_MAC_REQ, msg, len,
	    (size_t)-1);
}

/*
 * A reply: DS_MAC_REP, or DS_MAC_REPH over its first frame if we asked
 * over a private channel (priv).  0, or -1 counted.
 */
static int
reply_ok(const unsigned char *msg, size_t len, int priv)
{
	size_t cover;

	if (!priv || direction(msg, len) != DS_MAC_REPH)
		return authentic(DS_MAC_REP, msg, len, (size_t)-1);
	if ((cover = first_frame(msg, len - DS_MAC_LEN)) == 0) {
		refused++;
		return -1;
	}
	return authentic(DS_MAC_REPH, msg, len, cover);
}

static int
need_key(void)
{
	if (keyed)
		return 0;
	errno = ENOKEY;
	return -1;
}

void
ds_pull_keep_memory(void)
{
#ifdef __GLIBC__
	/* glibc's largest mmap threshold; keep up to 256 MB of free heap. */
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

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

/*
 * Replies are megabytes: with nanomsg's default 128 KB socket buffers an
 * ipc reply crosses in dozens of write/read rounds, each waking both I/O
 * threads.  4 MB (Linux's default net.core.wmem_max; the kernel clamps a
 * larger value) took a 2 000 000-tuple topology from 3.00 s to 2.67 s.
 */
#define SOCKBUF		(4 << 20)

static int
set_common(int s)
{
	int max = DS_PULL_MSGMAX, buf = SOCKBUF;

	(void)nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDBUF, &buf, sizeof(buf));
	(void)nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf));
	return nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max,
	    sizeof(max));
}

/*
 * Instances start together and a client often connects before its server
 * has bound: nanomsg's default first retry (100 ms) would then delay every
 * job's start by that much.  Retry soon, backing off to the default.
 */
static int
set_reconnect(int s)
{
	int ivl = RECONNECT_MS, max = RECONNECT_MAX_MS;

	if (nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl,
	    sizeof(ivl)) == -1)
		return -1;
	return nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &max,
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

/* Send the gather list iov[0..n); nanomsg copies it into one message. */
static int
srv_sendmsg(struct ds_pull_srv *s, struct nn_iovec *iov, size_t n,
    const void *ctl, size_t ctllen)
{
	struct nn_msghdr h;

	memset(&h, 0, sizeof(h));
	h.msg_iov = iov;
	h.msg_iovlen = (int)n;
	h.msg_control = (void *)(uintptr_t)ctl;
	h.msg_controllen = ctllen;
	return nn_sendmsg(s->sock, &h, NN_DONTWAIT) < 0 ? -1 : 0;
}

/*
 * Retry the replies nanomsg refused with EAGAIN: its pipe to a client
 * takes one message at a time, so a reply right behind a big one finds
 * it busy.  Dropping it would leave that client waiting for its timeout.
 * A reply that cannot leave for UNSENT_MAX_S (a stopped client) is
 * dropped.
 */
static void
srv_unsent_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_pull_srv *s = w->data;
	struct unsent *u, **up;

	(void)revents;
	for (up = &s->uhead; (u = *up) != NULL;) {
		struct nn_iovec iov = { u->body, u->len };

		if (srv_sendmsg(s, &iov, 1, u->ctl, u->ctllen) == 0 ||
		    errno != EAGAIN || ev_now(loop) - u->since > UNSENT_MAX_S) {
			*up = u->next;
			free(u->ctl);
			free(u->body);
			free(u);
			continue;
		}
		up = &u->next;
	}
	s->utail = up;
	if (s->uhead == NULL)
		ev_timer_stop(loop, w);
}

static void
srv_send(struct ds_pull_srv *s, struct parked *p)
{
	struct ds_mac_run r;
	struct unsent *u;
	size_t len = s->reply.len + s->reflen + DS_MAC_LEN, i, off;

	if (len > DS_PULL_MSGMAX || ds_pull_srv_ref(s, s->trailer,
	    DS_MAC_LEN) == -1)
		return;		/* the client times out; see pull.h */
	s->iov[0].iov_base = s->reply.p;
	s->iov[0].iov_len = s->reply.len;
	if (p->priv && (off = first_frame(s->reply.p, s->reply.len)) > 0) {
		/* A private channel: the first frame proves the sender. */
		ds_mac_begin(&mac, DS_MAC_REPH, &r, s->trailer);
		ds_mac_add(&r, s->reply.p, off);
	} else {
		ds_mac_begin(&mac, DS_MAC_REP, &r, s->trailer);
		for (i = 0; i + 1 < s->niov; i++)
			ds_mac_add(&r, s->iov[i].iov_base, s->iov[i].iov_len);
	}
	ds_mac_end(&r, s->trailer);
	if (srv_sendmsg(s, s->iov, s->niov, p->ctl, p->ctllen) == 0 ||
	    errno != EAGAIN)
		return;
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    (u->body = malloc(len ? len : 1)) == NULL ||
	    (u->ctl = malloc(p->ctllen)) == NULL) {
		if (u != NULL)
			free(u->body);
		free(u);
		return;		/* the client times out */
	}
	for (i = off = 0; i < s->niov; i++) {
		memcpy(u->body + off, s->iov[i].iov_base, s->iov[i].iov_len);
		off += s->iov[i].iov_len;
	}
	u->len = len;
	memcpy(u->ctl, p->ctl, p->ctllen);
	u->ctllen = p->ctllen;
	u->since = ev_now(s->loop);
	*s->utail = u;
	s->utail = &u->next;
	if (!ev_is_active(&s->utm))
		ev_timer_start(s->loop, &s->utm);
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
	s->niov = 1;
	s->reflen = 0;
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
	int priv;

	c = (const struct nn_cmsghdr *)(const void *)ctl;
	if (request_ok(body, len, &priv) == -1) {
		nn_freemsg(body);	/* never answered: see pull.h */
		return;
	}
	len -= DS_MAC_LEN;
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
	p->priv = priv;
	p->body = body;
	p->req.msg = body;
	p->req.len = len;
	wait = s->ops->wait_of != NULL ? s->ops->wait_of(s->arg, &p->req) : 0;
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

/*
 * Clear the way for binding the ipc:// socket path: a socket file is
 * removed (stale, or a zombie's: it loses its listener, DESIGN 8);
 * anything else -- a file, a symbolic link, a directory -- is left alone
 * and refused (EEXIST).  lstat and unlink never follow a link.
 */
static int
ipc_clear(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
}

struct ds_pull_srv *
ds_pull_srv_open(struct ev_loop *loop, const char *addr,
    const struct ds_pull_srv_ops *ops, void *arg)
{
	struct ds_pull_srv *s;
	const char *path;
	int fd, e;

	if (need_key() == -1 || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	s->ops = ops;
	s->arg = arg;
	s->tail = &s->head;
	s->utail = &s->uhead;
	s->capiov = 64;
	s->niov = 1;
	if ((s->iov = calloc(s->capiov, sizeof(*s->iov))) == NULL) {
		free(s);
		return NULL;
	}
	ev_timer_init(&s->utm, srv_unsent_cb, 0.001, 0.001);
	s->utm.data = s;
	if ((s->sock = nn_socket(AF_SP_RAW, NN_REP)) == -1)
		goto fail;
	if (set_common(s->sock) == -1)
		goto fail;
	if ((path = ipc_path(addr)) != NULL && ipc_clear(path) == -1)
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
	free(s->iov);
	free(s);
	errno = e;
	return NULL;
}

int
ds_pull_srv_ref(struct ds_pull_srv *s, const void *p, size_t len)
{
	struct nn_iovec *v;
	size_t cap;

	if (s->niov == s->capiov) {
		cap = s->capiov * 2;
		if ((v = realloc(s->iov, cap * sizeof(*v))) == NULL)
			return -1;
		s->iov = v;
		s->capiov = cap;
	}
	s->iov[s->niov].iov_base = (void *)(uintptr_t)p;
	s->iov[s->niov++].iov_len = len;
	s->reflen += len;
	return 0;
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
	ev_timer_stop(s->loop, &s->utm);
	while (s->uhead != NULL) {
		struct unsent *u = s->uhead;

		s->uhead = u->next;
		free(u->ctl);
		free(u->body);
		free(u);
	}
	nn_close(s->sock);
	ds_buf_free(&s->reply);
	free(s->iov);
	free(s);
}

/*
 * Client.
 */

static void cli_read_cb(struct ev_loop *, ev_io *, int);

/*
 * The client uses a raw REQ socket and matches replies to its request by
 * id itself.  The cooked REQ socket keeps a copy of the request to resend
 * it, and nanomsg 1.1.5 can free that copy twice when such a socket is
 * closed with a request out (nn_req_term: "NN_CHUNK_TAG" assertion);
 * closing with a request out is exactly what a timeout or an exit does.
 * A raw socket keeps nothing, never resends, and a newer request simply
 * makes the older one's reply stale (dropped here by id).
 */
static int
cli_socket(struct ds_pull_cli *c)
{
	int fd, e;

	if ((c->sock = nn_socket(AF_SP_RAW, NN_REQ)) == -1)
		return -1;
	if (set_common(c->sock) == -1 ||
	    set_reconnect(c->sock) == -1 ||
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

/* Send msg as a new request with a fresh id.  0 or -1 (EAGAIN: no peer). */
static int
cli_sendraw(struct ds_pull_cli *c, const void *msg, size_t len)
{
	union {
		struct nn_cmsghdr	 h;
		unsigned char		 b[NN_CMSG_SPACE(sizeof(size_t) + 4)];
	} ctl;
	struct nn_iovec iov[2];
	struct nn_msghdr h;
	struct ds_mac_run r;
	unsigned char *d, trailer[DS_MAC_LEN];
	size_t four = 4;
	uint32_t id;

	/*
	 * The SP_HDR property's data is a size_t length and then the
	 * header: for REQ, the request id, big-endian, top bit set.
	 */
	id = (c->next++ & 0x7fffffffu) | 0x80000000u;
	memset(&ctl, 0, sizeof(ctl));
	ctl.h.cmsg_len = NN_CMSG_LEN(sizeof(size_t) + 4);
	ctl.h.cmsg_level = PROTO_SP;
	ctl.h.cmsg_type = SP_HDR;
	d = NN_CMSG_DATA(&ctl.h);
	memcpy(d, &four, sizeof(four));
	d += sizeof(four);
	d[0] = id >> 24;
	d[1] = (id >> 16) & 0xff;
	d[2] = (id >> 8) & 0xff;
	d[3] = id & 0xff;
	ds_mac_begin(&mac, c->priv ? DS_MAC_REQP : DS_MAC_REQ, &r, trailer);
	ds_mac_add(&r, msg, len);
	ds_mac_end(&r, trailer);
	iov[0].iov_base = (void *)(uintptr_t)msg;
	iov[0].iov_len = len;
	iov[1].iov_base = trailer;
	iov[1].iov_len = sizeof(trailer);
	memset(&h, 0, sizeof(h));
	h.msg_iov = iov;
	h.msg_iovlen = 2;
	h.msg_control = ctl.b;
	h.msg_controllen = sizeof(ctl.b);
	if (nn_sendmsg(c->sock, &h, NN_DONTWAIT) < 0)
		return -1;
	c->id = id;
	return 0;
}

/*
 * Receive the reply to the request out, dropping stale ones.  Returns
 * its length with *body set (free with nn_freemsg), or -1 (EAGAIN, or
 * ETIMEDOUT when blocking with a receive timeout).
 */
static int
cli_recvraw(struct ds_pull_cli *c, void **body, int flags)
{
	union {
		struct nn_cmsghdr	 h;
		unsigned char		 b[CTL_MAX];
	} ctl;
	const unsigned char *d;
	struct nn_iovec iov;
	struct nn_msghdr h;
	void *msg;
	uint32_t id;
	int n;

	for (;;) {
		msg = NULL;
		memset(&ctl, 0, sizeof(ctl));
		iov.iov_base = &msg;
		iov.iov_len = NN_MSG;
		memset(&h, 0, sizeof(h));
		h.msg_iov = &iov;
		h.msg_iovlen = 1;
		h.msg_control = ctl.b;
		h.msg_controllen = sizeof(ctl.b);
		if ((n = nn_recvmsg(c->sock, &h, flags)) < 0)
			return -1;
		id = 0;
		if (ctl.h.cmsg_level == PROTO_SP && ctl.h.cmsg_type == SP_HDR &&
		    ctl.h.cmsg_len >= NN_CMSG_LEN(sizeof(size_t) + 4) &&
		    ctl.h.cmsg_len <= sizeof(ctl.b)) {
			size_t hl;

			d = NN_CMSG_DATA(&ctl.h);
			memcpy(&hl, d, sizeof(hl));
			d += sizeof(hl);
			if (hl >= 4)
				id = (uint32_t)d[0] << 24 |
				    (uint32_t)d[1] << 16 |
				    (uint32_t)d[2] << 8 | d[3];
		}
		if (c->busy && id == c->id &&
		    reply_ok(msg, (size_t)n, c->priv) == 0) {
			*body = msg;
			return n - DS_MAC_LEN;
		}
		nn_freemsg(msg);	/* a stale or forged reply */
	}
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
 * Take the reply to the request out, if it came, and return without
 * touching c after the callback: the owner may send again, reset or
 * close from it.
 */
static void
cli_deliver(struct ds_pull_cli *c, void *msg, int n)
{
	c->busy = 0;
	ev_timer_stop(c->loop, &c->tm);
	c->fn(c->arg, msg, (size_t)n);
	nn_freemsg(msg);
}

/* The reply to the request out if it has come: 1, else 0. */
static int
cli_take(struct ds_pull_cli *c)
{
	void *msg = NULL;
	int n;

	if ((n = cli_recvraw(c, &msg, NN_DONTWAIT)) < 0)
		return 0;
	cli_deliver(c, msg, n);
	return 1;
}

static void
cli_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	(void)cli_take(w->data);
}

static void
cli_sendtm_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ds_pull_cli *c = w->data;

	(void)revents;
	if (!c->busy || !c->hasunsent || c->sock < 0 ||
	    cli_sendraw(c, c->unsent.p, c->unsent.len) == 0) {
		c->hasunsent = 0;
		ev_timer_stop(loop, w);
	}
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

/*
 * Whether replies at addr can only come from a process of ours: an
 * ipc:// socket in a private directory (core/dir.h), where no one else
 * can bind, on a connection no one else can write into.  Such a client
 * lets the server cover only a reply's first frame (DS_MAC_REPH): it
 * proves the sender holds the job key, and the rest of the message comes
 * from the same sender (ds-wire(5), Authentication).
 */
static int
private_channel(const char *addr)
{
	const char *path = ipc_path(addr), *name;
	int fd;

	if (path == NULL || strchr(path, '/') == NULL ||
	    (fd = ds_dir_open_parent(path, 0, &name, NULL)) == -1)
		return 0;
	close(fd);
	return 1;
}

struct ds_pull_cli *
ds_pull_cli_open(struct ev_loop *loop, const char *addr, ds_pull_reply_fn fn,
    void *arg)
{
	struct ds_pull_cli *c;
	int e;

	if (need_key() == -1 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = loop;
	c->fn = fn;
	c->arg = arg;
	c->sock = -1;
	ev_timer_init(&c->tm, cli_timer_cb, 0, 0);
	c->tm.data = c;
	ev_timer_init(&c->sendtm, cli_sendtm_cb, 0, 0);
	c->sendtm.data = c;
	c->priv = private_channel(addr);
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
	if (len > DS_PULL_MSGMAX - DS_MAC_LEN) {
		errno = EMSGSIZE;
		return -1;
	}
	if (c->sock < 0 && cli_socket(c) == -1)
		return -1;
	c->hasunsent = 0;
	ev_timer_stop(c->loop, &c->sendtm);
	if (cli_sendraw(c, msg, len) == -1) {
		/*
		 * No peer yet (connecting, or reconnecting after a server
		 * restart) or its pipe is full: a raw socket does not queue,
		 * so keep the request and try again every few ms until it
		 * leaves or its timeout ends it, as a cooked REQ would.
		 */
		if (errno != EAGAIN)
			return -1;
		ds_buf_reset(&c->unsent);
		if (ds_buf_add(&c->unsent, msg, len) == -1)
			return -1;
		c->hasunsent = 1;
		ev_timer_set(&c->sendtm, 0.002, 0.002);
		ev_timer_start(c->loop, &c->sendtm);
	}
	c->busy = 1;
	ev_timer_set(&c->tm, timeout > 0 ? timeout : 0, 0);
	ev_timer_start(c->loop, &c->tm);
	return 0;
}

int
ds_pull_cli_replace(struct ds_pull_cli *c, const void *msg, size_t len,
    double timeout)
{
	/* The old request's reply, if it comes, is stale by its id. */
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

int
ds_pull_cli_poll(struct ds_pull_cli *c)
{
	if (!c->busy || c->sock < 0)
		return 0;
	if (c->hasunsent && cli_sendraw(c, c->unsent.p, c->unsent.len) == 0) {
		c->hasunsent = 0;
		ev_timer_stop(c->loop, &c->sendtm);
	}
	return cli_take(c);
}

void
ds_pull_cli_reset(struct ds_pull_cli *c)
{
	ev_timer_stop(c->loop, &c->tm);
	ev_timer_stop(c->loop, &c->sendtm);
	c->hasunsent = 0;
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
	/* A request not yet taken by the socket: keep trying to send it. */
	while (c->hasunsent) {
		struct timespec ts = { 0, 2000000 };

		if (cli_sendraw(c, c->unsent.p, c->unsent.len) == 0) {
			c->hasunsent = 0;
			ev_timer_stop(c->loop, &c->sendtm);
			break;
		}
		if (errno != EAGAIN || ms <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&ts, NULL);
		ms -= 2;
	}
	if (nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms,
	    sizeof(ms)) == -1)
		return -1;
	n = cli_recvraw(c, &msg, 0);
	ms = -1;
	(void)nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms,
	    sizeof(ms));
	if (n < 0)
		return -1;
	cli_deliver(c, msg, n);
	return 1;
}

void
ds_pull_cli_close(struct ds_pull_cli *c)
{
	if (c == NULL)
		return;
	ev_timer_stop(c->loop, &c->tm);
	ev_timer_stop(c->loop, &c->sendtm);
	cli_unsocket(c);
	ds_buf_free(&c->unsent);
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
	struct ds_mac_run r;
	const char *path;
	unsigned char *req;
	void *buf = NULL;
	int s, ms, ivl = INT_MAX, n, e;

	if (need_key() == -1)
		return -1;
	if (len > DS_PULL_MSGMAX - DS_MAC_LEN) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((path = ipc_path(addr)) != NULL && ipc_alive(path) == -1)
		return -1;
	if ((req = malloc(len + DS_MAC_LEN)) == NULL)
		return -1;
	memcpy(req, msg, len);
	ds_mac_begin(&mac, DS_MAC_REQ, &r, req + len);
	ds_mac_add(&r, msg, len);
	ds_mac_end(&r, req + len);
	ms = timeout > 0 ? (int)(timeout * 1000) : 0;
	if ((s = nn_socket(AF_SP, NN_REQ)) == -1) {
		free(req);
		return -1;
	}
	if (set_common(s) == -1 ||
	    nn_setsockopt(s, NN_REQ, NN_REQ_RESEND_IVL, &ivl,
	    sizeof(ivl)) == -1 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof(ms)) ==
	    -1 ||
	    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof(ms)) ==
	    -1 ||
	    nn_connect(s, addr) < 0 ||
	    nn_send(s, req, len + DS_MAC_LEN, 0) < 0 ||
	    (n = nn_recv(s, &buf, NN_MSG, 0)) < 0)
		goto fail;
	if (reply_ok(buf, (size_t)n, 0) == -1) {
		errno = EBADMSG;
		goto fail;
	}
	ds_buf_reset(reply);
	if (ds_buf_add(reply, buf, (size_t)n - DS_MAC_LEN) == -1)
		goto fail;
	nn_freemsg(buf);
	nn_close(s);
	free(req);
	return 0;
fail:
	e = errno == EAGAIN ? ETIMEDOUT : errno;
	if (buf != NULL)
		nn_freemsg(buf);
	nn_close(s);
	free(req);
	errno = e;
	return -1;
}
