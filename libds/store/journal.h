/*
 * journal.h: ds-journal's durable store (format in ds-journal(5)).  A
 * directory holds segment files journal.NNNNNNNN (a 32-byte header, then
 * JWRITE frames exactly as writers sent them) and a Tokyo Cabinet hash
 * database state.tch that holds everything up to the last checkpoint.
 * journal.c and tcstore.c (ds-sink --tc) are the only files that include
 * Tokyo Cabinet.
 *
 * In memory: per writer its epoch, last MARK, last ACKED mark, timers,
 * the records after its last MARK (pending) and its outputs not yet
 * acked; and an overlay of the state changes since the checkpoint (the
 * keys themselves live in state.tch).  A JWRITE is checked whole, then
 * applied to memory and queued; ds_journal_sync writes every queued
 * JWRITE with one write(2) and one fdatasync(2) (group commit): only then
 * may the writers be answered.  A checkpoint writes the overlay and the
 * writers into state.tch in one transaction, then drops old segments.
 *
 * Never prints, never exits: failures are -1 with errno, j->err and a
 * DS_EX_* code in j->code.
 */
#ifndef DS_JOURNAL_H
#define DS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/msg.h"

#define DS_JOURNAL_SEGHDR	32
#define DS_JOURNAL_VERSION	1
/* exit.h has no "cannot create"; ds-journal uses sysexits' 73 for it. */
#define DS_JOURNAL_EX_CANTCREAT	73

struct ds_journal;

struct ds_journal_stats {
	uint64_t	 writes;	/* JWRITEs accepted */
	uint64_t	 records;	/* records in them */
	uint64_t	 bytes;		/* journal bytes written */
	uint64_t	 syncs;		/* group commits (fdatasync) */
	uint64_t	 sync_ns;	/* total time in write + fdatasync */
	uint64_t	 sync_max_ns;
	uint64_t	 fenced;	/* stale-epoch requests refused */
	uint64_t	 bad;		/* malformed JWRITEs refused */
	uint64_t	 checkpoints;
	uint64_t	 writers;
	uint64_t	 segment;	/* current segment number */
	uint64_t	 since_ckpt;	/* journal bytes since the checkpoint */
	uint64_t	 torn;		/* torn tails cut at open */
};

/*
 * Segment header: "\0DSJ" version:u16 flags:u16 seq:u64 created_ns:u64
 * reserved:u32 crc32c:u32 (over bytes 0..27).
 */
void	ds_journal_seghdr_pack(unsigned char *, uint64_t seq, uint64_t ns);
/* 0 and *seq, or -1/EBADMSG (bad magic, flags or CRC) or EPROTO (version). */
int	ds_journal_seghdr_unpack(const unsigned char *, size_t, uint64_t *seq,
	    const char **why);

/*
 * Check every record body of a decoded JWRITE (DELTA, MARK, ACKED, TIMER,
 * BUNDLE; nothing else).  0, or -1/EBADMSG with *why.
 */
int	ds_journal_check(const struct ds_jwrite_msg *, const char **why);

/*
 * Walk the JWRITE frames of one segment image p[0..len) (header
 * included), checking each whole (frame CRC, JWRITE, record bodies), and
 * call fn for each (NULL: only check).  Returns 0 with *good = len when
 * everything is good; 1 with *good = end of the last good record when the
 * segment ends in a torn tail (a bad or partial record with no good
 * record anywhere after it); -1 with *bad = offset of the bad record and
 * *why when a bad record is followed by a good one (corruption), or the
 * header is bad, or fn failed (errno from fn).
 */
int	ds_journal_scan(const unsigned char *p, size_t len,
	    int (*fn)(void *, const unsigned char *frame, size_t flen,
	    uint64_t off), void *arg, size_t *good, size_t *bad,
	    const char **why);

