/*
 * golden.h: the tuples behind the golden frame files in t/data, shared by
 * t/unit/golden.c (which writes and checks the files) and t/unit/frame.c
 * and end.c (which compare them with the encoder and decode them).  The
 * streams are what pipe mode produces: producer 0, epoch 0, seqs 1..n in
 * bundles, then the END that closes the stream.  Changing anything here
 * changes the files: rerun `t/unit/golden -w`.
 */
#ifndef DS_GOLDEN_H
#define DS_GOLDEN_H

#include <string.h>

#include "core/buf.h"
#include "core/tuple.h"

#define GOLDEN_T0	1700000000000000000ull	/* 2023-11-14T22:13:20Z */

struct golden_tuple {
	int		 bundle;	/* index of the bundle it goes in */
	uint64_t	 seq;
	uint64_t	 time;
	unsigned	 flags;
	uint64_t	 trace;
	const char	*key;
	const char	*payload;
};

/* one.frames: one bundle, one tuple. */
static const struct golden_tuple golden_one[] = {
	{ 0, 1, GOLDEN_T0, 0, 0, "k1", "hello" },
};

/* three.frames: three bundles; a trace id, an empty key, an empty payload. */
static const struct golden_tuple golden_three[] = {
	{ 0, 1, GOLDEN_T0, 0, 0, "apple", "red" },
	{ 0, 2, GOLDEN_T0 + 1000000, 0, 0, "banana", "yellow" },
	{ 1, 3, GOLDEN_T0 + 2000000, DS_TUPLE_TRACE, 0x0123456789abcdefull,
	    "apple", "green" },
	{ 2, 4, GOLDEN_T0 + 3000000, 0, 0, "", "no key" },
	{ 2, 5, GOLDEN_T0 + 4000000, 0, 0, "cherry", "" },
};

#define GOLDEN_N(a)	(sizeof(a) / sizeof((a)[0]))

static inline void
golden_tuple(struct ds_tuple *t, const struct golden_tuple *g)
{
	memset(t, 0, sizeof(*t));
	t->seq = g->seq;
	t->time = g->time;
	t->flags = g->flags;
	t->trace = g->trace;
	t->key = (const unsigned char *)g->key;
	t->keylen = strlen(g->key);
	t->payload = (const unsigned char *)g->payload;
	t->paylen = strlen(g->payload);
}

/*
 * Encode tuples g[0..n) with the bundle writer, then the END frame of the
 * stream (n 0: the END alone, the empty stream).  0, or -1 with errno.
 */
static inline int
golden_encode(struct ds_buf *out, const struct golden_tuple *g, size_t n)
{
	struct ds_bundle_writer w;
	struct ds_tuple t;
	struct ds_end e = { 0, 0, n, n > 0 ? g[n - 1].seq : 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		if (i == 0 || g[i].bundle != g[i - 1].bundle) {
			if (i > 0 && ds_bundle_end(&w) == -1)
				return -1;
			if (ds_bundle_begin(&w, out, 0, 0) == -1)
				return -1;
		}
		golden_tuple(&t, &g[i]);
		if (ds_bundle_add(&w, &t) == -1)
			return -1;
	}
	if ((n > 0 && ds_bundle_end(&w) == -1) ||
	    ds_buf_grow(out, DS_END_FRAME) == -1)
		return -1;
	ds_end_pack(out->p + out->len, &e);
	out->len += DS_END_FRAME;
	return 0;
}

/* The .hex twin: exactly what `od -An -tx1 -v` prints for the bytes. */
static inline int
golden_hex(struct ds_buf *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		if (ds_buf_addc(out, ' ') == -1 ||
		    ds_buf_addc(out, digits[p[i] >> 4]) == -1 ||
		    ds_buf_addc(out, digits[p[i] & 15]) == -1)
			return -1;
		if ((i % 16 == 15 || i == n - 1) &&
		    ds_buf_addc(out, '\n') == -1)
			return -1;
	}
	return 0;
}

#endif
