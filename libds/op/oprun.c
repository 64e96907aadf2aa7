/*
 * oprun.c: the operator runtime.  The current key is looked up lazily,
 * once per callback, so an operator that never touches state (identity,
 * filter) costs no hashing; a record looked up during a callback is
 * released only after it, so pointers handed to the operator stay valid.
 * Output tuples are appended straight into whole BUNDLE frames in out:
 * nothing here allocates per tuple once the buffers have grown.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exit.h"
#include "core/rec.h"
#include "core/timefmt.h"
#include "op/exec.h"
#include "op/oprun.h"

static const struct ds_op_api api;

uint64_t
ds_oprun_now(void)
{
	return ds_now_ns();
}

void
ds_oprun_init(struct ds_oprun *r, size_t maxtuple, uint32_t bundle)
{
	memset(r, 0, sizeof(*r));
	r->ctx.api = &api;
	ds_state_init(&r->st);
	ds_timers_init(&r->tm);
	r->maxtuple = maxtuple;
	r->bundle = bundle;
	r->kind = "operator";
	r->name = "?";
}

void
ds_oprun_term(struct ds_oprun *r)
{
	if (r->started && r->op->fini != NULL)
		r->op->fini(&r->ctx);
	r->started = 0;
	if (r->dl != NULL)
		dlclose(r->dl);
	r->dl = NULL;
	while (r->argc > 0)
		free(r->argv[--r->argc]);
	free(r->argv);
	r->argv = NULL;
	free(r->keys);		/* the records go with the table */
	r->keys = NULL;
	r->nkeys = r->keyscap = 0;
	ds_timers_term(&r->tm);
	ds_state_term(&r->st);
	ds_buf_free(&r->out);
}

