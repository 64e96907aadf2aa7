/*
 * read.c: ds-source's input.  A regular file is read from an ev_idle (as
 * fast as it goes), anything else from an ev_io; --rate paces the reads,
 * --linger closes a bundle that waited that long.  Every whole line
 * becomes a tuple (core/linein.h); a closed bundle is one unit of the
 * runtime in a topology, or waits for the next big write to stdout.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "ds.h"
#include "source.h"

#define FLUSH_AT	(256 * 1024)	/* write out once this much is ready */

/* Whether fd has input (or EOF, or an error) ready right now. */
static int
input_ready(int fd)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) != 0;
}

void
source_reading(struct source *s, int on)
{
	if (on && (s->paused || s->throttled || s->eof))
		return;
	if (s->regular)
		(on ? ev_idle_start : ev_idle_stop)(s->loop, &s->idle);
	else
		(on ? ev_io_start : ev_io_stop)(s->loop, &s->rd);
}

/* Pipe mode: write the whole bundles; the open one stays. */
static void
flush_whole(struct source *s)
{
	size_t n = ds_linein_whole(&s->li);

	if (n == 0 || s->node.cfg.on)
		return;
	if (ds_write_all(STDOUT_FILENO, s->li.out.p, n) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
	ds_linein_consume(&s->li, n);
}

void
source_flush(struct source *s)
{
	ds_linein_close(&s->li);
	flush_whole(s);
}

/*
 * A bundle closed: in a topology it is one unit now (reading stops while
 * the runtime is full); in a pipe it goes out with the next big write.
 */
static void
closed(void *arg, uint64_t lastseq, uint64_t end)
{
	struct source *s = arg;

	if (s->linger > 0)
		ev_timer_stop(s->loop, &s->lt);
	if (!s->node.cfg.on) {
		if (s->li.out.len >= FLUSH_AT)
			flush_whole(s);
		return;
	}
	ds_node_commit(&s->node, NULL, &s->li.out, lastseq, end, 0);
	if (!s->paused && ds_node_full(&s->node)) {
		s->paused = 1;
		source_reading(s, 0);
	}
}

/* A bundle opened: it goes out after --linger ms at the latest. */
static void
opened(void *arg)
{
	struct source *s = arg;

	if (s->linger == 0)
		return;
	ev_timer_set(&s->lt, s->linger / 1000.0, 0.0);
	ev_timer_start(s->loop, &s->lt);
}


/*
 * --rate: ahead of the rate, reading stops (what is complete goes out
 * now) until the rate catches up.  1 if so.
 */
static int
ahead(struct source *s)
{
	double wait = ds_linein_ahead(&s->li);

	if (wait <= 0)
		return 0;
	s->throttled = 1;
	source_reading(s, 0);
	if (!s->node.cfg.on || s->linger == 0)
		ds_linein_close(&s->li);
	flush_whole(s);
	ev_timer_set(&s->rt, wait, 0);
	ev_timer_start(s->loop, &s->rt);
	return 1;
}

/*
 * Pipe mode, the input read to its end and every bundle written: the END
 * says the stream is whole.  Line n is seq n, so the lines are the count
 * and the last seq.  Nothing else writes it: a signal or an error leaves
 * the stream without one, and readers see it cut.
 */
static void
write_end(struct source *s)
{
	struct ds_end e = { s->li.producer, s->li.epoch, s->li.lineno,
	    s->li.lineno };

	if (ds_write_end(STDOUT_FILENO, &e) == -1)
		ds_diesys(DS_EX_IOERR, "unable to write stdout");
}

/* One read(2).  Returns 0 at EOF (everything flushed), else 1. */
static int
read_chunk(struct source *s)
{
	ssize_t n;
	size_t room;
	char *p;

	if (ahead(s))
		return 1;
	room = ds_linein_room(&s->li, &p);
	if ((n = read(s->fd, p, room)) == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		ds_diesys(DS_EX_IOERR, "unable to read %s", s->name);
	}
	if (ds_linein_feed(&s->li, (size_t)n, n == 0) == -1) {
		source_flush(s);	/* the lines before it go out */
		ds_die(s->li.code, "%s", s->li.err);
	}
	if (n > 0)
		return 1;
	source_flush(s);
	ds_info("end of input: %llu lines", (unsigned long long)s->li.lineno);
	s->eof = 1;
	source_reading(s, 0);
	if (s->node.cfg.on)
		ds_node_end(&s->node);
	else {
		write_end(s);
		ev_break(s->loop, EVBREAK_ALL);
	}
	return 0;
}

static void
on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)revents;
	read_chunk(w->data);
}

static void
on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct source *s = w->data;

	(void)loop;
	(void)revents;
	if (read_chunk(s) == 0 || input_ready(s->fd))
		return;
	/* About to wait for input: let what is complete go now. */
	if (s->linger == 0)
		ds_linein_close(&s->li);
	flush_whole(s);
}

/* A bundle waited --linger ms (lt), or --rate caught up (rt). */
static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct source *s = w->data;

	(void)revents;
	if (w == &s->lt) {
		source_flush(s);
		return;
	}
	s->throttled = 0;
	source_reading(s, 1);
	(void)loop;
}

void
source_open(struct source *s, const char *file)
{
	struct stat st;

	if (file != NULL) {
		s->name = file;
		if ((s->fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			ds_diesys(DS_EX_NOINPUT, "unable to open %s", file);
	}
	if (fstat(s->fd, &st) == 0) {
		if (file != NULL && S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			ds_diesys(DS_EX_NOINPUT, "unable to open %s", file);
		}
		s->regular = S_ISREG(st.st_mode);
		if (S_ISFIFO(st.st_mode))
			ds_grow_pipe(s->fd);
	}
	if (s->regular)
		s->linger = 0;	/* a file is always ready: no waiting */
	/* A topology's source replays a file; other input is kept. */
	s->node.replayable = s->regular;
	if (!s->regular)
		s->node.noreplay = file == NULL ? "standard input cannot be "
		    "read again" : "the input is not a regular file";
	s->li.closed = closed;
	s->li.opened = opened;
	s->li.arg = s;
	if (ds_linein_open(&s->li) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	ev_idle_init(&s->idle, on_idle);
	s->idle.data = s;
	ev_io_init(&s->rd, on_read, s->fd, EV_READ);
	s->rd.data = s;
	ev_init(&s->lt, on_timer);
	s->lt.data = s;
	ev_init(&s->rt, on_timer);
	s->rt.data = s;
}

