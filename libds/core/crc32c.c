/*
 * crc32c.c: CRC-32C.  The tables are built once, on first use, under
 * pthread_once(3) (ds-journal's checkpoint thread checks CRCs beside its
 * main thread); after that a call costs one acquire load.  The hardware
 * path is chosen at run time so one binary runs on any x86-64.  It runs three
 * independent crc32 chains over three adjacent blocks (the instruction's
 * latency is three times its throughput) and joins them with "append
 * this many zero bytes" tables, after Mark Adler's crc32c.c; every frame
 * of every hop is checked, so this is on the hot path.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/crc32c.h"

static uint32_t		tab[8][256];
static pthread_once_t	once = PTHREAD_ONCE_INIT;
static atomic_int	ready;		/* init ran: the tables are whole */
static void		init(void);

/* Build the tables once; after that one acquire load a call. */
static inline void
tables(void)
{
	if (!atomic_load_explicit(&ready, memory_order_acquire))
		(void)pthread_once(&once, init);
}

static void
tab_init(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			tab[k][i] = (tab[k - 1][i] >> 8) ^
			    tab[0][tab[k - 1][i] & 0xff];
}

uint32_t
ds_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t lo, hi;

	tables();
	crc = ~crc;
	while (len >= 8) {
		lo = ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) ^ crc;
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^
		    tab[5][(lo >> 16) & 0xff] ^ tab[4][lo >> 24] ^
		    tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
		    tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ tab[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LONG_BLK	8192	/* bytes per chain, big buffers */
#define SHORT_BLK	256	/* bytes per chain, the rest */

static uint32_t	zeros_long[4][256], zeros_short[4][256];
static int	hw;		/* the CPU has SSE 4.2 */

static uint32_t
gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	for (; vec != 0; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void
gf2_square(uint32_t *sq, const uint32_t *mat)
{
	int n;

	for (n = 0; n < 32; n++)
		sq[n] = gf2_times(mat, mat[n]);
}

/* The operator that appends len zero bytes to a raw CRC register. */
static void
zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32], row = 1;
	int n;

	odd[0] = 0x82F63B78u;		/* one zero bit */
	for (n = 1; n < 32; n++) {
		odd[n] = row;
		row <<= 1;
	}
	gf2_square(even, odd);		/* two bits */
	gf2_square(odd, even);		/* four bits */
	for (;;) {			/* one byte, two, four, ... */
		gf2_square(even, odd);
		if ((len >>= 1) == 0)
			return;
		gf2_square(odd, even);
		if ((len >>= 1) == 0)
			break;
	}
	memcpy(even, odd, sizeof(odd));
}

static void
zeros_init(uint32_t z[4][256], size_t len)
{
	uint32_t op[32];
	uint32_t n;

	zeros_op(op, len);
	for (n = 0; n < 256; n++) {
		z[0][n] = gf2_times(op, n);
		z[1][n] = gf2_times(op, n << 8);
		z[2][n] = gf2_times(op, n << 16);
		z[3][n] = gf2_times(op, n << 24);
	}
}

static uint32_t
shift(uint32_t z[4][256], uint32_t crc)
{
	return z[0][crc & 0xff] ^ z[1][(crc >> 8) & 0xff] ^
	    z[2][(crc >> 16) & 0xff] ^ z[3][crc >> 24];
}

/* Three chains over blocks of blk bytes while 3 * blk bytes are left. */
__attribute__((target("sse4.2")))
static uint64_t
crc32c_3way(uint64_t c0, const unsigned char **pp, size_t *lenp, size_t blk,
    uint32_t z[4][256])
{
	const unsigned char *p = *pp, *end;
	uint64_t c1, c2, w;

	while (*lenp >= 3 * blk) {
		c1 = c2 = 0;
		for (end = p + blk; p < end; p += 8) {
			memcpy(&w, p, 8);
			c0 = __builtin_ia32_crc32di(c0, w);
			memcpy(&w, p + blk, 8);
			c1 = __builtin_ia32_crc32di(c1, w);
			memcpy(&w, p + 2 * blk, 8);
			c2 = __builtin_ia32_crc32di(c2, w);
		}
		c0 = shift(z, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = shift(z, (uint32_t)c0) ^ (uint32_t)c2;
		p += 2 * blk;
		*lenp -= 3 * blk;
	}
	*pp = p;
	return c0;
}

__attribute__((target("sse4.2")))
static uint32_t
crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc, w;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * SHORT_BLK) {
		c = crc32c_3way(c, &p, &len, LONG_BLK, zeros_long);
		c = crc32c_3way(c, &p, &len, SHORT_BLK, zeros_short);
	}
	while (len >= 8) {
		memcpy(&w, p, 8);	/* x86 is little-endian */
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

static void
init(void)
{
	tab_init();
	__builtin_cpu_init();
	hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw) {
		zeros_init(zeros_long, LONG_BLK);
		zeros_init(zeros_short, SHORT_BLK);
	}
	atomic_store_explicit(&ready, 1, memory_order_release);
}

uint32_t
ds_crc32c(uint32_t crc, const void *buf, size_t len)
{
	tables();
	return hw ? crc32c_hw(crc, buf, len) : ds_crc32c_sw(crc, buf, len);
}
#else
static void
init(void)
{
	tab_init();
	atomic_store_explicit(&ready, 1, memory_order_release);
}

uint32_t
ds_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return ds_crc32c_sw(crc, buf, len);
}
#endif
