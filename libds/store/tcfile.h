/*
 * tcfile.h: a Tokyo Cabinet hash database file opened without following
 * a symbolic link.  tchdbopen(3) opens its file by path and follows
 * links, and so does the first transaction with PATH.wal (O_CREAT |
 * O_TRUNC).  So, before tchdbopen, ds_tcfile_check refuses a link or
 * anything but a regular file at NAME or NAME.wal and creates a missing
 * NAME itself (O_EXCL, never through a link: TC then finds an empty file
 * and writes its header into it); after it, ds_tcfile_same checks that
 * the file TC opened is the one at NAME.  What this does not cover is a
 * link planted between the checks and TC's own opens (NAME.wal is opened
 * at the first transaction): only someone who may write the directory
 * can do that, so the directory must be private (core/dir.h) where that
 * matters.
 *
 * Included by store/ only (it names TCHDB).  Never prints, never exits.
 */
#ifndef DS_TCFILE_H
#define DS_TCFILE_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <tcutil.h>
#include <tchdb.h>

/*
 * Check dirfd/name and dirfd/name.wal and create name (mode, whatever
 * the umask) if missing; *st is name's identity for ds_tcfile_same.  0,
 * or -1 with errno: ELOOP (a symbolic link), EINVAL (not a regular file),
 * or the system call's; *wal is 1 when name.wal was at fault, else 0.
 */
int	ds_tcfile_check(int dirfd, const char *name, mode_t mode,
	    struct stat *st, int *wal);
/*
 * After tchdbopen: 0 if db has the file *st is and dirfd/name still is
 * that file, else -1 with ELOOP.
 */
int	ds_tcfile_same(TCHDB *db, int dirfd, const char *name,
	    const struct stat *st);

#endif
