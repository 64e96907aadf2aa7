/*
 * ds-source: lines of text in, BUNDLE frames out.  Each line becomes one
 * tuple (payload = the line, seq = its line number, producer 0, epoch 0)
 * with a key and an event time picked from its fields (core/linein.h).
 * Bundles are written in big batches: when enough is ready, when the
 * input has nothing ready (complete bundles only, so an interactive
 * pipeline sees them at once), when a bundle has lingered --linger ms, and
 * at end of input (bin/source/read.c).
 *
 * Topology mode (node/node.h): bundles carry --id and --epoch and each
 * goes to the runtime as one unit whose aux is the input offset after it,
 * so a restart seeks back there and makes the same seqs again (or, from
 * standard input, which cannot be read again, goes on where it is).
 * Reading stops while the runtime holds too much.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <popt.h>

#include "ds.h"
#include "core/timefmt.h"
#include "source/source.h"

#define USAGE \
	"ds-source [-qv] [--bundle N] [--check] [--delimiter C]\n" \
	"          [--file PATH] [--key-field N] [--linger MS]\n" \
	"          [--max-tuple SIZE] [--notify-fd FD] [--rate N]\n" \
	"          [--time-field N] [--time-format FORMAT]\n" \
	"          [topology options]"

#define RATE_MAX	1000000000

/* SIGINT, SIGTERM: write out every complete line read so far, exit 0. */
static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct source *s = w->data;

	(void)revents;
	if (s->node.cfg.on)
		ds_die(DS_EX_TEMPFAIL, "stopped by signal %d; run again to "
		    "resume", w->signum);
	ds_info("signal %d: stopping after line %llu", w->signum,
	    (unsigned long long)s->li.lineno);
	source_flush(s);
	ev_break(loop, EVBREAK_ALL);
}

/* Every round: reading goes on once the runtime drained. */
static void
tick(void *arg)
{
	struct source *s = arg;

	if (s->paused && !ds_node_full(&s->node)) {
		s->paused = 0;
		source_reading(s, 1);
	}
}

/*
 * Recovered: seek back to the offset of the unit the runtime resumes
 * from (a file is read again from there, with the same seqs), and read.
 */
static void
resume(void *arg, const struct ds_node_resume *res)
{
	struct source *s = arg;

	s->li.producer = s->node.cfg.id;
	s->li.epoch = s->node.cfg.epoch;
	if (res->found) {
		if (s->regular && lseek(s->fd, (off_t)res->aux, SEEK_SET) == -1)
			ds_diesys(DS_EX_IOERR, "unable to seek %s", s->name);
		ds_linein_resume(&s->li, res->aux, res->outseq);
		ds_info("resuming %s at offset %llu, line %llu%s", s->name,
		    (unsigned long long)res->aux,
		    (unsigned long long)res->outseq + 1, !s->regular ?
		    " (after what was kept)" : res->durable > res->outseq ?
		    " (acked; later lines were durable)" : "");
	}
	source_reading(s, 1);
}

/*
 * The job stops in order: stop reading, and what was read to the last
 * whole line is the last unit (a partial line is read again by the rerun,
 * from the offset after that unit).
 */
static void
drain(void *arg)
{
	struct source *s = arg;

	s->eof = 1;		/* reading stays off */
	source_reading(s, 0);
	ev_timer_stop(s->loop, &s->rt);
	source_flush(s);
	ds_info("stopping at line %llu, offset %llu: run again to resume",
	    (unsigned long long)s->node.outseq,
	    (unsigned long long)s->node.aux);
	ds_node_end(&s->node);
}

static const struct ds_node_prog prog = {
	NULL, NULL, resume, NULL, NULL, NULL, NULL, tick, drain
};

/* Numeric options, strictly. */
static void
numbers(struct source *s, const struct ds_common *co, char *const *v)
{
	if (v[0] != NULL)
		s->li.bundle = (uint32_t)ds_opt_u64(co, "--bundle", v[0], 1,
		    65536);
	if (v[1] != NULL)
		s->li.keyfield = ds_opt_u64(co, "--key-field", v[1], 0,
		    UINT32_MAX);
	if (v[2] != NULL)
		s->linger = (unsigned)ds_opt_u64(co, "--linger", v[2], 0,
		    60000);
	if (v[3] != NULL)
		s->li.maxtuple = ds_opt_size(co, "--max-tuple", v[3], 1,
		    DS_FRAME_MAX - 1024);
	if (v[4] != NULL)
		s->li.rate = ds_opt_u64(co, "--rate", v[4], 1, RATE_MAX);
	if (v[5] != NULL)
		s->li.timefield = ds_opt_u64(co, "--time-field", v[5], 0,
		    UINT32_MAX);
}

