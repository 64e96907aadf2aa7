/*
 * pipein.c: frames → bundles with exit-code mapping.  Every bundle is
 * decoded and validated whole before it is handed out.
 */
#include <errno.h>
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
	snprintf(in->msg, sizeof(in->msg), "%s: bad frame at offset %llu: %s",
	    in->name, (unsigned long long)off, why);
	return -1;
}

int
ds_pipein_next(struct ds_pipein *in, int fd, struct ds_bundle **bp)
{
	struct ds_frame f;
	uint64_t off;
	const char *why;
	long n;
	int rc;

	for (;;) {
		off = ds_frame_reader_offset(&in->rd);
		rc = ds_frame_reader_next(&in->rd, &f);
		if (rc == -1) {
			if (errno == ENOMEM)
				goto nomem;
			return fail(in, errno == EPROTO ? DS_EX_PROTOCOL :
			    DS_EX_DATAERR, in->rd.err_off, in->rd.why);
		}
		if (rc == 1)
			break;
		n = ds_frame_reader_fill(&in->rd, fd);
		if (n > 0)
			continue;
		if (n == 0) {
			if (ds_frame_reader_eof(&in->rd) == 0)
				return 0;
			return fail(in, DS_EX_DATAERR, in->rd.err_off,
			    in->rd.why);
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return DS_PIPEIN_AGAIN;
		if (errno == ENOMEM)
			goto nomem;
		in->code = DS_EX_IOERR;
		snprintf(in->msg, sizeof(in->msg), "unable to read %s: %s",
		    in->name, strerror(errno));
		return -1;
	}
	if (f.type != DS_FRAME_BUNDLE) {
		snprintf(in->msg, sizeof(in->msg),
		    "%s: bad frame at offset %llu: unknown frame type %u",
		    in->name, (unsigned long long)off, f.type);
		in->code = DS_EX_DATAERR;
		return -1;
	}
	if (f.flags != 0)
		return fail(in, DS_EX_DATAERR, off, "undefined frame flags set");
	if (ds_bundle_decode(&in->b, f.payload, f.len, in->maxtuple,
	    &why) == -1) {
		if (errno == ENOMEM)
			goto nomem;
		if (errno == EMSGSIZE) {
			in->code = DS_EX_DATAERR;
			snprintf(in->msg, sizeof(in->msg),
			    "%s: bad frame at offset %llu: %s (--max-tuple %zu)",
			    in->name, (unsigned long long)off, why,
			    in->maxtuple);
			return -1;
		}
		return fail(in, DS_EX_DATAERR, off, why);
	}
	*bp = &in->b;
	return 1;
nomem:
	in->code = DS_EX_OSERR;
	snprintf(in->msg, sizeof(in->msg), "out of memory reading %s",
	    in->name);
	return -1;
}
