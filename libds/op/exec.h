/*
 * exec.h: ds-op --exec, an operator program run as a child (/bin/sh -c
 * COMMAND) that speaks the line protocol of ds-op(1), OPERATOR PROTOCOL.
 * Requests are pipelined: up to DS_EXEC_WINDOW tuples with pairwise
 * distinct keys are in flight, so a key's state is never sent while an
 * answer that may change it is pending.  Both pipes are non-blocking and
 * polled together, so neither side can deadlock however much either one
 * writes; a program that reads its input in blocks (mawk) is fed empty
 * padding lines once it is seen waiting for one.  A program that leaves
 * a request unanswered for DS_EXEC_SILENT_MS is named once, through the
 * runtime's log hook: most likely it does not flush its output.  With
 * endreq, the end of input first sends an F request for every key with
 * state.  Failures go to the runtime's code and msg (65, 70, 71, 74,
 * 76); never prints or exits.
 */
#ifndef DS_EXEC_H
#define DS_EXEC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "op/oprun.h"
#include "core/tuple.h"

#define DS_EXEC_WINDOW	256		/* requests in flight */
#define DS_EXEC_SILENT_MS 5000		/* silence that earns a warning */

struct ds_exec_req {
	struct ds_state_rec	*rec;		/* the key's record, pinned */
	uint64_t		 time;		/* event time of the tuple */
	uint64_t		 trace;
	unsigned		 flags;		/* DS_TUPLE_TRACE or 0 */
	int			 kind;		/* 'T' or 'F' */
	uint64_t		 seq;		/* T: the input tuple's seq */
	uint64_t		 num;		/* requests sent so far, 1.. */
};

struct ds_exec {
	struct ds_oprun		*r;		/* borrowed */
	struct ev_loop		*loop;		/* borrowed; the default loop */
	ev_child		 cw;		/* libev reaps; this keeps status */
	pid_t			 pid;		/* -1 once reaped */
	int			 status;	/* wait status once reaped */
	int			 wfd;		/* its stdin; -1 once closed */
	int			 rfd;		/* its stdout; -1 at EOF */
	struct ds_buf		 wbuf;		/* requests, written from wpos */
	size_t			 wpos;
	struct ds_buf		 rbuf;		/* answer bytes not yet parsed */
	size_t			 scan;		/* rbuf bytes known newline-free */
	struct ds_buf		 fld;		/* unescaped fields */
	struct ds_exec_req	 req[DS_EXEC_WINDOW];	/* ring */
	size_t			 head;
	size_t			 nreq;
	int			 partial;	/* head request got E or S */
	int			 fresh;		/* requests sent since the last pad */
	int			 padding;	/* pad every wait (see pump) */
	size_t			 longest;	/* longest T line sent */
	int			 ended;		/* input ended, stdin closed */
	int			 endreq;	/* F requests at the end (set
						 * after ds_exec_start) */
	uint64_t		 nsent;		/* requests queued so far */
	uint64_t		 since;		/* monotonic ms: progress was
						 * last seen, or the first
						 * request sent */
	int			 warned;	/* of a silent program, once */
	uint64_t		 line;		/* answer lines read */
	size_t			 maxline;
	/* Called at least every 100 ms while waiting for the program. */
	void			(*waiting)(void *);
	void			*waiting_arg;
};

/*
 * Start COMMAND with pipes on its stdin and stdout, DS_EXEC_PROTOCOL=1 and
 * no NOTIFY_SOCKET in its environment, in a process group of its own,
 * killed (SIGKILL) when this process dies (Linux; call it from the thread
 * that lives as long as the process).  loop must be the default loop
 * (libev reaps children there).  0 or -1 (71).
 */
int	ds_exec_start(struct ds_exec *, struct ds_oprun *, const char *command,
	    struct ev_loop *loop);
/* Run every tuple of b through the program; returns once all are answered. */
int	ds_exec_bundle(struct ds_exec *, const struct ds_bundle *);
/*
 * The end of input: with endreq an F request for every key with state,
 * in key order, each answered like a T request; then close its stdin,
 * take its last E lines, wait for it: status 0 or 70.
 */
int	ds_exec_end(struct ds_exec *);
/*
 * Kill (SIGKILL: its process group) and reap a program still running;
 * free everything.
 */
void	ds_exec_term(struct ds_exec *);

/* The field escaping of the protocol: \\ \t \n \r.  0 or -1/ENOMEM. */
int	ds_exec_escape(struct ds_buf *, const void *, size_t);
/* Append the unescaped field; -1 with EBADMSG on a bad escape, or ENOMEM. */
int	ds_exec_unescape(struct ds_buf *, const char *, size_t);

#endif
