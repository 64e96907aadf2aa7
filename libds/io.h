/*
 * io.h: small blocking I/O helpers.  They retry on EINTR and partial
 * transfers; they never print.
 */
#ifndef DS_IO_H
#define DS_IO_H

#include <stddef.h>

/* Write all n bytes.  0, or -1 with errno (EPIPE when the reader left). */
int	ds_write_all(int fd, const void *, size_t);

#endif
