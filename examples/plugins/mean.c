/*
 * mean.c: a ds-op plugin that gives a final table: the mean of the last
 * field of each key's payloads (split on blanks, as sum numbers them; a
 * field that is not a number is skipped), one tuple per key at the end of
 * input, "key <TAB> mean" printed with %.17g, keys in
 * ascending byte order.  on_tuple keeps "count sum" as the key's state;
 * on_end walks every key with state (ds_next_key makes each one current
 * in turn) and emits its mean.  In a topology the state survives a
 * restart and on_end runs once, at the real end of the input: not when
 * the job is stopped to be resumed later.
 *
 *	ds-source --key-field 1 < log | ds-op --plugin examples/plugins/mean.so
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ds_op.h>

/* The key's "count sum": 0 and 0 when it has none. */
static void
get(struct ds_op_ctx *c, unsigned long long *n, double *sum)
{
	const void *v;
	char buf[64];
	size_t len;

	*n = 0;
	*sum = 0;
	if (ds_state_get(c, &v, &len) != 1 || len >= sizeof(buf))
		return;
	memcpy(buf, v, len);
	buf[len] = '\0';
	if (sscanf(buf, "%llu %lg", n, sum) != 2)
		*n = 0;
}

static int
on_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	const char *p = t->payload, *end = p + t->paylen, *f;
	unsigned long long n;
	double sum, x;
	char buf[64], *rest;
	size_t len;
	int w;

	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (f = end; f > p && f[-1] != ' ' && f[-1] != '\t'; f--)
		;
	len = (size_t)(end - f);	/* the last field: [f, end) */
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, f, len);
	buf[len] = '\0';
	x = strtod(buf, &rest);
	if (*rest != '\0')
		return 0;
	get(c, &n, &sum);
	/* %.17g reads back as the same double: the state loses nothing. */
	w = snprintf(buf, sizeof(buf), "%llu %.17g", n + 1, sum + x);
	return ds_state_put(c, buf, (size_t)w);
}

static int
on_end(struct ds_op_ctx *c)
{
	unsigned long long n;
	const void *key;
	size_t it = 0, keylen;
	double sum;
	char buf[32];
	int rc, w;

	while ((rc = ds_next_key(c, &it, &key, &keylen)) == 1) {
		get(c, &n, &sum);
		if (n == 0)
			continue;
		w = snprintf(buf, sizeof(buf), "%.17g", sum / (double)n);
		if (ds_emit(c, key, keylen, buf, (size_t)w, 0) == -1)
			return -1;
	}
	return rc;
}

DS_OP_PLUGIN("mean", NULL, on_tuple, NULL, on_end, NULL);
