/*
 * node.h: the instance runtime.  Every program of a topology (ds-source,
 * ds-op, ds-sink, ds-router) runs on it: the lease (beats to ds-master),
 * the input edges (inlets: pulling, dedup, the frontier), the output (an
 * outq behind a pull server: retention, serving, parts), the units of
 * work and their durability, acks up and down, back-pressure, recovery
 * and the end of a finite job.  The delivery mode lives here and in the
 * durability backends (durable.h) only: a program hands its work over as
 * units (ds_node_commit) and never asks which mode it runs in.
 *
 * An orderly stop (DRAIN from the master, or --drain) reaches the programs
 * without inputs: each stops reading and ends its output as stopped
 * (DS_PROD_STOPPED); every other node finishes what reaches it as at the
 * end of a finite job, and ends its own output stopped once an input
 * did.  Everything read is processed, made durable and acked, and each
 * frontier records a producer that stopped as not ended, so a rerun goes
 * on from there as if nothing had happened.
 *
 * A unit is what a program did since its last one: state changes (its
 * dirty callback writes them as records), outputs (encoded bundles),
 * the output seq and the program's aux (a source's file offset, a sink's
 * file length), with the input frontier the runtime adds.  A unit is
 * written to the backend; once durable its outputs become pullable (and,
 * exactly once, its frontier is acked upstream); once every consumer
 * acked its outputs, the backend is told and (at most and at least once)
 * its frontier is acked upstream.
 *
 * ds-router is a node with the identity transform: it has no program and
 * no state; every input bundle goes to the output stream of its producer,
 * split as producers split theirs, and each producer is acked upstream as
 * far as every consumer acked its stream.
 *
 * This is the layer that prints and exits: 69 when an address cannot be
 * bound or connected, 75 when the lease is lost or the instance was
 * fenced (at once, touching neither outputs nor state), 74 when the state
 * log cannot be written, 65 on a bad recovery record, 70 when a state
 * change cannot be applied or the journal refuses a unit, 71 when memory
 * runs out.
 */
#ifndef DS_NODE_H
#define DS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "core/rec.h"
#include "core/tuple.h"
#include "net/inlet.h"
#include "net/epochq.h"
#include "net/lease.h"
#include "net/outq.h"
#include "net/pull.h"
#include "node/nodeopt.h"
#include "node/opt.h"

struct ds_durable;

/* Where a program goes on from after recovery. */
struct ds_node_resume {
	int		 found;		/* something was recovered */
	uint64_t	 outseq;	/* last output seq of the recovered unit */
	uint64_t	 aux;		/* its aux */
	uint64_t	 durable;	/* the last durable unit's outseq */
};

/* What a program gives the runtime; any member may be NULL. */
struct ds_node_prog {
	/* Recovery: a key's value (val NULL: deleted), a key's timer. */
	int	(*load)(void *arg, const void *key, size_t keylen,
		    const void *val, size_t vallen);
	int	(*load_timer)(void *arg, const void *key, size_t keylen,
		    uint64_t when);
	/*
	 * Recovery is over and the output is served: start, and commit
	 * what starting made (ds_node_commit).  Inputs are pulled once every
	 * unit committed here is durable.
	 */
	void	(*resume)(void *arg, const struct ds_node_resume *);
	/*
	 * The state changed since the last unit, as records appended to
	 * recs: a DELTA per changed key and, if timers, a TIMER per moved
	 * timer (core/rec.h); *n counts them.  0, or -1 (ENOMEM).
	 */
	int	(*dirty)(void *arg, struct ds_buf *recs, int timers,
		    uint32_t *n);
	/* Every key with a value (compaction): 1 with one, 0 at the end. */
	int	(*each)(void *arg, size_t *iter, const void **key,
		    size_t *keylen, const void **val, size_t *vallen);
	/* An input bundle, duplicates dropped. */
	void	(*bundle)(void *arg, const struct ds_bundle *);
	/* Every input ended (once). */
	void	(*ended)(void *arg);
	/* Every loop round, before the loop blocks. */
	void	(*tick)(void *arg);
	/*
	 * A program without inputs (a source): the job stops in order.
	 * Stop reading at a boundary, commit what was read, ds_node_end; the
	 * runtime ends the output as stopped (NULL: ds_node_end at once).
	 */
	void	(*drain)(void *arg);
};

/* One unit of work (durable.h has the backends' side). */
struct ds_unit {
	struct ds_unit	*next;
	struct ds_mark	 m;		/* number, outseq, aux, frontier */
	struct ds_buf	 recs;		/* the backend's records of it */
	uint32_t	 nrecs;
	struct ds_buf	 out;		/* output BUNDLE frames */
	uint32_t	 nout;		/* of them */
	uint64_t	 ntup;		/* tuples out (or written) */
	size_t		 bytes;		/* of recs and out when committed */
	int		 borrowed;	/* out is the program's buffer */
	int		 durable;
};

/* One input edge. */
struct ds_node_in {
	struct ds_node			*n;
	const struct ds_node_pull	*cfg;
	struct ds_inlet			*inlet;
	size_t				 base;	/* of its producers in front */
};

