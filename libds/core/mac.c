/*
 * mac.c: the job key's message authentication (mac.h).
 */
#include <sys/random.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/mac.h"
#include "core/wire.h"

int
ds_mac_init(struct ds_mac *m, const unsigned char key[DS_KEY_LEN])
{
	EVP_MAC *poly;

	if (sodium_init() < 0) {
		errno = ENOSYS;
		return -1;
	}
	memset(m, 0, sizeof(*m));
	if ((poly = EVP_MAC_fetch(NULL, "POLY1305", NULL)) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	m->sign = EVP_MAC_CTX_new(poly);
	m->check = EVP_MAC_CTX_new(poly);
	EVP_MAC_free(poly);
	if (m->sign == NULL || m->check == NULL) {
		ds_mac_wipe(m);
		errno = ENOMEM;
		return -1;
	}
	memcpy(m->key, key, DS_KEY_LEN);
	ds_put_le32(m->nonce + 1, (uint32_t)getpid());
	if (getrandom(m->nonce + 5, 11, 0) != 11) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

void
ds_mac_wipe(struct ds_mac *m)
{
	EVP_MAC_CTX_free(m->sign);
	EVP_MAC_CTX_free(m->check);
	sodium_memzero(m, sizeof(*m));
}

/*
 * Start r on ctx with the one-time key of nonce.  OpenSSL fails here only
 * on a broken build (a 32-byte Poly1305 key is always accepted): r->ctx
 * is then NULL and the message gets a tag no one accepts.
 */
static void
start(const struct ds_mac *m, void *ctx,
    const unsigned char nonce[DS_MAC_NONCE], struct ds_mac_run *r)
{
	unsigned char otk[crypto_onetimeauth_KEYBYTES];

	crypto_stream_xchacha20(otk, sizeof(otk), nonce, m->key);
	r->ctx = EVP_MAC_init(ctx, otk, sizeof(otk), NULL) == 1 ? ctx : NULL;
	sodium_memzero(otk, sizeof(otk));
}

/* The tag of r into out; all zeroes (checked as wrong) on failure. */
static void
finish(struct ds_mac_run *r, unsigned char out[DS_MAC_TAG])
{
	size_t n = 0;

	if (r->ctx == NULL ||
	    EVP_MAC_final(r->ctx, out, &n, DS_MAC_TAG) != 1 ||
	    n != DS_MAC_TAG)
		memset(out, 0, DS_MAC_TAG);
	r->ctx = NULL;
}

void
ds_mac_begin(struct ds_mac *m, int dir, struct ds_mac_run *r,
    unsigned char out[DS_MAC_LEN])
{
	m->nonce[0] = (unsigned char)dir;
	ds_put_le64(m->nonce + 16, m->ctr++);
	memcpy(out, m->nonce, DS_MAC_NONCE);
	start(m, m->sign, out, r);
}

void
ds_mac_add(struct ds_mac_run *r, const void *p, size_t len)
{
	if (len > 0 && r->ctx != NULL && EVP_MAC_update(r->ctx, p, len) != 1)
		r->ctx = NULL;
}

void
ds_mac_end(struct ds_mac_run *r, unsigned char out[DS_MAC_LEN])
{
	finish(r, out + DS_MAC_NONCE);
}

int
ds_mac_check(struct ds_mac *m, int dir, const unsigned char *msg, size_t len,
    size_t cover)
{
	static const unsigned char zero[DS_MAC_TAG];
	struct ds_mac_run r;
	unsigned char t[DS_MAC_TAG];
	const unsigned char *tr;

	if (len < DS_MAC_LEN)
		return -1;
	tr = msg + len - DS_MAC_LEN;
	if (tr[0] != (unsigned char)dir)
		return -1;
	if (cover == (size_t)-1)
		cover = len - DS_MAC_LEN;
	if (cover > len - DS_MAC_LEN)
		return -1;
	start(m, m->check, tr, &r);
	ds_mac_add(&r, msg, cover);
	finish(&r, t);
	if (crypto_verify_16(t, zero) == 0)
		return -1;		/* OpenSSL failed */
	return crypto_verify_16(t, tr + DS_MAC_NONCE) == 0 ? 0 : -1;
}