/*
 * Open dir (which must exist and be private: core/dir.h) and recover.  On
 * failure NULL and *code (DS_EX_NOINPUT dir missing, DS_EX_UNAVAILABLE
 * state.tch locked by another process, DS_EX_DATAERR corruption,
 * DS_JOURNAL_EX_CANTCREAT, DS_EX_IOERR: also a directory that is not
 * private, or a symbolic link or non-file where a segment or state.tch
 * should be) with the message in err.  A torn tail cut at open is
 * reported through warn (may be NULL) and counted.
 */
struct ds_journal *ds_journal_open(const char *dir, int *code, char *err,
	    size_t errlen, void (*warn)(const char *));
void	ds_journal_close(struct ds_journal *);
const char *ds_journal_error(const struct ds_journal *);
int	ds_journal_code(const struct ds_journal *);

/*
 * Apply one JWRITE frame (whole: header and payload, CRC already
 * checked) and queue it for the next sync.  Returns the JACK status
 * (DS_J_OK, DS_J_FENCED, DS_J_BAD) and the writer's epoch in *epoch;
 * -1 with errno ENOMEM.  DS_J_OK is only a promise once
 * ds_journal_sync returned 0.
 */
int	ds_journal_apply(struct ds_journal *, const unsigned char *frame,
	    size_t len, uint32_t *epoch);
/*
 * Raise writer's epoch to epoch (a reader recovering it) and queue the
 * raise.  DS_J_OK, or DS_J_FENCED when epoch is older than the writer's;
 * -1/ENOMEM.  Records after the writer's last MARK are dropped.
 */
int	ds_journal_raise(struct ds_journal *, uint64_t writer, uint32_t epoch,
	    uint32_t *cur);
/* Whether writer is in the writer table (it wrote or was raised). */
int	ds_journal_known(const struct ds_journal *, uint64_t writer);
/* writer's epoch now (the highest applied or raised), 0 if unknown. */
uint32_t ds_journal_epoch(struct ds_journal *, uint64_t writer);
/* Bytes queued and not yet synced. */
size_t	ds_journal_queued(const struct ds_journal *);
/*
 * Write the queue and fdatasync.  0; or 1 when the write ran out of
 * space (ENOSPC, EDQUOT): the segment was cut back to the last sync and
 * memory rebuilt from disk, so nothing queued since then is applied, on
 * disk or in memory (its writers must be told FULL), and the journal
 * goes on (err says what was refused); or -1 with errno and err (fatal:
 * a failed fdatasync, any other write error, or the rebuild failed).
 */
int	ds_journal_sync(struct ds_journal *);
/*
 * Checkpoint (nothing may be queued): a new segment, then state.tch is
 * written in one transaction by a thread while the caller goes on
 * applying and syncing; notify (may be NULL) is called from that thread
 * when it is done, and the caller then calls ds_journal_ckpt_finish
 * (which joins it and removes the old segments).  Recovery must not be
 * called while ds_journal_ckpt_busy.  0, or -1 with errno, err and code.
 * ds_journal_checkpoint does all of it, blocking.
 */
int	ds_journal_ckpt_start(struct ds_journal *, void (*notify)(void *),
	    void *arg);
int	ds_journal_ckpt_busy(const struct ds_journal *);
int	ds_journal_ckpt_finish(struct ds_journal *);
int	ds_journal_checkpoint(struct ds_journal *);
/*
 * The recovery stream of writer (msg.h JDATA) into out (reset first):
 * frames DELTA..., TIMER..., MARK, ACKED, BUNDLE....  0, or -1 with code
 * (DS_EX_DATAERR: a state.tch value failed its CRC, named in err).
 */
int	ds_journal_recovery(struct ds_journal *, uint64_t writer,
	    struct ds_buf *out);
void	ds_journal_stats(const struct ds_journal *, struct ds_journal_stats *);
/*
 * Tests only: replace write(2) and fdatasync(2) for segment appends
 * (NULL restores them), to inject short writes and I/O errors.
 */
void	ds_journal_set_io(struct ds_journal *,
	    ssize_t (*wr)(int, const void *, size_t), int (*sync)(int));

#endif
