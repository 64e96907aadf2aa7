/*
 * topo.h: topology files (ds-topology(5)), parsed with libinih.
 *
 *	[topology]
 *	name = wordcount          ; default: file name without .topo
 *	once = least              ; most | least | exactly   (default least)
 *	keepalive = 10s           ; ms, s suffixes; default 10s
 *	drain = 60s               ; an orderly stop's limit; 0: stop at once
 *	zombies = kill            ; kill | fence              (default kill)
 *	state = DIR               ; default: ./NAME.state (beside the file)
 *	run = DIR                 ; default: $XDG_RUNTIME_DIR/dstream/NAME-H,
 *	                          ;   else /tmp/dstream-UID/NAME-H (H: a hash
 *	                          ;   of the state directory's real path)
 *	bundle = 64               ; default tuples per bundle for every node
 *	linger = 5ms              ; default linger
 *	max-emit = 16M            ; default --max-emit of every ds-op (unset)
 *	max-keys = 1000000        ; default --max-keys of every ds-op (unset)
 *
 *	[node count]
 *	run = ds-op --builtin count
 *	input = split:hash        ; NODE[:hash|range|shuffle|broadcast|forward]
 *	input = other             ; several allowed; default distribution forward
 *	parallel = 4              ; default 1
 *	once.split = most         ; per-edge override: once.NODE = MODE
 *
 * Nodes come in file order.  Validation (all in ds_topo_load): unknown
 * section or key, missing value, bad number or mode, duplicate node,
 * input naming a missing node or the node itself, a cycle, a node whose
 * run does not start with ds-source, ds-op or ds-sink, a ds-source with
 * an input, a ds-op or ds-sink without one, parallel outside 1..1024, a
 * ds-sink that has consumers, a `once.NODE` for a node that is not an
 * input.  A node with no consumers must be a ds-sink.
 */
#ifndef DS_TOPO_H
#define DS_TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "core/once.h"
#include "core/part.h"

enum ds_kind { DS_KIND_SOURCE, DS_KIND_OP, DS_KIND_SINK };
enum ds_routers { DS_ROUTERS_AUTO, DS_ROUTERS_YES, DS_ROUTERS_NO };

/* routers = auto: an edge with more upstream x downstream gets a router. */
#define DS_TOPO_DIRECT_MAX	64

struct ds_topo_edge {
	int		 from;		/* index of the upstream node */
	int		 to;		/* index of the downstream node */
	enum ds_dist	 dist;
	enum ds_once	 once;		/* topology's, or the override */
	int		 line;		/* line of its input = key */
	int		 once_line;	/* of its once.NODE =, or 0 */
};

struct ds_topo_node {
	char		*name;
	char		*run;		/* the command line as written */
	char	       **argv;		/* run split like sh(1) words, NULL-ended */
	int		 argc;
	enum ds_kind	 kind;		/* from argv[0]'s basename */
	unsigned	 parallel;
	int		 line;		/* line of its [node] header */
	int		 run_line;	/* line of its run = */
	int		 par_line;	/* line of its parallel =, or 0 */
};

struct ds_topo {
	char			*file;		/* as given */
	char			*path;		/* file, absolute */
	char			*dir;		/* its directory, absolute */
	char			*name;
	enum ds_once		 once;
	int			 once_line;	/* of once =, or 0 */
	uint64_t		 keepalive_ms;
	uint64_t		 drain_ms;	/* orderly stop's limit, 0: none */
	int			 fence_only;	/* zombies = fence */
	enum ds_routers		 routers;
	char			*state;		/* absolute */
	char			*run;		/* absolute */
	unsigned		 bundle;
	uint64_t		 linger_ms;
	uint64_t		 max_emit;	/* 0: unset */
	uint64_t		 max_keys;	/* 0: unset */
	struct ds_topo_node	*node;
	size_t			 nnode;
	struct ds_topo_edge	*edge;		/* in input = order per node */
	size_t			 nedge;
};

/*
 * Load and validate file.  0, or -1 with err (size errlen) set to one line
 * "FILE:LINE: KEY: what is wrong" (or "FILE: ..." when no line applies,
 * e.g. "FILE: cannot open: No such file or directory" or a cycle, which
 * names its nodes).  The caller exits 78 (66 for a missing file).
 */
int	ds_topo_load(struct ds_topo *, const char *file, char *err,
	    size_t errlen);
void	ds_topo_free(struct ds_topo *);

/*
 * Does edge e get a ds-router (routers = yes, or auto and more than
 * DS_TOPO_DIRECT_MAX upstream x downstream instances)?  If not, and its
 * distribution is not forward, every downstream instance pulls from every
 * upstream instance, which partitions its own output (--part).
 */
int	ds_topo_routed(const struct ds_topo *, size_t e);
/* Node index by name, or -1. */
int	ds_topo_find(const struct ds_topo *, const char *name);
/* Producer id of instance (node, index): (node + 1) << 16 | index. */
uint64_t ds_topo_producer(int node, unsigned index);

/*
 * Split a run line into words like sh(1): blanks separate, '...' is
 * literal, "..." honours \" \\ \$ \` (other backslashes stay), \c
 * outside quotes is c.  Refused (-1, errno EINVAL, *why a static string):
 * an unterminated quote, a trailing backslash, an empty command, control
 * characters, $ ` | ; & < > ( ) * ? [ outside quotes, # or ~ starting a
 * word, $ or ` unescaped inside "...".  0: *argv (NULL-ended, *argc
 * words) is the caller's, freed with ds_topo_argv_free.  ENOMEM too.
 */
int	ds_topo_split(const char *, char ***argv, int *argc,
	    const char **why);
void	ds_topo_argv_free(char **);

#endif
