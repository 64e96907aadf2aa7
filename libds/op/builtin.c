/*
 * builtin.c: the built-in operators, written against the plugin API
 * (struct ds_op_plugin, ds_emit, ds_state_*), so they share ds-op's one
 * path for keyed state, timers and output.  They also see the runtime
 * behind the context (ctx is the first member of struct ds_oprun) for
 * their options, the input tuple's seq and trace, and usage errors.
 * Counts are kept as 8-byte little-endian state values, sums as 9 bytes
 * (sum_add); a value's length says which it is.  With --final, count and
 * sum emit nothing per tuple and every key's value at the end, in key
 * order (ds_next_key), so that a restart emits the same table.
 */
#include <errno.h>
#include <math.h>
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

/* The built-in-only options a built-in takes. */
#define OPT_MATCH	1
#define OPT_EVERY	2
#define OPT_FINAL	4

/* Refuse the built-in-only options a built-in does not take. */
static int
options(struct ds_oprun *r, const char *name, unsigned takes)
{
	if (r->match != NULL && !(takes & OPT_MATCH))
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "--match is only valid with filter, not %s", name);
	if (r->every != 0 && !(takes & OPT_EVERY))
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "--every is only valid with topk, not %s", name);
	if (r->final != 0 && !(takes & OPT_FINAL))
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "--final is only valid with count, sum and topk, not %s",
		    name);
	return 0;
}

/* init of a built-in without operands that takes the options takes. */
static int
operands_none(struct ds_op_ctx *c, int argc, char *const argv[],
    unsigned takes)
{
	if (options(RUN(c), argv[0], takes) == -1)
		return -1;
	if (argc > 1)
		return ds_oprun_fail(RUN(c), DS_EX_USAGE,
		    "%s takes no operands", argv[0]);
	return 0;
}

static int
no_operands(struct ds_op_ctx *c, int argc, char *const argv[])
{
	return operands_none(c, argc, argv, 0);
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

	if (options(r, argv[0], OPT_MATCH) == -1)
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

/*
 * A key's value as its payload: a count (8 bytes) in decimal, a sum
 * (SUM_LEN bytes, see sum) as an integer or with %.17g.  Into out, of
 * VALUE_MAX bytes; the length, 0 for a value of another size.
 */
#define SUM_LEN		9
#define VALUE_MAX	32

static size_t
fmt_value(const unsigned char *v, size_t len, char *out)
{
	double d;

	if (len == 8)
		return fmt_u64(out, ds_get_le64(v));
	if (len != SUM_LEN)
		return 0;
	if (v[0]) {
		memcpy(&d, v + 1, sizeof(d));
		return (size_t)snprintf(out, VALUE_MAX, "%.17g", d);
	}
	return (size_t)snprintf(out, VALUE_MAX, "%lld",
	    (long long)(int64_t)ds_get_le64(v + 1));
}

/*
 * --final: every key's value, once, in key order, as the running values
 * would have ended.  ds_oprun_end calls on_end at the end of input, and
 * at an orderly stop only with --final=stop.
 */
static int
finals(struct ds_op_ctx *c)
{
	const void *k, *v;
	size_t it = 0, kl, vl, n;
	char out[VALUE_MAX];
	int rc;

	if (RUN(c)->final == 0)
		return 0;
	while ((rc = ds_next_key(c, &it, &k, &kl)) == 1) {
		if (ds_state_get(c, &v, &vl) != 1 ||
		    (n = fmt_value(v, vl, out)) == 0)
			continue;
		if (ds_emit(c, k, kl, out, n, 0) == -1)
			return -1;
	}
	return rc;
}

/* count [--final] */

static int
count_init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	return operands_none(c, argc, argv, OPT_FINAL);
}

static int
count_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	char dec[20];
	uint64_t n;

	if ((n = count_up(c)) == 0)
		return -1;
	if (RUN(c)->final != 0)
		return 0;
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
 * sum [FIELD] [--final]: state is a mode byte (0: integer, 1: floating
 * point) and the sum, an int64 or a double's bits, little-endian.  topk
 * N FIELD keeps the same sums.
 */

struct sum {
	const char	*name;		/* "sum" or "topk", for warnings */
	uint64_t	 field;		/* 1-based; 0: the last field */
	uint64_t	 skipped;
	char		 num[512];	/* a field as a C string for strtod */
};

