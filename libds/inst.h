/*
 * inst.h: topology mode of ds-source, ds-op and ds-sink, the part the
 * three share.  ds-master(1) appends the topology options to a node's
 * command line; --listen, --pull or --master switch an executable from
 * pipe mode to topology mode.  This module parses those options, opens
 * the lease (lease.h, only with --master), the output stream (an outq
 * behind a pull server) and the inlets (one per --pull), keeps the
 * counters the lease reports, applies back-pressure and ends the process
 * once its stream is done.
 *
 * Like opt.c this is the bin/ side of libds: it prints and exits.  64 on
 * bad options, 69 when an address cannot be bound or connected, 75 when
 * the lease is lost or the instance was fenced (the process stops at once
 * and touches neither its outputs nor its state log), 74 when the state
 * log cannot be written, 71 when memory runs out.
 */
#ifndef DS_INST_H
#define DS_INST_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <popt.h>

#include "inlet.h"
#include "lease.h"
#include "msg.h"
#include "opt.h"
#include "outq.h"
#include "pull.h"
#include "slog.h"
#include "topo.h"
#include "tuple.h"

enum ds_inst_kind { DS_INST_SOURCE, DS_INST_OP, DS_INST_SINK };

#define DS_INST_OUTMAX	(64u << 20)	/* retained bytes that stop input */
#define DS_INST_SLOGMAX	(64ull << 20)	/* compact the state log past this */
#define DS_INST_KEEPALIVE 10000		/* ms, default --keepalive */

/* Option values returned by ds_opt_next for the topology options. */
enum {
	DS_INST_OPT_ID = 0x7e01,
	DS_INST_OPT_NAME,
	DS_INST_OPT_EPOCH,
	DS_INST_OPT_MASTER,
	DS_INST_OPT_KEEPALIVE,
	DS_INST_OPT_STATE,
	DS_INST_OPT_ONCE,
	DS_INST_OPT_LISTEN,
	DS_INST_OPT_CONSUMERS,
	DS_INST_OPT_PULL,
	DS_INST_OPT_ENDED,
	DS_INST_OPT_END		/* not an option: one past the last */
};

/* popt tables of each executable's topology options. */
extern struct poptOption ds_inst_source_opts[];
extern struct poptOption ds_inst_op_opts[];
extern struct poptOption ds_inst_sink_opts[];
#define DS_POPT_INST(table) \
	{ NULL, 0, POPT_ARG_INCLUDE_TABLE, (table), 0, \
	    "Topology mode (see ds-master(1)):", NULL }

struct ds_inst;

/* One --pull MODE:IDS@ADDR: an input edge. */
struct ds_inst_pull {
	enum ds_once	 once;
	uint64_t	*prod;		/* owned; nprod producer ids */
	size_t		 nprod;
	char		*addr;		/* owned */
	struct ds_inlet	*inlet;		/* owned once opened */
	size_t		 base;		/* index of prod[0] in a frontier */
	struct ds_inst	*ti;		/* back pointer, once opened */
};

struct ds_inst {
	enum ds_inst_kind	 kind;
	int			 on;		/* topology mode */
	/* Options. */
	uint64_t		 id;
	char			*name;		/* owned; default: the id */
	uint32_t		 epoch;
	char			*master;	/* owned; NULL: no lease */
	uint64_t		 keepalive_ms;
	char			*state;		/* owned; NULL: no state log */
	enum ds_once		 once;
	char			*listen;	/* owned */
	uint64_t		*cons;		/* owned */
	size_t			 ncons;
	struct ds_inst_pull	*pull;		/* owned */
	size_t			 npull;
	unsigned		 given;		/* bit (val - DS_INST_OPT_ID) */
	uint64_t		*ended;		/* --ended: finished producers */
	size_t			 nended;
	/* Running. */
	struct ev_loop		*loop;
	struct ds_lease		*lease;
	struct ds_pull_srv	*srv;
	struct ds_outq		 oq;
	int			 has_oq;
	size_t			 nfront;	/* producers over all pulls */
	struct ds_slog_pos	*front;		/* owned, nfront */
	int			 paused;	/* inlets stopped (back-pressure) */
	int			 finishing;
	uint64_t		 cnt_in, cnt_out;	/* tuples */
	ev_prepare		 prep;
	ev_timer		 grace;
	ev_tstamp		 grace_until;
	/* The owner's: called every loop round before it blocks. */
	void			(*tick)(void *);
	int			(*on_bundle)(void *, struct ds_inst_pull *,
				    const struct ds_bundle *);
	void			*arg;
};

