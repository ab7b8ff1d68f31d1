/*
 * digest.h: SHA-256 of a buffer as hex, for identifiers derived from
 * content that must change whenever the content does (the MTA-STS policy
 * id `sealmail dns-records` prints). Not a MAC: nothing secret goes in.
 */
#ifndef SEALMAIL_DIGEST_H
#define SEALMAIL_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_HEX 65 /* 64 lower-case hex digits and a NUL */

/* The SHA-256 of the LEN octets at DATA in lower-case hex into HEX of
 * SIZE (at least DIGEST_SHA256_HEX). Returns 0, or -1 when SIZE is too
 * small or the digest fails (HEX then holds ""). */
int digest_sha256_hex(const void *data, size_t len, char *hex, size_t size);

#endif