/* FIELD operand s of built-in name: 1..FIELD_MAX.  0 or -1 (64). */
static int
field_operand(struct ds_oprun *r, const char *name, const char *s,
    uint64_t *f)
{
	if (operand(s, 1, FIELD_MAX, f) == -1)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "%s: FIELD must be a number 1..%d, not '%s'", name,
		    FIELD_MAX, s);
	return 0;
}

static int
sum_init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	struct ds_oprun *r = RUN(c);
	struct sum *s;
	uint64_t f = 0;

	if (options(r, argv[0], OPT_FINAL) == -1)
		return -1;
	if (argc > 2)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "sum takes at most one operand, FIELD");
	if (argc == 2 && field_operand(r, "sum", argv[1], &f) == -1)
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->name = "sum";
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

/*
 * Add t's field to the current key's sum, its new state in st: 1, or 0
 * when the tuple was skipped (a warning naming its seq), or -1.
 */
static int
sum_add(struct ds_op_ctx *c, struct sum *s, const struct ds_op_tuple *t,
    unsigned char st[SUM_LEN])
{
	struct ds_oprun *r = RUN(c);
	const void *v;
	const char *f;
	size_t flen = 0, len;
	int64_t iv = 0, isum = 0, sum;
	double dv = 0, dsum = 0;
	int kind, fl = 0;

	f = field(t->payload, t->paylen, s->field, &flen);
	if (f == NULL || (kind = number(s, f, flen, &iv, &dv)) == 0) {
		s->skipped++;
		ds_oprun_log(r, DS_OPRUN_WARN, "%s: skipped tuple seq %llu: %s",
		    s->name, (unsigned long long)r->in->seq, f == NULL ?
		    "field missing" : "field is not a number");
		return 0;
	}
	if (ds_state_get(c, &v, &len) == 1 && len == SUM_LEN) {
		memcpy(st, v, SUM_LEN);
		fl = st[0];
		if (fl)
			memcpy(&dsum, st + 1, sizeof(dsum));
		else
			isum = (int64_t)ds_get_le64(st + 1);
	}
	if (!fl && kind == 1 && !__builtin_add_overflow(isum, iv, &sum)) {
		ds_put_le64(st + 1, (uint64_t)sum);
	} else {
		dsum = (fl ? dsum : (double)isum) + (kind == 1 ? (double)iv :
		    dv);
		fl = 1;
		memcpy(st + 1, &dsum, sizeof(dsum));
	}
	st[0] = (unsigned char)fl;
	return ds_state_put(c, st, SUM_LEN) == -1 ? -1 : 1;
}

static int
sum_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	unsigned char st[SUM_LEN];
	char out[VALUE_MAX];
	int rc;

	if ((rc = sum_add(c, c->user, t, st)) != 1)
		return rc;
	if (RUN(c)->final != 0)
		return 0;
	return ds_emit(c, t->key, t->keylen, out, fmt_value(st, SUM_LEN, out),
	    0);
}

static void
sum_skipped(struct ds_op_ctx *c, const struct sum *s)
{
	ds_oprun_log(RUN(c), DS_OPRUN_INFO, "%s: %llu tuples skipped", s->name,
	    (unsigned long long)s->skipped);
}

static int
sum_end(struct ds_op_ctx *c)
{
	sum_skipped(c, c->user);
	return finals(c);
}

static void
sum_fini(struct ds_op_ctx *c)
{
	free(c->user);
}

/*
 * topk N [FIELD] [--every MS]: a count per key, or with FIELD the sum of
 * that field (as sum FIELD keeps it); the ranking is by that value, then
 * key bytes.  The periodic output is the timer of the empty key, which
 * topk never uses otherwise (the empty key's value is state, not a
 * timer).
 */

struct topk {
	uint64_t		  n;
	uint64_t		  every;	/* ns */
	struct ds_state_rec	**sel;		/* the best n so far */
	size_t			  cap;
	struct sum		 *sum;		/* FIELD given; else NULL */
};

/* A value to rank by: a count or an integer sum (i), or a double (d). */
struct rank {
	int		fl;
	int64_t		i;
	double		d;
};