int
ds_oprun_fail(struct ds_oprun *r, int code, const char *fmt, ...)
{
	va_list ap;

	if (r->code == 0) {
		r->code = code;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

void
ds_oprun_log(struct ds_oprun *r, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (r->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->log(level, line);
}

static int
nomem(struct ds_oprun *r)
{
	return ds_oprun_fail(r, DS_EX_OSERR, "out of memory");
}

/* A callback returned rc: keep a failure it caused, else blame it. */
static int
cbfail(struct ds_oprun *r, const char *cb, int rc)
{
	return ds_oprun_fail(r, DS_EX_SOFTWARE, "%s %s: %s failed (returned %d)",
	    r->kind, r->name, cb, rc);
}

void
ds_oprun_use(struct ds_oprun *r, const struct ds_op_plugin *op,
    const char *kind, const char *name)
{
	r->op = op;
	r->kind = kind;
	r->name = name;
}

int
ds_oprun_load(struct ds_oprun *r, const char *file)
{
	const struct ds_op_plugin *op;
	char path[PATH_MAX];
	const char *e;

	snprintf(path, sizeof(path), "%s%s", strchr(file, '/') ? "" : "./",
	    file);
	if ((r->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return ds_oprun_fail(r, DS_EX_CONFIG, "%s", dlerror());
	(void)dlerror();
	if ((op = dlsym(r->dl, "ds_op_plugin")) == NULL) {
		e = dlerror();
		return ds_oprun_fail(r, DS_EX_CONFIG, "%s",
		    e ? e : "ds_op_plugin is NULL");
	}
	if (op->abi < 1 || op->abi > DS_OP_ABI)
		return ds_oprun_fail(r, DS_EX_CONFIG,
		    "%s: plugin ABI %u, ds-op supports ABI 1 to %u", file,
		    (unsigned)op->abi, DS_OP_ABI);
	if (op->on_tuple == NULL)
		return ds_oprun_fail(r, DS_EX_CONFIG,
		    "%s: plugin has no on_tuple callback", file);
	ds_oprun_use(r, op, "plugin", op->name ? op->name : file);
	return 0;
}

int
ds_oprun_start(struct ds_oprun *r, int argc, char *const argv[])
{
	int rc = 0;

	r->time = r->maxtime;
	r->emitted = 0;
	if (r->op->init != NULL && ((rc = r->op->init(&r->ctx, argc, argv)) != 0
	    || r->code != 0))
		return cbfail(r, "init", rc);
	r->started = 1;
	return ds_oprun_close(r);
}

int
ds_oprun_start_args(struct ds_oprun *r, const char *name,
    const char *const *args)
{
	int n = 0;

	while (args != NULL && args[n] != NULL)
		n++;
	if ((r->argv = calloc((size_t)n + 2, sizeof(*r->argv))) == NULL)
		return ds_oprun_fail(r, DS_EX_OSERR, "out of memory");
	for (r->argc = 0; r->argc <= n; r->argc++)
		if ((r->argv[r->argc] = strdup(r->argc == 0 ? name :
		    args[r->argc - 1])) == NULL)
			return ds_oprun_fail(r, DS_EX_OSERR, "out of memory");
	return ds_oprun_start(r, r->argc, r->argv);
}

int
ds_oprun_close(struct ds_oprun *r)
{
	if (ds_bundle_end(&r->w) == -1)
		return ds_oprun_fail(r, DS_EX_SOFTWARE,
		    "output bundle over the frame size limit");
	return r->code ? -1 : 0;
}

int
ds_oprun_emit(struct ds_oprun *r, const struct ds_tuple *t)
{
	struct ds_tuple o;

	if (r->code != 0)
		return -1;
	if (t->keylen + t->paylen > r->maxtuple)
		return ds_oprun_fail(r, DS_EX_DATAERR,
		    "%s %s emitted a tuple of %zu bytes, over --max-tuple %zu",
		    r->kind, r->name, t->keylen + t->paylen, r->maxtuple);
	o = *t;
	o.seq = r->seq + 1;
	r->emitted += ds_tuple_size(&o);
	if (r->maxemit != 0 && r->emitted > r->maxemit)
		return ds_oprun_fail(r, DS_EX_SOFTWARE,
		    "%s %s emitted more than --max-emit %llu bytes for one "
		    "tuple, timer or end of input", r->kind, r->name,
		    (unsigned long long)r->maxemit);
	if (r->w.open && ds_bundle_bytes(&r->w) + ds_tuple_size(&o) >
	    DS_FRAME_MAX && ds_oprun_close(r) == -1)
		return -1;
	if (!r->w.open && ds_bundle_begin(&r->w, &r->out, r->producer,
	    r->epoch) == -1)
		return nomem(r);
	if (ds_bundle_add(&r->w, &o) == -1)
		return nomem(r);
	r->seq++;
	if (r->w.count >= r->bundle ||
	    ds_bundle_bytes(&r->w) >= DS_BUNDLE_SOFTMAX)
		return ds_oprun_close(r);
	return 0;
}

int
ds_oprun_setstate(struct ds_oprun *r, struct ds_state_rec *rec,
    const void *val, size_t len)
{
	if (r->code != 0)
		return -1;
	if (len > r->maxtuple)
		return ds_oprun_fail(r, DS_EX_DATAERR,
		    "%s %s stored a state of %zu bytes, over --max-tuple %zu",
		    r->kind, r->name, len, r->maxtuple);
	if (!rec->hasval && r->maxkeys != 0 && r->st.nval >= r->maxkeys)
		return ds_oprun_fail(r, DS_EX_SOFTWARE,
		    "%s %s: the state would hold %zu keys, over --max-keys "
		    "%llu", r->kind, r->name, r->st.nval + 1,
		    (unsigned long long)r->maxkeys);
	if (ds_state_set(&r->st, rec, val, len) == -1)
		return nomem(r);
	return 0;
}

/* The current key: set for one callback, released after it. */
static void
key_begin(struct ds_oprun *r, const void *key, size_t len,
    struct ds_state_rec *rec, uint64_t time)
{
	r->emitted = 0;
	r->haskey = 1;
	r->key = key;
	r->keylen = len;
	r->rec = rec;
	r->hashed = rec != NULL;
	if (rec != NULL)
		r->hash = rec->hash;
	r->time = time;
}

static void
key_end(struct ds_oprun *r)
{
	if (r->rec != NULL)
		ds_state_release(&r->st, r->rec);
	r->rec = NULL;
	r->haskey = 0;
	r->in = NULL;
	r->time = r->maxtime;
}

static struct ds_state_rec *
key_find(struct ds_oprun *r)
{
	if (r->rec == NULL) {
		if (!r->hashed) {
			r->hash = ds_state_hash(r->key, r->keylen);
			r->hashed = 1;
		}
		r->rec = ds_state_find(&r->st, r->key, r->keylen, r->hash);
	}
	return r->rec;
}

static struct ds_state_rec *
key_intern(struct ds_oprun *r)
{
	if (key_find(r) == NULL &&
	    (r->rec = ds_state_intern(&r->st, r->key, r->keylen, r->hash)) ==
	    NULL)
		nomem(r);
	return r->rec;
}

int
ds_oprun_bundle(struct ds_oprun *r, const struct ds_bundle *b)
{
	const struct ds_tuple *t;
	struct ds_op_tuple ot;
	uint32_t i;
	int rc;

	if (r->exec != NULL)
		return ds_exec_bundle(r->exec, b);
	if (r->code != 0)
		return -1;
	for (i = 0; i < b->count; i++) {
		t = &b->t[i];
		if (t->time > r->maxtime)
			r->maxtime = t->time;
		ot.key = t->key;
		ot.keylen = t->keylen;
		ot.payload = t->payload;
		ot.paylen = t->paylen;
		ot.time = t->time;
		key_begin(r, t->key, t->keylen, NULL, t->time);
		r->in = t;
		rc = r->op->on_tuple(&r->ctx, &ot);
		key_end(r);
		if (rc != 0 || r->code != 0)
			return cbfail(r, "on_tuple", rc);
	}
	return ds_oprun_close(r);
}

int
ds_oprun_fire(struct ds_oprun *r, uint64_t now)
{
	struct ds_state_rec *rec;
	size_t n = r->tm.n;	/* timers re-armed while firing wait a round */
	int rc = 0;

	if (r->code != 0)
		return -1;
	while (n-- > 0 && (rec = ds_timer_first(&r->tm)) != NULL &&
	    rec->when <= now) {
		ds_timer_pop(&r->tm);
		ds_state_touch_timer(&r->st, rec);
		key_begin(r, rec->key, rec->klen, rec, rec->when);
		if (r->op->on_timer != NULL)
			rc = r->op->on_timer(&r->ctx, rec->key, rec->klen,
			    rec->when);
		key_end(r);
		if (rc != 0 || r->code != 0)
			return cbfail(r, "on_timer", rc);
	}
	return ds_oprun_close(r);
}

int
ds_oprun_restore_timer(struct ds_oprun *r, const void *key, size_t klen,
    uint64_t when)
{
	struct ds_state_rec *rec;

	if ((rec = ds_state_intern(&r->st, key, klen, ds_state_hash(key,
	    klen))) == NULL)
		return -1;
	if (ds_timer_arm(&r->tm, rec, when) == -1) {
		ds_state_release(&r->st, rec);
		return -1;
	}
	return 0;
}

int
ds_oprun_restore(struct ds_oprun *r, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	if (val == NULL) {
		ds_state_remove(&r->st, key, klen);
		return 0;
	}
	return ds_state_store(&r->st, key, klen, val, vlen);
}

/* A changed key as records: its value and, if it moved, its timer. */
struct recs {
	struct ds_buf	*b;
	uint32_t	*n;
	int		 timers;
};

static int
put_rec(void *arg, const struct ds_state_rec *rec)
{
	struct recs *r = arg;

	(*r->n)++;
	if (ds_rec_put_delta(r->b, rec->key, rec->klen, rec->hasval ?
	    rec->val : NULL, rec->hasval ? rec->vlen : 0) == -1)
		return -1;
	if (!r->timers || !rec->tdirty)
		return 0;
	(*r->n)++;
	return ds_rec_put_timer(r->b, rec->key, rec->klen, rec->tidx != 0 ?
	    rec->when : DS_REC_CANCEL);
}

/* A changed key's value alone (no timers kept). */
static int
put_value(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct recs *r = arg;

	(*r->n)++;
	return ds_rec_put_delta(r->b, key, klen, val, vlen);
}

int
ds_oprun_dirty(struct ds_oprun *r, struct ds_buf *b, int timers,
    uint32_t *n)
{
	struct recs rs = { b, n, timers };

	if (!timers)
		return ds_state_dirty(&r->st, put_value, &rs);
	return ds_state_dirty_recs(&r->st, put_rec, &rs);
}

int
ds_oprun_each(const struct ds_oprun *r, size_t *it, const void **key,
    size_t *klen, const void **val, size_t *vlen)
{
	struct ds_state_rec *rec;

	while ((rec = ds_state_next(&r->st, it)) != NULL) {
		if (!rec->hasval)
			continue;
		*key = rec->key;
		*klen = rec->klen;
		*val = rec->val;
		*vlen = rec->vlen;
		return 1;
	}
	return 0;
}

int
ds_oprun_next_timer(const struct ds_oprun *r, uint64_t *when)
{
	const struct ds_state_rec *rec = ds_timer_first(&r->tm);

	if (rec == NULL)
		return 0;
	*when = rec->when;
	return 1;
}

/* Keys in ascending order of their bytes, a prefix first. */
static int
key_cmp(const void *a, const void *b)
{
	const struct ds_state_rec *ra = *(struct ds_state_rec *const *)a;
	const struct ds_state_rec *rb = *(struct ds_state_rec *const *)b;
	int c;

	c = memcmp(ra->key, rb->key, ra->klen < rb->klen ? ra->klen :
	    rb->klen);
	if (c != 0)
		return c;
	return (ra->klen > rb->klen) - (ra->klen < rb->klen);
}

void
ds_oprun_keys_free(struct ds_oprun *r)
{
	struct ds_state_rec *rec;

	while (r->nkeys > 0) {
		rec = r->keys[--r->nkeys];
		rec->pins--;
		ds_state_release(&r->st, rec);
	}
}

int
ds_oprun_keys(struct ds_oprun *r)
{
	struct ds_state_rec *rec, **p;
	size_t it = 0;

	ds_oprun_keys_free(r);
	if (r->st.nval > r->keyscap) {
		if ((p = realloc(r->keys, r->st.nval * sizeof(*p))) == NULL)
			return nomem(r);
		r->keys = p;
		r->keyscap = r->st.nval;
	}
	while ((rec = ds_state_next(&r->st, &it)) != NULL &&
	    r->nkeys < r->keyscap) {
		if (!rec->hasval)
			continue;
		rec->pins++;
		r->keys[r->nkeys++] = rec;
	}
	if (r->nkeys > 1)
		qsort(r->keys, r->nkeys, sizeof(*r->keys), key_cmp);
	return 0;
}

int
ds_oprun_end(struct ds_oprun *r, enum ds_oprun_why why)
{
	int rc = 0;

	if (r->code != 0)
		return -1;
	if (why == DS_OPRUN_STOP && r->final != DS_OPRUN_FINAL_STOP)
		return ds_oprun_close(r);
	if (r->exec != NULL)
		return ds_exec_end(r->exec);
	r->time = r->maxtime;
	r->emitted = 0;
	r->ending = 1;
	if (r->op->on_end != NULL)
		rc = r->op->on_end(&r->ctx);
	r->ending = 0;
	if (r->haskey)
		key_end(r);
	ds_oprun_keys_free(r);
	if (rc != 0 || r->code != 0)
		return cbfail(r, "on_end", rc);
	return ds_oprun_close(r);
}

/* struct ds_op_api: what operators call.  ctx is the first member of r. */

static int
api_emit(struct ds_op_ctx *c, const void *key, size_t keylen,
    const void *payload, size_t paylen, uint64_t time)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_tuple t;

	t.key = key;
	t.keylen = keylen;
	t.payload = payload;
	t.paylen = paylen;
	t.time = time ? time : r->time;
	t.flags = r->in ? r->in->flags & DS_TUPLE_TRACE : 0;
	t.trace = r->in ? r->in->trace : 0;
	t.seq = 0;
	return ds_oprun_emit(r, &t);
}

static int
nokey(void)
{
	errno = EINVAL;
	return -1;
}

static int
api_state_get(struct ds_op_ctx *c, const void **val, size_t *len)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_state_rec *rec;

	if (!r->haskey)
		return nokey();
	if ((rec = key_find(r)) == NULL || !rec->hasval)
		return 0;
	*val = rec->val;
	*len = rec->vlen;
	return 1;
}

static int
api_state_put(struct ds_op_ctx *c, const void *val, size_t len)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_state_rec *rec;

	if (!r->haskey)
		return nokey();
	if ((rec = key_intern(r)) == NULL)
		return -1;
	return ds_oprun_setstate(r, rec, val, len);
}

static int
api_state_del(struct ds_op_ctx *c)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_state_rec *rec;

	if (!r->haskey)
		return nokey();
	if ((rec = key_find(r)) != NULL)
		ds_state_clear(&r->st, rec);
	return 0;
}

static int
api_timer_set(struct ds_op_ctx *c, uint64_t when)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_state_rec *rec;

	if (!r->haskey)
		return nokey();
	if ((rec = key_intern(r)) == NULL)
		return -1;
	if (ds_timer_arm(&r->tm, rec, when) == -1)
		return nomem(r);
	ds_state_touch_timer(&r->st, rec);
	return 0;
}

