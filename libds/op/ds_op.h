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
 * State is keyed: state_get/put/del act on the *current key* (the key of
 * the tuple in on_tuple, the timer's key in on_timer; there is no current
 * key in init, on_end or fini, where they fail with EINVAL).  Keep all
 * state that must survive a restart in this API: it is what dstream
 * journals for exactly-once.  Timers are processing-time, one per key,
 * in ns since the epoch (CLOCK_REALTIME); setting one replaces the key's
 * previous timer.  Pointers handed to a callback are borrowed and valid
 * only during it; state_get's value is valid until the next state or emit
 * call.  ds-op is single-threaded: callbacks are never concurrent.
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

#define DS_OP_ABI	1

struct ds_op_ctx;

struct ds_op_tuple {
	const void	*key;
	size_t		 keylen;
	const void	*payload;
	size_t		 paylen;
	uint64_t	 time;		/* event time, ns since the epoch */
};

/* What ds-op provides.  Call through the inline wrappers below. */
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
	int		(*on_end)(struct ds_op_ctx *);	/* input ended; may emit */
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

#ifdef __cplusplus
}
#endif

#endif
