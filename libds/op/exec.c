/*
 * exec.c: the operator program driver.  A bundle is sent as a window of
 * T lines; answers are parsed as they arrive and applied to the oldest
 * request in flight (E emits, S replaces its key's state, D retires it).
 * The program's exit status is taken with waitpid, or from the ev_child
 * watcher when libev's SIGCHLD handler reaped it first.  Any protocol
 * fault kills the program; an early exit is reported with its status.
 * Every wait is bounded by the silence warning's deadline, so that a
 * program that never answers is named even when nothing else would wake
 * ds-op.
 */
#include <sys/ioctl.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "op/exec.h"
#include "core/exit.h"

#define WBUF_HIGH	(1u << 20)	/* unsent request bytes before waiting */
#define RCHUNK		(64u << 10)
#define GRACE_MS	2000		/* for a program that stopped answering */
#define STALL_MS	100		/* silence that may switch padding on */
#define WAIT_SLICE_MS	100		/* most time between waiting() calls */
#define PAD_MIN		4096		/* mawk's input block */
#define SHOWN_KEY	40		/* key bytes a warning shows */

/* Monotonic time in ms, for the silence warning. */
static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
ds_exec_escape(struct ds_buf *b, const void *v, size_t n)
{
	const unsigned char *p = v, *end = p + n;
	unsigned char *q;

	if (ds_buf_grow(b, 2 * n) == -1)
		return -1;
	q = b->p + b->len;
	for (; p < end; p++) {
		switch (*p) {
		case '\\': *q++ = '\\'; *q++ = '\\'; break;
		case '\t': *q++ = '\\'; *q++ = 't'; break;
		case '\n': *q++ = '\\'; *q++ = 'n'; break;
		case '\r': *q++ = '\\'; *q++ = 'r'; break;
		default: *q++ = *p;
		}
	}
	b->len = (size_t)(q - b->p);
	return 0;
}

int
ds_exec_unescape(struct ds_buf *b, const char *p, size_t n)
{
	const char *end = p + n;
	unsigned char *q;

	if (memchr(p, '\\', n) == NULL)
		return ds_buf_add(b, p, n);
	if (ds_buf_grow(b, n) == -1)
		return -1;
	q = b->p + b->len;
	for (; p < end; p++) {
		if (*p != '\\') {
			*q++ = (unsigned char)*p;
			continue;
		}
		if (++p == end) {
			errno = EBADMSG;
			return -1;
		}
		switch (*p) {
		case '\\': *q++ = '\\'; break;
		case 't': *q++ = '\t'; break;
		case 'n': *q++ = '\n'; break;
		case 'r': *q++ = '\r'; break;
		default:
			errno = EBADMSG;
			return -1;
		}
	}
	b->len = (size_t)(q - b->p);
	return 0;
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct ds_exec *x = w->data;

	(void)revents;
	ev_child_stop(loop, w);
	if (w->rpid == x->pid) {
		x->status = w->rstatus;
		x->pid = -1;
	}
}