static struct rank
rank_of(const struct ds_state_rec *rec)
{
	struct rank v = { 0, 0, 0 };

	if (!rec->hasval)
		return v;
	if (rec->vlen == 8) {
		v.i = (int64_t)ds_get_le64(rec->val);
	} else if (rec->vlen == SUM_LEN && rec->val[0]) {
		v.fl = 1;
		memcpy(&v.d, rec->val + 1, sizeof(v.d));
	} else if (rec->vlen == SUM_LEN) {
		v.i = (int64_t)ds_get_le64(rec->val + 1);
	}
	return v;
}

/* a > b: 1, a < b: -1, else 0; a NaN sum ranks below every number. */
static int
rank_vs(struct rank a, struct rank b)
{
	double x, y;

	if (!a.fl && !b.fl)
		return (a.i > b.i) - (a.i < b.i);
	x = a.fl ? a.d : (double)a.i;
	y = b.fl ? b.d : (double)b.i;
	if (isnan(x) || isnan(y))
		return !isnan(x) - !isnan(y);
	return (x > y) - (x < y);
}

/* a ranks before b: higher value, then smaller key */
static int
ranks_before(const struct ds_state_rec *a, const struct ds_state_rec *b)
{
	size_t n;
	int c;

	if ((c = rank_vs(rank_of(a), rank_of(b))) != 0)
		return c > 0;
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

static void
topk_fini(struct ds_op_ctx *c)
{
	struct topk *k = c->user;

	if (k == NULL)
		return;
	free(k->sum);
	free(k->sel);
	free(k);
}

static int
topk_init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	struct ds_oprun *r = RUN(c);
	struct ds_state_rec *tick;
	struct topk *k;
	uint64_t n, f = 0;

	if (options(r, argv[0], OPT_EVERY | OPT_FINAL) == -1)
		return -1;
	if (argc < 2 || argc > 3)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "topk needs one operand N, a number 1..%d, then an "
		    "optional FIELD", TOPK_MAX);
	if (operand(argv[1], 1, TOPK_MAX, &n) == -1)
		return ds_oprun_fail(r, DS_EX_USAGE,
		    "topk: N must be a number 1..%d, not '%s'", TOPK_MAX,
		    argv[1]);
	if (argc == 3 && field_operand(r, "topk", argv[2], &f) == -1)
		return -1;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -1;
	k->n = n;
	k->every = r->every;
	c->user = k;
	if (argc == 3) {
		if ((k->sum = calloc(1, sizeof(*k->sum))) == NULL)
			goto fail;
		k->sum->name = "topk";
		k->sum->field = f;
	}
	if (k->every != 0) {
		tick = ds_state_intern(&r->st, "", 0, ds_state_hash("", 0));
		if (tick == NULL || ds_timer_arm(&r->tm, tick,
		    ds_oprun_now() + k->every) == -1)
			goto fail;
	}
	return 0;
fail:
	topk_fini(c);
	c->user = NULL;
	return -1;
}

static int
topk_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	struct topk *k = c->user;
	unsigned char st[SUM_LEN];

	if (k->sum != NULL)
		return sum_add(c, k->sum, t, st) == -1 ? -1 : 0;
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
	char out[VALUE_MAX];

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
		if (ds_emit(c, k->sel[i]->key, k->sel[i]->klen, out,
		    fmt_value(k->sel[i]->val, k->sel[i]->vlen, out), 0) == -1)
			return -1;
	return 0;
}

static int
topk_end(struct ds_op_ctx *c)
{
	struct topk *k = c->user;

	if (k->sum != NULL)
		sum_skipped(c, k->sum);
	return topk_emit(c);
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

static const struct ds_op_plugin builtins[] = {
	{ DS_OP_ABI, "count", count_init, count_tuple, NULL, finals, NULL },
	{ DS_OP_ABI, "distinct", no_operands, distinct_tuple, NULL, NULL,
	    NULL },
	{ DS_OP_ABI, "filter", filter_init, filter_tuple, NULL, NULL,
	    filter_fini },
	{ DS_OP_ABI, "identity", no_operands, identity_tuple, NULL, NULL,
	    NULL },
	{ DS_OP_ABI, "sum", sum_init, sum_tuple, NULL, sum_end, sum_fini },
	{ DS_OP_ABI, "topk", topk_init, topk_tuple, topk_timer, topk_end,
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
