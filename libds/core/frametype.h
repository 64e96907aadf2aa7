/*
 * frametype.h: every frame type number and every frame flag, in one place
 * (ds-wire(5)).  A number is never reused: a reader refuses a type it
 * does not expect where it is, and a flag bit a type does not define.
 * Header only.
 */
#ifndef DS_FRAMETYPE_H
#define DS_FRAMETYPE_H

/* Data: pipes, replies and journals. */
#define DS_FRAME_BUNDLE		1	/* tuples of one producer: tuple.h */
/* Transport: a consumer pulls from a server (msg.h). */
#define DS_FRAME_PULL		2
#define DS_FRAME_REPLY		3
/* Control: instances and ds-master (msg.h). */
#define DS_FRAME_BEAT		4
#define DS_FRAME_BEATACK	5
#define DS_FRAME_CTL		6
#define DS_FRAME_CTLREPLY	7
/* Records of state logs and journals (rec.h). */
#define DS_FRAME_DELTA		8
#define DS_FRAME_MARK		9
#define DS_FRAME_ACKED		10
/* ds-journal's requests and answers (msg.h). */
#define DS_FRAME_JWRITE		11
#define DS_FRAME_JACK		12
#define DS_FRAME_JREAD		13
#define DS_FRAME_JDATA		14
#define DS_FRAME_JSTAT		15
#define DS_FRAME_JSTATR		16
/* One more record (rec.h). */
#define DS_FRAME_TIMER		17
/* Data: the last frame of a pipe stream a writer finished (tuple.h). */
#define DS_FRAME_END		18

/*
 * Frame flags.  Only PULL defines one: EPOCHS, the producer epochs the
 * positions refer to follow the position vector.  Every other type has
 * none, and a set bit is refused.
 */
#define DS_PULL_EPOCHS		0x0001

/*
 * Flags of a producer's position, in a REPLY and in a MARK.  STOPPED, in
 * a REPLY only and only with ENDED: the end is an orderly stop of the
 * job; the stream goes on after it in the next run.
 */
#define DS_PROD_ENDED		0x1	/* the producer's stream ended */
#define DS_PROD_STOPPED		0x2	/* ... for now: the job stops */

#endif
