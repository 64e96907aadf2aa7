/*
 * pull.h: request/reply transport with long polling (DESIGN 4).  This is
 * the only module that includes the nanomsg headers; everything else speaks
 * frames (ds-wire(5)) through it, so NNG or plain sockets could replace it.
 *
 * A server binds one raw REP socket (AF_SP_RAW) and so can hold many
 * requests at once: each received request is handed to the owner's serve
 * callback, which either answers at once or parks it; parked requests are
 * offered again on ds_pull_srv_wake() and answered for good when their
 * wait runs out.  A client connects one REQ socket, has at most one request
 * outstanding, and gets its reply (or a timeout) through a callback in the
 * owner's libev loop.  Addresses are nanomsg URLs (ipc:// or tcp://); for
 * ipc:// the server unlinks a stale socket file before binding (a stopped
 * zombie may still hold it open: it loses its listener, see DESIGN 8), and
 * never anything else at that path.
 * NN_RCVMAXSIZE is set explicitly on every socket to DS_PULL_MSGMAX, and
 * the sending side refuses a message larger than that (EMSGSIZE) instead of
 * letting nanomsg drop the connection silently.
 *
 * Every message is authenticated with the job key (ds_pull_setkey, once
 * per process, before any socket is opened: opening one without a key
 * is ENOKEY).  The sender appends a trailer (core/mac.h) and the
 * receiver checks it before the message goes further: a request that
 * fails is dropped unanswered, a reply that fails is dropped as stale
 * (the request then times out); each is counted (ds_pull_refused).
 * Owners never see the trailer.
 *
 * Never prints, never exits: errors are -1 with errno, and a text in
 * ds_pull_strerror().  Create sockets only after every fork (nanomsg's
 * worker thread does not survive fork).
 */
#ifndef DS_PULL_H
#define DS_PULL_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "core/frame.h"
#include "core/mac.h"

#define DS_PULL_MSGMAX	(DS_FRAME_MAX + (1u << 20))	/* see frame.h */

struct ds_pull_srv;
struct ds_pull_cli;

/*
 * One received request.  msg/len is the request message (frames, see
 * msg.h), valid until the request is answered.  deadline is the
 * ev_now() time at which a parked request must be answered; final is set
 * when serve is called because the deadline passed (the owner must then
 * answer, typically with an empty reply).  user is the owner's, e.g. the
 * decoded request.
 */
struct ds_pull_req {
	const unsigned char	*msg;
	size_t			 len;
	ev_tstamp		 deadline;
	int			 final;
	void			*user;
};

/*
 * serve: answer req by appending the reply message to *reply and returning
 * 1, or park it by returning 0 (not allowed when req->final).  A parked
 * request keeps its place; serve is called again for it on every
 * ds_pull_srv_wake and once more at its deadline.  Returning -1 drops the
 * request without an answer (the client will time out).  forget is called
 * once for every request that leaves the server (answered or dropped), so
 * the owner can free req->user; may be NULL.  Neither may close the
 * server.  A reply over DS_PULL_MSGMAX is not sent (the client times out),
 * so owners bound their replies (PULL max_bytes).
 */
struct ds_pull_srv_ops {
	int	(*serve)(void *arg, struct ds_pull_req *, struct ds_buf *reply);
	void	(*forget)(void *arg, struct ds_pull_req *);
	/*
	 * The wait (seconds) of a new request, from req->msg; <= 0: answer
	 * now.  It may decode the request into req->user for serve.
	 */
	double	(*wait_of)(void *arg, struct ds_pull_req *);
};

/*
 * Bind addr and start watching it in loop.  NULL with errno on failure:
 * EEXIST when an ipc:// path exists and is not a socket (a file, a
 * symbolic link, a directory: left alone).
 */
struct ds_pull_srv *ds_pull_srv_open(struct ev_loop *, const char *addr,
	    const struct ds_pull_srv_ops *, void *arg);