void	ds_inst_init(struct ds_inst *, enum ds_inst_kind);
void	ds_inst_term(struct ds_inst *);
/*
 * Handle val from ds_opt_next if it is a topology option: 1, else 0.
 * Dies with 64 on a bad value.
 */
int	ds_inst_opt(struct ds_inst *, const struct ds_common *, poptContext,
	    int val);
/* After parsing: decide the mode and check the options together (64). */
void	ds_inst_validate(struct ds_inst *, const struct ds_common *);

/*
 * Acquire, in this order: ds_inst_start (lease, loop hooks), the state
 * log, ds_inst_listen and/or ds_inst_inlets, ds_inst_restore, then
 * ds_inst_go.  tick and on_bundle may be NULL.
 */
void	ds_inst_start(struct ds_inst *, struct ev_loop *, void (*tick)(void *),
	    int (*on_bundle)(void *, struct ds_inst_pull *,
	    const struct ds_bundle *), void *arg);
/* The output stream starts at seq first (1, or a recovered outseq + 1). */
void	ds_inst_listen(struct ds_inst *, uint64_t first);
/*
 * Open one inlet per --pull.  restarted: this instance was restarted
 * (most-mode edges then skip what their producers retained).
 */
void	ds_inst_inlets(struct ds_inst *, size_t maxtuple, int restarted);
/* Give the inlets the frontier of a recovered mark. */
void	ds_inst_restore(struct ds_inst *, const struct ds_slog_mark *);
/* Start pulling. */
void	ds_inst_go(struct ds_inst *);

/* Exit 75 unless the lease is valid (always valid without --master). */
void	ds_inst_valid(struct ds_inst *);
/*
 * Retain the whole BUNDLE frames in (p, len) for the consumers (seqs
 * read from the frames) and wake parked pulls.
 */
void	ds_inst_append(struct ds_inst *, const void *p, size_t len);
/* The output stream is over the back-pressure limit. */
int	ds_inst_full(const struct ds_inst *);
/* Stop (1) or resume (0) every inlet. */
void	ds_inst_pause(struct ds_inst *, int);
/* Every inlet ended (1 without inlets). */
int	ds_inst_ended(const struct ds_inst *);
/*
 * The current input frontier over every inlet, in --pull order (borrowed,
 * valid until the next call).  cur: a bundle being processed, counted in
 * even if its inlet has not moved its frontier yet; may be NULL.
 */
struct ds_slog_pos *ds_inst_frontier(struct ds_inst *,
	    const struct ds_bundle *cur, size_t *n);
/* Ack upstream everything up to a frontier from ds_inst_frontier. */
void	ds_inst_ack(struct ds_inst *, const struct ds_slog_pos *, size_t n);
/* Ack upstream everything received. */
void	ds_inst_ack_all(struct ds_inst *);
/* End the output stream. */
void	ds_inst_end(struct ds_inst *);
/* Done: beat DONE, answer and close, leave the loop shortly after. */
void	ds_inst_finish(struct ds_inst *);

/* STATE/NAME.slog (caller frees), or NULL without --state. */
char	*ds_inst_slog_path(const struct ds_inst *);
/*
 * Open the state log and recover (the mark --once picks: LAST for most,
 * ACKED for least); dies with its code on failure.
 */
void	ds_inst_slog_open(struct ds_inst *, struct ds_slog *,
	    int (*on_delta)(void *, const void *, size_t, const void *, size_t),
	    void *arg, struct ds_slog_mark *);
/* Write what is queued (74 on failure); checks the lease first. */
void	ds_inst_slog_flush(struct ds_inst *, struct ds_slog *);

#endif
