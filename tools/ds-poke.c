/*
 * ds-poke: a test client that speaks the topology messages by hand
 * (never installed): to play a peer, or a stranger without the job key.
 *
 *	ds-poke pull ADDR CONSUMER EPOCH [PRODUCER:FROM:ACK:PEPOCH]...
 *	ds-poke beat ADDR ID EPOCH
 *	ds-poke ctl ADDR COMMAND
 *
 * pull sends one PULL (wait 0) and prints the REPLY's status ("OK",
 * "FENCED", "UNKNOWN"), then "tuples N" over its bundles; beat prints
 * the BEATACK ("OK", "FENCED", "STOP"); ctl prints the CTLREPLY text.
 * The key is the file $DS_KEY_FILE, else the per-user key.  No answer
 * within $DS_CALL_TIMEOUT seconds (default 2): exit 69 (what a
 * stranger gets).  Bad usage: 64; a bad answer: 76.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ds.h"
#include "core/msg.h"
#include "net/pull.h"

static void
usage(void)
{
	fprintf(stderr, "usage: ds-poke pull ADDR CONSUMER EPOCH "
	    "[PRODUCER:FROM:ACK:PEPOCH]...\n"
	    "       ds-poke beat ADDR ID EPOCH\n"
	    "       ds-poke ctl ADDR COMMAND\n");
	exit(DS_EX_USAGE);
}

static uint64_t
num(const char *s, char **end)
{
	char *e;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0 || e == s || *s == '-' || (end == NULL && *e != '\0'))
		usage();
	if (end != NULL)
		*end = e;
	return v;
}

static void
call(const char *addr, struct ds_buf *req, struct ds_buf *rep)
{
	const char *t = getenv("DS_CALL_TIMEOUT");
	double timeout = t != NULL ? atof(t) : 2.0;

	if (ds_pull_call(addr, req->p, req->len, rep, timeout) == -1)
		ds_die(DS_EX_UNAVAILABLE, "no answer from %s: %s", addr,
		    errno == ETIMEDOUT ? "timed out" : ds_pull_strerror(errno));
}

/* The first frame of rep, of type want. */
static void
first(const struct ds_buf *rep, uint16_t want, struct ds_frame *f,
    size_t *off)
{
	const char *why = "wrong type";

	*off = 0;
	if (ds_msg_next(rep->p, rep->len, off, f, &why) != 1 ||
	    f->type != want)
		ds_die(DS_EX_PROTOCOL, "bad answer: %s", why);
}

static int
do_pull(const char *addr, int argc, char **argv)
{
	static const char *st[] = { "OK", "FENCED", "UNKNOWN" };
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_pos pos[64];
	struct ds_pull_msg m;
	struct ds_reply_msg r;
	struct ds_frame f;
	const char *why;
	uint64_t tuples = 0;
	size_t off;
	char *e;
	int i;

	if (argc < 2 || argc - 2 > 64)
		usage();
	memset(&m, 0, sizeof(m));
	memset(pos, 0, sizeof(pos));
	m.consumer = num(argv[0], NULL);
	m.epoch = (uint32_t)num(argv[1], NULL);
	m.max_tuples = 1u << 20;
	m.max_bytes = 1u << 22;
	m.n = (uint32_t)(argc - 2);
	m.pos = pos;
	for (i = 2; i < argc; i++) {
		pos[i - 2].producer = num(argv[i], &e);
		if (*e++ != ':')
			usage();
		pos[i - 2].from = num(e, &e);
		if (*e++ != ':')
			usage();
		pos[i - 2].ack = num(e, &e);
		if (*e++ != ':')
			usage();
		pos[i - 2].epoch = (uint32_t)num(e, NULL);
	}
	if (ds_msg_pull_put(&req, &m) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	call(addr, &req, &rep);
	first(&rep, DS_FRAME_REPLY, &f, &off);
	if (ds_msg_reply_get(&r, f.payload, f.len, &why) == -1)
		ds_die(DS_EX_PROTOCOL, "bad reply: %s", why);
	while (ds_msg_next(rep.p, rep.len, &off, &f, &why) == 1)
		if (f.type == DS_FRAME_BUNDLE && f.len >= 16)
			tuples += ds_get_le32(f.payload + 12);
	printf("%s\ntuples %llu\n", r.status < 3 ? st[r.status] : "?",
	    (unsigned long long)tuples);
	free(r.pos);
	return 0;
}

static int
do_beat(const char *addr, const char *id, const char *epoch)
{
	static const char *st[] = { "OK", "FENCED", "STOP" };
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_beat_msg b;
	struct ds_frame f;
	const char *why;
	uint32_t s;
	size_t off;

	memset(&b, 0, sizeof(b));
	b.id = num(id, NULL);
	b.epoch = (uint32_t)num(epoch, NULL);
	b.pid = (uint32_t)getpid();
	if (ds_msg_beat_put(&req, &b) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	call(addr, &req, &rep);
	first(&rep, DS_FRAME_BEATACK, &f, &off);
	if (ds_msg_beatack_get(&s, f.payload, f.len, &why) == -1)
		ds_die(DS_EX_PROTOCOL, "bad beatack: %s", why);
	printf("%s\n", s < 3 ? st[s] : "?");
	return 0;
}

static int
do_ctl(const char *addr, const char *cmd)
{
	struct ds_buf req = DS_BUF_INIT, rep = DS_BUF_INIT;
	struct ds_frame f;
	size_t off;

	if (ds_msg_text_put(&req, DS_FRAME_CTL, cmd, strlen(cmd)) == -1)
		ds_die(DS_EX_OSERR, "out of memory");
	call(addr, &req, &rep);
	first(&rep, DS_FRAME_CTLREPLY, &f, &off);
	fwrite(f.payload, 1, f.len, stdout);
	return 0;
}

int
main(int argc, char *argv[])
{
	ds_progname = "ds-poke";
	if (argc < 4)
		usage();
	ds_node_setkey(getenv("DS_KEY_FILE"));
	if (strcmp(argv[1], "pull") == 0)
		return do_pull(argv[2], argc - 3, argv + 3);
	if (strcmp(argv[1], "beat") == 0 && argc == 5)
		return do_beat(argv[2], argv[3], argv[4]);
	if (strcmp(argv[1], "ctl") == 0 && argc == 4)
		return do_ctl(argv[2], argv[3]);
	usage();
	return DS_EX_USAGE;
}