/*
 * For serve only: add len bytes at p to the reply being built, after the
 * bytes in *reply and those added before, without copying them now.  They
 * must stay unchanged until serve returns: the server then copies the
 * reply once, straight into the message it hands to nanomsg (for bulk
 * data already framed elsewhere, e.g. retained bundles).  Dropped if serve
 * does not answer.  0, or -1 with ENOMEM.
 */
int	ds_pull_srv_ref(struct ds_pull_srv *, const void *p, size_t len);
/* Offer every parked request to serve again (new data arrived). */
void	ds_pull_srv_wake(struct ds_pull_srv *);
/* Number of parked requests. */
size_t	ds_pull_srv_parked(const struct ds_pull_srv *);
/*
 * Answer every parked request (final), then close.  nanomsg may drop
 * replies still queued at close (nothing lingers): clients time out.
 */
void	ds_pull_srv_close(struct ds_pull_srv *);

/*
 * Client.  on_reply gets the reply message, or msg NULL and len 0 when the
 * request timed out (no reply within its timeout): the client has then
 * closed and reopened its socket, so the next request reconnects (e.g.
 * to a replacement server that took over the address).
 */
typedef void (*ds_pull_reply_fn)(void *arg, const unsigned char *msg,
	    size_t len);

struct ds_pull_cli *ds_pull_cli_open(struct ev_loop *, const char *addr,
	    ds_pull_reply_fn, void *arg);
/*
 * Send one request (a whole message of frames); timeout in seconds.  0, or
 * -1 with EBUSY (a request is outstanding), EMSGSIZE, or a socket error.
 */
int	ds_pull_cli_send(struct ds_pull_cli *, const void *msg, size_t len,
	    double timeout);
/*
 * Like send, but an outstanding request is cancelled first (its reply,
 * if it still comes, is dropped): for re-sending a parked request that
 * now has more to say (a newer ack).
 */
int	ds_pull_cli_replace(struct ds_pull_cli *, const void *msg, size_t len,
	    double timeout);
int	ds_pull_cli_busy(const struct ds_pull_cli *);
/*
 * Outside the event loop (a long computation): take the reply to the
 * request out if it has come, calling the reply callback.  1 if it did.
 */
int	ds_pull_cli_poll(struct ds_pull_cli *);
/* Drop any outstanding request and reopen the socket. */
void	ds_pull_cli_reset(struct ds_pull_cli *);
void	ds_pull_cli_close(struct ds_pull_cli *);
/*
 * Block up to timeout seconds for the outstanding reply and deliver it
 * through the callback (for a last message before exit, outside the
 * loop's callbacks).  1 if delivered, 0 if nothing was outstanding, -1
 * with errno (ETIMEDOUT) otherwise; the request stays outstanding then.
 */
int	ds_pull_cli_wait(struct ds_pull_cli *, double timeout);

/*
 * Blocking one-shot call for command-line tools (ds-master status): send
 * msg to addr, wait up to timeout seconds, put the reply in *reply.  0, or
 * -1 with ETIMEDOUT, ECONNREFUSED (no such socket file) or another errno.
 */
int	ds_pull_call(const char *addr, const void *msg, size_t len,
	    struct ds_buf *reply, double timeout);

/*
 * For processes that move bulk data through this module (topology
 * instances, ds-router): every message is a fresh allocation of up to
 * DS_PULL_MSGMAX bytes, here and inside nanomsg, so ask the C library to
 * keep freed memory for reuse instead of returning it to the system and
 * faulting it in again (measured: a third of the page faults of a
 * topology).  Call once, early.  Never fails; a no-op outside glibc.
 */
void	ds_pull_keep_memory(void);

/* Set the job key.  0, or -1 (no randomness for nonces). */
int	ds_pull_setkey(const unsigned char key[DS_KEY_LEN]);
/* Messages refused so far as not authentic (forged, wrong key). */
uint64_t ds_pull_refused(void);

/* Text for the last error of this module (nn_strerror or ours). */
const char *ds_pull_strerror(int);

#endif