static int
api_timer_cancel(struct ds_op_ctx *c)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_state_rec *rec;

	if (!r->haskey)
		return nokey();
	if ((rec = key_find(r)) != NULL && rec->tidx != 0) {
		ds_timer_disarm(&r->tm, rec);
		ds_state_touch_timer(&r->st, rec);
	}
	return 0;
}

static uint64_t
api_now(struct ds_op_ctx *c)
{
	(void)c;
	return ds_oprun_now();
}

/* The next key of on_end's iteration becomes the current key. */
static int
api_next_key(struct ds_op_ctx *c, size_t *it, const void **key,
    size_t *klen)
{
	struct ds_oprun *r = (struct ds_oprun *)c;
	struct ds_state_rec *rec;

	if (!r->ending)
		return nokey();
	if (r->haskey)
		key_end(r);
	if (*it == 0 && ds_oprun_keys(r) == -1) {
		errno = ENOMEM;
		return -1;
	}
	if (*it >= r->nkeys)
		return 0;
	rec = r->keys[(*it)++];
	/* Pinned by the list: key_end's release keeps it. */
	key_begin(r, rec->key, rec->klen, rec, r->maxtime);
	*key = rec->key;
	*klen = rec->klen;
	return 1;
}

static const struct ds_op_api api = {
	api_emit, api_state_get, api_state_put, api_state_del,
	api_timer_set, api_timer_cancel, api_now, api_next_key
};
