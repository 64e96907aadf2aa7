/*
 * part.c: the target instance of a tuple under a distribution.  The
 * formulas are the ones ds-topology(5) documents; changing them moves
 * keys between instances and so breaks every keyed state.
 */
#include <xxhash.h>

#include "part.h"

size_t
ds_part_target(enum ds_dist dist, const struct ds_tuple *t,
    uint64_t producer, size_t n)
{
	uint64_t h;

	switch (dist) {
	case DS_DIST_HASH:
		return (size_t)(XXH64(t->key, t->keylen, 0) % n);
	case DS_DIST_RANGE:
		h = XXH64(t->key, t->keylen, 0);
		return (size_t)(((unsigned __int128)h * n) >> 64);
	case DS_DIST_SHUFFLE:
		return (size_t)((producer + t->seq) % n);
	default:
		return 0;
	}
}