/* Wait for the program; after grace_ms (0: at once; -1: never) kill it. */
static void
reap(struct ds_exec *x, int grace_ms)
{
	int st, waited = 0;
	pid_t p;

	while (x->pid != -1) {
		p = waitpid(x->pid, &st, grace_ms < 0 ? 0 : WNOHANG);
		if (p == -1 && errno == EINTR)
			continue;
		if (p == x->pid || p == -1) {
			/* ECHILD: libev reaped it and kept the status. */
			x->status = p == x->pid ? st : x->cw.rpid == x->pid ?
			    x->cw.rstatus : 0;
			x->pid = -1;
			break;
		}
		if (waited >= grace_ms) {
			if (kill(-x->pid, SIGKILL) == -1)	/* its group */
				kill(x->pid, SIGKILL);
			grace_ms = -1;
			continue;
		}
		(void)poll(NULL, 0, 10);
		waited += 10;
	}
	ev_child_stop(x->loop, &x->cw);
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int
oserr(struct ds_exec *x, const char *what)
{
	return ds_oprun_fail(x->r, DS_EX_OSERR, "unable to %s: %s", what,
	    strerror(errno));
}

/* A protocol fault in the answer just read: kill the program. */
static int bad(struct ds_exec *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad(struct ds_exec *x, const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ds_oprun_fail(x->r, DS_EX_PROTOCOL, "operator program: line %llu: %s",
	    (unsigned long long)x->line, why);
	close_fd(&x->wfd);
	reap(x, 0);
	return -1;
}

/* The program's output ended with requests unanswered. */
static int
died(struct ds_exec *x)
{
	close_fd(&x->wfd);
	reap(x, GRACE_MS);
	if (WIFSIGNALED(x->status))
		return ds_oprun_fail(x->r, DS_EX_SOFTWARE,
		    "operator program killed by signal %d",
		    WTERMSIG(x->status));
	if (WEXITSTATUS(x->status) != 0)
		return ds_oprun_fail(x->r, DS_EX_SOFTWARE,
		    "operator program exited with status %d",
		    WEXITSTATUS(x->status));
	if (x->partial || x->rbuf.len > 0) {
		x->line++;
		return bad(x, "output ended where D was expected (missing D)");
	}
	return ds_oprun_fail(x->r, DS_EX_SOFTWARE,
	    "operator program exited with status 0 before answering all "
	    "tuples");
}

/* A type field made printable for a message. */
static const char *
shown(const char *p, size_t n, char *buf, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < cap; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			buf[o++] = p[i];
		else
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x",
			    (unsigned char)p[i]);
	}
	buf[o] = '\0';
	return buf;
}

/* One answer line (without its newline). */
static int
answer(struct ds_exec *x, const char *p, size_t len)
{
	struct ds_oprun *r = x->r;
	struct ds_exec_req *q = x->nreq ? &x->req[x->head] : NULL;
	const char *f[3];
	size_t fl[3], n, kl;
	const char *tab, *end = p + len;
	struct ds_tuple t;
	char buf[64];
	int nf = 0, want, type;

	x->line++;
	for (;;) {
		tab = memchr(p, '\t', (size_t)(end - p));
		n = tab ? (size_t)(tab - p) : (size_t)(end - p);
		if (nf < 3) {
			f[nf] = p;
			fl[nf] = n;
		}
		nf++;
		if (tab == NULL)
			break;
		p = tab + 1;
	}
	type = fl[0] == 1 ? f[0][0] : 0;
	if (type != 'E' && type != 'S' && type != 'D')
		return bad(x, fl[0] ? "unknown line type '%s'" : "empty line%s",
		    shown(f[0], fl[0] < 16 ? fl[0] : 16, buf, sizeof(buf)));
	want = type == 'E' ? 3 : type == 'S' ? 2 : 1;
	if (nf != want)
		return bad(x, "%c line has %d field%s, want %d", type, nf,
		    nf == 1 ? "" : "s", want);
	if (q == NULL && !(x->ended && type == 'E'))
		return bad(x, x->ended ? "%c line after the end of input" :
		    "%c line with no tuple pending", type);
	ds_buf_reset(&x->fld);
	switch (type) {
	case 'E':
		if (ds_exec_unescape(&x->fld, f[1], fl[1]) == -1)
			goto esc;
		kl = x->fld.len;
		if (ds_exec_unescape(&x->fld, f[2], fl[2]) == -1)
			goto esc;
		t.key = x->fld.p;
		t.keylen = kl;
		t.payload = x->fld.p + kl;
		t.paylen = x->fld.len - kl;
		t.time = q ? q->time : r->maxtime;
		t.flags = q ? q->flags : 0;
		t.trace = q ? q->trace : 0;
		x->partial = 1;
		return ds_oprun_emit(r, &t);
	case 'S':
		if (ds_exec_unescape(&x->fld, f[1], fl[1]) == -1)
			goto esc;
		x->partial = 1;
		if (x->fld.len > 0)
			return ds_oprun_setstate(r, q->rec, x->fld.p, x->fld.len);
		ds_state_clear(&r->st, q->rec);
		return 0;
	default:
		q->rec->pins--;
		ds_state_release(&r->st, q->rec);
		x->head = (x->head + 1) % DS_EXEC_WINDOW;
		x->nreq--;
		x->partial = 0;
		r->emitted = 0;		/* the next request's output */
		return 0;
	}
esc:
	if (errno == ENOMEM)
		return oserr(x, "allocate memory");
	return bad(x, "bad escape in a field of an %c line", type);
}

