/*
 * op.h: ds-op's parts: bin/ds-op.c parses the options and runs pipe mode
 * (frames on stdin and stdout); run.c drives the operator for both modes
 * (bundles, timers, failures); node.c is the program of a topology node
 * (node/node.h); check.c is --check.  One global state, O.  All of it
 * may print and exit: this is bin/.
 */
#ifndef DS_OP_H_BIN
#define DS_OP_H_BIN

#include <stdint.h>

#include <ev.h>

#include "ds.h"
#include "node/node.h"
#include "op/exec.h"
#include "op/oprun.h"

struct dsop {
	struct ds_oprun		 run;
	struct ds_exec		 ex;
	ev_timer		 timer_w;
	uint64_t		 armed;		/* when timer_w was set for */
	/* Topology mode. */
	struct ds_node		 node;
	int			 ended;		/* on_end ran (now or before a
						 * restart) */
	const char		*command;	/* --exec */
	int			 exec_end;	/* --exec-end */
	const char		*opname;	/* --builtin or --plugin */
	const char *const	*opargs;	/* its operands */
};

extern struct dsop O;

/* run.c */
/* Write what the operator emitted to stdout (pipe mode). */
void	op_flush(void);
/* The operator failed: kill its program, exit with its code. */
void	op_die(void) __attribute__((noreturn));
/* The operator's log hook. */
void	op_log(int level, const char *msg);
/* Point O.timer_w at the first pending timer, if it moved. */
void	op_arm(struct ev_loop *);
/* One input bundle through the operator, then the timers it made due. */
void	op_bundle(const struct ds_bundle *);
/* Init a built-in or plugin with its operands (64 on a bad operand). */
void	op_start(const struct ds_common *);
/* O.timer_w's callback: fire, then commit (topology) or flush. */
void	op_timer_cb(struct ev_loop *, ev_timer *, int);

/* check.c */
/*
 * --check, once the options are valid and a --plugin is loaded: a
 * built-in's operands through its init (64), an --exec program looked up
 * (69); exit 0.
 */
void	op_check(const struct ds_common *, int builtin)
	    __attribute__((noreturn));

/* node.c */
extern const struct ds_node_prog op_prog;
/* What the operator did since the last unit, as one unit. */
void	op_commit(const struct ds_bundle *cur);

#endif
