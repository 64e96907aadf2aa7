/*
 * part.h: which downstream instance a distribution (ds-topology(5))
 * sends a tuple to.  Shared by ds-router and by producers that partition
 * their own output (outq.h), so both send every tuple to the same place.
 * Pure: no I/O.
 */
#ifndef DS_PART_H
#define DS_PART_H

#include <stddef.h>
#include <stdint.h>

#include "core/tuple.h"

enum ds_dist {
	DS_DIST_FORWARD, DS_DIST_HASH, DS_DIST_RANGE, DS_DIST_SHUFFLE,
	DS_DIST_BROADCAST
};

/*
 * The instance, 0..n-1, that dist sends t of producer to: hash
 * (xxh64(key, 0) mod n), range ((xxh64(key, 0) * n) >> 64) or shuffle
 * ((producer + seq) mod n).  Broadcast and forward have no single target:
 * 0.  n > 0.
 */
size_t	ds_part_target(enum ds_dist dist, const struct ds_tuple *t,
	    uint64_t producer, size_t n);

/* "forward", "hash", "range", "shuffle" or "broadcast". */
const char *ds_dist_name(enum ds_dist);
/* A distribution by name: 0, or -1 for no such name. */
int	ds_dist_parse(const char *, enum ds_dist *);

#endif
