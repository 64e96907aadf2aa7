/*
 * exit.h: the closed set of exit codes every dstream executable may use.
 * Values are sysexits(3); each man page's EXIT STATUS lists the ones it uses.
 * Header only.
 */
#ifndef DS_EXIT_H
#define DS_EXIT_H

#define DS_EX_OK		0	/* success */
#define DS_EX_FALSE		1	/* a predicate answered "no" */
#define DS_EX_NOTRUNNING	3	/* status of a job not running (LSB) */
#define DS_EX_USAGE		64	/* bad options or operands */
#define DS_EX_DATAERR		65	/* malformed frame, tuple or journal */
#define DS_EX_NOINPUT		66	/* input file missing or unreadable */
#define DS_EX_UNAVAILABLE	69	/* endpoint could not be bound/connected */
#define DS_EX_SOFTWARE		70	/* internal error, or user code failed */
#define DS_EX_OSERR		71	/* a system call failed */
#define DS_EX_IOERR		74	/* read, write or fsync failed */
#define DS_EX_TEMPFAIL		75	/* retryable: timeout, back-pressure */
#define DS_EX_PROTOCOL		76	/* wrong magic or version, protocol broken */
#define DS_EX_CONFIG		78	/* invalid configuration */

#endif
