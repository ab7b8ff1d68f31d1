/*
 * hash.c: see hash.h.
 */
#include "lib/hash.h"

#include <string.h>

#define HASH_FNV_OFFSET 14695981039346656037ULL
#define HASH_FNV_PRIME 1099511628211ULL

uint64_t hash_bytes(uint64_t key, const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = HASH_FNV_OFFSET ^ key;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * HASH_FNV_PRIME;
	return h;
}

uint64_t hash_str(uint64_t key, const char *s)
{
	return hash_bytes(key, s, strlen(s));
}
