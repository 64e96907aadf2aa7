/*
 * buf.c: growable byte buffer.  Capacity doubles, so appends are amortised
 * O(1); nothing here ever shrinks a buffer except ds_buf_free.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

int
ds_buf_grow(struct ds_buf *b, size_t n)
{
	size_t cap;
	unsigned char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
ds_buf_add(struct ds_buf *b, const void *p, size_t n)
{
	if (ds_buf_grow(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int
ds_buf_addstr(struct ds_buf *b, const char *s)
{
	return ds_buf_add(b, s, strlen(s));
}

int
ds_buf_addc(struct ds_buf *b, int c)
{
	if (ds_buf_grow(b, 1) == -1)
		return -1;
	b->p[b->len++] = (unsigned char)c;
	return 0;
}

void
ds_buf_consume(struct ds_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void *
ds_buf_detach(struct ds_buf *b, size_t *lenp)
{
	void *p = b->p;

	if (lenp != NULL)
		*lenp = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
ds_buf_free(struct ds_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
