/*
 * line.c: field splitting.  The delimiter case walks with memchr, one
 * call per field; the blank case is a byte loop.  Both stop at field n,
 * so the cost is the length of the prefix up to the field, not the line.
 */
#include <string.h>

#include "core/line.h"

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
ds_line_field(const char *p, size_t len, size_t n, int delim,
    const char **f, size_t *flen)
{
	const char *end = p + len, *q;

	if (n == 0)
		return 0;
	if (delim != DS_LINE_BLANKS) {
		while (--n > 0) {
			q = memchr(p, delim, (size_t)(end - p));
			if (q == NULL)
				return 0;
			p = q + 1;
		}
		q = memchr(p, delim, (size_t)(end - p));
		*f = p;
		*flen = (size_t)((q ? q : end) - p);
		return 1;
	}
	for (;;) {
		while (p < end && blank(*p))
			p++;
		if (p == end)
			return 0;
		q = p;
		while (q < end && !blank(*q))
			q++;
		if (--n == 0) {
			*f = p;
			*flen = (size_t)(q - p);
			return 1;
		}
		p = q;
	}
}
