/*
 * ds-jctl: a test and debugging client of ds-journal (never installed).
 *
 *	ds-jctl write ADDR WRITER EPOCH RECORD...	one atomic JWRITE
 *	ds-jctl group ADDR WRITER EPOCH N BYTES		N JWRITEs, one message
 *	ds-jctl read ADDR WRITER EPOCH [MAXBYTES]	print the recovery
 *	ds-jctl stat ADDR				print JSTAT counters
 *	ds-jctl raw ADDR				send stdin as the message
 *
 * RECORD: set:KEY=VAL del:KEY mark:N[:OUTSEQ[:AUX]] acked:N
 * timer:KEY=WHEN cancel:KEY out:TEXT (a BUNDLE frame whose payload is
 * TEXT; ds-journal does not look inside bundles).  write prints the JACK
 * ("OK epoch=E", "FENCED epoch=E", "FULL", "BAD") and exits 0 for OK, 1
 * otherwise; group sends N units in one message (unit i: set:kI=VAL
 * with BYTES bytes of VAL, mark:I) and prints each JACK the same way,
 * exiting 0 if every one is OK; read prints one line per record ("set
 * KEY VAL", "timer KEY WHEN", "mark N outseq=O aux=A", "acked N", "out
 * TEXT") and exits 1 if fenced.  No answer: exit 69.  Bad usage: 64.
 * The job key is the file $DS_KEY_FILE (a job's RUN/key), else the
 * per-user key; the wait for an answer $DS_CALL_TIMEOUT seconds
 * (default 10).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ds.h"
#include "net/jclient.h"
#include "core/msg.h"
#include "net/pull.h"
#include "store/slog.h"

#define TIMEOUT	10.0

static double
timeout(void)
{
	const char *t = getenv("DS_CALL_TIMEOUT");

	return t != NULL && atof(t) > 0 ? atof(t) : TIMEOUT;
}

static const char *names[] = { "OK", "FENCED", "FULL", "BAD" };

static void
usage(void)
{
	fprintf(stderr, "usage: ds-jctl write ADDR WRITER EPOCH RECORD...\n"
	    "       ds-jctl group ADDR WRITER EPOCH N BYTES\n"
	    "       ds-jctl read ADDR WRITER EPOCH [MAXBYTES]\n"
	    "       ds-jctl stat ADDR\n       ds-jctl raw ADDR\n");
	exit(DS_EX_USAGE);
}

static uint64_t
num(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		usage();
	return v;
}

static void
add_delta(struct ds_buf *b, const char *k, size_t kl, const char *v)
{
	struct ds_buf p = DS_BUF_INIT;
	unsigned char h[4];
	size_t vl = v != NULL ? strlen(v) : 0;

	ds_put_le32(h, (uint32_t)kl);
	ds_buf_add(&p, h, 4);
	ds_buf_add(&p, k, kl);
	ds_put_le32(h, v != NULL ? (uint32_t)vl : 0xffffffffu);
	ds_buf_add(&p, h, 4);
	if (v != NULL)
		ds_buf_add(&p, v, vl);
	if (ds_frame_append(b, DS_FRAME_DELTA, 0, p.p, p.len) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	ds_buf_free(&p);
}

static void
add_record(struct ds_buf *b, char *r)
{
	unsigned char p[28];
	char *eq, *c1, *c2;

	if (strncmp(r, "set:", 4) == 0 && (eq = strchr(r + 4, '=')) != NULL)
		add_delta(b, r + 4, (size_t)(eq - r - 4), eq + 1);
	else if (strncmp(r, "del:", 4) == 0)
		add_delta(b, r + 4, strlen(r + 4), NULL);
	else if (strncmp(r, "mark:", 5) == 0) {
		memset(p, 0, sizeof(p));
		if ((c1 = strchr(r + 5, ':')) != NULL) {
			*c1++ = '\0';
			if ((c2 = strchr(c1, ':')) != NULL) {
				*c2++ = '\0';
				ds_put_le64(p + 16, num(c2));
			}
			ds_put_le64(p + 8, num(c1));
		}
		ds_put_le64(p, num(r + 5));
		ds_frame_append(b, DS_FRAME_MARK, 0, p, 28);
	} else if (strncmp(r, "acked:", 6) == 0) {
		ds_put_le64(p, num(r + 6));
		ds_frame_append(b, DS_FRAME_ACKED, 0, p, 8);
	} else if (strncmp(r, "timer:", 6) == 0 &&
	    (eq = strchr(r + 6, '=')) != NULL)
		ds_rec_put_timer(b, r + 6, (size_t)(eq - r - 6), num(eq + 1));
	else if (strncmp(r, "cancel:", 7) == 0)
		ds_rec_put_timer(b, r + 7, strlen(r + 7), DS_REC_CANCEL);
	else if (strncmp(r, "out:", 4) == 0)
		ds_frame_append(b, DS_FRAME_BUNDLE, 0, r + 4, strlen(r + 4));
	else
		usage();
}

static void
call(const char *addr, struct ds_buf *req, struct ds_buf *rep)
{
	if (ds_pull_call(addr, req->p, req->len, rep, timeout()) == -1)
		ds_die(DS_EX_UNAVAILABLE, "no answer from %s: %s", addr,
		    ds_pull_strerror(errno));
}

/* Print each JACK of reply; 0 if every one is OK, else 1. */
static int
print_jacks(const struct ds_buf *rep)
{
	struct ds_jack_msg a;
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	int rc = 0;

	while (ds_msg_next(rep->p, rep->len, &off, &f, &why) == 1) {
		if (f.type != DS_FRAME_JACK || ds_msg_jack_get(&a, f.payload,
		    f.len, &why) == -1 || a.status > 3)
			ds_die(DS_EX_PROTOCOL, "bad reply");
		if (a.status == DS_J_FULL || a.status == DS_J_BAD)
			printf("%s\n", names[a.status]);
		else
			printf("%s epoch=%" PRIu32 "\n", names[a.status],
			    a.epoch);
		rc |= a.status != DS_J_OK;
	}
	if (off == 0)
		ds_die(DS_EX_PROTOCOL, "bad reply");
	return rc;
}

