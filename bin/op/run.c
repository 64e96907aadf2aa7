/*
 * run.c: driving the operator, in pipe and topology mode alike: an input
 * bundle, then the timers it made due; a timer from the loop; a failure,
 * which kills the operator program (if any) before ds-op exits, so no
 * output of the failing bundle is written.
 */
#include "op.h"

struct dsop O;

void
op_flush(void)
{
	if (O.run.out.len == 0)
		return;
	if (ds_write_all(1, O.run.out.p, O.run.out.len) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	ds_buf_reset(&O.run.out);
}

void
op_die(void)
{
	if (O.run.exec != NULL)
		ds_exec_term(&O.ex);
	ds_die(O.run.code, "%s", O.run.msg);
}

void
op_log(int level, const char *msg)
{
	ds_log((enum ds_log_level)level, 0, "%s", msg);
}

void
op_arm(struct ev_loop *loop)
{
	uint64_t when, now;

	if (!ds_oprun_next_timer(&O.run, &when)) {
		ev_timer_stop(loop, &O.timer_w);
		return;
	}
	if (ev_is_active(&O.timer_w) && when == O.armed)
		return;
	ev_timer_stop(loop, &O.timer_w);
	ev_now_update(loop);
	now = ds_oprun_now();
	ev_timer_set(&O.timer_w, when > now ? (ev_tstamp)(when - now) / 1e9 :
	    0., 0.);
	ev_timer_start(loop, &O.timer_w);
	O.armed = when;
}

static void
fire_due(void)
{
	if (ds_oprun_fire(&O.run, ds_oprun_now()) == -1)
		op_die();
}

void
op_bundle(const struct ds_bundle *b)
{
	uint64_t when;

	if (ds_oprun_bundle(&O.run, b) == -1)
		op_die();
	if (ds_oprun_next_timer(&O.run, &when) && when <= ds_oprun_now())
		fire_due();
}

void
op_start(const struct ds_common *co)
{
	if (ds_oprun_start_args(&O.run, O.opname, O.opargs) == -1) {
		if (O.run.code == DS_EX_USAGE)
			ds_dieusage(co, "%s", O.run.msg);
		op_die();
	}
}

void
op_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	fire_due();
	if (O.node.cfg.on)
		op_commit(NULL);
	else
		op_flush();
	op_arm(loop);
}
