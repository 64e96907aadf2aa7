/*
 * tcstore.h: a keyed output store, a Tokyo Cabinet hash database written
 * by ds-sink --tc.  key -> value, the last put of a key wins, so putting
 * the same tuples again leaves the same database (idempotent).
 *
 * Puts go into a transaction that ds_tcstore_commit ends: a process that
 * dies (SIGKILL) leaves the database as of its last commit, which the
 * next open restores from PATH.wal.  Only a commit with sync survives the
 * machine.  Guards for Tokyo Cabinet's known hazards: it dies with
 * SIGBUS when a write into its memory map finds the disk full, so the map
 * covers only the bucket array (allocated when the file is created) and
 * records go through pwrite(2), which fails with ENOSPC; free space is
 * also checked at open, at each commit and every DS_TCSTORE_CHECK bytes
 * put, and below DS_TCSTORE_MINFREE nothing more is written.  It keeps
 * its lock while its process is stopped: open never waits for it.  It has
 * no checksums: the values must be re-derivable (they are: a rerun puts
 * them again).
 *
 * PATH is the user's: its directory is not checked, but PATH and
 * PATH.wal are refused (74) when they are symbolic links, and a new PATH
 * is created 0644 less the caller's umask (core/dir.h), never through a
 * link (store/tcfile.h).
 *
 * With journal.c and tcfile.c the only files that include Tokyo Cabinet.
 * Never prints, never exits: failures are -1 with a message in ds_tcstore_err
 * and a DS_EX_* code in ds_tcstore_code; after a failure only
 * ds_tcstore_close may be called.
 */
#ifndef DS_TCSTORE_H
#define DS_TCSTORE_H

#include <stddef.h>
#include <stdint.h>

#define DS_TCSTORE_MINFREE	(16u << 20)	/* bytes kept free */
#define DS_TCSTORE_CHECK	(1u << 20)	/* statvfs every this many */

struct ds_tcstore;

/*
 * Open (create) the database at path for writing, without waiting for a
 * lock.  Returns the store (free with ds_tcstore_close), or NULL with
 * *code: DS_EX_UNAVAILABLE if another process holds the database (a
 * stopped one too), DS_EX_IOERR for anything else (cannot create or
 * read it, not a database, not enough free space), DS_EX_OSERR out of
 * memory; err (errlen bytes) says why, naming path.
 */
struct ds_tcstore *ds_tcstore_open(const char *path, int *code, char *err,
	    size_t errlen);
/*
 * Put key -> val (copied; the last put of a key wins), inside the open
 * transaction, beginning one if none is open.  0, or -1.
 */
int	ds_tcstore_put(struct ds_tcstore *, const void *key, size_t keylen,
	    const void *val, size_t vallen);
/*
 * End the open transaction (if any); with sync, also write everything to
 * the disk (msync + fsync) before returning.  0, or -1.
 */
int	ds_tcstore_commit(struct ds_tcstore *, int sync);
/* Records in the database. */
uint64_t ds_tcstore_count(const struct ds_tcstore *);
/* The message and DS_EX_* code of the last failure. */
const char *ds_tcstore_err(const struct ds_tcstore *);
int	ds_tcstore_code(const struct ds_tcstore *);
/*
 * Close and free (NULL is fine).  A transaction still open is aborted.
 * 0, or -1 with the message in err (errlen bytes; err may be NULL).
 */
int	ds_tcstore_close(struct ds_tcstore *, char *err, size_t errlen);

#endif
