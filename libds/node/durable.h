/*
 * durable.h: how a node makes its units durable (node.h), one backend per
 * way behind this table, as redis's ae hides epoll and select.
 *
 *	slog     at most and at least once: the instance's own state log
 *	         (store/slog.h), or nothing without --state; a unit is
 *	         durable once written, and its frontier is acked upstream
 *	         once downstream acked its outputs.  ds-router uses it with
 *	         no log: it keeps nothing.
 *	journal  exactly once: ds-journal (net/jclient.h); a unit (state,
 *	         outputs, frontier) is durable once the journal synced it,
 *	         and its frontier is acked upstream right then.
 *
 * An upstream-dependent backend would be a third: a unit durable at once,
 * its state written off the critical path once its outputs are acked.
 *
 * open starts recovery: records go to ds_node_load, and
 * ds_node_recovered is called once it is over (from open or later, from
 * the loop), with n->rec and n->res filled in.  write takes the newest
 * unit and its state records (state: nstate DELTA and TIMER frames,
 * borrowed for the call); ds_node_durable is called once per unit, in
 * order, when it is durable (from write or later).  acked: downstream
 * acked every output up to unit u, which is durable.  Backends print
 * and exit like the rest of the node layer.
 */
#ifndef DS_DURABLE_H
#define DS_DURABLE_H

#include <stdint.h>

struct ds_buf;
struct ds_node;
struct ds_unit;

struct ds_durable {
	const char	*name;
	int		 syncs;		/* commits survive a machine crash */
	int		 early;		/* ack upstream when durable */
	int		 timers;	/* units carry timer records */
	void		(*open)(struct ds_node *);
	void		(*write)(struct ds_node *, struct ds_unit *,
			    const struct ds_buf *state, uint32_t nstate);
	void		(*acked)(struct ds_node *, struct ds_unit *);
	void		(*tick)(struct ds_node *);
	int		(*full)(const struct ds_node *);
	void		(*close)(struct ds_node *);
};

extern const struct ds_durable ds_durable_slog;
extern const struct ds_durable ds_durable_journal;

#endif