/* Parse every complete line in rbuf. */
static int
parse(struct ds_exec *x)
{
	const char *p = (const char *)x->rbuf.p, *nl;
	size_t pos = 0, len = x->rbuf.len;

	while ((nl = memchr(p + x->scan, '\n', len - x->scan)) != NULL) {
		if (answer(x, p + pos, (size_t)(nl - (p + pos))) == -1)
			return -1;
		pos = x->scan = (size_t)(nl - p) + 1;
	}
	ds_buf_consume(&x->rbuf, pos);
	x->scan = x->rbuf.len;
	if (x->rbuf.len > x->maxline)
		return ds_oprun_fail(x->r, DS_EX_DATAERR,
		    "operator program: line %llu is over %zu bytes",
		    (unsigned long long)x->line + 1, x->maxline);
	return 0;
}

static int
receive(struct ds_exec *x)
{
	ssize_t n;

	if (ds_buf_grow(&x->rbuf, RCHUNK) == -1)
		return oserr(x, "allocate memory");
	n = read(x->rfd, x->rbuf.p + x->rbuf.len, x->rbuf.cap - x->rbuf.len);
	if (n > 0) {
		x->rbuf.len += (size_t)n;
		x->since = mono_ms();	/* it is answering */
		return parse(x);
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == -1)
		return ds_oprun_fail(x->r, DS_EX_IOERR,
		    "unable to read from the operator program: %s",
		    strerror(errno));
	close_fd(&x->rfd);
	if (!x->ended)
		return died(x);
	if (x->rbuf.len > 0) {
		x->line++;
		return bad(x, "last line has no newline");
	}
	return 0;
}

