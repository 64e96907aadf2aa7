/*
 * state.c: the keyed state table.  Slots hold (hash, record) so a probe
 * compares hashes without touching records; the table stays at most 3/4
 * full and deletion shifts the following run back (no tombstones), so
 * lookups never degrade.  A value buffer is reused while it is big enough:
 * updating a key's state does not allocate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "core/state.h"

#define MINCAP	64

void
ds_state_init(struct ds_state *st)
{
	memset(st, 0, sizeof(*st));
}

void
ds_state_term(struct ds_state *st)
{
	size_t i;

	for (i = 0; i < st->cap; i++) {
		if (st->slot[i].rec != NULL) {
			free(st->slot[i].rec->val);
			free(st->slot[i].rec);
		}
	}
	free(st->slot);
	free(st->dirty);
	ds_state_init(st);
}

uint64_t
ds_state_hash(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

struct ds_state_rec *
ds_state_find(const struct ds_state *st, const void *key, size_t len,
    uint64_t hash)
{
	const struct ds_state_slot *s;
	size_t i, mask;

	if (st->cap == 0)
		return NULL;
	mask = st->cap - 1;
	for (i = hash & mask;; i = (i + 1) & mask) {
		s = &st->slot[i];
		if (s->rec == NULL)
			return NULL;
		if (s->hash == hash && s->rec->klen == len &&
		    memcmp(s->rec->key, key, len) == 0)
			return s->rec;
	}
}

/* Put rec into the first free slot of its probe run; the table has room. */
static void
place(struct ds_state_slot *slot, size_t cap, struct ds_state_rec *rec)
{
	size_t i, mask = cap - 1;

	for (i = rec->hash & mask; slot[i].rec != NULL; i = (i + 1) & mask)
		;
	slot[i].hash = rec->hash;
	slot[i].rec = rec;
}

