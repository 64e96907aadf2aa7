/*
 * notify.h: readiness.  With --notify-fd=N a newline is written to N and N
 * is closed (s6 style); with $NOTIFY_SOCKET a datagram is sent (systemd
 * sd_notify protocol, abstract "@" names too).  Both may be in use.
 */
#ifndef DS_NOTIFY_H
#define DS_NOTIFY_H

#include "node/opt.h"

/* Signal readiness once, with an optional STATUS= text.  0 or -1/errno. */
int	ds_notify_ready(struct ds_common *, const char *status);
/* Send a free-form sd_notify message ("STATUS=...", "STOPPING=1"). */
int	ds_notify_send(const char *);
/* Remove NOTIFY_SOCKET from the environment (before spawning children). */
void	ds_notify_forget(void);

#endif