static int
send_some(struct ds_exec *x)
{
	ssize_t n;

	n = write(x->wfd, x->wbuf.p + x->wpos, x->wbuf.len - x->wpos);
	if (n > 0) {
		x->wpos += (size_t)n;
		if (x->wpos == x->wbuf.len)
			x->wpos = x->wbuf.len = 0;
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* EPIPE: it closed its stdin; what it owes still comes on stdout. */
	close_fd(&x->wfd);
	x->wpos = x->wbuf.len = 0;
	return 0;
}

/*
 * Padding: empty lines, which programs ignore, enough to complete any
 * input block a program may be waiting for before it reads the requests
 * already sent (mawk reads 4 KiB blocks, more after long lines).
 */
static int
pad(struct ds_exec *x)
{
	size_t n = PAD_MIN + 2 * x->longest;

	if (ds_buf_grow(&x->wbuf, n) == -1)
		return oserr(x, "allocate memory");
	memset(x->wbuf.p + x->wbuf.len, '\n', n);
	x->wbuf.len += n;
	x->fresh = 0;
	return 0;
}

/* Bytes written to the program that it has not read yet. */
static int
unread(int fd)
{
	int n = 0;

#ifdef FIONREAD
	if (ioctl(fd, FIONREAD, &n) == -1)
		n = 0;
#endif
	return n;
}

/*
 * A program that has written nothing for DS_EXEC_SILENT_MS while a
 * request waits for its answer most likely keeps its output in a buffer:
 * name the request and the likely fix, once (ds-op keeps waiting).
 * Returns the ms until that is due, or -1 (done, or nothing waits).
 */
static int
silence(struct ds_exec *x)
{
	const struct ds_exec_req *q = &x->req[x->head];
	char key[4 * SHOWN_KEY + 8], what[64];
	uint64_t now;

	if (x->warned || x->nreq == 0)
		return -1;
	now = mono_ms();
	if (now - x->since < DS_EXEC_SILENT_MS)
		return (int)(x->since + DS_EXEC_SILENT_MS - now);
	x->warned = 1;
	shown((const char *)q->rec->key, q->rec->klen < SHOWN_KEY ?
	    q->rec->klen : SHOWN_KEY, key, sizeof(key));
	if (q->kind == 'T')
		snprintf(what, sizeof(what), "T for input tuple seq %llu",
		    (unsigned long long)q->seq);
	else
		snprintf(what, sizeof(what), "F at the end of input");
	ds_oprun_log(x->r, DS_OPRUN_WARN, "operator program: no answer for "
	    "%d s to request %llu (%s, key '%s%s')%s: does it flush its "
	    "output after each D? (Python: print(..., flush=True) or "
	    "sys.stdout.flush(); awk: fflush(); C: fflush(stdout)); "
	    "still waiting", DS_EXEC_SILENT_MS / 1000,
	    (unsigned long long)q->num, what, key,
	    q->rec->klen > SHOWN_KEY ? "..." : "",
	    x->partial ? ", answered in part" : "");
	return -1;
}

/*
 * Wait until something moves on either pipe, and move it.  A program
 * that stays silent for STALL_MS with every request written *and read*
 * is waiting for a full input block: from then on each wait is padded.
 * (One that has not read them yet is just slow.)  No wait outlasts the
 * silence warning's deadline.
 */
static int
pump(struct ds_exec *x)
{
	struct pollfd pf[2];
	nfds_t n = 0;
	int wi = -1, ri = -1, timeout = -1, stall, quiet, rc;

	if (x->nreq > 0 && x->fresh && x->wfd >= 0 && x->wpos == x->wbuf.len) {
		if (x->padding && pad(x) == -1)
			return -1;
		if (!x->padding)
			timeout = STALL_MS;
	}
	stall = timeout;
	if ((quiet = silence(x)) >= 0 && (timeout < 0 || quiet < timeout))
		timeout = quiet;
	if (x->wfd >= 0 && x->wpos < x->wbuf.len) {
		pf[n].fd = x->wfd;
		pf[n].events = POLLOUT;
		wi = (int)n++;
	}
	if (x->rfd >= 0) {
		pf[n].fd = x->rfd;
		pf[n].events = POLLIN;
		ri = (int)n++;
	}
	if (n == 0)
		return died(x);
	if (x->waiting != NULL) {
		/* The loop does not run meanwhile: let the owner keep its
		 * lease. */
		x->waiting(x->waiting_arg);
		if (timeout < 0 || timeout > WAIT_SLICE_MS) {
			if ((rc = poll(pf, n, WAIT_SLICE_MS)) == 0)
				return 0;
			goto polled;
		}
	}
	if ((rc = poll(pf, n, timeout)) == -1)
		return errno == EINTR ? 0 : oserr(x, "poll");
polled:
	if (rc == -1)
		return errno == EINTR ? 0 : oserr(x, "poll");
	if (rc == 0) {
		if (timeout != stall || unread(x->wfd) > 0)
			return 0;
		x->padding = 1;
		ds_oprun_log(x->r, DS_OPRUN_INFO, "operator program reads its "
		    "input in blocks: padding from now on");
		return pad(x);
	}
	if (wi >= 0 && pf[wi].revents != 0 && send_some(x) == -1)
		return -1;
	if (ri >= 0 && pf[ri].revents != 0)
		return receive(x);
	return 0;
}

extern char	**environ;

/*
 * Start "sh -c command" with in as its stdin and out as its stdout,
 * DS_EXEC_PROTOCOL=1 set and NOTIFY_SOCKET removed (the readiness is
 * ours), the default SIGPIPE and no blocked signal, in a process group
 * of its own (ours to kill whole: sh and what it started), and killed
 * when we die: on Linux PR_SET_PDEATHSIG, which fires when the thread
 * that forked exits (the loop's, the one that lives as long as ds-op),
 * and which is lost if we died before it was set, so the child then
 * checks that its parent is still us.  fork(2) and execve(2), with only
 * async-signal-safe calls in between (nanomsg threads may be running).
 * 0, or -1 with errno.
 */
static int
spawn(struct ds_exec *x, int in, int out, const char *command)
{
	static char sh[] = "sh", dash_c[] = "-c", proto[] =
	    "DS_EXEC_PROTOCOL=1";
	char *argv[4], **envp;
	sigset_t none;
	pid_t parent = getpid(), pid;
	size_t i, n = 0;
	int e;

	for (i = 0; environ[i] != NULL; i++)
		;
	if ((envp = calloc(i + 2, sizeof(*envp))) == NULL ||
	    (argv[2] = strdup(command)) == NULL) {
		free(envp);
		return -1;
	}
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0 &&
		    strncmp(environ[i], "DS_EXEC_PROTOCOL=", 17) != 0)
			envp[n++] = environ[i];
	envp[n] = proto;
	argv[0] = sh;
	argv[1] = dash_c;
	argv[3] = NULL;
	sigemptyset(&none);
	if ((pid = fork()) == 0) {
		/* A descriptor already in place keeps only its FD_CLOEXEC. */
		if (
#ifdef __linux__
		    prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 &&
#endif
		    getppid() == parent && setpgid(0, 0) == 0 &&
		    (in == 0 ? fcntl(0, F_SETFD, 0) : dup2(in, 0)) != -1 &&
		    (out == 1 ? fcntl(1, F_SETFD, 0) : dup2(out, 1)) != -1 &&
		    signal(SIGPIPE, SIG_DFL) != SIG_ERR &&
		    sigprocmask(SIG_SETMASK, &none, NULL) == 0)
			(void)execve("/bin/sh", argv, envp);
		_exit(127);	/* forked child: never back in the caller */
	}
	e = errno;
	free(argv[2]);
	free(envp);
	if (pid == -1) {
		x->pid = -1;
		errno = e;
		return -1;
	}
	(void)setpgid(pid, pid);	/* in place before we may kill it */
	x->pid = pid;
	return 0;
}

