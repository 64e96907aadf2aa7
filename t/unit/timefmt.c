/*
 * t/unit/timefmt.c: the time formats ds-source parses and ds-sink prints.
 * Known vectors (checked against date -u), every zone form, fractions
 * shorter and longer than ns, the calendar edges (leap days, 1970, the
 * u64 limit in 2554) and text each format must refuse; strptime patterns
 * checked against the ISO 8601 reading of the same time.
 */
#include <errno.h>
#include <string.h>

#include "tap.h"
#include "core/timefmt.h"

static int
parse(int fmt, const char *s, uint64_t *ns)
{
	*ns = 0;
	return ds_timefmt_parse(fmt, s, strlen(s), ns);
}

static int
is(int fmt, const char *s, uint64_t want)
{
	uint64_t ns;

	return parse(fmt, s, &ns) == 0 && ns == want;
}

static int
refused(int fmt, const char *s, int err)
{
	uint64_t ns;

	errno = 0;
	return parse(fmt, s, &ns) == -1 && errno == err;
}

static int
iso(uint64_t ns, const char *want)
{
	char buf[DS_TIMEFMT_ISO_LEN + 1];

	memset(buf, 'x', sizeof(buf));
	ds_timefmt_iso(ns, buf);
	buf[DS_TIMEFMT_ISO_LEN] = '\0';
	return strcmp(buf, want) == 0;
}

/* Pattern pat reads s whole, as the same time as ISO 8601 text iso. */
static int
pat_is(const char *pat, const char *s, const char *iso)
{
	struct ds_timefmt_pat p;
	uint64_t ns, want;
	size_t used;

	if (ds_timefmt_pat_compile(&p, pat) != NULL ||
	    ds_timefmt_parse(DS_TIMEFMT_ISO8601, iso, strlen(iso), &want) != 0)
		return 0;
	return ds_timefmt_pat_parse(&p, s, strlen(s), &ns, &used) == 0 &&
	    ns == want && used == strlen(s);
}

/* Pattern pat reads s up to byte used. */
static int
pat_used(const char *pat, const char *s, size_t want)
{
	struct ds_timefmt_pat p;
	uint64_t ns;
	size_t used;

	return ds_timefmt_pat_compile(&p, pat) == NULL &&
	    ds_timefmt_pat_parse(&p, s, strlen(s), &ns, &used) == 0 &&
	    used == want;
}

static int
pat_refused(const char *pat, const char *s, int err)
{
	struct ds_timefmt_pat p;
	uint64_t ns;
	size_t used;

	errno = 0;
	return ds_timefmt_pat_compile(&p, pat) == NULL &&
	    ds_timefmt_pat_parse(&p, s, strlen(s), &ns, &used) == -1 &&
	    errno == err;
}

/* Pattern pat does not compile, and the reason holds what. */
static int
pat_bad(const char *pat, const char *what)
{
	struct ds_timefmt_pat p;
	const char *why;

	why = ds_timefmt_pat_compile(&p, pat);
	return why != NULL && strstr(why, what) != NULL;
}

