/*
 * timefmt.h: event times as text.  Parses the time formats ds-source reads
 * from a field of a line (seconds or milliseconds since the epoch, ISO 8601
 * with a zone) into ns since the epoch, UTC, and prints ns as ISO 8601 UTC
 * with nanoseconds, as ds-sink's %T does.  Pure functions but ds_now_ns:
 * no time zone database, no locale, no allocation.
 */
#ifndef DS_TIMEFMT_H
#define DS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

enum ds_timefmt {
	DS_TIMEFMT_EPOCH = 0,	/* "1700000000" or "1700000000.123456789" */
	DS_TIMEFMT_EPOCH_MS,	/* "1700000000123" */
	DS_TIMEFMT_ISO8601	/* "2026-11-24T15:16:32.5Z", "...+01:00" */
};

/* Length of ds_timefmt_iso's text: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ". */
#define DS_TIMEFMT_ISO_LEN	30

/* The format called name ("epoch", "epoch-ms", "iso8601"), or -1. */
int	ds_timefmt_byname(const char *name);

/*
 * Parse s[0..n) in format fmt into *ns.  Digits past nanoseconds are
 * dropped.  Returns 0, or -1 with errno EINVAL (not in the format) or
 * ERANGE (before 1970 or past the u64 range).
 */
int	ds_timefmt_parse(int fmt, const char *s, size_t n, uint64_t *ns);

/* Write ns as DS_TIMEFMT_ISO_LEN bytes of ISO 8601 UTC at buf (no NUL). */
void	ds_timefmt_iso(uint64_t ns, char *buf);

/*
 * A strptime(3) pattern, checked and split once: strptime has no
 * fraction of a second, so a %N (dstream's: one or more digits, the
 * fraction) is cut out and read between two strptime calls.  The pattern
 * is at most DS_TIMEFMT_PAT_MAX - 1 bytes; so is the text it reads.
 */
#define DS_TIMEFMT_PAT_MAX	256

struct ds_timefmt_pat {
	char	all[DS_TIMEFMT_PAT_MAX];	/* the pattern, %N cut out */
	char	head[DS_TIMEFMT_PAT_MAX];	/* what precedes the %N */
	int	frac;				/* 1: it had a %N */
};

/*
 * Check pat and fill *p.  NULL, or why pat is refused (a static string):
 * too long, an unknown conversion, %s or %Z (the C library reads them in
 * the local zone or drops the zone: a wrong time, quietly), two %N, or
 * no conversion that gives the year.
 */
const char *ds_timefmt_pat_compile(struct ds_timefmt_pat *p, const char *pat);

/*
 * Read the time at the start of s[0..n) by p into *ns: the offset of a %z
 * is subtracted, a time without one is UTC (TZ is never looked at).
 * Returns 0 and sets *used to the bytes read, or -1 with errno EINVAL
 * (no match, or a day the month does not have) or ERANGE (before 1970 or
 * past the u64 range).
 */
int	ds_timefmt_pat_parse(const struct ds_timefmt_pat *p, const char *s,
	    size_t n, uint64_t *ns, size_t *used);

/* The current time, CLOCK_REALTIME, in ns since the epoch. */
uint64_t ds_now_ns(void);

#endif
