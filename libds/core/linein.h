/*
 * linein.h: lines of text cut into bundles of tuples, as ds-source(1)
 * does.  Each line is one tuple: payload the line, seq its line number,
 * key and event time from its fields (core/line.h, core/timefmt.h; the
 * time of reading without a time field).  The owner reads its input into
 * the room the reader gives (ds_linein_room) and feeds what came; every
 * whole line goes into the open bundle of out, which closes at --bundle
 * tuples or DS_BUNDLE_SOFTMAX bytes, or when the owner says so.  The
 * input offset after each bundle's last line is kept, so the same input
 * read again from there makes the same seqs.  No I/O, never prints.
 */
#ifndef DS_LINEIN_H
#define DS_LINEIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "core/tuple.h"

struct ds_linein {
	/* Settings: defaults from ds_linein_init, then the owner's. */
	size_t		 maxtuple;	/* most key + line bytes */
	uint32_t	 bundle;	/* tuples per bundle */
	size_t		 keyfield;	/* 0: no key */
	size_t		 timefield;	/* 0: the time of reading */
	int		 delim;		/* DS_LINE_BLANKS or a byte */
	int		 timefmt;	/* enum ds_timefmt */
	/* Or a pattern (borrowed), read from the time field on: it may
	 * span several fields, but must end where a field ends. */
	const struct ds_timefmt_pat *timepat;
	uint64_t	 rate;		/* lines a second, 0: no limit */
	uint64_t	 producer;	/* of the bundles */
	uint32_t	 epoch;
	/* Bundles: closed(arg, lastseq, end) once one is whole at the end
	 * of out; opened(arg) when a new one opens.  Either may be NULL. */
	void		(*closed)(void *, uint64_t lastseq, uint64_t end);
	void		(*opened)(void *);
	void		*arg;
	/* The reader's. */
	char		*rb;		/* input; no newline in rb[0..scan) */
	size_t		 rcap, rlen, scan;
	uint64_t	 base;		/* input offset of rb[0] */
	uint64_t	 lineno;	/* lines so far */
	uint64_t	 now;		/* when the input was read, ns */
	uint64_t	 rt0, rl0, rbytes;	/* pacing: since when, lines, bytes */
	struct ds_buf	 out;		/* whole bundles, then the open one */
	struct ds_bundle_writer	 w;
	uint64_t	 last, lastend;	/* the open bundle's last seq, offset */
	int		 code;		/* DS_EX_* of a refusal */
	char		 err[256];	/* why a line was refused */
};

/* The defaults: bundles of 64, no key, no time field, blanks. */
void	ds_linein_init(struct ds_linein *);
/* Take the settings and allocate.  0, or -1 with ENOMEM. */
int	ds_linein_open(struct ds_linein *);
void	ds_linein_term(struct ds_linein *);
/*
 * Where the next read goes: *p, with room for the returned number of
 * bytes (with a rate, about a millisecond's worth of lines).
 */
size_t	ds_linein_room(struct ds_linein *, char **p);
/*
 * n bytes were read into the room (n 0 and eof: the input ended, the rest
 * is the last line).  Every whole line becomes a tuple.  0, or -1 with
 * err and code set: 65, a line over maxtuple or a bad time field (the
 * bundles before it are whole in out), or 71, out of memory.
 */
int	ds_linein_feed(struct ds_linein *, size_t n, int eof);
/* Close the open bundle, if any (closed is called). */
void	ds_linein_close(struct ds_linein *);
/* Bytes of whole bundles at the start of out. */
size_t	ds_linein_whole(const struct ds_linein *);
/* The first n bytes of out were written: drop them. */
void	ds_linein_consume(struct ds_linein *, size_t n);
/* With a rate: seconds until the lines read so far are due (0: read). */
double	ds_linein_ahead(struct ds_linein *);
/* Go on at input offset off, after lineno lines (a restart). */
void	ds_linein_resume(struct ds_linein *, uint64_t off, uint64_t lineno);

#endif