static int
do_write(const char *addr, uint64_t w, uint32_t e, int n, char **recs)
{
	struct ds_buf b = DS_BUF_INIT, req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_jwrite_msg m;
	int i;

	for (i = 0; i < n; i++)
		add_record(&b, recs[i]);
	m.writer = w;
	m.epoch = e;
	m.n = (uint32_t)n;
	m.recs = b.p;
	m.len = b.len;
	if (ds_msg_jwrite_put(&req, &m) == -1)
		ds_diesys(DS_EX_OSERR, "unable to encode");
	call(addr, &req, &rep);
	return print_jacks(&rep);
}

static int
do_group(const char *addr, uint64_t w, uint32_t e, uint64_t n, size_t bytes)
{
	struct ds_buf b = DS_BUF_INIT, req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_jwrite_msg m;
	char *val, rec[64];
	uint64_t i;

	if ((val = malloc(bytes + 1)) == NULL)
		ds_die(DS_EX_OSERR, "out of memory");
	memset(val, 'x', bytes);
	val[bytes] = '\0';
	for (i = 1; i <= n; i++) {
		ds_buf_reset(&b);
		snprintf(rec, sizeof(rec), "k%" PRIu64, i);
		add_delta(&b, rec, strlen(rec), val);
		snprintf(rec, sizeof(rec), "mark:%" PRIu64, i);
		add_record(&b, rec);
		m.writer = w;
		m.epoch = e;
		m.n = 2;
		m.recs = b.p;
		m.len = b.len;
		if (ds_msg_jwrite_put(&req, &m) == -1)
			ds_diesys(DS_EX_OSERR, "unable to encode");
	}
	call(addr, &req, &rep);
	free(val);
	return print_jacks(&rep);
}

