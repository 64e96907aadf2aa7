/*
 * mac.c: the job key's message authentication (mac.h).
 */
#include <sys/random.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/mac.h"
#include "core/wire.h"

int
ds_mac_init(struct ds_mac *m, const unsigned char key[DS_KEY_LEN])
{
	if (sodium_init() < 0) {
		errno = ENOSYS;
		return -1;
	}
	memset(m, 0, sizeof(*m));
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
	sodium_memzero(m, sizeof(*m));
}

static void
start(const struct ds_mac *m, const unsigned char nonce[DS_MAC_NONCE],
    struct ds_mac_run *r)
{
	unsigned char otk[crypto_onetimeauth_KEYBYTES];

	crypto_stream_xchacha20(otk, sizeof(otk), nonce, m->key);
	crypto_onetimeauth_init(&r->st, otk);
	sodium_memzero(otk, sizeof(otk));
}

void
ds_mac_begin(struct ds_mac *m, int dir, struct ds_mac_run *r,
    unsigned char out[DS_MAC_LEN])
{
	m->nonce[0] = (unsigned char)dir;
	ds_put_le64(m->nonce + 16, m->ctr++);
	memcpy(out, m->nonce, DS_MAC_NONCE);
	start(m, out, r);
}

void
ds_mac_add(struct ds_mac_run *r, const void *p, size_t len)
{
	if (len > 0)
		crypto_onetimeauth_update(&r->st, p, len);
}

void
ds_mac_end(struct ds_mac_run *r, unsigned char out[DS_MAC_LEN])
{
	crypto_onetimeauth_final(&r->st, out + DS_MAC_NONCE);
	sodium_memzero(r, sizeof(*r));
}

int
ds_mac_check(const struct ds_mac *m, int dir, const unsigned char *msg,
    size_t len)
{
	struct ds_mac_run r;
	unsigned char t[DS_MAC_TAG];
	const unsigned char *tr;

	if (len < DS_MAC_LEN)
		return -1;
	tr = msg + len - DS_MAC_LEN;
	if (tr[0] != (unsigned char)dir)
		return -1;
	start(m, tr, &r);
	ds_mac_add(&r, msg, len - DS_MAC_LEN);
	crypto_onetimeauth_final(&r.st, t);
	sodium_memzero(&r, sizeof(r));
	return crypto_verify_16(t, tr + DS_MAC_NONCE) == 0 ? 0 : -1;
}
