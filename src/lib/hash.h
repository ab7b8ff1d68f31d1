/*
 * hash.h: the one hash function for sealmail's in-memory tables (FNV-1a,
 * 64 bits), with a key so that a table exposed to peers' input can be
 * seeded at random. Not for anything an attacker must not invert. Used by
 * the dispatcher's recipient cache, the connection limits and the queue's
 * choice of dispatcher for a domain.
 */
#ifndef SEALMAIL_HASH_H
#define SEALMAIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the LEN octets at P, its offset basis mixed with KEY. */
uint64_t hash_bytes(uint64_t key, const void *p, size_t len);
/* The same over a NUL-terminated string. */
uint64_t hash_str(uint64_t key, const char *s);

#endif
