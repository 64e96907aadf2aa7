/*
 * control.c: the server side of RUN/master.  Children send BEATs (id,
 * epoch, counters, DONE): a beat of the current epoch renews the lease,
 * any other is fenced, and while the job stops the answer says STOP.
 * `ds-master status` and `stop` send CTL text commands ("status",
 * "stop", "job") and get text back; servers ask "epoch ID" before they
 * believe a higher epoch.  A bad message is dropped with a warning; it
 * never stops the job.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"

static const char *const ist_name[] = {
	"waiting", "starting", "running", "done", "exited"
};

static void
on_beat(const struct ds_frame *f, struct ds_buf *reply)
{
	struct ds_beat_msg b;
	struct inst *in;
	const char *why = "";
	uint32_t ack = DS_BEAT_OK;
	uint32_t i;

	if (ds_msg_beat_get(&b, f->payload, f->len, &why) == -1) {
		ds_warn("control: bad BEAT: %s", why);
		return;
	}
	in = inst_by_id(b.id);
	if (in == NULL) {
		ds_warn("control: BEAT from unknown id %llu pid=%lu: fenced",
		    (unsigned long long)b.id, (unsigned long)b.pid);
		ack = DS_BEAT_FENCED;
	} else if (in->cur == NULL || b.epoch != in->epoch) {
		in->fenced++;
		ds_warn("%s: fenced a beat from epoch %lu pid=%lu "
		    "(current epoch %lu)", in->name, (unsigned long)b.epoch,
		    (unsigned long)b.pid, (unsigned long)in->epoch);
		ack = DS_BEAT_FENCED;
	} else {
		in->last_beat = ev_now(EV_DEFAULT);
		for (i = 0; i < b.n && i < DS_CNT_N; i++)
			in->cnt[i] = b.cnt[i];
		in->state = b.state == DS_BEAT_RUNNING ? I_RUNNING : I_DONE;
		in->stopped = b.state == DS_BEAT_STOPPED;
		if (M.stopping && in != M.jn)
			ack = DS_BEAT_STOP;	/* the journal: stop.c */
		else if (M.draining && in != M.jn)
			ack = DS_BEAT_DRAIN;
	}
	if (ds_msg_beatack_put(reply, ack) == -1)
		nomem();
}

static void
status_text(struct ds_buf *t)
{
	const struct inst *in;
	size_t i, done = 0;
	char line[512];

	for (i = 0; i < M.nin; i++)
		done += M.in[i].state == I_EXITED;
	if (ds_buf_addstr(t, "job ") == -1 ||
	    ds_buf_addstr(t, M.topo.name) == -1 ||
	    ds_buf_addc(t, ' ') == -1 ||
	    ds_buf_addstr(t, M.topo.path) == -1)
		nomem();
	snprintf(line, sizeof(line), " %s once=%s instances=%zu done=%zu "
	    "refused=%llu\n",
	    M.stopping || M.draining ? "stopping" : "running",
	    ds_once_name(M.topo.once), M.nin, done,
	    (unsigned long long)ds_pull_refused());
	if (ds_buf_addstr(t, line) == -1)
		nomem();
	for (i = 0; i < M.nin; i++) {
		in = &M.in[i];
		snprintf(line, sizeof(line), "%s pid=%ld epoch=%lu state=%s "
		    "restarts=%u in=%llu out=%llu fenced=%llu dup=%llu "
		    "refused=%llu\n",
		    in->name, in->cur ? (long)in->cur->pid : 0L,
		    (unsigned long)in->epoch, ist_name[in->state],
		    in->restarts, (unsigned long long)in->cnt[DS_CNT_IN],
		    (unsigned long long)in->cnt[DS_CNT_OUT],
		    (unsigned long long)(in->cnt[DS_CNT_FENCED] + in->fenced),
		    (unsigned long long)in->cnt[DS_CNT_DUP],
		    (unsigned long long)in->cnt[DS_CNT_REFUSED]);
		if (ds_buf_addstr(t, line) == -1)
			nomem();
	}
}

/*
 * "epoch ID": ID's current epoch, 0 for an id not in the topology.  The
 * epoch is bumped (and saved) before a process is spawned, so its first
 * request already finds it here (supervise.c).
 */
static void
epoch_text(struct ds_buf *t, const char *arg, size_t n)
{
	const struct inst *in;
	unsigned long long id;
	char num[32], *end, line[64];

	if (n == 0 || n >= sizeof(num) || arg[0] < '0' || arg[0] > '9') {
		if (ds_buf_addstr(t, "error: epoch ID\n") == -1)
			nomem();
		return;
	}
	memcpy(num, arg, n);
	num[n] = '\0';
	errno = 0;
	id = strtoull(num, &end, 10);
	if (errno != 0 || *end != '\0') {
		if (ds_buf_addstr(t, "error: epoch ID\n") == -1)
			nomem();
		return;
	}
	in = inst_by_id(id);
	snprintf(line, sizeof(line), "%llu %lu\n", id,
	    in != NULL ? (unsigned long)in->epoch : 0UL);
	if (ds_buf_addstr(t, line) == -1)
		nomem();
}

static void
on_ctl(const struct ds_frame *f, struct ds_buf *reply)
{
	struct ds_buf t = DS_BUF_INIT;
	size_t n = f->len;
	const char *cmd = (const char *)f->payload;

	while (n > 0 && (cmd[n - 1] == '\n' || cmd[n - 1] == ' '))
		n--;
	if (n == 6 && memcmp(cmd, "status", 6) == 0)
		status_text(&t);
	else if (n == 3 && memcmp(cmd, "job", 3) == 0) {
		/* For `stop RUNDIR`, which must find STATE/stopped. */
		if (ds_buf_addstr(&t, M.topo.name) == -1 ||
		    ds_buf_addc(&t, '\n') == -1 ||
		    ds_buf_addstr(&t, M.topo.path) == -1 ||
		    ds_buf_addc(&t, '\n') == -1 ||
		    ds_buf_addstr(&t, M.topo.state) == -1 ||
		    ds_buf_addc(&t, '\n') == -1)
			nomem();
	} else if (n > 6 && memcmp(cmd, "epoch ", 6) == 0)
		epoch_text(&t, cmd + 6, n - 6);
	else if (n == 4 && memcmp(cmd, "stop", 4) == 0) {
		if (ds_buf_addstr(&t, M.stopping || M.draining ?
		    "already stopping\n" : "stopping\n") == -1)
			nomem();
		job_drain("stopped by ds-master stop");
	} else if (ds_buf_addstr(&t, "error: unknown command\n") == -1)
		nomem();
	if (ds_msg_text_put(reply, DS_FRAME_CTLREPLY, (const char *)t.p,
	    t.len) == -1)
		nomem();
	ds_buf_free(&t);
}

static int
ctl_serve(void *arg, struct ds_pull_req *rq, struct ds_buf *reply)
{
	struct ds_frame f;
	const char *why = "empty message";
	size_t off = 0;

	(void)arg;
	if (ds_msg_next(rq->msg, rq->len, &off, &f, &why) != 1) {
		ds_warn("control: bad message: %s", why);
		return -1;
	}
	switch (f.type) {
	case DS_FRAME_BEAT:
		on_beat(&f, reply);
		break;
	case DS_FRAME_CTL:
		on_ctl(&f, reply);
		break;
	default:
		ds_warn("control: unexpected frame type %u", f.type);
		return -1;
	}
	return reply->len > 0 ? 1 : -1;
}

/* Control requests are answered at once (no wait_of: wait 0). */
const struct ds_pull_srv_ops ctl_ops = { ctl_serve, NULL, NULL };
