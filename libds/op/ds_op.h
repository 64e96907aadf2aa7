/*
 * ds_op.h: the operator API for C plugins loaded by ds-op --plugin FILE.so.
 * Installed as <ds_op.h>; a plugin needs nothing else from dstream.
 *
 * A plugin defines one exported object:
 *
 *	DS_OP_PLUGIN("name", init, on_tuple, on_timer, on_end, fini);
 *
 * Only on_tuple is required; pass NULL for the others.  Every callback
 * returns 0 on success; any other value stops ds-op with exit 70 (the
 * plugin failed), naming the plugin and the callback.
 *
 * State is keyed: state_get/put/del and timer_set/cancel act on the
 * *current key*: the key of the tuple in on_tuple, the timer's key in
 * on_timer, and in on_end each key that ds_next_key makes current in
 * turn; there is none in init and fini, nor in on_end outside such an
 * iteration, where they fail with EINVAL.  Keep all state that must
 * survive a restart in this API: it is what dstream journals for
 * exactly-once, and what on_end sees after a restart.
 *
 * on_end runs once, when the input has really ended: in a topology, not
 * when the job is stopped in order to be resumed later (ds-master stop),
 * and not again after a restart that follows it.
 *
 * Timers are processing-time, one per key, in ns since the epoch
 * (CLOCK_REALTIME); setting one replaces the key's previous timer.
 * Pointers handed to a callback are borrowed and valid only during it;
 * state_get's value is valid until the next state or emit call.  ds-op
 * is single-threaded: callbacks are never concurrent.
 *
 * The header is C11 and C++11: a C++ plugin includes it as it is (the
 * declarations have C linkage, so ds-op finds ds_op_plugin by its name).
 */
#ifndef DS_OP_H
#define DS_OP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The ABI a plugin is built for.  2 appended next_key to struct
 * ds_op_api; ds-op loads plugins built for ABI 1 and 2, and a ds-op that
 * knows only ABI 1 refuses a plugin built for 2 (exit 78) rather than
 * let it call past the end of the api.
 */
#define DS_OP_ABI	2

struct ds_op_ctx;

struct ds_op_tuple {
	const void	*key;
	size_t		 keylen;
	const void	*payload;
	size_t		 paylen;
	uint64_t	 time;		/* event time, ns since the epoch */
};

/*
 * What ds-op provides.  Call through the inline wrappers below.  New
 * members are only ever appended (and DS_OP_ABI raised).
 */
struct ds_op_api {
	/* Emit a tuple.  time 0 means "the current tuple's (or timer's) time". */
	int	(*emit)(struct ds_op_ctx *, const void *key, size_t keylen,
		    const void *payload, size_t paylen, uint64_t time);
	/* 1 and *val,*len set if the current key has state, 0 if not, -1. */
	int	(*state_get)(struct ds_op_ctx *, const void **val, size_t *len);
	int	(*state_put)(struct ds_op_ctx *, const void *val, size_t len);
	int	(*state_del)(struct ds_op_ctx *);
	int	(*timer_set)(struct ds_op_ctx *, uint64_t when);
	int	(*timer_cancel)(struct ds_op_ctx *);
	uint64_t (*now)(struct ds_op_ctx *);	/* processing time, ns */
	/* ABI 2: see ds_next_key. */
	int	(*next_key)(struct ds_op_ctx *, size_t *iter, const void **key,
		    size_t *keylen);
};

/* ds-op's context starts with this; user is the plugin's own pointer. */
struct ds_op_ctx {
	const struct ds_op_api	*api;
	void			*user;
};

struct ds_op_plugin {
	uint32_t	 abi;		/* DS_OP_ABI */
	const char	*name;
	int		(*init)(struct ds_op_ctx *, int argc, char *const argv[]);
	int		(*on_tuple)(struct ds_op_ctx *, const struct ds_op_tuple *);
	int		(*on_timer)(struct ds_op_ctx *, const void *key,
			    size_t keylen, uint64_t when);
	/* Input ended; may emit, and iterate the state (ds_next_key). */
	int		(*on_end)(struct ds_op_ctx *);
	void		(*fini)(struct ds_op_ctx *);
};

/*
 * The one object a plugin defines.  Declared here so that its definition
 * is exported in C++ too, where a const object is otherwise file-local.
 */
extern const struct ds_op_plugin ds_op_plugin;

#define DS_OP_PLUGIN(name, init, on_tuple, on_timer, on_end, fini)	\
	const struct ds_op_plugin ds_op_plugin = { DS_OP_ABI, (name),	\
	    (init), (on_tuple), (on_timer), (on_end), (fini) }

static inline int
ds_emit(struct ds_op_ctx *c, const void *k, size_t kl, const void *p,
    size_t pl, uint64_t time)
{
	return c->api->emit(c, k, kl, p, pl, time);
}

static inline int
ds_state_get(struct ds_op_ctx *c, const void **v, size_t *l)
{
	return c->api->state_get(c, v, l);
}

static inline int
ds_state_put(struct ds_op_ctx *c, const void *v, size_t l)
{
	return c->api->state_put(c, v, l);
}

static inline int
ds_state_del(struct ds_op_ctx *c)
{
	return c->api->state_del(c);
}

static inline int
ds_timer_set(struct ds_op_ctx *c, uint64_t when)
{
	return c->api->timer_set(c, when);
}

static inline int
ds_timer_cancel(struct ds_op_ctx *c)
{
	return c->api->timer_cancel(c);
}

static inline uint64_t
ds_now(struct ds_op_ctx *c)
{
	return c->api->now(c);
}

/*
 * In on_end: make the next key that has state the current key, so that
 * ds_state_get/put/del and ds_emit work on it; *key and *keylen are set
 * to it (borrowed until the next ds_next_key call or the end of on_end).
 * Start with *iter = 0 and call until it returns 0:
 *
 *	size_t it = 0;
 *	const void *k, *v;
 *	size_t kl, vl;
 *	int rc;
 *
 *	while ((rc = ds_next_key(c, &it, &k, &kl)) == 1)
 *		if (ds_state_get(c, &v, &vl) == 1 &&
 *		    ds_emit(c, k, kl, v, vl, 0) == -1)
 *			return -1;
 *	return rc;
 *
 * Keys come in ascending order of their bytes (a shorter key before the
 * longer ones it starts), so that on_end emits the same tuples in the
 * same order on every run and after any restart.  The keys visited are
 * those with a value when the iteration started (*iter was 0); changing
 * or deleting the current key's value does not disturb it.  Starting
 * again with *iter = 0 takes a new list.  For --max-emit each key counts
 * as one input.  1 with the next key, 0 when there is none (then there
 * is no current key), -1 with errno EINVAL outside on_end (or ENOMEM).
 */
static inline int
ds_next_key(struct ds_op_ctx *c, size_t *iter, const void **key,
    size_t *keylen)
{
	return c->api->next_key(c, iter, key, keylen);
}

#ifdef __cplusplus
}
#endif

#endif
