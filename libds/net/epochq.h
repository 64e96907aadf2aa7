/*
 * epochq.h: a higher epoch is believed only once ds-master says so
 * (ds-wire(5), Fencing).  A server that keeps the highest epoch seen per
 * peer (outq.c's consumers, ds-journal's writers) asks here before it
 * raises one: the master is asked ("epoch ID", a CTL command) through a
 * client of its own, one question at a time, and the highest epoch it
 * confirmed per id is kept, so each new epoch costs one question.  The
 * owner parks the request meanwhile and is told (on_answer) when an
 * answer came, to offer its parked requests again.  Never prints, never
 * exits.
 */
#ifndef DS_EPOCHQ_H
#define DS_EPOCHQ_H

#include <stdint.h>

#include <ev.h>

/*
 * Seconds a request that asks should be held at least (an answer may
 * take up to DS_EPOCHQ_ASK; one that comes later still serves the retry).
 */
#define DS_EPOCHQ_WAIT	0.5
#define DS_EPOCHQ_ASK	2.0

struct ds_epochq;

/*
 * Ask the master at master_addr; on_answer(arg) is called after each
 * answer (or timeout).  NULL with errno on failure.
 */
struct ds_epochq *ds_epochq_open(struct ev_loop *, const char *master_addr,
	    void (*on_answer)(void *), void *arg);
/*
 * May id's epoch be believed?  1: yes (at most what the master
 * confirmed); 0: not known yet, a question is out: park the request and
 * call again after on_answer (epoch 1, every process's first, is
 * believed at once: it fences only an epoch 0 no process has); -1: no
 * (an answer that came after the
 * request was parked did not confirm it; counted in refused).  *ticket
 * is the request's own, 0 at first, and 0 again after 1 or -1.  Never
 * fails: out of memory answers -1.
 */
int	ds_epochq_check(struct ds_epochq *, uint64_t id, uint32_t epoch,
	    uint64_t *ticket);
/* Requests refused so far as naming an epoch the master did not run. */
uint64_t ds_epochq_refused(const struct ds_epochq *);
/* NULL is harmless. */
void	ds_epochq_close(struct ds_epochq *);

#endif
