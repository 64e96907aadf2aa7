/*
 * node.c: ds-op as the program of a topology node (node/node.h): input
 * comes from the runtime, and after each bundle, timer and the end what
 * the operator emitted and the keys it changed go back as one unit;
 * recovery gives the state back before the operator starts, and the
 * unit's aux says whether on_end already ran (bit 1: not at an orderly
 * stop, which leaves the end to the rerun).
 */
#include "op.h"

void
op_commit(const struct ds_bundle *cur)
{
	ds_node_commit(&O.node, cur, &O.run.out, O.run.seq, O.ended, 0);
}

static int
load(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
	return ds_oprun_restore(arg, key, klen, val, vlen);
}

static int
load_timer(void *arg, const void *key, size_t klen, uint64_t when)
{
	return ds_oprun_restore_timer(arg, key, klen, when);
}

static int
dirty(void *arg, struct ds_buf *b, int timers, uint32_t *n)
{
	return ds_oprun_dirty(arg, b, timers, n);
}

static int
each(void *arg, size_t *it, const void **key, size_t *klen, const void **val,
    size_t *vlen)
{
	return ds_oprun_each(arg, it, key, klen, val, vlen);
}

/* Recovered: start the operator where the state is, commit its init. */
static void
resume(void *arg, const struct ds_node_resume *res)
{
	(void)arg;
	O.run.producer = O.node.cfg.id;
	O.run.epoch = O.node.cfg.epoch;
	O.run.seq = res->outseq;
	O.ended = res->found && (res->aux & 1);
	if (O.run.maxkeys != 0 && O.run.st.nval > O.run.maxkeys)
		ds_die(DS_EX_SOFTWARE, "the recovered state holds %zu keys, "
		    "over --max-keys %llu", O.run.st.nval,
		    (unsigned long long)O.run.maxkeys);
	if (ds_node_keeps_state(&O.node) && ds_state_track(&O.run.st, 1) == -1)
		ds_node_nomem();
	if (O.command != NULL) {
		if (ds_exec_start(&O.ex, &O.run, O.command, O.node.loop) == -1)
			op_die();
		O.ex.waiting = ds_node_poll;
		O.ex.waiting_arg = &O.node;
		O.ex.endreq = O.exec_end;
	} else
		op_start(O.node.co);
	op_commit(NULL);		/* what init emitted */
	op_arm(O.node.loop);
}

static void
bundle(void *arg, const struct ds_bundle *b)
{
	(void)arg;
	if (O.ended)
		return;		/* on_end ran before a restart */
	op_bundle(b);
	op_commit(b);
	op_arm(O.node.loop);
}

/*
 * Every input ended: at their real end, on_end (once over restarts);
 * at an orderly stop no final answers (but a built-in's with
 * --final=stop), and on_end is still to run on the rerun.  Then the last
 * unit.
 */
static void
ended(void *arg)
{
	enum ds_oprun_why why = ds_node_stopped(&O.node) ? DS_OPRUN_STOP :
	    DS_OPRUN_END;

	(void)arg;
	ev_timer_stop(O.node.loop, &O.timer_w);
	if (!O.ended && ds_oprun_end(&O.run, why) == -1)
		op_die();
	if (why == DS_OPRUN_END)
		O.ended = 1;
	op_commit(NULL);
	ds_node_end(&O.node);
}

const struct ds_node_prog op_prog = {
	load, load_timer, resume, dirty, each, bundle, ended, NULL, NULL
};
