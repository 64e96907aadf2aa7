/*
 * mac.c: unit test for libds/core/mac.  A signed message checks; one
 * flipped bit anywhere (message, nonce, tag), another key, the other
 * direction or a short message does not; nonces never repeat; pieces
 * sign as their concatenation.
 */
#include <string.h>

#include <sodium.h>

#include "core/mac.h"
#include "tap.h"

static const unsigned char k1[DS_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char k2[DS_KEY_LEN] = "0123456789abcdef0123456789abcdX";

static size_t
sign(struct ds_mac *m, int dir, unsigned char *buf, const char *s)
{
	struct ds_mac_run r;
	size_t n = strlen(s);

	memcpy(buf, s, n);
	ds_mac_begin(m, dir, &r, buf + n);
	ds_mac_add(&r, buf, n);
	ds_mac_end(&r, buf + n);
	return n + DS_MAC_LEN;
}

int
main(void)
{
	struct ds_mac a, b, c;
	struct ds_mac_run r;
	unsigned char m1[256], m2[256], m3[256];
	size_t n, i;
	int all;

	ok(ds_mac_init(&a, k1) == 0 && ds_mac_init(&b, k1) == 0 &&
	    ds_mac_init(&c, k2) == 0, "init");
	n = sign(&a, DS_MAC_REQ, m1, "PULL 42 epoch 7");
	ok(ds_mac_check(&b, DS_MAC_REQ, m1, n, (size_t)-1) == 0,
	    "a message signed with the key checks with it");
	ok(ds_mac_check(&c, DS_MAC_REQ, m1, n, (size_t)-1) == -1,
	    "not with another key");
	ok(ds_mac_check(&b, DS_MAC_REP, m1, n, (size_t)-1) == -1,
	    "nor as the other direction");
	ok(ds_mac_check(&b, DS_MAC_REQ, m1, DS_MAC_LEN - 1, (size_t)-1) ==
	    -1 && ds_mac_check(&b, DS_MAC_REQ, m1, n - 1, (size_t)-1) == -1,
	    "nor short or cut");
	for (all = 1, i = 0; i < n; i++) {
		m1[i] ^= 0x01;
		if (ds_mac_check(&b, DS_MAC_REQ, m1, n, (size_t)-1) == 0)
			all = 0;
		m1[i] ^= 0x01;
	}
	ok(all, "one flipped bit anywhere fails the check");
	ok(sign(&a, DS_MAC_REQ, m2, "PULL 42 epoch 7") == n &&
	    memcmp(m1 + n - DS_MAC_LEN, m2 + n - DS_MAC_LEN,
	    DS_MAC_NONCE) != 0, "the same message gets another nonce");
	ok(memcmp(m1 + n - DS_MAC_LEN + 1, m2 + n - DS_MAC_LEN + 1, 15) ==
	    0 && m1[n - 8] != m2[n - 8], "the counter moves, the prefix not");
	memcpy(m3, "PULL 42 epoch 7", 15);
	ds_mac_begin(&a, DS_MAC_REP, &r, m3 + 15);
	ds_mac_add(&r, "PULL ", 5);
	ds_mac_add(&r, "", 0);
	ds_mac_add(&r, "42 epoch 7", 10);
	ds_mac_end(&r, m3 + 15);
	ok(ds_mac_check(&b, DS_MAC_REP, m3, 15 + DS_MAC_LEN, (size_t)-1) == 0,
	    "pieces sign as their concatenation");
	/* The documented construction, computed with libsodium alone. */
	{
		unsigned char otk[32], t[16];

		n = sign(&a, DS_MAC_REP, m1, "a REPLY and its bundles");
		crypto_stream_xchacha20(otk, 32, m1 + n - DS_MAC_LEN, k1);
		crypto_onetimeauth(t, m1, n - DS_MAC_LEN, otk);
		ok(m1[n - DS_MAC_LEN] == 'R' && memcmp(t, m1 + n - DS_MAC_TAG,
		    16) == 0, "the tag is Poly1305 under the XChaCha20 "
		    "one-time key of the nonce (ds-wire(5))");
	}
	/* A first-frame reply: only the covered bytes count. */
	{
		struct ds_mac_run r2;

		memcpy(m2, "HEADER+bulk", 11);
		ds_mac_begin(&a, DS_MAC_REPH, &r2, m2 + 11);
		ds_mac_add(&r2, m2, 6);
		ds_mac_end(&r2, m2 + 11);
		ok(ds_mac_check(&b, DS_MAC_REPH, m2, 11 + DS_MAC_LEN, 6) == 0,
		    "a tag over the first 6 bytes checks with cover 6");
		ok(ds_mac_check(&b, DS_MAC_REPH, m2, 11 + DS_MAC_LEN, 7) ==
		    -1 && ds_mac_check(&b, DS_MAC_REPH, m2, 11 + DS_MAC_LEN,
		    (size_t)-1) == -1 && ds_mac_check(&b, DS_MAC_REP, m2, 11 +
		    DS_MAC_LEN, 6) == -1, "not with another cover or "
		    "direction");
		ok(ds_mac_check(&b, DS_MAC_REPH, m2, 11 + DS_MAC_LEN, 12) ==
		    -1, "a cover past the message fails");
	}
	n = sign(&a, DS_MAC_REQ, m1, "");
	ok(n == DS_MAC_LEN && ds_mac_check(&b, DS_MAC_REQ, m1, n, (size_t)-1) == 0,
	    "an empty message signs");
	ds_mac_wipe(&a);
	return done();
}
