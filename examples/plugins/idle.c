/*
 * idle.c: a ds-op plugin that uses timers.  It counts each key's tuples
 * until the key has been quiet for MS milliseconds of processing time
 * (operand, default 1000), then emits "key <TAB> count" for that burst
 * and forgets the key: a processing-time session window.  Every tuple
 * moves its key's timer (one timer per key; setting replaces it).  ds-op
 * drops pending timers at the end of input, so on_end cannot reach them;
 * a burst still open then is simply not reported.
 *
 *	ds-op --plugin examples/plugins/idle.so 500
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ds_op.h>

struct idle {
	uint64_t	gap;		/* ns */
};

static int
init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	struct idle *d;
	unsigned long ms = 1000;
	char *end;

	if (argc > 2) {
		fprintf(stderr, "idle: usage: idle.so [MS]\n");
		return 1;
	}
	if (argc == 2) {
		errno = 0;
		ms = strtoul(argv[1], &end, 10);
		if (errno != 0 || *end != '\0' || ms == 0) {
			fprintf(stderr, "idle: bad MS: '%s'\n", argv[1]);
			return 1;
		}
	}
	if ((d = malloc(sizeof(*d))) == NULL)
		return 1;
	d->gap = (uint64_t)ms * 1000000;
	c->user = d;
	return 0;
}

static int
on_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	struct idle *d = c->user;
	const void *v;
	uint64_t n = 0;
	size_t len;

	(void)t;
	if (ds_state_get(c, &v, &len) == 1 && len == sizeof(n))
		memcpy(&n, v, sizeof(n));
	n++;
	if (ds_state_put(c, &n, sizeof(n)) == -1)
		return 1;
	return ds_timer_set(c, ds_now(c) + d->gap) == -1;
}

static int
on_timer(struct ds_op_ctx *c, const void *key, size_t keylen, uint64_t when)
{
	const void *v;
	uint64_t n = 0;
	size_t len;
	char buf[24];
	int w;

	(void)when;
	if (ds_state_get(c, &v, &len) == 1 && len == sizeof(n))
		memcpy(&n, v, sizeof(n));
	w = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
	if (ds_emit(c, key, keylen, buf, (size_t)w, 0) == -1)
		return 1;
	return ds_state_del(c) == -1;
}

static void
fini(struct ds_op_ctx *c)
{
	free(c->user);
}

DS_OP_PLUGIN("idle", init, on_tuple, on_timer, NULL, fini);
