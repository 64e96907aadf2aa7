/*
 * sink.h: ds-sink's parts (bin/ds-sink.c is options, output and the
 * topology glue; path.c makes the path each instance writes).
 */
#ifndef DS_SINK_H
#define DS_SINK_H

#include "ds.h"
#include "node/nodeopt.h"

/*
 * The path of option opt (--file or --tc) for this instance: tmpl
 * (taken over) with %i replaced by the instance index (the I of --name
 * NODE.I; 0 in pipe mode) and %% by %.  Dies 64 on any other %
 * sequence, or on %i when --name does not end in .I.  The caller frees
 * the result.
 */
char	*sink_path(const struct ds_common *, const struct ds_node_cfg *,
	    const char *opt, char *tmpl);
/*
 * --check: print "writes PATH" on stdout for each path that is not
 * NULL, PATH absolute (relative to the working directory; its directory
 * resolved by realpath(3) when it exists, so that two names of one file
 * compare equal), and exit 0.  Nothing is opened.
 */
void	sink_check(const char *file, const char *tc)
	    __attribute__((noreturn));

#endif