struct ds_node {
	struct ds_node_cfg	 cfg;
	struct ds_common	*co;
	const struct ds_node_prog *prog;
	void			*arg;
	struct ev_loop		*loop;
	size_t			 maxtuple;	/* of input tuples */
	/*
	 * Why the program's input cannot be read again ("standard input
	 * cannot be read again"), or NULL: a source reading a file makes
	 * the same outputs again from the aux of a unit, so its outputs
	 * need not be kept durable, only its position.
	 */
	const char		*noreplay;
	int			 replayable;	/* a file: outputs made again,
						   not journaled */
	/* Running. */
	struct ds_lease		*lease;
	struct ds_epochq	*eq;		/* with --master: net/epochq.h */
	struct ds_pull_srv	*srv;
	struct ds_outq		 oq;
	struct ds_outq_stream	*own;		/* our stream (not a router) */
	int			 has_oq;
	struct ds_node_in	*in;		/* cfg.npull */
	size_t			 nfront;	/* producers over all inputs */
	struct ds_mark_pos	*front;		/* scratch, nfront */
	struct ds_mark_pos	*last;		/* of the last unit, nfront */
	int			 committed;	/* last is set */
	/* Units, oldest first: durable ones wait for acks, then the rest. */
	struct ds_unit		*head, *tail;
	struct ds_unit		*wnext;		/* first not durable */
	struct ds_unit		*lastdur;	/* the one before it, or NULL */
	size_t			 nwriting;	/* not durable */
	size_t			 wbytes;	/* their bytes */
	uint64_t		 outseq;	/* of the last unit */
	uint64_t		 mark;		/* the last unit's number */
	/* Durability. */
	const struct ds_durable	*dur;
	void			*dst;		/* the backend's */
	int			 keeps;		/* it keeps state */
	struct ds_mark		 rec;		/* what recovery found */
	struct ds_buf		 recout;	/* outputs recovered */
	uint64_t		 recfirst;	/* their first seq, 0: none */
	struct ds_node_resume	 res;
	/* Where the node is. */
	int			 resumed;	/* recovery over, serving */
	int			 going;		/* inputs pulled */
	int			 paused;	/* inputs stopped: full */
	int			 inputs_ended;	/* prog->ended ran */
	int			 stopped;	/* ... by an orderly stop */
	int			 drain_due;	/* DRAIN came: act in prepare_cb */
	uint64_t		 aux;		/* of the last unit */
	int			 ending;	/* the output ends */
	int			 finishing;
	int			 wake;		/* outputs appended */
	uint64_t		 cnt_in, cnt_out;
	uint64_t		 fenced_seen;	/* oq.fenced logged so far */
	ev_prepare		 prep;
	ev_timer		 grace;
	ev_tstamp		 grace_until;
	struct ds_buf		 state;		/* a unit's state records */
	struct ds_unit		*spare;		/* units to use again */
	size_t			 nspare;
};

/*
 * ds_node_init, then ds_node_opt(&n->cfg, ...) for every option
 * (nodeopt.h), then ds_node_validate, which checks them together (64)
 * and picks the durability backend; n->cfg.on says whether it is a
 * topology instance at all.
 */
void	ds_node_init(struct ds_node *, enum ds_node_kind);
/* The same, naming the program (ds_progname) and its usage (co). */
void	ds_node_main(struct ds_node *, enum ds_node_kind, struct ds_common *,
	    const char *usage);
void	ds_node_validate(struct ds_node *, const struct ds_common *);
void	ds_node_term(struct ds_node *);
/*
 * Acquire and run in loop: the lease, recovery, the output, the inputs;
 * readiness is signalled (co) once recovery is over and the output is
 * bound.  The program's callbacks are called from the loop from then on.
 */
void	ds_node_start(struct ds_node *, struct ev_loop *, struct ds_common *,
	    const struct ds_node_prog *, void *arg);

/*
 * One unit: out (whole BUNDLE frames, used up: *out is left empty, its
 * room kept; NULL: none), the output seq after them, the program's aux.
 * cur: the input bundle the unit is about, counted in the frontier even
 * if its inlet has not moved yet (NULL: none).  ntup: tuples the program
 * wrote itself (a sink), counted as output.
 */
void	ds_node_commit(struct ds_node *, const struct ds_bundle *cur,
	    struct ds_buf *out, uint64_t outseq, uint64_t aux, uint64_t ntup);
/* The program's output ends after the units committed so far. */
void	ds_node_end(struct ds_node *);
/* The input frontier moved since the last unit (or there was none). */
int	ds_node_moved(struct ds_node *);
/*
 * The inputs ended (prog->ended runs) because the job stops in order
 * (ds-master stop, SIGINT, SIGTERM), not at their end: a rerun resumes
 * here, so a program gives no final answers unless asked to.
 */
int	ds_node_stopped(const struct ds_node *);
/* Units not durable yet. */
size_t	ds_node_pending(const struct ds_node *);
/* Too much held: a program that reads on its own stops reading. */
int	ds_node_full(const struct ds_node *);
/*
 * Commits must survive a machine crash, not only the process: a program
 * that writes files itself syncs them before it commits (and, after a
 * restart, cuts them back to the length it committed).
 */
int	ds_node_syncs(const struct ds_node *);
/*
 * The state is kept (a state log or the journal): a program keeps track
 * of what it changes, for its dirty callback.  Known once resume runs.
 */
int	ds_node_keeps_state(const struct ds_node *);
/* Exit 75 unless the lease is valid (always valid without --master). */
void	ds_node_valid(struct ds_node *);
/* For work that keeps the loop from running: keep the lease alive. */
void	ds_node_poll(void *node);

/* For the backends (durable.h). */
void	ds_node_recovered(struct ds_node *);
void	ds_node_durable(struct ds_node *);
int	ds_node_load(struct ds_node *, const struct ds_frame *);
void	ds_node_nomem(void) __attribute__((noreturn));

#endif
