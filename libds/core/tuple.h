/*
 * tuple.h: tuples and bundles, and the END that closes a pipe stream
 * (spec: ds-wire(5), BUNDLE and END frames).
 *
 * A tuple is (producer, seq) id, key, event time in ns since the epoch,
 * payload, and an optional trace id.  A bundle is one frame carrying the
 * tuples of one producer and epoch:
 *
 *	producer:u64 epoch:u32 count:u32, then count times:
 *	tflags:u8 seq:u64 time:u64 [trace:u64 if tflags&1]
 *	keylen:u32 key paylen:u32 payload
 *
 * An END frame is the last frame of a pipe stream whose writer finished:
 *
 *	producer:u64 epoch:u32 count:u64 last:u64
 *
 * the producer and epoch of the stream's bundles, how many tuples they
 * held and the seq of the last one (0: none).  A stream without it was
 * cut.  Decoded tuples borrow their key and payload from the frame they
 * came in.
 */
#ifndef DS_TUPLE_H
#define DS_TUPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/frame.h"

#define DS_BUNDLE_HDR		16
#define DS_TUPLE_FIXED		25	/* tflags + seq + time + 2 lengths */
#define DS_TUPLE_TRACE		0x01	/* tflags: a trace id follows time */
#define DS_TUPLE_FLAGS		0x01	/* every defined tflags bit */
#define DS_TUPLE_MAX		(1u << 20)	/* default --max-tuple */
/* Writers close a bundle once its payload passes this many bytes. */
#define DS_BUNDLE_SOFTMAX	(1u << 20)
#define DS_END_LEN		28	/* END payload */
#define DS_END_FRAME		(DS_FRAME_HDR + DS_END_LEN)

struct ds_tuple {
	uint64_t		 seq;
	uint64_t		 time;		/* event time, ns */
	uint64_t		 trace;		/* valid if flags & DS_TUPLE_TRACE */
	unsigned		 flags;
	const unsigned char	*key;		/* borrowed */
	size_t			 keylen;
	const unsigned char	*payload;	/* borrowed */
	size_t			 paylen;
};

struct ds_bundle {
	uint64_t		 producer;
	uint32_t		 epoch;
	uint32_t		 count;
	struct ds_tuple		*t;		/* owned; count valid entries */
	size_t			 cap;
};
#define DS_BUNDLE_INIT	{ 0, 0, 0, NULL, 0 }

/*
 * Decode and validate a whole BUNDLE payload into b (nothing is applied
 * from a bundle that fails).  Returns 0, or -1 with errno EBADMSG (*why
 * says what is wrong), EMSGSIZE (a tuple's key+payload over maxtuple), or
 * ENOMEM.  b->t entries borrow from p.
 */
int	ds_bundle_decode(struct ds_bundle *, const unsigned char *p, size_t len,
	    size_t maxtuple, const char **why);
void	ds_bundle_free(struct ds_bundle *);

/* Encoded size of one tuple inside a bundle. */
size_t	ds_tuple_size(const struct ds_tuple *);

/*
 * What a whole BUNDLE frame p[0..len) of our own making holds, without
 * decoding it: the frame's length (header included), its tuple count and
 * the seq of its first tuple (0 when empty).  For frames a writer built
 * (not for input: nothing is checked but that the header and the first
 * seq are there).  0, or -1 with EBADMSG.
 */
int	ds_bundle_peek(const void *p, size_t len, size_t *flen, uint32_t *count,
	    uint64_t *first);

/*
 * Bundle writer: appends BUNDLE frames to an output buffer one tuple at a
 * time.  begin reserves the headers, add appends a tuple, end patches the
 * count, length and CRC.  A writer with no tuples writes nothing on end.
 */
struct ds_bundle_writer {
	struct ds_buf	*out;		/* borrowed */
	size_t		 start;		/* offset of the frame header in out */
	uint32_t	 count;
	int		 open;
};

int	ds_bundle_begin(struct ds_bundle_writer *, struct ds_buf *,
	    uint64_t producer, uint32_t epoch);
int	ds_bundle_add(struct ds_bundle_writer *, const struct ds_tuple *);
/* 0, or -1/EMSGSIZE if the bundle grew past DS_FRAME_MAX. */
int	ds_bundle_end(struct ds_bundle_writer *);
/* Bytes of payload in the open bundle. */
size_t	ds_bundle_bytes(const struct ds_bundle_writer *);

/* What an END frame says about the stream it closes. */
struct ds_end {
	uint64_t	 producer;
	uint32_t	 epoch;
	uint64_t	 count;		/* tuples in the stream */
	uint64_t	 last;		/* seq of the last one; 0: none */
};

/* Write a whole END frame, DS_END_FRAME bytes, at p. */
void	ds_end_pack(unsigned char *p, const struct ds_end *);
/*
 * Decode f, a frame of type DS_FRAME_END (its payload already CRC-checked
 * by the frame reader).  0, or -1 with errno EBADMSG and *why (a flag
 * set, a payload that is not DS_END_LEN bytes).
 */
int	ds_end_unpack(struct ds_end *, const struct ds_frame *f,
	    const char **why);

#endif
