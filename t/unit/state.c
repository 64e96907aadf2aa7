/*
 * t/unit/state.c: the keyed state table (libds/state) and the timer heap
 * built on its records (libds/timer).  Besides the basic contracts it runs
 * a long random sequence of puts and deletes against a plain array model,
 * which is what catches a wrong backward shift on delete, and checks that
 * timers pop in (when, key) order whatever order they were armed in.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state.h"
#include "tap.h"
#include "core/timer.h"

#define NKEYS	2000

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
has(const struct ds_state *st, const char *k, const char *want)
{
	const void *v;
	size_t len;

	if (ds_state_lookup(st, k, strlen(k), &v, &len) != 1)
		return want == NULL;
	return want != NULL && len == strlen(want) && memcmp(v, want, len) == 0;
}

static void
basics(void)
{
	struct ds_state st = DS_STATE_INIT;
	const void *v;
	size_t len, it = 0;
	char big[1000];

	ok(ds_state_find(&st, "a", 1, ds_state_hash("a", 1)) == NULL,
	    "find in an empty table");
	ok(has(&st, "a", NULL), "lookup in an empty table");
	ok(ds_state_store(&st, "a", 1, "one", 3) == 0, "store a");
	ok(has(&st, "a", "one"), "a is one");
	ok(ds_state_store(&st, "a", 1, "uno", 3) == 0 && has(&st, "a", "uno"),
	    "replace a, same size");
	memset(big, 'x', sizeof(big));
	ok(ds_state_store(&st, "a", 1, big, sizeof(big)) == 0 &&
	    ds_state_lookup(&st, "a", 1, &v, &len) == 1 &&
	    len == sizeof(big) && memcmp(v, big, len) == 0,
	    "replace a with a bigger value");
	ok(ds_state_store(&st, "a", 1, "1", 1) == 0 && has(&st, "a", "1"),
	    "and a smaller one again");
	ok(ds_state_store(&st, "", 0, "empty key", 9) == 0 &&
	    has(&st, "", "empty key"), "the empty key is a key");
	ok(ds_state_store(&st, "e", 1, "", 0) == 0 &&
	    ds_state_lookup(&st, "e", 1, &v, &len) == 1 && len == 0,
	    "an empty value is a value");
	ok(ds_state_store(&st, "a\0b", 3, "nul", 3) == 0 &&
	    ds_state_lookup(&st, "a\0b", 3, &v, &len) == 1 && len == 3 &&
	    has(&st, "a", "1"), "keys are bytes: a\\0b is not a");
	ok(st.n == 4 && st.nval == 4, "4 records, 4 values (n=%zu)", st.n);
	len = 0;
	while (ds_state_next(&st, &it) != NULL)
		len++;
	ok(len == 4, "iteration sees each record once (%zu)", len);
	ds_state_remove(&st, "a", 1);
	ok(has(&st, "a", NULL) && st.n == 3 && st.nval == 3, "remove a");
	ds_state_remove(&st, "zz", 2);
	ok(st.n == 3, "removing a missing key changes nothing");
	ds_state_term(&st);
	ok(st.n == 0 && st.cap == 0 && has(&st, "", NULL), "term empties it");
	ok(ds_state_store(&st, "again", 5, "x", 1) == 0 &&
	    has(&st, "again", "x"), "usable after term");
	ds_state_term(&st);
}

static void
records(void)
{
	struct ds_state st = DS_STATE_INIT;
	struct ds_state_rec *r, *r2;
	uint64_t h = ds_state_hash("k", 1);

	r = ds_state_intern(&st, "k", 1, h);
	ok(r != NULL && !r->hasval && st.n == 1 && st.nval == 0,
	    "intern creates a record without a value");
	r2 = ds_state_intern(&st, "k", 1, h);
	ok(r2 == r, "intern finds the same record");
	r->pins++;
	ds_state_release(&st, r);
	ok(st.n == 1 && ds_state_find(&st, "k", 1, h) == r,
	    "a pinned record survives release");
	r->pins--;
	ok(ds_state_set(&st, r, "v", 1) == 0 && r->hasval && st.nval == 1,
	    "set gives it a value");
	ds_state_release(&st, r);
	ok(ds_state_find(&st, "k", 1, h) == r, "a record with a value stays");
	ds_state_clear(&st, r);
	ok(!r->hasval && st.nval == 0 && st.n == 1,
	    "clear drops the value, keeps the record");
	ds_state_release(&st, r);
	ok(ds_state_find(&st, "k", 1, h) == NULL && st.n == 0,
	    "release frees an unused record");
	ds_state_term(&st);
}

/* Random stores and removes over NKEYS keys, checked against an array. */
static void
model(void)
{
	struct ds_state st = DS_STATE_INIT;
	static char val[NKEYS][24];
	static int set[NKEYS];
	char key[16], v[24];
	size_t i, k, n = 0, bad = 0, it = 0, seen = 0;

	for (i = 0; i < 400000; i++) {
		k = rnd() % NKEYS;
		snprintf(key, sizeof(key), "key%zu", k);
		if (rnd() % 3 == 0) {
			ds_state_remove(&st, key, strlen(key));
			n -= set[k];
			set[k] = 0;
		} else {
			snprintf(v, sizeof(v), "%zu", (size_t)(rnd() % 1000000));
			if (ds_state_store(&st, key, strlen(key), v,
			    strlen(v)) != 0)
				bad++;
			memcpy(val[k], v, sizeof(v));
			n += !set[k];
			set[k] = 1;
		}
		if (i % 1000 == 0) {
			for (k = 0; k < NKEYS; k++) {
				snprintf(key, sizeof(key), "key%zu", k);
				if (!has(&st, key, set[k] ? val[k] : NULL))
					bad++;
			}
		}
	}
	ok(bad == 0, "400000 random stores and removes agree with the model "
	    "(%zu mismatches)", bad);
	ok(st.n == n && st.nval == n, "record count %zu, model %zu", st.n, n);
	while (ds_state_next(&st, &it) != NULL)
		seen++;
	ok(seen == n, "iteration sees every record (%zu of %zu)", seen, n);
	ok(st.n * 4 <= st.cap * 3, "load factor stays at most 3/4 (%zu/%zu)",
	    st.n, st.cap);
	ds_state_term(&st);
}

