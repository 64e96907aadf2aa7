/*
 * path.h: finding a program along $PATH as execvp(3) would, for the
 * programs that must know before they run one (ds-master's children,
 * ds-op --check's --exec program).
 */
#ifndef DS_PATH_H
#define DS_PATH_H

/*
 * name (no '/') looked up in each directory of $PATH (an empty entry is
 * the current directory; unset: /usr/local/bin:/usr/bin:/bin): the first
 * executable candidate, malloc'ed, or NULL with errno ENOENT (none) or
 * ENOMEM.
 */
char	*ds_path_search(const char *name);

#endif
