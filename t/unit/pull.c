/*
 * pull.c: unit test for the request/reply transport (libds/pull) over
 * ipc:// in a temp dir, servers and clients in one process and one libev
 * loop (a second thread with its own loop serves the blocking calls).
 * Requests are text "NAME WAIT_MS"; the test server answers "TAG:data:NAME"
 * while it has data tokens, parks otherwise, and answers
 * "TAG:final:NAME" at the deadline; NAME "drop" is dropped unanswered.
 * Every wait is a loop run with a deadline, never a sleep.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "net/pull.h"
#include "tap.h"

struct tsrv {
	const char		*tag;
	int			 tokens;	/* data answers left */
	int			 served, finals, forgets, received;
	struct ds_pull_srv	*srv;
};

static int
t_serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	struct tsrv *t = arg;
	char name[64], out[128];
	int n;

	if (req->user == NULL) {
		t->received++;
		req->user = t;		/* marks it seen */
	}
	t->served++;
	if (sscanf((const char *)req->msg, "%63s", name) != 1)
		return -1;
	if (strcmp(name, "drop") == 0)
		return -1;
	if (t->tokens > 0) {
		t->tokens--;
		n = snprintf(out, sizeof(out), "%s:data:%s", t->tag, name);
	} else if (req->final) {
		t->finals++;
		n = snprintf(out, sizeof(out), "%s:final:%s", t->tag, name);
	} else
		return 0;
	ds_buf_add(reply, out, (size_t)n + 1);
	return 1;
}

static void
t_forget(void *arg, struct ds_pull_req *req)
{
	struct tsrv *t = arg;

	(void)req;
	t->forgets++;
}

static double
t_wait_of(void *arg, struct ds_pull_req *req)
{
	const unsigned char *msg = req->msg;
	size_t len = req->len;
	unsigned ms = 0;
	char name[64];

	(void)arg;
	if (len == 0 || msg[len - 1] != '\0')
		return 0;
	if (sscanf((const char *)msg, "%63s %u", name, &ms) != 2)
		return 0;
	return ms / 1000.0;
}

static const struct ds_pull_srv_ops t_ops = { t_serve, t_forget, t_wait_of };

struct tcli {
	struct ds_pull_cli	*cli;
	int			 replies, timeouts;
	char			 last[256];
	size_t			 lastlen;
};

static void
t_reply(void *arg, const unsigned char *msg, size_t len)
{
	struct tcli *c = arg;

	if (msg == NULL) {
		c->timeouts++;
		c->last[0] = '\0';
		c->lastlen = 0;
		return;
	}
	c->replies++;
	c->lastlen = len;
	if (len >= sizeof(c->last))
		len = sizeof(c->last) - 1;
	memcpy(c->last, msg, len);
	c->last[len] = '\0';
}

static struct ev_loop	*loop;
static char		 dir[64], addr[128];

