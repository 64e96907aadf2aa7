/*
 * nodeopt.h: the topology options of the instance programs (ds-source,
 * ds-op, ds-sink, ds-router), one grammar for all of them.  ds-master(1)
 * appends them to a node's command line; --listen, --pull or --master
 * switch ds-source, ds-op and ds-sink from pipe mode to topology mode
 * (ds-router is always in it).  Ids are 1..2^64-1, every list is checked
 * for duplicates, a delivery mode and a distribution have one parser each
 * (core/once.h, core/part.h).
 *
 * Like opt.h this is the bin/ side of libds: a bad option prints the
 * error and the usage and exits 64.
 */
#ifndef DS_NODEOPT_H
#define DS_NODEOPT_H

#include <stddef.h>
#include <stdint.h>

#include <popt.h>

#include "core/once.h"
#include "core/part.h"
#include "node/opt.h"

enum ds_node_kind { DS_NODE_SOURCE, DS_NODE_OP, DS_NODE_SINK, DS_NODE_ROUTER };

#define DS_NODE_KEEPALIVE	10000		/* ms, default --keepalive */
#define DS_NODE_BUFFER		(64u << 20)	/* retained bytes, default */
#define DS_NODE_MAXCONS		1024		/* most consumers */

/* Option values ds_opt_next returns for the topology options. */
enum {
	DS_NODE_OPT_ID = 0x7e01,
	DS_NODE_OPT_NAME,
	DS_NODE_OPT_EPOCH,
	DS_NODE_OPT_MASTER,
	DS_NODE_OPT_KEEPALIVE,
	DS_NODE_OPT_STATE,
	DS_NODE_OPT_ONCE,
	DS_NODE_OPT_LISTEN,
	DS_NODE_OPT_CONSUMERS,
	DS_NODE_OPT_PULL,
	DS_NODE_OPT_ENDED,
	DS_NODE_OPT_JOURNAL,
	DS_NODE_OPT_PART,
	DS_NODE_OPT_DIST,
	DS_NODE_OPT_BUFFER,
	DS_NODE_OPT_KEY,
	DS_NODE_OPT_NETWORK,
	DS_NODE_OPT_DRAIN,
	DS_NODE_OPT_RESUMED,
	DS_NODE_OPT_END		/* not an option: one past the last */
};

/* popt tables of each program's topology options. */
extern struct poptOption ds_node_source_opts[];
extern struct poptOption ds_node_op_opts[];
extern struct poptOption ds_node_sink_opts[];
extern struct poptOption ds_node_router_opts[];
#define DS_POPT_NODE(table) \
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, (table), 0, \
	    "Topology mode (see ds-master(1)):", NULL }

/* One --part DIST:IDS: consumers that share the stream by DIST. */
struct ds_node_part {
	enum ds_dist	 dist;
	uint64_t	*ids;		/* owned; n consumer ids */
	size_t		 n;
};

/* One --pull MODE:IDS@ADDR: an input edge. */
struct ds_node_pull {
	enum ds_once	 once;
	uint64_t	*prod;		/* owned; nprod producer ids */
	size_t		 nprod;
	char		*addr;		/* owned */
};

struct ds_node_cfg {
	enum ds_node_kind	 kind;
	int			 on;		/* topology mode */
	uint64_t		 id;
	char			*name;		/* owned; default: the id */
	uint32_t		 epoch;
	char			*master;	/* owned; NULL: no lease */
	uint64_t		 keepalive_ms;
	char			*state;		/* owned; NULL: no state log */
	enum ds_once		 once;
	char			*listen;	/* owned */
	uint64_t		*cons;		/* owned, ncons */
	size_t			 ncons;
	struct ds_node_part	*part;		/* owned, npart */
	size_t			 npart;
	struct ds_node_pull	*pull;		/* owned, npull */
	size_t			 npull;
	uint64_t		*ended;		/* owned: finished producers */
	size_t			 nended;
	int			 drain;		/* --drain: the job stops */
	int			 resumed;	/* --resumed: after a stop */
	char			*journal;	/* owned; --journal ADDR */
	int			 exactly;	/* own or an input edge's */
	enum ds_dist		 dist;		/* ds-router's --dist */
	uint64_t		 buffer;	/* retained bytes that stop input */
	char			*key;		/* owned; --key FILE or NULL */
	int			 tcp;		/* --network tcp */
	unsigned		 given;		/* bit (val - DS_NODE_OPT_ID) */
};

void	ds_node_cfg_init(struct ds_node_cfg *, enum ds_node_kind);
/*
 * IDS: s[0..n), a comma-separated list of distinct ids, 1..2^64-1, into
 * *ids (malloc'ed, in the order given) and *nids.  0, or -1 with *why
 * (*ids then NULL).  Dies with 71 when out of memory.
 */
int	ds_node_parse_ids(const char *s, size_t n, uint64_t **ids,
	    size_t *nids, const char **why);
void	ds_node_cfg_term(struct ds_node_cfg *);
/*
 * Take val from ds_opt_next if it is a topology option: 1, else 0 (the
 * caller's own).  Dies with 64 on a bad value.
 */
int	ds_node_opt(struct ds_node_cfg *, const struct ds_common *, poptContext,
	    int val);
/*
 * Parse argv with a program's table (which includes DS_POPT_NODE and
 * DS_POPT_COMMON; its own options store into their arg pointers, they
 * have no val): the topology options go to cfg.  An operand is a usage
 * error, unless operands is set: then the context is returned for
 * poptGetArgs (the caller frees it with poptFreeContext); else NULL.
 */
poptContext ds_node_parse(struct ds_node_cfg *, struct ds_common *,
	    int argc, char **argv, const struct poptOption *opts,
	    int operands);
/*
 * After parsing: decide the mode and check the options together (dies
 * with 64); sets the log context (name=NAME) and, in topology mode and
 * unless co->check, the job key (ds_node_setkey).
 */
void	ds_node_cfg_validate(struct ds_node_cfg *, const struct ds_common *);
/*
 * After ds_node_cfg_validate: the instance index I of --name NODE.I (as
 * ds-master names instances) into *index, 0 in pipe mode or without
 * --name.  0, or -1 when --name does not end in .I.
 */
int	ds_node_cfg_index(const struct ds_node_cfg *, uint64_t *index);

#endif
