/*
 * tap.h: a tiny TAP producer for libds unit tests.  ok() prints one TAP
 * line (with file:line on failure); done() prints the plan and returns the
 * exit status (1 if anything failed).
 */
#ifndef DS_TAP_H
#define DS_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_fail;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 4, 5)))
static inline int
tap_ok(int c, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", c ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!c) {
		printf("#   failed at %s:%d\n", file, line);
		tap_fail++;
	}
	return c;
}

static inline int
done(void)
{
	printf("1..%d\n", tap_n);
	return tap_fail ? 1 : 0;
}

#endif
