/*
 * count.c: the keyed running count as a ds-op plugin; its output equals
 * `ds-op --builtin count`.  The state is the count in decimal, as in
 * examples/exec/count.*, so every version keeps the same bytes per key.
 * It needs only <ds_op.h>; `make` builds examples/plugins/count.so, and
 * against an installed dstream (ds-op(1), Writing a plugin):
 *
 *	cc -shared -fPIC $(pkg-config --cflags dstream) -o count.so count.c
 *	ds-source --key-field 1 < log | ds-op --plugin ./count.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ds_op.h>

static int
on_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	const void *v;
	char buf[24];
	size_t len;
	unsigned long long n = 0;
	int w;

	if (ds_state_get(c, &v, &len) == 1 && len < sizeof(buf)) {
		memcpy(buf, v, len);
		buf[len] = '\0';
		n = strtoull(buf, NULL, 10);
	}
	w = snprintf(buf, sizeof(buf), "%llu", n + 1);
	if (ds_state_put(c, buf, (size_t)w) == -1)
		return -1;
	return ds_emit(c, t->key, t->keylen, buf, (size_t)w, 0);
}

DS_OP_PLUGIN("count", NULL, on_tuple, NULL, NULL, NULL);
