/*
 * sts_cache.h: the MTA-STS policies of destination domains (RFC 8461), as
 * the lookup role knows them: the _mta-sts TXT record is asked each time,
 * the policy is fetched (dns/sts_fetch.h) when there is none, when the
 * record's id changed, when it expired, or when it is older than
 * STS_CACHE_RECHECK_SECONDS, and proactively before it expires while the
 * domain is in use (RFC 8461 3.3, 5.1). Policies persist in one file per
 * domain under data_dir/sts/, so a restart does not fetch them again.
 * Concurrent lookups of one domain share one TXT query and one fetch.
 * Called by the host lookup (lookup/lookup.c) for a domain's MX hosts.
 */
#ifndef SEALMAIL_STS_CACHE_H
#define SEALMAIL_STS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/tls_evidence.h"
#include "policy/sts.h" /* STS_CACHE_FILE_SIZE_MAX, sts_cache_text_parse() */

struct event_base;
struct dns_resolver;
struct sts_cache;
struct sts_fetch_result;

#define STS_CACHE_ENTRIES_MAX 1000     /* domains held in memory (least recently used go) */
#define STS_CACHE_FILES_MAX 10000      /* policy files in data_dir/sts/ */
#define STS_CACHE_WAITERS_MAX 256      /* lookups of one domain waiting for one fetch */
#define STS_CACHE_RETRY_SECONDS 300    /* a failed fetch for an id is not retried sooner */
#define STS_CACHE_RECHECK_SECONDS 86400 /* a policy older than this is fetched anew */
#define STS_CACHE_REFRESH_AHEAD_MAX 86400 /* refresh at most this long before expiry */
#define STS_CACHE_PRUNE_SECONDS 86400  /* how often expired files are removed */

/* What a fetch needs from the lookup role's current configuration: the
 * resolver (NULL when there is none) and the CA file for the policy
 * host's certificate ("" = the system store). */
struct sts_cache_env {
	struct dns_resolver *dns;
	const char *ca_file;
};

typedef void sts_cache_env_fn(void *arg, struct sts_cache_env *env);

typedef void sts_cache_done_fn(void *arg, const struct sts_policy *policy);

/* A cache keeping its files in DIR (created 0700 if missing; without it
 * the cache works in memory only, logged). ENV is asked for the resolver
 * and CA file at each fetch. */
struct sts_cache *sts_cache_new(struct event_base *base, const char *dir, sts_cache_env_fn *env,
                                void *env_arg);
/* Stops pending work without calling back. */
void sts_cache_free(struct sts_cache **c);

/* DOMAIN's policy: mode STS_MODE_ABSENT when it has none (no TXT record
 * and nothing cached, or a fetch that failed with nothing valid cached:
 * then ERROR says "sts-policy-fetch-error: ..." or "sts-policy-invalid:
 * ..."). DONE is called once, maybe before this returns. */
void sts_cache_lookup(struct sts_cache *c, const char *domain, sts_cache_done_fn *done, void *arg);

/* Writes P (with its id and fetched time) as the text of a cache file into
 * BUF; returns its length, or -1 when it does not fit. */
int sts_cache_format(const struct sts_policy *p, char *buf, size_t size);
/* Parses a cache file's TEXT (LEN bytes) into *P with
 * sts_cache_text_parse() (policy/sts.h). Returns 0, or -1 with *ERROR_R. */
int sts_cache_parse(const char *text, size_t len, struct sts_policy *p, const char **error_r);

/* 1 when P is a policy (not absent) that has not expired at NOW. */
int sts_policy_valid_at(const struct sts_policy *p, uint64_t now);

/* The policy a fetch brought (dns/sts_fetch.h): R's body parsed into *P,
 * with ID (the TXT record's) and NOW as its fetched time. Returns 0; -1
 * when the fetch failed ("sts-policy-fetch-error"), -2 when the body is
 * not a policy ("sts-policy-invalid"), with *ERROR_R the reason alone. */
int sts_policy_from_fetch(const struct sts_fetch_result *r, const char *id, uint64_t now,
                          struct sts_policy *p, const char **error_r);

#endif
