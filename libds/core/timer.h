/*
 * timer.h: processing-time timers, at most one per key, in a binary
 * min-heap ordered by (when, key bytes) so firing order is deterministic.
 * The heap holds state records (state.h): a record with a timer is kept
 * alive by it, and the record stores its heap slot, so setting or
 * cancelling a key's timer is O(log n) without a search.  Never prints.
 */
#ifndef DS_TIMER_H
#define DS_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "core/state.h"

struct ds_timers {
	struct ds_state_rec	**h;	/* owned array; records borrowed */
	size_t			  n;
	size_t			  cap;
};
#define DS_TIMERS_INIT	{ NULL, 0, 0 }

void	ds_timers_init(struct ds_timers *);
/* Free the heap.  Records keep tidx set: terminate the state table next. */
void	ds_timers_term(struct ds_timers *);

/* Set (or move) rec's timer to when.  0, or -1/ENOMEM. */
int	ds_timer_arm(struct ds_timers *, struct ds_state_rec *, uint64_t when);
/* Remove rec's timer if it has one.  Release the record afterwards. */
void	ds_timer_disarm(struct ds_timers *, struct ds_state_rec *);
/* The record whose timer fires first, or NULL; it stays in the heap. */
struct ds_state_rec *ds_timer_first(const struct ds_timers *);
/* Remove and return the first timer's record (NULL if none). */
struct ds_state_rec *ds_timer_pop(struct ds_timers *);

#endif
