/*
 * opt.c: shared option handling.  --help prints the usage text (the same
 * words as the man page SYNOPSIS) and popt's option table on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <popt.h>

#include "core/exit.h"
#include "core/key.h"
#include "net/pull.h"
#include "node/log.h"
#include "node/opt.h"

#ifndef DS_VERSION
#define DS_VERSION "0.0.0"
#endif

static void
print_usage(FILE *fp, const struct ds_common *co)
{
	const char *s = co->usage ? co->usage : ds_progname;
	const char *nl;
	int first = 1;

	for (;;) {
		nl = strchr(s, '\n');
		fprintf(fp, "%s%.*s\n", first ? "usage: " : "       ",
		    nl ? (int)(nl - s) : (int)strlen(s), s);
		first = 0;
		if (nl == NULL)
			break;
		s = nl + 1;
	}
}

static void
print_help(const struct ds_common *co, poptContext pc)
{
	char *tab = NULL, *p;
	size_t len = 0;
	FILE *mf;

	print_usage(stdout, co);
	fputc('\n', stdout);
	if ((mf = open_memstream(&tab, &len)) != NULL) {
		poptPrintHelp(pc, mf, 0);
		fclose(mf);
		/* popt's first line is its own "Usage:"; ours is above. */
		p = strchr(tab, '\n');
		fputs(p ? p + 1 : tab, stdout);
		free(tab);
	}
	fflush(stdout);
}

void
ds_dieusage(const struct ds_common *co, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ds_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage(stderr, co);
	exit(DS_EX_USAGE);
}

uint64_t
ds_opt_u64(const struct ds_common *co, const char *opt, const char *s,
    uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (s == NULL || *s < '0' || *s > '9')
		ds_dieusage(co, "%s: not a number: '%s'", opt, s ? s : "");
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		ds_dieusage(co, "%s: not a number: '%s'", opt, s);
	if (v < min || v > max)
		ds_dieusage(co, "%s: %llu out of range %llu..%llu", opt, v,
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}

uint64_t
ds_opt_size(const struct ds_common *co, const char *opt, const char *s,
    uint64_t min, uint64_t max)
{
	char num[32];
	size_t n;
	unsigned shift = 0;
	uint64_t v;

	n = s ? strlen(s) : 0;
	if (n > 0 && n < sizeof(num)) {
		switch (s[n - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		}
	}
	if (shift == 0 || n >= sizeof(num))
		return ds_opt_u64(co, opt, s, min, max);
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	v = ds_opt_u64(co, opt, num, 0, UINT64_MAX >> shift);
	v <<= shift;
	if (v < min || v > max)
		ds_dieusage(co, "%s: %s out of range %llu..%llu", opt, s,
		    (unsigned long long)min, (unsigned long long)max);
	return v;
}

int
ds_opt_next(struct ds_common *co, poptContext pc)
{
	int rc;
	char *arg;

	while ((rc = poptGetNextOpt(pc)) > 0) {
		switch (rc) {
		case DS_OPT_VERBOSE:
			if (ds_log_max < DS_LOG_DEBUG)
				ds_log_max++;
			break;
		case DS_OPT_QUIET:
			ds_log_max = DS_LOG_FATAL;
			break;
		case DS_OPT_VERSION:
			printf("%s %s\n", ds_progname, DS_VERSION);
			exit(DS_EX_OK);
		case DS_OPT_HELP:
			print_help(co, pc);
			exit(DS_EX_OK);
		case DS_OPT_CHECK:
			co->check = 1;
			break;
		case DS_OPT_NOTIFYFD:
			arg = poptGetOptArg(pc);
			co->notify_fd = (int)ds_opt_u64(co, "--notify-fd", arg,
			    3, 1 << 20);
			free(arg);
			if (fcntl(co->notify_fd, F_GETFD) == -1)
				ds_dieusage(co, "--notify-fd: %d is not open",
				    co->notify_fd);
			break;
		default:
			return rc;
		}
	}
	if (rc < -1)
		ds_dieusage(co, "%s: %s", poptBadOption(pc, 0),
		    poptStrerror(rc));
	return -1;
}

void
ds_node_addr_ok(const struct ds_common *co, int tcp, const char *opt,
    const char *addr)
{
	if (addr == NULL || strncmp(addr, "ipc://", 6) == 0)
		return;
	if (strncmp(addr, "tcp://", 6) != 0)
		ds_dieusage(co, "%s: only ipc:// and tcp:// addresses: '%s'",
		    opt, addr);
	if (!tcp)
		ds_dieusage(co, "%s: tcp:// needs --network tcp (payloads "
		    "cross the network unencrypted): '%s'", opt, addr);
}

void
ds_node_setkey(const char *file)
{
	unsigned char key[DS_KEY_LEN];
	char def[4096];
	const char *path = file, *why = "";

	if (path == NULL) {
		if (ds_key_default(def, sizeof(def)) == -1)
			ds_diesys(DS_EX_IOERR, "the per-user key");
		path = def;
	}
	if (ds_key_load(path, file == NULL, key, &why) == -1)
		ds_die(errno == ENOENT ? DS_EX_NOINPUT : DS_EX_IOERR,
		    "key %s: %s: %s", path, why, strerror(errno));
	if (ds_pull_setkey(key) == -1)
		ds_diesys(DS_EX_OSERR, "key %s", path);
	memset(key, 0, sizeof(key));
}
