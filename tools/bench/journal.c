/*
 * tools/bench/journal: load generator for ds-journal.  W writers (one
 * jclient each, all in one libev loop) each keep K units in flight for S
 * seconds; a unit is R DELTA records of V value bytes and a MARK.  Prints
 * one line: writers, commits/s, records/s, client latency p50/p99 (ms),
 * then the journal's own group-commit figures from JSTAT.
 *
 *	tools/bench/journal ADDR [-w WRITERS] [-k INFLIGHT] [-r RECORDS]
 *	    [-v VALBYTES] [-s SECONDS]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ds.h"
#include "net/jclient.h"
#include "core/msg.h"
#include "net/pull.h"
#include "store/slog.h"

struct wr {
	struct ds_jclient	*c;
	uint64_t		 id;
	uint64_t		 mark;
	uint64_t		 key;
};

static struct wr	*ws;
static int		 nw = 1, inflight = 1, nrec = 1, vbytes = 64;
static double		 secs = 3, t_end;
static uint64_t		 commits, records, lost, nlat, caplat;
static double		*lat;
static struct ev_loop	*loop;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ctx {
	struct wr	*w;
	double		 t0;
};

static void	send_one(struct wr *);

static void
done_cb(void *arg, uint32_t status, uint32_t epoch)
{
	struct ctx *c = arg;
	struct wr *w = c->w;

	(void)epoch;
	if (status == DS_J_OK) {
		commits++;
		records += (uint64_t)nrec + 1;
		if (nlat == caplat) {
			caplat = caplat ? caplat * 2 : 65536;
			if ((lat = realloc(lat, caplat * sizeof(*lat))) == NULL)
				ds_die(DS_EX_OSERR, "out of memory");
		}
		lat[nlat++] = now() - c->t0;
	} else {
		if (lost++ == 0)
			ds_warn("unit refused or lost: status %u", status);
	}
	free(c);
	if (now() < t_end)
		send_one(w);
	else if (ds_jclient_pending(w->c) == 0 && --nw == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
send_one(struct wr *w)
{
	struct ds_buf d = DS_BUF_INIT, recs = DS_BUF_INIT;
	unsigned char h[28];
	struct ctx *c;
	int i;

	/* One DELTA body (key: 8 bytes, value: vbytes zeros), reused. */
	if ((c = malloc(sizeof(*c))) == NULL ||
	    ds_buf_grow(&d, 16 + (size_t)vbytes) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	memset(d.p, 0, 16 + (size_t)vbytes);
	d.len = 16 + (size_t)vbytes;
	ds_put_le32(d.p, 8);
	ds_put_le32(d.p + 12, (uint32_t)vbytes);
	for (i = 0; i < nrec; i++) {
		ds_put_le64(d.p + 4, w->key++ % 100000);
		if (ds_frame_append(&recs, DS_FRAME_DELTA, 0, d.p, d.len) == -1)
			ds_die(DS_EX_OSERR, "out of memory");
	}
	memset(h, 0, sizeof(h));
	ds_put_le64(h, ++w->mark);
	if (ds_frame_append(&recs, DS_FRAME_MARK, 0, h, 28) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	c->w = w;
	c->t0 = now();
	if (ds_jclient_write(w->c, recs.p, recs.len, (uint32_t)nrec + 1,
	    done_cb, c) == -1)
		ds_diesys(DS_EX_OSERR, "unable to queue");
	ds_buf_free(&recs);
	ds_buf_free(&d);
}

/* The journal's counter NAME from a JSTAT, or 0. */
static uint64_t
jstat(const char *addr, const char *name)
{
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_frame f;
	const char *why, *p;
	size_t off = 0, n = strlen(name);
	uint64_t v = 0;

	ds_frame_append(&req, DS_FRAME_JSTAT, 0, NULL, 0);
	if (ds_pull_call(addr, req.p, req.len, &rep, 5.0) == 0 &&
	    ds_msg_next(rep.p, rep.len, &off, &f, &why) == 1) {
		for (p = (const char *)f.payload; p < (const char *)f.payload +
		    f.len; p++)
			if ((p == (const char *)f.payload || p[-1] == '\n') &&
			    strncmp(p, name, n) == 0 && p[n] == ' ') {
				v = strtoull(p + n + 1, NULL, 10);
				break;
			}
	}
	ds_buf_free(&req);
	ds_buf_free(&rep);
	return v;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	const char *addr;
	double t0, el;
	uint64_t s0, w0, u0, s1, w1, u1;
	int i, k, opt, total;

	ds_progname = "bench-journal";
	ds_node_setkey(getenv("DS_KEY_FILE"));
	while ((opt = getopt(argc, argv, "w:k:r:v:s:")) != -1)
		switch (opt) {
		case 'w': nw = atoi(optarg); break;
		case 'k': inflight = atoi(optarg); break;
		case 'r': nrec = atoi(optarg); break;
		case 'v': vbytes = atoi(optarg); break;
		case 's': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: journal ADDR [-w W] [-k K] "
			    "[-r R] [-v V] [-s S]\n");
			return DS_EX_USAGE;
		}
	if (optind + 1 != argc || nw < 1 || inflight < 1 || nrec < 0 ||
	    vbytes < 0)
		return DS_EX_USAGE;
	addr = argv[optind];
	total = nw;
	loop = EV_DEFAULT;
	if ((ws = calloc((size_t)nw, sizeof(*ws))) == NULL)
		return DS_EX_OSERR;
	for (i = 0; i < nw; i++) {
		ws[i].id = 1000 + (uint64_t)i;
		if ((ws[i].c = ds_jclient_open(loop, addr, ws[i].id, 1, 10.0))
		    == NULL)
			ds_diesys(DS_EX_UNAVAILABLE, "unable to connect");
	}
	s0 = jstat(addr, "syncs");
	w0 = jstat(addr, "writes");
	u0 = jstat(addr, "sync_us");
	t0 = now();
	t_end = t0 + secs;
	for (i = 0; i < total; i++)
		for (k = 0; k < inflight; k++)
			send_one(&ws[i]);
	ev_run(loop, 0);
	el = now() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_d);
	printf("writers %d inflight %d records/unit %d value %dB: "
	    "%.0f commits/s %.0f records/s p50 %.3f ms p99 %.3f ms lost %"
	    PRIu64 "\n", total, inflight, nrec + 1, vbytes,
	    (double)commits / el, (double)records / el,
	    nlat ? lat[nlat / 2] * 1e3 : 0, nlat ? lat[nlat * 99 / 100] * 1e3
	    : 0, lost);
	s1 = jstat(addr, "syncs");
	w1 = jstat(addr, "writes");
	u1 = jstat(addr, "sync_us");
	printf("journal: writes %" PRIu64 " syncs %" PRIu64 " (%.1f units "
	    "per sync), write+fdatasync avg %.0f us\n", w1 - w0, s1 - s0,
	    s1 > s0 ? (double)(w1 - w0) / (double)(s1 - s0) : 0.0,
	    s1 > s0 ? (double)(u1 - u0) / (double)(s1 - s0) : 0.0);
	for (i = 0; i < total; i++)
		ds_jclient_close(ws[i].c);
	return 0;
}
