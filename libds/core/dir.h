/*
 * dir.h: private directories and the files dstream writes in them.
 * Trust nothing on the host: a directory dstream keeps its sockets, keys,
 * state or journal in must be the caller's alone, and no file in it is
 * reached through a symbolic link.  Every file operation here goes
 * through the directory's descriptor (openat(2) and friends) with
 * O_NOFOLLOW, temporary files are created O_EXCL, and a replaced file is
 * fsync'ed before and its directory after the rename.
 *
 * Never prints, never exits: -1 with errno, and for the checks a
 * static text in *why saying what was wrong.
 */
#ifndef DS_DIR_H
#define DS_DIR_H

#include <stddef.h>

/*
 * Open the directory path (O_DIRECTORY, close-on-exec) after checking
 * it is private: a real directory (not a symbolic link), owned by the
 * effective uid, without group or other write permission.  With create,
 * it and every missing parent are created mode 0700.  Every existing
 * parent is checked on the way down, each opened relative to the one
 * before: it must be owned by the effective uid or by root, and writable
 * by group or others only with the sticky bit set (/tmp); a parent that
 * is a symbolic link is followed only if root or the effective uid owns
 * it (/var/run -> /run).  A relative path starts at the working
 * directory, which is not checked.  The fd, or -1 with errno (EPERM for
 * a failed check, with *why set; otherwise the system call's, *why
 * naming it).
 */
int	ds_dir_open(const char *path, int create, const char **why);

/*
 * openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, 0600) with name a
 * single component (no '/'): ELOOP for a symbolic link, EINVAL for a
 * name with '/'.  A regular file is required for anything but O_PATH
 * (EINVAL otherwise, e.g. a fifo planted where a log should be).
 */
int	ds_dir_openat(int dirfd, const char *name, int flags);

/*
 * Replace dirfd/name with len bytes at p: a temporary name.tmp is
 * created O_EXCL (a stale one, never a link, is removed first), written,
 * fsync'ed, renamed over name, and the directory fsync'ed.  0 or -1.
 */
int	ds_dir_replace(int dirfd, const char *name, const void *p, size_t len);

/* Read up to cap - 1 bytes of dirfd/name into p, NUL-terminated.  The
 * length, or -1 (ENOENT when there is none). */
long	ds_dir_read(int dirfd, const char *name, char *p, size_t cap);

/* fsync(2) the directory; 0 or -1. */
int	ds_dir_sync(int dirfd);

#endif
