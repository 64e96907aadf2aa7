/*
 * buf.c: unit test for libds/buf.  Appends keep every earlier byte, the
 * capacity only grows (by doubling from 256), consume drops from the
 * front, detach hands the memory to the caller and leaves an empty
 * buffer, free is idempotent, and a size that cannot be represented fails
 * with ENOMEM before anything is allocated.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tap.h"

static int
is_pow2_from_256(size_t cap)
{
	return cap >= 256 && (cap & (cap - 1)) == 0;
}

static void
empty(void)
{
	struct ds_buf b = DS_BUF_INIT;

	ok(b.p == NULL && b.len == 0 && b.cap == 0, "DS_BUF_INIT is empty");
	ok(ds_buf_grow(&b, 0) == 0 && b.p == NULL && b.cap == 0,
	    "grow by 0 on an empty buffer allocates nothing");
	ok(ds_buf_add(&b, NULL, 0) == 0 && b.len == 0,
	    "adding 0 bytes from NULL is a no-op");
	ds_buf_consume(&b, 10);
	ok(b.len == 0, "consume on an empty buffer leaves it empty");
	ds_buf_free(&b);
	ds_buf_free(&b);
	ok(b.p == NULL && b.len == 0 && b.cap == 0,
	    "free is idempotent and leaves an empty buffer");
}

static void
appends(void)
{
	struct ds_buf b = DS_BUF_INIT;
	size_t i, bad = 0, prevcap = 0, shrunk = 0, notpow2 = 0;

	ok(ds_buf_addstr(&b, "hello") == 0 && b.len == 5 &&
	    memcmp(b.p, "hello", 5) == 0, "addstr appends without the NUL");
	ok(ds_buf_addc(&b, ',') == 0 && ds_buf_addc(&b, 0x120) == 0 &&
	    b.len == 7 && b.p[5] == ',' && b.p[6] == 0x20,
	    "addc appends one byte (the low 8 bits)");
	ok(b.cap == 256, "first allocation is 256 bytes (cap %zu)", b.cap);
	ds_buf_reset(&b);
	ok(b.len == 0 && b.cap == 256 && b.p != NULL,
	    "ds_buf_reset empties but keeps the memory");

	for (i = 0; i < 100000; i++) {
		if (ds_buf_addc(&b, (int)(i * 7 + 3)) == -1)
			bad++;
		if (b.cap < prevcap)
			shrunk++;
		if (!is_pow2_from_256(b.cap))
			notpow2++;
		prevcap = b.cap;
	}
	for (i = 0; i < 100000; i++)
		if (b.p[i] != (unsigned char)(i * 7 + 3))
			bad++;
	ok(bad == 0 && b.len == 100000,
	    "100000 single-byte appends keep every byte");
	ok(shrunk == 0 && notpow2 == 0 && b.cap < 2 * 100000 + 256,
	    "capacity only grows, by doubling (cap %zu)", b.cap);

	prevcap = b.cap;
	ok(ds_buf_grow(&b, b.cap - b.len) == 0 && b.cap == prevcap,
	    "grow within the spare room does not reallocate");
	ok(ds_buf_grow(&b, b.cap - b.len + 1) == 0 && b.cap == 2 * prevcap,
	    "grow by one past the spare room doubles");
	ok(b.p[99999] == (unsigned char)(99999 * 7 + 3),
	    "contents survive the reallocation");
	ds_buf_free(&b);
}

static void
consume(void)
{
	struct ds_buf b = DS_BUF_INIT;

	ds_buf_addstr(&b, "0123456789");
	ds_buf_consume(&b, 0);
	ok(b.len == 10 && memcmp(b.p, "0123456789", 10) == 0,
	    "consume 0 changes nothing");
	ds_buf_consume(&b, 3);
	ok(b.len == 7 && memcmp(b.p, "3456789", 7) == 0,
	    "consume 3 drops the first 3 bytes");
	ds_buf_consume(&b, 7);
	ok(b.len == 0 && b.cap == 256, "consume all empties, keeps memory");
	ds_buf_addstr(&b, "abc");
	ds_buf_consume(&b, 1000);
	ok(b.len == 0, "consume more than len empties");
	ds_buf_free(&b);
}

static void
detach(void)
{
	struct ds_buf b = DS_BUF_INIT;
	unsigned char *p;
	size_t len = 99;

	ds_buf_addstr(&b, "owned");
	p = ds_buf_detach(&b, &len);
	ok(p != NULL && len == 5 && memcmp(p, "owned", 5) == 0,
	    "detach returns the bytes and their length");
	ok(b.p == NULL && b.len == 0 && b.cap == 0,
	    "detach leaves an empty buffer");
	free(p);
	ok(ds_buf_addstr(&b, "again") == 0 && b.len == 5,
	    "a detached buffer is reusable");
	p = ds_buf_detach(&b, NULL);
	ok(p != NULL && memcmp(p, "again", 5) == 0,
	    "detach with a NULL length pointer");
	free(p);
	p = ds_buf_detach(&b, &len);
	ok(p == NULL && len == 0, "detach of an empty buffer gives NULL, 0");
}

static void
too_big(void)
{
	struct ds_buf b = DS_BUF_INIT;

	ds_buf_addstr(&b, "x");
	errno = 0;
	ok(ds_buf_grow(&b, SIZE_MAX) == -1 && errno == ENOMEM,
	    "grow by SIZE_MAX fails with ENOMEM");
	errno = 0;
	ok(ds_buf_grow(&b, SIZE_MAX / 2) == -1 && errno == ENOMEM,
	    "grow past SIZE_MAX/2 in total fails with ENOMEM");
	errno = 0;
	ok(ds_buf_add(&b, "y", SIZE_MAX - 1) == -1 && errno == ENOMEM,
	    "add of an impossible length fails with ENOMEM");
	ok(b.len == 1 && b.cap == 256 && b.p[0] == 'x',
	    "a failed grow leaves the buffer as it was");
	ds_buf_free(&b);
}

int
main(void)
{
	empty();
	appends();
	consume();
	detach();
	too_big();
	return done();
}
