/*
 * dns_private.h: what the resolver's files share (dns.c: the context, MX
 * and addresses; dns_records.c: TLSA and TXT). Nothing else includes it.
 */
#ifndef SEALMAIL_DNS_PRIVATE_H
#define SEALMAIL_DNS_PRIVATE_H

#include <stdint.h>

#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_TLSA 52
#define DNS_CLASS_IN 1

/* The error a query gets when its resolver is freed before the answer
 * came: not one of libunbound's (they are 0 or negative). */
#define DNS_ERR_RESTARTED 1

struct ub_ctx;
struct ub_result;
struct event;
struct dns_outstanding;

typedef void dns_ub_cb(void *arg, int err, struct ub_result *result);

struct dns_resolver {
	struct ub_ctx *ctx;
	struct event *ev;
	char anchor[4096]; /* the trust anchor file read, "" = none */
	/* the queries libunbound has not answered yet: a freed resolver
	 * answers them (libunbound would drop them without a word) */
	struct dns_outstanding *outstanding;
	int closing; /* being freed: no query starts */
};

/* Starts the query NAME TYPE on R's context; CB gets ARG and the answer
 * once, never before this returns, or, when R is freed first,
 * DNS_ERR_RESTARTED and no result. Returns 0, or an error (CB is not
 * called then). */
int dns_query_async(struct dns_resolver *r, const char *name, int type, dns_ub_cb *cb, void *arg);

/* ub_strerror(ERR), knowing DNS_ERR_RESTARTED. */
const char *dns_strerror(int err);

/* enum dnssec_status of RESULT (RFC 4035 4.3). */
uint32_t dns_result_status(const struct ub_result *result);

/* "DNSSEC validation failed for NAME: WHY" into BUF. */
void dns_bogus_text(char *buf, size_t size, const char *name, const struct ub_result *result);

#endif
