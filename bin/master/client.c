/*
 * client.c: `ds-master status` and `ds-master stop`, the client side of
 * RUN/master.  A job is running while its master holds STATE/lock (for
 * RUNDIR, RUN/lock); only then is it asked, with CTL text commands.  A
 * job that is not running is answered from its state directory
 * (STATE/done, STATE/stopped) in one line, and exit 3, as systemctl
 * status does for an inactive unit.  `stop` waits until the master has
 * released STATE/lock, the last thing it does, so that a run started
 * right after it finds the job free.  Only reads: never writes in RUN or
 * STATE, never signals anything.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dir.h"
#include "core/key.h"
#include "core/msg.h"
#include "master.h"

#define CTL_TIMEOUT_S	2.0	/* status/stop wait this long for an answer */
#define STOP_WAIT_S	60	/* stop waits this long for the job to end */
#define DS_STR_(x)	#x
#define DS_STR(x)	DS_STR_(x)
#define POLL_NS		50000000L

/* What the client knows of a job; NULL when unknown. */
struct job {
	char	*name, *file, *state;
	char	*run;
};

static volatile sig_atomic_t interrupted;

/*
 * Is dir/lock locked (by a running ds-master)?  No directory or no lock
 * file: no.  Dies 74 on a link or a fifo where the lock should be.
 */
static int
locked(const char *dir)
{
	struct flock fl;
	int dfd, fd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		ds_diesys(DS_EX_IOERR, "unable to read %s", dir);
	}
	fd = ds_dir_openat(dfd, "lock", O_RDONLY);
	close(dfd);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		ds_die(DS_EX_IOERR, "unable to read %s/lock: %s", dir,
		    ds_dir_strerror(errno));
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1)
		ds_diesys(DS_EX_IOERR, "unable to test %s/lock", dir);
	close(fd);
	return fl.l_type != F_UNLCK;
}

/*
 * Send cmd to the master at RUN/master, put its text answer in *ans.
 * 0, or -1 if nothing listens there or no answer came (*err says why).
 * Dies 74 on an unreadable key, 76 on an answer that is no CTLREPLY.
 */
static int
ctl(const char *run, const char *cmd, struct ds_buf *ans, char *err,
    size_t errlen)
{
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	unsigned char k[DS_KEY_LEN];
	const char *why = "no frame";
	char *addr, *key;
	struct ds_frame f;
	size_t off = 0;
	int rc = -1;

	addr = xprintf("ipc://%s/master", run);
	key = xprintf("%s/key", run);
	if (access(addr + 6, F_OK) == -1) {
		snprintf(err, errlen, "no master answers at %s: %s", addr,
		    strerror(errno));
		goto out;
	}
	if (ds_key_load(key, 0, k, &why) == -1) {
		if (errno != ENOENT)
			ds_die(DS_EX_IOERR, "%s: %s: %s", key, why,
			    strerror(errno));
		snprintf(err, errlen, "no master answers at %s: no key",
		    addr);
		goto out;
	}
	if (ds_pull_setkey(k) == -1)
		ds_diesys(DS_EX_OSERR, "%s", key);
	memset(k, 0, sizeof(k));
	if (ds_msg_text_put(&req, DS_FRAME_CTL, cmd, strlen(cmd)) == -1)
		nomem();
	if (ds_pull_call(addr, req.p, req.len, &rep, CTL_TIMEOUT_S) == -1) {
		snprintf(err, errlen, "no master answers at %s: %s", addr,
		    errno == ETIMEDOUT ? "timed out" :
		    ds_pull_strerror(errno));
		goto out;
	}
	if (ds_msg_next(rep.p, rep.len, &off, &f, &why) != 1 ||
	    f.type != DS_FRAME_CTLREPLY)
		ds_die(DS_EX_PROTOCOL, "bad answer from %s: %s", addr,
		    f.type != DS_FRAME_CTLREPLY ? "not a CTLREPLY" : why);
	if (ds_buf_add(ans, f.payload, f.len) == -1 ||
	    ds_buf_addc(ans, '\0') == -1)
		nomem();
	rc = 0;
out:
	ds_buf_free(&req);
	ds_buf_free(&rep);
	free(addr);
	free(key);
	return rc;
}

