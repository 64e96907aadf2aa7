/*
 * slog.h: an instance's own state log for at-most- and at-least-once
 * topologies (issue 3; ds-journal takes this over for exactly-once).  An
 * append-only file of DELTA, MARK and ACKED records (core/rec.h: frames,
 * so every record has its CRC-32C) under the topology's state directory.
 * A MARK closes the DELTAs before it; ACKED says that mark's outputs were
 * all acked downstream, so its frontier may be (and was) acked upstream.
 *
 * Writes are write(2) without fsync: they survive the death of the
 * process, which is what issue 3 promises (a machine crash is issue 4's).
 * Recovery picks the last MARK (DS_SLOG_LAST, at-most-once) or the last
 * ACKED mark (DS_SLOG_ACKED, at-least-once) and replays the DELTAs up to
 * it.  A torn tail (a partial or bad frame at the end) is cut with a
 * warning; a bad frame followed by good ones is corruption: exit 65 and
 * name the offset.  Compaction rewrites the file as the recovered-style
 * snapshot of a mark (every live key, the MARK, ACKED) into FILE.tmp
 * (created O_EXCL, fsync'ed) and renames it over FILE (the directory
 * fsync'ed).
 *
 * The directory of FILE must exist and be private (core/dir.h: ours, no
 * group or other write, not a link, nor a parent anyone else controls);
 * FILE and FILE.tmp are opened through it, never through a symbolic link:
 * a link at FILE is refused (74), a stale FILE.tmp (a link too) removed.
 */
#ifndef DS_SLOG_H
#define DS_SLOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rec.h"

#define DS_SLOG_LAST	0
#define DS_SLOG_ACKED	1

struct ds_slog {
	int		 fd;
	int		 dirfd;		/* the log's directory */
	char		*path;
	char		*name;		/* in path: the log's name in dirfd */
	uint64_t	 size;		/* bytes in the file */
	uint64_t	 mark;		/* last mark number written */
	struct ds_buf	 pend;		/* records not yet written */
	char		 err[512];
	int		 torn;		/* open cut a torn tail; err says so */
};

/*
 * Open (creating) path and recover: on_delta is called for every DELTA up
 * to the chosen mark, in order (val NULL when deleted), then *m is that
 * mark (m->mark 0 and no deltas applied if there is none).  Later DELTAs
 * and MARKs are cut off the file.  0, or -1 with err set and a DS_EX_*
 * code returned through *code (65 corrupt, 66 no such directory, 74 I/O,
 * a directory that is not private, or a link or non-file at path).
 *
 * m->pos is allocated: the caller frees it with ds_mark_free.  When a
 * torn tail was cut, open still returns 0 but sets torn and leaves the
 * warning text in err.  An ACKED record cut with the records after the
 * chosen mark is written again right after it.  s->mark is the highest
 * mark number found, so numbers are never reused.  On failure s is left
 * closed (ds_slog_close is harmless).  on_delta returns 0, or non-zero to
 * stop recovery (-1, *code 70).
 */
int	ds_slog_open(struct ds_slog *, const char *path, int which,
	    int (*on_delta)(void *arg, const void *key, size_t keylen,
	    const void *val, size_t vallen), void *arg,
	    struct ds_mark *m, int *code);
/*
 * Queue records (0, or -1 with errno ENOMEM or EMSGSIZE); ds_slog_flush
 * writes them with one write(2) (looping on EINTR and short writes).  On
 * a failed flush the file is cut back to its old size and the records stay
 * queued.  ds_slog_mark borrows m->pos; m->mark 0 takes the next number
 * (set in m->mark), another is written as it is.  ds_slog_add queues
 * whole DELTA record frames (core/rec.h) the owner built.
 */
int	ds_slog_delta(struct ds_slog *, const void *key, size_t keylen,
	    const void *val, size_t vallen);	/* val NULL: deleted */
int	ds_slog_mark(struct ds_slog *, struct ds_mark *);
int	ds_slog_add(struct ds_slog *, const void *recs, size_t len);
int	ds_slog_acked(struct ds_slog *, uint64_t mark);
int	ds_slog_flush(struct ds_slog *);
/*
 * Rewrite the log as: every (key, val) the iterator yields, mark m, and
 * ACKED m.  The iterator returns 1 with a pair, 0 at the end (-1: stop,
 * compaction fails).  m->mark 0 takes a new number.  Queued records are
 * flushed to the old file first; nothing after m may be queued.  The
 * snapshot goes to PATH.tmp, renamed over PATH; on failure the old log
 * stays in use.  0, or -1 with errno and err set.
 */
int	ds_slog_compact(struct ds_slog *, struct ds_mark *m,
	    int (*next)(void *arg, const void **key, size_t *keylen,
	    const void **val, size_t *vallen), void *arg);
/* Close without flushing; idempotent. */
void	ds_slog_close(struct ds_slog *);

#endif
