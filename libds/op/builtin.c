/*
 * builtin.c: the built-in operators, written against the plugin API
 * (struct ds_op_plugin, ds_emit, ds_state_*), so they share ds-op's one
 * path for keyed state, timers and output.  They also see the runtime
 * behind the context (ctx is the first member of struct ds_oprun) for
 * their options, the input tuple's seq and trace, and usage errors.
 * Counts are kept as 8-byte little-endian state values.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op/builtin.h"
#include "core/exit.h"
#include "op/oprun.h"
#include "core/wire.h"

#define RUN(c)		((struct ds_oprun *)(c))
#define TOPK_MAX	1000000
#define FIELD_MAX	1000000

const char ds_builtin_names[] = "count distinct filter identity sum topk";

/* Decimal digits of v into buf (at least 20 bytes); returns the length. */
static size_t
fmt_u64(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* Strict decimal operand in [min, max]; -1 on anything else. */
static int
operand(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

/* Refuse the built-in-only options a built-in does not take. */
static int
options(struct ds_oprun *r, const char *name, int match, int every)
{
	if (r->match != NULL && !match)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "--match is only valid with filter, not %s", name);
	if (r->every != 0 && !every)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "--every is only valid with topk, not %s", name);
	return 0;
}

static int
no_operands(struct ds_op_ctx *c, int argc, char *const argv[])
{
	if (options(RUN(c), argv[0], 0, 0) == -1)
		return -1;
	if (argc > 1)
		return ds_oprun_fail(RUN(c), DS_EX_USAGE,
		    "%s takes no operands", argv[0]);
	return 0;
}

/* The key's count, 0 if it has none. */
static uint64_t
count_of(const struct ds_state_rec *rec)
{
	return rec->hasval && rec->vlen == 8 ? ds_get_le64(rec->val) : 0;
}

/* Add one to the current key's count and return the new value (0: error). */
static uint64_t
count_up(struct ds_op_ctx *c)
{
	const void *v;
	unsigned char b[8];
	size_t len;
	uint64_t n = 0;

	if (ds_state_get(c, &v, &len) == 1 && len == 8)
		n = ds_get_le64(v);
	ds_put_le64(b, ++n);
	return ds_state_put(c, b, sizeof(b)) == 0 ? n : 0;
}

/* identity */

static int
identity_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	(void)t;
	return ds_oprun_emit(RUN(c), RUN(c)->in);
}

/* filter --match REGEX */

static int
filter_init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	struct ds_oprun *r = RUN(c);
	char err[256];
	regex_t *re;
	int rc;

	if (options(r, argv[0], 1, 0) == -1)
		return -1;
	if (r->match == NULL)
		return ds_oprun_fail(r, DS_EX_USAGE, "filter needs --match REGEX");
	if (argc > 1)
		return ds_oprun_fail(r, DS_EX_USAGE, "filter takes no operands");
	if ((re = malloc(sizeof(*re))) == NULL)
		return -1;
	if ((rc = regcomp(re, r->match, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, err, sizeof(err));
		free(re);
		return ds_oprun_fail(r, DS_EX_USAGE, "--match: %s: '%s'", err,
		    r->match);
	}
	c->user = re;
	return 0;
}

static int
filter_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	regmatch_t m;

	m.rm_so = 0;
	m.rm_eo = (regoff_t)t->paylen;
	if (regexec(c->user, t->paylen ? t->payload : "", 1, &m,
	    REG_STARTEND) != 0)
		return 0;
	return ds_oprun_emit(RUN(c), RUN(c)->in);
}

static void
filter_fini(struct ds_op_ctx *c)
{
	regfree(c->user);
	free(c->user);
}

/* count */

static int
count_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	char dec[20];
	uint64_t n;

	if ((n = count_up(c)) == 0)
		return -1;
	return ds_emit(c, t->key, t->keylen, dec, fmt_u64(dec, n), 0);
}

/* distinct */

static int
distinct_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	const void *v;
	size_t len;

	(void)t;
	if (ds_state_get(c, &v, &len) == 1)
		return 0;
	if (ds_state_put(c, "", 0) == -1)
		return -1;
	return ds_oprun_emit(RUN(c), RUN(c)->in);
}

/*
 * sum [FIELD]: state is a mode byte (0: integer, 1: floating point) and
 * the sum, an int64 or a double's bits, little-endian.
 */

struct sum {
	uint64_t	field;		/* 1-based; 0: the last field */
	uint64_t	skipped;
	char		num[512];	/* a field as a C string for strtod */
};