static int
grow(struct ds_state *st)
{
	struct ds_state_slot *ns;
	size_t i, ncap;

	ncap = st->cap ? st->cap * 2 : MINCAP;
	if (ncap > SIZE_MAX / sizeof(*ns) || (ns = calloc(ncap,
	    sizeof(*ns))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < st->cap; i++)
		if (st->slot[i].rec != NULL)
			place(ns, ncap, st->slot[i].rec);
	free(st->slot);
	st->slot = ns;
	st->cap = ncap;
	return 0;
}

/* Room for need listed records. */
static int
dirty_grow(struct ds_state *st, size_t need)
{
	struct ds_state_rec **d;
	size_t cap = st->dcap ? st->dcap : MINCAP;

	while (cap < need)
		cap *= 2;
	if (cap == st->dcap)
		return 0;
	if (cap > SIZE_MAX / sizeof(*d) ||
	    (d = realloc(st->dirty, cap * sizeof(*d))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	st->dirty = d;
	st->dcap = cap;
	return 0;
}

/* List rec as changed; room is reserved (see ds_state_track). */
static void
touch(struct ds_state *st, struct ds_state_rec *rec)
{
	if (!st->track || rec->dirty)
		return;
	rec->dirty = 1;
	rec->pins++;
	st->dirty[st->ndirty++] = rec;
}

int
ds_state_track(struct ds_state *st, int on)
{
	if (on && dirty_grow(st, st->n) == -1)
		return -1;
	st->track = on;
	return 0;
}

void
ds_state_touch_timer(struct ds_state *st, struct ds_state_rec *rec)
{
	if (!st->track)
		return;
	rec->tdirty = 1;
	touch(st, rec);
}

static void
unlist(struct ds_state *st)
{
	struct ds_state_rec *rec;
	size_t i;

	for (i = 0; i < st->ndirty; i++) {
		rec = st->dirty[i];
		rec->dirty = 0;
		rec->tdirty = 0;
		rec->pins--;
		ds_state_release(st, rec);
	}
	st->ndirty = 0;
}

int
ds_state_dirty_recs(struct ds_state *st, int (*fn)(void *,
    const struct ds_state_rec *), void *arg)
{
	size_t i;

	for (i = 0; i < st->ndirty; i++)
		if (fn(arg, st->dirty[i]) == -1)
			return -1;
	unlist(st);
	return 0;
}

int
ds_state_dirty(struct ds_state *st, int (*fn)(void *, const void *, size_t,
    const void *, size_t), void *arg)
{
	struct ds_state_rec *rec;
	size_t i;

	for (i = 0; i < st->ndirty; i++) {
		rec = st->dirty[i];
		if (fn(arg, rec->key, rec->klen, rec->hasval ? rec->val : NULL,
		    rec->hasval ? rec->vlen : 0) == -1)
			return -1;
	}
	unlist(st);
	return 0;
}

struct ds_state_rec *
ds_state_intern(struct ds_state *st, const void *key, size_t len,
    uint64_t hash)
{
	struct ds_state_rec *rec;

	if ((rec = ds_state_find(st, key, len, hash)) != NULL)
		return rec;
	if (len > DS_STATE_MAXLEN) {
		errno = EMSGSIZE;
		return NULL;
	}
	if ((st->n + 1) * 4 > st->cap * 3 && grow(st) == -1)
		return NULL;
	if (st->track && st->dcap < st->n + 1 && dirty_grow(st, st->n + 1) ==
	    -1)
		return NULL;
	if ((rec = malloc(sizeof(*rec) + len)) == NULL)
		return NULL;
	memset(rec, 0, sizeof(*rec));
	rec->hash = hash;
	rec->klen = (uint32_t)len;
	if (len > 0)
		memcpy(rec->key, key, len);
	place(st->slot, st->cap, rec);
	st->n++;
	return rec;
}

int
ds_state_set(struct ds_state *st, struct ds_state_rec *rec, const void *val,
    size_t len)
{
	unsigned char *p;
	size_t cap;

	if (len > DS_STATE_MAXLEN) {
		errno = EMSGSIZE;
		return -1;
	}
	if (len > rec->vcap) {
		cap = len < 16 ? 16 : len;
		if ((p = malloc(cap)) == NULL)
			return -1;
		free(rec->val);
		rec->val = p;
		rec->vcap = (uint32_t)cap;
	}
	if (len > 0)
		memcpy(rec->val, val, len);
	rec->vlen = (uint32_t)len;
	if (!rec->hasval)
		st->nval++;
	rec->hasval = 1;
	touch(st, rec);
	return 0;
}

void
ds_state_clear(struct ds_state *st, struct ds_state_rec *rec)
{
	if (!rec->hasval)
		return;
	st->nval--;
	rec->hasval = 0;
	rec->vlen = 0;
	touch(st, rec);
}

void
ds_state_release(struct ds_state *st, struct ds_state_rec *rec)
{
	size_t i, j, home, mask;

	if (rec->hasval || rec->tidx != 0 || rec->pins != 0)
		return;
	mask = st->cap - 1;
	for (i = rec->hash & mask; st->slot[i].rec != rec; i = (i + 1) & mask)
		;
	/* Shift back every later entry of the run that may move to i. */
	for (j = (i + 1) & mask; st->slot[j].rec != NULL; j = (j + 1) & mask) {
		home = st->slot[j].hash & mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		st->slot[i] = st->slot[j];
		i = j;
	}
	st->slot[i].rec = NULL;
	st->slot[i].hash = 0;
	st->n--;
	free(rec->val);
	free(rec);
}

struct ds_state_rec *
ds_state_next(const struct ds_state *st, size_t *iter)
{
	while (*iter < st->cap) {
		if (st->slot[*iter].rec != NULL)
			return st->slot[(*iter)++].rec;
		(*iter)++;
	}
	return NULL;
}

int
ds_state_lookup(const struct ds_state *st, const void *key, size_t klen,
    const void **val, size_t *len)
{
	struct ds_state_rec *rec;

	rec = ds_state_find(st, key, klen, ds_state_hash(key, klen));
	if (rec == NULL || !rec->hasval)
		return 0;
	*val = rec->val;
	*len = rec->vlen;
	return 1;
}

int
ds_state_store(struct ds_state *st, const void *key, size_t klen,
    const void *val, size_t len)
{
	struct ds_state_rec *rec;

	rec = ds_state_intern(st, key, klen, ds_state_hash(key, klen));
	if (rec == NULL)
		return -1;
	if (ds_state_set(st, rec, val, len) == -1) {
		ds_state_release(st, rec);
		return -1;
	}
	return 0;
}

void
ds_state_remove(struct ds_state *st, const void *key, size_t klen)
{
	struct ds_state_rec *rec;

	rec = ds_state_find(st, key, klen, ds_state_hash(key, klen));
	if (rec == NULL)
		return;
	ds_state_clear(st, rec);
	ds_state_release(st, rec);
}