static int
cloexec_pipe(int fd[2])
{
	if (pipe(fd) == -1)
		return -1;
	fcntl(fd[0], F_SETFD, FD_CLOEXEC);
	fcntl(fd[1], F_SETFD, FD_CLOEXEC);
	return 0;
}

int
ds_exec_start(struct ds_exec *x, struct ds_oprun *r, const char *command,
    struct ev_loop *loop)
{
	int in[2], out[2];

	memset(x, 0, sizeof(*x));
	x->r = r;
	x->loop = loop;
	x->pid = -1;
	x->wfd = x->rfd = -1;
	x->maxline = 2 * r->maxtuple + 64;
	ds_oprun_use(r, NULL, "operator program", command);
	if (cloexec_pipe(in) == -1)
		return oserr(x, "create a pipe");
	if (cloexec_pipe(out) == -1) {
		close(in[0]);
		close(in[1]);
		return oserr(x, "create a pipe");
	}
	if (spawn(x, in[0], out[1], command) == -1) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return oserr(x, "start the operator program");
	}
	close(in[0]);
	close(out[1]);
	x->wfd = in[1];
	x->rfd = out[0];
	fcntl(x->wfd, F_SETFL, fcntl(x->wfd, F_GETFL) | O_NONBLOCK);
	fcntl(x->rfd, F_SETFL, fcntl(x->rfd, F_GETFL) | O_NONBLOCK);
	ev_child_init(&x->cw, child_cb, x->pid, 0);
	x->cw.data = x;
	ev_child_start(loop, &x->cw);
	r->exec = x;
	return 0;
}

/*
 * Queue one request line for rec's key: "T key state payload" for an
 * input tuple t, or "F key state" at the end (t NULL).  rec is pinned for
 * the request.  0 or -1.
 */
static int
request(struct ds_exec *x, const struct ds_tuple *t, struct ds_state_rec *rec)
{
	struct ds_exec_req *q;
	struct ds_buf *b = &x->wbuf;
	size_t start = b->len;

	if (ds_buf_addstr(b, t != NULL ? "T\t" : "F\t") == -1 ||
	    ds_exec_escape(b, rec->key, rec->klen) == -1 ||
	    ds_buf_addc(b, '\t') == -1 ||
	    ds_exec_escape(b, rec->val, rec->hasval ? rec->vlen : 0) == -1 ||
	    (t != NULL && (ds_buf_addc(b, '\t') == -1 ||
	    ds_exec_escape(b, t->payload, t->paylen) == -1)) ||
	    ds_buf_addc(b, '\n') == -1)
		return oserr(x, "allocate memory");
	if (b->len - start > x->longest)
		x->longest = b->len - start;
	x->fresh = 1;
	if (x->nreq == 0)
		x->since = mono_ms();
	q = &x->req[(x->head + x->nreq++) % DS_EXEC_WINDOW];
	q->rec = rec;
	q->kind = t != NULL ? 'T' : 'F';
	q->num = ++x->nsent;
	q->time = t != NULL ? t->time : x->r->maxtime;
	q->flags = t != NULL ? t->flags & DS_TUPLE_TRACE : 0;
	q->trace = t != NULL ? t->trace : 0;
	q->seq = t != NULL ? t->seq : 0;
	return 0;
}

