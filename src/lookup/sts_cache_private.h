/*
 * sts_cache_private.h: the files of the MTA-STS cache (sts_cache_file.c),
 * shared with its state machine (sts_cache.c) only.
 */
#ifndef SEALMAIL_STS_CACHE_PRIVATE_H
#define SEALMAIL_STS_CACHE_PRIVATE_H

#include <stdint.h>

#include "mail/tls_evidence.h"

/* Reads DIR/DOMAIN into *P. Returns 1, 0 when there is no file, -1 when it
 * is unreadable or not a cache file (logged, and removed). */
int sts_cache_file_load(const char *dir, const char *domain, struct sts_policy *p);

/* Writes P as DIR/DOMAIN durably: a temporary file, fsync, rename, fsync
 * of the directory. Returns 0, or -1 with *ERROR_R. */
int sts_cache_file_store(const char *dir, const char *domain, const struct sts_policy *p,
                         const char **error_r);

/* Removes DIR/DOMAIN (its policy expired). */
void sts_cache_file_remove(const char *dir, const char *domain);

/* Removes the files in DIR that are expired at NOW or are not cache files;
 * returns how many are left. */
unsigned sts_cache_file_prune(const char *dir, uint64_t now);

#endif
