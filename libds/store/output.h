/*
 * output.h: where ds-sink's tuples go.  Either lines of text by a template
 * (core/linefmt.h) to a file descriptor -- standard output or a file, whose
 * length is kept so that a commit can name it and a restart cut the file
 * back to it -- or key -> payload puts into a Tokyo Cabinet hash database
 * (tcstore.h), where putting the same tuples again leaves the same
 * database.  Lines are rendered into a buffer and written in big chunks.
 *
 * Never prints, never exits: failures are -1 with a one-line message in
 * o->err (naming the file) and a DS_EX_* code in o->code.
 */
#ifndef DS_OUTPUT_H
#define DS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/linefmt.h"
#include "core/tuple.h"
#include "store/tcstore.h"

struct ds_output {
	int			 fd;		/* lines go here; 1: stdout */
	const char		*name;		/* "stdout" or a path; borrowed */
	struct ds_linefmt	 fmt;
	struct ds_buf		 out;		/* rendered, not written */
	uint64_t		 size;		/* bytes in the file */
	struct ds_tcstore	*tc;		/* --tc, or NULL */
	uint64_t		 tcbytes;	/* put since the last commit */
	int			 code;		/* DS_EX_* of the failure */
	char			 err[512];
};

/*
 * Lines by template format to standard output.  0, or -1: EINVAL (a bad
 * template: *why says what is wrong) or ENOMEM.
 */
int	ds_output_init(struct ds_output *, const char *format,
	    const char **why);
/*
 * Write to the file path instead: appended to (append) or truncated.  0,
 * or -1 (74).
 */
int	ds_output_file(struct ds_output *, const char *path, int append);
/* Put into the Tokyo Cabinet database path instead.  0, or -1. */
int	ds_output_tc(struct ds_output *, const char *path);
/*
 * Render or put the tuples of b.  A tuple without a key is refused (65)
 * before anything of its bundle is put.  0, or -1.
 */
int	ds_output_bundle(struct ds_output *, const struct ds_bundle *b);
/* What is waiting: rendered bytes not written, or puts not committed. */
uint64_t ds_output_waiting(const struct ds_output *);
/* Write what is rendered.  0, or -1 (74). */
int	ds_output_flush(struct ds_output *);
/*
 * Write and commit: lines are written, and with sync fdatasync'ed; puts
 * end their transaction, and with sync reach the disk.  0, or -1.
 */
int	ds_output_commit(struct ds_output *, int sync);
/*
 * Cut the file back to len bytes (what was committed), the length from
 * then on.  0, or -1: 65 when the file is shorter than len (changed
 * behind our back), 74.  *cut is the number of bytes cut.
 */
int	ds_output_cut(struct ds_output *, uint64_t len, uint64_t *cut);
/*
 * Commit with sync and close (the file, or the database: *records is its
 * count then).  0, or -1.  Free everything, failed or not.
 */
int	ds_output_close(struct ds_output *, uint64_t *records);

#endif