/* STATE/name's first line, without its newline, in buf; or NULL. */
static const char *
state_line(int sfd, const char *state, const char *name, char *buf,
    size_t n)
{
	if (ds_dir_read(sfd, name, buf, n) == -1) {
		if (errno == ENOENT)
			return NULL;
		ds_die(DS_EX_IOERR, "unable to read %s/%s: %s", state, name,
		    ds_dir_strerror(errno));
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/*
 * The one line of a job that is not running: "job NAME FILE " and how
 * its last run ended, from STATE.
 */
static void
print_ended(const struct job *j)
{
	char buf[16384], err[1024];
	const char *how;
	int sfd;

	if ((sfd = ds_dir_open_msg(j->state, 0, err, sizeof(err))) == -1) {
		if (errno != ENOENT)
			ds_die(DS_EX_IOERR, "unable to use state directory "
			    "%s: %s", j->state, err);
		how = "never run";
	} else if ((how = state_line(sfd, j->state, "done", buf,
	    sizeof(buf))) != NULL) {
		/* One from before done had a time. */
		if (strncmp(how, "finished", 8) != 0)
			how = "finished";
	} else if ((how = state_line(sfd, j->state, "stopped", buf,
	    sizeof(buf))) != NULL)
		;
	else if (state_line(sfd, j->state, "epochs", buf, sizeof(buf)) !=
	    NULL)
		how = "interrupted: its last run neither finished nor "
		    "stopped (ds-master was killed?); run resumes it";
	else
		how = "never run";
	printf("job %s %s %s\n", j->name, j->file, how);
	if (sfd != -1)
		close(sfd);
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * SIGINT and SIGTERM only end the wait, even when they were ignored (a
 * background job of a shell): the stop is asked already.  Set before
 * asking, so that none comes too early to be caught.
 */
static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
}

/*
 * Wait until the master of j has released STATE/lock; 0, or -1 after
 * STOP_WAIT_S or on SIGINT or SIGTERM (catch_signals).
 */
static int
wait_ended(const struct job *j)
{
	struct timespec ts = { 0, POLL_NS };
	long n;

	for (n = 0; locked(j->state); n++) {
		if (interrupted || n >= STOP_WAIT_S * (1000000000L / POLL_NS))
			return -1;
		(void)nanosleep(&ts, NULL);
	}
	return 0;
}

/* Fill j->name, file, state from the answer to "job": three lines. */
static int
job_of(struct job *j, char *ans)
{
	char *l[3], *nl;
	int i;

	for (i = 0; i < 3; i++) {
		if ((nl = strchr(ans, '\n')) == NULL)
			return -1;
		*nl = '\0';
		l[i] = ans;
		ans = nl + 1;
	}
	j->name = xstrdup(l[0]);
	j->file = xstrdup(l[1]);
	j->state = xstrdup(l[2]);
	return 0;
}

/* What we know of the job: from FILE, or only its RUNDIR; 1 for RUNDIR. */
static int
job_init(struct job *j, const struct ds_common *co, const char *target)
{
	struct stat sb;

	memset(j, 0, sizeof(*j));
	if (stat(target, &sb) == -1)
		ds_die(DS_EX_NOINPUT, "%s: cannot open: %s", target,
		    strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		j->run = xstrdup(target);
		return 1;
	}
	master_load(co, target);
	j->name = M.topo.name;
	j->file = M.topo.path;
	j->state = M.topo.state;
	j->run = M.topo.run;
	return 0;
}

/* A job that is not running: say how it ended; 3. */
static int
not_running(const struct job *j)
{
	if (j->state != NULL)
		print_ended(j);
	else
		printf("run directory %s: no ds-master runs there\n", j->run);
	return DS_EX_NOTRUNNING;
}

static int
flush_out(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	return rc;
}

int
client_status(const struct ds_common *co, const char *target)
{
	struct ds_buf ans = DS_BUF_INIT;
	char err[1024];
	struct job j;

	(void)job_init(&j, co, target);
	if (!locked(j.state != NULL ? j.state : j.run))
		return flush_out(not_running(&j));
	if (ctl(j.run, "status", &ans, err, sizeof(err)) == -1) {
		/* It may have ended meanwhile. */
		if (!locked(j.state != NULL ? j.state : j.run))
			return flush_out(not_running(&j));
		ds_die(DS_EX_UNAVAILABLE, "%s", err);
	}
	fputs((const char *)ans.p, stdout);
	ds_buf_free(&ans);
	return flush_out(DS_EX_OK);
}

int
client_stop(const struct ds_common *co, const char *target, int nowait)
{
	struct ds_buf ans = DS_BUF_INIT;
	char err[1024];
	struct job j;
	int isdir;

	isdir = job_init(&j, co, target);
	if (!locked(j.state != NULL ? j.state : j.run))
		return flush_out(not_running(&j));
	if (isdir) {
		if (ctl(j.run, "job", &ans, err, sizeof(err)) == -1)
			ds_die(DS_EX_UNAVAILABLE, "%s", err);
		if (job_of(&j, (char *)ans.p) == -1)
			ds_die(DS_EX_PROTOCOL, "bad answer from %s/master to "
			    "job", j.run);
		ds_buf_free(&ans);
	}
	if (!nowait)
		catch_signals();
	if (ctl(j.run, "stop", &ans, err, sizeof(err)) == -1) {
		if (interrupted)
			ds_die(DS_EX_TEMPFAIL, "job %s %s: interrupted while "
			    "asking it to stop", j.name, j.file);
		if (!locked(j.state))
			return flush_out(not_running(&j));
		ds_die(DS_EX_UNAVAILABLE, "%s", err);
	}
	if (nowait) {
		printf("job %s %s %s", j.name, j.file, (const char *)ans.p);
		ds_buf_free(&ans);
		return flush_out(DS_EX_OK);
	}
	ds_buf_free(&ans);
	if (wait_ended(&j) == -1)
		ds_die(DS_EX_TEMPFAIL, "job %s %s: %s; it goes on stopping",
		    j.name, j.file, interrupted ? "no longer waiting" :
		    "still running after " DS_STR(STOP_WAIT_S) " s");
	print_ended(&j);
	return flush_out(DS_EX_OK);
}