static int
sum_init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	struct ds_oprun *r = RUN(c);
	struct sum *s;
	uint64_t f = 0;

	if (options(r, argv[0], 0, 0) == -1)
		return -1;
	if (argc > 2)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "sum takes at most one operand, FIELD");
	if (argc == 2 && operand(argv[1], 1, FIELD_MAX, &f) == -1)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "sum: FIELD must be a number 1..%d, not '%s'", FIELD_MAX,
		    argv[1]);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->field = f;
	c->user = s;
	return 0;
}

/* Field f (1-based, 0: last) of p split on blanks; NULL if missing. */
static const char *
field(const char *p, size_t len, uint64_t f, size_t *flen)
{
	const char *end = p + len, *start = NULL;
	uint64_t i = 0;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		start = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		*flen = (size_t)(p - start);
		if (++i == f)
			return start;
	}
	return f == 0 ? start : NULL;
}

/*
 * Parse [+-]digits[.digits] or [+-].digits: 1 with *iv for an integer
 * that fits in 64 bits, 2 with *dv otherwise, 0 if not a number.
 */
static int
number(struct sum *s, const char *p, size_t len, int64_t *iv, double *dv)
{
	size_t i = 0, digits = 0, frac = 0;
	uint64_t u = 0;
	int neg = 0, big = 0;

	if (i < len && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		if (u > (UINT64_MAX - 9) / 10)
			big = 1;
		u = u * 10 + (uint64_t)(p[i] - '0');
	}
	if (i < len && p[i] == '.')
		for (i++, frac = 1; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			digits++;
	if (i != len || digits == 0)
		return 0;
	if (!frac && !big && u <= (uint64_t)INT64_MAX + neg) {
		*iv = neg ? (int64_t)(0 - u) : (int64_t)u;
		return 1;
	}
	if (len >= sizeof(s->num))
		return 0;
	memcpy(s->num, p, len);
	s->num[len] = '\0';
	*dv = strtod(s->num, NULL);
	return 2;
}

static int
sum_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	struct ds_oprun *r = RUN(c);
	struct sum *s = c->user;
	unsigned char st[9];
	const void *v;
	const char *f;
	char out[32];
	size_t flen = 0, len;
	int64_t iv = 0, isum = 0, sum;
	double dv = 0, dsum = 0;
	int kind, fl = 0;

	f = field(t->payload, t->paylen, s->field, &flen);
	if (f == NULL || (kind = number(s, f, flen, &iv, &dv)) == 0) {
		s->skipped++;
		ds_oprun_log(r, DS_OPRUN_WARN, "sum: skipped tuple seq %llu: %s",
		    (unsigned long long)r->in->seq, f == NULL ?
		    "field missing" : "field is not a number");
		return 0;
	}
	if (ds_state_get(c, &v, &len) == 1 && len == sizeof(st)) {
		memcpy(st, v, sizeof(st));
		fl = st[0];
		if (fl)
			memcpy(&dsum, st + 1, sizeof(dsum));
		else
			isum = (int64_t)ds_get_le64(st + 1);
	}
	if (!fl && kind == 1 && !__builtin_add_overflow(isum, iv, &sum)) {
		ds_put_le64(st + 1, (uint64_t)sum);
		len = (size_t)snprintf(out, sizeof(out), "%lld",
		    (long long)sum);
	} else {
		dsum = (fl ? dsum : (double)isum) + (kind == 1 ? (double)iv :
		    dv);
		fl = 1;
		memcpy(st + 1, &dsum, sizeof(dsum));
		len = (size_t)snprintf(out, sizeof(out), "%.17g", dsum);
	}
	st[0] = (unsigned char)fl;
	if (ds_state_put(c, st, sizeof(st)) == -1)
		return -1;
	return ds_emit(c, t->key, t->keylen, out, len, 0);
}

static int
sum_end(struct ds_op_ctx *c)
{
	struct sum *s = c->user;

	ds_oprun_log(RUN(c), DS_OPRUN_INFO, "sum: %llu tuples skipped",
	    (unsigned long long)s->skipped);
	return 0;
}

static void
sum_fini(struct ds_op_ctx *c)
{
	free(c->user);
}

/*
 * topk N [--every MS]: a count per key; the ranking is by count, then key
 * bytes.  The periodic output is the timer of the empty key, which topk
 * never uses otherwise (the empty key's count is state, not a timer).
 */

struct topk {
	uint64_t		  n;
	uint64_t		  every;	/* ns */
	struct ds_state_rec	**sel;		/* the best n so far */
	size_t			  cap;
};

