/*
 * buf.h: struct ds_buf, a growable byte buffer.  The buffer owns p; every
 * other pointer into it is borrowed and dies at the next call that may
 * grow it.  All functions return 0, or -1 with errno ENOMEM.
 */
#ifndef DS_BUF_H
#define DS_BUF_H

#include <stddef.h>

struct ds_buf {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
};
#define DS_BUF_INIT	{ NULL, 0, 0 }

int	 ds_buf_grow(struct ds_buf *, size_t);	/* room for n more bytes */
int	 ds_buf_add(struct ds_buf *, const void *, size_t);
int	 ds_buf_addstr(struct ds_buf *, const char *);
int	 ds_buf_addc(struct ds_buf *, int);
void	 ds_buf_consume(struct ds_buf *, size_t);	/* drop n bytes from the front */
void	*ds_buf_detach(struct ds_buf *, size_t *);	/* caller frees; buf reset */
void	 ds_buf_free(struct ds_buf *);			/* idempotent */

#define ds_buf_reset(b)	((void)((b)->len = 0))

#endif
