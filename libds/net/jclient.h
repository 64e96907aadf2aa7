/*
 * jclient.h: a writer's side of ds-journal (ds-journal(1), ds-wire(5)).
 *
 * Writing is asynchronous in the owner's libev loop: ds_jclient_write
 * queues one atomic unit (a JWRITE) and its completion callback; while no
 * request is outstanding, every queued unit goes out in one message (one
 * JWRITE frame each, one JACK each back), so a busy writer's units share
 * the journal's group commits.  Callbacks run in queue order with the
 * JACK status: DS_J_OK (durable), DS_J_FENCED (stop: a newer epoch of this
 * writer exists), DS_J_FULL (not applied: the journal is short of disk;
 * write again later), DS_J_BAD, or DS_JCLIENT_LOST (no answer in time:
 * the unit may or may not be durable; the owner must recover with
 * ds_jread before writing again).
 *
 * Recovery reads the writer's recovery stream: DELTA for every live key,
 * TIMER for every timer, the last MARK, ACKED, then the outputs (BUNDLE
 * frames) not acked yet; ds_jclient_recover does it in the loop (an
 * instance), ds_jread blocking (tools): both raise the writer's epoch in
 * the journal, so older epochs are fenced from then on.
 *
 * Never prints, never exits.
 */
#ifndef DS_JCLIENT_H
#define DS_JCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "core/frame.h"

#define DS_JCLIENT_LOST		255

struct ds_jclient;

/* status: DS_J_* or DS_JCLIENT_LOST; epoch: the writer's epoch there. */
typedef void (*ds_jclient_fn)(void *arg, uint32_t status, uint32_t epoch);

/*
 * Connect to addr as writer at epoch.  timeout (seconds) bounds each
 * request.  NULL with errno on failure.
 */
struct ds_jclient *ds_jclient_open(struct ev_loop *, const char *addr,
	    uint64_t writer, uint32_t epoch, double timeout);
/*
 * Queue one atomic unit: n record frames (recs, len: whole frames, copied)
 * and the callback for its outcome.  0, or -1 with errno ENOMEM or
 * EMSGSIZE.  Never calls fn from inside this call.
 */
int	ds_jclient_write(struct ds_jclient *, const void *recs, size_t len,
	    uint32_t n, ds_jclient_fn, void *arg);
/* Units queued or in flight. */
size_t	ds_jclient_pending(const struct ds_jclient *);
/*
 * Recovery in the owner's loop, before any write: ask for writer's
 * recovery stream (which raises its epoch in the journal: older epochs
 * are fenced from then on), call frame(arg, f) for each of its frames in
 * order (borrowed; -1 stops everything, done is then not called), then
 * done(arg, status, epoch) once: DS_J_OK (all of it came), DS_J_FENCED
 * (epoch: the journal's newer one), DS_J_BAD (a malformed answer), or
 * DS_JCLIENT_LOST (no whole answer within deadline seconds; a request
 * unanswered within the client's timeout is sent again until then).
 * Neither is called from inside this call.  0, or -1 with EBUSY (writes
 * or a recovery under way).
 */
int	ds_jclient_recover(struct ds_jclient *, double deadline,
	    int (*frame)(void *, const struct ds_frame *),
	    void (*done)(void *, uint32_t status, uint32_t epoch), void *arg);
/* Close; callbacks of units still pending are not called. */
void	ds_jclient_close(struct ds_jclient *);

struct ds_jread {
	char		*addr;
	uint64_t	 writer;
	uint32_t	 epoch;		/* after a FENCED: the journal's */
	uint32_t	 status;	/* DS_J_* of the last reply */
	uint32_t	 max_bytes;
	double		 timeout;
	uint64_t	 cursor;	/* next stream byte to ask for */
	uint64_t	 total;
	struct ds_buf	 reply;
	size_t		 off;		/* next frame in reply */
	int		 started;
};

/*
 * Start reading writer's recovery (blocking, up to timeout seconds per
 * reply).  0, or -1 with errno: EPERM (fenced: r->epoch is the newer
 * one), ETIMEDOUT, ECONNREFUSED, EBADMSG (a bad reply), ENOMEM.
 */
int	ds_jread_open(struct ds_jread *, const char *addr, uint64_t writer,
	    uint32_t epoch, double timeout);
/*
 * Next frame of the stream: 1 and *f (valid until the next call), 0 at
 * the end, -1 with errno as above.
 */
int	ds_jread_next(struct ds_jread *, struct ds_frame *);
void	ds_jread_close(struct ds_jread *);

#endif
