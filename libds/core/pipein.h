/*
 * pipein.h: a pipe stream on a file descriptor, as every pipe-mode reader
 * (ds-op, ds-sink) consumes it: BUNDLE frames, then the END frame its
 * writer adds when it finishes (ds-wire(5)), then the end of input.
 * Wraps the frame reader and the bundle decoder, counts what it hands
 * out to check the END against, and turns every fault into an exit code
 * and a one-line message naming the stream, the offset and what was
 * wrong; the caller prints it and decides.  Never prints, never exits.
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
	struct ds_end		 seen;		/* what the bundles held */
	uint64_t		 bundles;	/* bundles handed out */
	int			 mixed;		/* of two producers or epochs */
	int			 ended;		/* the END was read */
	int			 code;		/* DS_EX_* after an error */
	char			 msg[256];	/* after an error */
};

void	ds_pipein_init(struct ds_pipein *, const char *name, size_t maxtuple);
void	ds_pipein_term(struct ds_pipein *);
/*
 * Next bundle from fd: 1 and *bp points at it (valid until the next call);
 * 0 at the end of a whole stream (an END that agrees with the bundles
 * read, then the end of input); DS_PIPEIN_AGAIN if fd would block; -1 on
 * any error, with code and msg set: 65 malformed, a stream cut (the input
 * ends without an END, or inside a frame: msg starts "NAME: stream cut:"
 * and says how many tuples came), an END that disagrees with the bundles
 * or anything after the END; 76 not a frame stream or a wrong version;
 * 74 read error; 71 out of memory.  seen counts the tuples handed out.
 */
int	ds_pipein_next(struct ds_pipein *, int fd, struct ds_bundle **bp);

#endif
