/*
 * sts_fetch.h: the HTTPS fetch of a domain's MTA-STS policy file (RFC 8461
 * 3.3), https://mta-sts.DOMAIN/.well-known/mta-sts.txt, with libcurl's
 * multi interface driven by the caller's libevent loop. mta-sts.DOMAIN is
 * resolved by our own resolver (dns.h) and the addresses are handed to
 * libcurl, which never resolves a name itself. The certificate must be
 * valid for mta-sts.DOMAIN; redirects are not followed; only a 200 answer
 * of type text/plain within STS_FETCH_BODY_MAX bytes and
 * STS_FETCH_TIMEOUT_SECONDS counts. The caller (lookup/sts_cache.c)
 * parses and caches what comes back.
 */
#ifndef SEALMAIL_STS_FETCH_H
#define SEALMAIL_STS_FETCH_H

#include <stddef.h>

struct event_base;
struct dns_resolver;
struct sts_fetcher;

#define STS_FETCH_BODY_MAX 65536      /* RFC 8461 3.3: at most 64 KiB of policy */
#define STS_FETCH_TIMEOUT_SECONDS 60  /* RFC 8461 3.3: the whole fetch, at most a minute */
#define STS_FETCH_CONNECT_SECONDS 30  /* of which the connection and handshake */
#define STS_FETCH_PARALLEL_MAX 64     /* fetches in flight at once */
#define STS_FETCH_ADDRS_MAX 8         /* addresses of mta-sts.DOMAIN tried */
#define STS_FETCH_ERROR_MAX 256

/* The outcome of one fetch. OK: BODY (LEN bytes, NUL-terminated) is a 200
 * text/plain answer; otherwise ERROR says why, in words for the logs and
 * TLS-RPT. Valid only during the callback. */
struct sts_fetch_result {
	int ok;
	const char *body;
	size_t len;
	char error[STS_FETCH_ERROR_MAX];
};

typedef void sts_fetch_done_fn(void *arg, const struct sts_fetch_result *result);

/* A fetcher on BASE. */
struct sts_fetcher *sts_fetcher_new(struct event_base *base);
/* Stops every fetch in flight without calling their callbacks. */
void sts_fetcher_free(struct sts_fetcher **f);

/* Fetches DOMAIN's policy: resolves mta-sts.DOMAIN with DNS, then GETs the
 * well-known URL, the certificate checked against CA_FILE ("" = the system
 * store). DONE is called exactly once, maybe before this returns. */
void sts_fetch(struct sts_fetcher *f, struct dns_resolver *dns, const char *domain,
               const char *ca_file, sts_fetch_done_fn *done, void *arg);

/* 1 when CONTENT_TYPE (a Content-Type header value) is text/plain, with
 * or without parameters, in any case (RFC 8461 3.2, RFC 2045 5.1). */
int sts_fetch_type_ok(const char *content_type);

#endif
