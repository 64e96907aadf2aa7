/*
 * source.h: ds-source's parts (bin/ds-source.c is options and the
 * topology glue; read.c reads the input, cuts it into bundles and writes
 * them out or hands them to the runtime).
 */
#ifndef DS_SOURCE_H
#define DS_SOURCE_H

#include <stdint.h>

#include <ev.h>

#include "core/linein.h"
#include "node/node.h"

struct source {
	int			 fd;
	const char		*name;		/* "stdin" or the --file path */
	int			 regular;	/* fd is a regular file */
	struct ds_linein	 li;
	unsigned		 linger;	/* ms; only for non-files */
	int			 throttled;	/* not reading: ahead of --rate */
	int			 paused;	/* not reading: the runtime is full */
	int			 eof;
	struct ds_node		 node;
	struct ev_loop		*loop;
	ev_io			 rd;
	ev_idle			 idle;
	ev_timer		 lt, rt;
	ev_signal		 sigint, sigterm;
};

/* Open the input (file NULL: stdin) and set the watchers up; 66 on failure. */
void	source_open(struct source *, const char *file);
/* Start (1) or stop (0) reading; paused, throttled or at EOF: stays off. */
void	source_reading(struct source *, int on);
/* Close the open bundle and write what is whole (pipe mode). */
void	source_flush(struct source *);

#endif
