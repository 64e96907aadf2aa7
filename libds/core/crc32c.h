/*
 * crc32c.h: CRC-32C (Castagnoli, reflected, poly 0x82F63B78), as used by
 * iSCSI and ext4.  crc32c("123456789") == 0xE3069283.  Uses the SSE4.2
 * instruction when the CPU has it, a slicing-by-8 table otherwise; both
 * give the same value.
 */
#ifndef DS_CRC32C_H
#define DS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; returns the new CRC. Never fails. */
uint32_t	ds_crc32c(uint32_t, const void *, size_t);
/* The portable implementation alone (for tests). */
uint32_t	ds_crc32c_sw(uint32_t, const void *, size_t);

#endif
