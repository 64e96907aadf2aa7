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

#include "net/inlet.h"
#include "net/lease.h"
#include "core/msg.h"
#include "node/opt.h"
#include "net/outq.h"
#include "net/pull.h"
#include "store/slog.h"
#include "core/once.h"
#include "core/part.h"
#include "core/tuple.h"

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
	DS_INST_OPT_JOURNAL,
	DS_INST_OPT_PART,
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
struct ds_jclient;

/* One atomic unit for ds-journal: frames, and what to do once durable. */
struct ds_inst_junit {
	struct ds_buf	 recs;
	uint32_t	 n;
	void		(*done)(void *, uint64_t);
	void		*arg;
	uint64_t	 token;
};

/* What recovery from ds-journal gives back (exactly-once). */
struct ds_inst_jrec {
	struct ds_mark	 mark;		/* mark 0: none; pos owned */
	uint64_t		 acked;		/* last ACKED mark, 0: none */
	struct ds_buf		 out;		/* outputs not acked, our epoch */
	uint64_t		 outfirst;	/* lowest seq in out, 0: none */
	uint64_t		 maxmark;	/* highest mark number seen */
};

/* One --part DIST:IDS: consumers that share the stream by DIST. */
struct ds_inst_part {
	enum ds_dist	 dist;
	uint64_t	*ids;		/* owned; n consumer ids */
	size_t		 n;
};

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
	struct ds_inst_part	*part;		/* owned */
	size_t			 npart;
	struct ds_inst_pull	*pull;		/* owned */
	size_t			 npull;
	unsigned		 given;		/* bit (val - DS_INST_OPT_ID) */
	uint64_t		*ended;		/* --ended: finished producers */
	size_t			 nended;
	char			*journal;	/* owned; --journal ADDR */
	int			 exactly;	/* own or an input edge's */
	/* Running. */
	struct ev_loop		*loop;
	struct ds_lease		*lease;
	struct ds_pull_srv	*srv;
	struct ds_outq		 oq;
	struct ds_outq_stream	*os;		/* ours, in oq */
	int			 has_oq;
	size_t			 nfront;	/* producers over all pulls */
	struct ds_mark_pos	*front;		/* owned, nfront */
	int			 paused;	/* inlets stopped (back-pressure) */
	int			 wake;		/* output appended: wake pulls */
	size_t			 refbytes;	/* bundle bytes of the reply */
	int			 finishing;
	uint64_t		 cnt_in, cnt_out;	/* tuples */
	ev_prepare		 prep;
	ev_timer		 grace;
	ev_tstamp		 grace_until;
	/* Exactly-once: units written to ds-journal, not yet durable. */
	struct ds_jclient	*jc;
	struct ds_inst_junit	*ju;		/* ring */
	size_t			 jhead, jlen, jcap;
	size_t			 jsent;		/* handed to jc, no answer */
	size_t			 jnext;		/* ring index the next answer is for */
	size_t			 jbytes;
	int			 jfull;
	ev_timer		 jretry;
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
void	ds_inst_restore(struct ds_inst *, const struct ds_mark *);
/* Start pulling. */
void	ds_inst_go(struct ds_inst *);

/*
 * From work that keeps the loop from running for long (a slow --exec
 * operator): keep the lease alive (lease.h ds_lease_poll).
 */
void	ds_inst_poll(void *ti);
/* Exit 75 unless the lease is valid (always valid without --master). */
void	ds_inst_valid(struct ds_inst *);
/*
 * Retain the whole BUNDLE frames in (p, len) for the consumers (seqs
 * read from the frames) and wake parked pulls once this loop round's
 * callbacks are over (one reply carries all the round's output).
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
struct ds_mark_pos *ds_inst_frontier(struct ds_inst *,
	    const struct ds_bundle *cur, size_t *n);
/* Ack upstream everything up to a frontier from ds_inst_frontier. */
void	ds_inst_ack(struct ds_inst *, const struct ds_mark_pos *, size_t n);
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
	    void *arg, struct ds_mark *);
/* Write what is queued (74 on failure); checks the lease first. */
void	ds_inst_slog_flush(struct ds_inst *, struct ds_slog *);

/*
 * Exactly-once (--once exactly or an exactly --pull: ti->exactly; needs
 * --journal).  ds_inst_jrecover, before ds_inst_start: read this
 * instance's recovery from ds-journal (raising its epoch there, so older
 * epochs are fenced): on_delta for every live key, on_timer for every
 * pending timer (NULL: the owner has none), then *r (free with
 * ds_inst_jrec_free).  The pending outputs come back re-stamped with this
 * epoch, for ds_inst_append after ds_inst_listen(r->outfirst or
 * mark.outseq + 1).  Retries an unreachable journal for a keepalive
 * period; dies with 75 (fenced), 69 (unreachable), 65 (a bad record).
 * ds_inst_jopen, after ds_inst_start: the writer.  ds_inst_jwrite: queue
 * one atomic unit of n whole record frames (copied); done(arg, token) is
 * called once it is durable, units in order.  A full journal (DS_J_FULL)
 * keeps the units and writes them again later (ds_inst_full is true
 * meanwhile); a lost answer or a fence exits 75 (the restart recovers),
 * a refused unit 70.
 */
void	ds_inst_jrecover(struct ds_inst *, int (*on_delta)(void *,
	    const void *, size_t, const void *, size_t),
	    int (*on_timer)(void *, const void *, size_t, uint64_t), void *arg,
	    struct ds_inst_jrec *r);
void	ds_inst_jrec_free(struct ds_inst_jrec *);
void	ds_inst_jopen(struct ds_inst *);
void	ds_inst_jwrite(struct ds_inst *, const void *recs, size_t len,
	    uint32_t n, void (*done)(void *, uint64_t), void *arg,
	    uint64_t token);
/* The same, taking the unit's buffer (*recs is left empty). */
void	ds_inst_jwrite_buf(struct ds_inst *, struct ds_buf *recs, uint32_t n,
	    void (*done)(void *, uint64_t), void *arg, uint64_t token);
/* Units not yet durable. */
size_t	ds_inst_jpending(const struct ds_inst *);
/* The lowest ack of our output stream over every consumer. */
uint64_t ds_inst_minack(const struct ds_inst *);

#endif
