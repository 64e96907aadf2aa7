/*
 * io.h: small blocking I/O helpers.  They retry on EINTR and partial
 * transfers; they never print.
 */
#ifndef DS_IO_H
#define DS_IO_H

#include <stddef.h>

/* Write all n bytes.  0, or -1 with errno (EPIPE when the reader left). */
int	ds_write_all(int fd, const void *, size_t);

/*
 * Grow the pipe on fd to 1 MiB (Linux's default pipe-max-size), so big
 * writes don't wake the reader every 64 KiB.  Best effort: not a pipe,
 * not Linux, or not allowed, and nothing changes.
 */
void	ds_grow_pipe(int fd);

/*
 * Make standard input non-blocking if it is a pipe or a socket, and put
 * its flags back when the process exits (atexit(3)): the other end of a
 * shared pipe may be read by a process that expects it blocking.  1 if
 * it is non-blocking now, else 0.
 */
int	ds_stdin_nonblock(void);

#endif
