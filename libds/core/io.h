/*
 * io.h: small blocking I/O helpers.  They retry on EINTR and partial
 * transfers; they never print.
 */
#ifndef DS_IO_H
#define DS_IO_H

#include <stddef.h>

struct ds_end;

/* Write all n bytes.  0, or -1 with errno (EPIPE when the reader left). */
int	ds_write_all(int fd, const void *, size_t);
/*
 * A pipe stream's writer finished: write the END frame that closes it
 * (core/tuple.h), the last thing it writes on fd.  0, or -1 as
 * ds_write_all.
 */
int	ds_write_end(int fd, const struct ds_end *);

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
