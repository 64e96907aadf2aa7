/*
 * timer.c: the timer heap.  Every move of a record in the array updates
 * its tidx, which is the only link from a key to its timer; tidx is the
 * slot + 1 so that 0 can mean "no timer" in a zeroed record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

void
ds_timers_init(struct ds_timers *tm)
{
	memset(tm, 0, sizeof(*tm));
}

void
ds_timers_term(struct ds_timers *tm)
{
	free(tm->h);
	ds_timers_init(tm);
}

/* a fires before b */
static int
before(const struct ds_state_rec *a, const struct ds_state_rec *b)
{
	size_t n;
	int c;

	if (a->when != b->when)
		return a->when < b->when;
	n = a->klen < b->klen ? a->klen : b->klen;
	if ((c = memcmp(a->key, b->key, n)) != 0)
		return c < 0;
	return a->klen < b->klen;
}

static void
put(struct ds_timers *tm, size_t i, struct ds_state_rec *rec)
{
	tm->h[i] = rec;
	rec->tidx = i + 1;
}

static void
up(struct ds_timers *tm, size_t i)
{
	struct ds_state_rec *rec = tm->h[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!before(rec, tm->h[parent]))
			break;
		put(tm, i, tm->h[parent]);
		i = parent;
	}
	put(tm, i, rec);
}

static void
down(struct ds_timers *tm, size_t i)
{
	struct ds_state_rec *rec = tm->h[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= tm->n)
			break;
		if (c + 1 < tm->n && before(tm->h[c + 1], tm->h[c]))
			c++;
		if (!before(tm->h[c], rec))
			break;
		put(tm, i, tm->h[c]);
		i = c;
	}
	put(tm, i, rec);
}

int
ds_timer_arm(struct ds_timers *tm, struct ds_state_rec *rec, uint64_t when)
{
	struct ds_state_rec **h;
	size_t cap;

	if (rec->tidx != 0) {
		rec->when = when;
		up(tm, rec->tidx - 1);
		down(tm, rec->tidx - 1);
		return 0;
	}
	if (tm->n == tm->cap) {
		cap = tm->cap ? tm->cap * 2 : 64;
		if (cap > SIZE_MAX / sizeof(*h) ||
		    (h = realloc(tm->h, cap * sizeof(*h))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		tm->h = h;
		tm->cap = cap;
	}
	rec->when = when;
	put(tm, tm->n++, rec);
	up(tm, tm->n - 1);
	return 0;
}

void
ds_timer_disarm(struct ds_timers *tm, struct ds_state_rec *rec)
{
	struct ds_state_rec *last;
	size_t i;

	if (rec->tidx == 0)
		return;
	i = rec->tidx - 1;
	rec->tidx = 0;
	if (i == --tm->n)
		return;
	last = tm->h[tm->n];
	put(tm, i, last);
	up(tm, i);
	down(tm, last->tidx - 1);
}

struct ds_state_rec *
ds_timer_first(const struct ds_timers *tm)
{
	return tm->n ? tm->h[0] : NULL;
}

struct ds_state_rec *
ds_timer_pop(struct ds_timers *tm)
{
	struct ds_state_rec *rec = ds_timer_first(tm);

	if (rec != NULL)
		ds_timer_disarm(tm, rec);
	return rec;
}
