/*
 * once.h: the three delivery modes (DESIGN 5, dstream(7)) and their one
 * parser: every option and file that names a mode goes through it.
 */
#ifndef DS_ONCE_H
#define DS_ONCE_H

#include <stddef.h>

enum ds_once { DS_ONCE_MOST, DS_ONCE_LEAST, DS_ONCE_EXACTLY };

/* "most", "least" or "exactly". */
const char *ds_once_name(enum ds_once);
/* The mode named by s[0..n): 0, or -1 for no such name. */
int	ds_once_parse(const char *s, size_t n, enum ds_once *);

#endif
