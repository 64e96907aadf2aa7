/*
 * mac.h: message authentication with the job key (ds-wire(5),
 * AUTHENTICATION).  Every message between the processes of a job ends
 * in a 40-byte trailer: a 24-byte nonce and a 16-byte tag.  The tag is
 * Poly1305 over the message bytes before the trailer, keyed by the first
 * 32 bytes of the XChaCha20 keystream of the job key and the nonce (the
 * MAC half of libsodium's XChaCha20-Poly1305 construction): a fresh
 * one-time key per message, so the nonce must never repeat under one
 * key.  libsodium derives the one-time key and compares tags; the
 * Poly1305 over the bytes is OpenSSL's, which uses AVX-512 or AVX2 where
 * the CPU has them (8.8 GB/s against libsodium's 2.5 on the benchmark
 * host: the MAC is on every byte of every tuple that crosses a socket).  The nonce is: direction (1 byte: 'Q' request, 'R' reply), the
 * sender's pid (4 bytes), 11 random bytes drawn when the key is set, and
 * a 64-bit counter.  A receiver checks the direction, then the tag, in
 * constant time, before it believes anything in the message.
 *
 * Pure computation, no I/O besides the random draw; never prints.
 */
#ifndef DS_MAC_H
#define DS_MAC_H

#include <stddef.h>
#include <stdint.h>


#define DS_KEY_LEN	32
#define DS_MAC_NONCE	24
#define DS_MAC_TAG	16
#define DS_MAC_LEN	(DS_MAC_NONCE + DS_MAC_TAG)

#define DS_MAC_REQ	'Q'	/* a request */
#define DS_MAC_REQP	'q'	/* a request over a private channel */
#define DS_MAC_REP	'R'	/* a reply, every byte covered */
#define DS_MAC_REPH	'r'	/* a reply, its first frame covered */

struct evp_mac_ctx_st;

struct ds_mac {
	unsigned char		 key[DS_KEY_LEN];
	unsigned char		 nonce[DS_MAC_NONCE];	/* the next one */
	uint64_t		 ctr;
	struct evp_mac_ctx_st	*sign, *check;		/* OpenSSL's */
};

/* One message being signed (by its ds_mac: one at a time). */
struct ds_mac_run {
	struct evp_mac_ctx_st	*ctx;
};

/*
 * Set the key; 0, or -1 (libsodium or OpenSSL failed to start, no
 * random, ENOMEM).
 */
int	ds_mac_init(struct ds_mac *, const unsigned char key[DS_KEY_LEN]);
/* Forget the key (zeroed) and free what init took. */
void	ds_mac_wipe(struct ds_mac *);
/*
 * Sign a message going direction dir: begin writes the nonce to the
 * trailer out and starts r, add takes the message's bytes in order (any
 * number of pieces), end writes the tag to out.
 */
void	ds_mac_begin(struct ds_mac *, int dir, struct ds_mac_run *r,
	    unsigned char out[DS_MAC_LEN]);
void	ds_mac_add(struct ds_mac_run *, const void *, size_t);
void	ds_mac_end(struct ds_mac_run *, unsigned char out[DS_MAC_LEN]);
/*
 * msg/len is a whole received message, trailer included: 0 if it is
 * authentic and goes direction dir, else -1 (too short, wrong direction,
 * wrong tag).  The tag covers the first cover bytes (at most len -
 * DS_MAC_LEN; ds_mac_add had them); (size_t)-1: every byte before the
 * trailer.
 */
int	ds_mac_check(struct ds_mac *, int dir, const unsigned char *msg,
	    size_t len, size_t cover);

#endif
