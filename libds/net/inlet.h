/*
 * inlet.h: the consumer side of one input edge in a topology: pulls
 * (pull.h client) from one address that serves a known set of producers
 * (an upstream instance, or a ds-router serving several), keeps per
 * producer the epoch, the received frontier, the ack to send and whether
 * the stream ended, refuses bundles of a stale producer epoch (counted in
 * fenced), and hands every accepted bundle to the owner.  Long polling:
 * one request outstanding at a time, wait_ms on the server; the owner
 * stops the inlet (back-pressure) while its buffers are full.
 *
 * Modes: DS_ONCE_LEAST acks what the owner says is durable
 * (ds_inlet_ack); DS_ONCE_MOST acks everything received with the next
 * request and, when started fresh after a crash (DS_INLET_RESTARTED),
 * asks from DS_FROM_NEW so nothing is replayed.
 *
 * A producer that restarts (a higher epoch in a reply) replays from its
 * last recovered point: in least mode the inlet accepts the replay, even
 * seqs at or below what it received before (duplicates, never losses);
 * in most mode it drops tuples at or below its received frontier (counted
 * in dup).  Within one epoch, tuples at or below the received frontier are
 * always dropped as duplicates.  Every request names, per producer, the
 * epoch its from and ack refer to (ds-wire(5)), the newest seen.
 */
#ifndef DS_INLET_H
#define DS_INLET_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/msg.h"
#include "net/pull.h"
#include "core/once.h"
#include "core/tuple.h"

struct ds_inlet_prod {
	uint64_t	 producer;
	uint32_t	 epoch;		/* highest seen; 0: none yet */
	uint64_t	 recv;		/* highest seq received (or scanned) */
	uint64_t	 ack;		/* durable: sent as ack */
	uint64_t	 end;
	int		 ended;		/* the stream ended at end */
	int		 stopped;	/* ... by an orderly stop (ended too) */
};

struct ds_inlet;

/*
 * on_bundle: one accepted bundle (decoded; tuples borrowed, valid during
 * the call only); tuples the inlet dropped as duplicates are already
 * removed.  Return 0, or -1 to stop (the owner's failure).
 * on_event: DS_INLET_FENCED (the server fenced us: this instance is a
 * zombie and must stop), DS_INLET_PROGRESS (frontiers moved, e.g. only
 * scanned positions or an end), DS_INLET_BAD (a corrupt reply, ignored and
 * counted; text in msg).
 */
enum { DS_INLET_FENCED = 1, DS_INLET_PROGRESS, DS_INLET_BAD };

struct ds_inlet_ops {
	int	(*on_bundle)(void *arg, struct ds_inlet *,
		    const struct ds_bundle *);
	void	(*on_event)(void *arg, struct ds_inlet *, int ev,
		    const char *msg);
};

struct ds_inlet_cfg {
	const char	*addr;
	const uint64_t	*producers;	/* served behind addr */
	size_t		 nproducers;
	uint64_t	 consumer;	/* our id */
	uint32_t	 epoch;		/* our epoch */
	enum ds_once	 once;
	uint32_t	 max_tuples, max_bytes;
	uint32_t	 wait_ms;	/* long-poll wait (default 500) */
	size_t		 maxtuple;	/* --max-tuple */
	int		 restarted;	/* DS_INLET_RESTARTED semantics */
};
#define DS_INLET_RESTARTED	1

struct ds_inlet *ds_inlet_open(struct ev_loop *, const struct ds_inlet_cfg *,
	    const struct ds_inlet_ops *, void *arg);
void	ds_inlet_close(struct ds_inlet *);
/* Start (or resume) pulling; stop pulling (the outstanding one completes). */
void	ds_inlet_start(struct ds_inlet *);
void	ds_inlet_stop(struct ds_inlet *);
/* Recovered frontier: producer's recv/ack = seq, ended at end if ended. */
int	ds_inlet_restore(struct ds_inlet *, uint64_t producer, uint32_t epoch,
	    uint64_t seq, int ended, uint64_t end);
/*
 * Least mode: the owner has durably processed every tuple of producer's
 * epoch up to seq (sent as ack with the next request; never moves
 * backwards).  An ack of an epoch other than the producer's newest is
 * ignored, except in exactly mode, whose seqs are the same in every
 * epoch.  ack_all: durable up to the current received frontier of every
 * producer.
 */
void	ds_inlet_ack(struct ds_inlet *, uint64_t producer, uint32_t epoch,
	    uint64_t seq);
void	ds_inlet_ack_all(struct ds_inlet *);
/*
 * Every ack the owner gave has travelled upstream in a request that was
 * answered (so a producer waiting for it to finish has seen it).
 */
int	ds_inlet_synced(const struct ds_inlet *);
/*
 * The producer finished and exited (ds-master says so with --ended): its
 * stream ends at what was received, nothing more will come.
 */
void	ds_inlet_end(struct ds_inlet *, uint64_t producer);
/* Every producer ended and was received through its end. */
int	ds_inlet_ended(const struct ds_inlet *);
/* Per-producer view (for marks in the state log). */
size_t	ds_inlet_prods(const struct ds_inlet *, const struct ds_inlet_prod **);
uint64_t ds_inlet_fenced(const struct ds_inlet *);
uint64_t ds_inlet_dups(const struct ds_inlet *);
/* Corrupt or refused (UNKNOWN) replies seen. */
uint64_t ds_inlet_bad(const struct ds_inlet *);

#endif
