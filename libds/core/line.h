/*
 * line.h: picking one field out of a line of text, as ds-source does for
 * --key-field and --time-field.  Two rules, those of awk and cut: by
 * default fields are runs of non-blanks (space, tab) and leading blanks
 * are ignored; with a delimiter byte every occurrence separates two
 * fields and empty fields count.  Borrowing only: nothing is copied.
 */
#ifndef DS_LINE_H
#define DS_LINE_H

#include <stddef.h>

#define DS_LINE_BLANKS	(-1)	/* delim: awk's runs of blanks */

/*
 * Field n (1-based) of p[0..len): 1 with *f and *flen set (pointing into
 * p), or 0 if the line has fewer than n fields.  delim is a byte value
 * 0..255 or DS_LINE_BLANKS.
 */
int	ds_line_field(const char *p, size_t len, size_t n, int delim,
	    const char **f, size_t *flen);

#endif
