/*
 * check.c: before a job starts (and for run --check), every process's
 * command line, as argv.c rendered it, runs once with --check: each
 * program parses and validates its options exactly as it would at its
 * start, so ds-master never re-implements another program's options.  A
 * failure stops everything with the program's exit status and its own
 * first line, as FILE:LINE: NODE: message (LINE: the node's run =).
 * ds-sink also says which files it writes ("writes PATH", absolute):
 * two processes writing one file interleave and lose lines, so that is
 * refused (78).  The checks run in the topology file's directory, where
 * relative paths in run lines are taken from; one at a time, each given
 * CHECK_S to end.  Nothing here starts the job or creates a file.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master.h"

#define CHECK_S		10		/* a --check has this long to end */
#define OUT_MAX		(64u << 10)	/* output kept of each stream */

/* A file some process writes. */
struct written {
	char		*path;
	const struct inst *in;
};

/*
 * No descriptor of ours but the standard ones goes to a check: ds-master
 * never executes itself, and sup_spawn closes them all anyway.
 */
static void
cloexec_all(void)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (fd > 2 && fd != dirfd(d))
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

/* "FILE:LINE: NAME" of in: its node's run line, a router's input line. */
static char *
where(const struct inst *in)
{
	const struct ds_plan_proc *pp = in->pp;

	if (pp->kind == DS_PLAN_ROUTER)
		return xprintf("%s:%d: %s", M.topo.file,
		    M.topo.edge[pp->edge].line, in->name);
	if (pp->node < 0)
		return xprintf("%s: %s", M.topo.file, in->name);
	return xprintf("%s:%d: %s", M.topo.file,
	    M.topo.node[pp->node].run_line, M.topo.node[pp->node].name);
}

/* Exit with a check's status; one outside 64..78 is not a dstream one. */
static void __attribute__((noreturn))
fail(const struct inst *in, int code, const char *msg)
{
	if (code < DS_EX_USAGE || code > DS_EX_CONFIG)
		code = DS_EX_SOFTWARE;
	ds_die(code, "%s: %s", where(in), msg);
}

/* in's argv with --check after the program name, and epoch 1. */
static char **
check_argv(const struct inst *in)
{
	static char check[] = "--check", one[] = "1";
	char **av;
	size_t n, i;

	for (n = 0; in->argv.v[n] != NULL; n++)
		;
	if ((av = calloc(n + 2, sizeof(*av))) == NULL)
		nomem();
	av[0] = in->argv.v[0];
	av[1] = check;
	for (i = 1; i < n; i++)
		av[i + 1] = i == in->epoch_slot ? one : in->argv.v[i];
	return av;
}

/* Read what fd has into b (up to OUT_MAX); 0 at its end. */
static int
drain(int fd, struct ds_buf *b)
{
	char chunk[4096];
	ssize_t n;

	n = read(fd, chunk, sizeof(chunk));
	if (n == -1)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n > 0 && b->len < OUT_MAX &&
	    ds_buf_add(b, chunk, (size_t)n) == -1)
		nomem();
	return n > 0;
}

/*
 * Run in's command line with --check in dir, its standard output into
 * out and its standard error into err.  Its wait status, or -1 if it did
 * not end within CHECK_S (then it was killed).
 */
static int
run_one(const struct inst *in, const char *dir, struct ds_buf *out,
    struct ds_buf *err)
{
	static const char nox[] = "cannot execute the program\n";
	struct pollfd pfd[2];
	struct ds_buf *to[2] = { out, err };
	char **av = check_argv(in);
	time_t until = time(NULL) + CHECK_S;
	int po[2], pe[2], st, fd, i, open_n = 2;
	pid_t pid;

