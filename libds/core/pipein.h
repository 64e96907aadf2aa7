/*
 * pipein.h: a stream of BUNDLE frames on a file descriptor, as every
 * pipe-mode reader (ds-op, ds-sink) consumes it.  Wraps the frame reader
 * and the bundle decoder and turns every fault into an exit code and a
 * one-line message naming the stream, the offset and what was wrong;
 * the caller prints it and decides.  Never prints, never exits.
 */
#ifndef DS_PIPEIN_H
#define DS_PIPEIN_H

#include <stdint.h>

#include "core/frame.h"
#include "core/tuple.h"

#define DS_PIPEIN_AGAIN	2	/* fd is non-blocking and has nothing now */

struct ds_pipein {
	struct ds_frame_reader	 rd;
	struct ds_bundle	 b;
	const char		*name;		/* "stdin", a path; borrowed */
	size_t			 maxtuple;
	int			 code;		/* DS_EX_* after an error */
	char			 msg[256];	/* after an error */
};

void	ds_pipein_init(struct ds_pipein *, const char *name, size_t maxtuple);
void	ds_pipein_term(struct ds_pipein *);
/*
 * Next bundle from fd: 1 and *bp points at it (valid until the next call);
 * 0 at a clean end of stream; DS_PIPEIN_AGAIN if fd would block; -1 on any
 * error, with code and msg set (65 malformed, 76 not a frame stream or a
 * wrong version, 74 read error, 71 out of memory).
 */
int	ds_pipein_next(struct ds_pipein *, int fd, struct ds_bundle **bp);

#endif
