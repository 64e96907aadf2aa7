/*
 * msg.h: the control and transport messages of topologies (ds-wire(5)).
 * A message is one or more frames (frame.h) sent as one nanomsg message.
 * Pure encoding and decoding: no I/O, never prints.
 *
 * PULL (consumer -> server), flag DS_PULL_EPOCHS:
 *	consumer:u64 epoch:u32 max_tuples:u32 max_bytes:u32 wait_ms:u32
 *	n:u32, then n times: producer:u64 from:u64 ack:u64,
 *	then (with DS_PULL_EPOCHS) n times: epoch:u32
 *   consumer is the puller's id (an instance's producer id, or a router's
 *   id), epoch its epoch (stale epochs are fenced).  For each producer
 *   behind the server: from = the first seq wanted (0: from the oldest
 *   retained), ack = every tuple of that producer with seq <= ack meant for
 *   this consumer has been durably processed (0: none), and the
 *   producer's epoch whose seqs from and ack name (0: none known).  A
 *   server applies them only to that epoch of its stream (net/outq.h).  A
 *   PULL without the flag has epoch 0 everywhere; ds_msg_pull_put always
 *   sets it.  A producer absent from the vector has from = 0 and ack = 0.
 *
 * REPLY (server -> consumer), then zero or more BUNDLE frames in the same
 * message, in seq order per producer:
 *	status:u32 server:u64 epoch:u32 n:u32, then n times:
 *	producer:u64 epoch:u32 flags:u32 scanned:u64 end:u64
 *   status: DS_PULL_OK, DS_PULL_FENCED (the consumer's epoch is older than
 *   one already seen for that consumer id: it must stop), DS_PULL_UNKNOWN
 *   (the server does not serve that consumer id).  server/epoch: the
 *   server's own id and epoch.  Per producer: its current epoch; scanned =
 *   every tuple of the producer with seq <= scanned meant for this
 *   consumer is in this reply or was in an earlier one; flags
 *   DS_PROD_ENDED: the producer's stream is finite and its last seq is end
 *   (0 if it produced nothing); with it DS_PROD_STOPPED: that end is an
 *   orderly stop of the job, not the end of the stream (a rerun goes on
 *   after end).  Servers list every producer they serve.
 *
 * BEAT (instance -> ds-master): heartbeat, lease renewal, progress:
 *	id:u64 epoch:u32 state:u32 pid:u32 n:u32, then n counters u64
 *   state: DS_BEAT_RUNNING, DS_BEAT_DONE (finished, about to exit 0),
 *   DS_BEAT_STOPPED (finished an orderly stop: drained, about to exit 0).
 *   Counters, by index: DS_CNT_IN, DS_CNT_OUT (tuples), DS_CNT_FENCED
 *   (stale-epoch requests or frames refused), DS_CNT_DUP (tuples dropped as
 *   already seen), DS_CNT_RETAINED (tuples held for replay), DS_CNT_BYTES_IN,
 *   DS_CNT_BYTES_OUT, DS_CNT_REFUSED (messages dropped as not
 *   authentic, pull.h), DS_CNT_SEQ (the output seq of the last unit: a
 *   source's line), DS_CNT_AUX (its aux: a source's offset); later
 *   versions may append more.
 * BEATACK (ds-master -> instance):
 *	status:u32 (DS_BEAT_OK, DS_BEAT_FENCED: a newer epoch of this
 *	instance exists, stop now; DS_BEAT_STOP: the job is stopping, stop
 *	now; DS_BEAT_DRAIN: the job stops in order: sources stop reading and
 *	end their output as stopped, the rest finish what reaches them)
 *
 * CTL / CTLREPLY: a command line for ds-master ("status", "stop") and its
 * text answer, each the whole payload (UTF-8, no NUL).
 *
 * ds-journal (ds-journal(1), ds-wire(5)); a request message holds one or
 * more JWRITE frames (one JACK each, in order), or one JREAD, or one JSTAT:
 * JWRITE (writer -> ds-journal): one atomic unit, all or nothing:
 *	writer:u64 epoch:u32 n:u32, then n record frames (DELTA, MARK,
 *	ACKED, TIMER of rec.h, or a whole BUNDLE frame of outputs)
 * JACK (ds-journal -> writer), one per JWRITE:
 *	status:u32 writer:u64 epoch:u32
 *   status DS_J_OK (durable), DS_J_FENCED (epoch older than the writer's
 *   current epoch, which is in epoch), DS_J_FULL (free space low: not
 *   applied, retry later), DS_J_BAD (malformed: not applied).
 * JREAD (writer -> ds-journal): recovery, streamed by cursor:
 *	writer:u64 epoch:u32 max_bytes:u32 cursor:u64
 * JDATA (ds-journal -> writer), then record frames in the same message:
 *	status:u32 writer:u64 epoch:u32 cursor:u64 next:u64 total:u64
 *   The recovery of a writer is one byte stream of frames (DELTA for every
 *   live key, TIMER for every timer, its last MARK, ACKED, then the
 *   pending BUNDLE outputs); this reply carries bytes [cursor, next) of
 *   it, whole frames only; next == total ends it.
 * JSTAT (empty) and JSTATR (text: "name value" lines).
 */
