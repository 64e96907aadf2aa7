/*
 * outq.h: the server side of one producer's output stream in a topology
 * (ds-source, ds-op): retention of encoded bundles until every consumer
 * has acked them, answers to PULL requests, consumer fencing, and the end
 * of a finite stream.  Pure bookkeeping over bytes: the owner puts it
 * behind a ds_pull_srv (pull.h) and calls ds_outq_serve from its serve
 * callback.  Never prints, never exits.
 *
 * Seqs: the owner appends whole BUNDLE frames whose tuples carry strictly
 * increasing seqs (first..last); bundles never straddle a free point.
 * A consumer's ack frees; the queue frees a bundle once every consumer in
 * the set given at init has ack >= its last seq.  A consumer unknown to
 * the queue gets DS_PULL_UNKNOWN.  Fencing: the highest epoch seen per
 * consumer is kept; a request with a lower one gets DS_PULL_FENCED and
 * counts in fenced.
 *
 * from: a request's from for this producer picks where the answer starts:
 * from in [oldest retained first seq, next seq] serves from there; 0 or a
 * from below the oldest retained serves from the oldest retained; a from
 * above the next seq (the consumer saw seqs of an earlier epoch that this
 * one has not regenerated yet, or DS_FROM_NEW) serves from the oldest
 * retained after a restart (at-least-once replay) -- except DS_FROM_NEW,
 * which skips everything retained now (at-most-once after a restart) and
 * counts the skipped tuples in skipped.
 *
 * Stale positions: a consumer's from and ack name seqs as it last saw
 * this producer, which may be an earlier epoch's; at least once those
 * seqs may stand for other tuples now (a restarted operator regenerates
 * its outputs from replayed input, duplicates included).  So until this
 * queue has answered a consumer (since the consumer's own epoch began),
 * its from counts as 0 (DS_FROM_NEW stays), and an ack is taken only up
 * to what this queue sent it or the recovered prefix below first.  The
 * price is a replay of what was retained after a restart, which the
 * consumer drops or, at least once, takes again.
 *
 * Partitions: by default every consumer gets the whole stream.  After
 * ds_outq_part, each consumer of a group gets only the tuples the group's
 * distribution sends it (part.h): every appended bundle is split into one
 * sub-bundle per consumer of the group, with the producer, epoch and seqs
 * unchanged (what a ds-router would send it), and a reply's scanned
 * covers the seqs meant for others.  The whole bundle is kept only while
 * some consumer takes the whole stream.
 */
#ifndef DS_OUTQ_H
#define DS_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/msg.h"
#include "core/once.h"
#include "core/part.h"
#include "core/tuple.h"

#define DS_FROM_NEW	UINT64_MAX

struct ds_outq_item;			/* one retained bundle */

struct ds_outq_cons {
	uint64_t	 id;
	uint32_t	 epoch;		/* highest seen */
	uint64_t	 ack;		/* highest ack seen */
	int		 told_end;	/* was sent a reply with ENDED */
	uint64_t	 sent;		/* highest scanned sent to it */
	int		 served;	/* answered since its epoch began */
	size_t		 piece;		/* 0: the whole stream, else a part */
};

struct ds_outq_group {
	enum ds_dist	 dist;
	size_t		 n;		/* consumers, part k for the k-th */
	size_t		 base;		/* piece of part 0 */
};

struct ds_outq {
	uint64_t		 producer;
	uint32_t		 epoch;
	struct ds_outq_item	*head, *tail;
	size_t			 bytes;		/* retained frame bytes */
	uint64_t		 tuples;	/* retained tuples */
	uint64_t		 next;		/* next seq to be appended */
	uint64_t		 first;		/* first seq of this epoch's stream */
	int			 ended;
	struct ds_outq_cons	*cons;
	size_t			 ncons;
	uint64_t		 fenced, skipped;
	struct ds_outq_group	*group;
	size_t			 ngroup;
	size_t			 npiece;	/* 1 + every group's n */
	/* Splitting, reused: per tuple its part; per part a writer. */
	struct ds_bundle	 dec;
	uint32_t		*tgt;
	size_t			 tgtcap;
	size_t			*need;		/* partcap each */
	struct ds_bundle_writer	*w;
	struct ds_buf		*wb;
	size_t			 partcap;	/* the largest group's n */
};

/*
 * first: the seq the first bundle appended will start at (after a
 * recovery: the recovered output seq + 1; else 1).
 */
int	ds_outq_init(struct ds_outq *, uint64_t producer, uint32_t epoch,
	    uint64_t first, const uint64_t *consumers, size_t n);
void	ds_outq_term(struct ds_outq *);
/*
 * Partition: consumer ids[k] (one of the queue's consumers, in no other
 * group) gets only the tuples dist (hash, range or shuffle) sends to part
 * k of n.  Before the first append.  0, or -1 with EINVAL or ENOMEM.
 */
int	ds_outq_part(struct ds_outq *, enum ds_dist, const uint64_t *ids,
	    size_t n);
/*
 * Retain one BUNDLE frame (copied, or split for the groups) holding seqs
 * first..last.  0, or -1 with EINVAL (seqs out of order, after the end, or
 * a frame that does not decode when it must be split) or ENOMEM.
 */
int	ds_outq_append(struct ds_outq *, const void *frame, size_t len,
	    uint64_t first, uint64_t last);
/* No more appends: the stream ends at next - 1. */
void	ds_outq_end(struct ds_outq *);
/*
 * Answer a decoded PULL: append a REPLY frame and up to max_tuples /
 * max_bytes worth of whole bundles (at least one bundle if any is ready)
 * to reply.  Returns 1 when answered, 0 when there is nothing to send and
 * the request may be parked (never when final is set, then an empty reply
 * is made; nor when its ack just completed the consumer's part of an
 * ended stream, which is answered at once), -1 on ENOMEM.  Applies the
 * request's ack first.
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
/* Every consumer acked the whole ended stream and was told it ended. */
int	ds_outq_done(const struct ds_outq *);
/* The lowest ack over all consumers (what may be forgotten upstream). */
uint64_t ds_outq_minack(const struct ds_outq *);

#endif
