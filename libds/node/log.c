/*
 * log.c: the one place that formats diagnostics.  A line is built in a
 * stack buffer and written with a single write(2) so lines from several
 * processes sharing a stderr do not interleave.  The default shape is
 * "prog: level: message ctx"; with DS_LOG_FORMAT=logfmt it is strict logfmt
 * ("prog=.. level=.. msg=\"..\" ctx").  Under systemd ($JOURNAL_STREAM set)
 * lines carry an sd-daemon priority prefix.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/exit.h"
#include "node/log.h"

const char	*ds_progname = "dstream";
int		 ds_log_max = DS_LOG_WARN;
static const char *log_ctx;

static const char *const level_name[] = { "fatal", "warning", "info", "debug" };
static const char *const level_prio[] = { "<3>", "<4>", "<6>", "<7>" };

void
ds_log_context(const char *ctx)
{
	log_ctx = ctx;
}

/* Append s to line as a logfmt value: quoted, with \" \\ and \n escaped. */
static int
put_quoted(char *line, int n, size_t cap, const char *s)
{
	if ((size_t)n < cap)
		line[n++] = '"';
	for (; *s != '\0' && (size_t)n + 2 < cap; s++) {
		if (*s == '"' || *s == '\\' || *s == '\n') {
			line[n++] = '\\';
			line[n++] = *s == '\n' ? 'n' : *s;
		} else
			line[n++] = *s;
	}
	if ((size_t)n < cap)
		line[n++] = '"';
	return n;
}

void
ds_vlog(enum ds_log_level lv, int sys, const char *fmt, va_list ap)
{
	char line[2048], msg[1536];
	const char *f;
	int saved = errno, n = 0, r, logfmt;
	size_t cap = sizeof(line) - 2;

	if ((int)lv > ds_log_max)
		return;
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (sys && r >= 0 && (size_t)r < sizeof(msg))
		snprintf(msg + r, sizeof(msg) - r, ": %s", strerror(saved));
	if (getenv("JOURNAL_STREAM") != NULL)
		n = snprintf(line, cap, "%s", level_prio[lv]);
	f = getenv("DS_LOG_FORMAT");
	logfmt = f != NULL && strcmp(f, "logfmt") == 0;
	if (logfmt) {
		n += snprintf(line + n, cap - n, "prog=%s level=%s msg=",
		    ds_progname, level_name[lv]);
		n = put_quoted(line, n, cap, msg);
	} else
		n += snprintf(line + n, cap - n, "%s: %s: %s", ds_progname,
		    level_name[lv], msg);
	if ((size_t)n > cap)
		n = (int)cap;
	if (log_ctx != NULL && (size_t)n < cap) {
		r = snprintf(line + n, cap - n, " %s", log_ctx);
		n = (size_t)(n + r) < cap ? n + r : (int)cap;
	}
	line[n++] = '\n';
	(void)!write(2, line, n);
	errno = saved;
}

void
ds_log(enum ds_log_level lv, int sys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ds_vlog(lv, sys, fmt, ap);
	va_end(ap);
}

void
ds_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ds_vlog(DS_LOG_FATAL, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

void
ds_diesys(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ds_vlog(DS_LOG_FATAL, 1, fmt, ap);
	va_end(ap);
	exit(code);
}

void
ds_assert_fail(const char *expr, const char *file, int line)
{
	ds_log(DS_LOG_FATAL, 0, "assertion failed: %s at %s:%d", expr, file,
	    line);
	abort();
}
