/*
 * rec.h: the records of state logs (store/slog.h) and journals
 * (ds-journal(5)), each a frame of its own type (ds-wire(5)):
 *
 *	DELTA  keylen:u32 key vallen:u32 val     (vallen 0xffffffff: deleted)
 *	MARK   mark:u64 outseq:u64 aux:u64 n:u32,
 *	       n times producer:u64 epoch:u32 flags:u32 seq:u64 end:u64
 *	ACKED  mark:u64
 *	TIMER  keylen:u32 key when:u64           (when DS_REC_CANCEL: none)
 *
 * A MARK closes the records before it: the state after them is the state
 * at that mark, with input frontier (producer, epoch, seq) and output seq
 * outseq; aux is the owner's (a source's file offset, a sink's file
 * length).  ACKED says every output up to that mark was acked downstream.
 * This is the only code that knows their layout.  No I/O, never prints.
 */
#ifndef DS_REC_H
#define DS_REC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/frame.h"

#define DS_REC_CANCEL	UINT64_MAX	/* TIMER: the key has no timer */
/* Most positions a MARK can hold. */
#define DS_REC_MARKMAX	((DS_FRAME_MAX - 28) / 32)

/* One producer's place in an input frontier. */
struct ds_mark_pos {
	uint64_t	 producer;
	uint32_t	 epoch;
	uint32_t	 flags;		/* DS_PROD_ENDED */
	uint64_t	 seq;
	uint64_t	 end;
};

struct ds_mark {
	uint64_t		 mark;		/* 1..; 0: none */
	uint64_t		 outseq;
	uint64_t		 aux;
	uint32_t		 n;
	struct ds_mark_pos	*pos;		/* n; see ds_rec_get */
};

/*
 * Append one record frame to b.  0, or -1 with errno ENOMEM or EMSGSIZE
 * (a key or value of 0xffffffff bytes or more, a frame over
 * DS_FRAME_MAX).  put_delta: val NULL means the key was deleted.
 */
int	ds_rec_put_delta(struct ds_buf *, const void *key, size_t keylen,
	    const void *val, size_t vallen);
int	ds_rec_put_mark(struct ds_buf *, const struct ds_mark *);
int	ds_rec_put_acked(struct ds_buf *, uint64_t mark);
int	ds_rec_put_timer(struct ds_buf *, const void *key, size_t keylen,
	    uint64_t when);

/* A decoded record; what its type has is set, all borrowed from f. */
struct ds_rec {
	uint16_t		 type;		/* DS_FRAME_DELTA ... */
	const unsigned char	*key;		/* DELTA, TIMER */
	size_t			 keylen;
	const unsigned char	*val;		/* DELTA; NULL: deleted */
	size_t			 vallen;
	uint64_t		 when;		/* TIMER */
	uint64_t		 acked;		/* ACKED: its mark number */
};

/*
 * Check f's body against its type (a record type, no flags, lengths that
 * add up, a MARK numbered 1 or more with no undefined producer flag).
 * 0, or -1 with errno EBADMSG and *why.
 */
int	ds_rec_check(const struct ds_frame *f, const char **why);
/*
 * Check and decode.  A MARK goes into *m with m->pos allocated (free with
 * ds_mark_free; m may be NULL for the other types).  0, or -1 with errno
 * EBADMSG and *why, or ENOMEM.
 */
int	ds_rec_get(const struct ds_frame *f, struct ds_rec *r,
	    struct ds_mark *m, const char **why);
/*
 * A copy of src into dst, whose pos array is reused when it has room for
 * src->n (dst->pos NULL or a dst of the same n), else reallocated.  0, or
 * -1 with ENOMEM (dst unchanged).
 */
int	ds_mark_copy(struct ds_mark *dst, const struct ds_mark *src);
/* Free m->pos; idempotent. */
void	ds_mark_free(struct ds_mark *);

#endif