	if (pipe(po) == -1 || pipe(pe) == -1)
		ds_diesys(DS_EX_OSERR, "unable to make a pipe");
	for (i = 0; i < 2; i++) {
		(void)fcntl(po[i], F_SETFD, FD_CLOEXEC);
		(void)fcntl(pe[i], F_SETFD, FD_CLOEXEC);
	}
	fflush(NULL);
	if ((pid = fork()) == -1)
		ds_diesys(DS_EX_OSERR, "unable to fork for %s", in->name);
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		signal(SIGPIPE, SIG_DFL);
		if (chdir(dir) == 0 && dup2(po[1], 1) != -1 &&
		    dup2(pe[1], 2) != -1 &&
		    (fd = open("/dev/null", O_RDONLY)) != -1 &&
		    dup2(fd, 0) != -1)
			execv(in->path, av);
		(void)!write(pe[1], nox, sizeof(nox) - 1);
		_exit(DS_EX_OSERR);
	}
	free(av);
	close(po[1]);
	close(pe[1]);
	pfd[0].fd = po[0];
	pfd[1].fd = pe[0];
	pfd[0].events = pfd[1].events = POLLIN;
	while (open_n > 0 && time(NULL) < until) {
		if (poll(pfd, 2, 100) == -1 && errno != EINTR)
			ds_diesys(DS_EX_OSERR, "poll");
		for (i = 0; i < 2; i++)
			if (pfd[i].fd >= 0 && pfd[i].revents != 0 &&
			    !drain(pfd[i].fd, to[i])) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_n--;
			}
	}
	for (i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	if (open_n > 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			ds_diesys(DS_EX_OSERR, "waitpid");
	return open_n > 0 ? -1 : st;
}

/* The first line of b (a NUL-ended copy, without a <N> priority). */
static char *
first_line(const struct ds_buf *b)
{
	const char *s = (const char *)b->p, *nl;
	size_t n = b->len;

	if (n > 3 && s[0] == '<' && s[2] == '>') {
		s += 3;
		n -= 3;
	}
	if ((nl = memchr(s, '\n', n)) != NULL)
		n = (size_t)(nl - s);
	return xprintf("%.*s", (int)n, s);
}

/* Take the "writes PATH" lines of b into *w. */
static void
take_writes(const struct inst *in, const struct ds_buf *b,
    struct written **w, size_t *nw)
{
	const char *s = (const char *)b->p, *end = s + b->len, *nl;
	struct written *nv;

	for (; s < end; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			break;
		if (in->pp->node < 0 || nl - s <= 7 ||
		    strncmp(s, "writes ", 7) != 0)
			continue;
		if ((nv = realloc(*w, (*nw + 1) * sizeof(*nv))) == NULL)
			nomem();
		*w = nv;
		nv[*nw].path = xprintf("%.*s", (int)(nl - s - 7), s + 7);
		nv[*nw].in = in;
		(*nw)++;
	}
}

/* Two processes writing one file: 78, naming both. */
static void
refuse_shared(const struct written *w, size_t nw)
{
	const struct inst *a, *b;
	const struct ds_topo_node *na, *nb;
	size_t i, j;

	for (i = 0; i < nw; i++)
		for (j = i + 1; j < nw; j++) {
			if (strcmp(w[i].path, w[j].path) != 0)
				continue;
			a = w[i].in;
			b = w[j].in;
			na = &M.topo.node[a->pp->node];
			nb = &M.topo.node[b->pp->node];
			if (na == nb)
				ds_die(DS_EX_CONFIG, "%s: %s and %s both write "
				    "%s: parallel = %u needs %%i (the instance "
				    "index) in the file name", where(b),
				    a->name, b->name, w[i].path, nb->parallel);
			ds_die(DS_EX_CONFIG, "%s: writes %s, as %s (line %d) "
			    "does", where(b), w[i].path, na->name,
			    na->run_line);
		}
}

void
check_run(void)
{
	struct ds_buf out = DS_BUF_INIT, err = DS_BUF_INIT;
	struct written *w = NULL;
	size_t k, nw = 0;
	char *dir, *slash, msg[64];
	const struct inst *in;
	int st, code;

	dir = xstrdup(M.topo.file);
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';		/* "/" */
	else
		*slash = '\0';
	cloexec_all();
	for (k = 0; k < M.nin; k++) {
		in = &M.in[k];
		ds_buf_reset(&out);
		ds_buf_reset(&err);
		st = run_one(in, dir, &out, &err);
		if (st == -1) {
			snprintf(msg, sizeof(msg), "--check did not end "
			    "within %d s", CHECK_S);
			fail(in, DS_EX_SOFTWARE, msg);
		}
		if (WIFSIGNALED(st)) {
			snprintf(msg, sizeof(msg), "--check: killed by "
			    "signal %d", WTERMSIG(st));
			fail(in, DS_EX_SOFTWARE, msg);
		}
		code = WEXITSTATUS(st);
		if (code != 0 && err.len == 0) {
			snprintf(msg, sizeof(msg), "--check exited %d, saying "
			    "nothing", code);
			fail(in, code, msg);
		}
		if (code != 0)
			fail(in, code, first_line(&err));
		take_writes(in, &out, &w, &nw);
	}
	refuse_shared(w, nw);
	for (k = 0; k < nw; k++)
		free(w[k].path);
	free(w);
	free(dir);
	ds_buf_free(&out);
	ds_buf_free(&err);
}
