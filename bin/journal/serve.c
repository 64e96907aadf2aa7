/*
 * serve.c: ds-journal's requests (ds-wire(5)).  A JWRITE is checked and
 * applied to memory at once and answered after the sync that makes it
 * durable; a JREAD raises the writer's epoch and is answered from a
 * snapshot of its recovery stream, one piece per request; JSTAT answers
 * counters.  Only the writers of --writers (else up to --max-writers of
 * them) are served: the others get BAD and are counted, and never reach
 * the store.  Before a JWRITE, free space is checked against --min-free
 * for everything queued and this unit: below it the writer gets FULL and
 * nothing is applied, and so do the later units of its message (a
 * writer's units are made durable in order).  A generation whose sync
 * ran out of space anyway was undone: its OKs become FULL.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "core/msg.h"
#include "journald.h"

struct journald g;

void
journald_nomem(void)
{
	ds_die(DS_EX_OSERR, "out of memory");
}

/* Free bytes for us on DIR's file system (UINT64_MAX if unknown). */
static uint64_t
free_bytes(void)
{
	struct statvfs sv;

	if (statvfs(g.dir, &sv) == -1)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/*
 * Whether need more bytes may be written; warns once per episode.  Once
 * refusing, writes resume only with half of --min-free to spare besides
 * need: without that slack, small units fit between refused big ones and
 * the journal flaps between refusing and accepting (and logging both).
 */
int
journald_room(uint64_t need)
{
	uint64_t fr = free_bytes(), slack = g.full ? g.min_free / 2 : 0;

	if (fr >= g.min_free && fr - g.min_free >= need + slack) {
		if (g.full)
			ds_warn("free space on %s is back above --min-free: "
			    "accepting writes again", g.dir);
		g.full = 0;
		return 1;
	}
	if (!g.full)
		ds_warn("free space on %s is %" PRIu64 " bytes, under "
		    "--min-free %" PRIu64 " + %" PRIu64 ": refusing writes "
		    "(FULL) until space is freed", g.dir, fr, g.min_free, need);
	g.full = 1;
	return 0;
}

static struct snap *
snap_find(uint64_t writer)
{
	size_t i;

	for (i = 0; i < g.nsnaps; i++)
		if (g.snaps[i].writer == writer)
			return &g.snaps[i];
	return NULL;
}

static void
snap_drop(struct snap *s)
{
	ds_buf_free(&s->data);
	*s = g.snaps[--g.nsnaps];
}

/* Bytes [cursor, next) of s: whole frames, at most max (one at least). */
static void
jdata(struct ds_buf *reply, struct snap *s, const struct ds_jread_msg *m,
    uint32_t status)
{
	struct ds_jdata_msg d;
	uint64_t next = m->cursor, max = m->max_bytes ? m->max_bytes :
	    READ_MAX;
	uint32_t fl;

	if (max > READ_MAX)
		max = READ_MAX;
	memset(&d, 0, sizeof(d));
	d.status = status;
	d.writer = m->writer;
	d.epoch = s != NULL ? s->epoch : m->epoch;
	if (s != NULL && status == DS_J_OK) {
		while (next + DS_FRAME_HDR <= s->data.len) {
			fl = DS_FRAME_HDR + ds_get_le32(s->data.p + next + 8);
			if (next > m->cursor && next + fl - m->cursor > max)
				break;
			next += fl;
		}
		d.cursor = m->cursor;
		d.next = next;
		d.total = s->data.len;
	}
	if (ds_msg_jdata_put(reply, &d) == -1 || (next > m->cursor &&
	    ds_buf_add(reply, s->data.p + m->cursor, next - m->cursor) == -1))
		journald_nomem();
	if (s != NULL && next == s->data.len)
		snap_drop(s);
}

static void
jack(struct ds_buf *b, uint32_t status, uint64_t writer, uint32_t epoch)
{
	struct ds_jack_msg a = { status, writer, epoch };

	if (ds_msg_jack_put(b, &a) == -1)
		journald_nomem();
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Whether writer may be served: one of --writers when given, else one in
 * the table or one more while it has room (--max-writers).  Refusals are
 * counted, and logged at the 1st, 2nd, 4th, 8th...: a flood of them
 * cannot flood the log.
 */
static int
writer_ok(uint64_t writer)
{
	struct ds_journal_stats st;

	if (g.wl != NULL) {
		if (bsearch(&writer, g.wl, g.nwl, sizeof(*g.wl), cmp_u64) !=
		    NULL)
			return 1;
	} else {
		ds_journal_stats(g.j, &st);
		if (ds_journal_known(g.j, writer) || st.writers < g.max_writers)
			return 1;
	}
	g.nunknown++;
	if ((g.nunknown & (g.nunknown - 1)) == 0)
		ds_warn("refused a request of writer %" PRIu64 ": %s (%" PRIu64
		    " refused so far)", writer, g.wl != NULL ?
		    "not one of --writers" : "--max-writers reached",
		    g.nunknown);
	return 0;
}

/* Sort --writers for writer_ok. */
void
journald_writers(uint64_t *ids, size_t n)
{
	qsort(ids, n, sizeof(*ids), cmp_u64);
	g.wl = ids;
	g.nwl = n;
}

/*
 * The sync of r's generation ran out of space and was undone: its OKs
 * are FULLs now.  -1 for a JREAD, whose epoch raise was undone too: it
 * gets no answer, and its reader asks again.
 */
static int
refuse(struct rq *r)
{
	struct ds_buf b = DS_BUF_INIT;
	struct ds_jack_msg a;
	struct ds_frame f;
	const char *why;
	size_t off = 0;

	while (ds_msg_next_checked(r->reply.p, r->reply.len, &off, &f, &why)
	    == 1) {
		if (f.type != DS_FRAME_JACK ||
		    ds_msg_jack_get(&a, f.payload, f.len, &why) == -1) {
			ds_buf_free(&b);
			return -1;
		}
		if (a.status == DS_J_OK) {
			a.status = DS_J_FULL;
			g.nfull++;
		}
		if (ds_msg_jack_put(&b, &a) == -1)
			journald_nomem();
	}
	ds_buf_free(&r->reply);
	r->reply = b;
	return 0;
}

void
journald_die(void)
{
	ds_die(ds_journal_code(g.j), "%s", ds_journal_error(g.j));
}

/*
 * Handle a new request: 1 answer now (reply in r->reply), 0 wait for the
 * sync of r->gen.
 */
static int
handle(struct rq *r, const unsigned char *msg, size_t len)
{
	struct ds_jwrite_msg w;
	struct ds_jread_msg rd;
	struct ds_journal_stats st;
	struct ds_frame f;
	struct snap *s;
	const char *why;
	size_t off = 0;
	uint32_t ep;
	int rc, queued = 0, full = 0;
	char txt[1024];

	while ((rc = ds_msg_next(msg, len, &off, &f, &why)) == 1) {
		if ((f.type == DS_FRAME_JREAD || f.type == DS_FRAME_JSTAT) &&
		    (off != len || f.payload != msg + DS_FRAME_HDR)) {
			/* Only alone in their message. */
			jack(&r->reply, DS_J_BAD, 0, 0);
			continue;
		}
		switch (f.type) {
		case DS_FRAME_JWRITE:
			if (ds_msg_jwrite_get(&w, f.payload, f.len, &why)
			    == -1)
				memset(&w, 0, sizeof(w));	/* apply: BAD */
			else if (!writer_ok(w.writer)) {
				jack(&r->reply, DS_J_BAD, w.writer, 0);
				continue;
			} else if (full || !journald_room(ds_journal_queued(g.j)
			    + DS_FRAME_HDR + f.len)) {
				full = 1;
				g.nfull++;
				jack(&r->reply, DS_J_FULL, w.writer, w.epoch);
				continue;
			}
			rc = ds_journal_apply(g.j, f.payload - DS_FRAME_HDR,
			    DS_FRAME_HDR + f.len, &ep);
			if (rc == -1)
				journald_nomem();
			if (rc == DS_J_OK)
				queued = 1;
			jack(&r->reply, (uint32_t)rc, w.writer, ep);
			break;
		case DS_FRAME_JREAD:
			if (ds_msg_jread_get(&rd, f.payload, f.len, &why)
			    == -1 || rd.epoch == 0) {
				jack(&r->reply, DS_J_BAD, 0, 0);
				return 1;
			}
			if (!writer_ok(rd.writer)) {
				jdata(&r->reply, NULL, &rd, DS_J_BAD);
				return 1;
			}
			if (rd.cursor > 0) {
				s = snap_find(rd.writer);
				if (s == NULL || s->epoch != rd.epoch ||
				    rd.cursor > s->data.len)
					jdata(&r->reply, NULL, &rd, DS_J_BAD);
				else
					jdata(&r->reply, s, &rd, DS_J_OK);
				return 1;
			}
			if (ds_journal_ckpt_busy(g.j)) {
				r->deferred = 1;	/* state.tch is busy */
				return 0;
			}
			if ((rc = ds_journal_raise(g.j, rd.writer, rd.epoch,
			    &ep)) == -1)
				journald_nomem();
			if (rc == DS_J_FENCED) {
				rd.epoch = ep;
				jdata(&r->reply, NULL, &rd, DS_J_FENCED);
				return 1;
			}
			if ((s = snap_find(rd.writer)) == NULL) {
				if ((g.snaps = realloc(g.snaps, (g.nsnaps + 1) *
				    sizeof(*g.snaps))) == NULL)
					journald_nomem();
				s = &g.snaps[g.nsnaps++];
				memset(s, 0, sizeof(*s));
			}
			s->writer = rd.writer;
			s->epoch = rd.epoch;
			if (ds_journal_recovery(g.j, rd.writer, &s->data) == -1)
				journald_die();
			jdata(&r->reply, s, &rd, DS_J_OK);
			queued = 1;
			break;
		case DS_FRAME_JSTAT:
			ds_journal_stats(g.j, &st);
			snprintf(txt, sizeof(txt),
			    "writes %" PRIu64 "\nrecords %" PRIu64 "\n"
			    "bytes %" PRIu64 "\nsyncs %" PRIu64 "\n"
			    "sync_us %" PRIu64 "\nsync_avg_us %" PRIu64 "\n"
			    "sync_max_us %" PRIu64 "\n"
			    "fenced %" PRIu64 "\nfull %" PRIu64 "\n"
			    "bad %" PRIu64 "\ncheckpoints %" PRIu64 "\n"
			    "writers %" PRIu64 "\nsegment %" PRIu64 "\n"
			    "since_checkpoint %" PRIu64 "\ntorn %" PRIu64 "\n"
			    "free %" PRIu64 "\nrefusing %d\n"
			    "refused %" PRIu64 "\nunknown %" PRIu64 "\n",
			    st.writes, st.records, st.bytes, st.syncs,
			    st.sync_ns / 1000,
			    st.syncs ? st.sync_ns / st.syncs / 1000 : 0,
			    st.sync_max_ns / 1000, st.fenced, g.nfull, st.bad,
			    st.checkpoints, st.writers, st.segment,
			    st.since_ckpt, st.torn, free_bytes(), g.full,
			    ds_pull_refused(), g.nunknown);
			if (ds_msg_text_put(&r->reply, DS_FRAME_JSTATR, txt,
			    strlen(txt)) == -1)
				journald_nomem();
			return 1;
		default:
			/* Not ours; earlier units may still await their sync. */
			jack(&r->reply, DS_J_BAD, 0, 0);
			break;
		}
	}
	if (rc == -1 && r->reply.len == 0)
		jack(&r->reply, DS_J_BAD, 0, 0);
	r->gen = g.gen;
	return !queued;
}

void
journald_wake(void *arg)
{
	(void)arg;
	if (g.srv != NULL)
		ds_pull_srv_wake(g.srv);
}

/*
 * A writer epoch above the journal's, in a JWRITE or JREAD, is believed
 * once the master confirms it (ds-wire(5)): 1 handle, 0 park until it
 * answers, -1 drop unanswered (not confirmed, counted; or no answer).
 */
static int
believe(struct rq *r, const struct ds_pull_req *req)
{
	struct ds_frame f;
	const char *why;
	size_t off = 0;
	uint64_t writer;
	uint32_t epoch;
	int rc;

	while (ds_msg_next(req->msg, req->len, &off, &f, &why) == 1) {
		if ((f.type != DS_FRAME_JWRITE && f.type != DS_FRAME_JREAD) ||
		    f.len < 12)
			continue;	/* handle answers BAD */
		writer = ds_get_le64(f.payload);
		epoch = ds_get_le32(f.payload + 8);
		if (epoch <= ds_journal_epoch(g.j, writer))
			continue;
		rc = ds_epochq_check(g.eq, writer, epoch, &r->ticket);
		if (rc == 0 && !req->final)
			return 0;
		if (rc == -1)
			ds_warn("ignored a request of writer %" PRIu64 " epoch "
			    "%" PRIu32 ": the master does not run that epoch",
			    writer, epoch);
		if (rc != 1)
			return -1;
	}
	return 1;
}

static int
serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct rq *r = req->user;
	int rc;

	(void)arg;
	if (r == NULL) {
		if (g.lease != NULL && !ds_lease_valid(g.lease))
			return -1;
		if ((r = calloc(1, sizeof(*r))) == NULL)
			journald_nomem();
		req->user = r;
		r->fresh = 1;
	}
	if (r->fresh) {
		if (g.eq != NULL && (rc = believe(r, req)) != 1)
			return rc;
		r->fresh = 0;
		if (handle(r, req->msg, req->len) == 0)
			return r->deferred && req->final ? -1 : 0;
	} else if (r->deferred) {
		if (ds_journal_ckpt_busy(g.j))
			return req->final ? -1 : 0;
		r->deferred = 0;
		ds_buf_reset(&r->reply);
		if (handle(r, req->msg, req->len) == 0)
			return req->final ? -1 : 0;
	} else if (r->gen > g.synced)
		return req->final ? -1 : 0;
	else if (r->gen == g.refused && refuse(r) == -1)
		return -1;
	if (ds_buf_add(reply, r->reply.p, r->reply.len) == -1)
		journald_nomem();
	return 1;
}

static void
forget(void *arg, struct ds_pull_req *req)
{
	struct rq *r = req->user;

	(void)arg;
	if (r != NULL) {
		ds_buf_free(&r->reply);
		free(r);
	}
}

static double
wait_of(void *arg, struct ds_pull_req *req)
{
	(void)arg;
	(void)req;
	return PARK_S;
}

const struct ds_pull_srv_ops journald_ops = { serve, forget, wait_of };
