/*
 * outq.h: the server side of a node's output in a topology: the streams
 * it serves, retained until every consumer has acked them, answers to
 * PULL requests (msg.h), consumer fencing, and the end of finite streams.
 * Pure bookkeeping over bytes: the owner puts it behind a ds_pull_srv
 * (pull.h) and calls ds_outq_serve from its serve callback.  Never
 * prints, never exits.
 *
 * Streams: one per producer served.  A ds-source or ds-op serves one, its
 * own; a ds-router serves one per upstream producer, passed through with
 * the producer, epoch and seqs unchanged.  The owner appends whole BUNDLE
 * frames to a stream with strictly increasing seqs (first..last); a
 * bundle leaves the stream once every consumer's ack reaches its last
 * seq.  A consumer unknown to the queue gets DS_PULL_UNKNOWN.  Fencing:
 * the highest epoch seen per consumer is kept; a request with a lower one
 * gets DS_PULL_FENCED and counts in fenced.
 *
 * Epochs (ds-wire(5)): a request names, per producer, the producer epoch
 * its from and ack refer to.  They apply as given when that is the
 * stream's epoch now, or when the stream is stable (exactly-once: every
 * tuple was durable before anyone saw it, so each epoch serves the same
 * tuples under the same seqs) and the epoch is an earlier one.  Otherwise
 * from counts as 0 (DS_FROM_NEW stays) and the ack only up to first - 1,
 * the seqs the stream recovered as acknowledged when it started.
 *
 * from: a request's from picks where the answer starts: from in [oldest
 * retained first seq, next seq] serves from there; 0, or a from below the
 * oldest retained or above the next seq, serves from the oldest retained
 * -- except DS_FROM_NEW, which skips everything retained now (at most
 * once after a restart) and counts the skipped tuples in skipped.
 *
 * Partitions: by default every consumer gets every stream whole.  After
 * ds_outq_part, each consumer of a group gets only the tuples the group's
 * distribution sends it (core/part.h): every appended bundle is split into
 * one sub-bundle per consumer of the group, with the producer, epoch and
 * seqs unchanged, and a reply's scanned covers the seqs meant for others.
 * The whole bundle is kept only while some consumer takes whole streams.
 */
#ifndef DS_OUTQ_H
#define DS_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/msg.h"
#include "core/part.h"
#include "core/tuple.h"

#define DS_FROM_NEW	UINT64_MAX

struct ds_outq_item;			/* one retained bundle */
struct ds_outq_piece;			/* its bytes for one consumer view */

/* One producer's stream. */
struct ds_outq_stream {
	uint64_t		 producer;
	uint32_t		 epoch;
	int			 stable;	/* seqs stable across epochs */
	uint64_t		 first;		/* first seq of this epoch */
	uint64_t		 next;		/* every seq below is in */
	int			 ended;		/* ends at next - 1 */
	int			 stopped;	/* ... for now: an orderly stop */
	struct ds_outq_item	*head, *tail;
	size_t			 bytes;		/* retained frame bytes */
	uint64_t		 tuples;	/* retained tuples */
};

/* What the queue knows of one consumer about one stream. */
struct ds_outq_cs {
	uint64_t	 ack;		/* highest ack, in the stream's epoch */
	int		 told_end;	/* was sent a reply with ENDED */
};

struct ds_outq_cons {
	uint64_t		 id;
	uint32_t		 epoch;		/* highest seen */
	size_t			 piece;		/* 0: whole streams, else a part */
	size_t			 rr;		/* stream to serve first */
	struct ds_outq_cs	*cs;		/* one per stream */
};

struct ds_outq_group {
	enum ds_dist	 dist;
	size_t		 n;		/* consumers, part k for the k-th */
	size_t		 base;		/* piece of part 0 */
};

struct ds_outq {
	struct ds_outq_stream	*st;		/* sorted by producer */
	size_t			 nst;
	struct ds_outq_cons	*cons;
	size_t			 ncons;
	size_t			 bytes;		/* over every stream */
	uint64_t		 tuples;
	uint64_t		 fenced, skipped;
	struct ds_outq_group	*group;
	size_t			 ngroup;
	size_t			 npiece;	/* 1 + every group's n */
	int			 started;	/* something was appended */
	/* Scratch, reused: a request's from per stream, the reply's
	 * positions and pieces; splitting. */
	uint64_t		*from;
	struct ds_pos		*pos;
	const struct ds_outq_piece **pick;
	size_t			 npick, pickcap;
	struct ds_bundle	 dec;
	struct ds_buf		 enc;
	uint32_t		*tgt;
	size_t			 tgtcap;
	size_t			*need;		/* partcap each */
	struct ds_bundle_writer	*w;
	struct ds_buf		*wb;
	size_t			 partcap;	/* the largest group's n */
};

