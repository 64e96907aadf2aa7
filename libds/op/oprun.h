/*
 * oprun.h: the operator runtime of ds-op.  It runs one operator table
 * (struct ds_op_plugin from ds_op.h: a built-in or a dlopen'ed plugin)
 * over input bundles, implements struct ds_op_api for it, and owns the
 * keyed state, the timers and the encoded output bundles; exec.c drives
 * external programs through the same state and emit calls.  Never prints
 * and never exits: the first failure sets code (a DS_EX_* value) and msg,
 * which stick, and every later call fails at once.  Operator warnings go
 * to the caller's log hook.
 */
#ifndef DS_OPRUN_H
#define DS_OPRUN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "op/ds_op.h"
#include "core/state.h"
#include "core/timer.h"
#include "core/tuple.h"

struct ds_exec;

struct ds_oprun {
	struct ds_op_ctx	 ctx;		/* first: operators get &ctx */
	const struct ds_op_plugin *op;		/* borrowed: static or in dl */
	const char		*kind;		/* "built-in", "plugin", ... */
	const char		*name;		/* for messages; borrowed */
	void			*dl;		/* dlopen handle, owned */
	struct ds_exec		*exec;		/* an operator program, or NULL */
	char			**argv;		/* of init, owned; argc words */
	int			 argc;
	int			 started;	/* init succeeded: call fini */
	struct ds_state		 st;
	struct ds_timers	 tm;
	struct ds_buf		 out;		/* whole frames; caller drains */
	struct ds_bundle_writer	 w;
	uint32_t		 bundle;	/* most tuples per out bundle */
	size_t			 maxtuple;	/* most key+payload bytes */
	/*
	 * Bounds set by the caller (0: none).  maxemit: most bytes of
	 * output tuples (as encoded in a bundle) for one input: a tuple's
	 * on_tuple or a program's answer to its request, a timer, init or
	 * the end; emitted counts them.  maxkeys: most keys with a value.
	 * Past either, the runtime fails with 70.
	 */
	uint64_t		 maxemit;
	uint64_t		 emitted;
	uint64_t		 maxkeys;
	uint64_t		 seq;		/* seq of the last output tuple */
	uint64_t		 producer;	/* of output bundles (0: a pipe) */
	uint32_t		 epoch;		/* of output bundles */
	uint64_t		 maxtime;	/* largest input event time */
	/* Options only built-ins use (set by the caller, borrowed). */
	const char		*match;		/* --match REGEX */
	uint64_t		 every;		/* --every, in ns; 0: unset */
	int			 final;		/* --final: DS_OPRUN_FINAL_*;
						 * 0: unset */
	/* The current key (during on_tuple and on_timer only). */
	int			 haskey;
	const void		*key;
	size_t			 keylen;
	uint64_t		 hash;
	int			 hashed;
	struct ds_state_rec	*rec;		/* its record, once looked up */
	const struct ds_tuple	*in;		/* the input tuple, or NULL */
	uint64_t		 time;		/* emit's default event time */
	/*
	 * The keys with a value, in key order, each pinned: for on_end's
	 * iteration (ds_next_key) and an operator program's end requests.
	 */
	struct ds_state_rec	**keys;
	size_t			 nkeys;
	size_t			 keyscap;
	int			 ending;	/* in on_end: ds_next_key works */
	/* Called with a DS_OPRUN_* level and one line; may be NULL. */
	void			(*log)(int, const char *);
	int			 code;		/* DS_EX_* after a failure */
	char			 msg[512];
};

/* Set up an empty runtime.  bundle >= 1, maxtuple >= 1. */
void	ds_oprun_init(struct ds_oprun *, size_t maxtuple, uint32_t bundle);
/* Call fini if init succeeded, unload the plugin, free everything. */
void	ds_oprun_term(struct ds_oprun *);

/* Run op (a static table, e.g. a built-in); kind and name are for messages. */
void	ds_oprun_use(struct ds_oprun *, const struct ds_op_plugin *,
	    const char *kind, const char *name);
/*
 * dlopen FILE (a name without '/' is taken from the current directory) and
 * use its ds_op_plugin.  0, or -1 with code 78 and dlerror's text.
 */
int	ds_oprun_load(struct ds_oprun *, const char *file);
/* Call the operator's init with (argc, argv).  0 or -1. */
int	ds_oprun_start(struct ds_oprun *, int argc, char *const argv[]);
/*
 * The same with argv = name, then the NULL-ended args (NULL: none),
 * copied and kept until ds_oprun_term (an operator may keep pointers into
 * its argv).  0 or -1 (71 when out of memory).
 */
