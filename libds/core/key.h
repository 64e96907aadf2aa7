/*
 * key.h: the job key file (dstream(7), TRUST).  A key file holds exactly
 * DS_KEY_LEN random bytes, is a regular file owned by the effective uid
 * with no group or other permission, in a private directory (dir.h).
 * ds-master makes a fresh one for every run as RUN/key and passes its
 * path to its children; a process started by hand uses the per-user key
 * DS_KEY_DIR/key, made on first use.  The key itself never appears on a
 * command line or in the environment.
 *
 * Never prints, never exits: -1 with errno, *why naming the check or
 * the system call that failed.
 */
#ifndef DS_KEY_H
#define DS_KEY_H

#include <stddef.h>

#include "core/mac.h"

/*
 * The per-user directory: $XDG_RUNTIME_DIR/dstream when that is an
 * absolute path, else /tmp/dstream-UID.  0, or -1 (ENAMETOOLONG).
 */
int	ds_key_userdir(char *buf, size_t cap);
/* The per-user key file, DIR/key of ds_key_userdir.  0 or -1. */
int	ds_key_default(char *buf, size_t cap);

/*
 * Read the key file path into key.  With create, a missing file (and
 * its private directory) is made with fresh random bytes; two processes
 * racing to make it end with the same key.
 */
int	ds_key_load(const char *path, int create,
	    unsigned char key[DS_KEY_LEN], const char **why);
/* A fresh random key written as dirfd/name (replacing any). */
int	ds_key_make(int dirfd, const char *name,
	    unsigned char key[DS_KEY_LEN]);

#endif
