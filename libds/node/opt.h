/*
 * opt.h: options every dstream executable shares (-v -q --notify-fd
 * --version --help) and strict parsing of numeric option values.  This is
 * the bin/ side of libds: these calls print and exit on bad usage (64).
 */
#ifndef DS_OPT_H
#define DS_OPT_H

#include <stdint.h>

#include <popt.h>

struct ds_common {
	int		 notify_fd;	/* -1: none */
	const char	*usage;		/* SYNOPSIS lines, '\n' between forms */
	int		 check;		/* --check: validate, then exit 0 */
};
#define DS_COMMON_INIT	{ -1, NULL, 0 }

enum {
	DS_OPT_VERBOSE = 0x7f01,
	DS_OPT_QUIET,
	DS_OPT_NOTIFYFD,
	DS_OPT_VERSION,
	DS_OPT_HELP,
	DS_OPT_CHECK
};

#define DS_POPT_COMMON \
	{ "help", 'h', POPT_ARG_NONE, NULL, DS_OPT_HELP, \
	    "show this help and exit", NULL }, \
	{ "notify-fd", 0, POPT_ARG_STRING, NULL, DS_OPT_NOTIFYFD, \
	    "write a newline to FD when ready", "FD" }, \
	{ "quiet", 'q', POPT_ARG_NONE, NULL, DS_OPT_QUIET, \
	    "print fatal errors only", NULL }, \
	{ "verbose", 'v', POPT_ARG_NONE, NULL, DS_OPT_VERBOSE, \
	    "print more (repeat for debug)", NULL }, \
	{ "version", 0, POPT_ARG_NONE, NULL, DS_OPT_VERSION, \
	    "print the version and exit", NULL }

/*
 * --check, for the programs that ds-master(1) runs: parse and validate
 * every option as a run would, then exit 0 before acquiring anything
 * (no key is read or made, nothing is opened, bound or connected).
 * ds-master runs each process's command line with it before a job
 * starts.  Not in DS_POPT_COMMON: ds-master's own --check differs.
 */
#define DS_POPT_CHECK \
	{ "check", 0, POPT_ARG_NONE, NULL, DS_OPT_CHECK, \
	    "check the options, then exit 0 without starting", NULL }

/*
 * Next option val that is not a common one; -1 when options are done.
 * Handles the common ones itself; on a bad option prints the error and
 * usage to stderr and exits 64.
 */
int	ds_opt_next(struct ds_common *, poptContext);

/* Print "prog: msg" and the usage on stderr; exit 64. */
void	ds_dieusage(const struct ds_common *, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/* Strict unsigned number in [min, max]; dies with 64 naming opt. */
uint64_t ds_opt_u64(const struct ds_common *, const char *opt,
	    const char *s, uint64_t min, uint64_t max);
/* A byte size with optional K, M or G suffix (powers of 1024). */
uint64_t ds_opt_size(const struct ds_common *, const char *opt,
	    const char *s, uint64_t min, uint64_t max);

/*
 * Set the job key for every socket of this process (net/pull.h) from
 * file, or with NULL from the per-user key (core/key.h; made if
 * missing).  Dies 66 when file is missing, 74 when it is not private
 * or unreadable.  ds_node_cfg_validate (nodeopt.h) calls it in
 * topology mode.
 */
void	ds_node_setkey(const char *file);
/*
 * Die 64 unless addr (of option opt; NULL is fine) is ipc://, or tcp://
 * with tcp set (--network tcp: the topology asked for it).
 */
void	ds_node_addr_ok(const struct ds_common *, int tcp, const char *opt,
	    const char *addr);

#endif
