/*
 * linefmt.c: --format templates (linefmt.h).  A template compiles into
 * steps: literal runs (bytes kept in one buffer) and conversions, each
 * with the widest text it can make, so rendering a tuple grows the output
 * once and never checks room again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/linefmt.h"
#include "core/timefmt.h"

/* One step of a compiled template. */
enum op {
	F_LIT,		/* literal bytes lit[off..off+len) */
	F_KEY,
	F_PAYLOAD,
	F_SEQ,
	F_PRODUCER,
	F_EPOCH,
	F_ID,		/* producer:seq */
	F_TIME,		/* ns */
	F_ISO,		/* ISO 8601 UTC, ns */
	F_TRACE,	/* 16 hex digits or "-" */
	F_LAT		/* now - event time, ns, signed */
};

struct ds_linefmt_step {
	enum op		 op;
	size_t		 off;
	size_t		 len;
};

static int
lit(struct ds_linefmt *f, const char *p, size_t n)
{
	struct ds_linefmt_step *st;

	if (n == 0)
		return 0;
	/* Extend the previous literal rather than start a new step. */
	st = f->n > 0 ? &f->steps[f->n - 1] : NULL;
	if (st == NULL || st->op != F_LIT) {
		st = &f->steps[f->n++];
		st->op = F_LIT;
		st->off = f->lit.len;
		st->len = 0;
	}
	if (ds_buf_add(&f->lit, p, n) == -1)
		return -1;
	st->len += n;
	f->fixed += n;
	return 0;
}

static void
conv(struct ds_linefmt *f, enum op op)
{
	/* Widest text of each conversion (u64: 20 digits, u32: 10). */
	static const size_t width[] = {
		[F_SEQ] = 20, [F_PRODUCER] = 20, [F_EPOCH] = 10,
		[F_ID] = 41, [F_TIME] = 20, [F_ISO] = DS_TIMEFMT_ISO_LEN,
		[F_TRACE] = 16, [F_LAT] = 21
	};

	f->steps[f->n].op = op;
	f->steps[f->n].off = f->steps[f->n].len = 0;
	f->n++;
	if (op == F_KEY)
		f->nkey++;
	else if (op == F_PAYLOAD)
		f->npayload++;
	else
		f->fixed += width[op];
}

static char	msg[64];	/* what bad() says */

static int
bad(struct ds_linefmt *f, const char **why, const char *m)
{
	*why = m;
	ds_linefmt_free(f);
	errno = EINVAL;
	return -1;
}

int
ds_linefmt_compile(struct ds_linefmt *f, const char *s, const char **why)
{
	const char *p;
	char c;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	/* Each byte makes at most one step, plus the final newline. */
	if ((f->steps = calloc(strlen(s) + 1, sizeof(*f->steps))) == NULL)
		return -1;
	for (p = s; *p != '\0' && rc == 0; p++) {
		if (*p == '\\') {
			switch (p[1]) {
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			case '\\': c = '\\'; break;
			case '\0':
				return bad(f, why, "trailing lone '\\'");
			default:
				snprintf(msg, sizeof(msg), "unknown escape "
				    "'\\%c'", p[1]);
				return bad(f, why, msg);
			}
			rc = lit(f, &c, 1);
			p++;
			continue;
		}
		if (*p != '%') {
			rc = lit(f, p, 1);
			continue;
		}
		switch (*++p) {
		case 'k': conv(f, F_KEY); break;
		case 'p': conv(f, F_PAYLOAD); break;
		case 's': conv(f, F_SEQ); break;
		case 'P': conv(f, F_PRODUCER); break;
		case 'e': conv(f, F_EPOCH); break;
		case 'i': conv(f, F_ID); break;
		case 't': conv(f, F_TIME); break;
		case 'T': conv(f, F_ISO); break;
		case 'r': conv(f, F_TRACE); break;
		case 'l': conv(f, F_LAT); break;
		case '%': rc = lit(f, "%", 1); break;
		case '\0':
			return bad(f, why, "trailing lone '%'");
		default:
			snprintf(msg, sizeof(msg), "unknown conversion '%%%c'",
			    *p);
			return bad(f, why, msg);
		}
	}
	if (rc == 0 && lit(f, "\n", 1) == 0)
		return 0;
	ds_linefmt_free(f);
	errno = ENOMEM;
	return -1;
}

void
ds_linefmt_free(struct ds_linefmt *f)
{
	free(f->steps);
	f->steps = NULL;
	ds_buf_free(&f->lit);
}

static char *
put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(p, tmp + i, sizeof(tmp) - i);
	return p + sizeof(tmp) - i;
}

int
ds_linefmt_render(const struct ds_linefmt *f, struct ds_buf *out,
    const struct ds_bundle *b, const struct ds_tuple *t)
{
	static const char hex[] = "0123456789abcdef";
	const struct ds_linefmt_step *st, *end = f->steps + f->n;
	char *p;
	int i;

	if (ds_buf_grow(out, f->fixed + f->nkey * t->keylen +
	    f->npayload * t->paylen) == -1)
		return -1;
	p = (char *)out->p + out->len;
	for (st = f->steps; st < end; st++) {
		switch (st->op) {
		case F_LIT:
			memcpy(p, f->lit.p + st->off, st->len);
			p += st->len;
			break;
		case F_KEY:
			memcpy(p, t->key, t->keylen);
			p += t->keylen;
			break;
		case F_PAYLOAD:
			memcpy(p, t->payload, t->paylen);
			p += t->paylen;
			break;
		case F_SEQ:
			p = put_u64(p, t->seq);
			break;
		case F_PRODUCER:
			p = put_u64(p, b->producer);
			break;
		case F_EPOCH:
			p = put_u64(p, b->epoch);
			break;
		case F_ID:
			p = put_u64(p, b->producer);
			*p++ = ':';
			p = put_u64(p, t->seq);
			break;
		case F_TIME:
			p = put_u64(p, t->time);
			break;
		case F_LAT: {
			uint64_t now = ds_now_ns();

			if (now >= t->time)
				p = put_u64(p, now - t->time);
			else {
				*p++ = '-';
				p = put_u64(p, t->time - now);
			}
			break;
		}
		case F_ISO:
			ds_timefmt_iso(t->time, p);
			p += DS_TIMEFMT_ISO_LEN;
			break;
		case F_TRACE:
			if (!(t->flags & DS_TUPLE_TRACE)) {
				*p++ = '-';
				break;
			}
			for (i = 60; i >= 0; i -= 4)
				*p++ = hex[(t->trace >> i) & 0xf];
			break;
		}
	}
	out->len = (size_t)(p - (char *)out->p);
	return 0;
}