static void
print_rec(const struct ds_frame *f)
{
	const unsigned char *p = f->payload;
	uint32_t kl, vl;

	switch (f->type) {
	case DS_FRAME_DELTA:
		kl = ds_get_le32(p);
		vl = ds_get_le32(p + 4 + kl);
		printf("set %.*s %.*s\n", (int)kl, p + 4, (int)vl, p + 8 + kl);
		break;
	case DS_FRAME_TIMER:
		kl = ds_get_le32(p);
		printf("timer %.*s %" PRIu64 "\n", (int)kl, p + 4,
		    ds_get_le64(p + 4 + kl));
		break;
	case DS_FRAME_MARK:
		printf("mark %" PRIu64 " outseq=%" PRIu64 " aux=%" PRIu64 "\n",
		    ds_get_le64(p), ds_get_le64(p + 8), ds_get_le64(p + 16));
		break;
	case DS_FRAME_ACKED:
		printf("acked %" PRIu64 "\n", ds_get_le64(p));
		break;
	case DS_FRAME_BUNDLE:
		printf("out %.*s\n", (int)f->len, p);
		break;
	default:
		printf("type %u len %" PRIu32 "\n", f->type, f->len);
	}
}

static int
do_read(const char *addr, uint64_t w, uint32_t e, uint32_t max)
{
	struct ds_jread r;
	struct ds_frame f;
	int rc;

	if (ds_jread_open(&r, addr, w, e, timeout()) == -1) {
		if (errno == EPERM) {
			printf("FENCED epoch=%" PRIu32 "\n", r.epoch);
			return 1;
		}
		ds_die(DS_EX_UNAVAILABLE, "no recovery from %s: %s", addr,
		    ds_pull_strerror(errno));
	}
	if (max > 0)
		r.max_bytes = max;
	while ((rc = ds_jread_next(&r, &f)) == 1)
		print_rec(&f);
	if (rc == -1)
		ds_die(DS_EX_UNAVAILABLE, "recovery from %s failed: %s", addr,
		    ds_pull_strerror(errno));
	ds_jread_close(&r);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_frame f;
	const char *why;
	unsigned char chunk[65536];
	size_t off = 0;
	ssize_t n;

	ds_progname = "ds-jctl";
	if (argc < 3)
		usage();
	ds_node_setkey(getenv("DS_KEY_FILE"));
	if (strcmp(argv[1], "write") == 0 && argc >= 5)
		return do_write(argv[2], num(argv[3]), (uint32_t)num(argv[4]),
		    argc - 5, argv + 5);
	if (strcmp(argv[1], "group") == 0 && argc == 7)
		return do_group(argv[2], num(argv[3]), (uint32_t)num(argv[4]),
		    num(argv[5]), (size_t)num(argv[6]));
	if (strcmp(argv[1], "read") == 0 && (argc == 5 || argc == 6))
		return do_read(argv[2], num(argv[3]), (uint32_t)num(argv[4]),
		    argc == 6 ? (uint32_t)num(argv[5]) : 0);
	if (strcmp(argv[1], "stat") == 0 && argc == 3) {
		ds_frame_append(&req, DS_FRAME_JSTAT, 0, NULL, 0);
		call(argv[2], &req, &rep);
		if (ds_msg_next(rep.p, rep.len, &off, &f, &why) != 1 ||
		    f.type != DS_FRAME_JSTATR)
			ds_die(DS_EX_PROTOCOL, "bad reply");
		fwrite(f.payload, 1, f.len, stdout);
		return 0;
	}
	if (strcmp(argv[1], "raw") == 0 && argc == 3) {
		while ((n = read(0, chunk, sizeof(chunk))) > 0)
			ds_buf_add(&req, chunk, (size_t)n);
		call(argv[2], &req, &rep);
		while (ds_msg_next(rep.p, rep.len, &off, &f, &why) == 1) {
			if (f.type == DS_FRAME_JACK && f.len == 16)
				printf("%s\n", ds_get_le32(f.payload) <= 3 ?
				    names[ds_get_le32(f.payload)] : "?");
			else
				printf("type %u\n", f.type);
		}
		return 0;
	}
	usage();
	return DS_EX_USAGE;
}
