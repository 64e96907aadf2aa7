/*
 * frame.h: the one binary envelope on every pipe, socket and journal
 * record (spec: ds-wire(5)).  A frame is a 16-byte little-endian header
 *
 *	0x00 'D' 'S' version | type:u16 | flags:u16 | length:u32 | crc32c:u32
 *
 * followed by `length` payload bytes; the CRC-32C covers header bytes 0..11
 * and then the payload.  Nothing here allocates except the reader's buffer.
 */
#ifndef DS_FRAME_H
#define DS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/frametype.h"

#define DS_FRAME_HDR		16
#define DS_FRAME_VERSION	1
#define DS_FRAME_MAX		(64u << 20)	/* largest payload anyone accepts */


struct ds_frame {
	uint16_t		 type;
	uint16_t		 flags;
	uint32_t		 len;		/* payload length */
	const unsigned char	*payload;	/* borrowed */
};

/*
 * Check a complete header at p (DS_FRAME_HDR bytes) and fill f (without
 * payload).  Returns 0, or -1 with errno EPROTO (bad magic or version) or
 * EMSGSIZE (length over max); *why names the fault.  The CRC is not
 * checked here: see ds_frame_check.
 */
int	ds_frame_unpack_hdr(const unsigned char *, uint32_t, struct ds_frame *,
	    const char **);
/* Verify the CRC of a header + payload.  0, or -1 with errno EBADMSG. */
int	ds_frame_check(const unsigned char *hdr, const unsigned char *payload,
	    uint32_t len);
/* Write a header for a payload already in place after it. */
void	ds_frame_pack(unsigned char *hdr, uint16_t type, uint16_t flags,
	    const unsigned char *payload, uint32_t len);
/*
 * A frame built in place at the end of b: ds_frame_begin makes room for
 * len payload bytes and returns where the payload goes (NULL: ENOMEM, or
 * EMSGSIZE past DS_FRAME_MAX); once it is filled in, ds_frame_end packs
 * the header and takes the frame into b.
 */
unsigned char	*ds_frame_begin(struct ds_buf *, uint64_t len);
void	ds_frame_end(struct ds_buf *, uint16_t type, uint16_t flags,
	    uint64_t len);
/* Append a whole frame to b.  0, or -1/ENOMEM, or -1/EMSGSIZE. */
int	ds_frame_append(struct ds_buf *, uint16_t type, uint16_t flags,
	    const void *payload, size_t len);

/*
 * Incremental reader: reassembles frames from a byte stream.  Frames
 * returned by ds_frame_reader_next point into the reader's buffer and stay
 * valid until the next fill/feed call.  On error, why and err_off name the
 * fault and the stream offset of the frame that has it.
 */
struct ds_frame_reader {
	struct ds_buf	 buf;
	size_t		 pos;		/* first unconsumed byte in buf */
	uint64_t	 base;		/* stream offset of buf.p[0] */
	uint32_t	 max;		/* largest payload accepted */
	const char	*why;		/* set once an error is found */
	int		 err;		/* its errno */
	uint64_t	 err_off;
};

void	ds_frame_reader_init(struct ds_frame_reader *, uint32_t max);
void	ds_frame_reader_term(struct ds_frame_reader *);
/* read(2) once from fd.  Returns bytes read, 0 at EOF, -1 with errno. */
long	ds_frame_reader_fill(struct ds_frame_reader *, int fd);
/* Append bytes (tests, fuzzers, datagrams).  0 or -1/ENOMEM. */
int	ds_frame_reader_feed(struct ds_frame_reader *, const void *, size_t);
/*
 * Next complete frame: 1 and *f filled; 0 if more bytes are needed; -1
 * with errno EPROTO, EMSGSIZE or EBADMSG and why/err_off set.  After an
 * error the reader is stuck: every later call fails the same way.
 */
int	ds_frame_reader_next(struct ds_frame_reader *, struct ds_frame *);
/* At end of input: 0 if no partial frame is buffered, else -1/EBADMSG. */
int	ds_frame_reader_eof(struct ds_frame_reader *);
/* Stream offset of the next unconsumed byte. */
uint64_t ds_frame_reader_offset(const struct ds_frame_reader *);
/*
 * Whether the next ds_frame_reader_next can answer without more bytes:
 * 1 if a whole frame (by its header's length) is buffered or the reader
 * is stuck on an error, else 0.
 */
int	ds_frame_reader_ready(const struct ds_frame_reader *);

#endif
