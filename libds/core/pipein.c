/*
 * pipein.c: frames → bundles with exit-code mapping.  Every bundle is
 * decoded and validated whole before it is handed out.  A stream is whole
 * only once its END has been read and checked against the bundles before
 * it and the input has ended right after it: without the END the writer
 * did not finish (killed, or cut off), and what came is a prefix that a
 * reader must not take for the whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/exit.h"
#include "core/pipein.h"

void
ds_pipein_init(struct ds_pipein *in, const char *name, size_t maxtuple)
{
	memset(in, 0, sizeof(*in));
	ds_frame_reader_init(&in->rd, DS_FRAME_MAX);
	in->name = name;
	in->maxtuple = maxtuple;
}

void
ds_pipein_term(struct ds_pipein *in)
{
	ds_frame_reader_term(&in->rd);
	ds_bundle_free(&in->b);
}

static int
fail(struct ds_pipein *in, int code, uint64_t off, const char *why)
{
	in->code = code;
	snprintf(in->msg, sizeof(in->msg), "%s: bad frame at offset %" PRIu64
	    ": %s", in->name, off, why);
	return -1;
}

static int
nomem(struct ds_pipein *in)
{
	in->code = DS_EX_OSERR;
	snprintf(in->msg, sizeof(in->msg), "out of memory reading %s",
	    in->name);
	return -1;
}

/* The input ended before the END: say where and what had come. */
static int
cut(struct ds_pipein *in, uint64_t off, const char *what)
{
	in->code = DS_EX_DATAERR;
	if (in->seen.count == 0)
		snprintf(in->msg, sizeof(in->msg), "%s: stream cut: %s at "
		    "offset %" PRIu64 ", before any tuple", in->name, what, off);
	else
		snprintf(in->msg, sizeof(in->msg), "%s: stream cut: %s at "
		    "offset %" PRIu64 ", after %" PRIu64 " tuple%s (last seq %"
		    PRIu64 ")", in->name, what, off, in->seen.count,
		    in->seen.count == 1 ? "" : "s", in->seen.last);
	return -1;
}

/*
 * The next whole frame: 1 and *f; 0 at the end of input after the END;
 * DS_PIPEIN_AGAIN; or -1 with code and msg.
 */
static int
next_frame(struct ds_pipein *in, int fd, struct ds_frame *f)
{
	long n;
	int rc;

	for (;;) {
		rc = ds_frame_reader_next(&in->rd, f);
		if (rc == -1) {
			if (errno == ENOMEM)
				return nomem(in);
			return fail(in, errno == EPROTO ? DS_EX_PROTOCOL :
			    DS_EX_DATAERR, in->rd.err_off, in->rd.why);
		}
		if (rc == 1)
			return 1;
		n = ds_frame_reader_fill(&in->rd, fd);
		if (n > 0)
			continue;
		if (n == 0) {
			if (ds_frame_reader_eof(&in->rd) == -1)
				return in->ended ? fail(in, DS_EX_DATAERR,
				    in->rd.err_off, "data after the END frame") :
				    cut(in, in->rd.err_off, in->rd.why);
			if (!in->ended)
				return cut(in, ds_frame_reader_offset(&in->rd),
				    "end of input without an END frame");
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return DS_PIPEIN_AGAIN;
		if (errno == ENOMEM)
			return nomem(in);
		in->code = DS_EX_IOERR;
		snprintf(in->msg, sizeof(in->msg), "unable to read %s: %s",
		    in->name, strerror(errno));
		return -1;
	}
}

/* An END at off disagrees with the bundles: say how. */
static int __attribute__((format(printf, 3, 4)))
bad_end(struct ds_pipein *in, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	in->code = DS_EX_DATAERR;
	n = snprintf(in->msg, sizeof(in->msg), "%s: bad END at offset %"
	    PRIu64 ": ", in->name, off);
	if (n > 0 && (size_t)n < sizeof(in->msg)) {
		va_start(ap, fmt);
		vsnprintf(in->msg + n, sizeof(in->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* An END at off: it must say what the bundles before it held. */
static int
take_end(struct ds_pipein *in, const struct ds_frame *f, uint64_t off)
{
	struct ds_end e;
	const char *why;

	if (ds_end_unpack(&e, f, &why) == -1)
		return fail(in, DS_EX_DATAERR, off, why);
	if (e.count != in->seen.count || e.last != in->seen.last)
		return bad_end(in, off, "it says %" PRIu64 " tuple%s (last "
		    "seq %" PRIu64 "), %" PRIu64 " %s read (last seq %" PRIu64
		    ")", e.count, e.count == 1 ? "" : "s", e.last,
		    in->seen.count, in->seen.count == 1 ? "was" : "were",
		    in->seen.last);
	if (in->mixed)
		return bad_end(in, off, "the bundles before it are of more "
		    "than one producer or epoch");
	if (in->bundles > 0 && (e.producer != in->seen.producer ||
	    e.epoch != in->seen.epoch))
		return bad_end(in, off, "it closes producer %" PRIu64 " epoch %"
		    PRIu32 ", the bundles are of producer %" PRIu64 " epoch %"
		    PRIu32, e.producer, e.epoch, in->seen.producer,
		    in->seen.epoch);
	in->ended = 1;
	return 0;
}

/* A bundle goes out: count it for the END. */
static void
count(struct ds_pipein *in, const struct ds_bundle *b)
{
	if (in->bundles++ == 0) {
		in->seen.producer = b->producer;
		in->seen.epoch = b->epoch;
	} else if (b->producer != in->seen.producer ||
	    b->epoch != in->seen.epoch)
		in->mixed = 1;
	in->seen.count += b->count;
	if (b->count > 0)
		in->seen.last = b->t[b->count - 1].seq;
}

int
ds_pipein_next(struct ds_pipein *in, int fd, struct ds_bundle **bp)
{
	struct ds_frame f;
	uint64_t off;
	const char *why;
	int rc;

	for (;;) {
		off = ds_frame_reader_offset(&in->rd);
		if ((rc = next_frame(in, fd, &f)) != 1)
			return rc;
		if (in->ended)
			return fail(in, DS_EX_DATAERR, off,
			    "frame after the END frame");
		if (f.type == DS_FRAME_END) {
			if (take_end(in, &f, off) == -1)
				return -1;
			continue;
		}
		break;
	}
	if (f.type != DS_FRAME_BUNDLE) {
		snprintf(in->msg, sizeof(in->msg),
		    "%s: bad frame at offset %" PRIu64 ": unknown frame type %u",
		    in->name, off, f.type);
		in->code = DS_EX_DATAERR;
		return -1;
	}
	if (f.flags != 0)
		return fail(in, DS_EX_DATAERR, off, "undefined frame flags set");
	if (ds_bundle_decode(&in->b, f.payload, f.len, in->maxtuple,
	    &why) == -1) {
		if (errno == ENOMEM)
			return nomem(in);
		if (errno == EMSGSIZE) {
			in->code = DS_EX_DATAERR;
			snprintf(in->msg, sizeof(in->msg),
			    "%s: bad frame at offset %" PRIu64 ": %s "
			    "(--max-tuple %zu)", in->name, off, why,
			    in->maxtuple);
			return -1;
		}
		return fail(in, DS_EX_DATAERR, off, why);
	}
	count(in, &in->b);
	*bp = &in->b;
	return 1;
}
