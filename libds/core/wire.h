/*
 * wire.h: the only code that knows byte order.  Every integer on a wire or
 * in a file is little-endian and is packed and unpacked through these,
 * byte by byte, never by casting a struct.
 */
#ifndef DS_WIRE_H
#define DS_WIRE_H

#include <stdint.h>

static inline void
ds_put_le16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void
ds_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static inline void
ds_put_le64(unsigned char *p, uint64_t v)
{
	ds_put_le32(p, (uint32_t)v);
	ds_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t
ds_get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
ds_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
ds_get_le64(const unsigned char *p)
{
	return (uint64_t)ds_get_le32(p) | (uint64_t)ds_get_le32(p + 4) << 32;
}

#endif