static void
patterns(void)
{
	const char *clf = "[%d/%b/%Y:%H:%M:%S %z]";
	char big[DS_TIMEFMT_PAT_MAX + 1];

	ok(pat_is(clf, "[24/Nov/2025:15:00:00 +0000]", "2025-11-24T15:00:00Z"),
	    "pattern: nginx time, UTC");
	ok(pat_is(clf, "[24/Nov/2025:15:00:00 +0130]",
	    "2025-11-24T15:00:00+01:30"), "pattern: %%z east");
	ok(pat_is(clf, "[01/Jan/2026:00:30:00 -0800]",
	    "2026-01-01T00:30:00-08:00"), "pattern: %%z west, across a year");
	ok(pat_is(clf, "[24/Nov/2025:15:00:00 +01:00]",
	    "2025-11-24T15:00:00+01:00"), "pattern: %%z with a colon");
	ok(pat_is(clf, "[24/nov/2025:15:00:00 Z]", "2025-11-24T15:00:00Z"),
	    "pattern: %%z Z, month in lower case");
	ok(pat_is("%Y-%m-%d %H:%M:%S", "2025-11-24 15:00:00",
	    "2025-11-24T15:00:00Z"), "pattern: no %%z is UTC");
	ok(pat_is("%Y-%m-%d %H:%M:%S,%N", "2025-11-24 15:00:00,123",
	    "2025-11-24T15:00:00.123Z"), "pattern: %%N milliseconds");
	ok(pat_is("%Y-%m-%dT%H:%M:%S.%N%z",
	    "2025-11-24T15:00:00.1234567891+0100",
	    "2025-11-24T15:00:00.123456789+01:00"),
	    "pattern: %%N past ns dropped, then %%z");
	ok(pat_is("%Y-%m-%d %I:%M:%S.%N %p", "2025-11-24 03:00:00.5 PM",
	    "2025-11-24T15:00:00.5Z"), "pattern: %%N between %%I and %%p");
	ok(pat_is("%%%Y%%%j", "%2024%060", "2024-02-29T00:00:00Z"),
	    "pattern: %%%% and a day of the year");
	ok(pat_is("%Y", "2025", "2025-01-01T00:00:00Z"),
	    "pattern: what is not given is the start");
	ok(pat_is("%a %b %e %H:%M:%S %Y", "Mon Nov 24 15:00:00 2025",
	    "2025-11-24T15:00:00Z"), "pattern: date(1)'s C-locale text");
	ok(pat_is("%F %T", "2000-02-29 23:59:60", "2000-03-01T00:00:00Z"),
	    "pattern: a leap second");
	ok(pat_used(clf, "[24/Nov/2025:15:00:00 +0000] \"GET /\" 200", 28),
	    "pattern: used is the bytes it read");
	ok(pat_refused(clf, "[24/Nov/2025:15:00:00 +0000", EINVAL),
	    "pattern: text that ends early");
	ok(pat_refused(clf, "[24/Foo/2025:15:00:00 +0000]", EINVAL),
	    "pattern: no such month");
	ok(pat_refused(clf, "[24/Nov/2025:15:00:00 0000]", EINVAL),
	    "pattern: %%z without a sign");
	ok(pat_refused("%Y-%m-%d", "2025-02-29", EINVAL),
	    "pattern: a day the month does not have");
	ok(pat_refused("%Y-%m-%d", "1969-12-31", ERANGE),
	    "pattern: before 1970");
	ok(pat_refused("%Y-%m-%d %H:%M%z", "1970-01-01 00:30+0100", ERANGE),
	    "pattern: before 1970 after the offset");
	ok(pat_is("%Y-%m-%d %H:%M%z", "1969-12-31 23:30-0100",
	    "1970-01-01T00:30:00Z"), "pattern: 1969 west of UTC is 1970");
	ok(pat_refused("%Y-%m-%d %H.%N", "2025-11-24 15.x", EINVAL),
	    "pattern: %%N without a digit");
	ok(pat_bad("%H:%M:%S", "no year"), "pattern: refused without a year");
	ok(pat_bad("%s", "%s"), "pattern: %%s refused");
	ok(pat_bad("%Y %Z", "%Z"), "pattern: %%Z refused");
	ok(pat_bad("%Y %q", "unknown"), "pattern: unknown conversion refused");
	ok(pat_bad("%Y %", "unknown"), "pattern: a lone %% refused");
	ok(pat_bad("%Y.%N.%N", "%N"), "pattern: two %%N refused");
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "%Y", 2);
	big[sizeof(big) - 1] = '\0';
	ok(pat_bad(big, "255"), "pattern: too long refused");
	big[DS_TIMEFMT_PAT_MAX - 1] = '\0';
	ok(!pat_bad(big, ""), "pattern: 255 bytes is fine");
}