static void
nop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/* Run the loop until *flag >= want or timeout seconds pass. */
static int
run_until(const int *flag, int want, double timeout)
{
	ev_timer tick;
	ev_tstamp end;

	ev_timer_init(&tick, nop_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	ev_now_update(loop);
	end = ev_now(loop) + timeout;
	while (*flag < want && ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return *flag >= want;
}

static int
send_str(struct tcli *c, const char *s, double timeout)
{
	return ds_pull_cli_send(c->cli, s, strlen(s) + 1, timeout);
}

static int parked_n;

static int
run_until_parked(struct tsrv *t, size_t n, double timeout)
{
	ev_timer tick;
	ev_tstamp end;

	ev_timer_init(&tick, nop_cb, 0.005, 0.005);
	ev_timer_start(loop, &tick);
	ev_now_update(loop);
	end = ev_now(loop) + timeout;
	while (ds_pull_srv_parked(t->srv) < n && ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	parked_n = (int)ds_pull_srv_parked(t->srv);
	return ds_pull_srv_parked(t->srv) == n;
}

static void
test_basic(void)
{
	struct tsrv t = { "s1", 0, 0, 0, 0, 0, NULL };
	struct tcli c;
	ev_tstamp t0;

	memset(&c, 0, sizeof(c));
	t.srv = ds_pull_srv_open(loop, addr, &t_ops, &t);
	ok(t.srv != NULL, "server binds %s", addr);
	c.cli = ds_pull_cli_open(loop, addr, t_reply, &c);
	ok(c.cli != NULL, "client connects");

	t.tokens = 1;
	ok(send_str(&c, "a 5000", 5) == 0 && ds_pull_cli_busy(c.cli),
	    "send: request outstanding");
	ok(send_str(&c, "x 0", 5) == -1 && errno == EBUSY,
	    "a second request while one is outstanding: EBUSY");
	ok(run_until(&c.replies, 1, 5) && strcmp(c.last, "s1:data:a") == 0 &&
	    !ds_pull_cli_busy(c.cli), "immediate answer");

	ok(send_str(&c, "b 5000", 5) == 0 && run_until_parked(&t, 1, 5),
	    "no data: request parked");
	t.tokens = 1;
	ds_pull_srv_wake(t.srv);
	ok(ds_pull_srv_parked(t.srv) == 0, "wake answers it");
	ok(run_until(&c.replies, 2, 5) && strcmp(c.last, "s1:data:b") == 0,
	    "parked answer after wake");

	ev_now_update(loop);
	t0 = ev_now(loop);
	ok(send_str(&c, "c 200", 5) == 0 && run_until(&c.replies, 3, 5) &&
	    strcmp(c.last, "s1:final:c") == 0, "parked answer at deadline");
	ev_now_update(loop);
	ok(ev_now(loop) - t0 >= 0.19, "not before its deadline (%.3f s)",
	    ev_now(loop) - t0);
	ok(t.finals == 1 && ds_pull_srv_parked(t.srv) == 0,
	    "the deadline answer was final");

	ok(send_str(&c, "d 0", 5) == 0 && run_until(&c.replies, 4, 5) &&
	    strcmp(c.last, "s1:final:d") == 0, "wait 0: answered at once");

	ds_pull_cli_close(c.cli);
	ds_pull_srv_close(t.srv);
	ok(t.forgets == t.received && t.received == 4,
	    "forget once per request (%d of %d)", t.forgets, t.received);
}

static void
test_many(void)
{
	struct tsrv t = { "m", 0, 0, 0, 0, 0, NULL };
	struct tcli c[5];
	char req[32];
	int i, total, all;

	t.srv = ds_pull_srv_open(loop, addr, &t_ops, &t);
	all = t.srv != NULL;
	for (i = 0; i < 5; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].cli = ds_pull_cli_open(loop, addr, t_reply, &c[i]);
		snprintf(req, sizeof(req), "c%d 10000", i);
		if (c[i].cli == NULL || send_str(&c[i], req, 20) == -1)
			all = 0;
	}
	ok(all, "5 clients send");
	run_until_parked(&t, 5, 5);
	ok(parked_n == 5, "5 requests parked at once (%d)", parked_n);
	t.tokens = 2;
	ds_pull_srv_wake(t.srv);
	ok(ds_pull_srv_parked(t.srv) == 3, "2 answered, 3 still parked");
	t.tokens = 3;
	ds_pull_srv_wake(t.srv);
	ok(ds_pull_srv_parked(t.srv) == 0, "the other 3 answered");
	total = 0;
	for (i = 0; i < 5; i++) {
		run_until(&c[i].replies, 1, 5);
		snprintf(req, sizeof(req), "m:data:c%d", i);
		if (c[i].replies == 1 && strcmp(c[i].last, req) == 0)
			total++;
	}
	ok(total == 5, "each of 5 clients got its own answer (%d)", total);

	/* Close with parked requests: each is served final, then forgotten. */
	for (i = 0; i < 3; i++) {
		snprintf(req, sizeof(req), "z%d 10000", i);
		send_str(&c[i], req, 20);
	}
	ok(run_until_parked(&t, 3, 5), "3 parked again");
	ds_pull_srv_close(t.srv);
	ok(t.finals == 3 && t.forgets == t.received && t.received == 8,
	    "close answers every parked request final (%d) and forgets all",
	    t.finals);
	for (i = 0; i < 5; i++)
		ds_pull_cli_close(c[i].cli);
}

static void
test_reconnect(void)
{
	struct tsrv t1 = { "old", 0, 0, 0, 0, 0, NULL };
	struct tsrv t2 = { "new", 5, 0, 0, 0, 0, NULL };
	struct tcli c;

	memset(&c, 0, sizeof(c));
	t1.srv = ds_pull_srv_open(loop, addr, &t_ops, &t1);
	c.cli = ds_pull_cli_open(loop, addr, t_reply, &c);
	ok(t1.srv != NULL && c.cli != NULL && send_str(&c, "drop 0", 0.3) ==
	    0 && run_until(&t1.received, 1, 5),
	    "the old server gets a request");
	/* A replacement takes the address while the old one still runs. */
	t2.srv = ds_pull_srv_open(loop, addr, &t_ops, &t2);
	ok(t2.srv != NULL, "a new server binds the same address");
	ok(run_until(&c.timeouts, 1, 5) && c.replies == 0,
	    "unanswered request: timeout callback with NULL");
	ok(!ds_pull_cli_busy(c.cli), "not busy after the timeout");
	ok(send_str(&c, "e 1000", 5) == 0 && run_until(&c.replies, 1, 5) &&
	    strcmp(c.last, "new:data:e") == 0,
	    "the reopened client reaches the new server");
	ok(t1.received == 1, "the old server saw only the first request");
	ds_pull_cli_reset(c.cli);
	ok(!ds_pull_cli_busy(c.cli) && send_str(&c, "f 0", 5) == 0 &&
	    run_until(&c.replies, 2, 5) && strcmp(c.last, "new:data:f") == 0,
	    "reset, then a request works");
	ds_pull_cli_close(c.cli);
	ds_pull_srv_close(t1.srv);
	ds_pull_srv_close(t2.srv);
}

/* Echo server for big messages. */
static int
echo_serve(void *arg, struct ds_pull_req *req, struct ds_buf *reply)
{
	(void)arg;
	ds_buf_add(reply, req->msg, req->len);
	return 1;
}

static const struct ds_pull_srv_ops echo_ops = { echo_serve, NULL, NULL };

struct bcli {
	int		 replies;
	size_t		 len;
	int		 same;
	unsigned char	*want;
};

static void
big_reply(void *arg, const unsigned char *msg, size_t len)
{
	struct bcli *b = arg;

	b->replies++;
	b->len = len;
	b->same = msg != NULL && memcmp(msg, b->want, len) == 0;
}

static void
test_size(void)
{
	struct ds_pull_srv *s;
	struct ds_pull_cli *c;
	struct bcli b;
	size_t big = 3u << 20, i;
	unsigned char *huge;

	memset(&b, 0, sizeof(b));
	b.want = malloc(big);
	for (i = 0; i < big; i++)
		b.want[i] = (unsigned char)(i * 7 + (i >> 11));
	s = ds_pull_srv_open(loop, addr, &echo_ops, NULL);
	c = ds_pull_cli_open(loop, addr, big_reply, &b);
	ok(s != NULL && c != NULL && ds_pull_cli_send(c, b.want, big, 5) ==
	    0 && run_until(&b.replies, 1, 10) && b.len == big && b.same,
	    "a 3 MiB request and reply (over nanomsg's 1 MiB default)");
	huge = malloc(DS_PULL_MSGMAX + 1);
	ok(ds_pull_cli_send(c, huge, DS_PULL_MSGMAX + 1, 5) == -1 &&
	    errno == EMSGSIZE && !ds_pull_cli_busy(c),
	    "client refuses a message over DS_PULL_MSGMAX: EMSGSIZE");
	ok(ds_pull_call(addr, huge, DS_PULL_MSGMAX + 1, NULL, 1) == -1 &&
	    errno == EMSGSIZE, "ds_pull_call refuses it too");
	free(huge);
	ds_pull_cli_close(c);
	ds_pull_srv_close(s);
	free(b.want);
}

/* A server in a second thread with its own loop, for blocking calls. */
struct thr {
	struct ev_loop		*loop;
	ev_async		 stop;
	struct tsrv		 t;
	atomic_int		 ready;
};

static void
thr_stop(struct ev_loop *l, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void *
thr_main(void *arg)
{
	struct thr *h = arg;

	h->t.srv = ds_pull_srv_open(h->loop, addr, &t_ops, &h->t);
	atomic_store(&h->ready, h->t.srv != NULL ? 1 : -1);
	if (h->t.srv == NULL)
		return NULL;
	ev_run(h->loop, 0);
	ds_pull_srv_close(h->t.srv);
	return NULL;
}

static int
thr_start(struct thr *h, pthread_t *tid)
{
	memset(h, 0, sizeof(*h));
	h->t.tag = "thr";
	h->t.tokens = 1000;
	h->loop = ev_loop_new(EVFLAG_AUTO);
	ev_async_init(&h->stop, thr_stop);
	ev_async_start(h->loop, &h->stop);
	if (pthread_create(tid, NULL, thr_main, h) != 0)
		return -1;
	while (atomic_load(&h->ready) == 0)
		sched_yield();
	return atomic_load(&h->ready) == 1 ? 0 : -1;
}

static void
thr_join(struct thr *h, pthread_t tid)
{
	ev_async_send(h->loop, &h->stop);
	pthread_join(tid, NULL);
	ev_loop_destroy(h->loop);
}

static void
test_call(void)
{
	struct ds_buf r = DS_BUF_INIT;
	struct sockaddr_un sa;
	struct tcli c;
	struct thr h;
	pthread_t tid;
	char stale[128];
	int fd, rc;
	ev_tstamp t0;

	ok(thr_start(&h, &tid) == 0, "server thread up");
	ok(ds_pull_call(addr, "q 0", 4, &r, 5) == 0 &&
	    r.len == strlen("thr:data:q") + 1 &&
	    strcmp((char *)r.p, "thr:data:q") == 0,
	    "ds_pull_call against a live server");
	ev_now_update(loop);
	t0 = ev_now(loop);
	ok(ds_pull_call(addr, "drop 0", 7, &r, 0.2) == -1 &&
	    errno == ETIMEDOUT, "ds_pull_call: no answer => ETIMEDOUT");
	ev_now_update(loop);
	ok(ev_now(loop) - t0 < 3, "ETIMEDOUT after about the timeout");

	memset(&c, 0, sizeof(c));
	c.cli = ds_pull_cli_open(loop, addr, t_reply, &c);
	ok(ds_pull_cli_wait(c.cli, 1) == 0, "cli_wait: nothing outstanding");
	ok(send_str(&c, "w 0", 5) == 0 && ds_pull_cli_wait(c.cli, 5) == 1 &&
	    c.replies == 1 && strcmp(c.last, "thr:data:w") == 0 &&
	    !ds_pull_cli_busy(c.cli), "cli_wait delivers the reply");
	rc = send_str(&c, "drop 0", 5) == 0 &&
	    ds_pull_cli_wait(c.cli, 0.1) == -1 && errno == ETIMEDOUT &&
	    ds_pull_cli_busy(c.cli);
	ok(rc, "cli_wait times out, request still outstanding");
	ds_pull_cli_close(c.cli);
	thr_join(&h, tid);

	snprintf(stale, sizeof(stale), "ipc://%s/none", dir);
	ok(ds_pull_call(stale, "q 0", 4, &r, 5) == -1 && errno == ECONNREFUSED,
	    "ds_pull_call: no socket file => ECONNREFUSED");
	/* A socket file nobody listens on (a dead server's). */
	snprintf(stale, sizeof(stale), "ipc://%s/dead", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dead", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    listen(fd, 1) == 0;
	close(fd);
	ok(rc && ds_pull_call(stale, "q 0", 4, &r, 5) == -1 &&
	    errno == ECONNREFUSED, "ds_pull_call: dead socket => ECONNREFUSED");
	ok(strlen(ds_pull_strerror(ECONNREFUSED)) > 0, "strerror");
	unlink(sa.sun_path);
	ds_buf_free(&r);
}

static const unsigned char key[DS_KEY_LEN] = "unit test key, not a secret!!!";
static const char *self;

/* pull stranger ADDR: one call with another key; 0 if it timed out. */
static int
stranger(const char *to)
{
	static const unsigned char other[DS_KEY_LEN] =
	    "another key, as a stranger has";
	struct ds_buf r = DS_BUF_INIT;

	if (ds_pull_setkey(other) == -1)
		return 2;
	return ds_pull_call(to, "q 0", 4, &r, 1) == -1 &&
	    errno == ETIMEDOUT ? 0 : 1;
}

/*
 * A client with another key: its request is dropped before the owner
 * sees it, never answered, and counted.
 */
static void
test_forged(void)
{
	struct tsrv t = { "forged", 5, 0, 0, 0, 0, NULL };
	struct ds_buf r = DS_BUF_INIT;
	uint64_t before = ds_pull_refused();
	int status = -1, done_ = 0;
	pid_t pid;

	t.srv = ds_pull_srv_open(loop, addr, &t_ops, &t);
	ok(t.srv != NULL, "forged: server up");
	/* nanomsg does not survive fork: a fresh process (see main). */
	if ((pid = fork()) == 0) {
		execl(self, self, "stranger", addr, (char *)NULL);
		_exit(127);
	}
	while (!done_) {
		ev_timer tm;

		ev_timer_init(&tm, nop_cb, 0.02, 0);
		ev_timer_start(loop, &tm);
		ev_run(loop, EVRUN_ONCE);
		ev_timer_stop(loop, &tm);
		done_ = waitpid(pid, &status, WNOHANG) == pid;
	}
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a request with another key gets no answer (times out)");
	ok(t.received == 0, "the owner never sees it");
	ok(ds_pull_refused() == before + 1, "it is counted");
	ds_pull_srv_close(t.srv);
	ds_buf_free(&r);
}

int
main(int argc, char *argv[])
{
	char path[128];

	if (argc == 3 && strcmp(argv[1], "stranger") == 0)
		return stranger(argv[2]);
	self = argv[0];
	if (ds_pull_setkey(key) == -1)
		return 99;
	strcpy(dir, "/tmp/ds-pull-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(addr, sizeof(addr), "ipc://%s/srv", dir);
	loop = EV_DEFAULT;
	test_basic();
	test_many();
	test_reconnect();
	test_size();
	test_call();
	test_forged();
	snprintf(path, sizeof(path), "%s/srv", dir);
	unlink(path);
	rmdir(dir);
	return done();
}
