/*
 * part.c: the target instance of a tuple under a distribution.  The
 * formulas are the ones ds-topology(5) documents; changing them moves
 * keys between instances and so breaks every keyed state.
 */
#include <string.h>

#include <xxhash.h>

#include "core/part.h"

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

const char *
ds_dist_name(enum ds_dist d)
{
	switch (d) {
	case DS_DIST_FORWARD:	return "forward";
	case DS_DIST_HASH:	return "hash";
	case DS_DIST_RANGE:	return "range";
	case DS_DIST_SHUFFLE:	return "shuffle";
	case DS_DIST_BROADCAST:	return "broadcast";
	}
	return "?";
}

int
ds_dist_parse(const char *s, enum ds_dist *d)
{
	static const enum ds_dist all[] = {
		DS_DIST_FORWARD, DS_DIST_HASH, DS_DIST_RANGE, DS_DIST_SHUFFLE,
		DS_DIST_BROADCAST
	};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(s, ds_dist_name(all[i])) == 0) {
			*d = all[i];
			return 0;
		}
	return -1;
}
