/*
 * journald.h: ds-journal's parts: bin/ds-journal.c runs the daemon
 * (options, the lock, the lease); commit.c makes group commits and
 * checkpoints; serve.c answers the requests of the writers.
 */
#ifndef DS_JOURNALD_H
#define DS_JOURNALD_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "net/epochq.h"
#include "net/lease.h"
#include "net/pull.h"
#include "store/journal.h"

#define PARK_S		30.0		/* longest a request waits for a sync */
#define READ_MAX	(4u << 20)	/* largest JDATA chunk */

/*
 * A request waiting for the sync of generation gen, or (deferred) for
 * the checkpoint to end before it can be handled at all (JREAD).
 */
struct rq {
	uint64_t	 gen;
	int		 fresh;		/* not handled yet */
	int		 deferred;
	uint64_t	 ticket;	/* net/epochq.h */
	struct ds_buf	 reply;
};

/* A recovery stream being read by a writer, by cursor. */
struct snap {
	uint64_t	 writer;
	uint32_t	 epoch;
	struct ds_buf	 data;
};

struct journald {
	struct ev_loop		*loop;
	struct ds_journal	*j;
	struct ds_pull_srv	*srv;
	struct ds_lease		*lease;
	struct ds_epochq	*eq;		/* with --master */
	const char		*dir;
	uint64_t		 min_free;
	uint64_t		 ckpt;
	double			 sync_every;
	uint64_t		 gen;		/* queue generation being filled */
	uint64_t		 synced;	/* last generation made durable */
	uint64_t		 refused;	/* last one undone: no space */
	int			 full;		/* in a low-space episode */
	int			 ckpt_warned;
	uint64_t		 nfull;		/* JWRITEs refused FULL */
	uint64_t		*wl;		/* --writers, sorted; or NULL */
	size_t			 nwl;
	uint64_t		 max_writers;	/* without --writers */
	uint64_t		 nunknown;	/* requests of other writers */
	struct snap		*snaps;
	size_t			 nsnaps;
	ev_prepare		 prep_w;
	ev_async		 ckpt_w;		/* the checkpoint ended */
	ev_timer		 sync_w;
	ev_signal		 term_w, int_w;
};

extern struct journald g;


/* The request server's callbacks (serve.c). */
extern const struct ds_pull_srv_ops journald_ops;
/* --writers: serve only these (taken over; sorted here). */
void	journald_writers(uint64_t *ids, size_t n);
/* The master answered about an epoch: offer parked requests again. */
void	journald_wake(void *);
/* Exit with the journal's own code and message. */
void	journald_die(void) __attribute__((noreturn));
void	journald_nomem(void) __attribute__((noreturn));
/*
 * Whether need more bytes fit above --min-free on DIR's file system;
 * says so once when that changes.
 */
int	journald_room(uint64_t need);

/* commit.c: the loop's callbacks, and a group commit now. */
void	journald_commit(void);
void	journald_prep_cb(struct ev_loop *, ev_prepare *, int);
void	journald_sync_cb(struct ev_loop *, ev_timer *, int);
void	journald_ckpt_cb(struct ev_loop *, ev_async *, int);

#endif
