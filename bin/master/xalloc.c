/*
 * xalloc.c: ds-master's allocations.  ds-master cannot supervise anything
 * without memory, so a failed allocation ends it at once (71, "out of
 * memory") instead of every caller checking.  Only for bin/: libds
 * returns ENOMEM.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"

void
nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		nomem();
	return p;
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
		nomem();
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