#ifndef DS_MSG_H
#define DS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/frametype.h"

#define DS_J_OK			0
#define DS_J_FENCED		1
#define DS_J_FULL		2
#define DS_J_BAD		3
#define DS_REC_CANCEL	UINT64_MAX
#define DS_J_MAXREC		65536	/* most records in one JWRITE */

#define DS_PULL_OK		0
#define DS_PULL_FENCED		1
#define DS_PULL_UNKNOWN		2

#define DS_BEAT_RUNNING		0
#define DS_BEAT_DONE		1
#define DS_BEAT_STOPPED		2
#define DS_BEAT_OK		0
#define DS_BEAT_FENCED		1
#define DS_BEAT_STOP		2
#define DS_BEAT_DRAIN		3

enum {
	DS_CNT_IN, DS_CNT_OUT, DS_CNT_FENCED, DS_CNT_DUP, DS_CNT_RETAINED,
	DS_CNT_BYTES_IN, DS_CNT_BYTES_OUT, DS_CNT_REFUSED, DS_CNT_SEQ,
	DS_CNT_AUX, DS_CNT_N
};

#define DS_MSG_MAXPROD	4096		/* most producers in one vector */

struct ds_pos {
	uint64_t	 producer;
	uint64_t	 from;		/* PULL */
	uint64_t	 ack;		/* PULL */
	uint32_t	 epoch;		/* PULL (of from, ack), REPLY */
	uint32_t	 flags;		/* REPLY */
	uint64_t	 scanned;	/* REPLY */
	uint64_t	 end;		/* REPLY */
};

struct ds_pull_msg {
	uint64_t	 consumer;
	uint32_t	 epoch;
	uint32_t	 max_tuples;
	uint32_t	 max_bytes;
	uint32_t	 wait_ms;
	uint32_t	 n;
	struct ds_pos	*pos;		/* n entries; owned by the caller */
};

struct ds_reply_msg {
	uint32_t	 status;
	uint64_t	 server;
	uint32_t	 epoch;
	uint32_t	 n;
	struct ds_pos	*pos;
};

struct ds_beat_msg {
	uint64_t	 id;
	uint32_t	 epoch;
	uint32_t	 state;
	uint32_t	 pid;
	uint32_t	 n;
	uint64_t	 cnt[DS_CNT_N];	/* n <= DS_CNT_N are read */
};

struct ds_jwrite_msg {
	uint64_t		 writer;
	uint32_t		 epoch;
	uint32_t		 n;
	const unsigned char	*recs;		/* n frames, borrowed */
	size_t			 len;
};

