/*
 * crc32c.h: CRC-32C (Castagnoli), to tell a complete spool file from one a
 * crash cut short.
 */
#ifndef SEALMAIL_CRC32C_H
#define SEALMAIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues CRC (0 to start) over LEN bytes of DATA. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