/* A name, or a strptime(3) pattern: anything with a '%'. */
static void
time_format(struct source *s, const struct ds_common *co, const char *arg)
{
	static struct ds_timefmt_pat pat;
	const char *why;

	if (strchr(arg, '%') == NULL) {
		if ((s->li.timefmt = ds_timefmt_byname(arg)) == -1)
			ds_dieusage(co, "--time-format: unknown format '%s' "
			    "(epoch, epoch-ms, iso8601, or a pattern with %%)",
			    arg);
		return;
	}
	if ((why = ds_timefmt_pat_compile(&pat, arg)) != NULL)
		ds_dieusage(co, "--time-format '%s': %s", arg, why);
	s->li.timepat = &pat;
}

int
main(int argc, char *argv[])
{
	static struct source s;
	struct ds_common co = DS_COMMON_INIT;
	char *file = NULL, *tfname = NULL, *delim = NULL, *num[6] = { NULL };
	size_t i;
	struct poptOption opts[] = {
		{ "bundle", 0, POPT_ARG_STRING, &num[0], 0,
		    "tuples per bundle, 1..65536 (default 64)", "N" },
		DS_POPT_CHECK,
		{ "delimiter", 0, POPT_ARG_STRING, &delim, 0,
		    "fields are separated by byte C (\\t: TAB)", "C" },
		{ "file", 0, POPT_ARG_STRING, &file, 0,
		    "read PATH instead of stdin", "PATH" },
		{ "key-field", 0, POPT_ARG_STRING, &num[1], 0,
		    "field N (1-based) is the key (default 0: none)", "N" },
		{ "linger", 0, POPT_ARG_STRING, &num[2], 0,
		    "write a partial bundle after MS ms (default 5)", "MS" },
		{ "max-tuple", 0, POPT_ARG_STRING, &num[3], 0,
		    "largest key+line in bytes, K/M/G (default 1M)", "SIZE" },
		{ "rate", 0, POPT_ARG_STRING, &num[4], 0,
		    "read at most N lines per second (default: no limit)",
		    "N" },
		{ "time-field", 0, POPT_ARG_STRING, &num[5], 0,
		    "field N (1-based) is the event time", "N" },
		{ "time-format", 0, POPT_ARG_STRING, &tfname, 0,
		    "epoch (default), epoch-ms, iso8601 or a strptime(3) "
		    "pattern", "FORMAT" },
		DS_POPT_NODE(ds_node_source_opts),
		DS_POPT_COMMON,
		POPT_TABLEEND
	};

	ds_node_main(&s.node, DS_NODE_SOURCE, &co, USAGE);
	ds_linein_init(&s.li);
	s.fd = STDIN_FILENO;
	s.name = "stdin";
	s.linger = 5;
	(void)ds_node_parse(&s.node.cfg, &co, argc, argv, opts, 0);

	/* validate */
	numbers(&s, &co, num);
	if (delim != NULL && strcmp(delim, "\\t") == 0)
		s.li.delim = '\t';
	else if (delim != NULL && strlen(delim) != 1)
		ds_dieusage(&co, "--delimiter: not one byte: '%s'", delim);
	else if (delim != NULL)
		s.li.delim = (unsigned char)delim[0];
	if (tfname != NULL && s.li.timefield == 0)
		ds_dieusage(&co, "--time-format needs --time-field");
	if (tfname != NULL)
		time_format(&s, &co, tfname);
	ds_node_validate(&s.node, &co);
	if (co.check)
		exit(DS_EX_OK);	/* the input is not opened */

	/* acquire */
	signal(SIGPIPE, SIG_IGN);
	if (!s.node.cfg.on)
		ds_grow_pipe(STDOUT_FILENO);
	if ((s.loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		ds_die(DS_EX_OSERR, "unable to create the event loop");
	source_open(&s, file);
	ev_signal_init(&s.sigint, on_signal, SIGINT);
	ev_signal_init(&s.sigterm, on_signal, SIGTERM);
	s.sigint.data = s.sigterm.data = &s;
	ev_signal_start(s.loop, &s.sigint);
	ev_signal_start(s.loop, &s.sigterm);
	if (s.node.cfg.on) {
		/* Read once recovery says from where (resume). */
		s.node.maxtuple = s.li.maxtuple;
		ds_node_start(&s.node, s.loop, &co, &prog, &s);
	} else {
		source_reading(&s, 1);
		if (ds_notify_ready(&co, NULL) == -1)
			ds_warnsys("unable to signal readiness");
	}

	/* run */
	ev_run(s.loop, 0);
	ds_node_term(&s.node);
	ds_linein_term(&s.li);
	for (i = 0; i < sizeof(num) / sizeof(num[0]); i++)
		free(num[i]);
	free(file);
	free(tfname);
	free(delim);
	return DS_EX_OK;
}