/* Wait for room for one more request; keep the buffer compact. */
static int
room(struct ds_exec *x)
{
	while (x->nreq == DS_EXEC_WINDOW || x->wbuf.len - x->wpos > WBUF_HIGH)
		if (pump(x) == -1)
			return -1;
	if (x->wpos >= WBUF_HIGH / 4) {
		ds_buf_consume(&x->wbuf, x->wpos);
		x->wpos = 0;
	}
	return 0;
}

int
ds_exec_bundle(struct ds_exec *x, const struct ds_bundle *b)
{
	struct ds_oprun *r = x->r;
	const struct ds_tuple *t;
	struct ds_state_rec *rec;
	uint32_t i;

	if (r->code != 0)
		return -1;
	for (i = 0; i < b->count; i++) {
		t = &b->t[i];
		if (t->time > r->maxtime)
			r->maxtime = t->time;
		rec = ds_state_intern(&r->st, t->key, t->keylen,
		    ds_state_hash(t->key, t->keylen));
		if (rec == NULL)
			return oserr(x, "allocate memory");
		rec->pins++;	/* ours now; the request's once sent */
		/*
		 * One request per key at a time: wait while another one
		 * holds the record (the state log's dirty list holds a pin
		 * of its own until the commit after this bundle: not one).
		 */
		while (rec->pins - (rec->dirty ? 1 : 0) > 1)
			if (pump(x) == -1)
				return -1;
		if (room(x) == -1 || request(x, t, rec) == -1)
			return -1;
	}
	while (x->nreq > 0)
		if (pump(x) == -1)
			return -1;
	return ds_oprun_close(r);
}

/*
 * --exec-end: an F request for every key with state, in key order (no
 * request is in flight: each bundle waits for all its answers), and
 * every answer.
 */
static int
end_requests(struct ds_exec *x)
{
	struct ds_oprun *r = x->r;
	struct ds_state_rec *rec;
	size_t i;
	int rc = 0;

	if (ds_oprun_keys(r) == -1)
		return -1;
	for (i = 0; i < r->nkeys && rc == 0; i++) {
		rec = r->keys[i];
		if ((rc = room(x)) == 0) {
			rec->pins++;	/* the request's */
			rc = request(x, NULL, rec);
		}
	}
	while (rc == 0 && x->nreq > 0)
		rc = pump(x);
	ds_oprun_keys_free(r);
	return rc == 0 ? ds_oprun_close(r) : -1;
}

int
ds_exec_end(struct ds_exec *x)
{
	struct ds_oprun *r = x->r;

	if (r->code != 0)
		return -1;
	r->time = r->maxtime;
	r->emitted = 0;
	if (x->endreq && end_requests(x) == -1)
		return -1;
	r->emitted = 0;		/* what it writes after the end */
	x->ended = 1;
	close_fd(&x->wfd);
	while (x->rfd >= 0)
		if (pump(x) == -1)
			return -1;
	reap(x, -1);
	if (WIFSIGNALED(x->status))
		return ds_oprun_fail(r, DS_EX_SOFTWARE,
		    "operator program killed by signal %d",
		    WTERMSIG(x->status));
	if (WEXITSTATUS(x->status) != 0)
		return ds_oprun_fail(r, DS_EX_SOFTWARE,
		    "operator program exited with status %d",
		    WEXITSTATUS(x->status));
	return ds_oprun_close(r);
}

void
ds_exec_term(struct ds_exec *x)
{
	close_fd(&x->wfd);
	close_fd(&x->rfd);
	if (x->pid > 0)
		reap(x, 0);
	ds_buf_free(&x->wbuf);
	ds_buf_free(&x->rbuf);
	ds_buf_free(&x->fld);
}
