/*
 * timefmt.c: time text <-> ns since the epoch.  Calendar arithmetic uses
 * the proleptic Gregorian day-number algorithms (H. Hinnant's
 * days_from_civil / civil_from_days), so results never depend on TZ,
 * timegm(3) or the C library; every bound is checked before it can
 * overflow a u64.  Patterns are read by strptime(3) into a struct tm,
 * which goes through the same arithmetic, its %z offset subtracted.
 */
#define _GNU_SOURCE	/* strptime, tm_gmtoff */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/timefmt.h"

#define NS	1000000000ull
#define MAXSEC	(UINT64_MAX / NS)	/* 18446744073 s, year 2554 */

int
ds_timefmt_byname(const char *name)
{
	if (strcmp(name, "epoch") == 0)
		return DS_TIMEFMT_EPOCH;
	if (strcmp(name, "epoch-ms") == 0)
		return DS_TIMEFMT_EPOCH_MS;
	if (strcmp(name, "iso8601") == 0)
		return DS_TIMEFMT_ISO8601;
	return -1;
}

static int
fail(int e)
{
	errno = e;
	return -1;
}

/* Unsigned decimal digits at s[*i..n) into *v; at least one, no overflow. */
static int
digits(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start = *i;
	uint64_t x = 0;
	unsigned d;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		d = (unsigned)(s[*i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return fail(ERANGE);
		x = x * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return fail(EINVAL);
	*v = x;
	return 0;
}

/* Exactly w digits at s[*i..n). */
static int
fixed(const char *s, size_t n, size_t *i, int w, unsigned *v)
{
	unsigned x = 0;

	if (n - *i < (size_t)w)
		return -1;
	while (w-- > 0) {
		if (s[*i] < '0' || s[*i] > '9')
			return -1;
		x = x * 10 + (unsigned)(s[(*i)++] - '0');
	}
	*v = x;
	return 0;
}

/* One byte of set at s[*i]. */
static int
sep(const char *s, size_t n, size_t *i, const char *set)
{
	if (*i >= n || s[*i] == '\0' || strchr(set, s[*i]) == NULL)
		return -1;
	(*i)++;
	return 0;
}

/* A fraction after '.': digits into ns, those past the ninth dropped. */
static int
fraction(const char *s, size_t n, size_t *i, uint64_t *ns)
{
	uint64_t f = 0, scale = NS;
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		if (scale > 1) {
			scale /= 10;
			f += (uint64_t)(s[*i] - '0') * scale;
		}
		(*i)++;
	}
	if (*i == start)
		return -1;
	*ns = f;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static unsigned
mdays(unsigned y, unsigned m)
{
	static const unsigned char dm[] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static int
parse_iso(const char *s, size_t n, uint64_t *out)
{
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	uint64_t frac = 0;
	int64_t t, off = 0;
	size_t i = 0;
	int sign = 0;

	if (fixed(s, n, &i, 4, &y) || sep(s, n, &i, "-") ||
	    fixed(s, n, &i, 2, &mo) || sep(s, n, &i, "-") ||
	    fixed(s, n, &i, 2, &d) || sep(s, n, &i, "Tt ") ||
	    fixed(s, n, &i, 2, &h) || sep(s, n, &i, ":") ||
	    fixed(s, n, &i, 2, &mi) || sep(s, n, &i, ":") ||
	    fixed(s, n, &i, 2, &sec))
		return fail(EINVAL);
	if (mo < 1 || mo > 12 || d < 1 || d > mdays(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)
		return fail(EINVAL);
	if (i < n && (s[i] == '.' || s[i] == ',')) {
		i++;
		if (fraction(s, n, &i, &frac) == -1)
			return fail(EINVAL);
	}
	if (i >= n)
		return fail(EINVAL);	/* the zone is required */
	if (s[i] == 'Z' || s[i] == 'z')
		i++;
	else if (s[i] == '+' || s[i] == '-') {
		sign = s[i++] == '-' ? -1 : 1;
		if (fixed(s, n, &i, 2, &oh) || sep(s, n, &i, ":") ||
		    fixed(s, n, &i, 2, &om) || oh > 23 || om > 59)
			return fail(EINVAL);
		off = sign * (int64_t)(oh * 3600 + om * 60);
	} else
		return fail(EINVAL);
	if (i != n)
		return fail(EINVAL);
	/* Local time minus its offset is UTC. */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0)
		return fail(ERANGE);
	if ((uint64_t)t > MAXSEC || (uint64_t)t * NS > UINT64_MAX - frac)
		return fail(ERANGE);
	*out = (uint64_t)t * NS + frac;
	return 0;
}

int
ds_timefmt_parse(int fmt, const char *s, size_t n, uint64_t *ns)
{
	uint64_t v, frac = 0;
	size_t i = 0;

	switch (fmt) {
	case DS_TIMEFMT_EPOCH:
		if (digits(s, n, &i, &v) == -1)
			return -1;
		if (i < n && s[i] == '.') {
			i++;
			if (fraction(s, n, &i, &frac) == -1)
				return fail(EINVAL);
		}
		if (i != n)
			return fail(EINVAL);
		if (v > MAXSEC || v * NS > UINT64_MAX - frac)
			return fail(ERANGE);
		*ns = v * NS + frac;
		return 0;
	case DS_TIMEFMT_EPOCH_MS:
		if (digits(s, n, &i, &v) == -1)
			return -1;
		if (i != n)
			return fail(EINVAL);
		if (v > UINT64_MAX / 1000000)
			return fail(ERANGE);
		*ns = v * 1000000;
		return 0;
	case DS_TIMEFMT_ISO8601:
		return parse_iso(s, n, ns);
	}
	return fail(EINVAL);
}

/* What glibc's strptime converts, after an optional E or O. */
#define PAT_CONV	"aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYz%"
#define PAT_YEAR	"cCDFxyY"	/* those that give the year */

const char *
ds_timefmt_pat_compile(struct ds_timefmt_pat *p, const char *pat)
{
	size_t i, start, o = 0;
	int year = 0;
	char c;

	memset(p, 0, sizeof(*p));
	if (strlen(pat) >= DS_TIMEFMT_PAT_MAX)
		return "longer than 255 bytes";
	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] != '%') {
			p->all[o++] = pat[i];
			continue;
		}
		start = i++;
		if (pat[i] == 'E' || pat[i] == 'O')
			i++;
		c = pat[i];
		if (c == 'N' && i == start + 1) {
			if (p->frac)
				return "more than one %N";
			p->frac = 1;
			memcpy(p->head, p->all, o);
			continue;
		}
		if (c == 's')
			return "%s reads the local time zone; use the format "
			    "epoch";
		if (c == 'Z')
			return "%Z drops the zone; use %z, or write the zone's "
			    "name as text";
		if (c == '\0' || strchr(PAT_CONV, c) == NULL)
			return "an unknown conversion";
		if (strchr(PAT_YEAR, c) != NULL)
			year = 1;
		memcpy(p->all + o, pat + start, i + 1 - start);
		o += i + 1 - start;
	}
	if (!year)
		return "no year (%Y, %y, %C, %D, %F, %c or %x)";
	return NULL;
}

