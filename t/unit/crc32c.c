/*
 * crc32c.c: unit test for libds/crc32c.  The check value and the iSCSI
 * vectors (RFC 3720 B.4) pin the algorithm; a bit-at-a-time reference
 * pins the table code; the dispatching ds_crc32c (SSE4.2 when the CPU has
 * it) must equal the portable ds_crc32c_sw for every length 0..1024 at
 * every misalignment, whole or continued in two parts, and at lengths up
 * to 100 000 around the block sizes of the three-chain hardware path.
 */
#include <stdint.h>
#include <string.h>

#include "core/crc32c.h"
#include "tap.h"

#define MAXLEN	1024
#define MISALIGN 16
#define LONGLEN	100000

static uint64_t rnd = 0x9e3779b97f4a7c15ull;

static uint32_t
xorshift(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return (uint32_t)(rnd >> 32);
}

/* The definition, one bit at a time. */
static uint32_t
crc_ref(uint32_t crc, const unsigned char *p, size_t n)
{
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void
vectors(void)
{
	unsigned char b[32];
	int i;

	ok(ds_crc32c(0, "123456789", 9) == 0xE3069283u,
	    "ds_crc32c(\"123456789\") == 0xE3069283");
	ok(ds_crc32c_sw(0, "123456789", 9) == 0xE3069283u,
	    "ds_crc32c_sw(\"123456789\") == 0xE3069283");
	ok(crc_ref(0, (const unsigned char *)"123456789", 9) == 0xE3069283u,
	    "bitwise reference gives the check value");
	ok(ds_crc32c(0, NULL, 0) == 0 && ds_crc32c_sw(0, NULL, 0) == 0,
	    "CRC of nothing is 0");
	ok(ds_crc32c(0xE3069283u, "", 0) == 0xE3069283u &&
	    ds_crc32c_sw(0xE3069283u, "", 0) == 0xE3069283u,
	    "continuing with 0 bytes leaves the CRC alone");
	ok(ds_crc32c(ds_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u &&
	    ds_crc32c_sw(ds_crc32c_sw(0, "1", 1), "23456789", 8) ==
	    0xE3069283u, "a CRC continued over two parts equals the whole");

	memset(b, 0, sizeof(b));
	ok(ds_crc32c(0, b, 32) == 0x8A9136AAu &&
	    ds_crc32c_sw(0, b, 32) == 0x8A9136AAu, "RFC 3720: 32 zeros");
	memset(b, 0xff, sizeof(b));
	ok(ds_crc32c(0, b, 32) == 0x62A8AB43u &&
	    ds_crc32c_sw(0, b, 32) == 0x62A8AB43u, "RFC 3720: 32 0xff");
	for (i = 0; i < 32; i++)
		b[i] = (unsigned char)i;
	ok(ds_crc32c(0, b, 32) == 0x46DD794Eu &&
	    ds_crc32c_sw(0, b, 32) == 0x46DD794Eu, "RFC 3720: 0..31");
	for (i = 0; i < 32; i++)
		b[i] = (unsigned char)(31 - i);
	ok(ds_crc32c(0, b, 32) == 0x113FDB5Cu &&
	    ds_crc32c_sw(0, b, 32) == 0x113FDB5Cu, "RFC 3720: 31..0");
}

static void
random_buffers(void)
{
	static unsigned char buf[MAXLEN + MISALIGN];
	size_t len, off, cut, bad_ref = 0, bad_hw, bad_split;
	uint32_t sw;

	for (len = 0; len < sizeof(buf); len++)
		buf[len] = (unsigned char)xorshift();
	for (len = 0; len <= MAXLEN; len++) {
		sw = ds_crc32c_sw(0, buf, len);
		if (sw != crc_ref(0, buf, len))
			bad_ref++;
	}
	ok(bad_ref == 0, "sw equals the bitwise reference, lengths 0..%d "
	    "(%zu differ)", MAXLEN, bad_ref);

	for (off = 0; off < MISALIGN; off++) {
		bad_hw = bad_split = 0;
		for (len = 0; len <= MAXLEN; len++) {
			sw = ds_crc32c_sw(0, buf + off, len);
			if (ds_crc32c(0, buf + off, len) != sw)
				bad_hw++;
			cut = len ? xorshift() % (len + 1) : 0;
			if (ds_crc32c(ds_crc32c(0, buf + off, cut),
			    buf + off + cut, len - cut) != sw ||
			    ds_crc32c_sw(ds_crc32c_sw(0, buf + off, cut),
			    buf + off + cut, len - cut) != sw)
				bad_split++;
		}
		ok(bad_hw == 0, "misalignment %zu: ds_crc32c == ds_crc32c_sw "
		    "for lengths 0..%d (%zu differ)", off, MAXLEN, bad_hw);
		ok(bad_split == 0, "misalignment %zu: CRC continued at a "
		    "random cut == whole (%zu differ)", off, bad_split);
	}
}

/*
 * Long buffers: lengths at and around the hardware path's block edges
 * (3 x 256, 3 x 8192) and random ones, at a few misalignments.
 */
static void
long_buffers(void)
{
	static unsigned char buf[LONGLEN + MISALIGN];
	static const size_t edge[] = { 767, 768, 769, 775, 776, 1535, 1536,
	    24575, 24576, 24577, 24583, 25344, 49152, 49152 + 768, 65536,
	    LONGLEN };
	size_t i, k, len, off, cut, bad = 0, n = 0;
	uint32_t sw;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)xorshift();
	for (k = 0; k < sizeof(edge) / sizeof(edge[0]) + 64; k++) {
		len = k < sizeof(edge) / sizeof(edge[0]) ? edge[k] :
		    xorshift() % (LONGLEN + 1);
		for (off = 0; off < MISALIGN; off += 5) {
			sw = ds_crc32c_sw(0, buf + off, len);
			cut = xorshift() % (len + 1);
			if (ds_crc32c(0, buf + off, len) != sw ||
			    ds_crc32c(ds_crc32c(0, buf + off, cut),
			    buf + off + cut, len - cut) != sw)
				bad++;
			n++;
		}
	}
	ok(bad == 0, "long buffers up to %d bytes: ds_crc32c == "
	    "ds_crc32c_sw, whole and split (%zu of %zu differ)", LONGLEN, bad,
	    n);
}

/* Every single-bit error in a short message changes the CRC. */
static void
bit_flips(void)
{
	unsigned char b[64];
	size_t i, missed = 0;
	uint32_t c;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)xorshift();
	c = ds_crc32c(0, b, sizeof(b));
	for (i = 0; i < sizeof(b) * 8; i++) {
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
		if (ds_crc32c(0, b, sizeof(b)) == c)
			missed++;
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	ok(missed == 0, "every single-bit flip of 64 bytes changes the CRC");
}

int
main(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	printf("# ds_crc32c uses the %s path on this CPU\n",
	    __builtin_cpu_supports("sse4.2") ? "SSE4.2" : "portable");
#else
	printf("# ds_crc32c uses the portable path on this CPU\n");
#endif
	vectors();
	random_buffers();
	long_buffers();
	bit_flips();
	return done();
}
