/*
 * lease.h: an instance's heartbeat to ds-master (DESIGN 8).  Every
 * keepalive/4 (at least every 100 ms) it sends a BEAT with the instance's
 * id, epoch, state and counters; a BEATACK renews the lease.  When no
 * BEATACK came for a whole keepalive period (the master is gone, or this
 * process was stopped and resumed) or the master answers FENCED or STOP,
 * the owner's on_lost is called with the reason: the instance must stop at
 * once without touching its outputs or state (exit 75 for lost/fenced, 0
 * for a stop).  The first BEATACK DRAIN calls it with DS_LEASE_DRAIN,
 * which is not a loss: the job stops in order, the lease goes on (and
 * on_lost may still be called once for a real loss later).
 * ds_lease_valid() is for checking before externally visible
 * actions (answering a pull, committing): it looks at the clock itself,
 * so a process resumed from SIGSTOP sees its lease expired before its
 * timers run.
 */
#ifndef DS_LEASE_H
#define DS_LEASE_H

#include <stdint.h>

#include <ev.h>

#include "core/msg.h"

enum { DS_LEASE_LOST = 1, DS_LEASE_FENCED, DS_LEASE_STOP, DS_LEASE_DRAIN };

struct ds_lease;

struct ds_lease *ds_lease_open(struct ev_loop *, const char *master_addr,
	    uint64_t id, uint32_t epoch, uint64_t keepalive_ms,
	    void (*on_lost)(void *arg, int why), void *arg);
/* Counters sent with the next beat (DS_CNT_* indices). */
void	ds_lease_count(struct ds_lease *, int idx, uint64_t value);
/*
 * Send DS_BEAT_DONE (stopped: DS_BEAT_STOPPED, done with an orderly stop)
 * from now on and beat once at once.
 */
void	ds_lease_done(struct ds_lease *, int stopped);
int	ds_lease_valid(struct ds_lease *);
/*
 * For work that keeps the event loop from running (a slow --exec
 * operator): take a BEATACK that came, and beat if one is due, so the
 * lease lives on.  May call on_lost.
 */
void	ds_lease_poll(struct ds_lease *);
/*
 * After ds_lease_done, close blocks (at most 1 s) until the DONE beat is
 * acked, because nanomsg drops queued messages at exit; NULL is harmless.
 */
void	ds_lease_close(struct ds_lease *);

#endif
