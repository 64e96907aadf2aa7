/*
 * plan.h: the wiring plan of a topology (ds-topology(5), "Processes"):
 * the processes that run a job and how they find each other.  In start
 * order: one ds-journal ("journal") when any node or edge is
 * exactly-once, one process per instance (NODE.I, nodes in file order),
 * one ds-router per routed edge (UP-DOWN, edges in order).  For each:
 * its id, its address, its consumers, how it splits its output, what it
 * pulls.  ds-master renders argv from it and supervises; nothing else
 * about wiring is decided there.  Pure: no I/O, never prints.
 */
#ifndef DS_PLAN_H
#define DS_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/once.h"
#include "core/part.h"
#include "topo/topo.h"

/* Ids outside every instance's (ds_topo_producer() < 1 << 40). */
#define DS_PLAN_ROUTER_BIT	(1ull << 40)	/* | (edge + 1) */
#define DS_PLAN_JOURNAL_ID	(2ull << 40)
/* The longest ipc:// path a plan hands out (RUN/NAME). */
#define DS_PLAN_IPC_MAX		100

enum ds_plan_kind { DS_PLAN_JOURNAL, DS_PLAN_INSTANCE, DS_PLAN_ROUTER };

struct ds_plan_ids {
	uint64_t	*v;
	size_t		 n;
};

/* --part DIST:IDS: a producer splits its output for one direct edge. */
struct ds_plan_part {
	enum ds_dist		 dist;
	struct ds_plan_ids	 to;		/* every downstream instance */
};

/* --pull MODE:IDS@ADDR: the producers served at one address. */
struct ds_plan_pull {
	enum ds_once		 once;		/* the edge's */
	struct ds_plan_ids	 from;
	char			*addr;		/* ipc://RUN/NAME */
};

struct ds_plan_proc {
	enum ds_plan_kind	 kind;
	uint64_t		 id;
	char			*name;		/* NODE.I, UP-DOWN, "journal" */
	int			 node;		/* instance's node, or -1 */
	unsigned		 index;		/* instance: its index */
	size_t			 edge;		/* router: its edge */
	enum ds_once		 once;		/* topology's; router: edge's */
	enum ds_dist		 dist;		/* router: the edge's */
	int			 journal;	/* gets --journal */
	char			*listen;	/* ipc://RUN/NAME; sink: NULL */
	struct ds_plan_ids	 consumers;	/* in --consumers order */
	struct ds_plan_part	*part;
	size_t			 npart;
	struct ds_plan_pull	*pull;
	size_t			 npull;
};

struct ds_plan {
	struct ds_plan_proc	*proc;		/* in start order */
	size_t			 nproc;
	char			*journal;	/* its address, or NULL */
};

/*
 * Compute the plan of t (loaded by ds_topo_load; only read, and not kept:
 * the plan owns copies of all it holds).  0, or -1 with errno EINVAL and
 * err (size errlen) set to one line, which the caller reports with exit
 * 78: "FILE:LINE: parallel: instance NAME gets no input (forward inputs
 * have fewer instances)" or "FILE: run: RUN/NAME is too long for an
 * ipc:// address (100 bytes at most)"; or ENOMEM.  On -1, *p holds
 * nothing to free.  Free a plan with ds_plan_free (idempotent).
 */
int	ds_plan_build(struct ds_plan *p, const struct ds_topo *t, char *err,
	    size_t errlen);
void	ds_plan_free(struct ds_plan *);

/* Does t need a ds-journal (any node or edge exactly-once)? */
int	ds_plan_uses_journal(const struct ds_topo *t);
/* The id of edge e's ds-router. */
uint64_t ds_plan_router_id(size_t e);
/* The process with this id, borrowed from p, or NULL. */
const struct ds_plan_proc *ds_plan_find(const struct ds_plan *p,
	    uint64_t id);

#endif