int
main(void)
{
	const int E = DS_TIMEFMT_EPOCH, M = DS_TIMEFMT_EPOCH_MS,
	    I = DS_TIMEFMT_ISO8601;
	uint64_t ns;
	char buf[DS_TIMEFMT_ISO_LEN];

	ok(ds_timefmt_byname("epoch") == E, "byname epoch");
	ok(ds_timefmt_byname("epoch-ms") == M, "byname epoch-ms");
	ok(ds_timefmt_byname("iso8601") == I, "byname iso8601");
	ok(ds_timefmt_byname("rfc822") == -1, "byname unknown is -1");
	ok(ds_timefmt_byname("") == -1, "byname empty is -1");

	/* epoch seconds */
	ok(is(E, "0", 0), "epoch 0");
	ok(is(E, "1700000000", 1700000000000000000ull), "epoch integer");
	ok(is(E, "1700000000.5", 1700000000500000000ull), "epoch .5");
	ok(is(E, "1700000000.123456789", 1700000000123456789ull),
	    "epoch with ns");
	ok(is(E, "1700000000.1234567891999", 1700000000123456789ull),
	    "epoch digits past ns are dropped");
	ok(is(E, "0001700000000", 1700000000000000000ull),
	    "epoch leading zeros");
	ok(is(E, "18446744073.709551615", UINT64_MAX), "epoch at u64 max");
	ok(refused(E, "18446744073.709551616", ERANGE), "epoch past u64 max");
	ok(refused(E, "18446744074", ERANGE), "epoch seconds past u64 max");
	ok(refused(E, "99999999999999999999999", ERANGE),
	    "epoch overflowing digits");
	ok(refused(E, "", EINVAL), "epoch empty");
	ok(refused(E, "-1", EINVAL), "epoch negative");
	ok(refused(E, "+1", EINVAL), "epoch with sign");
	ok(refused(E, "1700000000.", EINVAL), "epoch dot without digits");
	ok(refused(E, ".5", EINVAL), "epoch fraction only");
	ok(refused(E, "17e8", EINVAL), "epoch exponent");
	ok(refused(E, "1700000000 ", EINVAL), "epoch trailing blank");
	ok(refused(E, "1700000000.1.2", EINVAL), "epoch two dots");
	ok(ds_timefmt_parse(E, "12345", 3, &ns) == 0 && ns == 123000000000ull,
	    "epoch reads only n bytes");

	/* epoch milliseconds */
	ok(is(M, "1700000000123", 1700000000123000000ull), "epoch-ms");
	ok(is(M, "0", 0), "epoch-ms 0");
	ok(is(M, "18446744073709", 18446744073709000000ull),
	    "epoch-ms at the limit");
	ok(refused(M, "18446744073710", ERANGE), "epoch-ms past the limit");
	ok(refused(M, "1700000000123.5", EINVAL), "epoch-ms has no fraction");
	ok(refused(M, "", EINVAL), "epoch-ms empty");
	ok(refused(M, "x1", EINVAL), "epoch-ms garbage");

	/* ISO 8601 */
	ok(is(I, "1970-01-01T00:00:00Z", 0), "iso the epoch");
	ok(is(I, "2026-11-24T15:16:32Z", 1795533392000000000ull),
	    "iso with Z");
	ok(is(I, "2026-11-24 15:16:32Z", 1795533392000000000ull),
	    "iso with a space for T");
	ok(is(I, "2026-11-24t15:16:32z", 1795533392000000000ull),
	    "iso lower-case t and z");
	ok(is(I, "2026-11-24T15:16:32.123456789Z", 1795533392123456789ull),
	    "iso with ns");
	ok(is(I, "2026-11-24T15:16:32,5Z", 1795533392500000000ull),
	    "iso with a decimal comma");
	ok(is(I, "2026-11-24T15:16:32.1Z", 1795533392100000000ull),
	    "iso with one fraction digit");
	ok(is(I, "2026-11-24T16:16:32+01:00", 1795533392000000000ull),
	    "iso with +01:00");
	ok(is(I, "2026-11-24T10:46:32-04:30", 1795533392000000000ull),
	    "iso with -04:30");
	ok(is(I, "2026-11-25T00:16:32+09:00", 1795533392000000000ull),
	    "iso offset crossing midnight");
	ok(is(I, "2026-11-24T15:16:32+00:00", 1795533392000000000ull),
	    "iso with +00:00");
	ok(is(I, "2000-02-29T00:00:00Z", 951782400000000000ull),
	    "iso leap day 2000");
	ok(is(I, "2024-02-29T12:00:00Z", 1709208000000000000ull),
	    "iso leap day 2024");
	ok(is(I, "1999-12-31T23:59:59Z", 946684799000000000ull),
	    "iso end of 1999");
	ok(is(I, "2554-07-21T23:34:33.709551615Z", UINT64_MAX),
	    "iso at u64 max");
	ok(refused(I, "2554-07-21T23:34:33.709551616Z", ERANGE),
	    "iso past u64 max");
	ok(refused(I, "1969-12-31T23:59:59Z", ERANGE), "iso before 1970");
	ok(refused(I, "1970-01-01T00:30:00+01:00", ERANGE),
	    "iso before 1970 after the offset");
	ok(refused(I, "2026-11-24T15:16:32", EINVAL), "iso without a zone");
	ok(refused(I, "2026-11-24", EINVAL), "iso date only");
	ok(refused(I, "2026-11-24T15:16Z", EINVAL), "iso without seconds");
	ok(refused(I, "2026-13-01T00:00:00Z", EINVAL), "iso month 13");
	ok(refused(I, "2026-00-01T00:00:00Z", EINVAL), "iso month 0");
	ok(refused(I, "2026-02-29T00:00:00Z", EINVAL), "iso no leap day 2026");
	ok(refused(I, "1900-02-29T00:00:00Z", EINVAL), "iso no leap day 1900");
	ok(refused(I, "2026-04-31T00:00:00Z", EINVAL), "iso April 31");
	ok(refused(I, "2026-11-24T24:00:00Z", EINVAL), "iso hour 24");
	ok(refused(I, "2026-11-24T15:60:00Z", EINVAL), "iso minute 60");
	ok(refused(I, "2026-11-24T15:16:32+1:00", EINVAL), "iso short offset");
	ok(refused(I, "2026-11-24T15:16:32+01", EINVAL), "iso offset hours only");
	ok(refused(I, "2026-11-24T15:16:32+24:00", EINVAL), "iso offset 24h");
	ok(refused(I, "2026-11-24T15:16:32.Z", EINVAL), "iso empty fraction");
	ok(refused(I, "2026-11-24T15:16:32Zx", EINVAL), "iso trailing byte");
	ok(refused(I, "2026-11-24X15:16:32Z", EINVAL), "iso bad separator");
	ok(refused(I, "2026/11/24T15:16:32Z", EINVAL), "iso slashes");
	ok(refused(I, "", EINVAL), "iso empty");
	ok(ds_timefmt_parse(I, "2026-11-24T15:16:32Z", 19, &ns) == -1,
	    "iso reads only n bytes");
	ok(ds_timefmt_parse(99, "1", 1, &ns) == -1 && errno == EINVAL,
	    "unknown format is EINVAL");

	/* printing */
	ok(iso(0, "1970-01-01T00:00:00.000000000Z"), "iso print 0");
	ok(iso(1795533392123456789ull, "2026-11-24T15:16:32.123456789Z"),
	    "iso print ns");
	ok(iso(951782400000000001ull, "2000-02-29T00:00:00.000000001Z"),
	    "iso print leap day");
	ok(iso(UINT64_MAX, "2554-07-21T23:34:33.709551615Z"),
	    "iso print u64 max");
	ds_timefmt_iso(1700000000000000000ull, buf);
	ok(ds_timefmt_parse(I, buf, sizeof(buf), &ns) == 0 &&
	    ns == 1700000000000000000ull, "iso print then parse round trips");
	for (ns = 0; ns < 20000ull * 86400 * 1000000000ull;
	    ns += 86399ull * 1000000007ull) {
		uint64_t back;

		ds_timefmt_iso(ns, buf);
		if (ds_timefmt_parse(I, buf, sizeof(buf), &back) != 0 ||
		    back != ns)
			break;
	}
	ok(ns >= 20000ull * 86400 * 1000000000ull,
	    "iso round trips every ~day over 55 years");
	patterns();
	return done();
}