/* a ranks before b: higher count, then smaller key */
static int
ranks_before(const struct ds_state_rec *a, const struct ds_state_rec *b)
{
	uint64_t ca = count_of(a), cb = count_of(b);
	size_t n;
	int c;

	if (ca != cb)
		return ca > cb;
	n = a->klen < b->klen ? a->klen : b->klen;
	if ((c = memcmp(a->key, b->key, n)) != 0)
		return c < 0;
	return a->klen < b->klen;
}

static int
rank_cmp(const void *a, const void *b)
{
	const struct ds_state_rec *ra = *(struct ds_state_rec *const *)a;
	const struct ds_state_rec *rb = *(struct ds_state_rec *const *)b;

	return ranks_before(ra, rb) ? -1 : ranks_before(rb, ra) ? 1 : 0;
}

/* Sift sel[i] down a heap whose root ranks last. */
static void
worst_down(struct ds_state_rec **h, size_t n, size_t i)
{
	struct ds_state_rec *x = h[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && ranks_before(h[c], h[c + 1]))
			c++;
		if (!ranks_before(x, h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static int
topk_init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	struct ds_oprun *r = RUN(c);
	struct ds_state_rec *tick;
	struct topk *k;
	uint64_t n;

	if (options(r, argv[0], 0, 1) == -1)
		return -1;
	if (argc != 2 || operand(argv[1], 1, TOPK_MAX, &n) == -1)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "topk needs one operand N, a number 1..%d", TOPK_MAX);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -1;
	k->n = n;
	k->every = r->every;
	c->user = k;
	if (k->every != 0) {
		tick = ds_state_intern(&r->st, "", 0, ds_state_hash("", 0));
		if (tick == NULL || ds_timer_arm(&r->tm, tick,
		    ds_oprun_now() + k->every) == -1) {
			free(k);
			c->user = NULL;
			return -1;
		}
	}
	return 0;
}

static int
topk_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	(void)t;
	return count_up(c) == 0 ? -1 : 0;
}

/* Emit the current top n, best first. */
static int
topk_emit(struct ds_op_ctx *c)
{
	struct ds_oprun *r = RUN(c);
	struct topk *k = c->user;
	struct ds_state_rec *rec, **p;
	size_t it = 0, m = 0, want, i;
	char dec[20];

	want = r->st.nval < k->n ? r->st.nval : (size_t)k->n;
	if (want > k->cap) {
		if ((p = realloc(k->sel, want * sizeof(*p))) == NULL)
			return -1;
		k->sel = p;
		k->cap = want;
	}
	while (want > 0 && (rec = ds_state_next(&r->st, &it)) != NULL) {
		if (!rec->hasval)
			continue;
		if (m < want) {
			k->sel[m++] = rec;
			if (m == want)
				for (i = m / 2; i-- > 0;)
					worst_down(k->sel, m, i);
		} else if (ranks_before(rec, k->sel[0])) {
			k->sel[0] = rec;
			worst_down(k->sel, m, 0);
		}
	}
	if (m > 1)
		qsort(k->sel, m, sizeof(*k->sel), rank_cmp);
	for (i = 0; i < m; i++)
		if (ds_emit(c, k->sel[i]->key, k->sel[i]->klen, dec,
		    fmt_u64(dec, count_of(k->sel[i])), 0) == -1)
			return -1;
	return 0;
}

static int
topk_timer(struct ds_op_ctx *c, const void *key, size_t keylen,
    uint64_t when)
{
	struct topk *k = c->user;
	uint64_t now = ds_now(c), next = when + k->every;

	(void)key;
	(void)keylen;
	if (next <= now)
		next = now + k->every;
	if (topk_emit(c) == -1)
		return -1;
	return ds_oprun_close(RUN(c)) == -1 ? -1 : ds_timer_set(c, next);
}

static void
topk_fini(struct ds_op_ctx *c)
{
	struct topk *k = c->user;

	free(k->sel);
	free(k);
}

static const struct ds_op_plugin builtins[] = {
	{ DS_OP_ABI, "count", no_operands, count_tuple, NULL, NULL, NULL },
	{ DS_OP_ABI, "distinct", no_operands, distinct_tuple, NULL, NULL,
	    NULL },
	{ DS_OP_ABI, "filter", filter_init, filter_tuple, NULL, NULL,
	    filter_fini },
	{ DS_OP_ABI, "identity", no_operands, identity_tuple, NULL, NULL,
	    NULL },
	{ DS_OP_ABI, "sum", sum_init, sum_tuple, NULL, sum_end, sum_fini },
	{ DS_OP_ABI, "topk", topk_init, topk_tuple, topk_timer, topk_emit,
	    topk_fini },
};

const struct ds_op_plugin *
ds_builtin_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}
