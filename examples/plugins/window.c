/*
 * window.c: a ds-op plugin that keys each tuple by the window of event
 * time it falls in: windows of SECONDS (operand, default 60) from the
 * epoch, the key the window's start in ISO 8601 UTC
 * (2025-11-24T15:03:00Z), the payload unchanged.  A built-in downstream
 * then works per window: count --final gives requests per minute.  It
 * keeps no state; the event time is what ds-source read with --time-field
 * (without it, the time the line was read).
 *
 *	ds-source --time-field 4 --time-format '[%d/%b/%Y:%H:%M:%S %z]' \
 *	    < access.log | ds-op --plugin examples/plugins/window.so 60 |
 *	    ds-op --builtin count --final | ds-sink
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L		/* gmtime_r */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ds_op.h>

static unsigned long window = 60;	/* seconds */

static int
init(struct ds_op_ctx *c, int argc, char *const argv[])
{
	char *end;

	(void)c;
	if (argc > 2) {
		fprintf(stderr, "window: usage: window.so [SECONDS]\n");
		return 1;
	}
	if (argc == 2) {
		errno = 0;
		window = strtoul(argv[1], &end, 10);
		if (errno != 0 || *end != '\0' || window == 0 ||
		    window > 366UL * 86400) {
			fprintf(stderr, "window: bad SECONDS: '%s'\n",
			    argv[1]);
			return 1;
		}
	}
	return 0;
}

static int
on_tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
{
	time_t start;
	struct tm tm;
	char key[32];
	size_t len;

	start = (time_t)(t->time / 1000000000 -
	    t->time / 1000000000 % window);
	if (gmtime_r(&start, &tm) == NULL)
		return 1;
	len = strftime(key, sizeof(key), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (len == 0)
		return 1;
	return ds_emit(c, key, len, t->payload, t->paylen, 0) == -1;
}

DS_OP_PLUGIN("window", init, on_tuple, NULL, NULL, NULL);