int
ds_timefmt_pat_parse(const struct ds_timefmt_pat *p, const char *s,
    size_t n, uint64_t *ns, size_t *used)
{
	char buf[DS_TIMEFMT_PAT_MAX];
	const char *e;
	struct tm tm;
	uint64_t frac = 0;
	size_t at = 0, cut = 0, i;
	int64_t y, t;
	unsigned mo;

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (p->frac) {
		/*
		 * Find the fraction, then cut it out of the text, so that one
		 * strptime call reads all the rest: %I and %p, %C and %y
		 * only work out together in one call.
		 */
		memset(&tm, 0, sizeof(tm));
		if ((e = strptime(buf, p->head, &tm)) == NULL)
			return fail(EINVAL);
		at = i = (size_t)(e - buf);
		if (fraction(buf, n, &i, &frac) == -1)
			return fail(EINVAL);
		cut = i - at;
		memmove(buf + at, buf + i, n - i + 1);
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = 1;		/* a pattern without %d means the first */
	if ((e = strptime(buf, p->all, &tm)) == NULL ||
	    (size_t)(e - buf) < at)
		return fail(EINVAL);
	y = (int64_t)tm.tm_year + 1900;
	if (y < 1969)
		return fail(ERANGE);
	mo = (unsigned)tm.tm_mon + 1;
	if (mo < 1 || mo > 12 || tm.tm_mday < 1 ||
	    (unsigned)tm.tm_mday > mdays((unsigned)y, mo) ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return fail(EINVAL);
	t = days_from_civil(y, mo, (unsigned)tm.tm_mday) * 86400 +
	    tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec - tm.tm_gmtoff;
	if (t < 0)
		return fail(ERANGE);
	if ((uint64_t)t > MAXSEC || (uint64_t)t * NS > UINT64_MAX - frac)
		return fail(ERANGE);
	*ns = (uint64_t)t * NS + frac;
	*used = (size_t)(e - buf) + cut;
	return 0;
}

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void
ds_timefmt_iso(uint64_t ns, char *buf)
{
	uint64_t sec = ns / NS, sod;
	uint32_t frac = (uint32_t)(ns % NS);
	int64_t y;
	unsigned m, d;
	int i;

	civil_from_days((int64_t)(sec / 86400), &y, &m, &d);
	sod = sec % 86400;
	buf[0] = (char)('0' + y / 1000);
	buf[1] = (char)('0' + y / 100 % 10);
	buf[2] = (char)('0' + y / 10 % 10);
	buf[3] = (char)('0' + y % 10);
	buf[4] = '-';
	put2(buf + 5, m);
	buf[7] = '-';
	put2(buf + 8, d);
	buf[10] = 'T';
	put2(buf + 11, (unsigned)(sod / 3600));
	buf[13] = ':';
	put2(buf + 14, (unsigned)(sod / 60 % 60));
	buf[16] = ':';
	put2(buf + 17, (unsigned)(sod % 60));
	buf[19] = '.';
	for (i = 28; i >= 20; i--) {
		buf[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	buf[29] = 'Z';
}

uint64_t
ds_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}