struct ds_jack_msg {
	uint32_t	 status;
	uint64_t	 writer;
	uint32_t	 epoch;
};

struct ds_jread_msg {
	uint64_t	 writer;
	uint32_t	 epoch;
	uint32_t	 max_bytes;
	uint64_t	 cursor;
};

struct ds_jdata_msg {
	uint32_t	 status;
	uint64_t	 writer;
	uint32_t	 epoch;
	uint64_t	 cursor;
	uint64_t	 next;
	uint64_t	 total;
};

/*
 * ds-journal messages.  jwrite_put copies m->n frames (m->recs, m->len:
 * whole frames) after the fixed part.  jwrite_get checks the fixed part,
 * that exactly n well-formed frames (CRC, no flags) follow, n <=
 * DS_J_MAXREC, and points m->recs into p (borrowed); record bodies are
 * checked by rec.h.
 */
int	ds_msg_jwrite_put(struct ds_buf *, const struct ds_jwrite_msg *);
int	ds_msg_jwrite_get(struct ds_jwrite_msg *, const unsigned char *,
	    size_t, const char **why);
int	ds_msg_jack_put(struct ds_buf *, const struct ds_jack_msg *);
int	ds_msg_jack_get(struct ds_jack_msg *, const unsigned char *, size_t,
	    const char **why);
int	ds_msg_jread_put(struct ds_buf *, const struct ds_jread_msg *);
int	ds_msg_jread_get(struct ds_jread_msg *, const unsigned char *, size_t,
	    const char **why);
int	ds_msg_jdata_put(struct ds_buf *, const struct ds_jdata_msg *);
int	ds_msg_jdata_get(struct ds_jdata_msg *, const unsigned char *, size_t,
	    const char **why);

/* Append a whole PULL / REPLY-header / BEAT / BEATACK / CTL frame to b.
 * 0 or -1. */
int	ds_msg_pull_put(struct ds_buf *, const struct ds_pull_msg *);
int	ds_msg_reply_put(struct ds_buf *, const struct ds_reply_msg *);
int	ds_msg_beat_put(struct ds_buf *, const struct ds_beat_msg *);
int	ds_msg_beatack_put(struct ds_buf *, uint32_t status);
int	ds_msg_text_put(struct ds_buf *, uint16_t type, const char *, size_t);

/*
 * Decoders take a whole frame payload (already CRC-checked by the frame
 * reader) and fill the struct; vectors are malloc'ed into m->pos (free
 * with free(3); NULL when n is 0).  0, or -1 with errno EBADMSG and *why
 * saying what is wrong (short payload, n over DS_MSG_MAXPROD, trailing
 * bytes), or ENOMEM.  pull_get takes the frame's flags too (an undefined
 * one is EBADMSG).
 */
int	ds_msg_pull_get(struct ds_pull_msg *, uint16_t flags,
	    const unsigned char *, size_t, const char **why);
int	ds_msg_reply_get(struct ds_reply_msg *, const unsigned char *, size_t,
	    const char **why);
int	ds_msg_beat_get(struct ds_beat_msg *, const unsigned char *, size_t,
	    const char **why);
int	ds_msg_beatack_get(uint32_t *, const unsigned char *, size_t,
	    const char **why);

/*
 * Walk the frames of one message: 1 and *f set, 0 at the end, -1 with
 * errno EBADMSG/EPROTO/EMSGSIZE and *why (a bad or truncated frame: the
 * whole message must then be ignored).  *off is the cursor, start at 0.
 */
struct ds_frame;
int	ds_msg_next(const unsigned char *msg, size_t len, size_t *off,
	    struct ds_frame *f, const char **why);
/*
 * The same walk over a message that ds_msg_next already accepted whole
 * (every frame up to the end): the CRCs are not computed again.
 */
int	ds_msg_next_checked(const unsigned char *msg, size_t len, size_t *off,
	    struct ds_frame *f, const char **why);

#endif
