/*
 * linefmt.h: tuples as lines of text, by a template (ds-sink(1) --format):
 * %k key, %p payload, %s seq, %P producer, %e epoch, %i producer:seq, %t
 * event time in ns, %T the same in ISO 8601 UTC, %r trace id (16 hex
 * digits or "-"), %l now minus the event time in ns (signed), %% a %;
 * \t, \n and \\ escapes; everything else is literal, and a newline ends
 * every line.  The template is compiled once into steps; rendering
 * reserves a tuple's worst-case size in the output once and writes
 * straight into it.  No I/O, never prints.
 */
#ifndef DS_LINEFMT_H
#define DS_LINEFMT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/tuple.h"

struct ds_linefmt_step;

struct ds_linefmt {
	struct ds_linefmt_step	*steps;		/* owned */
	size_t			 n;
	struct ds_buf		 lit;		/* literal bytes of every step */
	size_t			 fixed;		/* most bytes one tuple takes, */
	size_t			 nkey;		/* plus nkey keys */
	size_t			 npayload;	/* and npayload payloads */
};

/*
 * Compile template s into f.  0, or -1 with errno EINVAL and *why (a
 * trailing lone % or \, an unknown conversion or escape; the text names
 * it, in static storage until the next call) or ENOMEM.  f is empty and
 * needs no free after a failure.
 */
int	ds_linefmt_compile(struct ds_linefmt *f, const char *s,
	    const char **why);
void	ds_linefmt_free(struct ds_linefmt *);
/* Append t of bundle b, as a line, to out.  0, or -1 with ENOMEM. */
int	ds_linefmt_render(const struct ds_linefmt *, struct ds_buf *out,
	    const struct ds_bundle *b, const struct ds_tuple *t);

#endif
