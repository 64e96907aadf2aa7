/*
 * t/unit/oprun.c: the end of input in the operator runtime
 * (libds/op/oprun.c): ds_oprun_end at the real end and at an orderly
 * stop (which a pipe never has, so only this test reaches it), the
 * built-ins' --final, and on_end's iteration of the state (ds_next_key):
 * key order, the current key, changes during the iteration, EINVAL
 * outside it, and a state recovered as after a restart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/frame.h"
#include "core/tuple.h"
#include "op/builtin.h"
#include "op/oprun.h"
#include "tap.h"

/* Every output tuple so far as "key=payload " words; out is emptied. */
static const char *
drain(struct ds_oprun *r)
{
	static char words[4096];
	struct ds_bundle b = DS_BUNDLE_INIT;
	const unsigned char *p = r->out.p, *end = p + r->out.len;
	const char *why;
	uint32_t len, i;
	size_t o = 0;

	words[0] = '\0';
	while (p + DS_FRAME_HDR <= end) {
		len = (uint32_t)p[8] | (uint32_t)p[9] << 8 |
		    (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
		if (ds_bundle_decode(&b, p + DS_FRAME_HDR, len, 1 << 20,
		    &why) == -1) {
			snprintf(words, sizeof(words), "bad bundle: %s", why);
			break;
		}
		for (i = 0; i < b.count && o < sizeof(words); i++)
			o += (size_t)snprintf(words + o, sizeof(words) - o,
			    "%.*s=%.*s ", (int)b.t[i].keylen, b.t[i].key,
			    (int)b.t[i].paylen, b.t[i].payload);
		p += DS_FRAME_HDR + len;
	}
	ds_bundle_free(&b);
	ds_buf_reset(&r->out);
	return words;
}

/* One input bundle: "key payload|key payload|...". */
static int
feed(struct ds_oprun *r, const char *tuples)
{
	static char copy[1024];
	struct ds_tuple t[64];
	struct ds_bundle b = DS_BUNDLE_INIT;
	char *k, *v, *save = NULL;
	uint32_t n = 0;

	snprintf(copy, sizeof(copy), "%s", tuples);
	for (k = strtok_r(copy, "|", &save); k != NULL && n < 64;
	    k = strtok_r(NULL, "|", &save)) {
		if ((v = strchr(k, ' ')) == NULL)
			break;
		*v++ = '\0';
		memset(&t[n], 0, sizeof(t[n]));
		t[n].seq = n + 1;
		t[n].time = 1000 + n;
		t[n].key = (const unsigned char *)k;
		t[n].keylen = strlen(k);
		t[n].payload = (const unsigned char *)v;
		t[n].paylen = strlen(v);
		n++;
	}
	b.t = t;
	b.count = n;
	return ds_oprun_bundle(r, &b);
}

/* A built-in with --final (0, _END or _STOP) and its operands. */
static void
builtin(struct ds_oprun *r, const char *name, int final,
    const char *const *args)
{
	ds_oprun_init(r, 1 << 20, 64);
	r->final = final;
	ds_oprun_use(r, ds_builtin_find(name), "built-in", name);
	if (ds_oprun_start_args(r, name, args) == -1)
		printf("# %s\n", r->msg);
}

static void
finals(void)
{
	struct ds_oprun r;
	static const char *const field2[] = { "2", NULL };

	builtin(&r, "count", 0, NULL);
	ok(feed(&r, "b x|a x|b x") == 0 && strcmp(drain(&r),
	    "b=1 a=1 b=2 ") == 0, "count: every running value");
	ok(ds_oprun_end(&r, DS_OPRUN_END) == 0 && *drain(&r) == '\0',
	    "count: nothing at the end");
	ds_oprun_term(&r);

	builtin(&r, "count", DS_OPRUN_FINAL_END, NULL);
	ok(feed(&r, "b x|a x|b x") == 0 && *drain(&r) == '\0',
	    "count --final: nothing per tuple");
	ok(feed(&r, "ab x|a x") == 0 && *drain(&r) == '\0',
	    "count --final: nothing for a second bundle");
	ok(ds_oprun_end(&r, DS_OPRUN_STOP) == 0 && *drain(&r) == '\0',
	    "count --final: nothing at an orderly stop");
	ok(ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
	    strcmp(drain(&r), "a=2 ab=1 b=2 ") == 0,
	    "count --final: each key once at the end, in key order");
	ds_oprun_term(&r);

	builtin(&r, "count", DS_OPRUN_FINAL_STOP, NULL);
	ok(feed(&r, "b x|a x|b x") == 0 && *drain(&r) == '\0',
	    "count --final=stop: nothing per tuple");
	ok(ds_oprun_end(&r, DS_OPRUN_STOP) == 0 &&
	    strcmp(drain(&r), "a=1 b=2 ") == 0,
	    "count --final=stop: each key at an orderly stop");
	ds_oprun_term(&r);

	builtin(&r, "sum", DS_OPRUN_FINAL_END, field2);
	ok(feed(&r, "k 1 2|j 0 0.5|k 2") == 0 && *drain(&r) == '\0',
	    "sum --final: nothing per tuple (one skipped)");
	ok(ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
	    strcmp(drain(&r), "j=0.5 k=2 ") == 0,
	    "sum 2 --final: each key's sum at the end");
	ds_oprun_term(&r);

	/* A restart: the state comes back from the log, on_end sees it. */
	builtin(&r, "count", DS_OPRUN_FINAL_END, NULL);
	ok(ds_oprun_restore(&r, "z", 1, "\x05\0\0\0\0\0\0\0", 8) == 0 &&
	    ds_oprun_restore(&r, "y", 1, "\x07\0\0\0\0\0\0\0", 8) == 0,
	    "a recovered state");
	ok(feed(&r, "z x|x x") == 0 && ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
	    strcmp(drain(&r), "x=1 y=7 z=6 ") == 0,
	    "count --final after recovery: the recovered counts go on");
	ds_oprun_term(&r);

	/* topk N FIELD: by the sum of the field. */
	{
		static const char *const by2[] = { "2", "2", NULL };

		builtin(&r, "topk", 0, by2);
		ok(feed(&r, "a 1 5|b 1 7|a 1 4|c 1 -1|d 1 1.5") == 0 &&
		    ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
		    strcmp(drain(&r), "a=9 b=7 ") == 0,
		    "topk 2 2: the two biggest sums of field 2");
		ds_oprun_term(&r);
		builtin(&r, "topk", 0, (const char *const []){ "3", "2",
		    NULL });
		ok(feed(&r, "a 1 5|b 1 7|a 1 4|c 1 -1|d 1 1.5") == 0 &&
		    ds_oprun_end(&r, DS_OPRUN_STOP) == 0 &&
		    *drain(&r) == '\0', "topk: nothing at an orderly stop");
		ok(ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
		    strcmp(drain(&r), "a=9 b=7 d=1.5 ") == 0,
		    "topk 3 2: integer and fractional sums rank together");
		ds_oprun_term(&r);
	}
}

/* A plugin's on_end that iterates the state. */
static int	mode;
static char	seen[256];

static int
it_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	return ds_state_put(c, t->payload, t->paylen);
}