static void
timers(void)
{
	struct ds_state st = DS_STATE_INIT;
	struct ds_timers tm = DS_TIMERS_INIT;
	struct ds_state_rec *r, *rs[500];
	char key[16];
	uint64_t last = 0;
	size_t i, n = 0, bad = 0;
	int order = 1;

	ok(ds_timer_first(&tm) == NULL && ds_timer_pop(&tm) == NULL,
	    "an empty heap has no first timer");
	for (i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "t%03zu", i);
		rs[i] = ds_state_intern(&st, key, strlen(key),
		    ds_state_hash(key, strlen(key)));
		if (rs[i] == NULL || ds_timer_arm(&tm, rs[i], rnd() % 100) != 0)
			bad++;
	}
	ok(bad == 0 && tm.n == 500, "arm 500 timers");
	for (i = 0; i < 500; i += 2)
		ds_timer_arm(&tm, rs[i], rnd() % 100);	/* move half */
	for (i = 0; i < 500; i += 5)
		ds_timer_disarm(&tm, rs[i]);
	ok(tm.n == 400 && rs[0]->tidx == 0, "disarm 100 (left %zu)", tm.n);
	ds_timer_disarm(&tm, rs[0]);
	ok(tm.n == 400, "disarming twice is harmless");
	for (last = 0, key[0] = '\0'; (r = ds_timer_pop(&tm)) != NULL; n++) {
		if (r->when < last || (r->when == last &&
		    memcmp(r->key, key, 4) <= 0))
			order = 0;
		last = r->when;
		memcpy(key, r->key, 4);
		if (r->tidx != 0)
			order = 0;
	}
	ok(n == 400 && order, "they pop in (when, key) order (%zu)", n);
	ok(ds_timer_arm(&tm, rs[1], 7) == 0 && rs[1]->tidx == 1 &&
	    ds_timer_first(&tm) == rs[1], "re-arm after popping");
	ds_state_release(&st, rs[1]);
	ok(ds_state_find(&st, "t001", 4, rs[1]->hash) == rs[1],
	    "a record with a timer survives release");
	ds_timer_disarm(&tm, rs[1]);
	ds_state_release(&st, rs[1]);
	ok(ds_state_find(&st, "t001", 4, ds_state_hash("t001", 4)) == NULL,
	    "and goes once its timer is disarmed");
	ds_timers_term(&tm);
	ds_state_term(&st);
}

/* ds_state_dirty callback: append "key=val;" or "key-;" to buf. */
static int
collect(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	char *buf = arg;
	size_t n = strlen(buf);

	if (val != NULL)
		snprintf(buf + n, 256 - n, "%.*s=%.*s;", (int)klen,
		    (const char *)key, (int)vlen, (const char *)val);
	else
		snprintf(buf + n, 256 - n, "%.*s-;", (int)klen,
		    (const char *)key);
	return 0;
}

static int
refuse(void *arg, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)arg; (void)key; (void)klen; (void)val; (void)vlen;
	return -1;
}

static void
dirty(void)
{
	struct ds_state st = DS_STATE_INIT;
	char buf[256] = "";
	int i;

	ok(ds_state_store(&st, "old", 3, "1", 1) == 0 &&
	    ds_state_dirty(&st, collect, buf) == 0 && buf[0] == '\0',
	    "nothing is listed while tracking is off");
	ok(ds_state_track(&st, 1) == 0, "tracking on");
	ds_state_store(&st, "a", 1, "1", 1);
	ds_state_store(&st, "a", 1, "2", 1);
	ds_state_store(&st, "b", 1, "x", 1);
	ds_state_remove(&st, "old", 3);
	ok(st.ndirty == 3, "a key changed twice is listed once");
	ok(ds_state_dirty(&st, refuse, NULL) == -1 && st.ndirty == 3,
	    "a failing callback leaves everything listed");
	ok(ds_state_dirty(&st, collect, buf) == 0 &&
	    strcmp(buf, "a=2;b=x;old-;") == 0, "changes and deletes: %s", buf);
	ok(st.n == 2 && st.nval == 2, "the deleted key's record is freed");
	buf[0] = '\0';
	ok(ds_state_dirty(&st, collect, buf) == 0 && buf[0] == '\0',
	    "taken records are no longer listed");
	for (i = 0; i < 1000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		ds_state_store(&st, k, strlen(k), "v", 1);
	}
	ok(st.ndirty == 1000 && st.dcap >= st.n, "room is kept for every "
	    "record");
	ds_state_remove(&st, "a", 1);
	ds_state_remove(&st, "a", 1);
	ok(st.ndirty == 1001, "removing a missing key lists nothing");
	ds_state_term(&st);
}

int
main(void)
{
	basics();
	dirty();
	records();
	model();
	timers();
	return done();
}