int	ds_oprun_start_args(struct ds_oprun *, const char *name,
	    const char *const *args);

/*
 * Apply the operator to every tuple of b, then close the output bundle so
 * that the outputs of one input bundle never share a bundle with later
 * ones; with an operator program (exec set by ds_exec_start), through it.
 * 0 or -1 (65: an oversized tuple or state; 70: a callback failed).
 */
int	ds_oprun_bundle(struct ds_oprun *, const struct ds_bundle *);
/* Fire the timers due at now (ns).  0 or -1. */
int	ds_oprun_fire(struct ds_oprun *, uint64_t now);
/* 1 and *when set if a timer is pending, else 0. */
int	ds_oprun_next_timer(const struct ds_oprun *, uint64_t *when);
/* Recovery: key's timer fires at when.  0, or -1/ENOMEM. */
int	ds_oprun_restore_timer(struct ds_oprun *, const void *key, size_t klen,
	    uint64_t when);
/* Recovery: key's value is val (NULL: it has none).  0, or -1/ENOMEM. */
int	ds_oprun_restore(struct ds_oprun *, const void *key, size_t klen,
	    const void *val, size_t vlen);
/*
 * The state as records (core/rec.h), for a state log or a journal.  After
 * ds_state_track(&r->st, 1): ds_oprun_dirty appends a DELTA for every key
 * changed since the last call and, with timers, a TIMER for every timer
 * set, moved or cancelled, counting them in *n (0, or -1/ENOMEM).
 * ds_oprun_each yields every key with a value (start with *iter 0): 1
 * and the pair (borrowed until the state changes), or 0 at the end.
 */
int	ds_oprun_dirty(struct ds_oprun *, struct ds_buf *recs, int timers,
	    uint32_t *n);
int	ds_oprun_each(const struct ds_oprun *, size_t *iter, const void **key,
	    size_t *klen, const void **val, size_t *vlen);
/*
 * Why the input ended: at its real end (a pipe's END, every producer of
 * a topology node finished), or because the job is being stopped in
 * order, to be resumed later (ds_node_stopped).
 */
enum ds_oprun_why {
	DS_OPRUN_END,
	DS_OPRUN_STOP
};
/* --final: the built-in emits its final values at the end, or at a stop too. */
#define DS_OPRUN_FINAL_END	1
#define DS_OPRUN_FINAL_STOP	2
/*
 * Input ended: call on_end (or end the operator program: its end
 * requests, its last E lines, its exit), close the output bundle.  At a
 * stop nothing of this runs, the program is left running (ds_exec_term
 * kills it), unless final is DS_OPRUN_FINAL_STOP: then a built-in's
 * on_end runs at a stop too.  0 or -1.
 */
int	ds_oprun_end(struct ds_oprun *, enum ds_oprun_why);
/*
 * List every key with a value in keys, in ascending order of key bytes
 * (then length), each record pinned; the list taken before is let go
 * first.  0, or -1 (71).  ds_oprun_keys_free lets the list go.
 */
int	ds_oprun_keys(struct ds_oprun *);
void	ds_oprun_keys_free(struct ds_oprun *);

/*
 * Append a tuple to the output (its seq is assigned here, t->seq is
 * ignored).  Checks --max-tuple (65) and maxemit (70).  0 or -1.
 */
int	ds_oprun_emit(struct ds_oprun *, const struct ds_tuple *);
/* Close the open output bundle, if any.  0 or -1. */
int	ds_oprun_close(struct ds_oprun *);
/*
 * Set rec's value, checking it against --max-tuple (65) and, for a key
 * without a value, maxkeys (70).  0 or -1.
 */
int	ds_oprun_setstate(struct ds_oprun *, struct ds_state_rec *,
	    const void *, size_t);
/* Record the first failure; always returns -1. */
int	ds_oprun_fail(struct ds_oprun *, int code, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Log levels for the hook: the values of node/log.h's DS_LOG_WARN, _INFO. */
#define DS_OPRUN_WARN	1
#define DS_OPRUN_INFO	2
/* Hand one line to the log hook. */
void	ds_oprun_log(struct ds_oprun *, int level, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Processing time: CLOCK_REALTIME in ns. */
uint64_t ds_oprun_now(void);

#endif
