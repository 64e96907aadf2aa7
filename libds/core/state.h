/*
 * state.h: keyed state, an in-memory hash table from key bytes to value
 * bytes (XXH3 hashes, open addressing, linear probing).  Each key lives in
 * a record whose address is stable for its whole life, so other modules
 * (timer.c, exec.c) may hold pointers to it.  A record exists while it
 * has a value, a timer or pins; ds_state_release frees it once it has
 * none.  Never prints, never exits; every allocation failure is ENOMEM.
 */
#ifndef DS_STATE_H
#define DS_STATE_H

#include <stddef.h>
#include <stdint.h>

struct ds_state_rec {
	uint64_t	 hash;
	unsigned char	*val;		/* owned; vcap bytes, vlen valid */
	uint32_t	 vlen;
	uint32_t	 vcap;
	uint32_t	 klen;
	uint32_t	 pins;		/* holders that need the record kept */
	int		 hasval;	/* a value is set (it may be empty) */
	int		 dirty;		/* listed in the table's dirty list */
	int		 tdirty;	/* its timer changed since listed */
	size_t		 tidx;		/* timer.c: heap slot + 1; 0: none */
	uint64_t	 when;		/* timer.c: when the timer fires */
	unsigned char	 key[];		/* klen bytes */
};

struct ds_state_slot {
	uint64_t		 hash;
	struct ds_state_rec	*rec;	/* NULL: empty slot */
};

struct ds_state {
	struct ds_state_slot	*slot;	/* cap slots, owned */
	size_t			 cap;	/* 0 or a power of two */
	size_t			 n;	/* records */
	size_t			 nval;	/* records with a value */
	/* Dirty tracking (ds_state_track): changed records, pinned. */
	struct ds_state_rec	**dirty;	/* owned array; dcap >= n */
	size_t			 ndirty;
	size_t			 dcap;
	int			 track;
};
#define DS_STATE_INIT	{ NULL, 0, 0, 0, NULL, 0, 0, 0 }

/* Largest key or value: lengths are kept in 32 bits. */
#define DS_STATE_MAXLEN	UINT32_MAX

void	ds_state_init(struct ds_state *);
/* Free every record and the table; st is empty and reusable after. */
void	ds_state_term(struct ds_state *);

uint64_t ds_state_hash(const void *key, size_t len);

/* The record for key (hash from ds_state_hash), or NULL if there is none. */
struct ds_state_rec *ds_state_find(const struct ds_state *, const void *key,
	    size_t len, uint64_t hash);
/*
 * The record for key, created without a value if missing.  NULL with
 * errno ENOMEM, or EMSGSIZE for a key over DS_STATE_MAXLEN.  A new
 * record must be given a value, a timer or a pin, or be released.
 */
struct ds_state_rec *ds_state_intern(struct ds_state *, const void *key,
	    size_t len, uint64_t hash);
/* Replace the record's value with a copy of (val, len).  0, or -1/ENOMEM. */
int	ds_state_set(struct ds_state *, struct ds_state_rec *, const void *,
	    size_t);
/* Drop the record's value; the record itself stays until released. */
void	ds_state_clear(struct ds_state *, struct ds_state_rec *);
/* Free the record if it has no value, no timer and no pins. */
void	ds_state_release(struct ds_state *, struct ds_state_rec *);

/*
 * Iteration: start with *iter = 0; returns each record once, NULL at the
 * end.  The table must not change during an iteration.
 */
struct ds_state_rec *ds_state_next(const struct ds_state *, size_t *iter);

/*
 * Dirty tracking, for a state log of deltas (ds-op in a topology).  While
 * on, every record whose value is set or cleared is listed once and
 * pinned until ds_state_dirty takes it, so a deleted key is still seen.
 * Turning it on reserves room for every record (and intern keeps that
 * up), so listing never fails.  0, or -1/ENOMEM.
 */
int	ds_state_track(struct ds_state *, int on);
/*
 * Call fn for every listed record (val NULL when the key has no value
 * now), unlist and unpin it, and free it if nothing else holds it.  The
 * table must not change during the calls.  0, or fn's -1 (then every
 * record stays listed).
 */
int	ds_state_dirty(struct ds_state *, int (*fn)(void *arg,
	    const void *key, size_t klen, const void *val, size_t vlen),
	    void *arg);

/*
 * The record's timer was set, moved, cancelled or fired: list it like a
 * changed value, with tdirty set (for a journal of timer changes).
 */
void	ds_state_touch_timer(struct ds_state *, struct ds_state_rec *);
/*
 * Like ds_state_dirty, giving each listed record itself (value, timer:
 * tidx/when, tdirty), for writers of both values and timers.
 */
int	ds_state_dirty_recs(struct ds_state *, int (*fn)(void *arg,
	    const struct ds_state_rec *), void *arg);

/* Key-based convenience calls built on the above. */
/* 1 and (*val, *len) borrowed until the next change, 0 if none. */
int	ds_state_lookup(const struct ds_state *, const void *key, size_t klen,
	    const void **val, size_t *len);
int	ds_state_store(struct ds_state *, const void *key, size_t klen,
	    const void *val, size_t len);		/* 0 or -1/errno */
void	ds_state_remove(struct ds_state *, const void *key, size_t klen);

#endif
