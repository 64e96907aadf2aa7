/*
 * dir.h: private directories and the files dstream writes in them.
 * Trust nothing on the host: a directory dstream keeps its sockets, keys,
 * state or journal in must be the caller's alone, and no file in it is
 * reached through a symbolic link.  Every file operation here goes
 * through the directory's descriptor (openat(2) and friends) with
 * O_NOFOLLOW, temporary files are created O_EXCL, and a replaced file is
 * fsync'ed before and its directory after the rename.  Sockets take their
 * mode from the umask: ds_dir_umask makes it 077.
 *
 * Never prints, never exits: -1 with errno, and for the checks a
 * static text in *why saying what was wrong.
 */
#ifndef DS_DIR_H
#define DS_DIR_H

#include <sys/types.h>

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
 * ds_dir_open of the directory holding path ("." without a '/'), and
 * *name pointed at path's last component (EINVAL, *why "no file name",
 * when it is empty).
 */
int	ds_dir_open_parent(const char *path, int create, const char **name,
	    const char **why);

/*
 * ds_dir_open with a one-line message in err (errlen bytes) on failure:
 * the reason, after the directory at fault when that is one of path's
 * parents ("/tmp/dstream-1000: owned by another user"), and the system's
 * error text after a failed call ("mkdir: Permission denied").  errno as
 * ds_dir_open's.
 */
int	ds_dir_open_msg(const char *path, int create, char *err,
	    size_t errlen);

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
 * fsync'ed, renamed over name, and the directory fsync'ed.  Whatever
 * name was (a symbolic link too) is replaced, never written through.
 * 0 or -1.
 */
int	ds_dir_replace(int dirfd, const char *name, const void *p, size_t len);

/*
 * ds_dir_replace in steps, for a file written piece by piece: begin
 * removes a stale name.tmp (unlinkat(2): a link is removed, not
 * followed) and creates it O_EXCL, 0600; the fd, or -1.  commit fsyncs
 * and closes fd, renames name.tmp over name and fsyncs the directory;
 * 0, or -1 with the temporary file removed.  abort closes fd (if >= 0)
 * and removes name.tmp, keeping errno.  fd is closed either way.
 */
int	ds_dir_begin(int dirfd, const char *name);
int	ds_dir_commit(int dirfd, const char *name, int fd);
void	ds_dir_abort(int dirfd, const char *name, int fd);

/* Read up to cap - 1 bytes of dirfd/name into p, NUL-terminated.  The
 * length, or -1 (ENOENT when there is none). */
long	ds_dir_read(int dirfd, const char *name, char *p, size_t cap);

/* fsync(2) the directory; 0 or -1. */
int	ds_dir_sync(int dirfd);

/*
 * The text for an errno of ds_dir_openat and the calls above: ELOOP "a
 * symbolic link (not followed)", EINVAL "not a regular file", else
 * strerror(3)'s.  Static.
 */
const char *ds_dir_strerror(int e);

/*
 * Set the process's umask to 077, so that every file and socket it
 * creates is private whatever the caller's umask (ipc:// sockets take
 * their mode from it).  Call first thing in main.  Returns the caller's
 * umask, remembered: later calls change nothing and return it again.
 */
mode_t	ds_dir_umask(void);
/*
 * The caller's umask as ds_dir_umask found it (the current one if it was
 * never called), for what is not dstream's own: a file the user names
 * for output, a program exec'ed.
 */
mode_t	ds_dir_umask_caller(void);

#endif