static int
it_end(struct ds_op_ctx *c)
{
	const void *k, *v;
	size_t it = 0, kl, vl;
	int rc;

	seen[0] = '\0';
	if (ds_state_get(c, &v, &vl) != -1 || errno != EINVAL)
		return 10;	/* no current key before the iteration */
	while ((rc = ds_next_key(c, &it, &k, &kl)) == 1) {
		if (ds_state_get(c, &v, &vl) != 1)
			return 11;
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen),
		    "%.*s:%.*s ", (int)kl, (const char *)k, (int)vl,
		    (const char *)v);
		if (mode == 1 && memcmp(k, "a", kl) == 0 &&
		    ds_state_put(c, "!", 1) == -1)
			return 12;
		if (mode == 1 && memcmp(k, "b", kl) == 0 &&
		    ds_state_del(c) == -1)
			return 13;
		if (ds_emit(c, k, kl, "e", 1, 0) == -1)
			return 14;
	}
	if (rc != 0)
		return 15;
	if (ds_state_get(c, &v, &vl) != -1 || errno != EINVAL)
		return 16;	/* nor after it */
	return 0;
}

static int
it_tuple_next(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	const void *k;
	size_t it = 0, kl;

	(void)t;
	return ds_next_key(c, &it, &k, &kl) == -1 && errno == EINVAL ? 0 : 1;
}

static void
iteration(void)
{
	static const struct ds_op_plugin itp = { DS_OP_ABI, "it", NULL,
	    it_tuple, NULL, it_end, NULL };
	static const struct ds_op_plugin nextp = { DS_OP_ABI, "next", NULL,
	    it_tuple_next, NULL, NULL, NULL };
	struct ds_oprun r;
	const void *v;
	size_t vl;

	ds_oprun_init(&r, 1 << 20, 64);
	ds_oprun_use(&r, &itp, "plugin", "it");
	ok(ds_oprun_start(&r, 0, NULL) == 0, "start");
	ok(feed(&r, "cc 3|a 1|c 2|b 9|b 4|d x") == 0, "state for 5 keys");
	ok(ds_oprun_end(&r, DS_OPRUN_STOP) == 0 && seen[0] == '\0' &&
	    *drain(&r) == '\0', "no on_end at an orderly stop");
	ok(ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
	    strcmp(seen, "a:1 b:4 c:2 cc:3 d:x ") == 0,
	    "on_end sees every key with state, in key order: %s", seen);
	ok(strcmp(drain(&r), "a=e b=e c=e cc=e d=e ") == 0,
	    "emit with the iterated key");
	ds_oprun_term(&r);

	mode = 1;
	ds_oprun_init(&r, 1 << 20, 64);
	ds_oprun_use(&r, &itp, "plugin", "it");
	ok(ds_oprun_start(&r, 0, NULL) == 0 && feed(&r, "b 1|a 2|c 3") == 0,
	    "state for 3 keys");
	ok(ds_oprun_end(&r, DS_OPRUN_END) == 0 &&
	    strcmp(seen, "a:2 b:1 c:3 ") == 0, "put and del during the "
	    "iteration do not disturb it: %s (%s)", seen, r.msg);
	ok(ds_state_lookup(&r.st, "a", 1, &v, &vl) == 1 && vl == 1 &&
	    memcmp(v, "!", 1) == 0, "a put on the current key lands");
	ok(ds_state_lookup(&r.st, "b", 1, &v, &vl) == 0 && r.st.nval == 2 &&
	    r.st.n == 2, "a deleted key is gone, its record freed");
	ds_oprun_term(&r);
	mode = 0;

	ds_oprun_init(&r, 1 << 20, 64);
	ds_oprun_use(&r, &nextp, "plugin", "next");
	ok(ds_oprun_start(&r, 0, NULL) == 0 && feed(&r, "a 1") == 0,
	    "ds_next_key fails with EINVAL outside on_end");
	ds_oprun_term(&r);
}

int
main(void)
{
	finals();
	iteration();
	return done();
}