/* An empty queue for the consumers ids[0..n).  0, or -1 with ENOMEM. */
int	ds_outq_init(struct ds_outq *, const uint64_t *consumers, size_t n);
void	ds_outq_term(struct ds_outq *);
/*
 * Serve producer's stream, epoch epoch, whose first bundle will start at
 * seq first (after a recovery: the recovered output seq + 1; else 1);
 * stable: see the epochs above.  Before the first append.  0, or -1 with
 * EINVAL (a stream of that producer exists) or ENOMEM.
 */
int	ds_outq_add(struct ds_outq *, uint64_t producer, uint32_t epoch,
	    uint64_t first, int stable);
/* The stream of producer, or NULL. */
struct ds_outq_stream *ds_outq_stream(struct ds_outq *, uint64_t producer);
/* Consumer id's view, or NULL: not a consumer. */
struct ds_outq_cons *ds_outq_consumer(struct ds_outq *, uint64_t id);
/*
 * Partition: consumer ids[k] (one of the queue's consumers, in no other
 * group) gets only the tuples dist (hash, range or shuffle) sends to part
 * k of n.  Before the first append.  0, or -1 with EINVAL or ENOMEM.
 */
int	ds_outq_part(struct ds_outq *, enum ds_dist, const uint64_t *ids,
	    size_t n);
/*
 * Retain one BUNDLE frame of s (copied, or split for the groups) holding
 * seqs first..last.  0, or -1 with EINVAL (seqs out of order, after the
 * end, or a frame that does not decode when it must be split) or ENOMEM.
 */
int	ds_outq_append(struct ds_outq *, struct ds_outq_stream *s,
	    const void *frame, size_t len, uint64_t first, uint64_t last);
/* The same from a decoded bundle of s's producer (encoded here). */
int	ds_outq_append_bundle(struct ds_outq *, struct ds_outq_stream *s,
	    const struct ds_bundle *);
/*
 * Every seq of s up to upto is in (appended, or has no tuple for any
 * consumer): replies may say so.  Never moves backwards.
 */
void	ds_outq_skip(struct ds_outq *, struct ds_outq_stream *s,
	    uint64_t upto);
/*
 * s's producer restarted with epoch (newer than s's).  restart: its seqs
 * start over (at least once: they may stand for other tuples now), so
 * everything retained of s is dropped, the consumers' acks of s are
 * forgotten and the stream starts again at seq 1; otherwise (at most
 * once, exactly once) only the epoch changes.
 */
void	ds_outq_epoch(struct ds_outq *, struct ds_outq_stream *s,
	    uint32_t epoch, int restart);
/* No more appends to s: it ends at next - 1. */
void	ds_outq_end(struct ds_outq *, struct ds_outq_stream *s);
/*
 * The stream stops here for an orderly stop of the job (on): it ends at
 * next - 1 as far as consumers can tell (DS_PROD_STOPPED), and goes on
 * there in the next run; off: it goes on now (its producer restarted).
 */
void	ds_outq_stop(struct ds_outq *, struct ds_outq_stream *s, int on);
/*
 * Answer a decoded PULL: append a REPLY frame (a position for every
 * stream) and up to max_tuples / max_bytes worth of whole bundles (at
 * least one if any is ready), streams taken in turn, to reply.  Returns 1
 * when answered, 0 when there is nothing to send and the request may be
 * parked (never when final is set, then an empty reply is made; nor when
 * its acks just completed the consumer's part of ended streams, which is
 * answered at once), -1 on ENOMEM.  Applies the request's acks first.
 */
int	ds_outq_serve(struct ds_outq *, const struct ds_pull_msg *, int final,
	    struct ds_buf *reply);
/*
 * The same, but the bundles are not copied into reply: ref(arg, frame,
 * len) is called for each, in order (they belong after the REPLY frame
 * in reply; the frames stay valid until the queue is next changed).  ref
 * returns 0 or -1 (ENOMEM).
 */
int	ds_outq_serve_ref(struct ds_outq *, const struct ds_pull_msg *,
	    int final, struct ds_buf *reply,
	    int (*ref)(void *, const void *, size_t), void *arg);
/*
 * Every stream ended, and every consumer acked all of it and was told it
 * ended.
 */
int	ds_outq_done(const struct ds_outq *);
/*
 * The lowest ack of s over all consumers, at most next - 1 (with no
 * consumers: next - 1): what the owner may forget upstream.
 */
uint64_t ds_outq_minack(const struct ds_outq *, const struct ds_outq_stream *);
/*
 * The request acks some stream less than all of it (its next - 1): its
 * consumer has more to ack once it took what came before (for waits).
 */
int	ds_outq_lagging(const struct ds_outq *, const struct ds_pull_msg *);

#endif
