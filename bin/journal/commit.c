/*
 * commit.c: ds-journal's group commits and checkpoints.  Just before the
 * loop would block (or --sync-every later) everything queued is written
 * and synced at once, and the requests of that generation are woken.  A
 * write that runs out of space undoes the whole generation (the store
 * cuts its segment back and rebuilds memory): its requests are woken as
 * refused, and serve.c answers them FULL.  A checkpoint starts after a
 * sync, when --checkpoint bytes were written since the last one and
 * twice that fits above --min-free.
 */
#include <inttypes.h>
#include <stdint.h>

#include "ds.h"
#include "journald.h"

/* From the checkpoint's thread: wake the loop. */
static void
ckpt_notify(void *arg)
{
	(void)arg;
	ev_async_send(g.loop, &g.ckpt_w);
}

void
journald_ckpt_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (ds_journal_ckpt_finish(g.j) == -1)
		journald_die();
	ds_debug("checkpoint done");
	ds_pull_srv_wake(g.srv);	/* deferred JREADs */
}

static void
maybe_checkpoint(void)
{
	struct ds_journal_stats st;

	ds_journal_stats(g.j, &st);
	if (st.since_ckpt < g.ckpt || ds_journal_ckpt_busy(g.j) ||
	    ds_journal_queued(g.j) > 0)
		return;
	/* The checkpoint writes at most what the journal holds, twice. */
	if (!journald_room(2 * st.since_ckpt)) {
		if (!g.ckpt_warned)
			ds_warn("checkpoint postponed: not enough free space");
		g.ckpt_warned = 1;
		return;
	}
	g.ckpt_warned = 0;
	if (ds_journal_ckpt_start(g.j, ckpt_notify, NULL) == -1)
		journald_die();
	ds_debug("checkpoint started, segment %" PRIu64, st.segment + 1);
}

void
journald_commit(void)
{
	int rc;

	if (ds_journal_queued(g.j) == 0)
		return;
	if (g.lease != NULL && !ds_lease_valid(g.lease))
		return;		/* on_lost will exit */
	if ((rc = ds_journal_sync(g.j)) == -1)
		journald_die();
	if (rc == 1) {
		ds_warn("%s: answering them FULL", ds_journal_error(g.j));
		g.refused = g.gen;
	}
	g.synced = g.gen++;
	ds_pull_srv_wake(g.srv);
	maybe_checkpoint();
}

void
journald_prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)w;
	(void)revents;
	if (g.lease != NULL) {
		ds_lease_count(g.lease, DS_CNT_REFUSED, ds_pull_refused());
		ds_lease_count(g.lease, DS_CNT_FENCED,
		    ds_epochq_refused(g.eq));
	}
	if (ds_journal_queued(g.j) == 0)
		return;
	if (g.sync_every <= 0) {
		journald_commit();
		return;
	}
	if (!ev_is_active(&g.sync_w)) {
		ev_timer_set(&g.sync_w, g.sync_every, 0);
		ev_timer_start(loop, &g.sync_w);
	}
}

void
journald_sync_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	journald_commit();
}
