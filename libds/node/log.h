/*
 * log.h: one line per event on stderr, "prog: level: message key=value ...".
 * Levels are checked before arguments are formatted; errno is preserved by
 * every call that returns.  Only bin/ uses the ds_die* calls: libds itself
 * never prints and never exits.
 */
#ifndef DS_LOG_H
#define DS_LOG_H

#include <stdarg.h>

enum ds_log_level {
	DS_LOG_FATAL = 0,
	DS_LOG_WARN = 1,
	DS_LOG_INFO = 2,
	DS_LOG_DEBUG = 3
};

extern const char	*ds_progname;
extern int		 ds_log_max;	/* highest level printed; default WARN */

/* Context appended to every line as logfmt fields, e.g. "node=count".
 * Borrowed. */
void	ds_log_context(const char *);

void	ds_log(enum ds_log_level, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	ds_vlog(enum ds_log_level, int, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));

#define ds_warn(...)	do { if (ds_log_max >= DS_LOG_WARN) \
	ds_log(DS_LOG_WARN, 0, __VA_ARGS__); } while (0)
#define ds_warnsys(...)	do { if (ds_log_max >= DS_LOG_WARN) \
	ds_log(DS_LOG_WARN, 1, __VA_ARGS__); } while (0)
#define ds_info(...)	do { if (ds_log_max >= DS_LOG_INFO) \
	ds_log(DS_LOG_INFO, 0, __VA_ARGS__); } while (0)
#define ds_debug(...)	do { if (ds_log_max >= DS_LOG_DEBUG) \
	ds_log(DS_LOG_DEBUG, 0, __VA_ARGS__); } while (0)

/* Print "prog: fatal: ..." (with ": strerror(errno)" for _sys) and exit. */
void	ds_die(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	ds_diesys(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#define DS_ASSERT(x) do {						\
	if (!(x))							\
		ds_assert_fail(#x, __FILE__, __LINE__);			\
} while (0)
void	ds_assert_fail(const char *, const char *, int)
	    __attribute__((noreturn));

#endif
