/*
 * tools/bench/rategen: the latency benchmarks' paced input.  Writes 1 KB
 * lines ("k<n> <i> " padded with x) to stdout at RATE lines a second for
 * SECONDS, in 1 ms steps, keyed over KEYS keys.  Written in C as the Python
 * version it replaces took 15% of a two-CPU machine at 360 000 lines a
 * second, CPU the topology under test was then short of.  Not a test.
 *
 *	tools/bench/rategen RATE SECONDS KEYS
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE	1024		/* bytes a line, newline included */
#define NLINES	4096		/* distinct lines, repeated */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
number(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v <= 0) {
		fprintf(stderr, "rategen: bad %s: '%s'\n", what, s);
		exit(64);
	}
	return v;
}

/* Write lines [from, to) of the repeating block. */
static void
put(const char *blk, unsigned long long from, unsigned long long to)
{
	while (from < to) {
		size_t i = (size_t)(from % NLINES), n = NLINES - i;
		const char *p;
		size_t len;
		ssize_t w;

		if (n > to - from)
			n = (size_t)(to - from);
		p = blk + i * LINE;
		len = n * LINE;
		while (len > 0) {
			if ((w = write(STDOUT_FILENO, p, len)) == -1) {
				if (errno == EINTR)
					continue;
				if (errno != EPIPE)
					perror("rategen: write");
				exit(1);
			}
			p += w;
			len -= (size_t)w;
		}
		from += n;
	}
}

int
main(int argc, char *argv[])
{
	double rate, secs, t0, el;
	unsigned long long total, sent = 0, due;
	unsigned long keys;
	struct timespec step = { 0, 500000 };
	char *blk;
	size_t i;

	if (argc != 4) {
		fprintf(stderr, "usage: rategen RATE SECONDS KEYS\n");
		return 64;
	}
	rate = number(argv[1], "RATE");
	secs = number(argv[2], "SECONDS");
	keys = (unsigned long)number(argv[3], "KEYS");
	if (keys == 0) {
		fprintf(stderr, "rategen: bad KEYS: '%s'\n", argv[3]);
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	total = (unsigned long long)(rate * secs);
	if ((blk = malloc((size_t)NLINES * LINE)) == NULL) {
		perror("rategen");
		return 71;
	}
	for (i = 0; i < NLINES; i++) {
		char *l = blk + i * LINE;
		int n = snprintf(l, LINE, "k%lu %zu ",
		    (unsigned long)(i * 7919 % keys), i);

		memset(l + n, 'x', (size_t)(LINE - 1 - n));
		l[LINE - 1] = '\n';
	}
	t0 = now();
	while (sent < total) {
		el = now() - t0;
		due = (unsigned long long)(el * rate);
		if (due > total)
			due = total;
		if (due <= sent) {
			nanosleep(&step, NULL);
			continue;
		}
		put(blk, sent, due);
		sent = due;
	}
	free(blk);
	return 0;
}
